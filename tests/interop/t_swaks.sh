#!/bin/sh
# SPDX-License-Identifier: MIT
# swaks against smtp-sink: several option sets (plain, --pipeline, several recipients,
# --protocol LMTP with a deferred recipient, --quit-after, a connection dropped after DATA,
# --no-data-fixup with a bare LF under each --bare-lf policy, HELO without a name with and
# without --lenient, a refused address, a message over --max-size, AUTH not offered,
# --pipelining-strict). Stored messages are compared byte for byte (py_sink_check.py).
# swaks (20201014) has no BDAT: CHUNKING is not tried here.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need swaks python3
echo "peer: $(version_of swaks)"
make_message
# swaks ends --data with CRLF "." CRLF after the data as given, so a message that already
# ends with CRLF arrives with one more empty line: that is what must be stored.
cp "$T/msg" "$T/msg.swaks"
printf '\r\n' >>"$T/msg.swaks"

# sw EXPECTED_STATUS [SWAKS OPTIONS...]: swaks to 127.0.0.1:$port; its transcript in $T/swaks.log.
sw() {
    expect=$1
    shift
    swaks --server "127.0.0.1:$port" --helo swaks.example --from a@example.org --timeout 20 \
        "$@" </dev/null >"$T/swaks.log" 2>&1
    rc=$?
    [ $rc -eq "$expect" ] || fail "swaks $* exited $rc, expected $expect"
}

start_sink --maildir "$T/md"
sw 0 --to b@example.org --data "@$T/msg"
expect_msg "$T/msg.swaks" '{"from":"a@example.org","to":["b@example.org"],"helo":"swaks.example","tls":false}'
sw 0 --to b@example.org,c@example.org --data "@$T/msg" --pipeline
pipelined "$T/swaks.log" " -> " "<"
expect_msg "$T/msg.swaks" '{"to":["b@example.org","c@example.org"]}'
# Stopped after RCPT: QUIT answered, nothing stored.
sw 0 --to b@example.org --data "@$T/msg" --quit-after RCPT
expect_in "$T/swaks.log" "<-  221 2.0.0"
# The connection dropped right after DATA, then the next client is served as usual.
sw 0 --to b@example.org --data "@$T/msg" --drop-after-send DATA
sw 0 --to b@example.org --data "@$T/msg" --from '<>'
expect_msg "$T/msg.swaks" '{"from":""}'
# A bare LF in the content, sent as is (--no-data-fixup: the file holds the terminator):
# refused after the data, 550 5.6.0 (the default --bare-lf reject), and swaks exits 26.
printf 'Subject: bare LF\r\n\r\none\ntwo\r\n.' >"$T/barelf"
sw 26 --to b@example.org --data "@$T/barelf" --no-data-fixup
expect_in "$T/swaks.log" "<** 550 5.6.0"
# A malformed address (RFC 5321 4.1.2): 501, no recipient, swaks exits 24.
sw 24 --to 'bad@@example.org' --data "@$T/msg"
expect_in "$T/swaks.log" "<** 501"
# HELO with no name (swaks sends "HELO " and a space): 501 without --lenient.
sw 22 --to b@example.org --data "@$T/msg" --protocol SMTP --helo ' '
expect_in "$T/swaks.log" "<** 501"
# No --auth-file: AUTH is not offered and swaks stops (28).
sw 28 --to b@example.org --data "@$T/msg" --auth PLAIN --auth-user alice --auth-password pw
check_sink

start_sink --maildir "$T/md" --lenient --max-size 2000 --bare-lf normalize
sw 0 --to b@example.org --data "@$T/msg" --protocol SMTP --helo ' '
expect_in "$T/swaks.log" " -> HELO  "
expect_msg "$T/msg.swaks" '{"helo":""}'
sw 0 --to b@example.org --data "@$T/barelf" --no-data-fixup
printf 'Subject: bare LF\r\n\r\none\r\ntwo\r\n' >"$T/barelf.normalized"
expect_msg "$T/barelf.normalized"
# Over --max-size: swaks declares no SIZE, so the limit is found in the data: 552 5.3.4.
python3 -c 'import sys; sys.stdout.write("Subject: big\r\n\r\n" + ("x" * 78 + "\r\n") * 40)' \
    >"$T/big"
sw 26 --to b@example.org --data "@$T/big"
expect_in "$T/swaks.log" "<** 552 5.3.4"
check_sink

start_sink --maildir "$T/md" --lmtp --max-recipients 2
sw 0 --protocol LMTP --pipeline --to b@example.org,c@example.org,d@example.org --data "@$T/msg"
expect_in "$T/swaks.log" " -> LHLO swaks.example"
expect_in "$T/swaks.log" "<** 452 4.5.3"
# RFC 2033 4.2: one reply after the data for each of the two accepted recipients.
[ "$(sed -n '/^ -> \.$/,$p' "$T/swaks.log" | grep -c '^<-  250 ')" -eq 2 ] ||
    fail "expected two replies after the data"
expect_msg "$T/msg.swaks" '{"to":["b@example.org","c@example.org"]}'
check_sink

# RFC 2920's synchronization points enforced: swaks waits where it must, pipelined or not.
start_sink --maildir "$T/md" --pipelining-strict
sw 0 --to b@example.org --data "@$T/msg" --pipeline
pipelined "$T/swaks.log" " -> " "<"
expect_msg "$T/msg.swaks"
sw 0 --to b@example.org --data "@$T/msg"
expect_msg "$T/msg.swaks"
check_sink
echo PASS
