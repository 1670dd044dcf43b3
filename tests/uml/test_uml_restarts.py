# SPDX-License-Identifier: Apache-2.0
"""Restarts under traffic, and a four-host mesh, on a real kernel.

Run inside the user-mode Linux guest (one boot for both scenarios):
    tests/uml/run-uml.sh --settle 0 -- /usr/bin/python3 -m pytest \
        tests/uml/test_uml_restarts.py

1. test_restarts_under_traffic: the tutorial's PSK Geneve tunnel between
   left and right, with a ping running each way across br-ipsec the whole
   time ("ping -D -i 0.2": every reply timestamped).  In turn: charon
   restarts on left, ovsdb-server restarts on right, ovsec-monitor restarts
   on left (SIGTERM, start), ovsec-monitor on right exits with "exit
   --no-cleanup" and starts again, and finally charon restarts on left
   once more with ipsec_skb_mark=0/1.  After each, traffic must recover
   by itself within RECOVERY_TIMEOUT; the outage (the longest gap between
   two consecutive replies around the event) is printed.  Only the charon
   restarts may renegotiate (and must: all ESP SAs are new): across the
   other three, the ESP SAs in both kernels (ip xfrm state) and the IKE
   and CHILD SAs in both charons (swanctl --list-sas: unique ids and
   SPIs) stay exactly the same, and no echo is lost.  Plaintext on the
   underlay is excused only from left while its charon is down during the
   first charon restart (the tutorial sets no ipsec_skb_mark, so nothing
   blocks Geneve then); with ipsec_skb_mark=0/1 there must be none.

2. test_mesh_of_four: hosts h1..h4, every pair joined by a PSK Geneve
   tunnel (one PSK per pair).  A full mesh of L2 tunnels on one bridge is
   a loop (a bridge floods broadcasts out of every tunnel, and each peer
   floods them on to the others), so each host has one bridge per peer,
   br<I><J>, holding only the tunnel to that peer and the host's address
   10.0.<I><J>.<N>/24 in that pair's own subnet: each pair is its own
   two-port L2 segment, loop-free by construction, with no spanning tree
   (whose port blocking would route some pairs through a third host, and
   whose timers would dominate convergence) and no OpenFlow tables to
   keep split-horizon by hand.  Every pair must ping both ways; the
   convergence time from the last add-port until all pairs ping is
   printed, and so is the memory the four hosts' daemons use.

Both run once with each IKE daemon (the 'ike' fixture): with Libreswan,
"charon" above means pluto, and the IKE and child SAs compared across
the other restarts are pluto's state serials (ipsec whack --status).

Both assert, for every tunnel, what every real-kernel scenario asserts:
ping across the overlay both ways, ESP on the underlay, no plaintext
tunnel packet on the underlay once both ends have the tunnel's
connections loaded (counted on one veth per pair), and tunnels/show
reporting the tunnel CONFIGURED with an INSTALLED child and kernel SAs
both ways.  Timings are printed with a "BENCH:" prefix.
"""

import os
import re
import time

import lab as labmod
import ukernel
import util_monitor as um

# Seconds.  A restarted charon holds nothing: its monitor reloads the
# tunnel, and both ends initiate their outbound children again (the
# peer's after RETRY_MIN_MS); about 2 to 5 s in the guest.
RECOVERY_TIMEOUT = 30
APPLY_TIMEOUT = ukernel.APPLY_TIMEOUT
# The monitor's reconcile interval in scenario 1: short, so that a
# restarted monitor that would renegotiate on its first reconcile does so
# within the observation window.
RECONCILE_INTERVAL = 2
# Replies each ping stream must have had after an event before the
# outage is measured.
REPLIES_AFTER = 5
PING_INTERVAL = 0.2
# Longest gap between two replies that still counts as "no echo lost"
# (one interval, plus scheduling slack on a shared single-CPU guest).
NO_LOSS_GAP = 2.0

MESH_HOSTS = 4
# Minimum MemAvailable left in the guest with the mesh converged.
MESH_MIN_AVAILABLE_MB = 128
# Besides the IKE daemon (charon or pluto).
DAEMONS = ("ovsdb-server", "ovsec-monitor", "ovs-vswitchd")


# ---- continuous pings --------------------------------------------------

_REPLY_RE = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from \S+: icmp_seq=(\d+) ")


class PingStream:
    """"ping -n -D -i 0.2 DST" running in host 'src' until stopped; each
    reply is logged with its wall-clock arrival time (time.time()
    scale).  Stopped by the lab's teardown at the latest."""

    def __init__(self, src, dst, tag):
        self.src = src
        self.dst = dst
        self.what = "%s -> %s" % (src.name, dst)
        self.daemon = src.add_daemon(
            "ping-" + tag, ["ping", "-n", "-D", "-i", str(PING_INTERVAL),
                            dst])
        self.daemon.start()

    def replies(self):
        """[(arrival time, icmp_seq)] of the replies so far, in order."""
        out = []
        for line in um.read_file(self.daemon.out).splitlines():
            m = _REPLY_RE.match(line)
            if m:
                out.append((float(m.group(1)), int(m.group(2))))
        return out

    def replies_after(self, when):
        return [r for r in self.replies() if r[0] > when]

    def outage(self, start, end):
        """(longest gap between consecutive replies, echoes lost) from the
        last reply at or before 'start' to the last reply at or before
        'end'."""
        replies = self.replies()
        before = [i for i, r in enumerate(replies) if r[0] <= start]
        first = before[-1] if before else 0
        window = [r for r in replies[first:] if r[0] <= end]
        if len(window) < 2:
            return float("inf"), None
        gap = max(b[0] - a[0] for a, b in zip(window, window[1:]))
        seqs = {r[1] for r in window}
        lost = window[-1][1] - window[0][1] + 1 - len(seqs)
        return gap, lost

    def stop(self):
        self.daemon.stop()


# ---- SAs -----------------------------------------------------------------

_XFRM_SPI_RE = re.compile(r"^\s+proto esp spi (0x[0-9a-f]+)", re.M)


def kernel_esp_sas(host, peer):
    """The ESP SAs between 'host' and 'peer' in host's kernel: a sorted
    list of (src, dst, spi)."""
    states, _ = host.xfrm_between(peer)
    out = []
    for block in states:
        words = block.split()
        m = _XFRM_SPI_RE.search(block)
        if m and words[:1] == ["src"] and words[2:3] == ["dst"]:
            out.append((words[1], words[3], m.group(1)))
    return sorted(out)


def sa_snapshot(a, b):
    """Every SA identity of the tunnel between 'a' and 'b', both hosts'
    kernels and IKE daemons (charon's unique ids and SPIs, pluto's
    serials)."""
    return {"%s kernel" % a.name: kernel_esp_sas(a, b),
            "%s kernel" % b.name: kernel_esp_sas(b, a),
            "%s %s" % (a.name, a.ike.daemon_name): a.ike.sa_ids(a),
            "%s %s" % (b.name, b.ike.daemon_name): b.ike.sa_ids(b)}


def assert_sa_snapshot(before, after, what):
    for key in before:
        assert before[key], "%s: no SA before %s" % (key, what)
        assert after[key] == before[key], (
            "%s renegotiated SAs (%s):\nbefore: %s\nafter:  %s"
            % (what, key, before[key], after[key]))


# ---- underlay traffic between two hosts ---------------------------------

def _from(lines, src, dst):
    """The tcpdump lines of packets from underlay address 'src' to 'dst'
    (each address may carry a port)."""
    rx = re.compile(r" %s(?:\.\d+)? > %s(?:\.\d+)?:"
                    % (re.escape(src), re.escape(dst)))
    return [line for line in lines if rx.search(line)]


def _between(lines, a, b):
    """The tcpdump lines of packets between underlay addresses a and b,
    either way."""
    return [line for line in lines
            if _from([line], a, b) or _from([line], b, a)]


def pair_traffic(traffic, a, b):
    """ukernel.UnderlayTraffic restricted to packets between hosts a and
    b."""
    return ukernel.UnderlayTraffic(
        _between(traffic.esp, a.underlay(), b.underlay()),
        _between(traffic.plaintext, a.underlay(), b.underlay()))


def diagnosis(tunnels):
    """What the hosts say about their tunnels, for failure messages:
    'tunnels' is a list of (host, tunnel name)."""
    parts = []
    for h, name in tunnels:
        try:
            show = h.tunnel_show(name).text
            sas = h.ip("xfrm", "state")
        except labmod.LabError as e:
            show, sas = "(%s)" % e, ""
        parts.append("--- %s: tunnels/show %s ---\n%s\n--- %s: ip xfrm "
                     "state ---\n%s" % (h.name, name, show, h.name, sas))
    return "\n".join(parts)


def _stamp(line):
    return float(line.split(None, 1)[0])


# ---- 1. restarts under traffic ------------------------------------------

def test_restarts_under_traffic(left, right, ovsec_monitor_binary, report,
                                ike):
    t_begin = time.monotonic()
    hosts = (left, right)
    ike.setup(list(hosts), ovsec_monitor_binary,
              reconcile_interval=RECONCILE_INTERVAL)
    daemon = ike.daemon_name
    cap = left.capture_underlay("underlay")

    psk = "restarts-" + os.urandom(8).hex()
    t0 = ukernel.connect(left, right, psk=psk)
    first_ping = ukernel.wait_ping(left, right, since=t0)
    loaded_at = ukernel.wait_loaded(hosts)
    for h in hosts:
        ukernel.wait_tunnel_up(h)

    streams = [PingStream(left, right.overlay(), "lr"),
               PingStream(right, left.overlay(), "rl")]
    labmod.poll(lambda: all(len(s.replies()) >= REPLIES_AFTER
                            for s in streams), RECOVERY_TIMEOUT,
                "the continuous pings to be answered")

    # Plaintext is excused only while left's charon is down and has not
    # been given the tunnel again: then left has no IPsec policy at all
    # (charon removes its trap policies on shutdown), and without
    # ipsec_skb_mark drop policies (not part of the tutorial) nothing
    # stops Geneve from leaving in the clear.
    excused = []

    def event(name, action, same_sas):
        """Runs 'action' under traffic, waits for both ping streams to
        recover, and checks the tunnel.  With 'same_sas', no SA may
        change and no echo may be lost."""
        before = sa_snapshot(left, right) if same_sas else None
        t_start = time.time()
        mono = time.monotonic()
        action()
        t_done = time.time()
        action_s = time.monotonic() - mono
        try:
            labmod.poll(lambda: all(len(s.replies_after(t_done))
                                    >= REPLIES_AFTER for s in streams),
                        RECOVERY_TIMEOUT, "traffic to recover")
        except labmod.LabError:
            raise AssertionError(
                "%s: traffic across br-ipsec did not recover within %d s "
                "(replies after the event: %s)\n%s"
                % (name, RECOVERY_TIMEOUT,
                   ", ".join("%s %d" % (s.what, len(s.replies_after(t_done)))
                             for s in streams),
                   diagnosis([(left, "tun"), (right, "tun")]))) from None
        recovered = time.time()
        outages = [s.outage(t_start, recovered) for s in streams]
        gap = max(o[0] for o in outages)
        lost = sum(o[1] or 0 for o in outages)
        for h in hosts:
            ukernel.wait_tunnel_up(h)
        if same_sas:
            # Past the restarted monitor's first reconcile.
            time.sleep(RECONCILE_INTERVAL + 0.5)
            assert_sa_snapshot(before, sa_snapshot(left, right), name)
            assert gap <= NO_LOSS_GAP and lost == 0, (
                "%s: traffic interrupted although no SA changed: longest "
                "gap %.2f s, %d echoes lost" % (name, gap, lost))
        esp = cap.traffic(since=t_done).esp
        assert esp, "%s: no ESP on the underlay after the event" % name
        report("BENCH: restarts (%s): %s: outage %.2f s (longest gap between "
               "replies, both directions), %d echoes lost; the restart "
               "took %.2f s" % (ike.name, name, gap, lost, action_s))

    # -- charon on left: SAs are torn down and negotiated anew.
    def restart_charon(excuse):
        stopped = time.time()
        ike.restart(left)
        # The window of excused plaintext ends when left's IKE daemon
        # holds the tunnel's connections again (and so its policies).
        labmod.poll(lambda: ike.holds(left, "tun"), APPLY_TIMEOUT,
                    "the monitor to reload tun into the new %s" % daemon)
        if excuse:
            excused.append((stopped, time.time()))

    def charon_event(name, excuse):
        old = sa_snapshot(left, right)
        event(name, lambda: restart_charon(excuse), same_sas=False)
        new = sa_snapshot(left, right)
        for key in ("left kernel", "right kernel"):
            assert new[key] and not set(new[key]) & set(old[key]), (
                "the ESP SAs were not renegotiated after %s's restart "
                "(%s):\nbefore: %s\nafter:  %s" % (daemon, key, old[key],
                                                   new[key]))

    charon_event("%s restart (left)" % daemon, excuse=True)

    # -- ovsdb-server on right: nothing below OVSDB changes.
    def restart_ovsdb():
        log = right.path("ovsec-monitor.log")
        n = um.read_file(log).count("connected, replica in sync")
        right.ovsdb.restart()
        labmod.poll(lambda: um.read_file(log).count(
            "connected, replica in sync") > n, APPLY_TIMEOUT,
            "right's monitor to resync with the new ovsdb-server")
    event("ovsdb-server restart (right)", restart_ovsdb, same_sas=True)

    # -- ovsec-monitor on left: SIGTERM leaves charon and the SAs alone.
    def restart_monitor():
        assert left.monitor.stop() == 0
        left.monitor.start()
        left.check_upstream_pidfile()
        um.wait_tunnel(left, "tun", timeout=APPLY_TIMEOUT)
    event("ovsec-monitor restart (left)", restart_monitor, same_sas=True)

    # -- ovsec-monitor on right: "exit --no-cleanup", then started again.
    def exit_no_cleanup():
        out = right.appctl("ovsec-monitor", "exit", "--no-cleanup")
        assert out.strip() == ""
        assert um.wait_exit(right.monitor) == 0
        right.monitor.start()
        right.check_upstream_pidfile()
        um.wait_tunnel(right, "tun", timeout=APPLY_TIMEOUT)
    event("ovsec-monitor exit --no-cleanup + start (right)",
          exit_no_cleanup, same_sas=True)

    # -- charon on left again, with the drop policies of ipsec_skb_mark:
    # now nothing may leave in plaintext while charon is down.  Tunnel
    # packets carry skb_mark 0 unless OpenFlow rules set one, so "0/1"
    # drops every unencrypted tunnel packet (upstream's IPsec how-to).
    for h in hosts:
        h.set_ipsec_config(ipsec_skb_mark="0/1")

    def drop_policies(h):
        return [p for p in um.xfrm_policies(h)
                if p.action == "block" and p.mark == "0/0x1"
                and "dport 6081" in p.selector]
    labmod.poll(lambda: all(drop_policies(h) for h in hosts),
                APPLY_TIMEOUT, "the monitors to install drop policies")
    charon_event("%s restart (left), ipsec_skb_mark set" % daemon,
                 excuse=False)

    for s in streams:
        s.stop()
    ukernel.assert_ping(left, right)
    traffic = cap.stop()
    assert traffic.esp, "no ESP on the underlay"
    leaked = [p for p in traffic.plaintext if _stamp(p) >= loaded_at]
    during = [p for p in leaked
              if any(a <= _stamp(p) <= b for a, b in excused)]
    # right kept its connection, and so its trap policies, throughout.
    from_right = _from(during, right.underlay(), left.underlay())
    assert not from_right, ("right sent plaintext while left's %s "
                            "restarted:\n%s"
                            % (daemon, "\n".join(from_right[:20])))
    ukernel.assert_no_plaintext(ukernel.UnderlayTraffic(
        traffic.esp, [p for p in leaked if p not in during]),
        "with both ends' connections loaded")
    duration = time.monotonic() - t_begin
    ukernel.bench(report, "restarts", duration, first_ping, ike=ike)
    report("BENCH: restarts (%s): plaintext Geneve from left while its %s "
           "restarted without ipsec_skb_mark: %d packets (none with it); "
           "%d ESP packets on left's veth"
           % (ike.name, daemon, len(during), len(traffic.esp)))


# ---- 2. a mesh of four hosts -----------------------------------------------

def _meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = int(v.split()[0])
    return out


def _pair_name(i, j):
    lo, hi = min(i, j), max(i, j)
    return "%d%d" % (lo, hi)


def mesh_bridge(a, b):
    """a's bridge towards b (the same name on both hosts)."""
    return "br" + _pair_name(a.index, b.index)


def mesh_address(a, b):
    """a's address in its pair's subnet with b."""
    return "10.0.%s.%d" % (_pair_name(a.index, b.index), a.index)


def mesh_tunnel(b):
    """The name of the tunnel towards b (on any host)."""
    return "tun%d" % b.index


def test_mesh_of_four(lab, ovsec_monitor_binary, report, ike):
    t_begin = time.monotonic()
    mem_before = _meminfo()
    hosts = [lab.add_host("h%d" % n, n) for n in range(1, MESH_HOSTS + 1)]
    pairs = [(a, b) for i, a in enumerate(hosts) for b in hosts[i + 1:]]

    # The tutorial's hosts, but one bridge per peer instead of br-ipsec.
    ike.setup(hosts, ovsec_monitor_binary, bridge=None)
    for h in hosts:
        # Few commands: process creation is slow in the guest.
        peers = [p for p in hosts if p is not h]
        h.vsctl(*[w for p in peers
                  for w in ("--", "add-br", mesh_bridge(h, p))])
        h.run(["ip", "-batch", "-"], input="".join(
            "addr add %s/24 dev %s\nlink set dev %s up\n"
            % (mesh_address(h, p), mesh_bridge(h, p), mesh_bridge(h, p))
            for p in peers))
    setup_s = time.monotonic() - t_begin

    # One veth per pair: the lower-numbered end's.
    caps = {h.name: h.capture_underlay("underlay") for h in hosts[:-1]}

    psks = {(a.name, b.name): "mesh-%s-%s" % (_pair_name(a.index, b.index),
                                             os.urandom(8).hex())
            for a, b in pairs}

    def psk(a, b):
        return psks.get((a.name, b.name)) or psks[(b.name, a.name)]

    # Each host's tunnels in one transaction, host after host.
    first_add = time.monotonic()
    last_add = None
    for h in hosts:
        args = []
        for peer in hosts:
            if peer is not h:
                args += h.tunnel_args(peer, mesh_tunnel(peer), "geneve",
                                      psk(h, peer),
                                      bridge=mesh_bridge(h, peer))
        last_add = time.monotonic()
        h.vsctl(*args)
    added = time.monotonic()

    # When each end had its connections loaded (CONFIGURED): at the
    # latest when tunnels/show said so.
    loaded = {}

    def all_loaded():
        for h in hosts:
            tunnels = um.tunnels_json(h)
            seen = time.time()
            for t in tunnels:
                if t["state"] == "CONFIGURED":
                    loaded.setdefault((h.name, t["name"]), seen)
        return len(loaded) == len(hosts) * (len(hosts) - 1)
    try:
        labmod.poll(all_loaded, APPLY_TIMEOUT, "every tunnel CONFIGURED",
                    interval=0.1)
    except labmod.LabError:
        raise AssertionError("tunnels not CONFIGURED within %d s: only %s"
                             % (APPLY_TIMEOUT, sorted(loaded))) from None

    # Every pair, both ways, under one deadline.
    deadline = time.monotonic() + ukernel.FIRST_PING_TIMEOUT
    first_ping = None
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            while not src.ping_once(mesh_address(dst, src)):
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        "no ping from %s to %s within %d s of the last "
                        "add-port\n%s"
                        % (src.name, mesh_address(dst, src),
                           ukernel.FIRST_PING_TIMEOUT,
                           diagnosis([(src, mesh_tunnel(dst)),
                                      (dst, mesh_tunnel(src))])))
                time.sleep(0.05)
            if first_ping is None:
                first_ping = time.monotonic() - first_add
    converged = time.monotonic()

    # Steady state: every pair carries its pings as ESP.
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            got = src.ping_count(mesh_address(dst, src), 3)
            assert got == 3, ("%s -> %s: %d of 3 pings answered"
                              % (src.name, dst.name, got))
    for a, b in pairs:
        ukernel.wait_tunnel_up(a, mesh_tunnel(b), peer=b)
        ukernel.wait_tunnel_up(b, mesh_tunnel(a), peer=a)

    # Memory, with everything converged.
    mem_after = _meminfo()
    rss = {name: 0 for name in DAEMONS + (ike.daemon_name,)}
    for h in hosts:
        for d in h.daemons:
            if d.name in rss:
                assert d.alive(), "%s on %s is not running" % (d.name,
                                                              h.name)
                rss[d.name] += um.rss_kib(d.pid)

    for a, b in pairs:
        traffic = pair_traffic(caps[a.name].traffic(), a, b)
        assert traffic.esp, "no ESP between %s and %s" % (a.name, b.name)
        both = max(loaded[(a.name, mesh_tunnel(b))],
                   loaded[(b.name, mesh_tunnel(a))])
        ukernel.assert_no_plaintext(ukernel.UnderlayTraffic(
            traffic.esp, [p for p in traffic.plaintext
                          if _stamp(p) >= both]),
            "between %s and %s once both had the tunnel loaded"
            % (a.name, b.name))
    plaintext = sum(len(pair_traffic(caps[a.name].traffic(), a,
                                     b).plaintext) for a, b in pairs)
    for cap in caps.values():
        cap.stop()

    duration = time.monotonic() - t_begin
    ukernel.bench(report, "mesh of four", duration, first_ping, ike=ike)
    report("BENCH: mesh of four (%s): %d tunnels; daemons up in %.2f s; "
           "add-ports took %.2f s; last add-port to all %d pairs pinging "
           "both ways %.2f s (first add-port: %.2f s); plaintext before "
           "both ends were loaded: %d packets"
           % (ike.name, len(pairs) * 2, setup_s, added - first_add, len(pairs),
              converged - last_add, converged - first_add, plaintext))
    total = sum(rss.values())
    report("BENCH: mesh of four (%s): memory: RSS of the %d hosts' daemons "
           "%.1f MiB (%s); guest MemAvailable %d -> %d MiB of %d MiB"
           % (ike.name, len(hosts), total / 1024.0,
              ", ".join("%s %.1f" % (k, v / 1024.0) for k, v in rss.items()),
              mem_before["MemAvailable"] // 1024,
              mem_after["MemAvailable"] // 1024,
              mem_after["MemTotal"] // 1024))
    assert mem_after["MemAvailable"] // 1024 >= MESH_MIN_AVAILABLE_MB, (
        "the mesh leaves only %d MiB available"
        % (mem_after["MemAvailable"] // 1024))
