/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "path-watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "log.h"
#include "loop.h"
#include "util.h"

LOG_MODULE(path_watch);

struct path_watch {
    int fd;                     /* inotify instance. */
    char *name;                 /* Base name of the path. */
};

struct path_watch *
path_watch_create(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;

    if (!slash || !slash[1] || strlen(path) >= PATH_MAX) {
        return NULL;
    }

    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        LOG_DBG("inotify_init1: %s", ovsec_strerror(-errno));
        return NULL;
    }

    char *dir = slash == path ? xstrdup("/")
                              : xmemdup0(path, slash - path);
    int wd = inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB
                                        | IN_ONLYDIR);
    if (wd < 0) {
        LOG_DBG("%s: inotify_add_watch: %s", dir, ovsec_strerror(-errno));
        free(dir);
        close(fd);
        return NULL;
    }
    free(dir);

    struct path_watch *w = xzalloc(sizeof *w);
    w->fd = fd;
    w->name = xstrdup(slash + 1);
    return w;
}

void
path_watch_destroy(struct path_watch *w)
{
    if (w) {
        close(w->fd);
        free(w->name);
        free(w);
    }
}

bool
path_watch_run(struct path_watch *w)
{
    /* Aligned as inotify(7) asks. */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool hit = false;

    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n <= 0) {
            /* EAGAIN: drained.  Anything else: report a hit, so that
             * the caller tries at once rather than waits for nothing. */
            return hit || (n < 0 && errno != EAGAIN && errno != EINTR);
        }
        for (ssize_t ofs = 0; ofs < n; ) {
            const struct inotify_event *ev
                = (const struct inotify_event *) (buf + ofs);
            if (ev->mask & IN_Q_OVERFLOW
                || (ev->len && !strcmp(ev->name, w->name))) {
                hit = true;
            }
            ofs += sizeof *ev + ev->len;
        }
    }
}

void
path_watch_wait(const struct path_watch *w)
{
    loop_fd_wait(w->fd, POLLIN);
}
