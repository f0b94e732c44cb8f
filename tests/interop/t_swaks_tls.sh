#!/bin/sh
# SPDX-License-Identifier: MIT
# swaks against smtp-sink with TLS (a certificate made now, verified with its CA): STARTTLS
# with AUTH PLAIN, LOGIN and CRAM-MD5, pipelined, a mechanism not offered, a wrong password, AUTH not
# offered before TLS; implicit TLS (--tls-on-connect, RFC 8314). Stored messages compared
# byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need swaks python3
# swaks speaks TLS through Net::SSLeay (Debian: libnet-ssleay-perl, only recommended by swaks).
if ! perl -MNet::SSLeay -e 1 2>/dev/null; then
    [ -n "${CI:-}" ] && fail "swaks has no TLS: libnet-ssleay-perl is missing"
    skip "swaks has no TLS: install libnet-ssleay-perl"
fi
echo "peer: $(version_of swaks)"
make_cert
make_message
cp "$T/msg" "$T/msg.swaks" # swaks adds an empty line after --data (see t_swaks.sh)
printf '\r\n' >>"$T/msg.swaks"
printf 'alice:s3cret\nbob:pw\n' >"$T/users"

sw() {
    expect=$1
    shift
    swaks --server "localhost:$port" --helo swaks.example --from a@example.org --timeout 20 \
        --tls-verify --tls-ca-path "$T/pki/ca.pem" --to b@example.org --data "@$T/msg" "$@" \
        </dev/null >"$T/swaks.log" 2>&1
    rc=$?
    [ $rc -eq "$expect" ] || fail "swaks $* exited $rc, expected $expect"
}

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --auth-file "$T/users"
sw 0 --tls --auth PLAIN --auth-user alice --auth-password s3cret
expect_in "$T/swaks.log" "=== TLS started"
expect_in "$T/swaks.log" "<~  235 2.7.0"
expect_msg "$T/msg.swaks" '{"tls":true,"auth":"alice"}'
sw 0 --tls --auth LOGIN --auth-user bob --auth-password pw --pipeline
expect_in "$T/swaks.log" "~> AUTH LOGIN"
expect_msg "$T/msg.swaks" '{"tls":true,"auth":"bob"}'
sw 0 --tls
expect_msg "$T/msg.swaks" '{"tls":true,"auth":null}'
# CRAM-MD5 (RFC 2195), checked by the server engine: swaks needs Digest::HMAC_MD5 for it.
if perl -MDigest::HMAC_MD5 -e 1 2>/dev/null; then
    sw 0 --tls --auth CRAM-MD5 --auth-user alice --auth-password s3cret
    expect_in "$T/swaks.log" "~> AUTH CRAM-MD5"
    expect_msg "$T/msg.swaks" '{"tls":true,"auth":"alice"}'
else
    [ -n "${CI:-}" ] && fail "swaks has no CRAM-MD5: libdigest-hmac-perl is missing"
fi
# CRAM-SHA1 is not offered (28); a wrong password: 535 5.7.8 (28); no AUTH before TLS (28).
sw 28 --tls --auth CRAM-SHA1 --auth-user alice --auth-password s3cret
sw 28 --tls --auth PLAIN --auth-user alice --auth-password wrong
expect_in "$T/swaks.log" "<~* 535 5.7.8"
sw 28 --auth PLAIN --auth-user alice --auth-password s3cret
check_sink

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --implicit-tls
sw 0 --tls-on-connect --pipeline
expect_in "$T/swaks.log" "=== TLS started"
expect_msg "$T/msg.swaks" '{"tls":true}'
check_sink
echo PASS
