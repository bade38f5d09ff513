#pragma once
// The BOSHNAS heteroscedastic model: an NPN d -> 32 -> 32 -> 1 (ReLU, probit output)
// trained with 0.5 (10 (m - t)^2 / s + ln s). Its mean is the BOSHNAS prediction and its
// variance the aleatoric uncertainty: noise in the measured loss that more samples at the
// same point would not remove.
#include <cstdint>
#include <vector>

#include "surrogate/npn.hpp"
#include "surrogate/scaling.hpp"
#include "surrogate/surrogate.hpp"
#include "surrogate/teacher.hpp"
#include "surrogate/train.hpp"

namespace flexnas {

struct NpnOptions {
  std::vector<int> hidden{32, 32};                        // hidden widths
  nn::NpnLayerKind activation = nn::NpnLayerKind::kRelu;  // hidden moments, exact for ReLU
  nn::NpnLayerKind output = nn::NpnLayerKind::kProbit;    // bounded output, exact moments
  double mean_weight = 10;  // the reference's weight on the squared error
  double init_var = 1e-3;   // initial weight and bias variances
  nn::TrainOptions train = default_network_training();
  std::uint64_t seed = 1;
};

class NpnSurrogate : public Surrogate {
 public:
  // Out of line: GCC 12 warns (maybe-uninitialized, a false positive) on an inline default
  // argument holding a std::function.
  NpnSurrogate();
  explicit NpnSurrogate(const NpnOptions& opt);
  std::string name() const override { return "npn"; }
  FitReport fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) override;
  // mean: the NPN mean; aleatoric: sqrt(s / mean_weight), the calibrated noise std (see
  // nn::train_gaussian_nll); epistemic: 0.
  Prediction predict(const Eigen::MatrixXd& x, PredictionGradient* grad = nullptr) const override;
  int dim() const override { return net_.inputs(); }
  std::map<std::string, std::string> options() const override;
  const NpnOptions& npn_options() const { return opt_; }

 private:
  NpnOptions opt_;
  detail::InputScaler in_;
  detail::TargetScaler out_;
  nn::Npn net_;
};

}  // namespace flexnas
