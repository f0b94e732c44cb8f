#!/bin/sh
# SPDX-License-Identifier: MIT
# msmtp (GnuTLS) against smtp-sink with TLS (a certificate made now, msmtp's tls_trust_file
# its CA): tls_starttls with auth on (msmtp's choice), plain and login, a wrong password, a
# certificate from another CA; implicit TLS (tls_starttls off, RFC 8314). Stored messages
# compared byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need msmtp python3
echo "peer: $(version_of msmtp)"
make_cert
make_other_ca
make_message
printf 'alice:s3cret\n' >"$T/users"

# rc_file PORT: accounts for STARTTLS with each auth setting, a wrong password, another CA.
rc_file() {
    cat >"$T/msmtprc" <<CONF
defaults
host localhost
port $1
domain msmtp.example
timeout 20
from a@example.org
tls on
tls_starttls on
tls_trust_file $T/pki/ca.pem
set_from_header off
set_date_header off
set_msgid_header off
user alice
password s3cret
account noauth
auth off
account auto
auth on
account plain
auth plain
account login
auth login
account wrong : plain
password wrong
account otherca
auth off
tls_trust_file $T/other/ca.pem
account implicit
auth off
tls_starttls off
CONF
    chmod 600 "$T/msmtprc"
}

ms() { # EXPECTED_STATUS ACCOUNT: the message to b@example.org
    msmtp -C "$T/msmtprc" --debug -a "$2" b@example.org <"$T/msg" >"$T/msmtp.log" 2>&1
    rc=$?
    [ $rc -eq "$1" ] || fail "msmtp -a $2 exited $rc, expected $1"
}

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --auth-file "$T/users"
rc_file "$port"
ms 0 noauth
expect_in "$T/msmtp.log" "--> STARTTLS"
expect_msg "$T/msg" '{"tls":true,"auth":null}'
ms 0 auto
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
ms 0 plain
expect_in "$T/msmtp.log" "--> AUTH PLAIN"
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
ms 0 login
expect_in "$T/msmtp.log" "--> AUTH LOGIN"
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
# A wrong password: 535 5.7.8; msmtp exits 77 (EX_NOPERM).
ms 77 wrong
expect_in "$T/msmtp.log" "<-- 535 5.7.8"
# A certificate the trusted CA did not sign: msmtp ends the session (EX_UNAVAILABLE, 69).
ms 69 otherca
expect_in "$T/msmtp.log" "TLS certificate verification failed"
check_sink

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --implicit-tls
rc_file "$port"
ms 0 implicit
expect_msg "$T/msg" '{"tls":true}'
check_sink
echo PASS
