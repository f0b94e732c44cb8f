#!/bin/sh
# SPDX-License-Identifier: MIT
# Our client (smtp-send) against Postfix's smtpd, in clear text (t_postfix_starttls.sh does TLS).
# A private Postfix instance (postfix.sh) on 127.0.0.1 delivers example.org with virtual(8) into
# Maildirs under $T; each delivered file must be the message smtp-send sent, byte for byte, once
# the four header fields Postfix puts at its top are removed (pf_delivered in postfix.sh).
# Cases: pipelined and not, BDAT and DATA (the transcript shows which was used), several messages
# on one connection, refused recipients among good ones, 8BITMIME, SMTPUTF8, SIZE over the limit.
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/postfix.sh"

pf_init
pf_mailbox b@example.org c@example.org 'δοκιμή@example.org' 'jörg@bücher.example'
# Refused recipients: one by an access table (554 5.7.1), one unknown to virtual_mailbox_maps
# (550 5.1.1, smtpd_reject_unlisted_recipient).
printf 'rejected@example.org REJECT refused by the access table of the test\n' \
    >"$PF_CONF/rcpt_access"
pf_set "smtpd_recipient_restrictions = check_recipient_access texthash:$PF_CONF/rcpt_access" \
    "virtual_mailbox_domains = example.org, bücher.example" \
    "message_size_limit = 60000"
pf_start

# send EXPECTED_STATUS [OPTIONS...]: smtp-send -v to Postfix; transcript in $T/send.err.
send() {
    expect=$1
    shift
    "$BIN/smtp-send" -v --timeout 30 --server "127.0.0.1:$pf_port" --helo client.example "$@" \
        >"$T/send.out" 2>"$T/send.err"
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

# the_line_after PREFIX: the transcript line that follows the first one starting with PREFIX.
the_line_after() {
    awk -v p="$1" 'found { print; exit } index($0, p) == 1 { found = 1 }' "$T/send.err"
}

pf_message "$T/msg7" 7bit
pf_message "$T/msg8" 8bit

# Pipelined (Postfix offers PIPELINING) with BDAT (it offers CHUNKING): the default.
send 0 --from a@example.org --to b@example.org --data "$T/msg7"
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 Ok"
expect_in "$T/send.err" "S: 250 CHUNKING"
expect_in "$T/send.err" "C: BDAT $(wc -c <"$T/msg7" | tr -d ' ') LAST"
grep -q '^C: DATA' "$T/send.err" && fail "DATA sent although CHUNKING is offered"
case $(the_line_after "C: MAIL FROM:") in
"C: RCPT TO:<b@example.org>") ;;
*) fail "RCPT was not pipelined after MAIL" ;;
esac
grep -q "^C: MAIL FROM:<a@example.org> SIZE=[0-9]*$" "$T/send.err" ||
    fail "MAIL without SIZE=, or with BODY= for a 7-bit message"
pf_delivered 1 1 "$T/msg7" ESMTP

# Without pipelining and with DATA (dot-stuffing on the wire), and the other two combinations.
send 0 --from a@example.org --to b@example.org --data "$T/msg7" --no-pipelining --no-chunking
expect_in "$T/send.err" "C: DATA"
expect_in "$T/send.err" "C: .."
case $(the_line_after "C: MAIL FROM:") in
"S: 250 2.1.0 Ok") ;;
*) fail "--no-pipelining: MAIL's reply was not awaited" ;;
esac
pf_delivered 1 1 "$T/msg7" ESMTP
send 0 --from a@example.org --to b@example.org --data "$T/msg7" --no-pipelining
expect_in "$T/send.err" "C: BDAT"
send 0 --from a@example.org --to b@example.org --data "$T/msg7" --no-chunking
expect_in "$T/send.err" "C: DATA"
pf_delivered 1 2 "$T/msg7" ESMTP

# Several messages on one connection: Postfix logs the counts of the session at disconnect.
send 0 --from a@example.org --to b@example.org --data "$T/msg7" --count 7
pf_delivered 1 7 "$T/msg7" ESMTP
[ "$(pf_log_count "ehlo=1 mail=7 rcpt=7 bdat=7 quit=1 commands=23")" -eq 1 ] ||
    fail "the 7 messages did not go over one connection"
[ "$(grep -c '^C: EHLO' "$T/send.err")" -eq 1 ] || fail "--count 7: more than one EHLO"

# Refused recipients among good ones: exit 69, one line per recipient, the good ones delivered
# (one copy each: virtual(8) delivers per recipient).
send 69 --from a@example.org --to b@example.org --to rejected@example.org \
    --to unknown@example.org --to c@example.org --data "$T/msg7"
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 Ok"
expect_in "$T/send.out" "rejected@example.org: refused: 554 5.7.1 <rejected@example.org>: Recipient address rejected: refused by the access table of the test"
expect_in "$T/send.out" "unknown@example.org: refused: 550 5.1.1 <unknown@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
expect_in "$T/send.out" "c@example.org: delivered: 250 2.0.0 Ok"
[ "$(wc -l <"$T/send.out")" -eq 4 ] || fail "expected 4 recipient lines"
pf_delivered 1 1 "$T/msg7" ESMTP
pf_delivered 2 1 "$T/msg7" ESMTP
# ... and the same without pipelining.
send 69 --from a@example.org --to rejected@example.org --to c@example.org --data "$T/msg7" \
    --no-pipelining
expect_in "$T/send.out" "rejected@example.org: refused: 554 5.7.1"
expect_in "$T/send.out" "c@example.org: delivered: 250 2.0.0 Ok"
pf_delivered 2 1 "$T/msg7" ESMTP

# 8BITMIME (RFC 6152): BODY=8BITMIME with BDAT and with DATA; the 8-bit bytes arrive unchanged.
send 0 --from a@example.org --to b@example.org --data "$T/msg8"
grep -q "^C: MAIL FROM:<a@example.org> SIZE=[0-9]* BODY=8BITMIME$" "$T/send.err" ||
    fail "MAIL without BODY=8BITMIME"
send 0 --from a@example.org --to b@example.org --data "$T/msg8" --no-chunking
expect_in "$T/send.err" "BODY=8BITMIME"
pf_delivered 1 2 "$T/msg8" ESMTP

# SMTPUTF8 (RFC 6531): UTF-8 in the local parts and a domain, and in the headers. Postfix says
# "with UTF8SMTP" in Received (RFC 6531 3.7.3).
pf_message "$T/msgu" 8bit 'Jörg <jörg@bücher.example>' 'δοκιμή@example.org'
send 0 --from 'jörg@bücher.example' --to 'δοκιμή@example.org' --to 'jörg@bücher.example' \
    --data "$T/msgu"
grep -q "^C: MAIL FROM:<jörg@bücher.example> SIZE=[0-9]* BODY=8BITMIME SMTPUTF8$" "$T/send.err" ||
    fail "MAIL without SMTPUTF8"
expect_in "$T/send.out" "δοκιμή@example.org: delivered: 250"
pf_delivered 3 1 "$T/msgu" UTF8SMTP
pf_delivered 4 1 "$T/msgu" UTF8SMTP

# pad FILE SIZE: a 7-bit message of SIZE octets or a little more (lines of 100 octets added).
pad() {
    pf_message "$1" 7bit
    awk -v n=$((($2 - $(wc -c <"$1") + 99) / 100)) \
        'BEGIN { for (i = 0; i < n; i++) printf "%098d\r\n", i }' >>"$1"
}

# A message of several BDAT chunks (RFC 3030 2: each BDAT carries its exact octet count, the
# last one says LAST); Postfix joins them into the same message.
pad "$T/chunks" 40000
send 0 --from a@example.org --to b@example.org --data "$T/chunks"
[ "$(grep -o 'BDAT [0-9]*' "$T/send.err" | wc -l)" -ge 2 ] || fail "40000 octets in one BDAT"
pf_delivered 1 1 "$T/chunks" ESMTP

# SIZE (RFC 1870): Postfix offers SIZE 60000 (message_size_limit). A larger message is not sent
# at all (exit 69, no MAIL command) and nothing is delivered.
pad "$T/big" 60001
send 69 --from a@example.org --to b@example.org --data "$T/big"
expect_in "$T/send.err" "S: 250-SIZE 60000"
expect_in "$T/send.out" "b@example.org: not sent: the message ($(wc -c <"$T/big" | tr -d ' ') octets) is over the server's SIZE limit"
grep -q '^C: MAIL' "$T/send.err" && fail "MAIL sent for a message over SIZE"
# A message just under the limit passes MAIL with its SIZE=, but Postfix counts its queue file
# (envelope and Received header included) and refuses it after the data with 552 5.3.4
# (RFC 1870 6.3); smtp-send reports it for the recipient and exits 69. With BDAT, then DATA.
pad "$T/near" 59800
send 69 --from a@example.org --to b@example.org --data "$T/near"
expect_in "$T/send.err" "C: MAIL FROM:<a@example.org> SIZE=$(wc -c <"$T/near" | tr -d ' ')"
expect_in "$T/send.out" "b@example.org: refused: 552 5.3.4 Error: message file too big"
send 69 --from a@example.org --to b@example.org --data "$T/near" --no-chunking
expect_in "$T/send.out" "b@example.org: refused: 552 5.3.4 Error: message file too big"
pf_wait_files "$PF/mail/1/new" 0

[ "$(pf_log_count "improper command pipelining")" -eq 0 ] || fail "Postfix saw improper pipelining"
pf_stop
echo "PASS (postfix $(version_of postfix))"
