# SPDX-License-Identifier: Apache-2.0
"""Building blocks of the ovsec benchmarks (see bench.py).

Everything runs in the integration lab of tests/integration/lab.py: each
subject is one lab Host (own network namespace, own mount namespace with a
private /run) with its own charon.  The subjects are

  Ovsec     ovsdb-server, charon (VICI) and ovsec-monitor;
  Upstream  ovsdb-server and Debian's ovs-monitor-ipsec (openvswitch-ipsec)
            in strongSwan mode, which drives starter/stroke ("ipsec ...")
            and a charon started by starter; /etc/ipsec.conf,
            /etc/ipsec.secrets, /etc/strongswan.conf and /etc/strongswan.d
            are bind-mounted from the host's directory, so upstream writes
            and restarts only its own;
  Floor     a bare charon loaded with "swanctl --load-all" from a
            swanctl.conf holding the connections ovsec would load.

The Libreswan subjects (OvsecLsw, UpstreamLsw, FloorLsw, at the end of
this file) are the same with pluto instead of charon.

All charons are the same binary with the same strongswan.conf, except that
upstream's also loads the stroke plugin (its interface to starter and the
"ipsec" command).  Their log has [CFG] at level 1 and a "%s.ms" time
stamp: every connection and secret loaded, unloaded, routed or terminated
appears there with the millisecond it happened, which is what the
benchmark times and counts (LogTail).  The state charon holds is checked
over VICI (list-conns, list-policies), which sees connections of every
backend, stroke's included.

The configuration changes go to ovsdb-server as raw JSON-RPC "transact"
requests on a connection opened beforehand (Ovsdb): the clock starts when
the request is sent, not when an ovs-vsctl process has started and read
the database.
"""

import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import lab as labmod                        # noqa: E402

UPSTREAM_MONITOR = os.environ.get(
    "OVSEC_BENCH_UPSTREAM", "/usr/share/openvswitch/scripts/ovs-monitor-ipsec")

PSK_ID_PREFIX = "ovs-psk-"

# The remote end of tunnel i: 198.18.0.0/15 (RFC 2544, benchmarking),
# routed out of eth0 to a gateway that never answers, so the negotiations
# ovsec starts go nowhere and cost the same whatever N.
REMOTE_NET = "198.18.0.0/15"
BLACKHOLE_GW = "192.0.2.254"
BLACKHOLE_MAC = "02:00:00:00:00:fe"


def remote_ip(i):
    return "198.18.%d.%d" % (i // 250, i % 250 + 1)


def tunnel_name(i):
    return "gnv%d" % i


class BenchError(Exception):
    pass


class Timeout(BenchError):
    """A phase did not finish within its deadline."""


# ---- OVSDB ----------------------------------------------------------------

class Ovsdb:
    """A JSON-RPC connection to ovsdb-server for timed transactions."""

    def __init__(self, path, timeout=600):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = ""
        self.next_id = 0
        self.dec = json.JSONDecoder()

    def close(self):
        self.sock.close()

    def _send(self, msg):
        self.sock.sendall(json.dumps(msg).encode())

    def _recv(self):
        while True:
            s = self.buf.lstrip()
            if s:
                try:
                    msg, end = self.dec.raw_decode(s)
                except ValueError:
                    msg = None
                if msg is not None:
                    self.buf = s[end:]
                    return msg
            data = self.sock.recv(1 << 20)
            if not data:
                raise BenchError("ovsdb-server closed the connection")
            self.buf += data.decode()

    def transact(self, ops, send_time=None):
        """Commits 'ops' in one transaction and returns the results.  If
        'send_time' is a list, the time.time() at which the request was
        sent is appended to it."""
        self.next_id += 1
        rid = self.next_id
        msg = {"method": "transact", "params": ["Open_vSwitch"] + ops,
               "id": rid}
        data = json.dumps(msg).encode()
        if send_time is not None:
            send_time.append(time.time())
        self.sock.sendall(data)
        while True:
            reply = self._recv()
            if reply.get("method") == "echo":
                self._send({"result": reply["params"], "error": None,
                            "id": reply["id"]})
                continue
            if reply.get("id") != rid:
                continue
            if reply.get("error"):
                raise BenchError("transact: %s" % reply["error"])
            for r in reply["result"]:
                if r and "error" in r:
                    raise BenchError("transact: %s" % reply["result"])
            return reply["result"]


def ops_add(tunnels, bridge="br0"):
    """Operations adding geneve PSK tunnels {name: (remote_ip, psk)} as
    ports of 'bridge'.  The port uuids come back in the results at the
    indexes returned as the second value {name: index}."""
    ops = []
    ports = []
    index = {}
    for k, (name, (ip, psk)) in enumerate(sorted(tunnels.items())):
        ops.append({"op": "insert", "table": "Interface", "uuid-name":
                    "i%d" % k, "row": {
                        "name": name, "type": "geneve",
                        "options": ["map", [["remote_ip", ip],
                                            ["psk", psk]]]}})
        index[name] = len(ops)
        ops.append({"op": "insert", "table": "Port", "uuid-name": "p%d" % k,
                    "row": {"name": name,
                            "interfaces": ["named-uuid", "i%d" % k]}})
        ports.append(["named-uuid", "p%d" % k])
    ops.append({"op": "mutate", "table": "Bridge",
                "where": [["name", "==", bridge]],
                "mutations": [["ports", "insert", ["set", ports]]]})
    return ops, index


def ops_delete(port_uuids, bridge="br0"):
    """Operations removing ports (by uuid) from 'bridge'; ovsdb-server
    then deletes the orphaned Port and Interface rows."""
    return [{"op": "mutate", "table": "Bridge",
             "where": [["name", "==", bridge]],
             "mutations": [["ports", "delete",
                            ["set", [["uuid", u] for u in port_uuids]]]]}]


def ops_set_psk(name, ip, psk):
    return [{"op": "update", "table": "Interface",
             "where": [["name", "==", name]],
             "row": {"options": ["map", [["remote_ip", ip],
                                         ["psk", psk]]]}}]


# ---- charon's log ---------------------------------------------------------

_LINE_RE = re.compile(r"^(\d+\.\d+) (\d+)\[(\w+)\] (.*)$")

# [CFG] messages (level 1) that change what charon holds, with the name
# they concern (None: the whole secrets file).
_LOAD_RES = [re.compile(p) for p in (
    r"^(?:added|updated|replaced) vici connection: (\S+)$",
    r"^installing '([^']+)'$",
    r"^uninstalling '([^']+)'$",
    r"^loaded IKE shared key with id '([^']+)'",
    r"^unloaded shared key with id '([^']+)'",
    r"^added configuration '([^']+)'$",
    r"^added child to existing configuration '([^']+)'$",
    r"^deleted connection '([^']+)'$",
    r"^received stroke: (?:route|unroute|add connection|delete connection)"
    r" '([^']+)'$",
    r"^()loading secrets from '",
    r"^()loaded IKE secret for ",
)]
# [CFG] messages that act on SAs (initiate, terminate, close).
_SA_RES = [re.compile(p) for p in (
    r"^vici (?:initiate|terminate)\b.*?'([^']+)'",
    r"^received stroke: (?:initiate|terminate|down|down-nb) '([^']+)'",
    r"^closing '([^']+)'",
)]
_TUNNEL_RE = re.compile(r"^(?:%s)?(gnv\d+)(?:-in|-out)?(?:-\d+)?(?:\{\d+\})?$"
                        % re.escape(PSK_ID_PREFIX))


def tunnel_of(conn_name):
    """The tunnel a charon object name belongs to (gnv7 for gnv7,
    gnv7-out, gnv7-in-2, gnv7-out-1{3}, ovs-psk-gnv7), or None."""
    m = _TUNNEL_RE.match(conn_name)
    return m.group(1) if m else None


class Event:
    __slots__ = ("ts", "kind", "name", "msg")

    def __init__(self, ts, kind, name, msg):
        self.ts = ts            # time.time() scale, millisecond resolution
        self.kind = kind        # "load" or "sa"
        self.name = name        # object name or "" (secrets file)
        self.msg = msg


class LogTail:
    """Follows charon's log file, keeping the [CFG] events that matter."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = b""
        self.events = []
        self.last_cfg = 0.0     # time.time() of the last [CFG] line seen

    def reset(self, path=None):
        """Starts over on a new file (a restarted charon appends)."""
        if path:
            self.path = path

    def _new_lines(self):
        """The whole lines appended since the last call, decoded."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return []
        if not data:
            return []
        self.pos += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        return [raw.decode(errors="replace") for raw in lines]

    def poll(self):
        """Reads what was appended; returns the number of new events."""
        n = 0
        for line in self._new_lines():
            m = _LINE_RE.match(line)
            if not m or m.group(3) != "CFG":
                continue
            ts = float(m.group(1))
            self.last_cfg = ts
            msg = m.group(4).strip()
            ev = None
            for r in _LOAD_RES:
                mm = r.match(msg)
                if mm:
                    ev = Event(ts, "load", mm.group(1), msg)
                    break
            if ev is None:
                for r in _SA_RES:
                    mm = r.match(msg)
                    if mm:
                        ev = Event(ts, "sa", mm.group(1), msg)
                        break
            if ev is not None:
                self.events.append(ev)
                n += 1
        return n

    def mark(self):
        self.poll()
        return len(self.events)

    def since(self, mark):
        return self.events[mark:]


# ---- VICI -------------------------------------------------------------------

_SEC_START, _SEC_END, _KV, _L_START, _L_ITEM, _L_END = 1, 2, 3, 4, 5, 6
_CMD_REQUEST, _CMD_RESPONSE, _CMD_UNKNOWN = 0, 1, 2
_EV_REGISTER, _EV_CONFIRM, _EVENT = 3, 5, 7


def _vici_pack(op, name, kv=None):
    body = bytes([op, len(name)]) + name.encode()
    for k, v in (kv or {}).items():
        body += bytes([_KV, len(k)]) + k.encode()
        body += struct.pack(">H", len(v)) + v.encode()
    return struct.pack(">I", len(body)) + body


def _section_names(body, pos):
    """Names of the sections at depth 1 and 3 of a VICI message body
    (list-conns: connection, then children under "children")."""
    out = []
    depth = 0
    path = []
    n = len(body)
    while pos < n:
        t = body[pos]
        pos += 1
        if t == _SEC_START:
            ln = body[pos]
            key = body[pos + 1:pos + 1 + ln].decode()
            pos += 1 + ln
            depth += 1
            path.append(key)
            out.append((depth, tuple(path)))
        elif t == _SEC_END:
            depth -= 1
            path.pop()
        elif t == _KV:
            ln = body[pos]
            pos += 1 + ln
            vl = struct.unpack_from(">H", body, pos)[0]
            pos += 2 + vl
        elif t == _L_START:
            ln = body[pos]
            pos += 1 + ln
        elif t == _L_ITEM:
            vl = struct.unpack_from(">H", body, pos)[0]
            pos += 2 + vl
        elif t == _L_END:
            pass
        else:
            raise BenchError("bad VICI element %d" % t)
    return out


class Vici:
    """Streamed VICI queries of charon's state (one connection each)."""

    def __init__(self, path, timeout=120):
        self.path = path
        self.timeout = timeout

    def _query(self, command, event, kv=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        bodies = []
        try:
            s.connect(self.path)
            s.sendall(_vici_pack(_EV_REGISTER, event))
            self._read(s)
            s.sendall(_vici_pack(_CMD_REQUEST, command, kv))
            while True:
                body = self._read(s)
                if body[0] == _EVENT:
                    bodies.append(body)
                elif body[0] == _CMD_RESPONSE:
                    return bodies
                else:
                    raise BenchError("VICI %s: operation %d"
                                     % (command, body[0]))
        finally:
            s.close()

    @staticmethod
    def _read(s):
        def exactly(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise BenchError("charon closed the VICI connection")
                buf += chunk
            return buf
        n = struct.unpack(">I", exactly(4))[0]
        return exactly(n)

    def conns(self):
        """{connection: frozenset(child names)} from list-conns."""
        out = {}
        for body in self._query("list-conns", "list-conn"):
            pos = 2 + body[1]           # op, event name
            conn = None
            children = []
            for depth, path in _section_names(body, pos):
                if depth == 1:
                    conn = path[0]
                elif depth == 3 and path[1] == "children":
                    children.append(path[2])
            if conn is not None:
                out[conn] = frozenset(children)
        return out

    def traps(self):
        """Names of the children with trap policies (list-policies)."""
        out = set()
        for body in self._query("list-policies", "list-policy",
                                {"trap": "yes"}):
            pos = 2 + body[1]
            for depth, path in _section_names(body, pos):
                if depth == 1:
                    out.add(path[0].rsplit("/", 1)[-1])
        return out


# ---- processes ----------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children=True):
    """CPU seconds of 'pid' (user+system), plus its waited-for children's
    if 'children'; 0.0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except (OSError, TypeError):
        return 0.0
    fields = st[st.rfind(")") + 2:].split()
    # fields[0] is field 3 (state); utime is 14, stime 15, cutime 16,
    # cstime 17.
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / CLK_TCK


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, TypeError, ValueError):
        pass
    return None


def ctx_switches(pid):
    """Voluntary plus involuntary context switches of every thread of
    'pid': each time it went to sleep or was preempted."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            for key in ("voluntary_ctxt_switches",
                        "nonvoluntary_ctxt_switches"):
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if line.startswith(key + ":"):
                            total += int(line.split()[1])
    except OSError:
        pass
    return total


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def perf_usable():
    """True if "perf stat" can count exec/fork tracepoints here."""
    try:
        res = subprocess.run(
            ["perf", "stat", "-x,", "-e", "sched:sched_process_exec", "--",
             "/bin/true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and "sched_process_exec" in res.stderr


PERF_EVENTS = "sched:sched_process_exec,task:task_newtask"


class PerfCounts:
    """Reads "perf stat -I" output: exec and fork counts per interval, so
    that they can be summed over a phase's time window."""

    def __init__(self, path, base):
        self.path = path
        self.base = base        # time.time() when perf started

    def count(self, start, end, event="sched:sched_process_exec"):
        try:
            with open(self.path) as f:
                lines = f.readlines()
        except OSError:
            return None
        total = 0
        prev = 0.0
        for line in lines:
            parts = line.strip().split(",")
            if len(parts) < 4 or parts[3] != event:
                continue
            try:
                t = float(parts[0])
            except ValueError:
                continue
            lo, hi = self.base + prev, self.base + t
            prev = t
            if hi > start and lo < end and parts[1].isdigit():
                total += int(parts[1])
        return total


# ---- strongSwan configuration ---------------------------------------------

def strongswan_conf(host, plugins):
    """The same strongswan.conf for every charon in the benchmark.  [CFG]
    at level 1 shows each connection and secret loaded or unloaded and each
    SA action; [IKE] at 1 shows negotiations; the rest only errors."""
    return """\
# Generated by the ovsec benchmarks for host %(name)s.
charon {
    load = %(plugins)s
    install_routes = no
    install_virtual_ip = no
    filelog {
        bench {
            path = %(dir)s/charon.log
            time_format = %%s
            time_add_ms = yes
            append = yes
            flush_line = yes
            default = 0
            cfg = 1
            ike = 1
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
            set_proto_port_transport_sa = yes
            xfrm_acq_expires = 10
        }
    }
}
swanctl {
    load = %(swanctl_plugins)s
}
starter {
    load_warning = no
}
""" % {"name": host.name, "plugins": plugins, "dir": host.dir,
       "vici": host.vici_sock, "swanctl_plugins": labmod.SWANCTL_PLUGINS}


def blackhole_route(host):
    host.run(["ip", "neigh", "add", BLACKHOLE_GW, "lladdr", BLACKHOLE_MAC,
              "dev", host.iface, "nud", "permanent"])
    host.run(["ip", "route", "add", REMOTE_NET, "via", BLACKHOLE_GW, "dev",
              host.iface])


def swanctl_conf(tunnels):
    """A swanctl.conf with the connections and secrets ovsec loads for the
    tunnels {name: (remote_ip, psk)} (the floor)."""
    out = ["connections {"]
    for name, (ip, _) in sorted(tunnels.items()):
        out.append("""\
    %(n)s {
        version = 2
        local_addrs = %%any
        remote_addrs = %(ip)s
        proposals = aes256gcm16-sha256-modp2048
        keyingtries = 0
        local {
            auth = psk
        }
        remote {
            auth = psk
            id = %(ip)s
        }
        children {
            %(n)s-in {
                mode = transport
                local_ts = dynamic[udp/6081]
                remote_ts = dynamic[udp]
                esp_proposals = aes256gcm16-modp2048
                start_action = trap
            }
            %(n)s-out {
                mode = transport
                local_ts = dynamic[udp]
                remote_ts = dynamic[udp/6081]
                esp_proposals = aes256gcm16-modp2048
                start_action = trap
            }
        }
    }""" % {"n": name, "ip": ip})
    out.append("}")
    out.append("secrets {")
    for name, (ip, psk) in sorted(tunnels.items()):
        out.append("    ike-%s {\n        id-1 = %s\n        secret = \"%s\"\n"
                   "    }" % (name, ip, psk))
    out.append("}")
    return "\n".join(out) + "\n"


# ---- subjects ------------------------------------------------------------------

class Subject:
    """One host with a charon; subclasses add the monitor."""

    kind = None
    ike = "strongswan"
    plugins = labmod.CHARON_PLUGINS

    def __init__(self, lab, name, perf):
        self.lab = lab
        self.host = lab.add_host(name)
        self.perf = perf
        self.log = LogTail(self.host.path("charon.log"))
        self.vici = Vici(self.host.vici_sock)
        self.monitor = None         # lab Daemon (perf or the monitor)
        self.perf_counts = None
        self.ovsdb = None
        blackhole_route(self.host)
        self.host.write("strongswan.conf",
                        strongswan_conf(self.host, self.plugins), 0o644)

    def charon_pid(self):
        return read_pid(os.path.join(self.host.rundir, "charon.pid"))

    def ike_pid(self):
        """The IKE daemon's pid (None while it is down)."""
        return self.charon_pid()

    def ike_ready(self):
        """True once the IKE daemon accepts requests."""
        return labmod.unix_connectable(self.host.vici_sock)

    def check(self, expected):
        """Compares what the IKE daemon holds with 'expected' (what
        self.expected() returned).  Returns (done, left_behind): whether
        the phase is over, and how many objects the daemon still holds
        that should be gone (None: not counted for this daemon)."""
        exp_conns, exp_traps = expected
        conns = self.vici.conns()
        self.last_seen = conns
        return self.matches(conns, self.vici.traps(), exp_conns,
                            exp_traps), None

    def describe_failure(self, expected):
        exp_conns = expected[0]
        seen = getattr(self, "last_seen", None)
        if seen is None:
            return "charon did not answer over VICI"
        return ("charon held %d connections, %d expected, %d missing"
                % (len(seen), len(exp_conns),
                   len(set(exp_conns) - set(seen))))

    def vici_sent(self):
        return None

    def ike_pids(self):
        """The processes of the IKE daemon side (charon; starter too for
        upstream)."""
        return [p for p in (self.charon_pid(),) if p]

    def monitor_pid(self):
        return None

    def wrap_perf(self, argv, name):
        if not self.perf:
            return argv
        # The host's /sys is its own sysfs, without tracefs: perf needs it
        # for the tracepoints.
        self.host.run(["sh", "-c", "[ -e /sys/kernel/tracing/events ] || "
                       "mount -t tracefs tracefs /sys/kernel/tracing"])
        out = self.host.path(name + ".perf")
        self.perf_counts = PerfCounts(out, time.time())
        return ["perf", "stat", "-x,", "-I", "50", "-e", PERF_EVENTS,
                "-o", out, "--"] + argv

    def connect_ovsdb(self):
        self.ovsdb = Ovsdb(self.host.db_sock)

    def expected(self, tunnels):
        """(conns, traps) charon should hold for 'tunnels' {name: Tunnel}."""
        raise NotImplementedError

    def matches(self, conns, traps, exp_conns, exp_traps):
        """True if charon's 'conns' ({name: children}) and 'traps' are the
        expected ones."""
        return conns == exp_conns and traps == exp_traps

    def secrets_done(self, events, change):
        """True if the secrets of 'change' are in charon, judging by the
        events since the change was made."""
        return True

    def stop(self):
        if self.ovsdb:
            self.ovsdb.close()
            self.ovsdb = None


class Tunnel:
    __slots__ = ("ip", "psk", "version")

    def __init__(self, ip, psk):
        self.ip = ip
        self.psk = psk
        self.version = 1        # upstream's numbering


def start_ovsec_monitor(subj, binary, args, env=None):
    """Starts ovsec-monitor on 'subj''s host against its ovsdb-server with
    'args', under perf stat (or $OVSEC_BENCH_WRAP, a profiler: see
    bench/profile.sh); sets subj.monitor and subj.pidfile.  Returns the
    path of its log."""
    h = subj.host
    pidfile = h.path("ovsec-monitor.pid")
    log = h.path("ovsec-monitor.log")
    argv = [binary, "unix:" + h.db_sock, "--pidfile=" + pidfile,
            "--log-file=" + log] + list(args)

    def ready():
        pid = read_pid(pidfile)
        return pid and labmod.unix_connectable(
            h.path("ovsec-monitor.%d.ctl" % pid))

    def clean():
        if os.path.exists(pidfile):
            os.unlink(pidfile)
    wrap = os.environ.get("OVSEC_BENCH_WRAP")
    if wrap:
        argv = shlex.split(wrap.replace("HOSTDIR", h.dir)) + argv
    else:
        argv = subj.wrap_perf(argv, "ovsec-monitor")
    kwargs = {"env": env} if env is not None else {}
    subj.monitor = h.add_daemon(
        "ovsec-monitor", argv, ready=ready, ready_timeout=60,
        pidfile=pidfile, logs=[log], before_start=clean, **kwargs)
    subj.monitor.start()
    subj.pidfile = pidfile
    return log


class Ovsec(Subject):
    kind = "ovsec"

    def __init__(self, lab, name, perf, binary, args=()):
        super().__init__(lab, name, perf)
        h = self.host
        h.start_ovsdb_server()
        h.vsctl("add-br", "br0")
        h.start_charon()
        start_ovsec_monitor(self, binary,
                            ["--vici=unix:" + h.vici_sock] + list(args))
        # Ready for the benchmark once it talks to charon.
        labmod.poll(lambda: h.appctl("ovsec-monitor", "ipsec/status",
                                     check=False).returncode == 0,
                    60, "ovsec-monitor to connect to charon", interval=0.1)
        self.connect_ovsdb()

    def monitor_pid(self):
        return read_pid(self.pidfile)

    def expected(self, tunnels):
        conns = {n: frozenset((n + "-in", n + "-out")) for n in tunnels}
        traps = {c for n in tunnels for c in (n + "-in", n + "-out")}
        return conns, traps

    def secrets_done(self, events, change):
        loaded = {e.name for e in events if e.msg.startswith("loaded IKE")}
        unloaded = {e.name for e in events if e.msg.startswith("unloaded")}
        return (all(PSK_ID_PREFIX + n in loaded for n in change.loaded)
                and all(PSK_ID_PREFIX + n in unloaded
                        for n in change.unloaded))

    def appctl(self, *args, timeout=60):
        return self.host.appctl("ovsec-monitor", *args, timeout=timeout)

    def stats(self):
        out = {}
        for line in self.appctl("stats/show").splitlines():
            k, sep, v = line.partition(":")
            if sep and v.strip().isdigit():
                out[k.strip()] = int(v)
        return out

    def vici_sent(self):
        """ovsec's count of VICI messages sent (stats/show prints the
        backend's counters; ipsec/status would list every connection and
        SA, and that listing would be the monitor's peak heap)."""
        m = re.search(r"VICI messages sent: (\d+)",
                      self.appctl("stats/show", timeout=120))
        return int(m.group(1)) if m else None

    def restart_ike(self):
        """Restarts charon (its unit's "restart"); does not wait for it.
        Returns None (nothing to wait for)."""
        d = self.host.charon_daemon
        d.stop()
        ready, d.ready = d.ready, None
        try:
            d.start()
        finally:
            d.ready = ready
        return None

    def stop(self):
        super().stop()
        if self.monitor:
            pid = self.monitor_pid()
            if pid and labmod.pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
            self.monitor.stop()
        self.host.charon_daemon.stop()


class Upstream(Subject):
    kind = "upstream"
    plugins = labmod.CHARON_PLUGINS + " stroke"

    def __init__(self, lab, name, perf, script=UPSTREAM_MONITOR):
        super().__init__(lab, name, perf)
        h = self.host
        h.start_ovsdb_server()
        h.vsctl("add-br", "br0")
        etc = h.path("etc")
        os.makedirs(os.path.join(etc, "strongswan.d"), exist_ok=True)
        for f in ("ipsec.conf", "ipsec.secrets"):
            h.write("etc/" + f, "")
        # Upstream writes /etc/ipsec.conf, /etc/ipsec.secrets and
        # /etc/strongswan.d/ovs.conf, and "ipsec restart" starts starter,
        # which reads /etc/ipsec.conf and starts charon, which reads
        # /etc/strongswan.conf: all of them this host's own.  (ovs.conf is
        # not included: its settings are in the common strongswan.conf.)
        h.sh("mount --bind %s /etc/strongswan.conf && "
             "mount --bind %s/ipsec.conf /etc/ipsec.conf && "
             "mount --bind %s/ipsec.secrets /etc/ipsec.secrets && "
             "mount --bind %s/strongswan.d /etc/strongswan.d"
             % (h.strongswan_conf, etc, etc, etc))
        pidfile = h.path("ovs-monitor-ipsec.pid")
        log = h.path("ovs-monitor-ipsec.log")
        argv = ["python3", script, "unix:" + h.db_sock,
                "--ike-daemon=strongswan", "--pidfile=" + pidfile,
                "--log-file=" + log]

        def ready():
            pid = read_pid(pidfile)
            return (pid and labmod.unix_connectable(
                        h.path("ovs-monitor-ipsec.%d.ctl" % pid))
                    and labmod.unix_connectable(h.vici_sock)
                    and "connected" in labmod.tail(log, 20))

        def clean():
            for f in (pidfile, h.vici_sock):
                if os.path.exists(f):
                    os.unlink(f)
        # Its start runs "ipsec restart", which sleeps 2 s.
        self.monitor = h.add_daemon(
            "ovs-monitor-ipsec", self.wrap_perf(argv, "ovs-monitor-ipsec"),
            ready=ready, ready_timeout=30, pidfile=pidfile, logs=[log],
            before_start=clean)
        self.monitor.start()
        self.pidfile = pidfile
        self.connect_ovsdb()

    def monitor_pid(self):
        return read_pid(self.pidfile)

    def starter_pid(self):
        return read_pid(os.path.join(self.host.rundir,
                                     "starter.charon.pid"))

    def ike_pids(self):
        return [p for p in (self.charon_pid(), self.starter_pid()) if p]

    def expected(self, tunnels):
        # Upstream writes two conns per tunnel, NAME-in-V and NAME-out-V;
        # stroke merges the second into the first as a child, since their
        # IKE settings are the same: charon holds one connection (named
        # after whichever starter added first) with both children.
        conns = {}
        traps = set()
        for n, t in tunnels.items():
            kids = frozenset("%s-%s-%d" % (n, d, t.version)
                             for d in ("in", "out"))
            conns["%s-in-%d" % (n, t.version)] = kids
            traps |= kids
        return conns, traps

    def matches(self, conns, traps, exp_conns, exp_traps):
        return (traps == exp_traps
                and len(conns) == len(exp_conns)
                and set(conns.values()) == set(exp_conns.values())
                and all(name in kids for name, kids in conns.items()))

    def secrets_done(self, events, change):
        if not change.loaded and not change.unloaded:
            return True
        # The whole file is re-read: the last reading must have loaded as
        # many secrets as there are tunnels.
        last = None
        for i, e in enumerate(events):
            if e.msg.startswith("loading secrets from"):
                last = i
        if last is None:
            return False
        n = sum(1 for e in events[last + 1:]
                if e.msg.startswith("loaded IKE secret"))
        return n == change.n_tunnels

    def restart_ike(self):
        """Starts "ipsec restart", as an operator (or systemd) would:
        starter stops charon, sleeps 2 s, starts again and loads
        ipsec.conf.  Returns its Popen, to be waited for."""
        return self.host.popen(["ipsec", "restart"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)

    def stop(self):
        super().stop()
        if self.monitor:
            pid = self.monitor_pid()
            if pid and labmod.pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
            self.monitor.stop()
        self.host.run(["ipsec", "stop"], check=False, timeout=30)


class Floor(Subject):
    kind = "floor"

    def __init__(self, lab, name):
        super().__init__(lab, name, False)
        self.host.start_charon()

    def expected(self, tunnels):
        return Ovsec.expected(self, tunnels)

    def stop(self):
        self.host.charon_daemon.stop()


class Change:
    """What one transaction changes: tunnels whose secrets must be
    (re)loaded or unloaded, and how many tunnels there are afterwards."""

    def __init__(self, loaded=(), unloaded=(), n_tunnels=0, changed=()):
        self.loaded = set(loaded)
        self.unloaded = set(unloaded)
        self.n_tunnels = n_tunnels
        self.changed = set(changed) | self.loaded | self.unloaded


# ---- Libreswan ------------------------------------------------------------
#
# The same subjects with pluto (Libreswan 4.10, from the tree
# scripts/get-libreswan.sh unpacks; see tests/integration/util_libreswan.py)
# instead of charon.  Each host runs its own pluto with private --config,
# --secretsfile, --ipsecdir, --nssdir and --rundir under HOSTDIR/lsw; its log
# (HOSTDIR/pluto.log) stamps every line with the microsecond, which is what
# is timed and counted, as with charon's [CFG] lines.  What pluto holds is
# read with `whack --status`: the connections it lists as loaded.

import datetime                             # noqa: E402

import util_libreswan as lswmod             # noqa: E402

# "Nov 27 06:40:30.779072: MESSAGE" (pluto's --logfile, local time)
_PLUTO_LINE_RE = re.compile(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d+): (.*)$")
# "\"gnv0-in-1\"[2] #3: MESSAGE" or "\"gnv0-in-1\": MESSAGE"
_PLUTO_CONN_RE = re.compile(r'^"([^"]+)"(?:\[\d+\])?(?: #\d+)?: (.*)$')
# Messages that change the connections or secrets pluto holds.
_PLUTO_LOAD = ("added IKEv2 connection", "added IKEv1 connection",
               "terminating SAs using this connection",
               "deleting connection", "replacing connection")
_PLUTO_SECRETS = ("loading secrets from",)
# Messages that act on SAs: negotiations started (IKE SA or a Child SA
# queued on one) and states deleted.
_PLUTO_SA = ("initiating IKEv2 connection", "initiating Child SA",
             "queue Child SA", "deleting state", "deleting IKE SA",
             "deleting other state", "deleting Child SA")


class PlutoLogTail(LogTail):
    """Follows pluto's log file (same interface as LogTail)."""

    def __init__(self, path):
        super().__init__(path)
        self._ts_cache = (None, 0.0)

    def _time(self, stamp):
        # The stamp has no year; whole seconds are cached (many lines
        # share one).
        sec, _, frac = stamp.partition(".")
        if self._ts_cache[0] != sec:
            year = time.localtime().tm_year
            t = datetime.datetime.strptime("%d %s" % (year, sec),
                                           "%Y %b %d %H:%M:%S").timestamp()
            if t > time.time() + 86400:     # a log from last December
                t = datetime.datetime.strptime(
                    "%d %s" % (year - 1, sec), "%Y %b %d %H:%M:%S").timestamp()
            self._ts_cache = (sec, t)
        return self._ts_cache[1] + float("0." + frac)

    def poll(self):
        n = 0
        for line in self._new_lines():
            m = _PLUTO_LINE_RE.match(line)
            if not m:
                continue
            msg = m.group(2)
            name = ""
            mm = _PLUTO_CONN_RE.match(msg)
            if mm:
                name, msg = mm.group(1), mm.group(2)
            if msg.startswith(_PLUTO_LOAD) and name:
                kind = "load"
            elif msg.startswith(_PLUTO_SECRETS):
                kind = "load"
            elif msg.startswith(_PLUTO_SA) and name:
                kind = "sa"
            else:
                continue
            ts = self._time(m.group(1))
            self.last_cfg = ts
            self.events.append(Event(ts, kind, name, msg))
            n += 1
        return n


def ipsec_conf(tunnels, auto):
    """An ipsec.conf with the connections ovsec-monitor writes for the
    geneve PSK tunnels {name: (remote_ip, version)}, each with 'auto' (the
    floor's), and the matching ipsec.secrets text for {name: psk}."""
    out = ["config setup", "    uniqueids=yes", "",
           "conn %default", "    type=transport", "    keyingtries=%forever",
           "    ike=aes_gcm256-sha2_256", "    esp=aes_gcm256",
           "    ikev2=insist", ""]
    for name, (ip, version) in sorted(tunnels.items()):
        for d, lp, rp in (("in", "udp/6081", "udp"),
                          ("out", "udp", "udp/6081")):
            out += ["conn %s-%s-%d" % (name, d, version),
                    "    left=%defaultroute", "    right=" + ip,
                    "    authby=secret", "    leftprotoport=" + lp,
                    "    rightprotoport=" + rp, "    auto=" + auto, ""]
    return "\n".join(out)


def ipsec_secrets(tunnels):
    """ipsec.secrets text for {name: (remote_ip, psk)}."""
    return "".join('%%any %s : PSK "%s"\n' % (ip, psk)
                   for _, (ip, psk) in sorted(tunnels.items()))


def live_children(pid):
    """Child processes 'pid' has now (any thread's), zombies left out
    (upstream leaves its last `ipsec status` unwaited for)."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += f.read().split()
    except (OSError, TypeError):
        pass
    live = []
    for child in out:
        try:
            with open("/proc/%s/stat" % child) as f:
                st = f.read()
        except OSError:
            continue
        if st[st.rfind(")") + 2:].split()[0] != "Z":
            live.append(child)
    return live


class LswSubject(Subject):
    """A host with its own pluto instead of charon (mixed in first)."""

    ike = "libreswan"
    QUIET_S = 1.0

    def __init__(self, lab, name, perf, tree):
        # Subject.__init__ without charon's strongswan.conf.
        self.lab = lab
        self.host = lab.add_host(name)
        self.perf = perf
        self.monitor = None
        self.perf_counts = None
        self.ovsdb = None
        blackhole_route(self.host)
        self.pluto = lswmod.Pluto(self.host, tree)
        self.pluto.prepare()
        self.log = PlutoLogTail(self.pluto.log)
        self.last_seen = None
        self._superset = None

    def ike_pid(self):
        return read_pid(os.path.join(self.pluto.rundir, "pluto.pid"))

    charon_pid = ike_pid

    def ike_ready(self):
        return labmod.unix_connectable(self.pluto.ctl)

    def expected(self, tunnels):
        """Connections pluto should hold: NAME-in-V and NAME-out-V (both
        monitors' names, upstream's numbering)."""
        return {"%s-%s-%d" % (n, d, t.version)
                for n, t in tunnels.items() for d in ("in", "out")}

    def status_text(self):
        res = self.host.run([self.pluto.ipsec, "whack", "--ctlsocket",
                             self.pluto.ctl, "--status"], env=self.pluto.env,
                            timeout=120)
        return res.stdout

    def check(self, expected):
        """Done when pluto holds exactly 'expected'; or when it holds all
        of it and more, and the monitor has gone quiet (no children, no CPU,
        nothing loaded or deleted for QUIET_S): what is left then is
        what the monitor left behind."""
        loaded = set(self.pluto.loaded(self.status_text()))
        self.last_seen = loaded
        if loaded == expected:
            self._superset = None
            return True, 0
        if not expected <= loaded:
            self._superset = None
            return False, None
        now = time.time()
        pid = self.monitor_pid()
        cpu = proc_cpu(pid) if pid else 0.0
        if (self._superset is None or self._superset[1] != cpu
                or self.log.last_cfg > self._superset[0]
                or (pid and live_children(pid))):
            self._superset = (now, cpu)
            return False, None
        if now - self._superset[0] >= self.QUIET_S:
            self._superset = None
            return True, len(loaded - expected)
        return False, None

    def describe_failure(self, expected):
        seen = self.last_seen
        if seen is None:
            return "pluto did not answer whack --status"
        return ("pluto held %d connections, %d expected, %d missing"
                % (len(seen), len(expected), len(expected - seen)))

    def secrets_done(self, events, change):
        """pluto re-read its secrets file after the change, if it added a
        PSK."""
        if not change.loaded:
            return True
        return any(e.msg.startswith(_PLUTO_SECRETS) for e in events)

    def ike_pids(self):
        return [p for p in (self.ike_pid(),) if p]

    def restart_ike(self):
        """Stops pluto and starts it again without waiting for it; the new
        pluto loads its ipsec.conf (addconn --autoall) by itself.  Returns
        None."""
        d = self.pluto.daemon
        d.stop()
        ready, d.ready = d.ready, None
        try:
            d.start()
        finally:
            d.ready = ready
        return None

    def stop_ike(self):
        if self.pluto.daemon:
            self.pluto.daemon.stop()


class OvsecLsw(LswSubject):
    kind = "ovsec"

    def __init__(self, lab, name, perf, binary, tree):
        super().__init__(lab, name, perf, tree)
        h = self.host
        h.start_ovsdb_server()
        h.vsctl("add-br", "br0")
        self.pluto.start()
        log = start_ovsec_monitor(self, binary,
                                  lswmod.monitor_args(self.pluto),
                                  env=self.pluto.env)
        # Ready once it has asked pluto for its version (the dialect).
        labmod.poll(lambda: "command syntax" in labmod.tail(log, 50), 60,
                    "ovsec-monitor to talk to pluto", interval=0.1)
        self.connect_ovsdb()

    def monitor_pid(self):
        return read_pid(self.pidfile)

    stats = Ovsec.stats
    appctl = Ovsec.appctl

    def stop(self):
        Subject.stop(self)
        if self.monitor:
            pid = self.monitor_pid()
            if pid and labmod.pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
            self.monitor.stop()
        self.stop_ike()


class UpstreamLsw(LswSubject):
    """Debian's ovs-monitor-ipsec --ike-daemon=libreswan, unmodified,
    driving this host's pluto: --root-prefix=HOSTDIR/lsw, under which its
    default paths (/etc/ipsec.conf, /etc/ipsec.secrets, /etc/ipsec.d,
    /run/pluto/pluto.ctl, /usr/sbin/ipsec) are pluto's; with
    --no-restart-ike-daemon, since pluto is already running (its restart
    is `ipsec restart`, i.e. systemd)."""

    kind = "upstream"

    def __init__(self, lab, name, perf, tree, script=UPSTREAM_MONITOR):
        super().__init__(lab, name, perf, tree)
        h = self.host
        h.start_ovsdb_server()
        h.vsctl("add-br", "br0")
        self.pluto.start()
        pidfile = h.path("ovs-monitor-ipsec.pid")
        log = h.path("ovs-monitor-ipsec.log")
        argv = ["python3", script, "unix:" + h.db_sock,
                "--ike-daemon=libreswan", "--no-restart-ike-daemon",
                "--root-prefix=" + self.pluto.root,
                "--pidfile=" + pidfile, "--log-file=" + log]

        def ready():
            pid = read_pid(pidfile)
            return (pid and labmod.unix_connectable(
                        h.path("ovs-monitor-ipsec.%d.ctl" % pid))
                    and "connected" in labmod.tail(log, 20))

        def clean():
            if os.path.exists(pidfile):
                os.unlink(pidfile)
        self.monitor = h.add_daemon(
            "ovs-monitor-ipsec", self.wrap_perf(argv, "ovs-monitor-ipsec"),
            env=self.pluto.env, ready=ready, ready_timeout=30,
            pidfile=pidfile, logs=[log], before_start=clean)
        self.monitor.start()
        self.pidfile = pidfile
        self.connect_ovsdb()

    def monitor_pid(self):
        return read_pid(self.pidfile)

    def stop(self):
        Subject.stop(self)
        if self.monitor:
            pid = self.monitor_pid()
            if pid and labmod.pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
            self.monitor.stop()
        self.stop_ike()


class FloorLsw(LswSubject):
    kind = "floor"

    def __init__(self, lab, name, tree):
        super().__init__(lab, name, False, tree)
        self.pluto.start()

    def load(self, tunnels, timeout):
        """Writes the connections (auto=add) and secrets of 'tunnels'
        {name: Tunnel} to a file of their own and pluto's secrets file,
        then has pluto re-read its secrets and load every connection of
        the file: `ipsec auto --rereadsecrets`, `ipsec addconn
        --autoall`."""
        p = self.pluto
        conf = self.host.write("floor-ipsec.conf", ipsec_conf(
            {n: (t.ip, t.version) for n, t in tunnels.items()}, "add"),
            0o644)
        self.host.write(os.path.relpath(p.secrets, self.host.dir),
                        ipsec_secrets({n: (t.ip, t.psk)
                                       for n, t in tunnels.items()}))
        t0 = time.time()
        self.host.run([p.ipsec, "auto", "--ctlsocket", p.ctl, "--config",
                       conf, "--rereadsecrets"], env=p.env, timeout=timeout)
        self.host.run([p.ipsec, "addconn", "--ctlsocket", p.ctl, "--config",
                       conf, "--autoall"], env=p.env, timeout=timeout)
        return t0

    def stop(self):
        self.stop_ike()
