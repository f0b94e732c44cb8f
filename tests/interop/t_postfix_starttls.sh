#!/bin/sh
# SPDX-License-Identifier: MIT
# Our client (smtp-send) against Postfix's smtpd over STARTTLS (RFC 3207), with a certificate made
# at test time (make_cert: CN and SAN localhost, our own CA). Postfix (OpenSSL) is the TLS server,
# smtp-send (mbedTLS) the client verifying it with --cafile. The private instance (postfix.sh)
# has two smtpd ports: $pf_port offers STARTTLS (smtpd_tls_security_level = may), $enc_port
# requires it (encrypt). Each delivered file must be what smtp-send sent (pf_delivered).
. "${SMTP_SRC:?}/tests/interop/lib.sh"
. "$INTEROP/postfix.sh"

make_cert
pf_init
pf_mailbox b@example.org
enc_port=$(free_port)
pf_service "127.0.0.1:$enc_port inet n - n - - smtpd -o smtpd_tls_security_level=encrypt"
# A third port whose certificate names no host, only IP addresses (mkcert's ipcert.pem: SAN
# iPAddress 127.0.0.1, ::1): reached by address, verified against the address (RFC 6125 and
# RFC 5280 iPAddress; no SNI for an address, RFC 6066 3).
ip_port=$(free_port)
pf_service "127.0.0.1:$ip_port inet n - n - - smtpd -o smtpd_tls_cert_file=$T/pki/ipcert.pem -o smtpd_tls_key_file=$T/pki/key.pem"
pf_set "smtpd_tls_security_level = may" \
    "smtpd_tls_cert_file = $T/pki/cert.pem" \
    "smtpd_tls_key_file = $T/pki/key.pem" \
    "smtpd_tls_loglevel = 1" \
    "smtpd_tls_received_header = yes"
pf_start

# send EXPECTED_STATUS PORT [OPTIONS...]: smtp-send -v to Postfix, by the certificate's name
# (localhost: 127.0.0.1 in /etc/hosts); transcript in $T/send.err.
send() {
    expect=$1
    p=$2
    shift 2
    "$BIN/smtp-send" -v --timeout 30 --server "localhost:$p" --helo client.example "$@" \
        >"$T/send.out" 2>"$T/send.err"
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

# tls_first: the transcript shows STARTTLS, its 220, a handshake, and a second EHLO before MAIL.
tls_first() {
    awk '/^C: STARTTLS$/ { s = 1 } s == 1 && /^S: 220 / { s = 2 } s == 2 && /^\* / { s = 3 }
        s == 3 && /^C: EHLO / { s = 4 } /^C: MAIL / { exit s != 4 } END { exit s != 4 }' \
        "$T/send.err" || fail "no STARTTLS, 220, handshake and EHLO before MAIL"
    [ "$(grep -c '^C: EHLO ' "$T/send.err")" -eq 2 ] || fail "expected EHLO twice"
}

pf_message "$T/msg8" 8bit

# STARTTLS required by the client, the server's certificate verified against our CA; pipelined
# BDAT (the default), then DATA without pipelining. Received says ESMTPS (RFC 3848) and, with
# smtpd_tls_received_header, which protocol was negotiated.
send 0 "$pf_port" --tls-required --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg8"
tls_first
expect_in "$T/send.err" "C: BDAT"
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 Ok"
pf_delivered 1 1 "$T/msg8" ESMTPS
expect_in "$T/got.hdr" "(using TLSv1."
send 0 "$pf_port" --tls-required --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg8" --no-pipelining --no-chunking
tls_first
expect_in "$T/send.err" "C: DATA"
pf_delivered 1 1 "$T/msg8" ESMTPS

# Several messages over one TLS session.
send 0 "$pf_port" --tls-required --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg8" --count 5
pf_delivered 1 5 "$T/msg8" ESMTPS
[ "$(pf_log_count "ehlo=2 starttls=1 mail=5 rcpt=5 bdat=5 quit=1 commands=19")" -eq 1 ] ||
    fail "the 5 messages did not go over one TLS connection"

# A server that requires TLS: --starttls uses it; without it, MAIL is refused (530, exit 69).
send 0 "$enc_port" --starttls --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg8"
tls_first
pf_delivered 1 1 "$T/msg8" ESMTPS
send 69 "$enc_port" --from a@example.org --to b@example.org --data "$T/msg8"
expect_in "$T/send.out" "b@example.org: refused: 530 5.7.0 Must issue a STARTTLS command first"
grep -q '^C: STARTTLS' "$T/send.err" && fail "STARTTLS without --starttls"

# A certificate that does not verify (the system's CAs do not know ours): the handshake fails
# (exit 74) and no message is sent.
send 74 "$pf_port" --tls-required --from a@example.org --to b@example.org --data "$T/msg8"
grep -q '^C: MAIL' "$T/send.err" && fail "MAIL sent after a failed verification"
pf_wait_files "$PF/mail/1/new" 0

# By IP address, verified: Postfix's certificate names 127.0.0.1 among its iPAddress names;
# by the name localhost (not in that certificate) the handshake fails (74).
"$BIN/smtp-send" -v --timeout 30 --server "127.0.0.1:$ip_port" --helo client.example \
    --tls-required --cafile "$T/pki/ca.pem" --from a@example.org --to b@example.org \
    --data "$T/msg8" >"$T/send.out" 2>"$T/send.err" || fail "smtp-send to 127.0.0.1 (IP certificate) exited $?"
expect_in "$T/send.out" "b@example.org: delivered: 250 2.0.0 Ok"
pf_delivered 1 1 "$T/msg8" ESMTPS
[ -n "${SMTP_PROBE_KEEP:-}" ] && cat "$T/send.out" "$T/send.err" >"$SMTP_PROBE_KEEP.ip"
send 74 "$ip_port" --tls-required --cafile "$T/pki/ca.pem" --from a@example.org \
    --to b@example.org --data "$T/msg8"
expect_in "$T/send.out" "b@example.org: not sent: TLS: certificate verification failed: "
grep -q '^C: MAIL' "$T/send.err" && fail "MAIL sent after a failed verification"

# --probe over STARTTLS: the capabilities after TLS, the TLS version, cipher and certificate
# (subject, issuer, validity), no message (kept in $T/probe.out; the closing note of issue #17
# shows one).
send 0 "$pf_port" --probe --tls-required --cafile "$T/pki/ca.pem"
cp "$T/send.out" "$T/probe.out"
expect_in "$T/probe.out" "tls: TLSv1."
expect_in "$T/probe.out" "capability: PIPELINING"
expect_in "$T/probe.out" "tls-subject: CN=localhost"
grep -q '^C: MAIL' "$T/send.err" && fail "--probe sent MAIL"
[ -n "${SMTP_PROBE_KEEP:-}" ] && cp "$T/probe.out" "$SMTP_PROBE_KEEP"

[ "$(pf_log_count "improper command pipelining")" -eq 0 ] || fail "Postfix saw improper pipelining"
tls=$(sed -n 's/.*TLS connection established from [^ ]*: \([^ ]*\) with cipher \([^ ]*\).*/\1 \2/p' \
    "$T/postfix.log" | head -n 1)
[ -n "$tls" ] || fail "Postfix logged no TLS connection"
pf_stop
echo "PASS (postfix $(version_of postfix), $tls)"
