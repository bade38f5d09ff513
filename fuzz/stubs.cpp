// The fuzz targets do not build the evaluators that start processes, load libraries or need
// oneDNN, MPC profiles or the trainer; evaluators/builtins.cpp names them, so
// these are empty.
#include "evaluators/custom.hpp"

namespace flexnas {
void register_external(EvaluatorRegistry&) {}
void register_plugin(EvaluatorRegistry&) {}
void register_mpc(EvaluatorRegistry&) {}
void register_latency_model(EvaluatorRegistry&) {}
void register_latency(EvaluatorRegistry&) {}
void register_fault(EvaluatorRegistry&) {}
void register_train(EvaluatorRegistry&) {}
}  // namespace flexnas
