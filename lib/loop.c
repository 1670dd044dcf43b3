/* SPDX-License-Identifier: Apache-2.0
 *
 * loop: see loop.h.  Owns this iteration's registrations (process
 * globals), which loop_block() consumes.
 */
#include "config.h"
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include "log.h"
#include "timeval.h"

LOG_MODULE(loop);

struct loop_fd__ {
    const char *where;          /* Registration site. */
};

static struct pollfd *pollfds;  /* Registered fds. */
static struct loop_fd__ *wheres;    /* Parallel to 'pollfds'. */
static size_t n_fds, allocated_fds;
static long long int deadline = LLONG_MAX;  /* Earliest timer. */
static const char *deadline_where;          /* Its registration site. */
static unsigned long long int n_wakeups;

void
loop_fd_wait_at(int fd, short events, const char *where)
{
    for (size_t i = 0; i < n_fds; i++) {
        if (pollfds[i].fd == fd) {
            pollfds[i].events |= events;
            return;
        }
    }
    if (n_fds >= allocated_fds) {
        allocated_fds = allocated_fds ? allocated_fds * 2 : 16;
        pollfds = xrealloc(pollfds, allocated_fds * sizeof *pollfds);
        wheres = xrealloc(wheres, allocated_fds * sizeof *wheres);
    }
    pollfds[n_fds].fd = fd;
    pollfds[n_fds].events = events;
    pollfds[n_fds].revents = 0;
    wheres[n_fds].where = where;
    n_fds++;
}

void
loop_timer_wait_until_at(long long int deadline_ms, const char *where)
{
    if (deadline_ms < deadline) {
        deadline = deadline_ms;
        deadline_where = where;
    }
}

void
loop_timer_wait_at(long long int ms, const char *where)
{
    long long int now = time_msec();
    loop_timer_wait_until_at(ms >= LLONG_MAX - now ? LLONG_MAX : now + ms,
                             where);
}

void
loop_immediate_wake_at(const char *where)
{
    loop_timer_wait_until_at(LLONG_MIN, where);
}

void
loop_block(void)
{
    int timeout;
    long long int now = time_msec();

    if (deadline == LLONG_MAX) {
        timeout = -1;
    } else if (deadline <= now) {
        timeout = 0;
    } else {
        timeout = deadline - now > INT_MAX ? INT_MAX : deadline - now;
    }

    int n = poll(pollfds, n_fds, timeout);
    if (n < 0 && errno != EINTR) {
        LOG_ERR("poll: %s", ovsec_strerror(errno));
    } else if (LOG_IS_DBG_ENABLED()) {
        if (n > 0) {
            for (size_t i = 0; i < n_fds; i++) {
                if (pollfds[i].revents) {
                    LOG_DBG("wakeup on fd %d (%s)", pollfds[i].fd,
                            wheres[i].where);
                }
            }
        } else if (!n && timeout) {
            LOG_DBG("wakeup on timer (%s)", deadline_where);
        }
    }

    n_fds = 0;
    deadline = LLONG_MAX;
    deadline_where = NULL;
    n_wakeups++;
}

unsigned long long int
loop_wakeups(void)
{
    return n_wakeups;
}
