/* SPDX-License-Identifier: Apache-2.0
 *
 * process: child processes driven by the poll loop; see process.h.
 *
 * A child is started with posix_spawn(): its stdout and stderr are pipes,
 * its stdin a socket (so that a child that exits without reading all of
 * its input makes our write fail with EPIPE instead of raising SIGPIPE).
 * Our ends are non-blocking; the child's are blocking, as programs
 * expect.  Exit is noticed through a pidfd when the kernel has one, so
 * that a child whose grandchildren keep its pipes open (`ipsec start`
 * leaves pluto running) is still reaped promptly.
 */
#include "config.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ds.h"
#include "log.h"
#include "loop.h"
#include "timeval.h"
#include "util.h"

LOG_MODULE(process);

extern char **environ;

/* Without a pidfd, how often run() checks whether the child exited. */
#define PROCESS_POLL_MS 20

/* Bytes read from one pipe per process_run() before letting other work
 * run: a child that writes without pause cannot starve the loop. */
#define PROCESS_READ_BUDGET (1024 * 1024)

enum { OUT_STDOUT, OUT_STDERR, OUT_N };

struct process_output {
    int fd;                     /* Our read end, -1 once at EOF. */
    struct ds buf;              /* What was kept, at most 'max_output'. */
    bool more;                  /* Read budget ran out with data left. */
};

struct process {
    char *name;                 /* argv[0]. */
    pid_t pid;                  /* The child; its process group id too. */
    int pidfd;                  /* pidfd of 'pid', or -1. */

    int stdin_fd;               /* Our end of stdin, -1 once closed. */
    unsigned char *stdin_buf;   /* Copy of the stdin bytes (secret). */
    size_t stdin_size;          /* Bytes in 'stdin_buf'. */
    size_t stdin_ofs;           /* Bytes written so far. */

    struct process_output out[OUT_N];
    size_t max_output;          /* Cap for each of 'out'. */
    bool truncated;             /* Some output was dropped. */

    long long int start_ms;     /* time_msec() at start. */
    long long int timeout_ms;   /* As given, <= 0 for none. */
    long long int deadline;     /* SIGTERM at this time_msec(). */
    long long int kill_grace_ms;
    long long int kill_at;      /* SIGKILL at this time, once 'termed'. */
    bool termed;                /* SIGTERM sent at the deadline. */
    bool killed;                /* SIGKILL sent. */

    bool reaped;                /* waitpid() returned the child. */
    int wstatus;                /* Its status, once 'reaped'. */
    bool done;                  /* Reaped and output drained. */
};

/* See process_use_pidfd(). */
static bool use_pidfd = true;

/* Children of destroyed processes not reaped yet. */
static pid_t *orphans;
static size_t n_orphans, allocated_orphans;

static void
close_fd__(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void
free_stdin__(struct process *p)
{
    if (p->stdin_buf) {
        memzero_explicit(p->stdin_buf, p->stdin_size);
        free(p->stdin_buf);
        p->stdin_buf = NULL;
    }
    p->stdin_size = p->stdin_ofs = 0;
    close_fd__(&p->stdin_fd);
}

static int
pidfd_open__(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* The kernel sets O_CLOEXEC on pidfds. */
    int fd = syscall(SYS_pidfd_open, pid, 0);
    return fd >= 0 ? fd : -1;
#else
    (void) pid;
    return -1;
#endif
}

/* Returns a new environment: 'environ' with 'additions' added, each
 * replacing a variable of the same name.  The strings are borrowed; the
 * caller frees only the array. */
static char **
make_env__(const char *const *additions)
{
    size_t n_env = 0, n_add = 0;
    while (environ && environ[n_env]) {
        n_env++;
    }
    while (additions[n_add]) {
        n_add++;
    }

    char **env = xcalloc(n_env + n_add + 1, sizeof *env);
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t) (eq - environ[i])
                             : strlen(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < n_add; j++) {
            if (!strncmp(additions[j], environ[i], name_len)
                && additions[j][name_len] == '=') {
                replaced = true;
                break;
            }
        }
        if (!replaced) {
            env[n++] = environ[i];
        }
    }
    for (size_t j = 0; j < n_add; j++) {
        env[n++] = (char *) additions[j];
    }
    env[n] = NULL;
    return env;
}

int
process_start(const struct process_options *options, struct process **ret)
{
    int child_fds[3] = { -1, -1, -1 };
    int parent_fds[3] = { -1, -1, -1 };
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    bool actions_init = false, attr_init = false;
    char **env = NULL;
    struct process *p = NULL;
    int error;

    *ret = NULL;
    process_reap_orphans();

    if (!options->argv || !options->argv[0] || !options->argv[0][0]) {
        return -EINVAL;
    }

    /* stdin: a socket, see the file comment.  stdout, stderr: pipes.  All
     * close-on-exec; posix_spawn's dup2 onto 0, 1, 2 clears the flag on
     * the child's copies only. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        error = -errno;
        goto error;
    }
    parent_fds[0] = sv[0];
    child_fds[0] = sv[1];
    for (int i = 1; i <= 2; i++) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC)) {
            error = -errno;
            goto error;
        }
        child_fds[i] = fds[1];
        parent_fds[i] = fds[0];
    }
    for (int i = 0; i <= 2; i++) {
        error = set_nonblocking(parent_fds[i]);
        if (error) {
            goto error;
        }
    }
    /* The child only reads its stdin socket. */
    shutdown(child_fds[0], SHUT_WR);

    error = -posix_spawn_file_actions_init(&actions);
    if (error) {
        goto error;
    }
    actions_init = true;
    for (int i = 0; i <= 2; i++) {
        error = -posix_spawn_file_actions_adddup2(&actions, child_fds[i], i);
        if (error) {
            goto error;
        }
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 \
                           || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Belt and braces: every fd of ours is O_CLOEXEC, but a library's
     * might not be. */
    error = -posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (error) {
        goto error;
    }
#endif

    error = -posix_spawnattr_init(&attr);
    if (error) {
        goto error;
    }
    attr_init = true;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    /* Own process group, so that a timeout kills what the child started;
     * default dispositions (the daemon ignores SIGPIPE); no mask. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    error = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP
                                      | POSIX_SPAWN_SETSIGMASK
                                      | POSIX_SPAWN_SETSIGDEF);
    if (error) {
        goto error;
    }

    if (options->env && options->env[0]) {
        env = make_env__(options->env);
    }

    pid_t pid;
    char *const *argv = (char *const *) options->argv;
    char *const *envp = env ? env : environ;
    if (strchr(options->argv[0], '/')) {
        error = -posix_spawn(&pid, options->argv[0], &actions, &attr,
                             argv, envp);
    } else {
        error = -posix_spawnp(&pid, options->argv[0], &actions, &attr,
                              argv, envp);
    }
    if (error) {
        LOG_DBG("%s: spawn failed: %s", options->argv[0],
                ovsec_strerror(error));
        goto error;
    }

    p = xzalloc(sizeof *p);
    p->name = xstrdup(options->argv[0]);
    p->pid = pid;
    p->pidfd = use_pidfd ? pidfd_open__(pid) : -1;
    p->stdin_fd = parent_fds[0];
    p->out[OUT_STDOUT].fd = parent_fds[1];
    p->out[OUT_STDERR].fd = parent_fds[2];
    for (int i = 0; i < OUT_N; i++) {
        ds_init(&p->out[i].buf);
    }
    if (options->stdin_data && options->stdin_size) {
        p->stdin_buf = xmemdup(options->stdin_data, options->stdin_size);
        p->stdin_size = options->stdin_size;
    } else {
        /* Empty stdin: EOF right away. */
        close_fd__(&p->stdin_fd);
    }
    p->max_output = options->max_output ? options->max_output
                                        : PROCESS_OUTPUT_MAX;
    p->start_ms = time_msec();
    p->timeout_ms = options->timeout_ms;
    p->deadline = (options->timeout_ms > 0
                   ? p->start_ms + options->timeout_ms : LLONG_MAX);
    p->kill_grace_ms = (options->kill_grace_ms > 0 ? options->kill_grace_ms
                        : PROCESS_KILL_GRACE_MS);
    p->kill_at = LLONG_MAX;
    LOG_DBG("%s: started as pid %ld%s", p->name, (long) pid,
            p->pidfd < 0 ? " (no pidfd)" : "");

    for (int i = 0; i <= 2; i++) {
        close(child_fds[i]);
    }
    error = 0;
    *ret = p;
    goto out;

error:
    for (int i = 0; i <= 2; i++) {
        if (child_fds[i] >= 0) {
            close(child_fds[i]);
        }
        if (parent_fds[i] >= 0) {
            close(parent_fds[i]);
        }
    }
out:
    if (attr_init) {
        posix_spawnattr_destroy(&attr);
    }
    if (actions_init) {
        posix_spawn_file_actions_destroy(&actions);
    }
    free(env);
    return error;
}

/* Writes what the child's stdin accepts now.  Closes it when all is
 * written or the child stopped reading. */
static void
feed_stdin__(struct process *p)
{
    while (p->stdin_fd >= 0 && p->stdin_ofs < p->stdin_size) {
        ssize_t n = send(p->stdin_fd, p->stdin_buf + p->stdin_ofs,
                         p->stdin_size - p->stdin_ofs,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p->stdin_ofs += n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            /* EPIPE etc.: the child does not want the rest. */
            LOG_DBG("%s: stdin: %s after %zu of %zu bytes", p->name,
                    n < 0 ? ovsec_strerror(errno) : "closed",
                    p->stdin_ofs, p->stdin_size);
            break;
        }
    }
    if (p->stdin_buf) {
        free_stdin__(p);
    }
}

/* Reads what 'o' has now, until it would block or after 'budget' bytes
 * (then sets 'o->more').  Closes it at EOF or on error. */
static void
read_output__(struct process *p, struct process_output *o, size_t budget)
{
    char buf[65536];
    size_t total = 0;

    o->more = false;
    while (o->fd >= 0) {
        if (total >= budget) {
            o->more = true;
            return;
        }
        ssize_t n = read(o->fd, buf, sizeof buf);
        if (n > 0) {
            total += n;
            size_t room = p->max_output - MIN(o->buf.length, p->max_output);
            if ((size_t) n > room) {
                p->truncated = true;
            }
            if (room) {
                ds_put_buffer(&o->buf, buf, MIN((size_t) n, room));
            }
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            /* EOF or a read error: either way nothing more comes. */
            close_fd__(&o->fd);
        }
    }
}

static void
signal_child__(struct process *p, int sig)
{
    /* The group first, so that what the child started dies with it; then
     * the child itself, in case it moved to a group of its own.  Never
     * after the child was reaped: its pid may be reused. */
    if (!p->reaped) {
        kill(-p->pid, sig);
        kill(p->pid, sig);
    }
}

static void
reap__(struct process *p)
{
    int status;
    pid_t r;

    do {
        r = waitpid(p->pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == p->pid) {
        p->reaped = true;
        p->wstatus = status;
        close_fd__(&p->pidfd);
    } else if (r < 0) {
        /* ECHILD: someone else reaped it (a stray waitpid(-1)).  Count it
         * as killed, so that the owner does not wait forever. */
        LOG_DBG("%s: waitpid(%ld): %s", p->name, (long) p->pid,
                ovsec_strerror(errno));
        p->reaped = true;
        p->wstatus = SIGKILL;   /* WIFSIGNALED, WTERMSIG == SIGKILL. */
        close_fd__(&p->pidfd);
    }
}

bool
process_run(struct process *p)
{
    if (p->done) {
        return true;
    }
    process_reap_orphans();

    feed_stdin__(p);
    for (int i = 0; i < OUT_N; i++) {
        read_output__(p, &p->out[i], PROCESS_READ_BUDGET);
    }

    if (!p->reaped) {
        reap__(p);
    }
    if (!p->reaped) {
        long long int now = time_msec();
        if (!p->termed && now >= p->deadline) {
            LOG_DBG("%s: pid %ld timed out after %lld ms, sending SIGTERM",
                    p->name, (long) p->pid, p->timeout_ms);
            p->termed = true;
            p->kill_at = now + p->kill_grace_ms;
            signal_child__(p, SIGTERM);
        }
        if (p->termed && !p->killed && now >= p->kill_at) {
            LOG_DBG("%s: pid %ld still running, sending SIGKILL",
                    p->name, (long) p->pid);
            p->killed = true;
            signal_child__(p, SIGKILL);
        }
        reap__(p);
    }

    if (p->reaped) {
        /* Everything the child wrote before exiting is in the pipes now,
         * at most a pipe's capacity (1 MiB at most, by default).  Drain
         * that much, but do not wait for EOF, nor read forever: a
         * grandchild may hold the pipes open, and write, for as long as
         * it lives. */
        for (int i = 0; i < OUT_N; i++) {
            read_output__(p, &p->out[i], PROCESS_READ_BUDGET);
            close_fd__(&p->out[i].fd);
        }
        free_stdin__(p);
        p->done = true;
        LOG_DBG("%s: pid %ld finished", p->name, (long) p->pid);
    }
    return p->done;
}

void
process_wait(const struct process *p)
{
    if (p->done) {
        loop_immediate_wake();
        return;
    }
    for (int i = 0; i < OUT_N; i++) {
        const struct process_output *o = &p->out[i];
        if (o->more) {
            loop_immediate_wake();
        } else if (o->fd >= 0) {
            loop_fd_wait(o->fd, POLLIN);
        }
    }
    if (p->stdin_fd >= 0 && p->stdin_ofs < p->stdin_size) {
        loop_fd_wait(p->stdin_fd, POLLOUT);
    }
    if (p->reaped) {
        loop_immediate_wake();
    } else if (p->pidfd >= 0) {
        loop_fd_wait(p->pidfd, POLLIN);
    } else {
        loop_timer_wait(PROCESS_POLL_MS);
    }
    if (!p->termed) {
        loop_timer_wait_until(p->deadline);
    } else if (!p->killed) {
        loop_timer_wait_until(p->kill_at);
    }
}

bool
process_is_done(const struct process *p)
{
    return p->done;
}

enum process_outcome
process_get_outcome(const struct process *p)
{
    if (!p->done) {
        return PROCESS_RUNNING;
    } else if (p->termed) {
        /* Even if it then exited 0: it did not finish in time. */
        return PROCESS_TIMED_OUT;
    } else if (WIFEXITED(p->wstatus)) {
        return PROCESS_EXITED;
    } else {
        return PROCESS_SIGNALED;
    }
}

int
process_exit_code(const struct process *p)
{
    return (process_get_outcome(p) == PROCESS_EXITED
            ? WEXITSTATUS(p->wstatus) : -1);
}

int
process_signal(const struct process *p)
{
    enum process_outcome outcome = process_get_outcome(p);
    return ((outcome == PROCESS_SIGNALED || outcome == PROCESS_TIMED_OUT)
            && WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : 0);
}

bool
process_succeeded(const struct process *p)
{
    return process_exit_code(p) == 0;
}

static const char *
output__(const struct process *p, int which, size_t *ret_size)
{
    const struct ds *buf = &p->out[which].buf;
    if (ret_size) {
        *ret_size = buf->length;
    }
    return ds_cstr_ro(buf);
}

const char *
process_stdout(const struct process *p, size_t *ret_size)
{
    return output__(p, OUT_STDOUT, ret_size);
}

const char *
process_stderr(const struct process *p, size_t *ret_size)
{
    return output__(p, OUT_STDERR, ret_size);
}

bool
process_output_truncated(const struct process *p)
{
    return p->truncated;
}

char *
process_status_msg(const struct process *p)
{
    int sig;

    switch (process_get_outcome(p)) {
    case PROCESS_RUNNING:
        return xstrdup("still running");
    case PROCESS_EXITED:
        return xasprintf("exited with code %d", process_exit_code(p));
    case PROCESS_SIGNALED:
        sig = process_signal(p);
        return xasprintf("killed by signal %d (%s)", sig, strsignal(sig));
    case PROCESS_TIMED_OUT:
        return xasprintf("timed out after %lld ms", p->timeout_ms);
    case PROCESS_OUTCOME_N:
    default:
        break;
    }
    return xstrdup("unknown status");
}

pid_t
process_pid(const struct process *p)
{
    return p->pid;
}

const char *
process_name(const struct process *p)
{
    return p->name;
}

void
process_destroy(struct process *p)
{
    if (!p) {
        return;
    }
    if (!p->reaped) {
        signal_child__(p, SIGKILL);
        reap__(p);
        if (!p->reaped) {
            if (n_orphans >= allocated_orphans) {
                allocated_orphans = allocated_orphans * 2 + 4;
                orphans = xrealloc(orphans,
                                   allocated_orphans * sizeof *orphans);
            }
            orphans[n_orphans++] = p->pid;
        }
    }
    close_fd__(&p->pidfd);
    free_stdin__(p);
    for (int i = 0; i < OUT_N; i++) {
        close_fd__(&p->out[i].fd);
        ds_destroy(&p->out[i].buf);
    }
    free(p->name);
    free(p);
    process_reap_orphans();
}

size_t
process_reap_orphans(void)
{
    size_t i = 0;
    while (i < n_orphans) {
        pid_t r = waitpid(orphans[i], NULL, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
        } else {
            /* Reaped, or ECHILD: gone either way. */
            orphans[i] = orphans[--n_orphans];
        }
    }
    if (!n_orphans) {
        free(orphans);
        orphans = NULL;
        allocated_orphans = 0;
    }
    return n_orphans;
}

void
process_use_pidfd(bool use)
{
    use_pidfd = use;
}
