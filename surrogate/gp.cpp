#include "surrogate/gp.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>

#include <tbb/parallel_for.h>

#include "surrogate/error.hpp"

namespace flexnas {

namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// kappa(r^2) and g(r^2) = -2 d kappa / d(r^2), so that d k / d x_j = -sf2 g delta_j / l_j^2 and
// d k / d log l_j = sf2 g delta_j^2 / l_j^2.
struct KernelValue {
  double k, g;
};

KernelValue kernel_value(GpKernel kernel, double r2) {
  if (kernel == GpKernel::kRbf) {
    const double e = std::exp(-0.5 * r2);
    return {e, e};
  }
  const double r = std::sqrt(r2), s5r = std::sqrt(5.0) * r, e = std::exp(-s5r);
  return {(1 + s5r + 5.0 / 3.0 * r2) * e, 5.0 / 3.0 * (1 + s5r) * e};
}

// Squared scaled distances between rows of a (n x d) and b (m x d), inverse squared
// lengthscales per column (one value broadcast when isotropic).
MatrixXd scaled_sq_dist(const MatrixXd& a, const MatrixXd& b, const VectorXd& inv_l2) {
  const MatrixXd as = a.array().rowwise() * inv_l2.transpose().array().sqrt();
  const MatrixXd bs = b.array().rowwise() * inv_l2.transpose().array().sqrt();
  MatrixXd d = (-2 * as * bs.transpose()).colwise() + as.rowwise().squaredNorm();
  d.rowwise() += bs.rowwise().squaredNorm().transpose();
  return d.cwiseMax(0.0);
}

VectorXd inv_sq_lengthscales(const VectorXd& log_l, Index d) {
  const VectorXd v = (-2 * log_l.array()).exp().matrix();
  return v.size() == d ? v : VectorXd::Constant(d, v[0]);
}

double sigmoid(double z) {
  return 1 / (1 + std::exp(-z));
}

}  // namespace

namespace detail {

double gp_log_marginal_likelihood(GpKernel kernel, const Eigen::MatrixXd& x,
                                  const Eigen::VectorXd& y, const Eigen::VectorXd& log_params,
                                  Eigen::VectorXd* grad) {
  const Index n = x.rows(), d = x.cols(), nl = log_params.size() - 2;
  const VectorXd inv_l2 = inv_sq_lengthscales(log_params.head(nl), d);
  const double sf2 = std::exp(log_params[nl]), sn2 = std::exp(log_params[nl + 1]);
  const MatrixXd r2 = scaled_sq_dist(x, x, inv_l2);
  MatrixXd kf(n, n), g(n, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < n; ++i) {
      const KernelValue kv = kernel_value(kernel, r2(i, j));
      kf(i, j) = sf2 * kv.k;
      g(i, j) = sf2 * kv.g;
    }
  MatrixXd k = kf;
  k.diagonal().array() += sn2;
  const Eigen::LLT<MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) return -std::numeric_limits<double>::infinity();
  const VectorXd alpha = llt.solve(y);
  const double log_det = 2 * llt.matrixLLT().diagonal().array().log().sum();
  const double lml = -0.5 * y.dot(alpha) - 0.5 * log_det -
                     0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
  if (grad) {
    // d lml / d theta = 0.5 tr((alpha alpha^T - K^-1) dK / d theta)
    MatrixXd w = -llt.solve(MatrixXd::Identity(n, n));
    w.noalias() += alpha * alpha.transpose();
    grad->resize(log_params.size());
    if (nl == 1) {
      (*grad)[0] = 0.5 * (w.array() * g.array() * r2.array()).sum();
    } else {
      for (Index j = 0; j < d; ++j) {
        const VectorXd c = x.col(j);
        const MatrixXd delta2 =
            (c.replicate(1, n) - c.transpose().replicate(n, 1)).array().square();
        (*grad)[j] = 0.5 * inv_l2[j] * (w.array() * g.array() * delta2.array()).sum();
      }
    }
    (*grad)[nl] = 0.5 * (w.array() * kf.array()).sum();
    (*grad)[nl + 1] = 0.5 * sn2 * w.trace();
  }
  return lml;
}

Eigen::VectorXd minimise_bfgs(
    const std::function<double(const Eigen::VectorXd&, Eigen::VectorXd&)>& f, Eigen::VectorXd u,
    int max_iterations, double* best_value) {
  const Index p = u.size();
  VectorXd g(p), g_new(p);
  double fu = f(u, g);
  if (!std::isfinite(fu)) throw SurrogateError("gp: log marginal likelihood not finite at start");
  MatrixXd h = MatrixXd::Identity(p, p);  // inverse Hessian estimate
  for (int it = 0; it < max_iterations && g.lpNorm<Eigen::Infinity>() > 1e-6; ++it) {
    VectorXd dir = -h * g;
    if (dir.dot(g) >= 0) {  // not a descent direction: restart from steepest descent
      h.setIdentity();
      dir = -g;
    }
    double step = 1, f_new = 0;
    VectorXd u_new;
    bool accepted = false;
    for (int k = 0; k < 40; ++k, step *= 0.5) {
      u_new = u + step * dir;
      f_new = f(u_new, g_new);
      if (std::isfinite(f_new) && f_new <= fu + 1e-4 * step * dir.dot(g)) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    const VectorXd s = u_new - u, yv = g_new - g;
    const double sy = s.dot(yv);
    if (it == 0 && sy > 0) h *= sy / yv.squaredNorm();
    if (sy > 1e-12) {
      const double rho = 1 / sy;
      const MatrixXd a = MatrixXd::Identity(p, p) - rho * s * yv.transpose();
      h = a * h * a.transpose() + rho * s * s.transpose();
    }
    const double change = fu - f_new;
    u = u_new;
    g = g_new;
    fu = f_new;
    if (change < 1e-10 * (1 + std::abs(fu))) break;
  }
  if (best_value) *best_value = fu;
  return u;
}

}  // namespace detail

GpSurrogate::GpSurrogate(const GpOptions& opt) : opt_(opt) {
  if (opt.restarts < 1 || opt.max_iterations < 0)
    throw SurrogateError("gp: restarts must be >= 1 and max_iterations >= 0");
  if (!(opt.lengthscale_lo > 0 && opt.lengthscale_lo < opt.lengthscale_hi) ||
      !(opt.signal_lo > 0 && opt.signal_lo < opt.signal_hi) ||
      !(opt.noise_lo > 0 && opt.noise_lo < opt.noise_hi))
    throw SurrogateError("gp: every hyperparameter bound needs 0 < lo < hi");
}

FitReport GpSurrogate::fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  check_training_data("gp", x, y);
  in_.fit(x);
  x_ = in_.apply(x);
  y_mean_ = y.mean();
  const double var = (y.array() - y_mean_).square().mean();
  y_std_ = var > 1e-24 ? std::sqrt(var) : 1;
  const VectorXd ys = (y.array() - y_mean_) / y_std_;
  const Index d = x.cols(), nl = opt_.ard ? d : 1, p = nl + 2;
  // theta = lo + (hi - lo) sigmoid(u) on log scales: BFGS runs unconstrained in u.
  VectorXd lo(p), hi(p);
  lo.head(nl).setConstant(std::log(opt_.lengthscale_lo));
  hi.head(nl).setConstant(std::log(opt_.lengthscale_hi));
  lo[nl] = std::log(opt_.signal_lo);
  hi[nl] = std::log(opt_.signal_hi);
  lo[nl + 1] = std::log(opt_.noise_lo);
  hi[nl + 1] = std::log(opt_.noise_hi);
  auto theta = [&](const VectorXd& u) {
    VectorXd t(p);
    for (Index i = 0; i < p; ++i) t[i] = lo[i] + (hi[i] - lo[i]) * sigmoid(u[i]);
    return t;
  };
  auto objective = [&](const VectorXd& u, VectorXd& gu) {
    VectorXd gt;
    const double lml = detail::gp_log_marginal_likelihood(opt_.kernel, x_, ys, theta(u), &gt);
    if (!std::isfinite(lml)) return std::numeric_limits<double>::infinity();
    gu.resize(p);
    for (Index i = 0; i < p; ++i) {
      const double s = sigmoid(u[i]);
      gu[i] = -gt[i] * (hi[i] - lo[i]) * s * (1 - s);
    }
    return -lml;
  };
  std::vector<VectorXd> best_u(static_cast<std::size_t>(opt_.restarts));
  std::vector<double> best_f(best_u.size());
  tbb::parallel_for(0, opt_.restarts, [&](int r) {
    VectorXd u0 = VectorXd::Zero(p);
    if (r > 0) {
      std::mt19937_64 rng(detail::mix_seed(opt_.seed, static_cast<std::uint64_t>(r)));
      std::uniform_real_distribution<double> un(-2.5, 2.5);
      for (Index i = 0; i < p; ++i) u0[i] = un(rng);
    }
    const auto ri = static_cast<std::size_t>(r);
    best_f[ri] = std::numeric_limits<double>::infinity();
    try {
      best_u[ri] = detail::minimise_bfgs(objective, u0, opt_.max_iterations, &best_f[ri]);
    } catch (const SurrogateError&) {
      // A start where the kernel matrix is singular: leave this restart out.
    }
  });
  std::size_t best = 0;
  for (std::size_t r = 1; r < best_f.size(); ++r)
    if (best_f[r] < best_f[best]) best = r;
  if (!std::isfinite(best_f[best]))
    return {FitStatus::kDiverged, "gp: no restart gave a positive-definite kernel matrix", {}};
  const VectorXd t = theta(best_u[best]);
  lengthscales_ = t.head(nl).array().exp();
  signal_ = std::exp(t[nl]);
  noise_ = std::exp(t[nl + 1]);
  lml_ = -best_f[best];
  const VectorXd inv_l2 = inv_sq_lengthscales(t.head(nl), d);
  const MatrixXd r2 = scaled_sq_dist(x_, x_, inv_l2);
  MatrixXd k = r2.unaryExpr([&](double v) { return signal_ * kernel_value(opt_.kernel, v).k; });
  k.diagonal().array() += noise_;
  llt_.compute(k);
  alpha_ = llt_.solve(ys);
  FitReport report;
  report.losses["gp_negative_lml"] = -lml_;
  return report;
}

Prediction GpSurrogate::predict(const Eigen::MatrixXd& x, PredictionGradient* grad) const {
  check_query("gp", dim(), x);
  const MatrixXd xs = in_.apply(x);
  const Index m = x.rows(), n = x_.rows(), d = x.cols();
  const VectorXd inv_l2 = lengthscales_.size() == d
                              ? VectorXd(lengthscales_.array().square().inverse())
                              : VectorXd::Constant(d, 1 / (lengthscales_[0] * lengthscales_[0]));
  const MatrixXd r2 = scaled_sq_dist(xs, x_, inv_l2);  // m x n
  MatrixXd ks(m, n), gs(m, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m; ++i) {
      const KernelValue kv = kernel_value(opt_.kernel, r2(i, j));
      ks(i, j) = signal_ * kv.k;
      gs(i, j) = signal_ * kv.g;
    }
  const MatrixXd v = llt_.matrixL().solve(ks.transpose());  // n x m
  const VectorXd var = (signal_ - v.colwise().squaredNorm().transpose().array()).cwiseMax(0.0);
  const VectorXd sd = var.cwiseSqrt();
  Prediction p;
  p.mean = ((ks * alpha_).array() * y_std_ + y_mean_).matrix();
  p.epistemic = sd * y_std_;
  p.aleatoric = VectorXd::Constant(m, std::sqrt(noise_) * y_std_);
  if (grad) {
    // d k(x, x_i) / dx = -g_i (x - x_i) / l^2: d mean = sum_i alpha_i dk_i,
    // d var = -2 sum_i w_i dk_i with w = K^-1 k(x).
    const MatrixXd w = llt_.matrixU().solve(v);  // n x m
    grad->mean.resize(m, d);
    grad->epistemic.resize(m, d);
    for (Index i = 0; i < m; ++i) {
      const VectorXd ca = -gs.row(i).transpose().cwiseProduct(alpha_);
      const VectorXd cw = -gs.row(i).transpose().cwiseProduct(w.col(i));
      const Eigen::RowVectorXd xi = xs.row(i);
      // sum_k c_k (x - x_k) = (sum c) x - c^T X
      Eigen::RowVectorXd dm = ca.sum() * xi - ca.transpose() * x_;
      Eigen::RowVectorXd dv = -2 * (cw.sum() * xi - cw.transpose() * x_);
      dm.array() *= inv_l2.transpose().array();
      dv.array() *= inv_l2.transpose().array();
      grad->mean.row(i) = dm * y_std_;
      grad->epistemic.row(i) = sd[i] > 1e-12 ? Eigen::RowVectorXd(dv / (2 * sd[i]) * y_std_)
                                             : Eigen::RowVectorXd::Zero(d);
    }
    grad->mean = in_.chain(grad->mean);
    grad->epistemic = in_.chain(grad->epistemic);
    grad->aleatoric = MatrixXd::Zero(m, d);
  }
  return p;
}

std::map<std::string, std::string> GpSurrogate::options() const {
  return {{"seed", std::to_string(opt_.seed)},
          {"kernel", opt_.kernel == GpKernel::kRbf ? "rbf" : "matern52"},
          {"ard", opt_.ard ? "true" : "false"},
          {"restarts", std::to_string(opt_.restarts)},
          {"max_iterations", std::to_string(opt_.max_iterations)}};
}

}  // namespace flexnas
