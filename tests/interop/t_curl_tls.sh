#!/bin/sh
# SPDX-License-Identifier: MIT
# curl's SMTP client against smtp-sink with TLS (a certificate made now): --ssl-reqd over
# STARTTLS with --cacert, AUTH CRAM-MD5 (curl's choice), PLAIN and LOGIN (--login-options), a
# wrong password, a certificate that does not verify; smtps:// (implicit TLS, RFC 8314).
# Stored messages are compared byte for byte (py_sink_check.py).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need curl python3
echo "peer: $(version_of curl)"
make_cert
make_message
printf 'alice:s3cret\n' >"$T/users"

# cu EXPECTED_STATUS SCHEME [CURL OPTIONS...]: curl -v to SCHEME://localhost:$port/curl.example.
cu() {
    expect=$1
    url="$2://localhost:$port/curl.example"
    shift 2
    curl -sS -v --max-time 20 "$url" --mail-from a@example.org --mail-rcpt b@example.org \
        --upload-file "$T/msg" "$@" >"$T/curl.out" 2>"$T/curl.log"
    rc=$?
    [ $rc -eq "$expect" ] || fail "curl $url $* exited $rc, expected $expect"
}

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --auth-file "$T/users"
cu 0 smtp --ssl-reqd --cacert "$T/pki/ca.pem"
expect_in "$T/curl.log" "> STARTTLS"
expect_msg "$T/msg" '{"tls":true,"auth":null}'
# No mechanism named: curl picks the strongest it has that smtp-sink offers, CRAM-MD5 (RFC
# 2195, checked by the server engine; curl has no SCRAM).
cu 0 smtp --ssl-reqd --cacert "$T/pki/ca.pem" --user alice:s3cret
expect_in "$T/curl.log" "> AUTH CRAM-MD5"
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
cu 0 smtp --ssl-reqd --cacert "$T/pki/ca.pem" --user alice:s3cret --login-options AUTH=PLAIN
expect_in "$T/curl.log" "> AUTH PLAIN"
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
cu 0 smtp --ssl-reqd --cacert "$T/pki/ca.pem" --user alice:s3cret --login-options AUTH=LOGIN
expect_in "$T/curl.log" "> AUTH LOGIN"
expect_msg "$T/msg" '{"tls":true,"auth":"alice"}'
# A wrong password: 535 5.7.8, curl exits 67 (CURLE_LOGIN_DENIED).
cu 67 smtp --ssl-reqd --cacert "$T/pki/ca.pem" --user alice:wrong
expect_in "$T/curl.log" "< 535 5.7.8"
# Another CA (made the same way, so with the same name) than the one that signed the
# certificate: the handshake fails, 35 (CURLE_SSL_CONNECT_ERROR: OpenSSL finds the issuer by
# name, then its signature does not verify) or 60 (CURLE_PEER_FAILED_VERIFICATION).
make_other_ca
curl -sS --max-time 20 "smtp://localhost:$port/curl.example" --ssl-reqd \
    --cacert "$T/other/ca.pem" --mail-from a@example.org --mail-rcpt b@example.org \
    --upload-file "$T/msg" >"$T/curl.out" 2>"$T/curl.log"
rc=$?
[ $rc -eq 35 ] || [ $rc -eq 60 ] || fail "curl with another CA exited $rc, expected 35 or 60"
check_sink

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --implicit-tls
cu 0 smtps --cacert "$T/pki/ca.pem"
expect_msg "$T/msg" '{"tls":true}'
check_sink
echo PASS
