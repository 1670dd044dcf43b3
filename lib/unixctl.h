/* SPDX-License-Identifier: Apache-2.0
 *
 * unixctl: the control socket that "ovs-appctl -t PROGRAM CMD ARGS..."
 * talks to, compatible with OVS's.  The server listens on a Unix socket
 * (by default RUNDIR/PROGRAM.PID.ctl) and speaks JSON-RPC 1.0: a request
 * {"method": CMD, "params": [ARG...], "id": ID} gets exactly one reply,
 * {"result": TEXT, "error": null, "id": ID} or
 * {"result": null, "error": TEXT, "id": ID}.
 *
 * Commands live in one process-wide table: modules register a name, a usage
 * string for "list-commands", an argument count range and a callback.  The
 * server answers "list-commands", "version", "set-options" (OVS's
 * "--format text|json"; with json, text replies are wrapped as
 * {"reply-format": "plain", "reply": TEXT}) and the vlog/set, vlog/list and
 * vlog/reopen commands itself.
 *
 * Connections: each handles one request at a time, and reads no further
 * request until the previous reply has been sent, so a connection buffers
 * at most one request (up to lib/jsonrpc's cap) and one reply.  At most
 * UNIXCTL_MAX_CONNS connections are open; a new one beyond that evicts the
 * least recently active connection that has no request in progress, or is
 * closed if every connection has one.  A client that sends invalid
 * JSON-RPC is disconnected.  Nothing blocks.
 *
 * Deferred replies: a callback may keep the 'conn' pointer and reply later
 * (ipsec/status waits for the IKE daemon).  The conn stays valid until that
 * reply, whatever happens in between: if the client disconnects or the
 * server is destroyed, the conn lives on "dying", detached from any socket,
 * and the reply frees it without sending anything.  Hence the rule: every
 * request gets exactly one unixctl_command_reply*() call, always.
 *
 * Owns the listening socket and every connection (see STYLE.md: others get
 * a 'struct unixctl_conn *' until they reply).  Logs at DBG only; request
 * arguments and reply bodies are never logged (they may carry secrets).
 */
#ifndef OVSEC_UNIXCTL_H
#define OVSEC_UNIXCTL_H 1

#include <limits.h>

struct unixctl_server;
struct unixctl_conn;

/* At most this many client connections at once. */
#define UNIXCTL_MAX_CONNS 64

/* Requests larger than this are refused: the connection is closed. */
#define UNIXCTL_MAX_REQUEST (1024 * 1024)

/* Called for a request of a registered command.  'argv[0]' is the command
 * name, 'argv[1]' to 'argv[argc - 1]' its arguments (argc - 1 is within
 * the registered range), and argv[argc] is NULL.  'argv' and its strings
 * are owned by the server and valid only during the call: copy what a
 * deferred reply needs.  The callback replies now or later, exactly once. */
typedef void unixctl_cb_func(struct unixctl_conn *conn, int argc,
                             const char *argv[], void *aux);

/* Registers command 'name' (copied), taking between 'min_args' and
 * 'max_args' arguments (INT_MAX for no limit).  'usage' (copied) shows
 * after the name in "list-commands"; NULL hides the command.  'cb' is called
 * with 'aux' for each request.  Registering a name again with the same 'cb'
 * updates it; with another 'cb' it is a bug (assertion).  Works with or
 * without a server. */
void unixctl_command_register(const char *name, const char *usage,
                              int min_args, int max_args,
                              unixctl_cb_func *cb, void *aux);

/* Removes command 'name' if registered: call it before 'aux' of its
 * registration goes away.  Requests already deferred are unaffected. */
void unixctl_command_unregister(const char *name);

/* Replies to the request in progress on 'conn' with success and text
 * 'body' (NULL means empty; a newline is appended to a nonempty body that
 * lacks one, as OVS does).  Consumes the request: 'conn' must not be used
 * again for it, and may have been freed on return if the client was gone.
 * 'body' remains the caller's. */
void unixctl_command_reply(struct unixctl_conn *conn, const char *body);

/* Same, but replies with an error. */
void unixctl_command_reply_error(struct unixctl_conn *conn,
                                 const char *body);

/* Creates a server listening on 'path':
 *   - NULL: RUNDIR/PROGRAM.PID.ctl (daemon_rundir(), daemon_program_name()
 *     and getpid(): create it in the daemon after daemon_start());
 *   - "none": no server; returns 0 with '*ret' set to NULL;
 *   - a relative name: in RUNDIR;
 *   - an absolute name: exactly that.
 * Also registers the built-in commands.  Returns 0 and stores a new server
 * in '*ret' (the caller destroys it), or -errno with '*ret' set to NULL. */
int unixctl_server_create(const char *path, struct unixctl_server **ret);

/* Accepts connections, reads requests and calls command callbacks, sends
 * replies.  Never blocks.  NULL is allowed (does nothing). */
void unixctl_server_run(struct unixctl_server *);

/* Registers with the poll loop what unixctl_server_run() waits for.  NULL
 * is allowed. */
void unixctl_server_wait(struct unixctl_server *);

/* Closes the listening socket (removing its file) and every connection.
 * Connections with a request in progress become dying, as described above,
 * until their reply.  Must not be called from a command callback.  NULL is
 * allowed. */
void unixctl_server_destroy(struct unixctl_server *);

/* The absolute name of the server's socket.  Owned by the server. */
const char *unixctl_server_get_path(const struct unixctl_server *);

#endif /* unixctl.h */
