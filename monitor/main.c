/* SPDX-License-Identifier: Apache-2.0
 *
 * ovsec-monitor: keeps an IKE daemon configured with the IPsec tunnels
 * that OVSDB asks for.  A drop-in for Open vSwitch's ovs-monitor-ipsec:
 * same command line, same control commands.
 *
 * main owns the process: option parsing, daemonizing, signals and the one
 * poll loop that runs every module.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "commands.h"
#include "daemon.h"
#include "ds.h"
#include "ike.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

LOG_MODULE(main);

#define DEFAULT_VICI "unix:/var/run/charon.vici"

struct main_options {
    const char *database;           /* DATABASE argument. */
    const char *ike_daemon;         /* --ike-daemon. */
    const char *unixctl;            /* --unixctl, or NULL. */
    const char *log_file;           /* --log-file[=FILE], or NULL. */
    const char *vici;               /* --vici, or NULL. */
    bool want_log_file;             /* --log-file given. */
    bool manage_xfrm;               /* Not --no-xfrm. */
    struct daemon_options daemon;
    struct ike_options ike;
    const char *libreswan_only[8];  /* Libreswan flags given, for a note. */
    size_t n_libreswan_only;
};

static void
usage__(void)
{
    printf("%s: keeps an IKE daemon configured with the IPsec tunnels of "
           "Open vSwitch\n"
           "usage: %s [OPTIONS] [DATABASE]\n"
           "where DATABASE is an OVSDB remote (default: unix:%s/db.sock):\n"
           "  unix:FILE               Unix domain socket named FILE\n"
           "  tcp:IP:PORT             TCP port PORT at IP\n"
           "\nIKE daemon options:\n"
           "  --ike-daemon=strongswan|libreswan   IKE daemon (default: "
           "strongswan)\n"
           "  --vici=unix:FILE        charon's VICI socket (default: %s)\n"
           "  --command-timeout=SECS  timeout for each IKE request "
           "(default: 120)\n"
           "  --reconcile-interval=SECS  how often to compare with the IKE "
           "daemon (default: 15)\n"
           "  --use-default-crypto    leave proposals to the IKE daemon\n"
           "  --no-restart-ike-daemon do not restart the IKE daemon at "
           "start (never done with strongSwan)\n"
           "  --root-prefix=DIR       prefix for the IKE daemon's files\n"
           "  --ipsec-conf=FILE, --root-ipsec-conf=FILE, --ipsec-d=DIR,\n"
           "  --ipsec-secrets=FILE, --ipsec-ctl=FILE   Libreswan only\n"
           "  --no-xfrm               do not manage ipsec_skb_mark drop "
           "policies\n"
           "\nDaemon options:\n"
           "  --detach                run in background as daemon\n"
           "  --no-chdir              do not chdir to '/'\n"
           "  --pidfile[=FILE]        create pidfile (default: %s/%s.pid)\n"
           "  --overwrite-pidfile     with --pidfile, start even if already "
           "running\n"
           "  --monitor               creates a process to monitor this "
           "daemon\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "\nLogging options:\n"
           "  -vSPEC, --verbose=SPEC  set logging levels\n"
           "  -v, --verbose           set maximum verbosity level\n"
           "  --log-file[=FILE]       enable logging to specified FILE\n"
           "                          (default: %s/%s.log)\n"
           "\nOther options:\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n",
           daemon_program_name(), daemon_program_name(), daemon_rundir(),
           DEFAULT_VICI, daemon_rundir(), daemon_program_name(),
           OVSEC_LOGDIR_DEFAULT, daemon_program_name());
}

/* Parses a positive number of seconds into milliseconds. */
static int
parse_seconds__(const char *option, const char *arg, long long int *ret_ms)
{
    long long int secs;

    if (!str_to_llong_range(arg, 10, 1, 86400 * 7, &secs)) {
        fprintf(stderr, "%s: --%s: \"%s\" is not a number of seconds "
                "between 1 and 604800\n", daemon_program_name(), option,
                arg);
        return -EINVAL;
    }
    *ret_ms = secs * 1000;
    return 0;
}

/* Parses the command line into 'o'.  Returns -1 to continue, otherwise the
 * status to exit with. */
static int
parse_options__(int argc, char *argv[], struct main_options *o)
{
    enum {
        OPT_IKE_DAEMON = UCHAR_MAX + 1,
        OPT_NO_RESTART,
        OPT_ROOT_PREFIX,
        OPT_IPSEC_CONF,
        OPT_ROOT_IPSEC_CONF,
        OPT_IPSEC_D,
        OPT_IPSEC_SECRETS,
        OPT_IPSEC_CTL,
        OPT_COMMAND_TIMEOUT,
        OPT_RECONCILE,
        OPT_DEFAULT_CRYPTO,
        OPT_VICI,
        OPT_NO_XFRM,
        OPT_PIDFILE,
        OPT_OVERWRITE_PIDFILE,
        OPT_DETACH,
        OPT_NO_CHDIR,
        OPT_MONITOR,
        OPT_LOG_FILE,
        OPT_UNIXCTL,
    };
    static const struct option long_options[] = {
        {"ike-daemon", required_argument, NULL, OPT_IKE_DAEMON},
        {"no-restart-ike-daemon", no_argument, NULL, OPT_NO_RESTART},
        {"root-prefix", required_argument, NULL, OPT_ROOT_PREFIX},
        {"ipsec-conf", required_argument, NULL, OPT_IPSEC_CONF},
        {"root-ipsec-conf", required_argument, NULL, OPT_ROOT_IPSEC_CONF},
        {"ipsec-d", required_argument, NULL, OPT_IPSEC_D},
        {"ipsec-secrets", required_argument, NULL, OPT_IPSEC_SECRETS},
        {"ipsec-ctl", required_argument, NULL, OPT_IPSEC_CTL},
        {"command-timeout", required_argument, NULL, OPT_COMMAND_TIMEOUT},
        {"reconcile-interval", required_argument, NULL, OPT_RECONCILE},
        {"use-default-crypto", no_argument, NULL, OPT_DEFAULT_CRYPTO},
        {"vici", required_argument, NULL, OPT_VICI},
        {"no-xfrm", no_argument, NULL, OPT_NO_XFRM},
        {"pidfile", optional_argument, NULL, OPT_PIDFILE},
        {"overwrite-pidfile", no_argument, NULL, OPT_OVERWRITE_PIDFILE},
        {"detach", no_argument, NULL, OPT_DETACH},
        {"no-chdir", no_argument, NULL, OPT_NO_CHDIR},
        {"monitor", no_argument, NULL, OPT_MONITOR},
        {"log-file", optional_argument, NULL, OPT_LOG_FILE},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"verbose", optional_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = getopt_long(argc, argv, "v::hV", long_options, NULL);
        char *error;

        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_IKE_DAEMON:
            o->ike_daemon = optarg;
            break;
        case OPT_NO_RESTART:
            o->ike.restart_ike_daemon = false;
            break;
        case OPT_ROOT_PREFIX:
            o->ike.root_prefix = optarg;
            break;
        case OPT_IPSEC_CONF:
        case OPT_ROOT_IPSEC_CONF:
        case OPT_IPSEC_D:
        case OPT_IPSEC_SECRETS:
        case OPT_IPSEC_CTL:
            if (c == OPT_IPSEC_CONF) {
                o->ike.ipsec_conf = optarg;
            } else if (c == OPT_ROOT_IPSEC_CONF) {
                o->ike.root_ipsec_conf = optarg;
            } else if (c == OPT_IPSEC_D) {
                o->ike.ipsec_d = optarg;
            } else if (c == OPT_IPSEC_SECRETS) {
                o->ike.ipsec_secrets = optarg;
            } else {
                o->ike.ipsec_ctl = optarg;
            }
            if (o->n_libreswan_only < ARRAY_SIZE(o->libreswan_only)) {
                o->libreswan_only[o->n_libreswan_only++]
                    = long_options[c - OPT_IKE_DAEMON].name;
            }
            break;
        case OPT_COMMAND_TIMEOUT:
            if (parse_seconds__("command-timeout", optarg,
                                &o->ike.command_timeout_ms)) {
                return EXIT_FAILURE;
            }
            break;
        case OPT_RECONCILE:
            if (parse_seconds__("reconcile-interval", optarg,
                                &o->ike.reconcile_ms)) {
                return EXIT_FAILURE;
            }
            break;
        case OPT_DEFAULT_CRYPTO:
            o->ike.use_default_crypto = true;
            break;
        case OPT_VICI:
            o->ike.vici = optarg;
            o->vici = optarg;
            break;
        case OPT_NO_XFRM:
            o->manage_xfrm = false;
            break;
        case OPT_PIDFILE:
            o->daemon.pidfile = true;
            o->daemon.pidfile_name = optarg;
            break;
        case OPT_OVERWRITE_PIDFILE:
            o->daemon.overwrite_pidfile = true;
            break;
        case OPT_DETACH:
            o->daemon.detach = true;
            break;
        case OPT_NO_CHDIR:
            o->daemon.no_chdir = true;
            break;
        case OPT_MONITOR:
            o->daemon.monitor = true;
            break;
        case OPT_LOG_FILE:
            o->want_log_file = true;
            o->log_file = optarg;
            break;
        case OPT_UNIXCTL:
            o->unixctl = optarg;
            break;
        case 'v':
            error = log_set_levels_from_string(optarg);
            if (error) {
                fprintf(stderr, "%s: -v/--verbose: %s\n",
                        daemon_program_name(), error);
                free(error);
                return EXIT_FAILURE;
            }
            break;
        case 'h':
            usage__();
            return EXIT_SUCCESS;
        case 'V':
            printf("%s (ovsec) %s\n", daemon_program_name(), ovsec_version);
            return EXIT_SUCCESS;
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    daemon_program_name());
            return EXIT_FAILURE;
        }
    }

    if (argc - optind > 1) {
        fprintf(stderr, "%s: at most one non-option argument (DATABASE) "
                "is accepted; use --help for usage\n", daemon_program_name());
        return EXIT_FAILURE;
    }
    if (argc - optind == 1) {
        o->database = argv[optind];
    }
    return -1;
}

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd for them, so
 * that signals are just another fd in the poll loop. */
static int
open_signalfd__(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
handle_signals__(int fd, struct commands_exit *exit)
{
    struct signalfd_siginfo info;

    while (read(fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            log_reopen_file();
            LOG_INFO("SIGHUP: log file reopened");
        } else {
            /* A signal stops the daemon but leaves the IKE daemon as it
             * is, so established SAs keep carrying traffic.  During an
             * "exit" cleanup (charon may be hung), it stops waiting. */
            LOG_INFO("%s: exiting%s", strsignal(info.ssi_signo),
                     exit->requested && exit->cleanup
                     ? ", abandoning the cleanup" : " without cleanup");
            exit->requested = true;
            exit->cleanup = false;
        }
    }
}

/* ovs-vswitchd accepts IPsec tunnel options only while
 * RUNDIR/ovs-monitor-ipsec.pid is locked by a live process, and operators'
 * scripts say "ovs-appctl -t ovs-monitor-ipsec".  When running under our
 * own name, answer to upstream's too: symlinks to our pidfile (the lock is
 * on the file they point to) and control socket.  Skipped when a live
 * process already holds that name (upstream's daemon itself). */
#define UPSTREAM_NAME "ovs-monitor-ipsec"

struct name_alias {
    char *pidfile;              /* RUNDIR/ovs-monitor-ipsec.pid, or NULL. */
    char *ctl;                  /* RUNDIR/ovs-monitor-ipsec.PID.ctl. */
};

static void
alias_remove__(struct name_alias *alias)
{
    if (alias->pidfile) {
        unlink(alias->pidfile);
        unlink(alias->ctl);
        free(alias->pidfile);
        free(alias->ctl);
        alias->pidfile = alias->ctl = NULL;
    }
}

static void
alias_create__(struct name_alias *alias, const struct unixctl_server *server)
{
    const char *pidfile = daemon_get_pidfile();
    const char *ctl = server ? unixctl_server_get_path(server) : NULL;
    char *expected = xasprintf("%s/%s.pid", daemon_rundir(),
                               daemon_program_name());
    pid_t pid;

    if (!strcmp(daemon_program_name(), UPSTREAM_NAME) || !pidfile || !ctl
        || strcmp(pidfile, expected)) {
        goto out;
    }
    alias->pidfile = xasprintf("%s/" UPSTREAM_NAME ".pid", daemon_rundir());
    alias->ctl = xasprintf("%s/" UPSTREAM_NAME ".%ld.ctl", daemon_rundir(),
                           (long) getpid());
    if (!daemon_read_pidfile(alias->pidfile, &pid) && pid != getpid()) {
        LOG_WARN("%s is held by live pid %ld (upstream's monitor?): not "
                 "answering to the name "UPSTREAM_NAME, alias->pidfile,
                 (long) pid);
        free(alias->pidfile);
        free(alias->ctl);
        alias->pidfile = alias->ctl = NULL;
        goto out;
    }
    unlink(alias->pidfile);
    unlink(alias->ctl);
    if (symlink(strrchr(pidfile, '/') + 1, alias->pidfile)
        || symlink(strrchr(ctl, '/') + 1, alias->ctl)) {
        LOG_WARN("cannot answer to the name "UPSTREAM_NAME": %s",
                 ovsec_strerror(errno));
        alias_remove__(alias);
    }
out:
    free(expected);
}

int
main(int argc, char *argv[])
{
    struct main_options o = {
        .ike_daemon = "strongswan",
        .manage_xfrm = true,
        .ike = {
            .vici = DEFAULT_VICI,
            .command_timeout_ms = 120 * 1000,
            .reconcile_ms = 15 * 1000,
            .restart_ike_daemon = true,
            .root_prefix = "",
        },
    };
    struct commands_exit exit_req = { false, false, NULL };
    struct name_alias alias = { NULL, NULL };
    struct unixctl_server *unixctl = NULL;
    struct monitor *monitor = NULL;
    char *default_db = NULL;
    char *default_vici = NULL;
    char *why = NULL;
    int status = EXIT_FAILURE;
    int sigfd = -1;
    int error;

    daemon_set_program_name(argv[0]);
    int r = parse_options__(argc, argv, &o);
    if (r >= 0) {
        return r;
    }
    if (!o.database) {
        default_db = xasprintf("unix:%s/db.sock", daemon_rundir());
        o.database = default_db;
    }
    if (!o.vici && *o.ike.root_prefix) {
        /* Upstream prefixes every IKE daemon path with --root-prefix. */
        default_vici = xasprintf("unix:%s%s", o.ike.root_prefix,
                                 DEFAULT_VICI + 5);
        o.ike.vici = default_vici;
    }

    const struct ike_backend_class *class = ike_class_find(o.ike_daemon);
    if (!class) {
        fprintf(stderr, "%s: --ike-daemon: unknown IKE daemon \"%s\" "
                "(expected strongswan or libreswan)\n",
                daemon_program_name(), o.ike_daemon);
        goto out;
    }
    bool strongswan = class == &ike_strongswan_class;

    if (strongswan && (strncmp(o.ike.vici, "unix:", 5) || !o.ike.vici[5])) {
        fprintf(stderr, "%s: --vici: \"%s\" is not a VICI socket name "
                "(expected unix:PATH)\n", daemon_program_name(), o.ike.vici);
        goto out;
    }

    if (o.want_log_file) {
        const char *logdir = getenv("OVS_LOGDIR");
        char *file;

        if (!o.log_file) {
            file = xasprintf("%s/%s.log", logdir && *logdir
                             ? logdir : OVSEC_LOGDIR_DEFAULT,
                             daemon_program_name());
        } else if (o.log_file[0] != '/') {
            /* Absolute, so that vlog/reopen after --detach (which changes
             * to "/") reopens the same file. */
            char cwd[4096];
            file = getcwd(cwd, sizeof cwd)
                   ? xasprintf("%s/%s", cwd, o.log_file)
                   : xstrdup(o.log_file);
        } else {
            file = xstrdup(o.log_file);
        }
        error = log_set_file(file);
        if (error) {
            fprintf(stderr, "%s: --log-file: cannot open %s: %s\n",
                    daemon_program_name(), file, ovsec_strerror(error));
            free(file);
            goto out;
        }
        free(file);
    }

    int exit_status;
    error = daemon_start(&o.daemon, &exit_status, &why);
    if (error) {
        fprintf(stderr, "%s: %s\n", daemon_program_name(), why);
        LOG_ERR("%s", why);
        goto out;
    }
    if (exit_status >= 0) {
        status = exit_status;
        goto out;
    }

    sigfd = open_signalfd__();
    if (sigfd < 0) {
        LOG_ERR("signalfd: %s", ovsec_strerror(errno));
        goto out;
    }

    struct monitor_options mo = {
        .database = o.database,
        .ike_class = class,
        .ike = o.ike,
        .manage_xfrm = o.manage_xfrm,
    };
    error = monitor_create(&mo, &monitor, &why);
    if (error) {
        fprintf(stderr, "%s: %s\n", daemon_program_name(), why);
        LOG_ERR("%s", why);
        goto out;
    }

    error = unixctl_server_create(o.unixctl, &unixctl);
    if (error) {
        char *path = o.unixctl ? daemon_rundir_file(o.unixctl)
                     : xasprintf("%s/%s.%ld.ctl", daemon_rundir(),
                                 daemon_program_name(), (long) getpid());
        LOG_ERR("cannot create the control socket %s: %s", path,
                ovsec_strerror(error));
        fprintf(stderr, "%s: cannot create the control socket %s: %s\n",
                daemon_program_name(), path, ovsec_strerror(error));
        free(path);
        goto out;
    }
    commands_register(monitor, &exit_req);
    alias_create__(&alias, unixctl);

    if (strongswan) {
        for (size_t i = 0; i < o.n_libreswan_only; i++) {
            LOG_INFO("--%s applies to Libreswan only; ignored with %s",
                     o.libreswan_only[i], class->name);
        }
        if (!o.ike.restart_ike_daemon) {
            LOG_DBG("--no-restart-ike-daemon: ovsec never restarts charon");
        }
        LOG_INFO("%s %s starting: database %s, IKE daemon strongswan "
                 "(charon at %s)", daemon_program_name(), ovsec_version,
                 o.database, o.ike.vici);
    } else {
        LOG_INFO("%s %s starting: database %s, IKE daemon %s (pluto at "
                 "%s%s)", daemon_program_name(), ovsec_version, o.database,
                 class->name, o.ike.ipsec_ctl ? "" : "the default ",
                 o.ike.ipsec_ctl ? o.ike.ipsec_ctl : "control socket");
    }
    daemon_complete();

    long long int cleanup_deadline = LLONG_MAX;
    for (;;) {
        handle_signals__(sigfd, &exit_req);
        monitor_run(monitor);
        unixctl_server_run(unixctl);

        if (exit_req.requested) {
            if (exit_req.cleanup && cleanup_deadline == LLONG_MAX) {
                LOG_INFO("exit requested: unloading everything from the "
                         "IKE daemon");
                monitor_cleanup(monitor);
                cleanup_deadline = time_msec() + o.ike.command_timeout_ms;
            }
            if (!exit_req.cleanup || monitor_is_idle(monitor)
                || time_msec() >= cleanup_deadline) {
                break;
            }
        }

        monitor_wait(monitor);
        unixctl_server_wait(unixctl);
        loop_fd_wait(sigfd, POLLIN);
        if (exit_req.requested) {
            loop_timer_wait_until(cleanup_deadline);
        }
        loop_block();
    }

    LOG_INFO("exiting");
    commands_exit_done(&exit_req);
    /* Give the exit reply a chance to reach ovs-appctl. */
    for (int i = 0; i < 10; i++) {
        unixctl_server_run(unixctl);
    }
    status = EXIT_SUCCESS;

out:
    alias_remove__(&alias);
    unixctl_server_destroy(unixctl);
    monitor_destroy(monitor);
    if (sigfd >= 0) {
        close(sigfd);
    }
    free(why);
    free(default_db);
    free(default_vici);
    return status;
}
