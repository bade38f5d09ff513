# flexnas: `make demo` and `make test` work from a fresh Debian 12 machine (run as root to
# let scripts/install-deps.sh apt-get what is missing).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-slow test-asan demo bench format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The fast suite (ctest label "fast"): unit tests, reference vectors, the CLI and README commands.
test: build
	@cd $(BUILD) && ctest -L fast --output-on-failure -j $(JOBS)

# Slow tests ([.slow] Catch2 tag): 10,000-architecture embedding and other long checks.
test-slow: build
	@cd $(BUILD) && ctest -L slow --output-on-failure

# The fast suite under AddressSanitizer + UndefinedBehaviorSanitizer (warnings not fatal there:
# GCC 12 reports false positives inside Catch2 at this optimisation level).
test-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLEXNAS_SANITIZE=ON \
	  -DFLEXNAS_BUILD_BENCH=OFF -DFLEXNAS_WERROR=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest -L fast --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/bin/flexnas

bench: build
	@bash scripts/bench.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	@rm -rf $(BUILD) build-asan
