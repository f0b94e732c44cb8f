#!/bin/sh
# SPDX-License-Identifier: MIT
# DANE (RFC 7672) end to end: smtp-send --dane-tlsa against smtp-sink over 127.0.0.1 only, with
# the certificates and TLSA records of tests/e2e/mkcert.c (tlsa.txt): DANE-EE and DANE-TA
# matches (exit 0, the record on standard error), a mismatch and a DANE-TA name mismatch (74,
# the reason on standard error, nothing delivered), records none of which is usable (TLS
# without authentication), TLS made mandatory, --probe's line, and the option errors (64).
# Usage: dane.sh BINDIR MKCERT
#   BINDIR  where smtp-send and smtp-sink are
#   MKCERT  makes the certificates and tlsa.txt (tests/e2e/mkcert.c; a build with mbedTLS)
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
mkcert=${2:-none}
W=${SMTP_E2E_WRAPPER:-}
unset SMTP_PASSWORD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-dane.XXXXXX")
. "$(dirname "$0")/sink.sh"
step=start

require_programs smtp-sink smtp-send
[ -x "$mkcert" ] || {
    echo "SKIP: no mkcert (a build without TLS)"
    exit 77
}
"$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"

# record LABEL: the record of tlsa.txt with that label, "U S M HEX".
record() {
    r=$(sed -n "s/^$1 //p" "$tmp/tlsa.txt")
    [ -n "$r" ] || fail "tlsa.txt has no $1"
    printf '%s\n' "$r"
}
ee=$(record ee-spki-sha256)
ee512=$(record ee-cert-sha512)
ta=$(record ta-spki-sha256)
ta_cert=$(record ta-cert-sha256)
# The same record with its last hexadecimal digit changed: it matches nothing.
case $ee in
*0) ee_wrong="${ee%?}1" ;;
*) ee_wrong="${ee%?}0" ;;
esac
# As dig prints it: upper case, the data in groups.
ee_dig=$(printf '%s\n' "$ee" | tr 'a-f' 'A-F' | sed 's/^\(3 1 1 .\{32\}\)/\1 /')

printf 'Subject: dane\r\n\r\nbody\r\n' >"$tmp/msg"
mkdir -p "$tmp/md"
msg="--from a@example.org --to b@example.org --data $tmp/msg"

# ---- DANE-EE over STARTTLS: the server's key, whatever its name; the message delivered.
step=ee_match
start_sink --maildir "$tmp/md" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
# shellcheck disable=SC2086
send 0 --starttls --dane-tlsa "$ee" --dane-name mx.example.net $msg
expect_line "$tmp/send.err" \
    "smtp-send: DANE: DANE-EE TLSA record 1 of 1 (3 1 1) matched the server's certificate"
expect_in "$tmp/send.out" "b@example.org: delivered: 250"
expect_in "$tmp/sink.out" '"tls":true'
[ "$(count_new)" -eq 1 ] || fail "the message was not delivered once"
# Two records, the second matching, the first as dig prints it; -q prints nothing.
# shellcheck disable=SC2086
send 0 --tls-required --dane-tlsa "$ee_wrong" --dane-tlsa "$ee512" --server "localhost:$port" $msg
expect_line "$tmp/send.err" \
    "smtp-send: DANE: DANE-EE TLSA record 2 of 2 (3 0 2) matched the server's certificate"
# shellcheck disable=SC2086
send 0 --starttls --dane-tlsa "$ee_dig" --server "localhost:$port" -q $msg
[ -s "$tmp/send.err" ] && fail "-q printed on standard error"
[ "$(count_new)" -eq 3 ] || fail "expected 3 messages"

# ---- A mismatch: TLS fails (74) before anything is sent, the reason on standard error.
step=ee_mismatch
# shellcheck disable=SC2086
send 74 --starttls --dane-tlsa "$ee_wrong" --server "localhost:$port" $msg
expect_in "$tmp/send.err" "TLS: DANE authentication failed: TLSA mismatch: no usable TLSA record (1 of 1) matches the server's certificate chain"
expect_in "$tmp/send.err" "session ended: TLS_FAILED"
expect_not_in "$tmp/send.err" "--cafile"
expect_in "$tmp/send.out" "b@example.org: not sent: TLS: DANE authentication failed"
[ "$(count_new)" -eq 3 ] || fail "a message went after a DANE failure"

# ---- DANE-TA: the CA the server sends, and the name (--server's host, or --dane-name).
step=ta
# shellcheck disable=SC2086
send 0 --starttls --dane-tlsa "$ta" --server "localhost:$port" $msg
expect_line "$tmp/send.err" "smtp-send: DANE: DANE-TA TLSA record 1 of 1 (2 1 1) matched certificate 2 of the server's chain, for localhost"
# shellcheck disable=SC2086
send 0 --starttls --dane-tlsa "$ta_cert" --dane-name mail.test. $msg
expect_in "$tmp/send.err" "(2 0 1) matched certificate 2 of the server's chain, for mail.test"
# The certificate names neither the base domain nor the MX host (127.0.0.1: none).
step=ta_name
# shellcheck disable=SC2086
send 74 --tls-required --dane-tlsa "$ta" --dane-name mx.example.net $msg
expect_in "$tmp/send.err" "TLS: DANE authentication failed: name mismatch for DANE-TA: TLSA record 1 of 1 (2 1 1) matched certificate 2 of the chain, but the server's certificate does not name mx.example.net"
[ "$(count_new)" -eq 5 ] || fail "expected 5 messages"

# ---- No usable record (PKIX-EE, an unknown matching type): TLS without authentication.
step=unusable
# shellcheck disable=SC2086
send 0 --starttls --dane-tlsa "1 ${ee#3 }" --dane-tlsa "3 1 9 00" --server "localhost:$port" $msg
expect_line "$tmp/send.err" "smtp-send: DANE: no usable TLSA record (2 given): TLS without authentication (RFC 7672 2.2)"
[ "$(count_new)" -eq 6 ] || fail "expected 6 messages"

# ---- --probe says what DANE made of the server.
step=probe
send 0 --probe --starttls --dane-tlsa "$ee" --server "localhost:$port"
expect_line "$tmp/send.out" \
    "tls-dane: DANE-EE TLSA record 1 of 1 (3 1 1) matched the server's certificate"
stop_sink

# ---- Implicit TLS: the same check.
step=implicit
start_sink --discard --implicit-tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
# shellcheck disable=SC2086
send 0 --tls --dane-tlsa "$ee512" --server "localhost:$port" $msg
expect_in "$tmp/send.err" "DANE-EE TLSA record 1 of 1 (3 0 2) matched"
# shellcheck disable=SC2086
send 74 --tls --dane-tlsa "$ee_wrong" --server "localhost:$port" $msg
expect_in "$tmp/send.err" "TLS: DANE authentication failed: TLSA mismatch"
stop_sink

# ---- TLSA records make TLS mandatory (RFC 7672 2.2): no STARTTLS offered, nothing sent (69).
step=mandatory
start_sink --maildir "$tmp/md"
# shellcheck disable=SC2086
send 69 --starttls --dane-tlsa "$ee" --server "localhost:$port" $msg
expect_in "$tmp/send.err" "STARTTLS not offered"
[ "$(count_new)" -eq 6 ] || fail "a message went in clear text"
stop_sink

# ---- Option errors: 64, with what is wrong.
step=usage
port=1 # nothing is connected to
usage() { # EXPECTED_TEXT OPTIONS...
    want=$1
    shift
    send 64 "$@" --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/send.err" "$want"
}
usage "the usage is not a number" --starttls --dane-tlsa "x 1 1 00" --dane-name a.example
usage "the matching type is over 255" --starttls --dane-tlsa "3 1 256 00" --dane-name a.example
usage "no matching type" --starttls --dane-tlsa "3 1" --dane-name a.example
usage "the selector is not a number" --starttls --dane-tlsa "3 1x 1 00" --dane-name a.example
usage "'z' at octet 8 is not a hexadecimal digit" --starttls --dane-tlsa "3 1 1 0z" \
    --dane-name a.example
usage "an odd number of hexadecimal digits (3)" --starttls --dane-tlsa "3 1 1 abc" \
    --dane-name a.example
usage "no association data" --starttls --dane-tlsa "3 1 1 " --dane-name a.example
usage "--dane-tlsa needs --tls, --starttls or --tls-required" --dane-tlsa "$ee" \
    --dane-name a.example
usage "no --cafile or --no-verify" --starttls --no-verify --dane-tlsa "$ee" --dane-name a.example
usage "--dane-name needs --dane-tlsa" --starttls --dane-name a.example
usage "--dane-name: '[127.0.0.1]' is not a domain name" --starttls --dane-tlsa "$ee" \
    --dane-name "[127.0.0.1]"
usage "--server 127.0.0.1 is an address: give the TLSA base domain with --dane-name" \
    --starttls --dane-tlsa "$ee"
$W "$bin/smtp-send" --help >"$tmp/help.out" 2>&1 || fail "smtp-send --help"
expect_in "$tmp/help.out" "--dane-tlsa"
expect_in "$tmp/help.out" "--dane-name"
echo "PASS: dane"
exit 0
