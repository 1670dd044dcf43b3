/* SPDX-License-Identifier: Apache-2.0
 *
 * log: OVS "vlog"-compatible logging.  Each source file declares
 * LOG_MODULE(name) once and logs with LOG_ERR/WARN/INFO/DBG; every module
 * has a level per destination (console, file), set with -v/--verbose specs
 * and the vlog/set control command.  Line formats match OVS:
 *   file:    2026-11-27T03:04:05.678Z|00042|module|INFO|message
 *   console: 2026-11-27T03:04:05Z|00042|module|INFO|message
 *
 * Owns the log configuration and the log file (process globals).
 *
 * Never pass a secret to these functions: struct secret has no %s path.
 */
#ifndef OVSEC_LOG_H
#define OVSEC_LOG_H 1

#include <stdarg.h>
#include <stdbool.h>
#include "util.h"

enum log_level {
    LOG_L_OFF,
    LOG_L_EMER,
    LOG_L_ERR,
    LOG_L_WARN,
    LOG_L_INFO,
    LOG_L_DBG,
    LOG_L_N
};

enum log_dest {
    LOG_D_CONSOLE,
    LOG_D_SYSLOG,               /* syslog(3), facility daemon; off by
                                 * default. */
    LOG_D_FILE,
    LOG_D_N
};

struct log_module {
    const char *name;                   /* "vici", "monitor", ... */
    enum log_level levels[LOG_D_N];     /* Per destination. */
    enum log_level min_level;           /* Most verbose of 'levels'. */
    struct log_module *next;            /* In the registry. */
};

/* Token bucket: at most 'burst' messages, refilled at 'rate' per minute. */
struct log_rate_limit {
    unsigned int rate;                  /* Messages per minute. */
    unsigned int burst;                 /* Bucket size. */
    unsigned int tokens;                /* Messages left now, x1000. */
    long long int last_fill;            /* time_msec() of last refill. */
    unsigned int n_dropped;             /* Suppressed since last shown. */
    bool initialized;                   /* 'tokens' has been set. */
};
#define LOG_RATE_LIMIT_INIT(RATE, BURST) { RATE, BURST, 0, 0, 0, false }

void log_register_module__(struct log_module *);

#define LOG_MODULE(NAME)                                                  \
    static struct log_module this_log_module__ = {                       \
        #NAME, { LOG_L_INFO, LOG_L_OFF, LOG_L_INFO }, LOG_L_INFO, NULL }; \
    __attribute__((constructor)) static void log_init_module__(void)     \
    {                                                                     \
        log_register_module__(&this_log_module__);                        \
    }

void log_msg(struct log_module *, enum log_level, const char *format, ...)
    PRINTF_FORMAT(3, 4);
void log_msg_valist(struct log_module *, enum log_level, const char *format,
                    va_list) PRINTF_FORMAT(3, 0);
void log_msg_rl(struct log_rate_limit *, struct log_module *, enum log_level,
                const char *format, ...) PRINTF_FORMAT(4, 5);
bool log_is_enabled(const struct log_module *, enum log_level);
/* Logs at 'level' and returns 'error' (a -errno), with ": strerror" added
 * to the message. */
int log_err_errno(struct log_module *, enum log_level, int error,
                  const char *format, ...) PRINTF_FORMAT(4, 5);

#define LOG_EMER(...) log_msg(&this_log_module__, LOG_L_EMER, __VA_ARGS__)
#define LOG_ERR(...)  log_msg(&this_log_module__, LOG_L_ERR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(&this_log_module__, LOG_L_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(&this_log_module__, LOG_L_INFO, __VA_ARGS__)
#define LOG_DBG(...)                                                   \
    (this_log_module__.min_level >= LOG_L_DBG                          \
     ? log_msg(&this_log_module__, LOG_L_DBG, __VA_ARGS__) : (void) 0)
#define LOG_IS_DBG_ENABLED() (this_log_module__.min_level >= LOG_L_DBG)

#define LOG_ERR_RL(RL, ...) \
    log_msg_rl(RL, &this_log_module__, LOG_L_ERR, __VA_ARGS__)
#define LOG_WARN_RL(RL, ...) \
    log_msg_rl(RL, &this_log_module__, LOG_L_WARN, __VA_ARGS__)
#define LOG_INFO_RL(RL, ...) \
    log_msg_rl(RL, &this_log_module__, LOG_L_INFO, __VA_ARGS__)
#define LOG_DBG_RL(RL, ...) \
    log_msg_rl(RL, &this_log_module__, LOG_L_DBG, __VA_ARGS__)

/* "return LOG_ERR_ERRNO(r, "connecting to %s", name);" logs
 * "connecting to X: <strerror(-r)>" at ERR and yields r. */
#define LOG_ERR_ERRNO(ERROR, ...) \
    log_err_errno(&this_log_module__, LOG_L_ERR, ERROR, __VA_ARGS__)
#define LOG_WARN_ERRNO(ERROR, ...) \
    log_err_errno(&this_log_module__, LOG_L_WARN, ERROR, __VA_ARGS__)

/* Configuration. */

/* Applies one -v/--verbose or vlog/set spec: words separated by ':' or
 * spaces, each a module name or "ANY", a destination ("console", "syslog",
 * "file", "any") or a level ("off", "emer", "err", "warn", "info", "dbg");
 * an empty spec means "ANY:any:dbg".  Returns NULL on success, otherwise a
 * new error message; the caller frees it. */
char *log_set_levels_from_string(const char *spec);

/* Opens (or with NULL, reopens) the log file.  Returns 0 or -errno. */
int log_set_file(const char *file_name);
int log_reopen_file(void);
/* The current log file name, or NULL.  Owned by log. */
const char *log_get_file(void);
/* Disables console output (after --detach). */
void log_disable_console(void);
/* The "vlog/list" table; the caller frees it. */
char *log_get_levels(void);
/* Sets every module's level for 'dest' (LOG_D_N for all). */
void log_set_levels(struct log_module *, enum log_dest, enum log_level);
/* Returns the module named 'name' or NULL. */
struct log_module *log_module_from_name(const char *name);

#endif /* log.h */
