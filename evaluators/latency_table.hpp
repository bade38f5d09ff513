#pragma once
// Per-layer latency look-up table (FBNet / HAT style), cached on disk: one JSON file per
// measured layer configuration or projection, in a directory per machine and setting
// (CPU model, oneDNN version, threads, dtype, batch, seq, clock). A model's latency is the sum of
// its layers' and projections' entries. Writers go through a private temporary file and
// rename, so processes sharing a cache never see half an entry; two that measure the same
// entry at once both store a valid one and the last rename wins. docs/latency.md.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "evaluators/onednn_encoder.hpp"

namespace flexnas::latency {

// $XDG_CACHE_HOME/flexnas, else $HOME/.cache/flexnas, else ./.flexnas-cache.
std::string default_cache_dir();

// Canonical text of what a layer's latency depends on, e.g.
// "h=128 heads=sa_sdp_64,sa_sdp_64 ff=512 kernel=softmax act=gelu norm=layernorm place=post".
// Head order does not matter; the attention kernel is dropped (softmax) without attention
// heads and the placement (post) without norms, where they change nothing.
std::string layer_key(const Layer& l);
std::string projection_key(int in, int out);

struct TableEntry {
  Timing timing;
  bool cached = false;  // read from memory or disk, not measured now
};

struct ModelLatency {
  double total_ms = 0;           // sum of the medians
  double spread = 0;             // (p90 - p10) / median of the entries, weighted by median
  std::vector<double> layer_ms;  // per layer, its projection to the next layer included
  int measured = 0;              // entries measured now
  int reused = 0;                // entries found in the table
};

class LatencyTable {
 public:
  // cache_dir empty: entries live in memory only.
  LatencyTable(std::string cache_dir, RunShape shape, MeasureOptions measure);

  // This setting's entry directory ("" without a cache directory).
  const std::string& dir() const { return dir_; }
  const RunShape& shape() const { return shape_; }
  // Text of the setting (CPU, oneDNN, ISA, threads, dtype, batch, seq, clock) the directory
  // is for.
  std::string context() const;

  TableEntry layer(const Layer& l);
  TableEntry projection(int in, int out);
  // Sum of the layer and projection entries, measuring what is missing. progress(done,
  // total) after each entry.
  ModelLatency model(const Architecture& a,
                     const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

 private:
  TableEntry lookup(const std::string& key, const std::function<Timing()>& measure);
  std::string entry_path(const std::string& key) const;

  RunShape shape_;
  MeasureOptions measure_;
  std::string dir_;
  std::map<std::string, Timing> memo_;
};

}  // namespace flexnas::latency
