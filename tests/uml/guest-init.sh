#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# PID 1 of the user-mode Linux guest started by tests/uml/run-uml.sh.
#
# The guest's root file system is the host's own "/" (hostfs), so this
# script first hides the host's run-time state behind guest-private tmpfs
# mounts (anything the guest writes elsewhere lands on the host), loads the
# kernel modules the IPsec tests need, waits until ovs-vswitchd can safely
# start, runs the command that run-uml.sh left in $OVSEC_UML_DIR/cmd, and
# records its exit status in $OVSEC_UML_DIR/status.  Whatever happens, it
# ends with "sync; halt -f": the host sees the status only after the sync,
# and the UML process exits only on halt.
#
# $OVSEC_UML_DIR comes from the kernel command line (the kernel hands
# unknown NAME=VALUE parameters to init as environment variables).  It
# holds:
#   params   shell assignments from run-uml.sh: OVSEC_UML_TIMEOUT (seconds
#            the command may run), OVSEC_UML_SETTLE (uptime to reach before
#            the command starts; 0 for none), OVSEC_UML_VERBOSE (0 or 1:
#            leave kernel messages on the console), OVSEC_UML_TTY (1 if
#            the command's output may go straight to the console, a
#            terminal; 0 to pipe it, as when run-uml.sh's output is not a
#            terminal).
#   cmd      the bash script to run (cd to the caller's directory,
#            exports, exec of the command).
# and receives:
#   status   the command's exit status, or 125 if the guest could not be
#            set up (the reason is on the console).
#   dmesg    the guest kernel's log at the end.
#   lab/     lab directories (/tmp/ovl*) the command left in the guest's
#            /tmp, e.g. with OVSEC_LAB_KEEP=1: logs, configs, pcaps.
#
# Exit statuses follow timeout(1): 124 if the command ran out of time.

# "A && B || fail" is meant: fail if either A or B fails.
# shellcheck disable=SC2015

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
export HOME=/tmp
# Python would write __pycache__ into the host's checkout as root.
export PYTHONDONTWRITEBYTECODE=1
umask 022

# Mount points covered by tmpfs, so that nothing the guest's daemons write
# there reaches the host (and nothing of the host's confuses them).  Keep
# this list in sync with COVERED in run-uml.sh.
TMPFS_DIRS="/run /tmp /dev/shm /var/log /var/tmp /var/lib/openvswitch
            /etc/openvswitch /var/lib/ipsec"

# Kernel modules.  ipv6 is a module in Debian's UML kernel; the crypto
# modules are what ESP with AES-GCM (and AES-CBC/HMAC proposals) use:
# the kernel would autoload them, but loading them here turns a missing
# module into a clear early error instead of an SA that fails to install.
MODULES="ipv6 veth bridge
         openvswitch vport-geneve vport-vxlan vport-gre geneve vxlan
         ip_gre ip6_gre
         xfrm_user esp4 esp6 gcm ghash-generic ctr seqiv echainiv
         authenc hmac cbc sha512_generic"

log() {
    echo "uml-init: $*"
}

# Records 'status', flushes everything to the host and halts.  Never
# returns.
finish() {
    local status=$1

    if [ -n "${OVSEC_UML_DIR:-}" ] && [ -d "$OVSEC_UML_DIR" ]; then
        dmesg > "$OVSEC_UML_DIR/dmesg" 2>&1
        # Lab directories kept by OVSEC_LAB_KEEP=1 would vanish with the
        # guest's /tmp: copy them to the host (tar skips the sockets).
        for d in /tmp/ovl*; do
            [ -d "$d" ] || continue
            mkdir -p "$OVSEC_UML_DIR/lab"
            tar -C /tmp -cf - "${d#/tmp/}" 2>/dev/null \
                | tar -C "$OVSEC_UML_DIR/lab" -xf - 2>/dev/null
        done
        echo "$status" > "$OVSEC_UML_DIR/status.tmp" \
            && mv -f "$OVSEC_UML_DIR/status.tmp" "$OVSEC_UML_DIR/status"
    fi
    sync
    halt -f
    # halt is systemctl on Debian; if it ever fails, power off by sysrq.
    echo 1 > /proc/sys/kernel/sysrq 2>/dev/null
    echo o > /proc/sysrq-trigger 2>/dev/null
    sleep 5
    log "halt failed; the host will kill the guest at its deadline"
    while :; do
        sleep 3600
    done
}

fail() {
    log "setup failed: $*"
    finish 125
}

mount_fs() {
    local type=$1 dir=$2

    if ! mountpoint -q "$dir"; then
        mkdir -p "$dir" && mount -t "$type" "$type" "$dir" \
            || fail "cannot mount $type on $dir"
    fi
}

mount_fs proc /proc
mount_fs sysfs /sys
mount_fs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount_fs devpts /dev/pts
# devtmpfs has no /dev/fd (bash's <(...) needs it) and no std* links.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr

# The console is a tty: without this every "\n" reaches the host as
# "\r\n".
stty -onlcr 2>/dev/null

log "booted in $(cut -d' ' -f1 /proc/uptime) s"

[ -n "${OVSEC_UML_DIR:-}" ] || fail "OVSEC_UML_DIR is not set (boot with run-uml.sh)"
[ -f "$OVSEC_UML_DIR/params" ] || fail "$OVSEC_UML_DIR/params is missing"
[ -f "$OVSEC_UML_DIR/cmd" ] || fail "$OVSEC_UML_DIR/cmd is missing"
OVSEC_UML_TIMEOUT=600
OVSEC_UML_SETTLE=10.5
OVSEC_UML_VERBOSE=0
OVSEC_UML_TTY=0
# shellcheck source=/dev/null
. "$OVSEC_UML_DIR/params" || fail "cannot read $OVSEC_UML_DIR/params"

# A working directory under a directory about to be covered (a checkout
# in /tmp) is held on a bind mount in the run directory and bound back in
# place afterwards.
OVSEC_UML_KEEP=${OVSEC_UML_KEEP:-}
if [ -n "$OVSEC_UML_KEEP" ]; then
    mkdir -p "$OVSEC_UML_DIR/keep" \
        && mount --bind "$OVSEC_UML_KEEP" "$OVSEC_UML_DIR/keep" \
        || fail "cannot hold $OVSEC_UML_KEEP on $OVSEC_UML_DIR/keep"
fi
for dir in $TMPFS_DIRS; do
    case $OVSEC_UML_DIR/ in
        "$dir"/*) fail "$OVSEC_UML_DIR is under $dir, which the guest covers with tmpfs" ;;
    esac
    if ! mountpoint -q "$dir"; then
        mkdir -p "$dir" && mount -t tmpfs -o mode=0755 tmpfs "$dir" \
            || fail "cannot mount tmpfs on $dir"
    fi
done
if [ -n "$OVSEC_UML_KEEP" ]; then
    mkdir -p "$OVSEC_UML_KEEP" \
        && mount --bind "$OVSEC_UML_DIR/keep" "$OVSEC_UML_KEEP" \
        && umount "$OVSEC_UML_DIR/keep" \
        || fail "cannot bind $OVSEC_UML_KEEP back in place"
fi
chmod 1777 /tmp /var/tmp /dev/shm
mkdir -p /run/lock /run/netns /var/run/openvswitch 2>/dev/null

hostname uml
ip link set lo up || fail "cannot bring lo up"

# Modules: Debian ships the UML kernel's modules outside /lib/modules.
[ -d /lib/modules ] || fail "/lib/modules does not exist (run-uml.sh creates it on the host)"
mount --bind /usr/lib/uml/modules /lib/modules \
    || fail "cannot bind /usr/lib/uml/modules over /lib/modules"
# shellcheck disable=SC2086
modprobe -a $MODULES || fail "modprobe failed (see above)"
[ "$OVSEC_UML_VERBOSE" = 1 ] || dmesg -n 1

# ovs-vswitchd 3.1 counts CPU cores at most every 10 s of CLOCK_MONOTONIC,
# starting from 0: started before the guest's uptime passes 10 s it sees
# zero cores, creates no upcall handlers and forwards nothing.
if [ "$OVSEC_UML_SETTLE" != 0 ]; then
    # Bounded: the loop ends after at most OVSEC_UML_SETTLE seconds.
    settle_ms=$(awk -v s="$OVSEC_UML_SETTLE" 'BEGIN { printf "%d", s * 1000 }')
    for _ in $(seq 1 $((settle_ms / 100 + 1))); do
        up_ms=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
        [ "$up_ms" -ge "$settle_ms" ] && break
        sleep 0.1
    done
fi

log "running the command at uptime $(cut -d' ' -f1 /proc/uptime) s" \
    "(timeout ${OVSEC_UML_TIMEOUT} s)"
if [ "$OVSEC_UML_TTY" = 1 ]; then
    timeout --kill-after=10 "$OVSEC_UML_TIMEOUT" \
        /bin/bash "$OVSEC_UML_DIR/cmd" < /dev/null
    status=$?
else
    # Not a pipeline: processes the command leaves behind may hold the
    # pipe open, and a pipeline would wait for them.  cat gets 2 s to
    # drain the FIFO once the command is done.
    mkfifo /run/uml-init.out || fail "cannot create /run/uml-init.out"
    cat /run/uml-init.out &
    cat_pid=$!
    timeout --kill-after=10 "$OVSEC_UML_TIMEOUT" \
        /bin/bash "$OVSEC_UML_DIR/cmd" < /dev/null > /run/uml-init.out 2>&1
    status=$?
    for _ in $(seq 1 20); do
        kill -0 "$cat_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$cat_pid" 2>/dev/null
    wait "$cat_pid" 2>/dev/null
fi
case $status in
    124) log "the command timed out after $OVSEC_UML_TIMEOUT s" ;;
    137) log "the command was killed after $OVSEC_UML_TIMEOUT s + 10 s" ;;
esac
log "command exited with status $status at uptime" \
    "$(cut -d' ' -f1 /proc/uptime) s"
finish "$status"
