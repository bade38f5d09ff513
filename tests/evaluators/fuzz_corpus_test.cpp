// The fuzz targets' inputs as regression tests: every seed file of fuzz/corpus/ and a fixed
// set of mutations of it (tests/fuzz_inputs.hpp) go through the same entry points as the
// libFuzzer targets in fuzz/; each must either succeed or throw InputError (the CLI's exit
// 2), never crash or throw anything else. The targets of other modules are replayed by
// tests/space/fuzz_corpus_test.cpp, tests/search/fuzz_corpus_test.cpp and
// tests/train/checkpoint_test.cpp.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/latency_model.hpp"
#include "space/design_space.hpp"
#include "tests/fuzz_inputs.hpp"

using namespace flexnas;
namespace fs = std::filesystem;

TEST_CASE("fuzz_corpus_space_yaml", "[fuzz]") {
  for (const auto& text : fuzz_inputs("space_yaml")) {
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
  for (const auto& text : fuzz_inputs("model_json")) {
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
  const auto dir =
      fs::temp_directory_path() / ("flexnas_fuzz_corpus_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& text : fuzz_inputs("table_lines"))
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
  for (const auto& text : fuzz_inputs("external_answer")) {
    const auto r = values_from_answer(text, specs);
    if (r.status == EvalStatus::kOk)
      CHECK(r.values.size() == specs.size());
    else
      CHECK(!r.message.empty());
  }
}

TEST_CASE("fuzz_corpus_lut_yaml", "[fuzz]") {
  EvaluatorRegistry registry;
  register_builtins(registry);
  const auto model = architecture_from_string(
      R"({"l":2,"o":["sa","c"],"h":[128,256],"n":[2,4],"f":[[512],[1024,512]],"p":["sdp","5"]})");
  const auto dir = fs::temp_directory_path() / ("flexnas_fuzz_lut_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto file = (dir / "lut.yaml").string();
  int built = 0;
  for (const auto& text : fuzz_inputs("lut_yaml")) {
    std::ofstream(file, std::ios::binary) << text;
    try {
      auto e = registry.create("lut:file=" + file);
      ++built;
      const auto r = e->evaluate(model, EvalContext{});
      if (r.status == EvalStatus::kOk) CHECK(r.values.size() == e->provides().size());
    } catch (const InputError&) {
    }
  }
  fs::remove_all(dir);
  CHECK(built > 0);
}

TEST_CASE("fuzz_corpus_latency_model", "[fuzz]") {
  int parsed = 0;
  for (const auto& text : fuzz_inputs("latency_model")) {
    try {
      const auto m = latency::LatencyModel::from_json(parse_json(text, "fuzz"), "fuzz");
      ++parsed;
      const auto j = m.to_json();
      CHECK(latency::LatencyModel::from_json(j, "again").to_json() == j);
      const auto d = static_cast<Eigen::Index>(m.features.size());
      (void)m.predict(Eigen::MatrixXd::Zero(2, d));
    } catch (const InputError&) {
    }
  }
  CHECK(parsed >= 3);
}
