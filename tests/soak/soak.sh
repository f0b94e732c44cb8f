#!/bin/sh
# SPDX-License-Identifier: MIT
# make soak (issue #19): smtp-sink storing to Maildirs for DURATION seconds under a mixed load
# made by the project's own clients, over 127.0.0.1 only, sampled every SOAK_SAMPLE seconds
# (default 10): resident memory, open descriptors and CPU of each sink.
# Usage: soak.sh BINDIR LOADCLIENT MKCERT DURATION
#   BINDIR      where smtp-send and smtp-sink are
#   LOADCLIENT  tests/load/loadclient (abrupt disconnects, slow clients, RSET, bursts)
#   MKCERT      tests/e2e/mkcert.c's program, or "none" (then no STARTTLS and no AUTH load)
#   DURATION    seconds of load (make soak: SOAK_DURATION, default 1800; CI 300)
# The load, round after round until DURATION: smtp-send pipelined with BDAT, and unpipelined
# with DATA; with STARTTLS and AUTH (SCRAM-SHA-256 or PLAIN as offered); LMTP to a second sink;
# clients vanishing in every state (mid-command, mid-DATA, mid-BDAT, FIN and RST, garbage,
# inside the TLS handshake); slow clients (one octet every 10 ms); RSET then a message; and
# every fifth round a burst of 2,000 connections at once.
# Passes when, for each sink: acknowledged == stored (files in new/, none left in tmp/) ==
# JSON lines; the open descriptors after the load == those before it; resident memory (README:
# "make soak") never above the warm-up's peak (the first fifth of the run, at least 60 s) plus
# SOAK_RSS_PER_CONN KiB (default 12) for each of a burst's 2,000 connections, and once the load
# is over, the sinks idle, at most SOAK_RSS_FACTOR (default 1.5) times that peak: memory comes
# back after each wave, nothing accumulates; each sink exits 0 on SIGTERM. Prints the curve.
# Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
loadclient=$2
mkcert=$3
duration=$4
sample=${SOAK_SAMPLE:-10}
factor=${SOAK_RSS_FACTOR:-1.5}
per_conn=${SOAK_RSS_PER_CONN:-12}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-soak.XXXXXX")
a_pid= b_pid= sampler_pid=

cleanup() {
    for pid in $sampler_pid $a_pid $b_pid; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL (soak): $*"
    for f in "$tmp"/*.err "$tmp/load.log"; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f")"
        tail -c 3000 "$f"
    done
    exit 1
}

for p in smtp-send smtp-sink; do
    [ -x "$bin/$p" ] || {
        echo "SKIP: $p not built"
        exit 77
    }
done

# start NAME OPTIONS...: an smtp-sink on a port of the kernel's; sets pid and port.
start() {
    name=$1
    shift
    "$bin/smtp-sink" --listen 127.0.0.1:0 --max-connections 5000 "$@" >"$tmp/$name.out" \
        2>"$tmp/$name.err" &
    pid=$!
    i=0
    port=
    while [ -z "$port" ]; do
        [ $i -lt 200 ] || fail "smtp-sink $name did not listen within 10 s"
        kill -0 "$pid" 2>/dev/null || fail "smtp-sink $name exited at start"
        sleep 0.05
        i=$((i + 1))
        port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1 port \([0-9]*\)$/\1/p' "$tmp/$name.err")
    done
}

tls=0
if [ "$mkcert" != none ] && [ -x "$mkcert" ]; then
    "$mkcert" "$tmp" >"$tmp/mkcert.log" 2>&1 || fail "mkcert could not make the certificates"
    tls=1
fi
printf 'soak:pencil-and-paper\n' >"$tmp/users"
set --
[ $tls = 1 ] && set -- --tls-cert "$tmp/ipcert.pem" --tls-key "$tmp/key.pem" --auth-file "$tmp/users"
start a --maildir "$tmp/a" "$@"
a_pid=$pid a_port=$port
start b --maildir "$tmp/b" --lmtp
b_pid=$pid b_port=$port
sleep 1

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l | tr -d ' '; }
rss() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
ticks() { # utime + stime of PID
    sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
a_fds0=$(fds "$a_pid")
b_fds0=$(fds "$b_pid")
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

# The sampler: seconds since the start, then RSS (KiB), descriptors and CPU ticks of a and b.
start_s=$(date +%s)
(
    while :; do
        echo "$(($(date +%s) - start_s)) $(rss "$a_pid") $(fds "$a_pid") $(ticks "$a_pid") $(rss "$b_pid") $(fds "$b_pid") $(ticks "$b_pid")"
        sleep "$sample"
    done
) >"$tmp/samples" &
sampler_pid=$!

printf 'From: soak@test.example\r\nSubject: soak\r\n\r\nA line of the soak test.\r\n..a line that starts with a dot\r\n' >"$tmp/msg"
# The acknowledgements, one number a line, per sink.
: >"$tmp/acked.a"
: >"$tmp/acked.b"
# send TAG SINK [OPTIONS...]: smtp-send's load to a sink (TAG names its output); its delivered
# count to acked.SINK.
send() {
    o=$tmp/send.$1.out s=$2
    shift 2
    p=$a_port
    [ "$s" = b ] && p=$b_port
    "$bin/smtp-send" --server "127.0.0.1:$p" --from soak@test.example --to sink@test.example \
        --data "$tmp/msg" --timeout 60 "$@" >"$o" 2>&1
    n=$(sed -n 's/^summary: \([0-9]*\) delivered.*/\1/p' "$o")
    echo "${n:-0}" >>"$tmp/acked.$s"
    cat "$o" >>"$tmp/load.log"
}
# client MODE N [MS]: loadclient against sink a; its acked=K to acked.a.
client() {
    SMTP_LOAD_DEADLINE=120 "$loadclient" "$a_port" "$@" >"$tmp/lc.$1.out" 2>&1
    sed -n 's/^acked=\([0-9]*\).*/\1/p' "$tmp/lc.$1.out" >>"$tmp/acked.a"
    echo "loadclient $*: $(cat "$tmp/lc.$1.out")" >>"$tmp/load.log"
}

round=0
end=$((start_s + duration))
while [ "$(date +%s)" -lt "$end" ]; do
    round=$((round + 1))
    # The round's loads at once (`wait` alone would wait for the sampler too).
    jobs_=
    send bdat a --sessions 20 --count 50 &
    jobs_="$jobs_ $!"
    send data a --sessions 10 --count 20 --no-pipelining --no-chunking &
    jobs_="$jobs_ $!"
    if [ $tls = 1 ]; then
        send tls a --sessions 5 --count 10 --starttls --cafile "$tmp/ca.pem" --auth-user soak \
            --auth-password pencil-and-paper &
        jobs_="$jobs_ $!"
        client tls-vanish 5 &
        jobs_="$jobs_ $!"
    fi
    send lmtp b --sessions 5 --count 20 --lmtp &
    jobs_="$jobs_ $!"
    client vanish 10 &
    jobs_="$jobs_ $!"
    client slow 5 10 &
    jobs_="$jobs_ $!"
    client rset 10 &
    jobs_="$jobs_ $!"
    for j in $jobs_; do
        wait "$j"
    done
    if [ $((round % 5)) -eq 0 ]; then
        client concurrent 2000
    fi
    for pid in $a_pid $b_pid; do
        kill -0 "$pid" 2>/dev/null || fail "smtp-sink $pid died in round $round"
    done
done
sleep 2 # the sinks close the last connections
a_fds1=$(fds "$a_pid")
b_fds1=$(fds "$b_pid")
a_rss1=$(rss "$a_pid")
b_rss1=$(rss "$b_pid")
kill "$sampler_pid"
wait "$sampler_pid" 2>/dev/null
sampler_pid=
for pid in $a_pid $b_pid; do
    kill -TERM "$pid"
done
for pid in $a_pid $b_pid; do
    wait "$pid" || fail "smtp-sink $pid did not exit 0 on SIGTERM"
done
a_pid= b_pid=

# The curve.
echo "soak: $round rounds in $(($(date +%s) - start_s)) s; samples every $sample s"
echo "    s   a RSS KiB  a fds  a CPU%   b RSS KiB  b fds  b CPU%"
awk -v hz="$hz" -v dt="$sample" 'NR > 1 { printf "%5d %11d %6d %6.1f %11d %6d %6.1f\n", $1, $2, $3,
    ($4 - pa) * 100 / hz / dt, $5, $6, ($7 - pb) * 100 / hz / dt } { pa = $4; pb = $7 }' "$tmp/samples"

status=0
for s in a b; do
    acked=$(awk '{ n += $1 } END { print n + 0 }' "$tmp/acked.$s")
    stored=$(ls "$tmp/$s/new" | wc -l | tr -d ' ')
    partial=$(ls "$tmp/$s/tmp" | wc -l | tr -d ' ')
    lines=$(grep -c '"from":"' "$tmp/$s.out")
    echo "soak: sink $s: acknowledged $acked, stored $stored, JSON lines $lines, left in tmp/ $partial"
    [ "$acked" -gt 0 ] || { echo "FAIL: sink $s acknowledged nothing"; status=1; }
    [ "$acked" -eq "$stored" ] && [ "$stored" -eq "$lines" ] && [ "$partial" -eq 0 ] ||
        { echo "FAIL: sink $s: acknowledged, stored and JSON lines differ"; status=1; }
done
echo "soak: descriptors a $a_fds0 -> $a_fds1, b $b_fds0 -> $b_fds1"
[ "$a_fds0" -eq "$a_fds1" ] && [ "$b_fds0" -eq "$b_fds1" ] || { echo "FAIL: descriptors leaked"; status=1; }
warm=$((duration / 5))
[ $warm -lt 60 ] && warm=60
for col in 2:a:$a_rss1 5:b:$b_rss1; do
    c=${col%%:*} rest=${col#*:}
    s=${rest%%:*} idle=${rest#*:}
    awk -v c="$c" -v w="$warm" -v f="$factor" -v s="$s" -v idle="$idle" -v pc="$per_conn" '
        $1 <= w { if ($c > peak) peak = $c; next }
        { if ($c > after) after = $c }
        END { bound = peak + pc * 2000
              printf "soak: sink %s RSS: warm-up (first %d s) peak %d KiB; after it at most %d KiB (bound %d: the peak + %d KiB x 2,000 connections); idle at the end %d KiB (bound %.0f: %s x the peak)\n",
                s, w, peak, after, bound, pc, idle, peak * f, f
              if (after > bound) { print "FAIL: sink " s " RSS above its bound under load"; exit 1 }
              if (idle > peak * f) { print "FAIL: sink " s " RSS did not come back once idle"; exit 1 } }' \
        "$tmp/samples" || status=1
done
[ $status -eq 0 ] || fail "see above"
echo "PASS: soak"
