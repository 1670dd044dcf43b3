/* SPDX-License-Identifier: Apache-2.0
 *
 * util: allocation wrappers that abort on OOM, string helpers and the few
 * macros every module uses.  No state.
 */
#ifndef OVSEC_UTIL_H
#define OVSEC_UTIL_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(A) (sizeof (A) / sizeof (A)[0])

/* Returns the struct of type STRUCT whose member MEMBER is at POINTER. */
#define CONTAINER_OF(POINTER, STRUCT, MEMBER) \
    ((STRUCT *) (void *) ((char *) (POINTER) - offsetof(STRUCT, MEMBER)))

#define STRINGIZE__(X) #X
#define STRINGIZE(X) STRINGIZE__(X)
/* "file.c:123", for wakeup debugging. */
#define SOURCE_LOCATOR __FILE__ ":" STRINGIZE(__LINE__)

#define PRINTF_FORMAT(FMT, ARG1) __attribute__((__format__(printf, FMT, ARG1)))
#define NO_RETURN __attribute__((__noreturn__))
#define WARN_UNUSED_RESULT __attribute__((__warn_unused_result__))
#define OVS_UNUSED__ __attribute__((__unused__))

#define MIN(A, B) ((A) < (B) ? (A) : (B))
#define MAX(A, B) ((A) > (B) ? (A) : (B))

/* Allocation: these never return NULL; they abort on out-of-memory. */
void *xmalloc(size_t);
void *xzalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xmemdup(const void *, size_t);
/* Returns a copy of 'size' bytes of 'p' followed by a NUL byte. */
char *xmemdup0(const void *p, size_t size);
char *xstrdup(const char *);
/* Like xstrdup() but returns NULL for NULL. */
char *nullable_xstrdup(const char *);
char *xasprintf(const char *format, ...) PRINTF_FORMAT(1, 2);
char *xvasprintf(const char *format, va_list) PRINTF_FORMAT(1, 0);

/* Reports out-of-memory and aborts. */
void out_of_memory(void) NO_RETURN;

/* Returns true if 'a' and 'b' are both NULL or are equal strings. */
bool nullable_string_equal(const char *a, const char *b);

/* Returns true if 's' starts with 'prefix'. */
bool str_starts_with(const char *s, const char *prefix);

/* Parses 's' as a decimal (or 0x hex if 'base' is 0) integer in
 * [min, max]; the whole string must be consumed.  Returns true on
 * success and stores the value in '*ret'. */
bool str_to_llong_range(const char *s, int base, long long min,
                        long long max, long long *ret);

/* Overwrites 'size' bytes at 'p' with zeros in a way the compiler may not
 * elide.  NULL is allowed when size is 0. */
void memzero_explicit(void *p, size_t size);

/* Sets O_NONBLOCK on 'fd'.  Returns 0 or -errno. */
int set_nonblocking(int fd);

/* Returns strerror() text for an errno value given as positive or
 * negative. */
const char *ovsec_strerror(int error);

/* The project version string, e.g. "0.1.0". */
extern const char ovsec_version[];

#endif /* util.h */
