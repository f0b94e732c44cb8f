#!/bin/sh
# SPDX-License-Identifier: MIT
# Postfix's smtp client relaying to our smtp-sink: a private Postfix instance (postfix.sh) takes
# messages from its sendmail command and from its smtpd (smtp-send), and delivers them over SMTP
# to smtp-sink on 127.0.0.1, which stores each in a Maildir and prints a JSON line. The stored
# file must be the message that was injected, byte for byte, once the one header field Postfix
# adds at the top is removed: its Received trace field (RFC 5321 4.4), from pickup(8) for
# sendmail, from smtpd(8) for SMTP. Postfix's client talks to a sink that enforces RFC 2920's
# synchronization points (--pipelining-strict).
# Routes (transport_maps by recipient domain): relay.example goes to relayhost [127.0.0.1]:port
# in clear text; with TLS (a build with mbedTLS), tls.example goes there with
# smtp_tls_security_level = encrypt and secure.example with "secure" (the certificate verified
# against our CA, the name localhost matched as the nexthop, RFC 6125).
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/postfix.sh"

tls=no
[ "$MKCERT" != none ] && tls=yes
if [ $tls = yes ]; then
    make_cert
    start_sink --maildir "$T/md" --hostname sink.test --pipelining-strict \
        --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem"
else
    echo "built without mbedTLS: the clear-text relay only"
    start_sink --maildir "$T/md" --hostname sink.test --pipelining-strict
fi
pf_init
pf_set "relayhost = [127.0.0.1]:$port" "smtp_tls_security_level = none"
if [ $tls = yes ]; then
    o="-o smtp_tls_loglevel=1 -o smtp_tls_security_level"
    pf_service "encrypt unix - - n - - smtp $o=encrypt"
    pf_service "secure unix - - n - - smtp $o=secure -o smtp_tls_CAfile=$T/pki/ca.pem"
    printf 'tls.example encrypt:[127.0.0.1]:%s\nsecure.example secure:[localhost]:%s\n' \
        "$port" "$port" >"$PF_CONF/transport"
    pf_set "transport_maps = texthash:$PF_CONF/transport"
fi
pf_start

# json_lines N: waits (bounded, 20 s) until Postfix's queue is empty and the sink printed N lines.
json_lines() {
    pf_queue_empty
    i=0
    while [ "$(wc -l <"$T/sink.out")" -lt "$1" ] && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    n=$(wc -l <"$T/sink.out")
    [ "$n" -eq "$1" ] || fail "smtp-sink printed $n lines, expected $1"
}

# stored N MESSAGE HEADER: N files in the sink's Maildir; each is MESSAGE after its first header
# field, a Received holding HEADER (fixed string), is removed. The files are removed afterwards.
stored() {
    n=$(pf_count "$T/md/new")
    [ "$n" -eq "$1" ] || fail "the Maildir holds $n messages, expected $1"
    for f in "$T/md/new"/*; do
        [ -f "$f" ] || continue
        pf_strip "$f" "$T/got" crlf Received
        cmp "$2" "$T/got" || fail "$f: the message differs from what was injected"
        expect_in "$T/got.hdr" "$3"
        rm -f "$f"
    done
    : >"$T/sink.out"
}

# relay DOMAIN TLS: a message from Postfix's sendmail to two recipients of DOMAIN (one
# transaction, one stored copy), then one from smtp-send through Postfix's smtpd, each checked.
relay() {
    pf_message "$T/msg-$1" 8bit a@example.org "b@$1"
    timeout 30 sendmail -C "$PF_CONF" -i -f a@example.org "b@$1" "c@$1" <"$T/msg-$1" ||
        fail "Postfix's sendmail failed"
    json_lines 1
    expect_in "$T/sink.out" "{\"from\":\"a@example.org\",\"to\":[\"b@$1\",\"c@$1\"],\"size\":"
    expect_in "$T/sink.out" "\"helo\":\"postfix.test\",\"tls\":$2,\"auth\":null,"
    # pickup(8)'s trace field: "Received: by postfix.test (Postfix, from userid 0)" and the id.
    stored 1 "$T/msg-$1" "Received: by postfix.test (Postfix, from userid 0)"
    "$BIN/smtp-send" --timeout 30 --server "127.0.0.1:$pf_port" --helo client.example \
        --from a@example.org --to "b@$1" --data "$T/msg-$1" >"$T/send.out" 2>"$T/send.err" ||
        fail "smtp-send to Postfix"
    json_lines 1
    expect_in "$T/sink.out" "\"tls\":$2,"
    stored 1 "$T/msg-$1" "by postfix.test (Postfix) with ESMTP id "
}

relay relay.example false
if [ $tls = yes ]; then
    relay tls.example true
    relay secure.example true
    expect_in "$T/postfix.log" "Verified TLS connection established to localhost[127.0.0.1]:$port"
    expect_in "$T/postfix.log" "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:$port"
fi

# Many messages: 40 through Postfix's smtpd in one session, relayed over the connections its
# smtp client opens and reuses (its connection cache); every one stored, every one identical.
"$BIN/smtp-send" --timeout 30 --server "127.0.0.1:$pf_port" --helo client.example \
    --from a@example.org --to b@relay.example --data "$T/msg-relay.example" --count 40 \
    >"$T/send.out" 2>"$T/send.err" || fail "smtp-send --count 40 to Postfix"
json_lines 40
stored 40 "$T/msg-relay.example" "by postfix.test (Postfix) with ESMTP id "

pf_stop
stop_sink
grep -q 'synchronization' "$T/sink.err" && fail "smtp-sink saw a pipelining synchronization error"
echo "PASS (postfix $(version_of postfix), TLS: $tls)"
