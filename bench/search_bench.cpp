// Search benchmark on the FlexiBERT SST-2 table (../shared/data/flexibert_small_sst2.jsonl:
// 620 models with measured accuracy): for every policy and 10 seeds, the queries until
// the best model is found, best-so-far against queries, and policy seconds per
// iteration. Random search is the baseline measured in the same run (expected ~207
// queries: 620 models, two share the best accuracy).
// Usage: search_bench [--seeds N] [--policies a,b,c] [--budget N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "search/policy.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int seeds = 10;
  std::size_t budget = 620;
  std::vector<std::string> policies{"random", "evolution:population=20,sample=5"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) seeds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--budget")) budget = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--policies")) {
      policies.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string p; std::getline(ss, p, ';');) policies.push_back(p);
    }
  }
  const std::string path = std::string(FLEXNAS_SHARED_DATA) + "/flexibert_small_sst2.jsonl";
  if (!std::filesystem::exists(path)) {
    std::printf("skipped: %s is absent\n", path.c_str());
    return 0;
  }
  std::vector<Architecture> pool;
  std::vector<double> acc;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      pool.push_back(architecture_from_json(j["model"]));
      acc.push_back(j["sst2_accuracy"].get<double>());
    }
  }
  const auto t0 = Clock::now();
  SearchDomain base(pool, std::nullopt, 1);
  std::printf("pool: %zu models, embedded in %.1f s\n", pool.size(),
              std::chrono::duration<double>(Clock::now() - t0).count());
  std::unordered_map<std::string, double> table;
  for (std::size_t i = 0; i < pool.size(); ++i) table[base.key(pool[i].canonical())] = acc[i];
  const double best = *std::max_element(acc.begin(), acc.end());

  PolicyRegistry registry;
  register_builtin_policies(registry);
  std::printf("\n%-40s %8s %8s %8s %10s %12s %12s\n", "policy", "median", "mean", "max", "found", "best@40", "policy s/it");
  std::vector<double> random_median;
  for (const auto& spec : policies) {
    std::vector<double> queries, best40;
    double policy_seconds = 0;
    std::size_t iterations = 0;
    int found = 0;
    for (int s = 0; s < seeds; ++s) {
      SearchDomain domain = base;
      PolicyContext ctx{&domain, {Objective::parse("sst2_accuracy:max")}, {}, static_cast<std::uint64_t>(s)};
      auto policy = registry.create(spec, ctx);
      double so_far = 0;
      std::size_t q = 0;
      bool hit = false;
      for (std::int64_t id = 0; q < budget; ++id) {
        const auto a0 = Clock::now();
        const auto asked = policy->ask(1);
        policy_seconds += std::chrono::duration<double>(Clock::now() - a0).count();
        ++iterations;
        if (asked.empty()) break;
        Trial t;
        t.id = id;
        t.batch = id;
        t.arch = asked[0];
        t.hash = domain.key(asked[0]);
        t.state = TrialState::kOk;
        t.values["sst2_accuracy"] = table.at(t.hash);
        ++q;
        so_far = std::max(so_far, t.values["sst2_accuracy"]);
        if (q == 40) best40.push_back(so_far);
        policy->tell({t});
        if (so_far >= best) {
          hit = true;
          break;
        }
      }
      if (best40.size() < static_cast<std::size_t>(s + 1)) best40.push_back(so_far);
      found += hit;
      queries.push_back(static_cast<double>(q));
    }
    auto sorted = queries;
    std::sort(sorted.begin(), sorted.end());
    const double median = seeds % 2 ? sorted[static_cast<std::size_t>(seeds / 2)]
                                    : 0.5 * (sorted[static_cast<std::size_t>(seeds / 2 - 1)] + sorted[static_cast<std::size_t>(seeds / 2)]);
    const double mean = std::accumulate(queries.begin(), queries.end(), 0.0) / seeds;
    const double b40 = std::accumulate(best40.begin(), best40.end(), 0.0) / static_cast<double>(best40.size());
    std::printf("%-40s %8.1f %8.1f %8.0f %7d/%-2d %12.4f %12.2e\n", spec.c_str(), median, mean, sorted.back(), found,
                seeds, b40, policy_seconds / static_cast<double>(iterations));
    if (spec == "random") random_median.push_back(median);
  }
  if (!random_median.empty())
    std::printf("\n(median queries to the best model; random's median %.1f is the baseline, table best %.4f)\n",
                random_median[0], best);
  return 0;
}
