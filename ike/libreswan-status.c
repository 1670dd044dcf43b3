/* SPDX-License-Identifier: Apache-2.0
 *
 * libreswan-status: parses `ipsec status`; see libreswan-status.h.
 *
 * The lines that matter, in 4.x (with a "000 " prefix) and 5.x (without):
 *
 *   "NAME": CLIENT===HOST...HOST===CLIENT; ROUTING; ...     definition
 *   "NAME":   more details                                  (ignored)
 *   #N: "NAME":500 STATE_NAME (story); ...; newest; IKE SA #M; idle;
 *   #N: "NAME" esp.SPI@PEER esp.SPI@US Traffic: ...         SAs of #N
 *   #N: pending Child SA for "NAME"                         (ignored)
 *
 * State names are "STATE_V2_ESTABLISHED_CHILD_SA" in 4.x and
 * "ESTABLISHED_CHILD_SA" in 5.x, "STATE_QUICK_R2" etc. for IKEv1.  The
 * SA line lists the outbound SAID (at the peer's address) before the
 * inbound one in every version; IPv6 SAIDs read "esp:SPI@ADDR".
 *
 * The name is whatever is between the first two double quotes, never
 * split or pattern-matched: upstream's regexes took "gnv-in-7-out-3" for
 * interface "gnv" and missed IPv6 connections.
 */
#include "config.h"
#include "libreswan-status.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "ds.h"
#include "hmap.h"
#include "util.h"

#define NAME_MAX_LEN 255
/* Also bounds the SA lines kept: a few per connection is the norm. */
#define MAX_STATES (4 * LIBRESWAN_STATUS_MAX_CONNS)

/* One "#N:" state of pluto. */
struct sa_state {
    unsigned long serial;
    char *conn;                 /* Owned. */
    char *name;                 /* State name as printed; owned. */
    unsigned long parent;       /* "IKE SA #M", 0 if not printed. */
    bool child;                 /* Child (IPsec) SA, not IKE SA. */
    bool established;
    bool newest;                /* "newest;" flag. */
    uint32_t spi_out, spi_in;   /* From the SA line, 0 if none. */
    bool has_spis;              /* An SA line gave both ESP SPIs. */
};

/* A connection while parsing. */
struct conn_node {
    struct hmap_node node;      /* In 'conns', by name. */
    struct libreswan_conn_state st;
};

struct parser {
    struct hmap conns;          /* Of conn_node. */
    struct sa_state *states;
    size_t n_states, allocated_states;
    bool truncated;
};

/* ---- Helpers. ---- */

/* A line, not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

static bool
span_starts_with(struct span s, const char *prefix)
{
    size_t len = strlen(prefix);
    return s.n >= len && !memcmp(s.p, prefix, len);
}

static void
span_skip(struct span *s, size_t n)
{
    n = MIN(n, s->n);
    s->p += n;
    s->n -= n;
}

static void
span_skip_spaces(struct span *s)
{
    while (s->n && (*s->p == ' ' || *s->p == '\t')) {
        span_skip(s, 1);
    }
}

/* Returns the offset of 'needle' in 's' or SIZE_MAX. */
static size_t
span_find(struct span s, const char *needle)
{
    size_t len = strlen(needle);
    for (size_t i = 0; len <= s.n && i <= s.n - len; i++) {
        if (!memcmp(s.p + i, needle, len)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Parses decimal digits at the start of 's' into '*ret', consuming them.
 * Returns false if there are none or the number overflows. */
static bool
span_parse_ulong(struct span *s, unsigned long *ret)
{
    unsigned long v = 0;
    size_t i = 0;
    for (; i < s->n && isdigit((unsigned char) s->p[i]); i++) {
        unsigned int d = s->p[i] - '0';
        if (v > (ULONG_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (!i) {
        return false;
    }
    span_skip(s, i);
    *ret = v;
    return true;
}

/* Parses "NAME" at the start of 's' (which must begin with '"'), then
 * skips an instance suffix "[N]".  Returns a new string or NULL if the
 * name is unterminated, empty, too long or holds control characters. */
static char *
span_parse_conn_name(struct span *s)
{
    if (!s->n || *s->p != '"') {
        return NULL;
    }
    span_skip(s, 1);
    const char *end = memchr(s->p, '"', s->n);
    if (!end) {
        return NULL;
    }
    size_t len = end - s->p;
    if (!len || len > NAME_MAX_LEN) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char) s->p[i] < 0x20 || s->p[i] == 0x7f) {
            return NULL;
        }
    }
    char *name = xmemdup0(s->p, len);
    span_skip(s, len + 1);

    /* Instance of a template: "name"[3]. */
    if (s->n && *s->p == '[') {
        const char *close = memchr(s->p, ']', s->n);
        if (close) {
            span_skip(s, close - s->p + 1);
        }
    }
    return name;
}

/* Strips the status code prefix ("000 ", "006 ") of 4.x lines. */
static void
strip_code__(struct span *s)
{
    if (s->n >= 3 && isdigit((unsigned char) s->p[0])
        && isdigit((unsigned char) s->p[1])
        && isdigit((unsigned char) s->p[2])
        && (s->n == 3 || s->p[3] == ' ')) {
        span_skip(s, 4);
    }
}

static struct conn_node *
find_conn__(const struct parser *p, const char *name)
{
    struct conn_node *c;
    HMAP_FOR_EACH_WITH_HASH (c, node, hash_string(name, 0), &p->conns) {
        if (!strcmp(c->st.name, name)) {
            return c;
        }
    }
    return NULL;
}

/* Returns the connection 'name', creating it; NULL if there are too many.
 * Does not take 'name'. */
static struct conn_node *
get_conn__(struct parser *p, const char *name)
{
    struct conn_node *c = find_conn__(p, name);
    if (!c) {
        if (hmap_count(&p->conns) >= LIBRESWAN_STATUS_MAX_CONNS) {
            p->truncated = true;
            return NULL;
        }
        c = xzalloc(sizeof *c);
        c->st.name = xstrdup(name);
        hmap_insert(&p->conns, &c->node, hash_string(name, 0));
    }
    return c;
}

/* ---- Lines. ---- */

/* '"NAME": ...' after the code prefix. */
static void
parse_conn_line__(struct parser *p, struct span s)
{
    char *name = span_parse_conn_name(&s);
    if (!name) {
        return;
    }
    /* Skip an instance's address up to ": " (an IPv6 address has colons
     * but never ": "). */
    size_t colon = span_find(s, ":");
    if (colon == SIZE_MAX) {
        goto out;
    }
    span_skip(&s, colon + 1);
    /* The definition line has one space, then the topology; the detail
     * lines are indented further. */
    if (s.n < 2 || s.p[0] != ' ' || s.p[1] == ' ') {
        goto out;
    }
    span_skip(&s, 1);
    if (span_find(s, "...") == SIZE_MAX) {
        goto out;
    }

    struct conn_node *c = get_conn__(p, name);
    if (!c) {
        goto out;
    }
    c->st.loaded = true;

    /* "TOPOLOGY; ROUTING; ..." */
    size_t semi = span_find(s, ";");
    if (semi != SIZE_MAX) {
        span_skip(&s, semi + 1);
        span_skip_spaces(&s);
        size_t end = span_find(s, ";");
        size_t len = end == SIZE_MAX ? s.n : end;
        while (len && s.p[len - 1] == ' ') {
            len--;
        }
        if (len && len <= 64 && !c->st.routing) {
            c->st.routing = xmemdup0(s.p, len);
        }
    }
out:
    free(name);
}

static bool
is_state_name_char(char c)
{
    return isupper((unsigned char) c) || isdigit((unsigned char) c)
           || c == '_';
}

/* Classifies state 'name' (with or without "STATE_" and "V2_"). */
static bool
state_is_child__(const char *name)
{
    if (str_starts_with(name, "STATE_")) {
        name += strlen("STATE_");
    }
    if (str_starts_with(name, "V2_")) {
        name += strlen("V2_");
    }
    return (strstr(name, "CHILD") || strstr(name, "IPSEC")
            || str_starts_with(name, "QUICK"));
}

static bool
state_is_established__(const char *name, struct span story)
{
    if (str_starts_with(name, "STATE_")) {
        name += strlen("STATE_");
    }
    if (str_starts_with(name, "V2_")) {
        name += strlen("V2_");
    }
    /* 4.x/5.x IKEv2 say so in the name; 3.x and IKEv1 only in the story
     * ("IPsec SA established", "sent MR3, ISAKMP SA established"). */
    return (str_starts_with(name, "ESTABLISHED_")
            || span_find(story, "established") != SIZE_MAX);
}

static struct sa_state *
add_state__(struct parser *p)
{
    if (p->n_states >= MAX_STATES) {
        p->truncated = true;
        return NULL;
    }
    if (p->n_states >= p->allocated_states) {
        p->allocated_states = p->allocated_states * 2 + 16;
        p->states = xrealloc(p->states,
                             p->allocated_states * sizeof *p->states);
    }
    struct sa_state *st = &p->states[p->n_states++];
    memset(st, 0, sizeof *st);
    return st;
}

static struct sa_state *
find_state__(struct parser *p, unsigned long serial)
{
    for (size_t i = p->n_states; i-- > 0;) {
        if (p->states[i].serial == serial) {
            return &p->states[i];
        }
    }
    return NULL;
}

/* Parses the SPI of SAID "esp.SPI@ADDR" or "esp:SPI@ADDR" at 'tok' (of
 * 'len' bytes).  Returns true on success. */
static bool
parse_esp_said__(const char *tok, size_t len, uint32_t *ret)
{
    if (len < 6 || memcmp(tok, "esp", 3) || (tok[3] != '.' && tok[3] != ':')) {
        return false;
    }
    uint64_t v = 0;
    size_t i = 4, digits = 0;
    for (; i < len && isxdigit((unsigned char) tok[i]); i++, digits++) {
        int c = tolower((unsigned char) tok[i]);
        v = v * 16 + (isdigit(c) ? c - '0' : c - 'a' + 10);
        if (digits >= 8) {
            return false;
        }
    }
    if (!digits || i >= len || tok[i] != '@') {
        return false;
    }
    *ret = v;
    return true;
}

/* '#N: ...' after the code prefix, with 's' past "#". */
static void
parse_state_line__(struct parser *p, struct span s)
{
    unsigned long serial;
    char *conn = NULL;

    if (!span_parse_ulong(&s, &serial) || !span_starts_with(s, ": ")) {
        return;
    }
    span_skip(&s, 2);
    if (!s.n || *s.p != '"') {
        return;                 /* "#6: pending Child SA for ...". */
    }
    conn = span_parse_conn_name(&s);
    if (!conn) {
        return;
    }

    /* A state line has " STATE_NAME (story);". */
    size_t paren = span_find(s, " (");
    size_t start = paren;
    while (start != SIZE_MAX && start > 0
           && is_state_name_char(s.p[start - 1])) {
        start--;
    }
    bool is_state = (paren != SIZE_MAX && start < paren
                     && (start == 0 || s.p[start - 1] == ' ')
                     && isupper((unsigned char) s.p[start]));
    if (is_state) {
        struct sa_state *st = add_state__(p);
        if (!st) {
            goto out;
        }
        st->serial = serial;
        st->conn = conn;
        conn = NULL;
        st->name = xmemdup0(s.p + start, paren - start);

        struct span rest = s;
        span_skip(&rest, paren + 2);
        size_t close = span_find(rest, ")");
        struct span story = { rest.p, close == SIZE_MAX ? rest.n : close };
        st->child = state_is_child__(st->name);
        st->established = state_is_established__(st->name, story);
        if (close != SIZE_MAX) {
            span_skip(&rest, close + 1);
        }
        st->newest = span_find(rest, " newest;") != SIZE_MAX;

        /* "IKE SA #M;" (4.x, 5.x), "ISAKMP SA #M;" (IKEv1),
         * "isakmp#M;" (3.x). */
        static const char *const parent_tags[] = {
            "IKE SA #", "ISAKMP SA #", "isakmp#", "parent #",
        };
        for (size_t i = 0; i < ARRAY_SIZE(parent_tags); i++) {
            size_t at = span_find(rest, parent_tags[i]);
            if (at != SIZE_MAX) {
                struct span num = rest;
                span_skip(&num, at + strlen(parent_tags[i]));
                unsigned long parent;
                if (span_parse_ulong(&num, &parent)) {
                    st->parent = parent;
                    st->child = true;
                }
                break;
            }
        }
    } else {
        /* The SAs of an established child: first outbound, then
         * inbound. */
        struct sa_state *st = find_state__(p, serial);
        if (!st || strcmp(st->conn, conn)) {
            goto out;
        }
        uint32_t spis[2];
        size_t n_spis = 0;
        while (s.n && n_spis < 2) {
            span_skip_spaces(&s);
            size_t len = 0;
            while (len < s.n && s.p[len] != ' ' && s.p[len] != '\t') {
                len++;
            }
            uint32_t spi;
            if (parse_esp_said__(s.p, len, &spi)) {
                spis[n_spis++] = spi;
            }
            span_skip(&s, len);
        }
        if (n_spis == 2 && spis[0] && spis[1]) {
            st->spi_out = spis[0];
            st->spi_in = spis[1];
            st->has_spis = true;
        }
    }
out:
    free(conn);
}

static void
parse_line__(struct parser *p, struct span s)
{
    while (s.n && (s.p[s.n - 1] == '\r' || s.p[s.n - 1] == ' ')) {
        s.n--;
    }
    strip_code__(&s);
    if (span_starts_with(s, "\"")) {
        parse_conn_line__(p, s);
    } else if (span_starts_with(s, "#")) {
        span_skip(&s, 1);
        parse_state_line__(p, s);
    }
}

/* ---- Putting it together. ---- */

/* Prefers 'b' over 'a' (either may be NULL) as the SA to report. */
static bool
better_state__(const struct sa_state *a, const struct sa_state *b,
               bool want_spis)
{
    if (!a) {
        return true;
    }
    /* Established (with SPIs, for children) beats anything else, then
     * "newest", then the higher serial. */
    bool a_up = a->established && (!want_spis || a->has_spis);
    bool b_up = b->established && (!want_spis || b->has_spis);
    if (a_up != b_up) {
        return b_up;
    }
    if (a->newest != b->newest) {
        return b->newest;
    }
    return b->serial > a->serial;
}

static void
summarize__(struct parser *p)
{
    struct conn_node *c;

    HMAP_FOR_EACH (c, node, &p->conns) {
        const struct sa_state *ike = NULL, *child = NULL;
        bool ike_up = false;

        for (size_t i = 0; i < p->n_states; i++) {
            const struct sa_state *st = &p->states[i];
            if (strcmp(st->conn, c->st.name)) {
                continue;
            }
            c->st.n_states++;
            if (st->child) {
                if (better_state__(child, st, true)) {
                    child = st;
                }
            } else {
                if (st->established) {
                    ike_up = true;
                }
                if (better_state__(ike, st, false)) {
                    ike = st;
                }
            }
        }

        if (child && child->established && child->has_spis) {
            c->st.esp_established = true;
            c->st.esp_spi_out = child->spi_out;
            c->st.esp_spi_in = child->spi_in;
            /* pluto may have negotiated the child over another
             * connection's IKE SA (it picks one per peer). */
            const struct sa_state *parent = (child->parent
                                             ? find_state__(p, child->parent)
                                             : NULL);
            if (parent && !parent->child && parent->established) {
                ike_up = true;
                if (!ike || !ike->established) {
                    ike = parent;
                }
            }
        }
        c->st.ike_established = ike_up;
        if (ike) {
            c->st.ike_serial = ike->serial;
            c->st.ike_state = xstrdup(ike->name);
        }
        if (child) {
            c->st.esp_serial = child->serial;
            c->st.esp_state = xstrdup(child->name);
        }
    }
}

static int
compare_conns__(const void *a_, const void *b_)
{
    const struct libreswan_conn_state *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

struct libreswan_status *
libreswan_status_parse(const char *text, size_t size)
{
    struct parser p;

    memset(&p, 0, sizeof p);
    hmap_init(&p.conns);

    /* Pass 1: connections and states, in any order. */
    size_t ofs = 0;
    while (ofs < size) {
        const char *nl = memchr(text + ofs, '\n', size - ofs);
        size_t len = nl ? (size_t) (nl - (text + ofs)) : size - ofs;
        const char *nul = memchr(text + ofs, '\0', len);
        struct span line = { text + ofs, nul ? (size_t) (nul - (text + ofs))
                                              : len };
        parse_line__(&p, line);
        ofs += len + 1;
    }

    /* States may name connections that the definition list does not
     * (truncated output, or a connection being deleted). */
    for (size_t i = 0; i < p.n_states; i++) {
        get_conn__(&p, p.states[i].conn);
    }
    summarize__(&p);

    struct libreswan_status *status = xzalloc(sizeof *status);
    status->truncated = p.truncated;
    status->n_conns = hmap_count(&p.conns);
    status->conns = xcalloc(MAX(status->n_conns, 1), sizeof *status->conns);
    size_t n = 0;
    struct conn_node *c, *next;
    HMAP_FOR_EACH_SAFE (c, next, node, &p.conns) {
        status->conns[n++] = c->st;
        hmap_remove(&p.conns, &c->node);
        free(c);
    }
    qsort(status->conns, n, sizeof *status->conns, compare_conns__);
    hmap_destroy(&p.conns);

    for (size_t i = 0; i < p.n_states; i++) {
        free(p.states[i].conn);
        free(p.states[i].name);
    }
    free(p.states);
    return status;
}

void
libreswan_status_destroy(struct libreswan_status *status)
{
    if (!status) {
        return;
    }
    for (size_t i = 0; i < status->n_conns; i++) {
        struct libreswan_conn_state *c = &status->conns[i];
        free(c->name);
        free(c->routing);
        free(c->ike_state);
        free(c->esp_state);
    }
    free(status->conns);
    free(status);
}

const struct libreswan_conn_state *
libreswan_status_find(const struct libreswan_status *status,
                      const char *name)
{
    if (!status || !status->n_conns) {
        return NULL;
    }
    struct libreswan_conn_state key = { .name = (char *) name };
    return bsearch(&key, status->conns, status->n_conns,
                   sizeof *status->conns, compare_conns__);
}

bool
libreswan_status_conn_is_up(const struct libreswan_status *status,
                            const char *name)
{
    const struct libreswan_conn_state *c = libreswan_status_find(status,
                                                                 name);
    return c && c->esp_established;
}

void
libreswan_conn_state_format(const struct libreswan_conn_state *c,
                            struct ds *out)
{
    ds_put_format(out, "%s: %s", c->name,
                  c->loaded ? "loaded" : "not loaded");
    if (c->routing) {
        ds_put_format(out, " (%s)", c->routing);
    }
    if (c->ike_serial) {
        ds_put_format(out, ", IKE #%lu %s", c->ike_serial,
                      c->ike_established ? "established" : c->ike_state);
    } else if (c->ike_established) {
        ds_put_cstr(out, ", IKE established");
    } else {
        ds_put_cstr(out, ", no IKE SA");
    }
    if (c->esp_established) {
        ds_put_format(out, ", ESP #%lu established (spi in 0x%08"PRIx32
                      " out 0x%08"PRIx32")", c->esp_serial, c->esp_spi_in,
                      c->esp_spi_out);
    } else if (c->esp_serial) {
        ds_put_format(out, ", ESP #%lu %s", c->esp_serial, c->esp_state);
    } else {
        ds_put_cstr(out, ", no ESP SA");
    }
}
