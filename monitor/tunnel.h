/* SPDX-License-Identifier: Apache-2.0
 *
 * tunnel: the IPsec configuration of one OVS tunnel interface, built from
 * its Interface row (name, type, options) and the global_conf, and the
 * rules that make it valid.  A tunnel_conf is immutable once built; the
 * monitor owns the 'struct tunnel' objects and backends copy what they
 * need from them.
 */
#ifndef OVSEC_TUNNEL_H
#define OVSEC_TUNNEL_H 1

#include <stdbool.h>
#include <stdint.h>
#include "hmap.h"
#include "smap.h"

struct ds;
struct global_conf;
struct secret;

enum tunnel_type {
    TUNNEL_GRE,                 /* IP protocol 47, one connection. */
    TUNNEL_GENEVE,              /* UDP 6081, -in and -out children. */
    TUNNEL_VXLAN,               /* UDP 4789, -in and -out children. */
    TUNNEL_TYPE_N
};

enum tunnel_auth {
    TUNNEL_AUTH_PSK,            /* options:psk. */
    TUNNEL_AUTH_PEER_CERT,      /* options:remote_cert, self-signed peer. */
    TUNNEL_AUTH_CA,             /* options:remote_name + ca_cert. */
};

/* Validated IPsec configuration of one tunnel. */
struct tunnel_conf {
    enum tunnel_type type;
    int af;                     /* AF_INET or AF_INET6. */
    char *local_ip;             /* Canonical text, or NULL for any. */
    char *remote_ip;            /* Canonical text. */
    enum tunnel_auth auth;

    struct secret *psk;         /* TUNNEL_AUTH_PSK only. */

    char *remote_cert;          /* TUNNEL_AUTH_PEER_CERT: path. */
    char *remote_name;          /* Peer identity (CN): given, or the CN of
                                 * remote_cert.  NULL in PSK mode. */
    /* Copies of the global settings, set in certificate modes only. */
    char *certificate;          /* Local certificate path. */
    char *private_key;          /* Local private key path. */
    char *ca_cert;              /* CA certificate path (CA mode). */
    char *local_name;           /* CN of 'certificate'. */
    uint8_t remote_cert_digest[32];  /* SHA-256 of remote_cert contents. */

    /* The tunnel's "ipsec_*" options with the prefix removed, e.g.
     * "ike" -> "aes128-sha256-modp2048".  Checked by the IKE backend's
     * check_tunnel(). */
    struct smap ipsec_options;
};

enum tunnel_state {
    TUNNEL_S_INVALID,           /* Configuration rejected; see 'reason'. */
    TUNNEL_S_PENDING,           /* Handed to the IKE backend, no answer. */
    TUNNEL_S_CONFIGURED,        /* The IKE daemon holds its connections. */
    TUNNEL_S_FAILED,            /* The IKE daemon refused; see 'reason'. */
    TUNNEL_S_N
};

/* One tunnel interface that wants IPsec.  Owned by the monitor. */
struct tunnel {
    struct hmap_node node;      /* In the monitor's map, by 'name'. */
    char *name;                 /* Interface name. */
    char *type;                 /* Interface type as in OVSDB. */
    uint64_t version;           /* Bumped on each configuration change. */
    enum tunnel_state state;
    char *reason;               /* Why INVALID or FAILED, else NULL. */
    struct tunnel_conf *conf;   /* NULL when INVALID. */
    struct smap options;        /* The Interface options, PSK included
                                 * (never print it: use tunnel_format()). */
    long long int ofport;       /* -1 if unknown. */
    int cfm_fault;              /* -1 unknown, 0 up, 1 fault. */
    uint64_t remote_cert_stamp; /* stat() signature of options:remote_cert
                                 * when last read, so that the monitor
                                 * re-reads the file only when it changed. */
};

const char *tunnel_type_to_string(enum tunnel_type);
/* Parses "gre", "geneve", "vxlan".  Returns true on success. */
bool tunnel_type_from_string(const char *, enum tunnel_type *);
const char *tunnel_state_to_string(enum tunnel_state);

/* True if an Interface with these options asks for IPsec: it has psk,
 * remote_cert or remote_name. */
bool tunnel_options_want_ipsec(const struct smap *options);

/* Builds the configuration of interface 'name' of 'type' from its
 * 'options' and 'global' (which may be NULL when unknown).  On success
 * returns NULL and stores a new tunnel_conf in '*ret' (the caller destroys
 * it).  On failure returns a new message that names the interface, the
 * column:key and the reason, e.g.
 *   vx0: options:remote_ip: "10.0.0" is not an IP address
 * and sets '*ret' to NULL; the caller frees the message. */
char *tunnel_conf_create(const char *name, const char *type,
                         const struct smap *options,
                         const struct global_conf *global,
                         struct tunnel_conf **ret);
void tunnel_conf_destroy(struct tunnel_conf *);     /* NULL ok. */
/* True if both are NULL or equal in every field (PSK compared in constant
 * time, the remote_cert file's contents by digest).  The contents of the
 * global certificate, key and CA files are not part of a tunnel_conf: a
 * change there is a global_conf change (global_conf_certs_equal()), which
 * the IKE backend handles in set_global(). */
bool tunnel_conf_equal(const struct tunnel_conf *, const struct tunnel_conf *);

/* Appends upstream's per-tunnel "tunnels/show" fields for 't' to 'out'
 * (the PSK as <redacted>), without the kernel and IKE sections, which the
 * caller adds. */
void tunnel_format(const struct tunnel *, const struct global_conf *,
                   struct ds *out);

#endif /* tunnel.h */
