#pragma once
// Mini-batch training: the AdamW optimiser (Loshchilov & Hutter 2019, "Decoupled weight
// decay regularization"), a learning-rate schedule (linear warm-up, then constant or cosine
// decay to a floor, never through zero), and a seeded loop over shuffled mini-batches.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "surrogate/mlp.hpp"
#include "surrogate/npn.hpp"

namespace flexnas::nn {

struct AdamWOptions {
  double beta1 = 0.9;          // first-moment decay
  double beta2 = 0.999;        // second-moment decay
  double eps = 1e-8;           // added to sqrt(v)
  double weight_decay = 1e-4;  // decoupled: params -= lr * weight_decay * params (masked)
};

class AdamW {
 public:
  AdamW(Eigen::Index num_params, const AdamWOptions& opt = {});
  // One step at learning rate lr. `decay_mask` (same size, or empty for all ones) selects
  // the parameters weight decay applies to.
  void step(Eigen::VectorXd& params, const Eigen::VectorXd& grad, double lr,
            const Eigen::VectorXd& decay_mask);
  int steps() const { return t_; }

 private:
  AdamWOptions opt_;
  Eigen::VectorXd m_, v_;
  int t_ = 0;
};

enum class LrShape { kConstant, kCosine };

struct LrSchedule {
  double lr = 1e-2;       // peak learning rate
  int warmup_steps = 20;  // linear ramp from lr / warmup_steps up to lr
  LrShape shape = LrShape::kCosine;
  double final_ratio = 0.05;  // kCosine: the rate ends at final_ratio * lr (> 0)
  // Rate at step t (0-based) of `total` steps; always > 0 for lr > 0.
  double at(int t, int total) const;
};

struct TrainOptions {
  int steps = 400;      // optimiser steps (mini-batches), not epochs
  int batch_size = 32;  // rows per mini-batch; the whole set when it is smaller
  AdamWOptions adamw;
  LrSchedule schedule;
  // Called after each step with (step, batch loss); returning true stops training.
  std::function<bool(int, double)> on_step;
};

enum class TrainStatus { kOk, kStopped, kDiverged };

struct TrainReport {
  TrainStatus status = TrainStatus::kOk;
  int steps = 0;
  double loss = 0;      // mean batch loss over the last epoch's worth of steps
  std::string message;  // why training diverged or stopped
};

// Loss of the mini-batch of rows `rows` (mean over them) and its gradient with respect to
// the parameters, written to `grad` (pre-sized, zeroed by the caller's loop).
using BatchLoss =
    std::function<double(const std::vector<Eigen::Index>& rows, Eigen::VectorXd& grad)>;

// Trains `params` on n rows: each epoch shuffles the rows with `rng` and walks them in
// batches. Deterministic for a given rng state. A non-finite loss or gradient stops with
// kDiverged (the parameters are left as before that step). Throws SurrogateError for n < 1
// or bad options.
TrainReport train_minibatch(Eigen::VectorXd& params, const Eigen::VectorXd& decay_mask,
                            Eigen::Index n, const BatchLoss& loss, const TrainOptions& opt,
                            Rng& rng);

// Mean squared error of net(x) against t (n), dropout active when the network has any.
TrainReport train_mse(Mlp& net, const Eigen::MatrixXd& x, const Eigen::VectorXd& t,
                      const TrainOptions& opt, Rng& rng);

// The BOSHNAS heteroscedastic loss of an NPN with mean m and variance s against t (n):
// mean over rows of 0.5 (mean_weight (m - t)^2 / s + ln s). With weight w this is the
// Gaussian negative log-likelihood with variance s / w (up to a constant), so the model's
// noise variance is s / w.
TrainReport train_gaussian_nll(Npn& net, const Eigen::MatrixXd& x, const Eigen::VectorXd& t,
                               double mean_weight, const TrainOptions& opt, Rng& rng);

// Rows of `m` picked by `rows`.
Eigen::MatrixXd gather_rows(const Eigen::MatrixXd& m, const std::vector<Eigen::Index>& rows);
Eigen::VectorXd gather(const Eigen::VectorXd& v, const std::vector<Eigen::Index>& rows);

}  // namespace flexnas::nn
