#!/bin/sh
# SPDX-License-Identifier: MIT
# smtp-send against nodemailer's smtp-server (npm): PIPELINING (MAIL, RCPT and DATA in one
# flight, RFC 2920) and without it, AUTH PLAIN, LOGIN and XOAUTH2 with right and wrong
# secrets, a refused recipient among good ones, SIZE over the limit, LMTP with per-recipient
# replies after the data (RFC 2033 4.2), and DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT from
# smtp-send's --dsn-* options as smtp-server parsed them, compared exactly; left out for a
# server that hides DSN, or the message refused with --dsn-required. Messages compared byte for
# byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need_node
need python3
echo "peer: smtp-server $(version_of smtp-server), node $(node --version)"
make_message
size=$(wc -c <"$T/msg" | tr -d ' ')
# start_server [OPTIONS of node/smtp_server.mjs]: sets $port; messages in $T/srv/N.eml, N.json.
start_server() {
    rm -rf "$T/srv"
    mkdir -p "$T/srv"
    start_peer smtp-server node "$INTEROP/node/smtp_server.mjs" --port-file "$T/smtp-server.port" \
        --dir "$T/srv" "$@"
}

# field N KEY: the value of KEY in message N's N.json, as compact JSON with sorted keys.
field() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(d.get(sys.argv[2]), sort_keys=True, separators=(",", ":")))' "$T/srv/$1.json" "$2"
}
# field_is N KEY JSON: exactly that value.
field_is() {
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] || fail "message $1: $2 is $got, expected $3"
}

# received N [JSON_FRAGMENT...]: the N-th message is $T/msg and its N.json holds each fragment.
received() {
    f=$1
    shift
    [ -f "$T/srv/$f.json" ] || fail "smtp-server has no message $f"
    cmp "$T/msg" "$T/srv/$f.eml" || fail "message $f: smtp-server received other bytes"
    for frag in "$@"; do expect_in "$T/srv/$f.json" "$frag"; done
}

start_server --user alice:s3cret --user 'bob:tok en' --refuse-rcpt nobody@example.org
send 0 --from a@example.org --to b@example.org --to c@example.org --data "$T/msg"
pipelined "$T/send.err" "C: " "S: " YES
expect_in "$T/send.err" "S: 250-PIPELINING"
expect_in "$T/send.err" "S: 250-DSN"
expect_in "$T/send.out" "c@example.org: delivered: 250 OK: queued as 1"
received 1 '"from":"a@example.org"' '"to":["b@example.org","c@example.org"]' \
    '"mailArgs":{"BODY":"8BITMIME"}' '"type":"ESMTP"'
# DSN is offered, but not asked for: no RET, ENVID, NOTIFY or ORCPT is sent.
grep -E -q 'RET=|ENVID=|NOTIFY=|ORCPT=' "$T/send.err" && fail "smtp-send sent DSN parameters"
field_is 1 dsn '{"envid":null,"ret":null}'
field_is 1 rcptDsn '[null,null]'
send 0 --from a@example.org --to b@example.org --data "$T/msg" --no-pipelining
pipelined "$T/send.err" "C: " "S: " NO
received 2
# AUTH (RFC 4954) over plain TCP, allowed on both sides for the test.
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --auth-mech PLAIN --allow-insecure-auth
pipelined "$T/send.err" "C: " "S: " YES
received 3 '"user":"alice"' '"method":"PLAIN"' '"type":"ESMTPA"'
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --auth-mech LOGIN --allow-insecure-auth
received 4 '"user":"alice"' '"method":"LOGIN"'
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user bob \
    --auth-password 'tok en' --auth-mech XOAUTH2 --allow-insecure-auth
received 5 '"user":"bob"' '"method":"XOAUTH2"'
send 0 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
    --auth-password s3cret --allow-insecure-auth
received 6 '"user":"alice"'
for mech in PLAIN LOGIN XOAUTH2; do
    send 69 --from a@example.org --to b@example.org --data "$T/msg" --auth-user alice \
        --auth-password wrong --auth-mech $mech --allow-insecure-auth
    expect_in "$T/send.out" "b@example.org: not sent: 535"
done
# XOAUTH2's failure is a 334 with an error (base64 JSON) the client answers with an empty line.
expect_in "$T/send.err" "S: 334 eyJ"
# One recipient refused among good ones: 69, each reported, the message goes to the others.
send 69 --from a@example.org --to b@example.org --to nobody@example.org --to c@example.org \
    --data "$T/msg"
expect_in "$T/send.out" "nobody@example.org: refused: 550 <nobody@example.org>: no such user"
expect_in "$T/send.out" "b@example.org: delivered: 250"
expect_in "$T/send.out" "c@example.org: delivered: 250"
received 7 '"to":["b@example.org","c@example.org"]'
[ -f "$T/srv/8.json" ] && fail "smtp-server took a message after a refused AUTH"
# DSN (RFC 3461): RET and ENVID on MAIL, NOTIFY and ORCPT on each RCPT, xtext-encoded by the
# client ('+', '=' and SP as +HH) and decoded by smtp-server: the values arrive unchanged.
send 0 --from a@example.org --to b@example.org --to 'c+x=y@example.org' --data "$T/msg" \
    --dsn-ret hdrs --dsn-envid 'env+id=1 x' --dsn-notify success,FAILURE --dsn-orcpt
pipelined "$T/send.err" "C: " "S: " YES
expect_in "$T/send.err" "C: MAIL FROM:<a@example.org> BODY=8BITMIME RET=HDRS ENVID=env+2Bid+3D1+20x"
expect_in "$T/send.err" "C: RCPT TO:<c+x=y@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx+3Dy@example.org"
grep -q 'does not offer DSN' "$T/send.err" && fail "a DSN warning although smtp-server offers DSN"
received 8 '"to":["b@example.org","c+x=y@example.org"]'
field_is 8 dsn '{"envid":"env+id=1 x","ret":"HDRS"}'
field_is 8 rcptDsn '[{"notify":["SUCCESS","FAILURE"],"orcpt":"rfc822;b@example.org"},{"notify":["SUCCESS","FAILURE"],"orcpt":"rfc822;c+x=y@example.org"}]'
field_is 8 mailArgs '{"BODY":"8BITMIME","ENVID":"env+id=1 x","RET":"HDRS"}'
field_is 8 rcptArgs '[{"NOTIFY":"SUCCESS,FAILURE","ORCPT":"rfc822;b@example.org"},{"NOTIFY":"SUCCESS,FAILURE","ORCPT":"rfc822;c+x=y@example.org"}]'
# NOTIFY=NEVER alone, RET=FULL, the null sender; no ENVID, no ORCPT.
send 0 --from '' --to b@example.org --data "$T/msg" --dsn-ret FULL --dsn-notify never \
    --dsn-required
received 9 '"from":""'
field_is 9 dsn '{"envid":null,"ret":"FULL"}'
field_is 9 rcptDsn '[{"notify":["NEVER"]}]'
field_is 9 rcptArgs '[{"NOTIFY":"NEVER"}]'
stop_peer

# A server that does not offer DSN: the parameters are left out (RFC 3461 4), with a warning;
# with --dsn-required the message is not sent at all.
start_server --hide-dsn
send 0 --from a@example.org --to b@example.org --data "$T/msg" --dsn-ret HDRS --dsn-envid e1 \
    --dsn-notify DELAY --dsn-orcpt
expect_in "$T/send.err" "S: 250 "
grep -q 'S: 250-DSN' "$T/send.err" && fail "smtp-server --hide-dsn offers DSN"
grep -E -q 'RET=|ENVID=|NOTIFY=|ORCPT=' "$T/send.err" && fail "DSN parameters sent without DSN"
expect_in "$T/send.err" "smtp-send: the server does not offer DSN: RET, ENVID, NOTIFY and ORCPT were not sent"
received 1 '"mailArgs":{"BODY":"8BITMIME"}'
field_is 1 rcptDsn '[null]'
send 69 --from a@example.org --to b@example.org --data "$T/msg" --dsn-notify FAILURE \
    --dsn-required
expect_in "$T/send.out" "b@example.org: not sent: the server does not offer DSN"
grep -q '^C: MAIL' "$T/send.err" && fail "MAIL sent although DSN is required and not offered"
[ -f "$T/srv/2.json" ] && fail "smtp-server took a message that required DSN"
stop_peer

# SIZE (RFC 1870): the message is over the server's limit, so smtp-send does not send it.
start_server --size 500 --hide-pipelining
send 69 --from a@example.org --to b@example.org --data "$T/msg"
expect_in "$T/send.out" "b@example.org: not sent: the message ($size octets) is over the server's SIZE limit"
printf 'Subject: small\r\n\r\nsmall\r\n' >"$T/msg"
send 0 --from a@example.org --to b@example.org --data "$T/msg"
pipelined "$T/send.err" "C: " "S: " NO
received 1 "\"mailArgs\":{\"SIZE\":\"$(wc -c <"$T/msg" | tr -d ' ')\"}"
stop_peer

# LMTP: refused at RCPT, refused and deferred after the data, in RCPT order.
make_message
start_server --lmtp --refuse-rcpt nobody@example.org --data-reply gone@example.org=550 \
    --data-reply full@example.org=452
send 69 --lmtp --from a@example.org --to b@example.org --to nobody@example.org \
    --to gone@example.org --to full@example.org --to c@example.org --data "$T/msg"
pipelined "$T/send.err" "C: " "S: " YES
{
    echo "b@example.org: delivered: 250 <b@example.org> delivered"
    echo "nobody@example.org: refused: 550 <nobody@example.org>: no such user"
    echo "gone@example.org: refused: 550 <gone@example.org> not delivered"
    echo "full@example.org: deferred: 452 <full@example.org> not delivered"
    echo "c@example.org: delivered: 250 <c@example.org> delivered"
} >"$T/expected.out"
cmp "$T/expected.out" "$T/send.out" || fail "per-recipient lines differ"
received 1 '"to":["b@example.org","gone@example.org","full@example.org","c@example.org"]' \
    '"type":"LMTP"'
send 0 --lmtp --from a@example.org --to b@example.org --data "$T/msg"
received 2
stop_peer
echo PASS
