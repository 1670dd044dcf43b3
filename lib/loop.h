/* SPDX-License-Identifier: Apache-2.0
 *
 * loop: the poll loop.  Each iteration, every module's _wait() function
 * registers the fds and deadlines it needs, then main calls loop_block(),
 * which sleeps in poll() until one of them is ready and then forgets every
 * registration (they are one-shot).  The loop makes no callbacks: after it
 * returns, the modules' _run() functions check their own fds.
 *
 * 'where' is "file:line" of the registration, logged at DBG when that
 * registration woke the loop (for wakeup debugging).
 */
#ifndef OVSEC_LOOP_H
#define OVSEC_LOOP_H 1

#include "util.h"

/* Wakes when 'fd' has any of 'events' (POLLIN, POLLOUT). */
void loop_fd_wait_at(int fd, short events, const char *where);
#define loop_fd_wait(FD, EVENTS) loop_fd_wait_at(FD, EVENTS, SOURCE_LOCATOR)

/* Wakes at absolute time 'deadline_ms' on the time_msec() clock.
 * LLONG_MAX means never. */
void loop_timer_wait_until_at(long long int deadline_ms, const char *where);
#define loop_timer_wait_until(MS) \
    loop_timer_wait_until_at(MS, SOURCE_LOCATOR)

/* Wakes after 'ms' milliseconds from now. */
void loop_timer_wait_at(long long int ms, const char *where);
#define loop_timer_wait(MS) loop_timer_wait_at(MS, SOURCE_LOCATOR)

/* Does not sleep at all this iteration. */
void loop_immediate_wake_at(const char *where);
#define loop_immediate_wake() loop_immediate_wake_at(SOURCE_LOCATOR)

/* Sleeps until a registered event, then clears all registrations. */
void loop_block(void);

/* Number of times loop_block() returned, for the idle-wakeup statistic. */
unsigned long long int loop_wakeups(void);

#endif /* loop.h */
