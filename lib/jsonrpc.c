/* SPDX-License-Identifier: Apache-2.0
 *
 * jsonrpc: see jsonrpc.h.
 *
 * JSON-RPC over a stream has no framing: messages are JSON objects one
 * after the other.  The receiver scans incrementally for the end of the
 * current object (tracking nesting, strings and escapes, so each byte is
 * looked at once however the input is split), then hands exactly that
 * span to jansson.
 */
#include "config.h"
#include "jsonrpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ds.h"
#include "loop.h"
#include "stream.h"
#include "util.h"

struct jsonrpc {
    struct stream *stream;      /* Owned. */
    int status;                 /* 0 or the first error (-errno). */

    /* Input: bytes [start, length) of 'input' are unparsed. */
    struct ds input;
    size_t start;               /* Start of the current message. */
    size_t scan;                /* Next byte to scan. */
    unsigned int depth;         /* Nesting of '{' and '['. */
    bool in_string;             /* Inside a JSON string. */
    bool escaped;               /* Previous byte was a backslash. */
    bool returned;              /* jsonrpc_recv_text() returned the bytes
                                 * before 'start': drop them next time. */

    /* Output: bytes [out_ofs, output.length) are unsent. */
    struct ds output;
    size_t out_ofs;
    size_t max_msg;
};

/* An input buffer larger than this is freed once empty. */
#define JSONRPC_KEEP_BUFFER (256 * 1024)

static json_int_t next_id;

struct jsonrpc *
jsonrpc_open(struct stream *stream)
{
    struct jsonrpc *rpc = xzalloc(sizeof *rpc);
    rpc->stream = stream;
    rpc->max_msg = JSONRPC_MAX_MSG;
    ds_init(&rpc->input);
    ds_init(&rpc->output);
    return rpc;
}

void
jsonrpc_close(struct jsonrpc *rpc)
{
    if (rpc) {
        stream_close(rpc->stream);
        ds_destroy(&rpc->input);
        ds_destroy(&rpc->output);
        free(rpc);
    }
}

static void
set_error__(struct jsonrpc *rpc, int error)
{
    if (!rpc->status) {
        rpc->status = error;
    }
}

void
jsonrpc_run(struct jsonrpc *rpc)
{
    while (!rpc->status && rpc->out_ofs < rpc->output.length) {
        ssize_t n = stream_send(rpc->stream, rpc->output.string + rpc->out_ofs,
                                rpc->output.length - rpc->out_ofs);
        if (n == -EAGAIN) {
            return;
        } else if (n < 0) {
            set_error__(rpc, n);
            return;
        }
        rpc->out_ofs += n;
    }
    if (rpc->out_ofs == rpc->output.length) {
        ds_clear(&rpc->output);
        rpc->out_ofs = 0;
    }
}

void
jsonrpc_wait(struct jsonrpc *rpc)
{
    if (!rpc->status && rpc->out_ofs < rpc->output.length) {
        stream_wait(rpc->stream, STREAM_SEND);
    }
}

void
jsonrpc_recv_wait(struct jsonrpc *rpc)
{
    if (rpc->status || rpc->scan < rpc->input.length) {
        /* An error to report, or buffered input that may hold a whole
         * message: the socket may never become readable again for it. */
        loop_immediate_wake();
    } else {
        stream_wait(rpc->stream, STREAM_RECV);
    }
}

int
jsonrpc_send(struct jsonrpc *rpc, json_t *msg)
{
    if (rpc->status) {
        json_decref(msg);
        return rpc->status;
    }
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s) {
        return -EINVAL;
    }
    ds_put_cstr(&rpc->output, s);
    free(s);
    jsonrpc_run(rpc);
    return 0;
}

/* Scans buffered input for the end of the current message.  Returns 1 and
 * sets '*end' past it if a whole message is buffered, 0 if more input is
 * needed, -EPROTO if the input cannot be JSON-RPC. */
static int
scan__(struct jsonrpc *rpc, size_t *end)
{
    const char *p = rpc->input.string;

    for (; rpc->scan < rpc->input.length; rpc->scan++) {
        char c = p[rpc->scan];

        if (rpc->in_string) {
            if (rpc->escaped) {
                rpc->escaped = false;
            } else if (c == '\\') {
                rpc->escaped = true;
            } else if (c == '"') {
                rpc->in_string = false;
            }
        } else if (!rpc->depth) {
            if (c == '{' || c == '[') {
                rpc->start = rpc->scan;
                rpc->depth = 1;
            } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return -EPROTO;
            }
        } else if (c == '"') {
            rpc->in_string = true;
        } else if (c == '{' || c == '[') {
            if (++rpc->depth > 1024) {
                return -EPROTO;
            }
        } else if (c == '}' || c == ']') {
            if (!--rpc->depth) {
                *end = ++rpc->scan;
                return 1;
            }
        }
    }
    return 0;
}

/* Drops the bytes of the message that the last jsonrpc_recv_text()
 * returned.  Compacting only when the consumed prefix dominates keeps this
 * linear overall. */
static void
consume__(struct jsonrpc *rpc)
{
    if (!rpc->returned) {
        return;
    }
    rpc->returned = false;
    if (rpc->start == rpc->input.length) {
        ds_clear(&rpc->input);
        rpc->start = rpc->scan = 0;
        if (rpc->input.allocated > JSONRPC_KEEP_BUFFER) {
            /* Give back what a large message needed. */
            ds_destroy(&rpc->input);
            ds_init(&rpc->input);
        }
    } else if (rpc->start > rpc->input.length / 2) {
        size_t rest = rpc->input.length - rpc->start;
        memmove(rpc->input.string, rpc->input.string + rpc->start, rest);
        ds_truncate(&rpc->input, rest);
        rpc->scan -= rpc->start;
        rpc->start = 0;
    }
}

int
jsonrpc_recv_text(struct jsonrpc *rpc, const char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    consume__(rpc);
    if (rpc->status) {
        return rpc->status;
    }

    for (int i = 0; ; i++) {
        size_t end;
        int r = scan__(rpc, &end);

        if (r < 0) {
            set_error__(rpc, r);
            return r;
        } else if (r > 0 && end - rpc->start > rpc->max_msg) {
            set_error__(rpc, -EMSGSIZE);
            return -EMSGSIZE;
        } else if (r > 0) {
            *text = rpc->input.string + rpc->start;
            *len = end - rpc->start;
            rpc->start = end;
            rpc->returned = true;
            return 0;
        }

        if (rpc->input.length - rpc->start > rpc->max_msg) {
            set_error__(rpc, -EMSGSIZE);
            return -EMSGSIZE;
        }
        if (i >= 64) {
            /* Plenty of input keeps arriving, and all of it has been
             * scanned: yield to the rest of the loop. */
            return -EAGAIN;
        }

        /* Need more input. */
        ds_reserve(&rpc->input, rpc->input.length + 65536);
        size_t room = rpc->input.allocated - rpc->input.length;
        ssize_t n = stream_recv(rpc->stream,
                                rpc->input.string + rpc->input.length, room);
        if (n == -EAGAIN) {
            return -EAGAIN;
        } else if (n < 0) {
            set_error__(rpc, n);
            return n;
        } else if (n == 0) {
            set_error__(rpc, -EPIPE);
            return -EPIPE;
        }
        rpc->input.length += n;
        rpc->input.string[rpc->input.length] = '\0';
    }
}

int
jsonrpc_recv(struct jsonrpc *rpc, json_t **ret)
{
    const char *text;
    size_t len;
    int error = jsonrpc_recv_text(rpc, &text, &len);

    *ret = NULL;
    if (error) {
        return error;
    }

    json_error_t jerr;
    json_t *msg = json_loadb(text, len, 0, &jerr);
    if (!msg || !json_is_object(msg)) {
        json_decref(msg);
        return jsonrpc_set_protocol_error(rpc);
    }
    *ret = msg;
    return 0;
}

int
jsonrpc_set_protocol_error(struct jsonrpc *rpc)
{
    set_error__(rpc, -EPROTO);
    return -EPROTO;
}

int
jsonrpc_get_status(const struct jsonrpc *rpc)
{
    return rpc->status;
}

size_t
jsonrpc_get_backlog(const struct jsonrpc *rpc)
{
    return rpc->output.length - rpc->out_ofs;
}

const char *
jsonrpc_get_name(const struct jsonrpc *rpc)
{
    return stream_get_name(rpc->stream);
}

json_t *
jsonrpc_create_request(const char *method, json_t *params, json_t **ret_id)
{
    json_t *id = json_integer(next_id++);
    json_t *msg = json_pack("{s:s, s:o, s:O}", "method", method,
                            "params", params ? params : json_array(),
                            "id", id);
    if (ret_id) {
        *ret_id = id;
    } else {
        json_decref(id);
    }
    return msg;
}

json_t *
jsonrpc_create_notify(const char *method, json_t *params)
{
    return json_pack("{s:s, s:o, s:n}", "method", method,
                     "params", params ? params : json_array(), "id");
}

json_t *
jsonrpc_create_reply(json_t *result, const json_t *id)
{
    return json_pack("{s:o, s:n, s:O}", "result", result ? result
                     : json_null(), "error", "id", id);
}

json_t *
jsonrpc_create_error(json_t *error, const json_t *id)
{
    return json_pack("{s:n, s:o, s:O}", "result", "error",
                     error ? error : json_null(), "id", id);
}

void
jsonrpc_set_max_msg_size(struct jsonrpc *rpc, size_t max)
{
    rpc->max_msg = max;
}
