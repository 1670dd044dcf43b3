/* SPDX-License-Identifier: Apache-2.0
 *
 * libreswan-nss: keeps the certificates of our tunnels in Libreswan's NSS
 * database, as upstream ovs-monitor-ipsec names them: our certificate and
 * private key as "ovs_certkey_LOCALCN", each pinned peer certificate as
 * "ovs_cert_REMOTECN" (trust P,P,P), the CA as "ovs_cert_cacert" (trust
 * CT,,).  The owner says which entries it wants; a sync makes the
 * database hold exactly those among the names of ours ("ovs_cert_..." and
 * "ovs_certkey_..."), each holding exactly the wanted certificate:
 *
 *   1. `certutil -L -d DB` lists the nicknames;
 *   2. entries of ours that nobody wants are deleted (`certutil -F` when
 *      they have a private key, `certutil -D` otherwise), once per listed
 *      copy;
 *   3. each wanted entry not verified since it last changed is read back
 *      (`certutil -L -a -n NICK`): unless it holds exactly the wanted
 *      certificate (and a key when one is wanted), it is deleted until
 *      none is left, then imported: `certutil -A -a` with the certificate
 *      on stdin, or `pk12util -i` with a PKCS#12 file made with OpenSSL
 *      in a private temporary directory, protected by a one-time password
 *      passed in a file (never in argv), and deleted right after.
 *
 * So a file changed at the same path replaces the entry, stale entries go,
 * and nothing is duplicated, whatever happened while we were not running.
 *
 * Every step is a child process from lib/process with the command timeout,
 * run one at a time (certutil and pk12util open the database read-write).
 * Nothing blocks.  Logs at DBG only: the owner decides what to report,
 * from libreswan_nss_error() and libreswan_nss_entry_error().
 *
 * certutil and pk12util are searched in $PATH.
 */
#ifndef OVSEC_LIBRESWAN_NSS_H
#define OVSEC_LIBRESWAN_NSS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;
struct secret;

/* One entry the database should hold. */
struct libreswan_nss_entry {
    const char *nickname;           /* "ovs_cert_..." or "ovs_certkey_...". */
    const char *cert_pem;           /* One certificate in PEM form. */
    const struct secret *key_pem;   /* Its private key in PEM form, or NULL
                                     * for a certificate alone. */
    const char *trust;              /* certutil -t, e.g. "P,P,P"; ignored
                                     * with a key (pk12util sets u,u,u). */
};

struct libreswan_nss;

/* Creates a syncer of database 'db' ("sql:DIR"), whose children each get
 * 'timeout_ms'.  Starts nothing.  Returns a new object; the caller frees
 * it with libreswan_nss_destroy(). */
struct libreswan_nss *libreswan_nss_create(const char *db,
                                           long long int timeout_ms);

/* Frees 'nss', killing a child still running and removing its temporary
 * files.  NULL ok.  Never blocks. */
void libreswan_nss_destroy(struct libreswan_nss *nss);

/* Replaces the set of wanted entries with copies of the 'n' in 'entries'
 * (nicknames must differ).  If the set differs from the current one,
 * requests a sync and returns its generation, otherwise returns the
 * generation that already covers it.  A sync is complete for generation G
 * once libreswan_nss_done_gen() >= G. */
uint64_t libreswan_nss_set(struct libreswan_nss *nss,
                           const struct libreswan_nss_entry *entries,
                           size_t n);

/* Requests a sync that reads every wanted entry back from the database,
 * even if nothing changed (someone may have edited it).  Returns the
 * generation to wait for. */
uint64_t libreswan_nss_check(struct libreswan_nss *nss);

/* Does the work: runs the children, starts the next step. */
void libreswan_nss_run(struct libreswan_nss *nss);
/* Registers what libreswan_nss_run() waits for. */
void libreswan_nss_wait(const struct libreswan_nss *nss);

/* The generation of the last finished sync (0 before the first). */
uint64_t libreswan_nss_done_gen(const struct libreswan_nss *nss);

/* The error of the last finished sync as a whole (the database could not
 * be listed), or NULL.  Owned by 'nss'; valid until the next run(). */
const char *libreswan_nss_error(const struct libreswan_nss *nss);

/* Why entry 'nickname' could not be put in place by the last finished
 * sync (including libreswan_nss_error()), or NULL if it is in place.
 * Owned by 'nss'; valid until the next run(). */
const char *libreswan_nss_entry_error(const struct libreswan_nss *nss,
                                      const char *nickname);

/* True if 'nickname' was imported since 'nss' was created: the database
 * did not hold the wanted certificate when a sync looked.  pluto reads a
 * connection's certificates when it is added, so a connection an earlier
 * instance added may hold another one.  NULL 'nss' or 'nickname': false. */
bool libreswan_nss_imported(const struct libreswan_nss *nss,
                            const char *nickname);
/* True if no sync is running or requested. */
bool libreswan_nss_idle(const struct libreswan_nss *nss);

/* Appends a one-line summary for show output. */
void libreswan_nss_format(const struct libreswan_nss *nss, struct ds *out);

/* Parses the output of `certutil -L` into the nicknames it lists and
 * their trust attributes (the last word of each entry line).  Calls 'cb'
 * with each, in order (a nickname listed twice comes twice).  Pure;
 * exposed for tests. */
void libreswan_nss_parse_list(const char *text,
                              void (*cb)(void *aux, const char *nickname,
                                         const char *trust),
                              void *aux);

#endif /* libreswan-nss.h */
