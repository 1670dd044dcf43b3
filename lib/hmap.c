/* SPDX-License-Identifier: Apache-2.0
 *
 * hmap: see hmap.h.
 */
#include "config.h"
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

static struct hmap_node *null_bucket__ = NULL;

void
hmap_init(struct hmap *h)
{
    h->buckets = &null_bucket__;
    h->mask = 0;
    h->n = 0;
}

void
hmap_destroy(struct hmap *h)
{
    if (h && h->buckets != &null_bucket__) {
        free(h->buckets);
    }
    if (h) {
        hmap_init(h);
    }
}

static void
hmap_resize__(struct hmap *h, size_t new_mask)
{
    struct hmap_node **buckets = xcalloc(new_mask + 1, sizeof *buckets);

    for (size_t i = 0; i <= h->mask; i++) {
        struct hmap_node *node, *next;
        for (node = h->buckets[i]; node; node = next) {
            next = node->next;
            node->next = buckets[node->hash & new_mask];
            buckets[node->hash & new_mask] = node;
        }
    }
    if (h->buckets != &null_bucket__) {
        free(h->buckets);
    }
    h->buckets = buckets;
    h->mask = new_mask;
}

void
hmap_insert(struct hmap *h, struct hmap_node *node, uint32_t hash)
{
    node->hash = hash;
    if (h->n + 1 > (h->mask + 1) * 2 || h->buckets == &null_bucket__) {
        hmap_resize__(h, h->buckets == &null_bucket__ ? 7
                         : h->mask * 2 + 1);
    }
    struct hmap_node **bucket = &h->buckets[hash & h->mask];
    node->next = *bucket;
    *bucket = node;
    h->n++;
}

void
hmap_remove(struct hmap *h, struct hmap_node *node)
{
    struct hmap_node **p = &h->buckets[node->hash & h->mask];
    while (*p != node) {
        p = &(*p)->next;
    }
    *p = node->next;
    h->n--;
}

struct hmap_node *
hmap_first_with_hash(const struct hmap *h, uint32_t hash)
{
    struct hmap_node *node = h->buckets[hash & h->mask];
    while (node && node->hash != hash) {
        node = node->next;
    }
    return node;
}

struct hmap_node *
hmap_next_with_hash(const struct hmap_node *prev)
{
    struct hmap_node *node = prev->next;
    while (node && node->hash != prev->hash) {
        node = node->next;
    }
    return node;
}

static struct hmap_node *
hmap_next_bucket__(const struct hmap *h, size_t start)
{
    for (size_t i = start; i <= h->mask; i++) {
        if (h->buckets[i]) {
            return h->buckets[i];
        }
    }
    return NULL;
}

struct hmap_node *
hmap_first(const struct hmap *h)
{
    return hmap_next_bucket__(h, 0);
}

struct hmap_node *
hmap_next(const struct hmap *h, const struct hmap_node *node)
{
    return node->next ? node->next
                      : hmap_next_bucket__(h, (node->hash & h->mask) + 1);
}

/* FNV-1a, then a final avalanche so that low bits are well mixed. */
uint32_t
hash_bytes(const void *p_, size_t n, uint32_t basis)
{
    const unsigned char *p = p_;
    uint32_t h = 2166136261u ^ basis;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t
hash_string(const char *s, uint32_t basis)
{
    return hash_bytes(s, strlen(s), basis);
}
