/* SPDX-License-Identifier: Apache-2.0
 *
 * log: see log.h.  Owns the module registry, the per-destination levels,
 * the log file and the message sequence number (process globals).
 */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "ds.h"
#include "log-syslog.h"
#include "timeval.h"

static struct log_module *modules;      /* Registry, sorted by name. */
static unsigned int msg_num;            /* %05N in the line format. */
static int log_fd = -1;                 /* The log file, or -1. */
static char *log_file_name;             /* Its name, or NULL. */
static bool console_disabled;           /* After --detach. */

static const char *const level_names[LOG_L_N] = {
    "OFF", "EMER", "ERR", "WARN", "INFO", "DBG",
};
static const char *const dest_names[LOG_D_N] = {
    "console", "syslog", "file",
};

static void
update_min_level__(struct log_module *m)
{
    m->min_level = LOG_L_OFF;
    for (int d = 0; d < LOG_D_N; d++) {
        if (m->levels[d] > m->min_level) {
            m->min_level = m->levels[d];
        }
    }
}

void
log_register_module__(struct log_module *m)
{
    struct log_module **p = &modules;
    while (*p && strcmp((*p)->name, m->name) < 0) {
        p = &(*p)->next;
    }
    m->next = *p;
    *p = m;
    update_min_level__(m);
}

struct log_module *
log_module_from_name(const char *name)
{
    for (struct log_module *m = modules; m; m = m->next) {
        if (!strcasecmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

bool
log_is_enabled(const struct log_module *m, enum log_level level)
{
    return level != LOG_L_OFF && m->min_level >= level;
}

static void
format_time__(struct ds *s, bool msecs)
{
    long long int now = time_wall_msec();
    time_t secs = now / 1000;
    struct tm tm;
    char buf[32];

    gmtime_r(&secs, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    ds_put_cstr(s, buf);
    if (msecs) {
        ds_put_format(s, ".%03lldZ", now % 1000);
    } else {
        ds_put_char(s, 'Z');
    }
}

static void
write_all__(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += w;
        n -= w;
    }
}

void
log_msg_valist(struct log_module *m, enum log_level level,
               const char *format, va_list args)
{
    bool to_console = !console_disabled
                      && m->levels[LOG_D_CONSOLE] >= level;
    bool to_file = log_fd >= 0 && m->levels[LOG_D_FILE] >= level;
    bool to_syslog = m->levels[LOG_D_SYSLOG] >= level;

    if (level == LOG_L_OFF || (!to_console && !to_file && !to_syslog)) {
        return;
    }

    struct ds msg = DS_EMPTY_INITIALIZER;
    ds_put_format_valist(&msg, format, args);
    /* One message is one line: a newline in a peer-supplied string must
     * not forge another log entry. */
    for (size_t i = 0; i < msg.length; i++) {
        if (msg.string[i] == '\n' || msg.string[i] == '\r') {
            msg.string[i] = ' ';
        }
    }
    msg_num++;

    struct ds line = DS_EMPTY_INITIALIZER;
    if (to_console) {
        format_time__(&line, false);
        ds_put_format(&line, "|%05u|%s|%s|%s\n", msg_num, m->name,
                      level_names[level], ds_cstr(&msg));
        write_all__(STDERR_FILENO, line.string, line.length);
    }
    if (to_file) {
        ds_clear(&line);
        format_time__(&line, true);
        ds_put_format(&line, "|%05u|%s|%s|%s\n", msg_num, m->name,
                      level_names[level], ds_cstr(&msg));
        write_all__(log_fd, line.string, line.length);
    }
    if (to_syslog) {
        ds_clear(&line);
        ds_put_format(&line, "ovs|%05u|%s|%s|%s", msg_num, m->name,
                      level_names[level], ds_cstr(&msg));
        log_syslog_send(level, ds_cstr(&line));
    }
    ds_destroy(&line);
    ds_destroy(&msg);
}

void
log_msg(struct log_module *m, enum log_level level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_msg_valist(m, level, format, args);
    va_end(args);
}

/* Returns true if a message may be logged now, refilling 'rl'. */
static bool
rate_limit_allow__(struct log_rate_limit *rl)
{
    long long int now = time_msec();
    unsigned int max_tokens = rl->burst * 1000;

    if (!rl->initialized) {
        rl->initialized = true;
        rl->tokens = max_tokens;
        rl->last_fill = now;
    } else if (now > rl->last_fill) {
        long long int add = (now - rl->last_fill) * rl->rate / 60;
        rl->tokens = add >= max_tokens - rl->tokens ? max_tokens
                     : rl->tokens + (unsigned int) add;
        rl->last_fill = now;
    }
    if (rl->tokens >= 1000) {
        rl->tokens -= 1000;
        return true;
    }
    rl->n_dropped++;
    return false;
}

void
log_msg_rl(struct log_rate_limit *rl, struct log_module *m,
           enum log_level level, const char *format, ...)
{
    if (!log_is_enabled(m, level) || !rate_limit_allow__(rl)) {
        return;
    }
    if (rl->n_dropped) {
        log_msg(m, level, "Dropped %u log messages in last period due to "
                "excessive rate", rl->n_dropped);
        rl->n_dropped = 0;
    }
    va_list args;
    va_start(args, format);
    log_msg_valist(m, level, format, args);
    va_end(args);
}

int
log_err_errno(struct log_module *m, enum log_level level, int error,
              const char *format, ...)
{
    if (log_is_enabled(m, level)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        va_list args;
        va_start(args, format);
        ds_put_format_valist(&s, format, args);
        va_end(args);
        log_msg(m, level, "%s: %s", ds_cstr(&s), ovsec_strerror(error));
        ds_destroy(&s);
    }
    return error;
}

void
log_set_levels(struct log_module *m, enum log_dest dest,
               enum log_level level)
{
    for (struct log_module *p = m ? m : modules; p; p = m ? NULL : p->next) {
        for (int d = 0; d < LOG_D_N; d++) {
            if (dest == LOG_D_N || (enum log_dest) d == dest) {
                p->levels[d] = level;
            }
        }
        update_min_level__(p);
    }
}

static bool
level_from_string__(const char *s, enum log_level *level)
{
    static const char *const alt[LOG_L_N] = {
        "off", "emer", "err", "warn", "info", "dbg",
    };
    for (int i = 0; i < LOG_L_N; i++) {
        if (!strcasecmp(s, alt[i])) {
            *level = i;
            return true;
        }
    }
    if (!strcasecmp(s, "debug")) {
        *level = LOG_L_DBG;
        return true;
    }
    if (!strcasecmp(s, "warning")) {
        *level = LOG_L_WARN;
        return true;
    }
    return false;
}

char *
log_set_levels_from_string(const char *spec_)
{
    char *spec = xstrdup(spec_ ? spec_ : "");
    char *save = NULL;
    struct log_module *module = NULL;
    bool any_module = true;
    enum log_dest dest = LOG_D_N;
    enum log_level level = LOG_L_DBG;
    char *error = NULL;

    for (char *word = strtok_r(spec, " :\t", &save); word;
         word = strtok_r(NULL, " :\t", &save)) {
        enum log_level l;
        bool found = false;

        if (!strcasecmp(word, "any")) {
            continue;           /* "ANY" module or "any" destination. */
        }
        if (!strcasecmp(word, "pattern") || str_starts_with(word, "%")) {
            error = xasprintf("setting log patterns is not supported");
            goto out;
        }
        for (int d = 0; d < LOG_D_N; d++) {
            if (!strcasecmp(word, dest_names[d])) {
                if (dest != LOG_D_N) {
                    error = xasprintf("cannot specify multiple "
                                      "destinations");
                    goto out;
                }
                dest = d;
                found = true;
            }
        }
        if (found) {
            continue;
        }
        if (level_from_string__(word, &l)) {
            level = l;
            continue;
        }
        struct log_module *m = log_module_from_name(word);
        if (!m) {
            error = xasprintf("unknown module \"%s\"", word);
            goto out;
        }
        if (!any_module) {
            error = xasprintf("cannot specify multiple modules");
            goto out;
        }
        module = m;
        any_module = false;
    }
    log_set_levels(module, dest, level);

out:
    free(spec);
    return error;
}

int
log_set_file(const char *file_name)
{
    int fd;

    if (!file_name) {
        file_name = log_file_name;
        if (!file_name) {
            return 0;
        }
    }
    fd = open(file_name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -errno;
    }
    if (log_fd >= 0) {
        close(log_fd);
    }
    log_fd = fd;
    if (file_name != log_file_name) {
        free(log_file_name);
        log_file_name = xstrdup(file_name);
    }
    return 0;
}

int
log_reopen_file(void)
{
    return log_file_name ? log_set_file(NULL) : 0;
}

const char *
log_get_file(void)
{
    return log_file_name;
}

void
log_disable_console(void)
{
    console_disabled = true;
}

char *
log_get_levels(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "                 console    syslog    file\n");
    ds_put_format(&s, "                 -------    ------    ------\n");
    for (struct log_module *m = modules; m; m = m->next) {
        ds_put_format(&s, "%-16s  %4s       %4s       %4s\n", m->name,
                      level_names[m->levels[LOG_D_CONSOLE]],
                      level_names[m->levels[LOG_D_SYSLOG]],
                      level_names[m->levels[LOG_D_FILE]]);
    }
    return ds_steal_cstr(&s);
}
