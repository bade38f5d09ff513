#include "space/design_space.hpp"

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

#include "../test_data.hpp"

using namespace flexnas;

namespace {
DesignSpace test_space(int lps, bool mixed) {
  auto s = DesignSpace::load("flexibert-test");
  s.layers_per_stack = lps;
  s.mixed_ff = mixed;
  return s;
}
}  // namespace

TEST_CASE("design_space_counts_match_reference_enumeration", "[design_space]") {
  CHECK(to_string(test_space(2, false).count()) == "9312");
  CHECK(to_string(test_space(1, false).count()) == "84943872");
  CHECK(to_string(test_space(1, true).count()) == "3317817600");
}

TEST_CASE("design_space_counts_small_and_full_exactly", "[design_space]") {
  auto small = DesignSpace::load("flexibert-small");
  small.mixed_ff = true;
  // 2 hidden x 7 ops x 2 heads x (3 + 9 + 27) feed-forward stacks = 1092 per layer.
  CHECK(small.count() == BigInt(1092) * 1092 + BigInt(1092) * 1092 * 1092 * 1092);
  auto full = DesignSpace::load("flexibert-full");
  full.mixed_ff = true;
  BigInt per = BigInt(3) * 7 * 3 * (4 + 16 + 64);  // 5292
  CHECK(full.count() == per * per + per * per * per * per + per * per * per * per * per * per);
  CHECK(to_string(full.count()).size() == 23);  // about 2.2e22
}

TEST_CASE("design_space_count_equals_enumeration", "[design_space]") {
  for (auto [lps, mixed] : {std::pair{2, false}, std::pair{2, true}}) {
    auto s = test_space(lps, mixed);
    s.layers = {2, 4};
    std::set<std::string> seen;
    s.enumerate([&](const Architecture& a) {
      seen.insert(graph_hash(a));
      return true;
    });
    CHECK(BigInt(seen.size()) == s.count());
  }
}

TEST_CASE("design_space_hetero_count_equals_enumeration", "[design_space]") {
  // Small hetero space with every extension: counting multisets of heads and skipping the
  // attention kernel for attention-free layers must agree with distinct graphs.
  auto s = DesignSpace::from_yaml(R"(
name: tiny-hetero
layers: [1, 2]
hetero: true
mixed_ff: true
hidden: [64]
heads: [1, 2]
operations: {sa: [sdp, wma], l: [dft], c: [5]}
ff: {depth: [1], width: [256, 512]}
attn_kernel: [softmax, relu]
activation: [gelu, quad]
norm: [layernorm, none]
norm_placement: [post]
)",
                                  "tiny");
  std::set<std::string> seen;
  std::uint64_t n = 0;
  s.enumerate([&](const Architecture& a) {
    ++n;
    REQUIRE(s.contains(a));
    seen.insert(graph_hash(a, LabelForm::kHetero));
    return true;
  });
  // Per layer: heads {1 of 4 ops: 2 with attention x 2 kernels + 2 without; 2 of 4 ops
  // (multisets): 7 with attention x 2 kernels + 3 without} x 2 widths x 2 activations x 2 norms.
  const BigInt per = (2 * 2 + 2 + 7 * 2 + 3) * 2 * 2 * 2;
  CHECK(s.count() == per + per * per);
  CHECK(BigInt(n) == s.count());
  CHECK(seen.size() == n);
}

TEST_CASE("design_space_sampling_is_uniform_over_architectures", "[design_space]") {
  // 2-layer-per-stack test space restricted to l = 2: 96 architectures. Uniform over
  // architectures means each appears ~N/96 times; chi-square with 95 dof.
  auto s = test_space(2, false);
  s.layers = {2};
  REQUIRE(s.count() == 96);
  Rng rng(7);
  std::map<std::string, int> hist;
  const int n = 96 * 200;
  for (int i = 0; i < n; ++i) {
    auto a = s.sample(rng);
    REQUIRE(s.contains(a));
    ++hist[to_string(a)];
  }
  CHECK(hist.size() == 96);
  double chi2 = 0;
  for (const auto& [k, c] : hist) chi2 += (c - 200.0) * (c - 200.0) / 200.0;
  CHECK(chi2 < 150);  // p ~ 3e-4 for 95 dof
  // Depth is weighted by count: l = 4 has 96x as many architectures as l = 2.
  auto t = test_space(2, false);
  int deep = 0;
  for (int i = 0; i < 970; ++i) deep += t.sample(rng).num_layers() == 4;
  CHECK(deep > 940);
}

TEST_CASE("design_space_mutation_and_crossover_stay_valid", "[design_space]") {
  for (const auto& name : DesignSpace::builtin_names()) {
    auto s = DesignSpace::load(name);
    Rng rng(3);
    auto a = s.sample(rng);
    for (int i = 0; i < 300; ++i) {
      auto b = s.mutate(a, rng);
      INFO(name << " " << to_string(a) << " -> " << to_string(b));
      REQUIRE(s.contains(b));
      CHECK(!(b == a));
      auto c = s.crossover(a, b, rng);
      REQUIRE(s.contains(c));
      a = b;
    }
  }
}

TEST_CASE("design_space_mutation_respects_layers_per_stack", "[design_space]") {
  auto s = test_space(2, false);
  Rng rng(11);
  auto a = s.sample(rng);
  for (int i = 0; i < 200; ++i) {
    a = s.mutate(a, rng);
    REQUIRE(s.contains(a));
  }
}

TEST_CASE("design_space_validate_names_field_value_and_allowed", "[design_space]") {
  auto s = DesignSpace::load("flexibert-test");
  auto bad = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,300],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})");
  try {
    s.validate(bad);
    FAIL("expected InputError");
  } catch (const InputError& e) {
    std::string m = e.what();
    CHECK(m.find("layer 2:") != std::string::npos);  // 1-based: the second layer
    CHECK(m.find("300") != std::string::npos);
    CHECK(m.find("{128, 256}") != std::string::npos);
  }
  auto mixed = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512,1024,512],[512]],"p":["sdp","sdp"]})");
  CHECK_THROWS_WITH(s.validate(mixed), Catch::Contains("mixed_ff"));
  auto three = architecture_from_string(
      R"({"l":3,"o":["sa","sa","sa"],"h":[128,128,128],"n":[2,2,2],"f":[[512],[512],[512]],"p":["sdp","sdp","sdp"]})");
  CHECK_THROWS_WITH(s.validate(three), Catch::Contains("l = 3"));
}

TEST_CASE("design_space_yaml_round_trips", "[design_space]") {
  for (const auto& name : DesignSpace::builtin_names()) {
    auto s = DesignSpace::load(name);
    auto y1 = s.to_yaml();
    auto s2 = DesignSpace::from_yaml(y1, name);
    CHECK(s2.to_yaml() == y1);
    CHECK(s2.count() == s.count());
  }
}

TEST_CASE("design_space_bad_yaml_is_input_error", "[design_space]") {
  CHECK_THROWS_AS(DesignSpace::from_yaml("layers: [2, 4\nhidden: [", "bad.yaml"), InputError);
  CHECK_THROWS_WITH(DesignSpace::from_yaml("layers: [2]\nhiden: [128]", "x.yaml"),
                    Catch::Contains("hiden"));
  CHECK_THROWS_WITH(DesignSpace::from_yaml(R"(
layers: [2]
hidden: [128]
heads: [2]
operations: {sa: [sdp, dft]}
ff: {depth: [1], width: [512]}
)",
                                           "x.yaml"),
                    Catch::Contains("dft"));
  CHECK_THROWS_WITH(DesignSpace::load("no-such-space"), Catch::Contains("flexibert-test"));
}

TEST_CASE("design_space_floor_head_size_count_equals_enumeration", "[design_space]") {
  // head_size: floor (FlexiBERT 2.0) admits every n <= h; with divides, (h 4, n 3) is out.
  const char* yaml = R"(
name: tiny-floor
layers: [1, 2]
hetero: true
hidden: [4, 6]
heads: [2, 3]
head_size: floor
operations:
  sa: [sdp]
  c: [3]
ff:
  depth: [1]
  width: [8]
)";
  auto s = DesignSpace::from_yaml(yaml, "tiny-floor.yaml");
  std::set<std::string> seen;
  bool saw_floor = false;
  s.enumerate([&](const Architecture& a) {
    seen.insert(graph_hash(a));
    for (const auto& L : a.layers) saw_floor = saw_floor || L.hidden % L.num_heads() != 0;
    return true;
  });
  CHECK(saw_floor);
  CHECK(BigInt(seen.size()) == s.count());
  // Per layer: 2 hidden sizes x (3 multisets of 2 heads + 4 of 3 heads) = 14.
  CHECK(s.layer_choices() == BigInt(14));
  std::string divides = yaml;
  divides.replace(divides.find("head_size: floor"), 16, "head_size: divides");
  auto d = DesignSpace::from_yaml(divides, "tiny-divides.yaml");
  // (4, 2), (6, 2), (6, 3): 3 + 3 + 4 = 10 per layer.
  CHECK(d.layer_choices() == BigInt(10));
  CHECK_THROWS_WITH(d.validate(architecture_from_string(
                        R"({"l":1,"o":[["sa_sdp_1","sa_sdp_1","c_3_1"]],"h":[4],"f":[[8]]})")),
                    Catch::Contains("do not divide h = 4"));
  CHECK_NOTHROW(s.validate(architecture_from_string(
      R"({"l":1,"o":[["sa_sdp_1","sa_sdp_1","c_3_1"]],"h":[4],"f":[[8]]})")));
  CHECK_THROWS_WITH(DesignSpace::from_yaml(std::string(yaml) + "head_size: ceil\n", "x.yaml"),
                    Catch::Contains("not a head-size rule"));
  // The rule survives a YAML round trip.
  CHECK(DesignSpace::from_yaml(s.to_yaml(), "again.yaml").head_size_floor);
}

TEST_CASE("design_space_flexibert2_counts_and_holds_every_edgetran_model", "[design_space]") {
  const auto s = DesignSpace::load("flexibert2");
  // Per layer: 4 hidden sizes x multisets of n heads over 7 operations (C(n + 6, 6) for
  // n = 2, 4, 8, 12: 28 + 210 + 3003 + 18564) x (6 + 36 + 216) ordered feed-forward stacks.
  const BigInt per = BigInt(4) * (28 + 210 + 3003 + 18564) * (6 + 36 + 216);
  CHECK(s.layer_choices() == per);
  BigInt total = 0;
  for (int l : {2, 4, 6, 8, 10, 12})
    total += boost::multiprecision::pow(per, static_cast<unsigned>(l));
  CHECK(s.count() == total);
  // Every published FlexiBERT 2.0 model of the EdgeTran tables (tests/data/edgetran, from the
  // EdgeTran co-design dataset) reads, validates, hashes, re-reads to the same hash and
  // keeps its h // n head sizes.
  int models = 0, floor_layers = 0;
  for (const char* dev : {"a100", "rpi", "ncs"}) {
    std::ifstream in(std::string(FLEXNAS_SOURCE_DIR) + "/tests/data/edgetran/" + dev + ".jsonl");
    REQUIRE(in.good());
    std::string line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      const auto a = architecture_from_json(j.at("model"));
      INFO(dev << " model " << models);
      CHECK_NOTHROW(s.validate(a));
      CHECK(nlohmann::json::parse(to_string(a, DictForm::kHetero)) == j.at("model"));
      const auto again = architecture_from_string(to_string(a));
      CHECK(graph_hash(again) == graph_hash(a));
      CHECK(graph_hash(a).size() == 64);
      for (const auto& L : a.layers) floor_layers += L.hidden % L.num_heads() != 0;
      ++models;
    }
  }
  CHECK(models == 341);
  CHECK(floor_layers > 0);
  Rng rng(7);
  for (int i = 0; i < 50; ++i) CHECK_NOTHROW(s.validate(s.sample(rng)));
}
