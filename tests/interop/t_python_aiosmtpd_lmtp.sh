#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send --lmtp against aiosmtpd's LMTP server (aiosmtpd.lmtp.LMTP): one reply per accepted
# recipient after the data (RFC 2033 4.2), in RCPT order, one recipient refused at RCPT, one
# refused and one deferred after the data.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"

make_message
start_aiosmtpd --lmtp --refuse-rcpt nobody@example.org \
    --data-reply 'full@example.org=452 4.2.2 <full@example.org> mailbox full' \
    --data-reply 'gone@example.org=550 5.2.1 <gone@example.org> mailbox disabled'
send 0 --lmtp --from a@example.org --to b@example.org --to c@example.org --data "$T/msg"
expect_in "$T/send.err" "C: LHLO "
printf 'b@example.org: delivered: 250 2.0.0 <b@example.org> delivered\nc@example.org: delivered: 250 2.0.0 <c@example.org> delivered\n' \
    >"$T/expected.out"
cmp "$T/expected.out" "$T/send.out" || fail "per-recipient lines differ"
cmp "$T/msg" "$(received 1)" || fail "message 1: aiosmtpd received other bytes"

# Worst outcome first: a permanent refusal (69) outranks a deferral (75).
send 69 --lmtp --from a@example.org --to b@example.org --to nobody@example.org \
    --to full@example.org --to gone@example.org --to c@example.org --data "$T/msg"
{
    echo "b@example.org: delivered: 250 2.0.0 <b@example.org> delivered"
    echo "nobody@example.org: refused: 550 5.1.1 <nobody@example.org>: no such user"
    echo "full@example.org: deferred: 452 4.2.2 <full@example.org> mailbox full"
    echo "gone@example.org: refused: 550 5.2.1 <gone@example.org> mailbox disabled"
    echo "c@example.org: delivered: 250 2.0.0 <c@example.org> delivered"
} >"$T/expected.out"
cmp "$T/expected.out" "$T/send.out" || fail "per-recipient lines differ"
cmp "$T/msg" "$(received 2)" || fail "message 2 differs"
expect_in "$T/aio/2.json" '"to": ["b@example.org", "full@example.org", "gone@example.org", "c@example.org"]'
# After the four replies to the data the session goes on: QUIT is answered.
expect_in "$T/send.err" "S: 221"
# Only deferrals: 75.
send 75 --lmtp --from a@example.org --to full@example.org --data "$T/msg"
expect_in "$T/send.out" "full@example.org: deferred: 452 4.2.2"
# Plain SMTP to an LMTP server: EHLO is refused (500), and so is HELO: 69.
send 69 --from a@example.org --to b@example.org --data "$T/msg"
expect_in "$T/send.err" 'S: 500 Error: command "EHLO" not recognized'
stop_peer
echo PASS
