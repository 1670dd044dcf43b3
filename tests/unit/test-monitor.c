/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for monitor/monitor.c: OVSDB updates in, IKE backend calls
 * and show output out.
 *
 * The monitor runs against a real ovsdb-server (started from a fresh
 * database in a mkdtemp() directory, changed with ovs-vsctl --no-wait) and
 * a fake IKE backend, 'fake_class', that records every call in 'fake' and
 * answers tunnel_apply() through hooks.tunnel_done, from its run(), with
 * success, an error, or not until the test releases the answer.  The tests
 * are skipped when the Open vSwitch binaries are not installed.
 *
 * Every test bridge holds a PSK tunnel named "sentinel".  Changing its PSK
 * is the barrier sync_monitor() uses: OVSDB sends updates in commit order
 * on one connection, so once the monitor has applied the sentinel's new
 * PSK it has also handled every earlier change, and "nothing happened" can
 * be asserted without sleeping.  Calls for the sentinel are filtered out
 * of what the tests compare.
 *
 * Loops are bounded by real time (PUMP_TIMEOUT_MS); timers inside the
 * monitor (file checks, reconcile, OVSDB reconnect backoff) are crossed
 * with time_warp(), never by sleeping.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ds.h"
#include "global-conf.h"
#include "ike.h"
#include "loop.h"
#include "monitor.h"
#include "secret.h"
#include "smap.h"
#include "timeval.h"
#include "tunnel.h"
#include "unit-util.h"
#include "util.h"
#include "x509.h"
#include "xfrm.h"


/* monitor.c re-reads certificate files this often (its FILE_CHECK_MS). */
#define FILE_CHECK_MS 5000
/* Longer than the OVSDB client's longest reconnect backoff. */
#define BACKOFF_WARP_MS 8000
/* A reconcile interval no test reaches, for the tests that count calls. */
#define NEVER_MS (24LL * 3600 * 1000)
/* Real time a test waits for a condition before failing. */
#define PUMP_TIMEOUT_MS 10000

/* The fake IKE backend. */

enum fake_answer {
    FAKE_ANSWER_OK,             /* tunnel_done(0) from the next run(). */
    FAKE_ANSWER_ERROR,          /* tunnel_done(answer_error, answer_why). */
    FAKE_ANSWER_HOLD,           /* Nothing until fake_release(). */
};

/* One tunnel_done() not delivered yet. */
struct fake_done {
    char *name;                 /* Tunnel name. */
    uint64_t version;           /* Version given to tunnel_apply(). */
    int error;                  /* 0 or -errno to answer. */
    char *why;                  /* Text with 'error', or NULL. */
    bool held;                  /* Waits for fake_release(). */
};

/* Copies of what the last tunnel_apply() for a tunnel other than the
 * sentinel was given. */
struct fake_apply {
    char *name;
    uint64_t version;
    enum tunnel_state state;    /* Tunnel state during the call. */
    enum tunnel_type type;
    int af;
    enum tunnel_auth auth;
    char *remote_ip;
    char *local_ip;
    struct secret *psk;
    char *remote_cert;
    char *remote_name;
    char *certificate;
    struct smap ipsec_options;
};

struct fake_backend {
    struct ike_backend up;      /* Must be first. */
    struct ike_hooks hooks;     /* The monitor's upcalls. */
    struct fake_done *pending;  /* Answers to deliver. */
    size_t n_pending;
    ike_status_cb *status_cb;   /* query_status() callback, or NULL. */
    void *status_aux;
};

static struct fake {
    /* Behaviour, set by the tests. */
    enum fake_answer answer;    /* How tunnel_apply() is answered. */
    int answer_error;           /* For FAKE_ANSWER_ERROR. */
    const char *answer_why;     /* For FAKE_ANSWER_ERROR. */
    int apply_error;            /* tunnel_apply() returns this. */
    int create_error;           /* create() returns this. */
    const char *reject_option;  /* check_tunnel() refuses "ipsec_" this. */
    const char *exclusive[2];   /* check_tunnel() refuses either of these
                                 * while the other is applied. */
    bool exclusive_applied[2];  /* Which of them is applied. */
    bool idle;                  /* What idle() says. */

    /* Record. */
    struct ds log;              /* "apply NAME vN", "remove NAME",
                                 * "set_global", "reconcile", "cleanup",
                                 * one per line, in call order. */
    unsigned int n_create, n_destroy, n_check, n_apply, n_remove;
    unsigned int n_set_global, n_reconcile, n_cleanup, n_status;
    struct fake_apply last_apply;
    char *global_certificate;   /* Last set_global()'s certificate. */
    char *global_local_name;    /* ...and its CN. */
    uint8_t global_cert_digest[32];

    struct fake_backend *backend;   /* The live instance, or NULL. */
} fake;

static const struct ike_backend_class fake_class;

static struct fake_backend *
fake_cast(const struct ike_backend *up)
{
    assert_ptr_equal(up->class, &fake_class);
    return CONTAINER_OF(up, struct fake_backend, up);
}

static void
fake_apply_clear(struct fake_apply *a)
{
    free(a->name);
    free(a->remote_ip);
    free(a->local_ip);
    secret_destroy(a->psk);
    free(a->remote_cert);
    free(a->remote_name);
    free(a->certificate);
    smap_destroy(&a->ipsec_options);
    memset(a, 0, sizeof *a);
    smap_init(&a->ipsec_options);
}

/* Initializes 'fake' before the first fake_reset(). */
static void
fake_init(void)
{
    memset(&fake, 0, sizeof fake);
    ds_init(&fake.log);
    smap_init(&fake.last_apply.ipsec_options);
}

/* Forgets everything the fake recorded and restores default behaviour. */
static void
fake_reset(void)
{
    ds_destroy(&fake.log);
    fake_apply_clear(&fake.last_apply);
    smap_destroy(&fake.last_apply.ipsec_options);
    free(fake.global_certificate);
    free(fake.global_local_name);
    fake_init();
}

static int
fake_create(const struct ike_options *opts, const struct ike_hooks *hooks,
            struct ike_backend **ret)
{
    assert_non_null(opts);
    assert_non_null(hooks->tunnel_done);
    fake.n_create++;
    if (fake.create_error) {
        *ret = NULL;
        return fake.create_error;
    }
    assert_null(fake.backend);

    struct fake_backend *b = xzalloc(sizeof *b);
    b->up.class = &fake_class;
    b->hooks = *hooks;
    fake.backend = b;
    *ret = &b->up;
    return 0;
}

static void
fake_destroy(struct ike_backend *up)
{
    if (up) {
        struct fake_backend *b = fake_cast(up);

        fake.n_destroy++;
        for (size_t i = 0; i < b->n_pending; i++) {
            free(b->pending[i].name);
            free(b->pending[i].why);
        }
        free(b->pending);
        if (fake.backend == b) {
            fake.backend = NULL;
        }
        free(b);
    }
}

static void
fake_run(struct ike_backend *up)
{
    struct fake_backend *b = fake_cast(up);
    size_t n = 0;

    /* Deliver in order; the hook must not call back into the backend. */
    for (size_t i = 0; i < b->n_pending; i++) {
        struct fake_done *d = &b->pending[i];

        if (d->held) {
            b->pending[n++] = *d;
            continue;
        }
        b->hooks.tunnel_done(b->hooks.aux, d->name, d->version, d->error,
                             d->why);
        free(d->name);
        free(d->why);
    }
    b->n_pending = n;

    if (b->status_cb) {
        ike_status_cb *cb = b->status_cb;

        b->status_cb = NULL;
        cb(b->status_aux, 0, "fake status\n");
    }
}

static void
fake_wait(struct ike_backend *up)
{
    struct fake_backend *b = fake_cast(up);

    for (size_t i = 0; i < b->n_pending; i++) {
        if (!b->pending[i].held) {
            loop_immediate_wake();
        }
    }
    if (b->status_cb) {
        loop_immediate_wake();
    }
}

static char *
fake_check_tunnel(const struct ike_backend *up, const struct tunnel *t)
{
    fake_cast(up);
    fake.n_check++;
    assert_non_null(t->conf);
    if (fake.reject_option
        && smap_get(&t->conf->ipsec_options, fake.reject_option)) {
        return xasprintf("%s: options:ipsec_%s: not supported by the fake "
                         "backend", t->name, fake.reject_option);
    }
    for (int i = 0; i < 2; i++) {
        if (fake.exclusive[i] && !strcmp(t->name, fake.exclusive[i])
            && fake.exclusive_applied[!i]) {
            return xasprintf("%s: options:psk: collides with tunnel %s",
                             t->name, fake.exclusive[!i]);
        }
    }
    return NULL;
}

static int
fake_set_global(struct ike_backend *up, const struct global_conf *g)
{
    fake_cast(up);
    assert_non_null(g);
    fake.n_set_global++;
    ds_put_cstr(&fake.log, "set_global\n");
    free(fake.global_certificate);
    fake.global_certificate = nullable_xstrdup(g->certificate);
    free(fake.global_local_name);
    fake.global_local_name = nullable_xstrdup(g->local_name);
    memcpy(fake.global_cert_digest, g->certificate_digest,
           sizeof fake.global_cert_digest);
    return 0;
}

static int
fake_tunnel_apply(struct ike_backend *up, const struct tunnel *t)
{
    struct fake_backend *b = fake_cast(up);
    const struct tunnel_conf *c = t->conf;
    struct fake_apply *a = &fake.last_apply;
    const struct smap_node *node;

    /* The contract: a valid, checked configuration at a new version. */
    assert_non_null(c);
    assert_true(t->version > 0);

    fake.n_apply++;
    ds_put_format(&fake.log, "apply %s v%llu\n", t->name,
                  (unsigned long long int) t->version);
    for (int i = 0; i < 2; i++) {
        if (fake.exclusive[i] && !strcmp(t->name, fake.exclusive[i])) {
            fake.exclusive_applied[i] = true;
        }
    }

    /* The sentinel is the tests' barrier: keep what the test looks at. */
    if (strcmp(t->name, "sentinel")) {
        fake_apply_clear(a);
        a->name = xstrdup(t->name);
        a->version = t->version;
        a->state = t->state;
        a->type = c->type;
        a->af = c->af;
        a->auth = c->auth;
        a->remote_ip = nullable_xstrdup(c->remote_ip);
        a->local_ip = nullable_xstrdup(c->local_ip);
        a->psk = secret_clone(c->psk);
        a->remote_cert = nullable_xstrdup(c->remote_cert);
        a->remote_name = nullable_xstrdup(c->remote_name);
        a->certificate = nullable_xstrdup(c->certificate);
        SMAP_FOR_EACH (node, &c->ipsec_options) {
            smap_add(&a->ipsec_options, node->key, node->value);
        }
    }

    if (fake.apply_error) {
        return fake.apply_error;
    }

    b->pending = xrealloc(b->pending,
                          (b->n_pending + 1) * sizeof *b->pending);
    struct fake_done *d = &b->pending[b->n_pending++];
    d->name = xstrdup(t->name);
    d->version = t->version;
    d->held = fake.answer == FAKE_ANSWER_HOLD;
    d->error = fake.answer == FAKE_ANSWER_ERROR ? fake.answer_error : 0;
    d->why = (fake.answer == FAKE_ANSWER_ERROR
              ? nullable_xstrdup(fake.answer_why) : NULL);
    return 0;
}

static int
fake_tunnel_remove(struct ike_backend *up, const char *name)
{
    fake_cast(up);
    fake.n_remove++;
    ds_put_format(&fake.log, "remove %s\n", name);
    for (int i = 0; i < 2; i++) {
        if (fake.exclusive[i] && !strcmp(name, fake.exclusive[i])) {
            fake.exclusive_applied[i] = false;
        }
    }
    return 0;
}

static int
fake_reconcile(struct ike_backend *up)
{
    fake_cast(up);
    fake.n_reconcile++;
    ds_put_cstr(&fake.log, "reconcile\n");
    return 0;
}

static void
fake_show_tunnel(const struct ike_backend *up, const char *name,
                 struct ds *out)
{
    fake_cast(up);
    ds_put_format(out, "  fake-conn %s\n", name);
}

static void
fake_show_summary(const struct ike_backend *up, struct ds *out)
{
    fake_cast(up);
    ds_put_cstr(out, "fake backend\n");
}

static int
fake_query_status(struct ike_backend *up, ike_status_cb *cb, void *aux)
{
    struct fake_backend *b = fake_cast(up);

    fake.n_status++;
    if (b->status_cb) {
        return -EBUSY;
    }
    b->status_cb = cb;
    b->status_aux = aux;
    return 0;
}

static int
fake_cleanup(struct ike_backend *up)
{
    fake_cast(up);
    fake.n_cleanup++;
    ds_put_cstr(&fake.log, "cleanup\n");
    return 0;
}

static bool
fake_idle(const struct ike_backend *up)
{
    fake_cast(up);
    return fake.idle;
}

static const struct ike_backend_class fake_class = {
    .name = "fake",
    .create = fake_create,
    .destroy = fake_destroy,
    .run = fake_run,
    .wait = fake_wait,
    .check_tunnel = fake_check_tunnel,
    .set_global = fake_set_global,
    .tunnel_apply = fake_tunnel_apply,
    .tunnel_remove = fake_tunnel_remove,
    .reconcile = fake_reconcile,
    .show_tunnel = fake_show_tunnel,
    .show_summary = fake_show_summary,
    .query_status = fake_query_status,
    .cleanup = fake_cleanup,
    .idle = fake_idle,
};

/* Lets the held answer to version 'version' of 'name' go, with 'error'
 * and 'why'. */
static void
fake_release(const char *name, uint64_t version, int error, const char *why)
{
    struct fake_backend *b = fake.backend;

    assert_non_null(b);
    for (size_t i = 0; i < b->n_pending; i++) {
        struct fake_done *d = &b->pending[i];

        if (d->held && d->version == version && !strcmp(d->name, name)) {
            d->held = false;
            d->error = error;
            free(d->why);
            d->why = nullable_xstrdup(why);
            return;
        }
    }
    fail_msg("no held answer for %s v%llu", name,
             (unsigned long long int) version);
}

/* Number of answers the fake will deliver on its next run(). */
static size_t
fake_n_deliverable(void)
{
    size_t n = 0;

    if (fake.backend) {
        for (size_t i = 0; i < fake.backend->n_pending; i++) {
            n += !fake.backend->pending[i].held;
        }
    }
    return n;
}

/* Returns a new string with the fake's log lines from offset 'mark' on,
 * without those about the sentinel. */
static char *
calls_since(size_t mark)
{
    const char *p = ds_cstr(&fake.log) + mark;
    struct ds out = DS_EMPTY_INITIALIZER;

    assert_true(mark <= fake.log.length);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) + 1 : strlen(p);
        char *line = xmemdup0(p, len);

        if (!strstr(line, " sentinel")) {
            ds_put_cstr(&out, line);
        }
        free(line);
        p += len;
    }
    return ds_steal_cstr(&out);
}

/* True if the fake's log from 'mark' on has a line starting with
 * 'prefix'. */
static bool
logged_since(size_t mark, const char *prefix)
{
    const char *log = ds_cstr(&fake.log);

    for (const char *p = log + mark; *p; ) {
        if (str_starts_with(p, prefix)) {
            return true;
        }
        p = strchr(p, '\n');
        if (!p) {
            break;
        }
        p++;
    }
    return false;
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;
    return strcmp(*a, *b);
}

/* Like calls_since(), with the lines sorted, for changes that OVSDB may
 * report in any order. */
static char *
sorted_calls_since(size_t mark)
{
    char *calls = calls_since(mark);
    char *lines[64];
    size_t n = 0;
    struct ds out = DS_EMPTY_INITIALIZER;
    char *save = NULL;

    for (char *line = strtok_r(calls, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        assert_true(n < ARRAY_SIZE(lines));
        lines[n++] = line;
    }
    qsort(lines, n, sizeof *lines, compare_strings);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&out, "%s\n", lines[i]);
    }
    free(calls);
    return ds_steal_cstr(&out);
}

#define ASSERT_CALLS(MARK, EXPECTED)                \
    do {                                            \
        char *calls__ = calls_since(MARK);          \
        assert_string_equal(calls__, EXPECTED);     \
        free(calls__);                              \
    } while (0)

#define ASSERT_SORTED_CALLS(MARK, EXPECTED)         \
    do {                                            \
        char *calls__ = sorted_calls_since(MARK);   \
        assert_string_equal(calls__, EXPECTED);     \
        free(calls__);                              \
    } while (0)

/* The current end of the fake's log. */
#define MARK() (fake.log.length)

/* ovsdb-server and ovs-vsctl. */

struct fixture {
    char *dir;                  /* Temporary directory. */
    char *remote;               /* "unix:DIR/db.sock". */
    pid_t server;               /* ovsdb-server, or 0. */
    unsigned int barrier;       /* Sentinel PSK generation. */
    struct monitor_options opts;    /* For start_monitor(). */
    struct monitor *m;          /* Monitor under test, or NULL. */
};

/* Runs ovs-vsctl --no-wait with the words that follow, up to a NULL. */
static void
vsctl(struct fixture *fx, ...)
{
    va_list args;

    va_start(args, fx);
    ut_vsctl_valist(fx->dir, fx->remote, args);
    va_end(args);
}

/* Fixture without a database: for tests that never connect. */
static int
bare_setup(void **state)
{
    struct fixture *fx = xzalloc(sizeof *fx);

    fake_reset();
    fx->dir = ut_tmpdir_create("ovsec-monitor-test");
    if (!fx->dir) {
        free(fx);
        return -1;
    }
    fx->remote = xasprintf("unix:%s/db.sock", fx->dir);
    fx->opts.database = fx->remote;
    fx->opts.ike_class = &fake_class;
    fx->opts.ike.command_timeout_ms = 1000;
    fx->opts.ike.reconcile_ms = NEVER_MS;
    fx->opts.ike.root_prefix = "";
    *state = fx;
    return 0;
}

/* Fixture with ovsdb-server running on a fresh database that holds bridge
 * br0 with the sentinel tunnel.  When Open vSwitch is not installed,
 * 'server' stays 0 and the test skips itself. */
static int
ovs_setup(void **state)
{
    if (bare_setup(state)) {
        return -1;
    }

    struct fixture *fx = *state;
    if (!ut_have_ovs()) {
        return 0;
    }

    ut_ovsdb_create(fx->dir);
    fx->server = ut_ovsdb_server_start(fx->dir, fx->remote);
    vsctl(fx, "init", "--", "add-br", "br0",
          "--", "add-port", "br0", "sentinel",
          "--", "set", "interface", "sentinel", "type=vxlan",
          "options:remote_ip=198.51.100.1", "options:psk=barrier0", NULL);
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    monitor_destroy(fx->m);
    ut_child_kill(&fx->server);
    ut_tmpdir_remove(fx->dir);
    free(fx->dir);
    free(fx->remote);
    free(fx);
    fake_reset();
    ds_destroy(&fake.log);
    smap_destroy(&fake.last_apply.ipsec_options);
    return 0;
}

#define SKIP_WITHOUT_OVS(FX)                    \
    do {                                        \
        if (!(FX)->server) {                    \
            skip();                             \
        }                                       \
    } while (0)

/* Driving the monitor. */

/* One iteration of the main loop, never sleeping more than 10 ms. */
static void
pump_once(struct fixture *fx)
{
    monitor_run(fx->m);
    monitor_wait(fx->m);
    loop_timer_wait(10);
    loop_block();
}

/* Runs the loop until COND holds, failing after PUMP_TIMEOUT_MS of real
 * time. */
#define PUMP_UNTIL(FX, COND)                                        \
    do {                                                            \
        long long int deadline__ = ut_real_msec() + PUMP_TIMEOUT_MS;   \
        while (!(COND)) {                                           \
            if (ut_real_msec() > deadline__) {                         \
                fail_msg("timed out waiting for %s", #COND);        \
            }                                                       \
            pump_once(FX);                                          \
        }                                                           \
    } while (0)

/* Runs the loop for 'ms' milliseconds of real time. */
static void
pump_for(struct fixture *fx, long long int ms)
{
    long long int end = ut_real_msec() + ms;

    while (ut_real_msec() < end) {
        pump_once(fx);
    }
}

static void
create_monitor(struct fixture *fx)
{
    char *why = NULL;

    assert_null(fx->m);
    int error = monitor_create(&fx->opts, &fx->m, &why);
    if (error) {
        fail_msg("monitor_create: %s", why ? why : "(no reason)");
    }
    assert_null(why);
    assert_non_null(fx->m);
}

/* Returns the parsed tunnels/show JSON array; the caller decrefs it. */
static json_t *
show_json(struct fixture *fx)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    json_error_t error;

    monitor_show_tunnels_json(fx->m, &out);
    json_t *json = json_loads(ds_cstr(&out), 0, &error);
    if (!json) {
        fail_msg("tunnels/show JSON does not parse (%s): %s", error.text,
                 ds_cstr(&out));
    }
    assert_true(json_is_array(json));
    ds_destroy(&out);
    return json;
}

/* The element of 'array' for tunnel 'name', or NULL.  Borrowed. */
static json_t *
json_find(json_t *array, const char *name)
{
    size_t i;
    json_t *obj;

    json_array_foreach (array, i, obj) {
        const char *s = json_string_value(json_object_get(obj, "name"));
        if (s && !strcmp(s, name)) {
            return obj;
        }
    }
    return NULL;
}

/* Returns a new copy of the string member 'field' of tunnel 'name' in the
 * JSON show output, "<absent>" if there is no such tunnel, or "<null>" if
 * the member is null.  The caller frees it. */
static char *
json_field(struct fixture *fx, const char *name, const char *field)
{
    json_t *array = show_json(fx);
    json_t *obj = json_find(array, name);
    char *s;

    if (!obj) {
        s = xstrdup("<absent>");
    } else {
        json_t *v = json_object_get(obj, field);
        if (!v) {
            fail_msg("%s: no member \"%s\" in the JSON show", name, field);
        }
        s = (json_is_null(v) ? xstrdup("<null>")
             : json_is_string(v) ? xstrdup(json_string_value(v))
             : json_dumps(v, JSON_ENCODE_ANY));
    }
    json_decref(array);
    return s;
}

/* The integer member 'field' of tunnel 'name', or -1 if it is absent. */
static long long int
json_int(struct fixture *fx, const char *name, const char *field)
{
    json_t *array = show_json(fx);
    json_t *obj = json_find(array, name);
    long long int n = -1;

    if (obj) {
        json_t *v = json_object_get(obj, field);
        assert_true(json_is_integer(v));
        n = json_integer_value(v);
    }
    json_decref(array);
    return n;
}

static bool
state_is(struct fixture *fx, const char *name, const char *state)
{
    char *s = json_field(fx, name, "state");
    bool same = !strcmp(s, state);

    free(s);
    return same;
}

/* True if tunnel 'name' has a reason that contains 'needle'. */
static bool
reason_contains(struct fixture *fx, const char *name, const char *needle)
{
    char *s = json_field(fx, name, "reason");
    bool found = strstr(s, needle) != NULL;

    free(s);
    return found;
}

static bool
tunnel_shown(struct fixture *fx, const char *name)
{
    return !state_is(fx, name, "<absent>");
}

/* Returns the text of tunnels/show; the caller frees it. */
static char *
show_text(struct fixture *fx)
{
    struct ds out = DS_EMPTY_INITIALIZER;

    monitor_show_tunnels(fx->m, &out);
    return ds_steal_cstr(&out);
}

/* Returns the "  Label:          value" line that tunnels/show prints. */
static char *
show_line(const char *label, const char *value)
{
    return xasprintf("  %-16s%s\n", label, value);
}

/* Fails the test, printing 'what' and the text it was looked for in. */
static void
fail_in_text(const char *what, const char *needle, const char *haystack)
{
    /* fputs() rather than a format: GCC's -Wformat-overflow misreads the
     * strstr() test below as a proof that 'haystack' is NULL. */
    fputs(what, stderr);
    fputs(needle, stderr);
    fputs("\" in:\n", stderr);
    fputs(haystack, stderr);
    fputs("\n", stderr);
    fail();
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) {
        fail_in_text("not found: \"", needle, haystack);
    }
}

static void
assert_not_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle)) {
        fail_in_text("unexpectedly found: \"", needle, haystack);
    }
}

static unsigned int
n_configured(struct fixture *fx)
{
    struct monitor_stats stats;

    monitor_get_stats(fx->m, &stats);
    return stats.n_configured;
}

/* Creates the monitor and runs it until it has the OVSDB snapshot and the
 * sentinel is configured. */
static void
start_monitor(struct fixture *fx)
{
    create_monitor(fx);
    PUMP_UNTIL(fx, state_is(fx, "sentinel", "CONFIGURED"));
}

/* Waits until the monitor has handled every change committed to OVSDB so
 * far: see the file comment. */
static void
sync_monitor(struct fixture *fx)
{
    size_t mark = MARK();
    char *psk = xasprintf("options:psk=barrier%u", ++fx->barrier);

    vsctl(fx, "set", "interface", "sentinel", psk, NULL);
    PUMP_UNTIL(fx, logged_since(mark, "apply sentinel "));
    free(psk);
}

/* Adds PSK tunnel 'name' of 'type' to 'remote_ip' with 'psk'. */
static void
add_psk_tunnel(struct fixture *fx, const char *name, const char *type,
               const char *remote_ip, const char *psk)
{
    char *type_arg = xasprintf("type=%s", type);
    char *ip_arg = xasprintf("options:remote_ip=%s", remote_ip);
    char *psk_arg = xasprintf("options:psk=%s", psk);

    vsctl(fx, "add-port", "br0", name, "--", "set", "interface", name,
          type_arg, ip_arg, psk_arg, NULL);
    free(psk_arg);
    free(ip_arg);
    free(type_arg);
}

static void
assert_psk(const struct secret *psk, const char *expected)
{
    struct secret *want = secret_create(expected, strlen(expected));
    bool same = psk && secret_equal(psk, want);

    secret_destroy(want);
    assert_true(same);
}

/* 1. One PSK tunnel, end to end. */
static void
test_add_psk_tunnel(void **state)
{
    struct fixture *fx = *state;
    char *s, *line;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    fake.answer = FAKE_ANSWER_HOLD;
    size_t mark = MARK();
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.2", "swordfish");
    PUMP_UNTIL(fx, logged_since(mark, "apply gnv0 "));
    fake.answer = FAKE_ANSWER_OK;       /* For the sentinel. */
    sync_monitor(fx);
    ASSERT_CALLS(mark, "apply gnv0 v1\n");

    const struct fake_apply *a = &fake.last_apply;
    assert_string_equal(a->name, "gnv0");
    assert_int_equal(a->version, 1);
    assert_int_equal(a->state, TUNNEL_S_PENDING);
    assert_int_equal(a->type, TUNNEL_GENEVE);
    assert_int_equal(a->af, AF_INET);
    assert_int_equal(a->auth, TUNNEL_AUTH_PSK);
    assert_string_equal(a->remote_ip, "192.0.2.2");
    assert_null(a->local_ip);
    assert_null(a->remote_cert);
    assert_null(a->remote_name);
    assert_true(smap_is_empty(&a->ipsec_options));
    assert_psk(a->psk, "swordfish");

    /* No answer yet. */
    s = show_text(fx);
    assert_contains(s, "Interface name: gnv0 v1 (PENDING)\n");
    free(s);

    fake_release("gnv0", 1, 0, NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));

    s = show_text(fx);
    assert_contains(s, "Interface name: gnv0 v1 (CONFIGURED)\n");
    line = show_line("Tunnel Type:", "geneve");
    assert_contains(s, line);
    free(line);
    line = show_line("Remote IP:", "192.0.2.2");
    assert_contains(s, line);
    free(line);
    line = show_line("Address Family:", "IPv4");
    assert_contains(s, line);
    free(line);
    line = show_line("PSK:", SECRET_REDACTED);
    assert_contains(s, line);
    free(line);
    assert_contains(s, "IPsec connections that are active:\n"
                    "  fake-conn gnv0\n");
    assert_not_contains(s, "Reason:");
    assert_not_contains(s, "swordfish");
    free(s);

    json_t *array = show_json(fx);
    json_t *obj = json_find(array, "gnv0");
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "name")),
                        "gnv0");
    assert_int_equal(json_integer_value(json_object_get(obj, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(obj, "state")),
                        "CONFIGURED");
    assert_true(json_is_null(json_object_get(obj, "reason")));
    assert_string_equal(json_string_value(json_object_get(obj, "type")),
                        "geneve");
    assert_string_equal(json_string_value(json_object_get(obj,
                                                          "remote_ip")),
                        "192.0.2.2");
    assert_string_equal(json_string_value(json_object_get(obj, "psk")),
                        SECRET_REDACTED);
    assert_string_equal(json_string_value(json_object_get(
                                              obj, "active_connections")),
                        "  fake-conn gnv0");
    s = json_dumps(array, 0);
    assert_not_contains(s, "swordfish");
    free(s);
    json_decref(array);

    struct monitor_stats stats;
    monitor_get_stats(fx->m, &stats);
    assert_int_equal(stats.n_tunnels, 2);
    assert_int_equal(stats.n_configured, 2);
    assert_int_equal(stats.n_removed, 0);
}

/* 2. With 20 tunnels, each change touches exactly what it must. */
static void
test_incremental(void **state)
{
    struct fixture *fx = *state;
    static const char *const types[] = { "geneve", "vxlan", "gre" };
    char *args[20 * 12];
    size_t n = 0;
    char *s;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    size_t mark = MARK();
    for (int i = 0; i < 20; i++) {
        char *name = xasprintf("t%02d", i);

        if (i) {
            args[n++] = xstrdup("--");
        }
        args[n++] = xstrdup("add-port");
        args[n++] = xstrdup("br0");
        args[n++] = xstrdup(name);
        args[n++] = xstrdup("--");
        args[n++] = xstrdup("set");
        args[n++] = xstrdup("interface");
        args[n++] = name;
        args[n++] = xasprintf("type=%s", types[i % 3]);
        args[n++] = xasprintf("options:remote_ip=192.0.2.%d", 10 + i);
        args[n++] = xasprintf("options:psk=secret%02d", i);
    }
    assert_true(n <= ARRAY_SIZE(args));
    ut_vsctl_argv(fx->dir, fx->remote, args, n);
    for (size_t i = 0; i < n; i++) {
        free(args[i]);
    }
    PUMP_UNTIL(fx, n_configured(fx) == 21);

    /* One apply each, at version 1. */
    s = sorted_calls_since(mark);
    struct ds expected = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < 20; i++) {
        ds_put_format(&expected, "apply t%02d v1\n", i);
    }
    assert_string_equal(s, ds_cstr(&expected));
    ds_destroy(&expected);
    free(s);

    /* A new PSK: one apply, for that tunnel, at version 2. */
    mark = MARK();
    vsctl(fx, "set", "interface", "t07", "options:psk=newsecret", NULL);
    PUMP_UNTIL(fx, state_is(fx, "t07", "CONFIGURED")
               && logged_since(mark, "apply t07 "));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "apply t07 v2\n");
    assert_psk(fake.last_apply.psk, "newsecret");
    assert_string_equal(fake.last_apply.remote_ip, "192.0.2.17");
    assert_int_equal(json_int(fx, "t07", "version"), 2);

    /* options:key is not an IPsec setting: the options differ, so the
     * monitor re-validates, but the configuration is the same, so the
     * backend hears nothing. */
    mark = MARK();
    vsctl(fx, "set", "interface", "t08", "options:key=5", NULL);
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    assert_int_equal(json_int(fx, "t08", "version"), 1);
    assert_true(state_is(fx, "t08", "CONFIGURED"));

    /* An ipsec_* option is part of the configuration. */
    mark = MARK();
    vsctl(fx, "set", "interface", "t10",
          "options:ipsec_ike=aes256-sha256-modp2048", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "apply t10 "));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "apply t10 v2\n");
    assert_string_equal(smap_get(&fake.last_apply.ipsec_options, "ike"),
                        "aes256-sha256-modp2048");

    /* ofport and cfm_fault are monitored and shown, but change nothing in
     * IKE; ofport_request and mtu_request are not even monitored. */
    mark = MARK();
    vsctl(fx, "set", "interface", "t09", "ofport=9", "cfm_fault=true",
          "ofport_request=9", "mtu_request=1400", NULL);
    PUMP_UNTIL(fx, json_int(fx, "t09", "ofport") == 9);
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    s = json_field(fx, "t09", "cfm_state");
    assert_string_equal(s, "Down");
    free(s);
    assert_int_equal(json_int(fx, "t09", "version"), 1);

    /* Deleting a port: one remove. */
    mark = MARK();
    vsctl(fx, "del-port", "br0", "t11", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "remove t11"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "remove t11\n");
    assert_false(tunnel_shown(fx, "t11"));

    /* Without psk the interface no longer wants IPsec. */
    mark = MARK();
    vsctl(fx, "remove", "interface", "t12", "options", "psk", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "remove t12"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "remove t12\n");
    assert_false(tunnel_shown(fx, "t12"));
    s = show_text(fx);
    assert_not_contains(s, "Interface name: t12 ");
    assert_not_contains(s, "Interface name: t11 ");
    assert_contains(s, "Interface name: t13 v1 (CONFIGURED)\n");
    free(s);

    struct monitor_stats stats;
    monitor_get_stats(fx->m, &stats);
    assert_int_equal(stats.n_tunnels, 19);
    assert_int_equal(stats.n_configured, 19);
}

/* 3. Invalid configurations: refused by name, never handed to the
 * backend, and recovered from. */
static void
test_invalid(void **state)
{
    struct fixture *fx = *state;
    char *s;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    size_t mark = MARK();
    add_psk_tunnel(fx, "bad0", "geneve", "10.0.0", "x");
    PUMP_UNTIL(fx, state_is(fx, "bad0", "INVALID"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");

    s = json_field(fx, "bad0", "reason");
    assert_true(str_starts_with(s, "bad0: options:remote_ip: "));
    assert_contains(s, "\"10.0.0\"");
    free(s);
    s = show_text(fx);
    assert_contains(s, "Interface name: bad0 v1 (INVALID)\n");
    assert_contains(s, "  Reason:         options:remote_ip: \"10.0.0\"");
    free(s);

    struct monitor_stats stats;
    monitor_get_stats(fx->m, &stats);
    assert_int_equal(stats.n_invalid, 1);

    /* A configured tunnel made invalid is removed from the backend. */
    add_psk_tunnel(fx, "good0", "gre", "192.0.2.7", "x");
    PUMP_UNTIL(fx, state_is(fx, "good0", "CONFIGURED"));
    assert_int_equal(json_int(fx, "good0", "version"), 1);

    mark = MARK();
    vsctl(fx, "set", "interface", "good0", "options:remote_ip=10.0.0",
          NULL);
    PUMP_UNTIL(fx, state_is(fx, "good0", "INVALID"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "remove good0\n");
    long long int v_invalid = json_int(fx, "good0", "version");
    assert_true(v_invalid > 1);
    s = json_field(fx, "good0", "reason");
    assert_true(str_starts_with(s, "good0: options:remote_ip: "));
    free(s);

    /* Invalid in another way: a new reason, still nothing for the
     * backend. */
    mark = MARK();
    vsctl(fx, "set", "interface", "good0", "options:remote_ip=flow", NULL);
    PUMP_UNTIL(fx, reason_contains(fx, "good0", "\"flow\""));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    assert_true(state_is(fx, "good0", "INVALID"));

    /* Fixed: applied again, at a higher version. */
    mark = MARK();
    vsctl(fx, "set", "interface", "good0", "options:remote_ip=192.0.2.8",
          NULL);
    PUMP_UNTIL(fx, state_is(fx, "good0", "CONFIGURED"));
    sync_monitor(fx);
    long long int v_fixed = json_int(fx, "good0", "version");
    assert_true(v_fixed > v_invalid);
    char *expected = xasprintf("apply good0 v%lld\n", v_fixed);
    ASSERT_CALLS(mark, expected);
    free(expected);
    assert_string_equal(fake.last_apply.remote_ip, "192.0.2.8");
    s = json_field(fx, "good0", "reason");
    assert_string_equal(s, "<null>");
    free(s);

    /* The backend refuses an ipsec_* option in check_tunnel(). */
    fake.reject_option = "bogus";
    mark = MARK();
    vsctl(fx, "set", "interface", "good0", "options:ipsec_bogus=1", NULL);
    PUMP_UNTIL(fx, state_is(fx, "good0", "INVALID"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "remove good0\n");
    s = json_field(fx, "good0", "reason");
    assert_string_equal(s, "good0: options:ipsec_bogus: not supported by "
                        "the fake backend");
    free(s);
    s = show_text(fx);
    assert_contains(s, "  Reason:         options:ipsec_bogus: not "
                    "supported by the fake backend\n");
    free(s);

    /* ...and takes it again without the option. */
    mark = MARK();
    vsctl(fx, "remove", "interface", "good0", "options", "ipsec_bogus",
          NULL);
    PUMP_UNTIL(fx, state_is(fx, "good0", "CONFIGURED"));
    sync_monitor(fx);
    long long int v_back = json_int(fx, "good0", "version");
    assert_true(v_back > v_fixed);
    expected = xasprintf("apply good0 v%lld\n", v_back);
    ASSERT_CALLS(mark, expected);
    free(expected);
    assert_true(state_is(fx, "bad0", "INVALID"));
}

/* A tunnel the backend refuses because of another tunnel (Libreswan: two
 * PSKs for one address pair) is taken once that other tunnel is gone,
 * without a change of its own. */
static void
test_invalid_because_of_another(void **state)
{
    struct fixture *fx = *state;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);
    fake.exclusive[0] = "gnvA";
    fake.exclusive[1] = "gnvB";
    add_psk_tunnel(fx, "gnvA", "geneve", "192.0.2.20", "one-two-three");
    PUMP_UNTIL(fx, state_is(fx, "gnvA", "CONFIGURED"));
    add_psk_tunnel(fx, "gnvB", "vxlan", "192.0.2.20", "four-five-six");
    PUMP_UNTIL(fx, state_is(fx, "gnvB", "INVALID"));
    char *s = json_field(fx, "gnvB", "reason");
    assert_string_equal(s, "gnvB: options:psk: collides with tunnel gnvA");
    free(s);

    vsctl(fx, "del-port", "gnvA", NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnvB", "CONFIGURED"));
    fake.exclusive[0] = fake.exclusive[1] = NULL;
    fake.exclusive_applied[0] = fake.exclusive_applied[1] = false;
}

/* 4. The IKE daemon refuses; answers for stale versions are ignored. */
static void
test_backend_failure(void **state)
{
    struct fixture *fx = *state;
    size_t mark;
    char *s;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    /* Refused by the IKE daemon. */
    fake.answer = FAKE_ANSWER_ERROR;
    fake.answer_error = -EINVAL;
    fake.answer_why = "no acceptable proposal";
    mark = MARK();
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.2", "p1");
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "FAILED"));
    fake.answer = FAKE_ANSWER_OK;
    sync_monitor(fx);
    ASSERT_CALLS(mark, "apply gnv0 v1\n");
    assert_true(reason_contains(fx, "gnv0", "no acceptable proposal"));
    s = show_text(fx);
    assert_contains(s, "Interface name: gnv0 v1 (FAILED)\n");
    assert_contains(s, "  Reason:         ");
    assert_contains(s, "no acceptable proposal");
    free(s);
    assert_int_equal(n_configured(fx), 1);

    /* A new configuration that the daemon accepts. */
    mark = MARK();
    vsctl(fx, "set", "interface", "gnv0", "options:psk=p2", NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));
    ASSERT_CALLS(mark, "apply gnv0 v2\n");
    s = json_field(fx, "gnv0", "reason");
    assert_string_equal(s, "<null>");
    free(s);

    /* tunnel_apply() itself fails. */
    fake.apply_error = -ENOTCONN;
    mark = MARK();
    vsctl(fx, "set", "interface", "gnv0", "options:psk=p3", NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "FAILED"));
    ASSERT_CALLS(mark, "apply gnv0 v3\n");
    assert_true(reason_contains(fx, "gnv0", ovsec_strerror(-ENOTCONN)));
    fake.apply_error = 0;

    /* Two versions in flight: the answer for the older one, an error, is
     * ignored; the newer one decides. */
    fake.answer = FAKE_ANSWER_HOLD;
    mark = MARK();
    vsctl(fx, "set", "interface", "gnv0", "options:psk=p4", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "apply gnv0 v4"));
    vsctl(fx, "set", "interface", "gnv0", "options:psk=p5", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "apply gnv0 v5"));
    ASSERT_CALLS(mark, "apply gnv0 v4\napply gnv0 v5\n");
    assert_true(state_is(fx, "gnv0", "PENDING"));
    fake_release("gnv0", 4, -EINVAL, "stale answer");
    PUMP_UNTIL(fx, fake_n_deliverable() == 0);
    assert_true(state_is(fx, "gnv0", "PENDING"));
    assert_false(reason_contains(fx, "gnv0", "stale answer"));
    fake_release("gnv0", 5, 0, NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));
    assert_int_equal(json_int(fx, "gnv0", "version"), 5);

    /* An answer for a tunnel deleted meanwhile is ignored. */
    mark = MARK();
    vsctl(fx, "set", "interface", "gnv0", "options:psk=p6", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "apply gnv0 v6"));
    vsctl(fx, "del-port", "br0", "gnv0", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "remove gnv0"));
    fake_release("gnv0", 6, 0, NULL);
    PUMP_UNTIL(fx, fake_n_deliverable() == 0);
    assert_false(tunnel_shown(fx, "gnv0"));
    ASSERT_CALLS(mark, "apply gnv0 v6\nremove gnv0\n");
}

/* 5. A restart of ovsdb-server: the fresh snapshot changes nothing that
 * did not change. */
static void
test_ovsdb_restart(void **state)
{
    struct fixture *fx = *state;
    size_t mark;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    for (int i = 0; i < 5; i++) {
        char name[16], ip[32], psk[16];

        snprintf(name, sizeof name, "r%d", i);
        snprintf(ip, sizeof ip, "192.0.2.%d", 30 + i);
        snprintf(psk, sizeof psk, "psk%d", i);
        add_psk_tunnel(fx, name, "geneve", ip, psk);
    }
    PUMP_UNTIL(fx, n_configured(fx) == 6);

    /* Changes made while the monitor is not connected (after the restart,
     * before its reconnect backoff expires) are applied, and only they. */
    mark = MARK();
    ut_child_stop(&fx->server);
    pump_for(fx, 100);
    fx->server = ut_ovsdb_server_start(fx->dir, fx->remote);
    vsctl(fx, "set", "interface", "r2", "options:psk=changed",
          "--", "del-port", "br0", "r3",
          "--", "add-port", "br0", "r5",
          "--", "set", "interface", "r5", "type=vxlan",
          "options:remote_ip=192.0.2.35", "options:psk=psk5", NULL);
    time_warp(BACKOFF_WARP_MS);
    PUMP_UNTIL(fx, logged_since(mark, "apply r2 ")
               && logged_since(mark, "remove r3")
               && logged_since(mark, "apply r5 "));
    sync_monitor(fx);
    /* r5 is new; its first version need not be 1, since a tunnel was
     * deleted in the same update. */
    char *expected = xasprintf("apply r2 v2\napply r5 v%lld\nremove r3\n",
                               json_int(fx, "r5", "version"));
    ASSERT_SORTED_CALLS(mark, expected);
    free(expected);
    PUMP_UNTIL(fx, n_configured(fx) == 6);

    /* A restart with no change at all: no call.  The barrier's change is
     * only seen after the resync, so it proves the resync happened. */
    mark = MARK();
    ut_child_stop(&fx->server);
    pump_for(fx, 100);
    fx->server = ut_ovsdb_server_start(fx->dir, fx->remote);
    time_warp(BACKOFF_WARP_MS);
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    assert_int_equal(n_configured(fx), 6);
    assert_true(state_is(fx, "r0", "CONFIGURED"));
    assert_int_equal(json_int(fx, "r0", "version"), 1);
}

/* Certificates for test_global_certs(). */

/* Writes a new self-signed certificate for 'key' with CN (and SAN DNS)
 * 'cn' to DIR/'name', replacing the file if it exists. */
static void
write_cert(struct fixture *fx, const char *name, const char *cn,
           EVP_PKEY *key)
{
    X509_free(ut_cert_write(fx->dir, name, cn, NULL, false, key, NULL,
                            NULL));
}

/* 6. Global certificates: set_global, certificate tunnels, rotation. */
static void
test_global_certs(void **state)
{
    struct fixture *fx = *state;
    uint8_t digest[sizeof fake.global_cert_digest];
    size_t mark;
    char *expected;
    char *s;

    SKIP_WITHOUT_OVS(fx);

    EVP_PKEY *local = ut_key_write(fx->dir, "local.key");
    EVP_PKEY *remote = ut_key_write(fx->dir, "remote.key");
    write_cert(fx, "local.pem", "local", local);
    write_cert(fx, "remote.pem", "remote", remote);
    char *local_pem = xasprintf("%s/local.pem", fx->dir);
    char *certificate = xasprintf("other_config:certificate=%s", local_pem);
    char *private_key = xasprintf("other_config:private_key=%s/local.key",
                                  fx->dir);
    char *remote_pem = xasprintf("%s/remote.pem", fx->dir);
    char *remote_cert = xasprintf("options:remote_cert=%s", remote_pem);

    /* The first snapshot hands the (empty) global configuration over. */
    start_monitor(fx);
    assert_int_equal(fake.n_set_global, 1);
    assert_null(fake.global_certificate);

    /* A remote_cert tunnel without a local certificate is INVALID. */
    mark = MARK();
    vsctl(fx, "add-port", "br0", "cert0", "--", "set", "interface", "cert0",
          "type=gre", "options:remote_ip=192.0.2.50", remote_cert, NULL);
    PUMP_UNTIL(fx, state_is(fx, "cert0", "INVALID"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    assert_true(reason_contains(fx, "cert0", "other_config:certificate"));
    long long int v = json_int(fx, "cert0", "version");

    /* Setting it: credentials first, then the tunnel. */
    mark = MARK();
    vsctl(fx, "set", "Open_vSwitch", ".", certificate, private_key, NULL);
    PUMP_UNTIL(fx, state_is(fx, "cert0", "CONFIGURED"));
    expected = xasprintf("set_global\napply cert0 v%lld\n", v + 1);
    ASSERT_CALLS(mark, expected);
    free(expected);
    assert_string_equal(fake.global_certificate, local_pem);
    assert_string_equal(fake.global_local_name, "local");
    memcpy(digest, fake.global_cert_digest, sizeof digest);
    assert_int_equal(fake.last_apply.auth, TUNNEL_AUTH_PEER_CERT);
    assert_string_equal(fake.last_apply.remote_cert, remote_pem);
    assert_string_equal(fake.last_apply.remote_name, "remote");
    assert_string_equal(fake.last_apply.certificate, local_pem);
    assert_null(fake.last_apply.psk);
    s = json_field(fx, "cert0", "psk");
    assert_string_equal(s, "<null>");
    free(s);

    /* A new local certificate at the same path: noticed at the next file
     * check, and handed to the backend to reload credentials.  Whether the
     * certificate tunnels are re-applied too depends on whether a tunnel's
     * configuration includes the contents of the global files (see
     * tunnel_conf_equal()); if they are, it is after set_global(). */
    write_cert(fx, "local.pem", "local", local);
    mark = MARK();
    time_warp(FILE_CHECK_MS + 1);
    PUMP_UNTIL(fx, logged_since(mark, "set_global"));
    PUMP_UNTIL(fx, state_is(fx, "cert0", "CONFIGURED"));
    sync_monitor(fx);
    long long int v_rot = json_int(fx, "cert0", "version");
    if (v_rot == v + 1) {
        ASSERT_CALLS(mark, "set_global\n");
    } else {
        expected = xasprintf("set_global\napply cert0 v%lld\n", v_rot);
        ASSERT_CALLS(mark, expected);
        free(expected);
    }
    v = v_rot - 1;
    assert_memory_not_equal(digest, fake.global_cert_digest, sizeof digest);
    assert_string_equal(fake.global_certificate, local_pem);

    /* Without a rotation, file checks change nothing. */
    mark = MARK();
    time_warp(FILE_CHECK_MS + 1);
    pump_for(fx, 20);
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");

    /* A new peer certificate at the same path re-applies that tunnel. */
    write_cert(fx, "remote.pem", "remote", remote);
    mark = MARK();
    time_warp(FILE_CHECK_MS + 1);
    PUMP_UNTIL(fx, logged_since(mark, "apply cert0 "));
    sync_monitor(fx);
    expected = xasprintf("apply cert0 v%lld\n", v + 2);
    ASSERT_CALLS(mark, expected);
    free(expected);

    /* A local certificate file that turns unreadable at the same path is
     * most likely a rotation caught half way: the credentials already
     * loaded stay in use, and nothing is unloaded. */
    FILE *file = fopen(local_pem, "w");
    assert_non_null(file);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64!\n"
          "-----END CERTIFICATE-----\n", file);
    fclose(file);
    mark = MARK();
    time_warp(FILE_CHECK_MS + 1);
    sync_monitor(fx);
    ASSERT_CALLS(mark, "");
    assert_true(state_is(fx, "cert0", "CONFIGURED"));

    /* An OVSDB change to a broken file is the operator's word: certificate
     * tunnels become INVALID, naming the column... */
    char *broken = xasprintf("other_config:certificate=%s/missing.pem",
                             fx->dir);
    mark = MARK();
    vsctl(fx, "set", "Open_vSwitch", ".", broken, NULL);
    PUMP_UNTIL(fx, state_is(fx, "cert0", "INVALID"));
    sync_monitor(fx);
    ASSERT_CALLS(mark, "set_global\nremove cert0\n");
    assert_true(reason_contains(fx, "cert0", "other_config:certificate"));
    assert_true(state_is(fx, "sentinel", "CONFIGURED"));
    free(broken);

    /* ...until a good certificate is configured again. */
    write_cert(fx, "local.pem", "local", local);
    mark = MARK();
    vsctl(fx, "set", "Open_vSwitch", ".", certificate, NULL);
    PUMP_UNTIL(fx, state_is(fx, "cert0", "CONFIGURED"));
    expected = xasprintf("set_global\napply cert0 v%lld\n", v + 4);
    ASSERT_CALLS(mark, expected);
    free(expected);

    free(remote_cert);
    free(remote_pem);
    free(private_key);
    free(certificate);
    free(local_pem);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(local);
}

/* The drop policies in the kernel: returns how many there are and stores
 * their mark and mask. */
static int
drop_policies(struct xfrm_socket *sock, uint32_t *mark, uint32_t *mask)
{
    bool present = false;
    int n = xfrm_drop_policies_get(sock, &present, mark, mask);

    assert_true(n >= 0);
    assert_true(present == (n > 0));
    return n;
}

static bool
drops_are(struct xfrm_socket *sock, int n, uint32_t mark, uint32_t mask)
{
    uint32_t mark_, mask_;

    return (drop_policies(sock, &mark_, &mask_) == n
            && (!n || (mark_ == mark && mask_ == mask)));
}

/* Moves the test process into a network namespace of its own (once), so
 * that XFRM policies can be changed without touching the host's, and
 * returns an XFRM socket in it.  Skips the test if that is not
 * permitted. */
static struct xfrm_socket *
xfrm_sandbox(void)
{
    static bool own_netns;
    struct xfrm_socket *sock = NULL;

    if (!own_netns) {
        if (unshare(CLONE_NEWNET)) {
            fprintf(stderr, "note: unshare(CLONE_NEWNET): %s\n",
                    strerror(errno));
            skip();
        }
        own_netns = true;
    }
    if (xfrm_socket_open(&sock)
        || xfrm_drop_policies_get(sock, NULL, NULL, NULL) < 0) {
        xfrm_socket_close(sock);
        skip();
    }
    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    return sock;
}

/* 7. ipsec_skb_mark drop policies, in a network namespace of our own. */
static void
test_skb_mark(void **state)
{
    struct fixture *fx = *state;
    size_t mark;

    SKIP_WITHOUT_OVS(fx);
    struct xfrm_socket *sock = xfrm_sandbox();
    assert_true(drops_are(sock, 0, 0, 0));

    fx->opts.manage_xfrm = true;
    start_monitor(fx);

    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=0x1/0x1", NULL);
    PUMP_UNTIL(fx, drops_are(sock, XFRM_DROP_N, 1, 1));
    char *s = show_text(fx);
    assert_contains(s, "  SKB mark:       0x1/0x1\n");
    free(s);

    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=2/3", NULL);
    PUMP_UNTIL(fx, drops_are(sock, XFRM_DROP_N, 2, 3));

    /* Malformed: the policies in place stay. */
    mark = MARK();
    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=0x4/0x3", NULL);
    sync_monitor(fx);
    assert_true(drops_are(sock, XFRM_DROP_N, 2, 3));
    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=banana", NULL);
    sync_monitor(fx);
    assert_true(drops_are(sock, XFRM_DROP_N, 2, 3));
    ASSERT_CALLS(mark, "");

    /* Removed: cleared. */
    vsctl(fx, "remove", "Open_vSwitch", ".", "other_config",
          "ipsec_skb_mark", NULL);
    PUMP_UNTIL(fx, drops_are(sock, 0, 0, 0));

    /* The policies outlive the monitor, so that marked traffic fails
     * closed while it is away. */
    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=0x10/0x10", NULL);
    PUMP_UNTIL(fx, drops_are(sock, XFRM_DROP_N, 0x10, 0x10));
    monitor_destroy(fx->m);
    fx->m = NULL;
    assert_true(drops_are(sock, XFRM_DROP_N, 0x10, 0x10));

    /* A new instance adopts them and changes them when told to. */
    fake_reset();
    start_monitor(fx);
    assert_true(drops_are(sock, XFRM_DROP_N, 0x10, 0x10));
    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=0x20/0x30", NULL);
    PUMP_UNTIL(fx, drops_are(sock, XFRM_DROP_N, 0x20, 0x30));

    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    xfrm_socket_close(sock);
}

/* Drop policies left by an earlier instance are brought in line with
 * OVSDB when the monitor starts. */
static void
test_skb_mark_leftover(void **state)
{
    struct fixture *fx = *state;
    struct xfrm_policy policies[XFRM_DROP_N];

    SKIP_WITHOUT_OVS(fx);
    struct xfrm_socket *sock = xfrm_sandbox();
    fx->opts.manage_xfrm = true;

    /* OVSDB no longer asks for a mark: they go. */
    assert_int_equal(xfrm_drop_policies_set(sock, 0x10, 0x10), 0);
    assert_true(drops_are(sock, XFRM_DROP_N, 0x10, 0x10));
    start_monitor(fx);
    sync_monitor(fx);
    if (!drops_are(sock, 0, 0, 0)) {
        xfrm_drop_policies_clear(sock);
        xfrm_socket_close(sock);
        fail_msg("drop policies for 0x10/0x10 left by an earlier instance "
                 "were kept although OVSDB has no ipsec_skb_mark");
    }
    monitor_destroy(fx->m);
    fx->m = NULL;
    fake_reset();

    /* An incomplete set (an instance died while installing it) for the
     * mark OVSDB asks for is completed. */
    vsctl(fx, "set", "Open_vSwitch", ".",
          "other_config:ipsec_skb_mark=0x20/0x30", NULL);
    assert_int_equal(xfrm_drop_policies_build(0x20, 0x30, policies), 0);
    for (int i = 0; i < XFRM_DROP_N / 2; i++) {
        assert_int_equal(xfrm_policy_update(sock, &policies[i]), 0);
    }
    assert_true(drops_are(sock, XFRM_DROP_N / 2, 0x20, 0x30));
    start_monitor(fx);
    sync_monitor(fx);
    bool complete = drops_are(sock, XFRM_DROP_N, 0x20, 0x30);

    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    xfrm_socket_close(sock);
    if (!complete) {
        fail_msg("an incomplete set of drop policies was not completed");
    }
}

/* 8. Reconcile waits for the OVSDB snapshot; refresh reconciles now. */
static void
test_reconcile(void **state)
{
    struct fixture *fx = *state;

    SKIP_WITHOUT_OVS(fx);

    /* No database yet: however much time passes, no reconcile, which
     * would unload every connection. */
    ut_child_stop(&fx->server);
    fx->opts.ike.reconcile_ms = 1000;
    create_monitor(fx);
    for (int i = 0; i < 20; i++) {
        time_warp(1500);
        pump_once(fx);
    }
    assert_int_equal(fake.n_reconcile, 0);
    assert_string_equal(ds_cstr(&fake.log), "");

    /* The first reconcile follows the snapshot's changes. */
    fx->server = ut_ovsdb_server_start(fx->dir, fx->remote);
    time_warp(BACKOFF_WARP_MS);
    PUMP_UNTIL(fx, fake.n_reconcile > 0);
    assert_string_equal(ds_cstr(&fake.log),
                        "set_global\napply sentinel v1\nreconcile\n");

    /* Periodic. */
    unsigned int n = fake.n_reconcile;
    time_warp(1000);
    PUMP_UNTIL(fx, fake.n_reconcile > n);

    /* Refresh: at once, and nothing else when nothing changed. */
    PUMP_UNTIL(fx, state_is(fx, "sentinel", "CONFIGURED"));
    size_t mark = MARK();
    n = fake.n_reconcile;
    monitor_refresh(fx->m);
    assert_int_equal(fake.n_reconcile, n + 1);
    pump_for(fx, 20);
    assert_string_equal(ds_cstr(&fake.log) + mark, "reconcile\n");

    /* A tunnel the IKE daemon refused is handed over again at the next
     * reconcile: the refusal may have been transient. */
    fake.answer = FAKE_ANSWER_ERROR;
    fake.answer_error = -EAGAIN;
    fake.answer_why = "try again";
    mark = MARK();
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.2", "p1");
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "FAILED"));
    fake.answer = FAKE_ANSWER_OK;
    size_t mark2 = MARK();
    time_warp(1000);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));
    const char *log = ds_cstr(&fake.log);
    const char *retry = strstr(log + mark2, "apply gnv0 ");
    assert_non_null(retry);
    assert_non_null(strstr(retry, "reconcile\n"));
}

/* Replacing an interface by one of the same name in one transaction (a
 * deleted and an inserted row in one update, in whatever order OVSDB lists
 * them) leaves the new interface's tunnel in place. */
static void
test_replace_port(void **state)
{
    struct fixture *fx = *state;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.2", "psk0");
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));

    /* The order of the two rows in the update depends on their random
     * UUIDs, so try a few times. */
    for (int i = 1; i <= 8; i++) {
        char *psk = xasprintf("options:psk=psk%d", i);
        size_t mark = MARK();

        vsctl(fx, "del-port", "br0", "gnv0", "--", "add-port", "br0", "gnv0",
              "--", "set", "interface", "gnv0", "type=geneve",
              "options:remote_ip=192.0.2.2", psk, NULL);
        sync_monitor(fx);
        PUMP_UNTIL(fx, fake_n_deliverable() == 0);
        if (!state_is(fx, "gnv0", "CONFIGURED")) {
            char *calls = calls_since(mark);
            fail_msg("round %d: gnv0 is not CONFIGURED after being "
                     "replaced; backend calls:\n%s", i, calls);
        }
        assert_psk(fake.last_apply.psk, psk + strlen("options:psk="));

        /* Removed and added again (the new interface may differ in every
         * way), at the version show reports. */
        long long int v = json_int(fx, "gnv0", "version");
        assert_int_equal(v, fake.last_apply.version);
        char *expected = xasprintf("remove gnv0\napply gnv0 v%lld\n", v);
        ASSERT_CALLS(mark, expected);
        free(expected);
        free(psk);
    }
}

/* An answer the backend sends for a tunnel that has since been deleted
 * and added again under the same name does not count for the new one. */
static void
test_stale_answer_after_readd(void **state)
{
    struct fixture *fx = *state;

    SKIP_WITHOUT_OVS(fx);
    start_monitor(fx);

    fake.answer = FAKE_ANSWER_HOLD;
    size_t mark = MARK();
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.2", "old");
    PUMP_UNTIL(fx, logged_since(mark, "apply gnv0 "));
    uint64_t old_version = fake.last_apply.version;

    vsctl(fx, "del-port", "br0", "gnv0", NULL);
    PUMP_UNTIL(fx, logged_since(mark, "remove gnv0"));
    size_t mark2 = MARK();
    add_psk_tunnel(fx, "gnv0", "geneve", "192.0.2.3", "new");
    PUMP_UNTIL(fx, logged_since(mark2, "apply gnv0 "));
    uint64_t new_version = fake.last_apply.version;
    assert_true(state_is(fx, "gnv0", "PENDING"));

    /* The old request completes late (the backend may not cancel it). */
    fake_release("gnv0", old_version, 0, NULL);
    PUMP_UNTIL(fx, fake_n_deliverable() == 0);
    if (!state_is(fx, "gnv0", "PENDING")) {
        fail_msg("the answer to the deleted tunnel's v%llu made the new "
                 "tunnel (v%llu, not answered yet) %s",
                 (unsigned long long int) old_version,
                 (unsigned long long int) new_version,
                 state_is(fx, "gnv0", "CONFIGURED") ? "CONFIGURED"
                 : "not PENDING");
    }

    fake_release("gnv0", new_version, 0, NULL);
    PUMP_UNTIL(fx, state_is(fx, "gnv0", "CONFIGURED"));
}

static void
status_cb(void *aux, int error, const char *text)
{
    struct ds *out = aux;

    assert_int_equal(error, 0);
    ds_put_cstr(out, text);
}

/* 9. Cleanup, idleness, status, creation and destruction. */
static void
test_lifecycle(void **state)
{
    struct fixture *fx = *state;
    char *why = NULL;
    struct monitor *m = NULL;

    /* Bad database remote: refused before the backend starts. */
    fx->opts.database = "bogus";
    assert_int_equal(monitor_create(&fx->opts, &m, &why), -EINVAL);
    assert_null(m);
    assert_non_null(why);
    assert_contains(why, "bogus");
    free(why);
    why = NULL;
    assert_int_equal(fake.n_create, 0);
    fx->opts.database = fx->remote;

    /* The backend fails to start. */
    fake.create_error = -ENOMEM;
    assert_int_equal(monitor_create(&fx->opts, &m, &why), -ENOMEM);
    assert_null(m);
    assert_non_null(why);
    assert_contains(why, "fake");
    free(why);
    fake.create_error = 0;

    /* No OVSDB server: the monitor runs, shows nothing, calls nothing. */
    create_monitor(fx);
    pump_for(fx, 20);
    struct ds out = DS_EMPTY_INITIALIZER;
    monitor_show_tunnels_json(fx->m, &out);
    assert_string_equal(ds_cstr(&out), "[]\n");
    ds_clear(&out);
    monitor_show_tunnels(fx->m, &out);
    assert_string_equal(ds_cstr(&out), "");
    assert_string_equal(ds_cstr(&fake.log), "");

    /* Idle follows the backend. */
    fake.idle = false;
    assert_false(monitor_is_idle(fx->m));
    fake.idle = true;
    assert_true(monitor_is_idle(fx->m));

    monitor_cleanup(fx->m);
    assert_int_equal(fake.n_cleanup, 1);
    assert_string_equal(ds_cstr(&fake.log), "cleanup\n");

    /* Status comes back through the callback, from run(). */
    ds_clear(&out);
    assert_int_equal(monitor_query_status(fx->m, status_cb, &out), 0);
    assert_int_equal(fake.n_status, 1);
    PUMP_UNTIL(fx, out.length > 0);
    assert_string_equal(ds_cstr(&out), "fake status\n");
    ds_destroy(&out);

    /* Destroying unloads nothing. */
    monitor_destroy(fx->m);
    fx->m = NULL;
    assert_int_equal(fake.n_destroy, 1);
    assert_string_equal(ds_cstr(&fake.log), "cleanup\n");
    monitor_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_psk_tunnel, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid, ovs_setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_because_of_another,
                                        ovs_setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_failure, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ovsdb_restart, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_global_certs, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_skb_mark, ovs_setup, teardown),
        cmocka_unit_test_setup_teardown(test_skb_mark_leftover, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replace_port, ovs_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_answer_after_readd,
                                        ovs_setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, bare_setup,
                                        teardown),
    };

    fake_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
