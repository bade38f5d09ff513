// The values a user tells an ask/tell study (`flexnas tell --values JSON|@file`,
// Study.tell): parse_json then values_from_json accept them or throw InputError; accepted
// values are finite and survive a JSON round trip unchanged.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/objective.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  flexnas::Values v;
  try {
    v = flexnas::values_from_json(flexnas::parse_json(text, "--values"));
  } catch (const flexnas::InputError&) {
    return 0;
  }
  for (const auto& [name, x] : v)
    if (!std::isfinite(x)) std::abort();
  if (flexnas::values_from_json(nlohmann::json::parse(nlohmann::json(v).dump())) != v) std::abort();
  return 0;
}
