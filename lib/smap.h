/* SPDX-License-Identifier: Apache-2.0
 *
 * smap: a map from string keys to string values (OVSDB's map<string,
 * string> columns).  The smap owns its nodes and their strings.
 */
#ifndef OVSEC_SMAP_H
#define OVSEC_SMAP_H 1

#include <stdbool.h>
#include "hmap.h"

struct ds;

struct smap_node {
    struct hmap_node node;      /* In smap's 'map', hashed on 'key'. */
    char *key;                  /* Owned. */
    char *value;                /* Owned. */
};

struct smap {
    struct hmap map;            /* Contains "struct smap_node"s. */
};

#define SMAP_FOR_EACH(NODE, SMAP) HMAP_FOR_EACH (NODE, node, &(SMAP)->map)

void smap_init(struct smap *);
void smap_destroy(struct smap *);   /* NULL ok. */
void smap_clear(struct smap *);
void smap_clone(struct smap *dst, const struct smap *src);
/* Adds or replaces 'key'. */
void smap_replace(struct smap *, const char *key, const char *value);
/* Adds without checking for an existing 'key'. */
void smap_add(struct smap *, const char *key, const char *value);
bool smap_remove(struct smap *, const char *key);
const char *smap_get(const struct smap *, const char *key);
bool smap_get_bool(const struct smap *, const char *key, bool def);
size_t smap_count(const struct smap *);
bool smap_is_empty(const struct smap *);
bool smap_equal(const struct smap *, const struct smap *);
/* Returns the nodes sorted by key in a new array of smap_count() entries;
 * the caller frees the array (not the nodes). */
const struct smap_node **smap_sort(const struct smap *);

#endif /* smap.h */
