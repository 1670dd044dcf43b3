/* SPDX-License-Identifier: Apache-2.0
 *
 * daemon: see daemon.h.
 *
 * Startup notification: each fork that someone waits for gets a socketpair.
 * The child keeps one end in 'notify_fd' and daemon_complete() writes one
 * byte to it; the parent blocks reading the other end and sees either that
 * byte or end-of-file when the child died first.  A socketpair rather than
 * a pipe because send(MSG_NOSIGNAL) cannot kill the daemon with SIGPIPE if
 * the waiting parent is gone.
 *
 * Pidfile locks are classic POSIX record locks (F_SETLK), not OFD locks:
 * ovs-appctl compares the pid that F_GETLK reports with the pid in the file,
 * and F_GETLK reports no pid for OFD locks.  The price of POSIX locks is
 * that closing *any* descriptor of the file releases the process's lock, so
 * daemon_read_pidfile() never opens this process's own pidfile.
 */
#include "config.h"
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "timeval.h"
#include "util.h"

LOG_MODULE(daemon);

/* --monitor restart backoff: the first restart waits RESTART_MIN_MS, each
 * further one twice as long up to RESTART_MAX_MS; a daemon that stayed up
 * for RESTART_RESET_MS starts the sequence over. */
#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 60000
#define RESTART_RESET_MS 60000

/* How often pidfile creation retries after losing a race with another
 * process creating or removing the same pidfile. */
#define PIDFILE_MAX_TRIES 8

static char *program_name;      /* Set by daemon_set_program_name(). */

/* The pidfile this process created and holds locked. */
static char *pidfile_name;      /* Absolute name, or NULL if none. */
static int pidfile_fd = -1;     /* Holds the lock; never closed early. */
static dev_t pidfile_dev;       /* Identity of the file we created... */
static ino_t pidfile_ino;       /* ...to never remove someone else's. */
static pid_t pidfile_pid;       /* The process that created it. */
static bool atexit_registered;  /* daemon_remove_pidfile() runs at exit. */

static int notify_fd = -1;      /* Startup notification, see above. */
static bool detached;           /* --detach was given. */
static bool no_chdir;           /* --no-chdir was given. */
static bool completed;          /* daemon_complete() was called. */

void
daemon_set_program_name(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');

    free(program_name);
    program_name = xstrdup(slash ? slash + 1 : argv0);
}

const char *
daemon_program_name(void)
{
    return program_name ? program_name : program_invocation_short_name;
}

const char *
daemon_rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");

    return dir && *dir ? dir : OVSEC_RUNDIR_DEFAULT;
}

char *
daemon_rundir_file(const char *name)
{
    return (name[0] == '/'
            ? xstrdup(name)
            : xasprintf("%s/%s", daemon_rundir(), name));
}

/* Formats a waitpid() status for humans.  Returns a new string; the caller
 * frees it. */
static char *
status_msg__(int status)
{
    if (WIFEXITED(status)) {
        return xasprintf("exit status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        return xasprintf("killed (%s)%s", strsignal(WTERMSIG(status)),
                         WCOREDUMP(status) ? ", core dumped" : "");
    }
    return xasprintf("wait status %d", status);
}

/* Waits for child 'pid' to exit and stores its status in '*status'.
 * Returns 0 or -errno. */
static int
reap__(pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, 0);
        if (r == pid) {
            return 0;
        } else if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

static void
sleep_ms__(long long int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) && errno == EINTR) {
        continue;
    }
}

/* Forks.  In the child, returns 0 with '*ret_pid' set to 0; the child's
 * daemon_complete() will notify this parent.  In the parent, blocks until
 * the child completed startup ('*ret_status' = -1) or died first
 * ('*ret_status' = its wait status, and the child is reaped), and sets
 * '*ret_pid' to the child's pid.  Returns -errno if no child was made. */
static int
fork_and_wait__(pid_t *ret_pid, int *ret_status)
{
    int fds[2];
    pid_t pid;

    *ret_pid = -1;
    *ret_status = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        int error = -errno;
        close(fds[0]);
        close(fds[1]);
        return error;
    }

    *ret_pid = pid;
    if (!pid) {
        /* Whoever waited for our parent is not waiting for us. */
        if (notify_fd >= 0) {
            close(notify_fd);
        }
        close(fds[0]);
        notify_fd = fds[1];
        return 0;
    }

    close(fds[1]);
    for (;;) {
        char c;
        ssize_t n = read(fds[0], &c, 1);
        if (n > 0) {
            break;
        } else if (!n || errno != EINTR) {
            /* The child died before completing startup (or the pipe broke,
             * which is the same thing for us). */
            int error = reap__(pid, ret_status);
            if (error) {
                close(fds[0]);
                return error;
            }
            break;
        }
    }
    close(fds[0]);
    return 0;
}

/* Tells whoever waits for this process's startup that it completed. */
static void
notify__(void)
{
    if (notify_fd >= 0) {
        char c = 0;
        while (send(notify_fd, &c, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
            continue;
        }
        close(notify_fd);
        notify_fd = -1;
    }
}

/* After --detach: stop using the terminal and the working directory. */
static void
detach_finish__(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd >= 0) {
        for (int i = 0; i < 3; i++) {
            if (fd != i) {
                dup2(fd, i);
            }
        }
        if (fd > 2) {
            close(fd);
        }
    }
    log_disable_console();
    if (!no_chdir && chdir("/")) {
        LOG_DBG("chdir(\"/\") failed: %s", ovsec_strerror(errno));
    }
}

/* True if 'status' means a crash that --monitor recovers from.  This is
 * OVS's list, which operators know from its documentation. */
static bool
crashed__(int status)
{
    static const int crash_signals[] = {
        SIGABRT, SIGALRM, SIGBUS, SIGFPE, SIGILL, SIGPIPE, SIGSEGV,
        SIGXCPU, SIGXFSZ,
    };

    if (WIFSIGNALED(status)) {
        for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++) {
            if (WTERMSIG(status) == crash_signals[i]) {
                return true;
            }
        }
    }
    return false;
}

/* The --monitor supervisor's loop: waits for daemon 'pid', restarts it
 * after crashes.  Returns in a restarted daemon with '*is_daemon' set to
 * true, or in the supervisor with the status to exit with once the daemon
 * exited for another reason. */
static int
monitor__(pid_t pid, bool *is_daemon)
{
    long long int delay_ms = RESTART_MIN_MS;
    long long int started = time_msec();
    unsigned int crashes = 0;
    bool reap = true;
    int status = 0;

    *is_daemon = false;
    for (;;) {
        if (reap) {
            int error = reap__(pid, &status);
            if (error) {
                LOG_ERR("waitpid for pid %ld failed (%s), exiting",
                        (long int) pid, ovsec_strerror(error));
                return 1;
            }
        }
        reap = true;

        /* A rotated log file must not swallow what we say next. */
        log_reopen_file();

        char *why = status_msg__(status);
        if (!crashed__(status)) {
            LOG_INFO("pid %ld died, %s, exiting", (long int) pid, why);
            free(why);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        }

        if (time_msec() - started >= RESTART_RESET_MS) {
            delay_ms = RESTART_MIN_MS;
        }
        LOG_ERR("%u crashes: pid %ld died, %s, restarting in %lld ms",
                ++crashes, (long int) pid, why, delay_ms);
        free(why);

        for (;;) {
            sleep_ms__(delay_ms);
            delay_ms = MIN(delay_ms * 2, RESTART_MAX_MS);

            int error = fork_and_wait__(&pid, &status);
            if (!error) {
                break;
            }
            LOG_ERR("fork failed (%s), retrying in %lld ms",
                    ovsec_strerror(error), delay_ms);
        }
        if (!pid) {
            *is_daemon = true;
            return 0;
        }
        started = time_msec();
        if (status == -1) {
            LOG_INFO("pid %ld restarted", (long int) pid);
        } else {
            /* It died during startup: judge that death without waiting. */
            reap = false;
        }
    }
}

/* Makes 'error' the message for a failure of 'op' on 'file'. */
static char *
file_error__(const char *file, const char *op, int error)
{
    return xasprintf("%s: %s failed (%s)", file, op, ovsec_strerror(error));
}

/* Removes pidfile 'name' if no live process holds it locked.  Returns 0 if
 * removed, -EAGAIN or -ENOENT if the caller should just try again,
 * -EBUSY with the holder in '*holder' if it is locked, else -errno. */
static int
remove_stale__(const char *name, pid_t *holder)
{
    struct flock lck = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    struct stat s1, s2;
    int error = 0;
    int fd;

    fd = open(name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    if (fcntl(fd, F_SETLK, &lck) < 0) {
        if (errno != EAGAIN && errno != EACCES) {
            error = -errno;
        } else {
            lck = (struct flock) { .l_type = F_WRLCK, .l_whence = SEEK_SET };
            if (fcntl(fd, F_GETLK, &lck) < 0) {
                error = -errno;
            } else if (lck.l_type == F_UNLCK) {
                error = -EAGAIN;    /* Just released: look again. */
            } else {
                *holder = lck.l_pid;
                error = -EBUSY;
            }
        }
        goto out;
    }

    /* We hold the stale file's lock, so nobody else may remove it; but
     * someone may have replaced it under its name before we locked it. */
    if (stat(name, &s1) || fstat(fd, &s2)
        || s1.st_dev != s2.st_dev || s1.st_ino != s2.st_ino) {
        error = -EAGAIN;
    } else if (unlink(name) && errno != ENOENT) {
        error = -errno;
    }

out:
    close(fd);
    return error;
}

/* Creates and locks pidfile 'name' (absolute) for this process.  Takes
 * ownership of 'name'.  Returns 0 or -errno with a message in
 * '*ret_error'. */
static int
pidfile_create__(char *name, bool overwrite, char **ret_error)
{
    struct flock lck = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    long int pid = getpid();
    char *tmp = xasprintf("%s.tmp%ld", name, pid);
    char *content = xasprintf("%ld\n", pid);
    size_t size = strlen(content);
    struct stat s;
    int error = 0;
    int fd;

    /* Build the complete, locked file under a private name first, so that
     * readers never see an empty or unlocked pidfile under 'name'. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
              0644);
    if (fd < 0) {
        error = -errno;
        *ret_error = file_error__(tmp, "create", -error);
        goto out;
    }
    errno = EIO;                /* For a short write(). */
    if (fchmod(fd, 0644) || fcntl(fd, F_SETLK, &lck) < 0
        || write(fd, content, size) != (ssize_t) size || fstat(fd, &s)) {
        error = -errno;
        *ret_error = file_error__(tmp, "write", -error);
        goto out;
    }

    /* link() fails if 'name' exists, which makes claiming it atomic. */
    for (int tries = 0; ; tries++) {
        pid_t holder = 0;

        if (overwrite) {
            if (rename(tmp, name)) {
                error = -errno;
                *ret_error = file_error__(name, "rename", -error);
            }
            break;
        }
        if (!link(tmp, name)) {
            unlink(tmp);
            break;
        }
        if (errno != EEXIST) {
            error = -errno;
            *ret_error = file_error__(name, "link", -error);
            break;
        }
        if (tries >= PIDFILE_MAX_TRIES) {
            error = -EAGAIN;
            *ret_error = xasprintf("%s: lost too many races with other "
                                   "processes creating it", name);
            break;
        }

        error = remove_stale__(name, &holder);
        if (error == -EBUSY) {
            *ret_error = xasprintf("pidfile %s is locked by pid %ld",
                                   name, (long int) holder);
            break;
        } else if (error && error != -EAGAIN && error != -ENOENT) {
            *ret_error = file_error__(name, "removing stale pidfile",
                                      -error);
            break;
        }
        error = 0;
    }
    if (error) {
        goto out;
    }

    pidfile_name = name;
    name = NULL;
    pidfile_fd = fd;
    fd = -1;
    pidfile_dev = s.st_dev;
    pidfile_ino = s.st_ino;
    pidfile_pid = pid;
    if (!atexit_registered) {
        atexit_registered = true;
        atexit(daemon_remove_pidfile);
    }

out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(content);
    free(tmp);
    free(name);
    return error;
}

int
daemon_start(const struct daemon_options *options, int *ret_exit,
             char **ret_error)
{
    char *pidfile = NULL;
    int status;
    pid_t pid;
    int error = 0;

    *ret_exit = -1;
    *ret_error = NULL;
    if (pidfile_name) {
        *ret_error = xasprintf("%s: this process already has a pidfile",
                               pidfile_name);
        return -EALREADY;
    }

    /* Resolve the name now: detaching may change the directory. */
    if (options->pidfile) {
        pidfile = (options->pidfile_name
                   ? daemon_rundir_file(options->pidfile_name)
                   : xasprintf("%s/%s.pid", daemon_rundir(),
                               daemon_program_name()));
    }
    detached = options->detach;
    no_chdir = options->no_chdir;
    completed = false;

    if (options->detach) {
        error = fork_and_wait__(&pid, &status);
        if (error) {
            *ret_error = xasprintf("could not detach: fork failed (%s)",
                                   ovsec_strerror(error));
            goto out;
        } else if (pid > 0) {
            /* The foreground parent: report how startup went. */
            if (status == -1) {
                *ret_exit = 0;
            } else if (WIFEXITED(status) && WEXITSTATUS(status)) {
                /* The child already said why on our shared stderr. */
                *ret_exit = WEXITSTATUS(status);
            } else {
                char *why = status_msg__(status);
                *ret_error = xasprintf("daemon pid %ld died before "
                                       "completing startup (%s)",
                                       (long int) pid, why);
                free(why);
                error = -ECHILD;
            }
            goto out;
        }
        setsid();
    }

    if (options->monitor) {
        bool is_daemon;

        error = fork_and_wait__(&pid, &status);
        if (error) {
            *ret_error = xasprintf("could not start monitored daemon: "
                                   "fork failed (%s)", ovsec_strerror(error));
            goto out;
        } else if (pid > 0) {
            /* The supervisor. */
            if (status != -1) {
                if (WIFEXITED(status) && WEXITSTATUS(status)) {
                    *ret_exit = WEXITSTATUS(status);
                } else {
                    char *why = status_msg__(status);
                    *ret_error = xasprintf("daemon pid %ld died before "
                                           "completing startup (%s)",
                                           (long int) pid, why);
                    free(why);
                    error = -ECHILD;
                }
                goto out;
            }
            notify__();
            if (detached) {
                detach_finish__();
            }
            *ret_exit = monitor__(pid, &is_daemon);
            if (!is_daemon) {
                goto out;
            }
            *ret_exit = -1;
        }
    }

    if (pidfile) {
        error = pidfile_create__(pidfile, options->overwrite_pidfile,
                                 ret_error);
        pidfile = NULL;
    }

out:
    free(pidfile);
    return error;
}

void
daemon_complete(void)
{
    if (!completed) {
        completed = true;
        notify__();
        if (detached) {
            detach_finish__();
        }
    }
}

const char *
daemon_get_pidfile(void)
{
    return pidfile_name;
}

void
daemon_remove_pidfile(void)
{
    struct stat s;

    if (!pidfile_name) {
        return;
    }
    /* A forked child holds no lock and must not remove its parent's
     * pidfile; nor may anyone remove a file that replaced ours. */
    if (getpid() == pidfile_pid && !stat(pidfile_name, &s)
        && s.st_dev == pidfile_dev && s.st_ino == pidfile_ino) {
        unlink(pidfile_name);
    }
    close(pidfile_fd);
    pidfile_fd = -1;
    free(pidfile_name);
    pidfile_name = NULL;
}

int
daemon_read_pidfile(const char *name, pid_t *ret_pid)
{
    struct flock lck = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    char *file = daemon_rundir_file(name);
    char buf[32];
    long long int pid;
    struct stat s;
    ssize_t n;
    int error = 0;
    int fd = -1;

    *ret_pid = 0;
    if (pidfile_name && getpid() == pidfile_pid && !stat(file, &s)
        && s.st_dev == pidfile_dev && s.st_ino == pidfile_ino) {
        /* Our own: opening and closing it would drop our lock. */
        *ret_pid = getpid();
        goto out;
    }

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = -errno;
        goto out;
    }
    if (fcntl(fd, F_GETLK, &lck) < 0) {
        error = -errno;
        goto out;
    }
    if (lck.l_type == F_UNLCK) {
        error = -ESRCH;
        goto out;
    }

    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        error = -errno;
        goto out;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n') {
        buf[n - 1] = '\0';
    }
    if (!buf[0]) {
        error = -ESRCH;
    } else if (!str_to_llong_range(buf, 10, 1, INT_MAX, &pid)) {
        error = -EINVAL;
    } else if (pid != lck.l_pid) {
        error = -ESRCH;
    } else {
        *ret_pid = pid;
    }

out:
    if (fd >= 0) {
        close(fd);
    }
    free(file);
    return error;
}
