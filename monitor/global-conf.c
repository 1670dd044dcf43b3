/* SPDX-License-Identifier: Apache-2.0
 *
 * global-conf: see global-conf.h.
 *
 * Upstream's ovs-monitor-ipsec only checks that certificate and
 * private_key are set together and that the certificate has a CN.  Here
 * the files are also parsed, the key is matched against the certificate,
 * the subjectAltName must carry the CN (strongSwan identifies peers by it)
 * and ca_cert must be a CA, so that a broken credential is reported once,
 * by name, instead of as an IKE failure on every tunnel.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000
#include "global-conf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ds.h"
#include "smap.h"
#include "util.h"
#include "x509.h"

#define COLUMN "Open_vSwitch: other_config:"

/* True if 's' holds a byte that has no business in a path or a name. */
static bool
has_control__(const char *s)
{
    for (; *s; s++) {
        unsigned char c = *s;
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Returns other_config:KEY, treating an empty value as unset the way
 * upstream does. */
static char *
get_path__(const struct smap *other_config, const char *key)
{
    const char *value = other_config ? smap_get(other_config, key) : NULL;
    return value && *value ? xstrdup(value) : NULL;
}

/* Records 'error' as the cert error unless one is already set: the first
 * problem is the one worth fixing first. */
static void
set_cert_error__(struct global_conf *gc, char *error)
{
    if (!gc->cert_error) {
        gc->cert_error = error;
    } else {
        free(error);
    }
}

/* Loads the files named in 'gc' to compute their digests and checks
 * them.  Every file is read even after a problem, so that the digests
 * always reflect what is on disk. */
static void
check_certs__(struct global_conf *gc)
{
    static const char *const keys[] = {
        "certificate", "private_key", "ca_cert"
    };
    const char *paths[] = { gc->certificate, gc->private_key, gc->ca_cert };
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    X509 *ca = NULL;
    char *why;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (paths[i] && has_control__(paths[i])) {
            set_cert_error__(gc, xasprintf(COLUMN "%s: contains a control "
                                           "character", keys[i]));
            return;
        }
    }

    if (gc->certificate && !gc->private_key) {
        set_cert_error__(gc, xstrdup(COLUMN "private_key: not set, but "
                                     "other_config:certificate is"));
    } else if (!gc->certificate && gc->private_key) {
        set_cert_error__(gc, xstrdup(COLUMN "certificate: not set, but "
                                     "other_config:private_key is"));
    } else if (!gc->certificate && gc->ca_cert) {
        set_cert_error__(gc, xstrdup(COLUMN "certificate: not set, but "
                                     "other_config:ca_cert is"));
    }

    if (gc->certificate) {
        if (x509_cert_load(gc->certificate, &cert, gc->certificate_digest,
                           &why)) {
            set_cert_error__(gc, xasprintf(COLUMN "certificate: %s", why));
            free(why);
        } else if (x509_cert_get_cn(cert, &gc->local_name, &why)) {
            set_cert_error__(gc, xasprintf(COLUMN "certificate: %s: %s",
                                           gc->certificate, why));
            free(why);
        } else if (!x509_cert_has_dns_name(cert, gc->local_name)) {
            struct ds s = DS_EMPTY_INITIALIZER;

            ds_put_format(&s, COLUMN "certificate: %s: subjectAltName has "
                          "no DNS entry ", gc->certificate);
            ds_put_quoted(&s, gc->local_name);
            ds_put_cstr(&s, " equal to the CN (IPsec peers identify "
                        "each other by it)");
            set_cert_error__(gc, ds_steal_cstr(&s));
        }
    }

    if (gc->private_key) {
        if (x509_key_load(gc->private_key, &key, gc->private_key_digest,
                          &why)) {
            set_cert_error__(gc, xasprintf(COLUMN "private_key: %s", why));
            free(why);
        } else if (cert && !x509_key_matches_cert(key, cert)) {
            set_cert_error__(gc, xasprintf(COLUMN "private_key: %s: does "
                                           "not match the public key in "
                                           "other_config:certificate %s",
                                           gc->private_key,
                                           gc->certificate));
        }
    }

    if (gc->ca_cert) {
        if (x509_cert_load(gc->ca_cert, &ca, gc->ca_cert_digest, &why)) {
            set_cert_error__(gc, xasprintf(COLUMN "ca_cert: %s", why));
            free(why);
        } else if (!x509_cert_is_ca(ca)) {
            set_cert_error__(gc, xasprintf(COLUMN "ca_cert: %s: not a CA "
                                           "certificate (no basicConstraints "
                                           "CA:TRUE)", gc->ca_cert));
        }
    }

    X509_free(ca);
    EVP_PKEY_free(key);
    X509_free(cert);
}

struct global_conf *
global_conf_create(const struct smap *other_config)
{
    struct global_conf *gc = xzalloc(sizeof *gc);
    const char *skb_mark;

    gc->certificate = get_path__(other_config, "certificate");
    gc->private_key = get_path__(other_config, "private_key");
    gc->ca_cert = get_path__(other_config, "ca_cert");
    check_certs__(gc);

    gc->skb_mask = UINT32_MAX;
    skb_mark = other_config ? smap_get(other_config, "ipsec_skb_mark") : NULL;
    if (skb_mark) {
        uint32_t mark, mask;
        char *error = global_conf_parse_skb_mark(skb_mark, &mark, &mask);

        if (error) {
            gc->skb_mark_error = xasprintf(COLUMN "ipsec_skb_mark: %s",
                                           error);
            free(error);
        } else {
            gc->has_skb_mark = true;
            gc->skb_mark = mark;
            gc->skb_mask = mask;
        }
    }
    return gc;
}

void
global_conf_destroy(struct global_conf *gc)
{
    if (gc) {
        free(gc->certificate);
        free(gc->private_key);
        free(gc->ca_cert);
        free(gc->local_name);
        free(gc->cert_error);
        free(gc->skb_mark_error);
        free(gc);
    }
}

/* Parses the 'len' bytes at 's' as a 32-bit unsigned number: decimal
 * without a leading zero, or "0x" and hex digits.  A leading zero is
 * refused: strtoul() with base 0, and so the IKE daemons, read "010" as
 * octal 8, and nobody should get 8 where they meant 10.  Returns NULL or
 * a static reason. */
static const char *
parse_u32__(const char *s, size_t len, uint32_t *ret)
{
    uint64_t value = 0;
    size_t i = 0;
    int base = 10;

    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (len >= 2 && s[0] == '0') {
        return "has a leading zero (octal is not accepted; write decimal "
               "or 0x hex)";
    }
    if (i == len) {
        return "is not a number";
    }
    for (; i < len; i++) {
        int c = s[i];
        int digit;

        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else {
            return "is not a number (decimal or 0x hex)";
        }
        value = value * base + digit;
        if (value > UINT32_MAX) {
            return "is larger than 32 bits";
        }
    }
    *ret = value;
    return NULL;
}

char *
global_conf_parse_skb_mark(const char *s, uint32_t *ret_mark,
                           uint32_t *ret_mask)
{
    const char *slash;
    uint32_t mark, mask;
    const char *why;
    struct ds msg = DS_EMPTY_INITIALIZER;

    *ret_mark = 0;
    *ret_mask = UINT32_MAX;
    if (!s || !*s) {
        return xstrdup("empty value (expected VALUE or VALUE/MASK)");
    }

    ds_put_quoted(&msg, s);
    ds_put_cstr(&msg, ": ");

    slash = strchr(s, '/');
    why = parse_u32__(s, slash ? (size_t) (slash - s) : strlen(s), &mark);
    if (why) {
        ds_put_format(&msg, "value %s", why);
        goto error;
    }
    mask = UINT32_MAX;
    if (slash) {
        why = parse_u32__(slash + 1, strlen(slash + 1), &mask);
        if (why) {
            ds_put_format(&msg, "mask %s", why);
            goto error;
        }
        if (!mask) {
            ds_put_cstr(&msg, "mask is 0, so the mark would match every "
                        "packet");
            goto error;
        }
    }
    if (mark & ~mask) {
        ds_put_format(&msg, "value 0x%"PRIx32" has bits outside mask "
                      "0x%"PRIx32, mark, mask);
        goto error;
    }

    ds_destroy(&msg);
    *ret_mark = mark;
    *ret_mask = mask;
    return NULL;

error:
    return ds_steal_cstr(&msg);
}

bool
global_conf_certs_equal(const struct global_conf *a,
                        const struct global_conf *b)
{
    if (!a || !b) {
        return a == b;
    }
    return (nullable_string_equal(a->certificate, b->certificate)
            && nullable_string_equal(a->private_key, b->private_key)
            && nullable_string_equal(a->ca_cert, b->ca_cert)
            && nullable_string_equal(a->local_name, b->local_name)
            && nullable_string_equal(a->cert_error, b->cert_error)
            && !memcmp(a->certificate_digest, b->certificate_digest,
                       sizeof a->certificate_digest)
            && !memcmp(a->private_key_digest, b->private_key_digest,
                       sizeof a->private_key_digest)
            && !memcmp(a->ca_cert_digest, b->ca_cert_digest,
                       sizeof a->ca_cert_digest));
}

bool
global_conf_skb_mark_equal(const struct global_conf *a,
                           const struct global_conf *b)
{
    if (!a || !b) {
        return a == b;
    }
    return (a->has_skb_mark == b->has_skb_mark
            && a->skb_mark == b->skb_mark
            && a->skb_mask == b->skb_mask
            && nullable_string_equal(a->skb_mark_error, b->skb_mark_error));
}
