#include "evaluators/analytic.hpp"

#include <chrono>
#include <thread>

namespace flexnas {
namespace {

ModelStatsOptions stats_options(const Options& o) {
  ModelStatsOptions s;
  for (auto [key, field] :
       {std::pair{"seq", &s.seq}, {"vocab", &s.vocab}, {"max_positions", &s.max_positions}})
    if (o.values().count(key)) *field = o.integer_as<int>(key);
  return s;
}

class ParamsEvaluator : public Evaluator {
 public:
  explicit ParamsEvaluator(const Options& o) : opts_(o.values()), s_(stats_options(o)) {}
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
  explicit FlopsEvaluator(const Options& o) : opts_(o.values()), s_(stats_options(o)) {}
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
  explicit SleepEvaluator(const Options& o) : opts_(o.values()), ms_(o.integer_as<int>("ms")) {}
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
         {OptionSpec::integer("ms", 100, 0, 3'600'000, "delay in milliseconds")},
         [](const auto& o) { return std::make_unique<SleepEvaluator>(o); }});
  r.add({"params",
         "parameter count (analytic)",
         {OptionSpec::integer("vocab", 30522, 0, 1 << 24, "token embedding rows"),
          OptionSpec::integer("max_positions", 512, 0, 1 << 20, "position embedding rows")},
         [](const auto& o) { return std::make_unique<ParamsEvaluator>(o); }});
  r.add({"flops",
         "forward FLOPs of the encoder (analytic)",
         {OptionSpec::integer("seq", 128, 1, 1 << 20, "sequence length")},
         [](const auto& o) { return std::make_unique<FlopsEvaluator>(o); }});
}

}  // namespace flexnas
