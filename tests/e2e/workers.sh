#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-sink --workers N: processes sharing the port (SO_REUSEPORT). Every message of a load
# spread over two workers is stored once and has one whole JSON line, also when the lines are
# longer than a pipe writes at once (150 recipients, through a FIFO); connection numbers are
# unique; SIGTERM stops every worker and the parent reports the totals; a worker that dies
# stops the others and the parent exits 70; --workers out of range is refused (64).
# Usage: workers.sh BINDIR
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-workers.XXXXXX")
SEND_OPTS="--from a@example.org --data $tmp/msg --timeout 20"
. "$(dirname "$0")/sink.sh"
require_programs smtp-sink smtp-send

i=0
: >"$tmp/msg"
while [ $i -lt 30 ]; do printf 'line %d of a message for the workers\r\n' $i >>"$tmp/msg"; i=$((i + 1)); done

# The workers of the sink started last: the processes whose parent is $sink_pid.
workers_of() {
    for f in /proc/[0-9]*/status; do
        sed -n 's/^PPid:[[:space:]]*\([0-9]*\)$/\1/p' "$f" 2>/dev/null | grep -qx "$sink_pid" &&
            basename "$(dirname "$f")"
    done
}

# Each line a whole JSON object of the sink's shape: one "from" at its start, "tls_cipher"
# and "requiretls" at its end.
check_lines() {
    n=$(wc -l <"$1")
    [ "$n" -eq "$2" ] || fail "$1: $n lines, expected $2"
    bad=$(grep -cv '^{"from":.*"tls_cipher":null,"requiretls":false}$' "$1")
    [ "$bad" -eq 0 ] || fail "$1: $bad lines cut or mixed"
    twice=$(grep -c '"from":.*"from":' "$1")
    [ "$twice" -eq 0 ] || fail "$1: $twice lines hold two messages"
}

step=load
start_sink --workers 2 --maildir "$tmp/md"
[ "$(workers_of | wc -l)" -eq 2 ] || fail "expected 2 worker processes, found $(workers_of | wc -l)"
send 0 --to b@example.org --count 10 --sessions 32
expect_in "$tmp/send.out" "summary: 320 delivered, 0 refused, 0 deferred, 0 not attempted"
stop_sink
expect_in "$tmp/sink.err" "listening on 127.0.0.1 port $port (2 workers)"
expect_in "$tmp/sink.err" "smtp-sink: stopped after 32 connection(s), 320 message(s)"
check_lines "$tmp/sink.out" 320
[ "$(find "$tmp/md/new" -type f | wc -l)" -eq 320 ] || fail "expected 320 stored messages"
# Connection numbers: unique, 1..32; both workers served (odd: the first, even: the second).
[ "$(sed 's/.*"conn":\([0-9]*\).*/\1/' "$tmp/sink.out" | sort -un | wc -l)" -eq 32 ] ||
    fail "connection numbers are not unique"
grep -q '"conn":[0-9]*[13579],' "$tmp/sink.out" || fail "the first worker served nothing"
grep -q '"conn":[0-9]*[02468],' "$tmp/sink.out" || fail "the second worker served nothing"

step=long_lines
# Lines of about 8 KB (150 recipients) through a FIFO, where a write above 4096 octets is not
# atomic: the lock keeps every line whole.
rcpts=
i=0
while [ $i -lt 150 ]; do
    rcpts="$rcpts${rcpts:+,}recipient-number-$i-of-a-long-list@example.org"
    i=$((i + 1))
done
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/lines.out" &
cat_pid=$!
SINK_OUT=$tmp/fifo start_sink --workers 3 --discard --max-recipients 200
send 0 --to "$rcpts" --count 4 --sessions 24
stop_sink
wait "$cat_pid"
check_lines "$tmp/lines.out" 96
[ "$(grep -c 'recipient-number-149-of' "$tmp/lines.out")" -eq 96 ] || fail "a line lost recipients"

step=worker_dies
start_sink --workers 2 --discard
first=$(workers_of | head -n 1)
[ -n "$first" ] || fail "no worker found"
kill -KILL "$first"
wait_sink 70 # the other worker stopped too
expect_in "$tmp/sink.err" "(pid $first) killed by signal 9"

step=parent_killed
# The parent killed outright (SIGKILL: it cannot pass a signal on): its workers stop too
# (Linux: they get SIGTERM when it dies), nothing is left serving the port.
start_sink --workers 2 --discard
kids=$(workers_of)
[ "$(echo "$kids" | wc -w)" -eq 2 ] || fail "expected 2 workers, found: $kids"
kill -KILL "$sink_pid"
wait "$sink_pid" 2>/dev/null
sink_pid=
i=0
while [ $i -lt 200 ]; do
    alive=
    for k in $kids; do kill -0 "$k" 2>/dev/null && alive="$alive $k"; done
    [ -z "$alive" ] && break
    sleep 0.05
    i=$((i + 1))
done
[ -z "$alive" ] || fail "workers$alive still running 10 s after their parent was killed"

step=bad_option
for n in 0 65 x; do
    $W "$bin/smtp-sink" --discard --workers $n >"$tmp/o.out" 2>"$tmp/o.err"
    rc=$?
    [ $rc -eq 64 ] || fail "--workers $n exited $rc, expected 64"
    expect_in "$tmp/o.err" "--workers"
done
echo "PASS: workers"
