#pragma once
// Analytic parameter count and FLOPs of an architecture (docs/model.md gives the exact
// layer definition these count). FLOPs count a multiply-add as 2 and include the
// element-wise work of softmax, activations and norms.
#include <array>
#include <cstdint>
#include <vector>

#include "space/architecture.hpp"

namespace flexnas {

struct ModelStatsOptions {
  int seq = 128;            // sequence length L
  int vocab = 30522;        // token embedding rows (BERT uncased)
  int max_positions = 512;  // learned position embeddings
  int type_vocab = 2;       // segment embeddings
};

// FLOPs of each head operation, indexed by Op in enum order (op_table()): every head of
// that operation, its projection into the head included, not the shared output projection.
using OpFlops = std::array<double, 5>;

struct LayerStats {
  std::int64_t params = 0;
  double flops = 0;     // for one sequence of length seq
  OpFlops op_flops{};   // part of flops spent in each head operation
  double ff_flops = 0;  // part of flops spent in the feed-forward stack (activations included)
};

struct ModelStats {
  std::int64_t params = 0;            // everything: embeddings + encoder
  std::int64_t embedding_params = 0;  // token, position and segment tables + their norm
  std::int64_t encoder_params = 0;    // layers and projections between layers
  double flops = 0;                   // encoder forward pass over one sequence
  double flops_per_token = 0;         // flops / seq
  OpFlops op_flops{};                 // summed over layers
  double ff_flops = 0;                // summed over layers
  std::vector<LayerStats> layers;     // per encoder layer, projection to the next included
};

ModelStats model_stats(const Architecture& a, const ModelStatsOptions& opt = {});

}  // namespace flexnas
