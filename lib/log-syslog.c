/* SPDX-License-Identifier: Apache-2.0
 *
 * log-syslog: see log-syslog.h.
 */
#include "config.h"
#include "log-syslog.h"

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

void
log_syslog_send(int level, const char *line)
{
    /* Indexed by enum log_level: OFF, EMER, ERR, WARN, INFO, DBG. */
    static const int priorities[] = {
        LOG_DEBUG, LOG_ALERT, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG,
    };
    static bool opened;

    if (!opened) {
        openlog(NULL, LOG_NDELAY, LOG_DAEMON);
        opened = true;
    }
    if (level < 0 || level >= (int) (sizeof priorities / sizeof *priorities)) {
        level = 0;
    }
    syslog(priorities[level], "%s", line);
}
