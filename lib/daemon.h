/* SPDX-License-Identifier: Apache-2.0
 *
 * daemon: the process plumbing of an OVS-style daemon: program name, run
 * directory, pidfile, --detach and --monitor.
 *
 * The pidfile is what "ovs-appctl -t NAME" looks at: it reads the pid from
 * RUNDIR/NAME.pid and trusts it only if that file is fcntl()-locked by the
 * process whose pid it contains.  daemon_start() therefore creates the file
 * atomically (written and locked under a temporary name, then hard-linked
 * into place), keeps the lock for the life of the process, and refuses to
 * start while another live process holds it.  The file is removed at exit().
 *
 * With --detach, the process forks and the parent waits until the child
 * calls daemon_complete(): the parent's exit status then tells the shell
 * (or an init system) whether startup succeeded.  With --monitor, a
 * supervisor process restarts the daemon, with backoff, whenever it dies
 * from a crash signal (SIGSEGV, SIGABRT, ...), like OVS's --monitor.
 *
 * Owns the pidfile, its lock and the startup notification pipe (process
 * globals).  The monitor process logs crashes and restarts at ERR/INFO: it
 * is the only layer that knows about them.  Nothing here calls exit(): the
 * processes that must exit (the waiting parent, the monitor when the daemon
 * is gone) return to main() with the status to exit with.
 */
#ifndef OVSEC_DAEMON_H
#define OVSEC_DAEMON_H 1

#include <stdbool.h>
#include <sys/types.h>

/* Sets the program name to the last component of 'argv0' ("ovsec-monitor"
 * for "/usr/sbin/ovsec-monitor").  Copies 'argv0'. */
void daemon_set_program_name(const char *argv0);

/* The program name: the one set above, else the name the process was
 * invoked as.  Owned by daemon; valid until the next
 * daemon_set_program_name(). */
const char *daemon_program_name(void);

/* The run directory: $OVS_RUNDIR if set and nonempty, else the configured
 * default (/var/run/openvswitch).  Owned by the environment or static;
 * valid until the environment changes. */
const char *daemon_rundir(void);

/* Returns 'name' as an absolute file name: unchanged if it starts with '/',
 * else prefixed with daemon_rundir().  Returns a new string; the caller
 * frees it. */
char *daemon_rundir_file(const char *name);

/* What main() parsed from the daemon options. */
struct daemon_options {
    bool pidfile;               /* --pidfile given. */
    const char *pidfile_name;   /* --pidfile=FILE: relative names are in
                                 * the run directory; NULL for the default
                                 * RUNDIR/PROGRAM.pid. */
    bool overwrite_pidfile;     /* --overwrite-pidfile: start even if the
                                 * pidfile is locked by a live process. */
    bool detach;                /* --detach: run in the background. */
    bool monitor;               /* --monitor: restart the daemon if it
                                 * crashes. */
    bool no_chdir;              /* --no-chdir: with --detach, stay in the
                                 * current directory instead of "/". */
};

/* Starts daemonizing as 'options' say.  Call it early in main(), before
 * opening sockets (the control socket name contains the daemon's pid) and
 * before creating threads.
 *
 * Returns in up to three processes:
 *
 *   - In the daemon itself: returns 0 and sets '*ret_exit' to -1.  The
 *     pidfile, if requested, exists and is locked.  The caller continues
 *     its startup, then calls daemon_complete().
 *
 *   - In a process that has nothing more to do (the parent of --detach once
 *     the daemon completed startup or failed; the --monitor supervisor once
 *     the daemon exited for good): returns 0 and sets '*ret_exit' to the
 *     status main() should exit with right away.
 *
 *   - On failure (the pidfile is locked by pid N, fork() failed, ...):
 *     returns -errno, sets '*ret_exit' to -1 and stores a new message in
 *     '*ret_error' (the caller prints it, frees it and exits nonzero).  In
 *     a --detach child, exiting nonzero makes the waiting parent exit with
 *     the same status.
 *
 * '*ret_error' is set to NULL whenever no error is returned.  May be called
 * once per process (again only after daemon_remove_pidfile()). */
int daemon_start(const struct daemon_options *options, int *ret_exit,
                 char **ret_error);

/* Tells the waiting --detach parent (or the --monitor supervisor) that
 * startup succeeded, and when detached: changes to "/" unless --no-chdir,
 * points stdin, stdout and stderr to /dev/null and disables console
 * logging.  Later calls do nothing. */
void daemon_complete(void);

/* The absolute name of this process's pidfile, or NULL if it has none.
 * Owned by daemon. */
const char *daemon_get_pidfile(void);

/* Removes this process's pidfile and releases its lock, if it has one.
 * Also runs at exit(). */
void daemon_remove_pidfile(void);

/* Reads pidfile 'name' (relative names are in the run directory) as
 * ovs-appctl does.  Returns 0 and stores in '*ret_pid' the pid of the live
 * process that holds the file locked and whose pid it contains; -ENOENT if
 * there is no such file; -ESRCH if the file is stale (not locked, or locked
 * by another pid than it names, or empty); -EINVAL if it does not hold a
 * pid; another -errno on failure. */
int daemon_read_pidfile(const char *name, pid_t *ret_pid);

#endif /* daemon.h */
