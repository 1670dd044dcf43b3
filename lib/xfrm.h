/* SPDX-License-Identifier: Apache-2.0
 *
 * xfrm: the kernel's IPsec databases (XFRM policies and states), read and
 * written over NETLINK_XFRM with libmnl.
 *
 * It does three things for the monitor:
 *
 *   - Dumps every policy and every state into arrays of plain structs, and
 *     formats them like "ip xfrm policy" and "ip xfrm state" (what
 *     upstream's xfrm/policies, xfrm/state and tunnels/show print), except
 *     that key material is never kept nor printed: a state keeps only the
 *     names and key lengths of its algorithms.
 *
 *   - Selects the policies and states that involve one tunnel's endpoints,
 *     for tunnels/show.
 *
 *   - Installs, finds and removes ovsec's "drop policies" for
 *     other_config:ipsec_skb_mark: outbound BLOCK policies, one per address
 *     family and tunnel protocol (UDP to port 6081 for Geneve, UDP to port
 *     4789 for VXLAN, IP protocol 47 for GRE), matching the skb mark, so
 *     that tunnel traffic that should be encrypted never leaves in
 *     plaintext while no SA covers it.
 *
 * The module owns its netlink socket and nothing else: results are copied
 * into caller-owned lists.  Requests block until the kernel answers, which
 * is the one blocking call the daemon allows; each receive is bounded by
 * SO_RCVTIMEO (XFRM_TIMEOUT_MS).  A dump that the kernel flags as
 * inconsistent (NLM_F_DUMP_INTR, because the database changed under it)
 * fails with -EAGAIN, so that the caller redoes it on its next run.
 *
 * Parsing and encoding are pure functions over memory buffers, exposed
 * below for the unit tests.  Kernel input is checked: a message or
 * attribute shorter than its structure makes the dump fail with -EBADMSG.
 *
 * Never logs above DBG.  Every int function returns >= 0 on success and a
 * negative errno value on failure.
 */
#ifndef OVSEC_XFRM_H
#define OVSEC_XFRM_H 1

/* <netinet/in.h> must come before the kernel headers, or the definitions
 * of struct in6_addr clash. */
#include <netinet/in.h>
#include <linux/xfrm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;
struct nlmsghdr;

/* Bound on each blocking receive from the kernel. */
#define XFRM_TIMEOUT_MS 1000

/* The most templates a policy can have (the kernel's XFRM_MAX_DEPTH). */
#define XFRM_POLICY_MAX_TMPLS 6

/* An IPv4 or IPv6 address; the enclosing structure says which. */
union xfrm_addr {
    struct in_addr in4;         /* AF_INET. */
    struct in6_addr in6;        /* AF_INET6. */
};

/* The traffic a policy or state applies to.  Ports are in host byte order;
 * a zero mask means "any".  For ICMP the ports hold type and code, for GRE
 * the two halves of the key, as in the kernel. */
struct xfrm_sel {
    int family;                 /* AF_INET, AF_INET6 or AF_UNSPEC (0). */
    union xfrm_addr src;        /* Source prefix... */
    union xfrm_addr dst;        /* ...and destination prefix. */
    uint8_t src_plen;           /* Source prefix length in bits. */
    uint8_t dst_plen;           /* Destination prefix length in bits. */
    uint8_t proto;              /* IP protocol number, 0 for any. */
    uint16_t sport;             /* Source port. */
    uint16_t sport_mask;        /* Its mask, 0 or 0xffff in practice. */
    uint16_t dport;             /* Destination port. */
    uint16_t dport_mask;        /* Its mask. */
    int ifindex;                /* Interface, 0 for any. */
};

/* One template of a policy: the SA a packet must go through. */
struct xfrm_tmpl {
    int family;                 /* AF_INET or AF_INET6 of 'src', 'dst'. */
    union xfrm_addr src;        /* Outer source (tunnel mode), or zero. */
    union xfrm_addr dst;        /* Outer destination, or zero. */
    uint8_t proto;              /* IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP. */
    uint32_t spi;               /* Host byte order, 0 for any. */
    uint32_t reqid;             /* Ties the policy to its states. */
    uint8_t mode;               /* XFRM_MODE_TRANSPORT, XFRM_MODE_TUNNEL... */
    uint8_t optional;           /* 1 for "level use". */
};

/* One XFRM policy (security policy database entry). */
struct xfrm_policy {
    struct xfrm_sel sel;        /* Traffic it applies to. */
    uint8_t dir;                /* XFRM_POLICY_IN, _OUT or _FWD. */
    uint8_t action;             /* XFRM_POLICY_ALLOW or XFRM_POLICY_BLOCK. */
    uint8_t flags;              /* XFRM_POLICY_LOCALOK, XFRM_POLICY_ICMP. */
    uint8_t share;              /* XFRM_SHARE_*. */
    uint32_t priority;          /* Lower values win. */
    uint32_t index;             /* Assigned by the kernel. */
    bool has_ptype;             /* The kernel reported 'ptype'. */
    uint8_t ptype;              /* XFRM_POLICY_TYPE_MAIN or _SUB. */
    uint32_t mark;              /* Mark value... */
    uint32_t mark_mask;         /* ...and mask; 0/0 matches every packet. */
    uint32_t if_id;             /* XFRM interface id, 0 if none. */
    size_t n_tmpls;             /* Number of 'tmpls' in use. */
    struct xfrm_tmpl tmpls[XFRM_POLICY_MAX_TMPLS];  /* Templates. */
};

/* An algorithm of a state, without its key. */
struct xfrm_alg_info {
    char name[64];              /* Crypto API name; "" when absent. */
    uint32_t key_bits;          /* Key length in bits. */
    uint32_t icv_bits;          /* AEAD ICV or auth truncation length in
                                 * bits, 0 when not applicable. */
};

/* One XFRM state (security association), without its keys. */
struct xfrm_state {
    int family;                 /* AF_INET or AF_INET6 of 'src', 'dst'. */
    union xfrm_addr src;        /* Outer source address. */
    union xfrm_addr dst;        /* Outer destination address. */
    uint8_t proto;              /* IPPROTO_ESP, IPPROTO_AH... */
    uint32_t spi;               /* Host byte order. */
    uint32_t reqid;             /* Ties the state to its policies. */
    uint8_t mode;               /* XFRM_MODE_TRANSPORT, XFRM_MODE_TUNNEL... */
    uint8_t flags;              /* XFRM_STATE_* flags. */
    struct xfrm_sel sel;        /* Traffic selector; zero if none. */
    uint32_t mark;              /* Mark value... */
    uint32_t mark_mask;         /* ...and mask. */
    uint32_t if_id;             /* XFRM interface id, 0 if none. */

    struct xfrm_alg_info aead;  /* "aead", e.g. rfc4106(gcm(aes)). */
    struct xfrm_alg_info enc;   /* "enc", e.g. cbc(aes). */
    struct xfrm_alg_info auth;  /* "auth" or, if 'auth_trunc', "auth-trunc". */
    bool auth_trunc;            /* 'auth' came as XFRMA_ALG_AUTH_TRUNC. */
    struct xfrm_alg_info comp;  /* "comp", e.g. deflate. */

    bool has_encap;             /* UDP encapsulation (NAT traversal). */
    uint16_t encap_type;        /* UDP_ENCAP_ESPINUDP... */
    uint16_t encap_sport;       /* Host byte order. */
    uint16_t encap_dport;       /* Host byte order. */
    union xfrm_addr encap_oa;   /* NAT original address, in 'family'. */

    uint32_t replay_window;     /* Anti-replay window, in packets (the
                                 * ESN one if the legacy field is 0). */
    bool has_replay;            /* 'replay_*' below are set. */
    bool esn;                   /* Extended sequence numbers. */
    uint32_t replay_seq;        /* Highest inbound sequence number seen. */
    uint32_t replay_oseq;       /* Last outbound sequence number. */
    uint32_t replay_seq_hi;     /* High halves, with 'esn'. */
    uint32_t replay_oseq_hi;
    uint32_t replay_bitmap;     /* Without 'esn'. */

    uint64_t cur_bytes;         /* Lifetime counters: bytes... */
    uint64_t cur_packets;       /* ...and packets so far. */
};

/* A growable array of policies.  Owns 'policies'.  A dump into a list
 * with a 'keep' function stores only the policies it returns true for:
 * a host with thousands of tunnels has tens of thousands of policies,
 * and a caller that looks for a few should not hold them all. */
typedef bool xfrm_policy_keep_func(const struct xfrm_policy *);
struct xfrm_policy_list {
    struct xfrm_policy *policies;   /* 'n' policies, in dump order. */
    size_t n;                       /* Number of policies. */
    size_t allocated;               /* Capacity of 'policies'. */
    xfrm_policy_keep_func *keep;    /* Filter for dumps, or NULL. */
};

/* A growable array of states.  Owns 'states'. */
struct xfrm_state_list {
    struct xfrm_state *states;      /* 'n' states, in dump order. */
    size_t n;                       /* Number of states. */
    size_t allocated;               /* Capacity of 'states'. */
};

void xfrm_policy_list_init(struct xfrm_policy_list *);
void xfrm_policy_list_init_filtered(struct xfrm_policy_list *,
                                    xfrm_policy_keep_func *keep);
void xfrm_policy_list_done(struct xfrm_policy_list *);     /* NULL ok. */
void xfrm_state_list_init(struct xfrm_state_list *);
void xfrm_state_list_done(struct xfrm_state_list *);       /* NULL ok. */

/* The socket. */

struct xfrm_socket;

/* Opens a NETLINK_XFRM socket (O_CLOEXEC, receives bounded by
 * XFRM_TIMEOUT_MS).  On success stores a new socket in '*ret' and returns
 * 0; the caller closes it with xfrm_socket_close().  On failure returns
 * -errno (-EPROTONOSUPPORT without xfrm_user) and stores NULL. */
int xfrm_socket_open(struct xfrm_socket **ret);
/* Closes 'sock'.  NULL ok. */
void xfrm_socket_close(struct xfrm_socket *sock);

/* Replaces the contents of 'list' with every policy of the kernel's main
 * and sub databases.  Blocks for at most about XFRM_TIMEOUT_MS per
 * datagram.  Returns 0 on success.  On failure empties 'list' and returns
 * -EAGAIN if the dump was interrupted by a change (redo it later),
 * -ETIMEDOUT if the kernel did not answer, -EBADMSG if the kernel sent
 * something malformed, or another -errno (-EPERM without CAP_NET_ADMIN).
 * After a timeout or overrun the socket is reopened on the next call. */
int xfrm_dump_policies(struct xfrm_socket *sock,
                       struct xfrm_policy_list *list);
/* Same for states.  Key bytes received from the kernel are wiped from the
 * receive buffer and never copied. */
int xfrm_dump_states(struct xfrm_socket *sock, struct xfrm_state_list *list);

/* Adds 'policy', or replaces the one with the same selector, direction,
 * mark and interface id (XFRM_MSG_UPDPOLICY).  'policy->index' is
 * ignored.  Returns 0 or -errno. */
int xfrm_policy_update(struct xfrm_socket *sock,
                       const struct xfrm_policy *policy);
/* Deletes 'policy': the one with its 'index' if that is nonzero, otherwise
 * the one with its selector and direction; in both cases its mark and
 * interface id must match.  Returns 0, -ENOENT if there is no such policy,
 * or another -errno. */
int xfrm_policy_delete(struct xfrm_socket *sock,
                       const struct xfrm_policy *policy);

/* Text output. */

/* Appends every policy of 'list' to 'out' as "ip xfrm policy" prints it:
 * a selector line, then tab-indented lines for the direction, action,
 * priority and type, the mark, and each template. */
void xfrm_format_policies(const struct xfrm_policy_list *list,
                          struct ds *out);
/* Appends every state of 'list' to 'out' as "ip xfrm state" prints it,
 * followed by the "lifetime current" counters that "ip -s" adds, except
 * that each key shows as <redacted>, e.g.
 *   aead rfc4106(gcm(aes)) <redacted> 128 */
void xfrm_format_states(const struct xfrm_state_list *list, struct ds *out);

/* Appends to 'out' one line per policy of 'list' that involves 'remote'
 * (and 'local', if nonnull), each line two spaces, the selector as "ip
 * xfrm policy" prints it, then "dir D [action block] priority P [mark
 * V/M]".  A policy involves an address if its selector or one of its
 * templates has it as source or destination.  'af' is AF_INET or
 * AF_INET6; 'local' and 'remote' are address strings in that family.
 * 'out' may be NULL to only count.  Returns the number of matches, or
 * -EINVAL if an address does not parse. */
int xfrm_format_policies_for(const struct xfrm_policy_list *list, int af,
                             const char *local, const char *remote,
                             struct ds *out);
/* The same for states, as lines "  src S dst D proto esp spi 0xSPI reqid R
 * mode M".  A state involves an address if its outer addresses or its
 * selector do. */
int xfrm_format_states_for(const struct xfrm_state_list *list, int af,
                           const char *local, const char *remote,
                           struct ds *out);

/* Drop policies for ipsec_skb_mark.
 *
 * ovsec's drop policies are the XFRM_DROP_N outbound BLOCK policies with
 * priority XFRM_DROP_PRIORITY built by xfrm_drop_policies_build(), any
 * address to any address, one per family and tunnel protocol.  They are
 * recognized in dumps by that priority, action, direction and selector
 * shape, whatever their mark (the kernel assigns policy indexes, so there
 * is no fixed index to look for).
 *
 * In the kernel, the matching policy with the lowest priority value wins.
 * strongSwan's charon computes its priorities from a base of 200000 per
 * class (kernel_netlink_ipsec.c, get_priority()): pass policies fall in
 * 68541..200000, IPsec and trap policies in 268541..400000 and fallback
 * drop policies in 468541..600000.  Libreswan's computed priorities
 * (calculate_kernel_priority()) stay below 4 << 20 = 4194304.
 * XFRM_DROP_PRIORITY is well above both, so that every policy an IKE
 * daemon installs for a tunnel, trap policies included, takes precedence
 * and the drop policies only catch marked tunnel packets that nothing
 * else covers. */
#define XFRM_DROP_PRIORITY 16000000u
#define XFRM_DROP_N 6           /* 2 families x {Geneve, VXLAN, GRE}. */

/* Writes ovsec's XFRM_DROP_N drop policies for 'mark'/'mask' into
 * 'policies'.  Returns 0, or -EINVAL if 'mask' is 0 (the policies would
 * match every packet) or 'mark' has bits outside 'mask' (they would match
 * none). */
int xfrm_drop_policies_build(uint32_t mark, uint32_t mask,
                             struct xfrm_policy policies[XFRM_DROP_N]);
/* True if 'policy' is one of ovsec's drop policies, whatever its mark. */
bool xfrm_policy_is_drop(const struct xfrm_policy *policy);
/* Counts ovsec's drop policies in 'list' and returns the count.  If there
 * is at least one, stores the mark and mask of the first in '*ret_mark'
 * and '*ret_mask' (each may be NULL), otherwise zeros. */
size_t xfrm_drop_policies_find(const struct xfrm_policy_list *list,
                               uint32_t *ret_mark, uint32_t *ret_mask);

/* Installs ovsec's drop policies for 'mark'/'mask' (XFRM_MSG_UPDPOLICY,
 * so repeating it is harmless), then dumps the policies and deletes the
 * drop policies with any other mark that a previous configuration or
 * daemon instance left.  The new set is in place before the old one goes,
 * so there is no gap.  Returns 0, -EINVAL for a bad 'mark'/'mask' (see
 * xfrm_drop_policies_build()), -EAGAIN if the dump was interrupted (the
 * new set is installed, old ones may remain), or another -errno; after a
 * failure some policies may be installed, and calling again completes the
 * job. */
int xfrm_drop_policies_set(struct xfrm_socket *sock,
                           uint32_t mark, uint32_t mask);
/* Deletes all of ovsec's drop policies.  Returns 0 or -errno (-EAGAIN if
 * the dump was interrupted). */
int xfrm_drop_policies_clear(struct xfrm_socket *sock);
/* Looks for ovsec's drop policies in the kernel, e.g. left by a previous
 * instance.  Stores in '*present' whether there is at least one and, if
 * so, the mark and mask of one of them in '*mark' and '*mask' (zeros
 * otherwise); any output may be NULL.  Returns the number found
 * (XFRM_DROP_N when the set is complete), or -errno. */
int xfrm_drop_policies_get(struct xfrm_socket *sock, bool *present,
                           uint32_t *mark, uint32_t *mask);

/* Per-tunnel fallback drop policies.
 *
 * For each tunnel that wants IPsec, one outbound BLOCK policy for the
 * tunnel's own packets (from its local address, or any, to its remote
 * address; UDP to 6081 or 4789, or GRE), at XFRM_TUNNEL_DROP_PRIORITY:
 * below every policy an IKE daemon installs, so charon's trap and IPsec
 * policies win while they exist, and the tunnel's packets are dropped
 * rather than sent in plaintext when they do not (charon stopped or
 * restarting, the connection not loaded yet).  They match packets with
 * no mark (mark 0/0xffffffff), which is how OVS sends tunnel packets and
 * keeps them distinct from charon's policies of the same selector (mark
 * 0/0): the kernel identifies policies by selector, direction and mark.
 * Recognized in dumps by that priority, action, direction and mark. */
#define XFRM_TUNNEL_DROP_PRIORITY (XFRM_DROP_PRIORITY + 1)

/* Fills '*policy' with the fallback drop policy for a tunnel of family
 * 'af' from 'local' (NULL for any) to 'remote', IP protocol 'proto' and,
 * if nonzero, destination port 'dport'.  Returns 0, or -EINVAL if an
 * address does not parse. */
int xfrm_tunnel_drop_build(int af, const char *local, const char *remote,
                           uint8_t proto, uint16_t dport,
                           struct xfrm_policy *policy);
/* Fills '*policy' with the fallback drop policy whose selector is 'sel'
 * (as one built above has): the selector is all that sets them apart,
 * and a tenth of the size, for callers that keep many. */
void xfrm_tunnel_drop_from_sel(const struct xfrm_sel *sel,
                               struct xfrm_policy *policy);
/* True if 'policy' is a fallback drop policy built as above. */
bool xfrm_policy_is_tunnel_drop(const struct xfrm_policy *policy);
/* True if 'a' and 'b' have the same selector, direction and mark. */
bool xfrm_policy_same_key(const struct xfrm_policy *a,
                          const struct xfrm_policy *b);

/* Low-level, pure interface, for tests. */

/* Writes a request of 'type' for 'policy' with sequence number 'seq' into
 * 'buf', which has room for 'size' bytes:
 *   - XFRM_MSG_NEWPOLICY or XFRM_MSG_UPDPOLICY: struct
 *     xfrm_userpolicy_info (lifetime limits infinite, index 0), then
 *     XFRMA_MARK and XFRMA_TMPL when there is a mark or templates,
 *     XFRMA_IF_ID when 'if_id' is nonzero, and XFRMA_POLICY_TYPE for a
 *     policy type other than main.
 *   - XFRM_MSG_DELPOLICY: struct xfrm_userpolicy_id (index, or selector
 *     and direction), then XFRMA_MARK, XFRMA_IF_ID and XFRMA_POLICY_TYPE
 *     likewise.
 * 'buf' must be aligned for struct nlmsghdr.
 * Flags are NLM_F_REQUEST | NLM_F_ACK.  Returns the message length, or
 * -ENOSPC if 'size' is too small, or -EINVAL for another 'type', an
 * unknown family, a prefix length beyond the address, or too many
 * templates. */
int xfrm_policy_encode(const struct xfrm_policy *policy, uint16_t type,
                       uint32_t seq, void *buf, size_t size);

/* Parses one XFRM_MSG_NEWPOLICY message (a dump reply or notification)
 * into '*policy'.  Returns 0 or -EBADMSG. */
int xfrm_policy_parse(const struct nlmsghdr *nlh, struct xfrm_policy *policy);
/* Parses one XFRM_MSG_NEWSA message into '*state'; key bytes are skipped.
 * Returns 0 or -EBADMSG. */
int xfrm_state_parse(const struct nlmsghdr *nlh, struct xfrm_state *state);

/* Collects the replies to one request (a dump or an ACKed command) from
 * the datagrams received for it.  Initialize with
 * xfrm_dump_parser_init(), then feed each datagram. */
struct xfrm_dump_parser {
    uint32_t seq;               /* Sequence number of the request. */
    uint32_t portid;            /* Our port id; 0 accepts any. */
    struct xfrm_policy_list *policies;  /* Gets NEWPOLICY, or NULL. */
    struct xfrm_state_list *states;     /* Gets NEWSA, or NULL. */
    bool done;                  /* The final message was seen. */
    bool interrupted;           /* Some reply had NLM_F_DUMP_INTR. */
    int error;                  /* First error, 0 if none. */
};

/* Prepares 'p' for the replies to request 'seq' from port 'portid'
 * (0 for any), appending parsed policies and states to the given lists
 * (either may be NULL to ignore that kind). */
void xfrm_dump_parser_init(struct xfrm_dump_parser *p, uint32_t seq,
                           uint32_t portid,
                           struct xfrm_policy_list *policies,
                           struct xfrm_state_list *states);
/* Feeds one datagram of 'size' bytes at 'buf' into 'p'.  Messages for
 * another sequence number or port are stale replies and are skipped.
 * Returns -EINPROGRESS while the final message (NLMSG_DONE, or
 * NLMSG_ERROR, which also carries ACKs) has not come yet.  Then returns
 * the outcome, again on every later call: 0 on success, the kernel's
 * -errno, -EBADMSG if anything was malformed (even if the rest parsed),
 * or else -EAGAIN if the dump was interrupted.  A datagram that does not
 * split into whole messages ends the wait at once with -EBADMSG, since
 * its garbage may have hidden the final message. */
int xfrm_dump_parser_feed(struct xfrm_dump_parser *p,
                          const void *buf, size_t size);

#endif /* xfrm.h */
