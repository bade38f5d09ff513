// Table and pool files: the bytes become a JSON-lines file and a CSV file read by the
// `table` evaluator, and each line is parsed the way --pool files are; bad lines must be an
// InputError naming file:line.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "evaluators/evaluator.hpp"
#include "space/architecture.hpp"

namespace flexnas {
void register_table(EvaluatorRegistry& r);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/flexnas-fuzz-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  static flexnas::EvaluatorRegistry registry = [] {
    flexnas::EvaluatorRegistry r;
    flexnas::register_table(r);
    return r;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* ext : {".jsonl", ".csv"}) {
    const std::string file = dir + "/t" + ext;
    std::ofstream(file, std::ios::binary) << text;
    try {
      registry.create("table:file=" + file + ",metric=accuracy");
    } catch (const flexnas::InputError&) {
    }
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {  // as load_models in apps/cli_common.cpp
    try {
      const auto j = nlohmann::json::parse(line);
      (void)flexnas::architecture_from_json(j.is_object() && j.contains("model") ? j["model"] : j);
    } catch (const nlohmann::json::exception&) {
    } catch (const flexnas::InputError&) {
    }
  }
  return 0;
}
