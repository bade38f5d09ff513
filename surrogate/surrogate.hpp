#pragma once
// Surrogate: a regression model of a loss over input vectors that also says how unsure it
// is. fit(X, y) learns from evaluated points; predict(X) gives, per row, the mean, the
// epistemic std (what more data would remove) and the aleatoric std (noise in y itself),
// and optionally their gradients with respect to the input. Built-ins (registered by name
// in register_builtins): "boshnas" (teacher + student + NPN, surrogate/boshnas.hpp),
// "teacher" (MC dropout, surrogate/teacher.hpp), "npn" (surrogate/npn_surrogate.hpp) and
// "gp" (Gaussian process, surrogate/gp.hpp).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "core/options.hpp"
#include "core/registry.hpp"
#include "surrogate/scalar_function.hpp"

namespace flexnas {

struct Prediction {
  Eigen::VectorXd mean;       // n, in the units of y
  Eigen::VectorXd epistemic;  // n, std in the units of y (model uncertainty)
  Eigen::VectorXd aleatoric;  // n, std in the units of y (0 for models without it)
  // sqrt(epistemic^2 + aleatoric^2)
  Eigen::VectorXd total() const;
};

// Gradients of the prediction with respect to the input, one row per point (n x d each).
struct PredictionGradient {
  // Set by the caller: a surrogate may skip (leave empty) the gradients not asked for,
  // e.g. the NPN's aleatoric backward pass when an acquisition uses the epistemic std only.
  bool want_mean = true, want_epistemic = true, want_aleatoric = true;
  Eigen::MatrixXd mean, epistemic, aleatoric;
};

enum class FitStatus { kOk, kDiverged };

// A diverged fit is a result, not an exception: the model keeps the parameters from
// before the failing step and stays usable.
struct FitReport {
  FitStatus status = FitStatus::kOk;
  std::string message;
  std::map<std::string, double> losses;  // final training loss per component
};

class Surrogate {
 public:
  virtual ~Surrogate() = default;
  virtual std::string name() const = 0;
  // Learns from x (n x d, n >= 1) and y (n), replacing what was learnt before. Deterministic
  // for a given seed option, whatever the number of threads. Throws SurrogateError for bad
  // shapes or non-finite values.
  virtual FitReport fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) = 0;
  // Predictions at the rows of x (m x d); with `grad`, their input gradients. A row's
  // prediction never depends on the other rows. Safe to call from several threads. Throws
  // SurrogateError before fit() or for a wrong number of columns.
  virtual Prediction predict(const Eigen::MatrixXd& x,
                             PredictionGradient* grad = nullptr) const = 0;
  virtual int dim() const = 0;  // input dimension, 0 before fit()
  bool fitted() const { return dim() > 0; }
  // The options it was built with, so that name + options() recreates it.
  virtual std::map<std::string, std::string> options() const = 0;
};

enum class SurrogateOutput { kMean, kEpistemic, kAleatoric, kTotal };

// One output of a fitted surrogate as a ScalarFunction (gradients and HVPs in the input).
class OutputFunction : public ScalarFunction {
 public:
  OutputFunction(const Surrogate& s, SurrogateOutput which);
  int dim() const override { return s_.dim(); }
  Eigen::VectorXd evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad = nullptr,
                           Eigen::Index first_id = 0) const override;

 private:
  const Surrogate& s_;
  SurrogateOutput which_;
};

using SurrogateFactory = std::function<std::unique_ptr<Surrogate>(const Options&)>;

// Surrogates by name (core/registry.hpp): create(name, options) throws InputError for unknown
// names and options and for values their declarations reject.
class SurrogateRegistry : public Registry<SurrogateFactory> {
 public:
  SurrogateRegistry() : Registry("surrogate") {}
};

// Registers boshnas, teacher, npn and gp (surrogate/builtins.cpp).
void register_builtins(SurrogateRegistry& r);

// Shared argument checks: throw SurrogateError naming `who`.
void check_training_data(const std::string& who, const Eigen::MatrixXd& x,
                         const Eigen::VectorXd& y);
void check_query(const std::string& who, int dim, const Eigen::MatrixXd& x);

}  // namespace flexnas
