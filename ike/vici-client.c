/* SPDX-License-Identifier: Apache-2.0
 *
 * vici-client: a non-blocking client of charon's VICI socket.
 *
 * Everything the client sends is a "pending exchange": one packet and the
 * one answer charon owes for it (EVENT_CONFIRM/EVENT_UNKNOWN for a
 * registration, CMD_RESPONSE/CMD_UNKNOWN for a command).  VICI has no
 * sequence numbers; charon handles one connection's packets in order, so
 * the exchanges wait in a single FIFO ('pending') and every answer belongs
 * to its head.  A streamed request expands into three exchanges sent back
 * to back: EVENT_REGISTER of its event, CMD_REQUEST, EVENT_UNREGISTER.
 * Because the FIFO is strictly ordered, the item events charon streams for
 * it arrive between the first confirm and the response, and two requests
 * streaming the same event never overlap.  EVENT packets are not answers:
 * they go to the request whose stream registration is active if the name
 * matches, otherwise to the owner's event hook if the name is one of the
 * permanent registrations made at connect, otherwise nowhere.
 *
 * Deadlines: the head of the FIFO is the exchange charon is working on, so
 * only it is timed.  Its clock starts when it becomes the head (an exchange
 * queued behind a backlog does not spend its budget waiting for the
 * answers before it), and each item of a streamed request pushes it back
 * (a long listing that makes progress is not hung).  When it expires, a
 * late answer could no longer be told apart from the answers to later
 * exchanges, so the client resets the connection: the timed-out request
 * fails with -ETIMEDOUT, every other one with -ECONNRESET, and the client
 * reconnects.  A hung charon therefore costs at most one timeout, not one
 * per queued request.
 *
 * Owns the stream, the receive buffer, the FIFO with the packets not yet
 * written (zeroed once written, since load-shared carries PSKs) and the
 * requests.
 */
#include "config.h"
#include "vici-client.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "path-watch.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"
#include "vici.h"

LOG_MODULE(vici_client);

/* Reconnect backoff.  Trying a Unix socket that is not there costs one
 * syscall, and a charon that restarts should be found at once, so the
 * delays stay short. */
#define VICI_BACKOFF_MIN_MS 50
#define VICI_BACKOFF_MAX_MS 1000

/* Packets handled per vici_client_run(), so that a flood of events cannot
 * starve the rest of the daemon; the loop is woken at once for the rest. */
#define VICI_RX_BUDGET 100

/* While a listing streams in (thousands of list-conn or list-sa items, one
 * packet each, during a reconcile), the socket is read at most this often,
 * so that the items come in batches rather than one wakeup each.  Events
 * and answers are then up to this late. */
#define VICI_STREAM_READ_INTERVAL_MS 25

/* Receive buffer: starts at this size, grows to one maximal packet. */
#define VICI_RX_MIN (16 * 1024)

enum vici_client_state {
    VC_S_BACKOFF,               /* No socket; next try at 'next_try'. */
    VC_S_CONNECTING,            /* connect() in progress. */
    VC_S_REGISTERING,           /* Connected; permanent registrations out. */
    VC_S_CONNECTED,             /* Ready for requests. */
};

enum vici_xchg_kind {
    VX_REGISTER,                /* EVENT_REGISTER -> EVENT_CONFIRM. */
    VX_UNREGISTER,              /* EVENT_UNREGISTER -> EVENT_CONFIRM. */
    VX_REQUEST,                 /* CMD_REQUEST -> CMD_RESPONSE. */
};

/* A caller's request: one or three exchanges refer to it. */
struct vici_request {
    char *command;              /* Command name, for logs. */
    char *stream_event;         /* Event carrying the items, or NULL. */
    vici_item_cb *item_cb;      /* Gets the items of a streamed request. */
    vici_reply_cb *reply_cb;    /* Called exactly once. */
    void *aux;                  /* For the callbacks. */
    unsigned int n_refs;        /* Exchanges still referring to it. */
    bool replied;               /* 'reply_cb' has been called. */
};

/* One packet sent (or to send) and the answer charon owes for it. */
struct vici_xchg {
    struct ovs_list node;       /* In 'client->pending', in send order. */
    struct ovs_list tx_node;    /* In 'client->txq' while 'packet' is set. */
    enum vici_xchg_kind kind;   /* What it is and what answers it. */
    char *name;                 /* Event or command name. */
    uint8_t *packet;            /* Bytes to write, length prefix included;
                                 * NULL once written (and zeroed). */
    size_t size;                /* Bytes in 'packet'. */
    size_t ofs;                 /* Bytes of 'packet' already written. */
    long long int deadline;     /* time_msec() limit; LLONG_MAX until the
                                 * exchange reaches the head. */
    struct vici_request *req;   /* Owning request, or NULL for permanent
                                 * registrations.  Holds a reference. */
};

struct vici_client {
    char *name;                 /* "unix:PATH". */
    char **events;              /* Permanent event names, NULL-terminated. */
    long long int timeout_ms;   /* Per exchange, and for connect(). */
    struct vici_client_hooks hooks;     /* Owner's upcalls. */

    enum vici_client_state state;       /* See the enum. */
    struct stream *stream;      /* Non-null unless VC_S_BACKOFF. */
    long long int next_try;     /* VC_S_BACKOFF: when to connect. */
    struct path_watch *watch;   /* VC_S_BACKOFF: the socket file, to
                                 * connect as soon as charon makes it. */
    bool watch_fired;           /* This attempt was made because of it. */
    long long int connect_deadline;     /* VC_S_CONNECTING: give up then. */
    long long int backoff_ms;   /* Delay before the next retry. */
    bool up_reported;           /* hooks.connection(true) was called. */
    bool quiet;                 /* Connect failures already logged. */
    unsigned int n_registering; /* Permanent registrations unanswered. */

    struct ovs_list pending;    /* struct vici_xchg, unanswered, in order. */
    struct ovs_list txq;        /* struct vici_xchg with bytes to write. */
    struct vici_request *streaming;     /* Request whose stream event is
                                         * registered and unanswered. */

    uint8_t *rx;                /* Received bytes not yet decoded. */
    size_t rx_len;              /* Bytes in 'rx'. */
    size_t rx_cap;              /* Capacity of 'rx'. */
    bool rx_backlog;            /* Budget ran out with data left. */
    long long int read_interval;        /* See vici_client_set_read_... */
    long long int next_read;    /* Connected: leave the socket unread
                                 * until then. */

    unsigned int n_requests;    /* Requests whose 'reply_cb' is pending. */
    uint64_t n_sent;            /* Packets written. */
    uint64_t n_reconnects;      /* Established connections lost. */
};

/* Peer-triggered warnings: unknown events, protocol errors. */
static struct log_rate_limit unknown_rl = LOG_RATE_LIMIT_INIT(5, 5);
static struct log_rate_limit proto_rl = LOG_RATE_LIMIT_INIT(5, 5);

static void vici_client_disconnect__(struct vici_client *,
                                     struct vici_request *timed_out);

/* Exchanges and requests. */

/* Logs 'msg' at DBG, prefixed by 'what'.  vici_msg_format() redacts
 * secrets. */
static void
vici_client_log_msg__(const struct vici_client *client, const char *what,
                      const struct vici_msg *msg)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    vici_msg_format(msg, &s);
    LOG_DBG("%s: %s %s", client->name, what, ds_cstr(&s));
    ds_destroy_secure(&s);
}

/* Logs an outgoing packet at DBG, decoding it only when DBG is on. */
static void
vici_client_log_packet__(const struct vici_client *client,
                         const uint8_t *packet, size_t size)
{
    struct vici_msg *msg;

    if (LOG_IS_DBG_ENABLED() && size > 4
        && !vici_msg_decode(packet + 4, size - 4, &msg, NULL)) {
        vici_client_log_msg__(client, "sending", msg);
        vici_msg_destroy(msg);
    }
}

static void
vici_request_unref__(struct vici_request *req)
{
    if (req && !--req->n_refs) {
        free(req->command);
        free(req->stream_event);
        free(req);
    }
}

/* Calls 'req''s reply callback, unless it already ran. */
static void
vici_request_reply__(struct vici_client *client, struct vici_request *req,
                     int error, const struct vici_msg *reply)
{
    if (req && !req->replied) {
        req->replied = true;
        client->n_requests--;
        if (client->streaming == req) {
            client->streaming = NULL;
        }
        req->reply_cb(req->aux, error, reply);
    }
}

static void
vici_xchg_destroy__(struct vici_xchg *x)
{
    if (x) {
        vici_packet_free(x->packet, x->size);
        vici_request_unref__(x->req);
        free(x->name);
        free(x);
    }
}

/* Starts the clock of the head exchange, if it is not running. */
static void
vici_client_arm_head__(struct vici_client *client)
{
    if (!ovs_list_is_empty(&client->pending)) {
        struct vici_xchg *head = CONTAINER_OF(client->pending.next,
                                              struct vici_xchg, node);
        if (head->deadline == LLONG_MAX) {
            head->deadline = time_msec() + client->timeout_ms;
        }
    }
}

/* Appends an exchange sending 'packet' (takes ownership) to the FIFO. */
static void
vici_client_queue__(struct vici_client *client, enum vici_xchg_kind kind,
                    const char *name, uint8_t *packet, size_t size,
                    struct vici_request *req)
{
    struct vici_xchg *x = xzalloc(sizeof *x);

    x->kind = kind;
    x->name = xstrdup(name);
    x->packet = packet;
    x->size = size;
    x->deadline = LLONG_MAX;
    x->req = req;
    if (req) {
        req->n_refs++;
    }
    ovs_list_push_back(&client->pending, &x->node);
    ovs_list_push_back(&client->txq, &x->tx_node);
    vici_client_arm_head__(client);
    vici_client_log_packet__(client, packet, size);
}

/* Queues an EVENT_REGISTER or EVENT_UNREGISTER of 'event'. */
static int
vici_client_queue_event__(struct vici_client *client, enum vici_xchg_kind kind,
                          const char *event, struct vici_request *req)
{
    enum vici_op op = (kind == VX_REGISTER
                       ? VICI_EVENT_REGISTER : VICI_EVENT_UNREGISTER);
    uint8_t *packet;
    size_t size;
    int error;

    error = vici_builder_finish(vici_builder_create(op, event),
                                &packet, &size);
    if (!error) {
        vici_client_queue__(client, kind, event, packet, size, req);
    }
    return error;
}

/* Connection management. */

static void
vici_client_schedule_retry__(struct vici_client *client)
{
    client->state = VC_S_BACKOFF;
    if (client->watch_fired) {
        /* charon made its socket but did not take the connection yet
         * (bound, not listening): soon again, without backing off. */
        client->watch_fired = false;
        client->next_try = time_msec() + VICI_BACKOFF_MIN_MS;
    } else {
        client->next_try = time_msec() + client->backoff_ms;
        client->backoff_ms = MIN(client->backoff_ms * 2,
                                 VICI_BACKOFF_MAX_MS);
    }
    if (!client->watch && str_starts_with(client->name, "unix:")) {
        client->watch = path_watch_create(client->name + 5);
    }
}

static void
vici_client_connect_failed__(struct vici_client *client, int error)
{
    stream_close(client->stream);
    client->stream = NULL;
    if (!client->quiet) {
        LOG_INFO("%s: connection failed (%s), retrying in %lld ms",
                 client->name, ovsec_strerror(error), client->backoff_ms);
        client->quiet = true;
    } else {
        LOG_DBG("%s: connection failed (%s), retrying in %lld ms",
                client->name, ovsec_strerror(error), client->backoff_ms);
    }
    vici_client_schedule_retry__(client);
}

/* Marks the connection usable and tells the owner. */
static void
vici_client_up__(struct vici_client *client)
{
    client->state = VC_S_CONNECTED;
    client->backoff_ms = VICI_BACKOFF_MIN_MS;
    client->up_reported = true;
    if (client->hooks.connection) {
        client->hooks.connection(client->hooks.aux, true);
    }
}

static void
vici_client_connected__(struct vici_client *client)
{
    LOG_INFO("%s: connected", client->name);
    client->quiet = false;
    path_watch_destroy(client->watch);
    client->watch = NULL;
    client->watch_fired = false;
    client->state = VC_S_REGISTERING;
    client->n_registering = 0;
    for (char **e = client->events; *e; e++) {
        int error = vici_client_queue_event__(client, VX_REGISTER, *e, NULL);
        if (error) {
            /* Names were checked in vici_client_create(). */
            LOG_ERR("%s: cannot register event \"%s\" (%s), ignoring",
                    client->name, *e, ovsec_strerror(error));
            continue;
        }
        client->n_registering++;
    }
    if (!client->n_registering) {
        vici_client_up__(client);
    }
}

static void
vici_client_try_connect__(struct vici_client *client)
{
    int error = stream_open(client->name, &client->stream);
    if (error) {
        client->stream = NULL;
        vici_client_connect_failed__(client, error);
        return;
    }
    client->state = VC_S_CONNECTING;
    client->connect_deadline = time_msec() + client->timeout_ms;

    error = stream_connect(client->stream);
    if (!error) {
        vici_client_connected__(client);
    } else if (error != -EAGAIN) {
        vici_client_connect_failed__(client, error);
    }
}

/* Drops the connection: fails every request ('timed_out' with -ETIMEDOUT,
 * the others with -ECONNRESET), tells the owner if it was told the
 * connection was up, and schedules a reconnect. */
static void
vici_client_disconnect__(struct vici_client *client,
                         struct vici_request *timed_out)
{
    struct ovs_list pending;
    struct vici_xchg *x;

    stream_close(client->stream);
    client->stream = NULL;
    client->streaming = NULL;
    client->n_registering = 0;
    client->rx_len = 0;
    client->rx_backlog = false;
    if (client->state == VC_S_CONNECTED
        || client->state == VC_S_REGISTERING) {
        client->n_reconnects++;
    }
    vici_client_schedule_retry__(client);

    /* Detach the FIFO first: callbacks may issue requests, which must now
     * see an idle, disconnected client. */
    ovs_list_init(&pending);
    while (!ovs_list_is_empty(&client->pending)) {
        ovs_list_push_back(&pending, ovs_list_pop_front(&client->pending));
    }
    ovs_list_init(&client->txq);

    LIST_FOR_EACH_POP (x, node, &pending) {
        vici_request_reply__(client, x->req,
                             x->req == timed_out ? -ETIMEDOUT : -ECONNRESET,
                             NULL);
        vici_xchg_destroy__(x);
    }

    if (client->up_reported) {
        client->up_reported = false;
        if (client->hooks.connection) {
            client->hooks.connection(client->hooks.aux, false);
        }
    }
}

/* Resets the connection after charon broke the protocol; 'format' says
 * how. */
static void PRINTF_FORMAT(2, 3)
vici_client_protocol_error__(struct vici_client *client,
                             const char *format, ...)
{
    va_list args;
    char *why;

    va_start(args, format);
    why = xvasprintf(format, args);
    va_end(args);
    LOG_WARN_RL(&proto_rl, "%s: protocol error: %s; reconnecting in %lld ms",
                client->name, why, client->backoff_ms);
    free(why);
    vici_client_disconnect__(client, NULL);
}

/* Input. */

static bool
vici_client_is_permanent__(const struct vici_client *client,
                           const char *event)
{
    for (char **e = client->events; *e; e++) {
        if (!strcmp(*e, event)) {
            return true;
        }
    }
    return false;
}

static void
vici_client_handle_event__(struct vici_client *client,
                           const struct vici_msg *msg)
{
    struct vici_request *req = client->streaming;
    const char *name = msg->name ? msg->name : "";

    if (req && !strcmp(name, req->stream_event)) {
        /* An item is progress: push the deadline of the head back. */
        if (!ovs_list_is_empty(&client->pending)) {
            struct vici_xchg *head = CONTAINER_OF(client->pending.next,
                                                  struct vici_xchg, node);
            if (head->req == req) {
                head->deadline = time_msec() + client->timeout_ms;
            }
        }
        req->item_cb(req->aux, msg);
    } else if (vici_client_is_permanent__(client, name)) {
        if (client->hooks.event) {
            client->hooks.event(client->hooks.aux, msg);
        }
    } else {
        LOG_DBG("%s: ignoring unexpected event \"%s\"",
                client->name, name);
    }
}

/* Handles the answer 'msg' to the head of the FIFO. */
static void
vici_client_handle_answer__(struct vici_client *client,
                            const struct vici_msg *msg)
{
    struct vici_xchg *x;
    bool ok;

    if (ovs_list_is_empty(&client->pending)) {
        vici_client_protocol_error__(client, "unsolicited %s",
                                     vici_op_to_string(msg->op));
        return;
    }
    x = CONTAINER_OF(client->pending.next, struct vici_xchg, node);
    if (x->packet) {
        vici_client_protocol_error__(client, "%s before \"%s\" was sent",
                                     vici_op_to_string(msg->op), x->name);
        return;
    }
    ok = (x->kind == VX_REQUEST
          ? msg->op == VICI_CMD_RESPONSE || msg->op == VICI_CMD_UNKNOWN
          : msg->op == VICI_EVENT_CONFIRM || msg->op == VICI_EVENT_UNKNOWN);
    if (!ok) {
        vici_client_protocol_error__(client, "%s in answer to %s \"%s\"",
                                     vici_op_to_string(msg->op),
                                     x->kind == VX_REQUEST
                                     ? "command" : "event", x->name);
        return;
    }

    /* Pop it and start the next clock before any callback runs. */
    ovs_list_remove(&x->node);
    vici_client_arm_head__(client);

    switch (x->kind) {
    case VX_REGISTER:
        if (msg->op == VICI_EVENT_UNKNOWN) {
            LOG_WARN_RL(&unknown_rl, "%s: charon does not know event \"%s\", "
                        "ignoring", client->name, x->name);
        } else if (x->req && !x->req->replied) {
            client->streaming = x->req;
        }
        if (!x->req && client->state == VC_S_REGISTERING
            && !--client->n_registering) {
            vici_client_up__(client);
        }
        break;

    case VX_UNREGISTER:
        if (msg->op == VICI_EVENT_UNKNOWN) {
            LOG_WARN_RL(&unknown_rl, "%s: charon refused to unregister event "
                        "\"%s\", ignoring", client->name, x->name);
        }
        break;

    case VX_REQUEST:
        if (msg->op == VICI_CMD_UNKNOWN) {
            LOG_DBG("%s: charon does not know command \"%s\"",
                    client->name, x->name);
            vici_request_reply__(client, x->req, -ENOTSUP, NULL);
        } else {
            vici_request_reply__(client, x->req, 0, msg);
        }
        break;
    }
    vici_xchg_destroy__(x);
}

static void
vici_client_handle_packet__(struct vici_client *client,
                            const uint8_t *data, size_t size)
{
    struct vici_msg *msg;
    const char *why = NULL;

    if (vici_msg_decode(data, size, &msg, &why)) {
        vici_client_protocol_error__(client, "undecodable packet (%s)",
                                     why ? why : "unknown reason");
        return;
    }
    if (LOG_IS_DBG_ENABLED()) {
        vici_client_log_msg__(client, "received", msg);
    }

    switch (msg->op) {
    case VICI_EVENT:
        vici_client_handle_event__(client, msg);
        break;
    case VICI_CMD_RESPONSE:
    case VICI_CMD_UNKNOWN:
    case VICI_EVENT_CONFIRM:
    case VICI_EVENT_UNKNOWN:
        vici_client_handle_answer__(client, msg);
        break;
    case VICI_CMD_REQUEST:
    case VICI_EVENT_REGISTER:
    case VICI_EVENT_UNREGISTER:
    case VICI_OP_N:
    default:
        vici_client_protocol_error__(client, "unexpected %s from server",
                                     vici_op_to_string(msg->op));
        break;
    }
    vici_msg_destroy(msg);
}

static uint32_t
get_be32__(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}

/* True if the socket is to be left unread for now (see
 * vici_client_set_read_interval()). */
static bool
vici_client_read_later__(const struct vici_client *client)
{
    return (client->state == VC_S_CONNECTED
            && !client->rx_backlog
            && time_msec() < client->next_read);
}

/* How long to leave the socket unread after reading from it. */
static long long int
vici_client_read_interval__(const struct vici_client *client)
{
    return (client->streaming
            ? MAX(client->read_interval, VICI_STREAM_READ_INTERVAL_MS)
            : client->read_interval);
}

/* Reads and handles what charon sent, up to VICI_RX_BUDGET packets.
 * Returns false if the connection was dropped. */
static bool
vici_client_recv__(struct vici_client *client)
{
    unsigned int budget = VICI_RX_BUDGET;

    client->rx_backlog = false;
    for (;;) {
        /* Handle the complete packets at the front of the buffer. */
        size_t ofs = 0;
        while (client->rx_len - ofs >= 4) {
            uint32_t len = get_be32__(client->rx + ofs);
            if (len > VICI_MAX_PACKET) {
                vici_client_protocol_error__(
                    client, "%"PRIu32"-byte packet exceeds the %d-byte limit",
                    len, VICI_MAX_PACKET);
                return false;
            }
            if (client->rx_len - ofs - 4 < len) {
                break;
            }
            if (!budget) {
                client->rx_backlog = true;
                break;
            }
            budget--;
            vici_client_handle_packet__(client, client->rx + ofs + 4, len);
            if (client->state < VC_S_REGISTERING) {
                return false;
            }
            ofs += 4 + (size_t) len;
        }
        if (ofs) {
            memmove(client->rx, client->rx + ofs, client->rx_len - ofs);
            client->rx_len -= ofs;
        }
        if (client->rx_backlog) {
            return true;
        }

        /* Make room for the rest of the packet at the front. */
        size_t need = (client->rx_len >= 4
                       ? 4 + (size_t) get_be32__(client->rx)
                       : VICI_RX_MIN);
        need = MAX(need, VICI_RX_MIN);
        if (client->rx_cap < need || client->rx_cap == client->rx_len) {
            size_t cap = MAX(need, MIN(client->rx_cap * 2,
                                       (size_t) 4 + VICI_MAX_PACKET));
            uint8_t *rx = xmalloc(cap);
            if (client->rx_len) {
                memcpy(rx, client->rx, client->rx_len);
            }
            free(client->rx);
            client->rx = rx;
            client->rx_cap = cap;
        }

        ssize_t n = stream_recv(client->stream, client->rx + client->rx_len,
                                client->rx_cap - client->rx_len);
        if (n > 0) {
            client->rx_len += n;
            long long int interval = vici_client_read_interval__(client);
            if (interval && client->state == VC_S_CONNECTED) {
                client->next_read = time_msec() + interval;
            }
        } else if (n == -EAGAIN) {
            if (!client->rx_len && client->rx_cap > VICI_RX_MIN) {
                /* Give back the room a big packet needed. */
                free(client->rx);
                client->rx = NULL;
                client->rx_cap = 0;
            }
            return true;
        } else {
            LOG_WARN("%s: %s; reconnecting in %lld ms", client->name,
                     n ? ovsec_strerror(n) : "connection closed by charon",
                     client->backoff_ms);
            vici_client_disconnect__(client, NULL);
            return false;
        }
    }
}

/* Output. */

/* Writes what the socket takes.  Returns false if the connection was
 * dropped. */
static bool
vici_client_send__(struct vici_client *client)
{
    while (!ovs_list_is_empty(&client->txq)) {
        struct vici_xchg *x = CONTAINER_OF(client->txq.next,
                                           struct vici_xchg, tx_node);
        ssize_t n = stream_send(client->stream, x->packet + x->ofs,
                                x->size - x->ofs);
        if (n == -EAGAIN) {
            return true;
        } else if (n < 0) {
            LOG_WARN("%s: send failed (%s); reconnecting in %lld ms",
                     client->name, ovsec_strerror(n), client->backoff_ms);
            vici_client_disconnect__(client, NULL);
            return false;
        }
        x->ofs += n;
        if (x->ofs == x->size) {
            /* Zeroes the bytes: a load-shared carries a PSK. */
            vici_packet_free(x->packet, x->size);
            x->packet = NULL;
            ovs_list_remove(&x->tx_node);
            client->n_sent++;
        }
    }
    return true;
}

/* Public API. */

struct vici_client *
vici_client_create(const char *name, const char *const *events,
                   long long int timeout_ms,
                   const struct vici_client_hooks *hooks, int *error)
{
    struct vici_client *client;
    size_t n_events = 0;
    int r;

    r = stream_verify_name(name);
    if (r) {
        goto error;
    }
    if (timeout_ms <= 0) {
        r = -EINVAL;
        goto error;
    }
    for (; events && events[n_events]; n_events++) {
        size_t len = strlen(events[n_events]);
        if (!len || len > 255) {
            r = -EINVAL;
            goto error;
        }
    }

    client = xzalloc(sizeof *client);
    client->name = xstrdup(name);
    client->events = xcalloc(n_events + 1, sizeof *client->events);
    for (size_t i = 0; i < n_events; i++) {
        client->events[i] = xstrdup(events[i]);
    }
    client->timeout_ms = timeout_ms;
    if (hooks) {
        client->hooks = *hooks;
    }
    client->state = VC_S_BACKOFF;
    client->next_try = LLONG_MIN;   /* Connect from the first run. */
    client->backoff_ms = VICI_BACKOFF_MIN_MS;
    ovs_list_init(&client->pending);
    ovs_list_init(&client->txq);
    if (error) {
        *error = 0;
    }
    return client;

error:
    if (error) {
        *error = r;
    }
    return NULL;
}

void
vici_client_destroy(struct vici_client *client)
{
    struct vici_xchg *x;

    if (!client) {
        return;
    }

    /* Requests issued by the callbacks below get -ENOTCONN. */
    stream_close(client->stream);
    client->stream = NULL;
    client->state = VC_S_BACKOFF;
    client->streaming = NULL;
    ovs_list_init(&client->txq);
    LIST_FOR_EACH_POP (x, node, &client->pending) {
        vici_request_reply__(client, x->req, -ECANCELED, NULL);
        vici_xchg_destroy__(x);
    }

    free(client->rx);
    path_watch_destroy(client->watch);
    for (char **e = client->events; *e; e++) {
        free(*e);
    }
    free(client->events);
    free(client->name);
    free(client);
}

void
vici_client_run(struct vici_client *client)
{
    long long int now = time_msec();
    int error;

    switch (client->state) {
    case VC_S_BACKOFF:
        if (client->watch && path_watch_run(client->watch)) {
            client->watch_fired = true;
            client->next_try = now;
        }
        if (now >= client->next_try) {
            vici_client_try_connect__(client);
        }
        break;

    case VC_S_CONNECTING:
        error = stream_connect(client->stream);
        if (!error) {
            vici_client_connected__(client);
        } else if (error != -EAGAIN) {
            vici_client_connect_failed__(client, error);
        } else if (now >= client->connect_deadline) {
            vici_client_connect_failed__(client, -ETIMEDOUT);
        }
        break;

    case VC_S_REGISTERING:
    case VC_S_CONNECTED:
        break;
    }

    if (client->state < VC_S_REGISTERING
        || !vici_client_send__(client)
        || (!vici_client_read_later__(client)
            && !vici_client_recv__(client))) {
        return;
    }

    if (!ovs_list_is_empty(&client->pending)
        && !vici_client_read_later__(client)) {
        struct vici_xchg *head = CONTAINER_OF(client->pending.next,
                                              struct vici_xchg, node);
        if (time_msec() >= head->deadline) {
            bool req_waiting = head->req && !head->req->replied;
            LOG_WARN("%s: no answer to %s \"%s\" within %lld ms, "
                     "resetting the connection (retry in %lld ms)",
                     client->name,
                     head->kind == VX_REQUEST ? "command" : "event",
                     head->name, client->timeout_ms, client->backoff_ms);
            vici_client_disconnect__(client,
                                      req_waiting ? head->req : NULL);
            return;
        }
    }

    /* The callbacks may have queued requests. */
    vici_client_send__(client);
}

void
vici_client_wait(struct vici_client *client)
{
    switch (client->state) {
    case VC_S_BACKOFF:
        loop_timer_wait_until(client->next_try);
        if (client->watch) {
            path_watch_wait(client->watch);
        }
        break;

    case VC_S_CONNECTING:
        stream_wait(client->stream, STREAM_CONNECT);
        loop_timer_wait_until(client->connect_deadline);
        break;

    case VC_S_REGISTERING:
    case VC_S_CONNECTED:
        if (vici_client_read_later__(client)) {
            loop_timer_wait_until(client->next_read);
        } else {
            stream_wait(client->stream, STREAM_RECV);
        }
        if (!ovs_list_is_empty(&client->txq)) {
            stream_wait(client->stream, STREAM_SEND);
        }
        if (!ovs_list_is_empty(&client->pending)) {
            struct vici_xchg *head = CONTAINER_OF(client->pending.next,
                                                  struct vici_xchg, node);
            loop_timer_wait_until(head->deadline);
        }
        if (client->rx_backlog) {
            loop_immediate_wake();
        }
        break;
    }
}

void
vici_client_set_read_interval(struct vici_client *client, long long int ms)
{
    client->read_interval = MAX(ms, 0);
    client->next_read = 0;
}

bool
vici_client_is_connected(const struct vici_client *client)
{
    return client->state == VC_S_CONNECTED;
}

int
vici_client_request(struct vici_client *client, struct vici_builder *builder,
                    const char *stream_event, vici_item_cb *item_cb,
                    vici_reply_cb *reply_cb, void *aux)
{
    struct vici_request *req;
    uint8_t *packet = NULL;
    size_t size = 0;
    int error;

    error = vici_builder_finish(builder, &packet, &size);
    if (error) {
        LOG_DBG("%s: request not built (%s)", client->name,
                ovsec_strerror(error));
        return -EINVAL;
    }
    /* Length prefix, op, name length, name. */
    if (!reply_cb || size < 6 || packet[4] != VICI_CMD_REQUEST || !packet[5]
        || size < 6 + (size_t) packet[5]
        || (stream_event
            && (!item_cb || !*stream_event || strlen(stream_event) > 255
                || vici_client_is_permanent__(client, stream_event)))) {
        error = -EINVAL;
        goto out;
    }
    if (client->state != VC_S_CONNECTED) {
        error = -ENOTCONN;
        goto out;
    }

    req = xzalloc(sizeof *req);
    req->command = xmemdup0(packet + 6, packet[5]);
    req->stream_event = nullable_xstrdup(stream_event);
    req->item_cb = item_cb;
    req->reply_cb = reply_cb;
    req->aux = aux;
    req->n_refs = 1;            /* Ours, until the exchanges are queued. */

    if (stream_event) {
        error = vici_client_queue_event__(client, VX_REGISTER, stream_event,
                                          req);
        if (error) {
            vici_request_unref__(req);
            error = -EINVAL;
            goto out;
        }
    }
    vici_client_queue__(client, VX_REQUEST, req->command, packet, size, req);
    packet = NULL;
    if (stream_event) {
        /* Cannot fail: the same name just made a REGISTER. */
        vici_client_queue_event__(client, VX_UNREGISTER, stream_event, req);
    }
    client->n_requests++;
    vici_request_unref__(req);

out:
    vici_packet_free(packet, size);
    return error;
}

unsigned int
vici_client_n_pending(const struct vici_client *client)
{
    return client->n_requests;
}

uint64_t
vici_client_n_sent(const struct vici_client *client)
{
    return client->n_sent;
}

uint64_t
vici_client_n_reconnects(const struct vici_client *client)
{
    return client->n_reconnects;
}
