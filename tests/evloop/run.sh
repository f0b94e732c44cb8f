#!/bin/sh
# SPDX-License-Identifier: MIT
# The event-loop examples (examples/libuv/uv-smtp, examples/libevent/ev-smtp) run against
# themselves on 127.0.0.1, on a port the kernel chooses (PORT 0), bounded in time.
# Usage: run.sh CASE PROGRAM MKCERT [WRAPPER...]
#   CASE      plain: one message delivered and received whole, in plaintext;
#             starttls: the same over STARTTLS, certificates made now by MKCERT (a build
#             without mbedTLS: the program must refuse CERT KEY CA with a clear error);
#             stall: the server never greets, the client's 1 s greeting timeout ends it.
#   PROGRAM   the example, or "missing:REASON" when it was not built (then skipped, 77)
#   MKCERT    tests/e2e/mkcert.c's program, or "none" (a build without mbedTLS)
#   WRAPPER   a command to run the program under (SMTP_TEST_WRAPPER: valgrind...)
# Exit 0: pass, 1: fail, 77: skipped.
set -u
case_name=$1
prog=$2
mkcert=$3
shift 3
case $prog in missing:*)
    echo "skipped: ${prog#missing:}"
    exit 77
    ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-evloop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$prog")
fail() {
    echo "FAIL ($name $case_name): $*"
    echo "--- standard output:"
    cat "$tmp/out"
    echo "--- standard error:"
    cat "$tmp/err"
    exit 1
}
# run WRAPPER...: the program under the wrapper with PORT 0 and $pargs, at most 60 s; its status
# in $rc, its output in out and err.
pargs=
run() {
    : >"$tmp/out"
    : >"$tmp/err"
    start=$(date +%s)
    timeout 60 "$@" "$prog" 0 $pargs >"$tmp/out" 2>"$tmp/err"
    rc=$?
    elapsed=$(($(date +%s) - start))
    [ $rc -ne 124 ] || fail "did not end within 60 s"
}
has() { grep -qxF -- "$1" "$tmp/out" || fail "no line: $1"; }
has_re() { grep -qx -- "$1" "$tmp/out" || fail "no line matching: $1"; }

# The message went through whole: the client's size and FNV-1a digest of the body are the
# server's of what it received (the program also compares the contents itself: its last line),
# and the SMTP conversation ended with QUIT.
check_delivered() { # TLS_SUFFIX
    [ $rc -eq 0 ] || fail "exit status $rc, expected 0"
    [ ! -s "$tmp/err" ] || fail "unexpected standard error output"
    sent=$(sed -n 's/^client: sending \([0-9]* octets (FNV-1a [0-9a-f]*)\)$/\1/p' "$tmp/out")
    [ -n "$sent" ] || fail "no 'client: sending N octets (FNV-1a X)' line"
    [ "${sent%% *}" -gt 100000 ] || fail "a message of ${sent%% *} octets only"
    has "server: message from <a@example.org> to <b@example.org> <c@example.org>: $sent$1"
    has_re "client: DELIVERED, 2 accepted: 250 .*"
    has "client: session ended: QUIT"
    has "$name: delivered and received whole"
    has_re "server: listening on 127\.0\.0\.1:[1-9][0-9]*"
}

case $case_name in
plain)
    run "$@"
    check_delivered ""
    ! grep -q TLS "$tmp/out" || fail "TLS in a plaintext run"
    ;;
starttls)
    if [ "$mkcert" = none ]; then
        : >"$tmp/cert.pem"
        pargs="$tmp/cert.pem $tmp/cert.pem $tmp/cert.pem"
        run "$@"
        [ $rc -eq 2 ] || fail "a build without mbedTLS took CERT KEY CA: status $rc"
        grep -qF "libsmtp was built without mbedTLS: no STARTTLS" "$tmp/err" ||
            fail "no clear error for CERT KEY CA without mbedTLS"
        echo "pass: $name without mbedTLS refuses CERT KEY CA"
        exit 0
    fi
    "$mkcert" "$tmp" >"$tmp/mkcert.out" 2>&1 || { cat "$tmp/mkcert.out"; exit 1; }
    pargs="$tmp/cert.pem $tmp/key.pem $tmp/ca.pem"
    run "$@"
    check_delivered " over TLS"
    has_re "server: TLSv1\.[23], TLS[0-9-]*-.*"
    has_re "client: TLSv1\.[23], TLS[0-9-]*-.*"
    ;;
stall)
    pargs=--stall
    run "$@"
    [ $rc -eq 1 ] || fail "exit status $rc, expected 1"
    has "client: TEMPFAIL, 0 accepted"
    has "client: session ended: TIMEOUT"
    has "$name: FAILED: not delivered"
    ! grep -q "^server: message" "$tmp/out" || fail "a message arrived"
    [ "$elapsed" -le 20 ] || fail "the 1 s greeting timeout took $elapsed s"
    ;;
*)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
echo "pass: $name $case_name"
cat "$tmp/out"
