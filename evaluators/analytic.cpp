#include "evaluators/analytic.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/fault.hpp"
#include "evaluators/latency.hpp"
#include "evaluators/latency_evaluator.hpp"
#include "evaluators/mpc.hpp"
#include "evaluators/table.hpp"
#include "evaluators/train_evaluator.hpp"

#include <chrono>
#include <thread>

namespace flexnas {
namespace {

ModelStatsOptions stats_options(const std::map<std::string, std::string>& o,
                                const std::string& name) {
  ModelStatsOptions s;
  if (o.count("seq")) s.seq = int_option(o, name, "seq", 1, 1 << 20);
  if (o.count("vocab")) s.vocab = int_option(o, name, "vocab", 0, 1 << 24);
  if (o.count("max_positions")) s.max_positions = int_option(o, name, "max_positions", 0, 1 << 20);
  return s;
}

class ParamsEvaluator : public Evaluator {
 public:
  explicit ParamsEvaluator(std::map<std::string, std::string> o)
      : opts_(std::move(o)), s_(stats_options(opts_, "params")) {}
  std::string name() const override { return "params"; }
  std::vector<ValueSpec> provides() const override {
    return {{"params", "count", Direction::kMinimize, "all parameters, embeddings included"},
            {"encoder_params", "count", Direction::kMinimize,
             "parameters of the encoder layers and projections"}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext&) override {
    const auto st = model_stats(a, s_);
    return {EvalStatus::kOk,
            {{"params", static_cast<double>(st.params)},
             {"encoder_params", static_cast<double>(st.encoder_params)}},
            ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  ModelStatsOptions s_;
};

class FlopsEvaluator : public Evaluator {
 public:
  explicit FlopsEvaluator(std::map<std::string, std::string> o)
      : opts_(std::move(o)), s_(stats_options(opts_, "flops")) {}
  std::string name() const override { return "flops"; }
  std::vector<ValueSpec> provides() const override {
    return {{"flops", "FLOP", Direction::kMinimize,
             "encoder forward FLOPs for one sequence of length seq"},
            {"flops_per_token", "FLOP", Direction::kMinimize, "flops / seq"}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext&) override {
    const auto st = model_stats(a, s_);
    return {EvalStatus::kOk, {{"flops", st.flops}, {"flops_per_token", st.flops_per_token}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  ModelStatsOptions s_;
};

// Sleeps, then reports how long: a stand-in for an expensive evaluator when testing
// runners, resume and parallel speed-up.
class SleepEvaluator : public Evaluator {
 public:
  explicit SleepEvaluator(std::map<std::string, std::string> o)
      : opts_(std::move(o)), ms_(int_option(opts_, "sleep", "ms", 0, 3'600'000)) {}
  std::string name() const override { return "sleep"; }
  std::vector<ValueSpec> provides() const override {
    return {{"sleep_ms", "ms", Direction::kMinimize, "the configured delay"}};
  }
  EvalResult evaluate(const Architecture&, const EvalContext&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    return {EvalStatus::kOk, {{"sleep_ms", ms_}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  int ms_;
};

}  // namespace

void register_analytic(EvaluatorRegistry& r) {
  r.add({"sleep",
         "waits ms milliseconds (a stand-in for slow evaluators in tests)",
         {{"ms", "100", "delay"}},
         [](const auto& o) { return std::make_unique<SleepEvaluator>(o); }});
  r.add({"params",
         "parameter count (analytic)",
         {{"vocab", "30522", "token embedding rows"},
          {"max_positions", "512", "position embedding rows"}},
         [](const auto& o) { return std::make_unique<ParamsEvaluator>(o); }});
  r.add({"flops",
         "forward FLOPs of the encoder (analytic)",
         {{"seq", "128", "sequence length"}},
         [](const auto& o) { return std::make_unique<FlopsEvaluator>(o); }});
}

void register_builtins(EvaluatorRegistry& r) {
  register_analytic(r);
  register_table(r);
  register_mpc(r);
  register_custom(r);
  register_latency_model(r);
  register_latency(r);
  register_fault(r);
  register_train(r);
}

}  // namespace flexnas
