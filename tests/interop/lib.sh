# SPDX-License-Identifier: MIT
# Shared helpers of the interop tests (tests/interop/t_*.sh source this file).
# Environment (set by tests/interop/CMakeLists.txt): SMTP_BIN (smtp-send, smtp-sink), SMTP_MKCERT
# (the test certificate maker, or "none" without mbedTLS), SMTP_SRC, SMTP_BUILD.
# Every peer listens on 127.0.0.1 only; every process started is stopped by its PID at exit;
# every wait is bounded. Exit status: 0 pass, 1 fail, 77 skipped (only outside CI).
set -u
BIN=${SMTP_BIN:?SMTP_BIN is not set}
SRC=${SMTP_SRC:?SMTP_SRC is not set}
MKCERT=${SMTP_MKCERT:-none}
INTEROP=$SRC/tests/interop
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
T=$(mktemp -d "${TMPDIR:-/tmp}/smtp-interop.XXXXXX")
chmod 755 "$T"
interop_pids=
interop_cleanups=
sink_pid=
port=

interop_exit() {
    for c in $interop_cleanups; do "$c" || true; done
    for p in $interop_pids; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap interop_exit EXIT
# A signal (ctest's timeout, a closed pipe) ends the script through exit, so the EXIT trap runs.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# on_exit FUNCTION: runs FUNCTION at exit, before the tracked processes are killed.
on_exit() { interop_cleanups="$1 $interop_cleanups"; }

# track PID: the process is killed (SIGKILL) at exit if it still runs.
track() { interop_pids="$interop_pids $1"; }

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.out "$T"/*.err "$T"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f")"
        tail -c 4000 "$f"
    done
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

# need COMMAND...: a missing peer fails in CI and skips elsewhere.
need() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 && continue
        [ -n "${CI:-}" ] && fail "$c is missing (tests/interop/install.sh installs it)"
        skip "$c is missing; run tests/interop/install.sh"
    done
}

# need_tls: the test needs the mbedTLS build (smtp-send/smtp-sink with TLS and SMTP_MKCERT).
need_tls() {
    [ "$MKCERT" != none ] || skip "built without mbedTLS"
}

# need_node: Node.js and the npm packages of tests/interop/node.
need_node() {
    need node
    [ -d "$INTEROP/node/node_modules/nodemailer" ] && [ -d "$INTEROP/node/node_modules/smtp-server" ] && return 0
    [ -n "${CI:-}" ] && fail "tests/interop/node/node_modules is missing (tests/interop/install.sh)"
    skip "nodemailer/smtp-server missing; run tests/interop/install.sh"
}

# make_cert: writes $T/pki/ca.pem, cert.pem (CN and SAN localhost) and key.pem.
make_cert() {
    need_tls
    mkdir -p "$T/pki"
    "$MKCERT" "$T/pki" || fail "mkcert failed"
}

# free_port: prints a port on 127.0.0.1 that was free a moment ago (the kernel's choice).
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_port PORT [SECONDS]: waits (default 20 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
    python3 - "$1" "${2:-20}" <<'PY' || fail "nothing listens on 127.0.0.1:$1"
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# wait_pid PID [SECONDS]: waits (default 20 s) for PID to exit; fails if it does not.
wait_pid() {
    i=0
    lim=$((${2:-20} * 20))
    while kill -0 "$1" 2>/dev/null && [ $i -lt $lim ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -0 "$1" 2>/dev/null && fail "process $1 still runs after ${2:-20} s"
    return 0
}

# start_program OUT ERR NAME [OPTIONS...]: starts our program NAME (smtp-sink, smtp-proxy) from
# $BIN with --listen 127.0.0.1:0 and OPTIONS, its standard output to OUT and its standard error
# to ERR, and waits (bounded, 20 s) until ERR says "NAME: listening on 127.0.0.1 port N": sets
# $started (its PID, tracked) and $listening (N). Fails when the program exits first.
start_program() {
    out=$1
    err=$2
    name=$3
    shift 3
    rm -f "$err"
    "$BIN/$name" --listen 127.0.0.1:0 "$@" >"$out" 2>"$err" &
    started=$!
    track "$started"
    i=0
    while [ $i -lt 400 ]; do
        listening=$(sed -n "s/^$name: listening on 127\.0\.0\.1 port \([0-9][0-9]*\).*/\1/p" \
            "$err" 2>/dev/null)
        [ -n "$listening" ] && return 0
        kill -0 "$started" 2>/dev/null || fail "$name exited at start"
        sleep 0.05
        i=$((i + 1))
    done
    fail "$name did not listen within 20 s"
}

# stop_program PID NAME: SIGTERM to PID (our program NAME); it must exit 0 within 20 s.
stop_program() {
    kill -TERM "$1"
    wait_pid "$1" 20
    wait "$1"
    rc=$?
    [ $rc -eq 0 ] || fail "$2 exited $rc"
}

# start_sink [OPTIONS...]: starts our smtp-sink on 127.0.0.1 (a port the kernel chooses, in
# $port); its standard output (the JSON lines) goes to $T/sink.out.
start_sink() {
    rm -f "$T/sink.out"
    start_program "$T/sink.out" "$T/sink.err" smtp-sink "$@"
    sink_pid=$started
    port=$listening
}

# stop_sink: SIGTERM to smtp-sink by PID; it must exit 0 within 20 s.
stop_sink() {
    stop_program "$sink_pid" smtp-sink
    sink_pid=
}

# expect_in FILE STRING: FILE holds STRING (fixed string).
expect_in() {
    grep -F -q -- "$2" "$1" || fail "$(basename "$1") lacks: $2"
}

# version_of COMMAND: one line naming the installed version of a peer, for the logs.
version_of() {
    case $1 in
    postfix) postconf -d -h mail_version 2>/dev/null ;;
    aiosmtpd) # Debian's python3 has it; a python3 earlier on PATH (pyenv) may not
        for py in python3 /usr/bin/python3; do
            "$py" -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null && break
        done ;;
    swaks) swaks --version 2>/dev/null | head -n 1 ;;
    curl) curl --version 2>/dev/null | head -n 1 ;;
    msmtp) msmtp --version 2>/dev/null | head -n 1 ;;
    python3) python3 --version 2>&1 ;;
    nodemailer | smtp-server) node -p "require('$INTEROP/node/node_modules/$1/package.json').version" 2>/dev/null ;;
    esac
}
