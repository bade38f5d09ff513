#include "evaluators/train/trainer.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/train/rng.hpp"

namespace flexnas::train {

const std::vector<OptionSpec>& train_option_table() {
  static const std::vector<OptionSpec> table = {
      OptionSpec::integer("steps", 300, 1, 1'000'000, "optimiser steps"),
      OptionSpec::integer("batch", 32, 1, 4096, "sequences per step (and per test batch)"),
      OptionSpec::real("lr", 0.001, 0, 10, "peak learning rate of AdamW"),
      OptionSpec::real("warmup", 0.1, 0, 1'000'000,
                       "warm-up: below 1 a fraction of steps, else a number of steps"),
      OptionSpec::choice("schedule", "linear", {"linear", "cosine"}, "decay to 0 after warm-up"),
      OptionSpec::real("weight_decay", 0.01, 0, 1,
                       "AdamW decoupled weight decay (not on biases, norm gains)"),
      OptionSpec::real("clip", 1, 0, 1e6, "global gradient-norm bound, 0 = none"),
      OptionSpec::real("beta1", 0.9, 0, 0.9999, "AdamW first-moment decay"),
      OptionSpec::real("beta2", 0.999, 0, 0.999999, "AdamW second-moment decay"),
      OptionSpec::real("eps", 1e-8, 1e-12, 1, "AdamW denominator term"),
      OptionSpec::integer("eval_batches", 0, 0, 1'000'000,
                          "test batches evaluated, 0 = the whole test split"),
  };
  return table;
}

TrainOptions parse_train_options(const std::map<std::string, std::string>& options) {
  const Options r("train", train_option_table(), declared_only(options, train_option_table()));
  TrainOptions o;
  o.steps = r.integer_as<int>("steps");
  o.batch = r.integer_as<int>("batch");
  o.lr = r.real("lr");
  o.warmup = r.real("warmup");
  if (o.warmup >= 1 && o.warmup != std::floor(o.warmup))
    throw InputError("train: option warmup: " + quote_input(r.text("warmup")) +
                     " is not a fraction below 1 or a whole number of steps");
  o.schedule = r.text("schedule") == "cosine" ? Schedule::cosine : Schedule::linear;
  o.weight_decay = r.real("weight_decay");
  o.clip = r.real("clip");
  o.beta1 = r.real("beta1");
  o.beta2 = r.real("beta2");
  o.eps = r.real("eps");
  o.eval_batches = r.integer_as<int>("eval_batches");
  return o;
}

std::map<std::string, std::string> to_options(const TrainOptions& o) {
  auto real = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return std::string(buf);
  };
  return {{"steps", std::to_string(o.steps)},
          {"batch", std::to_string(o.batch)},
          {"lr", real(o.lr)},
          {"warmup", real(o.warmup)},
          {"schedule", o.schedule == Schedule::cosine ? "cosine" : "linear"},
          {"weight_decay", real(o.weight_decay)},
          {"clip", real(o.clip)},
          {"beta1", real(o.beta1)},
          {"beta2", real(o.beta2)},
          {"eps", real(o.eps)},
          {"eval_batches", std::to_string(o.eval_batches)}};
}

int warmup_steps(const TrainOptions& o) {
  const double w = o.warmup < 1 ? std::round(o.warmup * o.steps) : o.warmup;
  return static_cast<int>(std::min<double>(w, o.steps));
}

double learning_rate(const TrainOptions& o, int step) {
  const int w = warmup_steps(o);
  if (step < w) return o.lr * (step + 1) / w;
  const double p = static_cast<double>(step - w) / std::max(1, o.steps - w);
  if (o.schedule == Schedule::cosine) return o.lr * 0.5 * (1 + std::cos(std::numbers::pi * p));
  return o.lr * (1 - p);
}

const char* to_string(TrainStatus s) {
  switch (s) {
    case TrainStatus::ok:
      return "ok";
    case TrainStatus::diverged:
      return "diverged";
    case TrainStatus::stopped:
      return "stopped";
  }
  return "?";
}

Batch make_batch(const std::vector<Example>& data, const std::vector<std::size_t>& idx, int seq) {
  Batch b;
  b.batch = static_cast<int>(idx.size());
  b.seq = seq;
  b.tokens.reserve(idx.size() * static_cast<std::size_t>(seq));
  for (auto i : idx) {
    const auto& e = data[i];
    assert(static_cast<int>(e.tokens.size()) == seq);
    b.tokens.insert(b.tokens.end(), e.tokens.begin(), e.tokens.end());
    b.targets.insert(b.targets.end(), e.targets.begin(), e.targets.end());
  }
  return b;
}

Evaluation evaluate(Trainable& model, const std::vector<Example>& data, int batch,
                    int max_batches) {
  Evaluation r;
  double loss_sum = 0;
  long long correct = 0;
  const int seq = data.empty() ? 0 : static_cast<int>(data.front().tokens.size());
  int done = 0;
  for (std::size_t start = 0; start < data.size(); start += static_cast<std::size_t>(batch)) {
    if (max_batches > 0 && done++ >= max_batches) break;
    std::vector<std::size_t> idx;
    for (std::size_t i = start; i < std::min(data.size(), start + static_cast<std::size_t>(batch));
         ++i)
      idx.push_back(i);
    const auto s = model.step(make_batch(data, idx, seq), false, 0);
    loss_sum += s.loss * s.scored;
    correct += s.correct;
    r.scored += s.scored;
  }
  if (r.scored > 0) {
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.scored);
    r.loss = loss_sum / static_cast<double>(r.scored);
  }
  return r;
}

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char* kind(double x) {
  return std::isnan(x) ? "nan" : "inf";
}

}  // namespace

TrainResult train(Trainable& model, const TaskData& task, const TrainOptions& o,
                  const TrainCallback& callback) {
  assert(!task.train.empty() && o.steps > 0 && o.batch > 0);
  TrainResult res;
  const auto params = model.params();
  std::vector<Mat> m(params.size()), v(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    m[i] = Mat::Zero(params[i]->value.rows(), params[i]->value.cols());
    v[i] = m[i];
  }
  // Batches walk epoch permutations of the training split.
  Rng order_rng(derive_seed(o.seed, 0));
  const std::uint64_t step_seeds = derive_seed(o.seed, 1);
  std::vector<std::size_t> order(task.train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  order_rng.shuffle(order);
  std::size_t pos = 0;
  std::vector<std::size_t> idx(static_cast<std::size_t>(o.batch));

  const auto t0 = Clock::now();
  for (int step = 0; step < o.steps; ++step) {
    for (auto& i : idx) {
      if (pos == order.size()) order_rng.shuffle(order), pos = 0;
      i = order[pos++];
    }
    for (auto* p : params) {
      if (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols())
        p->grad.resize(p->value.rows(), p->value.cols());
      p->grad.setZero();
    }
    const auto s = model.step(make_batch(task.train, idx, task.seq), true,
                              derive_seed(step_seeds, static_cast<std::uint64_t>(step)));
    res.steps = step + 1;
    if (!std::isfinite(s.loss)) {
      res.status = TrainStatus::diverged;
      res.reason = "loss diverged at step " + std::to_string(step + 1) + " (" + kind(s.loss) + ")";
      break;
    }
    res.losses.push_back(s.loss);
    double sq = 0;
    for (auto* p : params) sq += p->grad.cast<double>().squaredNorm();
    const double norm = std::sqrt(sq);
    if (!std::isfinite(norm)) {
      res.status = TrainStatus::diverged;
      res.reason =
          "gradient diverged at step " + std::to_string(step + 1) + " (" + kind(norm) + ")";
      break;
    }
    // torch.nn.utils.clip_grad_norm_'s rule.
    const double scale = (o.clip > 0 && norm > o.clip) ? o.clip / (norm + 1e-6) : 1.0;
    const double lr = learning_rate(o, step);
    const double bc1 = 1 - std::pow(o.beta1, step + 1), bc2 = 1 - std::pow(o.beta2, step + 1);
    const auto b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
    const auto step_size = static_cast<float>(lr / bc1);
    const auto inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2));
    const auto eps = static_cast<float>(o.eps);
    const auto gscale = static_cast<float>(scale);
    const auto keep = static_cast<float>(1 - lr * o.weight_decay);
    for (std::size_t i = 0; i < params.size(); ++i) {
      Param& p = *params[i];
      float* w = p.value.data();
      const float* g = p.grad.data();
      float* mi = m[i].data();
      float* vi = v[i].data();
      const bool decay = p.decay && o.weight_decay > 0;
      for (Eigen::Index k = 0, n = p.value.size(); k < n; ++k) {
        const float gk = g[k] * gscale;
        mi[k] = b1 * mi[k] + (1 - b1) * gk;
        vi[k] = b2 * vi[k] + (1 - b2) * gk * gk;
        if (decay) w[k] *= keep;
        w[k] -= step_size * mi[k] / (std::sqrt(vi[k]) * inv_sqrt_bc2 + eps);
      }
    }
    if (callback) {
      TrainProgress pr{step + 1, o.steps, s.loss, lr, norm, since(t0)};
      if (callback(pr)) {
        res.status = TrainStatus::stopped;
        res.reason = "stopped by the callback after step " + std::to_string(step + 1);
        break;
      }
    }
  }
  res.train_seconds = since(t0);
  const int done = static_cast<int>(res.losses.size());
  if (done > 0) {
    const int tail = std::max(1, done / 10);
    double sum = 0;
    for (int i = done - tail; i < done; ++i) sum += res.losses[static_cast<std::size_t>(i)];
    res.train_loss = sum / tail;
  }
  if (res.train_seconds > 0)
    res.tokens_per_second = static_cast<double>(done) * o.batch * task.seq / res.train_seconds;
  if (res.status == TrainStatus::diverged) {
    res.train_loss = res.test_accuracy = res.test_loss = std::nan("");
    return res;
  }
  const auto t1 = Clock::now();
  const auto e = evaluate(model, task.test, o.batch, o.eval_batches);
  res.eval_seconds = since(t1);
  res.test_accuracy = e.accuracy;
  res.test_loss = e.loss;
  res.test_scored = e.scored;
  return res;
}

}  // namespace flexnas::train
