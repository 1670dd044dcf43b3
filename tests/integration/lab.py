# SPDX-License-Identifier: Apache-2.0
"""Integration lab: real daemons in per-host network and mount namespaces.

A Lab is a set of Hosts joined by an underlay: every host has one network
namespace with an "eth0" veth whose peer is a port of a Linux bridge living in
a separate "switch" network namespace.  Host N (counting from 1) gets
192.0.2.N/24 and fd00::N/64 (documentation and ULA ranges; nothing leaves the
lab's namespaces).

Every host also has a persistent private mount namespace in which its own
directory HOSTDIR/run is bind-mounted over /run (so /var/run/charon.pid and
the like are per host) and sysfs is remounted for its network namespace.
Commands and daemons run through "nsenter --mount=... --net=...", which
execs the program: the pid we get from subprocess is the daemon's pid.

All paths are short (/tmp/ovlPID.XXXXXX/NAME/...) because unix socket paths
are limited to 108 bytes.  Every daemon is pointed at files in its host's
directory, which is also visible from outside the namespaces, so the test
process can read logs and connect to sockets directly.

Nothing here waits without a deadline: every subprocess has a timeout and
every readiness poll is bounded.  Lab.close() stops daemons (SIGTERM, then
SIGKILL), kills whatever is left in the namespaces, deletes the namespaces
and the directory, and reports daemons that died on their own and
sanitizer reports.

Needs root, iproute2, util-linux (unshare, nsenter, mount), ovsdb-server,
ovs-vsctl, strongSwan's charon and swanctl.
"""

import errno
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

CHARON = os.environ.get("OVSEC_CHARON", "/usr/lib/ipsec/charon")
VSWITCH_SCHEMA = os.environ.get("OVSEC_VSWITCH_SCHEMA",
                                "/usr/share/openvswitch/vswitch.ovsschema")

# Default timeouts, in seconds.
CMD_TIMEOUT = 10
READY_TIMEOUT = 10
STOP_TIMEOUT = 5

# Plugins charon loads: crypto, credentials (PSK and X.509), kernel
# interface, sockets and the VICI control interface.  Nothing else, so that
# no plugin reads /etc or talks to anything outside the host.
CHARON_PLUGINS = ("random nonce drbg openssl pem x509 pkcs1 pkcs8 pubkey "
                  "constraints revocation hmac gcm aes sha1 sha2 kdf "
                  "kernel-netlink socket-default vici")
SWANCTL_PLUGINS = "random nonce openssl pem pkcs1 pkcs8 x509 pubkey"

_HOST_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")

# Required programs, checked once by Lab() so a missing one gives one clear
# error instead of a confusing failure deep in a fixture.
REQUIRED_TOOLS = ("ip", "nsenter", "unshare", "mount", "umount",
                  "ovsdb-server", "ovsdb-tool", "ovs-vsctl", "ovs-appctl",
                  "swanctl", "ping")


class LabError(Exception):
    """A lab operation failed; the message says what and shows output."""


class LabWarning(UserWarning):
    """Something in teardown worth a look that does not fail the test."""


class CommandError(LabError):
    def __init__(self, argv, result):
        self.argv = argv
        self.result = result
        msg = "command failed (exit %s): %s" % (result.returncode,
                                               " ".join(argv))
        if result.stdout:
            msg += "\n--- stdout ---\n" + result.stdout.rstrip()
        if result.stderr:
            msg += "\n--- stderr ---\n" + result.stderr.rstrip()
        super().__init__(msg)


def _run(argv, *, check=True, timeout=CMD_TIMEOUT, env=None, input=None):
    """Runs 'argv' to completion, capturing text output.  Raises
    CommandError if 'check' and it fails, LabError on timeout."""
    try:
        res = subprocess.run(argv, env=env, input=input, text=True,
                             stdin=None if input is not None
                             else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LabError("command timed out after %ss: %s\n%s%s"
                       % (timeout, " ".join(argv),
                          _text(e.stdout), _text(e.stderr))) from None
    if check and res.returncode != 0:
        raise CommandError(argv, res)
    return res


def _text(b):
    if b is None:
        return ""
    if isinstance(b, bytes):
        return b.decode(errors="replace")
    return b


def poll(predicate, timeout, what, interval=0.05):
    """Calls 'predicate' until it returns a true value, which is returned.
    Raises LabError naming 'what' after 'timeout' seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError("timed out after %ss waiting for %s"
                           % (timeout, what))
        time.sleep(interval)


def unix_connectable(path):
    """True if something accepts connections on unix socket 'path'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def pid_alive(pid):
    """True if 'pid' exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the parenthesised command name.
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X", "")


# Lines that start a sanitizer report.  GCC's UBSan ignores log_path when
# linked with ASan and always reports on stderr, so a sanitized daemon's
# output file is searched for these as well as the asan.* files.
_SANITIZER_RE = re.compile(r"runtime error:|ERROR: \w*Sanitizer|"
                           r"WARNING: \w*Sanitizer")


def sanitizer_excerpts(path, context=12):
    """Sanitizer reports found in file 'path', each with the 'context'
    lines that follow it."""
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return []
    out = []
    i = 0
    while i < len(lines):
        if _SANITIZER_RE.search(lines[i]):
            out.append("".join(lines[i:i + context + 1]))
            i += context + 1
        else:
            i += 1
    return out


def pidfile_locked(path):
    """True if some process holds an fcntl lock on pidfile 'path', as OVS
    daemons do (OVS's read_pidfile() ignores unlocked pidfiles)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        # A shared lock conflicts only with another process's write lock.
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EACCES, errno.EAGAIN)
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def tail(path, lines=200):
    """The last 'lines' lines of file 'path', or a note why not."""
    try:
        with open(path, errors="replace") as f:
            data = f.readlines()
    except OSError as e:
        return "(cannot read %s: %s)\n" % (path, e.strerror)
    if len(data) > lines:
        data = ["... (%d earlier lines omitted)\n" % (len(data) - lines)] \
            + data[-lines:]
    return "".join(data)


def find_ovsec_monitor():
    """Returns (path, None) for the ovsec-monitor binary to test, or
    (None, reason) if there is none.  $OVSEC_MONITOR wins; otherwise the
    meson build directories build-test and build of the checkout are
    searched."""
    env = os.environ.get("OVSEC_MONITOR")
    if env:
        if os.access(env, os.X_OK):
            return env, None
        return None, ("OVSEC_MONITOR=%s is not an executable file (build it "
                      "with meson first)" % env)
    looked = []
    for d in ("build-test", "build"):
        p = os.path.join(REPO, d, "monitor", "ovsec-monitor")
        if os.access(p, os.X_OK):
            return p, None
        looked.append(p)
    return None, ("ovsec-monitor binary not found (set OVSEC_MONITOR; looked "
                  "in %s)" % ", ".join(looked))


def _missing_tools():
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t, path=_PATH)
               is None]
    if not os.access(CHARON, os.X_OK):
        missing.append(CHARON)
    if not os.path.exists(VSWITCH_SCHEMA):
        missing.append(VSWITCH_SCHEMA)
    return missing


# Debian's tools live in sbin, which may not be on a user's PATH.
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Daemon:
    """A long-running process inside a host.

    Foreground daemons are our children and are tracked through their
    subprocess.Popen.  With 'detach', the command is expected to fork and
    exit (OVS --detach); the daemon's pid is then read from 'pidfile' once
    the launcher has exited successfully.

    'ready' is a callable returning true once the daemon serves requests;
    start() waits for it, failing early if the daemon exits.  'logs' are the
    files worth showing when something fails; the daemon's stdout and stderr
    go to HOSTDIR/NAME.out, which is always shown.

    A daemon stopped or killed through this object is "expected" to be
    down; one that exits on its own is reported by Lab.close().
    'check_exit', when set, is the set of exit statuses acceptable after
    SIGTERM (foreground daemons only).  For a 'sanitized' daemon (built with
    ASan/UBSan), sanitizer reports in its output are problems too.
    """

    def __init__(self, host, name, argv, *, env=None, ready=None,
                 ready_timeout=READY_TIMEOUT, pidfile=None, detach=False,
                 logs=(), check_exit=None, before_start=None,
                 sanitized=False):
        self.host = host
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.pidfile = pidfile
        self.detach = detach
        self.logs = list(logs)
        self.check_exit = check_exit
        self.before_start = before_start
        self.sanitized = sanitized
        self.out = os.path.join(host.dir, name + ".out")
        self.popen = None
        self.pid = None
        self.returncode = None
        self.expect_down = True
        self.starts = 0

    def __repr__(self):
        return "<Daemon %s@%s pid=%s>" % (self.name, self.host.name, self.pid)

    def alive(self):
        if self.pid is None:
            return False
        if self.popen is not None:
            if self.popen.poll() is not None:
                self.returncode = self.popen.returncode
                return False
            return True
        return pid_alive(self.pid)

    def _fail(self, why):
        msg = "%s on %s: %s" % (self.name, self.host.name, why)
        for path in [self.out] + self.logs:
            if os.path.exists(path):
                msg += "\n--- %s ---\n%s" % (path, tail(path, 60))
        raise LabError(msg)

    def start(self):
        """Starts the daemon and waits until it is ready."""
        if self.alive():
            raise LabError("%s on %s is already running (pid %d)"
                           % (self.name, self.host.name, self.pid))
        if self.before_start:
            self.before_start()
        self.starts += 1
        self.returncode = None
        with open(self.out, "a") as out:
            out.write("=== start %d: %s\n" % (self.starts,
                                            " ".join(self.argv)))
            out.flush()
            p = self.host.popen(self.argv, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT)
        self.expect_down = False
        if self.detach:
            try:
                rc = p.wait(timeout=self.ready_timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.expect_down = True
                self._fail("did not detach within %ss" % self.ready_timeout)
            if rc != 0:
                self.expect_down = True
                self._fail("exited with status %d while detaching" % rc)
            self.popen = None
            self.pid = self._read_pidfile()
            if self.pid is None:
                self.expect_down = True
                self._fail("detached but wrote no pid to %s" % self.pidfile)
        else:
            self.popen = p
            self.pid = p.pid
        if self.ready:
            deadline = time.monotonic() + self.ready_timeout
            while not self.ready():
                if not self.alive():
                    self.expect_down = True
                    self._fail("exited (status %s) before becoming ready"
                               % self.returncode)
                if time.monotonic() >= deadline:
                    self.stop()
                    self._fail("not ready after %ss" % self.ready_timeout)
                time.sleep(0.05)
        return self

    def _read_pidfile(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def send_signal(self, signum):
        """Sends 'signum' to the daemon (no state change)."""
        if self.pid is not None and self.alive():
            os.kill(self.pid, signum)

    def stop(self, timeout=STOP_TIMEOUT, signum=signal.SIGTERM):
        """Stops the daemon with 'signum', then SIGKILL after 'timeout'
        seconds.  Returns the exit status (None if it is not our child).
        Stopping a daemon that is not running is not an error."""
        self.expect_down = True
        if self.pid is None or not self.alive():
            return self.returncode
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.alive():
            with open(self.out, "a") as out:
                out.write("=== did not exit %ss after signal %d: SIGKILL\n"
                          % (timeout, signum))
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self.popen is not None:
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    raise LabError("%s on %s (pid %d) survives SIGKILL"
                                   % (self.name, self.host.name, self.pid))
            else:
                poll(lambda: not pid_alive(self.pid), timeout,
                     "%s (pid %d) to die" % (self.name, self.pid))
        if self.popen is not None:
            self.popen.wait(timeout=timeout)
            self.returncode = self.popen.returncode
        return self.returncode

    def kill(self):
        """Kills the daemon with SIGKILL (simulating a crash)."""
        return self.stop(signum=signal.SIGKILL)

    def restart(self, timeout=STOP_TIMEOUT):
        """Stops the daemon (if running) and starts it again."""
        self.stop(timeout)
        return self.start()

    def died_unexpectedly(self):
        """True if the daemon was started, not stopped through this object,
        and is no longer running."""
        return (not self.expect_down and self.pid is not None
                and not self.alive())

    def bad_exit(self):
        """True if the daemon was stopped and its exit status is not in
        'check_exit'."""
        return (self.check_exit is not None and self.returncode is not None
                and self.returncode not in self.check_exit)


class Host:
    """One host: a network namespace, a private mount namespace and a
    directory HOSTDIR (self.dir) holding its configuration, sockets, pid
    files and logs."""

    def __init__(self, lab, name, index):
        self.lab = lab
        self.name = name
        self.index = index
        self.netns = "%s-%s" % (lab.id, name)
        self.dir = os.path.join(lab.root, name)
        self.rundir = os.path.join(self.dir, "run")  # /run inside the host
        self.mntns = os.path.join(lab.nsdir, name)
        self.ipv4 = "192.0.2.%d" % index
        self.ipv6 = "fd00::%d" % index
        self.iface = "eth0"
        self.daemons = []

        self.db_sock = os.path.join(self.dir, "db.sock")
        self.db_file = os.path.join(self.dir, "conf.db")
        self.vici_sock = os.path.join(self.dir, "charon.vici")
        self.strongswan_conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_dir = os.path.join(self.dir, "swanctl")
        self.ovsdb = None
        self.charon_daemon = None
        self.monitor = None

        # Environment for everything run in this host: OVS tools find the
        # host's database and control sockets, strongSwan tools its config.
        self.env = {
            "PATH": _PATH,
            "LANG": "C.UTF-8",
            "HOME": self.dir,
            "OVS_RUNDIR": self.dir,
            "OVS_LOGDIR": self.dir,
            "OVS_DBDIR": self.dir,
            "OVS_SYSCONFDIR": os.path.join(self.dir, "etc"),
            "STRONGSWAN_CONF": self.strongswan_conf,
            "SWANCTL_DIR": self.swanctl_dir,
        }

    def __repr__(self):
        return "<Host %s %s %s>" % (self.name, self.ipv4, self.ipv6)

    # ---- creation and teardown -------------------------------------------

    def _create(self):
        for d in (self.dir, self.rundir, os.path.join(self.dir, "etc"),
                  self.swanctl_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        for sub in ("conf.d", "x509", "x509ca", "private", "rsa", "ecdsa",
                    "pkcs8", "pkcs12"):
            os.makedirs(os.path.join(self.swanctl_dir, sub), mode=0o700,
                        exist_ok=True)
        _run(["ip", "netns", "add", self.netns])
        # The mount namespace file must exist before unshare binds onto it.
        open(self.mntns, "w").close()
        script = ("mount -t sysfs sysfs /sys && "
                  "mount --bind %s /run && "
                  "ip link set lo up" % self.rundir)
        _run(["unshare", "--mount=" + self.mntns, "--propagation", "private",
              "--", "nsenter", "--net=/run/netns/" + self.netns, "--",
              "sh", "-ec", script], env={"PATH": _PATH})
        # No duplicate address detection: addresses are usable at once.
        self.run(["sysctl", "-q", "-w",
                  "net.ipv6.conf.all.accept_dad=0",
                  "net.ipv6.conf.default.accept_dad=0",
                  "net.ipv6.conf.all.accept_ra=0",
                  "net.ipv6.conf.default.accept_ra=0"])

    def _attach(self, switch_ns, bridge):
        # Created from the switch namespace: the port is named after the
        # host there, and "eth0" exists only in the host's namespace.
        _run(["ip", "-n", switch_ns, "link", "add", "name", self.name,
              "type", "veth", "peer", "name", self.iface, "netns",
              self.netns])
        _run(["ip", "-n", switch_ns, "link", "set", "dev", self.name,
              "master", bridge, "up"])
        self.run(["ip", "link", "set", "dev", self.iface, "up"])
        self.run(["ip", "-4", "addr", "add", self.ipv4 + "/24", "dev",
                  self.iface])
        self.run(["ip", "-6", "addr", "add", self.ipv6 + "/64", "dev",
                  self.iface, "nodad"])
        # Libreswan's %defaultroute wants a default route with a gateway
        # (4.10's addconn takes the source address from the route to the
        # gateway; a device route alone resolves to 0.0.0.0).  Nothing is
        # ever sent to it: the peers are on-link.
        self.run(["ip", "-4", "route", "add", "default", "via",
                  "192.0.2.254", "dev", self.iface])
        self.run(["ip", "-6", "route", "add", "default", "via", "fd00::fe",
                  "dev", self.iface])

    def _destroy(self, errors, notes):
        """Stops everything in this host and deletes its namespaces,
        appending failures to 'errors' and remarks to 'notes' (never
        raising)."""
        for d in reversed(self.daemons):
            try:
                d.stop()
            except Exception as e:      # Keep tearing down.
                errors.append("stopping %r: %s" % (d, e))
        _kill_netns_pids(self.netns, notes)
        if os.path.exists(self.mntns):
            res = _run(["umount", self.mntns], check=False)
            if res.returncode != 0 and "not mounted" not in res.stderr:
                errors.append("umount %s: %s" % (self.mntns,
                                                 res.stderr.strip()))
        if os.path.exists("/run/netns/" + self.netns):
            res = _run(["ip", "netns", "del", self.netns], check=False)
            if res.returncode != 0:
                errors.append("ip netns del %s: %s"
                              % (self.netns, res.stderr.strip()))

    # ---- running things --------------------------------------------------

    def _wrap(self, argv):
        return ["nsenter", "--mount=" + self.mntns,
                "--net=/run/netns/" + self.netns, "--"] + list(argv)

    def _env(self, env):
        e = dict(self.env)
        if env:
            e.update(env)
        return e

    def run(self, argv, *, check=True, timeout=CMD_TIMEOUT, env=None,
            input=None):
        """Runs 'argv' in this host and returns the CompletedProcess (text
        stdout and stderr).  'env' adds to the host's environment."""
        argv = [str(a) for a in argv]
        res = _run(self._wrap(argv), check=False, timeout=timeout,
                   env=self._env(env), input=input)
        if check and res.returncode != 0:
            raise CommandError(argv, res)
        return res

    def sh(self, script, **kwargs):
        """Runs shell 'script' in this host (see run())."""
        return self.run(["sh", "-ec", script], **kwargs)

    def popen(self, argv, *, env=None, **kwargs):
        """Starts 'argv' in this host, returning the subprocess.Popen.  The
        pid is the program's own: nsenter execs it."""
        return subprocess.Popen(self._wrap([str(a) for a in argv]),
                                env=self._env(env),
                                stdin=subprocess.DEVNULL, **kwargs)

    def add_daemon(self, name, argv, **kwargs):
        """Creates (without starting) a Daemon that Lab.close() will stop."""
        d = Daemon(self, name, argv, **kwargs)
        self.daemons.append(d)
        return d

    def path(self, *parts):
        """A path inside HOSTDIR."""
        return os.path.join(self.dir, *parts)

    def write(self, relpath, text, mode=0o600):
        """Writes 'text' to HOSTDIR/'relpath' (private by default, since it
        may hold keys) and returns the full path."""
        path = self.path(relpath)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def ping(self, dst, timeout=5):
        """Waits until one ICMP echo to 'dst' (v4 or v6) is answered."""
        def once():
            return self.run(["ping", "-n", "-q", "-c", "1", "-W", "1", dst],
                            check=False, timeout=5).returncode == 0
        poll(once, timeout, "%s to answer ping from %s" % (dst, self.name))

    # ---- ovsdb-server and ovs-vsctl ----------------------------------

    def start_ovsdb_server(self, ready_timeout=READY_TIMEOUT):
        """Starts ovsdb-server with a fresh Open_vSwitch database on
        HOSTDIR/db.sock and runs "ovs-vsctl init".  The database survives
        restart() of the returned Daemon."""
        if self.ovsdb is not None:
            raise LabError("ovsdb-server already set up on " + self.name)
        if os.path.exists(self.db_file):
            os.unlink(self.db_file)
        self.run(["ovsdb-tool", "create", self.db_file, VSWITCH_SCHEMA])
        log = self.path("ovsdb-server.log")

        def clean():
            # A killed ovsdb-server leaves its socket behind; the
            # readiness probe must not see it as "up".
            for f in (self.db_sock, self.path("ovsdb-server.ctl")):
                if os.path.exists(f):
                    os.unlink(f)

        self.ovsdb = self.add_daemon(
            "ovsdb-server",
            ["ovsdb-server", self.db_file,
             "--remote=punix:" + self.db_sock,
             "--unixctl=" + self.path("ovsdb-server.ctl"),
             "--pidfile=" + self.path("ovsdb-server.pid"),
             "--log-file=" + log, "-vfile:info", "-vconsole:off"],
            ready=lambda: unix_connectable(self.db_sock),
            ready_timeout=ready_timeout, logs=[log], before_start=clean)
        self.ovsdb.start()
        self.vsctl("init")
        return self.ovsdb

    def vsctl(self, *args, check=True, timeout=CMD_TIMEOUT):
        """Runs ovs-vsctl against this host's database and returns its
        stripped stdout.  Always --no-wait: no ovs-vswitchd runs here."""
        res = self.run(["ovs-vsctl", "--db=unix:" + self.db_sock,
                        "--no-wait", "--timeout=%d" % timeout] + list(args),
                       check=check, timeout=timeout + 2)
        return res.stdout.strip() if check else res

    def appctl(self, target, *args, check=True, timeout=CMD_TIMEOUT):
        """Runs "ovs-appctl -t TARGET ARGS" in this host (OVS_RUNDIR is
        HOSTDIR) and returns its stdout, or the CompletedProcess if not
        'check'."""
        res = self.run(["ovs-appctl", "--timeout=%d" % timeout, "-t",
                        target] + list(args), check=check,
                       timeout=timeout + 2)
        return res.stdout if check else res

    # ---- strongSwan --------------------------------------------------

    def write_strongswan_conf(self, extra="", plugins=CHARON_PLUGINS,
                              acq_expires=10):
        """Writes HOSTDIR/strongswan.conf for this host's charon and
        swanctl.  'extra' is appended inside the charon { } section."""
        conf = """\
# Generated by the ovsec integration lab for host %(name)s.
charon {
    load = %(plugins)s
    install_routes = no
    install_virtual_ip = no
    filelog {
        lab {
            path = %(dir)s/charon.log
            time_format = %%H:%%M:%%S
            append = yes
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
            knl = 2
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    plugins {
        vici {
            socket = unix://%(vici)s
        }
        kernel-netlink {
            # Written to net.core.xfrm_acq_expires (default 165 s).
            xfrm_acq_expires = %(acq)d
        }
    }
%(extra)s
}
swanctl {
    load = %(swanctl_plugins)s
}
""" % {"name": self.name, "plugins": plugins, "acq": acq_expires,
            "dir": self.dir, "vici": self.vici_sock, "extra": extra,
            "swanctl_plugins": SWANCTL_PLUGINS}
        return self.write("strongswan.conf", conf, 0o644)

    def start_charon(self, ready_timeout=READY_TIMEOUT, **conf_kwargs):
        """Starts charon with this host's strongswan.conf (written with
        'conf_kwargs' unless it already exists) and waits until its VICI
        socket accepts connections."""
        if self.charon_daemon is not None:
            raise LabError("charon already set up on " + self.name)
        if conf_kwargs or not os.path.exists(self.strongswan_conf):
            self.write_strongswan_conf(**conf_kwargs)
        log = self.path("charon.log")

        def clean():
            # charon refuses to start if /var/run/charon.pid names a live
            # process; ours is dead by now, but its pid may be reused.
            for f in (self.vici_sock, os.path.join(self.rundir,
                                                   "charon.pid")):
                if os.path.exists(f):
                    os.unlink(f)

        self.charon_daemon = self.add_daemon(
            "charon", [CHARON],
            ready=lambda: unix_connectable(self.vici_sock),
            ready_timeout=ready_timeout, logs=[log], before_start=clean)
        return self.charon_daemon.start()

    def swanctl(self, command, *args, check=True, timeout=CMD_TIMEOUT):
        """Runs "swanctl COMMAND --uri VICI ARGS" and returns stdout (or the
        CompletedProcess if not 'check')."""
        res = self.run(["swanctl", command, "--uri",
                        "unix://" + self.vici_sock] + list(args),
                       check=check, timeout=timeout)
        return res.stdout if check else res

    def ike_sas(self):
        """Returns {IKE_SA name: state} from "swanctl --list-sas"."""
        out = self.swanctl("--list-sas")
        sas = {}
        for line in out.splitlines():
            m = re.match(r"^(\S+): #\d+, (\S+),", line)
            if m:
                sas[m.group(1)] = m.group(2)
        return sas

    # ---- ovsec-monitor ----------------------------------------------

    def start_ovsec_monitor(self, binary, *extra_args, detach=False,
                            ready_timeout=READY_TIMEOUT, env=None):
        """Starts ovsec-monitor on this host's database and charon:
            ovsec-monitor unix:HOSTDIR/db.sock --vici=unix:HOSTDIR/charon.vici
                --pidfile --log-file=HOSTDIR/ovsec-monitor.log EXTRA...
        with OVS_RUNDIR=HOSTDIR, waiting until RUNDIR/ovsec-monitor.pid
        names the daemon and its control socket accepts connections.
        ASan reports go to HOSTDIR/asan.PID, UBSan reports to the daemon's
        stderr (HOSTDIR/ovsec-monitor.out; lost after --detach, but UBSan
        halts the daemon); Lab.close() reports both as problems, and exit
        statuses other than 0 or SIGTERM (foreground only)."""
        if self.monitor is not None:
            raise LabError("ovsec-monitor already set up on " + self.name)
        log = self.path("ovsec-monitor.log")
        pidfile = self.path("ovsec-monitor.pid")
        argv = [binary, "unix:" + self.db_sock,
                "--vici=unix:" + self.vici_sock,
                "--pidfile", "--log-file=" + log] + list(extra_args)
        if detach:
            argv.append("--detach")
        menv = {
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:log_path="
                            + self.path("asan"),
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        }
        if env:
            menv.update(env)
        daemon = None

        def ready():
            try:
                with open(pidfile) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return False
            if not detach and pid != daemon.pid:
                return False
            return unix_connectable(self.path("ovsec-monitor.%d.ctl" % pid))

        def clean():
            # The readiness probe must not trust a previous run's pidfile.
            if os.path.exists(pidfile):
                os.unlink(pidfile)

        def locked_ready():
            # OVS tools (ovs-appctl) trust a pidfile only while its
            # daemon holds an fcntl write lock on it.
            if not ready():
                return False
            if not pidfile_locked(pidfile):
                daemon.stop()
                daemon._fail("%s is not locked: ovs-appctl would call it "
                             "stale" % pidfile)
            return True

        daemon = self.add_daemon(
            "ovsec-monitor", argv, env=menv, ready=locked_ready,
            ready_timeout=ready_timeout, pidfile=pidfile, detach=detach,
            logs=[log], check_exit=None if detach else {0, -signal.SIGTERM},
            before_start=clean, sanitized=True)
        self.monitor = daemon
        return daemon.start()

    # ---- packet capture ----------------------------------------------

    def capture(self, name, bpf_filter="", iface=None):
        """Starts tcpdump on 'iface' (default eth0) writing
        HOSTDIR/NAME.pcap; returns a Capture."""
        return Capture(self, name, bpf_filter, iface or self.iface)

    # ---- diagnostics --------------------------------------------------

    def sanitizer_reports(self):
        """Sanitizer reports so far: the contents of non-empty asan.* and
        ubsan.* files in HOSTDIR, and reports found in the output of
        sanitized daemons."""
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.startswith(("asan.", "ubsan.")):
                p = os.path.join(self.dir, f)
                if os.path.getsize(p) > 0:
                    out.append("%s:\n%s" % (p, tail(p, 80)))
        seen = set()
        for d in self.daemons:
            if d.sanitized and d.out not in seen:
                seen.add(d.out)
                out.extend("%s:\n%s" % (d.out, e)
                           for e in sanitizer_excerpts(d.out))
        return out

    def log_files(self):
        """Logs, daemon output and sanitizer reports in HOSTDIR."""
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.endswith((".log", ".out")) or f.startswith(("asan.",
                                                             "ubsan.")):
                out.append(os.path.join(self.dir, f))
        return out


class Capture:
    """tcpdump running in a host, writing HOSTDIR/NAME.pcap."""

    def __init__(self, host, name, bpf_filter, iface):
        self.host = host
        self.pcap = host.path(name + ".pcap")
        argv = ["tcpdump", "-n", "-U", "--immediate-mode", "-Z", "root",
                "-i", iface, "-w", self.pcap]
        if bpf_filter:
            argv.append(bpf_filter)
        self.daemon = host.add_daemon("tcpdump-" + name, argv)
        # tcpdump says "listening on" (stderr) once its socket is bound.
        out = self.daemon.out
        self.daemon.ready = lambda: "listening on" in tail(out, 5)
        self.daemon.start()

    def stop(self):
        """Stops the capture and returns the packets as tcpdump text
        lines."""
        self.daemon.stop(signum=signal.SIGINT)
        res = _run(["tcpdump", "-n", "-r", self.pcap], check=False)
        return [line for line in res.stdout.splitlines() if line]


def _kill_netns_pids(netns, notes):
    """SIGKILLs every process left in network namespace 'netns', noting
    them in 'notes'."""
    if not os.path.exists("/run/netns/" + netns):
        return
    res = _run(["ip", "netns", "pids", netns], check=False)
    pids = [int(p) for p in res.stdout.split() if p.isdigit()]
    if not pids:
        return
    notes.append("killed processes left in %s: %s"
                 % (netns, ", ".join(_describe_pid(p) for p in pids)))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        poll(lambda: all(not pid_alive(p) for p in pids), STOP_TIMEOUT,
             "processes left in %s to die" % netns)
    except LabError as e:
        notes.append(str(e))


def _describe_pid(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    return "%d (%s)" % (pid, cmd.strip()[:80])


def _lab_owner_dead(name):
    """For a lab namespace or directory name "ovlPID..." returns True if
    process PID no longer exists, i.e. its lab is stale."""
    m = re.match(r"^ovl(\d+)x\d+[-.]", name)
    if not m:
        return False
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def cleanup_stale_labs():
    """Removes namespaces and directories left by labs whose process died
    without tearing down (e.g. killed by a CI timeout)."""
    notes = []
    res = _run(["ip", "netns", "list"], check=False)
    for line in res.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith("ovl") and _lab_owner_dead(ns):
            _kill_netns_pids(ns, notes)
            _run(["ip", "netns", "del", ns], check=False)
    for d in os.listdir("/tmp"):
        if d.startswith("ovl") and _lab_owner_dead(d):
            path = os.path.join("/tmp", d)
            _umount_tree(path)
            shutil.rmtree(path, ignore_errors=True)
            notes.append("removed stale lab directory " + path)
    return notes


def _umount_tree(path):
    """Unmounts everything mounted at or below 'path', deepest first."""
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
    except OSError:
        return
    prefix = path.rstrip("/") + "/"
    targets = [m for m in mounts if m == path or m.startswith(prefix)]
    for m in sorted(set(targets), key=len, reverse=True):
        _run(["umount", "-l", m], check=False)


class Lab:
    """A set of hosts on one bridged underlay.  Use as a context manager
    or call close()."""

    _count = 0

    # The class of the hosts add_host() creates: a subclass of Host taking
    # the same constructor arguments (tests/uml/ukernel.py adds
    # ovs-vswitchd).
    host_class = Host

    def __init__(self):
        if os.geteuid() != 0:
            raise LabError("the integration lab needs root")
        missing = _missing_tools()
        if missing:
            raise LabError("missing tools (run scripts/install-deps.sh): "
                           + ", ".join(missing))
        stale = cleanup_stale_labs()
        Lab._count += 1
        self.id = "ovl%dx%d" % (os.getpid(), Lab._count)
        self.root = tempfile.mkdtemp(prefix=self.id + ".", dir="/tmp")
        self.nsdir = os.path.join(self.root, "ns")
        self.hosts = {}
        self.closed = False
        self.switch_ns = self.id + "-sw"
        self.bridge = "lab-br"         # Not a valid host name.
        self.keep = os.environ.get("OVSEC_LAB_KEEP") == "1"
        self.notes = stale
        self.final_logs = ""
        try:
            os.makedirs(self.nsdir, mode=0o700)
            # unshare --mount=FILE needs FILE on a mount that does not
            # propagate: bind the ns directory onto itself, private.
            _run(["mount", "--bind", self.nsdir, self.nsdir])
            _run(["mount", "--make-private", self.nsdir])
            _run(["ip", "netns", "add", self.switch_ns])
            sw = ["nsenter", "--net=/run/netns/" + self.switch_ns, "--"]
            _run(sw + ["sysctl", "-q", "-w",
                       "net.ipv6.conf.all.disable_ipv6=1",
                       "net.ipv6.conf.default.disable_ipv6=1"])
            _run(sw + ["ip", "link", "set", "lo", "up"])
            _run(sw + ["ip", "link", "add", "name", self.bridge, "type",
                       "bridge", "mcast_snooping", "0"])
            _run(sw + ["ip", "link", "set", "dev", self.bridge, "up"])
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add_host(self, name, index=None):
        """Creates host 'name' (1 to 12 lowercase letters and digits,
        starting with a letter) attached to the underlay, with addresses
        192.0.2.INDEX and fd00::INDEX (INDEX defaults to the lowest
        unused number from 1)."""
        if self.closed:
            raise LabError("lab is closed")
        if not _HOST_NAME_RE.match(name) or name == "ns":
            raise LabError("bad host name %r: use 1 to 12 lowercase letters "
                           "and digits, starting with a letter" % name)
        if name in self.hosts:
            raise LabError("host %s already exists" % name)
        used = {h.index for h in self.hosts.values()}
        if index is None:
            index = min(set(range(1, 251)) - used, default=None)
            if index is None:
                raise LabError("too many hosts")
        elif not 1 <= index <= 250 or index in used:
            raise LabError("host index %r is out of range or in use"
                           % index)
        host = self.host_class(self, name, index)
        self.hosts[name] = host
        host._create()
        host._attach(self.switch_ns, self.bridge)
        return host

    def log_report(self, lines=200):
        """Every host's logs (tails), as one text, for failure reports."""
        parts = []
        for host in self.hosts.values():
            if not os.path.isdir(host.dir):
                continue
            for path in host.log_files():
                parts.append("----- %s -----\n%s" % (path,
                                                    tail(path, lines)))
        return "\n".join(parts)

    def problems(self):
        """What looks wrong so far: daemons that died on their own, bad
        exit statuses, sanitizer reports."""
        out = []
        for host in self.hosts.values():
            for d in host.daemons:
                if d.died_unexpectedly():
                    out.append("%s on %s exited on its own (status %s)"
                               % (d.name, host.name, d.returncode))
                elif d.bad_exit():
                    out.append("%s on %s exited with status %s"
                               % (d.name, host.name, d.returncode))
            if os.path.isdir(host.dir):
                for r in host.sanitizer_reports():
                    out.append("sanitizer report in " + r)
        return out

    def close(self):
        """Tears everything down, never raising.  Returns a list of
        problems: daemons that died on their own or exited badly when
        stopped, sanitizer reports, teardown failures.  Other remarks
        (processes killed because they were left behind) go to
        self.notes.  The hosts' logs as they were at the end are kept in
        self.final_logs (the directory itself is removed unless
        $OVSEC_LAB_KEEP=1).  Safe to call twice."""
        if self.closed:
            return []
        self.closed = True
        # Notice daemons that died on their own before stop() marks them
        # as expected to be down.
        died = [d for h in self.hosts.values() for d in h.daemons
                if d.died_unexpectedly()]
        problems = ["%s on %s exited on its own (status %s)"
                    % (d.name, d.host.name, d.returncode) for d in died]
        errors = []
        for host in reversed(list(self.hosts.values())):
            host._destroy(errors, self.notes)
        if os.path.exists("/run/netns/" + self.switch_ns):
            _kill_netns_pids(self.switch_ns, self.notes)
            res = _run(["ip", "netns", "del", self.switch_ns], check=False)
            if res.returncode != 0:
                errors.append("ip netns del %s: %s"
                              % (self.switch_ns, res.stderr.strip()))
        for host in self.hosts.values():
            for d in host.daemons:
                if d not in died and d.bad_exit():
                    problems.append("%s on %s exited with status %s when "
                                    "stopped" % (d.name, host.name,
                                                 d.returncode))
            if os.path.isdir(host.dir):
                for r in host.sanitizer_reports():
                    problems.append("sanitizer report in " + r)
        self.final_logs = self.log_report()
        _umount_tree(self.nsdir)
        if self.keep:
            self.notes.append("lab directory kept: " + self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems + ["teardown: " + e for e in errors]
