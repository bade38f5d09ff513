// External cost-model answers: values_from_answer (evaluators/custom.cpp) turns any text
// into an ok or failed EvalResult and never throws.
#include <cstdint>
#include <string>

#include "evaluators/custom.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto specs = flexnas::parse_value_list("accuracy:max,latency_ms:min", "fuzz");
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto r = flexnas::values_from_answer(text, specs);
  if (r.status == flexnas::EvalStatus::kOk && r.values.size() != specs.size()) __builtin_trap();
  return 0;
}
