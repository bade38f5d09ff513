// The fuzz targets do not build the evaluators that start processes, load libraries or need
// oneDNN, MPC profiles or the trainer, nor the surrogate-based policies; register_custom,
// register_builtins and register_builtin_policies name them, so these are empty.
#include "evaluators/custom.hpp"
#include "search/policy.hpp"

namespace flexnas {
void register_external(EvaluatorRegistry&) {}
void register_plugin(EvaluatorRegistry&) {}
void register_mpc(EvaluatorRegistry&) {}
void register_latency_model(EvaluatorRegistry&) {}
void register_latency(EvaluatorRegistry&) {}
void register_fault(EvaluatorRegistry&) {}
void register_train(EvaluatorRegistry&) {}
void register_boshnas_policy(PolicyRegistry&) {}
void register_sa_nsga2_policy(PolicyRegistry&) {}
}  // namespace flexnas
