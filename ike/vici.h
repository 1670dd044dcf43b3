/* SPDX-License-Identifier: Apache-2.0
 *
 * vici: codec for strongSwan's VICI wire protocol (versatile IKE control
 * interface).  Pure: no I/O, no logging, no global state.  Suitable for
 * fuzzing.
 *
 * A packet on the wire is a 32-bit big-endian length followed by that many
 * bytes: an operation type byte, for named operations a 1-byte name length
 * and the name, then for messages that carry one a sequence of elements
 * (section start/end, key/value, list start/item/end) that forms a tree.
 *
 * Limits enforced on decode (and on build): a packet's payload is at most
 * VICI_MAX_PACKET bytes; names and keys at most 255 bytes; values at most
 * 65535 bytes; nesting at most VICI_MAX_DEPTH sections.
 */
#ifndef OVSEC_VICI_H
#define OVSEC_VICI_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;
struct secret;

#define VICI_MAX_PACKET (512 * 1024)
#define VICI_MAX_DEPTH 32

enum vici_op {
    VICI_CMD_REQUEST = 0,       /* Named request. */
    VICI_CMD_RESPONSE = 1,      /* Unnamed response. */
    VICI_CMD_UNKNOWN = 2,       /* Unnamed: unknown command. */
    VICI_EVENT_REGISTER = 3,    /* Named. */
    VICI_EVENT_UNREGISTER = 4,  /* Named. */
    VICI_EVENT_CONFIRM = 5,     /* Unnamed. */
    VICI_EVENT_UNKNOWN = 6,     /* Unnamed. */
    VICI_EVENT = 7,             /* Named, with message. */
    VICI_OP_N
};

/* True for operations that carry a name. */
bool vici_op_is_named(enum vici_op);
/* True for operations that carry a message. */
bool vici_op_has_message(enum vici_op);
const char *vici_op_to_string(enum vici_op);

/* Builder.  Errors (nesting mismatches, oversize) are accumulated and
 * reported once by vici_builder_finish().  The builder zeroes its buffer
 * when destroyed, since it may hold PSKs. */
struct vici_builder;

/* Starts a packet of type 'op' with 'name' (NULL for unnamed types).
 * Returns a new builder; finish or destroy it. */
struct vici_builder *vici_builder_create(enum vici_op op, const char *name);
void vici_builder_destroy(struct vici_builder *);   /* NULL ok. */
void vici_begin_section(struct vici_builder *, const char *name);
void vici_end_section(struct vici_builder *);
void vici_begin_list(struct vici_builder *, const char *name);
void vici_list_item(struct vici_builder *, const char *value);
void vici_end_list(struct vici_builder *);
void vici_add_kv(struct vici_builder *, const char *key, const char *value);
void vici_add_kv_bytes(struct vici_builder *, const char *key,
                       const void *value, size_t size);
void vici_add_kv_fmt(struct vici_builder *, const char *key,
                     const char *format, ...)
    __attribute__((__format__(printf, 3, 4)));
/* Adds the secret's bytes as a value (for load-shared "data"). */
void vici_add_kv_secret(struct vici_builder *, const char *key,
                        const struct secret *);
/* Completes the packet, 4-byte length prefix included.  On success returns
 * 0 and stores a new buffer in '*ret_data' (free with
 * vici_packet_free()), its size in '*ret_size'.  On failure returns
 * -EINVAL (bad nesting) or -EMSGSIZE.  Destroys the builder either way. */
int vici_builder_finish(struct vici_builder *, uint8_t **ret_data,
                        size_t *ret_size);
/* Zeroes and frees a packet from vici_builder_finish().  NULL ok. */
void vici_packet_free(uint8_t *data, size_t size);

/* Decoded messages: a tree of nodes. */
enum vici_node_type {
    VICI_NODE_SECTION,
    VICI_NODE_VALUE,
    VICI_NODE_LIST,
};

struct vici_node {
    enum vici_node_type type;
    char *key;                  /* NUL-terminated; NULL for list items and
                                 * the root section. */
    uint8_t *value;             /* VALUE: 'size' bytes plus a NUL (not
                                 * counted) so it can be used as a string
                                 * when it has no embedded NUL. */
    size_t size;                /* Bytes in 'value'. */
    struct vici_node **children;    /* SECTION: members in order; LIST:
                                     * items (VALUE nodes, key NULL). */
    size_t n_children;
};

struct vici_msg {
    enum vici_op op;
    char *name;                 /* Named ops only, else NULL. */
    struct vici_node root;      /* SECTION; empty for ops without one. */
};

/* Decodes one packet's payload ('data' excludes the 4-byte length prefix).
 * Returns 0 and stores a new message in '*ret' (free with
 * vici_msg_destroy()), or -EBADMSG and, if 'why' is nonnull, a static
 * string saying what is wrong. */
int vici_msg_decode(const void *data, size_t size, struct vici_msg **ret,
                    const char **why);
void vici_msg_destroy(struct vici_msg *);     /* NULL ok. */

/* Encodes 'msg' back into a packet, as vici_builder_finish() does. */
int vici_msg_encode(const struct vici_msg *, uint8_t **ret_data,
                    size_t *ret_size);

/* Lookups, all borrowed pointers into the message. */
/* Member 'key' of 'section', or NULL. */
const struct vici_node *vici_node_get(const struct vici_node *section,
                                      const char *key);
/* Value of member 'key' as a string: NULL if absent, not a VALUE, or
 * containing a NUL byte. */
const char *vici_node_get_str(const struct vici_node *section,
                              const char *key);
/* The node's value as a string (same rules), for VALUE nodes. */
const char *vici_node_str(const struct vici_node *);
/* True if member "success" is "yes". */
bool vici_msg_success(const struct vici_msg *);
/* Member "errmsg" or NULL. */
const char *vici_msg_errmsg(const struct vici_msg *);

/* Appends a readable rendering of 'msg' in swanctl's --raw style, e.g.
 * "list-sa event {ike1 {uniqueid=1 state=ESTABLISHED ...}}".  Values of
 * keys named "data" are printed as "<redacted>"; binary values in hex. */
void vici_msg_format(const struct vici_msg *, struct ds *out);

#endif /* vici.h */
