#pragma once
// `latency` evaluator: measured CPU inference latency of the encoder through oneDNN, from
// the per-layer look-up table (mode=table, the default) or one whole-model run
// (mode=whole). docs/latency.md.
#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_latency(EvaluatorRegistry& r);

}  // namespace flexnas
