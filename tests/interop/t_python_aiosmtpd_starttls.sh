#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send against Python's aiosmtpd with STARTTLS (RFC 3207; aiosmtpd's tls_context, a
# certificate made now) and AUTH, which aiosmtpd offers only after TLS (auth_require_tls).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"

make_cert
make_message
start_aiosmtpd --user alice:s3cret --tls "$T/pki/cert.pem" "$T/pki/key.pem"
for mech in PLAIN LOGIN; do
    send 0 --server "localhost:$port" --tls-required --cafile "$T/pki/ca.pem" \
        --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
        --auth-password s3cret --auth-mech $mech
    expect_in "$T/send.err" "C: STARTTLS"
    expect_in "$T/send.err" "C: AUTH $mech"
done
for n in 1 2; do
    cmp "$T/msg" "$(received $n)" || fail "message $n: aiosmtpd received other bytes"
    expect_in "$T/aio/$n.json" '"auth": "alice"'
    expect_in "$T/aio/$n.json" '"tls": true'
done
expect_in "$T/aio/1.json" '"mechanism": "PLAIN"'
expect_in "$T/aio/2.json" '"mechanism": "LOGIN"'
# Before TLS aiosmtpd offers no AUTH: smtp-send ends the session (69) rather than send the
# message unauthenticated; a certificate that does not verify (no --cafile) ends it with 74.
send 69 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --allow-insecure-auth
send 74 --server "localhost:$port" --tls-required --from a@example.org --to b@example.org \
    --data "$T/msg"
# --starttls with the CA and no AUTH: a plain message over TLS.
send 0 --server "localhost:$port" --starttls --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg"
cmp "$T/msg" "$(received 3)" || fail "message 3 differs"
expect_in "$T/aio/3.json" '"auth": null'
expect_in "$T/aio/3.json" '"tls": true'
stop_peer
echo PASS
