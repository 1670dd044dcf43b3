/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests for monitor/tunnel: one test per validation rule, asserting the
 * exact message; valid PSK, self-signed and CA configurations for every
 * tunnel type over IPv4 and IPv6; equality (PSK, rotated certificate
 * files); and the "tunnels/show" text, which must never contain the PSK.
 *
 * Certificates and keys are generated at test time with the OpenSSL API
 * in a mkdtemp() directory.  In expected messages and in option values
 * below, "@" stands for that directory followed by "/".
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
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ds.h"
#include "global-conf.h"
#include "secret.h"
#include "smap.h"
#include "tunnel.h"
#include "unit-util.h"
#include "util.h"
#include "x509.h"

static char *tmpdir;

/* Global configurations used by the tests. */
static struct global_conf *g_none;      /* Nothing set. */
static struct global_conf *g_self;      /* certificate + private_key. */
static struct global_conf *g_ca;        /* ... + ca_cert. */
static struct global_conf *g_cert_only; /* certificate, no private_key. */
static struct global_conf *g_bad;       /* certificate file missing. */

static int
group_setup(void **state)
{
    (void) state;
    static const char *const other[] = { "other", NULL };
    static const char *const none[] = { NULL };

    tmpdir = ut_tmpdir_create("test-tunnel");
    if (!tmpdir) {
        return -1;
    }

    ut_write_cert_set(tmpdir);
    EVP_PKEY *remote = ut_key_read(tmpdir, "remote.key");
    X509_free(ut_cert_write(tmpdir, "nocn.pem", NULL, none, false, remote,
                            NULL, NULL));
    X509_free(ut_cert_write(tmpdir, "nosan.pem", "remote", other, false,
                            remote, NULL, NULL));
    EVP_PKEY_free(remote);

    static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                                  "-----END CERTIFICATE-----\n";
    ut_write_file(tmpdir, "garbage.pem", garbage, strlen(garbage));

    g_none = ut_global_conf(tmpdir, NULL);
    g_self = ut_global_conf(tmpdir, "certificate", "@local.pem",
                            "private_key", "@local.key", NULL);
    g_ca = ut_global_conf(tmpdir, "certificate", "@leaf.pem",
                          "private_key", "@leaf.key",
                          "ca_cert", "@ca.pem", NULL);
    g_cert_only = ut_global_conf(tmpdir, "certificate", "@local.pem", NULL);
    g_bad = ut_global_conf(tmpdir, "certificate", "@missing.pem",
                           "private_key", "@local.key", NULL);
    if (g_self->cert_error || g_ca->cert_error) {
        return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    (void) state;
    ut_tmpdir_remove(tmpdir);
    free(tmpdir);
    global_conf_destroy(g_none);
    global_conf_destroy(g_self);
    global_conf_destroy(g_ca);
    global_conf_destroy(g_cert_only);
    global_conf_destroy(g_bad);
    return 0;
}

/* Fills 'options' from pairs of key and value ("@" expanded in values),
 * ending with NULL. */
static void
options_from_valist(struct smap *options, const char *key, va_list args)
{
    smap_init(options);
    for (; key; key = va_arg(args, const char *)) {
        char *value = ut_expand(tmpdir, va_arg(args, const char *));
        smap_replace(options, key, value);
        free(value);
    }
}

/* Validates interface "vx0" of 'type' with 'global' and the options that
 * follow; returns the error, or NULL with the conf in '*ret' (if 'ret' is
 * nonnull, else it is destroyed). */
static char *
validate(const char *type, const struct global_conf *global,
         struct tunnel_conf **ret, const char *key, ...)
{
    struct tunnel_conf *conf = (void *) 1;
    struct smap options;
    va_list args;
    char *error;

    va_start(args, key);
    options_from_valist(&options, key, args);
    va_end(args);

    error = tunnel_conf_create("vx0", type, &options, global, &conf);
    if (error) {
        assert_null(conf);
    } else {
        assert_non_null(conf);
    }
    if (ret) {
        *ret = conf;
    } else {
        tunnel_conf_destroy(conf);
    }
    smap_destroy(&options);
    return error;
}

/* Asserts that 'error' equals 'expected' ("@" expanded) and frees it. */
static void
assert_error(char *error, const char *expected)
{
    char *exp = ut_expand(tmpdir, expected);

    if (!error) {
        fail_msg("expected error: %s", exp);
    }
    assert_string_equal(error, exp);
    free(exp);
    free(error);
}

static void
assert_valid(char *error)
{
    if (error) {
        fail_msg("unexpected error: %s", error);
    }
}

/* Type. */

static void
test_type_unknown(void **state)
{
    (void) state;
    assert_error(validate("stt", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", NULL),
                 "vx0: type: \"stt\" does not support IPsec (only gre, "
                 "geneve and vxlan do)");
    assert_error(validate("ip6gre", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", NULL),
                 "vx0: type: \"ip6gre\" does not support IPsec (only gre, "
                 "geneve and vxlan do)");
    assert_error(validate(NULL, g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", NULL),
                 "vx0: type: \"\" does not support IPsec (only gre, "
                 "geneve and vxlan do)");
}

/* Addresses. */

static void
test_remote_ip_missing(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: not set");
}

static void
test_remote_ip_malformed(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"10.0.0\" is not an IP address");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"\" is not an IP address");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.1/24",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"10.0.0.1/24\" is not an IP "
                 "address");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "fe80::1%eth0",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"fe80::1%eth0\" is not an IP "
                 "address");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "010.0.0.1",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"010.0.0.1\" is not an IP "
                 "address");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "peer.example",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"peer.example\" is not an IP "
                 "address");
}

static void
test_remote_ip_flow(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "flow",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"flow\" is not supported with "
                 "IPsec (IKE needs a fixed peer address)");
}

static void
test_remote_ip_unspecified(void **state)
{
    (void) state;
    assert_error(validate("gre", g_none, NULL, "remote_ip", "0.0.0.0",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"0.0.0.0\" is not a unicast "
                 "address (unspecified)");
    assert_error(validate("gre", g_none, NULL, "remote_ip", "::",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"::\" is not a unicast address "
                 "(unspecified)");
}

static void
test_remote_ip_multicast(void **state)
{
    (void) state;
    assert_error(validate("gre", g_none, NULL, "remote_ip", "224.0.0.1",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"224.0.0.1\" is not a unicast "
                 "address (multicast)");
    assert_error(validate("gre", g_none, NULL, "remote_ip",
                          "239.255.255.255", "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"239.255.255.255\" is not a "
                 "unicast address (multicast)");
    assert_error(validate("gre", g_none, NULL, "remote_ip", "ff02::1",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"ff02::1\" is not a unicast "
                 "address (multicast)");
}

static void
test_remote_ip_broadcast(void **state)
{
    (void) state;
    assert_error(validate("gre", g_none, NULL, "remote_ip",
                          "255.255.255.255", "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: \"255.255.255.255\" is not a "
                 "unicast address (broadcast)");
}

static void
test_local_ip_malformed(void **state)
{
    (void) state;
    assert_error(validate("geneve", g_none, NULL, "remote_ip", "10.0.0.2",
                          "local_ip", "10.0.0.256", "psk", "swordfish",
                          NULL),
                 "vx0: options:local_ip: \"10.0.0.256\" is not an IP "
                 "address");
}

static void
test_local_ip_flow(void **state)
{
    (void) state;
    assert_error(validate("geneve", g_none, NULL, "remote_ip", "10.0.0.2",
                          "local_ip", "flow", "psk", "swordfish", NULL),
                 "vx0: options:local_ip: \"flow\" is not supported with "
                 "IPsec (IKE needs a fixed local address)");
}

static void
test_local_ip_not_unicast(void **state)
{
    (void) state;
    assert_error(validate("geneve", g_none, NULL, "remote_ip", "10.0.0.2",
                          "local_ip", "0.0.0.0", "psk", "swordfish", NULL),
                 "vx0: options:local_ip: \"0.0.0.0\" is not a unicast "
                 "address (unspecified)");
    assert_error(validate("geneve", g_none, NULL, "remote_ip", "2001:db8::2",
                          "local_ip", "ff05::2", "psk", "swordfish", NULL),
                 "vx0: options:local_ip: \"ff05::2\" is not a unicast "
                 "address (multicast)");
}

static void
test_address_family_mismatch(void **state)
{
    (void) state;
    assert_error(validate("gre", g_none, NULL, "remote_ip", "10.0.0.2",
                          "local_ip", "2001:db8::1", "psk", "swordfish",
                          NULL),
                 "vx0: options:local_ip: \"2001:db8::1\" is IPv6 but "
                 "options:remote_ip \"10.0.0.2\" is IPv4");
    assert_error(validate("gre", g_none, NULL, "remote_ip", "2001:db8::2",
                          "local_ip", "10.0.0.1", "psk", "swordfish", NULL),
                 "vx0: options:local_ip: \"10.0.0.1\" is IPv4 but "
                 "options:remote_ip \"2001:db8::2\" is IPv6");
}

static void
test_canonical_addresses(void **state)
{
    (void) state;
    struct tunnel_conf *conf;

    assert_valid(validate("gre", g_none, &conf,
                          "remote_ip", "2001:DB8:0:0:0:0:0:2",
                          "local_ip", "2001:0db8::0001", "psk", "swordfish",
                          NULL));
    assert_int_equal(conf->af, AF_INET6);
    assert_string_equal(conf->remote_ip, "2001:db8::2");
    assert_string_equal(conf->local_ip, "2001:db8::1");
    tunnel_conf_destroy(conf);
}

/* PSK. */

static void
test_psk_with_remote_cert(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "remote_cert", "@remote.pem",
                          NULL),
                 "vx0: options:psk: cannot be combined with "
                 "options:remote_cert (choose PSK or certificate "
                 "authentication)");
}

static void
test_psk_with_remote_name(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "remote_name", "remote",
                          NULL),
                 "vx0: options:psk: cannot be combined with "
                 "options:remote_name (choose PSK or certificate "
                 "authentication)");
}

static void
test_psk_empty(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "", NULL),
                 "vx0: options:psk: empty");
}

static void
test_psk_control_character(void **state)
{
    (void) state;
    static const char *const psks[] = {
        "sword\nfish", "sword\rfish", "\tswordfish", "swordfish\x7f",
        "sword\x01" "fish",
    };

    for (size_t i = 0; i < ARRAY_SIZE(psks); i++) {
        assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                              "psk", psks[i], NULL),
                     "vx0: options:psk: contains a control character");
    }
}

static void
test_psk_too_long(void **state)
{
    (void) state;
    char psk[1026];
    struct tunnel_conf *conf;

    memset(psk, 'k', 1025);
    psk[1025] = '\0';
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", psk, NULL),
                 "vx0: options:psk: longer than 1024 bytes");

    psk[1024] = '\0';
    assert_valid(validate("vxlan", g_none, &conf, "remote_ip", "10.0.0.2",
                          "psk", psk, NULL));
    assert_int_equal(secret_size(conf->psk), 1024);
    tunnel_conf_destroy(conf);
}

/* A PSK tunnel does not use the global certificate settings, and they do
 * not make it invalid (upstream refuses the combination). */
static void
test_psk_with_global_certs(void **state)
{
    (void) state;
    const struct global_conf *globals[] = { g_self, g_ca, g_bad };

    for (size_t i = 0; i < ARRAY_SIZE(globals); i++) {
        struct tunnel_conf *conf;

        assert_valid(validate("gre", globals[i], &conf,
                              "remote_ip", "10.0.0.2", "psk", "swordfish",
                              NULL));
        assert_int_equal(conf->auth, TUNNEL_AUTH_PSK);
        assert_null(conf->certificate);
        assert_null(conf->private_key);
        assert_null(conf->ca_cert);
        assert_null(conf->local_name);
        assert_null(conf->remote_name);
        tunnel_conf_destroy(conf);
    }
}

/* Certificates. */

static void
test_no_auth_method(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          NULL),
                 "vx0: options: no authentication method (set psk, "
                 "remote_cert or remote_name)");
}

static void
test_cert_needs_certificate(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem", NULL),
                 "vx0: options:remote_cert: certificate authentication "
                 "needs Open_vSwitch other_config:certificate (the local "
                 "certificate)");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", "remote", NULL),
                 "vx0: options:remote_name: certificate authentication "
                 "needs Open_vSwitch other_config:certificate (the local "
                 "certificate)");
    /* An unknown global configuration is an empty one. */
    assert_error(validate("vxlan", NULL, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem", NULL),
                 "vx0: options:remote_cert: certificate authentication "
                 "needs Open_vSwitch other_config:certificate (the local "
                 "certificate)");
}

static void
test_cert_needs_private_key(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_cert_only, NULL, "remote_ip",
                          "10.0.0.2", "remote_cert", "@remote.pem", NULL),
                 "vx0: options:remote_cert: certificate authentication "
                 "needs Open_vSwitch other_config:private_key (the local "
                 "private key)");
}

static void
test_cert_global_error(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_bad, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem", NULL),
                 "vx0: Open_vSwitch: other_config:certificate: "
                 "@missing.pem: No such file or directory");
}

static void
test_remote_cert_empty(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "", NULL),
                 "vx0: options:remote_cert: empty");
}

static void
test_remote_cert_missing(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@nope.pem", NULL),
                 "vx0: options:remote_cert: @nope.pem: No such file or "
                 "directory");
}

/* Running as root, a mode-000 file would still be readable, so a
 * directory stands in for a path that cannot be read as a file. */
static void
test_remote_cert_unreadable(void **state)
{
    (void) state;
    char *error = validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                           "remote_cert", tmpdir, NULL);
    char *expected = xasprintf("vx0: options:remote_cert: %s: is a "
                               "directory", tmpdir);

    assert_non_null(error);
    assert_string_equal(error, expected);
    free(expected);
    free(error);
}

static void
test_remote_cert_garbage(void **state)
{
    (void) state;
    char *error = validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                           "remote_cert", "@garbage.pem", NULL);
    char *prefix = ut_expand(tmpdir, "vx0: options:remote_cert: "
                             "@garbage.pem: no valid PEM certificate: ");

    assert_non_null(error);
    assert_true(str_starts_with(error, prefix));
    /* The OpenSSL reason follows. */
    assert_true(strlen(error) > strlen(prefix));
    free(prefix);
    free(error);
}

static void
test_remote_cert_no_cn(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@nocn.pem", NULL),
                 "vx0: options:remote_cert: @nocn.pem: certificate subject "
                 "has no CN");
}

static void
test_remote_cert_san_lacks_cn(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@nosan.pem", NULL),
                 "vx0: options:remote_cert: @nosan.pem: subjectAltName has "
                 "no DNS entry \"remote\" equal to the CN (IPsec peers "
                 "identify each other by it)");
}

static void
test_remote_name_differs_from_cn(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem",
                          "remote_name", "Remote", NULL),
                 "vx0: options:remote_name: \"Remote\" differs from the CN "
                 "\"remote\" of options:remote_cert");
}

static void
test_remote_name_matches_cn(void **state)
{
    (void) state;
    struct tunnel_conf *conf;

    assert_valid(validate("vxlan", g_self, &conf, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem",
                          "remote_name", "remote", NULL));
    assert_int_equal(conf->auth, TUNNEL_AUTH_PEER_CERT);
    assert_string_equal(conf->remote_name, "remote");
    tunnel_conf_destroy(conf);
}

static void
test_remote_name_empty(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", "", NULL),
                 "vx0: options:remote_name: empty");
}

static void
test_remote_name_too_long(void **state)
{
    (void) state;
    char name[257];

    memset(name, 'n', 256);
    name[256] = '\0';
    assert_error(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", name, NULL),
                 "vx0: options:remote_name: longer than 255 bytes");
    name[255] = '\0';
    assert_valid(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", name, NULL));
}

static void
test_remote_name_needs_ca_cert(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", "remote", NULL),
                 "vx0: options:remote_name: needs options:remote_cert "
                 "(self-signed peer certificate) or Open_vSwitch "
                 "other_config:ca_cert (CA-signed peer certificates)");
}

/* Option text. */

static void
test_option_control_characters(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2\n",
                          "psk", "swordfish", NULL),
                 "vx0: options:remote_ip: contains a control character");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "local_ip", "10.0.0.1\r", "psk", "swordfish",
                          NULL),
                 "vx0: options:local_ip: contains a control character");
    assert_error(validate("vxlan", g_self, NULL, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem\n", NULL),
                 "vx0: options:remote_cert: contains a control character");
    assert_error(validate("vxlan", g_ca, NULL, "remote_ip", "10.0.0.2",
                          "remote_name", "peer\nrightid=x", NULL),
                 "vx0: options:remote_name: contains a control character");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish",
                          "ipsec_ike", "aes256\nconn evil", NULL),
                 "vx0: options:ipsec_ike: contains a control character");
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_i\tke", "aes256", NULL),
                 "vx0: \"options:ipsec_i\\tke\": contains a control "
                 "character");
    /* Options that are not ovsec's are left to ovs-vswitchd. */
    assert_valid(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "other", "a\nb", NULL));
}

static void
test_ipsec_option_empty_name(void **state)
{
    (void) state;
    assert_error(validate("vxlan", g_none, NULL, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_", "yes", NULL),
                 "vx0: options:ipsec_: empty option name after the "
                 "\"ipsec_\" prefix");
}

static void
test_ipsec_options_copied(void **state)
{
    (void) state;
    struct tunnel_conf *conf;

    assert_valid(validate("vxlan", g_none, &conf, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_ike", "aes256-sha256",
                          "ipsec_encapsulation", "yes", "ipsec_esp", "",
                          "key", "7", NULL));
    assert_int_equal(smap_count(&conf->ipsec_options), 3);
    assert_string_equal(smap_get(&conf->ipsec_options, "ike"),
                        "aes256-sha256");
    assert_string_equal(smap_get(&conf->ipsec_options, "encapsulation"),
                        "yes");
    assert_string_equal(smap_get(&conf->ipsec_options, "esp"), "");
    assert_null(smap_get(&conf->ipsec_options, "key"));
    tunnel_conf_destroy(conf);
}

/* Valid configurations: every type, both families, every method. */

static void
check_valid(const char *type, enum tunnel_type ttype, int af,
            enum tunnel_auth auth)
{
    const char *remote = af == AF_INET ? "192.0.2.2" : "2001:db8::2";
    const char *local = af == AF_INET ? "192.0.2.1" : "2001:db8::1";
    struct tunnel_conf *conf = NULL;
    char *remote_cert = NULL;
    char *error = NULL;

    switch (auth) {
    case TUNNEL_AUTH_PSK:
        error = validate(type, g_none, &conf, "remote_ip", remote,
                         "local_ip", local, "psk", "swordfish", NULL);
        break;
    case TUNNEL_AUTH_PEER_CERT:
        error = validate(type, g_self, &conf, "remote_ip", remote,
                         "local_ip", local, "remote_cert", "@remote.pem",
                         NULL);
        remote_cert = ut_path(tmpdir, "remote.pem");
        break;
    case TUNNEL_AUTH_CA:
        error = validate(type, g_ca, &conf, "remote_ip", remote,
                         "remote_name", "peer", NULL);
        break;
    }
    assert_valid(error);

    assert_int_equal(conf->type, ttype);
    assert_int_equal(conf->af, af);
    assert_int_equal(conf->auth, auth);
    assert_string_equal(conf->remote_ip, remote);
    if (auth == TUNNEL_AUTH_CA) {
        assert_null(conf->local_ip);
    } else {
        assert_string_equal(conf->local_ip, local);
    }

    uint8_t zeros[X509_DIGEST_SIZE] = { 0 };
    uint8_t digest[X509_DIGEST_SIZE];
    switch (auth) {
    case TUNNEL_AUTH_PSK: {
        size_t size;
        const void *bytes = secret_bytes(conf->psk, &size);
        assert_int_equal(size, 9);
        assert_memory_equal(bytes, "swordfish", 9);
        assert_null(conf->remote_cert);
        assert_null(conf->remote_name);
        assert_null(conf->certificate);
        assert_memory_equal(conf->remote_cert_digest, zeros, sizeof zeros);
        break;
    }
    case TUNNEL_AUTH_PEER_CERT:
        assert_null(conf->psk);
        assert_string_equal(conf->remote_cert, remote_cert);
        assert_string_equal(conf->remote_name, "remote");
        assert_string_equal(conf->certificate, g_self->certificate);
        assert_string_equal(conf->private_key, g_self->private_key);
        assert_string_equal(conf->local_name, "local");
        assert_null(conf->ca_cert);
        assert_int_equal(x509_file_digest(remote_cert, digest, NULL), 0);
        assert_memory_equal(conf->remote_cert_digest, digest,
                            sizeof digest);
        break;
    case TUNNEL_AUTH_CA:
        assert_null(conf->psk);
        assert_null(conf->remote_cert);
        assert_string_equal(conf->remote_name, "peer");
        assert_string_equal(conf->certificate, g_ca->certificate);
        assert_string_equal(conf->private_key, g_ca->private_key);
        assert_string_equal(conf->ca_cert, g_ca->ca_cert);
        assert_string_equal(conf->local_name, "leaf");
        assert_memory_equal(conf->remote_cert_digest, zeros, sizeof zeros);
        break;
    }
    free(remote_cert);
    tunnel_conf_destroy(conf);
}

static void
test_valid_configurations(void **state)
{
    (void) state;
    static const struct {
        const char *name;
        enum tunnel_type type;
    } types[] = {
        { "gre", TUNNEL_GRE },
        { "geneve", TUNNEL_GENEVE },
        { "vxlan", TUNNEL_VXLAN },
    };
    static const int afs[] = { AF_INET, AF_INET6 };
    static const enum tunnel_auth auths[] = {
        TUNNEL_AUTH_PSK, TUNNEL_AUTH_PEER_CERT, TUNNEL_AUTH_CA,
    };

    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(afs); j++) {
            for (size_t k = 0; k < ARRAY_SIZE(auths); k++) {
                check_valid(types[i].name, types[i].type, afs[j], auths[k]);
            }
        }
    }
}

/* With remote_cert and a global ca_cert, the peer certificate is pinned
 * (upstream does the same). */
static void
test_remote_cert_wins_over_ca(void **state)
{
    (void) state;
    struct tunnel_conf *conf;

    assert_valid(validate("gre", g_ca, &conf, "remote_ip", "10.0.0.2",
                          "remote_cert", "@remote.pem", NULL));
    assert_int_equal(conf->auth, TUNNEL_AUTH_PEER_CERT);
    assert_string_equal(conf->local_name, "leaf");
    tunnel_conf_destroy(conf);
}

/* Errors never contain the PSK. */
static void
test_errors_hide_psk(void **state)
{
    (void) state;
    static const char psk[] = "HunterTwo";
    char *long_psk = xmalloc(2000);
    char *errors[5];

    memset(long_psk, 0, 2000);
    for (size_t i = 0; i < 1999 / strlen(psk); i++) {
        strcat(long_psk, psk);
    }
    errors[0] = validate("gre", g_self, NULL, "remote_ip", "10.0.0.2",
                         "psk", psk, "remote_cert", "@remote.pem", NULL);
    errors[1] = validate("gre", g_none, NULL, "remote_ip", "10.0.0.2",
                         "psk", long_psk, NULL);
    errors[2] = validate("gre", g_none, NULL, "remote_ip", "10.0.0.2",
                         "psk", "HunterTwo\n", NULL);
    errors[3] = validate("gre", g_none, NULL, "remote_ip", "10.0.0",
                         "psk", psk, NULL);
    errors[4] = validate("stt", g_none, NULL, "remote_ip", "10.0.0.2",
                         "psk", psk, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
        assert_non_null(errors[i]);
        assert_null(strstr(errors[i], "Hunter"));
        free(errors[i]);
    }
    free(long_psk);
}

/* Equality. */

static void
test_equal(void **state)
{
    (void) state;
    struct tunnel_conf *a, *b, *c;

    assert_true(tunnel_conf_equal(NULL, NULL));

    assert_valid(validate("vxlan", g_none, &a, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_ike", "aes", NULL));
    assert_valid(validate("vxlan", g_none, &b, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_ike", "aes", NULL));
    assert_true(tunnel_conf_equal(a, b));
    assert_false(tunnel_conf_equal(a, NULL));
    assert_false(tunnel_conf_equal(NULL, a));

    /* Changed PSK (same length, then other length). */
    assert_valid(validate("vxlan", g_none, &c, "remote_ip", "10.0.0.2",
                          "psk", "swordfisH", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);
    assert_valid(validate("vxlan", g_none, &c, "remote_ip", "10.0.0.2",
                          "psk", "swordfish2", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);

    /* Changed custom option, type, address, local address. */
    assert_valid(validate("vxlan", g_none, &c, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_ike", "aes128", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);
    assert_valid(validate("geneve", g_none, &c, "remote_ip", "10.0.0.2",
                          "psk", "swordfish", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);
    assert_valid(validate("vxlan", g_none, &c, "remote_ip", "10.0.0.3",
                          "psk", "swordfish", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);
    assert_valid(validate("vxlan", g_none, &c, "remote_ip", "10.0.0.2",
                          "local_ip", "10.0.0.1", "psk", "swordfish",
                          "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    tunnel_conf_destroy(c);

    /* Same address written differently is no change. */
    tunnel_conf_destroy(b);
    assert_valid(validate("vxlan", g_none, &b, "remote_ip", "2001:db8::2",
                          "psk", "swordfish", NULL));
    assert_valid(validate("vxlan", g_none, &c, "remote_ip",
                          "2001:DB8:0::2", "psk", "swordfish", NULL));
    assert_true(tunnel_conf_equal(b, c));
    tunnel_conf_destroy(c);

    /* Other authentication. */
    assert_valid(validate("vxlan", g_ca, &c, "remote_ip", "10.0.0.2",
                          "remote_name", "peer", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(a, c));
    struct tunnel_conf *d;
    assert_valid(validate("vxlan", g_ca, &d, "remote_ip", "10.0.0.2",
                          "remote_name", "peer2", "ipsec_ike", "aes", NULL));
    assert_false(tunnel_conf_equal(c, d));
    tunnel_conf_destroy(d);
    tunnel_conf_destroy(c);

    tunnel_conf_destroy(a);
    tunnel_conf_destroy(b);
}

/* A remote certificate replaced at the same path is a change. */
static void
test_equal_rotated_remote_cert(void **state)
{
    (void) state;
    struct tunnel_conf *a, *b, *c;
    EVP_PKEY *key = ut_key_write(tmpdir, "rot.key");

    X509_free(ut_cert_write(tmpdir, "rot.pem", "rot", NULL, false, key,
                            NULL, NULL));
    assert_valid(validate("gre", g_self, &a, "remote_ip", "10.0.0.2",
                          "remote_cert", "@rot.pem", NULL));
    assert_valid(validate("gre", g_self, &b, "remote_ip", "10.0.0.2",
                          "remote_cert", "@rot.pem", NULL));
    assert_true(tunnel_conf_equal(a, b));

    X509_free(ut_cert_write(tmpdir, "rot.pem", "rot", NULL, false, key,
                            NULL, NULL));
    assert_valid(validate("gre", g_self, &c, "remote_ip", "10.0.0.2",
                          "remote_cert", "@rot.pem", NULL));
    assert_string_equal(a->remote_cert, c->remote_cert);
    assert_string_equal(a->remote_name, c->remote_name);
    assert_false(tunnel_conf_equal(a, c));

    tunnel_conf_destroy(a);
    tunnel_conf_destroy(b);
    tunnel_conf_destroy(c);
    EVP_PKEY_free(key);
}

/* Show output. */

/* Initializes 't' as interface "vx0" of 'type' with the options that
 * follow, validated against 'global'. */
static void
tunnel_setup(struct tunnel *t, const char *type,
             const struct global_conf *global, const char *key, ...)
{
    va_list args;

    memset(t, 0, sizeof *t);
    t->name = xstrdup("vx0");
    t->type = xstrdup(type);
    t->version = 3;
    t->ofport = -1;
    t->cfm_fault = -1;
    va_start(args, key);
    options_from_valist(&t->options, key, args);
    va_end(args);
    t->reason = tunnel_conf_create(t->name, type, &t->options, global,
                                   &t->conf);
    t->state = t->reason ? TUNNEL_S_INVALID : TUNNEL_S_CONFIGURED;
}

static void
tunnel_teardown(struct tunnel *t)
{
    free(t->name);
    free(t->type);
    free(t->reason);
    tunnel_conf_destroy(t->conf);
    smap_destroy(&t->options);
}

static void
assert_format(const struct tunnel *t, const struct global_conf *global,
              const char *expected)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    char *exp = ut_expand(tmpdir, expected);

    tunnel_format(t, global, &out);
    assert_string_equal(ds_cstr(&out), exp);
    assert_null(strstr(ds_cstr(&out), "swordfish"));
    free(exp);
    ds_destroy(&out);
}

static void
test_format_psk(void **state)
{
    (void) state;
    struct tunnel t;

    tunnel_setup(&t, "vxlan", g_self, "remote_ip", "10.0.0.2",
                 "psk", "swordfish", "ipsec_ike", "aes256-sha256",
                 "ipsec_esp", "aes256", NULL);
    t.ofport = 1;
    t.cfm_fault = 0;
    assert_format(&t, g_self,
                  "Interface name: vx0 v3 (CONFIGURED)\n"
                  "  Tunnel Type:    vxlan\n"
                  "  Local IP:       %defaultroute\n"
                  "  Remote IP:      10.0.0.2\n"
                  "  Address Family: IPv4\n"
                  "  SKB mark:       None\n"
                  "  Local cert:     None\n"
                  "  Local name:     None\n"
                  "  Local key:      None\n"
                  "  Remote cert:    None\n"
                  "  Remote name:    None\n"
                  "  CA cert:        None\n"
                  "  PSK:            <redacted>\n"
                  "  Custom Options: {'esp': 'aes256', "
                  "'ike': 'aes256-sha256'}\n"
                  "  Ofport:         1\n"
                  "  CFM state:      Up\n");
    tunnel_teardown(&t);
}

static void
test_format_self_signed(void **state)
{
    (void) state;
    struct global_conf *g = ut_global_conf(tmpdir,
                                           "certificate", "@local.pem",
                                           "private_key", "@local.key",
                                           "ipsec_skb_mark", "0x1/0x1", NULL);
    struct tunnel t;

    tunnel_setup(&t, "gre", g, "remote_ip", "2001:db8::2",
                 "local_ip", "2001:db8::1", "remote_cert", "@remote.pem",
                 NULL);
    t.state = TUNNEL_S_PENDING;
    t.cfm_fault = 1;
    assert_format(&t, g,
                  "Interface name: vx0 v3 (PENDING)\n"
                  "  Tunnel Type:    gre\n"
                  "  Local IP:       2001:db8::1\n"
                  "  Remote IP:      2001:db8::2\n"
                  "  Address Family: IPv6\n"
                  "  SKB mark:       0x1/0x1\n"
                  "  Local cert:     @local.pem\n"
                  "  Local name:     local\n"
                  "  Local key:      @local.key\n"
                  "  Remote cert:    @remote.pem\n"
                  "  Remote name:    remote\n"
                  "  CA cert:        None\n"
                  "  PSK:            None\n"
                  "  Custom Options: {}\n"
                  "  Ofport:         Not assigned\n"
                  "  CFM state:      Down\n");
    tunnel_teardown(&t);
    global_conf_destroy(g);
}

static void
test_format_ca(void **state)
{
    (void) state;
    struct tunnel t;

    tunnel_setup(&t, "geneve", g_ca, "remote_ip", "10.0.0.2",
                 "remote_name", "peer", NULL);
    t.ofport = 7;
    assert_format(&t, g_ca,
                  "Interface name: vx0 v3 (CONFIGURED)\n"
                  "  Tunnel Type:    geneve\n"
                  "  Local IP:       %defaultroute\n"
                  "  Remote IP:      10.0.0.2\n"
                  "  Address Family: IPv4\n"
                  "  SKB mark:       None\n"
                  "  Local cert:     @leaf.pem\n"
                  "  Local name:     leaf\n"
                  "  Local key:      @leaf.key\n"
                  "  Remote cert:    None\n"
                  "  Remote name:    peer\n"
                  "  CA cert:        @ca.pem\n"
                  "  PSK:            None\n"
                  "  Custom Options: {}\n"
                  "  Ofport:         7\n"
                  "  CFM state:      Disabled\n");
    tunnel_teardown(&t);
}

/* An INVALID tunnel shows its reason on its own line and its raw
 * settings, the PSK still redacted. */
static void
test_format_invalid(void **state)
{
    (void) state;
    struct tunnel t;

    tunnel_setup(&t, "vxlan", g_self, "remote_ip", "10.0.0.2",
                 "local_ip", "2001:db8::1", "psk", "swordfish",
                 "ipsec_ike", "it's \"x\"", NULL);
    assert_int_equal(t.state, TUNNEL_S_INVALID);
    assert_null(t.conf);
    assert_format(&t, g_self,
                  "Interface name: vx0 v3 (INVALID)\n"
                  "  Reason:         options:local_ip: \"2001:db8::1\" is "
                  "IPv6 but options:remote_ip \"10.0.0.2\" is IPv4\n"
                  "  Tunnel Type:    vxlan\n"
                  "  Local IP:       2001:db8::1\n"
                  "  Remote IP:      10.0.0.2\n"
                  "  Address Family: None\n"
                  "  SKB mark:       None\n"
                  "  Local cert:     @local.pem\n"
                  "  Local name:     local\n"
                  "  Local key:      @local.key\n"
                  "  Remote cert:    None\n"
                  "  Remote name:    None\n"
                  "  CA cert:        None\n"
                  "  PSK:            <redacted>\n"
                  "  Custom Options: {'ike': 'it\\'s \"x\"'}\n"
                  "  Ofport:         Not assigned\n"
                  "  CFM state:      Disabled\n");
    tunnel_teardown(&t);
}

/* Control characters in raw options stay escaped, on one line; a FAILED
 * tunnel shows the backend's reason. */
static void
test_format_escapes(void **state)
{
    (void) state;
    struct tunnel t;

    tunnel_setup(&t, "vxlan", NULL, "remote_ip", "10.0.0.2\n",
                 "psk", "swordfish\n", "ipsec_a'b", "x\ty\\", NULL);
    assert_format(&t, NULL,
                  "Interface name: vx0 v3 (INVALID)\n"
                  "  Reason:         options:remote_ip: contains a control "
                  "character\n"
                  "  Tunnel Type:    vxlan\n"
                  "  Local IP:       %defaultroute\n"
                  "  Remote IP:      10.0.0.2\\x0a\n"
                  "  Address Family: None\n"
                  "  SKB mark:       None\n"
                  "  Local cert:     None\n"
                  "  Local name:     None\n"
                  "  Local key:      None\n"
                  "  Remote cert:    None\n"
                  "  Remote name:    None\n"
                  "  CA cert:        None\n"
                  "  PSK:            <redacted>\n"
                  "  Custom Options: {\"a'b\": 'x\\ty\\\\'}\n"
                  "  Ofport:         Not assigned\n"
                  "  CFM state:      Disabled\n");
    tunnel_teardown(&t);

    tunnel_setup(&t, "gre", g_none, "remote_ip", "10.0.0.2",
                 "psk", "swordfish", NULL);
    t.state = TUNNEL_S_FAILED;
    t.reason = xstrdup("charon refused: no shared key found");
    struct ds out = DS_EMPTY_INITIALIZER;
    tunnel_format(&t, g_none, &out);
    assert_true(str_starts_with(ds_cstr(&out),
                                "Interface name: vx0 v3 (FAILED)\n"
                                "  Reason:         charon refused: no shared "
                                "key found\n"
                                "  Tunnel Type:    gre\n"));
    assert_null(strstr(ds_cstr(&out), "swordfish"));
    ds_destroy(&out);
    tunnel_teardown(&t);
}

/* Misc. */

static void
test_want_ipsec(void **state)
{
    (void) state;
    static const char *const keys[] = { "psk", "remote_cert",
                                        "remote_name" };
    struct smap options;

    smap_init(&options);
    smap_add(&options, "remote_ip", "10.0.0.2");
    smap_add(&options, "ipsec_ike", "aes");
    assert_false(tunnel_options_want_ipsec(&options));
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        smap_add(&options, keys[i], "");
        assert_true(tunnel_options_want_ipsec(&options));
        smap_remove(&options, keys[i]);
    }
    smap_destroy(&options);
}

static void
test_type_and_state_names(void **state)
{
    (void) state;
    enum tunnel_type type;

    assert_true(tunnel_type_from_string("gre", &type));
    assert_int_equal(type, TUNNEL_GRE);
    assert_true(tunnel_type_from_string("geneve", &type));
    assert_int_equal(type, TUNNEL_GENEVE);
    assert_true(tunnel_type_from_string("vxlan", &type));
    assert_int_equal(type, TUNNEL_VXLAN);
    assert_false(tunnel_type_from_string("GRE", &type));
    assert_false(tunnel_type_from_string("", &type));
    assert_false(tunnel_type_from_string(NULL, &type));

    for (int i = 0; i < TUNNEL_TYPE_N; i++) {
        assert_true(tunnel_type_from_string(tunnel_type_to_string(i),
                                            &type));
        assert_int_equal(type, i);
    }
    assert_string_equal(tunnel_state_to_string(TUNNEL_S_INVALID),
                        "INVALID");
    assert_string_equal(tunnel_state_to_string(TUNNEL_S_PENDING),
                        "PENDING");
    assert_string_equal(tunnel_state_to_string(TUNNEL_S_CONFIGURED),
                        "CONFIGURED");
    assert_string_equal(tunnel_state_to_string(TUNNEL_S_FAILED), "FAILED");
    tunnel_conf_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_unknown),
        cmocka_unit_test(test_remote_ip_missing),
        cmocka_unit_test(test_remote_ip_malformed),
        cmocka_unit_test(test_remote_ip_flow),
        cmocka_unit_test(test_remote_ip_unspecified),
        cmocka_unit_test(test_remote_ip_multicast),
        cmocka_unit_test(test_remote_ip_broadcast),
        cmocka_unit_test(test_local_ip_malformed),
        cmocka_unit_test(test_local_ip_flow),
        cmocka_unit_test(test_local_ip_not_unicast),
        cmocka_unit_test(test_address_family_mismatch),
        cmocka_unit_test(test_canonical_addresses),
        cmocka_unit_test(test_psk_with_remote_cert),
        cmocka_unit_test(test_psk_with_remote_name),
        cmocka_unit_test(test_psk_empty),
        cmocka_unit_test(test_psk_control_character),
        cmocka_unit_test(test_psk_too_long),
        cmocka_unit_test(test_psk_with_global_certs),
        cmocka_unit_test(test_no_auth_method),
        cmocka_unit_test(test_cert_needs_certificate),
        cmocka_unit_test(test_cert_needs_private_key),
        cmocka_unit_test(test_cert_global_error),
        cmocka_unit_test(test_remote_cert_empty),
        cmocka_unit_test(test_remote_cert_missing),
        cmocka_unit_test(test_remote_cert_unreadable),
        cmocka_unit_test(test_remote_cert_garbage),
        cmocka_unit_test(test_remote_cert_no_cn),
        cmocka_unit_test(test_remote_cert_san_lacks_cn),
        cmocka_unit_test(test_remote_name_differs_from_cn),
        cmocka_unit_test(test_remote_name_matches_cn),
        cmocka_unit_test(test_remote_name_empty),
        cmocka_unit_test(test_remote_name_too_long),
        cmocka_unit_test(test_remote_name_needs_ca_cert),
        cmocka_unit_test(test_option_control_characters),
        cmocka_unit_test(test_ipsec_option_empty_name),
        cmocka_unit_test(test_ipsec_options_copied),
        cmocka_unit_test(test_valid_configurations),
        cmocka_unit_test(test_remote_cert_wins_over_ca),
        cmocka_unit_test(test_errors_hide_psk),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_equal_rotated_remote_cert),
        cmocka_unit_test(test_format_psk),
        cmocka_unit_test(test_format_self_signed),
        cmocka_unit_test(test_format_ca),
        cmocka_unit_test(test_format_invalid),
        cmocka_unit_test(test_format_escapes),
        cmocka_unit_test(test_want_ipsec),
        cmocka_unit_test(test_type_and_state_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
