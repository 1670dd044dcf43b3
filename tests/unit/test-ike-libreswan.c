/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the Libreswan backend (ike/ike-libreswan.c), driven
 * through its class functions against a fake `ipsec` program: a shell
 * script at ROOT/usr/sbin/ipsec (ROOT is the backend's --root-prefix, a
 * mkdtemp() directory) that appends its argv to ROOT/fake/calls and
 * answers from files the test writes: ROOT/fake/out.OP (stdout),
 * err.OP (stderr), rc.OP (exit code) and hang.OP (sleeps), where OP is
 * the operation (version, restart, status, add, up, delete,
 * rereadsecrets).  So the exact commands are asserted, in order where
 * the order matters.
 *
 * The NSS tests run the real certutil and pk12util (libnss3-tools) on a
 * database in the test directory, through shims in ROOT/bin (first in
 * $PATH) that log their argv too; they are skipped without them.
 *
 * Backoffs and grace periods are tested with time_warp(), never by
 * sleeping.  TEST_FILTER=<substring> runs only the matching tests.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ds.h"
#include "global-conf.h"
#include "ike.h"
#include "libreswan-nss.h"
#include "log.h"
#include "loop.h"
#include "process.h"
#include "secret.h"
#include "smap.h"
#include "timeval.h"
#include "tunnel.h"
#include "unit-util.h"
#include "util.h"
#include "x509.h"

#define PSK "swordfish-0123"
#define MAX_DONES 64
/* Wall-clock bound on settling. */
#define SETTLE_MS 20000

/* Certificates and keys, made once for all tests. */
static char *certdir;
static struct global_conf *g_self;      /* local.pem + local.key. */
static struct global_conf *g_self2;     /* local2.pem + local2.key: same CN
                                         * "local", another key. */
static struct global_conf *g_ca;        /* leaf.pem + leaf.key + ca.pem. */
static struct global_conf *g_bundle;    /* ileaf.pem + ileaf.key +
                                         * bundle.pem (inter.pem, an
                                         * intermediate CA under ca.pem,
                                         * then ca.pem). */
static bool have_nss_tools;

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

struct fx {
    char *root;                 /* --root-prefix. */
    struct ike_options opts;
    struct ike_backend *ike;
    char *old_path;             /* $PATH before the test. */
};

/* Helpers: files. */

static char *
fx_path(const struct fx *f, const char *rel)
{
    return xasprintf("%s/%s", f->root, rel);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static void
fx_write(const struct fx *f, const char *rel, const char *text)
{
    char *path = fx_path(f, rel);
    write_file(path, text, 0644);
    free(path);
}

static void
fx_unlink(const struct fx *f, const char *rel)
{
    char *path = fx_path(f, rel);
    unlink(path);
    free(path);
}

/* Returns the contents of ROOT/rel, or "" if missing; the caller frees
 * it. */
static char *
fx_read(const struct fx *f, const char *rel)
{
    char *path = fx_path(f, rel);
    char *data = NULL;
    size_t size;

    if (x509_read_file(path, &data, &size, NULL)) {
        data = xstrdup("");
    }
    free(path);
    return data;
}

static void
mkdirs(const char *root, const char *rel)
{
    char *path = xasprintf("%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; ; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            mkdir(path, 0755);
            *p = c;
            if (!c) {
                break;
            }
        }
    }
    free(path);
}

static void
rm_rf(const char *path)
{
    char *cmd = xasprintf("rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* The fake `ipsec`. */
static const char fake_ipsec[] =
    "#!/bin/sh\n"
    "F=$(dirname \"$0\")/../../fake\n"
    "printf '%s\\n' \"ipsec $*\" >> \"$F/calls\"\n"
    "op=other\n"
    "for a in \"$@\"; do\n"
    "  case \"$a\" in\n"
    "    --version) op=version ;;\n"
    "    restart) op=restart ;;\n"
    "    status|--status) op=status ;;\n"
    "    --add|add) op=add ;;\n"
    "    --up|up) op=up ;;\n"
    "    --delete|delete) op=delete ;;\n"
    "    --rereadsecrets|rereadsecrets) op=rereadsecrets ;;\n"
    "    --start|start) op=start ;;\n"
    "  esac\n"
    "done\n"
    "[ -e \"$F/hang.$op\" ] && sleep 30\n"
    "[ -e \"$F/out.$op\" ] && cat \"$F/out.$op\"\n"
    "[ -e \"$F/err.$op\" ] && cat \"$F/err.$op\" >&2\n"
    "if [ $op = version ] && [ ! -e \"$F/out.version\" ]; then\n"
    "  echo 'Libreswan 4.10'\n"
    "fi\n"
    "exit $(cat \"$F/rc.$op\" 2>/dev/null || echo 0)\n";

/* Shims that log certutil and pk12util calls and run the real ones. */
static const char nss_shim[] =
    "#!/bin/sh\n"
    "F=$(dirname \"$0\")/../fake\n"
    "printf '%s\\n' \"$(basename \"$0\") $*\" >> \"$F/calls\"\n"
    "exec /usr/bin/$(basename \"$0\") \"$@\"\n";

/* Helpers: the backend's calls. */

/* Returns the calls logged since the last take, one per line, with the
 * root directory shown as "@"; the caller frees it. */
static char *
calls_take(struct fx *f)
{
    char *data = fx_read(f, "fake/calls");
    struct ds out = DS_EMPTY_INITIALIZER;
    size_t rlen = strlen(f->root);

    for (const char *p = data; *p; ) {
        if (!strncmp(p, f->root, rlen)) {
            ds_put_char(&out, '@');
            p += rlen;
        } else {
            ds_put_char(&out, *p++);
        }
    }
    fx_write(f, "fake/calls", "");
    free(data);
    return ds_steal_cstr(&out);
}

/* Counts the lines of 'calls' that contain every one of the
 * NULL-terminated words. */
static int
count_calls(const char *calls, ...)
{
    int n = 0;

    for (const char *line = calls; line && *line; ) {
        const char *eol = strchr(line, '\n');
        char *copy = xmemdup0(line, eol ? (size_t) (eol - line)
                                        : strlen(line));
        bool all = true;
        va_list args;

        va_start(args, calls);
        for (const char *w = va_arg(args, const char *); w;
             w = va_arg(args, const char *)) {
            /* Whole words only: "gnv0-in-1" is not "gnv0-in-10". */
            size_t len = strlen(w);
            bool found = false;
            for (const char *q = strstr(copy, w); q; q = strstr(q + 1, w)) {
                if ((q == copy || q[-1] == ' ')
                    && (q[len] == ' ' || !q[len])) {
                    found = true;
                    break;
                }
            }
            all &= found;
        }
        va_end(args);
        n += all;
        free(copy);
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* Returns the index of the first line of 'calls' that contains 'a' and
 * 'b' (NULL for any), or -1. */
static int
call_index(const char *calls, const char *a, const char *b)
{
    int i = 0;

    for (const char *line = calls; line && *line; i++) {
        const char *eol = strchr(line, '\n');
        char *copy = xmemdup0(line, eol ? (size_t) (eol - line)
                                        : strlen(line));
        bool match = (strstr(copy, a) && (!b || strstr(copy, b)));
        free(copy);
        if (match) {
            return i;
        }
        line = eol ? eol + 1 : NULL;
    }
    return -1;
}

#define ASSERT_CALLS(CALLS, N, ...)                                     \
    do {                                                                \
        int n_ = count_calls(CALLS, __VA_ARGS__, (char *) NULL);        \
        if (n_ != (N)) {                                                \
            fail_msg("expected %d call(s) with %s, got %d in:\n%s",     \
                     (N), #__VA_ARGS__, n_, CALLS);                     \
        }                                                               \
    } while (0)

/* Helpers: hooks. */

static void
tunnel_done_cb(void *aux, const char *name, uint64_t version, int error,
               const char *why)
{
    (void) aux;
    assert_true(n_dones < MAX_DONES);
    dones[n_dones].name = xstrdup(name);
    dones[n_dones].version = version;
    dones[n_dones].error = error;
    dones[n_dones].why = nullable_xstrdup(why);
    n_dones++;
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

/* The last tunnel_done for 'name', or NULL. */
static const struct done *
last_done(const char *name)
{
    for (size_t i = n_dones; i-- > 0; ) {
        if (!strcmp(dones[i].name, name)) {
            return &dones[i];
        }
    }
    return NULL;
}

static void
status_cb(void *aux, int error, const char *text)
{
    (void) aux;
    status_calls++;
    status_error = error;
    free(status_text);
    status_text = xstrdup(text);
}

/* Helpers: the fixture. */

static void
fx_init(struct fx *f, bool restart)
{
    char template[] = "/tmp/test-ike-lsw.XXXXXX";
    const char *path = getenv("PATH");

    memset(f, 0, sizeof *f);
    assert_non_null(mkdtemp(template));
    f->root = xstrdup(template);
    mkdirs(f->root, "usr/sbin");
    mkdirs(f->root, "etc");
    mkdirs(f->root, "run/pluto");
    mkdirs(f->root, "fake");
    mkdirs(f->root, "bin");
    mkdirs(f->root, "var/lib/ipsec/nss");

    char *ipsec = fx_path(f, "usr/sbin/ipsec");
    write_file(ipsec, fake_ipsec, 0755);
    free(ipsec);
    for (int i = 0; i < 2; i++) {
        char *shim = fx_path(f, i ? "bin/pk12util" : "bin/certutil");
        write_file(shim, nss_shim, 0755);
        free(shim);
    }
    fx_write(f, "fake/calls", "");
    /* pluto answers, with nothing loaded. */
    fx_write(f, "fake/out.status", "000 Connection list:\n000\n");

    f->old_path = xstrdup(path ? path : "/usr/bin:/bin");
    char *new_path = xasprintf("%s/bin:%s", f->root, f->old_path);
    setenv("PATH", new_path, 1);
    free(new_path);

    f->opts.command_timeout_ms = 5000;
    f->opts.reconcile_ms = 15000;
    f->opts.restart_ike_daemon = restart;
    f->opts.root_prefix = f->root;
    dones_clear();
    status_calls = 0;
    status_error = 0;
    free(status_text);
    status_text = NULL;
}

static void
fx_create(struct fx *f)
{
    struct ike_hooks hooks = { .tunnel_done = tunnel_done_cb, .aux = NULL };
    assert_int_equal(ike_libreswan_class.create(&f->opts, &hooks, &f->ike),
                     0);
}

static void
fx_destroy_backend(struct fx *f)
{
    ike_libreswan_class.destroy(f->ike);
    f->ike = NULL;
    /* Children of the destroyed backend are reaped in the background. */
    for (int i = 0; i < 200 && process_reap_orphans(); i++) {
        usleep(10000);
    }
}

static void
fx_done(struct fx *f)
{
    fx_destroy_backend(f);
    setenv("PATH", f->old_path, 1);
    free(f->old_path);
    rm_rf(f->root);
    free(f->root);
    dones_clear();
    free(status_text);
    status_text = NULL;
}

/* Runs the backend until it has nothing in flight. */
static void
settle(struct fx *f)
{
    long long int deadline = time_wall_msec() + SETTLE_MS;

    for (;;) {
        f->ike->class->run(f->ike);
        if (f->ike->class->idle(f->ike)) {
            /* One more round: idle may hide work due at once. */
            f->ike->class->run(f->ike);
            if (f->ike->class->idle(f->ike)) {
                break;
            }
        }
        if (time_wall_msec() > deadline) {
            fail_msg("backend did not settle within %d ms", SETTLE_MS);
        }
        f->ike->class->wait(f->ike);
        loop_block();
    }
}

/* Helpers: tunnels and global configuration. */

static char *
cert_path(const char *name)
{
    return xasprintf("%s/%s", certdir, name);
}

/* Builds tunnel 'name' from option pairs ending with NULL; the caller
 * frees it with ut_tunnel_free(). */
static struct tunnel *
make_tunnel(const char *name, const char *type, uint64_t version,
            const struct global_conf *g, ...)
{
    struct tunnel *t;
    va_list args;

    va_start(args, g);
    t = ut_tunnel_create_valist(certdir, name, type, version, g, args);
    va_end(args);
    return t;
}

/* Builds tunnel 'name' from option pairs ending with NULL ("@x" is the
 * certificate file x), checks and applies it, and frees it: the backend
 * keeps no pointer to it. */
static void
apply(struct fx *f, const char *name, const char *type, uint64_t version,
      const struct global_conf *g, ...)
{
    struct tunnel *t;
    va_list args;

    va_start(args, g);
    t = ut_tunnel_create_valist(certdir, name, type, version, g, args);
    va_end(args);
    ut_tunnel_apply(f->ike, t);
}

static struct global_conf *
make_global(const char *key, ...)
{
    struct global_conf *gc;
    struct smap oc;
    va_list args;

    smap_init(&oc);
    va_start(args, key);
    for (; key; key = va_arg(args, const char *)) {
        char *value = cert_path(va_arg(args, const char *));
        smap_replace(&oc, key, value);
        free(value);
    }
    va_end(args);
    gc = global_conf_create(&oc);
    smap_destroy(&oc);
    return gc;
}

static EVP_PKEY *
make_key(const char *name)
{
    EVP_PKEY *key = NULL;
    char *path = cert_path(name);

    assert_int_equal(x509_key_generate(X509_KEY_EC, 0, &key, NULL), 0);
    assert_int_equal(x509_key_write(key, path, NULL), 0);
    free(path);
    return key;
}

static X509 *
make_cert(const char *name, const char *cn, bool ca, EVP_PKEY *key,
          const X509 *issuer, EVP_PKEY *issuer_key)
{
    const char *dns[] = { cn, NULL };
    struct x509_cert_spec spec = {
        .cn = cn, .org = "ovs", .dns = dns, .days = 30, .ca = ca,
    };
    char *path = cert_path(name);
    X509 *cert = NULL;

    assert_int_equal(x509_cert_create(&spec, key, issuer, issuer_key, &cert,
                                      NULL), 0);
    assert_int_equal(x509_cert_write(cert, path, NULL), 0);
    free(path);
    return cert;
}

/* A status of pluto listing 'conns' (space-separated) as loaded; with
 * "+IKE" after a name, an established IKE SA too; with "+ESP", an IKE SA
 * and an established ESP SA. */
static void
fx_status(struct fx *f, const char *conns)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    char *copy = xstrdup(conns);
    char *save = NULL;
    int serial = 1;

    ds_put_cstr(&s, "000 using kernel interface: xfrm\n000 \n"
                "000 Connection list:\n000 \n");
    for (char *w = strtok_r(copy, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
        char *plus = strchr(w, '+');
        if (plus) {
            *plus = '\0';
        }
        ds_put_format(&s, "000 \"%s\": 192.0.2.1/32:UDP/6081===192.0.2.1"
                      "...192.0.2.2===192.0.2.2/32:UDP/0-65535; unrouted; "
                      "eroute owner: #0\n", w);
        ds_put_format(&s, "000 \"%s\":     oriented; my_ip=unset; "
                      "their_ip=unset;\n", w);
    }
    free(copy);
    ds_put_cstr(&s, "000 \n000 Total IPsec connections: loaded 2, "
                "active 0\n000 \n");
    copy = xstrdup(conns);
    for (char *w = strtok_r(copy, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
        char *plus = strchr(w, '+');
        if (!plus) {
            continue;
        }
        *plus++ = '\0';
        int ike = serial++;
        ds_put_format(&s, "000 #%d: \"%s\":500 STATE_V2_ESTABLISHED_IKE_SA "
                      "(established IKE SA); REKEY in 27831s; REPLACE in "
                      "28797s; newest; idle;\n", ike, w);
        if (!strcmp(plus, "ESP")) {
            int child = serial++;
            ds_put_format(&s, "000 #%d: \"%s\":500 "
                          "STATE_V2_ESTABLISHED_CHILD_SA (established Child "
                          "SA); REKEY in 28500s; REPLACE in 28770s; newest; "
                          "eroute owner; IKE SA #%d; idle;\n", child, w, ike);
            ds_put_format(&s, "000 #%d: \"%s\" esp.8d3bc2cd@192.0.2.2 "
                          "esp.a4c1d0c2@192.0.2.1 Traffic: ESPin=0B "
                          "ESPout=0B ESPmax=2^63B\n", child, w);
        }
    }
    ds_put_cstr(&s, "000 \n000 Bare Shunt list:\n000 \n");
    fx_write(f, "fake/out.status", ds_cstr(&s));
    free(copy);
    ds_destroy(&s);
}

/* Setup. */

static int
group_setup(void **state)
{
    char template[] = "/tmp/test-ike-lsw-certs.XXXXXX";

    (void) state;
    if (!mkdtemp(template)) {
        return -1;
    }
    certdir = xstrdup(template);

    EVP_PKEY *local = make_key("local.key");
    EVP_PKEY *local2 = make_key("local2.key");
    EVP_PKEY *remote = make_key("remote.key");
    EVP_PKEY *remote2 = make_key("remote2.key");
    EVP_PKEY *ca_key = make_key("ca.key");
    EVP_PKEY *leaf_key = make_key("leaf.key");
    X509_free(make_cert("local.pem", "local", false, local, NULL, NULL));
    X509_free(make_cert("local2.pem", "local", false, local2, NULL, NULL));
    X509_free(make_cert("remote.pem", "remote", false, remote, NULL, NULL));
    X509_free(make_cert("remote2.pem", "remote", false, remote2, NULL,
                        NULL));
    X509 *ca = make_cert("ca.pem", "ovs-ca", true, ca_key, NULL, NULL);
    X509_free(make_cert("leaf.pem", "leaf", false, leaf_key, ca, ca_key));
    EVP_PKEY *leaf2_key = make_key("leaf2.key");
    X509_free(make_cert("leaf2.pem", "leaf", false, leaf2_key, ca, ca_key));
    EVP_PKEY_free(leaf2_key);
    EVP_PKEY *inter_key = make_key("inter.key");
    EVP_PKEY *ileaf_key = make_key("ileaf.key");
    X509 *inter = make_cert("inter.pem", "ovs-inter", true, inter_key, ca,
                            ca_key);
    X509_free(make_cert("ileaf.pem", "ileaf", false, ileaf_key, inter,
                        inter_key));
    X509_free(inter);
    EVP_PKEY_free(inter_key);
    EVP_PKEY_free(ileaf_key);
    char *cmd = xasprintf("cat %s/inter.pem %s/ca.pem > %s/bundle.pem",
                          certdir, certdir, certdir);
    if (system(cmd)) {
        return -1;
    }
    free(cmd);
    X509_free(ca);
    EVP_PKEY_free(local);
    EVP_PKEY_free(local2);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(remote2);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);

    g_self = make_global("certificate", "local.pem",
                         "private_key", "local.key", NULL);
    g_self2 = make_global("certificate", "local2.pem",
                          "private_key", "local2.key", NULL);
    g_ca = make_global("certificate", "leaf.pem", "private_key", "leaf.key",
                       "ca_cert", "ca.pem", NULL);
    g_bundle = make_global("certificate", "ileaf.pem",
                           "private_key", "ileaf.key",
                           "ca_cert", "bundle.pem", NULL);
    if (g_self->cert_error || g_self2->cert_error || g_ca->cert_error
        || g_bundle->cert_error) {
        return -1;
    }
    have_nss_tools = (!access("/usr/bin/certutil", X_OK)
                      && !access("/usr/bin/pk12util", X_OK));
    return 0;
}

static int
group_teardown(void **state)
{
    (void) state;
    rm_rf(certdir);
    free(certdir);
    global_conf_destroy(g_self);
    global_conf_destroy(g_self2);
    global_conf_destroy(g_ca);
    global_conf_destroy(g_bundle);
    return 0;
}

/* Tests. */

/* A PSK geneve tunnel at the end with the lower address: files written,
 * both connections added, secrets re-read, then both brought up, "-out"
 * first, and the tunnel reported configured. */
static void
test_psk_initiator(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);

    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--version");
    ASSERT_CALLS(calls, 0, "restart");
    ASSERT_CALLS(calls, 1, "--add", "gnv0-out-1");
    ASSERT_CALLS(calls, 1, "--add", "gnv0-in-1");
    ASSERT_CALLS(calls, 1, "--rereadsecrets");
    ASSERT_CALLS(calls, 1, "--up", "gnv0-out-1");
    ASSERT_CALLS(calls, 1, "--up", "gnv0-in-1");
    /* The commands name our files and pluto's socket. */
    ASSERT_CALLS(calls, 2, "--add", "--config", "@/etc/ipsec.conf",
                 "--ctlsocket", "@/run/pluto/pluto.ctl");
    /* Up only after both adds and the reread; "-out" first. */
    int up_out = call_index(calls, "--up", "gnv0-out-1");
    int up_in = call_index(calls, "--up", "gnv0-in-1");
    assert_true(up_out > call_index(calls, "--add", "gnv0-in-1"));
    assert_true(up_out > call_index(calls, "--add", "gnv0-out-1"));
    assert_true(up_out > call_index(calls, "--rereadsecrets", NULL));
    assert_true(up_in > up_out);
    free(calls);

    const struct done *d = last_done("gnv0");
    assert_non_null(d);
    assert_int_equal(d->version, 1);
    assert_int_equal(d->error, 0);

    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_non_null(strstr(conf, "conn gnv0-in-1\n"));
    assert_non_null(strstr(conf, "conn gnv0-out-1\n"));
    assert_null(strstr(conf, PSK));
    free(conf);

    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_non_null(strstr(secrets, "192.0.2.2 : PSK \"" PSK "\""));
    free(secrets);
    struct stat st;
    char *path = fx_path(&f, "etc/ipsec.secrets");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(path);

    /* Nothing more happens while nothing changes. */
    settle(&f);
    calls = calls_take(&f);
    assert_string_equal(calls, "");
    free(calls);
    fx_done(&f);
}

/* The end with the higher address only adds; it brings the connections
 * up itself only when nothing came from the peer within the grace
 * period, and not while a negotiation is in progress. */
static void
test_responder_grace(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.1",
          "local_ip", "192.0.2.2", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 2, "--add");
    ASSERT_CALLS(calls, 0, "--up");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);

    /* The peer's negotiation is under way for "-out" (an IKE SA). */
    fx_status(&f, "gnv0-out-1+IKE gnv0-in-1");
    time_warp(21000);
    settle(&f);
    calls = calls_take(&f);
    assert_true(count_calls(calls, "status", (char *) NULL) >= 1);
    ASSERT_CALLS(calls, 1, "--up", "gnv0-in-1");
    ASSERT_CALLS(calls, 0, "--up", "gnv0-out-1");
    free(calls);

    /* Both up: nothing to do any more. */
    fx_status(&f, "gnv0-out-1+ESP gnv0-in-1+ESP");
    time_warp(40000);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--up");
    free(calls);
    assert_true(f.ike->class->tunnel_is_up(f.ike, "gnv0"));
    fx_done(&f);
}

/* GRE has one connection, "IFACE-VER"; IPv6 works the same way. */
static void
test_gre_ipv6(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gre0", "gre", 3, NULL, "remote_ip", "fd00::2",
          "local_ip", "fd00::1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--add", "gre0-3");
    ASSERT_CALLS(calls, 1, "--up", "gre0-3");
    ASSERT_CALLS(calls, 2, "gre0-3");
    free(calls);
    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_non_null(strstr(conf, "conn gre0-3\n"));
    assert_non_null(strstr(conf, "fd00::2"));
    free(conf);
    assert_int_equal(last_done("gre0")->error, 0);
    fx_done(&f);
}

/* Libreswan 5 has no `ipsec auto`. */
static void
test_v5_syntax(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_write(&f, "fake/out.version", "Libreswan v5.2\n");
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "auto");
    ASSERT_CALLS(calls, 1, "ipsec", "add", "gnv0-out-1");
    ASSERT_CALLS(calls, 1, "ipsec", "up", "gnv0-out-1");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    fx_done(&f);
}

/* Without --no-restart-ike-daemon, pluto is restarted once, on our
 * files, before anything else. */
static void
test_restart(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, true);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "restart");
    assert_true(call_index(calls, "restart", NULL)
                < call_index(calls, "--add", NULL));
    assert_true(call_index(calls, "--version", NULL)
                < call_index(calls, "restart", NULL));
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    fx_done(&f);
}

/* A new version replaces the connections: the old ones are deleted, the
 * new ones added and started. */
static void
test_new_version(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "vx0", "vxlan", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    free(calls_take(&f));
    apply(&f, "vx0", "vxlan", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "another-psk-42", NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--delete", "vx0-in-1");
    ASSERT_CALLS(calls, 1, "--delete", "vx0-out-1");
    ASSERT_CALLS(calls, 1, "--add", "vx0-in-2");
    ASSERT_CALLS(calls, 1, "--add", "vx0-out-2");
    ASSERT_CALLS(calls, 1, "--rereadsecrets");
    ASSERT_CALLS(calls, 1, "--up", "vx0-out-2");
    free(calls);
    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_null(strstr(conf, "vx0-in-1"));
    assert_non_null(strstr(conf, "conn vx0-in-2\n"));
    free(conf);
    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_null(strstr(secrets, PSK));
    assert_non_null(strstr(secrets, "another-psk-42"));
    free(secrets);
    assert_int_equal(last_done("vx0")->version, 2);
    assert_int_equal(last_done("vx0")->error, 0);

    /* The monitor retrying the same version leaves pluto alone. */
    apply(&f, "vx0", "vxlan", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "another-psk-42", NULL);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--add");
    ASSERT_CALLS(calls, 0, "--delete");
    free(calls);
    fx_done(&f);
}

static void
test_remove(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    apply(&f, "gnv1", "geneve", 1, NULL, "remote_ip", "192.0.2.3",
          "local_ip", "192.0.2.1", "psk", "other-psk", NULL);
    settle(&f);
    free(calls_take(&f));
    assert_int_equal(f.ike->class->tunnel_remove(f.ike, "gnv0"), 0);
    assert_int_equal(f.ike->class->tunnel_remove(f.ike, "nope"), -ENOENT);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--delete", "gnv0-in-1");
    ASSERT_CALLS(calls, 1, "--delete", "gnv0-out-1");
    ASSERT_CALLS(calls, 0, "gnv1-in-1");
    ASSERT_CALLS(calls, 1, "--rereadsecrets");
    free(calls);
    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_null(strstr(conf, "gnv0"));
    assert_non_null(strstr(conf, "conn gnv1-in-1\n"));
    free(conf);
    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_null(strstr(secrets, PSK));
    assert_non_null(strstr(secrets, "other-psk"));
    free(secrets);
    fx_done(&f);
}

/* Reconcile: a connection pluto lost is added again; connections of ours
 * nobody wants (another version, one from the file an earlier instance
 * wrote) are deleted; the operator's are left alone. */
static void
test_reconcile(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    /* What an earlier instance wrote. */
    fx_write(&f, "etc/ipsec.conf",
             "# old\n\nconn old0-7\n    left=192.0.2.1\n\n");
    /* At start, pluto holds old0-7 and the operator's site-1: nothing is
     * deleted before the monitor applied what it wants and reconciles. */
    fx_status(&f, "old0-7 site-1");
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--delete");
    free(calls);

    /* pluto lost gnv0-in-2 and still has gnv0-in-1, old0-7, site-1. */
    fx_status(&f, "gnv0-out-2 gnv0-in-1 old0-7 site-1");
    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--add", "gnv0-in-2");
    ASSERT_CALLS(calls, 0, "--add", "gnv0-out-2");
    ASSERT_CALLS(calls, 1, "--delete", "gnv0-in-1");
    ASSERT_CALLS(calls, 1, "--delete", "old0-7");
    ASSERT_CALLS(calls, 0, "site-1");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    fx_done(&f);
}

/* After a restart of ours without restarting pluto, connections pluto
 * holds as we would add them are adopted, not added again (which would
 * tear their SAs down); a changed one is added. */
static void
test_adopt(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    apply(&f, "gnv1", "geneve", 1, NULL, "remote_ip", "192.0.2.3",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    fx_destroy_backend(&f);
    free(calls_take(&f));
    dones_clear();

    fx_status(&f, "gnv0-out-1+ESP gnv0-in-1+ESP gnv1-out-1 gnv1-in-1");
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    /* gnv1's PSK changed while we were down. */
    apply(&f, "gnv1", "geneve", 1, NULL, "remote_ip", "192.0.2.3",
          "local_ip", "192.0.2.1", "psk", "changed-psk", NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "gnv0-in-1");
    ASSERT_CALLS(calls, 0, "gnv0-out-1");
    ASSERT_CALLS(calls, 1, "--add", "gnv1-in-1");
    ASSERT_CALLS(calls, 1, "--add", "gnv1-out-1");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    assert_int_equal(last_done("gnv1")->error, 0);
    assert_true(f.ike->class->tunnel_is_up(f.ike, "gnv0"));
    assert_false(f.ike->class->tunnel_is_up(f.ike, "gnv1"));
    fx_done(&f);
}

/* pluto refuses a connection: the tunnel fails with what pluto said, and
 * the other connection, which pluto took, is deleted again. */
static void
test_add_refused(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    settle(&f);
    fx_write(&f, "fake/rc.add", "21\n");
    fx_write(&f, "fake/err.add", "conn 'gnv0-in-1': not found (tried "
             "aliases)\n");
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    const struct done *d = last_done("gnv0");
    assert_non_null(d);
    assert_int_equal(d->error, -EINVAL);
    assert_non_null(strstr(d->why, "exited with code 21"));
    assert_non_null(strstr(d->why, "not found (tried aliases)"));
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--up");
    free(calls);

    /* The monitor retries later, and pluto takes it. */
    fx_unlink(&f, "fake/rc.add");
    fx_unlink(&f, "fake/err.add");
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    assert_int_equal(last_done("gnv0")->error, 0);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 2, "--add");
    ASSERT_CALLS(calls, 1, "--up", "gnv0-out-1");
    free(calls);
    fx_done(&f);
}

/* pluto is not running: nothing is added, the tunnel waits (-ENOTCONN);
 * when pluto answers, everything is loaded. */
static void
test_pluto_not_running(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_write(&f, "fake/rc.status", "33\n");
    fx_write(&f, "fake/err.status", "whack: Pluto is not running (no "
             "\"/run/pluto/pluto.ctl\")\n");
    fx_write(&f, "fake/out.status", "");
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--add");
    free(calls);
    const struct done *d = last_done("gnv0");
    assert_non_null(d);
    assert_int_equal(d->error, -ENOTCONN);

    struct ds summary = DS_EMPTY_INITIALIZER;
    f.ike->class->show_summary(f.ike, &summary);
    assert_non_null(strstr(ds_cstr(&summary), "Pluto is not running"));
    ds_destroy(&summary);

    fx_unlink(&f, "fake/rc.status");
    fx_unlink(&f, "fake/err.status");
    fx_status(&f, "");
    time_warp(5000);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 2, "--add");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    fx_done(&f);
}

/* pluto goes away after our files were written, and comes back having
 * read them (it loads ipsec.conf when it starts): the connections it holds
 * as we would add them are adopted, not added again, which would tear
 * down the SAs the peer may already have negotiated on them. */
static void
test_pluto_back_with_our_files(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    free(calls_take(&f));
    dones_clear();

    /* pluto stops: found at the next status. */
    fx_write(&f, "fake/rc.status", "33\n");
    fx_write(&f, "fake/err.status", "whack: Pluto is not running (no "
             "\"/run/pluto/pluto.ctl\")\n");
    fx_write(&f, "fake/out.status", "");
    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);
    assert_int_equal(last_done("gnv0")->error, -ENOTCONN);

    /* It starts again, holding what our file says, an SA already up. */
    fx_unlink(&f, "fake/rc.status");
    fx_unlink(&f, "fake/err.status");
    fx_status(&f, "gnv0-out-1+ESP gnv0-in-1+ESP");
    free(calls_take(&f));
    time_warp(5000);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--add");
    ASSERT_CALLS(calls, 0, "--up");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);
    assert_true(f.ike->class->tunnel_is_up(f.ike, "gnv0"));
    fx_done(&f);
}

/* A hung command is killed at the command timeout, and the tunnel fails
 * saying so. */
static void
test_command_timeout(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    f.opts.command_timeout_ms = 300;
    fx_create(&f);
    settle(&f);
    fx_write(&f, "fake/hang.add", "");
    apply(&f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    const struct done *d = last_done("gre0");
    assert_non_null(d);
    assert_int_not_equal(d->error, 0);
    assert_non_null(strstr(d->why, "timed out"));
    fx_done(&f);
}

/* A PSK never appears in show output, logs or the configuration file;
 * a PSK that is not printable is written in hex. */
static void
test_secrets(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "quote\"d psk", NULL);
    fx_status(&f, "gnv0-out-1+ESP gnv0-in-1");
    settle(&f);
    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);

    struct ds show = DS_EMPTY_INITIALIZER;
    f.ike->class->show_tunnel(f.ike, "gnv0", &show);
    f.ike->class->show_summary(f.ike, &show);
    assert_null(strstr(ds_cstr(&show), "quote"));
    assert_non_null(strstr(ds_cstr(&show), "gnv0-out-1"));
    ds_destroy(&show);

    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_null(strstr(conf, "quote"));
    free(conf);
    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_null(strstr(secrets, "quote"));
    assert_non_null(strstr(secrets, "PSK 0x"));
    free(secrets);
    char *calls = calls_take(&f);
    assert_null(strstr(calls, "quote"));
    free(calls);
    fx_done(&f);
}

/* A second PSK tunnel whose secrets line would overlap the first's with
 * another PSK is refused by check_tunnel(), naming options:psk; the
 * first keeps its key.  With its own local_ip it is accepted. */
static void
test_psk_conflict(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", "key-a", NULL);
    settle(&f);

    struct tunnel *t = make_tunnel("gre0", "gre", 1, NULL,
                                   "remote_ip", "192.0.2.2",
                                   "local_ip", "192.0.2.1",
                                   "psk", "key-b", NULL);
    char *msg = f.ike->class->check_tunnel(f.ike, t);
    assert_non_null(msg);
    assert_true(str_starts_with(msg, "gre0: options:psk: "));
    assert_non_null(strstr(msg, "gnv0"));
    assert_null(strstr(msg, "key-"));
    free(msg);
    ut_tunnel_free(t);

    /* Re-checking the first one itself is fine. */
    t = make_tunnel("gnv0", "geneve", 2, NULL, "remote_ip", "192.0.2.2",
                    "local_ip", "192.0.2.1", "psk", "key-a2", NULL);
    msg = f.ike->class->check_tunnel(f.ike, t);
    assert_null(msg);
    ut_tunnel_free(t);

    apply(&f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.11", "psk", "key-b", NULL);
    settle(&f);
    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_non_null(strstr(secrets,
                           "192.0.2.1 192.0.2.2 : PSK \"key-a\"\n"));
    assert_non_null(strstr(secrets,
                           "192.0.2.11 192.0.2.2 : PSK \"key-b\"\n"));
    free(secrets);
    fx_done(&f);
}

/* check_tunnel() refuses ipsec_* options Libreswan does not take. */
static void
test_check_tunnel(void **state)
{
    struct fx f;
    struct tunnel *t;
    char *error;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    t = xzalloc(sizeof *t);
    t->name = xstrdup("gnv0");
    t->type = xstrdup("geneve");
    smap_init(&t->options);
    smap_replace(&t->options, "remote_ip", "192.0.2.2");
    smap_replace(&t->options, "psk", PSK);
    smap_replace(&t->options, "ipsec_leftupdown", "/bin/evil");
    assert_null(tunnel_conf_create(t->name, t->type, &t->options, NULL,
                                   &t->conf));
    error = f.ike->class->check_tunnel(f.ike, t);
    assert_non_null(error);
    assert_non_null(strstr(error, "gnv0"));
    assert_non_null(strstr(error, "ipsec_leftupdown"));
    free(error);
    ut_tunnel_free(t);
    fx_done(&f);
}

/* ipsec/status runs `ipsec status`; show and is_up use the last one. */
static void
test_query_status(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    assert_false(f.ike->class->tunnel_is_up(f.ike, "gre0"));
    fx_status(&f, "gre0-1+ESP");
    assert_int_equal(f.ike->class->query_status(f.ike, status_cb, NULL), 0);
    settle(&f);
    assert_int_equal(status_calls, 1);
    assert_int_equal(status_error, 0);
    assert_non_null(strstr(status_text, "STATE_V2_ESTABLISHED_CHILD_SA"));

    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);
    assert_true(f.ike->class->tunnel_is_up(f.ike, "gre0"));
    struct ds show = DS_EMPTY_INITIALIZER;
    f.ike->class->show_tunnel(f.ike, "gre0", &show);
    assert_non_null(strstr(ds_cstr(&show), "gre0-1"));
    ds_destroy(&show);
    fx_done(&f);
}

/* cleanup() deletes everything of ours, empties the files and makes
 * pluto forget the secrets; then nothing is loaded again. */
static void
test_cleanup(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    fx_create(&f);
    apply(&f, "gnv0", "geneve", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    free(calls_take(&f));
    assert_int_equal(f.ike->class->cleanup(f.ike), 0);
    settle(&f);
    assert_true(f.ike->class->idle(f.ike));
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--delete", "gnv0-in-1");
    ASSERT_CALLS(calls, 1, "--delete", "gnv0-out-1");
    ASSERT_CALLS(calls, 1, "--rereadsecrets");
    free(calls);
    char *secrets = fx_read(&f, "etc/ipsec.secrets");
    assert_null(strstr(secrets, PSK));
    free(secrets);
    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_null(strstr(conf, "gnv0"));
    free(conf);

    struct tunnel *t;
    t = xzalloc(sizeof *t);
    t->name = xstrdup("gnv1");
    t->type = xstrdup("geneve");
    smap_init(&t->options);
    smap_replace(&t->options, "remote_ip", "192.0.2.3");
    smap_replace(&t->options, "psk", PSK);
    assert_null(tunnel_conf_create(t->name, t->type, &t->options, NULL,
                                   &t->conf));
    assert_int_equal(f.ike->class->tunnel_apply(f.ike, t), -ECANCELED);
    assert_int_equal(f.ike->class->reconcile(f.ike), -ECANCELED);
    ut_tunnel_free(t);
    fx_done(&f);
}

/* --root-ipsec-conf: only our file is written, without "config setup",
 * and the commands name the operator's root file. */
static void
test_root_ipsec_conf(void **state)
{
    struct fx f;

    (void) state;
    fx_init(&f, false);
    char *root_conf = fx_path(&f, "etc/root.conf");
    write_file(root_conf, "config setup\ninclude /etc/ovs.conf\n", 0644);
    f.opts.ipsec_conf = "/etc/ovs.conf";
    f.opts.root_ipsec_conf = root_conf;
    fx_create(&f);
    apply(&f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--add", "--config", "@/etc/root.conf",
                 "gre0-1");
    free(calls);
    char *ours = fx_read(&f, "etc/ovs.conf");
    assert_non_null(strstr(ours, "conn gre0-1\n"));
    assert_null(strstr(ours, "config setup"));
    free(ours);
    char *root = fx_read(&f, "etc/root.conf");
    assert_string_equal(root, "config setup\ninclude /etc/ovs.conf\n");
    free(root);
    free(root_conf);
    fx_done(&f);
}

/* The NSS database: our certificate and key, the pinned peer
 * certificate, replaced when the files change, stale entries removed,
 * nothing duplicated.  Runs the real certutil and pk12util. */

struct nss_list {
    char *names[16];
    size_t n;
};

static void
nss_list_cb(void *aux, const char *nickname, const char *trust)
{
    struct nss_list *l = aux;

    (void) trust;
    if (l->n < ARRAY_SIZE(l->names)) {
        l->names[l->n++] = xstrdup(nickname);
    }
}

/* Returns "nick1 nick2 ..." as `certutil -L` lists the database of 'f',
 * sorted; the caller frees it. */
static char *
nss_names(struct fx *f)
{
    char *cmd = xasprintf("/usr/bin/certutil -L -d sql:%s/var/lib/ipsec/nss",
                          f->root);
    FILE *p = popen(cmd, "r");
    struct ds text = DS_EMPTY_INITIALIZER;
    struct nss_list l = { .n = 0 };
    char buf[512];
    size_t n;

    assert_non_null(p);
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        ds_put_buffer(&text, buf, n);
    }
    assert_int_equal(pclose(p), 0);
    libreswan_nss_parse_list(ds_cstr(&text), nss_list_cb, &l);
    /* Sort. */
    for (size_t i = 0; i < l.n; i++) {
        for (size_t j = i + 1; j < l.n; j++) {
            if (strcmp(l.names[j], l.names[i]) < 0) {
                char *tmp = l.names[i];
                l.names[i] = l.names[j];
                l.names[j] = tmp;
            }
        }
    }
    ds_clear(&text);
    for (size_t i = 0; i < l.n; i++) {
        ds_put_format(&text, "%s%s", i ? " " : "", l.names[i]);
        free(l.names[i]);
    }
    free(cmd);
    return ds_steal_cstr(&text);
}

/* The PEM of the certificate NSS holds as 'nick', or "". */
static char *
nss_cert(struct fx *f, const char *nick)
{
    char *cmd = xasprintf("/usr/bin/certutil -L -a -d sql:%s/var/lib/ipsec/"
                          "nss -n %s 2>/dev/null", f->root, nick);
    FILE *p = popen(cmd, "r");
    struct ds text = DS_EMPTY_INITIALIZER;
    char buf[512];
    size_t n;

    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) {
        ds_put_buffer(&text, buf, n);
    }
    if (p) {
        pclose(p);
    }
    free(cmd);
    return ds_steal_cstr(&text);
}

/* True if NSS holds as 'nick' exactly the certificate of file 'name'. */
static bool
nss_holds(struct fx *f, const char *nick, const char *name)
{
    char *pem = nss_cert(f, nick);
    char *path = cert_path(name);
    X509 **a = NULL, *b = NULL;
    size_t n = 0;
    uint8_t da[32], db[32];
    bool same = false;

    if (!x509_certs_from_pem(pem, strlen(pem), "nss", &a, &n, NULL)
        && n == 1 && !x509_cert_load(path, &b, NULL, NULL)) {
        same = (!x509_cert_fingerprint(a[0], da)
                && !x509_cert_fingerprint(b, db) && !memcmp(da, db, 32));
    }
    x509_certs_free(a, n);
    X509_free(b);
    free(path);
    free(pem);
    return same;
}

static void
nss_init_db(struct fx *f)
{
    char *cmd = xasprintf("/usr/bin/certutil -N -d sql:%s/var/lib/ipsec/nss "
                          "--empty-password", f->root);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void
test_nss_sync(void **state)
{
    struct fx f;

    (void) state;
    if (!have_nss_tools) {
        skip();
    }
    fx_init(&f, false);
    nss_init_db(&f);
    /* A stale entry left by an earlier run. */
    char *remote2 = cert_path("remote2.pem");
    char *cmd = xasprintf("/usr/bin/certutil -A -a -d sql:%s/var/lib/ipsec/"
                          "nss -n ovs_cert_gone -t P,P,P -i %s", f.root,
                          remote2);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(remote2);

    fx_create(&f);
    assert_int_equal(f.ike->class->set_global(f.ike, g_self), 0);
    apply(&f, "gnv0", "geneve", 1, g_self, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_cert", "@remote.pem", NULL);
    settle(&f);
    const struct done *d = last_done("gnv0");
    assert_non_null(d);
    if (d->error) {
        fail_msg("gnv0 failed: %s", d->why);
    }
    char *names = nss_names(&f);
    assert_string_equal(names, "ovs_cert_remote ovs_certkey_local");
    free(names);
    assert_true(nss_holds(&f, "ovs_certkey_local", "local.pem"));
    assert_true(nss_holds(&f, "ovs_cert_remote", "remote.pem"));
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "pk12util", "-i");
    ASSERT_CALLS(calls, 1, "certutil", "-A", "ovs_cert_remote");
    ASSERT_CALLS(calls, 1, "certutil", "-D", "ovs_cert_gone");
    /* The connections are added once NSS holds the certificates. */
    assert_true(call_index(calls, "--add", NULL)
                > call_index(calls, "pk12util", NULL));
    /* The key never travels in argv. */
    assert_null(strstr(calls, "BEGIN"));
    free(calls);
    char *conf = fx_read(&f, "etc/ipsec.conf");
    assert_non_null(strstr(conf, "ovs_certkey_local"));
    assert_non_null(strstr(conf, "ovs_cert_remote"));
    /* The test keys are ECDSA. */
    assert_non_null(strstr(conf, "    authby=ecdsa\n"));
    free(conf);

    /* Our certificate rotated (same CN, new key): the entry is replaced,
     * not duplicated, and the connections are added again. */
    assert_int_equal(f.ike->class->set_global(f.ike, g_self2), 0);
    settle(&f);
    names = nss_names(&f);
    assert_string_equal(names, "ovs_cert_remote ovs_certkey_local");
    free(names);
    assert_true(nss_holds(&f, "ovs_certkey_local", "local2.pem"));
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--add", "gnv0-in-1");
    free(calls);
    assert_int_equal(last_done("gnv0")->error, 0);

    /* The peer's certificate changed (a new version): replaced. */
    apply(&f, "gnv0", "geneve", 2, g_self2, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_cert", "@remote2.pem", NULL);
    settle(&f);
    assert_true(nss_holds(&f, "ovs_cert_remote", "remote2.pem"));
    names = nss_names(&f);
    assert_string_equal(names, "ovs_cert_remote ovs_certkey_local");
    free(names);

    /* Someone edits the database behind our back: reconcile repairs. */
    cmd = xasprintf("/usr/bin/certutil -D -d sql:%s/var/lib/ipsec/nss "
                    "-n ovs_cert_remote", f.root);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);
    assert_true(nss_holds(&f, "ovs_cert_remote", "remote2.pem"));

    /* The tunnel goes: its peer certificate goes too. */
    assert_int_equal(f.ike->class->tunnel_remove(f.ike, "gnv0"), 0);
    settle(&f);
    names = nss_names(&f);
    assert_string_equal(names, "ovs_certkey_local");
    free(names);
    fx_done(&f);
}

/* CA mode: the CA goes in as ovs_cert_cacert. */
static void
test_nss_ca(void **state)
{
    struct fx f;

    (void) state;
    if (!have_nss_tools) {
        skip();
    }
    fx_init(&f, false);
    nss_init_db(&f);
    fx_create(&f);
    assert_int_equal(f.ike->class->set_global(f.ike, g_ca), 0);
    apply(&f, "vx0", "vxlan", 1, g_ca, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_name", "peer", NULL);
    settle(&f);
    const struct done *d = last_done("vx0");
    assert_non_null(d);
    if (d->error) {
        fail_msg("vx0 failed: %s", d->why);
    }
    char *names = nss_names(&f);
    assert_string_equal(names, "ovs_cert_cacert ovs_certkey_leaf");
    free(names);
    assert_true(nss_holds(&f, "ovs_cert_cacert", "ca.pem"));
    fx_done(&f);
}

/* A CA file with several certificates (an intermediate and its root):
 * each goes in, under a nickname of its own, and one that leaves the
 * file leaves NSS. */
static void
test_nss_ca_bundle(void **state)
{
    struct fx f;

    (void) state;
    if (!have_nss_tools) {
        skip();
    }
    fx_init(&f, false);
    nss_init_db(&f);
    fx_create(&f);
    assert_int_equal(f.ike->class->set_global(f.ike, g_bundle), 0);
    apply(&f, "vx0", "vxlan", 1, g_bundle, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_name", "peer", NULL);
    settle(&f);
    const struct done *d = last_done("vx0");
    assert_non_null(d);
    if (d->error) {
        fail_msg("vx0 failed: %s", d->why);
    }
    char *names = nss_names(&f);
    assert_string_equal(names,
                        "ovs_cert_cacert ovs_cert_cacert_2 ovs_certkey_ileaf");
    free(names);
    assert_true(nss_holds(&f, "ovs_cert_cacert", "inter.pem"));
    assert_true(nss_holds(&f, "ovs_cert_cacert_2", "ca.pem"));
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "certutil", "-A", "ovs_cert_cacert", "CT,,");
    ASSERT_CALLS(calls, 1, "certutil", "-A", "ovs_cert_cacert_2", "CT,,");
    free(calls);

    /* The bundle shrinks to the intermediate alone: the root goes, the
     * intermediate stays where it was, nothing is added again. */
    struct global_conf *g = make_global("certificate", "ileaf.pem",
                                        "private_key", "ileaf.key",
                                        "ca_cert", "inter.pem", NULL);
    assert_null(g->cert_error);
    assert_int_equal(f.ike->class->set_global(f.ike, g), 0);
    settle(&f);
    names = nss_names(&f);
    assert_string_equal(names, "ovs_cert_cacert ovs_certkey_ileaf");
    free(names);
    assert_true(nss_holds(&f, "ovs_cert_cacert", "inter.pem"));
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "certutil", "-D", "ovs_cert_cacert_2");
    ASSERT_CALLS(calls, 0, "certutil", "-A");
    ASSERT_CALLS(calls, 0, "--add");
    free(calls);
    global_conf_destroy(g);

    /* And grows back. */
    assert_int_equal(f.ike->class->set_global(f.ike, g_bundle), 0);
    settle(&f);
    names = nss_names(&f);
    assert_string_equal(names,
                        "ovs_cert_cacert ovs_cert_cacert_2 ovs_certkey_ileaf");
    free(names);
    assert_true(nss_holds(&f, "ovs_cert_cacert_2", "ca.pem"));
    fx_done(&f);
}

/* What a change of the global credentials costs, in `ipsec` calls: a
 * new CA touches NSS only (pluto reads the CA when it verifies a peer);
 * a new certificate of ours adds again the connections of the
 * certificate tunnels (pluto reads leftcert when it adds one) and
 * nothing else; PSK tunnels are never touched. */
static void
test_cert_rotation_calls(void **state)
{
    struct fx f;

    (void) state;
    if (!have_nss_tools) {
        skip();
    }
    fx_init(&f, false);
    nss_init_db(&f);
    fx_create(&f);
    assert_int_equal(f.ike->class->set_global(f.ike, g_ca), 0);
    apply(&f, "vx0", "vxlan", 1, g_ca, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_name", "peer", NULL);
    apply(&f, "gre0", "gre", 1, NULL, "remote_ip", "192.0.2.3",
          "local_ip", "192.0.2.1", "psk", PSK, NULL);
    settle(&f);
    fx_status(&f, "vx0-out-1+ESP vx0-in-1 gre0-1+ESP");
    assert_int_equal(f.ike->class->reconcile(f.ike), 0);
    settle(&f);
    assert_int_equal(last_done("vx0")->error, 0);
    assert_int_equal(last_done("gre0")->error, 0);
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 3, "--add");
    free(calls);

    /* The CA file changes (now the intermediate and the root): NSS
     * only. */
    struct global_conf *g = make_global("certificate", "leaf.pem",
                                        "private_key", "leaf.key",
                                        "ca_cert", "bundle.pem", NULL);
    assert_null(g->cert_error);
    assert_int_equal(f.ike->class->set_global(f.ike, g), 0);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "certutil", "-A", "ovs_cert_cacert");
    ASSERT_CALLS(calls, 0, "--add");
    ASSERT_CALLS(calls, 0, "--delete");
    ASSERT_CALLS(calls, 0, "--rereadsecrets");
    assert_true(nss_holds(&f, "ovs_cert_cacert", "inter.pem"));
    free(calls);

    /* Our certificate changes (another key, the same CN): the CA-mode
     * tunnel's two connections are added again, once each, after NSS
     * holds the new certificate; the PSK tunnel is left alone. */
    struct global_conf *g2 = make_global("certificate", "leaf2.pem",
                                         "private_key", "leaf2.key",
                                         "ca_cert", "bundle.pem", NULL);
    assert_null(g2->cert_error);
    assert_int_equal(f.ike->class->set_global(f.ike, g2), 0);
    settle(&f);
    calls = calls_take(&f);
    ASSERT_CALLS(calls, 1, "--add", "vx0-in-1");
    ASSERT_CALLS(calls, 1, "--add", "vx0-out-1");
    ASSERT_CALLS(calls, 2, "--add");
    ASSERT_CALLS(calls, 0, "gre0-1");
    ASSERT_CALLS(calls, 0, "--rereadsecrets");
    assert_true(call_index(calls, "--add", NULL)
                > call_index(calls, "pk12util", NULL));
    free(calls);
    assert_true(nss_holds(&f, "ovs_certkey_leaf", "leaf2.pem"));
    assert_int_equal(last_done("vx0")->error, 0);
    global_conf_destroy(g);
    global_conf_destroy(g2);
    fx_done(&f);
}

/* Without an NSS database, certificate tunnels fail saying why. */
static void
test_nss_missing(void **state)
{
    struct fx f;

    (void) state;
    if (!have_nss_tools) {
        skip();
    }
    fx_init(&f, false);
    f.opts.ipsec_d = "/nowhere";
    fx_create(&f);
    assert_int_equal(f.ike->class->set_global(f.ike, g_self), 0);
    apply(&f, "gnv0", "geneve", 1, g_self, "remote_ip", "192.0.2.2",
          "local_ip", "192.0.2.1", "remote_cert", "@remote.pem", NULL);
    settle(&f);
    const struct done *d = last_done("gnv0");
    assert_non_null(d);
    assert_int_not_equal(d->error, 0);
    assert_non_null(strstr(d->why, "NSS"));
    char *calls = calls_take(&f);
    ASSERT_CALLS(calls, 0, "--add");
    free(calls);
    fx_done(&f);
}

static void
test_nss_parse_list(void **state)
{
    static const char text[] =
        "\n"
        "Certificate Nickname                                         Trust "
        "Attributes\n"
        "                                                             "
        "SSL,S/MIME,JAR/XPI\n"
        "\n"
        "ovs_certkey_local                                            "
        "u,u,u\n"
        "name with spaces                                             "
        "CT,,\n"
        "ovs_cert_remote                                              "
        "P,P,P\n";
    struct nss_list l = { .n = 0 };

    (void) state;
    libreswan_nss_parse_list(text, nss_list_cb, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.names[0], "ovs_certkey_local");
    assert_string_equal(l.names[1], "name with spaces");
    assert_string_equal(l.names[2], "ovs_cert_remote");
    for (size_t i = 0; i < l.n; i++) {
        free(l.names[i]);
    }
}

static bool
test_selected(const char *name)
{
    const char *filter = getenv("TEST_FILTER");
    return !filter || !*filter || strstr(name, filter);
}

int
main(void)
{
#define T(NAME) cmocka_unit_test(NAME)
    const struct CMUnitTest all[] = {
        T(test_psk_initiator),
        T(test_responder_grace),
        T(test_gre_ipv6),
        T(test_v5_syntax),
        T(test_restart),
        T(test_new_version),
        T(test_remove),
        T(test_reconcile),
        T(test_adopt),
        T(test_pluto_back_with_our_files),
        T(test_add_refused),
        T(test_pluto_not_running),
        T(test_command_timeout),
        T(test_secrets),
        T(test_check_tunnel),
        T(test_psk_conflict),
        T(test_query_status),
        T(test_cleanup),
        T(test_root_ipsec_conf),
        T(test_nss_sync),
        T(test_nss_ca),
        T(test_nss_ca_bundle),
        T(test_cert_rotation_calls),
        T(test_nss_missing),
        T(test_nss_parse_list),
    };
    struct CMUnitTest tests[ARRAY_SIZE(all)];
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        if (test_selected(all[i].name)) {
            tests[n++] = all[i];
        }
    }
    free(log_set_levels_from_string("console:off"));
    return _cmocka_run_group_tests("ike-libreswan", tests, n, group_setup,
                                   group_teardown);
}
