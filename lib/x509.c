/* SPDX-License-Identifier: Apache-2.0
 *
 * x509: see x509.h.
 *
 * Files are read into memory once and both parsed and digested from that
 * copy, so a file replaced between the two steps cannot give a digest that
 * does not match what was parsed.  Only OpenSSL 3 interfaces are used;
 * deprecated ones would not compile.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000
#include "x509.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "ds.h"
#include "util.h"

/* Stores 'why' in '*ret_why' if the caller wants it, else frees it. */
static void
set_why__(char **ret_why, char *why)
{
    if (ret_why) {
        *ret_why = why;
    } else {
        free(why);
    }
}

static void
clear_why__(char **ret_why)
{
    if (ret_why) {
        *ret_why = NULL;
    }
}

/* Appends the reason of the most recent OpenSSL error (the one closest to
 * the failing call is the least informative: "PEM lib"), with the detail
 * text OpenSSL attached to it if any, and clears the queue. */
static void
put_openssl_reason__(struct ds *s)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_all(NULL, NULL, NULL, &data,
                                              &flags);

    if (!e) {
        ds_put_cstr(s, "unknown OpenSSL error");
    } else {
        const char *reason = ERR_reason_error_string(e);
        if (reason) {
            ds_put_cstr(s, reason);
        } else {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            ds_put_cstr(s, buf);
        }
        if (data && *data && (flags & ERR_TXT_STRING)) {
            ds_put_format(s, " (%s)", data);
        }
    }
    ERR_clear_error();
}

char *
x509_why_openssl(const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;

    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    ds_put_cstr(&s, ": ");
    put_openssl_reason__(&s);
    return ds_steal_cstr(&s);
}

/* Reading files. */

int
x509_read_file(const char *path, char **ret_data, size_t *ret_size,
               char **ret_why)
{
    char *data = NULL;
    size_t size = 0;
    size_t cap;
    struct stat st;
    int error;
    int fd;

    *ret_data = NULL;
    *ret_size = 0;
    clear_why__(ret_why);

    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer.  It has no effect on regular files. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", path, ovsec_strerror(error)));
        return error;
    }
    if (fstat(fd, &st) < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", path, ovsec_strerror(error)));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        error = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        set_why__(ret_why, xasprintf("%s: %s", path,
                                     S_ISDIR(st.st_mode)
                                     ? "is a directory"
                                     : "not a regular file"));
        goto out;
    }

    /* Size the buffer from fstat(), one byte more so that a file that
     * grew meanwhile is noticed, and grow it (never past the limit plus
     * one byte, which tells "too large" from "exactly at the limit") by
     * copying, so that no stray copy of a key is left behind in memory
     * freed by realloc(). */
    cap = (st.st_size < X509_FILE_MAX_SIZE ? st.st_size : X509_FILE_MAX_SIZE);
    cap += 1;
    data = xmalloc(cap + 1);
    for (;;) {
        if (size == cap) {
            if (cap > X509_FILE_MAX_SIZE) {
                error = -EFBIG;
                set_why__(ret_why, xasprintf("%s: larger than %d bytes",
                                             path, X509_FILE_MAX_SIZE));
                goto out;
            }
            size_t new_cap = MIN(cap * 2, (size_t) X509_FILE_MAX_SIZE + 1);
            char *new_data = xmalloc(new_cap + 1);
            memcpy(new_data, data, size);
            memzero_explicit(data, size);
            free(data);
            data = new_data;
            cap = new_cap;
        }

        ssize_t n = read(fd, data + size, cap - size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = -errno;
            set_why__(ret_why, xasprintf("%s: %s", path,
                                         ovsec_strerror(error)));
            goto out;
        } else if (n == 0) {
            break;
        }
        size += n;
    }
    data[size] = '\0';
    *ret_data = data;
    *ret_size = size;
    data = NULL;
    error = 0;

out:
    if (data) {
        /* The file may be a private key. */
        memzero_explicit(data, size);
        free(data);
    }
    close(fd);
    return error;
}

void
x509_sha256(const void *data, size_t size, uint8_t digest[X509_DIGEST_SIZE])
{
    /* SHA-256 is always available in the default provider; a failure here
     * means a broken OpenSSL installation. */
    size_t digest_size = 0;
    if (!EVP_Q_digest(NULL, "SHA256", NULL, data, size, digest, &digest_size)
        || digest_size != X509_DIGEST_SIZE) {
        abort();
    }
}

int
x509_file_digest(const char *path, uint8_t digest[X509_DIGEST_SIZE],
                 char **ret_why)
{
    char *data;
    size_t size;
    int error;

    memset(digest, 0, X509_DIGEST_SIZE);
    error = x509_read_file(path, &data, &size, ret_why);
    if (!error) {
        x509_sha256(data, size, digest);
        memzero_explicit(data, size);
        free(data);
    }
    return error;
}

/* Loading. */

int
x509_cert_from_pem(const void *data, size_t size, const char *what,
                   X509 **ret, char **ret_why)
{
    int error = 0;
    BIO *bio;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    if (size > INT_MAX) {
        set_why__(ret_why, xasprintf("%s: too large", what));
        return -EFBIG;
    }
    bio = BIO_new_mem_buf(data, size);
    if (!bio) {
        out_of_memory();
    }
    *ret = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!*ret) {
        error = -EINVAL;
        set_why__(ret_why, x509_why_openssl("%s: no valid PEM certificate",
                                            what));
    }
    BIO_free(bio);
    ERR_clear_error();
    return error;
}

/* The first half of x509_cert_load() and x509_key_load(): zeroes
 * 'ret_digest' (if nonnull), then reads 'path' into '*data' and '*size'
 * as x509_read_file() does. */
static int
load_begin__(const char *path, uint8_t ret_digest[X509_DIGEST_SIZE],
             char **data, size_t *size, char **ret_why)
{
    if (ret_digest) {
        memset(ret_digest, 0, X509_DIGEST_SIZE);
    }
    return x509_read_file(path, data, size, ret_why);
}

/* The second half: if 'error' (the parser's result) is 0 and 'ret_digest'
 * is nonnull, stores the digest of 'data' there.  Then wipes and frees
 * 'data' (it may hold a private key) and returns 'error'. */
static int
load_end__(int error, char *data, size_t size,
           uint8_t ret_digest[X509_DIGEST_SIZE])
{
    if (!error && ret_digest) {
        x509_sha256(data, size, ret_digest);
    }
    memzero_explicit(data, size);
    free(data);
    return error;
}

int
x509_cert_load(const char *path, X509 **ret,
               uint8_t ret_digest[X509_DIGEST_SIZE], char **ret_why)
{
    char *data;
    size_t size;
    int error;

    *ret = NULL;
    error = load_begin__(path, ret_digest, &data, &size, ret_why);
    if (!error) {
        error = load_end__(x509_cert_from_pem(data, size, path, ret,
                                              ret_why),
                           data, size, ret_digest);
    }
    return error;
}

void
x509_certs_free(X509 **certs, size_t n)
{
    if (certs) {
        for (size_t i = 0; i < n; i++) {
            X509_free(certs[i]);
        }
        free(certs);
    }
}

int
x509_certs_from_pem(const void *data, size_t size, const char *what,
                    X509 ***ret_certs, size_t *ret_n, char **ret_why)
{
    X509 **certs = NULL;
    size_t n = 0, cap = 0;
    int error = 0;
    BIO *bio;

    *ret_certs = NULL;
    *ret_n = 0;
    clear_why__(ret_why);
    ERR_clear_error();

    if (size > INT_MAX) {
        set_why__(ret_why, xasprintf("%s: too large", what));
        return -EFBIG;
    }
    bio = BIO_new_mem_buf(data, size);
    if (!bio) {
        out_of_memory();
    }
    for (;;) {
        /* Skips PEM blocks of other types, such as a private key. */
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!cert) {
            unsigned long e = ERR_peek_last_error();

            /* Running out of input is the normal end, after at least one
             * certificate. */
            if (!n || ERR_GET_LIB(e) != ERR_LIB_PEM
                || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
                error = -EINVAL;
                set_why__(ret_why,
                          n ? x509_why_openssl("%s: certificate %zu is not "
                                               "valid", what, n + 1)
                            : x509_why_openssl("%s: no valid PEM "
                                               "certificate", what));
            }
            break;
        }
        if (n >= cap) {
            cap = cap ? 2 * cap : 4;
            certs = xrealloc(certs, cap * sizeof *certs);
        }
        certs[n++] = cert;
    }
    BIO_free(bio);
    ERR_clear_error();

    if (error) {
        x509_certs_free(certs, n);
    } else {
        *ret_certs = certs;
        *ret_n = n;
    }
    return error;
}

int
x509_certs_load(const char *path, X509 ***ret_certs, size_t *ret_n,
                char **ret_why)
{
    char *data;
    size_t size;
    int error;

    *ret_certs = NULL;
    *ret_n = 0;
    error = load_begin__(path, NULL, &data, &size, ret_why);
    if (!error) {
        /* load_end__() wipes the data: the file may hold a private key
         * next to the certificates. */
        error = load_end__(x509_certs_from_pem(data, size, path, ret_certs,
                                               ret_n, ret_why),
                           data, size, NULL);
    }
    return error;
}

/* PEM passphrase callback: never prompt, just note that a passphrase was
 * wanted so that the error can say so. */
static int
no_passphrase__(char *buf, int size, int rwflag, void *wanted_)
{
    bool *wanted = wanted_;

    (void) buf;
    (void) size;
    (void) rwflag;
    *wanted = true;
    return -1;
}

int
x509_key_from_pem(const void *data, size_t size, const char *what,
                  EVP_PKEY **ret, char **ret_why)
{
    bool wanted_passphrase = false;
    int error = 0;
    BIO *bio;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    if (size > INT_MAX) {
        set_why__(ret_why, xasprintf("%s: too large", what));
        return -EFBIG;
    }
    if (!memmem(data, size, "-----BEGIN ", 11)) {
        /* OpenSSL's decoders only say "unsupported" here; say what the
         * certificate parser would. */
        set_why__(ret_why, xasprintf("%s: no valid PEM private key: no "
                                     "start line", what));
        return -EINVAL;
    }
    bio = BIO_new_mem_buf(data, size);
    if (!bio) {
        out_of_memory();
    }
    *ret = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase__,
                                   &wanted_passphrase);
    if (!*ret) {
        error = -EINVAL;
        set_why__(ret_why,
                  wanted_passphrase
                  ? xasprintf("%s: private key is encrypted (a passphrase "
                              "cannot be given; decrypt the key)", what)
                  : x509_why_openssl("%s: no valid PEM private key", what));
    }
    BIO_free(bio);
    ERR_clear_error();
    return error;
}

int
x509_key_load(const char *path, EVP_PKEY **ret,
              uint8_t ret_digest[X509_DIGEST_SIZE], char **ret_why)
{
    char *data;
    size_t size;
    int error;

    *ret = NULL;
    error = load_begin__(path, ret_digest, &data, &size, ret_why);
    if (!error) {
        error = load_end__(x509_key_from_pem(data, size, path, ret, ret_why),
                           data, size, ret_digest);
    }
    return error;
}

/* Inspecting. */

/* Gets the last CN of 'subject', as x509_cert_get_cn(); 'what' names the
 * subject in messages ("certificate subject"). */
static int
name_get_cn__(const X509_NAME *subject, const char *what, char **ret_cn,
              char **ret_why)
{
    unsigned char *utf8 = NULL;
    int last = -1;
    int error = 0;
    int len;

    *ret_cn = NULL;
    clear_why__(ret_why);

    for (int i = -1;
         (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;
         ) {
        last = i;
    }
    if (last < 0) {
        set_why__(ret_why, xasprintf("%s has no CN", what));
        return -ENOENT;
    }

    const X509_NAME_ENTRY *entry = X509_NAME_get_entry(subject, last);
    len = ASN1_STRING_to_UTF8(&utf8,
                              X509_NAME_ENTRY_get_data(entry));
    if (len < 0) {
        error = -EINVAL;
        set_why__(ret_why, x509_why_openssl("%s CN is not valid text",
                                            what));
        goto out;
    }
    if (len == 0) {
        error = -EINVAL;
        set_why__(ret_why, xasprintf("%s CN is empty", what));
        goto out;
    }
    for (int i = 0; i < len; i++) {
        if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
            error = -EINVAL;
            set_why__(ret_why, xasprintf("%s CN contains a NUL or control "
                                         "character", what));
            goto out;
        }
    }
    *ret_cn = xmemdup0(utf8, len);

out:
    OPENSSL_free(utf8);
    ERR_clear_error();
    return error;
}

int
x509_cert_get_cn(const X509 *cert, char **ret_cn, char **ret_why)
{
    return name_get_cn__(X509_get_subject_name(cert), "certificate subject",
                         ret_cn, ret_why);
}

int
x509_name_get_cn(const X509_NAME *name, char **ret_cn, char **ret_why)
{
    return name_get_cn__(name, "subject", ret_cn, ret_why);
}

bool
x509_cert_has_dns_name(const X509 *cert, const char *name)
{
    GENERAL_NAMES *names;
    size_t name_len = strlen(name);
    bool found = false;

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) {
        ERR_clear_error();
        return false;
    }
    for (int i = 0; !found && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_DNS) {
            continue;
        }
        /* Compare the full length, so that an embedded NUL in the
         * certificate cannot make a prefix match. */
        const ASN1_IA5STRING *dns = gn->d.dNSName;
        const char *s = (const char *) ASN1_STRING_get0_data(dns);
        if ((size_t) ASN1_STRING_length(dns) == name_len
            && !strncasecmp(s, name, name_len)) {
            found = true;
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

char *
x509_cert_subject(const X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long size;
    char *s;

    if (!bio) {
        out_of_memory();
    }
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    size = BIO_get_mem_data(bio, &data);
    s = xmemdup0(data, size > 0 ? size : 0);
    BIO_free(bio);
    ERR_clear_error();
    return s;
}

bool
x509_cert_is_ca(const X509 *cert)
{
    /* X509_check_ca() caches extensions in 'cert', hence the cast;
     * the certificate itself is not changed. */
    bool ca = X509_check_ca((X509 *) cert) != 0;
    ERR_clear_error();
    return ca;
}

bool
x509_key_matches_cert(const EVP_PKEY *key, const X509 *cert)
{
    const EVP_PKEY *pub = X509_get0_pubkey(cert);
    bool match = pub && EVP_PKEY_eq(pub, key) == 1;
    ERR_clear_error();
    return match;
}

int
x509_cert_fingerprint(const X509 *cert, uint8_t digest[X509_DIGEST_SIZE])
{
    unsigned char *der = NULL;
    int len;

    memset(digest, 0, X509_DIGEST_SIZE);
    len = i2d_X509(cert, &der);
    if (len <= 0) {
        ERR_clear_error();
        return -EINVAL;
    }
    x509_sha256(der, len, digest);
    OPENSSL_free(der);
    return 0;
}

char *
x509_fingerprint_format(const uint8_t digest[X509_DIGEST_SIZE])
{
    char *s = xmalloc(X509_DIGEST_SIZE * 3);

    for (size_t i = 0; i < X509_DIGEST_SIZE; i++) {
        snprintf(&s[i * 3], 4, "%02X%s", digest[i],
                 i + 1 < X509_DIGEST_SIZE ? ":" : "");
    }
    return s;
}

/* Creating. */

int
x509_key_generate(enum x509_key_type type, int bits, EVP_PKEY **ret,
                  char **ret_why)
{
    clear_why__(ret_why);
    ERR_clear_error();

    switch (type) {
    case X509_KEY_RSA:
        *ret = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
                                 (size_t) (bits > 0 ? bits : 2048));
        break;
    case X509_KEY_EC:
        if (bits != 0 && bits != 256 && bits != 384) {
            *ret = NULL;
            set_why__(ret_why, xasprintf("%d-bit EC keys are not supported "
                                         "(only 256 and 384)", bits));
            return -EINVAL;
        }
        *ret = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
                                 bits == 384 ? "P-384" : "P-256");
        break;
    case X509_KEY_ED25519:
        *ret = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case X509_KEY_N:
    default:
        *ret = NULL;
        set_why__(ret_why, xasprintf("unknown key type %d", (int) type));
        return -EINVAL;
    }
    if (!*ret) {
        set_why__(ret_why, x509_why_openssl("key generation failed"));
        return -EINVAL;
    }
    return 0;
}

/* Adds extension 'nid' with OpenSSL configuration text 'value' (always a
 * constant here, never user input) to 'cert'. */
static bool
add_ext__(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* Returns new GENERAL_NAMES holding the DNS names in 'dns', or NULL on
 * failure.  The names are put in the structure directly, not through
 * configuration text, so that a comma in a name cannot turn into a second
 * entry. */
static GENERAL_NAMES *
dns_names__(const char *const *dns)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();

    for (size_t i = 0; names && dns[i]; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

        if (!gn || !ia5 || !ASN1_STRING_set(ia5, dns[i], -1)) {
            GENERAL_NAME_free(gn);
            ASN1_IA5STRING_free(ia5);
            GENERAL_NAMES_free(names);
            return NULL;
        }
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        if (!sk_GENERAL_NAME_push(names, gn)) {
            GENERAL_NAME_free(gn);
            GENERAL_NAMES_free(names);
            return NULL;
        }
    }
    return names;
}

/* Adds a subjectAltName with the DNS names in 'dns'. */
static bool
add_san__(X509 *cert, const char *const *dns)
{
    GENERAL_NAMES *names = dns_names__(dns);
    bool ok = (names
               && X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
                                    X509V3_ADD_DEFAULT) == 1);
    GENERAL_NAMES_free(names);
    return ok;
}

/* Gives 'cert' a random positive 127-bit serial number. */
static bool
set_random_serial__(X509 *cert)
{
    unsigned char bytes[16];
    BIGNUM *bn;
    bool ok;

    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        return false;
    }
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;           /* Keep the full length, never zero. */
    bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return ok;
}

static bool
add_name_entry__(X509_NAME *name, const char *field, const char *value)
{
    return !value
           || X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                         (const unsigned char *) value, -1,
                                         -1, 0);
}

int
x509_cert_create(const struct x509_cert_spec *spec, EVP_PKEY *key,
                 const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
                 char **ret_why)
{
    const char *cn_only[] = { spec->cn, NULL };
    const char *const *dns = spec->dns;
    const EVP_MD *md;
    X509V3_CTX ctx;
    X509_NAME *subject;
    X509 *cert;
    int error = -EINVAL;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    if (spec->days <= 0) {
        set_why__(ret_why, xasprintf("validity of %d days is not positive",
                                     spec->days));
        return -EINVAL;
    }
    if (!dns) {
        dns = spec->cn ? cn_only : cn_only + 1;
    }
    if (!issuer) {
        issuer_key = key;
    }

    cert = X509_new();
    if (!cert) {
        out_of_memory();
    }
    subject = X509_get_subject_name(cert);
    if (!X509_set_version(cert, X509_VERSION_3)
        || !set_random_serial__(cert)
        || !X509_gmtime_adj(X509_getm_notBefore(cert), 0)
        || !X509_time_adj_ex(X509_getm_notAfter(cert), spec->days, 0, NULL)
        || !add_name_entry__(subject, "O", spec->org)
        || !add_name_entry__(subject, "CN", spec->cn)
        || !X509_set_issuer_name(cert, (issuer
                                        ? X509_get_subject_name(issuer)
                                        : subject))
        || !X509_set_pubkey(cert, key)) {
        set_why__(ret_why, x509_why_openssl("cannot build certificate"));
        goto out;
    }

    /* The context wants a non-const issuer but does not modify it. */
    X509V3_set_ctx(&ctx, issuer ? (X509 *) issuer : cert, cert, NULL, NULL,
                   0);
    if (!add_ext__(cert, &ctx, NID_basic_constraints,
                   spec->ca ? "critical,CA:TRUE" : "critical,CA:FALSE")
        || !add_ext__(cert, &ctx, NID_key_usage,
                      spec->ca ? "critical,keyCertSign,cRLSign"
                      : "critical,digitalSignature")
        || !add_ext__(cert, &ctx, NID_subject_key_identifier, "hash")
        || !add_ext__(cert, &ctx, NID_authority_key_identifier,
                      "keyid:always")
        || (dns[0] && !add_san__(cert, dns))) {
        set_why__(ret_why, x509_why_openssl("cannot add certificate "
                                            "extensions"));
        goto out;
    }

    /* Ed25519 and Ed448 sign the message itself and take no digest. */
    md = (EVP_PKEY_is_a(issuer_key, "ED25519")
          || EVP_PKEY_is_a(issuer_key, "ED448")) ? NULL : EVP_sha256();
    if (!X509_sign(cert, issuer_key, md)) {
        set_why__(ret_why, x509_why_openssl("cannot sign certificate"));
        goto out;
    }
    *ret = cert;
    cert = NULL;
    error = 0;

out:
    X509_free(cert);
    ERR_clear_error();
    return error;
}

/* Writes a PEM object to 'path' through a temporary file that is renamed
 * over it, with 'mode'.  'write' returns 1 on success, like OpenSSL's PEM
 * writers. */
static int
write_pem__(const char *path, mode_t mode, const void *object,
            int (*write)(BIO *, const void *), char **ret_why)
{
    char *tmp = xasprintf("%s.tmpXXXXXX", path);
    bool created = false;
    BIO *bio = NULL;
    int error = 0;
    int fd;

    clear_why__(ret_why);
    ERR_clear_error();

    /* mkostemp() creates the file 0600, so a key is never readable by
     * others, not even briefly. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", tmp, ovsec_strerror(error)));
        goto out;
    }
    created = true;
    if (fchmod(fd, mode) < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", tmp, ovsec_strerror(error)));
        goto out;
    }
    bio = BIO_new_fd(fd, BIO_NOCLOSE);
    if (!bio) {
        out_of_memory();
    }
    if (write(bio, object) != 1 || BIO_flush(bio) != 1) {
        error = -EIO;
        set_why__(ret_why, x509_why_openssl("%s: cannot write", tmp));
        goto out;
    }
    if (fsync(fd) < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", tmp, ovsec_strerror(error)));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", tmp, ovsec_strerror(error)));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        error = -errno;
        set_why__(ret_why, xasprintf("%s: %s", path, ovsec_strerror(error)));
        goto out;
    }
    created = false;

out:
    BIO_free(bio);
    if (fd >= 0) {
        close(fd);
    }
    if (created) {
        unlink(tmp);
    }
    free(tmp);
    ERR_clear_error();
    return error;
}

static int
write_cert__(BIO *bio, const void *cert)
{
    return PEM_write_bio_X509(bio, cert);
}

static int
write_key__(BIO *bio, const void *key)
{
    return PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
}

int
x509_cert_write(const X509 *cert, const char *path, char **ret_why)
{
    return write_pem__(path, 0644, cert, write_cert__, ret_why);
}

int
x509_key_write(const EVP_PKEY *key, const char *path, char **ret_why)
{
    return write_pem__(path, 0600, key, write_key__, ret_why);
}

/* Names and keys, for display and checks. */

char *
x509_name_format(const X509_NAME *name)
{
    /* RFC 2253 string escaping (control and non-ASCII bytes as \XX, so
     * nothing reaches a terminal raw), in the order of the name, with the
     * ", " separators of "openssl x509 -text". */
    const unsigned long flags = (ASN1_STRFLGS_RFC2253 | XN_FLAG_SEP_CPLUS_SPC
                                 | XN_FLAG_FN_SN
                                 | XN_FLAG_DUMP_UNKNOWN_FIELDS);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long size;
    char *s;

    if (!bio) {
        out_of_memory();
    }
    X509_NAME_print_ex(bio, name, 0, flags);
    size = BIO_get_mem_data(bio, &data);
    s = xmemdup0(data, size > 0 ? size : 0);
    BIO_free(bio);
    ERR_clear_error();
    return s;
}

char *
x509_name_oneline(const X509_NAME *name)
{
    char *line = X509_NAME_oneline(name, NULL, 0);
    char *s;

    if (!line) {
        out_of_memory();
    }
    s = xstrdup(line);
    OPENSSL_free(line);
    return s;
}

char *
x509_key_describe(const EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);
    char *s;

    if (EVP_PKEY_is_a(key, "RSA")) {
        s = xasprintf("RSA %d bits", bits);
    } else if (EVP_PKEY_is_a(key, "EC")) {
        char group[64];
        const char *curve;

        if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof group, NULL)) {
            snprintf(group, sizeof group, "unknown curve");
        }
        curve = (!strcmp(group, "prime256v1") ? "P-256"
                 : !strcmp(group, "secp384r1") ? "P-384"
                 : !strcmp(group, "secp521r1") ? "P-521"
                 : group);
        s = xasprintf("EC %s (%d bits)", curve, bits);
    } else if (EVP_PKEY_is_a(key, "ED25519")) {
        s = xstrdup("Ed25519 (256 bits)");
    } else if (EVP_PKEY_is_a(key, "ED448")) {
        s = xstrdup("Ed448 (456 bits)");
    } else {
        const char *type = EVP_PKEY_get0_type_name(key);
        s = xasprintf("%s %d bits", type ? type : "unknown key type", bits);
    }
    ERR_clear_error();
    return s;
}

/* The digest to sign with 'key': none for EdDSA, which signs the message
 * itself; one as strong as the curve for ECDSA; SHA-256 otherwise. */
static const EVP_MD *
md_for_key__(const EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
        return NULL;
    } else if (EVP_PKEY_is_a(key, "EC")) {
        int bits = EVP_PKEY_get_bits(key);
        return (bits > 384 ? EVP_sha512()
                : bits > 256 ? EVP_sha384()
                : EVP_sha256());
    } else {
        return EVP_sha256();
    }
}

/* Certificate requests (PKCS#10). */

int
x509_req_from_pem(const void *data, size_t size, const char *what,
                  X509_REQ **ret, char **ret_why)
{
    int error = 0;
    BIO *bio;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    if (size > INT_MAX) {
        set_why__(ret_why, xasprintf("%s: too large", what));
        return -EFBIG;
    }
    bio = BIO_new_mem_buf(data, size);
    if (!bio) {
        out_of_memory();
    }
    *ret = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    if (!*ret) {
        error = -EINVAL;
        set_why__(ret_why, x509_why_openssl("%s: no valid PEM certificate "
                                            "request", what));
    }
    BIO_free(bio);
    ERR_clear_error();
    return error;
}

int
x509_req_load(const char *path, X509_REQ **ret, char **ret_why)
{
    char *data;
    size_t size;
    int error;

    *ret = NULL;
    error = x509_read_file(path, &data, &size, ret_why);
    if (error) {
        return error;
    }
    error = x509_req_from_pem(data, size, path, ret, ret_why);
    free(data);
    return error;
}

int
x509_req_check_signature(const X509_REQ *req_, const char *what,
                         char **ret_why)
{
    /* OpenSSL 3.0 takes these non-const but does not modify them. */
    X509_REQ *req = (X509_REQ *) req_;
    EVP_PKEY *pub;
    int error = 0;

    clear_why__(ret_why);
    ERR_clear_error();

    pub = X509_REQ_get0_pubkey(req);
    if (!pub) {
        error = -EINVAL;
        set_why__(ret_why, x509_why_openssl("%s: cannot decode the public "
                                            "key", what));
    } else if (X509_REQ_verify(req, pub) != 1) {
        error = -EINVAL;
        set_why__(ret_why, x509_why_openssl("%s: signature does not verify "
                                            "with the request's own public "
                                            "key", what));
    }
    ERR_clear_error();
    return error;
}

int
x509_req_create(const X509_NAME *subject, const char *const *dns,
                EVP_PKEY *key, X509_REQ **ret, char **ret_why)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *names = NULL;
    X509_EXTENSION *ext = NULL;
    X509_REQ *req;
    int error = -EINVAL;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    req = X509_REQ_new();
    if (!req) {
        out_of_memory();
    }
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1)
        || !X509_REQ_set_subject_name(req, subject)
        || !X509_REQ_set_pubkey(req, key)) {
        set_why__(ret_why, x509_why_openssl("cannot build certificate "
                                            "request"));
        goto out;
    }
    if (dns && dns[0]) {
        names = dns_names__(dns);
        exts = sk_X509_EXTENSION_new_null();
        ext = names ? X509V3_EXT_i2d(NID_subject_alt_name, 0, names) : NULL;
        if (!exts || !ext || !sk_X509_EXTENSION_push(exts, ext)) {
            set_why__(ret_why, x509_why_openssl("cannot build certificate "
                                                "request"));
            goto out;
        }
        ext = NULL;             /* Now owned by 'exts'. */
        if (!X509_REQ_add_extensions(req, exts)) {
            set_why__(ret_why, x509_why_openssl("cannot build certificate "
                                                "request"));
            goto out;
        }
    }
    if (!X509_REQ_sign(req, key, md_for_key__(key))) {
        set_why__(ret_why, x509_why_openssl("cannot sign certificate "
                                            "request"));
        goto out;
    }
    *ret = req;
    req = NULL;
    error = 0;

out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(names);
    X509_REQ_free(req);
    ERR_clear_error();
    return error;
}

/* Issuing certificates for IKE. */

int
x509_cert_issue(const struct x509_issue_spec *spec, EVP_PKEY *pubkey,
                const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
                char **ret_why)
{
    const char *key_usage;
    X509V3_CTX ctx;
    X509 *cert;
    int error = -EINVAL;

    *ret = NULL;
    clear_why__(ret_why);
    ERR_clear_error();

    if (spec->days <= 0) {
        set_why__(ret_why, xasprintf("validity of %d days is not positive",
                                     spec->days));
        return -EINVAL;
    }

    cert = X509_new();
    if (!cert) {
        out_of_memory();
    }
    if (!X509_set_version(cert, X509_VERSION_3)
        || !set_random_serial__(cert)
        || !X509_gmtime_adj(X509_getm_notBefore(cert), 0)
        || !X509_time_adj_ex(X509_getm_notAfter(cert), spec->days, 0, NULL)
        || (issuer
            && ASN1_TIME_compare(X509_get0_notAfter(cert),
                                 X509_get0_notAfter(issuer)) > 0
            && !X509_set1_notAfter(cert, X509_get0_notAfter(issuer)))
        || !X509_set_subject_name(cert, spec->subject)
        || !X509_set_issuer_name(cert, (issuer
                                        ? X509_get_subject_name(issuer)
                                        : spec->subject))
        || !X509_set_pubkey(cert, pubkey)) {
        set_why__(ret_why, x509_why_openssl("cannot build certificate"));
        goto out;
    }

    if (spec->ca) {
        key_usage = "critical,keyCertSign,cRLSign";
    } else if (EVP_PKEY_is_a(pubkey, "RSA")) {
        key_usage = "critical,digitalSignature,keyEncipherment";
    } else {
        key_usage = "critical,digitalSignature";
    }

    /* The context wants a non-const issuer but does not modify it.  The
     * subject key identifier goes first: the authority key identifier of
     * a self-signed certificate is computed from it. */
    X509V3_set_ctx(&ctx, issuer ? (X509 *) issuer : cert, cert, NULL, NULL,
                   0);
    if (!add_ext__(cert, &ctx, NID_basic_constraints,
                   spec->ca ? "critical,CA:TRUE,pathlen:0"
                   : "critical,CA:FALSE")
        || !add_ext__(cert, &ctx, NID_key_usage, key_usage)
        || (!spec->ca
            && !add_ext__(cert, &ctx, NID_ext_key_usage,
                          "serverAuth,clientAuth,ipsecIKE"))
        || !add_ext__(cert, &ctx, NID_subject_key_identifier, "hash")
        || !add_ext__(cert, &ctx, NID_authority_key_identifier,
                      "keyid:always")
        || (spec->dns && spec->dns[0] && !add_san__(cert, spec->dns))) {
        set_why__(ret_why, x509_why_openssl("cannot add certificate "
                                            "extensions"));
        goto out;
    }

    if (!X509_sign(cert, issuer_key, md_for_key__(issuer_key))) {
        set_why__(ret_why, x509_why_openssl("cannot sign certificate"));
        goto out;
    }
    *ret = cert;
    cert = NULL;
    error = 0;

out:
    X509_free(cert);
    ERR_clear_error();
    return error;
}

/* PEM encoding in memory. */

/* Returns what 'write' writes into a memory BIO as a new string, storing
 * its length in '*ret_size'.  With 'secret', the BIO keeps its buffer in
 * memory that OpenSSL zeroes when it frees or grows it. */
static char *
to_pem__(const void *object, int (*write)(BIO *, const void *), bool secret,
         size_t *ret_size)
{
    BIO *bio = BIO_new(secret ? BIO_s_secmem() : BIO_s_mem());
    char *data;
    long size;
    char *s;

    if (!bio) {
        out_of_memory();
    }
    if (write(bio, object) != 1) {
        /* Encoding a well-formed object in memory fails only for lack of
         * memory. */
        out_of_memory();
    }
    size = BIO_get_mem_data(bio, &data);
    s = xmemdup0(data, size > 0 ? size : 0);
    *ret_size = size > 0 ? size : 0;
    BIO_free(bio);
    ERR_clear_error();
    return s;
}

static int
write_req__(BIO *bio, const void *req)
{
    return PEM_write_bio_X509_REQ(bio, req);
}

char *
x509_cert_to_pem(const X509 *cert, size_t *ret_size)
{
    return to_pem__(cert, write_cert__, false, ret_size);
}

char *
x509_req_to_pem(const X509_REQ *req, size_t *ret_size)
{
    return to_pem__(req, write_req__, false, ret_size);
}

char *
x509_key_to_pem(const EVP_PKEY *key, size_t *ret_size)
{
    return to_pem__(key, write_key__, true, ret_size);
}
