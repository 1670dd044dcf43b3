/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsdb-client: see ovsdb-client.h.
 *
 * The connection FSM is BACKOFF -> CONNECTING -> MONITORING -> ACTIVE, and
 * back to BACKOFF on any failure.  Every incoming message is validated in
 * full before any of it is applied, so a malformed or inconsistent update
 * never leaves the replica half-changed: it makes us reconnect, and the
 * resync then brings the replica back in line with the server.
 *
 * Change tracking keeps two values per row: 'old', the values as of the
 * owner's last ovsdb_client_clear_tracked() (NULL if the row did not exist
 * then), and 'cur', the latest values (still the last ones after a
 * delete).  A row's change is derived from those two and the 'deleted'
 * flag, never accumulated, so "modified and back again" or "inserted and
 * deleted" between two clears cancel out, and a resync that finds the same
 * contents reports nothing.
 *
 * Memory: a jansson tree takes some 18 times the bytes of its text, so
 * neither the replica nor a message's table updates are ever held as one.
 * The replica keeps each row's monitored columns as compact JSON text
 * (sorted keys, so equal values are equal strings; 'old' shares 'cur''s
 * string while the row is unchanged), decoded on demand for the owner
 * until the next run or clear.  A monitor reply or "update" is walked as
 * text (json-scan.h) and its row updates decoded one at a time: once to
 * validate the whole message, once to apply it.
 *
 * Nothing the server sends is ever logged verbatim: Interface options carry
 * pre-shared keys.
 */
#include "config.h"
#include "ovsdb-client.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "json-scan.h"
#include "jsonrpc.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "smap.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

LOG_MODULE(ovsdb_client);

#define BACKOFF_MIN_MS 1000         /* First retry delay after a failure. */
#define BACKOFF_MAX_MS 8000         /* Retry delay cap. */
#define CONNECT_TIMEOUT_MS 10000    /* For a connect() in progress. */
#define PROBE_MIN_MS 1000           /* Smallest nonzero probe interval. */
#define MAX_MSGS_PER_RUN 50         /* Then yield to the rest of the loop. */
#define MAX_BACKLOG (1024 * 1024)   /* Unsent bytes before giving up. */
#define UUID_LEN 36                 /* Text form, without the NUL. */
#define CACHED_ROWS 2               /* Rows decoded at once, per table. */

static const char monitor_id_string[] = "ovsec";

enum client_state {
    S_BACKOFF,                  /* Waiting for 'next_attempt'. */
    S_CONNECTING,               /* 'stream' is connecting. */
    S_MONITORING,               /* 'rpc' is up, monitor reply pending. */
    S_ACTIVE,                   /* Snapshot applied; following updates. */
};

/* A monitored table and its replica. */
struct ctable {
    char *name;                 /* Table name. */
    char **columns;             /* Monitored column names. */
    size_t n_columns;           /* Number of 'columns'. */
    struct hmap rows;           /* "struct ovsdb_client_row"s by UUID,
                                 * including deleted rows still tracked. */
    size_t n_live;              /* Rows in 'rows' not deleted. */
    struct ovs_list tracked;    /* Changed rows, via 'track_node'. */
    struct ovs_list cached;     /* Rows with decoded values, via
                                 * 'cache_node'. */
};

struct ovsdb_client_row {
    struct hmap_node hmap_node; /* In table's 'rows'. */
    struct ovs_list track_node; /* In table's 'tracked' if 'tracked'. */
    struct ctable *table;       /* The row's table. */
    char *cur;                  /* Column values: an object as compact
                                 * JSON, keys sorted; the last values if
                                 * deleted.  Never NULL. */
    char *old;                  /* Values at the last clear, the same way
                                 * (the very string 'cur' is while they
                                 * agree), or NULL if the row did not exist
                                 * then. */
    json_t *cur_json;           /* 'cur' and 'old' decoded for the owner, */
    json_t *old_json;           /* or NULL; see row_decoded__(). */
    struct ovs_list cache_node; /* In table's 'cached' if either is set. */
    bool deleted;               /* Gone from the server. */
    bool tracked;               /* In 'table->tracked'. */
    enum ovsdb_client_change change;    /* Derived from the above. */
    unsigned int gen;           /* Resync generation that last saw it. */
    char uuid[UUID_LEN + 1];    /* Lower-case text form. */
};

struct ovsdb_client {
    char *remote;               /* "unix:PATH" or "tcp:IP:PORT". */
    char *database;             /* Database name. */
    struct ctable *tables;      /* Monitored tables. */
    size_t n_tables;            /* Number of 'tables'. */

    enum client_state state;    /* Connection FSM state. */
    long long int state_entered;    /* time_msec() when 'state' began. */
    struct stream *stream;      /* Connecting stream (S_CONNECTING). */
    struct jsonrpc *rpc;        /* Session (S_MONITORING, S_ACTIVE). */
    json_t *monitor_req_id;     /* Id of the pending monitor request. */
    json_t *monitor_id;         /* Our <json-value> naming the monitor. */
    json_t *probe_id;           /* Id of our pending echo, or NULL. */
    long long int probe_sent;   /* When 'probe_id' was sent. */
    long long int last_rx;      /* When the last message arrived. */
    int probe_interval;         /* Milliseconds, 0 for none. */
    bool more_input;            /* Stopped reading at MAX_MSGS_PER_RUN. */

    long long int next_attempt; /* Next connection attempt (S_BACKOFF). */
    int backoff;                /* Current retry delay in ms. */
    long long int synced_at;    /* When S_ACTIVE began. */

    bool has_snapshot;          /* A snapshot was applied once. */
    char *last_error;           /* Status text, or NULL. */
    uint64_t seqno;             /* See ovsdb_client_get_seqno(). */
    unsigned int gen;           /* Resync generation counter. */
};

static struct log_rate_limit rl = LOG_RATE_LIMIT_INIT(10, 5);

static void disconnect__(struct ovsdb_client *);
static void row_retrack__(struct ovsdb_client_row *);

/* Datum parsing. */

static bool
is_uuid__(const char *s)
{
    for (size_t i = 0; i < UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return s[UUID_LEN] == '\0';
}

/* Returns NULL if 'atom' is an RFC 7047 <atom>, otherwise a static reason. */
static const char *
verify_atom__(const json_t *atom)
{
    switch (json_typeof(atom)) {
    case JSON_STRING:
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
        return NULL;
    case JSON_ARRAY: {
        const char *kind = json_string_value(json_array_get(atom, 0));
        const char *id = json_string_value(json_array_get(atom, 1));

        if (json_array_size(atom) != 2 || !kind || !id) {
            return "expected an atom";
        } else if (!strcmp(kind, "uuid")) {
            return is_uuid__(id) ? NULL : "malformed UUID";
        } else if (!strcmp(kind, "named-uuid")) {
            return NULL;
        }
        return "expected an atom";
    }
    case JSON_OBJECT:
    case JSON_NULL:
    default:
        return "expected an atom";
    }
}

char *
ovsdb_client_datum_verify(const json_t *datum)
{
    const char *kind = json_string_value(json_array_get(datum, 0));
    const json_t *elems = json_array_get(datum, 1);
    const char *why;
    size_t i;
    json_t *e;

    if (!datum) {
        return xstrdup("missing value");
    } else if (!json_is_array(datum) || !kind
               || (strcmp(kind, "set") && strcmp(kind, "map"))) {
        why = verify_atom__(datum);
        return why ? xasprintf("%s", why) : NULL;
    } else if (json_array_size(datum) != 2 || !json_is_array(elems)) {
        return xasprintf("malformed %s", kind);
    }

    json_array_foreach (elems, i, e) {
        if (!strcmp(kind, "set")) {
            why = verify_atom__(e);
            if (why) {
                return xasprintf("set element %zu: %s", i, why);
            }
        } else if (!json_is_array(e) || json_array_size(e) != 2) {
            return xasprintf("map element %zu: expected [key, value]", i);
        } else {
            why = verify_atom__(json_array_get(e, 0));
            if (why) {
                return xasprintf("map element %zu: key: %s", i, why);
            }
            why = verify_atom__(json_array_get(e, 1));
            if (why) {
                return xasprintf("map element %zu: value: %s", i, why);
            }
        }
    }
    return NULL;
}

/* Returns the only element of 'datum' if it is a bare atom or a set of one
 * element; otherwise (an empty or bigger set, a map, NULL) returns NULL. */
static const json_t *
optional_atom__(const json_t *datum)
{
    const char *kind = json_string_value(json_array_get(datum, 0));

    if (json_is_array(datum) && kind && !strcmp(kind, "set")) {
        const json_t *elems = json_array_get(datum, 1);
        return (json_array_size(datum) == 2 && json_array_size(elems) == 1
                ? json_array_get(elems, 0) : NULL);
    } else if (json_is_array(datum) && kind && !strcmp(kind, "map")) {
        return NULL;
    }
    return datum;
}

const char *
ovsdb_client_datum_get_string(const json_t *datum)
{
    return json_string_value(optional_atom__(datum));
}

bool
ovsdb_client_datum_get_optional_int(const json_t *datum, int64_t *ret)
{
    const json_t *atom = optional_atom__(datum);

    if (json_is_integer(atom)) {
        *ret = json_integer_value(atom);
        return true;
    }
    return false;
}

bool
ovsdb_client_datum_get_optional_bool(const json_t *datum, bool *ret)
{
    const json_t *atom = optional_atom__(datum);

    if (json_is_boolean(atom)) {
        *ret = json_is_true(atom);
        return true;
    }
    return false;
}

int
ovsdb_client_datum_get_smap(const json_t *datum, struct smap *smap)
{
    const char *kind = json_string_value(json_array_get(datum, 0));
    const json_t *pairs = json_array_get(datum, 1);
    size_t i;
    json_t *pair;

    smap_clear(smap);
    if (!datum) {
        return 0;
    } else if (!json_is_array(datum) || json_array_size(datum) != 2
               || !kind || !json_is_array(pairs)) {
        return -EINVAL;
    } else if (!strcmp(kind, "set")) {
        /* An empty map may come as an empty set. */
        return json_array_size(pairs) ? -EINVAL : 0;
    } else if (strcmp(kind, "map")) {
        return -EINVAL;
    }

    json_array_foreach (pairs, i, pair) {
        const char *key = json_string_value(json_array_get(pair, 0));
        const char *value = json_string_value(json_array_get(pair, 1));

        if (json_array_size(pair) != 2 || !key || !value) {
            smap_clear(smap);
            return -EINVAL;
        }
        smap_replace(smap, key, value);
    }
    return 0;
}

/* Tables and rows. */

static struct ctable *
find_table__(const struct ovsdb_client *c, const char *name)
{
    for (size_t i = 0; name && i < c->n_tables; i++) {
        if (!strcmp(c->tables[i].name, name)) {
            return &c->tables[i];
        }
    }
    return NULL;
}

static uint32_t
hash_uuid__(const char *uuid)
{
    return hash_bytes(uuid, UUID_LEN, 0);
}

/* Returns the row of 't' (live or deleted-but-tracked) with 'uuid', which
 * must be lower-case, or NULL. */
static struct ovsdb_client_row *
find_row__(const struct ctable *t, const char *uuid)
{
    struct ovsdb_client_row *row;

    HMAP_FOR_EACH_WITH_HASH (row, hmap_node, hash_uuid__(uuid), &t->rows) {
        if (!strcmp(row->uuid, uuid)) {
            return row;
        }
    }
    return NULL;
}

/* Stores the lower-case form of 'uuid', which is_uuid__() accepted, in
 * 'out'. */
static void
normalize_uuid__(const char *uuid, char out[UUID_LEN + 1])
{
    for (size_t i = 0; i < UUID_LEN; i++) {
        out[i] = tolower((unsigned char) uuid[i]);
    }
    out[UUID_LEN] = '\0';
}

/* Drops the decoded values of 'row'. */
static void
row_uncache__(struct ovsdb_client_row *row)
{
    if (row->cur_json || row->old_json) {
        json_decref(row->cur_json);
        json_decref(row->old_json);
        row->cur_json = row->old_json = NULL;
        ovs_list_remove(&row->cache_node);
    }
}

static void
uncache_all__(struct ovsdb_client *c)
{
    for (size_t i = 0; i < c->n_tables; i++) {
        struct ovsdb_client_row *row, *next;

        LIST_FOR_EACH_SAFE (row, next, cache_node, &c->tables[i].cached) {
            row_uncache__(row);
        }
    }
}

/* Returns the values of 'row' ('old' ones if 'old'), decoded, or NULL if
 * it has none.  They stay decoded until the next ovsdb_client_run() or
 * ovsdb_client_clear_tracked(), or until the values of CACHED_ROWS other
 * rows of the table have been decoded since: an owner going through
 * thousands of changed rows holds a few decoded at a time, not all. */
static const json_t *
row_decoded__(const struct ovsdb_client_row *row_, bool old)
{
    /* The decoded values are a cache: the row does not change. */
    struct ovsdb_client_row *row = (struct ovsdb_client_row *) row_;
    const char *text = old ? row->old : row->cur;
    json_t **slot = old ? &row->old_json : &row->cur_json;

    if (text && !*slot) {
        json_error_t jerr;

        if (!row->cur_json && !row->old_json) {
            struct ovs_list *cached = &row->table->cached;
            if (ovs_list_size(cached) >= CACHED_ROWS) {
                row_uncache__(CONTAINER_OF(cached->next,
                                           struct ovsdb_client_row,
                                           cache_node));
            }
            ovs_list_push_back(cached, &row->cache_node);
        }
        /* Our own encoding of an object: only memory can fail it. */
        *slot = json_loads(text, 0, &jerr);
        if (!*slot) {
            out_of_memory();
        }
    }
    return *slot;
}

/* Encodes 'values' (an object) as the replica keeps it. */
static char *
row_encode__(const json_t *values)
{
    char *text = json_dumps(values, JSON_COMPACT | JSON_SORT_KEYS);

    if (!text) {
        out_of_memory();
    }
    return text;
}

static void
row_free__(struct ovsdb_client_row *row)
{
    if (row) {
        row_uncache__(row);
        if (row->old != row->cur) {
            free(row->old);
        }
        free(row->cur);
        free(row);
    }
}

/* Replaces the current values of 'row' by 'text' (taken). */
static void
row_set_cur__(struct ovsdb_client_row *row, char *text)
{
    if (row->cur_json) {
        json_decref(row->cur_json);
        row->cur_json = NULL;
        if (!row->old_json) {
            ovs_list_remove(&row->cache_node);
        }
    }
    if (row->cur != row->old) {
        free(row->cur);
    }
    row->cur = text;
}

/* Recomputes 'row->change' and puts the row on, or takes it off, its
 * table's tracked list.  Frees the row if it was both inserted and deleted
 * since the last clear. */
static void
row_retrack__(struct ovsdb_client_row *row)
{
    struct ctable *t = row->table;

    if (!row->old) {
        row->change = row->deleted ? OVSDB_CLIENT_CHANGE_N
                                   : OVSDB_CLIENT_INSERTED;
    } else if (row->deleted) {
        row->change = OVSDB_CLIENT_DELETED;
    } else {
        row->change = !strcmp(row->old, row->cur)
                      ? OVSDB_CLIENT_UNCHANGED : OVSDB_CLIENT_MODIFIED;
    }

    if (row->change == OVSDB_CLIENT_UNCHANGED
        || row->change == OVSDB_CLIENT_CHANGE_N) {
        if (row->tracked) {
            ovs_list_remove(&row->track_node);
            row->tracked = false;
        }
        if (row->change == OVSDB_CLIENT_CHANGE_N) {
            /* Never seen by the owner: forget it entirely. */
            hmap_remove(&t->rows, &row->hmap_node);
            row_free__(row);
        }
    } else if (!row->tracked) {
        ovs_list_push_back(&t->tracked, &row->track_node);
        row->tracked = true;
    }
}

/* Returns the monitored columns of 't' found in 'values', encoded; when
 * 'base' (encoded) is nonnull, columns missing from 'values' keep their
 * values from 'base'. */
static char *
filter_columns__(const struct ctable *t, const json_t *values,
                 const char *base)
{
    json_error_t jerr;
    json_t *row = base ? json_loads(base, 0, &jerr) : json_object();

    if (!row) {
        out_of_memory();
    }
    for (size_t i = 0; i < t->n_columns; i++) {
        json_t *datum = json_object_get(values, t->columns[i]);
        if (datum) {
            json_object_set(row, t->columns[i], datum);
        }
    }
    char *text = row_encode__(row);
    json_decref(row);
    return text;
}

/* Sets the values of 'row' to 'values' (encoded, taken) and marks it live.
 * Returns true if that changed anything.  May free 'row'. */
static bool
row_set__(struct ovsdb_client_row *row, char *values)
{
    bool changed = row->deleted || strcmp(row->cur, values);

    row_set_cur__(row, values);
    if (row->deleted) {
        row->deleted = false;
        row->table->n_live++;
    }
    row_retrack__(row);
    return changed;
}

/* Marks 'row' deleted.  May free it. */
static void
row_delete__(struct ovsdb_client_row *row)
{
    if (!row->deleted) {
        row->deleted = true;
        row->table->n_live--;
        row_retrack__(row);
    }
}

/* Inserts a new live row with 'uuid' (lower-case) and 'values' (encoded,
 * taken) into 't'. */
static struct ovsdb_client_row *
row_insert__(struct ctable *t, const char *uuid, char *values)
{
    struct ovsdb_client_row *row = xzalloc(sizeof *row);

    row->table = t;
    row->cur = values;
    memcpy(row->uuid, uuid, sizeof row->uuid);
    hmap_insert(&t->rows, &row->hmap_node, hash_uuid__(row->uuid));
    t->n_live++;
    row_retrack__(row);
    return row;
}

/* Validation of <table-updates>.  Messages name the table, row and column,
 * never a value. */

enum update_kind {
    U_INSERT,                   /* "new" only. */
    U_MODIFY,                   /* "old" and "new". */
    U_DELETE,                   /* "old" only. */
};

static char *
verify_row_update__(const struct ctable *t, const char *uuid,
                    const json_t *ru, bool snapshot, enum update_kind *kind)
{
    const json_t *old = json_object_get(ru, "old");
    const json_t *new = json_object_get(ru, "new");

    if (!json_is_object(ru)) {
        return xasprintf("%s row %s: expected an object", t->name, uuid);
    } else if ((old && !json_is_object(old))
               || (new && !json_is_object(new))) {
        return xasprintf("%s row %s: \"old\" and \"new\" must be objects",
                         t->name, uuid);
    } else if (!old && !new) {
        return xasprintf("%s row %s: neither \"old\" nor \"new\"",
                         t->name, uuid);
    } else if (snapshot && (old || !new)) {
        return xasprintf("%s row %s: initial contents must have only "
                         "\"new\"", t->name, uuid);
    }
    *kind = !old ? U_INSERT : new ? U_MODIFY : U_DELETE;

    for (size_t i = 0; new && i < t->n_columns; i++) {
        const json_t *datum = json_object_get(new, t->columns[i]);
        char *why = datum ? ovsdb_client_datum_verify(datum) : NULL;

        if (why) {
            char *msg = xasprintf("%s row %s column %s: %s",
                                  t->name, uuid, t->columns[i], why);
            free(why);
            return msg;
        }
    }
    return NULL;
}

/* Called for each row update of a <table-updates> text with its table,
 * its key and its decoded value; returns NULL to go on or an error
 * message (the caller frees it) to stop. */
typedef char *row_update_func(struct ovsdb_client *, struct ctable *,
                              const char *uuid_text, const json_t *ru,
                              void *aux);

/* Walks the <table-updates> text 'updates', decoding one row update at a
 * time for 'cb'.  Returns NULL, or an error message from 'cb' or about the
 * text's structure (the caller frees it). */
static char *
for_each_row_update__(struct ovsdb_client *c, struct json_span updates,
                      row_update_func *cb, void *aux)
{
    struct json_scan tables;
    struct json_span table_span;
    char *table_name;
    int r;

    if (json_scan_init(&tables, updates, '}')) {
        return xstrdup("table updates: expected an object");
    }
    while ((r = json_scan_next_member(&tables, &table_name,
                                      &table_span)) == 1) {
        struct ctable *t = find_table__(c, table_name);
        struct json_span ru_span;
        struct json_scan rows;
        char *uuid_text;
        char *error = NULL;

        if (!t) {
            error = xasprintf("unexpected table \"%.64s\"", table_name);
        } else if (json_scan_init(&rows, table_span, '}')) {
            error = xasprintf("%s: expected an object", t->name);
        }
        free(table_name);
        if (error) {
            return error;
        }
        while ((r = json_scan_next_member(&rows, &uuid_text,
                                          &ru_span)) == 1) {
            json_t *ru = json_scan_decode(ru_span);

            error = (ru ? cb(c, t, uuid_text, ru, aux)
                     : xasprintf("%s: malformed row update", t->name));
            json_decref(ru);
            free(uuid_text);
            if (error) {
                return error;
            }
        }
        if (r < 0) {
            return xasprintf("%s: malformed row updates", t->name);
        }
    }
    return r < 0 ? xstrdup("table updates: malformed") : NULL;
}

/* What verify_updates__() counts. */
struct verify_ctx {
    bool snapshot;
    size_t *n_inserts;          /* Per table, indexed like 'c->tables'. */
};

static char *
verify_one__(struct ovsdb_client *c, struct ctable *t, const char *uuid_text,
             const json_t *ru, void *ctx_)
{
    struct verify_ctx *ctx = ctx_;
    char uuid[UUID_LEN + 1];
    enum update_kind kind = U_INSERT;
    char *error;

    if (!is_uuid__(uuid_text)) {
        return xasprintf("%s: malformed row UUID", t->name);
    }
    normalize_uuid__(uuid_text, uuid);
    error = verify_row_update__(t, uuid, ru, ctx->snapshot, &kind);
    if (error) {
        return error;
    }
    if (!ctx->snapshot) {
        const struct ovsdb_client_row *row = find_row__(t, uuid);
        bool live = row && !row->deleted;

        if (kind == U_INSERT && live) {
            return xasprintf("%s row %s: insert of an existing row",
                             t->name, uuid);
        } else if (kind != U_INSERT && !live) {
            return xasprintf("%s row %s: %s of a missing row",
                             t->name, uuid,
                             kind == U_MODIFY ? "modify" : "delete");
        }
    }
    ctx->n_inserts[t - c->tables] += kind == U_INSERT;
    return NULL;
}

/* Returns NULL if 'updates' is a <table-updates> text that can be applied
 * to the replica as a whole ('snapshot': as the monitor reply replacing
 * it), otherwise a new message; the caller frees it. */
static char *
verify_updates__(struct ovsdb_client *c, struct json_span updates,
                 bool snapshot)
{
    struct verify_ctx ctx = {
        .snapshot = snapshot,
        .n_inserts = xcalloc(c->n_tables ? c->n_tables : 1,
                             sizeof *ctx.n_inserts),
    };
    char *error = for_each_row_update__(c, updates, verify_one__, &ctx);

    for (size_t i = 0; !error && i < c->n_tables; i++) {
        const struct ctable *t = &c->tables[i];
        if ((snapshot ? 0 : t->n_live) + ctx.n_inserts[i]
            > OVSDB_CLIENT_MAX_ROWS) {
            error = xasprintf("%s: more than %u rows", t->name,
                              OVSDB_CLIENT_MAX_ROWS);
        }
    }
    free(ctx.n_inserts);
    return error;
}

/* Applies one row update, already checked, as an incremental update. */
static char *
apply_one__(struct ovsdb_client *c OVS_UNUSED__, struct ctable *t,
            const char *uuid_text, const json_t *ru, void *changed_)
{
    const json_t *old = json_object_get(ru, "old");
    const json_t *new = json_object_get(ru, "new");
    bool *changed = changed_;
    struct ovsdb_client_row *row;
    char uuid[UUID_LEN + 1];

    /* Act on the row as it is now, not as validated: two keys may differ
     * only in case and name the same row. */
    normalize_uuid__(uuid_text, uuid);
    row = find_row__(t, uuid);
    if (!new) {
        if (row && !row->deleted) {
            row_delete__(row);
            *changed = true;
        }
    } else if (row) {
        /* A modify, or an insert reviving a tracked deleted row. */
        const char *base = old && !row->deleted ? row->cur : NULL;
        *changed |= row_set__(row, filter_columns__(t, new, base));
    } else {
        row_insert__(t, uuid, filter_columns__(t, new, NULL));
        *changed = true;
    }
    return NULL;
}

/* Applies 'updates', already checked by verify_updates__(), as an
 * incremental update.  Returns true if the replica changed. */
static bool
apply_update__(struct ovsdb_client *c, struct json_span updates)
{
    bool changed = false;

    free(for_each_row_update__(c, updates, apply_one__, &changed));
    return changed;
}

struct snapshot_ctx {
    unsigned int gen;
    bool changed;
};

static char *
apply_snapshot_one__(struct ovsdb_client *c OVS_UNUSED__, struct ctable *t,
                     const char *uuid_text, const json_t *ru, void *ctx_)
{
    struct snapshot_ctx *ctx = ctx_;
    char *values = filter_columns__(t, json_object_get(ru, "new"), NULL);
    struct ovsdb_client_row *row;
    char uuid[UUID_LEN + 1];

    normalize_uuid__(uuid_text, uuid);
    row = find_row__(t, uuid);
    if (row) {
        row->gen = ctx->gen;
        ctx->changed |= row_set__(row, values);
    } else {
        row_insert__(t, uuid, values)->gen = ctx->gen;
        ctx->changed = true;
    }
    return NULL;
}

/* Replaces the replica by 'updates', a snapshot already checked by
 * verify_updates__(), keeping rows whose values did not change.  Returns
 * true if the replica changed. */
static bool
apply_snapshot__(struct ovsdb_client *c, struct json_span updates)
{
    struct snapshot_ctx ctx = { .gen = ++c->gen };

    free(for_each_row_update__(c, updates, apply_snapshot_one__, &ctx));

    /* Rows the snapshot does not mention are gone. */
    for (size_t i = 0; i < c->n_tables; i++) {
        struct ovsdb_client_row *row, *next;

        HMAP_FOR_EACH_SAFE (row, next, hmap_node, &c->tables[i].rows) {
            if (!row->deleted && row->gen != ctx.gen) {
                row_delete__(row);
                ctx.changed = true;
            }
        }
    }
    return ctx.changed;
}

/* Connection. */

static bool
is_connected__(const struct ovsdb_client *c)
{
    return c->state == S_MONITORING || c->state == S_ACTIVE;
}

static void
set_state__(struct ovsdb_client *c, enum client_state state)
{
    bool was_connected = is_connected__(c);
    bool was_synced = c->state == S_ACTIVE;

    c->state = state;
    c->state_entered = time_msec();
    if (was_connected != is_connected__(c)
        || was_synced != (c->state == S_ACTIVE)) {
        c->seqno++;
    }
}

static void
set_error__(struct ovsdb_client *c, char *error)
{
    free(c->last_error);
    c->last_error = error;
}

static void
disconnect__(struct ovsdb_client *c)
{
    stream_close(c->stream);
    c->stream = NULL;
    jsonrpc_close(c->rpc);
    c->rpc = NULL;
    json_decref(c->monitor_req_id);
    c->monitor_req_id = NULL;
    json_decref(c->probe_id);
    c->probe_id = NULL;
    c->more_input = false;
}

/* Drops the connection because of 'error' (a new string, taken) and
 * schedules the next attempt. */
static void
fail__(struct ovsdb_client *c, char *error)
{
    long long int now = time_msec();

    if (c->state == S_ACTIVE && now - c->synced_at >= BACKOFF_MAX_MS) {
        /* A session that worked for a while ended: retry at once. */
        c->backoff = 0;
    } else {
        c->backoff = c->backoff ? MIN(c->backoff * 2, BACKOFF_MAX_MS)
                                : BACKOFF_MIN_MS;
    }
    c->next_attempt = now + c->backoff;

    if (c->backoff) {
        LOG_WARN_RL(&rl, "%s: %s, retrying in %d ms",
                    c->remote, error, c->backoff);
    } else {
        LOG_INFO("%s: %s, reconnecting", c->remote, error);
    }
    set_error__(c, xasprintf("%s: %s", c->remote, error));
    free(error);

    disconnect__(c);
    set_state__(c, S_BACKOFF);
}

static char *
errno_text__(const char *what, int error)
{
    return xasprintf("%s (%s)", what, ovsec_strerror(error));
}

static char *
rpc_error_text__(int error)
{
    switch (error) {
    case -EPIPE:
        return xstrdup("connection closed by server");
    case -EPROTO:
        return xstrdup("received invalid JSON-RPC");
    case -EMSGSIZE:
        return xstrdup("received a message that is too long");
    default:
        return errno_text__("connection failed", error);
    }
}

static void
send_monitor__(struct ovsdb_client *c)
{
    json_t *requests = json_object();

    for (size_t i = 0; i < c->n_tables; i++) {
        const struct ctable *t = &c->tables[i];
        json_t *columns = json_array();

        for (size_t j = 0; j < t->n_columns; j++) {
            json_array_append_new(columns, json_string(t->columns[j]));
        }
        json_object_set_new(requests, t->name,
                            json_pack("{s:o}", "columns", columns));
    }

    json_t *params = json_pack("[s, O, o]", c->database, c->monitor_id,
                               requests);
    json_decref(c->monitor_req_id);
    jsonrpc_send(c->rpc, jsonrpc_create_request("monitor", params,
                                                &c->monitor_req_id));
}

static void
start_connect__(struct ovsdb_client *c)
{
    int error = stream_open(c->remote, &c->stream);

    if (error) {
        fail__(c, errno_text__("connection failed", error));
        return;
    }
    LOG_DBG("%s: connecting", c->remote);
    set_state__(c, S_CONNECTING);
}

static void
connected__(struct ovsdb_client *c)
{
    LOG_INFO("%s: connected", c->remote);
    c->rpc = jsonrpc_open(c->stream);
    c->stream = NULL;
    c->last_rx = time_msec();
    set_state__(c, S_MONITORING);
    send_monitor__(c);
}

/* Formats the "error" member of a failed reply for status text. */
static char *
format_reply_error__(const json_t *error)
{
    const char *text = json_string_value(json_object_get(error, "error"));
    const char *details = json_string_value(json_object_get(error,
                                                            "details"));

    if (json_is_string(error)) {
        return xasprintf("%.200s", json_string_value(error));
    } else if (text && details) {
        return xasprintf("%.100s (%.200s)", text, details);
    } else if (text) {
        return xasprintf("%.100s", text);
    }
    return xstrdup("unknown error");
}

/* Handles the reply 'msg' to our monitor request, whose "result" is the
 * text 'result' (p NULL if absent).  Returns NULL, or an error message
 * (the caller frees it). */
static char *
handle_monitor_reply__(struct ovsdb_client *c, const json_t *msg,
                       struct json_span result)
{
    const json_t *error = json_object_get(msg, "error");
    char *why;

    if (error && !json_is_null(error)) {
        char *text = format_reply_error__(error);
        why = xasprintf("monitor request failed: %s", text);
        free(text);
        return why;
    }
    if (!result.p) {
        return xstrdup("malformed monitor reply: no result");
    }
    why = verify_updates__(c, result, true);
    if (why) {
        char *msg_text = xasprintf("malformed monitor reply: %s", why);
        free(why);
        return msg_text;
    }

    if (apply_snapshot__(c, result)) {
        c->seqno++;
    }
    json_decref(c->monitor_req_id);
    c->monitor_req_id = NULL;
    c->has_snapshot = true;
    c->backoff = 0;
    c->synced_at = time_msec();
    set_error__(c, NULL);
    set_state__(c, S_ACTIVE);
    LOG_INFO("%s: monitoring database %s", c->remote, c->database);
    return NULL;
}

/* Handles an "update" notification with 'params', whose second element
 * is the text 'updates'.  Returns NULL or an error message (the caller
 * frees it). */
static char *
handle_update__(struct ovsdb_client *c, const json_t *params,
                struct json_span updates)
{
    char *why;

    if (c->state != S_ACTIVE) {
        return xstrdup("update received before the monitor reply");
    } else if (json_array_size(params) != 2 || !updates.p
               || !json_equal(json_array_get(params, 0), c->monitor_id)) {
        return xstrdup("update for an unknown monitor");
    }
    why = verify_updates__(c, updates, false);
    if (why) {
        char *msg = xasprintf("malformed update: %s", why);
        free(why);
        return msg;
    }
    if (apply_update__(c, updates)) {
        c->seqno++;
    }
    return NULL;
}

/* Handles the request or notification 'msg' with 'method'.  Returns NULL
 * or an error message (the caller frees it). */
static char *
handle_method__(struct ovsdb_client *c, const char *method,
                const json_t *msg, struct json_span bulk)
{
    const json_t *params = json_object_get(msg, "params");
    const json_t *id = json_object_get(msg, "id");
    bool is_request = id && !json_is_null(id);

    if (!json_is_array(params)) {
        return xasprintf("\"%.64s\" message without params array", method);
    }

    if (!strcmp(method, "echo")) {
        if (is_request) {
            jsonrpc_send(c->rpc, jsonrpc_create_reply(json_deep_copy(params),
                                                      id));
        }
        return NULL;
    } else if (!strcmp(method, "update") && !is_request) {
        return handle_update__(c, params, bulk);
    } else if (!strcmp(method, "monitor_canceled") && !is_request) {
        return xstrdup("server canceled the monitor");
    }

    LOG_WARN_RL(&rl, "%s: ignoring unexpected \"%.64s\" %s",
                c->remote, method, is_request ? "request" : "notification");
    if (is_request) {
        jsonrpc_send(c->rpc, jsonrpc_create_error(json_string("unknown "
                                                              "method"),
                                                  id));
    }
    return NULL;
}

/* Decodes the message 'text', except for its table updates: the
 * "result" of the reply to our monitor request, or the second element of
 * an "update"'s "params", whose text goes to '*bulk' (p NULL if none).
 * Returns the message, NULL if the text is not a JSON object. */
static json_t *
decode_msg__(const struct ovsdb_client *c, const char *text, size_t len,
             struct json_span *bulk)
{
    struct json_span whole = { text, len }, span;
    struct json_span params = { NULL, 0 }, result = { NULL, 0 };
    json_t *msg = json_object();
    struct json_scan scan;
    char *key;
    int r;

    bulk->p = NULL;
    bulk->n = 0;
    if (json_scan_init(&scan, whole, '}')) {
        json_decref(msg);
        return NULL;
    }
    while ((r = json_scan_next_member(&scan, &key, &span)) == 1) {
        if (!strcmp(key, "params")) {
            params = span;
        } else if (!strcmp(key, "result")) {
            result = span;
        } else {
            json_t *value = json_scan_decode(span);
            if (!value) {
                r = -1;
                free(key);
                break;
            }
            json_object_set_new(msg, key, value);
        }
        free(key);
    }
    if (r < 0) {
        json_decref(msg);
        return NULL;
    }

    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *id = json_object_get(msg, "id");
    struct json_scan elems;
    if (params.p && method && !strcmp(method, "update")
        && !json_scan_init(&elems, params, ']')) {
        /* [<monitor id>, <table updates>]: the second stays text. */
        json_t *array = json_array();
        size_t n = 0;

        while ((r = json_scan_next(&elems, &span)) == 1) {
            json_t *value = n == 1 ? json_null() : json_scan_decode(span);
            if (!value) {
                r = -1;
                break;
            }
            if (n++ == 1) {
                *bulk = span;
            }
            json_array_append_new(array, value);
        }
        if (r < 0) {
            json_decref(array);
            json_decref(msg);
            return NULL;
        }
        json_object_set_new(msg, "params", array);
        params.p = NULL;
    } else if (result.p && id && c->monitor_req_id
               && json_equal(id, c->monitor_req_id)) {
        *bulk = result;
        json_object_set_new(msg, "result", json_null());
        result.p = NULL;
    }
    for (int i = 0; i < 2; i++) {
        struct json_span rest = i ? result : params;
        if (rest.p) {
            json_t *value = json_scan_decode(rest);
            if (!value) {
                json_decref(msg);
                return NULL;
            }
            json_object_set_new(msg, i ? "result" : "params", value);
        }
    }
    return msg;
}

/* Handles one received message, with 'bulk' as decode_msg__() found it.
 * Returns NULL, or an error message after which the caller reconnects (and
 * frees the message). */
static char *
handle_msg__(struct ovsdb_client *c, const json_t *msg, struct json_span bulk)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *id = json_object_get(msg, "id");

    if (method) {
        return handle_method__(c, method, msg, bulk);
    } else if (!id || (!json_object_get(msg, "result")
                       && !json_object_get(msg, "error"))) {
        return xstrdup("received a message that is neither a request nor "
                       "a reply");
    } else if (c->monitor_req_id && json_equal(id, c->monitor_req_id)) {
        return handle_monitor_reply__(c, msg, bulk);
    } else if (c->probe_id && json_equal(id, c->probe_id)) {
        json_decref(c->probe_id);
        c->probe_id = NULL;
        return NULL;
    }
    return xstrdup("received a reply to no request");
}

/* Sends an inactivity probe or gives up on the session if one went
 * unanswered. */
static void
run_probe__(struct ovsdb_client *c, long long int now)
{
    if (!c->probe_interval) {
        return;
    } else if (c->probe_id) {
        if (now >= c->probe_sent + c->probe_interval) {
            fail__(c, xasprintf("no response to inactivity probe after "
                                "%d ms", c->probe_interval));
        }
    } else if (now >= c->last_rx + c->probe_interval) {
        jsonrpc_send(c->rpc, jsonrpc_create_request("echo", json_array(),
                                                    &c->probe_id));
        c->probe_sent = now;
    }
}

static void
run_session__(struct ovsdb_client *c)
{
    int i;

    jsonrpc_run(c->rpc);
    for (i = 0; c->rpc && i < MAX_MSGS_PER_RUN; i++) {
        struct json_span bulk;
        const char *text;
        size_t len;
        int error = jsonrpc_recv_text(c->rpc, &text, &len);

        if (error == -EAGAIN) {
            break;
        } else if (error) {
            fail__(c, rpc_error_text__(error));
            return;
        }

        json_t *msg = decode_msg__(c, text, len, &bulk);
        if (!msg) {
            fail__(c, rpc_error_text__(
                       jsonrpc_set_protocol_error(c->rpc)));
            return;
        }
        char *why = handle_msg__(c, msg, bulk);
        json_decref(msg);
        if (why) {
            fail__(c, why);
            return;
        }
        c->last_rx = time_msec();
        json_decref(c->probe_id);
        c->probe_id = NULL;
    }
    c->more_input = i >= MAX_MSGS_PER_RUN;

    run_probe__(c, time_msec());
    if (!c->rpc) {
        return;
    }
    jsonrpc_run(c->rpc);
    int error = jsonrpc_get_status(c->rpc);
    if (error) {
        fail__(c, rpc_error_text__(error));
    } else if (jsonrpc_get_backlog(c->rpc) > MAX_BACKLOG) {
        fail__(c, xstrdup("server is not reading its input"));
    }
}

void
ovsdb_client_run(struct ovsdb_client *c)
{
    long long int now = time_msec();

    uncache_all__(c);
    if (c->state == S_BACKOFF && now >= c->next_attempt) {
        start_connect__(c);
    }
    if (c->state == S_CONNECTING) {
        int error = stream_connect(c->stream);

        if (!error) {
            connected__(c);
        } else if (error != -EAGAIN) {
            fail__(c, errno_text__("connection failed", error));
        } else if (now >= c->state_entered + CONNECT_TIMEOUT_MS) {
            fail__(c, xstrdup("connection timed out"));
        }
    }
    if (c->rpc) {
        run_session__(c);
    }
}

void
ovsdb_client_wait(struct ovsdb_client *c)
{
    switch (c->state) {
    case S_BACKOFF:
        loop_timer_wait_until(c->next_attempt);
        break;
    case S_CONNECTING:
        stream_wait(c->stream, STREAM_CONNECT);
        loop_timer_wait_until(c->state_entered + CONNECT_TIMEOUT_MS);
        break;
    case S_MONITORING:
    case S_ACTIVE:
        jsonrpc_wait(c->rpc);
        jsonrpc_recv_wait(c->rpc);
        if (c->more_input) {
            loop_immediate_wake();
        }
        if (c->probe_interval) {
            loop_timer_wait_until(c->probe_id
                                  ? c->probe_sent + c->probe_interval
                                  : c->last_rx + c->probe_interval);
        }
        break;
    }
}

void
ovsdb_client_force_reconnect(struct ovsdb_client *c)
{
    disconnect__(c);
    c->backoff = 0;
    c->next_attempt = time_msec();
    set_state__(c, S_BACKOFF);
}

void
ovsdb_client_set_probe_interval(struct ovsdb_client *c, int ms)
{
    c->probe_interval = ms <= 0 ? 0 : MAX(ms, PROBE_MIN_MS);
}

/* Lifecycle. */

char *
ovsdb_client_verify_remote(const char *remote)
{
    int error;

    if (!remote || !remote[0]) {
        return xstrdup("missing OVSDB remote");
    }
    error = stream_verify_name(remote);
    if (error == -EAFNOSUPPORT) {
        return xasprintf("%s: unsupported OVSDB remote (expected "
                         "\"unix:PATH\" or \"tcp:IP:PORT\")", remote);
    } else if (error) {
        return xasprintf("%s: malformed OVSDB remote (expected "
                         "\"unix:PATH\" or \"tcp:IP:PORT\")", remote);
    }
    return NULL;
}

struct ovsdb_client *
ovsdb_client_create(const char *remote, const char *database,
                    const struct ovsdb_client_table *tables, size_t n_tables)
{
    char *error = ovsdb_client_verify_remote(remote);

    if (error) {
        free(error);
        return NULL;
    }

    assert(database && (tables || !n_tables));

    struct ovsdb_client *c = xzalloc(sizeof *c);
    c->remote = xstrdup(remote);
    c->database = xstrdup(database);
    c->monitor_id = json_string(monitor_id_string);
    c->tables = xcalloc(n_tables, sizeof *c->tables);
    c->n_tables = n_tables;
    for (size_t i = 0; i < n_tables; i++) {
        struct ctable *t = &c->tables[i];
        size_t n = 0;

        assert(tables[i].name && tables[i].columns);
        while (tables[i].columns[n]) {
            n++;
        }
        assert(n > 0);
        t->name = xstrdup(tables[i].name);
        t->columns = xcalloc(n, sizeof *t->columns);
        t->n_columns = n;
        for (size_t j = 0; j < n; j++) {
            t->columns[j] = xstrdup(tables[i].columns[j]);
        }
        hmap_init(&t->rows);
        ovs_list_init(&t->tracked);
        ovs_list_init(&t->cached);
    }

    c->state = S_BACKOFF;
    c->state_entered = c->next_attempt = time_msec();
    c->probe_interval = str_starts_with(remote, "tcp:") ? 5000 : 0;
    c->seqno = 1;
    return c;
}

void
ovsdb_client_destroy(struct ovsdb_client *c)
{
    if (!c) {
        return;
    }
    disconnect__(c);
    for (size_t i = 0; i < c->n_tables; i++) {
        struct ctable *t = &c->tables[i];
        struct ovsdb_client_row *row, *next;

        HMAP_FOR_EACH_SAFE (row, next, hmap_node, &t->rows) {
            hmap_remove(&t->rows, &row->hmap_node);
            row_free__(row);
        }
        hmap_destroy(&t->rows);
        for (size_t j = 0; j < t->n_columns; j++) {
            free(t->columns[j]);
        }
        free(t->columns);
        free(t->name);
    }
    free(c->tables);
    json_decref(c->monitor_id);
    free(c->last_error);
    free(c->database);
    free(c->remote);
    free(c);
}

/* Status. */

const char *
ovsdb_client_get_name(const struct ovsdb_client *c)
{
    return c->remote;
}

bool
ovsdb_client_is_connected(const struct ovsdb_client *c)
{
    return is_connected__(c);
}

bool
ovsdb_client_is_synced(const struct ovsdb_client *c)
{
    return c->state == S_ACTIVE;
}

bool
ovsdb_client_has_snapshot(const struct ovsdb_client *c)
{
    return c->has_snapshot;
}

const char *
ovsdb_client_get_last_error(const struct ovsdb_client *c)
{
    return c->last_error;
}

uint64_t
ovsdb_client_get_seqno(const struct ovsdb_client *c)
{
    return c->seqno;
}

/* Row access. */

static const struct ovsdb_client_row *
first_live_from__(const struct ctable *t, const struct hmap_node *node)
{
    for (; node; node = hmap_next(&t->rows, node)) {
        const struct ovsdb_client_row *row
            = CONTAINER_OF(node, struct ovsdb_client_row, hmap_node);
        if (!row->deleted) {
            return row;
        }
    }
    return NULL;
}

const struct ovsdb_client_row *
ovsdb_client_first_row(const struct ovsdb_client *c, const char *table)
{
    const struct ctable *t = find_table__(c, table);
    return t ? first_live_from__(t, hmap_first(&t->rows)) : NULL;
}

const struct ovsdb_client_row *
ovsdb_client_next_row(const struct ovsdb_client_row *row)
{
    const struct ctable *t = row->table;
    return first_live_from__(t, hmap_next(&t->rows, &row->hmap_node));
}

size_t
ovsdb_client_count_rows(const struct ovsdb_client *c, const char *table)
{
    const struct ctable *t = find_table__(c, table);
    return t ? t->n_live : 0;
}

const struct ovsdb_client_row *
ovsdb_client_find_row(const struct ovsdb_client *c, const char *table,
                      const char *uuid)
{
    const struct ctable *t = find_table__(c, table);
    char key[UUID_LEN + 1];

    if (!t || !uuid || strlen(uuid) != UUID_LEN || !is_uuid__(uuid)) {
        return NULL;
    }
    normalize_uuid__(uuid, key);

    const struct ovsdb_client_row *row = find_row__(t, key);
    return row && !row->deleted ? row : NULL;
}

const struct ovsdb_client_row *
ovsdb_client_first_tracked(const struct ovsdb_client *c, const char *table)
{
    const struct ctable *t = find_table__(c, table);

    if (!t || ovs_list_is_empty(&t->tracked)) {
        return NULL;
    }
    return CONTAINER_OF(t->tracked.next, struct ovsdb_client_row,
                        track_node);
}

const struct ovsdb_client_row *
ovsdb_client_next_tracked(const struct ovsdb_client_row *row)
{
    if (row->track_node.next == &row->table->tracked) {
        return NULL;
    }
    return CONTAINER_OF(row->track_node.next, struct ovsdb_client_row,
                        track_node);
}

void
ovsdb_client_clear_tracked(struct ovsdb_client *c)
{
    uncache_all__(c);
    for (size_t i = 0; i < c->n_tables; i++) {
        struct ctable *t = &c->tables[i];
        struct ovsdb_client_row *row;

        LIST_FOR_EACH_POP (row, track_node, &t->tracked) {
            row->tracked = false;
            if (row->deleted) {
                hmap_remove(&t->rows, &row->hmap_node);
                row_free__(row);
            } else {
                if (row->old != row->cur) {
                    free(row->old);
                    row->old = row->cur;
                }
                row->change = OVSDB_CLIENT_UNCHANGED;
            }
        }
    }
}

const char *
ovsdb_client_row_get_uuid(const struct ovsdb_client_row *row)
{
    return row->uuid;
}

const char *
ovsdb_client_row_get_table(const struct ovsdb_client_row *row)
{
    return row->table->name;
}

enum ovsdb_client_change
ovsdb_client_row_get_change(const struct ovsdb_client_row *row)
{
    return row->change;
}

const char *
ovsdb_client_change_to_string(enum ovsdb_client_change change)
{
    switch (change) {
    case OVSDB_CLIENT_INSERTED:
        return "inserted";
    case OVSDB_CLIENT_MODIFIED:
        return "modified";
    case OVSDB_CLIENT_DELETED:
        return "deleted";
    case OVSDB_CLIENT_UNCHANGED:
    case OVSDB_CLIENT_CHANGE_N:
    default:
        return "unchanged";
    }
}

const json_t *
ovsdb_client_row_get_datum(const struct ovsdb_client_row *row,
                           const char *column)
{
    return json_object_get(row_decoded__(row, false), column);
}

const json_t *
ovsdb_client_row_get_old_datum(const struct ovsdb_client_row *row,
                               const char *column)
{
    return row->old ? json_object_get(row_decoded__(row, true), column)
                    : NULL;
}

const char *
ovsdb_client_row_get_string(const struct ovsdb_client_row *row,
                            const char *column)
{
    return ovsdb_client_datum_get_string(
        ovsdb_client_row_get_datum(row, column));
}

int
ovsdb_client_row_get_smap(const struct ovsdb_client_row *row,
                          const char *column, struct smap *smap)
{
    return ovsdb_client_datum_get_smap(
        ovsdb_client_row_get_datum(row, column), smap);
}

bool
ovsdb_client_row_get_optional_int(const struct ovsdb_client_row *row,
                                  const char *column, int64_t *ret)
{
    return ovsdb_client_datum_get_optional_int(
        ovsdb_client_row_get_datum(row, column), ret);
}

bool
ovsdb_client_row_get_optional_bool(const struct ovsdb_client_row *row,
                                   const char *column, bool *ret)
{
    return ovsdb_client_datum_get_optional_bool(
        ovsdb_client_row_get_datum(row, column), ret);
}
