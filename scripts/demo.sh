#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's demo command: installs the Debian dependencies, builds
# ovsec, boots user-mode Linux (a real 6.1 kernel with ESP, Geneve and the
# Open vSwitch datapath, as an ordinary process) and runs the upstream IPsec
# tutorial inside it with ovsec-monitor: scripts/demo_uml.py.  Run as root.
#
# OVSEC_DEMO=netns runs the older, kernel-less demo instead
# (scripts/demo.py: two namespaces on this kernel, IKE only).
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
MONITOR=$PWD/$BUILD/monitor/ovsec-monitor

if [ "${OVSEC_DEMO:-uml}" = netns ]; then
    exec /usr/bin/python3 scripts/demo.py "$MONITOR"
fi
exec tests/uml/run-uml.sh --timeout 300 --settle 0 -- \
    /usr/bin/python3 scripts/demo_uml.py "$MONITOR"
