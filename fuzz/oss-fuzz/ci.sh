#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs build.sh the way OSS-Fuzz's compile step does, with Debian's clang and libFuzzer in place
# of the base-builder image (libFuzzer, ASan+UBSan: OSS-Fuzz's flags), in temporary $SRC, $WORK
# and $OUT, then each built target for SMTP_OSSFUZZ_SECONDS (default 4) on its unzipped seed
# corpus with its dictionary and options, as ClusterFuzz would start it. .ci/run calls it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${SMTP_OSSFUZZ_SECONDS:-4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export CC=clang CXX=clang++
CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined"
export CFLAGS="$CFLAGS -fsanitize=fuzzer-no-link"
export CXXFLAGS=$CFLAGS LIB_FUZZING_ENGINE=-fsanitize=fuzzer
export SRC=$tmp/src WORK=$tmp/work OUT=$tmp/out
# ClusterFuzz's run-time setting: a UBSan report stops the target (the build lets it recover).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p "$SRC" "$WORK" "$OUT"
ln -s "$repo" "$SRC/libsmtp"
(cd "$SRC/libsmtp" && bash "$repo/fuzz/oss-fuzz/build.sh") >"$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log"; echo "build.sh failed"; exit 1; }

count=0
for target in "$OUT"/fuzz_*; do
    case $target in *.zip | *.dict | *.options) continue ;; esac
    name=${target##*/}
    [ -f "${target}_seed_corpus.zip" ] || { echo "$name: no seed corpus"; exit 1; }
    [ -f "$target.options" ] || { echo "$name: no options"; exit 1; }
    corpus=$tmp/corpus/$name
    python3 -m zipfile -e "${target}_seed_corpus.zip" "$corpus"
    seeds=$(find "$corpus" -type f | wc -l)
    opts=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$tmp/crash-$name-")
    mapfile -t -O ${#opts[@]} opts < <(sed -n 's/^\([a-z_]*\) *= *\(.*\)$/-\1=\2/p' "$target.options")
    [ -f "$target.dict" ] && opts+=(-dict="$target.dict")
    if ! (cd "$tmp" && "$target" "${opts[@]}" "$corpus") >"$tmp/$name.log" 2>&1; then
        tail -n 60 "$tmp/$name.log"
        trap - EXIT
        echo "$name (OSS-Fuzz build) found a failure: its log and artifact are kept in $tmp"
        exit 1
    fi
    echo "$name: $seeds seeds, $(grep -h 'DONE' "$tmp/$name.log")"
    count=$((count + 1))
done
harnesses=("$repo"/fuzz/fuzz_*.c)
[ "$count" -eq ${#harnesses[@]} ] || { echo "built $count targets of ${#harnesses[@]}"; exit 1; }
echo "oss-fuzz: build.sh built $count targets, each ran ${seconds} s"
