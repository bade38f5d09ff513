#pragma once
// Ask/tell: a study driven from outside flexnas. `ask` hands out the next trial of the
// study's policy, the caller evaluates it however it likes (its own training, another
// language) and `tell`s the values back. The policy proposes the same batches as `search`
// does: a batch is asked of the policy only once every trial of the batch before it was
// told, and the policy is told a batch in id order, so a study driven by ask/tell with the
// same values holds the same trials as `search` with the same seed. Between processes the
// policy's state is rebuilt the way `resume` rebuilds it: every stored batch is asked again
// of a fresh policy (and must come out the same) and every finished batch told to it.
// Everything is committed to the study's SQLite database before a call returns, so a
// process killed in the middle of ask or tell loses nothing (docs/python.md).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluators/evaluator.hpp"
#include "search/domain.hpp"
#include "search/policy.hpp"
#include "search/storage.hpp"

namespace flexnas {

// The definition of a study, as `search` and `ask` take it: what to search, how to score
// it, which policy, how long.
struct StudyDefinition {
  std::string space;                     // built-in name or YAML file; "" with a pool alone
  std::vector<Architecture> pool;        // search this finite list instead (may use space)
  std::vector<std::string> evaluators;   // "name:key=value,..." specs
  std::vector<std::string> objectives;   // "accuracy:max"; the first is the primary
  std::vector<std::string> constraints;  // "params<=5e6"
  std::string policy = "auto";           // auto: evolution for one objective, nsga2 for several
  std::size_t budget = 100;              // finished trials the study ends with
  std::size_t batch = 4;                 // candidates per ask of the policy
  std::uint64_t seed = 0;
  std::vector<std::string> stop_at;  // early stop once a trial meets every condition
  std::size_t patience = 0;          // early stop after so many trials without a better best
  // The study's stored definition (its "config"): the space as YAML, the pool as model
  // dicts, objectives and constraints in canonical spelling, `auto` resolved. Throws
  // InputError on a bad space, objective or constraint.
  nlohmann::json config() const;
};

// What a stored definition builds.
struct StudySetup {
  nlohmann::json config;
  std::unique_ptr<SearchDomain> domain;
  std::vector<Objective> objectives;
  std::vector<Constraint> constraints;
  std::vector<Constraint> stop_at;
};
StudySetup study_setup(const nlohmann::json& config);

// The objective, constraint and stop-rule value names that no evaluator of the definition
// provides: an ask/tell study gets them from `tell`. Throws InputError on an unknown
// evaluator.
std::vector<std::string> told_value_names(const nlohmann::json& config,
                                          const EvaluatorRegistry& registry);

// What ask gives: a trial to evaluate, nothing now (every trial of the open batch is out
// and the policy needs their values before it can propose more), or the end of the study.
struct AskResult {
  enum class Status { kTrial, kWait, kDone };
  Status status = Status::kDone;
  Trial trial;               // kTrial
  int times_given = 0;       // kTrial: 1 the first time, 2 when given again, ...
  std::string done_because;  // kDone: "budget", "exhausted" or a stop rule's reason
  // kWait: the trials out (handed out, not told yet) and when each was last handed out.
  std::vector<std::pair<std::int64_t, double>> out;
};

class AskTell {
 public:
  // Creates the study DIR from `config` (StudyDefinition::config()) with a lease: a trial
  // handed out and not told for `lease_seconds` is handed out again (0: only with
  // reissue). The policy and the space are checked first: a refused definition leaves no
  // directory. `registry` (kept; it must outlive this) runs the study's evaluators at tell
  // time; null: the built-in evaluators.
  static std::unique_ptr<AskTell> create(const std::string& dir, nlohmann::json config,
                                         double lease_seconds,
                                         const EvaluatorRegistry* registry = nullptr);
  // Opens an existing study (one made by ask or by search), waiting up to `wait_lock_s`
  // for another process (an ask or tell of another worker) to let go of it.
  static std::unique_ptr<AskTell> open(const std::string& dir, double wait_lock_s = 0,
                                       const EvaluatorRegistry* registry = nullptr);
  ~AskTell();
  AskTell(const AskTell&) = delete;
  AskTell& operator=(const AskTell&) = delete;

  Study& study() { return *study_; }
  const StudySetup& setup() const { return setup_; }
  double lease_seconds() const { return lease_; }

  // The next trial: one of the open batch never handed out, else one whose lease ran out
  // (oldest first), else with `reissue` the one handed out longest ago; when the open
  // batch is all told, a new batch of the policy (within the budget). `now`: seconds since
  // the epoch (the lease clock); the overload without it reads the system clock.
  AskResult ask(bool reissue, double now);
  AskResult ask(bool reissue = false);
  // Records a trial's values (the study's evaluators, if it has any, run first and add
  // theirs). InputError: no such trial, never handed out, already told, an objective or
  // constraint value missing, or a value the evaluators already provide.
  Trial tell(std::int64_t id, const Values& values, double now);
  Trial tell(std::int64_t id, const Values& values);
  Trial tell_failed(std::int64_t id, const std::string& reason, double now);
  Trial tell_failed(std::int64_t id, const std::string& reason);

  // Every trial of the study in id order (asked ones included).
  const std::vector<Trial>& trials() const { return all_; }

 private:
  AskTell() = default;
  void load();
  void replay();  // builds the policy from the stored batches (first ask only)
  const Trial& checked_open(std::int64_t id) const;
  Trial finish(Trial t, double now);
  Trial finish_failed(Trial t, const std::string& reason, double now);
  // After a batch was told: a stop rule's reason, or "".
  std::string stop_reason(std::int64_t upto_batch) const;
  std::vector<Trial> batch_trials(std::int64_t batch) const;

  std::unique_ptr<Study> study_;
  StudySetup setup_;
  double lease_ = 0;
  const EvaluatorRegistry* registry_ = nullptr;
  std::unique_ptr<EvaluatorRegistry> own_registry_;
  std::vector<Trial> all_;
  std::map<std::int64_t, std::vector<std::int64_t>> retried_;
  // Policy state, built by the first ask.
  std::unique_ptr<Policy> policy_;
  std::optional<std::int64_t> open_batch_;
  std::int64_t next_batch_ = 0;
  std::size_t asked_total_ = 0, budget_ = 0;
  std::string done_because_;
};

}  // namespace flexnas
