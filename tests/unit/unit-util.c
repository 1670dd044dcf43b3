/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the unit tests: see unit-util.h.  They assert with
 * cmocka, so they only run inside a cmocka test, setup or teardown.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include "unit-util.h"

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "ds.h"
#include "global-conf.h"
#include "ike.h"
#include "smap.h"
#include "tunnel.h"
#include "util.h"
#include "x509.h"

#define OVSDB_SERVER "/usr/sbin/ovsdb-server"
#define OVSDB_TOOL "/usr/bin/ovsdb-tool"
#define OVS_VSCTL "/usr/bin/ovs-vsctl"
#define VSWITCH_SCHEMA "/usr/share/openvswitch/vswitch.ovsschema"

/* Scratch directories. */

char *
ut_tmpdir_create(const char *prefix)
{
    char *template = xasprintf("/tmp/%s.XXXXXX", prefix);

    if (!mkdtemp(template)) {
        free(template);
        return NULL;
    }
    return template;
}

static int
remove_entry__(const char *path, const struct stat *st, int flag,
               struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;                   /* Go on: remove what can be removed. */
}

void
ut_tmpdir_remove(const char *dir)
{
    if (dir) {
        nftw(dir, remove_entry__, 16, FTW_DEPTH | FTW_PHYS);
        if (!access(dir, F_OK)) {
            fprintf(stderr, "note: left %s behind\n", dir);
        }
    }
}

char *
ut_path(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

char *
ut_expand(const char *dir, const char *s)
{
    struct ds out = DS_EMPTY_INITIALIZER;

    for (; *s; s++) {
        if (*s == '@') {
            ds_put_format(&out, "%s/", dir);
        } else {
            ds_put_char(&out, *s);
        }
    }
    return ds_steal_cstr(&out);
}

void
ut_write_file(const char *dir, const char *name, const void *data,
              size_t size)
{
    char *path = ut_path(dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(path);
}

/* Keys and certificates. */

EVP_PKEY *
ut_key_write(const char *dir, const char *name)
{
    char *path = ut_path(dir, name);
    EVP_PKEY *key = NULL;

    assert_int_equal(x509_key_generate(X509_KEY_EC, 0, &key, NULL), 0);
    assert_int_equal(x509_key_write(key, path, NULL), 0);
    free(path);
    return key;
}

X509 *
ut_cert_write(const char *dir, const char *name, const char *cn,
              const char *const *dns, bool ca, EVP_PKEY *key,
              const X509 *issuer, EVP_PKEY *issuer_key)
{
    struct x509_cert_spec spec = {
        .cn = cn, .org = "ovs", .dns = dns, .days = 30, .ca = ca,
    };
    char *path = ut_path(dir, name);
    X509 *cert = NULL;

    assert_int_equal(x509_cert_create(&spec, key, issuer, issuer_key, &cert,
                                      NULL), 0);
    assert_int_equal(x509_cert_write(cert, path, NULL), 0);
    free(path);
    return cert;
}

EVP_PKEY *
ut_key_read(const char *dir, const char *name)
{
    char *path = ut_path(dir, name);
    EVP_PKEY *key = NULL;

    assert_int_equal(x509_key_load(path, &key, NULL, NULL), 0);
    free(path);
    return key;
}

/* Writes 'name'.key and a certificate 'name'.pem for it with CN 'cn', as
 * ut_cert_write() does.  Returns the certificate and stores the key in
 * '*keyp'. */
static X509 *
cred_write__(const char *dir, const char *name, const char *cn, bool ca,
             const X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY **keyp)
{
    char *key_name = xasprintf("%s.key", name);
    char *cert_name = xasprintf("%s.pem", name);
    X509 *cert;

    *keyp = ut_key_write(dir, key_name);
    cert = ut_cert_write(dir, cert_name, cn, NULL, ca, *keyp, issuer,
                         issuer_key);
    free(cert_name);
    free(key_name);
    return cert;
}

void
ut_write_cert_set(const char *dir)
{
    EVP_PKEY *local, *remote, *ca_key, *leaf;
    X509 *ca;

    X509_free(cred_write__(dir, "local", "local", false, NULL, NULL, &local));
    X509_free(cred_write__(dir, "remote", "remote", false, NULL, NULL,
                           &remote));
    ca = cred_write__(dir, "ca", "ovs-ca", true, NULL, NULL, &ca_key);
    X509_free(cred_write__(dir, "leaf", "leaf", false, ca, ca_key, &leaf));
    X509_free(ca);
    EVP_PKEY_free(local);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf);
}

struct global_conf *
ut_global_conf(const char *dir, const char *key, ...)
{
    struct global_conf *gc;
    struct smap oc;
    va_list args;

    smap_init(&oc);
    va_start(args, key);
    for (; key; key = va_arg(args, const char *)) {
        char *value = ut_expand(dir, va_arg(args, const char *));
        smap_replace(&oc, key, value);
        free(value);
    }
    va_end(args);
    gc = global_conf_create(&oc);
    smap_destroy(&oc);
    return gc;
}

/* Real time and children. */

void
ut_nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

long long int
ut_real_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t
ut_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null < 0 || out < 0) {
            _exit(127);
        }
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

int
ut_reap(pid_t pid)
{
    for (int i = 0; i < 1000; i++) {
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        ut_nap_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("child %ld did not exit", (long) pid);
    return -1;
}

void
ut_child_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        ut_reap(*pid);
    }
    *pid = 0;
}

void
ut_child_kill(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = 0;
}

/* Open vSwitch. */

bool
ut_have_ovs(void)
{
    return (!access(OVSDB_SERVER, X_OK) && !access(OVSDB_TOOL, X_OK)
            && !access(OVS_VSCTL, X_OK) && !access(VSWITCH_SCHEMA, R_OK));
}

void
ut_run_tool(const char *dir, char *const argv[])
{
    char *log = ut_path(dir, "tools.log");
    int status = ut_reap(ut_spawn(argv, log));

    free(log);
    if (status) {
        fail_msg("%s %s exited with %d (see %s/tools.log)",
                 argv[0], argv[1], status, dir);
    }
}

void
ut_ovsdb_create(const char *dir)
{
    char *db = ut_path(dir, "conf.db");
    char *argv[] = { OVSDB_TOOL, "create", db, VSWITCH_SCHEMA, NULL };

    ut_run_tool(dir, argv);
    free(db);
}

pid_t
ut_ovsdb_server_start(const char *dir, const char *remote)
{
    char *db = ut_path(dir, "conf.db");
    char *remote_arg = xasprintf("--remote=p%s", remote);
    char *ctl = xasprintf("--unixctl=%s/ovsdb-server.ctl", dir);
    char *log = ut_path(dir, "ovsdb-server.log");
    char *sock = ut_path(dir, "db.sock");
    char *argv[] = { OVSDB_SERVER, remote_arg, ctl, "--no-chdir", db, NULL };
    struct stat st;
    pid_t pid;

    unlink(sock);
    pid = ut_spawn(argv, log);
    for (int i = 0; stat(sock, &st) && i < 1000; i++) {
        ut_nap_ms(10);
    }
    assert_int_equal(stat(sock, &st), 0);
    free(sock);
    free(log);
    free(ctl);
    free(remote_arg);
    free(db);
    return pid;
}

void
ut_vsctl_argv(const char *dir, const char *remote, char *const *args,
              size_t n)
{
    char **argv = xcalloc(n + 5, sizeof *argv);
    char *db = xasprintf("--db=%s", remote);
    size_t i = 0;

    argv[i++] = OVS_VSCTL;
    argv[i++] = db;
    argv[i++] = "--no-wait";
    argv[i++] = "--timeout=10";
    for (size_t j = 0; j < n; j++) {
        argv[i++] = args[j];
    }
    argv[i] = NULL;
    ut_run_tool(dir, argv);
    free(db);
    free(argv);
}

void
ut_vsctl_valist(const char *dir, const char *remote, va_list args)
{
    char *words[64];
    size_t n = 0;

    for (char *arg; (arg = va_arg(args, char *)); ) {
        assert_true(n < ARRAY_SIZE(words));
        words[n++] = arg;
    }
    ut_vsctl_argv(dir, remote, words, n);
}

struct tunnel *
ut_tunnel_create_valist(const char *dir, const char *name, const char *type,
                        uint64_t version, const struct global_conf *g,
                        va_list args)
{
    struct tunnel *t = xzalloc(sizeof *t);
    const char *key;
    char *error;

    t->name = xstrdup(name);
    t->type = xstrdup(type);
    t->version = version;
    t->state = TUNNEL_S_PENDING;
    t->ofport = -1;
    t->cfm_fault = -1;
    smap_init(&t->options);
    while ((key = va_arg(args, const char *))) {
        char *value = ut_expand(dir, va_arg(args, const char *));
        smap_replace(&t->options, key, value);
        free(value);
    }
    error = tunnel_conf_create(name, type, &t->options, g, &t->conf);
    if (error) {
        fail_msg("%s", error);
    }
    return t;
}

void
ut_tunnel_free(struct tunnel *t)
{
    if (t) {
        tunnel_conf_destroy(t->conf);
        smap_destroy(&t->options);
        free(t->name);
        free(t->type);
        free(t);
    }
}

void
ut_tunnel_apply(struct ike_backend *ike, struct tunnel *t)
{
    char *error = ike->class->check_tunnel(ike, t);

    if (error) {
        fail_msg("%s", error);
    }
    assert_int_equal(ike->class->tunnel_apply(ike, t), 0);
    ut_tunnel_free(t);
}
