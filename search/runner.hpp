#pragma once
// The search loop: ask a batch, store it, evaluate it on a TBB pool of `workers`
// threads, store each finished trial, tell the policy in id order, repeat until the
// budget. The batch size is fixed by the study (not by the worker count), so the same
// seed gives the same trials with any number of workers. Resuming replays the stored
// batches through a fresh policy, keeps finished trials and re-runs interrupted ones.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "evaluators/evaluator.hpp"
#include "search/isolate.hpp"
#include "search/policy.hpp"
#include "search/storage.hpp"

namespace flexnas {

class Executor;

struct RunProgress {
  std::size_t finished = 0, failed = 0, budget = 0;
  double elapsed_seconds = 0;
  std::optional<Trial> best;
  const Trial* last = nullptr;
  // Every trial of the study so far in id order; set for stop rules (batch ends) only.
  const std::vector<Trial>* trials = nullptr;
};

struct RunOptions {
  std::size_t budget = 100;  // finished trials (ok or failed) the study ends with
  double max_seconds = 0;    // wall-time budget of this run; 0: none
  std::size_t batch = 4;     // candidates per ask
  int workers = 1;           // parallel evaluations
  std::uint64_t seed = 0;    // handed to evaluators (each trial gets seed + id)
  std::function<void(const RunProgress&)> progress;
  // Early stop: called once per batch, after the policy was told the batch, with the
  // progress so far; a non-empty answer ends the run and becomes `stopped_because`. Checked
  // at batch ends only, so the stopping point does not depend on --workers, and replayed
  // batches are checked too, so a resumed study stops where it stopped before.
  std::vector<std::function<std::string(const RunProgress&)>> stop_when;
  // Re-run every failed trial that was not retried successfully yet, as new trials (new ids,
  // the same architectures) in a batch of their own after the stored ones.
  bool retry_failed = false;
  // Where batches are evaluated; null: a LocalExecutor over the evaluators and `workers`.
  Executor* executor = nullptr;
};

// Ready-made stop rules. Target: a finished trial whose values meet every condition
// (e.g. "sst2_accuracy>=0.83"). Patience: `n` finished trials in a row without a better
// best trial (by the primary objective, feasible first).
std::function<std::string(const RunProgress&)> stop_at_target(std::vector<Constraint> conditions);
std::function<std::string(const RunProgress&)> stop_after_patience(std::size_t n);

struct RunSummary {
  std::size_t finished = 0, failed = 0;        // in the study
  std::size_t ran = 0, ran_ok = 0;             // evaluated by this run
  std::size_t retried = 0;                     // failed trials this run queued again
  std::map<std::string, std::size_t> reasons;  // failure reason -> trials of this run
  bool interrupted = false;  // SIGINT/SIGTERM (evaluators/interrupt.hpp): resumable
  // "budget", "time", "exhausted", "interrupted", or a stop rule's reason
  std::string stopped_because;
};

// Evaluators built per worker from their specs.
class EvaluatorSet {
 public:
  EvaluatorSet(const EvaluatorRegistry& registry, const std::vector<std::string>& specs,
               int copies);
  std::vector<ValueSpec> provides() const;
  // Runs every evaluator of copy `k`; failures and exceptions become a failed result.
  // With isolation enabled, each call runs in a forked child (search/isolate.hpp).
  EvalResult evaluate(int k, const Architecture& a, const EvalContext& ctx);
  void set_isolation(const IsolateOptions& o) { isolate_ = o; }
  // The study directory handed to evaluators in EvalContext::study_dir.
  void set_study_dir(std::string dir) { study_dir_ = std::move(dir); }
  const std::string& study_dir() const { return study_dir_; }

 private:
  EvalResult evaluate_here(int k, const Architecture& a, const EvalContext& ctx);
  IsolateOptions isolate_;
  std::string study_dir_;
  std::vector<std::vector<std::unique_ptr<Evaluator>>> copies_;
};

// Evaluates one trial with copy `k` of the evaluators and seed `seed + id`: fills values,
// state (ok/failed), reason and eval_seconds. Every executor evaluates through this.
void evaluate_trial(EvaluatorSet& evaluators, int k, Trial& t, std::uint64_t seed);

// Runs the unfinished trials of one batch somewhere and hands each finished one to
// `finished` (which stores it; it may be called from several threads at once). Which
// executor runs a trial must not change its result: the seed is `seed + id`.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void run_batch(const std::vector<Trial*>& todo,
                         const std::function<void(Trial&)>& finished) = 0;
};

// The default: a oneTBB arena of `workers` threads in this process.
class LocalExecutor : public Executor {
 public:
  LocalExecutor(EvaluatorSet& evaluators, int workers, std::uint64_t seed);
  void run_batch(const std::vector<Trial*>& todo,
                 const std::function<void(Trial&)>& finished) override;

 private:
  EvaluatorSet& evaluators_;
  std::uint64_t seed_;
  std::unique_ptr<tbb::task_arena> arena_;
};

RunSummary run_search(Study& study, Policy& policy, SearchDomain& domain, EvaluatorSet& evaluators,
                      const std::vector<Objective>& objectives,
                      const std::vector<Constraint>& constraints, const RunOptions& opt);

}  // namespace flexnas
