/* SPDX-License-Identifier: Apache-2.0
 *
 * ds: a growable, always NUL-terminated byte string ("dynamic string").
 * The struct owns 'string'.
 */
#ifndef OVSEC_DS_H
#define OVSEC_DS_H 1

#include <stdarg.h>
#include <stddef.h>
#include "util.h"

struct ds {
    char *string;       /* NUL-terminated once anything was added; else NULL. */
    size_t length;      /* Bytes in 'string', not counting the NUL. */
    size_t allocated;   /* Capacity of 'string', not counting the NUL. */
};

#define DS_EMPTY_INITIALIZER { NULL, 0, 0 }

void ds_init(struct ds *);
void ds_clear(struct ds *);
void ds_truncate(struct ds *, size_t new_length);
void ds_reserve(struct ds *, size_t min_length);
/* Makes room for 'n' more bytes and returns where they go; the caller
 * writes them.  Length grows by 'n'. */
char *ds_put_uninit(struct ds *, size_t n);
void ds_put_char(struct ds *, char);
void ds_put_char_multiple(struct ds *, char, size_t n);
void ds_put_buffer(struct ds *, const char *, size_t n);
void ds_put_cstr(struct ds *, const char *);
void ds_put_format(struct ds *, const char *, ...) PRINTF_FORMAT(2, 3);
void ds_put_format_valist(struct ds *, const char *, va_list)
    PRINTF_FORMAT(2, 0);
/* Appends 's' as a JSON-style quoted string with escapes. */
void ds_put_quoted(struct ds *, const char *s);
/* Returns the string, "" when empty; owned by 'ds'. */
const char *ds_cstr(struct ds *);
const char *ds_cstr_ro(const struct ds *);
/* Returns the string and leaves 'ds' empty; the caller frees it. */
char *ds_steal_cstr(struct ds *);
/* Removes trailing whitespace. */
void ds_chomp(struct ds *);
/* Frees the storage.  With ds_destroy_secure(), zeroes it first. */
void ds_destroy(struct ds *);
void ds_destroy_secure(struct ds *);

#endif /* ds.h */
