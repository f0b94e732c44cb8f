#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-sink --tls-tickets SECONDS: TLS 1.2 session tickets (RFC 5077). A client that kept the
# ticket of its first STARTTLS session resumes every later one (bench/tls_load.py --resume,
# Python's ssl); without the option the same client gets full handshakes only. The option is
# refused without a certificate and out of its range (64).
# Usage: tickets.sh BINDIR MKCERT
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs smtp-sink under a tool.
# smtp-sink listens on a port the kernel chooses and is stopped by its PID; every wait is
# bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
bin=$1
mkcert=${2:-}
W=${SMTP_E2E_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-tickets.XXXXXX")
. "$(dirname "$0")/sink.sh"
require_programs smtp-sink
load=$(dirname "$0")/../../bench/tls_load.py
if [ -z "$mkcert" ] || ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: needs e2e_mkcert (TLS) and python3"
    exit 77
fi
"$mkcert" "$tmp" >/dev/null || fail "e2e_mkcert failed"
tls="--discard --tls-cert $tmp/cert.pem --tls-key $tmp/key.pem"

# resumed SESSIONS: tls_load.py --resume against the sink, one thread; prints how many of
# SESSIONS the sink resumed.
resumed() {
    timeout 60 python3 "$load" --resume handshakes 127.0.0.1 "$port" 1 "$1" >"$tmp/load.out" \
        2>"$tmp/load.err" || fail "tls_load.py --resume failed"
    sed -n 's/.* resumed \([0-9]*\)$/\1/p' "$tmp/load.out"
}

step="with --tls-tickets"
# shellcheck disable=SC2086
start_sink $tls --tls-tickets 60
n=$(resumed 3)
[ "$n" = 3 ] || fail "resumed $n of 3 sessions, expected 3"
stop_sink

step="without --tls-tickets"
# shellcheck disable=SC2086
start_sink $tls
n=$(resumed 3)
[ "$n" = 0 ] || fail "resumed $n of 3 sessions, expected 0 (no tickets issued)"
stop_sink

step="refused"
for bad in "--discard --tls-tickets 60" "$tls --tls-tickets 0" "$tls --tls-tickets 86401"; do
    # shellcheck disable=SC2086
    $W "$bin/smtp-sink" --listen 127.0.0.1:0 $bad >"$tmp/bad.out" 2>"$tmp/bad.err"
    rc=$?
    [ $rc -eq 64 ] || fail "smtp-sink $bad exited $rc, expected 64"
done
echo "PASS: tickets"
