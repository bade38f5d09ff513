#include "space/export.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "core/error.hpp"
#include "space/graph_render.hpp"

using namespace flexnas;

namespace {
const char* kHetero =
    R"({"l":2,"o":[["sa_sdp_32","sa_wma_32","l_dft_32","c_5_32"],["l_dct_64","c_9_64"]],"h":[128,128],)"
    R"("f":[[256],[512,256]],"attn_kernel":["relu","softmax"],"activation":["quad","gelu"],)"
    R"("norm":["rmsnorm","none"],"norm_placement":["peri","pre"]})";
}

TEST_CASE("hf_config_round_trips_the_architecture", "[export]") {
  const auto a = architecture_from_string(kHetero);
  const auto c = hf_config(a);
  CHECK(c["model_type"] == "flexibert");
  CHECK(c["hidden_dim_list"] == nlohmann::json({128, 128}));
  CHECK(c["attention_heads_list"] == nlohmann::json({4, 2}));
  CHECK(c["operation_types_list"][0] == nlohmann::json({"sa", "sa", "l", "c"}));
  CHECK(c["norm_placement_list"] == nlohmann::json({"peri", "pre"}));
  REQUIRE(is_hf_config(nlohmann::json::parse(c.dump())));
  CHECK(architecture_from_hf(nlohmann::json::parse(c.dump())) == a);
  auto broken = nlohmann::json::parse(c.dump());
  broken.erase("norm_list");
  CHECK_THROWS_AS(architecture_from_hf(broken), InputError);
}

TEST_CASE("hf_config_round_trips_heads_of_h_floordiv_n", "[export]") {
  // FlexiBERT 2.0: n need not divide h; every head has h // n dimensions (4 of 21 in 85, 12 of
  // 21 in 256, 3 of 33 in 100), in the hetero and the standard form.
  const auto hetero = architecture_from_string(
      R"({"l":3,"o":[["sa_sdp_21","sa_wma_21","l_dft_21","c_5_21"],)"
      R"(["l_dct_21","sa_sdp_21","sa_sdp_21","sa_sdp_21","sa_sdp_21","sa_sdp_21","sa_sdp_21",)"
      R"("sa_sdp_21","sa_sdp_21","sa_sdp_21","sa_sdp_21","c_3_21"],)"
      R"(["sa_wma_33","sa_wma_33","sa_wma_33"]],)"
      R"("h":[85,256,100],"f":[[128],[512],[64]]})");
  REQUIRE(hetero.layers[0].head_size() == 21);
  REQUIRE(hetero.layers[0].attention_width() == 84);
  REQUIRE(hetero.layers[1].head_size() == 21);
  REQUIRE(hetero.layers[2].attention_width() == 99);
  const auto standard = architecture_from_string(
      R"({"l":2,"o":["sa","l"],"h":[64,100],"n":[3,7],"f":[[128],[256]],"p":["wma","dft"]})");
  for (const auto& a : {hetero, standard}) {
    const auto c = hf_config(a);
    INFO(c.dump());
    const auto back = architecture_from_hf(nlohmann::json::parse(c.dump()));
    CHECK(back == a);
    for (std::size_t j = 0; j < a.layers.size(); ++j) {
      CHECK(back.layers[j].head_size() == a.layers[j].head_size());
      CHECK(back.layers[j].attention_width() == a.layers[j].attention_width());
    }
    CHECK(to_string(back) == to_string(a));
  }
  CHECK(hf_config(standard)["attention_heads_list"] == nlohmann::json({3, 7}));
}

TEST_CASE("onnx_model_framing_determinism_and_weight_hook", "[export]") {
  const auto a = architecture_from_string(kHetero);
  ExportOptions opt;
  opt.vocab = 50;
  opt.seq = 8;
  const auto m = to_onnx(a, opt);
  // ModelProto field 1 (ir_version), varint 8: key byte (1 << 3 | 0) = 0x08, then 0x08.
  REQUIRE(m.size() > 2);
  CHECK(m[0] == 0x08);
  CHECK(m[1] == 0x08);
  CHECK(to_onnx(a, opt) == m);
  opt.seed = 5;
  CHECK(to_onnx(a, opt) != m);
  // The hook supplies the classifier weight; its bytes appear verbatim (raw_data).
  std::vector<std::string> asked;
  opt.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                    std::vector<float>& out) {
    asked.push_back(name);
    if (name != "classifier.weight") return false;
    REQUIRE(dims == std::vector<std::int64_t>{128, 2});
    out.assign(256, 1234.5f);
    return true;
  };
  const auto hooked = to_onnx(a, opt);
  std::string pattern(16, '\0');
  const float v = 1234.5f;
  for (int i = 0; i < 4; ++i) std::memcpy(&pattern[static_cast<std::size_t>(4 * i)], &v, 4);
  CHECK(hooked.find(pattern) != std::string::npos);
  CHECK(std::find(asked.begin(), asked.end(), "layer0.mixing.head1_sa.wma") != asked.end());
  opt.weights = [](const std::string&, const std::vector<std::int64_t>&, std::vector<float>& out) {
    out.assign(3, 0.f);
    return true;
  };
  CHECK_THROWS_AS(to_onnx(a, opt), InputError);
  ExportOptions too_long;
  too_long.seq = 600;
  CHECK_THROWS_AS(to_onnx(a, too_long), InputError);
}

TEST_CASE("graphviz_renders_every_node", "[export]") {
  const auto g = build_graph(architecture_from_string(kHetero));
  const auto dot = render_graph(g, "dot");
  for (const auto& label : node_labels(g)) CHECK(dot.find(label) != std::string::npos);
  const auto svg = render_graph(g, "svg");
  std::size_t n = 0;
  for (auto p = svg.find("class=\"node\""); p != std::string::npos;
       p = svg.find("class=\"node\"", p + 1))
    ++n;
  CHECK(n == boost::num_vertices(g));
  CHECK_THROWS_AS(render_graph(g, "png"), InputError);
}
