#pragma once
// GOBI: gradient-based optimisation of the input (Tuli et al., BOSHNAS / COSMOS): minimise
// a ScalarFunction (an acquisition over a surrogate) over a box [lo, hi]^d from several
// starts at once, each clamped to the box. Steps: plain gradient descent, Adam (Kingma &
// Ba 2015) or AdaHessian (Yao et al. 2021, "ADAHESSIAN: an adaptive second order optimizer
// for machine learning"), which scales the step by a running RMS of Hutchinson estimates
// of the Hessian diagonal, z * (H z) with Rademacher z, from Hessian-vector products.
#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Dense>

#include "surrogate/scalar_function.hpp"

namespace flexnas {

enum class GobiMethod { kGradientDescent, kAdam, kAdaHessian };

struct GobiOptions {
  GobiMethod method = GobiMethod::kAdaHessian;
  double lr = 0.5;             // step size (the reference's 0.5 for AdaHessian, input units)
  double beta1 = 0.9;          // first-moment decay (Adam, AdaHessian)
  double beta2 = 0.999;        // second-moment decay (Adam, AdaHessian)
  double eps = 1e-4;           // added to the denominator (AdaHessian's default; Adam too)
  double hessian_power = 1;    // AdaHessian's k in (0, 1]: the denominator is sqrt(v)^k
  int hutchinson_samples = 1;  // Rademacher vectors per AdaHessian step
  int max_steps = 200;         // per start
  // A start stops once |z_t - z_{t-1}| < tolerance `patience` steps in a row.
  double tolerance = 1e-5;
  int patience = 5;
  int random_starts = 10;  // used when no starts are given: uniform in the box
  // Starts are cut into tasks of this many (fixed, so results do not depend on the number
  // of threads); a task steps its starts together as one batch of rows, which costs far
  // less per start than one row at a time. TBB runs the tasks in parallel.
  int starts_per_task = 5;
  std::uint64_t seed = 1;  // start s uses streams derived from (seed, s) only
  // Called after every step of every start with (start, step, z); returning true stops
  // that start. Runs on worker threads: it must be thread-safe.
  std::function<bool(int, int, double)> on_step;
};

struct GobiResult {
  Eigen::MatrixXd x;            // K x d: the best point each start reached (in the box)
  Eigen::VectorXd value;        // K: f at those points
  std::vector<int> steps;       // K: steps taken
  std::vector<bool> converged;  // K: stopped by the tolerance rule
  Eigen::Index best = 0;        // start with the lowest value (the first on ties)
};

// Minimises f over [lo, hi] (d each) from the rows of `starts` (K x d, clamped into the box)
// or, when `starts` has no rows, from opt.random_starts uniform points. Starts run in
// parallel (TBB); the result is the same with any number of threads. Start s is row s of
// the batches f sees (its task passes first_id = its first start) and draws its random
// start and Rademacher vectors from its own stream of (seed, s). An exception thrown by f
// is rethrown here (the one of the lowest task). Throws SurrogateError for bad shapes, bounds or
// options.
GobiResult gobi_minimise(const ScalarFunction& f, const Eigen::VectorXd& lo,
                         const Eigen::VectorXd& hi, const Eigen::MatrixXd& starts = {},
                         const GobiOptions& opt = {});

}  // namespace flexnas
