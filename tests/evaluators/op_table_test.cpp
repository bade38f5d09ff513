// Every head operation of op_table() through every cost model that depends on it: the
// analytic parameter and FLOP counts, the MPC cost model and the oneDNN layer the latency
// evaluator times, in a layer whose heads divide h and in one where they do not (h // n).
// The trainer's parameter count and its ONNX export are checked against model_stats in
// tests/train/model_test.cpp. A new Op makes the switches in these models fail to compile
// until it is handled; this test then checks the models agree on it.
#include <cmath>
#include <set>

#include <catch2/catch.hpp>

#include "evaluators/mpc.hpp"
#include "evaluators/mpc_profile.hpp"
#include "evaluators/onednn_encoder.hpp"
#include "space/model_stats.hpp"
#include "tests/test_layers.hpp"

using namespace flexnas;
using namespace flexnas::latency;

namespace {

Head head_of(Op op) {
  return Head(op, op == Op::kConv ? 5 : 0);
}

Architecture two_layers(Op op) {
  Architecture a;
  // 4 heads of 16 in 64 (divides), then 3 heads of 16 in 50 (h // n: 48 concatenated).
  a.layers.push_back(test::make_layer(64, std::vector<Head>(4, head_of(op)), {96}));
  a.layers.push_back(test::make_layer(50, std::vector<Head>(3, head_of(op)), {80, 40}));
  return a;
}

}  // namespace

TEST_CASE("every_operation_agrees_across_cost_models", "[op_table]") {
  const MpcOps mpc_ops(load_protocol("crypten-2pc"));
  const auto lan = load_network("lan");
  std::set<std::string> mpc_breakdowns;
  for (const auto& row : op_table()) {
    INFO("operation " << row.param << " (" << to_string(row.family) << ")");
    CHECK(family_of(row.op) == row.family);
    const Architecture a = two_layers(row.op);
    CHECK(a.layers[1].attention_width() == 48);
    ModelStatsOptions so;
    so.seq = 16;
    const ModelStats st = model_stats(a, so);
    // Per-operation FLOPs: all head FLOPs of this layer belong to this operation.
    for (const auto& other : op_table())
      CHECK((st.op_flops[static_cast<std::size_t>(other.op)] > 0) == (other.op == row.op));
    // The oneDNN layer holds exactly the parameters model_stats counts for that layer (the
    // projection between layers of different widths is counted with the first layer).
    const std::int64_t proj = 64 * 50 + 50;
    CHECK(weight_count(a.layers[0]) == st.layers[0].params - proj);
    CHECK(weight_count(a.layers[1]) == st.layers[1].params);
    // oneDNN runs the h // n layer and gives finite outputs of width h.
    RunShape s;
    s.seq = 16;
    const auto w = random_weights(a.layers[1], 3);
    std::vector<float> x(static_cast<std::size_t>(16 * 50));
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
    const auto y = run_layer(a.layers[1], w, x, s);
    REQUIRE(y.size() == x.size());
    for (float v : y) REQUIRE(std::isfinite(v));
    // MPC: the output projection of the h // n layer maps the 48 concatenated columns to 50.
    MpcOptions mo;
    mo.seq = 16;
    const auto rep = mpc_cost(a, mpc_ops, lan, mo);
    bool proj_found = false;
    std::string ops;
    for (const auto& c : rep.ops) {
      if (c.layer == 1 && c.name == "proj") {
        proj_found = true;
        CHECK(c.cost.bytes == mpc_ops.matmul(16, 48, 50).bytes);
      }
      if (c.layer >= 0) ops += c.name + "/" + c.op + " ";
    }
    CHECK(proj_found);
    CHECK(rep.total.bytes > 0);
    mpc_breakdowns.insert(ops);
  }
  // The MPC model treats the families differently (attention, mixing, convolution).
  CHECK(mpc_breakdowns.size() >= 3);
}
