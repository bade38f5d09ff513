#pragma once
// Analytic parameter count and FLOPs of an architecture (docs/model.md gives the exact
// layer definition these count). FLOPs count a multiply-add as 2 and include the
// element-wise work of softmax, activations and norms.
#include <cstdint>
#include <vector>

#include "space/architecture.hpp"

namespace flexnas {

struct ModelStatsOptions {
  int seq = 128;             // sequence length L
  int vocab = 30522;         // token embedding rows (BERT uncased)
  int max_positions = 512;   // learned position embeddings
  int type_vocab = 2;        // segment embeddings
};

struct LayerStats {
  std::int64_t params = 0;
  double flops = 0;  // for one sequence of length seq
};

struct ModelStats {
  std::int64_t params = 0;            // everything: embeddings + encoder
  std::int64_t embedding_params = 0;  // token, position and segment tables + their norm
  std::int64_t encoder_params = 0;    // layers and projections between layers
  double flops = 0;                   // encoder forward pass over one sequence
  double flops_per_token = 0;         // flops / seq
  std::vector<LayerStats> layers;     // per encoder layer, projection to the next included
};

ModelStats model_stats(const Architecture& a, const ModelStatsOptions& opt = {});

}  // namespace flexnas
