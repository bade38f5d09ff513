#pragma once
// `table` evaluator: looks architectures up in a file of scored architectures —
// JSON lines ({"model": {...}, "accuracy": 0.8, ...}) or CSV with a `model` column
// holding the model dict as JSON (RFC 4180 quoting). Matching is by graph hash, so head
// order and other spellings of the same network match. An architecture not in the table
// is a failed trial ("not in table"), not an error.
#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_table(EvaluatorRegistry& r);

}  // namespace flexnas
