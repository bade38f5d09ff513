#include "surrogate/boshnas.hpp"

#include <string>

#include <tbb/parallel_invoke.h>

#include "surrogate/error.hpp"

namespace flexnas {

namespace {

TeacherOptions seeded(TeacherOptions t, std::uint64_t seed) {
  t.seed = detail::mix_seed(seed, 1);
  return t;
}
NpnOptions seeded(NpnOptions n, std::uint64_t seed) {
  n.seed = detail::mix_seed(seed, 2);
  return n;
}

}  // namespace

BoshnasSurrogate::BoshnasSurrogate() : BoshnasSurrogate(BoshnasOptions{}) {}

BoshnasSurrogate::BoshnasSurrogate(const BoshnasOptions& opt)
    : opt_(opt), teacher_(seeded(opt.teacher, opt.seed)), npn_(seeded(opt.npn, opt.seed)) {
  if (opt.student_extra < 0)
    throw SurrogateError("boshnas: student_extra " + std::to_string(opt.student_extra) +
                         " must be >= 0");
}

FitReport BoshnasSurrogate::fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  check_training_data("boshnas", x, y);
  FitReport teacher_rep, npn_rep;
  nn::TrainReport student_rep;
  tbb::parallel_invoke(
      [&] {
        teacher_rep = teacher_.fit(x, y);
        nn::Rng rng(detail::mix_seed(opt_.seed, 3));
        // Student points: the data, then uniform points in the widened bounding box.
        const Eigen::Index n = x.rows(), extra = opt_.student_extra;
        Eigen::MatrixXd pts(n + extra, x.cols());
        pts.topRows(n) = x;
        const Eigen::RowVectorXd lo = x.colwise().minCoeff(), hi = x.colwise().maxCoeff();
        const Eigen::RowVectorXd pad = 0.1 * (hi - lo);
        std::uniform_real_distribution<double> u(0, 1);
        for (Eigen::Index i = n; i < n + extra; ++i)
          for (Eigen::Index j = 0; j < x.cols(); ++j)
            pts(i, j) = lo[j] - pad[j] + u(rng) * (hi[j] - lo[j] + 2 * pad[j]);
        const Eigen::VectorXd target = teacher_.predict(pts).epistemic;
        const double top = target.maxCoeff();
        student_scale_ = top > 0 ? top / 0.8 : 1;  // targets in [0, 0.8] of the sigmoid
        student_in_.fit(x);
        student_ = nn::Mlp::make(static_cast<int>(x.cols()), opt_.student_hidden, 1,
                                 nn::LayerKind::kSoftplus, 0, nn::LayerKind::kSigmoid);
        student_.init(rng);
        student_rep = nn::train_mse(student_, student_in_.apply(pts), target / student_scale_,
                                    opt_.student_train, rng);
      },
      [&] { npn_rep = npn_.fit(x, y); });
  FitReport report;
  report.losses = teacher_rep.losses;
  report.losses.insert(npn_rep.losses.begin(), npn_rep.losses.end());
  report.losses["student"] = student_rep.loss;
  for (const std::string& m :
       {teacher_rep.message, npn_rep.message,
        student_rep.status == nn::TrainStatus::kDiverged ? "student: " + student_rep.message
                                                         : std::string()})
    if (!m.empty()) {
      report.status = FitStatus::kDiverged;
      report.message += (report.message.empty() ? "" : "; ") + m;
    }
  return report;
}

Eigen::VectorXd BoshnasSurrogate::student_std(const Eigen::MatrixXd& x,
                                              Eigen::MatrixXd* grad) const {
  check_query("boshnas", dim(), x);
  nn::Tape tape;
  const Eigen::VectorXd out = student_.forward(student_in_.apply(x), tape).col(0);
  if (grad)
    *grad = student_in_.chain(student_.backward(tape, Eigen::MatrixXd::Ones(x.rows(), 1))) *
            student_scale_;
  return out * student_scale_;
}

Prediction BoshnasSurrogate::predict(const Eigen::MatrixXd& x, PredictionGradient* grad) const {
  check_query("boshnas", dim(), x);
  PredictionGradient ng;
  if (grad) {
    ng.want_mean = grad->want_mean && opt_.mean == MeanSource::kNpn;
    ng.want_aleatoric = grad->want_aleatoric;
    ng.want_epistemic = false;
  }
  Prediction p = npn_.predict(x, grad ? &ng : nullptr);
  if (grad) {
    grad->mean = std::move(ng.mean);
    grad->aleatoric = std::move(ng.aleatoric);
  }
  const bool use_teacher =
      opt_.epistemic == EpistemicSource::kTeacher || opt_.mean == MeanSource::kTeacher;
  PredictionGradient tg;
  Prediction tp;
  if (use_teacher) tp = teacher_.predict(x, grad ? &tg : nullptr);
  if (opt_.mean == MeanSource::kTeacher) {
    p.mean = tp.mean;
    if (grad) grad->mean = tg.mean;
  }
  if (opt_.epistemic == EpistemicSource::kStudent) {
    p.epistemic = student_std(x, grad && grad->want_epistemic ? &grad->epistemic : nullptr);
  } else {
    p.epistemic = tp.epistemic;
    if (grad) grad->epistemic = tg.epistemic;
  }
  return p;
}

std::map<std::string, std::string> BoshnasSurrogate::options() const {
  return {{"seed", std::to_string(opt_.seed)},
          {"steps", std::to_string(opt_.teacher.train.steps)},
          {"batch_size", std::to_string(opt_.teacher.train.batch_size)},
          {"lr", format_double(opt_.teacher.train.schedule.lr)},
          {"dropout", format_double(opt_.teacher.dropout)},
          {"mc_passes", std::to_string(opt_.teacher.mc_passes)},
          {"student_extra", std::to_string(opt_.student_extra)},
          {"epistemic", opt_.epistemic == EpistemicSource::kStudent ? "student" : "teacher"},
          {"mean", opt_.mean == MeanSource::kNpn ? "npn" : "teacher"}};
}

}  // namespace flexnas
