#include "surrogate/npn.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "surrogate/error.hpp"

namespace flexnas::nn {

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
constexpr double kZeta2 = std::numbers::pi / 8;     // probit approximation of the sigmoid
const double kAlpha = 4 - 2 * std::numbers::sqrt2;  // sigma(x)^2 ~ sigma(alpha (x + beta))
const double kBeta = -std::log(std::numbers::sqrt2 + 1);
constexpr double kMinVar = 1e-12;  // moments are computed for d >= this

struct LinearView {
  Eigen::Map<const MatrixXd> wm, wr;
  Eigen::Map<const Eigen::RowVectorXd> bm, br;
};

LinearView view(const Eigen::VectorXd& p, const NpnLayer& l) {
  const Index w = Index{l.in} * l.out;
  const double* base = p.data() + l.offset;
  return {{base, l.in, l.out},
          {base + w, l.in, l.out},
          {base + 2 * w, l.out},
          {base + 2 * w + l.out, l.out}};
}

// softplus(raw) and its derivative sigmoid(raw) from one exp (see mlp.cpp).
template <typename In>
void softplus_and_slope(const In& raw, MatrixXd& value, MatrixXd& slope) {
  const Eigen::ArrayXXd e = (-raw.array().abs()).exp();
  const Eigen::ArrayXXd inv = 1.0 / (1.0 + e);
  value = (raw.array().max(0.0) + (1.0 + e).log()).matrix();
  slope = (raw.array() >= 0).select(inv, e * inv).matrix();
}

// 16-point Gauss-Legendre rule on [0, 1], by Newton's method on P_16 (computed once).
struct GaussLegendre {
  std::array<double, 16> x{}, w{};
  GaussLegendre() {
    constexpr int n = 16;
    for (int i = 0; i < n; ++i) {
      double z = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = z;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        const double step = p1 / dp;
        z -= step;
        if (std::abs(step) < 1e-15) break;
      }
      x[static_cast<std::size_t>(i)] = 0.5 * (1 - z);
      w[static_cast<std::size_t>(i)] = 1 / ((1 - z * z) * dp * dp);  // 2 / (...) halved for [0, 1]
    }
  }
};

const GaussLegendre& gauss_legendre() {
  static const GaussLegendre rule;
  return rule;
}

// relu_moments over whole matrices: only erfc is scalar (Eigen has no double erfc packet).
void relu_moments_array(const MatrixXd& c_in, const MatrixXd& d_in, MatrixXd& m, MatrixXd& v,
                        std::array<MatrixXd, 4>& g) {
  const auto c = c_in.array();
  const Eigen::ArrayXXd s = d_in.array().max(kMinVar).sqrt();
  const Eigen::ArrayXXd u = c / s;
  const Eigen::ArrayXXd cdf =
      u.unaryExpr([](double z) { return 0.5 * std::erfc(-z * std::numbers::sqrt2 / 2); });
  const Eigen::ArrayXXd pdf = kInvSqrt2Pi * (-0.5 * u.square()).exp();
  m = (c * cdf + s * pdf).matrix();
  const auto ma = m.array();
  v = ((c.square() + s.square()) * cdf + c * s * pdf - ma.square()).max(kMinVar).matrix();
  g[0] = cdf.matrix();
  g[1] = (pdf / (2 * s)).matrix();
  g[2] = (2 * ma * (1 - cdf)).matrix();
  g[3] = (cdf - ma * pdf / s).matrix();
}

}  // namespace

GaussianMoments probit_moments(double c, double d) {
  d = std::max(d, 0.0);
  const double lambda = std::sqrt(kZeta2);
  const double q = 1 + kZeta2 * d;
  const double h = lambda * c / std::sqrt(q);
  const double dh_dc = lambda / std::sqrt(q);
  const double dh_dd = -0.5 * lambda * c * kZeta2 / (q * std::sqrt(q));
  const double rho = kZeta2 * d / q;
  const double drho_dd = kZeta2 / (q * q);
  const double pdf = kInvSqrt2Pi * std::exp(-0.5 * h * h);
  GaussianMoments g;
  g.m = 0.5 * std::erfc(-h * std::numbers::sqrt2 / 2);
  g.dm_dc = pdf * dh_dc;
  g.dm_dd = pdf * dh_dd;
  const double top = std::asin(rho);
  double var = 0, dvar_dh = 0;
  const GaussLegendre& gl = gauss_legendre();
  for (std::size_t i = 0; i < gl.x.size(); ++i) {
    const double t = top * gl.x[i];
    const double a = 1 / (1 + std::sin(t));
    const double e = std::exp(-h * h * a);
    var += gl.w[i] * e;
    dvar_dh += gl.w[i] * e * (-2 * h * a);
  }
  const double scale = top / (2 * std::numbers::pi);
  const double dvar_drho =
      std::exp(-h * h / (1 + rho)) / (2 * std::numbers::pi * std::sqrt(1 - rho * rho));
  g.v = std::max(var * scale, kMinVar);
  g.dv_dc = dvar_dh * scale * dh_dc;
  g.dv_dd = dvar_dh * scale * dh_dd + dvar_drho * drho_dd;
  return g;
}

GaussianMoments relu_moments(double c, double d) {
  d = std::max(d, kMinVar);
  const double s = std::sqrt(d);
  const double u = c / s;
  const double cdf = 0.5 * std::erfc(-u * std::numbers::sqrt2 / 2);
  const double pdf = kInvSqrt2Pi * std::exp(-0.5 * u * u);
  GaussianMoments g;
  g.m = c * cdf + s * pdf;
  g.v = std::max((c * c + d) * cdf + c * s * pdf - g.m * g.m, kMinVar);
  // E[relu] and E[relu^2] differentiate to Phi, phi / 2s and 2m, Phi (the other terms cancel).
  g.dm_dc = cdf;
  g.dm_dd = pdf / (2 * s);
  g.dv_dc = 2 * g.m * (1 - cdf);
  g.dv_dd = cdf - g.m * pdf / s;
  return g;
}

GaussianMoments sigmoid_moments(double c, double d) {
  d = std::max(d, 0.0);
  const double k1 = 1 / std::sqrt(1 + kZeta2 * d);
  const double t1 = c * k1;
  const double s1 = sigmoid(t1);
  const double a2 = kAlpha * kAlpha;
  const double k2 = 1 / std::sqrt(1 + kZeta2 * a2 * d);
  const double t2 = kAlpha * (c + kBeta) * k2;
  const double s2 = sigmoid(t2);
  GaussianMoments g;
  g.m = s1;
  g.v = std::max(s2 - s1 * s1, kMinVar);
  const double ds1 = s1 * (1 - s1), ds2 = s2 * (1 - s2);
  g.dm_dc = ds1 * k1;
  g.dm_dd = ds1 * c * (-0.5 * kZeta2) * k1 * k1 * k1;
  const double dm2_dc = ds2 * kAlpha * k2;
  const double dm2_dd = ds2 * kAlpha * (c + kBeta) * (-0.5 * kZeta2 * a2) * k2 * k2 * k2;
  g.dv_dc = dm2_dc - 2 * s1 * g.dm_dc;
  g.dv_dd = dm2_dd - 2 * s1 * g.dm_dd;
  return g;
}

Npn::Npn(int inputs) : inputs_(inputs) {
  if (inputs < 0) throw SurrogateError("npn: inputs " + std::to_string(inputs) + " is negative");
}

Npn Npn::make(int inputs, const std::vector<int>& hidden, int outputs, NpnLayerKind activation,
              NpnLayerKind output) {
  if (inputs < 1) throw SurrogateError("npn: inputs " + std::to_string(inputs) + " must be >= 1");
  if (activation == NpnLayerKind::kLinear)
    throw SurrogateError("npn: hidden activation must be relu, sigmoid or probit");
  Npn n(inputs);
  for (int h : hidden) n.linear(h).append(activation);
  n.linear(outputs);
  if (output != NpnLayerKind::kLinear) n.append(output);
  return n;
}

Npn& Npn::linear(int outputs_count) {
  if (outputs_count < 1)
    throw SurrogateError("npn: linear layer width " + std::to_string(outputs_count) +
                         " must be >= 1");
  NpnLayer l;
  l.in = outputs();
  l.out = outputs_count;
  l.offset = params_.size();
  if (l.in < 1) throw SurrogateError("npn: linear layer after a network with no inputs");
  const Index added = 2 * (Index{l.in} * l.out + l.out);
  params_.conservativeResize(params_.size() + added);
  params_.tail(added).setZero();
  layers_.push_back(l);
  return *this;
}

Npn& Npn::append(NpnLayerKind kind) {
  NpnLayer l;
  l.kind = kind;
  l.in = l.out = outputs();
  layers_.push_back(l);
  return *this;
}
Npn& Npn::relu() {
  return append(NpnLayerKind::kRelu);
}
Npn& Npn::sigmoid() {
  return append(NpnLayerKind::kSigmoid);
}
Npn& Npn::probit() {
  return append(NpnLayerKind::kProbit);
}

int Npn::outputs() const {
  return layers_.empty() ? inputs_ : layers_.back().out;
}

void Npn::init(Rng& rng, double init_var) {
  if (!(init_var > 0)) throw SurrogateError("npn: init_var must be > 0");
  const double raw = std::log(std::expm1(init_var));  // softplus^-1
  for (const NpnLayer& l : layers_) {
    if (l.kind != NpnLayerKind::kLinear) continue;
    const Index w = Index{l.in} * l.out;
    const double a = 1.0 / std::sqrt(static_cast<double>(l.in));
    std::uniform_real_distribution<double> u(-a, a);
    for (Index i = 0; i < w; ++i) params_[l.offset + i] = u(rng);
    params_.segment(l.offset + w, w).setConstant(raw);
    for (Index i = 0; i < l.out; ++i) params_[l.offset + 2 * w + i] = u(rng);
    params_.segment(l.offset + 2 * w + l.out, l.out).setConstant(raw);
  }
}

void Npn::freeze() {
  frozen_.assign(layers_.size(), {});
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].kind != NpnLayerKind::kLinear) continue;
    const LinearView p = view(params_, layers_[i]);
    softplus_and_slope(p.wr, frozen_[i][0], frozen_[i][1]);
    softplus_and_slope(p.br, frozen_[i][2], frozen_[i][3]);
    frozen_[i][4] = frozen_[i][0] + p.wm.cwiseAbs2();
  }
}

Eigen::VectorXd Npn::decay_mask() const {
  Eigen::VectorXd m = Eigen::VectorXd::Zero(params_.size());
  for (const NpnLayer& l : layers_)
    if (l.kind == NpnLayerKind::kLinear) m.segment(l.offset, Index{l.in} * l.out).setOnes();
  return m;
}

std::pair<Eigen::MatrixXd, Eigen::MatrixXd> Npn::forward(const Eigen::MatrixXd& x) const {
  NpnTape tape;
  forward(x, tape);
  return {std::move(tape.mean.back()), std::move(tape.var.back())};
}

void Npn::forward(const Eigen::MatrixXd& x, NpnTape& tape) const {
  if (x.cols() != inputs_)
    throw SurrogateError("npn: input has " + std::to_string(x.cols()) + " columns, expected " +
                         std::to_string(inputs_));
  const std::size_t n_layers = layers_.size();
  tape.mean.resize(n_layers + 1);
  tape.var.resize(n_layers + 1);
  tape.partials.resize(n_layers);
  tape.variances.resize(n_layers);
  tape.mean[0] = x;
  tape.var[0].setZero(x.rows(), x.cols());
  for (std::size_t i = 0; i < n_layers; ++i) {
    const NpnLayer& l = layers_[i];
    const MatrixXd& c = tape.mean[i];
    const MatrixXd& d = tape.var[i];
    MatrixXd& m = tape.mean[i + 1];
    MatrixXd& v = tape.var[i + 1];
    if (l.kind == NpnLayerKind::kLinear) {
      const LinearView p = view(params_, l);
      auto& var = tape.variances[i];
      if (frozen_.empty()) {
        softplus_and_slope(p.wr, var[0], var[1]);
        softplus_and_slope(p.br, var[2], var[3]);
        var[4] = var[0] + p.wm.cwiseAbs2();
      } else {
        var = frozen_[i];
      }
      const MatrixXd& ws = var[0];
      m.noalias() = c * p.wm;
      m.rowwise() += p.bm;
      // Var of sum_k a_k w_k with independent a ~ (c, d), w ~ (wm, ws):
      // d (ws + wm^2) + c^2 ws.
      v.noalias() = c.cwiseAbs2() * ws;
      if (i > 0) v.noalias() += d * var[4];
      v.rowwise() += var[2].row(0);
      continue;
    }
    auto& g = tape.partials[i];
    if (l.kind == NpnLayerKind::kRelu) {
      relu_moments_array(c, d, m, v, g);
      continue;
    }
    m.resize(c.rows(), c.cols());
    v.resize(c.rows(), c.cols());
    for (auto& a : g) a.resize(c.rows(), c.cols());
    const auto moments = l.kind == NpnLayerKind::kRelu      ? relu_moments
                         : l.kind == NpnLayerKind::kSigmoid ? sigmoid_moments
                                                            : probit_moments;
    for (Index col = 0; col < c.cols(); ++col)
      for (Index row = 0; row < c.rows(); ++row) {
        const GaussianMoments r = moments(c(row, col), d(row, col));
        m(row, col) = r.m;
        v(row, col) = r.v;
        g[0](row, col) = r.dm_dc;
        g[1](row, col) = r.dm_dd;
        g[2](row, col) = r.dv_dc;
        g[3](row, col) = r.dv_dd;
      }
  }
  tape.var.back().array() += output_var_floor;
}

Eigen::MatrixXd Npn::backward(const NpnTape& tape, const Eigen::MatrixXd& grad_mean,
                              const Eigen::MatrixXd& grad_var, Eigen::VectorXd* grad_params) const {
  if (tape.mean.size() != layers_.size() + 1)
    throw SurrogateError("npn: backward without a matching forward pass");
  const Index n = tape.mean.back().rows();
  if (grad_mean.rows() != n || grad_var.rows() != n || grad_mean.cols() != outputs() ||
      grad_var.cols() != outputs())
    throw SurrogateError("npn: output gradients must be " + std::to_string(n) + " x " +
                         std::to_string(outputs()));
  if (grad_params && grad_params->size() != params_.size())
    throw SurrogateError("npn: parameter gradient has the wrong size");
  MatrixXd gm = grad_mean, gv = grad_var;
  for (std::size_t k = layers_.size(); k-- > 0;) {
    const NpnLayer& l = layers_[k];
    if (l.kind != NpnLayerKind::kLinear) {
      const auto& g = tape.partials[k];
      MatrixXd gc = gm.cwiseProduct(g[0]) + gv.cwiseProduct(g[2]);
      MatrixXd gd = gm.cwiseProduct(g[1]) + gv.cwiseProduct(g[3]);
      gm = std::move(gc);
      gv = std::move(gd);
      continue;
    }
    const LinearView p = view(params_, l);
    const MatrixXd& c = tape.mean[k];
    const MatrixXd& d = tape.var[k];
    const bool input_layer = k == 0;  // input variance is exactly 0
    const auto& var = tape.variances[k];
    const MatrixXd& ws = var[0];
    if (grad_params) {
      const Index w = Index{l.in} * l.out;
      double* base = grad_params->data() + l.offset;
      Eigen::Map<MatrixXd> g_wm(base, l.in, l.out), g_wr(base + w, l.in, l.out);
      Eigen::Map<Eigen::RowVectorXd> g_bm(base + 2 * w, l.out), g_br(base + 2 * w + l.out, l.out);
      MatrixXd g_ws = c.cwiseAbs2().transpose() * gv;
      g_wm.noalias() += c.transpose() * gm;
      if (!input_layer) {
        const MatrixXd dt_gv = d.transpose() * gv;
        g_ws += dt_gv;
        g_wm += 2 * p.wm.cwiseProduct(dt_gv);
      }
      g_wr.array() += g_ws.array() * var[1].array();
      g_bm += gm.colwise().sum();
      g_br.array() += gv.colwise().sum().array() * var[3].row(0).array();
    }
    MatrixXd gc = gm * p.wm.transpose();
    gc.noalias() += 2 * c.cwiseProduct(gv * ws.transpose());
    if (!input_layer) {
      MatrixXd gd = gv * var[4].transpose();
      gv = std::move(gd);
    } else {
      gv.resize(0, 0);
    }
    gm = std::move(gc);
  }
  return gm;
}

}  // namespace flexnas::nn
