// The fuzz targets' inputs as regression tests: every seed file of fuzz/corpus/ and a fixed
// set of mutations of it (truncations, byte flips, duplicated spans) go through the same
// entry points as the libFuzzer targets in fuzz/; each must either succeed or throw
// InputError (the CLI's exit 2), never crash or throw anything else.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "evaluators/custom.hpp"
#include "space/design_space.hpp"
#include "space/error.hpp"

using namespace flexnas;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> inputs(const std::string& target) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(FLEXNAS_SOURCE_DIR) / "fuzz" / "corpus" / target;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(11);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    out.push_back(s);
    if (s.empty()) continue;
    std::uniform_int_distribution<std::size_t> pos(0, s.size() - 1);
    for (int k = 0; k < 12; ++k) out.push_back(s.substr(0, pos(rng)));  // truncated
    for (int k = 0; k < 12; ++k) {                                        // bytes changed
      std::string m = s;
      for (int j = 0; j < 3; ++j) m[pos(rng)] = static_cast<char>(rng() & 0xff);
      out.push_back(m);
    }
    for (int k = 0; k < 4; ++k) {  // a span repeated
      const auto a = pos(rng), n = std::min<std::size_t>(s.size() - a, 1 + pos(rng) % 40);
      std::string m = s;
      m.insert(a, s.substr(a, n));
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("fuzz_corpus_space_yaml", "[fuzz]") {
  for (const auto& text : inputs("space_yaml")) {
    try {
      const auto s = DesignSpace::from_yaml(text, "fuzz.yaml");
      (void)s.to_yaml();
    } catch (const InputError&) {
    }
  }
}

TEST_CASE("fuzz_corpus_model_json", "[fuzz]") {
  const auto space = DesignSpace::load("flexibert-hetero");
  int parsed = 0;
  for (const auto& text : inputs("model_json")) {
    try {
      const auto a = architecture_from_string(text);
      CHECK(architecture_from_string(to_string(a)) == a);  // model dicts round-trip
      (void)a.canonical();
      ++parsed;
      space.validate(a);
    } catch (const InputError&) {
    }
  }
  CHECK(parsed > 0);
}

TEST_CASE("fuzz_corpus_table_lines", "[fuzz]") {
  EvaluatorRegistry registry;
  register_builtins(registry);
  const auto dir = fs::temp_directory_path() / ("flexnas_fuzz_corpus_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& text : inputs("table_lines"))
    for (const char* ext : {".jsonl", ".csv"}) {
      const auto file = (dir / (std::string("t") + ext)).string();
      std::ofstream(file, std::ios::binary) << text;
      try {
        registry.create("table:file=" + file + ",metric=accuracy");
      } catch (const InputError&) {
      }
    }
  fs::remove_all(dir);
}

TEST_CASE("fuzz_corpus_external_answer", "[fuzz]") {
  const auto specs = parse_value_list("accuracy:max,latency_ms:min", "fuzz");
  for (const auto& text : inputs("external_answer")) {
    const auto r = values_from_answer(text, specs);
    if (r.status == EvalStatus::kOk) CHECK(r.values.size() == specs.size());
    else CHECK(!r.message.empty());
  }
}
