// Every built-in evaluator, one registration line each; each register_* function lives with
// its evaluator and declares its options (core/registry.hpp). A new evaluator is one file plus
// one line here (docs/development.md).
#include "evaluators/analytic.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/fault.hpp"
#include "evaluators/latency.hpp"
#include "evaluators/latency_evaluator.hpp"
#include "evaluators/mpc.hpp"
#include "evaluators/table.hpp"
#include "evaluators/train_evaluator.hpp"

namespace flexnas {

void register_builtins(EvaluatorRegistry& r) {
  register_analytic(r);  // sleep, params, flops
  register_table(r);
  register_mpc(r);
  register_external(r);
  register_plugin(r);
  register_lut(r);
  register_latency_model(r);
  register_latency(r);
  register_fault(r);  // only with FLEXNAS_TEST_EVALUATORS=1
  register_train(r);
}

}  // namespace flexnas
