#include "surrogate/mlp.hpp"

#include <cmath>
#include <string>

#include "surrogate/error.hpp"

namespace flexnas::nn {

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

Eigen::Map<const MatrixXd> weights(const Eigen::VectorXd& p, const Layer& l) {
  return {p.data() + l.offset, l.in, l.out};
}
Eigen::Map<const Eigen::RowVectorXd> bias(const Eigen::VectorXd& p, const Layer& l) {
  return {p.data() + l.offset + Index{l.in} * l.out, l.out};
}

template <typename In>
auto sigmoid_array(const In& z) {
  return 1.0 / (1.0 + (-z).exp());
}

// Applies layer `l` to `in` into `out`. `aux` receives what backward needs besides the
// layer's input: the dropout mask, or the activation's derivative (saves recomputing exp).
void apply(const Layer& l, const Eigen::VectorXd& p, const MatrixXd& in, MatrixXd& out,
           MatrixXd& aux, const DropoutMode& mode, std::size_t dropout_index) {
  switch (l.kind) {
    case LayerKind::kLinear:
      out.noalias() = in * weights(p, l);
      out.rowwise() += bias(p, l);
      return;
    case LayerKind::kSoftplus: {
      // e = exp(-|z|): softplus = max(z, 0) + log(1 + e), sigmoid = 1/(1+e) or e/(1+e).
      // log of a value in (1, 2] is as good as log1p here and Eigen vectorises it.
      const Eigen::ArrayXXd e = (-in.array().abs()).exp();
      const Eigen::ArrayXXd inv = 1.0 / (1.0 + e);
      out = (in.array().max(0.0) + (1.0 + e).log()).matrix();
      aux = (in.array() >= 0).select(inv, e * inv).matrix();
      return;
    }
    case LayerKind::kRelu:
      out = in.cwiseMax(0.0);
      return;
    case LayerKind::kSigmoid:
      out = sigmoid_array(in.array()).matrix();
      return;
    case LayerKind::kDropout: {
      if (mode.rng) {
        // Four 16-bit uniforms per 64-bit draw; a unit is kept with probability
        // threshold / 65536 and scaled by its inverse, so the mean is preserved exactly.
        const auto threshold = static_cast<std::uint64_t>(std::llround((1.0 - l.rate) * 65536));
        const double scale = threshold ? 65536.0 / static_cast<double>(threshold) : 0.0;
        aux.resize(in.rows(), in.cols());
        double* m = aux.data();
        const Index size = aux.size();
        for (Index i = 0; i < size; i += 4) {
          std::uint64_t bits = (*mode.rng)();
          for (Index k = i; k < std::min(size, i + 4); ++k, bits >>= 16)
            m[k] = (bits & 0xffff) < threshold ? scale : 0.0;
        }
        out = in.cwiseProduct(aux);
      } else if (mode.masks) {
        const Eigen::RowVectorXd& m = (*mode.masks)[dropout_index];
        out = in.array().rowwise() * m.array();
        aux = m;
      } else {
        out = in;
        aux.resize(0, 0);
      }
      return;
    }
  }
}

}  // namespace

const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::kLinear:
      return "linear";
    case LayerKind::kSoftplus:
      return "softplus";
    case LayerKind::kRelu:
      return "relu";
    case LayerKind::kSigmoid:
      return "sigmoid";
    case LayerKind::kDropout:
      return "dropout";
  }
  return "?";
}

double softplus(double z) {
  return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z)));
}
double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

Mlp::Mlp(int inputs) : inputs_(inputs) {
  if (inputs < 0) throw SurrogateError("mlp: inputs " + std::to_string(inputs) + " is negative");
}

Mlp Mlp::make(int inputs, const std::vector<int>& hidden, int outputs, LayerKind activation,
              double dropout_rate, LayerKind output) {
  if (inputs < 1) throw SurrogateError("mlp: inputs " + std::to_string(inputs) + " must be >= 1");
  if (activation == LayerKind::kLinear || activation == LayerKind::kDropout)
    throw SurrogateError(std::string("mlp: hidden activation ") + to_string(activation) +
                         " is not one of softplus, relu, sigmoid");
  if (output == LayerKind::kDropout)
    throw SurrogateError(
        "mlp: output activation dropout is not one of linear, softplus, relu, sigmoid");
  Mlp m(inputs);
  for (int h : hidden) {
    m.linear(h).append(activation, 0);
    if (dropout_rate > 0) m.dropout(dropout_rate);
  }
  m.linear(outputs);
  if (output != LayerKind::kLinear) m.append(output, 0);
  return m;
}

Mlp& Mlp::linear(int outputs_count) {
  if (outputs_count < 1)
    throw SurrogateError("mlp: linear layer width " + std::to_string(outputs_count) +
                         " must be >= 1");
  Layer l;
  l.kind = LayerKind::kLinear;
  l.in = outputs();
  l.out = outputs_count;
  l.offset = params_.size();
  if (l.in < 1) throw SurrogateError("mlp: linear layer after a network with no inputs");
  const Index added = Index{l.in} * l.out + l.out;
  params_.conservativeResize(params_.size() + added);
  params_.tail(added).setZero();
  layers_.push_back(l);
  return *this;
}

Mlp& Mlp::append(LayerKind kind, double rate) {
  Layer l;
  l.kind = kind;
  l.in = l.out = outputs();
  l.rate = rate;
  layers_.push_back(l);
  return *this;
}

Mlp& Mlp::softplus() {
  return append(LayerKind::kSoftplus, 0);
}
Mlp& Mlp::relu() {
  return append(LayerKind::kRelu, 0);
}
Mlp& Mlp::sigmoid() {
  return append(LayerKind::kSigmoid, 0);
}
Mlp& Mlp::dropout(double rate) {
  if (!(rate >= 0 && rate < 1))
    throw SurrogateError("mlp: dropout rate " + std::to_string(rate) + " is not in [0, 1)");
  return append(LayerKind::kDropout, rate);
}

int Mlp::outputs() const {
  return layers_.empty() ? inputs_ : layers_.back().out;
}

void Mlp::init(Rng& rng) {
  for (const Layer& l : layers_) {
    if (l.kind != LayerKind::kLinear) continue;
    const double a = 1.0 / std::sqrt(static_cast<double>(l.in));
    std::uniform_real_distribution<double> u(-a, a);
    const Index count = Index{l.in} * l.out + l.out;
    for (Index i = 0; i < count; ++i) params_[l.offset + i] = u(rng);
  }
}

Eigen::VectorXd Mlp::decay_mask() const {
  Eigen::VectorXd m = Eigen::VectorXd::Zero(params_.size());
  for (const Layer& l : layers_)
    if (l.kind == LayerKind::kLinear) m.segment(l.offset, Index{l.in} * l.out).setOnes();
  return m;
}

bool Mlp::has_dropout() const {
  for (const Layer& l : layers_)
    if (l.kind == LayerKind::kDropout && l.rate > 0) return true;
  return false;
}

MaskSet Mlp::sample_masks(Rng& rng) const {
  MaskSet masks;
  for (const Layer& l : layers_) {
    if (l.kind != LayerKind::kDropout) continue;
    const double keep = 1.0 - l.rate;
    std::bernoulli_distribution bern(keep);
    Eigen::RowVectorXd m(l.out);
    for (Index j = 0; j < l.out; ++j) m[j] = bern(rng) ? 1.0 / keep : 0.0;
    masks.push_back(std::move(m));
  }
  return masks;
}

Eigen::MatrixXd Mlp::forward(const Eigen::MatrixXd& x, const DropoutMode& mode) const {
  Tape tape;
  return forward(x, tape, mode);
}

const Eigen::MatrixXd& Mlp::forward(const Eigen::MatrixXd& x, Tape& tape,
                                    const DropoutMode& mode) const {
  if (x.cols() != inputs_)
    throw SurrogateError("mlp: input has " + std::to_string(x.cols()) + " columns, expected " +
                         std::to_string(inputs_));
  if (mode.masks) {
    std::size_t dropouts = 0;
    for (const Layer& l : layers_) dropouts += l.kind == LayerKind::kDropout;
    if (mode.masks->size() != dropouts)
      throw SurrogateError("mlp: mask set has " + std::to_string(mode.masks->size()) +
                           " masks, expected " + std::to_string(dropouts));
  }
  tape.values.resize(layers_.size() + 1);
  tape.aux.resize(layers_.size());
  tape.values[0] = x;
  std::size_t dropout_index = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    apply(layers_[i], params_, tape.values[i], tape.values[i + 1], tape.aux[i], mode,
          dropout_index);
    dropout_index += layers_[i].kind == LayerKind::kDropout;
  }
  return tape.values.back();
}

Eigen::MatrixXd Mlp::backward(const Tape& tape, const Eigen::MatrixXd& grad_out,
                              Eigen::VectorXd* grad_params) const {
  if (tape.values.size() != layers_.size() + 1)
    throw SurrogateError("mlp: backward without a matching forward pass");
  if (grad_out.rows() != tape.values.back().rows() || grad_out.cols() != outputs())
    throw SurrogateError("mlp: output gradient is " + std::to_string(grad_out.rows()) + " x " +
                         std::to_string(grad_out.cols()) + ", expected " +
                         std::to_string(tape.values.back().rows()) + " x " +
                         std::to_string(outputs()));
  if (grad_params && grad_params->size() != params_.size())
    throw SurrogateError("mlp: parameter gradient has the wrong size");
  MatrixXd g = grad_out;
  for (std::size_t k = layers_.size(); k-- > 0;) {
    const Layer& l = layers_[k];
    const MatrixXd& in = tape.values[k];
    const MatrixXd& out = tape.values[k + 1];
    switch (l.kind) {
      case LayerKind::kLinear: {
        if (grad_params) {
          Eigen::Map<MatrixXd> gw(grad_params->data() + l.offset, l.in, l.out);
          gw.noalias() += in.transpose() * g;
          grad_params->segment(l.offset + Index{l.in} * l.out, l.out) +=
              g.colwise().sum().transpose();
        }
        MatrixXd gin = g * weights(params_, l).transpose();
        g = std::move(gin);
        break;
      }
      case LayerKind::kSoftplus:
        g.array() *= tape.aux[k].array();
        break;
      case LayerKind::kRelu:
        g.array() *= (in.array() > 0.0).cast<double>();
        break;
      case LayerKind::kSigmoid:
        g.array() *= out.array() * (1.0 - out.array());
        break;
      case LayerKind::kDropout: {
        const MatrixXd& m = tape.aux[k];
        if (m.size() == 0) break;
        if (m.rows() == g.rows())
          g.array() *= m.array();
        else
          g.array().rowwise() *= m.row(0).array();
        break;
      }
    }
  }
  return g;
}

}  // namespace flexnas::nn
