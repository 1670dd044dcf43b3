/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-pki print FILE: shows what matters about a certificate, a
 * certificate request or a private key for IPsec: subject,
 * subjectAltName, issuer, validity, key type and size, CA or not, key
 * usages and fingerprints.  For a private key, only its type and size:
 * key material is never printed.  Everything taken from the file is
 * escaped so that it cannot put control characters on the terminal.
 */
#include "config.h"
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "ds.h"

/* Prints "  LABEL:  VALUE" with the values aligned. */
static void
put_field__(const struct pki_ctx *ctx, const char *label, const char *value)
{
    fprintf(ctx->out, "  %-20s %s\n", label, value);
}

/* Returns the printable text of the extension 'nid' in 'exts' (one line,
 * escaped), or NULL if there is none. */
static char *
ext_text__(const STACK_OF(X509_EXTENSION) *exts, int nid)
{
    int i = X509v3_get_ext_by_NID(exts, nid, -1);
    struct ds s = DS_EMPTY_INITIALIZER;
    BIO *bio;
    char *data;
    long size;

    if (i < 0) {
        return NULL;
    }
    bio = BIO_new(BIO_s_mem());
    if (!bio) {
        out_of_memory();
    }
    if (X509V3_EXT_print(bio, X509v3_get_ext(exts, i), 0, 0) != 1) {
        BIO_free(bio);
        ERR_clear_error();
        return xstrdup("(cannot be decoded)");
    }
    size = BIO_get_mem_data(bio, &data);
    for (long j = 0; j < size; j++) {
        unsigned char c = data[j];
        if (c == '\n') {
            ds_put_cstr(&s, ", ");
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            ds_put_format(&s, "\\x%02x", c);
        } else {
            ds_put_char(&s, c);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    ds_chomp(&s);
    return ds_steal_cstr(&s);
}

static void
put_ext__(const struct pki_ctx *ctx, const char *label,
          const STACK_OF(X509_EXTENSION) *exts, int nid, const char *none)
{
    char *text = ext_text__(exts, nid);
    put_field__(ctx, label, text ? text : none);
    free(text);
}

static void
put_name__(const struct pki_ctx *ctx, const char *label,
           const X509_NAME *name)
{
    char *s = x509_name_format(name);
    put_field__(ctx, label, s);
    free(s);
}

static void
put_key__(const struct pki_ctx *ctx, const EVP_PKEY *key)
{
    char *s = key ? x509_key_describe(key) : xstrdup("(cannot be decoded)");
    put_field__(ctx, "key:", s);
    free(s);
}

static void
put_hex__(struct ds *s, const uint8_t *data, size_t size, bool colons)
{
    for (size_t i = 0; i < size; i++) {
        ds_put_format(s, colons ? "%s%02X" : "%s%02x",
                      colons && i ? ":" : "", data[i]);
    }
}

/* Formats ASN.1 time 't' as "YYYY-MM-DD HH:MM:SS UTC". */
static char *
time_text__(const ASN1_TIME *t)
{
    char buf[64];
    struct tm tm;

    if (!ASN1_TIME_to_tm(t, &tm)
        || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm)) {
        ERR_clear_error();
        return xstrdup("(invalid time)");
    }
    return xstrdup(buf);
}

static void
print_cert__(const struct pki_ctx *ctx, const char *path, X509 *cert)
{
    const STACK_OF(X509_EXTENSION) *exts = X509_get0_extensions(cert);
    const ASN1_TIME *not_before = X509_get0_notBefore(cert);
    const ASN1_TIME *not_after = X509_get0_notAfter(cert);
    uint8_t sha256[X509_DIGEST_SIZE];
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int sha1_size = 0;
    struct ds s = DS_EMPTY_INITIALIZER;
    BIGNUM *bn;
    char *serial;
    int days, secs;
    char *a, *b;

    fprintf(ctx->out, "%s: X.509 certificate, version %ld\n", path,
            X509_get_version(cert) + 1);
    put_name__(ctx, "subject:", X509_get_subject_name(cert));
    put_ext__(ctx, "subjectAltName:", exts, NID_subject_alt_name, "(none)");
    put_name__(ctx, "issuer:", X509_get_issuer_name(cert));

    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    serial = bn ? BN_bn2hex(bn) : NULL;
    put_field__(ctx, "serial:", serial ? serial : "(invalid)");
    OPENSSL_free(serial);
    BN_free(bn);

    a = time_text__(not_before);
    b = time_text__(not_after);
    ds_put_format(&s, "%s to %s", a, b);
    put_field__(ctx, "validity:", ds_cstr(&s));
    free(a);
    free(b);

    ds_clear(&s);
    if (X509_cmp_current_time(not_before) > 0) {
        ds_put_cstr(&s, "not valid yet");
    } else if (X509_cmp_current_time(not_after) < 0) {
        ds_put_cstr(&s, "EXPIRED");
    } else if (ASN1_TIME_diff(&days, &secs, NULL, not_after)) {
        /* Counting a started day as a day, so that a certificate made for
         * N days shows N, not N - 1, for its first day. */
        days += secs > 0;
        ds_put_format(&s, "valid, expires in %d day%s", days,
                      days == 1 ? "" : "s");
    } else {
        ds_put_cstr(&s, "valid");
    }
    put_field__(ctx, "status:", ds_cstr(&s));

    put_key__(ctx, X509_get0_pubkey(cert));
    put_field__(ctx, "signature:",
                OBJ_nid2ln(X509_get_signature_nid(cert)));

    ds_clear(&s);
    if (x509_cert_is_ca(cert)) {
        long pathlen = X509_get_pathlen(cert);
        ds_put_cstr(&s, "yes");
        if (pathlen >= 0) {
            ds_put_format(&s, " (path length %ld)", pathlen);
        }
    } else {
        ds_put_cstr(&s, "no");
    }
    put_field__(ctx, "CA:", ds_cstr(&s));
    put_ext__(ctx, "key usage:", exts, NID_key_usage, "(any)");
    put_ext__(ctx, "ext. key usage:", exts, NID_ext_key_usage, "(any)");

    ds_clear(&s);
    if (!x509_cert_fingerprint(cert, sha256)) {
        put_hex__(&s, sha256, sizeof sha256, true);
    }
    put_field__(ctx, "SHA-256 fingerprint:", ds_cstr(&s));
    ds_clear(&s);
    if (X509_digest(cert, EVP_sha1(), sha1, &sha1_size)) {
        put_hex__(&s, sha1, sha1_size, false);
    }
    put_field__(ctx, "SHA-1 fingerprint:", ds_cstr(&s));
    ds_destroy(&s);
    ERR_clear_error();
}

static void
print_req__(const struct pki_ctx *ctx, const char *path, X509_REQ *req,
            const void *data, size_t size)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    uint8_t sha256[X509_DIGEST_SIZE];
    uint8_t sha1[20];
    struct ds s = DS_EMPTY_INITIALIZER;
    char *why = NULL;

    fprintf(ctx->out, "%s: certificate request (PKCS#10)\n", path);
    put_name__(ctx, "subject:", X509_REQ_get_subject_name(req));
    put_ext__(ctx, "subjectAltName:", exts, NID_subject_alt_name,
              "(none requested)");
    put_key__(ctx, X509_REQ_get0_pubkey(req));

    ds_put_cstr(&s, OBJ_nid2ln(X509_REQ_get_signature_nid(req)));
    ds_put_cstr(&s, x509_req_check_signature(req, path, &why)
                ? ", DOES NOT VERIFY" : ", verified");
    put_field__(ctx, "signature:", ds_cstr(&s));
    free(why);

    /* A request's fingerprint covers the whole file, as "req" and "sign"
     * print it. */
    ds_clear(&s);
    x509_sha256(data, size, sha256);
    put_hex__(&s, sha256, sizeof sha256, true);
    put_field__(ctx, "SHA-256 of file:", ds_cstr(&s));
    ds_clear(&s);
    if (EVP_Q_digest(NULL, "SHA1", NULL, data, size, sha1, NULL)) {
        put_hex__(&s, sha1, sizeof sha1, false);
    }
    put_field__(ctx, "SHA-1 of file:", ds_cstr(&s));

    ds_destroy(&s);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
}

int
cmd_print(struct pki_ctx *ctx, int n_args OVS_UNUSED__, char *args[],
          char **ret_why)
{
    const char *path = args[0];
    X509_REQ *req = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *data;
    size_t size;
    int error;

    error = x509_read_file(path, &data, &size, ret_why);
    if (error) {
        return error;
    }
    if (memmem(data, size, "-BEGIN CERTIFICATE-", 19)
        || memmem(data, size, "-BEGIN X509 CERTIFICATE-", 24)) {
        error = x509_cert_from_pem(data, size, path, &cert, ret_why);
        if (!error) {
            print_cert__(ctx, path, cert);
        }
    } else if (memmem(data, size, "CERTIFICATE REQUEST-", 20)) {
        error = x509_req_from_pem(data, size, path, &req, ret_why);
        if (!error) {
            print_req__(ctx, path, req, data, size);
        }
    } else if (memmem(data, size, "PRIVATE KEY-", 12)) {
        error = x509_key_from_pem(data, size, path, &key, ret_why);
        if (!error) {
            fprintf(ctx->out, "%s: private key\n", path);
            put_key__(ctx, key);
        }
    } else {
        error = -EINVAL;
        *ret_why = xasprintf("%s: no PEM certificate, certificate request "
                             "or private key", path);
    }

    EVP_PKEY_free(key);
    X509_REQ_free(req);
    X509_free(cert);
    memzero_explicit(data, size);
    free(data);
    return error;
}
