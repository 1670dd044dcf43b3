# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the real-kernel lab: the upstream OVS IPsec tutorial with
ovsec-monitor, on a real kernel datapath with real ESP.

Two hosts, each with ovsdb-server, charon, ovsec-monitor and ovs-vswitchd;
a bridge br-ipsec with 192.0.0.1/24 and 192.0.0.2/24; a PSK Geneve tunnel
between the underlay addresses 192.0.2.1 and 192.0.2.2.  Traffic across
br-ipsec must flow both ways, as ESP on the underlay and never as
plaintext Geneve, and ovsec-monitor must report the tunnel configured with
an installed child SA.

Run inside the user-mode Linux guest:
    tests/uml/run-uml.sh -- /usr/bin/python3 -m pytest tests/uml
"""

import os
import re
import time

import lab as labmod

OVERLAY = {"left": "192.0.0.1", "right": "192.0.0.2"}

# Bounds, in seconds.  strongSwan needs about 6 to 11 s from add-port to
# the first answered ping in the guest.
FIRST_PING_TIMEOUT = 60
SHOW_TIMEOUT = 30

N_PINGS = 5


def setup_host(host, monitor):
    """Starts the daemons of the tutorial's host and creates br-ipsec with
    the host's overlay address."""
    host.start_ovsdb_server()
    host.start_charon()
    # Before ovs-vswitchd: it accepts IPsec options only on tunnels whose
    # monitor is running.
    host.start_ovsec_monitor(monitor)
    host.start_vswitchd()
    host.vsctl("add-br", "br-ipsec")
    host.ip("addr", "add", OVERLAY[host.name] + "/24", "dev", "br-ipsec")
    host.ip("link", "set", "dev", "br-ipsec", "up")


def add_tunnel(host, peer, psk):
    host.vsctl("add-port", "br-ipsec", "tun", "--",
               "set", "interface", "tun", "type=geneve",
               "options:remote_ip=" + peer.ipv4, "options:psk=" + psk)


def ping_once(host, dst):
    res = host.run(["ping", "-n", "-q", "-c", "1", "-W", "1", dst],
                   check=False, timeout=5)
    return res.returncode == 0


def ping_count(host, dst, count=N_PINGS):
    """Sends 'count' pings and returns how many were answered."""
    res = host.run(["ping", "-n", "-q", "-c", str(count), "-i", "0.2",
                    "-W", "2", dst], check=False, timeout=count + 10)
    m = re.search(r"(\d+) received", res.stdout)
    assert m, "unexpected ping output:\n" + res.stdout + res.stderr
    return int(m.group(1))


def classify(packets):
    """Splits tcpdump lines into (ESP packets, plaintext Geneve packets)."""
    esp = [p for p in packets if " ESP(" in p]
    geneve = [p for p in packets if re.search(r"\.6081: Geneve", p)]
    return esp, geneve


def tunnel_state(host):
    """(configured, installed child SA lines) from tunnels/show."""
    show = host.appctl("ovsec-monitor", "tunnels/show")
    configured = re.search(r"^Interface name: tun v\d+ \(CONFIGURED\)$",
                           show, re.M) is not None
    children = re.findall(r"^ +\S+\{\d+\}: INSTALLED, TRANSPORT,.*$", show,
                          re.M)
    return configured, children, show


def test_psk_geneve_tunnel(left, right, ovsec_monitor_binary, report):
    psk = "smoke-" + os.urandom(8).hex()
    t_setup = time.monotonic()
    for host in (left, right):
        setup_host(host, ovsec_monitor_binary)
    setup_s = time.monotonic() - t_setup

    # Whole life of the tunnel, on one veth only (each packet crosses the
    # switch namespace's bridge too).
    cap_all = left.capture("all", "esp or udp port 6081")

    t0 = time.monotonic()
    add_tunnel(left, right, psk)
    add_tunnel(right, left, psk)
    labmod.poll(lambda: ping_once(left, OVERLAY["right"]),
                FIRST_PING_TIMEOUT, "the first ping across br-ipsec")
    first_ping_s = time.monotonic() - t0

    # Steady state: every packet between the tunnel endpoints is ESP.
    cap = left.capture("steady", "esp or udp port 6081")
    assert ping_count(left, OVERLAY["right"]) == N_PINGS
    assert ping_count(right, OVERLAY["left"]) == N_PINGS
    esp, geneve = classify(cap.stop())
    assert not geneve, "plaintext Geneve on the underlay:\n" \
        + "\n".join(geneve)
    # Each ping is a request and a reply: 2 * N_PINGS per direction.
    assert len(esp) >= 4 * N_PINGS, "too few ESP packets:\n" \
        + "\n".join(esp)

    def both_installed():
        states = [tunnel_state(h) for h in (left, right)]
        return all(configured and children
                   for configured, children, _ in states) and states
    try:
        labmod.poll(both_installed, SHOW_TIMEOUT,
                    "tunnels/show to report an installed child SA")
    except labmod.LabError:
        shows = "\n".join("--- %s ---\n%s" % (h.name, tunnel_state(h)[2])
                          for h in (left, right))
        raise AssertionError("tunnels/show after the tunnel works:\n"
                             + shows) from None

    esp_all, geneve_all = classify(cap_all.stop())
    report("uml smoke: daemons of both hosts up in %.2f s; add-port to "
           "first answered ping %.2f s; ESP packets on left's veth %d "
           "(steady %d); plaintext Geneve before the SA %d"
           % (setup_s, first_ping_s, len(esp_all), len(esp),
              len(geneve_all))
           + "".join("\n  plaintext: " + p for p in geneve_all[:5]))
