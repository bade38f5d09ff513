#include "surrogate/train.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "surrogate/error.hpp"

namespace flexnas::nn {

AdamW::AdamW(Eigen::Index num_params, const AdamWOptions& opt)
    : opt_(opt), m_(Eigen::VectorXd::Zero(num_params)), v_(Eigen::VectorXd::Zero(num_params)) {
  if (!(opt.beta1 >= 0 && opt.beta1 < 1) || !(opt.beta2 >= 0 && opt.beta2 < 1))
    throw SurrogateError("adamw: beta1 " + std::to_string(opt.beta1) + " and beta2 " +
                         std::to_string(opt.beta2) + " must be in [0, 1)");
  if (!(opt.eps > 0) || !(opt.weight_decay >= 0))
    throw SurrogateError("adamw: eps must be > 0 and weight_decay >= 0");
}

void AdamW::step(Eigen::VectorXd& params, const Eigen::VectorXd& grad, double lr,
                 const Eigen::VectorXd& decay_mask) {
  ++t_;
  const double c1 = 1 / (1 - std::pow(opt_.beta1, t_));
  const double c2 = 1 / (1 - std::pow(opt_.beta2, t_));
  const bool masked = decay_mask.size() == params.size();
  const double decay = lr * opt_.weight_decay;
  // One fused pass: this runs once per mini-batch on every parameter.
  for (Eigen::Index i = 0; i < params.size(); ++i) {
    const double g = grad[i];
    m_[i] = opt_.beta1 * m_[i] + (1 - opt_.beta1) * g;
    v_[i] = opt_.beta2 * v_[i] + (1 - opt_.beta2) * g * g;
    params[i] -= decay * (masked ? decay_mask[i] : 1.0) * params[i] +
                 lr * (m_[i] * c1) / (std::sqrt(v_[i] * c2) + opt_.eps);
  }
}

double LrSchedule::at(int t, int total) const {
  if (warmup_steps > 0 && t < warmup_steps) return lr * (t + 1) / warmup_steps;
  if (shape == LrShape::kConstant) return lr;
  const int span = std::max(1, total - warmup_steps - 1);
  const double progress = std::clamp(static_cast<double>(t - warmup_steps) / span, 0.0, 1.0);
  const double floor = final_ratio * lr;
  return floor + (lr - floor) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
}

Eigen::MatrixXd gather_rows(const Eigen::MatrixXd& m, const std::vector<Eigen::Index>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.row(static_cast<Eigen::Index>(i)) = m.row(rows[i]);
  return out;
}

Eigen::VectorXd gather(const Eigen::VectorXd& v, const std::vector<Eigen::Index>& rows) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) out[static_cast<Eigen::Index>(i)] = v[rows[i]];
  return out;
}

TrainReport train_minibatch(Eigen::VectorXd& params, const Eigen::VectorXd& decay_mask,
                            Eigen::Index n, const BatchLoss& loss, const TrainOptions& opt,
                            Rng& rng) {
  if (n < 1) throw SurrogateError("train: no training rows");
  if (opt.steps < 0) throw SurrogateError("train: steps " + std::to_string(opt.steps) + " < 0");
  if (opt.batch_size < 1)
    throw SurrogateError("train: batch_size " + std::to_string(opt.batch_size) + " < 1");
  if (!(opt.schedule.lr > 0) || !(opt.schedule.final_ratio > 0) || opt.schedule.final_ratio > 1 ||
      opt.schedule.warmup_steps < 0)
    throw SurrogateError("train: schedule needs lr > 0, final_ratio in (0, 1], warmup_steps >= 0");
  AdamW adam(params.size(), opt.adamw);
  const Eigen::Index batch = std::min<Eigen::Index>(opt.batch_size, n);
  const Eigen::Index per_epoch = (n + batch - 1) / batch;
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::vector<Eigen::Index> rows;
  Eigen::VectorXd grad(params.size());
  std::vector<double> recent;  // losses of the last epoch's worth of steps
  TrainReport report;
  Eigen::Index pos = n;  // forces a shuffle before the first batch
  for (int t = 0; t < opt.steps; ++t) {
    if (pos >= n) {
      std::shuffle(order.begin(), order.end(), rng);
      pos = 0;
    }
    const Eigen::Index end = std::min(n, pos + batch);
    rows.assign(order.begin() + pos, order.begin() + end);
    pos = end;
    grad.setZero();
    const double l = loss(rows, grad);
    if (!std::isfinite(l) || !grad.allFinite()) {
      report.status = TrainStatus::kDiverged;
      report.message = "non-finite loss or gradient at step " + std::to_string(t);
      break;
    }
    adam.step(params, grad, opt.schedule.at(t, opt.steps), decay_mask);
    report.steps = t + 1;
    recent.push_back(l);
    if (static_cast<Eigen::Index>(recent.size()) > per_epoch) recent.erase(recent.begin());
    if (opt.on_step && opt.on_step(t, l)) {
      report.status = TrainStatus::kStopped;
      report.message = "stopped by callback at step " + std::to_string(t);
      break;
    }
  }
  if (!recent.empty())
    report.loss =
        std::accumulate(recent.begin(), recent.end(), 0.0) / static_cast<double>(recent.size());
  return report;
}

TrainReport train_mse(Mlp& net, const Eigen::MatrixXd& x, const Eigen::VectorXd& t,
                      const TrainOptions& opt, Rng& rng) {
  if (x.rows() != t.size()) throw SurrogateError("train: x and t have different row counts");
  Tape tape;
  const bool dropout = net.has_dropout();
  Eigen::MatrixXd xb, gout;
  BatchLoss loss = [&](const std::vector<Eigen::Index>& rows, Eigen::VectorXd& grad) {
    xb = gather_rows(x, rows);
    const Eigen::MatrixXd& out = net.forward(xb, tape, {dropout ? &rng : nullptr, nullptr});
    const Eigen::VectorXd r = out.col(0) - gather(t, rows);
    const double k = static_cast<double>(rows.size());
    gout = (2 / k) * r;
    net.backward(tape, gout, &grad);
    return r.squaredNorm() / k;
  };
  return train_minibatch(net.params(), net.decay_mask(), x.rows(), loss, opt, rng);
}

TrainReport train_gaussian_nll(Npn& net, const Eigen::MatrixXd& x, const Eigen::VectorXd& t,
                               double mean_weight, const TrainOptions& opt, Rng& rng) {
  if (x.rows() != t.size()) throw SurrogateError("train: x and t have different row counts");
  if (!(mean_weight > 0)) throw SurrogateError("train: mean_weight must be > 0");
  NpnTape tape;
  Eigen::MatrixXd gm, gv;
  BatchLoss loss = [&](const std::vector<Eigen::Index>& rows, Eigen::VectorXd& grad) {
    net.forward(gather_rows(x, rows), tape);
    const auto m = tape.mean.back().col(0).array();
    const auto s = tape.var.back().col(0).array();
    const Eigen::ArrayXd r = m - gather(t, rows).array();
    const double k = static_cast<double>(rows.size());
    gm = (mean_weight * r / s / k).matrix();
    gv = (0.5 * (1 / s - mean_weight * r.square() / s.square()) / k).matrix();
    net.backward(tape, gm, gv, &grad);
    return (0.5 * (mean_weight * r.square() / s + s.log())).sum() / k;
  };
  return train_minibatch(net.params(), net.decay_mask(), x.rows(), loss, opt, rng);
}

}  // namespace flexnas::nn
