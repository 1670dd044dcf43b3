/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of lib/ds, lib/util, lib/hmap, lib/smap and lib/secret.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ds.h"
#include "hmap.h"
#include "secret.h"
#include "smap.h"
#include "util.h"

static void
test_ds_format(void **state)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    (void) state;
    assert_string_equal(ds_cstr(&s), "");
    ds_put_format(&s, "%d-%s", 42, "x");
    ds_put_char(&s, '!');
    assert_string_equal(ds_cstr(&s), "42-x!");
    /* Grow past the initial allocation several times. */
    for (int i = 0; i < 1000; i++) {
        ds_put_format(&s, "%04d", i);
    }
    assert_int_equal(s.length, 5 + 4000);
    assert_memory_equal(s.string + s.length - 4, "0999", 4);
    ds_truncate(&s, 2);
    assert_string_equal(ds_cstr(&s), "42");
    ds_put_cstr(&s, " \n\t");
    ds_chomp(&s);
    assert_string_equal(ds_cstr(&s), "42");
    char *stolen = ds_steal_cstr(&s);
    assert_string_equal(stolen, "42");
    assert_int_equal(s.length, 0);
    free(stolen);
    ds_destroy(&s);
}

static void
test_ds_quoted(void **state)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    (void) state;
    ds_put_quoted(&s, "a\"b\\c\nd\x01");
    assert_string_equal(ds_cstr(&s), "\"a\\\"b\\\\c\\nd\\u0001\"");
    ds_destroy_secure(&s);
}

static void
test_str_to_llong(void **state)
{
    long long int v;

    (void) state;
    assert_true(str_to_llong_range("12", 10, 0, 100, &v));
    assert_int_equal(v, 12);
    assert_true(str_to_llong_range("0x10", 0, 0, 100, &v));
    assert_int_equal(v, 16);
    assert_false(str_to_llong_range("", 10, 0, 100, &v));
    assert_false(str_to_llong_range("101", 10, 0, 100, &v));
    assert_false(str_to_llong_range("12x", 10, 0, 100, &v));
    assert_false(str_to_llong_range(" 12", 10, 0, 100, &v));
    assert_false(str_to_llong_range("+12", 10, 0, 100, &v));
    assert_false(str_to_llong_range(NULL, 10, 0, 100, &v));
    assert_false(str_to_llong_range("99999999999999999999", 10, 0,
                                    100, &v));
}

struct elem {
    struct hmap_node node;
    int value;
};

static void
test_hmap(void **state)
{
    struct hmap h;
    struct elem *elems = xcalloc(1000, sizeof *elems);
    struct elem *e, *next;
    int sum = 0, n = 0;

    (void) state;
    hmap_init(&h);
    assert_null(hmap_first(&h));
    for (int i = 0; i < 1000; i++) {
        elems[i].value = i;
        hmap_insert(&h, &elems[i].node, hash_bytes(&i, sizeof i, 0));
    }
    assert_int_equal(hmap_count(&h), 1000);
    HMAP_FOR_EACH (e, node, &h) {
        sum += e->value;
        n++;
    }
    assert_int_equal(n, 1000);
    assert_int_equal(sum, 999 * 1000 / 2);

    int key = 777;
    bool found = false;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_bytes(&key, sizeof key, 0), &h) {
        found |= e->value == key;
    }
    assert_true(found);

    HMAP_FOR_EACH_SAFE (e, next, node, &h) {
        if (e->value % 2) {
            hmap_remove(&h, &e->node);
        }
    }
    assert_int_equal(hmap_count(&h), 500);
    hmap_destroy(&h);
    free(elems);
}

static void
test_smap(void **state)
{
    struct smap a, b;

    (void) state;
    smap_init(&a);
    smap_add(&a, "k2", "v2");
    smap_add(&a, "k1", "v1");
    smap_replace(&a, "k2", "v2b");
    assert_string_equal(smap_get(&a, "k2"), "v2b");
    assert_null(smap_get(&a, "nope"));
    assert_int_equal(smap_count(&a), 2);

    smap_clone(&b, &a);
    assert_true(smap_equal(&a, &b));
    smap_replace(&b, "k1", "other");
    assert_false(smap_equal(&a, &b));
    assert_true(smap_remove(&b, "k1"));
    assert_false(smap_remove(&b, "k1"));
    assert_false(smap_equal(&a, &b));

    const struct smap_node **sorted = smap_sort(&a);
    assert_string_equal(sorted[0]->key, "k1");
    assert_string_equal(sorted[1]->key, "k2");
    free(sorted);
    smap_destroy(&a);
    smap_destroy(&b);
    smap_destroy(NULL);
}

static void
test_secret(void **state)
{
    struct secret *a = secret_create("swordfish", 9);
    struct secret *b = secret_clone(a);
    struct secret *c = secret_create("swordfisH", 9);
    size_t size;

    (void) state;
    assert_true(secret_equal(a, b));
    assert_false(secret_equal(a, c));
    assert_false(secret_equal(a, NULL));
    assert_true(secret_equal(NULL, NULL));
    assert_memory_equal(secret_bytes(a, &size), "swordfish", 9);
    assert_int_equal(size, 9);
    secret_destroy(a);
    secret_destroy(b);
    secret_destroy(c);
    secret_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ds_format),
        cmocka_unit_test(test_ds_quoted),
        cmocka_unit_test(test_str_to_llong),
        cmocka_unit_test(test_hmap),
        cmocka_unit_test(test_smap),
        cmocka_unit_test(test_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
