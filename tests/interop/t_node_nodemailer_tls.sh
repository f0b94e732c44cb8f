#!/bin/sh
# nodemailer's SMTP client (npm) against smtp-sink with TLS (a certificate made now, its CA
# given as tls.ca): STARTTLS required (requireTLS) without and with AUTH (authMethod PLAIN and
# LOGIN), a wrong password (EAUTH, 535), another CA (the handshake fails, nothing sent);
# implicit TLS (secure: true, RFC 8314). Stored messages compared byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
need_node
need python3
echo "peer: nodemailer $(version_of nodemailer), node $(node --version)"
make_cert
mkdir -p "$T/other"
"$MKCERT" "$T/other" || fail "mkcert failed"
python3 "$INTEROP/py_message.py" "$T/msg" || fail "py_message.py"
printf 'alice:s3cret\n' >"$T/users"
mkdir -p "$T/exp"

runs=0
stored=0

# nm TRANSPORT_OPTIONS STORED: one message to b@example.org; STORED is null or the JSON keys
# the sink's line must have. Results in $T/nm.out, transcript in $T/nm.log.
nm() {
    n=$((runs + 1))
    cat >"$T/nm$n.json" <<JSON
{"transport": {"host": "localhost", "port": $port, "name": "nodemailer.example", $1},
 "expectDir": "$T/exp", "expectFrom": $stored,
 "mails": [{"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org"]}},
            "rawFile": "$T/msg", "expectFile": "$T/msg", "stored": $2}]}
JSON
    node "$INTEROP/node/nodemailer_client.mjs" "$T/nm$n.json" >"$T/nm.out" 2>"$T/nm.log" ||
        fail "nodemailer_client.mjs failed"
    runs=$n
    [ "$2" = null ] || stored=$((stored + 1))
}

check_sink() {
    stop_sink
    python3 "$INTEROP/py_sink_check.py" "$T/sink.out" "$T/exp" >"$T/check.out" ||
        fail "$(cat "$T/check.out")"
    rm -rf "$T/exp" "$T/md"
    mkdir -p "$T/exp"
    stored=0
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
