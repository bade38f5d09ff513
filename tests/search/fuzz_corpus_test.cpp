// Replays fuzz/corpus/spec_strings, study_config and tell_values (and fixed mutations, see
// tests/fuzz_inputs.hpp) through the entry points of fuzz/fuzz_spec_strings.cpp and
// fuzz/fuzz_study_config.cpp: accepted (spec strings round-trip) or InputError.
#include <cmath>
#include <set>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/evaluator.hpp"
#include "search/domain.hpp"
#include "search/objective.hpp"
#include "search/policy.hpp"
#include "search/study_config.hpp"
#include "space/design_space.hpp"
#include "tests/fuzz_inputs.hpp"

using namespace flexnas;

TEST_CASE("fuzz_corpus_spec_strings", "[fuzz]") {
  EvaluatorRegistry evaluators;
  register_builtins(evaluators);
  // As fuzz/fuzz_spec_strings.cpp: every built-in policy (the surrogate-based ones fit their
  // embedding on first use, so creating them is cheap).
  PolicyRegistry policies;
  register_builtin_policies(policies);
  SearchDomain domain(DesignSpace::load("flexibert-test"));
  int policies_made = 0;
  std::set<std::string> made;
  for (const auto& text : fuzz_inputs("spec_strings")) {
    try {
      const auto spec = EvaluatorSpec::parse(text);
      const auto again = EvaluatorSpec::parse(spec.str());
      CHECK(again.name == spec.name);
      CHECK(again.options == spec.options);
    } catch (const InputError&) {
    }
    // Only evaluators that neither start processes nor load files of the corpus's names.
    const auto name = text.substr(0, text.find(':'));
    if (name == "params" || name == "flops") {
      try {
        (void)evaluators.create(text);
      } catch (const InputError&) {
      }
    }
    try {
      PolicyContext ctx{&domain, {Objective::parse("params:min")}, {}, 1};
      made.insert(policies.create(text, ctx)->name());
      ++policies_made;
    } catch (const InputError&) {
    }
    try {
      const auto c = Constraint::parse(text);
      const auto again = Constraint::parse(c.str());
      CHECK(again.name == c.name);
      CHECK(again.bound == c.bound);
    } catch (const InputError&) {
    }
  }
  CHECK(policies_made > 0);
  CHECK(made.count("boshnas"));
  CHECK(made.count("sa-nsga2"));
}

TEST_CASE("fuzz_corpus_study_config", "[fuzz]") {
  int accepted = 0;
  for (const auto& text : fuzz_inputs("study_config")) {
    try {
      check_study_config(parse_json(text, "fuzz"));
      ++accepted;
    } catch (const InputError&) {
    }
  }
  CHECK(accepted >= 2);
}

TEST_CASE("fuzz_corpus_tell_values", "[fuzz]") {
  // As fuzz/fuzz_tell_values.cpp: accepted values are finite and round-trip.
  int accepted = 0;
  for (const auto& text : fuzz_inputs("tell_values")) {
    Values v;
    try {
      v = values_from_json(parse_json(text, "--values"));
    } catch (const InputError&) {
      continue;
    }
    ++accepted;
    for (const auto& [name, x] : v) CHECK(std::isfinite(x));
    CHECK(values_from_json(nlohmann::json::parse(nlohmann::json(v).dump())) == v);
  }
  CHECK(accepted >= 3);
  CHECK_THROWS_WITH(values_from_json(parse_json(R"({"accuracy": 1e400})", "--values")),
                    Catch::Contains("--values") && Catch::Contains("malformed JSON"));
}

TEST_CASE("Study_config_numbers_are_strict", "[fuzz]") {
  auto config = [](const std::string& key, const nlohmann::json& v) {
    auto c = nlohmann::json::parse(
        R"({"objectives":["params:min"],"constraints":[],"evaluators":["params"],"policy":"random",
            "budget":8,"batch":4,"seed":1,"space":null,"pool":[{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512]],"p":["sdp"]}]})");
    c[key] = v;
    return c;
  };
  CHECK_NOTHROW(check_study_config(config("budget", 8)));
  CHECK_THROWS_WITH(check_study_config(config("budget", -1)), Catch::StartsWith("budget: '-1'"));
  CHECK_THROWS_WITH(check_study_config(config("budget", 2.5)), Catch::StartsWith("budget: '2.5'"));
  CHECK_THROWS_WITH(check_study_config(config("batch", 0)), Catch::StartsWith("batch: '0'"));
  CHECK_THROWS_WITH(
      check_study_config(config("seed", nlohmann::json::parse("18446744073709551616"))),
      Catch::StartsWith("seed: "));
  CHECK_THROWS_WITH(check_study_config(config("policy", 3)),
                    Catch::StartsWith("policy: expected a string"));
  CHECK_THROWS_WITH(check_study_config(config("constraints", {"params<=1x"})),
                    Catch::Contains("'1x' is not a finite number"));
  CHECK_THROWS_WITH(check_study_config(config("pool", {{{"l", 1}}})),
                    Catch::StartsWith("pool[0]: "));
}
