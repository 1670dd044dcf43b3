/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for ike/stroke-map: every mapped ipsec.conf key and its value
 * conversion, every class of rejection, injection attempts, synonyms and
 * conflicts, and the empty map.
 */
#include "config.h"
#include "stroke-map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ds.h"
#include "smap.h"
#include "util.h"

/* Renders 'map' as "conn.key=value child.key=[a,b] ...". */
static char *
map_to_string(const struct stroke_map *map)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < map->n; i++) {
        const struct stroke_setting *st = &map->settings[i];

        ds_put_format(&s, "%s%s.%s=%s%s%s", i ? " " : "",
                      stroke_scope_to_string(st->scope), st->key,
                      st->is_list ? "[" : "", st->value,
                      st->is_list ? "]" : "");
    }
    return ds_steal_cstr(&s);
}

/* Translates the NULL-terminated key, value pairs for interface "gnv0".
 * Returns the error (or NULL) and stores the rendered map in '*ret_map'
 * ("" when empty or on error). */
static char *
translate_v(char **ret_map, va_list args)
{
    struct stroke_map map = STROKE_MAP_INITIALIZER;
    struct smap options;
    const char *key;

    smap_init(&options);
    while ((key = va_arg(args, const char *)) != NULL) {
        smap_replace(&options, key, va_arg(args, const char *));
    }
    char *error = stroke_map_translate("gnv0", &options, &map);
    if (error) {
        assert_int_equal(map.n, 0);
        assert_null(map.settings);
        /* Messages are single lines, whatever the input. */
        assert_null(strchr(error, '\n'));
        assert_true(str_starts_with(error, "gnv0: options:ipsec_"));
    }
    *ret_map = map_to_string(&map);
    stroke_map_destroy(&map);
    smap_destroy(&options);
    return error;
}

/* Asserts that the options translate to 'expected'. */
static void
expect_map(const char *expected, ...)
{
    char *map, *error;
    va_list args;

    va_start(args, expected);
    error = translate_v(&map, args);
    va_end(args);
    if (error) {
        fail_msg("unexpected error: %s", error);
    }
    assert_string_equal(map, expected);
    free(map);
}

/* Asserts that the options fail with a message containing each of the
 * NUL-separated fragments in 'fragments' (ends with an empty one). */
static void
expect_error(const char *fragments, ...)
{
    char *map, *error;
    va_list args;

    va_start(args, fragments);
    error = translate_v(&map, args);
    va_end(args);
    if (!error) {
        fail_msg("expected an error, got map: %s", map);
    }
    for (const char *f = fragments; *f; f += strlen(f) + 1) {
        if (!strstr(error, f)) {
            fail_msg("\"%s\" not in error: %s", f, error);
        }
    }
    free(error);
    free(map);
}

static void
test_empty(void **state OVS_UNUSED__)
{
    struct stroke_map map = { (void *) 1, 42 };
    struct smap options;

    smap_init(&options);
    assert_null(stroke_map_translate("gnv0", &options, &map));
    assert_int_equal(map.n, 0);
    assert_null(map.settings);
    assert_null(stroke_map_find(&map, STROKE_CONN, "proposals"));
    stroke_map_destroy(&map);
    stroke_map_destroy(NULL);
    smap_destroy(&options);
}

static void
test_proposals(void **state OVS_UNUSED__)
{
    /* Without '!', charon added its defaults: swanctl's "default". */
    expect_map("conn.proposals=[aes256gcm16-sha256-modp2048,default]",
               "ike", "aes256gcm16-sha256-modp2048", NULL);
    expect_map("conn.proposals=[aes256gcm16-sha256-modp2048,"
               "aes128-sha256-ecp256]",
               "ike", "aes256gcm16-sha256-modp2048,aes128-sha256-ecp256!",
               NULL);
    expect_map("conn.proposals=[aes128-sha256-modp2048,default]",
               "ike", "aes128-sha256-modp2048,default", NULL);
    expect_map("conn.proposals=[aes256-sha256-x25519-ke1_mlkem768]",
               "ike", "aes256-sha256-x25519-ke1_mlkem768!", NULL);
    expect_map("child.esp_proposals=[aes256gcm16-modp2048,default]",
               "esp", "aes256gcm16-modp2048", NULL);
    expect_map("child.esp_proposals=[aes256gcm16-esn-noesn]",
               "esp", "aes256gcm16-esn-noesn!", NULL);
    expect_map("child.ah_proposals=[sha256-modp2048]",
               "ah", "sha256-modp2048!", NULL);
    expect_map("conn.proposals=[aes256gcm16-prfsha384-ecp384,default] "
               "child.esp_proposals=[aes256gcm16,default]",
               "esp", "aes256gcm16", "ike", "aes256gcm16-prfsha384-ecp384",
               NULL);

    /* ESP and AH together: ipsec.conf refused it too. */
    expect_error("options:ipsec_esp: \"aes128\" conflicts with "
                 "options:ipsec_ah: \"sha256\"\0ESP or AH\0",
                 "esp", "aes128", "ah", "sha256", NULL);

    /* Syntax. */
    expect_error("options:ipsec_ike: \"!\" is not a proposal list\0",
                 "ike", "!", NULL);
    expect_error("empty algorithm name at byte 4\0",
                 "ike", "aes--sha256", NULL);
    expect_error("empty algorithm name at byte 0\0",
                 "ike", ",aes-sha256", NULL);
    expect_error("empty algorithm name at byte 11\0",
                 "ike", "aes-sha256,", NULL);
    expect_error("empty algorithm name at byte 4\0",
                 "esp", "aes-!", NULL);
    expect_error("unexpected '!' at byte 3\0",
                 "ike", "aes!,sha256", NULL);
    expect_error("unexpected '!' at byte 3\0",
                 "ike", "aes!!", NULL);
}

static void
test_injection(void **state OVS_UNUSED__)
{
    /* Whatever ends up in an option must not reach the daemon: no
     * whitespace, newlines, braces, '=', ';', '#' or quotes. */
    expect_error("options:ipsec_ike: \"aes\\n}\" is not a proposal list: "
                 "unexpected byte 0x0a at byte 3\0",
                 "ike", "aes\n}", NULL);
    expect_error("unexpected byte 0x20 at byte 6\0",
                 "ike", "aes256 sha256", NULL);
    expect_error("unexpected '}' at byte 3\0",
                 "esp", "aes}", NULL);
    expect_error("unexpected '{' at byte 1\0", "esp", "a{b", NULL);
    expect_error("unexpected '=' at byte 3\0", "ike", "aes=x", NULL);
    expect_error("unexpected ';' at byte 3\0", "ike", "aes;x", NULL);
    expect_error("unexpected '#' at byte 3\0", "ike", "aes#x", NULL);
    expect_error("unexpected '\"' at byte 3\0", "ike", "aes\"x", NULL);
    expect_error("unexpected byte 0x27 at byte 3\0", "ike", "aes'x", NULL);
    expect_error("unexpected byte 0x09 at byte 0\0", "ah", "\tsha256", NULL);
    expect_error("unexpected byte 0xc3 at byte 3\0", "ah", "sha\xc3\xa9",
                 NULL);
    expect_error("\"10s\\n\" is not a time\0", "dpddelay", "10s\n", NULL);
    expect_error("\"yes\\n\" is not one of \"yes\", \"no\"\0",
                 "forceencaps", "yes\n", NULL);
    expect_error("\"yes }\" is not one of\0", "mobike", "yes }", NULL);
    expect_error("\" 30\" is not a time\0", "dpddelay", " 30", NULL);
    expect_error("is not a time\0", "dpddelay", "+30", NULL);
    expect_error("is not a time\0", "dpddelay", "-30s", NULL);
    expect_error("is not a time\0", "dpddelay", "30 s", NULL);
    expect_error("is not a time\0", "dpddelay", "0x10", NULL);
    expect_error("is not a time\0", "dpddelay", "1.5h", NULL);
    expect_error("is not a time\0", "dpddelay", "s", NULL);
    expect_error("is not a number\0", "lifebytes", "1e9", NULL);

    /* Oversized values: refused, and cut short in the message. */
    char *big = xmalloc(STROKE_MAP_VALUE_MAX + 2);
    for (size_t i = 0; i < STROKE_MAP_VALUE_MAX + 1; i++) {
        big[i] = i % 4 == 3 ? '-' : 'a';
    }
    big[STROKE_MAP_VALUE_MAX + 1] = '\0';
    expect_error("is too long: at most 1024 bytes\0...\" (1025 bytes)\0",
                 "ike", big, NULL);

    char *error;
    struct stroke_map m;
    struct smap options;
    big[STROKE_MAP_VALUE_MAX - 1] = '!';
    big[STROKE_MAP_VALUE_MAX] = '\0';
    smap_init(&options);
    smap_add(&options, "ike", big);
    error = stroke_map_translate("gnv0", &options, &m);
    assert_null(error);
    assert_int_equal(m.n, 1);
    assert_int_equal(strlen(m.settings[0].value), STROKE_MAP_VALUE_MAX - 1);
    stroke_map_destroy(&m);
    smap_destroy(&options);
    free(big);

    /* Odd keys and interface names are escaped in messages. */
    expect_error("options:ipsec_\"foo\\nbar\": \"x\" is not accepted: "
                 "unknown IPsec option\0", "foo\nbar", "x", NULL);
    smap_init(&options);
    smap_add(&options, "left", "1.2.3.4");
    error = stroke_map_translate("a\nb", &options, &m);
    assert_non_null(error);
    assert_true(str_starts_with(error, "\"a\\nb\": options:ipsec_left: "));
    free(error);
    smap_destroy(&options);
}

static void
test_booleans_and_words(void **state OVS_UNUSED__)
{
    expect_map("conn.encap=yes", "forceencaps", "yes", NULL);
    expect_map("conn.encap=no", "forceencaps", "no", NULL);
    expect_map("conn.mobike=no", "mobike", "no", NULL);
    expect_map("child.ipcomp=yes", "compress", "yes", NULL);
    expect_map("child.sha256_96=yes", "sha256_96", "yes", NULL);
    expect_map("conn.fragmentation=accept", "fragmentation", "accept", NULL);
    expect_map("conn.fragmentation=force", "fragmentation", "force", NULL);
    expect_map("conn.fragmentation=no", "fragmentation", "no", NULL);
    expect_error("options:ipsec_forceencaps: \"true\" is not one of "
                 "\"yes\", \"no\"\0", "forceencaps", "true", NULL);
    expect_error("\"YES\" is not one of\0", "mobike", "YES", NULL);
    expect_error("options:ipsec_fragmentation: \"maybe\" is not one of "
                 "\"yes\", \"accept\", \"force\", \"no\"\0",
                 "fragmentation", "maybe", NULL);
    expect_error("options:ipsec_compress: \"\" is empty\0",
                 "compress", "", NULL);

    /* Libreswan's spelling, which OVN writes next to forceencaps. */
    expect_map("conn.encap=yes", "encapsulation", "yes", NULL);
    expect_map("conn.encap=no", "encapsulation", "auto", NULL);
    expect_map("conn.encap=yes", "encapsulation", "yes",
               "forceencaps", "yes", NULL);
    expect_error("options:ipsec_encapsulation: \"no\" is not accepted: "
                 "strongSwan cannot turn off NAT traversal\0",
                 "encapsulation", "no", NULL);
    expect_error("options:ipsec_forceencaps: \"no\" conflicts with "
                 "options:ipsec_encapsulation: \"yes\"\0",
                 "encapsulation", "yes", "forceencaps", "no", NULL);

    /* What ovsec always does is accepted; the rest is refused. */
    expect_map("", "keyexchange", "ikev2", "aggressive", "no",
               "installpolicy", "yes", "rekey", "yes", "reauth", "no",
               NULL);
    expect_error("options:ipsec_keyexchange: \"ikev1\" is not accepted: "
                 "ovsec always uses IKEv2\0", "keyexchange", "ikev1", NULL);
    expect_error("\"ike\" is not accepted: ovsec always uses IKEv2\0",
                 "keyexchange", "ike", NULL);
    expect_error("\"ikev3\" is not one of \"ikev2\"\0",
                 "keyexchange", "ikev3", NULL);
    expect_error("options:ipsec_aggressive: \"yes\" is not accepted: "
                 "Aggressive Mode is IKEv1 only\0", "aggressive", "yes",
                 NULL);
    expect_error("options:ipsec_installpolicy: \"no\" is not accepted: "
                 "without the IKE daemon's IPsec policies\0",
                 "installpolicy", "no", NULL);
}

static void
test_numbers(void **state OVS_UNUSED__)
{
    expect_map("conn.dscp=101110", "ikedscp", "101110", NULL);
    expect_map("conn.dscp=000001", "ikedscp", "1", NULL);
    expect_error("is not a DSCP\0", "ikedscp", "1011100", NULL);
    expect_error("is not a DSCP\0", "ikedscp", "102", NULL);

    expect_map("conn.keyingtries=0", "keyingtries", "%forever", NULL);
    expect_map("conn.keyingtries=5", "keyingtries", "5", NULL);
    /* Canonical decimal: charon would read "010" as octal. */
    expect_map("conn.keyingtries=10", "keyingtries", "010", NULL);
    expect_map("conn.keyingtries=4294967295", "keyingtries", "4294967295",
               NULL);
    expect_error("options:ipsec_keyingtries: \"4294967296\" is not a number "
                 "from 0 to 4294967295 or %forever\0",
                 "keyingtries", "4294967296", NULL);
    expect_error("is not a number\0", "keyingtries", "-1", NULL);
    expect_error("is not a number\0", "keyingtries", "99999999999999999999",
                 NULL);

    expect_map("", "replay_window", "-1", NULL);
    expect_map("child.replay_window=0", "replay_window", "0", NULL);
    expect_map("child.replay_window=1024", "replay_window", "1024", NULL);
    expect_error("is not -1 or a number\0", "replay_window", "-2", NULL);

    expect_map("child.tfc_padding=mtu", "tfc", "%mtu", NULL);
    expect_map("child.tfc_padding=1500", "tfc", "1500", NULL);
    expect_error("is not a number from 0 to 65535 or %mtu\0",
                 "tfc", "65536", NULL);

    expect_map("child.inactivity=1800s", "inactivity", "30m", NULL);
    expect_map("child.inactivity=0s", "inactivity", "0", NULL);
}

static void
test_dpd(void **state OVS_UNUSED__)
{
    expect_map("conn.dpd_delay=10s", "dpddelay", "10", NULL);
    expect_map("conn.dpd_delay=120s", "dpddelay", "2m", NULL);
    expect_map("conn.dpd_timeout=150s", "dpdtimeout", "150s", NULL);

    /* A dpdaction turns DPD on, with ipsec.conf's 30s delay by default. */
    expect_map("conn.dpd_delay=30s child.dpd_action=restart",
               "dpdaction", "restart", NULL);
    expect_map("conn.dpd_delay=30s child.dpd_action=trap",
               "dpdaction", "hold", NULL);
    expect_map("conn.dpd_delay=5s conn.dpd_timeout=20s "
               "child.dpd_action=clear",
               "dpdaction", "clear", "dpddelay", "5s", "dpdtimeout", "20s",
               NULL);
    /* "none" turns it off. */
    expect_map("conn.dpd_delay=0s", "dpdaction", "none", NULL);
    expect_map("conn.dpd_delay=0s conn.dpd_timeout=60s",
               "dpdaction", "none", "dpdtimeout", "60s", NULL);
    expect_error("options:ipsec_dpddelay: \"10s\" has no effect with "
                 "options:ipsec_dpdaction: \"none\", which turns off dead "
                 "peer detection\0",
                 "dpdaction", "none", "dpddelay", "10s", NULL);
    expect_error("\"trap\" is not one of \"none\", \"clear\", \"hold\", "
                 "\"restart\"\0", "dpdaction", "trap", NULL);

    expect_map("child.close_action=none", "closeaction", "none", NULL);
    expect_map("child.close_action=none", "closeaction", "clear", NULL);
    expect_map("child.close_action=trap", "closeaction", "hold", NULL);
    expect_map("child.close_action=start", "closeaction", "restart", NULL);
    expect_error("is not one of\0", "closeaction", "start", NULL);
}

static void
test_times(void **state OVS_UNUSED__)
{
    /* rekey = life - margin (9m), rand = margin * fuzz (100%). */
    expect_map("conn.rekey_time=28260s conn.over_time=540s "
               "conn.rand_time=540s", "ikelifetime", "8h", NULL);
    expect_map("conn.rekey_time=28500s conn.over_time=300s "
               "conn.rand_time=150s child.life_time=3600s "
               "child.rekey_time=3300s child.rand_time=150s",
               "ikelifetime", "8h", "margintime", "5m", "rekeyfuzz", "50%",
               NULL);
    expect_map("child.life_time=7200s child.rekey_time=6660s "
               "child.rand_time=540s", "lifetime", "2h", NULL);
    expect_map("child.life_time=86400s child.rekey_time=85860s "
               "child.rand_time=540s", "keylife", "1d", NULL);
    expect_map("child.life_time=3600s child.rekey_time=3060s "
               "child.rand_time=540s", "lifetime", "3600", NULL);
    /* The margin and the fuzz apply to both SAs, with ipsec.conf's
     * defaults for the lifetimes not given. */
    expect_map("conn.rekey_time=10500s conn.over_time=300s "
               "conn.rand_time=300s child.life_time=3600s "
               "child.rekey_time=3300s child.rand_time=300s",
               "rekeymargin", "5m", NULL);
    expect_map("conn.rekey_time=10260s conn.over_time=540s "
               "conn.rand_time=0s child.life_time=3600s "
               "child.rekey_time=3060s child.rand_time=0s",
               "rekeyfuzz", "0%", NULL);
    expect_map("conn.rekey_time=10260s conn.over_time=540s "
               "conn.rand_time=1080s child.life_time=3600s "
               "child.rekey_time=3060s child.rand_time=1080s",
               "rekeyfuzz", "200%", NULL);

    /* reauth=yes reauthenticates instead of rekeying. */
    expect_map("conn.rekey_time=0s conn.reauth_time=10260s "
               "conn.over_time=540s conn.rand_time=540s",
               "reauth", "yes", NULL);
    expect_map("conn.rekey_time=0s conn.reauth_time=3000s "
               "conn.over_time=600s conn.rand_time=600s "
               "child.life_time=3600s child.rekey_time=3000s "
               "child.rand_time=600s",
               "reauth", "yes", "ikelifetime", "1h", "margintime", "10m",
               NULL);

    /* rekey=no: no rekeying, no expiry. */
    expect_map("conn.rekey_time=0s child.rekey_time=0s", "rekey", "no",
               NULL);
    expect_map("conn.rekey_time=0s child.rekey_time=0s", "rekey", "no",
               "reauth", "no", NULL);
    expect_error("options:ipsec_lifetime: \"1h\" has no effect with "
                 "options:ipsec_rekey: \"no\", which turns off rekeying and "
                 "expiry\0", "rekey", "no", "lifetime", "1h", NULL);
    expect_error("options:ipsec_reauth: \"yes\" has no effect with "
                 "options:ipsec_rekey: \"no\"\0",
                 "rekey", "no", "reauth", "yes", NULL);
    expect_error("options:ipsec_lifebytes\0has no effect with\0",
                 "rekey", "no", "lifebytes", "1000000", NULL);

    /* Rekeying must start after setup even with the largest margin. */
    expect_error("options:ipsec_lifetime: \"15m\" does not fit: the CHILD_SA "
                 "lifetime, lifetime (900s), must be greater than margintime "
                 "(540s, the ipsec.conf default) plus rekeyfuzz (100%, the "
                 "ipsec.conf default) of it, 1080s\0",
                 "lifetime", "15m", NULL);
    expect_error("options:ipsec_margintime: \"2h\" does not fit: the IKE SA "
                 "lifetime, ikelifetime (10800s, the ipsec.conf default), "
                 "must be greater than margintime (7200s)\0",
                 "margintime", "2h", NULL);
    /* 540s + 1000% fits in the IKE SA's 3h, not in the CHILD_SA's 1h. */
    expect_error("options:ipsec_rekeyfuzz: \"1000%\" does not fit: the "
                 "CHILD_SA lifetime\0", "rekeyfuzz", "1000%", NULL);
    expect_error("options:ipsec_ikelifetime: \"9m\" does not fit\0",
                 "ikelifetime", "9m", NULL);
    expect_map("conn.rekey_time=2s conn.over_time=1s conn.rand_time=1s "
               "child.life_time=3600s child.rekey_time=3599s "
               "child.rand_time=1s",
               "ikelifetime", "3s", "margintime", "1s", "rekeyfuzz", "100%",
               NULL);
    expect_error("does not fit\0", "ikelifetime", "2s", "margintime", "1s",
                 NULL);

    /* Formats and limits. */
    expect_map("child.life_time=4294967295s child.rekey_time=4294966755s "
               "child.rand_time=540s", "lifetime", "4294967295", NULL);
    expect_map("child.life_time=4294944000s child.rekey_time=4294943460s "
               "child.rand_time=540s", "lifetime", "49710d", NULL);
    expect_error("options:ipsec_lifetime: \"49711d\" is too long: at most "
                 "4294967295 seconds\0", "lifetime", "49711d", NULL);
    expect_error("is too long\0", "ikelifetime", "4294967296s", NULL);
    expect_error("is not a time\0", "ikelifetime", "99999999999999999999999",
                 NULL);
    expect_error("options:ipsec_rekeyfuzz: \"1001%\" is not a percentage "
                 "from 0% to 1000%\0", "rekeyfuzz", "1001%", NULL);
    expect_error("is not a percentage\0", "rekeyfuzz", "50", NULL);
    expect_error("is not a percentage\0", "rekeyfuzz", "%", NULL);
}

static void
test_volumes(void **state OVS_UNUSED__)
{
    expect_map("child.life_bytes=1000000000", "lifebytes", "1000000000",
               NULL);
    expect_map("child.life_bytes=1000000000 child.rekey_bytes=900000000 "
               "child.rand_bytes=100000000",
               "lifebytes", "1000000000", "marginbytes", "100000000", NULL);
    expect_map("child.life_packets=1000000 child.rekey_packets=900000 "
               "child.rand_packets=100000",
               "lifepackets", "1000000", "marginpackets", "100000", NULL);
    expect_map("child.life_bytes=1000000000000000000",
               "lifebytes", "1000000000000000000", NULL);
    expect_error("options:ipsec_lifebytes: \"1000000000000000001\" is not a "
                 "number from 0 to 1000000000000000000\0",
                 "lifebytes", "1000000000000000001", NULL);
    expect_error("options:ipsec_marginbytes: \"1000\" has no effect without "
                 "options:ipsec_lifebytes\0", "marginbytes", "1000", NULL);
    expect_error("options:ipsec_marginpackets: \"10\" has no effect without "
                 "options:ipsec_lifepackets\0", "marginpackets", "10", NULL);
    expect_error("options:ipsec_lifepackets: \"100\" does not fit: the "
                 "CHILD_SA packet limit, lifepackets (100 packets), must be "
                 "greater than marginpackets (60 packets) plus rekeyfuzz "
                 "(100%, the ipsec.conf default) of it, 120 packets\0",
                 "lifepackets", "100", "marginpackets", "60", NULL);
}

static void
test_rekeyfuzz_with_volume(void **state OVS_UNUSED__)
{
    /* The full map of a fuzz with a byte margin, in the fixed order. */
    expect_map("conn.rekey_time=10260s conn.over_time=540s "
               "conn.rand_time=270s child.life_time=3600s "
               "child.rekey_time=3060s child.rand_time=270s "
               "child.life_bytes=1000 child.rekey_bytes=900 "
               "child.rand_bytes=50",
               "lifebytes", "1000", "marginbytes", "100", "rekeyfuzz", "50%",
               NULL);
}

static void
test_synonyms(void **state OVS_UNUSED__)
{
    /* Two spellings of one setting: fine when they agree... */
    expect_map("child.life_time=3600s child.rekey_time=3060s "
               "child.rand_time=540s", "lifetime", "1h", "keylife", "60m",
               NULL);
    expect_map("conn.rekey_time=10500s conn.over_time=300s "
               "conn.rand_time=300s child.life_time=3600s "
               "child.rekey_time=3300s child.rand_time=300s",
               "margintime", "300", "rekeymargin", "5m", NULL);
    /* ... an error when they do not. */
    expect_error("gnv0: options:ipsec_lifetime: \"1h\" conflicts with "
                 "options:ipsec_keylife: \"2h\": both set the same swanctl "
                 "setting\0", "lifetime", "1h", "keylife", "2h", NULL);
    expect_error("options:ipsec_rekeymargin: \"5m\" conflicts with "
                 "options:ipsec_margintime: \"4m\"\0",
                 "margintime", "4m", "rekeymargin", "5m", NULL);
}

static void
test_rejected(void **state OVS_UNUSED__)
{
    /* Set by ovsec. */
    static const char *const ovsec_sets[] = {
        "auto", "type", "authby", "also", "left", "right", "leftid",
        "rightid", "leftcert", "rightcert", "leftsubnet", "rightsubnet",
        "leftprotoport", "rightprotoport", "leftauth", "rightca",
        "leftsendcert", "leftikeport", "rightallowany", "mark", "mark_in",
        "mark_out", "reqid", "leftsigkey", "rightrsasigkey",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ovsec_sets); i++) {
        char *expected = xasprintf("gnv0: options:ipsec_%s: \"x\" is not "
                                   "accepted: ", ovsec_sets[i]);
        char *error;
        struct smap options;
        struct stroke_map m;

        smap_init(&options);
        smap_add(&options, ovsec_sets[i], "x");
        error = stroke_map_translate("gnv0", &options, &m);
        assert_non_null(error);
        assert_true(str_starts_with(error, expected));
        /* The reason names what ovsec does instead. */
        assert_true(strstr(error, "ovsec") || strstr(error, "IKE daemon"));
        free(error);
        free(expected);
        smap_destroy(&options);
    }

    expect_error("options:ipsec_auto: \"route\" is not accepted: ovsec "
                 "installs trap policies\0", "auto", "route", NULL);
    expect_error("options:ipsec_type: \"tunnel\" is not accepted: ovsec "
                 "always uses transport mode\0", "type", "tunnel", NULL);
    expect_error("options:ipsec_leftid: \"@a\" is not accepted: ovsec sets "
                 "identities and credentials\0", "leftid", "@a", NULL);
    expect_error("ovsec sets the connection's addresses\0",
                 "right", "10.0.0.1", NULL);
    expect_error("ovsec sets the traffic selectors\0",
                 "leftprotoport", "udp/6081", NULL);
    expect_error("other_config:ipsec_skb_mark\0", "mark", "1/0xff", NULL);

    /* Not supported by ovsec. */
    expect_error("ovsec runs no updown script\0",
                 "leftupdown", "/bin/sh -c reboot", NULL);
    expect_error("ovsec runs no updown script\0",
                 "rightfirewall", "yes", NULL);
    expect_error("virtual IPs and Mode Config\0", "modeconfig", "push",
                 NULL);
    expect_error("virtual IPs\0", "leftsourceip", "%config", NULL);
    expect_error("EAP and XAuth are not used\0", "xauth", "client", NULL);
    expect_error("EAP and XAuth are not used\0", "eap_identity", "a", NULL);
    expect_error("mediation extension\0", "mediation", "yes", NULL);

    /* No swanctl equivalent. */
    expect_error("options:ipsec_pfs: \"yes\" is not accepted: it was "
                 "removed from strongSwan; PFS is enabled by a key exchange "
                 "method in options:ipsec_esp\0", "pfs", "yes", NULL);
    expect_error("PFS\0", "pfsgroup", "modp2048", NULL);
    expect_error("no swanctl equivalent\0", "eap", "md5", NULL);
    expect_error("no swanctl equivalent\0", "leftnexthop", "%direct", NULL);
    expect_error("options:ipsec_auth\0charon never supported it\0",
                 "auth", "ah", NULL);

    /* Not connection parameters. */
    expect_error("'config setup' parameter\0", "uniqueids", "no", NULL);
    expect_error("'config setup' parameter\0", "charondebug", "ike 2",
                 NULL);
    expect_error("'ca' section parameter\0", "cacert", "/a.pem", NULL);

    /* Unknown, Libreswan keys included. */
    expect_error("gnv0: options:ipsec_foo: \"bar\" is not accepted: unknown "
                 "IPsec option\0", "foo", "bar", NULL);
    expect_error("unknown IPsec option\0", "ikev2", "insist", NULL);
    expect_error("unknown IPsec option\0", "IKE", "aes", NULL);
    expect_error("unknown IPsec option\0", "", "x", NULL);

    /* A rejected key is rejected whatever its value. */
    expect_error("is not accepted\0", "left", "", NULL);
}

static void
test_first_error_by_key(void **state OVS_UNUSED__)
{
    expect_error("gnv0: options:ipsec_aaa: \"1\"\0",
                 "zzz", "2", "aaa", "1", "ike", "aes;", NULL);
    expect_error("gnv0: options:ipsec_ike: \"aes;\"\0",
                 "zzz", "2", "ike", "aes;", NULL);
}

static void
test_everything(void **state OVS_UNUSED__)
{
    /* Every mapped key at once, in the fixed order. */
    expect_map("conn.proposals=[aes256gcm16-sha256-modp2048] "
               "conn.encap=yes conn.mobike=no conn.fragmentation=yes "
               "conn.dscp=001010 conn.keyingtries=0 conn.dpd_delay=10s "
               "conn.dpd_timeout=60s conn.rekey_time=28200s "
               "conn.over_time=600s conn.rand_time=300s "
               "child.esp_proposals=[aes256gcm16-modp2048,default] "
               "child.ipcomp=no child.sha256_96=no child.replay_window=64 "
               "child.tfc_padding=mtu child.inactivity=300s "
               "child.dpd_action=restart child.close_action=trap "
               "child.life_time=7200s child.rekey_time=6600s "
               "child.rand_time=300s child.life_bytes=100000 "
               "child.rekey_bytes=90000 child.rand_bytes=5000 "
               "child.life_packets=5000",
               "ike", "aes256gcm16-sha256-modp2048!",
               "esp", "aes256gcm16-modp2048",
               "forceencaps", "yes", "mobike", "no", "fragmentation", "yes",
               "ikedscp", "1010", "keyingtries", "%forever",
               "dpddelay", "10s", "dpdtimeout", "1m", "dpdaction", "restart",
               "closeaction", "hold", "ikelifetime", "8h", "lifetime", "2h",
               "margintime", "10m", "rekeyfuzz", "50%",
               "lifebytes", "100000", "marginbytes", "10000",
               "lifepackets", "5000", "rekey", "yes", "reauth", "no",
               "compress", "no", "sha256_96", "no", "replay_window", "64",
               "inactivity", "5m", "tfc", "%mtu", "keyexchange", "ikev2",
               "aggressive", "no", "installpolicy", "yes", NULL);
}

static void
test_find(void **state OVS_UNUSED__)
{
    struct stroke_map map;
    struct smap options;
    const struct stroke_setting *s;

    smap_init(&options);
    smap_add(&options, "ike", "aes128-sha256-modp3072");
    smap_add(&options, "lifetime", "1h");
    assert_null(stroke_map_translate("gnv0", &options, &map));

    s = stroke_map_find(&map, STROKE_CONN, "proposals");
    assert_non_null(s);
    assert_true(s->is_list);
    assert_string_equal(s->value, "aes128-sha256-modp3072,default");
    s = stroke_map_find(&map, STROKE_CHILD, "rekey_time");
    assert_non_null(s);
    assert_false(s->is_list);
    assert_string_equal(s->value, "3060s");
    /* Scopes are distinct. */
    assert_null(stroke_map_find(&map, STROKE_CONN, "rekey_time"));
    assert_null(stroke_map_find(&map, STROKE_CHILD, "proposals"));
    assert_null(stroke_map_find(&map, STROKE_CHILD, "esp_proposals"));

    stroke_map_destroy(&map);
    assert_int_equal(map.n, 0);
    assert_null(map.settings);
    stroke_map_destroy(&map);
    smap_destroy(&options);

    assert_string_equal(stroke_scope_to_string(STROKE_CONN), "conn");
    assert_string_equal(stroke_scope_to_string(STROKE_CHILD), "child");
    assert_string_equal(stroke_scope_to_string(STROKE_LOCAL), "local");
    assert_string_equal(stroke_scope_to_string(STROKE_REMOTE), "remote");
}

/* Every key of strongSwan's keywords.txt, with values that are valid for
 * some keys and not for others: never a crash or a leak, and a message
 * whenever there is no map. */
static void
test_all_keywords(void **state OVS_UNUSED__)
{
    static const char *const names[] = {
        "charondebug", "uniqueids", "cachecrls", "strictcrlpolicy",
        "keyexchange", "type", "compress", "installpolicy", "aggressive",
        "authby", "eap_identity", "aaa_identity", "mobike", "forceencaps",
        "fragmentation", "ikedscp", "ikelifetime", "lifetime", "keylife",
        "rekeymargin", "margintime", "lifebytes", "marginbytes",
        "lifepackets", "marginpackets", "keyingtries", "rekeyfuzz", "rekey",
        "reauth", "ike", "esp", "ah", "dpddelay", "dpdtimeout", "dpdaction",
        "closeaction", "sha256_96", "inactivity", "modeconfig", "xauth",
        "xauth_identity", "mediation", "mediated_by", "me_peerid", "reqid",
        "replay_window", "mark", "mark_in", "mark_out", "tfc", "cacert",
        "crluri", "crluri1", "crluri2", "ocspuri", "ocspuri1", "ocspuri2",
        "certuribase", "left", "leftikeport", "leftsubnet",
        "leftsubnetwithin", "leftprotoport", "leftsourceip", "leftdns",
        "leftfirewall", "lefthostaccess", "leftallowany", "leftupdown",
        "leftauth", "leftauth2", "leftid", "leftid2", "leftsigkey",
        "leftrsasigkey", "leftcert", "leftcert2", "leftcertpolicy",
        "leftsendcert", "leftca", "leftca2", "leftgroups", "leftgroups2",
        "right", "rightikeport", "rightsubnet", "rightsubnetwithin",
        "rightprotoport", "rightsourceip", "rightdns", "rightfirewall",
        "righthostaccess", "rightallowany", "rightupdown", "rightauth",
        "rightauth2", "rightid", "rightid2", "rightsigkey",
        "rightrsasigkey", "rightcert", "rightcert2", "rightcertpolicy",
        "rightsendcert", "rightca", "rightca2", "rightgroups",
        "rightgroups2", "also", "auto", "pfs", "pfsgroup", "eap",
        "leftnexthop", "rightnexthop",
    };
    static const char *const values[] = {
        "yes", "no", "1h", "0", "100%", "%forever", "aes-sha256", "",
        "x\n}", "-1", "hold",
    };

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(values); j++) {
            struct stroke_map map;
            struct smap options;
            char *error;

            smap_init(&options);
            smap_add(&options, names[i], values[j]);
            error = stroke_map_translate("gnv0", &options, &map);
            if (error) {
                assert_int_equal(map.n, 0);
                assert_non_null(strstr(error, names[i]));
                assert_null(strchr(error, '\n'));
                /* Never "unknown" for a real ipsec.conf key. */
                assert_null(strstr(error, "unknown IPsec option"));
            } else {
                for (size_t k = 0; k < map.n; k++) {
                    assert_null(strpbrk(map.settings[k].value,
                                        " \t\n{}=;#\"'"));
                }
            }
            free(error);
            stroke_map_destroy(&map);
            smap_destroy(&options);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_proposals),
        cmocka_unit_test(test_injection),
        cmocka_unit_test(test_booleans_and_words),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_dpd),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_rekeyfuzz_with_volume),
        cmocka_unit_test(test_synonyms),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_first_error_by_key),
        cmocka_unit_test(test_everything),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_all_keywords),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
