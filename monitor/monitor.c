/* SPDX-License-Identifier: Apache-2.0
 *
 * monitor: see monitor.h.
 *
 * Flow: ovsdb_client_run() updates the replica; when its seqno moves,
 * monitor_run() looks at the tracked rows only.  The Open_vSwitch row
 * yields a new global_conf; an Interface row yields a tunnel_conf (or a
 * reason it is INVALID).  Whatever differs from the applied state is
 * handed to the backend, which reports back through tunnel_done().
 *
 * The drop policies for ipsec_skb_mark are installed before any tunnel is
 * applied and are left in place when the monitor exits, so that marked
 * tunnel traffic fails closed while no IKE daemon is configured.
 */
#include "config.h"
#include "monitor.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ds.h"
#include "global-conf.h"
#include "log.h"
#include "loop.h"
#include "ovsdb-client.h"
#include "secret.h"
#include "smap.h"
#include "timeval.h"
#include "tunnel.h"
#include "util.h"
#include "xfrm.h"

LOG_MODULE(monitor);

/* How often certificate files are re-read to notice rotation, and how soon
 * a failed XFRM update is retried. */
#define FILE_CHECK_MS 5000
#define XFRM_RETRY_MS 5000

static const char *const ovs_columns[] = { "other_config", NULL };
static const char *const iface_columns[] = {
    "name", "type", "options", "cfm_fault", "ofport", NULL
};
static const struct ovsdb_client_table monitor_tables[] = {
    { "Open_vSwitch", ovs_columns },
    { "Interface", iface_columns },
};

struct monitor {
    struct ovsdb_client *ovsdb;     /* Replica of OVSDB. */
    uint64_t ovsdb_seqno;           /* Last seqno processed. */
    bool was_synced;                /* OVSDB replica was live last run. */

    struct ike_backend *ike;        /* The IKE daemon backend. */
    struct hmap tunnels;            /* "struct tunnel"s by name. */
    uint64_t version_floor;         /* Highest version of a deleted tunnel:
                                     * new tunnels count from here, so that
                                     * a late tunnel_done() for a deleted
                                     * tunnel never matches a new tunnel of
                                     * the same name. */
    struct global_conf *global;     /* Current global configuration. */
    bool global_known;              /* Open_vSwitch row seen. */

    /* XFRM drop policies for ipsec_skb_mark. */
    bool manage_xfrm;               /* Allowed to touch them. */
    struct xfrm_socket *xfrm;       /* NULL if it could not be opened. */
    bool drop_applied;              /* What the kernel has: */
    uint32_t drop_mark, drop_mask;  /*   policies for this mark/mask. */
    bool drop_dirty;                /* Kernel may differ from 'global'. */
    bool tunnel_drops_synced;       /* Fallback drops checked after the
                                     * first snapshot. */
    struct hmap drop_refs;          /* struct drop_ref by policy key: the
                                     * fallback drops that tunnels' confs
                                     * want, with how many want each. */
    long long int drop_retry;       /* When to retry after a failure. */

    long long int next_file_check;  /* Re-read certificate files then. */
    bool has_files;                 /* Some certificate file to watch:
                                     * a global one, or a remote_cert. */
    uint64_t global_files_stamp;    /* stat() signature of the global
                                     * certificate, key and CA files. */
    long long int next_reconcile;   /* Ask the backend to reconcile. */
    long long int reconcile_ms;     /* Interval. */
    bool cleaning;                  /* monitor_cleanup() was called: hand
                                     * nothing more to the backend, which
                                     * would refuse it (-ECANCELED). */

    struct monitor_stats stats;
};

/* One fallback drop policy and how many tunnels want it: tunnels to one
 * peer that differ only in their key share it. */
struct drop_ref {
    struct hmap_node node;          /* In 'drop_refs', by drop_hash__(). */
    struct xfrm_sel sel;            /* Its selector: the policy is
                                     * xfrm_tunnel_drop_from_sel(). */
    unsigned int n;                 /* Tunnel confs that want it. */
    bool present;                   /* sync_tunnel_drops__() scratch. */
};

static void monitor_tunnel_done__(void *aux, const char *name,
                                  uint64_t version, int error,
                                  const char *why);

static struct tunnel *
tunnel_find__(const struct monitor *m, const char *name)
{
    struct tunnel *t;

    HMAP_FOR_EACH_WITH_HASH (t, node, hash_string(name, 0), &m->tunnels) {
        if (!strcmp(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

/* Returns a signature of what stat() says of 'path' (device, inode, size,
 * modification and change times), 0 for NULL, or a distinct value if it
 * cannot be stat'ed: a file rewritten or replaced gets a new signature. */
static uint64_t
file_stamp__(const char *path)
{
    struct stat st;

    if (!path) {
        return 0;
    }
    if (stat(path, &st)) {
        return 1;
    }
    uint64_t v[] = {
        st.st_dev, st.st_ino, st.st_size,
        st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
        st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
    };
    return (uint64_t) hash_bytes(v, sizeof v, 0) << 32
           | hash_bytes(v, sizeof v, 1);
}

static uint64_t
global_files_stamp__(const struct smap *other_config)
{
    static const char *const keys[] = {
        "certificate", "private_key", "ca_cert",
    };
    uint64_t stamp = 0;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        stamp = stamp * 31 + file_stamp__(smap_get(other_config, keys[i]));
    }
    return stamp;
}

int
monitor_create(const struct monitor_options *opts, struct monitor **ret,
               char **ret_why)
{
    struct monitor *m;
    int error;

    *ret = NULL;
    *ret_why = ovsdb_client_verify_remote(opts->database);
    if (*ret_why) {
        return -EINVAL;
    }

    m = xzalloc(sizeof *m);
    hmap_init(&m->tunnels);
    hmap_init(&m->drop_refs);
    m->ovsdb = ovsdb_client_create(opts->database, "Open_vSwitch",
                                   monitor_tables,
                                   ARRAY_SIZE(monitor_tables));
    /* ovsdb-server does not probe Unix connections: probe it ourselves, so
     * that a server that accepts but no longer answers is noticed. */
    ovsdb_client_set_probe_interval(m->ovsdb, 30000);
    m->reconcile_ms = opts->ike.reconcile_ms > 0 ? opts->ike.reconcile_ms
                                                 : 15000;
    m->next_reconcile = time_msec() + m->reconcile_ms;
    m->next_file_check = time_msec() + FILE_CHECK_MS;
    m->manage_xfrm = opts->manage_xfrm;
    m->drop_retry = LLONG_MIN;

    struct ike_hooks hooks = {
        .tunnel_done = monitor_tunnel_done__,
        .aux = m,
    };
    error = opts->ike_class->create(&opts->ike, &hooks, &m->ike);
    if (error) {
        *ret_why = xasprintf("cannot start the %s backend: %s",
                             opts->ike_class->name, ovsec_strerror(error));
        monitor_destroy(m);
        return error;
    }

    if (m->manage_xfrm) {
        error = xfrm_socket_open(&m->xfrm);
        if (error) {
            LOG_WARN("cannot open XFRM netlink socket (%s): ipsec_skb_mark "
                     "drop policies will not be managed",
                     ovsec_strerror(error));
        } else {
            uint32_t mark, mask;
            int n = xfrm_drop_policies_get(m->xfrm, NULL, &mark, &mask);
            if (n > 0) {
                /* Left by an earlier instance: keep them until OVSDB says
                 * otherwise, so nothing leaks meanwhile.  An incomplete set
                 * (the instance died while installing it) gets mask 0,
                 * which no valid ipsec_skb_mark has, so that the first
                 * update completes or removes it. */
                m->drop_applied = true;
                m->drop_mark = mark;
                m->drop_mask = n == XFRM_DROP_N ? mask : 0;
                LOG_INFO("found %d drop policies for skb mark 0x%"PRIx32
                         "/0x%"PRIx32, n, mark, mask);
            }
        }
    }

    *ret = m;
    return 0;
}

static void
tunnel_destroy__(struct tunnel *t)
{
    if (t) {
        free(t->name);
        free(t->type);
        free(t->reason);
        tunnel_conf_destroy(t->conf);
        smap_destroy(&t->options);
        free(t);
    }
}

void
monitor_destroy(struct monitor *m)
{
    struct tunnel *t, *next;

    if (!m) {
        return;
    }
    if (m->ike) {
        m->ike->class->destroy(m->ike);
    }
    HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
        hmap_remove(&m->tunnels, &t->node);
        tunnel_destroy__(t);
    }
    struct drop_ref *ref, *next_ref;
    HMAP_FOR_EACH_SAFE (ref, next_ref, node, &m->drop_refs) {
        hmap_remove(&m->drop_refs, &ref->node);
        free(ref);
    }
    hmap_destroy(&m->drop_refs);
    hmap_destroy(&m->tunnels);
    global_conf_destroy(m->global);
    ovsdb_client_destroy(m->ovsdb);
    xfrm_socket_close(m->xfrm);
    free(m);
}

static void
tunnel_set_state__(struct tunnel *t, enum tunnel_state state,
                   const char *reason)
{
    t->state = state;
    free(t->reason);
    t->reason = nullable_xstrdup(reason);
}

/* Hook: the backend finished applying 'version' of tunnel 'name'. */
static void
monitor_tunnel_done__(void *aux, const char *name, uint64_t version,
                      int error, const char *why)
{
    struct monitor *m = aux;
    struct tunnel *t = tunnel_find__(m, name);

    if (!t || t->version != version || !t->conf) {
        /* A newer version is on its way, or the tunnel is gone. */
        return;
    }
    if (!error) {
        if (t->state != TUNNEL_S_CONFIGURED) {
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(600, 600);
            LOG_INFO_RL(&rl, "%s: configured in the IKE daemon "
                        "(v%"PRIu64")", name, version);
        }
        tunnel_set_state__(t, TUNNEL_S_CONFIGURED, NULL);
    } else if (error == -ENOTCONN) {
        /* charon went away: the backend loads everything again when it is
         * back, and the kernel's SAs keep carrying traffic meanwhile.  The
         * backend reports the disconnection itself, once. */
        tunnel_set_state__(t, TUNNEL_S_PENDING, why ? why
                           : "IKE daemon not connected");
    } else {
        char *reason = xasprintf("IKE daemon: %s",
                                 why ? why : ovsec_strerror(error));
        if (t->state != TUNNEL_S_FAILED || !nullable_string_equal(t->reason,
                                                                  reason)) {
            static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(60, 60);
            LOG_WARN_RL(&rl, "%s: %s", name, reason);
        }
        tunnel_set_state__(t, TUNNEL_S_FAILED, reason);
        free(reason);
    }
}

/* Hands 't' (valid, with a new version) to the backend. */
static void
tunnel_apply__(struct monitor *m, struct tunnel *t)
{
    tunnel_set_state__(t, TUNNEL_S_PENDING, NULL);
    int error = m->ike->class->tunnel_apply(m->ike, t);
    m->stats.n_applied++;
    if (error) {
        char *reason = xasprintf("cannot hand to the IKE backend: %s",
                                 ovsec_strerror(error));
        LOG_WARN("%s: %s", t->name, reason);
        tunnel_set_state__(t, TUNNEL_S_FAILED, reason);
        free(reason);
    }
}

/* Per-tunnel fallback drop policies (see xfrm.h): a tunnel's packets are
 * dropped, not sent in plaintext, whenever charon has no policy for them
 * (stopped, restarting, the connection not loaded yet). */

/* Builds the fallback drop policy of 'c' into '*p'.  Returns 0 or -errno. */
static int
tunnel_drop_policy__(const struct tunnel_conf *c, struct xfrm_policy *p)
{
    uint8_t proto = c->type == TUNNEL_GRE ? IPPROTO_GRE : IPPROTO_UDP;
    uint16_t dport = (c->type == TUNNEL_GENEVE ? 6081
                      : c->type == TUNNEL_VXLAN ? 4789 : 0);

    return xfrm_tunnel_drop_build(c->af, c->local_ip, c->remote_ip, proto,
                                  dport, p);
}

static uint32_t drop_hash__(const struct xfrm_policy *);

static struct drop_ref *
drop_ref_find__(const struct monitor *m, const struct xfrm_policy *p)
{
    struct drop_ref *ref;

    HMAP_FOR_EACH_WITH_HASH (ref, node, drop_hash__(p), &m->drop_refs) {
        struct xfrm_policy q;
        xfrm_tunnel_drop_from_sel(&ref->sel, &q);
        if (xfrm_policy_same_key(&q, p)) {
            return ref;
        }
    }
    return NULL;
}

/* Counts the fallback drop policy of tunnel conf 'c', installing it when
 * it is the first to want it. */
static void
tunnel_drop_install__(struct monitor *m, const struct tunnel_conf *c)
{
    struct xfrm_policy p;
    struct drop_ref *ref;

    if (!m->xfrm || tunnel_drop_policy__(c, &p)) {
        return;
    }
    ref = drop_ref_find__(m, &p);
    if (ref) {
        ref->n++;
        return;
    }
    ref = xzalloc(sizeof *ref);
    ref->sel = p.sel;
    ref->n = 1;
    hmap_insert(&m->drop_refs, &ref->node, drop_hash__(&p));

    int error = xfrm_policy_update(m->xfrm, &p);
    if (error) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
        LOG_WARN_RL(&rl, "installing the fallback drop policy to %s "
                    "failed: %s, retrying at the next reconcile",
                    c->remote_ip, ovsec_strerror(error));
        m->tunnel_drops_synced = false;
    }
}

/* Uncounts the fallback drop policy of tunnel conf 'c', which its tunnel
 * no longer has, removing it when no other tunnel wants it. */
static void
tunnel_drop_remove__(struct monitor *m, const struct tunnel_conf *c)
{
    struct xfrm_policy p;
    struct drop_ref *ref;

    if (!m->xfrm || tunnel_drop_policy__(c, &p)) {
        return;
    }
    ref = drop_ref_find__(m, &p);
    if (!ref || --ref->n) {
        return;
    }
    hmap_remove(&m->drop_refs, &ref->node);
    free(ref);

    int error = xfrm_policy_delete(m->xfrm, &p);
    if (error && error != -ENOENT) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
        LOG_WARN_RL(&rl, "removing the fallback drop policy to %s failed: "
                    "%s, retrying at the next reconcile", c->remote_ip,
                    ovsec_strerror(error));
        m->tunnel_drops_synced = false;
    }
}

static uint32_t
drop_hash__(const struct xfrm_policy *p)
{
    uint32_t hash = hash_bytes(&p->sel.dst, sizeof p->sel.dst, p->sel.proto);
    hash = hash_bytes(&p->sel.src, sizeof p->sel.src, hash);
    return hash_bytes(&p->sel.dport, sizeof p->sel.dport,
                      hash ^ p->sel.src_plen);
}

/* Makes the kernel's fallback drop policies exactly those of 'drop_refs':
 * adds missing ones, removes those left for tunnels that are gone
 * (deleted while no monitor ran, or a failed removal). */
static void
sync_tunnel_drops__(struct monitor *m)
{
    struct xfrm_policy_list list;
    struct drop_ref *ref;
    int error;

    if (!m->xfrm) {
        return;
    }
    HMAP_FOR_EACH (ref, node, &m->drop_refs) {
        ref->present = false;
    }

    xfrm_policy_list_init_filtered(&list, xfrm_policy_is_tunnel_drop);
    error = xfrm_dump_policies(m->xfrm, &list);
    if (!error) {
        for (size_t i = 0; i < list.n; i++) {
            const struct xfrm_policy *p = &list.policies[i];

            ref = drop_ref_find__(m, p);
            if (ref) {
                ref->present = true;
            } else {
                int r = xfrm_policy_delete(m->xfrm, p);
                error = r && r != -ENOENT ? r : error;
            }
        }
        HMAP_FOR_EACH (ref, node, &m->drop_refs) {
            if (!ref->present) {
                struct xfrm_policy p;
                xfrm_tunnel_drop_from_sel(&ref->sel, &p);
                int r = xfrm_policy_update(m->xfrm, &p);
                error = r ? r : error;
            }
        }
    }
    if (error) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
        LOG_WARN_RL(&rl, "synchronizing the fallback drop policies failed: "
                    "%s, retrying at the next reconcile",
                    ovsec_strerror(error));
    }
    m->tunnel_drops_synced = !error;
    xfrm_policy_list_done(&list);
}

/* Removes 't' from the backend if it was handed to it. */
static void
tunnel_unapply__(struct monitor *m, struct tunnel *t)
{
    if (t->conf) {
        int error = m->ike->class->tunnel_remove(m->ike, t->name);
        m->stats.n_removed++;
        if (error) {
            LOG_WARN("%s: cannot remove from the IKE backend: %s",
                     t->name, ovsec_strerror(error));
        }
        /* After the connection: nothing leaks in between. */
        tunnel_drop_remove__(m, t->conf);
        tunnel_conf_destroy(t->conf);
        t->conf = NULL;
    }
}

/* Re-evaluates tunnel 't' from its stored type and options and the current
 * global configuration; applies or removes what changed. */
static void
tunnel_reevaluate__(struct monitor *m, struct tunnel *t)
{
    struct tunnel_conf *conf;
    char *error = tunnel_conf_create(t->name, t->type, &t->options,
                                     m->global, &conf);

    if (!error) {
        /* The backend decides whether it can carry the ipsec_* options;
         * it looks at the candidate through a tunnel with the new conf. */
        struct tunnel_conf *old = t->conf;
        t->conf = conf;
        error = m->ike->class->check_tunnel(m->ike, t);
        t->conf = old;
    }

    if (error) {
        tunnel_conf_destroy(conf);
        if (t->state != TUNNEL_S_INVALID
            || !nullable_string_equal(t->reason, error)) {
            LOG_WARN("%s", error);
            tunnel_unapply__(m, t);
            t->version++;
            tunnel_set_state__(t, TUNNEL_S_INVALID, error);
            m->stats.n_invalid++;
        }
        free(error);
        return;
    }

    /* Unchanged.  A FAILED tunnel is retried by retry_failed__(), once per
     * reconcile interval, not on every re-read. */
    if (t->conf && tunnel_conf_equal(t->conf, conf)
        && t->state != TUNNEL_S_INVALID) {
        tunnel_conf_destroy(conf);
        return;
    }

    bool is_new = !t->conf;
    /* The fallback drop goes in before charon hears of the tunnel, and the
     * old one goes after. */
    tunnel_drop_install__(m, conf);
    if (t->conf) {
        tunnel_drop_remove__(m, t->conf);
    }
    tunnel_conf_destroy(t->conf);
    t->conf = conf;
    t->version++;
    LOG_INFO("%s: %s %s tunnel to %s (v%"PRIu64")", t->name,
             is_new ? "adding" : "updating",
             tunnel_type_to_string(conf->type), conf->remote_ip, t->version);
    tunnel_apply__(m, t);
}

static void
tunnel_delete__(struct monitor *m, struct tunnel *t)
{
    LOG_INFO("%s: removing tunnel", t->name);
    tunnel_unapply__(m, t);
    if (t->version > m->version_floor) {
        m->version_floor = t->version;
    }
    hmap_remove(&m->tunnels, &t->node);
    tunnel_destroy__(t);
}

/* Handles one tracked Interface row. */
static void
handle_interface__(struct monitor *m, const struct ovsdb_client_row *row)
{
    enum ovsdb_client_change change = ovsdb_client_row_get_change(row);
    const char *name = ovsdb_client_row_get_string(row, "name");
    const char *old_name = ovsdb_client_datum_get_string(
        ovsdb_client_row_get_old_datum(row, "name"));
    struct tunnel *t;

    /* Interface names do not change in OVS, but do not trust it. */
    if (old_name && (!name || strcmp(old_name, name))) {
        t = tunnel_find__(m, old_name);
        if (t) {
            tunnel_delete__(m, t);
        }
    }
    if (!name || !*name) {
        return;
    }

    t = tunnel_find__(m, name);
    if (change == OVSDB_CLIENT_DELETED) {
        if (t) {
            tunnel_delete__(m, t);
        }
        return;
    }

    struct smap options;
    smap_init(&options);
    if (ovsdb_client_row_get_smap(row, "options", &options)) {
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(5, 5);
        LOG_WARN_RL(&rl, "%s: options: not a map of strings, ignoring the "
                    "row", name);
        smap_destroy(&options);
        return;
    }

    if (!tunnel_options_want_ipsec(&options)) {
        smap_destroy(&options);
        if (t) {
            tunnel_delete__(m, t);
        }
        return;
    }

    const char *type = ovsdb_client_row_get_string(row, "type");
    int64_t ofport;
    bool fault;

    if (!t) {
        t = xzalloc(sizeof *t);
        t->name = xstrdup(name);
        t->type = xstrdup("");
        t->version = m->version_floor;
        t->state = TUNNEL_S_INVALID;
        smap_init(&t->options);
        hmap_insert(&m->tunnels, &t->node, hash_string(name, 0));
    }
    t->ofport = ovsdb_client_row_get_optional_int(row, "ofport", &ofport)
                ? ofport : -1;
    t->cfm_fault = ovsdb_client_row_get_optional_bool(row, "cfm_fault",
                                                      &fault)
                   ? fault : -1;

    bool changed = !t->conf || t->state == TUNNEL_S_INVALID
                   || !smap_equal(&options, &t->options)
                   || strcmp(t->type, type ? type : "");
    smap_destroy(&t->options);
    t->options = options;
    free(t->type);
    t->type = xstrdup(type ? type : "");
    if (changed) {
        t->remote_cert_stamp = file_stamp__(smap_get(&t->options,
                                                     "remote_cert"));
        tunnel_reevaluate__(m, t);
    }
}

/* Applies 'new' as the global configuration. */
static void
set_global__(struct monitor *m, struct global_conf *new)
{
    struct global_conf *old = m->global;
    bool certs_changed = !old || !global_conf_certs_equal(old, new);

    if (!old || !global_conf_skb_mark_equal(old, new)) {
        if (new->skb_mark_error) {
            LOG_ERR("%s; keeping the previous drop policies",
                    new->skb_mark_error);
        } else {
            m->drop_dirty = true;
        }
    }
    if (certs_changed && new->cert_error) {
        LOG_ERR("%s", new->cert_error);
    }

    m->global = new;
    m->global_known = true;
    if (certs_changed) {
        if (old) {
            LOG_INFO("certificate configuration changed, reloading "
                     "credentials");
        }
        int error = m->ike->class->set_global(m->ike, new);
        if (error) {
            LOG_WARN("cannot hand global credentials to the IKE backend: %s",
                     ovsec_strerror(error));
        }
        /* Certificate tunnels carry copies of the global settings. */
        struct tunnel *t, *next;
        HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
            if (!t->conf || t->conf->auth != TUNNEL_AUTH_PSK) {
                tunnel_reevaluate__(m, t);
            }
        }
    }
    global_conf_destroy(old);
}

static void
handle_open_vswitch__(struct monitor *m, const struct ovsdb_client_row *row)
{
    struct smap other_config;

    smap_init(&other_config);
    if (ovsdb_client_row_get_change(row) != OVSDB_CLIENT_DELETED) {
        ovsdb_client_row_get_smap(row, "other_config", &other_config);
    }
    m->global_files_stamp = global_files_stamp__(&other_config);
    set_global__(m, global_conf_create(&other_config));
    smap_destroy(&other_config);
}

static void
process_ovsdb__(struct monitor *m)
{
    const struct ovsdb_client_row *row;
    uint64_t n_removed = m->stats.n_removed;

    /* Global first: tunnels in certificate modes depend on it. */
    OVSDB_CLIENT_FOR_EACH_TRACKED (row, m->ovsdb, "Open_vSwitch") {
        handle_open_vswitch__(m, row);
    }
    if (!m->global) {
        struct smap empty;
        smap_init(&empty);
        set_global__(m, global_conf_create(&empty));
        smap_destroy(&empty);
    }
    /* Deleted rows first: an interface replaced by another of the same
     * name in one transaction arrives as a deleted and an inserted row, in
     * no particular order, and the deletion must not take the new
     * interface's tunnel with it. */
    OVSDB_CLIENT_FOR_EACH_TRACKED (row, m->ovsdb, "Interface") {
        if (ovsdb_client_row_get_change(row) == OVSDB_CLIENT_DELETED) {
            handle_interface__(m, row);
        }
    }
    OVSDB_CLIENT_FOR_EACH_TRACKED (row, m->ovsdb, "Interface") {
        if (ovsdb_client_row_get_change(row) != OVSDB_CLIENT_DELETED) {
            handle_interface__(m, row);
        }
    }
    ovsdb_client_clear_tracked(m->ovsdb);

    /* Only certificate files are polled for changes: a daemon with PSK
     * tunnels alone has no timer for them. */
    const struct global_conf *g = m->global;
    m->has_files = g && (g->certificate || g->private_key || g->ca_cert);
    if (!m->has_files) {
        struct tunnel *t;
        HMAP_FOR_EACH (t, node, &m->tunnels) {
            if (smap_get(&t->options, "remote_cert")) {
                m->has_files = true;
                break;
            }
        }
    }

    /* The backend may refuse a tunnel because of another one (Libreswan:
     * two PSKs for one pair of addresses).  When tunnels went away or
     * changed, the invalid ones get another look. */
    if (m->stats.n_removed != n_removed) {
        struct tunnel *t, *next;
        HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
            if (t->state == TUNNEL_S_INVALID) {
                tunnel_reevaluate__(m, t);
            }
        }
    }
}

/* Re-reads the global certificate files if they changed on disk since the
 * last look (stat() first, so that an idle daemon reads nothing), or if
 * 'force': a rotated file at the same path is a configuration change. */
static void
check_global_files__(struct monitor *m, bool force)
{
    const struct ovsdb_client_row *row;
    struct smap other_config;

    smap_init(&other_config);
    row = ovsdb_client_first_row(m->ovsdb, "Open_vSwitch");
    if (row) {
        ovsdb_client_row_get_smap(row, "other_config", &other_config);
    }
    uint64_t stamp = global_files_stamp__(&other_config);
    if (!force && m->global && stamp == m->global_files_stamp) {
        smap_destroy(&other_config);
        return;
    }
    m->global_files_stamp = stamp;
    struct global_conf *g = global_conf_create(&other_config);
    smap_destroy(&other_config);
    if (g->cert_error && m->global && !m->global->cert_error
        && nullable_string_equal(g->certificate, m->global->certificate)
        && nullable_string_equal(g->private_key, m->global->private_key)
        && nullable_string_equal(g->ca_cert, m->global->ca_cert)) {
        /* The same files as before, now unreadable or inconsistent: most
         * likely a rotation caught half way (a new certificate written
         * before its key).  Keep using the credentials already loaded
         * rather than tear every certificate tunnel down; the next
         * re-read or an OVSDB change settles it. */
        static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(2, 2);
        LOG_WARN_RL(&rl, "%s; keeping the credentials loaded before",
                    g->cert_error);
        global_conf_destroy(g);
    } else if (!m->global || !global_conf_certs_equal(m->global, g)
               || !global_conf_skb_mark_equal(m->global, g)) {
        set_global__(m, g);
    } else {
        global_conf_destroy(g);
    }
}

/* Re-evaluates the tunnels whose options:remote_cert file changed on disk
 * (or all of them with one, if 'force'): its contents are part of the
 * tunnel's configuration. */
static void
check_tunnel_files__(struct monitor *m, bool force)
{
    struct tunnel *t, *next;

    HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
        const char *remote_cert = smap_get(&t->options, "remote_cert");
        if (remote_cert) {
            uint64_t stamp = file_stamp__(remote_cert);
            if (force || stamp != t->remote_cert_stamp) {
                t->remote_cert_stamp = stamp;
                tunnel_reevaluate__(m, t);
            }
        }
    }
}

static void
check_files__(struct monitor *m, bool force)
{
    check_global_files__(m, force);
    check_tunnel_files__(m, force);
}

static void
update_drop_policies__(struct monitor *m)
{
    const struct global_conf *g = m->global;
    int error;

    if (!m->xfrm || !m->drop_dirty || !g || g->skb_mark_error
        || time_msec() < m->drop_retry) {
        return;
    }

    if (g->has_skb_mark) {
        if (m->drop_applied && m->drop_mark == g->skb_mark
            && m->drop_mask == g->skb_mask) {
            m->drop_dirty = false;
            return;
        }
        error = xfrm_drop_policies_set(m->xfrm, g->skb_mark, g->skb_mask);
        if (!error) {
            LOG_INFO("installed drop policies for unencrypted tunnel "
                     "packets with skb mark 0x%"PRIx32"/0x%"PRIx32,
                     g->skb_mark, g->skb_mask);
            m->drop_applied = true;
            m->drop_mark = g->skb_mark;
            m->drop_mask = g->skb_mask;
        }
    } else {
        if (!m->drop_applied) {
            m->drop_dirty = false;
            return;
        }
        error = xfrm_drop_policies_clear(m->xfrm);
        if (!error) {
            LOG_INFO("removed drop policies for skb mark "
                     "0x%"PRIx32"/0x%"PRIx32, m->drop_mark, m->drop_mask);
            m->drop_applied = false;
        }
    }

    if (error) {
        LOG_WARN("updating XFRM drop policies failed: %s, retrying in "
                 "%d ms", ovsec_strerror(error), XFRM_RETRY_MS);
        m->drop_retry = time_msec() + XFRM_RETRY_MS;
    } else {
        m->drop_dirty = false;
    }
}

/* Hands tunnels that the IKE daemon refused to the backend again, once per
 * reconcile interval: the refusal may have been transient. */
static void
retry_failed__(struct monitor *m)
{
    struct tunnel *t, *next;

    HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
        if (t->state == TUNNEL_S_FAILED && t->conf) {
            tunnel_apply__(m, t);
        }
    }
}

void
monitor_run(struct monitor *m)
{
    ovsdb_client_run(m->ovsdb);

    bool synced = ovsdb_client_is_synced(m->ovsdb);
    if (synced != m->was_synced) {
        if (synced) {
            LOG_INFO("%s: connected, replica in sync",
                     ovsdb_client_get_name(m->ovsdb));
        } else {
            const char *err = ovsdb_client_get_last_error(m->ovsdb);
            LOG_WARN("%s: lost connection%s%s; keeping the current "
                     "tunnels", ovsdb_client_get_name(m->ovsdb),
                     err ? ": " : "", err ? err : "");
        }
        m->was_synced = synced;
    }

    uint64_t seqno = ovsdb_client_get_seqno(m->ovsdb);
    if (seqno != m->ovsdb_seqno && ovsdb_client_has_snapshot(m->ovsdb)
        && !m->cleaning) {
        m->ovsdb_seqno = seqno;
        process_ovsdb__(m);
        if (!m->tunnel_drops_synced) {
            /* Once the tunnels are known: drops left by a tunnel deleted
             * while no monitor ran go, missing ones come. */
            sync_tunnel_drops__(m);
        }
    }

    long long int now = time_msec();
    if (m->global_known && m->has_files && now >= m->next_file_check
        && !m->cleaning) {
        m->next_file_check = now + FILE_CHECK_MS;
        check_files__(m, false);
    }

    /* Drop policies go in before tunnels come up, and stay. */
    update_drop_policies__(m);

    m->ike->class->run(m->ike);

    /* Reconciling unloads connections OVSDB does not ask for, so it must
     * wait until the replica says what OVSDB asks for. */
    if (now >= m->next_reconcile && ovsdb_client_has_snapshot(m->ovsdb)
        && !m->cleaning) {
        m->next_reconcile = now + m->reconcile_ms;
        retry_failed__(m);
        sync_tunnel_drops__(m);
        m->ike->class->reconcile(m->ike);
    }
}

void
monitor_wait(struct monitor *m)
{
    ovsdb_client_wait(m->ovsdb);
    m->ike->class->wait(m->ike);
    if (m->cleaning) {
        return;                 /* Only the backend's work is left. */
    }
    if (ovsdb_client_has_snapshot(m->ovsdb)) {
        /* monitor_run() moves 'next_reconcile' only once there is a
         * snapshot; waiting for it before would spin. */
        loop_timer_wait_until(m->next_reconcile);
    }
    if (m->global_known && m->has_files) {
        loop_timer_wait_until(m->next_file_check);
    }
    if (m->drop_dirty && m->xfrm && m->global
        && !m->global->skb_mark_error) {
        loop_timer_wait_until(m->drop_retry);
    }
}

void
monitor_refresh(struct monitor *m)
{
    struct tunnel *t, *next;

    LOG_INFO("refresh requested: re-reading configuration and "
             "reconciling with the IKE daemon");
    if (ovsdb_client_has_snapshot(m->ovsdb)) {
        check_files__(m, true);
        HMAP_FOR_EACH_SAFE (t, next, node, &m->tunnels) {
            tunnel_reevaluate__(m, t);
        }
    }
    m->drop_dirty = true;
    if (ovsdb_client_has_snapshot(m->ovsdb)) {
        retry_failed__(m);
        sync_tunnel_drops__(m);
        m->ike->class->reconcile(m->ike);
    }
    m->next_reconcile = time_msec() + m->reconcile_ms;
}

void
monitor_cleanup(struct monitor *m)
{
    m->cleaning = true;
    int error = m->ike->class->cleanup(m->ike);
    if (error) {
        LOG_WARN("cleanup of the IKE daemon failed: %s",
                 ovsec_strerror(error));
    }
}

bool
monitor_is_idle(const struct monitor *m)
{
    return m->ike->class->idle(m->ike);
}

static int
compare_tunnels__(const void *a_, const void *b_)
{
    const struct tunnel *const *a = a_;
    const struct tunnel *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* Returns the tunnels sorted by name in a new array; the caller frees it. */
static struct tunnel **
sort_tunnels__(const struct monitor *m, size_t *n)
{
    struct tunnel **array = xcalloc(hmap_count(&m->tunnels) + 1,
                                    sizeof *array);
    struct tunnel *t;
    size_t i = 0;

    HMAP_FOR_EACH (t, node, &m->tunnels) {
        array[i++] = t;
    }
    qsort(array, i, sizeof *array, compare_tunnels__);
    *n = i;
    return array;
}

/* True if tunnel 't' carries traffic through installed ESP SAs. */
static bool
tunnel_is_up__(const struct monitor *m, const struct tunnel *t)
{
    return t->conf && t->state == TUNNEL_S_CONFIGURED
           && m->ike->class->tunnel_is_up
           && m->ike->class->tunnel_is_up(m->ike, t->name);
}

void
monitor_show_tunnels(struct monitor *m, struct ds *out)
{
    struct xfrm_policy_list policies;
    struct xfrm_state_list states;
    bool have_policies = false, have_states = false;
    size_t n;

    xfrm_policy_list_init(&policies);
    xfrm_state_list_init(&states);
    if (m->xfrm) {
        have_policies = !xfrm_dump_policies(m->xfrm, &policies);
        have_states = !xfrm_dump_states(m->xfrm, &states);
    }

    struct tunnel **tunnels = sort_tunnels__(m, &n);
    for (size_t i = 0; i < n; i++) {
        const struct tunnel *t = tunnels[i];
        const struct tunnel_conf *c = t->conf;

        tunnel_format(t, m->global, out);
        ds_put_cstr(out, "Kernel policies installed:\n");
        if (have_policies && c) {
            xfrm_format_policies_for(&policies, c->af, c->local_ip,
                                     c->remote_ip, out);
        }
        ds_put_cstr(out, "Kernel security associations installed:\n");
        if (have_states && c) {
            xfrm_format_states_for(&states, c->af, c->local_ip,
                                   c->remote_ip, out);
        }
        if (m->ike->class->tunnel_is_up) {
            ds_put_format(out, "IPsec state:    %s\n",
                          tunnel_is_up__(m, t)
                          ? "up (ESP SAs installed)" : "down");
        }
        ds_put_cstr(out, "IPsec connections that are active:\n");
        if (c) {
            m->ike->class->show_tunnel(m->ike, t->name, out);
        }
        ds_put_char(out, '\n');
    }
    free(tunnels);
    xfrm_policy_list_done(&policies);
    xfrm_state_list_done(&states);
}

/* A JSON string for 's', which need not be valid UTF-8 (a reason may quote
 * charon): bytes that jansson refuses become '?'. */
static json_t *
json_text__(const char *s)
{
    json_t *j = json_string(s);
    if (!j) {
        char *copy = xstrdup(s);
        for (char *p = copy; *p; p++) {
            if ((unsigned char) *p >= 0x80) {
                *p = '?';
            }
        }
        j = json_string(copy);
        free(copy);
    }
    return j ? j : json_string("");
}

static json_t *
json_nullable_string__(const char *s)
{
    return s ? json_text__(s) : json_null();
}


void
monitor_show_tunnels_json(struct monitor *m, struct ds *out)
{
    json_t *array = json_array();
    size_t n;

    struct tunnel **tunnels = sort_tunnels__(m, &n);
    for (size_t i = 0; i < n; i++) {
        const struct tunnel *t = tunnels[i];
        const struct tunnel_conf *c = t->conf;
        json_t *custom = json_object();
        struct ds active = DS_EMPTY_INITIALIZER;

        if (c) {
            const struct smap_node *node;
            SMAP_FOR_EACH (node, &c->ipsec_options) {
                json_object_set_new(custom, node->key,
                                    json_text__(node->value));
            }
            m->ike->class->show_tunnel(m->ike, t->name, &active);
        }
        ds_chomp(&active);

        json_t *obj = json_pack(
            "{s:o, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
            "s:o, s:o, s:o, s:I, s:o, s:o, s:b}",
            "name", json_text__(t->name),
            "version", (json_int_t) t->version,
            "state", tunnel_state_to_string(t->state),
            "reason", json_nullable_string__(t->reason),
            "type", json_text__(t->type),
            "local_ip", json_nullable_string__(c ? c->local_ip : NULL),
            "remote_ip", json_nullable_string__(
                c ? c->remote_ip : smap_get(&t->options, "remote_ip")),
            "address_family", c ? json_string(c->af == AF_INET6
                                              ? "IPv6" : "IPv4")
                                : json_null(),
            "local_cert", json_nullable_string__(c ? c->certificate : NULL),
            "local_name", json_nullable_string__(c ? c->local_name : NULL),
            "local_key", json_nullable_string__(c ? c->private_key : NULL),
            "remote_cert", json_nullable_string__(c ? c->remote_cert : NULL),
            "remote_name", json_nullable_string__(c ? c->remote_name : NULL),
            "ca_cert", json_nullable_string__(c ? c->ca_cert : NULL),
            "psk", smap_get(&t->options, "psk")
                   ? json_string(SECRET_REDACTED) : json_null(),
            "ofport", (json_int_t) t->ofport,
            "custom_options", custom,
            "active_connections", json_text__(ds_cstr(&active)),
            "up", tunnel_is_up__(m, t));
        assert(obj);
        if (m->global && m->global->has_skb_mark) {
            json_object_set_new(obj, "skb_mark", json_sprintf(
                "0x%"PRIx32"/0x%"PRIx32, m->global->skb_mark,
                m->global->skb_mask));
        } else {
            json_object_set_new(obj, "skb_mark", json_null());
        }
        json_object_set_new(obj, "cfm_state",
                            t->cfm_fault < 0 ? json_null()
                            : json_string(t->cfm_fault ? "Down" : "Up"));
        json_array_append_new(array, obj);
        ds_destroy(&active);
    }
    free(tunnels);

    char *s = json_dumps(array, JSON_INDENT(2) | JSON_SORT_KEYS);
    ds_put_cstr(out, s);
    ds_put_char(out, '\n');
    free(s);
    json_decref(array);
}

static int
show_xfrm__(struct monitor *m, struct ds *out, bool show_policies)
{
    const char *what = show_policies ? "policies" : "states";
    int error;

    if (!m->xfrm) {
        ds_put_cstr(out, "XFRM netlink socket is not available\n");
        return -ENOTCONN;
    }
    if (show_policies) {
        struct xfrm_policy_list list;
        xfrm_policy_list_init(&list);
        error = xfrm_dump_policies(m->xfrm, &list);
        if (!error) {
            xfrm_format_policies(&list, out);
        }
        xfrm_policy_list_done(&list);
    } else {
        struct xfrm_state_list list;
        xfrm_state_list_init(&list);
        error = xfrm_dump_states(m->xfrm, &list);
        if (!error) {
            xfrm_format_states(&list, out);
        }
        xfrm_state_list_done(&list);
    }
    if (error) {
        ds_put_format(out, "reading XFRM %s failed: %s\n", what,
                      ovsec_strerror(error));
    }
    return error;
}

int
monitor_show_xfrm_policies(struct monitor *m, struct ds *out)
{
    return show_xfrm__(m, out, true);
}

int
monitor_show_xfrm_states(struct monitor *m, struct ds *out)
{
    return show_xfrm__(m, out, false);
}

int
monitor_query_status(struct monitor *m, ike_status_cb *cb, void *aux)
{
    return m->ike->class->query_status(m->ike, cb, aux);
}

void
monitor_show_backend_summary(const struct monitor *m, struct ds *out)
{
    if (m->ike->class->show_summary) {
        m->ike->class->show_summary(m->ike, out);
    }
}

void
monitor_get_stats(const struct monitor *m, struct monitor_stats *stats)
{
    const struct tunnel *t;

    *stats = m->stats;
    stats->n_tunnels = hmap_count(&m->tunnels);
    stats->n_configured = 0;
    HMAP_FOR_EACH (t, node, &m->tunnels) {
        stats->n_configured += t->state == TUNNEL_S_CONFIGURED;
    }
}
