/* SPDX-License-Identifier: Apache-2.0
 *
 * log-syslog: the syslog destination of lib/log, in a file of its own
 * because <syslog.h> defines LOG_ERR and friends, which log.h also uses.
 */
#ifndef OVSEC_LOG_SYSLOG_H
#define OVSEC_LOG_SYSLOG_H 1

/* Sends 'line' to syslog at 'level', a log.h enum log_level value
 * (LOG_L_EMER..LOG_L_DBG).  Opens the connection on first use. */
void log_syslog_send(int level, const char *line);

#endif /* log-syslog.h */
