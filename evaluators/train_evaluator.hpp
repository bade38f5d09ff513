#pragma once
// `train` evaluator: trains an architecture with the built-in trainer (evaluators/train/) and
// reports accuracy, loss, training seconds and tokens per second; knowledge transfer and
// successive-halving multi-fidelity inside a search. docs/trainer.md.
#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_train(EvaluatorRegistry& r);

}  // namespace flexnas
