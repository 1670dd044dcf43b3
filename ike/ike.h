/* SPDX-License-Identifier: Apache-2.0
 *
 * ike: the interface between the monitor and an IKE daemon backend
 * (strongSwan over VICI, Libreswan's pluto).  A backend is a class struct
 * of function pointers; an instance embeds 'struct ike_backend' first.
 *
 * Contract for every backend:
 *  - Nothing blocks.  Mutations queue work and return 0 or -errno at once;
 *    their outcome arrives later through 'ike_hooks'.
 *  - Backends copy what they need from the tunnel and global_conf they are
 *    given and keep no pointer to them.
 *  - One changed tunnel touches only that tunnel's IKE connections.
 *  - The backend owns its view of the IKE daemon and its in-flight
 *    requests; every request has a deadline (command timeout).
 */
#ifndef OVSEC_IKE_H
#define OVSEC_IKE_H 1

#include <stdbool.h>
#include <stdint.h>

struct ds;
struct global_conf;
struct tunnel;

/* Options from the command line. */
struct ike_options {
    const char *vici;               /* strongSwan: "unix:PATH". */
    long long int command_timeout_ms;   /* Per request/child deadline. */
    long long int reconcile_ms;     /* Periodic reconcile interval. */
    bool use_default_crypto;        /* Leave proposals to the daemon. */
    bool restart_ike_daemon;        /* false: --no-restart-ike-daemon. */
    const char *root_prefix;        /* --root-prefix, "" if none. */
    const char *ipsec_conf;         /* Libreswan: --ipsec-conf. */
    const char *root_ipsec_conf;    /* Libreswan: --root-ipsec-conf. */
    const char *ipsec_d;            /* Libreswan: --ipsec-d (NSS db). */
    const char *ipsec_secrets;      /* Libreswan: --ipsec-secrets. */
    const char *ipsec_ctl;          /* Libreswan: --ipsec-ctl. */
};

/* Upcalls into the monitor.  Called from the backend's run(). */
struct ike_hooks {
    /* The work queued by tunnel_apply() for version 'version' of tunnel
     * 'name' finished: 'error' is 0 when the IKE daemon holds the tunnel's
     * connections and credentials, otherwise -errno and 'why' says what the
     * daemon answered.  Also called when reconcile finds a tunnel lost or
     * reloads it. */
    void (*tunnel_done)(void *aux, const char *name, uint64_t version,
                        int error, const char *why);
    void *aux;
};

/* Called once with the text of "ipsec/status" ('error' 0) or an error
 * (-errno, 'text' says why). */
typedef void ike_status_cb(void *aux, int error, const char *text);

struct ike_backend {
    const struct ike_backend_class *class;
};

struct ike_backend_class {
    const char *name;                       /* "strongswan", "libreswan". */

    /* Creates a backend.  Does not block: connecting to the daemon happens
     * in run().  Returns 0 and stores the instance in '*ret' (destroy with
     * destroy()), or -errno. */
    int (*create)(const struct ike_options *, const struct ike_hooks *,
                  struct ike_backend **ret);

    /* Frees the backend.  NULL ok; never blocks; unloads nothing. */
    void (*destroy)(struct ike_backend *);

    /* Does I/O, handles replies and events, enforces deadlines. */
    void (*run)(struct ike_backend *);

    /* Registers fds and deadlines with the poll loop. */
    void (*wait)(struct ike_backend *);

    /* Returns NULL if the backend can carry tunnel 't' (in particular its
     * ipsec_* options), otherwise a new message naming the interface, the
     * column:key and the reason; the caller frees it.  Pure. */
    char *(*check_tunnel)(const struct ike_backend *,
                          const struct tunnel *t);

    /* Sets the global credentials (local certificate, key, CA).  Reloads
     * them without tearing down established SAs.  Returns 0 or -errno;
     * -ECANCELED after cleanup(). */
    int (*set_global)(struct ike_backend *, const struct global_conf *);

    /* Adds or replaces tunnel 't' (its conf must be non-NULL and checked)
     * at 't->version'.  Result via hooks->tunnel_done.  Returns 0 or
     * -errno; -ECANCELED after cleanup(), with nothing loaded and no
     * tunnel_done to come. */
    int (*tunnel_apply)(struct ike_backend *, const struct tunnel *t);

    /* Removes tunnel 'name': unloads its connections and credentials.
     * Returns 0 or -errno. */
    int (*tunnel_remove)(struct ike_backend *, const char *name);

    /* Compares the daemon's connections with what was applied; reloads
     * what is missing or stale, unloads what nobody asked for, brings up
     * what went down.  Returns 0 or -errno; -ECANCELED after
     * cleanup(). */
    int (*reconcile)(struct ike_backend *);

    /* Appends the IKE part of "tunnels/show" for tunnel 'name': its
     * active connections, one per line. */
    void (*show_tunnel)(const struct ike_backend *, const char *name,
                        struct ds *out);

    /* True if tunnel 'name' carries traffic: its ESP (CHILD) SAs are
     * installed (for geneve and vxlan, both the inbound and the outbound
     * one).  Pure; may be NULL in a backend that cannot tell. */
    bool (*tunnel_is_up)(const struct ike_backend *, const char *name);

    /* Appends the backend's summary (connected?, counts, last error). */
    void (*show_summary)(const struct ike_backend *, struct ds *out);

    /* Asks the daemon for its status (ipsec/status); 'cb' is called later
     * from run(), exactly once.  Returns 0 or -errno (then 'cb' is never
     * called). */
    int (*query_status)(struct ike_backend *, ike_status_cb *cb, void *aux);

    /* Unloads everything the backend loaded (exit without --no-cleanup)
     * and leaves the daemon's other connections alone.  From then on the
     * backend loads nothing again: tunnel_apply(), set_global() and
     * reconcile() return -ECANCELED.  Returns 0 or -errno; idle() tells
     * when it finished. */
    int (*cleanup)(struct ike_backend *);

    /* True when no request is in flight (cleanup finished). */
    bool (*idle)(const struct ike_backend *);
};

extern const struct ike_backend_class ike_strongswan_class;
extern const struct ike_backend_class ike_libreswan_class;

/* Returns the class named 'name' or NULL. */
const struct ike_backend_class *ike_class_find(const char *name);

#endif /* ike.h */
