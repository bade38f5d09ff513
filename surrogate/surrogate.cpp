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

void SurrogateRegistry::add(Entry e) {
  for (const Entry& have : entries_)
    if (have.name == e.name) throw SurrogateError("surrogate registry: duplicate name " + e.name);
  entries_.push_back(std::move(e));
}

std::vector<std::string> SurrogateRegistry::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

std::unique_ptr<Surrogate> SurrogateRegistry::create(
    const std::string& name, const std::map<std::string, std::string>& options) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e.make(options);
  std::string valid;
  for (const Entry& e : entries_) valid += (valid.empty() ? "" : ", ") + e.name;
  throw SurrogateError("unknown surrogate '" + name + "'; valid: " + valid);
}

namespace {

// Options shared by the network surrogates.
std::vector<OptionSpec> network_specs() {
  const nn::TrainOptions t = default_network_training();
  return {OptionSpec::integer("seed", 1, 0, 1LL << 62, "seed of initialisation, batches, dropout"),
          OptionSpec::integer("steps", t.steps, 1, 1000000, "optimiser steps per network"),
          OptionSpec::integer("batch_size", t.batch_size, 1, 100000, "rows per mini-batch"),
          OptionSpec::real("lr", t.schedule.lr, 1e-6, 1, "peak AdamW learning rate")};
}

void read_training(const OptionReader& r, nn::TrainOptions& t) {
  t.steps = static_cast<int>(r.integer("steps"));
  t.batch_size = static_cast<int>(r.integer("batch_size"));
  t.schedule.lr = r.real("lr");
}

}  // namespace

void register_builtins(SurrogateRegistry& r) {
  {
    std::vector<OptionSpec> specs = network_specs();
    specs.push_back(OptionSpec::real("dropout", 0.3, 0.01, 0.9, "teacher dropout rate"));
    specs.push_back(OptionSpec::integer("mc_passes", 10, 2, 10000, "teacher MC-dropout passes"));
    specs.push_back(
        OptionSpec::integer("student_extra", 128, 0, 1000000, "student points beyond the data"));
    specs.push_back(OptionSpec::choice("epistemic", "student", {"student", "teacher"},
                                       "source of the epistemic std"));
    specs.push_back(
        OptionSpec::choice("mean", "npn", {"npn", "teacher"}, "source of the predicted mean"));
    r.add({"boshnas", "teacher (MC dropout) + student (epistemic) + NPN (mean, aleatoric)", specs,
           [specs](const std::map<std::string, std::string>& given) {
             const OptionReader rd("surrogate boshnas", specs, given);
             BoshnasOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             read_training(rd, o.teacher.train);
             read_training(rd, o.student_train);
             read_training(rd, o.npn.train);
             o.teacher.dropout = rd.real("dropout");
             o.teacher.mc_passes = static_cast<int>(rd.integer("mc_passes"));
             o.student_extra = static_cast<int>(rd.integer("student_extra"));
             o.epistemic = rd.choice("epistemic") == "student" ? EpistemicSource::kStudent
                                                               : EpistemicSource::kTeacher;
             o.mean = rd.choice("mean") == "npn" ? MeanSource::kNpn : MeanSource::kTeacher;
             return std::make_unique<BoshnasSurrogate>(o);
           }});
  }
  {
    std::vector<OptionSpec> specs = network_specs();
    specs.push_back(OptionSpec::real("dropout", 0.3, 0.01, 0.9, "dropout rate"));
    specs.push_back(OptionSpec::integer("mc_passes", 10, 2, 10000, "MC-dropout passes"));
    r.add({"teacher", "MLP with MC dropout: mean and epistemic std", specs,
           [specs](const std::map<std::string, std::string>& given) {
             const OptionReader rd("surrogate teacher", specs, given);
             TeacherOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             read_training(rd, o.train);
             o.dropout = rd.real("dropout");
             o.mc_passes = static_cast<int>(rd.integer("mc_passes"));
             return std::make_unique<TeacherSurrogate>(o);
           }});
  }
  {
    std::vector<OptionSpec> specs = network_specs();
    specs.push_back(OptionSpec::real("mean_weight", 10, 1e-3, 1e6,
                                     "weight of the squared error in the NPN loss"));
    r.add({"npn", "natural-parameter network: mean and aleatoric std", specs,
           [specs](const std::map<std::string, std::string>& given) {
             const OptionReader rd("surrogate npn", specs, given);
             NpnOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             read_training(rd, o.train);
             o.mean_weight = rd.real("mean_weight");
             return std::make_unique<NpnSurrogate>(o);
           }});
  }
  {
    const std::vector<OptionSpec> specs = {
        OptionSpec::integer("seed", 1, 0, 1LL << 62, "seed of the random restarts"),
        OptionSpec::choice("kernel", "matern52", {"matern52", "rbf"}, "covariance function"),
        OptionSpec::boolean("ard", false, "one lengthscale per input dimension"),
        OptionSpec::integer("restarts", 3, 1, 1000, "BFGS starts of the marginal likelihood"),
        OptionSpec::integer("max_iterations", 100, 0, 100000, "BFGS iterations per start")};
    r.add({"gp", "exact Gaussian process, hyperparameters by marginal likelihood", specs,
           [specs](const std::map<std::string, std::string>& given) {
             const OptionReader rd("surrogate gp", specs, given);
             GpOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             o.kernel = rd.choice("kernel") == "rbf" ? GpKernel::kRbf : GpKernel::kMatern52;
             o.ard = rd.boolean("ard");
             o.restarts = static_cast<int>(rd.integer("restarts"));
             o.max_iterations = static_cast<int>(rd.integer("max_iterations"));
             return std::make_unique<GpSurrogate>(o);
           }});
  }
}

}  // namespace flexnas
