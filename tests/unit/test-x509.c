/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests for lib/x509: loading certificates and keys from PEM files, the
 * CN and subjectAltName helpers, key matching, digests and fingerprints,
 * and key and certificate generation.  Every file is made at test time in
 * a mkdtemp() directory; nothing runs the openssl program.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include <errno.h>
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
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "unit-util.h"
#include "util.h"
#include "x509.h"

static char *tmpdir;

static EVP_PKEY *
gen_key(enum x509_key_type type)
{
    EVP_PKEY *key = NULL;
    char *why = NULL;

    assert_int_equal(x509_key_generate(type, 0, &key, &why), 0);
    assert_null(why);
    assert_non_null(key);
    return key;
}

/* Creates a certificate for 'cn' (and 'dns', see x509_cert_spec) with
 * 'key', signed by 'issuer' or self-signed. */
static X509 *
gen_cert(const char *cn, const char *const *dns, bool ca, EVP_PKEY *key,
         const X509 *issuer, EVP_PKEY *issuer_key)
{
    struct x509_cert_spec spec = {
        .cn = cn, .org = "ovs", .dns = dns, .days = 30, .ca = ca,
    };
    X509 *cert = NULL;
    char *why = NULL;

    assert_int_equal(x509_cert_create(&spec, key, issuer, issuer_key, &cert,
                                      &why), 0);
    assert_null(why);
    assert_non_null(cert);
    return cert;
}

static void
save_cert(const X509 *cert, const char *name)
{
    char *path = ut_path(tmpdir, name);
    char *why = NULL;

    assert_int_equal(x509_cert_write(cert, path, &why), 0);
    assert_null(why);
    free(path);
}

static void
save_key(const EVP_PKEY *key, const char *name)
{
    char *path = ut_path(tmpdir, name);
    char *why = NULL;

    assert_int_equal(x509_key_write(key, path, &why), 0);
    assert_null(why);
    free(path);
}

static int
group_setup(void **state)
{
    (void) state;
    tmpdir = ut_tmpdir_create("test-x509");
    return tmpdir ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void) state;
    ut_tmpdir_remove(tmpdir);
    free(tmpdir);
    return 0;
}

/* A self-signed EC certificate written out and loaded back has the same
 * CN, SAN and key, and its digest is that of the file. */
static void
test_roundtrip_ec(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert("host1", NULL, false, key, NULL, NULL);
    uint8_t digest[X509_DIGEST_SIZE], file_digest[X509_DIGEST_SIZE];
    char *cert_path = ut_path(tmpdir, "rt.pem");
    char *key_path = ut_path(tmpdir, "rt.key");
    EVP_PKEY *key2 = NULL;
    X509 *cert2 = NULL;
    char *why = NULL;
    char *cn = NULL;
    struct stat st;

    save_cert(cert, "rt.pem");
    save_key(key, "rt.key");

    assert_int_equal(stat(cert_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(x509_cert_load(cert_path, &cert2, digest, &why), 0);
    assert_null(why);
    assert_int_equal(X509_cmp(cert, cert2), 0);
    assert_int_equal(x509_file_digest(cert_path, file_digest, &why), 0);
    assert_memory_equal(digest, file_digest, sizeof digest);

    assert_int_equal(x509_cert_get_cn(cert2, &cn, &why), 0);
    assert_string_equal(cn, "host1");
    assert_true(x509_cert_has_dns_name(cert2, "host1"));
    assert_true(x509_cert_has_dns_name(cert2, "HOST1"));
    assert_false(x509_cert_has_dns_name(cert2, "host"));
    assert_false(x509_cert_has_dns_name(cert2, "host12"));
    assert_false(x509_cert_is_ca(cert2));

    char *subject = x509_cert_subject(cert2);
    assert_string_equal(subject, "CN=host1,O=ovs");
    free(subject);

    assert_int_equal(x509_key_load(key_path, &key2, digest, &why), 0);
    assert_null(why);
    assert_int_equal(x509_file_digest(key_path, file_digest, NULL), 0);
    assert_memory_equal(digest, file_digest, sizeof digest);
    assert_true(x509_key_matches_cert(key2, cert2));
    assert_true(x509_key_matches_cert(key, cert2));

    free(cn);
    free(cert_path);
    free(key_path);
    X509_free(cert2);
    EVP_PKEY_free(key2);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* RSA and Ed25519 keys load from PEM and match their certificates; keys
 * of one type do not match certificates of another. */
static void
test_key_types(void **state)
{
    (void) state;
    EVP_PKEY *rsa = gen_key(X509_KEY_RSA);
    EVP_PKEY *ed = gen_key(X509_KEY_ED25519);
    X509 *rsa_cert = gen_cert("rsa", NULL, false, rsa, NULL, NULL);
    X509 *ed_cert = gen_cert("ed", NULL, false, ed, NULL, NULL);
    char *rsa_path = ut_path(tmpdir, "rsa.key");
    char *ed_path = ut_path(tmpdir, "ed.key");
    EVP_PKEY *rsa2 = NULL, *ed2 = NULL;

    assert_true(EVP_PKEY_is_a(rsa, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(rsa), 2048);
    assert_true(EVP_PKEY_is_a(ed, "ED25519"));

    save_key(rsa, "rsa.key");
    save_key(ed, "ed.key");
    assert_int_equal(x509_key_load(rsa_path, &rsa2, NULL, NULL), 0);
    assert_int_equal(x509_key_load(ed_path, &ed2, NULL, NULL), 0);
    assert_true(x509_key_matches_cert(rsa2, rsa_cert));
    assert_true(x509_key_matches_cert(ed2, ed_cert));
    assert_false(x509_key_matches_cert(rsa2, ed_cert));
    assert_false(x509_key_matches_cert(ed2, rsa_cert));

    /* The Ed25519 certificate is signed without a separate digest and
     * verifies with its own key. */
    assert_int_equal(X509_verify(ed_cert, ed), 1);

    free(rsa_path);
    free(ed_path);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ed2);
    X509_free(rsa_cert);
    X509_free(ed_cert);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
}

/* A traditional ("BEGIN EC PRIVATE KEY") PEM loads as well as PKCS#8. */
static void
test_key_traditional_format(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert("trad", NULL, false, key, NULL, NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    EVP_PKEY *key2 = NULL;
    char *why = NULL;
    char *data;
    long size;

    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, key, NULL,
                                                          NULL, 0, NULL,
                                                          NULL), 1);
    size = BIO_get_mem_data(bio, &data);
    assert_non_null(strstr(data, "BEGIN EC PRIVATE KEY"));
    assert_int_equal(x509_key_from_pem(data, size, "mem", &key2, &why), 0);
    assert_null(why);
    assert_true(x509_key_matches_cert(key2, cert));

    BIO_free(bio);
    EVP_PKEY_free(key2);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* A different key does not match. */
static void
test_key_mismatch(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    EVP_PKEY *other = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert("host1", NULL, false, key, NULL, NULL);

    assert_true(x509_key_matches_cert(key, cert));
    assert_false(x509_key_matches_cert(other, cert));

    X509_free(cert);
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
}

/* A subject without CN gives -ENOENT and says so. */
static void
test_no_cn(void **state)
{
    (void) state;
    static const char *const none[] = { NULL };
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert(NULL, none, false, key, NULL, NULL);
    char *why = NULL;
    char *cn = NULL;

    assert_int_equal(x509_cert_get_cn(cert, &cn, &why), -ENOENT);
    assert_null(cn);
    assert_string_equal(why, "certificate subject has no CN");
    free(why);

    /* 'ret_why' is optional. */
    assert_int_equal(x509_cert_get_cn(cert, &cn, NULL), -ENOENT);

    X509_free(cert);
    EVP_PKEY_free(key);
}

/* A CN in UTF-8 comes back as UTF-8. */
static void
test_utf8_cn(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert("h\xc3\xb4te", NULL, false, key, NULL, NULL);
    char *cn = NULL;

    assert_int_equal(x509_cert_get_cn(cert, &cn, NULL), 0);
    assert_string_equal(cn, "h\xc3\xb4te");

    free(cn);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* SAN without the CN, several SAN entries, no SAN at all. */
static void
test_san(void **state)
{
    (void) state;
    static const char *const other[] = { "other", NULL };
    static const char *const several[] = { "a.example", "host1", NULL };
    static const char *const none[] = { NULL };
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *c1 = gen_cert("host1", other, false, key, NULL, NULL);
    X509 *c2 = gen_cert("host1", several, false, key, NULL, NULL);
    X509 *c3 = gen_cert("host1", none, false, key, NULL, NULL);

    assert_false(x509_cert_has_dns_name(c1, "host1"));
    assert_true(x509_cert_has_dns_name(c1, "other"));
    assert_true(x509_cert_has_dns_name(c2, "host1"));
    assert_true(x509_cert_has_dns_name(c2, "a.example"));
    assert_false(x509_cert_has_dns_name(c3, "host1"));
    assert_int_equal(X509_get_ext_by_NID(c3, NID_subject_alt_name, -1), -1);

    X509_free(c1);
    X509_free(c2);
    X509_free(c3);
    EVP_PKEY_free(key);
}

/* A CA signs a leaf: the leaf names the CA as issuer and verifies with its
 * key; only the CA is a CA. */
static void
test_ca_and_leaf(void **state)
{
    (void) state;
    EVP_PKEY *ca_key = gen_key(X509_KEY_EC);
    EVP_PKEY *leaf_key = gen_key(X509_KEY_EC);
    X509 *ca = gen_cert("ovs-ca", NULL, true, ca_key, NULL, NULL);
    X509 *leaf = gen_cert("leaf", NULL, false, leaf_key, ca, ca_key);

    assert_true(x509_cert_is_ca(ca));
    assert_false(x509_cert_is_ca(leaf));
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf),
                                   X509_get_subject_name(ca)), 0);
    assert_int_equal(X509_verify(leaf, ca_key), 1);
    assert_int_not_equal(X509_verify(leaf, leaf_key), 1);
    assert_true(x509_key_matches_cert(leaf_key, leaf));
    assert_int_equal(X509_get_version(leaf), X509_VERSION_3);

    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
}

/* A file with a key and then a certificate yields the certificate; a file
 * with two certificates yields the first. */
static void
test_first_cert(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *c1 = gen_cert("first", NULL, false, key, NULL, NULL);
    X509 *c2 = gen_cert("second", NULL, false, key, NULL, NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    X509 *got = NULL;
    char *cn = NULL;
    char *data;
    long size;

    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
                                              NULL), 1);
    assert_int_equal(PEM_write_bio_X509(bio, c1), 1);
    assert_int_equal(PEM_write_bio_X509(bio, c2), 1);
    size = BIO_get_mem_data(bio, &data);
    ut_write_file(tmpdir, "bundle.pem", data, size);

    char *path = ut_path(tmpdir, "bundle.pem");
    assert_int_equal(x509_cert_load(path, &got, NULL, NULL), 0);
    assert_int_equal(x509_cert_get_cn(got, &cn, NULL), 0);
    assert_string_equal(cn, "first");

    free(path);
    free(cn);
    X509_free(got);
    BIO_free(bio);
    X509_free(c1);
    X509_free(c2);
    EVP_PKEY_free(key);
}

/* File errors: missing file, directory, garbage, empty, too large. */
static void
test_load_errors(void **state)
{
    (void) state;
    uint8_t digest[X509_DIGEST_SIZE];
    uint8_t zeros[X509_DIGEST_SIZE] = { 0 };
    char *missing = ut_path(tmpdir, "missing.pem");
    char *garbage = ut_path(tmpdir, "garbage.pem");
    char *empty = ut_path(tmpdir, "empty.pem");
    char *big = ut_path(tmpdir, "big.pem");
    char *expected;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *why = NULL;

    memset(digest, 0xaa, sizeof digest);
    assert_int_equal(x509_cert_load(missing, &cert, digest, &why), -ENOENT);
    assert_null(cert);
    assert_memory_equal(digest, zeros, sizeof digest);
    expected = xasprintf("%s: No such file or directory", missing);
    assert_string_equal(why, expected);
    free(expected);
    free(why);

    assert_int_equal(x509_cert_load(tmpdir, &cert, NULL, &why), -EISDIR);
    expected = xasprintf("%s: is a directory", tmpdir);
    assert_string_equal(why, expected);
    free(expected);
    free(why);

    assert_int_equal(x509_file_digest("/dev/null", digest, &why), -EINVAL);
    assert_string_equal(why, "/dev/null: not a regular file");
    free(why);

    static const char junk[] = "-----BEGIN CERTIFICATE-----\n"
                               "bm90IGEgY2VydGlmaWNhdGU=\n"
                               "-----END CERTIFICATE-----\n";
    ut_write_file(tmpdir, "garbage.pem", junk, strlen(junk));
    memset(digest, 0xaa, sizeof digest);
    assert_int_equal(x509_cert_load(garbage, &cert, digest, &why), -EINVAL);
    assert_null(cert);
    assert_memory_equal(digest, zeros, sizeof digest);
    expected = xasprintf("%s: no valid PEM certificate: ", garbage);
    assert_true(str_starts_with(why, expected));
    assert_true(strlen(why) > strlen(expected));
    free(expected);
    free(why);

    assert_int_equal(x509_key_load(garbage, &key, NULL, &why), -EINVAL);
    assert_null(key);
    expected = xasprintf("%s: no valid PEM private key: ", garbage);
    assert_true(str_starts_with(why, expected));
    free(expected);
    free(why);

    ut_write_file(tmpdir, "empty.pem", "", 0);
    assert_int_equal(x509_cert_load(empty, &cert, NULL, &why), -EINVAL);
    expected = xasprintf("%s: no valid PEM certificate: no start line "
                         "(Expecting: CERTIFICATE)", empty);
    assert_string_equal(why, expected);
    free(expected);
    free(why);

    assert_int_equal(x509_key_load(empty, &key, NULL, &why), -EINVAL);
    expected = xasprintf("%s: no valid PEM private key: no start line",
                         empty);
    assert_string_equal(why, expected);
    free(expected);
    free(why);

    /* Digest of an empty file is SHA-256(""). */
    assert_int_equal(x509_file_digest(empty, digest, NULL), 0);
    char *fp = x509_fingerprint_format(digest);
    assert_string_equal(fp, "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:"
                        "24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:"
                        "55");
    free(fp);

    char *data = xzalloc(X509_FILE_MAX_SIZE + 1);
    ut_write_file(tmpdir, "big.pem", data, X509_FILE_MAX_SIZE + 1);
    assert_int_equal(x509_cert_load(big, &cert, NULL, &why), -EFBIG);
    expected = xasprintf("%s: larger than %d bytes", big,
                         X509_FILE_MAX_SIZE);
    assert_string_equal(why, expected);
    free(expected);
    free(why);
    /* Exactly at the limit is read. */
    ut_write_file(tmpdir, "big.pem", data, X509_FILE_MAX_SIZE);
    size_t size;
    char *contents;
    assert_int_equal(x509_read_file(big, &contents, &size, NULL), 0);
    assert_int_equal(size, X509_FILE_MAX_SIZE);
    free(contents);
    free(data);

    free(missing);
    free(garbage);
    free(empty);
    free(big);
}

/* A file whose size fstat() does not know (procfs reports 0) is read in
 * full, through the buffer growth path. */
static void
test_read_unknown_size(void **state)
{
    (void) state;
    struct stat st;
    size_t size;
    char *data;

    assert_int_equal(stat("/proc/self/maps", &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(x509_read_file("/proc/self/maps", &data, &size, NULL),
                     0);
    assert_true(size > 0);
    assert_int_equal(strlen(data), size);
    assert_int_equal(data[size - 1], '\n');
    free(data);
}

/* An encrypted key is refused without prompting. */
static void
test_encrypted_key(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    BIO *bio = BIO_new(BIO_s_mem());
    static const char pass[] = "passphrase";
    EVP_PKEY *got = NULL;
    char *why = NULL;
    char *data;
    long size;

    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, key,
                                                   EVP_aes_256_cbc(),
                                                   pass, strlen(pass), NULL,
                                                   NULL), 1);
    size = BIO_get_mem_data(bio, &data);
    assert_int_equal(x509_key_from_pem(data, size, "enc.key", &got, &why),
                     -EINVAL);
    assert_null(got);
    assert_string_equal(why, "enc.key: private key is encrypted (a "
                        "passphrase cannot be given; decrypt the key)");
    free(why);

    BIO_free(bio);
    EVP_PKEY_free(key);
}

/* Known SHA-256 vector, fingerprint of a certificate's DER. */
static void
test_digests(void **state)
{
    (void) state;
    static const uint8_t abc[X509_DIGEST_SIZE] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t digest[X509_DIGEST_SIZE];
    uint8_t expected[X509_DIGEST_SIZE];

    x509_sha256("abc", 3, digest);
    assert_memory_equal(digest, abc, sizeof abc);

    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *cert = gen_cert("fp", NULL, false, key, NULL, NULL);
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    assert_true(len > 0);
    x509_sha256(der, len, expected);
    assert_int_equal(x509_cert_fingerprint(cert, digest), 0);
    assert_memory_equal(digest, expected, sizeof digest);

    char *fp = x509_fingerprint_format(digest);
    assert_int_equal(strlen(fp), X509_DIGEST_SIZE * 3 - 1);
    for (size_t i = 0; i < strlen(fp); i++) {
        assert_true(i % 3 == 2 ? fp[i] == ':'
                    : strchr("0123456789ABCDEF", fp[i]) != NULL);
    }
    free(fp);

    OPENSSL_free(der);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* Two certificates for the same name differ (random serial). */
static void
test_serials_differ(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    X509 *a = gen_cert("same", NULL, false, key, NULL, NULL);
    X509 *b = gen_cert("same", NULL, false, key, NULL, NULL);

    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
                                          X509_get0_serialNumber(b)), 0);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(key);
}

/* Bad arguments to the creators. */
static void
test_create_errors(void **state)
{
    (void) state;
    EVP_PKEY *key = gen_key(X509_KEY_EC);
    struct x509_cert_spec spec = { .cn = "x", .days = 0 };
    EVP_PKEY *none = NULL;
    X509 *cert = NULL;
    char *why = NULL;

    assert_int_equal(x509_cert_create(&spec, key, NULL, NULL, &cert, &why),
                     -EINVAL);
    assert_null(cert);
    assert_string_equal(why, "validity of 0 days is not positive");
    free(why);

    assert_int_equal(x509_key_generate(X509_KEY_N, 0, &none, &why), -EINVAL);
    assert_null(none);
    assert_string_equal(why, "unknown key type 3");
    free(why);

    char *bad = xasprintf("%s/no/such/dir/cert.pem", tmpdir);
    spec.days = 1;
    assert_int_equal(x509_cert_create(&spec, key, NULL, NULL, &cert, NULL),
                     0);
    assert_int_equal(x509_cert_write(cert, bad, &why), -ENOENT);
    assert_true(str_starts_with(why, tmpdir));
    assert_non_null(strstr(why, ": No such file or directory"));
    free(why);
    free(bad);

    X509_free(cert);
    EVP_PKEY_free(key);
}

/* x509_why_openssl() with an empty queue, and with an error queued. */
static void
test_why_openssl(void **state)
{
    (void) state;
    char *why = x509_why_openssl("step %d", 1);
    assert_string_equal(why, "step 1: unknown OpenSSL error");
    free(why);

    BIO *bio = BIO_new_mem_buf("junk", 4);
    assert_null(PEM_read_bio_X509(bio, NULL, NULL, NULL));
    BIO_free(bio);
    why = x509_why_openssl("parse");
    assert_string_equal(why, "parse: no start line (Expecting: "
                        "CERTIFICATE)");
    free(why);
    assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ec),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_key_traditional_format),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_no_cn),
        cmocka_unit_test(test_utf8_cn),
        cmocka_unit_test(test_san),
        cmocka_unit_test(test_ca_and_leaf),
        cmocka_unit_test(test_first_cert),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_read_unknown_size),
        cmocka_unit_test(test_encrypted_key),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_serials_differ),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_why_openssl),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
