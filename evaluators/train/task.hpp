#pragma once
// Training tasks: synthetic ones generated from a seed (mqar, listops, ...) and text
// classification from GLUE-style TSV files (WordPiece with a BERT vocab.txt, or bytes).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "core/registry.hpp"

namespace flexnas::train {

struct Example {
  std::vector<std::int32_t> tokens;   // exactly seq tokens (padded with 0)
  std::vector<std::int32_t> targets;  // 1 label (pooled) or seq labels (token level, -1 = none)
};

struct TaskData {
  std::string name;
  int vocab = 0;
  int num_classes = 0;
  bool token_level = false;
  int seq = 0;
  std::vector<Example> train;
  std::vector<Example> test;
  double majority_baseline = 0;  // test accuracy of always predicting the most common label
};

// Token ids of task=listops (vocabulary 17); digits d are kDigit0 + d.
namespace listops {
constexpr std::int32_t kPad = 0, kCls = 1, kDigit0 = 2, kMax = 12, kMin = 13, kMed = 14,
                       kSumMod = 15, kClose = 16, kVocab = 17;
}  // namespace listops

// Tasks by name (core/registry.hpp): each declares its own options (sizes, per-task options,
// files); the factory gets them with `task` and `seq` (common_task_options()) and a seed.
using TaskFactory = std::function<TaskData(const Options&, std::uint64_t seed)>;
class TaskRegistry : public Registry<TaskFactory> {
 public:
  TaskRegistry() : Registry("task") {}
};
// The built-in tasks: mqar, listops, selective_copy, local_count, tsv.
const TaskRegistry& tasks();
// task (one of tasks().names()) and seq.
const std::vector<OptionSpec>& common_task_options();
// common_task_options() and every task's options, each name once: what the `train`
// evaluator declares.
std::vector<OptionSpec> task_options();

// Options as given to the `train` evaluator (task=..., seq=..., seed, files); validation
// throws InputError with a one-line message before any data is generated or read.
TaskData make_task(const std::map<std::string, std::string>& options, std::uint64_t seed);

}  // namespace flexnas::train
