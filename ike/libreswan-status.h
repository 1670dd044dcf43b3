/* SPDX-License-Identifier: Apache-2.0
 *
 * libreswan-status: a parser for the output of `ipsec status` (the same
 * text as `ipsec whack --status`) of Libreswan 4.x ("000 " line prefixes)
 * and 5.x (none), giving the state of each connection pluto holds: loaded
 * or not, IKE SA established or not, ESP (IPsec) SA established with its
 * SPIs or not.  Pure: no I/O, no state, no logging.
 *
 * Connection names are taken whole from between the quotes, so any name
 * works: "-in-", "-out-", digits, dots, IPv6 addresses in the same line.
 * Instances of template connections ("name"[3]) and the address suffixes
 * are not part of the name.  A connection counts as up only when an
 * IPsec SA of it is established with known ESP SPIs: an established IKE
 * SA alone, a pending or half-open child, or an installed trap policy
 * does not make it up.
 *
 * Lines the parser does not understand are ignored (pluto adds new
 * sections across versions); bounded: at most LIBRESWAN_STATUS_MAX_CONNS
 * connections and names of up to 255 bytes are kept.
 */
#ifndef OVSEC_LIBRESWAN_STATUS_H
#define OVSEC_LIBRESWAN_STATUS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;

#define LIBRESWAN_STATUS_MAX_CONNS 65536

/* What `ipsec status` says about one connection. */
struct libreswan_conn_state {
    char *name;                 /* Connection name, without quotes. */
    bool loaded;                /* pluto lists its definition. */
    char *routing;              /* Routing/policy state from the
                                 * definition line ("unrouted", "erouted",
                                 * "routed-ondemand", ...) or NULL. */

    bool ike_established;       /* An IKE (ISAKMP/parent) SA of it is
                                 * established. */
    unsigned long ike_serial;   /* Serial (#N) of the newest established
                                 * IKE SA, else of the newest IKE SA; 0 if
                                 * none. */
    char *ike_state;            /* Its state name, e.g.
                                 * "STATE_V2_ESTABLISHED_IKE_SA", or NULL. */

    bool esp_established;       /* An IPsec SA of it is established and
                                 * its ESP SPIs are listed: the connection
                                 * carries traffic.  Never true without
                                 * the SPIs. */
    unsigned long esp_serial;   /* Serial of the newest established IPsec
                                 * SA, else of the newest child SA; 0 if
                                 * none. */
    char *esp_state;            /* Its state name, e.g.
                                 * "STATE_V2_ESTABLISHED_CHILD_SA", or
                                 * NULL. */
    uint32_t esp_spi_out;       /* SPI of the established SA we send with
                                 * (esp.SPI@PEER), 0 if unknown. */
    uint32_t esp_spi_in;        /* SPI of the established SA we receive
                                 * with (esp.SPI@US), 0 if unknown. */

    unsigned int n_states;      /* How many IKE and child SAs (#N) it has,
                                 * in any state. */
};

/* The parsed status.  'conns' is sorted by name (strcmp). */
struct libreswan_status {
    struct libreswan_conn_state *conns;     /* Array of 'n_conns'. */
    size_t n_conns;
    bool truncated;             /* More than LIBRESWAN_STATUS_MAX_CONNS
                                 * connections: the rest were dropped. */
};

/* Parses 'size' bytes of `ipsec status` output at 'text' (need not be
 * NUL-terminated; may be truncated or garbage: never fails).  Returns a new
 * status; the caller frees it with libreswan_status_destroy(). */
struct libreswan_status *libreswan_status_parse(const char *text,
                                                size_t size);

/* Frees 'status' and everything in it.  NULL ok. */
void libreswan_status_destroy(struct libreswan_status *status);

/* Returns the state of connection 'name' or NULL if the status does not
 * mention it.  Owned by 'status'. */
const struct libreswan_conn_state *libreswan_status_find(
    const struct libreswan_status *status, const char *name);

/* True if connection 'name' carries traffic: its ESP SA is established
 * (see 'esp_established').  False if unknown. */
bool libreswan_status_conn_is_up(const struct libreswan_status *status,
                                 const char *name);

/* Appends a one-line summary of 'conn' for show output, e.g.
 *   gnv0-out-3: loaded, IKE #1 established, ESP #2 established
 *   (spi in 0xd5a1f6b0 out 0x6c2b4e25)
 * without a trailing newline. */
void libreswan_conn_state_format(const struct libreswan_conn_state *conn,
                                 struct ds *out);

#endif /* libreswan-status.h */
