#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks the symbols a shared libsmtp exports (nm -D):
#  1. every one begins with smtp_;
#  2. none equals a symbol exported by libESMTP (Debian's libesmtp6), read with nm from the
#     installed library when there is one (CI installs it), else from the list kept beside this
#     script (tests/libesmtp6.syms, made with the same nm command). In CI the real library is
#     required: set CI=true and a missing libesmtp6 fails the test.
# Usage: symbols.sh LIBSMTP.so LIST
set -eu
lib=$1
list=$2
ours=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)
if [ -z "$ours" ]; then
    echo "no exported symbols found in $lib"; exit 1
fi
bad=$(printf '%s\n' "$ours" | grep -v '^smtp_' | grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$bad" ]; then
    echo "exported symbols without the smtp_ prefix:"; printf '%s\n' "$bad"; exit 1
fi
esmtp=$(ls /usr/lib/*/libesmtp.so.6* /usr/lib/libesmtp.so.6* 2>/dev/null | head -n 1 || true)
if [ -n "$esmtp" ]; then
    theirs=$(nm -D --defined-only "$esmtp" | awk '{print $3}' | sort -u)
    echo "libESMTP symbols read from $esmtp"
elif [ "${CI:-}" = true ]; then
    echo "libesmtp6 is not installed (CI must install it: apt-get install libesmtp6)"; exit 1
else
    theirs=$(sort -u "$list")
    echo "libESMTP symbols read from $list (libesmtp6 not installed)"
fi
clash=$(printf '%s\n%s\n' "$ours" "$theirs" | sort | uniq -d)
if [ -n "$clash" ]; then
    echo "symbols that clash with libESMTP:"; printf '%s\n' "$clash"; exit 1
fi
echo "$(printf '%s\n' "$ours" | wc -l) exported symbols, all smtp_*, none shared with libESMTP"
