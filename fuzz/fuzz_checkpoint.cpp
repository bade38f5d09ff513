// Trainer checkpoints (binary): parse_checkpoint accepts exactly what checkpoint_bytes
// writes (the bytes round-trip) and throws InputError for anything else: truncated,
// oversized, trailing bytes; never an allocation sized by the file or an out-of-bounds read.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "evaluators/train/checkpoint.hpp"
#include "space/architecture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto c = flexnas::train::parse_checkpoint(bytes, "fuzz");
    if (flexnas::train::checkpoint_bytes(c) != bytes) __builtin_trap();
    (void)flexnas::architecture_from_string(c.arch);  // what transfer_from reads next
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
