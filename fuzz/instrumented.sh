#!/bin/sh
# SPDX-License-Identifier: MIT
# A fuzz build instruments the library the fuzz targets link, not only the harnesses: every
# object of smtp_fuzzlib references libFuzzer's coverage callbacks (__sanitizer_cov_*) and,
# with address in the sanitizers, ASan's (__asan_*); with undefined, UBSan's handlers appear;
# the plain smtp library has no coverage.
# Usage: instrumented.sh FUZZLIB SANITIZERS PLAINLIB   (PLAINLIB "-": not checked)
#        instrumented.sh --tree SOURCE_DIR WORK_DIR
#   The second form configures WORK_DIR as the README's one-line fuzz tree (clang,
#   -DSMTP_BUILD_FUZZERS=ON, nothing else), builds smtp_fuzzlib, smtp and fuzz_reply, checks
#   them, and removes WORK_DIR. Exit 77 (skip) when clang or its libFuzzer runtime is missing.
set -eu

if [ "$1" = --tree ]; then
    src=$2 work=$3
    command -v clang >/dev/null 2>&1 || { echo "skip: no clang"; exit 77; }
    rm -rf "$work"
    mkdir -p "$work"
    trap 'rm -rf "$work"' EXIT
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d[0] + (int)n; }' \
        >"$work/probe.c"
    if ! clang -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>/dev/null
    then
        echo "skip: clang cannot link libFuzzer with ASan and UBSan (Debian: libclang-rt-14-dev)"
        exit 77
    fi
    # The tree must not inherit the caller's flags: it tests what the one-line cmake gives.
    unset CFLAGS LDFLAGS
    cmake -S "$src" -B "$work/b" -DCMAKE_C_COMPILER=clang -DSMTP_BUILD_FUZZERS=ON \
        -DSMTP_BUILD_TESTS=OFF -DSMTP_BUILD_EXAMPLES=OFF -DSMTP_WITH_MBEDTLS=OFF \
        >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    cmake --build "$work/b" -j 2 --target smtp_fuzzlib smtp fuzz_reply >"$work/log" 2>&1 ||
        { cat "$work/log"; exit 1; }
    sh "$0" "$work/b/fuzz/libsmtp_fuzzlib.a" address,undefined "$work/b/lib/libsmtp.a"
    exit
fi

fuzzlib=$1 sanitizers=$2 plain=$3
status=0

# lacking LIB PATTERN: the objects of the archive LIB with no symbol matching PATTERN.
lacking() {
    nm -A "$1" | awk -v pat="$2" '
        { split($1, at, ":"); seen[at[2]] = 1 }
        $NF ~ pat { hit[at[2]] = 1 }
        END { for (o in seen) if (!(o in hit)) print o }'
}

# require LIB PATTERN WHAT: every object of LIB has a symbol matching PATTERN.
require() {
    missing=$(lacking "$1" "$2")
    if [ -n "$missing" ]; then
        echo "$1: no $3 in: $(echo "$missing" | tr '\n' ' ')"
        status=1
    fi
}

objects=$(nm -A "$fuzzlib" | awk '{ split($1, at, ":"); print at[2] }' | sort -u | wc -l)
[ "$objects" -gt 20 ] || { echo "$fuzzlib: only $objects objects"; exit 1; }
require "$fuzzlib" '^__sanitizer_cov_|^__sancov_' "libFuzzer coverage (-fsanitize=fuzzer-no-link)"
case ",$sanitizers," in *,address,*) require "$fuzzlib" '^__asan_' "ASan" ;; esac
case ",$sanitizers," in
*,undefined,*)
    nm "$fuzzlib" | grep -q ' __ubsan_handle_' || { echo "$fuzzlib: no UBSan handler"; status=1; }
    ;;
esac
if [ "$plain" != - ] && nm "$plain" 2>/dev/null | grep -q -E ' (__sanitizer_cov_|__sancov_)'; then
    echo "$plain: the plain library has libFuzzer coverage; only smtp_fuzzlib should"
    status=1
fi
[ "$plain" = - ] && plain="the plain library (not checked)"
[ $status -eq 0 ] && echo "fuzz-instrumented: $objects objects of $fuzzlib have coverage" \
    "(sanitizers: ${sanitizers:-none}); $plain has none"
exit $status
