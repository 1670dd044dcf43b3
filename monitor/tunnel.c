/* SPDX-License-Identifier: Apache-2.0
 *
 * tunnel: see tunnel.h.
 *
 * The rules follow upstream ovs-monitor-ipsec's IPsecTunnel, made stricter
 * so that bad input is refused here, by name, rather than as an IKE
 * failure later:
 *
 *  - remote_ip is required, and both addresses must be literal unicast
 *    addresses of one family ("flow" cannot be negotiated by IKE).
 *  - psk excludes remote_cert and remote_name.  Unlike upstream, the
 *    global certificate, private_key and ca_cert do not make a PSK tunnel
 *    invalid: they are shared by all tunnels, a host may well have both
 *    PSK and certificate peers, and IKE authentication is chosen per
 *    connection.  A PSK tunnel simply does not use them.
 *  - remote_cert (a self-signed peer) and remote_name (a CA-signed peer,
 *    which also needs ca_cert) need the global certificate and
 *    private_key.  With remote_cert, remote_name defaults to its CN and,
 *    if given, must equal it.
 *  - Certificates must have a CN that their subjectAltName repeats: that
 *    is the identity strongSwan matches.
 *
 * The PSK never appears in a message or in show output.
 */
#include "config.h"
#include "tunnel.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/x509.h>
#include "ds.h"
#include "global-conf.h"
#include "secret.h"
#include "smap.h"
#include "util.h"
#include "x509.h"

/* Longest PSK accepted, in bytes.  IKE allows more, but nobody needs it
 * and the secrets files and VICI messages stay small. */
#define TUNNEL_PSK_MAX 1024

/* Longest remote_name, in bytes: an IKE identity, like the other names
 * ovsec passes to the IKE daemon. */
#define TUNNEL_NAME_MAX 255

#define IPSEC_PREFIX "ipsec_"

static const char *const type_names[TUNNEL_TYPE_N] = {
    [TUNNEL_GRE] = "gre",
    [TUNNEL_GENEVE] = "geneve",
    [TUNNEL_VXLAN] = "vxlan",
};

static const char *const state_names[TUNNEL_S_N] = {
    [TUNNEL_S_INVALID] = "INVALID",
    [TUNNEL_S_PENDING] = "PENDING",
    [TUNNEL_S_CONFIGURED] = "CONFIGURED",
    [TUNNEL_S_FAILED] = "FAILED",
};

const char *
tunnel_type_to_string(enum tunnel_type type)
{
    return type < TUNNEL_TYPE_N ? type_names[type] : "<unknown>";
}

bool
tunnel_type_from_string(const char *s, enum tunnel_type *type)
{
    for (int i = 0; s && i < TUNNEL_TYPE_N; i++) {
        if (!strcmp(s, type_names[i])) {
            *type = i;
            return true;
        }
    }
    return false;
}

const char *
tunnel_state_to_string(enum tunnel_state state)
{
    return state < TUNNEL_S_N ? state_names[state] : "<unknown>";
}

bool
tunnel_options_want_ipsec(const struct smap *options)
{
    return (smap_get(options, "psk")
            || smap_get(options, "remote_cert")
            || smap_get(options, "remote_name"));
}

static bool
has_control__(const char *s)
{
    for (; *s; s++) {
        unsigned char c = *s;
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Returns a new message "NAME: WHAT: REASON", with REASON formatted from
 * 'format'.  A name or 'what' with odd bytes in it is quoted so that the
 * message stays on one line. */
static char *error__(const char *name, const char *what,
                     const char *format, ...) PRINTF_FORMAT(3, 4);
static char *value_error__(const char *name, const char *key,
                           const char *value, const char *format, ...)
    PRINTF_FORMAT(4, 5);

static char *
error__(const char *name, const char *what, const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;

    if (has_control__(name)) {
        ds_put_quoted(&s, name);
    } else {
        ds_put_cstr(&s, name);
    }
    ds_put_cstr(&s, ": ");
    if (what) {
        if (has_control__(what)) {
            ds_put_quoted(&s, what);
        } else {
            ds_put_cstr(&s, what);
        }
        ds_put_cstr(&s, ": ");
    }
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    return ds_steal_cstr(&s);
}

/* Like error__(), for the message "NAME: options:KEY: "VALUE" REASON",
 * with VALUE quoted and escaped. */
static char *
value_error__(const char *name, const char *key, const char *value,
              const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;
    char *what = xasprintf("options:%s", key);
    char *msg;

    ds_put_quoted(&s, value);
    ds_put_char(&s, ' ');
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    msg = error__(name, what, "%s", ds_cstr(&s));
    ds_destroy(&s);
    free(what);
    return msg;
}

/* Checks that the options ovsec reads are one line of printable text, so
 * that nothing can smuggle a second line into a configuration file, a
 * VICI message or a log line.  Only the options we use are checked: the
 * others belong to ovs-vswitchd. */
static char *
check_control__(const char *name, const struct smap *options)
{
    static const char *const keys[] = {
        "remote_ip", "local_ip", "psk", "remote_cert", "remote_name"
    };
    const struct smap_node **nodes;
    char *error = NULL;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *value = smap_get(options, keys[i]);
        if (value && has_control__(value)) {
            char *what = xasprintf("options:%s", keys[i]);
            error = error__(name, what, "contains a control character");
            free(what);
            return error;
        }
    }

    nodes = smap_sort(options);
    for (size_t i = 0; !error && i < smap_count(options); i++) {
        const struct smap_node *node = nodes[i];

        if (!str_starts_with(node->key, IPSEC_PREFIX)) {
            continue;
        }
        char *what = xasprintf("options:%s", node->key);
        if (has_control__(node->key) || has_control__(node->value)) {
            error = error__(name, what, "contains a control character");
        } else if (!node->key[strlen(IPSEC_PREFIX)]) {
            error = error__(name, what, "empty option name after the "
                            "\"" IPSEC_PREFIX "\" prefix");
        }
        free(what);
    }
    free(nodes);
    return error;
}

/* Parses options:KEY = 'value' as a literal unicast address.  On success
 * returns NULL and stores the family in '*af' and the canonical text in
 * '*canonical' (a new string). */
static char *
parse_ip__(const char *name, const char *key, const char *value, int *af,
           char **canonical)
{
    struct in6_addr in6;
    struct in_addr in4;
    char buf[INET6_ADDRSTRLEN];
    const char *bad = NULL;

    if (!strcmp(value, "flow")) {
        return value_error__(name, key, value, "is not supported with IPsec "
                             "(IKE needs a fixed %s address)",
                             !strcmp(key, "remote_ip") ? "peer" : "local");
    } else if (inet_pton(AF_INET, value, &in4) == 1) {
        uint32_t ip = ntohl(in4.s_addr);

        *af = AF_INET;
        if (ip == 0) {
            bad = "unspecified";
        } else if ((ip & 0xf0000000) == 0xe0000000) {
            bad = "multicast";
        } else if (ip == UINT32_MAX) {
            bad = "broadcast";
        }
        inet_ntop(AF_INET, &in4, buf, sizeof buf);
    } else if (inet_pton(AF_INET6, value, &in6) == 1) {
        *af = AF_INET6;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6)) {
            bad = "unspecified";
        } else if (IN6_IS_ADDR_MULTICAST(&in6)) {
            bad = "multicast";
        }
        inet_ntop(AF_INET6, &in6, buf, sizeof buf);
    } else {
        return value_error__(name, key, value, "is not an IP address");
    }

    if (bad) {
        return value_error__(name, key, value,
                             "is not a unicast address (%s)", bad);
    }
    *canonical = xstrdup(buf);
    return NULL;
}

static const char *
af_name__(int af)
{
    return af == AF_INET ? "IPv4" : "IPv6";
}

static char *
parse_addresses__(const char *name, const struct smap *options,
                  struct tunnel_conf *conf)
{
    const char *remote_ip = smap_get(options, "remote_ip");
    const char *local_ip = smap_get(options, "local_ip");
    int local_af;
    char *error;

    if (!remote_ip) {
        return error__(name, "options:remote_ip", "not set");
    }
    error = parse_ip__(name, "remote_ip", remote_ip, &conf->af,
                       &conf->remote_ip);
    if (error || !local_ip) {
        return error;
    }
    error = parse_ip__(name, "local_ip", local_ip, &local_af,
                       &conf->local_ip);
    if (!error && local_af != conf->af) {
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_format(&s, "is %s but options:remote_ip ",
                      af_name__(local_af));
        ds_put_quoted(&s, remote_ip);
        ds_put_format(&s, " is %s", af_name__(conf->af));
        error = value_error__(name, "local_ip", local_ip, "%s",
                              ds_cstr(&s));
        ds_destroy(&s);
    }
    return error;
}

static char *
parse_psk__(const char *name, const struct smap *options, const char *psk,
            struct tunnel_conf *conf)
{
    static const char *const others[] = { "remote_cert", "remote_name" };
    size_t size = strlen(psk);

    for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
        if (smap_get(options, others[i])) {
            return error__(name, "options:psk", "cannot be combined with "
                           "options:%s (choose PSK or certificate "
                           "authentication)", others[i]);
        }
    }
    if (!size) {
        return error__(name, "options:psk", "empty");
    } else if (size > TUNNEL_PSK_MAX) {
        return error__(name, "options:psk", "longer than %d bytes",
                       TUNNEL_PSK_MAX);
    }
    conf->auth = TUNNEL_AUTH_PSK;
    conf->psk = secret_create(psk, size);
    return NULL;
}

/* Checks that the global settings a certificate mode needs are there and
 * sound; 'key' is the option that asked for certificates. */
static char *
check_global_certs__(const char *name, const char *key,
                     const struct global_conf *global)
{
    char *what = xasprintf("options:%s", key);
    char *error = NULL;

    if (!global || !global->certificate) {
        error = error__(name, what, "certificate authentication needs "
                        "Open_vSwitch other_config:certificate (the local "
                        "certificate)");
    } else if (!global->private_key) {
        error = error__(name, what, "certificate authentication needs "
                        "Open_vSwitch other_config:private_key (the local "
                        "private key)");
    } else if (global->cert_error) {
        error = error__(name, NULL, "%s", global->cert_error);
    }
    free(what);
    return error;
}

/* Copies the global certificate settings into 'conf'. */
static void
copy_global_certs__(const struct global_conf *global, bool with_ca,
                    struct tunnel_conf *conf)
{
    conf->certificate = xstrdup(global->certificate);
    conf->private_key = xstrdup(global->private_key);
    conf->local_name = nullable_xstrdup(global->local_name);
    conf->ca_cert = with_ca ? nullable_xstrdup(global->ca_cert) : NULL;
}

/* Self-signed peer: options:remote_cert is the peer's certificate. */
static char *
parse_remote_cert__(const char *name, const struct smap *options,
                    const char *remote_cert, const struct global_conf *global,
                    struct tunnel_conf *conf)
{
    const char *remote_name = smap_get(options, "remote_name");
    X509 *cert = NULL;
    char *error = NULL;
    char *cn = NULL;
    char *why;

    if (!*remote_cert) {
        return error__(name, "options:remote_cert", "empty");
    }
    error = check_global_certs__(name, "remote_cert", global);
    if (error) {
        return error;
    }

    if (x509_cert_load(remote_cert, &cert, conf->remote_cert_digest, &why)) {
        error = error__(name, "options:remote_cert", "%s", why);
        free(why);
        goto out;
    }
    if (x509_cert_get_cn(cert, &cn, &why)) {
        error = error__(name, "options:remote_cert", "%s: %s", remote_cert,
                        why);
        free(why);
        goto out;
    }
    if (!x509_cert_has_dns_name(cert, cn)) {
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_format(&s, "%s: subjectAltName has no DNS entry ",
                      remote_cert);
        ds_put_quoted(&s, cn);
        ds_put_cstr(&s, " equal to the CN (IPsec peers identify each other "
                    "by it)");
        error = error__(name, "options:remote_cert", "%s", ds_cstr(&s));
        ds_destroy(&s);
        goto out;
    }
    if (remote_name && strcmp(remote_name, cn)) {
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_cstr(&s, "differs from the CN ");
        ds_put_quoted(&s, cn);
        ds_put_cstr(&s, " of options:remote_cert");
        error = value_error__(name, "remote_name", remote_name, "%s",
                              ds_cstr(&s));
        ds_destroy(&s);
        goto out;
    }

    conf->auth = TUNNEL_AUTH_PEER_CERT;
    conf->remote_cert = xstrdup(remote_cert);
    conf->remote_name = cn;
    cn = NULL;
    copy_global_certs__(global, false, conf);

out:
    free(cn);
    X509_free(cert);
    return error;
}

/* CA-signed peer: options:remote_name is the CN the peer's certificate,
 * signed by the global ca_cert, must carry. */
static char *
parse_remote_name__(const char *name, const char *remote_name,
                    const struct global_conf *global,
                    struct tunnel_conf *conf)
{
    char *error;

    if (!*remote_name) {
        return error__(name, "options:remote_name", "empty");
    } else if (strlen(remote_name) > TUNNEL_NAME_MAX) {
        return error__(name, "options:remote_name", "longer than %d bytes",
                       TUNNEL_NAME_MAX);
    }
    error = check_global_certs__(name, "remote_name", global);
    if (error) {
        return error;
    }
    if (!global->ca_cert) {
        return error__(name, "options:remote_name", "needs "
                       "options:remote_cert (self-signed peer certificate) "
                       "or Open_vSwitch other_config:ca_cert (CA-signed peer "
                       "certificates)");
    }

    conf->auth = TUNNEL_AUTH_CA;
    conf->remote_name = xstrdup(remote_name);
    copy_global_certs__(global, true, conf);
    return NULL;
}

static char *
parse_auth__(const char *name, const struct smap *options,
             const struct global_conf *global, struct tunnel_conf *conf)
{
    const char *psk = smap_get(options, "psk");
    const char *remote_cert = smap_get(options, "remote_cert");
    const char *remote_name = smap_get(options, "remote_name");

    if (psk) {
        return parse_psk__(name, options, psk, conf);
    } else if (remote_cert) {
        return parse_remote_cert__(name, options, remote_cert, global, conf);
    } else if (remote_name) {
        return parse_remote_name__(name, remote_name, global, conf);
    } else {
        return error__(name, "options", "no authentication method (set "
                       "psk, remote_cert or remote_name)");
    }
}

static void
copy_ipsec_options__(const struct smap *options, struct tunnel_conf *conf)
{
    const struct smap_node *node;

    SMAP_FOR_EACH (node, options) {
        if (str_starts_with(node->key, IPSEC_PREFIX)) {
            smap_add(&conf->ipsec_options,
                     node->key + strlen(IPSEC_PREFIX), node->value);
        }
    }
}

char *
tunnel_conf_create(const char *name, const char *type,
                   const struct smap *options,
                   const struct global_conf *global,
                   struct tunnel_conf **ret)
{
    struct tunnel_conf *conf = xzalloc(sizeof *conf);
    char *error;

    smap_init(&conf->ipsec_options);
    *ret = NULL;

    if (!tunnel_type_from_string(type, &conf->type)) {
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_quoted(&s, type ? type : "");
        ds_put_cstr(&s, " does not support IPsec (only gre, geneve and "
                    "vxlan do)");
        error = error__(name, "type", "%s", ds_cstr(&s));
        ds_destroy(&s);
        goto out;
    }

    error = check_control__(name, options);
    if (!error) {
        error = parse_addresses__(name, options, conf);
    }
    if (!error) {
        error = parse_auth__(name, options, global, conf);
    }
    if (!error) {
        copy_ipsec_options__(options, conf);
    }

out:
    if (error) {
        tunnel_conf_destroy(conf);
    } else {
        *ret = conf;
    }
    return error;
}

void
tunnel_conf_destroy(struct tunnel_conf *conf)
{
    if (conf) {
        free(conf->local_ip);
        free(conf->remote_ip);
        secret_destroy(conf->psk);
        free(conf->remote_cert);
        free(conf->remote_name);
        free(conf->certificate);
        free(conf->private_key);
        free(conf->ca_cert);
        free(conf->local_name);
        smap_destroy(&conf->ipsec_options);
        free(conf);
    }
}

bool
tunnel_conf_equal(const struct tunnel_conf *a, const struct tunnel_conf *b)
{
    if (!a || !b) {
        return a == b;
    }
    /* The PSK comparison runs in full whatever the other fields say, so
     * that timing does not depend on the secret. */
    bool same_psk = secret_equal(a->psk, b->psk);
    return (same_psk
            && a->type == b->type
            && a->af == b->af
            && a->auth == b->auth
            && nullable_string_equal(a->local_ip, b->local_ip)
            && nullable_string_equal(a->remote_ip, b->remote_ip)
            && nullable_string_equal(a->remote_cert, b->remote_cert)
            && nullable_string_equal(a->remote_name, b->remote_name)
            && nullable_string_equal(a->certificate, b->certificate)
            && nullable_string_equal(a->private_key, b->private_key)
            && nullable_string_equal(a->ca_cert, b->ca_cert)
            && nullable_string_equal(a->local_name, b->local_name)
            && !memcmp(a->remote_cert_digest, b->remote_cert_digest,
                       sizeof a->remote_cert_digest)
            && smap_equal(&a->ipsec_options, &b->ipsec_options));
}

/* Show output. */

/* Appends 's' for a "Key: value" line: "None" for NULL, as upstream's
 * Python prints it, and control characters escaped so that one field
 * stays one line. */
static void
put_value__(struct ds *out, const char *s)
{
    if (!s) {
        ds_put_cstr(out, "None");
        return;
    }
    for (; *s; s++) {
        unsigned char c = *s;
        if (c < 0x20 || c == 0x7f) {
            ds_put_format(out, "\\x%02x", c);
        } else {
            ds_put_char(out, c);
        }
    }
}

/* Appends 's' the way Python's repr() writes a str, which is how upstream
 * shows its custom options. */
static void
put_python_repr__(struct ds *out, const char *s)
{
    char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';

    ds_put_char(out, quote);
    for (; *s; s++) {
        unsigned char c = *s;
        if (c == '\\' || c == quote) {
            ds_put_char(out, '\\');
            ds_put_char(out, c);
        } else if (c == '\n') {
            ds_put_cstr(out, "\\n");
        } else if (c == '\r') {
            ds_put_cstr(out, "\\r");
        } else if (c == '\t') {
            ds_put_cstr(out, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            ds_put_format(out, "\\x%02x", c);
        } else {
            ds_put_char(out, c);
        }
    }
    ds_put_char(out, quote);
}

/* Appends the custom options as a Python dict, sorted by key.  'options'
 * holds either the stripped keys ('prefix' false) or the raw Interface
 * options, of which only "ipsec_*" are shown ('prefix' true). */
static void
put_custom_options__(struct ds *out, const struct smap *options, bool prefix)
{
    const struct smap_node **nodes = smap_sort(options);
    size_t plen = prefix ? strlen(IPSEC_PREFIX) : 0;
    bool first = true;

    ds_put_char(out, '{');
    for (size_t i = 0; i < smap_count(options); i++) {
        const struct smap_node *node = nodes[i];

        if (prefix && !str_starts_with(node->key, IPSEC_PREFIX)) {
            continue;
        }
        if (!first) {
            ds_put_cstr(out, ", ");
        }
        first = false;
        put_python_repr__(out, node->key + plen);
        ds_put_cstr(out, ": ");
        put_python_repr__(out, node->value);
    }
    ds_put_char(out, '}');
    free(nodes);
}

/* For an INVALID tunnel: the family upstream would show, or NULL if the
 * addresses are not both valid and of one family. */
static const char *
raw_address_family__(const struct smap *options)
{
    const char *addrs[2] = {
        smap_get(options, "remote_ip"), smap_get(options, "local_ip")
    };
    int afs[2] = { 0, 0 };

    for (size_t i = 0; i < 2; i++) {
        struct in6_addr in6;

        if (!addrs[i]) {
            continue;
        } else if (inet_pton(AF_INET, addrs[i], &in6) == 1) {
            afs[i] = AF_INET;
        } else if (inet_pton(AF_INET6, addrs[i], &in6) == 1) {
            afs[i] = AF_INET6;
        }
    }
    if (!afs[0] || (addrs[1] && afs[1] != afs[0])) {
        return NULL;
    }
    return af_name__(afs[0]);
}

static void
put_field__(struct ds *out, const char *label, const char *value)
{
    ds_put_format(out, "  %-16s", label);
    put_value__(out, value);
    ds_put_char(out, '\n');
}

void
tunnel_format(const struct tunnel *t, const struct global_conf *global,
              struct ds *out)
{
    const struct tunnel_conf *c = t->conf;
    const struct smap *o = &t->options;
    const char *local_ip;
    const char *remote_ip;
    bool has_psk;

    ds_put_cstr(out, "Interface name: ");
    put_value__(out, t->name);
    ds_put_format(out, " v%"PRIu64" (%s)\n", t->version,
                  tunnel_state_to_string(t->state));

    if ((t->state == TUNNEL_S_INVALID || t->state == TUNNEL_S_FAILED)
        && t->reason) {
        /* The reason starts with the name, which the header has shown. */
        const char *reason = t->reason;
        size_t n = strlen(t->name);
        if (!strncmp(reason, t->name, n) && !strncmp(reason + n, ": ", 2)) {
            reason += n + 2;
        }
        put_field__(out, "Reason:", reason);
    }

    put_field__(out, "Tunnel Type:", t->type);
    if (c) {
        local_ip = c->local_ip;
        remote_ip = c->remote_ip;
    } else {
        local_ip = smap_get(o, "local_ip");
        remote_ip = smap_get(o, "remote_ip");
    }
    put_field__(out, "Local IP:", local_ip ? local_ip : "%defaultroute");
    put_field__(out, "Remote IP:", remote_ip);
    put_field__(out, "Address Family:",
                c ? af_name__(c->af) : raw_address_family__(o));

    if (global && global->has_skb_mark) {
        char *mark = xasprintf("0x%"PRIx32"/0x%"PRIx32,
                               global->skb_mark, global->skb_mask);
        put_field__(out, "SKB mark:", mark);
        free(mark);
    } else {
        put_field__(out, "SKB mark:", NULL);
    }

    if (c) {
        put_field__(out, "Local cert:", c->certificate);
        put_field__(out, "Local name:", c->local_name);
        put_field__(out, "Local key:", c->private_key);
        put_field__(out, "Remote cert:", c->remote_cert);
        put_field__(out, "Remote name:", c->remote_name);
        put_field__(out, "CA cert:", c->ca_cert);
        has_psk = c->psk != NULL;
    } else {
        put_field__(out, "Local cert:", global ? global->certificate : NULL);
        put_field__(out, "Local name:", global ? global->local_name : NULL);
        put_field__(out, "Local key:", global ? global->private_key : NULL);
        put_field__(out, "Remote cert:", smap_get(o, "remote_cert"));
        put_field__(out, "Remote name:", smap_get(o, "remote_name"));
        put_field__(out, "CA cert:", global ? global->ca_cert : NULL);
        has_psk = smap_get(o, "psk") != NULL;
    }
    put_field__(out, "PSK:", has_psk ? SECRET_REDACTED : NULL);

    ds_put_format(out, "  %-16s", "Custom Options:");
    if (c) {
        put_custom_options__(out, &c->ipsec_options, false);
    } else {
        put_custom_options__(out, o, true);
    }
    ds_put_char(out, '\n');

    if (t->ofport >= 0) {
        ds_put_format(out, "  %-16s%lld\n", "Ofport:", t->ofport);
    } else {
        put_field__(out, "Ofport:", "Not assigned");
    }
    put_field__(out, "CFM state:",
                t->cfm_fault < 0 ? "Disabled"
                : t->cfm_fault ? "Down" : "Up");
}
