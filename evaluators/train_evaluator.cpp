// `train` evaluator: trains the architecture with the built-in trainer (evaluators/train/) on
// a task and reports test accuracy, loss, training seconds and throughput. Inside a search it
// keeps per-study state under STUDY/train/: checkpoints for knowledge transfer and rung
// records for multi-fidelity (asynchronous successive halving). A trial reads only what
// trials of earlier batches wrote, so results do not depend on the worker count. docs/trainer.md.
#include "evaluators/train_evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/train/model.hpp"
#include "evaluators/train/task.hpp"
#include "evaluators/train/trainer.hpp"

namespace flexnas {
namespace fs = std::filesystem;
namespace {

// Options of the evaluator itself (tasks and the training loop declare theirs).
const std::vector<OptionSpec>& evaluator_option_table() {
  static const std::vector<OptionSpec> t = {
      OptionSpec::integer("data_seed", 0, 0, 1'000'000'000,
                          "seed of the synthetic data (the same for every trial)"),
      OptionSpec::real("dropout", 0.1, 0, 0.9,
                       "dropout after embeddings, mixing and feed-forward outputs"),
      OptionSpec::integer("threads", 0, 0, 256,
                          "threads of one training run; 0 = the search's per-evaluation threads"),
      OptionSpec::integer(
          "transfer", 0, 0, 1,
          "knowledge transfer: start from the earlier-batch trial sharing the most leading layers"),
      OptionSpec::real("transfer_steps", 0.5, 0.01, 1,
                       "fraction of `steps` trained when at least one layer was transferred"),
      OptionSpec::choice("fidelity", "full", {"full", "asha"},
                         "full: every trial trains `steps`; asha: rungs of min_steps * eta^k, a "
                         "trial goes on only when in the top 1/eta of earlier batches at its rung"),
      OptionSpec::integer("min_steps", 50, 1, 1'000'000, "fidelity=asha: steps of the first rung"),
      OptionSpec::integer("eta", 3, 2, 16,
                          "fidelity=asha: rung growth and the promoted fraction 1/eta"),
      OptionSpec::text("dir", "",
                       "where checkpoints and rung records go (default: STUDY/train in a search)"),
  };
  return t;
}

// Layers identical from the first one on (and the same embedding width), the part of a donor
// Model::transfer_from copies.
int leading_overlap(const Architecture& a, const Architecture& b) {
  if (a.layers.empty() || b.layers.empty() || a.layers[0].hidden != b.layers[0].hidden) return 0;
  int n = 0;
  while (n < a.num_layers() && n < b.num_layers() &&
         a.layers[static_cast<std::size_t>(n)] == b.layers[static_cast<std::size_t>(n)])
    ++n;
  return n;
}

struct Record {
  std::int64_t batch = -1, trial = -1;
  fs::path path;
};

// "B_T.ext" files of earlier batches than `batch`, in (batch, trial) order.
std::vector<Record> earlier(const fs::path& dir, const std::string& ext, std::int64_t batch) {
  std::vector<Record> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ext) continue;
    Record r;
    r.path = e.path();
    const auto stem = e.path().stem().string();
    const auto us = stem.find('_');
    if (us == std::string::npos) continue;
    try {
      r.batch = parse_integer<std::int64_t>(stem.substr(0, us), "batch", 0);  // "3x_1" is foreign
      r.trial = parse_integer<std::int64_t>(stem.substr(us + 1), "trial", 0);
    } catch (const std::exception&) {
      continue;
    }
    if (r.batch < batch) out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const Record& x, const Record& y) {
    return std::tie(x.batch, x.trial) < std::tie(y.batch, y.trial);
  });
  return out;
}

std::string stem(const EvalContext& ctx) {
  return std::to_string(ctx.trial_batch) + "_" + std::to_string(ctx.trial);
}

// Written to a temporary name and renamed: a killed run leaves the old file or the new one.
void write_atomic(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  const auto tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  fs::rename(tmp, p);
}

class TrainEvaluator : public Evaluator {
 public:
  explicit TrainEvaluator(const Options& r) {
    // Only what the user typed: the task and loop readers know each default and which task
    // an option belongs to, and "train:k=v,..." round-trips without the other tasks' options.
    for (const auto& [k, v] : r.values())
      if (r.given(k)) given_[k] = v;
    // Everything is validated here, before any data is generated or training starts.
    data_seed_ = r.integer_as<std::uint64_t>("data_seed");
    dropout_ = static_cast<float>(r.real("dropout"));
    threads_ = r.integer_as<int>("threads");
    transfer_ = r.integer("transfer") == 1;
    transfer_steps_ = r.real("transfer_steps");
    asha_ = r.text("fidelity") == "asha";
    min_steps_ = r.integer_as<int>("min_steps");
    eta_ = r.integer_as<int>("eta");
    dir_ = r.text("dir");
    train_ = train::parse_train_options(given_);
    task_ = train::make_task(given_, data_seed_);
    if (task_.seq > 512)
      throw InputError("evaluator train: seq=" + std::to_string(task_.seq) +
                       " is longer than the 512 position embeddings");
  }
  std::string name() const override { return "train"; }
  std::vector<ValueSpec> provides() const override {
    return {{"accuracy", "fraction", Direction::kMaximize,
             "test accuracy after training on " + task_.name},
            {"loss", "nats", Direction::kMinimize, "test cross-entropy after training"},
            {"train_seconds", "s", Direction::kMinimize, "seconds of the training step loop"},
            {"tokens_per_second", "tokens/s", Direction::kMaximize, "training throughput"},
            {"train_steps", "count", Direction::kMinimize, "optimiser steps trained"},
            {"transferred_layers", "count", Direction::kMaximize,
             "leading layers copied from an earlier trial (transfer=1)"}};
  }
  std::map<std::string, std::string> options() const override { return given_; }

  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    const auto cfg = train::model_config_for(task_, dropout_,
                                             threads_ > 0 ? threads_ : std::max(1, ctx.threads));
    train::Model model(a, cfg, ctx.seed);

    fs::path dir = dir_;
    if (dir.empty() && !ctx.study_dir.empty()) dir = fs::path(ctx.study_dir) / "train";
    const bool stateful = !dir.empty() && ctx.trial >= 0;

    auto opt = train_;
    opt.seed = ctx.seed;
    int transferred = 0;
    if (transfer_ && stateful) {
      int best = 0;
      fs::path donor;
      for (const auto& rec : earlier(dir / "checkpoints", ".json", ctx.trial_batch)) {
        std::ifstream f(rec.path);
        std::stringstream ss;
        ss << f.rdbuf();
        Architecture other;
        try {
          other = architecture_from_string(ss.str());
        } catch (const std::exception&) {
          continue;
        }
        const int n = leading_overlap(a, other);
        auto ckpt = rec.path;
        ckpt.replace_extension(".ckpt");
        if (n > best && fs::exists(ckpt)) {
          best = n;
          donor = ckpt;
        }
      }
      if (best > 0) {
        try {
          transferred = model.transfer_from(donor.string());
        } catch (const InputError&) {  // a corrupt or truncated donor: train from scratch
          transferred = 0;
        }
      }
      if (transferred > 0)
        opt.steps = std::max(1, static_cast<int>(std::lround(opt.steps * transfer_steps_)));
    }

    // Asynchronous successive halving: at each rung below `steps`, record the accuracy and go
    // on only when it is among the top 1/eta of the earlier batches' records at that rung.
    std::vector<int> rungs;
    if (asha_ && stateful)
      for (long long s = min_steps_; s < opt.steps; s *= eta_) rungs.push_back(static_cast<int>(s));
    train::TrainCallback cb;
    if (!rungs.empty()) {
      cb = [&](const train::TrainProgress& p) {
        const auto it = std::find(rungs.begin(), rungs.end(), p.step);
        if (it == rungs.end()) return false;
        const auto k = static_cast<std::size_t>(it - rungs.begin());
        const auto ev = train::evaluate(model, task_.test, opt.batch, opt.eval_batches);
        const auto rung_dir = dir / "rungs" / std::to_string(k);
        write_atomic(rung_dir / (stem(ctx) + ".json"),
                     nlohmann::json{{"accuracy", ev.accuracy}, {"steps", p.step}}.dump());
        std::vector<double> peers;
        for (const auto& rec : earlier(rung_dir, ".json", ctx.trial_batch)) {
          try {
            std::ifstream f(rec.path);
            peers.push_back(nlohmann::json::parse(f).at("accuracy").get<double>());
          } catch (const std::exception&) {
          }
        }
        if (static_cast<int>(peers.size()) < eta_) return false;  // too few to judge: go on
        // ASHA's rule: promoted when among the top floor(n / eta) of the n records at this
        // rung, this trial's included.
        peers.push_back(ev.accuracy);
        std::sort(peers.begin(), peers.end(), std::greater<>());
        const auto keep = std::max<std::size_t>(1, peers.size() / static_cast<std::size_t>(eta_));
        return ev.accuracy < peers[keep - 1];
      };
    }
    const auto res = train::train(model, task_, opt, cb);
    if (res.status == train::TrainStatus::diverged)
      return {EvalStatus::kFailed, {}, "training " + res.reason};
    if (stateful && transfer_) {
      const auto base = dir / "checkpoints" / stem(ctx);
      const auto tmp = base.string() + ".ckpt.tmp";
      fs::create_directories(base.parent_path());
      model.save(tmp);
      fs::rename(tmp, base.string() + ".ckpt");
      write_atomic(base.string() + ".json", to_string(a));
    }
    return {EvalStatus::kOk,
            {{"accuracy", res.test_accuracy},
             {"loss", res.test_loss},
             {"train_seconds", res.train_seconds},
             {"tokens_per_second", res.tokens_per_second},
             {"train_steps", static_cast<double>(res.steps)},
             {"transferred_layers", static_cast<double>(transferred)}},
            ""};
  }

 private:
  std::map<std::string, std::string> given_;
  std::uint64_t data_seed_ = 0;
  float dropout_ = 0.1f;
  int threads_ = 0;
  bool transfer_ = false;
  double transfer_steps_ = 0.5;
  bool asha_ = false;
  int min_steps_ = 50, eta_ = 3;
  std::string dir_;
  train::TrainOptions train_;
  train::TaskData task_;
};

}  // namespace

void register_train(EvaluatorRegistry& r) {
  std::vector<OptionSpec> options = train::task_options();
  for (const auto* table : {&train::train_option_table(), &evaluator_option_table()})
    options.insert(options.end(), table->begin(), table->end());
  r.add({"train",
         "trains the architecture with the built-in trainer on a task (mqar, listops, tsv, ...) "
         "and reports test accuracy",
         std::move(options), [](const Options& o) { return std::make_unique<TrainEvaluator>(o); }});
}

}  // namespace flexnas
