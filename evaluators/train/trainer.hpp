#pragma once
// The training loop of the `train` evaluator: AdamW (Loshchilov and Hutter 2019, decoupled
// weight decay) with linear warm-up then linear or cosine decay, global-norm gradient
// clipping, mini-batches drawn from the seed, and evaluation on the test split. A diverged run
// is a result with a status, not an exception; a callback around the loop can stop it.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "evaluators/train/model.hpp"
#include "evaluators/train/task.hpp"

namespace flexnas::train {

enum class Schedule { linear, cosine };

struct TrainOptions {
  int steps = 300;                       // optimiser steps
  int batch = 32;                        // sequences per step
  double lr = 1e-3;                      // peak learning rate
  double warmup = 0.1;                   // < 1: fraction of steps; >= 1: steps (an integer)
  Schedule schedule = Schedule::linear;  // decay after warm-up, to 0 at `steps`
  double weight_decay = 0.01;            // AdamW decoupled decay, skipped for Param::decay == false
  double clip = 1.0;                     // global gradient-norm bound; 0 = no clipping
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int eval_batches = 0;    // test batches of `batch` sequences evaluated; 0 = the whole split
  std::uint64_t seed = 0;  // batch order and the per-step seed for dropout
};

// Declared options (steps, batch, lr, warmup, schedule, weight_decay, clip, beta1, beta2, eps,
// eval_batches); `seed` comes from the trial, not from the map.
const std::vector<OptionSpec>& train_option_table();
// From the evaluator's map (other keys ignored); InputError on a bad value.
TrainOptions parse_train_options(const std::map<std::string, std::string>& options);
// Every declared option's value; parse_train_options(to_options(o)) == o except `seed`.
std::map<std::string, std::string> to_options(const TrainOptions& o);

// Learning rate of step t (0-based): lr * (t + 1) / W during W warm-up steps, then from lr to
// 0 linearly or by half a cosine: lr * (1 - p) or lr * (1 + cos(pi p)) / 2, p = (t - W) /
// (steps - W).
int warmup_steps(const TrainOptions& o);
double learning_rate(const TrainOptions& o, int step);

enum class TrainStatus { ok, diverged, stopped };
const char* to_string(TrainStatus s);

struct TrainProgress {
  int step = 0;          // steps done (1-based)
  int steps = 0;         // planned
  double loss = 0;       // this step's training loss
  double lr = 0;         // this step's learning rate
  double grad_norm = 0;  // global norm before clipping
  double seconds = 0;    // since training started
};
// Called after every step; returning true stops the run (status stopped, still evaluated).
using TrainCallback = std::function<bool(const TrainProgress&)>;

struct TrainResult {
  TrainStatus status = TrainStatus::ok;
  std::string reason;          // diverged: "loss diverged at step 123 (nan)"; stopped: why
  int steps = 0;               // steps done
  std::vector<double> losses;  // training loss per step
  double train_loss = 0;       // mean over the last tenth of the steps done (at least 1)
  double test_accuracy = 0;    // correct / scored on the test split; NaN when diverged
  double test_loss = 0;        // mean cross-entropy over scored test targets; NaN when diverged
  long long test_scored = 0;
  double train_seconds = 0;  // the step loop, evaluation excluded
  double eval_seconds = 0;
  double tokens_per_second = 0;  // training tokens (batch * seq per step) / train_seconds
};

// Evaluation alone: the test split (or its first max_batches batches of `batch`).
struct Evaluation {
  double accuracy = 0, loss = 0;
  long long scored = 0;
};
Evaluation evaluate(Trainable& model, const std::vector<Example>& data, int batch, int max_batches);

// Gathers examples [idx...] into a Batch.
Batch make_batch(const std::vector<Example>& data, const std::vector<std::size_t>& idx, int seq);

TrainResult train(Trainable& model, const TaskData& task, const TrainOptions& options,
                  const TrainCallback& callback = {});

}  // namespace flexnas::train
