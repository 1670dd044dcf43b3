# SPDX-License-Identifier: Apache-2.0
"""Real-kernel scenarios: certificate authentication and ipsec_skb_mark.

1. Certificates, for each tunnel type (geneve, vxlan, gre) over IPv4, made
   with ovsec-pki as the tutorial makes them (doc/pki-walkthrough.md):
   - self-signed: each host makes its own key and certificate ("req -u",
     "self-sign"), points other_config:certificate/private_key at them and
     pins the peer's certificate with options:remote_cert;
   - CA-signed: left keeps a CA ("init"), both hosts make a key and a
     request, the CA signs both ("sign -b"); every host trusts the CA
     (other_config:ca_cert) and names its peer (options:remote_name = the
     peer's CN).
   Each asserts what every real-kernel scenario asserts: ping across
   br-ipsec both ways; ESP on the underlay; no plaintext tunnel packet once
   both ends have the tunnel's connections loaded; tunnels/show reports the
   tunnel CONFIGURED with an INSTALLED child SA and kernel SAs both ways;
   and the IKE SA is authenticated by the certificates' names.

2. other_config:ipsec_skb_mark: a tunnel packet whose skb mark matches must
   never cross the underlay unencrypted, neither while the IKE daemon is
   down nor before the SA is up.  ovsec-monitor installs XFRM block
   policies for such Geneve, VXLAN and GRE packets (lib/xfrm.h,
   XFRM_DROP_PRIORITY), matched on the destination port; upstream's
   strongSwan shunts match the source port, and Geneve and VXLAN leak.
   - 0/1: every tunnel packet (mark 0) matches.  The tunnel is configured
     and used at once (no plaintext from its first packet), then charon is
     stopped on both hosts, which removes its SAs and policies: the traffic
     is blocked, never sent in plaintext.
   - 1/1: only packets that an OpenFlow rule marks (pkt_mark=1, carried by
     the kernel datapath to the encapsulated packet's skb mark) match.
     With charon killed before any traffic, unmarked traffic leaks as
     plaintext (which proves the capture would see a leak) and marked
     traffic is blocked; charon then starts and the tunnel comes up with
     traffic flowing, still without a plaintext packet.
   The kernel's XfrmOutPolBlock counter (/proc/net/xfrm_stat) proves that
   the packets were sent into the tunnel and blocked, not lost elsewhere.

Every scenario runs once with each IKE daemon (the 'ike' fixture): with
Libreswan, "charon" above means pluto, and the certificate names are
checked in pluto's connections (ipsec whack --status).

All scenarios run in one pytest session (one guest boot), each on its own
lab.  Every scenario prints a "BENCH:" line with its duration and the time
from adding the ports to the first answered ping.

Run inside the user-mode Linux guest:
    OVSEC_MONITOR=$PWD/BUILD/monitor/ovsec-monitor \\
    OVSEC_PKI=$PWD/BUILD/pki/ovsec-pki \\
        tests/uml/run-uml.sh --settle 0 -- \\
        /usr/bin/python3 -m pytest tests/uml/test_uml_certs_mark.py
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import ukernel
import util_monitor as um

N_PINGS = 5

# Bounds, in seconds.
PKI_TIMEOUT = 60
DROP_POLICY_TIMEOUT = 10
IKE_GONE_TIMEOUT = 10

# What charon's policies for a tunnel of each type select (besides the
# endpoints), in both directions.
TYPE_SELECTOR = {"geneve": "proto udp dport 6081",
                 "vxlan": "proto udp dport 4789",
                 "gre": "proto gre"}

# The selectors of ovsec-monitor's drop policies (lib/xfrm.c): both address
# families, Geneve and VXLAN by UDP destination port, GRE by IP protocol.
DROP_SELECTORS = {
    "%s %s" % (any_, what)
    for any_ in ("src 0.0.0.0/0 dst 0.0.0.0/0", "src ::/0 dst ::/0")
    for what in ("proto udp dport 6081", "proto udp dport 4789",
                 "proto gre")}


# ---- certificates -----------------------------------------------------------

class Pki:
    """Keys and certificates of hosts "left" and "right" made with
    ovsec-pki once per module, as the tutorial makes them, every host's
    files in its own directory (only certificates and requests travel):

        self-signed/NAME/  NAME-privkey.pem, NAME-cert.pem ("req -u NAME",
                           "self-sign NAME"; RSA 3072)
        ca-signed/pki/     the PKI of the CA host (left), "init -k ec";
                           switchca/cacert.pem is the CA certificate
        ca-signed/ca/      where the CA host signs ("sign -b NAME switch")
        ca-signed/NAME/    NAME-privkey.pem ("req -k ec -u NAME" on the host),
                           NAME-cert.pem (back from the CA)
    """

    HOSTS = ("left", "right")

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.log = os.path.join(root, "ovsec-pki.log")

    def _run(self, cwd, *args):
        os.makedirs(cwd, mode=0o700, exist_ok=True)
        argv = [self.binary, "--log=" + self.log] + list(args)
        res = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True,
                             timeout=PKI_TIMEOUT)
        if res.returncode != 0:
            raise AssertionError("%s (in %s) failed with status %d:\n%s%s"
                                 % (" ".join(argv), cwd, res.returncode,
                                    res.stdout, res.stderr))
        return res.stdout

    def _dir(self, mode, name):
        return os.path.join(self.root, mode, name)

    def make(self):
        for name in self.HOSTS:
            d = self._dir("self-signed", name)
            self._run(d, "req", "-u", name)
            self._run(d, "self-sign", name)

        # ECDSA P-256 here, RSA 3072 (the default) above: both key types
        # meet strongSwan, and RSA keys take seconds to make in the guest.
        pki_dir = "--dir=" + self._dir("ca-signed", "pki")
        ca = self._dir("ca-signed", "ca")
        self._run(self._dir("ca-signed", ""), pki_dir, "-k", "ec", "init")
        for name in self.HOSTS:
            d = self._dir("ca-signed", name)
            self._run(d, "-k", "ec", "req", "-u", name)
            os.makedirs(ca, mode=0o700, exist_ok=True)
            shutil.copy(os.path.join(d, name + "-req.pem"), ca)
            self._run(ca, pki_dir, "-b", "sign", name, "switch")
            out = self._run(ca, pki_dir, "verify", name, "switch")
            assert "%s-cert.pem: OK" % name in out, out
            shutil.copy(os.path.join(ca, name + "-cert.pem"), d)

    def cert(self, mode, name):
        return os.path.join(self._dir(mode, name), name + "-cert.pem")

    def key(self, mode, name):
        return os.path.join(self._dir(mode, name), name + "-privkey.pem")

    @property
    def cacert(self):
        return os.path.join(self._dir("ca-signed", "pki"), "switchca",
                            "cacert.pem")


@pytest.fixture(scope="module")
def pki(ovsec_pki_binary, pytestconfig):
    root = tempfile.mkdtemp(prefix="ovsec-pki.")
    try:
        p = Pki(ovsec_pki_binary, root)
        t0 = time.monotonic()
        p.make()
        # A module fixture cannot use 'report' (capsys is per test).
        tr = pytestconfig.pluginmanager.getplugin("terminalreporter")
        if tr is not None:
            tr.write_line("\nBENCH: ovsec-pki: keys and certificates, "
                          "self-signed (RSA) and CA-signed (ECDSA), for two "
                          "hosts in %.2f s" % (time.monotonic() - t0))
        yield p
    finally:
        shutil.rmtree(root, ignore_errors=True)


def install(host, src, name, mode=0o644):
    """Copies 'src' to HOSTDIR/keys/'name' with 'mode', as the operator
    copies a file to the host; returns its path there."""
    with open(src) as f:
        return host.write(os.path.join("keys", name), f.read(), mode)


def configure_certificates(pki, mode, host, peer):
    """Installs 'host's key and certificate of 'mode' ("self-signed" or
    "ca-signed") and what it needs to know of 'peer' (its certificate, or
    the CA's), sets other_config, and returns the tunnel's interface
    options (remote_cert or remote_name)."""
    config = {
        "certificate": install(host, pki.cert(mode, host.name),
                               host.name + "-cert.pem"),
        "private_key": install(host, pki.key(mode, host.name),
                               host.name + "-privkey.pem", 0o600),
    }
    if mode == "self-signed":
        options = {"remote_cert": install(host, pki.cert(mode, peer.name),
                                          peer.name + "-cert.pem")}
    else:
        config["ca_cert"] = install(host, pki.cacert, "cacert.pem")
        options = {"remote_name": peer.name}
    host.set_ipsec_config(**config)
    return options


def assert_key_secret(host, key):
    """Fails if a line of the private key file 'key' appears in 'host's
    monitor log or output, or in tunnels/show (text or JSON)."""
    with open(key) as f:
        chunks = [line.strip() for line in f
                  if line.strip() and "-----" not in line]
    assert chunks, "no key material in " + key
    texts = {"tunnels/show": host.appctl("ovsec-monitor", "tunnels/show"),
             "tunnels/show --json": host.appctl("ovsec-monitor",
                                                "tunnels/show", "--json")}
    for f in ("ovsec-monitor.log", "ovsec-monitor.out"):
        texts[f] = um.read_file(host.path(f))
    for where, text in texts.items():
        leaked = [c for c in chunks if c in text]
        assert not leaked, ("%s: private key material in %s"
                            % (host.name, where))


@pytest.mark.parametrize("type", ukernel.TUNNEL_TYPES)
@pytest.mark.parametrize("mode", ["self-signed", "ca-signed"])
def test_certificates(mode, type, left, right, ovsec_monitor_binary, pki,
                      report, ike):
    """A 'type' tunnel authenticated by certificates of 'mode'."""
    t_start = time.monotonic()
    ike.setup([left, right], ovsec_monitor_binary)
    options = {h: configure_certificates(pki, mode, h, peer)
               for h, peer in ((left, right), (right, left))}

    cap = left.capture_underlay("all")
    t0 = ukernel.connect(left, right, type=type,
                         options=(options[left], options[right]))
    loaded = ukernel.wait_loaded([left, right])
    first_ping = ukernel.wait_ping(left, right, since=t0)

    steady = time.time()
    ukernel.assert_ping(left, right, count=N_PINGS)
    for h, peer in ((left, right), (right, left)):
        show = ukernel.wait_tunnel_up(h, peer=peer)
        # Authenticated by the certificates: the IKE SA's identities are
        # the CNs (a PSK tunnel would show the addresses).
        ike.assert_cert_auth(h, peer, show)
        # The SAs protect this tunnel type's packets.
        for direction in ("out", "in"):
            assert any(TYPE_SELECTOR[type] in p and "dir " + direction in p
                       for p in show.policies), show.text
        assert_key_secret(h, pki.key(mode, h.name))

    cap.stop()
    ukernel.assert_no_plaintext(cap.traffic(since=loaded))
    esp = cap.traffic(since=steady).esp
    # Each ping is a request and a reply: 2 * N_PINGS per direction.
    assert len(esp) >= 4 * N_PINGS, ("too few ESP packets on the "
                                     "underlay:\n" + "\n".join(esp))
    ukernel.bench(report, "certificates %s %s" % (mode, type),
                  time.monotonic() - t_start, first_ping, ike=ike)


# ---- ipsec_skb_mark ---------------------------------------------------------

def drop_policies(host):
    """{selector: (mark, mask)} of the block policies in 'host'."""
    out = {}
    for p in um.xfrm_policies(host):
        if p.action == "block" and p.dir == "out":
            mark, _, mask = (p.mark or "0/0").partition("/")
            out[p.selector] = (int(mark, 0), int(mask or "0", 0))
    return out


def set_skb_mark(hosts, mark, mask):
    """Sets other_config:ipsec_skb_mark=MARK/MASK on every host and waits
    until ovsec-monitor's drop policies for it are in the kernel."""
    want = {s: (mark, mask) for s in DROP_SELECTORS}
    for h in hosts:
        h.set_ipsec_config(ipsec_skb_mark="0x%x/0x%x" % (mark, mask))
    for h in hosts:
        um.wait(lambda: drop_policies(h), lambda p: p == want,
                DROP_POLICY_TIMEOUT,
                "%s's drop policies for %d/%d" % (h.name, mark, mask))


def xfrm_blocked(host):
    """The kernel's XfrmOutPolBlock counter in 'host's namespace: outbound
    packets dropped by a block policy."""
    text = host.run(["cat", "/proc/net/xfrm_stat"]).stdout
    m = re.search(r"^XfrmOutPolBlock\s+(\d+)$", text, re.M)
    assert m, "no XfrmOutPolBlock in /proc/net/xfrm_stat:\n" + text
    return int(m.group(1))


def assert_blocked(hosts, before, what):
    """Fails unless every host's block policies dropped packets since the
    counts 'before' ({host: XfrmOutPolBlock})."""
    for h in hosts:
        now = xfrm_blocked(h)
        assert now > before[h], (
            "%s: %s, yet no outbound packet was dropped by a block policy "
            "(XfrmOutPolBlock %d -> %d): the traffic never reached the "
            "tunnel, so the test proves nothing\n%s"
            % (h.name, what, before[h], now, h.ip("xfrm", "policy")))


def ping_both_ways(a, b, count=2):
    """Sends 'count' pings over br-ipsec each way; returns {"A -> B":
    answered}."""
    return {"%s -> %s" % (src.name, dst.name):
            src.ping_count(dst.overlay(), count, interval=0.2)
            for src, dst in ((a, b), (b, a))}


def assert_blocked_traffic(hosts, cap, since, before, answered, what):
    """After ping_both_ways() with the IKE daemon down: no plaintext on the
    underlay since 'since', no ping answered, and the block policies
    dropped packets on every host."""
    ukernel.assert_no_plaintext(cap.traffic(since=since), what)
    assert not any(answered.values()), (
        "pings answered with the IKE daemon down: %s" % answered)
    assert_blocked(hosts, before, "pings were sent over br-ipsec")


def ike_gone(host, peer):
    """Waits until 'host' has no SA and no policy for 'peer' other than
    ovsec's drop policies (the IKE daemon removed its own when it
    stopped)."""
    def check(xfrm):
        states, policies = xfrm
        return not states and all("action block" in p for p in policies)
    um.wait(lambda: host.xfrm_between(peer), check, IKE_GONE_TIMEOUT,
            "%s's %s to remove its SAs and policies"
            % (host.name, host.ike.daemon_name))


def assert_tunnel_up(a, b, cap, clean_since, steady):
    """The common assertions once the tunnel works: pings both ways,
    tunnels/show CONFIGURED with an INSTALLED child and kernel SAs, ESP on
    the underlay since 'steady' and no plaintext since 'clean_since'
    (wall-clock times)."""
    ukernel.assert_ping(a, b, count=N_PINGS)
    for h, peer in ((a, b), (b, a)):
        ukernel.wait_tunnel_up(h, peer=peer)
    ukernel.assert_no_plaintext(cap.traffic(since=clean_since),
                                "while the skb mark matched")
    esp = cap.traffic(since=steady).esp
    assert len(esp) >= 4 * N_PINGS, ("too few ESP packets on the "
                                     "underlay:\n" + "\n".join(esp))


@pytest.mark.parametrize("type", ukernel.TUNNEL_TYPES)
def test_skb_mark_all_packets(type, left, right, ovsec_monitor_binary,
                              report, ike):
    """ipsec_skb_mark=0/1: every tunnel packet matches.  No plaintext from
    the first packet of a tunnel configured and used at once, nor after
    charon stops."""
    t_start = time.monotonic()
    hosts = (left, right)
    ike.setup(hosts, ovsec_monitor_binary)
    set_skb_mark(hosts, 0, 1)

    # Before the SA is up: traffic at once, captured from before the
    # ports exist.
    cap = left.capture_underlay("all")
    start = time.time()
    t0 = ukernel.connect(left, right, type=type,
                         psk="mark-" + os.urandom(8).hex())
    first_ping = ukernel.wait_ping(left, right, since=t0)
    steady = time.time()
    assert_tunnel_up(left, right, cap, start, steady)

    # The IKE daemon stopped: charon removes its SAs and policies (SIGTERM),
    # only the drop policies stand between the traffic and the underlay.
    for h in hosts:
        ike.stop(h)
    for h, peer in ((left, right), (right, left)):
        ike_gone(h, peer)
    before = {h: xfrm_blocked(h) for h in hosts}
    answered = ping_both_ways(left, right)
    assert_blocked_traffic(hosts, cap, start, before, answered,
                           "with ipsec_skb_mark=0/1 and %s stopped"
                           % ike.daemon_name)
    cap.stop()
    ukernel.bench(report, "skb_mark 0/1 %s" % type,
                  time.monotonic() - t_start, first_ping, ike=ike)


def mark_local_traffic(host, mark):
    """Adds an OpenFlow rule to br-ipsec that sets pkt_mark to 'mark' on
    everything the host itself sends (in_port=LOCAL), and flushes the
    datapath flows so that no flow cached without the mark is used."""
    host.run(["ovs-ofctl", "add-flow", ukernel.BRIDGE,
              "priority=100,in_port=LOCAL,"
              "actions=set_field:%d->pkt_mark,NORMAL" % mark])
    host.appctl("ovs-vswitchd", "revalidator/purge")


@pytest.mark.parametrize("type", ukernel.TUNNEL_TYPES)
def test_skb_mark_marked_packets(type, left, right, ovsec_monitor_binary,
                                 report, ike):
    """ipsec_skb_mark=1/1: only packets marked by an OpenFlow rule match.
    With charon killed before any traffic: unmarked packets are dropped by
    the tunnel's fallback drop policy (which matches packets without a
    mark); packets with a mark that matches neither (2) leak, which shows
    the capture sees leaks; packets marked 1 are blocked by the
    ipsec_skb_mark policies.  charon then starts and the tunnel comes up
    under traffic without a plaintext packet."""
    t_start = time.monotonic()
    hosts = (left, right)
    ike.setup(hosts, ovsec_monitor_binary)
    set_skb_mark(hosts, 1, 1)
    for h in hosts:
        ike.kill(h)

    cap = left.capture_underlay("all")
    ukernel.connect(left, right, type=type,
                    psk="mark-" + os.urandom(8).hex())

    # Unmarked, charon down: the fallback drop policy blocks them, once
    # each monitor has seen the tunnel (the capture counts from then).
    for h in hosts:
        um.wait(lambda: h.ip("xfrm", "policy"),
                lambda text: "priority 16000001" in text, 10,
                "%s's fallback drop policy" % h.name)
    unmarked = time.time()
    before = {h: xfrm_blocked(h) for h in hosts}
    answered = ping_both_ways(left, right)
    assert_blocked_traffic(hosts, cap, unmarked, before, answered,
                           "from unmarked packets with %s down"
                           % ike.daemon_name)

    # Marked 2: matches neither ipsec_skb_mark=1/1 nor the fallback drop,
    # so nothing protects it.  The ping works, in plaintext.
    for h in hosts:
        mark_local_traffic(h, 2)
    ukernel.wait_ping(left, right)
    leaked = cap.traffic().plaintext
    assert leaked, ("no plaintext %s packet on the underlay while packets "
                    "marked 2 crossed a tunnel without IPsec: the capture "
                    "cannot see leaks" % type)

    # Marked: blocked.
    for h in hosts:
        mark_local_traffic(h, 1)
    marked = time.time()
    before = {h: xfrm_blocked(h) for h in hosts}
    answered = ping_both_ways(left, right)
    assert_blocked_traffic(hosts, cap, marked, before, answered,
                           "from marked packets with %s down"
                           % ike.daemon_name)

    # charon starts: the monitor loads the tunnel into it while the
    # traffic keeps coming; the SA comes up with no plaintext on the way.
    t0 = time.monotonic()
    for h in hosts:
        ike.start(h)
    first_ping = ukernel.wait_ping(left, right, since=t0)
    steady = time.time()
    assert_tunnel_up(left, right, cap, marked, steady)
    cap.stop()
    # The ports were added long before charon ran: time the first ping
    # from charon's start (it includes the monitor's reconnection
    # backoff, up to 1 s).
    report("BENCH: skb_mark 1/1 %s (%s): scenario %.2f s, %s start to "
           "first ping %.2f s" % (type, ike.name, time.monotonic() - t_start,
                                  ike.daemon_name, first_ping))
