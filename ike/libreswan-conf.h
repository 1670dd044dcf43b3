/* SPDX-License-Identifier: Apache-2.0
 *
 * libreswan-conf: what the Libreswan backend writes and runs, as pure
 * functions: the ipsec.conf text of a tunnel, its ipsec.secrets line, the
 * ipsec_skb_mark drop connections, the checks that keep anything from
 * being injected into those files, the connection and NSS names, and the
 * argv of each `ipsec` command for Libreswan 4.x and 5.x.  No I/O, no
 * state, no logging.
 *
 * Connection names follow upstream's ovs-monitor-ipsec: "IFACE-VER" for
 * gre, "IFACE-in-VER" and "IFACE-out-VER" for geneve and vxlan, where VER
 * is the tunnel's version.  The "-in" connection protects what the peer
 * sends to our tunnel port (left is us: leftprotoport=udp/PORT), the "-out"
 * one what we send to the peer's port (rightprotoport=udp/PORT).  Note
 * that names alone are ambiguous ("a-in-5" is gre tunnel "a-in" or geneve
 * tunnel "a"): match a name against a known interface with
 * libreswan_conn_name_match(), never split it blindly.
 */
#ifndef OVSEC_LIBRESWAN_CONF_H
#define OVSEC_LIBRESWAN_CONF_H 1

#include <stdbool.h>
#include <stdint.h>
#include "tunnel.h"

struct ds;

/* Command and keyword dialect. */
enum libreswan_version {
    LIBRESWAN_V4,           /* 3.x and 4.x: `ipsec auto --add`, ... */
    LIBRESWAN_V5,           /* 5.x and later: `ipsec add`, ... */
    LIBRESWAN_VERSION_N
};

const char *libreswan_version_to_string(enum libreswan_version);

/* Parses the output of `ipsec --version` ("Libreswan 4.10", "Libreswan
 * v5.2", "Linux Libreswan U4.10/K6.1 (XFRM)", ...).  Returns 0 and stores
 * the dialect in '*ret' and, when not NULL, the major and minor numbers in
 * '*ret_major' and '*ret_minor'; or -EINVAL if 'text' does not name a
 * Libreswan version, -ENOTSUP for a version before 3. */
int libreswan_version_parse(const char *text, enum libreswan_version *ret,
                            int *ret_major, int *ret_minor);

/* ---- Connection names. ---- */

enum libreswan_conn_kind {
    LIBRESWAN_CONN_GRE,     /* "IFACE-VER": both directions, proto gre. */
    LIBRESWAN_CONN_IN,      /* "IFACE-in-VER": to our UDP port. */
    LIBRESWAN_CONN_OUT,     /* "IFACE-out-VER": to the peer's UDP port. */
    LIBRESWAN_CONN_KIND_N
};

/* Returns a new string "IFACE-VER", "IFACE-in-VER" or "IFACE-out-VER";
 * the caller frees it. */
char *libreswan_conn_name(const char *ifname, enum libreswan_conn_kind,
                          uint64_t version);

/* Stores in 'names' the connection names of tunnel 'ifname' of 'type' at
 * 'version' (one for gre, "-in" then "-out" for geneve and vxlan) and
 * returns how many (1 or 2).  The caller frees each name. */
size_t libreswan_conn_names(const char *ifname, enum tunnel_type type,
                            uint64_t version, char *names[2]);

/* True if 'conn' is a connection name of interface 'ifname' (any kind, any
 * version); then stores the kind and version in '*ret_kind' and
 * '*ret_version' (each may be NULL).  Exact: "a-in-5" matches ifname
 * "a-in" as gre version 5 and ifname "a" as "-in" version 5, and nothing
 * else. */
bool libreswan_conn_name_match(const char *conn, const char *ifname,
                               enum libreswan_conn_kind *ret_kind,
                               uint64_t *ret_version);

/* ---- NSS nicknames (upstream's). ---- */

#define LIBRESWAN_NSS_CERT_PREFIX    "ovs_cert_"     /* + remote CN. */
#define LIBRESWAN_NSS_CERTKEY_PREFIX "ovs_certkey_"  /* + local CN. */
#define LIBRESWAN_NSS_CA_NAME        "ovs_cert_cacert"

/* Returns a new string, the NSS nickname of certificate 'i' (from 0) of
 * the CA file: LIBRESWAN_NSS_CA_NAME for the first (upstream's), then
 * "ovs_cert_cacert_2", "ovs_cert_cacert_3", ...  The caller frees it. */
char *libreswan_nss_ca_name(size_t i);

/* ---- Checks. ---- */

/* Returns NULL if the Libreswan backend can render tunnel 'ifname' with
 * 'conf' for 'version', otherwise a new message naming the interface, the
 * column:key and the reason; the caller frees it.  Checks:
 *  - the interface name fits in a connection name (letters, digits, '.',
 *    '_' and '-'; at most 200 bytes);
 *  - the PSK is non-empty and at most 1024 bytes (any byte is
 *    representable: see libreswan_secrets_tunnel());
 *  - in certificate modes, the local and remote names (certificate CNs),
 *    which end up unquoted in leftid=@CN and in NSS nicknames, are 1 to
 *    255 letters, digits and "._-:+=@", and a peer-certificate remote name
 *    is not "cacert" nor "cacert_N" (it would collide with the CA
 *    nicknames of libreswan_nss_ca_name());
 *  - every options:ipsec_KEY is a Libreswan connection key in the
 *    whitelist for 'version' (ike, esp, ikelifetime, salifetime,
 *    ipsec-lifetime, rekey*, dpd*, pfs, ikev2, keyexchange, mtu, ...), not
 *    one the backend sets itself, with a value of the key's type, e.g.
 *      gnv0: options:ipsec_ikelifetime: "1h; rm" is not a duration (...)
 *      gnv0: options:ipsec_leftupdown: not a supported Libreswan
 *      connection key
 *    A key the defaults also set (ike, esp, ikev2/keyexchange,
 *    keyingtries) replaces the default in that tunnel's connections.
 * Pure. */
char *libreswan_check_tunnel(const char *ifname,
                             const struct tunnel_conf *conf,
                             enum libreswan_version version);

/* Like the options part of libreswan_check_tunnel() for one option: 'key'
 * without the "ipsec_" prefix.  Returns NULL or a new message as above;
 * the caller frees it. */
char *libreswan_check_option(const char *ifname, const char *key,
                             const char *value,
                             enum libreswan_version version);

/* ---- ipsec.conf and ipsec.secrets text. ---- */

/* What a connection does when pluto loads it with `addconn --autoall`
 * (e.g. after `ipsec restart`): the backend still adds and starts each
 * connection explicitly. */
enum libreswan_auto {
    LIBRESWAN_AUTO_IGNORE,      /* auto=ignore. */
    LIBRESWAN_AUTO_ADD,         /* auto=add: wait for the peer. */
    LIBRESWAN_AUTO_ROUTE,       /* auto=route (5.x: ondemand): trap
                                 * policies, initiate on traffic. */
    LIBRESWAN_AUTO_START,       /* auto=start: initiate at once. */
    LIBRESWAN_AUTO_N
};

/* What the key of our certificate signs with.  pluto 4.x signs with RSA
 * whenever authby= allows rsasig (its default is "rsasig,ecdsa"), and
 * fails with an ECDSA key ("RSA DSS sign function failed"): a connection
 * with an ECDSA key must say authby=ecdsa.  Then pluto 4.10 also
 * refuses an RSA peer's signature ("peer authentication requires policy
 * RSASIG", whatever authby=, leftauth= and rightauth= say): both ends
 * need keys of the same type. */
enum libreswan_sig {
    LIBRESWAN_SIG_RSA,          /* RSA, or not known: pluto's default. */
    LIBRESWAN_SIG_ECDSA,        /* ECDSA: authby=ecdsa. */
    LIBRESWAN_SIG_N
};

struct libreswan_conf_options {
    enum libreswan_version version; /* Keyword dialect. */
    enum libreswan_sig local_sig;   /* Certificate modes: our key. */
    bool use_default_crypto;    /* No ike=, esp=: system crypto policy. */

    /* True if the file is pluto's root ipsec.conf (no --root-ipsec-conf):
     * libreswan_conf_header() then writes "config setup" and a "conn
     * %default" with the common keys.  False if it is a file included by
     * an operator's root ipsec.conf: the header writes no section, and
     * every connection carries the common keys itself, so that nothing
     * leaks into the operator's connections. */
    bool own_root_conf;

    enum libreswan_auto auto_out;   /* For gre and "-out" connections. */
    enum libreswan_auto auto_in;    /* For "-in" connections. */
};

/* Appends the file header: a "generated, do not edit" comment and, if
 * 'options->own_root_conf', the "config setup" and "conn %default"
 * sections. */
void libreswan_conf_header(const struct libreswan_conf_options *options,
                           struct ds *out);

/* Appends the connections of tunnel 'ifname' at 'version' with 'conf' to
 * 'out': left/right, authentication (authby=secret, or leftcert=
 * "ovs_certkey_LOCALCN" with rightcert="ovs_cert_REMOTECN" or rightca,
 * and authby=ecdsa if 'options->local_sig' says so),
 * leftprotoport/rightprotoport, hostaddrfamily/clientaddrfamily=ipv6 for
 * IPv6, and the tunnel's ipsec_* options.  Returns NULL on success, or (if
 * libreswan_check_tunnel() fails) the new message it returns, appending
 * nothing; the caller frees it. */
char *libreswan_conf_tunnel(const struct libreswan_conf_options *options,
                            const char *ifname, uint64_t version,
                            const struct tunnel_conf *conf, struct ds *out);

/* Appends the ipsec.secrets line of tunnel 'ifname' (PSK mode only;
 * appends nothing otherwise):
 *   LOCAL REMOTE : PSK "text"       printable ASCII without '"'
 *   LOCAL REMOTE : PSK 0x6869...    anything else, byte for byte
 * where LOCAL is options:local_ip, or %any without it.  pluto selects a
 * PSK by the connection's pair of IDs, here its addresses: two tunnels
 * whose lines name the same pair (or one of them %any) cannot have
 * different PSKs; see libreswan_psk_conflict().
 * Returns NULL, or a new message if the PSK cannot be used (see
 * libreswan_check_tunnel()); the caller frees it.  'out' then holds a
 * secret: clear it with ds_destroy_secure(). */
char *libreswan_secrets_tunnel(const char *ifname,
                               const struct tunnel_conf *conf,
                               struct ds *out);

/* Returns NULL if PSK tunnels 'ifname' ('conf') and 'other_ifname'
 * ('other') can have their own PSKs in one ipsec.secrets, otherwise a new
 * message naming 'ifname', options:psk and the reason; the caller frees
 * it.  They cannot when they go to the same remote_ip, their local_ip are
 * equal or either is unset (the lines' IDs overlap: pluto would use one
 * PSK for both), and the PSKs differ.  Pure. */
char *libreswan_psk_conflict(const char *ifname,
                             const struct tunnel_conf *conf,
                             const char *other_ifname,
                             const struct tunnel_conf *other);

/* The drop connections for ipsec_skb_mark: packets carrying 'mark' under
 * 'mask' and sent to a gre, geneve (udp 6081) or vxlan (udp 4789) tunnel
 * destination over IPv4 are dropped unless a tunnel's IPsec policy (more
 * specific, so preferred) encrypts them.  They match the destination
 * port, not the source port, and have what Libreswan needs to load a
 * drop connection (authby=never, right=%any, a protocol on both ends;
 * upstream's had none of these: "right= is not set").
 *
 * Libreswan 4.x ignores mark= (and mark-out=) on type=drop connections
 * (tested with 4.10: the connection shows "mark: unset" and its XFRM
 * policies carry no mark), so there they would drop every gre, geneve and
 * vxlan packet, IPsec tunnel or not.  For LIBRESWAN_V4 this appends
 * nothing and returns -ENOTSUP: install mark-matching XFRM block policies
 * directly instead (lib/xfrm.h), as the strongSwan backend does.  For
 * LIBRESWAN_V5 (5.x parses mark= for every connection; not tested against
 * a running 5.x) appends the sections and returns 0.  IPv6 is not covered:
 * Libreswan cannot resolve %defaultroute for IPv6 drop connections. */
int libreswan_conf_drop_conns(const struct libreswan_conf_options *options,
                              uint32_t mark, uint32_t mask, struct ds *out);

/* The names of the connections libreswan_conf_drop_conns() writes; stores
 * their count in '*ret_n'.  Static storage. */
const char *const *libreswan_drop_conn_names(size_t *ret_n);

/* ---- Commands. ---- */

enum libreswan_cmd {
    LIBRESWAN_CMD_ADD,              /* Load 'conn' from the conf file. */
    LIBRESWAN_CMD_START,            /* Add and initiate, asynchronous. */
    LIBRESWAN_CMD_UP,               /* Initiate, asynchronous. */
    LIBRESWAN_CMD_UP_WAIT,          /* Initiate and wait for the outcome
                                     * (whack prints why it failed). */
    LIBRESWAN_CMD_DOWN,             /* Tear down the SAs, keep the conn. */
    LIBRESWAN_CMD_DELETE,           /* Unload 'conn' (and its SAs). */
    LIBRESWAN_CMD_REREADSECRETS,    /* Reload ipsec.secrets; no conn. */
    LIBRESWAN_CMD_STATUS,           /* `ipsec status`; no conn. */
    LIBRESWAN_CMD_N
};

/* Paths the commands name. */
struct libreswan_paths {
    const char *ipsec;      /* The `ipsec` program, e.g. /usr/sbin/ipsec. */
    const char *conf;       /* Root ipsec.conf (--config). */
    const char *ctl;        /* pluto's control socket (--ctlsocket). */
};

/* Returns a new NULL-terminated argv for 'cmd' on connection 'conn' (NULL
 * for the commands that take none) in the dialect of 'version', e.g.
 *   4.x: ipsec auto --config C --ctlsocket S --add CONN
 *   5.x: ipsec add --config C --ctlsocket S CONN
 * The caller frees it with libreswan_argv_free(). */
char **libreswan_cmd_argv(enum libreswan_version version,
                          const struct libreswan_paths *paths,
                          enum libreswan_cmd cmd, const char *conn);

/* Frees an argv from libreswan_cmd_argv().  NULL ok. */
void libreswan_argv_free(char **argv);

#endif /* libreswan-conf.h */
