#!/bin/sh
# SPDX-License-Identifier: MIT
# swaks → smtp-proxy → smtp-sink. With --upstream-proxy-protocol v2 and the sink's
# --proxy-protocol (and --pipelining-strict): the message is stored byte for byte, swaks's
# pipelined group is taken by a sink that enforces RFC 2920's synchronization, and the sink's
# JSON line names swaks's own address and port as the peer (127.0.0.2 when the loopback takes
# it) with the proxy's HELO. Then, without the PROXY header, swaks directly to the sink and
# through the proxy must see the same replies from MAIL on, line for line: a recipient refused
# by the sink's --reply (550 5.1.1 and its text), one over --max-recipients (452 4.5.3), the
# 354's text, the end of data refused by --reply (554 5.7.1 after the data) and accepted (250);
# the sink stores the same messages both ways.
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/proxy.sh"
need swaks python3
echo "peer: $(version_of swaks)"
make_message
# swaks ends --data with CRLF "." CRLF after the data as given: one more empty line arrives.
cp "$T/msg" "$T/msg.swaks"
printf '\r\n' >>"$T/msg.swaks"
caddr=$(second_loopback)
[ -n "$caddr" ] || caddr=127.0.0.1
echo "swaks connects from $caddr"
qid='s/queued as [^ ]*$/queued as QID/'

# 1. Through the proxy with the PROXY header: the sink knows who the client is.
start_sink --maildir "$T/md" --hostname sink.test --pipelining-strict --proxy-protocol
start_proxy --upstream "127.0.0.1:$port" --upstream-proxy-protocol v2
cport=$(free_port)
swaks_to "$pport" 0 "$T/sw-1.log" --to b@example.org,c@example.org --data "@$T/msg" \
    --pipeline --local-interface "$caddr" --local-port "$cport"
pipelined "$T/sw-1.log" " -> " "<"
expect_msg "$T/msg.swaks" \
    "{\"from\":\"a@example.org\",\"to\":[\"b@example.org\",\"c@example.org\"],\"helo\":\"proxy.test\",\"peer\":\"$caddr:$cport\",\"tls\":false}"
swaks_to "$pport" 0 "$T/sw-2.log" --to b@example.org --data "@$T/msg" --from '<>'
expect_msg "$T/msg.swaks" '{"from":"","to":["b@example.org"]}'
stop_proxy
check_sink
grep -q 'synchronization' "$T/sink.err" && fail "smtp-sink saw a pipelining synchronization error"

# 2. The sink's refusals, directly and through the proxy: the same replies.
rcpt='RCPT#2:550 5.1.1 <c@example.org>: no such user here'
start_sink --maildir "$T/md" --hostname sink.test --max-recipients 2 --reply "$rcpt"
start_proxy --upstream "127.0.0.1:$port"
for how in direct proxy; do
    p=$port
    [ $how = proxy ] && p=$pport
    swaks_to "$p" 0 "$T/sw-rcpt-$how.log" --to b@example.org,c@example.org,d@example.org,e@example.org \
        --data "@$T/msg" --pipeline
    expect_msg "$T/msg.swaks" '{"to":["b@example.org","d@example.org"]}'
done
expect_in "$T/sw-rcpt-proxy.log" "<** 550 5.1.1 <c@example.org>: no such user here"
expect_in "$T/sw-rcpt-proxy.log" "<** 452 4.5.3 "
same_replies "$T/sw-rcpt-direct.log" "$T/sw-rcpt-proxy.log" "$qid"
stop_proxy
check_sink

start_sink --maildir "$T/md" --hostname sink.test \
    --reply '.:554 5.7.1 Message refused: the sink says no to this content'
start_proxy --upstream "127.0.0.1:$port"
for how in direct proxy; do
    p=$port
    [ $how = proxy ] && p=$pport
    swaks_to "$p" 26 "$T/sw-data-$how.log" --to b@example.org --data "@$T/msg"
done
expect_in "$T/sw-data-proxy.log" "<** 554 5.7.1 Message refused: the sink says no to this content"
expect_in "$T/sw-data-proxy.log" "<-  221 "
same_replies "$T/sw-data-direct.log" "$T/sw-data-proxy.log"
stop_proxy
check_sink
echo PASS
