/* SPDX-License-Identifier: Apache-2.0
 *
 * path-watch: tells when a file appears at a path (created, renamed
 * there, or its attributes changed), through inotify on its directory.
 *
 * A client of a daemon's Unix socket (charon's VICI socket) uses it while
 * the daemon is away, to connect as soon as the socket is back rather
 * than at the next tick of a backoff timer.  Events for other names in
 * the directory wake the loop but are otherwise ignored, so it is meant
 * to live only while waiting.
 */
#ifndef OVSEC_PATH_WATCH_H
#define OVSEC_PATH_WATCH_H 1

#include <stdbool.h>

struct path_watch;

/* Starts watching 'path'.  Returns NULL if that is not possible (no
 * inotify, no directory, a relative or overlong path): the caller then
 * falls back on its timers. */
struct path_watch *path_watch_create(const char *path);
void path_watch_destroy(struct path_watch *);      /* NULL ok. */

/* Reads the pending events.  Returns true if any concerned 'path' since
 * the last call (or if events were lost), false otherwise.  Never
 * blocks. */
bool path_watch_run(struct path_watch *);
/* Wakes the poll loop when events are pending. */
void path_watch_wait(const struct path_watch *);

#endif /* path-watch.h */
