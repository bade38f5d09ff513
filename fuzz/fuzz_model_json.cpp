// Model-dict JSON: architecture_from_string, then validation against a built-in space and
// the round trip through to_string; bad input must be an InputError.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "space/architecture.hpp"
#include "space/design_space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto space = flexnas::DesignSpace::load("flexibert-hetero");
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto a = flexnas::architecture_from_string(text);
    const auto again = flexnas::architecture_from_string(flexnas::to_string(a));
    if (!(again == a)) __builtin_trap();  // the model dict must round-trip
    (void)a.canonical();
    space.validate(a);
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
