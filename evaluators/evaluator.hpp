#pragma once
// Evaluator: scores one architecture. Declares the named values it provides (unit,
// direction), evaluates in an explicit context, and returns values with a status: an
// expected failure (diverged, timed out) is a result, not an exception.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "space/architecture.hpp"

namespace flexnas {

enum class Direction { kMinimize, kMaximize };

struct ValueSpec {
  std::string name;  // e.g. "params", "latency_ms"
  std::string unit;  // e.g. "count", "FLOP", "ms"
  Direction direction = Direction::kMinimize;
  std::string description;
};

struct EvalContext {
  std::uint64_t seed = 0;
  int threads = 1;
  std::string cache_dir;  // empty: no cache
  // Defaults for evaluators that need an input shape; an evaluator's own seq=/batch=
  // option, when given, wins.
  int seq = 128;
  int batch = 1;
  // Set by the search runner: the trial's id and batch, and the study directory, so that an
  // evaluator can keep per-study state (the trainer's checkpoints). A trial may only read
  // what trials of earlier batches wrote: those are finished whatever the worker count.
  std::int64_t trial = -1;
  std::int64_t trial_batch = -1;
  std::string study_dir;  // empty outside a search
};

enum class EvalStatus { kOk, kFailed };

struct EvalResult {
  EvalStatus status = EvalStatus::kOk;
  std::map<std::string, double> values;
  std::string message;  // why a failed evaluation failed
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual std::string name() const = 0;
  virtual std::vector<ValueSpec> provides() const = 0;
  virtual EvalResult evaluate(const Architecture& a, const EvalContext& ctx) = 0;
  // The options this instance was built with, so "name:k=v,..." round-trips.
  virtual std::map<std::string, std::string> options() const = 0;
};

// Parsed "name:key=value,key=value".
struct EvaluatorSpec {
  std::string name;
  std::map<std::string, std::string> options;
  // Throws InputError naming `kind` ("evaluator", or "policy" for the same syntax there).
  static EvaluatorSpec parse(const std::string& text, const std::string& kind = "evaluator");
  std::string str() const;
};

// Declared options of an evaluator: name, default, one-line description.
struct EvaluatorOption {
  std::string name;
  std::string default_value;
  std::string description;
};

class EvaluatorRegistry {
 public:
  using Factory =
      std::function<std::unique_ptr<Evaluator>(const std::map<std::string, std::string>&)>;
  struct Entry {
    std::string name;
    std::string description;
    std::vector<EvaluatorOption> options;
    Factory make;
  };
  void add(Entry e);
  // Unknown names and unknown options throw InputError listing the valid ones.
  std::unique_ptr<Evaluator> create(const std::string& spec) const;
  std::vector<std::string> names() const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Registers params and flops (evaluators/analytic.hpp) and table (evaluators/table.hpp).
void register_builtins(EvaluatorRegistry& r);

// Option helpers for factories: integer option with bounds, InputError otherwise.
int int_option(const std::map<std::string, std::string>& o, const std::string& evaluator,
               const std::string& key, int lo, int hi);

}  // namespace flexnas
