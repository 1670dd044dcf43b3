/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests of lib/json-scan: member and element spans agree with what jansson
 * makes of the whole text (hand-picked texts, then random trees dumped
 * every way jansson can), and malformed structure is refused.
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
#include <cmocka.h>

#include "json-scan.h"
#include "util.h"

/* Walks 'text' (an object or array) with json_scan and checks each span
 * against jansson's decoding of the whole.  Returns the number of items. */
static size_t
check_against_jansson(const char *text)
{
    struct json_span whole = { text, strlen(text) }, span;
    json_error_t jerr;
    json_t *tree = json_loads(text, JSON_DECODE_ANY, &jerr);
    struct json_scan s;
    size_t n = 0;
    char *key;
    int r;

    if (!tree) {
        fail_msg("jansson rejects test input: %s", text);
    }
    bool object = json_is_object(tree);
    assert_int_equal(json_scan_init(&s, whole, object ? '}' : ']'), 0);
    for (;;) {
        r = object ? json_scan_next_member(&s, &key, &span)
                   : json_scan_next(&s, &span);
        if (r != 1) {
            break;
        }
        json_t *value = json_scan_decode(span);
        const json_t *expected = (object ? json_object_get(tree, key)
                                  : json_array_get(tree, n));
        if (!value || !expected || !json_equal(value, expected)) {
            fail_msg("item %zu of %s: span \"%.*s\"", n, text,
                     (int) span.n, span.p);
        }
        json_decref(value);
        if (object) {
            free(key);
        }
        n++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(n, object ? json_object_size(tree)
                               : json_array_size(tree));
    /* The end stays the end. */
    assert_int_equal(object ? json_scan_next_member(&s, &key, &span)
                            : json_scan_next(&s, &span), 0);
    json_decref(tree);
    return n;
}

static void
test_examples(void **state OVS_UNUSED__)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        " { } ",
        "{\"a\":1}",
        "{\"a\" : [1, 2, {\"b\": null}], \"c\":\"}]\\\"[{\",\n\t\"d\":true}",
        "[\"\\\\\", \"\\\"\", \"]\", \"}\", -1.5e+3, false, null, {}]",
        "{\"\\u00e9t\\u00e9\": \"\\ud83d\\ude00\", \"k\\\"ey\": {}}",
        "{\"method\":\"update\",\"params\":[\"ovsec\",{\"Interface\":{"
        "\"4a7c1f5e-0000-4000-8000-000000000001\":{\"new\":{\"name\":"
        "\"gnv0\",\"options\":[\"map\",[[\"psk\",\"x\"]]]}}}}],\"id\":null}",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"dup\": 1, \"dup\": 2}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        if (!strcmp(texts[i], "{\"dup\": 1, \"dup\": 2}")) {
            /* jansson keeps the last; the scan sees both, in order. */
            struct json_span whole = { texts[i], strlen(texts[i]) }, v;
            struct json_scan s;
            char *key;
            assert_int_equal(json_scan_init(&s, whole, '}'), 0);
            for (int j = 1; j <= 2; j++) {
                assert_int_equal(json_scan_next_member(&s, &key, &v), 1);
                assert_string_equal(key, "dup");
                assert_int_equal(v.n, 1);
                assert_int_equal(v.p[0], '0' + j);
                free(key);
            }
            assert_int_equal(json_scan_next_member(&s, &key, &v), 0);
            continue;
        }
        check_against_jansson(texts[i]);
    }
}

/* Random trees, dumped compact, indented, ASCII-only and sorted. */
static uint32_t seed = 12345;

static uint32_t
rnd(uint32_t n)
{
    seed = seed * 1103515245 + 12345;
    return (seed >> 8) % n;
}

static json_t *
random_value(int depth)
{
    static const char *const strings[] = {
        "", "a", "}", "]", "\"", "\\", "{[", "\xc3\xa9", "tab\there",
        "new\nline", "\xf0\x9f\x98\x80", "remote_ip", "\x01",
    };

    switch (depth > 4 ? rnd(4) : rnd(6)) {
    case 0:
        return json_string(strings[rnd(ARRAY_SIZE(strings))]);
    case 1:
        return json_integer((json_int_t) rnd(1000000) - 500000);
    case 2:
        return rnd(2) ? json_real(rnd(1000) / 7.0) : json_null();
    case 3:
        return json_boolean(rnd(2));
    case 4: {
        json_t *a = json_array();
        for (uint32_t i = rnd(5); i > 0; i--) {
            json_array_append_new(a, random_value(depth + 1));
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = rnd(5); i > 0; i--) {
            char key[16];
            snprintf(key, sizeof key, "%s%u", rnd(2) ? "k\"" : "k",
                     rnd(8));
            json_object_set_new(o, key, random_value(depth + 1));
        }
        return o;
    }
    }
}

static void
test_random(void **state OVS_UNUSED__)
{
    static const size_t flags[] = {
        JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII | JSON_COMPACT,
        JSON_SORT_KEYS | JSON_INDENT(1), 0,
    };
    size_t items = 0;

    for (int i = 0; i < 2000; i++) {
        json_t *v = rnd(2) ? json_object() : json_array();

        for (uint32_t j = rnd(6); j > 0; j--) {
            if (json_is_object(v)) {
                char key[16];
                snprintf(key, sizeof key, "m%u", j);
                json_object_set_new(v, key, random_value(1));
            } else {
                json_array_append_new(v, random_value(1));
            }
        }
        char *text = json_dumps(v, flags[i % ARRAY_SIZE(flags)]);
        items += check_against_jansson(text);
        free(text);
        json_decref(v);
    }
    assert_true(items > 1000);
}

static void
test_malformed(void **state OVS_UNUSED__)
{
    static const struct {
        const char *text;
        char close;
        int steps;              /* Items read fine before the error. */
    } cases[] = {
        { "", '}', -1 },
        { "[]", '}', -1 },
        { "{}", ']', -1 },
        { "{", '}', -1 },
        { "{\"a\":1,}", '}', 1 },
        { "{\"a\" 1}", '}', 0 },
        { "{a:1}", '}', 0 },
        { "{1:1}", '}', 0 },
        { "{\"a\":}", '}', 0 },
        { "{\"a\":1 \"b\":2}", '}', 1 },
        { "{\"a\":[1}", '}', 0 },
        { "{\"a\":{]}", '}', 0 },
        { "{\"a\":\"x}", '}', 0 },
        { "{\"a\":\"x\ny\"}", '}', 0 },
        { "[,1]", ']', 0 },
        { "[1,,2]", ']', 1 },
        { "[1 2]", ']', 1 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct json_span whole = { cases[i].text, strlen(cases[i].text) };
        struct json_span v;
        struct json_scan s;
        char *key;
        int r, steps = 0;

        if (json_scan_init(&s, whole, cases[i].close)) {
            assert_int_equal(cases[i].steps, -1);
            continue;
        }
        for (;;) {
            r = cases[i].close == '}' ? json_scan_next_member(&s, &key, &v)
                                      : json_scan_next(&s, &v);
            if (r != 1) {
                break;
            }
            if (cases[i].close == '}') {
                free(key);
            }
            steps++;
        }
        if (r != -EPROTO || steps != cases[i].steps) {
            fail_msg("case %zu (%s): returned %d after %d items",
                     i, cases[i].text, r, steps);
        }
        /* Done for good. */
        assert_int_equal(json_scan_next(&s, &v), 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
