/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for lib/process: exit codes and signals, stdout and stderr
 * larger than a pipe buffer (both at once: the upstream deadlock), the
 * output cap, stdin feeding (larger than a socket buffer, and to a child
 * that does not read it), deadlines (SIGTERM, then SIGKILL for a child
 * that ignores SIGTERM, whole process group) driven by time_warp(),
 * environment additions, exec failures, many children in parallel, a
 * grandchild holding the pipes, no zombies or descriptor leaks, and the
 * same without a pidfd.
 */
#include "config.h"
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"
#include "timeval.h"
#include "util.h"

/* Real (unwarped) milliseconds, to bound the tests. */
static long long int
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Drives 'p' through the poll loop until it is done; fails the test after
 * 'limit_ms' of real time. */
static void
run_until_done(struct process *p, long long int limit_ms)
{
    long long int give_up = wall_ms() + limit_ms;
    while (!process_run(p)) {
        assert_true(wall_ms() < give_up);
        process_wait(p);
        loop_block();
    }
    assert_true(process_is_done(p));
}

/* Starts argv (NULL-terminated varargs) with 'opts' as a template. */
static struct process *
start(const struct process_options *tmpl, ...)
{
    const char *argv[32];
    size_t n = 0;
    va_list args;

    va_start(args, tmpl);
    while ((argv[n] = va_arg(args, const char *)) != NULL) {
        n++;
        assert_true(n < ARRAY_SIZE(argv));
    }
    va_end(args);

    struct process_options opts;
    if (tmpl) {
        opts = *tmpl;
    } else {
        memset(&opts, 0, sizeof opts);
        opts.timeout_ms = 30000;
    }
    opts.argv = argv;

    struct process *p;
    int error = process_start(&opts, &p);
    assert_int_equal(error, 0);
    assert_non_null(p);
    return p;
}

static size_t
count_fds(void)
{
    size_t n = 0;
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    for (struct dirent *de; (de = readdir(dir)) != NULL;) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n - 1;               /* The DIR's own fd. */
}

/* True once we have no child left at all (reaped or never started). */
static bool
no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void
test_exit_codes(void **state OVS_UNUSED__)
{
    struct process *p = start(NULL, "sh", "-c", "exit 3", NULL);
    assert_false(process_is_done(p));
    assert_int_equal(process_get_outcome(p), PROCESS_RUNNING);
    assert_int_equal(process_exit_code(p), -1);
    run_until_done(p, 10000);
    assert_int_equal(process_get_outcome(p), PROCESS_EXITED);
    assert_int_equal(process_exit_code(p), 3);
    assert_int_equal(process_signal(p), 0);
    assert_false(process_succeeded(p));
    char *msg = process_status_msg(p);
    assert_string_equal(msg, "exited with code 3");
    free(msg);
    assert_string_equal(process_name(p), "sh");
    assert_true(process_pid(p) > 0);
    /* run() keeps saying done. */
    assert_true(process_run(p));
    process_destroy(p);

    p = start(NULL, "true", NULL);
    run_until_done(p, 10000);
    assert_true(process_succeeded(p));
    assert_int_equal(process_exit_code(p), 0);
    process_destroy(p);

    process_destroy(NULL);
    assert_true(no_children());
}

static void
test_output(void **state OVS_UNUSED__)
{
    struct process *p = start(NULL, "sh", "-c",
                              "echo out; echo err >&2; printf 'a\\000b'",
                              NULL);
    run_until_done(p, 10000);
    size_t size;
    const char *out = process_stdout(p, &size);
    assert_int_equal(size, 7);
    assert_memory_equal(out, "out\na\0b", 7);
    assert_string_equal(process_stderr(p, NULL), "err\n");
    assert_false(process_output_truncated(p));
    process_destroy(p);

    /* Nothing written: empty strings, not NULL. */
    p = start(NULL, "true", NULL);
    run_until_done(p, 10000);
    assert_string_equal(process_stdout(p, &size), "");
    assert_int_equal(size, 0);
    assert_string_equal(process_stderr(p, NULL), "");
    process_destroy(p);
}

/* Both pipes far beyond the 64 KiB pipe buffer, at the same time: a
 * reader that drains one pipe to EOF before the other deadlocks here. */
static void
test_large_output(void **state OVS_UNUSED__)
{
    struct process_options opts = {
        .timeout_ms = 30000,
        .max_output = 4 * 1024 * 1024,
    };
    struct process *p = start(&opts, "sh", "-c",
                              "head -c 3000000 /dev/zero | tr '\\0' e >&2 &"
                              "head -c 3000000 /dev/zero | tr '\\0' o;"
                              "wait", NULL);
    run_until_done(p, 20000);
    assert_true(process_succeeded(p));
    size_t size_out, size_err;
    const char *out = process_stdout(p, &size_out);
    const char *err = process_stderr(p, &size_err);
    assert_int_equal(size_out, 3000000);
    assert_int_equal(size_err, 3000000);
    for (size_t i = 0; i < size_out; i++) {
        if (out[i] != 'o' || err[i] != 'e') {
            fail_msg("byte %zu differs", i);
        }
    }
    assert_false(process_output_truncated(p));
    process_destroy(p);
}

/* Beyond the cap (default 1 MiB): kept up to the cap, the rest read and
 * dropped (the child still runs to completion), and flagged. */
static void
test_output_cap(void **state OVS_UNUSED__)
{
    struct process *p = start(NULL, "head", "-c", "5000000", "/dev/zero",
                              NULL);
    run_until_done(p, 20000);
    assert_true(process_succeeded(p));
    size_t size;
    process_stdout(p, &size);
    assert_int_equal(size, PROCESS_OUTPUT_MAX);
    assert_true(process_output_truncated(p));
    process_destroy(p);

    struct process_options opts = { .timeout_ms = 30000, .max_output = 10 };
    p = start(&opts, "sh", "-c", "echo 0123456789abcdef >&2", NULL);
    run_until_done(p, 10000);
    assert_string_equal(process_stderr(p, NULL), "0123456789");
    assert_true(process_output_truncated(p));
    process_destroy(p);
}

static void
test_stdin(void **state OVS_UNUSED__)
{
    /* 3 MB through `cat`: more than the socket buffer, so it takes many
     * rounds of POLLOUT. */
    size_t size = 3000000;
    char *data = xmalloc(size);
    for (size_t i = 0; i < size; i++) {
        data[i] = 'A' + i % 26;
    }
    struct process_options opts = {
        .timeout_ms = 30000,
        .stdin_data = data,
        .stdin_size = size,
        .max_output = 4 * 1024 * 1024,
    };
    struct process *p = start(&opts, "cat", NULL);
    /* The process copied the bytes. */
    memset(data, 0, size);
    run_until_done(p, 20000);
    assert_true(process_succeeded(p));
    size_t out_size;
    const char *out = process_stdout(p, &out_size);
    assert_int_equal(out_size, size);
    for (size_t i = 0; i < size; i++) {
        if (out[i] != 'A' + (char) (i % 26)) {
            fail_msg("byte %zu differs", i);
        }
    }
    process_destroy(p);
    free(data);

    /* A child that reads nothing and exits: no SIGPIPE for us. */
    size = 4 * 1024 * 1024;
    data = xzalloc(size);
    opts.stdin_data = data;
    opts.stdin_size = size;
    p = start(&opts, "true", NULL);
    run_until_done(p, 20000);
    assert_true(process_succeeded(p));
    process_destroy(p);
    free(data);

    /* No stdin: EOF at once, not the daemon's stdin. */
    p = start(NULL, "cat", NULL);
    run_until_done(p, 10000);
    assert_true(process_succeeded(p));
    assert_string_equal(process_stdout(p, NULL), "");
    process_destroy(p);
}

static void
test_signals(void **state OVS_UNUSED__)
{
    struct process *p = start(NULL, "sh", "-c", "kill -USR1 $$", NULL);
    run_until_done(p, 10000);
    assert_int_equal(process_get_outcome(p), PROCESS_SIGNALED);
    assert_int_equal(process_signal(p), SIGUSR1);
    assert_int_equal(process_exit_code(p), -1);
    assert_false(process_succeeded(p));
    char *msg = process_status_msg(p);
    assert_true(str_starts_with(msg, "killed by signal 10 ("));
    free(msg);
    process_destroy(p);

    /* The daemon ignores SIGPIPE; its children get the default. */
    signal(SIGPIPE, SIG_IGN);
    p = start(NULL, "sh", "-c", "kill -PIPE $$; exit 9", NULL);
    run_until_done(p, 10000);
    assert_int_equal(process_get_outcome(p), PROCESS_SIGNALED);
    assert_int_equal(process_signal(p), SIGPIPE);
    process_destroy(p);
    signal(SIGPIPE, SIG_DFL);
}

static void
test_timeout(void **state OVS_UNUSED__)
{
    struct process_options opts = { .timeout_ms = 5000 };
    struct process *p = start(&opts, "sleep", "100", NULL);
    assert_false(process_run(p));
    time_warp(4999);
    assert_false(process_run(p));
    assert_int_equal(process_get_outcome(p), PROCESS_RUNNING);
    time_warp(1);
    run_until_done(p, 10000);
    assert_int_equal(process_get_outcome(p), PROCESS_TIMED_OUT);
    assert_int_equal(process_signal(p), SIGTERM);
    assert_int_equal(process_exit_code(p), -1);
    char *msg = process_status_msg(p);
    assert_string_equal(msg, "timed out after 5000 ms");
    free(msg);
    process_destroy(p);
    assert_true(no_children());
}

/* A child (and its own child) ignoring SIGTERM: SIGKILL after the grace
 * period, to the whole process group. */
static void
test_timeout_kill(void **state OVS_UNUSED__)
{
    struct process_options opts = { .timeout_ms = 1000,
                                    .kill_grace_ms = 3000 };
    struct process *p = start(&opts, "sh", "-c",
                              "trap '' TERM; sleep 100 & echo $!; wait",
                              NULL);
    /* Wait for the grandchild's pid. */
    long long int give_up = wall_ms() + 10000;
    while (!strchr(process_stdout(p, NULL), '\n')) {
        assert_true(wall_ms() < give_up);
        process_run(p);
        process_wait(p);
        loop_block();
    }
    pid_t grandchild = atoi(process_stdout(p, NULL));
    assert_true(grandchild > 0);

    time_warp(1000);
    assert_false(process_run(p));       /* SIGTERM: ignored. */
    for (int i = 0; i < 5; i++) {
        process_wait(p);
        loop_timer_wait(20);
        loop_block();
        assert_false(process_run(p));
    }
    time_warp(3000);
    run_until_done(p, 10000);           /* SIGKILL. */
    assert_int_equal(process_get_outcome(p), PROCESS_TIMED_OUT);
    assert_int_equal(process_signal(p), SIGKILL);
    process_destroy(p);

    /* The grandchild died with its group (it may linger as a zombie of
     * init for a moment). */
    give_up = wall_ms() + 10000;
    for (;;) {
        char path[64], buf[256] = "";
        snprintf(path, sizeof path, "/proc/%ld/stat", (long) grandchild);
        FILE *f = fopen(path, "r");
        if (!f) {
            break;
        }
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && (paren[2] == 'Z'
                                         || paren[2] == 'X')) {
            break;
        }
        assert_true(wall_ms() < give_up);
        usleep(10000);
    }
}

static void
test_exec_failure(void **state OVS_UNUSED__)
{
    const char *argv1[] = { "/nonexistent/ovsec-test", NULL };
    const char *argv2[] = { "ovsec-no-such-program-anywhere", NULL };
    const char *argv3[] = { NULL };
    const char *argv4[] = { "", NULL };
    struct process_options opts = { .timeout_ms = 1000 };
    struct process *p = (struct process *) 1;

    opts.argv = argv1;
    assert_int_equal(process_start(&opts, &p), -ENOENT);
    assert_null(p);
    opts.argv = argv2;
    assert_int_equal(process_start(&opts, &p), -ENOENT);
    assert_null(p);
    opts.argv = argv3;
    assert_int_equal(process_start(&opts, &p), -EINVAL);
    opts.argv = argv4;
    assert_int_equal(process_start(&opts, &p), -EINVAL);
    opts.argv = NULL;
    assert_int_equal(process_start(&opts, &p), -EINVAL);
    assert_true(no_children());
}

static void
test_env(void **state OVS_UNUSED__)
{
    const char *env[] = { "OVSEC_TEST_A=hello world", "HOME=/ovsec-home",
                          NULL };
    struct process_options opts = { .timeout_ms = 30000, .env = env };
    setenv("OVSEC_TEST_B", "inherited", 1);
    struct process *p = start(&opts, "sh", "-c",
                              "echo \"$OVSEC_TEST_A|$HOME|$OVSEC_TEST_B\";"
                              "env | grep -c '^HOME='", NULL);
    run_until_done(p, 10000);
    assert_string_equal(process_stdout(p, NULL),
                        "hello world|/ovsec-home|inherited\n1\n");
    process_destroy(p);
    unsetenv("OVSEC_TEST_B");
}

static void
test_parallel(void **state OVS_UNUSED__)
{
    enum { N = 64 };
    struct process *ps[N];
    char args[N][16];

    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof args[i], "%d", i);
        ps[i] = start(NULL, "sh", "-c",
                      "head -c 100000 /dev/zero; echo x$1 >&2;"
                      "exit $(($1 % 7))",
                      "sh", args[i], NULL);
    }

    long long int give_up = wall_ms() + 30000;
    for (;;) {
        bool all_done = true;
        for (int i = 0; i < N; i++) {
            if (!process_run(ps[i])) {
                all_done = false;
                process_wait(ps[i]);
            }
        }
        if (all_done) {
            break;
        }
        assert_true(wall_ms() < give_up);
        loop_block();
    }
    for (int i = 0; i < N; i++) {
        char expect[16];
        size_t size;
        snprintf(expect, sizeof expect, "x%d\n", i);
        assert_int_equal(process_exit_code(ps[i]), i % 7);
        assert_string_equal(process_stderr(ps[i], NULL), expect);
        process_stdout(ps[i], &size);
        assert_int_equal(size, 100000);
        process_destroy(ps[i]);
    }
    assert_true(no_children());
}

/* `ipsec start` leaves pluto running with our pipes as its stdout: the
 * child's exit must still end the process, with what it wrote. */
static void
test_grandchild_holds_pipes(void **state OVS_UNUSED__)
{
    long long int start_ms = wall_ms();
    struct process *p = start(NULL, "sh", "-c",
                              "sleep 20 & echo $!; echo done", NULL);
    run_until_done(p, 10000);
    assert_true(wall_ms() - start_ms < 10000);
    assert_true(process_succeeded(p));
    const char *out = process_stdout(p, NULL);
    assert_non_null(strstr(out, "\ndone\n"));
    pid_t sleeper = atoi(out);
    assert_true(sleeper > 0);
    kill(sleeper, SIGKILL);
    process_destroy(p);

    /* A grandchild that never stops writing does not keep us reading. */
    p = start(NULL, "sh", "-c", "yes & echo $! >&2", NULL);
    run_until_done(p, 10000);
    assert_true(process_succeeded(p));
    kill(atoi(process_stderr(p, NULL)), SIGKILL);
    process_destroy(p);

    /* A child that closes its stdout and keeps running. */
    p = start(NULL, "sh", "-c", "echo early; exec >&- 2>&-; sleep 0.3; "
              "exit 4", NULL);
    run_until_done(p, 10000);
    assert_int_equal(process_exit_code(p), 4);
    assert_string_equal(process_stdout(p, NULL), "early\n");
    process_destroy(p);
}

static void
test_no_fd_leaks(void **state OVS_UNUSED__)
{
    /* An fd opened without O_CLOEXEC (by some library, say) does not
     * reach the child either. */
    int stray = open("/dev/null", O_RDONLY);
    assert_true(stray >= 3);
    size_t before = count_fds();

    struct process *p = start(NULL, "ls", "/proc/self/fd", NULL);
    run_until_done(p, 10000);
    /* ls's own directory fd is 3. */
    assert_string_equal(process_stdout(p, NULL), "0\n1\n2\n3\n");
    process_destroy(p);

    for (int i = 0; i < 10; i++) {
        p = start(NULL, "sleep", "100", NULL);
        process_destroy(p);             /* Still running. */
        p = start(NULL, "true", NULL);
        run_until_done(p, 10000);
        process_destroy(p);
    }
    assert_int_equal(count_fds(), before);
    close(stray);
}

static void
test_no_zombies(void **state OVS_UNUSED__)
{
    /* Destroying a running child kills it and reaps it later. */
    struct process *p = start(NULL, "sleep", "100", NULL);
    pid_t pid = process_pid(p);
    process_destroy(p);
    long long int give_up = wall_ms() + 10000;
    while (process_reap_orphans()) {
        assert_true(wall_ms() < give_up);
        usleep(1000);
    }
    assert_true(kill(pid, 0) < 0 && errno == ESRCH);
    assert_true(no_children());

    /* A finished child is reaped by run() itself. */
    p = start(NULL, "true", NULL);
    run_until_done(p, 10000);
    assert_true(no_children());
    process_destroy(p);
}

/* Without a pidfd (kernels before 5.3): exit noticed by polling. */
static void
test_without_pidfd(void **state OVS_UNUSED__)
{
    process_use_pidfd(false);

    struct process *p = start(NULL, "sh", "-c", "echo hi; exit 5", NULL);
    run_until_done(p, 10000);
    assert_int_equal(process_exit_code(p), 5);
    assert_string_equal(process_stdout(p, NULL), "hi\n");
    process_destroy(p);

    /* The pipes stay open in a grandchild: only polling can tell. */
    p = start(NULL, "sh", "-c", "sleep 20 & echo $!", NULL);
    run_until_done(p, 10000);
    assert_true(process_succeeded(p));
    kill(atoi(process_stdout(p, NULL)), SIGKILL);
    process_destroy(p);

    struct process_options opts = { .timeout_ms = 100 };
    p = start(&opts, "sleep", "100", NULL);
    time_warp(100);
    run_until_done(p, 10000);
    assert_int_equal(process_get_outcome(p), PROCESS_TIMED_OUT);
    process_destroy(p);

    process_use_pidfd(true);
    assert_true(no_children());
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_kill),
        cmocka_unit_test(test_exec_failure),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_grandchild_holds_pipes),
        cmocka_unit_test(test_no_fd_leaks),
        cmocka_unit_test(test_no_zombies),
        cmocka_unit_test(test_without_pidfd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
