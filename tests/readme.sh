#!/bin/sh
# SPDX-License-Identifier: MIT
# Keeps README.md true to the code: every ```c block that has a main() is compiled against the
# built library (with the build's compiler and flags) and run; it must exit 0.
# Usage: readme.sh README.md LIBSMTP.a INCLUDE_DIR GENERATED_INCLUDE_DIR CC CFLAGS
set -eu
readme=$1 lib=$2 inc=$3 geninc=$4 cc=$5 cflags=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
    /^```c$/ { n++; f = dir "/block" n ".c"; inblock = 1; next }
    /^```$/  { inblock = 0; next }
    inblock  { print > f }
' "$readme"
count=0
LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
for f in "$tmp"/block*.c; do
    [ -f "$f" ] || continue
    grep -q 'int main' "$f" || continue
    count=$((count + 1))
    # shellcheck disable=SC2086
    "$cc" $cflags -std=c11 -Wall -Wextra -Werror -I"$inc" -I"$geninc" "$f" "$lib" -o "$f.bin"
    echo "== $(basename "$f")"
    "$f.bin"
done
[ "$count" -gt 0 ] || { echo "no runnable C example in $readme"; exit 1; }
echo "$count README examples compiled and ran"
