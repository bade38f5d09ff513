#include "surrogate/teacher.hpp"

#include <cmath>
#include <string>

#include "surrogate/error.hpp"

namespace flexnas {

nn::TrainOptions default_network_training() {
  nn::TrainOptions t;
  t.steps = 200;
  t.batch_size = 16;
  t.schedule.lr = 1e-2;
  t.schedule.warmup_steps = 20;
  t.schedule.shape = nn::LrShape::kCosine;
  t.schedule.final_ratio = 0.05;
  t.adamw.weight_decay = 1e-4;
  return t;
}

TeacherSurrogate::TeacherSurrogate() : TeacherSurrogate(TeacherOptions{}) {}

TeacherSurrogate::TeacherSurrogate(const TeacherOptions& opt) : opt_(opt) {
  if (opt.mc_passes < 2)
    throw SurrogateError("teacher: mc_passes " + std::to_string(opt.mc_passes) + " must be >= 2");
  if (!(opt.dropout > 0 && opt.dropout < 1))
    throw SurrogateError("teacher: dropout " + std::to_string(opt.dropout) +
                         " must be in (0, 1) for MC-dropout uncertainty");
}

FitReport TeacherSurrogate::fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  check_training_data("teacher", x, y);
  in_.fit(x);
  out_.fit(y);
  nn::Rng rng(opt_.seed);
  net_ = nn::Mlp::make(static_cast<int>(x.cols()), opt_.hidden, 1, nn::LayerKind::kSoftplus,
                       opt_.dropout, nn::LayerKind::kSigmoid);
  net_.init(rng);
  const nn::TrainReport rep = nn::train_mse(net_, in_.apply(x), out_.to_target(y), opt_.train, rng);
  masks_.clear();
  for (int k = 0; k < opt_.mc_passes; ++k) masks_.push_back(net_.sample_masks(rng));
  FitReport report;
  report.losses["teacher"] = rep.loss;
  if (rep.status == nn::TrainStatus::kDiverged) {
    report.status = FitStatus::kDiverged;
    report.message = "teacher: " + rep.message;
  }
  return report;
}

Prediction TeacherSurrogate::predict(const Eigen::MatrixXd& x, PredictionGradient* grad) const {
  check_query("teacher", dim(), x);
  const Eigen::MatrixXd xs = in_.apply(x);
  const Eigen::Index n = x.rows();
  const auto k = static_cast<Eigen::Index>(masks_.size());
  Eigen::MatrixXd f(n, k);
  std::vector<Eigen::MatrixXd> g;  // per pass: n x d input gradients (scaled input)
  nn::Tape tape;
  const Eigen::MatrixXd ones = Eigen::MatrixXd::Ones(n, 1);
  for (Eigen::Index p = 0; p < k; ++p) {
    const nn::DropoutMode mode{nullptr, &masks_[static_cast<std::size_t>(p)]};
    f.col(p) = net_.forward(xs, tape, mode).col(0);
    if (grad) g.push_back(net_.backward(tape, ones));
  }
  const Eigen::VectorXd mean_t = f.rowwise().mean();
  const Eigen::MatrixXd dev = f.colwise() - mean_t;
  const Eigen::VectorXd std_t =
      (dev.rowwise().squaredNorm() / static_cast<double>(k - 1)).cwiseSqrt();
  const double to_y = out_.std_to_y();
  Prediction p;
  p.mean = out_.to_y(mean_t);
  p.epistemic = std_t * to_y;
  p.aleatoric = Eigen::VectorXd::Zero(n);
  if (grad) {
    Eigen::MatrixXd gm = Eigen::MatrixXd::Zero(n, x.cols()), gs = gm;
    for (Eigen::Index q = 0; q < k; ++q) {
      const Eigen::MatrixXd& gq = g[static_cast<std::size_t>(q)];
      gm += gq;
      gs += dev.col(q).asDiagonal() * gq;
    }
    gm /= static_cast<double>(k);
    // d std = sum_k (f_k - mean) df_k / ((K - 1) std); a zero std has zero gradient here.
    for (Eigen::Index i = 0; i < n; ++i)
      gs.row(i) *= std_t[i] > 0 ? 1 / (static_cast<double>(k - 1) * std_t[i]) : 0.0;
    grad->mean = in_.chain(gm) * to_y;
    grad->epistemic = in_.chain(gs) * to_y;
    grad->aleatoric = Eigen::MatrixXd::Zero(n, x.cols());
  }
  return p;
}

std::map<std::string, std::string> TeacherSurrogate::options() const {
  return {{"seed", std::to_string(opt_.seed)},
          {"steps", std::to_string(opt_.train.steps)},
          {"batch_size", std::to_string(opt_.train.batch_size)},
          {"lr", format_double(opt_.train.schedule.lr)},
          {"dropout", format_double(opt_.dropout)},
          {"mc_passes", std::to_string(opt_.mc_passes)}};
}

}  // namespace flexnas
