# SPDX-License-Identifier: MIT
# Shared helpers of the interop tests with Python, swaks, curl, msmtp and nodemailer
# (t_python_*, t_swaks*, t_curl*, t_msmtp*, t_node_*), sourced after lib.sh.

# $T/exp: what smtp-sink must store (N.eml, N.json; see py_sink_check.py); n: how many.
mkdir -p "$T/exp"
n=0
peer_pid=

# make_message: the standard message (py_message.py) in $T/msg.
make_message() {
    python3 "$INTEROP/py_message.py" "$T/msg" || fail "py_message.py"
}

# make_other_ca: $T/other/ca.pem, a CA that did not sign make_cert's certificate (made the
# same way, so with the same name: a client finds it as the issuer, then the signature fails).
make_other_ca() {
    mkdir -p "$T/other"
    "$MKCERT" "$T/other" || fail "mkcert failed"
}

# expect_msg FILE [JSON]: the next message smtp-sink accepts must be FILE's bytes, and its
# JSON line must have JSON's keys (see py_sink_check.py).
expect_msg() {
    n=$((n + 1))
    mkdir -p "$T/exp"
    cp "$1" "$T/exp/$n.eml"
    [ $# -lt 2 ] || printf '%s' "$2" >"$T/exp/$n.json"
}

# check_sink: stops smtp-sink and compares what it accepted with the expect_msg calls.
check_sink() {
    stop_sink
    python3 "$INTEROP/py_sink_check.py" "$T/sink.out" "$T/exp" >"$T/check.out" ||
        fail "$(cat "$T/check.out")"
    rm -rf "$T/exp" "$T/md"
    mkdir -p "$T/exp"
    n=0
}

# start_peer NAME COMMAND...: starts a server that writes the port it listens on (127.0.0.1,
# chosen by the kernel) to $T/NAME.port; its output goes to $T/NAME.log. Sets $port.
start_peer() {
    name=$1
    shift
    rm -f "$T/$name.port"
    "$@" >"$T/$name.log" 2>&1 &
    peer_pid=$!
    track "$peer_pid"
    i=0
    until [ -s "$T/$name.port" ]; do
        kill -0 "$peer_pid" 2>/dev/null || fail "$name exited at start"
        [ $i -lt 400 ] || fail "$name did not listen within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
    port=$(cat "$T/$name.port")
}

# stop_peer: SIGTERM to the server start_peer started; it must exit 0 within 20 s.
stop_peer() {
    kill -TERM "$peer_pid"
    wait_pid "$peer_pid" 20
    wait "$peer_pid" || fail "the server exited $?"
    peer_pid=
}

# send EXPECTED_STATUS [OPTIONS...]: smtp-send -v to 127.0.0.1:$port (unless OPTIONS name
# another --server); standard output in $T/send.out, the transcript in $T/send.err.
send() {
    expect=$1
    shift
    "$BIN/smtp-send" --server "127.0.0.1:$port" --timeout 20 -v "$@" >"$T/send.out" 2>"$T/send.err"
    rc=$?
    [ $rc -eq "$expect" ] || fail "smtp-send $* exited $rc, expected $expect"
}

# pipelined LOG CLIENT SERVER [YES|NO]: whether, in the transcript LOG whose client lines start
# with CLIENT and server lines with SERVER, MAIL, RCPT and DATA all went out before the reply
# to MAIL came (RFC 2920); fails unless that is the answer expected (default YES).
pipelined() {
    if awk -v c="$2" -v s="$3" '
        index($0, c "MAIL FROM") == 1 { m = 1 }
        m && index($0, s) == 1 { exit }
        m && index($0, c "DATA") == 1 { ok = 1 }
        END { exit !ok }' "$1"; then
        got=YES
    else
        got=NO
    fi
    [ $got = "${4:-YES}" ] || fail "$(basename "$1"): pipelined $got, expected ${4:-YES}"
}
