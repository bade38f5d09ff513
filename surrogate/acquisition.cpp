#include "surrogate/acquisition.hpp"

#include <cmath>
#include <numbers>
#include <random>

#include "surrogate/error.hpp"
#include "surrogate/scaling.hpp"

namespace flexnas {

namespace {

constexpr double kMinStd = 1e-12;  // below this a prediction counts as certain

void check_sizes(const std::string& who, const Eigen::VectorXd& mean, const Eigen::VectorXd& std) {
  if (mean.size() != std.size())
    throw SurrogateError(who + ": " + std::to_string(mean.size()) + " means but " +
                         std::to_string(std.size()) + " stds");
}

void check_incumbent(const std::string& who, double best) {
  if (std::isnan(best))
    throw SurrogateError(who + ": no incumbent; call set_incumbent(best loss) first");
}

}  // namespace

double normal_pdf(double u) {
  return std::exp(-0.5 * u * u) / std::sqrt(2 * std::numbers::pi);
}
double normal_cdf(double u) {
  return 0.5 * std::erfc(-u / std::numbers::sqrt2);
}

UpperConfidenceBound::UpperConfidenceBound(double kappa) : kappa_(kappa) {
  if (!(kappa >= 0) || !std::isfinite(kappa))
    throw SurrogateError("ucb: kappa " + std::to_string(kappa) + " must be >= 0");
}

AcquisitionValue UpperConfidenceBound::evaluate(const Eigen::VectorXd& mean,
                                                const Eigen::VectorXd& std, Eigen::Index) const {
  check_sizes("ucb", mean, std);
  return {mean - kappa_ * std, Eigen::VectorXd::Ones(mean.size()),
          Eigen::VectorXd::Constant(mean.size(), -kappa_)};
}

std::map<std::string, std::string> UpperConfidenceBound::options() const {
  return {{"kappa", format_double(kappa_)}};
}

ExpectedImprovement::ExpectedImprovement(double xi) : xi_(xi) {
  if (!std::isfinite(xi)) throw SurrogateError("ei: xi must be finite");
}

AcquisitionValue ExpectedImprovement::evaluate(const Eigen::VectorXd& mean,
                                               const Eigen::VectorXd& std, Eigen::Index) const {
  check_sizes("ei", mean, std);
  check_incumbent("ei", best_);
  const Eigen::Index n = mean.size();
  AcquisitionValue a{Eigen::VectorXd(n), Eigen::VectorXd(n), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    const double gap = best_ - xi_ - mean[i];
    if (std[i] < kMinStd) {  // the limit as std -> 0
      a.value[i] = -std::max(gap, 0.0);
      a.d_mean[i] = gap > 0 ? 1 : 0;
      a.d_std[i] = 0;
      continue;
    }
    const double u = gap / std[i], cdf = normal_cdf(u), pdf = normal_pdf(u);
    a.value[i] = -(gap * cdf + std[i] * pdf);
    a.d_mean[i] = cdf;  // dEI/dmean = -Phi(u)
    a.d_std[i] = -pdf;  // dEI/dstd = phi(u)
  }
  return a;
}

std::map<std::string, std::string> ExpectedImprovement::options() const {
  return {{"xi", format_double(xi_)}};
}

ProbabilityOfImprovement::ProbabilityOfImprovement(double xi) : xi_(xi) {
  if (!std::isfinite(xi)) throw SurrogateError("pi: xi must be finite");
}

AcquisitionValue ProbabilityOfImprovement::evaluate(const Eigen::VectorXd& mean,
                                                    const Eigen::VectorXd& std,
                                                    Eigen::Index) const {
  check_sizes("pi", mean, std);
  check_incumbent("pi", best_);
  const Eigen::Index n = mean.size();
  AcquisitionValue a{Eigen::VectorXd(n), Eigen::VectorXd(n), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    const double gap = best_ - xi_ - mean[i];
    if (std[i] < kMinStd) {
      a.value[i] = gap > 0 ? -1 : 0;
      a.d_mean[i] = a.d_std[i] = 0;
      continue;
    }
    const double u = gap / std[i], pdf = normal_pdf(u);
    a.value[i] = -normal_cdf(u);
    a.d_mean[i] = pdf / std[i];
    a.d_std[i] = pdf * u / std[i];
  }
  return a;
}

std::map<std::string, std::string> ProbabilityOfImprovement::options() const {
  return {{"xi", format_double(xi_)}};
}

double ThompsonSampling::draw(Eigen::Index id) const {
  std::mt19937_64 rng(detail::mix_seed(seed_, static_cast<std::uint64_t>(id)));
  return std::normal_distribution<double>(0, 1)(rng);
}

AcquisitionValue ThompsonSampling::evaluate(const Eigen::VectorXd& mean, const Eigen::VectorXd& std,
                                            Eigen::Index first_id) const {
  check_sizes("thompson", mean, std);
  const Eigen::Index n = mean.size();
  Eigen::VectorXd eps(n);
  for (Eigen::Index i = 0; i < n; ++i) eps[i] = draw(first_id + i);
  return {mean + std.cwiseProduct(eps), Eigen::VectorXd::Ones(n), eps};
}

std::map<std::string, std::string> ThompsonSampling::options() const {
  return {{"seed", std::to_string(seed_)}};
}

AcquisitionFunction::AcquisitionFunction(const Surrogate& s, const Acquisition& a, Uncertainty u)
    : s_(s), a_(a), u_(u) {
  if (!s.fitted()) throw SurrogateError(a.name() + ": acquisition over a surrogate before fit");
}

Eigen::VectorXd AcquisitionFunction::evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad,
                                              Eigen::Index first_id) const {
  const bool total = u_ == Uncertainty::kTotal;
  PredictionGradient g;
  g.want_aleatoric = total;
  const Prediction p = s_.predict(x, grad ? &g : nullptr);
  const Eigen::VectorXd sd = total ? p.total() : p.epistemic;
  AcquisitionValue a = a_.evaluate(p.mean, sd, first_id);
  if (grad) {
    Eigen::MatrixXd dsd = g.epistemic;
    if (total) {  // d sqrt(e^2 + a^2) = (e de + a da) / total
      dsd = p.epistemic.asDiagonal() * g.epistemic + p.aleatoric.asDiagonal() * g.aleatoric;
      for (Eigen::Index i = 0; i < sd.size(); ++i) dsd.row(i) *= sd[i] > 0 ? 1 / sd[i] : 0.0;
    }
    *grad = a.d_mean.asDiagonal() * g.mean;
    grad->noalias() += a.d_std.asDiagonal() * dsd;
  }
  return a.value;
}

}  // namespace flexnas
