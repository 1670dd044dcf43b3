/* SPDX-License-Identifier: Apache-2.0
 *
 * process: child processes run from the poll loop.  A child is started
 * with process_start(); from then on the owner calls process_run() from
 * its _run() function and process_wait() from its _wait() function until
 * process_run() returns true.  Nothing here ever blocks:
 *
 *  - stdout and stderr are read through non-blocking pipes as the child
 *    writes them (a child that fills a pipe buffer is never stuck waiting
 *    for us), each kept up to a cap; the excess is read and dropped, and
 *    process_output_truncated() says so.
 *  - optional stdin bytes are copied at start, fed through a non-blocking
 *    socket as the child reads them (no SIGPIPE if it exits early), and
 *    zeroed when no longer needed: they may hold secrets.
 *  - every child has a deadline: when it passes, the child's process group
 *    gets SIGTERM, and SIGKILL after a grace period.
 *  - the child is reaped with waitpid(WNOHANG), woken by a pidfd when the
 *    kernel has one (Linux >= 5.3), otherwise by a short polling timer.
 *
 * Each child runs in its own process group, with the default signal
 * dispositions and an empty signal mask, and inherits no descriptor but
 * 0, 1 and 2.  Any number of children may run at once; limiting how many
 * one owner runs in parallel is the owner's business.
 *
 * Logs at DBG only, and never stdin bytes or output.  argv is not secret
 * (it shows in /proc): never pass a secret in argv or env.
 *
 * Ownership: a 'struct process' is owned by whoever started it, who frees
 * it with process_destroy() (which kills a child still running).
 */
#ifndef OVSEC_PROCESS_H
#define OVSEC_PROCESS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Default cap on each of stdout and stderr. */
#define PROCESS_OUTPUT_MAX (1024 * 1024)
/* Default time between SIGTERM and SIGKILL after the deadline. */
#define PROCESS_KILL_GRACE_MS 2000

/* How to start a child.  Only 'argv' is required; zero means default. */
struct process_options {
    /* NULL-terminated; argv[0] is the program, searched in $PATH when it
     * has no '/'.  Copied by process_start(). */
    const char *const *argv;

    /* NULL, or NULL-terminated "NAME=VALUE" strings added to (or
     * replacing in) the daemon's environment for this child only.
     * Copied. */
    const char *const *env;

    /* Bytes fed to the child's stdin, then EOF.  NULL (or 'stdin_size'
     * 0) gives the child an empty stdin.  Copied, and zeroed once written
     * or when the process is destroyed. */
    const void *stdin_data;
    size_t stdin_size;

    /* Relative to process_start(): after this many ms the child is sent
     * SIGTERM and counts as timed out.  <= 0 means no deadline (use only
     * in tests: every child in the daemon has one). */
    long long int timeout_ms;

    /* Between SIGTERM and SIGKILL; 0 means PROCESS_KILL_GRACE_MS. */
    long long int kill_grace_ms;

    /* Cap on each of stdout and stderr; 0 means PROCESS_OUTPUT_MAX. */
    size_t max_output;
};

enum process_outcome {
    PROCESS_RUNNING,            /* Not finished (or not reaped) yet. */
    PROCESS_EXITED,             /* Exited; see process_exit_code(). */
    PROCESS_SIGNALED,           /* Killed by a signal we did not send;
                                 * see process_signal(). */
    PROCESS_TIMED_OUT,          /* We killed it at its deadline. */
    PROCESS_OUTCOME_N
};

struct process;

/* Starts a child as 'options' says.  Returns 0 and stores a new process in
 * '*ret' (the caller frees it with process_destroy()), or -errno with
 * '*ret' NULL: -ENOENT or -EACCES when the program cannot be executed,
 * -EINVAL for an empty argv, -EMFILE etc. when out of resources. */
int process_start(const struct process_options *options,
                  struct process **ret);

/* Makes progress: feeds stdin, reads stdout and stderr, enforces the
 * deadline, reaps the child.  Never blocks.  Returns true once the child
 * is finished and reaped, with its output read to the end (what it wrote
 * before exiting; a grandchild that keeps the pipes open does not hold
 * us), and from then on. */
bool process_run(struct process *);

/* Registers with the poll loop what process_run() waits for: the pipes,
 * the pidfd or a polling timer, the deadline.  Wakes immediately if the
 * child is already finished. */
void process_wait(const struct process *);

/* True if process_run() returned true.  Pure. */
bool process_is_done(const struct process *);

/* The outcome; PROCESS_RUNNING until process_run() returns true. */
enum process_outcome process_get_outcome(const struct process *);

/* The exit code if the outcome is PROCESS_EXITED, otherwise -1. */
int process_exit_code(const struct process *);

/* The terminating signal number if the outcome is PROCESS_SIGNALED or
 * PROCESS_TIMED_OUT (SIGTERM or SIGKILL), otherwise 0. */
int process_signal(const struct process *);

/* True if the child exited with code 0. */
bool process_succeeded(const struct process *);

/* What the child wrote to stdout (resp. stderr) so far, NUL-terminated
 * (the output itself may contain NUL bytes; '*ret_size', if not NULL,
 * gets the byte count).  Owned by the process; valid until its next
 * process_run() or process_destroy(). */
const char *process_stdout(const struct process *, size_t *ret_size);
const char *process_stderr(const struct process *, size_t *ret_size);

/* True if stdout or stderr exceeded the cap and bytes were dropped. */
bool process_output_truncated(const struct process *);

/* Returns a new string describing the outcome, for logs:
 *   "exited with code 1", "killed by signal 9 (Killed)",
 *   "timed out after 5000 ms", "still running".
 * The caller frees it. */
char *process_status_msg(const struct process *);

/* The child's pid (it stays valid until the child is reaped). */
pid_t process_pid(const struct process *);

/* argv[0] as given to process_start(), for logs.  Owned by the process. */
const char *process_name(const struct process *);

/* Frees 'p'.  NULL ok.  A child still running is sent SIGKILL (its whole
 * process group) and reaped later, by process_reap_orphans() which every
 * process_start(), process_run() and process_destroy() calls: never
 * blocks and leaves no zombie behind for long. */
void process_destroy(struct process *p);

/* Reaps children of destroyed processes that have died since.  Never
 * blocks.  Returns how many such children are still not reaped. */
size_t process_reap_orphans(void);

/* Whether process_start() asks for a pidfd (default true).  Tests turn
 * it off to exercise the polling that kernels before 5.3 get. */
void process_use_pidfd(bool use);

#endif /* process.h */
