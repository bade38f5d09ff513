// The built-in surrogates and acquisition functions, registered by name with their declared
// options (core/registry.hpp).
#include "surrogate/acquisition.hpp"
#include "surrogate/boshnas.hpp"
#include "surrogate/gp.hpp"
#include "surrogate/npn_surrogate.hpp"
#include "surrogate/surrogate.hpp"
#include "surrogate/teacher.hpp"

namespace flexnas {

namespace {

// Options shared by the network surrogates.
std::vector<OptionSpec> network_specs() {
  const nn::TrainOptions t = default_network_training();
  return {OptionSpec::integer("seed", 1, 0, 1LL << 62, "seed of initialisation, batches, dropout"),
          OptionSpec::integer("steps", t.steps, 1, 1000000, "optimiser steps per network"),
          OptionSpec::integer("batch_size", t.batch_size, 1, 100000, "rows per mini-batch"),
          OptionSpec::real("lr", t.schedule.lr, 1e-6, 1, "peak AdamW learning rate")};
}

void read_training(const Options& r, nn::TrainOptions& t) {
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
           [](const Options& rd) {
             BoshnasOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             read_training(rd, o.teacher.train);
             read_training(rd, o.student_train);
             read_training(rd, o.npn.train);
             o.teacher.dropout = rd.real("dropout");
             o.teacher.mc_passes = static_cast<int>(rd.integer("mc_passes"));
             o.student_extra = static_cast<int>(rd.integer("student_extra"));
             o.epistemic = rd.text("epistemic") == "student" ? EpistemicSource::kStudent
                                                             : EpistemicSource::kTeacher;
             o.mean = rd.text("mean") == "npn" ? MeanSource::kNpn : MeanSource::kTeacher;
             return std::make_unique<BoshnasSurrogate>(o);
           }});
  }
  {
    std::vector<OptionSpec> specs = network_specs();
    specs.push_back(OptionSpec::real("dropout", 0.3, 0.01, 0.9, "dropout rate"));
    specs.push_back(OptionSpec::integer("mc_passes", 10, 2, 10000, "MC-dropout passes"));
    r.add({"teacher", "MLP with MC dropout: mean and epistemic std", specs, [](const Options& rd) {
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
    r.add(
        {"npn", "natural-parameter network: mean and aleatoric std", specs, [](const Options& rd) {
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
           [](const Options& rd) {
             GpOptions o;
             o.seed = static_cast<std::uint64_t>(rd.integer("seed"));
             o.kernel = rd.text("kernel") == "rbf" ? GpKernel::kRbf : GpKernel::kMatern52;
             o.ard = rd.boolean("ard");
             o.restarts = static_cast<int>(rd.integer("restarts"));
             o.max_iterations = static_cast<int>(rd.integer("max_iterations"));
             return std::make_unique<GpSurrogate>(o);
           }});
  }
}

void register_builtins(AcquisitionRegistry& r) {
  {
    const std::vector<OptionSpec> specs = {
        OptionSpec::real("kappa", 0.5, 0, 1e6, "weight of the std (BOSHNAS: 0.5)")};
    r.add({"ucb", "mean - kappa std (optimistic loss)", specs, [](const Options& rd) {
             return std::make_unique<UpperConfidenceBound>(rd.real("kappa"));
           }});
  }
  const std::vector<OptionSpec> xi = {
      OptionSpec::real("xi", 0, -1e6, 1e6, "improvement margin below the incumbent")};
  r.add({"ei", "minus expected improvement on the incumbent", xi,
         [](const Options& rd) { return std::make_unique<ExpectedImprovement>(rd.real("xi")); }});
  r.add({"pi", "minus probability of improvement on the incumbent", xi, [](const Options& rd) {
           return std::make_unique<ProbabilityOfImprovement>(rd.real("xi"));
         }});
  {
    const std::vector<OptionSpec> specs = {
        OptionSpec::integer("seed", 1, 0, 1LL << 62, "seed of the per-candidate draws")};
    r.add({"thompson", "one draw per candidate from the predictive Gaussian", specs,
           [](const Options& rd) {
             return std::make_unique<ThompsonSampling>(
                 static_cast<std::uint64_t>(rd.integer("seed")));
           }});
  }
}

}  // namespace flexnas
