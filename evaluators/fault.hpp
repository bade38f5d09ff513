#pragma once
// Test-only evaluator `fault:mode=segv|abort|hang|oom|garbage|ok,every=N`: on every trial
// whose context seed (study seed + trial id) is a multiple of N it crashes, aborts, hangs,
// allocates until std::bad_alloc, or prints garbage and exits; other trials (and mode=ok)
// return fault_value = seed % 97. It exists to test `flexnas search --isolate` and is
// registered only when the environment has FLEXNAS_TEST_EVALUATORS=1: without isolation
// every mode but ok takes the whole driver down.
#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_fault(EvaluatorRegistry& r);  // no-op unless FLEXNAS_TEST_EVALUATORS=1

}  // namespace flexnas
