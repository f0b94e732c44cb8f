#!/bin/sh
# SPDX-License-Identifier: MIT
# curl's SMTP client against smtp-sink: --mail-from/--mail-rcpt/--upload-file (sent as is,
# dot-stuffed by curl), the EHLO name from the URL, --crlf on a file with LF line ends,
# SMTPUTF8 (RFC 6531: a UTF-8 local part; curl sends the domain as IDNA A-labels), a
# deferred recipient with and without --mail-rcpt-allowfails, VRFY, the null sender, a
# message over --max-size, and --ssl-reqd against a server without STARTTLS.
# Stored messages are compared byte for byte (py_sink_check.py).
. "$SMTP_SRC/tests/interop/lib.sh"
. "$INTEROP/peers.sh"
need curl python3
echo "peer: $(version_of curl)"
make_message

# cu EXPECTED_STATUS [CURL OPTIONS...]: curl -v to smtp://127.0.0.1:$port/curl.example.
cu() {
    expect=$1
    shift
    curl -sS -v --max-time 20 "smtp://127.0.0.1:$port/curl.example" "$@" >"$T/curl.out" \
        2>"$T/curl.log"
    rc=$?
    [ $rc -eq "$expect" ] || fail "curl $* exited $rc, expected $expect"
}

start_sink --maildir "$T/md" --max-recipients 2 --max-size 5000
cu 0 --mail-from a@example.org --mail-rcpt b@example.org --mail-rcpt c@example.org \
    --upload-file "$T/msg"
expect_in "$T/curl.log" "> EHLO curl.example"
expect_in "$T/curl.log" "> MAIL FROM:<a@example.org> SIZE=1014"
expect_msg "$T/msg" '{"from":"a@example.org","to":["b@example.org","c@example.org"],"helo":"curl.example"}'
# --crlf turns LF line ends into CRLF; curl adds the final CRLF that is missing.
printf 'Subject: lf\n\n.dot\nlast' >"$T/lf"
cu 0 --mail-from a@example.org --mail-rcpt b@example.org --upload-file "$T/lf" --crlf
printf 'Subject: lf\r\n\r\n.dot\r\nlast\r\n' >"$T/lf.expected"
expect_msg "$T/lf.expected"
# UTF-8 addresses: SMTPUTF8 on MAIL; the domain goes as an A-label (IDNA), the local part as is.
from=$(printf 'j\303\266rg@example.org')
cu 0 --mail-from "$from" --mail-rcpt "$(printf '\303\251l\303\250ve@\303\251cole.example')" \
    --upload-file "$T/msg"
expect_in "$T/curl.log" "SMTPUTF8"
expect_msg "$T/msg" "{\"from\":\"$from\",\"to\":[\"$(printf '\303\251l\303\250ve')@xn--cole-9oa.example\"]}"
# A third recipient over --max-recipients 2 gets 452: curl gives up on the message (55)...
cu 55 --mail-from a@example.org --mail-rcpt b@example.org --mail-rcpt c@example.org \
    --mail-rcpt d@example.org --upload-file "$T/msg"
expect_in "$T/curl.log" "< 452 4.5.3"
# ...unless told to go on with the accepted ones.
cu 0 --mail-from a@example.org --mail-rcpt b@example.org --mail-rcpt c@example.org \
    --mail-rcpt d@example.org --mail-rcpt-allowfails --upload-file "$T/msg"
expect_msg "$T/msg" '{"to":["b@example.org","c@example.org"]}'
# The null sender (curl sends MAIL FROM:<> for an empty --mail-from).
cu 0 --mail-from '' --mail-rcpt b@example.org --upload-file "$T/msg"
expect_in "$T/curl.log" "> MAIL FROM:<>"
expect_msg "$T/msg" '{"from":""}'
# No --upload-file: curl asks VRFY; the sink neither confirms nor denies (252, RFC 5321 3.5.3).
cu 0 --mail-rcpt b@example.org
expect_in "$T/curl.log" "> VRFY b@example.org"
expect_in "$T/curl.out" "252 2.5.0"
# SIZE= over --max-size 5000: refused at MAIL with 552 (RFC 1870 6.1): curl exits 55.
python3 -c 'import sys; sys.stdout.write("Subject: big\r\n\r\n" + ("x" * 78 + "\r\n") * 70)' \
    >"$T/big"
cu 55 --mail-from a@example.org --mail-rcpt b@example.org --upload-file "$T/big"
expect_in "$T/curl.log" "< 552 5.3.4"
# --ssl-reqd without STARTTLS offered: curl refuses to go on (64, CURLE_USE_SSL_FAILED).
cu 64 --ssl-reqd --mail-from a@example.org --mail-rcpt b@example.org --upload-file "$T/msg"
check_sink
echo PASS
