#include "surrogate/mlp.hpp"

#include <cmath>

#include "surrogate/error.hpp"
#include "surrogate/train.hpp"

#include <catch2/catch.hpp>

using namespace flexnas;
using namespace flexnas::nn;

namespace {

Eigen::MatrixXd random_matrix(Rng& rng, Eigen::Index rows, Eigen::Index cols, double scale = 1) {
  std::normal_distribution<double> n(0, scale);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = n(rng);
  return m;
}

double rel_err(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(1e-12, std::max(a.norm(), b.norm()));
}

// Scalar loss sum(w .* f(x)) so that every output gets a different weight.
double weighted_sum(const Mlp& net, const Eigen::MatrixXd& x, const Eigen::MatrixXd& w,
                    const DropoutMode& mode) {
  return net.forward(x, mode).cwiseProduct(w).sum();
}

}  // namespace

TEST_CASE("mlp_make_builds_the_boshnas_teacher_shape", "[mlp]") {
  const Mlp t = Mlp::make(16, {64, 32}, 1, LayerKind::kSoftplus, 0.3, LayerKind::kSigmoid);
  // linear softplus dropout linear softplus dropout linear sigmoid
  REQUIRE(t.layers().size() == 8);
  CHECK(t.layers()[2].kind == LayerKind::kDropout);
  CHECK(t.layers().back().kind == LayerKind::kSigmoid);
  CHECK(t.num_params() == 16 * 64 + 64 + 64 * 32 + 32 + 32 + 1);
  CHECK(t.outputs() == 1);
  CHECK(t.has_dropout());
  CHECK(t.decay_mask().sum() == 16 * 64 + 64 * 32 + 32);
}

TEST_CASE("mlp_gradients_match_finite_differences", "[mlp]") {
  Rng rng(3);
  for (LayerKind act : {LayerKind::kSoftplus, LayerKind::kSigmoid, LayerKind::kRelu}) {
    for (LayerKind out : {LayerKind::kLinear, LayerKind::kSigmoid, LayerKind::kSoftplus}) {
      Mlp net = Mlp::make(5, {7, 6}, 2, act, 0.3, out);
      net.init(rng);
      const Eigen::MatrixXd x = random_matrix(rng, 4, 5);
      const Eigen::MatrixXd w = random_matrix(rng, 4, 2);
      const MaskSet masks = net.sample_masks(rng);
      const DropoutMode mode{nullptr, &masks};
      Tape tape;
      net.forward(x, tape, mode);
      Eigen::VectorXd gp = Eigen::VectorXd::Zero(net.num_params());
      const Eigen::MatrixXd gx = net.backward(tape, w, &gp);

      const double h = 1e-6;
      Eigen::VectorXd fd_p(net.num_params());
      for (Eigen::Index i = 0; i < net.num_params(); ++i) {
        Mlp a = net, b = net;
        a.params()[i] += h;
        b.params()[i] -= h;
        fd_p[i] = (weighted_sum(a, x, w, mode) - weighted_sum(b, x, w, mode)) / (2 * h);
      }
      Eigen::MatrixXd fd_x(x.rows(), x.cols());
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
          Eigen::MatrixXd a = x, b = x;
          a(i, j) += h;
          b(i, j) -= h;
          fd_x(i, j) = (weighted_sum(net, a, w, mode) - weighted_sum(net, b, w, mode)) / (2 * h);
        }
      INFO(to_string(act) << " -> " << to_string(out));
      // ReLU kinks make FD noisy only when a pre-activation sits within h of 0: not at
      // these random points.
      CHECK(rel_err(gp, fd_p) < 1e-6);
      CHECK(rel_err(gx, fd_x) < 1e-6);
    }
  }
}

TEST_CASE("mlp_shared_masks_make_rows_independent_of_their_batch", "[mlp]") {
  Rng rng(5);
  Mlp net = Mlp::make(3, {8}, 1, LayerKind::kSoftplus, 0.5, LayerKind::kSigmoid);
  net.init(rng);
  const MaskSet masks = net.sample_masks(rng);
  const Eigen::MatrixXd x = random_matrix(rng, 6, 3);
  const Eigen::MatrixXd all = net.forward(x, {nullptr, &masks});
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    CHECK(net.forward(x.row(i), {nullptr, &masks})(0, 0) == all(i, 0));
  // Without masks dropout is the identity; with masks it changes the output.
  CHECK((net.forward(x) - all).norm() > 1e-6);
}

TEST_CASE("mlp_training_dropout_is_inverted_and_seeded", "[mlp]") {
  Mlp net(200);
  net.dropout(0.3);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(50, 200);
  Rng a(9), b(9);
  const Eigen::MatrixXd ya = net.forward(x, {&a, nullptr});
  const Eigen::MatrixXd yb = net.forward(x, {&b, nullptr});
  CHECK(ya == yb);
  // Kept units are scaled by 1/(1-p) so the mean is preserved.
  CHECK(ya.mean() == Approx(1.0).epsilon(0.03));
  const double kept = (ya.array() > 0).cast<double>().mean();
  CHECK(kept == Approx(0.7).epsilon(0.03));
}

TEST_CASE("mlp_rejects_bad_shapes", "[mlp]") {
  Mlp net = Mlp::make(4, {8}, 1, LayerKind::kRelu, 0, LayerKind::kLinear);
  CHECK_THROWS_AS(net.forward(Eigen::MatrixXd::Zero(2, 3)), SurrogateError);
  CHECK_THROWS_AS(Mlp::make(0, {8}, 1, LayerKind::kRelu, 0, LayerKind::kLinear), SurrogateError);
  CHECK_THROWS_AS(Mlp::make(4, {0}, 1, LayerKind::kRelu, 0, LayerKind::kLinear), SurrogateError);
  CHECK_THROWS_AS(Mlp(4).dropout(1.0), SurrogateError);
  Tape tape;
  net.forward(Eigen::MatrixXd::Zero(2, 4), tape);
  CHECK_THROWS_AS(net.backward(tape, Eigen::MatrixXd::Zero(3, 1)), SurrogateError);
}

TEST_CASE("lr_schedule_warms_up_and_never_reaches_zero", "[train]") {
  LrSchedule s;
  s.lr = 0.01;
  s.warmup_steps = 10;
  s.final_ratio = 0.05;
  CHECK(s.at(0, 100) == Approx(0.001));
  CHECK(s.at(9, 100) == Approx(0.01));
  double prev = 1;
  for (int t = 10; t < 100; ++t) {
    const double lr = s.at(t, 100);
    CHECK(lr <= prev + 1e-15);  // monotone after warm-up: no restarts through 0
    CHECK(lr >= 0.05 * 0.01 - 1e-15);
    prev = lr;
  }
  CHECK(s.at(99, 100) == Approx(0.0005));
  s.shape = LrShape::kConstant;
  CHECK(s.at(50, 100) == Approx(0.01));
}

TEST_CASE("adamw_first_step_moves_each_weight_by_lr", "[train]") {
  // Bias-corrected Adam's first step is lr * sign(g); decay then shrinks masked weights.
  AdamWOptions o;
  o.weight_decay = 0.1;
  AdamW opt(3, o);
  Eigen::VectorXd p(3), g(3), mask(3);
  p << 1, 2, -3;
  g << 0.5, -2, 1e-3;
  mask << 1, 0, 1;
  opt.step(p, g, 0.01, mask);
  CHECK(p[0] == Approx(1 * (1 - 0.001) - 0.01).epsilon(1e-6));
  CHECK(p[1] == Approx(2 + 0.01).epsilon(1e-6));
  CHECK(p[2] == Approx(-3 * (1 - 0.001) - 0.01 * 1e-3 / (1e-3 + 1e-8)).epsilon(1e-6));
}

TEST_CASE("train_minibatch_fits_a_smooth_function_deterministically", "[train]") {
  const Eigen::Index n = 64;
  Rng data(1);
  const Eigen::MatrixXd x = random_matrix(data, n, 2);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) y[i] = 0.5 + 0.3 * std::sin(x(i, 0)) * std::cos(x(i, 1));
  auto run = [&](std::uint64_t seed) {
    Rng rng(seed);
    Mlp net = Mlp::make(2, {32, 32}, 1, LayerKind::kSoftplus, 0, LayerKind::kSigmoid);
    net.init(rng);
    Tape tape;
    BatchLoss loss = [&](const std::vector<Eigen::Index>& rows, Eigen::VectorXd& grad) {
      const Eigen::MatrixXd& out = net.forward(gather_rows(x, rows), tape);
      const Eigen::VectorXd r = out.col(0) - gather(y, rows);
      const double m = static_cast<double>(rows.size());
      net.backward(tape, (2 / m) * r, &grad);
      return r.squaredNorm() / m;
    };
    TrainOptions opt;
    opt.steps = 1500;
    opt.batch_size = 16;
    const TrainReport rep = train_minibatch(net.params(), net.decay_mask(), n, loss, opt, rng);
    CHECK(rep.status == TrainStatus::kOk);
    CHECK(rep.steps == 1500);
    return net;
  };
  const Mlp a = run(7), b = run(7);
  CHECK(a.params() == b.params());
  const Eigen::VectorXd pred = a.forward(x).col(0);
  const double rmse = std::sqrt((pred - y).squaredNorm() / n);
  Eigen::VectorXd centred = y.array() - y.mean();
  CHECK(rmse < 0.2 * std::sqrt(centred.squaredNorm() / n));
}

TEST_CASE("train_minibatch_reports_divergence_and_callback_stop", "[train]") {
  Eigen::VectorXd p = Eigen::VectorXd::Ones(2);
  Rng rng(1);
  TrainOptions opt;
  opt.steps = 50;
  int calls = 0;
  BatchLoss nan_at_5 = [&](const std::vector<Eigen::Index>&, Eigen::VectorXd& g) {
    g = p;
    return ++calls == 5 ? std::nan("") : p.squaredNorm();
  };
  const TrainReport d = train_minibatch(p, {}, 10, nan_at_5, opt, rng);
  CHECK(d.status == TrainStatus::kDiverged);
  CHECK(d.steps == 4);
  opt.on_step = [](int t, double) { return t == 2; };
  BatchLoss fine = [&](const std::vector<Eigen::Index>&, Eigen::VectorXd& g) {
    g = p;
    return p.squaredNorm();
  };
  const TrainReport s = train_minibatch(p, {}, 10, fine, opt, rng);
  CHECK(s.status == TrainStatus::kStopped);
  CHECK(s.steps == 3);
  CHECK_THROWS_AS(train_minibatch(p, {}, 0, fine, opt, rng), SurrogateError);
}
