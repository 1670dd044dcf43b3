/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the VICI decoder (ike/vici.c).  The input is one
 * packet payload, without the 4-byte length prefix.  Whatever decodes must
 * re-encode to exactly the input bytes (the encoding is canonical), decode
 * again into an equal tree, and survive formatting and lookups.  Anything
 * that fails to decode must say why.  See tests/fuzz/README.md.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "vici.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND)                                                     \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n",                \
                    __FILE__, __LINE__, #COND);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

static bool
nodes_equal(const struct vici_node *a, const struct vici_node *b)
{
    if (a->type != b->type
        || !!a->key != !!b->key
        || (a->key && strcmp(a->key, b->key))
        || a->size != b->size
        || !!a->value != !!b->value
        || (a->value && memcmp(a->value, b->value, a->size + 1))
        || a->n_children != b->n_children) {
        return false;
    }
    for (size_t i = 0; i < a->n_children; i++) {
        if (!nodes_equal(a->children[i], b->children[i])) {
            return false;
        }
    }
    return true;
}

/* Checks invariants the decoder promises for every node below 'section'. */
static void
check_section(const struct vici_node *section)
{
    CHECK(section->type == VICI_NODE_SECTION);
    for (size_t i = 0; i < section->n_children; i++) {
        const struct vici_node *node = section->children[i];

        CHECK(node->key && node->key[0]);
        CHECK(strlen(node->key) <= 255);

        /* Lookups find this node or an earlier one with the same key. */
        const struct vici_node *found = vici_node_get(section, node->key);
        CHECK(found && !strcmp(found->key, node->key));

        switch (node->type) {
        case VICI_NODE_SECTION:
            check_section(node);
            break;
        case VICI_NODE_VALUE:
            CHECK(node->value && node->value[node->size] == '\0');
            CHECK(!node->n_children);
            if (vici_node_str(node)) {
                CHECK(strlen(vici_node_str(node)) == node->size);
            }
            break;
        case VICI_NODE_LIST:
            for (size_t j = 0; j < node->n_children; j++) {
                const struct vici_node *item = node->children[j];
                CHECK(item->type == VICI_NODE_VALUE && !item->key);
                CHECK(item->value && item->value[item->size] == '\0');
            }
            break;
        default:
            CHECK(false);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vici_msg *msg, *msg2;
    uint8_t *packet;
    size_t packet_size;
    const char *why = NULL;

    if (vici_msg_decode(data, size, &msg, &why)) {
        CHECK(!msg && why);
        return 0;
    }
    CHECK(msg && !why);
    CHECK(vici_op_is_named(msg->op) == !!msg->name);
    check_section(&msg->root);
    (void) vici_msg_success(msg);
    (void) vici_msg_errmsg(msg);

    /* Re-encoding gives back the input, with its length prefix. */
    CHECK(!vici_msg_encode(msg, &packet, &packet_size));
    CHECK(packet_size == size + 4);
    CHECK(((size_t) packet[0] << 24 | packet[1] << 16 | packet[2] << 8
           | packet[3]) == size);
    CHECK(!memcmp(packet + 4, data, size));

    /* Decoding that again gives the same tree and the same text. */
    CHECK(!vici_msg_decode(packet + 4, packet_size - 4, &msg2, NULL));
    CHECK(msg2->op == msg->op);
    CHECK(!!msg->name == !!msg2->name);
    CHECK(!msg->name || !strcmp(msg->name, msg2->name));
    CHECK(nodes_equal(&msg->root, &msg2->root));

    struct ds s1 = DS_EMPTY_INITIALIZER, s2 = DS_EMPTY_INITIALIZER;
    vici_msg_format(msg, &s1);
    vici_msg_format(msg2, &s2);
    CHECK(s1.length && !strcmp(ds_cstr(&s1), ds_cstr(&s2)));
    CHECK(strlen(ds_cstr(&s1)) == s1.length);
    ds_destroy(&s1);
    ds_destroy(&s2);

    vici_msg_destroy(msg2);
    vici_packet_free(packet, packet_size);
    vici_msg_destroy(msg);
    return 0;
}
