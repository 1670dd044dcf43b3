/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the strongSwan backend (ike/ike-strongswan.c), driven
 * through its class functions against a fake charon: a VICI server in
 * this process on a Unix socket in a mkdtemp() directory.  The fake
 * decodes every packet the backend sends, answers event registrations
 * itself, and hands each command to the test, which checks it and
 * answers it.  Commands are checked in full through a compact rendering
 * ("load-conn {gnv0 {version=2 local_addrs=[192.0.2.1] ...}}") in which
 * the contents of the test's PEM files appear as "@FILE".  Timeouts and
 * backoff are tested with time_warp(), never by sleeping.
 *
 * The last test runs the backend against the real charon, when it is
 * installed and we are root, to check the VICI details the fake cannot.
 * TEST_FILTER=<glob> in the environment runs only the matching tests.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

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
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ds.h"
#include "global-conf.h"
#include "ike.h"
#include "log.h"
#include "loop.h"
#include "secret.h"
#include "smap.h"
#include "timeval.h"
#include "tunnel.h"
#include "unit-util.h"
#include "util.h"
#include "vici-client.h"
#include "vici.h"
#include "x509.h"

#define TIMEOUT_MS 2000
#define CHARON "/usr/lib/ipsec/charon"
#define MAX_DONES 64
#define PSK "swordfish-0123"

/* Certificates and keys, made once for all tests. */
static char *tmpdir;
static struct global_conf *g_self;      /* local.pem + local.key. */
static struct global_conf *g_ca;        /* leaf.pem + leaf.key + ca.pem. */
static struct global_conf *g_self2;     /* local2.pem + local2.key: same CN
                                         * as local.pem, new key. */

/* Contents of the PEM files, which render() prints as "@NAME". */
static const char *const pem_files[] = {
    "local.pem", "local.key", "remote.pem", "leaf.pem", "leaf.key",
    "ca.pem", "local2.pem", "local2.key", "remote2.pem",
    /* A second CA, and files that hold more than one PEM block. */
    "ca2.pem", "combined.pem", "remote-combined.pem", "bundle.pem",
    "bad-bundle.pem",
};
static char *pem_contents[ARRAY_SIZE(pem_files)];

/* What the tunnel_done hook saw. */
struct done {
    char *name;
    uint64_t version;
    int error;
    char *why;
};

static struct done dones[MAX_DONES];
static size_t n_dones;

/* What the status callback saw. */
static int status_calls;
static int status_error;
static char *status_text;

/* The fake charon and the backend under test. */
struct fx {
    char *dir;                  /* Temporary directory. */
    char *path;                 /* Socket file. */
    char *vici;                 /* "unix:" + path. */
    int lfd;                    /* Listening socket, or -1. */
    int fd;                     /* Accepted connection, or -1. */
    int n_accepts;              /* Connections accepted. */
    int log_fd;                 /* The backend's "log" connection, the
                                 * second accepted, or -1. */
    uint8_t *log_rx;            /* Received on 'log_fd', not decoded. */
    size_t log_rx_len, log_rx_cap;
    bool log_registered;        /* "log" registered on 'log_fd'. */
    uint8_t *rx;                /* Received bytes not yet decoded. */
    size_t rx_len, rx_cap;
    struct vici_msg **inq;      /* Decoded packets not yet handled. */
    size_t n_inq, cap_inq;
    char *events[16];           /* Event registrations, in order. */
    size_t n_events;
    struct vici_msg *cur;       /* Last command handed to the test. */
    struct ike_backend *ike;    /* Backend under test. */
    struct ike_options opts;
};

/* Line of the last expect(), for failure messages. */
static int expect_line;

/* Helpers: files. */

/* Writes the concatenation of files 'a' and 'b' to file 'dst', all in the
 * test directory. */
static void
concat_files(const char *dst, const char *a, const char *b)
{
    char *path = ut_path(tmpdir, dst);
    FILE *out = fopen(path, "w");

    assert_non_null(out);
    for (int i = 0; i < 2; i++) {
        char *src = ut_path(tmpdir, i ? b : a);
        char *data;
        size_t size;

        assert_int_equal(x509_read_file(src, &data, &size, NULL), 0);
        assert_int_equal(fwrite(data, 1, size, out), size);
        free(data);
        free(src);
    }
    assert_int_equal(fclose(out), 0);
    free(path);
}

/* Makes a self-signed certificate 'name' for 'cn' whose subjectAltName
 * holds 'cn' and 'n_names' more long DNS names, to make it big. */
static void
make_big_cert(const char *name, const char *cn, bool ca, size_t n_names)
{
    const char **dns = xcalloc(n_names + 2, sizeof *dns);
    char *key_name = xasprintf("%s.key", name);
    EVP_PKEY *key = ut_key_write(tmpdir, key_name);

    dns[0] = cn;
    for (size_t i = 1; i <= n_names; i++) {
        dns[i] = xasprintf("host-%05zu.a-rather-long-subdomain-name."
                           "example.org", i);
    }
    X509_free(ut_cert_write(tmpdir, name, cn, dns, ca, key, NULL, NULL));
    EVP_PKEY_free(key);
    for (size_t i = 1; i <= n_names; i++) {
        free((char *) dns[i]);
    }
    free(dns);
    free(key_name);
}

/* Returns the global_conf for certificate leaf.pem and key leaf.key with
 * CA file 'ca_cert' (in the test directory). */
static struct global_conf *
leaf_global(const char *ca_cert)
{
    char *ca = xasprintf("@%s", ca_cert);
    struct global_conf *gc = ut_global_conf(tmpdir, "certificate", "@leaf.pem",
                                            "private_key", "@leaf.key",
                                            "ca_cert", ca, NULL);
    free(ca);
    return gc;
}

static int
group_setup(void **state)
{
    (void) state;
    tmpdir = ut_tmpdir_create("test-ike-strongswan");
    if (!tmpdir) {
        return -1;
    }

    ut_write_cert_set(tmpdir);
    EVP_PKEY *local2 = ut_key_write(tmpdir, "local2.key");
    EVP_PKEY *remote2 = ut_key_write(tmpdir, "remote2.key");
    X509_free(ut_cert_write(tmpdir, "local2.pem", "local", NULL, false,
                            local2, NULL, NULL));
    X509_free(ut_cert_write(tmpdir, "remote2.pem", "remote", NULL, false,
                            remote2, NULL, NULL));
    EVP_PKEY *ca2_key = ut_key_write(tmpdir, "ca2.key");
    X509_free(ut_cert_write(tmpdir, "ca2.pem", "ovs-ca2", NULL, true,
                            ca2_key, NULL, NULL));
    EVP_PKEY_free(ca2_key);
    /* A certificate followed by its key, and a key followed by its
     * certificate, as some setups keep them. */
    concat_files("combined.pem", "local.pem", "local.key");
    concat_files("remote-combined.pem", "remote.key", "remote.pem");
    concat_files("bundle.pem", "ca.pem", "ca2.pem");
    concat_files("bad-bundle.pem", "ca.pem", "leaf.pem");
    EVP_PKEY_free(local2);
    EVP_PKEY_free(remote2);

    for (size_t i = 0; i < ARRAY_SIZE(pem_files); i++) {
        char *path = ut_path(tmpdir, pem_files[i]);
        size_t size;
        if (x509_read_file(path, &pem_contents[i], &size, NULL)) {
            return -1;
        }
        free(path);
    }

    g_self = ut_global_conf(tmpdir, "certificate", "@local.pem",
                            "private_key", "@local.key", NULL);
    g_ca = leaf_global("ca.pem");
    g_self2 = ut_global_conf(tmpdir, "certificate", "@local2.pem",
                             "private_key", "@local2.key", NULL);
    if (g_self->cert_error || g_ca->cert_error || g_self2->cert_error) {
        return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    (void) state;
    ut_tmpdir_remove(tmpdir);
    free(tmpdir);
    for (size_t i = 0; i < ARRAY_SIZE(pem_files); i++) {
        free(pem_contents[i]);
    }
    global_conf_destroy(g_self);
    global_conf_destroy(g_ca);
    global_conf_destroy(g_self2);
    return 0;
}

/* Helpers: tunnels. */

/* Builds a tunnel 'name' of 'type' at 'version' from option pairs ("@"
 * expanded) ending with NULL; the configuration must be valid. */
static struct tunnel *
make_tunnel(const char *name, const char *type, uint64_t version,
            const struct global_conf *g, ...)
{
    struct tunnel *t;
    va_list args;

    va_start(args, g);
    t = ut_tunnel_create_valist(tmpdir, name, type, version, g, args);
    va_end(args);
    return t;
}

/* Applies a tunnel built as make_tunnel() does, after check_tunnel(), and
 * frees it: the backend must keep no pointer to it. */
static void
apply(struct fx *f, const char *name, const char *type, uint64_t version,
      const struct global_conf *g, ...)
{
    struct tunnel *t;
    va_list args;

    va_start(args, g);
    t = ut_tunnel_create_valist(tmpdir, name, type, version, g, args);
    va_end(args);
    ut_tunnel_apply(f->ike, t);
}

/* Helpers: hooks. */

static void
tunnel_done_cb(void *aux, const char *name, uint64_t version, int error,
               const char *why)
{
    assert_ptr_equal(aux, &dones);
    assert_true(n_dones < MAX_DONES);
    dones[n_dones].name = xstrdup(name);
    dones[n_dones].version = version;
    dones[n_dones].error = error;
    dones[n_dones].why = nullable_xstrdup(why);
    n_dones++;
}

static void
status_cb(void *aux, int error, const char *text)
{
    assert_ptr_equal(aux, &status_calls);
    status_calls++;
    status_error = error;
    free(status_text);
    status_text = nullable_xstrdup(text);
}

static void
dones_clear(void)
{
    for (size_t i = 0; i < n_dones; i++) {
        free(dones[i].name);
        free(dones[i].why);
    }
    n_dones = 0;
}

/* Asserts that the tunnel_done calls since the last check are exactly
 * the 'n' given as (name, version, error, why) quadruples, and forgets
 * them. */
static void
check_dones(size_t n, ...)
{
    va_list args;

    va_start(args, n);
    for (size_t i = 0; i < n; i++) {
        const char *name = va_arg(args, const char *);
        uint64_t version = va_arg(args, int);
        int error = va_arg(args, int);
        const char *why = va_arg(args, const char *);

        if (i >= n_dones) {
            fail_msg("expected tunnel_done(%s, %"PRIu64", %d, %s), got "
                     "none", name, version, error, why ? why : "NULL");
        }
        assert_string_equal(dones[i].name, name);
        assert_int_equal(dones[i].version, version);
        assert_int_equal(dones[i].error, error);
        if (why) {
            assert_non_null(dones[i].why);
            assert_string_equal(dones[i].why, why);
        } else {
            assert_null(dones[i].why);
        }
    }
    va_end(args);
    if (n_dones != n) {
        fail_msg("%zu tunnel_done calls, expected %zu (extra: %s %d %s)",
                 n_dones, n, dones[n].name, dones[n].error,
                 dones[n].why ? dones[n].why : "NULL");
    }
    dones_clear();
}

/* Helpers: rendering VICI messages. */

static void
render_value__(struct ds *s, const struct vici_node *n)
{
    const char *v = vici_node_str(n);

    for (size_t i = 0; v && i < ARRAY_SIZE(pem_files); i++) {
        if (!strcmp(v, pem_contents[i])) {
            ds_put_format(s, "@%s", pem_files[i]);
            return;
        }
    }
    if (!v) {
        ds_put_format(s, "<%zu binary bytes>", n->size);
    } else {
        ds_put_cstr(s, v);
    }
}

static void
render_section__(struct ds *s, const struct vici_node *sec)
{
    for (size_t i = 0; i < sec->n_children; i++) {
        const struct vici_node *n = sec->children[i];

        if (i) {
            ds_put_char(s, ' ');
        }
        switch (n->type) {
        case VICI_NODE_VALUE:
            ds_put_format(s, "%s=", n->key);
            render_value__(s, n);
            break;
        case VICI_NODE_LIST:
            ds_put_format(s, "%s=[", n->key);
            for (size_t j = 0; j < n->n_children; j++) {
                if (j) {
                    ds_put_char(s, ' ');
                }
                render_value__(s, n->children[j]);
            }
            ds_put_char(s, ']');
            break;
        case VICI_NODE_SECTION:
            ds_put_format(s, "%s {", n->key);
            render_section__(s, n);
            ds_put_char(s, '}');
            break;
        }
    }
}

/* Returns "NAME {MEMBERS}" for 'msg' as a new string. */
static char *
render(const struct vici_msg *msg)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "%s {", msg->name ? msg->name : "");
    render_section__(&s, &msg->root);
    ds_put_char(&s, '}');
    return ds_steal_cstr(&s);
}

/* Helpers: the fake charon. */

static void
fx_listen(struct fx *f)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    assert_true(strlen(f->path) < sizeof sun.sun_path);
    strcpy(sun.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
}

static void
fx_inq_clear(struct fx *f)
{
    for (size_t i = 0; i < f->n_inq; i++) {
        vici_msg_destroy(f->inq[i]);
    }
    f->n_inq = 0;
}

static void
fx_events_clear(struct fx *f)
{
    for (size_t i = 0; i < f->n_events; i++) {
        free(f->events[i]);
    }
    f->n_events = 0;
}

/* Closes the connections, as charon does when it stops. */
static void
fx_close_conn(struct fx *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->log_fd >= 0) {
        close(f->log_fd);
        f->log_fd = -1;
    }
    f->log_rx_len = 0;
    f->log_registered = false;
    f->rx_len = 0;
    fx_inq_clear(f);
    fx_events_clear(f);
}

static void fx_send_fd(struct fx *, int fd, struct vici_builder *);

/* Serves the log connection: answers its event registrations. */
static void
fx_log_io(struct fx *f)
{
    while (f->log_fd >= 0) {
        if (f->log_rx_cap - f->log_rx_len < 4096) {
            f->log_rx_cap = f->log_rx_cap * 2 + 4096;
            f->log_rx = xrealloc(f->log_rx, f->log_rx_cap);
        }
        ssize_t n = recv(f->log_fd, f->log_rx + f->log_rx_len,
                         f->log_rx_cap - f->log_rx_len, 0);
        if (n > 0) {
            f->log_rx_len += n;
        } else if (n == 0) {
            close(f->log_fd);
            f->log_fd = -1;
            f->log_rx_len = 0;
            f->log_registered = false;
        } else {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
    }
    while (f->log_rx_len >= 4) {
        uint32_t len = ((uint32_t) f->log_rx[0] << 24)
                       | (f->log_rx[1] << 16) | (f->log_rx[2] << 8)
                       | f->log_rx[3];
        struct vici_msg *msg;
        const char *why = NULL;

        if (f->log_rx_len - 4 < len) {
            break;
        }
        if (vici_msg_decode(f->log_rx + 4, len, &msg, &why)) {
            fail_msg("client sent an undecodable packet: %s", why);
        }
        /* Nothing but registrations for "log" belongs here. */
        assert_true(msg->op == VICI_EVENT_REGISTER
                    || msg->op == VICI_EVENT_UNREGISTER);
        assert_string_equal(msg->name, "log");
        f->log_registered = msg->op == VICI_EVENT_REGISTER;
        vici_msg_destroy(msg);
        fx_send_fd(f, f->log_fd,
                   vici_builder_create(VICI_EVENT_CONFIRM, NULL));
        memmove(f->log_rx, f->log_rx + 4 + len, f->log_rx_len - 4 - len);
        f->log_rx_len -= 4 + len;
    }
}

/* Accepts a connection and reads and decodes what the client sent. */
static void
fx_io(struct fx *f)
{
    if ((f->fd < 0 || f->log_fd < 0) && f->lfd >= 0) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0 && f->fd < 0) {
            f->fd = fd;
            f->n_accepts++;
        } else if (fd >= 0) {
            f->log_fd = fd;
        }
    }
    fx_log_io(f);
    while (f->fd >= 0) {
        if (f->rx_cap - f->rx_len < 65536) {
            f->rx_cap = f->rx_cap * 2 + 65536;
            f->rx = xrealloc(f->rx, f->rx_cap);
        }
        ssize_t n = recv(f->fd, f->rx + f->rx_len, f->rx_cap - f->rx_len, 0);
        if (n > 0) {
            f->rx_len += n;
        } else if (n == 0) {
            /* The client closed it (after a timeout, say). */
            fx_close_conn(f);
        } else {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
    }
    while (f->rx_len >= 4) {
        uint32_t len = ((uint32_t) f->rx[0] << 24) | (f->rx[1] << 16)
                       | (f->rx[2] << 8) | f->rx[3];
        struct vici_msg *msg;
        const char *why = NULL;

        if (f->rx_len - 4 < len) {
            break;
        }
        if (vici_msg_decode(f->rx + 4, len, &msg, &why)) {
            fail_msg("client sent an undecodable packet: %s", why);
        }
        if (f->n_inq == f->cap_inq) {
            f->cap_inq = f->cap_inq * 2 + 8;
            f->inq = xrealloc(f->inq, f->cap_inq * sizeof *f->inq);
        }
        f->inq[f->n_inq++] = msg;
        memmove(f->rx, f->rx + 4 + len, f->rx_len - 4 - len);
        f->rx_len -= 4 + len;
    }
}

static void
fx_send_packet_fd(struct fx *f, int fd, const uint8_t *data, size_t size)
{
    size_t ofs = 0;

    assert_true(fd >= 0);
    for (int i = 0; ofs < size; i++) {
        ssize_t n = send(fd, data + ofs, size - ofs, MSG_NOSIGNAL);
        if (n > 0) {
            ofs += n;
        } else {
            assert_true(errno == EAGAIN && i < 1000);
            f->ike->class->run(f->ike);
        }
    }
}

static void
fx_send_fd(struct fx *f, int fd, struct vici_builder *b)
{
    uint8_t *data;
    size_t size;

    assert_int_equal(vici_builder_finish(b, &data, &size), 0);
    fx_send_packet_fd(f, fd, data, size);
    vici_packet_free(data, size);
}

static void
fx_send(struct fx *f, struct vici_builder *b)
{
    fx_send_fd(f, f->fd, b);
}

/* Answers the event registrations at the head of the input, as charon
 * does, in order. */
static void
fx_serve(struct fx *f)
{
    while (f->n_inq && (f->inq[0]->op == VICI_EVENT_REGISTER
                        || f->inq[0]->op == VICI_EVENT_UNREGISTER)) {
        struct vici_msg *msg = f->inq[0];

        if (msg->op == VICI_EVENT_REGISTER) {
            assert_true(f->n_events < ARRAY_SIZE(f->events));
            f->events[f->n_events++] = xstrdup(msg->name);
        } else {
            for (size_t i = 0; i < f->n_events; i++) {
                if (!strcmp(f->events[i], msg->name)) {
                    free(f->events[i]);
                    f->events[i] = f->events[--f->n_events];
                    break;
                }
            }
        }
        fx_send(f, vici_builder_create(VICI_EVENT_CONFIRM, NULL));
        vici_msg_destroy(msg);
        memmove(f->inq, f->inq + 1, --f->n_inq * sizeof *f->inq);
    }
}

/* One iteration of the main loop: the backend, then the fake charon. */
static void
pump(struct fx *f)
{
    f->ike->class->run(f->ike);
    fx_io(f);
    fx_serve(f);
    f->ike->class->wait(f->ike);
    if (f->lfd >= 0 && f->fd < 0) {
        loop_fd_wait(f->lfd, POLLIN);
    }
    if (f->fd >= 0) {
        loop_fd_wait(f->fd, POLLIN);
    }
    if (f->log_fd >= 0) {
        loop_fd_wait(f->log_fd, POLLIN);
    }
    loop_timer_wait(5);
    loop_block();
}

static void
pump_n(struct fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        pump(f);
    }
}

/* Returns the next command the backend sends (owned by 'f', valid until
 * the next call); the test answers it with reply_*(). */
static const struct vici_msg *
next_request(struct fx *f)
{
    vici_msg_destroy(f->cur);
    f->cur = NULL;
    for (int i = 0; i < 200; i++) {
        fx_io(f);
        fx_serve(f);
        if (f->n_inq) {
            f->cur = f->inq[0];
            memmove(f->inq, f->inq + 1, --f->n_inq * sizeof *f->inq);
            assert_int_equal(f->cur->op, VICI_CMD_REQUEST);
            return f->cur;
        }
        pump(f);
    }
    fail_msg("the backend sent no request (line %d)", expect_line);
    return NULL;
}

/* Asserts that the next command renders as 'expected'. */
static void
expect_at(struct fx *f, const char *expected, int line)
{
    char *s;

    expect_line = line;
    s = render(next_request(f));
    if (strcmp(s, expected)) {
        fail_msg("line %d: expected\n  %s\ngot\n  %s", line, expected, s);
    }
    free(s);
}
#define expect(F, EXPECTED) expect_at(F, EXPECTED, __LINE__)

/* Asserts that the backend sends nothing more for a while. */
static void
expect_quiet(struct fx *f)
{
    pump_n(f, 5);
    fx_io(f);
    fx_serve(f);
    if (f->n_inq) {
        char *s = render(f->inq[0]);
        fail_msg("unexpected request: %s", s);
    }
}

/* Answers the current command with pairs of key and value (NULL
 * terminated); a key starting with '[' makes a one-item list. */
static void
reply(struct fx *f, ...)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    const char *key;
    va_list args;

    va_start(args, f);
    while ((key = va_arg(args, const char *))) {
        const char *value = va_arg(args, const char *);
        if (key[0] == '[') {
            vici_begin_list(b, key + 1);
            if (value) {
                vici_list_item(b, value);
            }
            vici_end_list(b);
        } else {
            vici_add_kv(b, key, value);
        }
    }
    va_end(args);
    fx_send(f, b);
}

/* Answers the current command with a list "keys" of the given strings
 * (NULL terminated), as get-shared and get-keys do. */
static void
reply_keys(struct fx *f, ...)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_RESPONSE, NULL);
    const char *key;
    va_list args;

    vici_begin_list(b, "keys");
    va_start(args, f);
    while ((key = va_arg(args, const char *))) {
        vici_list_item(b, key);
    }
    va_end(args);
    vici_end_list(b);
    fx_send(f, b);
}

static void
reply_ok(struct fx *f)
{
    reply(f, "success", "yes", NULL);
}

static void
reply_fail(struct fx *f, const char *errmsg)
{
    reply(f, "success", "no", "errmsg", errmsg, NULL);
}

/* Answers a command charon does not know. */
static void
reply_unknown(struct fx *f)
{
    fx_send(f, vici_builder_create(VICI_CMD_UNKNOWN, NULL));
}

/* Sends event 'name', which the client must have registered for, built
 * by 'b' (a VICI_EVENT builder for 'name'). */
static void
send_event(struct fx *f, const char *name, struct vici_builder *b)
{
    bool registered = false;

    for (size_t i = 0; i < f->n_events; i++) {
        registered |= !strcmp(f->events[i], name);
    }
    if (!registered) {
        vici_builder_destroy(b);
        fail_msg("client is not registered for \"%s\"", name);
    }
    fx_send(f, b);
}

/* Adds to 'b' an IKE SA section for 'conn' with 'uniqueid' and 'state'. */
static void
add_ike_sa(struct vici_builder *b, const char *conn, const char *uniqueid,
           const char *state)
{
    vici_begin_section(b, conn);
    vici_add_kv(b, "uniqueid", uniqueid);
    vici_add_kv(b, "version", "2");
    vici_add_kv(b, "state", state);
    vici_add_kv(b, "local-host", "192.0.2.1");
    vici_add_kv(b, "local-port", "4500");
    vici_add_kv(b, "local-id", "192.0.2.1");
    vici_add_kv(b, "remote-host", "192.0.2.2");
    vici_add_kv(b, "remote-port", "4500");
    vici_add_kv(b, "remote-id", "192.0.2.2");
}

/* Adds a CHILD SA section, as charon names them ("NAME-UNIQUEID"). */
static void
add_child_sa(struct vici_builder *b, const char *name, const char *uniqueid,
             const char *state)
{
    char *key = xasprintf("%s-%s", name, uniqueid);

    vici_begin_section(b, key);
    vici_add_kv(b, "name", name);
    vici_add_kv(b, "uniqueid", uniqueid);
    vici_add_kv(b, "reqid", "7");
    vici_add_kv(b, "state", state);
    vici_add_kv(b, "mode", "TRANSPORT");
    vici_add_kv(b, "protocol", "ESP");
    vici_add_kv(b, "spi-in", "c1a2b3c4");
    vici_add_kv(b, "spi-out", "d1e2f3a4");
    vici_add_kv(b, "encr-alg", "AES_GCM_16");
    vici_add_kv(b, "encr-keysize", "256");
    vici_end_section(b);
    free(key);
}

/* Answers a list-sas with one item per IKE SA: 'n' triples of (conn,
 * uniqueid, state) followed, for each, by child triples (name, uniqueid,
 * state) until a NULL name. */
static void
reply_list_sas(struct fx *f, ...)
{
    const char *conn;
    va_list args;

    va_start(args, f);
    while ((conn = va_arg(args, const char *))) {
        const char *uniqueid = va_arg(args, const char *);
        const char *state = va_arg(args, const char *);
        const char *child;
        struct vici_builder *b = vici_builder_create(VICI_EVENT, "list-sa");

        add_ike_sa(b, conn, uniqueid, state);
        vici_begin_section(b, "child-sas");
        while ((child = va_arg(args, const char *))) {
            const char *cid = va_arg(args, const char *);
            const char *cstate = va_arg(args, const char *);
            add_child_sa(b, child, cid, cstate);
        }
        vici_end_section(b);
        vici_end_section(b);
        send_event(f, "list-sa", b);
    }
    va_end(args);
    reply(f, NULL);
}

/* Sends a list-conn item for connection 'conn' as charon 5.9.8 lists
 * it (see test_real_charon()): IKE 'version' (e.g. "IKEv2"), remote
 * address 'remote', then the children as quadruples (name, mode, local-ts,
 * remote-ts) until a NULL name. */
static void
send_conn(struct fx *f, const char *conn, const char *version,
          const char *remote, ...)
{
    struct vici_builder *b = vici_builder_create(VICI_EVENT, "list-conn");
    const char *child;
    va_list args;

    vici_begin_section(b, conn);
    vici_begin_list(b, "local_addrs");
    vici_list_item(b, "192.0.2.1");
    vici_end_list(b);
    vici_begin_list(b, "remote_addrs");
    vici_list_item(b, remote);
    vici_end_list(b);
    vici_add_kv(b, "version", version);
    vici_add_kv(b, "reauth_time", "0");
    vici_add_kv(b, "rekey_time", "14400");
    vici_add_kv(b, "unique", "UNIQUE_NO");
    vici_begin_section(b, "children");
    va_start(args, remote);
    while ((child = va_arg(args, const char *))) {
        const char *mode = va_arg(args, const char *);
        const char *lts = va_arg(args, const char *);
        const char *rts = va_arg(args, const char *);

        vici_begin_section(b, child);
        vici_add_kv(b, "mode", mode);
        vici_add_kv(b, "rekey_time", "3600");
        vici_begin_list(b, "local-ts");
        vici_list_item(b, lts);
        vici_end_list(b);
        vici_begin_list(b, "remote-ts");
        vici_list_item(b, rts);
        vici_end_list(b);
        vici_end_section(b);
    }
    va_end(args);
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "list-conn", b);
}

/* Sends a list-conn item for connection 'conn' with children 'c1' and,
 * if nonnull, 'c2', in 'mode', with the traffic selectors that we load: a
 * child named *-in or *-out gets geneve's, any other GRE's. */
static void
send_list_conn(struct fx *f, const char *conn, const char *c1,
               const char *c2, const char *mode)
{
    const char *ts[2][2];

    for (int i = 0; i < 2; i++) {
        const char *c = i ? c2 : c1;
        size_t len = c ? strlen(c) : 0;

        if (len > 3 && !strcmp(c + len - 3, "-in")) {
            ts[i][0] = "dynamic[udp/6081]";
            ts[i][1] = "dynamic[udp]";
        } else if (len > 4 && !strcmp(c + len - 4, "-out")) {
            ts[i][0] = "dynamic[udp]";
            ts[i][1] = "dynamic[udp/6081]";
        } else {
            ts[i][0] = ts[i][1] = "dynamic[gre]";
        }
    }
    send_conn(f, conn, "IKEv2", "192.0.2.2",
              c1, mode, ts[0][0], ts[0][1],
              c2, mode, ts[1][0], ts[1][1], (char *) NULL);
}

/* Fixture. */

static void
fx_create_backend(struct fx *f, bool use_default_crypto)
{
    struct ike_hooks hooks = { .tunnel_done = tunnel_done_cb, .aux = &dones };

    f->opts.vici = f->vici;
    f->opts.command_timeout_ms = TIMEOUT_MS;
    f->opts.reconcile_ms = 15000;
    f->opts.use_default_crypto = use_default_crypto;
    f->opts.restart_ike_daemon = true;
    f->opts.root_prefix = "";
    assert_int_equal(ike_strongswan_class.create(&f->opts, &hooks, &f->ike),
                     0);
    assert_non_null(f->ike);
}

static int
setup(void **state)
{
    struct fx *f = xzalloc(sizeof *f);

    f->dir = ut_tmpdir_create("test-ss-vici");
    if (!f->dir) {
        free(f);
        return -1;
    }
    f->path = xasprintf("%s/charon.vici", f->dir);
    f->vici = xasprintf("unix:%s", f->path);
    f->fd = -1;
    f->log_fd = -1;
    fx_listen(f);
    fx_create_backend(f, false);
    dones_clear();
    status_calls = 0;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    if (f->ike) {
        f->ike->class->destroy(f->ike);
    }
    vici_msg_destroy(f->cur);
    fx_close_conn(f);
    if (f->lfd >= 0) {
        close(f->lfd);
    }
    free(f->inq);
    free(f->rx);
    free(f->log_rx);
    ut_tmpdir_remove(f->dir);
    free(f->dir);
    free(f->path);
    free(f->vici);
    free(f);
    dones_clear();
    free(status_text);
    status_text = NULL;
    return 0;
}

/* The client connects, registers the backend's events and asks for
 * charon's version. */
static void
handshake(struct fx *f)
{
    static const char *const events[] = {
        "ike-updown", "child-updown", "ike-rekey", "child-rekey",
    };

    expect(f, "version {}");
    assert_int_equal(f->n_events, ARRAY_SIZE(events));
    for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
        assert_string_equal(f->events[i], events[i]);
    }
    reply(f, "daemon", "charon", "version", "5.9.8", NULL);
}

/* Expected messages. */

#define LOAD_CONN_GNV0                                                   \
    "load-conn {gnv0 {version=2 local_addrs=[192.0.2.1] "                \
    "remote_addrs=[192.0.2.2] proposals=[aes256gcm16-sha256-modp2048] "  \
    "keyingtries=0 local {auth=psk id=192.0.2.1} "                       \
    "remote {auth=psk id=192.0.2.2} children {"                          \
    "gnv0-in {mode=transport local_ts=[dynamic[udp/6081]] "              \
    "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "     \
    "start_action=trap} "                                                \
    "gnv0-out {mode=transport local_ts=[dynamic[udp]] "                  \
    "remote_ts=[dynamic[udp/6081]] esp_proposals=[aes256gcm16-modp2048] " \
    "start_action=trap}}}}"
#define LOAD_SHARED_GNV0                                                 \
    "load-shared {id=ovs-psk-gnv0 type=IKE data=" PSK                     \
    " owners=[192.0.2.2 192.0.2.1]}"
#define INITIATE_GNV0 \
    "initiate {child=gnv0-out ike=gnv0 timeout=-1 init-limits=no}"

/* Applies the PSK geneve tunnel gnv0 at 'version' and brings it to
 * "configured" with its outbound child initiated. */
static void
configure_gnv0(struct fx *f, uint64_t version)
{
    apply(f, "gnv0", "geneve", version, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", (int) version, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);
    expect_quiet(f);
}

/* Starts a reconcile while charon has exactly gnv0 loaded: answers its
 * list-conns and leaves the get-shared request that follows for the
 * caller to answer. */
static void
reconcile_gnv0_to_get_shared(struct fx *f)
{
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    expect(f, "list-conns {}");
    send_list_conn(f, "gnv0", "gnv0-in", "gnv0-out", "TRANSPORT");
    reply(f, NULL);
    expect(f, "get-shared {}");
}

/* Tests: messages. */

struct psk_case {
    const char *name;
    const char *type;
    const char *remote_ip;
    const char *local_ip;       /* NULL for none. */
    const char *load_shared;
    const char *load_conn;
    const char *initiate;       /* NULL if this end does not initiate. */
};

static const struct psk_case psk_cases[] = {
    {
        "gnv0", "geneve", "192.0.2.2", "192.0.2.1",
        LOAD_SHARED_GNV0, LOAD_CONN_GNV0, INITIATE_GNV0,
    },
    {
        "vx6", "vxlan", "2001:db8::2", NULL,
        "load-shared {id=ovs-psk-vx6 type=IKE data=" PSK
        " owners=[2001:db8::2]}",
        "load-conn {vx6 {version=2 local_addrs=[%any] "
        "remote_addrs=[2001:db8::2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk} remote {auth=psk id=2001:db8::2} children {"
        "vx6-in {mode=transport local_ts=[dynamic[udp/4789]] "
        "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap} "
        "vx6-out {mode=transport local_ts=[dynamic[udp]] "
        "remote_ts=[dynamic[udp/4789]] "
        "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}",
        "initiate {child=vx6-out ike=vx6 timeout=-1 init-limits=no}",
    },
    {
        "gnv6", "geneve", "2001:db8::2", "2001:db8::1",
        "load-shared {id=ovs-psk-gnv6 type=IKE data=" PSK
        " owners=[2001:db8::2 2001:db8::1]}",
        "load-conn {gnv6 {version=2 local_addrs=[2001:db8::1] "
        "remote_addrs=[2001:db8::2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk id=2001:db8::1} "
        "remote {auth=psk id=2001:db8::2} children {"
        "gnv6-in {mode=transport local_ts=[dynamic[udp/6081]] "
        "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap} "
        "gnv6-out {mode=transport local_ts=[dynamic[udp]] "
        "remote_ts=[dynamic[udp/6081]] "
        "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}",
        "initiate {child=gnv6-out ike=gnv6 timeout=-1 init-limits=no}",
    },
    {
        "vx4", "vxlan", "198.51.100.7", NULL,
        "load-shared {id=ovs-psk-vx4 type=IKE data=" PSK
        " owners=[198.51.100.7]}",
        "load-conn {vx4 {version=2 local_addrs=[%any] "
        "remote_addrs=[198.51.100.7] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk} remote {auth=psk id=198.51.100.7} children {"
        "vx4-in {mode=transport local_ts=[dynamic[udp/4789]] "
        "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap} "
        "vx4-out {mode=transport local_ts=[dynamic[udp]] "
        "remote_ts=[dynamic[udp/4789]] "
        "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}",
        "initiate {child=vx4-out ike=vx4 timeout=-1 init-limits=no}",
    },
    {
        /* GRE: the end with the lower address initiates. */
        "gre0", "gre", "192.0.2.2", "192.0.2.1",
        "load-shared {id=ovs-psk-gre0 type=IKE data=" PSK
        " owners=[192.0.2.2 192.0.2.1]}",
        "load-conn {gre0 {version=2 local_addrs=[192.0.2.1] "
        "remote_addrs=[192.0.2.2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk id=192.0.2.1} remote {auth=psk id=192.0.2.2} "
        "children {gre0 {mode=transport local_ts=[dynamic[gre]] "
        "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap}}}}",
        "initiate {child=gre0 ike=gre0 timeout=-1 init-limits=no}",
    },
    {
        "gre1", "gre", "192.0.2.2", "192.0.2.3",
        "load-shared {id=ovs-psk-gre1 type=IKE data=" PSK
        " owners=[192.0.2.2 192.0.2.3]}",
        "load-conn {gre1 {version=2 local_addrs=[192.0.2.3] "
        "remote_addrs=[192.0.2.2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk id=192.0.2.3} remote {auth=psk id=192.0.2.2} "
        "children {gre1 {mode=transport local_ts=[dynamic[gre]] "
        "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap}}}}",
        NULL,
    },
    {
        "gre6", "gre", "2001:db8::2", "2001:db8::1",
        "load-shared {id=ovs-psk-gre6 type=IKE data=" PSK
        " owners=[2001:db8::2 2001:db8::1]}",
        "load-conn {gre6 {version=2 local_addrs=[2001:db8::1] "
        "remote_addrs=[2001:db8::2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk id=2001:db8::1} "
        "remote {auth=psk id=2001:db8::2} "
        "children {gre6 {mode=transport local_ts=[dynamic[gre]] "
        "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap}}}}",
        "initiate {child=gre6 ike=gre6 timeout=-1 init-limits=no}",
    },
    {
        /* Without local_ip, neither GRE end can tell: traffic triggers
         * the trap policy. */
        "gre7", "gre", "2001:db8::2", NULL,
        "load-shared {id=ovs-psk-gre7 type=IKE data=" PSK
        " owners=[2001:db8::2]}",
        "load-conn {gre7 {version=2 local_addrs=[%any] "
        "remote_addrs=[2001:db8::2] "
        "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
        "local {auth=psk} remote {auth=psk id=2001:db8::2} "
        "children {gre7 {mode=transport local_ts=[dynamic[gre]] "
        "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
        "start_action=trap}}}}",
        NULL,
    },
};

/* Many tunnels applied at once load 32 at a time: the others wait, their
 * messages not yet built, and start as earlier loads are answered; one
 * removed while it waits is never sent. */
static void
test_load_window(void **state)
{
    enum { N = 40, WINDOW = 32 };
    struct fx *f = *state;
    bool loaded[N] = { false };
    int n_loaded = 0;

    handshake(f);
    for (int i = 0; i < N; i++) {
        char name[16], remote[32];

        snprintf(name, sizeof name, "t%d", i);
        snprintf(remote, sizeof remote, "198.51.100.%d", i + 1);
        apply(f, name, "geneve", 1, NULL, "remote_ip", remote,
              "local_ip", "192.0.2.1", "psk", PSK, NULL);
    }
    /* t39 waits; charon may still hold it from before a restart of
     * ours, so removing it unloads and terminates all the same, once
     * there is room. */
    assert_int_equal(f->ike->class->tunnel_remove(f->ike, "t39"), 0);

    /* Before any answer: exactly the first window's requests. */
    pump_n(f, 5);
    fx_io(f);
    fx_serve(f);
    assert_int_equal(f->n_inq, 2 * WINDOW);
    for (size_t i = 0; i < f->n_inq; i++) {
        const char *name = f->inq[i]->name;
        assert_true(!strcmp(name, "load-shared")
                    || !strcmp(name, "load-conn"));
    }
    assert_false(f->ike->class->idle(f->ike));

    /* Answered in order, the rest follow; t39 never comes. */
    while (n_loaded < N - 1) {
        const struct vici_msg *req = next_request(f);

        if (!strcmp(req->name, "load-conn")) {
            const struct vici_node *conn = req->root.children[0];
            int i = atoi(conn->key + 1);

            assert_true(i >= 0 && i < N - 1);
            assert_false(loaded[i]);
            loaded[i] = true;
            n_loaded++;
            reply_ok(f);
        } else if (!strcmp(req->name, "list-sas")) {
            reply_list_sas(f, NULL);
        } else {
            assert_true(!strcmp(req->name, "load-shared")
                        || !strcmp(req->name, "initiate")
                        || !strcmp(req->name, "unload-conn")
                        || !strcmp(req->name, "terminate"));
            reply_ok(f);
        }
        /* Never more than the window's loads outstanding (the fake
         * charon has read all the backend sent; 3 unanswered requests
         * per load at most: load-shared, load-conn, initiate). */
        assert_true(f->n_inq <= 3 * WINDOW);
    }
    pump_n(f, 3);
    assert_int_equal(n_dones, N - 1);
    dones_clear();
}

/* Answers whatever the backend sends until it is quiet: an empty
 * listing for list-sas, success for the rest.  Returns how many requests
 * named 'count' there were, and in '*max_backlog' (if nonnull) the most
 * requests seen waiting at once. */
static int
drain(struct fx *f, const char *count, size_t *max_backlog)
{
    int n = 0;

    for (;;) {
        pump_n(f, 3);
        fx_io(f);
        fx_serve(f);
        if (!f->n_inq) {
            return n;
        }
        if (max_backlog && f->n_inq > *max_backlog) {
            *max_backlog = f->n_inq;
        }
        const struct vici_msg *req = next_request(f);
        n += !strcmp(req->name, count);
        if (!strcmp(req->name, "list-sas")) {
            reply_list_sas(f, NULL);
        } else {
            reply_ok(f);
        }
    }
}

/* Removing many tunnels at once sends their removals as room allows, never
 * more than 64 requests outstanding; a tunnel added back while its removal
 * waits has that removal sent first, then its load. */
static void
test_withdraw_window(void **state)
{
    enum { N = 40 };
    struct fx *f = *state;
    size_t backlog = 0;
    char name[16];

    handshake(f);
    for (int i = 0; i < N; i++) {
        char remote[32];

        snprintf(name, sizeof name, "t%d", i);
        snprintf(remote, sizeof remote, "198.51.100.%d", i + 1);
        apply(f, name, "geneve", 1, NULL, "remote_ip", remote,
              "local_ip", "192.0.2.1", "psk", PSK, NULL);
    }
    assert_int_equal(drain(f, "load-conn", NULL), N);
    dones_clear();

    /* Each removal is unload-conn, terminate and unload-shared. */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(f->ike->class->tunnel_remove(f->ike, name), 0);
    }
    pump_n(f, 3);
    fx_io(f);
    fx_serve(f);
    assert_true(f->n_inq >= 60 && f->n_inq <= 66);
    assert_false(f->ike->class->idle(f->ike));

    /* t39's removal still waits: adding it back sends it first. */
    apply(f, "t39", "geneve", 2, NULL, "remote_ip", "198.51.100.40",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    pump_n(f, 3);
    fx_io(f);
    fx_serve(f);
    const char *tail[] = {
        "unload-conn", "terminate", "unload-shared", "load-shared",
        "load-conn",
    };
    assert_true(f->n_inq > ARRAY_SIZE(tail));
    for (size_t i = 0; i < ARRAY_SIZE(tail); i++) {
        const struct vici_msg *m = f->inq[f->n_inq - ARRAY_SIZE(tail) + i];
        assert_string_equal(m->name, tail[i]);
    }

    /* At most 64 before a withdrawal's 3 requests, and t39's 5. */
    assert_int_equal(drain(f, "unload-conn", &backlog), N);
    assert_true(backlog <= 63 + 3 + 5);
    assert_true(f->ike->class->idle(f->ike));
    dones_clear();
}

static void
test_psk_messages(void **state)
{
    struct fx *f = *state;

    handshake(f);
    for (size_t i = 0; i < ARRAY_SIZE(psk_cases); i++) {
        const struct psk_case *c = &psk_cases[i];

        if (c->local_ip) {
            apply(f, c->name, c->type, i + 1, NULL, "remote_ip",
                  c->remote_ip, "local_ip", c->local_ip, "psk", PSK, NULL);
        } else {
            apply(f, c->name, c->type, i + 1, NULL, "remote_ip",
                  c->remote_ip, "psk", PSK, NULL);
        }
        expect(f, c->load_shared);
        /* The PSK is sent as is, in the "data" value. */
        const struct vici_node *data = vici_node_get(&f->cur->root, "data");
        assert_non_null(data);
        assert_int_equal(data->size, strlen(PSK));
        assert_memory_equal(data->value, PSK, strlen(PSK));
        reply_ok(f);
        expect(f, c->load_conn);
        reply_ok(f);
        if (c->initiate) {
            /* Only once a listing shows the child down. */
            expect(f, "list-sas {}");
            check_dones(1, c->name, (int) i + 1, 0, NULL);
            reply_list_sas(f, NULL);
            expect(f, c->initiate);
            reply_ok(f);
        }
        expect_quiet(f);
        check_dones(c->initiate ? 0 : 1, c->name, (int) i + 1, 0, NULL);
    }
}

static void
test_default_crypto(void **state)
{
    struct fx *f = *state;

    f->ike->class->destroy(f->ike);
    fx_create_backend(f, true);
    handshake(f);
    apply(f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.2", "psk", PSK,
          NULL);
    expect(f, "load-shared {id=ovs-psk-gre0 type=IKE data=" PSK
           " owners=[192.0.2.2]}");
    reply_ok(f);
    expect(f, "load-conn {gre0 {version=2 local_addrs=[%any] "
           "remote_addrs=[192.0.2.2] keyingtries=0 local {auth=psk} "
           "remote {auth=psk id=192.0.2.2} children {gre0 {mode=transport "
           "local_ts=[dynamic[gre]] remote_ts=[dynamic[gre]] "
           "start_action=trap}}}}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "gre0", 1, 0, NULL);
}

static void
test_ipsec_options(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK,
          "ipsec_ike", "aes128-sha256-modp2048",
          "ipsec_esp", "aes128gcm16-modp2048,aes256gcm16",
          "ipsec_forceencaps", "yes", "ipsec_dpddelay", "10s",
          "ipsec_keyingtries", "3", NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, "load-conn {gnv0 {version=2 local_addrs=[192.0.2.1] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes128-sha256-modp2048 default] encap=yes "
           "keyingtries=3 dpd_delay=10s "
           "local {auth=psk id=192.0.2.1} remote {auth=psk id=192.0.2.2} "
           "children {gnv0-in {mode=transport "
           "local_ts=[dynamic[udp/6081]] remote_ts=[dynamic[udp]] "
           "start_action=trap "
           "esp_proposals=[aes128gcm16-modp2048 aes256gcm16 default]} "
           "gnv0-out {mode=transport local_ts=[dynamic[udp]] "
           "remote_ts=[dynamic[udp/6081]] start_action=trap "
           "esp_proposals=[aes128gcm16-modp2048 aes256gcm16 default]}}}}");
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 1, 0, NULL);

    /* An option the backend cannot carry is refused by check_tunnel(). */
    struct tunnel *t = make_tunnel("gnv1", "geneve", 1, NULL, "remote_ip",
                                   "192.0.2.2", "psk", PSK, "ipsec_auto",
                                   "start", NULL);
    char *error = f->ike->class->check_tunnel(f->ike, t);
    assert_non_null(error);
    assert_non_null(strstr(error, "gnv1: options:ipsec_auto"));
    free(error);
    ut_tunnel_free(t);
}

static void
test_cert_self_signed(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote.pem", NULL);
    expect(f, "load-conn {vx0 {version=2 local_addrs=[%any] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:local certs=[@local.pem]} "
           "remote {auth=pubkey id=fqdn:remote certs=[@remote.pem]} children {"
           "vx0-in {mode=transport local_ts=[dynamic[udp/4789]] "
           "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap} "
           "vx0-out {mode=transport local_ts=[dynamic[udp]] "
           "remote_ts=[dynamic[udp/4789]] "
           "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}");
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "vx0", 1, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, "initiate {child=vx0-out ike=vx0 timeout=-1 init-limits=no}");
    reply_ok(f);
    expect_quiet(f);

    /* The same credentials again: nothing to reload. */
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect_quiet(f);
}

static void
test_cert_ca(void **state)
{
    struct fx *f = *state;

    /* Credentials given before charon is there are loaded on connect. */
    assert_int_equal(f->ike->class->set_global(f->ike, g_ca), 0);
    apply(f, "gre0", "gre", 4, g_ca, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.9", "remote_name", "peer", NULL);
    handshake(f);
    expect(f, "load-key {type=any data=@leaf.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect(f, "load-conn {gre0 {version=2 local_addrs=[192.0.2.9] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:leaf certs=[@leaf.pem]} "
           "remote {auth=pubkey id=fqdn:peer cacerts=[@ca.pem]} children {"
           "gre0 {mode=transport local_ts=[dynamic[gre]] "
           "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap}}}}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "gre0", 4, 0, NULL);
}

/* Tests: outcomes. */

#define LOAD_CONN_VX0(LOCAL_PEM, REMOTE_PEM)                             \
    "load-conn {vx0 {version=2 local_addrs=[%any] "                       \
    "remote_addrs=[192.0.2.2] "                                           \
    "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "              \
    "local {auth=pubkey id=fqdn:local certs=[" LOCAL_PEM "]} "                 \
    "remote {auth=pubkey id=fqdn:remote certs=[" REMOTE_PEM "]} children {"    \
    "vx0-in {mode=transport local_ts=[dynamic[udp/4789]] "                \
    "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "      \
    "start_action=trap} "                                                 \
    "vx0-out {mode=transport local_ts=[dynamic[udp]] "                    \
    "remote_ts=[dynamic[udp/4789]] "                                      \
    "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}"

/* Rotated certificates with the same identities reach charon without
 * terminating the established SAs. */
static void
test_cert_rotation(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "aaaa", NULL);
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote.pem", NULL);
    expect(f, LOAD_CONN_VX0("@local.pem", "@remote.pem"));
    reply_ok(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, "vx0", "1", "ESTABLISHED",
                   "vx0-out", "2", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(1, "vx0", 1, 0, NULL);

    /* Our certificate and key: the connection is reloaded at once, and
     * the old key unloaded once the new one is in. */
    assert_int_equal(f->ike->class->set_global(f->ike, g_self2), 0);
    expect(f, "load-key {type=any data=@local2.key}");
    reply(f, "success", "yes", "id", "bbbb", NULL);
    expect(f, LOAD_CONN_VX0("@local2.pem", "@remote.pem"));
    reply_ok(f);
    expect(f, "unload-key {id=aaaa}");
    reply_ok(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, "vx0", "1", "ESTABLISHED",
                   "vx0-out", "2", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(1, "vx0", 1, 0, NULL);

    /* The peer's certificate, through a new version of the tunnel. */
    apply(f, "vx0", "vxlan", 2, g_self2, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote2.pem", NULL);
    expect(f, LOAD_CONN_VX0("@local2.pem", "@remote2.pem"));
    reply_ok(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, "vx0", "1", "ESTABLISHED",
                   "vx0-out", "2", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(1, "vx0", 2, 0, NULL);
}

static void
test_load_refused(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gnv0", "geneve", 3, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_fail(f, "invalid value for: proposals, config discarded");
    /* Nothing stays half loaded, and nothing is initiated. */
    expect(f, "unload-conn {name=gnv0}");
    check_dones(1, "gnv0", 3, -EINVAL,
                "load-conn: invalid value for: proposals, config discarded");
    reply_fail(f, "unload: connection 'gnv0' not found");
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply(f, "success", "no", "matches", "0", "terminated", "0", "errmsg",
          "no matching SAs to terminate found", NULL);
    expect(f, "unload-shared {id=ovs-psk-gnv0}");
    reply_ok(f);
    expect_quiet(f);

    /* A command charon does not know fails the load too. */
    apply(f, "gnv0", "geneve", 4, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_unknown(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "unload-conn {name=gnv0}");
    check_dones(1, "gnv0", 4, -ENOTSUP,
                "load-shared: charon does not know the command");
    reply_ok(f);
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply_ok(f);
    expect(f, "unload-shared {id=ovs-psk-gnv0}");
    reply_ok(f);
    expect_quiet(f);
}

static void
test_remove(void **state)
{
    struct fx *f = *state;
    struct ds s = DS_EMPTY_INITIALIZER;

    handshake(f);
    configure_gnv0(f, 1);
    assert_int_equal(f->ike->class->tunnel_remove(f->ike, "gnv0"), 0);
    expect(f, "unload-conn {name=gnv0}");
    reply_ok(f);
    /* charon 5.9 leaves the IKE SAs of an unloaded connection up. */
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply(f, "success", "yes", "matches", "1", "terminated", "1", NULL);
    expect(f, "unload-shared {id=ovs-psk-gnv0}");
    reply_ok(f);
    expect_quiet(f);
    assert_int_equal(f->ike->class->tunnel_remove(f->ike, "gnv0"), -ENOENT);
    f->ike->class->show_tunnel(f->ike, "gnv0", &s);
    assert_string_equal(ds_cstr(&s), "");
    ds_destroy(&s);
    check_dones(0);
}

static void
test_reapply_supersedes(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "old-secret", NULL);
    apply(f, "gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, "load-shared {id=ovs-psk-gnv0 type=IKE data=old-secret "
           "owners=[192.0.2.2 192.0.2.1]}");
    reply_fail(f, "v1 is refused");
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    /* Version 1's answers are ignored... */
    expect(f, LOAD_SHARED_GNV0);
    check_dones(0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    /* ...and version 2 is configured, without terminating anything since
     * charon had acknowledged nothing before. */
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 2, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);
    expect_quiet(f);
}

static void
test_change_terminates(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);

    /* A new version with the same content: charon keeps the SAs, and the
     * listing shows the outbound child up, so nothing is initiated. */
    apply(f, "gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 2, 0, NULL);
    reply_list_sas(f, "gnv0", "1", "ESTABLISHED",
                   "gnv0-in", "1", "INSTALLED",
                   "gnv0-out", "2", "INSTALLED", NULL, NULL);
    expect_quiet(f);

    /* A new PSK: the SAs on the old definition are terminated and the
     * outbound child is initiated at once. */
    apply(f, "gnv0", "geneve", 3, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "new-secret", NULL);
    expect(f, "load-shared {id=ovs-psk-gnv0 type=IKE data=new-secret "
           "owners=[192.0.2.2 192.0.2.1]}");
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply(f, "success", "yes", "matches", "1", "terminated", "1", NULL);
    expect(f, INITIATE_GNV0);
    check_dones(1, "gnv0", 3, 0, NULL);
    reply_ok(f);
    expect_quiet(f);

    /* The IKE SAs of the old definition are forgotten. */
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_tunnel(f->ike, "gnv0", &s);
    assert_string_equal(ds_cstr(&s), "");
    ds_destroy(&s);
}

static void
test_psk_to_cert(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect_quiet(f);

    apply(f, "gnv0", "geneve", 2, g_self, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_cert", "@remote.pem", NULL);
    expect(f, "unload-shared {id=ovs-psk-gnv0}");
    reply_ok(f);
    expect(f, "load-conn {gnv0 {version=2 local_addrs=[192.0.2.1] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:local certs=[@local.pem]} "
           "remote {auth=pubkey id=fqdn:remote certs=[@remote.pem]} children {"
           "gnv0-in {mode=transport local_ts=[dynamic[udp/6081]] "
           "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap} "
           "gnv0-out {mode=transport local_ts=[dynamic[udp]] "
           "remote_ts=[dynamic[udp/6081]] "
           "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}");
    reply_ok(f);
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply_ok(f);
    expect(f, INITIATE_GNV0);
    check_dones(1, "gnv0", 2, 0, NULL);
    reply_ok(f);
    expect_quiet(f);

    /* Removing it now leaves the shared secret alone. */
    assert_int_equal(f->ike->class->tunnel_remove(f->ike, "gnv0"), 0);
    expect(f, "unload-conn {name=gnv0}");
    reply_ok(f);
    expect(f, "terminate {ike=gnv0 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);
}

static void
test_load_key(void **state)
{
    struct fx *f = *state;

    handshake(f);

    /* A certificate tunnel without a private key cannot be loaded.  The
     * hook is called from run(), not from tunnel_apply(). */
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote.pem", NULL);
    assert_int_equal(n_dones, 0);
    expect(f, "unload-conn {name=vx0}");
    check_dones(1, "vx0", 1, -ENOKEY, "no private key configured");
    reply_ok(f);
    expect(f, "terminate {ike=vx0 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);

    /* charon refuses the key: the certificate tunnels fail with it. */
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply_fail(f, "loading ANY private key failed");
    apply(f, "vx0", "vxlan", 2, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote.pem", NULL);
    expect(f, "load-conn {vx0 {version=2 local_addrs=[%any] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:local certs=[@local.pem]} "
           "remote {auth=pubkey id=fqdn:remote certs=[@remote.pem]} children {"
           "vx0-in {mode=transport local_ts=[dynamic[udp/4789]] "
           "remote_ts=[dynamic[udp]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap} "
           "vx0-out {mode=transport local_ts=[dynamic[udp]] "
           "remote_ts=[dynamic[udp/4789]] "
           "esp_proposals=[aes256gcm16-modp2048] start_action=trap}}}}");
    reply_ok(f);
    expect(f, "list-sas {}");
    /* The message names the column and the file. */
    char *why = xasprintf("Open_vSwitch: other_config:private_key: "
                          "%s/local.key: load-key: loading ANY private key "
                          "failed", tmpdir);
    check_dones(1, "vx0", 2, -EINVAL, why);
    free(why);
    reply_list_sas(f, NULL);
    expect(f, "initiate {child=vx0-out ike=vx0 timeout=-1 init-limits=no}");
    reply_ok(f);
    expect_quiet(f);

    /* Reconcile tries the key again; once charon takes it, the tunnel is
     * configured. */
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    expect(f, "list-conns {}");
    send_list_conn(f, "vx0", "vx0-in", "vx0-out", "TRANSPORT");
    reply(f, NULL);
    expect(f, "get-shared {}");
    reply(f, "[keys", NULL, NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect_quiet(f);
    check_dones(1, "vx0", 2, 0, NULL);

    /* The key is gone from charon ("swanctl --load-all"): reloaded. */
    time_warp(31000);
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    expect(f, "list-conns {}");
    send_list_conn(f, "vx0", "vx0-in", "vx0-out", "TRANSPORT");
    reply(f, NULL);
    expect(f, "get-shared {}");
    reply(f, "[keys", NULL, NULL);
    expect(f, "get-keys {}");
    reply(f, "[keys", "ffff", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, "vx0", "3", "CONNECTING", NULL, NULL);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect_quiet(f);

    /* No key any more: it is unloaded from charon. */
    struct global_conf *none = ut_global_conf(tmpdir, NULL);
    assert_int_equal(f->ike->class->set_global(f->ike, none), 0);
    global_conf_destroy(none);
    expect(f, "unload-key {id=0a0b0c}");
    reply_ok(f);
    /* The certificate tunnel is reloaded without credentials: it fails
     * and is unloaded. */
    expect(f, "unload-conn {name=vx0}");
    reply_ok(f);
    expect(f, "terminate {ike=vx0 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "vx0", 2, -ENOKEY, "no private key configured");
}

static void
test_conf_error(void **state)
{
    struct fx *f = *state;
    char *src = ut_path(tmpdir, "remote.pem");
    char *dst = ut_path(tmpdir, "gone.pem");
    char *data, *why;
    size_t size;
    FILE *file;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);

    /* The peer's certificate disappears between validation and
     * loading. */
    assert_int_equal(x509_read_file(src, &data, &size, NULL), 0);
    file = fopen(dst, "w");
    assert_non_null(file);
    assert_int_equal(fwrite(data, 1, size, file), size);
    fclose(file);
    free(data);
    struct tunnel *t = make_tunnel("vx0", "vxlan", 1, g_self, "remote_ip",
                                   "192.0.2.2", "remote_cert", "@gone.pem",
                                   NULL);
    unlink(dst);
    assert_int_equal(f->ike->class->tunnel_apply(f->ike, t), 0);
    ut_tunnel_free(t);
    assert_int_equal(n_dones, 0);
    expect(f, "unload-conn {name=vx0}");
    reply_ok(f);
    expect(f, "terminate {ike=vx0 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);
    why = xasprintf("options:remote_cert: %s: No such file or directory",
                    dst);
    check_dones(1, "vx0", 1, -EINVAL, why);
    free(why);

    /* An outcome known at once is not reported if a new version is
     * applied before the next run(): that one reports for itself. */
    file = fopen(dst, "w");
    assert_non_null(file);
    assert_int_equal(fwrite(pem_contents[2], 1, strlen(pem_contents[2]),
                            file), strlen(pem_contents[2]));
    fclose(file);
    t = make_tunnel("vx0", "vxlan", 2, g_self, "remote_ip", "192.0.2.2",
                    "remote_cert", "@gone.pem", NULL);
    unlink(dst);
    assert_int_equal(f->ike->class->tunnel_apply(f->ike, t), 0);
    ut_tunnel_free(t);
    apply(f, "vx0", "vxlan", 3, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote.pem", NULL);
    expect(f, "unload-conn {name=vx0}");
    reply_ok(f);
    expect(f, "terminate {ike=vx0 timeout=-1}");
    reply_ok(f);
    expect(f, LOAD_CONN_VX0("@local.pem", "@remote.pem"));
    check_dones(0);
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "vx0", 3, 0, NULL);
    free(src);
    free(dst);
}

static void
test_charon_restart(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    configure_gnv0(f, 5);

    /* charon stops: its socket goes away with it. */
    fx_close_conn(f);
    close(f->lfd);
    f->lfd = -1;
    unlink(f->path);
    for (int i = 0; i < 50 && !n_dones; i++) {
        pump(f);
    }
    check_dones(1, "gnv0", 5, -ENOTCONN, "lost the connection to charon");
    assert_int_equal(f->ike->class->reconcile(f->ike), -ENOTCONN);
    time_warp(1000);
    pump_n(f, 3);

    /* charon is back: everything is loaded again. */
    fx_listen(f);
    time_warp(5000);
    handshake(f);
    assert_int_equal(f->n_accepts, 2);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 5, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);
    expect_quiet(f);
}

static void
test_reconcile(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);

    /* charon lost gnv0; "stale0" looks like ours and nobody wants it;
     * "foreign*" are not shaped like ours. */
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);   /* Once. */
    expect(f, "list-conns {}");
    send_list_conn(f, "stale0", "stale0-in", "stale0-out", "TRANSPORT");
    send_list_conn(f, "stale1", "stale1", NULL, "TRANSPORT");
    send_list_conn(f, "foreign", "foreign-in", "foreign-out", "TUNNEL");
    send_list_conn(f, "foreign2", "net-in", "net-out", "TRANSPORT");
    send_list_conn(f, "foreign3", "foreign3-in", "foreign3-in",
                   "TRANSPORT");
    reply(f, NULL);
    /* stale0's PSK is there, stale1's is not. */
    expect(f, "get-shared {}");
    reply_keys(f, "ovs-psk-gnv0", "ovs-psk-stale0", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    /* The stale connections' unloads were queued right after. */
    expect(f, "unload-conn {name=stale0}");
    reply_ok(f);
    expect(f, "terminate {ike=stale0 timeout=-1}");
    reply_ok(f);
    expect(f, "unload-shared {id=ovs-psk-stale0}");
    reply_ok(f);
    expect(f, "unload-conn {name=stale1}");
    reply_ok(f);
    expect(f, "terminate {ike=stale1 timeout=-1}");
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 1, 0, NULL);
    reply_list_sas(f, "gnv0", "4", "CONNECTING", NULL, NULL);
    expect_quiet(f);

    /* The connection is there but its PSK is not. */
    reconcile_gnv0_to_get_shared(f);
    reply_keys(f, "ovs-psk-other", "operator-secret", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "4", "CONNECTING", NULL, NULL);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    /* A PSK of ours that no tunnel wants goes; the operator's stays. */
    expect(f, "unload-shared {id=ovs-psk-other}");
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 1, 0, NULL);
    reply_list_sas(f, "gnv0", "4", "ESTABLISHED",
                   "gnv0-out", "9", "INSTALLED", NULL, NULL);
    expect_quiet(f);

    /* Everything in place: nothing to do.  An old charon without
     * get-shared is fine. */
    reconcile_gnv0_to_get_shared(f);
    reply_unknown(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "4", "ESTABLISHED",
                   "gnv0-out", "9", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(0);
}

static void
test_initiate_backoff(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);

    /* Still down right after the initiate: left alone for 30 s. */
    reconcile_gnv0_to_get_shared(f);
    reply(f, "[keys", "ovs-psk-gnv0", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);
    expect_quiet(f);

    time_warp(30001);
    reconcile_gnv0_to_get_shared(f);
    reply(f, "[keys", "ovs-psk-gnv0", NULL);
    expect(f, "list-sas {}");
    /* An IKE SA on its way out and a child in a trap state count as
     * down. */
    reply_list_sas(f, "gnv0", "3", "DELETING",
                   "gnv0-out", "5", "INSTALLED", NULL,
                   "gnv0", "4", "ESTABLISHED",
                   "gnv0-out", "6", "ROUTED",
                   "gnv0-in", "7", "INSTALLED", NULL, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);
    expect_quiet(f);

    /* An IKE SA being negotiated is left alone. */
    time_warp(30001);
    reconcile_gnv0_to_get_shared(f);
    reply(f, "[keys", "ovs-psk-gnv0", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "8", "CONNECTING", NULL, NULL);
    expect_quiet(f);
    check_dones(0);
}

/* An SA of an initiating tunnel goes down (the peer refused it, say):
 * the tunnel is checked and initiated again after 1 s, then 2 s... */
static void
test_retry_after_down(void **state)
{
    struct fx *f = *state;
    struct vici_builder *b;

    handshake(f);
    configure_gnv0(f, 1);
    for (int delay = 1000; delay <= 4000; delay *= 2) {
        b = vici_builder_create(VICI_EVENT, "ike-updown");
        add_ike_sa(b, "gnv0", "1", "CONNECTING");
        vici_end_section(b);
        send_event(f, "ike-updown", b);
        expect_quiet(f);
        time_warp(delay / 2 + 100);
        expect_quiet(f);
        time_warp(delay / 2);
        expect(f, "list-sas {}");
        reply_list_sas(f, NULL);
        expect(f, INITIATE_GNV0);
        reply_ok(f);
        expect_quiet(f);
    }

    /* Once the outbound child was up, the delay starts over; a child
     * that goes down is retried too, unless the listing shows it back. */
    b = vici_builder_create(VICI_EVENT, "child-updown");
    vici_add_kv(b, "up", "yes");
    add_ike_sa(b, "gnv0", "2", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    add_child_sa(b, "gnv0-out", "3", "INSTALLED");
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "child-updown", b);
    b = vici_builder_create(VICI_EVENT, "child-updown");
    add_ike_sa(b, "gnv0", "2", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    add_child_sa(b, "gnv0-out", "3", "DELETING");
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "child-updown", b);
    expect_quiet(f);
    time_warp(1000);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "2", "ESTABLISHED",
                   "gnv0-out", "4", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(0);
}

/* Tests: SA cache. */

static struct vici_builder *
updown(const char *event, bool up)
{
    struct vici_builder *b = vici_builder_create(VICI_EVENT, event);
    if (up) {
        vici_add_kv(b, "up", "yes");
    }
    return b;
}

static char *
show(struct fx *f, const char *name)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_tunnel(f->ike, name, &s);
    return ds_steal_cstr(&s);
}

static void
assert_show(struct fx *f, const char *name, const char *expected)
{
    char *s = show(f, name);
    assert_string_equal(s, expected);
    free(s);
}

/* A "log" event as charon's vici logger sends it, for IKE SA 'name'
 * (none if NULL). */
static void
send_log(struct fx *f, const char *name, const char *msg)
{
    struct vici_builder *b = vici_builder_create(VICI_EVENT, "log");

    vici_add_kv(b, "group", "IKE");
    vici_add_kv(b, "level", "1");
    vici_add_kv(b, "thread", "13");
    if (name) {
        vici_add_kv(b, "ikesa-name", name);
        vici_add_kv(b, "ikesa-uniqueid", "4");
    }
    vici_add_kv(b, "msg", msg);
    /* The backend opens its log connection once the main one is up. */
    for (int i = 0; i < 100 && !f->log_registered; i++) {
        pump(f);
    }
    assert_true(f->log_registered);
    fx_send_fd(f, f->log_fd, b);
    /* It reads that connection at most every 2 s. */
    time_warp(2000);
}

/* Why negotiations fail reaches tunnels/show: charon's log messages that
 * say so are kept per tunnel (made printable) until an SA comes up, and
 * forgotten when the tunnel is configured again. */
static void
test_ike_failure_shown(void **state)
{
    struct fx *f = *state;
    struct vici_builder *b;
    char *s;

    handshake(f);
    configure_gnv0(f, 1);

    /* Not a failure, another connection's, no IKE SA: nothing kept. */
    send_log(f, "gnv0", "initiating IKE_SA gnv0[4] to 192.0.2.2");
    send_log(f, "other", "received AUTHENTICATION_FAILED notify error");
    send_log(f, NULL, "received AUTHENTICATION_FAILED notify error");
    pump_n(f, 3);
    assert_show(f, "gnv0", "");

    /* The last failure wins; unprintable bytes become '?'. */
    send_log(f, "gnv0", "tried 1 shared key for '192.0.2.1' - "
             "'192.0.2.2', but MAC mismatched");
    send_log(f, "gnv0", "received AUTHENTICATION_FAILED notify\001error");
    pump_n(f, 3);
    assert_show(f, "gnv0", "  last IKE failure (0 s ago): received "
                "AUTHENTICATION_FAILED notify?error\n");

    /* An SA comes up: the failure is history. */
    b = updown("ike-updown", true);
    add_ike_sa(b, "gnv0", "5", "ESTABLISHED");
    vici_end_section(b);
    send_event(f, "ike-updown", b);
    pump_n(f, 3);
    s = show(f, "gnv0");
    assert_null(strstr(s, "failure"));
    free(s);
    check_dones(0);
}

static void
test_sa_events(void **state)
{
    struct fx *f = *state;
    struct vici_builder *b;

    handshake(f);
    configure_gnv0(f, 1);

    b = updown("ike-updown", true);
    add_ike_sa(b, "gnv0", "1", "ESTABLISHED");
    vici_end_section(b);
    send_event(f, "ike-updown", b);
    b = updown("child-updown", true);
    add_ike_sa(b, "gnv0", "1", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    add_child_sa(b, "gnv0-out", "2", "INSTALLED");
    add_child_sa(b, "gnv0-in", "3", "INSTALLING");
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "child-updown", b);
    pump_n(f, 3);
    assert_show(f, "gnv0",
                "  gnv0[1]: ESTABLISHED, 192.0.2.1[192.0.2.1]..."
                "192.0.2.2[192.0.2.2]\n"
                "  gnv0-out{2}: INSTALLED, TRANSPORT, reqid 7, ESP SPIs: "
                "c1a2b3c4_i d1e2f3a4_o, AES_GCM_16-256\n");

    /* The CHILD SA is rekeyed, then the IKE SA. */
    b = vici_builder_create(VICI_EVENT, "child-rekey");
    add_ike_sa(b, "gnv0", "1", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    vici_begin_section(b, "gnv0-out");
    vici_begin_section(b, "old");
    vici_add_kv(b, "name", "gnv0-out");
    vici_add_kv(b, "uniqueid", "2");
    vici_add_kv(b, "state", "REKEYED");
    vici_end_section(b);
    vici_begin_section(b, "new");
    vici_add_kv(b, "name", "gnv0-out");
    vici_add_kv(b, "uniqueid", "4");
    vici_add_kv(b, "state", "INSTALLED");
    vici_add_kv(b, "mode", "TRANSPORT");
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "child-rekey", b);
    b = vici_builder_create(VICI_EVENT, "ike-rekey");
    vici_begin_section(b, "gnv0");
    vici_begin_section(b, "old");
    vici_add_kv(b, "uniqueid", "1");
    vici_add_kv(b, "state", "REKEYED");
    vici_end_section(b);
    vici_begin_section(b, "new");
    vici_add_kv(b, "uniqueid", "5");
    vici_add_kv(b, "state", "ESTABLISHED");
    vici_add_kv(b, "local-host", "192.0.2.1");
    vici_add_kv(b, "local-id", "192.0.2.1");
    vici_add_kv(b, "remote-host", "192.0.2.2");
    vici_add_kv(b, "remote-id", "192.0.2.2");
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "ike-rekey", b);
    pump_n(f, 3);
    assert_show(f, "gnv0",
                "  gnv0[5]: ESTABLISHED, 192.0.2.1[192.0.2.1]..."
                "192.0.2.2[192.0.2.2]\n"
                "  gnv0-out{4}: INSTALLED, TRANSPORT, reqid ?, ESP SPIs: "
                "?_i ?_o\n");

    /* The child goes down, then the IKE SA. */
    b = updown("child-updown", false);
    add_ike_sa(b, "gnv0", "5", "ESTABLISHED");
    vici_begin_section(b, "child-sas");
    add_child_sa(b, "gnv0-out", "4", "DELETING");
    vici_end_section(b);
    vici_end_section(b);
    send_event(f, "child-updown", b);
    pump_n(f, 3);
    assert_show(f, "gnv0",
                "  gnv0[5]: ESTABLISHED, 192.0.2.1[192.0.2.1]..."
                "192.0.2.2[192.0.2.2]\n");
    b = updown("ike-updown", false);
    add_ike_sa(b, "gnv0", "5", "DELETING");
    vici_end_section(b);
    send_event(f, "ike-updown", b);
    pump_n(f, 3);
    assert_show(f, "gnv0", "");
    /* Both went down: one retry. */
    time_warp(1000);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);

    /* Events about connections that are not ours are not kept, and a
     * connection's IKE SAs are capped. */
    for (int i = 0; i < 40; i++) {
        char *conn = xasprintf("foreign%d", i);
        char *id = xasprintf("%d", 100 + i);
        b = updown("ike-updown", true);
        add_ike_sa(b, conn, id, "ESTABLISHED");
        vici_end_section(b);
        send_event(f, "ike-updown", b);
        b = updown("ike-updown", true);
        add_ike_sa(b, "gnv0", id, "ESTABLISHED");
        vici_end_section(b);
        send_event(f, "ike-updown", b);
        free(conn);
        free(id);
        pump(f);
    }
    pump_n(f, 3);
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_summary(f->ike, &s);
    assert_non_null(strstr(ds_cstr(&s), "tunnels: 1, IKE SAs: 8,"));
    ds_destroy(&s);
    char *text = show(f, "foreign0");
    assert_string_equal(text, "");
    free(text);
    expect_quiet(f);
    check_dones(0);
}

static void
test_list_sas_feeds_show(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);
    reconcile_gnv0_to_get_shared(f);
    reply(f, "[keys", "ovs-psk-gnv0", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "1", "ESTABLISHED",
                   "gnv0-in", "2", "INSTALLED",
                   "gnv0-out", "3", "INSTALLED",
                   "gnv0-out", "4", "REKEYED", NULL,
                   "other", "9", "ESTABLISHED",
                   "other-out", "10", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    assert_show(f, "gnv0",
                "  gnv0[1]: ESTABLISHED, 192.0.2.1[192.0.2.1]..."
                "192.0.2.2[192.0.2.2]\n"
                "  gnv0-in{2}: INSTALLED, TRANSPORT, reqid 7, ESP SPIs: "
                "c1a2b3c4_i d1e2f3a4_o, AES_GCM_16-256\n"
                "  gnv0-out{3}: INSTALLED, TRANSPORT, reqid 7, ESP SPIs: "
                "c1a2b3c4_i d1e2f3a4_o, AES_GCM_16-256\n");
    assert_show(f, "other", "");
}

static void
test_query_status(void **state)
{
    struct fx *f = *state;

    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls),
                     -ENOTCONN);
    handshake(f);
    pump_n(f, 2);
    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls), 0);
    expect(f, "list-conns {}");
    send_list_conn(f, "gnv0", "gnv0-in", "gnv0-out", "TRANSPORT");
    reply(f, NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gnv0", "1", "ESTABLISHED",
                   "gnv0-out", "3", "INSTALLED", NULL,
                   "other", "9", "CONNECTING", NULL, NULL);
    pump_n(f, 3);
    assert_int_equal(status_calls, 1);
    assert_int_equal(status_error, 0);
    char *expected = xasprintf(
        "IKE daemon: strongSwan charon over %s: connected, charon 5.9.8\n"
        "tunnels: 0, IKE SAs: 0, requests pending: 0, loads: 0, "
        "unloads: 0, initiates: 0, VICI messages sent: 6\n"
        "Connections:\n"
        "gnv0: IKEv2, 192.0.2.1...192.0.2.2\n"
        "  gnv0-in: TRANSPORT, dynamic[udp/6081] === dynamic[udp]\n"
        "  gnv0-out: TRANSPORT, dynamic[udp] === dynamic[udp/6081]\n"
        "Security Associations:\n"
        "  gnv0[1]: ESTABLISHED, 192.0.2.1[192.0.2.1]..."
        "192.0.2.2[192.0.2.2]\n"
        "  gnv0-out{3}: INSTALLED, TRANSPORT, reqid 7, ESP SPIs: "
        "c1a2b3c4_i d1e2f3a4_o, AES_GCM_16-256\n"
        "  other[9]: CONNECTING, 192.0.2.1[192.0.2.1]..."
        "192.0.2.2[192.0.2.2]\n"
        "(1 connections, 2 IKE SAs)\n", f->vici);
    assert_string_equal(status_text, expected);
    free(expected);

    /* charon goes away before answering: the callback gets the error. */
    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls), 0);
    expect(f, "list-conns {}");
    fx_close_conn(f);
    for (int i = 0; i < 20 && status_calls < 2; i++) {
        pump(f);
    }
    assert_int_equal(status_calls, 2);
    assert_int_equal(status_error, -ECONNRESET);
    assert_non_null(strstr(status_text, "list-conns: "));
}

static void
test_cleanup(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    configure_gnv0(f, 1);
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.3",
          "remote_cert", "@remote.pem", NULL);
    next_request(f);
    reply_ok(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);
    next_request(f);
    reply_ok(f);
    check_dones(1, "vx0", 1, 0, NULL);
    pump_n(f, 2);
    assert_true(f->ike->class->idle(f->ike));

    assert_int_equal(f->ike->class->cleanup(f->ike), 0);
    assert_false(f->ike->class->idle(f->ike));
    /* Tunnels in hash order; check the set. */
    static const char *const wanted[] = {
        "unload-conn {name=gnv0}", "terminate {ike=gnv0 timeout=-1}",
        "unload-shared {id=ovs-psk-gnv0}",
        "unload-conn {name=vx0}", "terminate {ike=vx0 timeout=-1}",
    };
    bool seen[ARRAY_SIZE(wanted)] = { false };
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++) {
        char *s = render(next_request(f));
        bool found = false;
        for (size_t j = 0; j < ARRAY_SIZE(wanted); j++) {
            if (!strcmp(s, wanted[j]) && !seen[j]) {
                seen[j] = found = true;
                break;
            }
        }
        if (!found) {
            fail_msg("unexpected request during cleanup: %s", s);
        }
        free(s);
        reply_ok(f);
    }
    expect(f, "unload-key {id=0a0b0c}");
    reply_ok(f);
    for (int i = 0; i < 20 && !f->ike->class->idle(f->ike); i++) {
        pump(f);
    }
    assert_true(f->ike->class->idle(f->ike));

    /* Nothing is loaded or initiated any more, whatever the monitor still
     * hands over while it waits for the cleanup to finish: a new tunnel,
     * a new version of one, new credentials, a reconcile. */
    struct tunnel *t = make_tunnel("gnv1", "geneve", 1, NULL, "remote_ip",
                                   "192.0.2.5", "psk", PSK, NULL);
    assert_int_equal(f->ike->class->tunnel_apply(f->ike, t), -ECANCELED);
    ut_tunnel_free(t);
    t = make_tunnel("gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
                    "local_ip", "192.0.2.1", "psk", "other-" PSK, NULL);
    assert_int_equal(f->ike->class->tunnel_apply(f->ike, t), -ECANCELED);
    ut_tunnel_free(t);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self2),
                     -ECANCELED);
    assert_int_equal(f->ike->class->reconcile(f->ike), -ECANCELED);
    time_warp(60000);
    expect_quiet(f);
    assert_true(f->ike->class->idle(f->ike));
    check_dones(0);

    /* Even after charon restarts. */
    fx_close_conn(f);
    time_warp(5000);
    handshake(f);
    expect_quiet(f);
    check_dones(0);
}

/* A private key that charon was still loading when cleanup() started is
 * unloaded once charon says which it is. */
static void
test_cleanup_key_in_flight(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    assert_int_equal(f->ike->class->cleanup(f->ike), 0);
    assert_false(f->ike->class->idle(f->ike));
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    expect(f, "unload-key {id=0a0b0c}");
    assert_false(f->ike->class->idle(f->ike));
    reply_ok(f);
    for (int i = 0; i < 20 && !f->ike->class->idle(f->ike); i++) {
        pump(f);
    }
    assert_true(f->ike->class->idle(f->ike));
    expect_quiet(f);

    /* A key charon refused needs nothing. */
    f->ike->class->destroy(f->ike);
    fx_close_conn(f);
    fx_create_backend(f, false);
    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    assert_int_equal(f->ike->class->cleanup(f->ike), 0);
    reply_fail(f, "loading ANY private key failed");
    expect_quiet(f);
    assert_true(f->ike->class->idle(f->ike));
    check_dones(0);
}

static void
test_timeout(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    expect(f, LOAD_SHARED_GNV0);
    /* charon hangs. */
    pump_n(f, 2);
    check_dones(0);
    time_warp(TIMEOUT_MS + 1);
    for (int i = 0; i < 20 && !n_dones; i++) {
        pump(f);
    }
    /* The tunnel keeps the reason rather than "lost the connection". */
    pump_n(f, 2);
    check_dones(1, "gnv0", 1, -ETIMEDOUT,
                "load-shared: charon did not answer in time");

    /* The client reconnects and loads everything again. */
    for (int i = 0; i < 20 && f->fd >= 0; i++) {
        pump(f);
    }
    fx_close_conn(f);
    time_warp(1000);
    handshake(f);
    expect(f, LOAD_SHARED_GNV0);
    reply_ok(f);
    expect(f, LOAD_CONN_GNV0);
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "gnv0", 1, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, INITIATE_GNV0);
    reply_ok(f);
    expect_quiet(f);
}

static void
test_not_connected(void **state)
{
    struct fx *f = *state;

    /* Nothing is sent before charon is there. */
    close(f->lfd);
    f->lfd = -1;
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    pump_n(f, 3);
    check_dones(0);
    assert_int_equal(f->ike->class->reconcile(f->ike), -ENOTCONN);
    assert_int_equal(f->ike->class->cleanup(f->ike), -ENOTCONN);
    assert_true(f->ike->class->idle(f->ike));
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_summary(f->ike, &s);
    assert_non_null(strstr(ds_cstr(&s), ": not connected\ntunnels: 1,"));
    ds_destroy(&s);
}

static void
test_destroy_inflight(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls), 0);
    expect(f, LOAD_SHARED_GNV0);
    f->ike->class->destroy(f->ike);
    f->ike = NULL;
    /* The status callback gets its one call; tunnel_done none. */
    assert_int_equal(status_calls, 1);
    assert_int_equal(status_error, -ECANCELED);
    check_dones(0);
}

static void
test_secrets_not_logged(void **state)
{
    struct fx *f = *state;
    char *log = xasprintf("%s/log", f->dir);
    char *text = NULL;
    size_t size;
    char *error;

    assert_int_equal(log_set_file(log), 0);
    error = log_set_levels_from_string("ANY:file:dbg");
    assert_null(error);

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    configure_gnv0(f, 1);
    apply(f, "gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "second-" PSK, NULL);
    next_request(f);
    reply_fail(f, "refused");
    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls), 0);
    for (;;) {
        const char *name = next_request(f)->name;
        if (!strcmp(name, "list-conns")) {
            reply(f, NULL);
        } else if (!strcmp(name, "list-sas")) {
            reply(f, NULL);
            break;
        } else {
            reply_ok(f);
        }
    }
    pump_n(f, 3);
    assert_int_equal(status_calls, 1);

    error = log_set_levels_from_string("ANY:file:info");
    assert_null(error);
    assert_int_equal(x509_read_file(log, &text, &size, NULL), 0);
    /* The packets were logged, with their secrets redacted. */
    assert_non_null(strstr(text, "load-shared request {id=ovs-psk-gnv0 "
                           "type=IKE data=<redacted>"));
    assert_non_null(strstr(text, "load-key request {type=any "
                           "data=<redacted>}"));
    assert_null(strstr(text, PSK));
    assert_null(strstr(text, "PRIVATE KEY"));
    assert_null(strstr(status_text, PSK));
    free(text);
    unlink(log);
    free(log);
    check_dones(1, "gnv0", 2, -EINVAL, "load-shared: refused");
}

/* Tests: what reaches charon, and what may not. */

/* Returns a new string with the contents of the test's log file 'log',
 * and sets file logging back to INFO. */
static char *
read_log(const char *log)
{
    char *text = NULL;
    size_t size;
    char *error = log_set_levels_from_string("ANY:file:info");

    assert_null(error);
    assert_int_equal(x509_read_file(log, &text, &size, NULL), 0);
    return text;
}

/* Starts logging everything at 'level' to the file "log" in the fixture's
 * directory (removed by teardown()).  Returns its name; the caller frees
 * it. */
static char *
start_log(struct fx *f, const char *level)
{
    char *log = xasprintf("%s/log", f->dir);
    char *spec = xasprintf("ANY:file:%s", level);
    char *error;

    assert_int_equal(log_set_file(log), 0);
    error = log_set_levels_from_string(spec);
    assert_null(error);
    free(spec);
    return log;
}

static size_t
count_substr(const char *text, const char *s)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, s)); p += strlen(s)) {
        n++;
    }
    return n;
}

/* A file that holds a private key next to the certificate sends only the
 * certificate, as OpenSSL re-encodes it, and the key shows up in no log,
 * even at DBG where VICI packets are logged. */
static void
test_cert_file_with_key(void **state)
{
    struct fx *f = *state;
    char *log = start_log(f, "dbg");

    handshake(f);
    /* Some setups point certificate and private_key at one file. */
    struct global_conf *g = ut_global_conf(tmpdir,
                                           "certificate", "@combined.pem",
                                           "private_key", "@combined.pem",
                                           NULL);
    assert_null(g->cert_error);
    assert_int_equal(f->ike->class->set_global(f->ike, g), 0);
    expect(f, "load-key {type=any data=@combined.pem}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    apply(f, "vx0", "vxlan", 1, g, "remote_ip", "192.0.2.2",
          "remote_cert", "@remote-combined.pem", NULL);
    expect(f, LOAD_CONN_VX0("@local.pem", "@remote.pem"));
    reply_ok(f);
    expect(f, "list-sas {}");
    check_dones(1, "vx0", 1, 0, NULL);
    reply_list_sas(f, NULL);
    expect(f, "initiate {child=vx0-out ike=vx0 timeout=-1 init-limits=no}");
    reply_ok(f);
    expect_quiet(f);
    global_conf_destroy(g);

    char *text = read_log(log);
    assert_non_null(strstr(text, "load-conn request {vx0 {"));
    assert_null(strstr(text, "PRIVATE KEY"));
    free(text);
    free(log);
}

/* Each CA certificate of a bundle is an item of its own. */
static void
test_ca_bundle(void **state)
{
    struct fx *f = *state;
    struct global_conf *g = leaf_global("bundle.pem");

    handshake(f);
    assert_null(g->cert_error);
    assert_int_equal(f->ike->class->set_global(f->ike, g), 0);
    expect(f, "load-key {type=any data=@leaf.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    apply(f, "gre1", "gre", 1, g, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.9", "remote_name", "peer", NULL);
    expect(f, "load-conn {gre1 {version=2 local_addrs=[192.0.2.9] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:leaf certs=[@leaf.pem]} "
           "remote {auth=pubkey id=fqdn:peer cacerts=[@ca.pem @ca2.pem]} "
           "children {gre1 {mode=transport local_ts=[dynamic[gre]] "
           "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap}}}}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "gre1", 1, 0, NULL);
    global_conf_destroy(g);

    /* A bundle with a certificate that is no CA is refused, by name; the
     * key goes with it, and the certificate tunnels cannot load. */
    g = leaf_global("bad-bundle.pem");
    assert_null(g->cert_error);         /* The first one is a CA. */
    assert_int_equal(f->ike->class->set_global(f->ike, g), -EINVAL);
    expect(f, "unload-key {id=0a0b0c}");
    reply_ok(f);
    expect(f, "unload-conn {name=gre1}");
    reply_ok(f);
    expect(f, "terminate {ike=gre1 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);
    char *why = xasprintf("Open_vSwitch: other_config:ca_cert: "
                          "%s/bad-bundle.pem: certificate 2 (CN=leaf,O=ovs) "
                          "is not a CA certificate (no basicConstraints "
                          "CA:TRUE)", tmpdir);
    check_dones(1, "gre1", 1, -ENOKEY, why);
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_summary(f->ike, &s);
    assert_non_null(strstr(ds_cstr(&s), why));
    ds_destroy(&s);
    free(why);
    global_conf_destroy(g);

    /* A bundle whose second certificate is damaged. */
    char *path = ut_path(tmpdir, "damaged-bundle.pem");
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_true(fputs(pem_contents[5], file) >= 0);     /* ca.pem */
    assert_true(fputs("-----BEGIN CERTIFICATE-----\nAAAA\n"
                      "-----END CERTIFICATE-----\n", file) >= 0);
    assert_int_equal(fclose(file), 0);
    g = leaf_global("damaged-bundle.pem");
    assert_null(g->cert_error);
    assert_int_equal(f->ike->class->set_global(f->ike, g), -EINVAL);
    global_conf_destroy(g);
    expect_quiet(f);
    f->ike->class->show_summary(f->ike, &s);
    why = xasprintf("private key: Open_vSwitch: other_config:ca_cert: %s: "
                    "certificate 2 is not valid: ", path);
    assert_non_null(strstr(ds_cstr(&s), why));
    free(why);
    ds_destroy(&s);
    free(path);
    check_dones(0);
}

/* A certificate too big for a VICI value, or a CA bundle too big for a
 * load-conn, is refused with the column and the reason, instead of a
 * "request too large" that names nothing. */
static void
test_cert_too_large(void **state)
{
    struct fx *f = *state;
    struct global_conf *g;
    char *prefix;
    char *why;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    expect(f, "load-key {type=any data=@local.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);

    /* The peer's certificate. */
    make_big_cert("big.pem", "big", false, 1200);
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.2",
          "remote_cert", "@big.pem", NULL);
    expect(f, "unload-conn {name=vx0}");
    reply_ok(f);
    expect(f, "terminate {ike=vx0 timeout=-1}");
    reply_ok(f);
    expect_quiet(f);
    assert_int_equal(n_dones, 1);
    assert_int_equal(dones[0].error, -EINVAL);
    prefix = xasprintf("options:remote_cert: %s/big.pem: the certificate "
                       "takes ", tmpdir);
    why = dones[0].why;
    assert_non_null(why);
    assert_true(!strncmp(why, prefix, strlen(prefix)));
    assert_non_null(strstr(why, " bytes in PEM form, more than the 65535 "
                           "bytes that a VICI value can hold"));
    free(prefix);
    dones_clear();

    /* A CA certificate. */
    make_big_cert("bigca.pem", "bigca", true, 1200);
    g = leaf_global("bigca.pem");
    assert_null(g->cert_error);
    assert_int_equal(f->ike->class->set_global(f->ike, g), -EINVAL);
    global_conf_destroy(g);
    expect(f, "unload-key {id=0a0b0c}");
    reply_ok(f);
    expect_quiet(f);
    struct ds s = DS_EMPTY_INITIALIZER;
    f->ike->class->show_summary(f->ike, &s);
    prefix = xasprintf("private key: Open_vSwitch: other_config:ca_cert: "
                       "%s/bigca.pem: certificate 1 takes ", tmpdir);
    assert_non_null(strstr(ds_cstr(&s), prefix));
    free(prefix);
    ds_destroy(&s);

    /* A bundle whose certificates each fit, but not all together. */
    char *bundle = ut_path(tmpdir, "big-bundle.pem");
    FILE *file = fopen(bundle, "w");
    assert_non_null(file);
    for (int i = 0; i < 6; i++) {
        char *name = xasprintf("midca%d.pem", i);
        char *cn = xasprintf("midca%d", i);
        char *path = ut_path(tmpdir, name);
        char *data;
        size_t size;

        make_big_cert(name, cn, true, 700);
        assert_int_equal(x509_read_file(path, &data, &size, NULL), 0);
        assert_true(size > 45000 && size < 65535);
        assert_int_equal(fwrite(data, 1, size, file), size);
        free(data);
        free(path);
        free(cn);
        free(name);
    }
    assert_int_equal(fclose(file), 0);
    g = leaf_global("big-bundle.pem");
    assert_null(g->cert_error);
    assert_int_equal(f->ike->class->set_global(f->ike, g), -EINVAL);
    global_conf_destroy(g);
    expect_quiet(f);
    f->ike->class->show_summary(f->ike, &s);
    prefix = xasprintf("private key: Open_vSwitch: other_config:ca_cert: "
                       "%s: 6 certificates take ", bundle);
    assert_non_null(strstr(ds_cstr(&s), prefix));
    assert_non_null(strstr(ds_cstr(&s), " bytes in PEM form, more than the "
                           "262144 bytes that ovsec sends with each "
                           "connection\n"));
    free(prefix);
    ds_destroy(&s);
    free(bundle);
    check_dones(0);
}

/* Moving a tunnel from a pinned peer certificate to CA-signed peers with
 * the same name changes whom its SAs were authenticated against: they
 * are terminated, as for any other change. */
static void
test_auth_mode_change_terminates(void **state)
{
    struct fx *f = *state;

    handshake(f);
    assert_int_equal(f->ike->class->set_global(f->ike, g_ca), 0);
    expect(f, "load-key {type=any data=@leaf.key}");
    reply(f, "success", "yes", "id", "0a0b0c", NULL);
    apply(f, "gre0", "gre", 1, g_ca, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_cert", "@remote.pem", NULL);
    expect(f, "load-conn {gre0 {version=2 local_addrs=[192.0.2.1] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:leaf certs=[@leaf.pem]} "
           "remote {auth=pubkey id=fqdn:remote certs=[@remote.pem]} "
           "children {gre0 {mode=transport local_ts=[dynamic[gre]] "
           "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap}}}}");
    reply_ok(f);
    expect(f, "list-sas {}");
    reply_list_sas(f, "gre0", "1", "ESTABLISHED",
                   "gre0", "2", "INSTALLED", NULL, NULL);
    expect_quiet(f);
    check_dones(1, "gre0", 1, 0, NULL);

    apply(f, "gre0", "gre", 2, g_ca, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_name", "remote", NULL);
    expect(f, "load-conn {gre0 {version=2 local_addrs=[192.0.2.1] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=pubkey id=fqdn:leaf certs=[@leaf.pem]} "
           "remote {auth=pubkey id=fqdn:remote cacerts=[@ca.pem]} "
           "children {gre0 {mode=transport local_ts=[dynamic[gre]] "
           "remote_ts=[dynamic[gre]] esp_proposals=[aes256gcm16-modp2048] "
           "start_action=trap}}}}");
    reply_ok(f);
    expect(f, "terminate {ike=gre0 timeout=-1}");
    reply_ok(f);
    expect(f, "initiate {child=gre0 ike=gre0 timeout=-1 init-limits=no}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "gre0", 2, 0, NULL);
}

/* ipsec_ah selects AH: no default ESP proposal goes with it, since
 * ipsec.conf allows ESP or AH, not an AH+ESP bundle. */
static void
test_ah_without_esp(void **state)
{
    struct fx *f = *state;

    handshake(f);
    apply(f, "gre1", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.3", "psk", PSK, "ipsec_ah", "sha256", NULL);
    expect(f, "load-shared {id=ovs-psk-gre1 type=IKE data=" PSK
           " owners=[192.0.2.2 192.0.2.3]}");
    reply_ok(f);
    expect(f, "load-conn {gre1 {version=2 local_addrs=[192.0.2.3] "
           "remote_addrs=[192.0.2.2] "
           "proposals=[aes256gcm16-sha256-modp2048] keyingtries=0 "
           "local {auth=psk id=192.0.2.3} remote {auth=psk id=192.0.2.2} "
           "children {gre1 {mode=transport local_ts=[dynamic[gre]] "
           "remote_ts=[dynamic[gre]] start_action=trap "
           "ah_proposals=[sha256 default]}}}}");
    reply_ok(f);
    expect_quiet(f);
    check_dones(1, "gre1", 1, 0, NULL);
}

/* Losing charon is one WARN line with the count, not one per tunnel;
 * every tunnel still gets its tunnel_done. */
static void
test_disconnect_logs_once(void **state)
{
    struct fx *f = *state;
    char *log = start_log(f, "info");

    handshake(f);
    configure_gnv0(f, 1);
    for (int i = 1; i <= 2; i++) {
        char *name = xasprintf("gre%d", i);
        apply(f, name, "gre", 1, NULL, "remote_ip", "192.0.2.2",
              "local_ip", "192.0.2.3", "psk", PSK, NULL);
        for (int j = 0; j < 2; j++) {
            next_request(f);
            reply_ok(f);
        }
        expect_quiet(f);
        check_dones(1, name, 1, 0, NULL);
        free(name);
    }

    fx_close_conn(f);
    for (int i = 0; i < 50 && n_dones < 3; i++) {
        pump(f);
    }
    assert_int_equal(n_dones, 3);
    for (size_t i = 0; i < n_dones; i++) {
        assert_int_equal(dones[i].error, -ENOTCONN);
    }
    dones_clear();

    char *text = read_log(log);
    assert_int_equal(count_substr(text, "|strongswan|WARN|"), 1);
    char *line = xasprintf("|strongswan|WARN|lost connection to charon at "
                           "%s; 3 tunnels will be reloaded when it is "
                           "back\n", f->vici);
    assert_non_null(strstr(text, line));
    free(line);
    free(text);
    free(log);
}

/* A peer that keeps setting up SAs cannot make the log grow without
 * bound. */
static void
test_sa_log_rate_limited(void **state)
{
    struct fx *f = *state;
    char *log = start_log(f, "info");

    handshake(f);
    configure_gnv0(f, 1);
    time_warp(10 * 60 * 1000);  /* Whatever earlier tests used is back. */
    for (int i = 0; i < 200; i++) {
        char *id = xasprintf("%d", i + 1);
        struct vici_builder *b = updown("ike-updown", true);
        add_ike_sa(b, "gnv0", id, "ESTABLISHED");
        vici_end_section(b);
        send_event(f, "ike-updown", b);
        b = updown("child-updown", true);
        add_ike_sa(b, "gnv0", id, "ESTABLISHED");
        vici_begin_section(b, "child-sas");
        add_child_sa(b, "gnv0-out", id, "INSTALLED");
        vici_end_section(b);
        vici_end_section(b);
        send_event(f, "child-updown", b);
        free(id);
        if (i % 10 == 9) {
            pump_n(f, 2);
        }
    }
    pump_n(f, 5);

    char *text = read_log(log);
    size_t n = (count_substr(text, "|strongswan|INFO|gnv0: IKE SA ")
                + count_substr(text, "|strongswan|INFO|gnv0: CHILD SA "));
    assert_true(n >= 50);
    assert_true(n <= 62);
    free(text);
    free(log);
    expect_quiet(f);
    check_dones(0);
}

/* Reconcile leaves alone the operator's connections that resemble ours:
 * only one shaped exactly like what we load (IKEv2, a literal remote
 * address, transport-mode children with our names and traffic
 * selectors) is taken for a leftover of ours. */
static void
test_reconcile_foreign(void **state)
{
    struct fx *f = *state;

    handshake(f);
    configure_gnv0(f, 1);
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    expect(f, "list-conns {}");
    send_list_conn(f, "gnv0", "gnv0-in", "gnv0-out", "TRANSPORT");
    /* strongSwan's host-to-host transport example, as charon lists it. */
    send_conn(f, "host-host", "IKEv1/2", "192.0.2.9",
              "host-host", "TRANSPORT", "dynamic", "dynamic", (char *) NULL);
    /* Each differs from ours in one respect. */
    send_conn(f, "hh2", "IKEv2", "192.0.2.9",
              "hh2", "TRANSPORT", "dynamic", "dynamic", (char *) NULL);
    send_conn(f, "v1", "IKEv1", "192.0.2.9",
              "v1", "TRANSPORT", "dynamic[gre]", "dynamic[gre]",
              (char *) NULL);
    send_conn(f, "anyremote", "IKEv2", "%any",
              "anyremote", "TRANSPORT", "dynamic[gre]", "dynamic[gre]",
              (char *) NULL);
    send_conn(f, "dnsremote", "IKEv2", "peer.example.org",
              "dnsremote", "TRANSPORT", "dynamic[gre]", "dynamic[gre]",
              (char *) NULL);
    send_conn(f, "greport", "IKEv2", "192.0.2.9",
              "greport", "TRANSPORT", "dynamic[gre]", "dynamic[udp/6081]",
              (char *) NULL);
    send_conn(f, "udp1", "IKEv2", "192.0.2.9",
              "udp1", "TRANSPORT", "dynamic[udp/6081]", "dynamic[udp]",
              (char *) NULL);
    send_conn(f, "mixed", "IKEv2", "192.0.2.9",
              "mixed-in", "TRANSPORT", "dynamic[udp/6081]", "dynamic[udp]",
              "mixed-out", "TRANSPORT", "dynamic[udp]", "dynamic[udp/4789]",
              (char *) NULL);
    send_conn(f, "swapped", "IKEv2", "192.0.2.9",
              "swapped-in", "TRANSPORT", "dynamic[udp]", "dynamic[udp/6081]",
              "swapped-out", "TRANSPORT", "dynamic[udp/6081]",
              "dynamic[udp]", (char *) NULL);
    send_conn(f, "tunnel", "IKEv2", "192.0.2.9",
              "tunnel-in", "TUNNEL", "dynamic[udp/4789]", "dynamic[udp]",
              "tunnel-out", "TUNNEL", "dynamic[udp]", "dynamic[udp/4789]",
              (char *) NULL);
    send_conn(f, "three", "IKEv2", "192.0.2.9",
              "three-in", "TRANSPORT", "dynamic[udp/4789]", "dynamic[udp]",
              "three-out", "TRANSPORT", "dynamic[udp]", "dynamic[udp/4789]",
              "three", "TRANSPORT", "dynamic[gre]", "dynamic[gre]",
              (char *) NULL);
    /* Ours, left over: these go. */
    send_conn(f, "oldgre", "IKEv2", "192.0.2.9",
              "oldgre", "TRANSPORT", "dynamic[gre]", "dynamic[gre]",
              (char *) NULL);
    send_conn(f, "oldvx", "IKEv2", "2001:db8::9",
              "oldvx-out", "TRANSPORT", "dynamic[udp]", "dynamic[udp/4789]",
              "oldvx-in", "TRANSPORT", "dynamic[udp/4789]", "dynamic[udp]",
              (char *) NULL);
    reply(f, NULL);
    /* Shared secrets: ours, a leftover one's, one without its connection
     * any more, and the operator's. */
    expect(f, "get-shared {}");
    reply_keys(f, "ovs-psk-gnv0", "ovs-psk-oldgre", "ovs-psk-orphan",
               "ovs-psk-", "host-host-secret", NULL);
    expect(f, "list-sas {}");
    reply_list_sas(f, NULL);

    static const char *const wanted[] = {
        "unload-conn {name=oldgre}", "terminate {ike=oldgre timeout=-1}",
        "unload-shared {id=ovs-psk-oldgre}",
        "unload-conn {name=oldvx}", "terminate {ike=oldvx timeout=-1}",
        "unload-shared {id=ovs-psk-orphan}",
    };
    bool seen[ARRAY_SIZE(wanted)] = { false };
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++) {
        char *s = render(next_request(f));
        bool found = false;
        for (size_t j = 0; j < ARRAY_SIZE(wanted); j++) {
            if (!strcmp(s, wanted[j]) && !seen[j]) {
                seen[j] = found = true;
                break;
            }
        }
        if (!found) {
            fail_msg("unexpected request during reconcile: %s", s);
        }
        free(s);
        reply_ok(f);
    }
    expect_quiet(f);
    check_dones(0);
}

/* Real charon.  Checks the VICI details that the fake cannot: that
 * charon 5.9 takes load-shared with an "id", load-key of type "any",
 * unload-shared, unload-key and terminate, and answers get-shared and
 * get-keys the way reconcile reads them.  charon runs in private mount
 * and network namespaces (its own /run for its pid file, its own XFRM
 * state), with its VICI socket in the fixture's directory.  Skipped
 * unless we are root and charon is installed. */

static pid_t
charon_start(struct fx *f, char **ret_vici)
{
    char *conf = xasprintf("%s/strongswan.conf", f->dir);
    char *sock = xasprintf("%s/charon.real", f->dir);
    FILE *file = fopen(conf, "w");
    pid_t pid;

    assert_non_null(file);
    fprintf(file,
            "charon {\n"
            "    load = random nonce drbg openssl pem x509 pkcs1 pkcs8 "
            "pubkey constraints revocation hmac gcm aes sha1 sha2 kdf "
            "kernel-netlink socket-default vici\n"
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
            "            flush_line = yes\n"
            "        }\n"
            "    }\n"
            "    syslog {\n"
            "    }\n"
            "}\n", sock, f->dir);
    fclose(file);

    pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
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

        if (!stat(sock, &st) && S_ISSOCK(st.st_mode)) {
            *ret_vici = xasprintf("unix:%s", sock);
            free(conf);
            free(sock);
            return pid;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        usleep(50 * 1000);
    }
    if (pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    free(conf);
    free(sock);
    return 0;
}

static void
charon_stop(struct fx *f, pid_t pid)
{
    char *name;
    int status;

    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        usleep(20 * 1000);
    }
    if (pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    static const char *const files[] = {
        "strongswan.conf", "charon.real", "charon.log",
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        name = xasprintf("%s/%s", f->dir, files[i]);
        unlink(name);
        free(name);
    }
}

/* What raw_request() collects. */
struct raw_ctx {
    char *answer;               /* Rendered answer, or NULL. */
    struct ds *items;           /* Rendered items, one a line. */
};

static void
raw_reply_cb(void *ctx_, int error, const struct vici_msg *reply)
{
    struct raw_ctx *ctx = ctx_;

    ctx->answer = reply ? render(reply) : xasprintf("error %d", error);
}

static void
raw_item_cb(void *ctx_, const struct vici_msg *item)
{
    struct raw_ctx *ctx = ctx_;
    char *s = render(item);

    ds_put_format(ctx->items, "%s\n", s);
    free(s);
}

/* Sends request 'b' (takes ownership) to 'vici' on a connection of its
 * own, as an operator's swanctl would.  For a streamed request, names its
 * event 'stream_event' and appends each item, rendered, to 'items'.
 * Returns the rendered answer, e.g. " {keys=[ovs-psk-gnv0]}"; the caller
 * frees it. */
static char *
raw_request(const char *vici, struct vici_builder *b,
            const char *stream_event, struct ds *items)
{
    static const char *const no_events[] = { NULL };
    struct raw_ctx ctx = { .answer = NULL, .items = items };
    struct vici_client *c;
    int error;

    c = vici_client_create(vici, no_events, 5000, NULL, &error);
    assert_non_null(c);
    for (int i = 0; i < 400 && !vici_client_is_connected(c); i++) {
        vici_client_run(c);
        vici_client_wait(c);
        loop_timer_wait(5);
        loop_block();
    }
    assert_true(vici_client_is_connected(c));
    assert_int_equal(vici_client_request(c, b, stream_event,
                                         stream_event ? raw_item_cb : NULL,
                                         raw_reply_cb, &ctx), 0);
    for (int i = 0; i < 1000 && !ctx.answer; i++) {
        vici_client_run(c);
        vici_client_wait(c);
        loop_timer_wait(5);
        loop_block();
    }
    vici_client_destroy(c);
    assert_non_null(ctx.answer);
    return ctx.answer;
}

/* Sends 'cmd' with up to one key-value pair, as raw_request(). */
static char *
raw(const char *vici, const char *cmd, const char *key, const char *value)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST, cmd);

    if (key) {
        vici_add_kv(b, key, value);
    }
    return raw_request(vici, b, NULL, NULL);
}

static void
assert_raw(const char *vici, const char *cmd, const char *expected)
{
    char *answer = raw(vici, cmd, NULL, NULL);
    assert_string_equal(answer, expected);
    free(answer);
}

/* Runs the backend against the real charon until 'n' tunnel_done calls
 * arrived and no request is pending. */
static void
pump_real(struct fx *f, size_t n)
{
    for (int i = 0; i < 2000; i++) {
        pump(f);
        if (n_dones >= n && f->ike->class->idle(f->ike)) {
            return;
        }
    }
    fail_msg("charon did not answer in time (%zu tunnel_done calls)",
             n_dones);
}

static void
test_real_charon(void **state)
{
    struct fx *f = *state;
    char *vici = NULL;
    char *answer;
    pid_t pid;

    if (geteuid() || access(CHARON, X_OK) || system("command -v unshare "
                                                    ">/dev/null 2>&1")) {
        skip();
    }
    pid = charon_start(f, &vici);
    if (!pid) {
        skip();
    }

    /* The fake charon is not needed. */
    f->ike->class->destroy(f->ike);
    close(f->lfd);
    f->lfd = -1;
    f->vici = (free(f->vici), vici);
    fx_create_backend(f, false);

    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    apply(f, "vx0", "vxlan", 1, g_self, "remote_ip", "192.0.2.3",
          "remote_cert", "@remote.pem", NULL);
    pump_real(f, 2);
    /* In hash order. */
    assert_int_equal(dones[0].error, 0);
    assert_int_equal(dones[1].error, 0);
    dones_clear();
    assert_raw(vici, "get-shared", " {keys=[ovs-psk-gnv0]}");

    /* Everything in place: reconcile reloads nothing. */
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    pump_real(f, 0);
    check_dones(0);

    /* What "swanctl --load-all" does to credentials and connections it
     * does not know; reconcile puts everything back. */
    answer = raw(vici, "get-keys", NULL, NULL);
    assert_int_equal(strlen(answer), strlen(" {keys=[]}") + 40);
    char *id = xmemdup0(answer + strlen(" {keys=["), 40);
    free(answer);
    answer = raw(vici, "unload-key", "id", id);
    assert_string_equal(answer, " {success=yes}");
    free(answer);
    answer = raw(vici, "unload-shared", "id", "ovs-psk-gnv0");
    assert_string_equal(answer, " {success=yes}");
    free(answer);
    answer = raw(vici, "unload-conn", "name", "vx0");
    assert_string_equal(answer, " {success=yes}");
    free(answer);
    assert_raw(vici, "get-shared", " {keys=[]}");
    assert_raw(vici, "get-keys", " {keys=[]}");
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    pump_real(f, 2);
    assert_int_equal(dones[0].error, 0);
    assert_int_equal(dones[1].error, 0);
    dones_clear();
    assert_raw(vici, "get-shared", " {keys=[ovs-psk-gnv0]}");
    answer = raw(vici, "get-keys", NULL, NULL);
    assert_non_null(strstr(answer, id));
    free(answer);
    free(id);
    answer = raw(vici, "get-conns", NULL, NULL);
    assert_true(!strcmp(answer, " {conns=[gnv0 vx0]}")
                || !strcmp(answer, " {conns=[vx0 gnv0]}"));
    free(answer);

    /* Status. */
    assert_int_equal(f->ike->class->query_status(f->ike, status_cb,
                                                 &status_calls), 0);
    for (int i = 0; i < 1000 && !status_calls; i++) {
        pump(f);
    }
    assert_int_equal(status_error, 0);
    assert_non_null(strstr(status_text, "\ngnv0: IKEv2, "
                           "192.0.2.1...192.0.2.2\n"
                           "  gnv0-in: TRANSPORT, dynamic[udp/6081] === "
                           "dynamic[udp]\n"));
    assert_null(strstr(status_text, PSK));

    /* A GRE tunnel too, and the operator's own connection: strongSwan's
     * host-to-host transport example. */
    apply(f, "gre1", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.3", "psk", PSK, NULL);
    pump_real(f, 1);
    check_dones(1, "gre1", 1, 0, NULL);
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "load-conn");
    vici_begin_section(b, "host-host");
    vici_begin_list(b, "remote_addrs");
    vici_list_item(b, "192.0.2.9");
    vici_end_list(b);
    vici_begin_section(b, "local");
    vici_add_kv(b, "auth", "psk");
    vici_end_section(b);
    vici_begin_section(b, "remote");
    vici_add_kv(b, "auth", "psk");
    vici_end_section(b);
    vici_begin_section(b, "children");
    vici_begin_section(b, "host-host");
    vici_add_kv(b, "mode", "transport");
    vici_end_section(b);
    vici_end_section(b);
    vici_end_section(b);
    answer = raw_request(vici, b, NULL, NULL);
    assert_string_equal(answer, " {success=yes}");
    free(answer);

    /* How charon lists them: what conn_looks_ours__() checks. */
    static const char *const listed[][2] = {
        { "gnv0", "version=IKEv2 " },
        { "gnv0", "local_addrs=[192.0.2.1] remote_addrs=[192.0.2.2] " },
        { "gnv0", " children {gnv0-in {mode=TRANSPORT " },
        { "gnv0", " local-ts=[dynamic[udp/6081]] remote-ts=[dynamic[udp]]} "
                  "gnv0-out {mode=TRANSPORT " },
        { "gnv0", " local-ts=[dynamic[udp]] remote-ts=[dynamic[udp/6081]]}}" },
        { "vx0", "version=IKEv2 " },
        { "vx0", "local_addrs=[%any] remote_addrs=[192.0.2.3] " },
        { "vx0", " children {vx0-in {mode=TRANSPORT " },
        { "vx0", " local-ts=[dynamic[udp/4789]] remote-ts=[dynamic[udp]]} "
                 "vx0-out {mode=TRANSPORT " },
        { "vx0", " local-ts=[dynamic[udp]] remote-ts=[dynamic[udp/4789]]}}" },
        { "gre1", "version=IKEv2 " },
        { "gre1", "local_addrs=[192.0.2.3] remote_addrs=[192.0.2.2] " },
        { "gre1", " children {gre1 {mode=TRANSPORT " },
        { "gre1", " local-ts=[dynamic[gre]] remote-ts=[dynamic[gre]]}}" },
        { "host-host", "version=IKEv1/2 " },
        { "host-host", " children {host-host {mode=TRANSPORT " },
        { "host-host", " local-ts=[dynamic] remote-ts=[dynamic]}}" },
    };
    struct ds items = DS_EMPTY_INITIALIZER;
    answer = raw_request(vici, vici_builder_create(VICI_CMD_REQUEST,
                                                   "list-conns"),
                         "list-conn", &items);
    assert_string_equal(answer, " {}");
    free(answer);
    for (size_t i = 0; i < ARRAY_SIZE(listed); i++) {
        char *head = xasprintf("list-conn {%s {", listed[i][0]);
        const char *start = strstr(ds_cstr(&items), head);
        assert_non_null(start);
        char *line = xmemdup0(start, strcspn(start, "\n"));
        if (!strstr(line, listed[i][1])) {
            fail_msg("charon lists \"%s\" without \"%s\"", line,
                     listed[i][1]);
        }
        free(line);
        free(head);
    }
    ds_destroy(&items);

    /* We restart, and only gnv0 is asked for: vx0 and gre1 are ours and
     * go, host-host is not ours and stays. */
    f->ike->class->destroy(f->ike);
    fx_create_backend(f, false);
    assert_int_equal(f->ike->class->set_global(f->ike, g_self), 0);
    apply(f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    pump_real(f, 1);
    check_dones(1, "gnv0", 1, 0, NULL);
    assert_int_equal(f->ike->class->reconcile(f->ike), 0);
    pump_real(f, 0);
    check_dones(0);
    answer = raw(vici, "get-conns", NULL, NULL);
    assert_true(!strcmp(answer, " {conns=[gnv0 host-host]}")
                || !strcmp(answer, " {conns=[host-host gnv0]}"));
    free(answer);
    assert_raw(vici, "get-shared", " {keys=[ovs-psk-gnv0]}");

    /* Removal, then cleanup, leave nothing of ours behind. */
    assert_int_equal(f->ike->class->tunnel_remove(f->ike, "gnv0"), 0);
    pump_real(f, 0);
    assert_raw(vici, "get-shared", " {keys=[]}");
    assert_raw(vici, "get-conns", " {conns=[host-host]}");
    assert_int_equal(f->ike->class->cleanup(f->ike), 0);
    pump_real(f, 0);
    assert_raw(vici, "get-conns", " {conns=[host-host]}");
    assert_raw(vici, "get-keys", " {keys=[]}");
    assert_raw(vici, "list-sas", " {}");
    check_dones(0);

    f->ike->class->destroy(f->ike);
    f->ike = NULL;
    charon_stop(f, pid);
}

int
main(void)
{
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_psk_messages),
        T(test_load_window),
        T(test_withdraw_window),
        T(test_default_crypto),
        T(test_ipsec_options),
        T(test_cert_self_signed),
        T(test_cert_ca),
        T(test_cert_rotation),
        T(test_load_refused),
        T(test_remove),
        T(test_reapply_supersedes),
        T(test_change_terminates),
        T(test_psk_to_cert),
        T(test_load_key),
        T(test_conf_error),
        T(test_charon_restart),
        T(test_reconcile),
        T(test_initiate_backoff),
        T(test_retry_after_down),
        T(test_sa_events),
        T(test_ike_failure_shown),
        T(test_list_sas_feeds_show),
        T(test_query_status),
        T(test_cleanup),
        T(test_cleanup_key_in_flight),
        T(test_timeout),
        T(test_not_connected),
        T(test_destroy_inflight),
        T(test_secrets_not_logged),
        T(test_cert_file_with_key),
        T(test_ca_bundle),
        T(test_cert_too_large),
        T(test_auth_mode_change_terminates),
        T(test_ah_without_esp),
        T(test_disconnect_logs_once),
        T(test_sa_log_rate_limited),
        T(test_reconcile_foreign),
        T(test_real_charon),
    };
#undef T

    if (getenv("TEST_FILTER")) {
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
