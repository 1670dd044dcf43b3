/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "json-scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* Deepest nesting a skipped value may have, as jsonrpc allows. */
#define MAX_DEPTH 1024

static const char *
skip_ws__(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* Returns the end of the string that starts at 'p' (a '"'), past its
 * closing quote, or NULL if it does not end before 'end'. */
static const char *
skip_string__(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        } else if ((unsigned char) *p < 0x20) {
            return NULL;        /* Control characters must be escaped. */
        }
    }
    return NULL;
}

/* Returns the end of the value that starts at 'p', or NULL if it is
 * malformed or does not end before 'end'. */
static const char *
skip_value__(const char *p, const char *end)
{
    if (p >= end) {
        return NULL;
    } else if (*p == '"') {
        return skip_string__(p, end);
    } else if (*p == '{' || *p == '[') {
        char stack[MAX_DEPTH];
        unsigned int depth = 0;

        for (; p < end; p++) {
            char c = *p;
            if (c == '"') {
                p = skip_string__(p, end);
                if (!p) {
                    return NULL;
                }
                p--;
            } else if (c == '{' || c == '[') {
                if (depth >= MAX_DEPTH) {
                    return NULL;
                }
                stack[depth++] = c == '{' ? '}' : ']';
            } else if (c == '}' || c == ']') {
                if (!depth || stack[--depth] != c) {
                    return NULL;
                }
                if (!depth) {
                    return p + 1;
                }
            }
        }
        return NULL;
    } else {
        /* A number or a literal: up to the next delimiter. */
        const char *start = p;
        while (p < end && !strchr(",]} \t\n\r", *p)) {
            p++;
        }
        return p > start ? p : NULL;
    }
}

int
json_scan_init(struct json_scan *s, struct json_span span, char close)
{
    const char *p = skip_ws__(span.p, span.p + span.n);
    const char *end = span.p + span.n;

    while (end > p && strchr(" \t\n\r", end[-1])) {
        end--;
    }
    memset(s, 0, sizeof *s);
    if (p >= end || *p != (close == '}' ? '{' : '[') || end[-1] != close) {
        s->done = true;
        return -EPROTO;
    }
    s->p = p + 1;
    s->end = end - 1;
    s->close = close;
    s->first = true;
    return 0;
}

/* Moves past the separator before the next item.  Returns 1 if an item
 * follows, 0 at the end, -EPROTO if malformed. */
static int
next_item__(struct json_scan *s)
{
    if (s->done) {
        return 0;
    }
    s->p = skip_ws__(s->p, s->end);
    if (s->p == s->end) {
        s->done = true;
        return 0;
    }
    if (!s->first) {
        if (*s->p != ',') {
            s->done = true;
            return -EPROTO;
        }
        s->p = skip_ws__(s->p + 1, s->end);
        if (s->p == s->end) {
            s->done = true;
            return -EPROTO;     /* A trailing comma. */
        }
    }
    s->first = false;
    return 1;
}

static int
value__(struct json_scan *s, struct json_span *value)
{
    const char *end = skip_value__(s->p, s->end);

    if (!end) {
        s->done = true;
        return -EPROTO;
    }
    value->p = s->p;
    value->n = end - s->p;
    s->p = end;
    return 1;
}

int
json_scan_next(struct json_scan *s, struct json_span *value)
{
    int r = next_item__(s);

    return r == 1 ? value__(s, value) : r;
}

json_t *
json_scan_decode(struct json_span span)
{
    json_error_t jerr;

    return json_loadb(span.p, span.n, JSON_DECODE_ANY, &jerr);
}

int
json_scan_next_member(struct json_scan *s, char **keyp,
                      struct json_span *value)
{
    int r = next_item__(s);

    *keyp = NULL;
    if (r != 1) {
        return r;
    }

    const char *key_end = *s->p == '"' ? skip_string__(s->p, s->end) : NULL;
    json_t *key = NULL;
    if (key_end) {
        struct json_span span = { s->p, key_end - s->p };
        key = json_scan_decode(span);
    }
    if (!json_is_string(key)) {
        json_decref(key);
        s->done = true;
        return -EPROTO;
    }
    s->p = skip_ws__(key_end, s->end);
    if (s->p == s->end || *s->p != ':') {
        json_decref(key);
        s->done = true;
        return -EPROTO;
    }
    s->p = skip_ws__(s->p + 1, s->end);
    r = value__(s, value);
    if (r == 1) {
        *keyp = xmemdup0(json_string_value(key), json_string_length(key));
    }
    json_decref(key);
    return r;
}
