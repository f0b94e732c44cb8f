# SPDX-License-Identifier: MIT
# A thin wrapper over CMake (as Neovim does). The two set-up commands are `make demo` and
# `make test`; everything else is CMake.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build test demo bench fuzz fuzz-long fuzz-build clean install format

all: build

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

demo: build
	sh examples/demo.sh $(BUILD_DIR)/examples

# Benchmarks (bench/run.sh): a Release tree of its own, without the tests; prints one table.
bench:
	cmake -S . -B $(BUILD_DIR)-bench -DCMAKE_BUILD_TYPE=Release -DSMTP_BUILD_BENCH=ON \
		-DSMTP_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR)-bench -j $(JOBS)
	cmake --build $(BUILD_DIR)-bench --target bench

# Fuzzing (fuzz/README.md): a clang tree of its own with the libFuzzer targets over an
# instrumented copy of the library. `make fuzz` is the CI smoke (SMTP_FUZZ_TOTAL_SECONDS shared,
# or SMTP_FUZZ_SECONDS each); `make fuzz-long PER=seconds` is the release run (fuzz/run.sh).
FUZZ_DIR ?= $(BUILD_DIR)-fuzz
PER ?= 360
fuzz-build:
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DSMTP_BUILD_FUZZERS=ON \
		-DSMTP_BUILD_TESTS=OFF -DSMTP_BUILD_EXAMPLES=OFF -DSMTP_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	sh fuzz/run.sh smoke $(FUZZ_DIR)

fuzz-long: fuzz-build
	sh fuzz/run.sh long $(FUZZ_DIR) $(PER)

install: build
	cmake --install $(BUILD_DIR)

format:
	clang-format -i lib/*.c lib/*.h include/smtp/*.h tests/*.c tests/*.h examples/*.c

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-bench $(FUZZ_DIR)
