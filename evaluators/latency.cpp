#include "evaluators/latency.hpp"

#include <memory>
#include <mutex>
#include <tuple>

#include "core/error.hpp"
#include "evaluators/latency_table.hpp"

namespace flexnas {
namespace {

using latency::LatencyTable;

// One measurement at a time in a process: concurrent runs would share cores and time each
// other (search workers each hold a copy of the evaluator).
std::mutex& measure_mutex() {
  static std::mutex m;
  return m;
}

class LatencyEvaluator : public Evaluator {
 public:
  explicit LatencyEvaluator(const Options& o) : opts_(o.values()) {
    auto optional = [&](const std::string& key) { return o.has(key) ? o.integer_as<int>(key) : 0; };
    seq_ = optional("seq");
    batch_ = optional("batch");
    threads_ = optional("threads");
    threads_set_ = o.has("threads");
    measure_.repeats = o.integer_as<int>("repeats");
    measure_.warmup = o.integer_as<int>("warmup");
    measure_.clock = latency::parse_clock(o.text("clock"), "evaluator latency: option clock");
    dtype_ = latency::parse_dtype(o.text("dtype"), "evaluator latency: option dtype");
    latency::check_dtype_supported(dtype_);
    whole_ = o.text("mode") == "whole";
  }
  std::string name() const override { return "latency"; }
  std::vector<ValueSpec> provides() const override {
    return {{"latency_ms", "ms", Direction::kMinimize,
             "measured CPU inference latency of the encoder (median over repeats)"},
            {"latency_spread", "ratio", Direction::kMinimize,
             "(p90 - p10) / median of the measurement"}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    latency::RunShape s;
    s.seq = seq_ ? seq_ : ctx.seq;
    s.batch = batch_ ? batch_ : ctx.batch;
    s.threads = threads_set_ ? threads_ : ctx.threads;
    s.dtype = dtype_;
    std::lock_guard lock(measure_mutex());
    if (whole_) {
      const auto t = latency::measure_model(a, s, measure_);
      return {EvalStatus::kOk, {{"latency_ms", t.median_ms}, {"latency_spread", t.spread()}}, ""};
    }
    auto& table = table_for(s, ctx);
    const auto m = table.model(a);
    return {EvalStatus::kOk, {{"latency_ms", m.total_ms}, {"latency_spread", m.spread}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  LatencyTable& table_for(const latency::RunShape& s, const EvalContext& ctx) {
    std::string dir = opts_.at("cache");
    if (dir.empty()) dir = ctx.cache_dir.empty() ? latency::default_cache_dir() : ctx.cache_dir;
    if (dir == "none") dir.clear();
    const auto key = std::make_tuple(dir, s.seq, s.batch, s.threads);
    auto it = tables_.find(key);
    if (it == tables_.end())
      it = tables_.emplace(key, std::make_unique<LatencyTable>(dir, s, measure_)).first;
    return *it->second;
  }

  std::map<std::string, std::string> opts_;
  int seq_ = 0, batch_ = 0, threads_ = 0;
  bool threads_set_ = false;
  latency::DType dtype_ = latency::DType::kF32;
  latency::MeasureOptions measure_;
  bool whole_ = false;
  std::map<std::tuple<std::string, int, int, int>, std::unique_ptr<LatencyTable>> tables_;
};

}  // namespace

void register_latency(EvaluatorRegistry& r) {
  r.add(
      {"latency",
       "measured CPU inference latency through oneDNN (per-layer table cached on disk, or "
       "whole model)",
       {OptionSpec::optional_integer("seq", 1, 1 << 16, "sequence length (empty: the run's, 128)"),
        OptionSpec::optional_integer("batch", 1, 1 << 16, "batch size (empty: the run's, 1)"),
        OptionSpec::choice("dtype", "f32", {"f32", "bf16"}, "bf16 needs AVX-512"),
        OptionSpec::optional_integer("threads", 0, 4096,
                                     "oneDNN threads, 0 = all cores (empty: the run's, 1)"),
        OptionSpec::integer("repeats", 15, 1, 100000, "timed repeats (median taken)"),
        OptionSpec::integer("warmup", 3, 0, 100000, "untimed runs first"),
        OptionSpec::choice("clock", "wall", {"wall", "cpu"},
                           "wall (elapsed time) or cpu (thread CPU time, threads=1; for busy "
                           "machines)"),
        OptionSpec::choice("mode", "table", {"table", "whole"},
                           "table: sum of cached per-layer entries; whole: one run of the model"),
        OptionSpec::text("cache", "",
                         "table directory (empty: the run's cache dir, else ~/.cache/flexnas; "
                         "none: memory only)")},
       [](const auto& o) { return std::make_unique<LatencyEvaluator>(o); }});
}

}  // namespace flexnas
