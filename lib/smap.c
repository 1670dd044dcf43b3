/* SPDX-License-Identifier: Apache-2.0
 *
 * smap: see smap.h.
 */
#include "config.h"
#include "smap.h"

#include <stdlib.h>
#include <string.h>

void
smap_init(struct smap *smap)
{
    hmap_init(&smap->map);
}

void
smap_clear(struct smap *smap)
{
    struct smap_node *node, *next;

    HMAP_FOR_EACH_SAFE (node, next, node, &smap->map) {
        hmap_remove(&smap->map, &node->node);
        free(node->key);
        free(node->value);
        free(node);
    }
}

void
smap_destroy(struct smap *smap)
{
    if (smap) {
        smap_clear(smap);
        hmap_destroy(&smap->map);
    }
}

void
smap_clone(struct smap *dst, const struct smap *src)
{
    const struct smap_node *node;

    smap_init(dst);
    SMAP_FOR_EACH (node, src) {
        smap_add(dst, node->key, node->value);
    }
}

static struct smap_node *
smap_find__(const struct smap *smap, const char *key)
{
    struct smap_node *node;

    HMAP_FOR_EACH_WITH_HASH (node, node, hash_string(key, 0), &smap->map) {
        if (!strcmp(node->key, key)) {
            return node;
        }
    }
    return NULL;
}

void
smap_add(struct smap *smap, const char *key, const char *value)
{
    struct smap_node *node = xmalloc(sizeof *node);
    node->key = xstrdup(key);
    node->value = xstrdup(value);
    hmap_insert(&smap->map, &node->node, hash_string(key, 0));
}

void
smap_replace(struct smap *smap, const char *key, const char *value)
{
    struct smap_node *node = smap_find__(smap, key);
    if (node) {
        free(node->value);
        node->value = xstrdup(value);
    } else {
        smap_add(smap, key, value);
    }
}

bool
smap_remove(struct smap *smap, const char *key)
{
    struct smap_node *node = smap_find__(smap, key);
    if (!node) {
        return false;
    }
    hmap_remove(&smap->map, &node->node);
    free(node->key);
    free(node->value);
    free(node);
    return true;
}

const char *
smap_get(const struct smap *smap, const char *key)
{
    const struct smap_node *node = smap_find__(smap, key);
    return node ? node->value : NULL;
}

bool
smap_get_bool(const struct smap *smap, const char *key, bool def)
{
    const char *v = smap_get(smap, key);
    return v ? !strcmp(v, "true") : def;
}

size_t
smap_count(const struct smap *smap)
{
    return hmap_count(&smap->map);
}

bool
smap_is_empty(const struct smap *smap)
{
    return hmap_is_empty(&smap->map);
}

bool
smap_equal(const struct smap *a, const struct smap *b)
{
    const struct smap_node *node;

    if (smap_count(a) != smap_count(b)) {
        return false;
    }
    SMAP_FOR_EACH (node, a) {
        const char *v = smap_get(b, node->key);
        if (!v || strcmp(v, node->value)) {
            return false;
        }
    }
    return true;
}

static int
compare_nodes__(const void *a_, const void *b_)
{
    const struct smap_node *const *a = a_;
    const struct smap_node *const *b = b_;
    return strcmp((*a)->key, (*b)->key);
}

const struct smap_node **
smap_sort(const struct smap *smap)
{
    size_t n = smap_count(smap);
    const struct smap_node **nodes = xcalloc(n ? n : 1, sizeof *nodes);
    const struct smap_node *node;
    size_t i = 0;

    SMAP_FOR_EACH (node, smap) {
        nodes[i++] = node;
    }
    qsort(nodes, n, sizeof *nodes, compare_nodes__);
    return nodes;
}
