/* SPDX-License-Identifier: Apache-2.0
 *
 * commands: the ovsec-monitor control commands that operators reach with
 * "ovs-appctl -t ovsec-monitor CMD": tunnels/show, xfrm/policies,
 * xfrm/state, ipsec/status, refresh, exit, stats/show and time/warp.  The
 * unixctl module provides list-commands, version and the vlog commands.
 */
#ifndef OVSEC_COMMANDS_H
#define OVSEC_COMMANDS_H 1

#include <stdbool.h>

struct monitor;
struct unixctl_conn;

/* What "exit" asked for.  Owned by main. */
struct commands_exit {
    bool requested;             /* "exit" was called (or a signal came). */
    bool cleanup;               /* Unload what was loaded first. */
    struct unixctl_conn *conn;  /* Reply to it once done, or NULL. */
};

/* Registers the commands.  'm' and 'exit' must outlive the server. */
void commands_register(struct monitor *m, struct commands_exit *exit);

/* Replies to a pending "exit" (main calls it just before exiting). */
void commands_exit_done(struct commands_exit *exit);

#endif /* commands.h */
