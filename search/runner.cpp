#include "search/runner.hpp"

#include <map>
#include <mutex>
#include <new>
#include <set>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "core/error.hpp"
#include "evaluators/interrupt.hpp"

namespace flexnas {

EvaluatorSet::EvaluatorSet(const EvaluatorRegistry& registry, const std::vector<std::string>& specs,
                           int copies) {
  for (int k = 0; k < std::max(1, copies); ++k) {
    std::vector<std::unique_ptr<Evaluator>> set;
    for (const auto& s : specs) set.push_back(registry.create(s));
    copies_.push_back(std::move(set));
  }
}

std::vector<ValueSpec> EvaluatorSet::provides() const {
  std::vector<ValueSpec> v;
  for (const auto& e : copies_.at(0))
    for (auto& s : e->provides()) v.push_back(std::move(s));
  return v;
}

EvalResult EvaluatorSet::evaluate(int k, const Architecture& a, const EvalContext& ctx) {
  if (isolate_.enabled) return run_isolated([&] { return evaluate_here(k, a, ctx); }, isolate_);
  return evaluate_here(k, a, ctx);
}

EvalResult EvaluatorSet::evaluate_here(int k, const Architecture& a, const EvalContext& ctx) {
  EvalResult all;
  for (auto& e : copies_.at(static_cast<std::size_t>(k) % copies_.size())) {
    EvalResult r;
    try {
      r = e->evaluate(a, ctx);
    } catch (const std::bad_alloc&) {
      r.status = EvalStatus::kFailed;
      r.message = "out of memory (std::bad_alloc)";
    } catch (const std::exception& ex) {
      r.status = EvalStatus::kFailed;
      r.message = std::string("exception: ") + ex.what();
    }
    if (r.status != EvalStatus::kOk) {
      all.status = EvalStatus::kFailed;
      all.message = "evaluator " + e->name() + ": " + r.message;
      return all;
    }
    for (const auto& [name, v] : r.values) all.values[name] = v;
  }
  return all;
}

void evaluate_trial(EvaluatorSet& evaluators, int k, Trial& t, std::uint64_t seed) {
  EvalContext ctx;
  ctx.seed = seed + static_cast<std::uint64_t>(t.id);
  ctx.trial = t.id;
  ctx.trial_batch = t.batch;
  ctx.study_dir = evaluators.study_dir();
  const auto e0 = std::chrono::steady_clock::now();
  auto r = evaluators.evaluate(k, t.arch, ctx);
  t.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
  t.values = r.values;
  t.state = r.status == EvalStatus::kOk ? TrialState::kOk : TrialState::kFailed;
  t.reason = r.message;
}

LocalExecutor::LocalExecutor(EvaluatorSet& evaluators, int workers, std::uint64_t seed)
    : evaluators_(evaluators),
      seed_(seed),
      arena_(std::make_unique<tbb::task_arena>(std::max(1, workers))) {}

void LocalExecutor::run_batch(const std::vector<Trial*>& todo,
                              const std::function<void(Trial&)>& finished) {
  arena_->execute([&] {
    tbb::parallel_for(std::size_t(0), todo.size(), [&](std::size_t k) {
      if (interrupt_requested()) return;  // left asked: resume runs it
      evaluate_trial(evaluators_, tbb::this_task_arena::current_thread_index(), *todo[k], seed_);
      finished(*todo[k]);
    });
  });
}

RunSummary run_search(Study& study, Policy& policy, SearchDomain& domain, EvaluatorSet& evaluators,
                      const std::vector<Objective>& objectives,
                      const std::vector<Constraint>& constraints, const RunOptions& opt) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto stored = study.trials();
  std::map<std::int64_t, std::vector<Trial>> stored_batches;
  for (auto& t : stored) stored_batches[t.batch].push_back(t);
  std::vector<Trial> all = stored;

  // Retries (resume --retry-failed) re-run failed trials as new trials of a batch of their
  // own, recorded in the study; each raises the budget by one, so they never crowd out the
  // trials the policy would propose, and replaying them asks the policy nothing.
  const auto retried = study.retries();
  std::size_t budget = opt.budget;
  for (const auto& [b, of] : retried) budget += of.size();
  bool retry_pending = opt.retry_failed;

  RunSummary summary;
  RunProgress progress;
  progress.budget = budget;
  for (const auto& t : all)
    if (t.finished()) {
      ++progress.finished;
      progress.failed += t.state == TrialState::kFailed;
    }
  progress.best = best_trial(all, objectives, constraints);
  std::mutex mu;
  bool stop = false;

  std::unique_ptr<Executor> local;
  Executor* executor = opt.executor;
  if (!executor) {
    local = std::make_unique<LocalExecutor>(evaluators, opt.workers, opt.seed);
    executor = local.get();
  }
  std::size_t asked_total = 0;
  for (std::int64_t batch = 0;; ++batch) {
    if (interrupt_requested()) {
      summary.interrupted = true;
      summary.stopped_because = "interrupted";
      break;
    }
    std::vector<Trial> trials;
    auto it = stored_batches.find(batch);
    const auto t0 = Clock::now();
    if (it != stored_batches.end() && retried.count(batch)) {
      trials = it->second;  // a retry batch: the policy proposed none of it
    } else if (it != stored_batches.end()) {
      // Replay: the policy must propose exactly what it proposed before.
      const auto again = policy.ask(it->second.size());
      bool same = again.size() == it->second.size();
      for (std::size_t i = 0; same && i < again.size(); ++i)
        same = domain.key(again[i]) == it->second[i].hash;
      if (!same)
        throw InputError(
            "study " + study.dir() + " cannot be replayed: batch " + std::to_string(batch) +
            " differs from what the policy proposes now (written by another flexnas version?)");
      trials = it->second;
    } else if (retry_pending) {
      retry_pending = false;
      std::set<std::int64_t> superseded;
      for (const auto& [b, of] : retried) superseded.insert(of.begin(), of.end());
      std::vector<Trial> again;
      for (const auto& t : all)
        if (t.state == TrialState::kFailed && !superseded.count(t.id)) again.push_back(t);
      if (again.empty()) {
        --batch;  // nothing to retry: this batch number goes to the policy
        continue;
      }
      trials = study.add_retry(batch, again);
      budget += trials.size();
      progress.budget = budget;
      summary.retried = trials.size();
    } else {
      if (asked_total >= budget) {
        if (summary.stopped_because.empty()) summary.stopped_because = "budget";
        break;
      }
      const std::size_t n = std::min(opt.batch, budget - asked_total);
      const auto archs = policy.ask(n);
      if (archs.empty()) {
        summary.stopped_because = "exhausted";
        break;
      }
      std::vector<std::string> hashes;
      for (const auto& a : archs) hashes.push_back(domain.key(a));
      const double policy_s = std::chrono::duration<double>(Clock::now() - t0).count();
      trials = study.add_asked(batch, archs, hashes, policy_s);
    }
    asked_total += trials.size();

    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < trials.size(); ++i)
      if (!trials[i].finished()) todo.push_back(i);
    if (!todo.empty()) {
      if (opt.max_seconds > 0 &&
          std::chrono::duration<double>(Clock::now() - start).count() >= opt.max_seconds) {
        summary.stopped_because = "time";
        break;
      }
      std::vector<Trial*> pending;
      for (auto i : todo) pending.push_back(&trials[i]);
      executor->run_batch(pending, [&](Trial& t) {
        // After SIGINT/SIGTERM a failure is most likely the signal itself: the trial stays
        // asked, and resume runs it again.
        if (!t.ok() && interrupt_requested()) {
          t.state = TrialState::kAsked;
          return;
        }
        if (t.ok()) {
          for (const auto& o : objectives)
            if (!t.values.count(o.name)) {
              t.state = TrialState::kFailed;
              t.reason = "no value '" + o.name + "' from the evaluators";
            }
        }
        std::lock_guard lock(mu);
        study.finish(t, objectives, constraints);
        ++summary.ran;
        summary.ran_ok += t.ok();
        if (!t.ok()) ++summary.reasons[t.reason];
        ++progress.finished;
        progress.failed += t.state == TrialState::kFailed;
        if (t.ok() && total_violation(t.values, constraints) == 0) {
          auto cand = std::vector<Trial>{t};
          if (progress.best) cand.push_back(*progress.best);
          progress.best = best_trial(cand, objectives, constraints);
        }
        progress.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
        progress.last = &t;
        if (opt.progress) opt.progress(progress);
      });
      if (interrupt_requested()) {  // the batch is incomplete: do not tell the policy
        summary.interrupted = true;
        summary.stopped_because = "interrupted";
        break;
      }
    }
    policy.tell(trials);
    for (auto& t : trials) {
      if (static_cast<std::size_t>(t.id) < all.size())
        all[static_cast<std::size_t>(t.id)] = t;
      else
        all.push_back(t);
    }
    progress.trials = &all;
    progress.best =
        best_trial(all, objectives, constraints);  // lowest id on ties, whatever finished first
    for (const auto& cb : opt.stop_when) {
      auto why = cb(progress);
      if (!why.empty()) {
        summary.stopped_because = why;
        stop = true;
        break;
      }
    }
    if (stop) break;
    if (progress.finished >= budget && !retry_pending &&
        stored_batches.upper_bound(batch) == stored_batches.end()) {
      summary.stopped_because = "budget";
      break;
    }
  }
  progress.trials = nullptr;
  summary.finished = progress.finished;
  summary.failed = progress.failed;
  return summary;
}

std::function<std::string(const RunProgress&)> stop_at_target(std::vector<Constraint> conditions) {
  return [conditions = std::move(conditions)](const RunProgress& p) -> std::string {
    if (!p.trials) return {};
    for (const auto& t : *p.trials) {
      if (!t.ok()) continue;
      bool met = true;
      for (const auto& c : conditions)
        met = met && t.values.count(c.name) && c.violation(t.values) == 0;
      if (met) return "target reached by trial " + std::to_string(t.id);
    }
    return {};
  };
}

std::function<std::string(const RunProgress&)> stop_after_patience(std::size_t n) {
  return [n](const RunProgress& p) -> std::string {
    if (!p.trials || !p.best) return {};
    std::size_t since = 0;
    for (const auto& t : *p.trials) since += t.finished() && t.id > p.best->id;
    if (since < n) return {};
    return "no improvement in " + std::to_string(since) + " trials";
  };
}

}  // namespace flexnas
