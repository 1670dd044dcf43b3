/* SPDX-License-Identifier: Apache-2.0
 *
 * pki: see pki.h.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ds.h"
#include "outfiles.h"

void
pki_ctx_init(struct pki_ctx *ctx)
{
    /* umask() is the only way to read the umask; put it back at once. */
    mode_t mask = umask(022);

    umask(mask);
    *ctx = (struct pki_ctx) {
        .command = "",
        .dir = PKI_DIR_DEFAULT,
        .key_type = X509_KEY_RSA,
        .bits = 0,
        .days = PKI_DAYS_DEFAULT,
        .interactive = isatty(STDIN_FILENO),
        .umask = mask,
        .in = stdin,
        .out = stdout,
        .err = stderr,
        .log = NULL,
    };
}

/* Names. */

static bool
is_alnum__(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'));
}

/* Returns 's' quoted, with anything but printable ASCII as \xNN, so that
 * a message never puts raw control characters on a terminal. */
static char *
quote__(const char *s)
{
    struct ds out = DS_EMPTY_INITIALIZER;

    ds_put_char(&out, '"');
    for (; *s; s++) {
        unsigned char c = *s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            ds_put_format(&out, "\\x%02x", c);
        } else {
            ds_put_char(&out, c);
        }
    }
    ds_put_char(&out, '"');
    return ds_steal_cstr(&out);
}

/* Returns character 'c' for a message: 'c', or \xNN. */
static char *
quote_char__(unsigned char c)
{
    return (c < 0x20 || c >= 0x7f
            ? xasprintf("\\x%02x", c)
            : xasprintf("'%c'", c));
}

char *
pki_check_name(const char *name, bool in_cn, bool unique)
{
    size_t max = (in_cn && !unique
                  ? PKI_CN_MAX - PKI_CN_ID_SUFFIX_LEN
                  : PKI_CN_MAX);
    size_t len = strlen(name);
    char *quoted = quote__(name);
    char *why = NULL;

    if (!len) {
        why = xstrdup("NAME is empty");
        goto out;
    }
    if (!is_alnum__(name[0])) {
        why = xasprintf("%s: NAME must start with a letter or a digit",
                        quoted);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!is_alnum__(c) && c != '.' && c != '_' && c != '-') {
            char *qc = quote_char__(c);
            why = xasprintf("%s: NAME may not contain %s, which is unsafe in "
                            "a file name or a certificate CN (use letters, "
                            "digits, '.', '_' and '-')", quoted, qc);
            free(qc);
            goto out;
        }
    }
    if (len > max) {
        why = (max < PKI_CN_MAX
               ? xasprintf("%s: NAME is %zu characters long, more than %zu: "
                           "without -u the CN is \"NAME id:UUID\", which "
                           "must fit in %d characters (use -u or a shorter "
                           "NAME)", quoted, len, max, PKI_CN_MAX)
               : xasprintf("%s: NAME is %zu characters long, more than %zu",
                           quoted, len, max));
    }

out:
    free(quoted);
    return why;
}

char *
pki_check_cn(const char *cn, const char *what)
{
    size_t len = strlen(cn);
    char *quoted = quote__(cn);
    char *why = NULL;

    if (!len || len > PKI_CN_MAX) {
        why = xasprintf("%s: CN %s must be 1 to %d characters long", what,
                        quoted, PKI_CN_MAX);
        goto out;
    }
    if (!is_alnum__(cn[0]) || cn[len - 1] == ' ') {
        why = xasprintf("%s: CN %s must start with a letter or a digit and "
                        "not end in a space", what, quoted);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        char c = cn[i];
        if (!is_alnum__(c) && !strchr(" ._-:", c)) {
            char *qc = quote_char__(c);
            why = xasprintf("%s: CN %s contains %s, which is unsafe in an "
                            "IPsec identity (allowed: letters, digits, space, "
                            "'.', '_', '-' and ':')", what, quoted, qc);
            free(qc);
            goto out;
        }
    }

out:
    free(quoted);
    return why;
}

int
pki_parse_ca_type(const char *s, enum pki_ca_type *type, char **ret_why)
{
    *ret_why = NULL;
    if (!s || !strcmp(s, "switch")) {
        *type = PKI_CA_SWITCH;
    } else if (!strcmp(s, "controller")) {
        *type = PKI_CA_CONTROLLER;
    } else {
        char *quoted = quote__(s);
        *ret_why = xasprintf("%s: type argument must be 'switch' or "
                             "'controller'", quoted);
        free(quoted);
        return -EINVAL;
    }
    return 0;
}

const char *
pki_ca_type_name(enum pki_ca_type type)
{
    return type == PKI_CA_CONTROLLER ? "controller" : "switch";
}

char *
pki_ca_dir(const struct pki_ctx *ctx, enum pki_ca_type type)
{
    return xasprintf("%s/%sca", ctx->dir, pki_ca_type_name(type));
}

char *
pki_file_name(const char *name, const char *suffix)
{
    return xasprintf("%s-%s", name, suffix);
}

X509_NAME *
pki_subject_new(const char *ou, const char *cn)
{
    static const char *const fields[][2] = {
        { "C", "US" },
        { "ST", "CA" },
        { "L", "Palo Alto" },
        { "O", "Open vSwitch" },
    };
    X509_NAME *name = X509_NAME_new();
    bool ok = name != NULL;

    for (size_t i = 0; ok && i < ARRAY_SIZE(fields); i++) {
        ok = X509_NAME_add_entry_by_txt(name, fields[i][0], MBSTRING_UTF8,
                                        (const unsigned char *) fields[i][1],
                                        -1, -1, 0);
    }
    ok = (ok
          && X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                                        (const unsigned char *) ou, -1, -1,
                                        0)
          && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *) cn, -1, -1,
                                        0));
    if (!ok) {
        /* The values were checked (pki_check_cn()) or are our own, so
         * this is a lack of memory. */
        out_of_memory();
    }
    return name;
}

/* Files and checks. */

int
pki_must_not_exist(const struct pki_ctx *ctx, const char *path,
                   char **ret_why)
{
    struct stat st;

    *ret_why = NULL;
    if (!ctx->force && !lstat(path, &st)) {
        *ret_why = xasprintf("%s already exists and --force not supplied",
                             path);
        return -EEXIST;
    }
    return 0;
}

int
pki_check_dir(const struct pki_ctx *ctx, char **ret_why)
{
    struct stat st;

    *ret_why = NULL;
    if (stat(ctx->dir, &st) < 0) {
        int error = -errno;
        *ret_why = (error == -ENOENT
                    ? xasprintf("%s does not exist (need to run 'init' or "
                                "use '--dir'?)", ctx->dir)
                    : xasprintf("%s: %s", ctx->dir, ovsec_strerror(error)));
        return error;
    } else if (!S_ISDIR(st.st_mode)) {
        *ret_why = xasprintf("%s is not a directory", ctx->dir);
        return -ENOTDIR;
    }
    return 0;
}

int
pki_load_ca(const struct pki_ctx *ctx, enum pki_ca_type type,
            X509 **ret_cert, EVP_PKEY **ret_key, char **ret_why)
{
    char *ca_dir = pki_ca_dir(ctx, type);
    char *cert_path = xasprintf("%s/cacert.pem", ca_dir);
    char *key_path = xasprintf("%s/private/cakey.pem", ca_dir);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    struct stat st;
    int error;

    *ret_cert = NULL;
    if (ret_key) {
        *ret_key = NULL;
    }

    error = pki_check_dir(ctx, ret_why);
    if (error) {
        goto out;
    }
    if (stat(ca_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        error = -ENOENT;
        *ret_why = xasprintf("%s: no %s CA in this PKI directory (need to "
                             "run 'init' or use '--dir'?)", ca_dir,
                             pki_ca_type_name(type));
        goto out;
    }
    error = x509_cert_load(cert_path, &cert, NULL, ret_why);
    if (error) {
        goto out;
    }
    if (!x509_cert_is_ca(cert)) {
        error = -EINVAL;
        *ret_why = xasprintf("%s: not a CA certificate (no basicConstraints "
                             "CA:TRUE)", cert_path);
        goto out;
    }
    if (ret_key) {
        error = x509_key_load(key_path, &key, NULL, ret_why);
        if (error) {
            goto out;
        }
        error = pki_check_key(key, key_path, ret_why);
        if (error) {
            goto out;
        }
        if (!x509_key_matches_cert(key, cert)) {
            error = -EINVAL;
            *ret_why = xasprintf("%s: not the private key of %s", key_path,
                                 cert_path);
            goto out;
        }
        *ret_key = key;
        key = NULL;
    }
    *ret_cert = cert;
    cert = NULL;

out:
    EVP_PKEY_free(key);
    X509_free(cert);
    free(key_path);
    free(cert_path);
    free(ca_dir);
    return error;
}

int
pki_check_key(const EVP_PKEY *key, const char *what, char **ret_why)
{
    int bits = EVP_PKEY_get_bits(key);
    int error = 0;

    *ret_why = NULL;
    if (EVP_PKEY_is_a(key, "RSA")) {
        if (bits < PKI_RSA_BITS_MIN) {
            *ret_why = xasprintf("%s: RSA key of %d bits is too weak (at "
                                 "least %d)", what, bits, PKI_RSA_BITS_MIN);
            error = -EINVAL;
        }
    } else if (EVP_PKEY_is_a(key, "EC")) {
        char group[64];

        if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof group, NULL)
            || (strcmp(group, "prime256v1") && strcmp(group, "secp384r1")
                && strcmp(group, "secp521r1"))) {
            char *desc = x509_key_describe(key);
            *ret_why = xasprintf("%s: %s is not supported (P-256, P-384 or "
                                 "P-521)", what, desc);
            free(desc);
            error = -EINVAL;
        }
    } else if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
        /* Fixed size, fine. */
    } else if (EVP_PKEY_is_a(key, "DSA")) {
        *ret_why = xasprintf("%s: %s", what, PKI_DSA_REFUSED);
        error = -EINVAL;
    } else {
        char *desc = x509_key_describe(key);
        *ret_why = xasprintf("%s: %s keys are not supported (rsa, ec or "
                             "ed25519)", what, desc);
        free(desc);
        error = -EINVAL;
    }
    ERR_clear_error();
    return error;
}

int
pki_generate_key(const struct pki_ctx *ctx, EVP_PKEY **ret, char **ret_why)
{
    int bits = ctx->bits;

    if (!bits && ctx->key_type == X509_KEY_RSA) {
        bits = PKI_RSA_BITS_DEFAULT;
    }
    return x509_key_generate(ctx->key_type, bits, ret, ret_why);
}

/* Checks that every attribute of 'name' is text without control
 * characters and that it has exactly one CN.  'what' is the file. */
static int
check_subject__(const X509_NAME *name, const char *what, char **ret_why)
{
    int n_cn = 0;

    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        bool ok = len >= 0;

        for (int j = 0; ok && j < len; j++) {
            ok = utf8[j] >= 0x20 && utf8[j] != 0x7f;
        }
        OPENSSL_free(utf8);
        ERR_clear_error();
        if (!ok) {
            char field[80];
            OBJ_obj2txt(field, sizeof field, obj, 0);
            *ret_why = xasprintf("%s: subject %s is not text or contains "
                                 "control characters", what, field);
            return -EINVAL;
        }
        n_cn += OBJ_obj2nid(obj) == NID_commonName;
    }
    if (n_cn > 1) {
        *ret_why = xasprintf("%s: subject has %d CNs; IKE peers would not "
                             "agree on which one names the host", what,
                             n_cn);
        return -EINVAL;
    }
    return 0;
}

int
pki_load_req(const char *path, X509_REQ **ret_req, char **ret_cn,
             char **ret_why)
{
    const X509_NAME *subject;
    X509_REQ *req = NULL;
    EVP_PKEY *pub;
    char *cn = NULL;
    char *why;
    int error;

    *ret_req = NULL;
    *ret_cn = NULL;

    error = x509_req_load(path, &req, ret_why);
    if (error) {
        goto out;
    }
    error = x509_req_check_signature(req, path, ret_why);
    if (error) {
        goto out;
    }
    pub = X509_REQ_get0_pubkey(req);
    error = pki_check_key(pub, path, ret_why);
    if (error) {
        goto out;
    }
    subject = X509_REQ_get_subject_name(req);
    error = check_subject__(subject, path, ret_why);
    if (error) {
        goto out;
    }
    error = x509_name_get_cn(subject, &cn, &why);
    if (error) {
        *ret_why = xasprintf("%s: %s", path, why);
        free(why);
        goto out;
    }
    *ret_why = pki_check_cn(cn, path);
    if (*ret_why) {
        error = -EINVAL;
        goto out;
    }
    *ret_req = req;
    *ret_cn = cn;
    req = NULL;
    cn = NULL;

out:
    free(cn);
    X509_REQ_free(req);
    ERR_clear_error();
    return error;
}

int
pki_issue(const struct pki_ctx *ctx, X509_REQ *req, const char *cn,
          const X509 *issuer, EVP_PKEY *issuer_key, X509 **ret,
          char **ret_why)
{
    const char *dns[] = { cn, NULL };
    struct x509_issue_spec spec = {
        .subject = X509_REQ_get_subject_name(req),
        .dns = dns,
        .days = ctx->days,
        .ca = false,
    };

    return x509_cert_issue(&spec, X509_REQ_get0_pubkey(req), issuer,
                           issuer_key, ret, ret_why);
}

int
pki_stage_cert(const struct pki_ctx *ctx, struct outfiles *of,
               const char *path, const X509 *cert, char **ret_why)
{
    size_t size;
    char *pem = x509_cert_to_pem(cert, &size);
    int error = outfiles_add(of, path, pem, size, 0644 & ~ctx->umask,
                             ret_why);
    free(pem);
    return error;
}

int
pki_stage_key(struct outfiles *of, const char *path, const EVP_PKEY *key,
              char **ret_why)
{
    size_t size;
    char *pem = x509_key_to_pem(key, &size);
    int error = outfiles_add(of, path, pem, size, 0600, ret_why);
    memzero_explicit(pem, size);
    free(pem);
    return error;
}

/* Returns the serial number of 'cert' in the form of OpenSSL's CA
 * database: uppercase hex, an even number of digits. */
static char *
serial_hex__(const X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    char *s;

    if (!hex) {
        out_of_memory();
    }
    s = xasprintf("%s%s", strlen(hex) % 2 ? "0" : "", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

void
pki_record_issued(const struct pki_ctx *ctx, const char *ca_dir,
                  const X509 *cert)
{
    char *index = xasprintf("%s/index.txt", ca_dir);
    char *newcerts = xasprintf("%s/newcerts", ca_dir);
    char *serial = serial_hex__(cert);
    char *subject = x509_name_oneline(X509_get_subject_name(cert));
    const ASN1_TIME *expiry = X509_get0_notAfter(cert);
    struct outfiles *of = NULL;
    struct stat st;
    char *line = NULL;
    char *why = NULL;
    int fd;

    /* A copy in newcerts/, as "openssl ca" keeps. */
    if (!stat(newcerts, &st) && S_ISDIR(st.st_mode)) {
        char *path = xasprintf("%s/%s.pem", newcerts, serial);

        of = outfiles_create();
        if (pki_stage_cert(ctx, of, path, cert, &why)
            || outfiles_commit(of, false, &why)) {
            fprintf(ctx->err, "warning: %s\n", why);
            free(why);
            why = NULL;
        }
        free(path);
    }

    /* "V", expiry, no revocation date, serial, file name (always
     * "unknown"), subject; X509_NAME_oneline() escapes tabs and newlines,
     * so a subject cannot add a line of its own. */
    fd = open(index, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT) {
            fprintf(ctx->err, "warning: %s: %s (certificate not recorded)\n",
                    index, ovsec_strerror(errno));
        }
        goto out;
    }
    line = xasprintf("V\t%.*s\t\t%s\tunknown\t%s\n",
                     ASN1_STRING_length(expiry),
                     (const char *) ASN1_STRING_get0_data(expiry),
                     serial, subject);
    if (write(fd, line, strlen(line)) != (ssize_t) strlen(line)
        || fsync(fd) < 0) {
        fprintf(ctx->err, "warning: %s: write failed (certificate not "
                "recorded)\n", index);
    }
    close(fd);

out:
    outfiles_destroy(of);
    free(line);
    free(subject);
    free(serial);
    free(newcerts);
    free(index);
}

/* Output. */

static void
put_hex__(struct ds *s, const uint8_t *data, size_t size, bool upper)
{
    for (size_t i = 0; i < size; i++) {
        ds_put_format(s, upper ? "%02X" : "%02x", data[i]);
    }
}

int
pki_print_fingerprint(const struct pki_ctx *ctx, const char *path,
                      char **ret_why)
{
    uint8_t sha1[20], sha256[32];
    const void *input;
    size_t input_size;
    unsigned char *der = NULL;
    struct ds hex1 = DS_EMPTY_INITIALIZER;
    struct ds hex256 = DS_EMPTY_INITIALIZER;
    char date[64] = "";
    X509 *cert = NULL;
    struct stat st;
    char *data;
    size_t size;
    int error;

    error = x509_read_file(path, &data, &size, ret_why);
    if (error) {
        return error;
    }

    /* Like upstream: a file with a certificate in it is fingerprinted by
     * its first certificate, anything else (a request, a key) by its
     * bytes. */
    if (memmem(data, size, "-BEGIN CERTIFICATE-", 19)) {
        int len;

        error = x509_cert_from_pem(data, size, path, &cert, ret_why);
        if (error) {
            goto out;
        }
        len = i2d_X509(cert, &der);
        if (len <= 0) {
            error = -EINVAL;
            *ret_why = x509_why_openssl("%s: cannot encode certificate",
                                        path);
            goto out;
        }
        input = der;
        input_size = len;
    } else {
        input = data;
        input_size = size;
    }
    if (!EVP_Q_digest(NULL, "SHA1", NULL, input, input_size, sha1, NULL)) {
        error = -EINVAL;
        *ret_why = x509_why_openssl("%s: SHA-1", path);
        goto out;
    }
    x509_sha256(input, input_size, sha256);
    /* In upstream's case: "openssl x509 -fingerprint" prints uppercase,
     * sha1sum lowercase. */
    put_hex__(&hex1, sha1, sizeof sha1, cert != NULL);
    put_hex__(&hex256, sha256, sizeof sha256, cert != NULL);

    if (!stat(path, &st)) {
        struct tm tm;
        localtime_r(&st.st_mtime, &tm);
        strftime(date, sizeof date, "%a %b %e %H:%M:%S %Z %Y", &tm);
    }
    fprintf(ctx->out, "%s\t%s\n", path, date);
    if (str_starts_with(path, ds_cstr(&hex1))) {
        fprintf(ctx->out, "\t(correct fingerprint in filename)\n");
    } else {
        fprintf(ctx->out, "\tfingerprint %s\n", ds_cstr(&hex1));
    }
    fprintf(ctx->out, "\tsha256 %s\n", ds_cstr(&hex256));

out:
    ds_destroy(&hex256);
    ds_destroy(&hex1);
    OPENSSL_free(der);
    X509_free(cert);
    memzero_explicit(data, size);
    free(data);
    ERR_clear_error();
    return error;
}

void
pki_log(const struct pki_ctx *ctx, const char *format, ...)
{
    char stamp[32];
    struct tm tm;
    time_t now;
    va_list args;

    if (!ctx->log) {
        return;
    }
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(ctx->log, "%s %s: ", stamp, ctx->command);
    va_start(args, format);
    vfprintf(ctx->log, format, args);
    va_end(args);
    fputc('\n', ctx->log);
    fflush(ctx->log);
}
