#include "surrogate/npn_surrogate.hpp"

#include <cmath>
#include <string>

#include "surrogate/error.hpp"

namespace flexnas {

NpnSurrogate::NpnSurrogate() : NpnSurrogate(NpnOptions{}) {}

NpnSurrogate::NpnSurrogate(const NpnOptions& opt) : opt_(opt) {
  if (!(opt.mean_weight > 0))
    throw SurrogateError("npn: mean_weight " + std::to_string(opt.mean_weight) + " must be > 0");
}

FitReport NpnSurrogate::fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  check_training_data("npn", x, y);
  in_.fit(x);
  out_.fit(y);
  nn::Rng rng(opt_.seed);
  net_ = nn::Npn::make(static_cast<int>(x.cols()), opt_.hidden, 1, opt_.activation, opt_.output);
  net_.init(rng, opt_.init_var);
  const nn::TrainReport rep = nn::train_gaussian_nll(net_, in_.apply(x), out_.to_target(y),
                                                     opt_.mean_weight, opt_.train, rng);
  net_.freeze();
  FitReport report;
  report.losses["npn"] = rep.loss;
  if (rep.status == nn::TrainStatus::kDiverged) {
    report.status = FitStatus::kDiverged;
    report.message = "npn: " + rep.message;
  }
  return report;
}

Prediction NpnSurrogate::predict(const Eigen::MatrixXd& x, PredictionGradient* grad) const {
  check_query("npn", dim(), x);
  nn::NpnTape tape;
  net_.forward(in_.apply(x), tape);
  const Eigen::VectorXd m = tape.mean.back().col(0);
  const Eigen::VectorXd s = tape.var.back().col(0);
  const double to_y = out_.std_to_y();
  Prediction p;
  p.mean = out_.to_y(m);
  p.aleatoric = (s / opt_.mean_weight).cwiseSqrt() * to_y;
  p.epistemic = Eigen::VectorXd::Zero(x.rows());
  if (grad) {
    const Eigen::Index n = x.rows();
    const Eigen::MatrixXd zero = Eigen::MatrixXd::Zero(n, 1);
    if (grad->want_mean)
      grad->mean = in_.chain(net_.backward(tape, Eigen::MatrixXd::Ones(n, 1), zero)) * to_y;
    if (grad->want_aleatoric) {
      // d sqrt(s / w) / ds = 1 / (2 sqrt(s w))
      const Eigen::MatrixXd ds = (0.5 / (s * opt_.mean_weight).array().sqrt()).matrix();
      grad->aleatoric = in_.chain(net_.backward(tape, zero, ds)) * to_y;
    }
    if (grad->want_epistemic) grad->epistemic = Eigen::MatrixXd::Zero(n, x.cols());
  }
  return p;
}

std::map<std::string, std::string> NpnSurrogate::options() const {
  return {{"seed", std::to_string(opt_.seed)},
          {"steps", std::to_string(opt_.train.steps)},
          {"batch_size", std::to_string(opt_.train.batch_size)},
          {"lr", format_double(opt_.train.schedule.lr)},
          {"mean_weight", format_double(opt_.mean_weight)}};
}

}  // namespace flexnas
