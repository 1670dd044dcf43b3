/* SPDX-License-Identifier: Apache-2.0
 *
 * util: see util.h.
 */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ovsec_version[] = OVSEC_VERSION;

void
out_of_memory(void)
{
    static const char msg[] = "virtual memory exhausted\n";
    fputs(msg, stderr);
    abort();
}

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
xzalloc(size_t size)
{
    return xcalloc(1, size);
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = (n && size) ? calloc(n, size) : calloc(1, 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
xmemdup(const void *p, size_t size)
{
    void *q = xmalloc(size);
    if (size) {
        memcpy(q, p, size);
    }
    return q;
}

char *
xmemdup0(const void *p, size_t size)
{
    char *q = xmalloc(size + 1);
    if (size) {
        memcpy(q, p, size);
    }
    q[size] = '\0';
    return q;
}

char *
xstrdup(const char *s)
{
    return xmemdup0(s, strlen(s));
}

char *
nullable_xstrdup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

char *
xvasprintf(const char *format, va_list args)
{
    char buf[128];
    va_list args2;

    va_copy(args2, args);
    int needed = vsnprintf(buf, sizeof buf, format, args);
    if (needed < 0) {
        needed = 0;
        buf[0] = '\0';
    }
    char *s = xmalloc(needed + 1);
    if ((size_t) needed < sizeof buf) {
        memcpy(s, buf, needed + 1);
    } else {
        vsnprintf(s, needed + 1, format, args2);
    }
    va_end(args2);
    return s;
}

char *
xasprintf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *s = xvasprintf(format, args);
    va_end(args);
    return s;
}

bool
nullable_string_equal(const char *a, const char *b)
{
    return a ? b && !strcmp(a, b) : !b;
}

bool
str_starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

bool
str_to_llong_range(const char *s, int base, long long min, long long max,
                   long long *ret)
{
    char *end;

    if (!s || !*s || *s == ' ' || *s == '+') {
        return false;
    }
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (errno || *end || v < min || v > max) {
        return false;
    }
    *ret = v;
    return true;
}

void
memzero_explicit(void *p, size_t size)
{
    if (size) {
        explicit_bzero(p, size);
    }
}

int
set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return -errno;
    }
    return 0;
}

const char *
ovsec_strerror(int error)
{
    if (error == EOF) {
        return "end of file";
    }
    return strerror(error < 0 ? -error : error);
}
