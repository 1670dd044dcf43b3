#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Benchmarks ovsec-monitor against upstream's ovs-monitor-ipsec (Debian's
# openvswitch-ipsec, strongSwan and Libreswan modes), as root:
#
#     sudo bench/run.sh            # N = 10, 100, 1000, 2000; 3 runs (~40 min per IKE daemon)
#     sudo bench/run.sh --quick    # N = 10, 100; 1 run (~3 min)
#
# Installs the dependencies (bench/install-deps.sh, and Libreswan's tree
# with scripts/get-libreswan.sh), builds ovsec-monitor
# without sanitizers (build-bench, release) and runs bench/bench.py with
# the arguments given (bench/bench.py --help).  Prints one table; results
# go to bench/results/TIMESTAMP/ (results.tsv, summary.tsv, report.txt,
# convergence.png).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: must run as root (namespaces, charon)" >&2
    exit 1
fi

"$here/install-deps.sh"

# Libreswan's pluto, unpacked into /var/cache/ovsec-libreswan (Debian's
# libreswan conflicts with strongSwan): the benchmark's Libreswan mode.
# Without it bench.py measures strongSwan only and says why.
if ! "$repo/scripts/get-libreswan.sh" >/dev/null; then
    echo "bench/run.sh: scripts/get-libreswan.sh failed: Libreswan mode" \
         "will be skipped" >&2
fi

build="$repo/build-bench"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$repo" --buildtype=release
fi
# Only the daemon: the benchmark needs nothing else.
ninja -C "$build" monitor/ovsec-monitor

export OVSEC_MONITOR="$build/monitor/ovsec-monitor"
exec python3 "$here/bench.py" "$@"
