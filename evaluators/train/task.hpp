#pragma once
// Training tasks: synthetic ones generated from a seed (mqar, listops, ...) and text
// classification from GLUE-style TSV files (WordPiece with a BERT vocab.txt, or bytes).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evaluators/train/options.hpp"

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

using TaskOption = OptionDecl;

// Token ids of task=listops (vocabulary 17); digits d are kDigit0 + d.
namespace listops {
constexpr std::int32_t kPad = 0, kCls = 1, kDigit0 = 2, kMax = 12, kMin = 13, kMed = 14,
                       kSumMod = 15, kClose = 16, kVocab = 17;
}  // namespace listops

// The task options (task, seq, sizes, per-task options, files) with defaults and bounds; the
// `train` evaluator reports keys that neither this nor train_option_table() declares.
const std::vector<TaskOption>& task_options();

// Options as given to the `train` evaluator (task=..., seq=..., seed, files); validation
// throws InputError with a one-line message before any data is generated or read.
TaskData make_task(const std::map<std::string, std::string>& options, std::uint64_t seed);

}  // namespace flexnas::train
