#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the built libsmtp into a temporary prefix, then builds two consumers against it:
# one with CMake's find_package(smtp), one with pkg-config's flags (read from smtp.pc by hand
# when pkg-config is not installed), with the compiler and flags of the build (a sanitizer build
# needs its flags to link). Usage: install.sh BUILD_DIR SOURCE_DIR CC CFLAGS
set -eu
build=$1
src=$2
cc=$3
cflags_build=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/smtp/smtp.h include/smtp/version.h include/smtp/reply.h; do
    test -f "$tmp/prefix/$f" || { echo "missing $f"; exit 1; }
done
pc=$(ls "$tmp"/prefix/lib*/pkgconfig/smtp.pc "$tmp"/prefix/lib/*/pkgconfig/smtp.pc 2>/dev/null | head -n 1)
test -n "$pc" || { echo "no smtp.pc installed"; exit 1; }
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags_build" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
# pkg-config: the .pc names the prefix given at configure time, so rewrite it for this prefix.
sed "s|^prefix=.*|prefix=$tmp/prefix|" "$pc" > "$tmp/smtp.pc"
if command -v pkg-config >/dev/null 2>&1; then
    cflags=$(PKG_CONFIG_PATH="$tmp" pkg-config --cflags smtp)
    libs=$(PKG_CONFIG_PATH="$tmp" pkg-config --libs smtp)
else
    libdir=$(dirname "$(dirname "$pc")")
    cflags="-I$tmp/prefix/include"
    libs="-L$libdir -lsmtp"
    grep -q '^Libs: -L${libdir} -lsmtp' "$pc" || { echo "unexpected Libs in smtp.pc"; exit 1; }
fi
"$cc" $cflags_build $cflags "$src/tests/install/consumer.c" -o "$tmp/consumer-pc" $libs
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$tmp/consumer-pc"
echo "install: headers, library, smtpConfig.cmake and smtp.pc all work"
