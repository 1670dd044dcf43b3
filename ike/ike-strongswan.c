/* SPDX-License-Identifier: Apache-2.0
 *
 * ike-strongswan: the strongSwan backend.  Drives charon over its VICI
 * socket: one IKE connection per tunnel, named after the interface, with
 * transport-mode children whose traffic selectors are the tunnel's
 * protocol and port (gre: one child NAME; geneve and vxlan: NAME-in and
 * NAME-out, so that the peer may use any source port).  PSKs go in with
 * load-shared under the id "ovs-psk-NAME"; the local private key with
 * load-key; certificates travel inside each connection.
 *
 * Certificates reach charon only as OpenSSL re-encoded them from what it
 * parsed, never as the bytes of the file: a file that holds a private key
 * next to the certificate (a common "combined PEM") must not send the key
 * in a connection's "certs", where nothing redacts it.  Our certificate
 * and options:remote_cert contribute their first certificate (the one the
 * monitor checked); other_config:ca_cert may be a bundle, each CA its own
 * "cacerts" item.  A VICI value holds at most 65535 bytes, so a larger
 * certificate is refused, naming the column, and so is a CA bundle too
 * large for a load-conn message.
 *
 * Owns: the VICI client, its copy of every applied tunnel, the global
 * credentials, and a cache of charon's IKE and CHILD SAs of our own
 * connections, kept current from ike-updown/child-updown/ike-rekey/
 * child-rekey events and replaced by each list-sas.
 *
 * Nothing blocks: every request is queued on the VICI client, which
 * enforces the command timeout, and answered through callbacks from
 * vici_client_run().  charon answers one client's requests in order,
 * which the code below relies on: a list-sas sent after a load-conn lists
 * the SAs as they are once that connection is loaded.
 *
 * What charon 5.9 does, and what follows from it:
 *  - A load-conn whose content is identical to the loaded connection
 *    leaves it and its SAs alone ("updated vici connection").  Reloading
 *    everything after a charon restart, and adopting what an earlier
 *    instance of ours loaded, is therefore safe.
 *  - A load-conn with different content replaces the connection but
 *    leaves its IKE SAs running on the old definition, and unload-conn
 *    leaves them running too.  So when a tunnel's content changes, the
 *    backend terminates the connection's IKE SAs after loading the new
 *    one and initiates afresh, and it terminates them after unloading.
 *    The content is compared through a digest of the load-conn message
 *    without its certificates, and the PSK: rotated certificates (same
 *    identities) are loaded without disturbing established SAs.
 *  - "swanctl --load-all" (run when strongSwan's service starts or is
 *    reloaded) unloads every connection, shared secret and private key
 *    that is not in swanctl.conf.  Reconcile therefore checks all three
 *    (list-conns, get-shared, get-keys) and reloads what is missing.
 *  - initiate and terminate with timeout -1 answer at once.
 *
 * Reconcile unloads connections that nobody asked for, but only those
 * that are unmistakably ours: the operator may have connections of their
 * own in swanctl.conf, and strongSwan's transport-mode example
 * ("host-host", with a child of the same name) has our naming.  Ours are
 * IKEv2 with one local and one literal remote address, and children in
 * transport mode with exactly the traffic selectors we load, as charon
 * 5.9 lists them: for GRE one child NAME with local-ts and remote-ts
 * "dynamic[gre]"; for geneve (vxlan) NAME-in with local-ts
 * "dynamic[udp/6081]" ("dynamic[udp/4789]") and remote-ts "dynamic[udp]",
 * and NAME-out the other way round.  No other option can change those
 * (stroke-map refuses the ipsec_* options that would), so nothing we load
 * escapes the test, and an operator's connection passes it only if it is
 * shaped exactly like an OVS tunnel.  Shared secrets "ovs-psk-NAME" that
 * no PSK tunnel wants are unloaded too; nobody else uses that prefix.
 *
 * After cleanup() (exit without --no-cleanup) nothing is loaded again:
 * tunnel_apply(), set_global() and reconcile() return -ECANCELED, and a
 * private key whose load-key was in flight is unloaded when charon
 * answers, so that charon is left without anything of ours.
 *
 * The outbound child (NAME-out, or NAME for the GRE end with the lower
 * address) is initiated once its connection is loaded and a list-sas
 * answered after the load shows it down, so that a restart of ours does
 * not create duplicate CHILD_SAs.  When an SA of it goes down, it is
 * checked the same way after RETRY_MIN_MS, doubling up to
 * INITIATE_BACKOFF_MS while it keeps failing; reconcile also initiates it
 * when it is down, at most every INITIATE_BACKOFF_MS.
 *
 * Hooks are called from run() only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include "ds.h"
#include "fingerprint.h"
#include "global-conf.h"
#include "ike-creds.h"
#include "hmap.h"
#include "ike.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "secret.h"
#include "stream.h"
#include "stroke-map.h"
#include "timeval.h"
#include "tunnel.h"
#include "util.h"
#include "vici-client.h"
#include "vici.h"
#include "x509.h"

LOG_MODULE(strongswan);

#define PSK_ID_PREFIX "ovs-psk-"
#define DEFAULT_IKE_PROPOSAL "aes256gcm16-sha256-modp2048"
#define DEFAULT_ESP_PROPOSAL "aes256gcm16-modp2048"
/* Do not initiate a connection again sooner than this after the last
 * attempt, so that a connection still coming up is left alone. */
#define INITIATE_BACKOFF_MS 30000
/* After an SA of an initiating tunnel goes down, check it and initiate
 * again after this long, doubling on each failure up to
 * INITIATE_BACKOFF_MS: charon retries timeouts forever (keyingtries 0),
 * but not a peer that refused (not configured yet, wrong PSK...). */
#define RETRY_MIN_MS 1000
/* Tunnels whose loads are in flight at once, at most (each load is one or
 * two pipelined requests).  The rest wait in 'load_queue', their messages
 * not yet built: thousands of tunnels applied at once (at start, or after
 * charon restarted) neither sit in memory as thousands of encoded
 * messages nor queue up in charon. */
#define MAX_LOADS_IN_FLIGHT 32
/* Removals wait in 'withdraw_queue' while this many requests are in
 * flight: deleting thousands of tunnels at once otherwise queues three
 * encoded requests each. */
#define MAX_WITHDRAW_BACKLOG 64
/* Caps on the SA cache, which peers can make charon grow: IKE SAs kept
 * per connection and CHILD SAs per IKE SA.  charon normally has one or
 * two of each (two while rekeying). */
#define MAX_IKE_SAS_PER_CONN 8
#define MAX_CHILD_SAS_PER_IKE_SA 16
/* Largest VICI value, e.g. one certificate in PEM form. */
#define VICI_VALUE_MAX 65535
/* Most bytes of CA certificates in PEM form that a load-conn carries: the
 * rest (our certificate, at most VICI_VALUE_MAX, and the settings) must
 * fit in a VICI_MAX_PACKET message with room to spare. */
#define CA_BUNDLE_MAX (256 * 1024)

static const char *const vici_events[] = {
    "ike-updown", "child-updown", "ike-rekey", "child-rekey", NULL
};

/* charon reports why a negotiation failed only in its log (at level 1 or
 * less, which is what it sends as VICI "log" events).  Messages of a
 * tunnel's IKE SA that contain one of these are kept as the tunnel's
 * last IKE failure, for tunnels/show, until an IKE or CHILD SA of the
 * tunnel comes up.
 *
 * The log comes over a connection of its own, read at most every
 * LOG_READ_INTERVAL_MS: charon logs every retransmission, so while peers
 * do not answer (thousands of tunnels towards hosts that are down) it
 * would otherwise wake the daemon hundreds of times a second, for
 * messages that only tunnels/show looks at.  SA events stay prompt on
 * the main connection. */
static const char *const vici_log_events[] = { "log", NULL };
#define LOG_READ_INTERVAL_MS 2000
static const char *const ike_failure_markers[] = {
    "AUTHENTICATION_FAILED",        /* The peer rejected our AUTH. */
    "MAC mismatched",               /* We rejected the peer's PSK AUTH. */
    "no shared key found",
    "signature validation failed",
    "no trusted",                   /* No trusted key/cert for the peer. */
    "constraint check failed",
    "NO_PROPOSAL_CHOSEN",
    "no acceptable proposal",
    "TS_UNACCEPTABLE",
    "peer not responding",
    "giving up after",
    NULL
};
/* Longest failure message kept. */
#define IKE_FAILURE_MAX 200

/* A tunnel's removal from charon, waiting for room (MAX_WITHDRAW_BACKLOG). */
struct ss_withdrawal {
    struct hmap_node node;          /* In 'withdrawals', by name. */
    struct ovs_list list_node;      /* In 'withdraw_queue', oldest first. */
    char *name;                     /* Connection name. */
    bool psk;                       /* Its shared secret goes too. */
};

/* One tunnel as applied to charon. */
struct ss_tunnel {
    struct hmap_node node;          /* In 'tunnels', by 'name'. */
    char *name;                     /* Interface and connection name. */
    uint64_t version;               /* Version being or last applied. */

    /* Copy of the configuration. */
    enum tunnel_type type;
    char *local_ip;                 /* NULL for any. */
    char *remote_ip;
    enum tunnel_auth auth;
    struct secret *psk;             /* PSK mode. */
    char *local_name;               /* Certificate modes: identities. */
    char *remote_name;
    char *remote_cert_pem;          /* TUNNEL_AUTH_PEER_CERT: the peer's
                                     * certificate, re-encoded. */
    struct stroke_map opts;         /* Translated ipsec_* options. */
    bool initiator;                 /* We start the outbound child. */
    char *conf_error;               /* Set by tunnel_apply() when the
                                     * configuration cannot be loaded. */

    /* Loading. */
    uint64_t load_seq;              /* Current load; answers to earlier
                                     * loads are ignored. */
    unsigned int n_inflight;        /* Its requests not yet answered. */
    bool loading;                   /* Holds one of MAX_LOADS_IN_FLIGHT. */
    bool queued;                    /* In 'load_queue', waiting for one. */
    struct ovs_list queue_node;     /* In 'load_queue' if 'queued'. */
    int error;                      /* First failure among them. */
    char *why;                      /* Its text. */
    bool refused;                   /* charon (or we) refused the load, as
                                     * opposed to losing the connection. */
    bool loaded;                    /* charon acknowledged the load. */
    bool replace;                   /* The load changes what charon held:
                                     * its SAs are being terminated. */
    struct fingerprint digest;      /* Of the content charon holds. */
    struct fingerprint new_digest;  /* Of the content being loaded. */
    bool has_digest;                /* 'digest' is valid. */
    bool psk_loaded;                /* charon may hold "ovs-psk-NAME"
                                     * (kept across reconnects: charon
                                     * may have outlived the socket). */

    bool report_pending;            /* tunnel_done is owed from run(). */

    /* Initiating. */
    bool want_initiate;             /* Initiate unless the next SA listing
                                     * shows the outbound child. */
    long long int next_initiate;    /* Earliest next initiate. */
    long long int retry_at;         /* Check and initiate then, after an
                                     * SA went down; LLONG_MAX if not. */
    long long int retry_delay;      /* Next delay for 'retry_at'. */

    /* Why negotiations fail, from charon's log; NULL once an SA of the
     * tunnel came up. */
    char *ike_failure;
    long long int ike_failure_at;   /* time_msec() when it was logged. */
};

/* A CHILD_SA in the cache. */
struct ss_child_sa {
    char *name;                     /* Child config name. */
    char *uniqueid;
    char *state;                    /* INSTALLED, REKEYING, ... */
    char *mode;                     /* TRANSPORT, ... */
    char *reqid;
    char *spi_in, *spi_out;
    char *encr;                     /* "AES_GCM_16-256" or NULL. */
};

/* An IKE_SA in the cache. */
struct ss_ike_sa {
    struct hmap_node node;          /* In 'sas', by 'conn'. */
    char *conn;                     /* Connection name. */
    char *uniqueid;
    char *state;                    /* ESTABLISHED, CONNECTING, ... */
    char *local_host, *local_id;
    char *remote_host, *remote_id;
    struct ss_child_sa *children;
    size_t n_children;
};

struct ike_strongswan {
    struct ike_backend up;
    struct ike_hooks hooks;
    struct ike_options opts;        /* Strings not owned (from main). */
    struct vici_client *vici;
    struct vici_client *vici_log;   /* Only charon's "log" events. */
    bool connected;
    bool destroying;                /* Callbacks must not touch state. */
    bool in_run;                    /* Inside run(): hooks may be called. */
    bool reports_pending;           /* Some tunnel's report_pending. */
    long long int next_retry;       /* No tunnel's 'retry_at' is earlier
                                     * (LLONG_MAX: none is set), so that
                                     * run() and wait() need not look at
                                     * every tunnel on every wakeup. */
    char *charon_version;           /* From "version", for status. */

    struct hmap tunnels;            /* "struct ss_tunnel"s by name. */
    uint64_t load_seq;              /* Last ss_tunnel.load_seq given. */

    /* SA cache, of our connections only. */
    struct hmap sas;                /* "struct ss_ike_sa"s by conn. */
    struct hmap new_sas;            /* list-sas being collected. */
    unsigned int n_list_sas;        /* list-sas requests in flight. */

    /* Global credentials.  Certificates are PEM re-encoded by OpenSSL. */
    char *cert_pem;                 /* Local certificate, or NULL. */
    char **ca_pems;                 /* CA certificates, 'n_ca_pems'. */
    size_t n_ca_pems;
    struct secret *key_pem;         /* Local private key, or NULL. */
    char *key_path;                 /* other_config:private_key, for
                                     * messages; NULL if no key. */
    char *local_name;               /* CN of the local certificate. */
    char *global_error;             /* Why there is no key, or NULL. */
    char *key_id;                   /* charon's id of our key, or NULL. */
    char *key_error;                /* Why load-key failed, or NULL. */

    /* Reconcile. */
    bool reconciling;               /* Its requests are in flight. */
    unsigned int rc_pending;        /* Checks not answered yet. */
    bool rc_conns_ok;               /* 'seen_conns' is complete. */
    bool rc_shared_ok;              /* 'seen_shared' is complete. */
    bool rc_keys_ok;                /* 'rc_key_present' is valid. */
    bool rc_key_present;            /* get-keys listed 'key_id'. */
    struct hmap seen_conns;         /* From list-conns (ss_name). */
    struct hmap seen_shared;        /* From get-shared (ss_name). */
    bool cleaning;                  /* cleanup() was called. */

    uint64_t n_loads, n_unloads, n_initiates;   /* Counters. */
    uint64_t n_log_sent;            /* By earlier log connections. */
    struct ovs_list load_queue;     /* ss_tunnels waiting to load. */
    bool list_sas_wanted;           /* Loaded tunnels wait for a listing
                                     * to decide whether to initiate. */
    struct hmap withdrawals;        /* ss_withdrawals by name... */
    struct ovs_list withdraw_queue; /* ...and in order. */
    unsigned int n_loading;         /* ss_tunnels with 'loading'. */
};

/* A name in a set. */
struct ss_name {
    struct hmap_node node;          /* In its set, by 'name'. */
    char *name;                     /* Connection or credential id. */
    bool ours;                      /* Looks like one of our connections. */
};

enum ss_req_kind {
    SS_REQ_LOAD,                    /* Part of loading a tunnel. */
    SS_REQ_OTHER,                   /* Result only logged. */
};

/* Context of one request. */
struct ss_req {
    struct ike_strongswan *ss;
    enum ss_req_kind kind;
    char *tunnel;                   /* Tunnel name or NULL. */
    uint64_t load_seq;              /* SS_REQ_LOAD: the tunnel's load. */
    const char *what;               /* "load-conn", ... for messages. */
    bool quiet;                     /* Failure is normal (nothing to
                                     * unload or terminate): DBG only. */
};

static void initiate__(struct ike_strongswan *, struct ss_tunnel *);
static void on_log_event__(void *ss_, const struct vici_msg *);
static void list_sas__(struct ike_strongswan *);
static void withdraw__(struct ike_strongswan *, const char *name,
                       bool psk);

static struct ike_strongswan *
ike_strongswan_cast(const struct ike_backend *up)
{
    return CONTAINER_OF(up, struct ike_strongswan, up);
}

/* Names. */

/* The traffic selector of any UDP port, for the far end of a geneve or
 * vxlan child: the sender may pick any source port. */
#define UDP_ANY_TS "dynamic[udp]"

/* The traffic selector of the tunnel protocol 'type' on this end. */
static const char *
tunnel_proto_ts__(enum tunnel_type type)
{
    switch (type) {
    case TUNNEL_GRE:
        return "dynamic[gre]";
    case TUNNEL_GENEVE:
        return "dynamic[udp/6081]";
    case TUNNEL_VXLAN:
        return "dynamic[udp/4789]";
    case TUNNEL_TYPE_N:
    default:
        break;
    }
    return "dynamic";
}

/* Name of the child that carries our outbound traffic: NAME-out, or NAME
 * for GRE.  Returns a new string. */
static char *
out_child_name__(const struct ss_tunnel *t)
{
    return t->type == TUNNEL_GRE ? xstrdup(t->name)
                                 : xasprintf("%s-out", t->name);
}

/* Sets of names. */

static void
names_add__(struct hmap *names, const char *name, bool ours)
{
    struct ss_name *n = xzalloc(sizeof *n);
    n->name = xstrdup(name);
    n->ours = ours;
    hmap_insert(names, &n->node, hash_string(n->name, 0));
}

static bool
names_contain__(const struct hmap *names, const char *name)
{
    struct ss_name *n;

    HMAP_FOR_EACH_WITH_HASH (n, node, hash_string(name, 0), names) {
        if (!strcmp(n->name, name)) {
            return true;
        }
    }
    return false;
}

static void
names_remove__(struct hmap *names, const char *name)
{
    struct ss_name *n;

    HMAP_FOR_EACH_WITH_HASH (n, node, hash_string(name, 0), names) {
        if (!strcmp(n->name, name)) {
            hmap_remove(names, &n->node);
            free(n->name);
            free(n);
            return;
        }
    }
}

static void
names_clear__(struct hmap *names)
{
    struct ss_name *n, *next;

    HMAP_FOR_EACH_SAFE (n, next, node, names) {
        hmap_remove(names, &n->node);
        free(n->name);
        free(n);
    }
}

/* Tunnels. */

static struct ss_tunnel *
ss_tunnel_find(const struct ike_strongswan *ss, const char *name)
{
    struct ss_tunnel *t;

    HMAP_FOR_EACH_WITH_HASH (t, node, hash_string(name, 0), &ss->tunnels) {
        if (!strcmp(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

static void
ss_tunnel_clear_conf(struct ss_tunnel *t)
{
    free(t->local_ip);
    free(t->remote_ip);
    secret_destroy(t->psk);
    free(t->local_name);
    free(t->remote_name);
    free(t->remote_cert_pem);
    free(t->conf_error);
    stroke_map_destroy(&t->opts);
    t->local_ip = t->remote_ip = NULL;
    t->psk = NULL;
    t->local_name = t->remote_name = t->remote_cert_pem = NULL;
    t->conf_error = NULL;
}

static void
ss_tunnel_destroy(struct ss_tunnel *t)
{
    if (t) {
        ss_tunnel_clear_conf(t);
        free(t->why);
        free(t->ike_failure);
        free(t->name);
        free(t);
    }
}

/* SA cache. */

static void
ss_child_sa_clear(struct ss_child_sa *c)
{
    free(c->name);
    free(c->uniqueid);
    free(c->state);
    free(c->mode);
    free(c->reqid);
    free(c->spi_in);
    free(c->spi_out);
    free(c->encr);
    memset(c, 0, sizeof *c);
}

static void
ss_ike_sa_destroy(struct ss_ike_sa *sa)
{
    if (sa) {
        for (size_t i = 0; i < sa->n_children; i++) {
            ss_child_sa_clear(&sa->children[i]);
        }
        free(sa->children);
        free(sa->conn);
        free(sa->uniqueid);
        free(sa->state);
        free(sa->local_host);
        free(sa->local_id);
        free(sa->remote_host);
        free(sa->remote_id);
        free(sa);
    }
}

static void
sas_clear__(struct hmap *sas)
{
    struct ss_ike_sa *sa, *next;

    HMAP_FOR_EACH_SAFE (sa, next, node, sas) {
        hmap_remove(sas, &sa->node);
        ss_ike_sa_destroy(sa);
    }
}

/* Removes the IKE SAs of connection 'conn' from 'sas'. */
static void
sas_forget_conn__(struct hmap *sas, const char *conn)
{
    struct ss_ike_sa *sa, *next;

    HMAP_FOR_EACH_SAFE (sa, next, node, sas) {
        if (!strcmp(sa->conn, conn)) {
            hmap_remove(sas, &sa->node);
            ss_ike_sa_destroy(sa);
        }
    }
}

static size_t
sas_count_conn__(const struct hmap *sas, const char *conn)
{
    const struct ss_ike_sa *sa;
    size_t n = 0;

    HMAP_FOR_EACH_WITH_HASH (sa, node, hash_string(conn, 0), sas) {
        n += !strcmp(sa->conn, conn);
    }
    return n;
}

static struct ss_ike_sa *
sa_find__(const struct hmap *sas, const char *conn, const char *uniqueid)
{
    struct ss_ike_sa *sa;

    if (!uniqueid) {
        return NULL;
    }
    HMAP_FOR_EACH_WITH_HASH (sa, node, hash_string(conn, 0), sas) {
        if (!strcmp(sa->conn, conn) && !strcmp(sa->uniqueid, uniqueid)) {
            return sa;
        }
    }
    return NULL;
}

/* Returns the IKE SA 'uniqueid' of 'conn' in 'sas', adding an empty one
 * if there is none and the cap allows.  Returns NULL if it does not. */
static struct ss_ike_sa *
sa_get__(struct hmap *sas, const char *conn, const char *uniqueid)
{
    struct ss_ike_sa *sa = sa_find__(sas, conn, uniqueid);

    if (!sa && uniqueid) {
        if (sas_count_conn__(sas, conn) >= MAX_IKE_SAS_PER_CONN) {
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
            LOG_DBG_RL(&rl, "%s: more than %d IKE SAs, not tracking more",
                       conn, MAX_IKE_SAS_PER_CONN);
            return NULL;
        }
        sa = xzalloc(sizeof *sa);
        sa->conn = xstrdup(conn);
        sa->uniqueid = xstrdup(uniqueid);
        hmap_insert(sas, &sa->node, hash_string(sa->conn, 0));
    }
    return sa;
}

static char *
dup_str__(const struct vici_node *section, const char *key)
{
    return nullable_xstrdup(vici_node_get_str(section, key));
}

static void
child_sa_parse__(struct ss_child_sa *c, const struct vici_node *n)
{
    const char *encr = vici_node_get_str(n, "encr-alg");
    const char *keysize = vici_node_get_str(n, "encr-keysize");

    c->name = dup_str__(n, "name");
    if (!c->name) {
        c->name = nullable_xstrdup(n->key);
    }
    c->uniqueid = dup_str__(n, "uniqueid");
    c->state = dup_str__(n, "state");
    c->mode = dup_str__(n, "mode");
    c->reqid = dup_str__(n, "reqid");
    c->spi_in = dup_str__(n, "spi-in");
    c->spi_out = dup_str__(n, "spi-out");
    c->encr = encr ? (keysize ? xasprintf("%s-%s", encr, keysize)
                              : xstrdup(encr))
                   : NULL;
}

static void
sa_add_child__(struct ss_ike_sa *sa, const struct vici_node *n)
{
    const char *uniqueid = vici_node_get_str(n, "uniqueid");

    if (n->type != VICI_NODE_SECTION || !uniqueid) {
        return;
    }
    for (size_t i = 0; i < sa->n_children; i++) {
        if (sa->children[i].uniqueid
            && !strcmp(sa->children[i].uniqueid, uniqueid)) {
            ss_child_sa_clear(&sa->children[i]);
            child_sa_parse__(&sa->children[i], n);
            return;
        }
    }
    if (sa->n_children >= MAX_CHILD_SAS_PER_IKE_SA) {
        return;
    }
    sa->children = xrealloc(sa->children,
                            (sa->n_children + 1) * sizeof *sa->children);
    memset(&sa->children[sa->n_children], 0, sizeof *sa->children);
    child_sa_parse__(&sa->children[sa->n_children++], n);
}

static void
sa_remove_child__(struct ss_ike_sa *sa, const char *uniqueid)
{
    for (size_t i = 0; uniqueid && i < sa->n_children; i++) {
        if (sa->children[i].uniqueid
            && !strcmp(sa->children[i].uniqueid, uniqueid)) {
            ss_child_sa_clear(&sa->children[i]);
            sa->children[i] = sa->children[--sa->n_children];
            return;
        }
    }
}

/* Sets the IKE fields of 'sa' from section 'n'. */
static void
sa_set_ike_fields__(struct ss_ike_sa *sa, const struct vici_node *n)
{
    free(sa->state);
    free(sa->local_host);
    free(sa->local_id);
    free(sa->remote_host);
    free(sa->remote_id);
    sa->state = dup_str__(n, "state");
    sa->local_host = dup_str__(n, "local-host");
    sa->local_id = dup_str__(n, "local-id");
    sa->remote_host = dup_str__(n, "remote-host");
    sa->remote_id = dup_str__(n, "remote-id");
}

/* Adds or updates in 'sas' the IKE SA described by section 'n' (key: the
 * connection name), with its children if 'with_children'.  Returns it, or
 * NULL if 'n' is unusable or the cap is reached. */
static struct ss_ike_sa *
sa_upsert__(struct hmap *sas, const struct vici_node *n, bool with_children)
{
    struct ss_ike_sa *sa;

    if (n->type != VICI_NODE_SECTION || !n->key) {
        return NULL;
    }
    sa = sa_get__(sas, n->key, vici_node_get_str(n, "uniqueid"));
    if (!sa) {
        return NULL;
    }
    sa_set_ike_fields__(sa, n);
    if (with_children) {
        const struct vici_node *children = vici_node_get(n, "child-sas");
        if (children && children->type == VICI_NODE_SECTION) {
            for (size_t i = 0; i < children->n_children; i++) {
                sa_add_child__(sa, children->children[i]);
            }
        }
    }
    return sa;
}

static void
sa_remove__(struct hmap *sas, const char *conn, const char *uniqueid)
{
    struct ss_ike_sa *sa = sa_find__(sas, conn, uniqueid);
    if (sa) {
        hmap_remove(sas, &sa->node);
        ss_ike_sa_destroy(sa);
    }
}

static bool
str_in__(const char *s, const char *const *set)
{
    for (; *set; set++) {
        if (!strcmp(s, *set)) {
            return true;
        }
    }
    return false;
}

/* True if the outbound child of tunnel 't' is up or coming up, or an IKE
 * SA of it is being negotiated. */
static bool
tunnel_is_up_or_coming__(const struct ike_strongswan *ss,
                         const struct ss_tunnel *t)
{
    /* IKE SAs on their way out, and CHILD SA states that carry no
     * traffic now or soon (ROUTED is a trap policy, not an SA). */
    static const char *const ike_gone[] = {
        "REKEYED", "DELETING", "DESTROYING", NULL
    };
    static const char *const ike_coming[] = {
        "CREATED", "CONNECTING", "PASSIVE", NULL
    };
    static const char *const child_gone[] = {
        "ROUTED", "REKEYED", "DELETING", "DELETED", "DESTROYING", NULL
    };
    char *out = out_child_name__(t);
    struct ss_ike_sa *sa;
    bool found = false;

    HMAP_FOR_EACH_WITH_HASH (sa, node, hash_string(t->name, 0), &ss->sas) {
        if (strcmp(sa->conn, t->name)
            || (sa->state && str_in__(sa->state, ike_gone))) {
            continue;
        }
        if (!sa->state || str_in__(sa->state, ike_coming)) {
            found = true;
        }
        for (size_t i = 0; i < sa->n_children; i++) {
            const struct ss_child_sa *c = &sa->children[i];
            if (c->name && !strcmp(c->name, out)
                && c->state && !str_in__(c->state, child_gone)) {
                found = true;
            }
        }
    }
    free(out);
    return found;
}

/* Requests. */

static struct ss_req *
req_create__(struct ike_strongswan *ss, enum ss_req_kind kind,
             const char *tunnel, const char *what)
{
    struct ss_req *req = xzalloc(sizeof *req);
    req->ss = ss;
    req->kind = kind;
    req->tunnel = nullable_xstrdup(tunnel);
    req->what = what;
    return req;
}

static void
req_destroy__(struct ss_req *req)
{
    if (req) {
        free(req->tunnel);
        free(req);
    }
}

/* Calls the tunnel_done hook with the outcome of the current load of 't'.
 * A certificate tunnel is only usable with our private key, so a failed
 * load-key is its failure too.  Hooks run from run() only: an outcome
 * known at once (inside tunnel_apply(), say) is reported from the next
 * run(). */
static void
tunnel_report__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    int error = t->error;
    const char *why = t->why;

    if (!ss->in_run) {
        t->report_pending = true;
        ss->reports_pending = true;
        return;
    }
    t->report_pending = false;
    if (!error && t->auth != TUNNEL_AUTH_PSK && ss->key_error) {
        error = -EINVAL;
        why = ss->key_error;
    }
    ss->hooks.tunnel_done(ss->hooks.aux, t->name, t->version, error, why);
}

/* Finishes the current load of 't' once all its requests are answered:
 * reports it, then either withdraws what charon refused or arranges for
 * the outbound child to come up. */
static void
tunnel_load_step__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    if (t->n_inflight) {
        return;
    }
    if (t->loading) {
        t->loading = false;
        ss->n_loading--;
    }
    t->loaded = !t->error;
    if (t->loaded) {
        t->digest = t->new_digest;
        t->has_digest = true;
    }
    tunnel_report__(ss, t);

    if (!ss->connected || ss->cleaning) {
        return;
    }
    if (t->refused) {
        /* Leave nothing half loaded, and nothing running on a definition
         * that is no longer wanted. */
        withdraw__(ss, t->name, t->psk_loaded);
        t->psk_loaded = false;
        t->has_digest = false;
        sas_forget_conn__(&ss->sas, t->name);
    } else if (t->loaded && t->initiator) {
        if (t->replace) {
            /* The old SAs are being terminated: start anew now. */
            initiate__(ss, t);
        } else {
            /* Maybe an SA survived from before (our restart, or charon
             * kept it): decide on a listing taken after the load, one
             * for all the loads under way (see run()). */
            t->want_initiate = true;
            ss->list_sas_wanted = true;
        }
    }
    t->replace = false;
}

static void
req_done__(void *req_, int error, const struct vici_msg *reply)
{
    struct ss_req *req = req_;
    struct ike_strongswan *ss = req->ss;
    struct ss_tunnel *t;
    bool refused = false;
    char *why = NULL;

    if (ss->destroying) {
        goto out;
    }
    if (!error && reply && !vici_msg_success(reply)) {
        const char *errmsg = vici_msg_errmsg(reply);
        error = -EINVAL;
        refused = true;
        why = xasprintf("%s: %s", req->what, errmsg ? errmsg : "failed");
    } else if (error) {
        refused = error == -ENOTSUP;
        why = xasprintf("%s: %s", req->what,
                        error == -ETIMEDOUT ? "charon did not answer in time"
                        : error == -ENOTSUP ? "charon does not know the "
                                              "command"
                        : ovsec_strerror(error));
    }

    t = req->tunnel ? ss_tunnel_find(ss, req->tunnel) : NULL;
    if (req->kind == SS_REQ_LOAD) {
        if (!t || t->load_seq != req->load_seq || !t->n_inflight) {
            goto out;           /* Superseded, or reset by a reconnect. */
        }
        if (error && !t->error) {
            t->error = error;
            t->refused = refused;
            free(t->why);
            t->why = why;
            why = NULL;
        }
        t->n_inflight--;
        tunnel_load_step__(ss, t);
    } else if (error && error != -ECONNRESET && error != -ECANCELED) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(20, 20);
        if (req->quiet || ss->cleaning) {
            LOG_DBG("%s%s%s", req->tunnel ? req->tunnel : "",
                    req->tunnel ? ": " : "", why);
        } else {
            LOG_WARN_RL(&rl, "%s%s%s", req->tunnel ? req->tunnel : "",
                        req->tunnel ? ": " : "", why);
        }
    }

out:
    free(why);
    req_destroy__(req);
}

/* Sends 'b' with 'req' as context.  Returns 0 or -errno; on error 'req' is
 * freed and no callback comes. */
static int
send__(struct ike_strongswan *ss, struct vici_builder *b, struct ss_req *req)
{
    int error = vici_client_request(ss->vici, b, NULL, NULL, req_done__, req);
    if (error) {
        req_destroy__(req);
    }
    return error;
}

/* Sends 'b' as a request whose failure is only logged, at DBG if
 * 'quiet'. */
static void
send_other__(struct ike_strongswan *ss, struct vici_builder *b,
             const char *tunnel, const char *what, bool quiet)
{
    struct ss_req *req = req_create__(ss, SS_REQ_OTHER, tunnel, what);
    req->quiet = quiet;
    send__(ss, b, req);
}

/* Starts the outbound child of 't' without waiting for the result. */
static void
initiate__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "initiate");
    char *child = out_child_name__(t);

    vici_add_kv(b, "child", child);
    vici_add_kv(b, "ike", t->name);
    vici_add_kv(b, "timeout", "-1");
    vici_add_kv(b, "init-limits", "no");
    free(child);
    t->next_initiate = time_msec() + INITIATE_BACKOFF_MS;
    t->want_initiate = false;
    ss->n_initiates++;
    send_other__(ss, b, t->name, "initiate", false);
}

/* Terminates the IKE SAs of connection 'name' (with their children)
 * without waiting: charon keeps them when the connection is replaced or
 * unloaded. */
static void
terminate__(struct ike_strongswan *ss, const char *name)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "terminate");
    vici_add_kv(b, "ike", name);
    vici_add_kv(b, "timeout", "-1");
    send_other__(ss, b, name, "terminate", true);
}

static void
unload_shared__(struct ike_strongswan *ss, const char *name)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "unload-shared");
    vici_add_kv_fmt(b, "id", PSK_ID_PREFIX "%s", name);
    send_other__(ss, b, name, "unload-shared", false);
}

static void
unload_conn__(struct ike_strongswan *ss, const char *name)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "unload-conn");
    vici_add_kv(b, "name", name);
    ss->n_unloads++;
    send_other__(ss, b, name, "unload-conn", true);
}

/* Removes connection 'name' from charon with its SAs and, if 'psk', its
 * shared secret. */
static void
withdraw__(struct ike_strongswan *ss, const char *name, bool psk)
{
    unload_conn__(ss, name);
    terminate__(ss, name);
    if (psk) {
        unload_shared__(ss, name);
    }
}

/* Message builders. */

static void
add_list_split__(struct vici_builder *b, const char *key, const char *value)
{
    char *copy = xstrdup(value);
    char *save = NULL;

    vici_begin_list(b, key);
    for (char *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        vici_list_item(b, item);
    }
    vici_end_list(b);
    free(copy);
}

static void
add_list1__(struct vici_builder *b, const char *key, const char *value)
{
    vici_begin_list(b, key);
    vici_list_item(b, value);
    vici_end_list(b);
}

static void
add_settings__(struct vici_builder *b, const struct stroke_map *map,
               enum stroke_scope scope)
{
    for (size_t i = 0; i < map->n; i++) {
        const struct stroke_setting *s = &map->settings[i];
        if (s->scope != scope) {
            continue;
        }
        if (s->is_list) {
            add_list_split__(b, s->key, s->value);
        } else {
            vici_add_kv(b, s->key, s->value);
        }
    }
}

static void
add_child__(const struct ike_strongswan *ss, struct vici_builder *b,
            const struct ss_tunnel *t, const char *name,
            const char *local_ts, const char *remote_ts)
{
    vici_begin_section(b, name);
    vici_add_kv(b, "mode", "transport");
    add_list1__(b, "local_ts", local_ts);
    add_list1__(b, "remote_ts", remote_ts);
    if (!ss->opts.use_default_crypto
        && !stroke_map_find(&t->opts, STROKE_CHILD, "esp_proposals")
        && !stroke_map_find(&t->opts, STROKE_CHILD, "ah_proposals")) {
        add_list1__(b, "esp_proposals", DEFAULT_ESP_PROPOSAL);
    }
    if (!stroke_map_find(&t->opts, STROKE_CHILD, "start_action")) {
        vici_add_kv(b, "start_action", "trap");
    }
    add_settings__(b, &t->opts, STROKE_CHILD);
    vici_end_section(b);
}

/* Builds the load-conn message for 't'.  Without 'with_certs' the
 * certificates are left out: that is the form whose digest tells a
 * changed connection (whose SAs must go) from rotated credentials (whose
 * SAs stay: they were authenticated with what was valid then). */
static struct vici_builder *
build_load_conn__(const struct ike_strongswan *ss, const struct ss_tunnel *t,
                  bool with_certs)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "load-conn");
    bool psk = t->auth == TUNNEL_AUTH_PSK;

    vici_begin_section(b, t->name);
    vici_add_kv(b, "version", "2");
    add_list1__(b, "local_addrs", t->local_ip ? t->local_ip : "%any");
    add_list1__(b, "remote_addrs", t->remote_ip);
    if (!ss->opts.use_default_crypto
        && !stroke_map_find(&t->opts, STROKE_CONN, "proposals")) {
        add_list1__(b, "proposals", DEFAULT_IKE_PROPOSAL);
    }
    if (!stroke_map_find(&t->opts, STROKE_CONN, "keyingtries")) {
        vici_add_kv(b, "keyingtries", "0");
    }
    add_settings__(b, &t->opts, STROKE_CONN);

    vici_begin_section(b, "local");
    vici_add_kv(b, "auth", psk ? "psk" : "pubkey");
    if (psk) {
        if (t->local_ip) {
            vici_add_kv(b, "id", t->local_ip);
        }
    } else {
        /* The identity of the certificate being sent, which set_global()
         * may have changed before the monitor re-applies the tunnel. */
        const char *id = ss->local_name ? ss->local_name : t->local_name;
        if (id) {
            /* "fqdn:" so that charon matches the certificate's DNS
             * subjectAltName whatever the CN holds: a bare "NAME id:UUID"
             * (upstream ovs-pki's default CN) would parse as a key id. */
            vici_add_kv_fmt(b, "id", "fqdn:%s", id);
        }
        if (ss->cert_pem && with_certs) {
            add_list1__(b, "certs", ss->cert_pem);
        }
    }
    add_settings__(b, &t->opts, STROKE_LOCAL);
    vici_end_section(b);

    vici_begin_section(b, "remote");
    vici_add_kv(b, "auth", psk ? "psk" : "pubkey");
    if (psk) {
        vici_add_kv(b, "id", t->remote_ip);
    } else {
        vici_add_kv_fmt(b, "id", "fqdn:%s", t->remote_name);
    }
    if (!with_certs) {
        /* Left out of the digest. */
    } else if (t->auth == TUNNEL_AUTH_PEER_CERT && t->remote_cert_pem) {
        add_list1__(b, "certs", t->remote_cert_pem);
    } else if (t->auth == TUNNEL_AUTH_CA && ss->n_ca_pems) {
        vici_begin_list(b, "cacerts");
        for (size_t i = 0; i < ss->n_ca_pems; i++) {
            vici_list_item(b, ss->ca_pems[i]);
        }
        vici_end_list(b);
    }
    add_settings__(b, &t->opts, STROKE_REMOTE);
    vici_end_section(b);

    vici_begin_section(b, "children");
    const char *ts = tunnel_proto_ts__(t->type);
    if (t->type == TUNNEL_GRE) {
        add_child__(ss, b, t, t->name, ts, ts);
    } else {
        char *in = xasprintf("%s-in", t->name);
        char *out = xasprintf("%s-out", t->name);
        add_child__(ss, b, t, in, ts, UDP_ANY_TS);
        add_child__(ss, b, t, out, UDP_ANY_TS, ts);
        free(in);
        free(out);
    }
    vici_end_section(b);

    vici_end_section(b);
    return b;
}

static struct vici_builder *
build_load_shared__(const struct ss_tunnel *t)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "load-shared");

    vici_add_kv_fmt(b, "id", PSK_ID_PREFIX "%s", t->name);
    vici_add_kv(b, "type", "IKE");
    vici_add_kv_secret(b, "data", t->psk);
    vici_begin_list(b, "owners");
    vici_list_item(b, t->remote_ip);
    if (t->local_ip) {
        vici_list_item(b, t->local_ip);
    }
    vici_end_list(b);
    return b;
}

/* Stores in 'digest' the fingerprint of what loading 't' puts in charon,
 * certificates aside: the load-conn message, the PSK and the
 * authentication mode.  The mode stands in for the certificates: moving
 * from a pinned peer certificate to any peer the CA vouches for (or back)
 * changes whom the SAs were authenticated against, even with the same
 * remote_name, whereas a rotated certificate does not. */
static void
tunnel_digest__(const struct ike_strongswan *ss, const struct ss_tunnel *t,
                struct fingerprint *digest)
{
    uint8_t *packet = NULL;
    size_t size = 0;
    size_t psk_size = 0;
    const void *psk = t->psk ? secret_bytes(t->psk, &psk_size) : NULL;
    uint8_t *buf;

    if (vici_builder_finish(build_load_conn__(ss, t, false), &packet,
                            &size)) {
        packet = NULL;
        size = 0;
    }
    buf = xmalloc(size + psk_size + 1);
    if (size) {
        memcpy(buf, packet, size);
    }
    if (psk_size) {
        memcpy(buf + size, psk, psk_size);
    }
    buf[size + psk_size] = t->auth;
    fingerprint_bytes(buf, size + psk_size + 1, digest);
    memzero_explicit(buf, size + psk_size + 1);
    free(buf);
    vici_packet_free(packet, size);
}

/* Records that request 'what' of the current load of 't' could not be
 * sent. */
static void
load_send_failed__(struct ss_tunnel *t, const char *what, int error)
{
    if (!t->error) {
        t->error = error;
        t->why = xasprintf("%s: %s", what,
                           error == -ENOTCONN ? "not connected to charon"
                           : error == -EINVAL
                           ? "request exceeds VICI's limits (512 KiB per "
                             "message, 65535 bytes per value)"
                           : ovsec_strerror(error));
        t->refused = error != -ENOTCONN;
    }
}

/* Sends the requests that load the current configuration of 't'. */
static void
load_tunnel__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    struct ss_req *req;
    int error;

    t->load_seq = ++ss->load_seq;
    t->report_pending = false;
    t->n_inflight = 0;
    t->error = 0;
    free(t->why);
    t->why = NULL;
    t->refused = false;
    t->loaded = false;
    t->replace = false;
    t->want_initiate = false;

    if (!ss->connected) {
        return;                 /* Loaded when charon comes back. */
    }
    if (!t->loading && ss->n_loading >= MAX_LOADS_IN_FLIGHT) {
        if (!t->queued) {
            ovs_list_push_back(&ss->load_queue, &t->queue_node);
            t->queued = true;
        }
        return;                 /* load_next__() starts it. */
    }
    if (t->queued) {
        ovs_list_remove(&t->queue_node);
        t->queued = false;
    }
    if (!t->loading) {
        t->loading = true;
        ss->n_loading++;
    }
    ss->n_loads++;

    if (t->conf_error) {
        t->error = -EINVAL;
        t->why = xstrdup(t->conf_error);
        t->refused = true;
        tunnel_load_step__(ss, t);
        return;
    }

    tunnel_digest__(ss, t, &t->new_digest);
    t->replace = (t->has_digest
                  && !fingerprint_equal(&t->digest, &t->new_digest));

    if (t->auth == TUNNEL_AUTH_PSK) {
        req = req_create__(ss, SS_REQ_LOAD, t->name, "load-shared");
        req->load_seq = t->load_seq;
        error = send__(ss, build_load_shared__(t), req);
        if (!error) {
            t->n_inflight++;
            t->psk_loaded = true;
        } else {
            load_send_failed__(t, "load-shared", error);
        }
    } else if (t->psk_loaded) {
        /* The tunnel moved from PSK to certificates. */
        unload_shared__(ss, t->name);
        t->psk_loaded = false;
    }

    if (t->auth != TUNNEL_AUTH_PSK && !ss->key_pem) {
        if (!t->error) {
            t->error = -ENOKEY;
            t->why = xstrdup(ss->global_error ? ss->global_error
                             : "no private key configured");
            t->refused = true;
        }
    } else if (!t->error) {
        req = req_create__(ss, SS_REQ_LOAD, t->name, "load-conn");
        req->load_seq = t->load_seq;
        error = send__(ss, build_load_conn__(ss, t, true), req);
        if (!error) {
            t->n_inflight++;
            if (t->replace) {
                /* charon keeps IKE SAs on the replaced definition. */
                LOG_INFO("%s: configuration changed, terminating its "
                         "IKE SAs", t->name);
                terminate__(ss, t->name);
                sas_forget_conn__(&ss->sas, t->name);
            }
        } else {
            load_send_failed__(t, "load-conn", error);
        }
    }
    tunnel_load_step__(ss, t);
}

/* Arranges for connection 'name' (and its PSK if 'psk') to be unloaded
 * and its SAs terminated, as soon as there is room. */
static void
withdraw_later__(struct ike_strongswan *ss, const char *name, bool psk)
{
    uint32_t hash = hash_string(name, 0);
    struct ss_withdrawal *w;

    HMAP_FOR_EACH_WITH_HASH (w, node, hash, &ss->withdrawals) {
        if (!strcmp(w->name, name)) {
            w->psk |= psk;
            return;
        }
    }
    w = xzalloc(sizeof *w);
    w->name = xstrdup(name);
    w->psk = psk;
    hmap_insert(&ss->withdrawals, &w->node, hash);
    ovs_list_push_back(&ss->withdraw_queue, &w->list_node);
}

/* Removes 'w' from the queue and, if 'send', sends it. */
static void
withdrawal_finish__(struct ike_strongswan *ss, struct ss_withdrawal *w,
                    bool send)
{
    hmap_remove(&ss->withdrawals, &w->node);
    ovs_list_remove(&w->list_node);
    if (send) {
        withdraw__(ss, w->name, w->psk);
    }
    free(w->name);
    free(w);
}

/* Sends the withdrawal of 'name' now if one is queued: a tunnel of that
 * name is about to be loaded, and must not be unloaded afterwards. */
static void
withdraw_now__(struct ike_strongswan *ss, const char *name)
{
    struct ss_withdrawal *w;

    HMAP_FOR_EACH_WITH_HASH (w, node, hash_string(name, 0),
                             &ss->withdrawals) {
        if (!strcmp(w->name, name)) {
            withdrawal_finish__(ss, w, ss->connected);
            return;
        }
    }
}

/* Sends queued withdrawals while there is room. */
static void
withdraw_next__(struct ike_strongswan *ss)
{
    while (ss->connected && !ovs_list_is_empty(&ss->withdraw_queue)
           && vici_client_n_pending(ss->vici) < MAX_WITHDRAW_BACKLOG) {
        withdrawal_finish__(ss, CONTAINER_OF(ss->withdraw_queue.next,
                                             struct ss_withdrawal,
                                             list_node), true);
    }
}

/* Starts the loads that wait for a free slot. */
static void
load_next__(struct ike_strongswan *ss)
{
    while (ss->n_loading < MAX_LOADS_IN_FLIGHT
           && !ovs_list_is_empty(&ss->load_queue)) {
        struct ss_tunnel *t = CONTAINER_OF(ss->load_queue.next,
                                           struct ss_tunnel, queue_node);
        load_tunnel__(ss, t);
    }
}

/* Takes 't' out of the load window: it is going away, or the connection
 * is. */
static void
load_forget__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    if (t->queued) {
        ovs_list_remove(&t->queue_node);
        t->queued = false;
    }
    if (t->loading) {
        t->loading = false;
        ss->n_loading--;
    }
}

/* Private key. */

static void
unload_key__(struct ike_strongswan *ss, const char *id)
{
    struct vici_builder *b = vici_builder_create(VICI_CMD_REQUEST,
                                                 "unload-key");
    vici_add_kv(b, "id", id);
    send_other__(ss, b, NULL, "unload-key", true);
}

static void
load_key_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;
    char *key_error = NULL;
    struct ss_tunnel *t;

    if (ss->destroying || error == -ECONNRESET || error == -ECANCELED) {
        return;                 /* Reloaded on reconnect. */
    }
    if (ss->cleaning) {
        /* cleanup() ran while charon was loading it: take it out again,
         * since nothing else will. */
        const char *id = (!error && vici_msg_success(reply)
                          ? vici_node_get_str(&reply->root, "id") : NULL);
        if (id && ss->connected) {
            unload_key__(ss, id);
        }
        return;
    }
    if (!error && !vici_msg_success(reply)) {
        const char *errmsg = vici_msg_errmsg(reply);
        key_error = xasprintf("Open_vSwitch: other_config:private_key: "
                              "%s: load-key: %s",
                              ss->key_path ? ss->key_path : "?",
                              errmsg ? errmsg : "failed");
    } else if (error) {
        key_error = xasprintf("Open_vSwitch: other_config:private_key: "
                              "%s: load-key: %s",
                              ss->key_path ? ss->key_path : "?",
                              error == -ETIMEDOUT
                              ? "charon did not answer in time"
                              : ovsec_strerror(error));
    } else {
        const char *id = vici_node_get_str(&reply->root, "id");
        if (ss->key_id && (!id || strcmp(ss->key_id, id))) {
            /* A different key replaced ours. */
            unload_key__(ss, ss->key_id);
        }
        free(ss->key_id);
        ss->key_id = nullable_xstrdup(id);
    }

    if (nullable_string_equal(key_error, ss->key_error)) {
        free(key_error);
        return;
    }
    if (key_error) {
        LOG_WARN("%s", key_error);
    } else {
        LOG_INFO("private key loaded");
    }
    free(ss->key_error);
    ss->key_error = key_error;

    /* The outcome of the certificate tunnels changed with it. */
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        if (t->loaded && t->auth != TUNNEL_AUTH_PSK) {
            tunnel_report__(ss, t);
        }
    }
}

static void
load_key__(struct ike_strongswan *ss)
{
    struct vici_builder *b;
    const void *data;
    size_t size;

    if (!ss->key_pem || !ss->connected) {
        return;
    }
    data = secret_bytes(ss->key_pem, &size);
    b = vici_builder_create(VICI_CMD_REQUEST, "load-key");
    vici_add_kv(b, "type", "any");
    vici_add_kv_bytes(b, "data", data, size);
    vici_client_request(ss->vici, b, NULL, NULL, load_key_done__, ss);
}

/* SA listing. */

static void
list_sa_item__(void *ss_, const struct vici_msg *item)
{
    struct ike_strongswan *ss = ss_;

    for (size_t i = 0; i < item->root.n_children; i++) {
        const struct vici_node *n = item->root.children[i];
        if (n->key && ss_tunnel_find(ss, n->key)) {
            sa_upsert__(&ss->new_sas, n, true);
        }
    }
}

/* A list-sas finished: the listing replaces the cache, then the outbound
 * children found down are initiated. */
static void
sas_listed__(struct ike_strongswan *ss, int error)
{
    struct ss_tunnel *t;

    if (ss->n_list_sas) {
        ss->n_list_sas--;
    }
    if (error) {
        if (error != -ECONNRESET && error != -ECANCELED) {
            LOG_WARN("list-sas failed: %s", ovsec_strerror(error));
        }
        sas_clear__(&ss->new_sas);
        return;
    }

    /* The listing is authoritative: it replaces the event-built cache. */
    sas_clear__(&ss->sas);
    hmap_destroy(&ss->sas);
    ss->sas = ss->new_sas;      /* Moves the bucket array. */
    hmap_init(&ss->new_sas);

    if (ss->cleaning) {
        return;
    }
    long long int now = time_msec();
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        if (!t->loaded || !t->initiator
            || (!t->want_initiate && now < t->next_initiate)) {
            continue;
        }
        if (tunnel_is_up_or_coming__(ss, t)) {
            t->want_initiate = false;
        } else {
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(20, 20);
            LOG_INFO_RL(&rl, "%s: outbound SA is down, initiating",
                        t->name);
            initiate__(ss, t);
        }
    }
}

static void
list_sas_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;

    (void) reply;
    if (!ss->destroying) {
        sas_listed__(ss, error);
    }
}

static void
list_sas_rc_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;

    (void) reply;
    if (!ss->destroying) {
        ss->reconciling = false;
        sas_listed__(ss, error);
    }
}

static int
request_list_sas__(struct ike_strongswan *ss, vici_reply_cb *cb)
{
    int error = vici_client_request(ss->vici,
                                    vici_builder_create(VICI_CMD_REQUEST,
                                                        "list-sas"),
                                    "list-sa", list_sa_item__, cb, ss);
    if (!error) {
        ss->n_list_sas++;
    }
    return error;
}

static void
list_sas__(struct ike_strongswan *ss)
{
    request_list_sas__(ss, list_sas_done__);
}

/* Arranges for the outbound child of 't' to be checked, and initiated if
 * down, after its current retry delay. */
static void
schedule_retry__(struct ike_strongswan *ss, struct ss_tunnel *t)
{
    if (t && t->loaded && t->initiator && !ss->cleaning
        && t->retry_at == LLONG_MAX) {
        t->retry_at = time_msec() + t->retry_delay;
        t->retry_delay = MIN(t->retry_delay * 2, INITIATE_BACKOFF_MS);
        ss->next_retry = MIN(ss->next_retry, t->retry_at);
    }
}

/* VICI callbacks. */

static void
version_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;

    if (error || ss->destroying) {
        return;
    }
    const char *daemon = vici_node_get_str(&reply->root, "daemon");
    const char *version = vici_node_get_str(&reply->root, "version");
    free(ss->charon_version);
    ss->charon_version = xasprintf("%s %s", daemon ? daemon : "?",
                                   version ? version : "?");
    LOG_INFO("connected to %s over %s", ss->charon_version, ss->opts.vici);
}

/* The log connection lives while the main one is up: it starts after the
 * main connection (so that charon's answers to the main one come first)
 * and goes with it. */
static void
log_client_update__(struct ike_strongswan *ss)
{
    if (ss->connected && !ss->vici_log) {
        struct vici_client_hooks log_hooks = {
            .event = on_log_event__,
            .aux = ss,
        };
        /* Cannot fail: the same name and timeout made 'ss->vici'. */
        ss->vici_log = vici_client_create(ss->opts.vici, vici_log_events,
                                          ss->opts.command_timeout_ms,
                                          &log_hooks, NULL);
        vici_client_set_read_interval(ss->vici_log, LOG_READ_INTERVAL_MS);
    } else if (!ss->connected && ss->vici_log) {
        ss->n_log_sent += vici_client_n_sent(ss->vici_log);
        vici_client_destroy(ss->vici_log);
        ss->vici_log = NULL;
    }
}

static void
on_connection__(void *ss_, bool connected)
{
    struct ike_strongswan *ss = ss_;
    struct ss_tunnel *t;

    if (ss->destroying) {
        return;
    }
    ss->connected = connected;
    log_client_update__(ss);
    ss->reconciling = false;
    ss->rc_pending = 0;
    ss->n_list_sas = 0;
    ss->list_sas_wanted = false;
    names_clear__(&ss->seen_conns);
    names_clear__(&ss->seen_shared);
    sas_clear__(&ss->new_sas);
    if (!connected) {
        /* One line for all tunnels: each still gets its tunnel_done, but
         * a thousand of them must not each log why. */
        size_t n = hmap_count(&ss->tunnels);
        LOG_WARN("lost connection to charon at %s; %zu tunnel%s will be "
                 "reloaded when it is back", ss->opts.vici, n,
                 n == 1 ? "" : "s");
        sas_clear__(&ss->sas);
        HMAP_FOR_EACH (t, node, &ss->tunnels) {
            bool was_pending = t->loaded || t->n_inflight || t->queued;
            load_forget__(ss, t);
            t->loaded = false;
            t->n_inflight = 0;
            t->want_initiate = false;
            t->load_seq = ++ss->load_seq;
            /* After cleanup() nothing of ours is meant to be there. */
            if (!ss->cleaning && (was_pending || !t->error)) {
                ss->hooks.tunnel_done(ss->hooks.aux, t->name, t->version,
                                      -ENOTCONN,
                                      "lost the connection to charon");
            }
        }
        return;
    }

    vici_client_request(ss->vici,
                        vici_builder_create(VICI_CMD_REQUEST, "version"),
                        NULL, NULL, version_done__, ss);
    if (ss->cleaning) {
        return;
    }
    /* charon may have restarted and lost everything, or may hold what an
     * earlier instance of ours loaded: loading each definition again is
     * right either way, and leaves unchanged connections' SAs alone. */
    load_key__(ss);
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        load_tunnel__(ss, t);
    }
    if (!hmap_is_empty(&ss->tunnels)) {
        LOG_INFO("loading %zu tunnels into charon",
                 hmap_count(&ss->tunnels));
    }
}

static void
ike_failure_clear__(struct ss_tunnel *t)
{
    if (t) {
        free(t->ike_failure);
        t->ike_failure = NULL;
    }
}

/* Keeps a "log" event's message as the last IKE failure of the tunnel
 * whose IKE SA logged it, if it says why a negotiation failed. */
static void
on_log__(struct ike_strongswan *ss, const struct vici_msg *ev)
{
    static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(60, 60);
    const char *name = vici_node_get_str(&ev->root, "ikesa-name");
    const char *msg = vici_node_get_str(&ev->root, "msg");
    struct ss_tunnel *t = name ? ss_tunnel_find(ss, name) : NULL;
    size_t i;

    if (!t || !msg) {
        return;
    }
    for (i = 0; ike_failure_markers[i]; i++) {
        if (strstr(msg, ike_failure_markers[i])) {
            break;
        }
    }
    if (!ike_failure_markers[i]) {
        return;
    }

    /* Printable ASCII only: it ends up in JSON and on terminals. */
    size_t n = strnlen(msg, IKE_FAILURE_MAX);
    char *copy = xmalloc(n + 1);
    for (size_t j = 0; j < n; j++) {
        unsigned char ch = msg[j];
        copy[j] = ch >= 0x20 && ch < 0x7f ? ch : '?';
    }
    copy[n] = '\0';
    if (!t->ike_failure || strcmp(t->ike_failure, copy)) {
        LOG_WARN_RL(&rl, "%s: IKE negotiation failed: %s", t->name, copy);
    }
    free(t->ike_failure);
    t->ike_failure = copy;
    t->ike_failure_at = time_msec();
}

static void
on_log_event__(void *ss_, const struct vici_msg *ev)
{
    struct ike_strongswan *ss = ss_;

    if (!ss->destroying && ev->name && !strcmp(ev->name, "log")) {
        on_log__(ss, ev);
    }
}

/* Applies an ike-updown, child-updown, ike-rekey or child-rekey event to
 * the SA cache.  Events for connections that are not ours are ignored, so
 * the cache holds at most MAX_IKE_SAS_PER_CONN per tunnel. */
static void
on_event__(void *ss_, const struct vici_msg *ev)
{
    /* A peer decides how often its SAs come and go. */
    static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(60, 60);
    struct ike_strongswan *ss = ss_;
    const struct vici_node *root = &ev->root;
    const char *up = vici_node_get_str(root, "up");
    bool is_up = up && !strcmp(up, "yes");

    if (ss->destroying || !ev->name) {
        return;
    }
    for (size_t i = 0; i < root->n_children; i++) {
        const struct vici_node *n = root->children[i];
        if (n->type != VICI_NODE_SECTION || !n->key
            || !ss_tunnel_find(ss, n->key)) {
            continue;
        }
        const char *uniqueid = vici_node_get_str(n, "uniqueid");

        if (!strcmp(ev->name, "ike-updown")) {
            if (is_up) {
                ike_failure_clear__(ss_tunnel_find(ss, n->key));
                sa_upsert__(&ss->sas, n, false);
            } else {
                sa_remove__(&ss->sas, n->key, uniqueid);
                schedule_retry__(ss, ss_tunnel_find(ss, n->key));
            }
            LOG_INFO_RL(&rl, "%s: IKE SA %s %s", n->key,
                        uniqueid ? uniqueid : "?", is_up ? "up" : "down");
        } else if (!strcmp(ev->name, "child-updown")) {
            struct ss_tunnel *t = ss_tunnel_find(ss, n->key);
            char *out = out_child_name__(t);
            struct ss_ike_sa *sa = is_up ? sa_upsert__(&ss->sas, n, true)
                                   : sa_find__(&ss->sas, n->key, uniqueid);
            const struct vici_node *children = vici_node_get(n, "child-sas");
            for (size_t j = 0; children && j < children->n_children; j++) {
                const struct vici_node *c = children->children[j];
                const char *cname = vici_node_get_str(c, "name");
                if (!is_up && sa) {
                    sa_remove_child__(sa, vici_node_get_str(c, "uniqueid"));
                }
                if (is_up) {
                    ike_failure_clear__(t);
                }
                if (cname && !strcmp(cname, out)) {
                    if (is_up) {
                        t->retry_delay = RETRY_MIN_MS;
                    } else {
                        schedule_retry__(ss, t);
                    }
                }
                LOG_INFO_RL(&rl, "%s: CHILD SA %s %s", n->key,
                            cname ? cname : "?", is_up ? "up" : "down");
            }
            free(out);
        } else if (!strcmp(ev->name, "ike-rekey")) {
            const struct vici_node *old = vici_node_get(n, "old");
            const struct vici_node *new = vici_node_get(n, "new");
            const char *old_id = old ? vici_node_get_str(old, "uniqueid")
                                     : NULL;
            const char *new_id = new ? vici_node_get_str(new, "uniqueid")
                                     : NULL;
            struct ss_ike_sa *old_sa = sa_find__(&ss->sas, n->key, old_id);
            struct ss_ike_sa *sa = NULL;

            if (old_sa && new_id && strcmp(old_id, new_id)) {
                /* Free the old SA's slot first, under the cap. */
                hmap_remove(&ss->sas, &old_sa->node);
                sa = sa_get__(&ss->sas, n->key, new_id);
                hmap_insert(&ss->sas, &old_sa->node,
                            hash_string(old_sa->conn, 0));
            } else if (new_id) {
                sa = sa_get__(&ss->sas, n->key, new_id);
            }
            if (sa && new->type == VICI_NODE_SECTION) {
                sa_set_ike_fields__(sa, new);
                /* The children move to the new IKE SA. */
                if (old_sa && old_sa != sa) {
                    for (size_t j = 0; j < old_sa->n_children; j++) {
                        if (sa->n_children >= MAX_CHILD_SAS_PER_IKE_SA) {
                            ss_child_sa_clear(&old_sa->children[j]);
                            continue;
                        }
                        sa->children = xrealloc(
                            sa->children,
                            (sa->n_children + 1) * sizeof *sa->children);
                        sa->children[sa->n_children++]
                            = old_sa->children[j];
                    }
                    old_sa->n_children = 0;
                }
            }
            if (old_sa && old_sa != sa) {
                sa_remove__(&ss->sas, n->key, old_id);
            }
        } else if (!strcmp(ev->name, "child-rekey")) {
            struct ss_ike_sa *sa = sa_find__(&ss->sas, n->key, uniqueid);
            const struct vici_node *children = vici_node_get(n, "child-sas");
            for (size_t j = 0; sa && children
                               && j < children->n_children; j++) {
                const struct vici_node *c = children->children[j];
                const struct vici_node *old = vici_node_get(c, "old");
                const struct vici_node *new = vici_node_get(c, "new");
                if (old) {
                    sa_remove_child__(sa, vici_node_get_str(old,
                                                            "uniqueid"));
                }
                if (new) {
                    sa_add_child__(sa, new);
                }
            }
        }
    }
}

/* Class functions. */

static int
ss_create(const struct ike_options *opts, const struct ike_hooks *hooks,
          struct ike_backend **ret)
{
    struct ike_strongswan *ss = xzalloc(sizeof *ss);
    struct vici_client_hooks vhooks = {
        .event = on_event__,
        .connection = on_connection__,
        .aux = ss,
    };
    int error = 0;

    *ret = NULL;
    ss->up.class = &ike_strongswan_class;
    ss->hooks = *hooks;
    ss->opts = *opts;
    hmap_init(&ss->tunnels);
    ovs_list_init(&ss->load_queue);
    hmap_init(&ss->withdrawals);
    ovs_list_init(&ss->withdraw_queue);
    ss->next_retry = LLONG_MAX;
    hmap_init(&ss->sas);
    hmap_init(&ss->new_sas);
    hmap_init(&ss->seen_conns);
    hmap_init(&ss->seen_shared);
    ss->vici = vici_client_create(opts->vici, vici_events,
                                  opts->command_timeout_ms, &vhooks, &error);
    if (!ss->vici) {
        ss->up.class->destroy(&ss->up);
        return error ? error : -EINVAL;
    }
    *ret = &ss->up;
    return 0;
}

static void
ss_destroy(struct ike_backend *up)
{
    struct ike_strongswan *ss;
    struct ss_tunnel *t, *next;

    if (!up) {
        return;
    }
    ss = ike_strongswan_cast(up);
    ss->destroying = true;
    vici_client_destroy(ss->vici);
    vici_client_destroy(ss->vici_log);
    HMAP_FOR_EACH_SAFE (t, next, node, &ss->tunnels) {
        hmap_remove(&ss->tunnels, &t->node);
        ss_tunnel_destroy(t);
    }
    hmap_destroy(&ss->tunnels);
    while (!ovs_list_is_empty(&ss->withdraw_queue)) {
        withdrawal_finish__(ss, CONTAINER_OF(ss->withdraw_queue.next,
                                             struct ss_withdrawal,
                                             list_node), false);
    }
    hmap_destroy(&ss->withdrawals);
    sas_clear__(&ss->sas);
    hmap_destroy(&ss->sas);
    sas_clear__(&ss->new_sas);
    hmap_destroy(&ss->new_sas);
    names_clear__(&ss->seen_conns);
    hmap_destroy(&ss->seen_conns);
    names_clear__(&ss->seen_shared);
    hmap_destroy(&ss->seen_shared);
    free(ss->cert_pem);
    ike_creds_free_pems(ss->ca_pems, ss->n_ca_pems);
    secret_destroy(ss->key_pem);
    free(ss->key_path);
    free(ss->local_name);
    free(ss->global_error);
    free(ss->key_id);
    free(ss->key_error);
    free(ss->charon_version);
    free(ss);
}

static void
ss_run(struct ike_backend *up)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    struct ss_tunnel *t;

    ss->in_run = true;
    if (ss->reports_pending) {
        ss->reports_pending = false;
        HMAP_FOR_EACH (t, node, &ss->tunnels) {
            /* A load started since then reports for itself. */
            if (t->report_pending && !t->n_inflight) {
                tunnel_report__(ss, t);
            }
            t->report_pending = false;
        }
    }
    vici_client_run(ss->vici);
    if (ss->vici_log) {
        vici_client_run(ss->vici_log);
    }
    if (ss->connected) {
        load_next__(ss);
        withdraw_next__(ss);
        /* Once no load is under way: a listing taken after the last one
         * answered tells which outbound children to initiate.  (Before,
         * with thousands loading, a listing of thousands of SAs after each
         * window's worth made convergence quadratic.) */
        if (ss->list_sas_wanted && !ss->n_loading && !ss->n_list_sas
            && ovs_list_is_empty(&ss->load_queue)) {
            ss->list_sas_wanted = false;
            list_sas__(ss);
        }
    }
    ss->in_run = false;

    /* Retries due: check on a fresh listing, then initiate if down.  The
     * tunnels are looked at only when the earliest retry is due; the scan
     * finds the next one.  ('next_retry' may be early, for a tunnel whose
     * retry was cancelled, which costs one scan.) */
    long long int now = time_msec();
    bool due = false;
    if (now < ss->next_retry) {
        return;
    }
    ss->next_retry = LLONG_MAX;
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        if (now >= t->retry_at) {
            t->retry_at = LLONG_MAX;
            if (t->loaded && t->initiator && ss->connected
                && !ss->cleaning) {
                t->want_initiate = due = true;
            }
        }
        ss->next_retry = MIN(ss->next_retry, t->retry_at);
    }
    if (due && !ss->n_list_sas) {
        list_sas__(ss);
    }
}

static void
ss_wait(struct ike_backend *up)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);

    vici_client_wait(ss->vici);
    if (ss->vici_log) {
        vici_client_wait(ss->vici_log);
    }
    if (ss->reports_pending) {
        loop_immediate_wake();
    }
    loop_timer_wait_until(ss->next_retry);
}

static char *
ss_check_tunnel(const struct ike_backend *up OVS_UNUSED__,
                const struct tunnel *t)
{
    struct stroke_map map = STROKE_MAP_INITIALIZER;
    char *error = stroke_map_translate(t->name, &t->conf->ipsec_options,
                                       &map);
    stroke_map_destroy(&map);
    return error;
}

/* Certificates. */

/* Returns NULL if the certificates in 'creds' fit in the load-conn
 * messages that carry them, otherwise a new message. */
static char *
check_cert_sizes__(const struct ike_creds *creds, const char *cert_path,
                   const char *ca_path)
{
    size_t total = 0;

    if (creds->cert_pem && strlen(creds->cert_pem) > VICI_VALUE_MAX) {
        return xasprintf("Open_vSwitch: other_config:certificate: %s: the "
                         "certificate takes %zu bytes in PEM form, more "
                         "than the %d bytes that a VICI value can hold",
                         cert_path, strlen(creds->cert_pem), VICI_VALUE_MAX);
    }
    for (size_t i = 0; i < creds->n_ca_pems; i++) {
        size_t size = strlen(creds->ca_pems[i]);
        if (size > VICI_VALUE_MAX) {
            return xasprintf("Open_vSwitch: other_config:ca_cert: %s: "
                             "certificate %zu takes %zu bytes in PEM form, "
                             "more than the %d bytes that a VICI value can "
                             "hold", ca_path, i + 1, size, VICI_VALUE_MAX);
        }
        total += size;
    }
    if (total > CA_BUNDLE_MAX) {
        return xasprintf("Open_vSwitch: other_config:ca_cert: %s: %zu "
                         "certificates take %zu bytes in PEM form, more "
                         "than the %d bytes that ovsec sends with each "
                         "connection", ca_path, creds->n_ca_pems, total,
                         CA_BUNDLE_MAX);
    }
    return NULL;
}

/* Reads the first certificate of 'path', the value of 'column', into a new
 * string in '*ret' (see ike-creds.h), no larger than a VICI value.
 * Returns NULL or a new error message. */
static char *
read_cert__(const char *column, const char *path, char **ret)
{
    char *why = ike_creds_read_cert(column, path, ret);

    if (!why && strlen(*ret) > VICI_VALUE_MAX) {
        why = xasprintf("%s: %s: the certificate takes %zu bytes in PEM "
                        "form, more than the %d bytes that a VICI value "
                        "can hold", column, path, strlen(*ret),
                        VICI_VALUE_MAX);
        free(*ret);
        *ret = NULL;
    }
    return why;
}

static int
ss_set_global(struct ike_backend *up, const struct global_conf *g)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    struct ike_creds creds = { .cert_pem = NULL };
    struct ss_tunnel *t;
    char *why;

    if (ss->cleaning) {
        return -ECANCELED;
    }
    why = ike_creds_read(g, &creds);
    if (!why) {
        why = check_cert_sizes__(&creds, g->certificate, g->ca_cert);
    }
    if (why) {
        /* The monitor logged its own errors (cert_error); these are
         * ours. */
        if (!g->cert_error && !nullable_string_equal(why, ss->global_error)) {
            LOG_WARN("%s", why);
        }
        ike_creds_clear(&creds);
    }
    /* Taken over from 'creds' below. */
    char *cert_pem = creds.cert_pem;
    struct secret *key = creds.key_pem;
    char **ca_pems = creds.ca_pems;
    size_t n_ca_pems = creds.n_ca_pems;

    const struct ike_creds held = {
        .ca_pems = ss->ca_pems, .n_ca_pems = ss->n_ca_pems,
    };
    bool certs_changed = (!nullable_string_equal(cert_pem, ss->cert_pem)
                          || !ike_creds_ca_equal(&creds, &held)
                          || !nullable_string_equal(g->local_name,
                                                    ss->local_name));
    bool key_changed = !secret_equal(key, ss->key_pem);

    free(ss->cert_pem);
    ike_creds_free_pems(ss->ca_pems, ss->n_ca_pems);
    free(ss->local_name);
    free(ss->global_error);
    free(ss->key_path);
    ss->cert_pem = cert_pem;
    ss->ca_pems = ca_pems;
    ss->n_ca_pems = n_ca_pems;
    ss->local_name = key ? nullable_xstrdup(g->local_name) : NULL;
    ss->global_error = why;
    ss->key_path = key ? xstrdup(g->private_key) : NULL;

    if (key_changed) {
        secret_destroy(ss->key_pem);
        ss->key_pem = key;
        key = NULL;
        free(ss->key_error);
        ss->key_error = NULL;
        if (ss->key_pem) {
            load_key__(ss);
        } else if (ss->key_id) {
            if (ss->connected) {
                unload_key__(ss, ss->key_id);
            }
            free(ss->key_id);
            ss->key_id = NULL;
        }
    }
    secret_destroy(key);

    if (certs_changed) {
        /* The certificates travel inside the connections. */
        HMAP_FOR_EACH (t, node, &ss->tunnels) {
            if (t->auth != TUNNEL_AUTH_PSK
                && (t->loaded || t->n_inflight || t->queued)) {
                load_tunnel__(ss, t);
            }
        }
    }
    return why ? -EINVAL : 0;
}

static int
ss_tunnel_apply(struct ike_backend *up, const struct tunnel *tun)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    const struct tunnel_conf *c = tun->conf;
    struct ss_tunnel *t;

    if (!c) {
        return -EINVAL;
    }
    if (ss->cleaning) {
        return -ECANCELED;
    }
    withdraw_now__(ss, tun->name);
    t = ss_tunnel_find(ss, tun->name);
    if (!t) {
        t = xzalloc(sizeof *t);
        t->name = xstrdup(tun->name);
        t->next_initiate = LLONG_MIN;
        hmap_insert(&ss->tunnels, &t->node, hash_string(t->name, 0));
    }
    ss_tunnel_clear_conf(t);
    ike_failure_clear__(t);
    t->version = tun->version;
    t->type = c->type;
    t->local_ip = nullable_xstrdup(c->local_ip);
    t->remote_ip = xstrdup(c->remote_ip);
    t->auth = c->auth;
    t->psk = secret_clone(c->psk);
    t->local_name = nullable_xstrdup(c->local_name);
    t->remote_name = nullable_xstrdup(c->remote_name);
    t->next_initiate = LLONG_MIN;
    t->retry_at = LLONG_MAX;
    t->retry_delay = RETRY_MIN_MS;

    /* GRE has one child for both directions: only one end initiates, the
     * one with the lower address, so that the two do not cross; the other
     * end's trap policy still triggers on traffic.  Without local_ip, the
     * local address is the one the kernel would send from. */
    if (t->type == TUNNEL_GRE) {
        unsigned char a[16], b[16];
        int af = c->af == AF_INET6 ? AF_INET6 : AF_INET;
        size_t size = af == AF_INET ? 4 : 16;
        t->initiator = inet_pton(af, c->remote_ip, b) == 1
                       && (c->local_ip
                           ? inet_pton(af, c->local_ip, a) == 1
                           : !stream_route_source(af, b, a))
                       && memcmp(a, b, size) < 0;
    } else {
        t->initiator = true;
    }

    t->conf_error = stroke_map_translate(tun->name, &c->ipsec_options,
                                         &t->opts);
    if (!t->conf_error && c->auth == TUNNEL_AUTH_PEER_CERT) {
        t->conf_error = read_cert__("options:remote_cert", c->remote_cert,
                                    &t->remote_cert_pem);
    }
    load_tunnel__(ss, t);
    return 0;
}

static int
ss_tunnel_remove(struct ike_backend *up, const char *name)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    struct ss_tunnel *t = ss_tunnel_find(ss, name);

    if (!t) {
        return -ENOENT;
    }
    /* Also when not connected: charon may still hold it when the
     * connection is back. */
    withdraw_later__(ss, name, t->psk_loaded);
    sas_forget_conn__(&ss->sas, name);
    load_forget__(ss, t);
    hmap_remove(&ss->tunnels, &t->node);
    ss_tunnel_destroy(t);
    return 0;
}

/* Reconcile. */

/* Returns the string in the list 'key' of section 'n' if the list holds
 * exactly one, otherwise NULL. */
static const char *
list_single__(const struct vici_node *n, const char *key)
{
    const struct vici_node *list = vici_node_get(n, key);

    return (list && list->type == VICI_NODE_LIST && list->n_children == 1
            ? vici_node_str(list->children[0]) : NULL);
}

static bool
is_ip_literal__(const char *s)
{
    unsigned char addr[16];

    return s && (inet_pton(AF_INET, s, addr) == 1
                 || inet_pton(AF_INET6, s, addr) == 1);
}

/* True if 'c', in the list-conn entry of connection 'conn', is the child
 * 'conn' + 'suffix' in transport mode with exactly the traffic selectors
 * 'local_ts' and 'remote_ts'. */
static bool
child_is__(const struct vici_node *c, const char *conn, const char *suffix,
           const char *local_ts, const char *remote_ts)
{
    size_t len = strlen(conn);
    const char *mode = vici_node_get_str(c, "mode");
    const char *lts = list_single__(c, "local-ts");
    const char *rts = list_single__(c, "remote-ts");

    return (c->type == VICI_NODE_SECTION && c->key
            && !strncmp(c->key, conn, len) && !strcmp(c->key + len, suffix)
            && mode && !strcmp(mode, "TRANSPORT")
            && lts && !strcmp(lts, local_ts)
            && rts && !strcmp(rts, remote_ts));
}

/* True if the list-conn entry 'n' is shaped exactly like a connection
 * this backend loads (see the comment at the top of the file): reconcile
 * unloads such a connection when no tunnel asks for it, so anything an
 * operator may have loaded must fail this test. */
static bool
conn_looks_ours__(const struct vici_node *n)
{
    static const enum tunnel_type udp_types[] = {
        TUNNEL_GENEVE, TUNNEL_VXLAN,
    };
    const struct vici_node *children = vici_node_get(n, "children");
    const char *version = vici_node_get_str(n, "version");

    if (!version || strcmp(version, "IKEv2")
        || !list_single__(n, "local_addrs")
        || !is_ip_literal__(list_single__(n, "remote_addrs"))
        || !children || children->type != VICI_NODE_SECTION) {
        return false;
    }
    if (children->n_children == 1) {
        const char *ts = tunnel_proto_ts__(TUNNEL_GRE);
        return child_is__(children->children[0], n->key, "", ts, ts);
    }
    if (children->n_children != 2) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(udp_types); i++) {
        const char *ts = tunnel_proto_ts__(udp_types[i]);
        for (size_t j = 0; j < 2; j++) {
            const struct vici_node *in = children->children[j];
            const struct vici_node *out = children->children[!j];
            if (child_is__(in, n->key, "-in", ts, UDP_ANY_TS)
                && child_is__(out, n->key, "-out", UDP_ANY_TS, ts)) {
                return true;
            }
        }
    }
    return false;
}

static void
list_conn_item__(void *ss_, const struct vici_msg *item)
{
    struct ike_strongswan *ss = ss_;

    for (size_t i = 0; i < item->root.n_children; i++) {
        const struct vici_node *n = item->root.children[i];
        if (n->type == VICI_NODE_SECTION && n->key
            && !names_contain__(&ss->seen_conns, n->key)) {
            names_add__(&ss->seen_conns, n->key, conn_looks_ours__(n));
        }
    }
}

/* Parses the "keys" list of a get-shared or get-keys answer into
 * 'names'. */
static void
parse_key_list__(const struct vici_msg *reply, struct hmap *names)
{
    const struct vici_node *keys = vici_node_get(&reply->root, "keys");

    for (size_t i = 0; keys && keys->type == VICI_NODE_LIST
                       && i < keys->n_children; i++) {
        const char *id = vici_node_str(keys->children[i]);
        if (id && !names_contain__(names, id)) {
            names_add__(names, id, false);
        }
    }
}

/* All the checks of a reconcile are in: reload what charon lost, unload
 * what nobody wants. */
static void
reconcile_decide__(struct ike_strongswan *ss)
{
    struct ss_tunnel *t;
    struct ss_name *n;

    if (ss->cleaning) {
        goto out;
    }
    if (ss->key_pem && ss->key_error) {
        load_key__(ss);         /* Try again: it may load now. */
    } else if (ss->key_pem && ss->rc_keys_ok && !ss->rc_key_present) {
        LOG_WARN("charon no longer has our private key, reloading it");
        free(ss->key_id);
        ss->key_id = NULL;
        load_key__(ss);
    }
    if (!ss->rc_conns_ok) {
        goto out;
    }
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        if (!t->loaded) {
            continue;
        }
        if (!names_contain__(&ss->seen_conns, t->name)) {
            LOG_WARN("%s: charon no longer has the connection, reloading",
                     t->name);
            load_tunnel__(ss, t);
        } else if (t->auth == TUNNEL_AUTH_PSK && ss->rc_shared_ok) {
            char *id = xasprintf(PSK_ID_PREFIX "%s", t->name);
            if (!names_contain__(&ss->seen_shared, id)) {
                LOG_WARN("%s: charon no longer has the PSK, reloading",
                         t->name);
                load_tunnel__(ss, t);
            }
            free(id);
        }
    }
    /* Unload connections of ours that nobody wants any more (left by a
     * tunnel deleted while we were not running or not connected), with
     * their PSKs if charon holds them. */
    HMAP_FOR_EACH (n, node, &ss->seen_conns) {
        if (n->ours && !ss_tunnel_find(ss, n->name)) {
            char *id = xasprintf(PSK_ID_PREFIX "%s", n->name);
            bool psk = (!ss->rc_shared_ok
                        || names_contain__(&ss->seen_shared, id));
            LOG_INFO("%s: unloading stale connection from charon", n->name);
            withdraw__(ss, n->name, psk);
            if (psk) {
                names_remove__(&ss->seen_shared, id);
            }
            free(id);
        }
    }
    /* And PSKs of ours that no PSK tunnel wants, left without their
     * connection.  Nobody else names a shared secret "ovs-psk-...". */
    HMAP_FOR_EACH (n, node, &ss->seen_shared) {
        size_t len = strlen(PSK_ID_PREFIX);
        if (!strncmp(n->name, PSK_ID_PREFIX, len) && n->name[len]) {
            const char *name = n->name + len;
            t = ss_tunnel_find(ss, name);
            if (!t || t->auth != TUNNEL_AUTH_PSK) {
                LOG_INFO("%s: unloading stale PSK from charon", name);
                unload_shared__(ss, name);
            }
        }
    }

out:
    names_clear__(&ss->seen_conns);
    names_clear__(&ss->seen_shared);
}

static void
reconcile_step__(struct ike_strongswan *ss)
{
    if (ss->rc_pending && !--ss->rc_pending) {
        reconcile_decide__(ss);
    }
}

static void
list_conns_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;

    (void) reply;
    if (ss->destroying) {
        return;
    }
    ss->rc_conns_ok = !error;
    if (error && error != -ECONNRESET && error != -ECANCELED) {
        LOG_WARN("list-conns failed: %s", ovsec_strerror(error));
    }
    reconcile_step__(ss);
}

static void
get_shared_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;

    if (ss->destroying) {
        return;
    }
    /* Without the list (an old charon), lost PSKs are only noticed with
     * their connections. */
    ss->rc_shared_ok = !error;
    if (!error) {
        parse_key_list__(reply, &ss->seen_shared);
    }
    reconcile_step__(ss);
}

static void
get_keys_done__(void *ss_, int error, const struct vici_msg *reply)
{
    struct ike_strongswan *ss = ss_;
    struct hmap keys;

    if (ss->destroying) {
        return;
    }
    ss->rc_keys_ok = !error && ss->key_id;
    if (ss->rc_keys_ok) {
        hmap_init(&keys);
        parse_key_list__(reply, &keys);
        ss->rc_key_present = names_contain__(&keys, ss->key_id);
        names_clear__(&keys);
        hmap_destroy(&keys);
    }
    reconcile_step__(ss);
}

static int
ss_reconcile(struct ike_backend *up)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    int error;

    if (ss->cleaning) {
        return -ECANCELED;
    }
    if (!ss->connected) {
        return -ENOTCONN;
    }
    if (ss->reconciling) {
        return 0;
    }
    names_clear__(&ss->seen_conns);
    names_clear__(&ss->seen_shared);
    ss->rc_conns_ok = ss->rc_shared_ok = ss->rc_keys_ok = false;
    ss->rc_pending = 0;

    /* Answered in order: the three checks, then the SA listing, whose
     * initiate decisions see the reloads' outcome on the next round. */
    error = vici_client_request(ss->vici,
                                vici_builder_create(VICI_CMD_REQUEST,
                                                    "list-conns"),
                                "list-conn", list_conn_item__,
                                list_conns_done__, ss);
    if (error) {
        return error;
    }
    ss->rc_pending++;
    if (!vici_client_request(ss->vici,
                             vici_builder_create(VICI_CMD_REQUEST,
                                                 "get-shared"),
                             NULL, NULL, get_shared_done__, ss)) {
        ss->rc_pending++;
    }
    if (ss->key_id
        && !vici_client_request(ss->vici,
                                vici_builder_create(VICI_CMD_REQUEST,
                                                    "get-keys"),
                                NULL, NULL, get_keys_done__, ss)) {
        ss->rc_pending++;
    }
    ss->reconciling = !request_list_sas__(ss, list_sas_rc_done__);
    return 0;
}

/* Show. */

static void
format_ike_sa__(const struct ss_ike_sa *sa, struct ds *out)
{
    ds_put_format(out, "  %s[%s]: %s, %s[%s]...%s[%s]\n", sa->conn,
                  sa->uniqueid, sa->state ? sa->state : "?",
                  sa->local_host ? sa->local_host : "?",
                  sa->local_id ? sa->local_id : "?",
                  sa->remote_host ? sa->remote_host : "?",
                  sa->remote_id ? sa->remote_id : "?");
}

static void
format_child_sa__(const struct ss_child_sa *c, struct ds *out)
{
    ds_put_format(out, "  %s{%s}: %s, %s, reqid %s, ESP SPIs: %s_i %s_o",
                  c->name ? c->name : "?", c->uniqueid ? c->uniqueid : "?",
                  c->state ? c->state : "?", c->mode ? c->mode : "?",
                  c->reqid ? c->reqid : "?", c->spi_in ? c->spi_in : "?",
                  c->spi_out ? c->spi_out : "?");
    if (c->encr) {
        ds_put_format(out, ", %s", c->encr);
    }
    ds_put_char(out, '\n');
}

static void
ss_show_tunnel(const struct ike_backend *up, const char *name,
               struct ds *out)
{
    const struct ike_strongswan *ss = ike_strongswan_cast(up);
    const struct ss_tunnel *t = ss_tunnel_find(ss, name);
    struct ss_ike_sa *sa;

    HMAP_FOR_EACH_WITH_HASH (sa, node, hash_string(name, 0), &ss->sas) {
        if (strcmp(sa->conn, name)) {
            continue;
        }
        format_ike_sa__(sa, out);
        for (size_t i = 0; i < sa->n_children; i++) {
            const struct ss_child_sa *c = &sa->children[i];
            /* Active means the ESP SA is in the kernel. */
            if (c->state && !strcmp(c->state, "INSTALLED")) {
                format_child_sa__(c, out);
            }
        }
    }
    if (t && t->ike_failure) {
        ds_put_format(out, "  last IKE failure (%lld s ago): %s\n",
                      (time_msec() - t->ike_failure_at) / 1000,
                      t->ike_failure);
    }
}

/* True if a CHILD SA named 'child' of connection 'name' is INSTALLED. */
static bool
child_installed__(const struct ike_strongswan *ss, const char *name,
                  const char *child)
{
    struct ss_ike_sa *sa;

    HMAP_FOR_EACH_WITH_HASH (sa, node, hash_string(name, 0), &ss->sas) {
        if (strcmp(sa->conn, name)) {
            continue;
        }
        for (size_t i = 0; i < sa->n_children; i++) {
            const struct ss_child_sa *c = &sa->children[i];
            if (c->name && !strcmp(c->name, child) && c->state
                && !strcmp(c->state, "INSTALLED")) {
                return true;
            }
        }
    }
    return false;
}

static bool
ss_tunnel_is_up(const struct ike_backend *up, const char *name)
{
    const struct ike_strongswan *ss = ike_strongswan_cast(up);
    const struct ss_tunnel *t = ss_tunnel_find(ss, name);

    if (!t || !ss->connected) {
        return false;
    }
    if (t->type == TUNNEL_GRE) {
        return child_installed__(ss, name, name);
    }

    char *in = xasprintf("%s-in", name);
    char *out = xasprintf("%s-out", name);
    bool is_up = child_installed__(ss, name, in)
                 && child_installed__(ss, name, out);
    free(in);
    free(out);
    return is_up;
}

static void
ss_show_summary(const struct ike_backend *up, struct ds *out)
{
    const struct ike_strongswan *ss = ike_strongswan_cast(up);

    ds_put_format(out, "IKE daemon: strongSwan charon over %s: %s%s%s\n",
                  ss->opts.vici,
                  ss->connected ? "connected" : "not connected",
                  ss->charon_version ? ", " : "",
                  ss->charon_version ? ss->charon_version : "");
    ds_put_format(out, "tunnels: %zu, IKE SAs: %zu, requests pending: %u, "
                  "loads: %"PRIu64", unloads: %"PRIu64", initiates: "
                  "%"PRIu64", VICI messages sent: %"PRIu64"\n",
                  hmap_count(&ss->tunnels), hmap_count(&ss->sas),
                  vici_client_n_pending(ss->vici), ss->n_loads,
                  ss->n_unloads, ss->n_initiates,
                  vici_client_n_sent(ss->vici) + ss->n_log_sent
                  + (ss->vici_log ? vici_client_n_sent(ss->vici_log) : 0));
    if (ss->key_error || ss->global_error) {
        ds_put_format(out, "private key: %s\n",
                      ss->key_error ? ss->key_error : ss->global_error);
    }
}

/* ipsec/status: list-conns then list-sas, rendered as text. */
struct ss_status_req {
    struct ike_strongswan *ss;
    ike_status_cb *cb;
    void *aux;
    struct ds text;
    unsigned int n_conns;
    unsigned int n_sas;
};

static void
status_conn_item__(void *req_, const struct vici_msg *item)
{
    struct ss_status_req *req = req_;

    for (size_t i = 0; i < item->root.n_children; i++) {
        const struct vici_node *n = item->root.children[i];
        if (n->type != VICI_NODE_SECTION || !n->key) {
            continue;
        }
        const struct vici_node *l = vici_node_get(n, "local_addrs");
        const struct vici_node *r = vici_node_get(n, "remote_addrs");
        const struct vici_node *children = vici_node_get(n, "children");
        const char *version = vici_node_get_str(n, "version");
        const char *local = (l && l->type == VICI_NODE_LIST && l->n_children
                             ? vici_node_str(l->children[0]) : NULL);
        const char *remote = (r && r->type == VICI_NODE_LIST
                              && r->n_children
                              ? vici_node_str(r->children[0]) : NULL);

        ds_put_format(&req->text, "%s: %s, %s...%s\n", n->key,
                      version ? version : "?", local ? local : "%any",
                      remote ? remote : "%any");
        for (size_t j = 0; children && children->type == VICI_NODE_SECTION
                           && j < children->n_children; j++) {
            const struct vici_node *c = children->children[j];
            const struct vici_node *lts = vici_node_get(c, "local-ts");
            const struct vici_node *rts = vici_node_get(c, "remote-ts");
            const char *mode = vici_node_get_str(c, "mode");
            const char *lts0 = (lts && lts->type == VICI_NODE_LIST
                                && lts->n_children
                                ? vici_node_str(lts->children[0]) : NULL);
            const char *rts0 = (rts && rts->type == VICI_NODE_LIST
                                && rts->n_children
                                ? vici_node_str(rts->children[0]) : NULL);
            ds_put_format(&req->text, "  %s: %s, %s === %s\n",
                          c->key ? c->key : "?", mode ? mode : "?",
                          lts0 ? lts0 : "?", rts0 ? rts0 : "?");
        }
        req->n_conns++;
    }
}

static void
status_sa_item__(void *req_, const struct vici_msg *item)
{
    struct ss_status_req *req = req_;
    struct hmap tmp;

    hmap_init(&tmp);
    for (size_t i = 0; i < item->root.n_children; i++) {
        struct ss_ike_sa *sa = sa_upsert__(&tmp, item->root.children[i],
                                           true);
        if (sa) {
            format_ike_sa__(sa, &req->text);
            for (size_t j = 0; j < sa->n_children; j++) {
                format_child_sa__(&sa->children[j], &req->text);
            }
            req->n_sas++;
        }
        sas_clear__(&tmp);
    }
    hmap_destroy(&tmp);
}

static void
status_req_destroy__(struct ss_status_req *req)
{
    ds_destroy(&req->text);
    free(req);
}

static void
status_sas_done__(void *req_, int error, const struct vici_msg *reply)
{
    struct ss_status_req *req = req_;

    (void) reply;
    if (error) {
        char *msg = xasprintf("list-sas: %s", ovsec_strerror(error));
        req->cb(req->aux, error, msg);
        free(msg);
    } else {
        ds_put_format(&req->text, "(%u connections, %u IKE SAs)\n",
                      req->n_conns, req->n_sas);
        req->cb(req->aux, 0, ds_cstr(&req->text));
    }
    status_req_destroy__(req);
}

static void
status_conns_done__(void *req_, int error, const struct vici_msg *reply)
{
    struct ss_status_req *req = req_;
    struct ike_strongswan *ss = req->ss;

    (void) reply;
    if (!error) {
        ds_put_cstr(&req->text, "Security Associations:\n");
        error = vici_client_request(ss->vici,
                                    vici_builder_create(VICI_CMD_REQUEST,
                                                        "list-sas"),
                                    "list-sa", status_sa_item__,
                                    status_sas_done__, req);
        if (!error) {
            return;
        }
    }
    char *msg = xasprintf("list-conns: %s", ovsec_strerror(error));
    req->cb(req->aux, error, msg);
    free(msg);
    status_req_destroy__(req);
}

static int
ss_query_status(struct ike_backend *up, ike_status_cb *cb, void *aux)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    struct ss_status_req *req = xzalloc(sizeof *req);
    int error;

    req->ss = ss;
    req->cb = cb;
    req->aux = aux;
    ds_init(&req->text);
    ss_show_summary(up, &req->text);
    ds_put_cstr(&req->text, "Connections:\n");
    error = vici_client_request(ss->vici,
                                vici_builder_create(VICI_CMD_REQUEST,
                                                    "list-conns"),
                                "list-conn", status_conn_item__,
                                status_conns_done__, req);
    if (error) {
        status_req_destroy__(req);
    }
    return error;
}

static int
ss_cleanup(struct ike_backend *up)
{
    struct ike_strongswan *ss = ike_strongswan_cast(up);
    struct ss_tunnel *t;

    ss->cleaning = true;
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        load_forget__(ss, t);
    }
    if (!ss->connected) {
        return -ENOTCONN;
    }
    HMAP_FOR_EACH (t, node, &ss->tunnels) {
        withdraw_later__(ss, t->name, t->psk_loaded);
        t->psk_loaded = false;
    }
    withdraw_next__(ss);
    if (ss->key_id) {
        unload_key__(ss, ss->key_id);
        free(ss->key_id);
        ss->key_id = NULL;
    }
    return 0;
}

static bool
ss_idle(const struct ike_backend *up)
{
    const struct ike_strongswan *ss = ike_strongswan_cast(up);
    return (!ss->connected
            || (!vici_client_n_pending(ss->vici)
                && ovs_list_is_empty(&ss->load_queue)
                && ovs_list_is_empty(&ss->withdraw_queue)));
}

const struct ike_backend_class ike_strongswan_class = {
    .name = "strongswan",
    .create = ss_create,
    .destroy = ss_destroy,
    .run = ss_run,
    .wait = ss_wait,
    .check_tunnel = ss_check_tunnel,
    .set_global = ss_set_global,
    .tunnel_apply = ss_tunnel_apply,
    .tunnel_remove = ss_tunnel_remove,
    .reconcile = ss_reconcile,
    .show_tunnel = ss_show_tunnel,
    .tunnel_is_up = ss_tunnel_is_up,
    .show_summary = ss_show_summary,
    .query_status = ss_query_status,
    .cleanup = ss_cleanup,
    .idle = ss_idle,
};
