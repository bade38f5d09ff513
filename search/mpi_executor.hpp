#pragma once
// Cluster execution over MPI (flexnas search|resume --executor mpi). Rank 0 runs the policy
// and owns the study; ranks 1..K-1 evaluate one trial at a time. Rank 0 sends each worker
// the evaluator specs and seed once, then (trial id, model JSON) per trial, and receives
// values, status, reason and eval_seconds. A worker that does not answer within the rank
// timeout, or whose messages fail, is dropped and its trial re-queued on another rank (on
// rank 0 itself when no worker is left). Results do not depend on which rank evaluated.
// MPI is initialised only by MpiSession, i.e. only with --executor mpi.
#include <memory>
#include <string>
#include <vector>

#include "search/runner.hpp"

namespace flexnas {

// MPI_Init on construction, errors returned instead of aborting the job. On rank 0 the
// destructor tells every worker rank to stop, then MPI_Finalize runs.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const;
  int size() const;
  // Rank 0's command succeeded: the exit status when MPI_Finalize has to be skipped (a rank
  // was lost) is 0, else 1.
  void succeeded() { ok_ = true; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool ok_ = false;
};

// Ranks >= 1: serves trials from rank 0 until told to stop. Writes its pid to
// $FLEXNAS_MPI_PIDFILE.<rank> when that variable is set (tests kill workers by pid).
void mpi_worker_loop(const MpiSession& session, const EvaluatorRegistry& registry);

// Rank 0. `local` evaluates on rank 0 when every worker is gone.
class MpiExecutor : public Executor {
 public:
  MpiExecutor(const MpiSession& session, const std::vector<std::string>& specs, std::uint64_t seed,
              double rank_timeout_seconds, EvaluatorSet& local);
  ~MpiExecutor() override;
  void run_batch(const std::vector<Trial*>& todo,
                 const std::function<void(Trial&)>& finished) override;
  std::size_t live_workers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flexnas
