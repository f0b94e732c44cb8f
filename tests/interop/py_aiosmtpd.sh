# Sourced by tests/interop/t_python_aiosmtpd_*.sh after lib.sh: runs py_aiosmtpd_server.py
# with a python3 that has Debian's aiosmtpd (python3 on PATH may be another installation, e.g.
# pyenv's, without it: then /usr/bin/python3 is tried), and smtp-send against it.

AIOPY=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import aiosmtpd' 2>/dev/null; then
        AIOPY=$p
        break
    fi
done
if [ -z "$AIOPY" ]; then
    [ -n "${CI:-}" ] && fail "no python3 with aiosmtpd (tests/interop/install.sh installs python3-aiosmtpd)"
    skip "no python3 with aiosmtpd; run tests/interop/install.sh"
fi
echo "peer: aiosmtpd $("$AIOPY" -c 'import aiosmtpd; print(aiosmtpd.__version__)'), $("$AIOPY" --version 2>&1)"
aio_pid=

# start_aiosmtpd [OPTIONS of py_aiosmtpd_server.py]: starts it, sets $port; the messages it
# takes go to $T/aio/N.eml and N.json.
start_aiosmtpd() {
    rm -rf "$T/aio" "$T/aio.port"
    mkdir -p "$T/aio"
    "$AIOPY" "$INTEROP/py_aiosmtpd_server.py" --port-file "$T/aio.port" --dir "$T/aio" "$@" \
        >"$T/aiosmtpd.log" 2>&1 &
    aio_pid=$!
    track "$aio_pid"
    i=0
    until [ -s "$T/aio.port" ]; do
        kill -0 "$aio_pid" 2>/dev/null || fail "the aiosmtpd server exited at start"
        [ $i -lt 400 ] || fail "the aiosmtpd server did not listen within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
    port=$(cat "$T/aio.port")
}

stop_aiosmtpd() {
    kill -TERM "$aio_pid"
    wait_pid "$aio_pid" 20
    wait "$aio_pid"
    aio_pid=
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

# make_message: the standard message (py_message.py) in $T/msg.
make_message() {
    "$AIOPY" "$INTEROP/py_message.py" "$T/msg" || fail "py_message.py"
}

# received N: the path of the N-th message aiosmtpd took; fails when it has none.
received() {
    [ -f "$T/aio/$1.json" ] || fail "aiosmtpd has no message $1"
    echo "$T/aio/$1.eml"
}
