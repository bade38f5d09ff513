#include "space/ged.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_scheduler_observer.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

#include "../test_data.hpp"

using namespace flexnas;

namespace {

// Brute force over every injective partial map (no pruning, no bounds, no symmetry
// breaking): the independent check of the branch and bound on small graphs.
double brute_force_ged(const CostGraph& a, const CostGraph& b) {
  std::vector<int> map(static_cast<std::size_t>(a.size()), -1);
  std::vector<char> used(static_cast<std::size_t>(b.size()), 0);
  double best = 1e18;
  std::function<void(int)> rec = [&](int u) {
    if (u == a.size()) {
      double cost = 0;
      for (int i = 0; i < a.size(); ++i) {
        const int v = map[static_cast<std::size_t>(i)];
        cost += v < 0 ? a.cost[static_cast<std::size_t>(i)]
                      : std::abs(a.cost[static_cast<std::size_t>(i)] -
                                 b.cost[static_cast<std::size_t>(v)]);
      }
      for (int v = 0; v < b.size(); ++v)
        if (!used[static_cast<std::size_t>(v)]) cost += b.cost[static_cast<std::size_t>(v)];
      int matched = 0;
      for (int s = 0; s < a.size(); ++s)
        for (int t : a.out[static_cast<std::size_t>(s)]) {
          const int ms = map[static_cast<std::size_t>(s)], mt = map[static_cast<std::size_t>(t)];
          if (ms >= 0 && mt >= 0) {
            const auto& o = b.out[static_cast<std::size_t>(ms)];
            matched += std::find(o.begin(), o.end(), mt) != o.end();
          }
        }
      cost += 0.1 * ((a.num_edges - matched) + (b.num_edges - matched));
      best = std::min(best, cost);
      return;
    }
    rec(u + 1);  // delete u
    for (int v = 0; v < b.size(); ++v) {
      if (used[static_cast<std::size_t>(v)]) continue;
      used[static_cast<std::size_t>(v)] = 1;
      map[static_cast<std::size_t>(u)] = v;
      rec(u + 1);
      map[static_cast<std::size_t>(u)] = -1;
      used[static_cast<std::size_t>(v)] = 0;
    }
  };
  rec(0);
  return best;
}

// Random DAG with labels drawn from few values so that twins and ties are common.
CostGraph random_graph(Rng& rng, int n) {
  CostGraph g;
  g.cost.resize(static_cast<std::size_t>(n));
  g.out.resize(static_cast<std::size_t>(n));
  g.in.resize(static_cast<std::size_t>(n));
  for (auto& c : g.cost) c = std::uniform_int_distribution<int>(0, 4)(rng);
  for (int s = 0; s < n; ++s)
    for (int t = s + 1; t < n; ++t)
      if (std::bernoulli_distribution(0.35)(rng)) {
        g.out[static_cast<std::size_t>(s)].push_back(t);
        g.in[static_cast<std::size_t>(t)].push_back(s);
        ++g.num_edges;
      }
  return g;
}

// Counts the distinct threads that enter one arena while it observes.
class ThreadCounter : public tbb::task_scheduler_observer {
 public:
  explicit ThreadCounter(tbb::task_arena& arena) : tbb::task_scheduler_observer(arena) {
    observe(true);
  }
  ~ThreadCounter() override { observe(false); }
  void on_scheduler_entry(bool) override {
    const std::lock_guard<std::mutex> lock(mutex_);
    ids_.insert(std::this_thread::get_id());
  }
  std::size_t count() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return ids_.size();
  }

 private:
  std::mutex mutex_;
  std::set<std::thread::id> ids_;
};

}  // namespace

TEST_CASE("ged_cost_table_matches_reference_order", "[ged]") {
  const auto doc =
      nlohmann::json::parse(test::read_file(test::test_data("flexibert_ged_vectors.json")));
  const auto costs = OpCosts::for_space(DesignSpace::load("flexibert-test"));
  CHECK(costs.sorted_ops() == doc["sorted_ops"].get<std::vector<std::string>>());
}

TEST_CASE("ged_exact_matches_reference_vectors", "[ged]") {
  const auto doc =
      nlohmann::json::parse(test::read_file(test::test_data("flexibert_ged_vectors.json")));
  const auto costs = OpCosts::from_list(doc["sorted_ops"].get<std::vector<std::string>>());
  for (const auto& p : doc["pairs"]) {
    const auto a = architecture_from_json(p["a"]), b = architecture_from_json(p["b"]);
    INFO(p["a"].dump() << " vs " << p["b"].dump());
    const auto r = ged(a, b, costs, {GedMethod::kExact});
    CHECK(r.exact);
    CHECK(r.distance == Approx(p["ged_exact"].get<double>()).margin(1e-9));
    const auto back = ged(b, a, costs, {GedMethod::kExact});
    CHECK(back.distance == Approx(r.distance).margin(1e-9));
    const auto bip = ged(a, b, costs, {GedMethod::kBipartite});
    CHECK(bip.distance >= r.distance - 1e-9);
  }
}

TEST_CASE("ged_exact_equals_brute_force_on_random_graphs", "[ged]") {
  Rng rng(5);
  for (int trial = 0; trial < 150; ++trial) {
    const auto a = random_graph(rng, std::uniform_int_distribution<int>(1, 5)(rng));
    const auto b = random_graph(rng, std::uniform_int_distribution<int>(1, 5)(rng));
    const auto r = ged(a, b, {GedMethod::kExact});
    INFO("trial " << trial);
    REQUIRE(r.exact);
    CHECK(r.distance == Approx(brute_force_ged(a, b)).margin(1e-9));
    CHECK(ged(a, b, {GedMethod::kBipartite}).distance >= r.distance - 1e-9);
  }
}

TEST_CASE("ged_exact_equals_brute_force_on_architecture_graphs", "[ged]") {
  // Small architectures of a one-layer space: many twin heads, where symmetry breaking acts.
  auto s = DesignSpace::from_yaml(R"(
layers: [1]
hidden: [64, 128]
heads: [1, 2, 3]
hetero: true
operations: {sa: [sdp, wma], l: [dft]}
ff: {depth: [1], width: [256, 512]}
)",
                                  "one-layer");
  const auto costs = OpCosts::for_space(s);
  Rng rng(9);
  for (int trial = 0; trial < 40; ++trial) {
    const auto a = costs.graph(s.sample(rng)), b = costs.graph(s.sample(rng));
    CHECK(ged(a, b, {GedMethod::kExact}).distance == Approx(brute_force_ged(a, b)).margin(1e-9));
  }
}

TEST_CASE("ged_is_a_metric_on_sampled_architectures", "[ged]") {
  auto s = DesignSpace::load("flexibert-test");
  s.layers = {2};  // exact search proves optimality quickly at this size
  const auto costs = OpCosts::for_space(s);
  Rng rng(2);
  std::vector<CostGraph> g;
  for (int i = 0; i < 6; ++i) g.push_back(costs.graph(s.sample(rng)));
  GedOptions exact{GedMethod::kExact};
  for (const auto& x : g)
    for (const auto& y : g) REQUIRE(ged(x, y, exact).exact);
  const auto d = ged_matrix(g, g, exact);
  const std::size_t n = g.size();
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(d[i * n + i] == 0);
    for (std::size_t j = 0; j < n; ++j) {
      CHECK(d[i * n + j] == Approx(d[j * n + i]).margin(1e-9));
      for (std::size_t k = 0; k < n; ++k) CHECK(d[i * n + k] <= d[i * n + j] + d[j * n + k] + 1e-9);
    }
  }
}

TEST_CASE("ged_matrix_same_with_any_thread_count", "[ged]") {
  auto s = DesignSpace::load("flexibert-small");
  const auto costs = OpCosts::for_space(s);
  Rng rng(4);
  std::vector<CostGraph> g;
  for (int i = 0; i < 12; ++i) g.push_back(costs.graph(s.sample(rng)));
  std::vector<double> serial;
  for (std::size_t i = 0; i < g.size(); ++i)
    for (std::size_t j = 0; j < g.size(); ++j)
      serial.push_back(ged(g[i], g[j], {GedMethod::kBipartite}).distance);
  // The same matrix, bit for bit, from arenas of 1, 2, 4 and 8 threads. The limit raised
  // above the default lets the larger arenas get their workers on a 2-core machine; an
  // observer counts the threads that ran in each arena, so the one-thread run is shown to
  // be serial and no run used more threads than asked.
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 8);
  for (const int threads : {1, 2, 4, 8}) {
    INFO(threads << " threads");
    tbb::task_arena arena(threads);
    ThreadCounter counter(arena);
    std::vector<double> par;
    int concurrency = 0;
    arena.execute([&] {
      concurrency = tbb::this_task_arena::max_concurrency();
      par = ged_matrix(g, g, {GedMethod::kBipartite});
    });
    counter.observe(false);
    CHECK(concurrency == threads);
    const auto used = counter.count();
    INFO(used << " threads ran");
    CHECK(used >= 1);
    CHECK(used <= static_cast<std::size_t>(threads));
    CHECK(par == serial);
  }
}

TEST_CASE("ged_unknown_label_names_it", "[ged]") {
  const auto costs = OpCosts::for_space(DesignSpace::load("flexibert-test"));
  auto a = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[2048],[512]],"p":["sdp","sdp"]})");
  CHECK_THROWS_WITH(costs.graph(a), Catch::Contains("f2048"));
}

TEST_CASE("ged_bipartite_flow_solves_the_hungarian_assignment", "[ged]") {
  // The bipartite bound solves its node assignment as a min-cost flow between signature
  // classes; the Hungarian method on the full (n1 + n2)^2 matrix is the independent check:
  // both must reach the same optimal objective (the maps may differ between ties).
  auto check = [](const CostGraph& a, const CostGraph& b) {
    const auto flow = detail::bipartite_map(a, b), hung = detail::bipartite_map(a, b, true);
    REQUIRE(flow.size() == static_cast<std::size_t>(a.size()));
    std::set<int> images;
    for (int v : flow) {
      REQUIRE(v >= -1);
      REQUIRE(v < b.size());
      if (v >= 0) CHECK(images.insert(v).second);  // injective
    }
    CHECK(detail::bipartite_objective(a, b, flow) == detail::bipartite_objective(a, b, hung));
  };
  Rng rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    INFO("random trial " << trial);
    check(random_graph(rng, std::uniform_int_distribution<int>(0, 30)(rng)),
          random_graph(rng, std::uniform_int_distribution<int>(0, 30)(rng)));
  }
  for (const char* name : {"flexibert-small", "flexibert-hetero", "flexibert2"}) {
    const auto space = DesignSpace::load(name);
    const auto costs = OpCosts::for_space(space);
    for (int trial = 0; trial < (std::string(name) == "flexibert2" ? 20 : 60); ++trial) {
      INFO(name << " trial " << trial);
      const auto a = space.sample(rng), b = space.sample(rng);
      check(costs.graph(a), costs.graph(b));
      check(costs.graph(a), costs.graph(a));
      CHECK(ged(a, a, costs, {GedMethod::kBipartite}).distance == 0);  // like nodes pair in order
    }
  }
}
