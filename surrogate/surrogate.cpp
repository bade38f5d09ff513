#include "surrogate/surrogate.hpp"

#include <algorithm>
#include <string>

#include "surrogate/boshnas.hpp"
#include "surrogate/error.hpp"
#include "surrogate/gp.hpp"
#include "surrogate/npn_surrogate.hpp"
#include "surrogate/teacher.hpp"

namespace flexnas {

Eigen::VectorXd Prediction::total() const {
  return (epistemic.array().square() + aleatoric.array().square()).sqrt().matrix();
}

void check_training_data(const std::string& who, const Eigen::MatrixXd& x,
                         const Eigen::VectorXd& y) {
  if (x.rows() < 1 || x.cols() < 1)
    throw SurrogateError(who + ": training inputs are " + std::to_string(x.rows()) + " x " +
                         std::to_string(x.cols()) + ", need at least one row and one column");
  if (y.size() != x.rows())
    throw SurrogateError(who + ": " + std::to_string(x.rows()) + " input rows but " +
                         std::to_string(y.size()) + " targets");
  if (!x.allFinite() || !y.allFinite())
    throw SurrogateError(who + ": training data contain NaN or infinite values");
}

void check_query(const std::string& who, int dim, const Eigen::MatrixXd& x) {
  if (dim == 0) throw SurrogateError(who + ": predict before fit");
  if (x.cols() != dim)
    throw SurrogateError(who + ": query has " + std::to_string(x.cols()) +
                         " columns, the model was fitted on " + std::to_string(dim));
}

OutputFunction::OutputFunction(const Surrogate& s, SurrogateOutput which) : s_(s), which_(which) {
  if (!s.fitted()) throw SurrogateError(s.name() + ": output of a surrogate before fit");
}

Eigen::VectorXd OutputFunction::evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad,
                                         Eigen::Index) const {
  PredictionGradient g;
  g.want_mean = which_ == SurrogateOutput::kMean;
  g.want_epistemic = which_ == SurrogateOutput::kEpistemic || which_ == SurrogateOutput::kTotal;
  g.want_aleatoric = which_ == SurrogateOutput::kAleatoric || which_ == SurrogateOutput::kTotal;
  const Prediction p = s_.predict(x, grad ? &g : nullptr);
  switch (which_) {
    case SurrogateOutput::kMean:
      if (grad) *grad = std::move(g.mean);
      return p.mean;
    case SurrogateOutput::kEpistemic:
      if (grad) *grad = std::move(g.epistemic);
      return p.epistemic;
    case SurrogateOutput::kAleatoric:
      if (grad) *grad = std::move(g.aleatoric);
      return p.aleatoric;
    case SurrogateOutput::kTotal: {
      const Eigen::VectorXd t = p.total();
      if (grad) {
        // d sqrt(e^2 + a^2) = (e de + a da) / t
        *grad = p.epistemic.asDiagonal() * g.epistemic + p.aleatoric.asDiagonal() * g.aleatoric;
        for (Eigen::Index i = 0; i < t.size(); ++i) grad->row(i) *= t[i] > 0 ? 1 / t[i] : 0.0;
      }
      return t;
    }
  }
  return {};
}

}  // namespace flexnas
