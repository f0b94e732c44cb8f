#!/bin/sh
# SPDX-License-Identifier: MIT
# MTA-STS (RFC 8461) end to end: smtp-send --mta-sts-policy against smtp-sink over 127.0.0.1
# only, with policies written here and the certificates of tests/e2e/mkcert.c (CN and SAN
# localhost). enforce: delivered over verified STARTTLS to an MX the policy names (0); an MX
# it does not name gets nothing (75, no connection); a certificate that does not verify or
# does not name the MX (74), a server without STARTTLS (69). testing: the same failures are
# reported and the message goes (0). none: nothing required. The option and file errors.
# Usage: mtasts.sh BINDIR MKCERT
#   BINDIR  where smtp-send and smtp-sink are
#   MKCERT  makes the certificates (tests/e2e/mkcert.c; a build with mbedTLS)
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
mkcert=${2:-none}
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-mtasts.XXXXXX")
. "$(dirname "$0")/sink.sh"
step=start

require_programs smtp-sink smtp-send
[ -x "$mkcert" ] || {
    echo "SKIP: no mkcert (a build without TLS)"
    exit 77
}
"$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"
printf 'Subject: mta-sts\r\n\r\nbody\r\n' >"$tmp/msg"

# policy NAME MODE MX...: a policy file as a domain publishes it (LF line ends, RFC 8461 3.2).
policy() {
    f="$tmp/$1"
    shift
    printf 'version: STSv1\nmode: %s\n' "$1" >"$f"
    shift
    for mx in "$@"; do printf 'mx: %s\n' "$mx" >>"$f"; done
    printf 'max_age: 86400\n' >>"$f"
}
policy enforce enforce localhost
policy elsewhere enforce mail.example.org '*.example.net'
policy wild enforce '*.example.org'
policy testing_other testing mail.example.org
policy none none

# send STATUS [OPTIONS...]: smtp-send to localhost (the certificate's name) on the sink.
send() {
    expect=$1
    shift
    $W "$bin/smtp-send" --server "localhost:$port" --from a@example.org --to b@example.org \
        --data "$tmp/msg" --timeout 20 "$@" >"$tmp/send.out" 2>"$tmp/send.err"
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

# jsonl N: the sink's JSON lines so far number N.
jsonl() {
    [ "$(wc -l <"$tmp/sink.out" | tr -d ' ')" -eq "$1" ] ||
        fail "expected $1 message(s) at the sink, got $(wc -l <"$tmp/sink.out")"
}

step=enforce
start_sink --discard --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
# The MX is one the policy names and the certificate verifies for it: over STARTTLS.
send 0 --mta-sts-policy "$tmp/enforce" --cafile "$tmp/ca.pem" -v
jsonl 1
grep -q '"tls":true' "$tmp/sink.out" || fail "enforce: not over TLS"
expect_in "$tmp/send.err" "C: STARTTLS"
# An MX the policy does not name: nothing sent, not even a connection (75: an MTA defers).
send 75 --mta-sts-policy "$tmp/elsewhere" --cafile "$tmp/ca.pem"
expect_in "$tmp/send.err" "smtp-send: MTA-STS: the policy names no MX matching localhost (mode enforce: nothing sent, RFC 8461 5)"
expect_in "$tmp/send.out" "b@example.org: not sent: MTA-STS: the policy names no MX matching localhost"
jsonl 1
# The MX matches a wildcard (--mta-sts-mx), but the certificate names localhost, not it: 74.
send 74 --mta-sts-policy "$tmp/wild" --mta-sts-mx mx1.example.org --cafile "$tmp/ca.pem"
expect_in "$tmp/send.out" "b@example.org: not sent: TLS: certificate verification failed: "
# A certificate the trust store does not know (no --cafile: the system's): 74, and the hint
# does not suggest --no-verify, which enforce refuses.
send 74 --mta-sts-policy "$tmp/enforce"
expect_in "$tmp/send.out" "; MTA-STS enforce needs a certificate that verifies for the MX: try --cafile FILE"
# REQUIRETLS over the verified session: accepted, and the sink says so.
send 0 --mta-sts-policy "$tmp/enforce" --cafile "$tmp/ca.pem" --requiretls
jsonl 2
sed -n 2p "$tmp/sink.out" | grep -q '"requiretls":true' || fail "REQUIRETLS not sent"
stop_sink
# A server without STARTTLS: TLS is required, nothing is sent (69).
start_sink --discard
send 69 --mta-sts-policy "$tmp/enforce" --cafile "$tmp/ca.pem"
jsonl 0
stop_sink

step=testing
# What enforce refuses is reported, and the message goes: an MX the policy does not name, a
# certificate that does not verify (no --cafile).
start_sink --discard --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
send 0 --mta-sts-policy "$tmp/testing_other"
expect_in "$tmp/send.err" "smtp-send: MTA-STS: the policy names no MX matching localhost (mode testing: sending anyway)"
expect_in "$tmp/send.err" "smtp-send: MTA-STS: the certificate does not verify for localhost: "
expect_in "$tmp/send.err" "(mode testing: sending anyway)"
jsonl 1
grep -q '"tls":true' "$tmp/sink.out" || fail "testing: not over TLS (STARTTLS was offered)"
# -q: silent.
send 0 --mta-sts-policy "$tmp/testing_other" -q
[ -s "$tmp/send.err" ] && fail "-q printed: $(cat "$tmp/send.err")"
stop_sink
# No STARTTLS at all: reported, delivered in plaintext.
start_sink --discard
send 0 --mta-sts-policy "$tmp/testing_other"
expect_in "$tmp/send.err" "smtp-send: MTA-STS: the session is not over TLS (mode testing: sent anyway)"
jsonl 1
stop_sink

step=none
# mode none: the policy asks nothing (plaintext to a server without STARTTLS is fine).
start_sink --discard
send 0 --mta-sts-policy "$tmp/none"
jsonl 1
[ -s "$tmp/send.err" ] && fail "mode none printed: $(cat "$tmp/send.err")"
stop_sink

step=errors
port=1
printf 'version: STSv1\nmode: sometimes\nmx: localhost\nmax_age: 1\n' >"$tmp/bad"
send 65 --mta-sts-policy "$tmp/bad"
expect_in "$tmp/send.err" "smtp-send: --mta-sts-policy $tmp/bad: not an MTA-STS policy (RFC 8461 3.2): "
send 66 --mta-sts-policy "$tmp/nonexistent"
expect_in "$tmp/send.err" "smtp-send: --mta-sts-policy $tmp/nonexistent: cannot read: "
send 64 --mta-sts-mx localhost
expect_in "$tmp/send.err" "--mta-sts-mx needs --mta-sts-policy"
send 64 --mta-sts-policy "$tmp/enforce" --no-verify --starttls
expect_in "$tmp/send.err" "excludes --no-verify"
send 64 --mta-sts-policy "$tmp/enforce" --mta-sts-mx '[127.0.0.1]'
expect_in "$tmp/send.err" "--mta-sts-mx: '[127.0.0.1]' is not a host name"
$W "$bin/smtp-send" --server "127.0.0.1:1" --from a@example.org --to b@example.org \
    --data "$tmp/msg" --mta-sts-policy "$tmp/enforce" >"$tmp/send.out" 2>"$tmp/send.err"
[ $? -eq 64 ] || fail "--server by address without --mta-sts-mx: not 64"
expect_in "$tmp/send.err" "--server 127.0.0.1 is an address: name the MX host with --mta-sts-mx NAME"
echo "PASS: mtasts"
