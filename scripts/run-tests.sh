#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds ovsec with ASan and UBSan and runs every test, as root:
#   1. scripts/install-deps.sh (skipped with OVSEC_SKIP_DEPS=1);
#   2. meson setup (or reconfigure) of $OVSEC_BUILD_DIR (default
#      build-test) with -Db_sanitize=address,undefined, then ninja;
#   3. meson test: the cmocka unit tests;
#   4. pytest on tests/integration with the built ovsec-monitor, using
#      Debian's /usr/bin/python3 (a pyenv or venv python3 earlier on PATH
#      may lack Debian's modules);
#   5. the real-kernel suite tests/uml in user-mode Linux, with a UBSan
#      build in $OVSEC_UML_BUILD_DIR (default build-uml); OVSEC_SKIP_UML=1
#      skips it.
# Extra arguments are passed to pytest (e.g. -k ike -x).
#
# Exits non-zero if any step fails, or if pytest collects no tests.  Ends
# with the summary lines of meson test and pytest.

set -euo pipefail

cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${OVSEC_BUILD_DIR:-build-test}
PYTHON=/usr/bin/python3

log() { echo "run-tests: $*"; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root (the integration lab creates namespaces)" >&2
    exit 1
fi

if [ "${OVSEC_SKIP_DEPS:-0}" != 1 ]; then
    bash scripts/install-deps.sh
fi

# Always reconfigure an existing build directory: meson.build picks up
# source files with fs.exists() at configure time.
if [ -f "$BUILD/build.ninja" ]; then
    meson setup --reconfigure "$BUILD" \
        -Db_sanitize=address,undefined -Db_lundef=false
else
    meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$BUILD"

# Unit tests.
# With pipefail, a pipeline's status is meson's (or pytest's) unless tee
# itself fails.
meson_rc=0
meson test -C "$BUILD" --print-errorlogs 2>&1 \
    | tee "$BUILD/meson-test.out" || meson_rc=$?

# Integration tests.  Once monitor/main.c exists, a missing binary is a
# failure, not a skip.
export OVSEC_MONITOR="$SRC/$BUILD/monitor/ovsec-monitor"
if [ -f monitor/main.c ]; then
    export OVSEC_REQUIRE_MONITOR=1
fi
pytest_rc=0
"$PYTHON" -m pytest tests/integration -v "$@" 2>&1 \
    | tee "$BUILD/pytest.out" || pytest_rc=$?

# Real-kernel suite, inside user-mode Linux (tests/uml).  ASan cannot run
# in UML (its shadow memory does not fit UML's address space), so this
# uses a build with UBSan only.  OVSEC_SKIP_UML=1 skips it.
uml_rc=0
UML_BUILD=${OVSEC_UML_BUILD_DIR:-build-uml}
if [ "${OVSEC_SKIP_UML:-0}" != 1 ]; then
    if [ -f "$UML_BUILD/build.ninja" ]; then
        meson setup --reconfigure "$UML_BUILD" -Db_sanitize=undefined
    else
        meson setup "$UML_BUILD" -Db_sanitize=undefined
    fi
    ninja -C "$UML_BUILD"
    # The Libreswan scenarios run pluto from Debian's package unpacked on
    # the host (the guest cannot download it).
    bash scripts/get-libreswan.sh >/dev/null
    OVSEC_REQUIRE_LIBRESWAN=1 \
    OVSEC_MONITOR="$SRC/$UML_BUILD/monitor/ovsec-monitor" \
    OVSEC_PKI="$SRC/$UML_BUILD/pki/ovsec-pki" \
        tests/uml/run-uml.sh --timeout 2400 --settle 0 -- \
        "$PYTHON" -m pytest tests/uml -v -p no:cacheprovider 2>&1 \
        | tee "$UML_BUILD/pytest-uml.out" || uml_rc=$?
fi

echo
log "summary"
summary='^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):'
grep -E "$summary|No tests defined" "$BUILD/meson-test.out" \
    | sed 's/^/  meson: /' || true
tail -n 1 "$BUILD/pytest.out" | sed 's/^/  pytest: /'
if [ "${OVSEC_SKIP_UML:-0}" != 1 ]; then
    grep -E '^=+ .*(passed|failed|error).* in ' "$UML_BUILD/pytest-uml.out" \
        | tail -n 1 | sed 's/^/  pytest (user-mode Linux): /' || true
fi

status=0
if [ "$meson_rc" -ne 0 ]; then
    log "FAILED: meson test exited with status $meson_rc" >&2
    status=1
fi
case $pytest_rc in
    0) ;;
    5) log "FAILED: pytest collected no tests (exit status 5)" >&2
       status=1 ;;
    *) log "FAILED: pytest exited with status $pytest_rc" >&2
       status=1 ;;
esac
case $uml_rc in
    0) ;;
    5) log "FAILED: the real-kernel suite collected no tests" >&2
       status=1 ;;
    *) log "FAILED: the real-kernel suite (user-mode Linux) exited with" \
           "status $uml_rc" >&2
       status=1 ;;
esac
if [ $status -eq 0 ]; then
    log "all tests passed"
fi
exit $status
