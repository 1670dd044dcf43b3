# SPDX-License-Identifier: Apache-2.0
"""Real-kernel lab: the integration lab's hosts plus ovs-vswitchd on the
kernel datapath, for a kernel that has ESP, Geneve, VXLAN, GRE and the
openvswitch module (the user-mode Linux guest of run-uml.sh).

KernelLab is lab.Lab whose hosts are KernelHosts.  A KernelHost is a
lab.Host that can also run ovs-vswitchd:

    host.start_vswitchd()      ovs-vswitchd on HOSTDIR/db.sock with
                               OVS_RUNDIR=HOSTDIR, so "ovs-appctl -t
                               ovs-vswitchd" in the host finds it; the
                               datapath lives in the host's network
                               namespace.
    host.vsctl(...)            waits for ovs-vswitchd to apply the change
                               while it runs (ovs-vsctl without --no-wait).
    host.start_ovsec_monitor() also makes HOSTDIR/ovs-monitor-ipsec.pid
                               name the monitor: ovs-vswitchd refuses IPsec
                               tunnel options (psk, remote_cert,
                               remote_name) unless that pidfile is locked
                               by a live process.
    host.ip(...)               "ip ARGS" in the host.

Nothing waits without a deadline.
"""

import os
import signal
import time

import lab as labmod

# ovs-vswitchd 3.1 refreshes its count of CPU cores at most every 10 s of
# CLOCK_MONOTONIC, starting from 0: in a guest whose uptime is below 10 s
# it sees zero cores, starts no upcall handler threads and forwards
# nothing.  Wait until the uptime passes this before starting it.
VSWITCHD_MIN_UPTIME = 10.5

# The pidfile name ovs-vswitchd checks before it accepts IPsec options on
# a tunnel (lib/netdev-vport.c): $OVS_RUNDIR/ovs-monitor-ipsec.pid.
UPSTREAM_MONITOR_PIDFILE = "ovs-monitor-ipsec.pid"

# Modules without which the kernel cannot run these tests.
REQUIRED_MODULES = ("openvswitch", "vport_geneve", "esp4", "xfrm_user")


def missing_kernel_features():
    """Names of required kernel modules that are not loaded (empty if this
    kernel can run the real-kernel tests)."""
    return [m for m in REQUIRED_MODULES
            if not os.path.isdir("/sys/module/" + m)]


def uptime():
    """Seconds since this kernel booted (CLOCK_MONOTONIC, as OVS sees
    it)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def wait_uptime(seconds):
    """Sleeps until the uptime reaches 'seconds' (at most that long)."""
    delay = seconds - uptime()
    if delay > 0:
        time.sleep(delay)


class KernelHost(labmod.Host):
    """A lab host that can run ovs-vswitchd on the kernel datapath."""

    def __init__(self, lab, name, index):
        super().__init__(lab, name, index)
        self.vswitchd = None

    def ip(self, *args, **kwargs):
        """Runs "ip ARGS" in this host; returns its stdout."""
        return self.run(["ip"] + list(args), **kwargs).stdout

    def vswitchd_running(self):
        return self.vswitchd is not None and self.vswitchd.alive()

    def start_vswitchd(self, ready_timeout=labmod.READY_TIMEOUT):
        """Starts ovs-vswitchd on this host's database (start ovsdb-server
        first) and waits until it has applied the database's
        configuration.  Its kernel datapath ("ovs-system") and ports live
        in this host's network namespace."""
        if self.vswitchd is not None:
            raise labmod.LabError("ovs-vswitchd already set up on "
                                  + self.name)
        if self.ovsdb is None:
            raise labmod.LabError("start ovsdb-server on %s before "
                                  "ovs-vswitchd" % self.name)
        wait_uptime(VSWITCHD_MIN_UPTIME)
        log = self.path("ovs-vswitchd.log")
        pidfile = self.path("ovs-vswitchd.pid")
        daemon = None

        def clean():
            if os.path.exists(pidfile):
                os.unlink(pidfile)

        def ready():
            # The default control socket RUNDIR/ovs-vswitchd.PID.ctl is
            # what "ovs-appctl -t ovs-vswitchd" looks for.
            try:
                with open(pidfile) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return False
            return (pid == daemon.pid and labmod.unix_connectable(
                self.path("ovs-vswitchd.%d.ctl" % pid)))

        daemon = self.add_daemon(
            "ovs-vswitchd",
            ["ovs-vswitchd", "unix:" + self.db_sock, "--pidfile=" + pidfile,
             "--log-file=" + log, "-vconsole:off", "-vfile:info"],
            ready=ready, ready_timeout=ready_timeout, logs=[log],
            check_exit={0, -signal.SIGTERM}, before_start=clean)
        self.vswitchd = daemon
        daemon.start()
        # Without --no-wait, ovs-vsctl returns once ovs-vswitchd has caught
        # up with the database.
        self.vsctl("init")
        return daemon

    def vsctl(self, *args, check=True, timeout=labmod.CMD_TIMEOUT):
        """Runs ovs-vsctl against this host's database and returns its
        stripped stdout (the CompletedProcess if not 'check').  While
        ovs-vswitchd runs, waits until it has applied the change."""
        if not self.vswitchd_running():
            return super().vsctl(*args, check=check, timeout=timeout)
        res = self.run(["ovs-vsctl", "--db=unix:" + self.db_sock,
                        "--timeout=%d" % timeout] + list(args),
                       check=check, timeout=timeout + 2)
        return res.stdout.strip() if check else res

    def start_ovsec_monitor(self, binary, *extra_args, **kwargs):
        """lab.Host.start_ovsec_monitor(), then RUNDIR/ovs-monitor-ipsec.pid
        made a symbolic link to the monitor's pidfile RUNDIR/ovsec-monitor.pid
        (ovs-vswitchd reads the lock through the link)."""
        daemon = super().start_ovsec_monitor(binary, *extra_args, **kwargs)
        link = self.path(UPSTREAM_MONITOR_PIDFILE)
        if not os.path.lexists(link):
            os.symlink("ovsec-monitor.pid", link)
        return daemon


class KernelLab(labmod.Lab):
    """A lab whose hosts are KernelHosts."""

    host_class = KernelHost

    def add_host(self, name, index=None):
        host = super().add_host(name, index)
        if not isinstance(host, KernelHost):
            # lab.Lab.add_host() creates a plain lab.Host.  KernelHost adds
            # methods and one attribute, so the object can be promoted in
            # place (lab.Lab honouring 'host_class' would avoid this).
            host.__class__ = KernelHost
            host.vswitchd = None
        return host
