#!/bin/sh
# SPDX-License-Identifier: MIT
# swaks → smtp-proxy --xclient → Postfix's smtpd (a private instance, postfix.sh) with
# smtpd_authorized_xclient_hosts = 127.0.0.1: Postfix records the real client, not the proxy
# (swaks connects from 127.0.0.2 when the loopback takes it, from a port of its own: Postfix's
# queue line says client=unknown[ADDR]:PORT with swaks's address and port, and its Received field
# names that address); the message is delivered byte for byte, pipelined (no "improper command
# pipelining" in Postfix's log); an unknown recipient's "550 5.1.1 ..." and a "552 5.3.4" after
# the data (message_size_limit below the message, which swaks sends without SIZE=, from an
# smtpd that does not announce SIZE) reach swaks exactly as Postfix gives them to swaks
# directly; nothing is delivered for a refused message. Last, two once bugs of smtp-proxy
# (issue #15, fixed): the HELO Postfix records must be swaks's (the EHLO after XCLIENT), not the
# proxy's; over a SIZE that Postfix announces, the session must go on as it does directly (QUIT
# answered 221).
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/postfix.sh"
. "$INTEROP/peers.sh"
. "$INTEROP/proxy.sh"
need swaks python3
echo "peer: $(version_of swaks)"

pf_init
pf_set "smtpd_authorized_xclient_hosts = 127.0.0.1" "smtpd_client_port_logging = yes" \
    "message_size_limit = 20000"
pf_mailbox b@example.org c@example.org
pf_nosize=$(free_port)
pf_service "127.0.0.1:$pf_nosize inet n - n - - smtpd -o smtpd_discard_ehlo_keywords=size"
pf_start
start_proxy --upstream "127.0.0.1:$pf_port" --xclient

caddr=$(second_loopback)
[ -n "$caddr" ] || caddr=127.0.0.1
echo "swaks connects from $caddr"
pf_message "$T/msg" 8bit
# swaks ends --data with CRLF "." CRLF after the data as given: one more empty line arrives.
cp "$T/msg" "$T/msg.swaks"
printf '\r\n' >>"$T/msg.swaks"
qid='s/queued as [0-9A-Za-z]*/queued as QID/'

# 1. Delivered through the proxy, pipelined; Postfix knows swaks's address and port.
cport=$(free_port)
swaks_to "$pport" 0 "$T/sw-deliver.log" --to b@example.org --data "@$T/msg" --pipeline \
    --local-interface "$caddr" --local-port "$cport"
pipelined "$T/sw-deliver.log" " -> " "<"
expect_in "$T/sw-deliver.log" "<-  220 proxy.test ESMTP"
pf_delivered 1 1 "$T/msg.swaks" ESMTP
[ "$(pf_log_count ": client=unknown[$caddr]:$cport")" -eq 1 ] ||
    fail "Postfix's log lacks client=unknown[$caddr]:$cport (XCLIENT's ADDR and PORT)"
cp "$T/got.hdr" "$T/deliver.hdr"
expect_in "$T/deliver.hdr" "(unknown [$caddr])"
expect_in "$T/proxy.log" "[1] connected from $caddr:$cport"
expect_in "$T/proxy.log" "[1] upstream: XCLIENT 220"

# 2. An unknown recipient among good ones: Postfix's 550 5.1.1 text, as swaks gets it directly.
swaks_to "$pf_port" 0 "$T/sw-550-direct.log" --to b@example.org,nobody@example.org \
    --data "@$T/msg"
swaks_to "$pport" 0 "$T/sw-550-proxy.log" --to b@example.org,nobody@example.org \
    --data "@$T/msg" --pipeline
expect_in "$T/sw-550-proxy.log" \
    "<** 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
same_replies "$T/sw-550-direct.log" "$T/sw-550-proxy.log" "$qid"
pf_delivered 1 2 "$T/msg.swaks" ESMTP
# Only unknown recipients: no transaction (swaks exits 24), the same replies both ways.
swaks_to "$pf_port" 24 "$T/sw-none-direct.log" --to nobody@example.org,other@example.org \
    --data "@$T/msg"
swaks_to "$pport" 24 "$T/sw-none-proxy.log" --to nobody@example.org,other@example.org \
    --data "@$T/msg"
same_replies "$T/sw-none-direct.log" "$T/sw-none-proxy.log"

# 3. Over message_size_limit, no SIZE= declared, upstream not announcing SIZE (a second smtpd
# with smtpd_discard_ehlo_keywords = size, so the proxy does not enforce a limit of its own):
# Postfix refuses after the data (552 5.3.4), swaks gets that reply through the proxy as it
# gets it directly, the session goes on (QUIT: 221); nothing delivered.
python3 -c 'import sys; sys.stdout.write("Subject: big\r\n\r\n" + ("x" * 78 + "\r\n") * 400)' \
    >"$T/big"
stop_proxy
start_proxy --upstream "127.0.0.1:$pf_nosize" --xclient
swaks_to "$pf_nosize" 26 "$T/sw-552-direct.log" --to c@example.org --data "@$T/big"
swaks_to "$pport" 26 "$T/sw-552-proxy.log" --to c@example.org --data "@$T/big"
expect_in "$T/sw-552-direct.log" "<** 552 5.3.4 "
expect_in "$T/sw-552-direct.log" "<-  221 "
same_replies "$T/sw-552-direct.log" "$T/sw-552-proxy.log"
grep -q 'SIZE=' "$T/sw-552-proxy.log" && fail "swaks declared SIZE="
pf_wait_files "$PF/mail/2/new" 0
stop_proxy
[ "$(pf_log_count 'improper command pipelining')" -eq 0 ] ||
    fail "Postfix saw improper command pipelining"

# Once bugs of smtp-proxy (issue #15, fixed), checked last.
# 4. With SIZE announced (Postfix's first smtpd), a message over it without SIZE=: upstream gets
# it whole and refuses it, and the client's next command, QUIT here, gets 221 as directly (the
# proxy once refused it itself and cut upstream, and QUIT got 421 4.3.2).
start_proxy --upstream "127.0.0.1:$pf_port" --xclient
swaks_to "$pf_port" 26 "$T/sw-552size-direct.log" --to c@example.org --data "@$T/big"
swaks_to "$pport" 26 "$T/sw-552size-proxy.log" --to c@example.org --data "@$T/big"
replies "$T/sw-552size-direct.log" >"$T/sw-552size-direct.log.replies"
replies "$T/sw-552size-proxy.log" >"$T/sw-552size-proxy.log.replies"
cmp -s "$T/sw-552size-direct.log.replies" "$T/sw-552size-proxy.log.replies" ||
    fail "over upstream's SIZE without SIZE=: the client's session differs: $(diff "$T/sw-552size-direct.log.replies" "$T/sw-552size-proxy.log.replies" | grep '^[<>]' | tr '\n' ' ')"
pf_wait_files "$PF/mail/2/new" 0
stop_proxy
# 5. The HELO Postfix records for a client through smtp-proxy --xclient must be the client's
# (XCLIENT HELO=swaks.example). After XCLIENT's 220 the proxy says EHLO again with its own
# name, and Postfix records that one: Received "from proxy.test (unknown [...])", and
# "helo=<proxy.test>" in its reject lines.
grep -F -q "Received: from swaks.example (unknown [$caddr])" "$T/deliver.hdr" ||
    fail "Postfix records the proxy's HELO, not the client's: $(grep '^Received' "$T/deliver.hdr")"
pf_stop
echo "PASS (postfix $(version_of postfix))"
