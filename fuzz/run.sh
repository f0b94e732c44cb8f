#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every fuzz_<name> of a fuzz build on a working copy of corpus/<name>/ (the fuzzer adds
# inputs to the directory it is given; the repository's corpus stays as it is) with
# dict/<name>.dict. `make fuzz` and `make fuzz-long` build the tree and call this.
# Usage: run.sh smoke BUILD_DIR
#   The CI smoke: each target for SMTP_FUZZ_SECONDS, or an even share of
#   SMTP_FUZZ_TOTAL_SECONDS (default 300); the first failure ends the run with its log tail,
#   its log and artifact kept in BUILD_DIR/fuzz-smoke.
# Usage: run.sh long BUILD_DIR PER [OUT]
#   The release run (fuzz/README.md): each target in turn for PER seconds, one core, at low
#   priority; a target that stops on a failure keeps its artifact and starts again on its grown
#   corpus until its time is used. Corpora, logs and artifacts in OUT (default /tmp/smtp-fuzz).
set -eu
mode=${1:-} build=$(cd "${2:?usage: $0 smoke|long BUILD_DIR ...}" && pwd)
cd "$(dirname "$0")/.."
# The settings of every run; the long run adds its timeout and memory limit.
common="-max_len=4096 -print_final_stats=1"

# prepare NAME DIR: DIR/NAME holds a copy of the seed corpus; sets $dict to the -dict option.
prepare() {
    mkdir -p "$2/$1"
    cp fuzz/corpus/"$1"/* "$2/$1"/
    dict=
    if [ -f fuzz/dict/"$1".dict ]; then dict=-dict=fuzz/dict/"$1".dict; fi
}

set -- "$build"/fuzz/fuzz_*
if [ ! -x "$1" ]; then
    echo "no fuzz_* programs in $build/fuzz (configure with -DSMTP_BUILD_FUZZERS=ON)"
    exit 1
fi

case $mode in
smoke)
    per=${SMTP_FUZZ_SECONDS:-$((${SMTP_FUZZ_TOTAL_SECONDS:-300} / $#))}
    [ "$per" -ge 1 ] || per=1
    out=$build/fuzz-smoke
    rm -rf "$out"
    for f; do
        name=${f##*/fuzz_}
        prepare "$name" "$out"
        echo "-- fuzz_$name, $per s"
        # shellcheck disable=SC2086 # $common and $dict are lists of options
        if ! "$f" -max_total_time="$per" $common $dict -artifact_prefix="$out/crash-$name-" \
            "$out/$name" >"$out/$name.log" 2>&1; then
            tail -n 60 "$out/$name.log"
            echo "fuzz_$name found a failure: $out/$name.log," "$out"/crash-"$name"-*
            exit 1
        fi
        grep -E 'DONE|^stat::(number_of_executed_units|peak_rss_mb)' "$out/$name.log" || true
        rm -rf "${out:?}/$name" "$out/$name.log"
    done
    rm -rf "$out"
    ;;
long)
    per=${3:?PER, the seconds for each target} out=${4:-/tmp/smtp-fuzz}
    mkdir -p "$out"
    for f; do
        name=${f##*/fuzz_}
        prepare "$name" "$out"
        start=$(date +%s) n=0
        while left=$((per - ($(date +%s) - start))) && [ $left -ge 5 ] && [ $n -lt 20 ]; do
            n=$((n + 1))
            # shellcheck disable=SC2086
            nice -n 10 "$f" -max_total_time=$left $common $dict -timeout=10 -rss_limit_mb=2048 \
                -artifact_prefix="$out/crash-$name-" "$out/$name" >"$out/$name.$n.log" 2>&1 && break
        done
        echo "fuzz_$name: $n run(s)"
    done
    grep -H -E 'DONE|^stat::(number_of_executed_units|peak_rss_mb)' "$out"/*.log
    ls "$out"/crash-* 2>/dev/null || echo "no failure"
    ;;
*)
    echo "usage: $0 smoke BUILD_DIR | long BUILD_DIR PER [OUT]"
    exit 2
    ;;
esac
