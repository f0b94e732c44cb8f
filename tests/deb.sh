#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian packages (debian/, `make deb`), as a Debian user gets them:
#  1. built by `make deb` into a temporary directory from a copy of the tree (the tree is left
#     as it was, checked with git status); debian/changelog's version follows CMakeLists.txt's;
#  2. lintian on the build (any error fails; the warnings and notes are printed);
#  3. the contents of libsmtp1, libsmtp-dev and smtp-tools checked, then the three installed
#     with apt-get: sonames libsmtp*.so.1, no run path in the libraries and programs, the man
#     pages, pkg-config's version;
#  4. consumers built against the installed packages only (/usr): the CMake project of
#     tests/install with find_package(smtp) (linked with libsmtp_tls.so.1 and libsmtp_idn.so.1),
#     the Makefile one with pkg-config for smtp-io, smtp-tls and smtp-idn, and one linked with the
#     static libraries (pkg-config --static). Each sends a message to /usr/bin/smtp-sink on
#     127.0.0.1 (STARTTLS but for smtp-io's and smtp-idn's; the EHLO name of the idn ones in
#     A-label form), and one receives a message from /usr/bin/smtp-send
#     (tests/consumers.sh, as tests/install.sh does);
#  5. the packages purged (and whatever apt-get installed with them), the list of installed
#     packages checked to be what it was; on a failure the exit trap purges them too.
# Needs root, dpkg-buildpackage, debhelper, lintian, apt-get and pkg-config (skipped, exit 77,
# without them; .ci/run installs them), and the build dependencies (debian/control: cmake,
# libmbedtls-dev, libidn2-dev). Refuses to run when a libsmtp package or one of their files is already there.
# Usage: deb.sh [SOURCE_DIR] (default: the tree this script is in)
# Environment: SMTP_TEST_KEEP=1 keeps the temporary directory.
set -eu
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
pkgs="libsmtp1 libsmtp-dev smtp-tools"

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "deb.sh installs and removes packages: run it as root"
for tool in dpkg-buildpackage dh lintian apt-get dpkg-query pkg-config cmake make cc readelf; do
    command -v "$tool" >/dev/null 2>&1 ||
        skip "$tool is missing (apt-get install dpkg-dev debhelper fakeroot lintian pkg-config)"
done

t0=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-deb.XXXXXX")
pids=
installed=
log=
fail() {
    echo "FAIL: $*"
    if [ -n "$log" ] && [ -f "$log" ]; then
        echo "---- $log (the end)"
        tail -n 40 "$log"
    fi
    exit 1
}
step() { echo "== $*"; }
export DEBIAN_FRONTEND=noninteractive

# uninstall: purges the three packages and what apt-get installed with them (the installed
# packages not in $tmp/before.list), then checks that the list is as before.
uninstall() {
    installed=
    # shellcheck disable=SC2086
    apt-get purge -y -q $pkgs >"$tmp/purge.log" 2>&1 || return 1
    dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 != "un" {print $2}' | sort \
        >"$tmp/after.list"
    extra=$(comm -13 "$tmp/before.list" "$tmp/after.list")
    if [ -n "$extra" ]; then
        # shellcheck disable=SC2086
        apt-get purge -y -q $extra >>"$tmp/purge.log" 2>&1 || return 1
        dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 != "un" {print $2}' |
            sort >"$tmp/after.list"
    fi
    cmp -s "$tmp/before.list" "$tmp/after.list"
}
cleanup() {
    status=$?
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    if [ -n "$installed" ]; then
        uninstall || {
            echo "deb.sh: could not purge $pkgs (and what came with them): see $tmp/purge.log"
            SMTP_TEST_KEEP=1
        }
    fi
    if [ -n "${SMTP_TEST_KEEP:-}" ]; then echo "deb.sh: kept $tmp"; else rm -rf "$tmp"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

for p in $pkgs; do
    if dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -qv '^un'; then
        fail "$p is already installed (or its configuration is left): deb.sh would replace and" \
            "purge it; apt-get purge $pkgs first"
    fi
done
dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 != "un" {print $2}' | sort \
    >"$tmp/before.list"

# ---- 1. make deb, from a copy of the tree ----
cmake_version=$(sed -n 's/^project(libsmtp VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${version%-*}
upstream=${upstream%%[+~]*}
[ -n "$cmake_version" ] || fail "no project(libsmtp VERSION ...) in $src/CMakeLists.txt"
[ "$upstream" = "$cmake_version" ] ||
    fail "debian/changelog's version $version is not CMakeLists.txt's $cmake_version: add an" \
        "entry to debian/changelog (dch -v $cmake_version-1)"
tree_status() { git -C "$src" status --porcelain 2>/dev/null || echo "(not a git checkout)"; }
tree_status >"$tmp/tree-before"
step "make deb DEB_DIR=\$tmp/deb (libsmtp $version)"
start=$(date +%s)
log=$tmp/build.log
make -C "$src" deb DEB_DIR="$tmp/deb" >"$log" 2>&1 || fail "make deb failed"
build_seconds=$(($(date +%s) - start))
tree_status >"$tmp/tree-after"
cmp -s "$tmp/tree-before" "$tmp/tree-after" ||
    fail "make deb changed the source tree: $(diff "$tmp/tree-before" "$tmp/tree-after")"
case " ${DEB_BUILD_OPTIONS:-} " in
*" nocheck "*) ;;
*) grep -q '^100% tests passed' "$log" || fail "the package build ran no test (dh_auto_test)" ;;
esac
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=
for p in $pkgs; do
    f=$tmp/deb/${p}_${version}_$arch.deb
    [ -f "$f" ] || fail "make deb built no $(basename "$f")"
    debs="$debs $f"
done
step "built $pkgs in $build_seconds s (dpkg-buildpackage, with the in-memory tests)"

# ---- 2. lintian ----
log=$tmp/lintian.log
lintian --fail-on error "$tmp/deb/libsmtp_${version}_$arch.changes" >"$log" 2>"$tmp/lintian.err" ||
    fail "lintian reports errors (or failed: $(cat "$tmp/lintian.err"))"
grep -q '^E: ' "$log" && fail "lintian reports errors"
step "lintian: no error, $(grep -c '^W: ' "$log" || true) warnings" \
    "$(grep '^W: ' "$log" | sed 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/' | sort -u | tr '\n' ' ')"

# ---- 3. the packages' contents, installed ----
# contains DEB PATH...: each PATH (a file or a link) is in DEB; lacks DEB PATH...: none is.
# The listing is read whole into a file first: grep -q on the pipe would stop reading at its
# first match and dpkg-deb would report its tar killed by SIGPIPE.
listing() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/listing"; }
contains() {
    deb=$1
    shift
    listing "$deb"
    for f in "$@"; do grep -qxF "$f" "$tmp/listing" || fail "$(basename "$deb") lacks $f"; done
}
lacks() {
    deb=$1
    shift
    listing "$deb"
    for f in "$@"; do
        if grep -qE "$f" "$tmp/listing"; then fail "$(basename "$deb") holds $f"; fi
    done
}
L=/usr/lib/$multiarch
# shellcheck disable=SC2086
set -- $debs
contains "$1" "$L/libsmtp.so.1" "$L/libsmtp_io.so.1" "$L/libsmtp_tls.so.1" "$L/libsmtp_idn.so.1" \
    /usr/share/doc/libsmtp1/copyright
lacks "$1" '\.so$' '\.a$' '^/usr/include' '^/usr/bin'
contains "$2" /usr/include/smtp/smtp.h /usr/include/smtp/io.h /usr/include/smtp/tls.h \
    /usr/include/smtp/idn.h /usr/include/smtp/version.h "$L/libsmtp.so" "$L/libsmtp_io.so" \
    "$L/libsmtp_tls.so" "$L/libsmtp_idn.so" "$L/libsmtp.a" "$L/libsmtp_io.a" "$L/libsmtp_tls.a" \
    "$L/libsmtp_idn.a" "$L/pkgconfig/smtp.pc" "$L/pkgconfig/smtp-io.pc" "$L/pkgconfig/smtp-tls.pc" \
    "$L/pkgconfig/smtp-idn.pc" "$L/cmake/smtp/smtpConfig.cmake" \
    "$L/cmake/smtp/smtpTlsTargets.cmake" "$L/cmake/smtp/smtpIdnTargets.cmake" \
    /usr/share/doc/libsmtp-dev/README.md.gz /usr/share/doc/libsmtp-dev/changelog.gz \
    /usr/share/doc/libsmtp-dev/copyright /usr/share/man/man3/smtp_client_new_versioned.3.gz \
    /usr/share/man/man3/smtp_server_read.3.gz /usr/share/man/man3/smtp_tls_client_run.3.gz \
    /usr/share/man/man3/smtp_idn_to_ascii.3.gz /usr/share/man/man3/smtp_client.h.3.gz
lacks "$2" '\.so\.' '^/usr/bin' '/man3/client\.h'
contains "$3" /usr/bin/smtp-send /usr/bin/smtp-sink /usr/bin/smtp-proxy \
    /usr/share/man/man1/smtp-send.1.gz /usr/share/man/man1/smtp-proxy.1.gz \
    /usr/share/man/man1/smtp-sink.1libsmtp.gz \
    /usr/share/doc/smtp-tools/copyright
lacks "$3" '^/usr/lib' '^/usr/include' 'mail-send'
dpkg-deb -f "$2" Depends | grep -q "libsmtp1 (= $version)" ||
    fail "libsmtp-dev does not depend on libsmtp1 (= $version)"
dpkg-deb -f "$3" Depends | grep -q 'libsmtp1 (>= ' || fail "smtp-tools does not depend on libsmtp1"
# Nothing of the packages may be on the machine already: dpkg would overwrite it, and the purge
# at the end would remove it.
for deb in $debs; do
    dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' >"$tmp/files"
    while read -r f; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            fail "$f is already on this machine: $(basename "$deb") would overwrite it"
        fi
    done <"$tmp/files"
done
step "contents: libraries in libsmtp1; headers, .a, .so links, .pc and CMake files in" \
    "libsmtp-dev; programs and man pages in smtp-tools"

step "apt-get install $pkgs"
log=$tmp/apt.log
installed=1
# shellcheck disable=SC2086
apt-get install -y -q $debs >"$log" 2>&1 || fail "apt-get install of the packages failed"
for f in "$L/libsmtp.so.1" "$L/libsmtp_io.so.1" "$L/libsmtp_tls.so.1" "$L/libsmtp_idn.so.1"; do
    soname=$(readelf -d "$f" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "$(basename "$f")" ] || fail "$f: soname '$soname'"
done
for f in "$L/libsmtp.so.1" "$L/libsmtp_io.so.1" "$L/libsmtp_tls.so.1" "$L/libsmtp_idn.so.1" \
    /usr/bin/smtp-send /usr/bin/smtp-sink /usr/bin/smtp-proxy; do
    if readelf -d "$f" | grep -qE '\((RPATH|RUNPATH)\)'; then
        fail "$f has a run path: $(readelf -d "$f" | grep -E 'RPATH|RUNPATH')"
    fi
done
for prog in smtp-send smtp-sink smtp-proxy; do
    /usr/bin/$prog --version | grep -qF "(libsmtp $cmake_version)" ||
        fail "/usr/bin/$prog --version: $(/usr/bin/$prog --version 2>&1)"
done
for pc in smtp smtp-io smtp-tls smtp-idn; do
    v=$(pkg-config --modversion "$pc") || fail "pkg-config does not find $pc"
    [ "$v" = "$cmake_version" ] || fail "pkg-config --modversion $pc: $v"
done
if command -v man >/dev/null 2>&1; then
    man -w 1libsmtp smtp-sink | grep -q 'smtp-sink\.1libsmtp' || fail "man 1libsmtp smtp-sink: no page"
fi
# The shared build's pkg-config and CMake files (not the static build's): no -DSMTP_STATIC,
# mbedTLS only for a static link.
pkg-config --cflags smtp-tls | grep -q SMTP_STATIC && fail "smtp.pc is the static build's"
pkg-config --libs smtp-tls | grep -q mbedtls && fail "smtp-tls.pc is the static build's"
pkg-config --static --libs smtp-tls | grep -q -- '-lmbedtls' ||
    fail "pkg-config --static --libs smtp-tls does not name mbedTLS"
pkg-config --libs smtp-idn | grep -q idn2 && fail "smtp-idn.pc is the static build's"
pkg-config --static --libs smtp-idn | grep -q -- '-lidn2' ||
    fail "pkg-config --static --libs smtp-idn does not name libidn2"
/usr/bin/smtp-send --version | grep -q '^IDNA: yes' ||
    fail "/usr/bin/smtp-send was built without IDNA: $(/usr/bin/smtp-send --version 2>&1)"
grep -q '^set(_smtp_static OFF)$' "$L/cmake/smtp/smtpConfig.cmake" ||
    fail "smtpConfig.cmake is the static build's"
step "installed: sonames libsmtp*.so.1, no run path, the programs run (smtp-send with IDNA)," \
    "pkg-config finds smtp smtp-io smtp-tls smtp-idn $cmake_version"

# ---- 4. consumers of the installed packages ----
cflags="-O2 -Wall -Wextra -Werror"
log=$tmp/cmake-consumer.log
cmake -S "$src/tests/install" -B "$tmp/cmake-consumer" -DCMAKE_C_FLAGS="$cflags" >"$log" 2>&1 ||
    fail "the CMake consumer does not configure against /usr"
cmake --build "$tmp/cmake-consumer" >>"$log" 2>&1 || fail "the CMake consumer does not build"
# consumer NAME PKG CPPFLAGS [LIBS]: tests/install/Makefile with the system's pkg-config (LIBS:
# instead of pkg-config --libs).
consumer() {
    name=$1 pkg=$2 cppflags=$3
    mkdir -p "$tmp/$name"
    log=$tmp/$name.log
    if [ $# -ge 4 ]; then set -- SMTP_LIBS="$4"; else set --; fi
    make -C "$tmp/$name" -f "$src/tests/install/Makefile" CFLAGS="$cflags" CPPFLAGS="$cppflags" \
        PKGS="$pkg" "$@" >"$log" 2>&1 || fail "the Makefile consumer $name ($pkg) does not build"
}
consumer pc-io smtp-io ""
consumer pc-tls smtp-tls -DCONSUMER_TLS
consumer pc-idn "smtp-io smtp-idn" -DCONSUMER_IDN
# The static libraries: libsmtp*.a by name, then what pkg-config --static adds (mbedTLS,
# libidn2).
static_libs=$(pkg-config --static --libs smtp-tls smtp-idn |
    sed 's/-lsmtp\([a-z_]*\)/-l:libsmtp\1.a/g')
consumer pc-static "smtp-tls smtp-idn" "-DCONSUMER_TLS -DCONSUMER_IDN" "$static_libs"
# needed BINARY PATTERN COUNT: BINARY's NEEDED entries matching PATTERN number COUNT.
needed() {
    n=$(readelf -d "$1" | grep NEEDED | grep -c "$2" || true)
    [ "$n" -eq "$3" ] || fail "$1: $n NEEDED entries match '$2', not $3: $(readelf -d "$1" | grep NEEDED)"
}
needed "$tmp/cmake-consumer/consumer" '\[libsmtp_tls\.so\.1\]' 1
needed "$tmp/cmake-consumer/consumer" '\[libsmtp_idn\.so\.1\]' 1
needed "$tmp/pc-io/consumer" '\[libsmtp_io\.so\.1\]' 1
needed "$tmp/pc-tls/consumer" '\[libsmtp_tls\.so\.1\]' 1
needed "$tmp/pc-idn/consumer" '\[libsmtp_idn\.so\.1\]' 1
needed "$tmp/pc-static/consumer" 'libsmtp' 0
needed "$tmp/pc-static/consumer" '\[libmbedtls\.so' 1
needed "$tmp/pc-static/consumer" '\[libidn2\.so' 1
for bin in cmake-consumer pc-io pc-tls pc-idn pc-static; do
    if readelf -d "$tmp/$bin/consumer" | grep -qE '\((RPATH|RUNPATH)\)'; then
        fail "$bin: built with a run path: the installed libraries need none"
    fi
done
step "consumers built against /usr: find_package(smtp) (smtp::tls, smtp::idn), pkg-config" \
    "smtp-io, smtp-tls and smtp-idn (shared), pkg-config --static smtp-tls smtp-idn (libsmtp*.a)"

# The certificates for smtp-sink's STARTTLS: tests/e2e/mkcert.c with the system's mbedTLS.
log=$tmp/mkcert-build.log
cc -O2 -o "$tmp/mkcert" "$src/tests/e2e/mkcert.c" "$src/tests/tls/pki.c" -I"$src/tests/tls" \
    -lmbedtls -lmbedx509 -lmbedcrypto >"$log" 2>&1 || fail "tests/e2e/mkcert.c does not build"
log=
. "$src/tests/consumers.sh"
make_pki "$tmp/mkcert"
start_sink /usr/bin/smtp-sink 1
send cmake-consumer "$tmp/cmake-consumer/consumer" 1
grep -q '"helo":"consumer.xn--bcher-kva.example"' "$tmp/sink.line" ||
    fail "cmake-consumer: the EHLO name did not come in A-label form"
send pc-io "$tmp/pc-io/consumer" 0
send pc-tls "$tmp/pc-tls/consumer" 1
send pc-idn "$tmp/pc-idn/consumer" 0
grep -q '"helo":"consumer.xn--bcher-kva.example"' "$tmp/sink.line" ||
    fail "pc-idn: the EHLO name did not come in A-label form"
send pc-static "$tmp/pc-static/consumer" 1
receive pc-io "$tmp/pc-io/consumer" /usr/bin/smtp-send
stop_sink
pids=

# ---- 5. purge ----
log=$tmp/purge.log
uninstall || fail "after apt-get purge the installed packages differ from before:" \
    "$(diff "$tmp/before.list" "$tmp/after.list" || true)"
step "purged $pkgs: the installed packages are as before"
echo "deb: $pkgs $version built ($build_seconds s), lintian-clean of errors, installed, used by" \
    "five consumers and purged in $(($(date +%s) - t0)) s"
