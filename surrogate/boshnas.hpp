#pragma once
// The BOSHNAS surrogate trio (Tuli et al. 2023, "FlexiBERT: are current transformer
// architecture search spaces too homogeneous and rigid?", JAIR): a teacher MLP with MC
// dropout, a student MLP trained on the teacher's MC std (a fast, smooth epistemic
// estimate), and an NPN whose mean is the prediction and whose variance is the aleatoric
// uncertainty. Unlike the reference it trains in seeded mini-batches with a warm-up/cosine
// schedule, keeps targets inside the sigmoid's range, trains the student beyond the data
// (where epistemic uncertainty matters) and fits the NPN in parallel with teacher+student.
#include <cstdint>
#include <vector>

#include "surrogate/mlp.hpp"
#include "surrogate/npn_surrogate.hpp"
#include "surrogate/scaling.hpp"
#include "surrogate/surrogate.hpp"
#include "surrogate/teacher.hpp"

namespace flexnas {

enum class EpistemicSource {
  kStudent,  // the student network (one pass; the reference's choice)
  kTeacher,  // the teacher's K MC passes directly (K passes, no student error)
};

enum class MeanSource {
  kNpn,      // the NPN mean (the reference's choice)
  kTeacher,  // the teacher's MC mean: lower held-out error in our tests, see docs
};

struct BoshnasOptions {
  TeacherOptions teacher;                   // its seed is replaced by one derived from `seed`
  std::vector<int> student_hidden{64, 32};  // student widths (Softplus, sigmoid output)
  nn::TrainOptions student_train = default_network_training();
  // Extra student training points, uniform in the data's bounding box widened by 10% per
  // side: the reference fits the student at the data only, where the teacher's std is
  // smallest, so it learns little about uncertainty elsewhere. A fixed count: training sees
  // steps x batch_size rows whatever the set size.
  int student_extra = 128;
  NpnOptions npn;  // its seed is replaced by one derived from `seed`
  EpistemicSource epistemic = EpistemicSource::kStudent;
  MeanSource mean = MeanSource::kNpn;
  std::uint64_t seed = 1;
};

class BoshnasSurrogate : public Surrogate {
 public:
  // Out of line: GCC 12 warns (maybe-uninitialized, a false positive) on an inline default
  // argument holding a std::function.
  BoshnasSurrogate();
  explicit BoshnasSurrogate(const BoshnasOptions& opt);
  std::string name() const override { return "boshnas"; }
  // Teacher then student on one thread, the NPN on another (TBB).
  FitReport fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) override;
  // mean from the NPN (or teacher), aleatoric from the NPN, epistemic from the student (or
  // teacher).
  Prediction predict(const Eigen::MatrixXd& x, PredictionGradient* grad = nullptr) const override;
  int dim() const override { return npn_.dim(); }
  std::map<std::string, std::string> options() const override;
  const BoshnasOptions& boshnas_options() const { return opt_; }
  const TeacherSurrogate& teacher() const { return teacher_; }
  const NpnSurrogate& npn() const { return npn_; }
  // The student's epistemic std (units of y) at the rows of x, with input gradients.
  Eigen::VectorXd student_std(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad = nullptr) const;

 private:
  BoshnasOptions opt_;
  TeacherSurrogate teacher_;
  NpnSurrogate npn_;
  detail::InputScaler student_in_;
  nn::Mlp student_;
  double student_scale_ = 1;  // y units per unit of student output
};

}  // namespace flexnas
