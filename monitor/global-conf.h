/* SPDX-License-Identifier: Apache-2.0
 *
 * global-conf: the Open_vSwitch table's other_config keys that ovsec uses,
 * parsed and checked: certificate, private_key, ca_cert, ipsec_skb_mark.
 * A global_conf is immutable once created; the monitor owns the current one
 * and hands out const pointers.
 */
#ifndef OVSEC_GLOBAL_CONF_H
#define OVSEC_GLOBAL_CONF_H 1

#include <stdbool.h>
#include <stdint.h>

struct smap;

struct global_conf {
    char *certificate;          /* other_config:certificate path or NULL. */
    char *private_key;          /* other_config:private_key path or NULL. */
    char *ca_cert;              /* other_config:ca_cert path or NULL. */
    char *local_name;           /* CN of 'certificate', NULL if none. */

    /* SHA-256 of the files' contents (all zeros when the file is unset), so
     * that a rotated certificate at the same path is noticed. */
    uint8_t certificate_digest[32];
    uint8_t private_key_digest[32];
    uint8_t ca_cert_digest[32];

    /* Problem with certificate/private_key/ca_cert (unreadable, malformed,
     * key does not match, no CN, SAN lacks CN...), NULL if none.  Tunnels
     * that authenticate with certificates are INVALID while it is set.
     * Names the column:key, e.g. "Open_vSwitch: other_config:certificate:
     * /x.pem: no such file". */
    char *cert_error;

    bool has_skb_mark;          /* ipsec_skb_mark set and valid. */
    uint32_t skb_mark;          /* Value (already masked). */
    uint32_t skb_mask;          /* Mask; 0xffffffff when not given. */
    char *skb_mark_error;       /* Malformed ipsec_skb_mark, or NULL. */
};

/* Parses 'other_config'.  Reads the certificate files (with OpenSSL, never
 * by running a program).  Never fails: problems are recorded in
 * 'cert_error' and 'skb_mark_error'.  Returns a new global_conf; the
 * caller frees it with global_conf_destroy(). */
struct global_conf *global_conf_create(const struct smap *other_config);
void global_conf_destroy(struct global_conf *);     /* NULL ok. */

/* Parses an ipsec_skb_mark value "VALUE[/MASK]" (decimal or 0x hex, each
 * a 32-bit unsigned; VALUE must have no bits outside MASK).  Returns NULL
 * on success, otherwise a new message saying why; the caller frees it. */
char *global_conf_parse_skb_mark(const char *s, uint32_t *ret_mark,
                                 uint32_t *ret_mask);

/* True if 'a' and 'b' have the same certificate settings and contents. */
bool global_conf_certs_equal(const struct global_conf *a,
                             const struct global_conf *b);
/* True if 'a' and 'b' have the same skb mark settings. */
bool global_conf_skb_mark_equal(const struct global_conf *a,
                                const struct global_conf *b);

#endif /* global-conf.h */
