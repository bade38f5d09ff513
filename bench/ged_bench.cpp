// GED benchmark: exact and bipartite pairs per second against graph size, and the exact
// search on the reference pairs against networkx's recorded exact-GED time (the baseline:
// the "secs" of ../shared/data/flexibert_ged_vectors.json, 0.01-0.7 s per pair, rounded
// to 0.1 s there; a recorded 0.0 is taken as 0.01 s, the low end of networkx's range).
// Usage: ged_bench [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "space/ged.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void reference_pairs() {
  const std::string path = std::string(FLEXNAS_SHARED_DATA) + "/flexibert_ged_vectors.json";
  if (!std::filesystem::exists(path)) {
    std::printf("reference pairs: skipped (%s absent)\n", path.c_str());
    return;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto doc = nlohmann::json::parse(ss.str());
  const auto costs = OpCosts::from_list(doc["sorted_ops"].get<std::vector<std::string>>());
  std::printf("\nexact GED on the reference pairs (networkx baseline from the vector file)\n");
  std::printf("%-6s %8s %8s %12s %12s %10s\n", "pair", "nodes", "ged", "ours (s)", "networkx (s)", "speed-up");
  int i = 0;
  double min_speedup = 1e300;
  for (const auto& p : doc["pairs"]) {
    const auto a = costs.graph(architecture_from_json(p["a"])), b = costs.graph(architecture_from_json(p["b"]));
    const int reps = 2000;
    GedResult r;
    const auto t = Clock::now();
    for (int k = 0; k < reps; ++k) r = ged(a, b, {GedMethod::kExact});
    const double ours = seconds_since(t) / reps;
    const double nx = std::max(0.01, p["secs"].get<double>());
    min_speedup = std::min(min_speedup, nx / ours);
    std::printf("%-6d %4d,%-3d %8.1f %12.2e %12.2f %9.0fx%s\n", i++, a.size(), b.size(), r.distance, ours, nx, nx / ours,
                r.exact && std::abs(r.distance - p["ged_exact"].get<double>()) < 1e-9 ? "" : "  MISMATCH");
  }
  std::printf("smallest speed-up over networkx: %.0fx (target >= 100x)\n", min_speedup);
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
    if (static_cast<int>(buckets[key].size()) < per_bucket) buckets[key].emplace_back(std::move(a), std::move(b));
    bool full = buckets.size() >= 5;
    for (const auto& [k, v] : buckets) full = full && static_cast<int>(v.size()) >= per_bucket;
    if (full) break;
  }
  std::printf("\npairs per second by graph size (flexibert-small, mixed FF; exact budget %llu nodes)\n",
              static_cast<unsigned long long>(GedOptions{}.max_expansions));
  std::printf("%-10s %6s %14s %14s %10s %12s\n", "nodes", "pairs", "bipartite/s", "exact/s", "proven", "bip. excess");
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
    std::printf("%3d-%-6d %6zu %14.0f %14.1f %9.0f%% %11.1f%%\n", key, key + 7, pairs.size(), n / bip_s, n / ex_s,
                100.0 * proven / n, 100.0 * excess / n);
  }
  std::printf("(bip. excess: how much larger the bipartite bound is than the exact search's result)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  reference_pairs();
  by_size(quick);
  return 0;
}
