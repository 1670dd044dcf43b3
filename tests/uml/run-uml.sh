#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs a command inside a user-mode Linux guest whose root file system is
# this host's "/", and exits with the command's status.  See
# tests/uml/README.md.
#
#   tests/uml/run-uml.sh [OPTIONS] [--] COMMAND [ARG...]
#
# The guest (Debian's linux.uml, its own kernel with ESP, Geneve and the
# Open vSwitch datapath) runs tests/uml/guest-init.sh as PID 1, which
# mounts private tmpfs over the host's run-time directories, loads modules,
# runs COMMAND in the current directory and halts.  COMMAND's output
# streams to our stdout as the guest prints it (stdout and stderr merged,
# through the guest's console).
#
# Host and guest talk through a run directory on the shared file system,
# $OVSEC_UML_STATE_DIR/run.XXXXXX (default state directory
# /var/cache/ovsec-uml; it must not be under a directory the guest covers
# with tmpfs): "cmd" and "params" in, "status", "dmesg" out, plus the whole
# console output in "console.log".  It is removed after a successful run
# and kept (with a note) after a failure or with --keep.
#
# Exit status: COMMAND's; 124 if COMMAND or the guest ran out of time;
# 125 if the guest could not run COMMAND (setup failure, crash); 2 on bad
# usage.  Nothing is left running: the guest always halts, and the host
# kills UML's whole session when the deadline passes or this script is
# interrupted.

# "A && B || die" is meant: die if either A or B fails.
# shellcheck disable=SC2015

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
GUEST_INIT=$SCRIPT_DIR/guest-init.sh
UML=${OVSEC_UML_KERNEL:-/usr/bin/linux.uml}
STATE_DIR=${OVSEC_UML_STATE_DIR:-/var/cache/ovsec-uml}

# Directories guest-init.sh covers with tmpfs: the guest cannot see
# anything of the host below them.  Keep in sync with TMPFS_DIRS there.
COVERED="/run /var/run /tmp /dev/shm /var/log /var/tmp /var/lib/openvswitch
         /etc/openvswitch /var/lib/ipsec"

# Host environment variables passed to the guest (besides --env).
PASS_ENV_RE='^(OVSEC_[A-Z0-9_]*|PYTEST_ADDOPTS)$'

timeout=600
mem=1G
settle=10.5
verbose=0
keep=0
extra_env=()

usage() {
    cat <<EOF
usage: $0 [OPTIONS] [--] COMMAND [ARG...]
Runs COMMAND, as root, in the current directory inside a user-mode Linux
guest sharing this host's file system, and exits with COMMAND's status.

  --timeout SECS     COMMAND's deadline inside the guest (default $timeout);
                     the host kills the guest if it is still up SECS + 60 s
                     after the settle time
  --mem SIZE         guest RAM, as for linux.uml mem= (default $mem)
  --settle SECS      wait until the guest's uptime reaches SECS before
                     COMMAND starts (default $settle: ovs-vswitchd 3.1
                     forwards nothing if started earlier; 0 for no wait)
  --env NAME=VALUE   set NAME in COMMAND's environment (repeatable);
                     OVSEC_* and PYTEST_ADDOPTS are passed on anyway
  --keep             keep the run directory (console log, dmesg)
  --verbose          show the guest kernel's messages
  -h, --help         this help
EOF
}

die() {
    echo "run-uml: $*" >&2
    exit 2
}

log() {
    echo "run-uml: $*" >&2
}

is_number() {
    [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]
}

while [ $# -gt 0 ]; do
    case $1 in
        --timeout)
            [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]{0,5}$ ]] \
                || die "--timeout needs a whole number of seconds"
            timeout=$2; shift 2 ;;
        --timeout=*)
            timeout=${1#*=}
            [[ $timeout =~ ^[1-9][0-9]{0,5}$ ]] \
                || die "--timeout needs a whole number of seconds"
            shift ;;
        --mem)
            [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*[KMG]?$ ]] \
                || die "--mem needs a size such as 1G"
            mem=$2; shift 2 ;;
        --settle)
            [ $# -ge 2 ] && is_number "$2" && [ "${2%%.*}" -le 60 ] \
                || die "--settle needs a number of seconds (at most 60)"
            settle=$2; shift 2 ;;
        --env)
            [ $# -ge 2 ] && [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] \
                || die "--env needs NAME=VALUE"
            extra_env+=("$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        --verbose) verbose=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { usage >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (the guest runs daemons as root on the host's files)"
[ -x "$UML" ] || die "$UML not found: apt-get install -y user-mode-linux"
[ -x "$GUEST_INIT" ] || die "$GUEST_INIT is not executable"
[ -d /usr/lib/uml/modules ] || die "/usr/lib/uml/modules not found: apt-get install -y user-mode-linux"

# The guest sees the host's files except below the tmpfs mounts: refuse
# paths it could not see, instead of failing obscurely inside.
under_covered() {
    local path dir
    path=$(realpath -m -- "$1")/
    for dir in $COVERED; do
        case $path in
            "$dir"/*) echo "$dir"; return 0 ;;
        esac
    done
    return 1
}
if dir=$(under_covered "$STATE_DIR"); then
    die "the state directory $STATE_DIR is under $dir, which the guest" \
        "covers with tmpfs"
fi
# The current directory (a checkout in /tmp, say) may be under a covered
# directory: guest-init.sh binds it back in place over its tmpfs.  The
# guest init script itself runs from an fd opened at boot, before the
# tmpfs mounts, but must then be in the current directory's tree.
keep_dir=
if under_covered "$PWD" >/dev/null; then
    keep_dir=$(realpath -- "$PWD")
    [[ $keep_dir =~ ^[A-Za-z0-9_./-]+$ ]] \
        || die "the current directory $keep_dir is under a directory the guest" \
               "covers with tmpfs and has characters guest-init.sh cannot" \
               "carry"
fi
if under_covered "$GUEST_INIT" >/dev/null; then
    case $(realpath -- "$GUEST_INIT") in
        "${keep_dir:-/nonexistent}"/*) ;;
        *) die "the guest init $GUEST_INIT is under a directory the guest" \
               "covers with tmpfs, outside the current directory" ;;
    esac
fi

# guest-init.sh bind-mounts the UML modules over /lib/modules, which must
# exist (the guest's root is the host's).
mkdir -p /lib/modules

mkdir -p "$STATE_DIR"
chmod 0700 "$STATE_DIR"
RUN_DIR=$(mktemp -d "$STATE_DIR/run.XXXXXX")
# It goes on the kernel command line, which is split at spaces.
[[ $RUN_DIR =~ ^[A-Za-z0-9_./-]+$ ]] \
    || die "run directory $RUN_DIR has characters the kernel command line cannot carry"

# The command: cd here, export the passed environment, exec.
{
    echo "# Written by run-uml.sh; run by guest-init.sh."
    printf 'cd -- %q || exit 125\n' "$PWD"
    while IFS='=' read -r -d '' name value; do
        if [[ $name =~ $PASS_ENV_RE ]]; then
            printf 'export %s=%q\n' "$name" "$value"
        fi
    done < /proc/self/environ
    for kv in "${extra_env[@]}"; do
        printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
    done
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} > "$RUN_DIR/cmd"
# The guest's console is a terminal; the command's output is one only if
# ours is, so that programs format it as they would here.
tty=0
[ -t 1 ] && tty=1
cat > "$RUN_DIR/params" <<EOF
OVSEC_UML_TIMEOUT=$timeout
OVSEC_UML_SETTLE=$settle
OVSEC_UML_VERBOSE=$verbose
OVSEC_UML_TTY=$tty
OVSEC_UML_KEEP=$keep_dir
EOF

# UML backs the guest's RAM with a file in $TMPDIR or /dev/shm; containers
# often have a 64 MB /dev/shm, too small for the guest.
mem_mb=$(numfmt --from=iec "$mem")
mem_mb=$((mem_mb / 1048576))
shm_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -z "${TMPDIR:-}" ] && { [ -z "$shm_mb" ] || [ "$shm_mb" -lt $((mem_mb + 64)) ]; }; then
    export TMPDIR=$RUN_DIR
    log "/dev/shm has ${shm_mb:-no} MB free for a ${mem_mb} MB guest;" \
        "backing guest RAM with a file in $TMPDIR"
fi

# Guest kernel's command line.  Unknown NAME=VALUE words reach init as
# environment variables.  "quiet" keeps the kernel's boot messages off the
# console (they are in RUN_DIR/dmesg).
# uml_dir: UML's own state (pid file, mconsole socket) goes to the run
# directory instead of ~/.uml, where a killed guest would leave it.
# shellcheck disable=SC2054
cmdline=(mem="$mem" rootfstype=hostfs rootflags=/ rw init="$GUEST_INIT"
         con=null con0=null,fd:1 ssl=null uml_dir="$RUN_DIR" umid=guest
         OVSEC_UML_DIR="$RUN_DIR")
[ $verbose = 1 ] || cmdline+=(quiet)

# The console goes through a FIFO to a filter that keeps everything in
# console.log and shows the guest's lines from guest-init's first message
# on (before that: UML's own chatter, unless --verbose).
mkfifo "$RUN_DIR/console"
keeper_pid=
filter_pid=
deadline_hit=0

# UML puts itself in a session of its own (it calls setsid()), with helper
# processes that outlive its main process if that is killed alone.  A
# keeper runs it: the keeper has its own session too (so a kill of our
# process group does not reach it), gets SIGTERM from the kernel when this
# script dies however it dies (setpriv --pdeathsig), and on SIGTERM kills
# UML's whole session.  Arguments: UML's pid file, then UML's command.
# shellcheck disable=SC2016
KEEPER='
pidfile=$1
shift
uml=
stop() {
    if [ -n "$uml" ]; then
        kill -KILL -- "-$uml" "$uml" 2>/dev/null
    fi
    exit 137
}
trap stop TERM INT HUP
"$@" &
uml=$!
echo "$uml" > "$pidfile"
wait "$uml"
rc=$?
kill -KILL -- "-$uml" 2>/dev/null
exit "$rc"
'

# Kills whatever is left of the keeper's and UML's sessions (bounded),
# then waits for the filter, which ends at EOF on the FIFO.
cleanup() {
    local sessions sid left=0

    if [ -n "$keeper_pid" ]; then
        kill -TERM "$keeper_pid" 2>/dev/null || true
        wait "$keeper_pid" 2>/dev/null || true
        sessions=$keeper_pid
        if [ -s "$RUN_DIR/uml.pid" ]; then
            sessions="$sessions $(cat "$RUN_DIR/uml.pid")"
        fi
        for _ in $(seq 1 50); do
            left=0
            for sid in $sessions; do
                if pgrep -s "$sid" > /dev/null; then
                    left=1
                    pkill -KILL -s "$sid" 2>/dev/null || true
                fi
            done
            [ $left = 1 ] || break
            sleep 0.1
        done
        if [ $left = 1 ]; then
            log "processes of the guest survive SIGKILL:" \
                "$(pgrep -a -s "${sessions// /,}")"
        fi
        keeper_pid=
    fi
    if [ -n "$filter_pid" ]; then
        wait "$filter_pid" 2>/dev/null || true
        filter_pid=
    fi
}

# shellcheck disable=SC2317
on_signal() {
    log "interrupted; killing the guest"
    cleanup
    log "run directory kept: $RUN_DIR"
    exit 130
}
trap on_signal INT TERM HUP

# Cores of a crashing UML would be the size of the guest's RAM.
ulimit -c 0
start=$(date +%s.%N)
# Not a process group leader here (no job control), so setsid does not
# fork: $! is the keeper's pid and session.
setsid setpriv --pdeathsig TERM -- /bin/bash -c "$KEEPER" uml-keeper \
    "$RUN_DIR/uml.pid" "$UML" "${cmdline[@]}" \
    < /dev/null > "$RUN_DIR/console" 2>&1 &
keeper_pid=$!

# Started after the keeper, so that an interruption never leaves the
# filter waiting for a writer to open the FIFO.  sed -u and tee pass each
# line on at once (mawk would wait for a full input buffer, and a sed
# address "$" for the next line).
filter_console() {
    local show=(sed -u -n '/^uml-init: /{:a;p;n;ba}')

    [ $verbose = 0 ] || show=(cat)
    sed -u 's/\r$//' < "$RUN_DIR/console" | tee "$RUN_DIR/console.log" \
        | "${show[@]}"
}
filter_console &
filter_pid=$!

# Deadline: boot (a few seconds), settle, the command's own timeout and
# its 10 s kill grace, halt; generous margin for a loaded CI machine.
limit=$(awk -v t="$timeout" -v s="$settle" 'BEGIN { printf "%d", t + s + 60 }')
deadline=$(( $(date +%s) + limit ))
while kill -0 "$keeper_pid" 2>/dev/null \
        && ! grep -q '^[0-9]* ([^)]*) [ZX]' "/proc/$keeper_pid/stat" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "the guest is still running after $limit s; killing it"
        deadline_hit=1
        break
    fi
    sleep 0.2
done
cleanup
trap - INT TERM HUP
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

status=
if [ -f "$RUN_DIR/status" ]; then
    status=$(cat "$RUN_DIR/status")
fi
if ! [[ $status =~ ^[0-9]+$ ]]; then
    if [ $deadline_hit = 1 ]; then
        status=124
    else
        status=125
        log "the guest ended without recording a status"
    fi
    if [ $verbose = 0 ] && ! grep -q '^uml-init: ' "$RUN_DIR/console.log"; then
        log "guest console:"
        sed 's/^/  | /' "$RUN_DIR/console.log" >&2
    fi
fi

if [ "$status" = 0 ] && [ $keep = 0 ]; then
    rm -rf "$RUN_DIR"
    log "status 0 after $elapsed s"
else
    log "status $status after $elapsed s; run directory kept: $RUN_DIR"
fi
exit "$status"
