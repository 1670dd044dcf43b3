/* SPDX-License-Identifier: Apache-2.0
 *
 * stroke-map: ipsec.conf (stroke) connection options to swanctl (VICI)
 * settings.  See stroke-map.h and doc/ipsec-options.md.
 *
 * Translation runs in two passes.  The first parses each option, in key
 * order, into a typed slot; synonyms (lifetime and keylife, margintime and
 * rekeymargin, forceencaps and Libreswan's encapsulation) share a slot.
 * The second checks the combinations and emits the settings in a fixed
 * order.  The two passes are needed because several ipsec.conf keys
 * together define one swanctl setting: charon's stroke plugin computed
 *     rekey = lifetime - margintime,  jitter = margintime * rekeyfuzz
 * and so does this module.
 */
#include "config.h"
#include "stroke-map.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "smap.h"
#include "util.h"

/* Values and names longer than this are cut short in error messages. */
#define SHOWN_MAX 64

/* ipsec.conf(5) defaults, used to complete a timing group of which only
 * some keys are given, as ipsec starter did. */
#define DEFAULT_IKELIFETIME 10800       /* 3h */
#define DEFAULT_LIFETIME 3600           /* 1h */
#define DEFAULT_MARGINTIME 540          /* 9m */
#define DEFAULT_REKEYFUZZ 100           /* percent */
#define DEFAULT_DPDDELAY 30             /* seconds */

#define MAX_TIME UINT32_MAX             /* charon keeps IKE times in 32 bits */
#define MAX_VOLUME 1000000000000000000ull   /* bytes or packets: 10^18 */
#define MAX_FUZZ 1000                   /* percent */

/* What an ipsec.conf option can set.  Synonyms share a parameter. */
enum param {
    P_IKE, P_ESP, P_AH,
    P_ENCAP, P_MOBIKE, P_FRAGMENTATION, P_IKEDSCP, P_KEYINGTRIES,
    P_DPDDELAY, P_DPDTIMEOUT, P_DPDACTION, P_CLOSEACTION,
    P_IKELIFETIME, P_LIFETIME, P_MARGINTIME, P_REKEYFUZZ,
    P_LIFEBYTES, P_MARGINBYTES, P_LIFEPACKETS, P_MARGINPACKETS,
    P_REKEY, P_REAUTH,
    P_COMPRESS, P_SHA256_96, P_REPLAY_WINDOW, P_INACTIVITY, P_TFC,
    P_KEYEXCHANGE, P_AGGRESSIVE, P_INSTALLPOLICY,
    P_N                         /* Also: "the option is rejected". */
};

/* How an option's value is parsed. */
enum vtype {
    V_NONE,             /* Rejected option: value not parsed. */
    V_PROPOSALS,        /* Cipher suites, optional trailing '!'. */
    V_WORD,             /* One word of the keyword's 'words'. */
    V_TIME,             /* <number>[s|m|h|d], at most MAX_TIME seconds. */
    V_COUNT,            /* Decimal number from 0 to the keyword's 'max'. */
    V_PERCENT,          /* <number>%, at most MAX_FUZZ. */
    V_KEYINGTRIES,      /* V_COUNT (32 bits) or "%forever". */
    V_REPLAY_WINDOW,    /* V_COUNT (32 bits) or -1. */
    V_TFC,              /* V_COUNT (65535) or "%mtu". */
    V_DSCP,             /* One to six binary digits. */
};

/* One accepted or refused word of a V_WORD option. */
struct word {
    const char *in;             /* ipsec.conf value. */
    const char *out;            /* swanctl value, or NULL: no setting. */
    const char *reject;         /* Why 'in' is refused, or NULL. */
};

/* One ipsec.conf connection key. */
struct keyword {
    const char *name;           /* Key, e.g. "ikelifetime". */
    enum param param;           /* What it sets; P_N if refused. */
    enum vtype type;            /* How its value is parsed. */
    const struct word *words;   /* V_WORD: the words, NULL-terminated. */
    uint64_t max;               /* V_COUNT: largest value. */
    const char *reason;         /* P_N: why it is refused. */
};

/* An option, parsed. */
struct slot {
    const struct keyword *kw;   /* Spelling that set it, NULL if unset. */
    const char *value;          /* Its value; owned by the options. */
    uint64_t n;                 /* Numeric value (seconds for times). */
    const char *word;           /* V_WORD, V_TFC: swanctl word or NULL. */
    char *text;                 /* V_PROPOSALS: swanctl list; owned. */
    bool unset;                 /* V_REPLAY_WINDOW: -1, leave default. */
};

static const struct word yes_no[] = {
    { "yes", "yes", NULL },
    { "no", "no", NULL },
    { NULL, NULL, NULL },
};

#define R_IKEV2 "ovsec always uses IKEv2"

static const struct word keyexchange_words[] = {
    { "ikev2", NULL, NULL },
    { "ike", NULL, R_IKEV2 " (keyexchange=ikev2)" },
    { "ikev1", NULL, R_IKEV2 " (keyexchange=ikev2)" },
    { NULL, NULL, NULL },
};

static const struct word aggressive_words[] = {
    { "no", NULL, NULL },
    { "yes", NULL, "Aggressive Mode is IKEv1 only; " R_IKEV2 },
    { NULL, NULL, NULL },
};

static const struct word installpolicy_words[] = {
    { "yes", NULL, NULL },
    { "no", NULL, "without the IKE daemon's IPsec policies the tunnel's "
      "traffic would leave unencrypted" },
    { NULL, NULL, NULL },
};

/* Libreswan's key, which OVN writes next to forceencaps. */
static const struct word encapsulation_words[] = {
    { "yes", "yes", NULL },
    { "auto", "no", NULL },
    { "no", NULL, "strongSwan cannot turn off NAT traversal for one "
      "connection" },
    { NULL, NULL, NULL },
};

static const struct word fragmentation_words[] = {
    { "yes", "yes", NULL },
    { "accept", "accept", NULL },
    { "force", "force", NULL },
    { "no", "no", NULL },
    { NULL, NULL, NULL },
};

/* ipsec.conf: "hold" installs a trap, "restart" re-initiates. */
static const struct word dpdaction_words[] = {
    { "none", "none", NULL },   /* Turns DPD off: see build_dpd(). */
    { "clear", "clear", NULL },
    { "hold", "trap", NULL },
    { "restart", "restart", NULL },
    { NULL, NULL, NULL },
};

static const struct word closeaction_words[] = {
    { "none", "none", NULL },
    { "clear", "none", NULL },
    { "hold", "trap", NULL },
    { "restart", "start", NULL },
    { NULL, NULL, NULL },
};

#define R_ADDR "ovsec sets the connection's addresses from options:local_ip " \
    "and options:remote_ip"
#define R_PORT "ovsec uses the IKE daemon's ports"
#define R_TS "ovsec sets the traffic selectors for the tunnel protocol"
#define R_AUTH "ovsec sets identities and credentials from options:psk, " \
    "options:remote_cert, options:remote_name and the certificates in " \
    "Open_vSwitch other_config"
#define R_VIP "virtual IPs and Mode Config serve remote access, which ovsec " \
    "does not configure"
#define R_SCRIPT "ovsec runs no updown script from OVSDB options"
#define R_EAP "EAP and XAuth are not used: ovsec authenticates with a PSK " \
    "or certificates"
#define R_MEDIATION "ovsec does not support the IKEv2 mediation extension"
#define R_SETUP "it is a 'config setup' parameter of ipsec.conf, not a " \
    "connection parameter"
#define R_CA "it is a 'ca' section parameter of ipsec.conf; ovsec loads the " \
    "CA from Open_vSwitch other_config:ca_cert"
#define R_REMOVED "it was removed from strongSwan and has no swanctl " \
    "equivalent"

#define REJECT(NAME, REASON) { NAME, P_N, V_NONE, NULL, 0, REASON }
#define WORDS(NAME, PARAM, WORDS) { NAME, PARAM, V_WORD, WORDS, 0, NULL }
#define TYPED(NAME, PARAM, TYPE) { NAME, PARAM, TYPE, NULL, 0, NULL }
#define COUNT(NAME, PARAM, MAX) { NAME, PARAM, V_COUNT, NULL, MAX, NULL }

/* The per-end keys of ipsec.conf, for SIDE "left" or "right". */
#define END_KEYWORDS(SIDE)                              \
    REJECT(SIDE, R_ADDR),                               \
    REJECT(SIDE "allowany", R_ADDR),                    \
    REJECT(SIDE "ikeport", R_PORT),                     \
    REJECT(SIDE "subnet", R_TS),                        \
    REJECT(SIDE "subnetwithin", R_TS),                  \
    REJECT(SIDE "protoport", R_TS),                     \
    REJECT(SIDE "sourceip", R_VIP),                     \
    REJECT(SIDE "dns", R_VIP),                          \
    REJECT(SIDE "firewall", R_SCRIPT),                  \
    REJECT(SIDE "hostaccess", R_SCRIPT),                \
    REJECT(SIDE "updown", R_SCRIPT),                    \
    REJECT(SIDE "auth", R_AUTH),                        \
    REJECT(SIDE "auth2", R_AUTH),                       \
    REJECT(SIDE "id", R_AUTH),                          \
    REJECT(SIDE "id2", R_AUTH),                         \
    REJECT(SIDE "sigkey", R_AUTH),                      \
    REJECT(SIDE "rsasigkey", R_AUTH),                   \
    REJECT(SIDE "cert", R_AUTH),                        \
    REJECT(SIDE "cert2", R_AUTH),                       \
    REJECT(SIDE "certpolicy", R_AUTH),                  \
    REJECT(SIDE "sendcert", R_AUTH),                    \
    REJECT(SIDE "ca", R_AUTH),                          \
    REJECT(SIDE "ca2", R_AUTH),                         \
    REJECT(SIDE "groups", R_AUTH),                      \
    REJECT(SIDE "groups2", R_AUTH),                     \
    REJECT(SIDE "nexthop", R_REMOVED)

/* Every key of strongSwan's ipsec.conf conn, config setup and ca sections
 * (src/starter/keywords.txt), plus "auth" (pluto's, documented in
 * ipsec.conf(5)) and Libreswan's "encapsulation". */
static const struct keyword keywords[] = {
    /* Mapped. */
    TYPED("ike", P_IKE, V_PROPOSALS),
    TYPED("esp", P_ESP, V_PROPOSALS),
    TYPED("ah", P_AH, V_PROPOSALS),
    WORDS("forceencaps", P_ENCAP, yes_no),
    WORDS("encapsulation", P_ENCAP, encapsulation_words),
    WORDS("mobike", P_MOBIKE, yes_no),
    WORDS("fragmentation", P_FRAGMENTATION, fragmentation_words),
    TYPED("ikedscp", P_IKEDSCP, V_DSCP),
    TYPED("keyingtries", P_KEYINGTRIES, V_KEYINGTRIES),
    TYPED("dpddelay", P_DPDDELAY, V_TIME),
    TYPED("dpdtimeout", P_DPDTIMEOUT, V_TIME),
    WORDS("dpdaction", P_DPDACTION, dpdaction_words),
    WORDS("closeaction", P_CLOSEACTION, closeaction_words),
    TYPED("ikelifetime", P_IKELIFETIME, V_TIME),
    TYPED("lifetime", P_LIFETIME, V_TIME),
    TYPED("keylife", P_LIFETIME, V_TIME),
    TYPED("margintime", P_MARGINTIME, V_TIME),
    TYPED("rekeymargin", P_MARGINTIME, V_TIME),
    TYPED("rekeyfuzz", P_REKEYFUZZ, V_PERCENT),
    COUNT("lifebytes", P_LIFEBYTES, MAX_VOLUME),
    COUNT("marginbytes", P_MARGINBYTES, MAX_VOLUME),
    COUNT("lifepackets", P_LIFEPACKETS, MAX_VOLUME),
    COUNT("marginpackets", P_MARGINPACKETS, MAX_VOLUME),
    WORDS("rekey", P_REKEY, yes_no),
    WORDS("reauth", P_REAUTH, yes_no),
    WORDS("compress", P_COMPRESS, yes_no),
    WORDS("sha256_96", P_SHA256_96, yes_no),
    TYPED("replay_window", P_REPLAY_WINDOW, V_REPLAY_WINDOW),
    TYPED("inactivity", P_INACTIVITY, V_TIME),
    TYPED("tfc", P_TFC, V_TFC),
    WORDS("keyexchange", P_KEYEXCHANGE, keyexchange_words),
    WORDS("aggressive", P_AGGRESSIVE, aggressive_words),
    WORDS("installpolicy", P_INSTALLPOLICY, installpolicy_words),

    /* Set by ovsec. */
    REJECT("auto", "ovsec installs trap policies and starts the connection "
           "itself"),
    REJECT("type", "ovsec always uses transport mode"),
    REJECT("authby", R_AUTH),
    REJECT("also", "ovsec generates each connection; there is no conn "
           "section to include"),
    REJECT("mark", "ovsec manages XFRM marks (Open_vSwitch "
           "other_config:ipsec_skb_mark)"),
    REJECT("mark_in", "ovsec manages XFRM marks (Open_vSwitch "
           "other_config:ipsec_skb_mark)"),
    REJECT("mark_out", "ovsec manages XFRM marks (Open_vSwitch "
           "other_config:ipsec_skb_mark)"),
    REJECT("reqid", "the IKE daemon allocates reqids; a fixed one cannot be "
           "shared by the tunnel's CHILD_SAs"),
    END_KEYWORDS("left"),
    END_KEYWORDS("right"),

    /* Not supported by ovsec. */
    REJECT("modeconfig", R_VIP),
    REJECT("eap_identity", R_EAP),
    REJECT("aaa_identity", R_EAP),
    REJECT("xauth", R_EAP),
    REJECT("xauth_identity", R_EAP),
    REJECT("mediation", R_MEDIATION),
    REJECT("mediated_by", R_MEDIATION),
    REJECT("me_peerid", R_MEDIATION),

    /* No swanctl equivalent. */
    REJECT("pfs", "it was removed from strongSwan; PFS is enabled by a key "
           "exchange method in options:ipsec_esp, e.g. aes256gcm16-modp2048"),
    REJECT("pfsgroup", "it was removed from strongSwan; PFS is enabled by a "
           "key exchange method in options:ipsec_esp, e.g. "
           "aes256gcm16-modp2048"),
    REJECT("auth", "charon never supported it; options:ipsec_ah selects AH"),
    REJECT("eap", R_REMOVED),

    /* Not connection parameters. */
    REJECT("charondebug", R_SETUP),
    REJECT("uniqueids", R_SETUP),
    REJECT("cachecrls", R_SETUP),
    REJECT("strictcrlpolicy", R_SETUP),
    REJECT("cacert", R_CA),
    REJECT("crluri", R_CA),
    REJECT("crluri1", R_CA),
    REJECT("crluri2", R_CA),
    REJECT("ocspuri", R_CA),
    REJECT("ocspuri1", R_CA),
    REJECT("ocspuri2", R_CA),
    REJECT("certuribase", R_CA),
};

static const struct keyword *
keyword_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
        if (!strcmp(keywords[i].name, name)) {
            return &keywords[i];
        }
    }
    return NULL;
}

/* Error messages. */

static bool
is_token_char(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_');
}

/* Appends 'value' quoted, with escapes, cut short after SHOWN_MAX bytes. */
static void
put_value(struct ds *out, const char *value)
{
    size_t len = strlen(value);

    if (len <= SHOWN_MAX) {
        ds_put_quoted(out, value);
    } else {
        char *cut = xasprintf("%.*s...", SHOWN_MAX, value);

        ds_put_quoted(out, cut);
        ds_put_format(out, " (%zu bytes)", len);
        free(cut);
    }
}

/* Appends 's' as is when it is a plain name, otherwise like put_value():
 * OVSDB keys and interface names may hold any byte. */
static void
put_name(struct ds *out, const char *s)
{
    size_t len = strlen(s);
    bool plain = len > 0 && len <= SHOWN_MAX;

    for (size_t i = 0; plain && i < len; i++) {
        plain = is_token_char(s[i]) || s[i] == '-' || s[i] == '.';
    }
    if (plain) {
        ds_put_cstr(out, s);
    } else {
        put_value(out, s);
    }
}

/* Appends "options:ipsec_KEY: \"VALUE\"". */
static void
put_option(struct ds *out, const char *key, const char *value)
{
    ds_put_cstr(out, "options:ipsec_");
    put_name(out, key);
    ds_put_cstr(out, ": ");
    put_value(out, value);
}

/* Returns a new message "IFACE: options:ipsec_KEY: \"VALUE\" REASON". */
static char * PRINTF_FORMAT(4, 5)
option_error(const char *iface, const char *key, const char *value,
             const char *format, ...)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    va_list args;

    put_name(&out, iface);
    ds_put_cstr(&out, ": ");
    put_option(&out, key, value);
    ds_put_char(&out, ' ');
    va_start(args, format);
    ds_put_format_valist(&out, format, args);
    va_end(args);
    return ds_steal_cstr(&out);
}

/* Returns a new message "IFACE: options:ipsec_A: \"X\" WHAT
 * options:ipsec_B: \"Y\"REST". */
static char *
pair_error(const char *iface, const struct slot *a, const char *what,
           const struct slot *b, const char *rest)
{
    struct ds out = DS_EMPTY_INITIALIZER;

    put_name(&out, iface);
    ds_put_cstr(&out, ": ");
    put_option(&out, a->kw->name, a->value);
    ds_put_format(&out, " %s ", what);
    put_option(&out, b->kw->name, b->value);
    ds_put_cstr(&out, rest);
    return ds_steal_cstr(&out);
}

/* Value parsers.  Each returns NULL and fills 'slot', or returns a new
 * reason that follows the quoted value in a message ("is not a time"). */

/* Parses the 'len' bytes at 's' as a decimal number of at most 'max'. */
static bool
parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;

    if (!len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned int d = (unsigned char) s[i] - '0';

        if (d > 9 || d > max || v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

/* Describes byte 'c' for a message: 'x' when printable, else hex. */
static char *
describe_char(unsigned char c)
{
    return (c > 0x20 && c < 0x7f && c != '\''
            ? xasprintf("'%c'", c)
            : xasprintf("byte 0x%02x", c));
}

/* ipsec.conf cipher suites: proposals separated by ',', each of algorithm
 * names ([A-Za-z0-9_]+) joined by '-', with an optional final '!'.
 * Without the '!', charon added its default proposals after the
 * configured ones; swanctl spells that "default". */
static char *
parse_proposals(const char *value, struct slot *slot)
{
    size_t len = strlen(value);
    bool strict = value[len - 1] == '!';
    bool has_default = false;
    size_t proposal = 0;        /* Start of the current proposal. */
    size_t token = 0;           /* Start of the current algorithm name. */

    if (strict) {
        len--;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? value[i] : ',';

        if (is_token_char(c)) {
            continue;
        }
        if (c != '-' && c != ',') {
            char *what = describe_char(c);
            char *reason = xasprintf(
                "is not a proposal list: unexpected %s at byte %zu "
                "(expected algorithm names of letters, digits and '_' "
                "joined by '-', proposals separated by ',', and an "
                "optional final '!')", what, i);
            free(what);
            return reason;
        }
        if (i == token) {
            return xasprintf("is not a proposal list: empty algorithm name "
                             "at byte %zu", i);
        }
        if (c == ',') {
            if (i - proposal == strlen("default")
                && !memcmp(&value[proposal], "default", i - proposal)) {
                has_default = true;
            }
            proposal = i + 1;
        }
        token = i + 1;
    }

    slot->text = (strict || has_default
                  ? xmemdup0(value, len)
                  : xasprintf("%.*s,default", (int) len, value));
    return NULL;
}

static char *
parse_word(const struct keyword *kw, const char *value, struct slot *slot)
{
    struct ds list = DS_EMPTY_INITIALIZER;
    const struct word *w;

    for (w = kw->words; w->in; w++) {
        if (!strcmp(w->in, value)) {
            if (w->reject) {
                return xasprintf("is not accepted: %s", w->reject);
            }
            slot->word = w->out;
            return NULL;
        }
    }

    for (w = kw->words; w->in; w++) {
        if (!w->reject) {
            ds_put_format(&list, "%s\"%s\"", list.length ? ", " : "", w->in);
        }
    }
    char *reason = xasprintf("is not one of %s", ds_cstr(&list));
    ds_destroy(&list);
    return reason;
}

/* ipsec.conf times: a whole number, optionally followed by s, m, h or d. */
static char *
parse_time(const char *value, struct slot *slot)
{
    size_t len = strlen(value);
    uint64_t unit = 1;

    switch (value[len - 1]) {
    case 's':
        len--;
        break;
    case 'm':
        unit = 60;
        len--;
        break;
    case 'h':
        unit = 3600;
        len--;
        break;
    case 'd':
        unit = 86400;
        len--;
        break;
    default:
        break;
    }
    if (!parse_decimal(value, len, UINT64_MAX, &slot->n)) {
        return xstrdup("is not a time: expected <number>[s|m|h|d]");
    }
    if (slot->n > MAX_TIME / unit) {
        return xasprintf("is too long: at most %"PRIu64" seconds",
                         (uint64_t) MAX_TIME);
    }
    slot->n *= unit;
    return NULL;
}

static char *
parse_count(const char *value, uint64_t max, struct slot *slot)
{
    return (parse_decimal(value, strlen(value), max, &slot->n)
            ? NULL
            : xasprintf("is not a number from 0 to %"PRIu64, max));
}

static char *
parse_percent(const char *value, struct slot *slot)
{
    size_t len = strlen(value);

    return (value[len - 1] == '%'
            && parse_decimal(value, len - 1, MAX_FUZZ, &slot->n)
            ? NULL
            : xasprintf("is not a percentage from 0%% to %d%%", MAX_FUZZ));
}

static char *
parse_dscp(const char *value, struct slot *slot)
{
    size_t len = strlen(value);

    slot->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (len > 6 || (value[i] != '0' && value[i] != '1')) {
            return xstrdup("is not a DSCP: expected up to six binary "
                           "digits, e.g. 101110");
        }
        slot->n = slot->n * 2 + (value[i] - '0');
    }
    return NULL;
}

/* Parses 'value', which is not empty, for 'kw' into 'slot'. */
static char *
parse_value(const struct keyword *kw, const char *value, struct slot *slot)
{
    switch (kw->type) {
    case V_PROPOSALS:
        return parse_proposals(value, slot);
    case V_WORD:
        return parse_word(kw, value, slot);
    case V_TIME:
        return parse_time(value, slot);
    case V_COUNT:
        return parse_count(value, kw->max, slot);
    case V_PERCENT:
        return parse_percent(value, slot);
    case V_KEYINGTRIES:
        if (!strcmp(value, "%forever")) {
            slot->n = 0;
            return NULL;
        }
        return (parse_decimal(value, strlen(value), UINT32_MAX, &slot->n)
                ? NULL
                : xstrdup("is not a number from 0 to 4294967295 or "
                          "%forever"));
    case V_REPLAY_WINDOW:
        if (!strcmp(value, "-1")) {
            slot->unset = true;
            return NULL;
        }
        return (parse_decimal(value, strlen(value), UINT32_MAX, &slot->n)
                ? NULL
                : xstrdup("is not -1 or a number from 0 to 4294967295"));
    case V_TFC:
        if (!strcmp(value, "%mtu")) {
            slot->word = "mtu";
            return NULL;
        }
        return (parse_decimal(value, strlen(value), 65535, &slot->n)
                ? NULL
                : xstrdup("is not a number from 0 to 65535 or %mtu"));
    case V_DSCP:
        return parse_dscp(value, slot);
    case V_NONE:
    default:
        break;
    }
    assert(false);
    return xstrdup("cannot be parsed");
}

static bool
slot_equal(const struct slot *a, const struct slot *b)
{
    return (a->n == b->n && a->unset == b->unset
            && nullable_string_equal(a->word, b->word)
            && nullable_string_equal(a->text, b->text));
}

/* First pass: parses option 'key'='value' into its slot. */
static char *
parse_option(const char *iface, const char *key, const char *value,
             struct slot slots[P_N])
{
    const struct keyword *kw = keyword_find(key);
    size_t len = strlen(value);

    if (!kw) {
        return option_error(iface, key, value,
                            "is not accepted: unknown IPsec option");
    } else if (kw->param == P_N) {
        return option_error(iface, key, value, "is not accepted: %s",
                            kw->reason);
    } else if (!len) {
        return option_error(iface, key, value, "is empty");
    } else if (len > STROKE_MAP_VALUE_MAX) {
        return option_error(iface, key, value,
                            "is too long: at most %d bytes",
                            STROKE_MAP_VALUE_MAX);
    }

    struct slot new = { .kw = kw, .value = value };
    char *reason = parse_value(kw, value, &new);
    if (reason) {
        char *error = option_error(iface, key, value, "%s", reason);
        free(reason);
        return error;
    }

    struct slot *old = &slots[kw->param];
    if (old->kw) {
        /* Two spellings of one setting: fine if they agree. */
        bool same = slot_equal(old, &new);
        free(new.text);
        return (same
                ? NULL
                : pair_error(iface, &new, "conflicts with", old,
                             ": both set the same swanctl setting"));
    }
    *old = new;
    return NULL;
}

/* Second pass: building the map. */

/* Appends a setting; takes ownership of 'value'. */
static void
add(struct stroke_map *map, enum stroke_scope scope, const char *key,
    char *value, bool is_list)
{
    assert(!stroke_map_find(map, scope, key));
    map->settings = xrealloc(map->settings,
                             (map->n + 1) * sizeof *map->settings);
    map->settings[map->n++] = (struct stroke_setting) {
        .scope = scope,
        .key = key,
        .value = value,
        .is_list = is_list,
    };
}

static void
add_word(struct stroke_map *map, enum stroke_scope scope, const char *key,
         const char *word)
{
    add(map, scope, key, xstrdup(word), false);
}

static void
add_number(struct stroke_map *map, enum stroke_scope scope, const char *key,
           uint64_t n)
{
    add(map, scope, key, xasprintf("%"PRIu64, n), false);
}

static void
add_seconds(struct stroke_map *map, enum stroke_scope scope,
            const char *key, uint64_t seconds)
{
    add(map, scope, key, xasprintf("%"PRIu64"s", seconds), false);
}

/* Adds ('scope', 'key') = the word of 'slot', if it has one. */
static void
add_slot_word(struct stroke_map *map, enum stroke_scope scope,
              const char *key, const struct slot *slot)
{
    if (slot->kw && slot->word) {
        add_word(map, scope, key, slot->word);
    }
}

/* Returns 'percent' percent of 'n', rounded down, without overflow for
 * n <= MAX_VOLUME and percent <= MAX_FUZZ. */
static uint64_t
percent_of(uint64_t n, uint64_t percent)
{
    return n / 100 * percent + n % 100 * percent / 100;
}

static bool
is_word(const struct slot *slot, const char *word)
{
    return slot->kw && slot->word && !strcmp(slot->word, word);
}

/* One lifetime of ipsec.conf: a hard limit, a margin before it at which
 * rekeying starts, and the random extension of that margin. */
struct limit {
    const struct slot *life;    /* Hard limit option. */
    const struct slot *margin;  /* Margin option. */
    const struct slot *fuzz;    /* rekeyfuzz. */
    uint64_t life_default;      /* When 'life' is unset. */
    uint64_t margin_default;    /* When 'margin' is unset. */
    const char *what;           /* "the CHILD_SA lifetime". */
    const char *unit;           /* "s", " bytes", " packets". */

    /* Computed by limit_compute(). */
    uint64_t life_value;        /* Hard limit. */
    uint64_t rekey_value;       /* Soft limit: life - margin. */
    uint64_t rand_value;        /* Jitter: margin * fuzz. */
};

/* Appends "KEY (N<unit>)" or "KEY (N<unit>, default)" for 'slot'. */
static void
put_term(struct ds *out, const struct slot *slot, const char *name,
         uint64_t value, const char *unit)
{
    ds_put_format(out, "%s (%"PRIu64"%s%s)", slot->kw ? slot->kw->name : name,
                  value, unit, slot->kw ? "" : ", the ipsec.conf default");
}

/* Computes the swanctl triple of 'l', as charon's stroke plugin did.
 * Returns NULL, or a new error message naming the option to change. */
static char *
limit_compute(const char *iface, struct limit *l, const char *life_name,
              const char *margin_name)
{
    uint64_t life = l->life->kw ? l->life->n : l->life_default;
    uint64_t margin = l->margin->kw ? l->margin->n : l->margin_default;
    uint64_t fuzz = l->fuzz->kw ? l->fuzz->n : DEFAULT_REKEYFUZZ;
    uint64_t jitter = percent_of(margin, fuzz);

    /* Rekeying must start after the SA is set up, even with the largest
     * random margin (ipsec.conf(5), "SA EXPIRY/REKEY"). */
    if (life <= margin || life - margin <= jitter) {
        const struct slot *culprit = (l->life->kw ? l->life
                                      : l->margin->kw ? l->margin
                                      : l->fuzz);
        struct ds why = DS_EMPTY_INITIALIZER;

        ds_put_format(&why, "does not fit: %s, ", l->what);
        put_term(&why, l->life, life_name, life, l->unit);
        ds_put_cstr(&why, ", must be greater than ");
        put_term(&why, l->margin, margin_name, margin, l->unit);
        ds_put_cstr(&why, " plus ");
        put_term(&why, l->fuzz, "rekeyfuzz", fuzz, "%");
        ds_put_format(&why, " of it, %"PRIu64"%s", margin + jitter, l->unit);

        char *error = option_error(iface, culprit->kw->name,
                                   culprit->value, "%s", ds_cstr(&why));
        ds_destroy(&why);
        return error;
    }
    l->life_value = life;
    l->rekey_value = life - margin;
    l->rand_value = jitter;
    return NULL;
}

/* rekey=no: charon neither rekeyed nor expired the SAs, and ignored every
 * lifetime option; refuse those rather than drop them. */
static char *
check_rekey_no(const char *iface, const struct slot slots[P_N])
{
    static const enum param timing[] = {
        P_IKELIFETIME, P_LIFETIME, P_MARGINTIME, P_REKEYFUZZ,
        P_LIFEBYTES, P_MARGINBYTES, P_LIFEPACKETS, P_MARGINPACKETS,
        P_REAUTH,
    };

    for (size_t i = 0; i < ARRAY_SIZE(timing); i++) {
        const struct slot *s = &slots[timing[i]];

        if (s->kw && (timing[i] != P_REAUTH || is_word(s, "yes"))) {
            return pair_error(iface, s, "has no effect with",
                              &slots[P_REKEY], ", which turns off rekeying "
                              "and expiry");
        }
    }
    return NULL;
}

/* Dead peer detection.  In ipsec.conf "dpdaction" turns DPD on (with
 * dpddelay, default 30s) and "none", its default, turns it off; in
 * swanctl, a nonzero dpd_delay turns it on. */
static char *
build_dpd(const char *iface, const struct slot slots[P_N],
          struct stroke_map *map)
{
    const struct slot *action = &slots[P_DPDACTION];
    const struct slot *delay = &slots[P_DPDDELAY];

    if (is_word(action, "none")) {
        if (delay->kw) {
            return pair_error(iface, delay, "has no effect with", action,
                              ", which turns off dead peer detection");
        }
        add_seconds(map, STROKE_CONN, "dpd_delay", 0);
    } else if (action->kw || delay->kw) {
        add_seconds(map, STROKE_CONN, "dpd_delay",
                    delay->kw ? delay->n : DEFAULT_DPDDELAY);
    }
    if (slots[P_DPDTIMEOUT].kw) {
        add_seconds(map, STROKE_CONN, "dpd_timeout", slots[P_DPDTIMEOUT].n);
    }
    return NULL;
}

static char *
build_conn(const char *iface, const struct slot slots[P_N],
           struct stroke_map *map)
{
    const struct slot *s;
    char *error;

    if (slots[P_IKE].kw) {
        add(map, STROKE_CONN, "proposals", xstrdup(slots[P_IKE].text), true);
    }
    add_slot_word(map, STROKE_CONN, "encap", &slots[P_ENCAP]);
    add_slot_word(map, STROKE_CONN, "mobike", &slots[P_MOBIKE]);
    add_slot_word(map, STROKE_CONN, "fragmentation",
                  &slots[P_FRAGMENTATION]);
    s = &slots[P_IKEDSCP];
    if (s->kw) {
        char bits[7];

        for (int i = 0; i < 6; i++) {
            bits[i] = '0' + ((s->n >> (5 - i)) & 1);
        }
        bits[6] = '\0';
        add_word(map, STROKE_CONN, "dscp", bits);
    }
    if (slots[P_KEYINGTRIES].kw) {
        add_number(map, STROKE_CONN, "keyingtries", slots[P_KEYINGTRIES].n);
    }
    error = build_dpd(iface, slots, map);
    if (error) {
        return error;
    }

    /* IKE SA lifetime. */
    if (is_word(&slots[P_REKEY], "no")) {
        add_seconds(map, STROKE_CONN, "rekey_time", 0);
    } else if (slots[P_IKELIFETIME].kw || slots[P_MARGINTIME].kw
               || slots[P_REKEYFUZZ].kw || is_word(&slots[P_REAUTH], "yes")) {
        struct limit l = {
            .life = &slots[P_IKELIFETIME],
            .margin = &slots[P_MARGINTIME],
            .fuzz = &slots[P_REKEYFUZZ],
            .life_default = DEFAULT_IKELIFETIME,
            .margin_default = DEFAULT_MARGINTIME,
            .what = "the IKE SA lifetime",
            .unit = "s",
        };

        error = limit_compute(iface, &l, "ikelifetime", "margintime");
        if (error) {
            return error;
        }
        /* ipsec.conf's reauth=yes replaced rekeying by reauthentication;
         * ovsec's default is swanctl's, rekeying. */
        if (is_word(&slots[P_REAUTH], "yes")) {
            add_seconds(map, STROKE_CONN, "rekey_time", 0);
            add_seconds(map, STROKE_CONN, "reauth_time", l.rekey_value);
        } else {
            add_seconds(map, STROKE_CONN, "rekey_time", l.rekey_value);
        }
        add_seconds(map, STROKE_CONN, "over_time",
                    l.life_value - l.rekey_value);
        add_seconds(map, STROKE_CONN, "rand_time", l.rand_value);
    }
    return NULL;
}

/* A byte or packet volume limit of a CHILD_SA. */
struct volume {
    enum param life;            /* lifebytes or lifepackets. */
    enum param margin;          /* marginbytes or marginpackets. */
    const char *what;           /* For messages. */
    const char *unit;           /* " bytes" or " packets". */
    const char *life_key;       /* swanctl keys. */
    const char *rekey_key;
    const char *rand_key;
};

static const struct volume volumes[] = {
    { P_LIFEBYTES, P_MARGINBYTES, "the CHILD_SA byte limit", " bytes",
      "life_bytes", "rekey_bytes", "rand_bytes" },
    { P_LIFEPACKETS, P_MARGINPACKETS, "the CHILD_SA packet limit",
      " packets", "life_packets", "rekey_packets", "rand_packets" },
};

/* Adds the settings of volume limit 'v'.  The life option alone sets the
 * hard limit and leaves the soft one to swanctl's default (10% less): in
 * ipsec.conf its margin defaulted to 0, which expired the SA instead of
 * rekeying it.  With the margin option both are computed as ipsec.conf
 * did. */
static char *
build_volume(const char *iface, const struct slot slots[P_N],
             const struct volume *v, struct stroke_map *map)
{
    const struct slot *life = &slots[v->life];
    const struct slot *margin = &slots[v->margin];

    if (!life->kw) {
        return (margin->kw
                ? option_error(iface, margin->kw->name, margin->value,
                               "has no effect without options:ipsec_life%s",
                               margin->kw->name + strlen("margin"))
                : NULL);
    } else if (!margin->kw) {
        add_number(map, STROKE_CHILD, v->life_key, life->n);
        return NULL;
    }

    struct limit l = {
        .life = life,
        .margin = margin,
        .fuzz = &slots[P_REKEYFUZZ],
        .what = v->what,
        .unit = v->unit,
    };
    char *error = limit_compute(iface, &l, life->kw->name, margin->kw->name);
    if (error) {
        return error;
    }
    add_number(map, STROKE_CHILD, v->life_key, l.life_value);
    add_number(map, STROKE_CHILD, v->rekey_key, l.rekey_value);
    add_number(map, STROKE_CHILD, v->rand_key, l.rand_value);
    return NULL;
}

static char *
build_child(const char *iface, const struct slot slots[P_N],
            struct stroke_map *map)
{
    const struct slot *s;
    char *error;

    if (slots[P_ESP].kw && slots[P_AH].kw) {
        return pair_error(iface, &slots[P_ESP], "conflicts with",
                          &slots[P_AH], ": ipsec.conf allows ESP or AH, "
                          "not both");
    }
    if (slots[P_ESP].kw) {
        add(map, STROKE_CHILD, "esp_proposals", xstrdup(slots[P_ESP].text),
            true);
    }
    if (slots[P_AH].kw) {
        add(map, STROKE_CHILD, "ah_proposals", xstrdup(slots[P_AH].text),
            true);
    }
    add_slot_word(map, STROKE_CHILD, "ipcomp", &slots[P_COMPRESS]);
    add_slot_word(map, STROKE_CHILD, "sha256_96", &slots[P_SHA256_96]);
    s = &slots[P_REPLAY_WINDOW];
    if (s->kw && !s->unset) {
        add_number(map, STROKE_CHILD, "replay_window", s->n);
    }
    s = &slots[P_TFC];
    if (s->kw) {
        if (s->word) {
            add_word(map, STROKE_CHILD, "tfc_padding", s->word);
        } else {
            add_number(map, STROKE_CHILD, "tfc_padding", s->n);
        }
    }
    if (slots[P_INACTIVITY].kw) {
        add_seconds(map, STROKE_CHILD, "inactivity", slots[P_INACTIVITY].n);
    }
    if (!is_word(&slots[P_DPDACTION], "none")) {
        add_slot_word(map, STROKE_CHILD, "dpd_action", &slots[P_DPDACTION]);
    }
    add_slot_word(map, STROKE_CHILD, "close_action", &slots[P_CLOSEACTION]);

    /* CHILD_SA lifetime. */
    if (is_word(&slots[P_REKEY], "no")) {
        add_seconds(map, STROKE_CHILD, "rekey_time", 0);
        return NULL;
    }
    if (slots[P_LIFETIME].kw || slots[P_MARGINTIME].kw
        || slots[P_REKEYFUZZ].kw) {
        struct limit l = {
            .life = &slots[P_LIFETIME],
            .margin = &slots[P_MARGINTIME],
            .fuzz = &slots[P_REKEYFUZZ],
            .life_default = DEFAULT_LIFETIME,
            .margin_default = DEFAULT_MARGINTIME,
            .what = "the CHILD_SA lifetime",
            .unit = "s",
        };

        error = limit_compute(iface, &l, "lifetime", "margintime");
        if (error) {
            return error;
        }
        add_seconds(map, STROKE_CHILD, "life_time", l.life_value);
        add_seconds(map, STROKE_CHILD, "rekey_time", l.rekey_value);
        add_seconds(map, STROKE_CHILD, "rand_time", l.rand_value);
    }
    for (size_t i = 0; i < ARRAY_SIZE(volumes); i++) {
        error = build_volume(iface, slots, &volumes[i], map);
        if (error) {
            return error;
        }
    }
    return NULL;
}

char *
stroke_map_translate(const char *iface, const struct smap *options,
                     struct stroke_map *out)
{
    const struct smap_node **nodes = smap_sort(options);
    size_t n = smap_count(options);
    struct slot slots[P_N];
    char *error = NULL;

    memset(slots, 0, sizeof slots);
    out->settings = NULL;
    out->n = 0;

    for (size_t i = 0; i < n && !error; i++) {
        error = parse_option(iface, nodes[i]->key, nodes[i]->value, slots);
    }
    if (!error && is_word(&slots[P_REKEY], "no")) {
        error = check_rekey_no(iface, slots);
    }
    if (!error) {
        error = build_conn(iface, slots, out);
    }
    if (!error) {
        error = build_child(iface, slots, out);
    }
    if (error) {
        stroke_map_destroy(out);
    }

    for (size_t i = 0; i < P_N; i++) {
        free(slots[i].text);
    }
    free(nodes);
    return error;
}

void
stroke_map_destroy(struct stroke_map *map)
{
    if (map) {
        for (size_t i = 0; i < map->n; i++) {
            free(map->settings[i].value);
        }
        free(map->settings);
        map->settings = NULL;
        map->n = 0;
    }
}

const struct stroke_setting *
stroke_map_find(const struct stroke_map *map, enum stroke_scope scope,
                const char *key)
{
    for (size_t i = 0; i < map->n; i++) {
        const struct stroke_setting *s = &map->settings[i];

        if (s->scope == scope && !strcmp(s->key, key)) {
            return s;
        }
    }
    return NULL;
}

const char *
stroke_scope_to_string(enum stroke_scope scope)
{
    switch (scope) {
    case STROKE_CONN:
        return "conn";
    case STROKE_CHILD:
        return "child";
    case STROKE_LOCAL:
        return "local";
    case STROKE_REMOTE:
        return "remote";
    case STROKE_SCOPE_N:
    default:
        return "<invalid>";
    }
}
