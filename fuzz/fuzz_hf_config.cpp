// Hugging Face config.json read back (`export-model --model @config.json`): a config that
// architecture_from_hf accepts round-trips through hf_config; anything else is InputError.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "space/export.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto j = flexnas::parse_json(text, "fuzz");
    if (!flexnas::is_hf_config(j)) return 0;
    const auto a = flexnas::architecture_from_hf(j);
    const auto again = flexnas::architecture_from_hf(nlohmann::json(flexnas::hf_config(a)));
    if (!(again == a)) __builtin_trap();
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
