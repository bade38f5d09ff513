#include "evaluators/latency_evaluator.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "evaluators/arch_features.hpp"
#include "evaluators/latency_model.hpp"

namespace flexnas {
namespace {

bool identifier(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

class LatencyModelEvaluator : public Evaluator {
 public:
  explicit LatencyModelEvaluator(const Options& o) : opts_(o.values()) {
    const auto& file = opts_.at("file");
    if (file.empty()) throw InputError("evaluator latency-model: option file=MODEL is required");
    model_ = latency::LatencyModel::load(file);
    if (const auto bad = unknown_arch_features(model_.features); !bad.empty()) {
      std::string list;
      for (const auto& b : bad) list += (list.empty() ? "" : ", ") + b;
      throw InputError("evaluator latency-model: " + file +
                       " was fit on features flexnas cannot compute from an architecture: " + list +
                       " (fit on the columns of `flexnas latency features`)");
    }
    value_ = opts_.at("name");
    if (value_.empty())
      value_ = model_.targets.size() == 1 && identifier(model_.targets[0]) ? model_.targets[0]
                                                                           : "latency_ms";
    if (!identifier(value_))
      throw InputError("evaluator latency-model: name=" + value_ +
                       " is not a plain name (letters, digits, _)");
  }
  std::string name() const override { return "latency-model"; }
  std::vector<ValueSpec> provides() const override {
    return {{value_, model_.unit, Direction::kMinimize,
             "latency predicted by the " + model_.config().label() + " model of " +
                 model_.target_name()}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext&) override {
    const auto f = arch_features(a, model_.features);
    const Eigen::MatrixXd x =
        Eigen::Map<const Eigen::RowVectorXd>(f.data(), static_cast<Eigen::Index>(f.size()));
    const double v = model_.predict(x)(0);
    if (!std::isfinite(v)) return {EvalStatus::kFailed, {}, "prediction is not finite"};
    return {EvalStatus::kOk, {{value_, v}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  latency::LatencyModel model_;
  std::string value_;
};

}  // namespace

void register_latency_model(EvaluatorRegistry& r) {
  r.add({"latency-model",
         "latency predicted by a model from `flexnas latency fit` on architecture features",
         {OptionSpec::text("file", "", "model file (JSON) written by flexnas latency fit"),
          OptionSpec::text(
              "name", "",
              "value name (default: the model's target when one plain column, else latency_ms)")},
         [](const auto& o) { return std::make_unique<LatencyModelEvaluator>(o); }});
}

}  // namespace flexnas
