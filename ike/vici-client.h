/* SPDX-License-Identifier: Apache-2.0
 *
 * vici-client: a non-blocking client of charon's VICI socket.  Owns the
 * socket, the framing, the queue of requests and their deadlines, and the
 * event registrations.  It reconnects by itself with backoff after the
 * socket goes away, re-registers its events and tells its owner (so that
 * the owner can reload what charon lost).
 *
 * Requests are answered in order by charon; they are pipelined.  A
 * "streamed" request (list-conns, list-sas, list-certs...) delivers a named
 * event per item before its CMD_RESPONSE: the client registers for that
 * event first and routes the items to the request's callback.  While one
 * streams in, the socket is read every few milliseconds rather than at
 * each item, so that a listing of thousands arrives in a few batches.
 */
#ifndef OVSEC_VICI_CLIENT_H
#define OVSEC_VICI_CLIENT_H 1

#include <stdbool.h>
#include <stdint.h>

struct vici_builder;
struct vici_msg;
struct vici_client;

/* Called exactly once per request: 'error' is 0 with the CMD_RESPONSE in
 * 'reply', or -ETIMEDOUT, -ECONNRESET (socket lost), -ENOTSUP (charon does
 * not know the command) or -ECANCELED (client destroyed) with 'reply'
 * NULL.  'reply' is borrowed for the call. */
typedef void vici_reply_cb(void *aux, int error, const struct vici_msg *reply);
/* Called for each item of a streamed request; 'item' borrowed. */
typedef void vici_item_cb(void *aux, const struct vici_msg *item);
/* Called for each event the client was asked to listen to. */
typedef void vici_event_cb(void *aux, const struct vici_msg *event);
/* Called when the connection comes up ('connected' true) or goes down. */
typedef void vici_conn_cb(void *aux, bool connected);

struct vici_client_hooks {
    vici_event_cb *event;       /* Events named in 'events'. */
    vici_conn_cb *connection;   /* Connection state changes. */
    void *aux;
};

/* Creates a client of 'name' ("unix:PATH").  'events' is a NULL-terminated
 * list of event names to register on each connect (e.g. "ike-updown").
 * 'timeout_ms' (> 0) bounds each request from when it is sent.  Since
 * charon answers in order, the clock of a request starts when the answers
 * to all earlier ones have arrived, and each item of a streamed request
 * restarts it.  On expiry the request fails with -ETIMEDOUT and, because a
 * late answer would be taken for the next request's, the connection is
 * reset: every other request fails with -ECONNRESET and the client
 * reconnects.  A hung charon thus costs one timeout, not one per request.
 * Does not block; connects from run().  Returns NULL (and stores -errno in
 * '*error', if nonnull) if 'name' is malformed, 'timeout_ms' is not
 * positive or an event name is empty or longer than 255 bytes.  Copies
 * 'name', 'events' and 'hooks' ('hooks' and its members may be NULL).
 *
 * The callbacks run from vici_client_run() (and vici_client_destroy()).
 * They may queue requests but must not destroy the client. */
struct vici_client *vici_client_create(const char *name,
                                       const char *const *events,
                                       long long int timeout_ms,
                                       const struct vici_client_hooks *,
                                       int *error);
/* Cancels pending requests (their callbacks run with -ECANCELED) and
 * frees the client.  NULL ok. */
void vici_client_destroy(struct vici_client *);
/* Connects, reconnects, sends, receives and enforces deadlines; never
 * blocks. */
void vici_client_run(struct vici_client *);
/* Registers the socket and deadlines with the poll loop. */
void vici_client_wait(struct vici_client *);
/* Batches reading: once connected, after reading from the socket the
 * client leaves it unread for 'ms' milliseconds (0, the default, reads
 * whenever charon sends), and reads what charon sent meanwhile in one go.
 * Events and answers then arrive up to 'ms' late, and so does the news of
 * a lost connection: for a connection that carries only events that
 * nothing waits on, such as charon's "log", so that a busy charon wakes
 * the daemon at most once per 'ms'.  A request's deadline is enforced
 * only once what charon sent before it has been read. */
void vici_client_set_read_interval(struct vici_client *, long long int ms);
/* True once the permanent registrations have been answered and
 * hooks->connection(aux, true) was called, until the connection is lost.
 * Requests are accepted only then. */
bool vici_client_is_connected(const struct vici_client *);

/* Queues request 'req' (a VICI_CMD_REQUEST builder; takes ownership).
 * 'stream_event' names the event that carries the items of a streamed
 * request (NULL otherwise); 'item_cb' gets them.  'reply_cb' is called
 * exactly once.  Returns 0, or -ENOTCONN when not connected (callbacks
 * are then not called), or -EINVAL if the builder fails, is not a
 * CMD_REQUEST, or 'stream_event' is empty, too long, lacks 'item_cb' or
 * is one of the permanent events. */
int vici_client_request(struct vici_client *, struct vici_builder *req,
                        const char *stream_event, vici_item_cb *item_cb,
                        vici_reply_cb *reply_cb, void *aux);
/* Requests queued or in flight. */
unsigned int vici_client_n_pending(const struct vici_client *);
/* Counters for benchmarks: messages sent, reconnects. */
uint64_t vici_client_n_sent(const struct vici_client *);
/* Established connections lost (closed by charon, reset after a timeout or
 * a protocol error); each is followed by a reconnect. */
uint64_t vici_client_n_reconnects(const struct vici_client *);

#endif /* vici-client.h */
