#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-sink's fault injection (--reply, --disconnect, --delay) against smtp-send and a raw
# client, over 127.0.0.1 only.
# Usage: faults.sh BINDIR RAWSMTP
#   BINDIR  where smtp-send and smtp-sink are
#   RAWSMTP the raw client (tests/e2e/rawsmtp.c)
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
raw=$2
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-faults.XXXXXX")
# smtp-send from a@example.org with $tmp/msg (send, tests/e2e/sink.sh).
SEND_OPTS="--from a@example.org --data $tmp/msg --timeout 20"
. "$(dirname "$0")/sink.sh"
step=start

require_programs smtp-sink smtp-send


now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

printf 'From: a@example.org\r\nSubject: faults\r\n\r\nbody\r\n' >"$tmp/msg"

# --reply RCPT#2: the second recipient refused with the text given, the first and third
# accepted and delivered; the JSON line lists only those two.
step=reply-rcpt
start_sink --maildir "$tmp/md" --reply 'RCPT#2:550 5.1.1 no such user'
send 69 --to r1@example.org --to r2@example.org --to r3@example.org
expect_in "$tmp/send.out" "r1@example.org: delivered: 250"
expect_in "$tmp/send.out" "r2@example.org: refused: 550 5.1.1 no such user"
expect_in "$tmp/send.out" "r3@example.org: delivered: 250"
expect_in "$tmp/sink.out" '"to":["r1@example.org","r3@example.org"]'
[ "$(count_new)" -eq 1 ] || fail "expected 1 message stored, found $(count_new)"
# #N counts per connection: a new connection's second RCPT is refused again.
send 69 --to r1@example.org --to r2@example.org
expect_in "$tmp/send.out" "r2@example.org: refused: 550 5.1.1 no such user"
stop_sink

# --reply DATA:451: a temporary failure (75), with DATA and with BDAT; nothing stored.
step=reply-data
start_sink --maildir "$tmp/md2" --reply 'DATA:451 4.3.0 try later'
for how in --no-chunking ""; do
    # shellcheck disable=SC2086
    send 75 --to b@example.org $how
    expect_in "$tmp/send.out" "b@example.org: deferred: 451 4.3.0 try later"
done
[ -z "$(ls "$tmp/md2/new")" ] || fail "a message refused at DATA was stored"
[ -s "$tmp/sink.out" ] && fail "a message refused at DATA was logged"
stop_sink

# --reply '.:552': refused after the data (DATA and BDAT LAST); nothing stored or logged.
step=reply-dot
start_sink --maildir "$tmp/md" --reply '.:552 5.3.4 too big'
rm -f "$tmp/md/new/"*
for how in --no-chunking ""; do
    # shellcheck disable=SC2086
    send 69 --to b@example.org $how
    expect_in "$tmp/send.out" "b@example.org: refused: 552 5.3.4 too big"
done
[ "$(count_new)" -eq 0 ] || fail "a message refused at '.' was stored"
[ -z "$(ls "$tmp/md/tmp")" ] || fail "tmp/ not empty after a refusal at '.'"
[ -s "$tmp/sink.out" ] && fail "a message refused at '.' was logged: $(cat "$tmp/sink.out")"
stop_sink

# --reply CONNECT (the greeting: the engine puts the host name first, no enhanced code) and
# an acceptance code for VRFY.
step=reply-connect
start_sink --discard --hostname mx.example --reply 'CONNECT:554 5.7.1 go away'
send 69 --to b@example.org
expect_in "$tmp/send.err" "REJECTED: 554 mx.example go away"
stop_sink
start_sink --discard --reply 'VRFY:250 2.1.5 <u@example.org>'
printf 'EHLO raw.example\r\nVRFY u\r\nQUIT\r\n' >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
expect_in "$tmp/raw.out" "250 2.1.5 <u@example.org>"
stop_sink

# --disconnect MAIL: the connection is closed with no reply to MAIL (no 250, 421 or 5xx).
step=disconnect
start_sink --discard --disconnect MAIL
send 75 --to b@example.org --no-pipelining
expect_in "$tmp/send.out" "b@example.org: not sent: connection closed by the server"
printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n' >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
expect_in "$tmp/raw.out" "220 "
for code in "250 2.1.0" "250 2.1.5" "421" "503" "554"; do
    expect_not_in "$tmp/raw.out" "$code"
done
# Only the second MAIL of a connection: the first message is delivered.
stop_sink
start_sink --discard --disconnect 'MAIL#2'
send 75 --to b@example.org --count 2
expect_in "$tmp/sink.out" '"to":["b@example.org"]'
[ "$(wc -l <"$tmp/sink.out")" -eq 1 ] || fail "expected one message through"
stop_sink

# --delay RCPT:800: the reply comes at least 800 ms late, and the message goes through.
step=delay
start_sink --discard --delay RCPT:800
t0=$(now_ms)
send 0 --to b@example.org
t1=$(now_ms)
expect_in "$tmp/send.out" "b@example.org: delivered: 250"
[ $((t1 - t0)) -ge 800 ] || fail "RCPT answered after $((t1 - t0)) ms, expected >= 800"
echo "delay RCPT:800: smtp-send took $((t1 - t0)) ms"
stop_sink
# A late refusal, and a late acceptance with its own text at '.', in LMTP too.
start_sink --discard --delay 'RCPT#1:300' --reply 'RCPT#1:450 4.2.1 later' \
    --delay .:300 --reply '.:250 2.0.0 queued late'
send 75 --to r1@example.org --to r2@example.org
expect_in "$tmp/send.out" "r1@example.org: deferred: 450 4.2.1 later"
expect_in "$tmp/send.out" "r2@example.org: delivered: 250 2.0.0 queued late"
stop_sink
start_sink --discard --lmtp --delay .:300 --reply '.:250 2.0.0 queued late'
send 0 --lmtp --to r1@example.org --to r2@example.org
expect_in "$tmp/send.out" "r1@example.org: delivered: 250 2.0.0 queued late"
expect_in "$tmp/send.out" "r2@example.org: delivered: 250 2.0.0 queued late"
stop_sink

# Invalid specs: exit 64, naming the spec.
step=invalid
for args in "--reply RSET:550" "--reply RCPT#0:550" "--reply RCPT#x:550" "--reply RCPT" \
    "--reply RCPT:55" "--reply RCPT:5500" "--reply RCPT:354" "--reply DATA:250" \
    "--reply CONNECT:220" "--reply MAIL:550x" "--reply RCPT:550_4.1.1" \
    "--reply RCPT:550_4.1.1_wrong_class" "--reply RCPT:550_5.1_short" \
    "--reply RCPT:650" "--reply RCPT:585" "--reply CONNECT:470_4.7.0" "--disconnect MAIL:1" "--disconnect BOGUS" "--delay RCPT" \
    "--delay RCPT:0" "--delay RCPT:3600001" "--delay RCPT:1x"; do
    # Underscores stand for spaces inside one argument.
    opt=${args%% *}
    spec=$(echo "${args#* }" | tr _ ' ')
    # Bounded: a spec wrongly taken makes smtp-sink listen (on a kernel-chosen port).
    timeout 10 $W "$bin/smtp-sink" --discard --listen 127.0.0.1:0 "$opt" "$spec" \
        >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
    rc=$?
    [ $rc -eq 64 ] || fail "smtp-sink $opt '$spec' exited $rc, expected 64"
    expect_in "$tmp/o.err" "smtp-sink: $opt '$spec': "
done
# --help names the three options.
step=help
$W "$bin/smtp-sink" --help >"$tmp/help.out" 2>&1 || fail "smtp-sink --help"
for opt in "--reply 'CMD[#N]:CODE" "--disconnect 'CMD[#N]'" "--delay 'CMD[#N]:MS'"; do
    expect_in "$tmp/help.out" "$opt"
done
echo "PASS"
