#pragma once
// The BOSHNAS teacher: an MLP d -> 64 -> 32 -> 1 with Softplus, dropout 0.3 and a sigmoid
// output, whose epistemic uncertainty is the spread of K MC-dropout passes (Gal &
// Ghahramani 2016, "Dropout as a Bayesian approximation"). The K dropout masks are drawn
// once per fit and shared by every query, so the mean and std are smooth, deterministic
// functions of the input with exact gradients (common random numbers).
#include <cstdint>
#include <vector>

#include "surrogate/mlp.hpp"
#include "surrogate/scaling.hpp"
#include "surrogate/surrogate.hpp"
#include "surrogate/train.hpp"

namespace flexnas {

// Training defaults shared by the BOSHNAS networks: AdamW (weight decay 1e-4), 20 warm-up
// steps to lr 1e-2, cosine decay to 5e-4, 200 mini-batches of 16 rows. Chosen on held-out
// error at n = 15, 50, 200 (docs/surrogate.md): 400 steps or batches of 32 cost twice as
// much for a few percent.
nn::TrainOptions default_network_training();

struct TeacherOptions {
  std::vector<int> hidden{64, 32};  // hidden widths
  double dropout = 0.3;             // rate after every hidden Softplus
  int mc_passes = 10;               // K MC-dropout passes (the reference's 10)
  nn::TrainOptions train = default_network_training();
  std::uint64_t seed = 1;
};

class TeacherSurrogate : public Surrogate {
 public:
  // Out of line: GCC 12 warns (maybe-uninitialized, a false positive) on an inline default
  // argument holding a std::function.
  TeacherSurrogate();
  explicit TeacherSurrogate(const TeacherOptions& opt);
  std::string name() const override { return "teacher"; }
  // Mean of the K passes; epistemic = their sample std (divisor K - 1); aleatoric = 0.
  FitReport fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) override;
  Prediction predict(const Eigen::MatrixXd& x, PredictionGradient* grad = nullptr) const override;
  int dim() const override { return net_.inputs(); }
  std::map<std::string, std::string> options() const override;
  const TeacherOptions& teacher_options() const { return opt_; }

 private:
  TeacherOptions opt_;
  detail::InputScaler in_;
  detail::TargetScaler out_;
  nn::Mlp net_;
  std::vector<nn::MaskSet> masks_;  // K shared MC-dropout draws
};

}  // namespace flexnas
