/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the non-blocking VICI client (ike/vici-client.c).  A fake
 * VICI server in this file listens on a Unix socket in a fresh temporary
 * directory; each test drives it step by step, checks the client's bytes
 * and answers.  Timeouts and backoff are tested with time_warp(), never by
 * sleeping.  The last test talks to the real charon when it is installed
 * and we are root: charon runs in private mount and network namespaces
 * with its own strongswan.conf and a VICI socket in the temporary
 * directory, and is always killed at the end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "loop.h"
#include "secret.h"
#include "timeval.h"
#include "unit-util.h"
#include "util.h"
#include "vici-client.h"
#include "vici.h"

#define TIMEOUT_MS 1000
#define MAX_RECORDS 300
#define SERVER_BUF (1024 * 1024)
#define CHARON "/usr/lib/ipsec/charon"

/* What the callbacks saw. */
struct record {
    int tag;                    /* Request tag ('aux'), or 0 for events. */
    int error;                  /* reply_cb: its 'error'. */
    char *name;                 /* Event name, or NULL. */
    char *value;                /* Member "v" of the message, or NULL. */
    char *daemon;               /* Member "daemon", or NULL. */
    char *first_key;            /* Key of the first member, or NULL. */
    bool success;               /* Member "success" is "yes". */
};

struct recorder {
    struct record replies[MAX_RECORDS];
    size_t n_replies;
    struct record items[MAX_RECORDS];
    size_t n_items;
    struct record events[MAX_RECORDS];
    size_t n_events;
    int n_up;                   /* connection(true) calls. */
    int n_down;                 /* connection(false) calls. */
    struct vici_client *client; /* For requests made from callbacks. */
    int n_reentrant;            /* Requests made from connection(false). */
};

static struct recorder rec;

/* The fake server and whatever a test must clean up. */
struct fixture {
    char *dir;                  /* Temporary directory. */
    char *path;                 /* Socket file. */
    char *name;                 /* "unix:" + path. */
    int lfd;                    /* Listening socket, or -1. */
    int fd;                     /* Accepted connection, or -1. */
    uint8_t *buf;               /* Bytes received from the client. */
    size_t len;                 /* Bytes in 'buf'. */
    struct vici_client *client; /* Client under test, or NULL. */
    pid_t charon;               /* Real charon, or 0. */
};

static void
record__(struct record *r, int tag, int error, const struct vici_msg *msg)
{
    const char *v = msg ? vici_node_get_str(&msg->root, "v") : NULL;

    r->tag = tag;
    r->error = error;
    r->name = msg && msg->name ? xstrdup(msg->name) : NULL;
    r->value = v ? xstrdup(v) : NULL;
    r->daemon = NULL;
    r->first_key = NULL;
    r->success = false;
    if (msg) {
        r->daemon = nullable_xstrdup(vici_node_get_str(&msg->root,
                                                       "daemon"));
        if (msg->root.n_children) {
            r->first_key = nullable_xstrdup(msg->root.children[0]->key);
        }
        r->success = vici_msg_success(msg);
    }
}

static void
reply_cb(void *aux, int error, const struct vici_msg *reply)
{
    assert_true(rec.n_replies < MAX_RECORDS);
    if (!error) {
        assert_non_null(reply);
        assert_int_equal(reply->op, VICI_CMD_RESPONSE);
    } else {
        assert_null(reply);
    }
    record__(&rec.replies[rec.n_replies++], (int) (intptr_t) aux, error,
             reply);
}

static void
item_cb(void *aux, const struct vici_msg *item)
{
    assert_true(rec.n_items < MAX_RECORDS);
    assert_int_equal(item->op, VICI_EVENT);
    record__(&rec.items[rec.n_items++], (int) (intptr_t) aux, 0, item);
}

static void
event_cb(void *aux, const struct vici_msg *event)
{
    assert_ptr_equal(aux, &rec);
    assert_true(rec.n_events < MAX_RECORDS);
    assert_int_equal(event->op, VICI_EVENT);
    record__(&rec.events[rec.n_events++], 0, 0, event);
}

static void
connection_cb(void *aux, bool connected)
{
    assert_ptr_equal(aux, &rec);
    if (connected) {
        rec.n_up++;
    } else {
        rec.n_down++;
        /* The client must look disconnected to its owner now. */
        if (rec.client) {
            struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                         "version");
            assert_false(vici_client_is_connected(rec.client));
            assert_int_equal(vici_client_request(rec.client, b, NULL, NULL,
                                                 reply_cb, NULL),
                             -ENOTCONN);
            rec.n_reentrant++;
        }
    }
}

static const struct vici_client_hooks hooks = {
    .event = event_cb,
    .connection = connection_cb,
    .aux = &rec,
};

static void
recorder_clear(void)
{
    struct record *lists[] = { rec.replies, rec.items, rec.events };

    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        for (size_t j = 0; j < MAX_RECORDS; j++) {
            free(lists[i][j].name);
            free(lists[i][j].value);
            free(lists[i][j].daemon);
            free(lists[i][j].first_key);
        }
    }
    memset(&rec, 0, sizeof rec);
}

/* Fixture. */

static void
server_listen(struct fixture *f)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    assert_true(strlen(f->path) < sizeof sun.sun_path);
    strcpy(sun.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);

    f->dir = ut_tmpdir_create("test-vici-client");
    if (!f->dir) {
        free(f);
        return -1;
    }
    f->path = xasprintf("%s/vici", f->dir);
    f->name = xasprintf("unix:%s", f->path);
    f->lfd = f->fd = -1;
    f->buf = xmalloc(SERVER_BUF);
    recorder_clear();
    *state = f;
    return 0;
}

static void
kill_charon(struct fixture *f)
{
    if (f->charon > 0) {
        int status;

        kill(f->charon, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(f->charon, &status, WNOHANG) == f->charon) {
                f->charon = 0;
                return;
            }
            usleep(50 * 1000);
        }
        kill(f->charon, SIGKILL);
        waitpid(f->charon, &status, 0);
        f->charon = 0;
    }
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    rec.client = NULL;
    vici_client_destroy(f->client);
    kill_charon(f);
    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->lfd >= 0) {
        close(f->lfd);
    }
    ut_tmpdir_remove(f->dir);
    free(f->dir);
    free(f->buf);
    free(f->path);
    free(f->name);
    free(f);
    recorder_clear();
    return 0;
}

/* Runs one iteration of the client's main loop, sleeping at most 10 ms. */
static void
pump(struct vici_client *c)
{
    vici_client_run(c);
    vici_client_wait(c);
    loop_timer_wait(10);
    loop_block();
    vici_client_run(c);
}

#define PUMP_UNTIL(C, COND)                                     \
    do {                                                        \
        for (int i__ = 0; i__ < 500 && !(COND); i__++) {        \
            pump(C);                                            \
        }                                                       \
        assert_true(COND);                                      \
    } while (0)

/* Pumps the client until the server has accepted its connection. */
static void
server_accept(struct fixture *f, struct vici_client *c)
{
    assert_int_equal(f->fd, -1);
    for (int i = 0; i < 500; i++) {
        f->fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (f->fd >= 0) {
            f->len = 0;
            return;
        }
        assert_int_equal(errno, EAGAIN);
        pump(c);
    }
    fail_msg("client did not connect");
}

static void
server_close(struct fixture *f)
{
    close(f->fd);
    f->fd = -1;
    f->len = 0;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}

/* Reads from the client until one whole packet arrived and returns it,
 * length prefix included, in a new buffer (free it); '*size' gets its
 * size. */
static uint8_t *
server_recv_raw(struct fixture *f, struct vici_client *c, size_t *size)
{
    for (int i = 0; i < 500; i++) {
        if (f->len >= 4 && f->len >= 4 + (size_t) get_be32(f->buf)) {
            uint8_t *p;

            *size = 4 + get_be32(f->buf);
            p = xmemdup(f->buf, *size);
            memmove(f->buf, f->buf + *size, f->len - *size);
            f->len -= *size;
            return p;
        }
        ssize_t n = read(f->fd, f->buf + f->len, SERVER_BUF - f->len);
        if (n > 0) {
            f->len += n;
            continue;
        }
        assert_true(n < 0 && errno == EAGAIN);
        pump(c);
    }
    fail_msg("no packet from the client");
    return NULL;
}

/* Reads one packet, checks its type and name and returns it decoded. */
static struct vici_msg *
server_expect(struct fixture *f, struct vici_client *c, enum vici_op op,
              const char *name)
{
    struct vici_msg *msg;
    const char *why = NULL;
    size_t size;
    uint8_t *p = server_recv_raw(f, c, &size);

    if (vici_msg_decode(p + 4, size - 4, &msg, &why)) {
        fail_msg("client sent an undecodable packet: %s", why);
    }
    free(p);
    assert_int_equal(msg->op, op);
    if (name) {
        assert_string_equal(msg->name, name);
    } else {
        assert_null(msg->name);
    }
    return msg;
}

static void
server_expect_free(struct fixture *f, struct vici_client *c,
                   enum vici_op op, const char *name)
{
    vici_msg_destroy(server_expect(f, c, op, name));
}

/* Pumps the client until the server sees the connection closed. */
static void
server_expect_eof(struct fixture *f, struct vici_client *c)
{
    for (int i = 0; i < 500; i++) {
        ssize_t n = read(f->fd, f->buf, SERVER_BUF);
        if (!n || (n < 0 && errno == ECONNRESET)) {
            server_close(f);
            return;
        }
        assert_true(n < 0 && errno == EAGAIN);
        pump(c);
    }
    fail_msg("client did not close the connection");
}

/* Writes all of 'data', pumping client 'c' while the socket is full. */
static void
server_write(struct fixture *f, struct vici_client *c, const void *data_,
             size_t size)
{
    const uint8_t *data = data_;

    while (size) {
        ssize_t n = write(f->fd, data, size);
        if (n > 0) {
            data += n;
            size -= n;
        } else {
            assert_true(n < 0 && errno == EAGAIN);
            pump(c);
        }
    }
}

/* Sends a packet of type 'op' named 'name' (or NULL), with member v=VALUE
 * if 'value' is nonnull. */
static void
server_send(struct fixture *f, enum vici_op op, const char *name,
            const char *value)
{
    struct vici_builder *b = vici_builder_create(op, name);
    uint8_t *data;
    size_t size;

    if (value) {
        vici_add_kv(b, "v", value);
    }
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    server_write(f, f->client, data, size);
    vici_packet_free(data, size);
}

/* Creates a client registering 'events' and walks it through connecting,
 * registering (each answered with 'answers[i]') and being reported up. */
static struct vici_client *
connect_client(struct fixture *f, const char *const *events,
               const enum vici_op *answers)
{
    int error = 1;
    struct vici_client *c = vici_client_create(f->name, events, TIMEOUT_MS,
                                               &hooks, &error);
    size_t n;

    assert_non_null(c);
    assert_int_equal(error, 0);
    f->client = rec.client = c;
    if (f->lfd < 0) {
        server_listen(f);
    }
    server_accept(f, c);
    for (n = 0; events[n]; n++) {
        server_expect_free(f, c, VICI_EVENT_REGISTER, events[n]);
    }
    assert_false(vici_client_is_connected(c));
    assert_int_equal(rec.n_up, 0);
    for (size_t i = 0; i < n; i++) {
        server_send(f, answers ? answers[i] : VICI_EVENT_CONFIRM, NULL,
                    NULL);
    }
    PUMP_UNTIL(c, rec.n_up == 1);
    assert_true(vici_client_is_connected(c));
    return c;
}

static int
request(struct vici_client *c, const char *cmd, const char *value,
        const char *stream_event, int tag)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST, cmd);

    if (value) {
        vici_add_kv(b, "v", value);
    }
    return vici_client_request(c, b, stream_event,
                               stream_event ? item_cb : NULL, reply_cb,
                               (void *) (intptr_t) tag);
}

static const char *const ike_updown[] = { "ike-updown", NULL };

/* Tests. */

/* The bytes of a registration and a request, and a plain answer. */
static void
test_simple(void **state)
{
    static const uint8_t reg[] = {
        0, 0, 0, 12, VICI_EVENT_REGISTER, 10,
        'i', 'k', 'e', '-', 'u', 'p', 'd', 'o', 'w', 'n',
    };
    static const uint8_t version[] = {
        0, 0, 0, 9, VICI_CMD_REQUEST, 7,
        'v', 'e', 'r', 's', 'i', 'o', 'n',
    };
    struct fixture *f = *state;
    struct vici_client *c;
    uint8_t *p;
    size_t size;
    int error = 0;

    c = vici_client_create(f->name, ike_updown, TIMEOUT_MS, &hooks, &error);
    f->client = rec.client = c;
    assert_int_equal(error, 0);
    server_listen(f);
    server_accept(f, c);
    p = server_recv_raw(f, c, &size);
    assert_int_equal(size, sizeof reg);
    assert_memory_equal(p, reg, sizeof reg);
    free(p);

    /* Not usable until charon confirmed the registrations. */
    assert_false(vici_client_is_connected(c));
    assert_int_equal(request(c, "version", NULL, NULL, 1), -ENOTCONN);
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    PUMP_UNTIL(c, rec.n_up == 1);
    assert_true(vici_client_is_connected(c));
    assert_int_equal(vici_client_n_sent(c), 1);

    assert_int_equal(request(c, "version", NULL, NULL, 7), 0);
    assert_int_equal(vici_client_n_pending(c), 1);
    p = server_recv_raw(f, c, &size);
    assert_int_equal(size, sizeof version);
    assert_memory_equal(p, version, sizeof version);
    free(p);

    server_send(f, VICI_CMD_RESPONSE, NULL, "charon");
    PUMP_UNTIL(c, rec.n_replies == 1);
    assert_int_equal(rec.replies[0].tag, 7);
    assert_int_equal(rec.replies[0].error, 0);
    assert_string_equal(rec.replies[0].value, "charon");
    assert_int_equal(vici_client_n_pending(c), 0);
    assert_int_equal(vici_client_n_sent(c), 2);
    assert_int_equal(vici_client_n_reconnects(c), 0);
    assert_int_equal(rec.n_down, 0);
}

/* Many requests are written at once and answered in order. */
static void
test_pipelined(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);
    char cmd[16], val[16];

    for (int i = 0; i < 10; i++) {
        snprintf(cmd, sizeof cmd, "cmd%d", i);
        assert_int_equal(request(c, cmd, NULL, NULL, 100 + i), 0);
    }
    assert_int_equal(vici_client_n_pending(c), 10);
    for (int i = 0; i < 10; i++) {
        snprintf(cmd, sizeof cmd, "cmd%d", i);
        server_expect_free(f, c, VICI_CMD_REQUEST, cmd);
    }
    /* All ten are out before the first answer. */
    assert_int_equal(rec.n_replies, 0);
    for (int i = 0; i < 10; i++) {
        snprintf(val, sizeof val, "answer%d", i);
        server_send(f, VICI_CMD_RESPONSE, NULL, val);
    }
    PUMP_UNTIL(c, rec.n_replies == 10);
    for (int i = 0; i < 10; i++) {
        snprintf(val, sizeof val, "answer%d", i);
        assert_int_equal(rec.replies[i].tag, 100 + i);
        assert_int_equal(rec.replies[i].error, 0);
        assert_string_equal(rec.replies[i].value, val);
    }
    assert_int_equal(vici_client_n_pending(c), 0);
}

/* A streamed request registers its event, gets its items, unregisters;
 * permanent events go to the hook meanwhile; stray events are dropped;
 * items push the deadline back. */
static void
test_streamed(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);

    assert_int_equal(request(c, "list-conns", NULL, "list-conn", 1), 0);
    assert_int_equal(request(c, "version", NULL, NULL, 2), 0);
    assert_int_equal(vici_client_n_pending(c), 2);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "list-conn");
    server_expect_free(f, c, VICI_CMD_REQUEST, "list-conns");
    server_expect_free(f, c, VICI_EVENT_UNREGISTER, "list-conn");
    server_expect_free(f, c, VICI_CMD_REQUEST, "version");

    /* An item before the registration is confirmed is not the request's. */
    server_send(f, VICI_EVENT, "list-conn", "early");
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    server_send(f, VICI_EVENT, "list-conn", "conn-a");
    server_send(f, VICI_EVENT, "ike-updown", "up");
    PUMP_UNTIL(c, rec.n_items == 1 && rec.n_events == 1);

    /* Each item is progress: the request does not time out. */
    time_warp(TIMEOUT_MS - 100);
    pump(c);
    server_send(f, VICI_EVENT, "list-conn", "conn-b");
    PUMP_UNTIL(c, rec.n_items == 2);
    time_warp(TIMEOUT_MS - 100);
    pump(c);
    assert_int_equal(rec.n_replies, 0);

    server_send(f, VICI_CMD_RESPONSE, NULL, "listed");
    server_send(f, VICI_EVENT, "list-conn", "late");
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    server_send(f, VICI_EVENT, "list-conn", "after");
    server_send(f, VICI_CMD_RESPONSE, NULL, "5.9.8");
    PUMP_UNTIL(c, rec.n_replies == 2);

    assert_int_equal(rec.n_items, 2);
    assert_int_equal(rec.items[0].tag, 1);
    assert_string_equal(rec.items[0].name, "list-conn");
    assert_string_equal(rec.items[0].value, "conn-a");
    assert_int_equal(rec.items[1].tag, 1);
    assert_string_equal(rec.items[1].value, "conn-b");
    assert_int_equal(rec.n_events, 1);
    assert_string_equal(rec.events[0].name, "ike-updown");
    assert_string_equal(rec.events[0].value, "up");
    assert_int_equal(rec.replies[0].tag, 1);
    assert_int_equal(rec.replies[0].error, 0);
    assert_string_equal(rec.replies[0].value, "listed");
    assert_int_equal(rec.replies[1].tag, 2);
    assert_string_equal(rec.replies[1].value, "5.9.8");
    assert_int_equal(vici_client_n_pending(c), 0);
    assert_true(vici_client_is_connected(c));
}

/* Two streamed requests for the same event do not overlap, and each gets
 * its own items. */
static void
test_streamed_serialized(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);

    assert_int_equal(request(c, "list-sas", NULL, "list-sa", 1), 0);
    assert_int_equal(request(c, "list-sas", "ike1", "list-sa", 2), 0);
    for (int i = 0; i < 2; i++) {
        server_expect_free(f, c, VICI_EVENT_REGISTER, "list-sa");
        server_expect_free(f, c, VICI_CMD_REQUEST, "list-sas");
        server_expect_free(f, c, VICI_EVENT_UNREGISTER, "list-sa");
    }
    for (int i = 1; i <= 2; i++) {
        char val[16];

        snprintf(val, sizeof val, "sa%d", i);
        server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
        server_send(f, VICI_EVENT, "list-sa", val);
        server_send(f, VICI_CMD_RESPONSE, NULL, NULL);
        server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    }
    PUMP_UNTIL(c, rec.n_replies == 2);
    assert_int_equal(rec.n_items, 2);
    assert_int_equal(rec.items[0].tag, 1);
    assert_string_equal(rec.items[0].value, "sa1");
    assert_int_equal(rec.items[1].tag, 2);
    assert_string_equal(rec.items[1].value, "sa2");
    assert_int_equal(rec.replies[0].tag, 1);
    assert_int_equal(rec.replies[1].tag, 2);
    assert_int_equal(rec.replies[1].error, 0);
}

/* Permanent events reach the hook; others are dropped. */
static void
test_permanent_events(void **state)
{
    static const char *const events[] = {
        "ike-updown", "child-updown", "ike-rekey", "child-rekey", NULL,
    };
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, events, NULL);

    server_send(f, VICI_EVENT, "child-rekey", "1");
    server_send(f, VICI_EVENT, "list-sa", "stray");
    server_send(f, VICI_EVENT, "ike-updown", "2");
    server_send(f, VICI_EVENT, "log", "stray");
    server_send(f, VICI_EVENT, "child-updown", "3");
    server_send(f, VICI_EVENT, "ike-rekey", "4");
    PUMP_UNTIL(c, rec.n_events == 4);
    pump(c);
    assert_int_equal(rec.n_events, 4);
    assert_string_equal(rec.events[0].name, "child-rekey");
    assert_string_equal(rec.events[1].name, "ike-updown");
    assert_string_equal(rec.events[2].name, "child-updown");
    assert_string_equal(rec.events[3].name, "ike-rekey");
    for (int i = 0; i < 4; i++) {
        char val[4];

        snprintf(val, sizeof val, "%d", i + 1);
        assert_string_equal(rec.events[i].value, val);
    }

    /* A burst larger than the client's per-run budget all arrives, in
     * order. */
    for (int i = 0; i < 250; i++) {
        char val[8];

        snprintf(val, sizeof val, "%d", i);
        server_send(f, VICI_EVENT, "ike-updown", val);
    }
    PUMP_UNTIL(c, rec.n_events == 4 + 250);
    for (int i = 0; i < 250; i++) {
        assert_int_equal(atoi(rec.events[4 + i].value), i);
    }

    /* A streamed request may not take over a permanent event. */
    assert_int_equal(request(c, "list-x", NULL, "ike-updown", 1), -EINVAL);
}

/* With a read interval, what charon sends after a read waits in the
 * socket until the interval has passed, and is then read in one go, in
 * order; the client does not wake for it meanwhile. */
static void
test_read_interval(void **state)
{
    static const char *const events[] = { "log", NULL };
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, events, NULL);

    vici_client_set_read_interval(c, 1000);
    server_send(f, VICI_EVENT, "log", "0");
    PUMP_UNTIL(c, rec.n_events == 1);

    for (int i = 1; i <= 20; i++) {
        char val[4];

        snprintf(val, sizeof val, "%d", i);
        server_send(f, VICI_EVENT, "log", val);
    }
    /* Within the interval: the socket is not even polled. */
    unsigned long long int wakeups = loop_wakeups();
    vici_client_run(c);
    vici_client_wait(c);
    loop_timer_wait(50);
    loop_block();
    vici_client_run(c);
    assert_int_equal(rec.n_events, 1);
    assert_int_equal(loop_wakeups() - wakeups, 1);   /* The 50 ms timer. */

    time_warp(1000);
    PUMP_UNTIL(c, rec.n_events == 21);
    for (int i = 0; i <= 20; i++) {
        assert_int_equal(atoi(rec.events[i].value), i);
    }

    /* Requests are still answered, a little late. */
    assert_int_equal(request(c, "version", NULL, NULL, 1), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "version");
    server_send(f, VICI_CMD_RESPONSE, NULL, "charon");
    time_warp(1000);
    PUMP_UNTIL(c, rec.n_replies == 1);
    assert_int_equal(rec.replies[0].error, 0);

    /* Back to reading at once: 0 turns batching off. */
    vici_client_set_read_interval(c, 0);
    server_send(f, VICI_EVENT, "log", "21");
    PUMP_UNTIL(c, rec.n_events == 22);
}

/* CMD_UNKNOWN fails the request alone; EVENT_UNKNOWN for a registration is
 * not fatal. */
static void
test_unknown(void **state)
{
    static const char *const events[] = { "ike-updown", "no-such", NULL };
    static const enum vici_op answers[] = {
        VICI_EVENT_CONFIRM, VICI_EVENT_UNKNOWN,
    };
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, events, answers);

    assert_int_equal(request(c, "frobnicate", NULL, NULL, 1), 0);
    assert_int_equal(request(c, "version", NULL, NULL, 2), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "frobnicate");
    server_expect_free(f, c, VICI_CMD_REQUEST, "version");
    server_send(f, VICI_CMD_UNKNOWN, NULL, NULL);
    server_send(f, VICI_CMD_RESPONSE, NULL, "ok");
    PUMP_UNTIL(c, rec.n_replies == 2);
    assert_int_equal(rec.replies[0].tag, 1);
    assert_int_equal(rec.replies[0].error, -ENOTSUP);
    assert_int_equal(rec.replies[1].tag, 2);
    assert_int_equal(rec.replies[1].error, 0);
    assert_string_equal(rec.replies[1].value, "ok");

    /* A stream registration charon refuses: the request still completes. */
    assert_int_equal(request(c, "list-x", NULL, "list-y", 3), 0);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "list-y");
    server_expect_free(f, c, VICI_CMD_REQUEST, "list-x");
    server_expect_free(f, c, VICI_EVENT_UNREGISTER, "list-y");
    server_send(f, VICI_EVENT_UNKNOWN, NULL, NULL);
    server_send(f, VICI_EVENT, "list-y", "not routed");
    server_send(f, VICI_CMD_RESPONSE, NULL, "done");
    server_send(f, VICI_EVENT_UNKNOWN, NULL, NULL);
    PUMP_UNTIL(c, rec.n_replies == 3);
    assert_int_equal(rec.replies[2].error, 0);
    assert_int_equal(rec.n_items, 0);
    PUMP_UNTIL(c, vici_client_n_sent(c) == 2 + 2 + 3);
    pump(c);
    assert_true(vici_client_is_connected(c));
    assert_int_equal(rec.n_down, 0);
}

/* A request's clock starts when it reaches the head of the queue; on
 * expiry it fails with -ETIMEDOUT, the others with -ECONNRESET, and the
 * client reconnects and registers again. */
static void
test_timeout(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);

    assert_int_equal(request(c, "a", NULL, NULL, 1), 0);
    assert_int_equal(request(c, "b", NULL, NULL, 2), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "a");
    server_expect_free(f, c, VICI_CMD_REQUEST, "b");

    /* "a" answered just in time; "b" then gets a full budget. */
    time_warp(TIMEOUT_MS - 100);
    pump(c);
    server_send(f, VICI_CMD_RESPONSE, NULL, "a");
    PUMP_UNTIL(c, rec.n_replies == 1);
    time_warp(TIMEOUT_MS - 100);
    pump(c);
    assert_int_equal(rec.n_replies, 1);
    server_send(f, VICI_CMD_RESPONSE, NULL, "b");
    PUMP_UNTIL(c, rec.n_replies == 2);
    assert_int_equal(rec.replies[1].error, 0);

    /* Now charon hangs. */
    assert_int_equal(request(c, "c", NULL, NULL, 3), 0);
    assert_int_equal(request(c, "list-sas", NULL, "list-sa", 4), 0);
    assert_int_equal(request(c, "e", NULL, NULL, 5), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "c");
    time_warp(TIMEOUT_MS + 1);
    PUMP_UNTIL(c, rec.n_replies == 5);
    assert_int_equal(rec.replies[2].tag, 3);
    assert_int_equal(rec.replies[2].error, -ETIMEDOUT);
    assert_int_equal(rec.replies[3].tag, 4);
    assert_int_equal(rec.replies[3].error, -ECONNRESET);
    assert_int_equal(rec.replies[4].tag, 5);
    assert_int_equal(rec.replies[4].error, -ECONNRESET);
    assert_int_equal(rec.n_down, 1);
    assert_int_equal(rec.n_reentrant, 1);
    assert_false(vici_client_is_connected(c));
    assert_int_equal(vici_client_n_pending(c), 0);
    assert_int_equal(vici_client_n_reconnects(c), 1);
    server_expect_eof(f, c);

    /* Reconnects after the backoff, registers again, reports up. */
    time_warp(250);
    server_accept(f, c);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "ike-updown");
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    PUMP_UNTIL(c, rec.n_up == 2);
    assert_int_equal(request(c, "version", NULL, NULL, 6), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "version");
    server_send(f, VICI_CMD_RESPONSE, NULL, "again");
    PUMP_UNTIL(c, rec.n_replies == 6);
    assert_int_equal(rec.replies[5].error, 0);
    assert_string_equal(rec.replies[5].value, "again");
}

/* A registration that charon never answers also resets. */
static void
test_registration_timeout(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = vici_client_create(f->name, ike_updown,
                                               TIMEOUT_MS, &hooks, NULL);

    f->client = rec.client = c;
    server_listen(f);
    server_accept(f, c);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "ike-updown");
    time_warp(TIMEOUT_MS + 1);
    server_expect_eof(f, c);
    /* It was never reported up, so it is not reported down. */
    assert_int_equal(rec.n_up, 0);
    assert_int_equal(rec.n_down, 0);
    time_warp(250);
    server_accept(f, c);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "ike-updown");
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    PUMP_UNTIL(c, rec.n_up == 1);
}

/* charon goes away: pending requests fail, the owner is told, requests
 * get -ENOTCONN, and the client reconnects with growing backoff. */
static void
test_server_close(void **state)
{
    static const char *const events[] = {
        "ike-updown", "child-updown", NULL,
    };
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, events, NULL);

    assert_int_equal(request(c, "a", NULL, NULL, 1), 0);
    assert_int_equal(request(c, "list-conns", NULL, "list-conn", 2), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "a");
    server_send(f, VICI_CMD_RESPONSE, NULL, "a");
    server_close(f);
    close(f->lfd);
    f->lfd = -1;
    unlink(f->path);

    PUMP_UNTIL(c, rec.n_down == 1);
    assert_int_equal(rec.n_replies, 2);
    assert_int_equal(rec.replies[0].error, 0);
    assert_int_equal(rec.replies[1].tag, 2);
    assert_int_equal(rec.replies[1].error, -ECONNRESET);
    assert_false(vici_client_is_connected(c));
    assert_int_equal(request(c, "b", NULL, NULL, 3), -ENOTCONN);
    assert_int_equal(vici_client_n_pending(c), 0);
    assert_int_equal(vici_client_n_reconnects(c), 1);

    /* The socket is gone: attempts at +50, +150 and +350 ms fail. */
    time_warp(50);
    pump(c);
    time_warp(100);
    pump(c);
    time_warp(200);
    pump(c);
    /* The next attempt would be 400 ms later, but the socket coming back
     * is noticed at once (inotify on its directory). */
    server_listen(f);
    pump(c);
    pump(c);
    struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 0), 1);
    server_accept(f, c);
    server_expect_free(f, c, VICI_EVENT_REGISTER, "ike-updown");
    server_expect_free(f, c, VICI_EVENT_REGISTER, "child-updown");
    assert_int_equal(rec.n_up, 1);
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    PUMP_UNTIL(c, rec.n_up == 2);
    assert_true(vici_client_is_connected(c));

    /* The backoff starts over after a good connection. */
    server_close(f);
    PUMP_UNTIL(c, rec.n_down == 2);
    time_warp(250);
    server_accept(f, c);
    assert_int_equal(vici_client_n_reconnects(c), 2);
}

/* Requests before the first connection, and invalid requests. */
static void
test_not_connected(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c;
    struct vici_builder *b;
    int error = 0;

    /* No socket at all. */
    c = vici_client_create(f->name, ike_updown, TIMEOUT_MS, &hooks, &error);
    f->client = c;
    assert_non_null(c);
    assert_int_equal(request(c, "version", NULL, NULL, 1), -ENOTCONN);
    pump(c);
    assert_false(vici_client_is_connected(c));
    assert_int_equal(request(c, "version", NULL, NULL, 1), -ENOTCONN);
    assert_int_equal(request(c, "list-sas", NULL, "list-sa", 1), -ENOTCONN);
    assert_int_equal(rec.n_replies, 0);
    assert_int_equal(rec.n_up + rec.n_down, 0);
    assert_int_equal(vici_client_n_pending(c), 0);

    /* Bad requests are refused whatever the state. */
    b = vici_builder_create(VICI_EVENT, "version");
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb, NULL),
                     -EINVAL);
    b = vici_builder_create(VICI_CMD_REQUEST, "version");
    vici_end_section(b);
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb, NULL),
                     -EINVAL);
    b = vici_builder_create(VICI_CMD_REQUEST, "list-sas");
    assert_int_equal(vici_client_request(c, b, "list-sa", NULL, reply_cb,
                                         NULL), -EINVAL);
    b = vici_builder_create(VICI_CMD_REQUEST, "list-sas");
    assert_int_equal(vici_client_request(c, b, "", item_cb, reply_cb, NULL),
                     -EINVAL);

    /* Bad names and arguments at creation. */
    assert_null(vici_client_create("bogus:x", NULL, 1000, &hooks, &error));
    assert_true(error < 0);
    error = 0;
    assert_null(vici_client_create("unix:", NULL, 1000, &hooks, &error));
    assert_int_equal(error, -EINVAL);
    assert_null(vici_client_create(f->name, NULL, 0, &hooks, &error));
    assert_int_equal(error, -EINVAL);
    {
        static const char *const empty[] = { "", NULL };
        assert_null(vici_client_create(f->name, empty, 1000, NULL, &error));
        assert_int_equal(error, -EINVAL);
    }
    /* No events and no hooks is fine: up at once on connect. */
    vici_client_destroy(c);
    f->client = c = vici_client_create(f->name, NULL, 1000, NULL, &error);
    assert_non_null(c);
    server_listen(f);
    server_accept(f, c);
    PUMP_UNTIL(c, vici_client_is_connected(c));
    vici_client_destroy(NULL);
}

/* Destroying the client cancels everything queued or in flight, once. */
static void
test_destroy_pending(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);

    assert_int_equal(request(c, "a", NULL, NULL, 1), 0);
    assert_int_equal(request(c, "list-sas", NULL, "list-sa", 2), 0);
    server_expect_free(f, c, VICI_CMD_REQUEST, "a");
    server_expect_free(f, c, VICI_EVENT_REGISTER, "list-sa");
    server_send(f, VICI_CMD_RESPONSE, NULL, "a");
    server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
    server_send(f, VICI_EVENT, "list-sa", "sa");
    PUMP_UNTIL(c, rec.n_items == 1);
    /* Queued but never written. */
    assert_int_equal(request(c, "b", NULL, NULL, 3), 0);
    assert_int_equal(vici_client_n_pending(c), 2);

    rec.client = NULL;
    vici_client_destroy(c);
    f->client = NULL;
    assert_int_equal(rec.n_replies, 3);
    assert_int_equal(rec.replies[0].error, 0);
    assert_int_equal(rec.replies[1].tag, 2);
    assert_int_equal(rec.replies[1].error, -ECANCELED);
    assert_int_equal(rec.replies[2].tag, 3);
    assert_int_equal(rec.replies[2].error, -ECANCELED);
    /* The owner is tearing down: no connection upcall. */
    assert_int_equal(rec.n_down, 0);
}

/* A packet over VICI_MAX_PACKET, garbage, or an answer nobody asked for
 * makes the client drop the connection and reconnect. */
static void
test_protocol_errors(void **state)
{
    static const uint8_t oversized[] = { 0, 8, 0, 1, VICI_CMD_RESPONSE };
    static const uint8_t garbage[] = { 0, 0, 0, 2, 42, 0 };
    static const uint8_t empty[] = { 0, 0, 0, 0 };
    struct {
        const uint8_t *data;
        size_t size;
        bool pending;           /* Leave a request pending. */
    } cases[] = {
        { oversized, sizeof oversized, true },
        { garbage, sizeof garbage, true },
        { empty, sizeof empty, false },
        { NULL, 0, false },     /* Unsolicited CMD_RESPONSE. */
        { NULL, 0, true },      /* EVENT_CONFIRM for a command. */
    };
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);

    assert_int_equal(0x80001, VICI_MAX_PACKET + 1);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        size_t n_replies = rec.n_replies;

        if (cases[i].pending) {
            assert_int_equal(request(c, "x", NULL, NULL, (int) i), 0);
            server_expect_free(f, c, VICI_CMD_REQUEST, "x");
        }
        if (cases[i].data) {
            server_write(f, c, cases[i].data, cases[i].size);
        } else {
            server_send(f, cases[i].pending ? VICI_EVENT_CONFIRM
                                            : VICI_CMD_RESPONSE, NULL, NULL);
        }
        PUMP_UNTIL(c, rec.n_down == (int) i + 1);
        if (cases[i].pending) {
            assert_int_equal(rec.n_replies, n_replies + 1);
            assert_int_equal(rec.replies[n_replies].error, -ECONNRESET);
        }
        assert_int_equal(vici_client_n_reconnects(c), i + 1);
        server_expect_eof(f, c);

        /* Each good connection starts the backoff over. */
        time_warp(250);
        server_accept(f, c);
        server_expect_free(f, c, VICI_EVENT_REGISTER, "ike-updown");
        server_send(f, VICI_EVENT_CONFIRM, NULL, NULL);
        PUMP_UNTIL(c, rec.n_up == (int) i + 2);
    }
}

/* Big packets in both directions, written and read in pieces; secrets do
 * not reach the debug log. */
static void
test_large_and_partial(void **state)
{
    struct fixture *f = *state;
    struct vici_client *c = connect_client(f, ike_updown, NULL);
    char *log_name = xasprintf("%s/log", f->dir);
    char *big = xmalloc(60001);
    struct vici_builder *b;
    struct secret *psk;
    struct vici_msg *msg;
    uint8_t *data;
    size_t size;
    char *err;

    /* Debug logging on, into a file we can search. */
    assert_int_equal(log_set_file(log_name), 0);
    err = log_set_levels_from_string("vici_client:file:dbg");
    assert_null(err);

    /* A 420 kB request does not fit in the socket buffer. */
    memset(big, 'x', 60000);
    big[60000] = '\0';
    b = vici_builder_create(VICI_CMD_REQUEST, "load-big");
    for (int i = 0; i < 7; i++) {
        vici_add_kv_fmt(b, "k", "%d%s", i, big);
    }
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb,
                                         (void *) (intptr_t) 1), 0);
    psk = secret_create("s3cr3t-PSK-value", 16);
    b = vici_builder_create(VICI_CMD_REQUEST, "load-shared");
    vici_add_kv(b, "type", "IKE");
    vici_add_kv_secret(b, "data", psk);
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb,
                                         (void *) (intptr_t) 2), 0);
    secret_destroy(psk);

    msg = server_expect(f, c, VICI_CMD_REQUEST, "load-big");
    assert_int_equal(msg->root.n_children, 7);
    for (int i = 0; i < 7; i++) {
        const struct vici_node *n = msg->root.children[i];
        assert_int_equal(n->size, 60001);
        assert_int_equal(n->value[0], '0' + i);
    }
    vici_msg_destroy(msg);
    msg = server_expect(f, c, VICI_CMD_REQUEST, "load-shared");
    assert_string_equal(vici_node_get_str(&msg->root, "data"),
                        "s3cr3t-PSK-value");
    vici_msg_destroy(msg);

    /* A response in three writes, the length prefix split. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "v", "pieces");
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    server_write(f, c, data, 2);
    pump(c);
    server_write(f, c, data + 2, 5);
    pump(c);
    assert_int_equal(rec.n_replies, 0);
    server_write(f, c, data + 7, size - 7);
    vici_packet_free(data, size);
    PUMP_UNTIL(c, rec.n_replies == 1);
    assert_string_equal(rec.replies[0].value, "pieces");

    /* A response close to the limit. */
    b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    vici_add_kv(b, "v", "big");
    for (int i = 0; i < 8; i++) {
        vici_add_kv_fmt(b, "k", "%d%s", i, big);
    }
    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    assert_true(size > 480000 && size - 4 <= VICI_MAX_PACKET);
    server_write(f, c, data, size);
    vici_packet_free(data, size);
    PUMP_UNTIL(c, rec.n_replies == 2);
    assert_int_equal(rec.replies[1].error, 0);
    assert_string_equal(rec.replies[1].value, "big");

    /* Then small traffic again. */
    server_send(f, VICI_EVENT, "ike-updown", "small");
    PUMP_UNTIL(c, rec.n_events == 1);
    assert_true(vici_client_is_connected(c));

    /* The debug log shows the traffic but not the PSK. */
    err = log_set_levels_from_string("vici_client:file:info");
    assert_null(err);
    {
        FILE *file = fopen(log_name, "r");
        char line[4096];
        bool saw_shared = false;

        assert_non_null(file);
        while (fgets(line, sizeof line, file)) {
            assert_null(strstr(line, "s3cr3t"));
            if (strstr(line, "load-shared")) {
                saw_shared = true;
            }
        }
        fclose(file);
        assert_true(saw_shared);
    }
    free(big);
    free(log_name);
}

/* Real charon. */

static bool
charon_start(struct fixture *f, char **why)
{
    char *conf = xasprintf("%s/strongswan.conf", f->dir);
    char *vici = xasprintf("%s/charon.vici", f->dir);
    FILE *file = fopen(conf, "w");
    bool ok = false;

    assert_non_null(file);
    fprintf(file,
            "charon {\n"
            "    load = random nonce openssl pem pkcs1 x509 kernel-netlink "
            "socket-default vici\n"
            "    install_routes = no\n"
            "    plugins {\n"
            "        vici {\n"
            "            socket = unix://%s\n"
            "        }\n"
            "    }\n"
            "    filelog {\n"
            "        log {\n"
            "            path = %s/charon.log\n"
            "            default = 1\n"
            "        }\n"
            "    }\n"
            "    syslog {\n"
            "    }\n"
            "}\n", vici, f->dir);
    fclose(file);

    f->charon = fork();
    assert_true(f->charon >= 0);
    if (!f->charon) {
        /* charon writes /var/run/charon.pid and refuses to run twice: give
         * it its own /run, and its own network namespace for the IKE
         * ports and the XFRM state. */
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        setenv("STRONGSWAN_CONF", conf, 1);
        execlp("unshare", "unshare", "--mount", "--net",
               "--propagation", "private", "sh", "-c",
               "mount -t tmpfs tmpfs /run && exec " CHARON, (char *) NULL);
        _exit(127);
    }

    for (int i = 0; i < 200; i++) {
        struct stat st;
        int status;

        if (!stat(vici, &st) && S_ISSOCK(st.st_mode)) {
            free(f->name);
            f->name = xasprintf("unix:%s", vici);
            ok = true;
            break;
        }
        if (waitpid(f->charon, &status, WNOHANG) == f->charon) {
            f->charon = 0;
            *why = xasprintf("charon did not start (status %d); see %s",
                             status, f->dir);
            break;
        }
        usleep(50 * 1000);
    }
    if (!ok && f->charon) {
        *why = xstrdup("charon did not open its VICI socket");
    }
    free(conf);
    free(vici);
    return ok;
}

static void
test_real_charon(void **state)
{
    static const char *const events[] = {
        "ike-updown", "child-updown", "ike-rekey", "child-rekey", NULL,
    };
    struct fixture *f = *state;
    struct vici_client *c;
    struct vici_builder *b;
    struct secret *psk;
    char *why = NULL;

    if (geteuid() || access(CHARON, X_OK)) {
        print_message("skipping: needs root and " CHARON "\n");
        skip();
    }
    if (!charon_start(f, &why)) {
        print_message("skipping: %s\n", why);
        free(why);
        kill_charon(f);
        skip();
    }

    c = vici_client_create(f->name, events, 5000, &hooks, NULL);
    f->client = rec.client = c;
    for (int i = 0; i < 500 && !rec.n_up; i++) {
        pump(c);
    }
    assert_int_equal(rec.n_up, 1);

    b = vici_builder_create(VICI_CMD_REQUEST, "version");
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb,
                                         (void *) (intptr_t) 1), 0);
    assert_int_equal(request(c, "no-such-command", NULL, NULL, 2), 0);

    /* A conn and a PSK, then list them back. */
    b = vici_builder_create(VICI_CMD_REQUEST, "load-conn");
    vici_begin_section(b, "vc-test");
    vici_add_kv(b, "version", "2");
    vici_begin_list(b, "remote_addrs");
    vici_list_item(b, "192.0.2.2");
    vici_end_list(b);
    vici_begin_section(b, "local");
    vici_add_kv(b, "auth", "psk");
    vici_end_section(b);
    vici_begin_section(b, "remote");
    vici_add_kv(b, "auth", "psk");
    vici_end_section(b);
    vici_begin_section(b, "children");
    vici_begin_section(b, "vc-test");
    vici_add_kv(b, "mode", "transport");
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb,
                                         (void *) (intptr_t) 3), 0);
    psk = secret_create("real-charon-psk", 15);
    b = vici_builder_create(VICI_CMD_REQUEST, "load-shared");
    vici_add_kv(b, "type", "IKE");
    vici_add_kv_secret(b, "data", psk);
    vici_begin_list(b, "owners");
    vici_list_item(b, "192.0.2.2");
    vici_end_list(b);
    secret_destroy(psk);
    assert_int_equal(vici_client_request(c, b, NULL, NULL, reply_cb,
                                         (void *) (intptr_t) 4), 0);
    assert_int_equal(request(c, "list-conns", NULL, "list-conn", 5), 0);
    assert_int_equal(request(c, "list-sas", NULL, "list-sa", 6), 0);
    assert_int_equal(request(c, "list-conns", NULL, "list-conn", 7), 0);

    for (int i = 0; i < 500 && rec.n_replies < 7; i++) {
        pump(c);
    }
    assert_int_equal(rec.n_replies, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rec.replies[i].tag, i + 1);
        assert_int_equal(rec.replies[i].error, i == 1 ? -ENOTSUP : 0);
    }
    assert_non_null(rec.replies[0].daemon);
    assert_string_equal(rec.replies[0].daemon, "charon");
    assert_true(rec.replies[2].success);
    assert_true(rec.replies[3].success);
    /* Each list-conns saw the one conn, as its own item. */
    assert_int_equal(rec.n_items, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rec.items[i].tag, i ? 7 : 5);
        assert_string_equal(rec.items[i].name, "list-conn");
        assert_non_null(rec.items[i].first_key);
        assert_string_equal(rec.items[i].first_key, "vc-test");
    }
    assert_int_equal(rec.n_down, 0);
    assert_true(vici_client_is_connected(c));

    rec.client = NULL;
    vici_client_destroy(c);
    f->client = NULL;
    kill_charon(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
        T(test_simple),
        T(test_pipelined),
        T(test_streamed),
        T(test_streamed_serialized),
        T(test_permanent_events),
        T(test_read_interval),
        T(test_unknown),
        T(test_timeout),
        T(test_registration_timeout),
        T(test_server_close),
        T(test_not_connected),
        T(test_destroy_pending),
        T(test_protocol_errors),
        T(test_large_and_partial),
        T(test_real_charon),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
