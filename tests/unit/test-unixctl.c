/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the control socket (lib/unixctl.c) and the daemon
 * plumbing (lib/daemon.c).
 *
 * The server runs in this process, in a fresh temporary run directory
 * ($OVS_RUNDIR); clients are raw Unix sockets speaking JSON-RPC, and each
 * test drives the poll loop itself (run, wait, loop_block() with a short
 * timer) until the answer it waits for arrives or a deadline passes.
 *
 * For real compatibility, the last tests run Debian's /usr/bin/ovs-appctl
 * (OVS 3.1) against the server, with a pidfile made by daemon_start(); and
 * the daemon tests fork to check --detach, --monitor and pidfile locking
 * across processes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
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

#include "daemon.h"
#include "ds.h"
#include "log.h"
#include "loop.h"
#include "timeval.h"
#include "unit-util.h"
#include "unixctl.h"
#include "util.h"

#define PROGRAM "test-unixctl"
#define OVS_APPCTL "/usr/bin/ovs-appctl"
#define DEADLINE_MS 10000
#define MAX_DEFERRED (UNIXCTL_MAX_CONNS + 8)

/* The server under test and what the test commands saw. */
struct fixture {
    char *dir;                  /* Temporary run directory. */
    struct unixctl_server *server;

    /* test/echo. */
    int echo_argc;              /* Its last 'argc'. */
    char *echo_argv0;           /* Its last 'argv[0]'. */
    void *echo_aux;             /* Its last 'aux'. */

    /* test/defer: requests still owing a reply. */
    struct unixctl_conn *deferred[MAX_DEFERRED];
    size_t n_deferred;
};

static struct fixture fx;
static int echo_aux_token;      /* Its address is test/echo's 'aux'. */

/* A raw client: a socket and what it received so far. */
struct client {
    int fd;
    struct ds in;               /* Received, not yet parsed. */
    bool eof;                   /* The server closed the connection. */
    int next_id;                /* For requests. */
};

/* Test commands. */

static void
echo_cb(struct unixctl_conn *conn, int argc, const char *argv[], void *aux)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    fx.echo_argc = argc;
    free(fx.echo_argv0);
    fx.echo_argv0 = xstrdup(argv[0]);
    fx.echo_aux = aux;
    assert_null(argv[argc]);
    for (int i = 1; i < argc; i++) {
        ds_put_format(&s, "%s%s", i > 1 ? " " : "", argv[i]);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
fail_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__,
        const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    unixctl_command_reply_error(conn, "it failed");
}

static void
defer_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__,
         const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    assert_true(fx.n_deferred < MAX_DEFERRED);
    fx.deferred[fx.n_deferred++] = conn;
}

static void
hidden_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__,
          const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    unixctl_command_reply(conn, "hidden\n");
}

static void
big_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__, const char *argv[],
       void *aux OVS_UNUSED__)
{
    long long int n;

    if (!str_to_llong_range(argv[1], 10, 1, 64 * 1024 * 1024, &n)) {
        unixctl_command_reply_error(conn, "bad size");
        return;
    }
    char *s = xmalloc(n + 1);
    memset(s, 'x', n);
    s[n - 1] = '\n';
    s[n] = '\0';
    unixctl_command_reply(conn, s);
    free(s);
}

static void
binary_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__,
          const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    unixctl_command_reply(conn, "eth\xff\xfe" "0");
}

static void
empty_cb(struct unixctl_conn *conn, int argc OVS_UNUSED__,
         const char *argv[] OVS_UNUSED__, void *aux OVS_UNUSED__)
{
    unixctl_command_reply(conn, NULL);
}

static void
register_test_commands(void)
{
    unixctl_command_register("test/echo", "[ARG...]", 0, 3, echo_cb,
                             &echo_aux_token);
    unixctl_command_register("test/needs-one", "ARG [ARG]", 1, 2, echo_cb,
                             &echo_aux_token);
    unixctl_command_register("test/fail", "", 0, 0, fail_cb, NULL);
    unixctl_command_register("test/defer", "", 0, 0, defer_cb, NULL);
    unixctl_command_register("test/hidden", NULL, 0, 0, hidden_cb, NULL);
    unixctl_command_register("test/big", "BYTES", 1, 1, big_cb, NULL);
    unixctl_command_register("test/binary", "", 0, 0, binary_cb, NULL);
    unixctl_command_register("test/empty", "", 0, 0, empty_cb, NULL);
}

static void
unregister_test_commands(void)
{
    static const char *const names[] = {
        "test/echo", "test/needs-one", "test/fail", "test/defer",
        "test/hidden", "test/big", "test/binary", "test/empty",
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        unixctl_command_unregister(names[i]);
    }
}

/* Fixture. */

static int
setup(void **state OVS_UNUSED__)
{
    memset(&fx, 0, sizeof fx);
    fx.dir = ut_tmpdir_create("test-unixctl");
    if (!fx.dir) {
        return -1;
    }
    setenv("OVS_RUNDIR", fx.dir, 1);
    daemon_set_program_name("/usr/sbin/" PROGRAM);
    register_test_commands();
    return unixctl_server_create(NULL, &fx.server) ? -1 : 0;
}

static int
teardown(void **state OVS_UNUSED__)
{
    unixctl_server_destroy(fx.server);
    /* Dying conns are freed by their replies. */
    for (size_t i = 0; i < fx.n_deferred; i++) {
        unixctl_command_reply(fx.deferred[i], "late");
    }
    unregister_test_commands();
    daemon_remove_pidfile();
    free(fx.echo_argv0);
    ut_tmpdir_remove(fx.dir);
    free(fx.dir);
    return 0;
}

/* Loop driving. */

/* One iteration of a daemon's main loop, sleeping at most until
 * 'deadline'; also wakes for 'fd' readable if nonnegative. */
static void
step_until(int fd, long long int deadline)
{
    unixctl_server_run(fx.server);
    unixctl_server_wait(fx.server);
    if (fd >= 0) {
        loop_fd_wait(fd, POLLIN);
    }
    loop_timer_wait_until(deadline);
    loop_block();
}

/* Same, sleeping at most 20 ms. */
static void
step(int fd)
{
    step_until(fd, time_msec() + 20);
}

static void
steps(int n)
{
    for (int i = 0; i < n; i++) {
        step(-1);
    }
}

/* Clients. */

static struct client *
client_open(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct client *c = xzalloc(sizeof *c);

    assert_true(strlen(path) < sizeof sun.sun_path);
    strcpy(sun.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    assert_int_equal(connect(c->fd, (struct sockaddr *) &sun, sizeof sun),
                     0);
    ds_init(&c->in);
    return c;
}

static struct client *
client_open_default(void)
{
    return client_open(unixctl_server_get_path(fx.server));
}

static void
client_close(struct client *c)
{
    if (c) {
        if (c->fd >= 0) {
            close(c->fd);
        }
        ds_destroy(&c->in);
        free(c);
    }
}

/* Sends 'size' bytes at 'data', running the server while the socket is
 * full.  Returns false if the server hung up first. */
static bool
client_send(struct client *c, const char *data, size_t size)
{
    long long int deadline = time_msec() + DEADLINE_MS;

    while (size) {
        ssize_t n = send(c->fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            size -= n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            assert_true(time_msec() < deadline);
            step(-1);
        } else {
            return false;
        }
    }
    return true;
}

/* Sends request 'method' with 'params' (JSON text); returns its id. */
static int
client_request(struct client *c, const char *method, const char *params)
{
    int id = c->next_id++;
    char *msg = xasprintf("{\"method\":\"%s\",\"params\":%s,\"id\":%d}",
                          method, params, id);
    assert_true(client_send(c, msg, strlen(msg)));
    free(msg);
    return id;
}

/* Parses one message from what 'c' received, if a whole one is there. */
static json_t *
client_parse(struct client *c)
{
    json_error_t jerr;
    json_t *msg;

    if (!c->in.length) {
        return NULL;
    }
    msg = json_loadb(c->in.string, c->in.length, JSON_DISABLE_EOF_CHECK,
                     &jerr);
    if (msg) {
        size_t rest = c->in.length - jerr.position;
        memmove(c->in.string, c->in.string + jerr.position, rest);
        ds_truncate(&c->in, rest);
    }
    return msg;
}

/* Reads what is available without blocking. */
static void
client_read(struct client *c)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            ds_put_buffer(&c->in, buf, n);
        } else {
            if (!n || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                c->eof = true;
            }
            return;
        }
    }
}

/* Runs the server until 'c' has a whole message or 'ms' passed.  Returns
 * the message (the caller decrefs it), or NULL at end of stream or
 * timeout.  Sleeps until the deadline unless the server asks to wake up
 * or 'c' can read, so that a missed wakeup in the server fails the test
 * instead of being hidden by a periodic timer. */
static json_t *
client_recv_within(struct client *c, long long int ms)
{
    long long int deadline = time_msec() + ms;

    for (;;) {
        json_t *msg = client_parse(c);
        if (msg) {
            return msg;
        }
        if (c->eof || time_msec() >= deadline) {
            return NULL;
        }
        step_until(c->fd, deadline);
        client_read(c);
    }
}

static json_t *
client_recv(struct client *c)
{
    json_t *msg = client_recv_within(c, DEADLINE_MS);
    assert_non_null(msg);
    return msg;
}

/* Runs the server until 'c' sees the connection closed. */
static void
client_expect_eof(struct client *c)
{
    json_t *msg = client_recv_within(c, DEADLINE_MS);
    assert_null(msg);
    assert_true(c->eof);
}

/* Checks that 'reply' (consumed) answers request 'id' with 'result' or,
 * if 'error' is nonnull, with that error. */
static void
check_reply(json_t *reply, int id, const char *result, const char *error)
{
    json_t *r = json_object_get(reply, "result");
    json_t *e = json_object_get(reply, "error");

    assert_int_equal(json_object_size(reply), 3);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), id);
    if (error) {
        assert_true(json_is_null(r));
        assert_true(json_is_string(e));
        assert_string_equal(json_string_value(e), error);
    } else {
        assert_true(json_is_null(e));
        assert_true(json_is_string(r));
        assert_string_equal(json_string_value(r), result);
    }
    json_decref(reply);
}

/* Sends a request and checks its reply. */
static void
transact(struct client *c, const char *method, const char *params,
         const char *result, const char *error)
{
    int id = client_request(c, method, params);
    check_reply(client_recv(c), id, result, error);
}

static int
count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

/* Server tests. */

static void
test_server_paths(void **state OVS_UNUSED__)
{
    struct unixctl_server *s;
    char *expected;

    expected = xasprintf("%s/%s.%ld.ctl", fx.dir, PROGRAM,
                         (long int) getpid());
    assert_string_equal(unixctl_server_get_path(fx.server), expected);
    free(expected);

    assert_int_equal(unixctl_server_create("none", &s), 0);
    assert_null(s);
    unixctl_server_run(NULL);
    unixctl_server_wait(NULL);
    unixctl_server_destroy(NULL);

    assert_int_equal(unixctl_server_create("other.ctl", &s), 0);
    expected = xasprintf("%s/other.ctl", fx.dir);
    assert_string_equal(unixctl_server_get_path(s), expected);
    struct stat st;
    assert_int_equal(stat(expected, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0);
    unixctl_server_destroy(s);
    assert_int_equal(stat(expected, &st), -1);
    free(expected);

    expected = xasprintf("%s/abs.ctl", fx.dir);
    assert_int_equal(unixctl_server_create(expected, &s), 0);
    assert_string_equal(unixctl_server_get_path(s), expected);
    unixctl_server_destroy(s);
    free(expected);

    assert_int_equal(unixctl_server_create("/nonexistent/dir/x.ctl", &s),
                     -ENOENT);
    assert_null(s);
}

static void
test_list_commands_and_version(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();

    transact(c, "list-commands", "[]",
             "The available commands are:\n"
             "  list-commands           \n"
             "  set-options             [--format text|json]\n"
             "  test/big                BYTES\n"
             "  test/binary             \n"
             "  test/defer              \n"
             "  test/echo               [ARG...]\n"
             "  test/empty              \n"
             "  test/fail               \n"
             "  test/needs-one          ARG [ARG]\n"
             "  version                 \n"
             "  vlog/list               \n"
             "  vlog/reopen             \n"
             "  vlog/set                {spec | PATTERN:destination:"
             "pattern}\n",
             NULL);

    char *version = xasprintf("%s (ovsec) %s\n", PROGRAM, ovsec_version);
    transact(c, "version", "[]", version, NULL);
    free(version);

    /* Hidden commands work but are not listed. */
    transact(c, "test/hidden", "[]", "hidden\n", NULL);
    client_close(c);
}

static void
test_command_with_args(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();

    transact(c, "test/echo", "[\"a\", \"b c\", \"\\u00e9\"]",
             "a b c \xc3\xa9\n", NULL);
    assert_int_equal(fx.echo_argc, 4);
    assert_string_equal(fx.echo_argv0, "test/echo");
    assert_ptr_equal(fx.echo_aux, &echo_aux_token);

    /* No arguments: an empty reply gets no newline. */
    transact(c, "test/echo", "[]", "", NULL);
    assert_int_equal(fx.echo_argc, 1);
    transact(c, "test/empty", "[]", "", NULL);

    /* A reply that ends in a newline keeps just that one. */
    transact(c, "test/hidden", "[]", "hidden\n", NULL);

    /* Errors from the command. */
    transact(c, "test/fail", "[]", NULL, "it failed\n");

    /* Text that is not UTF-8 still makes a reply. */
    transact(c, "test/binary", "[]", "eth??0\n", NULL);

    /* Any JSON id is echoed. */
    const char *req = "{\"method\":\"test/echo\",\"params\":[\"x\"],"
                      "\"id\":{\"k\":[1,\"two\"]}}";
    assert_true(client_send(c, req, strlen(req)));
    json_t *reply = client_recv(c);
    json_t *id = json_pack("{s:[i,s]}", "k", 1, "two");
    assert_true(json_equal(json_object_get(reply, "id"), id));
    assert_string_equal(json_string_value(json_object_get(reply, "result")),
                        "x\n");
    json_decref(id);
    json_decref(reply);
    client_close(c);
}

static void
test_argument_errors(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();

    transact(c, "test/needs-one", "[]", NULL,
             "\"test/needs-one\" command requires at least 1 arguments\n");
    transact(c, "test/needs-one", "[\"1\", \"2\", \"3\"]", NULL,
             "\"test/needs-one\" command takes at most 2 arguments\n");
    transact(c, "test/needs-one", "[\"1\", 2]", NULL,
             "\"test/needs-one\" command has non-string argument\n");
    transact(c, "version", "[\"extra\"]", NULL,
             "\"version\" command takes at most 0 arguments\n");
    transact(c, "no/such-command", "[]", NULL,
             "\"no/such-command\" is not a valid command (use "
             "\"list-commands\" to see a list of valid commands)\n");

    /* The connection still works after errors. */
    transact(c, "test/needs-one", "[\"1\", \"2\"]", "1 2\n", NULL);

    /* Unregistered commands are gone. */
    unixctl_command_unregister("test/needs-one");
    unixctl_command_unregister("test/needs-one");
    transact(c, "test/needs-one", "[\"1\"]", NULL,
             "\"test/needs-one\" is not a valid command (use "
             "\"list-commands\" to see a list of valid commands)\n");
    client_close(c);
}

static void
test_protocol_errors(void **state OVS_UNUSED__)
{
    static const char *const bad[] = {
        "this is not json",
        "[1, 2, 3]",
        "{\"method\":\"version\",\"params\":[],\"id\":null}",
        "{\"method\":\"version\",\"params\":\"x\",\"id\":1}",
        "{\"method\":\"version\",\"id\":1}",
        "{\"method\":7,\"params\":[],\"id\":1}",
        "{\"result\":\"x\",\"error\":null,\"id\":1}",
        "{\"method\":\"test/echo\",\"params\":[\"a\\u0000b\"],\"id\":1}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct client *c = client_open_default();

        assert_true(client_send(c, bad[i], strlen(bad[i])));
        client_expect_eof(c);
        client_close(c);
    }

    /* The server is still fine. */
    struct client *c = client_open_default();
    transact(c, "test/echo", "[\"ok\"]", "ok\n", NULL);
    client_close(c);
}

static void
test_pipelined_requests(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    const char *reqs =
        "{\"method\":\"test/echo\",\"params\":[\"1\"],\"id\":1}"
        "{\"method\":\"test/echo\",\"params\":[\"2\"],\"id\":2}\n"
        "  {\"method\":\"test/fail\",\"params\":[],\"id\":3}";

    assert_true(client_send(c, reqs, strlen(reqs)));
    check_reply(client_recv(c), 1, "1\n", NULL);
    check_reply(client_recv(c), 2, "2\n", NULL);
    check_reply(client_recv(c), 3, NULL, "it failed\n");

    /* More requests in one write than one run handles. */
    struct ds s = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < 25; i++) {
        ds_put_format(&s, "{\"method\":\"test/echo\",\"params\":[\"%d\"],"
                      "\"id\":%d}", i, 100 + i);
    }
    assert_true(client_send(c, ds_cstr(&s), s.length));
    ds_destroy(&s);
    for (int i = 0; i < 25; i++) {
        char *text = xasprintf("%d\n", i);
        check_reply(client_recv(c), 100 + i, text, NULL);
        free(text);
    }
    client_close(c);
}

static void
test_deferred_reply(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    struct client *other = client_open_default();

    /* A deferred request, then one queued behind it. */
    int id1 = client_request(c, "test/defer", "[]");
    int id2 = client_request(c, "test/echo", "[\"after\"]");
    assert_null(client_recv_within(c, 200));
    assert_false(c->eof);
    assert_int_equal(fx.n_deferred, 1);

    /* Other clients are served meanwhile. */
    transact(other, "test/echo", "[\"meanwhile\"]", "meanwhile\n", NULL);

    /* The reply comes from outside any callback, as from a backend. */
    unixctl_command_reply(fx.deferred[0], "deferred result");
    fx.n_deferred = 0;
    check_reply(client_recv(c), id1, "deferred result\n", NULL);
    check_reply(client_recv(c), id2, "after\n", NULL);

    /* A deferred error. */
    int id3 = client_request(c, "test/defer", "[]");
    assert_null(client_recv_within(c, 100));
    assert_int_equal(fx.n_deferred, 1);
    unixctl_command_reply_error(fx.deferred[0], "backend gone");
    fx.n_deferred = 0;
    check_reply(client_recv(c), id3, NULL, "backend gone\n");

    client_close(other);
    client_close(c);
}

/* A deferred reply may come from a module that runs after the server in
 * the main loop.  A request that arrived behind it in the same read is
 * already buffered, so no fd will wake the loop: the server's wait must. */
static void
test_deferred_reply_wakeup(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    const char *reqs =
        "{\"method\":\"test/defer\",\"params\":[],\"id\":1}"
        "{\"method\":\"test/echo\",\"params\":[\"2\"],\"id\":2}";

    assert_true(client_send(c, reqs, strlen(reqs)));
    for (int i = 0; i < 100 && !fx.n_deferred; i++) {
        step(-1);
    }
    assert_int_equal(fx.n_deferred, 1);

    /* Reply after this iteration's server run, then wait and block. */
    unixctl_command_reply(fx.deferred[0], "one");
    fx.n_deferred = 0;
    long long int start = time_msec();
    unixctl_server_wait(fx.server);
    loop_timer_wait(5000);
    loop_block();
    assert_true(time_msec() - start < 2500);

    unixctl_server_run(fx.server);
    check_reply(client_recv(c), 1, "one\n", NULL);
    check_reply(client_recv(c), 2, "2\n", NULL);
    client_close(c);
}

static void
test_deferred_client_gone(void **state OVS_UNUSED__)
{
    int base = count_open_fds();
    struct client *c = client_open_default();

    client_request(c, "test/defer", "[]");
    for (int i = 0; i < 100 && !fx.n_deferred; i++) {
        step(-1);
    }
    assert_int_equal(fx.n_deferred, 1);
    assert_int_equal(count_open_fds(), base + 2);

    /* The client hangs up: the server notices and closes its end, while
     * the conn waits, dying, for its reply. */
    client_close(c);
    for (int i = 0; i < 100 && count_open_fds() != base; i++) {
        step(-1);
    }
    assert_int_equal(count_open_fds(), base);

    /* Replying frees it (ASan would report a use after free or leak). */
    unixctl_command_reply(fx.deferred[0], "nobody listens");
    fx.n_deferred = 0;
    steps(3);

    /* Same when the server goes away before the reply. */
    c = client_open_default();
    client_request(c, "test/defer", "[]");
    for (int i = 0; i < 100 && !fx.n_deferred; i++) {
        step(-1);
    }
    assert_int_equal(fx.n_deferred, 1);
    unixctl_server_destroy(fx.server);
    fx.server = NULL;
    client_expect_eof(c);
    unixctl_command_reply_error(fx.deferred[0], "too late");
    fx.n_deferred = 0;
    client_close(c);
}

static void
test_slow_reader(void **state OVS_UNUSED__)
{
    struct client *slow = client_open_default();
    struct client *fast = client_open_default();
    const size_t big = 8 * 1024 * 1024;

    /* 'slow' asks for a big reply and reads nothing for a while: the
     * server keeps serving others. */
    char *params = xasprintf("[\"%zu\"]", big);
    int id1 = client_request(slow, "test/big", params);
    int id2 = client_request(slow, "test/echo", "[\"next\"]");
    free(params);
    steps(5);
    for (int i = 0; i < 5; i++) {
        transact(fast, "test/echo", "[\"fast\"]", "fast\n", NULL);
    }

    json_t *reply = client_recv(slow);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), id1);
    assert_int_equal(json_string_length(json_object_get(reply, "result")),
                     big);
    json_decref(reply);
    check_reply(client_recv(slow), id2, "next\n", NULL);

    client_close(fast);
    client_close(slow);
}

static void
test_large_request(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    size_t n = 200 * 1024;
    char *arg = xmalloc(n + 1);

    memset(arg, 'a', n);
    arg[n] = '\0';
    char *params = xasprintf("[\"%s\"]", arg);
    char *expected = xasprintf("%s\n", arg);
    transact(c, "test/echo", params, expected, NULL);
    free(expected);
    free(params);
    free(arg);
    client_close(c);
}

static void
test_oversized_request(void **state OVS_UNUSED__)
{
#ifdef UNIXCTL_MAX_REQUEST
    struct client *c = client_open_default();
    size_t n = UNIXCTL_MAX_REQUEST + 1;
    char *arg = xmalloc(n + 1);

    /* The server hangs up before the request ends; sending may fail. */
    memset(arg, 'a', n);
    arg[n] = '\0';
    char *req = xasprintf("{\"method\":\"test/echo\",\"params\":[\"%s\"],"
                          "\"id\":1}", arg);
    client_send(c, req, strlen(req));
    client_expect_eof(c);
    free(req);
    free(arg);
    client_close(c);

    c = client_open_default();
    transact(c, "test/echo", "[\"fine\"]", "fine\n", NULL);
    client_close(c);
#else
    /* Needs a per-connection input cap in lib/jsonrpc: JSONRPC_MAX_MSG
     * (256 MiB) is far too much to send in a unit test. */
    skip();
#endif
}

static void
test_concurrent_clients(void **state OVS_UNUSED__)
{
    enum { N = 20 };
    struct client *c[N];
    int ids[N];

    for (int i = 0; i < N; i++) {
        c[i] = client_open_default();
    }
    /* Even clients defer, odd ones echo, all at once. */
    for (int i = 0; i < N; i++) {
        char *params = xasprintf("[\"%d\"]", i);
        ids[i] = client_request(c[i], i % 2 ? "test/echo" : "test/defer",
                                i % 2 ? params : "[]");
        free(params);
    }
    for (int i = 1; i < N; i += 2) {
        char *text = xasprintf("%d\n", i);
        check_reply(client_recv(c[i]), ids[i], text, NULL);
        free(text);
    }
    for (int i = 0; i < 50 && fx.n_deferred < N / 2; i++) {
        step(-1);
    }
    assert_int_equal(fx.n_deferred, N / 2);

    /* Reply in reverse order of arrival. */
    for (size_t i = fx.n_deferred; i-- > 0;) {
        char *text = xasprintf("deferred %zu", i);
        unixctl_command_reply(fx.deferred[i], text);
        free(text);
    }
    fx.n_deferred = 0;
    for (int i = 0; i < N; i += 2) {
        json_t *reply = client_recv(c[i]);
        const char *text = json_string_value(json_object_get(reply,
                                                              "result"));
        assert_non_null(text);
        assert_true(str_starts_with(text, "deferred "));
        assert_int_equal(json_integer_value(json_object_get(reply, "id")),
                         ids[i]);
        json_decref(reply);
    }
    for (int i = 0; i < N; i++) {
        client_close(c[i]);
    }
}

static void
test_connection_cap(void **state OVS_UNUSED__)
{
    struct client *c[UNIXCTL_MAX_CONNS + 1];

    /* Fill the server with idle clients, oldest first. */
    for (int i = 0; i < UNIXCTL_MAX_CONNS; i++) {
        c[i] = client_open_default();
        steps(1);
    }
    for (int i = 1; i < UNIXCTL_MAX_CONNS; i++) {
        transact(c[i], "test/echo", "[]", "", NULL);
    }

    /* One more evicts the least recently used: c[0]. */
    c[UNIXCTL_MAX_CONNS] = client_open_default();
    transact(c[UNIXCTL_MAX_CONNS], "test/echo", "[\"new\"]", "new\n", NULL);
    client_expect_eof(c[0]);
    client_close(c[0]);
    transact(c[1], "test/echo", "[\"still\"]", "still\n", NULL);

    /* When every connection owes a reply, newcomers are turned away. */
    for (int i = 1; i <= UNIXCTL_MAX_CONNS; i++) {
        client_request(c[i], "test/defer", "[]");
    }
    for (int i = 0; i < 100 && fx.n_deferred < UNIXCTL_MAX_CONNS; i++) {
        step(-1);
    }
    assert_int_equal(fx.n_deferred, UNIXCTL_MAX_CONNS);
    c[0] = client_open_default();
    client_expect_eof(c[0]);
    client_close(c[0]);

    for (size_t i = 0; i < fx.n_deferred; i++) {
        unixctl_command_reply(fx.deferred[i], "done");
    }
    fx.n_deferred = 0;
    for (int i = 1; i <= UNIXCTL_MAX_CONNS; i++) {
        json_t *reply = client_recv(c[i]);
        assert_string_equal(json_string_value(json_object_get(reply,
                                                              "result")),
                            "done\n");
        json_decref(reply);
        client_close(c[i]);
    }
}

static void
test_set_options(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();

    transact(c, "set-options", "[\"--format\", \"xml\"]", NULL,
             "option format has invalid value xml\n");
    transact(c, "set-options", "[\"--color\"]", NULL,
             "unrecognized option '--color'\n");
    transact(c, "set-options", "[\"--format\"]", NULL,
             "option '--format' requires an argument\n");
    transact(c, "set-options", "[]", NULL,
             "\"set-options\" command requires at least 1 arguments\n");

    /* JSON: text replies are wrapped, errors stay text. */
    int id = client_request(c, "set-options", "[\"--format\", \"json\"]");
    json_t *reply = client_recv(c);
    json_t *expected = json_pack("{s:{s:s,s:s},s:n,s:i}", "result",
                                 "reply-format", "plain", "reply", "",
                                 "error", "id", id);
    assert_true(json_equal(reply, expected));
    json_decref(expected);
    json_decref(reply);

    id = client_request(c, "test/echo", "[\"x\"]");
    reply = client_recv(c);
    expected = json_pack("{s:{s:s,s:s},s:n,s:i}", "result",
                         "reply-format", "plain", "reply", "x",
                         "error", "id", id);
    assert_true(json_equal(reply, expected));
    json_decref(expected);
    json_decref(reply);

    id = client_request(c, "list-commands", "[]");
    reply = client_recv(c);
    json_t *result = json_object_get(reply, "result");
    assert_true(json_is_object(result));
    assert_string_equal(json_string_value(json_object_get(result,
                                                          "test/echo")),
                        "[ARG...]");
    assert_null(json_object_get(result, "test/hidden"));
    json_decref(reply);

    transact(c, "test/fail", "[]", NULL, "it failed\n");

    /* Back to text; other connections were never affected. */
    struct client *other = client_open_default();
    transact(other, "test/echo", "[\"x\"]", "x\n", NULL);
    client_close(other);
    transact(c, "set-options", "[\"--format=text\"]", "", NULL);
    transact(c, "test/echo", "[\"x\"]", "x\n", NULL);
    client_close(c);
}

static void
test_vlog_commands(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    struct log_module *m = log_module_from_name("unixctl");
    enum log_level saved = m->levels[LOG_D_FILE];

    int id = client_request(c, "vlog/list", "[]");
    json_t *reply = client_recv(c);
    const char *text = json_string_value(json_object_get(reply, "result"));
    assert_non_null(text);
    assert_non_null(strstr(text, "console    syslog    file"));
    assert_non_null(strstr(text, "\nunixctl "));
    assert_non_null(strstr(text, "\ndaemon "));
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), id);
    json_decref(reply);

    transact(c, "vlog/set", "[\"unixctl:file:dbg\"]", "", NULL);
    assert_int_equal(m->levels[LOG_D_FILE], LOG_L_DBG);
    transact(c, "vlog/set", "[\"unixctl:file:warn\", \"daemon:file:err\"]",
             "", NULL);
    assert_int_equal(m->levels[LOG_D_FILE], LOG_L_WARN);
    transact(c, "vlog/set", "[\"nosuchmodule:dbg\"]", NULL,
             "unknown module \"nosuchmodule\"\n");
    log_set_levels(m, LOG_D_FILE, saved);
    log_set_levels(log_module_from_name("daemon"), LOG_D_FILE, LOG_L_INFO);

    /* No argument: everything at dbg, as in OVS. */
    struct log_module *d = log_module_from_name("daemon");
    transact(c, "vlog/set", "[]", "", NULL);
    for (int i = 0; i < LOG_D_N; i++) {
        assert_int_equal(m->levels[i], LOG_L_DBG);
        assert_int_equal(d->levels[i], LOG_L_DBG);
    }
    assert_null(log_set_levels_from_string("any:console:info"));
    assert_null(log_set_levels_from_string("any:syslog:off"));
    assert_null(log_set_levels_from_string("any:file:info"));

    transact(c, "vlog/reopen", "[]", NULL,
             "Logging to file not configured\n");
    client_close(c);
}

static void
test_vlog_reopen(void **state OVS_UNUSED__)
{
    struct client *c = client_open_default();
    char *file = xasprintf("%s/test.log", fx.dir);
    char *moved = xasprintf("%s/test.log.1", fx.dir);
    struct stat st;

    if (log_get_file()) {
        skip();
    }
    assert_int_equal(log_set_file(file), 0);
    assert_int_equal(rename(file, moved), 0);
    transact(c, "vlog/reopen", "[]", "", NULL);
    assert_int_equal(stat(file, &st), 0);
    free(moved);
    free(file);
    client_close(c);
}

/* Daemon tests. */

static char *
rundir_file(const char *name)
{
    return xasprintf("%s/%s", fx.dir, name);
}

static void
test_pidfile(void **state OVS_UNUSED__)
{
    struct daemon_options opts = { .pidfile = true };
    char *name = rundir_file(PROGRAM ".pid");
    char *error;
    int exit_status;
    struct stat st;
    pid_t pid;
    char buf[64];

    assert_null(daemon_get_pidfile());
    assert_int_equal(daemon_read_pidfile(PROGRAM ".pid", &pid), -ENOENT);
    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);
    assert_null(error);
    assert_int_equal(exit_status, -1);
    assert_string_equal(daemon_get_pidfile(), name);

    /* Contents, mode, no leftover temporary file. */
    assert_int_equal(stat(name, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);              /* Drops our lock!  Take it back below. */
    assert_true(n > 0);
    buf[n] = '\0';
    char *expected = xasprintf("%ld\n", (long int) getpid());
    assert_string_equal(buf, expected);
    free(expected);
    daemon_remove_pidfile();
    assert_int_equal(stat(name, &st), -1);
    assert_null(daemon_get_pidfile());

    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);
    DIR *d = opendir(fx.dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        assert_null(strstr(de->d_name, ".tmp"));
    }
    closedir(d);

    /* Our own pidfile reads as ours, without losing the lock. */
    assert_int_equal(daemon_read_pidfile(PROGRAM ".pid", &pid), 0);
    assert_int_equal(pid, getpid());

    /* Another process sees it locked by us, as ovs-appctl would. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (!child) {
        pid_t p;
        int r = daemon_read_pidfile(name, &p);
        _exit(!r && p == getppid() ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && !WEXITSTATUS(status));

    /* A second start in the same process is refused. */
    assert_int_equal(daemon_start(&opts, &exit_status, &error), -EALREADY);
    assert_non_null(error);
    free(error);

    daemon_remove_pidfile();
    daemon_remove_pidfile();
    assert_int_equal(stat(name, &st), -1);

    /* Garbage and stale files. */
    fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_int_equal(write(fd, "12345\n", 6), 6);
    close(fd);
    assert_int_equal(daemon_read_pidfile(name, &pid), -ESRCH);
    opts.pidfile_name = "custom.pid";
    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);
    free(name);
    name = rundir_file("custom.pid");
    assert_string_equal(daemon_get_pidfile(), name);
    daemon_remove_pidfile();
    free(name);
}

/* Forks a child that takes pidfile 'name' and holds it until killed.
 * Returns its pid once it holds it. */
static pid_t
fork_pidfile_holder(const char *name)
{
    int fds[2];
    char c;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        struct daemon_options opts = { .pidfile = true,
                                       .pidfile_name = name };
        int exit_status;
        char *error;

        close(fds[0]);
        if (daemon_start(&opts, &exit_status, &error)) {
            _exit(1);
        }
        c = 'x';
        if (write(fds[1], &c, 1) != 1) {
            _exit(1);
        }
        for (;;) {
            pause();
        }
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    return pid;
}

static void
test_pidfile_locked(void **state OVS_UNUSED__)
{
    struct daemon_options opts = { .pidfile = true,
                                   .pidfile_name = "locked.pid" };
    char *name = rundir_file("locked.pid");
    int exit_status;
    char *error;
    pid_t pid;
    int status;

    pid_t holder = fork_pidfile_holder(name);
    assert_int_equal(daemon_read_pidfile("locked.pid", &pid), 0);
    assert_int_equal(pid, holder);

    assert_int_equal(daemon_start(&opts, &exit_status, &error), -EBUSY);
    char *expected = xasprintf("pidfile %s is locked by pid %ld", name,
                               (long int) holder);
    assert_string_equal(error, expected);
    free(expected);
    free(error);
    assert_null(daemon_get_pidfile());

    /* --overwrite-pidfile takes it anyway. */
    opts.overwrite_pidfile = true;
    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);
    assert_int_equal(daemon_read_pidfile("locked.pid", &pid), 0);
    assert_int_equal(pid, getpid());
    daemon_remove_pidfile();
    opts.overwrite_pidfile = false;

    /* A killed holder leaves a stale file, which is replaced. */
    kill(holder, SIGKILL);
    assert_int_equal(waitpid(holder, &status, 0), holder);
    holder = fork_pidfile_holder(name);
    kill(holder, SIGKILL);
    assert_int_equal(waitpid(holder, &status, 0), holder);
    struct stat st;
    assert_int_equal(stat(name, &st), 0);
    assert_int_equal(daemon_read_pidfile("locked.pid", &pid), -ESRCH);
    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);
    assert_int_equal(daemon_read_pidfile("locked.pid", &pid), 0);
    assert_int_equal(pid, getpid());
    daemon_remove_pidfile();
    free(name);
}

/* Waits until pidfile 'name' names a live process other than 'not'.
 * Returns that pid. */
static pid_t
wait_for_pidfile(const char *name, pid_t not)
{
    long long int deadline = time_msec() + DEADLINE_MS;
    pid_t pid;

    for (;;) {
        if (!daemon_read_pidfile(name, &pid) && pid != not) {
            return pid;
        }
        assert_true(time_msec() < deadline);
        usleep(10 * 1000);
    }
}

/* The body of a forked "main()": daemon_start() with 'opts', then, in the
 * daemon, complete startup (unless 'fail' is nonzero: exit with it
 * instead) and wait until 'wait_fd' reaches end of file. */
static void NO_RETURN
child_main(const struct daemon_options *opts, int wait_fd, int fail)
{
    int exit_status;
    char *error;
    char c;

    if (daemon_start(opts, &exit_status, &error)) {
        _exit(100);
    }
    if (exit_status >= 0) {
        _exit(exit_status);
    }
    if (fail) {
        _exit(fail);
    }
    daemon_complete();
    while (read(wait_fd, &c, 1) < 0 && errno == EINTR) {
        continue;
    }
    daemon_remove_pidfile();
    _exit(0);
}

static void
test_detach(void **state OVS_UNUSED__)
{
    struct daemon_options opts = { .pidfile = true,
                                   .pidfile_name = "detach.pid",
                                   .detach = true, .no_chdir = true };
    char *name = rundir_file("detach.pid");
    int fds[2];
    int status;
    struct stat st;

    /* The parent exits 0 once the daemon completed startup. */
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t parent = fork();
    assert_true(parent >= 0);
    if (!parent) {
        close(fds[1]);
        child_main(&opts, fds[0], 0);
    }
    close(fds[0]);
    assert_int_equal(waitpid(parent, &status, 0), parent);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The daemon holds the pidfile, in a new session. */
    pid_t daemon = wait_for_pidfile(name, 0);
    assert_true(daemon != parent && daemon != getpid());
    assert_int_equal(getsid(daemon), daemon);

    /* It removes the pidfile when it exits. */
    close(fds[1]);
    long long int deadline = time_msec() + DEADLINE_MS;
    while (!stat(name, &st)) {
        assert_true(time_msec() < deadline);
        usleep(10 * 1000);
    }

    /* A daemon that fails before completing startup makes the parent fail
     * with its status. */
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    parent = fork();
    assert_true(parent >= 0);
    if (!parent) {
        close(fds[1]);
        child_main(&opts, fds[0], 3);
    }
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(waitpid(parent, &status, 0), parent);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    free(name);
}

static void
test_monitor(void **state OVS_UNUSED__)
{
    struct daemon_options opts = { .pidfile = true,
                                   .pidfile_name = "monitor.pid",
                                   .monitor = true };
    char *name = rundir_file("monitor.pid");
    int fds[2];
    int status;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t monitor = fork();
    assert_true(monitor >= 0);
    if (!monitor) {
        close(fds[1]);
        /* Keep the test's output clean of the monitor's messages. */
        log_set_levels(log_module_from_name("daemon"), LOG_D_CONSOLE,
                       LOG_L_OFF);
        child_main(&opts, fds[0], 0);
    }
    close(fds[0]);

    pid_t d1 = wait_for_pidfile(name, 0);
    assert_true(d1 != monitor);

    /* A crash (SIGALRM is on the list and makes no core dump) gets the
     * daemon restarted, with a new pid in the pidfile. */
    assert_int_equal(kill(d1, SIGALRM), 0);
    pid_t d2 = wait_for_pidfile(name, d1);
    assert_true(d2 != monitor);
    assert_int_equal(waitpid(monitor, &status, WNOHANG), 0);

    /* Termination for another reason ends the monitor too, with the
     * daemon's exit status. */
    assert_int_equal(kill(d2, SIGTERM), 0);
    assert_int_equal(waitpid(monitor, &status, 0), monitor);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fds[1]);
    free(name);
}

/* Compatibility with the real ovs-appctl. */

/* Runs ovs-appctl with 'args' (NULL-terminated) while driving the server.
 * Returns its exit status and stores its output in '*out' and '*err' (the
 * caller frees them). */
static int
run_appctl(const char *const args[], char **out, char **err)
{
    char *out_file = rundir_file("appctl.out");
    char *err_file = rundir_file("appctl.err");
    char *rundir_env = xasprintf("OVS_RUNDIR=%s", fx.dir);
    char *const envp[] = { rundir_env, (char *) "PATH=/usr/bin:/bin",
                           NULL };
    const char *argv[16] = { "ovs-appctl" };
    posix_spawn_file_actions_t fa;
    int status = -1;
    pid_t pid;
    size_t n = 1;

    for (; *args; args++) {
        assert_true(n < ARRAY_SIZE(argv) - 1);
        argv[n++] = *args;
    }
    argv[n] = NULL;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_file,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_file,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(posix_spawn(&pid, OVS_APPCTL, &fa, NULL,
                                 (char *const *) argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);

    long long int deadline = time_msec() + DEADLINE_MS;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (time_msec() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("ovs-appctl did not finish");
        }
        step(-1);
    }

    for (int i = 0; i < 2; i++) {
        const char *file = i ? err_file : out_file;
        struct ds s = DS_EMPTY_INITIALIZER;
        char buf[4096];
        ssize_t k;
        int fd = open(file, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        while ((k = read(fd, buf, sizeof buf)) > 0) {
            ds_put_buffer(&s, buf, k);
        }
        close(fd);
        *(i ? err : out) = xstrdup(ds_cstr(&s));
        ds_destroy(&s);
    }

    free(rundir_env);
    free(err_file);
    free(out_file);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
check_appctl(const char *const args[], int exit_status, const char *out,
             const char *err_part)
{
    char *o, *e;
    int r = run_appctl(args, &o, &e);

    if (r != exit_status || strcmp(o, out)
        || (err_part ? !strstr(e, err_part) : !!*e)) {
        print_error("ovs-appctl %s: exit %d, stdout:\n%s\nstderr:\n%s\n",
                    args[0], r, o, e);
    }
    assert_int_equal(r, exit_status);
    assert_string_equal(o, out);
    if (err_part) {
        assert_non_null(strstr(e, err_part));
    } else {
        assert_string_equal(e, "");
    }
    free(o);
    free(e);
}

static void
test_ovs_appctl(void **state OVS_UNUSED__)
{
    struct daemon_options opts = { .pidfile = true };
    int exit_status;
    char *error;

    if (access(OVS_APPCTL, X_OK)) {
        skip();
    }

    /* Without a pidfile ovs-appctl cannot find us. */
    check_appctl((const char *[]) { "-t", PROGRAM, "version", NULL }, 1,
                 "", "cannot read pidfile");

    assert_int_equal(daemon_start(&opts, &exit_status, &error), 0);

    char *version = xasprintf("%s (ovsec) %s\n", PROGRAM, ovsec_version);
    check_appctl((const char *[]) { "-t", PROGRAM, "version", NULL }, 0,
                 version, NULL);
    free(version);

    check_appctl((const char *[]) { "-t", PROGRAM, "list-commands", NULL },
                 0,
                 "The available commands are:\n"
                 "  list-commands           \n"
                 "  set-options             [--format text|json]\n"
                 "  test/big                BYTES\n"
                 "  test/binary             \n"
                 "  test/defer              \n"
                 "  test/echo               [ARG...]\n"
                 "  test/empty              \n"
                 "  test/fail               \n"
                 "  test/needs-one          ARG [ARG]\n"
                 "  version                 \n"
                 "  vlog/list               \n"
                 "  vlog/reopen             \n"
                 "  vlog/set                {spec | PATTERN:destination:"
                 "pattern}\n",
                 NULL);

    check_appctl((const char *[]) { "-t", PROGRAM, "test/echo", "hello",
                                    "big world", NULL },
                 0, "hello big world\n", NULL);
    check_appctl((const char *[]) { "--target=" PROGRAM, "test/empty",
                                    NULL },
                 0, "", NULL);

    /* Errors: exit status 2 and the text on stderr. */
    check_appctl((const char *[]) { "-t", PROGRAM, "test/fail", NULL }, 2,
                 "", "it failed\novs-appctl: " PROGRAM
                 ": server returned an error");
    check_appctl((const char *[]) { "-t", PROGRAM, "no/such", NULL }, 2,
                 "", "\"no/such\" is not a valid command");
    check_appctl((const char *[]) { "-t", PROGRAM, "test/needs-one", NULL },
                 2, "", "\"test/needs-one\" command requires at least 1 "
                 "arguments");

    /* -t may name the socket itself. */
    const char *path = unixctl_server_get_path(fx.server);
    check_appctl((const char *[]) { "-t", path, "test/echo", "direct",
                                    NULL },
                 0, "direct\n", NULL);

    /* A deferred reply reaches ovs-appctl too: reply from inside the
     * loop, as a backend would, once the request is there. */
    char *o, *e;
    pid_t pid;
    char *rundir_env = xasprintf("OVS_RUNDIR=%s", fx.dir);
    char *const envp[] = { rundir_env, NULL };
    char *const argv[] = { (char *) "ovs-appctl", (char *) "-t",
                           (char *) PROGRAM, (char *) "test/defer", NULL };
    int fds[2];
    posix_spawn_file_actions_t fa;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    assert_int_equal(posix_spawn(&pid, OVS_APPCTL, &fa, NULL, argv, envp),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    long long int deadline = time_msec() + DEADLINE_MS;
    while (!fx.n_deferred) {
        assert_true(time_msec() < deadline);
        step(-1);
    }
    unixctl_command_reply(fx.deferred[0], "status: all good");
    fx.n_deferred = 0;
    int status;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        assert_true(time_msec() < deadline);
        step(-1);
    }
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_true(WIFEXITED(status) && !WEXITSTATUS(status));
    assert_string_equal(buf, "status: all good\n");
    free(rundir_env);

    /* vlog commands through ovs-appctl. */
    int r = run_appctl((const char *[]) { "-t", PROGRAM, "vlog/list",
                                          NULL }, &o, &e);
    assert_int_equal(r, 0);
    assert_non_null(strstr(o, "\nunixctl "));
    free(o);
    free(e);

    /* A stale pidfile (not locked by a live process) is refused. */
    daemon_remove_pidfile();
    char *name = rundir_file(PROGRAM ".pid");
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char *content = xasprintf("%ld\n", (long int) getpid());
    assert_int_equal(write(fd, content, strlen(content)),
                     (ssize_t) strlen(content));
    close(fd);
    check_appctl((const char *[]) { "-t", PROGRAM, "version", NULL }, 1,
                 "", "cannot read pidfile");
    unlink(name);
    free(content);
    free(name);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_commands_and_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_with_args, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_argument_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protocol_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deferred_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deferred_reply_wakeup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deferred_client_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oversized_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vlog_commands, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vlog_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pidfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pidfile_locked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ovs_appctl, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
