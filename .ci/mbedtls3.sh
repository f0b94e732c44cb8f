#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and tests libsmtp against mbedTLS 3.6 (Debian trixie's packages), next to the 2.28 of
# the system (Debian bookworm): the packages are downloaded with apt-get and unpacked into a
# private directory (nothing is installed on the system), then the whole suite runs against them.
# Usage: .ci/mbedtls3.sh [PREFIX]   (default PREFIX: build-ci-mbedtls3/mbedtls; reused when present)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-ci-mbedtls3
prefix=${1:-$build/mbedtls}
version=3.6
arch=$(dpkg --print-architecture)
multiarch=$(gcc -print-multiarch 2>/dev/null || echo "$arch-linux-gnu")
libdir=$prefix/usr/lib/$multiarch

if [ ! -f "$prefix/usr/include/mbedtls/build_info.h" ]; then
    apt_dir=$(mktemp -d)
    trap 'rm -rf "$apt_dir"' EXIT
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
    echo "deb http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
    apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::Archives="$apt_dir/archives"
        -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -q)
    echo "== mbedTLS $version: downloading Debian trixie's packages into $prefix"
    apt-get "${apt_opts[@]}" update >/dev/null
    pkgs=()
    for p in libmbedtls-dev libmbedtls21 libmbedx509-7 libmbedcrypto16; do
        v=$(apt-cache "${apt_opts[@]}" madison "$p" | awk -v want="$version" \
            'index($3, want) == 1 { print $3; exit }')
        [ -n "$v" ] || { echo "no $p $version in trixie"; exit 1; }
        pkgs+=("$p=$v")
    done
    (cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" download "${pkgs[@]}" >/dev/null)
    mkdir -p "$prefix"
    for deb in "$apt_dir/archives"/*.deb; do dpkg -x "$deb" "$prefix"; done
fi
grep -h '#define MBEDTLS_VERSION_STRING ' "$prefix/usr/include/mbedtls/build_info.h"

# The shared libraries (the static ones are not position-independent); CMake puts their
# directory in the test programs' run path.
cmake -S . -B "$build" -DCMAKE_C_COMPILER=gcc -DSMTP_WERROR=ON -DSMTP_WITH_MBEDTLS=ON \
    -DSMTP_INTEROP_TESTS=OFF \
    -DSMTP_MBEDTLS_INCLUDE_DIR="$prefix/usr/include" \
    -DSMTP_MBEDTLS_LIBRARY="$libdir/libmbedtls.so" \
    -DSMTP_MBEDX509_LIBRARY="$libdir/libmbedx509.so" \
    -DSMTP_MBEDCRYPTO_LIBRARY="$libdir/libmbedcrypto.so" >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
# Prove the TLS programs run against 3.6, not the system's 2.28.
ldd "$build/examples/smtp-send" | grep -F "$libdir/libmbedtls.so" >/dev/null ||
    { echo "smtp-send is not linked with $libdir/libmbedtls.so"; exit 1; }
ctest --test-dir "$build" --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
