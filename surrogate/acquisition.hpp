#pragma once
// Acquisition functions on a LOSS (lower is better): each maps a candidate's predictive
// mean and std to a value z to MINIMISE, with the partial derivatives dz/dmean and dz/dstd,
// so that gradients in the input follow by the chain rule (AcquisitionFunction). Built-ins
// (register_builtins): "ucb" (BOSHNAS: z = mean - kappa std), "ei" (expected improvement),
// "pi" (probability of improvement), "thompson" (one seeded draw per candidate).
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "core/options.hpp"
#include "surrogate/scalar_function.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {

struct AcquisitionValue {
  Eigen::VectorXd value;   // z per candidate (to minimise)
  Eigen::VectorXd d_mean;  // dz / dmean
  Eigen::VectorXd d_std;   // dz / dstd
};

class Acquisition {
 public:
  virtual ~Acquisition() = default;
  virtual std::string name() const = 0;
  // Candidates' predictive means and stds (n each, std >= 0). `first_id` as in
  // ScalarFunction::evaluate. Throws SurrogateError for mismatched sizes.
  virtual AcquisitionValue evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                                    Eigen::Index first_id = 0) const = 0;
  // The lowest loss observed so far; EI and PI measure improvement on it (others ignore it).
  virtual void set_incumbent(double best_loss) { (void)best_loss; }
  virtual std::map<std::string, std::string> options() const = 0;
};

// z = mean - kappa std: optimism under uncertainty for a loss. BOSHNAS uses kappa = 0.5
// (Srinivas et al. 2010, "Gaussian process optimization in the bandit setting").
class UpperConfidenceBound : public Acquisition {
 public:
  explicit UpperConfidenceBound(double kappa = 0.5);
  std::string name() const override { return "ucb"; }
  AcquisitionValue evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                            Eigen::Index first_id = 0) const override;
  std::map<std::string, std::string> options() const override;
  double kappa() const { return kappa_; }

 private:
  double kappa_;
};

// z = -EI, EI = E[max(best - xi - Y, 0)] = std (u Phi(u) + phi(u)), u = (best - xi - mean) / std
// (Jones, Schonlau & Welch 1998, "Efficient global optimization").
class ExpectedImprovement : public Acquisition {
 public:
  explicit ExpectedImprovement(double xi = 0);
  std::string name() const override { return "ei"; }
  AcquisitionValue evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                            Eigen::Index first_id = 0) const override;
  void set_incumbent(double best_loss) override { best_ = best_loss; }
  std::map<std::string, std::string> options() const override;

 private:
  double xi_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
};

// z = -P(Y < best - xi) = -Phi(u) (Kushner 1964).
class ProbabilityOfImprovement : public Acquisition {
 public:
  explicit ProbabilityOfImprovement(double xi = 0);
  std::string name() const override { return "pi"; }
  AcquisitionValue evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                            Eigen::Index first_id = 0) const override;
  void set_incumbent(double best_loss) override { best_ = best_loss; }
  std::map<std::string, std::string> options() const override;

 private:
  double xi_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
};

// z = mean + std eps_id: one draw from each candidate's predictive Gaussian (Thompson 1933).
// eps_id ~ N(0, 1) depends only on (seed, candidate id), so a candidate's draw is the same in
// any batch and its gradient is that of a fixed draw.
class ThompsonSampling : public Acquisition {
 public:
  explicit ThompsonSampling(std::uint64_t seed = 1) : seed_(seed) {}
  std::string name() const override { return "thompson"; }
  AcquisitionValue evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                            Eigen::Index first_id = 0) const override;
  std::map<std::string, std::string> options() const override;
  double draw(Eigen::Index id) const;  // eps_id

 private:
  std::uint64_t seed_;
};

// Which predictive std an acquisition sees. BOSHNAS starts with the epistemic part and
// adds the aleatoric part once the search stops improving.
enum class Uncertainty { kEpistemic, kTotal };

// acquisition(surrogate(x)) as a ScalarFunction of the input, for GOBI. Holds references:
// both must outlive it.
class AcquisitionFunction : public ScalarFunction {
 public:
  AcquisitionFunction(const Surrogate& s, const Acquisition& a,
                      Uncertainty u = Uncertainty::kEpistemic);
  int dim() const override { return s_.dim(); }
  Eigen::VectorXd evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad = nullptr,
                           Eigen::Index first_id = 0) const override;

 private:
  const Surrogate& s_;
  const Acquisition& a_;
  Uncertainty u_;
};

using AcquisitionFactory = std::function<std::unique_ptr<Acquisition>(const Options&)>;

class AcquisitionRegistry : public Registry<AcquisitionFactory> {
 public:
  AcquisitionRegistry() : Registry("acquisition") {}
};

// Registers ucb, ei, pi and thompson (surrogate/builtins.cpp).
void register_builtins(AcquisitionRegistry& r);

// Standard normal pdf and cdf.
double normal_pdf(double u);
double normal_cdf(double u);

}  // namespace flexnas
