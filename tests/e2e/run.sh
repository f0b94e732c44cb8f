#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end tests: smtp-send and a raw client against smtp-sink over 127.0.0.1 only.
# Usage: run.sh CASE BINDIR RAWSMTP [MKCERT]
#   CASE    one of the functions named case_* below
#   BINDIR  where smtp-send and smtp-sink are
#   RAWSMTP the raw client (tests/e2e/rawsmtp.c)
#   MKCERT  makes the TLS cases' certificates (tests/e2e/mkcert.c; builds with mbedTLS)
# SMTP_E2E_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs both programs under a tool.
# smtp-sink listens on a port the kernel chooses (--listen 127.0.0.1:0) and is stopped by its
# PID; every wait is bounded. Exit 0: pass, 1: fail, 77: skipped.
set -u
case_name=$1
bin=$2
raw=$3
mkcert=${4:-none}
W=${SMTP_E2E_WRAPPER:-}
unset SMTP_PASSWORD # smtp-send --auth-user takes its password from there
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-e2e.XXXXXX")
. "$(dirname "$0")/sink.sh"


# A message with CRLF line ends, lines that need dot-stuffing, 8-bit bytes, a tab, an empty
# line and a long line: what the Maildir holds must be the same bytes.
make_message() {
    printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: e2e\r\n\r\n' >"$tmp/msg"
    printf '.\r\n..\r\n.leading dot\r\n\r\ncaf\303\251 \377\t end\r\n' >>"$tmp/msg"
    i=0
    while [ $i -lt 90 ]; do printf 'long-line-' >>"$tmp/msg"; i=$((i + 1)); done
    printf '\r\n. \r\nlast line\r\n' >>"$tmp/msg"
}

the_file() { # the only message of the Maildir
    [ "$(count_new)" -eq 1 ] || fail "expected 1 message in new/, found $(count_new)"
    echo "$tmp/md/new/$(ls "$tmp/md/new")"
}

case_plain() {
    make_message
    start_sink --maildir "$tmp/md"
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/send.out" "b@example.org: delivered: 250"
    cmp "$tmp/msg" "$(the_file)" || fail "stored message differs"
    [ -z "$(ls "$tmp/md/tmp")" ] || fail "tmp/ not empty"
    stop_sink
}

case_bytes() {
    make_message
    start_sink --maildir "$tmp/md"
    # BDAT (the default: the sink offers CHUNKING), DATA, DATA without pipelining, stdin.
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg"
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --no-chunking
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --no-chunking \
        --no-pipelining
    $W "$bin/smtp-send" --server "127.0.0.1:$port" --from a@example.org --to b@example.org \
        <"$tmp/msg" >"$tmp/send.out" 2>"$tmp/send.err" || fail "send from stdin"
    [ "$(count_new)" -eq 4 ] || fail "expected 4 messages"
    for f in "$tmp/md/new"/*; do cmp "$tmp/msg" "$f" || fail "$f differs"; done
    # A body without a final CRLF gets one (RFC 5321 4.1.1.4); nothing else changes.
    printf 'Subject: x\r\n\r\nno end' >"$tmp/short"
    rm -f "$tmp/md/new"/*
    send 0 --from a@example.org --to b@example.org --data "$tmp/short" --no-chunking
    printf 'Subject: x\r\n\r\nno end\r\n' >"$tmp/short.expected"
    cmp "$tmp/short.expected" "$(the_file)" || fail "final CRLF"
    stop_sink
}

case_recipients() {
    make_message
    start_sink --maildir "$tmp/md" --max-recipients 2
    send 75 --from a@example.org --to r1@example.org --to r2@example.org --to r3@example.org \
        --data "$tmp/msg"
    expect_in "$tmp/send.out" "r1@example.org: delivered: 250"
    expect_in "$tmp/send.out" "r2@example.org: delivered: 250"
    expect_in "$tmp/send.out" "r3@example.org: deferred: 452 4.5.3"
    expect_in "$tmp/sink.out" '"to":["r1@example.org","r2@example.org"]'
    cmp "$tmp/msg" "$(the_file)" || fail "stored message differs"
    stop_sink
    # --to takes a comma-separated list (blanks around the commas dropped); a comma inside a
    # quoted local part belongs to it; lists and repeated --to add up in order.
    start_sink --discard
    send 0 --from a@example.org --to 'r1@example.org, "x,y"@example.org' --to r3@example.org \
        --data "$tmp/msg"
    expect_in "$tmp/send.out" '"x,y"@example.org: delivered: 250'
    expect_in "$tmp/sink.out" '"to":["r1@example.org","\"x,y\"@example.org","r3@example.org"]'
    stop_sink
    # A bad element is named, with what is wrong and where; an empty one is refused.
    send 64 --from a@example.org --to 'r1@example.org,x y@example.org' --data "$tmp/msg"
    expect_in "$tmp/send.err" "--to 'x y@example.org': not a valid mailbox (RFC 5321 4.1.2): syntax error at octet 2"
    send 64 --from a@example.org --to 'r1@example.org,,r2@example.org' --data "$tmp/msg"
    expect_in "$tmp/send.err" "an empty address in the list"
    send 64 --from a@example.org --to 'r1@' --data "$tmp/msg"
    expect_in "$tmp/send.err" "--to 'r1@': not a valid mailbox (RFC 5321 4.1.2): syntax error at its end"
}

case_max_size() {
    make_message
    start_sink --maildir "$tmp/md" --max-size 100
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/send.out" "b@example.org: not sent: the message (1010 octets) is over the server's SIZE limit"
    # Without SIZE= the limit is found in the data (raw DATA): 552 5.3.4, nothing stored.
    {
        printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n'
        printf 'DATA\r\n'
        i=0
        while [ $i -lt 20 ]; do printf 'twenty lines of more than 100 octets\r\n'; i=$((i + 1)); done
        printf '.\r\nQUIT\r\n'
    } >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "552 5.3.4"
    expect_in "$tmp/raw.out" "221"
    [ "$(count_new)" -eq 0 ] || fail "a message over --max-size was stored"
    stop_sink
}

# RFC 1870: SIZE counts the octets as transmitted. A file of LF-terminated lines is sent with
# CRLF line ends: 7 lines of 21 octets + LF are 154 octets in the file, 161 on the wire.
case_size_crlf() {
    i=0
    : >"$tmp/lf"
    while [ $i -lt 7 ]; do printf 'twenty-one octets ...\n' >>"$tmp/lf"; i=$((i + 1)); done
    [ "$(wc -c <"$tmp/lf" | tr -d ' ')" -eq 154 ] || fail "the test's file is not 154 octets"
    start_sink --discard --max-size 160
    send 69 --from a@example.org --to b@example.org --data "$tmp/lf" -v
    expect_in "$tmp/send.out" "b@example.org: not sent: the message (161 octets) is over the server's SIZE limit"
    [ -s "$tmp/sink.out" ] && fail "a message over --max-size was accepted"
    stop_sink
    start_sink --discard --max-size 161
    send 0 --from a@example.org --to b@example.org --data "$tmp/lf" -v
    expect_in "$tmp/send.err" "MAIL FROM:<a@example.org> SIZE=161"
    expect_in "$tmp/sink.out" '"size":161,'
    # A last line without its line end: DATA adds the CRLF, and SIZE counts it.
    printf 'no line end' >"$tmp/noeol"
    send 0 --from a@example.org --to b@example.org --data "$tmp/noeol" -v --no-chunking
    expect_in "$tmp/send.err" "MAIL FROM:<a@example.org> SIZE=13"
    expect_in "$tmp/sink.out" '"size":13,'
    stop_sink
}

case_refused_connection() {
    start_sink --discard
    closed=$port
    stop_sink
    port=$closed
    printf 'x\r\n' >"$tmp/msg"
    # A refused connection is temporary (75), as a timeout is: an MTA would retry.
    send 75 --from a@example.org --to b@example.org --data "$tmp/msg" --timeout 5
    expect_in "$tmp/send.err" "refused"
    expect_in "$tmp/send.out" "b@example.org: not sent: socket error: Connection refused"
    # A name that does not exist (RFC 6761: .invalid never resolves): EX_NOHOST (68), or 75
    # where the machine has no resolver to ask (EAI_AGAIN), named either way.
    $W "$bin/smtp-send" --server nonexistent.invalid:25 --from a@example.org --to b@example.org \
        --data "$tmp/msg" --timeout 5 >"$tmp/send.out" 2>"$tmp/send.err"
    rc=$?
    [ $rc -eq 68 ] || [ $rc -eq 75 ] || fail "an unknown host exited $rc, expected 68 (or 75)"
    expect_in "$tmp/send.err" "nonexistent.invalid port 25: name resolution failed"
}

case_bad_options() {
    printf 'x\r\n' >"$tmp/msg"
    s="$bin/smtp-send"
    k="$bin/smtp-sink"
    for args in "--bogus" "--count 0" "--count 12x" "--count -1" "--sessions 1001" \
        "--server [::1" "--server [::1]x" "--server host:0" "--server host:65536" \
        "--server host:" "--server :25" "--timeout 0" "--to b@example.org" \
        "--from a@example.org" "--from <a@example.org> --to b@example.org" \
        "--from a@example.org --to bad@@example.org" "--from a@example.org --to b@example.org extra" \
        "--from a@example.org --to b@example.org --auth-user u" \
        "--from a@example.org --to b@example.org --auth-user u --auth-password p --auth-mech DIGEST-MD5" \
        "--from a@example.org --to b@example.org --helo bad_name!" \
        "--from a@example.org --to b@example.org --no-verify" \
        "--from a@example.org --to b@example.org --tls --starttls"; do
        # shellcheck disable=SC2086
        $W "$s" $args --data "$tmp/msg" >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
        rc=$?
        [ $rc -eq 64 ] || fail "smtp-send $args exited $rc, expected 64"
        grep -q "smtp-send" "$tmp/o.err" || fail "smtp-send $args: no message"
    done
    for args in "" "--discard --maildir $tmp/md" "--discard --bare-lf sometimes" \
        "--discard --listen 127.0.0.1:99999" "--discard --listen 127.0.0.1:x" \
        "--discard --max-recipients 0" "--discard --max-size 1k" "--discard --hostname a\ b" \
        "--discard --tls-cert /nonexistent" "--discard --auth-file /nonexistent" \
        "--discard extra" "--discard --allow-insecure-auth"; do
        # shellcheck disable=SC2086
        $W "$k" $args >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
        rc=$?
        [ $rc -eq 64 ] || fail "smtp-sink $args exited $rc, expected 64"
        grep -q "smtp-sink" "$tmp/o.err" || fail "smtp-sink $args: no message"
    done
    # --auth-file without TLS needs --allow-insecure-auth.
    printf 'u:p\n' >"$tmp/users"
    $W "$k" --discard --auth-file "$tmp/users" >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "--auth-file without TLS"
}

case_json() {
    make_message
    start_sink --maildir "$tmp/md" --hostname sink.test
    send 0 --from a@example.org --to b@example.org --to c@example.org --data "$tmp/msg" \
        --helo client.example
    size=$(wc -c <"$tmp/msg" | tr -d ' ')
    file=$(the_file)
    line=$(cat "$tmp/sink.out")
    expected="{\"from\":\"a@example.org\",\"to\":[\"b@example.org\",\"c@example.org\"],\"size\":$size,\"file\":\"$file\",\"helo\":\"client.example\",\"tls\":false,\"auth\":null}"
    # The keys added since (peer, time, conn, tls_*) follow, the line before them unchanged.
    case "$line" in
    "${expected%\}},\"peer\":\"127.0.0.1:"[1-9]*"\",\"time\":\"20"*"Z\",\"conn\":1,\"tls_version\":null,\"tls_cipher\":null,\"requiretls\":false}") ;;
    *) fail "JSON line: $line, expected $expected and the added keys" ;;
    esac
    # Null sender, and a HELO name that needs escaping (quote, backslash, 8-bit, invalid UTF-8).
    printf 'HELO x"y\\z\303\251\377\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' \
        >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "250 2.0.0"
    expect_in "$tmp/sink.out" '{"from":"","to":["b@example.org"],"size":4,'
    expect_in "$tmp/sink.out" '"helo":"x\"y\\z'"$(printf '\303\251')"'\u00ff","tls":false,"auth":null,'
    [ "$(wc -l <"$tmp/sink.out")" -eq 2 ] || fail "expected 2 JSON lines"
    stop_sink
}

# A HELO name over 255 octets (RFC 5321 4.5.3.1.2) is refused with 501, never cut; one of 255
# octets that ends in a two-octet UTF-8 sequence is reported whole in the JSON line.
case_long_helo() {
    start_sink --discard
    label=$(printf '%063d' 0 | tr 0 a)
    name255="$label.$label.$label.$(printf '%061d' 0 | tr 0 b)$(printf '\303\251')"
    [ "$(printf '%s' "$name255" | wc -c)" -eq 255 ] || fail "the test's name is not 255 octets"
    printf 'EHLO %s.%s\r\nEHLO %s\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' \
        "$label" "$name255" "$name255" >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "501 5.5.4 Syntax: EHLO <domain>"
    expect_in "$tmp/raw.out" "250 2.0.0"
    expect_in "$tmp/sink.out" "\"helo\":\"$name255\","
    [ "$(wc -l <"$tmp/sink.out")" -eq 1 ] || fail "expected 1 JSON line"
    stop_sink
}

case_discard() {
    make_message
    start_sink --discard
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/sink.out" '"file":null'
    size=$(wc -c <"$tmp/msg" | tr -d ' ')
    expect_in "$tmp/sink.out" "\"size\":$size,"
    stop_sink
}

case_lmtp() {
    make_message
    start_sink --maildir "$tmp/md" --lmtp
    send 0 --lmtp --from a@example.org --to b@example.org --to c@example.org --data "$tmp/msg"
    expect_in "$tmp/send.out" "b@example.org: delivered: 250"
    expect_in "$tmp/send.out" "c@example.org: delivered: 250"
    cmp "$tmp/msg" "$(the_file)" || fail "stored message differs"
    # SMTP to an LMTP server fails: EHLO is refused (RFC 2033 4.1).
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg"
    stop_sink
}

# A body with a bare LF sent as is (rawsmtp), under each --bare-lf policy.
case_bare_lf() {
    printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\none\ntwo\r\n.\r\nQUIT\r\n' \
        >"$tmp/raw"
    start_sink --maildir "$tmp/md"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "550 5.6.0"
    [ "$(count_new)" -eq 0 ] || fail "reject: a message was stored"
    stop_sink
    for policy in normalize allow; do
        rm -rf "$tmp/md"
        start_sink --maildir "$tmp/md" --bare-lf $policy
        "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
        expect_in "$tmp/raw.out" "250 2.0.0"
        if [ $policy = normalize ]; then
            printf 'one\r\ntwo\r\n' >"$tmp/expected"
        else
            printf 'one\ntwo\r\n' >"$tmp/expected"
        fi
        cmp "$tmp/expected" "$(the_file)" || fail "--bare-lf $policy: stored bytes differ"
        stop_sink
    done
}

case_load() {
    start_sink --maildir "$tmp/md"
    i=0
    : >"$tmp/msg"
    while [ $i -lt 20 ]; do printf 'line %d of the load test\r\n' $i >>"$tmp/msg"; i=$((i + 1)); done
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --count 50 --sessions 4
    expect_in "$tmp/send.out" "200 of 200 messages delivered over 4 connections"
    expect_in "$tmp/send.out" "messages/s"
    [ "$(count_new)" -eq 200 ] || fail "expected 200 messages, found $(count_new)"
    [ "$(wc -l <"$tmp/sink.out")" -eq 200 ] || fail "expected 200 JSON lines"
    # Every line names a different file, and each file is the message.
    [ "$(sed 's/.*"file":"\([^"]*\)".*/\1/' "$tmp/sink.out" | sort -u | wc -l)" -eq 200 ] ||
        fail "a file was reported twice"
    for f in "$tmp/md/new"/*; do cmp -s "$tmp/msg" "$f" || fail "$f differs"; done
    expect_in "$tmp/send.out" "summary: 200 delivered, 0 refused, 0 deferred, 0 not attempted; 200 attempted at"
    # Not on a terminal: no progress line.
    if grep -q "messages, .* failed" "$tmp/send.err"; then fail "a progress line without a terminal"; fi
    stop_sink
    # The summary accounts for every message: the 2nd refused, the 3rd deferred, the session
    # cut at the 5th (deferred), the 6th never tried; the worst status is the refusal's, 69.
    start_sink --discard --reply 'MAIL#2:550 5.7.1 not you' --reply 'MAIL#3:451 4.3.0 later' \
        --disconnect 'MAIL#5'
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --count 6
    expect_in "$tmp/send.out" "2 of 6 messages delivered over 1 connection"
    expect_in "$tmp/send.out" "1 messages not attempted"
    expect_in "$tmp/send.out" "summary: 2 delivered, 1 refused, 2 deferred, 1 not attempted; 5 attempted at"
    stop_sink
    # On a terminal (script(1) gives one), a progress line redrawn at most once a second as
    # messages end; its last state stays, on a line of its own, before the summary.
    start_sink --discard --delay 'DATA:600'
    script -q -e -c "'$bin/smtp-send' --server 127.0.0.1:$port --from a@example.org \
        --to b@example.org --data '$tmp/msg' --count 4" "$tmp/typescript" >/dev/null 2>&1 ||
        fail "smtp-send under script(1) failed"
    tr '\r' '\n' <"$tmp/typescript" >"$tmp/progress"
    expect_in "$tmp/progress" "4 of 4 messages, "
    grep -q "^[1-3] of 4 messages, [0-9.]* messages/s, 0 failed" "$tmp/progress" ||
        fail "no progress line before the end: $(cat "$tmp/progress")"
    expect_in "$tmp/progress" "summary: 4 delivered, 0 refused, 0 deferred, 0 not attempted"
    stop_sink
}

case_sigterm() {
    # An idle connection gets 421 and smtp-sink exits 0.
    start_sink --maildir "$tmp/md"
    printf 'EHLO raw.example\r\n' >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" &
    raw_pid=$!
    i=0
    until grep -q '^250 ' "$tmp/raw.out" 2>/dev/null; do
        [ $i -lt 200 ] || fail "no EHLO reply"
        sleep 0.05
        i=$((i + 1))
    done
    stop_sink TERM
    wait $raw_pid
    expect_in "$tmp/raw.out" "421 4.3.2"
    # An open transaction is finished first: the message is stored and acknowledged.
    start_sink --maildir "$tmp/md"
    printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nfirst half\r\n' \
        >"$tmp/raw1"
    printf 'second half\r\n.\r\nQUIT\r\n' >"$tmp/raw2"
    "$raw" "$port" "$tmp/raw1" "$tmp/go" "$tmp/raw2" >"$tmp/raw.out" &
    raw_pid=$!
    i=0
    until grep -q '^354 ' "$tmp/raw.out" 2>/dev/null; do
        [ $i -lt 200 ] || fail "no 354"
        sleep 0.05
        i=$((i + 1))
    done
    kill -INT "$sink_pid"
    sleep 0.3
    kill -0 "$sink_pid" 2>/dev/null || fail "smtp-sink did not wait for the open transaction"
    touch "$tmp/go"
    wait_sink
    wait $raw_pid
    expect_in "$tmp/raw.out" "250 2.0.0"
    printf 'first half\r\nsecond half\r\n' >"$tmp/expected"
    cmp "$tmp/expected" "$(the_file)" || fail "the finished message differs"
}

case_help() {
    for p in smtp-send smtp-sink; do
        $W "$bin/$p" --help >"$tmp/help.out" 2>&1 || fail "$p --help"
        expect_in "$tmp/help.out" "Usage: $p"
        $W "$bin/$p" --version >"$tmp/help.out" 2>&1 || fail "$p --version"
        expect_in "$tmp/help.out" "libsmtp"
    done
    $W "$bin/smtp-send" --help >"$tmp/help.out" 2>&1
    for opt in --dsn-ret --dsn-envid --dsn-notify --dsn-orcpt --dsn-required; do
        expect_in "$tmp/help.out" "$opt"
    done
}

case_strict_pipelining() {
    printf 'EHLO raw.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' \
        >"$tmp/raw"
    start_sink --discard --pipelining-strict
    # Everything at once, before the greeting: a synchronization error.
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "554 5.5.0"
    [ -s "$tmp/sink.out" ] && fail "a message was accepted"
    # smtp-send waits where it must: accepted.
    printf 'x\r\n' >"$tmp/msg"
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg"
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --no-pipelining
    stop_sink
    # A client that talks while it waits in the listen queue: its bytes are already there when
    # its greeting is decided, so it did not wait for it (554), even though the greeting is
    # the first thing the sink writes on that connection.
    start_sink --discard --pipelining-strict --max-connections 1
    : >"$tmp/hold"
    printf 'QUIT\r\n' >"$tmp/quit"
    "$raw" "$port" "$tmp/hold" "$tmp/go" "$tmp/quit" >"$tmp/first.out" &
    first_pid=$!
    wait_for "$tmp/first.out" '^220 '
    printf 'EHLO early.example\r\n' >"$tmp/early"
    "$raw" "$port" "$tmp/early" >"$tmp/early.out" &
    early_pid=$!
    sleep 0.5 # the early client is in the listen queue, its EHLO waiting in its socket
    [ -s "$tmp/early.out" ] && fail "the queued client was served while the slot was taken"
    touch "$tmp/go"
    wait $first_pid
    wait $early_pid
    expect_in "$tmp/early.out" "554 5.5.0"
    grep -q '^250' "$tmp/early.out" && fail "the early EHLO was answered: $(cat "$tmp/early.out")"
    stop_sink
}

# serve_script SCRIPT: a scripted server (rawsmtp --serve) playing SCRIPT (printf format) for
# one connection, in the background ($server_pid); sets $port.
serve_script() {
    printf "$1" >"$tmp/script"
    rm -f "$tmp/port"
    "$raw" --serve "$tmp/port" "$tmp/script" >"$tmp/server.out" &
    server_pid=$!
    i=0
    until [ -s "$tmp/port" ]; do
        [ $i -lt 200 ] || fail "rawsmtp --serve did not listen"
        sleep 0.05
        i=$((i + 1))
    done
    port=$(cat "$tmp/port")
}

# broken_server SCRIPT STATUS [OPTIONS...]: smtp-send (from a@, to b@, $tmp/msg, and OPTIONS)
# against a scripted server; STATUS is the exit status expected.
broken_server() {
    serve_script "$1"
    expect=$2
    shift 2
    send "$expect" --from a@example.org --to b@example.org --data "$tmp/msg" --timeout 10 "$@"
    wait $server_pid
}

# IDNA: U-labels to a server without SMTPUTF8 (rawsmtp --serve offers nothing). With libidn2
# (smtp-send --version says "IDNA: yes") EHLO, MAIL and RCPT carry the A-label forms and no
# SMTPUTF8, and the recipient's line names the address as given; a UTF-8 local part still needs
# SMTPUTF8 (not sent: 69), a --helo without an A-label form is refused (64). Without libidn2 the
# message is not sent (69) and a UTF-8 --helo is refused (64).
case_idna() {
    printf 'Subject: idna\r\n\r\nx\r\n' >"$tmp/msg"
    u=$(printf 'b\303\274cher.example')   # bücher.example
    m=$(printf 'm\303\274nchen.example')  # münchen.example
    if $W "$bin/smtp-send" --version | grep -q '^IDNA: yes'; then
        serve_script '220 hi\r\n250 hi\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n'
        send 0 --from "a@$m" --to "info@$u" --helo "client.$u" --data "$tmp/msg" \
            --no-pipelining --timeout 10
        wait $server_pid
        expect_in "$tmp/server.out" "EHLO client.xn--bcher-kva.example"
        expect_in "$tmp/server.out" "MAIL FROM:<a@xn--mnchen-3ya.example>"
        expect_in "$tmp/server.out" "RCPT TO:<info@xn--bcher-kva.example>"
        expect_not_in "$tmp/server.out" "SMTPUTF8"
        expect_in "$tmp/send.out" "info@$u: delivered: 250 queued"
        serve_script '220 hi\r\n250 hi\r\n221 bye\r\n'
        send 69 --from a@example.org --to "j$(printf '\303\266')rg@$u" --data "$tmp/msg" --timeout 10
        wait $server_pid
        expect_in "$tmp/send.out" "not sent: the server does not offer SMTPUTF8"
        expect_not_in "$tmp/server.out" "MAIL FROM"
        send 64 --from a@example.org --to b@example.org --helo "$(printf '\342\230\203').example" \
            --data "$tmp/msg"
        expect_in "$tmp/send.err" "has no A-label form"
    else
        serve_script '220 hi\r\n250 hi\r\n221 bye\r\n'
        send 69 --from a@example.org --to "info@$u" --data "$tmp/msg" --timeout 10
        wait $server_pid
        expect_in "$tmp/send.out" "not sent: the server does not offer SMTPUTF8"
        expect_not_in "$tmp/server.out" "MAIL FROM"
        send 64 --from a@example.org --to b@example.org --helo "client.$u" --data "$tmp/msg"
        expect_in "$tmp/send.err" "built without IDNA"
    fi
}

case_server_faults() {
    printf 'x\r\n' >"$tmp/msg"
    # Protocol violations: 76.
    broken_server 'hello\r\n' 76                       # not a reply
    expect_in "$tmp/send.err" "PROTOCOL"
    broken_server '220-a\r\n230 b\r\n' 76               # a continuation with another code
    broken_server '220 hi\r\n354 go\r\n' 76             # 354 cannot answer EHLO
    # 250 where DATA must get 354 (RFC 5321 4.3.2): no body is sent, and it is reported as a
    # violation with the reply, on the recipient line and in "session ended".
    broken_server '220 hi\r\n250 hi\r\n250 ok\r\n250 ok\r\n250 not 354\r\n' 76 --no-pipelining \
        --no-chunking
    expect_in "$tmp/send.err" "smtp-send: session ended: PROTOCOL"
    expect_in "$tmp/send.err" "250 not 354"
    expect_in "$tmp/send.out" "b@example.org: deferred: the server broke the protocol"
    expect_in "$tmp/send.out" "(reply: 250 not 354)"
    grep -q '^x' "$tmp/server.out" && fail "the body was sent after a 250 to DATA"
    # Refusals: 554 greeting, 5xx to EHLO and HELO: 69; 421 and 4xx: 75; a close: 75.
    broken_server '554 no service\r\n' 69
    expect_in "$tmp/send.err" "554 no service"
    broken_server '220 hi\r\n550 no\r\n550 no\r\n' 69
    broken_server '421 busy\r\n' 75
    broken_server '220 hi\r\n250 hi\r\n450 later\r\n' 75
    expect_in "$tmp/send.out" "b@example.org: not sent: 450 later"
    broken_server '220 hi\r\n' 75                 # closed after the greeting
    expect_in "$tmp/send.err" "CLOSED"
    # A recipient refused permanently and another accepted: 69, each one reported.
    serve_script '220 hi\r\n250 hi\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n'
    send 69 --from a@example.org --to bad@example.org --to good@example.org --data "$tmp/msg" \
        --no-pipelining --timeout 10
    wait $server_pid
    expect_in "$tmp/send.out" "bad@example.org: refused: 550 5.1.1 no such user"
    expect_in "$tmp/send.out" "good@example.org: delivered: 250 queued"
    expect_in "$tmp/server.out" "RCPT TO:<good@example.org>"
}

# Every recipient line that is not "delivered" says why, whatever ended the session.
case_reasons() {
    printf 'x\r\n' >"$tmp/msg"
    broken_server '220 hi\r\n' 75
    expect_line "$tmp/send.out" "b@example.org: not sent: connection closed by the server"
    broken_server 'hello\r\n' 76
    expect_line "$tmp/send.out" \
        "b@example.org: not sent: the server broke the protocol: reply line without a valid 2xx-5xx code"
    expect_in "$tmp/send.err" "session ended: PROTOCOL: the server broke the protocol"
    broken_server '220 hi\r\n250 hi\r\n250 ok\r\n250 ok\r\n' 75 --no-pipelining
    expect_line "$tmp/send.out" "b@example.org: deferred: connection closed by the server"
    broken_server '220 hi\r\n250 hi\r\n250 ok\r\n250 ok\r\n354 go\r\n' 75 --no-pipelining
    expect_line "$tmp/send.out" "b@example.org: deferred: connection closed by the server"
    # --dsn-required and a server without DSN: refused before MAIL.
    broken_server '220 hi\r\n250 hi\r\n221 bye\r\n' 69 --dsn-notify FAILURE --dsn-required
    expect_line "$tmp/send.out" "b@example.org: not sent: the server does not offer DSN"
    grep -q '^MAIL' "$tmp/server.out" && fail "MAIL sent although DSN is required and not offered"
    if [ -x "$mkcert" ]; then # a build with TLS
        broken_server '220 hi\r\n250-hi\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n221 bye\r\n' \
            69 --tls-required --no-verify
        expect_line "$tmp/send.out" \
            "b@example.org: not sent: STARTTLS refused: 454 4.7.0 TLS not available"
    fi
    # No "not sent", "deferred" or "refused" line without a reason anywhere above: checked by
    # the exact lines. The AUTH and STARTTLS causes: case_auth and case_tls_required.
}

case_lenient() {
    # HELO without a name and paths without angle brackets: refused, then accepted.
    printf 'HELO\r\nMAIL FROM:a@example.org\r\nQUIT\r\n' >"$tmp/raw"
    start_sink --discard
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "501"
    stop_sink
    printf 'HELO\r\nMAIL FROM:a@example.org\r\nRCPT TO:b@example.org\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' \
        >"$tmp/raw"
    start_sink --discard --lenient
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "250 2.0.0"
    expect_in "$tmp/sink.out" '{"from":"a@example.org","to":["b@example.org"],"size":4,"file":null,"helo":"",'
    stop_sink
}

case_proxy_protocol() {
    start_sink --discard --proxy-protocol
    printf 'PROXY TCP4 192.0.2.1 192.0.2.2 40000 25\r\nEHLO raw.example\r\nQUIT\r\n' >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    expect_in "$tmp/raw.out" "220 "
    expect_in "$tmp/raw.out" "221"
    # Without the header the connection is closed without a word.
    printf 'EHLO raw.example\r\nQUIT\r\n' >"$tmp/raw"
    "$raw" "$port" "$tmp/raw" >"$tmp/raw.out" || fail "rawsmtp"
    [ -s "$tmp/raw.out" ] && fail "a connection without PROXY header got: $(cat "$tmp/raw.out")"
    stop_sink
}

case_auth() {
    printf '# users\nalice:s3cret:with colon\n\nbob:pw\n' >"$tmp/users"
    printf 'x\r\n' >"$tmp/msg"
    start_sink -v --discard --auth-file "$tmp/users" --allow-insecure-auth
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password 's3cret:with colon' --auth-mech PLAIN --allow-insecure-auth
    expect_in "$tmp/sink.out" '"auth":"alice",'
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user bob \
        --auth-password pw --auth-mech LOGIN --allow-insecure-auth
    expect_in "$tmp/sink.out" '"auth":"bob",'
    # smtp-sink -v logs the commands, never a password: AUTH's payloads are masked.
    expect_in "$tmp/sink.err" "smtp-sink: [1] C: AUTH PLAIN ****"
    expect_in "$tmp/sink.err" "smtp-sink: [2] C: AUTH LOGIN"
    expect_in "$tmp/sink.err" "smtp-sink: [2] C: ****"
    expect_in "$tmp/sink.err" "smtp-sink: [2] S: 235 2.7.0 Authentication successful"
    grep -q 'cHc=\|YWxpY2\|Ym9i' "$tmp/sink.err" && fail "a credential in smtp-sink's log"
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password wrong --allow-insecure-auth
    expect_in "$tmp/send.out" "b@example.org: not sent: 535 5.7.8"
    expect_in "$tmp/send.err" "session ended: AUTH_FAILED: 535 5.7.8"
    # The client will not send a password in clear text unless told to.
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password 's3cret:with colon'
    expect_line "$tmp/send.out" \
        "b@example.org: not sent: AUTH not attempted without TLS (--starttls, --tls or --allow-insecure-auth)"
    expect_in "$tmp/send.err" "session ended: AUTH_UNAVAILABLE: AUTH not attempted without TLS"
    # A mechanism the server does not offer.
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password pw --auth-mech XOAUTH2 --allow-insecure-auth
    offered="PLAIN LOGIN" # with mbedTLS SCRAM-SHA-256 and CRAM-MD5 too (case_sasl)
    [ "$mkcert" = none ] || offered="SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"
    expect_line "$tmp/send.out" "b@example.org: not sent: AUTH XOAUTH2 not offered (offered: $offered)"
    [ "$(wc -l <"$tmp/sink.out")" -eq 2 ] || fail "expected 2 messages"
    stop_sink
    # AUTH required but not offered at all (issue #6: the line had no reason).
    start_sink --discard
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password pw --allow-insecure-auth
    expect_line "$tmp/send.out" "b@example.org: not sent: AUTH not offered"
    stop_sink
}

# SCRAM-SHA-256 and CRAM-MD5 (mbedTLS builds): smtp-sink --make-scram's entry and a password
# entry, each mechanism against each, an unknown user and a wrong password alike, and the
# entries --auth-file refuses.
case_sasl() {
    printf 'x\r\n' >"$tmp/msg"
    printf 'pencil\n' | $W "$bin/smtp-sink" --make-scram scram >"$tmp/users" || fail "--make-scram"
    grep -q '^scram:{SCRAM-SHA-256}4096,[A-Za-z0-9+/=]*,[A-Za-z0-9+/=]\{44\},[A-Za-z0-9+/=]\{44\}$' \
        "$tmp/users" || fail "--make-scram printed: $(cat "$tmp/users")"
    grep -q pencil "$tmp/users" && fail "--make-scram printed the password"
    printf 'plain:{PLAIN}secret\n' >>"$tmp/users"
    start_sink -v --discard --auth-file "$tmp/users" --allow-insecure-auth
    a="--from a@example.org --to b@example.org --data $tmp/msg --allow-insecure-auth"
    send 0 $a --auth-user scram --auth-password pencil -v # the strongest: SCRAM-SHA-256
    expect_in "$tmp/send.err" "C: AUTH SCRAM-SHA-256 ****"
    expect_in "$tmp/sink.out" '"auth":"scram",'
    send 0 $a --auth-user plain --auth-password secret --auth-mech SCRAM-SHA-256
    send 0 $a --auth-user plain --auth-password secret --auth-mech CRAM-MD5
    send 0 $a --auth-user scram --auth-password pencil --auth-mech PLAIN # checked by its keys
    expect_in "$tmp/sink.err" "smtp-sink: [1] C: AUTH SCRAM-SHA-256 ****"
    expect_in "$tmp/sink.err" "smtp-sink: [3] C: AUTH CRAM-MD5"
    [ "$(grep -c '"auth":"plain",' "$tmp/sink.out")" -eq 2 ] || fail "plain's two messages"
    # A wrong password and an unknown user: the same refusal.
    for u in "scram --auth-password pencil2" "nobody --auth-password pencil" \
        "scram --auth-password pencil --auth-mech CRAM-MD5" \
        "plain --auth-password secreT --auth-mech CRAM-MD5"; do
        send 69 $a --auth-user $u
        expect_in "$tmp/send.err" "session ended: AUTH_FAILED: 535 5.7.8 Error: authentication failed"
    done
    [ "$(wc -l <"$tmp/sink.out")" -eq 4 ] || fail "expected 4 messages"
    stop_sink
    # Malformed entries, and --make-scram without a password or with a bad name.
    for bad in 'u:{SCRAM-SHA-256}4096,c2FsdA==,AAAA,AAAA' 'u:{SCRAM-SHA-256}0,c2FsdA==' \
        'u:{SCRAM-SHA-256}x' 'u:{PLAIN}'; do
        printf '%s\n' "$bad" >"$tmp/bad"
        $W "$bin/smtp-sink" --discard --auth-file "$tmp/bad" --allow-insecure-auth \
            >"$tmp/o.out" 2>"$tmp/o.err"
        [ $? -eq 65 ] || fail "--auth-file '$bad' not refused"
        expect_in "$tmp/o.err" "smtp-sink: --auth-file: $tmp/bad:1: expected user:"
    done
    $W "$bin/smtp-sink" --make-scram u </dev/null >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 65 ] || fail "--make-scram without a password"
    expect_in "$tmp/o.err" "no password on standard input"
    $W "$bin/smtp-sink" --make-scram u:v </dev/null >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "--make-scram u:v"
}

# DSN (RFC 3461): smtp-send's --dsn-* options on the wire (the -v transcript; smtp-sink offers
# DSN and accepts them), left out with a warning for a server without DSN, and bad values.
case_dsn() {
    printf 'x\r\n' >"$tmp/msg"
    start_sink --discard
    send 0 -v --from a@example.org --to b@example.org --to 'c+x=y@example.org' \
        --data "$tmp/msg" --dsn-ret hdrs --dsn-envid 'env+id=1 x' --dsn-notify success,FAILURE \
        --dsn-orcpt
    expect_line "$tmp/send.err" "C: MAIL FROM:<a@example.org> SIZE=3 RET=HDRS ENVID=env+2Bid+3D1+20x"
    expect_line "$tmp/send.err" \
        "C: RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org"
    expect_line "$tmp/send.err" \
        "C: RCPT TO:<c+x=y@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx+3Dy@example.org"
    expect_line "$tmp/send.out" "b@example.org: delivered: 250 2.0.0 Ok: queued"
    expect_line "$tmp/send.out" "c+x=y@example.org: delivered: 250 2.0.0 Ok: queued"
    grep -q 'does not offer DSN' "$tmp/send.err" && fail "a DSN warning for a server with DSN"
    send 0 -v --from '' --to b@example.org --data "$tmp/msg" --dsn-notify never --dsn-ret FULL \
        --dsn-required
    expect_line "$tmp/send.err" "C: MAIL FROM:<> SIZE=3 RET=FULL"
    expect_line "$tmp/send.err" "C: RCPT TO:<b@example.org> NOTIFY=NEVER"
    [ "$(wc -l <"$tmp/sink.out")" -eq 2 ] || fail "expected 2 messages"
    stop_sink
    # A server without DSN: the parameters are left out, with a warning; the message goes.
    serve_script '220 hi\r\n250-hi\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n'
    send 0 --from a@example.org --to b@example.org --data "$tmp/msg" --dsn-ret HDRS \
        --dsn-envid e1 --dsn-notify DELAY --dsn-orcpt --timeout 10
    wait $server_pid
    expect_in "$tmp/server.out" "$(printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n')"
    expect_in "$tmp/send.err" "the server does not offer DSN: RET, ENVID, NOTIFY and ORCPT were not sent"
    expect_line "$tmp/send.out" "b@example.org: delivered: 250 queued"
    # Bad values: 64 with a message naming the option.
    s="$bin/smtp-send"
    for args in "--dsn-ret FULLY" "--dsn-notify NEVER,DELAY" "--dsn-notify SUCCESS," \
        "--dsn-notify success,Success" "--dsn-notify bounce" "--dsn-required" \
        "--dsn-envid $(printf 'caf\303\251')" \
        "--dsn-envid 01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"; do
        # shellcheck disable=SC2086
        $W "$s" --from a@example.org --to b@example.org --data "$tmp/msg" $args \
            >"$tmp/o.out" 2>"$tmp/o.err" </dev/null
        rc=$?
        [ $rc -eq 64 ] || fail "smtp-send $args exited $rc, expected 64"
        grep -q "^smtp-send: --dsn-" "$tmp/o.err" || fail "smtp-send $args: $(cat "$tmp/o.err")"
    done
    $W "$s" --from a@example.org --to "$(printf 'j\303\266rg@example.org')" --dsn-orcpt \
        --data "$tmp/msg" >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "--dsn-orcpt with a UTF-8 recipient"
    expect_in "$tmp/o.err" "(ORCPT=rfc822 takes ASCII addresses)"
    $W "$s" --from a@example.org --to b@example.org --dsn-envid '' --data "$tmp/msg" \
        >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "--dsn-envid ''"
}

# The -v transcript: BDAT chunk data is one summary line per chunk, never mixed with the
# commands, even when a chunk ends mid-line; DATA still shows the message's lines.
case_transcript() {
    : >"$tmp/msg"
    i=0
    while [ $i -lt 700 ]; do
        printf 'line %04d of a message sent in several BDAT chunks that end in mid-line\r\n' $i \
            >>"$tmp/msg"
        i=$((i + 1))
    done
    size=$(wc -c <"$tmp/msg" | tr -d ' ')
    start_sink --discard
    send 0 -v --from a@example.org --to b@example.org --data "$tmp/msg"
    bad=$(grep '^C: ' "$tmp/send.err" | grep -v -E \
        '^C: (EHLO [^ ]+|MAIL FROM:<a@example.org> SIZE=[0-9]+|RCPT TO:<b@example.org>|BDAT [0-9]+( LAST)?|QUIT|<[0-9]+ octets? of BDAT data>)$')
    [ -z "$bad" ] || fail "client lines that are neither commands nor chunk summaries: $bad"
    [ "$(grep -c '^C: BDAT ' "$tmp/send.err")" -ge 2 ] || fail "expected several BDAT chunks"
    announced=$(sed -n 's/^C: BDAT \([0-9]*\).*/\1/p' "$tmp/send.err" | awk '{ n += $1 } END { print n }')
    shown=$(sed -n 's/^C: <\([0-9]*\) octets* of BDAT data>$/\1/p' "$tmp/send.err" |
        awk '{ n += $1 } END { print n }')
    [ "$announced" = "$size" ] && [ "$shown" = "$size" ] ||
        fail "BDAT announced $announced, summarised $shown, message $size octets"
    # A chunk boundary fell inside a line (else this case tests nothing).
    sed -n 's/^C: BDAT \([0-9]*\).*/\1/p' "$tmp/send.err" | head -1 |
        awk -v l=73 '{ exit ($1 % l) == 0 }' || fail "the first chunk ended at the end of a line"
    send 0 -v --no-chunking --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_line "$tmp/send.err" "C: line 0699 of a message sent in several BDAT chunks that end in mid-line"
    expect_line "$tmp/send.err" "C: ."
    stop_sink
}

# TLS: a CA and a certificate for "localhost" signed by it, made now (tests/e2e/mkcert.c).
make_cert() {
    [ -x "$mkcert" ] || { echo "no mkcert (a build without TLS): skipped"; exit 77; }
    "$mkcert" "$tmp" >"$tmp/mkcert.err" 2>&1 || fail "mkcert could not make the certificates"
}

case_starttls() {
    make_cert
    make_message
    printf 'alice:pw\n' >"$tmp/users"
    start_sink --maildir "$tmp/md" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
        --auth-file "$tmp/users"
    port_ok=$port
    # The name checked against the certificate is the one given to --server.
    $W "$bin/smtp-send" --server "localhost:$port" --starttls --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password pw -v >"$tmp/send.out" 2>"$tmp/send.err" || fail "STARTTLS send"
    expect_in "$tmp/sink.out" '"tls":true,"auth":"alice",'
    expect_in "$tmp/send.err" "C: STARTTLS"
    # In the order it happened: the 220, the handshake, then the EHLO sent over TLS.
    awk '/^C: STARTTLS$/ { s = 1; next } s == 1 && /^S: 220 / { s = 2; next }
        s == 2 && /^\* TLS handshake$/ { s = 3; next } s == 3 && /^\* TLS started: / { s = 4; next }
        s == 4 && /^C: EHLO / { s = 5 } s > 0 && s < 5 && /^C: / { exit 1 } END { exit s != 5 }' \
        "$tmp/send.err" || fail "the transcript does not show STARTTLS, 220, TLS, EHLO in order"
    cmp "$tmp/msg" "$(the_file)" || fail "stored message differs"
    # A certificate that does not verify (no --cafile: the system CAs) ends the connection.
    port=$port_ok
    $W "$bin/smtp-send" --server "localhost:$port" --tls-required --from a@example.org \
        --to b@example.org --data "$tmp/msg" >"$tmp/send.out" 2>"$tmp/send.err"
    [ $? -eq 74 ] || fail "an unverified certificate did not give 74"
    expect_in "$tmp/send.err" "TLS"
    # The right CA but another name (the certificate is for localhost): refused too.
    send 74 --tls-required --cafile "$tmp/ca.pem" --from a@example.org --to b@example.org \
        --data "$tmp/msg"
    # --no-verify accepts it; AUTH is not offered without TLS.
    send 0 --starttls --no-verify --from a@example.org --to b@example.org --data "$tmp/msg"
    send 69 --from a@example.org --to b@example.org --data "$tmp/msg" --auth-user alice \
        --auth-password pw --allow-insecure-auth
    stop_sink
}

# examples/mail-send.c, the README's "Send a message": one message over STARTTLS, verified
# against the test CA, each recipient's reply and the deciding reply printed; a certificate
# that does not verify (the system's store) sends nothing and fails.
case_mail_send() {
    make_cert
    make_message
    start_sink --maildir "$tmp/md" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/mail-send" localhost "$port" "$tmp/ca.pem" a@example.org b@example.org \
        <"$tmp/msg" >"$tmp/send.out" 2>"$tmp/send.err" || fail "mail-send exited $?"
    expect_line "$tmp/send.out" "b@example.org: 250 2.1.5 Ok"
    expect_in "$tmp/send.out" "message: DELIVERED 250"
    expect_in "$tmp/sink.out" '"tls":true'
    cmp "$tmp/msg" "$(the_file)" || fail "stored message differs"
    $W "$bin/mail-send" localhost "$port" /nonexistent/ca.pem a@example.org b@example.org \
        <"$tmp/msg" >"$tmp/send.out" 2>"$tmp/send.err"
    [ $? -eq 75 ] || fail "mail-send with a CA that does not load did not fail with 75"
    [ "$(count_new)" -eq 1 ] || fail "a message went without TLS"
    stop_sink
}

# examples/mail-receive.c, the README's "Receive messages": the body streamed whole (dots
# unstuffed, DATA and BDAT), the envelope with its parameters, the client's address, HELO, TLS
# and AUTH state; an empty message refused with 554 and not stored. It listens on a port a
# stopped smtp-sink had (the example takes a port number) and is stopped by its PID.
case_mail_receive() {
    make_message
    start_sink --discard
    free=$port
    stop_sink
    "$bin/mail-receive" "$free" >"$tmp/recv.out" 2>"$tmp/recv.err" &
    sink_pid=$!
    port=$free
    printf 'QUIT\r\n' >"$tmp/quit"
    i=0
    until "$raw" "$port" "$tmp/quit" 2>/dev/null | grep -q '^221'; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "mail-receive did not listen within 10 s"
        kill -0 "$sink_pid" 2>/dev/null || fail "mail-receive exited at start"
        sleep 0.05
    done
    send 0 --from a@example.org --to b@example.org --to c@example.org --data "$tmp/msg" \
        --helo client.example --no-chunking
    send 0 --from "" --to d@example.org --data "$tmp/msg" --helo other.example
    printf '' >"$tmp/empty"
    send 69 --from a@example.org --to b@example.org --data "$tmp/empty" --helo client.example
    expect_in "$tmp/send.out" "554 5.6.0 Nothing stored"
    kill -TERM "$sink_pid"
    wait "$sink_pid" 2>/dev/null
    sink_pid=
    n=$(wc -c <"$tmp/msg" | tr -d ' ')
    expect_in "$tmp/recv.out" \
        "from <a@example.org> SIZE=$n BODY=8BITMIME (helo client.example, 127.0.0.1 port "
    expect_in "$tmp/recv.out" ", tls 0, auth none): $n octets"
    expect_in "$tmp/recv.out" "to <b@example.org>"
    expect_in "$tmp/recv.out" "to <c@example.org>"
    expect_in "$tmp/recv.out" "from <> SIZE=$n BODY=8BITMIME (helo other.example"
    expect_in "$tmp/recv.out" "to <d@example.org>"
    # Each body is printed whole before its envelope line: the first one, byte for byte.
    head -c "$n" "$tmp/recv.out" | cmp -s - "$tmp/msg" || fail "the first body differs"
    [ "$(grep -c '^from ' "$tmp/recv.out")" -eq 3 ] || fail "not three messages reported"
}

case_tls_required() {
    make_cert
    printf 'x\r\n' >"$tmp/msg"
    start_sink --discard
    send 69 --tls-required --no-verify --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_line "$tmp/send.out" "b@example.org: not sent: STARTTLS not offered (--tls-required)"
    send 0 --starttls --no-verify --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/sink.out" '"tls":false'
    stop_sink
}

case_implicit_tls() {
    make_cert
    printf 'x\r\n' >"$tmp/msg"
    start_sink --discard --implicit-tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/smtp-send" --server "localhost:$port" --tls --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" >"$tmp/send.out" \
        2>"$tmp/send.err" || fail "implicit TLS send"
    expect_in "$tmp/sink.out" '"tls":true'
    stop_sink
}

case_no_tls() {
    printf 'x\r\n' >"$tmp/msg"
    for opt in --starttls --tls-required --tls; do
        $W "$bin/smtp-send" $opt --from a@example.org --to b@example.org --data "$tmp/msg" \
            >"$tmp/o.out" 2>"$tmp/o.err"
        [ $? -eq 64 ] || fail "smtp-send $opt in a build without TLS"
        expect_in "$tmp/o.err" "this smtp-send was built without TLS (mbedTLS not found)"
    done
    $W "$bin/smtp-sink" --discard --tls-cert "$tmp/msg" --tls-key "$tmp/msg" >"$tmp/o.out" \
        2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "smtp-sink --tls-cert in a build without TLS"
    expect_in "$tmp/o.err" "this smtp-sink was built without TLS (mbedTLS not found)"
    # No SCRAM-SHA-256 without mbedTLS: an entry is refused, --make-scram too.
    printf 'u:{SCRAM-SHA-256}4096,c2FsdA==,%s,%s\n' "$(printf '%044d' 0)" "$(printf '%044d' 0)" \
        >"$tmp/users"
    $W "$bin/smtp-sink" --discard --auth-file "$tmp/users" --allow-insecure-auth \
        >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 65 ] || fail "a SCRAM entry in a build without TLS"
    expect_in "$tmp/o.err" "SCRAM-SHA-256 entries need a build with mbedTLS"
    $W "$bin/smtp-sink" --make-scram u </dev/null >"$tmp/o.out" 2>"$tmp/o.err"
    [ $? -eq 64 ] || fail "--make-scram in a build without TLS"
    expect_in "$tmp/o.err" "built without mbedTLS"
}

# A short case under valgrind (when it is installed and the build is not instrumented).
case_valgrind() {
    command -v valgrind >/dev/null 2>&1 || { echo "valgrind not found: skipped"; exit 77; }
    if nm "$bin/smtp-send" 2>/dev/null | grep -q __asan_init; then
        echo "sanitizer build: skipped"
        exit 77
    fi
    W="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    case_plain
    rm -rf "$tmp/md"
    case_json
}

# TLS to an IP address: the certificate's iPAddress names are checked (ipcert.pem names
# 127.0.0.1 and ::1 only, no DNS name); a certificate that does not verify is reported with
# mbedTLS's reason and the options to try, by smtp-send and through the blocking API
# (mail-send: smtp_tls_client_run_err).
case_tls_ip() {
    make_cert
    make_message
    start_sink --discard --tls-cert "$tmp/ipcert.pem" --tls-key "$tmp/key.pem"
    $W "$bin/smtp-send" --server "127.0.0.1:$port" --tls-required --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg" >"$tmp/send.out" \
        2>"$tmp/send.err" || fail "STARTTLS to 127.0.0.1 with an IP certificate"
    expect_in "$tmp/sink.out" '"tls":true'
    # The name localhost is not in the certificate.
    send 74 --server "localhost:$port" --tls-required --cafile "$tmp/ca.pem" \
        --from a@example.org --to b@example.org --data "$tmp/msg"
    expect_in "$tmp/send.out" "b@example.org: not sent: TLS: certificate verification failed: "
    expect_in "$tmp/send.out" "; try --cafile FILE or --no-verify"
    # The system's store does not know the test CA.
    send 74 --server "127.0.0.1:$port" --tls-required --from a@example.org --to b@example.org \
        --data "$tmp/msg"
    expect_line "$tmp/send.out" "b@example.org: not sent: TLS: certificate verification failed: \
The certificate is not correctly signed by the trusted CA; try --cafile FILE or --no-verify"
    $W "$bin/mail-send" 127.0.0.1 "$port" "$tmp/ca.pem" a@example.org b@example.org \
        <"$tmp/msg" >"$tmp/mail.out" 2>"$tmp/mail.err" || fail "mail-send to 127.0.0.1 exited $?"
    $W "$bin/mail-send" localhost "$port" "$tmp/ca.pem" a@example.org b@example.org \
        <"$tmp/msg" >"$tmp/mail.out" 2>"$tmp/mail.err"
    [ $? -eq 75 ] || fail "mail-send with a name the certificate lacks did not fail with 75"
    expect_line "$tmp/mail.err" "mail-send: TLS: certificate verification failed: \
The certificate Common Name (CN) does not match with the expected CN"
    stop_sink
}

command -v "case_$case_name" >/dev/null 2>&1 || { echo "unknown case $case_name"; exit 2; }
"case_$case_name"
echo "PASS ($case_name)"
