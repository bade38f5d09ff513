#include "evaluators/analytic.hpp"

#include <cctype>
#include <map>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/evaluator.hpp"
#include "tests/option_checks.hpp"
#include "tests/test_data.hpp"

using namespace flexnas;

TEST_CASE("analytic_params_of_bert_tiny_shape", "[analytic]") {
  // BERT-Tiny shape (2 layers, hidden 128, 2 heads, FF 512): Hugging Face's BertModel has
  // 4,385,920 parameters, of which the pooler (128 x 128 + 128) is not part of the encoder.
  auto a = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})");
  const auto s = model_stats(a);
  CHECK(s.params == 4385920 - (128 * 128 + 128));
  CHECK(s.embedding_params == (30522 + 512 + 2) * 128 + 2 * 128);
}

TEST_CASE("analytic_flops_match_hand_count", "[analytic]") {
  // One sdp layer, h = 64, 1 head, FF [128], L = 4, by hand:
  // qkv 3*(2*4*64*64 + 4*64) = 99,072; scores 2*16*64 + 16 = 2,064; softmax 80; PV 2,048;
  // out proj 2*4*64*64 + 4*64 + 4*64 = 33,280; FF1 2*4*64*128 + 512 + gelu 8*512 = 70,144;
  // FF2 2*4*128*64 + 256 + 256 = 66,048; 2 layernorms 2*8*256 = 4,096.
  auto a =
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[64],"n":[1],"f":[[128]],"p":["sdp"]})");
  ModelStatsOptions o;
  o.seq = 4;
  const auto s = model_stats(a, o);
  CHECK(s.flops == Approx(99072 + 2064 + 80 + 2048 + 33280 + 70144 + 66048 + 4096));
  CHECK(s.flops_per_token == Approx(s.flops / 4));
}

TEST_CASE("analytic_projection_between_widths", "[analytic]") {
  auto same = architecture_from_string(
      R"({"l":2,"o":["l","l"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["dft","dft"]})");
  auto diff = architecture_from_string(
      R"({"l":2,"o":["l","l"],"h":[256,128],"n":[2,2],"f":[[512],[512]],"p":["dft","dft"]})");
  const auto a = model_stats(same), b = model_stats(diff);
  // The 256 -> 128 projection adds 256*128 + 128 to layer 0.
  const auto l0 = [](const Architecture& x) {
    Architecture y;
    y.layers = {x.layers[0]};
    return model_stats(y).layers[0].params;
  };
  CHECK(b.layers[0].params - l0(diff) == 256 * 128 + 128);
  CHECK(a.layers[0].params == l0(same));
}

TEST_CASE("evaluator_registry_rejects_unknown_names_and_options", "[analytic]") {
  EvaluatorRegistry r;
  register_builtins(r);
  CHECK_THROWS_WITH(r.create("latencyy"), Catch::Contains("params") && Catch::Contains("flops"));
  CHECK_THROWS_WITH(r.create("flops:sq=3"), Catch::Contains("seq"));
  CHECK_THROWS_AS(r.create("flops:seq=abc"), InputError);
  auto e = r.create("flops:seq=64");
  auto a =
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[64],"n":[1],"f":[[128]],"p":["sdp"]})");
  auto res = e->evaluate(a, {});
  CHECK(res.status == EvalStatus::kOk);
  CHECK(res.values.at("flops") > 0);
  // Round trip of the spec.
  CHECK(EvaluatorSpec{e->name(), e->options()}.str() == "flops:seq=64");
}

TEST_CASE("evaluator_registry_driven_options_are_checked_for_every_evaluator", "[analytic]") {
  // Every registered evaluator, found through the registry: an unknown option and a
  // numeric option given a number with trailing text are rejected naming the option, and
  // the registry refuses a second entry of the same name.
  EvaluatorRegistry r;
  register_builtins(r);
  REQUIRE(r.entries().size() >= 8);
  // Evaluators that cannot be made from their defaults, with what they need (a file they
  // open at creation gets one that exists, so the number check is what fails). A new
  // evaluator with required options fails the check below until it is added here.
  const auto table = test::test_data("edgetran/ncs.jsonl");
  const std::map<std::string, std::string> required{
      {"external", "cmd=true,values=a:min"},       {"plugin", "path=/nonexistent.so"},
      {"table", "file=" + table + ",metric=glue"}, {"lut", "file=/nonexistent.yaml"},
      {"latency-model", "file=/nonexistent.json"},
  };
  for (const auto& e : r.entries()) {
    INFO(e.name);
    CHECK_THROWS_WITH(r.create(e.name + ":no_such_option=1"), Catch::Contains("no_such_option"));
    const std::string base =
        required.count(e.name) ? e.name + ":" + required.at(e.name) + "," : e.name + ":";
    for (const auto& o : e.options) {
      if (required.count(e.name) && required.at(e.name).find(o.name + "=") != std::string::npos)
        continue;
      for (const auto& bad : test::bad_values(o)) {
        INFO(o.name << "=" << bad);
        CHECK_THROWS_WITH(r.create(base + o.name + "=" + bad), Catch::Contains("option " + o.name));
      }
    }
  }
  CHECK_THROWS_AS(r.add(r.entries().front()), InputError);
}
