#pragma once
// Cost models users plug in (docs/custom-cost-models.md):
//   external:cmd=...  a program speaking JSON on stdin/stdout (one shot or persistent worker)
//   plugin:path=...   a shared library implementing include/flexnas/plugin.h
//   lut:file=...      a per-operation cost table measured on a device, summed over layers
#include <string>
#include <vector>

#include "evaluators/evaluator.hpp"

namespace flexnas {

void register_external(EvaluatorRegistry& r);
void register_plugin(EvaluatorRegistry& r);
void register_lut(EvaluatorRegistry& r);

// The context as handed to plugins and in external's input=envelope requests:
// {"seed":N,"seq":L,"batch":B,"threads":T,"cache_dir":"..."}.
std::string context_json(const EvalContext& ctx);

// Reads an answer, a JSON object of value name -> number. Every value of `specs` must be
// present and a finite number (other keys are ignored); {"error": "why"} is a failure with
// that reason. Reasons are one line and quote at most 80 characters of the answer.
EvalResult values_from_answer(const std::string& text, const std::vector<ValueSpec>& specs);

// "latency_ms:min,accuracy:max" -> specs; InputError naming `evaluator` on bad syntax.
std::vector<ValueSpec> parse_value_list(const std::string& text, const std::string& evaluator);

// A value name: letters, digits, '_', '.', '-'; not empty.
bool valid_value_name(const std::string& name);

}  // namespace flexnas
