/* SPDX-License-Identifier: Apache-2.0
 *
 * stream: see stream.h.
 */
#include "config.h"
#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "loop.h"
#include "util.h"

struct stream {
    char *name;                 /* As given to stream_open(). */
    int fd;                     /* Owned socket. */
    int connect_error;          /* 0 connected, -EAGAIN in progress. */
};

struct pstream {
    char *name;                 /* "punix:PATH". */
    char *path;                 /* The socket file, unlinked on close. */
    int fd;                     /* Listening socket. */
};

/* Fills 'sun' for 'path'.  Paths too long for sun_path are reached
 * through "/proc/self/fd/N/BASENAME" with N an O_PATH fd of the directory,
 * returned in '*dirfd' (the caller closes it after connect/bind; -1 when
 * unused).  Returns 0 or -errno. */
static int
make_unix_addr__(const char *path, struct sockaddr_un *sun,
                 socklen_t *len, int *dirfd)
{
    *dirfd = -1;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (!*path) {
        return -EINVAL;
    }
    if (strlen(path) < sizeof sun->sun_path) {
        strcpy(sun->sun_path, path);
    } else {
        char *dir = xstrdup(path);
        char *base = xstrdup(path);
        int fd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
        int n = fd < 0 ? -1 : snprintf(sun->sun_path, sizeof sun->sun_path,
                                       "/proc/self/fd/%d/%s", fd,
                                       basename(base));
        int error = fd < 0 ? -errno : 0;
        free(dir);
        free(base);
        if (error) {
            return error;
        }
        if (n < 0 || (size_t) n >= sizeof sun->sun_path) {
            close(fd);
            return -ENAMETOOLONG;
        }
        *dirfd = fd;
    }
    *len = offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1;
    return 0;
}

/* Parses "IP:PORT" or "[IP6]:PORT".  Returns 0 or -EINVAL. */
static int
parse_inet__(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char *copy = xstrdup(s);
    char *host = copy, *port;
    int error = -EINVAL;
    long long int p;

    if (*host == '[') {
        char *end = strchr(host, ']');
        if (!end || end[1] != ':') {
            goto out;
        }
        *end = '\0';
        host++;
        port = end + 2;
    } else {
        port = strrchr(host, ':');
        if (!port) {
            goto out;
        }
        *port++ = '\0';
    }
    if (!str_to_llong_range(port, 10, 1, 65535, &p)) {
        goto out;
    }

    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(p);
        *len = sizeof *sin;
        error = 0;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(p);
        *len = sizeof *sin6;
        error = 0;
    }
out:
    free(copy);
    return error;
}

int
stream_verify_name(const char *name)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (str_starts_with(name, "unix:")) {
        return name[5] ? 0 : -EINVAL;
    } else if (str_starts_with(name, "tcp:")) {
        return parse_inet__(name + 4, &ss, &len);
    }
    return -EAFNOSUPPORT;
}

int
stream_open(const char *name, struct stream **ret)
{
    struct sockaddr_storage ss;
    struct sockaddr_un sun;
    const struct sockaddr *sa;
    socklen_t len;
    int dirfd = -1;
    int fd, error;

    *ret = NULL;
    error = stream_verify_name(name);
    if (error) {
        return error;
    }
    if (str_starts_with(name, "unix:")) {
        error = make_unix_addr__(name + 5, &sun, &len, &dirfd);
        if (error) {
            return error;
        }
        sa = (const struct sockaddr *) &sun;
    } else {
        parse_inet__(name + 4, &ss, &len);
        sa = (const struct sockaddr *) &ss;
    }

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        error = -errno;
        goto out;
    }
    if (sa->sa_family != AF_UNIX) {
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }

    struct stream *s = xzalloc(sizeof *s);
    s->name = xstrdup(name);
    s->fd = fd;
    if (connect(fd, sa, len) == 0) {
        s->connect_error = 0;
    } else if (errno == EINPROGRESS
               || (errno == EAGAIN && sa->sa_family != AF_UNIX)) {
        s->connect_error = -EAGAIN;
    } else if (errno == EAGAIN) {
        /* For a Unix socket, EAGAIN means the listener's backlog is full,
         * not that the connection is under way: a failure to retry. */
        error = -ECONNREFUSED;
        stream_close(s);
        goto out;
    } else {
        error = -errno;
        stream_close(s);
        goto out;
    }
    *ret = s;

out:
    if (dirfd >= 0) {
        close(dirfd);
    }
    return error;
}

int
stream_connect(struct stream *s)
{
    if (s->connect_error == -EAGAIN) {
        struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
        if (poll(&pfd, 1, 0) > 0) {
            int error = 0;
            socklen_t len = sizeof error;
            if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
                error = errno;
            }
            s->connect_error = -error;
        }
    }
    return s->connect_error;
}

ssize_t
stream_recv(struct stream *s, void *buf, size_t n)
{
    int error = stream_connect(s);
    if (error) {
        return error;
    }
    for (;;) {
        ssize_t r = recv(s->fd, buf, n, 0);
        if (r >= 0) {
            return r;
        } else if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}

ssize_t
stream_send(struct stream *s, const void *buf, size_t n)
{
    int error = stream_connect(s);
    if (error) {
        return error;
    }
    for (;;) {
        ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
        if (r > 0) {
            return r;
        } else if (r == 0) {
            return -EAGAIN;
        } else if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}

void
stream_wait(struct stream *s, enum stream_wait_type type)
{
    if (s->connect_error && s->connect_error != -EAGAIN) {
        loop_immediate_wake();
        return;
    }
    switch (type) {
    case STREAM_CONNECT:
        if (s->connect_error == -EAGAIN) {
            loop_fd_wait(s->fd, POLLOUT);
        } else {
            loop_immediate_wake();
        }
        break;
    case STREAM_RECV:
        loop_fd_wait(s->fd, s->connect_error ? POLLOUT : POLLIN);
        break;
    case STREAM_SEND:
        loop_fd_wait(s->fd, POLLOUT);
        break;
    }
}

void
stream_close(struct stream *s)
{
    if (s) {
        close(s->fd);
        free(s->name);
        free(s);
    }
}

const char *
stream_get_name(const struct stream *s)
{
    return s->name;
}

int
stream_get_fd(const struct stream *s)
{
    return s->fd;
}

int
pstream_open(const char *name, struct pstream **ret)
{
    struct sockaddr_un sun;
    socklen_t len;
    int dirfd = -1;
    int fd = -1;
    int error;

    *ret = NULL;
    if (!str_starts_with(name, "punix:") || !name[6]) {
        return -EAFNOSUPPORT;
    }
    const char *path = name + 6;
    error = make_unix_addr__(path, &sun, &len, &dirfd);
    if (error) {
        return error;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = -errno;
        goto out;
    }

    /* A socket file left by a dead process would make bind() fail. */
    unlink(path);
    mode_t old_umask = umask(077);
    if (bind(fd, (struct sockaddr *) &sun, len) < 0) {
        error = -errno;
    }
    umask(old_umask);
    if (!error && listen(fd, 64) < 0) {
        error = -errno;
    }
    if (error) {
        close(fd);
        goto out;
    }

    struct pstream *ps = xzalloc(sizeof *ps);
    ps->name = xstrdup(name);
    ps->path = xstrdup(path);
    ps->fd = fd;
    *ret = ps;

out:
    if (dirfd >= 0) {
        close(dirfd);
    }
    return error;
}

int
pstream_accept(struct pstream *ps, struct stream **ret)
{
    *ret = NULL;
    for (;;) {
        int fd = accept4(ps->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            struct stream *s = xzalloc(sizeof *s);
            s->name = xasprintf("unix:%s", ps->path);
            s->fd = fd;
            s->connect_error = 0;
            *ret = s;
            return 0;
        } else if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}

void
pstream_wait(struct pstream *ps)
{
    loop_fd_wait(ps->fd, POLLIN);
}

void
pstream_close(struct pstream *ps)
{
    if (ps) {
        close(ps->fd);
        unlink(ps->path);
        free(ps->path);
        free(ps->name);
        free(ps);
    }
}

const char *
pstream_get_name(const struct pstream *ps)
{
    return ps->name;
}

int
stream_route_source(int af, const void *dst, void *src)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int error = 0;
    int fd;

    memset(&ss, 0, sizeof ss);
    if (af == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(500);
        memcpy(&sin->sin_addr, dst, 4);
        len = sizeof *sin;
    } else if (af == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(500);
        memcpy(&sin6->sin6_addr, dst, 16);
        len = sizeof *sin6;
    } else {
        return -EAFNOSUPPORT;
    }
    fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *) &ss, len)
        || getsockname(fd, (struct sockaddr *) &ss, &len)) {
        error = -errno;
    } else if (af == AF_INET) {
        memcpy(src, &((struct sockaddr_in *) &ss)->sin_addr, 4);
    } else {
        memcpy(src, &((struct sockaddr_in6 *) &ss)->sin6_addr, 16);
    }
    close(fd);
    return error;
}
