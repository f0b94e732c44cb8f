# SPDX-License-Identifier: MIT
# A thin wrapper over CMake (as Neovim does). The two set-up commands are `make demo` and
# `make test`; everything else is CMake.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build test demo bench clean install format

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

install: build
	cmake --install $(BUILD_DIR)

format:
	clang-format -i lib/*.c lib/*.h include/smtp/*.h tests/*.c tests/*.h examples/*.c

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-bench
