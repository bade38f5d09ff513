#pragma once
// Architecture features for the learned latency model (docs/latency-model.md): numbers
// flexnas computes from a model dict, written per model by `flexnas latency features`
// and recomputed by the `latency-model` evaluator for the features a model was fit on.
#include <string>
#include <vector>

#include "evaluators/latency_model.hpp"
#include "space/architecture.hpp"

namespace flexnas {

// The feature set, in CSV column order, with the FLOPs features at sequence length seq:
//   layers, hidden_mean, hidden_max, heads_mean, heads_total, heads_sa, heads_l, heads_c,
//   ff_depth_mean, ff_width_mean, ff_width_sum, encoder_params_m, heads_<op> for each Op
//   (sdp, wma, dft, dct, conv), params_m, gflops_<op>_seq<seq> for each Op,
//   gflops_ff_seq<seq>, gflops_seq<seq>. Params and FLOPs come from model_stats.
std::vector<std::string> arch_feature_names(int seq = 128);

// Short description of one feature name (empty for an unknown name).
std::string arch_feature_description(const std::string& name);

// The named features of a (any gflops[_<op>|_ff]_seq<N>, N in 1..1048576). Throws InputError
// listing the names that are not architecture features.
std::vector<double> arch_features(const Architecture& a, const std::vector<std::string>& names);

// The names among `names` that are not architecture features.
std::vector<std::string> unknown_arch_features(const std::vector<std::string>& names);

// True when `path` looks like a table of JSON lines (ends in .jsonl or .ndjson, or its
// first non-blank character is '{') rather than a CSV file.
bool is_model_table(const std::string& path);

// A JSON-lines table (one object per line with a "model" dict, as the EdgeTran device
// tables) as a latency::Table: the named architecture features computed from each model
// dict, then every top-level field other than "model" (numbers as numbers, others as their
// JSON text). Throws InputError naming file:line for a malformed line or model dict.
latency::Table read_model_table(const std::string& path, const std::vector<std::string>& names);

}  // namespace flexnas
