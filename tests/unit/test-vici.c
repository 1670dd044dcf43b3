/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the VICI codec (ike/vici.c): the README example byte for
 * byte, round trips, every decoder and builder error path, lookups,
 * redaction in vici_msg_format(), large messages, and a replay of the fuzz
 * corpus in tests/fuzz/corpus/vici.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ds.h"
#include "secret.h"
#include "util.h"
#include "vici.h"

#define CORPUS_DIR TEST_SRCDIR "/../fuzz/corpus/vici"

/* The example message from strongSwan's VICI README, wrapped in a
 * CMD_RESPONSE packet, written out by hand from the spec. */
static const uint8_t readme_packet[] = {
    0, 0, 0, 78,                /* Length of what follows. */
    1,                          /* CMD_RESPONSE. */
    /* key1 = value1 */
    3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
    /* section1 */
    1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
    /* sub-section */
    1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
    /* key2 = value2 */
    3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
    /* sub-section end */
    2,
    /* list1 */
    4, 5, 'l', 'i', 's', 't', '1',
    /* item1 */
    5, 0, 5, 'i', 't', 'e', 'm', '1',
    /* item2 */
    5, 0, 5, 'i', 't', 'e', 'm', '2',
    /* list1 end */
    6,
    /* section1 end */
    2,
};

/* Builds the README example with the builder. */
static struct vici_builder *
build_readme(enum vici_op op, const char *name)
{
    struct vici_builder *b = vici_builder_create(op, name);

    vici_add_kv(b, "key1", "value1");
    vici_begin_section(b, "section1");
    vici_begin_section(b, "sub-section");
    vici_add_kv(b, "key2", "value2");
    vici_end_section(b);
    vici_begin_list(b, "list1");
    vici_list_item(b, "item1");
    vici_list_item(b, "item2");
    vici_end_list(b);
    vici_end_section(b);
    return b;
}

/* Decodes the payload of 'packet' (which includes the length prefix) and
 * asserts success and a correct prefix. */
static struct vici_msg *
decode_packet(const uint8_t *packet, size_t size)
{
    struct vici_msg *msg = NULL;
    const char *why = "unset";

    assert_true(size >= 4);
    size_t payload = ((size_t) packet[0] << 24) | (packet[1] << 16)
                     | (packet[2] << 8) | packet[3];
    assert_int_equal(payload, size - 4);

    int error = vici_msg_decode(packet + 4, size - 4, &msg, &why);
    if (error) {
        fail_msg("decode failed: %s", why);
    }
    assert_null(why);
    assert_non_null(msg);
    return msg;
}

/* Asserts that encoding 'msg' gives exactly 'size' bytes at 'packet'. */
static void
assert_encodes_to(const struct vici_msg *msg, const uint8_t *packet,
                  size_t size)
{
    uint8_t *data;
    size_t data_size;

    assert_int_equal(vici_msg_encode(msg, &data, &data_size), 0);
    assert_int_equal(data_size, size);
    assert_memory_equal(data, packet, size);
    vici_packet_free(data, data_size);
}

/* Finishes 'b', asserting success, then decodes and re-encodes the packet
 * and asserts the bytes are unchanged.  Returns the decoded message. */
static struct vici_msg *
round_trip(struct vici_builder *b)
{
    uint8_t *data;
    size_t size;

    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    struct vici_msg *msg = decode_packet(data, size);
    assert_encodes_to(msg, data, size);
    vici_packet_free(data, size);
    return msg;
}

/* Asserts that the builder fails with 'expected' and returns no packet. */
static void
assert_build_fails(struct vici_builder *b, int expected)
{
    uint8_t *data = (uint8_t *) "sentinel";
    size_t size = 42;

    assert_int_equal(vici_builder_finish(b, &data, &size), expected);
    assert_null(data);
    assert_int_equal(size, 0);
}

/* Asserts that 'size' payload bytes at 'data' fail to decode with reason
 * 'expected' (any reason if NULL). */
static void
assert_decode_fails(const void *data, size_t size, const char *expected)
{
    struct vici_msg *msg = (struct vici_msg *) &msg;
    const char *why = NULL;

    int error = vici_msg_decode(data, size, &msg, &why);
    assert_int_equal(error, -EBADMSG);
    assert_null(msg);
    assert_non_null(why);
    if (expected) {
        assert_string_equal(why, expected);
    }
}

static char *
format_msg(const struct vici_msg *msg)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    vici_msg_format(msg, &s);
    return ds_steal_cstr(&s);
}

static void
test_op_helpers(void **state)
{
    (void) state;

    assert_true(vici_op_is_named(VICI_CMD_REQUEST));
    assert_false(vici_op_is_named(VICI_CMD_RESPONSE));
    assert_true(vici_op_is_named(VICI_EVENT_REGISTER));
    assert_true(vici_op_is_named(VICI_EVENT));
    assert_false(vici_op_is_named(VICI_OP_N));

    assert_true(vici_op_has_message(VICI_CMD_REQUEST));
    assert_true(vici_op_has_message(VICI_CMD_RESPONSE));
    assert_false(vici_op_has_message(VICI_CMD_UNKNOWN));
    assert_false(vici_op_has_message(VICI_EVENT_REGISTER));
    assert_false(vici_op_has_message(VICI_EVENT_CONFIRM));
    assert_true(vici_op_has_message(VICI_EVENT));
    assert_false(vici_op_has_message(VICI_OP_N));

    assert_string_equal(vici_op_to_string(VICI_CMD_REQUEST), "CMD_REQUEST");
    assert_string_equal(vici_op_to_string(VICI_EVENT), "EVENT");
    assert_string_equal(vici_op_to_string(VICI_OP_N), "<invalid>");
}

/* The README example, encoded byte for byte, decoded into the right tree,
 * and re-encoded unchanged. */
static void
test_readme_example(void **state)
{
    uint8_t *data;
    size_t size;

    (void) state;

    assert_int_equal(vici_builder_finish(build_readme(VICI_CMD_RESPONSE,
                                                      NULL),
                                         &data, &size), 0);
    assert_int_equal(size, sizeof readme_packet);
    assert_memory_equal(data, readme_packet, size);
    vici_packet_free(data, size);

    struct vici_msg *msg = decode_packet(readme_packet,
                                         sizeof readme_packet);
    assert_int_equal(msg->op, VICI_CMD_RESPONSE);
    assert_null(msg->name);
    assert_int_equal(msg->root.type, VICI_NODE_SECTION);
    assert_null(msg->root.key);
    assert_int_equal(msg->root.n_children, 2);

    const struct vici_node *key1 = msg->root.children[0];
    assert_int_equal(key1->type, VICI_NODE_VALUE);
    assert_string_equal(key1->key, "key1");
    assert_int_equal(key1->size, 6);
    assert_memory_equal(key1->value, "value1", 7);   /* NUL included. */

    const struct vici_node *s1 = vici_node_get(&msg->root, "section1");
    assert_non_null(s1);
    assert_ptr_equal(s1, msg->root.children[1]);
    assert_int_equal(s1->type, VICI_NODE_SECTION);
    assert_int_equal(s1->n_children, 2);

    const struct vici_node *sub = vici_node_get(s1, "sub-section");
    assert_non_null(sub);
    assert_int_equal(sub->type, VICI_NODE_SECTION);
    assert_int_equal(sub->n_children, 1);
    assert_string_equal(vici_node_get_str(sub, "key2"), "value2");

    const struct vici_node *list = vici_node_get(s1, "list1");
    assert_non_null(list);
    assert_int_equal(list->type, VICI_NODE_LIST);
    assert_int_equal(list->n_children, 2);
    assert_null(list->children[0]->key);
    assert_string_equal(vici_node_str(list->children[0]), "item1");
    assert_string_equal(vici_node_str(list->children[1]), "item2");

    assert_encodes_to(msg, readme_packet, sizeof readme_packet);

    char *text = format_msg(msg);
    assert_string_equal(text, "response {key1=value1 section1 {sub-section "
                        "{key2=value2} list1=[item1 item2]}}");
    free(text);
    vici_msg_destroy(msg);
}

/* The same message in a named CMD_REQUEST: the name goes between the op
 * byte and the elements. */
static void
test_named_packet(void **state)
{
    uint8_t expected[sizeof readme_packet + 5];
    uint8_t *data;
    size_t size;

    (void) state;

    memcpy(expected, readme_packet, 4);
    expected[3] += 5;
    expected[4] = VICI_CMD_REQUEST;
    memcpy(&expected[5], "\x04" "test", 5);
    memcpy(&expected[10], &readme_packet[5], sizeof readme_packet - 5);

    struct vici_builder *b = build_readme(VICI_CMD_REQUEST, "test");
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    assert_int_equal(size, sizeof expected);
    assert_memory_equal(data, expected, size);
    vici_packet_free(data, size);

    struct vici_msg *msg = decode_packet(expected, sizeof expected);
    assert_int_equal(msg->op, VICI_CMD_REQUEST);
    assert_string_equal(msg->name, "test");
    assert_int_equal(msg->root.n_children, 2);
    assert_encodes_to(msg, expected, sizeof expected);
    vici_msg_destroy(msg);
}

/* Packets without a message: exact bytes and round trips. */
static void
test_packets_without_message(void **state)
{
    static const struct {
        enum vici_op op;
        const char *name;
        const char *bytes;
        size_t size;
        const char *text;
    } cases[] = {
        { VICI_CMD_UNKNOWN, NULL, "\0\0\0\1\2", 5, "unknown command" },
        { VICI_EVENT_REGISTER, "list-sa", "\0\0\0\11\3\7list-sa", 13,
          "list-sa register" },
        { VICI_EVENT_UNREGISTER, "log", "\0\0\0\5\4\3log", 9,
          "log unregister" },
        { VICI_EVENT_CONFIRM, NULL, "\0\0\0\1\5", 5, "event confirm" },
        { VICI_EVENT_UNKNOWN, NULL, "\0\0\0\1\6", 5, "unknown event" },
        /* Ops with a message may carry an empty one. */
        { VICI_CMD_REQUEST, "version", "\0\0\0\11\0\7version", 13,
          "version request {}" },
        { VICI_CMD_RESPONSE, NULL, "\0\0\0\1\1", 5, "response {}" },
        { VICI_EVENT, "ike-updown", "\0\0\0\14\7\12ike-updown", 16,
          "ike-updown event {}" },
    };

    (void) state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct vici_builder *b = vici_builder_create(cases[i].op,
                                                     cases[i].name);
        uint8_t *data;
        size_t size;

        assert_int_equal(vici_builder_finish(b, &data, &size), 0);
        assert_int_equal(size, cases[i].size);
        assert_memory_equal(data, cases[i].bytes, size);

        struct vici_msg *msg = decode_packet(data, size);
        assert_int_equal(msg->op, cases[i].op);
        if (cases[i].name) {
            assert_string_equal(msg->name, cases[i].name);
        } else {
            assert_null(msg->name);
        }
        assert_int_equal(msg->root.n_children, 0);
        assert_encodes_to(msg, data, size);

        char *text = format_msg(msg);
        assert_string_equal(text, cases[i].text);
        free(text);

        vici_msg_destroy(msg);
        vici_packet_free(data, size);
    }
}

/* Round trips of messages using every element type and edge values. */
static void
test_round_trips(void **state)
{
    static const uint8_t binary[] = { 0, 1, 0xff, 0x7f, '\n', 0 };
    char name255[256];
    char *big = xmalloc(65535);

    (void) state;

    memset(name255, 'n', 255);
    name255[255] = '\0';
    memset(big, 'v', 65535);

    /* A load-conn request. */
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "load-conn");
    vici_begin_section(b, "vx0");
    vici_add_kv(b, "version", "2");
    vici_begin_list(b, "local_addrs");
    vici_list_item(b, "192.0.2.1");
    vici_end_list(b);
    vici_begin_list(b, "remote_addrs");
    vici_list_item(b, "192.0.2.2");
    vici_end_list(b);
    vici_begin_section(b, "local");
    vici_add_kv(b, "auth", "psk");
    vici_add_kv(b, "id", "192.0.2.1");
    vici_end_section(b);
    vici_begin_section(b, "children");
    vici_begin_section(b, "vx0");
    vici_begin_list(b, "local_ts");
    vici_list_item(b, "192.0.2.1/32[udp/4789]");
    vici_end_list(b);
    vici_add_kv_fmt(b, "mark_in", "%#x/%#x", 1u, 0xffffffffu);
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
    struct vici_msg *msg = round_trip(b);
    assert_string_equal(msg->name, "load-conn");
    const struct vici_node *conn = vici_node_get(&msg->root, "vx0");
    const struct vici_node *child;
    child = vici_node_get(vici_node_get(conn, "children"), "vx0");
    assert_string_equal(vici_node_get_str(child, "mark_in"),
                        "0x1/0xffffffff");
    vici_msg_destroy(msg);

    /* Edge values: empty and binary values, empty list and section,
     * longest name, longest value. */
    b = vici_builder_create(VICI_EVENT, name255);
    vici_add_kv(b, "empty", "");
    vici_add_kv_bytes(b, "binary", binary, sizeof binary);
    vici_begin_list(b, "empty-list");
    vici_end_list(b);
    vici_begin_section(b, "empty-section");
    vici_end_section(b);
    vici_begin_list(b, "items");
    vici_list_item(b, "");
    vici_end_list(b);
    vici_add_kv(b, name255, "x");
    vici_add_kv_bytes(b, "big", big, 65535);
    msg = round_trip(b);
    assert_string_equal(msg->name, name255);
    assert_string_equal(vici_node_get_str(&msg->root, "empty"), "");
    const struct vici_node *node = vici_node_get(&msg->root, "binary");
    assert_int_equal(node->size, sizeof binary);
    assert_memory_equal(node->value, binary, sizeof binary);
    node = vici_node_get(&msg->root, "empty-list");
    assert_int_equal(node->type, VICI_NODE_LIST);
    assert_int_equal(node->n_children, 0);
    node = vici_node_get(&msg->root, "empty-section");
    assert_int_equal(node->type, VICI_NODE_SECTION);
    assert_int_equal(node->n_children, 0);
    node = vici_node_get(&msg->root, "items");
    assert_int_equal(node->n_children, 1);
    assert_int_equal(node->children[0]->size, 0);
    assert_string_equal(vici_node_get_str(&msg->root, name255), "x");
    assert_int_equal(vici_node_get(&msg->root, "big")->size, 65535);
    vici_msg_destroy(msg);

    /* The deepest nesting allowed, with a list at the bottom. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i < VICI_MAX_DEPTH; i++) {
        vici_begin_section(b, "s");
    }
    vici_begin_list(b, "l");
    vici_list_item(b, "deep");
    vici_end_list(b);
    for (int i = 0; i < VICI_MAX_DEPTH; i++) {
        vici_end_section(b);
    }
    msg = round_trip(b);
    node = &msg->root;
    for (int i = 0; i < VICI_MAX_DEPTH; i++) {
        node = vici_node_get(node, "s");
        assert_non_null(node);
    }
    node = vici_node_get(node, "l");
    assert_string_equal(vici_node_str(node->children[0]), "deep");
    vici_msg_destroy(msg);

    free(big);
}

/* Every proper prefix of a valid packet fails to decode, except those that
 * end exactly on an element boundary with nothing left open. */
static void
test_truncation(void **state)
{
    static const uint8_t event[] = {
        7, 7, 'l', 'i', 's', 't', '-', 's', 'a',
        1, 4, 'i', 'k', 'e', '1',
        3, 8, 'u', 'n', 'i', 'q', 'u', 'e', 'i', 'd', 0, 1, '1',
        4, 4, 'l', 'i', 's', 't', 5, 0, 0, 5, 0, 1, 'x', 6,
        2,
    };
    const uint8_t *readme = readme_packet + 4;
    size_t readme_size = sizeof readme_packet - 4;

    (void) state;

    for (size_t n = 0; n < readme_size; n++) {
        struct vici_msg *msg;
        const char *why;
        int error = vici_msg_decode(readme, n, &msg, &why);

        /* Valid: the op alone (empty message), and "key1=value1". */
        if (n == 1 || n == 15) {
            assert_int_equal(error, 0);
            assert_int_equal(msg->root.n_children, n == 1 ? 0 : 1);
            vici_msg_destroy(msg);
        } else {
            assert_decode_fails(readme, n, NULL);
        }
    }

    for (size_t n = 0; n < sizeof event; n++) {
        struct vici_msg *msg;
        int error = vici_msg_decode(event, n, &msg, NULL);

        /* Valid: the named op with an empty message. */
        if (n == 9) {
            assert_int_equal(error, 0);
            assert_string_equal(msg->name, "list-sa");
            vici_msg_destroy(msg);
        } else {
            assert_decode_fails(event, n, NULL);
        }
    }

    struct vici_msg *msg;
    assert_int_equal(vici_msg_decode(event, sizeof event, &msg, NULL), 0);
    vici_msg_destroy(msg);
}

/* Each decoder error, with the reason it gives. */
static void
test_decode_errors(void **state)
{
#define BAD(BYTES, WHY) { BYTES, sizeof BYTES - 1, WHY }
    static const struct {
        const char *bytes;
        size_t size;
        const char *why;
    } cases[] = {
        BAD("", "empty packet"),

        /* Operation type and packet name. */
        BAD("\x08", "unknown operation type"),
        BAD("\xff", "unknown operation type"),
        BAD("\x00", "truncated packet name"),
        BAD("\x07", "truncated packet name"),
        BAD("\x03\x05" "abcd", "truncated packet name"),
        BAD("\x00\x00", "packet name is empty or not printable ASCII"),
        BAD("\x07\x02" "a\n", "packet name is empty or not printable ASCII"),
        BAD("\x07\x02" "a\x80", "packet name is empty or not printable ASCII"),

        /* Trailing bytes after packets that carry no message. */
        BAD("\x02\x00", "trailing bytes after packet without message"),
        BAD("\x05\x03\x01" "a", "trailing bytes after packet without message"),
        BAD("\x06\x01", "trailing bytes after packet without message"),
        BAD("\x03\x01" "a\x00", "trailing bytes after packet without message"),
        BAD("\x04\x01" "a\x01\x01" "b\x02",
            "trailing bytes after packet without message"),

        /* Trailing garbage after a complete message. */
        BAD("\x01\x03\x01" "k\x00\x00\x00", "unknown element type"),
        BAD("\x01\x03\x01" "k\x00\x00\x02",
            "section end without section start"),

        /* Element types. */
        BAD("\x01\x00", "unknown element type"),
        BAD("\x01\x07", "unknown element type"),
        BAD("\x01\xff", "unknown element type"),

        /* Sections. */
        BAD("\x01\x02", "section end without section start"),
        BAD("\x01\x01\x01" "s\x02\x02", "section end without section start"),
        BAD("\x01\x01\x01" "s", "unterminated section"),
        BAD("\x01\x01\x01" "s\x01\x01" "t\x02", "unterminated section"),
        BAD("\x01\x01", "truncated section name"),
        BAD("\x01\x01\x02" "s", "truncated section name"),
        BAD("\x01\x01\x00\x02",
            "section name is empty or not printable ASCII"),
        BAD("\x01\x01\x01\x7f\x02",
            "section name is empty or not printable ASCII"),

        /* Key/values. */
        BAD("\x01\x03", "truncated key"),
        BAD("\x01\x03\x05" "key", "truncated key"),
        BAD("\x01\x03\x00\x00\x00", "key is empty or not printable ASCII"),
        BAD("\x01\x03\x01\x00\x00\x00", "key is empty or not printable ASCII"),
        BAD("\x01\x03\x01" "k", "value length exceeds packet"),
        BAD("\x01\x03\x01" "k\x00", "value length exceeds packet"),
        BAD("\x01\x03\x01" "k\x00\x05" "abcd", "value length exceeds packet"),
        BAD("\x01\x03\x01" "k\xff\xff" "abcd", "value length exceeds packet"),

        /* Lists. */
        BAD("\x01\x05\x00\x01" "x", "list item outside a list"),
        BAD("\x01\x01\x01" "s\x05\x00\x00\x02", "list item outside a list"),
        BAD("\x01\x06", "list end outside a list"),
        BAD("\x01\x04\x01" "l\x01\x01" "s\x02\x06",
            "section start inside a list"),
        BAD("\x01\x01\x01" "s\x04\x01" "l\x02\x06",
            "section end inside a list"),
        BAD("\x01\x04\x01" "l\x03\x01" "k\x00\x00\x06",
            "key/value inside a list"),
        BAD("\x01\x04\x01" "l\x04\x01" "m\x06\x06",
            "list start inside a list"),
        BAD("\x01\x04\x01" "l", "unterminated list"),
        BAD("\x01\x04\x01" "l\x05\x00\x00", "unterminated list"),
        BAD("\x01\x04", "truncated list name"),
        BAD("\x01\x04\x00\x06", "list name is empty or not printable ASCII"),
        BAD("\x01\x04\x01" "l\x05", "list item length exceeds packet"),
        BAD("\x01\x04\x01" "l\x05\x00\x03" "a\x06",
            "list item length exceeds packet"),
    };
#undef BAD

    (void) state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct vici_msg *msg;
        const char *why = NULL;

        int error = vici_msg_decode(cases[i].bytes, cases[i].size, &msg,
                                    &why);
        if (error != -EBADMSG || !why || strcmp(why, cases[i].why)) {
            fail_msg("case %zu: got %d \"%s\", expected \"%s\"", i, error,
                     why ? why : "(null)", cases[i].why);
        }
        assert_null(msg);

        /* 'why' is optional. */
        assert_int_equal(vici_msg_decode(cases[i].bytes, cases[i].size,
                                         &msg, NULL), -EBADMSG);
    }
}

/* Nesting beyond VICI_MAX_DEPTH is rejected; exactly that deep is fine. */
static void
test_decode_depth(void **state)
{
    uint8_t buf[1 + (VICI_MAX_DEPTH + 1) * 4];
    size_t n;

    (void) state;

    for (int depth = VICI_MAX_DEPTH; depth <= VICI_MAX_DEPTH + 1; depth++) {
        n = 0;
        buf[n++] = VICI_CMD_RESPONSE;
        for (int i = 0; i < depth; i++) {
            buf[n++] = 1;
            buf[n++] = 1;
            buf[n++] = 's';
        }
        for (int i = 0; i < depth; i++) {
            buf[n++] = 2;
        }

        if (depth <= VICI_MAX_DEPTH) {
            struct vici_msg *msg;
            assert_int_equal(vici_msg_decode(buf, n, &msg, NULL), 0);
            vici_msg_destroy(msg);
        } else {
            assert_decode_fails(buf, n, "sections nested too deeply");
        }
    }
}

/* Fills 'buf' with a CMD_RESPONSE payload of exactly 'size' bytes made of
 * key/values, for size >= 6. */
static void
fill_payload(uint8_t *buf, size_t size)
{
    size_t n = 0;

    buf[n++] = VICI_CMD_RESPONSE;
    while (n < size) {
        size_t left = size - n;
        size_t value = left - 5;

        assert_true(left >= 5);
        if (value > 65535) {
            value = 65535;
            if (left - 5 - value < 5) {
                /* Leave room for one more key/value. */
                value -= 5;
            }
        }
        buf[n++] = 3;
        buf[n++] = 1;
        buf[n++] = 'k';
        buf[n++] = value >> 8;
        buf[n++] = value & 0xff;
        memset(&buf[n], 'v', value);
        n += value;
    }
    assert_int_equal(n, size);
}

/* VICI_MAX_PACKET bytes of payload decode; one more does not. */
static void
test_decode_max_packet(void **state)
{
    uint8_t *buf = xmalloc(VICI_MAX_PACKET + 1);
    struct vici_msg *msg;
    const char *why;

    (void) state;

    fill_payload(buf, VICI_MAX_PACKET);
    assert_int_equal(vici_msg_decode(buf, VICI_MAX_PACKET, &msg, &why), 0);
    {
        uint8_t *data;
        size_t size;

        assert_int_equal(vici_msg_encode(msg, &data, &size), 0);
        assert_int_equal(size, VICI_MAX_PACKET + 4);
        assert_memory_equal(data + 4, buf, VICI_MAX_PACKET);
        vici_packet_free(data, size);
    }
    vici_msg_destroy(msg);

    fill_payload(buf, VICI_MAX_PACKET + 1);
    assert_decode_fails(buf, VICI_MAX_PACKET + 1,
                        "packet larger than 512 KiB");
    assert_decode_fails(buf, SIZE_MAX, "packet larger than 512 KiB");
    free(buf);
}

static void
test_builder_errors(void **state)
{
    char name256[257];
    char *big = xzalloc(65536);
    struct vici_builder *b;

    (void) state;

    memset(name256, 'n', 256);
    name256[256] = '\0';

    /* Packet type and name. */
    assert_build_fails(vici_builder_create(VICI_OP_N, NULL), -EINVAL);
    assert_build_fails(vici_builder_create(VICI_CMD_REQUEST, NULL), -EINVAL);
    assert_build_fails(vici_builder_create(VICI_CMD_REQUEST, ""), -EINVAL);
    assert_build_fails(vici_builder_create(VICI_EVENT, "a\tb"), -EINVAL);
    assert_build_fails(vici_builder_create(VICI_EVENT, name256), -EMSGSIZE);
    assert_build_fails(vici_builder_create(VICI_CMD_RESPONSE, "x"), -EINVAL);
    assert_build_fails(vici_builder_create(VICI_EVENT_CONFIRM, "x"), -EINVAL);

    /* Elements in a packet that carries no message. */
    b = vici_builder_create(VICI_EVENT_REGISTER, "log");
    vici_add_kv(b, "k", "v");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_UNKNOWN, NULL);
    vici_begin_section(b, "s");
    vici_end_section(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_EVENT_CONFIRM, NULL);
    vici_begin_list(b, "l");
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);

    /* Nesting. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_end_section(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_section(b, "s");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, "l");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_list_item(b, "x");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, "l");
    vici_begin_section(b, "s");
    vici_end_section(b);
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_section(b, "s");
    vici_begin_list(b, "l");
    vici_end_section(b);
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, "l");
    vici_add_kv(b, "k", "v");
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, "l");
    vici_begin_list(b, "m");
    vici_end_list(b);
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i <= VICI_MAX_DEPTH; i++) {
        vici_begin_section(b, "s");
    }
    for (int i = 0; i <= VICI_MAX_DEPTH; i++) {
        vici_end_section(b);
    }
    assert_build_fails(b, -EINVAL);

    /* Names and values. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, NULL, "v");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "", "v");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "new\nline", "v");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, name256, "v");
    assert_build_fails(b, -EMSGSIZE);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_section(b, "");
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, NULL);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "k", NULL);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv_bytes(b, "k", NULL, 0);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_list(b, "l");
    vici_list_item(b, NULL);
    vici_end_list(b);
    assert_build_fails(b, -EINVAL);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv_bytes(b, "k", big, 65536);
    assert_build_fails(b, -EMSGSIZE);
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv_secret(b, "data", NULL);
    assert_build_fails(b, -EINVAL);

    /* The first error is the one reported. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, name256, "v");
    vici_end_section(b);
    assert_build_fails(b, -EMSGSIZE);

    /* NULL builder. */
    assert_build_fails(NULL, -EINVAL);
    vici_builder_destroy(NULL);
    vici_packet_free(NULL, 0);

    /* Destroying an unfinished builder frees it (checked by ASan). */
    b = build_readme(VICI_CMD_RESPONSE, NULL);
    vici_builder_destroy(b);

    free(big);
}

/* The builder stops at VICI_MAX_PACKET bytes of payload. */
static void
test_builder_max_packet(void **state)
{
    char *value = xmalloc(65535);
    uint8_t *data;
    size_t size;

    (void) state;

    memset(value, 'v', 65535);

    /* 1 + 7 * 65540 + 65507 = VICI_MAX_PACKET. */
    struct vici_builder *b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i < 7; i++) {
        vici_add_kv_bytes(b, "k", value, 65535);
    }
    vici_add_kv_bytes(b, "k", value, 65502);
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    assert_int_equal(size, 4 + VICI_MAX_PACKET);
    vici_packet_free(data, size);

    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i < 7; i++) {
        vici_add_kv_bytes(b, "k", value, 65535);
    }
    vici_add_kv_bytes(b, "k", value, 65503);
    assert_build_fails(b, -EMSGSIZE);

    /* Errors stick: nothing more is added after the limit. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i < 100; i++) {
        vici_add_kv_bytes(b, "k", value, 65535);
    }
    assert_build_fails(b, -EMSGSIZE);

    free(value);
}

static void
test_secret(void **state)
{
    static const char psk[] = "swordfish\0with a NUL";
    struct secret *secret = secret_create(psk, sizeof psk - 1);

    (void) state;

    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "load-shared");
    vici_add_kv(b, "type", "IKE");
    vici_add_kv_secret(b, "data", secret);
    vici_begin_list(b, "owners");
    vici_list_item(b, "192.0.2.1");
    vici_end_list(b);
    secret_destroy(secret);

    struct vici_msg *msg = round_trip(b);
    const struct vici_node *data = vici_node_get(&msg->root, "data");
    assert_non_null(data);
    assert_int_equal(data->size, sizeof psk - 1);
    assert_memory_equal(data->value, psk, sizeof psk - 1);
    /* Embedded NUL: not usable as a string. */
    assert_null(vici_node_get_str(&msg->root, "data"));
    assert_null(vici_node_str(data));

    char *text = format_msg(msg);
    assert_string_equal(text, "load-shared request {type=IKE data=<redacted> "
                        "owners=[192.0.2.1]}");
    free(text);
    vici_msg_destroy(msg);
}

/* Values under secret-looking keys never appear in vici_msg_format(). */
static void
test_format_redaction(void **state)
{
    static const uint8_t binary[] = { 0x00, 0xff, 0x10 };

    (void) state;

    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST, "test");
    vici_add_kv(b, "data", "hunter2");
    vici_add_kv(b, "DATA", "hunter2");
    vici_add_kv(b, "psk", "hunter2");
    vici_add_kv(b, "ike-PSK", "hunter2");
    vici_add_kv(b, "secret", "hunter2");
    vici_add_kv(b, "shared_secret", "hunter2");
    vici_begin_section(b, "nested");
    vici_add_kv(b, "data", "hunter2");
    vici_begin_list(b, "my-secret");
    vici_list_item(b, "hunter2");
    vici_list_item(b, "hunter2");
    vici_end_list(b);
    vici_end_section(b);
    vici_add_kv(b, "database", "shown");
    vici_add_kv(b, "secrets-file", "shown");
    vici_add_kv_bytes(b, "bin", binary, sizeof binary);
    vici_add_kv(b, "empty", "");
    vici_add_kv(b, "spaces", "a b");
    vici_add_kv(b, "newline", "a\n");
    struct vici_msg *msg = round_trip(b);

    char *text = format_msg(msg);
    assert_null(strstr(text, "hunter2"));
    assert_string_equal(text,
                        "test request {data=<redacted> DATA=<redacted> "
                        "psk=<redacted> ike-PSK=<redacted> "
                        "secret=<redacted> shared_secret=<redacted> "
                        "nested {data=<redacted> "
                        "my-secret=[<redacted> <redacted>]} "
                        "database=shown secrets-file=shown bin=0x00ff10 "
                        "empty= spaces=a b newline=0x610a}");
    free(text);

    /* Formatting appends. */
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&s, "got: ");
    vici_msg_format(msg, &s);
    assert_true(str_starts_with(ds_cstr(&s), "got: test request {"));
    ds_destroy(&s);

    vici_msg_destroy(msg);
}

static void
test_lookups(void **state)
{
    (void) state;

    struct vici_builder *b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "success", "yes");
    vici_add_kv(b, "dup", "first");
    vici_add_kv(b, "dup", "second");
    vici_add_kv_bytes(b, "nul", "a\0b", 3);
    vici_begin_section(b, "section");
    vici_add_kv(b, "inner", "1");
    vici_end_section(b);
    vici_begin_list(b, "list");
    vici_list_item(b, "item");
    vici_end_list(b);
    struct vici_msg *msg = round_trip(b);
    const struct vici_node *root = &msg->root;

    assert_true(vici_msg_success(msg));
    assert_null(vici_msg_errmsg(msg));

    /* The first of duplicate keys wins. */
    assert_string_equal(vici_node_get_str(root, "dup"), "first");

    /* Embedded NUL. */
    const struct vici_node *nul = vici_node_get(root, "nul");
    assert_non_null(nul);
    assert_int_equal(nul->size, 3);
    assert_null(vici_node_get_str(root, "nul"));
    assert_null(vici_node_str(nul));

    /* Not values. */
    const struct vici_node *section = vici_node_get(root, "section");
    const struct vici_node *list = vici_node_get(root, "list");
    assert_non_null(section);
    assert_non_null(list);
    assert_null(vici_node_get_str(root, "section"));
    assert_null(vici_node_get_str(root, "list"));
    assert_null(vici_node_str(section));
    assert_string_equal(vici_node_str(list->children[0]), "item");

    /* Only sections have members. */
    assert_string_equal(vici_node_get_str(section, "inner"), "1");
    assert_null(vici_node_get(list, "item"));
    assert_null(vici_node_get(nul, "a"));

    /* Absent and NULL. */
    assert_null(vici_node_get(root, "missing"));
    assert_null(vici_node_get(root, "inner"));
    assert_null(vici_node_get(root, NULL));
    assert_null(vici_node_get(NULL, "success"));
    assert_null(vici_node_get_str(NULL, "success"));
    assert_null(vici_node_str(NULL));
    vici_msg_destroy(msg);

    /* Failure responses. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "success", "no");
    vici_add_kv(b, "errmsg", "unknown connection 'x'");
    msg = round_trip(b);
    assert_false(vici_msg_success(msg));
    assert_string_equal(vici_msg_errmsg(msg), "unknown connection 'x'");
    vici_msg_destroy(msg);

    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "success", "YES");
    msg = round_trip(b);
    assert_false(vici_msg_success(msg));
    vici_msg_destroy(msg);

    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_begin_section(b, "success");
    vici_end_section(b);
    msg = round_trip(b);
    assert_false(vici_msg_success(msg));
    vici_msg_destroy(msg);
}

/* Encoding hand-made trees checks them like the builder does. */
static void
test_encode_invalid_tree(void **state)
{
    struct vici_node section = { .type = VICI_NODE_SECTION, .key = "s" };
    struct vici_node item = { .type = VICI_NODE_VALUE,
                              .value = (uint8_t *) "x", .size = 1 };
    struct vici_node *list_children[] = { &section };
    struct vici_node list = { .type = VICI_NODE_LIST, .key = "l",
                              .children = list_children, .n_children = 1 };
    struct vici_node *root_children[] = { &list };
    struct vici_msg msg = {
        .op = VICI_CMD_RESPONSE,
        .root = { .type = VICI_NODE_SECTION, .children = root_children,
                  .n_children = 1 },
    };
    uint8_t *data;
    size_t size;

    (void) state;

    /* A section inside a list. */
    assert_int_equal(vici_msg_encode(&msg, &data, &size), -EINVAL);
    assert_null(data);

    /* A key/value without a key. */
    root_children[0] = &item;
    assert_int_equal(vici_msg_encode(&msg, &data, &size), -EINVAL);

    /* A message in a packet that carries none. */
    msg.op = VICI_EVENT_CONFIRM;
    assert_int_equal(vici_msg_encode(&msg, &data, &size), -EINVAL);

    /* A section that contains itself stops at the depth limit. */
    struct vici_node *loop_children[] = { &section };
    section.children = loop_children;
    section.n_children = 1;
    root_children[0] = &section;
    msg.op = VICI_CMD_RESPONSE;
    assert_int_equal(vici_msg_encode(&msg, &data, &size), -EINVAL);

    /* The same loop formats without running away. */
    char *text = format_msg(&msg);
    assert_non_null(strstr(text, "{...}"));
    free(text);

    /* Names that could not be decoded are escaped when formatted. */
    struct vici_node odd = { .type = VICI_NODE_VALUE, .key = "a\nb",
                             .value = (uint8_t *) "v", .size = 1 };
    root_children[0] = &odd;
    text = format_msg(&msg);
    assert_string_equal(text, "response {a\\x0ab=v}");
    free(text);
    assert_int_equal(vici_msg_encode(&msg, &data, &size), -EINVAL);
}

/* A list-sas event with many children decodes, and lookups work on it. */
static void
test_large_event(void **state)
{
    enum { N_CHILDREN = 500 };
    char name[32];

    (void) state;

    struct vici_builder *b = vici_builder_create(VICI_EVENT, "list-sa");
    vici_begin_section(b, "vx0");
    vici_add_kv(b, "uniqueid", "1");
    vici_add_kv(b, "state", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    for (int i = 0; i < N_CHILDREN; i++) {
        snprintf(name, sizeof name, "vx0-%d", i);
        vici_begin_section(b, name);
        vici_add_kv_fmt(b, "uniqueid", "%d", i + 2);
        vici_add_kv(b, "state", "INSTALLED");
        vici_add_kv_fmt(b, "spi-in", "%08x", 0xc0000000u + i);
        vici_add_kv_fmt(b, "bytes-in", "%d", i * 1000);
        vici_begin_list(b, "local-ts");
        vici_list_item(b, "192.0.2.1/32[udp/4789]");
        vici_end_list(b);
        vici_begin_list(b, "remote-ts");
        vici_list_item(b, "192.0.2.2/32[udp/4789]");
        vici_end_list(b);
        vici_end_section(b);
    }
    vici_end_section(b);
    vici_end_section(b);
    struct vici_msg *msg = round_trip(b);

    const struct vici_node *ike = vici_node_get(&msg->root, "vx0");
    assert_string_equal(vici_node_get_str(ike, "state"), "ESTABLISHED");
    const struct vici_node *children = vici_node_get(ike, "child-sas");
    assert_int_equal(children->n_children, N_CHILDREN);
    for (int i = 0; i < N_CHILDREN; i++) {
        const struct vici_node *child = children->children[i];

        snprintf(name, sizeof name, "vx0-%d", i);
        assert_string_equal(child->key, name);
        snprintf(name, sizeof name, "%d", i + 2);
        assert_string_equal(vici_node_get_str(child, "uniqueid"), name);
    }
    assert_string_equal(vici_node_get_str(vici_node_get(children, "vx0-499"),
                                          "spi-in"), "c00001f3");
    vici_msg_destroy(msg);
}

static double
elapsed(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec)
           + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Building is linear: 2000 load-conn messages, and one message of almost
 * VICI_MAX_PACKET bytes made of tiny elements, finish well within a bound
 * that quadratic copying (~20 GB for the big one) could not meet, even
 * under sanitizers. */
static void
test_build_cost(void **state)
{
    struct timespec start;
    size_t total = 0;
    uint8_t *data;
    size_t size;

    (void) state;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 2000; i++) {
        char name[32];

        snprintf(name, sizeof name, "vx%d", i);
        struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                     "load-conn");
        vici_begin_section(b, name);
        vici_add_kv(b, "version", "2");
        vici_begin_list(b, "local_addrs");
        vici_list_item(b, "192.0.2.1");
        vici_end_list(b);
        vici_begin_list(b, "remote_addrs");
        vici_list_item(b, "192.0.2.2");
        vici_end_list(b);
        vici_add_kv(b, "encap", "no");
        vici_add_kv(b, "proposals", "aes256gcm16-sha256-modp2048");
        for (int j = 0; j < 2; j++) {
            vici_begin_section(b, j ? "remote" : "local");
            vici_add_kv(b, "auth", "pubkey");
            vici_begin_list(b, "certs");
            vici_list_item(b, "/etc/ipsec.d/certs/host.pem");
            vici_end_list(b);
            vici_end_section(b);
        }
        vici_begin_section(b, "children");
        vici_begin_section(b, name);
        vici_begin_list(b, "local_ts");
        vici_list_item(b, "192.0.2.1/32[udp/4789]");
        vici_end_list(b);
        vici_begin_list(b, "remote_ts");
        vici_list_item(b, "192.0.2.2/32[udp/4789]");
        vici_end_list(b);
        vici_add_kv(b, "mode", "transport");
        vici_add_kv(b, "start_action", "trap");
        vici_add_kv(b, "esp_proposals", "aes256gcm16");
        vici_end_section(b);
        vici_end_section(b);
        vici_end_section(b);
        assert_int_equal(vici_builder_finish(b, &data, &size), 0);
        total += size;
        vici_packet_free(data, size);
    }
    assert_true(total > 2000 * 300);

    /* 6-byte key/values up to the limit. */
    struct vici_builder *b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    for (int i = 0; i < VICI_MAX_PACKET / 6; i++) {
        vici_add_kv(b, "k", "v");
    }
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    assert_int_equal(size, 4 + 1 + VICI_MAX_PACKET / 6 * 6);

    /* Decoding it is linear too. */
    struct vici_msg *msg = decode_packet(data, size);
    assert_int_equal(msg->root.n_children, VICI_MAX_PACKET / 6);
    vici_msg_destroy(msg);
    vici_packet_free(data, size);

    double seconds = elapsed(&start);
    if (seconds > 10.0) {
        fail_msg("building took %.1f s", seconds);
    }
}

static bool
read_file(const char *file_name, uint8_t **ret_data, size_t *ret_size)
{
    FILE *stream = fopen(file_name, "rb");
    struct ds s = DS_EMPTY_INITIALIZER;
    char buf[4096];
    size_t n;

    if (!stream) {
        return false;
    }
    while ((n = fread(buf, 1, sizeof buf, stream)) > 0) {
        ds_put_buffer(&s, buf, n);
    }
    bool ok = !ferror(stream);
    fclose(stream);

    /* Not ds_steal_cstr(): the data may contain NUL bytes. */
    *ret_size = s.length;
    *ret_data = s.string ? (uint8_t *) s.string : xzalloc(1);
    return ok;
}

/* Every file in the fuzz corpus goes through the decoder without trouble.
 * Files named "valid-*" must decode, "invalid-*" must not; anything that
 * decodes must re-encode to the same bytes. */
static void
test_corpus(void **state)
{
    DIR *dir = opendir(CORPUS_DIR);
    struct dirent *de;
    int n_valid = 0, n_invalid = 0, n_files = 0;

    (void) state;

    if (!dir) {
        fail_msg("%s: cannot open", CORPUS_DIR);
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        char *file_name = xasprintf("%s/%s", CORPUS_DIR, de->d_name);
        uint8_t *data;
        size_t size;
        if (!read_file(file_name, &data, &size)) {
            fail_msg("%s: cannot read", file_name);
        }

        struct vici_msg *msg;
        const char *why;
        int error = vici_msg_decode(data, size, &msg, &why);
        if (str_starts_with(de->d_name, "valid-")) {
            if (error) {
                fail_msg("%s: %s", file_name, why);
            }
            n_valid++;
        } else if (str_starts_with(de->d_name, "invalid-")) {
            if (!error) {
                fail_msg("%s: decoded but should not", file_name);
            }
            n_invalid++;
        }
        if (!error) {
            uint8_t *packet;
            size_t packet_size;

            assert_int_equal(vici_msg_encode(msg, &packet, &packet_size), 0);
            assert_int_equal(packet_size, size + 4);
            assert_memory_equal(packet + 4, data, size);
            vici_packet_free(packet, packet_size);

            char *text = format_msg(msg);
            assert_null(strstr(text, "hunter2"));
            free(text);
            vici_msg_destroy(msg);
        } else {
            assert_int_equal(error, -EBADMSG);
            assert_non_null(why);
        }

        free(data);
        free(file_name);
        n_files++;
    }
    closedir(dir);

    assert_true(n_valid >= 3);
    assert_true(n_invalid >= 1);
    assert_true(n_files >= n_valid + n_invalid);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_helpers),
        cmocka_unit_test(test_readme_example),
        cmocka_unit_test(test_named_packet),
        cmocka_unit_test(test_packets_without_message),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_depth),
        cmocka_unit_test(test_decode_max_packet),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_builder_max_packet),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_format_redaction),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_encode_invalid_tree),
        cmocka_unit_test(test_large_event),
        cmocka_unit_test(test_build_cost),
        cmocka_unit_test(test_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
