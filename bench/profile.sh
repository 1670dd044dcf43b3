#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs ovsec-monitor alone through the benchmark's phases at one N under a
# profiler, as root, and prints the profile:
#
#     sudo bench/profile.sh perf 1000       # perf record -g; perf report
#     sudo bench/profile.sh callgrind 1000  # valgrind --tool=callgrind
#     sudo bench/profile.sh massif 2000     # valgrind --tool=massif (heap)
#
# OVSEC_BENCH_IKE=libreswan profiles the Libreswan backend (default
# strongswan).  The raw data stays in bench/results/profile-TOOL-N/.
# Under valgrind the daemon is some 20-50 times slower: the times it
# reports mean nothing, the shares do.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tool=${1:-perf}
n=${2:-1000}
ike=${OVSEC_BENCH_IKE:-strongswan}
out="$here/results/profile-$tool-$n"
rm -rf "$out"
mkdir -p "$out"

case $tool in
perf)
    wrap="perf record -g -F 999 -o $out/ovsec.perf.data" ;;
callgrind)
    wrap="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out" ;;
massif)
    wrap="valgrind --tool=massif --massif-out-file=$out/massif.out" ;;
*)
    echo "usage: $0 perf|callgrind|massif [N]" >&2
    exit 2 ;;
esac

OVSEC_BENCH_WRAP="$wrap" "$here/run.sh" --subjects ovsec --n "$n" \
    --ike "$ike" --runs 1 --idle-window 0 --no-perf --phase-timeout 900 \
    --out "$out/bench" | sed -n '/^N = /,/^upstream\/floor: recovery/p'

case $tool in
perf)
    perf report -i "$out/ovsec.perf.data" --stdio --no-children \
        --percent-limit 1 2>/dev/null | head -120 ;;
callgrind)
    callgrind_annotate "$out/callgrind.out" 2>/dev/null | head -60 ;;
massif)
    ms_print "$out/massif.out" | head -120 ;;
esac
