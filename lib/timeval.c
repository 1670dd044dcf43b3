/* SPDX-License-Identifier: Apache-2.0
 *
 * timeval: see timeval.h.  Owns the warp offset (a process global).
 */
#include "config.h"
#include "timeval.h"

#include <time.h>

static long long int warp_msec;

static long long int
clock_msec__(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long int
time_msec(void)
{
    return clock_msec__(CLOCK_MONOTONIC) + warp_msec;
}

long long int
time_wall_msec(void)
{
    return clock_msec__(CLOCK_REALTIME);
}

void
time_warp(long long int msecs)
{
    if (msecs > 0) {
        warp_msec += msecs;
    }
}
