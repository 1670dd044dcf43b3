# SPDX-License-Identifier: Apache-2.0
"""Tests of the integration lab itself, with the real ovsdb-server and
charon: if these pass, a failing ovsec-monitor test is about the monitor,
not the lab."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import lab as labmod


# ---- underlay --------------------------------------------------------

def test_hosts_ping_ipv4(left, right):
    left.ping(right.ipv4)
    right.ping(left.ipv4)


def test_hosts_ping_ipv6(left, right):
    left.ping(right.ipv6)
    right.ping(left.ipv6)


def test_host_has_only_its_own_interfaces(left, right):
    links = left.run(["ip", "-o", "link", "show"]).stdout
    names = sorted(line.split(":")[1].strip().split("@")[0]
                   for line in links.splitlines())
    assert names == ["eth0", "lo"]
    addrs = left.run(["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
    assert "inet 192.0.2.1/24" in addrs
    assert "inet6 fd00::1/64" in addrs
    assert "192.0.2.2" not in addrs
    # sysfs is remounted for the host's network namespace.
    assert sorted(left.run(["ls", "/sys/class/net"]).stdout.split()) \
        == ["eth0", "lo"]


def test_run_is_private_per_host(left, right):
    left.sh("echo left > /run/lab-marker")
    right.sh("echo right > /run/lab-marker")
    assert left.run(["cat", "/run/lab-marker"]).stdout == "left\n"
    assert right.run(["cat", "/run/lab-marker"]).stdout == "right\n"
    # /run inside the host is HOSTDIR/run outside, and the real /run is
    # untouched.
    with open(os.path.join(left.rundir, "lab-marker")) as f:
        assert f.read() == "left\n"
    assert not os.path.exists("/run/lab-marker")


def test_capture_sees_pings(left, right):
    cap = right.capture("icmp", "icmp")
    left.run(["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1",
              right.ipv4])
    packets = cap.stop()
    requests = [p for p in packets if "echo request" in p]
    replies = [p for p in packets if "echo reply" in p]
    assert len(requests) == 3, packets
    assert len(replies) == 3, packets


def test_socket_paths_fit_sun_path(left):
    # Unix socket paths must stay under 108 bytes, with room for
    # "ovsec-monitor.<pid>.ctl".
    longest = left.path("ovsec-monitor.4194304.ctl")
    assert len(longest.encode()) < 100, longest


# ---- ovsdb-server ----------------------------------------------------

def test_ovsdb_server_answers_vsctl(left, right, ovsdb_server, vsctl):
    ovsdb_server(left)
    ovsdb_server(right)
    vsctl(left, "add-br", "br-ipsec")
    vsctl(left, "add-port", "br-ipsec", "tun", "--", "set", "interface",
          "tun", "type=gre", "options:remote_ip=" + right.ipv4,
          "options:psk=swordfish")
    assert vsctl(left, "list-br") == "br-ipsec"
    assert vsctl(left, "list-ports", "br-ipsec") == "tun"
    assert vsctl(left, "get", "interface", "tun", "type") == "gre"
    assert vsctl(left, "get", "interface", "tun",
                 "options:remote_ip") == '"192.0.2.2"'
    # Each host has its own database.
    assert vsctl(right, "list-br") == ""
    # ovs-vsctl finds the database through OVS_RUNDIR without --db.
    assert left.run(["ovs-vsctl", "--no-wait", "--timeout=5",
                     "list-br"]).stdout.strip() == "br-ipsec"


def test_ovsdb_server_restart_keeps_database(left, ovsdb_server, vsctl):
    db = ovsdb_server(left)
    vsctl(left, "add-br", "br0")
    old_pid = db.pid
    db.restart()
    assert db.pid != old_pid
    assert vsctl(left, "list-br") == "br0"
    db.kill()
    assert not labmod.unix_connectable(left.db_sock)
    db.start()
    assert vsctl(left, "list-br") == "br0"


def test_ovsdb_server_appctl(left, ovsdb_server):
    ovsdb_server(left)
    out = left.appctl(left.path("ovsdb-server.ctl"), "ovsdb-server/list-dbs")
    assert "Open_vSwitch" in out.split()


# ---- charon ----------------------------------------------------------

def test_charon_starts_per_host(left, right, charon, swanctl):
    cl = charon(left)
    cr = charon(right)
    for host, d in ((left, cl), (right, cr)):
        # No connections loaded yet, but the VICI round trip works.
        assert swanctl(host, "--list-conns") == ""
        stats = swanctl(host, "--stats")
        assert "loaded plugins:" in stats
        plugins = stats.split("loaded plugins:")[1].split()
        for p in ("vici", "kernel-netlink", "socket-default", "openssl"):
            assert p in plugins, stats
        # Each charon has its own /var/run/charon.pid.
        with open(os.path.join(host.rundir, "charon.pid")) as f:
            assert int(f.read()) == d.pid
    log = labmod.tail(left.path("charon.log"))
    assert "Starting IKE charon daemon" in log
    assert "failed to load" not in log


def test_charon_restart_and_crash(left, charon, swanctl):
    d = charon(left)
    d.restart()
    assert swanctl(left, "--list-conns") == ""
    d.kill()            # Leaves a stale pid file and socket behind.
    assert not labmod.unix_connectable(left.vici_sock)
    d.start()
    assert swanctl(left, "--list-conns") == ""


SWANCTL_CONF = """\
connections {
    lab {
        version = 2
        local_addrs = %(local)s
        remote_addrs = %(remote)s
        proposals = aes256gcm16-prfsha256-ecp256
        dpd_delay = 0
        local {
            auth = psk
            id = %(local)s
        }
        remote {
            auth = psk
            id = %(remote)s
        }
        children {
            lab {
                mode = transport
                esp_proposals = aes256gcm16-ecp256
                start_action = none
            }
        }
    }
}
secrets {
    ike-lab {
        id-local = %(local)s
        id-remote = %(remote)s
        secret = "lab-test-%(psk)s"
    }
}
"""


def _load_psk_conn(host, peer, psk, swanctl):
    conf = host.write("swanctl/swanctl.conf", SWANCTL_CONF % {
        "local": host.ipv4, "remote": peer.ipv4, "psk": psk})
    assert oct(os.stat(conf).st_mode & 0o777) == "0o600"
    out = swanctl(host, "--load-all", "--noprompt")
    assert "loaded connection 'lab'" in out, out
    assert "loaded ike secret 'ike-lab'" in out, out


def test_ike_sa_established_between_charons(left, right, charon, swanctl):
    charon(left)
    charon(right)
    psk = os.urandom(8).hex()
    _load_psk_conn(left, right, psk, swanctl)
    _load_psk_conn(right, left, psk, swanctl)
    assert "lab: IKEv2" in swanctl(left, "--list-conns")

    # The CHILD_SA may fail to install (no ESP in this kernel), so the
    # initiate result is not checked; the IKE SA is what must come up.
    left.swanctl("--initiate", "--child", "lab", "--timeout", "5",
                 check=False, timeout=10)
    labmod.poll(lambda: left.ike_sas().get("lab") == "ESTABLISHED"
                and right.ike_sas().get("lab") == "ESTABLISHED",
                8, "IKE SA 'lab' ESTABLISHED on both hosts")
    sas = swanctl(right, "--list-sas")
    assert "local  '192.0.2.2' @ 192.0.2.2[" in sas, sas
    assert "remote '192.0.2.1' @ 192.0.2.1[" in sas, sas
    # The PSK never shows up in logs.
    for host in (left, right):
        assert psk not in labmod.tail(host.path("charon.log"), 100000)


def test_ike_sa_fails_with_wrong_psk(left, right, charon, swanctl):
    charon(left)
    charon(right)
    _load_psk_conn(left, right, "one", swanctl)
    _load_psk_conn(right, left, "two", swanctl)
    res = left.swanctl("--initiate", "--child", "lab", "--timeout", "5",
                       check=False, timeout=10)
    assert res.returncode != 0
    assert left.ike_sas().get("lab") != "ESTABLISHED"
    assert right.ike_sas().get("lab") != "ESTABLISHED"


# ---- daemon bookkeeping ----------------------------------------------

def test_daemon_that_exits_early_reports_its_output(left):
    d = left.add_daemon("doomed", ["sh", "-c", "echo boom >&2; exit 3"],
                        ready=lambda: False)
    with pytest.raises(labmod.LabError) as e:
        d.start()
    assert "exited (status 3) before becoming ready" in str(e.value)
    assert "boom" in str(e.value)


def test_daemon_not_ready_is_stopped(left):
    d = left.add_daemon("sleepy", ["sleep", "30"], ready=lambda: False,
                        ready_timeout=0.5)
    with pytest.raises(labmod.LabError, match="not ready after 0.5s"):
        d.start()
    assert not d.alive()


def test_command_failure_shows_output(left):
    with pytest.raises(labmod.CommandError) as e:
        left.sh("echo to-stdout; echo to-stderr >&2; exit 7")
    msg = str(e.value)
    assert "exit 7" in msg and "to-stdout" in msg and "to-stderr" in msg


def test_command_timeout_is_bounded(left):
    with pytest.raises(labmod.LabError, match="timed out after 0.5s"):
        left.run(["sleep", "10"], timeout=0.5)


def _netns_list():
    return subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True, check=True).stdout


def test_close_removes_everything_and_reports_crashes():
    lab = labmod.Lab()
    try:
        h = lab.add_host("solo")
        db = h.start_ovsdb_server()
        ch = h.start_charon()
        pids = [db.pid, ch.pid]
        os.kill(ch.pid, signal.SIGKILL)     # Not through the Daemon.
        labmod.poll(lambda: not ch.alive(), 5, "charon to die")
        sleeper = h.popen(["sleep", "60"])  # Not a Daemon at all.
    finally:
        problems = lab.close()
    assert problems == ["charon on solo exited on its own (status -9)"]
    assert any("sleep 60" in n for n in lab.notes), lab.notes
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    assert "Starting IKE charon daemon" in lab.final_logs
    assert lab.id not in _netns_list()
    assert not os.path.exists(lab.root)
    assert all(not labmod.pid_alive(p) for p in pids)
    assert lab.close() == []


def test_close_reports_sanitizer_reports():
    lab = labmod.Lab()
    try:
        h = lab.add_host("solo")
        h.write("asan.12345", "==12345==ERROR: AddressSanitizer: boom\n")
        # UBSan reports on stderr of a sanitized daemon.
        d = h.add_daemon("ub", ["sh", "-c", "echo 'x.c:1:2: runtime error: "
                                "bang' >&2; exec sleep 30"],
                         sanitized=True)
        d.start()
        labmod.poll(lambda: h.sanitizer_reports()[1:], 5, "UBSan output")
        # Output of other daemons is not searched.
        h.add_daemon("plain", ["sh", "-c", "echo 'runtime error: no'"
                                           "; exec sleep 30"]).start()
    finally:
        problems = lab.close()
    assert len(problems) == 2, problems
    assert "AddressSanitizer: boom" in problems[0]
    assert "runtime error: bang" in problems[1]


def test_stale_lab_is_cleaned_up():
    # A lab whose owner died (simulated by a dead pid in the name) is
    # removed by the next Lab().
    child = subprocess.Popen(["true"])
    child.wait()
    stale_ns = "ovl%dx1-left" % child.pid
    stale_dir = "/tmp/ovl%dx1.test" % child.pid
    subprocess.run(["ip", "netns", "add", stale_ns], check=True)
    os.makedirs(stale_dir)
    lab = labmod.Lab()
    try:
        assert stale_ns not in _netns_list()
        assert not os.path.exists(stale_dir)
    finally:
        lab.close()
        if os.path.exists("/run/netns/" + stale_ns):
            subprocess.run(["ip", "netns", "del", stale_ns])


def test_bad_host_names_rejected(lab):
    for name in ("", "Left", "a-b", "x" * 13, "ns", "1a"):
        with pytest.raises(labmod.LabError, match="bad host name"):
            lab.add_host(name)
    lab.add_host("a")
    with pytest.raises(labmod.LabError, match="already exists"):
        lab.add_host("a")
    with pytest.raises(labmod.LabError, match="in use"):
        lab.add_host("b", 1)
    assert lab.add_host("c", 7).ipv4 == "192.0.2.7"
    assert lab.add_host("d").ipv6 == "fd00::2"


def test_right_alone_keeps_its_address(right):
    assert (right.ipv4, right.ipv6) == ("192.0.2.2", "fd00::2")
    assert "inet 192.0.2.2/24" in right.run(["ip", "-o", "addr"]).stdout


# ---- ovsec-monitor fixture -----------------------------------------------

# A stand-in that honours the ovsec-monitor start-up contract the fixture
# relies on: OVS_RUNDIR/ovsec-monitor.pid, OVS_RUNDIR/ovsec-monitor.PID.ctl
# answering JSON-RPC like OVS unixctl, --detach, exit 0 on SIGTERM.
FAKE_MONITOR = textwrap.dedent("""\
    import fcntl, json, os, signal, socket, sys
    args = sys.argv[1:]
    assert args[0].startswith("unix:") and args[0].endswith("/db.sock")
    assert any(a.startswith("--vici=unix:") for a in args)
    assert "--pidfile" in args
    rundir = os.environ["OVS_RUNDIR"]
    rfd, wfd = os.pipe()
    if "--detach" in args and os.fork() > 0:
        os.close(wfd)
        sys.exit(0 if os.read(rfd, 1) == b"1" else 1)
    if "--detach" in args:
        os.setsid()
    pid = os.getpid()
    srv = socket.socket(socket.AF_UNIX)
    ctl = os.path.join(rundir, "ovsec-monitor.%d.ctl" % pid)
    srv.bind(ctl)
    srv.listen(4)
    pidf = open(os.path.join(rundir, "ovsec-monitor.pid"), "w")
    if not os.environ.get("FAKE_NO_LOCK"):
        fcntl.lockf(pidf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    pidf.write("%d\\n" % pid)
    pidf.flush()
    os.write(wfd, b"1")
    def bye(*_):
        os.unlink(ctl)
        sys.exit(0)
    signal.signal(signal.SIGTERM, bye)
    while True:
        conn, _ = srv.accept()
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            try:
                req = json.loads(buf)
            except ValueError:
                continue
            reply = {"id": req["id"], "error": None,
                     "result": "fake %s\\n" % req["method"]}
            conn.sendall(json.dumps(reply).encode())
            buf = b""
        conn.close()
""")


@pytest.mark.parametrize("detach", [False, True])
def test_monitor_start_contract_with_fake(left, detach):
    fake = left.write("fake-monitor", "#!%s\n%s" % (sys.executable,
                                                    FAKE_MONITOR), 0o700)
    d = left.start_ovsec_monitor(fake, detach=detach)
    assert d.alive()
    assert left.appctl("ovsec-monitor", "tunnels/show") \
        == "fake tunnels/show\n"
    assert d.stop() == (None if detach else 0)
    assert not d.alive()


def test_monitor_unlocked_pidfile_is_rejected(left):
    fake = left.write("fake-monitor", "#!%s\n%s" % (sys.executable,
                                                    FAKE_MONITOR), 0o700)
    with pytest.raises(labmod.LabError, match="is not locked"):
        left.start_ovsec_monitor(fake, env={"FAKE_NO_LOCK": "1"})
    assert not left.monitor.alive()


def test_monitor_finder_reports_missing_binary(monkeypatch):
    monkeypatch.setenv("OVSEC_MONITOR", "/nonexistent/ovsec-monitor")
    path, why = labmod.find_ovsec_monitor()
    assert path is None
    assert "/nonexistent/ovsec-monitor" in why


def test_ovsec_monitor_fixture(left, ovsdb_server, charon, ovsec_monitor):
    """The real daemon: starts on a real database and charon, serves its
    control socket, and exits cleanly on SIGTERM (checked at teardown)."""
    ovsdb_server(left)
    charon(left)
    mon = ovsec_monitor(left)
    with open(left.path("ovsec-monitor.pid")) as f:
        assert int(f.read()) == mon.pid
    res = left.appctl("ovsec-monitor", "tunnels/show", check=False)
    assert mon.alive(), "ovsec-monitor died (see its output below)"
    assert res.returncode == 0, res.stderr
