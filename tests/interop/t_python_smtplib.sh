#!/bin/sh
# SPDX-License-Identifier: MIT
# Python's smtplib against smtp-sink: sendmail (bytes, and a str with bare LF line ends),
# send_message (Bcc in the envelope only), SMTPUTF8 addresses, a deferred fourth recipient,
# SIZE over the limit, NOOP, RSET and the null sender on one connection; then smtplib.LMTP
# against smtp-sink --lmtp. The stored messages are compared byte for byte (py_sink_check.py).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need python3
echo "peer: $(version_of python3) smtplib"
make_message
start_sink --maildir "$T/md" --max-recipients 3 --max-size 5000
python3 "$INTEROP/py_smtplib_client.py" plain "$port" "$T/exp" "$T/msg" >"$T/client.out" \
    2>"$T/client.log" || fail "smtplib (SMTP)"
check_sink
# smtplib writes its verbs in lower case (RFC 5321 2.4: commands are case-insensitive).
expect_in "$T/client.log" "send: 'mail FROM:<a@example.org> size="
expect_in "$T/client.log" "SMTPUTF8 BODY=8BITMIME"

start_sink --maildir "$T/md" --lmtp
python3 "$INTEROP/py_smtplib_client.py" lmtp "$port" "$T/exp" "$T/msg" >"$T/client.out" \
    2>"$T/client.log" || fail "smtplib (LMTP)"
check_sink
expect_in "$T/client.log" "send: 'lhlo smtplib.example"
echo PASS
