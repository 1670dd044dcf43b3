# SPDX-License-Identifier: Apache-2.0
"""ovsec-monitor against a real ovsdb-server and a real charon on one lab
host: how OVSDB configuration becomes charon configuration (and kernel
policies), and nothing else.

Every assertion reads a real outcome: charon's connections (swanctl
--list-conns) and shared key ids (VICI get-shared), what charon logged
loading each connection, the kernel's XFRM policies (ip xfrm policy), the
monitor's answers to the real ovs-appctl, its log and its /proc entries.
The peers the tunnels point at do not exist: charon's attempts to reach
them go nowhere, which does not matter for configuration.

Timing figures are printed with a "BENCH:" prefix (see them with
pytest -s) and recorded as test properties.
"""

import json
import os
import re
import time

import pytest

import lab as labmod
import util_monitor as um

LEFT_IP = "192.0.2.1"

# The proposals ovsec uses by default, as charon logs them, and those of
# ipsec_ike=aes128-sha256-modp3072 (charon appends its defaults, since
# the value has no final "!").
DEFAULT_IKE_LOGGED = "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/MODP_2048"
CUSTOM_IKE = "aes128-sha256-modp3072"
CUSTOM_IKE_LOGGED = "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/" \
                    "MODP_3072, "

PORTS = {"geneve": 6081, "vxlan": 4789}


@pytest.fixture
def monitored(lab, ovsec_monitor_binary):
    """monitored(*monitor_args) -> host "left" running ovsdb-server (with
    bridge br0), charon and ovsec-monitor."""
    def start(*args):
        host = lab.add_host("left", 1)
        um.setup_host(host, ovsec_monitor_binary, *args)
        return host
    return start


def bench(record_property, name, value, unit):
    """Prints and records one figure."""
    print("BENCH: %s = %s %s" % (name, value, unit))
    record_property(name, "%s %s" % (value, unit))


def children_for(name, type):
    return um.expected_children(name, type)


def check_children(conn, name, type):
    """The children of 'conn' carry exactly the tunnel's protocol and
    port, in transport mode."""
    if type == "gre":
        assert conn.children == {
            name: ("TRANSPORT", "dynamic[gre]", "dynamic[gre]")}
    else:
        port = "dynamic[udp/%d]" % PORTS[type]
        assert conn.children == {
            name + "-in": ("TRANSPORT", port, "dynamic[udp]"),
            name + "-out": ("TRANSPORT", "dynamic[udp]", port),
        }


# ---- 1. lifecycle --------------------------------------------------------

@pytest.mark.parametrize("type", ["geneve", "vxlan", "gre"])
def test_tunnel_lifecycle(monitored, type, record_property):
    h = monitored()
    log = um.CharonLog(h)
    name = {"geneve": "gnv0", "vxlan": "vx0", "gre": "gre0"}[type]
    # A bystander of another type: it must be left alone throughout.
    other_type = "vxlan" if type != "vxlan" else "geneve"
    other = "by0"
    um.add_tunnels(h, [dict(name=other, type=other_type,
                            remote_ip="192.0.2.20", psk="bystander-psk")])
    um.wait_tunnel(h, other)
    base = {other: children_for(other, other_type)}
    um.wait_conns(h, base)
    start = log.mark()

    def expect(with_tunnel):
        want = dict(base)
        if with_tunnel:
            want[name] = children_for(name, type)
        conns = um.wait_conns(h, want)
        ids = {"ovs-psk-" + n for n in want}
        um.wait(lambda: um.charon_shared_ids(h), lambda s: s == ids,
                um.APPLY_TIMEOUT, "charon's shared keys to be %s" % ids)
        return conns

    # Add.
    mark = log.mark()
    t0 = time.monotonic()
    um.add_tunnels(h, [dict(name=name, type=type, remote_ip="192.0.2.2",
                            psk="psk-one")])
    um.wait_tunnel(h, name, min_version=1)
    conns = expect(True)
    bench(record_property, "%s_add_to_charon_s" % type,
          "%.3f" % (time.monotonic() - t0), "s")
    assert um.show_headers(h)[name] == (1, "CONFIGURED")
    assert conns[name].remote == "192.0.2.2"
    assert conns[name].local == "%any"
    check_children(conns[name], name, type)
    loads = log.conn_loads(mark)
    assert [(l.name, l.verb) for l in loads] == [(name, "added")]
    assert loads[0].conn["proposals"] == DEFAULT_IKE_LOGGED
    assert "loaded IKE shared key with id 'ovs-psk-%s' for: '192.0.2.2'" \
        % name in log.text(mark)

    # Change the PSK: the key and the connection are loaded again.
    mark = log.mark()
    h.vsctl("set", "interface", name, "options:psk=psk-two")
    um.wait_tunnel(h, name, min_version=2)
    expect(True)
    assert um.show_headers(h)[name] == (2, "CONFIGURED")
    assert [l.name for l in log.conn_loads(mark)] == [name]
    assert "loaded IKE shared key with id 'ovs-psk-%s'" % name \
        in log.text(mark)

    # Change remote_ip.
    mark = log.mark()
    h.vsctl("set", "interface", name, "options:remote_ip=192.0.2.3")
    um.wait_tunnel(h, name, min_version=3)
    conns = expect(True)
    assert um.show_headers(h)[name] == (3, "CONFIGURED")
    assert conns[name].remote == "192.0.2.3"
    check_children(conns[name], name, type)
    assert [l.name for l in log.conn_loads(mark)] == [name]
    assert "loaded IKE shared key with id 'ovs-psk-%s' for: '192.0.2.3'" \
        % name in log.text(mark)
    assert um.tunnel(h, name)["remote_ip"] == "192.0.2.3"

    # Add an ipsec_ike option: charon gets the new IKE proposals.
    mark = log.mark()
    h.vsctl("set", "interface", name, "options:ipsec_ike=" + CUSTOM_IKE)
    t = um.wait_tunnel(h, name, min_version=4)
    expect(True)
    assert um.show_headers(h)[name] == (4, "CONFIGURED")
    assert t["custom_options"] == {"ike": CUSTOM_IKE}
    loads = log.conn_loads(mark)
    assert [l.name for l in loads] == [name]
    assert loads[0].conn["proposals"].startswith(CUSTOM_IKE_LOGGED)
    assert "Custom Options: {'ike': '%s'}" % CUSTOM_IKE \
        in um.show_section(um.appctl(h, "tunnels/show"), name)

    # The bystander was never reloaded.
    assert all(l.name == name for l in log.conn_loads(start))
    assert um.show_headers(h)[other] == (1, "CONFIGURED")

    # No authentication option left: the tunnel no longer wants IPsec.
    h.vsctl("remove", "interface", name, "options", "psk")
    expect(False)
    assert name not in um.show_headers(h)
    assert um.stats(h)["tunnels"] == 1

    # Back again, then the port is deleted.
    h.vsctl("set", "interface", name, "options:psk=psk-three")
    um.wait_tunnel(h, name)
    expect(True)
    h.vsctl("del-port", name)
    expect(False)
    assert name not in um.show_headers(h)
    assert um.show_headers(h)[other] == (1, "CONFIGURED")
    assert h.monitor.alive()


# ---- 2. bulk -------------------------------------------------------------

def bulk_specs(n, prefix="gnv", psk_prefix="bulk-psk-"):
    """'n' geneve tunnels to distinct unreachable peers in 10.1.0.0/16."""
    return [dict(name="%s%d" % (prefix, i), type="geneve",
                 remote_ip="10.1.%d.%d" % (i // 250, i % 250 + 1),
                 psk="%s%d" % (psk_prefix, i))
            for i in range(n)]


def test_bulk_500_tunnels_in_one_transaction(monitored, record_property):
    n = 500
    h = monitored()
    specs = bulk_specs(n)
    names = {s["name"] for s in specs}

    vsctl_s, committed = um.add_tunnels(h, specs)
    st = um.wait_stats(h, timeout=40, interval=0.02, tunnels=n,
                       configured=n)
    to_configured = time.monotonic() - committed
    rss = um.rss_kib(h.monitor.pid)
    assert st["applied"] == n and st["invalid"] == 0, st

    # charon holds exactly the 500 connections and keys.
    conns = um.charon_conns(h)
    to_charon_checked = time.monotonic() - committed
    assert set(conns) == names
    for s in specs:
        c = conns[s["name"]]
        assert c.remote == s["remote_ip"]
        check_children(c, s["name"], "geneve")
    assert um.charon_shared_ids(h) == {"ovs-psk-" + x for x in names}
    headers = um.show_headers(h)
    assert headers == {x: (1, "CONFIGURED") for x in names}

    bench(record_property, "bulk500_vsctl_commit_s", "%.3f" % vsctl_s, "s")
    bench(record_property, "bulk500_commit_to_configured_s",
          "%.3f" % to_configured, "s")
    bench(record_property, "bulk500_commit_to_listed_by_swanctl_s",
          "%.3f" % to_charon_checked, "s")
    asan = "libasan" in um.read_file("/proc/%d/maps" % h.monitor.pid)
    bench(record_property, "bulk500_monitor_rss_kib", rss,
          "KiB (ASan build)" if asan else "KiB")

    # Delete all in one transaction.
    t0 = time.monotonic()
    h.vsctl("del-br", "br0", timeout=30)
    committed = time.monotonic()
    um.wait_stats(h, timeout=30, interval=0.02, tunnels=0)
    um.wait_conns(h, {}, timeout=30)
    um.wait(lambda: um.charon_shared_ids(h), lambda s: not s, 30,
            "charon's shared keys to be gone")
    bench(record_property, "bulk500_delete_commit_s",
          "%.3f" % (committed - t0), "s")
    bench(record_property, "bulk500_delete_commit_to_charon_empty_s",
          "%.3f" % (time.monotonic() - committed), "s")
    assert um.stats(h)["removed"] == n
    assert h.monitor.alive()


# ---- 3. incremental --------------------------------------------------------

def test_one_change_among_50_touches_one_connection(monitored,
                                                    record_property):
    n = 50
    h = monitored()
    log = um.CharonLog(h)
    um.add_tunnels(h, bulk_specs(n))
    before = um.wait_stats(h, timeout=20, tunnels=n, configured=n)
    assert before["applied"] == n
    mon_log_before = um.read_file(h.path("ovsec-monitor.log"))

    mark = log.mark()
    t0 = time.monotonic()
    h.vsctl("set", "interface", "gnv7", "options:psk=changed-psk")
    um.wait_tunnel(h, "gnv7", min_version=2)
    bench(record_property, "incremental_psk_change_to_configured_s",
          "%.3f" % (time.monotonic() - t0), "s")
    time.sleep(0.5)     # Anything else would show up by now.

    after = um.stats(h)
    assert after["applied"] == before["applied"] + 1
    assert after["removed"] == before["removed"]
    assert after["configured"] == n

    # charon was asked to load one key and one connection, both gnv7's.
    changes = [r for r in log.requests(mark)
               if r.startswith(("load-", "unload-"))]
    assert changes == ["load-shared", "load-conn"]
    assert [l.name for l in log.conn_loads(mark)] == ["gnv7"]
    keys = re.findall(r"loaded IKE shared key with id '([^']*)'",
                      log.text(mark))
    assert keys == ["ovs-psk-gnv7"]

    # The monitor updated one tunnel; the others kept their version.
    new_lines = um.read_file(h.path("ovsec-monitor.log"))[
        len(mon_log_before):]
    assert re.findall(r"\|([^|\s]+): updating ", new_lines) == ["gnv7"]
    versions = {t["name"]: t["version"] for t in um.tunnels_json(h)}
    assert versions.pop("gnv7") == 2
    assert set(versions.values()) == {1}


# ---- 4. validation ----------------------------------------------------------

INVALID = [
    # name, tunnel, options:KEY named in the reason, cause in the reason
    ("bad1", dict(type="geneve", remote_ip="10.0.0", psk="x"),
     "options:remote_ip", '"10.0.0" is not an IP address'),
    ("bad2", dict(type="vxlan", remote_ip="192.0.2.12", psk="x",
                  remote_cert="/nonexistent/peer.pem"),
     "options:psk", "cannot be combined with options:remote_cert"),
    ("bad3", dict(type="gre", remote_ip="192.0.2.13", psk="x",
                  ipsec_frobnicate="yes"),
     "options:ipsec_frobnicate", "unknown IPsec option"),
    ("bad4", dict(type="geneve", remote_ip="192.0.2.14", psk="x",
                  ipsec_ike="aes128-sha256-modp2048\nproposals = null"),
     "options:ipsec_ike", "control character"),
    ("bad5", dict(type="geneve", remote_ip="192.0.2.15", psk="x",
                  ipsec_ike="aes128-sha256-modp2048} children { evil {"),
     "options:ipsec_ike", "unexpected '}'"),
]

FIXES = {
    "bad1": ["set", "interface", "bad1", "options:remote_ip=192.0.2.11"],
    "bad2": ["remove", "interface", "bad2", "options", "remote_cert"],
    "bad3": ["remove", "interface", "bad3", "options", "ipsec_frobnicate"],
    "bad4": ["set", "interface", "bad4",
             "options:ipsec_ike=aes128-sha256-modp2048"],
    "bad5": ["set", "interface", "bad5",
             "options:ipsec_ike=aes128-sha256-modp2048"],
}


def test_invalid_tunnels_are_refused_by_name(monitored):
    h = monitored()
    log = um.CharonLog(h)
    um.add_tunnels(h, [dict(name="good0", type="geneve",
                            remote_ip="192.0.2.10", psk="good-psk")])
    um.wait_tunnel(h, "good0")
    um.wait_conns(h, {"good0": ["good0-in", "good0-out"]})
    mark = log.mark()

    um.add_tunnels(h, [dict(name=name, **spec)
                       for name, spec, _, _ in INVALID])
    show = um.appctl(h, "tunnels/show")
    for name, _, key, cause in INVALID:
        t = um.wait_tunnel(h, name, state="INVALID")
        # The reason names the interface, the option and the cause.
        assert t["reason"].startswith("%s: %s: " % (name, key)), t
        assert cause in t["reason"], t
        assert "\n" not in t["reason"]
        show = um.appctl(h, "tunnels/show")
        section = um.show_section(show, name)
        assert section.startswith("Interface name: %s v1 (INVALID)" % name)
        reason = [l for l in section.splitlines()
                  if l.strip().startswith("Reason:")]
        assert len(reason) == 1, section
        assert key in reason[0] and cause in reason[0], section
    # Injected text stays inside one escaped line everywhere.
    assert not re.search(r"^\s*proposals = null", show, re.M)
    assert not re.search(r"^\s*children \{", show, re.M)
    mon_log = um.read_file(h.path("ovsec-monitor.log"))
    for name, _, key, cause in INVALID:
        lines = [l for l in mon_log.splitlines()
                 if "%s: %s: " % (name, key) in l]
        assert lines and cause in lines[0], (name, mon_log)
    assert not re.search(r"^proposals = null", mon_log, re.M)
    assert um.stats(h)["invalid"] == len(INVALID)

    # Nothing reached charon; the valid tunnel was not touched.
    assert um.charon_conns(h).keys() == {"good0"}
    assert um.charon_shared_ids(h) == {"ovs-psk-good0"}
    assert [r for r in log.requests(mark)
            if r.startswith(("load-", "unload-"))] == []
    good = um.tunnel(h, "good0")
    assert (good["state"], good["version"]) == ("CONFIGURED", 1)

    # Fixing the configuration configures them.
    for name in FIXES:
        h.vsctl(*FIXES[name])
    want = {"good0": ["good0-in", "good0-out"]}
    for name, spec, _, _ in INVALID:
        t = um.wait_tunnel(h, name, state="CONFIGURED", min_version=2)
        assert t["reason"] is None
        want[name] = children_for(name, spec["type"])
    conns = um.wait_conns(h, want)
    assert conns["bad1"].remote == "192.0.2.11"
    for name, spec, _, _ in INVALID:
        check_children(conns[name], name, spec["type"])
    assert um.charon_shared_ids(h) == {"ovs-psk-" + x for x in want}
    good = um.tunnel(h, "good0")
    assert (good["state"], good["version"]) == ("CONFIGURED", 1)


# ---- 5. secrets ------------------------------------------------------------

PSK1 = "s3cr3t-psk-XYZ"
PSK2 = "s3cr3t-psk-XYZ-rotated"
# Any appearance of the common part, in text or as hex, is a leak.
MARKERS = ("s3cr3t", b"s3cr3t".hex(), b"s3cr3t".hex().upper())


def assert_no_secret(what, data):
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    for m in MARKERS:
        assert m not in data, "PSK (%s) found in %s" % (m, what)


def test_psk_never_leaks(monitored):
    h = monitored("-vdbg")
    mon = h.monitor
    um.add_tunnels(h, [
        dict(name="gnv0", type="geneve", remote_ip="192.0.2.2", psk=PSK1),
        dict(name="gre0", type="gre", remote_ip="192.0.2.3", psk=PSK1),
    ])
    um.wait_tunnel(h, "gnv0")
    um.wait_tunnel(h, "gre0")
    h.vsctl("set", "interface", "gnv0", "options:psk=" + PSK2)
    um.wait_tunnel(h, "gnv0", min_version=2)
    h.vsctl("set", "interface", "gnv0", "options:remote_ip=192.0.2.4")
    um.wait_tunnel(h, "gnv0", min_version=3)
    um.appctl(h, "refresh")

    outputs = {}
    for cmd in (["tunnels/show"], ["tunnels/show", "--json"],
                ["ipsec/status"], ["xfrm/state"], ["xfrm/policies"],
                ["vlog/list"], ["stats/show"], ["list-commands"]):
        outputs[" ".join(cmd)] = um.appctl(h, *cmd)
    for cmd, out in outputs.items():
        assert_no_secret(cmd, out)
    show = outputs["tunnels/show"]
    for name in ("gnv0", "gre0"):
        assert re.search(r"^  PSK:\s+<redacted>$",
                         um.show_section(show, name), re.M), show
    assert {t["psk"] for t in json.loads(outputs["tunnels/show --json"])} \
        == {"<redacted>"}

    for f in ("cmdline", "environ"):
        with open("/proc/%d/%s" % (mon.pid, f), "rb") as fp:
            assert_no_secret("/proc/PID/" + f, fp.read())

    assert um.appctl(h, "exit") == ""
    assert um.wait_exit(mon) == 0

    # No file the daemons wrote holds it; only OVSDB's database does.
    checked = []
    for root, _, files in os.walk(h.dir):
        for f in files:
            path = os.path.join(root, f)
            if f == "conf.db" or not os.path.isfile(path):
                continue
            with open(path, "rb") as fp:
                assert_no_secret(path, fp.read())
            checked.append(f)
    assert "ovsec-monitor.log" in checked and "charon.log" in checked
    # The debug log did trace the key loads, without the key.
    mon_log = um.read_file(h.path("ovsec-monitor.log"))
    assert "sending load-shared request" in mon_log
    assert "data=<redacted>" in mon_log


# ---- 6. control commands ----------------------------------------------------

def test_control_commands(monitored, ovsec_monitor_binary):
    # A long reconcile interval: only "refresh" reconciles in this test.
    h = monitored("--reconcile-interval=600")
    log = um.CharonLog(h)
    um.add_tunnels(h, [dict(name="gnv0", type="geneve",
                            remote_ip="192.0.2.2", psk="ctl-psk")])
    um.wait_tunnel(h, "gnv0")
    um.wait_conns(h, {"gnv0": ["gnv0-in", "gnv0-out"]})

    cmds = um.appctl(h, "list-commands")
    listed = {line.split()[0] for line in cmds.splitlines()[1:]
              if line.strip()}
    for c in ("tunnels/show", "xfrm/policies", "xfrm/state", "ipsec/status",
              "refresh", "exit", "vlog/set", "vlog/list", "version",
              "stats/show"):
        assert c in listed, cmds

    version = h.run([ovsec_monitor_binary, "--version"]).stdout.strip()
    assert um.appctl(h, "version").strip() == version
    assert re.match(r"^ovsec-monitor \(ovsec\) \d+\.\d+", version)

    tunnels = json.loads(um.appctl(h, "tunnels/show", "--json"))
    assert len(tunnels) == 1
    t = tunnels[0]
    assert {"name", "version", "state", "reason", "type", "local_ip",
            "remote_ip", "address_family", "psk", "custom_options",
            "skb_mark", "ofport", "cfm_state", "active_connections",
            "remote_cert", "remote_name", "ca_cert", "local_cert",
            "local_key", "local_name"} <= set(t)
    assert (t["name"], t["version"], t["state"], t["type"], t["remote_ip"],
            t["address_family"], t["psk"], t["reason"]) == \
        ("gnv0", 1, "CONFIGURED", "geneve", "192.0.2.2", "IPv4",
         "<redacted>", None)
    res = um.appctl(h, "tunnels/show", "--bogus", check=False)
    assert res.returncode != 0 and "--bogus" in res.stderr

    # xfrm/policies shows charon's trap policies, as the kernel has them.
    pol = um.appctl(h, "xfrm/policies")
    kernel = {(p.selector, p.dir) for p in um.xfrm_policies(h)}
    shown = set()
    lines = pol.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("src ") and i + 1 < len(lines) \
                and "dir" in lines[i + 1].split():
            words = lines[i + 1].split()
            shown.add((" ".join(line.split()),
                       words[words.index("dir") + 1]))
    for sel, d in (("src %s/32 dst 192.0.2.2/32 proto udp dport 6081"
                    % LEFT_IP, "out"),
                   ("src 192.0.2.2/32 dst %s/32 proto udp sport 6081"
                    % LEFT_IP, "in"),
                   ("src %s/32 dst 192.0.2.2/32 proto udp sport 6081"
                    % LEFT_IP, "out"),
                   ("src 192.0.2.2/32 dst %s/32 proto udp dport 6081"
                    % LEFT_IP, "in")):
        assert (sel, d) in kernel, kernel
        assert (sel, d) in shown, pol
    assert shown == kernel
    assert pol.count("mode transport") == 4

    states = um.appctl(h, "xfrm/state")
    kernel_states = h.run(["ip", "xfrm", "state"]).stdout
    assert states.strip() == "" and kernel_states.strip() == ""

    # stats/show: the monitor's counters, then the backend's (a summary,
    # cheap at any N, unlike ipsec/status's listing).
    st = um.appctl(h, "stats/show")
    assert re.search(r"^tunnels: 1$", st, re.M), st
    assert re.search(r"^configured: 1$", st, re.M), st
    assert re.search(r"VICI messages sent: [1-9]\d*$", st, re.M), st

    status = um.appctl(h, "ipsec/status")
    assert "connected, charon 5." in status
    assert "gnv0: IKEv2, %any...192.0.2.2" in status
    assert "gnv0-in: TRANSPORT, dynamic[udp/6081] === dynamic[udp]" \
        in status
    assert "gnv0-out: TRANSPORT, dynamic[udp] === dynamic[udp/6081]" \
        in status

    # refresh: charon lost the connection behind the monitor's back (a
    # swanctl --load-conns with an empty configuration unloads it); a
    # refresh notices and loads it again.
    h.write("swanctl/swanctl.conf", "")
    h.swanctl("--load-conns")
    um.wait_conns(h, {})
    mark = log.mark()
    t0 = time.monotonic()
    assert um.appctl(h, "refresh") == ""
    um.wait_conns(h, {"gnv0": ["gnv0-in", "gnv0-out"]})
    print("BENCH: refresh_reload_s = %.3f s" % (time.monotonic() - t0))
    assert "list-conns" in log.requests(mark)
    assert [l.name for l in log.conn_loads(mark)] == ["gnv0"]
    assert "charon no longer has the connection" \
        in um.read_file(h.path("ovsec-monitor.log"))

    # vlog/set and vlog/list.
    def level(module, dest):
        out = um.appctl(h, "vlog/list")
        header = None
        for line in out.splitlines():
            words = line.split()
            if words[:1] == ["console"]:
                header = words
            elif header and words[:1] == [module]:
                return words[1 + header.index(dest)]
        raise AssertionError("no %s in vlog/list:\n%s" % (module, out))
    assert level("monitor", "file") != "DBG"
    assert um.appctl(h, "vlog/set", "monitor:file:dbg") == ""
    assert level("monitor", "file") == "DBG"
    assert level("strongswan", "file") != "DBG"
    res = um.appctl(h, "vlog/set", "nosuchmodule:file:dbg", check=False)
    assert res.returncode != 0 and "nosuchmodule" in res.stderr

    res = um.appctl(h, "no/such/command", check=False)
    assert res.returncode != 0
    assert '"no/such/command" is not a valid command' in res.stderr
    assert h.monitor.alive()


def test_exit_unloads_everything(monitored):
    h = monitored()
    um.add_tunnels(h, [
        dict(name="gnv0", type="geneve", remote_ip="192.0.2.2", psk="a"),
        dict(name="vx0", type="vxlan", remote_ip="192.0.2.3", psk="b"),
        dict(name="gre0", type="gre", remote_ip="192.0.2.4", psk="c"),
    ])
    um.wait_stats(h, configured=3)
    um.wait_conns(h, {"gnv0": ["gnv0-in", "gnv0-out"],
                      "vx0": ["vx0-in", "vx0-out"], "gre0": ["gre0"]})
    assert len(um.charon_shared_ids(h)) == 3

    t0 = time.monotonic()
    res = um.appctl(h, "exit", check=False)
    assert res.returncode == 0, res.stderr
    assert um.wait_exit(h.monitor) == 0
    print("BENCH: exit_with_cleanup_s = %.3f s" % (time.monotonic() - t0))
    # The reply came after the unloading: charon is already empty.
    assert um.charon_conns(h) == {}
    assert um.charon_shared_ids(h) == set()
    assert "unloading everything" in um.read_file(
        h.path("ovsec-monitor.log"))


def test_answers_to_upstream_name(monitored):
    """ovs-vswitchd accepts IPsec options only while
    RUNDIR/ovs-monitor-ipsec.pid is locked by a live process, and scripts
    say "ovs-appctl -t ovs-monitor-ipsec": ovsec-monitor answers to that
    name too, and takes it away when it exits."""
    h = monitored()
    alias = h.path("ovs-monitor-ipsec.pid")
    assert os.path.islink(alias)
    assert labmod.pidfile_locked(alias)
    with open(alias) as f:
        assert int(f.read().split()[0]) == h.monitor.pid
    res = h.appctl("ovs-monitor-ipsec", "version")
    assert res.startswith("ovsec-monitor (ovsec)")
    assert um.appctl(h, "exit", "--no-cleanup", check=False).returncode == 0
    assert um.wait_exit(h.monitor) == 0
    assert not os.path.lexists(alias)
    assert not [f for f in os.listdir(h.path())
                if f.startswith("ovs-monitor-ipsec.")]


def test_exit_no_cleanup_leaves_charon_alone(monitored):
    h = monitored()
    um.add_tunnels(h, [
        dict(name="gnv0", type="geneve", remote_ip="192.0.2.2", psk="a"),
        dict(name="gre0", type="gre", remote_ip="192.0.2.4", psk="c"),
    ])
    um.wait_stats(h, configured=2)
    want = {"gnv0": ["gnv0-in", "gnv0-out"], "gre0": ["gre0"]}
    um.wait_conns(h, want)
    log = um.CharonLog(h)
    mark = log.mark()

    assert um.appctl(h, "exit", "--no-cleanup") == ""
    assert um.wait_exit(h.monitor) == 0
    time.sleep(0.3)
    assert {k: sorted(c.children) for k, c in um.charon_conns(h).items()} \
        == want
    assert um.charon_shared_ids(h) == {"ovs-psk-gnv0", "ovs-psk-gre0"}
    assert not [r for r in log.requests(mark) if r.startswith("unload-")]


# ---- 7. ipsec_skb_mark ------------------------------------------------------

FALLBACK_MARK = "0/0xffffffff"


def drop_policies(h):
    """ovsec's ipsec_skb_mark drop policies: block, with a mark."""
    return {p for p in um.xfrm_policies(h)
            if p.action == "block" and p.mark != FALLBACK_MARK}


def fallback_drops(h):
    """ovsec's per-tunnel fallback drop policies: block, for packets
    without a mark."""
    return {p.selector for p in um.xfrm_policies(h)
            if p.action == "block" and p.mark == FALLBACK_MARK
            and p.dir == "out"}


def test_fallback_drop_policies(monitored, ovsec_monitor_binary):
    """Each tunnel that wants IPsec has an outbound block policy for its
    own packets below charon's policies, so they are dropped rather than
    sent in plaintext whenever charon has no policy for them.  It follows
    the tunnel's configuration and goes with the tunnel, also when the
    tunnel was deleted while no monitor ran."""
    h = monitored()
    um.add_tunnels(h, [
        dict(name="gnv0", type="geneve", remote_ip="192.0.2.2", psk="a"),
        dict(name="vx0", type="vxlan", remote_ip="192.0.2.3", psk="b",
             local_ip="192.0.2.1"),
        dict(name="gre0", type="gre", remote_ip="192.0.2.4", psk="c"),
    ])
    um.wait_stats(h, configured=3)
    assert fallback_drops(h) == {
        "src 0.0.0.0/0 dst 192.0.2.2/32 proto udp dport 6081",
        "src 192.0.2.1/32 dst 192.0.2.3/32 proto udp dport 4789",
        "src 0.0.0.0/0 dst 192.0.2.4/32 proto gre",
    }
    # charon's trap policy for the same packets takes precedence: a lower
    # priority value than ours, on the same (vx0) or a narrower selector.
    text = h.run(["ip", "xfrm", "policy"]).stdout
    ours = re.findall(r"src 192\.0\.2\.1/32 dst 192\.0\.2\.3/32 proto udp "
                      r"dport 4789 \n\s+dir out (?:action block )?priority (\d+)",
                      text)
    assert sorted(int(p) for p in ours)[-1] == 16000001, text
    assert min(int(p) for p in ours) < 16000000, text

    h.vsctl("set", "interface", "gnv0", "options:remote_ip=192.0.2.5")
    h.vsctl("del-port", "gre0")
    um.wait(lambda: fallback_drops(h), lambda d: d == {
        "src 0.0.0.0/0 dst 192.0.2.5/32 proto udp dport 6081",
        "src 192.0.2.1/32 dst 192.0.2.3/32 proto udp dport 4789",
    }, 5, "the fallback drops to follow the tunnels")

    # Deleted while no monitor runs: gone once a monitor is back.
    assert um.appctl(h, "exit", "--no-cleanup", check=False).returncode == 0
    assert um.wait_exit(h.monitor) == 0
    h.vsctl("del-port", "vx0")
    h.monitor.start()
    um.wait(lambda: fallback_drops(h), lambda d: d == {
        "src 0.0.0.0/0 dst 192.0.2.5/32 proto udp dport 6081",
    }, 5, "the stale fallback drop to go")


def expected_drops(mark):
    out = set()
    for any_ in ("src 0.0.0.0/0 dst 0.0.0.0/0", "src ::/0 dst ::/0"):
        for what in ("proto udp dport 6081", "proto udp dport 4789",
                     "proto gre"):
            out.add(um.Policy("%s %s" % (any_, what), "out", "block", mark))
    return out


def test_skb_mark_drop_policies(monitored, record_property):
    h = monitored()
    assert drop_policies(h) == set()

    def set_mark(value):
        t0 = time.monotonic()
        h.vsctl("set", "Open_vSwitch", ".",
                "other_config:ipsec_skb_mark=" + value)
        return t0

    t0 = set_mark("0x1/0x1")
    um.wait(lambda: drop_policies(h), lambda p: p == expected_drops("0x1/0x1"),
            2, "drop policies for 0x1/0x1")
    bench(record_property, "skb_mark_install_s",
          "%.3f" % (time.monotonic() - t0), "s")
    um.add_tunnels(h, [dict(name="gnv0", type="geneve",
                            remote_ip="192.0.2.2", psk="p")])
    mark = um.wait_tunnel(h, "gnv0")["skb_mark"]
    assert [int(x, 0) for x in mark.split("/")] == [1, 1], mark
    assert "SKB mark:       0x1/0x1" in um.appctl(h, "tunnels/show")

    # A malformed value is reported and changes nothing.
    set_mark("0x1/nonsense")
    um.wait(lambda: um.read_file(h.path("ovsec-monitor.log")),
            lambda s: "other_config:ipsec_skb_mark" in s, 5,
            "the malformed skb mark to be logged")
    line = [l for l in um.read_file(h.path("ovsec-monitor.log"))
            .splitlines() if "other_config:ipsec_skb_mark" in l][-1]
    assert "|ERR|" in line and "0x1/nonsense" in line, line
    assert "keeping the previous drop policies" in line
    time.sleep(0.3)
    assert drop_policies(h) == expected_drops("0x1/0x1")

    t0 = set_mark("0x2/0x2")
    um.wait(lambda: drop_policies(h), lambda p: p == expected_drops("0x2/0x2"),
            2, "drop policies for 0x2/0x2 only")
    bench(record_property, "skb_mark_change_s",
          "%.3f" % (time.monotonic() - t0), "s")

    t0 = time.monotonic()
    h.vsctl("remove", "Open_vSwitch", ".", "other_config",
            "ipsec_skb_mark")
    um.wait(lambda: drop_policies(h), lambda p: p == set(), 2,
            "drop policies to be removed")
    bench(record_property, "skb_mark_remove_s",
          "%.3f" % (time.monotonic() - t0), "s")
    # charon's own policies for the tunnel were not touched.
    assert any("dport 6081" in p.selector and p.action == "allow"
               for p in um.xfrm_policies(h))
    assert h.monitor.alive()


# ---- 8. command line --------------------------------------------------------

def run_monitor(host, binary, *args):
    """Runs ovsec-monitor in 'host' to completion (sanitizer reports go to
    the host's directory, where the lab looks for them)."""
    env = {"ASAN_OPTIONS": "detect_leaks=1:log_path=" + host.path("asan"),
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    res = host.run([binary] + list(args), check=False, env=env)
    assert "runtime error" not in res.stderr, res.stderr
    return res


def test_cmdline_unknown_ike_daemon_is_refused(left, ovsec_monitor_binary):
    res = run_monitor(left, ovsec_monitor_binary, "--ike-daemon=racoon")
    assert res.returncode != 0 and '"racoon"' in res.stderr
    assert "strongswan or libreswan" in res.stderr


@pytest.mark.parametrize("database", ["ssl:1.2.3.4:5", "foo", "tcp:",
                                      "unix:"])
def test_cmdline_bad_database(left, ovsec_monitor_binary, database):
    res = run_monitor(left, ovsec_monitor_binary,
                      "--vici=unix:" + left.vici_sock, database)
    assert res.returncode != 0
    assert database in res.stderr, res.stderr
    assert "OVSDB remote" in res.stderr, res.stderr


def test_cmdline_help_and_version(left, ovsec_monitor_binary):
    res = run_monitor(left, ovsec_monitor_binary, "--help")
    assert res.returncode == 0
    for opt in ("usage:", "--ike-daemon", "--vici", "--pidfile",
                "--detach", "--log-file", "--no-xfrm", "--ipsec-conf"):
        assert opt in res.stdout, res.stdout
    res = run_monitor(left, ovsec_monitor_binary, "--version")
    assert res.returncode == 0
    assert re.match(r"^ovsec-monitor \(ovsec\) \d+\.\d+", res.stdout)
    res = run_monitor(left, ovsec_monitor_binary, "--no-such-option")
    assert res.returncode != 0 and "--help" in res.stderr
    res = run_monitor(left, ovsec_monitor_binary, "--command-timeout=0")
    assert res.returncode != 0 and "command-timeout" in res.stderr


def test_cmdline_libreswan_only_flags_are_noted(monitored):
    flags = ["--ipsec-conf=/etc/ipsec.conf",
             "--root-ipsec-conf=/etc/ipsec.conf", "--ipsec-d=/etc/ipsec.d",
             "--ipsec-secrets=/etc/ipsec.secrets",
             "--ipsec-ctl=/run/pluto/pluto.ctl", "--no-restart-ike-daemon"]
    h = monitored(*flags)
    log = um.read_file(h.path("ovsec-monitor.log"))
    for f in flags[:5]:
        opt = f.split("=")[0]
        assert "%s applies to Libreswan only; ignored with strongswan" \
            % opt in log, log
    # And the daemon works as usual.
    um.add_tunnels(h, [dict(name="gnv0", type="geneve",
                            remote_ip="192.0.2.2", psk="p")])
    um.wait_tunnel(h, "gnv0")
    um.wait_conns(h, {"gnv0": ["gnv0-in", "gnv0-out"]})
