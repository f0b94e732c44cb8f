#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send with IDNA (libidn2, --version "IDNA: yes") against Python's aiosmtpd, which does not
# offer SMTPUTF8 (its default): the U-label domains of the sender, the recipient and --helo
# arrive in A-label form, with no SMTPUTF8 parameter; a UTF-8 local part is not sent (69).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"

"$BIN/smtp-send" --version | grep -q '^IDNA: yes' || skip "smtp-send was built without libidn2"
u=$(printf 'b\303\274cher.example')  # bücher.example
m=$(printf 'm\303\274nchen.example') # münchen.example
make_message
start_aiosmtpd
send 0 --from "a@$m" --to "info@$u" --helo "client.$u" --data "$T/msg"
expect_in "$T/send.out" "info@$u: delivered: 250 2.0.0 OK: queued as 1"
grep -q '^S: 250.SMTPUTF8' "$T/send.err" && fail "aiosmtpd offers SMTPUTF8: the test needs a server without"
expect_in "$T/send.err" "C: EHLO client.xn--bcher-kva.example"
size=$(wc -c <"$T/msg" | tr -d ' ')
printf '{"auth": null, "from": "a@xn--mnchen-3ya.example", "helo": "client.xn--bcher-kva.example", "mail_options": ["SIZE=%s", "BODY=8BITMIME"], "mechanism": null, "rcpt_options": [[]], "tls": false, "to": ["info@xn--bcher-kva.example"]}' \
    "$size" >"$T/expected.json"
cmp "$T/expected.json" "$T/aio/1.json" || fail "envelope: $(cat "$T/aio/1.json")"
cmp "$T/msg" "$(received 1)" || fail "aiosmtpd received other bytes than smtp-send read"
send 69 --from a@example.org --to "j$(printf '\303\266')rg@$u" --data "$T/msg"
expect_in "$T/send.out" "not sent: the server does not offer SMTPUTF8"
stop_peer
echo PASS
