# SPDX-License-Identifier: MIT
# Sourced by tests/interop/t_python_aiosmtpd_*.sh after lib.sh and peers.sh: runs
# py_aiosmtpd_server.py with a python3 that has Debian's aiosmtpd (python3 on PATH may be
# another installation, e.g. pyenv's, without it: then /usr/bin/python3 is tried).

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

# start_aiosmtpd [OPTIONS of py_aiosmtpd_server.py]: starts it, sets $port; the messages it
# takes go to $T/aio/N.eml and N.json.
start_aiosmtpd() {
    rm -rf "$T/aio"
    mkdir -p "$T/aio"
    start_peer aiosmtpd "$AIOPY" "$INTEROP/py_aiosmtpd_server.py" --port-file "$T/aiosmtpd.port" \
        --dir "$T/aio" "$@"
}

# received N: the path of the N-th message aiosmtpd took; fails when it has none.
received() {
    [ -f "$T/aio/$1.json" ] || fail "aiosmtpd has no message $1"
    echo "$T/aio/$1.eml"
}
