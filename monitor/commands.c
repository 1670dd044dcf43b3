/* SPDX-License-Identifier: Apache-2.0
 *
 * commands: see commands.h.
 */
#include "config.h"
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "ds.h"
#include "loop.h"
#include "monitor.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

static void
cmd_tunnels_show__(struct unixctl_conn *conn, int argc, const char *argv[],
                   void *m_)
{
    struct monitor *m = m_;
    struct ds out = DS_EMPTY_INITIALIZER;

    if (argc > 1 && strcmp(argv[1], "--json")) {
        char *msg = xasprintf("unknown option \"%s\" (usage: tunnels/show "
                              "[--json])", argv[1]);
        unixctl_command_reply_error(conn, msg);
        free(msg);
        return;
    }
    if (argc > 1) {
        monitor_show_tunnels_json(m, &out);
    } else {
        monitor_show_tunnels(m, &out);
    }
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static void
cmd_xfrm__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
           const char *argv[], void *m_)
{
    struct monitor *m = m_;
    struct ds out = DS_EMPTY_INITIALIZER;
    int error = !strcmp(argv[0], "xfrm/policies")
                ? monitor_show_xfrm_policies(m, &out)
                : monitor_show_xfrm_states(m, &out);

    if (error) {
        unixctl_command_reply_error(conn, ds_cstr(&out));
    } else {
        unixctl_command_reply(conn, ds_cstr(&out));
    }
    ds_destroy(&out);
}

static void
status_done__(void *conn, int error, const char *text)
{
    if (error) {
        unixctl_command_reply_error(conn, text ? text
                                    : ovsec_strerror(error));
    } else {
        unixctl_command_reply(conn, text);
    }
}

static void
cmd_ipsec_status__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
                   const char *argv[] OVS_UNUSED__, void *m_)
{
    int error = monitor_query_status(m_, status_done__, conn);
    if (error) {
        char *msg = xasprintf("cannot query the IKE daemon: %s",
                              ovsec_strerror(error));
        unixctl_command_reply_error(conn, msg);
        free(msg);
    }
}

static void
cmd_refresh__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
              const char *argv[] OVS_UNUSED__, void *m_)
{
    monitor_refresh(m_);
    unixctl_command_reply(conn, NULL);
}

static void
cmd_exit__(struct unixctl_conn *conn, int argc, const char *argv[],
           void *exit_)
{
    struct commands_exit *exit = exit_;

    if (argc > 1 && strcmp(argv[1], "--no-cleanup")) {
        char *msg = xasprintf("unknown option \"%s\" (usage: exit "
                              "[--no-cleanup])", argv[1]);
        unixctl_command_reply_error(conn, msg);
        free(msg);
        return;
    }
    if (exit->requested) {
        unixctl_command_reply_error(conn, "already exiting");
        return;
    }
    exit->requested = true;
    exit->cleanup = argc < 2;
    exit->conn = conn;
}

static void
cmd_stats__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
            const char *argv[] OVS_UNUSED__, void *m_)
{
    struct monitor_stats s;
    struct ds out = DS_EMPTY_INITIALIZER;

    monitor_get_stats(m_, &s);
    ds_put_format(&out, "tunnels: %u\nconfigured: %u\napplied: %"PRIu64"\n"
                  "removed: %"PRIu64"\ninvalid: %"PRIu64"\n"
                  "loop wakeups: %llu\n",
                  s.n_tunnels, s.n_configured, s.n_applied, s.n_removed,
                  s.n_invalid, loop_wakeups());
    monitor_show_backend_summary(m_, &out);
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static void
cmd_time_warp__(struct unixctl_conn *conn, int argc OVS_UNUSED__,
                const char *argv[], void *aux OVS_UNUSED__)
{
    long long int msecs;

    if (!str_to_llong_range(argv[1], 10, 0, 86400000LL * 365, &msecs)) {
        unixctl_command_reply_error(conn, "time/warp: MSECS must be a "
                                    "non-negative number of milliseconds");
        return;
    }
    time_warp(msecs);
    unixctl_command_reply(conn, "warped");
}

void
commands_register(struct monitor *m, struct commands_exit *exit)
{
    unixctl_command_register("tunnels/show", "[--json]", 0, 1,
                             cmd_tunnels_show__, m);
    unixctl_command_register("xfrm/policies", "", 0, 0, cmd_xfrm__, m);
    unixctl_command_register("xfrm/state", "", 0, 0, cmd_xfrm__, m);
    unixctl_command_register("ipsec/status", "", 0, 0, cmd_ipsec_status__,
                             m);
    unixctl_command_register("refresh", "", 0, 0, cmd_refresh__, m);
    unixctl_command_register("exit", "[--no-cleanup]", 0, 1, cmd_exit__,
                             exit);
    unixctl_command_register("stats/show", "", 0, 0, cmd_stats__, m);
    /* For tests: advances the daemon's clock.  Hidden (no usage), as in
     * OVS, where only test builds have it. */
    unixctl_command_register("time/warp", NULL, 1, 1, cmd_time_warp__,
                             NULL);
}

void
commands_exit_done(struct commands_exit *exit)
{
    if (exit->conn) {
        unixctl_command_reply(exit->conn, NULL);
        exit->conn = NULL;
    }
}
