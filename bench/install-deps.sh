#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs what the benchmarks in bench/ need on Debian 12, as root, on top
# of scripts/install-deps.sh (which it runs first):
#   openvswitch-ipsec  upstream's ovs-monitor-ipsec, the monitor we compare
#                      with; it depends on the "strongswan" metapackage,
#                      i.e. strongswan-starter: the stroke "ipsec" command
#                      and starter, which upstream drives;
#   gnuplot-nox        the PNG chart;
#   strace             counts the child processes upstream spawns;
#   linux-perf, valgrind   where the time goes (bench/profile.sh).
#
# Idempotent, like scripts/install-deps.sh: nothing is touched when all is
# installed.  Package scripts must not start daemons: openvswitch-ipsec's
# and strongswan-starter's services would run upstream's monitor and a
# charon on the host's default sockets.  A policy-rc.d denies service starts
# during the install, any such daemon that appears anyway is stopped (by
# pid) afterwards, and the openvswitch-ipsec service is disabled.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/../scripts/install-deps.sh"

BENCH_PKGS=(openvswitch-ipsec strongswan strongswan-starter gnuplot-nox
            strace procps linux-perf valgrind)

log() { echo "bench/install-deps: $*"; }

missing=()
for pkg in "${BENCH_PKGS[@]}"; do
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

daemon_pids() {
    local d
    for d in ovsdb-server ovs-vswitchd charon starter; do
        pgrep -x "$d" 2>/dev/null || true
    done
    # ovs-monitor-ipsec is a Python script: match its command line.
    pgrep -f '^/usr/bin/python3 /usr/share/openvswitch/scripts/ovs-monitor-ipsec' \
        2>/dev/null || true
} 
before=$(daemon_pids | sort)

policy=/usr/sbin/policy-rc.d
remove_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Temporary, from ovsec bench/install-deps.sh.\n' \
        > "$policy"
    printf 'exit 101\n' >> "$policy"
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

# openvswitch-ipsec enables its service, which at the next boot would run
# upstream's monitor against the host's database and "ipsec restart" the
# host's strongSwan: the benchmark runs upstream in its own namespaces
# only.
if [[ " ${missing[*]} " == *" openvswitch-ipsec "* ]]; then
    log "disabling the openvswitch-ipsec service (the benchmark starts" \
        "its own)"
    if command -v systemctl >/dev/null; then
        # Also disables the SysV script, offline (no running systemd needed).
        systemctl --no-reload disable openvswitch-ipsec.service \
            >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null; then
        update-rc.d openvswitch-ipsec disable >/dev/null 2>&1 || true
    fi
fi

after=$(daemon_pids | sort)
new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
for pid in $new; do
    log "stopping $(ps -o comm= -p "$pid" || echo '?') (pid $pid)," \
        "started by the package install"
    kill "$pid" 2>/dev/null || true
done

for f in /usr/share/openvswitch/scripts/ovs-monitor-ipsec \
         /usr/sbin/ipsec /usr/lib/ipsec/starter /usr/lib/ipsec/stroke; do
    if [ ! -x "$f" ]; then
        log "$f is missing after the install" >&2
        exit 1
    fi
done
log "done"
