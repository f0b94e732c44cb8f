#!/bin/sh
# SPDX-License-Identifier: MIT
# After ctest (make test): says once which interop tests were skipped, why, and how to install
# their peers. An interop test skips with exit 77 after a line "SKIP: reason" (lib.sh), which
# ctest keeps in Testing/Temporary/LastTest.log. Prints nothing when none was skipped; always
# exits 0, so make test keeps ctest's status.
# Usage: skipped.sh BUILD_DIR
log=$1/Testing/Temporary/LastTest.log
[ -f "$log" ] || exit 0
# One line per skipped test: "reason<TAB>name". A test's block starts with "N/M Test: name"
# and its output runs from "Output:" to "<end of output>".
awk '
    /^[0-9]+\/[0-9]+ Test: / { name = $3; out = 0; next }
    /^Output:$/ { out = 1; next }
    /^<end of output>$/ { out = 0; next }
    out && name ~ /^interop\// && /^SKIP: / {
        reason = substr($0, 7)
        sub(/;? *run tests\/interop\/install\.sh$/, "", reason)
        sub(/^interop\//, "", name)
        print reason "\t" name
    }
' "$log" | sort >"$log.skipped" 2>/dev/null || exit 0
if [ -s "$log.skipped" ]; then
    echo
    echo "interop peers skipped ($(wc -l <"$log.skipped" | tr -d ' ') tests):"
    # Group the tests by reason: "  reason: test, test".
    awk -F '\t' '
        $1 != last { if (NR > 1) print line; line = "  " $1 ": " $2; last = $1; next }
        { line = line ", " $2 }
        END { print line }
    ' "$log.skipped"
    # A missing peer says so ("X is missing", "no python3 with aiosmtpd"); the other reasons
    # (a build without mbedTLS, Postfix without root) are not cured by installing.
    if grep -q 'missing\|^no ' "$log.skipped"; then
        echo "run 'sh tests/interop/install.sh' as root to install them (docs/interop.md)"
    fi
fi
rm -f "$log.skipped"
exit 0
