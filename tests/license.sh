#!/bin/sh
# SPDX-License-Identifier: MIT
# The licence: LICENSE holds the MIT text, and every source, build and script file of the tree
# carries "SPDX-License-Identifier: MIT" in its first three lines (fuzz corpora and protocol
# vectors are data, not source). debian/ holds data in Debian's formats, which need no SPDX line
# (debian/copyright states the licence; debian/rules has the line); the build trees that an
# in-place dpkg-buildpackage leaves there (debian/build-*, debian/tmp, debian/<package>) are
# generated, as ./build* are: debian/'s directories are skipped.
# Usage: license.sh SOURCE_DIR
set -eu
top=$1
status=0
grep -q '^MIT License$' "$top/LICENSE" || { echo "LICENSE: not the MIT licence"; status=1; }
grep -q 'Permission is hereby granted, free of charge' "$top/LICENSE" ||
    { echo "LICENSE: the MIT permission notice is missing"; status=1; }
count=0
for f in $(cd "$top" && find . \( -path ./.git -o -path './build*' -o -path ./fuzz/corpus \
        -o -path ./fuzz/crashes -o -path ./tests/vectors -o -name node_modules \
        -o \( -path './debian/*' -type d \) \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' -o -name '*.in' -o -name '*.sh' -o -name '*.py' \
        -o -name '*.mjs' -o -name '*.dict' -o -name '*.1' -o -name '*.3' \
        -o -name CMakeLists.txt -o -name Makefile -o -name run \) -print); do
    count=$((count + 1))
    if ! head -n 3 "$top/$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "$f: no 'SPDX-License-Identifier: MIT' in its first three lines"
        status=1
    fi
done
[ "$count" -gt 100 ] || { echo "only $count source files found under $top"; status=1; }
[ $status -eq 0 ] && echo "license: LICENSE is MIT, $count files carry the SPDX line"
exit $status
