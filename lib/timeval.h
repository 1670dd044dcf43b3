/* SPDX-License-Identifier: Apache-2.0
 *
 * timeval: the process clock.  time_msec() is monotonic milliseconds plus a
 * warp offset that tests advance with time_warp() (the "time/warp" control
 * command), so that timeouts are tested without sleeping.  time_wall_msec()
 * is wall-clock time for log stamps.
 */
#ifndef OVSEC_TIMEVAL_H
#define OVSEC_TIMEVAL_H 1

long long int time_msec(void);
long long int time_wall_msec(void);
/* Advances time_msec() by 'msecs' (>= 0). */
void time_warp(long long int msecs);

#endif /* timeval.h */
