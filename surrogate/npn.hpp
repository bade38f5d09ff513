#pragma once
// Natural-parameter network (Wang, Shi & Yeung 2016, "Natural-Parameter Networks: a class
// of probabilistic neural networks", NeurIPS). Weights, biases and activations are
// factorised Gaussians; every layer maps the (mean, variance) of its input to the moments
// of its output in closed form, so one forward pass gives a predictive mean and variance
// (the heteroscedastic, aleatoric part in BOSHNAS). Evaluated over a batch (rows = samples)
// with reverse-mode gradients with respect to the parameters and to the input.
#include <array>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "surrogate/mlp.hpp"

namespace flexnas::nn {

// kSigmoid uses the paper's approximations; kProbit is the sigmoid-shaped Phi(x sqrt(pi/8))
// with exact moments (see probit_moments), the default output of the BOSHNAS NPN.
enum class NpnLayerKind { kLinear, kRelu, kSigmoid, kProbit };

struct NpnLayer {
  NpnLayerKind kind = NpnLayerKind::kLinear;
  int in = 0;
  int out = 0;
  // kLinear: W mean (in x out), W raw variance (in x out), b mean (out), b raw variance (out)
  // from here in params(); a variance is softplus(raw) so that it stays positive.
  Eigen::Index offset = 0;
};

struct NpnTape {
  std::vector<Eigen::MatrixXd> mean, var;  // [i]: input moments of layer i; back(): output
  // Activation layers: partial derivatives of the output moments (m, v) with respect to the
  // input moments (c, d): dm/dc, dm/dd, dv/dc, dv/dd.
  std::vector<std::array<Eigen::MatrixXd, 4>> partials;
  // Linear layers: weight variances softplus(raw) and their derivatives sigmoid(raw), for W
  // (in x out) then b (1 x out), and ws + wm^2 (in x out): computed once per pass.
  std::vector<std::array<Eigen::MatrixXd, 5>> variances;
};

class Npn {
 public:
  explicit Npn(int inputs = 0);

  // inputs -> hidden... -> outputs: `activation` after every hidden linear layer and
  // `output` (kLinear for none) after the last. The BOSHNAS NPN is
  // make(d, {32, 32}, 1, kRelu, kProbit).
  static Npn make(int inputs, const std::vector<int>& hidden, int outputs, NpnLayerKind activation,
                  NpnLayerKind output);

  Npn& linear(int outputs);
  Npn& relu();
  Npn& sigmoid();
  Npn& probit();

  // Means uniform in +-1/sqrt(fan_in) (PyTorch's nn.Linear); variances `init_var`.
  void init(Rng& rng, double init_var = 1e-3);

  int inputs() const { return inputs_; }
  int outputs() const;
  Eigen::Index num_params() const { return params_.size(); }
  // Non-const access drops the freeze() cache: the caller may change the parameters.
  Eigen::VectorXd& params() {
    frozen_.clear();
    return params_;
  }
  const Eigen::VectorXd& params() const { return params_; }
  // 1 on weight means only: decaying a raw variance would push it to softplus(0), not to 0.
  Eigen::VectorXd decay_mask() const;
  const std::vector<NpnLayer>& layers() const { return layers_; }

  // Computes the weight variances once for later forward passes (prediction after
  // training: they are the same for every query). Call after the last change to params().
  void freeze();

  // Variance added to the output so that the Gaussian loss never divides by ~0.
  double output_var_floor = 1e-6;

  // Moments of the output for deterministic inputs x (n x inputs): mean and variance, each
  // n x outputs. The taped form returns references into the tape.
  std::pair<Eigen::MatrixXd, Eigen::MatrixXd> forward(const Eigen::MatrixXd& x) const;
  void forward(const Eigen::MatrixXd& x, NpnTape& tape) const;
  // From dL/d(mean) and dL/d(var) of the output (n x outputs each): returns dL/dx and adds
  // dL/d(params) to *grad_params when given.
  Eigen::MatrixXd backward(const NpnTape& tape, const Eigen::MatrixXd& grad_mean,
                           const Eigen::MatrixXd& grad_var,
                           Eigen::VectorXd* grad_params = nullptr) const;

 private:
  Npn& append(NpnLayerKind kind);

  int inputs_ = 0;
  std::vector<NpnLayer> layers_;
  Eigen::VectorXd params_;
  std::vector<std::array<Eigen::MatrixXd, 5>> frozen_;  // freeze(): per layer, as in NpnTape
};

// Moments of f(X), X ~ N(c, d), elementwise, with the partials of (m, v) in (c, d):
// ReLU exactly; the sigmoid with the probit approximation of Wang et al. (their eq. for
// sigma(x) and sigma(x)^2 with zeta^2 = pi / 8, alpha = 4 - 2 sqrt 2, beta = -ln(sqrt 2 + 1)).
struct GaussianMoments {
  double m, v, dm_dc, dm_dd, dv_dc, dv_dd;
};
GaussianMoments relu_moments(double c, double d);
GaussianMoments sigmoid_moments(double c, double d);
// Exact moments of Phi(lambda x), lambda^2 = pi / 8 (within 0.02 of the sigmoid everywhere):
// mean Phi(h), h = lambda c / sqrt(1 + lambda^2 d), and by Plackett's identity
// variance = Phi2(h, h; rho) - Phi(h)^2 = (1 / 2 pi) int_0^asin(rho) exp(-h^2 / (1 + sin t)) dt,
// rho = lambda^2 d / (1 + lambda^2 d), by 16-point Gauss-Legendre. Unlike the paper's
// sigma(x)^2 ~ sigma(alpha (x + beta)), whose absolute error of up to 0.03 puts a floor of
// about 0.013 under every predicted variance, this goes to 0 with d.
GaussianMoments probit_moments(double c, double d);

}  // namespace flexnas::nn
