/* SPDX-License-Identifier: Apache-2.0
 *
 * ike-libreswan: the Libreswan backend.  Drives pluto as upstream's
 * ovs-monitor-ipsec does in Libreswan mode, through the `ipsec` command:
 * connections "IFACE-VER" (gre) or "IFACE-in-VER" and "IFACE-out-VER"
 * (geneve, vxlan) in the ipsec.conf file we own, PSKs in the ipsec.secrets
 * file, certificates in pluto's NSS database (libreswan-nss).  The text of
 * both files comes from libreswan-conf, which also checks the ipsec_*
 * options, and the state of pluto from `ipsec status`, parsed by
 * libreswan-status.
 *
 * Paths are upstream's: the `ipsec` program is ROOT/usr/sbin/ipsec, the
 * files and the control socket are ROOT/--ipsec-conf, ROOT/--ipsec-secrets,
 * ROOT/--ipsec-ctl and the NSS database sql:ROOT/--ipsec-d, where ROOT is
 * --root-prefix.  With --root-ipsec-conf, pluto's root ipsec.conf belongs
 * to the operator and includes ours: we write only ours (no "config setup"
 * nor "conn %default"), and every command names the root one.
 *
 * Owns: a copy of each applied tunnel (its rendered connections and
 * secrets line, not the tunnel_conf), the files' contents, the children
 * it runs, the NSS syncer, and the last `ipsec status`.
 *
 * Nothing blocks.  Every `ipsec` command is a child process (lib/process)
 * with the command timeout, run from run(); its output is read to the end.
 * At most MAX_CHILDREN run at once; pluto serves its control socket one
 * request at a time, but the `ipsec` scripts around it (addconn parses the
 * whole configuration) run in parallel.  What depends on what:
 *   - nothing runs before `ipsec --version` told the dialect (4.x `ipsec
 *     auto --add` or 5.x `ipsec add`) and, unless --no-restart-ike-daemon,
 *     `ipsec restart` finished and `ipsec status` answers;
 *   - the files are written (atomically, the secrets 0600) before any
 *     command that reads them starts;
 *   - a certificate tunnel's connections are added only once the NSS sync
 *     that covers its certificates finished (pluto looks the nicknames up
 *     when a connection is added);
 *   - a PSK tunnel counts as loaded, and is initiated, only once an
 *     `ipsec auto --rereadsecrets` started after its secret was written
 *     succeeded;
 *   - a connection is initiated only after pluto added it.
 *
 * Crossing streams.  Libreswan 4.10 mismatches SAs, and sometimes asserts,
 * when both ends negotiate with each other at the same moment (see
 * LAB-NOTES).  Upstream started each end's "-out" connection, which is
 * the other end's "-in": both ends still negotiate at once.  Here one end
 * negotiates for the tunnel: the one with the lower address (the
 * "initiator") brings up all the tunnel's connections, "-out" first, so
 * that the second rides on the first's IKE SA as a CREATE_CHILD_SA.  The
 * other end only adds them (auto=add: no trap policy, so no
 * acquire-triggered negotiation either; the monitor's fallback drop policy
 * keeps the tunnel's packets from leaving in plaintext meanwhile), and
 * brings them up itself only if nothing arrived RESPONDER_GRACE_MS after
 * it added them (a peer running upstream's monitor, say).  Without
 * options:local_ip, an end compares the source address the kernel would
 * use to reach the peer.
 *
 * Reconcile, like upstream at its best, per connection: `ipsec status`
 * (from reconcile(), and every STATUS_POLL_MS while a connection is down)
 * tells which connections pluto holds and which have an ESP SA.  A
 * connection of ours that pluto lost is added again; one that is down with
 * no negotiation in progress is brought up again (the initiator's at
 * once, with a backoff doubling from RETRY_MIN_MS to INITIATE_BACKOFF_MS;
 * the responder's after its grace); one that has a negotiation in progress
 * is left alone: nothing is torn down while it is still coming up.
 * Connections of ours that nobody wants (an older version of a tunnel, a
 * deleted tunnel, or a connection in the file an earlier instance wrote)
 * are deleted.  Only those: with --root-ipsec-conf the operator's own
 * connections share pluto, and "site-1" looks like a gre tunnel's name.
 *
 * After a restart of ours without a restart of pluto
 * (--no-restart-ike-daemon), a connection pluto still holds whose section
 * in the file the earlier instance wrote is identical to ours now (and,
 * for PSK, whose secrets line is unchanged) is adopted as it is: adding it
 * again would tear its SAs down.
 *
 * pluto reads our certificate from NSS when a connection is added, so a
 * change of our certificate or key adds the certificate tunnels'
 * connections again once NSS holds the new ones, which restarts their SAs
 * (a changed peer certificate is a new version of its tunnel anyway); a
 * change of the CA file only changes NSS, where pluto looks the CA up
 * when it verifies a peer.  A certificate changed while we were not
 * running is imported into NSS at start, and the certificate tunnels
 * that use it are then added again rather than adopted.
 *
 * The ipsec_skb_mark drop connections (upstream's "prevent_unencrypted_*")
 * are not loaded: the monitor installs XFRM drop policies for the mark
 * itself, whatever the IKE daemon (monitor.c, xfrm.h), below every policy
 * pluto installs, matching the tunnel's destination port (upstream's
 * matched the source port and leaked), in place before pluto starts and
 * after it stops, which pluto's shunts are not.
 *
 * Hooks are called from run() only.
 */
#include "config.h"
/* Only OpenSSL 3 interfaces: older deprecated ones are not declared. */
#define OPENSSL_API_COMPAT 30000

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ds.h"
#include "fingerprint.h"
#include "global-conf.h"
#include "ike-creds.h"
#include "hmap.h"
#include "ike.h"
#include "libreswan-conf.h"
#include "libreswan-nss.h"
#include "libreswan-status.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "process.h"
#include "secret.h"
#include "stream.h"
#include "timeval.h"
#include "tunnel.h"
#include "util.h"
#include "x509.h"

LOG_MODULE(libreswan);

#define DEFAULT_IPSEC "/usr/sbin/ipsec"
#define DEFAULT_IPSEC_CONF "/etc/ipsec.conf"
#define DEFAULT_IPSEC_SECRETS "/etc/ipsec.secrets"
#define DEFAULT_IPSEC_CTL "/run/pluto/pluto.ctl"
#define DEFAULT_NSSDIR "/var/lib/ipsec/nss"     /* Libreswan 4.x and on. */
#define DEFAULT_NSSDIR_V3 "/etc/ipsec.d"        /* Libreswan 3.x. */

/* Children running at once... */
#define MAX_CHILDREN 8
/* ...besides the retries that wait for their outcome (whack stays until
 * pluto gives up on the peer, which may take minutes): they have slots
 * of their own, so that they never hold up adds, deletes and statuses. */
#define MAX_WAITING_UPS 2
/* Initiating again a connection that is down with nothing in progress:
 * first after RETRY_MIN_MS, doubling up to INITIATE_BACKOFF_MS. */
#define RETRY_MIN_MS 1000
#define INITIATE_BACKOFF_MS 30000
/* How long the end that is not the initiator waits for the peer before it
 * brings a connection up itself. */
#define RESPONDER_GRACE_MS 20000
/* How often `ipsec status` runs while a connection is down or pluto does
 * not answer (reconcile() runs it too). */
#define STATUS_POLL_MS 3000
/* Cap on what `ipsec status` may print: thousands of tunnels take a few
 * hundred bytes each. */
#define STATUS_OUTPUT_MAX (32 * 1024 * 1024)
/* Cap on other commands' output. */
#define CMD_OUTPUT_MAX (256 * 1024)
/* Longest excerpt of a command's output kept in a message. */
#define WHY_MAX 300
/* Largest file of an earlier instance that is read back for adoption. */
#define OLD_FILE_MAX (64 * 1024 * 1024)

/* One IKE connection of a tunnel. */
struct lsw_conn {
    char *name;                     /* "IFACE-VER", "IFACE-in-VER", ... */
    enum libreswan_conn_kind kind;
    char *section;                  /* Its "conn NAME" section text. */
    bool added;                     /* pluto holds this definition. */
    bool adding;                    /* An add of it is in flight. */
    uint64_t added_seq;             /* 'event_seq' when it was added. */
    long long int added_at;         /* time_msec() then. */
    bool up_inflight;               /* An `up` of it is in flight. */
    bool first_up;                  /* Initiate at once, without looking
                                     * at the status first. */
    long long int last_up_at;       /* time_msec() of the last `up`
                                     * answer, LLONG_MIN if none. */
    long long int next_up;          /* When to look at it again and,
                                     * if it is down with nothing in
                                     * progress, initiate it; LLONG_MAX
                                     * if not planned. */
    long long int retry_delay;      /* Next backoff step. */
    bool was_up;                    /* Its ESP SA was up last time. */
    bool adopted;                   /* Left in pluto by an earlier
                                     * instance of ours. */
    char *failure;                  /* Why its last waited-for `up`
                                     * failed (pluto's words), until its
                                     * ESP SA is up; or NULL. */
};

enum lsw_load {
    LOAD_IDLE,                      /* Loaded, or failed: see 'error'. */
    LOAD_WAIT,                      /* Waiting for pluto, NSS or files. */
    LOAD_ADDING,                    /* Its adds are in flight. */
    LOAD_SECRETS,                   /* Waiting for --rereadsecrets. */
};

/* One tunnel as applied. */
struct lsw_tunnel {
    struct hmap_node node;          /* In 'tunnels', by 'name'. */
    char *name;                     /* Interface name. */
    uint64_t version;               /* Version being or last applied. */
    enum tunnel_type type;
    enum tunnel_auth auth;
    char *remote_ip;                /* For messages. */
    char *remote_name;              /* Certificate modes: peer CN. */
    char *remote_cert_pem;          /* TUNNEL_AUTH_PEER_CERT: the peer's
                                     * certificate, re-encoded. */
    struct tunnel_conf *conf;       /* Copy of the conf last applied: a
                                     * change of our key type renders the
                                     * connections anew from it. */
    bool initiator;                 /* We negotiate for the tunnel. */
    char *conn_text;                /* Its ipsec.conf sections. */
    struct secret *secrets_line;    /* Its ipsec.secrets line (PSK). */
    char *conf_error;               /* Why it cannot be loaded, or NULL. */
    struct lsw_conn conns[2];
    size_t n_conns;

    enum lsw_load load;
    uint64_t load_seq;              /* Current load; answers to earlier
                                     * loads are ignored. */
    unsigned int n_inflight;        /* Its adds not answered yet. */
    uint64_t secrets_gen;           /* Secrets generation it needs. */
    uint64_t nss_gen;               /* NSS generation it needs. */
    bool loaded;                    /* pluto holds all its connections
                                     * (and its secret). */
    int error;                      /* Failure of the current load. */
    char *why;
    bool report_pending;            /* tunnel_done owed from run(). */
};

enum lsw_job_kind {
    JOB_VERSION,                    /* ipsec --version */
    JOB_RESTART,                    /* ipsec restart */
    JOB_PROBE,                      /* ipsec status, until pluto answers */
    JOB_ADD,                        /* Add one connection. */
    JOB_UP,                         /* Initiate one connection. */
    JOB_DELETE,                     /* Delete one connection. */
    JOB_SECRETS,                    /* Re-read ipsec.secrets. */
    JOB_STATUS,                     /* ipsec status, for our view. */
    JOB_QUERY,                      /* ipsec status, for ipsec/status. */
};

/* One command, queued or running. */
struct lsw_job {
    struct ovs_list node;           /* In 'queue' or 'running'. */
    enum lsw_job_kind kind;
    char **argv;                    /* Owned; freed with argv_free__(). */
    char *tunnel;                   /* Tunnel name, or NULL. */
    char *conn;                     /* Connection name, or NULL. */
    uint64_t load_seq;              /* JOB_ADD: the tunnel's load. */
    uint64_t gen;                   /* JOB_SECRETS: generation written. */
    uint64_t start_seq;             /* 'event_seq' when it started. */
    long long int start_at;         /* time_msec() when it started. */
    ike_status_cb *cb;              /* JOB_QUERY. */
    void *aux;
    struct process *proc;           /* NULL while queued. */
    bool waits;                     /* A JOB_UP that waits for the outcome:
                                     * counted in 'n_waiting', not in
                                     * 'n_running'. */
};

/* A name in a set. */
struct lsw_name {
    struct hmap_node node;          /* In its set, by 'name'. */
    char *name;
    char *text;                     /* Optional. */
};

struct ike_libreswan {
    struct ike_backend up;
    struct ike_hooks hooks;
    struct ike_options opts;        /* Strings not owned (from main). */
    bool in_run;                    /* Inside run(): hooks may be called. */
    bool reports_pending;           /* Some tunnel's report_pending. */
    bool step_pending;              /* Some tunnel may move on. */
    bool cleaning;                  /* cleanup() was called. */

    /* Paths. */
    char *ipsec;                    /* The `ipsec` program. */
    char *conf_path;                /* Our ipsec.conf. */
    char *root_conf_path;           /* pluto's root ipsec.conf. */
    char *secrets_path;
    char *ctl_path;
    char *nss_db;                   /* "sql:DIR", once the version is
                                     * known (the default depends on it). */
    bool own_root_conf;             /* conf_path is the root one. */

    /* Startup. */
    enum libreswan_version version; /* Dialect (V4 until known). */
    int version_major, version_minor;
    bool version_known;
    bool restarted;                 /* The restart finished. */
    bool ready;                     /* Commands may run. */
    long long int next_start;       /* Retry of --version or the probe. */
    bool pluto_running;             /* Last `ipsec status` answered. */
    char *pluto_error;              /* Why it did not, or NULL. */

    /* Commands. */
    struct ovs_list queue;          /* "struct lsw_job"s not started. */
    struct ovs_list running;        /* "struct lsw_job"s running. */
    size_t n_running;
    size_t n_waiting;               /* Running jobs with 'waits'. */
    uint64_t event_seq;             /* Bumped at each start and end. */

    /* Tunnels and files. */
    struct hmap tunnels;            /* "struct lsw_tunnel"s by name. */
    uint64_t load_seq;
    bool files_dirty;               /* Rewrite the files before running
                                     * anything. */
    char *files_error;              /* Why they could not be written. */
    struct fingerprint secrets_digest;  /* Of the secrets file written. */
    bool secrets_written;           /* 'secrets_digest' is valid. */
    uint64_t secrets_gen;           /* Bumped when their text changes. */
    uint64_t secrets_done_gen;      /* Covered by a successful reread. */
    uint64_t secrets_failed_gen;    /* Failed reread; retried after the
                                     * next reconcile. */
    char *secrets_error;            /* Why the reread failed. */
    bool secrets_inflight;

    /* Connections of ours that nobody wants: deleted when pluto lists
     * them, forgotten when it does not. */
    struct hmap stale;              /* "struct lsw_name"s. */
    /* What an earlier instance wrote: connection sections by name, and
     * its secrets file, for adoption. */
    struct hmap old_sections;       /* "struct lsw_name"s with 'text'. */
    long long int files_written_at; /* When our files were last written. */
    long long int lost_at;          /* When pluto was last found gone. */
    struct secret *old_secrets;

    /* Status. */
    struct libreswan_status *status;    /* Last good `ipsec status`. */
    uint64_t status_seq;            /* 'event_seq' when it started. */
    long long int status_at;        /* time_msec() when it started. */
    bool status_wanted;             /* Run one as soon as possible. */
    bool status_inflight;
    long long int next_status;      /* Next poll, LLONG_MAX if none. */
    bool reconcile_pending;         /* The next status reconciles. */

    /* Certificates. */
    struct libreswan_nss *nss;      /* NULL until the version is known. */
    char *cert_pem;                 /* Local certificate, re-encoded. */
    struct secret *key_pem;         /* Its private key (file bytes). */
    char **ca_pems;                 /* The CA file's certificates, each
                                     * re-encoded, in file order. */
    size_t n_ca_pems;
    char *local_name;               /* CN of 'cert_pem'. */
    enum libreswan_sig local_sig;   /* What the key of 'cert_pem' signs
                                     * with (authby=). */
    char *global_error;             /* Why there are no credentials. */
    uint64_t nss_gen;               /* Generation of the wanted set. */

    uint64_t n_adds, n_deletes, n_ups, n_commands;  /* Counters. */
};

static void job_queue__(struct ike_libreswan *, struct lsw_job *);
static void status_request__(struct ike_libreswan *);
static void tunnel_load__(struct ike_libreswan *, struct lsw_tunnel *);
static void nss_update__(struct ike_libreswan *);
static void tunnel_apply__(struct ike_libreswan *, const char *name,
                           uint64_t version, const struct tunnel_conf *);

static struct ike_libreswan *
ike_libreswan_cast(const struct ike_backend *up)
{
    return CONTAINER_OF(up, struct ike_libreswan, up);
}

/* Name sets. */

static struct lsw_name *
names_find__(const struct hmap *set, const char *name)
{
    struct lsw_name *n;

    HMAP_FOR_EACH_WITH_HASH (n, node, hash_string(name, 0), set) {
        if (!strcmp(n->name, name)) {
            return n;
        }
    }
    return NULL;
}

static void
names_add__(struct hmap *set, const char *name, const char *text)
{
    if (!names_find__(set, name)) {
        struct lsw_name *n = xzalloc(sizeof *n);
        n->name = xstrdup(name);
        n->text = nullable_xstrdup(text);
        hmap_insert(set, &n->node, hash_string(n->name, 0));
    }
}

static void
name_destroy__(struct hmap *set, struct lsw_name *n)
{
    hmap_remove(set, &n->node);
    free(n->name);
    free(n->text);
    free(n);
}

static void
names_remove__(struct hmap *set, const char *name)
{
    struct lsw_name *n = names_find__(set, name);
    if (n) {
        name_destroy__(set, n);
    }
}

static void
names_clear__(struct hmap *set)
{
    struct lsw_name *n, *next;

    HMAP_FOR_EACH_SAFE (n, next, node, set) {
        name_destroy__(set, n);
    }
}

/* argv. */

static char **
argv_new__(const char *first, ...)
{
    const char *args[8];
    size_t n = 0;
    va_list ap;

    args[n++] = first;
    va_start(ap, first);
    for (const char *s = va_arg(ap, const char *); s && n < 7;
         s = va_arg(ap, const char *)) {
        args[n++] = s;
    }
    va_end(ap);

    char **argv = xcalloc(n + 1, sizeof *argv);
    for (size_t i = 0; i < n; i++) {
        argv[i] = xstrdup(args[i]);
    }
    return argv;
}

static void
argv_free__(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++) {
        free(argv[i]);
    }
    free(argv);
}

/* The argv of 'cmd' on 'conn' for the detected dialect, in our
 * allocation. */
static char **
cmd_argv__(const struct ike_libreswan *ls, enum libreswan_cmd cmd,
           const char *conn)
{
    struct libreswan_paths paths = {
        .ipsec = ls->ipsec,
        .conf = ls->root_conf_path,
        .ctl = ls->ctl_path,
    };
    char **lsw = libreswan_cmd_argv(ls->version, &paths, cmd, conn);
    size_t n = 0;

    while (lsw[n]) {
        n++;
    }
    char **argv = xcalloc(n + 1, sizeof *argv);
    for (size_t i = 0; i < n; i++) {
        argv[i] = xstrdup(lsw[i]);
    }
    libreswan_argv_free(lsw);
    return argv;
}

/* Tunnels. */

static struct lsw_tunnel *
tunnel_find__(const struct ike_libreswan *ls, const char *name)
{
    struct lsw_tunnel *t;

    HMAP_FOR_EACH_WITH_HASH (t, node, hash_string(name, 0), &ls->tunnels) {
        if (!strcmp(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

static struct lsw_conn *
conn_find__(struct lsw_tunnel *t, const char *name)
{
    for (size_t i = 0; t && i < t->n_conns; i++) {
        if (!strcmp(t->conns[i].name, name)) {
            return &t->conns[i];
        }
    }
    return NULL;
}

static void
conns_clear__(struct lsw_tunnel *t)
{
    for (size_t i = 0; i < t->n_conns; i++) {
        free(t->conns[i].name);
        free(t->conns[i].section);
        free(t->conns[i].failure);
    }
    memset(t->conns, 0, sizeof t->conns);
    t->n_conns = 0;
}

static void
tunnel_destroy__(struct lsw_tunnel *t)
{
    if (t) {
        conns_clear__(t);
        free(t->name);
        free(t->remote_ip);
        free(t->remote_name);
        free(t->remote_cert_pem);
        tunnel_conf_destroy(t->conf);
        free(t->conn_text);
        secret_destroy(t->secrets_line);
        free(t->conf_error);
        free(t->why);
        free(t);
    }
}

/* Calls the tunnel_done hook with the outcome of the current load of 't',
 * from run() only (an outcome known elsewhere is reported from the next
 * run()). */
static void
tunnel_report__(struct ike_libreswan *ls, struct lsw_tunnel *t)
{
    if (!ls->in_run) {
        t->report_pending = true;
        ls->reports_pending = true;
        return;
    }
    t->report_pending = false;
    ls->hooks.tunnel_done(ls->hooks.aux, t->name, t->version, t->error,
                          t->why);
}

/* Makes connection 'name' of ours go away: deleted now if pluto may hold
 * it, and remembered until `ipsec status` no longer lists it. */
static void
conn_withdraw__(struct ike_libreswan *ls, const char *name)
{
    names_add__(&ls->stale, name, NULL);
    if (ls->ready) {
        struct lsw_job *job = xzalloc(sizeof *job);
        job->kind = JOB_DELETE;
        job->conn = xstrdup(name);
        job->argv = cmd_argv__(ls, LIBRESWAN_CMD_DELETE, name);
        ls->n_deletes++;
        job_queue__(ls, job);
    }
}

/* Fails the current load of 't' with 'error' and 'why' (taken): reports
 * it, and deletes what of it pluto accepted, so that nothing is left half
 * loaded. */
static void
tunnel_fail__(struct ike_libreswan *ls, struct lsw_tunnel *t, int error,
              char *why)
{
    t->error = error;
    free(t->why);
    t->why = why;
    t->loaded = false;
    t->load = LOAD_IDLE;
    for (size_t i = 0; i < t->n_conns; i++) {
        struct lsw_conn *c = &t->conns[i];
        if ((c->added || c->adding) && error != -ENOTCONN) {
            conn_withdraw__(ls, c->name);
        }
        c->added = c->adding = false;
        c->next_up = LLONG_MAX;
    }
    tunnel_report__(ls, t);
}

/* Schedules the first initiations of loaded tunnel 't': at once for the
 * initiator, after the grace for the other end. */
static void
tunnel_plan_up__(struct ike_libreswan *ls, struct lsw_tunnel *t)
{
    long long int now = time_msec();

    for (size_t i = 0; i < t->n_conns; i++) {
        struct lsw_conn *c = &t->conns[i];
        c->retry_delay = RETRY_MIN_MS;
        /* An adopted connection may be up already: the status says. */
        c->first_up = t->initiator && !c->adopted;
        c->last_up_at = LLONG_MIN;
        c->next_up = t->initiator ? now : now + RESPONDER_GRACE_MS;
    }
    /* Keep an eye on it while it comes up (show, tunnel_is_up). */
    ls->next_status = MIN(ls->next_status, now + STATUS_POLL_MS);
}

static bool
tunnel_psk__(const struct lsw_tunnel *t)
{
    return t->auth == TUNNEL_AUTH_PSK;
}

/* The NSS nickname of our certificate and key, in a new string, or NULL
 * without one. */
static char *
certkey_nick__(const struct ike_libreswan *ls)
{
    return (ls->local_name
            ? xasprintf(LIBRESWAN_NSS_CERTKEY_PREFIX "%s", ls->local_name)
            : NULL);
}

/* Returns a new message if the certificates tunnel 't' needs are not in
 * the NSS database, otherwise NULL. */
static char *
tunnel_nss_error__(const struct ike_libreswan *ls,
                   const struct lsw_tunnel *t)
{
    char *nick = NULL;
    const char *err = NULL;
    char *msg = NULL;

    if (!ls->cert_pem || !ls->key_pem) {
        return xstrdup(ls->global_error ? ls->global_error
                       : "no certificate and private key configured");
    }
    nick = certkey_nick__(ls);
    err = libreswan_nss_entry_error(ls->nss, nick);
    if (err) {
        msg = xasprintf("NSS database: %s: %s", nick, err);
        goto out;
    }
    free(nick);
    nick = NULL;
    if (t->auth == TUNNEL_AUTH_CA) {
        if (!ls->n_ca_pems) {
            msg = xstrdup("NSS database: " LIBRESWAN_NSS_CA_NAME ": no CA "
                          "certificate configured");
        }
        /* All of them: the peer's chain may need any. */
        for (size_t i = 0; !msg && i < ls->n_ca_pems; i++) {
            nick = libreswan_nss_ca_name(i);
            err = libreswan_nss_entry_error(ls->nss, nick);
            if (err) {
                msg = xasprintf("NSS database: %s: %s", nick, err);
            }
            free(nick);
            nick = NULL;
        }
    } else if (t->auth == TUNNEL_AUTH_PEER_CERT) {
        nick = xasprintf(LIBRESWAN_NSS_CERT_PREFIX "%s", t->remote_name);
        err = libreswan_nss_entry_error(ls->nss, nick);
        if (err) {
            msg = xasprintf("NSS database: %s: %s", nick, err);
        }
    }

out:
    free(nick);
    return msg;
}

/* True if pluto holds connection 'c' as we would add it now, left by an
 * earlier instance of ours: adding it again would tear its SAs down. */
static bool
conn_adoptable__(const struct ike_libreswan *ls, const struct lsw_tunnel *t,
                 const struct lsw_conn *c)
{
    const struct lsw_name *old = names_find__(&ls->old_sections, c->name);
    const struct libreswan_conn_state *st;

    if (!old || !old->text || strcmp(old->text, c->section) || !ls->status) {
        return false;
    }
    st = libreswan_status_find(ls->status, c->name);
    if (!st || !st->loaded) {
        return false;
    }
    if (!tunnel_psk__(t)) {
        /* pluto took the certificates from NSS when it added the
         * connection: if NSS did not hold ours (or the pinned peer's)
         * when we started, the connection may hold an older one. */
        char *nick = certkey_nick__(ls);
        bool stale = libreswan_nss_imported(ls->nss, nick);
        free(nick);
        if (!stale && t->auth == TUNNEL_AUTH_PEER_CERT) {
            nick = xasprintf(LIBRESWAN_NSS_CERT_PREFIX "%s", t->remote_name);
            stale = libreswan_nss_imported(ls->nss, nick);
            free(nick);
        }
        if (stale) {
            return false;
        }
    } else {
        size_t old_size, line_size;
        const char *old_text = (ls->old_secrets
                                ? secret_bytes(ls->old_secrets, &old_size)
                                : NULL);
        const char *line = secret_bytes(t->secrets_line, &line_size);
        if (!old_text || !line_size
            || !memmem(old_text, old_size, line, line_size)) {
            return false;
        }
    }
    return true;
}

/* Moves the load of 't' on as far as it can go now. */
static void
tunnel_step__(struct ike_libreswan *ls, struct lsw_tunnel *t)
{
    if (t->load == LOAD_WAIT) {
        if (!ls->ready || !ls->pluto_running || ls->cleaning
            || ls->files_dirty) {
            return;
        }
        if (t->conf_error) {
            tunnel_fail__(ls, t, -EINVAL, xstrdup(t->conf_error));
            return;
        }
        if (ls->files_error) {
            tunnel_fail__(ls, t, -EIO, xstrdup(ls->files_error));
            return;
        }
        if (!tunnel_psk__(t)) {
            if (!ls->nss
                || libreswan_nss_done_gen(ls->nss) < t->nss_gen) {
                return;
            }
            char *why = tunnel_nss_error__(ls, t);
            if (why) {
                tunnel_fail__(ls, t, -ENOKEY, why);
                return;
            }
        }

        t->load = LOAD_ADDING;
        t->n_inflight = 0;
        t->error = 0;
        free(t->why);
        t->why = NULL;
        /* The file written holds its secret: a reread of it (or of a
         * later one) loads it. */
        t->secrets_gen = ls->secrets_gen;
        for (size_t i = 0; i < t->n_conns; i++) {
            struct lsw_conn *c = &t->conns[i];
            if (c->added) {
                continue;
            }
            names_remove__(&ls->stale, c->name);
            if (conn_adoptable__(ls, t, c)) {
                LOG_INFO("%s: adopting connection %s, which pluto holds "
                         "as we would add it", t->name, c->name);
                c->added = true;
                c->adopted = true;
                c->added_seq = ls->event_seq;
                c->added_at = time_msec();
                names_remove__(&ls->old_sections, c->name);
                continue;
            }
            names_remove__(&ls->old_sections, c->name);

            struct lsw_job *job = xzalloc(sizeof *job);
            job->kind = JOB_ADD;
            job->tunnel = xstrdup(t->name);
            job->conn = xstrdup(c->name);
            job->load_seq = t->load_seq;
            job->argv = cmd_argv__(ls, LIBRESWAN_CMD_ADD, c->name);
            c->adding = true;
            t->n_inflight++;
            ls->n_adds++;
            job_queue__(ls, job);
        }
    }
    if (t->load == LOAD_ADDING) {
        if (t->n_inflight) {
            return;
        }
        if (t->error) {
            tunnel_fail__(ls, t, t->error, t->why ? xstrdup(t->why) : NULL);
            return;
        }
        t->load = LOAD_SECRETS;
    }
    if (t->load == LOAD_SECRETS) {
        if (tunnel_psk__(t) && ls->secrets_done_gen < t->secrets_gen) {
            if (ls->secrets_failed_gen >= t->secrets_gen) {
                tunnel_fail__(ls, t, -EIO,
                              xstrdup(ls->secrets_error
                                      ? ls->secrets_error
                                      : "rereadsecrets failed"));
            }
            return;
        }
        t->load = LOAD_IDLE;
        t->loaded = true;
        t->error = 0;
        free(t->why);
        t->why = NULL;
        tunnel_report__(ls, t);
        tunnel_plan_up__(ls, t);
    }
}

static void
tunnels_step__(struct ike_libreswan *ls)
{
    struct lsw_tunnel *t;

    ls->step_pending = false;
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        tunnel_step__(ls, t);
    }
}

/* Starts loading the current configuration of 't': all its connections
 * pluto does not hold (all of them, after 'forget'). */
static void
tunnel_reload__(struct ike_libreswan *ls, struct lsw_tunnel *t, bool forget)
{
    t->load_seq = ++ls->load_seq;
    t->load = LOAD_WAIT;
    t->loaded = false;
    t->n_inflight = 0;
    t->error = 0;
    free(t->why);
    t->why = NULL;
    t->report_pending = false;
    for (size_t i = 0; i < t->n_conns; i++) {
        if (forget) {
            t->conns[i].added = false;
        }
        t->conns[i].adding = false;
        t->conns[i].next_up = LLONG_MAX;
    }
    ls->step_pending = true;
}

static void
tunnel_load__(struct ike_libreswan *ls, struct lsw_tunnel *t)
{
    tunnel_reload__(ls, t, false);
}

/* Files. */

/* Writes 'size' bytes at 'data' to 'path' through a temporary file in the
 * same directory, renamed over it, with 'mode'.  Returns NULL or a new
 * error message. */
static char *
write_atomic__(const char *path, const void *data, size_t size, mode_t mode)
{
    char *tmp = xasprintf("%s.ovsec-XXXXXX", path);
    const char *p = data;
    char *msg = NULL;
    int fd;

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        msg = xasprintf("cannot create %s: %s", tmp, ovsec_strerror(errno));
        goto out;
    }
    if (fchmod(fd, mode)) {
        msg = xasprintf("cannot chmod %s: %s", tmp, ovsec_strerror(errno));
    }
    while (!msg && size) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno != EINTR) {
            msg = xasprintf("cannot write %s: %s", tmp,
                            ovsec_strerror(errno));
        } else if (n > 0) {
            p += n;
            size -= n;
        }
    }
    if (!msg && fsync(fd)) {
        msg = xasprintf("cannot write %s: %s", tmp, ovsec_strerror(errno));
    }
    if (close(fd) && !msg) {
        msg = xasprintf("cannot write %s: %s", tmp, ovsec_strerror(errno));
    }
    if (!msg && rename(tmp, path)) {
        msg = xasprintf("cannot rename %s to %s: %s", tmp, path,
                        ovsec_strerror(errno));
    }
    if (msg) {
        unlink(tmp);
    }
out:
    free(tmp);
    return msg;
}

static int
tunnel_cmp__(const void *a_, const void *b_)
{
    const struct lsw_tunnel *const *a = a_;
    const struct lsw_tunnel *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

static struct libreswan_conf_options
conf_options__(const struct ike_libreswan *ls, bool initiator)
{
    struct libreswan_conf_options o = {
        .version = ls->version,
        .use_default_crypto = ls->opts.use_default_crypto,
        .local_sig = ls->local_sig,
        .own_root_conf = ls->own_root_conf,
        /* What pluto does with them on its own, after a restart: the
         * initiator's start, the other end's wait. */
        .auto_out = initiator ? LIBRESWAN_AUTO_START : LIBRESWAN_AUTO_ADD,
        .auto_in = initiator ? LIBRESWAN_AUTO_START : LIBRESWAN_AUTO_ADD,
    };
    return o;
}

/* Writes our ipsec.conf and the secrets file from the applied tunnels
 * (none after cleanup()).  A change of the secrets bumps 'secrets_gen'. */
static void
files_write__(struct ike_libreswan *ls)
{
    struct libreswan_conf_options o = conf_options__(ls, false);
    struct ds conf = DS_EMPTY_INITIALIZER;
    struct ds secrets = DS_EMPTY_INITIALIZER;
    size_t n = hmap_count(&ls->tunnels);
    struct lsw_tunnel **sorted = xcalloc(n + 1, sizeof *sorted);
    struct lsw_tunnel *t;
    struct fingerprint digest;
    char *msg;
    size_t i = 0;

    ls->files_dirty = false;
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        sorted[i++] = t;
    }
    qsort(sorted, n, sizeof *sorted, tunnel_cmp__);

    libreswan_conf_header(&o, &conf);
    ds_put_cstr(&secrets, "# Generated by ovsec-monitor...do not modify "
                "by hand!\n\n");
    for (i = 0; i < n && !ls->cleaning; i++) {
        t = sorted[i];
        if (t->conf_error || !t->conn_text) {
            continue;
        }
        ds_put_cstr(&conf, t->conn_text);
        if (t->secrets_line) {
            size_t size;
            const void *line = secret_bytes(t->secrets_line, &size);
            ds_put_buffer(&secrets, line, size);
        }
    }

    ls->files_written_at = time_msec();
    msg = write_atomic__(ls->conf_path, conf.string ? conf.string : "",
                         conf.length, 0644);
    if (!msg) {
        msg = write_atomic__(ls->secrets_path,
                             secrets.string ? secrets.string : "",
                             secrets.length, 0600);
        fingerprint_bytes(secrets.string, secrets.length, &digest);
        if (!msg && (!ls->secrets_written
                     || !fingerprint_equal(&digest, &ls->secrets_digest))) {
            ls->secrets_digest = digest;
            ls->secrets_written = true;
            ls->secrets_gen++;
        }
    }
    if (msg && !nullable_string_equal(msg, ls->files_error)) {
        LOG_WARN("%s", msg);
    }
    free(ls->files_error);
    ls->files_error = msg;

    free(sorted);
    ds_destroy(&conf);
    ds_destroy_secure(&secrets);
}

/* Reads what an earlier instance of ours wrote: the connection sections
 * of our ipsec.conf (whose connections are ours: stale unless a tunnel
 * claims them) and the secrets file. */
static void
old_files_read__(struct ike_libreswan *ls)
{
    char *data = NULL;
    size_t size = 0;
    char *why = NULL;

    if (!x509_read_file(ls->conf_path, &data, &size, &why)
        && size <= OLD_FILE_MAX) {
        const char *p = data;
        while (p && *p) {
            const char *eol = strchr(p, '\n');
            size_t len = eol ? (size_t) (eol - p) : strlen(p);
            if (len > 5 && !strncmp(p, "conn ", 5) && p[5] != '%') {
                /* The section runs to the next line that is not
                 * indented. */
                const char *end = eol ? eol + 1 : p + len;
                while (*end == ' ' || *end == '\t') {
                    const char *e = strchr(end, '\n');
                    end = e ? e + 1 : end + strlen(end);
                }
                char *name = xmemdup0(p + 5, len - 5);
                name[strcspn(name, " \t\r")] = '\0';
                char *text = xmemdup0(p, end - p);
                if (*name) {
                    names_add__(&ls->old_sections, name, text);
                    names_add__(&ls->stale, name, NULL);
                }
                free(name);
                free(text);
                p = end;
                continue;
            }
            p = eol ? eol + 1 : NULL;
        }
    }
    free(data);
    free(why);
    why = NULL;

    if (!x509_read_file(ls->secrets_path, &data, &size, &why)) {
        if (size <= OLD_FILE_MAX) {
            ls->old_secrets = secret_create(data, size);
        }
        memzero_explicit(data, size);
        free(data);
    }
    free(why);
}

/* Jobs. */

static void
job_destroy__(struct lsw_job *job)
{
    if (job) {
        process_destroy(job->proc);
        argv_free__(job->argv);
        free(job->tunnel);
        free(job->conn);
        free(job);
    }
}

static void
job_queue__(struct ike_libreswan *ls, struct lsw_job *job)
{
    ovs_list_push_back(&ls->queue, &job->node);
}

/* Returns a new message "WHAT: OUTCOME: OUTPUT" about finished job 'job',
 * with the start of its stderr (or stdout), in printable ASCII on one
 * line. */
static char *
job_why__(const struct lsw_job *job, const char *what)
{
    const char *err = process_stderr(job->proc, NULL);
    const char *out = process_stdout(job->proc, NULL);
    char *status = process_status_msg(job->proc);
    struct ds s = DS_EMPTY_INITIALIZER;
    const char *text = err && *err ? err : out;
    size_t n = 0;
    bool space = false;

    ds_put_format(&s, "%s: %s", what, status);
    if (text && *text) {
        ds_put_cstr(&s, ": ");
        for (; *text && n < WHY_MAX; text++) {
            unsigned char c = *text;
            if (c == '\n' || c == '\t' || c == ' ') {
                space = true;
                continue;
            }
            if (space && n) {
                ds_put_char(&s, ' ');
                n++;
            }
            space = false;
            ds_put_char(&s, c >= 0x20 && c < 0x7f ? c : '?');
            n++;
        }
    }
    free(status);
    return ds_steal_cstr(&s);
}

/* True if the finished 'job' failed because pluto is not running. */
static bool
job_no_pluto__(const struct lsw_job *job)
{
    const char *err = process_stderr(job->proc, NULL);
    const char *out = process_stdout(job->proc, NULL);

    return ((err && (strstr(err, "Pluto is not running")
                     || strstr(err, "connect(pluto_ctl)")))
            || (out && strstr(out, "Pluto is not running")));
}

static const char *
cmd_name__(enum lsw_job_kind kind)
{
    switch (kind) {
    case JOB_VERSION: return "ipsec --version";
    case JOB_RESTART: return "ipsec restart";
    case JOB_PROBE:
    case JOB_STATUS:
    case JOB_QUERY: return "ipsec status";
    case JOB_ADD: return "add";
    case JOB_UP: return "up";
    case JOB_DELETE: return "delete";
    case JOB_SECRETS: return "rereadsecrets";
    default: return "?";
    }
}

/* pluto stopped answering: everything loaded counts as lost until it is
 * back, when it is all added again. */
static void
pluto_lost__(struct ike_libreswan *ls, char *why)
{
    struct lsw_tunnel *t;

    if (ls->pluto_running || !ls->pluto_error) {
        size_t n = hmap_count(&ls->tunnels);
        LOG_WARN("pluto is not running (%s); %zu tunnel%s will be loaded "
                 "when it is back", why, n, n == 1 ? "" : "s");
    }
    free(ls->pluto_error);
    ls->pluto_error = why;
    ls->next_status = time_msec() + STATUS_POLL_MS;
    if (!ls->pluto_running) {
        return;
    }
    ls->pluto_running = false;
    ls->lost_at = time_msec();
    ls->secrets_done_gen = 0;
    libreswan_status_destroy(ls->status);
    ls->status = NULL;
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        bool was = t->loaded || t->load != LOAD_IDLE;
        tunnel_reload__(ls, t, true);
        if (was && !ls->cleaning && !t->conf_error) {
            t->error = -ENOTCONN;
            t->why = xstrdup("pluto is not running");
            tunnel_report__(ls, t);
        }
    }
}

static void
pluto_back__(struct ike_libreswan *ls)
{
    if (!ls->pluto_running) {
        if (ls->pluto_error) {
            LOG_INFO("pluto answers at %s", ls->ctl_path);
        }
        ls->pluto_running = true;
        free(ls->pluto_error);
        ls->pluto_error = NULL;
        /* Its secrets may be older than our file. */
        ls->secrets_done_gen = 0;
        ls->secrets_failed_gen = 0;
        ls->step_pending = true;
        if (ls->lost_at && ls->files_written_at
            && ls->files_written_at < ls->lost_at && !ls->files_dirty) {
            /* pluto (re)started after our files were last written, so it
             * read them: it holds our connections as the files say, and
             * may already have SAs on them (the peer's negotiation).
             * Adding them again would tear those down; they are adopted
             * instead, as after a restart of ours. */
            names_clear__(&ls->old_sections);
            secret_destroy(ls->old_secrets);
            ls->old_secrets = NULL;
            old_files_read__(ls);
        }
    }
}

/* Version, restart and probe. */

static void
version_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    const char *out = process_stdout(job->proc, NULL);
    enum libreswan_version v;
    int major = 0, minor = 0;
    int error;

    error = (process_succeeded(job->proc)
             ? libreswan_version_parse(out, &v, &major, &minor) : -ENOENT);
    if (error) {
        char *why = (error == -ENOENT ? job_why__(job, ls->ipsec)
                     : xasprintf("%s --version: unexpected answer \"%.80s\"",
                                 ls->ipsec, out ? out : ""));
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(1, 1);
        LOG_WARN_RL(&rl, "cannot tell the Libreswan version: %s, retrying",
                    why);
        pluto_lost__(ls, why);
        ls->next_start = time_msec() + STATUS_POLL_MS;
        return;
    }
    ls->version = v;
    ls->version_major = major;
    ls->version_minor = minor;
    ls->version_known = true;
    LOG_INFO("Libreswan %d.%d (%s command syntax), ipsec.conf %s%s%s, "
             "secrets %s, control socket %s", major, minor,
             libreswan_version_to_string(v), ls->conf_path,
             ls->own_root_conf ? "" : " included by ",
             ls->own_root_conf ? "" : ls->root_conf_path,
             ls->secrets_path, ls->ctl_path);

    if (!ls->nss_db) {
        ls->nss_db = xasprintf("sql:%s%s", ls->opts.root_prefix,
                               major < 4 ? DEFAULT_NSSDIR_V3
                                         : DEFAULT_NSSDIR);
    }
    ls->nss = libreswan_nss_create(ls->nss_db, ls->opts.command_timeout_ms);
    nss_update__(ls);
    struct lsw_tunnel *t;
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        t->nss_gen = ls->nss_gen;
    }
    ls->next_start = time_msec();
}

/* Starts what comes next on the way to 'ready'. */
static void
startup_step__(struct ike_libreswan *ls)
{
    struct lsw_job *job;

    if (ls->ready || time_msec() < ls->next_start) {
        return;
    }
    ls->next_start = LLONG_MAX;
    job = xzalloc(sizeof *job);
    if (!ls->version_known) {
        job->kind = JOB_VERSION;
        job->argv = argv_new__(ls->ipsec, "--version", NULL);
    } else if (ls->opts.restart_ike_daemon && !ls->restarted
               && !ls->cleaning) {
        /* Upstream restarts pluto on its fresh files: ours already hold
         * what is applied so far. */
        files_write__(ls);
        LOG_INFO("restarting Libreswan");
        job->kind = JOB_RESTART;
        job->argv = argv_new__(ls->ipsec, "restart", NULL);
    } else {
        job->kind = JOB_PROBE;
        job->argv = cmd_argv__(ls, LIBRESWAN_CMD_STATUS, NULL);
    }
    job_queue__(ls, job);
}

static void
restart_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    if (!process_succeeded(job->proc)) {
        char *why = job_why__(job, "ipsec restart");
        LOG_WARN("%s", why);
        free(why);
    }
    ls->restarted = true;
    ls->next_start = time_msec();
}

/* Status. */

/* Returns the tunnel that connection 'name' would belong to, if it has
 * the shape of one of ours for one of our tunnels: "IFACE-VER" of a gre
 * tunnel, "IFACE-in-VER" or "IFACE-out-VER" of a geneve or vxlan one. */
static struct lsw_tunnel *
conn_owner__(const struct ike_libreswan *ls, const char *name)
{
    const char *dash = strrchr(name, '-');
    struct lsw_tunnel *owner = NULL;
    char *iface;

    if (!dash || dash == name || !dash[1]
        || strspn(dash + 1, "0123456789") != strlen(dash + 1)) {
        return NULL;
    }
    iface = xmemdup0(name, dash - name);
    for (int i = 0; i < 2 && !owner; i++) {
        struct lsw_tunnel *t = tunnel_find__(ls, iface);
        enum libreswan_conn_kind kind;

        if (t && libreswan_conn_name_match(name, t->name, &kind, NULL)
            && (kind == LIBRESWAN_CONN_GRE) == (t->type == TUNNEL_GRE)) {
            owner = t;
        }
        /* "IFACE-in" or "IFACE-out" may be a geneve or vxlan IFACE. */
        size_t len = strlen(iface);
        if (len > 3 && !strcmp(iface + len - 3, "-in")) {
            iface[len - 3] = '\0';
        } else if (len > 4 && !strcmp(iface + len - 4, "-out")) {
            iface[len - 4] = '\0';
        } else {
            break;
        }
    }
    free(iface);
    return owner;
}

/* Acts on a fresh `ipsec status`: notices connections pluto lost and
 * those that went up or down, deletes (when 'reconcile') those of ours
 * that nobody wants, and plans the next look. */
static void
status_decide__(struct ike_libreswan *ls, bool reconcile)
{
    long long int now = time_msec();
    long long int next = LLONG_MAX;
    struct lsw_tunnel *t;
    struct lsw_name *n, *next_n;

    if (ls->cleaning) {
        return;
    }
    for (size_t i = 0; reconcile && i < ls->status->n_conns; i++) {
        const struct libreswan_conn_state *st = &ls->status->conns[i];
        struct lsw_tunnel *owner;
        bool unwanted = names_find__(&ls->stale, st->name) != NULL;

        if (!unwanted) {
            /* Another version of a tunnel we hold. */
            owner = conn_owner__(ls, st->name);
            unwanted = owner && !conn_find__(owner, st->name);
        }
        if (unwanted && st->loaded) {
            LOG_INFO("%s: deleting connection nobody wants", st->name);
            conn_withdraw__(ls, st->name);
        }
    }
    /* Stale names pluto no longer lists are gone for good. */
    HMAP_FOR_EACH_SAFE (n, next_n, node, &ls->stale) {
        const struct libreswan_conn_state *st
            = libreswan_status_find(ls->status, n->name);
        if (!st || !st->loaded) {
            name_destroy__(&ls->stale, n);
        }
    }

    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        bool lost = false;

        for (size_t i = 0; t->loaded && i < t->n_conns; i++) {
            struct lsw_conn *c = &t->conns[i];
            const struct libreswan_conn_state *st
                = libreswan_status_find(ls->status, c->name);

            if (!c->added || ls->status_seq <= c->added_seq) {
                continue;       /* The listing may predate the add. */
            }
            if (!st || !st->loaded) {
                LOG_WARN("%s: pluto no longer has connection %s, adding "
                         "it again", t->name, c->name);
                c->added = false;
                lost = true;
                continue;
            }
            if (st->esp_established) {
                if (!c->was_up) {
                    LOG_INFO("%s: %s is up", t->name, c->name);
                }
                c->was_up = true;
                c->retry_delay = RETRY_MIN_MS;
                c->next_up = LLONG_MAX;
                continue;
            }
            if (c->was_up) {
                LOG_INFO("%s: %s went down", t->name, c->name);
                c->was_up = false;
            }
            if (c->next_up == LLONG_MAX && !c->up_inflight) {
                /* Down and nothing planned: look again, and initiate if
                 * nothing is in progress then. */
                c->next_up = now + (t->initiator ? 0 : RESPONDER_GRACE_MS);
            }
            if (now - c->added_at < RESPONDER_GRACE_MS * 2) {
                /* Coming up: keep the view fresh for show and is_up.
                 * Later, reconcile() and due initiations refresh it (an
                 * initiation asks for one more look STATUS_POLL_MS after
                 * it): a tunnel whose peer never answers costs a status
                 * per retry, not one every STATUS_POLL_MS for ever. */
                next = MIN(next, now + STATUS_POLL_MS);
            }
        }
        if (lost) {
            if (tunnel_psk__(t)) {
                /* A pluto that restarted between two looks may not read
                 * our secrets file by itself. */
                ls->secrets_done_gen = 0;
            }
            tunnel_load__(ls, t);
        }
    }
    ls->next_status = next;
}

static void
status_done__(struct ike_libreswan *ls, struct lsw_job *job, bool reconcile)
{
    size_t size;
    const char *out = process_stdout(job->proc, &size);

    ls->status_inflight = false;
    if (!process_succeeded(job->proc) || process_output_truncated(job->proc)) {
        char *why = (process_output_truncated(job->proc)
                     ? xasprintf("ipsec status printed more than %d bytes",
                                 STATUS_OUTPUT_MAX)
                     : job_why__(job, "ipsec status"));
        pluto_lost__(ls, why);
        return;
    }
    libreswan_status_destroy(ls->status);
    ls->status = libreswan_status_parse(out, size);
    ls->status_seq = job->start_seq;
    ls->status_at = job->start_at;
    pluto_back__(ls);
    status_decide__(ls, reconcile);
}

static void
status_request__(struct ike_libreswan *ls)
{
    struct lsw_job *job;

    if (!ls->ready || ls->status_inflight) {
        return;
    }
    job = xzalloc(sizeof *job);
    job->kind = JOB_STATUS;
    job->argv = cmd_argv__(ls, LIBRESWAN_CMD_STATUS, NULL);
    job->gen = ls->reconcile_pending;
    ls->reconcile_pending = false;
    ls->status_wanted = false;
    ls->status_inflight = true;
    ls->next_status = LLONG_MAX;
    job_queue__(ls, job);
}

/* Brings up the connections whose time has come: those the initiator
 * starts at once, and those a status taken since their time came shows
 * down with nothing in progress.  Asks for that status when needed. */
static void
ups_start__(struct ike_libreswan *ls)
{
    long long int now = time_msec();
    struct lsw_tunnel *t;

    if (!ls->ready || !ls->pluto_running || ls->cleaning) {
        return;
    }
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        for (size_t i = 0; t->loaded && i < t->n_conns; i++) {
            struct lsw_conn *c = &t->conns[i];
            const struct libreswan_conn_state *st;

            if (!c->added || c->up_inflight || now < c->next_up) {
                continue;
            }
            if (c->first_up && i > 0
                && (t->conns[0].first_up || t->conns[0].up_inflight)) {
                /* After "-out" is under way, so that pluto puts this one
                 * on its IKE SA rather than negotiating another. */
                continue;
            }
            if (!c->first_up) {
                if (!ls->status || ls->status_at < c->next_up
                    || ls->status_seq <= c->added_seq) {
                    ls->status_wanted = true;
                    continue;
                }
                st = libreswan_status_find(ls->status, c->name);
                if (!st || !st->loaded) {
                    continue;   /* status_decide__() reloads it. */
                }
                if (st->esp_established) {
                    c->next_up = LLONG_MAX;
                    free(c->failure);
                    c->failure = NULL;
                    continue;
                }
                const struct libreswan_conn_state *first
                    = (i > 0 ? libreswan_status_find(ls->status,
                                                     t->conns[0].name)
                       : NULL);
                if (st->n_states
                    || (first && first->n_states && !first->esp_established
                        && !first->ike_established)) {
                    /* A negotiation is in progress (or its IKE SA is up
                     * and the child is on its way), or, for "-in", the
                     * tunnel's "-out" is still negotiating the IKE SA
                     * that "-in" waits for (pluto lists no state for a
                     * child waiting on its parent): leave it alone, and
                     * look again later. */
                    c->next_up = now + c->retry_delay;
                    c->retry_delay = MIN(c->retry_delay * 2,
                                         INITIATE_BACKOFF_MS);
                    continue;
                }
            }

            struct lsw_job *job = xzalloc(sizeof *job);
            job->kind = JOB_UP;
            job->tunnel = xstrdup(t->name);
            job->conn = xstrdup(c->name);
            /* A first initiation does not wait: its negotiation may take
             * as long as the peer takes to come up.  A retry (the
             * connection is down with nothing in progress, so an earlier
             * attempt failed) waits for the outcome, so that whack tells
             * why it fails (pluto says it only to whack and its log). */
            job->argv = cmd_argv__(ls, (c->first_up ? LIBRESWAN_CMD_UP
                                        : LIBRESWAN_CMD_UP_WAIT), c->name);
            job->waits = !c->first_up;
            if (!c->first_up && !t->initiator) {
                LOG_INFO("%s: bringing up %s: nothing came from the peer",
                         t->name, c->name);
            } else {
                LOG_INFO("%s: bringing up %s", t->name, c->name);
            }
            c->first_up = false;
            c->up_inflight = true;
            c->next_up = LLONG_MAX;
            ls->n_ups++;
            job_queue__(ls, job);
        }
    }
}

/* Job completion. */

static void
add_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    struct lsw_tunnel *t = tunnel_find__(ls, job->tunnel);
    struct lsw_conn *c = conn_find__(t, job->conn);

    if ((!c || ls->cleaning) && process_succeeded(job->proc)) {
        /* Nobody wants it any more (cleanup(), or the tunnel went or
         * changed while pluto was adding it), and the delete that
         * withdrew it may have run first. */
        conn_withdraw__(ls, job->conn);
        return;
    }
    if (!t || !c || t->load_seq != job->load_seq || t->load != LOAD_ADDING) {
        return;                 /* Superseded. */
    }
    c->adding = false;
    t->n_inflight--;
    if (process_succeeded(job->proc)) {
        c->added = true;
        c->adopted = false;
        c->added_seq = ls->event_seq;
        c->added_at = time_msec();
        c->was_up = false;
    } else if (job_no_pluto__(job)) {
        char *why = job_why__(job, "add");
        pluto_lost__(ls, why);
        return;
    } else if (!t->error) {
        char *what = xasprintf("add %s", c->name);
        t->error = -EINVAL;
        t->why = job_why__(job, what);
        free(what);
    }
    ls->step_pending = true;
}

/* Returns why the `up` 'job' failed: the first line of its output that
 * names a failure (e.g. "IKE SA authentication request rejected by peer:
 * AUTHENTICATION_FAILED"), without whack's numeric prefix and the
 * connection's name, in printable ASCII.  Else, if 'fallback' is nonnull,
 * a copy of it, else NULL.  With 'strict', only lines that name an IKE
 * notification of failure count (for an `up` that exited 0). */
static char *
up_failure__(const struct lsw_job *job, const char *fallback, bool strict)
{
    static const char *const words[] = {
        "AUTHENTICATION_FAILED", "NO_PROPOSAL_CHOSEN", "TS_UNACCEPTABLE",
        "authentication", "rejected", "failed", "fatal", "timed out",
    };
    size_t n_words = strict ? 3 : ARRAY_SIZE(words);
    const char *out = process_stdout(job->proc, NULL);

    for (const char *line = out; line && *line; ) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t) (end - line) : strlen(line);

        for (size_t i = 0; i < n_words; i++) {
            if (!memmem(line, len, words[i], strlen(words[i]))) {
                continue;
            }
            struct ds s = DS_EMPTY_INITIALIZER;
            /* 'NNN "conn" #N: text': keep 'text'. */
            const char *colon = memchr(line, ':', len);
            const char *p = (colon && memchr(line, '"', colon - line)
                             ? colon + 1 : line);
            while (p < line + len && *p == ' ') {
                p++;
            }
            for (; p < line + len && s.length < WHY_MAX; p++) {
                unsigned char ch = *p;
                ds_put_char(&s, ch >= 0x20 && ch < 0x7f ? ch : '?');
            }
            return ds_steal_cstr(&s);
        }
        line = end ? end + 1 : NULL;
    }
    return fallback ? xstrdup(fallback) : NULL;
}

static void
up_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    struct lsw_tunnel *t = tunnel_find__(ls, job->tunnel);
    struct lsw_conn *c = conn_find__(t, job->conn);
    bool ok = process_succeeded(job->proc);
    const char *out = process_stdout(job->proc, NULL);

    if (ok && out && strstr(out, "ailed to initiate")) {
        ok = false;
    }
    if (!ok) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(20, 20);
        char *what = xasprintf("%s: up %s", job->tunnel, job->conn);
        char *why = job_why__(job, what);
        LOG_WARN_RL(&rl, "%s, retrying", why);
        if (c) {
            free(c->failure);
            c->failure = up_failure__(job, why, false);
        }
        free(why);
        free(what);
    } else if (c) {
        char *failure = up_failure__(job, NULL, true);
        if (failure) {
            free(c->failure);
            c->failure = failure;
        }
    }
    if (c) {
        long long int now = time_msec();
        c->up_inflight = false;
        c->last_up_at = now;
        /* Looked at again (and, if down with nothing in progress,
         * initiated again) after the backoff. */
        c->next_up = now + c->retry_delay;
        c->retry_delay = MIN(c->retry_delay * 2, INITIATE_BACKOFF_MS);
        ls->next_status = MIN(ls->next_status, now + STATUS_POLL_MS);
    }
}

static void
secrets_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    ls->secrets_inflight = false;
    if (process_succeeded(job->proc)) {
        ls->secrets_done_gen = MAX(ls->secrets_done_gen, job->gen);
        free(ls->secrets_error);
        ls->secrets_error = NULL;
    } else if (job_no_pluto__(job)) {
        pluto_lost__(ls, job_why__(job, "rereadsecrets"));
        return;
    } else {
        char *why = job_why__(job, "rereadsecrets");
        if (!nullable_string_equal(why, ls->secrets_error)) {
            LOG_WARN("%s", why);
        }
        free(ls->secrets_error);
        ls->secrets_error = why;
        ls->secrets_failed_gen = job->gen;
    }
    ls->step_pending = true;
}

static void
query_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    const char *out = process_stdout(job->proc, NULL);

    (void) ls;
    if (process_succeeded(job->proc)) {
        job->cb(job->aux, 0, out ? out : "");
    } else {
        char *why = job_why__(job, "ipsec status");
        job->cb(job->aux, job_no_pluto__(job) ? -ENOTCONN : -EIO, why);
        free(why);
    }
    job->cb = NULL;
}

static void
job_done__(struct ike_libreswan *ls, struct lsw_job *job)
{
    ls->event_seq++;
    LOG_DBG("%s%s%s: %s", cmd_name__(job->kind), job->conn ? " " : "",
            job->conn ? job->conn : "",
            process_succeeded(job->proc) ? "ok" : "failed");
    switch (job->kind) {
    case JOB_VERSION:
        version_done__(ls, job);
        break;
    case JOB_RESTART:
        restart_done__(ls, job);
        break;
    case JOB_PROBE:
        if (process_succeeded(job->proc)) {
            ls->ready = true;
            ls->step_pending = true;
            /* Not a reconcile: what is stale is known only once the
             * monitor applied what OVSDB asks for. */
            status_done__(ls, job, false);
        } else {
            pluto_lost__(ls, job_why__(job, "ipsec status"));
            ls->next_start = time_msec() + STATUS_POLL_MS;
        }
        break;
    case JOB_ADD:
        add_done__(ls, job);
        break;
    case JOB_UP:
        up_done__(ls, job);
        break;
    case JOB_DELETE:
        if (!process_succeeded(job->proc)) {
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(20, 20);
            char *what = xasprintf("delete %s", job->conn);
            char *why = job_why__(job, what);
            LOG_WARN_RL(&rl, "%s, retrying at the next reconcile", why);
            free(why);
            free(what);
        }
        break;
    case JOB_SECRETS:
        secrets_done__(ls, job);
        break;
    case JOB_STATUS:
        status_done__(ls, job, job->gen);
        break;
    case JOB_QUERY:
        query_done__(ls, job);
        break;
    default:
        break;
    }
}

/* True if queued 'job' may start now. */
static bool
job_startable__(const struct ike_libreswan *ls, const struct lsw_job *job)
{
    return (job->waits ? ls->n_waiting < MAX_WAITING_UPS
                       : ls->n_running < MAX_CHILDREN);
}

/* The first queued job that may start now, or NULL. */
static struct lsw_job *
job_next_startable__(const struct ike_libreswan *ls)
{
    struct lsw_job *job;

    if (ls->n_running >= MAX_CHILDREN && ls->n_waiting >= MAX_WAITING_UPS) {
        return NULL;
    }
    LIST_FOR_EACH (job, node, &ls->queue) {
        if (job_startable__(ls, job)) {
            return job;
        }
    }
    return NULL;
}

/* Starts queued jobs, in order, up to MAX_CHILDREN at once (and
 * MAX_WAITING_UPS waiting ups). */
static void
jobs_start__(struct ike_libreswan *ls)
{
    struct lsw_job *job;

    while ((job = job_next_startable__(ls)) != NULL) {
        ovs_list_remove(&job->node);
        bool status = (job->kind == JOB_STATUS || job->kind == JOB_PROBE
                       || job->kind == JOB_QUERY);
        struct process_options po = {
            .argv = (const char *const *) job->argv,
            .timeout_ms = ls->opts.command_timeout_ms,
            .max_output = status ? STATUS_OUTPUT_MAX : CMD_OUTPUT_MAX,
        };
        int error;

        if (LOG_IS_DBG_ENABLED()) {
            struct ds cmd = DS_EMPTY_INITIALIZER;
            for (size_t i = 0; job->argv[i]; i++) {
                ds_put_format(&cmd, "%s%s", i ? " " : "", job->argv[i]);
            }
            LOG_DBG("running %s", ds_cstr(&cmd));
            ds_destroy(&cmd);
        }
        ls->event_seq++;
        job->start_seq = ls->event_seq;
        job->start_at = time_msec();
        ls->n_commands++;
        error = process_start(&po, &job->proc);
        if (error) {
            /* As if it ran and failed: the program cannot be run. */
            char *why = xasprintf("cannot run %s: %s", job->argv[0],
                                  ovsec_strerror(error));
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
            LOG_WARN_RL(&rl, "%s", why);
            switch (job->kind) {
            case JOB_VERSION:
            case JOB_PROBE:
                pluto_lost__(ls, why);
                ls->next_start = time_msec() + STATUS_POLL_MS;
                why = NULL;
                break;
            case JOB_STATUS:
                ls->status_inflight = false;
                pluto_lost__(ls, why);
                why = NULL;
                break;
            case JOB_QUERY:
                job->cb(job->aux, error, why);
                break;
            case JOB_ADD: {
                struct lsw_tunnel *t = tunnel_find__(ls, job->tunnel);
                struct lsw_conn *c = conn_find__(t, job->conn);
                if (t && c && t->load_seq == job->load_seq
                    && t->load == LOAD_ADDING) {
                    c->adding = false;
                    t->n_inflight--;
                    if (!t->error) {
                        t->error = error;
                        t->why = why;
                        why = NULL;
                    }
                    ls->step_pending = true;
                }
                break;
            }
            case JOB_UP: {
                struct lsw_conn *c = conn_find__(tunnel_find__(ls,
                                                               job->tunnel),
                                                 job->conn);
                if (c) {
                    c->up_inflight = false;
                    c->next_up = time_msec() + INITIATE_BACKOFF_MS;
                }
                break;
            }
            case JOB_SECRETS:
                ls->secrets_inflight = false;
                ls->secrets_failed_gen = job->gen;
                free(ls->secrets_error);
                ls->secrets_error = why;
                why = NULL;
                ls->step_pending = true;
                break;
            case JOB_RESTART:
                ls->restarted = true;
                ls->next_start = time_msec();
                break;
            case JOB_DELETE:
            default:
                break;
            }
            free(why);
            job_destroy__(job);
            continue;
        }
        ovs_list_push_back(&ls->running, &job->node);
        if (job->waits) {
            ls->n_waiting++;
        } else {
            ls->n_running++;
        }
    }
}

/* Runs what is due: the secrets reread, the NSS sync, status polls. */
static void
schedule__(struct ike_libreswan *ls)
{
    if (!ls->ready) {
        return;
    }
    if (!ls->secrets_inflight && ls->pluto_running
        && ls->secrets_done_gen < ls->secrets_gen
        && ls->secrets_failed_gen < ls->secrets_gen) {
        struct lsw_job *job = xzalloc(sizeof *job);
        job->kind = JOB_SECRETS;
        job->gen = ls->secrets_gen;
        job->argv = cmd_argv__(ls, LIBRESWAN_CMD_REREADSECRETS, NULL);
        ls->secrets_inflight = true;
        job_queue__(ls, job);
    }
    if (time_msec() >= ls->next_status || ls->reconcile_pending
        || ls->status_wanted) {
        status_request__(ls);
    }
}

/* NSS. */

/* Tells the NSS syncer what the database should hold now. */
static void
nss_update__(struct ike_libreswan *ls)
{
    struct libreswan_nss_entry *entries;
    char **nicks;
    size_t n = 0, max = hmap_count(&ls->tunnels) + ls->n_ca_pems + 1;
    struct lsw_tunnel *t;

    if (!ls->nss) {
        return;
    }
    entries = xcalloc(max, sizeof *entries);
    nicks = xcalloc(max, sizeof *nicks);
    if (!ls->cleaning) {
        if (ls->cert_pem && ls->key_pem && ls->local_name) {
            nicks[n] = certkey_nick__(ls);
            entries[n].nickname = nicks[n];
            entries[n].cert_pem = ls->cert_pem;
            entries[n].key_pem = ls->key_pem;
            entries[n].trust = "u,u,u";
            n++;
        }
        /* Every certificate of the CA file (an intermediate and its
         * root, say) is a trust anchor, as the file says. */
        for (size_t i = 0; i < ls->n_ca_pems; i++) {
            nicks[n] = libreswan_nss_ca_name(i);
            entries[n].nickname = nicks[n];
            entries[n].cert_pem = ls->ca_pems[i];
            entries[n].trust = "CT,,";
            n++;
        }
        HMAP_FOR_EACH (t, node, &ls->tunnels) {
            if (t->auth != TUNNEL_AUTH_PEER_CERT || !t->remote_cert_pem
                || t->conf_error) {
                continue;
            }
            char *nick = xasprintf(LIBRESWAN_NSS_CERT_PREFIX "%s",
                                   t->remote_name);
            bool dup = false;
            for (size_t i = 0; i < n; i++) {
                dup |= !strcmp(nicks[i], nick);
            }
            if (dup) {
                /* Two tunnels to peers of the same name: one entry (the
                 * monitor refuses different certificates of one CN...
                 * if not, the first one in hash order wins). */
                free(nick);
                continue;
            }
            nicks[n] = nick;
            entries[n].nickname = nick;
            entries[n].cert_pem = t->remote_cert_pem;
            entries[n].trust = "P,P,P";
            n++;
        }
    }
    ls->nss_gen = libreswan_nss_set(ls->nss, entries, n);
    for (size_t i = 0; i < n; i++) {
        free(nicks[i]);
    }
    free(nicks);
    free(entries);
    ls->step_pending = true;
}

/* Class functions. */

static int
lsw_create(const struct ike_options *opts, const struct ike_hooks *hooks,
           struct ike_backend **ret)
{
    struct ike_libreswan *ls = xzalloc(sizeof *ls);
    const char *prefix = opts->root_prefix ? opts->root_prefix : "";

    ls->up.class = &ike_libreswan_class;
    ls->hooks = *hooks;
    ls->opts = *opts;
    ls->opts.root_prefix = prefix;
    ovs_list_init(&ls->queue);
    ovs_list_init(&ls->running);
    hmap_init(&ls->tunnels);
    hmap_init(&ls->stale);
    hmap_init(&ls->old_sections);

    ls->ipsec = xasprintf("%s" DEFAULT_IPSEC, prefix);
    ls->conf_path = xasprintf("%s%s", prefix, opts->ipsec_conf
                              ? opts->ipsec_conf : DEFAULT_IPSEC_CONF);
    ls->root_conf_path = xstrdup(opts->root_ipsec_conf
                                 ? opts->root_ipsec_conf : ls->conf_path);
    ls->own_root_conf = !strcmp(ls->root_conf_path, ls->conf_path);
    ls->secrets_path = xasprintf("%s%s", prefix, opts->ipsec_secrets
                                 ? opts->ipsec_secrets
                                 : DEFAULT_IPSEC_SECRETS);
    ls->ctl_path = xasprintf("%s%s", prefix, opts->ipsec_ctl
                             ? opts->ipsec_ctl : DEFAULT_IPSEC_CTL);
    if (opts->ipsec_d) {
        ls->nss_db = xasprintf("sql:%s%s", prefix, opts->ipsec_d);
    }
    ls->version = LIBRESWAN_V4;
    ls->next_start = LLONG_MIN;
    ls->next_status = LLONG_MAX;
    ls->pluto_running = true;   /* Until something says otherwise. */

    /* Before anything is written: what an earlier instance left.  After a
     * restart pluto holds none of it, but the connections of the old file
     * are still ours to delete should the restart not happen. */
    old_files_read__(ls);
    if (opts->restart_ike_daemon) {
        names_clear__(&ls->old_sections);
        secret_destroy(ls->old_secrets);
        ls->old_secrets = NULL;
    }
    *ret = &ls->up;
    return 0;
}

static void
lsw_destroy(struct ike_backend *up)
{
    struct ike_libreswan *ls;
    struct lsw_tunnel *t, *next;
    struct lsw_job *job;

    if (!up) {
        return;
    }
    ls = ike_libreswan_cast(up);
    LIST_FOR_EACH_POP (job, node, &ls->queue) {
        job_destroy__(job);
    }
    LIST_FOR_EACH_POP (job, node, &ls->running) {
        job_destroy__(job);
    }
    HMAP_FOR_EACH_SAFE (t, next, node, &ls->tunnels) {
        hmap_remove(&ls->tunnels, &t->node);
        tunnel_destroy__(t);
    }
    hmap_destroy(&ls->tunnels);
    names_clear__(&ls->stale);
    hmap_destroy(&ls->stale);
    names_clear__(&ls->old_sections);
    hmap_destroy(&ls->old_sections);
    secret_destroy(ls->old_secrets);
    libreswan_status_destroy(ls->status);
    libreswan_nss_destroy(ls->nss);
    free(ls->cert_pem);
    secret_destroy(ls->key_pem);
    ike_creds_free_pems(ls->ca_pems, ls->n_ca_pems);
    free(ls->local_name);
    free(ls->global_error);
    free(ls->ipsec);
    free(ls->conf_path);
    free(ls->root_conf_path);
    free(ls->secrets_path);
    free(ls->ctl_path);
    free(ls->nss_db);
    free(ls->pluto_error);
    free(ls->files_error);
    free(ls->secrets_error);
    free(ls);
}

static void
lsw_run(struct ike_backend *up)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_tunnel *t;
    struct lsw_job *job, *next;
    bool progress;

    ls->in_run = true;
    if (ls->reports_pending) {
        ls->reports_pending = false;
        HMAP_FOR_EACH (t, node, &ls->tunnels) {
            if (t->report_pending) {
                tunnel_report__(ls, t);
            }
        }
    }

    do {
        progress = false;
        LIST_FOR_EACH_SAFE (job, next, node, &ls->running) {
            if (process_run(job->proc)) {
                ovs_list_remove(&job->node);
                if (job->waits) {
                    ls->n_waiting--;
                } else {
                    ls->n_running--;
                }
                job_done__(ls, job);
                job_destroy__(job);
                progress = true;
            }
        }
        if (ls->nss) {
            uint64_t done = libreswan_nss_done_gen(ls->nss);
            libreswan_nss_run(ls->nss);
            if (libreswan_nss_done_gen(ls->nss) != done) {
                const char *err = libreswan_nss_error(ls->nss);
                if (err) {
                    static struct log_rate_limit rl
                        = LOG_RATE_LIMIT_INIT(5, 5);
                    LOG_WARN_RL(&rl, "NSS database %s: %s", ls->nss_db,
                                err);
                }
                ls->step_pending = true;
            }
        }
        startup_step__(ls);
        if (ls->files_dirty && ls->version_known) {
            files_write__(ls);
        }
        if (ls->step_pending) {
            tunnels_step__(ls);
        }
        ups_start__(ls);
        schedule__(ls);
        size_t before = ovs_list_size(&ls->queue);
        jobs_start__(ls);
        progress |= ovs_list_size(&ls->queue) != before;
    } while (progress);
    ls->in_run = false;
}

static void
lsw_wait(struct ike_backend *up)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    long long int next = ls->ready ? ls->next_status : ls->next_start;
    long long int now = time_msec();
    struct lsw_tunnel *t;
    struct lsw_job *job;

    LIST_FOR_EACH (job, node, &ls->running) {
        process_wait(job->proc);
    }
    if (ls->nss) {
        libreswan_nss_wait(ls->nss);
    }
    if (ls->reports_pending || ls->step_pending || ls->reconcile_pending
        || (ls->status_wanted && !ls->status_inflight)
        || (ls->files_dirty && ls->version_known)
        || job_next_startable__(ls)) {
        loop_immediate_wake();
    }
    if (ls->ready && ls->pluto_running && !ls->cleaning) {
        /* Times to come only: a connection that is due waits for a status
         * (run() asked for it), whose end wakes us. */
        HMAP_FOR_EACH (t, node, &ls->tunnels) {
            for (size_t i = 0; t->loaded && i < t->n_conns; i++) {
                const struct lsw_conn *c = &t->conns[i];
                if (c->added && !c->up_inflight && c->next_up > now) {
                    next = MIN(next, c->next_up);
                }
            }
        }
    }
    loop_timer_wait_until(next);
}

static char *
lsw_check_tunnel(const struct ike_backend *up, const struct tunnel *t)
{
    const struct ike_libreswan *ls = ike_libreswan_cast(up);
    const struct lsw_tunnel *other;
    char *msg = libreswan_check_tunnel(t->name, t->conf, ls->version);

    /* Against the tunnels applied already: the one that came first keeps
     * its PSK, this one is refused rather than given the wrong key. */
    HMAP_FOR_EACH (other, node, &ls->tunnels) {
        if (msg) {
            break;
        }
        if (other->conf && !other->conf_error
            && strcmp(other->name, t->name)) {
            msg = libreswan_psk_conflict(t->name, t->conf, other->name,
                                         other->conf);
        }
    }
    return msg;
}

/* What the key of the certificate in 'pem' signs with. */
static enum libreswan_sig
cert_sig__(const char *pem)
{
    enum libreswan_sig sig = LIBRESWAN_SIG_RSA;
    X509 *cert = NULL;
    char *why = NULL;

    if (pem && !x509_cert_from_pem(pem, strlen(pem), "certificate", &cert,
                                   &why)) {
        const EVP_PKEY *key = X509_get0_pubkey(cert);
        if (key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
            sig = LIBRESWAN_SIG_ECDSA;
        }
    }
    X509_free(cert);
    free(why);
    return sig;
}

static int
lsw_set_global(struct ike_backend *up, const struct global_conf *g)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct ike_creds creds = { .cert_pem = NULL };
    struct lsw_tunnel *t;
    char *why;

    if (ls->cleaning) {
        return -ECANCELED;
    }
    why = ike_creds_read(g, &creds);
    if (why && !g->cert_error
        && !nullable_string_equal(why, ls->global_error)) {
        LOG_WARN("%s", why);
    }
    /* Taken over from 'creds' below. */
    char *cert_pem = creds.cert_pem;
    struct secret *key = creds.key_pem;
    char **ca_pems = creds.ca_pems;
    size_t n_ca_pems = creds.n_ca_pems;
    const struct ike_creds held = {
        .ca_pems = ls->ca_pems, .n_ca_pems = ls->n_ca_pems,
    };

    /* What changed decides what is loaded again: pluto reads our
     * certificate (and finds its key) when a connection is added, so a
     * new certificate or key needs the certificate tunnels added again;
     * the CA is only looked up in NSS when a peer's certificate is
     * verified, so a new CA needs NSS alone. */
    bool local_changed = (!nullable_string_equal(cert_pem, ls->cert_pem)
                          || !secret_equal(key, ls->key_pem)
                          || !nullable_string_equal(key ? g->local_name
                                                        : NULL,
                                                    ls->local_name));
    bool ca_changed = !ike_creds_ca_equal(&creds, &held);
    enum libreswan_sig sig = cert_sig__(cert_pem);
    bool sig_changed = sig != ls->local_sig;
    free(ls->cert_pem);
    ike_creds_free_pems(ls->ca_pems, ls->n_ca_pems);
    secret_destroy(ls->key_pem);
    free(ls->local_name);
    free(ls->global_error);
    ls->cert_pem = cert_pem;
    ls->ca_pems = ca_pems;
    ls->n_ca_pems = n_ca_pems;
    ls->key_pem = key;
    ls->local_name = key ? nullable_xstrdup(g->local_name) : NULL;
    ls->global_error = why;
    ls->local_sig = sig;

    if (local_changed || ca_changed) {
        nss_update__(ls);
    }
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        if (t->auth == TUNNEL_AUTH_PSK || !(t->loaded
                                            || t->load != LOAD_IDLE)) {
            /* PSK tunnels use none of it; failed ones are retried by the
             * monitor. */
            continue;
        }
        if (sig_changed && t->conf) {
            /* authby= follows our key. */
            tunnel_apply__(ls, t->name, t->version, t->conf);
        }
        if (local_changed) {
            /* Added again once NSS holds the new certificate. */
            t->nss_gen = ls->nss_gen;
            tunnel_reload__(ls, t, true);
        } else if (ca_changed && t->load == LOAD_WAIT) {
            /* Not added yet: wait for the new CA. */
            t->nss_gen = ls->nss_gen;
        }
    }
    return why ? -EINVAL : 0;
}

/* Splits the rendered 'text' of a tunnel into the sections of its
 * connections. */
static void
conns_set_sections__(struct lsw_tunnel *t, const char *text)
{
    for (size_t i = 0; i < t->n_conns; i++) {
        char *head = xasprintf("conn %s\n", t->conns[i].name);
        const char *p = strstr(text, head);
        if (p && (p == text || p[-1] == '\n')) {
            const char *end = p + strlen(head);
            while (*end == ' ' || *end == '\t') {
                const char *e = strchr(end, '\n');
                end = e ? e + 1 : end + strlen(end);
            }
            t->conns[i].section = xmemdup0(p, end - p);
        } else {
            t->conns[i].section = xstrdup(text);
        }
        free(head);
    }
}

/* True if this end negotiates for a tunnel with 'c': its address is the
 * lower.  Without options:local_ip, the address is the one the kernel
 * would send from; if even that is unknown, the other end decides (or,
 * failing that, whichever end's grace runs out first). */
static bool
is_initiator__(const struct tunnel_conf *c)
{
    unsigned char a[16], b[16];
    int af = c->af == AF_INET6 ? AF_INET6 : AF_INET;

    if (inet_pton(af, c->remote_ip, b) != 1) {
        return false;
    }
    if (c->local_ip ? inet_pton(af, c->local_ip, a) != 1
                    : stream_route_source(af, b, a) != 0) {
        return false;
    }
    return memcmp(a, b, af == AF_INET ? 4 : 16) < 0;
}

/* Stores in '*version' the version in the name of a connection of tunnel
 * 'ifname' that the earlier instance's file holds (the highest, should it
 * hold several).  Returns false if it holds none. */
static bool
old_version__(const struct ike_libreswan *ls, const char *ifname,
              uint64_t *version)
{
    const struct lsw_name *n;
    bool found = false;

    HMAP_FOR_EACH (n, node, &ls->old_sections) {
        uint64_t v;
        if (libreswan_conn_name_match(n->name, ifname, NULL, &v)
            && (!found || v > *version)) {
            *version = v;
            found = true;
        }
    }
    return found;
}

/* Returns a new copy of 'c'; the caller frees it with
 * tunnel_conf_destroy(). */
static struct tunnel_conf *
conf_clone__(const struct tunnel_conf *c)
{
    struct tunnel_conf *copy = xzalloc(sizeof *copy);

    copy->type = c->type;
    copy->af = c->af;
    copy->local_ip = nullable_xstrdup(c->local_ip);
    copy->remote_ip = nullable_xstrdup(c->remote_ip);
    copy->auth = c->auth;
    copy->psk = c->psk ? secret_clone(c->psk) : NULL;
    copy->remote_cert = nullable_xstrdup(c->remote_cert);
    copy->remote_name = nullable_xstrdup(c->remote_name);
    copy->certificate = nullable_xstrdup(c->certificate);
    copy->private_key = nullable_xstrdup(c->private_key);
    copy->ca_cert = nullable_xstrdup(c->ca_cert);
    copy->local_name = nullable_xstrdup(c->local_name);
    memcpy(copy->remote_cert_digest, c->remote_cert_digest,
           sizeof copy->remote_cert_digest);
    smap_clone(&copy->ipsec_options, &c->ipsec_options);
    return copy;
}

/* Renders tunnel 'name' at 'version' with 'c' and starts loading it (see
 * lsw_tunnel_apply()). */
static void
tunnel_apply__(struct ike_libreswan *ls, const char *name, uint64_t version,
               const struct tunnel_conf *c)
{
    char *names[2] = { NULL, NULL };
    struct ds text = DS_EMPTY_INITIALIZER;
    struct ds line = DS_EMPTY_INITIALIZER;
    char *remote_cert_pem = NULL;
    struct tunnel_conf *conf_copy = conf_clone__(c);
    struct lsw_tunnel *t;
    size_t n_names;

    /* 'c' may be the copy 't' holds, replaced below. */
    c = conf_copy;

    t = tunnel_find__(ls, name);
    if (!t) {
        t = xzalloc(sizeof *t);
        t->name = xstrdup(name);
        hmap_insert(&ls->tunnels, &t->node, hash_string(t->name, 0));
    }

    bool initiator = is_initiator__(c);
    struct libreswan_conf_options o = conf_options__(ls, initiator);
    char *conf_error = libreswan_conf_tunnel(&o, name, version, c,
                                             &text);
    if (!conf_error && c->auth == TUNNEL_AUTH_PSK) {
        conf_error = libreswan_secrets_tunnel(name, c, &line);
    }
    if (!conf_error && c->auth == TUNNEL_AUTH_PEER_CERT) {
        conf_error = ike_creds_read_cert("options:remote_cert",
                                         c->remote_cert, &remote_cert_pem);
    }
    /* After a restart of ours, the tunnel's connections in pluto carry the
     * version the earlier instance gave it, which need not be ours (the
     * monitor counts versions from 1 again): keep its names, so that the
     * connections can be adopted (conn_adoptable__() still compares the
     * definitions); a changed definition replaces the one of that name. */
    uint64_t conn_version = version;
    if (!t->conn_text && !conf_error
        && old_version__(ls, name, &conn_version)
        && conn_version != version) {
        ds_clear(&text);
        conf_error = libreswan_conf_tunnel(&o, name, conn_version, c,
                                           &text);
    }
    n_names = libreswan_conn_names(name, c->type, conn_version, names);

    /* The same definitions as before (the monitor retrying a failed
     * tunnel): the connections pluto holds stay as they are.  Otherwise
     * they are added anew (which replaces a definition of the same name)
     * and those under other names go. */
    bool same = (t->conn_text && !conf_error
                 && !strcmp(t->conn_text, ds_cstr(&text)));
    if (!same) {
        for (size_t i = 0; i < t->n_conns; i++) {
            bool renamed = true;
            for (size_t j = 0; j < n_names; j++) {
                renamed &= strcmp(t->conns[i].name, names[j]) != 0;
            }
            if (renamed && (t->conns[i].added || t->conns[i].adding)) {
                conn_withdraw__(ls, t->conns[i].name);
            }
        }
        conns_clear__(t);
        t->n_conns = n_names;
        for (size_t i = 0; i < n_names; i++) {
            struct lsw_conn *nc = &t->conns[i];
            nc->name = names[i];
            names[i] = NULL;
            libreswan_conn_name_match(nc->name, name, &nc->kind, NULL);
            nc->next_up = LLONG_MAX;
            nc->last_up_at = LLONG_MIN;
            nc->retry_delay = RETRY_MIN_MS;
        }
        /* "-out" first: the other rides on its IKE SA. */
        if (t->n_conns == 2 && t->conns[0].kind == LIBRESWAN_CONN_IN) {
            struct lsw_conn tmp = t->conns[0];
            t->conns[0] = t->conns[1];
            t->conns[1] = tmp;
        }
        if (!conf_error) {
            conns_set_sections__(t, ds_cstr(&text));
        }
    }
    for (size_t i = 0; i < n_names; i++) {
        free(names[i]);
    }

    free(t->conn_text);
    secret_destroy(t->secrets_line);
    free(t->conf_error);
    free(t->remote_ip);
    free(t->remote_name);
    free(t->remote_cert_pem);
    tunnel_conf_destroy(t->conf);
    t->conf = conf_copy;
    t->version = version;
    t->type = c->type;
    t->auth = c->auth;
    t->remote_ip = xstrdup(c->remote_ip);
    t->remote_name = nullable_xstrdup(c->remote_name);
    t->remote_cert_pem = remote_cert_pem;
    t->initiator = initiator;
    t->conf_error = conf_error;
    t->conn_text = conf_error ? NULL : ds_steal_cstr(&text);
    t->secrets_line = (line.length
                       ? secret_create(line.string, line.length) : NULL);
    ds_destroy(&text);
    ds_destroy_secure(&line);

    ls->files_dirty = true;
    if (t->auth == TUNNEL_AUTH_PEER_CERT) {
        nss_update__(ls);
    }
    t->nss_gen = ls->nss_gen;
    tunnel_load__(ls, t);
}

static int
lsw_tunnel_apply(struct ike_backend *up, const struct tunnel *tun)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);

    if (!tun->conf) {
        return -EINVAL;
    }
    if (ls->cleaning) {
        return -ECANCELED;
    }
    tunnel_apply__(ls, tun->name, tun->version, tun->conf);
    return 0;
}

static int
lsw_tunnel_remove(struct ike_backend *up, const char *name)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_tunnel *t = tunnel_find__(ls, name);
    bool cert;

    if (!t) {
        return -ENOENT;
    }
    for (size_t i = 0; i < t->n_conns; i++) {
        conn_withdraw__(ls, t->conns[i].name);
    }
    cert = t->auth == TUNNEL_AUTH_PEER_CERT;
    hmap_remove(&ls->tunnels, &t->node);
    tunnel_destroy__(t);
    ls->files_dirty = true;
    if (cert) {
        nss_update__(ls);
    }
    return 0;
}

static int
lsw_reconcile(struct ike_backend *up)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);

    if (ls->cleaning) {
        return -ECANCELED;
    }
    if (!ls->ready) {
        return ls->version_known ? -EAGAIN : -ENOTCONN;
    }
    /* A failed reread is tried again, and NSS is read back (someone may
     * have edited it). */
    ls->secrets_failed_gen = 0;
    if (ls->nss && libreswan_nss_idle(ls->nss)) {
        ls->nss_gen = libreswan_nss_check(ls->nss);
    }
    ls->reconcile_pending = true;
    return 0;
}

/* Show. */

static void
lsw_show_tunnel(const struct ike_backend *up, const char *name,
                struct ds *out)
{
    const struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_tunnel *t = tunnel_find__(ls, name);

    for (size_t i = 0; t && ls->status && i < t->n_conns; i++) {
        const struct libreswan_conn_state *st
            = libreswan_status_find(ls->status, t->conns[i].name);
        if (st) {
            ds_put_cstr(out, "  ");
            libreswan_conn_state_format(st, out);
            ds_put_char(out, '\n');
        }
        if (t->conns[i].failure && !(st && st->esp_established)) {
            ds_put_format(out, "    last attempt failed: %s\n",
                          t->conns[i].failure);
        }
    }
}

static bool
lsw_tunnel_is_up(const struct ike_backend *up, const char *name)
{
    const struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_tunnel *t = tunnel_find__(ls, name);

    if (!t || !t->loaded || !ls->status || !ls->pluto_running
        || !t->n_conns) {
        return false;
    }
    for (size_t i = 0; i < t->n_conns; i++) {
        if (!libreswan_status_conn_is_up(ls->status, t->conns[i].name)) {
            return false;
        }
    }
    return true;
}

static void
lsw_show_summary(const struct ike_backend *up, struct ds *out)
{
    const struct ike_libreswan *ls = ike_libreswan_cast(up);
    const struct lsw_tunnel *t;
    size_t n_loaded = 0;

    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        n_loaded += t->loaded;
    }
    ds_put_format(out, "IKE daemon: Libreswan pluto over %s: %s",
                  ls->ctl_path,
                  !ls->version_known ? "version unknown"
                  : !ls->ready ? "starting"
                  : ls->pluto_running ? "running" : "not running");
    if (ls->version_known) {
        ds_put_format(out, ", Libreswan %d.%d (%s syntax)",
                      ls->version_major, ls->version_minor,
                      libreswan_version_to_string(ls->version));
    }
    ds_put_char(out, '\n');
    ds_put_format(out, "ipsec.conf: %s", ls->conf_path);
    if (!ls->own_root_conf) {
        ds_put_format(out, " (included by %s)", ls->root_conf_path);
    }
    ds_put_format(out, ", secrets: %s\n", ls->secrets_path);
    ds_put_format(out, "tunnels: %zu, loaded: %zu, commands running: %zu "
                  "(and %zu retries waiting for their outcome), queued: %zu, "
                  "adds: %"PRIu64", deletes: %"PRIu64", ups: "
                  "%"PRIu64", commands: %"PRIu64"\n",
                  hmap_count(&ls->tunnels), n_loaded, ls->n_running,
                  ls->n_waiting,
                  ovs_list_size(&ls->queue), ls->n_adds, ls->n_deletes,
                  ls->n_ups, ls->n_commands);
    if (ls->nss) {
        libreswan_nss_format(ls->nss, out);
        ds_put_char(out, '\n');
    }
    if (ls->pluto_error) {
        ds_put_format(out, "last error: %s\n", ls->pluto_error);
    }
    if (ls->files_error) {
        ds_put_format(out, "files: %s\n", ls->files_error);
    }
    if (ls->secrets_error) {
        ds_put_format(out, "secrets: %s\n", ls->secrets_error);
    }
    if (ls->global_error) {
        ds_put_format(out, "credentials: %s\n", ls->global_error);
    }
}

static int
lsw_query_status(struct ike_backend *up, ike_status_cb *cb, void *aux)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_job *job;

    if (!ls->version_known) {
        return -ENOTCONN;
    }
    job = xzalloc(sizeof *job);
    job->kind = JOB_QUERY;
    job->argv = cmd_argv__(ls, LIBRESWAN_CMD_STATUS, NULL);
    job->cb = cb;
    job->aux = aux;
    job_queue__(ls, job);
    return 0;
}

static int
lsw_cleanup(struct ike_backend *up)
{
    struct ike_libreswan *ls = ike_libreswan_cast(up);
    struct lsw_tunnel *t;
    struct lsw_job *job, *next;

    ls->cleaning = true;
    /* Nothing queued is wanted any more, but a status query's caller
     * waits for its answer. */
    LIST_FOR_EACH_SAFE (job, next, node, &ls->queue) {
        if (job->kind == JOB_QUERY) {
            continue;
        }
        if (job->kind == JOB_STATUS) {
            ls->status_inflight = false;
        } else if (job->kind == JOB_SECRETS) {
            ls->secrets_inflight = false;
        }
        ovs_list_remove(&job->node);
        job_destroy__(job);
    }
    if (!ls->version_known) {
        return -ENOTCONN;
    }
    /* Whatever was on the way to 'ready' does not matter any more. */
    ls->ready = true;
    HMAP_FOR_EACH (t, node, &ls->tunnels) {
        for (size_t i = 0; i < t->n_conns; i++) {
            if (t->conns[i].added || t->conns[i].adding) {
                names_add__(&ls->stale, t->conns[i].name, NULL);
            }
            t->conns[i].added = t->conns[i].adding = false;
        }
        t->loaded = false;
        t->load = LOAD_IDLE;
    }
    struct lsw_name *n;
    HMAP_FOR_EACH (n, node, &ls->stale) {
        struct lsw_job *del = xzalloc(sizeof *del);
        del->kind = JOB_DELETE;
        del->conn = xstrdup(n->name);
        del->argv = cmd_argv__(ls, LIBRESWAN_CMD_DELETE, n->name);
        ls->n_deletes++;
        job_queue__(ls, del);
    }
    names_clear__(&ls->stale);
    /* Empty files; run() has pluto forget the secrets. */
    files_write__(ls);
    ls->secrets_failed_gen = 0;
    nss_update__(ls);
    return 0;
}

static bool
lsw_idle(const struct ike_backend *up)
{
    const struct ike_libreswan *ls = ike_libreswan_cast(up);

    /* Retries waiting for their outcome do not count: they may wait for
     * minutes for a peer that does not answer. */
    return (!job_next_startable__(ls) && !ls->n_running
            && (!ls->nss || libreswan_nss_idle(ls->nss)));
}

const struct ike_backend_class ike_libreswan_class = {
    .name = "libreswan",
    .create = lsw_create,
    .destroy = lsw_destroy,
    .run = lsw_run,
    .wait = lsw_wait,
    .check_tunnel = lsw_check_tunnel,
    .set_global = lsw_set_global,
    .tunnel_apply = lsw_tunnel_apply,
    .tunnel_remove = lsw_tunnel_remove,
    .reconcile = lsw_reconcile,
    .show_tunnel = lsw_show_tunnel,
    .tunnel_is_up = lsw_tunnel_is_up,
    .show_summary = lsw_show_summary,
    .query_status = lsw_query_status,
    .cleanup = lsw_cleanup,
    .idle = lsw_idle,
};
