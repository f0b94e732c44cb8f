#!/bin/sh
# SPDX-License-Identifier: MIT
# Real clients against smtp-sink's built-in CRAM-MD5 and SCRAM-SHA-256 (the server engine
# checks them; mbedTLS gives the crypto): swaks --auth CRAM-MD5, Python's smtplib (its own
# CRAM-MD5, and a SCRAM-SHA-256 client written with hashlib and hmac: py_sasl_client.py), for a
# password entry and a --make-scram entry; wrong passwords and unknown users refused alike.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need swaks python3
need_tls
echo "peer: $(version_of swaks), $(version_of python3) smtplib"
printf 'pencil\n' | "$BIN/smtp-sink" --make-scram scram >"$T/users" || fail "--make-scram"
printf 'plain:secret\n' >>"$T/users"

start_sink --discard --auth-file "$T/users" --allow-insecure-auth
python3 "$INTEROP/py_sasl_client.py" "$port" >"$T/client.out" 2>"$T/client.log" ||
    fail "smtplib: $(cat "$T/client.out")"
expect_in "$T/client.log" "send: 'AUTH CRAM-MD5\\r\\n'"
expect_in "$T/client.log" "send: 'AUTH SCRAM-SHA-256 "
for who in plain scram plain; do
    grep -q "\"auth\":\"$who\"" "$T/sink.out" || fail "no message from $who"
done
[ "$(grep -c '"auth":"plain"' "$T/sink.out")" -eq 2 ] || fail "expected plain's 2 messages"
[ "$(wc -l <"$T/sink.out")" -eq 3 ] || fail "expected 3 messages"

# swaks (no SCRAM) with CRAM-MD5: it needs Digest::HMAC_MD5 (libdigest-hmac-perl).
if ! perl -MDigest::HMAC_MD5 -e 1 2>/dev/null; then
    [ -n "${CI:-}" ] && fail "swaks has no CRAM-MD5: libdigest-hmac-perl is missing"
    skip "swaks has no CRAM-MD5: install libdigest-hmac-perl"
fi
sw() {
    expect=$1
    shift
    swaks --server "127.0.0.1:$port" --helo swaks.example --from a@example.org --timeout 20 \
        --to b@example.org --auth CRAM-MD5 "$@" </dev/null >"$T/swaks.log" 2>&1
    rc=$?
    [ $rc -eq "$expect" ] || fail "swaks $* exited $rc, expected $expect"
}
sw 0 --auth-user plain --auth-password secret
expect_in "$T/swaks.log" " -> AUTH CRAM-MD5"
expect_in "$T/swaks.log" "<-  235 2.7.0 Authentication successful"
sw 28 --auth-user plain --auth-password Secret
expect_in "$T/swaks.log" "<** 535 5.7.8 Error: authentication failed"
sw 28 --auth-user nobody --auth-password secret
expect_in "$T/swaks.log" "<** 535 5.7.8 Error: authentication failed"
[ "$(grep -c '"auth":"plain"' "$T/sink.out")" -eq 3 ] || fail "expected plain's 3 messages"
stop_sink
echo PASS
