#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-sink's JSON keys "peer", "time", "conn", "tls_version" and "tls_cipher", the -v lines
# that go with them, `--listen PORT`, and the exit status of unreadable (66) and malformed (65)
# --auth-file, --tls-cert and --tls-key, against smtp-send and a raw client over 127.0.0.1.
# Usage: sinkjson.sh BINDIR RAWSMTP [MKCERT]
#   BINDIR  where smtp-send and smtp-sink are
#   RAWSMTP the raw client (tests/e2e/rawsmtp.c)
#   MKCERT  makes a CA and a certificate for localhost (tests/e2e/mkcert.c); "none" or absent
#           in a build without TLS: the TLS checks are skipped, the others run
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
raw=$2
mkcert=${3:-none}
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-sinkjson.XXXXXX")
SINK_OPTS=-v # every smtp-sink logs its connections
# smtp-send from a@example.org to b@example.org (send, tests/e2e/sink.sh).
SEND_OPTS="--from a@example.org --to b@example.org --data $tmp/msg --timeout 20"
. "$(dirname "$0")/sink.sh"
step=start

[ -x "$bin/smtp-sink" ] && [ -x "$bin/smtp-send" ] && [ -x "$raw" ] || {
    echo "SKIP: smtp-sink, smtp-send or rawsmtp not built"
    exit 77
}


# line N: the Nth JSON line of smtp-sink.
line() {
    sed -n "${1}p" "$tmp/sink.out"
}

# field N KEY: the raw JSON value of KEY in line N (strings keep their quotes).
field() {
    line "$1" | sed -n "s/.*,\"$2\":\\(\"[^\"]*\"\\|[^,}]*\\)[,}].*/\\1/p"
}

# lines N: smtp-sink's standard output holds N lines.
lines() {
    [ "$(wc -l <"$tmp/sink.out" | tr -d ' ')" -eq "$1" ] ||
        fail "expected $1 JSON line(s), got $(wc -l <"$tmp/sink.out")"
}

printf 'From: a@example.org\r\nSubject: sinkjson\r\n\r\nbody\r\n' >"$tmp/msg"

# "peer": the client's address and real port, the one -v logs at the connection; "conn": 1.
step=peer
start_sink --discard
send 0
lines 1
peer=$(field 1 peer)
case "$peer" in
'"127.0.0.1:'[0-9]*'"') ;;
*) fail "peer is $peer, expected \"127.0.0.1:PORT\"" ;;
esac
cport=${peer#\"127.0.0.1:}
cport=${cport%\"}
case "$cport" in *[!0-9]*) fail "peer's port '$cport' is not a number" ;; esac
[ "$cport" -ge 1 ] && [ "$cport" -le 65535 ] || fail "peer's port $cport out of range"
[ "$cport" -ne "$port" ] || fail "peer's port is the listener's ($port)"
expect_in "$tmp/sink.err" "smtp-sink: [1] connected from 127.0.0.1:$cport"
[ "$(field 1 conn)" = 1 ] || fail "conn is $(field 1 conn), expected 1"

# "time": RFC 3339 in UTC with milliseconds, within a minute of now.
step="time"
t=$(field 1 time)
echo "$t" | grep -E -q '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"$' ||
    fail "time $t is not RFC 3339 YYYY-MM-DDTHH:MM:SS.mmmZ"
t=${t#\"}
t=${t%\"}
secs=$(date -u -d "$t" +%s 2>/dev/null) || fail "date cannot parse time $t"
now=$(date -u +%s)
d=$((now - secs))
[ $d -ge -60 ] && [ $d -le 60 ] || fail "time $t is $d s away from now"

# Without TLS: "tls_version" and "tls_cipher" are null.
step=no-tls
[ "$(field 1 tls_version)" = null ] || fail "tls_version is $(field 1 tls_version) without TLS"
[ "$(field 1 tls_cipher)" = null ] || fail "tls_cipher is $(field 1 tls_cipher) without TLS"
grep -q '\] TLS ' "$tmp/sink.err" && fail "a TLS line without TLS"

# "conn" counts connections: two more connections are 2 and 3; two messages in one connection
# (the raw client, the fourth connection) both say 4.
step=conn
send 0
send 0
printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n' \
    >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
lines 5
got=$(for n in 1 2 3 4 5; do field $n conn; done | tr '\n' ' ')
[ "$got" = "1 2 3 4 4 " ] || fail "conn values: $got, expected 1 2 3 4 4"
for n in 2 3 4 5; do
    field $n peer | grep -q '^"127\.0\.0\.1:[0-9][0-9]*"$' || fail "line $n: peer $(field $n peer)"
done

# "helo" follows a new EHLO or HELO within a connection (smtp-sink keeps the line's parts that
# do not change with the message, and makes them again when one changes).
step=helo
printf 'EHLO one.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nEHLO two.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\ny\r\n.\r\nHELO three.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nz\r\n.\r\nQUIT\r\n' \
    >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
lines 9
got=$(for n in 6 7 8 9; do field $n helo; done | tr '\n' ' ')
[ "$got" = '"one.example" "one.example" "two.example" "three.example" ' ] ||
    fail "helo values: $got"
got=$(for n in 6 7 8 9; do field $n conn; done | tr '\n' ' ')
[ "$got" = "5 5 5 5 " ] || fail "conn values: $got, expected 5 5 5 5"
[ "$(field 9 peer)" = "$(field 6 peer)" ] || fail "peer $(field 9 peer) after HELO"
stop_sink

# -v logs each command and reply of a session, with its connection's number (the raw client's
# pipelined session, connection 4, in the order its bytes came and went); the content of a
# message that follows a 354 is summarised (smtp-send --no-chunking: the 48-octet message),
# BDAT chunk data too (the default), never copied into the log.
step=transcript
expect_in "$tmp/sink.err" "smtp-sink: [4] C: EHLO raw.example"
expect_in "$tmp/sink.err" "smtp-sink: [4] C: RCPT TO:<c@example.org>"
expect_in "$tmp/sink.err" "smtp-sink: [4] S: 354 End data with <CR><LF>.<CR><LF>"
expect_in "$tmp/sink.err" "smtp-sink: [4] S: 221 2.0.0 Bye"
start_sink --discard
send 0 --no-chunking
send 0
stop_sink
expect_in "$tmp/sink.err" "smtp-sink: [1] C: DATA"
expect_in "$tmp/sink.err" "smtp-sink: [1] S: 354 End data with <CR><LF>.<CR><LF>"
expect_in "$tmp/sink.err" "smtp-sink: [1] C: <48 octets of DATA content>"
expect_in "$tmp/sink.err" "smtp-sink: [1] C: ."
expect_in "$tmp/sink.err" "smtp-sink: [1] S: 250 2.0.0 Ok: queued"
expect_in "$tmp/sink.err" "smtp-sink: [2] C: BDAT 48 LAST"
expect_in "$tmp/sink.err" "smtp-sink: [2] C: <48 octets of BDAT data>"
grep -q 'C: body$' "$tmp/sink.err" && fail "a message line in the log"

# A PROXY header: "peer" is the client it speaks for, IPv6 in brackets; -v says so too.
step=proxy
start_sink --discard --proxy-protocol
body='EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
# shellcheck disable=SC2059
printf "PROXY TCP4 192.0.2.1 192.0.2.2 40000 25\\r\\n$body" >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
# shellcheck disable=SC2059
printf "PROXY TCP6 2001:db8::7 2001:db8::2 40001 25\\r\\n$body" >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
# Family UNKNOWN: the socket's address stays. Version 2, family UNIX (AF_UNIX, stream; 216
# octets of addresses): no address at all, "peer" is null.
# shellcheck disable=SC2059
printf "PROXY UNKNOWN\\r\\n$body" >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
{
    printf '\r\n\r\n\000\r\nQUIT\n\041\061\000\330'
    head -c 216 /dev/zero
    # shellcheck disable=SC2059
    printf "$body"
} >"$tmp/raw"
"$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
lines 4
[ "$(field 1 peer)" = '"192.0.2.1:40000"' ] || fail "PROXY TCP4: peer $(field 1 peer)"
[ "$(field 2 peer)" = '"[2001:db8::7]:40001"' ] || fail "PROXY TCP6: peer $(field 2 peer)"
field 3 peer | grep -q '^"127\.0\.0\.1:[0-9][0-9]*"$' || fail "PROXY UNKNOWN: peer $(field 3 peer)"
[ "$(field 4 peer)" = null ] || fail "PROXY v2 UNIX: peer $(field 4 peer)"
expect_in "$tmp/sink.err" "smtp-sink: [4] PROXY: client unknown"
expect_in "$tmp/sink.err" "smtp-sink: [1] PROXY: client 192.0.2.1:40000"
expect_in "$tmp/sink.err" "smtp-sink: [2] PROXY: client [2001:db8::7]:40001"
stop_sink

# --listen PORT is 127.0.0.1:PORT ("0": a port the kernel chooses), not a host named PORT.
step=listen-port
start_sink --discard --listen 0
[ "$port" -ne 0 ] && [ "$port" -ne 2525 ] || fail "--listen 0 listens on port $port"
send 0
lines 1
stop_sink
$W "$bin/smtp-sink" --discard --listen 99999 >"$tmp/o.out" 2>"$tmp/o.err"
[ $? -eq 64 ] || fail "--listen 99999 did not exit 64"

# Exit status: an unreadable file 66 (EX_NOINPUT), a malformed one 65 (EX_DATAERR); a bad
# command line stays 64 whatever its files.
step=exit-status
sink_exit() { # EXPECTED MESSAGE OPTIONS...
    expect=$1
    msg=$2
    shift 2
    $W "$bin/smtp-sink" --listen 127.0.0.1:0 --discard "$@" >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-sink $* exited $rc, expected $expect"
    expect_in "$tmp/o.err" "$msg"
}
printf 'u:p\n' >"$tmp/users"
printf 'no colon here\n' >"$tmp/bad-users"
sink_exit 66 "--auth-file: cannot read $tmp/nonexistent" --auth-file "$tmp/nonexistent" \
    --allow-insecure-auth
sink_exit 66 "--auth-file: cannot read $tmp" --auth-file "$tmp" --allow-insecure-auth
sink_exit 65 "bad-users:1: expected user:password" --auth-file "$tmp/bad-users" \
    --allow-insecure-auth
sink_exit 64 "AUTH is offered only over TLS" --auth-file "$tmp/nonexistent"

if [ -x "$mkcert" ]; then
    "$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"
    printf 'not a certificate\n' >"$tmp/garbage.pem"
    sink_exit 66 "--tls-cert: cannot read" --tls-cert "$tmp/nonexistent" --tls-key "$tmp/key.pem"
    sink_exit 66 "--tls-key: cannot read" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/nonexistent"
    sink_exit 65 "TLS:" --tls-cert "$tmp/garbage.pem" --tls-key "$tmp/key.pem"
    sink_exit 65 "TLS:" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/garbage.pem"
    sink_exit 65 "expected user:password" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
        --auth-file "$tmp/bad-users"

    # Over STARTTLS: "tls_version" and "tls_cipher" name the session, as the -v TLS line does;
    # a connection without TLS on the same sink has them null.
    step=starttls
    start_sink --discard --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/smtp-send" --server "localhost:$port" --starttls --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" --timeout 20 \
        >"$tmp/send.out" 2>"$tmp/send.err" || fail "STARTTLS send"
    send 0
    lines 2
    v=$(field 1 tls_version)
    c=$(field 1 tls_cipher)
    case "$v" in '"TLSv1.'[23]'"') ;; *) fail "tls_version is $v over STARTTLS" ;; esac
    # mbedTLS 2.28 names suites "TLS-...", 3.6 its TLS 1.3 ones "TLS1-3-...".
    case "$c" in '"TLS-'?*'"' | '"TLS1-3-'?*'"') ;; *) fail "tls_cipher is $c over STARTTLS" ;; esac
    line 1 | grep -q '"tls":true,' || fail "line 1 is not over TLS"
    v=${v#\"}
    c=${c#\"}
    expect_in "$tmp/sink.err" "smtp-sink: [1] TLS ${v%\"} ${c%\"}"
    [ "$(field 2 tls_version)" = null ] || fail "tls_version $(field 2 tls_version) without TLS"
    [ "$(field 2 tls_cipher)" = null ] || fail "tls_cipher $(field 2 tls_cipher) without TLS"
    grep -q '^smtp-sink: \[2\] TLS ' "$tmp/sink.err" && fail "a TLS line for connection 2"
    # REQUIRETLS (RFC 8689): offered over TLS only, "requiretls" says whether MAIL asked for
    # it; smtp-send --requiretls needs a verified certificate (refused with --no-verify) and
    # TLS (refused without --tls-required: 64); over TLS that did not verify, nothing is sent.
    [ "$(field 1 requiretls)" = false ] || fail "requiretls $(field 1 requiretls) without asking"
    $W "$bin/smtp-send" --server "localhost:$port" --tls-required --cafile "$tmp/ca.pem" \
        --requiretls -v --from a@example.org --to b@example.org --data "$tmp/msg" --timeout 20 \
        >"$tmp/send.out" 2>"$tmp/send.err" || fail "--requiretls send"
    lines 3
    [ "$(field 3 requiretls)" = true ] || fail "requiretls is $(field 3 requiretls)"
    expect_in "$tmp/send.err" "C: MAIL FROM:<a@example.org> SIZE="
    expect_in "$tmp/send.err" " REQUIRETLS"
    grep -q 'S: 250[- ]REQUIRETLS$' "$tmp/send.err" || fail "REQUIRETLS not offered over TLS"
    send 64 --requiretls
    expect_in "$tmp/send.err" "--requiretls needs --tls-required or --tls"
    send 64 --requiretls --tls-required --no-verify
    expect_in "$tmp/send.err" "--requiretls excludes --no-verify"
    lines 3
    stop_sink

    # Implicit TLS (RFC 8314): the same keys.
    step=implicit-tls
    start_sink --discard --implicit-tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/smtp-send" --server "localhost:$port" --tls --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" --timeout 20 \
        >"$tmp/send.out" 2>"$tmp/send.err" || fail "implicit TLS send"
    lines 1
    case "$(field 1 tls_version)" in '"TLSv1.'[23]'"') ;; *) fail "tls_version $(field 1 tls_version)" ;; esac
    expect_in "$tmp/sink.err" "smtp-sink: [1] TLS TLSv1."
    stop_sink
else
    echo "no mkcert (a build without TLS): TLS checks skipped"
fi

echo "PASS"
exit 0
