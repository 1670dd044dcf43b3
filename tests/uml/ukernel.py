# SPDX-License-Identifier: Apache-2.0
"""Real-kernel lab: the integration lab's hosts plus ovs-vswitchd on the
kernel datapath, for a kernel that has ESP, Geneve, VXLAN, GRE and the
openvswitch module (the user-mode Linux guest of run-uml.sh), and the
helpers the real-kernel scenarios share.

KernelLab is lab.Lab whose hosts are KernelHosts.  Host N has the underlay
addresses 192.0.2.N and fd00::N (lab.py) and, once set up as a tutorial
host, the overlay addresses 192.0.0.N (and optionally fd01::N) on its
bridge br-ipsec.

Setting up hosts (the upstream IPsec tutorial):

    setup_tutorial([left, right], monitor)   both hosts at once, phase by
                               phase (ovsdb-server, charon, ovsec-monitor on
                               every host, then ovs-vswitchd, br-ipsec and
                               its addresses); ipv6_overlay=True adds
                               fd01::N/64.  host.setup_tutorial(monitor)
                               does one host.  charon gets
                               xfrm_acq_expires = ACQ_EXPIRES (10 s).
    host.start_vswitchd()      ovs-vswitchd on HOSTDIR/db.sock with
                               OVS_RUNDIR=HOSTDIR, so "ovs-appctl -t
                               ovs-vswitchd" in the host finds it; the
                               datapath lives in the host's namespace.
    host.vsctl(...)            waits for ovs-vswitchd to apply the change
                               while it runs (ovs-vsctl without --no-wait).
    host.ip(...)               "ip ARGS" in the host.
    host.overlay(af), host.underlay(af)
                               the host's br-ipsec / eth0 address (af 4 or
                               6).

Tunnels:

    host.add_tunnel(peer, name="tun", type="geneve", psk=..., local_ip=...,
                    af=4, **options)
                               adds port NAME to br-ipsec; 'peer' is a
                               KernelHost (its underlay address of 'af' is
                               remote_ip) or an address; local_ip None
                               leaves the option unset, True sets this
                               host's own address; 'options' are further
                               interface options (remote_cert, remote_name,
                               ...; values may hold any character).
    host.set_ipsec_config(**other_config)
                               Open_vSwitch other_config keys (certificate,
                               private_key, ca_cert, ...); None removes one.
    host.tunnel_args(...)      add_tunnel()'s ovs-vsctl arguments, to
                               combine changes in one transaction.
    host.set_tunnel_options(name, **options)
                               changes interface options (e.g. psk=...).
    connect(a, b, name="tun", type="geneve", psk=None, local_ip=None,
            af=4, options=(dict_a, dict_b))
                               adds the tunnel on a, then at once on b (the
                               tutorial's order); returns the monotonic time
                               just before the first add-port.
    host.del_tunnel(name), disconnect([a, b], name)
                               removes port NAME (if it exists).

Waiting and checking (each raises AssertionError with what the hosts
report when its deadline passes):

    wait_ping(a, b, af=4, since=None)
                               until ping over br-ipsec works a->b and then
                               b->a; returns the seconds from 'since'
                               (monotonic; default: the call) to success.
    assert_ping(a, b, af=4, count=5)
                               'count' pings each way, every one answered.
    wait_loaded([a, b], name)  until tunnels/show says CONFIGURED on every
                               host (the IKE daemon holds the tunnel's
                               connections); returns when that happened
                               (time.time() scale, from the monitors'
                               logs, so calling it after the first ping
                               is fine), the moment to pass to
                               UnderlayCapture.traffic().
    wait_tunnel_up(host, name, af=4, peer=None)
                               until tunnels/show has NAME CONFIGURED, an
                               INSTALLED child SA and kernel SAs (not
                               larval ones) in both directions; returns a
                               TunnelShow.
    host.tunnel_show(name)     tunnels/show parsed for one tunnel
                               (TunnelShow: state, version, reason,
                               policies, sas, acquires, active, children,
                               text).
    host.tunnel_json(name)     its tunnels/show --json entry, or None.
    configured_at(host, name, version)
                               when the monitor logged NAME vVERSION
                               configured (time.time() scale), or None.
    host.xfrm_between(peer, af=4, acquires=False)
                               (states, policies) of "ip xfrm" that involve
                               the peer's underlay address (af None: both);
                               larval acquire states (SPI 0, no keys: what
                               the kernel keeps for ACQ_EXPIRES s after a
                               packet met a trap policy that got no SA)
                               only if 'acquires'.
    host.ping_once(dst), host.ping_count(dst, count)
                               one ping answered?  how many of 'count'?

Underlay captures (one veth only: every packet crosses the switch's bridge
too):

    cap = host.capture_underlay("name")
                               tcpdump on eth0 of ESP and of plaintext
                               tunnel packets (udp 6081, udp 4789, IP proto
                               47, IPv4 and IPv6).
    cap.traffic(since=None)    UnderlayTraffic(esp, plaintext): tcpdump
                               lines captured so far (at or after wall-clock
                               time 'since'); works while tcpdump runs.
    cap.stop()                 stops tcpdump; returns cap.traffic().
    assert_no_plaintext(traffic)

Timings: bench(report, name, duration, first_ping) prints the "BENCH:" line
every scenario prints.

Nothing waits without a deadline.
"""

import collections
import datetime
import json
import os
import re
import signal
import time

import lab as labmod
import util_monitor as um

# ovs-vswitchd 3.1 refreshes its count of CPU cores at most every 10 s of
# CLOCK_MONOTONIC, starting from 0: in a guest whose uptime is below 10 s
# it sees zero cores, starts no upcall handler threads and forwards
# nothing.  Wait until the uptime passes this before starting it.
VSWITCHD_MIN_UPTIME = 10.5

# The pidfile name ovs-vswitchd checks before it accepts IPsec options on
# a tunnel (lib/netdev-vport.c): $OVS_RUNDIR/ovs-monitor-ipsec.pid.
# ovsec-monitor links it to its own pidfile.
UPSTREAM_MONITOR_PIDFILE = "ovs-monitor-ipsec.pid"

# Modules without which the kernel cannot run these tests.
REQUIRED_MODULES = ("openvswitch", "vport_geneve", "esp4", "xfrm_user")

# The tutorial's bridge and its addresses (host N gets .N / ::N).
BRIDGE = "br-ipsec"
OVERLAY4 = "192.0.0.%d"
OVERLAY6 = "fd01::%d"

TUNNEL_TYPES = ("geneve", "vxlan", "gre")

# Bounds, in seconds.  strongSwan needs about 2 to 11 s from add-port to
# the first answered ping in the guest; the guest has one CPU that other
# guests on the machine may share.
FIRST_PING_TIMEOUT = 60
SHOW_TIMEOUT = 30
APPLY_TIMEOUT = 30

# Lifetime of the kernel's larval acquire states, which charon writes to
# net.core.xfrm_acq_expires (its default, 165 s, blocks a new acquire for
# as long after a failed negotiation).  The key is
# charon.plugins.kernel-netlink.xfrm_acq_expires: lab.py's
# charon.xfrm_acq_expires is not read by charon.  strongSwan merges this
# "plugins" section with the one lab.py writes.
ACQ_EXPIRES = 10
CHARON_EXTRA = """\
    plugins {
        kernel-netlink {
            xfrm_acq_expires = %d
        }
    }
""" % ACQ_EXPIRES

# What a capture on the underlay keeps: ESP, and the tunnel packets that
# must never cross in plaintext once the SAs exist (Geneve, VXLAN, GRE).
UNDERLAY_FILTER = ("esp or udp port 6081 or udp port 4789 "
                   "or ip proto 47 or ip6 proto 47")


def missing_kernel_features():
    """Names of required kernel modules that are not loaded (empty if this
    kernel can run the real-kernel tests)."""
    return [m for m in REQUIRED_MODULES
            if not os.path.isdir("/sys/module/" + m)]


def uptime():
    """Seconds since this kernel booted (CLOCK_MONOTONIC, as OVS sees
    it)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def wait_uptime(seconds):
    """Sleeps until the uptime reaches 'seconds' (at most that long)."""
    delay = seconds - uptime()
    if delay > 0:
        time.sleep(delay)


def _check_af(af):
    if af not in (4, 6):
        raise ValueError("address family must be 4 or 6, not %r" % (af,))


def _vsctl_quote(value):
    # ovs-vsctl reads a JSON string atom with escapes: any byte survives.
    return json.dumps(str(value))


class KernelHost(labmod.Host):
    """A lab host that can run ovs-vswitchd on the kernel datapath."""

    def __init__(self, lab, name, index):
        super().__init__(lab, name, index)
        self.vswitchd = None
        # The IKE daemon interface of this host (Strongswan by default;
        # set by the driver's setup()).
        self.ike = STRONGSWAN

    # ---- addresses -------------------------------------------------------

    def underlay(self, af=4):
        """This host's address on the underlay (eth0)."""
        _check_af(af)
        return self.ipv4 if af == 4 else self.ipv6

    def overlay(self, af=4):
        """This host's address on br-ipsec."""
        _check_af(af)
        return (OVERLAY4 if af == 4 else OVERLAY6) % self.index

    def ip(self, *args, **kwargs):
        """Runs "ip ARGS" in this host; returns its stdout."""
        return self.run(["ip"] + list(args), **kwargs).stdout

    # ---- ovs-vswitchd ----------------------------------------------------

    def vswitchd_running(self):
        return self.vswitchd is not None and self.vswitchd.alive()

    def start_vswitchd(self, ready_timeout=labmod.READY_TIMEOUT):
        """Starts ovs-vswitchd on this host's database (start ovsdb-server
        first) and waits until it has applied the database's
        configuration.  Its kernel datapath ("ovs-system") and ports live
        in this host's network namespace."""
        if self.vswitchd is not None:
            raise labmod.LabError("ovs-vswitchd already set up on "
                                  + self.name)
        if self.ovsdb is None:
            raise labmod.LabError("start ovsdb-server on %s before "
                                  "ovs-vswitchd" % self.name)
        wait_uptime(VSWITCHD_MIN_UPTIME)
        log = self.path("ovs-vswitchd.log")
        pidfile = self.path("ovs-vswitchd.pid")
        daemon = None

        def clean():
            if os.path.exists(pidfile):
                os.unlink(pidfile)

        def ready():
            # The default control socket RUNDIR/ovs-vswitchd.PID.ctl is
            # what "ovs-appctl -t ovs-vswitchd" looks for.
            try:
                with open(pidfile) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return False
            return (pid == daemon.pid and labmod.unix_connectable(
                self.path("ovs-vswitchd.%d.ctl" % pid)))

        daemon = self.add_daemon(
            "ovs-vswitchd",
            ["ovs-vswitchd", "unix:" + self.db_sock, "--pidfile=" + pidfile,
             "--log-file=" + log, "-vconsole:off", "-vfile:info"],
            ready=ready, ready_timeout=ready_timeout, logs=[log],
            check_exit={0, -signal.SIGTERM}, before_start=clean)
        self.vswitchd = daemon
        daemon.start()
        # Without --no-wait, ovs-vsctl returns once ovs-vswitchd has caught
        # up with the database.
        self.vsctl("init")
        return daemon

    def vsctl(self, *args, check=True, timeout=labmod.CMD_TIMEOUT):
        """Runs ovs-vsctl against this host's database and returns its
        stripped stdout (the CompletedProcess if not 'check').  While
        ovs-vswitchd runs, waits until it has applied the change."""
        if not self.vswitchd_running():
            return super().vsctl(*args, check=check, timeout=timeout)
        res = self.run(["ovs-vsctl", "--db=unix:" + self.db_sock,
                        "--timeout=%d" % timeout] + list(args),
                       check=check, timeout=timeout + 2)
        return res.stdout.strip() if check else res

    # ---- the tutorial's host ---------------------------------------------

    def check_upstream_pidfile(self, timeout=5):
        """Waits until HOSTDIR/ovs-monitor-ipsec.pid (which ovs-vswitchd
        checks before it accepts IPsec options) is locked by the running
        monitor; ovsec-monitor links it to its own pidfile itself."""
        link = self.path(UPSTREAM_MONITOR_PIDFILE)

        def ok():
            return (self.monitor is not None and self.monitor.alive()
                    and labmod.pidfile_locked(link))
        try:
            labmod.poll(ok, timeout, "%s to be locked" % link)
        except labmod.LabError:
            raise labmod.LabError(
                "%s: %s is missing or not locked by ovsec-monitor (%s): "
                "ovs-vswitchd would refuse IPsec tunnels"
                % (self.name, link, os.listdir(self.dir))) from None

    def add_bridge(self, bridge=BRIDGE, ipv6_overlay=False):
        """Creates 'bridge' (start ovs-vswitchd first) with this host's
        overlay address 192.0.0.N/24 (and fd01::N/64), up."""
        self.vsctl("add-br", bridge)
        self.ip("addr", "add", self.overlay(4) + "/24", "dev", bridge)
        if ipv6_overlay:
            self.ip("-6", "addr", "add", self.overlay(6) + "/64", "dev",
                    bridge, "nodad")
        self.ip("link", "set", "dev", bridge, "up")

    def setup_tutorial(self, monitor, *monitor_args, **kwargs):
        """setup_tutorial([self], ...)."""
        setup_tutorial([self], monitor, *monitor_args, **kwargs)

    # ---- tunnels ---------------------------------------------------------

    def set_ipsec_config(self, **other_config):
        """Sets Open_vSwitch other_config keys (certificate, private_key,
        ca_cert, ...); a value of None removes the key."""
        args = []
        for k, v in other_config.items():
            if v is None:
                args += ["--", "remove", "Open_vSwitch", ".", "other_config",
                         k]
            else:
                args += ["--", "set", "Open_vSwitch", ".",
                         "other_config:%s=%s" % (k, _vsctl_quote(v))]
        if args:
            self.vsctl(*args)

    def tunnel_args(self, peer, name="tun", type="geneve", psk=None,
                    local_ip=None, af=4, bridge=BRIDGE, **options):
        """The ovs-vsctl arguments add_tunnel() runs (starting with "--"),
        to combine several changes in one transaction."""
        if type not in TUNNEL_TYPES:
            raise ValueError("tunnel type %r is not one of %s"
                             % (type, ", ".join(TUNNEL_TYPES)))
        remote = peer.underlay(af) if isinstance(peer, labmod.Host) else peer
        opts = {"remote_ip": remote}
        if local_ip is True:
            opts["local_ip"] = self.underlay(af)
        elif local_ip:
            opts["local_ip"] = local_ip
        if psk is not None:
            opts["psk"] = psk
        opts.update(options)
        args = ["--", "add-port", bridge, name, "--", "set", "interface",
                name, "type=" + type]
        args += ["options:%s=%s" % (k, _vsctl_quote(v))
                 for k, v in opts.items() if v is not None]
        return args

    def add_tunnel(self, peer, name="tun", type="geneve", psk=None,
                   local_ip=None, af=4, bridge=BRIDGE, **options):
        """Adds tunnel port 'name' of 'type' to 'bridge', to 'peer' (a
        KernelHost, whose underlay address of 'af' becomes remote_ip, or an
        address).  'local_ip': None leaves the option unset, True sets this
        host's underlay address of 'af', a string sets that.  'psk' and
        'options' (remote_cert, remote_name, ...; None skips one) become
        interface options.  Returns once ovs-vswitchd has applied it."""
        self.vsctl(*self.tunnel_args(peer, name, type, psk, local_ip, af,
                                     bridge, **options))

    def set_tunnel_options(self, name="tun", **options):
        """Changes interface options of tunnel 'name' (e.g. psk=...) in
        one transaction."""
        self.vsctl("set", "interface", name,
                   *["options:%s=%s" % (k, _vsctl_quote(v))
                     for k, v in options.items()])

    def del_tunnel(self, name="tun", bridge=BRIDGE):
        """Removes port 'name' from 'bridge' if it exists."""
        self.vsctl("--if-exists", "del-port", bridge, name)

    # ---- pings -----------------------------------------------------------

    def ping_once(self, dst, wait=1):
        """True if one ICMP echo to 'dst' is answered within 'wait' s."""
        res = self.run(["ping", "-n", "-q", "-c", "1", "-W", str(wait),
                        dst], check=False, timeout=wait + 5)
        return res.returncode == 0

    def ping_count(self, dst, count=5, interval=0.1):
        """Sends 'count' echoes to 'dst'; returns how many were
        answered."""
        res = self.run(["ping", "-n", "-q", "-c", str(count), "-i",
                        str(interval), "-W", "2", dst], check=False,
                       timeout=count * interval + 15)
        m = re.search(r"(\d+) received", res.stdout)
        if not m:
            raise labmod.LabError("unexpected ping output:\n" + res.stdout
                                  + res.stderr)
        return int(m.group(1))

    # ---- ovsec-monitor's and the kernel's view ---------------------------

    def tunnel_show(self, name="tun"):
        """tunnels/show of this host's monitor, parsed for tunnel 'name'
        (a TunnelShow; state None if the monitor does not list it)."""
        return TunnelShow.parse(self.appctl("ovsec-monitor", "tunnels/show"),
                                name)

    def tunnel_json(self, name="tun"):
        """The tunnels/show --json entry of 'name', or None."""
        for t in json.loads(self.appctl("ovsec-monitor", "tunnels/show",
                                        "--json")):
            if t["name"] == name:
                return t
        return None

    def xfrm_between(self, peer, af=4, acquires=False):
        """(states, policies): the blocks of "ip xfrm state" and "ip xfrm
        policy" in this host that mention the underlay address of 'peer'
        (a KernelHost or an address; 'af' None: either of a KernelHost's
        addresses), each block one string (charon's socket policies name
        no address and never match).  Unless 'acquires', states exclude
        the kernel's larval acquire states (SPI 0, no keys: placeholders
        the kernel creates when a packet meets a policy without an SA,
        which expire after net.core.xfrm_acq_expires seconds)."""
        if isinstance(peer, labmod.Host):
            addrs = ([peer.ipv4, peer.ipv6] if af is None
                     else [peer.underlay(af)])
        else:
            addrs = [peer]
        word = re.compile("|".join(r"(?<![0-9a-fA-F:.])%s(?![0-9a-fA-F:])"
                                   % re.escape(a) for a in addrs))

        def blocks(text):
            out = []
            for line in text.splitlines():
                if line.startswith("src "):
                    out.append(line)
                elif out:
                    out[-1] += "\n" + line
            return [b for b in out if word.search(b)]
        states = blocks(self.ip("xfrm", "state"))
        if not acquires:
            states = [b for b in states if not is_acquire_state(b)]
        policies = blocks(self.ip("xfrm", "policy"))
        return states, policies

    def capture_underlay(self, name="underlay", iface=None):
        """Starts an UnderlayCapture on 'iface' (default eth0)."""
        return UnderlayCapture(self, name, iface)


def is_acquire_state(block):
    """True if 'block' (one state of "ip xfrm state") is a larval acquire
    state: SPI 0 and no keys."""
    return (re.search(r"\bspi 0x0+\b", block) is not None
            and not re.search(r"^\s*(aead|enc|auth|auth-trunc|comp) ",
                              block, re.M))


class KernelLab(labmod.Lab):
    """A lab whose hosts are KernelHosts."""

    host_class = KernelHost


def setup_tutorial(hosts, monitor, *monitor_args, ipv6_overlay=False,
                   bridge=BRIDGE, monitor_env=None,
                   charon_extra=CHARON_EXTRA):
    """Sets up every host of 'hosts' as the tutorial's host: ovsdb-server,
    charon (with 'charon_extra' inside strongswan.conf's charon section),
    ovsec-monitor ('monitor' binary, with 'monitor_args'), ovs-vswitchd
    and 'bridge' (None: no bridge) with 192.0.0.N/24 (and fd01::N/64 if
    'ipv6_overlay').  Works phase by phase over all hosts, so that the wait for a safe
    uptime before ovs-vswitchd overlaps with the other daemons' start.
    Checks that ovs-vswitchd will accept IPsec options (the monitor holds
    ovs-monitor-ipsec.pid)."""
    if isinstance(hosts, labmod.Host):
        hosts = [hosts]
    for host in hosts:
        host.start_ovsdb_server()
        host.start_charon(extra=charon_extra)
        if charon_extra is CHARON_EXTRA:
            acq = host.run(["sysctl", "-n", "net.core.xfrm_acq_expires"])
            if acq.stdout.strip() != str(ACQ_EXPIRES):
                raise labmod.LabError(
                    "%s: charon left net.core.xfrm_acq_expires at %s, not "
                    "%d" % (host.name, acq.stdout.strip(), ACQ_EXPIRES))
        # Before ovs-vswitchd: it accepts IPsec options only on tunnels
        # whose monitor is running, and looks for it once.
        host.start_ovsec_monitor(monitor, *monitor_args, env=monitor_env)
    for host in hosts:
        host.check_upstream_pidfile()
        host.start_vswitchd()
        if bridge:
            host.add_bridge(bridge, ipv6_overlay)


# ---- IKE daemons ----------------------------------------------------------

# What the scenarios run with: the 'ike' fixture (conftest.py) is one
# driver per name, Strongswan below or ulibreswan.Libreswan.
IKE_DAEMONS = ("strongswan", "libreswan")

# "tun: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r"
_IKE_SA_RE = re.compile(r"^(\S+): #(\d+), (\S+), IKEv\d, "
                        r"([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r\*?$")
# "  tun-out: #2, reqid 1, INSTALLED, TRANSPORT, ESP:AES_GCM_16-256/..."
_CHILD_SA_RE = re.compile(r"^  (\S+): #(\d+), reqid \d+, (\S+), ")
# "    in  c1a2b3c4,      0 bytes, ..." / "    out c4b3a2c1, ..."
_CHILD_SPI_RE = re.compile(r"^    (in|out) +([0-9a-f]{8})\b")


class Strongswan:
    """The IKE daemon interface the scenarios use, for strongSwan's charon
    (started by lab.Host.start_charon()).  ulibreswan.Libreswan has the
    same methods for pluto:

        name, daemon_name      "strongswan", "charon"
        setup(hosts, monitor, *monitor_args, ipv6_overlay=False,
              bridge=BRIDGE, reconcile_interval=None)
                               setup_tutorial() with this daemon
        daemon(host)           its lab.Daemon on 'host'
        stop/kill/start/restart(host)
        tunnel_up(host, name, type, show)
                               does the TunnelShow 'show' have the daemon's
                               SAs of tunnel 'name' up?
        holds(host, name)      does the daemon hold the tunnel's
                               connections (and so its trap policies)?
        sa_ids(host)           what identifies the daemon's established
                               IKE and child SAs (sorted list): equal
                               before and after an event means nothing
                               was renegotiated
        assert_cert_auth(host, peer, show)
                               the tunnel's IKE SA is authenticated by the
                               certificates named 'host' and 'peer'
    """

    name = "strongswan"
    daemon_name = "charon"
    UP_WHAT = "an INSTALLED child SA"

    def setup(self, hosts, monitor, *monitor_args, ipv6_overlay=False,
              bridge=BRIDGE, reconcile_interval=None):
        args = list(monitor_args)
        if reconcile_interval is not None:
            args.append("--reconcile-interval=%d" % reconcile_interval)
        for h in hosts:
            h.ike = self
        setup_tutorial(hosts, monitor, *args, ipv6_overlay=ipv6_overlay,
                       bridge=bridge)

    def daemon(self, host):
        return host.charon_daemon

    def stop(self, host):
        return self.daemon(host).stop()

    def kill(self, host):
        self.daemon(host).kill()

    def start(self, host):
        return self.daemon(host).start()

    def restart(self, host):
        self.daemon(host).restart()

    def tunnel_up(self, host, name, type, show):
        return bool(show.children)

    def holds(self, host, name):
        return name in um.charon_conns(host)

    def sa_ids(self, host):
        """From swanctl --list-sas: a sorted list of ("IKE", conn,
        uniqueid, state, spi_i, spi_r) and ("CHILD", child, uniqueid,
        state, spi_in, spi_out) tuples."""
        text = host.swanctl("--list-sas")
        ike, children = [], []
        for line in text.splitlines():
            m = _IKE_SA_RE.match(line)
            if m:
                ike.append(("IKE",) + m.groups())
                continue
            m = _CHILD_SA_RE.match(line)
            if m:
                children.append(["CHILD"] + list(m.groups()) + [None, None])
                continue
            m = _CHILD_SPI_RE.match(line)
            if m and children:
                children[-1][4 if m.group(1) == "in" else 5] = m.group(2)
        for c in children:
            assert c[4] and c[5], ("%s: no SPIs for CHILD_SA %s in swanctl "
                                   "--list-sas:\n%s" % (host.name, c[1], text))
        return sorted(ike + [tuple(c) for c in children])

    def assert_cert_auth(self, host, peer, show):
        # The IKE SA's identities are the CNs (a PSK tunnel would show
        # the addresses): "  tun[3]: ESTABLISHED, 192.0.2.1[left]...
        # 192.0.2.2[right]".
        ids = []
        for line in show.active:
            m = re.match(r"^ +\S+\[\d+\]: ESTABLISHED, \S+?\[(.*)\]\.\.\."
                         r"\S+?\[(.*)\]$", line)
            if m:
                ids.append((m.group(1), m.group(2)))
        assert (host.name, peer.name) in ids, show.text


STRONGSWAN = Strongswan()


def connect(a, b, name="tun", type="geneve", psk=None, local_ip=None, af=4,
            options=(None, None)):
    """Adds tunnel 'name' on host a (to b), then at once on b (to a), as
    in the tutorial.  'options' is a pair of dicts of further interface
    options for a and for b (they may override psk and local_ip too).
    Returns the monotonic time just before the
    first add-port."""
    kwargs = []
    for extra in options:
        kw = {"name": name, "type": type, "psk": psk, "local_ip": local_ip,
              "af": af}
        kw.update(extra or {})
        kwargs.append(kw)
    t0 = time.monotonic()
    a.add_tunnel(b, **kwargs[0])
    b.add_tunnel(a, **kwargs[1])
    return t0


def disconnect(hosts, name="tun"):
    """Removes tunnel 'name' from every host."""
    for host in hosts:
        host.del_tunnel(name)


# ---- waiting for the tunnel -------------------------------------------------

def _diagnosis(hosts, name):
    """What the hosts say about tunnel 'name', for failure messages."""
    parts = []
    for h in hosts:
        try:
            show = h.tunnel_show(name).text
        except labmod.LabError as e:
            show = "(tunnels/show failed: %s)" % e
        try:
            sas = h.ip("xfrm", "state")
        except labmod.LabError as e:
            sas = "(%s)" % e
        parts.append("--- %s: tunnels/show %s ---\n%s\n--- %s: ip xfrm "
                     "state ---\n%s" % (h.name, name, show, h.name, sas))
    return "\n".join(parts)


def wait_ping(a, b, af=4, since=None, timeout=FIRST_PING_TIMEOUT,
              name="tun"):
    """Waits until a ping over br-ipsec from a to b is answered, then one
    from b to a (one deadline for both).  Returns the seconds from 'since'
    (a time.monotonic() value; default: the call) to the second success.
    Raises AssertionError with both hosts' tunnels/show of 'name' if the
    deadline passes."""
    start = time.monotonic()
    if since is None:
        since = start
    deadline = start + timeout
    for src, dst in ((a, b), (b, a)):
        while not src.ping_once(dst.overlay(af)):
            if time.monotonic() >= deadline:
                raise AssertionError(
                    "no ping over %s from %s to %s within %d s\n%s"
                    % (BRIDGE, src.name, dst.overlay(af), timeout,
                       _diagnosis((a, b), name)))
            time.sleep(0.05)
    return time.monotonic() - since


def assert_ping(a, b, af=4, count=5):
    """Sends 'count' pings over br-ipsec each way; all must be
    answered."""
    for src, dst in ((a, b), (b, a)):
        got = src.ping_count(dst.overlay(af), count)
        assert got == count, ("%s -> %s over %s: %d of %d pings answered"
                              % (src.name, dst.overlay(af), BRIDGE, got,
                                 count))


_LOG_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\|")


def configured_at(host, name, version):
    """Wall-clock time (time.time() scale) of the host's ovsec-monitor log
    line saying tunnel 'name' version 'version' is configured in the IKE
    daemon (logged once charon has answered the load, i.e. after its
    trap policies are in place), or None if there is no such line."""
    suffix = "|%s: configured in the IKE daemon (v%d)" % (name, version)
    found = None
    try:
        with open(host.path("ovsec-monitor.log"), errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = _LOG_STAMP.match(line)
                if m and line.endswith(suffix):
                    found = m.group(1)
    except OSError:
        return None
    if found is None:
        return None
    stamp = datetime.datetime.strptime(found, "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def wait_loaded(hosts, name="tun", timeout=APPLY_TIMEOUT, min_version=None):
    """Waits until tunnels/show --json says 'name' is CONFIGURED (its
    connections loaded into charon) on every host, with a version of at
    least min_version[host] if given (a dict).  Returns the wall-clock
    time (time.time() scale) at which the last host got there: from that
    moment on no plaintext tunnel packet may cross the underlay.  That is
    the time of the monitors' "configured in the IKE daemon" log lines,
    so it is exact even when called late (after a first ping); if a log
    line is missing, the time the poll saw it."""
    versions = {}

    def ok():
        for h in hosts:
            t = h.tunnel_json(name)
            if t is None or t["state"] != "CONFIGURED":
                return False
            if min_version and t["version"] < min_version.get(h, 0):
                return False
            versions[h] = t["version"]
        return True
    try:
        labmod.poll(ok, timeout, "%s CONFIGURED" % name, interval=0.05)
    except labmod.LabError:
        raise AssertionError("%s not CONFIGURED on every host within %d s\n%s"
                             % (name, timeout, _diagnosis(hosts, name))) \
            from None
    seen = time.time()
    stamps = [configured_at(h, name, versions[h]) for h in hosts]
    if None in stamps:
        return seen
    return max(stamps)


class TunnelShow:
    """One tunnel's section of tunnels/show.

    state     "CONFIGURED", "PENDING", "INVALID", "FAILED", or None when
              the tunnel is not listed
    version   its version (int) or None
    reason    the Reason: field or None
    policies  lines under "Kernel policies installed:"
    sas       lines under "Kernel security associations installed:",
              except larval acquire states (SPI 0), which are in
              'acquires'
    active    lines under "IPsec connections that are active:" (IKE SAs
              "  NAME[ID]: STATE, ..." and INSTALLED children
              "  CHILD{ID}: INSTALLED, ...")
    children  the INSTALLED child lines of 'active'
    text      the section's text (all of tunnels/show if not listed)
    """

    _HEADER = re.compile(r"^Interface name: (\S+) v(\d+) \((\w+)\)$")
    _SECTIONS = {"Kernel policies installed:": "policies",
                 "Kernel security associations installed:": "sas",
                 "IPsec connections that are active:": "active"}

    def __init__(self):
        self.state = None
        self.version = None
        self.reason = None
        self.policies = []
        self.sas = []
        self.acquires = []
        self.active = []
        self.text = ""

    @property
    def children(self):
        return [a for a in self.active
                if re.match(r"^ +\S+\{\d+\}: INSTALLED,", a)]

    def sa_between(self, src, dst):
        """Kernel SA lines from 'src' to 'dst'."""
        return [s for s in self.sas
                if re.search(r"\bsrc %s dst %s " % (re.escape(src),
                                                    re.escape(dst)), s)]

    @classmethod
    def parse(cls, text, name):
        t = cls()
        lines = []
        inside = False
        section = None
        for line in text.splitlines():
            m = cls._HEADER.match(line)
            if m:
                inside = m.group(1) == name
                if inside:
                    t.version = int(m.group(2))
                    t.state = m.group(3)
            if not inside:
                continue
            lines.append(line)
            if line in cls._SECTIONS:
                section = cls._SECTIONS[line]
            elif section and line.startswith(" "):
                getattr(t, section).append(line)
            elif not line.startswith(" "):
                section = None
            else:
                m = re.match(r"^\s*Reason:\s*(.*)$", line)
                if m and section is None:
                    t.reason = m.group(1)
        t.acquires = [a for a in t.sas if re.search(r"\bspi 0x0+\b", a)]
        t.sas = [a for a in t.sas if a not in t.acquires]
        t.text = "\n".join(lines) if lines else text
        return t


def wait_tunnel_up(host, name="tun", af=4, peer=None, timeout=SHOW_TIMEOUT):
    """Waits until the host's tunnels/show reports 'name' CONFIGURED with
    its IKE daemon's SAs up (host.ike.tunnel_up(): an INSTALLED child SA
    for charon, an established ESP SA on every connection for pluto) and
    kernel SAs both ways between the tunnel's endpoints ('peer': the other
    KernelHost, or its address; default: the tunnel's remote_ip).  Returns
    the TunnelShow; raises AssertionError with the whole section if the
    deadline passes."""
    last = [None]

    def ok():
        t = host.tunnel_show(name)
        last[0] = t
        if t.state != "CONFIGURED":
            return False
        js = host.tunnel_json(name) or {}
        if not host.ike.tunnel_up(host, name, js.get("type"), t):
            return False
        remote = (peer.underlay(af) if isinstance(peer, labmod.Host)
                  else peer or js.get("remote_ip"))
        local = js.get("local_ip") or host.underlay(af)
        return (remote and t.sa_between(local, remote)
                and t.sa_between(remote, local)) and t
    try:
        return labmod.poll(ok, timeout, "tunnels/show", interval=0.2)
    except labmod.LabError:
        raise AssertionError(
            "%s: tunnels/show does not report %s CONFIGURED with %s and "
            "kernel SAs both ways within %d s:\n%s"
            % (host.name, name, host.ike.UP_WHAT, timeout,
               last[0].text if last[0] else "(nothing)")) from None


# ---- underlay captures ------------------------------------------------------

UnderlayTraffic = collections.namedtuple("UnderlayTraffic", "esp plaintext")
UnderlayTraffic.__doc__ = """\
Packets of an UnderlayCapture, as tcpdump text lines starting with their
wall-clock time: 'esp' (ESP, fragments included) and 'plaintext' (Geneve,
VXLAN or GRE outside ESP)."""


class UnderlayCapture:
    """tcpdump on one of a host's veths (eth0 by default) keeping ESP and
    plaintext tunnel packets, into HOSTDIR/NAME.pcap.  Capture on one host
    only: each packet also crosses the switch namespace's bridge."""

    def __init__(self, host, name="underlay", iface=None):
        self.host = host
        self.name = name
        self.started = time.time()
        self.capture = host.capture(name, UNDERLAY_FILTER, iface)
        self.stopped = False

    def _read(self, bpf, since):
        res = labmod._run(["tcpdump", "-n", "-tt", "-r", self.capture.pcap,
                           bpf], check=False)
        out = []
        for line in res.stdout.splitlines():
            try:
                stamp = float(line.split(None, 1)[0])
            except (ValueError, IndexError):
                continue
            if since is None or stamp >= since:
                out.append(line)
        return out

    def traffic(self, since=None):
        """UnderlayTraffic captured so far, only packets at or after
        wall-clock time 'since' (time.time()) if given."""
        return UnderlayTraffic(self._read("esp", since),
                               self._read("not esp", since))

    def stop(self):
        """Stops tcpdump (idempotent); returns traffic()."""
        if not self.stopped:
            self.stopped = True
            self.capture.daemon.stop(signum=signal.SIGINT)
        return self.traffic()


def assert_no_plaintext(traffic, what="after the connections were loaded"):
    """Fails if 'traffic' (UnderlayTraffic) holds plaintext tunnel
    packets."""
    assert not traffic.plaintext, (
        "%d plaintext tunnel packets on the underlay %s:\n%s"
        % (len(traffic.plaintext), what,
           "\n".join(traffic.plaintext[:20])))


def bench(report, name, duration, first_ping, ike=None):
    """Prints (through the 'report' fixture) the line the closing note
    collects: "BENCH: NAME (IKE): scenario D s, add-port to first ping P
    s", IKE the name of the IKE daemon driver 'ike' (default
    strongswan)."""
    report("BENCH: %s (%s): scenario %.2f s, add-port to first ping %.2f s"
           % (name, (ike or STRONGSWAN).name, duration, first_ping))
