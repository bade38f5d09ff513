// GED benchmark: the exact search on the reference pairs against networkx's exact GED timed
// on the same pairs in the same run (bench/networkx_ged.py, Debian python3-networkx), the
// bipartite bound's assignment by min-cost flow against the Hungarian method on the same
// pairs, and pairs per second against graph size.
// Usage: ged_bench [--quick] [--networkx PYTHON]   (scripts/bench.sh passes /usr/bin/python3)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "space/ged.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

nlohmann::json graph_json(const CostGraph& g) {
  nlohmann::json edges = nlohmann::json::array();
  for (int s = 0; s < g.size(); ++s)
    for (int t : g.out[static_cast<std::size_t>(s)]) edges.push_back({s, t});
  return {{"cost", g.cost}, {"edges", edges}};
}

// networkx's exact GED of each pair, timed by bench/networkx_ged.py; empty when it cannot run.
std::vector<std::pair<double, double>> networkx_times(
    const std::vector<std::pair<CostGraph, CostGraph>>& pairs, const std::string& python) {
  if (python.empty()) return {};
  const auto dir =
      std::filesystem::temp_directory_path() / ("flexnas_ged_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  nlohmann::json doc{{"pairs", nlohmann::json::array()}};
  for (const auto& [a, b] : pairs)
    doc["pairs"].push_back({{"a", graph_json(a)}, {"b", graph_json(b)}});
  std::ofstream(dir / "pairs.json") << doc.dump();
  const std::string cmd = python + " " + FLEXNAS_SOURCE_DIR + "/bench/networkx_ged.py " +
                          (dir / "pairs.json").string() + " " + (dir / "out.json").string();
  std::vector<std::pair<double, double>> out;
  if (std::system(cmd.c_str()) == 0) {
    std::ifstream in(dir / "out.json");
    const auto res = nlohmann::json::parse(in);
    std::printf("(networkx %s, timed in this run)\n", res["networkx"].get<std::string>().c_str());
    for (const auto& r : res["pairs"])
      out.emplace_back(r["ged"].get<double>(), r["seconds"].get<double>());
  } else {
    std::printf("networkx: `%s` failed; no peer column\n", cmd.c_str());
  }
  std::filesystem::remove_all(dir);
  return out;
}

void reference_pairs(const std::string& python) {
  const std::string path =
      std::string(FLEXNAS_SOURCE_DIR) + "/tests/data/flexibert_ged_vectors.json";
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto doc = nlohmann::json::parse(ss.str());
  const auto costs = OpCosts::from_list(doc["sorted_ops"].get<std::vector<std::string>>());
  std::vector<std::pair<CostGraph, CostGraph>> pairs;
  std::vector<double> expected;
  for (const auto& p : doc["pairs"]) {
    pairs.emplace_back(costs.graph(architecture_from_json(p["a"])),
                       costs.graph(architecture_from_json(p["b"])));
    expected.push_back(p["ged_exact"].get<double>());
  }
  const auto nx = networkx_times(pairs, python);
  std::printf("\nexact GED on the reference pairs (tests/data/flexibert_ged_vectors.json)\n");
  std::printf("%-6s %8s %8s %12s %12s %10s\n", "pair", "nodes", "ged", "ours (s)", "networkx (s)",
              "speed-up");
  double min_speedup = 1e300;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [a, b] = pairs[i];
    const int reps = 2000;
    GedResult r;
    const auto t = Clock::now();
    for (int k = 0; k < reps; ++k) r = ged(a, b, {GedMethod::kExact});
    const double ours = seconds_since(t) / reps;
    const bool ok = r.exact && std::abs(r.distance - expected[i]) < 1e-9;
    if (nx.empty()) {
      std::printf("%-6zu %4d,%-3d %8.1f %12.2e %12s %10s%s\n", i, a.size(), b.size(), r.distance,
                  ours, "-", "-", ok ? "" : "  MISMATCH");
      continue;
    }
    const auto [nx_ged, nx_s] = nx[i];
    min_speedup = std::min(min_speedup, nx_s / ours);
    std::printf("%-6zu %4d,%-3d %8.1f %12.2e %12.2e %9.0fx%s%s\n", i, a.size(), b.size(),
                r.distance, ours, nx_s, nx_s / ours, ok ? "" : "  MISMATCH (reference)",
                std::abs(nx_ged - r.distance) < 1e-6 ? "" : "  MISMATCH (networkx)");
  }
  if (!nx.empty())
    std::printf("smallest speed-up over networkx in this run: %.0fx (target >= 100x)\n",
                min_speedup);
}

// The bipartite bound's node assignment: min-cost flow over signature classes (used)
// against the Hungarian method on the full matrix, same pairs, same objective.
void assignment(bool quick) {
  std::printf(
      "\nbipartite assignment: signature-class min-cost flow vs Hungarian on the full matrix\n");
  std::printf("%-18s %6s %10s %14s %14s %9s %10s %12s\n", "space", "pairs", "nodes", "hungarian/s",
              "flow/s", "speed-up", "objective", "mean dist");
  for (const char* name : {"flexibert-small", "flexibert-hetero", "flexibert2"}) {
    const auto space = DesignSpace::load(name);
    const auto costs = OpCosts::for_space(space);
    Rng rng(1);
    const int n = quick ? 30 : (std::string(name) == "flexibert2" ? 200 : 1000);
    std::vector<std::pair<CostGraph, CostGraph>> pairs;
    double nodes = 0;
    for (int k = 0; k < n; ++k) {
      pairs.emplace_back(costs.graph(space.sample(rng)), costs.graph(space.sample(rng)));
      nodes += 0.5 * (pairs.back().first.size() + pairs.back().second.size());
    }
    std::vector<std::vector<int>> hung, flow;
    auto t = Clock::now();
    for (const auto& [a, b] : pairs) hung.push_back(detail::bipartite_map(a, b, true));
    const double hung_s = seconds_since(t);
    t = Clock::now();
    for (const auto& [a, b] : pairs) flow.push_back(detail::bipartite_map(a, b));
    const double flow_s = seconds_since(t);
    int equal = 0;
    double dist_h = 0, dist_f = 0;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      const auto& [a, b] = pairs[k];
      equal +=
          detail::bipartite_objective(a, b, hung[k]) == detail::bipartite_objective(a, b, flow[k]);
      dist_f += detail::bipartite_distance(a, b, flow[k]);
      dist_h += detail::bipartite_distance(a, b, hung[k]);
    }
    std::printf("%-18s %6d %10.0f %14.0f %14.0f %8.1fx %5d/%-4d %5.1f/%-6.1f\n", name, n, nodes / n,
                n / hung_s, n / flow_s, hung_s / flow_s, equal, n, dist_h / n, dist_f / n);
  }
  std::printf(
      "(objective: pairs where both reach the same optimal assignment cost; mean dist: the edit\n"
      " path each map gives, Hungarian/flow: ties are broken differently)\n");
}

void by_size(bool quick) {
  auto space = DesignSpace::load("flexibert-small");
  space.mixed_ff = true;
  const auto costs = OpCosts::for_space(space);
  auto shallow = space;  // depth 2 only, for the small graphs (uniform sampling rarely picks l = 2)
  shallow.layers = {2};
  Rng rng(1);
  // Bucket pairs by the larger graph's node count.
  std::map<int, std::vector<std::pair<CostGraph, CostGraph>>> buckets;
  const int per_bucket = quick ? 10 : 40;
  for (int tries = 0; tries < 200000; ++tries) {
    const auto& s = tries % 2 ? space : shallow;
    auto a = costs.graph(s.sample(rng)), b = costs.graph(s.sample(rng));
    const int n = std::max(a.size(), b.size());
    const int key = (n / 8) * 8;
    if (static_cast<int>(buckets[key].size()) < per_bucket)
      buckets[key].emplace_back(std::move(a), std::move(b));
    bool full = buckets.size() >= 5;
    for (const auto& [k, v] : buckets) full = full && static_cast<int>(v.size()) >= per_bucket;
    if (full) break;
  }
  std::printf(
      "\npairs per second by graph size (flexibert-small, mixed FF; exact budget %llu nodes)\n",
      static_cast<unsigned long long>(GedOptions{}.max_expansions));
  std::printf("%-10s %6s %14s %14s %10s %12s\n", "nodes", "pairs", "bipartite/s", "exact/s",
              "proven", "bip. excess");
  for (const auto& [key, pairs] : buckets) {
    auto t = Clock::now();
    std::vector<double> bip;
    for (const auto& [a, b] : pairs) bip.push_back(ged(a, b, {GedMethod::kBipartite}).distance);
    const double bip_s = seconds_since(t);
    t = Clock::now();
    int proven = 0;
    double excess = 0;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto r = ged(pairs[i].first, pairs[i].second, {GedMethod::kExact});
      proven += r.exact;
      excess += r.distance > 0 ? bip[i] / r.distance - 1 : 0;
    }
    const double ex_s = seconds_since(t);
    const double n = static_cast<double>(pairs.size());
    std::printf("%3d-%-6d %6zu %14.0f %14.1f %9.0f%% %11.1f%%\n", key, key + 7, pairs.size(),
                n / bip_s, n / ex_s, 100.0 * proven / n, 100.0 * excess / n);
  }
  std::printf(
      "(bip. excess: how much larger the bipartite bound is than the exact search's result)\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string python;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--networkx") == 0 && i + 1 < argc) {
      python = argv[++i];
    } else {
      std::fprintf(stderr, "usage: ged_bench [--quick] [--networkx PYTHON]\n");
      return 2;
    }
  }
  reference_pairs(python);
  assignment(quick);
  by_size(quick);
  return 0;
}
