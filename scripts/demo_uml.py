#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ovsec demo on a real kernel: the upstream OVS IPsec tutorial.

Runs inside the user-mode Linux guest that scripts/demo.sh boots.  Two
hosts (network namespaces) each run ovsdb-server, ovs-vswitchd on the
kernel datapath, strongSwan's charon and ovsec-monitor, with a bridge
br-ipsec (192.0.0.1/24 and 192.0.0.2/24).  A PSK Geneve tunnel between
their underlay addresses (192.0.2.1, 192.0.2.2) carries a ping across
br-ipsec, encrypted by the kernel's ESP.  Prints what an operator sees:
each host's "ovs-appctl -t ovsec-monitor tunnels/show", the ping, and the
underlay as tcpdump sees it.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "uml"))
import lab as labmod  # noqa: E402
import ukernel  # noqa: E402


def banner(text):
    print("\n" + "=" * 78 + "\n" + text + "\n" + "=" * 78, flush=True)


def main():
    monitor = sys.argv[1]
    missing = ukernel.missing_kernel_features()
    if missing:
        print("demo: this kernel lacks %s: run scripts/demo.sh, which boots "
              "user-mode Linux" % missing, file=sys.stderr)
        return 1
    psk = "demo-" + os.urandom(6).hex()
    t_start = time.monotonic()
    with ukernel.KernelLab() as lab:
        left, right = lab.add_host("left"), lab.add_host("right")
        ukernel.setup_tutorial([left, right], monitor)
        banner("Two hosts up (%.1f s): ovsdb-server, ovs-vswitchd, charon "
               "and ovsec-monitor on each; br-ipsec 192.0.0.1 and 192.0.0.2"
               % (time.monotonic() - t_start))

        capture = ukernel.UnderlayCapture(left)
        for h, peer in ((left, right), (right, left)):
            print("%s# ovs-vsctl add-port br-ipsec tun -- set interface tun "
                  "type=geneve options:remote_ip=%s options:psk=<psk>"
                  % (h.name, peer.ipv4))
        t0 = ukernel.connect(left, right, psk=psk)
        first = ukernel.wait_ping(left, right, since=t0)
        banner("First ping across br-ipsec %.2f s after add-port" % first)

        res = left.run(["ping", "-n", "-c", "5", "-i", "0.2", "192.0.0.2"],
                       check=False, timeout=10)
        print("left# ping -c 5 192.0.0.2\n" + res.stdout.strip())
        ukernel.wait_tunnel_up(left)
        ukernel.wait_tunnel_up(right)

        for h in (left, right):
            banner("%s# ovs-appctl -t ovsec-monitor tunnels/show" % h.name)
            print(h.appctl("ovsec-monitor", "tunnels/show"))

        time.sleep(0.3)
        traffic = capture.stop()
        banner("left# tcpdump -n -i eth0 (the underlay): %d ESP packets, %d "
               "plaintext tunnel packets" % (len(traffic.esp),
                                             len(traffic.plaintext)))
        for line in traffic.esp[:8]:
            print(line)
        print("\nThe PSK never appears above: tunnels/show prints "
              "<redacted>.  Total %.1f s." % (time.monotonic() - t_start))
        if lab.problems():
            print("problems: %s" % lab.problems(), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
