# SPDX-License-Identifier: Apache-2.0
"""Helpers for integration tests of ovsec-monitor (see lab.py, conftest.py).

Everything here reads real state: the monitor's control socket through the
real ovs-appctl, charon through swanctl and its VICI socket, the kernel
through iproute2, and the daemons' log files.  Every wait has a deadline
and, when it expires, says what it last saw.

The functions take a lab Host on which ovsdb-server, charon and
ovsec-monitor run (host.monitor is the monitor's Daemon).  This module is
shared by several test files; its names are a stable interface:

  setup_host(host, binary, *args)     ovsdb-server, charon, monitor, br0
  appctl(host, *args, check=True)     ovs-appctl -t ovsec-monitor ...
  stats(host), wait_stats(host, timeout=..., **counters)
                                      stats/show as {name: int}
  tunnels_json(host), tunnel(host, n) tunnels/show --json (list, one dict)
  wait_tunnel(host, name, state=..., min_version=..., timeout=...)
  show_headers(host), show_section(text, name)
                                      tunnels/show text: {name: (ver, st)}
  tunnel_args(name, type, remote_ip, psk=..., bridge=..., **options)
  add_tunnels(host, specs)            many tunnels in one transaction
  charon_conns(host), parse_list_conns(text)
                                      {conn: Conn} from swanctl --list-conns
  wait_conns(host, expected, ...)     until charon has exactly 'expected'
  expected_children(name, type)       the child names ovsec gives a tunnel
  vici_request(host, cmd, msg=None, stream=None)  raw VICI round trip
  charon_shared_ids(host)             ids of shared keys loaded over VICI
  charon_sas(host)                    IKE SAs over VICI list-sas
  CharonLog(host)                     marks and parses charon's log
  xfrm_policies(host)                 `ip xfrm policy` as Policy tuples
  rss_kib(pid), proc_status(pid)      /proc/PID/status
  wait_exit(daemon, timeout)          for a daemon told to exit by itself
  wait(fetch, check, timeout, what)   generic bounded wait
  read_file(path)                     text of a file, "" if missing
"""

import collections
import json
import os
import re
import socket
import struct
import time

import lab as labmod

MONITOR = "ovsec-monitor"

# How long a configuration change may take to reach charon in these tests.
# The monitor reacts to OVSDB at once; this only bounds slow machines.
APPLY_TIMEOUT = 10


class WaitError(labmod.LabError):
    """A wait_*() deadline expired; the message shows the last value."""


def wait(fetch, check, timeout, what, interval=0.05):
    """Calls 'fetch' until 'check(value)' is true and returns that value.
    Raises WaitError naming 'what' and showing the last value after
    'timeout' seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() >= deadline:
            raise WaitError("timed out after %ss waiting for %s; last "
                            "value:\n%s" % (timeout, what, _pretty(value)))
        time.sleep(interval)


def _pretty(value):
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


# ---- set-up -------------------------------------------------------------

def setup_host(host, binary, *monitor_args, bridge="br0"):
    """Starts ovsdb-server, charon and ovsec-monitor (with 'monitor_args')
    on 'host' and creates bridge 'bridge' (unless None).  Returns the
    monitor's Daemon."""
    host.start_ovsdb_server()
    host.start_charon()
    mon = host.start_ovsec_monitor(binary, *monitor_args)
    if bridge:
        host.vsctl("add-br", bridge)
    return mon


# ---- the monitor's control commands -------------------------------------

def appctl(host, *args, check=True, timeout=labmod.CMD_TIMEOUT):
    """Runs the real "ovs-appctl -t ovsec-monitor ARGS" in 'host'.  Returns
    stdout, or the CompletedProcess if not 'check'."""
    return host.appctl(MONITOR, *args, check=check, timeout=timeout)


def stats(host):
    """stats/show as {"tunnels": N, "configured": N, "applied": N, ...}."""
    out = {}
    for line in appctl(host, "stats/show").splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip().isdigit():
            out[key.strip()] = int(value)
    return out


def wait_stats(host, timeout=APPLY_TIMEOUT, interval=0.05, **want):
    """Waits until stats/show has every counter in 'want' (spaces in
    counter names are written as underscores); returns the stats."""
    want = {k.replace("_", " "): v for k, v in want.items()}
    return wait(lambda: stats(host),
                lambda s: all(s.get(k) == v for k, v in want.items()),
                timeout, "stats/show to show %s" % want, interval)


def tunnels_json(host):
    """tunnels/show --json, parsed: a list of dicts sorted by name."""
    return json.loads(appctl(host, "tunnels/show", "--json"))


def tunnel(host, name):
    """The tunnels/show --json entry of 'name', or None."""
    for t in tunnels_json(host):
        if t["name"] == name:
            return t
    return None


_HEADER_RE = re.compile(r"^Interface name: (\S+) v(\d+) \((\w+)\)$")


def show_headers(host, text=None):
    """The tunnels/show text output's headers as {name: (version, state)}
    ('text' defaults to a fresh tunnels/show)."""
    if text is None:
        text = appctl(host, "tunnels/show")
    out = {}
    for line in text.splitlines():
        m = _HEADER_RE.match(line)
        if m:
            out[m.group(1)] = (int(m.group(2)), m.group(3))
    return out


def show_section(text, name):
    """The lines of tunnels/show 'text' that describe tunnel 'name'."""
    out = []
    inside = False
    for line in text.splitlines():
        m = _HEADER_RE.match(line)
        if m:
            inside = m.group(1) == name
        if inside:
            out.append(line)
    return "\n".join(out)


def wait_tunnel(host, name, state="CONFIGURED", min_version=None,
                timeout=APPLY_TIMEOUT):
    """Waits until tunnels/show --json has 'name' in 'state' with a version
    of at least 'min_version'; returns its entry."""
    def ok(t):
        return (t is not None and t["state"] == state
                and (min_version is None or t["version"] >= min_version))
    return wait(lambda: tunnel(host, name), ok, timeout,
                "%s to be %s (version >= %s)" % (name, state, min_version))


# ---- OVSDB -------------------------------------------------------------

def tunnel_args(name, type, remote_ip, psk=None, bridge="br0", **options):
    """ovs-vsctl arguments (a list starting with "--") that add port and
    interface 'name' of 'type' to 'bridge' with options remote_ip, psk (if
    given) and 'options' (values are quoted for ovs-vsctl)."""
    opts = {"remote_ip": remote_ip}
    if psk is not None:
        opts["psk"] = psk
    opts.update(options)
    args = ["--", "add-port", bridge, name, "--", "set", "interface", name,
            "type=" + type]
    args += ["options:%s=%s" % (k, vsctl_quote(v)) for k, v in opts.items()]
    return args


def vsctl_quote(value):
    """'value' as an ovs-vsctl string atom: JSON-quoted, which ovs-vsctl
    reads with escapes, so any byte survives."""
    return json.dumps(value)


def add_tunnels(host, specs, timeout=30):
    """Adds every tunnel in 'specs' (dicts of tunnel_args() arguments) in
    ONE ovs-vsctl transaction.  Returns (seconds ovs-vsctl took, the
    monotonic time at which it returned)."""
    args = []
    for spec in specs:
        args += tunnel_args(**spec)
    start = time.monotonic()
    host.vsctl(*args, timeout=timeout)
    end = time.monotonic()
    return end - start, end


# ---- charon -------------------------------------------------------------

Conn = collections.namedtuple("Conn", "local remote children")
"""One connection in charon: 'local' and 'remote' are the address lines
of swanctl ("%any", "192.0.2.2"), 'children' maps each child's name to
(mode, local_ts, remote_ts)."""

_CONN_RE = re.compile(r"^(\S+): IKEv[12]\b")
_CHILD_RE = re.compile(r"^  (\S+): (TRANSPORT|TUNNEL|PASS|DROP)\b")
_ADDR_RE = re.compile(r"^  (local|remote):\s+(.*)$")
_TS_RE = re.compile(r"^    (local|remote):\s+(.*)$")


def parse_list_conns(text):
    """Parses the output of "swanctl --list-conns" into {name: Conn}."""
    conns = {}
    cur = None
    child = None
    for line in text.splitlines():
        m = _CONN_RE.match(line)
        if m:
            cur = {"local": None, "remote": None, "children": {}}
            conns[m.group(1)] = cur
            child = None
            continue
        if cur is None:
            continue
        m = _CHILD_RE.match(line)
        if m:
            child = [m.group(2), None, None]
            cur["children"][m.group(1)] = child
            continue
        m = _ADDR_RE.match(line)
        if m and child is None:
            cur[m.group(1)] = m.group(2).strip()
            continue
        m = _TS_RE.match(line)
        if m and child is not None:
            child[1 if m.group(1) == "local" else 2] = m.group(2).strip()
    return {name: Conn(c["local"], c["remote"],
                       {k: tuple(v) for k, v in c["children"].items()})
            for name, c in conns.items()}


def charon_conns(host):
    """charon's connections, {name: Conn}, from swanctl --list-conns."""
    return parse_list_conns(host.swanctl("--list-conns", timeout=30))


def wait_conns(host, expected, timeout=APPLY_TIMEOUT, interval=0.1):
    """Waits until charon holds exactly the connections 'expected' maps to
    their sorted child names ({"gnv0": ["gnv0-in", "gnv0-out"]}); returns
    {name: Conn}."""
    want = {k: sorted(v) for k, v in expected.items()}

    def shape(conns):
        return {k: sorted(c.children) for k, c in conns.items()}
    return wait(lambda: charon_conns(host), lambda c: shape(c) == want,
                timeout, "charon to hold exactly %s" % want, interval)


def expected_children(name, type):
    """The children ovsec gives a tunnel: NAME for gre, NAME-in and
    NAME-out for geneve and vxlan."""
    return [name] if type == "gre" else [name + "-in", name + "-out"]


# VICI: a 32-bit big-endian length, then an operation byte, for named
# operations a length-prefixed name, then message elements.
_VICI_CMD_REQUEST, _VICI_CMD_RESPONSE, _VICI_CMD_UNKNOWN = 0, 1, 2
_VICI_EVENT_REGISTER, _VICI_EVENT_UNREGISTER = 3, 4
_VICI_EVENT_CONFIRM, _VICI_EVENT_UNKNOWN, _VICI_EVENT = 5, 6, 7
_SECTION_START, _SECTION_END, _KEY_VALUE = 1, 2, 3
_LIST_START, _LIST_ITEM, _LIST_END = 4, 5, 6


class ViciError(labmod.LabError):
    pass


def _vici_encode_msg(msg):
    out = bytearray()
    for key, value in (msg or {}).items():
        k = key.encode()
        if isinstance(value, dict):
            out += bytes([_SECTION_START, len(k)]) + k
            out += _vici_encode_msg(value)
            out.append(_SECTION_END)
        elif isinstance(value, (list, tuple)):
            out += bytes([_LIST_START, len(k)]) + k
            for item in value:
                v = item.encode() if isinstance(item, str) else item
                out += bytes([_LIST_ITEM]) + struct.pack(">H", len(v)) + v
            out.append(_LIST_END)
        else:
            v = value.encode() if isinstance(value, str) else value
            out += bytes([_KEY_VALUE, len(k)]) + k
            out += struct.pack(">H", len(v)) + v
    return bytes(out)


def _vici_decode_msg(data):
    """Decodes message elements into nested dicts; values and list items
    become str (undecodable bytes replaced)."""
    root = {}
    stack = [root]
    cur_list = None
    i = 0

    def take(n):
        nonlocal i
        if i + n > len(data):
            raise ViciError("truncated VICI message")
        chunk = data[i:i + n]
        i += n
        return chunk

    while i < len(data):
        t = take(1)[0]
        if t in (_SECTION_START, _KEY_VALUE, _LIST_START):
            name = take(take(1)[0]).decode(errors="replace")
        if t == _SECTION_START:
            section = {}
            stack[-1][name] = section
            stack.append(section)
        elif t == _SECTION_END:
            stack.pop()
        elif t == _KEY_VALUE:
            n = struct.unpack(">H", take(2))[0]
            stack[-1][name] = take(n).decode(errors="replace")
        elif t == _LIST_START:
            cur_list = []
            stack[-1][name] = cur_list
        elif t == _LIST_ITEM:
            n = struct.unpack(">H", take(2))[0]
            cur_list.append(take(n).decode(errors="replace"))
        elif t == _LIST_END:
            cur_list = None
        else:
            raise ViciError("unknown VICI element type %d" % t)
    return root


def _vici_send(sock, op, name=None, msg=None):
    body = bytes([op])
    if name is not None:
        n = name.encode()
        body += bytes([len(n)]) + n
    body += _vici_encode_msg(msg)
    sock.sendall(struct.pack(">I", len(body)) + body)


def _vici_recv(sock):
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ViciError("charon closed the VICI connection")
            buf += chunk
        return buf
    length = struct.unpack(">I", exactly(4))[0]
    body = exactly(length)
    op = body[0]
    pos = 1
    name = None
    if op in (_VICI_EVENT,):
        n = body[pos]
        name = body[pos + 1:pos + 1 + n].decode()
        pos += 1 + n
    return op, name, body[pos:]


def vici_request(host, command, msg=None, stream=None, timeout=10):
    """Sends VICI request 'command' with message 'msg' (a dict of str,
    lists and dicts) to the host's charon and returns (response dict,
    list of 'stream' event dicts received meanwhile)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    events = []
    try:
        sock.connect(host.vici_sock)
        if stream:
            _vici_send(sock, _VICI_EVENT_REGISTER, stream)
            op, _, _ = _vici_recv(sock)
            if op != _VICI_EVENT_CONFIRM:
                raise ViciError("registering for %s: operation %d"
                                % (stream, op))
        _vici_send(sock, _VICI_CMD_REQUEST, command, msg)
        while True:
            op, name, body = _vici_recv(sock)
            if op == _VICI_EVENT:
                events.append(_vici_decode_msg(body))
            elif op == _VICI_CMD_RESPONSE:
                return _vici_decode_msg(body), events
            elif op == _VICI_CMD_UNKNOWN:
                raise ViciError("charon does not know command %s" % command)
            else:
                raise ViciError("unexpected VICI operation %d" % op)
    finally:
        sock.close()


def charon_shared_ids(host):
    """The ids of the shared keys loaded into charon over VICI (not the
    keys: get-shared returns identifiers only)."""
    reply, _ = vici_request(host, "get-shared")
    return set(reply.get("keys", []))


def charon_sas(host):
    """charon's IKE SAs as {conn: [IKE SA dicts]} (VICI list-sas)."""
    _, events = vici_request(host, "list-sas", stream="list-sa")
    out = collections.defaultdict(list)
    for ev in events:
        for conn, sa in ev.items():
            if isinstance(sa, dict):
                out[conn].append(sa)
    return dict(out)


ConnLoad = collections.namedtuple("ConnLoad", "name verb conn children")
"""A connection charon loaded: 'verb' is added, updated or replaced;
'conn' maps the connection's settings as charon logged them (at cfg log
level 2) and 'children' maps each child to its settings."""

_CFG_RE = re.compile(r"^\S+ (\d+)\[CFG\] ( *)(.*)$")
_KV_RE = re.compile(r"^(\S+) = (.*)$")
_LOADED_RE = re.compile(r"^(added|updated|replaced) vici connection: (\S+)$")
_REQUEST_RE = re.compile(r"^vici client \d+ requests: (\S+)$")


class CharonLog:
    """charon's log file on 'host' (the lab logs [CFG] at level 2, which
    shows every connection charon loads, with its settings, and every VICI
    request).  mark() returns the current end; the other methods look at
    what was logged after a mark."""

    def __init__(self, host):
        self.path = host.path("charon.log")

    def mark(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def text(self, since=0):
        with open(self.path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def requests(self, since=0):
        """VICI commands charon was asked for since 'since', in order."""
        out = []
        for line in self.text(since).splitlines():
            m = _CFG_RE.match(line)
            if m:
                r = _REQUEST_RE.match(m.group(3))
                if r:
                    out.append(r.group(1))
        return out

    def conn_loads(self, since=0):
        """Connections loaded since 'since', as ConnLoads in order.  Lines
        of one request come from one charon thread, so blocks are tracked
        per thread."""
        blocks = {}
        out = []
        for line in self.text(since).splitlines():
            m = _CFG_RE.match(line)
            if not m:
                continue
            thread, indent, msg = m.group(1), len(m.group(2)), m.group(3)
            b = blocks.get(thread)
            loaded = _LOADED_RE.match(msg)
            if loaded:
                verb, name = loaded.groups()
                if b and b["name"] == name:
                    out.append(ConnLoad(name, verb, b["conn"],
                                        b["children"]))
                else:
                    out.append(ConnLoad(name, verb, {}, {}))
                blocks.pop(thread, None)
                continue
            if indent == 1 and msg.startswith("conn ") and msg.endswith(":"):
                blocks[thread] = {"name": msg[5:-1], "conn": {},
                                  "children": {}, "section": None}
                continue
            if not b:
                continue
            kv = _KV_RE.match(msg)
            if indent == 2:
                if msg.startswith("child ") and msg.endswith(":"):
                    b["section"] = b["children"].setdefault(msg[6:-1], {})
                elif kv:
                    b["conn"][kv.group(1)] = kv.group(2)
                    b["section"] = None
                else:
                    b["section"] = None     # local:, remote:
            elif indent == 3 and kv and b["section"] is not None:
                b["section"][kv.group(1)] = kv.group(2)
        return out


# ---- the kernel ---------------------------------------------------------

Policy = collections.namedtuple("Policy", "selector dir action mark")
"""One XFRM policy from `ip xfrm policy`: 'selector' is its first line
("src 0.0.0.0/0 dst 0.0.0.0/0 proto gre"), 'action' "allow" or "block",
'mark' "0x1/0x1" or None."""


def xfrm_policies(host):
    """The XFRM policies in the host's network namespace (socket policies
    excluded)."""
    out = []
    cur = None
    text = host.run(["ip", "xfrm", "policy"]).stdout
    for line in text.splitlines():
        if line.startswith("src "):
            cur = {"selector": " ".join(line.split()), "dir": None,
                   "action": "allow", "mark": None}
            out.append(cur)
            continue
        if cur is None:
            continue
        words = line.split()
        if "dir" in words:
            cur["dir"] = words[words.index("dir") + 1]
        if "socket" in words:
            cur["dir"] = "socket"
        if "action" in words:
            cur["action"] = words[words.index("action") + 1]
        if words[:1] == ["mark"]:
            cur["mark"] = words[1]
    return [Policy(p["selector"], p["dir"], p["action"], p["mark"])
            for p in out if p["dir"] != "socket"]


# ---- processes ------------------------------------------------------------

def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def rss_kib(pid):
    """The resident set size of 'pid' in KiB."""
    return int(proc_status(pid)["VmRSS"].split()[0])


def wait_exit(daemon, timeout=10):
    """Waits for a lab Daemon that was asked to exit (e.g. by the "exit"
    control command) to do so, marks it as expected to be down, and
    returns its exit status."""
    labmod.poll(lambda: not daemon.alive(), timeout,
                "%s to exit" % daemon.name)
    return daemon.stop()    # Not running: only records the exit.


def read_file(path):
    """The text of 'path' ("" if missing)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
