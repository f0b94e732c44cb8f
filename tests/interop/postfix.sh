# SPDX-License-Identifier: MIT
# A private Postfix instance for the interop tests (tests/interop/t_postfix_*.sh source this file
# after lib.sh). Everything lives under $T/postfix: its own config_directory (main.cf, master.cf,
# lookup tables), queue_directory, data_directory and virtual mailboxes; the log goes to
# $T/postfix.log (lib.sh's fail() prints it). The system instance (/etc/postfix, /var/spool/
# postfix) is never read for settings nor started nor stopped. Postfix listens on 127.0.0.1 only,
# on ports from free_port; its own smtp client binds to 127.0.0.1 too. The master is started
# directly as a background job of this shell (not by "postfix start", which forks it away), so
# $pf_pid is its PID; it becomes a session and process group leader, and SIGTERM makes it pass
# the signal to its children and exit (master(8)). pf_stop waits, bounded, for the master and
# its process group.
#
# The master refuses to run without root (mail_owner and setgid_group are the system's postfix
# and postdrop, which Debian's package creates): outside CI a non-root run skips.

PF=$T/postfix
PF_CONF=$PF/etc
pf_pid=
pf_port=
pf_daemons=

# pf_init: checks the needs, writes main.cf and master.cf (smtpd on 127.0.0.1:$pf_port) and
# the queue directories. Add settings with pf_set and services with pf_service, then pf_start.
pf_init() {
    need postfix postconf sendmail
    if [ "$(id -u)" -ne 0 ]; then
        [ -n "${CI:-}" ] && fail "the Postfix tests run as root (the master needs it)"
        skip "Postfix's master needs root"
    fi
    id postfix >/dev/null 2>&1 || fail "no postfix user (install the postfix package)"
    getent group postdrop >/dev/null 2>&1 || fail "no postdrop group (install the postfix package)"
    echo "postfix $(version_of postfix)"
    pf_daemons=$(postconf -d -h daemon_directory)
    [ -x "$pf_daemons/master" ] || fail "no $pf_daemons/master"
    pf_port=$(free_port)
    # The daemons run as postfix and nobody: whatever the caller's umask, they must be able to
    # read the configuration and walk to the queue and the mailboxes.
    umask 022
    mkdir -p "$PF_CONF" "$PF/queue" "$PF/data" "$PF/mail"
    # The queue layout of Postfix's postfix-files (what "post-install create-missing" makes,
    # done here directly: it is quicker and touches nothing outside $PF).
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        mkdir -m 700 "$PF/queue/$d"
        chown postfix "$PF/queue/$d"
    done
    mkdir -m 730 "$PF/queue/maildrop"
    mkdir -m 710 "$PF/queue/public"
    chown postfix:postdrop "$PF/queue/maildrop" "$PF/queue/public"
    mkdir -m 755 "$PF/queue/pid"
    chown postfix "$PF/data"
    chmod 700 "$PF/data"
    # virtual(8) delivers as nobody (virtual_uid_maps below), into Maildirs under $PF/mail.
    chown nobody "$PF/mail"
    cat >"$PF_CONF/main.cf" <<EOF
# A private test instance (tests/interop/postfix.sh): nothing here is the system's.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_bind_address = 127.0.0.1
lmtp_bind_address = 127.0.0.1
myhostname = postfix.test
mydomain = test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.1/32
relay_domains =
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in this test instance
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP
smtpd_error_sleep_time = 0
biff = no
maillog_file = $T/postfix.log
maillog_file_prefixes = $T
# A message that cannot be delivered bounces at once (logged) instead of waiting in the queue.
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
# Headers are not rewritten for SMTP clients on 127.0.0.1 (the default permit_inet_interfaces
# would add Message-ID/Date and rewrite addresses): the message stays as the client sent it.
local_header_rewrite_clients =
# Recipient domains delivered by virtual(8) into Maildirs (texthash: no postmap needed).
virtual_mailbox_domains = example.org
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
EOF
    : >"$PF_CONF/vmailbox"
    cat >"$PF_CONF/master.cf" <<EOF
# service  type  private unpriv chroot wakeup maxproc command (no chroot: no jail to populate)
127.0.0.1:$pf_port inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
virtual   unix  - n n -    - virtual
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

# pf_set NAME=VALUE...: main.cf settings (postconf -e on the private main.cf).
pf_set() {
    postconf -c "$PF_CONF" -e "$@" || fail "postconf -e $*"
}

# pf_service LINE: one more master.cf line (another smtpd port, a transport with -o options).
pf_service() {
    printf '%s\n' "$1" >>"$PF_CONF/master.cf"
}

# pf_mailbox ADDRESS...: virtual(8) delivers ADDRESS into the Maildir $PF/mail/<n>/, n = 1, 2, ...
# in the order given (a plain name, whatever bytes the address holds).
pf_mailbox() {
    for a in "$@"; do
        n=$(($(wc -l <"$PF_CONF/vmailbox") + 1))
        printf '%s %s/\n' "$a" "$n" >>"$PF_CONF/vmailbox"
    done
}

# pf_start: checks the configuration, starts the master in the background, waits (bounded) for
# every inet service of master.cf to accept connections.
pf_start() {
    # Postfix waits until a configuration file or table is older than a second or so before it
    # reads it (dict_load_file(): a file being edited is not read): date them in the past.
    touch -t 200001010000 "$PF_CONF"/*
    postconf -c "$PF_CONF" -n >/dev/null 2>"$T/postconf.err" ||
        fail "main.cf: $(cat "$T/postconf.err")"
    [ -s "$T/postconf.err" ] && fail "postconf warns: $(cat "$T/postconf.err")"
    "$pf_daemons/master" -c "$PF_CONF" </dev/null >"$T/master.err" 2>&1 &
    pf_pid=$!
    track "$pf_pid"
    on_exit pf_cleanup
    for p in $(sed -n 's/^127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$PF_CONF/master.cf"); do
        kill -0 "$pf_pid" 2>/dev/null || fail "the Postfix master exited at start"
        wait_port "$p" 20
    done
}

# pf_group_alive PGID: true when a process of the group (not a zombie) still runs. In
# /proc/PID/stat, "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so the
# fields are counted after its last ")".
pf_group_alive() {
    cat /proc/[0-9]*/stat 2>/dev/null |
        awk -v g="$1" '{ sub(/.*\) /, "") } $3 == g && $1 != "Z" { found = 1 } END { exit !found }'
}

# pf_stop: SIGTERM to the master by PID; it must exit within 20 s, and its process group (the
# daemons it started) must be gone within 20 s more.
pf_stop() {
    [ -n "$pf_pid" ] || return 0
    pgid=$pf_pid
    kill -TERM "$pf_pid" 2>/dev/null
    wait_pid "$pf_pid" 20
    wait "$pf_pid"
    pf_pid=
    i=0
    while pf_group_alive "$pgid" && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    pf_group_alive "$pgid" &&
        fail "Postfix daemons of process group $pgid still run 20 s after the master"
    return 0
}

# pf_cleanup (at exit): a master still running is stopped; its group is killed if it lingers.
pf_cleanup() {
    [ -n "$pf_pid" ] || return 0
    pgid=$pf_pid
    kill -TERM "$pf_pid" 2>/dev/null
    i=0
    while kill -0 "$pf_pid" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -KILL -- "-$pgid" 2>/dev/null
    pf_pid=
    return 0
}

# pf_wait_files DIR N: waits until Postfix's queue is empty (pf_queue_empty), then DIR must hold
# exactly N files. (A message leaves the queue only after its delivery: then every file is there.)
pf_wait_files() {
    pf_queue_empty
    [ "$(pf_count "$1")" -eq "$2" ] || fail "$1 holds $(pf_count "$1") files, expected $2"
}

pf_count() {
    if [ -d "$1" ]; then ls "$1" | wc -l | tr -d ' '; else echo 0; fi
}

# pf_queue_empty: waits (bounded, 20 s) until Postfix's queue holds no message: every one was
# delivered or bounced (maximal_queue_lifetime = 0: nothing waits in deferred/ for a retry).
# smtpd answers 250 to the data only once cleanup(8) has the message in incoming/, so after
# the client's 250 the message is either in the queue or already delivered.
pf_queue_empty() {
    i=0
    while [ -n "$(find "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" \
        "$PF/queue/maildrop" -type f 2>/dev/null | head -n 1)" ] && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ $i -lt 400 ] || fail "Postfix's queue still holds messages after 20 s"
}

# pf_strip FILE OUT MODE NAME...: removes from the top of FILE the header fields NAME... (each
# with its continuation lines), in this order and no other, and writes the rest to OUT and the
# removed fields to OUT.hdr. MODE lf: FILE ends its lines with LF (Postfix's queue and the
# Maildir files of virtual(8) do), and every LF of the rest becomes CRLF, the SMTP form of the
# same message (exact: a CR in the rest fails the check). MODE crlf: FILE ends its lines with
# CRLF (what our smtp-sink stored), the rest is copied as it is. FILE must end with a LF (awk
# would add a missing one). awk rather than python3: it starts in milliseconds.
pf_strip() {
    [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ] || fail "$1 does not end with LF"
    : >"$2"
    : >"$2.hdr"
    src=$1
    out=$2
    mode=$3
    shift 3
    LC_ALL=C awk -v names="$*" -v mode="$mode" -v out="$out" -v hdr="$out.hdr" '
BEGIN { n = split(names, want, " "); k = 1; cont = 0 }
cont && (substr($0, 1, 1) == " " || substr($0, 1, 1) == "\t") { print >hdr; next }
k <= n {
    cont = 0
    if (index($0, want[k] ": ") != 1) {
        printf "%s: expected %s next, found: %s\n", FILENAME, want[k], $0
        bad = 1
        exit
    }
    print >hdr
    k++
    cont = 1
    next
}
{ cont = 0 }
mode == "lf" && index($0, "\r") {
    printf "%s: a CR in a file written with LF line ends\n", FILENAME
    bad = 1
    exit
}
mode == "lf" { printf "%s\r\n", $0 >out; next }
{ print >out }
END { exit bad || k <= n }' "$src" || fail "$src: not the header fields Postfix adds ($*)"
}

# pf_delivered MAILBOX N MESSAGE PROTO: waits for N files in Maildir MAILBOX ($PF/mail/MAILBOX/
# new, pf_mailbox's numbers); each must be MESSAGE once the header fields Postfix adds at the top,
# exactly these and in this order, are removed: Return-Path, X-Original-To and Delivered-To
# (virtual(8)'s delivery headers) and Received (smtpd's trace header, which must say "with
# PROTO", RFC 3848). Nothing else may differ: the rest of the file, its LF line ends made CRLF
# again, must equal MESSAGE. The files are removed afterwards; the last one's headers stay in
# $T/got.hdr.
pf_delivered() {
    dir=$PF/mail/$1/new
    pf_wait_files "$dir" "$2"
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        pf_strip "$f" "$T/got" lf Return-Path X-Original-To Delivered-To Received
        cmp "$3" "$T/got" || fail "$f: the message differs from what was sent"
        grep -q "^	by postfix\.test (Postfix) with $4 id " "$T/got.hdr" ||
            fail "$f: Received lacks 'with $4': $(cat "$T/got.hdr")"
        rm -f "$f"
    done
}

# pf_log_count STRING: how many lines of Postfix's log hold STRING (fixed string).
pf_log_count() {
    grep -c -F -- "$1" "$T/postfix.log" 2>/dev/null || true
}

# pf_message FILE KIND [FROM TO]: writes a message with CRLF line ends: the headers Postfix would
# add to a local submission when missing (From, To, Date, Message-ID), so nothing is added, and
# a body with lines that need dot-stuffing, an empty line, a tab, trailing spaces and a line of
# 900 octets (under the 998 of smtp_line_length_limit, past which Postfix's smtp client folds).
# KIND 8bit adds UTF-8 text and a \377 byte (BODY=8BITMIME); KIND 7bit has none.
pf_message() {
    {
        printf 'From: %s\r\nTo: %s\r\n' "${3:-a@example.org}" "${4:-b@example.org}"
        printf 'Subject: libsmtp interop\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n'
        printf 'Message-ID: <%s.interop@example.org>\r\nMIME-Version: 1.0\r\n' "$2"
        if [ "$2" = 8bit ]; then
            printf 'Content-Type: text/plain; charset=utf-8\r\n'
            printf 'Content-Transfer-Encoding: 8bit\r\n'
        fi
        printf '\r\n.\r\n..\r\n.leading dot\r\n\r\ntab\there, trailing spaces  \r\n'
        [ "$2" = 8bit ] && printf 'caf\303\251 \342\202\254 \377 end\r\n'
        i=0
        while [ $i -lt 90 ]; do printf 'long-line-' ; i=$((i + 1)); done
        printf '\r\n. \r\nlast line\r\n'
    } >"$1"
}
