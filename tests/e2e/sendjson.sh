#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send --json: one JSON line per message (a refused recipient, a deferred message, a
# multi-line final reply kept whole with its control and non-UTF-8 bytes escaped, --count and
# --sessions, TLS over STARTTLS), every line parsed by python3; and the human lines, byte for
# byte, without --json.
# Usage: sendjson.sh BINDIR RAWSMTP [MKCERT]
#   BINDIR  where smtp-send and smtp-sink are
#   RAWSMTP the raw client and scripted server (tests/e2e/rawsmtp.c)
#   MKCERT  makes a CA and a certificate for localhost (tests/e2e/mkcert.c); "none" or absent
#           in a build without TLS: the TLS check is skipped, the others run
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# The servers listen on ports the kernel chooses and are stopped by their PIDs; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
raw=$2
mkcert=${3:-none}
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-sendjson.XXXXXX")
# smtp-send from a@example.org with $tmp/msg (send, tests/e2e/sink.sh).
SEND_OPTS="--from a@example.org --data $tmp/msg --timeout 20"
. "$(dirname "$0")/sink.sh"
step=start
raw_pid=
trap 'if [ -n "$raw_pid" ]; then kill "$raw_pid" 2>/dev/null; fi; cleanup' EXIT

[ -x "$bin/smtp-sink" ] && [ -x "$bin/smtp-send" ] && [ -x "$raw" ] || {
    echo "SKIP: smtp-sink, smtp-send or rawsmtp not built"
    exit 77
}
command -v python3 >/dev/null 2>&1 || {
    echo "SKIP: python3 not found (it parses the JSON)"
    exit 77
}

# check PYTHON: runs the Python statements on L, the list of send.out's objects (every line
# must parse as one JSON object); an AssertionError fails the step with its message.
check() {
    python3 - "$tmp/send.out" "$1" >"$tmp/check.err" 2>&1 <<'EOF' || fail "$(cat "$tmp/check.err")"
import json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.endswith(b"\n"), "the output does not end with a line end"
L = [json.loads(line.decode("utf-8")) for line in raw.split(b"\n")[:-1]]
assert all(isinstance(o, dict) for o in L), "a line is not an object"
exec(sys.argv[2])
EOF
}

printf 'From: a@example.org\r\nSubject: sendjson\r\n\r\nbody\r\n' >"$tmp/msg"

# Two recipients, the second refused: its code, enhanced code and text; the message delivered
# to the first. Without --json the two lines are exactly as before.
step=refused
start_sink --discard --reply 'RCPT#2:550 5.1.1 no such user'
send 69 --to r1@example.org --to r2@example.org
printf '%s\n' "r1@example.org: delivered: 250 2.0.0 Ok: queued" \
    "r2@example.org: refused: 550 5.1.1 no such user" >"$tmp/want.out"
cmp -s "$tmp/want.out" "$tmp/send.out" || fail "the lines without --json changed"
send 69 --to r1@example.org --to r2@example.org --json
check "
assert len(L) == 1, L
o = L[0]
want = ['server', 'message', 'session', 'from', 'to', 'rcpts', 'status', 'code', 'enhanced',
        'reply', 'tls', 'connect_ms', 'total_ms']
assert list(o) == want, list(o)
assert o['server'] == '127.0.0.1:$port', o['server']
assert o['message'] == 1 and o['session'] == 1, o
assert o['from'] == 'a@example.org' and o['to'] == ['r1@example.org', 'r2@example.org'], o
r1, r2 = o['rcpts']
assert r1 == {'address': 'r1@example.org', 'status': 'delivered', 'code': 250,
              'enhanced': '2.1.5', 'reply': '2.1.5 Ok'}, r1
assert r2 == {'address': 'r2@example.org', 'status': 'refused', 'code': 550,
              'enhanced': '5.1.1', 'reply': '5.1.1 no such user'}, r2
assert (o['status'], o['code'], o['enhanced']) == ('DELIVERED', 250, '2.0.0'), o
assert o['reply'].startswith('2.0.0 Ok'), o['reply']
assert o['tls'] is False, o['tls']
assert isinstance(o['connect_ms'], int) and isinstance(o['total_ms'], int), o
assert 0 <= o['connect_ms'] <= o['total_ms'] < 20000, o
"
expect_not_in "$tmp/send.out" "r1@example.org: delivered"
# -v's transcript stays on standard error.
send 69 --to r1@example.org --to r2@example.org --json -v
expect_in "$tmp/send.err" "C: MAIL FROM:<a@example.org>"
check "assert len(L) == 1 and L[0]['rcpts'][1]['status'] == 'refused', L"

# --count and --sessions: a line per message, numbered from 1 in the run, the load summary on
# standard error.
send 69 --to r1@example.org --json --count 2 --sessions 2
check "
assert sorted(o['message'] for o in L) == [1, 2, 3, 4], L
assert sorted(o['session'] for o in L) == [1, 1, 2, 2], L
# RCPT#2 counts per connection: each connection's second message is refused.
assert sorted(o['status'] for o in L) == ['DELIVERED', 'DELIVERED', 'PERMFAIL', 'PERMFAIL'], L
"
expect_in "$tmp/send.err" "2 of 4 messages delivered over 2 connections"
stop_sink

# A deferred message: 451 at DATA; the recipient accepted at RCPT is "deferred" with its own
# 250, the message TEMPFAIL with the 451. Exit status unchanged (75).
step=deferred
start_sink --discard --reply 'DATA:451 4.3.0 try later'
send 75 --to b@example.org --no-chunking
printf '%s\n' "b@example.org: deferred: 451 4.3.0 try later" >"$tmp/want.out"
cmp -s "$tmp/want.out" "$tmp/send.out" || fail "the line without --json changed"
send 75 --to b@example.org --no-chunking --json
check "
o, = L
assert o['rcpts'] == [{'address': 'b@example.org', 'status': 'deferred', 'code': 250,
                       'enhanced': '2.1.5', 'reply': '2.1.5 Ok'}], o['rcpts']
assert (o['status'], o['code'], o['enhanced'], o['reply']) == \
    ('TEMPFAIL', 451, '4.3.0', '4.3.0 try later'), o
"
stop_sink

# A multi-line final reply (Exim's "250- 3169 byte chunk" before the queue id): --json keeps
# every line, joined by LF, with a control byte as \u0001 and a byte outside UTF-8 as \u00ff;
# the human line keeps the first line only. A scripted server, no pipelining, no BDAT.
step=multiline
printf '%s\r\n' "220 raw ESMTP" "250 raw" "250 2.1.0 Ok" "250 2.1.5 Ok" "354 go" \
    "250- 3169 byte chunk" "250 OK id=1kX4-0007Ab-Q9$(printf '\001\377')" "221 bye" >"$tmp/script"
serve() {
    rm -f "$tmp/rawport"
    "$raw" --serve "$tmp/rawport" "$tmp/script" >"$tmp/raw.out" 2>"$tmp/raw.err" &
    raw_pid=$!
    i=0
    until [ -s "$tmp/rawport" ]; do
        [ $i -lt 200 ] || fail "the scripted server did not listen within 10 s"
        sleep 0.05
        i=$((i + 1))
    done
    port=$(cat "$tmp/rawport")
}
serve
send 0 --to b@example.org --no-pipelining --no-chunking
wait "$raw_pid"
raw_pid=
printf '%s\n' "b@example.org: delivered: 250  3169 byte chunk" >"$tmp/want.out"
cmp -s "$tmp/want.out" "$tmp/send.out" || fail "the line without --json changed"
serve
send 0 --to b@example.org --no-pipelining --no-chunking --json
wait "$raw_pid"
raw_pid=
check "
o, = L
assert (o['status'], o['code'], o['enhanced']) == ('DELIVERED', 250, None), o
assert o['reply'] == ' 3169 byte chunk\nOK id=1kX4-0007Ab-Q9\x01\xff', repr(o['reply'])
assert o['rcpts'][0]['status'] == 'delivered' and o['rcpts'][0]['code'] == 250, o
"
expect_in "$tmp/send.out" '"reply":" 3169 byte chunk\nOK id=1kX4-0007Ab-Q9\u0001\u00ff"'

# --json with --probe: a usage error.
step=probe
"$bin/smtp-send" --probe --json --server 127.0.0.1:1 >"$tmp/probe.out" 2>"$tmp/probe.err"
[ $? -eq 64 ] || fail "--probe --json did not exit 64"
expect_in "$tmp/probe.err" "no --json"

# TLS over STARTTLS: the version and cipher of the session.
step=tls
if [ "$mkcert" != none ] && [ -x "$mkcert" ]; then
    "$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"
    start_sink --discard --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/smtp-send" --server "localhost:$port" --starttls --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" --json >"$tmp/send.out" \
        2>"$tmp/send.err" || fail "STARTTLS send exited $?"
    check "
o, = L
assert o['server'] == 'localhost:$port', o['server']
t = o['tls']
assert isinstance(t, dict) and list(t) == ['version', 'cipher'], t
assert t['version'].startswith('TLSv1.'), t
assert t['cipher'].startswith('TLS'), t
assert o['status'] == 'DELIVERED', o
"
    stop_sink
else
    echo "no mkcert (a build without TLS): the TLS check skipped"
fi

echo "PASS"
exit 0
