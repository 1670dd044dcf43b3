#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ovsec demo: two hosts, one IPsec geneve tunnel with a PSK.

Each host is a network namespace (with a private /run) holding its own
ovsdb-server, strongSwan charon and ovsec-monitor.  The underlay is
192.0.2.0/24.  The demo adds the tunnel port on both hosts with ovs-vsctl,
waits until the IKE SA is ESTABLISHED, and prints what an operator sees:
each host's "ovs-appctl -t ovsec-monitor tunnels/show" and charon's SAs.

This machine's kernel has no ESP, so charon cannot install the CHILD_SAs
(ESP) here; the IKE SA, the trap policies and everything ovsec does are
real.  The real-kernel (user-mode Linux) demo comes with the end-to-end
work.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import lab as labmod  # noqa: E402


def banner(text):
    print("\n" + "=" * 78 + "\n" + text + "\n" + "=" * 78, flush=True)


def main():
    binary = sys.argv[1]
    psk = "demo-" + os.urandom(6).hex()
    with labmod.Lab() as lab:
        hosts = [lab.add_host("left"), lab.add_host("right")]
        for h in hosts:
            h.start_ovsdb_server()
            h.start_charon()
            h.start_ovsec_monitor(binary)
            h.vsctl("add-br", "br-ipsec")
        banner("Two hosts up: ovsdb-server, charon and ovsec-monitor on each")

        start = time.monotonic()
        for h, peer in ((hosts[0], hosts[1]), (hosts[1], hosts[0])):
            print("%s# ovs-vsctl add-port br-ipsec tun -- set interface tun "
                  "type=geneve options:remote_ip=%s options:psk=<psk>"
                  % (h.name, peer.ipv4))
            h.vsctl("add-port", "br-ipsec", "tun", "--", "set", "interface",
                    "tun", "type=geneve", "options:remote_ip=" + peer.ipv4,
                    "options:psk=" + psk)

        def established():
            return all(h.ike_sas().get("tun") == "ESTABLISHED"
                       for h in hosts)
        labmod.poll(established, 30, "the IKE SA to be established")
        elapsed = time.monotonic() - start
        banner("IKE SA ESTABLISHED on both hosts %.2f s after add-port"
               % elapsed)

        for h in hosts:
            banner("%s# ovs-appctl -t ovsec-monitor tunnels/show" % h.name)
            print(h.appctl("ovsec-monitor", "tunnels/show"))
        banner("left# swanctl --list-sas")
        print(hosts[0].swanctl("--list-sas"))
        banner("left# ovs-appctl -t ovsec-monitor xfrm/policies "
               "(charon's trap policies for the tunnel)")
        print(hosts[0].appctl("ovsec-monitor", "xfrm/policies"))
        print("The PSK never appears above: tunnels/show prints <redacted>.")
        if lab.problems():
            print("problems: %s" % lab.problems(), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
