# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the real-kernel lab: the upstream OVS IPsec tutorial with
ovsec-monitor, on a real kernel datapath with real ESP.

Two hosts, each with ovsdb-server, charon, ovsec-monitor and ovs-vswitchd;
a bridge br-ipsec with 192.0.0.1/24 and 192.0.0.2/24; a PSK Geneve tunnel
between the underlay addresses 192.0.2.1 and 192.0.2.2.  Traffic across
br-ipsec must flow both ways, as ESP on the underlay and never as
plaintext Geneve once both ends hold the tunnel's connections, and
ovsec-monitor must report the tunnel configured with an installed child SA
and kernel SAs.

Run inside the user-mode Linux guest:
    tests/uml/run-uml.sh -- /usr/bin/python3 -m pytest tests/uml
"""

import os
import time

import ukernel

N_PINGS = 5


def test_psk_geneve_tunnel(left, right, ovsec_monitor_binary, report, ike):
    psk = "smoke-" + os.urandom(8).hex()
    t_setup = time.monotonic()
    ike.setup([left, right], ovsec_monitor_binary)
    setup_s = time.monotonic() - t_setup

    # Whole life of the tunnel, on one veth only.
    cap = left.capture_underlay("all")
    t0 = ukernel.connect(left, right, psk=psk)
    loaded = ukernel.wait_loaded([left, right])
    first_ping_s = ukernel.wait_ping(left, right, since=t0)

    steady = time.time()
    ukernel.assert_ping(left, right, count=N_PINGS)
    for host, peer in ((left, right), (right, left)):
        ukernel.wait_tunnel_up(host, peer=peer)

    traffic = cap.stop()
    ukernel.assert_no_plaintext(cap.traffic(since=loaded))
    esp_steady = cap.traffic(since=steady).esp
    # Each ping is a request and a reply: 2 * N_PINGS per direction.
    assert len(esp_steady) >= 4 * N_PINGS, \
        "too few ESP packets:\n" + "\n".join(esp_steady)

    late = set(cap.traffic(since=loaded).plaintext)
    early = [p for p in traffic.plaintext if p not in late]
    report("uml smoke (%s): daemons of both hosts up in %.2f s; add-port to "
           "first answered ping %.2f s; ESP packets on left's veth %d; "
           "plaintext tunnel packets before both ends loaded the "
           "connections %d" % (ike.name, setup_s, first_ping_s, len(traffic.esp),
                               len(early))
           + "".join("\n  plaintext: " + p for p in early[:5]))
