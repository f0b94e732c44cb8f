#!/bin/sh
# SPDX-License-Identifier: MIT
# The kill test (issue #19): smtp-sink killed with SIGKILL at a random point under load, then
# started again on the same Maildir, KILL_ROUNDS times (default 8). Every message whose 250 the
# client received (smtp-send --json: "status":"DELIVERED") is in the Maildir's new/, complete
# (the same octets as the message sent), and new/ holds no partial file: a message is written
# to tmp/, fsynced and renamed before its 250 (maildir.c). Files in tmp/ are what a killed
# sink left mid-message; a message stored whose 250 never left is allowed (the client will send
# it again: at-least-once). Over 127.0.0.1 only; every program is stopped by its PID.
# Usage: kill.sh BINDIR
set -u
bin=$1
rounds=${KILL_ROUNDS:-8}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-kill.XXXXXX")
sink_pid= send_pid=
cleanup() {
    for pid in $sink_pid $send_pid; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL (kill): $*"
    exit 1
}
for p in smtp-send smtp-sink; do
    [ -x "$bin/$p" ] || {
        echo "SKIP: $p not built"
        exit 77
    }
done

# The message, and what the sink stores of it (CRLF line ends, as sent).
awk 'BEGIN { printf "From: kill@test.example\r\nSubject: kill test\r\n\r\n";
    for (i = 0; i < 200; i++) printf "line %03d of a message that must arrive whole or not at all\r\n", i }' \
    >"$tmp/msg"
: >"$tmp/acked"

start_sink() {
    rm -f "$tmp/sink.err"
    "$bin/smtp-sink" --listen 127.0.0.1:0 --maildir "$tmp/md" >>"$tmp/sink.out" 2>"$tmp/sink.err" &
    sink_pid=$!
    i=0
    port=
    while [ -z "$port" ]; do
        [ $i -lt 200 ] || fail "smtp-sink did not listen within 10 s"
        sleep 0.05
        i=$((i + 1))
        port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1 port \([0-9]*\)$/\1/p' "$tmp/sink.err")
    done
}

r=0
while [ $r -lt "$rounds" ]; do
    r=$((r + 1))
    start_sink
    "$bin/smtp-send" --server "127.0.0.1:$port" --from kill@test.example --to sink@test.example \
        --data "$tmp/msg" --sessions 8 --count 400 --json --timeout 20 >"$tmp/send.$r" 2>&1 &
    send_pid=$!
    # A random moment within the first 0.7 s of the load (from the message count: the clock).
    ms=$(awk -v s="$(date +%N)" 'BEGIN { srand(s); printf "%d", 50 + rand() * 650 }')
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -KILL "$sink_pid"
    wait "$sink_pid" 2>/dev/null
    sink_pid=
    wait "$send_pid" # exits non-zero: the sink vanished under it
    send_pid=
    n=$(grep -c '"status":"DELIVERED"' "$tmp/send.$r")
    echo "$n" >>"$tmp/acked"
    echo "kill: round $r: killed after $ms ms, $n messages acknowledged before"
done
# A last sink, undisturbed: the Maildir works after all of it.
start_sink
"$bin/smtp-send" --server "127.0.0.1:$port" --from kill@test.example --to sink@test.example \
    --data "$tmp/msg" >"$tmp/send.last" 2>&1 || fail "a message after the kills: $(cat "$tmp/send.last")"
echo 1 >>"$tmp/acked"
kill -TERM "$sink_pid"
wait "$sink_pid" || fail "the last smtp-sink did not exit 0"
sink_pid=

acked=$(awk '{ n += $1 } END { print n + 0 }' "$tmp/acked")
stored=$(ls "$tmp/md/new" | wc -l | tr -d ' ')
left=$(ls "$tmp/md/tmp" | wc -l | tr -d ' ')
bad=0
for f in "$tmp/md/new/"*; do
    cmp -s "$f" "$tmp/msg" || bad=$((bad + 1))
done
echo "kill: $rounds kills: acknowledged $acked, in new/ $stored (each checked whole), $bad not whole, left in tmp/ $left"
[ "$acked" -gt "$rounds" ] || fail "too few messages acknowledged ($acked) to test anything"
[ "$bad" -eq 0 ] || fail "$bad files in new/ are not the whole message"
[ "$stored" -ge "$acked" ] || fail "acknowledged $acked messages but only $stored are in new/"
echo "PASS: kill"
