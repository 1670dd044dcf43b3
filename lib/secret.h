/* SPDX-License-Identifier: Apache-2.0
 *
 * secret: an opaque holder for a PSK or other key material.  There is no
 * way to get it as a C string for printf: only wire and file writers call
 * secret_bytes().  The holder owns its bytes and zeroes them when
 * destroyed.
 */
#ifndef OVSEC_SECRET_H
#define OVSEC_SECRET_H 1

#include <stdbool.h>
#include <stddef.h>

struct secret;

/* Returns a new secret holding a copy of 'size' bytes at 'data'; the caller
 * destroys it. */
struct secret *secret_create(const void *data, size_t size);
/* Returns a new copy of 'secret' (NULL for NULL); the caller destroys it. */
struct secret *secret_clone(const struct secret *);
/* Zeroes and frees 'secret'.  NULL ok. */
void secret_destroy(struct secret *);

/* The raw bytes, for wire and file writers only.  Owned by 'secret'. */
const void *secret_bytes(const struct secret *, size_t *ret_size);
size_t secret_size(const struct secret *);
/* Constant-time comparison; NULLs are equal to each other only. */
bool secret_equal(const struct secret *, const struct secret *);

/* What show output prints in place of a secret. */
#define SECRET_REDACTED "<redacted>"

#endif /* secret.h */
