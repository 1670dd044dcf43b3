# SPDX-License-Identifier: Apache-2.0
"""Libreswan's pluto in the integration lab (see lab.py), for the tests of
ovsec-monitor --ike-daemon=libreswan.

Debian's libreswan package conflicts with strongSwan's, so pluto is not
installed: scripts/get-libreswan.sh unpacks it (apt-get download + dpkg -x)
into a private tree, and each host runs it from there, as upstream OVS's
system tests run pluto, with everything private to the host:

    HOSTDIR/lsw                 the monitor's --root-prefix
        usr/sbin/ipsec          a copy of the tree's `ipsec` script
        etc/ipsec.conf          pluto's --config (written by the monitor)
        etc/ipsec.secrets       pluto's --secretsfile
        etc/ipsec.d             pluto's --ipsecdir
        run/pluto/pluto.ctl     under pluto's --rundir
        var/lib/ipsec/nss       pluto's --nssdir (an NSS sql: database)
    HOSTDIR/pluto.log           pluto's --logfile

pluto execs /usr/libexec/ipsec/addconn by absolute path, so in the host's
mount namespace a tmpfs goes over /usr/libexec with the tree's
libexec/ipsec bound into it.  The `ipsec` script finds its helpers through
IPSEC_EXECDIR (that same path) and re-invokes itself through
IPSEC_SBINDIR, which the monitor's environment points at HOSTDIR/lsw.

Needs root, certutil (libnss3-tools) and what get-libreswan.sh installs.
"""

import os
import re
import shutil
import subprocess

import lab as labmod

REPO = labmod.REPO
GET_LIBRESWAN = os.path.join(REPO, "scripts", "get-libreswan.sh")

# "000 #1: "gnv0-out-1":500 STATE_V2_ESTABLISHED_IKE_SA (established ..."
_STATE_RE = re.compile(r'^(?:000 )?#(\d+): "([^"]+)"(?:\[\d+\])?'
                       r'(?::\d+)?\S* (STATE_\w+)')
# "000 "gnv0-out-1": 192.0.2.1/32:UDP/6081===..."
_CONN_RE = re.compile(r'^(?:000 )?"([^"]+)"(?:\[\d+\])?: \S+(?:===|\.\.\.)')

_tree = None
_tree_error = None


def libreswan_tree():
    """Returns (root of the unpacked Libreswan tree, None), or (None,
    reason) when it cannot be had.  Runs get-libreswan.sh once per
    process."""
    global _tree, _tree_error
    if _tree or _tree_error:
        return _tree, _tree_error
    env = dict(os.environ)
    try:
        res = subprocess.run(["bash", GET_LIBRESWAN], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        _tree_error = "get-libreswan.sh: %s" % e
        return None, _tree_error
    root = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    if res.returncode != 0 or not os.path.isdir(root):
        _tree_error = ("get-libreswan.sh failed (exit %d): %s"
                       % (res.returncode, res.stderr.strip()[-500:]))
        return None, _tree_error
    _tree = root
    return _tree, None


class Pluto:
    """pluto on one lab host, run from the unpacked tree."""

    def __init__(self, host, tree):
        self.host = host
        self.tree = tree
        self.root = host.path("lsw")
        self.conf = os.path.join(self.root, "etc", "ipsec.conf")
        self.secrets = os.path.join(self.root, "etc", "ipsec.secrets")
        self.ipsecdir = os.path.join(self.root, "etc", "ipsec.d")
        self.rundir = os.path.join(self.root, "run", "pluto")
        self.ctl = os.path.join(self.rundir, "pluto.ctl")
        self.nssdir = os.path.join(self.root, "var", "lib", "ipsec", "nss")
        self.nssdb = "sql:" + self.nssdir
        self.sbindir = os.path.join(self.root, "usr", "sbin")
        self.ipsec = os.path.join(self.sbindir, "ipsec")
        self.log = host.path("pluto.log")
        self.daemon = None
        # What the monitor and the `ipsec` script need in their
        # environment.
        # PATH: pluto runs its updown command ("ipsec _updown") through
        # the shell; strongSwan's `ipsec` found on the PATH runs
        # strongSwan's _updown, which fails, and pluto then rejects every
        # Child SA with TS_UNACCEPTABLE (on a kernel with ESP).
        self.env = {
            "IPSEC_EXECDIR": "/usr/libexec/ipsec",
            "IPSEC_SBINDIR": self.sbindir,
            "PATH": self.sbindir + ":" + host.env["PATH"],
        }

    def prepare(self, root_conf=None):
        """Creates the directories, the NSS database and a first
        ipsec.conf ('root_conf' text, default a bare "config setup"), and
        mounts the tree's libexec/ipsec over /usr/libexec/ipsec in the
        host's mount namespace."""
        for d in (self.ipsecdir, self.rundir, self.nssdir, self.sbindir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        shutil.copy2(os.path.join(self.tree, "usr", "sbin", "ipsec"),
                     self.ipsec)
        self.host.write(os.path.relpath(self.conf, self.host.dir),
                        root_conf or "config setup\n    uniqueids=yes\n",
                        0o644)
        self.host.write(os.path.relpath(self.secrets, self.host.dir), "",
                        0o600)
        if not os.path.exists(os.path.join(self.nssdir, "cert9.db")):
            self.host.run(["certutil", "-N", "-d", self.nssdb,
                           "--empty-password"])
        self.host.sh(
            "mountpoint -q /usr/libexec/ipsec && exit 0; "
            "mount -t tmpfs ovsec-lsw /usr/libexec && "
            "mkdir /usr/libexec/ipsec && "
            "mount --bind %s/usr/libexec/ipsec /usr/libexec/ipsec"
            % self.tree)
        self.host.sh(
            "if [ -e /usr/sbin/ipsec ] && ! mountpoint -q /usr/sbin/ipsec; "
            "then mount --bind %s/usr/sbin/ipsec /usr/sbin/ipsec; fi"
            % self.tree)

    def start(self):
        """Starts pluto in the foreground (--nofork) and waits for its
        control socket."""
        if self.daemon is None:
            def clean():
                for f in (self.ctl, os.path.join(self.rundir, "pluto.pid")):
                    if os.path.exists(f):
                        os.unlink(f)
            self.daemon = self.host.add_daemon(
                "pluto",
                ["/usr/libexec/ipsec/pluto", "--nofork",
                 "--config", self.conf, "--secretsfile", self.secrets,
                 "--ipsecdir", self.ipsecdir, "--nssdir", self.nssdir,
                 "--rundir", self.rundir, "--logfile", self.log],
                env=self.env,
                ready=lambda: labmod.unix_connectable(self.ctl),
                logs=[self.log], before_start=clean)
        return self.daemon.start()

    def run_ipsec(self, *args, check=True):
        """Runs the host's `ipsec` with 'args'; returns stdout (or the
        CompletedProcess if not 'check')."""
        res = self.host.run([self.ipsec] + list(args), env=self.env,
                            check=check)
        return res.stdout if check else res

    def status(self):
        """`ipsec status` text."""
        return self.run_ipsec("whack", "--ctlsocket", self.ctl, "--status")

    def loaded(self, text=None):
        """The connection names pluto lists as loaded."""
        text = self.status() if text is None else text
        return sorted({m.group(1) for m in
                       map(_CONN_RE.match, text.splitlines()) if m})

    def states(self, text=None):
        """pluto's states: a list of (serial, conn, STATE_...)."""
        text = self.status() if text is None else text
        out = []
        for line in text.splitlines():
            m = _STATE_RE.match(line)
            if m:
                out.append((int(m.group(1)), m.group(2), m.group(3)))
        return sorted(set(out))

    def ike_established(self, prefix, text=None, suffix=""):
        """Serials of the established IKE SAs of connections whose name
        starts with 'prefix' and ends with 'suffix'.  (pluto files an IKE
        SA under the connection it first matched, "-in" or "-out".)"""
        return sorted(serial for serial, conn, state in self.states(text)
                      if conn.startswith(prefix) and conn.endswith(suffix)
                      and state == "STATE_V2_ESTABLISHED_IKE_SA")

    def nss_list(self):
        """{nickname: trust} of the NSS database (a nickname listed twice
        maps to a list of both trusts)."""
        out = {}
        res = self.host.run(["certutil", "-L", "-d", self.nssdb])
        for line in res.stdout.splitlines():
            line = line.rstrip()
            if not line or "Trust Attributes" in line \
               or "SSL,S/MIME,JAR/XPI" in line:
                continue
            nick, _, trust = line.rpartition(" ")
            nick = nick.strip()
            if nick in out:
                prev = out[nick]
                out[nick] = (prev if isinstance(prev, list) else [prev]) \
                    + [trust]
            else:
                out[nick] = trust
        return out

    def nss_cert_pem(self, nick):
        """The PEM NSS holds as 'nick' (all copies), or ""."""
        res = self.host.run(["certutil", "-L", "-a", "-d", self.nssdb,
                             "-n", nick], check=False)
        return res.stdout if res.returncode == 0 else ""

    def log_text(self):
        return labmod.tail(self.log, 1000000)


def monitor_args(pluto, root_ipsec_conf=None):
    """The ovsec-monitor arguments that point it at 'pluto'."""
    args = ["--ike-daemon=libreswan", "--no-restart-ike-daemon",
            "--root-prefix=" + pluto.root]
    if root_ipsec_conf:
        args += ["--ipsec-conf=/etc/ovs.conf",
                 "--root-ipsec-conf=" + root_ipsec_conf]
    return args


def der_of_pem(text):
    """The base64 bodies of the certificates in PEM 'text', as a set of
    strings without whitespace."""
    bodies = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)"
                        r"-----END CERTIFICATE-----", text, re.S)
    return {re.sub(r"\s", "", b) for b in bodies}
