# SPDX-License-Identifier: MIT
# Shared helpers of the smtp-proxy interop tests (tests/interop/t_proxy_*.sh), sourced after
# lib.sh: real clients (swaks, Python's smtplib, Postfix's smtp client) talk to smtp-proxy on
# 127.0.0.1, which relays to a real server (smtp-sink, aiosmtpd, Postfix's smtpd). Every verdict
# the client sees must be the upstream server's reply as it is (docs/smtp-proxy.1): the tests
# compare what the client got through the proxy with what it gets from the server directly.

proxy_pid=
pport=

# start_proxy OPTIONS...: smtp-proxy -v on 127.0.0.1 (a port the kernel chooses, in $pport),
# named proxy.test; its log (standard error) in $T/proxy.log, which fail() prints.
start_proxy() {
    start_program /dev/null "$T/proxy.log" smtp-proxy --hostname proxy.test -v "$@"
    proxy_pid=$started
    pport=$listening
}

# stop_proxy: SIGTERM to smtp-proxy by PID; it must exit 0 within 20 s.
stop_proxy() {
    stop_program "$proxy_pid" smtp-proxy
    proxy_pid=
}

# swaks_to PORT EXPECTED_STATUS LOG [SWAKS OPTIONS...]: swaks to 127.0.0.1:PORT, its transcript
# in LOG (a file under $T). Fails unless it exits EXPECTED_STATUS.
swaks_to() {
    sp=$1
    expect=$2
    log=$3
    shift 3
    timeout 60 swaks --server "127.0.0.1:$sp" --helo swaks.example --from a@example.org \
        --timeout 20 "$@" </dev/null >"$log" 2>&1
    rc=$?
    [ $rc -eq "$expect" ] || fail "swaks to port $sp $* exited $rc, expected $expect"
}

# replies LOG: the server's reply lines of a swaks transcript from the reply to MAIL on (the
# greeting and the EHLO list are the proxy's own), without the direction marks ("<-  " for a
# success, "<** " for a failure, the same in both), to compare a direct session with one
# through the proxy.
replies() {
    awk '/^ -> MAIL FROM/ { on = 1 } on && /^(<-  |<\*\* )/ { print substr($0, 5) }' "$1"
}

# same_replies DIRECT PROXIED [SED]: the server's replies in two swaks transcripts are the same
# lines, once SED (a sed script, for what differs by nature: a queue id) is applied to both.
same_replies() {
    replies "$1" | sed -e "${3:-}" >"$1.replies"
    replies "$2" | sed -e "${3:-}" >"$2.replies"
    [ -s "$1.replies" ] || fail "$(basename "$1"): no reply after MAIL"
    diff -u "$1.replies" "$2.replies" >"$T/replies.diff" ||
        fail "the replies through smtp-proxy differ from upstream's own: $(cat "$T/replies.diff")"
}

# second_loopback: prints 127.0.0.2 when a socket can be bound to it (Linux routes all of
# 127.0.0.0/8 to the loopback interface), so that a client through the proxy has an address
# of its own, distinct from the proxy's 127.0.0.1; prints nothing otherwise.
second_loopback() {
    python3 -c 'import socket
s = socket.socket()
try:
    s.bind(("127.0.0.2", 0))
    print("127.0.0.2")
except OSError:
    pass' 2>/dev/null
}


# swaks_both NAME [SWAKS OPTIONS...]: the same swaks command directly to the server (127.0.0.1:
# $port) and through the proxy ($pport), transcripts in $T/NAME-direct.log and NAME-proxy.log;
# both must exit with the same status (in $rc) and see the same replies from MAIL on
# (same_replies, queue ids aside).
swaks_both() {
    name=$1
    shift
    timeout 60 swaks --server "127.0.0.1:$port" --helo swaks.example --from a@example.org \
        --timeout 20 "$@" </dev/null >"$T/$name-direct.log" 2>&1
    rc=$?
    swaks_to "$pport" $rc "$T/$name-proxy.log" "$@"
    same_replies "$T/$name-direct.log" "$T/$name-proxy.log" 's/queued as [^ ]*$/queued as QID/'
}
