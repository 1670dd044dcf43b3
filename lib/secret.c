/* SPDX-License-Identifier: Apache-2.0
 *
 * secret: see secret.h.
 */
#include "config.h"
#include "secret.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

struct secret {
    size_t size;                /* Bytes in 'data'. */
    unsigned char data[];       /* Key material, zeroed on destroy. */
};

struct secret *
secret_create(const void *data, size_t size)
{
    struct secret *s = xmalloc(sizeof *s + size + 1);
    s->size = size;
    if (size) {
        memcpy(s->data, data, size);
    }
    s->data[size] = '\0';
    return s;
}

struct secret *
secret_clone(const struct secret *s)
{
    return s ? secret_create(s->data, s->size) : NULL;
}

void
secret_destroy(struct secret *s)
{
    if (s) {
        memzero_explicit(s->data, s->size);
        free(s);
    }
}

const void *
secret_bytes(const struct secret *s, size_t *ret_size)
{
    if (ret_size) {
        *ret_size = s->size;
    }
    return s->data;
}

size_t
secret_size(const struct secret *s)
{
    return s->size;
}

bool
secret_equal(const struct secret *a, const struct secret *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (a->size != b->size) {
        return false;
    }
    unsigned char diff = 0;
    for (size_t i = 0; i < a->size; i++) {
        diff |= a->data[i] ^ b->data[i];
    }
    return !diff;
}
