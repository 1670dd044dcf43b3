#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's demo command: installs the Debian dependencies, builds
# ovsec-monitor and runs scripts/demo.py (two hosts in network namespaces,
# a PSK geneve tunnel between them).  Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "demo: must run as root (the demo creates namespaces)" >&2
    exit 1
fi
bash scripts/install-deps.sh
BUILD=${OVSEC_BUILD_DIR:-build-demo}
if [ -f "$BUILD/build.ninja" ]; then
    meson setup --reconfigure "$BUILD" >/dev/null
else
    meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" monitor/ovsec-monitor >/dev/null
exec /usr/bin/python3 scripts/demo.py "$PWD/$BUILD/monitor/ovsec-monitor"
