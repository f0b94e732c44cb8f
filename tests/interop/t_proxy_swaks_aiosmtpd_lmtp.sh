#!/bin/sh
# SPDX-License-Identifier: MIT
# swaks --protocol LMTP → smtp-proxy --lmtp → aiosmtpd's LMTP server (aiosmtpd.lmtp.LMTP),
# compared with swaks → aiosmtpd directly: LHLO on both sides, a recipient refused at RCPT,
# then after the data one reply per accepted recipient in RCPT order (RFC 2033 4.2), each
# aiosmtpd's own as it is: 250, a 452 deferral, a two-line 550, 250. swaks must see the same
# replies and exit with the same status both ways, and aiosmtpd must get the same bytes and
# recipients. (aiosmtpd does not offer PIPELINING, so neither does the proxy.)
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"
. "$INTEROP/proxy.sh"
need swaks
echo "client: $(version_of swaks)"
make_message
# swaks ends --data with CRLF "." CRLF after the data as given: one more empty line arrives.
cp "$T/msg" "$T/msg.swaks"
printf '\r\n' >>"$T/msg.swaks"
start_aiosmtpd --lmtp --refuse-rcpt nobody@example.org \
    --data-reply 'full@example.org=452 4.2.2 <full@example.org> mailbox full' \
    --data-reply "$(printf 'gone@example.org=550-5.2.1 <gone@example.org> mailbox disabled\n550 5.2.1 since 2026')"
start_proxy --upstream "127.0.0.1:$port" --lmtp

# received N TO: aiosmtpd's N-th message is the one swaks sent, to the recipients TO (JSON).
got() {
    cmp "$T/msg.swaks" "$(received "$1")" || fail "aiosmtpd's message $1 differs from swaks's"
    expect_in "$T/aio/$1.json" "\"to\": $2"
}

all='b@example.org,nobody@example.org,full@example.org,gone@example.org,c@example.org'
to='["b@example.org", "full@example.org", "gone@example.org", "c@example.org"]'
swaks_both lmtp --protocol LMTP --to "$all" --data "@$T/msg"
expect_in "$T/lmtp-proxy.log" " -> LHLO swaks.example"
expect_in "$T/lmtp-proxy.log" "<** 550 5.1.1 <nobody@example.org>: no such user"
expect_in "$T/lmtp-proxy.log" "<** 452 4.2.2 <full@example.org> mailbox full"
expect_in "$T/lmtp-proxy.log" "<** 550-5.2.1 <gone@example.org> mailbox disabled"
expect_in "$T/lmtp-proxy.log" "<** 550 5.2.1 since 2026"
# RFC 2033 4.2: four replies after the data, one per accepted recipient, in order.
[ "$(sed -n '/^ -> \.$/,/QUIT/p' "$T/lmtp-proxy.log" | grep -c '^<.. [0-9][0-9][0-9] ')" -eq 4 ] ||
    fail "expected four replies after the data through the proxy"
got 1 "$to"
got 2 "$to"
# Every recipient accepted: swaks exits 0 both ways.
swaks_both lmtp-ok --protocol LMTP --to b@example.org,c@example.org --data "@$T/msg"
[ "$rc" -eq 0 ] || fail "swaks exited $rc with every recipient delivered"
got 3 '["b@example.org", "c@example.org"]'
got 4 '["b@example.org", "c@example.org"]'
[ -f "$T/aio/5.json" ] && fail "aiosmtpd took a message more"
stop_proxy
stop_peer
echo PASS
