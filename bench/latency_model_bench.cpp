// Latency-model benchmark on HAT's measured sub-transformers (../shared/data/hat/:
// WMT14 en-de on a Xeon CPU and a TITAN Xp GPU, 2,000 each; target
// latency_mean_encoder + latency_mean_decoder). For every seed: a 10 % test split, the
// CV-selected model of each kind (ridge, mlp, gbt) refit on the training rows, the model
// `flexnas latency fit` selects, and the linear least-squares baseline on the same split.
// Prints test MAPE / RMSE per seed and the mean, with ratios against the baseline.
// Usage: latency_model_bench [--seeds N] [--quick]   (--quick: ridge grid only, 2 seeds)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "evaluators/latency_model.hpp"

using namespace flexnas::latency;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int seeds = 5;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc)
      seeds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick"))
      quick = true;
  }
  if (quick) seeds = std::min(seeds, 2);
  const std::string dir = std::string(FLEXNAS_SHARED_DATA) + "/hat/";
  const std::vector<std::string> files = {"wmt14ende_cpu_xeon_all.csv",
                                          "wmt14ende_gpu_titanxp_all.csv"};
  const std::map<std::string, double> hat_mlp = {{files[0], 5.18}, {files[1], 5.50}};
  const std::vector<std::string> targets = {"latency_mean_encoder", "latency_mean_decoder"};
  for (const auto& f : files) {
    if (!std::filesystem::exists(dir + f)) {
      std::printf("skipped: %s is absent\n", (dir + f).c_str());
      continue;
    }
    const Table t = read_csv(dir + f);
    const auto features = default_features(t, targets);
    const Eigen::MatrixXd x = t.matrix(features);
    const Eigen::VectorXd y = t.matrix(targets).rowwise().sum();
    std::printf("\n%s (%zu rows; HAT's MLP: %.2f %% test MAPE)\n", f.c_str(), t.rows(),
                hat_mlp.at(f));
    std::printf("%-6s %-10s %9s %9s %8s  %s\n", "seed", "model", "MAPE %", "RMSE ms", "vs lin",
                "configuration");
    std::map<std::string, double> sum_mape, sum_rmse;
    for (int s = 0; s < seeds; ++s) {
      FitOptions o;
      o.seed = static_cast<std::uint64_t>(s);
      if (quick) o.grid = ridge_grid();
      const auto t0 = Clock::now();
      const auto rep = fit(t, targets, features, o);
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      const auto [train, test] = split_rows(t.rows(), o.test_fraction, o.seed);
      const auto xtr = take_rows(x, train), xte = take_rows(x, test);
      const auto ytr = take_rows(y, train), yte = take_rows(y, test);
      auto row = [&](const std::string& name, double m, double r, const std::string& what) {
        std::printf("%-6d %-10s %9.3f %9.3f %8.3f  %s\n", s, name.c_str(), m, r,
                    m / rep.baseline_mape, what.c_str());
        sum_mape[name] += m;
        sum_rmse[name] += r;
      };
      row("linear", rep.baseline_mape, rep.baseline_rmse, "ordinary least squares, raw target");
      for (auto kind : {ModelKind::kRidge, ModelKind::kMlp, ModelKind::kGbt}) {
        const CvScore* best = nullptr;
        for (const auto& c : rep.cv)
          if (c.config.kind == kind && (!best || c.mape < best->mape)) best = &c;
        if (!best) continue;
        const auto m = LatencyModel::train(xtr, ytr, best->config, 7);
        const auto p = m.predict(xte);
        row(to_string(kind), mape(yte, p), rmse(yte, p),
            best->config.label() + " (CV " + std::to_string(best->mape).substr(0, 5) + ")");
      }
      row("selected", rep.test_mape, rep.test_rmse,
          rep.model.config().label() + " (fit " + std::to_string(secs).substr(0, 5) + " s)");
    }
    std::printf("mean over %d seeds:\n", seeds);
    for (const auto& [name, m] : sum_mape)
      std::printf("  %-10s MAPE %6.3f %%  RMSE %8.3f ms  MAPE / linear %.3f\n", name.c_str(),
                  m / seeds, sum_rmse[name] / seeds, m / sum_mape["linear"]);
  }
  return 0;
}
