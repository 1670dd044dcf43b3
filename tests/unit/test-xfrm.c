/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for lib/xfrm.c: the drop policy requests byte by byte,
 * parsing of hand-built policy and state dumps (IPv4 and IPv6, templates,
 * marks, AEAD and other keys that must never show), "ip xfrm"-style
 * output, the tunnels/show filters, NLM_F_DUMP_INTR, kernel errors, stale
 * replies and malformed messages.  When it may create a network namespace
 * (as root, or in a new user namespace), it also drives the real kernel:
 * drop policies set, replaced, found and cleared, marked tunnel packets
 * dropped unless a tunnel's policy covers them, policies added and
 * deleted, a dump large enough to span several datagrams, and a state.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>

#include "ds.h"
#include "util.h"
#include "xfrm.h"

/* A buffer of netlink messages, as one datagram from the kernel. */
struct msgbuf {
    union {
        struct nlmsghdr align;
        uint8_t b[16384];
    };
    size_t len;
};

static const uint8_t test_key[] = {
    0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67,
    0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
    0x76, 0x54, 0x32, 0x10, 0xca, 0xfe, 0xf0, 0x0d,
    0x5a, 0x5a, 0xa5, 0xa5, 0x0f, 0xf0, 0x11, 0x22,
};

static void
msgbuf_init(struct msgbuf *mb)
{
    memset(mb, 0, sizeof *mb);
}

static struct nlmsghdr *
msg_start(struct msgbuf *mb, uint16_t type, uint16_t flags, uint32_t seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(mb->b + mb->len);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = 0;
    return nlh;
}

static void
msg_end(struct msgbuf *mb, struct nlmsghdr *nlh)
{
    mb->len += NLMSG_ALIGN(nlh->nlmsg_len);
    assert_true(mb->len <= sizeof mb->b);
}

static void
put_done(struct msgbuf *mb, uint32_t seq, uint16_t flags, int status)
{
    struct nlmsghdr *nlh = msg_start(mb, NLMSG_DONE, NLM_F_MULTI | flags,
                                     seq);
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof status), &status,
           sizeof status);
    msg_end(mb, nlh);
}

static void
put_error(struct msgbuf *mb, uint32_t seq, int error)
{
    struct nlmsghdr *nlh = msg_start(mb, NLMSG_ERROR, 0, seq);
    struct nlmsgerr err;

    memset(&err, 0, sizeof err);
    err.error = error;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof err), &err, sizeof err);
    msg_end(mb, nlh);
}

static void
set_addr(int family, const char *s, xfrm_address_t *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(inet_pton(family, s, a), 1);
}

static struct xfrm_selector
make_sel(int family, const char *src, int src_plen, const char *dst,
         int dst_plen, int proto, int sport, int dport)
{
    struct xfrm_selector sel;

    memset(&sel, 0, sizeof sel);
    sel.family = family;
    set_addr(family, src, &sel.saddr);
    set_addr(family, dst, &sel.daddr);
    sel.prefixlen_s = src_plen;
    sel.prefixlen_d = dst_plen;
    sel.proto = proto;
    if (sport >= 0) {
        sel.sport = htons(sport);
        sel.sport_mask = 0xffff;
    }
    if (dport >= 0) {
        sel.dport = htons(dport);
        sel.dport_mask = 0xffff;
    }
    return sel;
}

static struct xfrm_user_tmpl
make_tmpl(int family, const char *src, const char *dst, uint32_t reqid,
          int mode, int optional)
{
    struct xfrm_user_tmpl t;

    memset(&t, 0, sizeof t);
    t.family = family;
    set_addr(family, src, &t.saddr);
    set_addr(family, dst, &t.id.daddr);
    t.id.proto = IPPROTO_ESP;
    t.reqid = reqid;
    t.mode = mode;
    t.optional = optional;
    t.aalgos = t.ealgos = t.calgos = UINT32_MAX;
    return t;
}

/* Appends an XFRM_MSG_NEWPOLICY message like the kernel's dump replies,
 * with XFRMA_POLICY_TYPE, and XFRMA_MARK and XFRMA_TMPL when given. */
static struct nlmsghdr *
put_policy(struct msgbuf *mb, uint32_t seq, uint16_t flags,
           const struct xfrm_selector *sel, int dir, int action,
           uint32_t priority, uint32_t index,
           const struct xfrm_mark *mark,
           const struct xfrm_user_tmpl *tmpls, size_t n_tmpls)
{
    struct nlmsghdr *nlh = msg_start(mb, XFRM_MSG_NEWPOLICY,
                                     NLM_F_MULTI | flags, seq);
    struct xfrm_userpolicy_info info;
    struct xfrm_userpolicy_type upt;

    memset(&info, 0, sizeof info);
    info.sel = *sel;
    info.dir = dir;
    info.action = action;
    info.priority = priority;
    info.index = index;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof info), &info,
           sizeof info);
    memset(&upt, 0, sizeof upt);
    upt.type = XFRM_POLICY_TYPE_MAIN;
    mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof upt, &upt);
    if (mark) {
        mnl_attr_put(nlh, XFRMA_MARK, sizeof *mark, mark);
    }
    if (n_tmpls) {
        mnl_attr_put(nlh, XFRMA_TMPL, n_tmpls * sizeof *tmpls, tmpls);
    }
    msg_end(mb, nlh);
    return nlh;
}

/* The four policies of the "ip xfrm policy" example in the tests below,
 * ended by NLMSG_DONE. */
static void
put_example_policies(struct msgbuf *mb, uint32_t seq)
{
    struct xfrm_selector sel;
    struct xfrm_user_tmpl tmpl;
    struct xfrm_mark mark;

    sel = make_sel(AF_INET, "10.0.0.1", 32, "10.0.0.2", 32, IPPROTO_UDP,
                   -1, 6081);
    tmpl = make_tmpl(AF_INET, "10.0.0.1", "10.0.0.2", 1,
                     XFRM_MODE_TRANSPORT, 0);
    put_policy(mb, seq, 0, &sel, XFRM_POLICY_OUT, XFRM_POLICY_ALLOW, 366847,
               9, NULL, &tmpl, 1);

    sel = make_sel(AF_INET, "10.0.0.2", 32, "10.0.0.1", 32, IPPROTO_UDP,
                   6081, -1);
    tmpl = make_tmpl(AF_INET, "10.0.0.2", "10.0.0.1", 1, XFRM_MODE_TUNNEL,
                     0);
    mark = (struct xfrm_mark) { .v = 1, .m = 3 };
    put_policy(mb, seq, 0, &sel, XFRM_POLICY_IN, XFRM_POLICY_ALLOW, 366847,
               16, &mark, &tmpl, 1);

    sel = make_sel(AF_INET6, "::", 0, "::", 0, IPPROTO_UDP, -1, 4789);
    mark = (struct xfrm_mark) { .v = 1, .m = 0xffffffff };
    put_policy(mb, seq, 0, &sel, XFRM_POLICY_OUT, XFRM_POLICY_BLOCK, 1000,
               25, &mark, NULL, 0);

    sel = make_sel(AF_INET6, "fd00::1", 128, "fd00::2", 128, 0, -1, -1);
    tmpl = make_tmpl(AF_INET6, "fd00::1", "fd00::2", 0, XFRM_MODE_TUNNEL,
                     1);
    put_policy(mb, seq, 0, &sel, XFRM_POLICY_FWD, XFRM_POLICY_ALLOW, 0, 34,
               NULL, &tmpl, 1);

    put_done(mb, seq, 0, 0);
}

/* What "ip xfrm policy" (iproute2 6.1) prints for the policies above,
 * trailing spaces included. */
static const char example_policies_text[] =
    "src 10.0.0.1/32 dst 10.0.0.2/32 proto udp dport 6081 \n"
    "\tdir out priority 366847 ptype main \n"
    "\ttmpl src 10.0.0.1 dst 10.0.0.2\n"
    "\t\tproto esp reqid 1 mode transport\n"
    "src 10.0.0.2/32 dst 10.0.0.1/32 proto udp sport 6081 \n"
    "\tdir in priority 366847 ptype main \n"
    "\tmark 0x1/0x3 \n"
    "\ttmpl src 10.0.0.2 dst 10.0.0.1\n"
    "\t\tproto esp reqid 1 mode tunnel\n"
    "src ::/0 dst ::/0 proto udp dport 4789 \n"
    "\tdir out action block priority 1000 ptype main \n"
    "\tmark 0x1/0xffffffff \n"
    "src fd00::1/128 dst fd00::2/128 \n"
    "\tdir fwd priority 0 ptype main \n"
    "\ttmpl src fd00::1 dst fd00::2\n"
    "\t\tproto esp reqid 0 mode tunnel\n"
    "\t\tlevel use \n";

/* Appends an attribute carrying struct 'alg_hdr' ('hdr_size' bytes)
 * followed by 'key_size' bytes of test_key. */
static void
put_alg(struct nlmsghdr *nlh, uint16_t type, const void *alg_hdr,
        size_t hdr_size, size_t key_size)
{
    uint8_t buf[256];

    assert_true(hdr_size + key_size <= sizeof buf);
    memcpy(buf, alg_hdr, hdr_size);
    memcpy(buf + hdr_size, test_key, key_size);
    mnl_attr_put(nlh, type, hdr_size + key_size, buf);
}

/* Appends an XFRM_MSG_NEWSA for an IPv4 transport-mode ESP SA with an
 * AEAD key, UDP encapsulation, a mark and replay state. */
static struct nlmsghdr *
put_state_v4(struct msgbuf *mb, uint32_t seq)
{
    struct nlmsghdr *nlh = msg_start(mb, XFRM_MSG_NEWSA, NLM_F_MULTI, seq);
    struct xfrm_usersa_info info;
    struct xfrm_algo_aead aead;
    struct xfrm_encap_tmpl encap;
    struct xfrm_replay_state replay;
    struct xfrm_mark mark = { .v = 0x10, .m = 0xf0 };

    memset(&info, 0, sizeof info);
    info.sel = make_sel(AF_INET, "10.0.0.1", 32, "10.0.0.2", 32,
                        IPPROTO_UDP, -1, 6081);
    info.family = AF_INET;
    set_addr(AF_INET, "10.0.0.1", &info.saddr);
    set_addr(AF_INET, "10.0.0.2", &info.id.daddr);
    info.id.proto = IPPROTO_ESP;
    info.id.spi = htonl(0xc1234567);
    info.reqid = 7;
    info.mode = XFRM_MODE_TRANSPORT;
    info.replay_window = 32;
    info.curlft.bytes = 123456;
    info.curlft.packets = 789;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof info), &info,
           sizeof info);

    mnl_attr_put(nlh, XFRMA_MARK, sizeof mark, &mark);
    memset(&aead, 0, sizeof aead);
    strcpy(aead.alg_name, "rfc4106(gcm(aes))");
    aead.alg_key_len = 160;
    aead.alg_icv_len = 128;
    put_alg(nlh, XFRMA_ALG_AEAD, &aead, sizeof aead, 20);

    memset(&encap, 0, sizeof encap);
    encap.encap_type = 2;
    encap.encap_sport = htons(4500);
    encap.encap_dport = htons(4501);
    mnl_attr_put(nlh, XFRMA_ENCAP, sizeof encap, &encap);

    memset(&replay, 0, sizeof replay);
    replay.seq = 5;
    replay.oseq = 6;
    replay.bitmap = 0x1f;
    mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof replay, &replay);
    msg_end(mb, nlh);
    return nlh;
}

/* Appends an XFRM_MSG_NEWSA for an IPv6 tunnel-mode ESP SA with separate
 * encryption and authentication keys (reported both as XFRMA_ALG_AUTH and
 * XFRMA_ALG_AUTH_TRUNC, as the kernel does) and ESN replay state. */
static struct nlmsghdr *
put_state_v6(struct msgbuf *mb, uint32_t seq)
{
    struct nlmsghdr *nlh = msg_start(mb, XFRM_MSG_NEWSA, NLM_F_MULTI, seq);
    struct xfrm_usersa_info info;
    struct xfrm_algo enc, auth;
    struct xfrm_algo_auth auth_trunc;
    uint8_t esn_buf[sizeof(struct xfrm_replay_state_esn) + 8];
    struct xfrm_replay_state_esn esn;

    memset(&info, 0, sizeof info);
    info.family = AF_INET6;
    set_addr(AF_INET6, "fd00::2", &info.saddr);
    set_addr(AF_INET6, "fd00::1", &info.id.daddr);
    info.id.proto = IPPROTO_ESP;
    info.id.spi = htonl(0x0000beef);
    info.reqid = 8;
    info.mode = XFRM_MODE_TUNNEL;
    info.flags = XFRM_STATE_ESN | XFRM_STATE_AF_UNSPEC;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof info), &info,
           sizeof info);

    memset(&auth, 0, sizeof auth);
    strcpy(auth.alg_name, "hmac(sha256)");
    auth.alg_key_len = 256;
    put_alg(nlh, XFRMA_ALG_AUTH, &auth, sizeof auth, 32);
    memset(&enc, 0, sizeof enc);
    strcpy(enc.alg_name, "cbc(aes)");
    enc.alg_key_len = 128;
    put_alg(nlh, XFRMA_ALG_CRYPT, &enc, sizeof enc, 16);
    memset(&auth_trunc, 0, sizeof auth_trunc);
    strcpy(auth_trunc.alg_name, "hmac(sha256)");
    auth_trunc.alg_key_len = 256;
    auth_trunc.alg_trunc_len = 128;
    put_alg(nlh, XFRMA_ALG_AUTH_TRUNC, &auth_trunc, sizeof auth_trunc, 32);

    memset(&esn, 0, sizeof esn);
    esn.bmp_len = 2;
    esn.seq = 3;
    esn.oseq = 4;
    esn.seq_hi = 1;
    esn.oseq_hi = 2;
    esn.replay_window = 64;
    memset(esn_buf, 0xff, sizeof esn_buf);
    memcpy(esn_buf, &esn, sizeof esn);
    mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof esn_buf, esn_buf);
    msg_end(mb, nlh);
    return nlh;
}

/* Feeds 'size' bytes at 'buf' from an exact-size heap copy, so that the
 * address sanitizer catches any read past the end. */
static int
feed_copy(struct xfrm_dump_parser *p, const void *buf, size_t size)
{
    void *copy = xmemdup(buf, size ? size : 1);
    int error = xfrm_dump_parser_feed(p, copy, size);
    free(copy);
    return error;
}

static bool
contains_key_bytes(const void *mem, size_t size)
{
    if (!size) {
        return false;
    }
    /* Any 4 consecutive bytes of the key would be a leak. */
    for (size_t i = 0; i + 4 <= sizeof test_key; i++) {
        if (memmem(mem, size, &test_key[i], 4)) {
            return true;
        }
    }
    return false;
}

/* Drop policy requests. */

static void
test_drop_policies_build(void **state OVS_UNUSED__)
{
    struct xfrm_policy p[XFRM_DROP_N];
    static const struct {
        int family;
        uint8_t proto;
        uint16_t dport;
    } expect[XFRM_DROP_N] = {
        { AF_INET, IPPROTO_UDP, 6081 },
        { AF_INET, IPPROTO_UDP, 4789 },
        { AF_INET, IPPROTO_GRE, 0 },
        { AF_INET6, IPPROTO_UDP, 6081 },
        { AF_INET6, IPPROTO_UDP, 4789 },
        { AF_INET6, IPPROTO_GRE, 0 },
    };

    assert_int_equal(xfrm_drop_policies_build(0x100, 0x300, p), 0);
    for (size_t i = 0; i < XFRM_DROP_N; i++) {
        assert_int_equal(p[i].sel.family, expect[i].family);
        assert_int_equal(p[i].sel.proto, expect[i].proto);
        assert_int_equal(p[i].sel.dport, expect[i].dport);
        assert_int_equal(p[i].sel.dport_mask, expect[i].dport ? 0xffff : 0);
        assert_int_equal(p[i].sel.sport_mask, 0);
        assert_int_equal(p[i].sel.src_plen, 0);
        assert_int_equal(p[i].sel.dst_plen, 0);
        assert_int_equal(p[i].dir, XFRM_POLICY_OUT);
        assert_int_equal(p[i].action, XFRM_POLICY_BLOCK);
        assert_int_equal(p[i].priority, XFRM_DROP_PRIORITY);
        assert_int_equal(p[i].mark, 0x100);
        assert_int_equal(p[i].mark_mask, 0x300);
        assert_int_equal(p[i].n_tmpls, 0);
        assert_true(xfrm_policy_is_drop(&p[i]));
    }

    /* A zero mask would drop every tunnel packet; a mark outside the mask
     * would drop none. */
    assert_int_equal(xfrm_drop_policies_build(0, 0, p), -EINVAL);
    assert_int_equal(xfrm_drop_policies_build(0x3, 0x1, p), -EINVAL);
    assert_int_equal(xfrm_drop_policies_build(0, 1, p), 0);

    /* Must lose to every policy charon (<= 600000) and Libreswan
     * (< 4 << 20) compute. */
    assert_true(XFRM_DROP_PRIORITY > 600000);
    assert_true(XFRM_DROP_PRIORITY >= (4u << 20));
}

static void
test_drop_policy_encode(void **state OVS_UNUSED__)
{
    struct xfrm_policy p[XFRM_DROP_N];
    union {
        struct nlmsghdr align;
        uint8_t b[1024];
    } buf;
    struct xfrm_userpolicy_info info;
    const struct nlmsghdr *nlh = &buf.align;
    const struct nlattr *attr;
    struct xfrm_mark mark;
    int n;

    assert_int_equal(xfrm_drop_policies_build(0x1, 0x1, p), 0);

    for (size_t i = 0; i < XFRM_DROP_N; i++) {
        bool udp = i % 3 != 2;
        bool v4 = i < 3;
        int n_attrs = 0;

        memset(buf.b, 0xaa, sizeof buf.b);
        n = xfrm_policy_encode(&p[i], XFRM_MSG_UPDPOLICY, 42 + i, buf.b,
                               sizeof buf.b);
        /* Header, policy info, and one 12-byte mark attribute. */
        assert_int_equal(n, NLMSG_HDRLEN + sizeof info + 12);
        assert_int_equal(nlh->nlmsg_len, n);
        assert_int_equal(nlh->nlmsg_type, XFRM_MSG_UPDPOLICY);
        assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_int_equal(nlh->nlmsg_seq, 42 + i);
        assert_int_equal(nlh->nlmsg_pid, 0);

        memcpy(&info, buf.b + NLMSG_HDRLEN, sizeof info);
        assert_int_equal(info.sel.family, v4 ? AF_INET : AF_INET6);
        assert_int_equal(info.sel.prefixlen_s, 0);
        assert_int_equal(info.sel.prefixlen_d, 0);
        for (size_t j = 0; j < sizeof info.sel.saddr; j++) {
            assert_int_equal(((uint8_t *) &info.sel.saddr)[j], 0);
            assert_int_equal(((uint8_t *) &info.sel.daddr)[j], 0);
        }
        assert_int_equal(info.sel.proto, udp ? IPPROTO_UDP : IPPROTO_GRE);
        assert_int_equal(info.sel.sport, 0);
        assert_int_equal(info.sel.sport_mask, 0);
        if (udp) {
            assert_int_equal(ntohs(info.sel.dport), i % 3 ? 4789 : 6081);
            assert_int_equal(info.sel.dport_mask, 0xffff);
        } else {
            assert_int_equal(info.sel.dport, 0);
            assert_int_equal(info.sel.dport_mask, 0);
        }
        assert_int_equal(info.sel.ifindex, 0);
        assert_int_equal(info.dir, XFRM_POLICY_OUT);
        assert_int_equal(info.action, XFRM_POLICY_BLOCK);
        assert_int_equal(info.priority, XFRM_DROP_PRIORITY);
        assert_int_equal(info.index, 0);
        assert_int_equal(info.share, XFRM_SHARE_ANY);
        assert_int_equal(info.flags, 0);
        assert_true(info.lft.soft_byte_limit == XFRM_INF);
        assert_true(info.lft.hard_byte_limit == XFRM_INF);
        assert_true(info.lft.soft_packet_limit == XFRM_INF);
        assert_true(info.lft.hard_packet_limit == XFRM_INF);

        mnl_attr_for_each(attr, nlh, sizeof info) {
            n_attrs++;
            assert_int_equal(mnl_attr_get_type(attr), XFRMA_MARK);
            assert_int_equal(mnl_attr_get_payload_len(attr), sizeof mark);
            memcpy(&mark, mnl_attr_get_payload(attr), sizeof mark);
            assert_int_equal(mark.v, 0x1);
            assert_int_equal(mark.m, 0x1);
        }
        assert_int_equal(n_attrs, 1);

        /* What we send is what a dump would show, modulo ptype. */
        struct xfrm_policy back;
        buf.align.nlmsg_type = XFRM_MSG_NEWPOLICY;
        assert_int_equal(xfrm_policy_parse(nlh, &back), 0);
        back.has_ptype = true;
        assert_memory_equal(&back, &p[i], sizeof back);
        assert_true(xfrm_policy_is_drop(&back));
    }

    /* Too small a buffer, at every size short of the need. */
    for (size_t size = 0; size < NLMSG_HDRLEN + sizeof info + 12; size++) {
        assert_int_equal(xfrm_policy_encode(&p[0], XFRM_MSG_UPDPOLICY, 1,
                                            buf.b, size), -ENOSPC);
    }
    /* Not a policy request. */
    assert_int_equal(xfrm_policy_encode(&p[0], XFRM_MSG_NEWSA, 1, buf.b,
                                        sizeof buf.b), -EINVAL);
    /* Bad selectors and templates. */
    struct xfrm_policy bad = p[0];
    bad.sel.family = AF_UNSPEC;
    assert_int_equal(xfrm_policy_encode(&bad, XFRM_MSG_NEWPOLICY, 1, buf.b,
                                        sizeof buf.b), -EINVAL);
    bad = p[0];
    bad.sel.dst_plen = 33;
    assert_int_equal(xfrm_policy_encode(&bad, XFRM_MSG_NEWPOLICY, 1, buf.b,
                                        sizeof buf.b), -EINVAL);
    bad = p[0];
    bad.n_tmpls = XFRM_POLICY_MAX_TMPLS + 1;
    assert_int_equal(xfrm_policy_encode(&bad, XFRM_MSG_NEWPOLICY, 1, buf.b,
                                        sizeof buf.b), -EINVAL);
    bad = p[0];
    bad.n_tmpls = 1;
    bad.tmpls[0].family = 99;
    assert_int_equal(xfrm_policy_encode(&bad, XFRM_MSG_NEWPOLICY, 1, buf.b,
                                        sizeof buf.b), -EINVAL);
}

static void
test_delete_encode(void **state OVS_UNUSED__)
{
    struct xfrm_policy p[XFRM_DROP_N];
    union {
        struct nlmsghdr align;
        uint8_t b[1024];
    } buf;
    struct xfrm_userpolicy_id id;
    struct xfrm_mark mark;
    const struct nlattr *attr;
    int n;

    assert_int_equal(xfrm_drop_policies_build(0x20, 0xf0, p), 0);
    p[4].index = 0x1234561;
    n = xfrm_policy_encode(&p[4], XFRM_MSG_DELPOLICY, 7, buf.b,
                           sizeof buf.b);
    assert_int_equal(n, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof id) + 12);
    assert_int_equal(buf.align.nlmsg_type, XFRM_MSG_DELPOLICY);
    assert_int_equal(buf.align.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    memcpy(&id, buf.b + NLMSG_HDRLEN, sizeof id);
    assert_int_equal(id.index, 0x1234561);
    assert_int_equal(id.dir, XFRM_POLICY_OUT);
    assert_int_equal(id.sel.family, AF_INET6);
    assert_int_equal(ntohs(id.sel.dport), 4789);

    attr = (const struct nlattr *) (buf.b + NLMSG_HDRLEN
                                    + NLMSG_ALIGN(sizeof id));
    assert_int_equal(mnl_attr_get_type(attr), XFRMA_MARK);
    memcpy(&mark, mnl_attr_get_payload(attr), sizeof mark);
    assert_int_equal(mark.v, 0x20);
    assert_int_equal(mark.m, 0xf0);
}

/* Policy dumps. */

static void
test_policy_dump_parse(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_dump_parser p;
    struct msgbuf mb;
    struct ds out = DS_EMPTY_INITIALIZER;
    const struct xfrm_policy *pol;
    char addr[INET6_ADDRSTRLEN];

    msgbuf_init(&mb);
    put_example_policies(&mb, 5);

    xfrm_policy_list_init(&list);
    xfrm_dump_parser_init(&p, 5, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);
    assert_int_equal(list.n, 4);

    pol = &list.policies[0];
    assert_int_equal(pol->sel.family, AF_INET);
    inet_ntop(AF_INET, &pol->sel.src, addr, sizeof addr);
    assert_string_equal(addr, "10.0.0.1");
    inet_ntop(AF_INET, &pol->sel.dst, addr, sizeof addr);
    assert_string_equal(addr, "10.0.0.2");
    assert_int_equal(pol->sel.src_plen, 32);
    assert_int_equal(pol->sel.proto, IPPROTO_UDP);
    assert_int_equal(pol->sel.dport, 6081);
    assert_int_equal(pol->sel.dport_mask, 0xffff);
    assert_int_equal(pol->sel.sport_mask, 0);
    assert_int_equal(pol->dir, XFRM_POLICY_OUT);
    assert_int_equal(pol->action, XFRM_POLICY_ALLOW);
    assert_int_equal(pol->priority, 366847);
    assert_int_equal(pol->index, 9);
    assert_true(pol->has_ptype);
    assert_int_equal(pol->mark_mask, 0);
    assert_int_equal(pol->n_tmpls, 1);
    assert_int_equal(pol->tmpls[0].family, AF_INET);
    assert_int_equal(pol->tmpls[0].proto, IPPROTO_ESP);
    assert_int_equal(pol->tmpls[0].reqid, 1);
    assert_int_equal(pol->tmpls[0].mode, XFRM_MODE_TRANSPORT);
    inet_ntop(AF_INET, &pol->tmpls[0].dst, addr, sizeof addr);
    assert_string_equal(addr, "10.0.0.2");

    pol = &list.policies[1];
    assert_int_equal(pol->sel.sport, 6081);
    assert_int_equal(pol->mark, 1);
    assert_int_equal(pol->mark_mask, 3);
    assert_int_equal(pol->tmpls[0].mode, XFRM_MODE_TUNNEL);

    pol = &list.policies[2];
    assert_int_equal(pol->sel.family, AF_INET6);
    assert_int_equal(pol->action, XFRM_POLICY_BLOCK);
    assert_int_equal(pol->n_tmpls, 0);
    assert_int_equal(pol->mark_mask, 0xffffffff);
    /* Priority 1000 is not ours. */
    assert_false(xfrm_policy_is_drop(pol));

    pol = &list.policies[3];
    assert_int_equal(pol->dir, XFRM_POLICY_FWD);
    inet_ntop(AF_INET6, &pol->tmpls[0].src, addr, sizeof addr);
    assert_string_equal(addr, "fd00::1");
    assert_int_equal(pol->tmpls[0].optional, 1);

    xfrm_format_policies(&list, &out);
    assert_string_equal(ds_cstr(&out), example_policies_text);

    ds_destroy(&out);
    xfrm_policy_list_done(&list);
    xfrm_policy_list_done(NULL);
}

static bool
keep_block__(const struct xfrm_policy *p)
{
    return p->action == XFRM_POLICY_BLOCK;
}

/* A list with a filter keeps only what the filter wants, in order, and
 * parses the rest without storing it. */
static void
test_policy_dump_filtered(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_dump_parser p;
    struct msgbuf mb;

    msgbuf_init(&mb);
    put_example_policies(&mb, 5);

    xfrm_policy_list_init_filtered(&list, keep_block__);
    xfrm_dump_parser_init(&p, 5, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.policies[0].sel.family, AF_INET6);
    assert_int_equal(list.policies[0].action, XFRM_POLICY_BLOCK);
    xfrm_policy_list_done(&list);
    assert_true(list.keep == keep_block__);
}

/* A fallback drop policy is its selector: rebuilt from it, it is the
 * same policy, byte for byte, and recognized as one. */
static void
test_tunnel_drop_from_sel(void **state OVS_UNUSED__)
{
    static const struct {
        int af;
        const char *local, *remote;
        uint8_t proto;
        uint16_t dport;
    } cases[] = {
        { AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_UDP, 6081 },
        { AF_INET, NULL, "192.0.2.3", IPPROTO_GRE, 0 },
        { AF_INET6, "fd00::1", "fd00::2", IPPROTO_UDP, 4789 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct xfrm_policy built, rebuilt;

        assert_int_equal(xfrm_tunnel_drop_build(cases[i].af, cases[i].local,
                                                cases[i].remote,
                                                cases[i].proto,
                                                cases[i].dport, &built), 0);
        memset(&rebuilt, 0xa5, sizeof rebuilt);
        xfrm_tunnel_drop_from_sel(&built.sel, &rebuilt);
        assert_memory_equal(&built, &rebuilt, sizeof built);
        assert_true(xfrm_policy_is_tunnel_drop(&rebuilt));
        assert_int_equal(rebuilt.sel.dport, cases[i].dport);
    }
    struct xfrm_policy p;
    assert_int_equal(xfrm_tunnel_drop_build(AF_INET, NULL, "fd00::1",
                                            IPPROTO_UDP, 6081, &p), -EINVAL);
}

/* Selector details: ICMP type and code, GRE keys, flags, socket policies,
 * interface ids, SPIs in templates. */
static void
test_policy_format_details(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_policy *p;
    struct ds out = DS_EMPTY_INITIALIZER;

    xfrm_policy_list_init(&list);
    list.policies = xcalloc(3, sizeof *list.policies);
    list.n = list.allocated = 3;

    p = &list.policies[0];
    p->sel.family = AF_INET;
    inet_pton(AF_INET, "10.1.0.0", &p->sel.src);
    inet_pton(AF_INET, "10.2.0.0", &p->sel.dst);
    p->sel.src_plen = 16;
    p->sel.dst_plen = 24;
    p->sel.proto = IPPROTO_ICMP;
    p->sel.sport = 8;
    p->sel.sport_mask = 0xffff;
    p->sel.dport = 0;
    p->sel.dport_mask = 0xffff;
    p->dir = XFRM_POLICY_OUT;
    p->flags = XFRM_POLICY_LOCALOK | 0x80;
    p->n_tmpls = 1;
    p->tmpls[0].family = AF_INET;
    p->tmpls[0].proto = IPPROTO_AH;
    p->tmpls[0].spi = 0x1234;
    p->tmpls[0].reqid = 3;
    p->tmpls[0].mode = XFRM_MODE_BEET;

    p = &list.policies[1];
    p->sel.family = AF_INET6;
    p->sel.proto = IPPROTO_GRE;
    p->sel.sport = 1;
    p->sel.sport_mask = 0xffff;
    p->sel.dport = 2;
    p->sel.dport_mask = 0xffff;
    p->dir = XFRM_POLICY_MAX + XFRM_POLICY_IN;
    p->action = 7;
    p->if_id = 0x42;

    p = &list.policies[2];
    p->sel.family = AF_INET;
    p->sel.proto = 200;
    p->dir = 9;
    p->has_ptype = true;
    p->ptype = XFRM_POLICY_TYPE_SUB;

    xfrm_format_policies(&list, &out);
    assert_string_equal(
        ds_cstr(&out),
        "src 10.1.0.0/16 dst 10.2.0.0/24 proto icmp type 8 code 0 \n"
        "\tdir out priority 0 flag localok 80\n"
        "\ttmpl src 0.0.0.0 dst 0.0.0.0\n"
        "\t\tproto ah spi 0x00001234 reqid 3 mode beet\n"
        "src ::/0 dst ::/0 proto gre key 65538 \n"
        "\tsocket in action 7 priority 0 \n"
        "\tif_id 0x42\n"
        "src 0.0.0.0/0 dst 0.0.0.0/0 proto 200 \n"
        "\tsocket 6 priority 0 ptype sub \n");
    ds_destroy(&out);
    xfrm_policy_list_done(&list);
}

/* State dumps. */

static void
test_state_dump_parse(void **state OVS_UNUSED__)
{
    struct xfrm_state_list list;
    struct xfrm_dump_parser p;
    struct msgbuf mb;
    struct ds out = DS_EMPTY_INITIALIZER;
    const struct xfrm_state *s;
    char addr[INET6_ADDRSTRLEN];

    msgbuf_init(&mb);
    put_state_v4(&mb, 9);
    put_state_v6(&mb, 9);
    put_done(&mb, 9, 0, 0);
    /* The datagram really carries the keys. */
    assert_true(contains_key_bytes(mb.b, mb.len));

    xfrm_state_list_init(&list);
    xfrm_dump_parser_init(&p, 9, 0, NULL, &list);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);
    assert_int_equal(list.n, 2);

    s = &list.states[0];
    assert_int_equal(s->family, AF_INET);
    inet_ntop(AF_INET, &s->src, addr, sizeof addr);
    assert_string_equal(addr, "10.0.0.1");
    inet_ntop(AF_INET, &s->dst, addr, sizeof addr);
    assert_string_equal(addr, "10.0.0.2");
    assert_int_equal(s->proto, IPPROTO_ESP);
    assert_int_equal(s->spi, 0xc1234567);
    assert_int_equal(s->reqid, 7);
    assert_int_equal(s->mode, XFRM_MODE_TRANSPORT);
    assert_int_equal(s->mark, 0x10);
    assert_int_equal(s->mark_mask, 0xf0);
    assert_string_equal(s->aead.name, "rfc4106(gcm(aes))");
    assert_int_equal(s->aead.key_bits, 160);
    assert_int_equal(s->aead.icv_bits, 128);
    assert_string_equal(s->enc.name, "");
    assert_true(s->has_encap);
    assert_int_equal(s->encap_sport, 4500);
    assert_int_equal(s->encap_dport, 4501);
    assert_int_equal(s->replay_window, 32);
    assert_int_equal(s->replay_seq, 5);
    assert_int_equal(s->cur_bytes, 123456);
    assert_int_equal(s->cur_packets, 789);
    assert_int_equal(s->sel.dport, 6081);

    s = &list.states[1];
    assert_int_equal(s->family, AF_INET6);
    assert_int_equal(s->spi, 0xbeef);
    assert_int_equal(s->mode, XFRM_MODE_TUNNEL);
    assert_string_equal(s->enc.name, "cbc(aes)");
    assert_int_equal(s->enc.key_bits, 128);
    assert_string_equal(s->auth.name, "hmac(sha256)");
    assert_true(s->auth_trunc);
    assert_int_equal(s->auth.icv_bits, 128);
    assert_true(s->esn);
    assert_int_equal(s->replay_window, 64);

    /* Not a byte of key in what we keep... */
    assert_false(contains_key_bytes(list.states,
                                    list.n * sizeof *list.states));

    /* ...nor in what we print. */
    xfrm_format_states(&list, &out);
    assert_string_equal(
        ds_cstr(&out),
        "src 10.0.0.1 dst 10.0.0.2\n"
        "\tproto esp spi 0xc1234567 reqid 7 mode transport\n"
        "\treplay-window 32 \n"
        "\tmark 0x10/0xf0 \n"
        "\taead rfc4106(gcm(aes)) <redacted> 128\n"
        "\tencap type espinudp sport 4500 dport 4501 addr 0.0.0.0\n"
        "\tanti-replay context: seq 0x5, oseq 0x6, bitmap 0x0000001f\n"
        "\tsel src 10.0.0.1/32 dst 10.0.0.2/32 proto udp dport 6081 \n"
        "\tlifetime current:\n"
        "\t  123456(bytes), 789(packets)\n"
        "src fd00::2 dst fd00::1\n"
        "\tproto esp spi 0x0000beef reqid 8 mode tunnel\n"
        "\treplay-window 64 flag af-unspec esn\n"
        "\tauth-trunc hmac(sha256) <redacted> 128\n"
        "\tenc cbc(aes) <redacted>\n"
        "\tanti-replay esn context:\n"
        "\t seq-hi 0x1, seq 0x3, oseq-hi 0x2, oseq 0x4\n"
        "\t replay_window 64\n"
        "\tlifetime current:\n"
        "\t  0(bytes), 0(packets)\n");
    assert_null(strstr(ds_cstr(&out), "deadbeef"));
    assert_null(strstr(ds_cstr(&out), "0x"
                       "deadbeef"));
    assert_null(strstr(ds_cstr(&out), "DEADBEEF"));

    ds_destroy(&out);
    xfrm_state_list_done(&list);
    xfrm_state_list_done(NULL);
}

/* Filters for tunnels/show. */

static void
test_filters(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list policies;
    struct xfrm_state_list states;
    struct xfrm_dump_parser p;
    struct msgbuf mb;
    struct ds out = DS_EMPTY_INITIALIZER;

    msgbuf_init(&mb);
    put_example_policies(&mb, 1);
    xfrm_policy_list_init(&policies);
    xfrm_dump_parser_init(&p, 1, 0, &policies, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);

    msgbuf_init(&mb);
    put_state_v4(&mb, 2);
    put_state_v6(&mb, 2);
    put_done(&mb, 2, 0, 0);
    xfrm_state_list_init(&states);
    xfrm_dump_parser_init(&p, 2, 0, NULL, &states);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);

    /* Both directions of the IPv4 tunnel. */
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET, NULL,
                                              "10.0.0.2", &out), 2);
    assert_string_equal(
        ds_cstr(&out),
        "  src 10.0.0.1/32 dst 10.0.0.2/32 proto udp dport 6081 "
        "dir out priority 366847\n"
        "  src 10.0.0.2/32 dst 10.0.0.1/32 proto udp sport 6081 "
        "dir in priority 366847 mark 0x1/0x3\n");
    ds_clear(&out);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET,
                                              "10.0.0.1", "10.0.0.2", NULL),
                     2);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET,
                                              "10.0.0.9", "10.0.0.2", NULL),
                     0);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET, NULL,
                                              "10.0.0.3", &out), 0);
    assert_string_equal(ds_cstr(&out), "");
    /* An IPv4 address never matches IPv6 policies and vice versa; the
     * any-to-any block policy involves no tunnel. */
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET6, NULL,
                                              "fd00::2", &out), 1);
    assert_string_equal(ds_cstr(&out),
                        "  src fd00::1/128 dst fd00::2/128 dir fwd "
                        "priority 0\n");
    ds_clear(&out);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET6, NULL,
                                              "::", NULL), 0);
    /* Bad input. */
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET, NULL,
                                              "10.0.0", &out), -EINVAL);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET, "x",
                                              "10.0.0.2", &out), -EINVAL);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET6, NULL,
                                              "10.0.0.2", &out), -EINVAL);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_UNIX, NULL,
                                              "10.0.0.2", &out), -EINVAL);
    assert_int_equal(xfrm_format_policies_for(&policies, AF_INET, NULL,
                                              NULL, &out), -EINVAL);
    assert_string_equal(ds_cstr(&out), "");

    /* States, by outer address or selector. */
    assert_int_equal(xfrm_format_states_for(&states, AF_INET, "10.0.0.1",
                                            "10.0.0.2", &out), 1);
    assert_string_equal(ds_cstr(&out),
                        "  src 10.0.0.1 dst 10.0.0.2 proto esp "
                        "spi 0xc1234567 reqid 7 mode transport\n");
    ds_clear(&out);
    assert_int_equal(xfrm_format_states_for(&states, AF_INET6, NULL,
                                            "fd00::2", &out), 1);
    assert_string_equal(ds_cstr(&out),
                        "  src fd00::2 dst fd00::1 proto esp "
                        "spi 0x0000beef reqid 8 mode tunnel\n");
    assert_null(strstr(ds_cstr(&out), "redacted"));
    assert_int_equal(xfrm_format_states_for(&states, AF_INET6, NULL,
                                            "fd00::3", NULL), 0);
    assert_int_equal(xfrm_format_states_for(&states, AF_INET6, NULL,
                                            "fd00::", NULL), 0);
    assert_int_equal(xfrm_format_states_for(&states, AF_INET6, NULL,
                                            "zz", NULL), -EINVAL);

    ds_destroy(&out);
    xfrm_policy_list_done(&policies);
    xfrm_state_list_done(&states);
}

/* Replies: interrupted dumps, several datagrams, stale replies, errors. */

static void
test_dump_intr(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_dump_parser p;
    struct xfrm_selector sel;
    struct msgbuf mb;

    sel = make_sel(AF_INET, "1.1.1.1", 32, "2.2.2.2", 32, 0, -1, -1);
    xfrm_policy_list_init(&list);

    /* The flag on a data message, in the first of two datagrams. */
    msgbuf_init(&mb);
    put_policy(&mb, 3, NLM_F_DUMP_INTR, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    xfrm_dump_parser_init(&p, 3, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EINPROGRESS);
    assert_true(p.interrupted);
    msgbuf_init(&mb);
    put_policy(&mb, 3, 0, &sel, 1, 0, 0, 0, NULL, NULL, 0);
    put_done(&mb, 3, 0, 0);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EAGAIN);
    assert_int_equal(list.n, 2);
    /* The outcome sticks; later datagrams change nothing. */
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EAGAIN);
    assert_int_equal(list.n, 2);

    /* The flag on NLMSG_DONE only. */
    list.n = 0;
    msgbuf_init(&mb);
    put_policy(&mb, 4, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    put_done(&mb, 4, NLM_F_DUMP_INTR, 0);
    xfrm_dump_parser_init(&p, 4, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EAGAIN);

    /* A consistent dump over three datagrams, the first one starting with
     * late replies to an earlier request and a message from another port,
     * all of which must be skipped. */
    list.n = 0;
    msgbuf_init(&mb);
    put_policy(&mb, 4, NLM_F_DUMP_INTR, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    put_done(&mb, 4, 0, 0);
    put_error(&mb, 4, -EPERM);
    put_policy(&mb, 5, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0)->nlmsg_pid = 99;
    put_policy(&mb, 5, 0, &sel, 0, 0, 0, 1, NULL, NULL, 0)->nlmsg_pid = 77;
    xfrm_dump_parser_init(&p, 5, 77, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EINPROGRESS);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.policies[0].index, 1);
    msgbuf_init(&mb);
    put_policy(&mb, 5, 0, &sel, 0, 0, 0, 2, NULL, NULL, 0)->nlmsg_pid = 77;
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EINPROGRESS);
    msgbuf_init(&mb);
    put_done(&mb, 5, 0, 0);
    ((struct nlmsghdr *) mb.b)->nlmsg_pid = 77;
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);
    assert_int_equal(list.n, 2);
    assert_int_equal(list.policies[1].index, 2);

    /* An empty datagram is no progress. */
    xfrm_dump_parser_init(&p, 6, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, 0), -EINPROGRESS);

    xfrm_policy_list_done(&list);
}

static void
test_errors_and_acks(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_dump_parser p;
    struct msgbuf mb;
    struct nlmsghdr *nlh;

    xfrm_policy_list_init(&list);

    /* An ACK. */
    msgbuf_init(&mb);
    put_error(&mb, 10, 0);
    xfrm_dump_parser_init(&p, 10, 0, NULL, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);

    /* Errors, as replies to commands or dumps. */
    msgbuf_init(&mb);
    put_error(&mb, 11, -EPERM);
    xfrm_dump_parser_init(&p, 11, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EPERM);
    msgbuf_init(&mb);
    put_done(&mb, 12, 0, -ENOMEM);
    xfrm_dump_parser_init(&p, 12, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -ENOMEM);

    /* Nonsense error codes. */
    msgbuf_init(&mb);
    put_error(&mb, 13, 5);
    xfrm_dump_parser_init(&p, 13, 0, NULL, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EBADMSG);
    msgbuf_init(&mb);
    put_error(&mb, 14, INT32_MIN);
    xfrm_dump_parser_init(&p, 14, 0, NULL, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EBADMSG);

    /* An error message too short for its code. */
    msgbuf_init(&mb);
    nlh = msg_start(&mb, NLMSG_ERROR, 0, 15);
    mnl_nlmsg_put_extra_header(nlh, 4);
    nlh->nlmsg_len = NLMSG_HDRLEN + 2;
    msg_end(&mb, nlh);
    xfrm_dump_parser_init(&p, 15, 0, NULL, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EBADMSG);

    /* NLMSG_DONE without a status, NOOPs and foreign types are fine. */
    msgbuf_init(&mb);
    nlh = msg_start(&mb, NLMSG_NOOP, 0, 16);
    msg_end(&mb, nlh);
    nlh = msg_start(&mb, XFRM_MSG_NEWAE, 0, 16);
    msg_end(&mb, nlh);
    nlh = msg_start(&mb, XFRM_MSG_NEWSA, 0, 16);  /* No state list. */
    msg_end(&mb, nlh);
    nlh = msg_start(&mb, NLMSG_DONE, 0, 16);
    msg_end(&mb, nlh);
    xfrm_dump_parser_init(&p, 16, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), 0);
    assert_int_equal(list.n, 0);

    /* Overrun. */
    msgbuf_init(&mb);
    nlh = msg_start(&mb, NLMSG_OVERRUN, 0, 17);
    msg_end(&mb, nlh);
    xfrm_dump_parser_init(&p, 17, 0, &list, NULL);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -ENOBUFS);

    xfrm_policy_list_done(&list);
}

/* Malformed messages. */

/* Feeds 'mb' plus NLMSG_DONE to a fresh parser for policies and states and
 * returns the outcome; nothing malformed may end up in the lists. */
static int
parse_one(struct msgbuf *mb, uint32_t seq)
{
    struct xfrm_policy_list policies;
    struct xfrm_state_list states;
    struct xfrm_dump_parser p;
    int error;

    put_done(mb, seq, 0, 0);
    xfrm_policy_list_init(&policies);
    xfrm_state_list_init(&states);
    xfrm_dump_parser_init(&p, seq, 0, &policies, &states);
    error = feed_copy(&p, mb->b, mb->len);
    assert_int_not_equal(error, -EINPROGRESS);
    if (error) {
        assert_int_equal(policies.n + states.n, 0);
    }
    xfrm_policy_list_done(&policies);
    xfrm_state_list_done(&states);
    return error;
}

static void
test_malformed(void **state OVS_UNUSED__)
{
    struct xfrm_selector sel;
    struct xfrm_user_tmpl tmpls[XFRM_POLICY_MAX_TMPLS + 1];
    struct msgbuf mb;
    struct nlmsghdr *nlh;
    struct nlattr *attr;
    struct xfrm_algo_aead aead;

    sel = make_sel(AF_INET, "1.1.1.1", 32, "2.2.2.2", 32, 0, -1, -1);
    for (size_t i = 0; i < ARRAY_SIZE(tmpls); i++) {
        tmpls[i] = make_tmpl(AF_INET, "1.1.1.1", "2.2.2.2", 1, 0, 0);
    }

    /* Sanity: the unmodified message parses. */
    msgbuf_init(&mb);
    put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, tmpls, 2);
    assert_int_equal(parse_one(&mb, 1), 0);

    /* An attribute whose length is shorter than its own header. */
    msgbuf_init(&mb);
    nlh = put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, tmpls, 1);
    attr = (struct nlattr *) ((uint8_t *) nlh + NLMSG_HDRLEN
                              + sizeof(struct xfrm_userpolicy_info));
    attr->nla_len = 2;
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* An attribute longer than what is left of the message. */
    msgbuf_init(&mb);
    nlh = put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, tmpls, 1);
    attr = (struct nlattr *) ((uint8_t *) nlh + NLMSG_HDRLEN
                              + sizeof(struct xfrm_userpolicy_info));
    attr->nla_len = 200;
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* A message too short for struct xfrm_userpolicy_info. */
    msgbuf_init(&mb);
    nlh = msg_start(&mb, XFRM_MSG_NEWPOLICY, NLM_F_MULTI, 1);
    mnl_nlmsg_put_extra_header(nlh, 100);
    msg_end(&mb, nlh);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* ...or for struct xfrm_usersa_info. */
    msgbuf_init(&mb);
    nlh = msg_start(&mb, XFRM_MSG_NEWSA, NLM_F_MULTI, 1);
    mnl_nlmsg_put_extra_header(nlh, sizeof(struct xfrm_usersa_info) - 4);
    msg_end(&mb, nlh);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* Templates: a partial one, none, too many. */
    msgbuf_init(&mb);
    nlh = put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    mnl_attr_put(nlh, XFRMA_TMPL, sizeof tmpls[0] - 1, tmpls);
    mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    msgbuf_init(&mb);
    nlh = put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    mnl_attr_put(nlh, XFRMA_TMPL, 0, NULL);
    mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    msgbuf_init(&mb);
    put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, tmpls, ARRAY_SIZE(tmpls));
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    msgbuf_init(&mb);
    tmpls[0].family = 99;
    put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, tmpls, 1);
    tmpls[0].family = AF_INET;
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* A mark, a policy type, an interface id too short. */
    static const uint16_t short_types[] = {
        XFRMA_MARK, XFRMA_POLICY_TYPE, XFRMA_IF_ID,
    };
    for (size_t i = 0; i < ARRAY_SIZE(short_types); i++) {
        msgbuf_init(&mb);
        nlh = put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
        mnl_attr_put(nlh, short_types[i], 1, "x");
        mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
        assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    }

    /* Bad selectors. */
    msgbuf_init(&mb);
    sel.prefixlen_d = 33;
    put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    msgbuf_init(&mb);
    sel.prefixlen_d = 32;
    sel.family = 99;
    put_policy(&mb, 1, 0, &sel, 0, 0, 0, 0, NULL, NULL, 0);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    sel.family = AF_INET;

    /* States: a key longer than the attribute, an AEAD attribute shorter
     * than its struct, each state attribute too short. */
    memset(&aead, 0, sizeof aead);
    strcpy(aead.alg_name, "rfc4106(gcm(aes))");
    aead.alg_key_len = 256;
    msgbuf_init(&mb);
    nlh = put_state_v4(&mb, 1);
    put_alg(nlh, XFRMA_ALG_AEAD, &aead, sizeof aead, 31);
    mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    msgbuf_init(&mb);
    nlh = put_state_v4(&mb, 1);
    put_alg(nlh, XFRMA_ALG_AEAD, &aead, sizeof aead, 32);
    mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
    assert_int_equal(parse_one(&mb, 1), 0);

    static const uint16_t state_types[] = {
        XFRMA_ALG_AEAD, XFRMA_ALG_CRYPT, XFRMA_ALG_AUTH,
        XFRMA_ALG_AUTH_TRUNC, XFRMA_ALG_COMP, XFRMA_ENCAP, XFRMA_MARK,
        XFRMA_IF_ID, XFRMA_REPLAY_VAL, XFRMA_REPLAY_ESN_VAL,
    };
    for (size_t i = 0; i < ARRAY_SIZE(state_types); i++) {
        msgbuf_init(&mb);
        nlh = put_state_v4(&mb, 1);
        mnl_attr_put(nlh, state_types[i], 3, "abc");
        mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
        assert_int_equal(parse_one(&mb, 1), -EBADMSG);
    }

    /* An ESN bitmap longer than the attribute. */
    struct xfrm_replay_state_esn esn;
    memset(&esn, 0, sizeof esn);
    esn.bmp_len = 3;
    msgbuf_init(&mb);
    nlh = put_state_v6(&mb, 1);
    uint8_t esn_buf[sizeof esn + 8];
    memcpy(esn_buf, &esn, sizeof esn);
    mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof esn_buf, esn_buf);
    mb.len = NLMSG_ALIGN(nlh->nlmsg_len);
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);

    /* A state with no family. */
    msgbuf_init(&mb);
    nlh = put_state_v4(&mb, 1);
    ((struct xfrm_usersa_info *) mnl_nlmsg_get_payload(nlh))->family = 0;
    assert_int_equal(parse_one(&mb, 1), -EBADMSG);
}

/* Datagrams cut short, and messages claiming every length. */
static void
test_truncation(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list policies;
    struct xfrm_state_list states;
    struct xfrm_dump_parser p;
    struct msgbuf mb, orig;
    size_t msg_len;

    msgbuf_init(&orig);
    put_state_v4(&orig, 1);
    msg_len = orig.len;

    xfrm_policy_list_init(&policies);
    xfrm_state_list_init(&states);

    /* The datagram ends early: the message does not fit, the rest of the
     * datagram is garbage, and the dump fails at once. */
    for (size_t len = 1; len < msg_len; len++) {
        xfrm_dump_parser_init(&p, 1, 0, &policies, &states);
        assert_int_equal(feed_copy(&p, orig.b, len), -EBADMSG);
        assert_int_equal(states.n, 0);
        msgbuf_init(&mb);
        put_done(&mb, 1, 0, 0);
        assert_int_equal(feed_copy(&p, mb.b, mb.len), -EBADMSG);
    }

    /* The message claims to be shorter than it is: it either parses
     * (the attributes cut off were optional) or is rejected. */
    for (uint32_t len = 0; len <= msg_len; len++) {
        int error;

        mb = orig;
        ((struct nlmsghdr *) mb.b)->nlmsg_len = len;
        if (len >= sizeof(struct nlmsghdr)) {
            mb.len = NLMSG_ALIGN(len);
        }
        xfrm_dump_parser_init(&p, 1, 0, &policies, &states);
        error = feed_copy(&p, mb.b, mb.len);
        if (len < sizeof(struct nlmsghdr)) {
            /* Not even a message header. */
            assert_int_equal(error, -EBADMSG);
        } else {
            assert_int_equal(error, -EINPROGRESS);
            if (len < NLMSG_LENGTH(sizeof(struct xfrm_usersa_info))) {
                assert_int_equal(p.error, -EBADMSG);
            }
        }
        assert_false(contains_key_bytes(states.states,
                                        states.n * sizeof *states.states));
        states.n = 0;
    }

    /* A length with the top bit set (libmnl's int comparison would take it
     * as negative). */
    mb = orig;
    ((struct nlmsghdr *) mb.b)->nlmsg_len = 0x80000010;
    xfrm_dump_parser_init(&p, 1, 0, &policies, &states);
    assert_int_equal(feed_copy(&p, mb.b, mb.len), -EBADMSG);
    assert_int_equal(states.n, 0);

    xfrm_policy_list_done(&policies);
    xfrm_state_list_done(&states);
}

/* Finding drop policies among others. */
static void
test_drop_find(void **state OVS_UNUSED__)
{
    struct xfrm_policy drops[XFRM_DROP_N];
    struct xfrm_policy_list list;
    uint32_t mark, mask;

    xfrm_policy_list_init(&list);
    assert_int_equal(xfrm_drop_policies_find(&list, &mark, &mask), 0);
    assert_int_equal(mark, 0);
    assert_int_equal(mask, 0);

    assert_int_equal(xfrm_drop_policies_build(0x4, 0xc, drops), 0);
    list.policies = xcalloc(2 * XFRM_DROP_N + 1, sizeof *list.policies);
    list.allocated = 2 * XFRM_DROP_N + 1;

    /* Look-alikes that are not ours. */
    for (size_t i = 0; i < XFRM_DROP_N; i++) {
        struct xfrm_policy *p = &list.policies[list.n++];
        *p = drops[i];
        switch (i) {
        case 0: p->priority--; break;
        case 1: p->action = XFRM_POLICY_ALLOW; break;
        case 2: p->dir = XFRM_POLICY_IN; break;
        case 3: p->sel.dport = 4790; break;
        case 4: p->sel.dst_plen = 1; break;
        case 5: p->sel.sport_mask = 0xffff; break;
        }
        assert_false(xfrm_policy_is_drop(p));
    }
    struct xfrm_policy *gre = &list.policies[list.n++];
    *gre = drops[2];
    gre->sel.dport_mask = 0xffff;
    assert_false(xfrm_policy_is_drop(gre));
    assert_int_equal(xfrm_drop_policies_find(&list, &mark, &mask), 0);

    for (size_t i = 0; i < XFRM_DROP_N; i++) {
        list.policies[list.n++] = drops[i];
    }
    assert_int_equal(xfrm_drop_policies_find(&list, &mark, &mask),
                     XFRM_DROP_N);
    assert_int_equal(mark, 0x4);
    assert_int_equal(mask, 0xc);
    assert_int_equal(xfrm_drop_policies_find(&list, NULL, NULL),
                     XFRM_DROP_N);

    xfrm_policy_list_done(&list);
}

/* The real kernel, in a private network namespace. */

static int
setup_netns(void **state OVS_UNUSED__)
{
    return 0;
}

/* Returns the drop policies in 'list' as a bit per (family, kind), and
 * checks that they all carry 'mark'/'mask'. */
static unsigned int
drop_set_bits(const struct xfrm_policy_list *list, uint32_t mark,
              uint32_t mask)
{
    unsigned int bits = 0;

    for (size_t i = 0; i < list->n; i++) {
        const struct xfrm_policy *p = &list->policies[i];
        unsigned int bit;

        if (!xfrm_policy_is_drop(p)) {
            continue;
        }
        assert_int_equal(p->mark, mark);
        assert_int_equal(p->mark_mask, mask);
        bit = p->sel.proto == IPPROTO_GRE ? 2 : p->sel.dport == 4789;
        bit += p->sel.family == AF_INET6 ? 3 : 0;
        assert_false(bits & (1u << bit));
        bits |= 1u << bit;
    }
    return bits;
}

/* Asks the kernel for an SPI from 10.0.0.1 to 10.0.0.2, which creates a
 * larval ESP state: the one kind of state this test can make without ESP
 * support in the kernel.  Returns the SPI. */
static uint32_t
alloc_spi(void)
{
    union {
        struct nlmsghdr align;
        uint8_t b[MNL_SOCKET_BUFFER_SIZE];
    } buf;
    struct mnl_socket *nl;
    struct nlmsghdr *nlh;
    struct xfrm_userspi_info spi;
    struct xfrm_usersa_info sa;
    ssize_t n;

    nl = mnl_socket_open(NETLINK_XFRM);
    assert_non_null(nl);
    assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);

    memset(&spi, 0, sizeof spi);
    spi.info.family = AF_INET;
    spi.info.sel = make_sel(AF_INET, "10.0.0.1", 32, "10.0.0.2", 32, 0,
                            -1, -1);
    set_addr(AF_INET, "10.0.0.1", &spi.info.saddr);
    set_addr(AF_INET, "10.0.0.2", &spi.info.id.daddr);
    spi.info.id.proto = IPPROTO_ESP;
    spi.info.mode = XFRM_MODE_TRANSPORT;
    spi.info.reqid = 5;
    spi.min = 0x100;
    spi.max = 0x200;

    nlh = mnl_nlmsg_put_header(buf.b);
    nlh->nlmsg_type = XFRM_MSG_ALLOCSPI;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = 1;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof spi), &spi, sizeof spi);
    assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
    n = mnl_socket_recvfrom(nl, buf.b, sizeof buf.b);
    assert_true(n >= (ssize_t) NLMSG_LENGTH(sizeof sa));
    assert_int_equal(buf.align.nlmsg_type, XFRM_MSG_NEWSA);
    memcpy(&sa, mnl_nlmsg_get_payload(&buf.align), sizeof sa);
    mnl_socket_close(nl);
    return ntohl(sa.id.spi);
}

/* Brings up the loopback interface and lets IPv4 packets on it go
 * through XFRM (IPv4 exempts loopback by default), so that sending to
 * 127.0.0.1 and ::1 shows what the policies do.  Returns false if that is
 * not possible here. */
static bool
loopback_setup(void)
{
    struct ifreq ifr;
    bool ok = false;
    FILE *file;
    int fd;

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
        ifr.ifr_flags |= IFF_UP;
        ok = !ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);

    file = fopen("/proc/sys/net/ipv4/conf/lo/disable_xfrm", "we");
    if (!file) {
        return false;
    }
    ok = fputs("0\n", file) >= 0 && ok;
    ok = !fclose(file) && ok;
    return ok;
}

/* Sends a packet with skb mark 'mark' to loopback in family 'af': UDP to
 * 'port', or GRE if 'port' is 0.  Returns 0 or -errno (-EPERM when an
 * XFRM policy blocks it). */
static int
send_marked(int af, int port, uint32_t mark)
{
    static const uint8_t payload[8];
    struct sockaddr_in6 sin6;
    struct sockaddr_in sin;
    const struct sockaddr *sa;
    socklen_t sa_len;
    int error = 0;
    int fd;

    if (af == AF_INET) {
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = htons(port);
        sa = (const struct sockaddr *) &sin;
        sa_len = sizeof sin;
    } else {
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_addr = in6addr_loopback;
        sin6.sin6_port = port ? htons(port) : 0;
        sa = (const struct sockaddr *) &sin6;
        sa_len = sizeof sin6;
    }
    fd = socket(af, (port ? SOCK_DGRAM : SOCK_RAW) | SOCK_CLOEXEC,
                port ? 0 : IPPROTO_GRE);
    assert_true(fd >= 0);
    if ((mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark))
        || sendto(fd, payload, sizeof payload, 0, sa, sa_len) < 0) {
        error = -errno;
    }
    close(fd);
    return error;
}

/* What ovsec's drop policies for mark 1/1 do to packets, with and without
 * a policy of the kind an IKE daemon installs for one tunnel. */
static void
check_drops(struct xfrm_socket *sock)
{
    static const int families[] = { AF_INET, AF_INET6 };
    struct xfrm_policy ike;

    for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
        int af = families[i];

        /* Marked Geneve, VXLAN and GRE packets are dropped... */
        assert_int_equal(send_marked(af, 6081, 1), -EPERM);
        assert_int_equal(send_marked(af, 4789, 3), -EPERM);
        assert_int_equal(send_marked(af, 0, 1), -EPERM);
        /* ...not unmarked ones, nor other marks, nor other ports. */
        assert_int_equal(send_marked(af, 6081, 0), 0);
        assert_int_equal(send_marked(af, 4789, 2), 0);
        assert_int_equal(send_marked(af, 0, 0), 0);
        assert_int_equal(send_marked(af, 6082, 1), 0);
    }

    /* A tunnel's own policy, at charon's priorities, wins. */
    memset(&ike, 0, sizeof ike);
    ike.sel.family = AF_INET;
    ike.sel.src.in4.s_addr = ike.sel.dst.in4.s_addr = htonl(INADDR_LOOPBACK);
    ike.sel.src_plen = ike.sel.dst_plen = 32;
    ike.sel.proto = IPPROTO_UDP;
    ike.sel.dport = 6081;
    ike.sel.dport_mask = 0xffff;
    ike.dir = XFRM_POLICY_OUT;
    ike.priority = 366847;
    assert_int_equal(xfrm_policy_update(sock, &ike), 0);
    assert_int_equal(send_marked(AF_INET, 6081, 1), 0);
    assert_int_equal(send_marked(AF_INET6, 6081, 1), -EPERM);
    assert_int_equal(xfrm_policy_delete(sock, &ike), 0);
    assert_int_equal(send_marked(AF_INET, 6081, 1), -EPERM);
}

static void
test_real_kernel(void **state OVS_UNUSED__)
{
    struct xfrm_policy_list list;
    struct xfrm_state_list states;
    struct xfrm_socket *sock;
    struct xfrm_policy drops[XFRM_DROP_N];
    uint32_t indexes[XFRM_DROP_N];
    uint32_t mark, mask;
    bool present;
    int error;

    /* As root, a new network namespace; otherwise a new user namespace
     * too, which gives us CAP_NET_ADMIN over the new network namespace
     * where unprivileged user namespaces are allowed. */
    if (unshare(geteuid() ? CLONE_NEWUSER | CLONE_NEWNET : CLONE_NEWNET)) {
        print_message("unshare: %s\n", strerror(errno));
        skip();
    }
    error = xfrm_socket_open(&sock);
    if (error) {
        print_message("xfrm_socket_open: %s\n", strerror(-error));
        skip();
    }
    xfrm_policy_list_init(&list);
    xfrm_state_list_init(&states);

    /* A fresh namespace has nothing. */
    assert_int_equal(xfrm_drop_policies_get(sock, &present, &mark, &mask),
                     0);
    assert_false(present);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, 0);
    assert_int_equal(xfrm_dump_states(sock, &states), 0);
    assert_int_equal(states.n, 0);

    /* Set, dump, find. */
    assert_int_equal(xfrm_drop_policies_set(sock, 0x1, 0x1), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, XFRM_DROP_N);
    assert_int_equal(drop_set_bits(&list, 0x1, 0x1), 0x3f);
    for (size_t i = 0; i < list.n; i++) {
        const struct xfrm_policy *p = &list.policies[i];
        assert_int_equal(p->dir, XFRM_POLICY_OUT);
        assert_int_equal(p->action, XFRM_POLICY_BLOCK);
        assert_int_equal(p->priority, XFRM_DROP_PRIORITY);
        assert_int_equal(p->sel.sport_mask, 0);
        assert_int_equal(p->sel.dport_mask,
                         p->sel.proto == IPPROTO_UDP ? 0xffff : 0);
        indexes[i] = p->index;
    }
    assert_int_equal(xfrm_drop_policies_get(sock, &present, &mark, &mask),
                     XFRM_DROP_N);
    assert_true(present);
    assert_int_equal(mark, 0x1);
    assert_int_equal(mask, 0x1);

    /* Setting the same again changes nothing, not even the indexes. */
    assert_int_equal(xfrm_drop_policies_set(sock, 0x1, 0x1), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, XFRM_DROP_N);
    for (size_t i = 0; i < list.n; i++) {
        assert_int_equal(list.policies[i].index, indexes[i]);
    }

    /* The policies do their job. */
    if (loopback_setup()) {
        check_drops(sock);
    } else {
        print_message("cannot set up loopback; not sending packets\n");
    }

    /* A new mark replaces the old one. */
    assert_int_equal(xfrm_drop_policies_set(sock, 0x20, 0xf0), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, XFRM_DROP_N);
    assert_int_equal(drop_set_bits(&list, 0x20, 0xf0), 0x3f);

    /* Someone else's policy, with templates, like charon's. */
    struct xfrm_policy ike;
    memset(&ike, 0, sizeof ike);
    ike.sel.family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &ike.sel.src);
    inet_pton(AF_INET, "192.0.2.2", &ike.sel.dst);
    ike.sel.src_plen = ike.sel.dst_plen = 32;
    ike.sel.proto = IPPROTO_UDP;
    ike.sel.dport = 6081;
    ike.sel.dport_mask = 0xffff;
    ike.dir = XFRM_POLICY_OUT;
    ike.priority = 366847;
    ike.n_tmpls = 1;
    ike.tmpls[0].family = AF_INET;
    ike.tmpls[0].src = ike.sel.src;
    ike.tmpls[0].dst = ike.sel.dst;
    ike.tmpls[0].proto = IPPROTO_ESP;
    ike.tmpls[0].reqid = 1;
    ike.tmpls[0].mode = XFRM_MODE_TRANSPORT;
    assert_int_equal(xfrm_policy_update(sock, &ike), 0);

    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, XFRM_DROP_N + 1);
    struct ds out = DS_EMPTY_INITIALIZER;
    assert_int_equal(xfrm_format_policies_for(&list, AF_INET, "192.0.2.1",
                                              "192.0.2.2", &out), 1);
    assert_string_equal(ds_cstr(&out),
                        "  src 192.0.2.1/32 dst 192.0.2.2/32 proto udp "
                        "dport 6081 dir out priority 366847\n");
    ds_clear(&out);
    xfrm_format_policies(&list, &out);
    assert_non_null(strstr(ds_cstr(&out),
                           "src 192.0.2.1/32 dst 192.0.2.2/32 proto udp "
                           "dport 6081 \n"
                           "\tdir out priority 366847 ptype main \n"
                           "\ttmpl src 192.0.2.1 dst 192.0.2.2\n"
                           "\t\tproto esp reqid 1 mode transport\n"));
    assert_non_null(strstr(ds_cstr(&out),
                           "src ::/0 dst ::/0 proto gre \n"
                           "\tdir out action block priority 16000000 "
                           "ptype main \n"
                           "\tmark 0x20/0xf0 \n"));
    ds_destroy(&out);

    /* Clearing takes ours only. */
    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.policies[0].n_tmpls, 1);
    assert_int_equal(list.policies[0].tmpls[0].reqid, 1);
    assert_int_equal(xfrm_drop_policies_get(sock, &present, &mark, &mask),
                     0);
    assert_false(present);
    assert_int_equal(mark, 0);
    assert_int_equal(mask, 0);

    /* Deleting by index, then again: gone. */
    struct xfrm_policy found = list.policies[0];
    assert_int_equal(xfrm_policy_delete(sock, &found), 0);
    assert_int_equal(xfrm_policy_delete(sock, &found), -ENOENT);
    /* Bad requests come back as the kernel's errors. */
    ike.dir = 7;
    assert_int_equal(xfrm_policy_update(sock, &ike), -EINVAL);

    /* A dump that takes many datagrams. */
    enum { N_MANY = 2000 };
    ike.dir = XFRM_POLICY_OUT;
    for (int i = 0; i < N_MANY; i++) {
        ike.sel.dport = 10000 + i;
        assert_int_equal(xfrm_policy_update(sock, &ike), 0);
    }
    assert_int_equal(xfrm_drop_policies_set(sock, 0x1, 0x1), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, N_MANY + XFRM_DROP_N);
    assert_int_equal(drop_set_bits(&list, 0x1, 0x1), 0x3f);
    for (size_t i = 0; i < list.n; i++) {
        if (!xfrm_policy_is_drop(&list.policies[i])) {
            assert_int_equal(xfrm_policy_delete(sock, &list.policies[i]),
                             0);
        }
    }
    assert_int_equal(xfrm_drop_policies_clear(sock), 0);
    assert_int_equal(xfrm_dump_policies(sock, &list), 0);
    assert_int_equal(list.n, 0);

    /* A state. */
    uint32_t spi = alloc_spi();
    assert_true(spi >= 0x100 && spi <= 0x200);
    assert_int_equal(xfrm_dump_states(sock, &states), 0);
    assert_int_equal(states.n, 1);
    assert_int_equal(states.states[0].family, AF_INET);
    assert_int_equal(states.states[0].proto, IPPROTO_ESP);
    assert_int_equal(states.states[0].spi, spi);
    assert_int_equal(states.states[0].reqid, 5);
    assert_int_equal(states.states[0].sel.src_plen, 32);
    out = (struct ds) DS_EMPTY_INITIALIZER;
    xfrm_format_states(&states, &out);
    char *expect = xasprintf("src 10.0.0.1 dst 10.0.0.2\n"
                             "\tproto esp spi 0x%08"PRIx32" reqid 5 "
                             "mode transport\n"
                             "\treplay-window 0 \n"
                             "\tanti-replay context: seq 0x0, oseq 0x0, "
                             "bitmap 0x00000000\n"
                             "\tsel src 10.0.0.1/32 dst 10.0.0.2/32 \n"
                             "\tlifetime current:\n"
                             "\t  0(bytes), 0(packets)\n", spi);
    assert_string_equal(ds_cstr(&out), expect);
    free(expect);
    ds_destroy(&out);
    assert_int_equal(xfrm_format_states_for(&states, AF_INET, NULL,
                                            "10.0.0.2", NULL), 1);

    /* Invalid marks never reach the kernel. */
    assert_int_equal(xfrm_drop_policies_build(0, 0, drops), -EINVAL);
    assert_int_equal(xfrm_drop_policies_set(sock, 0, 0), -EINVAL);
    assert_int_equal(xfrm_drop_policies_set(sock, 2, 1), -EINVAL);

    xfrm_policy_list_done(&list);
    xfrm_state_list_done(&states);
    xfrm_socket_close(sock);
    xfrm_socket_close(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_policies_build),
        cmocka_unit_test(test_drop_policy_encode),
        cmocka_unit_test(test_delete_encode),
        cmocka_unit_test(test_policy_dump_parse),
        cmocka_unit_test(test_policy_dump_filtered),
        cmocka_unit_test(test_tunnel_drop_from_sel),
        cmocka_unit_test(test_policy_format_details),
        cmocka_unit_test(test_state_dump_parse),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_dump_intr),
        cmocka_unit_test(test_errors_and_acks),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_drop_find),
        /* Last: it moves the whole process into a new namespace. */
        cmocka_unit_test_setup(test_real_kernel, setup_netns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
