/* SPDX-License-Identifier: Apache-2.0
 *
 * monitor: the heart of ovsec-monitor.  Watches OVSDB through an
 * ovsdb_client, keeps the table of tunnels that want IPsec and the global
 * configuration, and drives one IKE backend so that the IKE daemon holds
 * exactly those tunnels, and the kernel's XFRM drop policies so that
 * tunnel packets with the ipsec_skb_mark never leave in plaintext.
 *
 * Incremental: only Interface rows that OVSDB reports changed are looked
 * at, and a tunnel is handed to the backend only when its validated
 * configuration differs from what was applied.
 *
 * Owns: the tunnels (struct tunnel), the current global_conf, the backend
 * instance, the OVSDB client and the XFRM socket.
 */
#ifndef OVSEC_MONITOR_H
#define OVSEC_MONITOR_H 1

#include <stdbool.h>
#include <stdint.h>
#include "ike.h"

struct ds;
struct monitor;

struct monitor_options {
    const char *database;       /* OVSDB remote, e.g. "unix:PATH". */
    const struct ike_backend_class *ike_class;
    struct ike_options ike;     /* Passed to the backend. */
    bool manage_xfrm;           /* Install ipsec_skb_mark drop policies. */
};

/* Creates the monitor.  Returns 0 and stores it in '*ret', or -errno with
 * a new message in '*ret_why' (the caller frees it). */
int monitor_create(const struct monitor_options *, struct monitor **ret,
                   char **ret_why);
/* Frees the monitor.  Unloads nothing: see monitor_cleanup().  NULL ok. */
void monitor_destroy(struct monitor *);

void monitor_run(struct monitor *);
void monitor_wait(struct monitor *);

/* Re-reads every tunnel and the certificate files, reapplies what changed
 * and reconciles with the IKE daemon now ("refresh"). */
void monitor_refresh(struct monitor *);

/* Starts unloading everything the backend loaded (exit without
 * --no-cleanup).  monitor_is_idle() tells when it is done.  From then on
 * monitor_run() hands nothing more to the backend (no OVSDB changes, file
 * re-reads, retries or reconciles), so that exit leaves the IKE daemon
 * without anything of ours. */
void monitor_cleanup(struct monitor *);
bool monitor_is_idle(const struct monitor *);

/* Show output.  Each appends to 'out'. */
void monitor_show_tunnels(struct monitor *, struct ds *out);
void monitor_show_tunnels_json(struct monitor *, struct ds *out);
/* Return 0 or -errno (then 'out' holds the reason). */
int monitor_show_xfrm_policies(struct monitor *, struct ds *out);
int monitor_show_xfrm_states(struct monitor *, struct ds *out);
/* The ipsec/status text: asks the backend; 'cb' is called once. */
int monitor_query_status(struct monitor *, ike_status_cb *cb, void *aux);

/* Counters, for tests and benchmarks. */
struct monitor_stats {
    uint64_t n_applied;         /* tunnel_apply() calls. */
    uint64_t n_removed;         /* tunnel_remove() calls. */
    uint64_t n_invalid;         /* Tunnels that went INVALID. */
    unsigned int n_tunnels;     /* Tunnels that want IPsec. */
    unsigned int n_configured;  /* ... in state CONFIGURED. */
};
void monitor_get_stats(const struct monitor *, struct monitor_stats *);
/* Appends the IKE backend's counters (a few lines, no listing). */
void monitor_show_backend_summary(const struct monitor *, struct ds *out);

#endif /* monitor.h */
