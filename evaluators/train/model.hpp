#pragma once
// The trainable network of docs/model.md (the one `params`/`flops` count and `export --format
// onnx` writes): embeddings, heterogeneous heads (sa sdp/wma with softmax/relu/quad/scale
// kernels, l dft/dct, c k), mixing output, feed-forward stacks, norms at post/pre/peri,
// projections between widths, and a head: pooled classification (token 0, dense + tanh,
// dense) or per-token classification. Forward and backward by hand; matmuls through oneDNN.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "space/architecture.hpp"

namespace flexnas::train {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct ModelConfig {
  int vocab = 0;             // token embedding rows
  int max_positions = 512;   // position embedding rows; seq <= max_positions
  int seq = 128;             // sequence length (the DFT/DCT matrices are seq x seq)
  int num_classes = 2;       // classifier outputs
  bool token_level = false;  // per-token classifier (no pooler) instead of token-0 pooling
  float dropout = 0.1f;      // after embeddings, mixing and feed-forward outputs (training only)
  int threads = 0;           // OpenMP threads for oneDNN and the hand-written loops; 0 = all cores
};

// The model a task needs: its vocabulary, length, classes and head (any type with those
// fields; train::TaskData in practice), with the given dropout and threads.
template <class TaskT>
ModelConfig model_config_for(const TaskT& task, float dropout, int threads) {
  ModelConfig c;
  c.vocab = task.vocab;
  c.seq = task.seq;
  c.num_classes = task.num_classes;
  c.token_level = task.token_level;
  c.dropout = dropout;
  c.threads = threads;
  return c;
}

// One learned tensor. `value` and `grad` have the same shape; vectors are 1 x n.
struct Param {
  std::string name;  // the ONNX initializer name of space/export.cpp where one exists
  Mat value;
  Mat grad;
  bool decay = true;  // AdamW weight decay applies (false for biases, norm gains, embeddings' norm)
};

// A batch of B sequences of length L. targets: B labels (pooled) or B*L labels (token level,
// -1 = not scored).
struct Batch {
  int batch = 0;
  int seq = 0;
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> targets;
};

struct StepResult {
  double loss = 0;  // mean cross-entropy over the scored targets
  int correct = 0;  // argmax hits among scored targets
  int scored = 0;   // number of scored targets
};

// Anything the trainer can optimise (the Model below; small models in tests).
class Trainable {
 public:
  virtual ~Trainable() = default;
  virtual std::vector<Param*> params() = 0;
  // Forward; with train=true also dropout (from `seed`) and backward, accumulating into
  // every Param::grad (the caller zeroes them).
  virtual StepResult step(const Batch& b, bool train, std::uint64_t seed) = 0;
};

// Params are named as space/export.cpp's initializers, except two that the export does not
// have: `layerJ.mixing.in_proj.weight` [h, total] / `.bias` [1, total], all heads' input
// projections of layer J in one matrix (per head: q, k, v columns for sa, v for l and c, in
// head order; export_weight serves each head's [h, d] slice under its ONNX name), and
// `classifier_token.weight` / `.bias` of the token-level head. A conv weight is stored
// [d, k] (ONNX [d, 1, k], the same values). Heads have d = h // n dimensions; the mixing
// output weight is [n * d, h] (n * d < h where n does not divide h).
class Model : public Trainable {
 public:
  // Weights: normal(0, 0.02) per tensor from `seed`, biases 0, norm gains 1.
  Model(const Architecture& a, const ModelConfig& cfg, std::uint64_t seed);
  ~Model() override;
  std::vector<Param*> params() override;
  StepResult step(const Batch& b, bool train, std::uint64_t seed) override;
  // Logits of the last step: [B, classes] pooled or [B*L, classes] token level.
  const Mat& logits() const;

  const Architecture& architecture() const;
  const ModelConfig& config() const;
  std::int64_t num_parameters() const;

  // ExportOptions::weights hook: fills `out` for the ONNX initializer `name` with `dims`
  // (row-major) and returns true, false when the model has no such tensor.
  bool export_weight(const std::string& name, const std::vector<std::int64_t>& dims,
                     std::vector<float>& out) const;

  // Checkpoint: every Param by name (binary, versioned). load throws InputError on a file
  // that is not a checkpoint of this architecture.
  void save(const std::string& path) const;
  void load(const std::string& path);
  // Knowledge transfer: copy from `donor` (a checkpoint file) the embeddings and every leading
  // layer identical to ours (same hidden, heads, ff, kernel, activation, norm); returns how
  // many layers were copied.
  int transfer_from(const std::string& donor_checkpoint);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flexnas::train
