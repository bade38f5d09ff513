#include "evaluators/train/trainer.hpp"

#include <cmath>
#include <set>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/train/rng.hpp"
#include "tests/test_data.hpp"

using flexnas::InputError;
namespace test = flexnas::test;
using namespace flexnas::train;

namespace {

// Softmax regression on the bag of tokens (token counts / seq, pad excluded), pooled labels,
// with its own analytic gradient: dL/dlogits = (softmax - onehot) / B.
class BagOfTokens : public Trainable {
 public:
  BagOfTokens(int vocab, int classes) {
    w_.name = "w";
    w_.value = Mat::Zero(vocab, classes);
    b_.name = "b";
    b_.value = Mat::Zero(1, classes);
    b_.decay = false;
  }
  std::vector<Param*> params() override { return {&w_, &b_}; }
  StepResult step(const Batch& batch, bool train, std::uint64_t) override {
    const auto classes = w_.value.cols();
    const float scale = 1.0f / static_cast<float>(batch.seq);
    auto token = [&](int i, int j) {
      return batch.tokens[static_cast<std::size_t>(i * batch.seq + j)];
    };
    // logits = x W + b with x the scaled token counts, summed sparsely.
    Mat logits(batch.batch, classes);
    for (int i = 0; i < batch.batch; ++i) {
      logits.row(i) = b_.value.row(0);
      for (int j = 0; j < batch.seq; ++j)
        if (token(i, j) != 0) logits.row(i) += scale * w_.value.row(token(i, j));
    }
    StepResult r;
    Mat d = Mat::Zero(batch.batch, classes);
    for (int i = 0; i < batch.batch; ++i) {
      const int y = batch.targets[static_cast<std::size_t>(i)];
      const float mx = logits.row(i).maxCoeff();
      double z = 0;
      for (Eigen::Index c = 0; c < classes; ++c)
        z += std::exp(static_cast<double>(logits(i, c) - mx));
      r.loss += std::log(z) - static_cast<double>(logits(i, y) - mx);
      Eigen::Index arg = 0;
      logits.row(i).maxCoeff(&arg);
      r.correct += arg == y;
      ++r.scored;
      for (Eigen::Index c = 0; c < classes; ++c)
        d(i, c) = static_cast<float>(std::exp(static_cast<double>(logits(i, c) - mx)) / z -
                                     (c == y ? 1 : 0)) /
                  static_cast<float>(batch.batch);
    }
    r.loss /= batch.batch;
    if (train) {
      // dW = x^T d, db = sum of d over the batch.
      for (int i = 0; i < batch.batch; ++i)
        for (int j = 0; j < batch.seq; ++j)
          if (token(i, j) != 0) w_.grad.row(token(i, j)) += scale * d.row(i);
      b_.grad += d.colwise().sum();
    }
    return r;
  }

 private:
  Param w_, b_;
};

// A per-token classifier that sees only a window of positions around each token (a
// convolution with a one-hot input and no mixing beyond it): logits(i) = b + sum over
// offsets o of W[o][token(i + o)]. Targets -1 are not scored.
class WindowModel : public Trainable {
 public:
  WindowModel(int vocab, int classes, int window) : vocab_(vocab), half_(window / 2) {
    w_.name = "w";
    w_.value = Mat::Zero(window * vocab, classes);
    b_.name = "b";
    b_.value = Mat::Zero(1, classes);
    b_.decay = false;
  }
  std::vector<Param*> params() override { return {&w_, &b_}; }
  StepResult step(const Batch& batch, bool train, std::uint64_t) override {
    const auto classes = w_.value.cols();
    StepResult r;
    Eigen::RowVectorXf logits(classes), d(classes);
    for (int i = 0; i < batch.batch; ++i)
      for (int j = 0; j < batch.seq; ++j) {
        const int y = batch.targets[static_cast<std::size_t>(i * batch.seq + j)];
        if (y < 0) continue;
        auto row = [&](int o) {
          const int t = batch.tokens[static_cast<std::size_t>(i * batch.seq + j + o)];
          return static_cast<Eigen::Index>((o + half_) * vocab_ + t);
        };
        const int lo = std::max(-half_, -j), hi = std::min(half_, batch.seq - 1 - j);
        logits = b_.value.row(0);
        for (int o = lo; o <= hi; ++o) logits += w_.value.row(row(o));
        const float mx = logits.maxCoeff();
        const Eigen::RowVectorXf e = (logits.array() - mx).exp().matrix();
        const float z = e.sum();
        r.loss += std::log(static_cast<double>(z)) - static_cast<double>(logits(y) - mx);
        Eigen::Index arg = 0;
        logits.maxCoeff(&arg);
        r.correct += arg == y;
        ++r.scored;
        if (!train) continue;
        d = e / z;
        d(y) -= 1;
        for (int o = lo; o <= hi; ++o) w_.grad.row(row(o)) += d;
        b_.grad.row(0) += d;
      }
    if (r.scored > 0) {
      r.loss /= r.scored;
      if (train) {
        w_.grad /= static_cast<float>(r.scored);
        b_.grad /= static_cast<float>(r.scored);
      }
    }
    return r;
  }

 private:
  Param w_, b_;
  int vocab_, half_;
};

// label 1 when tokens 1..3 outnumber tokens 4..6 (ties redrawn): linear in the token counts.
TaskData count_task(int train, int test, std::uint64_t seed) {
  TaskData t;
  t.name = "count";
  t.vocab = 10;
  t.num_classes = 2;
  t.seq = 16;
  Rng r(seed);
  auto make = [&](std::vector<Example>& out, int n) {
    while (static_cast<int>(out.size()) < n) {
      Example e;
      int balance = 0;
      for (int j = 0; j < t.seq; ++j) {
        const int tok = r.between(1, 9);
        e.tokens.push_back(tok);
        balance += tok <= 3 ? 1 : tok <= 6 ? -1 : 0;
      }
      if (balance == 0) continue;
      e.targets = {balance > 0 ? 1 : 0};
      out.push_back(e);
    }
  };
  make(t.train, train);
  make(t.test, test);
  int ones = 0;
  for (const auto& e : t.test) ones += e.targets[0];
  t.majority_baseline = std::max(ones, test - ones) / static_cast<double>(test);
  return t;
}

// Returns fixed gradients (one per call from `grads`, the last repeated) and a loss.
class Scripted : public Trainable {
 public:
  std::vector<Param> ps;
  std::vector<std::vector<Mat>> grads;  // per call, per param
  std::vector<double> losses;           // per call, the last repeated
  std::vector<std::uint64_t> seeds;
  int calls = 0;
  std::vector<Param*> params() override {
    std::vector<Param*> out;
    for (auto& p : ps) out.push_back(&p);
    return out;
  }
  StepResult step(const Batch& b, bool train, std::uint64_t seed) override {
    StepResult r;
    r.scored = b.batch;
    if (!train) return r;
    const auto k =
        static_cast<std::size_t>(std::min<int>(calls, static_cast<int>(grads.size()) - 1));
    for (std::size_t i = 0; i < ps.size(); ++i) ps[i].grad += grads[k][i];
    r.loss = losses[std::min<std::size_t>(static_cast<std::size_t>(calls), losses.size() - 1)];
    seeds.push_back(seed);
    ++calls;
    return r;
  }
};

Mat row(std::initializer_list<float> v) {
  Mat m(1, static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) m(0, i++) = x;
  return m;
}

Param param(const char* name, Mat value, bool decay) {
  Param p;
  p.name = name;
  p.value = std::move(value);
  p.decay = decay;
  return p;
}

TaskData tiny_task() {
  TaskData t;
  t.seq = 2;
  t.num_classes = 2;
  t.vocab = 3;
  t.train = {{{1, 2}, {0}}, {{2, 1}, {1}}};
  t.test = t.train;
  return t;
}

}  // namespace

TEST_CASE("trainer_options_table_parses_and_validates", "[trainer]") {
  const auto d = parse_train_options({});
  const TrainOptions def;
  CHECK(d.steps == def.steps);
  CHECK(d.batch == def.batch);
  CHECK(d.lr == def.lr);
  CHECK(d.warmup == def.warmup);
  CHECK(d.weight_decay == def.weight_decay);
  CHECK(d.clip == def.clip);
  CHECK(d.eps == def.eps);
  CHECK(d.beta2 == def.beta2);
  for (const auto& o : train_option_table()) CHECK(!o.help().empty());
  const auto o = parse_train_options({{"steps", "50"},
                                      {"schedule", "cosine"},
                                      {"lr", "3e-4"},
                                      {"warmup", "5"},
                                      {"task", "ignored"}});
  CHECK(o.steps == 50);
  CHECK(o.schedule == Schedule::cosine);
  CHECK(o.lr == Approx(3e-4));
  CHECK(warmup_steps(o) == 5);
  // No name is declared twice across the two tables.
  std::set<std::string> names;
  for (const auto& t : task_options()) CHECK(names.insert(t.name).second);
  for (const auto& t : train_option_table()) CHECK(names.insert(t.name).second);
  // Round trip: every declared option, and back.
  auto custom = o;
  custom.weight_decay = 0.1234567;
  custom.eval_batches = 3;
  const auto map = to_options(custom);
  CHECK(map.size() == train_option_table().size());
  CHECK(to_options(parse_train_options(map)) == map);
  CHECK(parse_train_options(map).weight_decay == custom.weight_decay);
  CHECK_THROWS_WITH(parse_train_options({{"steps", "0"}}),
                    "train: option steps: '0' is out of range (an integer in [1, 1000000])");
  CHECK_THROWS_WITH(parse_train_options({{"lr", "fast"}}),
                    "train: option lr: 'fast' is not a finite number in [0, 10]");
  CHECK_THROWS_WITH(parse_train_options({{"lr", "nan"}}),
                    "train: option lr: 'nan' is not a finite number in [0, 10]");
  CHECK_THROWS_WITH(parse_train_options({{"schedule", "step"}}),
                    "train: option schedule: 'step' is not one of linear, cosine");
  CHECK_THROWS_WITH(
      parse_train_options({{"warmup", "2.5"}}),
      "train: option warmup: '2.5' is not a fraction below 1 or a whole number of steps");
}

TEST_CASE("trainer_learning_rate_schedule_at_known_steps", "[trainer]") {
  TrainOptions o;
  o.steps = 100;
  o.lr = 1.0;
  o.warmup = 0.1;
  CHECK(warmup_steps(o) == 10);
  CHECK(learning_rate(o, 0) == Approx(0.1));
  CHECK(learning_rate(o, 4) == Approx(0.5));
  CHECK(learning_rate(o, 9) == Approx(1.0));
  CHECK(learning_rate(o, 10) == Approx(1.0));
  CHECK(learning_rate(o, 40) == Approx(2.0 / 3.0));  // p = 30 / 90
  CHECK(learning_rate(o, 55) == Approx(0.5));
  CHECK(learning_rate(o, 99) == Approx(1.0 / 90.0));
  o.schedule = Schedule::cosine;
  CHECK(learning_rate(o, 9) == Approx(1.0));
  CHECK(learning_rate(o, 40) == Approx(0.75));  // (1 + cos(pi / 3)) / 2
  CHECK(learning_rate(o, 55) == Approx(0.5));
  CHECK(learning_rate(o, 85) == Approx(0.5 * (1 + std::cos(M_PI * 75.0 / 90.0))));
  o.warmup = 0;
  CHECK(learning_rate(o, 0) == Approx(1.0));
  o.warmup = 20;  // steps
  CHECK(warmup_steps(o) == 20);
  CHECK(learning_rate(o, 0) == Approx(0.05));
}

TEST_CASE("trainer_adamw_two_steps_by_hand", "[trainer]") {
  Scripted m;
  m.ps = {param("w", row({1.0f, -2.0f}), true), param("b", row({0.5f}), false)};
  m.grads = {{row({0.1f, -0.3f}), row({2.0f})}, {row({0.2f, 0.1f}), row({-1.0f})}};
  m.losses = {1.0};
  TrainOptions o;
  o.steps = 2;
  o.batch = 1;
  o.lr = 0.1;
  o.warmup = 0;  // lr 0.1 then 0.05 (linear decay)
  o.weight_decay = 0.1;
  o.clip = 0;
  const auto r = train(m, tiny_task(), o);
  REQUIRE(r.status == TrainStatus::ok);
  // Step 1: m^ = g, v^ = g^2, so the Adam step is lr * sign(g) (eps 1e-8 aside):
  // w = w * (1 - 0.1 * 0.1) - 0.1 * sign(g) = [0.99 - 0.1, -1.98 + 0.1] = [0.89, -1.88];
  // b has no decay: 0.5 - 0.1 = 0.4.
  // Step 2 (lr 0.05): m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2, bias corrections
  // 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999.
  auto second = [](double p, double g1, double g2, double decay) {
    const double mm = 0.9 * 0.1 * g1 + 0.1 * g2;
    const double vv = 0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2;
    return p * (1 - 0.05 * decay) - 0.05 * (mm / 0.19) / (std::sqrt(vv / 0.001999) + 1e-8);
  };
  const Mat& w = m.ps[0].value;
  const Mat& b = m.ps[1].value;
  CHECK(w(0, 0) == Approx(second(0.89, 0.1, 0.2, 0.1)).epsilon(1e-5));
  CHECK(w(0, 1) == Approx(second(-1.88, -0.3, 0.1, 0.1)).epsilon(1e-5));
  CHECK(b(0, 0) == Approx(second(0.4, 2.0, -1.0, 0.0)).epsilon(1e-5));
  // The same numbers written out: w0 = 0.89 * 0.995 - 0.05 * (0.029 / 0.19) / sqrt(4.999e-5 /
  // 0.001999).
  CHECK(w(0, 0) ==
        Approx(0.8855500 - 0.05 * (0.029 / 0.19) / std::sqrt(4.999e-5 / 0.001999)).epsilon(1e-5));
}

TEST_CASE("trainer_clips_the_global_gradient_norm", "[trainer]") {
  // With eps = 1 the Adam step g / (|g| + 1) depends on the gradient's scale, so clipping shows.
  auto run = [](double clip) {
    Scripted m;
    m.ps = {param("w", row({0.0f}), true), param("v", row({0.0f}), true)};
    m.grads = {{row({3.0f}), row({4.0f})}};  // global norm 5
    m.losses = {1.0};
    TrainOptions o;
    o.steps = 1;
    o.batch = 1;
    o.lr = 1;
    o.warmup = 0;
    o.weight_decay = 0;
    o.eps = 1;
    o.clip = clip;
    double seen = 0;
    train(m, tiny_task(), o, [&](const TrainProgress& p) {
      seen = p.grad_norm;
      return false;
    });
    CHECK(seen == Approx(5.0));
    return std::make_pair(m.ps[0].value(0, 0), m.ps[1].value(0, 0));
  };
  const auto clipped = run(1.0);  // g -> (0.6, 0.8)
  CHECK(clipped.first == Approx(-0.6 / 1.6).epsilon(1e-5));
  CHECK(clipped.second == Approx(-0.8 / 1.8).epsilon(1e-5));
  const auto free = run(0.0);
  CHECK(free.first == Approx(-3.0 / 4.0).epsilon(1e-5));
  CHECK(free.second == Approx(-4.0 / 5.0).epsilon(1e-5));
  const auto loose = run(10.0);  // above the norm: unchanged
  CHECK(loose.first == Approx(free.first));
}

TEST_CASE("trainer_divergence_is_a_failed_result_not_an_exception", "[trainer]") {
  TrainOptions o;
  o.steps = 10;
  o.batch = 2;
  {
    Scripted m;
    m.ps = {param("w", row({1.0f}), true)};
    m.grads = {{row({0.1f})}};
    m.losses = {2.0, 1.5, std::nan("")};
    TrainResult r;
    REQUIRE_NOTHROW(r = train(m, tiny_task(), o));
    CHECK(r.status == TrainStatus::diverged);
    CHECK(std::string(to_string(r.status)) == "diverged");
    CHECK(r.reason == "loss diverged at step 3 (nan)");
    CHECK(r.steps == 3);
    CHECK(r.losses.size() == 2);
    CHECK(std::isnan(r.test_accuracy));
    CHECK(std::isfinite(m.ps[0].value(0, 0)));  // the diverged step is not applied
  }
  {
    Scripted m;
    m.ps = {param("w", row({1.0f}), true)};
    m.grads = {{row({0.1f})}, {row({std::numeric_limits<float>::infinity()})}};
    m.losses = {1.0};
    const auto r = train(m, tiny_task(), o);
    CHECK(r.status == TrainStatus::diverged);
    CHECK(r.reason == "gradient diverged at step 2 (inf)");
  }
  {
    Scripted m;
    m.ps = {param("w", row({1.0f}), true)};
    m.grads = {{row({0.1f})}};
    m.losses = {std::numeric_limits<double>::infinity()};
    CHECK(train(m, tiny_task(), o).reason == "loss diverged at step 1 (inf)");
  }
}

TEST_CASE("trainer_callback_stops_the_run", "[trainer]") {
  Scripted m;
  m.ps = {param("w", row({1.0f}), true)};
  m.grads = {{row({0.1f})}};
  m.losses = {1.0};
  TrainOptions o;
  o.steps = 100;
  o.batch = 2;
  std::vector<int> seen;
  const auto r = train(m, tiny_task(), o, [&](const TrainProgress& p) {
    seen.push_back(p.step);
    CHECK(p.steps == 100);
    CHECK(p.lr == Approx(learning_rate(o, p.step - 1)));
    return p.step == 5;
  });
  CHECK(r.status == TrainStatus::stopped);
  CHECK(r.reason == "stopped by the callback after step 5");
  CHECK(r.steps == 5);
  CHECK(seen == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(r.test_scored == 2);  // still evaluated
  o.steps = 1;
  o.batch = 1;
  o.eval_batches = 1;
  CHECK(train(m, tiny_task(), o).test_scored == 1);  // only the first test batch
}

TEST_CASE("trainer_batches_cover_each_epoch_and_seeds_are_deterministic", "[trainer]") {
  TaskData t;
  t.seq = 1;
  t.num_classes = 2;
  t.vocab = 12;
  for (int i = 0; i < 12; ++i) t.train.push_back({{i}, {0}});
  t.test = t.train;
  class Recorder : public Scripted {
   public:
    std::vector<int> seen;
    StepResult step(const Batch& b, bool train, std::uint64_t seed) override {
      if (train)
        for (auto tok : b.tokens) seen.push_back(tok);
      return Scripted::step(b, train, seed);
    }
  };
  auto run = [&](std::uint64_t seed) {
    auto m = std::make_unique<Recorder>();
    m->ps = {param("w", row({1.0f}), true)};
    m->grads = {{row({0.1f})}};
    m->losses = {1.0};
    TrainOptions o;
    o.steps = 6;
    o.batch = 4;
    o.seed = seed;
    train(*m, t, o);
    return m;
  };
  const auto a = run(1), b = run(1), c = run(2);
  REQUIRE(a->seen.size() == 24);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::set<int> s(a->seen.begin() + epoch * 12, a->seen.begin() + epoch * 12 + 12);
    CHECK(s.size() == 12);  // every example once per epoch
  }
  CHECK(a->seen == b->seen);
  CHECK(a->seen != c->seen);
  CHECK(a->seeds == b->seeds);
  CHECK(a->seeds != c->seeds);
  CHECK(std::set<std::uint64_t>(a->seeds.begin(), a->seeds.end()).size() ==
        6);  // a new seed per step
  CHECK(a->ps[0].value(0, 0) == b->ps[0].value(0, 0));
}

TEST_CASE("trainer_softmax_regression_learns_a_counting_task", "[trainer]") {
  const auto task = count_task(2000, 500, 9);
  BagOfTokens model(task.vocab, task.num_classes);
  TrainOptions o;
  o.steps = 300;
  o.batch = 32;
  o.lr = 0.05;
  o.seed = 4;
  const auto before = evaluate(model, task.test, 64, 0);
  const auto r = train(model, task, o);
  REQUIRE(r.status == TrainStatus::ok);
  CHECK(r.steps == 300);
  CHECK(r.losses.size() == 300);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i)
    first += r.losses[static_cast<std::size_t>(i)] / 20,
        last += r.losses[static_cast<std::size_t>(280 + i)] / 20;
  INFO("first " << first << " last " << last << " test acc " << r.test_accuracy << " baseline "
                << task.majority_baseline);
  CHECK(first == Approx(std::log(2.0)).epsilon(0.05));
  CHECK(last < 0.6 * first);
  CHECK(r.test_scored == 500);
  CHECK(before.accuracy <= task.majority_baseline + 1e-9);  // all-zero weights predict class 0
  CHECK(r.test_accuracy > 0.9);
  CHECK(r.test_accuracy > task.majority_baseline + 0.3);
  CHECK(r.tokens_per_second > 0);
  CHECK(r.train_seconds > 0);
  // Same seed, same result.
  BagOfTokens again(task.vocab, task.num_classes);
  const auto r2 = train(again, task, o);
  CHECK(r2.losses == r.losses);
  CHECK(r2.test_accuracy == r.test_accuracy);
}

TEST_CASE("trainer_bag_of_words_on_sst2_beats_the_majority_baseline", "[trainer]") {
  const auto task = make_task({{"task", "tsv"},
                               {"train", test::test_data("sst2/train.tsv")},
                               {"test", test::test_data("sst2/test.tsv")},
                               {"vocab", test::test_data("bert_uncased_vocab.txt")}},
                              1);
  BagOfTokens model(task.vocab, task.num_classes);
  TrainOptions o;
  o.steps = 300;
  o.lr = 0.05;
  o.weight_decay = 0;
  const auto r = train(model, task, o);
  INFO("test accuracy " << r.test_accuracy << " baseline " << task.majority_baseline);
  CHECK(r.status == TrainStatus::ok);
  CHECK(r.test_accuracy > task.majority_baseline + 0.1);
}

TEST_CASE("trainer_local_model_solves_local_count_not_selective_copy", "[trainer]") {
  // The pair of synthetic tasks ranks mixers in opposite orders: a width-5 window (what a
  // convolution sees) computes local_count exactly but cannot find the data selective_copy
  // scatters. Token-level targets, -1 positions unscored.
  TrainOptions o;
  o.steps = 300;
  o.lr = 0.3;
  o.batch = 16;
  const auto local = make_task({{"task", "local_count"},
                                {"seq", "32"},
                                {"window", "5"},
                                {"train_size", "500"},
                                {"test_size", "100"}},
                               1);
  WindowModel a(local.vocab, local.num_classes, 5);
  const auto ra = train(a, local, o);
  const auto copy = make_task(
      {{"task", "selective_copy"}, {"seq", "32"}, {"train_size", "500"}, {"test_size", "100"}}, 1);
  WindowModel b(copy.vocab, copy.num_classes, 5);
  const auto rb = train(b, copy, o);
  INFO("local_count " << ra.test_accuracy << " (baseline " << local.majority_baseline
                      << "), selective_copy " << rb.test_accuracy << " (baseline "
                      << copy.majority_baseline << ")");
  CHECK(ra.test_scored == 100 * 32);
  CHECK(rb.test_scored == 100 * 8);
  CHECK(ra.test_accuracy > 0.95);
  CHECK(rb.test_accuracy < 0.15);
  CHECK(ra.test_loss < rb.test_loss);
}
