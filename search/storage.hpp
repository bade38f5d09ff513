#pragma once
// Study storage: one directory per search, SQLite (WAL, synchronous=FULL) as the source
// of truth. Every asked candidate and every finished trial is committed before the next
// step. Beside it, for people and other tools: trials.jsonl (append-only, one finished
// trial per line in completion order), pareto.json and best.json (rewritten atomically
// after each trial). An exclusive lock (flock on DIR/lock) keeps a second process out.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/objective.hpp"
#include "search/trial.hpp"

struct sqlite3;

namespace flexnas {

class Study {
 public:
  // Creates DIR (owner-only permissions) and its database with `config` (the search's
  // definition: space or pool, evaluators, objectives, policy, seed, ...). Throws
  // InputError if DIR already holds a study.
  static std::unique_ptr<Study> create(const std::string& dir, const nlohmann::json& config);
  // Opens an existing study (for resume and export); InputError if there is none. With
  // `wait_lock_s`, a study another process holds is waited for that long (ask and tell of
  // parallel workers take turns) before the "in use" error.
  static std::unique_ptr<Study> open(const std::string& dir, bool lock = true,
                                     double wait_lock_s = 0);
  ~Study();
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }

  // Every trial (asked or finished) in id order.
  std::vector<Trial> trials() const;
  std::int64_t next_id() const;
  std::int64_t next_batch() const;
  // Records proposals of one batch in one transaction; returns them with their ids.
  std::vector<Trial> add_asked(std::int64_t batch, const std::vector<Architecture>& archs,
                               const std::vector<std::string>& hashes, double policy_seconds);
  // Records new trials re-running the architectures of `failed` (resume --retry-failed) as
  // batch `batch`, and which trials they retry, in one transaction.
  std::vector<Trial> add_retry(std::int64_t batch, const std::vector<Trial>& failed);
  // Retry batches so far: batch -> the ids of the trials it re-runs.
  std::map<std::int64_t, std::vector<std::int64_t>> retries() const;
  // Records a finished trial (state ok or failed), appends it to trials.jsonl and
  // rewrites pareto.json and best.json.
  void finish(const Trial& t, const std::vector<Objective>& objectives,
              const std::vector<Constraint>& constraints);
  // Rewrites trials.jsonl, pareto.json and best.json from the database (after a crash the
  // JSON files may lag the database by one trial).
  void rewrite_exports(const std::vector<Objective>& objectives,
                       const std::vector<Constraint>& constraints);

  // One trial as JSON: model, values, status, and "feasible" with "violations" (each
  // constraint's amount of violation, 0 when met; failed trials are not feasible).
  static nlohmann::ordered_json trial_json(const Trial& t,
                                           const std::vector<Constraint>& constraints = {});
  // Ask/tell (search/ask_tell.hpp): trials handed out to a caller, with when they were
  // handed out last (seconds since the epoch) and how often. A table of its own, made on
  // the first hand-out, so studies of `search` are untouched.
  struct Issue {
    double at = 0;
    int times = 0;
  };
  void issue(std::int64_t id, double at);
  std::map<std::int64_t, Issue> issued() const;

  // The constraints of the study's definition.
  std::vector<Constraint> constraints() const;

 private:
  Study(std::string dir, sqlite3* db, int lock_fd);
  void exec(const std::string& sql) const;
  // Inserts t as an asked trial (inside the caller's transaction).
  void insert_asked(const Trial& t);
  // pareto.json and best.json from the current Pareto set and best trial.
  void write_summaries() const;

  std::string dir_;
  // The Pareto set and best trial, kept up to date trial by trial (loaded from the study
  // on the first finish of a process), so finishing a trial costs O(Pareto set), not O(N):
  // under constrained domination, a trial dominated now stays dominated.
  bool summaries_ready_ = false;
  std::vector<Trial> front_;
  std::optional<Trial> best_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  nlohmann::json config_;
};

// Pareto set of the finished ok trials (constrained domination), in id order.
std::vector<Trial> pareto_set(const std::vector<Trial>& trials,
                              const std::vector<Objective>& objectives,
                              const std::vector<Constraint>& constraints);
// Best finished trial by the first objective among feasible ones (nullopt if none).
std::optional<Trial> best_trial(const std::vector<Trial>& trials,
                                const std::vector<Objective>& objectives,
                                const std::vector<Constraint>& constraints);

}  // namespace flexnas
