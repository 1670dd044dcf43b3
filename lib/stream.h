/* SPDX-License-Identifier: Apache-2.0
 *
 * stream: non-blocking byte streams over Unix and TCP sockets, and passive
 * (listening) Unix sockets.  Names follow OVS: "unix:PATH", "tcp:IP:PORT"
 * (IPv6 as "tcp:[ADDR]:PORT"), "punix:PATH".  Unix socket paths longer than
 * sun_path are reached through /proc/self/fd/N of their directory.
 *
 * A stream owns its fd.  No function here blocks or logs above DBG.
 */
#ifndef OVSEC_STREAM_H
#define OVSEC_STREAM_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct stream;
struct pstream;

/* Returns 0 if 'name' is a valid active stream name ("unix:" or "tcp:"),
 * otherwise -EAFNOSUPPORT (unknown kind) or -EINVAL (malformed). */
int stream_verify_name(const char *name);

/* Starts connecting to 'name'.  Returns 0 and stores a new stream in
 * '*ret' (the connection may still be in progress: see stream_connect()),
 * or -errno.  The caller closes the stream. */
int stream_open(const char *name, struct stream **ret);
/* Returns 0 once connected, -EAGAIN while in progress, else -errno. */
int stream_connect(struct stream *);
/* Returns bytes received (> 0), 0 at end of stream, -EAGAIN if nothing is
 * available now, or another -errno. */
ssize_t stream_recv(struct stream *, void *buf, size_t n);
/* Returns bytes sent (> 0), -EAGAIN if none could be sent now, or -errno. */
ssize_t stream_send(struct stream *, const void *buf, size_t n);

enum stream_wait_type {
    STREAM_CONNECT,
    STREAM_RECV,
    STREAM_SEND,
};
/* Registers with the poll loop to wake when 'type' can make progress. */
void stream_wait(struct stream *, enum stream_wait_type);
void stream_close(struct stream *);     /* NULL ok. */
/* The name given to stream_open(); owned by the stream. */
const char *stream_get_name(const struct stream *);
int stream_get_fd(const struct stream *);

/* Starts listening on "punix:PATH" ('name'), removing a stale socket file
 * first.  The socket file gets mode 0700 directory-style protection via
 * umask 077.  Returns 0 and stores a new pstream, or -errno. */
int pstream_open(const char *name, struct pstream **ret);
/* Returns 0 and a new stream in '*ret', -EAGAIN if none waits, or -errno. */
int pstream_accept(struct pstream *, struct stream **ret);
void pstream_wait(struct pstream *);
/* Closes and unlinks the socket file.  NULL ok. */
void pstream_close(struct pstream *);
const char *pstream_get_name(const struct pstream *);

/* Stores in 'src' (4 or 16 bytes, for 'af') the source address the kernel
 * would use to reach 'dst' (likewise).  Only looks up the route, through
 * connect() on a UDP socket: nothing is sent and nothing blocks.  Returns 0
 * or -errno. */
int stream_route_source(int af, const void *dst, void *src);

#endif /* stream.h */
