/* SPDX-License-Identifier: Apache-2.0
 * fingerprint: tells whether content changed, cheaply.
 *
 * A 128-bit fingerprint of bytes (xxHash's XXH3, compiled in from
 * libxxhash-dev's header).  It is not cryptographic: it guards against
 * accidental collisions only, which is all that comparing a tunnel's
 * configuration with what was loaded before needs; the content comes
 * from the operator and from us, never from a peer.  Certificates are
 * identified with SHA-256 (x509.h) instead.
 *
 * Using it rather than SHA-256 keeps OpenSSL's provider machinery, some
 * 2 MB of touched library pages, out of a daemon that has no certificate
 * to look at.
 */
#ifndef OVSEC_FINGERPRINT_H
#define OVSEC_FINGERPRINT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fingerprint {
    uint64_t hi, lo;
};

/* Stores the fingerprint of 'size' bytes at 'data' ('data' may be NULL
 * when 'size' is 0) in '*fp'. */
void fingerprint_bytes(const void *data, size_t size, struct fingerprint *fp);

static inline bool
fingerprint_equal(const struct fingerprint *a, const struct fingerprint *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

#endif /* fingerprint.h */
