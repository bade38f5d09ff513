// flexnas train: train one architecture with the built-in trainer on a task, with progress on
// a terminal, and keep what it learned: a checkpoint, an ONNX model with the trained weights,
// the loss curve (docs/trainer.md).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "evaluators/train/model.hpp"
#include "evaluators/train/task.hpp"
#include "evaluators/train/trainer.hpp"
#include "space/export.hpp"

namespace flexnas::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train",
      "train one architecture on a task (mqar, listops, tsv, ...) and report test accuracy; "
      "the same trainer as `--evaluator train:...`");
  struct Args {
    std::string model;
    std::vector<std::string> options;
    std::uint64_t seed = 0, data_seed = 0;
    int threads = 1;
    float dropout = 0.1f;
    std::string save, onnx, curve;
    bool json = false;
    bool list = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--model", a->model, "model dict as JSON text, or @file");
  cmd->add_option("-O,--option", a->options,
                  "task or training option key=value, repeatable: task=mqar, steps=300, "
                  "seq=64, lr=1e-3, train=FILE.tsv, ... (--list-options shows them all)");
  cmd->add_option("--seed", a->seed, "seed of the weights, batch order and dropout")
      ->capture_default_str();
  cmd->add_option("--data-seed", a->data_seed, "seed of the synthetic task data")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (results are bit-identical per seed at 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--dropout", a->dropout, "dropout rate")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--save", a->save, "write the trained weights (checkpoint) here");
  cmd->add_option("--onnx", a->onnx,
                  "write an ONNX model with the trained weights here (pooled-head tasks)");
  cmd->add_option("--curve", a->curve, "write the training loss per step here (CSV)");
  cmd->add_flag("--json", a->json, "one JSON object with the results on stdout");
  cmd->add_flag("--list-options", a->list, "list every task and training option and exit");
  cmd->callback([a] {
    std::vector<OptionSpec> specs = train::task_options();
    specs.insert(specs.end(), train::train_option_table().begin(),
                 train::train_option_table().end());
    if (a->list) {
      for (const auto& d : train::common_task_options())
        std::printf("  %-14s %s\n", d.name.c_str(), d.help().c_str());
      for (const auto& t : train::tasks().entries()) {
        std::printf("task=%s: %s\n", t.name.c_str(), t.description.c_str());
        for (const auto& d : t.options)
          std::printf("  %-14s %s\n", d.name.c_str(), d.help().c_str());
      }
      std::printf("training:\n");
      for (const auto& d : train::train_option_table())
        std::printf("  %-14s %s\n", d.name.c_str(), d.help().c_str());
      return;
    }
    if (a->model.empty()) throw InputError("train: --model is required");
    std::map<std::string, std::string> opts;
    for (const auto& kv : a->options) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("train: option '" + kv + "' is not key=value");
      opts[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    Options("train", specs, opts);  // unknown keys and bad values, before anything runs
    const auto arch = load_model(a->model);
    auto topt = train::parse_train_options(opts);
    topt.seed = a->seed;
    const auto task = train::make_task(opts, a->data_seed);
    if (task.seq > 512)
      throw InputError("train: seq=" + std::to_string(task.seq) +
                       " is longer than the 512 position embeddings");
    if (!a->onnx.empty() && task.token_level)
      throw InputError("train: --onnx exports the pooled classification head; task " + task.name +
                       " is a per-token task");
    const auto cfg = train::model_config_for(task, a->dropout, a->threads);
    train::Model model(arch, cfg, a->seed);
    const bool tty = stderr_is_terminal();
    if (!a->json)
      std::printf(
          "task %s: %zu train / %zu test sequences of %d tokens, %d classes; model %lld "
          "parameters; %d steps of batch %d\n",
          task.name.c_str(), task.train.size(), task.test.size(), task.seq, task.num_classes,
          static_cast<long long>(model.num_parameters()), topt.steps, topt.batch);
    const auto res = train::train(model, task, topt, [&](const train::TrainProgress& p) {
      if (tty && (p.step % 10 == 0 || p.step == p.steps))
        std::fprintf(stderr, "\rstep %d/%d  loss %.4f  lr %.2e  %.1f s   ", p.step, p.steps, p.loss,
                     p.lr, p.seconds);
      return false;
    });
    if (tty) std::fprintf(stderr, "\n");
    if (!a->curve.empty()) {
      std::string csv = "step,loss\n";
      for (std::size_t i = 0; i < res.losses.size(); ++i)
        csv += std::to_string(i + 1) + "," + std::to_string(res.losses[i]) + "\n";
      write_output(a->curve, csv);
    }
    if (res.status == train::TrainStatus::diverged) {
      std::fprintf(stderr, "flexnas: training %s (try a lower lr= or clip=1)\n",
                   res.reason.c_str());
      throw CLI::RuntimeError(1);
    }
    if (!a->save.empty()) model.save(a->save);
    if (!a->onnx.empty()) {
      ExportOptions eo;
      eo.vocab = task.vocab;
      eo.seq = task.seq;
      eo.num_labels = task.num_classes;
      eo.seed = a->seed;
      eo.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                       std::vector<float>& out) { return model.export_weight(name, dims, out); };
      write_output(a->onnx, to_onnx(arch, eo));
    }
    if (a->json) {
      nlohmann::ordered_json j;
      j["task"] = task.name;
      j["parameters"] = model.num_parameters();
      j["steps"] = res.steps;
      j["accuracy"] = res.test_accuracy;
      j["loss"] = res.test_loss;
      j["majority_baseline"] = task.majority_baseline;
      j["train_loss"] = res.train_loss;
      j["train_seconds"] = res.train_seconds;
      j["tokens_per_second"] = res.tokens_per_second;
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("test accuracy %.4f (majority class %.4f), test loss %.4f, train loss %.4f\n",
                res.test_accuracy, task.majority_baseline, res.test_loss, res.train_loss);
    std::printf("%d steps in %.2f s, %.0f tokens/s\n", res.steps, res.train_seconds,
                res.tokens_per_second);
    if (!a->save.empty()) std::printf("checkpoint: %s\n", a->save.c_str());
    if (!a->onnx.empty()) std::printf("onnx: %s\n", a->onnx.c_str());
  });
}

}  // namespace flexnas::cli
