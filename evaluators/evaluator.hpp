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

#include "core/options.hpp"
#include "core/registry.hpp"
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

using EvaluatorFactory = std::function<std::unique_ptr<Evaluator>(const Options&)>;

// Evaluators by name (core/registry.hpp). A factory gets the options checked against the
// entry's declarations; Evaluator::options() returns Options::values().
class EvaluatorRegistry : public Registry<EvaluatorFactory> {
 public:
  EvaluatorRegistry() : Registry("evaluator") {}
  // "name:key=value,..."; unknown names and options, and values their declarations reject,
  // throw InputError naming them.
  std::unique_ptr<Evaluator> create(const std::string& spec) const;
};

// Registers every built-in evaluator (evaluators/builtins.cpp).
void register_builtins(EvaluatorRegistry& r);

}  // namespace flexnas
