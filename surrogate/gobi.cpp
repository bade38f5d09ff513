#include "surrogate/gobi.hpp"

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

StartResult run_start(const ScalarFunction& f, const Eigen::RowVectorXd& lo,
                      const Eigen::RowVectorXd& hi, Eigen::RowVectorXd x, const GobiOptions& opt,
                      int start, std::mt19937_64& rng) {
  const Eigen::Index id = start;
  const Eigen::Index d = x.size();
  x = x.cwiseMax(lo).cwiseMin(hi);
  Eigen::MatrixXd g;
  double z = f.evaluate(x, &g, id)[0];
  StartResult best{x, z, 0, false};
  Eigen::RowVectorXd m = Eigen::RowVectorXd::Zero(d), v = m;
  int calm = 0;
  for (int t = 1; t <= opt.max_steps; ++t) {
    const Eigen::RowVectorXd grad = g.row(0);
    Eigen::RowVectorXd step;
    switch (opt.method) {
      case GobiMethod::kGradientDescent:
        step = opt.lr * grad;
        break;
      case GobiMethod::kAdam:
      case GobiMethod::kAdaHessian: {
        Eigen::RowVectorXd second = grad.cwiseAbs2();
        if (opt.method == GobiMethod::kAdaHessian) {
          // Hutchinson: E[z * (H z)] = diag(H) for Rademacher z.
          Eigen::RowVectorXd diag = Eigen::RowVectorXd::Zero(d);
          Eigen::MatrixXd z_vec(1, d);
          for (int s = 0; s < opt.hutchinson_samples; ++s) {
            for (Eigen::Index j = 0; j < d; ++j) z_vec(0, j) = (rng() & 1) ? 1.0 : -1.0;
            diag += z_vec.row(0).cwiseProduct(f.hvp(x, z_vec, id).row(0));
          }
          second = (diag / opt.hutchinson_samples).cwiseAbs2();
        }
        m = opt.beta1 * m + (1 - opt.beta1) * grad;
        v = opt.beta2 * v + (1 - opt.beta2) * second;
        const double c1 = 1 - std::pow(opt.beta1, t), c2 = 1 - std::pow(opt.beta2, t);
        const double power = opt.method == GobiMethod::kAdaHessian ? opt.hessian_power : 1.0;
        const Eigen::ArrayXXd denom = (v.array() / c2).sqrt().pow(power) + opt.eps;
        step = (opt.lr * (m.array() / c1) / denom).matrix();
        break;
      }
    }
    x = (x - step).cwiseMax(lo).cwiseMin(hi);
    const double z_new = f.evaluate(x, &g, id)[0];
    best.steps = t;
    if (z_new < best.value) {
      best.value = z_new;
      best.x = x;
    }
    calm = std::abs(z_new - z) < opt.tolerance ? calm + 1 : 0;
    z = z_new;
    if (opt.on_step && opt.on_step(start, t, z)) break;
    if (calm >= opt.patience) {
      best.converged = true;
      break;
    }
  }
  return best;
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

  const Eigen::RowVectorXd lo_r = lo.transpose(), hi_r = hi.transpose();
  std::vector<StartResult> results(static_cast<std::size_t>(k));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(k));
  tbb::parallel_for(0, k, [&](int s) {
    const auto si = static_cast<std::size_t>(s);
    try {
      std::mt19937_64 rng(detail::mix_seed(opt.seed, si));
      Eigen::RowVectorXd x0(d);
      if (starts.rows() > 0) {
        x0 = starts.row(s);
      } else {
        std::uniform_real_distribution<double> u(0, 1);
        for (int j = 0; j < d; ++j) x0[j] = lo_r[j] + u(rng) * (hi_r[j] - lo_r[j]);
      }
      results[si] = run_start(f, lo_r, hi_r, x0, opt, s, rng);
    } catch (...) {
      errors[si] = std::current_exception();  // carried to the caller below
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
