#pragma once
// Analytic cost evaluators: `params` (parameter counts) and `flops` (forward FLOPs),
// computed by space/model_stats.hpp; no training, no measurement.
#include "evaluators/evaluator.hpp"
#include "space/model_stats.hpp"

namespace flexnas {

void register_analytic(EvaluatorRegistry& r);

}  // namespace flexnas
