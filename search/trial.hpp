#pragma once
// Trial: one evaluated (or asked and not yet evaluated) architecture of a study.
#include <cstdint>
#include <string>

#include "evaluators/evaluator.hpp"
#include "search/objective.hpp"
#include "space/architecture.hpp"

namespace flexnas {

enum class TrialState { kAsked, kOk, kFailed };
const char* to_string(TrialState s);

struct Trial {
  std::int64_t id = 0;     // 0, 1, 2, ... in ask order
  std::int64_t batch = 0;  // the ask() call that proposed it
  Architecture arch;
  std::string hash;  // graph hash in the domain's label form
  TrialState state = TrialState::kAsked;
  Values values;       // evaluator value name -> number
  std::string reason;  // why a failed trial failed
  double eval_seconds = 0;
  double policy_seconds = 0;  // policy time of its batch, divided over the batch
  bool finished() const { return state != TrialState::kAsked; }
  bool ok() const { return state == TrialState::kOk; }
};

}  // namespace flexnas
