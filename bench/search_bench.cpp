// Search benchmark on the FlexiBERT SST-2 table (../shared/data/flexibert_small_sst2.jsonl:
// 620 models with measured accuracy): for every policy and 10 seeds, the queries until
// the best model is found, best-so-far against queries, and policy seconds per
// iteration. Random search is the baseline measured in the same run (expected ~207
// queries: 620 models, two share the best accuracy).
// Also: multi-objective (sst2_accuracy:max, params:min) hypervolume after a few dozen
// evaluations per policy against random; surrogate rank correlation (Kendall tau) on
// held-out models; policy seconds per iteration against the number of evaluated points.
// Usage: search_bench [--seeds N] [--policies a;b;c] [--budget N] [--sections
// single,multi,tau,scaling]
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

#include "search/encoder.hpp"
#include "search/policy.hpp"
#include "space/model_stats.hpp"
#include "surrogate/surrogate.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

namespace {

double kendall_tau(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  double concordant = 0, discordant = 0;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    for (Eigen::Index j = i + 1; j < a.size(); ++j) {
      const double s = (a(i) - a(j)) * (b(i) - b(j));
      concordant += s > 0;
      discordant += s < 0;
    }
  return (concordant - discordant) / std::max(1.0, concordant + discordant);
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double sd_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return v.size() > 1 ? std::sqrt(s / static_cast<double>(v.size() - 1)) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;  // 10 seeds leave the medians of close policies within noise
  std::string sections = "single,multi,tau,scaling";
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when piped
  std::size_t budget = 620;
  // The baselines of the search issue, run beside BOSHNAS: random, regularised evolution and
  // a plain GP-UCB on the naive encoding (no exploration mix) at kappa 0.5 and 2.
  std::vector<std::string> policies{
      "random", "evolution:population=20,sample=5", "boshnas",
      "boshnas:surrogate=gp,encoding=naive,kappa=0.5,p_uncertain=0,p_random=0",
      "boshnas:surrogate=gp,encoding=naive,kappa=2,p_uncertain=0,p_random=0"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds"))
      seeds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sections"))
      sections = argv[i + 1];
    else if (!std::strcmp(argv[i], "--budget"))
      budget = static_cast<std::size_t>(std::atoi(argv[i + 1]));
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
  const bool single = sections.find("single") != std::string::npos;
  if (single)
    std::printf("\n%-44s %8s %8s %8s %10s %12s %12s\n", "policy", "median", "mean", "max", "found",
                "best@40", "policy s/it");
  std::vector<double> random_median;
  for (const auto& spec : single ? policies : std::vector<std::string>{}) {
    std::vector<double> queries, best40;
    double policy_seconds = 0;
    std::size_t iterations = 0;
    int found = 0;
    for (int s = 0; s < seeds; ++s) {
      SearchDomain domain = base;
      PolicyContext ctx{
          &domain, {Objective::parse("sst2_accuracy:max")}, {}, static_cast<std::uint64_t>(s)};
      std::unique_ptr<Policy> policy;
      try {
        policy = registry.create(spec, ctx);
      } catch (const std::exception& e) {  // e.g. hierarchical needs a design space, not a pool
        std::printf("%-40s skipped: %s\n", spec.c_str(), e.what());
        break;
      }
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
    if (queries.empty()) continue;
    auto sorted = queries;
    std::sort(sorted.begin(), sorted.end());
    const double median = seeds % 2 ? sorted[static_cast<std::size_t>(seeds / 2)]
                                    : 0.5 * (sorted[static_cast<std::size_t>(seeds / 2 - 1)] +
                                             sorted[static_cast<std::size_t>(seeds / 2)]);
    const double mean = std::accumulate(queries.begin(), queries.end(), 0.0) / seeds;
    const double b40 =
        std::accumulate(best40.begin(), best40.end(), 0.0) / static_cast<double>(best40.size());
    std::printf("%-44s %8.1f %8.1f %8.0f %7d/%-2d %12.4f %12.2e\n", spec.c_str(), median, mean,
                sorted.back(), found, seeds, b40, policy_seconds / static_cast<double>(iterations));
    if (spec == "random") random_median.push_back(median);
  }
  if (!random_median.empty())
    std::printf(
        "\n(median queries to the best model; random's median %.1f is the baseline, table best "
        "%.4f)\n",
        random_median[0], best);

  // --- multi-objective: hypervolume of (sst2_accuracy:max, params:min) after K evaluations -----
  if (sections.find("multi") != std::string::npos) {
    std::unordered_map<std::string, double> params;
    std::vector<std::vector<double>> all_pts;
    double worst_acc = 1, most_params = 0, best_acc = 0, fewest = 1e300;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      const double p = static_cast<double>(model_stats(pool[i]).params) / 1e6;
      params[base.key(pool[i].canonical())] = p;
      all_pts.push_back({-acc[i], p});
      worst_acc = std::min(worst_acc, acc[i]);
      best_acc = std::max(best_acc, acc[i]);
      most_params = std::max(most_params, p);
      fewest = std::min(fewest, p);
    }
    // Normalised so that both objectives span [0, 1]; reference point 1.1 on each.
    auto norm = [&](double a, double p) {
      return std::vector<double>{(best_acc - a) / (best_acc - worst_acc),
                                 (p - fewest) / (most_params - fewest)};
    };
    std::vector<std::vector<double>> table_pts;
    for (std::size_t i = 0; i < pool.size(); ++i) table_pts.push_back(norm(acc[i], all_pts[i][1]));
    const std::vector<double> ref{1.1, 1.1};
    const double hv_table = hypervolume(table_pts, ref);
    const std::vector<std::size_t> checkpoints{30, 60, 100};
    std::vector<std::string> mo_policies{"random", "nsga2:population=20", "sa-nsga2", "boshnas"};
    std::printf(
        "\nmulti-objective (sst2_accuracy:max, params:min), %d seeds, hypervolume as a fraction of "
        "the "
        "table's whole front (%.4f):\n%-28s",
        seeds, hv_table, "policy");
    for (auto c : checkpoints) std::printf("   HV@%-3zu (sd)   ", c);
    std::printf("  vs random@%zu  policy s/it\n", checkpoints.back());
    double random_last = 0;
    for (const auto& spec : mo_policies) {
      std::vector<std::vector<double>> hv(checkpoints.size());
      double policy_seconds = 0;
      std::size_t iterations = 0;
      for (int sd = 0; sd < seeds; ++sd) {
        SearchDomain domain = base;
        PolicyContext ctx{&domain,
                          {Objective::parse("sst2_accuracy:max"), Objective::parse("params:min")},
                          {},
                          static_cast<std::uint64_t>(sd)};
        auto policy = registry.create(spec, ctx);
        std::vector<std::vector<double>> seen;
        std::int64_t id = 0;
        std::size_t c = 0;
        while (c < checkpoints.size()) {
          const auto a0 = Clock::now();
          const auto asked = policy->ask(4);
          policy_seconds += std::chrono::duration<double>(Clock::now() - a0).count();
          ++iterations;
          if (asked.empty()) break;
          std::vector<Trial> told;
          for (const auto& a : asked) {
            Trial t;
            t.id = id++;
            t.arch = a;
            t.hash = domain.key(a);
            t.state = TrialState::kOk;
            t.values["sst2_accuracy"] = table.at(t.hash);
            t.values["params"] = params.at(t.hash);
            seen.push_back(norm(t.values["sst2_accuracy"], t.values["params"]));
            told.push_back(t);
            if (c < checkpoints.size() && seen.size() == checkpoints[c])
              hv[c++].push_back(hypervolume(seen, ref) / hv_table);
          }
          policy->tell(told);
        }
      }
      std::printf("%-28s", spec.c_str());
      for (const auto& h : hv) std::printf("   %.4f (%.4f) ", mean_of(h), sd_of(h));
      if (spec == "random") random_last = mean_of(hv.back());
      std::printf("  %10.3fx  %10.2e\n", mean_of(hv.back()) / random_last,
                  policy_seconds / static_cast<double>(iterations));
    }
  }

  // --- surrogate rank correlation on held-out models ----------------------------------------
  if (sections.find("tau") != std::string::npos) {
    SurrogateRegistry surrogates;
    register_builtins(surrogates);
    std::printf(
        "\nsurrogate Kendall tau on held-out models (trained on n random table models, tested on "
        "the "
        "rest; %d seeds):\n%-26s %16s %16s %16s\n",
        seeds, "surrogate / encoding", "n=25", "n=50", "n=100");
    for (const std::string enc : {"embedding", "naive"}) {
      SearchDomain domain = base;
      CandidateEncoder encoder(domain, enc, 1, "bench");
      const Eigen::MatrixXd x_all = encoder.encode(pool);
      for (const std::string sur : {"boshnas", "gp"}) {
        std::printf("%-26s", (sur + " / " + enc).c_str());
        for (int n : {25, 50, 100}) {
          std::vector<double> taus;
          for (int sd = 0; sd < seeds; ++sd) {
            std::vector<std::size_t> idx(pool.size());
            std::iota(idx.begin(), idx.end(), 0);
            Rng r(static_cast<std::uint64_t>(sd) + 100);
            std::shuffle(idx.begin(), idx.end(), r);
            Eigen::MatrixXd xt(n, x_all.cols()),
                xh(static_cast<Eigen::Index>(pool.size()) - n, x_all.cols());
            Eigen::VectorXd yt(n), yh(xh.rows());
            for (std::size_t k = 0; k < idx.size(); ++k) {
              const auto row = x_all.row(static_cast<Eigen::Index>(idx[k]));
              const double y = 1 - acc[idx[k]];
              if (static_cast<int>(k) < n) {
                xt.row(static_cast<Eigen::Index>(k)) = row;
                yt(static_cast<Eigen::Index>(k)) = y;
              } else {
                xh.row(static_cast<Eigen::Index>(k) - n) = row;
                yh(static_cast<Eigen::Index>(k) - n) = y;
              }
            }
            auto model = surrogates.create(sur, {{"seed", std::to_string(sd)}});
            model->fit(xt, yt);
            taus.push_back(kendall_tau(model->predict(xh).mean, yh));
          }
          std::printf("   %.3f (%.3f)  ", mean_of(taus), sd_of(taus));
        }
        std::printf("\n");
      }
    }
  }

  // --- policy seconds per iteration against the number of evaluated points ------------------
  if (sections.find("scaling") != std::string::npos) {
    std::printf(
        "\npolicy seconds per ask(1) against evaluated points (reference BOSHNAS: ~10 s at 15-50 "
        "points):\n"
        "%-22s %10s %10s %10s %10s %10s\n",
        "policy", "10", "25", "50", "100", "200");
    for (const std::string spec :
         {"boshnas", "sa-nsga2", "evolution:population=20,sample=5", "random"}) {
      SearchDomain domain = base;
      PolicyContext ctx{&domain, {Objective::parse("sst2_accuracy:max")}, {}, 3};
      auto policy = registry.create(spec, ctx);
      std::printf("%-22s", spec.substr(0, spec.find(':')).c_str());
      std::int64_t id = 0;
      for (std::size_t point : {10, 25, 50, 100, 200}) {
        // Fill up to `point` evaluations, then time one ask.
        while (static_cast<std::size_t>(id) < point) {
          const auto asked = policy->ask(1);
          Trial t;
          t.id = id++;
          t.arch = asked.at(0);
          t.hash = domain.key(t.arch);
          t.state = TrialState::kOk;
          t.values["sst2_accuracy"] = table.at(t.hash);
          policy->tell({t});
        }
        const auto a0 = Clock::now();
        const auto asked = policy->ask(1);
        const double sec = std::chrono::duration<double>(Clock::now() - a0).count();
        Trial t;
        t.id = id++;
        t.arch = asked.at(0);
        t.hash = domain.key(t.arch);
        t.state = TrialState::kOk;
        t.values["sst2_accuracy"] = table.at(t.hash);
        policy->tell({t});
        std::printf(" %10.4f", sec);
      }
      std::printf("\n");
    }
  }
  return 0;
}
