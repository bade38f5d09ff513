#include "surrogate/gobi.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <random>
#include <string>

#include <tbb/parallel_for.h>

#include "surrogate/error.hpp"
#include "surrogate/scaling.hpp"

namespace flexnas {

namespace {

struct StartResult {
  Eigen::RowVectorXd x;
  double value = 0;
  int steps = 0;
  bool converged = false;
};

// Runs starts [first, first + x.rows()) together: row i is start first + i. A finished row
// stays in the batch unchanged (keeping rows and ids fixed) until every row is done.
void run_task(const ScalarFunction& f, const Eigen::RowVectorXd& lo, const Eigen::RowVectorXd& hi,
              Eigen::MatrixXd x, const GobiOptions& opt, int first,
              std::vector<std::mt19937_64>& rngs, StartResult* out) {
  const Eigen::Index rows = x.rows(), d = x.cols();
  for (Eigen::Index i = 0; i < rows; ++i) x.row(i) = x.row(i).cwiseMax(lo).cwiseMin(hi);
  Eigen::MatrixXd g;
  Eigen::VectorXd z = f.evaluate(x, &g, first);
  for (Eigen::Index i = 0; i < rows; ++i) out[i] = {x.row(i), z[i], 0, false};
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(rows, d), v = m, probe(rows, d);
  std::vector<int> calm(static_cast<std::size_t>(rows), 0);
  std::vector<char> active(static_cast<std::size_t>(rows), 1);
  Eigen::Index left = rows;
  for (int t = 1; t <= opt.max_steps && left > 0; ++t) {
    Eigen::MatrixXd second = g.cwiseAbs2();
    if (opt.method == GobiMethod::kAdaHessian) {
      // Hutchinson: E[z * (H z)] = diag(H) for Rademacher z.
      Eigen::MatrixXd diag = Eigen::MatrixXd::Zero(rows, d);
      for (int s = 0; s < opt.hutchinson_samples; ++s) {
        for (Eigen::Index i = 0; i < rows; ++i)
          for (Eigen::Index j = 0; j < d; ++j)
            probe(i, j) = active[static_cast<std::size_t>(i)]
                              ? ((rngs[static_cast<std::size_t>(i)]() & 1) ? 1.0 : -1.0)
                              : 0.0;
        diag += probe.cwiseProduct(f.hvp_at(x, g, probe, first));
      }
      second = (diag / opt.hutchinson_samples).cwiseAbs2();
    }
    const double c1 = 1 - std::pow(opt.beta1, t), c2 = 1 - std::pow(opt.beta2, t);
    const double power = opt.method == GobiMethod::kAdaHessian ? opt.hessian_power : 1.0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      if (!active[static_cast<std::size_t>(i)]) continue;
      Eigen::RowVectorXd step;
      if (opt.method == GobiMethod::kGradientDescent) {
        step = opt.lr * g.row(i);
      } else {
        m.row(i) = opt.beta1 * m.row(i) + (1 - opt.beta1) * g.row(i);
        v.row(i) = opt.beta2 * v.row(i) + (1 - opt.beta2) * second.row(i);
        const Eigen::ArrayXXd denom = (v.row(i).array() / c2).sqrt().pow(power) + opt.eps;
        step = (opt.lr * (m.row(i).array() / c1) / denom).matrix();
      }
      x.row(i) = (x.row(i) - step).cwiseMax(lo).cwiseMin(hi);
    }
    const Eigen::VectorXd z_new = f.evaluate(x, &g, first);
    for (Eigen::Index i = 0; i < rows; ++i) {
      const auto si = static_cast<std::size_t>(i);
      if (!active[si]) continue;
      StartResult& r = out[i];
      r.steps = t;
      if (z_new[i] < r.value) {
        r.value = z_new[i];
        r.x = x.row(i);
      }
      calm[si] = std::abs(z_new[i] - z[i]) < opt.tolerance ? calm[si] + 1 : 0;
      const bool stop = opt.on_step && opt.on_step(first + static_cast<int>(i), t, z_new[i]);
      if (calm[si] >= opt.patience) r.converged = true;
      if (stop || r.converged) {
        active[si] = 0;
        --left;
      }
    }
    z = z_new;
  }
}

}  // namespace

GobiResult gobi_minimise(const ScalarFunction& f, const Eigen::VectorXd& lo,
                         const Eigen::VectorXd& hi, const Eigen::MatrixXd& starts,
                         const GobiOptions& opt) {
  const int d = f.dim();
  if (lo.size() != d || hi.size() != d)
    throw SurrogateError("gobi: bounds have " + std::to_string(lo.size()) + " and " +
                         std::to_string(hi.size()) + " entries, the function has dimension " +
                         std::to_string(d));
  if (!lo.allFinite() || !hi.allFinite() || (lo.array() > hi.array()).any())
    throw SurrogateError("gobi: bounds must be finite with lo <= hi");
  if (starts.rows() > 0 && starts.cols() != d)
    throw SurrogateError("gobi: starts have " + std::to_string(starts.cols()) +
                         " columns, expected " + std::to_string(d));
  if (!(opt.lr > 0) || opt.max_steps < 0 || opt.patience < 1 || !(opt.tolerance >= 0) ||
      opt.hutchinson_samples < 1 || !(opt.eps > 0) || !(opt.beta1 >= 0 && opt.beta1 < 1) ||
      !(opt.beta2 >= 0 && opt.beta2 < 1) || !(opt.hessian_power > 0 && opt.hessian_power <= 1))
    throw SurrogateError(
        "gobi: options need lr > 0, max_steps >= 0, patience >= 1, tolerance >= 0, "
        "hutchinson_samples >= 1, eps > 0, beta1 and beta2 in [0, 1), hessian_power in (0, 1]");
  const int k = starts.rows() > 0 ? static_cast<int>(starts.rows()) : opt.random_starts;
  if (k < 1) throw SurrogateError("gobi: no starts (random_starts < 1 and no rows given)");

  if (opt.starts_per_task < 1) throw SurrogateError("gobi: starts_per_task must be >= 1");
  const Eigen::RowVectorXd lo_r = lo.transpose(), hi_r = hi.transpose();
  // Per start: its random stream, then its starting point from it.
  std::vector<std::mt19937_64> rngs;
  Eigen::MatrixXd x0(k, d);
  for (int s = 0; s < k; ++s) {
    rngs.emplace_back(detail::mix_seed(opt.seed, static_cast<std::uint64_t>(s)));
    if (starts.rows() > 0) {
      x0.row(s) = starts.row(s);
    } else {
      std::uniform_real_distribution<double> u(0, 1);
      for (int j = 0; j < d; ++j) x0(s, j) = lo_r[j] + u(rngs.back()) * (hi_r[j] - lo_r[j]);
    }
  }
  std::vector<StartResult> results(static_cast<std::size_t>(k));
  const int tasks = (k + opt.starts_per_task - 1) / opt.starts_per_task;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(tasks));
  tbb::parallel_for(0, tasks, [&](int task) {
    const int first = task * opt.starts_per_task;
    const int count = std::min(opt.starts_per_task, k - first);
    try {
      std::vector<std::mt19937_64> task_rngs(rngs.begin() + first, rngs.begin() + first + count);
      run_task(f, lo_r, hi_r, x0.middleRows(first, count), opt, first, task_rngs,
               results.data() + first);
    } catch (...) {
      errors[static_cast<std::size_t>(task)] = std::current_exception();  // rethrown below
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);

  GobiResult out;
  out.x.resize(k, d);
  out.value.resize(k);
  for (int s = 0; s < k; ++s) {
    const StartResult& r = results[static_cast<std::size_t>(s)];
    out.x.row(s) = r.x;
    out.value[s] = r.value;
    out.steps.push_back(r.steps);
    out.converged.push_back(r.converged);
    if (r.value < out.value[out.best]) out.best = s;
  }
  return out;
}

}  // namespace flexnas
