#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Gets Libreswan's pluto without installing the libreswan package, and
# prints the directory it is unpacked in.
#
# In Debian, libreswan conflicts with strongswan-starter and
# strongswan-libcharon, so both IKE daemons cannot be installed side by
# side.  ovsec's tests keep strongSwan installed and run pluto from a
# private tree instead:
#
#   1. install pluto's run-time libraries that are not already there
#      (libnss3-tools, libldns3, libevent-pthreads-2.1-7 and the rest of
#      the package's Depends), as root, with apt-get;
#   2. `apt-get download libreswan` into the cache directory;
#   3. `dpkg -x` it into DIR/root (DIR defaults to
#      /var/cache/ovsec-libreswan, or $OVSEC_LIBRESWAN_DIR);
#   4. print DIR/root.
#
# Idempotent: an existing unpacked tree of the same version is reused, and
# apt is not touched when everything is in place.
#
# Running pluto from the tree: pluto execs /usr/libexec/ipsec/addconn by
# absolute path, so inside a private mount namespace bind the tree over the
# system paths, e.g.
#   unshare --mount --propagation private sh -c '
#     mount --bind ROOT/usr/libexec/ipsec /usr/libexec/ipsec
#     mount --bind ROOT/usr/sbin/ipsec /usr/sbin/ipsec   # needs a file there
#     ...'
# or, for the `ipsec` script alone, set IPSEC_EXECDIR=ROOT/usr/libexec/ipsec
# and run ROOT/usr/sbin/ipsec.  Give pluto private --rundir, --ipsecdir,
# --nssdir and --secretsfile, as upstream OVS's system tests do.
#
# Options:
#   --no-install    do not apt-get install the libraries (fail if missing)
#   --version VER   download this version (apt syntax libreswan=VER)

set -euo pipefail

DIR=${OVSEC_LIBRESWAN_DIR:-/var/cache/ovsec-libreswan}
INSTALL=1
VERSION=

log() { echo "get-libreswan: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
        --no-install) INSTALL=0 ;;
        --version) VERSION=$2; shift ;;
        -h|--help) sed -n '3,35p' "$0"; exit 0 ;;
        *) log "unknown option $1"; exit 2 ;;
    esac
    shift
done

pkg=libreswan${VERSION:+=$VERSION}

# The Depends of the package, minus what already is installed.  libreswan
# depends on some packages through alternatives ("a | b"); take the first.
missing_deps() {
    local deb=$1 dep name status
    dpkg-deb -f "$deb" Depends | tr ',' '\n' | while read -r dep; do
        name=${dep%%|*}
        name=${name%%(*}
        name=${name// /}
        [ -n "$name" ] || continue
        case $name in
            # Only the programs need these; none of them matters to pluto,
            # and some conflict with strongSwan or pull in an init system.
            debconf|init-system-helpers|host|bind9-host|dns-root-data)
                continue ;;
        esac
        status=$(dpkg-query -W -f='${db:Status-Status}' "$name" \
                 2>/dev/null || true)
        [ "$status" = installed ] || echo "$name"
    done
}

mkdir -p "$DIR/debs"
cd "$DIR/debs"

deb=$(ls -1 libreswan_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$VERSION" ] || [ -z "$deb" ]; then
    log "apt-get download $pkg"
    if ! apt-get download "$pkg" >&2; then
        log "apt-get download failed; trying after apt-get update"
        apt-get update >&2
        apt-get download "$pkg" >&2
    fi
    deb=$(ls -1t libreswan_*.deb | head -n 1)
fi
ver=$(dpkg-deb -f "$deb" Version)

# Run-time libraries.  libnss3-tools, libldns3 and libevent-pthreads are
# the ones usually missing on a strongSwan machine.
need=$(missing_deps "$deb")
need="$need $(for p in libnss3-tools libldns3 libevent-pthreads-2.1-7; do
    s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$s" = installed ] || echo "$p"; done)"
need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ -n "${need// /}" ]; then
    if [ "$INSTALL" = 0 ]; then
        log "missing run-time packages: $need"
        exit 1
    fi
    if [ "$(id -u)" != 0 ]; then
        log "must run as root to install: $need"
        exit 1
    fi
    log "apt-get install $need"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $need >&2
fi

root=$DIR/root
if [ "$(cat "$DIR/root.version" 2>/dev/null || true)" != "$ver" ] \
       || [ ! -x "$root/usr/sbin/ipsec" ]; then
    log "unpacking $deb into $root"
    rm -rf "$root.new"
    mkdir -p "$root.new"
    dpkg -x "$deb" "$root.new"
    rm -rf "$root"
    mv "$root.new" "$root"
    echo "$ver" > "$DIR/root.version"
fi

for f in usr/sbin/ipsec usr/libexec/ipsec/pluto usr/libexec/ipsec/whack \
         usr/libexec/ipsec/addconn; do
    if [ ! -x "$root/$f" ]; then
        log "$root/$f missing from $deb"
        exit 1
    fi
done
if ! "$root/usr/libexec/ipsec/pluto" --version >/dev/null 2>&1; then
    log "$root/usr/libexec/ipsec/pluto does not run:"
    "$root/usr/libexec/ipsec/pluto" --version >&2 || true
    ldd "$root/usr/libexec/ipsec/pluto" | grep 'not found' >&2 || true
    exit 1
fi
log "Libreswan $ver in $root"
echo "$root"
