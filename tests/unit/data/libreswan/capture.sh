#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Captures real `ipsec status` output of Libreswan 4.10 (Debian 12) for
# the libreswan-status unit tests.  Two pluto hosts in namespaces (see
# lab.sh) with PSK connections named as ovs-monitor-ipsec names them,
# with awkward interface names ("gnv-in-7", "vx6.a_b"), IPv4 and IPv6.
#
#   capture.sh OUTDIR PREFIX      as root
#
# On a kernel without ESP (the CI host), IKE SAs establish and installing
# the ESP SAs fails: PREFIX "no-esp".  Inside user-mode Linux, whose kernel
# has ESP, everything establishes: PREFIX "uml", run as
#   tests/uml/run-uml.sh -- tests/unit/data/libreswan/capture.sh \
#       tests/unit/data/libreswan/4.10 uml
# Writes PREFIX-loaded.txt (connections added, none up), PREFIX-left.txt
# and PREFIX-right.txt (after the left host brought up its outbound
# connections), PREFIX-down.txt (after deleting some), plus the two hosts'
# ipsec.conf for reference.

set -euo pipefail
OUT=$(realpath "$1")
PREFIX=$2
HERE=$(dirname "$(realpath "$0")")
ROOT=${OVSEC_LIBRESWAN_ROOT:-/var/cache/ovsec-libreswan/root}
# shellcheck source=lab.sh
source "$HERE/lab.sh"

trap lab_down EXIT
lab_up "$ROOT"

conf() {    # me peer me6 peer6
    local me=$1 peer=$2 me6=$3 peer6=$4
    cat <<EOC
conn %default
    type=transport
    auto=route
    ike=aes_gcm256-sha2_256
    esp=aes_gcm256
    ikev2=insist
    keyingtries=%forever

conn gre0-1
    left=$me
    right=$peer
    authby=secret
    leftprotoport=gre
    rightprotoport=gre

conn gnv-in-7-in-3
    left=$me
    right=$peer
    authby=secret
    leftprotoport=udp/6081
    rightprotoport=udp

conn gnv-in-7-out-3
    left=$me
    right=$peer
    authby=secret
    leftprotoport=udp
    rightprotoport=udp/6081

conn vx6.a_b-in-12
    hostaddrfamily=ipv6
    clientaddrfamily=ipv6
    left=$me6
    right=$peer6
    authby=secret
    leftprotoport=udp/4789
    rightprotoport=udp

conn vx6.a_b-out-12
    hostaddrfamily=ipv6
    clientaddrfamily=ipv6
    left=$me6
    right=$peer6
    authby=secret
    leftprotoport=udp
    rightprotoport=udp/4789

conn lonely-out-2
    left=$me
    right=192.0.2.77
    authby=secret
    leftprotoport=udp
    rightprotoport=udp/6081
EOC
}

MAJOR=$("$ROOT/usr/libexec/ipsec/pluto" --version \
            | sed -n 's/^Libreswan v\{0,1\}\([0-9]*\).*/\1/p')
MAJOR=${MAJOR:-4}

CONNS="gre0-1 gnv-in-7-in-3 gnv-in-7-out-3 vx6.a_b-in-12 vx6.a_b-out-12"
for h in left right; do
    if [ "$h" = left ]; then p=right; else p=left; fi
    conf "${LAB_IP4[$h]}" "${LAB_IP4[$p]}" "${LAB_IP6[$h]}" \
         "${LAB_IP6[$p]}" > "$LAB/$h/ovs.conf"
    printf 'config setup\n    uniqueids=yes\ninclude %s\n' \
           "$LAB/$h/ovs.conf" > "$LAB/$h/ipsec.conf"
    printf '%%any %s : PSK "swordfish-swordfish"\n' \
           "${LAB_IP4[$p]}" "${LAB_IP6[$p]}" > "$LAB/$h/ipsec.secrets"
    printf '%%any 192.0.2.77 : PSK 0x0102\n' >> "$LAB/$h/ipsec.secrets"
    # `ipsec auto --OP` in 4.x; `ipsec OP` in 5.x, which dropped "auto".
    auto() {
        local async=
        if [ "$1" = --asynchronous ]; then async=$1; shift; fi
        if [ "$MAJOR" -lt 5 ]; then
            ipsec_on "$h" auto --config "$LAB/$h/ipsec.conf" \
                --ctlsocket "$LAB/$h/run/pluto.ctl" $async "$@"
        else
            local op=${1#--}; shift
            ipsec_on "$h" "$op" --config "$LAB/$h/ipsec.conf" \
                --ctlsocket "$LAB/$h/run/pluto.ctl" $async "$@"
        fi
    }
    auto --rereadsecrets
    for c in $CONNS; do
        auto --add "$c"
    done
done
h=left
auto --add lonely-out-2

status() {
    ipsec_on "$1" status --ctlsocket "$LAB/$1/run/pluto.ctl" > "$2"
}
status left "$OUT/$PREFIX-loaded.txt"

# As upstream does: the left host starts its outbound connections (and the
# gre one); the right host only added them.
for c in gre0-1 gnv-in-7-out-3 vx6.a_b-out-12 lonely-out-2; do
    auto --asynchronous --up "$c" || true
done
sleep "${CAPTURE_SETTLE:-4}"
status left "$OUT/$PREFIX-left.txt"
status right "$OUT/$PREFIX-right.txt"
if [ "$PREFIX" = uml ]; then
    # The SAs' keys are redacted: no key material in the repository.
    key='^(\s*(aead|enc|auth|auth-trunc|comp) \S+ )0x[0-9a-f]+'
    on left ip xfrm state | sed -E "s/$key/\\1<key redacted>/" \
        > "$OUT/$PREFIX-xfrm-state-left.txt" || true
fi

auto --delete gnv-in-7-out-3 || true
auto --delete vx6.a_b-in-12 || true
sleep 1
status left "$OUT/$PREFIX-down.txt"
cp "$LAB/left/ovs.conf" "$OUT/$PREFIX-ovs-left.conf"
tail -n 200 "$LAB/left/pluto.log" > "$OUT/$PREFIX-pluto-left.log" || true
tail -n 200 "$LAB/right/pluto.log" > "$OUT/$PREFIX-pluto-right.log" || true
echo "capture: wrote $OUT/$PREFIX-*"
