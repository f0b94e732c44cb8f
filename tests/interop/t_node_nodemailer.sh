#!/bin/sh
# SPDX-License-Identifier: MIT
# nodemailer's SMTP client (npm) against smtp-sink: a raw message (dot-stuffed, bytes kept),
# one with bare LF and CR (sent as CRLF), a composed multipart message with an attachment
# (compared with nodemailer's own build of it), a recipient over --max-recipients (452,
# reported as rejected), DSN parameters (RFC 3461), SMTPUTF8 addresses, the null sender,
# pipelining; then LMTP (lmtp: true). Stored messages compared byte for byte.
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need_node
need python3
echo "peer: nodemailer $(version_of nodemailer), node $(node --version)"
make_message
printf 'Subject: lf\n\n.dot\nbare\rcr\nlast' >"$T/lf"
printf 'Subject: lf\r\n\r\n.dot\r\nbare\r\ncr\r\nlast\r\n' >"$T/lf.sent"

# nm CONFIG: runs node/nodemailer_client.mjs; results in $T/nm.out, transcript in $T/nm.log.
nm() {
    node "$INTEROP/node/nodemailer_client.mjs" "$1" >"$T/nm.out" 2>"$T/nm.log" ||
        fail "nodemailer_client.mjs failed"
}

start_sink --maildir "$T/md" --max-recipients 3
cat >"$T/smtp.json" <<JSON
{
  "transport": {"host": "127.0.0.1", "port": $port, "secure": false, "ignoreTLS": true,
                "name": "nodemailer.example"},
  "expectDir": "$T/exp",
  "mails": [
    {"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org"]}},
     "rawFile": "$T/msg", "expectFile": "$T/msg",
     "stored": {"from": "a@example.org", "to": ["b@example.org"], "helo": "nodemailer.example"}},
    {"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org"]}},
     "rawFile": "$T/lf", "expectFile": "$T/lf.sent", "stored": {"to": ["b@example.org"]}},
    {"mail": {"from": "Alice <a@example.org>", "to": "Bob <b@example.org>",
              "cc": "c@example.org", "bcc": "hidden@example.org",
              "subject": "caf\u00e9 \u2615", "text": "gr\u00fc\u00dfe\n.a dot line\n",
              "html": "<p>gr\u00fc\u00dfe</p>",
              "attachments": [{"filename": "a.txt", "content": "attachment\n.dot\n"}],
              "date": "Mon, 01 Jan 2024 00:00:00 +0000", "messageId": "<1@nodemailer.example>",
              "baseBoundary": "interop"},
     "stored": {"from": "a@example.org",
                "to": ["b@example.org", "c@example.org", "hidden@example.org"]}},
    {"mail": {"envelope": {"from": "a@example.org",
              "to": ["r1@example.org", "r2@example.org", "r3@example.org", "r4@example.org",
                     "r5@example.org"]}},
     "rawFile": "$T/msg", "expectFile": "$T/msg",
     "stored": {"to": ["r1@example.org", "r2@example.org", "r3@example.org"]}},
    {"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org"]},
              "dsn": {"id": "env-1", "return": "headers", "notify": ["success", "failure"],
                      "recipient": "a@example.org"}},
     "rawFile": "$T/msg", "expectFile": "$T/msg", "stored": {"to": ["b@example.org"]}},
    {"mail": {"envelope": {"from": "j\u00f6rg@example.org", "to": ["\u00e9l\u00e8ve@example.org"]}},
     "rawFile": "$T/msg", "expectFile": "$T/msg",
     "stored": {"from": "j\u00f6rg@example.org", "to": ["\u00e9l\u00e8ve@example.org"]}},
    {"mail": {"envelope": {"from": "", "to": ["b@example.org"]}},
     "rawFile": "$T/msg", "expectFile": "$T/msg", "stored": {"from": "", "to": ["b@example.org"]}}
  ]
}
JSON
nm "$T/smtp.json"
expect_in "$T/nm.out" '{"i":0,"accepted":["b@example.org"],"rejected":[],"response":"250 2.0.0 Ok: queued"}'
expect_in "$T/nm.out" '{"i":3,"accepted":["r1@example.org","r2@example.org","r3@example.org"],"rejected":["r4@example.org","r5@example.org"],'
expect_in "$T/nm.log" "C: MAIL FROM:<a@example.org> RET=HDRS ENVID=env-1"
expect_in "$T/nm.log" "C: RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.org"
expect_in "$T/nm.log" "SMTPUTF8"
expect_in "$T/nm.log" "C: MAIL FROM:<>"
# PIPELINING: MAIL, RCPT and DATA written before the reply to MAIL is read.
pipelined "$T/nm.log" "C: " "S: "
grep -q '"error"' "$T/nm.out" && fail "a message failed: $(grep '"error"' "$T/nm.out")"
check_sink

start_sink --maildir "$T/md" --lmtp
cat >"$T/lmtp.json" <<JSON
{
  "transport": {"host": "127.0.0.1", "port": $port, "secure": false, "ignoreTLS": true,
                "lmtp": true, "name": "nodemailer.example"},
  "expectDir": "$T/exp",
  "mails": [
    {"mail": {"envelope": {"from": "a@example.org", "to": ["b@example.org", "c@example.org"]}},
     "rawFile": "$T/msg", "expectFile": "$T/msg",
     "stored": {"to": ["b@example.org", "c@example.org"], "helo": "nodemailer.example"}}
  ]
}
JSON
nm "$T/lmtp.json"
expect_in "$T/nm.log" "C: LHLO nodemailer.example"
expect_in "$T/nm.out" '{"i":0,"accepted":["b@example.org","c@example.org"],"rejected":[]'
check_sink
echo PASS
