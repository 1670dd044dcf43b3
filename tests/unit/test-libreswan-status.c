/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for ike/libreswan-status: `ipsec status` captured from a
 * real Libreswan 4.10 (host kernel without ESP, and user-mode Linux with
 * ESP) and synthetic 5.x output (tests/unit/data/libreswan/README.md),
 * with interface names upstream's regexes misread ("gnv-in-7-in-3",
 * "vx6.a_b-out-12") and IPv6; then hand-written corner cases: IKEv1 and
 * 3.x wording, several children, instances, missing or zero SPIs,
 * truncated and garbage input, the connection cap.
 */
#include "config.h"
#include "libreswan-status.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ds.h"
#include "util.h"

#define DATA TEST_SRCDIR "/data/libreswan/"

static char *
read_file(const char *name, size_t *ret_size)
{
    FILE *f = fopen(name, "rb");
    if (!f) {
        fail_msg("%s: %s", name, strerror(errno));
    }
    struct ds ds = DS_EMPTY_INITIALIZER;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ds_put_buffer(&ds, buf, n);
    }
    fclose(f);
    *ret_size = ds.length;
    return ds_steal_cstr(&ds);
}

static struct libreswan_status *
parse_file(const char *name)
{
    size_t size;
    char *text = read_file(name, &size);
    struct libreswan_status *status = libreswan_status_parse(text, size);
    free(text);
    return status;
}

static struct libreswan_status *
parse_str(const char *text)
{
    return libreswan_status_parse(text, strlen(text));
}

/* Expected state of one connection. */
struct expect {
    const char *name;
    bool loaded;
    const char *routing;        /* NULL: don't care. */
    bool ike;
    unsigned long ike_serial;
    bool esp;
    unsigned long esp_serial;
    const char *esp_state;      /* NULL: none. */
    uint32_t spi_in, spi_out;
};

static void
check_conn(const struct libreswan_status *status, const struct expect *e)
{
    const struct libreswan_conn_state *c = libreswan_status_find(status,
                                                                 e->name);
    if (!c) {
        fail_msg("%s: not found", e->name);
    }
    assert_string_equal(c->name, e->name);
    if (c->loaded != e->loaded || c->ike_established != e->ike
        || c->ike_serial != e->ike_serial || c->esp_established != e->esp
        || c->esp_serial != e->esp_serial || c->esp_spi_in != e->spi_in
        || c->esp_spi_out != e->spi_out) {
        struct ds ds = DS_EMPTY_INITIALIZER;
        libreswan_conn_state_format(c, &ds);
        fail_msg("%s: got %s", e->name, ds_cstr(&ds));
    }
    if (e->routing) {
        assert_non_null(c->routing);
        assert_string_equal(c->routing, e->routing);
    }
    if (e->esp_state) {
        assert_non_null(c->esp_state);
        assert_string_equal(c->esp_state, e->esp_state);
    } else {
        assert_null(c->esp_state);
    }
    assert_int_equal(libreswan_status_conn_is_up(status, e->name), e->esp);
    /* Never up without both SPIs. */
    if (c->esp_established) {
        assert_true(c->esp_spi_in && c->esp_spi_out);
    }
}

static void
check_all(const char *file, const struct expect *e, size_t n,
          size_t n_conns)
{
    struct libreswan_status *status = parse_file(file);
    assert_int_equal(status->n_conns, n_conns);
    assert_false(status->truncated);
    for (size_t i = 0; i < n; i++) {
        check_conn(status, &e[i]);
    }
    /* Sorted by name. */
    for (size_t i = 1; i < status->n_conns; i++) {
        assert_true(strcmp(status->conns[i - 1].name,
                           status->conns[i].name) < 0);
    }
    libreswan_status_destroy(status);
}

/* Every connection loaded, nothing up. */
static void
test_410_loaded(void **state OVS_UNUSED__)
{
    static const char *const files[] = {
        DATA "4.10/no-esp-loaded.txt", DATA "4.10/uml-loaded.txt",
    };
    for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
        static const char *const names[] = {
            "gnv-in-7-in-3", "gnv-in-7-out-3", "gre0-1", "lonely-out-2",
            "vx6.a_b-in-12", "vx6.a_b-out-12",
        };
        struct libreswan_status *status = parse_file(files[f]);
        assert_int_equal(status->n_conns, ARRAY_SIZE(names));
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
            const struct libreswan_conn_state *c = &status->conns[i];
            assert_string_equal(c->name, names[i]);
            assert_true(c->loaded);
            assert_string_equal(c->routing, "unrouted");
            assert_false(c->ike_established);
            assert_false(c->esp_established);
            assert_int_equal(c->n_states, 0);
        }
        /* Prefixes of real names are not names. */
        assert_null(libreswan_status_find(status, "gnv-in-7"));
        assert_null(libreswan_status_find(status, "gnv"));
        assert_null(libreswan_status_find(status, "vx6.a_b-in"));
        libreswan_status_destroy(status);
    }
}

/* Host kernel without ESP: IKE SAs established, no ESP SA anywhere: no
 * connection may count as up (upstream counted IKE-only ones). */
static void
test_410_no_esp(void **state OVS_UNUSED__)
{
    static const struct expect left[] = {
        { "gnv-in-7-in-3", true, "unrouted", false, 0, false, 0, NULL, 0, 0 },
        { "gnv-in-7-out-3", true, "unrouted", false, 0, false, 0, NULL, 0,
          0 },
        { "gre0-1", true, "unrouted", true, 1, false, 0, NULL, 0, 0 },
        { "lonely-out-2", true, "unrouted", false, 6, false, 0, NULL, 0, 0 },
        { "vx6.a_b-in-12", true, "unrouted", false, 0, false, 0, NULL, 0, 0 },
        { "vx6.a_b-out-12", true, "unrouted", true, 4, false, 0, NULL, 0, 0 },
    };
    check_all(DATA "4.10/no-esp-left.txt", left, ARRAY_SIZE(left), 6);

    static const struct expect right[] = {
        { "gnv-in-7-in-3", true, NULL, false, 0, false, 0, NULL, 0, 0 },
        /* The responder filed the IKE SA under this connection. */
        { "gnv-in-7-out-3", true, NULL, true, 1, false, 0, NULL, 0, 0 },
        { "gre0-1", true, NULL, false, 0, false, 0, NULL, 0, 0 },
        { "vx6.a_b-out-12", true, NULL, true, 4, false, 0, NULL, 0, 0 },
    };
    check_all(DATA "4.10/no-esp-right.txt", right, ARRAY_SIZE(right), 5);

    static const struct expect down[] = {
        { "gnv-in-7-in-3", true, NULL, false, 0, false, 0, NULL, 0, 0 },
        { "gre0-1", true, NULL, true, 1, false, 0, NULL, 0, 0 },
    };
    check_all(DATA "4.10/no-esp-down.txt", down, ARRAY_SIZE(down), 4);

    struct libreswan_status *status = parse_file(DATA "4.10/no-esp-down.txt");
    assert_null(libreswan_status_find(status, "gnv-in-7-out-3"));
    assert_null(libreswan_status_find(status, "vx6.a_b-in-12"));
    assert_false(libreswan_status_conn_is_up(status, "gnv-in-7-out-3"));
    const struct libreswan_conn_state *c
        = libreswan_status_find(status, "lonely-out-2");
    assert_string_equal(c->ike_state, "STATE_V2_PARENT_I1");
    assert_false(c->ike_established);
    libreswan_status_destroy(status);
}

/* User-mode Linux: real ESP SAs. */
static void
test_410_uml(void **state OVS_UNUSED__)
{
    static const struct expect left[] = {
        { "gnv-in-7-in-3", true, "unrouted", false, 0, false, 0, NULL, 0, 0 },
        /* Child sent, answer not processed yet: not up. */
        { "gnv-in-7-out-3", true, "unrouted", false, 0, false, 5,
          "STATE_V2_NEW_CHILD_I1", 0, 0 },
        { "gre0-1", true, "erouted", true, 1, true, 2,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0xe47778a9, 0xa0cd988d },
        { "lonely-out-2", true, "unrouted", false, 4, false, 0, NULL, 0, 0 },
        { "vx6.a_b-in-12", true, "unrouted", false, 0, false, 0, NULL, 0, 0 },
        /* IPv6 SAIDs: "esp:SPI@ADDR". */
        { "vx6.a_b-out-12", true, "erouted", true, 3, true, 6,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0xa191ec5b, 0x17bf2f7 },
    };
    check_all(DATA "4.10/uml-left.txt", left, ARRAY_SIZE(left), 6);

    static const struct expect right[] = {
        /* Child of an IKE SA filed under gnv-in-7-out-3. */
        { "gnv-in-7-in-3", true, "erouted", true, 1, true, 4,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0x7d7ca9d5, 0xc3bc1b89 },
        { "gnv-in-7-out-3", true, "unrouted", true, 1, false, 0, NULL, 0, 0 },
        { "gre0-1", true, "erouted", true, 1, true, 2,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0xa0cd988d, 0xe47778a9 },
        { "vx6.a_b-in-12", true, "erouted", true, 3, true, 5,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0x17bf2f7, 0xa191ec5b },
        { "vx6.a_b-out-12", true, "unrouted", true, 3, false, 0, NULL, 0, 0 },
    };
    check_all(DATA "4.10/uml-right.txt", right, ARRAY_SIZE(right), 5);

    static const struct expect down[] = {
        { "gre0-1", true, "erouted", true, 1, true, 2,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0xe47778a9, 0xa0cd988d },
        { "vx6.a_b-out-12", true, "erouted", true, 3, true, 6,
          "STATE_V2_ESTABLISHED_CHILD_SA", 0xa191ec5b, 0x17bf2f7 },
    };
    check_all(DATA "4.10/uml-down.txt", down, ARRAY_SIZE(down), 4);
}

/* The SPIs in the status are the kernel's (ip xfrm state at the same
 * moment). */
static void
test_410_spis_match_kernel(void **state OVS_UNUSED__)
{
    size_t size;
    char *xfrm = read_file(DATA "4.10/uml-xfrm-state-left.txt", &size);
    struct libreswan_status *status = parse_file(DATA "4.10/uml-left.txt");
    for (size_t i = 0; i < status->n_conns; i++) {
        const struct libreswan_conn_state *c = &status->conns[i];
        if (c->esp_established) {
            char spi[32];
            snprintf(spi, sizeof spi, "spi 0x%08"PRIx32" ", c->esp_spi_in);
            assert_non_null(strstr(xfrm, spi));
            snprintf(spi, sizeof spi, "spi 0x%08"PRIx32" ", c->esp_spi_out);
            assert_non_null(strstr(xfrm, spi));
        }
    }
    libreswan_status_destroy(status);
    free(xfrm);
}

static void
test_5x_synthetic(void **state OVS_UNUSED__)
{
    static const struct expect est[] = {
        { "gnv-in-7-in-3", true, "routed-tunnel", true, 1, true, 5,
          "ESTABLISHED_CHILD_SA", 0xc3bc1b89, 0x7d7ca9d5 },
        /* "used 3s ago;" before the SAIDs. */
        { "gnv-in-7-out-3", true, "routed-tunnel", true, 1, true, 6,
          "ESTABLISHED_CHILD_SA", 0x9a0c44e1, 0x5b2e01f0 },
        { "gre0-1", true, "routed-tunnel", true, 1, true, 2,
          "ESTABLISHED_CHILD_SA", 0xe47778a9, 0xa0cd988d },
        { "lonely-out-2", true, "unrouted-negotiation", false, 4, false, 0,
          NULL, 0, 0 },
        { "vx6.a_b-in-12", true, "routed-tunnel", false, 0, false, 8,
          "NEW_CHILD_I1", 0, 0 },
        { "vx6.a_b-out-12", true, "routed-tunnel", true, 3, true, 7,
          "ESTABLISHED_CHILD_SA", 0xa191ec5b, 0x17bf2f7 },
    };
    check_all(DATA "5.x/established.txt", est, ARRAY_SIZE(est), 6);

    static const struct expect no_esp[] = {
        { "gnv-in-7-in-3", true, "unrouted", false, 0, false, 0, NULL, 0, 0 },
        { "gnv-in-7-out-3", true, "unrouted", false, 0, false, 5,
          "NEW_CHILD_I1", 0, 0 },
        { "gre0-1", true, "unrouted", true, 1, false, 0, NULL, 0, 0 },
        { "lonely-out-2", true, "unrouted-negotiation", false, 4, false, 0,
          NULL, 0, 0 },
        { "vx6.a_b-out-12", true, "unrouted", true, 3, false, 0, NULL, 0, 0 },
    };
    check_all(DATA "5.x/no-esp.txt", no_esp, ARRAY_SIZE(no_esp), 6);

    struct libreswan_status *status = parse_file(DATA "5.x/no-esp.txt");
    assert_string_equal(libreswan_status_find(status,
                                              "lonely-out-2")->ike_state,
                        "IKE_SA_INIT_I");
    libreswan_status_destroy(status);
}

/* Rekeyed children: the newest established one counts. */
static void
test_several_children(void **state OVS_UNUSED__)
{
    struct libreswan_status *status = parse_str(
        "000 \"c-1\": 10.0.0.1...10.0.0.2; erouted; eroute owner: #3\n"
        "000 #1: \"c-1\":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE "
        "SA); newest; idle;\n"
        "000 #2: \"c-1\":500 STATE_V2_ESTABLISHED_CHILD_SA (established "
        "Child SA); REKEY in 27499s; IKE SA #1; idle;\n"
        "000 #2: \"c-1\" esp.248d1071@10.0.0.2 esp.4e68b7a9@10.0.0.1 "
        "Traffic: ESPin=0B ESPout=0B ESPmax=2^63B\n"
        "000 #3: \"c-1\":500 STATE_V2_ESTABLISHED_CHILD_SA (established "
        "Child SA); newest; eroute owner; IKE SA #1; idle;\n"
        "000 #3: \"c-1\" esp.a3a6c6eb@10.0.0.2 esp.8fd9bdcd@10.0.0.1 "
        "Traffic: ESPin=128B ESPout=128B ESPmax=2^63B\n"
        "000 #4: \"c-1\":500 STATE_V2_REKEY_CHILD_I1 (sent CREATE_CHILD_SA "
        "request to rekey IPsec SA); idle;\n");
    const struct libreswan_conn_state *c = libreswan_status_find(status,
                                                                 "c-1");
    assert_non_null(c);
    assert_true(c->esp_established);
    assert_int_equal(c->esp_serial, 3);
    assert_int_equal(c->esp_spi_out, 0xa3a6c6eb);
    assert_int_equal(c->esp_spi_in, 0x8fd9bdcd);
    assert_int_equal(c->n_states, 4);
    assert_string_equal(c->routing, "erouted");
    libreswan_status_destroy(status);
}

/* IKEv1, 3.x wording, instances, CRLF, no final newline. */
static void
test_other_wordings(void **state OVS_UNUSED__)
{
    struct libreswan_status *status = parse_str(
        "000 #1: \"v1\":500 STATE_MAIN_I4 (ISAKMP SA established); "
        "EVENT_SA_REPLACE in 2763s; newest ISAKMP; lastdpd=-1s(seq in:0 "
        "out:0); idle;\r\n"
        "000 #2: \"v1\":500 STATE_QUICK_I2 (sent QI2, IPsec SA "
        "established); EVENT_SA_REPLACE in 28523s; newest IPSEC; eroute "
        "owner; isakmp#1; idle;\r\n"
        "000 #2: \"v1\" esp.9c5b27a1@192.1.2.23 esp.8e2e1b9a@192.1.2.45 "
        "tun.0@192.1.2.23 tun.0@192.1.2.45 ref=0 refhim=0 Traffic: "
        "ESPin=0B ESPout=0B! ESPmax=4194303B\r\n"
        "000 #5: \"v3\":500 STATE_PARENT_I3 (PARENT SA established); "
        "newest ISAKMP; idle;\n"
        "000 #6: \"v3\":500 STATE_V2_IPSEC_I (IPsec SA established); "
        "newest IPSEC; eroute owner; isakmp#5; idle;\n"
        "000 #6: \"v3\" esp.1@192.0.2.2 esp.2@192.0.2.1 Traffic:\n"
        "#9: \"tmpl\"[3] 192.1.3.33:4500 ESTABLISHED_CHILD_SA (established "
        "Child SA); newest; IKE SA #8; idle;\n"
        "#9: \"tmpl\"[3] 192.1.3.33 esp.aa@192.1.3.33 esp.bb@192.1.2.23 "
        "Traffic: ESPin=0B\n"
        "\"tmpl\"[3] 192.1.3.33: 192.0.2.0/24===192.1.2.23...192.1.3.33; "
        "routed-tunnel; my_ip=unset;");
    const struct libreswan_conn_state *c;

    c = libreswan_status_find(status, "v1");
    assert_true(c->ike_established);
    assert_true(c->esp_established);
    assert_int_equal(c->esp_spi_out, 0x9c5b27a1);
    assert_int_equal(c->esp_spi_in, 0x8e2e1b9a);
    assert_false(c->loaded);            /* Not in the definition list. */

    c = libreswan_status_find(status, "v3");
    assert_true(c->ike_established);
    assert_true(c->esp_established);
    assert_int_equal(c->esp_spi_out, 1);
    assert_int_equal(c->esp_spi_in, 2);

    c = libreswan_status_find(status, "tmpl");
    assert_non_null(c);
    assert_true(c->loaded);
    assert_string_equal(c->routing, "routed-tunnel");
    assert_true(c->esp_established);
    assert_int_equal(c->esp_spi_out, 0xaa);
    assert_false(c->ike_established);   /* #8 is not listed. */
    assert_int_equal(status->n_conns, 3);
    libreswan_status_destroy(status);
}

/* Established children without usable SPIs never count as up. */
static void
test_no_spis_not_up(void **state OVS_UNUSED__)
{
    static const char *const texts[] = {
        /* No SA line. */
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n",
        /* One SAID only (AH, say). */
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n"
        "#2: \"a-1\" ah.1234@10.0.0.2 esp.5678@10.0.0.1 Traffic:\n",
        /* Zero SPI. */
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n"
        "#2: \"a-1\" esp.0@10.0.0.2 esp.5678@10.0.0.1 Traffic:\n",
        /* Malformed SPIs. */
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n"
        "#2: \"a-1\" esp.123456789@10.0.0.2 esp.xyz@10.0.0.1 Traffic:\n",
        /* SA line of another connection's serial. */
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n"
        "#2: \"b-1\" esp.1@10.0.0.2 esp.2@10.0.0.1 Traffic:\n",
        /* SA line before its state line. */
        "#2: \"a-1\" esp.1@10.0.0.2 esp.2@10.0.0.1 Traffic:\n"
        "#2: \"a-1\":500 ESTABLISHED_CHILD_SA (established Child SA); "
        "newest; IKE SA #1; idle;\n",
        /* Not established, SPIs or not. */
        "#2: \"a-1\":500 NEW_CHILD_I1 (sent CREATE_CHILD_SA request for "
        "new IPsec SA); idle;\n"
        "#2: \"a-1\" esp.1@10.0.0.2 esp.2@10.0.0.1 Traffic:\n",
        /* IKE SA only. */
        "#1: \"a-1\":500 ESTABLISHED_IKE_SA (established IKE SA); newest; "
        "idle;\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        struct libreswan_status *status = parse_str(texts[i]);
        const struct libreswan_conn_state *c
            = libreswan_status_find(status, "a-1");
        assert_non_null(c);
        if (c->esp_established) {
            fail_msg("text %zu: counted as up", i);
        }
        assert_false(libreswan_status_conn_is_up(status, "a-1"));
        assert_int_equal(c->esp_spi_in, 0);
        assert_int_equal(c->esp_spi_out, 0);
        libreswan_status_destroy(status);
    }
}

/* Every prefix of every fixture parses, and nothing shows up that the
 * full text does not have as up. */
static void
test_truncated(void **state OVS_UNUSED__)
{
    static const char *const files[] = {
        DATA "4.10/uml-left.txt", DATA "4.10/uml-right.txt",
        DATA "5.x/established.txt",
    };
    for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
        size_t size;
        char *text = read_file(files[f], &size);
        struct libreswan_status *full = libreswan_status_parse(text, size);
        for (size_t n = 0; n < size; n += 7) {
            struct libreswan_status *part = libreswan_status_parse(text, n);
            for (size_t i = 0; i < part->n_conns; i++) {
                const struct libreswan_conn_state *c = &part->conns[i];
                if (c->esp_established) {
                    assert_true(libreswan_status_conn_is_up(full, c->name));
                }
            }
            libreswan_status_destroy(part);
        }
        libreswan_status_destroy(full);
        free(text);
    }
}

static void
test_garbage(void **state OVS_UNUSED__)
{
    static const char *const texts[] = {
        "", "\n", "#", "#1", "#1:", "#1: ", "#1: \"", "#1: \"\"", "\"",
        "\"\"", "\"a", "\"a\"", "\"a\":", "\"a\": ", "\"a\": x...y",
        "#99999999999999999999999: \"a\":500 X (y);",
        "#1: \"a\":500 (no state name);", "#1: \"a\":500 lower (x);",
        "000", "000 ", "0000 \"a\": 1...2; r;", "\"a\x01\": 1...2; r;",
        "#1: \"a\" esp.@x esp.1@", "#1: \"a\":500 ESTABLISHED_IKE_SA (",
        "\xff\xfe\"\xff\": ...;;;;", "#1: pending Child SA for \"a\"",
    };
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        struct libreswan_status *status = parse_str(texts[i]);
        for (size_t j = 0; j < status->n_conns; j++) {
            assert_false(status->conns[j].esp_established);
        }
        libreswan_status_destroy(status);
    }

    /* Names: empty, control characters, too long are ignored. */
    struct ds ds = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&ds, "\"");
    ds_put_char_multiple(&ds, 'n', 256);
    ds_put_cstr(&ds, "\": 1...2; unrouted;\n\"");
    ds_put_char_multiple(&ds, 'm', 255);
    ds_put_cstr(&ds, "\": 1...2; unrouted;\n");
    struct libreswan_status *status = parse_str(ds_cstr(&ds));
    assert_int_equal(status->n_conns, 1);
    assert_int_equal(strlen(status->conns[0].name), 255);
    libreswan_status_destroy(status);
    ds_destroy(&ds);

    /* A NUL byte ends its line, not the text. */
    static const char nul[] = "\"a\": 1...2; x\0junk\n\"b\": 3...4; y;\n";
    status = libreswan_status_parse(nul, sizeof nul - 1);
    assert_int_equal(status->n_conns, 2);
    assert_string_equal(libreswan_status_find(status, "a")->routing, "x");
    libreswan_status_destroy(status);

    libreswan_status_destroy(NULL);
    assert_null(libreswan_status_find(NULL, "a"));
    assert_false(libreswan_status_conn_is_up(NULL, "a"));
}

static void
test_cap(void **state OVS_UNUSED__)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < LIBRESWAN_STATUS_MAX_CONNS + 10; i++) {
        ds_put_format(&ds, "\"c%d\": 1...2; unrouted;\n", i);
    }
    struct libreswan_status *status = parse_str(ds_cstr(&ds));
    assert_int_equal(status->n_conns, LIBRESWAN_STATUS_MAX_CONNS);
    assert_true(status->truncated);
    libreswan_status_destroy(status);
    ds_destroy(&ds);
}

static void
test_format(void **state OVS_UNUSED__)
{
    struct libreswan_status *status = parse_file(DATA "4.10/uml-left.txt");
    struct ds ds = DS_EMPTY_INITIALIZER;

    libreswan_conn_state_format(libreswan_status_find(status, "gre0-1"),
                                &ds);
    assert_string_equal(ds_cstr(&ds),
                        "gre0-1: loaded (erouted), IKE #1 established, "
                        "ESP #2 established (spi in 0xe47778a9 out "
                        "0xa0cd988d)");
    ds_clear(&ds);
    libreswan_conn_state_format(libreswan_status_find(status,
                                                      "gnv-in-7-out-3"),
                                &ds);
    assert_string_equal(ds_cstr(&ds),
                        "gnv-in-7-out-3: loaded (unrouted), no IKE SA, "
                        "ESP #5 STATE_V2_NEW_CHILD_I1");
    ds_clear(&ds);
    libreswan_conn_state_format(libreswan_status_find(status,
                                                      "lonely-out-2"),
                                &ds);
    assert_string_equal(ds_cstr(&ds),
                        "lonely-out-2: loaded (unrouted), IKE #4 "
                        "STATE_V2_PARENT_I1, no ESP SA");
    ds_destroy(&ds);
    libreswan_status_destroy(status);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_410_loaded),
        cmocka_unit_test(test_410_no_esp),
        cmocka_unit_test(test_410_uml),
        cmocka_unit_test(test_410_spis_match_kernel),
        cmocka_unit_test(test_5x_synthetic),
        cmocka_unit_test(test_several_children),
        cmocka_unit_test(test_other_wordings),
        cmocka_unit_test(test_no_spis_not_up),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
