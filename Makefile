# flexnas: `make demo` and `make test` work from a fresh Debian 12 machine (run as root to
# let scripts/install-deps.sh apt-get what is missing).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-slow test-asan fuzz fuzz-build fuzz-smoke soak demo bench bench-search format format-check clean

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
	  -DFLEXNAS_BUILD_BENCH=OFF -DFLEXNAS_WERROR=OFF -DFLEXNAS_BUILD_PYTHON=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  ctest -L fast --output-on-failure -j $(JOBS)

# libFuzzer targets (fuzz/, clang with ASan+UBSan) in build-fuzz/, each run FUZZ_SECONDS from
# the seed corpus fuzz/corpus/<target>; new inputs go to build-fuzz/corpus, crashes to
# build-fuzz/crashes (see docs/reliability.md).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = space_yaml model_json table_lines external_answer spec_strings study_config \
  hf_config lut_yaml latency_model embedding_file checkpoint tell_values
fuzz-build: deps
	@CC=clang-14 CXX=clang++-14 cmake -S fuzz -B build-fuzz -G Ninja >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

fuzz: fuzz-build
	@mkdir -p build-fuzz/crashes
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  build-fuzz/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crashes/$$t- build-fuzz/corpus/$$t fuzz/corpus/$$t \
	    2>build-fuzz/fuzz_$$t.log || { tail -40 build-fuzz/fuzz_$$t.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::new_units_added' build-fuzz/fuzz_$$t.log; \
	done

# CI's fuzz smoke (.ci/run): each target FUZZ_SMOKE_SECONDS from its committed corpus, new
# inputs to a temporary directory (the corpus is not changed). A finding fails with the
# fuzzer's report and the input in base64; it is also kept in build-fuzz/crashes/.
FUZZ_SMOKE_SECONDS ?= 30
fuzz-smoke: fuzz-build
	@mkdir -p build-fuzz/crashes
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $$tmp/$$t; \
	  if ! build-fuzz/bin/fuzz_$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=20 \
	      -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/$$t- $$tmp/$$t fuzz/corpus/$$t \
	      >$$tmp/$$t.log 2>&1; then \
	    tail -40 $$tmp/$$t.log; \
	    for f in $$(ls -t build-fuzz/crashes/$$t-* 2>/dev/null | head -1); do \
	      echo "fuzz_$$t finding $$f, base64:"; base64 "$$f"; done; \
	    echo "fuzz-smoke: fuzz_$$t failed"; exit 1; \
	  fi; \
	  echo "fuzz_$$t: $$(grep -o 'stat::number_of_executed_units: [0-9]*' $$tmp/$$t.log | \
	    grep -o '[0-9]*$$') executions in $(FUZZ_SMOKE_SECONDS) s"; \
	done

# Crash-safety soak: 100 SIGKILLs over a 1,000-trial study with --isolate workers (docs/reliability.md).
soak: build
	@bash tests/apps/soak_test.sh $(BUILD)/bin/flexnas

demo: build
	@bash scripts/demo.sh $(BUILD)/bin/flexnas

# Every benchmark, or BENCH="ged embedding ..." for some (docs/development.md).
bench: build
	@bash scripts/bench.sh $(BUILD) $(BENCH)

# flexnas policies against Optuna 3.1 (installs python3-optuna when run as root) on five
# tables, 20 seeds, budget 150 (docs/search.md); results in $(BUILD)/bench-search/.
bench-search: build
	@bash scripts/bench_search.sh $(BUILD) 20 150

# clang-format 14 with .clang-format over every tracked C++ file; CI runs format-check.
format: deps
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check: deps
	@clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp') || \
	  { echo "format-check: run 'make format' (clang-format 14, .clang-format)" >&2; exit 1; }

clean:
	@rm -rf $(BUILD) build-asan build-fuzz
