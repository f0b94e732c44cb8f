#!/bin/sh
# SPDX-License-Identifier: MIT
# Postfix's smtp client → smtp-proxy --xclient → Postfix's smtpd, in one private instance
# (postfix.sh): messages injected with Postfix's sendmail are sent by pickup(8) to the relay
# transport at the proxy (pickup's content_filter, FILTER_README's after-queue setup, so that
# they leave through Postfix's smtp client whatever their domain); the proxy relays them to a
# second smtpd (no content_filter, smtpd_authorized_xclient_hosts = 127.0.0.1), which delivers
# them with virtual(8). Checked: each delivered file is the injected message byte for byte once
# the fields Postfix adds are removed; Postfix's smtpd logged the proxy's client (Postfix's smtp
# client, its port as the proxy saw it), not the proxy's own connection; the "queued as" that
# Postfix's smtp client logs is the second smtpd's queue id (its 250 relayed as it is); an
# unknown recipient's 550 5.1.1 reaches Postfix's smtp client unchanged (its bounce log line and
# the DSN delivered to the sender hold it); 20 messages over Postfix's cached connections (reused
# with RSET) all delivered. Last, the HELO the second smtpd records must be the smtp client's.
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/postfix.sh"
. "$INTEROP/proxy.sh"

pf_init
pf_in=$(free_port)
start_proxy --upstream "127.0.0.1:$pf_in" --xclient
sed "s|^pickup .*pickup\$|& -o content_filter=relay:[127.0.0.1]:$pport|" "$PF_CONF/master.cf" \
    >"$T/master.cf" || fail "master.cf"
cp "$T/master.cf" "$PF_CONF/master.cf" || fail "master.cf"
grep -q "content_filter=relay" "$PF_CONF/master.cf" || fail "no pickup line in master.cf"
o="-o content_filter= -o smtpd_authorized_xclient_hosts=127.0.0.1"
pf_service "127.0.0.1:$pf_in inet n - n - - smtpd $o -o smtpd_client_port_logging=yes"
# Postfix's smtp client keeps its connections to the proxy for reuse (scache(8)); the list is
# matched against the nexthop's host, without brackets and port.
pf_set "smtp_connection_cache_destinations = 127.0.0.1" "smtp_tls_security_level = none"
pf_mailbox b@example.org c@example.org a@example.org
pf_start

# delivered MAILBOX N MESSAGE: N files in Maildir MAILBOX, each MESSAGE once virtual(8)'s fields,
# the second smtpd's Received and pickup's Received are removed (in that order, nothing else).
# The files are removed; the last one's removed fields stay in $T/got.hdr.
delivered() {
    pf_wait_files "$PF/mail/$1/new" "$2"
    for f in "$PF/mail/$1/new"/*; do
        [ -f "$f" ] || continue
        pf_strip "$f" "$T/got" lf Return-Path X-Original-To Delivered-To Received Received
        cmp "$3" "$T/got" || fail "$f: the message differs from what was injected"
        expect_in "$T/got.hdr" "by postfix.test (Postfix) with ESMTP id "
        expect_in "$T/got.hdr" "Received: by postfix.test (Postfix, from userid 0)"
        rm -f "$f"
    done
}

# 1. Two recipients, one message: delivered to both through the proxy.
pf_message "$T/msg" 8bit
timeout 30 sendmail -C "$PF_CONF" -i -f a@example.org b@example.org c@example.org <"$T/msg" ||
    fail "Postfix's sendmail failed"
delivered 1 1 "$T/msg"
cp "$T/got.hdr" "$T/deliver.hdr"
delivered 2 1 "$T/msg"
# The second smtpd's session: XCLIENT made it the smtp client's (its port as the proxy saw it).
cport=$(sed -n 's/^smtp-proxy: \[1\] connected from 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/proxy.log")
[ -n "$cport" ] || fail "the proxy logged no connection from Postfix's smtp client"
qid=$(sed -n "s/.*postfix\/smtpd\[[0-9]*\]: \([0-9A-F]*\): client=unknown\[127\.0\.0\.1\]:$cport\$/\1/p" \
    "$T/postfix.log")
[ -n "$qid" ] || fail "Postfix's smtpd did not log client=unknown[127.0.0.1]:$cport (XCLIENT)"
expect_in "$T/postfix.log" "relay=127.0.0.1[127.0.0.1]:$pport, "
expect_in "$T/postfix.log" "status=sent (250 2.0.0 Ok: queued as $qid)"
expect_in "$T/deliver.hdr" "(unknown [127.0.0.1])"
# The proxy's own connection to the second smtpd is another one (another port).
expect_in "$T/postfix.log" ": connect from unknown[127.0.0.1]:"
[ "$(pf_log_count ": connect from unknown[127.0.0.1]:$cport")" -eq 0 ] ||
    fail "the proxy's upstream connection has the client's port"

# 2. An unknown recipient: the 550 5.1.1 of the second smtpd reaches Postfix's smtp client as
# it is; b@ still gets the message, and the sender the DSN that quotes the reply.
reject="550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
timeout 30 sendmail -C "$PF_CONF" -i -f a@example.org b@example.org nobody@example.org \
    <"$T/msg" || fail "Postfix's sendmail failed"
delivered 1 1 "$T/msg"
expect_in "$T/postfix.log" \
    "status=bounced (host 127.0.0.1[127.0.0.1] said: $reject (in reply to RCPT TO command))"
pf_wait_files "$PF/mail/3/new" 1
# The DSN's Diagnostic-Code field (RFC 3464), unfolded: Postfix's smtp client's reply as it is.
awk '/^Diagnostic-Code:/ { d = $0; on = 1; next } on && /^[ \t]/ { sub(/^[ \t]+/, " "); d = d $0; next }
    { on = 0 } END { print d }' "$PF/mail/3/new/"* >"$T/dsn.code"
expect_in "$T/dsn.code" "Diagnostic-Code: smtp; $reject"
rm -f "$PF/mail/3/new/"*

# 3. 20 messages at once: every one delivered, identical, over Postfix's cached connections.
i=0
while [ $i -lt 20 ]; do
    timeout 30 sendmail -C "$PF_CONF" -i -f a@example.org c@example.org <"$T/msg" ||
        fail "Postfix's sendmail failed"
    i=$((i + 1))
done
delivered 2 20 "$T/msg"
n=$(grep -c '\] connected from' "$T/proxy.log")
echo "$n connections through the proxy for 22 messages"
[ "$(pf_log_count ', conn_use=')" -gt 0 ] ||
    fail "Postfix's smtp client did not reuse its connections through the proxy"
[ "$(pf_log_count 'improper command pipelining')" -eq 0 ] ||
    fail "Postfix saw improper command pipelining"

pf_stop
stop_proxy
# Once a bug (issue #15, fixed): the HELO the second smtpd records must be the smtp client's
# (postfix.test, XCLIENT HELO=); after XCLIENT's 220 the proxy says EHLO again with its own name.
grep -F -q "Received: from postfix.test (unknown [127.0.0.1])" "$T/deliver.hdr" ||
    fail "Postfix records the proxy's HELO, not its smtp client's: $(grep '^Received: from' "$T/deliver.hdr")"
echo "PASS (postfix $(version_of postfix))"
