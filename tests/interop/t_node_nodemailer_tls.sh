#!/bin/sh
# SPDX-License-Identifier: MIT
# nodemailer's SMTP client (npm) against smtp-sink with TLS (a certificate made now, its CA
# given as tls.ca): STARTTLS required (requireTLS) without and with AUTH (authMethod PLAIN and
# LOGIN), a wrong password (EAUTH, 535), another CA (the handshake fails, nothing sent);
# implicit TLS (secure: true, RFC 8314). Stored messages compared byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need_node
need python3
echo "peer: nodemailer $(version_of nodemailer), node $(node --version)"
make_cert
make_other_ca
make_message
printf 'alice:s3cret\n' >"$T/users"
runs=0

# nm TRANSPORT_OPTIONS STORED: one message to b@example.org; STORED is null or the JSON keys
# the sink's line must have. Results in $T/nm.out, transcript in $T/nm.log.
nm() {
    runs=$((runs + 1))
    cat >"$T/nm$runs.json" <<JSON
{"transport": {"host": "localhost", "port": $port, "name": "nodemailer.example", $1},
 "expectDir": "$T/exp", "expectFrom": $(find "$T/exp" -name "*.eml" | wc -l),
 "mails": [{"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org"]}},
            "rawFile": "$T/msg", "expectFile": "$T/msg", "stored": $2}]}
JSON
    node "$INTEROP/node/nodemailer_client.mjs" "$T/nm$runs.json" >"$T/nm.out" 2>"$T/nm.log" ||
        fail "nodemailer_client.mjs failed"
}

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --auth-file "$T/users"
ca="\"tls\": {\"caFile\": \"$T/pki/ca.pem\"}"
nm "\"requireTLS\": true, $ca" '{"tls": true, "auth": null}'
expect_in "$T/nm.log" "C: STARTTLS"
expect_in "$T/nm.out" '"accepted":["b@example.org"]'
nm "\"requireTLS\": true, $ca, \"auth\": {\"user\": \"alice\", \"pass\": \"s3cret\"}, \"authMethod\": \"PLAIN\"" \
    '{"tls": true, "auth": "alice"}'
expect_in "$T/nm.log" "C: AUTH PLAIN"
nm "\"requireTLS\": true, $ca, \"auth\": {\"user\": \"alice\", \"pass\": \"s3cret\"}, \"authMethod\": \"LOGIN\"" \
    '{"tls": true, "auth": "alice"}'
expect_in "$T/nm.log" "C: AUTH LOGIN"
expect_in "$T/nm.out" '"accepted":["b@example.org"]'
nm "\"requireTLS\": true, $ca, \"auth\": {\"user\": \"alice\", \"pass\": \"wrong\"}" null
expect_in "$T/nm.out" '"error":"EAUTH","responseCode":535'
nm "\"requireTLS\": true, \"tls\": {\"caFile\": \"$T/other/ca.pem\"}" null
expect_in "$T/nm.out" '"error":"ESOCKET"'
expect_in "$T/nm.log" "certificate"
check_sink

start_sink --maildir "$T/md" --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" \
    --implicit-tls
nm "\"secure\": true, $ca" '{"tls": true}'
expect_in "$T/nm.out" '"accepted":["b@example.org"]'
check_sink
echo PASS
