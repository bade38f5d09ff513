#pragma once
// Process isolation for evaluations (`flexnas search --isolate`): each evaluation runs in a
// forked child that writes its EvalResult as JSON to a pipe and _exits; the parent waits with
// a deadline. A segfault, abort, hang, out-of-memory or unreadable answer becomes a failed
// EvalResult whose message says why, so the search goes on.
//
// Caveat: fork() is called from a TBB worker thread of a multi-threaded process. Only the
// calling thread exists in the child; a lock another thread held at fork time stays held
// there. glibc's malloc and stdio are reset for the child, so evaluators that compute on the
// architecture (params, flops, sleep, table, fault) are safe. Evaluators that start or wait
// on thread pools of their own (TBB, OpenMP, oneDNN) in the child may deadlock: the deadline
// (--eval-timeout) turns that into a failed trial rather than a hung search.
#include <cstddef>
#include <functional>

#include "evaluators/evaluator.hpp"

namespace flexnas {

struct IsolateOptions {
  bool enabled = false;
  double timeout_seconds = 0;  // 0: no deadline
  // RLIMIT_AS of the child: this much on top of what it maps at fork; 0: unlimited.
  std::size_t memory_mb = 0;
};

// Runs `fn` in a forked child and returns its result; never throws for what the child does.
EvalResult run_isolated(const std::function<EvalResult()>& fn, const IsolateOptions& opt);

// EvalResult <-> one line of JSON (the pipe protocol); parse throws std::runtime_error.
std::string eval_result_to_json(const EvalResult& r);
EvalResult eval_result_from_json(const std::string& text);

}  // namespace flexnas
