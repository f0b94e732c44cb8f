#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send against Python's aiosmtpd (Debian's python3-aiosmtpd) with AUTH PLAIN and LOGIN
# (RFC 4954, RFC 4616) over plain TCP (--allow-insecure-auth), a wrong password, and a client
# that will not send a password in clear text unless told to.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"

make_message
start_aiosmtpd --user alice:s3cret --user 'bob:pass:with colon' --insecure-auth
# aiosmtpd offers AUTH PLAIN and LOGIN; each is asked for by name.
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --auth-mech PLAIN --allow-insecure-auth
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 OK: queued as 1"
expect_in "$T/send.err" "C: AUTH PLAIN "
cmp "$T/msg" "$(received 1)" || fail "message 1: aiosmtpd received other bytes than smtp-send read"
# 8-bit content: smtp-send declares it (RFC 6152) and its size (RFC 1870).
size=$(wc -c <"$T/msg" | tr -d ' ')
printf '{"auth": "alice", "from": "a@example.org", "helo": "%s", "mail_options": ["SIZE=%s", "BODY=8BITMIME"], "mechanism": "PLAIN", "rcpt_options": [[]], "tls": false, "to": ["b@example.org"]}' \
    "$(sed -n 's/^C: EHLO //p' "$T/send.err")" "$size" >"$T/expected.json"
cmp "$T/expected.json" "$T/aio/1.json" || fail "envelope 1: $(cat "$T/aio/1.json")"

send 0 --from a@example.org --to b@example.org --to c@example.org --data "$T/msg" \
    --auth-user bob --auth-password 'pass:with colon' --auth-mech LOGIN --allow-insecure-auth
expect_in "$T/send.err" "C: AUTH LOGIN"
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 OK: queued as 2"
expect_in "$T/send.out" "c@example.org: delivered: 250 2.0.0 OK: queued as 2"
cmp "$T/msg" "$(received 2)" || fail "message 2 differs"
expect_in "$T/aio/2.json" '"auth": "bob"'
expect_in "$T/aio/2.json" '"mechanism": "LOGIN"'
expect_in "$T/aio/2.json" '"to": ["b@example.org", "c@example.org"]'

# Without --auth-mech smtp-send picks one the server offers.
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --allow-insecure-auth
expect_in "$T/aio/3.json" '"auth": "alice"'

# A wrong password: 535 5.7.8 and exit 69, nothing sent (RFC 4954 4: a refused AUTH).
for mech in PLAIN LOGIN; do
    send 69 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
        --auth-password wrong --auth-mech $mech --allow-insecure-auth
    expect_in "$T/send.out" "b@example.org: not sent: 535 5.7.8"
    grep -q '^C: MAIL' "$T/send.err" && fail "MAIL sent after a refused AUTH $mech"
done
# The password is not sent over a connection without TLS unless --allow-insecure-auth.
send 69 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret
grep -q '^C: AUTH' "$T/send.err" && fail "AUTH sent in clear text without --allow-insecure-auth"
[ -f "$T/aio/4.json" ] && fail "a message was taken after refused authentications"
stop_peer
echo PASS
