// A study's stored search definition, as `resume` and `export` read it back from
// study.sqlite: parse_json and check_study_config accept it or throw InputError.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/study_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    flexnas::check_study_config(flexnas::parse_json(text, "fuzz"));
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
