#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# The OSS-Fuzz and ClusterFuzzLite build (https://google.github.io/oss-fuzz/getting-started/
# new-project-guide/): the engine's compile command builds the library with the project's CMake
# and compiles each fuzz/fuzz_<name>.c, which links with the engine into $OUT/fuzz_<name>, next
# to fuzz_<name>_seed_corpus.zip (corpus/<name>/), fuzz_<name>.dict (dict/<name>.dict) and
# fuzz_<name>.options (the -max_len of make fuzz).
# In: $SRC/libsmtp, the checkout; $CC, $CFLAGS (sanitizers and coverage of the build);
# $CXX, $CXXFLAGS and $LIB_FUZZING_ENGINE (the link: the engines are C++); $WORK, scratch;
# $OUT, the results. fuzz/oss-fuzz/ci.sh runs it the same way with Debian's clang.
src=$SRC/libsmtp
build=$WORK/libsmtp-build

# Only the engine's flags: build type None adds none of CMake's.
# The TLS adapter only where mbedTLS is installed (the Dockerfile's libmbedtls-dev): fuzz_dane
# links it, and is left out without it.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_C_FLAGS="$CFLAGS" -DSMTP_BUILD_TESTS=OFF -DSMTP_BUILD_EXAMPLES=OFF \
    -DSMTP_WITH_MBEDTLS=AUTO
cmake --build "$build" -j "$(nproc)" --target smtp
tls=
if [ -d "$build/lib/tls" ]; then
    cmake --build "$build" -j "$(nproc)" --target smtp_tls
    tls=1
fi

for harness in "$src"/fuzz/fuzz_*.c; do
    target=$(basename "$harness" .c)
    name=${target#fuzz_}
    inc=() libs=("$build/lib/libsmtp.a")
    if [ "$name" = dane ]; then # the TLS adapter's internal DANE check, and mbedTLS
        [ -n "$tls" ] || continue
        inc=(-I"$src/lib/tls" -I"$src/tests/tls")
        libs=("$build/lib/tls/libsmtp_tls.a" "${libs[@]}" -lmbedtls -lmbedx509 -lmbedcrypto)
    fi
    # shellcheck disable=SC2086 # the flags are lists
    $CC $CFLAGS -std=c11 -DSMTP_STATIC -I"$src/include" -I"$build/include" "${inc[@]}" \
        -c "$harness" -o "$WORK/$target.o"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$WORK/$target.o" "${libs[@]}" $LIB_FUZZING_ENGINE -o "$OUT/$target"
    rm -f "$OUT/${target}_seed_corpus.zip"
    python3 -m zipfile -c "$OUT/${target}_seed_corpus.zip" "$src/fuzz/corpus/$name"/*
    if [ -f "$src/fuzz/dict/$name.dict" ]; then
        cp "$src/fuzz/dict/$name.dict" "$OUT/$target.dict"
    fi
    printf '[libfuzzer]\nmax_len = 4096\n' >"$OUT/$target.options"
done
