/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of lib/jsonrpc (framing of JSON messages over a stream),
 * lib/stream and lib/log's spec parsing.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "jsonrpc.h"
#include "log.h"
#include "stream.h"
#include "util.h"

/* A connected pair: 'rpc' reads what the test writes to 'peer'. */
struct pair {
    struct jsonrpc *rpc;
    int peer;
    char dir[64];
};

static void
pair_open(struct pair *p)
{
    struct pstream *ps;
    struct stream *s, *accepted = NULL;
    char *name;

    strcpy(p->dir, "/tmp/ovsec-jsonrpc-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    name = xasprintf("punix:%s/sock", p->dir);
    assert_int_equal(pstream_open(name, &ps), 0);
    assert_int_equal(stream_open(name + 1, &s), 0);
    for (int i = 0; i < 1000 && !accepted; i++) {
        if (pstream_accept(ps, &accepted)) {
            usleep(1000);
        }
    }
    assert_non_null(accepted);
    p->peer = dup(stream_get_fd(accepted));
    stream_close(accepted);
    pstream_close(ps);
    p->rpc = jsonrpc_open(s);
    free(name);
}

static void
pair_close(struct pair *p)
{
    jsonrpc_close(p->rpc);
    if (p->peer >= 0) {
        close(p->peer);
    }
    rmdir(p->dir);
}

static void
peer_write(struct pair *p, const char *s)
{
    assert_int_equal(write(p->peer, s, strlen(s)), (ssize_t) strlen(s));
}

static json_t *
recv_one(struct pair *p)
{
    json_t *msg = NULL;
    for (int i = 0; i < 1000; i++) {
        int error = jsonrpc_recv(p->rpc, &msg);
        if (!error) {
            return msg;
        }
        assert_int_equal(error, -EAGAIN);
        usleep(1000);
    }
    fail_msg("no message");
    return NULL;
}

static void
test_split_and_batched(void **state)
{
    struct pair p;
    json_t *msg;

    (void) state;
    pair_open(&p);
    /* One message split across writes, with braces inside strings. */
    peer_write(&p, "{\"method\":\"echo\",\"params\":[\"}{\\\"\"");
    assert_int_equal(jsonrpc_recv(p.rpc, &msg), -EAGAIN);
    peer_write(&p, "],\"id\":1}");
    msg = recv_one(&p);
    assert_string_equal(json_string_value(json_object_get(msg, "method")),
                        "echo");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(msg, "params"), 0)), "}{\"");
    json_decref(msg);

    /* Two messages in one write, separated by whitespace. */
    peer_write(&p, "{\"id\":2}\n  {\"id\":3}");
    msg = recv_one(&p);
    assert_int_equal(json_integer_value(json_object_get(msg, "id")), 2);
    json_decref(msg);
    msg = recv_one(&p);
    assert_int_equal(json_integer_value(json_object_get(msg, "id")), 3);
    json_decref(msg);

    /* EOF. */
    close(p.peer);
    p.peer = -1;
    int error;
    for (int i = 0; i < 100; i++) {
        error = jsonrpc_recv(p.rpc, &msg);
        if (error != -EAGAIN) {
            break;
        }
        usleep(1000);
    }
    assert_int_equal(error, -EPIPE);
    pair_close(&p);
}

static void
test_garbage(void **state)
{
    struct pair p;
    json_t *msg;
    int error;

    (void) state;
    pair_open(&p);
    peer_write(&p, "hello");
    error = jsonrpc_recv(p.rpc, &msg);
    for (int i = 0; i < 100 && error == -EAGAIN; i++) {
        usleep(1000);
        error = jsonrpc_recv(p.rpc, &msg);
    }
    assert_int_equal(error, -EPROTO);
    assert_int_equal(jsonrpc_get_status(p.rpc), -EPROTO);
    pair_close(&p);

    pair_open(&p);
    peer_write(&p, "[1,2]");
    msg = NULL;
    error = jsonrpc_recv(p.rpc, &msg);
    for (int i = 0; i < 100 && error == -EAGAIN; i++) {
        usleep(1000);
        error = jsonrpc_recv(p.rpc, &msg);
    }
    assert_int_equal(error, -EPROTO);   /* Not an object. */
    pair_close(&p);
}

static void
test_send(void **state)
{
    struct pair p;
    json_t *id;
    char buf[256];

    (void) state;
    pair_open(&p);
    json_t *req = jsonrpc_create_request("list-commands", NULL, &id);
    assert_int_equal(jsonrpc_send(p.rpc, req), 0);
    jsonrpc_run(p.rpc);
    assert_int_equal(jsonrpc_get_backlog(p.rpc), 0);
    ssize_t n = read(p.peer, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    json_t *parsed = json_loads(buf, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_equal(json_object_get(parsed, "id"), id));
    assert_string_equal(json_string_value(json_object_get(parsed, "method")),
                        "list-commands");
    json_decref(parsed);
    json_decref(id);
    pair_close(&p);
}

static void
test_stream_names(void **state)
{
    (void) state;
    assert_int_equal(stream_verify_name("unix:/x"), 0);
    assert_int_equal(stream_verify_name("tcp:127.0.0.1:6640"), 0);
    assert_int_equal(stream_verify_name("tcp:[::1]:6640"), 0);
    assert_int_equal(stream_verify_name("tcp:127.0.0.1"), -EINVAL);
    assert_int_equal(stream_verify_name("tcp:127.0.0.1:0"), -EINVAL);
    assert_int_equal(stream_verify_name("tcp:host:1"), -EINVAL);
    assert_int_equal(stream_verify_name("unix:"), -EINVAL);
    assert_int_equal(stream_verify_name("ssl:1.2.3.4:5"), -EAFNOSUPPORT);
}

static void
test_log_specs(void **state)
{
    char *error;

    (void) state;
    assert_null(log_set_levels_from_string("jsonrpc_test:console:dbg"));
    assert_null(log_set_levels_from_string("ANY:file:info"));
    assert_null(log_set_levels_from_string(""));
    error = log_set_levels_from_string("nosuchmodule:dbg");
    assert_non_null(error);
    assert_non_null(strstr(error, "nosuchmodule"));
    free(error);
    error = log_set_levels_from_string("console:file");
    assert_non_null(error);
    free(error);
    char *levels = log_get_levels();
    assert_non_null(strstr(levels, "jsonrpc_test"));
    assert_non_null(strstr(levels, "console    syslog    file"));
    free(levels);
}

LOG_MODULE(jsonrpc_test);

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_and_batched),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_log_specs),
    };
    LOG_DBG("starting");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
