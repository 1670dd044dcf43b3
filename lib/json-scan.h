/* SPDX-License-Identifier: Apache-2.0
 *
 * json-scan: walks the members of a JSON object, or the elements of a JSON
 * array, in a text, without building the values.
 *
 * A jansson tree takes some 18 times the bytes of the text it comes from
 * (2.8 KB for a 150-byte OVSDB row), so a 2000-row OVSDB update decoded
 * whole costs 5.6 MB at once.  With this, the caller finds the spans of
 * the parts it wants and hands each to jansson on its own.
 *
 * Only the structure this walks through is checked here: strings and
 * nesting (so that a span ends where its value ends); the contents of a
 * span are left for jansson to check when the caller decodes it.  Keys
 * are decoded with jansson, escapes and all.
 */
#ifndef OVSEC_JSON_SCAN_H
#define OVSEC_JSON_SCAN_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A span of JSON text: one value, without surrounding white space. */
struct json_span {
    const char *p;
    size_t n;
};

/* An iteration over an object's members or an array's elements. */
struct json_scan {
    const char *p;              /* Next byte. */
    const char *end;            /* End of the container's text. */
    char close;                 /* '}' or ']'. */
    bool first;                 /* No member read yet. */
    bool done;                  /* The closing bracket was read. */
};

/* Starts iterating the object (if 'close' is '}') or array (']') that
 * 'span' holds.  Returns 0, or -EPROTO if 'span' is not one. */
int json_scan_init(struct json_scan *, struct json_span span, char close);

/* Stores in '*value' the span of the next element of an array.  Returns 1
 * if there was one, 0 at the end, -EPROTO if the text is malformed. */
int json_scan_next(struct json_scan *, struct json_span *value);

/* Same for an object: also stores its key, decoded, in '*key' (the caller
 * frees it; NULL when the return value is not 1). */
int json_scan_next_member(struct json_scan *, char **key,
                          struct json_span *value);

/* Decodes 'span' with jansson (any JSON value).  Returns a new reference,
 * or NULL if it is not valid JSON. */
json_t *json_scan_decode(struct json_span span);

#endif /* json-scan.h */
