/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for ovsdb/ovsdb-client.c.  Most tests run a fake OVSDB server
 * in-process on a "punix:" socket in a mkdtemp() directory and drive both
 * ends through the poll loop; time-outs and backoff are crossed with
 * time_warp(), never by sleeping.  The last test runs the real
 * ovsdb-server and ovs-vsctl when they are installed and is skipped
 * otherwise.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "ds.h"
#include "jsonrpc.h"
#include "loop.h"
#include "ovsdb-client.h"
#include "smap.h"
#include "stream.h"
#include "timeval.h"
#include "unit-util.h"
#include "util.h"

#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define U3 "33333333-3333-3333-3333-333333333333"
#define U4 "44444444-4444-4444-4444-444444444444"
#define U9 "99999999-9999-9999-9999-999999999999"
#define U4L "44444444-4444-4444-4444-44444444444a"
#define U4U "44444444-4444-4444-4444-44444444444A"

/* Longer than any backoff delay. */
#define BACKOFF_WARP_MS 8000

static const char *const ovs_columns[] = { "other_config", NULL };
static const char *const iface_columns[] = {
    "name", "type", "options", "cfm_fault", "ofport", NULL
};
static const struct ovsdb_client_table tables[] = {
    { "Open_vSwitch", ovs_columns },
    { "Interface", iface_columns },
};

/* Datum parsing (pure). */

static json_t *
parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, JSON_DECODE_ANY, &error);
    if (!json) {
        fail_msg("bad test JSON %s: %s", text, error.text);
    }
    return json;
}

static void
test_datum_string(void **state)
{
    (void) state;
    struct {
        const char *datum;
        const char *expected;
    } cases[] = {
        { "\"geneve\"", "geneve" },
        { "\"\"", "" },
        { "[\"set\", []]", NULL },
        { "[\"set\", [\"x\"]]", "x" },
        { "[\"set\", [\"x\", \"y\"]]", NULL },
        { "[\"map\", []]", NULL },
        { "42", NULL },
        { "[\"uuid\", \"" U1 "\"]", NULL },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *d = parse(cases[i].datum);
        const char *s = ovsdb_client_datum_get_string(d);
        if (cases[i].expected) {
            assert_non_null(s);
            assert_string_equal(s, cases[i].expected);
        } else {
            assert_null(s);
        }
        json_decref(d);
    }
    assert_null(ovsdb_client_datum_get_string(NULL));
}

static void
test_datum_optional(void **state)
{
    (void) state;
    int64_t n = -1;
    bool b = false;
    json_t *d;

    d = parse("[\"set\", []]");
    assert_false(ovsdb_client_datum_get_optional_int(d, &n));
    assert_false(ovsdb_client_datum_get_optional_bool(d, &b));
    json_decref(d);

    d = parse("7");
    assert_true(ovsdb_client_datum_get_optional_int(d, &n));
    assert_int_equal(n, 7);
    assert_false(ovsdb_client_datum_get_optional_bool(d, &b));
    json_decref(d);

    d = parse("[\"set\", [-1]]");
    assert_true(ovsdb_client_datum_get_optional_int(d, &n));
    assert_int_equal(n, -1);
    json_decref(d);

    d = parse("[\"set\", [1, 2]]");
    assert_false(ovsdb_client_datum_get_optional_int(d, &n));
    json_decref(d);

    d = parse("true");
    assert_true(ovsdb_client_datum_get_optional_bool(d, &b));
    assert_true(b);
    json_decref(d);

    d = parse("[\"set\", [false]]");
    b = true;
    assert_true(ovsdb_client_datum_get_optional_bool(d, &b));
    assert_false(b);
    json_decref(d);

    d = parse("\"true\"");
    assert_false(ovsdb_client_datum_get_optional_bool(d, &b));
    json_decref(d);

    d = parse("1.5");
    assert_false(ovsdb_client_datum_get_optional_int(d, &n));
    json_decref(d);

    assert_false(ovsdb_client_datum_get_optional_int(NULL, &n));
    assert_false(ovsdb_client_datum_get_optional_bool(NULL, &b));
}

static void
test_datum_smap(void **state)
{
    (void) state;
    struct smap smap;
    json_t *d;

    smap_init(&smap);

    d = parse("[\"map\", [[\"remote_ip\", \"192.0.2.2\"], [\"psk\", \"x\"]]]");
    assert_int_equal(ovsdb_client_datum_get_smap(d, &smap), 0);
    assert_int_equal(smap_count(&smap), 2);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.2");
    assert_string_equal(smap_get(&smap, "psk"), "x");
    json_decref(d);

    /* Replaces, not merges. */
    d = parse("[\"map\", []]");
    assert_int_equal(ovsdb_client_datum_get_smap(d, &smap), 0);
    assert_true(smap_is_empty(&smap));
    json_decref(d);

    d = parse("[\"set\", []]");
    smap_add(&smap, "stale", "1");
    assert_int_equal(ovsdb_client_datum_get_smap(d, &smap), 0);
    assert_true(smap_is_empty(&smap));
    json_decref(d);

    assert_int_equal(ovsdb_client_datum_get_smap(NULL, &smap), 0);
    assert_true(smap_is_empty(&smap));

    const char *bad[] = {
        "\"a\"",
        "[\"map\", [[\"a\", 1]]]",
        "[\"map\", [[\"a\"]]]",
        "[\"map\", [\"a\", \"b\"]]",
        "[\"map\", {}]",
        "[\"set\", [\"a\"]]",
        "[\"map\", [[\"a\", \"b\"]], 3]",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        d = parse(bad[i]);
        smap_add(&smap, "stale", "1");
        assert_int_equal(ovsdb_client_datum_get_smap(d, &smap), -EINVAL);
        assert_true(smap_is_empty(&smap));
        json_decref(d);
    }
    smap_destroy(&smap);
}

static void
test_datum_verify(void **state)
{
    (void) state;
    const char *good[] = {
        "\"s\"", "0", "-5", "1.5", "true", "false",
        "[\"uuid\", \"" U1 "\"]",
        "[\"named-uuid\", \"row1\"]",
        "[\"set\", []]",
        "[\"set\", [1, 2, 3]]",
        "[\"set\", [[\"uuid\", \"" U2 "\"]]]",
        "[\"map\", []]",
        "[\"map\", [[\"k\", \"v\"], [1, [\"uuid\", \"" U3 "\"]]]]",
    };
    const char *bad[] = {
        "null", "{}",
        "[\"uuid\", \"not-a-uuid\"]",
        "[\"uuid\", \"" U1 "0\"]",
        "[\"uuid\"]",
        "[\"set\"]",
        "[\"set\", [[\"set\", []]]]",
        "[\"set\", [null]]",
        "[\"set\", {}]",
        "[\"map\", [[\"k\"]]]",
        "[\"map\", [[\"k\", {}]]]",
        "[\"map\", [[[\"map\", []], \"v\"]]]",
        "[\"frob\", []]",
        "[1, 2]",
    };

    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        json_t *d = parse(good[i]);
        char *why = ovsdb_client_datum_verify(d);
        if (why) {
            fail_msg("%s: unexpected error %s", good[i], why);
        }
        json_decref(d);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *d = parse(bad[i]);
        char *why = ovsdb_client_datum_verify(d);
        if (!why) {
            fail_msg("%s: accepted", bad[i]);
        }
        free(why);
        json_decref(d);
    }
}

static void
test_verify_remote(void **state)
{
    (void) state;
    char *why;

    assert_null(ovsdb_client_verify_remote("unix:/run/db.sock"));
    assert_null(ovsdb_client_verify_remote("tcp:127.0.0.1:6640"));

    why = ovsdb_client_verify_remote("ssl:1.2.3.4:6640");
    assert_non_null(why);
    assert_non_null(strstr(why, "ssl:1.2.3.4:6640"));
    assert_non_null(strstr(why, "unsupported"));
    free(why);

    why = ovsdb_client_verify_remote("tcp:nonsense");
    assert_non_null(why);
    assert_non_null(strstr(why, "malformed"));
    free(why);

    why = ovsdb_client_verify_remote("");
    assert_non_null(why);
    free(why);
    why = ovsdb_client_verify_remote(NULL);
    assert_non_null(why);
    free(why);

    assert_null(ovsdb_client_create("bogus", "Open_vSwitch", tables,
                                    ARRAY_SIZE(tables)));
    ovsdb_client_destroy(NULL);
}

/* The fake server. */

struct fake {
    char *dir;                  /* Temporary directory. */
    char *remote;               /* "unix:DIR/db.sock". */
    struct pstream *ps;         /* Listening socket. */
    struct jsonrpc *rpc;        /* Accepted connection, or NULL. */
    struct ovsdb_client *c;     /* Client under test. */
    json_t *monitor_id;         /* <json-value> of the client's monitor. */
};

static void
fake_listen(struct fake *f)
{
    char *name = xasprintf("p%s", f->remote);
    assert_int_equal(pstream_open(name, &f->ps), 0);
    free(name);
}

static int
fake_setup(void **state)
{
    struct fake *f = xzalloc(sizeof *f);

    f->dir = ut_tmpdir_create("ovsec-ovsdb-test");
    if (!f->dir) {
        free(f);
        return -1;
    }
    f->remote = xasprintf("unix:%s/db.sock", f->dir);
    fake_listen(f);
    f->c = ovsdb_client_create(f->remote, "Open_vSwitch", tables,
                               ARRAY_SIZE(tables));
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int
fake_teardown(void **state)
{
    struct fake *f = *state;

    ovsdb_client_destroy(f->c);
    jsonrpc_close(f->rpc);
    pstream_close(f->ps);
    json_decref(f->monitor_id);
    ut_tmpdir_remove(f->dir);
    free(f->dir);
    free(f->remote);
    free(f);
    return 0;
}

/* One poll loop iteration for the client and the fake server. */
static void
fake_step(struct fake *f)
{
    ovsdb_client_run(f->c);
    if (f->rpc) {
        jsonrpc_run(f->rpc);
    }
    ovsdb_client_wait(f->c);
    if (f->ps) {
        pstream_wait(f->ps);
    }
    if (f->rpc) {
        jsonrpc_wait(f->rpc);
        jsonrpc_recv_wait(f->rpc);
    }
    loop_timer_wait(10);
    loop_block();
}

#define MAX_STEPS 500

/* Runs the loop until COND holds, failing the test after MAX_STEPS. */
#define PUMP_UNTIL(F, COND)                                     \
    do {                                                        \
        int steps__ = 0;                                        \
        while (!(COND)) {                                       \
            if (++steps__ > MAX_STEPS) {                        \
                fail_msg("timed out waiting for %s", #COND);    \
            }                                                   \
            fake_step(F);                                       \
        }                                                       \
    } while (0)

static void
fake_accept(struct fake *f)
{
    struct stream *s = NULL;

    assert_null(f->rpc);
    PUMP_UNTIL(f, pstream_accept(f->ps, &s) == 0);
    f->rpc = jsonrpc_open(s);
}

/* Returns the next message from the client; the caller decrefs it. */
static json_t *
fake_recv(struct fake *f)
{
    json_t *msg = NULL;
    int error;

    PUMP_UNTIL(f, (error = jsonrpc_recv(f->rpc, &msg)) != -EAGAIN);
    assert_int_equal(error, 0);
    return msg;
}

/* Waits until the client closes the connection. */
static void
fake_expect_close(struct fake *f)
{
    json_t *msg = NULL;
    int error;

    for (;;) {
        PUMP_UNTIL(f, (error = jsonrpc_recv(f->rpc, &msg)) != -EAGAIN);
        if (error) {
            break;
        }
        json_decref(msg);       /* E.g. a reply to an echo. */
    }
    jsonrpc_close(f->rpc);
    f->rpc = NULL;
}

static void
fake_send(struct fake *f, const char *text)
{
    assert_int_equal(jsonrpc_send(f->rpc, parse(text)), 0);
}

static void
fake_sendf(struct fake *f, const char *format, ...) PRINTF_FORMAT(2, 3);

static void
fake_sendf(struct fake *f, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);
    fake_send(f, text);
    free(text);
}

/* Sends an "update" notification with 'updates' (<table-updates> text). */
static void
fake_update(struct fake *f, const char *updates)
{
    char *monitor_id = json_dumps(f->monitor_id, JSON_ENCODE_ANY);
    fake_sendf(f, "{\"method\": \"update\", \"id\": null, "
               "\"params\": [%s, %s]}", monitor_id, updates);
    free(monitor_id);
}

/* Accepts the client's connection, checks its monitor request and answers
 * it with 'snapshot' (<table-updates> text).  Returns the request. */
static void
fake_handshake(struct fake *f, const char *snapshot)
{
    fake_accept(f);
    json_t *req = fake_recv(f);

    assert_string_equal(json_string_value(json_object_get(req, "method")),
                         "monitor");
    json_t *params = json_object_get(req, "params");
    assert_int_equal(json_array_size(params), 3);
    assert_string_equal(json_string_value(json_array_get(params, 0)),
                        "Open_vSwitch");
    json_decref(f->monitor_id);
    f->monitor_id = json_incref(json_array_get(params, 1));

    json_t *expected = parse(
        "{\"Open_vSwitch\": {\"columns\": [\"other_config\"]},"
        " \"Interface\": {\"columns\": [\"name\", \"type\", \"options\","
        "                               \"cfm_fault\", \"ofport\"]}}");
    assert_true(json_equal(json_array_get(params, 2), expected));
    json_decref(expected);

    char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
    fake_sendf(f, "{\"id\": %s, \"error\": null, \"result\": %s}",
               id, snapshot);
    free(id);
    json_decref(req);
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Returns the tracked rows of 'table' as a sorted string of
 * "<first 4 UUID digits>=<change>" words; the caller frees it. */
static char *
tracked_string(const struct ovsdb_client *c, const char *table)
{
    const struct ovsdb_client_row *row;
    char *words[64];
    size_t n = 0;
    struct ds s;

    OVSDB_CLIENT_FOR_EACH_TRACKED (row, c, table) {
        assert_true(n < ARRAY_SIZE(words));
        words[n++] = xasprintf("%.4s=%s", ovsdb_client_row_get_uuid(row),
                               ovsdb_client_change_to_string(
                                   ovsdb_client_row_get_change(row)));
    }
    qsort(words, n, sizeof *words, compare_strings);
    ds_init(&s);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s%s", i ? " " : "", words[i]);
        free(words[i]);
    }
    return ds_steal_cstr(&s);
}

static void
check_tracked(const struct ovsdb_client *c, const char *table,
              const char *expected)
{
    char *actual = tracked_string(c, table);
    if (strcmp(actual, expected)) {
        fail_msg("%s tracked: expected \"%s\", got \"%s\"",
                 table, expected, actual);
    }
    free(actual);
}

#define IFACE(NAME, TYPE, OPTIONS, OFPORT)                              \
    "{\"new\": {\"name\": \"" NAME "\", \"type\": \"" TYPE "\", "       \
    "\"options\": [\"map\", [" OPTIONS "]], "                           \
    "\"cfm_fault\": [\"set\", []], \"ofport\": " OFPORT "}}"

static const char snapshot1[] =
    "{\"Open_vSwitch\": {\"" U9 "\": {\"new\": {\"other_config\":"
    "     [\"map\", [[\"private_key\", \"/etc/k.pem\"]]]}}},"
    " \"Interface\": {"
    "  \"" U1 "\": " IFACE("br0", "internal", "", "[\"set\", []]") ","
    "  \"" U2 "\": " IFACE("gnv0", "geneve",
                           "[\"psk\", \"swordfish\"],"
                           "[\"remote_ip\", \"192.0.2.2\"]", "5") ","
    "  \"" U3 "\": " IFACE("vx0", "vxlan",
                           "[\"remote_ip\", \"192.0.2.3\"]",
                           "[\"set\", [6]]") "}}";

/* Connects and applies snapshot1, then clears the tracked changes. */
static void
connect_snapshot1(struct fake *f)
{
    uint64_t seqno = ovsdb_client_get_seqno(f->c);

    assert_false(ovsdb_client_is_connected(f->c));
    assert_false(ovsdb_client_has_snapshot(f->c));
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    assert_true(ovsdb_client_is_connected(f->c));
    assert_true(ovsdb_client_has_snapshot(f->c));
    assert_null(ovsdb_client_get_last_error(f->c));
    assert_true(ovsdb_client_get_seqno(f->c) > seqno);
    check_tracked(f->c, "Interface",
                  "1111=inserted 2222=inserted 3333=inserted");
    check_tracked(f->c, "Open_vSwitch", "9999=inserted");
    ovsdb_client_clear_tracked(f->c);
    check_tracked(f->c, "Interface", "");
}

static void
test_snapshot(void **state)
{
    struct fake *f = *state;
    const struct ovsdb_client_row *row;
    struct smap smap;
    int64_t ofport;
    bool b;

    assert_string_equal(ovsdb_client_get_name(f->c), f->remote);
    connect_snapshot1(f);

    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    assert_int_equal(ovsdb_client_count_rows(f->c, "Open_vSwitch"), 1);
    assert_int_equal(ovsdb_client_count_rows(f->c, "Bridge"), 0);
    assert_null(ovsdb_client_first_row(f->c, "Bridge"));

    size_t n = 0;
    OVSDB_CLIENT_FOR_EACH_ROW (row, f->c, "Interface") {
        assert_string_equal(ovsdb_client_row_get_table(row), "Interface");
        assert_int_equal(ovsdb_client_row_get_change(row),
                         OVSDB_CLIENT_UNCHANGED);
        n++;
    }
    assert_int_equal(n, 3);

    /* Upper-case lookups work too. */
    row = ovsdb_client_find_row(f->c, "Interface",
                                "22222222-2222-2222-2222-222222222222");
    assert_non_null(row);
    assert_string_equal(ovsdb_client_row_get_uuid(row), U2);
    assert_null(ovsdb_client_find_row(f->c, "Interface", U4));
    assert_null(ovsdb_client_find_row(f->c, "Interface", "junk"));
    assert_null(ovsdb_client_find_row(f->c, "Open_vSwitch", U2));

    assert_string_equal(ovsdb_client_row_get_string(row, "name"), "gnv0");
    assert_string_equal(ovsdb_client_row_get_string(row, "type"), "geneve");
    assert_null(ovsdb_client_row_get_string(row, "no_such_column"));
    smap_init(&smap);
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &smap), 0);
    assert_int_equal(smap_count(&smap), 2);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.2");
    assert_string_equal(smap_get(&smap, "psk"), "swordfish");
    assert_true(ovsdb_client_row_get_optional_int(row, "ofport", &ofport));
    assert_int_equal(ofport, 5);
    assert_false(ovsdb_client_row_get_optional_bool(row, "cfm_fault", &b));

    row = ovsdb_client_find_row(f->c, "Interface", U3);
    assert_true(ovsdb_client_row_get_optional_int(row, "ofport", &ofport));
    assert_int_equal(ofport, 6);
    row = ovsdb_client_find_row(f->c, "Interface", U1);
    assert_false(ovsdb_client_row_get_optional_int(row, "ofport", &ofport));
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &smap), 0);
    assert_true(smap_is_empty(&smap));
    /* Old values equal the current ones for unchanged rows. */
    assert_true(json_equal(ovsdb_client_row_get_old_datum(row, "options"),
                           ovsdb_client_row_get_datum(row, "options")));

    row = ovsdb_client_first_row(f->c, "Open_vSwitch");
    assert_int_equal(ovsdb_client_row_get_smap(row, "other_config", &smap),
                     0);
    assert_string_equal(smap_get(&smap, "private_key"), "/etc/k.pem");
    smap_destroy(&smap);
}

static void
test_updates(void **state)
{
    struct fake *f = *state;
    const struct ovsdb_client_row *row;
    uint64_t seqno;
    bool fault;

    connect_snapshot1(f);

    /* Insert U4, modify U2 (options and cfm_fault), delete U3. */
    seqno = ovsdb_client_get_seqno(f->c);
    fake_update(f, "{\"Interface\": {"
                "\"" U4 "\": " IFACE("gnv1", "geneve", "", "[\"set\", []]")
                ","
                "\"" U2 "\": {\"old\": {\"options\": [\"map\", []]},"
                "             \"new\": {\"name\": \"gnv0\","
                "                       \"type\": \"geneve\","
                "                       \"options\": [\"map\", "
                "                          [[\"remote_ip\", \"192.0.2.9\"]]],"
                "                       \"cfm_fault\": true,"
                "                       \"ofport\": 5}},"
                "\"" U3 "\": {\"old\": {\"name\": \"vx0\"}}}}");
    PUMP_UNTIL(f, ovsdb_client_get_seqno(f->c) != seqno);
    check_tracked(f->c, "Interface",
                  "2222=modified 3333=deleted 4444=inserted");
    check_tracked(f->c, "Open_vSwitch", "");
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);

    /* Old and new values of the modified row. */
    row = ovsdb_client_find_row(f->c, "Interface", U2);
    assert_int_equal(ovsdb_client_row_get_change(row),
                     OVSDB_CLIENT_MODIFIED);
    assert_true(ovsdb_client_row_get_optional_bool(row, "cfm_fault",
                                                   &fault));
    assert_true(fault);
    struct smap old, new;
    smap_init(&old);
    smap_init(&new);
    assert_int_equal(ovsdb_client_datum_get_smap(
                         ovsdb_client_row_get_old_datum(row, "options"),
                         &old), 0);
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &new), 0);
    assert_string_equal(smap_get(&old, "remote_ip"), "192.0.2.2");
    assert_string_equal(smap_get(&new, "remote_ip"), "192.0.2.9");
    smap_destroy(&old);
    smap_destroy(&new);

    /* The deleted row: not found, not iterated, but readable while
     * tracked. */
    assert_null(ovsdb_client_find_row(f->c, "Interface", U3));
    OVSDB_CLIENT_FOR_EACH_ROW (row, f->c, "Interface") {
        assert_string_not_equal(ovsdb_client_row_get_uuid(row), U3);
    }
    OVSDB_CLIENT_FOR_EACH_TRACKED (row, f->c, "Interface") {
        if (!strcmp(ovsdb_client_row_get_uuid(row), U3)) {
            assert_int_equal(ovsdb_client_row_get_change(row),
                             OVSDB_CLIENT_DELETED);
            assert_string_equal(ovsdb_client_row_get_string(row, "name"),
                                "vx0");
        }
    }

    row = ovsdb_client_find_row(f->c, "Interface", U4);
    assert_null(ovsdb_client_row_get_old_datum(row, "name"));

    ovsdb_client_clear_tracked(f->c);
    check_tracked(f->c, "Interface", "");

    /* Insert and delete before a clear cancel out; so do a modify and its
     * reversal. */
    seqno = ovsdb_client_get_seqno(f->c);
    fake_update(f, "{\"Interface\": {\"" U3 "\": "
                IFACE("vx1", "vxlan", "", "[\"set\", []]") "}}");
    fake_update(f, "{\"Interface\": {\"" U3 "\": "
                "{\"old\": {\"name\": \"vx1\"}}}}");
    fake_update(f, "{\"Interface\": {\"" U1 "\": "
                "{\"old\": {\"type\": \"internal\"},"
                " \"new\": {\"type\": \"system\"}}}}");
    fake_update(f, "{\"Interface\": {\"" U1 "\": "
                "{\"old\": {\"type\": \"system\"},"
                " \"new\": {\"type\": \"internal\"}}}}");
    /* A marker update so we know all of the above were applied. */
    fake_update(f, "{\"Open_vSwitch\": {\"" U9 "\": "
                "{\"old\": {\"other_config\": [\"map\", []]},"
                " \"new\": {\"other_config\": [\"map\", []]}}}}");
    PUMP_UNTIL(f, !strcmp(ovsdb_client_row_get_string(
                              ovsdb_client_find_row(f->c, "Interface", U1),
                              "type"), "internal")
                  && ovsdb_client_get_seqno(f->c) >= seqno + 5);
    check_tracked(f->c, "Interface", "");
    check_tracked(f->c, "Open_vSwitch", "9999=modified");
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    assert_null(ovsdb_client_find_row(f->c, "Interface", U3));
    assert_true(ovsdb_client_is_synced(f->c));
    ovsdb_client_clear_tracked(f->c);

    /* Regression: keys that differ only in case name the same row; a
     * delete and a modify of a row inserted since the last clear must not
     * touch a freed row, whichever comes first. */
    fake_update(f, "{\"Interface\": {\"" U4L "\": "
                IFACE("gnv9", "geneve", "", "[\"set\", []]") "}}");
    fake_update(f, "{\"Interface\": {\"" U4L "\": {\"old\": {}},"
                " \"" U4U "\": {\"old\": {}, \"new\": {\"ofport\": 9}}}}");
    fake_update(f, "{\"Open_vSwitch\": {\"" U9 "\": "
                "{\"old\": {\"other_config\": [\"map\", []]},"
                " \"new\": {\"other_config\": "
                "            [\"map\", [[\"a\", \"b\"]]]}}}}");
    PUMP_UNTIL(f, ovsdb_client_first_tracked(f->c, "Open_vSwitch"));
    assert_true(ovsdb_client_is_synced(f->c));
    row = ovsdb_client_find_row(f->c, "Interface", U4L);
    if (row) {
        check_tracked(f->c, "Interface", "4444=inserted");
    } else {
        check_tracked(f->c, "Interface", "");
    }
}

static void
test_echo(void **state)
{
    struct fake *f = *state;

    connect_snapshot1(f);
    fake_send(f, "{\"method\": \"echo\", \"params\": [\"probe\", 1], "
              "\"id\": \"echo\"}");
    json_t *reply = fake_recv(f);
    json_t *expected = parse("{\"id\": \"echo\", \"error\": null, "
                             "\"result\": [\"probe\", 1]}");
    assert_true(json_equal(reply, expected));
    json_decref(expected);
    json_decref(reply);

    /* Unknown requests get an error reply and do not break the session. */
    fake_send(f, "{\"method\": \"frobnicate\", \"params\": [], "
              "\"id\": 77}");
    reply = fake_recv(f);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 77);
    assert_true(json_is_string(json_object_get(reply, "error")));
    json_decref(reply);
    assert_true(ovsdb_client_is_synced(f->c));
}

/* Checks that after 'bad' (a message text) the client drops the session,
 * keeps its replica and reports 'error_substring', and that the resync with
 * the same contents reports no changes. */
static void
check_reconnects_after(struct fake *f, const char *bad,
                       const char *error_substring)
{
    fake_send(f, bad);
    fake_expect_close(f);
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));

    const char *error = ovsdb_client_get_last_error(f->c);
    assert_non_null(error);
    if (!strstr(error, error_substring)) {
        fail_msg("error \"%s\" lacks \"%s\"", error, error_substring);
    }
    /* Never a value from the database in the error. */
    assert_null(strstr(error, "swordfish"));

    /* The replica is intact and nothing is tracked. */
    assert_true(ovsdb_client_has_snapshot(f->c));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    check_tracked(f->c, "Interface", "");

    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    assert_null(ovsdb_client_get_last_error(f->c));
    check_tracked(f->c, "Interface", "");
    check_tracked(f->c, "Open_vSwitch", "");
}

static void
test_malformed(void **state)
{
    struct fake *f = *state;
    struct {
        const char *update;     /* <table-updates>, or NULL. */
        const char *message;    /* Whole message if 'update' is NULL. */
        const char *error;      /* Expected in the last error. */
    } cases[] = {
        { "[]", NULL, "expected an object" },
        { "{\"Bridge\": {}}", NULL, "unexpected table" },
        { "{\"Interface\": {\"zzz\": {\"new\": {}}}}", NULL,
          "malformed row UUID" },
        { "{\"Interface\": {\"" U4 "\": {}}}", NULL,
          "neither \"old\" nor \"new\"" },
        { "{\"Interface\": {\"" U4 "\": {\"new\": 1}}}", NULL,
          "must be objects" },
        { "{\"Interface\": {\"" U4 "\": {\"new\": {\"options\": "
          "[\"map\", [[\"psk\"]]]}}}}", NULL,
          "Interface row " U4 " column options: map element 0" },
        { "{\"Interface\": {\"" U4 "\": {\"old\": {}, \"new\": {}}}}",
          NULL, "modify of a missing row" },
        { "{\"Interface\": {\"" U4 "\": {\"old\": {}}}}",
          NULL, "delete of a missing row" },
        { "{\"Interface\": {\"" U2 "\": {\"new\": {}}}}",
          NULL, "insert of an existing row" },
        /* A valid change next to an invalid one: neither is applied. */
        { "{\"Interface\": {\"" U1 "\": {\"old\": {}},"
          "                 \"" U2 "\": {\"old\": {}, \"new\": "
          "                       {\"ofport\": [\"uuid\", \"x\"]}}}}",
          NULL, "malformed UUID" },
        { NULL, "{\"method\": \"update\", \"id\": null, "
          "\"params\": [\"other-monitor\", {}]}", "unknown monitor" },
        { NULL, "{\"method\": \"update\", \"id\": null, \"params\": 5}",
          "without params" },
        { NULL, "{\"id\": 12345, \"result\": {}, \"error\": null}",
          "reply to no request" },
        { NULL, "{\"foo\": 1}", "neither a request nor a reply" },
        { NULL, "{\"method\": \"monitor_canceled\", \"id\": null, "
          "\"params\": [\"x\"]}", "canceled" },
    };

    connect_snapshot1(f);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text;
        if (cases[i].update) {
            char *id = json_dumps(f->monitor_id, JSON_ENCODE_ANY);
            text = xasprintf("{\"method\": \"update\", \"id\": null, "
                             "\"params\": [%s, %s]}", id, cases[i].update);
            free(id);
        } else {
            text = xstrdup(cases[i].message);
        }
        check_reconnects_after(f, text, cases[i].error);
        free(text);
    }

    /* Invalid JSON and a non-object too. */
    assert_int_equal(jsonrpc_send(f->rpc, json_array()), 0);
    fake_expect_close(f);
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "invalid JSON-RPC"));
    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface", "");
}

static void
test_monitor_error(void **state)
{
    struct fake *f = *state;

    fake_accept(f);
    json_t *req = fake_recv(f);
    char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
    fake_sendf(f, "{\"id\": %s, \"result\": null, \"error\": "
               "{\"error\": \"unknown database\", "
               "\"details\": \"no database named Open_vSwitch\"}}", id);
    free(id);
    json_decref(req);
    fake_expect_close(f);
    PUMP_UNTIL(f, ovsdb_client_get_last_error(f->c));
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "monitor request failed: unknown database "
                           "(no database named Open_vSwitch)"));
    assert_false(ovsdb_client_has_snapshot(f->c));

    /* A malformed snapshot is rejected as a whole. */
    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f, "{\"Interface\": {\"" U1 "\": {\"new\": {}},"
                   " \"" U2 "\": {\"old\": {}, \"new\": {}}}}");
    fake_expect_close(f);
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "malformed monitor reply"));
    assert_false(ovsdb_client_has_snapshot(f->c));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 0);
    check_tracked(f->c, "Interface", "");
}

/* Lets the client settle, advances the clock by 'ms' and returns true if
 * the client then connects; the connection is closed at once, which the
 * client sees as a failure.  Runs the client without blocking (a Unix
 * connect() completes at once), so that real time does not add to 'ms'. */
static bool
accepted_within(struct fake *f, int ms)
{
    struct stream *s = NULL;

    for (int i = 0; i < 3; i++) {
        ovsdb_client_run(f->c);
    }
    time_warp(ms);
    for (int i = 0; i < 3; i++) {
        ovsdb_client_run(f->c);
    }
    if (!pstream_accept(f->ps, &s)) {
        stream_close(s);
        return true;
    }
    return false;
}

static void
test_backoff(void **state)
{
    struct fake *f = *state;

    connect_snapshot1(f);

    /* The session ends soon after it began: the first retry comes after
     * 1 s; then each attempt that fails doubles the delay up to 8 s.  The
     * margin covers the real time that passes in fake_step(). */
    enum { MARGIN_MS = 100 };
    jsonrpc_close(f->rpc);
    f->rpc = NULL;
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "connection closed by server"));
    const int delays[] = { 1000, 2000, 4000, 8000, 8000 };
    for (size_t i = 0; i < ARRAY_SIZE(delays); i++) {
        if (accepted_within(f, delays[i] - MARGIN_MS)) {
            fail_msg("attempt %zu came early", i);
        }
        assert_true(accepted_within(f, MARGIN_MS));
    }

    /* With the server gone, attempts fail at once, without changing the
     * connection state (so the seqno stays). */
    pstream_close(f->ps);
    f->ps = NULL;
    for (int i = 0; i < 5; i++) {
        fake_step(f);
    }
    uint64_t seqno = ovsdb_client_get_seqno(f->c);
    time_warp(BACKOFF_WARP_MS);
    for (int i = 0; i < 5; i++) {
        fake_step(f);
    }
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "connection failed"));
    assert_int_equal(ovsdb_client_get_seqno(f->c), seqno);
    assert_false(ovsdb_client_is_connected(f->c));

    /* The server is back: a sync resets the backoff to 1 s. */
    fake_listen(f);
    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface", "");
    jsonrpc_close(f->rpc);
    f->rpc = NULL;
    assert_false(accepted_within(f, 1000 - MARGIN_MS));
    assert_true(accepted_within(f, MARGIN_MS));

    /* A session that lasted longer than the longest backoff is retried at
     * once. */
    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    time_warp(BACKOFF_WARP_MS);
    jsonrpc_close(f->rpc);
    f->rpc = NULL;
    assert_true(accepted_within(f, 0));
}

static void
test_resync(void **state)
{
    struct fake *f = *state;
    uint64_t seqno;

    connect_snapshot1(f);
    ovsdb_client_clear_tracked(f->c);

    /* Server restart: the connection drops; the replica is kept. */
    seqno = ovsdb_client_get_seqno(f->c);
    jsonrpc_close(f->rpc);
    f->rpc = NULL;
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    assert_true(ovsdb_client_get_seqno(f->c) > seqno);
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    check_tracked(f->c, "Interface", "");

    /* The new snapshot: U1 unchanged, U2 modified, U3 gone, U4 new, and
     * the Open_vSwitch table empty (all with upper-case UUIDs, which must
     * not matter).  The same column values in another key order are
     * unchanged too. */
    time_warp(BACKOFF_WARP_MS);
    fake_handshake(f,
        "{\"Interface\": {"
        "  \"" U1 "\": {\"new\": {\"ofport\": [\"set\", []],"
        "      \"type\": \"internal\", \"name\": \"br0\","
        "      \"cfm_fault\": [\"set\", []], \"options\": [\"map\", []]}},"
        "  \"" U2 "\": " IFACE("gnv0", "geneve",
                               "[\"psk\", \"swordfish\"],"
                               "[\"remote_ip\", \"192.0.2.99\"]", "5") ","
        "  \"44444444-4444-4444-4444-44444444444A\": "
               IFACE("gnv1", "geneve", "", "[\"set\", []]") "}}");
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface",
                  "2222=modified 3333=deleted 4444=inserted");
    check_tracked(f->c, "Open_vSwitch", "9999=deleted");
    assert_non_null(ovsdb_client_find_row(
                        f->c, "Interface",
                        "44444444-4444-4444-4444-44444444444a"));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    assert_int_equal(ovsdb_client_count_rows(f->c, "Open_vSwitch"), 0);

    /* Without a clear, a further resync that restores the old contents
     * reports nothing for U2, re-inserted U3 and U9 is no change, and the
     * never-seen U4 disappears without trace. */
    ovsdb_client_force_reconnect(f->c);
    assert_false(ovsdb_client_is_connected(f->c));
    fake_expect_close(f);
    fake_handshake(f, snapshot1);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface", "");
    check_tracked(f->c, "Open_vSwitch", "");
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    ovsdb_client_clear_tracked(f->c);
}

static void
test_probe(void **state)
{
    struct fake *f = *state;

    ovsdb_client_set_probe_interval(f->c, 3000);
    connect_snapshot1(f);

    /* Idle for the interval: the client sends an echo; answering it keeps
     * the session. */
    time_warp(3000);
    json_t *req = fake_recv(f);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "echo");
    char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
    fake_sendf(f, "{\"id\": %s, \"result\": [], \"error\": null}", id);
    free(id);
    json_decref(req);
    for (int i = 0; i < 10; i++) {
        fake_step(f);
    }
    assert_true(ovsdb_client_is_synced(f->c));

    /* Not answering it ends the session. */
    time_warp(3000);
    req = fake_recv(f);
    json_decref(req);
    time_warp(3000);
    fake_expect_close(f);
    assert_false(ovsdb_client_is_connected(f->c));
    assert_non_null(strstr(ovsdb_client_get_last_error(f->c),
                           "inactivity probe"));
}

/* Many rows: the snapshot arrives in many reads and each update costs
 * O(changes). */
static void
test_many_rows(void **state)
{
    struct fake *f = *state;
    enum { N = 10000 };
    struct ds s;

    ds_init(&s);
    ds_put_cstr(&s, "{\"Interface\": {");
    for (int i = 0; i < N; i++) {
        ds_put_format(&s, "%s\"%08x-0000-4000-8000-000000000000\": "
                      "{\"new\": {\"name\": \"if%d\", \"type\": \"geneve\","
                      " \"options\": [\"map\", [[\"remote_ip\", "
                      "\"192.0.2.1\"], [\"psk\", \"secret%d\"]]],"
                      " \"cfm_fault\": [\"set\", []], \"ofport\": %d}}",
                      i ? "," : "", i, i, i, i);
    }
    ds_put_cstr(&s, "}}");
    fake_handshake(f, ds_cstr(&s));
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), N);

    /* Every row reads back as sent, the values of several rows in turn
     * (the replica decodes a few rows at a time). */
    size_t n = 0;
    const struct ovsdb_client_row *prev = NULL;
    for (const struct ovsdb_client_row *r = ovsdb_client_first_tracked(
             f->c, "Interface"); r; r = ovsdb_client_next_tracked(r), n++) {
        int i = (int) strtol(ovsdb_client_row_get_uuid(r), NULL, 16);
        char name[16], psk[24];
        struct smap options;
        int64_t ofport;

        snprintf(name, sizeof name, "if%d", i);
        snprintf(psk, sizeof psk, "secret%d", i);
        assert_string_equal(ovsdb_client_row_get_string(r, "name"), name);
        smap_init(&options);
        assert_int_equal(ovsdb_client_row_get_smap(r, "options", &options),
                         0);
        assert_string_equal(smap_get(&options, "psk"), psk);
        smap_destroy(&options);
        assert_true(ovsdb_client_row_get_optional_int(r, "ofport",
                                                      &ofport));
        assert_int_equal(ofport, i);
        if (prev) {
            /* The previous row again, after this one was decoded. */
            assert_non_null(ovsdb_client_row_get_string(prev, "name"));
        }
        prev = r;
    }
    assert_int_equal(n, N);
    ovsdb_client_clear_tracked(f->c);

    uint64_t seqno = ovsdb_client_get_seqno(f->c);
    fake_update(f, "{\"Interface\": {\"00000007-0000-4000-8000-000000000000"
                "\": {\"old\": {\"ofport\": 7}, \"new\": {\"ofport\": 70}}}}");
    PUMP_UNTIL(f, ovsdb_client_get_seqno(f->c) != seqno);
    check_tracked(f->c, "Interface", "0000=modified");

    /* A resync to the original contents reports just the row that
     * differs from the values at the last clear. */
    ovsdb_client_clear_tracked(f->c);
    ovsdb_client_force_reconnect(f->c);
    fake_expect_close(f);
    fake_handshake(f, ds_cstr(&s));
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface", "0000=modified");
    const struct ovsdb_client_row *row = ovsdb_client_first_tracked(
        f->c, "Interface");
    assert_string_equal(ovsdb_client_row_get_uuid(row),
                        "00000007-0000-4000-8000-000000000000");
    ds_destroy(&s);
}

/* The real ovsdb-server. */

struct real {
    struct fake f;              /* 'ps' and 'rpc' unused. */
    pid_t server;               /* ovsdb-server, or 0. */
};

/* Runs ovs-vsctl --no-wait with the words that follow, up to a NULL. */
static void
vsctl(struct real *r, ...)
{
    va_list args;

    va_start(args, r);
    ut_vsctl_valist(r->f.dir, r->f.remote, args);
    va_end(args);
}

static void
server_start(struct real *r)
{
    assert_int_equal(r->server, 0);
    r->server = ut_ovsdb_server_start(r->f.dir, r->f.remote);
}

static int
real_setup(void **state)
{
    struct real *r = xzalloc(sizeof *r);

    r->f.dir = ut_tmpdir_create("ovsec-ovsdb-real");
    if (!r->f.dir) {
        free(r);
        return -1;
    }
    r->f.remote = xasprintf("unix:%s/db.sock", r->f.dir);
    *state = r;
    return 0;
}

static int
real_teardown(void **state)
{
    struct real *r = *state;

    ut_child_kill(&r->server);
    ovsdb_client_destroy(r->f.c);
    ut_tmpdir_remove(r->f.dir);
    free(r->f.dir);
    free(r->f.remote);
    free(r);
    return 0;
}

static const struct ovsdb_client_row *
find_iface(const struct ovsdb_client *c, const char *name)
{
    const struct ovsdb_client_row *row;

    OVSDB_CLIENT_FOR_EACH_ROW (row, c, "Interface") {
        if (!strcmp(ovsdb_client_row_get_string(row, "name"), name)) {
            return row;
        }
    }
    return NULL;
}

/* Counts tracked Interface rows with 'change', or all of them for
 * OVSDB_CLIENT_UNCHANGED. */
static size_t
count_tracked(const struct ovsdb_client *c, enum ovsdb_client_change change)
{
    const struct ovsdb_client_row *row;
    size_t n = 0;

    OVSDB_CLIENT_FOR_EACH_TRACKED (row, c, "Interface") {
        n += (change == OVSDB_CLIENT_UNCHANGED
              || ovsdb_client_row_get_change(row) == change);
    }
    return n;
}

/* The only tracked Interface row, checked to be named 'name' with
 * 'change'. */
static const struct ovsdb_client_row *
only_tracked(const struct ovsdb_client *c, const char *name,
             enum ovsdb_client_change change)
{
    const struct ovsdb_client_row *row, *found = NULL;
    size_t n = 0;

    OVSDB_CLIENT_FOR_EACH_TRACKED (row, c, "Interface") {
        found = row;
        n++;
    }
    assert_int_equal(n, 1);
    assert_string_equal(ovsdb_client_row_get_string(found, "name"), name);
    assert_int_equal(ovsdb_client_row_get_change(found), change);
    return found;
}

static void
test_real_server(void **state)
{
    struct real *r = *state;
    struct fake *f = &r->f;
    const struct ovsdb_client_row *row;
    struct smap smap;
    uint64_t seqno;
    int64_t ofport;

    if (!ut_have_ovs()) {
        skip();
    }

    ut_ovsdb_create(f->dir);
    server_start(r);
    vsctl(r, "init", "--", "set", "Open_vSwitch", ".",
          "other_config:private_key=/etc/k.pem", NULL);

    f->c = ovsdb_client_create(f->remote, "Open_vSwitch", tables,
                               ARRAY_SIZE(tables));
    assert_non_null(f->c);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    check_tracked(f->c, "Interface", "");
    row = ovsdb_client_first_row(f->c, "Open_vSwitch");
    assert_non_null(row);
    smap_init(&smap);
    assert_int_equal(ovsdb_client_row_get_smap(row, "other_config", &smap),
                     0);
    assert_string_equal(smap_get(&smap, "private_key"), "/etc/k.pem");
    ovsdb_client_clear_tracked(f->c);

    /* Insert. */
    seqno = ovsdb_client_get_seqno(f->c);
    vsctl(r, "add-br", "br0", "--", "add-port", "br0", "gnv0", "--",
          "set", "interface", "gnv0", "type=geneve",
          "options:remote_ip=192.0.2.2", "options:psk=swordfish", NULL);
    PUMP_UNTIL(f, find_iface(f->c, "gnv0"));
    assert_true(ovsdb_client_get_seqno(f->c) > seqno);
    assert_int_equal(count_tracked(f->c, OVSDB_CLIENT_INSERTED), 2);
    assert_int_equal(count_tracked(f->c, OVSDB_CLIENT_UNCHANGED), 2);
    row = find_iface(f->c, "gnv0");
    assert_string_equal(ovsdb_client_row_get_string(row, "type"), "geneve");
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &smap), 0);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.2");
    assert_string_equal(smap_get(&smap, "psk"), "swordfish");
    assert_false(ovsdb_client_row_get_optional_int(row, "ofport", &ofport));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 2);
    ovsdb_client_clear_tracked(f->c);

    /* Modify. */
    vsctl(r, "set", "interface", "gnv0", "options:remote_ip=192.0.2.3",
          "ofport_request=7", NULL);
    PUMP_UNTIL(f, ovsdb_client_first_tracked(f->c, "Interface"));
    row = only_tracked(f->c, "gnv0", OVSDB_CLIENT_MODIFIED);
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &smap), 0);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.3");
    assert_int_equal(ovsdb_client_datum_get_smap(
                         ovsdb_client_row_get_old_datum(row, "options"),
                         &smap), 0);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.2");
    ovsdb_client_clear_tracked(f->c);

    /* A change to an unmonitored column reports nothing. */
    seqno = ovsdb_client_get_seqno(f->c);
    vsctl(r, "set", "interface", "gnv0", "mtu_request=1400", NULL);
    vsctl(r, "set", "Open_vSwitch", ".", "other_config:marker=1", NULL);
    PUMP_UNTIL(f, ovsdb_client_first_tracked(f->c, "Open_vSwitch"));
    check_tracked(f->c, "Interface", "");
    ovsdb_client_clear_tracked(f->c);

    /* Restart ovsdb-server with a change made while we are away: only that
     * change is reported. */
    ut_child_stop(&r->server);
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    server_start(r);
    vsctl(r, "add-port", "br0", "gnv1", "--", "set", "interface", "gnv1",
          "type=geneve", "options:remote_ip=192.0.2.4", NULL);
    time_warp(BACKOFF_WARP_MS);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    only_tracked(f->c, "gnv1", OVSDB_CLIENT_INSERTED);
    check_tracked(f->c, "Open_vSwitch", "");
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 3);
    ovsdb_client_clear_tracked(f->c);

    /* Restart with no change: nothing to report. */
    seqno = ovsdb_client_get_seqno(f->c);
    ut_child_stop(&r->server);
    PUMP_UNTIL(f, !ovsdb_client_is_connected(f->c));
    server_start(r);
    time_warp(BACKOFF_WARP_MS);
    PUMP_UNTIL(f, ovsdb_client_is_synced(f->c));
    assert_true(ovsdb_client_get_seqno(f->c) > seqno);
    check_tracked(f->c, "Interface", "");
    check_tracked(f->c, "Open_vSwitch", "");

    /* Delete: the row stays readable until the clear. */
    vsctl(r, "del-port", "br0", "gnv0", NULL);
    PUMP_UNTIL(f, ovsdb_client_first_tracked(f->c, "Interface"));
    row = only_tracked(f->c, "gnv0", OVSDB_CLIENT_DELETED);
    assert_int_equal(ovsdb_client_row_get_smap(row, "options", &smap), 0);
    assert_string_equal(smap_get(&smap, "remote_ip"), "192.0.2.3");
    assert_null(find_iface(f->c, "gnv0"));
    assert_int_equal(ovsdb_client_count_rows(f->c, "Interface"), 2);
    ovsdb_client_clear_tracked(f->c);
    check_tracked(f->c, "Interface", "");
    smap_destroy(&smap);

    ut_child_stop(&r->server);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datum_string),
        cmocka_unit_test(test_datum_optional),
        cmocka_unit_test(test_datum_smap),
        cmocka_unit_test(test_datum_verify),
        cmocka_unit_test(test_verify_remote),
        cmocka_unit_test_setup_teardown(test_snapshot, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_updates, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_echo, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_monitor_error, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_backoff, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_resync, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_probe, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_many_rows, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_real_server, real_setup,
                                        real_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
