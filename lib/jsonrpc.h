/* SPDX-License-Identifier: Apache-2.0
 *
 * jsonrpc: JSON-RPC 1.0 over a stream, as OVSDB (RFC 7047) and OVS unixctl
 * speak it: a sequence of JSON objects with no framing between them.
 * Messages are jansson values.  Owns its stream and its buffers; nothing
 * blocks.  Incoming messages are capped (JSONRPC_MAX_MSG); output is
 * queued without limit but its size is reported by jsonrpc_get_backlog().
 */
#ifndef OVSEC_JSONRPC_H
#define OVSEC_JSONRPC_H 1

#include <jansson.h>
#include <stddef.h>

struct jsonrpc;
struct stream;

#define JSONRPC_MAX_MSG (256u * 1024 * 1024)

/* Takes ownership of 'stream', which should be connected. */
struct jsonrpc *jsonrpc_open(struct stream *);
void jsonrpc_close(struct jsonrpc *);               /* NULL ok. */
/* Caps messages received on 'rpc' at 'max' bytes instead of
 * JSONRPC_MAX_MSG; jsonrpc_recv() fails with -EMSGSIZE beyond. */
void jsonrpc_set_max_msg_size(struct jsonrpc *, size_t max);

/* Sends what is queued; records errors for jsonrpc_get_status(). */
void jsonrpc_run(struct jsonrpc *);
/* Wakes when queued output can be sent. */
void jsonrpc_wait(struct jsonrpc *);
/* Wakes when a message may be received. */
void jsonrpc_recv_wait(struct jsonrpc *);

/* Queues 'msg' for sending.  Takes ownership of 'msg'.  Returns 0, or the
 * connection's error (-errno) if it already failed. */
int jsonrpc_send(struct jsonrpc *, json_t *msg);
/* Returns 0 and stores a new message in '*ret' (the caller decrefs it),
 * -EAGAIN if no whole message is available, EOF-style -EPIPE when the peer
 * closed, -EPROTO for malformed JSON or a non-object, -EMSGSIZE when a
 * message exceeds JSONRPC_MAX_MSG, or another -errno. */
int jsonrpc_recv(struct jsonrpc *, json_t **ret);
/* Like jsonrpc_recv(), but stores in '*text' and '*len' the next message's
 * text, not decoded (its brackets balance; nothing more is checked), for
 * a caller that decodes a large message a piece at a time (json-scan.h).
 * The text stays valid until the next call of either function. */
int jsonrpc_recv_text(struct jsonrpc *, const char **text, size_t *len);
/* For a caller of jsonrpc_recv_text() that found the text malformed:
 * fails the connection as jsonrpc_recv() would.  Returns -EPROTO. */
int jsonrpc_set_protocol_error(struct jsonrpc *);
/* 0 while healthy, else the first error (-errno). */
int jsonrpc_get_status(const struct jsonrpc *);
/* Bytes queued but not yet sent. */
size_t jsonrpc_get_backlog(const struct jsonrpc *);
const char *jsonrpc_get_name(const struct jsonrpc *);

/* Message constructors.  Each returns a new reference. */
/* {"method": method, "params": params, "id": <next id>}; takes ownership
 * of 'params'; stores a new reference to the id in '*ret_id' if nonnull. */
json_t *jsonrpc_create_request(const char *method, json_t *params,
                               json_t **ret_id);
/* {"method": method, "params": params, "id": null}; takes 'params'. */
json_t *jsonrpc_create_notify(const char *method, json_t *params);
/* {"result": result, "error": null, "id": id}; takes 'result'. */
json_t *jsonrpc_create_reply(json_t *result, const json_t *id);
/* {"result": null, "error": error, "id": id}; takes 'error'. */
json_t *jsonrpc_create_error(json_t *error, const json_t *id);

#endif /* jsonrpc.h */
