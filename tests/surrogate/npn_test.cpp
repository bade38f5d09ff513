#include "surrogate/npn.hpp"

#include <cmath>
#include <functional>

#include "surrogate/error.hpp"
#include "surrogate/train.hpp"

#include <catch2/catch.hpp>

using namespace flexnas;
using namespace flexnas::nn;

namespace {

// E[f(X)] and Var[f(X)] for X ~ N(c, d) by the trapezoid rule over +-12 sd.
std::pair<double, double> integrate_moments(const std::function<double(double)>& f, double c,
                                            double d) {
  const double s = std::sqrt(d);
  const int n = 20000;
  const double lo = c - 12 * s, h = 24 * s / n;
  double m1 = 0, m2 = 0;
  for (int i = 0; i <= n; ++i) {
    const double x = lo + i * h;
    const double w = (i == 0 || i == n ? 0.5 : 1.0) * h * std::exp(-0.5 * (x - c) * (x - c) / d) /
                     std::sqrt(2 * M_PI * d);
    m1 += w * f(x);
    m2 += w * f(x) * f(x);
  }
  return {m1, m2 - m1 * m1};
}

Eigen::MatrixXd random_matrix(Rng& rng, Eigen::Index rows, Eigen::Index cols) {
  std::normal_distribution<double> n(0, 1);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = n(rng);
  return m;
}

double rel_err(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(1e-12, std::max(a.norm(), b.norm()));
}

}  // namespace

TEST_CASE("npn_relu_moments_are_exact", "[npn]") {
  for (double c : {-3.0, -0.7, 0.0, 0.4, 2.5})
    for (double d : {0.01, 0.3, 1.0, 4.0}) {
      const auto [m, v] = integrate_moments([](double x) { return std::max(x, 0.0); }, c, d);
      const GaussianMoments g = relu_moments(c, d);
      INFO("c " << c << " d " << d);
      CHECK(g.m == Approx(m).margin(1e-9));
      CHECK(g.v == Approx(v).margin(1e-9));
    }
}

TEST_CASE("npn_sigmoid_moments_follow_the_paper_approximation", "[npn]") {
  // Wang et al.'s approximation: the mean within 0.02 of the true sigmoid moments, the
  // variance within 0.03 but never below ~0.012 as d -> 0 (why the output uses kProbit).
  for (double c : {-4.0, -1.0, 0.0, 0.5, 3.0})
    for (double d : {0.0001, 0.5, 2.0, 9.0}) {
      const auto [m, v] = integrate_moments([](double x) { return sigmoid(x); }, c, d);
      const GaussianMoments g = sigmoid_moments(c, d);
      INFO("c " << c << " d " << d);
      CHECK(g.m == Approx(m).margin(0.02));
      CHECK(g.v == Approx(v).margin(0.03));
      CHECK(g.v > 0);
    }
  CHECK(sigmoid_moments(0, 0).v > 0.012);
}

TEST_CASE("npn_probit_moments_are_exact_and_vanish_with_the_input_variance", "[npn]") {
  const double lambda = std::sqrt(M_PI / 8);
  auto probit = [&](double x) { return 0.5 * std::erfc(-lambda * x / std::sqrt(2.0)); };
  for (double c : {-6.0, -1.0, 0.0, 0.5, 3.0})
    for (double d : {1e-6, 0.01, 0.5, 2.0, 9.0, 100.0}) {
      const auto [m, v] = integrate_moments(probit, c, d);
      const GaussianMoments g = probit_moments(c, d);
      INFO("c " << c << " d " << d);
      CHECK(g.m == Approx(m).margin(1e-9));
      CHECK(g.v == Approx(v).margin(1e-9).epsilon(1e-6));
      // And within 0.02 / 0.01 of the logistic sigmoid's moments.
      const auto [ms, vs] = integrate_moments([](double x) { return sigmoid(x); }, c, d);
      CHECK(g.m == Approx(ms).margin(0.02));
      CHECK(g.v == Approx(vs).margin(0.01));
    }
}

TEST_CASE("npn_moment_partials_match_finite_differences", "[npn]") {
  for (auto f : {relu_moments, sigmoid_moments, probit_moments})
    for (double c : {-2.0, -0.3, 0.2, 1.7})
      for (double d : {0.05, 0.8, 3.0}) {
        const double h = 1e-6;
        const GaussianMoments g = f(c, d);
        const GaussianMoments cp = f(c + h, d), cm = f(c - h, d);
        const GaussianMoments dp = f(c, d + h), dm = f(c, d - h);
        INFO("c " << c << " d " << d);
        CHECK(g.dm_dc == Approx((cp.m - cm.m) / (2 * h)).margin(1e-7));
        CHECK(g.dv_dc == Approx((cp.v - cm.v) / (2 * h)).margin(1e-7));
        CHECK(g.dm_dd == Approx((dp.m - dm.m) / (2 * h)).margin(1e-7));
        CHECK(g.dv_dd == Approx((dp.v - dm.v) / (2 * h)).margin(1e-7));
      }
}

TEST_CASE("npn_linear_layer_propagates_exact_moments", "[npn]") {
  // One linear layer on a deterministic input: mean x W + b, variance x^2 ws + bs.
  Npn net(2);
  net.linear(1);
  net.output_var_floor = 0;
  Rng rng(1);
  net.init(rng, 0.25);
  Eigen::MatrixXd x(1, 2);
  x << 2, -3;
  const auto [m, v] = net.forward(x);
  const Eigen::VectorXd& p = net.params();
  CHECK(m(0, 0) == Approx(2 * p[0] - 3 * p[1] + p[4]));
  CHECK(v(0, 0) == Approx((4 + 9 + 1) * 0.25));
}

TEST_CASE("npn_gradients_match_finite_differences", "[npn]") {
  Rng rng(4);
  for (NpnLayerKind act : {NpnLayerKind::kRelu, NpnLayerKind::kSigmoid, NpnLayerKind::kProbit}) {
    Npn net =
        Npn::make(4, {6, 5}, 2, act, act == NpnLayerKind::kRelu ? NpnLayerKind::kProbit : act);
    net.init(rng, 0.05);
    const Eigen::MatrixXd x = random_matrix(rng, 3, 4);
    const Eigen::MatrixXd wm = random_matrix(rng, 3, 2), wv = random_matrix(rng, 3, 2);
    auto loss = [&](const Npn& n, const Eigen::MatrixXd& in) {
      const auto [m, v] = n.forward(in);
      return m.cwiseProduct(wm).sum() + v.cwiseProduct(wv).sum();
    };
    NpnTape tape;
    net.forward(x, tape);
    Eigen::VectorXd gp = Eigen::VectorXd::Zero(net.num_params());
    const Eigen::MatrixXd gx = net.backward(tape, wm, wv, &gp);
    const double h = 1e-6;
    Eigen::VectorXd fd_p(net.num_params());
    for (Eigen::Index i = 0; i < net.num_params(); ++i) {
      Npn a = net, b = net;
      a.params()[i] += h;
      b.params()[i] -= h;
      fd_p[i] = (loss(a, x) - loss(b, x)) / (2 * h);
    }
    Eigen::MatrixXd fd_x(x.rows(), x.cols());
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        Eigen::MatrixXd a = x, b = x;
        a(i, j) += h;
        b(i, j) -= h;
        fd_x(i, j) = (loss(net, a) - loss(net, b)) / (2 * h);
      }
    CHECK(rel_err(gp, fd_p) < 1e-6);
    CHECK(rel_err(gx, fd_x) < 1e-6);
  }
}

TEST_CASE("npn_learns_heteroscedastic_noise", "[npn]") {
  // y = 0.5 + 0.2 x + noise whose sd is 0.01 for x < 0 and 0.1 for x > 0.
  const Eigen::Index n = 400;
  Rng data(2);
  std::uniform_real_distribution<double> u(-1, 1);
  std::normal_distribution<double> z(0, 1);
  Eigen::MatrixXd x(n, 1);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    x(i, 0) = u(data);
    y[i] = 0.5 + 0.2 * x(i, 0) + (x(i, 0) < 0 ? 0.01 : 0.1) * z(data);
  }
  Rng rng(3);
  Npn net = Npn::make(1, {32, 32}, 1, NpnLayerKind::kRelu, NpnLayerKind::kProbit);
  net.init(rng);
  NpnTape tape;
  BatchLoss loss = [&](const std::vector<Eigen::Index>& rows, Eigen::VectorXd& grad) {
    net.forward(gather_rows(x, rows), tape);
    const Eigen::ArrayXd m = tape.mean.back().col(0).array(), v = tape.var.back().col(0).array();
    const Eigen::ArrayXd r = m - gather(y, rows).array();
    const double k = static_cast<double>(rows.size());
    const Eigen::MatrixXd gm = (r / v / k).matrix();
    const Eigen::MatrixXd gv = (0.5 * (1 / v - r * r / (v * v)) / k).matrix();
    net.backward(tape, gm, gv, &grad);
    return (0.5 * (r * r / v + v.log())).sum() / k;
  };
  TrainOptions opt;
  opt.steps = 1500;
  opt.batch_size = 64;
  REQUIRE(train_minibatch(net.params(), net.decay_mask(), n, loss, opt, rng).status ==
          TrainStatus::kOk);
  Eigen::MatrixXd q(2, 1);
  q << -0.5, 0.5;
  const auto [m, v] = net.forward(q);
  CHECK(m(0, 0) == Approx(0.4).margin(0.02));
  CHECK(m(1, 0) == Approx(0.6).margin(0.03));
  CHECK(std::sqrt(v(0, 0)) < 0.03);
  CHECK(std::sqrt(v(1, 0)) == Approx(0.1).margin(0.04));
}

TEST_CASE("npn_rejects_bad_shapes", "[npn]") {
  const Npn net = Npn::make(3, {4}, 1, NpnLayerKind::kRelu, NpnLayerKind::kProbit);
  CHECK_THROWS_AS(net.forward(Eigen::MatrixXd::Zero(2, 2)), SurrogateError);
  CHECK_THROWS_AS(Npn::make(3, {4}, 1, NpnLayerKind::kLinear, NpnLayerKind::kProbit),
                  SurrogateError);
  NpnTape tape;
  net.forward(Eigen::MatrixXd::Zero(2, 3), tape);
  CHECK_THROWS_AS(net.backward(tape, Eigen::MatrixXd::Zero(2, 1), Eigen::MatrixXd::Zero(1, 1)),
                  SurrogateError);
}
