/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests for ovsec-pki (pki/): each subcommand called as main.c calls it,
 * in a fresh temporary directory that is also the current directory, with
 * its output captured; the name and CN checks; the all-or-nothing file
 * writer; and the lib/x509 additions the tool uses (requests, issuing,
 * PEM encoding).  Every result is checked with libcrypto directly: chains
 * with X509_verify_cert(), extensions by decoding them, files by reading
 * them back.  Nothing runs the openssl program (the integration tests
 * cross-check with openssl, strongSwan's pki and NSS).
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include "ds.h"
#include "outfiles.h"
#include "pki.h"
#include "util.h"
#include "x509.h"

/* Per-test state: a temporary directory that is the current directory,
 * and a context whose output goes to memory. */
struct fixture {
    char *dir;                  /* Temporary directory. */
    char *old_cwd;              /* To return to. */
    char *pki_dir;              /* DIR/pki, not created. */
    struct pki_ctx ctx;
    char *out_buf;              /* ctx.out's contents. */
    size_t out_size;
    char *err_buf;              /* ctx.err's contents. */
    size_t err_size;
    FILE *in;                   /* ctx.in, when a test gives input. */
};

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    char template[] = "/tmp/test-pki.XXXXXX";
    char cwd[PATH_MAX];

    if (!mkdtemp(template) || !getcwd(cwd, sizeof cwd)
        || chdir(template) < 0) {
        free(f);
        return -1;
    }
    f->dir = xstrdup(template);
    f->old_cwd = xstrdup(cwd);
    f->pki_dir = xasprintf("%s/pki", f->dir);

    pki_ctx_init(&f->ctx);
    f->ctx.command = "test";
    f->ctx.dir = f->pki_dir;
    /* EC keys: quick to make, so that the tests stay fast under ASan. */
    f->ctx.key_type = X509_KEY_EC;
    f->ctx.interactive = false;
    f->ctx.umask = 022;
    f->ctx.in = NULL;
    f->ctx.out = open_memstream(&f->out_buf, &f->out_size);
    f->ctx.err = open_memstream(&f->err_buf, &f->err_size);
    f->ctx.log = NULL;
    *state = f;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    fclose(f->ctx.out);
    fclose(f->ctx.err);
    if (f->in) {
        fclose(f->in);
    }
    if (f->ctx.log) {
        fclose(f->ctx.log);
    }
    free(f->out_buf);
    free(f->err_buf);
    assert_int_equal(chdir(f->old_cwd), 0);
    nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->pki_dir);
    free(f->old_cwd);
    free(f->dir);
    free(f);
    ERR_clear_error();
    return 0;
}

/* Returns what the commands printed to ctx.out so far. */
static const char *
output(struct fixture *f)
{
    fflush(f->ctx.out);
    return f->out_buf ? f->out_buf : "";
}

static const char *
errors(struct fixture *f)
{
    fflush(f->ctx.err);
    return f->err_buf ? f->err_buf : "";
}

/* Runs 'cmd' with the NULL-terminated arguments that follow.  Returns its
 * result; stores its message in '*why' (NULL if none), which the caller
 * frees, or asserts there is none if 'why' is NULL. */
static int
run(struct fixture *f, pki_command_func *cmd, char **why, ...)
{
    char *args[4];
    int n = 0;
    char *msg = NULL;
    va_list ap;
    int error;

    va_start(ap, why);
    for (char *a; (a = va_arg(ap, char *)); ) {
        assert_true(n < 3);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;

    error = cmd(&f->ctx, n, args, &msg);
    if (why) {
        *why = msg;
    } else {
        if (msg) {
            fail_msg("unexpected failure: %s", msg);
        }
        assert_int_equal(error, 0);
    }
    return error;
}

/* Feeds 'text' to the next question. */
static void
give_input(struct fixture *f, const char *text)
{
    if (f->in) {
        fclose(f->in);
    }
    f->in = fmemopen((void *) text, strlen(text), "r");
    assert_non_null(f->in);
    f->ctx.in = f->in;
    f->ctx.interactive = true;
}

static bool
exists(const char *path)
{
    struct stat st;
    return !lstat(path, &st);
}

static mode_t
mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Returns the sorted names in the current directory, one per line, in a
 * new string: to check that a failure left nothing behind. */
static char *
listing(const char *dir)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);

    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        ds_put_format(&s, "%s\n", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return ds_steal_cstr(&s);
}

static X509 *
load_cert(const char *path)
{
    X509 *cert = NULL;
    char *why = NULL;

    if (x509_cert_load(path, &cert, NULL, &why)) {
        fail_msg("%s", why);
    }
    return cert;
}

static X509_REQ *
load_req(const char *path)
{
    X509_REQ *req = NULL;
    char *why = NULL;

    if (x509_req_load(path, &req, &why)) {
        fail_msg("%s", why);
    }
    return req;
}

static EVP_PKEY *
load_key(const char *path)
{
    EVP_PKEY *key = NULL;
    char *why = NULL;

    if (x509_key_load(path, &key, NULL, &why)) {
        fail_msg("%s", why);
    }
    return key;
}

/* Not inlined: GCC 12 at -O3 then takes the result for a pointer to the
 * local 'data' (-Wdangling-pointer false positive). */
static char * __attribute__((__noinline__))
read_text(const char *path)
{
    char *data = NULL;
    size_t size;
    char *why = NULL;

    if (x509_read_file(path, &data, &size, &why)) {
        fail_msg("%s", why);
    }
    return data;
}

static void
write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    assert_int_equal(fputs(text, file) >= 0, true);
    assert_int_equal(fclose(file), 0);
}

/* Verifies 'cert' against the single trust anchor 'ca'.  Returns the
 * X509_V_* result. */
static int
verify_chain(X509 *cert, X509 *ca)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    int result;

    assert_non_null(store);
    assert_non_null(vctx);
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(vctx, store, cert, NULL), 1);
    result = (X509_verify_cert(vctx) == 1
              ? X509_V_OK : X509_STORE_CTX_get_error(vctx));
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return result;
}

static char *
cert_cn(const X509 *cert)
{
    char *cn = NULL;
    char *why = NULL;

    if (x509_cert_get_cn(cert, &cn, &why)) {
        fail_msg("%s", why);
    }
    return cn;
}

/* Returns the number of subjectAltName entries of 'cert'. */
static int
san_count(const X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
                                            NULL, NULL);
    int n = names ? sk_GENERAL_NAME_num(names) : 0;

    GENERAL_NAMES_free(names);
    return n;
}

/* Checks the extensions that an end-entity certificate for IKE must
 * have. */
static void
assert_ike_leaf(X509 *cert)
{
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints,
                                             &crit, NULL);
    char *cn;

    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_non_null(bc);
    assert_int_equal(crit, 1);
    assert_false(bc->ca);
    BASIC_CONSTRAINTS_free(bc);

    assert_true(X509_get_extension_flags(cert) & EXFLAG_KUSAGE);
    assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
    assert_false(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);

    /* subjectAltName: exactly one DNS entry, the CN. */
    cn = cert_cn(cert);
    assert_true(x509_cert_has_dns_name(cert, cn));
    assert_int_equal(san_count(cert), 1);
    free(cn);

    /* A serial from a CSPRNG: at least 64 bits. */
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    assert_non_null(serial);
    assert_true(BN_num_bits(serial) >= 64);
    BN_free(serial);

    /* SHA-256 or better (or EdDSA). */
    int md_nid = NID_undef, pk_nid = NID_undef;
    assert_int_equal(OBJ_find_sigid_algs(X509_get_signature_nid(cert),
                                         &md_nid, &pk_nid), 1);
    assert_true(md_nid == NID_sha256 || md_nid == NID_sha384
                || md_nid == NID_sha512 || md_nid == NID_undef);
    assert_true(md_nid != NID_undef || pk_nid == NID_ED25519);
    ERR_clear_error();
}

/* Returns the validity of 'cert' in whole days. */
static int
validity_days(const X509 *cert)
{
    int days = 0, secs = 0;

    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert),
                                    X509_get0_notAfter(cert)), 1);
    return days;
}

static void
do_init(struct fixture *f)
{
    run(f, cmd_init, NULL, NULL);
}

/* Makes a request with lib/x509 directly (to craft odd ones): subject
 * CN 'cn', key 'key', written to 'path'. */
static void
make_req_file(const char *path, const char *cn, EVP_PKEY *key)
{
    X509_NAME *name = X509_NAME_new();
    X509_REQ *req = NULL;
    char *why = NULL;
    size_t size;
    char *pem;

    assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                                (const unsigned char *)
                                                "Open vSwitch", -1, -1, 0),
                     1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *) cn,
                                                -1, -1, 0), 1);
    if (x509_req_create(name, NULL, key, &req, &why)) {
        fail_msg("%s", why);
    }
    pem = x509_req_to_pem(req, &size);
    write_text(path, pem);
    free(pem);
    X509_REQ_free(req);
    X509_NAME_free(name);
}

static EVP_PKEY *
gen_key(enum x509_key_type type, int bits)
{
    EVP_PKEY *key = NULL;
    char *why = NULL;

    if (x509_key_generate(type, bits, &key, &why)) {
        fail_msg("%s", why);
    }
    return key;
}

/* Names and CNs. */

static void
test_check_name(void **state)
{
    static const char *good[] = {
        "host1", "host_1", "h", "a.b-c_d", "0host",
        "abcdefghijklmnopqrstuvwx",     /* 24: fits "NAME id:UUID". */
    };
    static const struct {
        const char *name;
        const char *why;
    } bad[] = {
        { "", "NAME is empty" },
        { "-host", "must start with a letter or a digit" },
        { ".host", "must start with a letter or a digit" },
        { "a/b", "may not contain '/'" },
        { "a b", "may not contain ' '" },
        { "a,b", "may not contain ','" },
        { "a=b", "may not contain '='" },
        { "h\n", "may not contain \\x0a" },
        { "h\xc3\xa9", "may not contain \\xc3" },
        { "abcdefghijklmnopqrstuvwxy", "use -u or a shorter NAME" },
    };
    char *why;

    (void) state;
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        why = pki_check_name(good[i], true, false);
        if (why) {
            fail_msg("%s: %s", good[i], why);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        why = pki_check_name(bad[i].name, true, false);
        assert_non_null(why);
        if (!strstr(why, bad[i].why)) {
            fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].name, why,
                     bad[i].why);
        }
        free(why);
    }

    /* With -u, or where NAME is only a file name, up to 64. */
    char long_name[66];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_null(pki_check_name(long_name, true, true));
    assert_null(pki_check_name(long_name, false, false));
    long_name[64] = 'a';
    long_name[65] = '\0';
    why = pki_check_name(long_name, true, true);
    assert_non_null(why);
    assert_non_null(strstr(why, "more than 64"));
    free(why);
}

static void
test_check_cn(void **state)
{
    static const char *good[] = {
        "host1", "host_1 id:4e10299b-829f-4d21-84cb-7c6990928fe6",
        "h1 id:2026 Nov 27 03:21:13", "a.example.com",
    };
    static const char *bad[] = {
        "", " host", "host ", "a,b", "a=b", "a+b", "user@host", "@host",
        "a/b", "a\"b", "a\\b", "%any", "a\tb", "h\xc3\xa9",
        "0123456789012345678901234567890123456789012345678901234567890123"
        "4",
    };
    char *why;

    (void) state;
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        why = pki_check_cn(good[i], "x-req.pem");
        if (why) {
            fail_msg("%s", why);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        why = pki_check_cn(bad[i], "x-req.pem");
        if (!why) {
            fail_msg("CN \"%s\" accepted", bad[i]);
        }
        assert_true(str_starts_with(why, "x-req.pem: CN "));
        /* Never a raw control character in a message. */
        for (const char *p = why; *p; p++) {
            assert_true((unsigned char) *p >= 0x20);
        }
        free(why);
    }
}

static void
test_parse_ca_type(void **state)
{
    enum pki_ca_type type;
    char *why;

    (void) state;
    assert_int_equal(pki_parse_ca_type(NULL, &type, &why), 0);
    assert_int_equal(type, PKI_CA_SWITCH);
    assert_int_equal(pki_parse_ca_type("switch", &type, &why), 0);
    assert_int_equal(type, PKI_CA_SWITCH);
    assert_int_equal(pki_parse_ca_type("controller", &type, &why), 0);
    assert_int_equal(type, PKI_CA_CONTROLLER);
    assert_int_equal(pki_parse_ca_type("router", &type, &why), -EINVAL);
    assert_string_equal(why, "\"router\": type argument must be 'switch' "
                        "or 'controller'");
    free(why);
}

/* Files. */

static void
test_outfiles_commit(void **state)
{
    struct fixture *f = *state;
    struct outfiles *of = outfiles_create();
    char *why = NULL;
    char *text;

    (void) f;
    assert_int_equal(outfiles_add(of, "a.pem", "A\n", 2, 0644, &why), 0);
    assert_int_equal(outfiles_add(of, "b-privkey.pem", "B\n", 2, 0600, &why),
                     0);
    /* Nothing in place before the commit; the temporary files are
     * 0600 or their final mode already. */
    assert_false(exists("a.pem"));
    assert_false(exists("b-privkey.pem"));
    DIR *dir = opendir(".");
    int n_tmp = 0;
    for (struct dirent *de; (de = readdir(dir)); ) {
        if (strstr(de->d_name, ".tmp")) {
            n_tmp++;
            if (str_starts_with(de->d_name, "b-privkey.pem")) {
                assert_int_equal(mode_of(de->d_name), 0600);
            }
        }
    }
    closedir(dir);
    assert_int_equal(n_tmp, 2);

    assert_int_equal(outfiles_commit(of, false, &why), 0);
    assert_null(why);
    assert_int_equal(mode_of("a.pem"), 0644);
    assert_int_equal(mode_of("b-privkey.pem"), 0600);
    text = read_text("a.pem");
    assert_string_equal(text, "A\n");
    free(text);
    outfiles_destroy(of);

    text = listing(".");
    assert_string_equal(text, ".\n..\na.pem\nb-privkey.pem\n");
    free(text);
}

/* Without overwrite, an existing file fails the commit; the files the
 * commit had created are taken back and no temporary file remains. */
static void
test_outfiles_no_clobber(void **state)
{
    struct fixture *f = *state;
    struct outfiles *of = outfiles_create();
    char *why = NULL;
    char *text;

    (void) f;
    write_text("b.pem", "old\n");
    assert_int_equal(outfiles_add(of, "a.pem", "A\n", 2, 0644, &why), 0);
    assert_int_equal(outfiles_add(of, "b.pem", "B\n", 2, 0644, &why), 0);
    assert_int_equal(outfiles_commit(of, false, &why), -EEXIST);
    assert_string_equal(why, "b.pem already exists and --force not "
                        "supplied");
    free(why);
    text = listing(".");
    assert_string_equal(text, ".\n..\nb.pem\n");
    free(text);
    text = read_text("b.pem");
    assert_string_equal(text, "old\n");
    free(text);

    /* With overwrite, it is replaced. */
    assert_int_equal(outfiles_add(of, "b.pem", "B\n", 2, 0644, &why), 0);
    assert_int_equal(outfiles_commit(of, true, &why), 0);
    text = read_text("b.pem");
    assert_string_equal(text, "B\n");
    free(text);

    /* Destroyed without a commit: nothing is left. */
    assert_int_equal(outfiles_add(of, "c.pem", "C\n", 2, 0644, &why), 0);
    outfiles_destroy(of);
    text = listing(".");
    assert_string_equal(text, ".\n..\nb.pem\n");
    free(text);
}

/* A file that cannot be created is reported by name. */
static void
test_outfiles_error(void **state)
{
    struct outfiles *of = outfiles_create();
    char *why = NULL;

    (void) state;
    assert_int_equal(outfiles_add(of, "no-such-dir/a.pem", "A", 1, 0644,
                                  &why), -ENOENT);
    assert_string_equal(why, "no-such-dir/a.pem: cannot create: No such "
                        "file or directory");
    free(why);
    outfiles_destroy(of);
}

/* init */

static void
assert_ca(const char *path, const char *ou)
{
    X509 *ca = load_cert(path);
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(ca, NID_basic_constraints,
                                             &crit, NULL);
    char *subject = x509_name_format(X509_get_subject_name(ca));
    char *want = xasprintf("C=US, ST=CA, L=Palo Alto, O=Open vSwitch, "
                           "OU=%s, CN=OVS %s CA Certificate (", ou, ou);

    assert_non_null(bc);
    assert_int_equal(crit, 1);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
    assert_int_equal(X509_get_version(ca), X509_VERSION_3);
    assert_int_equal(verify_chain(ca, ca), X509_V_OK);
    assert_int_equal(validity_days(ca), PKI_DAYS_DEFAULT);
    if (!str_starts_with(subject, want)) {
        fail_msg("subject %s", subject);
    }
    free(want);
    free(subject);
    X509_free(ca);
}

static void
test_init(void **state)
{
    struct fixture *f = *state;
    static const char *ca_files[] = {
        "ca.cnf", "cacert.pem", "careq.pem", "certs", "crl", "crlnumber",
        "index.txt", "index.txt.attr", "newcerts", "private", "serial",
    };

    do_init(f);
    for (int t = 0; t < PKI_CA_N; t++) {
        char *ca_dir = pki_ca_dir(&f->ctx, t);
        char *ou = xasprintf("%sca", pki_ca_type_name(t));
        char *path;

        for (size_t i = 0; i < ARRAY_SIZE(ca_files); i++) {
            path = xasprintf("%s/%s", ca_dir, ca_files[i]);
            if (!exists(path)) {
                fail_msg("%s missing", path);
            }
            free(path);
        }
        path = xasprintf("%s/private", ca_dir);
        assert_int_equal(mode_of(path), 0700);
        free(path);
        path = xasprintf("%s/private/cakey.pem", ca_dir);
        assert_int_equal(mode_of(path), 0600);
        EVP_PKEY *key = load_key(path);
        free(path);

        path = xasprintf("%s/cacert.pem", ca_dir);
        assert_ca(path, ou);
        X509 *ca = load_cert(path);
        assert_true(x509_key_matches_cert(key, ca));
        free(path);

        /* The CA is in OpenSSL's database, as "openssl ca" would have
         * it. */
        path = xasprintf("%s/index.txt", ca_dir);
        char *index = read_text(path);
        assert_true(str_starts_with(index, "V\t"));
        assert_non_null(strstr(index, "\tunknown\t/C=US/ST=CA/L=Palo Alto/"
                               "O=Open vSwitch/OU="));
        free(index);
        free(path);

        X509_free(ca);
        EVP_PKEY_free(key);
        free(ou);
        free(ca_dir);
    }
}

/* init refuses an existing directory without --force, changing nothing,
 * and with --force makes new CAs. */
static void
test_init_force(void **state)
{
    struct fixture *f = *state;
    char *cacert = xasprintf("%s/switchca/cacert.pem", f->pki_dir);
    uint8_t before[X509_DIGEST_SIZE], after[X509_DIGEST_SIZE];
    char *why;

    do_init(f);
    assert_int_equal(x509_file_digest(cacert, before, NULL), 0);
    assert_int_equal(run(f, cmd_init, &why, NULL), -EEXIST);
    char *want = xasprintf("%s already exists and --force not specified",
                           f->pki_dir);
    assert_string_equal(why, want);
    free(want);
    free(why);
    assert_int_equal(x509_file_digest(cacert, after, NULL), 0);
    assert_memory_equal(before, after, sizeof before);

    f->ctx.force = true;
    do_init(f);
    assert_int_equal(x509_file_digest(cacert, after, NULL), 0);
    assert_memory_not_equal(before, after, sizeof before);
    assert_ca(cacert, "switchca");
    free(cacert);
}

/* --days and key options reach the CA. */
static void
test_init_options(void **state)
{
    struct fixture *f = *state;
    char *cacert = xasprintf("%s/controllerca/cacert.pem", f->pki_dir);

    f->ctx.days = 42;
    f->ctx.bits = 384;
    do_init(f);
    X509 *ca = load_cert(cacert);
    assert_int_equal(validity_days(ca), 42);
    char *desc = x509_key_describe(X509_get0_pubkey(ca));
    assert_string_equal(desc, "EC P-384 (384 bits)");
    assert_int_equal(X509_get_signature_nid(ca), NID_ecdsa_with_SHA384);
    free(desc);
    X509_free(ca);
    free(cacert);
}

/* req */

static void
test_req(void **state)
{
    struct fixture *f = *state;
    uint8_t sha1[20];
    struct ds hex = DS_EMPTY_INITIALIZER;
    char *data;
    size_t size;

    run(f, cmd_req, NULL, "host1", NULL);
    assert_int_equal(mode_of("host1-privkey.pem"), 0600);
    assert_int_equal(mode_of("host1-req.pem"), 0644);

    /* CN "host1 id:UUID", as upstream without -u, and the same in the
     * requested subjectAltName. */
    X509_REQ *req = load_req("host1-req.pem");
    EVP_PKEY *key = load_key("host1-privkey.pem");
    char *cn = NULL;
    assert_int_equal(x509_name_get_cn(X509_REQ_get_subject_name(req), &cn,
                                      NULL), 0);
    assert_int_equal(strlen(cn), strlen("host1") + PKI_CN_ID_SUFFIX_LEN);
    assert_true(str_starts_with(cn, "host1 id:"));
    assert_int_equal(cn[strlen(cn) - 36 + 14], '4');     /* UUID v4. */
    assert_int_equal(x509_req_check_signature(req, "req", NULL), 0);
    assert_int_equal(EVP_PKEY_eq(key, X509_REQ_get0_pubkey(req)), 1);

    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL,
                                          NULL);
    assert_non_null(names);
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
    assert_int_equal(gn->type, GEN_DNS);
    assert_string_equal(ASN1_STRING_get0_data(gn->d.dNSName), cn);
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

    /* The fingerprint: upstream's SHA-1 of the request file. */
    assert_int_equal(x509_read_file("host1-req.pem", &data, &size, NULL), 0);
    assert_int_equal(EVP_Q_digest(NULL, "SHA1", NULL, data, size, sha1,
                                  NULL), 1);
    ds_put_cstr(&hex, "\tfingerprint ");
    for (size_t i = 0; i < sizeof sha1; i++) {
        ds_put_format(&hex, "%02x", sha1[i]);
    }
    assert_true(str_starts_with(output(f), "host1-req.pem\t"));
    assert_non_null(strstr(output(f), ds_cstr(&hex)));
    assert_non_null(strstr(output(f), "\tsha256 "));
    ds_destroy(&hex);
    free(data);

    free(cn);
    EVP_PKEY_free(key);
    X509_REQ_free(req);
}

static void
test_req_unique_and_key_types(void **state)
{
    struct fixture *f = *state;
    static const struct {
        enum x509_key_type type;
        int bits;
        const char *desc;
    } cases[] = {
        { X509_KEY_EC, 0, "EC P-256 (256 bits)" },
        { X509_KEY_EC, 384, "EC P-384 (384 bits)" },
        { X509_KEY_ED25519, 0, "Ed25519 (256 bits)" },
        { X509_KEY_RSA, 0, "RSA 3072 bits" },
    };

    f->ctx.unique = true;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *name = xasprintf("h%zu", i);
        char *path = xasprintf("h%zu-req.pem", i);
        char *cn = NULL;

        f->ctx.key_type = cases[i].type;
        f->ctx.bits = cases[i].bits;
        run(f, cmd_req, NULL, name, NULL);

        X509_REQ *req = load_req(path);
        assert_int_equal(x509_name_get_cn(X509_REQ_get_subject_name(req),
                                          &cn, NULL), 0);
        assert_string_equal(cn, name);
        char *desc = x509_key_describe(X509_REQ_get0_pubkey(req));
        assert_string_equal(desc, cases[i].desc);
        free(desc);
        free(cn);
        X509_REQ_free(req);
        free(path);
        free(name);
    }
}

/* req never overwrites without --force, and a bad NAME writes nothing. */
static void
test_req_no_overwrite(void **state)
{
    struct fixture *f = *state;
    uint8_t before[X509_DIGEST_SIZE], after[X509_DIGEST_SIZE];
    char *why;

    f->ctx.unique = true;
    run(f, cmd_req, NULL, "h", NULL);
    assert_int_equal(x509_file_digest("h-privkey.pem", before, NULL), 0);
    assert_int_equal(run(f, cmd_req, &why, "h", NULL), -EEXIST);
    assert_string_equal(why, "h-privkey.pem already exists and --force not "
                        "supplied");
    free(why);
    assert_int_equal(x509_file_digest("h-privkey.pem", after, NULL), 0);
    assert_memory_equal(before, after, sizeof before);

    /* Only the request exists: still refused, key not written. */
    assert_int_equal(unlink("h-privkey.pem"), 0);
    assert_int_equal(run(f, cmd_req, &why, "h", NULL), -EEXIST);
    assert_string_equal(why, "h-req.pem already exists and --force not "
                        "supplied");
    free(why);
    assert_false(exists("h-privkey.pem"));

    f->ctx.force = true;
    run(f, cmd_req, NULL, "h", NULL);
    assert_true(exists("h-privkey.pem"));

    char *before_list = listing(".");
    assert_int_equal(run(f, cmd_req, &why, "h/x", NULL), -EINVAL);
    assert_non_null(strstr(why, "may not contain '/'"));
    free(why);
    char *after_list = listing(".");
    assert_string_equal(before_list, after_list);
    free(before_list);
    free(after_list);
}

/* sign */

/* Checks that NAME-cert.pem is a good leaf of the CA of 'type', for the
 * CN of NAME-req.pem, valid for 'days' (or a few seconds less). */
static void
assert_signed(struct fixture *f, const char *name, enum pki_ca_type type,
              int days)
{
    char *cert_path = xasprintf("%s-cert.pem", name);
    char *req_path = xasprintf("%s-req.pem", name);
    char *ca_path = xasprintf("%s/%sca/cacert.pem", f->pki_dir,
                              pki_ca_type_name(type));
    X509 *cert = load_cert(cert_path);
    X509 *ca = load_cert(ca_path);
    X509_REQ *req = load_req(req_path);
    char *cn = cert_cn(cert);
    char *req_cn = NULL;

    assert_int_equal(mode_of(cert_path), 0644);
    assert_int_equal(verify_chain(cert, ca), X509_V_OK);
    assert_ike_leaf(cert);
    assert_int_equal(x509_name_get_cn(X509_REQ_get_subject_name(req),
                                      &req_cn, NULL), 0);
    assert_string_equal(cn, req_cn);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert),
                                   X509_REQ_get_subject_name(req)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert),
                                 X509_REQ_get0_pubkey(req)), 1);
    /* Capped by the CA's own validity, which began a moment earlier. */
    assert_in_range(validity_days(cert), days - 1, days);

    free(req_cn);
    free(cn);
    X509_REQ_free(req);
    X509_free(ca);
    X509_free(cert);
    free(ca_path);
    free(req_path);
    free(cert_path);
}

static void
test_sign_batch(void **state)
{
    struct fixture *f = *state;
    char *index_path = xasprintf("%s/controllerca/index.txt", f->pki_dir);

    do_init(f);
    run(f, cmd_req, NULL, "host1", NULL);
    f->ctx.batch = true;
    f->ctx.days = 30;
    run(f, cmd_sign, NULL, "host1", "controller", NULL);
    assert_signed(f, "host1", PKI_CA_CONTROLLER, 30);
    assert_non_null(strstr(output(f), "to be signed by the controller CA"));

    /* Recorded in the CA's database and newcerts/. */
    X509 *cert = load_cert("host1-cert.pem");
    char *cn = cert_cn(cert);
    char *index = read_text(index_path);
    char *want = xasprintf("/OU=Open vSwitch certifier/CN=%s\n", cn);
    assert_non_null(strstr(index, want));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);
    char *copy = xasprintf("%s/controllerca/newcerts/%s%s.pem", f->pki_dir,
                           strlen(hex) % 2 ? "0" : "", hex);
    assert_true(exists(copy));
    free(copy);
    OPENSSL_free(hex);
    BN_free(bn);
    free(want);
    free(index);
    free(cn);
    X509_free(cert);

    /* Not again without --force. */
    char *why;
    assert_int_equal(run(f, cmd_sign, &why, "host1", "controller", NULL),
                     -EEXIST);
    assert_string_equal(why, "host1-cert.pem already exists and --force "
                        "not supplied");
    free(why);
    free(index_path);
}

/* Without -b: "yes" signs; anything else, or no terminal, does not. */
static void
test_sign_confirm(void **state)
{
    struct fixture *f = *state;
    char *why;

    do_init(f);
    f->ctx.unique = true;
    run(f, cmd_req, NULL, "h", NULL);

    give_input(f, "no\n");
    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -ECANCELED);
    assert_string_equal(why, "Match failure, aborting");
    free(why);
    assert_false(exists("h-cert.pem"));
    assert_non_null(strstr(output(f), "Does fingerprint match? (yes/no)"));

    give_input(f, "");          /* End of file. */
    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -ECANCELED);
    free(why);
    assert_false(exists("h-cert.pem"));

    /* No terminal: refused at once, without reading anything. */
    f->ctx.interactive = false;
    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -ENOTTY);
    assert_non_null(strstr(why, "not signing h-req.pem: standard input is "
                           "not a terminal"));
    assert_non_null(strstr(why, "-b (--batch)"));
    free(why);
    assert_false(exists("h-cert.pem"));

    give_input(f, "yes\n");
    run(f, cmd_sign, NULL, "h", NULL);
    assert_signed(f, "h", PKI_CA_SWITCH, PKI_DAYS_DEFAULT);
}

/* Requests that must not be signed: each is refused with the file and the
 * reason, and nothing is written. */
static void
test_sign_bad_requests(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *ec = gen_key(X509_KEY_EC, 0);
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    EVP_PKEY *dsa = NULL;
    char *why;

    /* A DSA key, from small parameters (quick to make). */
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
    EVP_PKEY *params = NULL;
    assert_non_null(pctx);
    assert_int_equal(EVP_PKEY_paramgen_init(pctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, 1024), 1);
    assert_int_equal(EVP_PKEY_paramgen(pctx, &params), 1);
    EVP_PKEY_CTX_free(pctx);
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
    assert_int_equal(EVP_PKEY_keygen_init(pctx), 1);
    assert_int_equal(EVP_PKEY_keygen(pctx, &dsa), 1);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(params);

    do_init(f);
    f->ctx.batch = true;

    make_req_file("comma-req.pem", "a,b", ec);
    make_req_file("at-req.pem", "user@example.com", ec);
    make_req_file("weak-req.pem", "weak", rsa1024);
    make_req_file("dsa-req.pem", "dsa", dsa);
    write_text("junk-req.pem", "this is not PEM\n");

    /* A request whose signature does not verify: flip a byte of the
     * signature (the end of the DER, before the PEM footer). */
    make_req_file("tampered-req.pem", "tampered", ec);
    X509_REQ *req = load_req("tampered-req.pem");
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);
    der[len - 1] ^= 1;
    const unsigned char *p = der;
    X509_REQ *bad = d2i_X509_REQ(NULL, &p, len);
    assert_non_null(bad);
    size_t size;
    char *pem = x509_req_to_pem(bad, &size);
    write_text("tampered-req.pem", pem);
    free(pem);
    X509_REQ_free(bad);
    X509_REQ_free(req);
    OPENSSL_free(der);

    static const struct {
        const char *name;
        const char *why;
    } cases[] = {
        { "comma", "comma-req.pem: CN \"a,b\" contains ','" },
        { "at", "at-req.pem: CN \"user@example.com\" contains '@'" },
        { "weak", "weak-req.pem: RSA key of 1024 bits is too weak" },
        { "dsa", "dsa-req.pem: DSA keys are not supported: RFC 8247" },
        { "junk", "junk-req.pem: no valid PEM certificate request" },
        { "tampered", "tampered-req.pem: signature does not verify" },
        { "missing", "missing-req.pem: No such file or directory" },
    };
    char *before = listing(".");
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        assert_true(run(f, cmd_sign, &why, cases[i].name, NULL) < 0);
        if (!why || !str_starts_with(why, cases[i].why)) {
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, why,
                     cases[i].why);
        }
        free(why);
    }
    char *after = listing(".");
    assert_string_equal(before, after);
    free(before);
    free(after);

    EVP_PKEY_free(dsa);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ec);
}

/* A missing PKI directory or CA, and a broken CA, are clear errors. */
static void
test_sign_bad_pki(void **state)
{
    struct fixture *f = *state;
    char *why;
    char *want;

    f->ctx.unique = true;
    f->ctx.batch = true;
    run(f, cmd_req, NULL, "h", NULL);

    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -ENOENT);
    want = xasprintf("%s does not exist (need to run 'init' or use "
                     "'--dir'?)", f->pki_dir);
    assert_string_equal(why, want);
    free(want);
    free(why);

    assert_int_equal(mkdir(f->pki_dir, 0755), 0);
    assert_int_equal(run(f, cmd_sign, &why, "h", "controller", NULL),
                     -ENOENT);
    want = xasprintf("%s/controllerca: no controller CA in this PKI "
                     "directory", f->pki_dir);
    assert_true(str_starts_with(why, want));
    free(want);
    free(why);

    assert_int_equal(rmdir(f->pki_dir), 0);
    do_init(f);
    char *key_path = xasprintf("%s/switchca/private/cakey.pem", f->pki_dir);
    char *other = xasprintf("%s/controllerca/private/cakey.pem",
                            f->pki_dir);
    assert_int_equal(rename(other, key_path), 0);
    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -EINVAL);
    want = xasprintf("%s: not the private key of %s/switchca/cacert.pem",
                     key_path, f->pki_dir);
    assert_string_equal(why, want);
    free(want);
    free(why);
    assert_false(exists("h-cert.pem"));

    assert_int_equal(unlink(key_path), 0);
    assert_int_equal(run(f, cmd_sign, &why, "h", NULL), -ENOENT);
    want = xasprintf("%s: No such file or directory", key_path);
    assert_string_equal(why, want);
    free(want);
    free(why);
    free(other);
    free(key_path);

    assert_int_equal(run(f, cmd_sign, &why, "h", "router", NULL), -EINVAL);
    assert_string_equal(why, "\"router\": type argument must be 'switch' "
                        "or 'controller'");
    free(why);
}

/* A certificate never outlives its CA. */
static void
test_sign_capped_by_ca(void **state)
{
    struct fixture *f = *state;

    f->ctx.days = 10;
    do_init(f);
    f->ctx.days = 100;
    f->ctx.unique = true;
    run(f, cmd_req_sign, NULL, "h", NULL);
    X509 *cert = load_cert("h-cert.pem");
    char *ca_path = xasprintf("%s/switchca/cacert.pem", f->pki_dir);
    X509 *ca = load_cert(ca_path);
    assert_true(ASN1_TIME_compare(X509_get0_notAfter(cert),
                                  X509_get0_notAfter(ca)) <= 0);
    assert_non_null(strstr(errors(f), "note: h-cert.pem: valid for "));
    assert_non_null(strstr(errors(f), " days less than asked, until its CA "
                           "certificate expires\n"));
    X509_free(ca);
    free(ca_path);
    X509_free(cert);
}

/* req+sign */

static void
test_req_sign(void **state)
{
    struct fixture *f = *state;

    do_init(f);
    run(f, cmd_req_sign, NULL, "host2", NULL);
    assert_int_equal(mode_of("host2-privkey.pem"), 0600);
    assert_signed(f, "host2", PKI_CA_SWITCH, PKI_DAYS_DEFAULT);
    X509 *cert = load_cert("host2-cert.pem");
    EVP_PKEY *key = load_key("host2-privkey.pem");
    assert_true(x509_key_matches_cert(key, cert));
    assert_true(str_starts_with(output(f), "host2-req.pem\t"));
    EVP_PKEY_free(key);
    X509_free(cert);

    /* Without a PKI: nothing at all is written. */
    char *why;
    f->ctx.dir = "/nonexistent";
    assert_int_equal(run(f, cmd_req_sign, &why, "host3", NULL), -ENOENT);
    free(why);
    assert_false(exists("host3-privkey.pem"));
    assert_false(exists("host3-req.pem"));
}

/* self-sign */

/* Upstream self-signs with subjectAltName NAME but CN "NAME id:UUID";
 * here the subjectAltName is the CN. */
static void
test_self_sign(void **state)
{
    struct fixture *f = *state;

    run(f, cmd_req, NULL, "host_1", NULL);
    run(f, cmd_self_sign, NULL, "host_1", NULL);
    X509 *cert = load_cert("host_1-cert.pem");
    EVP_PKEY *key = load_key("host_1-privkey.pem");
    char *cn = cert_cn(cert);

    assert_true(str_starts_with(cn, "host_1 id:"));
    assert_false(x509_cert_has_dns_name(cert, "host_1"));
    assert_ike_leaf(cert);
    assert_true(x509_key_matches_cert(key, cert));
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert),
                                   X509_get_issuer_name(cert)), 0);
    assert_int_equal(verify_chain(cert, cert), X509_V_OK);
    assert_int_equal(validity_days(cert), PKI_DAYS_DEFAULT);
    assert_int_equal(mode_of("host_1-cert.pem"), 0644);

    free(cn);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void
test_self_sign_errors(void **state)
{
    struct fixture *f = *state;
    char *why;

    f->ctx.unique = true;
    assert_int_equal(run(f, cmd_self_sign, &why, "a", NULL), -ENOENT);
    assert_string_equal(why, "a-req.pem: No such file or directory");
    free(why);

    run(f, cmd_req, NULL, "a", NULL);
    run(f, cmd_req, NULL, "b", NULL);
    assert_int_equal(rename("b-privkey.pem", "a-privkey.pem"), 0);
    assert_int_equal(run(f, cmd_self_sign, &why, "a", NULL), -EINVAL);
    assert_string_equal(why, "a-privkey.pem: not the private key of "
                        "a-req.pem");
    free(why);
    assert_false(exists("a-cert.pem"));

    write_text("b-privkey.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"
               "-----END PRIVATE KEY-----\n");
    assert_int_equal(run(f, cmd_self_sign, &why, "b", NULL), -EINVAL);
    assert_true(str_starts_with(why, "b-privkey.pem: no valid PEM private "
                                "key"));
    free(why);
    assert_false(exists("b-cert.pem"));
}

/* verify */

static void
test_verify(void **state)
{
    struct fixture *f = *state;
    char *why;

    do_init(f);
    f->ctx.unique = true;
    run(f, cmd_req_sign, NULL, "h", "controller", NULL);
    run(f, cmd_verify, NULL, "h", "controller", NULL);
    assert_non_null(strstr(output(f), "h-cert.pem: OK\n"));
    assert_string_equal(errors(f), "Creating controllerca...\n"
                        "Creating switchca...\n");

    assert_int_equal(run(f, cmd_verify, &why, "h", NULL), -EINVAL);
    assert_string_equal(why, "h-cert.pem: verification failed against the "
                        "switch CA: unable to get local issuer certificate "
                        "(at depth 0)");
    free(why);

    assert_int_equal(run(f, cmd_verify, &why, "nope", NULL), -ENOENT);
    assert_string_equal(why, "nope-cert.pem: No such file or directory");
    free(why);

    /* A certificate whose subjectAltName lacks the CN (as upstream's
     * self-sign makes without -u) is valid, with a warning. */
    EVP_PKEY *key = gen_key(X509_KEY_EC, 0);
    const char *dns[] = { "other", NULL };
    struct x509_cert_spec spec = {
        .cn = "h2", .dns = dns, .days = 1, .ca = false,
    };
    char *ca_path = xasprintf("%s/switchca/cacert.pem", f->pki_dir);
    char *ca_key_path = xasprintf("%s/switchca/private/cakey.pem",
                                  f->pki_dir);
    X509 *ca = load_cert(ca_path);
    EVP_PKEY *ca_key = load_key(ca_key_path);
    X509 *cert = NULL;
    assert_int_equal(x509_cert_create(&spec, key, ca, ca_key, &cert, NULL),
                     0);
    char *text = x509_cert_to_pem(cert, &(size_t) { 0 });
    write_text("h2-cert.pem", text);
    free(text);
    run(f, cmd_verify, NULL, "h2", NULL);
    assert_non_null(strstr(errors(f), "warning: h2-cert.pem: no "
                           "subjectAltName DNS entry equals the CN \"h2\""));

    X509_free(cert);
    EVP_PKEY_free(ca_key);
    X509_free(ca);
    free(ca_key_path);
    free(ca_path);
    EVP_PKEY_free(key);
}

/* fingerprint and print */

static void
test_fingerprint(void **state)
{
    struct fixture *f = *state;
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int sha1_size;
    struct ds want = DS_EMPTY_INITIALIZER;
    char *why;

    f->ctx.unique = true;
    run(f, cmd_req, NULL, "h", NULL);
    run(f, cmd_self_sign, NULL, "h", NULL);
    fclose(f->ctx.out);
    free(f->out_buf);
    f->out_buf = NULL;
    f->ctx.out = open_memstream(&f->out_buf, &f->out_size);

    /* A certificate: the SHA-1 of its DER, in uppercase as "openssl x509
     * -fingerprint" prints it. */
    run(f, cmd_fingerprint, NULL, "h-cert.pem", NULL);
    X509 *cert = load_cert("h-cert.pem");
    assert_int_equal(X509_digest(cert, EVP_sha1(), sha1, &sha1_size), 1);
    ds_put_cstr(&want, "\tfingerprint ");
    for (unsigned int i = 0; i < sha1_size; i++) {
        ds_put_format(&want, "%02X", sha1[i]);
    }
    ds_put_cstr(&want, "\n\tsha256 ");
    assert_true(str_starts_with(output(f), "h-cert.pem\t"));
    assert_non_null(strstr(output(f), ds_cstr(&want)));
    ds_destroy(&want);
    X509_free(cert);

    assert_int_equal(run(f, cmd_fingerprint, &why, "none.pem", NULL),
                     -ENOENT);
    assert_string_equal(why, "none.pem: No such file or directory");
    free(why);
}

static void
test_print(void **state)
{
    struct fixture *f = *state;
    static const char *cert_fields[] = {
        "h-cert.pem: X.509 certificate, version 3\n",
        "  subject:             C=US, ST=CA, L=Palo Alto, O=Open vSwitch, "
        "OU=Open vSwitch certifier, CN=h\n",
        "  subjectAltName:      DNS:h\n",
        "  issuer:              C=US, ST=CA, L=Palo Alto, O=Open vSwitch, "
        "OU=switchca, CN=OVS switchca CA Certificate (",
        "  validity:            ",
        "  status:              valid, expires in 5 days\n",
        "  key:                 EC P-256 (256 bits)\n",
        "  signature:           ecdsa-with-SHA256\n",
        "  CA:                  no\n",
        "  key usage:           Digital Signature\n",
        "  ext. key usage:      TLS Web Server Authentication, TLS Web Client "
        "Authentication, ipsec Internet Key Exchange\n",
        "  SHA-256 fingerprint: ",
        "  SHA-1 fingerprint:   ",
    };
    char *why;

    do_init(f);
    f->ctx.unique = true;
    f->ctx.batch = true;
    f->ctx.days = 5;
    run(f, cmd_req_sign, NULL, "h", NULL);
    fclose(f->ctx.out);
    free(f->out_buf);
    f->out_buf = NULL;
    f->ctx.out = open_memstream(&f->out_buf, &f->out_size);

    run(f, cmd_print, NULL, "h-cert.pem", NULL);
    for (size_t i = 0; i < ARRAY_SIZE(cert_fields); i++) {
        if (!strstr(output(f), cert_fields[i])) {
            fail_msg("missing \"%s\" in:\n%s", cert_fields[i], output(f));
        }
    }

    char *ca_path = xasprintf("%s/switchca/cacert.pem", f->pki_dir);
    run(f, cmd_print, NULL, ca_path, NULL);
    assert_non_null(strstr(output(f), "  CA:                  yes (path "
                           "length 0)\n"));
    assert_non_null(strstr(output(f), "  key usage:           Certificate "
                           "Sign, CRL Sign\n"));
    free(ca_path);

    run(f, cmd_print, NULL, "h-req.pem", NULL);
    assert_non_null(strstr(output(f), "h-req.pem: certificate request "
                           "(PKCS#10)\n"));
    assert_non_null(strstr(output(f), "  signature:           "
                           "ecdsa-with-SHA256, verified\n"));

    /* A key: its type and size, never its contents. */
    run(f, cmd_print, NULL, "h-privkey.pem", NULL);
    assert_non_null(strstr(output(f), "h-privkey.pem: private key\n"
                           "  key:                 EC P-256 (256 bits)\n"));
    char *key_pem = read_text("h-privkey.pem");
    char *line2 = strchr(key_pem, '\n') + 1;
    line2[16] = '\0';
    assert_null(strstr(output(f), line2));
    assert_null(strstr(output(f), "PRIVATE KEY"));
    free(key_pem);

    write_text("junk.pem", "junk\n");
    assert_int_equal(run(f, cmd_print, &why, "junk.pem", NULL), -EINVAL);
    assert_string_equal(why, "junk.pem: no PEM certificate, certificate "
                        "request or private key");
    free(why);
    write_text("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
               "-----END CERTIFICATE-----\n");
    assert_int_equal(run(f, cmd_print, &why, "junk.pem", NULL), -EINVAL);
    assert_true(str_starts_with(why, "junk.pem: no valid PEM certificate"));
    free(why);
}

/* The audit log names what was made, never key material. */
static void
test_log(void **state)
{
    struct fixture *f = *state;
    char *text;

    f->ctx.log = fopen("audit.log", "a");
    assert_non_null(f->ctx.log);
    f->ctx.command = "req+sign";
    f->ctx.unique = true;
    do_init(f);
    run(f, cmd_req_sign, NULL, "h", NULL);
    fflush(f->ctx.log);
    text = read_text("audit.log");
    assert_non_null(strstr(text, "Z req+sign: created "));
    assert_non_null(strstr(text, "req+sign: wrote h-privkey.pem and "
                           "h-req.pem for CN \"h\"\n"));
    assert_non_null(strstr(text, "/switchca signed h-cert.pem for CN \"h\", "
                           "3650 days\n"));
    assert_null(strstr(text, "PRIVATE"));
    free(text);
}

/* lib/x509 additions. */

static void
test_x509_pem_round_trip(void **state)
{
    EVP_PKEY *key = gen_key(X509_KEY_ED25519, 0);
    X509_NAME *name = pki_subject_new("ou", "cn");
    const char *dns[] = { "cn", NULL };
    X509_REQ *req = NULL, *req2 = NULL;
    EVP_PKEY *key2 = NULL;
    size_t size;
    char *pem;

    (void) state;
    assert_int_equal(x509_req_create(name, dns, key, &req, NULL), 0);
    pem = x509_req_to_pem(req, &size);
    assert_int_equal(strlen(pem), size);
    assert_true(str_starts_with(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
    assert_int_equal(x509_req_from_pem(pem, size, "r", &req2, NULL), 0);
    assert_int_equal(x509_req_check_signature(req2, "r", NULL), 0);
    free(pem);

    pem = x509_key_to_pem(key, &size);
    assert_true(str_starts_with(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(x509_key_from_pem(pem, size, "k", &key2, NULL), 0);
    assert_int_equal(EVP_PKEY_eq(key, key2), 1);
    memzero_explicit(pem, size);
    free(pem);

    /* EC sizes other than 256 and 384 are refused. */
    EVP_PKEY *bad = NULL;
    char *why = NULL;
    assert_int_equal(x509_key_generate(X509_KEY_EC, 512, &bad, &why),
                     -EINVAL);
    assert_string_equal(why, "512-bit EC keys are not supported (only 256 "
                        "and 384)");
    free(why);

    EVP_PKEY_free(key2);
    X509_REQ_free(req2);
    X509_REQ_free(req);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_name),
        cmocka_unit_test(test_check_cn),
        cmocka_unit_test(test_parse_ca_type),
        cmocka_unit_test_setup_teardown(test_outfiles_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outfiles_no_clobber, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outfiles_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_req, setup, teardown),
        cmocka_unit_test_setup_teardown(test_req_unique_and_key_types,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_req_no_overwrite, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_bad_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_bad_pki, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_capped_by_ca, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_req_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_sign_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log, setup, teardown),
        cmocka_unit_test(test_x509_pem_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
