#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/baseline.sh REV DIR: builds smtp-sink and smtp-send of commit REV (a Release tree, as
# make bench builds ours) in DIR, from `git archive REV` of this repository, for bench/run.sh's
# BENCH_BASELINE (part e2e: issue #18's "no regression" rows against issue #8's code, 47cece9).
# Does nothing when DIR already holds REV's build. Exit status 1, with a note, when there is no
# git history holding REV (a tarball of the sources) or the build fails: make bench then runs
# without the baseline and its rows say so.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 REV DIR [CMAKE_ARGS...]" >&2
    exit 2
fi
rev=$1 dir=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
note() { echo "bench/baseline.sh: $*" >&2; }
if [ -x "$dir/examples/smtp-sink" ] && [ -x "$dir/examples/smtp-send" ] &&
    [ "$(cat "$dir/baseline-rev" 2>/dev/null)" = "$rev" ]; then
    exit 0
fi
if ! git -C "$src" cat-file -e "$rev^{commit}" 2>/dev/null; then
    note "no git history holding $rev here: the end-to-end rows are measured without it"
    exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/src"
if ! git -C "$src" archive "$rev" | tar -x -C "$dir/src"; then
    note "git archive $rev failed"
    exit 1
fi
if ! { cmake -S "$dir/src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DSMTP_BUILD_TESTS=OFF \
    -DSMTP_BUILD_BENCH=OFF "$@" && cmake --build "$dir" -j "${JOBS:-2}" --target smtp-sink smtp-send; } \
    >"$dir/build.log" 2>&1; then
    note "building $rev failed (see $dir/build.log)"
    exit 1
fi
echo "$rev" >"$dir/baseline-rev"
