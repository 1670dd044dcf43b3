/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the cmocka unit tests (prefix "ut_", for "unit
 * test"): scratch directories, keys and certificates written to files
 * with lib/x509, children started and reaped with real-time deadlines,
 * and a real ovsdb-server with ovs-vsctl for the tests that talk to one.
 *
 * Every helper fails the running test (cmocka fail_msg() or assert_*())
 * when something it needs goes wrong, unless it says otherwise, so tests
 * need not check results.  Returned strings and objects belong to the
 * caller.
 */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct global_conf;

/* Scratch directories. */

/* Creates a new directory "/tmp/'prefix'.XXXXXX" and returns its name, or
 * NULL if mkdtemp() fails (for group setups, which return -1 then). */
char *ut_tmpdir_create(const char *prefix);

/* Removes 'dir' and everything below it ("rm -rf"); a NULL 'dir' is a
 * no-op.  Says so on stderr if something is left behind. */
void ut_tmpdir_remove(const char *dir);

/* Returns "'dir'/'name'". */
char *ut_path(const char *dir, const char *name);

/* Returns a copy of 's' with each "@" replaced by 'dir' and a slash, so
 * that expected messages can name files in the test directory. */
char *ut_expand(const char *dir, const char *s);

/* Writes 'size' bytes of 'data' to file 'dir'/'name', replacing it. */
void ut_write_file(const char *dir, const char *name, const void *data,
                   size_t size);

/* Keys and certificates. */

/* Generates an EC key, writes it to 'dir'/'name' (PEM) and returns it. */
EVP_PKEY *ut_key_write(const char *dir, const char *name);

/* Creates a certificate valid for 30 days, organization "ovs", for 'cn'
 * ('dns' as in struct x509_cert_spec) and 'key', a CA if 'ca' is true,
 * signed by 'issuer' with 'issuer_key' or, when 'issuer' is NULL,
 * self-signed.  Writes it to 'dir'/'name' (PEM) and returns it. */
X509 *ut_cert_write(const char *dir, const char *name, const char *cn,
                    const char *const *dns, bool ca, EVP_PKEY *key,
                    const X509 *issuer, EVP_PKEY *issuer_key);

/* Loads the PEM key 'dir'/'name' and returns it. */
EVP_PKEY *ut_key_read(const char *dir, const char *name);

/* Writes to 'dir' the credentials that the certificate tests share:
 *   local.key  local.pem   self-signed, CN "local"
 *   remote.key remote.pem  self-signed, CN "remote"
 *   ca.key     ca.pem      self-signed CA, CN "ovs-ca"
 *   leaf.key   leaf.pem    CN "leaf", issued by ca.pem */
void ut_write_cert_set(const char *dir);

/* Builds a global_conf from Open_vSwitch other_config pairs, each value
 * passed through ut_expand('dir', ...), up to a NULL key. */
struct global_conf *ut_global_conf(const char *dir, const char *key, ...);

/* Builds tunnel 'name' of 'type' at 'version' (PENDING) from option pairs
 * in 'args' up to a NULL key, each value passed through ut_expand('dir',
 * ...), with its configuration from tunnel_conf_create() and 'g', which
 * must accept it.  Free it with ut_tunnel_free(). */
struct tunnel *ut_tunnel_create_valist(const char *dir, const char *name,
                                       const char *type, uint64_t version,
                                       const struct global_conf *g,
                                       va_list args);
void ut_tunnel_free(struct tunnel *);       /* NULL ok. */
/* Hands tunnel 't' to backend 'ike' as the monitor does: check_tunnel()
 * must accept it and tunnel_apply() return 0.  Then frees 't' (the
 * backend must keep no pointer to it). */
struct ike_backend;
void ut_tunnel_apply(struct ike_backend *ike, struct tunnel *t);

/* Real time and children. */

/* Sleeps 'ms' milliseconds of real time. */
void ut_nap_ms(long ms);

/* Real monotonic milliseconds: time_msec() is warped by some tests. */
long long int ut_real_msec(void);

/* Starts 'argv' (argv[0] a full path) with stdin from /dev/null and
 * stdout and stderr appended to file 'log'.  Returns its pid. */
pid_t ut_spawn(char *const argv[], const char *log);

/* Waits up to 10 s for 'pid' and returns its exit status (-1 if a signal
 * ended it); kills it and fails the test if it takes longer. */
int ut_reap(pid_t pid);

/* Stops child '*pid' with SIGTERM and reaps it, when '*pid' is not 0;
 * sets '*pid' to 0. */
void ut_child_stop(pid_t *pid);

/* Kills child '*pid' with SIGKILL and reaps it, when '*pid' is not 0:
 * for teardowns, which must not fail.  Sets '*pid' to 0. */
void ut_child_kill(pid_t *pid);

/* Open vSwitch: a real ovsdb-server on a database in a test directory
 * 'dir', reached at 'remote' ("unix:'dir'/db.sock").  Tools write their
 * output to 'dir'/tools.log, the server to 'dir'/ovsdb-server.log. */

/* Whether ovsdb-server, ovsdb-tool, ovs-vsctl and the vswitch schema are
 * installed; tests that need them skip themselves otherwise. */
bool ut_have_ovs(void);

/* Runs tool 'argv' to completion and fails the test unless it exits 0. */
void ut_run_tool(const char *dir, char *const argv[]);

/* Creates an empty Open_vSwitch database 'dir'/conf.db. */
void ut_ovsdb_create(const char *dir);

/* Starts ovsdb-server on 'dir'/conf.db, listening on 'remote', and waits
 * (up to 10 s) for its socket.  Returns its pid. */
pid_t ut_ovsdb_server_start(const char *dir, const char *remote);

/* Runs "ovs-vsctl --no-wait" on 'remote' with the 'n' words in 'args'. */
void ut_vsctl_argv(const char *dir, const char *remote, char *const *args,
                   size_t n);

/* Same, with the 'char *' words in 'args' up to a NULL. */
void ut_vsctl_valist(const char *dir, const char *remote, va_list args);

#endif /* unit-util.h */
