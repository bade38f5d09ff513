// Design-space YAML: DesignSpace::from_yaml must accept or throw InputError, never crash.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "space/design_space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto s = flexnas::DesignSpace::from_yaml(text, "fuzz.yaml");
    (void)s.to_yaml();
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
