# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
# Sourced by tests/install.sh and tests/deb.sh: the consumers of an installed libsmtp
# (tests/install/consumer.c) and the installed programs exchange messages over 127.0.0.1.
# The caller defines fail MESSAGE and step MESSAGE, and sets $tmp (its temporary directory) and
# $pids (the PIDs its exit trap kills; the functions add theirs). Every wait is bounded.
#
#   make_pki MKCERT             certificates for "localhost" in $tmp/pki (tests/e2e/mkcert.c)
#   start_sink SMTP_SINK [TLS]  smtp-sink on 127.0.0.1, a port the kernel chooses ($port), with
#                               STARTTLS when TLS is 1 (after make_pki); its PID in $sink
#   send NAME BINARY TLS [ENV...]
#                               the consumer BINARY sends one message to the sink (STARTTLS with
#                               smtp_tls_client_run when TLS is 1); smtp-sink's JSON line checked
#   receive NAME BINARY SMTP_SEND [ENV...]
#                               the consumer BINARY receives one message from SMTP_SEND
#   stop_sink                   stops smtp-sink

# wait_line FILE SED PID: prints what SED finds in FILE once it is there (within 20 s), while
# PID runs.
wait_line() {
    i=0
    while [ $i -lt 400 ]; do
        v=$(sed -n "$2" "$1" 2>/dev/null || true)
        [ -n "$v" ] && { echo "$v"; return 0; }
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

make_pki() {
    [ -x "$1" ] || fail "no certificate maker ($1)"
    mkdir -p "$tmp/pki"
    "$1" "$tmp/pki" >"$tmp/mkcert.log" 2>&1 || fail "mkcert failed"
}

sent=0
start_sink() {
    sink_tls=${2:-0}
    if [ "$sink_tls" = 1 ]; then
        [ -f "$tmp/pki/cert.pem" ] || fail "start_sink with TLS before make_pki"
        set -- "$1" --tls-cert "$tmp/pki/cert.pem" --tls-key "$tmp/pki/key.pem"
    else
        set -- "$1"
    fi
    "$@" --listen 127.0.0.1:0 --discard --hostname sink.example >"$tmp/sink.out" 2>"$tmp/sink.log" &
    sink=$!
    pids="$pids $sink"
    sent=0
    port=$(wait_line "$tmp/sink.log" \
        's/^smtp-sink: listening on 127\.0\.0\.1 port \([0-9][0-9]*\)$/\1/p' "$sink") ||
        fail "$1 did not start"
}

# send NAME BINARY TLS [ENV...]: to "localhost" (the name of the test certificate, with its CA)
# over TLS, else to 127.0.0.1; smtp-sink must print its line for the message.
send() {
    name=$1 bin=$2 use_tls=$3
    shift 3
    if [ "$use_tls" = 1 ]; then
        [ "$sink_tls" = 1 ] || fail "send $name over TLS to a sink without TLS"
        set -- "$@" "$bin" send localhost "$port" "$tmp/pki/ca.pem"
    else
        set -- "$@" "$bin" send 127.0.0.1 "$port"
    fi
    env "$@" >"$tmp/$name.out" 2>"$tmp/$name-run.log" || fail "$name could not send"
    grep -q '^consumer: DELIVERED 250, [0-9]* octets$' "$tmp/$name.out" || fail "$name: no delivery"
    sent=$((sent + 1))
    wait_line "$tmp/sink.out" "${sent}p" "$sink" >"$tmp/sink.line" ||
        fail "smtp-sink did not print line $sent"
    octets=$(sed -n 's/^consumer: DELIVERED 250, \([0-9]*\) octets$/\1/p' "$tmp/$name.out")
    grep -q '"from":"consumer@example.org"' "$tmp/sink.line" || fail "$name: wrong sender"
    grep -q '"to":\["sink@example.org"\]' "$tmp/sink.line" || fail "$name: wrong recipient"
    grep -q "\"size\":$octets," "$tmp/sink.line" || fail "$name: smtp-sink got another size"
    if [ "$use_tls" = 1 ]; then
        grep -q '"tls":true' "$tmp/sink.line" || fail "$name: the message did not come over TLS"
        via="STARTTLS, smtp_tls_client_run"
    else
        grep -q '"tls":false' "$tmp/sink.line" || fail "$name: TLS unexpected"
        via="smtp_io_client_run"
    fi
    step "$name: one message ($octets octets, $via) accepted by smtp-sink"
}

# receive NAME BINARY SMTP_SEND [ENV...]: the consumer listens on 127.0.0.1 (a port the kernel
# chooses), SMTP_SEND sends it a message, and the consumer must report its size and stop.
receive() {
    name=$1 bin=$2 smtp_send=$3
    shift 3
    env "$@" "$bin" receive >"$tmp/$name-receive.out" 2>"$tmp/$name-receive.log" &
    recv=$!
    pids="$pids $recv"
    rport=$(wait_line "$tmp/$name-receive.log" \
        's/^consumer: listening on 127\.0\.0\.1 port \([0-9][0-9]*\)$/\1/p' "$recv") ||
        fail "the receiving consumer ($name) did not start"
    printf 'Subject: to a consumer\r\n\r\nfrom the installed smtp-send\r\n' >"$tmp/message.eml"
    "$smtp_send" --server "127.0.0.1:$rport" --helo send.example --from a@example.org \
        --to b@example.org --data "$tmp/message.eml" >"$tmp/smtp-send.log" 2>&1 ||
        fail "$smtp_send could not send to the consumer ($name)"
    i=0
    while kill -0 "$recv" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    kill -0 "$recv" 2>/dev/null && fail "the receiving consumer ($name) did not stop"
    wait "$recv" || fail "the receiving consumer ($name) failed"
    size=$(wc -c <"$tmp/message.eml" | tr -d ' ')
    grep -q "^consumer: received $size octets$" "$tmp/$name-receive.out" ||
        fail "$name did not receive the $size octets: $(cat "$tmp/$name-receive.out")"
    step "$name: received one message ($size octets) from $smtp_send"
}

stop_sink() {
    kill "$sink"
    wait "$sink" 2>/dev/null || true
}
