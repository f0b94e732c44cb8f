#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send --probe, the refusal of empty standard input, and the password's sources
# (--auth-password-file, SMTP_PASSWORD) with AUTH masked in -v unless --show-secrets; against
# smtp-sink over 127.0.0.1 only (issue #17).
# Usage: probe.sh BINDIR [MKCERT]
#   BINDIR  where smtp-send and smtp-sink are
#   MKCERT  makes the TLS cases' certificates (tests/e2e/mkcert.c; a build with mbedTLS);
#           without it the TLS cases are left out
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
mkcert=${2:-none}
W=${SMTP_E2E_WRAPPER:-}
unset SMTP_PASSWORD # smtp-send --auth-user takes its password from there
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-probe.XXXXXX")
. "$(dirname "$0")/sink.sh"
step=start

require_programs smtp-sink smtp-send


# send EXPECTED_STATUS [OPTIONS...]: smtp-send to 127.0.0.1:$port, standard input from
# /dev/null (the options say where the message comes from).
send() {
    expect=$1
    shift
    $W "$bin/smtp-send" --server "127.0.0.1:$port" --timeout 20 "$@" >"$tmp/send.out" \
        2>"$tmp/send.err" </dev/null
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

messages() { # how many messages smtp-sink reported (one JSON line each)
    wc -l <"$tmp/sink.out" | tr -d ' '
}

printf 'Subject: probe\r\n\r\nbody\r\n' >"$tmp/msg"

# ---- --probe against a plain smtp-sink: the EHLO keywords, SIZE, no TLS, no AUTH, no message.
step=probe_plain
mkdir -p "$tmp/md"
start_sink --maildir "$tmp/md" --max-size 4096 --hostname sink.test
send 0 --probe --helo client.example -v
expect_line "$tmp/send.out" "ehlo: sink.test"
expect_line "$tmp/send.out" "capability: PIPELINING"
expect_line "$tmp/send.out" "capability: SIZE 4096"
expect_line "$tmp/send.out" "capability: 8BITMIME"
expect_line "$tmp/send.out" "tls: none"
expect_line "$tmp/send.out" "auth: not offered"
expect_line "$tmp/send.out" "size: 4096"
expect_not_in "$tmp/send.out" "capability: STARTTLS" # no certificate: not offered
expect_not_in "$tmp/send.out" "authenticated:"
# The session: EHLO, NOOP (the engine's sign that it is ready), QUIT; no transaction.
expect_line "$tmp/send.err" "C: EHLO client.example"
expect_line "$tmp/send.err" "C: NOOP"
expect_line "$tmp/send.err" "C: QUIT"
expect_not_in "$tmp/send.err" "C: MAIL"
[ "$(ls "$tmp/md/new" | wc -l | tr -d ' ')" -eq 0 ] || fail "--probe stored a message"
[ "$(messages)" -eq 0 ] || fail "--probe delivered a message"
# -q: the exit status only.
send 0 --probe -q
[ -s "$tmp/send.out" ] && fail "--probe -q printed something"
# LMTP: LHLO's keywords.
stop_sink
start_sink --discard --lmtp
send 0 --probe --lmtp -v
expect_in "$tmp/send.err" "C: LHLO "
expect_line "$tmp/send.out" "capability: PIPELINING"
stop_sink

# ---- --probe's mistakes: 64, before any connection.
step=probe_usage
for args in "--probe --to b@example.org" "--probe --from a@example.org" \
    "--probe --data $tmp/msg" "--probe --count 2" "--probe --sessions 2" \
    "--probe --dsn-notify NEVER" "--probe --dsn-orcpt"; do
    # shellcheck disable=SC2086
    $W "$bin/smtp-send" --server 127.0.0.1:1 $args >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
    rc=$?
    [ $rc -eq 64 ] || fail "smtp-send $args exited $rc, expected 64"
    expect_in "$tmp/o.err" "smtp-send: --probe "
done
# No server there: a connection failure, temporary: 75.
start_sink --discard
dead=$port
stop_sink
port=$dead
send 75 --probe
port=

# ---- Empty standard input: refused (64), nothing sent; an empty file is a choice.
step=empty_stdin
start_sink --discard
send 64 --from a@example.org --to b@example.org
expect_in "$tmp/send.err" "smtp-send: standard input is empty: no message sent"
expect_in "$tmp/send.err" "--data /dev/null"
send 64 --from a@example.org --to b@example.org --data -
expect_in "$tmp/send.err" "smtp-send: standard input is empty"
: | $W "$bin/smtp-send" --server "127.0.0.1:$port" --from a@example.org --to b@example.org \
    >"$tmp/o.out" 2>"$tmp/o.err"
rc=$?
[ $rc -eq 64 ] || fail "an empty pipe exited $rc, expected 64"
[ "$(messages)" -eq 0 ] || fail "empty standard input sent a message"
# One octet on standard input is a message.
printf 'x' | $W "$bin/smtp-send" --server "127.0.0.1:$port" --from a@example.org \
    --to b@example.org >"$tmp/o.out" 2>"$tmp/o.err" || fail "one octet on standard input"
[ "$(messages)" -eq 1 ] || fail "one octet on standard input: expected 1 message"
# The empty message on purpose.
send 0 --from a@example.org --to b@example.org --data /dev/null
[ "$(messages)" -eq 2 ] || fail "--data /dev/null: expected 2 messages"
expect_in "$tmp/sink.out" '"size":0,'
stop_sink

# ---- The password's sources and AUTH in the -v transcript.
step=auth
printf 'alice:s3cret\n' >"$tmp/users"
printf 's3cret\n' >"$tmp/pw"
printf 's3cret\r\n' >"$tmp/pw-crlf"
printf 'wrong\ns3cret\n' >"$tmp/pw-second"
: >"$tmp/pw-empty"
start_sink --discard --auth-file "$tmp/users" --allow-insecure-auth
a="--from a@example.org --to b@example.org --data $tmp/msg --auth-user alice --allow-insecure-auth"
# shellcheck disable=SC2086
send 0 $a --auth-password-file "$tmp/pw" --auth-mech PLAIN -v
expect_in "$tmp/sink.out" '"auth":"alice",'
# PLAIN's initial response is masked (base64 of NUL alice NUL s3cret: AGFsaWNlAHMzY3JldA==).
expect_line "$tmp/send.err" "C: AUTH PLAIN ****"
expect_not_in "$tmp/send.err" "AGFsaWNlAHMzY3JldA=="
# shellcheck disable=SC2086
send 0 $a --auth-password-file "$tmp/pw" --auth-mech PLAIN -v --show-secrets
expect_line "$tmp/send.err" "C: AUTH PLAIN AGFsaWNlAHMzY3JldA=="
# A CRLF line end is not part of the password; only the first line counts.
# shellcheck disable=SC2086
send 0 $a --auth-password-file "$tmp/pw-crlf"
# shellcheck disable=SC2086
send 69 $a --auth-password-file "$tmp/pw-second"
expect_in "$tmp/send.err" "AUTH_FAILED: 535"
# SMTP_PASSWORD, with LOGIN: both SASL responses masked (alice: YWxpY2U=, s3cret: czNjcmV0).
export SMTP_PASSWORD=s3cret
# shellcheck disable=SC2086
send 0 $a --auth-mech LOGIN -v
expect_line "$tmp/send.err" "C: AUTH LOGIN"
[ "$(grep -c -x -F 'C: ****' "$tmp/send.err")" -eq 2 ] || fail "LOGIN: expected 2 masked lines"
expect_not_in "$tmp/send.err" "YWxpY2U="
expect_not_in "$tmp/send.err" "czNjcmV0"
expect_line "$tmp/send.err" "S: 235 2.7.0 Authentication successful"
# shellcheck disable=SC2086
send 0 $a --auth-mech LOGIN -v --show-secrets
expect_line "$tmp/send.err" "C: YWxpY2U="
expect_line "$tmp/send.err" "C: czNjcmV0"
expect_not_in "$tmp/send.err" "****"
# Precedence: --auth-password, then --auth-password-file, then SMTP_PASSWORD.
export SMTP_PASSWORD=wrong
# shellcheck disable=SC2086
send 69 $a
# shellcheck disable=SC2086
send 0 $a --auth-password-file "$tmp/pw"
# shellcheck disable=SC2086
send 0 $a --auth-password s3cret
export SMTP_PASSWORD=s3cret
# shellcheck disable=SC2086
send 69 $a --auth-password wrong
[ "$(messages)" -eq 7 ] || fail "expected 7 messages, found $(messages)"
# --probe authenticates too.
send 0 --probe --auth-user alice --allow-insecure-auth
# With mbedTLS, smtp-sink offers SCRAM-SHA-256 and CRAM-MD5 too.
if [ "$mkcert" = none ]; then
    expect_line "$tmp/send.out" "auth: PLAIN LOGIN"
else
    expect_line "$tmp/send.out" "auth: SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"
fi
expect_line "$tmp/send.out" "authenticated: alice"
unset SMTP_PASSWORD
# No password anywhere and no terminal (standard error is a file): 64, nothing asked.
# shellcheck disable=SC2086
send 64 $a
expect_in "$tmp/send.err" "--auth-user needs a password"
# Mistakes: 64.
for args in "--auth-password-file $tmp/pw" \
    "--auth-user alice --auth-password s3cret --auth-password-file $tmp/pw" \
    "--auth-user alice --auth-password-file $tmp/none" \
    "--auth-user alice --auth-password-file $tmp/pw-empty"; do
    # shellcheck disable=SC2086
    $W "$bin/smtp-send" --server "127.0.0.1:$port" --from a@example.org --to b@example.org \
        --data "$tmp/msg" $args >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
    rc=$?
    [ $rc -eq 64 ] || fail "smtp-send $args exited $rc, expected 64"
    expect_in "$tmp/o.err" "smtp-send: --auth-"
done
[ "$(messages)" -eq 7 ] || fail "a refused command line sent a message"
stop_sink

# ---- --probe over STARTTLS: the TLS version, cipher and certificate (a build with mbedTLS).
step=probe_tls
if [ -x "$mkcert" ]; then
    "$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"
    start_sink --discard --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
        --auth-file "$tmp/users" --max-size 8000
    # Without a TLS option: STARTTLS is only listed.
    send 0 --probe
    expect_line "$tmp/send.out" "capability: STARTTLS"
    expect_line "$tmp/send.out" "tls: none"
    expect_line "$tmp/send.out" "auth: not offered"
    # The name checked is the one given to --server.
    $W "$bin/smtp-send" --server "localhost:$port" --timeout 20 --probe --starttls \
        --cafile "$tmp/ca.pem" -v >"$tmp/send.out" 2>"$tmp/send.err" </dev/null ||
        fail "--probe --starttls exited $?"
    expect_in "$tmp/send.err" "C: STARTTLS"
    # mbedTLS 2.28 names suites "TLS-...", 3.6 its TLS 1.3 ones "TLS1-3-...".
    grep -q '^tls: TLSv1\.[23] TLS[0-9-]*-[A-Z0-9-]*$' "$tmp/send.out" || fail "no TLS version and cipher"
    expect_line "$tmp/send.out" "tls-subject: CN=localhost, O=libsmtp"
    expect_line "$tmp/send.out" "tls-issuer: CN=libsmtp Test CA, O=libsmtp"
    expect_line "$tmp/send.out" "tls-validity: 2020-01-01T00:00:00Z to 2049-12-31T23:59:59Z"
    # The keywords are those of the EHLO after STARTTLS: AUTH now, STARTTLS no more.
    # With mbedTLS, smtp-sink offers SCRAM-SHA-256 and CRAM-MD5 too.
    expect_line "$tmp/send.out" "capability: AUTH SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"
    expect_not_in "$tmp/send.out" "capability: STARTTLS"
    expect_line "$tmp/send.out" "auth: SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"
    expect_line "$tmp/send.out" "size: 8000"
    # With AUTH over TLS, the password from a file.
    $W "$bin/smtp-send" --server "localhost:$port" --timeout 20 --probe --tls-required \
        --cafile "$tmp/ca.pem" --auth-user alice --auth-password-file "$tmp/pw" \
        >"$tmp/send.out" 2>"$tmp/send.err" </dev/null || fail "--probe with AUTH exited $?"
    expect_line "$tmp/send.out" "authenticated: alice"
    # A certificate that does not verify (the system's CAs): 74, as for a message.
    send 74 --probe --tls-required
    expect_in "$tmp/send.err" "TLS"
    [ "$(messages)" -eq 0 ] || fail "--probe over TLS delivered a message"
    stop_sink
else
    echo "no mkcert (a build without TLS): TLS cases left out"
fi

# ---- --help names the additions.
step=help
$W "$bin/smtp-send" --help >"$tmp/help.out" 2>&1 || fail "smtp-send --help"
for opt in "--probe" "--auth-password-file FILE" "SMTP_PASSWORD" "--show-secrets" \
    "--data /dev/null"; do
    expect_in "$tmp/help.out" "$opt"
done

echo "PASS"
