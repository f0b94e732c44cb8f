# SPDX-License-Identifier: MIT
# The end-to-end scripts' shared part (sourced by run.sh, faults.sh, probe.sh, sinkjson.sh):
# smtp-sink started on a port the kernel chooses and stopped by its PID, every wait bounded,
# failures reported with the outputs kept in $tmp. The script sets bin (where smtp-sink is), W
# (a wrapper such as valgrind, may be empty), tmp (its own temporary directory), and names what
# it checks in $step or $case_name; SINK_OPTS (optional) goes before every smtp-sink's options,
# SEND_OPTS (optional) before every smtp-send's (send); SINK_OUT (optional) is where
# smtp-sink's standard output goes instead of $tmp/sink.out (a FIFO, say).
# shellcheck shell=sh
sink_pid=
port=

cleanup() {
    if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then
        kill -KILL "$sink_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL (${step:-${case_name:-e2e}}): $*"
    for f in "$tmp"/*.out "$tmp"/*.err; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f")"
        head -c 4000 "$f"
    done
    exit 1
}

# start_sink [OPTIONS...]: starts smtp-sink in the background, waits for its port. A later
# --listen in OPTIONS replaces the first (getopt: the last one wins).
start_sink() {
    # The redirections below truncate these files in the background child: remove them first,
    # so that the port of a previous smtp-sink can never be read from a stale sink.err.
    rm -f "$tmp/sink.out" "$tmp/sink.err"
    # shellcheck disable=SC2086
    $W "$bin/smtp-sink" ${SINK_OPTS:-} --listen 127.0.0.1:0 "$@" >"${SINK_OUT:-$tmp/sink.out}" \
        2>"$tmp/sink.err" &
    sink_pid=$!
    i=0
    while [ $i -lt 200 ]; do
        # "... port N", or with --workers "... port N (2 workers)"
        port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1 port \([0-9][0-9]*\)\( ([0-9]* workers)\)\{0,1\}$/\1/p' \
            "$tmp/sink.err" 2>/dev/null)
        [ -n "$port" ] && return 0
        kill -0 "$sink_pid" 2>/dev/null || fail "smtp-sink exited at start"
        sleep 0.05
        i=$((i + 1))
    done
    fail "smtp-sink did not listen on 127.0.0.1 within 10 s"
}

# stop_sink [SIGNAL]: signals smtp-sink by PID, waits at most 20 s, checks it exited 0.
stop_sink() {
    kill "-${1:-TERM}" "$sink_pid"
    wait_sink
}

# wait_sink [STATUS]: waits at most 20 s for smtp-sink to exit, checks it exited STATUS (0).
wait_sink() {
    i=0
    while kill -0 "$sink_pid" 2>/dev/null && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -0 "$sink_pid" 2>/dev/null && fail "smtp-sink still running 20 s after the signal"
    wait "$sink_pid"
    rc=$?
    sink_pid=
    [ $rc -eq "${1:-0}" ] || fail "smtp-sink exited $rc, expected ${1:-0}"
}

# require_programs NAME...: skips the script (exit 77) unless each program of $bin is built.
require_programs() {
    for p in "$@"; do
        [ -x "$bin/$p" ] || {
            echo "SKIP: $p not built"
            exit 77
        }
    done
}

# send EXPECTED_STATUS [OPTIONS...]: smtp-send to the sink with SEND_OPTS and OPTIONS, its
# output in $tmp/send.out and send.err; fails unless it exits EXPECTED_STATUS.
send() {
    expect=$1
    shift
    # shellcheck disable=SC2086
    $W "$bin/smtp-send" --server "127.0.0.1:$port" ${SEND_OPTS:-} "$@" >"$tmp/send.out" \
        2>"$tmp/send.err"
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

expect_in() { # FILE PATTERN (fixed string)
    grep -F -q -- "$2" "$1" || fail "$(basename "$1") lacks: $2"
}

expect_not_in() { # FILE PATTERN (fixed string)
    grep -F -q -- "$2" "$1" && fail "$(basename "$1") has: $2"
    return 0
}

expect_line() { # FILE LINE: a whole line, exactly
    grep -x -F -q -- "$2" "$1" || fail "$(basename "$1") lacks the line: $2"
}

# wait_for FILE REGEX: waits at most 10 s for a line of FILE that matches REGEX.
wait_for() {
    i=0
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ $i -lt 200 ] || fail "$(basename "$1") has no line matching $2 after 10 s"
        sleep 0.05
        i=$((i + 1))
    done
}

count_new() { # messages in the Maildir $tmp/md
    ls "$tmp/md/new" | wc -l | tr -d ' '
}
