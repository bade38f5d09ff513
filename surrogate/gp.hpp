#pragma once
// Exact Gaussian-process regression (Rasmussen & Williams 2006, "Gaussian Processes for
// Machine Learning", ch. 2 and 5): RBF or Matern-5/2 kernel, isotropic or ARD lengthscales,
// hyperparameters by maximising the log marginal likelihood (BFGS from several starts),
// Cholesky via Eigen's LLT. The GP-BO baseline of the BOSHNAS comparison.
#include <cstdint>

#include <Eigen/Dense>

#include "surrogate/scaling.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {

enum class GpKernel { kRbf, kMatern52 };

struct GpOptions {
  GpKernel kernel = GpKernel::kMatern52;
  bool ard = false;          // one lengthscale per input dimension
  int restarts = 3;          // BFGS runs; the first starts mid-bounds, the rest at random
  int max_iterations = 100;  // BFGS iterations per run
  // Bounds, inputs and targets being standardised (zero mean, unit variance) first.
  double lengthscale_lo = 0.05, lengthscale_hi = 20;
  double signal_lo = 0.05, signal_hi = 20;  // signal variance
  double noise_lo = 1e-6, noise_hi = 1;     // noise variance
  std::uint64_t seed = 1;
};

class GpSurrogate : public Surrogate {
 public:
  explicit GpSurrogate(const GpOptions& opt = {});
  std::string name() const override { return "gp"; }
  FitReport fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) override;
  // mean and epistemic: the latent posterior; aleatoric: the fitted noise std.
  Prediction predict(const Eigen::MatrixXd& x, PredictionGradient* grad = nullptr) const override;
  int dim() const override { return static_cast<int>(x_.cols()); }
  std::map<std::string, std::string> options() const override;

  // Fitted hyperparameters (standardised units) and the log marginal likelihood.
  const Eigen::VectorXd& lengthscales() const { return lengthscales_; }
  double signal_variance() const { return signal_; }
  double noise_variance() const { return noise_; }
  double log_marginal_likelihood() const { return lml_; }

 private:
  GpOptions opt_;
  detail::InputScaler in_;
  double y_mean_ = 0, y_std_ = 1;
  Eigen::MatrixXd x_;  // standardised training inputs
  Eigen::VectorXd lengthscales_, alpha_;
  double signal_ = 1, noise_ = 1e-3, lml_ = 0;
  Eigen::LLT<Eigen::MatrixXd> llt_;
};

namespace detail {

// Log marginal likelihood of y (n) at x (n x d) for log hyperparameters
// [log lengthscale (1 or d), log signal variance, log noise variance], and its gradient.
// Returns -infinity when the kernel matrix is not positive definite.
double gp_log_marginal_likelihood(GpKernel kernel, const Eigen::MatrixXd& x,
                                  const Eigen::VectorXd& y, const Eigen::VectorXd& log_params,
                                  Eigen::VectorXd* grad = nullptr);

// BFGS with Armijo backtracking on a smooth unconstrained function; returns the best point.
Eigen::VectorXd minimise_bfgs(
    const std::function<double(const Eigen::VectorXd&, Eigen::VectorXd&)>& f, Eigen::VectorXd u,
    int max_iterations, double* best_value = nullptr);

}  // namespace detail
}  // namespace flexnas
