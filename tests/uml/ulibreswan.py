# SPDX-License-Identifier: Apache-2.0
"""Libreswan's pluto on the real-kernel lab (ukernel.py): the tutorial's
hosts with pluto and ovsec-monitor --ike-daemon=libreswan instead of
charon.

Each host runs pluto from the private tree scripts/get-libreswan.sh
unpacks, set up by tests/integration/util_libreswan.py (Pluto: a tmpfs
over /usr/libexec with the tree's libexec/ipsec bound into it in the
host's mount namespace, private --rundir, --ipsecdir, --nssdir and
--secretsfile under HOSTDIR/lsw).

The tree must be unpacked on the HOST before the guest boots:
get-libreswan.sh needs `apt-get download` (and perhaps `apt-get install`
of pluto's libraries), which the guest cannot do (no network, and its
/var/lib/dpkg changes would land on the host's root).  find_tree() only
looks for the unpacked tree and never runs the script:

    scripts/get-libreswan.sh          # on the host, as root, once

It looks in $OVSEC_LIBRESWAN_DIR/root (default
/var/cache/ovsec-libreswan/root, which the guest sees: /var/cache is not
covered by a tmpfs); run-uml.sh passes OVSEC_* variables to the guest.

Helpers:

    find_tree()                 (root, None) or (None, reason)
    set_gateway_routes(host)    default routes through a gateway, which
                                Libreswan's %defaultroute needs
    use_tree_ipsec(host, pluto) the tree's `ipsec` on the host's PATH and
                                over /usr/sbin/ipsec (pluto's updown)
    Libreswan(tree)             the IKE daemon driver of the 'ike' fixture
                                (ukernel.Strongswan's interface): setup()
                                does both of those, ovsdb-server, pluto
                                (host.pluto) and ovsec-monitor
                                --ike-daemon=libreswan on every host,
                                then ovs-vswitchd and br-ipsec;
                                tunnel_up() wants every connection of the
                                tunnel with an established ESP SA
                                (tunnels/show lists pluto's connections,
                                not charon's INSTALLED children)
    active_conns(show)          {connection: line} of a TunnelShow's
                                active connections
    conn_spis(show)             {connection: (spi in, spi out)}
"""

import os
import re
import shutil
import subprocess

import lab as labmod
import ukernel
import util_libreswan as lsw

# Default gateways of the hosts (see set_gateway_routes()).
GATEWAY4 = "192.0.2.254"
GATEWAY6 = "fd00::fe"

TREE_FILES = ("usr/sbin/ipsec", "usr/libexec/ipsec/pluto",
              "usr/libexec/ipsec/whack", "usr/libexec/ipsec/addconn")

# "  gnv0-in-1: loaded (routed), IKE #1 established, ESP #2 established
#  (spi in 0x... out 0x...)" (libreswan_conn_state_format()).
_ACTIVE_RE = re.compile(r"^ +(\S+): (loaded|not loaded)\b(.*)$")
_ESP_UP_RE = re.compile(r", ESP #\d+ established \(spi in (0x[0-9a-f]+) "
                        r"out (0x[0-9a-f]+)\)")


def find_tree():
    """(root of the unpacked Libreswan tree, None), or (None, reason) if
    it is missing or pluto cannot run."""
    base = os.environ.get("OVSEC_LIBRESWAN_DIR", "/var/cache/ovsec-libreswan")
    root = os.path.join(base, "root")
    how = ("run scripts/get-libreswan.sh as root on the host before "
           "booting the guest (it needs apt-get download, which the guest "
           "cannot do)")
    missing = [f for f in TREE_FILES
               if not os.access(os.path.join(root, f), os.X_OK)]
    if missing:
        return None, ("no unpacked Libreswan tree in %s (missing %s): %s"
                      % (root, ", ".join(missing), how))
    if shutil.which("certutil") is None:
        return None, "certutil (libnss3-tools) is not installed: " + how
    try:
        res = subprocess.run([os.path.join(root, "usr/libexec/ipsec/pluto"),
                              "--version"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s/usr/libexec/ipsec/pluto: %s" % (root, e)
    if res.returncode != 0:
        return None, ("%s/usr/libexec/ipsec/pluto --version fails (%s): %s"
                      % (root, (res.stderr or res.stdout).strip()[-300:],
                         how))
    return root, None


def set_gateway_routes(host):
    """Replaces the lab's default routes ("default dev eth0") with ones
    through a gateway on the underlay (GATEWAY4, GATEWAY6), which does not
    exist: the peers are on-link, so nothing ever goes to it.  Libreswan
    4.10 resolves left=%defaultroute (what the monitor writes without
    options:local_ip) from the default route's gateway: with a device
    route alone addconn finds none ("failure: src=<defaultroute>"), and
    pluto refuses to initiate ("we cannot identify ourselves with either
    end of this connection.  0.0.0.0 or 192.0.2.N are not usable")."""
    host.ip("-4", "route", "replace", "default", "via", GATEWAY4, "dev",
            host.iface)
    host.ip("-6", "route", "replace", "default", "via", GATEWAY6, "dev",
            host.iface)


def use_tree_ipsec(host, pluto):
    """Makes `ipsec` on the PATH of 'host' the tree's (HOSTDIR/lsw/usr/sbin
    first on pluto's and the monitor's PATH, and the tree's script bound
    over /usr/sbin/ipsec in the host's private mount namespace).  pluto
    runs its updown command, "ipsec _updown" by default, through the
    shell: found on the PATH, strongSwan's /usr/sbin/ipsec runs
    strongSwan's /usr/lib/ipsec/_updown, which fails ("unknown interface
    version"), and pluto then rejects every Child SA with TS_UNACCEPTABLE
    (and leaves inbound policies behind).  The host-kernel lab never gets
    that far: its kernel has no ESP."""
    pluto.env["PATH"] = pluto.sbindir + ":" + host.env["PATH"]
    host.sh("if [ -e /usr/sbin/ipsec ] && ! mountpoint -q /usr/sbin/ipsec; "
            "then mount --bind %s/usr/sbin/ipsec /usr/sbin/ipsec; fi"
            % pluto.tree)


class Libreswan:
    """ukernel.Strongswan's interface for Libreswan's pluto: each host
    runs pluto from the unpacked tree 'tree' (host.pluto, a
    util_libreswan.Pluto) and ovsec-monitor --ike-daemon=libreswan
    --no-restart-ike-daemon."""

    name = "libreswan"
    daemon_name = "pluto"
    UP_WHAT = "an established ESP SA on every connection"

    def __init__(self, tree):
        self.tree = tree

    def setup(self, hosts, monitor, *monitor_args, ipv6_overlay=False,
              bridge=ukernel.BRIDGE, reconcile_interval=None):
        """The tutorial's hosts: default routes through a gateway,
        ovsdb-server, pluto and ovsec-monitor on every host, then
        ovs-vswitchd and 'bridge' (phase by phase, so that ovs-vswitchd's
        wait for a safe uptime overlaps the rest)."""
        args = list(monitor_args)
        if reconcile_interval is not None:
            args.append("--reconcile-interval=%d" % reconcile_interval)
        for host in hosts:
            host.ike = self
            set_gateway_routes(host)
            p = lsw.Pluto(host, self.tree)
            p.prepare()
            use_tree_ipsec(host, p)
            host.pluto = p
            host.start_ovsdb_server()
            p.start()
            host.start_ovsec_monitor(monitor, *lsw.monitor_args(p), *args,
                                     env=p.env)
        for host in hosts:
            host.check_upstream_pidfile()
            host.start_vswitchd()
            if bridge:
                host.add_bridge(bridge, ipv6_overlay)

    def daemon(self, host):
        return host.pluto.daemon

    def stop(self, host):
        return self.daemon(host).stop()

    def kill(self, host):
        self.daemon(host).kill()

    def start(self, host):
        return host.pluto.start()

    def restart(self, host):
        self.daemon(host).restart()

    def tunnel_up(self, host, name, type, show):
        """Every connection of the tunnel with an established ESP SA
        (tunnels/show lists pluto's connections, not charon's INSTALLED
        children)."""
        return (type is not None
                and conn_kinds(name, conn_spis(show)) == expected_kinds(type))

    def holds(self, host, name):
        js = host.tunnel_json(name) or {}
        return (js.get("type") is not None
                and conn_kinds(name, host.pluto.loaded())
                == expected_kinds(js["type"]))

    def sa_ids(self, host):
        """pluto's established IKE and ESP SAs: sorted (serial,
        connection, state) from `ipsec whack --status`."""
        return [s for s in host.pluto.states() if "ESTABLISHED" in s[2]]

    def assert_cert_auth(self, host, peer, show):
        # pluto's connections name both ends: by their certificates'
        # subjects with pinned certificates (id %fromcert), by the CNs as
        # FQDNs (@CN) with CA-signed ones.
        status = host.pluto.status()
        for name in (peer.name, host.name):
            assert re.search(r"(CN=|@)%s\b" % re.escape(name), status), \
                status


def conn_kinds(name, conns):
    """The kinds ("gre", "in", "out") of the connections of tunnel 'name'
    among the connection names 'conns' (NAME-VER, NAME-in-VER,
    NAME-out-VER), as a sorted list.  The version in a name need not be
    the tunnel's: a restarted monitor that adopts what pluto holds keeps
    the earlier instance's names."""
    out = []
    for conn in conns:
        m = re.match(r"^%s-(?:(in|out)-)?\d+$" % re.escape(name), conn)
        if m:
            out.append(m.group(1) or "gre")
    return sorted(out)


def expected_kinds(type):
    """conn_kinds() of a complete tunnel of 'type'."""
    return ["gre"] if type == "gre" else ["in", "out"]


def active_conns(show):
    """{connection name: rest of its line} of a TunnelShow's active
    connections."""
    out = {}
    for line in show.active:
        m = _ACTIVE_RE.match(line)
        if m:
            out[m.group(1)] = m.group(2) + m.group(3)
    return out


def conn_spis(show):
    """{connection: (spi in, spi out)} of the connections with an
    established ESP SA."""
    out = {}
    for conn, rest in active_conns(show).items():
        m = _ESP_UP_RE.search(rest)
        if m:
            out[conn] = (m.group(1), m.group(2))
    return out
