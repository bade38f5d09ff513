#pragma once
// The search loop: ask a batch, store it, evaluate it on a TBB pool of `workers`
// threads, store each finished trial, tell the policy in id order, repeat until the
// budget. The batch size is fixed by the study (not by the worker count), so the same
// seed gives the same trials with any number of workers. Resuming replays the stored
// batches through a fresh policy, keeps finished trials and re-runs interrupted ones.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evaluators/evaluator.hpp"
#include "search/policy.hpp"
#include "search/storage.hpp"

namespace flexnas {

struct RunProgress {
  std::size_t finished = 0, failed = 0, budget = 0;
  double elapsed_seconds = 0;
  std::optional<Trial> best;
  const Trial* last = nullptr;
};

struct RunOptions {
  std::size_t budget = 100;     // finished trials (ok or failed) the study ends with
  double max_seconds = 0;       // wall-time budget of this run; 0: none
  std::size_t batch = 4;        // candidates per ask
  int workers = 1;              // parallel evaluations
  std::uint64_t seed = 0;       // handed to evaluators (each trial gets seed + id)
  std::function<void(const RunProgress&)> progress;
  // Early stop: called after each finished trial; returning true ends the run.
  std::vector<std::function<bool(const RunProgress&)>> stop_when;
};

struct RunSummary {
  std::size_t finished = 0, failed = 0;
  std::string stopped_because;  // "budget", "time", "callback", "exhausted"
};

// Evaluators built per worker from their specs.
class EvaluatorSet {
 public:
  EvaluatorSet(const EvaluatorRegistry& registry, const std::vector<std::string>& specs, int copies);
  std::vector<ValueSpec> provides() const;
  // Runs every evaluator of copy `k`; failures and exceptions become a failed result.
  EvalResult evaluate(int k, const Architecture& a, const EvalContext& ctx);

 private:
  std::vector<std::vector<std::unique_ptr<Evaluator>>> copies_;
};

RunSummary run_search(Study& study, Policy& policy, SearchDomain& domain, EvaluatorSet& evaluators,
                      const std::vector<Objective>& objectives, const std::vector<Constraint>& constraints,
                      const RunOptions& opt);

}  // namespace flexnas
