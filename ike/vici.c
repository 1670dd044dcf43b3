/* SPDX-License-Identifier: Apache-2.0
 *
 * vici: encoder and decoder for strongSwan's VICI wire format, see vici.h.
 *
 * The decoder treats its input as hostile: every read is bounds-checked,
 * nesting is tracked with a fixed stack (no recursion), and the first
 * violation ends decoding with -EBADMSG and a static reason.  It accepts
 * exactly what the builder can produce, so a decoded message re-encodes to
 * the same bytes (the fuzz harness checks this).
 *
 * Rules beyond the bare element grammar, shared by builder and decoder:
 *
 *   - Packet names, section names, keys and list names are 1 to 255
 *     printable ASCII bytes (0x20..0x7e).  charon's own parser requires
 *     printable names too.  Empty names are rejected: nothing in charon
 *     emits them, and a lookup by "" would be meaningless.
 *   - Values are arbitrary bytes, at most 65535 of them.
 *   - Sections nest at most VICI_MAX_DEPTH deep below the root.
 *   - Duplicate keys are accepted (charon does not check them either);
 *     lookups return the first match.
 *
 * The builder reports -EMSGSIZE when any length limit is exceeded (packet,
 * name, value), and -EINVAL for everything else: bad nesting, too deep,
 * NULL, empty or unprintable names, NULL values, and elements in a packet
 * type that carries no message.  Only the first error is kept, and once
 * there is one nothing more is appended.
 *
 * Owns nothing beyond the objects it returns.  No I/O, no logging.
 */
#include "config.h"
#include "vici.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ds.h"
#include "secret.h"
#include "util.h"

/* Message element types. */
enum vici_element {
    VICI_SECTION_START = 1,     /* Name. */
    VICI_SECTION_END = 2,       /* Nothing. */
    VICI_KEY_VALUE = 3,         /* Name, value. */
    VICI_LIST_START = 4,        /* Name. */
    VICI_LIST_ITEM = 5,         /* Value. */
    VICI_LIST_END = 6,          /* Nothing. */
};

#define VICI_MAX_NAME 255
#define VICI_MAX_VALUE 65535
#define VICI_PREFIX_SIZE 4      /* Length prefix before the payload. */

struct vici_op_info {
    const char *name;           /* As in strongSwan's README. */
    const char *label;          /* For vici_msg_format(). */
    bool named;                 /* Carries a name. */
    bool has_message;           /* Carries a message. */
};

static const struct vici_op_info vici_ops[VICI_OP_N] = {
    [VICI_CMD_REQUEST] = { "CMD_REQUEST", "request", true, true },
    [VICI_CMD_RESPONSE] = { "CMD_RESPONSE", "response", false, true },
    [VICI_CMD_UNKNOWN] = { "CMD_UNKNOWN", "unknown command", false, false },
    [VICI_EVENT_REGISTER] = { "EVENT_REGISTER", "register", true, false },
    [VICI_EVENT_UNREGISTER] = { "EVENT_UNREGISTER", "unregister",
                                true, false },
    [VICI_EVENT_CONFIRM] = { "EVENT_CONFIRM", "event confirm",
                             false, false },
    [VICI_EVENT_UNKNOWN] = { "EVENT_UNKNOWN", "unknown event",
                             false, false },
    [VICI_EVENT] = { "EVENT", "event", true, true },
};

static bool
vici_op_is_valid__(enum vici_op op)
{
    return (unsigned int) op < VICI_OP_N;
}

bool
vici_op_is_named(enum vici_op op)
{
    return vici_op_is_valid__(op) && vici_ops[op].named;
}

bool
vici_op_has_message(enum vici_op op)
{
    return vici_op_is_valid__(op) && vici_ops[op].has_message;
}

const char *
vici_op_to_string(enum vici_op op)
{
    return vici_op_is_valid__(op) ? vici_ops[op].name : "<invalid>";
}

/* Returns true if 'size' bytes at 'name' form a valid name: see the file
 * comment.  The caller checks the upper bound. */
static bool
vici_name_is_valid__(const uint8_t *name, size_t size)
{
    if (!size) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Builder. */

struct vici_builder {
    uint8_t *buf;               /* Packet so far, starting with room for
                                 * the length prefix. */
    size_t size;                /* Bytes used in 'buf'. */
    size_t allocated;           /* Bytes allocated for 'buf'. */
    int error;                  /* First error (negative errno), or 0. */
    bool has_message;           /* Elements are allowed. */
    unsigned int depth;         /* Sections open below the root. */
    bool in_list;               /* A list is open. */
};

static void
vici_builder_fail__(struct vici_builder *b, int error)
{
    if (!b->error) {
        b->error = error;
    }
}

/* Makes room for 'n' more bytes and returns where they go, or NULL (with
 * the error recorded) if the packet would exceed VICI_MAX_PACKET.
 *
 * Growth doubles the buffer, so building is linear in the packet size.
 * realloc() is not used: it could leave a copy of a PSK behind in freed
 * memory, so the old buffer is copied and zeroed by hand. */
static uint8_t *
vici_builder_put__(struct vici_builder *b, size_t n)
{
    const size_t max = VICI_PREFIX_SIZE + VICI_MAX_PACKET;

    if (b->error) {
        return NULL;
    }
    if (n > max - b->size) {
        vici_builder_fail__(b, -EMSGSIZE);
        return NULL;
    }
    if (b->size + n > b->allocated) {
        size_t allocated = MAX(b->allocated * 2, b->size + n);
        allocated = MIN(MAX(allocated, 256), max);

        uint8_t *buf = xmalloc(allocated);
        if (b->size) {
            memcpy(buf, b->buf, b->size);
            memzero_explicit(b->buf, b->size);
        }
        free(b->buf);
        b->buf = buf;
        b->allocated = allocated;
    }

    uint8_t *p = &b->buf[b->size];
    b->size += n;
    return p;
}

/* Checks 'name' for use as a packet name, key, section or list name.
 * Returns its length, or -1 after recording an error. */
static int
vici_builder_check_name__(struct vici_builder *b, const char *name)
{
    if (!name) {
        vici_builder_fail__(b, -EINVAL);
        return -1;
    }

    size_t len = strlen(name);
    if (len > VICI_MAX_NAME) {
        vici_builder_fail__(b, -EMSGSIZE);
        return -1;
    } else if (!vici_name_is_valid__((const uint8_t *) name, len)) {
        vici_builder_fail__(b, -EINVAL);
        return -1;
    }
    return len;
}

/* Appends element 'type', then unless 'name' is NULL its 8-bit length and
 * bytes, then if 'value' is nonnull its 16-bit length and 'size' bytes. */
static void
vici_builder_put_element__(struct vici_builder *b, enum vici_element type,
                           const char *name, size_t name_len,
                           const void *value, size_t size)
{
    size_t n = 1;

    if (name) {
        n += 1 + name_len;
    }
    if (value) {
        if (size > VICI_MAX_VALUE) {
            vici_builder_fail__(b, -EMSGSIZE);
            return;
        }
        n += 2 + size;
    }

    uint8_t *p = vici_builder_put__(b, n);
    if (!p) {
        return;
    }
    *p++ = type;
    if (name) {
        *p++ = name_len;
        memcpy(p, name, name_len);
        p += name_len;
    }
    if (value) {
        *p++ = size >> 8;
        *p++ = size & 0xff;
        if (size) {
            memcpy(p, value, size);
        }
    }
}

struct vici_builder *
vici_builder_create(enum vici_op op, const char *name)
{
    struct vici_builder *b = xzalloc(sizeof *b);

    /* Room for the length prefix, filled in by vici_builder_finish(). */
    uint8_t *p = vici_builder_put__(b, VICI_PREFIX_SIZE + 1);
    p[VICI_PREFIX_SIZE] = op;

    if (!vici_op_is_valid__(op)) {
        vici_builder_fail__(b, -EINVAL);
    } else if (vici_ops[op].named) {
        int len = vici_builder_check_name__(b, name);
        p = len >= 0 ? vici_builder_put__(b, 1 + len) : NULL;
        if (p) {
            p[0] = len;
            memcpy(&p[1], name, len);
        }
    } else if (name) {
        vici_builder_fail__(b, -EINVAL);
    }
    b->has_message = vici_op_has_message(op);
    return b;
}

void
vici_builder_destroy(struct vici_builder *b)
{
    if (b) {
        memzero_explicit(b->buf, b->size);
        free(b->buf);
        free(b);
    }
}

/* Returns true if a section member (key/value, section or list) may be
 * added now, otherwise records an error. */
static bool
vici_builder_may_add_member__(struct vici_builder *b)
{
    if (!b->has_message || b->in_list) {
        vici_builder_fail__(b, -EINVAL);
        return false;
    }
    return !b->error;
}

void
vici_begin_section(struct vici_builder *b, const char *name)
{
    if (!vici_builder_may_add_member__(b)) {
        return;
    }
    if (b->depth >= VICI_MAX_DEPTH) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }

    int len = vici_builder_check_name__(b, name);
    if (len >= 0) {
        vici_builder_put_element__(b, VICI_SECTION_START, name, len, NULL, 0);
        b->depth++;
    }
}

void
vici_end_section(struct vici_builder *b)
{
    if (!b->depth || b->in_list) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }
    vici_builder_put_element__(b, VICI_SECTION_END, NULL, 0, NULL, 0);
    b->depth--;
}

void
vici_begin_list(struct vici_builder *b, const char *name)
{
    if (!vici_builder_may_add_member__(b)) {
        return;
    }

    int len = vici_builder_check_name__(b, name);
    if (len >= 0) {
        vici_builder_put_element__(b, VICI_LIST_START, name, len, NULL, 0);
        b->in_list = true;
    }
}

/* Appends a list item of 'size' bytes at 'value'. */
static void
vici_list_item_bytes__(struct vici_builder *b, const void *value,
                       size_t size)
{
    if (!b->in_list || !value) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }
    vici_builder_put_element__(b, VICI_LIST_ITEM, NULL, 0, value, size);
}

void
vici_list_item(struct vici_builder *b, const char *value)
{
    vici_list_item_bytes__(b, value, value ? strlen(value) : 0);
}

void
vici_end_list(struct vici_builder *b)
{
    if (!b->in_list) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }
    vici_builder_put_element__(b, VICI_LIST_END, NULL, 0, NULL, 0);
    b->in_list = false;
}

void
vici_add_kv_bytes(struct vici_builder *b, const char *key,
                  const void *value, size_t size)
{
    if (!vici_builder_may_add_member__(b)) {
        return;
    }
    if (!value) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }

    int len = vici_builder_check_name__(b, key);
    if (len >= 0) {
        vici_builder_put_element__(b, VICI_KEY_VALUE, key, len, value, size);
    }
}

void
vici_add_kv(struct vici_builder *b, const char *key, const char *value)
{
    vici_add_kv_bytes(b, key, value, value ? strlen(value) : 0);
}

void
vici_add_kv_fmt(struct vici_builder *b, const char *key,
                const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *value = xvasprintf(format, args);
    va_end(args);

    vici_add_kv(b, key, value);
    free(value);
}

void
vici_add_kv_secret(struct vici_builder *b, const char *key,
                   const struct secret *secret)
{
    if (!secret) {
        vici_builder_fail__(b, -EINVAL);
        return;
    }

    size_t size;
    const void *bytes = secret_bytes(secret, &size);
    vici_add_kv_bytes(b, key, bytes, size);
}

int
vici_builder_finish(struct vici_builder *b, uint8_t **ret_data,
                    size_t *ret_size)
{
    int error;

    *ret_data = NULL;
    *ret_size = 0;
    if (!b) {
        return -EINVAL;
    }

    error = b->error;
    if (!error && (b->depth || b->in_list)) {
        error = -EINVAL;
    }
    if (!error) {
        size_t payload = b->size - VICI_PREFIX_SIZE;
        b->buf[0] = payload >> 24;
        b->buf[1] = payload >> 16;
        b->buf[2] = payload >> 8;
        b->buf[3] = payload;

        /* The slack past 'size' was never written, so handing over the
         * buffer as is leaks nothing. */
        *ret_data = b->buf;
        *ret_size = b->size;
        b->buf = NULL;
        b->size = 0;
    }
    vici_builder_destroy(b);
    return error;
}

void
vici_packet_free(uint8_t *data, size_t size)
{
    if (data) {
        memzero_explicit(data, size);
        free(data);
    }
}

/* Decoded messages. */

/* Returns a new node of 'type' whose key is 'key_size' bytes at 'key' (none
 * if 'key' is NULL) and whose value is 'size' bytes at 'value' (none if
 * 'value' is NULL).  The node, key and value share a single allocation,
 * which keeps big messages cheap to decode and free. */
static struct vici_node *
vici_node_create__(enum vici_node_type type,
                   const uint8_t *key, size_t key_size,
                   const uint8_t *value, size_t size)
{
    size_t n = sizeof(struct vici_node);
    n += key ? key_size + 1 : 0;
    n += value ? size + 1 : 0;

    struct vici_node *node = xmalloc(n);
    char *p = (char *) (node + 1);

    node->type = type;
    node->key = NULL;
    node->value = NULL;
    node->size = 0;
    node->children = NULL;
    node->n_children = 0;
    if (key) {
        node->key = p;
        memcpy(p, key, key_size);
        p[key_size] = '\0';
        p += key_size + 1;
    }
    if (value) {
        node->value = (uint8_t *) p;
        node->size = size;
        if (size) {
            memcpy(p, value, size);
        }
        p[size] = '\0';
    }
    return node;
}

/* Frees the children of 'node', zeroing values in case they are secret. */
static void
vici_node_destroy_children__(struct vici_node *node)
{
    for (size_t i = 0; i < node->n_children; i++) {
        struct vici_node *child = node->children[i];

        vici_node_destroy_children__(child);
        if (child->value) {
            memzero_explicit(child->value, child->size);
        }
        free(child);
    }
    free(node->children);
    node->children = NULL;
    node->n_children = 0;
}

void
vici_msg_destroy(struct vici_msg *msg)
{
    if (msg) {
        vici_node_destroy_children__(&msg->root);
        free(msg->name);
        free(msg);
    }
}

/* A section or list being filled in by the decoder. */
struct vici_decode_frame {
    struct vici_node *node;     /* Open section or list. */
    size_t allocated;           /* Capacity of node->children. */
};

/* Appends 'child' to 'frame''s node, growing its array geometrically. */
static void
vici_decode_append__(struct vici_decode_frame *frame,
                     struct vici_node *child)
{
    struct vici_node *node = frame->node;

    if (node->n_children >= frame->allocated) {
        frame->allocated = frame->allocated ? frame->allocated * 2 : 8;
        node->children = xrealloc(node->children,
                                  frame->allocated * sizeof *node->children);
    }
    node->children[node->n_children++] = child;
}

/* Input cursor. */
struct vici_reader {
    const uint8_t *data;        /* Payload. */
    size_t size;                /* Bytes in 'data'. */
    size_t pos;                 /* Next byte to read. */
};

/* Reads an 8-bit length and a name of that length.  Returns false if the
 * name is truncated or invalid. */
static bool
vici_read_name__(struct vici_reader *r, const uint8_t **name, size_t *size,
                 const char **why, const char *what)
{
    if (r->pos >= r->size) {
        *why = what;
        return false;
    }

    size_t len = r->data[r->pos];
    if (len > r->size - r->pos - 1) {
        *why = what;
        return false;
    }
    *name = &r->data[r->pos + 1];
    *size = len;
    r->pos += 1 + len;
    return true;
}

/* Reads a 16-bit length and a value of that length.  Returns false if the
 * value is truncated. */
static bool
vici_read_value__(struct vici_reader *r, const uint8_t **value,
                  size_t *size)
{
    if (r->size - r->pos < 2) {
        return false;
    }

    size_t len = (r->data[r->pos] << 8) | r->data[r->pos + 1];
    if (len > r->size - r->pos - 2) {
        return false;
    }
    *value = &r->data[r->pos + 2];
    *size = len;
    r->pos += 2 + len;
    return true;
}

/* Decodes the elements from 'r' into 'root'.  Returns NULL on success,
 * otherwise a static string saying what is wrong. */
static const char *
vici_decode_elements__(struct vici_reader *r, struct vici_node *root)
{
    struct vici_decode_frame stack[VICI_MAX_DEPTH + 1];
    struct vici_decode_frame list = { NULL, 0 };
    unsigned int depth = 0;     /* Index of the innermost open section. */
    const uint8_t *name, *value;
    size_t name_size, size;
    const char *why;

    stack[0].node = root;
    stack[0].allocated = 0;
    while (r->pos < r->size) {
        uint8_t type = r->data[r->pos++];
        struct vici_node *node;

        switch (type) {
        case VICI_SECTION_START:
            if (list.node) {
                return "section start inside a list";
            } else if (depth >= VICI_MAX_DEPTH) {
                return "sections nested too deeply";
            } else if (!vici_read_name__(r, &name, &name_size, &why,
                                         "truncated section name")) {
                return why;
            } else if (!vici_name_is_valid__(name, name_size)) {
                return "section name is empty or not printable ASCII";
            }
            node = vici_node_create__(VICI_NODE_SECTION, name, name_size,
                                      NULL, 0);
            vici_decode_append__(&stack[depth], node);
            depth++;
            stack[depth].node = node;
            stack[depth].allocated = 0;
            break;

        case VICI_SECTION_END:
            if (list.node) {
                return "section end inside a list";
            } else if (!depth) {
                return "section end without section start";
            }
            depth--;
            break;

        case VICI_KEY_VALUE:
            if (list.node) {
                return "key/value inside a list";
            } else if (!vici_read_name__(r, &name, &name_size, &why,
                                         "truncated key")) {
                return why;
            } else if (!vici_name_is_valid__(name, name_size)) {
                return "key is empty or not printable ASCII";
            } else if (!vici_read_value__(r, &value, &size)) {
                return "value length exceeds packet";
            }
            node = vici_node_create__(VICI_NODE_VALUE, name, name_size,
                                      value, size);
            vici_decode_append__(&stack[depth], node);
            break;

        case VICI_LIST_START:
            if (list.node) {
                return "list start inside a list";
            } else if (!vici_read_name__(r, &name, &name_size, &why,
                                         "truncated list name")) {
                return why;
            } else if (!vici_name_is_valid__(name, name_size)) {
                return "list name is empty or not printable ASCII";
            }
            node = vici_node_create__(VICI_NODE_LIST, name, name_size,
                                      NULL, 0);
            vici_decode_append__(&stack[depth], node);
            list.node = node;
            list.allocated = 0;
            break;

        case VICI_LIST_ITEM:
            if (!list.node) {
                return "list item outside a list";
            } else if (!vici_read_value__(r, &value, &size)) {
                return "list item length exceeds packet";
            }
            node = vici_node_create__(VICI_NODE_VALUE, NULL, 0, value, size);
            vici_decode_append__(&list, node);
            break;

        case VICI_LIST_END:
            if (!list.node) {
                return "list end outside a list";
            }
            list.node = NULL;
            break;

        default:
            return "unknown element type";
        }
    }

    if (list.node) {
        return "unterminated list";
    } else if (depth) {
        return "unterminated section";
    }
    return NULL;
}

int
vici_msg_decode(const void *data, size_t size, struct vici_msg **ret,
                const char **ret_why)
{
    struct vici_reader r = { data, size, 0 };
    struct vici_msg *msg = NULL;
    const char *why = NULL;

    *ret = NULL;
    if (!size) {
        why = "empty packet";
        goto out;
    } else if (size > VICI_MAX_PACKET) {
        why = "packet larger than 512 KiB";
        goto out;
    }

    uint8_t op = r.data[r.pos++];
    if (!vici_op_is_valid__(op)) {
        why = "unknown operation type";
        goto out;
    }

    msg = xzalloc(sizeof *msg);
    msg->op = op;
    msg->root.type = VICI_NODE_SECTION;
    if (vici_ops[op].named) {
        const uint8_t *name;
        size_t name_size;

        if (!vici_read_name__(&r, &name, &name_size, &why,
                              "truncated packet name")) {
            goto out;
        } else if (!vici_name_is_valid__(name, name_size)) {
            why = "packet name is empty or not printable ASCII";
            goto out;
        }
        msg->name = xmemdup0(name, name_size);
    }

    if (!vici_ops[op].has_message) {
        if (r.pos < r.size) {
            why = "trailing bytes after packet without message";
        }
    } else {
        why = vici_decode_elements__(&r, &msg->root);
    }

out:
    if (why) {
        vici_msg_destroy(msg);
        msg = NULL;
    }
    if (ret_why) {
        *ret_why = why;
    }
    *ret = msg;
    return why ? -EBADMSG : 0;
}

/* Appends the members of 'section' to 'b'.  Recursion is bounded even for
 * hand-made trees with cycles: the builder refuses to nest deeper than
 * VICI_MAX_DEPTH, and the walk stops at the first error. */
static void
vici_encode_section__(struct vici_builder *b,
                      const struct vici_node *section)
{
    for (size_t i = 0; i < section->n_children && !b->error; i++) {
        const struct vici_node *node = section->children[i];

        switch (node->type) {
        case VICI_NODE_SECTION:
            vici_begin_section(b, node->key);
            if (!b->error) {
                vici_encode_section__(b, node);
                vici_end_section(b);
            }
            break;

        case VICI_NODE_VALUE:
            vici_add_kv_bytes(b, node->key, node->value, node->size);
            break;

        case VICI_NODE_LIST:
            vici_begin_list(b, node->key);
            for (size_t j = 0; j < node->n_children && !b->error; j++) {
                const struct vici_node *item = node->children[j];

                if (item->type != VICI_NODE_VALUE) {
                    vici_builder_fail__(b, -EINVAL);
                } else {
                    vici_list_item_bytes__(b, item->value, item->size);
                }
            }
            vici_end_list(b);
            break;

        default:
            vici_builder_fail__(b, -EINVAL);
            break;
        }
    }
}

int
vici_msg_encode(const struct vici_msg *msg, uint8_t **ret_data,
                size_t *ret_size)
{
    struct vici_builder *b = vici_builder_create(msg->op, msg->name);

    if (msg->root.type != VICI_NODE_SECTION
        || (msg->root.n_children && !b->has_message)) {
        vici_builder_fail__(b, -EINVAL);
    } else {
        vici_encode_section__(b, &msg->root);
    }
    return vici_builder_finish(b, ret_data, ret_size);
}

/* Lookups. */

const struct vici_node *
vici_node_get(const struct vici_node *section, const char *key)
{
    if (!section || section->type != VICI_NODE_SECTION || !key) {
        return NULL;
    }
    for (size_t i = 0; i < section->n_children; i++) {
        const struct vici_node *node = section->children[i];
        if (node->key && !strcmp(node->key, key)) {
            return node;
        }
    }
    return NULL;
}

const char *
vici_node_str(const struct vici_node *node)
{
    if (!node || node->type != VICI_NODE_VALUE || !node->value
        || memchr(node->value, '\0', node->size)) {
        return NULL;
    }
    return (const char *) node->value;
}

const char *
vici_node_get_str(const struct vici_node *section, const char *key)
{
    return vici_node_str(vici_node_get(section, key));
}

bool
vici_msg_success(const struct vici_msg *msg)
{
    const char *success = vici_node_get_str(&msg->root, "success");
    return success && !strcmp(success, "yes");
}

const char *
vici_msg_errmsg(const struct vici_msg *msg)
{
    return vici_node_get_str(&msg->root, "errmsg");
}

/* Formatting. */

/* Returns true if values under 'key' must not be shown: "data" carries
 * PSKs and private keys in load-shared and load-key, and anything named
 * like a secret is treated as one. */
static bool
vici_key_is_secret__(const char *key)
{
    static const char *const suffixes[] = { "secret", "psk" };

    if (!key) {
        return false;
    } else if (!strcasecmp(key, "data")) {
        return true;
    }

    size_t len = strlen(key);
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        size_t n = strlen(suffixes[i]);
        if (len >= n && !strcasecmp(&key[len - n], suffixes[i])) {
            return true;
        }
    }
    return false;
}

/* Appends a name.  Decoded names are printable, but hand-made trees may
 * hold anything, and this text ends up in logs. */
static void
vici_format_name__(struct ds *out, const char *name)
{
    if (!name) {
        ds_put_cstr(out, "<null>");
        return;
    }
    for (const char *p = name; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c <= 0x7e) {
            ds_put_char(out, c);
        } else {
            ds_put_format(out, "\\x%02x", c);
        }
    }
}

/* Appends a value as text like swanctl does, or as hex if any byte is not
 * printable, or redacted if 'secret'. */
static void
vici_format_value__(struct ds *out, const struct vici_node *node,
                    bool secret)
{
    bool printable = true;

    if (secret) {
        ds_put_cstr(out, SECRET_REDACTED);
        return;
    }
    for (size_t i = 0; i < node->size; i++) {
        if (node->value[i] < 0x20 || node->value[i] > 0x7e) {
            printable = false;
            break;
        }
    }
    if (printable) {
        ds_put_buffer(out, (const char *) node->value, node->size);
    } else {
        ds_put_cstr(out, "0x");
        for (size_t i = 0; i < node->size; i++) {
            ds_put_format(out, "%02x", node->value[i]);
        }
    }
}

/* Appends "{member member ...}" for 'section'.  'depth' bounds recursion
 * for hand-made trees; decoded ones never get near the limit. */
static void
vici_format_section__(struct ds *out, const struct vici_node *section,
                      unsigned int depth)
{
    if (depth > VICI_MAX_DEPTH) {
        ds_put_cstr(out, "{...}");
        return;
    }

    ds_put_char(out, '{');
    for (size_t i = 0; i < section->n_children; i++) {
        const struct vici_node *node = section->children[i];
        bool secret = vici_key_is_secret__(node->key);

        if (i) {
            ds_put_char(out, ' ');
        }
        vici_format_name__(out, node->key);
        switch (node->type) {
        case VICI_NODE_SECTION:
            ds_put_char(out, ' ');
            vici_format_section__(out, node, depth + 1);
            break;

        case VICI_NODE_VALUE:
            ds_put_char(out, '=');
            vici_format_value__(out, node, secret);
            break;

        case VICI_NODE_LIST:
            ds_put_cstr(out, "=[");
            for (size_t j = 0; j < node->n_children; j++) {
                if (j) {
                    ds_put_char(out, ' ');
                }
                vici_format_value__(out, node->children[j], secret);
            }
            ds_put_char(out, ']');
            break;
        }
    }
    ds_put_char(out, '}');
}

void
vici_msg_format(const struct vici_msg *msg, struct ds *out)
{
    if (!vici_op_is_valid__(msg->op)) {
        ds_put_format(out, "<invalid op %d>", (int) msg->op);
        return;
    }

    const struct vici_op_info *info = &vici_ops[msg->op];
    if (info->named) {
        vici_format_name__(out, msg->name);
        ds_put_char(out, ' ');
    }
    ds_put_cstr(out, info->label);
    if (info->has_message) {
        ds_put_char(out, ' ');
        vici_format_section__(out, &msg->root, 0);
    }
}
