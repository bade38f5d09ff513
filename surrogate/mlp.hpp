#pragma once
// A small dense-network toolkit on Eigen: sequential layers (Linear, Softplus, ReLU,
// Sigmoid, Dropout) evaluated over a batch (rows = samples), with reverse-mode gradients
// with respect to the parameters and to the input. All parameters live in one flat vector,
// so optimisers, copies and weight transfer are plain vector operations.
#include <cstdint>
#include <random>
#include <vector>

#include <Eigen/Dense>

namespace flexnas::nn {

using Rng = std::mt19937_64;

enum class LayerKind { kLinear, kSoftplus, kRelu, kSigmoid, kDropout };

const char* to_string(LayerKind k);

struct Layer {
  LayerKind kind = LayerKind::kLinear;
  int in = 0;               // input width
  int out = 0;              // output width (equal to `in` except for kLinear)
  double rate = 0;          // kDropout: probability of zeroing a unit
  Eigen::Index offset = 0;  // kLinear: W (in x out, column-major), then b (out) in params()
};

// One MC-dropout draw: one mask per dropout layer (entries 0 or 1 / (1 - rate)), shared
// by every row, so that a row's output never depends on the rest of its batch.
using MaskSet = std::vector<Eigen::RowVectorXd>;

// How dropout layers act in one forward pass. Neither set: identity (plain prediction).
struct DropoutMode {
  Rng* rng = nullptr;              // training: a fresh mask per row and unit drawn from rng
  const MaskSet* masks = nullptr;  // MC prediction: these masks (from Mlp::sample_masks)
};

// What a forward pass keeps for the backward pass. Reusing one tape across calls of the
// same batch size avoids reallocation in training loops.
struct Tape {
  std::vector<Eigen::MatrixXd> values;  // values[i]: input of layer i; values.back(): output
  // aux[i]: layer i's dropout mask (n x w or 1 x w) or its activation derivative (n x w).
  std::vector<Eigen::MatrixXd> aux;
};

class Mlp {
 public:
  explicit Mlp(int inputs = 0);

  // The usual stack: inputs -> hidden[0] -> ... -> outputs, `activation` after every hidden
  // linear layer, dropout (if rate > 0) after every hidden activation, and `output` after the
  // last linear layer (kLinear for none). Throws SurrogateError for bad sizes or rates.
  static Mlp make(int inputs, const std::vector<int>& hidden, int outputs, LayerKind activation,
                  double dropout, LayerKind output);

  // Builders: append one layer.
  Mlp& linear(int outputs);
  Mlp& softplus();
  Mlp& relu();
  Mlp& sigmoid();
  Mlp& dropout(double rate);

  // W and b uniform in +-1/sqrt(fan_in) (the default of PyTorch's nn.Linear).
  void init(Rng& rng);

  int inputs() const { return inputs_; }
  int outputs() const;
  Eigen::Index num_params() const { return params_.size(); }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }
  // 1 on weights and 0 on biases: weight decay applies to weights only.
  Eigen::VectorXd decay_mask() const;
  const std::vector<Layer>& layers() const { return layers_; }
  bool has_dropout() const;

  // One MC-dropout draw for all dropout layers.
  MaskSet sample_masks(Rng& rng) const;

  // Output (n x outputs) for inputs x (n x inputs).
  Eigen::MatrixXd forward(const Eigen::MatrixXd& x, const DropoutMode& mode = {}) const;
  // The same, recording what backward() needs; returns tape.values.back().
  const Eigen::MatrixXd& forward(const Eigen::MatrixXd& x, Tape& tape,
                                 const DropoutMode& mode = {}) const;
  // From dL/d(output) (n x outputs) of the taped pass: returns dL/dx (n x inputs) and adds
  // dL/d(params) to *grad_params when given (size num_params()). Rows are independent, so
  // grad_out = ones gives every row's input gradient of its own output in one pass.
  Eigen::MatrixXd backward(const Tape& tape, const Eigen::MatrixXd& grad_out,
                           Eigen::VectorXd* grad_params = nullptr) const;

 private:
  Mlp& append(LayerKind kind, double rate);

  int inputs_ = 0;
  std::vector<Layer> layers_;
  Eigen::VectorXd params_;
};

// Elementwise pieces shared with the NPN.
double softplus(double z);  // log(1 + e^z), stable for large |z|
double sigmoid(double z);

}  // namespace flexnas::nn
