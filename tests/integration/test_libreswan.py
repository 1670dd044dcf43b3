# SPDX-License-Identifier: Apache-2.0
"""ovsec-monitor --ike-daemon=libreswan against a real pluto: two hosts
(left 192.0.2.1 / fd00::1, right 192.0.2.2 / fd00::2), each with its own
ovsdb-server, pluto (from the tree scripts/get-libreswan.sh unpacks; see
util_libreswan.py) and ovsec-monitor; tunnels are configured with
ovs-vsctl, as an operator would.

This lab's kernel has XFRM but no ESP: IKE SAs establish, installing the
ESP SAs fails.  What is asserted is the IKE side: the connections pluto
holds, one IKE SA per tunnel established on both hosts (one end
negotiates: no crossing streams), what survives restarts of pluto and of
the monitor, and the NSS database the monitor keeps in sync.
"""

import json
import os
import re
import time

import pytest

import lab as labmod
import util_libreswan as lsw

BRIDGE = "br-ipsec"
ESTABLISH_TIMEOUT = 30


def q(value):
    return json.dumps(value)


def add_tunnel(host, name, type_, remote_ip, **options):
    args = ["add-port", BRIDGE, name, "--", "set", "interface", name,
            "type=" + type_, "options:remote_ip=" + q(remote_ip)]
    args += ["options:%s=%s" % (k, q(v)) for k, v in sorted(options.items())]
    host.vsctl(*args)


def set_global(host, **other_config):
    host.vsctl("set", "Open_vSwitch", ".",
               *["other_config:%s=%s" % (k, q(v))
                 for k, v in sorted(other_config.items())])


def show_json(host):
    out = host.appctl("ovsec-monitor", "tunnels/show", "--json")
    return {t["name"]: t for t in json.loads(out)}


def tunnel_state(host, name):
    t = show_json(host).get(name)
    return t["state"] if t else None


def wait_state(hosts, name, state, timeout=15):
    labmod.poll(lambda: all(tunnel_state(h, name) == state for h in hosts),
                timeout, "%s to be %s on %s" % (
                    name, state, ", ".join(h.name for h in hosts)))


def wait_ike(plutos, prefix, timeout=ESTABLISH_TIMEOUT, suffix=""):
    """Waits until every pluto has an established IKE SA for the
    connections starting with 'prefix' (and ending with 'suffix'); returns
    {host: serials}."""
    def ok():
        got = {p.host.name: p.ike_established(prefix, suffix=suffix)
               for p in plutos}
        return got if all(got.values()) else None
    return labmod.poll(ok, timeout, "an IKE SA of %s established on %s"
                       % (prefix, ", ".join(p.host.name for p in plutos)),
                       interval=0.2)


@pytest.fixture
def tree():
    root, why = lsw.libreswan_tree()
    if not root:
        if os.environ.get("OVSEC_REQUIRE_LIBRESWAN") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return root


@pytest.fixture
def lsw_hosts(left, right, tree, ovsec_monitor):
    """lsw_hosts(root_conf=False) starts ovsdb-server, pluto and
    ovsec-monitor --ike-daemon=libreswan on both hosts and creates
    br-ipsec; returns the two Pluto objects.  With 'root_conf', pluto's
    ipsec.conf belongs to the "operator" and includes the monitor's file
    (--root-ipsec-conf)."""
    def setup(root_conf=False):
        plutos = []
        for h in (left, right):
            p = lsw.Pluto(h, tree)
            root = None
            if root_conf:
                root = ("config setup\n    uniqueids=yes\n\n"
                        "conn operator-own\n    left=%s\n    right=%s\n"
                        "    authby=secret\n    auto=add\n\n"
                        "include %s/etc/ovs.conf\n"
                        % (h.ipv4, "198.51.100.7", p.root))
            p.prepare(root_conf=root)
            h.start_ovsdb_server()
            p.start()
            args = lsw.monitor_args(p, p.conf if root_conf else None)
            ovsec_monitor(h, *args, env=p.env)
            h.vsctl("add-br", BRIDGE)
            plutos.append(p)
        return plutos
    return setup


def psk_pair(left, right, name, type_, af="ipv4", psk="ovsec-lsw-psk-1234"):
    for h, peer in ((left, right), (right, left)):
        add_tunnel(h, name, type_, getattr(peer, af), psk=psk,
                   local_ip=getattr(h, af))


def test_psk_geneve(lsw_hosts, left, right):
    """A PSK geneve tunnel: both connections loaded on both hosts, one IKE
    SA established (only the lower address negotiates), the tunnel
    CONFIGURED, the PSK only in the 0600 secrets file."""
    pl, pr = lsw_hosts()
    psk = "ovsec-" + os.urandom(10).hex()
    psk_pair(left, right, "gnv0", "geneve", psk=psk)
    wait_state([left, right], "gnv0", "CONFIGURED")
    for p in (pl, pr):
        assert {"gnv0-in-1", "gnv0-out-1"} <= set(p.loaded())
    wait_ike([pl, pr], "gnv0-")
    # One negotiation for the tunnel: left (192.0.2.1) initiated it, right
    # only responded, so each pluto has exactly one IKE SA.
    time.sleep(2)
    for p in (pl, pr):
        assert len(p.ike_established("gnv0-")) == 1, p.status()
    assert "initiating" in pl.log_text()
    assert "initiating IKEv2" not in pr.log_text(), pr.log_text()

    for h, p in ((left, pl), (right, pr)):
        st = os.stat(p.secrets)
        assert st.st_mode & 0o777 == 0o600
        with open(p.secrets) as f:
            assert psk in f.read()
        with open(p.conf) as f:
            assert psk not in f.read()
        for path in h.log_files():
            with open(path, errors="replace") as f:
                assert psk not in f.read(), path
        # The monitor's view follows pluto's within a few seconds (the
        # responder learns of the peer's negotiation from `ipsec status`).
        out = labmod.poll(lambda: (lambda o: o if "gnv0-out-1" in o
                                   else None)(
                              h.appctl("ovsec-monitor", "tunnels/show")),
                          10, "tunnels/show on %s to list gnv0-out-1"
                          % h.name)
        assert psk not in out


def test_gre_ipv6(lsw_hosts, left, right):
    """GRE over IPv6: one connection per tunnel, IKE SA established."""
    pl, pr = lsw_hosts()
    psk_pair(left, right, "gre0", "gre", af="ipv6")
    wait_state([left, right], "gre0", "CONFIGURED")
    for p in (pl, pr):
        assert "gre0-1" in p.loaded()
    wait_ike([pl, pr], "gre0-1")


def test_root_ipsec_conf(lsw_hosts, left, right):
    """--root-ipsec-conf: the operator's file is not touched and their
    connection stays loaded; ours live in the included file."""
    pl, pr = lsw_hosts(root_conf=True)
    with open(pl.conf) as f:
        before = f.read()
    # The operator's own connection.
    pl.run_ipsec("auto", "--config", pl.conf, "--ctlsocket", pl.ctl,
                 "--add", "operator-own")
    psk_pair(left, right, "vx0", "vxlan")
    wait_state([left, right], "vx0", "CONFIGURED")
    wait_ike([pl, pr], "vx0-")
    with open(pl.conf) as f:
        assert f.read() == before
    with open(os.path.join(pl.root, "etc", "ovs.conf")) as f:
        ours = f.read()
    assert "conn vx0-in-1" in ours and "config setup" not in ours
    # Reconciling leaves the operator's connection alone.
    left.appctl("ovsec-monitor", "refresh")
    time.sleep(2)
    assert "operator-own" in pl.loaded()


def test_restarts(lsw_hosts, left, right, ovsec_monitor_binary):
    """pluto restarts: the monitor loads everything again and the tunnel
    comes back.  The monitor restarts (pluto does not): what pluto holds
    is adopted, not torn down."""
    pl, pr = lsw_hosts()
    psk_pair(left, right, "gnv0", "geneve")
    wait_ike([pl, pr], "gnv0-")

    # pluto on the right dies and comes back empty.
    pr.daemon.kill()
    pr.start()
    labmod.poll(lambda: {"gnv0-in-1", "gnv0-out-1"} <= set(pr.loaded()),
                20, "right's monitor to load gnv0 into the new pluto")
    wait_ike([pl, pr], "gnv0-", timeout=60)
    wait_state([right], "gnv0", "CONFIGURED")

    # The left monitor restarts: the IKE SA survives untouched.
    before = pl.ike_established("gnv0-")
    log_before = len(pl.log_text())
    left.monitor.stop()
    left.monitor.start()
    wait_state([left], "gnv0", "CONFIGURED")
    time.sleep(3)
    after = pl.ike_established("gnv0-")
    assert set(before) & set(after), (before, after)
    new_log = pl.log_text()[log_before:]
    assert "terminating SAs using this connection" not in new_log, new_log

    # A new version (changed PSK on both ends) replaces the connections.
    for h, peer in ((left, right), (right, left)):
        h.vsctl("set", "interface", "gnv0", "options:psk=" + q("new-psk-9"))
    labmod.poll(lambda: all("gnv0-in-2" in p.loaded()
                            and "gnv0-in-1" not in p.loaded()
                            for p in (pl, pr)), 20,
                "version 2 to replace version 1 on both hosts")
    wait_ike([pl, pr], "gnv0-", suffix="-2", timeout=60)


def test_nss_sync(lsw_hosts, left, right):
    """Certificates go into the NSS database under upstream's nicknames;
    a rotated certificate replaces its entry (no duplicates), stale
    entries go."""
    pl, pr = lsw_hosts()
    certs = {}
    for h in (left, right):
        d = h.path("pki")
        os.makedirs(d, mode=0o700, exist_ok=True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        # RSA, as ovs-pki makes them (pluto signs with what leftauth
        # says, RSA by default).
        h.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
               "-keyout", key, "-out", cert, "-days", "30", "-subj",
               "/CN=" + h.name, "-addext", "subjectAltName=DNS:" + h.name])
        certs[h.name] = (cert, key)
    # A stale entry an earlier run left.
    pl.host.run(["certutil", "-A", "-a", "-d", pl.nssdb, "-n",
                 "ovs_cert_gone", "-t", "P,P,P", "-i", certs["left"][0]])
    for h, peer in ((left, right), (right, left)):
        peer_copy = h.path("pki", "peer.pem")
        with open(certs[peer.name][0]) as src, open(peer_copy, "w") as dst:
            dst.write(src.read())
        set_global(h, certificate=certs[h.name][0],
                   private_key=certs[h.name][1])
        add_tunnel(h, "gnv0", "geneve", peer.ipv4, local_ip=h.ipv4,
                   remote_cert=peer_copy)
    wait_state([left, right], "gnv0", "CONFIGURED", timeout=30)
    nss = pl.nss_list()
    assert set(k for k in nss if k.startswith("ovs_")) \
        == {"ovs_certkey_left", "ovs_cert_right"}, nss
    assert "u" in nss["ovs_certkey_left"]
    wait_ike([pl, pr], "gnv0-")

    # Rotate left's certificate at the same path.
    cert, key = certs["left"]
    with open(cert) as f:
        old_pem = f.read()
    left.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
              "-keyout", key, "-out", cert, "-days", "30", "-subj",
              "/CN=left", "-addext", "subjectAltName=DNS:left"])
    with open(cert) as f:
        new_pem = f.read()

    def rotated():
        held = lsw.der_of_pem(pl.nss_cert_pem("ovs_certkey_left"))
        return held == lsw.der_of_pem(new_pem)
    labmod.poll(rotated, 30, "NSS to hold left's new certificate")
    nss = pl.nss_list()
    assert not isinstance(nss["ovs_certkey_left"], list), nss
    assert lsw.der_of_pem(old_pem).isdisjoint(
        lsw.der_of_pem(pl.nss_cert_pem("ovs_certkey_left")))

    # The tunnel goes: its peer certificate goes.
    left.vsctl("del-port", BRIDGE, "gnv0")
    labmod.poll(lambda: "ovs_cert_right" not in pl.nss_list(), 20,
                "ovs_cert_right to leave left's NSS database")
    labmod.poll(lambda: not any(c.startswith("gnv0-")
                                for c in pl.loaded()), 20,
                "gnv0's connections to leave left's pluto")


KEYGEN = {
    # RSA, as ovs-pki makes them.
    "rsa": ["-newkey", "rsa:2048"],
    # ECDSA, as ovsec-pki -k ec makes them.
    "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
}


def self_signed(host, key_type, cn=None, name="cert"):
    """Makes a self-signed certificate of CN 'cn' (default the host's
    name) with a 'key_type' key in HOSTDIR/pki/NAME.pem and .key; returns
    (cert path, key path)."""
    cn = cn or host.name
    d = host.path("pki")
    os.makedirs(d, mode=0o700, exist_ok=True)
    cert = os.path.join(d, name + ".pem")
    key = os.path.join(d, name + ".key")
    host.run(["openssl", "req", "-x509"] + KEYGEN[key_type]
             + ["-nodes", "-keyout", key, "-out", cert, "-days", "30",
                "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn])
    return cert, key


def peer_cert_pair(left, right, key_types, name="gnv0"):
    """Gives each host a self-signed certificate with a key of the type
    'key_types' maps its name to and a geneve tunnel 'name' pinning the
    other's certificate; returns {host name: (cert, key)}."""
    certs = {h.name: self_signed(h, key_types[h.name])
             for h in (left, right)}
    for h, peer in ((left, right), (right, left)):
        peer_copy = h.path("pki", "peer.pem")
        with open(certs[peer.name][0]) as src, open(peer_copy, "w") as dst:
            dst.write(src.read())
        set_global(h, certificate=certs[h.name][0],
                   private_key=certs[h.name][1])
        add_tunnel(h, name, "geneve", peer.ipv4, local_ip=h.ipv4,
                   remote_cert=peer_copy)
    return certs


def test_ecdsa(lsw_hosts, left, right):
    """ECDSA certificates (ovsec-pki -k ec) on both ends: without
    authby=ecdsa, pluto 4.10 signs with RSA ("RSA DSS sign function
    failed") and no IKE SA comes up.  (One end RSA and the other ECDSA
    does not work with pluto 4.10 whatever authby/leftauth/rightauth say:
    the ECDSA end refuses the RSA signature.)"""
    pl, pr = lsw_hosts()
    peer_cert_pair(left, right, {"left": "ec", "right": "ec"})
    wait_state([left, right], "gnv0", "CONFIGURED", timeout=30)
    wait_ike([pl, pr], "gnv0-")
    for p in (pl, pr):
        log = p.log_text()
        assert "sign function failed" not in log, log[-3000:]
        assert "AUTHENTICATION_FAILED" not in log, log[-3000:]


def test_nss_rotated_while_down(lsw_hosts, left, right):
    """Our certificate is replaced at the same path while the monitor is
    down: once it is back, NSS holds the new certificate under the same
    nickname, once, and nothing stale is left; the connections pluto still
    holds (added with the old certificate) are added again, not adopted,
    and a new IKE SA comes up with the new certificate, which the peer now
    pins."""
    pl, pr = lsw_hosts()
    certs = peer_cert_pair(left, right, {"left": "rsa", "right": "rsa"})
    wait_state([left, right], "gnv0", "CONFIGURED", timeout=30)
    before = wait_ike([pl, pr], "gnv0-")["left"]

    left.monitor.stop()
    cert, key = certs["left"]
    with open(cert) as f:
        old_pem = f.read()
    self_signed(left, "rsa", cn="left", name="cert")
    with open(cert) as f:
        new_pem = f.read()
    assert lsw.der_of_pem(old_pem) != lsw.der_of_pem(new_pem)
    # The peer pins the new one.
    with open(right.path("pki", "peer.pem"), "w") as f:
        f.write(new_pem)
    log_path = left.path("ovsec-monitor.log")
    log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    left.monitor.start()

    def rotated():
        return (lsw.der_of_pem(pl.nss_cert_pem("ovs_certkey_left"))
                == lsw.der_of_pem(new_pem))
    labmod.poll(rotated, 30, "NSS to hold left's new certificate")
    nss = pl.nss_list()
    assert not isinstance(nss["ovs_certkey_left"], list), nss
    assert set(k for k in nss if k.startswith("ovs_")) \
        == {"ovs_certkey_left", "ovs_cert_right"}, nss

    def new_sa():
        now = pl.ike_established("gnv0-")
        return now if now and set(now) - set(before) else None
    labmod.poll(new_sa, ESTABLISH_TIMEOUT,
                "a new IKE SA of gnv0 on left with the new certificate")
    with open(log_path) as f:
        f.seek(log_start)
        log = f.read()
    assert "adopting connection gnv0" not in log, log


def make_ca_chain(host):
    """Makes a root CA, an intermediate CA under it, and a certificate for
    'host' and one for the peer ("left" or "right", whichever 'host' is
    not) under the intermediate, in HOSTDIR/pki; returns the paths
    {"root", "inter", "left", "left.key", "right", "right.key"}."""
    d = host.path("pki")
    os.makedirs(d, mode=0o700, exist_ok=True)
    p = {k: os.path.join(d, k + ".pem") for k in ("root", "inter", "left",
                                                    "right")}
    keys = {k: os.path.join(d, k + ".key") for k in p}
    ext = os.path.join(d, "ca.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\n"
                "keyUsage=critical,keyCertSign,cRLSign\n")
    host.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
              "-keyout", keys["root"], "-out", p["root"], "-days", "30",
              "-subj", "/CN=ovsec root", "-addext",
              "basicConstraints=critical,CA:TRUE", "-addext",
              "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(name, issuer, extfile, cn):
        csr = os.path.join(d, name + ".csr")
        host.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                  "-keyout", keys[name], "-out", csr, "-subj", "/CN=" + cn])
        host.run(["openssl", "x509", "-req", "-in", csr, "-CA", p[issuer],
                  "-CAkey", keys[issuer], "-CAcreateserial", "-out",
                  p[name], "-days", "30", "-extfile", extfile])
    issue("inter", "root", ext, "ovsec intermediate")
    for name in ("left", "right"):
        leaf_ext = os.path.join(d, name + ".ext")
        with open(leaf_ext, "w") as f:
            f.write("subjectAltName=DNS:%s\n" % name)
        issue(name, "inter", leaf_ext, name)
    return dict(p, **{"left.key": keys["left"], "right.key": keys["right"]})


def test_ca_bundle(lsw_hosts, left, right):
    """CA mode with a CA file holding the root, then the intermediate that
    signed both ends' certificates: every certificate of the file goes
    into NSS (ovs_cert_cacert, ovs_cert_cacert_2) and the chain verifies;
    with the root alone in NSS it would not.  When the file shrinks, the
    entry of the certificate that left goes."""
    pl, pr = lsw_hosts()
    paths = make_ca_chain(left)
    with open(paths["root"]) as f:
        root_pem = f.read()
    with open(paths["inter"]) as f:
        inter_pem = f.read()
    for h, peer in ((left, right), (right, left)):
        bundle = h.path("pki-bundle.pem")
        with open(bundle, "w") as f:
            f.write(root_pem + inter_pem)
        set_global(h, certificate=paths[h.name],
                   private_key=paths[h.name + ".key"], ca_cert=bundle)
        add_tunnel(h, "gnv0", "geneve", peer.ipv4, local_ip=h.ipv4,
                   remote_name=peer.name)
    wait_state([left, right], "gnv0", "CONFIGURED", timeout=30)
    for p in (pl, pr):
        nss = p.nss_list()
        assert {"ovs_cert_cacert", "ovs_cert_cacert_2"} <= set(nss), nss
        assert lsw.der_of_pem(p.nss_cert_pem("ovs_cert_cacert")) \
            == lsw.der_of_pem(root_pem)
        assert lsw.der_of_pem(p.nss_cert_pem("ovs_cert_cacert_2")) \
            == lsw.der_of_pem(inter_pem)
    wait_ike([pl, pr], "gnv0-")

    # The bundle shrinks to the root alone: the intermediate's entry goes.
    with open(left.path("pki-bundle.pem"), "w") as f:
        f.write(root_pem)
    labmod.poll(lambda: "ovs_cert_cacert_2" not in pl.nss_list(), 20,
                "ovs_cert_cacert_2 to leave left's NSS database")
    nss = pl.nss_list()
    assert not isinstance(nss["ovs_cert_cacert"], list), nss
    assert lsw.der_of_pem(pl.nss_cert_pem("ovs_cert_cacert")) \
        == lsw.der_of_pem(root_pem)


def test_exit_cleanup(lsw_hosts, left, right):
    """ovs-appctl exit (which cleans up): our connections and secrets go; pluto
    keeps running."""
    pl, pr = lsw_hosts()
    psk_pair(left, right, "gre0", "gre")
    wait_state([left, right], "gre0", "CONFIGURED")
    left.appctl("ovsec-monitor", "exit")
    labmod.poll(lambda: not left.monitor.alive(), 15, "the monitor to exit")
    left.monitor.expect_down = True
    assert "gre0-1" not in pl.loaded()
    with open(pl.secrets) as f:
        assert "PSK" not in f.read()
    assert pl.daemon.alive()


def test_mismatched_psk_reason(lsw_hosts, left, right):
    """Different PSKs at the two ends (GRE: one connection): pluto tells
    only whack and its log why the IKE SA fails, so the monitor waits for
    the outcome of its retries, and tunnels/show says that authentication
    failed: on left (the initiator) after its first retry, and on right
    once its grace for the peer has passed and it tried itself.  The
    PSKs never appear."""
    lsw_hosts()
    psks = {left: "left-" + os.urandom(10).hex(),
            right: "right-" + os.urandom(10).hex()}
    for h, peer in ((left, right), (right, left)):
        add_tunnel(h, "bad0", "gre", peer.ipv4, psk=psks[h],
                   local_ip=h.ipv4)
    wait_state([left, right], "bad0", "CONFIGURED")
    why = re.compile(r"last attempt failed: .*AUTHENTICATION_FAILED")
    texts = {}

    def told(h):
        texts[h.name] = h.appctl("ovsec-monitor", "tunnels/show")
        return why.search(texts[h.name])
    try:
        labmod.poll(lambda: told(left), 20, "left to say why")
        # right waits 20 s (RESPONDER_GRACE_MS) before it tries itself.
        labmod.poll(lambda: told(right), 40, "right to say why")
    except labmod.LabError:
        raise AssertionError("tunnels/show does not say why:\n%s"
                             % "\n".join("--- %s ---\n%s" % kv
                                         for kv in texts.items())) from None
    for h in (left, right):
        for secret in psks.values():
            assert secret not in texts[h.name]
