#!/bin/sh
# SPDX-License-Identifier: MIT
# Python's smtplib → smtp-proxy → aiosmtpd, compared with smtplib → aiosmtpd directly
# (py_proxy_smtplib.py): four recipients of which one gets a two-line 550 from the aiosmtpd
# handler (smtplib must get both lines, whole and in order) and one a 451; every recipient
# refused; VRFY relayed (HELP: aiosmtpd's 250 to it, not a code RFC 5321 allows, becomes
# the proxy's own 4xx, docs/smtp-proxy.1); RSET and NOOP; a message with the null sender after those on
# the same connection; a 600 KB message (over the proxy's 256 KiB body buffer, so its flow
# control pauses the client). Every call's outcome must be the same both ways, and aiosmtpd must
# get each proxied message with the same bytes, recipients and MAIL parameters (SIZE=,
# BODY=8BITMIME) as the direct one. Once a bug (issue #15, fixed), checked last: a VRFY right
# after the RSET that smtplib sends when every recipient was refused got the proxy's "451 Cannot
# relay the command now" (aiosmtpd's 252 directly) while the proxy's own RSET upstream waited
# for its reply (aiosmtpd answers RSET half a second late here, so that the check does not
# depend on timing); it now waits for that reply.
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/py_aiosmtpd.sh"
. "$INTEROP/proxy.sh"
need python3
echo "client: $(version_of python3) smtplib"
make_message
start_aiosmtpd \
    --rcpt-reply "$(printf 'multi@example.org=550-5.1.1 <multi@example.org>: no such user here,\n550 5.1.1 and this is the refusal'"'"'s second line')" \
    --rcpt-reply 'temp@example.org=451 4.3.0 <temp@example.org>: try again later' \
    --rset-delay 0.5
start_proxy --upstream "127.0.0.1:$port"
timeout 120 python3 "$INTEROP/py_proxy_smtplib.py" "$port" "$pport" "$T/aio" "$T/msg" \
    >"$T/client.out" 2>"$T/client.log"
rc=$?
cat "$T/client.out"
# smtplib's transcript: the two-line reply came to it as two lines.
expect_in "$T/client.log" "reply: b'550-5.1.1 <multi@example.org>: no such user here,\\r\\n'"
[ $rc -eq 0 ] || fail "$(grep '^py_proxy_smtplib: ' "$T/client.out")"
stop_proxy
stop_peer
echo PASS
