/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsdb-client: a read-only replica of selected tables and columns of one
 * OVSDB database, kept current through an RFC 7047 "monitor" session.
 *
 * The client connects to 'remote' ("unix:PATH" or "tcp:IP:PORT"), asks for
 * the named columns of the named tables, applies the initial contents and
 * then every "update" notification, and answers the server's "echo"
 * inactivity probes.  When the connection fails or drops, or the server
 * sends something malformed or inconsistent, it reconnects with exponential
 * backoff (1 s doubling to 8 s) and monitors again; the fresh snapshot
 * replaces the replica, and only rows whose monitored values really differ
 * are reported as changed, so a restart of ovsdb-server does not look like
 * "everything changed".  While disconnected, the last replica stays
 * readable.
 *
 * Change tracking: ovsdb_client_get_seqno() changes whenever the replica or
 * the connection state changes.  In addition, each table keeps the list of
 * rows that changed since the owner last called ovsdb_client_clear_tracked(),
 * each marked inserted, modified or deleted relative to the values it had at
 * that last clear.  A row inserted and deleted again between two clears is
 * not reported at all; a row modified back to its old values is not
 * reported.  Deleted rows stay readable, with their last values, until the
 * clear.  So the owner's loop is:
 *
 *     if (ovsdb_client_get_seqno(c) != last_seqno) {
 *         OVSDB_CLIENT_FOR_EACH_TRACKED (row, c, "Interface") {
 *             ...look at ovsdb_client_row_get_change(row)...
 *         }
 *         ovsdb_client_clear_tracked(c);
 *         last_seqno = ovsdb_client_get_seqno(c);
 *     }
 *
 * Column values are RFC 7047 <value> JSON ("datums") exactly as the server
 * sent them: an atom (string, integer, real, boolean, ["uuid", U]), a
 * ["set", [atoms]] or a ["map", [[key, value], ...]]; a set of exactly one
 * element may appear as the bare atom.  The helpers below parse the common
 * shapes.
 *
 * Owns its connection, the replica and the tracking state.  Rows are
 * handed out const and stay valid until the next ovsdb_client_run() or
 * ovsdb_client_clear_tracked() (whichever comes first), or
 * ovsdb_client_destroy().  Nothing here blocks.  Work per update is
 * proportional to the rows it changes (rows are hashed by UUID).
 */
#ifndef OVSEC_OVSDB_CLIENT_H
#define OVSEC_OVSDB_CLIENT_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smap;

/* One monitored table: its name and the columns to replicate.  The strings
 * are copied by ovsdb_client_create(). */
struct ovsdb_client_table {
    const char *name;               /* Table name, e.g. "Interface". */
    const char *const *columns;     /* Column names, NULL-terminated. */
};

/* How a tracked row changed since the last ovsdb_client_clear_tracked(). */
enum ovsdb_client_change {
    OVSDB_CLIENT_UNCHANGED,         /* Not tracked (not changed). */
    OVSDB_CLIENT_INSERTED,          /* New row. */
    OVSDB_CLIENT_MODIFIED,          /* Monitored values differ. */
    OVSDB_CLIENT_DELETED,           /* Gone; last values still readable. */
    OVSDB_CLIENT_CHANGE_N
};

struct ovsdb_client;
struct ovsdb_client_row;            /* Opaque; read with the accessors. */

/* Upper bounds on what a server may make us hold. */
#define OVSDB_CLIENT_MAX_ROWS (1u << 20)     /* Rows per table. */

/* Lifecycle. */

/* Returns NULL if 'remote' is a valid active stream name ("unix:PATH",
 * "tcp:IP:PORT"), otherwise a new message naming it and saying why it is
 * not; the caller frees it. */
char *ovsdb_client_verify_remote(const char *remote);

/* Creates a client that will monitor, in 'database' on 'remote', the
 * 'n_tables' tables in 'tables' (each with at least one column; no table
 * or column twice).  Copies everything it needs from its arguments.
 * Connecting starts on the first ovsdb_client_run().  Returns the new
 * client, which the caller destroys, or NULL if 'remote' is invalid (see
 * ovsdb_client_verify_remote() for the reason). */
struct ovsdb_client *ovsdb_client_create(
    const char *remote, const char *database,
    const struct ovsdb_client_table *tables, size_t n_tables);

/* Closes the connection and frees the replica, including every row handed
 * out.  NULL ok; never blocks. */
void ovsdb_client_destroy(struct ovsdb_client *);

/* Does all pending work: connects, sends, receives and applies messages,
 * answers probes, reconnects after backoff.  Never blocks. */
void ovsdb_client_run(struct ovsdb_client *);

/* Registers with the poll loop the fds and timers ovsdb_client_run() needs
 * (connection, backoff, inactivity probe). */
void ovsdb_client_wait(struct ovsdb_client *);

/* Drops the current connection (if any) and connects again at once; the
 * next snapshot is diffed against the replica like any resync. */
void ovsdb_client_force_reconnect(struct ovsdb_client *);

/* Sends an "echo" probe after 'probe_interval_ms' without a message from
 * the server and reconnects after as long again without one.  0 disables
 * probing; other values below 1000 are raised to 1000.  The default is 0
 * for "unix:" remotes (ovsdb-server probes us instead) and 5000 for
 * "tcp:". */
void ovsdb_client_set_probe_interval(struct ovsdb_client *,
                                     int probe_interval_ms);

/* Status. */

/* The remote name given to ovsdb_client_create().  Owned by the client. */
const char *ovsdb_client_get_name(const struct ovsdb_client *);

/* True if the connection to the server is up (the monitor may still be
 * pending). */
bool ovsdb_client_is_connected(const struct ovsdb_client *);

/* True if the connection is up and its monitor snapshot has been applied,
 * i.e. the replica is live. */
bool ovsdb_client_is_synced(const struct ovsdb_client *);

/* True if a monitor snapshot has been applied at least once since
 * ovsdb_client_create() (the replica may now be stale: see
 * ovsdb_client_is_synced()). */
bool ovsdb_client_has_snapshot(const struct ovsdb_client *);

/* The most recent error, for status output, e.g. "unix:/run/db.sock:
 * connection failed (No such file or directory)", or NULL if none happened
 * since the last successful snapshot.  Owned by the client; valid until the
 * next ovsdb_client_run(). */
const char *ovsdb_client_get_last_error(const struct ovsdb_client *);

/* Increases whenever a row is inserted, modified or deleted in the replica
 * or the connection state changes.  Never 0. */
uint64_t ovsdb_client_get_seqno(const struct ovsdb_client *);

/* Rows.  'table' is the name of a monitored table; other names give empty
 * results.  Returned rows are owned by the client (see the file comment
 * for how long they stay valid). */

/* Live rows of 'table' in no particular order (deleted rows excluded). */
const struct ovsdb_client_row *ovsdb_client_first_row(
    const struct ovsdb_client *, const char *table);
const struct ovsdb_client_row *ovsdb_client_next_row(
    const struct ovsdb_client_row *);
#define OVSDB_CLIENT_FOR_EACH_ROW(ROW, CLIENT, TABLE)           \
    for ((ROW) = ovsdb_client_first_row(CLIENT, TABLE); (ROW);  \
         (ROW) = ovsdb_client_next_row(ROW))

/* Number of live rows in 'table'. */
size_t ovsdb_client_count_rows(const struct ovsdb_client *,
                               const char *table);

/* The live row of 'table' whose UUID is 'uuid' (lower-case text form), or
 * NULL. */
const struct ovsdb_client_row *ovsdb_client_find_row(
    const struct ovsdb_client *, const char *table, const char *uuid);

/* Rows of 'table' changed since the last ovsdb_client_clear_tracked(),
 * including deleted ones, in the order they first changed. */
const struct ovsdb_client_row *ovsdb_client_first_tracked(
    const struct ovsdb_client *, const char *table);
const struct ovsdb_client_row *ovsdb_client_next_tracked(
    const struct ovsdb_client_row *);
#define OVSDB_CLIENT_FOR_EACH_TRACKED(ROW, CLIENT, TABLE)           \
    for ((ROW) = ovsdb_client_first_tracked(CLIENT, TABLE); (ROW);  \
         (ROW) = ovsdb_client_next_tracked(ROW))

/* Forgets all tracked changes: frees deleted rows (invalidating pointers
 * to them) and takes the current values as the base for the next
 * comparison. */
void ovsdb_client_clear_tracked(struct ovsdb_client *);

/* Row accessors. */

/* The row's UUID in lower-case text form (36 characters).  Owned by the
 * row. */
const char *ovsdb_client_row_get_uuid(const struct ovsdb_client_row *);
/* The name of the row's table.  Owned by the client. */
const char *ovsdb_client_row_get_table(const struct ovsdb_client_row *);
/* How the row changed since the last clear; OVSDB_CLIENT_UNCHANGED if it
 * is not tracked. */
enum ovsdb_client_change ovsdb_client_row_get_change(
    const struct ovsdb_client_row *);
/* "inserted", "modified", "deleted" or "unchanged". */
const char *ovsdb_client_change_to_string(enum ovsdb_client_change);

/* The current value of 'column' (for a deleted row: its last value), or
 * NULL if the server did not send that column.  Owned by the row, and
 * valid until the next ovsdb_client_run() or ovsdb_client_clear_tracked(),
 * or until the values of two other rows of the table have been read:
 * the replica keeps rows as text and decodes them on demand, a few at a
 * time (the same holds for everything the readers below return). */
const json_t *ovsdb_client_row_get_datum(const struct ovsdb_client_row *,
                                         const char *column);
/* The value 'column' had at the last ovsdb_client_clear_tracked(), or NULL
 * for an inserted row or a column that was not sent.  For an unchanged row
 * this is the current value.  Owned by the row. */
const json_t *ovsdb_client_row_get_old_datum(const struct ovsdb_client_row *,
                                             const char *column);

/* Typed column readers: each reads ovsdb_client_row_get_datum(row, column)
 * with the datum parser of the same name below. */
const char *ovsdb_client_row_get_string(const struct ovsdb_client_row *,
                                        const char *column);
int ovsdb_client_row_get_smap(const struct ovsdb_client_row *,
                              const char *column, struct smap *);
bool ovsdb_client_row_get_optional_int(const struct ovsdb_client_row *,
                                       const char *column, int64_t *ret);
bool ovsdb_client_row_get_optional_bool(const struct ovsdb_client_row *,
                                        const char *column, bool *ret);

/* Datum parsers (pure; 'datum' may be NULL, meaning "not sent"). */

/* A string column, or an optional string (set of 0 or 1 string): returns
 * the string (owned by 'datum'), or NULL if the datum is NULL, an empty
 * set, or not a string. */
const char *ovsdb_client_datum_get_string(const json_t *datum);

/* A map<string,string>: replaces the contents of 'smap' (which the caller
 * has initialized and later destroys) by the map's pairs.  Returns 0, or
 * -EINVAL (and leaves 'smap' empty) if 'datum' is not a map of strings to
 * strings.  NULL and an empty set count as an empty map. */
int ovsdb_client_datum_get_smap(const json_t *datum, struct smap *);

/* An optional integer (set of 0 or 1 integer, e.g. Interface ofport):
 * returns true and stores the value in '*ret' if 'datum' holds exactly one
 * integer, otherwise false. */
bool ovsdb_client_datum_get_optional_int(const json_t *datum, int64_t *ret);

/* An optional boolean (set of 0 or 1 boolean, e.g. Interface cfm_fault):
 * returns true and stores the value in '*ret' if 'datum' holds exactly one
 * boolean, otherwise false. */
bool ovsdb_client_datum_get_optional_bool(const json_t *datum, bool *ret);

/* Returns NULL if 'datum' is a well-formed RFC 7047 <value>, otherwise a
 * new message saying what is wrong; the caller frees it. */
char *ovsdb_client_datum_verify(const json_t *datum);

#endif /* ovsdb-client.h */
