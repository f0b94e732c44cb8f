#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed libsmtp works from wherever it is installed (cmake/install.cmake):
#  1. cmake --install into a temporary prefix, and with DESTDIR into a staging tree: headers,
#     libraries, the .pc files (relocatable: nothing installed names the prefix), the
#     CMake package, the programs, their man pages and the documents;
#  2. find_package(smtp CONFIG COMPONENTS io [tls] [idn]) finds each component built; a missing
#     one fails with its reason, and is only reported under OPTIONAL_COMPONENTS;
#  3. consumers (tests/install/consumer.c) built against the installed tree, as the build is
#     (static or shared, checked on the binaries), with the build's compiler and flags (a
#     sanitizer build needs them to link): one with CMake (tests/install/CMakeLists.txt), one
#     per component with a plain Makefile and pkg-config from the staged tree, used as installed
#     (a plain parse of the .pc files when pkg-config is missing). Each sends a message to the
#     installed smtp-sink on 127.0.0.1 (STARTTLS when the TLS adapter is built), and one
#     receives a message from the installed smtp-send; smtp-sink's JSON lines are checked
#     (tests/consumers.sh, shared with tests/deb.sh). With the IDNA component, the CMake
#     consumer and one of pkg-config smtp-idn send a UTF-8 EHLO name in A-label form.
# Every process started is stopped by its PID; every wait is bounded.
# Usage: install.sh BUILD_DIR SOURCE_DIR CC CFLAGS SHARED(ON|OFF) TLS(1|0) PROGRAMS(1|0) MKCERT
#   IDN(1|0)
#   MKCERT: the test certificate maker (tests/e2e/mkcert.c), or "none"
# Environment: SMTP_TEST_NO_PKG_CONFIG=1 parses the .pc files even where pkg-config is;
# SMTP_TEST_KEEP=1 keeps the temporary directory.
set -eu
build=$1 src=$2 cc=$3 cflags_build=$4 shared=$5 tls=$6 programs=$7 mkcert=$8 idn=$9
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-install.XXXXXX")
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    [ -n "${SMTP_TEST_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
    echo "FAIL: $*"
    for f in "$tmp"/*.log; do
        [ -f "$f" ] && { echo "---- $(basename "$f")"; tail -c 3000 "$f"; }
    done
    exit 1
}
step() { echo "== $*"; }

# ---- 1. Install, into a prefix and staged under DESTDIR ----
P=$tmp/prefix
step "cmake --install $build --prefix \$tmp/prefix"
cmake --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1 || fail "cmake --install failed"
step "DESTDIR=\$tmp/stage cmake --install $build --prefix /usr"
DESTDIR=$tmp/stage cmake --install "$build" --prefix /usr >"$tmp/install-destdir.log" 2>&1 ||
    fail "cmake --install with DESTDIR failed"
S=$tmp/stage/usr
[ "$(ls -A "$tmp/stage")" = usr ] || fail "DESTDIR install wrote outside \$DESTDIR/usr"

# libdir is lib, lib64 or lib/<multiarch> (GNUInstallDirs): found by smtp.pc.
pcdir_of() {
    d=$(dirname "$(find "$1" -name smtp.pc -path '*/pkgconfig/*' | head -n 1)")
    [ -f "$d/smtp.pc" ] || fail "no smtp.pc under $1"
    echo "$d"
}
pc_P=$(pcdir_of "$P")
pc_S=$(pcdir_of "$S")
libdir_P=$(dirname "$pc_P")
libdir_S=$(dirname "$pc_S")

expect() { # expect FILE...: each exists under $P
    for f in "$@"; do [ -e "$P/$f" ] || fail "not installed: $f"; done
}
absent() {
    for f in "$@"; do [ ! -e "$P/$f" ] || fail "installed, but should not be: $f"; done
}
expect include/smtp/smtp.h include/smtp/version.h include/smtp/io.h \
    share/doc/libsmtp/LICENSE share/doc/libsmtp/README.md share/doc/libsmtp/CHANGELOG.md
cmdir=${libdir_P#"$P"/}/cmake/smtp
expect "$cmdir/smtpConfig.cmake" "$cmdir/smtpConfigVersion.cmake" "$cmdir/smtpTargets.cmake" \
    "$cmdir/smtpIoTargets.cmake"
if [ "$shared" = ON ]; then lib=so; else lib=a; fi
expect "${libdir_P#"$P"/}/libsmtp.$lib" "${libdir_P#"$P"/}/libsmtp_io.$lib"
pcs="smtp smtp-io"
# installed_component NAME EXPORT BUILT: an optional component's header, export set, library
# and .pc file are installed when it was built (BUILT 1); otherwise neither its header, its
# export set nor its .pc file is.
installed_component() {
    if [ "$3" = 1 ]; then
        pcs="$pcs smtp-$1"
        expect "include/smtp/$1.h" "$cmdir/$2.cmake" "${libdir_P#"$P"/}/libsmtp_$1.$lib" \
            "${pc_P#"$P"/}/smtp-$1.pc"
    else
        absent "include/smtp/$1.h" "$cmdir/$2.cmake" "${pc_P#"$P"/}/smtp-$1.pc"
    fi
}
installed_component tls smtpTlsTargets "$tls"
installed_component idn smtpIdnTargets "$idn"
if [ "$programs" = 1 ]; then
    expect bin/smtp-send bin/smtp-sink bin/smtp-proxy share/man/man1/smtp-send.1 \
        share/man/man1/smtp-sink.1 share/man/man1/smtp-proxy.1
    [ "$tls" = 1 ] && expect bin/mail-send
    for f in smtp-send smtp-sink smtp-proxy; do [ -x "$P/bin/$f" ] || fail "bin/$f is not executable"; done
fi
# Relocatable: no installed text file names the prefix or the staging tree.
if grep -rIlF "$P" "$P" >"$tmp/named.log" || grep -rIlF "$tmp/stage" "$S" >>"$tmp/named.log"; then
    fail "installed files name their install prefix: $(cat "$tmp/named.log")"
fi
for pc in $pcs; do
    # shellcheck disable=SC2016
    grep -q '^prefix=${pcfiledir}/' "$pc_P/$pc.pc" || fail "$pc.pc: prefix is not \${pcfiledir}/..."
    grep -q '^License: MIT$' "$pc_P/$pc.pc" || fail "$pc.pc: no License: MIT"
done
step "installed: headers, libraries ($lib), CMake package, $pcs.pc, programs and documents"

# ---- 2. find_package(smtp CONFIG ...) ----
# probe NAME PREFIX ARGS...: configures a project that only calls find_package(smtp ARGS), with
# CMAKE_PREFIX_PATH=PREFIX; the output in $tmp/NAME.log.
probe() {
    name=$1 prefix=$2
    shift 2
    mkdir -p "$tmp/$name"
    # shellcheck disable=SC2016
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(probe LANGUAGES C)\n%s\n%s\n' \
        "find_package(smtp 0.1 CONFIG $*)" \
        'message(STATUS "probe: smtp_FOUND=${smtp_FOUND} io=${smtp_io_FOUND} tls=${smtp_tls_FOUND} idn=${smtp_idn_FOUND}")' \
        >"$tmp/$name/CMakeLists.txt"
    cmake -S "$tmp/$name" -B "$tmp/$name/b" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/$name.log" 2>&1
}
# optional_component COMP BUILT EXPORT WHY: an optional component (tls, idn) is found when it
# was built (BUILT 1); in a libsmtp without it (the same tree without its export set EXPORT, or
# the tree itself when it was not built: $without) REQUIRED fails saying WHY, and
# OPTIONAL_COMPONENTS only sets smtp_COMP_FOUND to FALSE.
optional_component() {
    comp=$1 built=$2 export=$3 why=$4
    if [ "$built" = 1 ]; then
        probe "find_$comp" "$P" REQUIRED COMPONENTS io "$comp" ||
            fail "find_package(smtp COMPONENTS io $comp)"
        grep -q "probe: smtp_FOUND=1 io=TRUE .*$comp=TRUE" "$tmp/find_$comp.log" ||
            fail "io and $comp not found"
        without=$tmp/no$comp
        cp -R "$P" "$without"
        rm -f "$without/$cmdir/$export"*.cmake
    else
        without=$P
    fi
    if probe "find_no$comp" "$without" REQUIRED COMPONENTS io "$comp"; then
        fail "find_package(smtp REQUIRED COMPONENTS io $comp) succeeded without the $comp component"
    fi
    tr -s ' \n' ' ' <"$tmp/find_no$comp.log" | grep -qF "$why" ||
        fail "find_package(smtp REQUIRED COMPONENTS $comp) failed without saying why"
    probe "find_optional_$comp" "$without" REQUIRED COMPONENTS io OPTIONAL_COMPONENTS "$comp" ||
        fail "find_package(smtp OPTIONAL_COMPONENTS $comp) failed without the $comp component"
    grep -q "probe: smtp_FOUND=1 io=TRUE .*$comp=FALSE" "$tmp/find_optional_$comp.log" ||
        fail "OPTIONAL_COMPONENTS $comp: wrong result"
}
optional_component tls "$tls" smtpTlsTargets "libsmtp was built without mbedTLS: the tls component is not installed (Debian: apt-get install libmbedtls-dev, then rebuild libsmtp)"
probe find_io "$without" REQUIRED COMPONENTS io || fail "find_package(smtp COMPONENTS io)"
grep -q 'probe: smtp_FOUND=1 io=TRUE' "$tmp/find_io.log" || fail "io not found"
optional_component idn "$idn" smtpIdnTargets "libsmtp was built without libidn2: the idn component is not installed (Debian: apt-get install libidn2-dev, then rebuild libsmtp)"
if probe find_unknown "$P" REQUIRED COMPONENTS nosuch; then fail "an unknown component was found"; fi
grep -q "libsmtp has no component 'nosuch'" "$tmp/find_unknown.log" ||
    fail "an unknown component failed without saying why"
comps=io
[ "$tls" = 1 ] && comps="$comps tls"
[ "$idn" = 1 ] && comps="$comps idn"
step "find_package(smtp CONFIG COMPONENTS $comps): found; a missing tls or idn says why"

# ---- 3. Consumers ----
# The CMake consumer, built against $P.
step "CMake consumer: find_package(smtp COMPONENTS io OPTIONAL_COMPONENTS tls idn)"
cmake -S "$src/tests/install" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags_build" >"$tmp/cmake-consumer.log" 2>&1 ||
    fail "the CMake consumer does not configure"
cmake --build "$tmp/cmake-consumer" >>"$tmp/cmake-consumer.log" 2>&1 ||
    fail "the CMake consumer does not build"

# pc_get FILE FIELD: FIELD (Libs, Cflags, Requires) of a .pc file with its ${variables}
# expanded, ${pcfiledir} being the file's directory: what pkg-config reads, for a machine
# without it.
pc_get() {
    awk -v field="$2" -v dir="$(dirname "$1")" '
        function expand(s,   out) {
            out = ""
            while (match(s, /\$\{[A-Za-z0-9_.]+\}/)) {
                out = out substr(s, 1, RSTART - 1) var[substr(s, RSTART + 2, RLENGTH - 3)]
                s = substr(s, RSTART + RLENGTH)
            }
            return out s
        }
        BEGIN { var["pcfiledir"] = dir }
        /^[ \t]*#/ { next }
        /^[A-Za-z0-9_.]+[ \t]*=/ {
            i = index($0, "="); n = substr($0, 1, i - 1); sub(/[ \t]+$/, "", n)
            v = substr($0, i + 1); sub(/^[ \t]+/, "", v); var[n] = expand(v); next
        }
        /^[A-Za-z0-9_.]+[ \t]*:/ {
            i = index($0, ":"); n = substr($0, 1, i - 1); sub(/[ \t]+$/, "", n)
            if (n == field) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print expand(v) }
        }
    ' "$1"
}
# pc_flags DIR MODULES FIELD: FIELD of each of MODULES, then of what it Requires, in
# pkg-config's order.
pc_flags() {
    for mod in $2; do
        printf '%s ' "$(pc_get "$1/$mod.pc" "$3")"
        for req in $(pc_get "$1/$mod.pc" Requires | sed 's/[<>=!]=*[ ]*[^ ,]*//g; s/,/ /g'); do
            pc_flags "$1" "$req" "$3"
        done
    done
}
# pc_consumer NAME MODULES [CPPFLAGS]: the Makefile consumer of MODULES, built against the staged
# tree $S; with pkg-config when there is one (SMTP_TEST_NO_PKG_CONFIG=1: never), else with
# the flags read by pc_flags.
pc_consumer() {
    mkdir -p "$tmp/$1"
    set -- "$1" "$2" "${3:-}"
    if command -v pkg-config >/dev/null 2>&1 && [ -z "${SMTP_TEST_NO_PKG_CONFIG:-}" ]; then
        PKG_CONFIG_PATH=$pc_S make -C "$tmp/$1" -f "$src/tests/install/Makefile" CC="$cc" \
            CFLAGS="$cflags_build -Wall -Wextra -Werror" CPPFLAGS="$3" PKGS="$2" \
            >"$tmp/$1.log" 2>&1 || fail "the pkg-config consumer of $2 does not build"
        how="pkg-config $(pkg-config --version)"
    else
        make -C "$tmp/$1" -f "$src/tests/install/Makefile" CC="$cc" \
            CFLAGS="$cflags_build -Wall -Wextra -Werror" CPPFLAGS="$3" PKGS="$2" \
            SMTP_CFLAGS="$(pc_flags "$pc_S" "$2" Cflags)" SMTP_LIBS="$(pc_flags "$pc_S" "$2" Libs)" \
            >"$tmp/$1.log" 2>&1 || fail "the consumer of $2 (flags parsed from its .pc) does not build"
        how="the .pc files parsed (no pkg-config)"
    fi
    step "Makefile consumer of pkg-config $2, with $how"
}
# run_path MODULE: the library directories MODULE's consumer runs with: the staged libdir and
# every -L of its flags (mbedTLS outside the system's directories, as .ci/mbedtls3.sh has it).
run_path() {
    if command -v pkg-config >/dev/null 2>&1 && [ -z "${SMTP_TEST_NO_PKG_CONFIG:-}" ]; then
        libs=$(PKG_CONFIG_PATH=$pc_S pkg-config --static --libs "$1")
    else
        libs=$(pc_flags "$pc_S" "$1" Libs)
    fi
    path=$libdir_S
    for f in $libs; do
        case $f in -L*) path=$path:${f#-L} ;; esac
    done
    echo "$path"
}
pc_consumer pc-io smtp-io
[ "$tls" = 1 ] && pc_consumer pc-tls smtp-tls -DCONSUMER_TLS
[ "$idn" = 1 ] && pc_consumer pc-idn "smtp-io smtp-idn" -DCONSUMER_IDN

# Linked as built: a shared build's consumers need libsmtp*.so, a static build's none.
if command -v readelf >/dev/null 2>&1; then
    for bin in "$tmp/cmake-consumer/consumer" "$tmp/pc-io/consumer"; do
        needed=$(readelf -d "$bin" | grep -c 'NEEDED.*libsmtp' || true)
        if [ "$shared" = ON ] && [ "$needed" -eq 0 ]; then fail "$bin: not linked with libsmtp.so"; fi
        if [ "$shared" = OFF ] && [ "$needed" -ne 0 ]; then fail "$bin: linked with a libsmtp.so"; fi
    done
    step "the consumers link libsmtp $([ "$shared" = ON ] && echo shared || echo static)"
fi

if [ "$programs" != 1 ]; then
    echo "install: the programs were not built (SMTP_BUILD_EXAMPLES=OFF): no message sent"
    exit 0
fi

# ---- the consumers against the installed programs over 127.0.0.1 (tests/consumers.sh) ----
# smtp-sink with STARTTLS when the build has TLS; the CMake consumer and pc-tls send over TLS
# then, pc-io in plain text.
. "$src/tests/consumers.sh"
[ "$tls" = 1 ] && make_pki "$mkcert"
start_sink "$P/bin/smtp-sink" "$tls"
send cmake-consumer "$tmp/cmake-consumer/consumer" "$tls"
if [ "$idn" = 1 ]; then
    grep -q '"helo":"consumer.xn--bcher-kva.example"' "$tmp/sink.line" ||
        fail "cmake-consumer: the EHLO name did not come in A-label form"
fi
send pc-io "$tmp/pc-io/consumer" 0 LD_LIBRARY_PATH="$(run_path smtp-io)"
[ "$tls" = 1 ] && send pc-tls "$tmp/pc-tls/consumer" 1 LD_LIBRARY_PATH="$(run_path smtp-tls)"
if [ "$idn" = 1 ]; then
    send pc-idn "$tmp/pc-idn/consumer" 0 LD_LIBRARY_PATH="$(run_path "smtp-io smtp-idn")"
    grep -q '"helo":"consumer.xn--bcher-kva.example"' "$tmp/sink.line" ||
        fail "pc-idn: the EHLO name did not come in A-label form"
fi
# The consumer receives: the installed smtp-send sends it a message.
receive pc-io "$tmp/pc-io/consumer" "$P/bin/smtp-send" LD_LIBRARY_PATH="$(run_path smtp-io)"
stop_sink
pids=
echo "install: prefix and DESTDIR installs, find_package components, pkg-config, programs and" \
    "consumers all work ($lib)"
