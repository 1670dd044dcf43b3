/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests for monitor/global-conf: ipsec_skb_mark parsing (every accepted
 * form and every way to get it wrong) and the checks on the certificate,
 * private_key and ca_cert files, which are generated at test time with the
 * OpenSSL API in a mkdtemp() directory.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "global-conf.h"
#include "smap.h"
#include "unit-util.h"
#include "util.h"
#include "x509.h"

static char *tmpdir;

static int
group_setup(void **state)
{
    (void) state;
    static const char *const other[] = { "other", NULL };
    static const char *const none[] = { NULL };

    tmpdir = ut_tmpdir_create("test-global-conf");
    if (!tmpdir) {
        return -1;
    }

    ut_write_cert_set(tmpdir);
    EVP_PKEY_free(ut_key_write(tmpdir, "other.key"));
    EVP_PKEY *local = ut_key_read(tmpdir, "local.key");
    X509_free(ut_cert_write(tmpdir, "nocn.pem", NULL, none, false, local,
                            NULL, NULL));
    X509_free(ut_cert_write(tmpdir, "nosan.pem", "local", other, false,
                            local, NULL, NULL));
    EVP_PKEY_free(local);
    static const char garbage[] = "-----BEGIN CERTIFICATE-----\nxyz\n"
                                  "-----END CERTIFICATE-----\n";
    ut_write_file(tmpdir, "garbage.pem", garbage, strlen(garbage));
    return 0;
}

static int
group_teardown(void **state)
{
    (void) state;
    ut_tmpdir_remove(tmpdir);
    free(tmpdir);
    return 0;
}

/* Builds a global_conf from other_config pairs; file names are relative
 * to the test directory (except for "ipsec_skb_mark"); NULL ends the
 * list. */
static struct global_conf *
create(const char *key, ...)
{
    struct smap oc;
    va_list args;

    smap_init(&oc);
    va_start(args, key);
    for (; key; key = va_arg(args, const char *)) {
        const char *value = va_arg(args, const char *);
        if (!strcmp(key, "ipsec_skb_mark") || !*value) {
            smap_replace(&oc, key, value);
        } else {
            char *path = ut_path(tmpdir, value);
            smap_replace(&oc, key, path);
            free(path);
        }
    }
    va_end(args);

    struct global_conf *gc = global_conf_create(&oc);
    smap_destroy(&oc);
    return gc;
}

/* Asserts that 'gc->cert_error' is 'format' with each %s replaced by the
 * test directory. */
static void
assert_cert_error(const struct global_conf *gc, const char *format)
{
    char *expected;

    expected = xasprintf(format, tmpdir, tmpdir);
    assert_non_null(gc->cert_error);
    assert_string_equal(gc->cert_error, expected);
    free(expected);
}

/* skb_mark. */

static void
check_mark(const char *s, uint32_t mark, uint32_t mask)
{
    uint32_t got_mark = 12345, got_mask = 12345;
    char *error = global_conf_parse_skb_mark(s, &got_mark, &got_mask);

    if (error) {
        fail_msg("\"%s\": %s", s, error);
    }
    assert_int_equal(got_mark, mark);
    assert_int_equal(got_mask, mask);
}

static void
check_mark_error(const char *s, const char *expected)
{
    uint32_t mark, mask;
    char *error = global_conf_parse_skb_mark(s, &mark, &mask);

    assert_non_null(error);
    assert_string_equal(error, expected);
    free(error);
}

static void
test_skb_mark_valid(void **state)
{
    (void) state;
    check_mark("0", 0, UINT32_MAX);
    check_mark("1", 1, UINT32_MAX);
    check_mark("4294967295", UINT32_MAX, UINT32_MAX);
    check_mark("0x0", 0, UINT32_MAX);
    check_mark("0xFFFFFFFF", UINT32_MAX, UINT32_MAX);
    check_mark("0X00000010", 0x10, UINT32_MAX);
    check_mark("0/1", 0, 1);
    check_mark("1/1", 1, 1);
    check_mark("0x10/0xf0", 0x10, 0xf0);
    check_mark("0x10/0XF0", 0x10, 0xf0);
    check_mark("16/240", 16, 240);
    check_mark("0x1/4294967295", 1, UINT32_MAX);
}

static void
test_skb_mark_empty(void **state)
{
    (void) state;
    check_mark_error("", "empty value (expected VALUE or VALUE/MASK)");
    check_mark_error(NULL, "empty value (expected VALUE or VALUE/MASK)");
}

static void
test_skb_mark_not_a_number(void **state)
{
    (void) state;
    check_mark_error("abc", "\"abc\": value is not a number (decimal or 0x "
                     "hex)");
    check_mark_error("-1", "\"-1\": value is not a number (decimal or 0x "
                     "hex)");
    check_mark_error("+1", "\"+1\": value is not a number (decimal or 0x "
                     "hex)");
    check_mark_error(" 1", "\" 1\": value is not a number (decimal or 0x "
                     "hex)");
    check_mark_error("1 ", "\"1 \": value is not a number (decimal or 0x "
                     "hex)");
    check_mark_error("0x1g", "\"0x1g\": value is not a number (decimal or "
                     "0x hex)");
    check_mark_error("%unique", "\"%unique\": value is not a number "
                     "(decimal or 0x hex)");
    check_mark_error("1\n", "\"1\\n\": value is not a number (decimal or "
                     "0x hex)");
}

static void
test_skb_mark_missing_digits(void **state)
{
    (void) state;
    check_mark_error("0x", "\"0x\": value is not a number");
    check_mark_error("/1", "\"/1\": value is not a number");
    check_mark_error("1/", "\"1/\": mask is not a number");
    check_mark_error("1/0x", "\"1/0x\": mask is not a number");
}

static void
test_skb_mark_leading_zero(void **state)
{
    (void) state;
    check_mark_error("010", "\"010\": value has a leading zero (octal is "
                     "not accepted; write decimal or 0x hex)");
    check_mark_error("1/07", "\"1/07\": mask has a leading zero (octal is "
                     "not accepted; write decimal or 0x hex)");
}

static void
test_skb_mark_too_large(void **state)
{
    (void) state;
    check_mark_error("4294967296", "\"4294967296\": value is larger than "
                     "32 bits");
    check_mark_error("0x100000000", "\"0x100000000\": value is larger than "
                     "32 bits");
    check_mark_error("99999999999999999999999", "\"99999999999999999999999"
                     "\": value is larger than 32 bits");
    check_mark_error("1/0x1ffffffff", "\"1/0x1ffffffff\": mask is larger "
                     "than 32 bits");
}

static void
test_skb_mark_bad_mask(void **state)
{
    (void) state;
    check_mark_error("1/2/3", "\"1/2/3\": mask is not a number (decimal or "
                     "0x hex)");
    check_mark_error("1/x", "\"1/x\": mask is not a number (decimal or 0x "
                     "hex)");
}

static void
test_skb_mark_zero_mask(void **state)
{
    (void) state;
    check_mark_error("0/0", "\"0/0\": mask is 0, so the mark would match "
                     "every packet");
    check_mark_error("0/0x0", "\"0/0x0\": mask is 0, so the mark would "
                     "match every packet");
}

static void
test_skb_mark_outside_mask(void **state)
{
    (void) state;
    check_mark_error("3/1", "\"3/1\": value 0x3 has bits outside mask 0x1");
    check_mark_error("0x100/0xff", "\"0x100/0xff\": value 0x100 has bits "
                     "outside mask 0xff");
}

/* global_conf_create() records the skb mark or its error. */
static void
test_skb_mark_in_conf(void **state)
{
    (void) state;
    struct global_conf *ok = create("ipsec_skb_mark", "0x1/0x1", NULL);
    struct global_conf *ok2 = create("ipsec_skb_mark", "1/1", NULL);
    struct global_conf *other = create("ipsec_skb_mark", "0/1", NULL);
    struct global_conf *bad = create("ipsec_skb_mark", "1/0", NULL);
    struct global_conf *unset = create(NULL);

    assert_true(ok->has_skb_mark);
    assert_int_equal(ok->skb_mark, 1);
    assert_int_equal(ok->skb_mask, 1);
    assert_null(ok->skb_mark_error);

    assert_false(bad->has_skb_mark);
    assert_string_equal(bad->skb_mark_error,
                        "Open_vSwitch: other_config:ipsec_skb_mark: \"1/0\": "
                        "mask is 0, so the mark would match every packet");

    assert_false(unset->has_skb_mark);
    assert_null(unset->skb_mark_error);
    assert_int_equal(unset->skb_mask, UINT32_MAX);

    assert_true(global_conf_skb_mark_equal(ok, ok2));
    assert_false(global_conf_skb_mark_equal(ok, other));
    assert_false(global_conf_skb_mark_equal(ok, bad));
    assert_false(global_conf_skb_mark_equal(ok, unset));
    assert_false(global_conf_skb_mark_equal(bad, unset));
    assert_true(global_conf_skb_mark_equal(NULL, NULL));
    assert_false(global_conf_skb_mark_equal(ok, NULL));
    /* The skb mark does not affect the certificates. */
    assert_true(global_conf_certs_equal(ok, bad));

    global_conf_destroy(ok);
    global_conf_destroy(ok2);
    global_conf_destroy(other);
    global_conf_destroy(bad);
    global_conf_destroy(unset);
}

/* Certificates. */

static void
test_empty(void **state)
{
    (void) state;
    static const uint8_t zeros[32] = { 0 };
    struct global_conf *gc = create(NULL);
    struct global_conf *gc2 = global_conf_create(NULL);

    assert_null(gc->certificate);
    assert_null(gc->private_key);
    assert_null(gc->ca_cert);
    assert_null(gc->local_name);
    assert_null(gc->cert_error);
    assert_memory_equal(gc->certificate_digest, zeros, 32);
    assert_memory_equal(gc->private_key_digest, zeros, 32);
    assert_memory_equal(gc->ca_cert_digest, zeros, 32);
    assert_true(global_conf_certs_equal(gc, gc2));

    global_conf_destroy(gc);
    global_conf_destroy(gc2);
    global_conf_destroy(NULL);
}

/* Empty values count as unset, as upstream treats them. */
static void
test_empty_values_unset(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "", "private_key", "",
                                    "ca_cert", "", NULL);

    assert_null(gc->certificate);
    assert_null(gc->private_key);
    assert_null(gc->ca_cert);
    assert_null(gc->cert_error);
    global_conf_destroy(gc);
}

static void
test_self_signed_valid(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "local.pem",
                                    "private_key", "local.key", NULL);
    uint8_t digest[X509_DIGEST_SIZE];
    char *path;

    assert_null(gc->cert_error);
    assert_string_equal(gc->local_name, "local");
    path = ut_path(tmpdir, "local.pem");
    assert_string_equal(gc->certificate, path);
    assert_int_equal(x509_file_digest(path, digest, NULL), 0);
    assert_memory_equal(gc->certificate_digest, digest, sizeof digest);
    free(path);
    path = ut_path(tmpdir, "local.key");
    assert_string_equal(gc->private_key, path);
    assert_int_equal(x509_file_digest(path, digest, NULL), 0);
    assert_memory_equal(gc->private_key_digest, digest, sizeof digest);
    free(path);
    assert_null(gc->ca_cert);
    global_conf_destroy(gc);
}

static void
test_ca_valid(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "leaf.pem",
                                    "private_key", "leaf.key",
                                    "ca_cert", "ca.pem", NULL);
    uint8_t digest[X509_DIGEST_SIZE];
    char *path = ut_path(tmpdir, "ca.pem");

    assert_null(gc->cert_error);
    assert_string_equal(gc->local_name, "leaf");
    assert_string_equal(gc->ca_cert, path);
    assert_int_equal(x509_file_digest(path, digest, NULL), 0);
    assert_memory_equal(gc->ca_cert_digest, digest, sizeof digest);
    free(path);
    global_conf_destroy(gc);
}

static void
test_certificate_without_key(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "local.pem", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:private_key: not set, "
                      "but other_config:certificate is");
    /* The certificate was still read. */
    assert_string_equal(gc->local_name, "local");
    global_conf_destroy(gc);
}

static void
test_key_without_certificate(void **state)
{
    (void) state;
    struct global_conf *gc = create("private_key", "local.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: not set, "
                      "but other_config:private_key is");
    global_conf_destroy(gc);
}

static void
test_ca_without_certificate(void **state)
{
    (void) state;
    struct global_conf *gc = create("ca_cert", "ca.pem", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: not set, "
                      "but other_config:ca_cert is");
    global_conf_destroy(gc);
}

static void
test_certificate_missing(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "missing.pem",
                                    "private_key", "local.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: "
                      "%s/missing.pem: No such file or directory");
    assert_null(gc->local_name);
    global_conf_destroy(gc);
}

static void
test_certificate_is_directory(void **state)
{
    (void) state;
    struct smap oc;

    smap_init(&oc);
    smap_add(&oc, "certificate", tmpdir);
    smap_add(&oc, "private_key", "/nonexistent/key");
    struct global_conf *gc = global_conf_create(&oc);
    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: %s: is a "
                      "directory");
    global_conf_destroy(gc);
    smap_destroy(&oc);
}

static void
test_certificate_garbage(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "garbage.pem",
                                    "private_key", "local.key", NULL);
    char *prefix = xasprintf("Open_vSwitch: other_config:certificate: "
                             "%s/garbage.pem: no valid PEM certificate: ",
                             tmpdir);

    assert_non_null(gc->cert_error);
    assert_true(str_starts_with(gc->cert_error, prefix));
    assert_true(strlen(gc->cert_error) > strlen(prefix));
    free(prefix);
    global_conf_destroy(gc);
}

static void
test_certificate_no_cn(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "nocn.pem",
                                    "private_key", "local.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: "
                      "%s/nocn.pem: certificate subject has no CN");
    assert_null(gc->local_name);
    global_conf_destroy(gc);
}

static void
test_certificate_san_lacks_cn(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "nosan.pem",
                                    "private_key", "local.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: "
                      "%s/nosan.pem: subjectAltName has no DNS entry "
                      "\"local\" equal to the CN (IPsec peers identify each "
                      "other by it)");
    global_conf_destroy(gc);
}

static void
test_key_mismatch(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "local.pem",
                                    "private_key", "other.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:private_key: "
                      "%s/other.key: does not match the public key in "
                      "other_config:certificate %s/local.pem");
    global_conf_destroy(gc);
}

static void
test_key_garbage(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "local.pem",
                                    "private_key", "garbage.pem", NULL);
    char *prefix = xasprintf("Open_vSwitch: other_config:private_key: "
                             "%s/garbage.pem: no valid PEM private key: ",
                             tmpdir);

    assert_non_null(gc->cert_error);
    assert_true(str_starts_with(gc->cert_error, prefix));
    free(prefix);
    global_conf_destroy(gc);
}

static void
test_key_missing(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "local.pem",
                                    "private_key", "missing.key", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:private_key: "
                      "%s/missing.key: No such file or directory");
    global_conf_destroy(gc);
}

static void
test_ca_cert_missing(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "leaf.pem",
                                    "private_key", "leaf.key",
                                    "ca_cert", "missing-ca.pem", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:ca_cert: "
                      "%s/missing-ca.pem: No such file or directory");
    global_conf_destroy(gc);
}

static void
test_ca_cert_not_ca(void **state)
{
    (void) state;
    struct global_conf *gc = create("certificate", "leaf.pem",
                                    "private_key", "leaf.key",
                                    "ca_cert", "local.pem", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:ca_cert: "
                      "%s/local.pem: not a CA certificate (no "
                      "basicConstraints CA:TRUE)");
    global_conf_destroy(gc);
}

static void
test_control_character_in_path(void **state)
{
    (void) state;
    struct smap oc;

    smap_init(&oc);
    smap_add(&oc, "certificate", "/etc/cert\n.pem");
    smap_add(&oc, "private_key", "/etc/key.pem");
    struct global_conf *gc = global_conf_create(&oc);
    assert_string_equal(gc->cert_error, "Open_vSwitch: other_config:"
                        "certificate: contains a control character");
    global_conf_destroy(gc);
    smap_destroy(&oc);
}

/* The first problem is reported; each file is still digested. */
static void
test_first_error_wins(void **state)
{
    (void) state;
    static const uint8_t zeros[32] = { 0 };
    struct global_conf *gc = create("certificate", "nocn.pem",
                                    "private_key", "other.key",
                                    "ca_cert", "local.pem", NULL);

    assert_cert_error(gc, "Open_vSwitch: other_config:certificate: "
                      "%s/nocn.pem: certificate subject has no CN");
    assert_memory_not_equal(gc->certificate_digest, zeros, 32);
    assert_memory_not_equal(gc->private_key_digest, zeros, 32);
    assert_memory_not_equal(gc->ca_cert_digest, zeros, 32);
    global_conf_destroy(gc);
}

/* A certificate replaced at the same path is a change; the same files
 * are not. */
static void
test_certs_equal_rotation(void **state)
{
    (void) state;
    EVP_PKEY *key = ut_key_write(tmpdir, "rot.key");
    X509_free(ut_cert_write(tmpdir, "rot.pem", "rot", NULL, false, key,
                            NULL, NULL));

    struct global_conf *a = create("certificate", "rot.pem",
                                   "private_key", "rot.key", NULL);
    struct global_conf *b = create("certificate", "rot.pem",
                                   "private_key", "rot.key", NULL);
    assert_null(a->cert_error);
    assert_true(global_conf_certs_equal(a, b));

    /* Same name, same key, new certificate. */
    X509_free(ut_cert_write(tmpdir, "rot.pem", "rot", NULL, false, key,
                            NULL, NULL));
    struct global_conf *c = create("certificate", "rot.pem",
                                   "private_key", "rot.key", NULL);
    assert_null(c->cert_error);
    assert_string_equal(a->local_name, c->local_name);
    assert_false(global_conf_certs_equal(a, c));

    /* A different path with the same contents is a change too. */
    struct global_conf *d = create("certificate", "local.pem",
                                   "private_key", "local.key", NULL);
    struct global_conf *e = create("certificate", "local.pem",
                                   "private_key", "local.key",
                                   "ca_cert", "ca.pem", NULL);
    assert_false(global_conf_certs_equal(d, e));
    assert_false(global_conf_certs_equal(d, NULL));
    assert_true(global_conf_certs_equal(NULL, NULL));

    global_conf_destroy(a);
    global_conf_destroy(b);
    global_conf_destroy(c);
    global_conf_destroy(d);
    global_conf_destroy(e);
    EVP_PKEY_free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skb_mark_valid),
        cmocka_unit_test(test_skb_mark_empty),
        cmocka_unit_test(test_skb_mark_not_a_number),
        cmocka_unit_test(test_skb_mark_missing_digits),
        cmocka_unit_test(test_skb_mark_leading_zero),
        cmocka_unit_test(test_skb_mark_too_large),
        cmocka_unit_test(test_skb_mark_bad_mask),
        cmocka_unit_test(test_skb_mark_zero_mask),
        cmocka_unit_test(test_skb_mark_outside_mask),
        cmocka_unit_test(test_skb_mark_in_conf),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_empty_values_unset),
        cmocka_unit_test(test_self_signed_valid),
        cmocka_unit_test(test_ca_valid),
        cmocka_unit_test(test_certificate_without_key),
        cmocka_unit_test(test_key_without_certificate),
        cmocka_unit_test(test_ca_without_certificate),
        cmocka_unit_test(test_certificate_missing),
        cmocka_unit_test(test_certificate_is_directory),
        cmocka_unit_test(test_certificate_garbage),
        cmocka_unit_test(test_certificate_no_cn),
        cmocka_unit_test(test_certificate_san_lacks_cn),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_key_garbage),
        cmocka_unit_test(test_key_missing),
        cmocka_unit_test(test_ca_cert_missing),
        cmocka_unit_test(test_ca_cert_not_ca),
        cmocka_unit_test(test_control_character_in_path),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_certs_equal_rotation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
