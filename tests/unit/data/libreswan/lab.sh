#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Two pluto hosts ("left", "right") in private network and mount
# namespaces, for capturing `ipsec status` output of a real Libreswan.
# Used by capture.sh; run as root.  Sourced, it defines:
#   lab_up ROOT       create the namespaces, start pluto on both hosts
#   lab_down          stop pluto, remove the namespaces
#   on HOST CMD...    run CMD on HOST (its net and mount namespace)
#   ipsec_on HOST ARGS...   run the unpacked `ipsec` on HOST with the
#                     host's --ctlsocket/--config where they apply
# The hosts: left 192.0.2.1 / 2001:db8::1, right 192.0.2.2 / 2001:db8::2,
# on a veth pair.  Each pluto gets private --rundir, --ipsecdir, --nssdir
# and --secretsfile under $LAB (default /tmp/lsw), as upstream OVS's
# system tests run it.

LAB=${LAB:-/tmp/lsw}
declare -A LAB_IP4=([left]=192.0.2.1 [right]=192.0.2.2)
declare -A LAB_IP6=([left]=2001:db8::1 [right]=2001:db8::2)

on() {
    local h=$1; shift
    nsenter --mount="$LAB/$h/mnt" --net="/run/netns/lsw-$h" "$@"
}

ipsec_on() {
    local h=$1; shift
    on "$h" env IPSEC_EXECDIR=/usr/libexec/ipsec /usr/sbin/ipsec "$@"
}

lab_up() {
    local root=$1 h peer
    mkdir -p "$LAB"
    # A private mount point for the persistent mount namespace files.
    if ! mountpoint -q "$LAB"; then
        mount --bind "$LAB" "$LAB"
        mount --make-private "$LAB"
    fi
    ip link add lswL type veth peer name lswR
    for h in left right; do
        ip netns add "lsw-$h"
        umount "$LAB/$h/mnt" 2>/dev/null || true
        rm -rf "${LAB:?}/$h"
        mkdir -p "$LAB/$h"/{run,ipsec.d,nss}
        touch "$LAB/$h/mnt"
        unshare --mount="$LAB/$h/mnt" --propagation private true
        # pluto execs /usr/libexec/ipsec/addconn: put the unpacked tree
        # there, and its `ipsec` over strongSwan's.
        on "$h" sh -ec "
            mount -t tmpfs lsw /usr/libexec
            mkdir /usr/libexec/ipsec
            mount --bind $root/usr/libexec/ipsec /usr/libexec/ipsec
            mount --bind $root/usr/sbin/ipsec /usr/sbin/ipsec
            mount -t tmpfs lsw /run
            mkdir -p /run/netns /run/pluto"
    done
    ip link set lswL netns lsw-left
    ip link set lswR netns lsw-right
    on left ip link set lswL name eth0
    on right ip link set lswR name eth0
    for h in left right; do
        [ "$h" = left ] && peer=right || peer=left
        on "$h" ip link set lo up
        on "$h" ip addr add "${LAB_IP4[$h]}/24" dev eth0
        on "$h" ip addr add "${LAB_IP6[$h]}/64" dev eth0 nodad
        on "$h" ip link set eth0 up
        on "$h" ip route add default via "${LAB_IP4[$peer]}"
        on "$h" ip -6 route add default via "${LAB_IP6[$peer]}"
        certutil -N -d "sql:$LAB/$h/nss" --empty-password </dev/null
        printf 'config setup\n    uniqueids=yes\n' > "$LAB/$h/ipsec.conf"
        : > "$LAB/$h/ipsec.secrets"
        chmod 600 "$LAB/$h/ipsec.secrets"
        on "$h" /usr/libexec/ipsec/pluto --config "$LAB/$h/ipsec.conf" \
            --secretsfile "$LAB/$h/ipsec.secrets" \
            --ipsecdir "$LAB/$h/ipsec.d" --nssdir "$LAB/$h/nss" \
            --rundir "$LAB/$h/run" --logfile "$LAB/$h/pluto.log"
    done
    for h in left right; do
        for _ in $(seq 50); do
            [ -S "$LAB/$h/run/pluto.ctl" ] && break
            sleep 0.1
        done
    done
}

lab_down() {
    local h pid
    for h in left right; do
        pid=$(cat "$LAB/$h/run/pluto.pid" 2>/dev/null || true)
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    sleep 0.5
    for h in left right; do
        ip netns del "lsw-$h" 2>/dev/null || true
        umount "$LAB/$h/mnt" 2>/dev/null || true
    done
    umount "$LAB" 2>/dev/null || true
}
