# SPDX-License-Identifier: Apache-2.0
"""ovsec-monitor against real IKE: two hosts (left 192.0.2.1 / fd00::1,
right 192.0.2.2 / fd00::2), each with its own ovsdb-server, charon and
ovsec-monitor; tunnels are configured with ovs-vsctl in each host's
database, as an operator would.

This lab's kernel has XFRM but no ESP: IKE SAs establish, installing the
CHILD_SAs fails.  What is asserted is therefore the IKE side: charon's
connections and credentials as the monitor loads them, the IKE SA reaching
ESTABLISHED on both hosts (swanctl --list-sas, and the monitor's own view
in tunnels/show), and what survives restarts of charon, ovsdb-server and
ovsec-monitor itself.

Timing figures are printed with a "BENCH:" prefix (shown even without -s).
"""

import json
import os
import re
import signal
import time

import pytest

import lab as labmod

BRIDGE = "br-ipsec"

# Bound on establishing an IKE SA once both ends are configured.  The
# monitor initiates as soon as charon holds the connection, and a handful
# of round trips between namespaces takes milliseconds, so this only
# absorbs a loaded CI machine.
ESTABLISH_TIMEOUT = 15

# "gen: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r"
_SWANCTL_SA_RE = re.compile(r"^(\S+): #(\d+), (\S+), IKEv\d, "
                            r"([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r\*?$")
# "gen: IKEv2, no reauthentication, rekeying every 14400s"
_SWANCTL_CONN_RE = re.compile(r"^(\S+): IKEv\d")
# "  gen-out: TRANSPORT, rekeying every 3600s"
_SWANCTL_CHILD_RE = re.compile(r"^  (\S+): (TRANSPORT|TUNNEL)")
# tunnels/show: "Interface name: gen v1 (CONFIGURED)"
_SHOW_HEADER_RE = re.compile(r"^Interface name: (\S+) v(\d+) \((\w+)\)$",
                             re.M)


# ---- helpers --------------------------------------------------------


@pytest.fixture
def bench(capsys):
    """bench(fmt, *args): prints a "BENCH:" line to the terminal, past
    pytest's capture."""
    def report(fmt, *args):
        with capsys.disabled():
            print("\nBENCH: " + (fmt % args if args else fmt))
    return report


def q(value):
    """'value' as a quoted ovs-vsctl string (IPv6 addresses and paths
    have characters that bare atoms do not allow)."""
    return json.dumps(value)


def add_tunnel(host, name, type_, remote_ip, **options):
    """ovs-vsctl add-port br-ipsec NAME -- set interface NAME type=TYPE
    options:remote_ip=REMOTE options:KEY=VALUE..."""
    args = ["add-port", BRIDGE, name, "--", "set", "interface", name,
            "type=" + type_, "options:remote_ip=" + q(remote_ip)]
    args += ["options:%s=%s" % (k, q(v)) for k, v in sorted(options.items())]
    host.vsctl(*args)


def set_options(host, name, **options):
    host.vsctl("set", "interface", name,
               *["options:%s=%s" % (k, q(v))
                 for k, v in sorted(options.items())])


def set_global(host, **other_config):
    host.vsctl("set", "Open_vSwitch", ".",
               *["other_config:%s=%s" % (k, q(v))
                 for k, v in sorted(other_config.items())])


def list_sas(host):
    """charon's IKE SAs: a list of dicts conn, uniqueid, state, spi_i,
    spi_r (from swanctl --list-sas)."""
    sas = []
    for line in host.swanctl("--list-sas").splitlines():
        m = _SWANCTL_SA_RE.match(line)
        if m:
            sas.append({"conn": m.group(1), "uniqueid": m.group(2),
                        "state": m.group(3), "spi_i": m.group(4),
                        "spi_r": m.group(5)})
    return sas


def established(host, conn):
    """The ESTABLISHED IKE SAs of 'conn' in charon, as a sorted list of
    (uniqueid, spi_i, spi_r)."""
    return sorted((sa["uniqueid"], sa["spi_i"], sa["spi_r"])
                  for sa in list_sas(host)
                  if sa["conn"] == conn and sa["state"] == "ESTABLISHED")


def list_conns(host):
    """charon's connections: {name: text of its block} from swanctl
    --list-conns."""
    conns = {}
    name = None
    for line in host.swanctl("--list-conns").splitlines():
        m = _SWANCTL_CONN_RE.match(line)
        if m:
            name = m.group(1)
            conns[name] = ""
        if name:
            conns[name] += line + "\n"
    return conns


def conn_children(block):
    return sorted(m.group(1) for m in
                  map(_SWANCTL_CHILD_RE.match, block.splitlines()) if m)


def show(host):
    return host.appctl("ovsec-monitor", "tunnels/show")


def show_json(host):
    """{name: tunnel object} from tunnels/show --json."""
    out = host.appctl("ovsec-monitor", "tunnels/show", "--json")
    return {t["name"]: t for t in json.loads(out)}


def show_blocks(text):
    """{name: (version, state, block text)} from tunnels/show text."""
    blocks = {}
    for block in text.split("\n\n"):
        m = _SHOW_HEADER_RE.search(block)
        if m:
            blocks[m.group(1)] = (int(m.group(2)), m.group(3), block)
    return blocks


def active_lines(text, name):
    """The lines of the "IPsec connections that are active:" section of
    tunnel 'name' in tunnels/show text 'text'."""
    entry = show_blocks(text).get(name)
    if not entry:
        return []
    lines = entry[2].splitlines()
    marker = "IPsec connections that are active:"
    if marker not in lines:
        return []
    return [line for line in lines[lines.index(marker) + 1:] if line]


def shown_ike_sas(host, name):
    """The IKE SAs tunnels/show lists for 'name' as ESTABLISHED:
    sorted uniqueids."""
    rx = re.compile(r"^  %s\[(\d+)\]: ESTABLISHED, " % re.escape(name))
    return sorted(m.group(1) for m in
                  map(rx.match, active_lines(show(host), name)) if m)


def tunnel_state(host, name):
    t = show_json(host).get(name)
    return t["state"] if t else None


def wait_states(hosts, name, state, timeout=10):
    labmod.poll(lambda: all(tunnel_state(h, name) == state for h in hosts),
                timeout, "%s to be %s on %s" % (
                    name, state, ", ".join(h.name for h in hosts)))


def up_everywhere(hosts, name):
    """True if 'name' has an ESTABLISHED IKE SA in charon on every host
    and every monitor shows one of them as active."""
    for h in hosts:
        sas = [sa[0] for sa in established(h, name)]
        if not sas:
            return False
        shown = shown_ike_sas(h, name)
        if not set(shown) & set(sas):
            return False
    return True


def wait_up(hosts, name, timeout=ESTABLISH_TIMEOUT):
    """Waits until up_everywhere(); returns the seconds it took."""
    start = time.monotonic()
    labmod.poll(lambda: up_everywhere(hosts, name), timeout,
                "IKE SA %s ESTABLISHED on %s and shown by tunnels/show"
                % (name, ", ".join(h.name for h in hosts)), interval=0.02)
    return time.monotonic() - start


def log_text(host, name):
    return labmod.tail(host.path(name), 1000000)


def log_size(host, name):
    try:
        return os.path.getsize(host.path(name))
    except OSError:
        return 0


def log_since(host, name, offset):
    with open(host.path(name), errors="replace") as f:
        f.seek(offset)
        return f.read()


def assert_secret_absent(hosts, secret):
    """'secret' appears in no log, daemon output or show output."""
    for h in hosts:
        for path in h.log_files():
            with open(path, errors="replace") as f:
                assert secret not in f.read(), path
        assert secret not in show(h)
        assert secret not in h.appctl("ovsec-monitor", "tunnels/show",
                                      "--json")


@pytest.fixture
def two_hosts(left, right, ovsdb_server, charon, ovsec_monitor):
    """two_hosts(left_args=(), right_args=()) starts ovsdb-server, charon
    and ovsec-monitor (with the extra arguments) on both hosts and creates
    br-ipsec in both databases; returns (left, right)."""
    def setup(left_args=(), right_args=()):
        for h, args in ((left, left_args), (right, right_args)):
            ovsdb_server(h)
            charon(h)
            ovsec_monitor(h, *args)
            h.vsctl("add-br", BRIDGE)
        return left, right
    return setup


def psk_pair(left, right, name, type_, af="ipv4", local_ip=True, psk=None,
             first="left", between=None):
    """Configures a PSK tunnel 'name' between the hosts, on host 'first'
    first, calling 'between' (if any) in between, and returns the time of
    the second add-port and the PSK."""
    psk = psk or "ovsec-" + os.urandom(12).hex()
    order = [(left, right), (right, left)]
    if first == "right":
        order.reverse()
    start = None
    for h, peer in order:
        opts = {"psk": psk}
        if local_ip:
            opts["local_ip"] = getattr(h, af)
        if start is not None and between:
            between()
        start = time.monotonic()
        add_tunnel(h, name, type_, getattr(peer, af), **opts)
    return start, psk


def first_attempt_failed(host):
    """Waits until 'host's charon has met an unconfigured peer."""
    labmod.poll(lambda: "NO_PROPOSAL_CHOSEN" in log_text(host, "charon.log"),
                5, "the first attempt of %s to fail" % host.name)


# ---- certificates (openssl command line, a test fixture tool only) ------


def openssl(host, *args):
    host.run(["openssl"] + list(args))


def make_self_signed(host, stem, cn, org=None):
    """Writes HOSTDIR/pki/STEM.pem (self-signed, SAN DNS = CN) and
    STEM.key (P-256).  Returns (cert path, key path)."""
    cert = host.path("pki", stem + ".pem")
    key = host.path("pki", stem + ".key")
    os.makedirs(os.path.dirname(cert), mode=0o700, exist_ok=True)
    subj = ("/O=%s/CN=%s" % (org, cn)) if org else "/CN=" + cn
    openssl(host, "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "30", "-subj", subj,
            "-addext", "subjectAltName=DNS:" + cn,
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "keyUsage=critical,digitalSignature")
    os.chmod(key, 0o600)
    return cert, key


def make_ca(host, cn):
    cert = host.path("pki", "ca.pem")
    key = host.path("pki", "ca.key")
    os.makedirs(os.path.dirname(cert), mode=0o700, exist_ok=True)
    openssl(host, "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_leaf(ca_host, ca, host, cn):
    """A certificate for 'cn' signed by 'ca' (cert, key) of 'ca_host',
    written to 'host's HOSTDIR/pki/CN.pem and CN.key."""
    cert = host.path("pki", cn + ".pem")
    key = host.path("pki", cn + ".key")
    csr = host.path("pki", cn + ".csr")
    ext = host.path("pki", cn + ".ext")
    os.makedirs(os.path.dirname(cert), mode=0o700, exist_ok=True)
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n" % cn)
    openssl(host, "req", "-new", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    openssl(ca_host, "x509", "-req", "-in", csr, "-CA", ca[0],
            "-CAkey", ca[1], "-set_serial", str(int.from_bytes(
                os.urandom(8), "big")), "-days", "30", "-extfile", ext,
            "-out", cert)
    os.chmod(key, 0o600)
    return cert, key


def copy_file(src, dst):
    with open(src) as f:
        data = f.read()
    os.makedirs(os.path.dirname(dst), mode=0o700, exist_ok=True)
    with open(dst, "w") as f:
        f.write(data)
    return dst


def overwrite_in_place(path, src):
    """Replaces the contents of 'path' with those of 'src' without
    changing its inode (an operator's "cp new.pem cert.pem")."""
    with open(src) as f:
        data = f.read()
    with open(path, "r+") as f:
        f.truncate(0)
        f.write(data)


# ---- 1. PSK tunnels ----------------------------------------------------

PSK_CASES = [
    # id, type, address family, local_ip set, host configured first
    ("geneve", "geneve", "ipv4", True, "left"),
    ("geneve-no-local-ip", "geneve", "ipv4", False, "left"),
    ("vxlan", "vxlan", "ipv4", True, "left"),
    # GRE has one child for both directions, so only the end with the
    # lower address (left) initiates; configured last, it finds the peer
    # ready...
    ("gre", "gre", "ipv4", True, "right"),
    # ...configured first, its first attempt meets an unconfigured peer
    # (NO_PROPOSAL_CHOSEN; the test waits for that before configuring
    # right) and it must try again by itself.
    ("gre-initiator-first", "gre", "ipv4", True, "left"),
    ("geneve-ipv6", "geneve", "ipv6", True, "left"),
]


@pytest.mark.parametrize("type_,af,local_ip,first",
                         [c[1:] for c in PSK_CASES],
                         ids=[c[0] for c in PSK_CASES])
def test_psk_tunnel_establishes(two_hosts, bench, type_, af, local_ip,
                                first):
    left, right = two_hosts()
    name = "tun0"
    # The end configured first initiates (unless it is the GRE end with the
    # higher address) and meets an unconfigured peer, as when an operator
    # configures one host after the other: wait for that before
    # configuring the other end.
    first_host = left if first == "left" else right
    between = None
    if type_ != "gre" or first_host is left:
        def between():
            first_attempt_failed(first_host)
    start, psk = psk_pair(left, right, name, type_, af, local_ip, first=first,
                          between=between)
    elapsed = wait_up([left, right], name)
    total = time.monotonic() - start
    bench("psk %s %s local_ip=%s, %s configured first: second add-port -> "
          "IKE SA ESTABLISHED on both hosts and in tunnels/show: %.3f s",
          type_, af, "set" if local_ip else "unset", first, total)
    assert elapsed <= total

    wait_states([left, right], name, "CONFIGURED")
    for h, peer in ((left, right), (right, left)):
        conns = list_conns(h)
        assert list(conns) == [name], conns
        want = [name] if type_ == "gre" else [name + "-in", name + "-out"]
        assert conn_children(conns[name]) == want, conns[name]
        assert "remote: %s" % getattr(peer, af) in conns[name]

        # The monitor's line for the SA names both ends by address.
        lines = active_lines(show(h), name)
        rx = re.compile(r"^  %s\[\d+\]: ESTABLISHED, %s\[%s\]\.\.\."
                        r"%s\[%s\]$" % (name, *(re.escape(a) for a in (
                            getattr(h, af), getattr(h, af),
                            getattr(peer, af), getattr(peer, af)))))
        assert any(rx.match(line) for line in lines), lines

        j = show_json(h)[name]
        assert j["psk"] == "<redacted>"
        assert j["address_family"] == ("IPv6" if af == "ipv6" else "IPv4")
        assert j["local_ip"] == (getattr(h, af) if local_ip else None)
    assert_secret_absent([left, right], psk)


def test_gre_traffic_triggers_negotiation(two_hosts, bench):
    """The children are trap policies: a GRE packet from the end that
    does not initiate (right, the higher address) starts the IKE SA."""
    left, right = two_hosts()
    # left's attempt meets an unconfigured right and fails.
    psk_pair(left, right, "tun0", "gre", first="left",
             between=lambda: first_attempt_failed(left))
    wait_states([left, right], "tun0", "CONFIGURED")
    assert established(left, "tun0") == []
    start = time.monotonic()
    right.run(["python3", "-c", GRE_SEND, left.ipv4])
    wait_up([left, right], "tun0", timeout=5)
    bench("gre: packet from the non-initiator -> ESTABLISHED: %.3f s",
          time.monotonic() - start)
    assert "acquire" in log_text(right, "charon.log").lower()


# Sends one GRE packet (ignoring errors: the kernel may drop it while the
# SA is negotiated).
GRE_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
try:
    s.sendto(bytes([0, 0, 0x65, 0x58]) + bytes(14), (sys.argv[1], 0))
except OSError as e:
    print(e)
"""


# ---- 2. mismatched PSKs ---------------------------------------------------


def test_psk_mismatch_then_fix(two_hosts, bench):
    left, right = two_hosts()
    add_tunnel(left, "gen", "geneve", right.ipv4, local_ip=left.ipv4,
               psk="left-secret-0123")
    add_tunnel(right, "gen", "geneve", left.ipv4, local_ip=right.ipv4,
               psk="right-secret-4567")

    # The configuration is loaded on both sides...
    wait_states([left, right], "gen", "CONFIGURED")
    for h in (left, right):
        assert "gen" in list_conns(h)

    # ...and charon says why nothing comes up.
    def auth_failed():
        return any("AUTHENTICATION_FAILED" in log_text(h, "charon.log")
                   or "MAC mismatched" in log_text(h, "charon.log")
                   for h in (left, right))
    labmod.poll(auth_failed, 10, "charon to log the authentication failure")
    time.sleep(1)
    for h in (left, right):
        assert established(h, "gen") == []
        assert shown_ike_sas(h, "gen") == []
        assert tunnel_state(h, "gen") == "CONFIGURED"

    # Fixing one side is enough: its monitor reloads the secret and
    # initiates.
    start = time.monotonic()
    set_options(right, "gen", psk="left-secret-0123")
    wait_up([left, right], "gen")
    bench("psk fixed on one side -> ESTABLISHED: %.3f s",
          time.monotonic() - start)
    assert tunnel_state(right, "gen") == "CONFIGURED"
    assert_secret_absent([left, right], "left-secret-0123")
    assert_secret_absent([left, right], "right-secret-4567")


# ---- 3. certificates ---------------------------------------------------


def test_self_signed_certificates(two_hosts, bench):
    left, right = two_hosts()
    certs = {}
    for h in (left, right):
        certs[h.name] = make_self_signed(h, "host", h.name)
    for h, peer in ((left, right), (right, left)):
        set_global(h, certificate=certs[h.name][0],
                   private_key=certs[h.name][1])
        # The peer's certificate, as the operator would have copied it.
        peer_copy = copy_file(certs[peer.name][0],
                              h.path("pki", "peer.pem"))
        if h is right:
            start = time.monotonic()
        add_tunnel(h, "gen", "geneve", peer.ipv4, remote_cert=peer_copy)
    wait_up([left, right], "gen")
    bench("self-signed certificates: second add-port -> ESTABLISHED: "
          "%.3f s", time.monotonic() - start)

    wait_states([left, right], "gen", "CONFIGURED")
    for h, peer in ((left, right), (right, left)):
        conn = list_conns(h)["gen"]
        assert "local public key authentication:" in conn, conn
        assert "remote public key authentication:" in conn, conn
        assert "id: %s" % peer.name in conn, conn
        j = show_json(h)["gen"]
        assert j["local_name"] == h.name
        assert j["remote_name"] == peer.name
        assert j["psk"] is None
        # The SA is authenticated by the certificates' identities.
        assert any(re.match(r"^  gen\[\d+\]: ESTABLISHED, \S+\[%s\]\.\.\."
                            r"\S+\[%s\]$" % (h.name, peer.name), line)
                   for line in active_lines(show(h), "gen"))
    sas = left.swanctl("--list-sas")
    assert "local  '%s' @ %s" % (left.name, left.ipv4) in sas, sas
    assert "remote '%s' @ %s" % (right.name, right.ipv4) in sas, sas

    # The private key never reaches a log or show output.
    with open(certs["left"][1]) as f:
        body = "".join(line for line in f if "-----" not in line)
    for chunk in body.split():
        assert_secret_absent([left], chunk)


def test_ca_signed_certificates(two_hosts, bench):
    left, right = two_hosts()
    ca = make_ca(left, "ovsec-test-ca")
    leaves = {h.name: make_leaf(left, ca, h, h.name) for h in (left, right)}
    for h, peer in ((left, right), (right, left)):
        ca_copy = copy_file(ca[0], h.path("pki", "cacert.pem"))
        set_global(h, certificate=leaves[h.name][0],
                   private_key=leaves[h.name][1], ca_cert=ca_copy)
        if h is right:
            start = time.monotonic()
        add_tunnel(h, "gen", "geneve", peer.ipv4, remote_name=peer.name)
    wait_up([left, right], "gen")
    bench("CA-signed certificates: second add-port -> ESTABLISHED: %.3f s",
          time.monotonic() - start)
    wait_states([left, right], "gen", "CONFIGURED")
    for h, peer in ((left, right), (right, left)):
        j = show_json(h)["gen"]
        assert j["remote_name"] == peer.name
        assert j["ca_cert"] == h.path("pki", "cacert.pem")
        assert any(re.match(r"^  gen\[\d+\]: ESTABLISHED, \S+\[%s\]\.\.\."
                            r"\S+\[%s\]$" % (h.name, peer.name), line)
                   for line in active_lines(show(h), "gen"))
        conn = list_conns(h)["gen"]
        assert "cacerts: CN=ovsec-test-ca" in conn, conn


# ---- 4. certificate rotation -----------------------------------------


class _CertPair:
    """A geneve tunnel "gen" between the hosts authenticated by
    self-signed certificates, up; left's certificate can be rotated."""

    def __init__(self, two_hosts):
        self.left, self.right = left, right = two_hosts()
        self.cert = make_self_signed(left, "host", "left", org="gen1")
        cr = make_self_signed(right, "host", "right")
        set_global(left, certificate=self.cert[0], private_key=self.cert[1])
        set_global(right, certificate=cr[0], private_key=cr[1])
        left_peer = copy_file(cr[0], left.path("pki", "peer.pem"))
        self.right_peer = copy_file(self.cert[0], right.path("pki",
                                                             "peer.pem"))
        add_tunnel(left, "gen", "geneve", right.ipv4, remote_cert=left_peer)
        add_tunnel(right, "gen", "geneve", left.ipv4,
                   remote_cert=self.right_peer)
        wait_up([left, right], "gen")
        assert self.local_certs() == ["O=gen1, CN=left"] * 2

    def local_certs(self):
        """The subject of left's certificate as charon holds it in left's
        connection (local certs) and in right's (remote certs)."""
        return (_conn_certs(self.left, "gen")[:1]
                + _conn_certs(self.right, "gen")[1:2])

    def rotate(self, org):
        """Replaces left's certificate and key in place with a new
        self-signed pair of the same CN (and right's copy of the
        certificate); returns the new subject."""
        new = make_self_signed(self.left, "new-" + org, "left", org=org)
        overwrite_in_place(self.cert[0], new[0])
        overwrite_in_place(self.cert[1], new[1])
        overwrite_in_place(self.right_peer, new[0])
        return "O=%s, CN=left" % org

    def wait_rotated(self, subject, timeout, what):
        """Waits until charon holds 'subject' on both hosts and both
        tunnels are CONFIGURED; returns the seconds it took."""
        start = time.monotonic()
        labmod.poll(lambda: self.local_certs() == [subject] * 2,
                    timeout, what)
        wait_states([self.left, self.right], "gen", "CONFIGURED")
        return time.monotonic() - start

    def established(self):
        return {h.name: established(h, "gen")
                for h in (self.left, self.right)}

    def renegotiate(self):
        """Tears the IKE SAs down on purpose and starts a new one from
        left, which can only authenticate with the rotated credentials.
        Returns the seconds the new one took."""
        old = self.established()
        for h in (self.left, self.right):
            for sa in old[h.name]:
                h.swanctl("--terminate", "--ike-id", sa[0], "--force",
                          "--timeout", "2", check=False)
        # The monitor initiates again a second after the SAs went down,
        # so "none at all" may never be seen on a loaded machine: wait
        # for the old ones to be gone.
        labmod.poll(lambda: all(set(now).isdisjoint(old[name])
                                for name, now in self.established().items()),
                    5, "the old IKE SAs of gen to be gone")
        start = time.monotonic()
        self.left.swanctl("--initiate", "--child", "gen-out", "--timeout",
                          "5", check=False, timeout=10)
        wait_up([self.left, self.right], "gen")
        return time.monotonic() - start


def _conn_certs(host, conn):
    """Subjects of the certificates in charon's definition of 'conn':
    local ones first, then remote ones."""
    block = list_conns(host).get(conn, "")
    return re.findall(r"^\s+certs:\s+(.*)$", block, re.M)


def _kept(before, after):
    return all(set(before[n]) <= set(after[n]) for n in before)


def test_certificate_rotation(two_hosts, bench):
    p = _CertPair(two_hosts)

    # Rotation, then "refresh".
    before = p.established()
    subject = p.rotate("gen2")
    for h in (p.left, p.right):
        h.appctl("ovsec-monitor", "refresh")
    bench("certificate rotation + refresh -> connections reloaded: %.3f s",
          p.wait_rotated(subject, 10, "charon to hold the rotated "
                         "certificate after refresh"))
    bench("certificate rotation (refresh): established IKE SA %s",
          "kept" if _kept(before, p.established()) else "TORN DOWN")
    bench("new negotiation with the rotated certificate: %.3f s",
          p.renegotiate())

    # Rotation again, noticed by the periodic re-read alone.
    before = p.established()
    subject = p.rotate("gen3")
    bench("certificate rotation noticed without refresh: %.3f s",
          p.wait_rotated(subject, 12, "the periodic re-read to pick up "
                         "the rotated certificate"))
    bench("certificate rotation (periodic re-read): established IKE SA %s",
          "kept" if _kept(before, p.established()) else "TORN DOWN")
    bench("new negotiation with the rotated certificate: %.3f s",
          p.renegotiate())
    assert "certificate configuration changed" \
        in log_text(p.left, "ovsec-monitor.log")


def test_certificate_rotation_keeps_established_sa(two_hosts):
    """README: "certificate rotation without tearing down SAs".  The SA
    was authenticated with credentials that were valid then; the new ones
    serve the next negotiation."""
    p = _CertPair(two_hosts)
    before = p.established()
    subject = p.rotate("gen2")
    for h in (p.left, p.right):
        h.appctl("ovsec-monitor", "refresh")
    p.wait_rotated(subject, 10, "charon to hold the rotated certificate")
    time.sleep(0.5)
    after = p.established()
    assert _kept(before, after), (
        "reloading rotated credentials tore down the established IKE SA: "
        "before %r, after %r" % (before, after))


# ---- 5. restarts ---------------------------------------------------------


def _psk_up(two_hosts, *left_args, right_args=()):
    left, right = two_hosts(left_args, right_args)
    psk_pair(left, right, "gen", "geneve")
    wait_up([left, right], "gen")
    return left, right


def test_charon_restart_reloads_and_reestablishes(two_hosts, bench):
    left, right = _psk_up(two_hosts)
    old = established(left, "gen")
    start = time.monotonic()
    left.charon_daemon.restart()
    restarted = time.monotonic()
    # The new charon starts empty; the monitor notices by itself, reloads
    # the tunnel and initiates.
    labmod.poll(lambda: "gen" in list_conns(left), 10,
                "the monitor to reload gen into the new charon")
    reloaded = time.monotonic()
    wait_up([left, right], "gen")
    bench("charon restart: %.3f s to restart, %.3f s to reload, %.3f s "
          "from restart to ESTABLISHED", restarted - start,
          reloaded - restarted, time.monotonic() - restarted)
    assert set(established(left, "gen")).isdisjoint(old)
    wait_states([left, right], "gen", "CONFIGURED")
    assert "loading 1 tunnels into charon" \
        in log_text(left, "ovsec-monitor.log")


def test_ovsdb_restart_changes_nothing_in_charon(two_hosts, bench):
    left, right = _psk_up(two_hosts)
    before = established(left, "gen")
    conns_before = list_conns(left)
    show_before = shown_ike_sas(left, "gen")
    log_at = log_size(left, "charon.log")

    left.ovsdb.restart()
    # The monitor reconnects and resynchronizes its replica...
    labmod.poll(lambda: log_text(left, "ovsec-monitor.log").count(
        "connected, replica in sync") >= 2, 10,
        "the monitor to resync with the restarted ovsdb-server")
    time.sleep(1)
    # ...and charon sees nothing of it.
    assert established(left, "gen") == before
    assert list_conns(left) == conns_before
    assert shown_ike_sas(left, "gen") == show_before
    assert tunnel_state(left, "gen") == "CONFIGURED"
    charon_log = log_since(left, "charon.log", log_at)
    for what in ("vici connection", "loaded", "unload", "deleting IKE_SA"):
        assert what not in charon_log, charon_log

    # Configuration changes still work after the restart.
    start = time.monotonic()
    add_tunnel(left, "vx", "vxlan", right.ipv4, local_ip=left.ipv4,
               psk="vx-secret-89ab")
    labmod.poll(lambda: "vx" in list_conns(left), 10, "vx to be loaded")
    bench("change after ovsdb-server restart -> loaded: %.3f s",
          time.monotonic() - start)
    wait_states([left], "vx", "CONFIGURED")
    left.vsctl("del-port", BRIDGE, "vx")
    labmod.poll(lambda: "vx" not in list_conns(left), 10,
                "vx to be unloaded")
    assert established(left, "gen") == before


@pytest.mark.parametrize("how", ["sigterm", "exit-no-cleanup"])
def test_monitor_restart_adopts_sas(two_hosts, bench, how):
    left, right = _psk_up(two_hosts, "--reconcile-interval=1")
    before = established(left, "gen")
    before_right = established(right, "gen")
    conns_before = list_conns(left)
    mon = left.monitor

    if how == "sigterm":
        assert mon.stop() == 0
    else:
        out = left.appctl("ovsec-monitor", "exit", "--no-cleanup")
        assert out.strip() == ""
        labmod.poll(lambda: not mon.alive(), 5, "ovsec-monitor to exit")
        assert mon.stop() == 0
    # Exiting without cleanup leaves charon as it was.
    assert list_conns(left) == conns_before
    assert established(left, "gen") == before

    start = time.monotonic()
    mon.start()
    wait_states([left], "gen", "CONFIGURED")
    configured = time.monotonic()
    # The restarted monitor learns the existing SA (reconcile) rather
    # than negotiating a new one.
    labmod.poll(lambda: set(shown_ike_sas(left, "gen"))
                & {sa[0] for sa in before}, 5,
                "tunnels/show to list the adopted IKE SA")
    bench("monitor restart (%s): CONFIGURED after %.3f s, existing SA "
          "shown after %.3f s", how, configured - start,
          time.monotonic() - start)
    time.sleep(1.5)
    assert established(left, "gen") == before
    assert established(right, "gen") == before_right
    assert list_conns(left) == conns_before
    assert tunnel_state(left, "gen") == "CONFIGURED"


def test_tunnel_deleted_while_monitor_down_is_unloaded(two_hosts, bench):
    left, right = _psk_up(two_hosts, "--reconcile-interval=1")
    # A second tunnel, to a peer that does not exist.
    add_tunnel(left, "stale", "vxlan", "192.0.2.9", local_ip=left.ipv4,
               psk="stale-secret-cdef")
    labmod.poll(lambda: "stale" in list_conns(left), 10,
                "stale to be loaded")
    before = established(left, "gen")

    left.monitor.stop()
    left.vsctl("del-port", BRIDGE, "stale")
    assert "stale" in list_conns(left)

    start = time.monotonic()
    left.monitor.start()
    labmod.poll(lambda: "stale" not in list_conns(left), 10,
                "the restarted monitor to unload the stale connection")
    bench("stale connection unloaded %.3f s after the monitor restart",
          time.monotonic() - start)
    assert list(list_conns(left)) == ["gen"]
    assert established(left, "gen") == before
    assert "stale: unloading stale connection" \
        in log_text(left, "ovsec-monitor.log")
    wait_states([left], "gen", "CONFIGURED")


# ---- 6. hung charon -------------------------------------------------------


def test_hung_charon_does_not_block(two_hosts, bench):
    # The default reconcile interval (15 s): a reconcile would hand the
    # FAILED tunnel to the backend again (PENDING) before it is looked at.
    left, right = _psk_up(two_hosts, "--command-timeout=2")
    ch = left.charon_daemon
    before = established(right, "gen")
    ch.send_signal(signal.SIGSTOP)
    try:
        # The control socket answers at once.
        worst = 0.0
        for _ in range(5):
            t0 = time.monotonic()
            out = show(left)
            worst = max(worst, time.monotonic() - t0)
            assert "Interface name: gen" in out
        bench("tunnels/show with charon stopped: worst %.3f s", worst)
        assert worst < 1.0

        # A change meanwhile times out, and says so.
        start = time.monotonic()
        add_tunnel(left, "vx", "vxlan", right.ipv4, local_ip=left.ipv4,
                   psk="vx-secret-89ab")
        labmod.poll(lambda: tunnel_state(left, "vx") == "FAILED", 8,
                    "vx to be FAILED while charon is stopped")
        bench("change with charon stopped reported FAILED after %.3f s",
              time.monotonic() - start)
        reason = show_json(left)["vx"]["reason"]
        assert "did not answer in time" in reason, reason
        assert "Reason:" in show_blocks(show(left))["vx"][2]
        assert "no answer to command" in log_text(left, "ovsec-monitor.log")
        t0 = time.monotonic()
        show(left)
        assert time.monotonic() - t0 < 1.0
    finally:
        ch.send_signal(signal.SIGCONT)

    start = time.monotonic()
    wait_states([left], "vx", "CONFIGURED", timeout=15)
    wait_states([left], "gen", "CONFIGURED", timeout=5)
    labmod.poll(lambda: {"gen", "vx"} <= set(list_conns(left)), 5,
                "charon to hold both connections")
    bench("SIGCONT -> converged: %.3f s", time.monotonic() - start)
    # The peer's SA lived through it.
    assert set(before) & set(established(right, "gen"))
