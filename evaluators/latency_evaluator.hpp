#pragma once
// `latency-model:file=MODEL` evaluator: predicts an architecture's latency with a model
// fit by `flexnas latency fit` on architecture features (evaluators/arch_features.hpp).
// A model fit on other columns (HAT's CSVs, say) is refused when the evaluator is built,
// naming the features flexnas cannot compute.
#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_latency_model(EvaluatorRegistry& r);

}  // namespace flexnas
