/* SPDX-License-Identifier: Apache-2.0
 *
 * xfrm: see xfrm.h.  Owns one NETLINK_XFRM socket per xfrm_socket and its
 * receive buffer; everything else is copied out to the caller.
 */
#include "config.h"
#include "xfrm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <libmnl/libmnl.h>

#include "ds.h"
#include "log.h"
#include "secret.h"
#include "util.h"

LOG_MODULE(xfrm);

/* "Any IPsec protocol" in templates (<linux/ipsec.h>). */
#define XFRM_IPSEC_PROTO_ANY 255

/* Receive buffer size.  The kernel builds dump datagrams of at most 32 KiB
 * (more only for a single larger message), so this never truncates. */
#define XFRM_RECV_SIZE (64 * 1024)

/* Room for any request we send: the fixed header plus a mark, six
 * templates, an interface id and a policy type. */
#define XFRM_REQ_SIZE 1024

/* Cap on the entries of one dump, so that a runaway database cannot make
 * us allocate without bound (about 100 MB of policies). */
#define XFRM_DUMP_MAX (256 * 1024)

struct xfrm_socket {
    struct mnl_socket *nl;      /* NULL after a failure until reopened. */
    uint32_t portid;            /* Our netlink port id. */
    uint32_t seq;               /* Last sequence number used. */
    uint8_t *buf;               /* XFRM_RECV_SIZE bytes for replies. */
};

/* Lists. */

void
xfrm_policy_list_init(struct xfrm_policy_list *list)
{
    xfrm_policy_list_init_filtered(list, NULL);
}

void
xfrm_policy_list_init_filtered(struct xfrm_policy_list *list,
                               xfrm_policy_keep_func *keep)
{
    list->policies = NULL;
    list->n = 0;
    list->allocated = 0;
    list->keep = keep;
}

void
xfrm_policy_list_done(struct xfrm_policy_list *list)
{
    if (list) {
        free(list->policies);
        xfrm_policy_list_init_filtered(list, list->keep);
    }
}

void
xfrm_state_list_init(struct xfrm_state_list *list)
{
    list->states = NULL;
    list->n = 0;
    list->allocated = 0;
}

void
xfrm_state_list_done(struct xfrm_state_list *list)
{
    if (list) {
        free(list->states);
        xfrm_state_list_init(list);
    }
}

/* Returns a new slot at the end of 'list', or NULL if the list is at its
 * cap. */
static struct xfrm_policy *
policy_list_append__(struct xfrm_policy_list *list)
{
    if (list->n >= XFRM_DUMP_MAX) {
        return NULL;
    }
    if (list->n >= list->allocated) {
        list->allocated = list->allocated ? 2 * list->allocated : 16;
        list->policies = xrealloc(list->policies,
                                  list->allocated * sizeof *list->policies);
    }
    return &list->policies[list->n++];
}

static struct xfrm_state *
state_list_append__(struct xfrm_state_list *list)
{
    if (list->n >= XFRM_DUMP_MAX) {
        return NULL;
    }
    if (list->n >= list->allocated) {
        list->allocated = list->allocated ? 2 * list->allocated : 16;
        list->states = xrealloc(list->states,
                                list->allocated * sizeof *list->states);
    }
    return &list->states[list->n++];
}

/* Addresses. */

static size_t
family_addr_size__(int family)
{
    return family == AF_INET ? 4 : 16;
}

static unsigned int
family_max_plen__(int family)
{
    return family == AF_INET ? 32 : 128;
}

static void
addr_from_kernel__(const xfrm_address_t *k, union xfrm_addr *a)
{
    memset(a, 0, sizeof *a);
    memcpy(&a->in6, k, sizeof a->in6);
}

static void
addr_to_kernel__(const union xfrm_addr *a, int family, xfrm_address_t *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k, a, family_addr_size__(family));
}

static bool
addr_equal__(int family_a, const union xfrm_addr *a,
             int family_b, const union xfrm_addr *b)
{
    return (family_a == family_b
            && (family_a == AF_INET || family_a == AF_INET6)
            && !memcmp(a, b, family_addr_size__(family_a)));
}

static void
put_addr__(struct ds *out, int family, const union xfrm_addr *a)
{
    char buf[INET6_ADDRSTRLEN];

    if ((family == AF_INET || family == AF_INET6)
        && inet_ntop(family, a, buf, sizeof buf)) {
        ds_put_cstr(out, buf);
    } else {
        ds_put_cstr(out, "???");
    }
}

/* Selectors. */

/* Converts kernel selector 'k' into 's'.  Returns 0, or -EBADMSG for an
 * unknown family or a prefix longer than the address. */
static int
sel_from_kernel__(const struct xfrm_selector *k, struct xfrm_sel *s)
{
    if (k->family != AF_UNSPEC && k->family != AF_INET
        && k->family != AF_INET6) {
        return -EBADMSG;
    }
    if (k->prefixlen_s > family_max_plen__(k->family)
        || k->prefixlen_d > family_max_plen__(k->family)) {
        return -EBADMSG;
    }
    memset(s, 0, sizeof *s);
    s->family = k->family;
    addr_from_kernel__(&k->saddr, &s->src);
    addr_from_kernel__(&k->daddr, &s->dst);
    s->src_plen = k->prefixlen_s;
    s->dst_plen = k->prefixlen_d;
    s->proto = k->proto;
    s->sport = ntohs(k->sport);
    s->sport_mask = ntohs(k->sport_mask);
    s->dport = ntohs(k->dport);
    s->dport_mask = ntohs(k->dport_mask);
    s->ifindex = k->ifindex;
    return 0;
}

static int
sel_to_kernel__(const struct xfrm_sel *s, struct xfrm_selector *k)
{
    if ((s->family != AF_INET && s->family != AF_INET6)
        || s->src_plen > family_max_plen__(s->family)
        || s->dst_plen > family_max_plen__(s->family)) {
        return -EINVAL;
    }
    memset(k, 0, sizeof *k);
    k->family = s->family;
    addr_to_kernel__(&s->src, s->family, &k->saddr);
    addr_to_kernel__(&s->dst, s->family, &k->daddr);
    k->prefixlen_s = s->src_plen;
    k->prefixlen_d = s->dst_plen;
    k->proto = s->proto;
    k->sport = htons(s->sport);
    k->sport_mask = htons(s->sport_mask);
    k->dport = htons(s->dport);
    k->dport_mask = htons(s->dport_mask);
    k->ifindex = s->ifindex;
    return 0;
}

static bool
sel_is_zero__(const struct xfrm_sel *s)
{
    static const struct xfrm_sel zero;
    return !memcmp(s, &zero, sizeof zero);
}

/* Names. */

/* IP protocol names as /etc/protocols spells them, which is what "ip
 * xfrm" prints for selectors. */
static const char *
ip_proto_name__(uint8_t proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 4: return "ipencap";
    case 6: return "tcp";
    case 17: return "udp";
    case 33: return "dccp";
    case 41: return "ipv6";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "ipv6-icmp";
    case 94: return "ipip";
    case 108: return "ipcomp";
    case 115: return "l2tp";
    case 132: return "sctp";
    case 135: return "mobility-header";
    case 136: return "udplite";
    default: return NULL;
    }
}

/* Protocol names of SAs and templates, as "ip xfrm" spells them. */
static const char *
xfrm_proto_name__(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_ESP: return "esp";
    case IPPROTO_AH: return "ah";
    case IPPROTO_COMP: return "comp";
    case IPPROTO_ROUTING: return "route2";
    case IPPROTO_DSTOPTS: return "hao";
    case XFRM_IPSEC_PROTO_ANY: return "ipsec-any";
    default: return NULL;
    }
}

static void
put_xfrm_proto__(struct ds *out, uint8_t proto)
{
    const char *name = xfrm_proto_name__(proto);
    if (name) {
        ds_put_cstr(out, name);
    } else {
        ds_put_format(out, "%u", proto);
    }
}

static void
put_mode__(struct ds *out, uint8_t mode)
{
    switch (mode) {
    case XFRM_MODE_TRANSPORT:
        ds_put_cstr(out, "transport");
        break;
    case XFRM_MODE_TUNNEL:
        ds_put_cstr(out, "tunnel");
        break;
    case XFRM_MODE_ROUTEOPTIMIZATION:
        ds_put_cstr(out, "ro");
        break;
    case XFRM_MODE_IN_TRIGGER:
        ds_put_cstr(out, "in_trigger");
        break;
    case XFRM_MODE_BEET:
        ds_put_cstr(out, "beet");
        break;
    default:
        ds_put_format(out, "%u", mode);
        break;
    }
}

static void
put_dir__(struct ds *out, uint8_t dir)
{
    if (dir >= XFRM_POLICY_MAX) {
        ds_put_cstr(out, "socket ");
        dir -= XFRM_POLICY_MAX;
    } else {
        ds_put_cstr(out, "dir ");
    }
    switch (dir) {
    case XFRM_POLICY_IN:
        ds_put_cstr(out, "in");
        break;
    case XFRM_POLICY_OUT:
        ds_put_cstr(out, "out");
        break;
    case XFRM_POLICY_FWD:
        ds_put_cstr(out, "fwd");
        break;
    default:
        ds_put_format(out, "%u", dir);
        break;
    }
}

/* Appends 's' as "ip xfrm" prints a selector: each item followed by a
 * space.  'family' stands in for an unspecified selector family. */
static void
put_sel__(struct ds *out, const struct xfrm_sel *s, int family)
{
    int f = s->family != AF_UNSPEC ? s->family : family;
    const char *name;

    ds_put_cstr(out, "src ");
    put_addr__(out, f, &s->src);
    ds_put_format(out, "/%u dst ", s->src_plen);
    put_addr__(out, f, &s->dst);
    ds_put_format(out, "/%u ", s->dst_plen);

    if (s->proto) {
        name = ip_proto_name__(s->proto);
        if (name) {
            ds_put_format(out, "proto %s ", name);
        } else {
            ds_put_format(out, "proto %u ", s->proto);
        }
    }
    switch (s->proto) {
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        /* The kernel keeps ICMP type and code in the port fields. */
        if (s->sport_mask) {
            ds_put_format(out, "type %u ", s->sport);
        }
        if (s->dport_mask) {
            ds_put_format(out, "code %u ", s->dport);
        }
        break;
    case IPPROTO_GRE:
        /* ...and the GRE key split across them. */
        if (s->sport_mask || s->dport_mask) {
            ds_put_format(out, "key %u ",
                          ((uint32_t) s->sport << 16) + s->dport);
        }
        break;
    case IPPROTO_MH:
        if (s->sport_mask) {
            ds_put_format(out, "type %u ", s->sport);
        }
        break;
    default:
        if (s->sport_mask) {
            ds_put_format(out, "sport %u ", s->sport);
        }
        if (s->dport_mask) {
            ds_put_format(out, "dport %u ", s->dport);
        }
        break;
    }

    if (s->ifindex > 0) {
        char name_buf[IF_NAMESIZE];
        if (if_indextoname(s->ifindex, name_buf)) {
            ds_put_format(out, "dev %s ", name_buf);
        } else {
            ds_put_format(out, "dev if%d ", s->ifindex);
        }
    }
}

/* Netlink messages and attributes.
 *
 * The kernel is trusted to be the kernel, not to be bug-free: every length
 * is checked before anything is read, in size_t arithmetic (libmnl's
 * helpers compare lengths as int). */

/* True if a whole netlink message starts at 'nlh' within 'left' bytes. */
static bool
nlmsg_fits__(const struct nlmsghdr *nlh, size_t left)
{
    return (left >= sizeof *nlh
            && nlh->nlmsg_len >= sizeof *nlh
            && nlh->nlmsg_len <= left);
}

/* Sorts the attributes that follow a fixed header of 'hdr_size' bytes in
 * 'nlh' into 'tb' by type (newer types than we know are skipped).
 * Returns 0, or -EBADMSG if the message is shorter than its header or an
 * attribute overruns it. */
static int
attrs_parse__(const struct nlmsghdr *nlh, size_t hdr_size,
              const struct nlattr *tb[XFRMA_MAX + 1])
{
    const uint8_t *p, *end;

    memset(tb, 0, (XFRMA_MAX + 1) * sizeof *tb);
    if (nlh->nlmsg_len < NLMSG_LENGTH(hdr_size)) {
        return -EBADMSG;
    }
    p = (const uint8_t *) nlh + NLMSG_HDRLEN + NLMSG_ALIGN(hdr_size);
    end = (const uint8_t *) nlh + nlh->nlmsg_len;
    while (p < end) {
        const struct nlattr *attr = (const struct nlattr *) (const void *) p;
        size_t left = end - p;
        uint16_t type;

        if (left < sizeof *attr
            || attr->nla_len < sizeof *attr
            || attr->nla_len > left) {
            return -EBADMSG;
        }
        type = attr->nla_type & NLA_TYPE_MASK;
        if (type <= XFRMA_MAX) {
            tb[type] = attr;
        }
        p += MIN((size_t) NLA_ALIGN(attr->nla_len), left);
    }
    return 0;
}

/* Copies the payload of 'attr' into 'dst' ('size' bytes).  Returns false,
 * copying nothing, if the payload is shorter. */
static bool
attr_get__(const struct nlattr *attr, void *dst, size_t size)
{
    if (mnl_attr_get_payload_len(attr) < size) {
        return false;
    }
    memcpy(dst, mnl_attr_get_payload(attr), size);
    return true;
}

static bool
attr_get_u32__(const struct nlattr *attr, uint32_t *value)
{
    return attr_get__(attr, value, sizeof *value);
}

/* Policies. */

static int
tmpl_from_kernel__(const struct xfrm_user_tmpl *k, int sel_family,
                   struct xfrm_tmpl *t)
{
    int family = k->family ? k->family : sel_family;

    if (family != AF_INET && family != AF_INET6) {
        return -EBADMSG;
    }
    memset(t, 0, sizeof *t);
    t->family = family;
    addr_from_kernel__(&k->saddr, &t->src);
    addr_from_kernel__(&k->id.daddr, &t->dst);
    t->proto = k->id.proto;
    t->spi = ntohl(k->id.spi);
    t->reqid = k->reqid;
    t->mode = k->mode;
    t->optional = k->optional;
    return 0;
}

int
xfrm_policy_parse(const struct nlmsghdr *nlh, struct xfrm_policy *policy)
{
    const struct nlattr *tb[XFRMA_MAX + 1];
    struct xfrm_userpolicy_info info;
    int error;

    memset(policy, 0, sizeof *policy);
    error = attrs_parse__(nlh, sizeof info, tb);
    if (error) {
        return error;
    }
    memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof info);

    error = sel_from_kernel__(&info.sel, &policy->sel);
    if (error) {
        return error;
    }
    policy->dir = info.dir;
    policy->action = info.action;
    policy->flags = info.flags;
    policy->share = info.share;
    policy->priority = info.priority;
    policy->index = info.index;

    if (tb[XFRMA_POLICY_TYPE]) {
        struct xfrm_userpolicy_type upt;
        if (!attr_get__(tb[XFRMA_POLICY_TYPE], &upt, sizeof upt)) {
            return -EBADMSG;
        }
        policy->has_ptype = true;
        policy->ptype = upt.type;
    }
    if (tb[XFRMA_MARK]) {
        struct xfrm_mark mark;
        if (!attr_get__(tb[XFRMA_MARK], &mark, sizeof mark)) {
            return -EBADMSG;
        }
        policy->mark = mark.v;
        policy->mark_mask = mark.m;
    }
    if (tb[XFRMA_IF_ID] && !attr_get_u32__(tb[XFRMA_IF_ID],
                                           &policy->if_id)) {
        return -EBADMSG;
    }
    if (tb[XFRMA_TMPL]) {
        const uint8_t *p = mnl_attr_get_payload(tb[XFRMA_TMPL]);
        size_t size = mnl_attr_get_payload_len(tb[XFRMA_TMPL]);
        size_t n = size / sizeof(struct xfrm_user_tmpl);

        if (!n || n > XFRM_POLICY_MAX_TMPLS
            || size % sizeof(struct xfrm_user_tmpl)) {
            return -EBADMSG;
        }
        for (size_t i = 0; i < n; i++) {
            struct xfrm_user_tmpl k;

            memcpy(&k, p + i * sizeof k, sizeof k);
            error = tmpl_from_kernel__(&k, policy->sel.family,
                                       &policy->tmpls[i]);
            if (error) {
                return error;
            }
        }
        policy->n_tmpls = n;
    }
    return 0;
}

static bool
policy_has_mark__(const struct xfrm_policy *policy)
{
    return policy->mark || policy->mark_mask;
}

int
xfrm_policy_encode(const struct xfrm_policy *policy, uint16_t type,
                   uint32_t seq, void *buf, size_t size)
{
    bool send_ptype = policy->has_ptype
                      && policy->ptype != XFRM_POLICY_TYPE_MAIN;
    struct xfrm_selector sel;
    struct nlmsghdr *nlh;
    size_t fixed, need;

    if (type == XFRM_MSG_NEWPOLICY || type == XFRM_MSG_UPDPOLICY) {
        fixed = sizeof(struct xfrm_userpolicy_info);
    } else if (type == XFRM_MSG_DELPOLICY) {
        fixed = sizeof(struct xfrm_userpolicy_id);
    } else {
        return -EINVAL;
    }
    if (sel_to_kernel__(&policy->sel, &sel)
        || policy->n_tmpls > XFRM_POLICY_MAX_TMPLS) {
        return -EINVAL;
    }
    for (size_t i = 0; i < policy->n_tmpls; i++) {
        int family = policy->tmpls[i].family;
        if (family != AF_INET && family != AF_INET6) {
            return -EINVAL;
        }
    }

    need = NLMSG_HDRLEN + NLMSG_ALIGN(fixed);
    if (policy_has_mark__(policy)) {
        need += MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(struct xfrm_mark));
    }
    if (policy->if_id) {
        need += MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(uint32_t));
    }
    if (send_ptype) {
        need += (MNL_ATTR_HDRLEN
                 + MNL_ALIGN(sizeof(struct xfrm_userpolicy_type)));
    }
    if (type != XFRM_MSG_DELPOLICY && policy->n_tmpls) {
        need += (MNL_ATTR_HDRLEN
                 + MNL_ALIGN(policy->n_tmpls
                             * sizeof(struct xfrm_user_tmpl)));
    }
    if (size < need) {
        return -ENOSPC;
    }
    memset(buf, 0, need);

    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;

    if (type == XFRM_MSG_DELPOLICY) {
        struct xfrm_userpolicy_id id;

        memset(&id, 0, sizeof id);
        id.sel = sel;
        id.index = policy->index;
        id.dir = policy->dir;
        memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof id), &id, sizeof id);
    } else {
        struct xfrm_userpolicy_info info;

        memset(&info, 0, sizeof info);
        info.sel = sel;
        info.lft.soft_byte_limit = XFRM_INF;
        info.lft.hard_byte_limit = XFRM_INF;
        info.lft.soft_packet_limit = XFRM_INF;
        info.lft.hard_packet_limit = XFRM_INF;
        info.priority = policy->priority;
        info.dir = policy->dir;
        info.action = policy->action;
        info.flags = policy->flags;
        info.share = policy->share;
        memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof info), &info,
               sizeof info);
    }

    if (policy_has_mark__(policy)) {
        struct xfrm_mark mark = { .v = policy->mark,
                                  .m = policy->mark_mask };
        mnl_attr_put(nlh, XFRMA_MARK, sizeof mark, &mark);
    }
    if (policy->if_id) {
        mnl_attr_put_u32(nlh, XFRMA_IF_ID, policy->if_id);
    }
    if (send_ptype) {
        struct xfrm_userpolicy_type upt;

        memset(&upt, 0, sizeof upt);
        upt.type = policy->ptype;
        mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof upt, &upt);
    }
    if (type != XFRM_MSG_DELPOLICY && policy->n_tmpls) {
        struct xfrm_user_tmpl tmpls[XFRM_POLICY_MAX_TMPLS];

        memset(tmpls, 0, sizeof tmpls);
        for (size_t i = 0; i < policy->n_tmpls; i++) {
            const struct xfrm_tmpl *t = &policy->tmpls[i];
            struct xfrm_user_tmpl *k = &tmpls[i];

            k->family = t->family;
            addr_to_kernel__(&t->src, t->family, &k->saddr);
            addr_to_kernel__(&t->dst, t->family, &k->id.daddr);
            k->id.proto = t->proto;
            k->id.spi = htonl(t->spi);
            k->reqid = t->reqid;
            k->mode = t->mode;
            k->optional = t->optional;
            /* Any algorithm: the SA negotiated by IKE decides. */
            k->aalgos = UINT32_MAX;
            k->ealgos = UINT32_MAX;
            k->calgos = UINT32_MAX;
        }
        mnl_attr_put(nlh, XFRMA_TMPL, policy->n_tmpls * sizeof *tmpls,
                     tmpls);
    }
    return nlh->nlmsg_len;
}

/* States. */

/* Copies the name of a kernel algorithm, which the kernel NUL-terminates
 * but which we bound anyway, replacing anything unprintable. */
static void
alg_name__(const char *name, size_t size, struct xfrm_alg_info *alg)
{
    size_t len = strnlen(name, MIN(size, sizeof alg->name - 1));

    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        alg->name[i] = c > ' ' && c < 0x7f ? c : '?';
    }
    alg->name[len] = '\0';
}

/* Completes the parsing of an algorithm attribute 'attr' whose fixed part
 * ('fixed_size' bytes, ending before the key) announces 'name' and a key
 * of 'key_bits': checks that the key is all there, never copying it. */
static int
alg_finish__(const struct nlattr *attr, size_t fixed_size,
             const char *name, size_t name_size, unsigned int key_bits,
             unsigned int icv_bits, struct xfrm_alg_info *alg)
{
    if (((size_t) key_bits + 7) / 8
        > mnl_attr_get_payload_len(attr) - fixed_size) {
        return -EBADMSG;
    }
    alg_name__(name, name_size, alg);
    alg->key_bits = key_bits;
    alg->icv_bits = icv_bits;
    return 0;
}

/* Parses an XFRMA_ALG_CRYPT or _COMP attribute (struct xfrm_algo) into
 * 'alg'. */
static int
alg_parse__(const struct nlattr *attr, struct xfrm_alg_info *alg)
{
    struct xfrm_algo k;

    return (!attr_get__(attr, &k, sizeof k) ? -EBADMSG
            : alg_finish__(attr, sizeof k, k.alg_name, sizeof k.alg_name,
                           k.alg_key_len, 0, alg));
}

static int
alg_auth_parse__(const struct nlattr *attr, struct xfrm_alg_info *alg)
{
    struct xfrm_algo_auth k;

    return (!attr_get__(attr, &k, sizeof k) ? -EBADMSG
            : alg_finish__(attr, sizeof k, k.alg_name, sizeof k.alg_name,
                           k.alg_key_len, k.alg_trunc_len, alg));
}

static int
alg_aead_parse__(const struct nlattr *attr, struct xfrm_alg_info *alg)
{
    struct xfrm_algo_aead k;

    return (!attr_get__(attr, &k, sizeof k) ? -EBADMSG
            : alg_finish__(attr, sizeof k, k.alg_name, sizeof k.alg_name,
                           k.alg_key_len, k.alg_icv_len, alg));
}

static int
state_attrs_parse__(const struct nlattr *tb[XFRMA_MAX + 1],
                    struct xfrm_state *state)
{
    if (tb[XFRMA_MARK]) {
        struct xfrm_mark mark;
        if (!attr_get__(tb[XFRMA_MARK], &mark, sizeof mark)) {
            return -EBADMSG;
        }
        state->mark = mark.v;
        state->mark_mask = mark.m;
    }
    if (tb[XFRMA_IF_ID] && !attr_get_u32__(tb[XFRMA_IF_ID],
                                           &state->if_id)) {
        return -EBADMSG;
    }

    /* The kernel reports an authentication algorithm both as
     * XFRMA_ALG_AUTH and, with its truncation length, as
     * XFRMA_ALG_AUTH_TRUNC; the latter says more. */
    if (tb[XFRMA_ALG_AUTH_TRUNC]) {
        if (alg_auth_parse__(tb[XFRMA_ALG_AUTH_TRUNC], &state->auth)) {
            return -EBADMSG;
        }
        state->auth_trunc = true;
    } else if (tb[XFRMA_ALG_AUTH]
               && alg_parse__(tb[XFRMA_ALG_AUTH], &state->auth)) {
        return -EBADMSG;
    }
    if (tb[XFRMA_ALG_AEAD]
        && alg_aead_parse__(tb[XFRMA_ALG_AEAD], &state->aead)) {
        return -EBADMSG;
    }
    if (tb[XFRMA_ALG_CRYPT]
        && alg_parse__(tb[XFRMA_ALG_CRYPT], &state->enc)) {
        return -EBADMSG;
    }
    if (tb[XFRMA_ALG_COMP]
        && alg_parse__(tb[XFRMA_ALG_COMP], &state->comp)) {
        return -EBADMSG;
    }

    if (tb[XFRMA_ENCAP]) {
        struct xfrm_encap_tmpl encap;
        if (!attr_get__(tb[XFRMA_ENCAP], &encap, sizeof encap)) {
            return -EBADMSG;
        }
        state->has_encap = true;
        state->encap_type = encap.encap_type;
        state->encap_sport = ntohs(encap.encap_sport);
        state->encap_dport = ntohs(encap.encap_dport);
        addr_from_kernel__(&encap.encap_oa, &state->encap_oa);
    }

    if (tb[XFRMA_REPLAY_ESN_VAL]) {
        const struct nlattr *attr = tb[XFRMA_REPLAY_ESN_VAL];
        struct xfrm_replay_state_esn esn;

        if (!attr_get__(attr, &esn, sizeof esn)
            || ((size_t) esn.bmp_len * sizeof(uint32_t)
                > mnl_attr_get_payload_len(attr) - sizeof esn)) {
            return -EBADMSG;
        }
        state->has_replay = true;
        state->esn = true;
        state->replay_seq = esn.seq;
        state->replay_oseq = esn.oseq;
        state->replay_seq_hi = esn.seq_hi;
        state->replay_oseq_hi = esn.oseq_hi;
        if (!state->replay_window) {
            state->replay_window = esn.replay_window;
        }
    } else if (tb[XFRMA_REPLAY_VAL]) {
        struct xfrm_replay_state replay;

        if (!attr_get__(tb[XFRMA_REPLAY_VAL], &replay, sizeof replay)) {
            return -EBADMSG;
        }
        state->has_replay = true;
        state->replay_seq = replay.seq;
        state->replay_oseq = replay.oseq;
        state->replay_bitmap = replay.bitmap;
    }
    return 0;
}

int
xfrm_state_parse(const struct nlmsghdr *nlh, struct xfrm_state *state)
{
    const struct nlattr *tb[XFRMA_MAX + 1];
    struct xfrm_usersa_info info;
    int error;

    memset(state, 0, sizeof *state);
    error = attrs_parse__(nlh, sizeof info, tb);
    if (error) {
        return error;
    }
    memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof info);
    if (info.family != AF_INET && info.family != AF_INET6) {
        return -EBADMSG;
    }
    error = sel_from_kernel__(&info.sel, &state->sel);
    if (error) {
        return error;
    }
    state->family = info.family;
    addr_from_kernel__(&info.saddr, &state->src);
    addr_from_kernel__(&info.id.daddr, &state->dst);
    state->proto = info.id.proto;
    state->spi = ntohl(info.id.spi);
    state->reqid = info.reqid;
    state->mode = info.mode;
    state->flags = info.flags;
    state->replay_window = info.replay_window;
    state->cur_bytes = info.curlft.bytes;
    state->cur_packets = info.curlft.packets;

    error = state_attrs_parse__(tb, state);
    if (error) {
        memset(state, 0, sizeof *state);
    }
    return error;
}

/* Replies. */

void
xfrm_dump_parser_init(struct xfrm_dump_parser *p, uint32_t seq,
                      uint32_t portid, struct xfrm_policy_list *policies,
                      struct xfrm_state_list *states)
{
    memset(p, 0, sizeof *p);
    p->seq = seq;
    p->portid = portid;
    p->policies = policies;
    p->states = states;
}

static void
parser_error__(struct xfrm_dump_parser *p, int error)
{
    if (!p->error) {
        p->error = error;
    }
}

static int
parser_result__(const struct xfrm_dump_parser *p)
{
    if (!p->done) {
        return -EINPROGRESS;
    } else if (p->error) {
        return p->error;
    } else {
        return p->interrupted ? -EAGAIN : 0;
    }
}

/* Checks an error code from NLMSG_ERROR or NLMSG_DONE: the kernel sends a
 * negative errno value or 0. */
static int
kernel_error__(int error)
{
    return error <= 0 && error > -4096 ? error : -EBADMSG;
}

static void
parser_message__(struct xfrm_dump_parser *p, const struct nlmsghdr *nlh)
{
    int error;

    switch (nlh->nlmsg_type) {
    case NLMSG_NOOP:
        break;

    case NLMSG_DONE:
        /* Carries the dump's status, if anything. */
        if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
            memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
            if (error) {
                parser_error__(p, kernel_error__(error));
            }
        }
        p->done = true;
        break;

    case NLMSG_ERROR:
        /* An error, or with 0 an ACK. */
        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int))) {
            parser_error__(p, -EBADMSG);
        } else {
            memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
            if (error) {
                parser_error__(p, kernel_error__(error));
            }
        }
        p->done = true;
        break;

    case NLMSG_OVERRUN:
        parser_error__(p, -ENOBUFS);
        p->done = true;
        break;

    case XFRM_MSG_NEWPOLICY:
        if (p->policies) {
            struct xfrm_policy *policy = policy_list_append__(p->policies);
            if (!policy) {
                parser_error__(p, -EFBIG);
            } else if (xfrm_policy_parse(nlh, policy)) {
                p->policies->n--;
                parser_error__(p, -EBADMSG);
            } else if (p->policies->keep && !p->policies->keep(policy)) {
                p->policies->n--;
            }
        }
        break;

    case XFRM_MSG_NEWSA:
        if (p->states) {
            struct xfrm_state *state = state_list_append__(p->states);
            if (!state) {
                parser_error__(p, -EFBIG);
            } else if (xfrm_state_parse(nlh, state)) {
                p->states->n--;
                parser_error__(p, -EBADMSG);
            }
        }
        break;

    default:
        /* Nothing else belongs in a reply to us; skip it. */
        break;
    }
}

int
xfrm_dump_parser_feed(struct xfrm_dump_parser *p, const void *buf,
                      size_t size)
{
    const uint8_t *pos = buf;
    size_t left = size;

    while (!p->done && left) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)
                                     (const void *) pos;

        if (!nlmsg_fits__(nlh, left)) {
            /* The rest of this datagram is garbage, which may have hidden
             * the final message: waiting for it could be in vain. */
            parser_error__(p, -EBADMSG);
            p->done = true;
            break;
        }
        if (nlh->nlmsg_seq == p->seq
            && (!p->portid || nlh->nlmsg_pid == p->portid)) {
            if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
                p->interrupted = true;
            }
            parser_message__(p, nlh);
        }
        /* Otherwise it is a late reply to an earlier request: skip it. */

        /* The last message's padding may be missing. */
        size_t step = MIN((size_t) NLMSG_ALIGN(nlh->nlmsg_len), left);
        pos += step;
        left -= step;
    }
    return parser_result__(p);
}

/* The socket. */

static void
socket_disconnect__(struct xfrm_socket *sock)
{
    if (sock->nl) {
        mnl_socket_close(sock->nl);
        sock->nl = NULL;
    }
}

static int
socket_connect__(struct xfrm_socket *sock)
{
    struct timeval tv = {
        .tv_sec = XFRM_TIMEOUT_MS / 1000,
        .tv_usec = (XFRM_TIMEOUT_MS % 1000) * 1000,
    };
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    struct mnl_socket *nl;
    int one = 1;
    int error;
    int fd;

    nl = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC);
    if (!nl) {
        return -errno;
    }
    fd = mnl_socket_get_fd(nl);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)
        || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv)
        || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)
        /* Only the kernel may send to us: another process could otherwise
         * write fake replies to our port id. */
        || connect(fd, (const struct sockaddr *) &kernel, sizeof kernel)) {
        error = -errno;
        mnl_socket_close(nl);
        return error;
    }
    /* Errors need not echo our request back.  Old kernels lack this; that
     * only costs receive space. */
    mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);

    sock->nl = nl;
    sock->portid = mnl_socket_get_portid(nl);
    return 0;
}

int
xfrm_socket_open(struct xfrm_socket **ret)
{
    struct xfrm_socket *sock = xzalloc(sizeof *sock);
    int error;

    error = socket_connect__(sock);
    if (error) {
        free(sock);
        *ret = NULL;
        return error;
    }
    sock->buf = xmalloc(XFRM_RECV_SIZE);
    *ret = sock;
    return 0;
}

void
xfrm_socket_close(struct xfrm_socket *sock)
{
    if (sock) {
        socket_disconnect__(sock);
        memzero_explicit(sock->buf, sock->buf ? XFRM_RECV_SIZE : 0);
        free(sock->buf);
        free(sock);
    }
}

static uint32_t
socket_next_seq__(struct xfrm_socket *sock)
{
    /* 0 is what notifications carry; never use it. */
    if (!++sock->seq) {
        sock->seq = 1;
    }
    return sock->seq;
}

/* Receives one datagram from the kernel into sock->buf.  Returns its size,
 * or -ETIMEDOUT, -EMSGSIZE or another -errno. */
static ssize_t
socket_recv__(struct xfrm_socket *sock)
{
    for (;;) {
        struct sockaddr_nl addr;
        struct iovec iov = { sock->buf, XFRM_RECV_SIZE };
        struct msghdr msg = {
            .msg_name = &addr,
            .msg_namelen = sizeof addr,
            .msg_iov = &iov,
            .msg_iovlen = 1,
        };
        ssize_t n;

        n = recvmsg(mnl_socket_get_fd(sock->nl), &msg, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (errno == EAGAIN || errno == EWOULDBLOCK
                    ? -ETIMEDOUT : -errno);
        }
        if (msg.msg_flags & MSG_TRUNC) {
            return -EMSGSIZE;
        }
        if (msg.msg_namelen == sizeof addr && addr.nl_pid == 0) {
            return n;
        }
        /* Not from the kernel (connect() should prevent that): drop. */
    }
}

/* Sends the request of 'size' bytes in 'req', whose sequence number is
 * 'seq', and collects the replies into 'policies' or 'states' (either may
 * be NULL) until the final one.  With 'wipe', zeroes each datagram after
 * parsing it, because it held key material.  Returns 0 or -errno as
 * xfrm_dump_parser_feed() does, or -ETIMEDOUT; after a receive failure the
 * socket is reopened on the next request, since replies to this one could
 * still arrive or the kernel may still be in the middle of a dump. */
static int
socket_transact__(struct xfrm_socket *sock, const void *req, size_t size,
                  uint32_t seq, struct xfrm_policy_list *policies,
                  struct xfrm_state_list *states, bool wipe)
{
    struct xfrm_dump_parser parser;
    int error;

    if (!sock->nl) {
        error = socket_connect__(sock);
        if (error) {
            LOG_DBG("reopening netlink socket failed: %s",
                    ovsec_strerror(error));
            return error;
        }
    }

    if (mnl_socket_sendto(sock->nl, req, size) < 0) {
        error = -errno;
        LOG_DBG("sending request %"PRIu32" failed: %s", seq,
                ovsec_strerror(error));
        socket_disconnect__(sock);
        return error;
    }

    xfrm_dump_parser_init(&parser, seq, sock->portid, policies, states);
    do {
        ssize_t n = socket_recv__(sock);
        if (n < 0) {
            error = n;
            LOG_DBG("receiving replies to request %"PRIu32" failed: %s",
                    seq, ovsec_strerror(error));
            socket_disconnect__(sock);
            break;
        }
        error = xfrm_dump_parser_feed(&parser, sock->buf, n);
        if (wipe) {
            memzero_explicit(sock->buf, n);
        }
    } while (error == -EINPROGRESS);

    if (error == -EAGAIN) {
        LOG_DBG("dump %"PRIu32" was interrupted by a change", seq);
    } else if (error == -EBADMSG) {
        /* We may have stopped reading in the middle of the replies. */
        LOG_DBG("malformed reply to request %"PRIu32, seq);
        socket_disconnect__(sock);
    }
    return error;
}

/* Dumps the database that 'type' (XFRM_MSG_GETPOLICY or XFRM_MSG_GETSA)
 * asks for. */
static int
socket_dump__(struct xfrm_socket *sock, uint16_t type,
              struct xfrm_policy_list *policies,
              struct xfrm_state_list *states)
{
    union {
        struct nlmsghdr nlh;
        uint8_t buf[MNL_NLMSG_HDRLEN];
    } req;
    uint32_t seq = socket_next_seq__(sock);
    struct nlmsghdr *nlh;

    memset(&req, 0, sizeof req);
    nlh = mnl_nlmsg_put_header(req.buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    return socket_transact__(sock, nlh, nlh->nlmsg_len, seq, policies,
                             states, states != NULL);
}

int
xfrm_dump_policies(struct xfrm_socket *sock, struct xfrm_policy_list *list)
{
    int error;

    list->n = 0;
    error = socket_dump__(sock, XFRM_MSG_GETPOLICY, list, NULL);
    if (error) {
        xfrm_policy_list_done(list);
    }
    return error;
}

int
xfrm_dump_states(struct xfrm_socket *sock, struct xfrm_state_list *list)
{
    int error;

    list->n = 0;
    error = socket_dump__(sock, XFRM_MSG_GETSA, NULL, list);
    if (error) {
        xfrm_state_list_done(list);
    }
    return error;
}

static int
socket_policy_request__(struct xfrm_socket *sock,
                        const struct xfrm_policy *policy, uint16_t type)
{
    union {
        struct nlmsghdr nlh;
        uint8_t buf[XFRM_REQ_SIZE];
    } req;
    uint32_t seq = socket_next_seq__(sock);
    int n;

    n = xfrm_policy_encode(policy, type, seq, req.buf, sizeof req.buf);
    if (n < 0) {
        return n;
    }
    return socket_transact__(sock, req.buf, n, seq, NULL, NULL, false);
}

int
xfrm_policy_update(struct xfrm_socket *sock, const struct xfrm_policy *policy)
{
    return socket_policy_request__(sock, policy, XFRM_MSG_UPDPOLICY);
}

int
xfrm_policy_delete(struct xfrm_socket *sock, const struct xfrm_policy *policy)
{
    return socket_policy_request__(sock, policy, XFRM_MSG_DELPOLICY);
}

/* Text output. */

static void
put_mark__(struct ds *out, uint32_t mark, uint32_t mask)
{
    /* "%#x" as "ip" does: 0 prints as "0". */
    ds_put_format(out, "%#"PRIx32"/%#"PRIx32, mark, mask);
}

struct flag_name {
    uint8_t flag;               /* One bit. */
    const char *name;           /* Its name in "ip xfrm" output. */
};

/* Appends "flag NAME NAME" for the bits in 'flags', then any bits without
 * a name in hex, spaced as "ip xfrm" does. */
static void
put_flags__(struct ds *out, uint8_t flags, const struct flag_name *names,
            size_t n_names)
{
    ds_put_cstr(out, "flag ");
    for (size_t i = 0; i < n_names; i++) {
        if (flags & names[i].flag) {
            flags &= ~names[i].flag;
            ds_put_format(out, "%s%s", names[i].name, flags ? " " : "");
        }
    }
    if (flags) {
        ds_put_format(out, "%x", flags);
    }
}

static void
format_tmpl__(struct ds *out, const struct xfrm_tmpl *t)
{
    ds_put_cstr(out, "\ttmpl src ");
    put_addr__(out, t->family, &t->src);
    ds_put_cstr(out, " dst ");
    put_addr__(out, t->family, &t->dst);
    ds_put_cstr(out, "\n\t\tproto ");
    put_xfrm_proto__(out, t->proto);
    ds_put_char(out, ' ');
    if (t->spi) {
        ds_put_format(out, "spi 0x%08"PRIx32" ", t->spi);
    }
    ds_put_format(out, "reqid %"PRIu32" mode ", t->reqid);
    put_mode__(out, t->mode);
    ds_put_char(out, '\n');
    if (t->optional == 1) {
        ds_put_cstr(out, "\t\tlevel use \n");
    } else if (t->optional) {
        ds_put_format(out, "\t\tlevel %u \n", t->optional);
    }
}

static void
format_policy__(struct ds *out, const struct xfrm_policy *p)
{
    put_sel__(out, &p->sel, AF_UNSPEC);
    ds_put_cstr(out, "\n\t");
    put_dir__(out, p->dir);
    ds_put_char(out, ' ');
    if (p->action == XFRM_POLICY_BLOCK) {
        ds_put_cstr(out, "action block ");
    } else if (p->action != XFRM_POLICY_ALLOW) {
        ds_put_format(out, "action %u ", p->action);
    }
    ds_put_format(out, "priority %"PRIu32" ", p->priority);
    if (p->has_ptype) {
        if (p->ptype == XFRM_POLICY_TYPE_MAIN) {
            ds_put_cstr(out, "ptype main ");
        } else if (p->ptype == XFRM_POLICY_TYPE_SUB) {
            ds_put_cstr(out, "ptype sub ");
        } else {
            ds_put_format(out, "ptype %u ", p->ptype);
        }
    }
    if (p->flags) {
        static const struct flag_name names[] = {
            { XFRM_POLICY_LOCALOK, "localok" },
            { XFRM_POLICY_ICMP, "icmp" },
        };
        put_flags__(out, p->flags, names, ARRAY_SIZE(names));
    }
    ds_put_char(out, '\n');

    if (policy_has_mark__(p)) {
        ds_put_cstr(out, "\tmark ");
        put_mark__(out, p->mark, p->mark_mask);
        ds_put_cstr(out, " \n");
    }
    for (size_t i = 0; i < p->n_tmpls; i++) {
        format_tmpl__(out, &p->tmpls[i]);
    }
    if (p->if_id) {
        ds_put_format(out, "\tif_id %#"PRIx32"\n", p->if_id);
    }
}

void
xfrm_format_policies(const struct xfrm_policy_list *list, struct ds *out)
{
    for (size_t i = 0; i < list->n; i++) {
        format_policy__(out, &list->policies[i]);
    }
}

/* Appends one algorithm line: "\tTYPE NAME <redacted>[ ICV]". */
static void
format_alg__(struct ds *out, const char *type,
             const struct xfrm_alg_info *alg, bool with_icv)
{
    ds_put_format(out, "\t%s %s ", type, alg->name);
    if (alg->key_bits) {
        ds_put_cstr(out, SECRET_REDACTED);
    }
    if (with_icv) {
        ds_put_format(out, " %"PRIu32, alg->icv_bits);
    }
    ds_put_char(out, '\n');
}

static bool
xfrm_proto_is_ipsec__(uint8_t proto)
{
    return (proto == IPPROTO_ESP || proto == IPPROTO_AH
            || proto == IPPROTO_COMP);
}

static void
format_state__(struct ds *out, const struct xfrm_state *s)
{
    ds_put_cstr(out, "src ");
    put_addr__(out, s->family, &s->src);
    ds_put_cstr(out, " dst ");
    put_addr__(out, s->family, &s->dst);
    ds_put_cstr(out, "\n\tproto ");
    put_xfrm_proto__(out, s->proto);
    ds_put_char(out, ' ');
    if (s->spi || xfrm_proto_is_ipsec__(s->proto)) {
        ds_put_format(out, "spi 0x%08"PRIx32" ", s->spi);
    }
    ds_put_format(out, "reqid %"PRIu32" mode ", s->reqid);
    put_mode__(out, s->mode);
    ds_put_format(out, "\n\treplay-window %"PRIu32" ", s->replay_window);
    if (s->flags) {
        static const struct flag_name names[] = {
            { XFRM_STATE_NOECN, "noecn" },
            { XFRM_STATE_DECAP_DSCP, "decap-dscp" },
            { XFRM_STATE_NOPMTUDISC, "nopmtudisc" },
            { XFRM_STATE_WILDRECV, "wildrecv" },
            { XFRM_STATE_ICMP, "icmp" },
            { XFRM_STATE_AF_UNSPEC, "af-unspec" },
            { XFRM_STATE_ALIGN4, "align4" },
            { XFRM_STATE_ESN, "esn" },
        };
        put_flags__(out, s->flags, names, ARRAY_SIZE(names));
    }
    ds_put_char(out, '\n');

    if (s->mark || s->mark_mask) {
        ds_put_cstr(out, "\tmark ");
        put_mark__(out, s->mark, s->mark_mask);
        ds_put_cstr(out, " \n");
    }
    if (s->auth.name[0]) {
        if (s->auth_trunc) {
            format_alg__(out, "auth-trunc", &s->auth, true);
        } else {
            format_alg__(out, "auth", &s->auth, false);
        }
    }
    if (s->aead.name[0]) {
        format_alg__(out, "aead", &s->aead, true);
    }
    if (s->enc.name[0]) {
        format_alg__(out, "enc", &s->enc, false);
    }
    if (s->comp.name[0]) {
        format_alg__(out, "comp", &s->comp, false);
    }
    if (s->has_encap) {
        ds_put_cstr(out, "\tencap type ");
        switch (s->encap_type) {
        case 1:     /* UDP_ENCAP_ESPINUDP_NON_IKE */
            ds_put_cstr(out, "espinudp-nonike ");
            break;
        case 2:     /* UDP_ENCAP_ESPINUDP */
            ds_put_cstr(out, "espinudp ");
            break;
        case 7:     /* TCP_ENCAP_ESPINTCP */
            ds_put_cstr(out, "espintcp ");
            break;
        default:
            ds_put_format(out, "%u ", s->encap_type);
            break;
        }
        ds_put_format(out, "sport %u dport %u addr ",
                      s->encap_sport, s->encap_dport);
        put_addr__(out, s->family, &s->encap_oa);
        ds_put_char(out, '\n');
    }
    if (s->has_replay && s->esn) {
        ds_put_format(out, "\tanti-replay esn context:\n"
                      "\t seq-hi 0x%"PRIx32", seq 0x%"PRIx32", "
                      "oseq-hi 0x%"PRIx32", oseq 0x%"PRIx32"\n"
                      "\t replay_window %"PRIu32"\n",
                      s->replay_seq_hi, s->replay_seq,
                      s->replay_oseq_hi, s->replay_oseq, s->replay_window);
    } else if (s->has_replay) {
        ds_put_format(out, "\tanti-replay context: seq 0x%"PRIx32", "
                      "oseq 0x%"PRIx32", bitmap 0x%08"PRIx32"\n",
                      s->replay_seq, s->replay_oseq, s->replay_bitmap);
    }
    if (s->if_id) {
        ds_put_format(out, "\tif_id %#"PRIx32"\n", s->if_id);
    }
    if (!sel_is_zero__(&s->sel)) {
        ds_put_cstr(out, "\tsel ");
        put_sel__(out, &s->sel, s->family);
        ds_put_char(out, '\n');
    }
    ds_put_format(out, "\tlifetime current:\n"
                  "\t  %"PRIu64"(bytes), %"PRIu64"(packets)\n",
                  s->cur_bytes, s->cur_packets);
}

void
xfrm_format_states(const struct xfrm_state_list *list, struct ds *out)
{
    for (size_t i = 0; i < list->n; i++) {
        format_state__(out, &list->states[i]);
    }
}

/* Filters. */

/* Parses 'local' (may be NULL) and 'remote' in family 'af'.  Returns 0 or
 * -EINVAL. */
static int
endpoints_parse__(int af, const char *local, const char *remote,
                  union xfrm_addr *local_addr, bool *has_local,
                  union xfrm_addr *remote_addr)
{
    memset(local_addr, 0, sizeof *local_addr);
    memset(remote_addr, 0, sizeof *remote_addr);
    if ((af != AF_INET && af != AF_INET6)
        || !remote || inet_pton(af, remote, remote_addr) != 1
        || (local && inet_pton(af, local, local_addr) != 1)) {
        return -EINVAL;
    }
    *has_local = local != NULL;
    return 0;
}

/* True if selector 's' has 'addr' as source or destination.  A zero-length
 * prefix matches everything and so involves no one in particular. */
static bool
sel_involves__(const struct xfrm_sel *s, int family,
               int af, const union xfrm_addr *addr)
{
    return ((s->src_plen && addr_equal__(family, &s->src, af, addr))
            || (s->dst_plen && addr_equal__(family, &s->dst, af, addr)));
}

/* True if policy 'p_' (a struct xfrm_policy) has 'addr' in its selector
 * or its templates. */
static bool
policy_involves__(const void *p_, int af, const union xfrm_addr *addr)
{
    const struct xfrm_policy *p = p_;

    if (sel_involves__(&p->sel, p->sel.family, af, addr)) {
        return true;
    }
    for (size_t i = 0; i < p->n_tmpls; i++) {
        const struct xfrm_tmpl *t = &p->tmpls[i];
        if (addr_equal__(t->family, &t->src, af, addr)
            || addr_equal__(t->family, &t->dst, af, addr)) {
            return true;
        }
    }
    return false;
}

/* True if state 's_' (a struct xfrm_state) has 'addr' as an endpoint or in
 * its selector. */
static bool
state_involves__(const void *s_, int af, const union xfrm_addr *addr)
{
    const struct xfrm_state *s = s_;
    int sel_family = s->sel.family != AF_UNSPEC ? s->sel.family : s->family;

    return (addr_equal__(s->family, &s->src, af, addr)
            || addr_equal__(s->family, &s->dst, af, addr)
            || sel_involves__(&s->sel, sel_family, af, addr));
}

/* Appends a one-line summary of policy 'p_' (a struct xfrm_policy). */
static void
put_policy_line__(struct ds *out, const void *p_)
{
    const struct xfrm_policy *p = p_;

    ds_put_cstr(out, "  ");
    put_sel__(out, &p->sel, AF_UNSPEC);
    put_dir__(out, p->dir);
    if (p->action == XFRM_POLICY_BLOCK) {
        ds_put_cstr(out, " action block");
    } else if (p->action != XFRM_POLICY_ALLOW) {
        ds_put_format(out, " action %u", p->action);
    }
    ds_put_format(out, " priority %"PRIu32, p->priority);
    if (policy_has_mark__(p)) {
        ds_put_cstr(out, " mark ");
        put_mark__(out, p->mark, p->mark_mask);
    }
    ds_put_char(out, '\n');
}

/* Appends a one-line summary of state 's_' (a struct xfrm_state). */
static void
put_state_line__(struct ds *out, const void *s_)
{
    const struct xfrm_state *s = s_;

    ds_put_cstr(out, "  src ");
    put_addr__(out, s->family, &s->src);
    ds_put_cstr(out, " dst ");
    put_addr__(out, s->family, &s->dst);
    ds_put_cstr(out, " proto ");
    put_xfrm_proto__(out, s->proto);
    ds_put_format(out, " spi 0x%08"PRIx32" reqid %"PRIu32" mode ",
                  s->spi, s->reqid);
    put_mode__(out, s->mode);
    ds_put_char(out, '\n');
}

/* The body of xfrm_format_policies_for() and xfrm_format_states_for():
 * counts the 'n' items of 'size' bytes at 'items' that 'involves' the
 * remote address and, if 'local' is nonnull, the local one, and appends
 * each of them to 'out' (if nonnull) with 'put_line'. */
static int
format_items_for__(const void *items, size_t n, size_t size,
                   bool (*involves)(const void *, int,
                                    const union xfrm_addr *),
                   void (*put_line)(struct ds *, const void *),
                   int af, const char *local, const char *remote,
                   struct ds *out)
{
    union xfrm_addr local_addr, remote_addr;
    bool has_local;
    int n_found = 0;

    if (endpoints_parse__(af, local, remote, &local_addr, &has_local,
                          &remote_addr)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const void *item = (const char *) items + i * size;

        if (!involves(item, af, &remote_addr)
            || (has_local && !involves(item, af, &local_addr))) {
            continue;
        }
        n_found++;
        if (out) {
            put_line(out, item);
        }
    }
    return n_found;
}

int
xfrm_format_policies_for(const struct xfrm_policy_list *list, int af,
                         const char *local, const char *remote,
                         struct ds *out)
{
    return format_items_for__(list->policies, list->n,
                              sizeof *list->policies, policy_involves__,
                              put_policy_line__, af, local, remote, out);
}

int
xfrm_format_states_for(const struct xfrm_state_list *list, int af,
                       const char *local, const char *remote,
                       struct ds *out)
{
    return format_items_for__(list->states, list->n, sizeof *list->states,
                              state_involves__, put_state_line__,
                              af, local, remote, out);
}

/* Drop policies. */

/* The tunnel protocols that get drop policies: the destination port is
 * what identifies Geneve and VXLAN packets (the source port is a flow
 * hash). */
static const struct {
    uint8_t proto;
    uint16_t dport;             /* 0 for none. */
} drop_kinds[] = {
    { IPPROTO_UDP, 6081 },      /* Geneve. */
    { IPPROTO_UDP, 4789 },      /* VXLAN. */
    { IPPROTO_GRE, 0 },         /* GRE. */
};

static const int drop_families[] = { AF_INET, AF_INET6 };

_Static_assert(ARRAY_SIZE(drop_kinds) * ARRAY_SIZE(drop_families)
               == XFRM_DROP_N, "XFRM_DROP_N is out of date");

int
xfrm_drop_policies_build(uint32_t mark, uint32_t mask,
                         struct xfrm_policy policies[XFRM_DROP_N])
{
    struct xfrm_policy *p = policies;

    if (!mask || (mark & ~mask)) {
        return -EINVAL;
    }
    for (size_t f = 0; f < ARRAY_SIZE(drop_families); f++) {
        for (size_t k = 0; k < ARRAY_SIZE(drop_kinds); k++, p++) {
            memset(p, 0, sizeof *p);
            p->sel.family = drop_families[f];
            p->sel.proto = drop_kinds[k].proto;
            if (drop_kinds[k].dport) {
                p->sel.dport = drop_kinds[k].dport;
                p->sel.dport_mask = UINT16_MAX;
            }
            p->dir = XFRM_POLICY_OUT;
            p->action = XFRM_POLICY_BLOCK;
            p->share = XFRM_SHARE_ANY;
            p->priority = XFRM_DROP_PRIORITY;
            p->has_ptype = true;
            p->ptype = XFRM_POLICY_TYPE_MAIN;
            p->mark = mark;
            p->mark_mask = mask;
        }
    }
    return 0;
}

bool
xfrm_policy_is_drop(const struct xfrm_policy *p)
{
    const struct xfrm_sel *s = &p->sel;

    if (p->dir != XFRM_POLICY_OUT
        || p->action != XFRM_POLICY_BLOCK
        || p->priority != XFRM_DROP_PRIORITY
        || (p->has_ptype && p->ptype != XFRM_POLICY_TYPE_MAIN)
        || p->if_id || p->n_tmpls
        || (s->family != AF_INET && s->family != AF_INET6)
        || s->src_plen || s->dst_plen || s->sport_mask || s->ifindex) {
        return false;
    }
    for (size_t k = 0; k < ARRAY_SIZE(drop_kinds); k++) {
        uint16_t dport = drop_kinds[k].dport;

        if (s->proto == drop_kinds[k].proto
            && (dport
                ? s->dport_mask == UINT16_MAX && s->dport == dport
                : !s->dport_mask)) {
            return true;
        }
    }
    return false;
}

size_t
xfrm_drop_policies_find(const struct xfrm_policy_list *list,
                        uint32_t *ret_mark, uint32_t *ret_mask)
{
    uint32_t mark = 0, mask = 0;
    size_t n = 0;

    for (size_t i = 0; i < list->n; i++) {
        const struct xfrm_policy *p = &list->policies[i];
        if (xfrm_policy_is_drop(p)) {
            if (!n) {
                mark = p->mark;
                mask = p->mark_mask;
            }
            n++;
        }
    }
    if (ret_mark) {
        *ret_mark = mark;
    }
    if (ret_mask) {
        *ret_mask = mask;
    }
    return n;
}

/* Deletes the drop policies in 'list' whose mark is not 'mark'/'mask' (all
 * of them when 'all').  A policy that is already gone is fine. */
static int
drop_policies_delete__(struct xfrm_socket *sock,
                       const struct xfrm_policy_list *list, bool all,
                       uint32_t mark, uint32_t mask)
{
    for (size_t i = 0; i < list->n; i++) {
        const struct xfrm_policy *p = &list->policies[i];
        int error;

        if (!xfrm_policy_is_drop(p)
            || (!all && p->mark == mark && p->mark_mask == mask)) {
            continue;
        }
        error = xfrm_policy_delete(sock, p);
        if (error && error != -ENOENT) {
            return error;
        }
    }
    return 0;
}

int
xfrm_drop_policies_set(struct xfrm_socket *sock, uint32_t mark,
                       uint32_t mask)
{
    struct xfrm_policy want[XFRM_DROP_N];
    struct xfrm_policy_list list;
    int error;

    error = xfrm_drop_policies_build(mark, mask, want);
    if (error) {
        return error;
    }

    /* Install first, so that a failed dump still leaves protection. */
    xfrm_policy_list_init_filtered(&list, xfrm_policy_is_drop);
    for (size_t i = 0; i < XFRM_DROP_N; i++) {
        error = xfrm_policy_update(sock, &want[i]);
        if (error) {
            LOG_DBG("installing drop policy %zu failed: %s", i,
                    ovsec_strerror(error));
            goto out;
        }
    }
    error = xfrm_dump_policies(sock, &list);
    if (!error) {
        error = drop_policies_delete__(sock, &list, false, mark, mask);
    }

out:
    xfrm_policy_list_done(&list);
    return error;
}

int
xfrm_drop_policies_clear(struct xfrm_socket *sock)
{
    struct xfrm_policy_list list;
    int error;

    xfrm_policy_list_init_filtered(&list, xfrm_policy_is_drop);
    error = xfrm_dump_policies(sock, &list);
    if (!error) {
        error = drop_policies_delete__(sock, &list, true, 0, 0);
    }
    xfrm_policy_list_done(&list);
    return error;
}

int
xfrm_drop_policies_get(struct xfrm_socket *sock, bool *present,
                       uint32_t *mark, uint32_t *mask)
{
    struct xfrm_policy_list list;
    uint32_t found_mark = 0, found_mask = 0;
    int error;

    xfrm_policy_list_init_filtered(&list, xfrm_policy_is_drop);
    error = xfrm_dump_policies(sock, &list);
    if (!error) {
        error = (int) xfrm_drop_policies_find(&list, &found_mark,
                                              &found_mask);
    }
    xfrm_policy_list_done(&list);

    if (present) {
        *present = error > 0;
    }
    if (mark) {
        *mark = error > 0 ? found_mark : 0;
    }
    if (mask) {
        *mask = error > 0 ? found_mask : 0;
    }
    return error;
}

int
xfrm_tunnel_drop_build(int af, const char *local, const char *remote,
                       uint8_t proto, uint16_t dport,
                       struct xfrm_policy *p)
{
    unsigned int plen = af == AF_INET6 ? 128 : 32;

    memset(p, 0, sizeof *p);
    if ((af != AF_INET && af != AF_INET6)
        || inet_pton(af, remote, &p->sel.dst) != 1
        || (local && inet_pton(af, local, &p->sel.src) != 1)) {
        return -EINVAL;
    }
    p->sel.family = af;
    p->sel.dst_plen = plen;
    p->sel.src_plen = local ? plen : 0;
    p->sel.proto = proto;
    if (dport) {
        p->sel.dport = dport;
        p->sel.dport_mask = UINT16_MAX;
    }
    xfrm_tunnel_drop_from_sel(&p->sel, p);
    return 0;
}

void
xfrm_tunnel_drop_from_sel(const struct xfrm_sel *sel, struct xfrm_policy *p)
{
    if (&p->sel != sel) {
        memset(p, 0, sizeof *p);
        p->sel = *sel;
    }
    p->dir = XFRM_POLICY_OUT;
    p->action = XFRM_POLICY_BLOCK;
    p->share = XFRM_SHARE_ANY;
    p->priority = XFRM_TUNNEL_DROP_PRIORITY;
    p->has_ptype = true;
    p->ptype = XFRM_POLICY_TYPE_MAIN;
    /* The kernel identifies a policy by selector, direction and mark, not
     * priority: with charon's mark 0/0, ours would replace charon's trap
     * policy of the same selector, or be replaced by it.  0/0xffffffff
     * (packets with no mark, as OVS sends tunnel packets) is distinct. */
    p->mark = 0;
    p->mark_mask = UINT32_MAX;
}

bool
xfrm_policy_is_tunnel_drop(const struct xfrm_policy *p)
{
    return p->dir == XFRM_POLICY_OUT
           && p->action == XFRM_POLICY_BLOCK
           && p->priority == XFRM_TUNNEL_DROP_PRIORITY
           && !p->mark && p->mark_mask == UINT32_MAX && !p->if_id
           && !p->n_tmpls;
}

bool
xfrm_policy_same_key(const struct xfrm_policy *a, const struct xfrm_policy *b)
{
    const struct xfrm_sel *x = &a->sel, *y = &b->sel;
    size_t size = x->family == AF_INET6 ? 16 : 4;

    return x->family == y->family
           && !memcmp(&x->src, &y->src, size)
           && !memcmp(&x->dst, &y->dst, size)
           && x->src_plen == y->src_plen && x->dst_plen == y->dst_plen
           && x->proto == y->proto
           && x->sport == y->sport && x->sport_mask == y->sport_mask
           && x->dport == y->dport && x->dport_mask == y->dport_mask
           && x->ifindex == y->ifindex
           && a->dir == b->dir
           && a->mark == b->mark && a->mark_mask == b->mark_mask
           && a->if_id == b->if_id;
}
