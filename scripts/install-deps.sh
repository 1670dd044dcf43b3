#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs what ovsec needs to build and test on Debian 12, as root.
#
# Idempotent: when every package is already installed, apt is not touched
# at all.  Otherwise "apt-get update" runs once, then one "apt-get install".
# Package scripts must not start daemons (ovsdb-server, ovs-vswitchd,
# charon/starter) that would hold the default sockets, ports 500/4500 or
# the kernel's XFRM state: a policy-rc.d denies service starts during the
# install, and any such daemon that appears anyway is stopped afterwards
# (only processes that were not running before the install).

set -euo pipefail

# Build: meson and a C11 toolchain, OpenSSL 3, jansson, libmnl, xxHash
# (header only), cmocka.
BUILD_PKGS=(meson ninja-build pkg-config gcc libc6-dev libssl-dev
            libjansson-dev libmnl-dev libxxhash-dev libcmocka-dev)

# Integration tests: real ovsdb-server and charon in network namespaces.
# The charon plugins the lab loads come from libstrongswan (most),
# libstrongswan-standard-plugins (openssl, gcm; only "Recommended" by
# libstrongswan), strongswan-libcharon (socket-default) and, on Debian 12,
# strongswan-swanctl (vici: /usr/lib/ipsec/plugins/libstrongswan-vici.so).
TEST_PKGS=(python3 python3-pytest openvswitch-switch openvswitch-common
           strongswan-charon strongswan-swanctl libstrongswan
           libstrongswan-standard-plugins strongswan-libcharon
           iproute2 tcpdump iputils-ping procps kmod util-linux mount
           # Cross-checks of what ovsec-pki makes.
           openssl strongswan-pki libnss3-tools
           # Real-kernel tests and the demo: a 6.1 kernel with ESP, Geneve,
           # VXLAN, GRE and the Open vSwitch datapath, as a process.
           user-mode-linux)

# Daemons the packages above may try to start.
DAEMONS=(ovsdb-server ovs-vswitchd charon starter)

log() { echo "install-deps: $*"; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root" >&2
    exit 1
fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null
then
    log "this script supports Debian (dpkg/apt) only" >&2
    exit 1
fi

missing=()
for pkg in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null \
             || true)
    if [ "$status" != installed ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    log "all packages already installed"
    exit 0
fi
log "installing: ${missing[*]}"

# pids of the daemons running now, so that only new ones are stopped.
daemon_pids() {
    local d
    for d in "${DAEMONS[@]}"; do
        pgrep -x "$d" 2>/dev/null || true
    done | sort
}
before=$(daemon_pids)

# Deny service starts from maintainer scripts (invoke-rc.d honours
# policy-rc.d, with or without systemd), unless a policy already exists.
policy=/usr/sbin/policy-rc.d
remove_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Temporary, from ovsec install-deps.sh.\nexit 101\n' \
        > "$policy"
    chmod 755 "$policy"
    remove_policy=true
fi
cleanup() {
    if $remove_policy; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

# Stop daemons that appeared during the install, by pid.
after=$(daemon_pids)
new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
if [ -n "$new" ]; then
    for pid in $new; do
        log "stopping $(ps -o comm= -p "$pid" || echo '?') (pid $pid)," \
            "started by the package install"
        kill "$pid" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        alive=""
        for pid in $new; do
            if kill -0 "$pid" 2>/dev/null; then
                alive="$alive $pid"
            fi
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in $alive; do
        kill -9 "$pid" 2>/dev/null || true
    done
fi

if [ ! -e /usr/lib/ipsec/plugins/libstrongswan-vici.so ]; then
    log "strongSwan's vici plugin is missing after the install" >&2
    exit 1
fi
log "done"
