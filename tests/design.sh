#!/bin/sh
# SPDX-License-Identifier: MIT
# docs/DESIGN.md stays the reference the code cites: every "DESIGN.md invariant N" (or
# "invariants N and M") in the sources names an invariant numbered in its "Invariants" section.
# Usage: design.sh SOURCE_DIR
set -eu
top=$1
design="$top/docs/DESIGN.md"
[ -f "$design" ] || { echo "no docs/DESIGN.md"; exit 1; }
# The numbers of the invariants: "N. " items of the section "## Invariants".
numbers=$(awk '/^## /{ins = ($0 ~ /^## Invariants/)} ins && /^[0-9]+\. /{sub(/\..*/, ""); print}' \
    "$design")
[ -n "$numbers" ] || { echo "docs/DESIGN.md has no numbered invariants"; exit 1; }
status=0
refs=0
# References may wrap across comment lines ("DESIGN.md\n * invariant 8"): join them first.
cited=$(cd "$top" && find lib include tests fuzz examples bench docs README.md -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.md' \) ! -path docs/DESIGN.md \
    -print | while read -r f; do
        perl -0777 -ne 's/\n[ \t]*(\*|#|\/\/)?[ \t]*/ /g;
            while (/DESIGN\.md\s+invariants?\s+(\d+(?:\s*(?:,|and)\s*\d+)*)/g) {
                my $n = $1; $n =~ s/\D+/ /g; print "$ARGV $n\n" }' "$f"
    done)
while read -r where nums; do
    [ -n "$where" ] || continue
    for n in $nums; do
        refs=$((refs + 1))
        if ! printf '%s\n' $numbers | grep -qx "$n"; then
            echo "$where cites DESIGN.md invariant $n, which docs/DESIGN.md does not have"
            status=1
        fi
    done
done <<REFS
$cited
REFS
[ "$refs" -ge 10 ] || { echo "only $refs references to DESIGN.md invariants found"; status=1; }
[ $status -eq 0 ] && echo "design: $refs references, each names one of invariants $(echo $numbers)"
exit $status
