#!/bin/sh
# SPDX-License-Identifier: MIT
# Postfix's smtp-source (its SMTP/LMTP load generator, no pipelining) against our smtp-sink:
# thousands of messages in parallel sessions, one connection per message and many messages per
# connection (-d), several recipients per message (-r), SMTP and LMTP (-L). Nothing may be lost:
# smtp-source exits 0 without a complaint, and the sink printed exactly one JSON line per
# message, with every recipient, and counted the connections smtp-source opened. With --maildir
# and a message file (-F), every stored file is that message byte for byte.
# Only the smtp-source program of the postfix package is used: no Postfix instance runs here.
. "${SMTP_SRC:?}/tests/interop/lib.sh"

need smtp-source md5sum
echo "postfix $(version_of postfix)"

# source_run EXPECTED_MESSAGES OPTIONS...: smtp-source to the sink, sender a@example.org, recipient
# b@example.org (with -r N: Nb@, ..., 2b@, b@), HELO/LHLO source.test; waits (bounded, 20 s)
# until the sink printed EXPECTED_MESSAGES lines.
source_run() {
    want=$1
    shift
    timeout 60 smtp-source "$@" -M source.test -f a@example.org -t b@example.org \
        "127.0.0.1:$port" >"$T/source.out" 2>"$T/source.err"
    rc=$?
    [ $rc -eq 0 ] || fail "smtp-source $* exited $rc"
    [ -s "$T/source.err" ] && fail "smtp-source $* complained"
    i=0
    while [ "$(wc -l <"$T/sink.out")" -lt "$want" ] && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ "$(wc -l <"$T/sink.out")" -eq "$want" ] ||
        fail "smtp-source $*: the sink printed $(wc -l <"$T/sink.out") lines, expected $want"
}

# json_count PATTERN: the number of JSON lines matching PATTERN (basic regular expression).
json_count() {
    grep -c -- "$1" "$T/sink.out"
}

# stopped CONNECTIONS MESSAGES: stops the sink; its summary must give these counts.
stopped() {
    stop_sink
    expect_in "$T/sink.err" "smtp-sink: stopped after $1 connection(s), $2 message(s)"
}

# all_stored N EXPECTED: the sink's Maildir holds N files, each equal to EXPECTED (one md5sum
# run for all of them rather than N cmp).
all_stored() {
    [ "$(ls "$T/md/new" | wc -l)" -eq "$1" ] || fail "expected $1 stored messages"
    sum=$(md5sum <"$2" | cut -d' ' -f1)
    other=$(find "$T/md/new" -type f -exec md5sum {} + | grep -v -c "^$sum ")
    [ "$other" -eq 0 ] || fail "$other stored messages differ from what smtp-source sent"
}

# The message of -F: smtp-source sends each line with CRLF, a leading dot doubled, and then
# ends the data with CRLF.CRLF after the file's own last CRLF, so the message it sends is the
# file plus one empty line (seen on the wire with a raw listener). That is what must be stored.
printf 'From: a@example.org\nTo: b@example.org\nSubject: smtp-source\n\n' >"$T/file"
printf '.leading dot\n..two\n\ttab\nlast\n' >>"$T/file"
sed 's/$/\r/' "$T/file" >"$T/expected"
printf '\r\n' >>"$T/expected"

# SMTP, nothing stored: 4000 messages in 10 parallel sessions, one connection each (4000
# connections), then 4000 with 3 recipients over 10 connections (-d).
start_sink --discard --hostname sink.test --pipelining-strict
source_run 4000 -s 10 -m 4000
[ "$(json_count '^{"from":"a@example.org","to":\["b@example.org"\],"size":[1-9][0-9]*,"file":null,"helo":"source.test","tls":false,"auth":null,"peer":"[^"]*","time":"[^"]*","conn":[1-9][0-9]*,"tls_version":null,"tls_cipher":null,"requiretls":false}$')" -eq 4000 ] ||
    fail "a JSON line is not as expected"
: >"$T/sink.out"
source_run 4000 -s 10 -m 4000 -d -r 3
[ "$(json_count '^{"from":"a@example.org","to":\["3b@example.org","2b@example.org","b@example.org"\],"size":[1-9]')" -eq 4000 ] ||
    fail "a message lost a recipient"
stopped 4010 8000

# SMTP into the Maildir: 300 messages of -F, 5 sessions of several messages each.
start_sink --maildir "$T/md" --hostname sink.test --pipelining-strict
source_run 300 -s 5 -m 300 -d -F "$T/file"
all_stored 300 "$T/expected"
stopped 5 300
rm -rf "$T/md"

# LMTP (RFC 2033: LHLO, one reply per recipient after the data): 4000 messages with 2
# recipients over 5 connections, then 100 of -F into the Maildir.
start_sink --discard --hostname sink.test --lmtp
source_run 4000 -L -s 5 -m 4000 -d -r 2
[ "$(json_count '^{"from":"a@example.org","to":\["2b@example.org","b@example.org"\],"size":[1-9]')" -eq 4000 ] ||
    fail "LMTP: a message lost a recipient"
stopped 5 4000
start_sink --maildir "$T/md" --hostname sink.test --lmtp
source_run 100 -L -s 2 -m 100 -d -r 2 -F "$T/file"
all_stored 100 "$T/expected"
stopped 2 100
echo "PASS (smtp-source of postfix $(version_of postfix))"
