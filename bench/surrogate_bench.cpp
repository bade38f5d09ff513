// Surrogate benchmark: one BOSHNAS iteration = fit teacher, student and NPN on n points of a
// 16-d embedding, then GOBI (AdaHessian on UCB) from 10 library points. Prints wall times
// for n = 15, 50, 200, the ratio to the reference BOSHNAS (~10 s per iteration at 15
// points, recorded on our machine: it trains one sample at a time), held-out error, and the
// GP baseline. Wall times are medians; cpu_ms is the process CPU time of fit + GOBI summed
// over threads (what the work costs when the machine is shared). `--quick`: fewer repeats.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include <tbb/info.h>

#include "surrogate/acquisition.hpp"
#include "surrogate/boshnas.hpp"
#include "surrogate/gobi.hpp"
#include "surrogate/gp.hpp"

using namespace flexnas;

namespace {

constexpr double kReferenceSeconds = 10.0;  // reference BOSHNAS, one iteration at 15 points
constexpr int kDim = 16;

Eigen::MatrixXd uniform_points(std::uint64_t seed, Eigen::Index n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Eigen::MatrixXd x(n, kDim);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < kDim; ++j) x(i, j) = u(rng);
  return x;
}

// A smooth loss over the embedding box with interactions and a bowl.
Eigen::VectorXd loss(const Eigen::MatrixXd& x) {
  Eigen::VectorXd y(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    y[i] = 0.4 + 0.3 * std::sin(2 * x(i, 0)) * std::cos(x(i, 1)) +
           0.2 * x.row(i).squaredNorm() / kDim + 0.1 * x(i, 2) * x(i, 3);
  return y;
}

template <typename F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  double fit = 0, gobi = 0, cpu = 0, rmse = 0, steps = 0;
};

Row run(Surrogate& s, const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
        const Eigen::MatrixXd& held, const Eigen::VectorXd& y_held, int repeats) {
  std::vector<double> fit, gobi, cpu;
  const Eigen::VectorXd lo = Eigen::VectorXd::Constant(kDim, -1);
  const Eigen::VectorXd hi = Eigen::VectorXd::Constant(kDim, 1);
  UpperConfidenceBound ucb(0.5);
  Row row;
  for (int r = 0; r < repeats; ++r) {
    const std::clock_t c0 = std::clock();
    fit.push_back(seconds([&] { s.fit(x, y); }));
    // GOBI from 10 random library points (rows of x), as in the reference.
    std::mt19937_64 rng(static_cast<std::uint64_t>(r));
    Eigen::MatrixXd starts(10, kDim);
    for (int k = 0; k < 10; ++k)
      starts.row(k) = x.row(std::uniform_int_distribution<Eigen::Index>(0, x.rows() - 1)(rng));
    const AcquisitionFunction f(s, ucb);
    GobiResult g;
    gobi.push_back(seconds([&] { g = gobi_minimise(f, lo, hi, starts); }));
    cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    row.steps = 0;
    for (int st : g.steps) row.steps += st / 10.0;
  }
  const Eigen::VectorXd p = s.predict(held).mean;
  const double sd = std::sqrt((y_held.array() - y_held.mean()).square().mean());
  row.rmse = std::sqrt((p - y_held).squaredNorm() / static_cast<double>(held.rows())) / sd;
  row.fit = median(fit);
  row.gobi = median(gobi);
  row.cpu = median(cpu);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int repeats = quick ? 3 : 9;
  std::printf("surrogate_bench: d = %d, %d threads, median of %d runs, wall times\n", kDim,
              tbb::info::default_concurrency(), repeats);
  std::printf("reference BOSHNAS: ~%.0f s per iteration at n = 15 (recorded)\n\n",
              kReferenceSeconds);
  std::printf("%-8s %5s %8s %8s %9s %8s %11s %9s %8s\n", "model", "n", "fit_ms", "gobi_ms",
              "total_ms", "cpu_ms", "gobi_steps", "x_faster", "rmse/sd");
  const Eigen::MatrixXd held = uniform_points(99, 500);
  const Eigen::VectorXd y_held = loss(held);
  for (int n : {15, 50, 200}) {
    const Eigen::MatrixXd x = uniform_points(static_cast<std::uint64_t>(n), n);
    const Eigen::VectorXd y = loss(x);
    BoshnasSurrogate boshnas;
    GpSurrogate gp;
    for (Surrogate* s : std::vector<Surrogate*>{&boshnas, &gp}) {
      const Row r = run(*s, x, y, held, y_held, repeats);
      const double total = r.fit + r.gobi;
      std::printf("%-8s %5d %8.1f %8.1f %9.1f %8.1f %11.1f %9.0f %8.3f\n", s->name().c_str(), n,
                  1e3 * r.fit, 1e3 * r.gobi, 1e3 * total, 1e3 * r.cpu, r.steps,
                  kReferenceSeconds / total, r.rmse);
    }
  }
  std::printf(
      "\nx_faster: %.0f s / total_ms. gobi_steps: mean steps per start (max 200). "
      "rmse/sd: held-out error of the mean over the spread of the loss (500 points).\n",
      kReferenceSeconds);
  return 0;
}
