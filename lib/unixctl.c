/* SPDX-License-Identifier: Apache-2.0
 *
 * unixctl: see unixctl.h.
 *
 * A connection is in one of three states:
 *   idle     rpc != NULL, request_id == NULL: reads the next request once
 *            the previous reply has been sent;
 *   busy     rpc != NULL, request_id != NULL: a callback owes a reply; we
 *            read nothing but watch the socket for hang-up;
 *   dying    rpc == NULL, request_id != NULL: the client hung up (or the
 *            server was destroyed) while a reply was owed.  The conn is in
 *            no list and is freed by that reply.
 * Idle connections that fail are freed at once.  Dying ones exist so that
 * whoever holds a deferred 'conn' can always reply without a use-after-free
 * and without a cancellation callback of its own.
 */
#include "config.h"
#include "unixctl.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"
#include "ds.h"
#include "hmap.h"
#include "jsonrpc.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

LOG_MODULE(unixctl);

/* Per server run, at most this many accepts and, per connection, this
 * many requests: fairness among clients and the rest of the daemon. */
#define MAX_ACCEPTS_PER_RUN 10
#define MAX_REQUESTS_PER_RUN 10

/* After accept() fails for another reason than "nobody waiting" (EMFILE,
 * ENOBUFS...), stop accepting for this long instead of spinning. */
#define ACCEPT_PAUSE_MS 100

struct unixctl_command {
    struct hmap_node node;      /* In 'commands', by hash of 'name'. */
    char *name;                 /* "ipsec/status". */
    char *usage;                /* For list-commands; NULL: hidden. */
    int min_args;               /* Arguments, not counting the name. */
    int max_args;               /* INT_MAX: no limit. */
    unixctl_cb_func *cb;        /* Handles a request. */
    void *aux;                  /* For 'cb'. */
};

enum unixctl_fmt {
    UNIXCTL_FMT_TEXT,           /* Replies are text. */
    UNIXCTL_FMT_JSON,           /* Text replies wrapped in an object. */
};

struct unixctl_conn {
    struct ovs_list node;       /* In server's 'conns' unless dying. */
    struct jsonrpc *rpc;        /* NULL once dying. */
    int fd;                     /* The socket of 'rpc', to spot hang-ups. */
    json_t *request_id;         /* Request owing a reply, or NULL. */
    enum unixctl_fmt fmt;       /* Set by "set-options --format". */
    bool input_pending;         /* 'rpc' may have buffered more requests. */
    unsigned long long int last_used;   /* Server's 'seq' at the last
                                         * request, for eviction. */
};

struct unixctl_server {
    struct pstream *listener;   /* "punix:" + 'path'. */
    char *path;                 /* Absolute socket file name. */
    struct ovs_list conns;      /* Idle and busy 'struct unixctl_conn's. */
    size_t n_conns;             /* Length of 'conns'. */
    unsigned long long int seq; /* Counts requests, for 'last_used'. */
    long long int accept_paused_until;  /* time_msec() after an accept
                                         * error; 0 if not paused. */
};

static struct hmap commands;    /* All 'struct unixctl_command's. */
static bool commands_initialized;

static struct hmap *
commands__(void)
{
    if (!commands_initialized) {
        hmap_init(&commands);
        commands_initialized = true;
    }
    return &commands;
}

static struct unixctl_command *
command_find__(const char *name)
{
    struct unixctl_command *c;

    HMAP_FOR_EACH_WITH_HASH (c, node, hash_string(name, 0), commands__()) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

void
unixctl_command_register(const char *name, const char *usage,
                         int min_args, int max_args,
                         unixctl_cb_func *cb, void *aux)
{
    struct unixctl_command *c = command_find__(name);

    assert(min_args >= 0 && min_args <= max_args);
    if (c) {
        assert(c->cb == cb);
        free(c->usage);
    } else {
        c = xzalloc(sizeof *c);
        c->name = xstrdup(name);
        hmap_insert(commands__(), &c->node, hash_string(name, 0));
    }
    c->usage = nullable_xstrdup(usage);
    c->min_args = min_args;
    c->max_args = max_args;
    c->cb = cb;
    c->aux = aux;
}

void
unixctl_command_unregister(const char *name)
{
    struct unixctl_command *c = command_find__(name);

    if (c) {
        hmap_remove(&commands, &c->node);
        free(c->name);
        free(c->usage);
        free(c);
    }
}

/* Returns 's' as a JSON string.  JSON strings are UTF-8, and a reply that
 * cannot be encoded would never be sent, leaving the client hanging; so
 * text that is not valid UTF-8 (a binary interface name, say) has its
 * non-ASCII bytes replaced by '?'. */
static json_t *
json_text__(const char *s)
{
    json_t *j = json_string(s);

    if (!j) {
        char *copy = xstrdup(s);
        for (char *p = copy; *p; p++) {
            if ((unsigned char) *p >= 0x80) {
                *p = '?';
            }
        }
        j = json_string(copy);
        free(copy);
    }
    return j;
}

/* Sends 'result' (consumed) as the reply to 'conn''s request, as an error
 * if 'error' is true, and ends the request. */
static void
reply__(struct unixctl_conn *conn, bool error, json_t *result)
{
    assert(conn->request_id);

    if (!conn->rpc) {
        /* Dying: nobody to tell. */
        LOG_DBG("discarding reply for a client that is gone");
        json_decref(result);
        json_decref(conn->request_id);
        free(conn);
        return;
    }

    json_t *msg = (error
                   ? jsonrpc_create_error(result, conn->request_id)
                   : jsonrpc_create_reply(result, conn->request_id));
    if (LOG_IS_DBG_ENABLED()) {
        char *id = json_dumps(conn->request_id, JSON_ENCODE_ANY);
        LOG_DBG("%s: replying with %s, id=%s", jsonrpc_get_name(conn->rpc),
                error ? "error" : "success", id ? id : "?");
        free(id);
    }
    /* A failure shows in jsonrpc_get_status(): the next run cleans up. */
    jsonrpc_send(conn->rpc, msg);
    json_decref(conn->request_id);
    conn->request_id = NULL;
}

/* Replies with text 'body', OVS style. */
static void
reply_text__(struct unixctl_conn *conn, bool error, const char *body)
{
    json_t *result;

    if (!body) {
        body = "";
    }
    if (!error && conn->fmt == UNIXCTL_FMT_JSON) {
        /* What OVS sends for plain text when JSON was asked for. */
        result = json_pack("{s:s, s:o}", "reply-format", "plain",
                           "reply", json_text__(body));
    } else {
        size_t len = strlen(body);

        /* OVS 3.1's ovs-appctl prints the text as is: end it with a
         * newline, as OVS's server does. */
        if (len && body[len - 1] != '\n') {
            char *s = xasprintf("%s\n", body);
            result = json_text__(s);
            free(s);
        } else {
            result = json_text__(body);
        }
    }
    reply__(conn, error, result);
}

void
unixctl_command_reply(struct unixctl_conn *conn, const char *body)
{
    reply_text__(conn, false, body);
}

void
unixctl_command_reply_error(struct unixctl_conn *conn, const char *body)
{
    reply_text__(conn, true, body);
}

/* Built-in commands. */

static int
compare_commands__(const void *a_, const void *b_)
{
    const struct unixctl_command *const *a = a_;
    const struct unixctl_command *const *b = b_;

    return strcmp((*a)->name, (*b)->name);
}

static void
list_commands__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
                const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    size_t n = hmap_count(commands__());
    const struct unixctl_command **sorted = xcalloc(n, sizeof *sorted);
    const struct unixctl_command *c;
    size_t i = 0;

    HMAP_FOR_EACH (c, node, commands__()) {
        sorted[i++] = c;
    }
    qsort(sorted, n, sizeof *sorted, compare_commands__);

    if (conn->fmt == UNIXCTL_FMT_JSON) {
        json_t *obj = json_object();
        for (i = 0; i < n; i++) {
            if (sorted[i]->usage) {
                json_object_set_new(obj, sorted[i]->name,
                                    json_text__(sorted[i]->usage));
            }
        }
        reply__(conn, false, obj);
    } else {
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_cstr(&s, "The available commands are:\n");
        for (i = 0; i < n; i++) {
            if (sorted[i]->usage) {
                ds_put_format(&s, "  %-23s %s\n", sorted[i]->name,
                              sorted[i]->usage);
            }
        }
        unixctl_command_reply(conn, ds_cstr(&s));
        ds_destroy(&s);
    }
    free(sorted);
}

static void
version__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
          const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    char *s = xasprintf("%s (ovsec) %s", daemon_program_name(),
                        ovsec_version);
    unixctl_command_reply(conn, s);
    free(s);
}

/* "set-options [--format text|json]", as newer ovs-appctl sends it before
 * the command when given --format. */
static void
set_options__(struct unixctl_conn *conn, int argc, const char *argv[],
              void *aux OVS_UNUSED__)
{
    enum unixctl_fmt fmt = conn->fmt;
    char *error = NULL;

    for (int i = 1; i < argc && !error; i++) {
        const char *value;

        if (!strcmp(argv[i], "--format")) {
            if (i + 1 >= argc) {
                error = xstrdup("option '--format' requires an argument");
                break;
            }
            value = argv[++i];
        } else if (str_starts_with(argv[i], "--format=")) {
            value = argv[i] + strlen("--format=");
        } else {
            error = xasprintf("unrecognized option '%s'", argv[i]);
            break;
        }

        if (!strcasecmp(value, "text")) {
            fmt = UNIXCTL_FMT_TEXT;
        } else if (!strcasecmp(value, "json")) {
            fmt = UNIXCTL_FMT_JSON;
        } else {
            error = xasprintf("option format has invalid value %s", value);
        }
    }

    if (error) {
        unixctl_command_reply_error(conn, error);
        free(error);
    } else {
        /* Like OVS, the reply to set-options is already in the new
         * format. */
        conn->fmt = fmt;
        unixctl_command_reply(conn, NULL);
    }
}

static void
vlog_set__(struct unixctl_conn *conn, int argc, const char *argv[],
           void *aux OVS_UNUSED__)
{
    /* No argument means "everything at dbg", as in OVS. */
    for (int i = argc > 1 ? 1 : 0; i < argc; i++) {
        char *error = log_set_levels_from_string(argc > 1 ? argv[i] : "");
        if (error) {
            unixctl_command_reply_error(conn, error);
            free(error);
            return;
        }
    }
    unixctl_command_reply(conn, NULL);
}

static void
vlog_list__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
            const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    char *s = log_get_levels();
    unixctl_command_reply(conn, s);
    free(s);
}

static void
vlog_reopen__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
              const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    if (!log_get_file()) {
        unixctl_command_reply_error(conn, "Logging to file not configured");
    } else {
        int error = log_reopen_file();
        if (error) {
            unixctl_command_reply_error(conn, ovsec_strerror(error));
        } else {
            unixctl_command_reply(conn, NULL);
        }
    }
}

static void
register_builtins__(void)
{
    unixctl_command_register("list-commands", "", 0, 0, list_commands__,
                             NULL);
    unixctl_command_register("version", "", 0, 0, version__, NULL);
    unixctl_command_register("set-options", "[--format text|json]", 1, 2,
                             set_options__, NULL);
    unixctl_command_register("vlog/set", "{spec | PATTERN:destination:"
                             "pattern}", 0, INT_MAX, vlog_set__, NULL);
    unixctl_command_register("vlog/list", "", 0, 0, vlog_list__, NULL);
    unixctl_command_register("vlog/reopen", "", 0, 0, vlog_reopen__, NULL);
}

/* The server. */

int
unixctl_server_create(const char *path, struct unixctl_server **ret)
{
    struct pstream *listener;
    char *abs_path, *name;
    int error;

    *ret = NULL;
    if (path && !strcmp(path, "none")) {
        return 0;
    }

    abs_path = (path
                ? daemon_rundir_file(path)
                : xasprintf("%s/%s.%ld.ctl", daemon_rundir(),
                            daemon_program_name(), (long int) getpid()));
    name = xasprintf("punix:%s", abs_path);
    error = pstream_open(name, &listener);
    free(name);
    if (error) {
        LOG_DBG("%s: listen failed (%s)", abs_path, ovsec_strerror(error));
        free(abs_path);
        return error;
    }

    register_builtins__();

    struct unixctl_server *server = xzalloc(sizeof *server);
    server->listener = listener;
    server->path = abs_path;
    ovs_list_init(&server->conns);
    *ret = server;
    return 0;
}

/* Closes 'conn''s socket and takes it off 'server'.  It is freed now, or
 * by its reply if one is owed. */
static void
conn_close__(struct unixctl_server *server, struct unixctl_conn *conn,
             int error)
{
    LOG_DBG("%s: closing connection (%s)%s", server->path,
            error ? ovsec_strerror(error) : "evicted",
            conn->request_id ? ", reply pending" : "");
    ovs_list_remove(&conn->node);
    server->n_conns--;
    jsonrpc_close(conn->rpc);
    conn->rpc = NULL;
    conn->fd = -1;
    if (!conn->request_id) {
        free(conn);
    }
}

/* Closes the least recently used connection that owes no reply, to make
 * room.  Returns false if every connection owes one. */
static bool
evict__(struct unixctl_server *server)
{
    struct unixctl_conn *conn, *victim = NULL;

    LIST_FOR_EACH (conn, node, &server->conns) {
        if (!conn->request_id
            && (!victim || conn->last_used < victim->last_used)) {
            victim = conn;
        }
    }
    if (victim) {
        conn_close__(server, victim, 0);
    }
    return victim != NULL;
}

static void
accept__(struct unixctl_server *server)
{
    if (server->accept_paused_until) {
        if (time_msec() < server->accept_paused_until) {
            return;
        }
        server->accept_paused_until = 0;
    }

    for (int i = 0; i < MAX_ACCEPTS_PER_RUN; i++) {
        struct unixctl_conn *conn;
        struct stream *stream;
        int error;

        error = pstream_accept(server->listener, &stream);
        if (error == -EAGAIN) {
            break;
        } else if (error) {
            LOG_DBG("%s: accept failed (%s)", server->path,
                    ovsec_strerror(error));
            server->accept_paused_until = time_msec() + ACCEPT_PAUSE_MS;
            break;
        }

        if (server->n_conns >= UNIXCTL_MAX_CONNS && !evict__(server)) {
            LOG_DBG("%s: %d connections, all busy: refusing a new one",
                    server->path, UNIXCTL_MAX_CONNS);
            stream_close(stream);
            continue;
        }

        conn = xzalloc(sizeof *conn);
        conn->fd = stream_get_fd(stream);
        conn->rpc = jsonrpc_open(stream);
        jsonrpc_set_max_msg_size(conn->rpc, UNIXCTL_MAX_REQUEST);
        conn->last_used = ++server->seq;
        ovs_list_push_back(&server->conns, &conn->node);
        server->n_conns++;
    }
}

/* Handles request 'msg' (borrowed) on idle 'conn'.  Returns 0, or -EPROTO
 * if 'msg' is not a JSON-RPC request (the caller hangs up). */
static int
process_request__(struct unixctl_conn *conn, const json_t *msg)
{
    const json_t *method = json_object_get(msg, "method");
    const json_t *params = json_object_get(msg, "params");
    const json_t *id = json_object_get(msg, "id");
    const struct unixctl_command *command;
    const char *name;
    char *error = NULL;
    size_t n;

    if (!json_is_string(method) || !json_is_array(params)
        || !id || json_is_null(id)) {
        /* A reply, a notification or garbage: OVS hangs up too. */
        LOG_DBG("%s: received a message that is not a request",
                jsonrpc_get_name(conn->rpc));
        return -EPROTO;
    }

    name = json_string_value(method);
    n = json_array_size(params);
    LOG_DBG("%s: received request \"%s\" with %zu arguments",
            jsonrpc_get_name(conn->rpc), name, n);

    conn->request_id = json_deep_copy(id);
    command = command_find__(name);
    if (!command) {
        error = xasprintf("\"%s\" is not a valid command (use "
                          "\"list-commands\" to see a list of valid "
                          "commands)", name);
    } else if (n < (size_t) command->min_args) {
        error = xasprintf("\"%s\" command requires at least %d arguments",
                          name, command->min_args);
    } else if (n > (size_t) command->max_args) {
        error = xasprintf("\"%s\" command takes at most %d arguments",
                          name, command->max_args);
    } else {
        const char **argv = xcalloc(n + 2, sizeof *argv);

        argv[0] = name;
        for (size_t i = 0; i < n && !error; i++) {
            const json_t *arg = json_array_get(params, i);
            if (!json_is_string(arg)) {
                error = xasprintf("\"%s\" command has non-string argument",
                                  name);
            }
            argv[i + 1] = json_string_value(arg);
        }
        if (!error) {
            command->cb(conn, n + 1, argv, command->aux);
        }
        free(argv);
    }

    if (error) {
        unixctl_command_reply_error(conn, error);
        free(error);
    }
    return 0;
}

/* True if the peer of socket 'fd' hung up. */
static bool
hung_up__(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = 0 };

    return (poll(&pfd, 1, 0) > 0
            && pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Does the work of live 'conn'.  Returns 0, or -errno if it must be
 * closed. */
static int
conn_run__(struct unixctl_server *server, struct unixctl_conn *conn)
{
    int error;

    jsonrpc_run(conn->rpc);
    error = jsonrpc_get_status(conn->rpc);
    if (error) {
        return error;
    }
    if (conn->request_id) {
        return hung_up__(conn->fd) ? -EPIPE : 0;
    }

    for (int i = 0; i < MAX_REQUESTS_PER_RUN; i++) {
        json_t *msg;

        if (conn->request_id || jsonrpc_get_backlog(conn->rpc)) {
            break;
        }
        error = jsonrpc_recv(conn->rpc, &msg);
        if (error == -EAGAIN) {
            conn->input_pending = false;
            return 0;
        } else if (error) {
            return error;
        }

        conn->input_pending = true;
        conn->last_used = ++server->seq;
        error = process_request__(conn, msg);
        json_decref(msg);
        if (!error) {
            error = jsonrpc_get_status(conn->rpc);
        }
        if (error) {
            return error;
        }
    }
    return 0;
}

void
unixctl_server_run(struct unixctl_server *server)
{
    struct unixctl_conn *conn, *next;

    if (!server) {
        return;
    }

    accept__(server);
    LIST_FOR_EACH_SAFE (conn, next, node, &server->conns) {
        int error = conn_run__(server, conn);
        if (error) {
            conn_close__(server, conn, error);
        }
    }
}

void
unixctl_server_wait(struct unixctl_server *server)
{
    struct unixctl_conn *conn;

    if (!server) {
        return;
    }

    if (server->accept_paused_until) {
        loop_timer_wait_until(server->accept_paused_until);
    } else {
        pstream_wait(server->listener);
    }

    LIST_FOR_EACH (conn, node, &server->conns) {
        if (jsonrpc_get_status(conn->rpc)) {
            /* Failed since the last run, e.g. while sending a deferred
             * reply: clean up right away. */
            loop_immediate_wake();
        } else if (jsonrpc_get_backlog(conn->rpc)) {
            jsonrpc_wait(conn->rpc);
        } else if (conn->request_id) {
            /* poll() always reports hang-ups, even for no events. */
            loop_fd_wait(conn->fd, 0);
        } else if (conn->input_pending) {
            loop_immediate_wake();
        } else {
            jsonrpc_recv_wait(conn->rpc);
        }
    }
}

void
unixctl_server_destroy(struct unixctl_server *server)
{
    if (server) {
        struct unixctl_conn *conn, *next;

        LIST_FOR_EACH_SAFE (conn, next, node, &server->conns) {
            conn_close__(server, conn, -ESHUTDOWN);
        }
        pstream_close(server->listener);
        free(server->path);
        free(server);
    }
}

const char *
unixctl_server_get_path(const struct unixctl_server *server)
{
    return server->path;
}
