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
src=$(dirname "$readme")
for f in "$tmp"/block*.c; do
    [ -f "$f" ] || continue
    # A block that shows a program of examples/ ("/* mail-send HOST ...", the file's second
    # line) must be that file, but for its SPDX line: the build compiles it and an e2e test
    # runs it (it needs a server and the TLS adapter).
    example=$(sed -n '1s|^/\* \([a-z-]*\) .*|\1|p' "$f")
    if [ -n "$example" ] && [ -f "$src/examples/$example.c" ]; then
        tail -n +2 "$src/examples/$example.c" | cmp -s - "$f" ||
            { echo "README's block for examples/$example.c differs from the file"; exit 1; }
        # The task examples are short: at most 25 lines of user C (example_lines.sh).
        lines=$(sh "$src/tests/example_lines.sh" "$f")
        [ "${lines% *}" -le 25 ] ||
            { echo "examples/$example.c has ${lines% *} lines of user C (at most 25)"; exit 1; }
        echo "== examples/$example.c: README shows it as it is (${lines% *} lines of user C)"
        count=$((count + 1))
        continue
    fi
    grep -q 'int main' "$f" || continue
    count=$((count + 1))
    # shellcheck disable=SC2086
    "$cc" $cflags -std=c11 -Wall -Wextra -Werror -I"$inc" -I"$geninc" "$f" "$lib" -o "$f.bin"
    echo "== $(basename "$f")"
    "$f.bin"
done
[ "$count" -gt 0 ] || { echo "no runnable C example in $readme"; exit 1; }
echo "$count README examples compiled and ran"
