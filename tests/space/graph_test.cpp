#include "space/graph.hpp"

#include <nlohmann/json.hpp>

#include "../test_data.hpp"

using namespace flexnas;

TEST_CASE("graph_hash_matches_reference_vectors", "[graph]") {
  const auto doc =
      nlohmann::json::parse(test::read_file(test::test_data("flexibert_hash_vectors.json")));
  REQUIRE(doc["vectors"].size() >= 5);
  for (const auto& v : doc["vectors"]) {
    const auto a = architecture_from_json(v["model"]);
    const auto g = build_graph(a);
    INFO(v["model"].dump());
    CHECK(boost::num_vertices(g) == v["num_nodes"].get<std::size_t>());
    CHECK(boost::num_edges(g) == v["num_edges"].get<std::size_t>());
    CHECK(node_labels(g) == v["ops"].get<std::vector<std::string>>());
    CHECK(graph_hash(g) == v["sha256"].get<std::string>());
  }
}

TEST_CASE("graph_hash_sha256_known_answer", "[graph]") {
  // FIPS 180-2 test vector.
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("graph_hash_ignores_head_order_and_sees_changes", "[graph]") {
  auto a = architecture_from_string(
      R"({"l":2,"o":[["sa_sdp_64","l_dft_64"],["c_5_32","sa_sdp_32","sa_sdp_32","l_dct_32"]],"h":[128,128],"f":[[512],[1024]]})");
  auto b = architecture_from_string(
      R"({"l":2,"o":[["l_dft_64","sa_sdp_64"],["sa_sdp_32","l_dct_32","c_5_32","sa_sdp_32"]],"h":[128,128],"f":[[512],[1024]]})");
  CHECK(graph_hash(a) == graph_hash(b));
  auto c = b;
  c.layers[1].ff = {512};
  CHECK(graph_hash(c) != graph_hash(b));
  auto d = b;
  d.layers[0].attn_kernel = AttnKernel::kRelu;
  CHECK(graph_hash(d) != graph_hash(b));
}

TEST_CASE("graph_dot_lists_every_node_and_edge", "[graph]") {
  auto a = architecture_from_string(
      R"({"l":2,"o":["sa","l"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","dft"]})");
  const auto g = build_graph(a);
  const auto dot = to_dot(g);
  CHECK(dot.find("digraph") == 0);
  std::size_t arrows = 0;
  for (std::size_t p = dot.find("->"); p != std::string::npos; p = dot.find("->", p + 2)) ++arrows;
  CHECK(arrows == boost::num_edges(g));
  CHECK(dot.find("l_h128_p-dft") != std::string::npos);
}
