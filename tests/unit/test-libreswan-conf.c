/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for ike/libreswan-conf: version parsing, connection names
 * (and the names upstream misread), the exact ipsec.conf text of gre,
 * geneve and vxlan tunnels over IPv4 and IPv6 in PSK, peer-certificate and
 * CA modes for Libreswan 4 and 5, with and without --root-ipsec-conf and
 * --use-default-crypto, the ipsec_* whitelist and its messages (injection
 * attempts included), the ipsec.secrets lines (quoted and hex), the drop
 * connections and the command lines.
 */
#include "config.h"
#include "libreswan-conf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ds.h"
#include "secret.h"
#include "smap.h"
#include "tunnel.h"
#include "util.h"

/* Builds a tunnel_conf of interface 'name' of 'type' from NULL-terminated
 * key, value pairs of Interface options. */
static struct tunnel_conf *
make_conf(const char *name, const char *type, ...)
{
    struct smap options;
    va_list args;

    smap_init(&options);
    va_start(args, type);
    for (;;) {
        const char *key = va_arg(args, const char *);
        if (!key) {
            break;
        }
        smap_add(&options, key, va_arg(args, const char *));
    }
    va_end(args);

    struct tunnel_conf *conf;
    char *error = tunnel_conf_create(name, type, &options, NULL, &conf);
    if (error) {
        fail_msg("%s", error);
    }
    smap_destroy(&options);
    return conf;
}

/* A certificate-mode conf, built by hand (no files needed). */
static struct tunnel_conf *
make_cert_conf(enum tunnel_type type, enum tunnel_auth auth,
               const char *local_name, const char *remote_name)
{
    struct tunnel_conf *conf = xzalloc(sizeof *conf);
    conf->type = type;
    conf->af = AF_INET;
    conf->remote_ip = xstrdup("192.0.2.2");
    conf->auth = auth;
    conf->local_name = nullable_xstrdup(local_name);
    conf->remote_name = nullable_xstrdup(remote_name);
    conf->certificate = xstrdup("/etc/ovs/cert.pem");
    conf->private_key = xstrdup("/etc/ovs/key.pem");
    if (auth == TUNNEL_AUTH_PEER_CERT) {
        conf->remote_cert = xstrdup("/etc/ovs/peer.pem");
    } else {
        conf->ca_cert = xstrdup("/etc/ovs/ca.pem");
    }
    smap_init(&conf->ipsec_options);
    return conf;
}

static const struct libreswan_conf_options v4_included = {
    .version = LIBRESWAN_V4,
    .auto_out = LIBRESWAN_AUTO_START,
    .auto_in = LIBRESWAN_AUTO_ADD,
};

static char *
render(const struct libreswan_conf_options *o, const char *ifname,
       uint64_t version, const struct tunnel_conf *conf)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    char *error = libreswan_conf_tunnel(o, ifname, version, conf, &ds);
    if (error) {
        fail_msg("unexpected error: %s", error);
    }
    return ds_steal_cstr(&ds);
}

static void
test_version_parse(void **state OVS_UNUSED__)
{
    static const struct {
        const char *text;
        int error;
        enum libreswan_version version;
        int major, minor;
    } cases[] = {
        { "Libreswan 4.10", 0, LIBRESWAN_V4, 4, 10 },
        { "Libreswan 4.10\n", 0, LIBRESWAN_V4, 4, 10 },
        { "Libreswan v5.2", 0, LIBRESWAN_V5, 5, 2 },
        { "Libreswan 5.0rc1", 0, LIBRESWAN_V5, 5, 0 },
        { "Libreswan 6", 0, LIBRESWAN_V5, 6, 0 },
        { "Linux Libreswan U4.10/K6.1.0 (XFRM)", 0, LIBRESWAN_V4, 4, 10 },
        { "Linux Libreswan 3.32 (netkey) on 5.4", 0, LIBRESWAN_V4, 3, 32 },
        { "Libreswan 2.6.38", -ENOTSUP, 0, 0, 0 },
        { "Libreswan", -EINVAL, 0, 0, 0 },
        { "Libreswan x4", -EINVAL, 0, 0, 0 },
        { "Libreswan 99999.1", -EINVAL, 0, 0, 0 },
        { "Linux strongSwan U5.9.8/K6.1.0", -EINVAL, 0, 0, 0 },
        { "", -EINVAL, 0, 0, 0 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum libreswan_version v = LIBRESWAN_VERSION_N;
        int major = -1, minor = -1;
        int error = libreswan_version_parse(cases[i].text, &v, &major,
                                            &minor);
        if (error != cases[i].error) {
            fail_msg("\"%s\": got %d", cases[i].text, error);
        }
        if (!error) {
            assert_int_equal(v, cases[i].version);
            assert_int_equal(major, cases[i].major);
            assert_int_equal(minor, cases[i].minor);
        }
    }
    enum libreswan_version v;
    assert_int_equal(libreswan_version_parse(NULL, &v, NULL, NULL),
                     -EINVAL);
    assert_int_equal(libreswan_version_parse("Libreswan 4.1", &v, NULL,
                                             NULL), 0);
    assert_string_equal(libreswan_version_to_string(LIBRESWAN_V4), "4");
    assert_string_equal(libreswan_version_to_string(LIBRESWAN_V5), "5");
}

static void
test_conn_names(void **state OVS_UNUSED__)
{
    char *names[2];

    assert_int_equal(libreswan_conn_names("gre0", TUNNEL_GRE, 1, names), 1);
    assert_string_equal(names[0], "gre0-1");
    assert_null(names[1]);
    free(names[0]);

    assert_int_equal(libreswan_conn_names("gnv-in-7", TUNNEL_GENEVE, 3,
                                          names), 2);
    assert_string_equal(names[0], "gnv-in-7-in-3");
    assert_string_equal(names[1], "gnv-in-7-out-3");
    free(names[0]);
    free(names[1]);

    assert_int_equal(libreswan_conn_names("vx", TUNNEL_VXLAN,
                                          UINT64_MAX, names), 2);
    assert_string_equal(names[1], "vx-out-18446744073709551615");
    free(names[0]);
    free(names[1]);

    static const struct {
        const char *conn, *ifname;
        bool match;
        enum libreswan_conn_kind kind;
        uint64_t version;
    } cases[] = {
        { "gre0-1", "gre0", true, LIBRESWAN_CONN_GRE, 1 },
        { "gnv-in-7-in-3", "gnv-in-7", true, LIBRESWAN_CONN_IN, 3 },
        { "gnv-in-7-out-3", "gnv-in-7", true, LIBRESWAN_CONN_OUT, 3 },
        /* Upstream took these for interface "gnv". */
        { "gnv-in-7-in-3", "gnv", false, 0, 0 },
        { "gnv-in-7-out-3", "gnv", false, 0, 0 },
        /* Ambiguous names match both readings, nothing else. */
        { "a-in-5", "a", true, LIBRESWAN_CONN_IN, 5 },
        { "a-in-5", "a-in", true, LIBRESWAN_CONN_GRE, 5 },
        { "a-in-5", "a-i", false, 0, 0 },
        { "vx6.a_b-out-12", "vx6.a_b", true, LIBRESWAN_CONN_OUT, 12 },
        { "vx6.a_b-out-12", "vx6", false, 0, 0 },
        { "x-18446744073709551615", "x", true, LIBRESWAN_CONN_GRE,
          UINT64_MAX },
        { "x-18446744073709551616", "x", false, 0, 0 },
        { "x-01", "x", false, 0, 0 },
        { "x-0", "x", true, LIBRESWAN_CONN_GRE, 0 },
        { "x-", "x", false, 0, 0 },
        { "x-in-", "x", false, 0, 0 },
        { "x-1a", "x", false, 0, 0 },
        { "x-+1", "x", false, 0, 0 },
        { "x1", "x", false, 0, 0 },
        { "x", "x", false, 0, 0 },
        { "y-1", "x", false, 0, 0 },
        { "-1", "", false, 0, 0 },
        { "prevent_unencrypted_gre", "prevent_unencrypted", false, 0, 0 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum libreswan_conn_kind kind = LIBRESWAN_CONN_KIND_N;
        uint64_t version = 12345;
        bool match = libreswan_conn_name_match(cases[i].conn,
                                               cases[i].ifname, &kind,
                                               &version);
        if (match != cases[i].match) {
            fail_msg("%s vs %s: got %d", cases[i].conn, cases[i].ifname,
                     match);
        }
        if (match) {
            assert_int_equal(kind, cases[i].kind);
            assert_true(version == cases[i].version);
        }
    }
    assert_true(libreswan_conn_name_match("a-1", "a", NULL, NULL));
}

static void
test_psk_geneve_included(void **state OVS_UNUSED__)
{
    struct tunnel_conf *conf = make_conf("gnv0", "geneve",
                                         "remote_ip", "192.0.2.2",
                                         "psk", "swordfish", NULL);
    char *text = render(&v4_included, "gnv0", 7, conf);
    assert_string_equal(text,
        "conn gnv0-in-7\n"
        "    type=transport\n"
        "    keyingtries=%forever\n"
        "    ike=aes_gcm256-sha2_256\n"
        "    esp=aes_gcm256\n"
        "    ikev2=insist\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    authby=secret\n"
        "    leftprotoport=udp/6081\n"
        "    rightprotoport=udp\n"
        "    auto=add\n"
        "\n"
        "conn gnv0-out-7\n"
        "    type=transport\n"
        "    keyingtries=%forever\n"
        "    ike=aes_gcm256-sha2_256\n"
        "    esp=aes_gcm256\n"
        "    ikev2=insist\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    authby=secret\n"
        "    leftprotoport=udp\n"
        "    rightprotoport=udp/6081\n"
        "    auto=start\n"
        "\n");
    free(text);

    /* The PSK is in no part of the conf. */
    struct libreswan_conf_options o = v4_included;
    o.version = LIBRESWAN_V5;
    o.use_default_crypto = true;
    o.auto_out = LIBRESWAN_AUTO_ROUTE;
    text = render(&o, "gnv0", 7, conf);
    assert_null(strstr(text, "swordfish"));
    assert_string_equal(text,
        "conn gnv0-in-7\n"
        "    type=transport\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    authby=secret\n"
        "    leftprotoport=udp/6081\n"
        "    rightprotoport=udp\n"
        "    auto=add\n"
        "\n"
        "conn gnv0-out-7\n"
        "    type=transport\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    authby=secret\n"
        "    leftprotoport=udp\n"
        "    rightprotoport=udp/6081\n"
        "    auto=ondemand\n"
        "\n");
    free(text);
    tunnel_conf_destroy(conf);
}

static void
test_header(void **state OVS_UNUSED__)
{
    struct libreswan_conf_options o = v4_included;
    struct ds ds = DS_EMPTY_INITIALIZER;

    libreswan_conf_header(&o, &ds);
    assert_string_equal(ds_cstr(&ds),
        "# Generated by ovsec-monitor (Libreswan mode); do not modify by "
        "hand!\n\n");
    ds_clear(&ds);

    o.own_root_conf = true;
    libreswan_conf_header(&o, &ds);
    assert_string_equal(ds_cstr(&ds),
        "# Generated by ovsec-monitor (Libreswan mode); do not modify by "
        "hand!\n\n"
        "config setup\n"
        "    uniqueids=yes\n"
        "\n"
        "conn %default\n"
        "    type=transport\n"
        "    keyingtries=%forever\n"
        "    ike=aes_gcm256-sha2_256\n"
        "    esp=aes_gcm256\n"
        "    ikev2=insist\n"
        "\n");
    ds_clear(&ds);

    o.version = LIBRESWAN_V5;
    o.use_default_crypto = true;
    libreswan_conf_header(&o, &ds);
    assert_string_equal(ds_cstr(&ds),
        "# Generated by ovsec-monitor (Libreswan mode); do not modify by "
        "hand!\n\n"
        "config setup\n"
        "    uniqueids=yes\n"
        "\n"
        "conn %default\n"
        "    type=transport\n"
        "\n");
    ds_clear(&ds);

    o.use_default_crypto = false;
    libreswan_conf_header(&o, &ds);
    assert_non_null(strstr(ds_cstr(&ds), "    keyexchange=ikev2\n"));
    assert_null(strstr(ds_cstr(&ds), "ikev2=insist"));
    assert_null(strstr(ds_cstr(&ds), "keyingtries"));
    ds_destroy(&ds);
}

/* With its own root conf, connections leave the common keys to %default;
 * gre is one connection; IPv6 gets the address families. */
static void
test_gre_ipv6_own_root(void **state OVS_UNUSED__)
{
    struct libreswan_conf_options o = v4_included;
    o.own_root_conf = true;
    o.auto_out = LIBRESWAN_AUTO_ROUTE;

    struct tunnel_conf *conf = make_conf("gre6", "gre",
                                         "remote_ip", "2001:db8::2",
                                         "local_ip", "2001:db8::1",
                                         "psk", "x", NULL);
    char *text = render(&o, "gre6", 0, conf);
    assert_string_equal(text,
        "conn gre6-0\n"
        "    hostaddrfamily=ipv6\n"
        "    clientaddrfamily=ipv6\n"
        "    left=2001:db8::1\n"
        "    right=2001:db8::2\n"
        "    authby=secret\n"
        "    leftprotoport=gre\n"
        "    rightprotoport=gre\n"
        "    auto=route\n"
        "\n");
    free(text);
    tunnel_conf_destroy(conf);

    conf = make_conf("vx0", "vxlan", "remote_ip", "2001:db8::2",
                     "psk", "x", NULL);
    text = render(&o, "vx0", 4, conf);
    assert_non_null(strstr(text, "conn vx0-in-4\n"
                                 "    hostaddrfamily=ipv6\n"
                                 "    clientaddrfamily=ipv6\n"
                                 "    left=%defaultroute\n"
                                 "    right=2001:db8::2\n"));
    assert_non_null(strstr(text, "    leftprotoport=udp/4789\n"
                                 "    rightprotoport=udp\n"
                                 "    auto=add\n"));
    assert_non_null(strstr(text, "    leftprotoport=udp\n"
                                 "    rightprotoport=udp/4789\n"
                                 "    auto=route\n"));
    assert_null(strstr(text, "type="));
    free(text);
    tunnel_conf_destroy(conf);
}

static void
test_cert_modes(void **state OVS_UNUSED__)
{
    struct libreswan_conf_options o = v4_included;
    o.own_root_conf = true;

    struct tunnel_conf *conf = make_cert_conf(TUNNEL_GRE,
                                              TUNNEL_AUTH_PEER_CERT,
                                              "host-a", "host-b");
    char *text = render(&o, "gre0", 2, conf);
    assert_string_equal(text,
        "conn gre0-2\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    leftid=@host-a\n"
        "    rightid=@host-b\n"
        "    leftcert=\"ovs_certkey_host-a\"\n"
        "    leftrsasigkey=%cert\n"
        "    rightcert=\"ovs_cert_host-b\"\n"
        "    leftprotoport=gre\n"
        "    rightprotoport=gre\n"
        "    auto=start\n"
        "\n");
    free(text);

    /* No secrets line in certificate modes. */
    struct ds ds = DS_EMPTY_INITIALIZER;
    assert_null(libreswan_secrets_tunnel("gre0", conf, &ds));
    assert_int_equal(ds.length, 0);
    tunnel_conf_destroy(conf);

    conf = make_cert_conf(TUNNEL_GRE, TUNNEL_AUTH_CA,
                          "0c1d2e3f-aaaa-bbbb", "peer.example.org");
    text = render(&o, "gre0", 3, conf);
    assert_string_equal(text,
        "conn gre0-3\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    leftid=@0c1d2e3f-aaaa-bbbb\n"
        "    rightid=@peer.example.org\n"
        "    leftcert=\"ovs_certkey_0c1d2e3f-aaaa-bbbb\"\n"
        "    leftrsasigkey=%cert\n"
        "    rightca=%same\n"
        "    leftprotoport=gre\n"
        "    rightprotoport=gre\n"
        "    auto=start\n"
        "\n");
    free(text);

    /* An ECDSA key: pluto 4.10 signs with RSA unless authby= says
     * ecdsa. */
    o.local_sig = LIBRESWAN_SIG_ECDSA;
    text = render(&o, "gre0", 3, conf);
    assert_non_null(strstr(text, "    leftrsasigkey=%cert\n"
                                 "    authby=ecdsa\n"
                                 "    rightca=%same\n"));
    free(text);
    tunnel_conf_destroy(conf);
    conf = make_conf("gre0", "gre", "remote_ip", "192.0.2.2", "psk", "k",
                     NULL);
    text = render(&o, "gre0", 3, conf);
    assert_non_null(strstr(text, "    authby=secret\n"));
    assert_null(strstr(text, "ecdsa"));
    free(text);
    tunnel_conf_destroy(conf);
    ds_destroy(&ds);
}

/* Names that would need quoting (or break the file) are refused. */
static void
test_check_names(void **state OVS_UNUSED__)
{
    struct tunnel_conf *psk = make_conf("x", "gre", "remote_ip",
                                        "192.0.2.2", "psk", "k", NULL);
    static const char *const bad_ifnames[] = {
        "", "a b", "a\"b", "a\nconn x", "%default", "a#b", "a=b", "a/b",
        "\xc3\xa9", "a;b",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_ifnames); i++) {
        char *msg = libreswan_check_tunnel(bad_ifnames[i], psk,
                                           LIBRESWAN_V4);
        if (!msg) {
            fail_msg("\"%s\" accepted", bad_ifnames[i]);
        }
        assert_non_null(strstr(msg, ": name: interface names with "
                                    "Libreswan may only hold"));
        assert_null(strchr(msg, '\n'));
        free(msg);
    }
    char *msg = libreswan_check_tunnel("a b", psk, LIBRESWAN_V4);
    assert_string_equal(msg, "\"a b\": name: interface names with "
                        "Libreswan may only hold letters, digits, '.', '_' "
                        "and '-' (at most 200 bytes)");
    free(msg);

    char long_name[202];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[201] = '\0';
    msg = libreswan_check_tunnel(long_name, psk, LIBRESWAN_V4);
    assert_non_null(msg);
    free(msg);
    long_name[200] = '\0';
    assert_null(libreswan_check_tunnel(long_name, psk, LIBRESWAN_V4));
    assert_null(libreswan_check_tunnel("Gnv_0.a-b", psk, LIBRESWAN_V5));

    /* The output would not hold the bad name either. */
    struct ds ds = DS_EMPTY_INITIALIZER;
    msg = libreswan_conf_tunnel(&v4_included, "a\nconn evil", 1, psk, &ds);
    assert_non_null(msg);
    assert_int_equal(ds.length, 0);
    free(msg);
    ds_destroy(&ds);
    tunnel_conf_destroy(psk);

    static const char *const bad_cns[] = {
        "a b", "a\"b", "a\\b", "a#b", "a\nb", "%any", "", "a;b",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_cns); i++) {
        struct tunnel_conf *c = make_cert_conf(TUNNEL_GRE, TUNNEL_AUTH_CA,
                                               "me", bad_cns[i]);
        msg = libreswan_check_tunnel("gre0", c, LIBRESWAN_V4);
        if (!msg) {
            fail_msg("remote CN \"%s\" accepted", bad_cns[i]);
        }
        assert_true(str_starts_with(msg, "gre0: options:remote_name: "));
        free(msg);
        tunnel_conf_destroy(c);

        c = make_cert_conf(TUNNEL_GRE, TUNNEL_AUTH_CA, bad_cns[i], "peer");
        msg = libreswan_check_tunnel("gre0", c, LIBRESWAN_V4);
        assert_non_null(msg);
        assert_true(str_starts_with(msg, "gre0: Open_vSwitch: "
                                         "other_config:certificate: "));
        free(msg);
        tunnel_conf_destroy(c);
    }

    struct tunnel_conf *c = make_cert_conf(TUNNEL_GRE,
                                           TUNNEL_AUTH_PEER_CERT, "me",
                                           "cacert");
    msg = libreswan_check_tunnel("gre0", c, LIBRESWAN_V4);
    assert_string_equal(msg, "gre0: options:remote_cert: a peer named "
                        "\"cacert\" would collide with the NSS nicknames "
                        "of the CA certificates (ovs_cert_cacert, "
                        "ovs_cert_cacert_2, ...)");
    free(msg);
    tunnel_conf_destroy(c);

    /* The nicknames of a CA bundle's further certificates too, and only
     * those. */
    static const struct {
        const char *name;
        bool ok;
    } ca_like[] = {
        { "cacert_2", false }, { "cacert_17", false }, { "cacert_", true },
        { "cacert_x", true }, { "cacert2", true }, { "cacerts", true },
        { "my-cacert", true },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ca_like); i++) {
        c = make_cert_conf(TUNNEL_GRE, TUNNEL_AUTH_PEER_CERT, "me",
                           ca_like[i].name);
        msg = libreswan_check_tunnel("gre0", c, LIBRESWAN_V4);
        if (ca_like[i].ok ? msg != NULL : msg == NULL) {
            fail_msg("%s: %s", ca_like[i].name, msg ? msg : "accepted");
        }
        free(msg);
        tunnel_conf_destroy(c);
    }

    /* Those nicknames. */
    char *nick = libreswan_nss_ca_name(0);
    assert_string_equal(nick, "ovs_cert_cacert");
    free(nick);
    nick = libreswan_nss_ca_name(1);
    assert_string_equal(nick, "ovs_cert_cacert_2");
    free(nick);

    c = make_cert_conf(TUNNEL_GRE, TUNNEL_AUTH_CA, NULL, "peer");
    msg = libreswan_check_tunnel("gre0", c, LIBRESWAN_V4);
    assert_string_equal(msg, "gre0: Open_vSwitch: other_config:certificate: "
                        "not set or has no CN");
    free(msg);
    tunnel_conf_destroy(c);
}

static void
test_check_options(void **state OVS_UNUSED__)
{
    static const struct {
        const char *key, *value;
        enum libreswan_version version;
        const char *error;      /* NULL: accepted. */
    } cases[] = {
        { "ike", "aes256-sha2_256-modp2048,aes128-sha1;dh19", LIBRESWAN_V4,
          NULL },
        { "esp", "aes_gcm128-null", LIBRESWAN_V5, NULL },
        { "ikelifetime", "1h", LIBRESWAN_V4, NULL },
        { "ikelifetime", "28800", LIBRESWAN_V5, NULL },
        { "salifetime", "30m", LIBRESWAN_V4, NULL },
        { "ipsec-lifetime", "8h", LIBRESWAN_V5, NULL },
        { "rekeyfuzz", "50%", LIBRESWAN_V4, NULL },
        { "rekeymargin", "0", LIBRESWAN_V4, NULL },
        { "keyingtries", "%forever", LIBRESWAN_V4, NULL },
        { "keyingtries", "3", LIBRESWAN_V4, NULL },
        { "dpdaction", "restart", LIBRESWAN_V4, NULL },
        { "ikev2", "insist", LIBRESWAN_V5, NULL },
        { "keyexchange", "ikev2", LIBRESWAN_V4, NULL },
        { "mtu", "1400", LIBRESWAN_V4, NULL },
        { "replay-window", "0", LIBRESWAN_V4, NULL },
        { "require-id-on-certificate", "no", LIBRESWAN_V5, NULL },
        { "ipsec-max-bytes", "9223372036854775807", LIBRESWAN_V5, NULL },

        { "ikelifetime", "1h; rm -rf /", LIBRESWAN_V4,
          "gnv0: options:ipsec_ikelifetime: \"1h; rm -rf /\" is not a "
          "duration (N, Ns, Nm, Nh or Nd)" },
        { "ikelifetime", "0", LIBRESWAN_V4,
          "gnv0: options:ipsec_ikelifetime: \"0\" is out of range" },
        { "ikelifetime", "99999999999d", LIBRESWAN_V4,
          "gnv0: options:ipsec_ikelifetime: \"99999999999d\" is out of "
          "range" },
        { "ike", "aes\nconn evil\n    left=1.2.3.4", LIBRESWAN_V4,
          "gnv0: options:ipsec_ike: \"aes\\nconn evil\\n    left=1.2.3.4\" "
          "is not an algorithm proposal list (letters, digits and _ - + ; , "
          "only)" },
        { "esp", "aes #comment", LIBRESWAN_V4,
          "gnv0: options:ipsec_esp: \"aes #comment\" is not an algorithm "
          "proposal list (letters, digits and _ - + ; , only)" },
        { "esp", "", LIBRESWAN_V4, "gnv0: options:ipsec_esp: \"\" is empty" },
        { "pfs", "maybe", LIBRESWAN_V4,
          "gnv0: options:ipsec_pfs: \"maybe\" is not one of the allowed "
          "values (yes, no)" },
        { "pfs", "yes\"", LIBRESWAN_V4,
          "gnv0: options:ipsec_pfs: \"yes\\\"\" is not one of the allowed "
          "values (yes, no)" },
        { "mtu", "67", LIBRESWAN_V4,
          "gnv0: options:ipsec_mtu: \"67\" is out of range" },
        { "mtu", "-1", LIBRESWAN_V4,
          "gnv0: options:ipsec_mtu: \"-1\" is not a non-negative integer" },
        { "rekeyfuzz", "50%%", LIBRESWAN_V4,
          "gnv0: options:ipsec_rekeyfuzz: \"50%%\" is not a percentage "
          "(N or N%)" },
        { "keyingtries", "forever", LIBRESWAN_V4,
          "gnv0: options:ipsec_keyingtries: \"forever\" is not a count or "
          "%forever" },
        { "keyingtries", "%forever", LIBRESWAN_V5,
          "gnv0: options:ipsec_keyingtries: not supported with Libreswan 5 "
          "(obsolete in Libreswan 5)" },
        { "dpdaction", "hold", LIBRESWAN_V5,
          "gnv0: options:ipsec_dpdaction: not supported with Libreswan 5 "
          "(obsolete in Libreswan 5)" },
        { "dpdtimeout", "30s", LIBRESWAN_V5,
          "gnv0: options:ipsec_dpdtimeout: not supported with Libreswan 5 "
          "(obsolete for IKEv2 in Libreswan 5)" },
        { "leftupdown", "/tmp/evil.sh", LIBRESWAN_V4,
          "gnv0: options:ipsec_leftupdown: not a supported Libreswan "
          "connection key" },
        { "left", "1.2.3.4", LIBRESWAN_V4,
          "gnv0: options:ipsec_left: set by ovsec-monitor, cannot be "
          "overridden" },
        { "authby", "never", LIBRESWAN_V4,
          "gnv0: options:ipsec_authby: set by ovsec-monitor, cannot be "
          "overridden" },
        { "type", "passthrough", LIBRESWAN_V5,
          "gnv0: options:ipsec_type: set by ovsec-monitor, cannot be "
          "overridden" },
        { "ike\nconn evil", "x", LIBRESWAN_V4,
          "gnv0: options:ipsec_ike?conn?evil: not a supported Libreswan "
          "connection key" },
        { "IKE", "aes", LIBRESWAN_V4,
          "gnv0: options:ipsec_IKE: not a supported Libreswan connection "
          "key" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *msg = libreswan_check_option("gnv0", cases[i].key,
                                           cases[i].value,
                                           cases[i].version);
        if (!cases[i].error != !msg
            || (msg && strcmp(msg, cases[i].error))) {
            fail_msg("%s=%s: got \"%s\"", cases[i].key, cases[i].value,
                     msg ? msg : "(accepted)");
        }
        free(msg);
    }

    /* Values too long for any key. */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *msg = libreswan_check_option("gnv0", "ike", big, LIBRESWAN_V4);
    assert_non_null(strstr(msg, "is too long"));
    free(msg);

    /* Through a tunnel: the first bad option in key order. */
    struct tunnel_conf *conf = make_conf("gnv0", "geneve",
                                         "remote_ip", "192.0.2.2",
                                         "psk", "k",
                                         "ipsec_pfs", "maybe",
                                         "ipsec_esp", "bad esp",
                                         "ipsec_ike", "aes256", NULL);
    msg = libreswan_check_tunnel("gnv0", conf, LIBRESWAN_V4);
    assert_string_equal(msg, "gnv0: options:ipsec_esp: \"bad esp\" is not "
                        "an algorithm proposal list (letters, digits and "
                        "_ - + ; , only)");
    free(msg);
    struct ds ds = DS_EMPTY_INITIALIZER;
    msg = libreswan_conf_tunnel(&v4_included, "gnv0", 1, conf, &ds);
    assert_non_null(msg);
    assert_int_equal(ds.length, 0);
    free(msg);
    ds_destroy(&ds);
    tunnel_conf_destroy(conf);
}

/* Custom options come last, sorted, and replace the defaults they name
 * (a connection may not set a key twice). */
static void
test_custom_options(void **state OVS_UNUSED__)
{
    struct tunnel_conf *conf = make_conf("gre0", "gre",
                                         "remote_ip", "192.0.2.2",
                                         "psk", "k",
                                         "ipsec_ikelifetime", "2h",
                                         "ipsec_ike", "aes256-sha2",
                                         "ipsec_keyexchange", "ikev2",
                                         "ipsec_keyingtries", "5", NULL);
    char *text = render(&v4_included, "gre0", 1, conf);
    assert_string_equal(text,
        "conn gre0-1\n"
        "    type=transport\n"
        "    esp=aes_gcm256\n"
        "    left=%defaultroute\n"
        "    right=192.0.2.2\n"
        "    authby=secret\n"
        "    leftprotoport=gre\n"
        "    rightprotoport=gre\n"
        "    auto=start\n"
        "    ike=aes256-sha2\n"
        "    ikelifetime=2h\n"
        "    keyexchange=ikev2\n"
        "    keyingtries=5\n"
        "\n");
    free(text);

    /* Own root conf: %default has the defaults, the conn overrides. */
    struct libreswan_conf_options o = v4_included;
    o.own_root_conf = true;
    text = render(&o, "gre0", 1, conf);
    assert_non_null(strstr(text, "    ike=aes256-sha2\n"));
    assert_null(strstr(text, "esp="));
    free(text);
    tunnel_conf_destroy(conf);
}

/* The secrets line for a PSK of 'psk' (set directly: tunnel_conf_create()
 * already refuses control characters, this module must not rely on
 * it). */
static char *
secrets_line(const char *psk)
{
    struct tunnel_conf *conf = make_conf("gnv0", "geneve",
                                         "remote_ip", "192.0.2.2",
                                         "psk", "placeholder", NULL);
    secret_destroy(conf->psk);
    conf->psk = secret_create(psk, strlen(psk));
    struct ds ds = DS_EMPTY_INITIALIZER;
    char *error = libreswan_secrets_tunnel("gnv0", conf, &ds);
    assert_null(error);
    tunnel_conf_destroy(conf);
    return ds_steal_cstr(&ds);
}

static void
test_secrets(void **state OVS_UNUSED__)
{
    char *line = secrets_line("swordfish");
    assert_string_equal(line, "%any 192.0.2.2 : PSK \"swordfish\"\n");
    free(line);

    line = secrets_line("with space, 'quote' and #hash%any");
    assert_string_equal(line, "%any 192.0.2.2 : PSK \"with space, 'quote' "
                        "and #hash%any\"\n");
    free(line);

    /* Not representable between double quotes: hex, same bytes. */
    line = secrets_line("a\"b");
    assert_string_equal(line, "%any 192.0.2.2 : PSK 0x612262\n");
    free(line);
    line = secrets_line("a\\b");
    assert_string_equal(line, "%any 192.0.2.2 : PSK 0x615c62\n");
    free(line);
    line = secrets_line("k\xc3\xa9y");
    assert_string_equal(line, "%any 192.0.2.2 : PSK 0x6bc3a979\n");
    free(line);
    line = secrets_line("line\n: PSK \"x\"");
    assert_string_equal(line, "%any 192.0.2.2 : PSK "
                        "0x6c696e650a3a2050534b2022782\x32\n");
    free(line);

    /* IPv6 peer. */
    struct tunnel_conf *conf = make_conf("gnv0", "geneve",
                                         "remote_ip", "2001:db8::2",
                                         "psk", "p", NULL);
    struct ds ds = DS_EMPTY_INITIALIZER;
    assert_null(libreswan_secrets_tunnel("gnv0", conf, &ds));
    assert_string_equal(ds_cstr(&ds), "%any 2001:db8::2 : PSK \"p\"\n");
    ds_clear(&ds);

    /* Too long, empty. */
    secret_destroy(conf->psk);
    char big[1025];
    memset(big, 'k', sizeof big);
    conf->psk = secret_create(big, sizeof big);
    char *msg = libreswan_secrets_tunnel("gnv0", conf, &ds);
    assert_string_equal(msg, "gnv0: options:psk: longer than 1024 bytes");
    free(msg);
    msg = libreswan_check_tunnel("gnv0", conf, LIBRESWAN_V4);
    assert_string_equal(msg, "gnv0: options:psk: longer than 1024 bytes");
    free(msg);
    secret_destroy(conf->psk);
    conf->psk = secret_create(big, 1024);
    assert_null(libreswan_secrets_tunnel("gnv0", conf, &ds));
    ds_clear(&ds);
    secret_destroy(conf->psk);
    conf->psk = NULL;
    msg = libreswan_secrets_tunnel("gnv0", conf, &ds);
    assert_string_equal(msg, "gnv0: options:psk: empty");
    free(msg);
    assert_int_equal(ds.length, 0);
    ds_destroy_secure(&ds);
    tunnel_conf_destroy(conf);
}

/* Two tunnels to one peer: with different local_ip, each secrets line
 * names its own pair of addresses; otherwise different PSKs are a
 * conflict, never silently the wrong key. */
static void
test_psk_per_tunnel(void **state OVS_UNUSED__)
{
    struct tunnel_conf *a = make_conf("gnv0", "geneve",
                                      "remote_ip", "192.0.2.2",
                                      "local_ip", "192.0.2.1",
                                      "psk", "key-a", NULL);
    struct tunnel_conf *b = make_conf("gre0", "gre",
                                      "remote_ip", "192.0.2.2",
                                      "local_ip", "192.0.2.11",
                                      "psk", "key-b", NULL);
    struct ds ds = DS_EMPTY_INITIALIZER;

    assert_null(libreswan_secrets_tunnel("gnv0", a, &ds));
    assert_null(libreswan_secrets_tunnel("gre0", b, &ds));
    assert_string_equal(ds_cstr(&ds),
                        "192.0.2.1 192.0.2.2 : PSK \"key-a\"\n"
                        "192.0.2.11 192.0.2.2 : PSK \"key-b\"\n");
    ds_destroy_secure(&ds);
    assert_null(libreswan_psk_conflict("gre0", b, "gnv0", a));

    /* The same local_ip: one pair of IDs, two PSKs. */
    free(b->local_ip);
    b->local_ip = xstrdup("192.0.2.1");
    char *msg = libreswan_psk_conflict("gre0", b, "gnv0", a);
    assert_non_null(msg);
    assert_true(str_starts_with(msg, "gre0: options:psk: differs from the "
                                     "PSK of tunnel gnv0 to the same "
                                     "remote_ip 192.0.2.2 from the same "
                                     "local_ip"));
    free(msg);

    /* One without local_ip: its %any overlaps. */
    free(b->local_ip);
    b->local_ip = NULL;
    msg = libreswan_psk_conflict("gre0", b, "gnv0", a);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "(one of them without local_ip)"));
    free(msg);

    /* The same PSK: no conflict.  Another peer: none either. */
    secret_destroy(b->psk);
    b->psk = secret_create("key-a", 5);
    assert_null(libreswan_psk_conflict("gre0", b, "gnv0", a));
    secret_destroy(b->psk);
    b->psk = secret_create("key-b", 5);
    free(b->remote_ip);
    b->remote_ip = xstrdup("192.0.2.3");
    assert_null(libreswan_psk_conflict("gre0", b, "gnv0", a));
    tunnel_conf_destroy(a);
    tunnel_conf_destroy(b);
}

static void
test_drop_conns(void **state OVS_UNUSED__)
{
    struct libreswan_conf_options o = v4_included;
    struct ds ds = DS_EMPTY_INITIALIZER;

    /* 4.x ignores mark= on drop connections: refuse. */
    assert_int_equal(libreswan_conf_drop_conns(&o, 1, 0xffffffff, &ds),
                     -ENOTSUP);
    assert_int_equal(ds.length, 0);

    o.version = LIBRESWAN_V5;
    assert_int_equal(libreswan_conf_drop_conns(&o, 0x10, 0xf0, &ds), 0);
    assert_string_equal(ds_cstr(&ds),
        "conn prevent_unencrypted_gre\n"
        "    type=drop\n"
        "    authby=never\n"
        "    left=%defaultroute\n"
        "    right=%any\n"
        "    leftprotoport=gre\n"
        "    rightprotoport=gre\n"
        "    mark=0x10/0xf0\n"
        "    auto=ondemand\n"
        "\n"
        "conn prevent_unencrypted_geneve\n"
        "    type=drop\n"
        "    authby=never\n"
        "    left=%defaultroute\n"
        "    right=%any\n"
        "    leftprotoport=udp\n"
        "    rightprotoport=udp/6081\n"
        "    mark=0x10/0xf0\n"
        "    auto=ondemand\n"
        "\n"
        "conn prevent_unencrypted_vxlan\n"
        "    type=drop\n"
        "    authby=never\n"
        "    left=%defaultroute\n"
        "    right=%any\n"
        "    leftprotoport=udp\n"
        "    rightprotoport=udp/4789\n"
        "    mark=0x10/0xf0\n"
        "    auto=ondemand\n"
        "\n");
    ds_destroy(&ds);

    size_t n;
    const char *const *names = libreswan_drop_conn_names(&n);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "prevent_unencrypted_gre");
    assert_string_equal(names[1], "prevent_unencrypted_geneve");
    assert_string_equal(names[2], "prevent_unencrypted_vxlan");
}

static char *
argv_string(enum libreswan_version v, enum libreswan_cmd cmd,
            const char *conn)
{
    static const struct libreswan_paths paths = {
        .ipsec = "/opt/lsw/usr/sbin/ipsec",
        .conf = "/etc/ipsec.conf",
        .ctl = "/run/pluto/pluto.ctl",
    };
    char **argv = libreswan_cmd_argv(v, &paths, cmd, conn);
    struct ds ds = DS_EMPTY_INITIALIZER;
    for (char **p = argv; *p; p++) {
        ds_put_format(&ds, "%s%s", p == argv ? "" : " ", *p);
    }
    libreswan_argv_free(argv);
    return ds_steal_cstr(&ds);
}

static void
test_commands(void **state OVS_UNUSED__)
{
    static const struct {
        enum libreswan_version v;
        enum libreswan_cmd cmd;
        const char *conn;
        const char *expect;
    } cases[] = {
        { LIBRESWAN_V4, LIBRESWAN_CMD_ADD, "gnv0-in-1",
          "auto --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "--add gnv0-in-1" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_START, "gnv0-out-1",
          "auto --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "--asynchronous --start gnv0-out-1" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_UP, "c",
          "auto --ctlsocket /run/pluto/pluto.ctl --asynchronous --up c" },
        /* Waits for the outcome: no --asynchronous. */
        { LIBRESWAN_V4, LIBRESWAN_CMD_UP_WAIT, "c",
          "auto --ctlsocket /run/pluto/pluto.ctl --up c" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_DOWN, "c",
          "auto --ctlsocket /run/pluto/pluto.ctl --down c" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_DELETE, "c",
          "auto --ctlsocket /run/pluto/pluto.ctl --delete c" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_REREADSECRETS, NULL,
          "auto --ctlsocket /run/pluto/pluto.ctl --rereadsecrets" },
        { LIBRESWAN_V4, LIBRESWAN_CMD_STATUS, NULL,
          "status --ctlsocket /run/pluto/pluto.ctl" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_ADD, "gnv0-in-1",
          "add --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "gnv0-in-1" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_START, "c",
          "start --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "--asynchronous c" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_UP, "c",
          "up --ctlsocket /run/pluto/pluto.ctl --asynchronous c" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_UP_WAIT, "c",
          "up --ctlsocket /run/pluto/pluto.ctl c" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_DOWN, "c",
          "down --ctlsocket /run/pluto/pluto.ctl c" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_DELETE, "c",
          "delete --ctlsocket /run/pluto/pluto.ctl c" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_REREADSECRETS, NULL,
          "rereadsecrets --ctlsocket /run/pluto/pluto.ctl" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_STATUS, NULL,
          "status --ctlsocket /run/pluto/pluto.ctl" },
        /* Never `ipsec start` alone: that starts the IKE daemon. */
        { LIBRESWAN_V5, LIBRESWAN_CMD_START, NULL,
          "start --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "--asynchronous %none" },
        { LIBRESWAN_V5, LIBRESWAN_CMD_START, "",
          "start --config /etc/ipsec.conf --ctlsocket /run/pluto/pluto.ctl "
          "--asynchronous %none" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *s = argv_string(cases[i].v, cases[i].cmd, cases[i].conn);
        char *expect = xasprintf("/opt/lsw/usr/sbin/ipsec %s",
                                 cases[i].expect);
        assert_string_equal(s, expect);
        free(s);
        free(expect);
    }
    libreswan_argv_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_conn_names),
        cmocka_unit_test(test_psk_geneve_included),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_gre_ipv6_own_root),
        cmocka_unit_test(test_cert_modes),
        cmocka_unit_test(test_psk_per_tunnel),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_check_options),
        cmocka_unit_test(test_custom_options),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_drop_conns),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
