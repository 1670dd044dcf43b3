/* SPDX-License-Identifier: Apache-2.0
 *
 * stroke-map: translates a tunnel's "ipsec_*" Interface options into
 * settings of a VICI "load-conn" message.
 *
 * Upstream's ovs-monitor-ipsec copies every options:ipsec_KEY=VALUE pair
 * verbatim into the tunnel's conn sections of ipsec.conf, so the keys are
 * those of strongSwan's legacy ipsec.conf(5) (the "stroke" interface), and
 * OVN and Antrea write them (ipsec_forceencaps=yes, ipsec_ike=...).  ovsec
 * speaks VICI, whose settings are those of swanctl.conf(5).  This module
 * maps each ipsec.conf key that has a swanctl equivalent, converting its
 * value with the same semantics charon's stroke plugin gave it (for
 * example, ipsec.conf's "lifetime" is a hard lifetime from which
 * "margintime" is subtracted, while swanctl's "rekey_time" is the soft
 * one), and rejects, with a reason, the keys that ovsec sets itself, the
 * keys without an equivalent and unknown keys.  doc/ipsec-options.md is
 * the table for operators.
 *
 * Every value is parsed into a type (time, integer, yes/no, word from a
 * fixed set, proposal list of [A-Za-z0-9_] tokens) and re-rendered in
 * canonical form, so nothing an OVSDB writer puts in an option reaches
 * the IKE daemon unchecked.
 *
 * Pure: no I/O, no logging, no global state.
 */
#ifndef OVSEC_STROKE_MAP_H
#define OVSEC_STROKE_MAP_H 1

#include <stdbool.h>
#include <stddef.h>

struct smap;

/* Longest option value accepted, in bytes. */
#define STROKE_MAP_VALUE_MAX 1024

/* Where a setting goes in the load-conn message. */
enum stroke_scope {
    STROKE_CONN,        /* connections.<conn>.KEY */
    STROKE_CHILD,       /* connections.<conn>.children.<child>.KEY, in
                         * every CHILD_SA of the tunnel (geneve and vxlan
                         * tunnels have two). */
    STROKE_LOCAL,       /* connections.<conn>.local.KEY (no option maps
                         * here today: ovsec sets authentication). */
    STROKE_REMOTE,      /* connections.<conn>.remote.KEY (likewise). */
    STROKE_SCOPE_N
};

/* One swanctl setting. */
struct stroke_setting {
    enum stroke_scope scope;    /* Section the setting goes in. */
    const char *key;            /* swanctl key, e.g. "rekey_time"; static. */
    char *value;                /* Canonical value, e.g. "3060s"; owned. */
    bool is_list;               /* True for proposal lists: send 'value'
                                 * split at ',' as a VICI list. */
};

/* The settings that a tunnel's options translate to, in a fixed order
 * (connection settings first).  A (scope, key) pair appears at most
 * once.  Owns the array and the values. */
struct stroke_map {
    struct stroke_setting *settings;    /* 'n' settings; NULL if none. */
    size_t n;                           /* Number of settings. */
};

#define STROKE_MAP_INITIALIZER { NULL, 0 }

/* Translates the ipsec.conf options 'options' of interface 'iface'.  The
 * keys of 'options' have the "ipsec_" prefix already removed (e.g. "ike");
 * 'options' may be empty.
 *
 * On success returns NULL and stores the settings in '*out', which the
 * caller frees with stroke_map_destroy().  On failure returns a new
 * message naming the interface, the option as "options:ipsec_KEY", its
 * value and the reason, for example
 *   gnv0: options:ipsec_dpddelay: "5x" is not a time: expected
 *   <number>[s|m|h|d]
 * and leaves '*out' empty; the caller frees the message.  Options are
 * checked one by one in key order, then in combination (lifetime against
 * margintime, esp against ah...); the first problem found is reported.
 *
 * Options that restate what ovsec always does (keyexchange=ikev2,
 * aggressive=no, installpolicy=yes, rekey=yes, reauth=no) are accepted
 * and produce no setting.
 *
 * The backend must not add its own value for a (scope, key) the map holds
 * (see stroke_map_find()), and must not add default ESP proposals when the
 * map holds STROKE_CHILD "ah_proposals" (ipsec.conf allows ESP or AH, not
 * both). */
char *stroke_map_translate(const char *iface, const struct smap *options,
                           struct stroke_map *out);

/* Frees the settings in 'map' and leaves it empty.  NULL ok. */
void stroke_map_destroy(struct stroke_map *map);

/* Returns the setting of 'map' for ('scope', 'key'), or NULL if the map
 * does not set it, in which case the backend may use its own default.
 * The setting is owned by 'map'. */
const struct stroke_setting *stroke_map_find(const struct stroke_map *map,
                                             enum stroke_scope scope,
                                             const char *key);

/* Returns "conn", "child", "local" or "remote". */
const char *stroke_scope_to_string(enum stroke_scope);

#endif /* stroke-map.h */
