#!/bin/sh
# SPDX-License-Identifier: MIT
# Python's smtplib against smtp-sink with STARTTLS (a certificate made now, verified with its
# CA) and --auth-file: no AUTH before TLS, login (PLAIN), AUTH LOGIN with and without an
# initial response, a wrong password (535). Stored messages compared byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need python3
echo "peer: $(version_of python3) smtplib"
make_cert
make_message
printf 'alice:pw\n' >"$T/users"
start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --auth-file "$T/users"
python3 "$INTEROP/py_smtplib_client.py" tls "$port" "$T/exp" "$T/msg" "$T/pki/ca.pem" \
    >"$T/client.out" 2>"$T/client.log" || fail "smtplib (STARTTLS)"
check_sink
expect_in "$T/client.log" "send: 'AUTH PLAIN "
expect_in "$T/client.log" "send: 'AUTH LOGIN YWxpY2U=\\r\\n'"
expect_in "$T/client.log" "reply: retcode (535)"
echo PASS
