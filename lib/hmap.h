/* SPDX-License-Identifier: Apache-2.0
 *
 * hmap: intrusive hash map with chaining.  A 'struct hmap_node' is embedded
 * in each element and carries its hash; the map owns only its bucket array,
 * never the elements.  Lookups iterate the bucket with HMAP_FOR_EACH_WITH_HASH
 * and compare keys themselves.
 */
#ifndef OVSEC_HMAP_H
#define OVSEC_HMAP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct hmap_node {
    uint32_t hash;              /* Hash of the element's key. */
    struct hmap_node *next;     /* Next in the same bucket. */
};

struct hmap {
    struct hmap_node **buckets; /* 'mask + 1' chains. */
    size_t mask;                /* Bucket count minus one (power of 2). */
    size_t n;                   /* Number of elements. */
};

void hmap_init(struct hmap *);
/* Frees the bucket array; the elements must be freed by the caller first. */
void hmap_destroy(struct hmap *);
void hmap_insert(struct hmap *, struct hmap_node *, uint32_t hash);
void hmap_remove(struct hmap *, struct hmap_node *);
static inline size_t hmap_count(const struct hmap *h) { return h->n; }
static inline bool hmap_is_empty(const struct hmap *h) { return !h->n; }

/* First node with 'hash', or NULL; then hmap_next_with_hash(). */
struct hmap_node *hmap_first_with_hash(const struct hmap *, uint32_t hash);
struct hmap_node *hmap_next_with_hash(const struct hmap_node *);
/* Iteration in bucket order. */
struct hmap_node *hmap_first(const struct hmap *);
struct hmap_node *hmap_next(const struct hmap *, const struct hmap_node *);

uint32_t hash_string(const char *, uint32_t basis);
uint32_t hash_bytes(const void *, size_t, uint32_t basis);

#define HMAP_NODE_TO__(NODE, ITER, MEMBER) \
    ((NODE) ? CONTAINER_OF(NODE, __typeof__(*ITER), MEMBER) : NULL)

#define HMAP_FOR_EACH_WITH_HASH(ITER, MEMBER, HASH, HMAP)                  \
    for (ITER = HMAP_NODE_TO__(hmap_first_with_hash(HMAP, HASH), ITER,     \
                               MEMBER);                                    \
         ITER;                                                             \
         ITER = HMAP_NODE_TO__(hmap_next_with_hash(&(ITER)->MEMBER), ITER, \
                               MEMBER))

#define HMAP_FOR_EACH(ITER, MEMBER, HMAP)                                  \
    for (ITER = HMAP_NODE_TO__(hmap_first(HMAP), ITER, MEMBER);            \
         ITER;                                                             \
         ITER = HMAP_NODE_TO__(hmap_next(HMAP, &(ITER)->MEMBER), ITER,     \
                               MEMBER))

/* Safe against removal of ITER. */
#define HMAP_FOR_EACH_SAFE(ITER, NEXT, MEMBER, HMAP)                       \
    for (ITER = HMAP_NODE_TO__(hmap_first(HMAP), ITER, MEMBER);            \
         (ITER ? (NEXT = HMAP_NODE_TO__(hmap_next(HMAP, &(ITER)->MEMBER),  \
                                        ITER, MEMBER), 1) : 0);            \
         ITER = NEXT)

#endif /* hmap.h */
