#!/bin/sh
# SPDX-License-Identifier: MIT
# msmtp against smtp-sink (a configuration file under $T): the headers msmtp adds by default
# (Date, Message-ID: checked line by line, the rest byte for byte), no header added when told
# so, pipelined MAIL/RCPT/DATA, -t (recipients from the headers, Bcc removed, bare LF made
# CRLF), the null sender, DSN (RFC 3461: RET and NOTIFY), and LMTP (protocol lmtp).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need msmtp python3
echo "peer: $(version_of msmtp)"
make_message

# rc_file PORT: the configuration; account "auto" adds headers, "exact" does not.
rc_file() {
    cat >"$T/msmtprc" <<CONF
defaults
host 127.0.0.1
port $1
domain msmtp.example
timeout 20
from a@example.org
tls off
auth off
account auto
account exact
set_from_header off
set_date_header off
set_msgid_header off
account lmtp : exact
protocol lmtp
CONF
    chmod 600 "$T/msmtprc"
}

# ms EXPECTED_STATUS [MSMTP OPTIONS AND RECIPIENTS...] < message
ms() {
    expect=$1
    shift
    msmtp -C "$T/msmtprc" --debug "$@" >"$T/msmtp.log" 2>&1
    rc=$?
    [ $rc -eq "$expect" ] || fail "msmtp $* exited $rc, expected $expect"
}

start_sink --maildir "$T/md"
rc_file "$port"
# By default msmtp adds Date and Message-ID in front of a message that lacks them.
ms 0 -a auto b@example.org <"$T/msg"
# MAIL, RCPT and DATA pipelined (RFC 2920): all sent before the reply to MAIL.
pipelined "$T/msmtp.log" "--> " "<-- "
stored=$(sed -n 's/.*"file":"\([^"]*\)".*/\1/p' "$T/sink.out")
head -n 2 "$stored" >"$T/added"
LC_ALL=C grep -q -E "^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}$(printf '\r')\$" "$T/added" ||
    fail "no Date line first: $(cat "$T/added")"
LC_ALL=C grep -q -E "^Message-ID: <[!-=?-~]+@[!-=?-~]+>$(printf '\r')\$" "$T/added" ||
    fail "no Message-ID line second: $(cat "$T/added")"
cat "$T/added" "$T/msg" >"$T/msg.auto"
expect_msg "$T/msg.auto" '{"from":"a@example.org","to":["b@example.org"],"helo":"msmtp.example"}'
# Nothing added: the message as it is.
ms 0 -a exact b@example.org c@example.org <"$T/msg"
expect_msg "$T/msg" '{"to":["b@example.org","c@example.org"]}'
# -t: the recipients from To, Cc and Bcc; Bcc removed; a bare LF sent as CRLF.
printf 'From: a@example.org\r\nTo: b@example.org\r\nBcc: hidden@example.org\r\nSubject: t\r\n\r\none\ntwo\r\n' \
    >"$T/msg.t"
ms 0 -a exact -t <"$T/msg.t"
printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: t\r\n\r\none\r\ntwo\r\n' >"$T/msg.t.sent"
expect_msg "$T/msg.t.sent" '{"to":["b@example.org","hidden@example.org"]}'
# The null sender.
ms 0 -a exact -f '' b@example.org <"$T/msg"
expect_in "$T/msmtp.log" "--> MAIL FROM:<>"
expect_msg "$T/msg" '{"from":""}'
# DSN parameters (the sink offers DSN): accepted with 250.
ms 0 -a exact --dsn-return=hdrs --dsn-notify=success,delay b@example.org <"$T/msg"
expect_in "$T/msmtp.log" "--> MAIL FROM:<a@example.org> RET=HDRS"
expect_in "$T/msmtp.log" "--> RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY"
expect_msg "$T/msg"
check_sink

start_sink --maildir "$T/md" --lmtp
rc_file "$port"
ms 0 -a lmtp b@example.org c@example.org <"$T/msg"
expect_in "$T/msmtp.log" "--> LHLO msmtp.example"
[ "$(tr -d "\r" <"$T/msmtp.log" | sed -n "/^--> \.$/,\$p" | grep -c '^<-- 250 ')" -eq 2 ] ||
    fail "expected two replies after the data (RFC 2033 4.2)"
expect_msg "$T/msg" '{"to":["b@example.org","c@example.org"]}'
check_sink
echo PASS
