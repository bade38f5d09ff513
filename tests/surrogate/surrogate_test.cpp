#include "surrogate/surrogate.hpp"

#include <cmath>
#include <random>

#include <tbb/global_control.h>

#include "surrogate/boshnas.hpp"
#include "surrogate/error.hpp"
#include "surrogate/gp.hpp"
#include "surrogate/npn_surrogate.hpp"
#include "surrogate/teacher.hpp"

#include <catch2/catch.hpp>

using namespace flexnas;

namespace {

Eigen::MatrixXd uniform_points(std::uint64_t seed, Eigen::Index n, Eigen::Index d, double lo = -1,
                               double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::MatrixXd x(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = u(rng);
  return x;
}

// A smooth loss landscape over [-1, 1]^d.
Eigen::VectorXd toy_loss(const Eigen::MatrixXd& x) {
  Eigen::VectorXd y(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    y[i] = 0.4 + 0.3 * std::sin(2 * x(i, 0)) * std::cos(x(i, 1 % x.cols())) +
           0.2 * x.row(i).squaredNorm() / static_cast<double>(x.cols());
  return y;
}

double rel_err(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(1e-12, std::max(a.norm(), b.norm()));
}

// Gradient of f at the rows of x by central differences of values.
Eigen::MatrixXd fd_gradient(const ScalarFunction& f, const Eigen::MatrixXd& x, double h) {
  Eigen::MatrixXd g(x.rows(), x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    Eigen::MatrixXd a = x, b = x;
    a.col(j).array() += h;
    b.col(j).array() -= h;
    g.col(j) = (f.evaluate(a) - f.evaluate(b)) / (2 * h);
  }
  return g;
}

// H v by central differences of value-difference gradients: independent of the analytic
// gradients that the implementation differentiates.
Eigen::MatrixXd fd_hvp(const ScalarFunction& f, const Eigen::MatrixXd& x,
                       const Eigen::MatrixXd& v) {
  const double h = 1e-3;
  return (fd_gradient(f, x + h * v, 1e-4) - fd_gradient(f, x - h * v, 1e-4)) / (2 * h);
}

nn::TrainOptions quick_training() {
  nn::TrainOptions t = default_network_training();
  t.steps = 100;
  return t;
}

std::vector<std::unique_ptr<Surrogate>> quick_surrogates() {
  std::vector<std::unique_ptr<Surrogate>> out;
  BoshnasOptions b;
  b.teacher.train = b.student_train = b.npn.train = quick_training();
  b.student_extra = 64;
  out.push_back(std::make_unique<BoshnasSurrogate>(b));
  b.epistemic = EpistemicSource::kTeacher;
  out.push_back(std::make_unique<BoshnasSurrogate>(b));
  TeacherOptions t;
  t.train = quick_training();
  out.push_back(std::make_unique<TeacherSurrogate>(t));
  NpnOptions n;
  n.train = quick_training();
  out.push_back(std::make_unique<NpnSurrogate>(n));
  GpOptions g;
  out.push_back(std::make_unique<GpSurrogate>(g));
  g.kernel = GpKernel::kRbf;
  g.ard = true;
  out.push_back(std::make_unique<GpSurrogate>(g));
  return out;
}

}  // namespace

TEST_CASE("surrogate_input_gradients_and_hvps_match_finite_differences", "[surrogate]") {
  const Eigen::MatrixXd x = uniform_points(1, 30, 3);
  const Eigen::VectorXd y = toy_loss(x);
  const Eigen::MatrixXd q = uniform_points(2, 4, 3, -1.2, 1.2);
  const Eigen::MatrixXd v = uniform_points(3, 4, 3);
  for (const auto& s : quick_surrogates()) {
    REQUIRE(s->fit(x, y).status == FitStatus::kOk);
    for (SurrogateOutput out : {SurrogateOutput::kMean, SurrogateOutput::kEpistemic,
                                SurrogateOutput::kAleatoric, SurrogateOutput::kTotal}) {
      const OutputFunction f(*s, out);
      Eigen::MatrixXd g;
      f.evaluate(q, &g);
      INFO(s->name() << " " << s->options().at("seed") << " output " << static_cast<int>(out));
      const Eigen::MatrixXd fd = fd_gradient(f, q, 1e-5);
      if (fd.norm() < 1e-9) {  // an output the model does not have (e.g. teacher aleatoric)
        CHECK(g.norm() < 1e-9);
        continue;
      }
      CHECK(rel_err(g, fd) < 1e-4);
      const Eigen::MatrixXd hv = f.hvp(q, v);
      CHECK(rel_err(hv, fd_hvp(f, q, v)) < 1e-3);
      // GOBI's one-sided form from a known gradient.
      CHECK(rel_err(f.hvp_at(q, g, v), hv) < 1e-4);
    }
  }
}

TEST_CASE("surrogate_predictions_are_deterministic_and_row_independent", "[surrogate]") {
  const Eigen::MatrixXd x = uniform_points(4, 25, 4);
  const Eigen::VectorXd y = toy_loss(x);
  const Eigen::MatrixXd q = uniform_points(5, 6, 4);
  for (const auto& s : quick_surrogates()) {
    s->fit(x, y);
    const Prediction a = s->predict(q);
    Prediction b;
    {
      tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
      s->fit(x, y);
      b = s->predict(q);
    }
    INFO(s->name());
    CHECK(a.mean == b.mean);
    CHECK(a.epistemic == b.epistemic);
    CHECK(a.aleatoric == b.aleatoric);
    for (Eigen::Index i = 0; i < q.rows(); ++i) {
      const Prediction r = s->predict(q.row(i));
      CHECK(r.mean[0] == Approx(a.mean[i]).epsilon(1e-12));
      CHECK(r.epistemic[0] == Approx(a.epistemic[i]).epsilon(1e-12).margin(1e-15));
    }
  }
}

TEST_CASE("boshnas_fits_held_out_points_and_student_tracks_teacher", "[boshnas]") {
  // 50 points in 16-d like a Transformer2vec embedding, targets far outside (0, 1).
  const Eigen::MatrixXd x = uniform_points(6, 50, 16);
  const Eigen::VectorXd y = 100 + 50 * toy_loss(x).array();
  const Eigen::MatrixXd held = uniform_points(12, 200, 16);
  const Eigen::VectorXd y_held = 100 + 50 * toy_loss(held).array();
  const double sd = std::sqrt((y_held.array() - y_held.mean()).square().mean());
  for (MeanSource mean : {MeanSource::kNpn, MeanSource::kTeacher}) {
    BoshnasOptions o;
    o.mean = mean;
    BoshnasSurrogate s(o);
    const FitReport rep = s.fit(x, y);
    REQUIRE(rep.status == FitStatus::kOk);
    CHECK(rep.losses.count("teacher") == 1);
    CHECK(rep.losses.count("student") == 1);
    CHECK(rep.losses.count("npn") == 1);
    const Prediction p = s.predict(held);
    // Held-out error well below the spread of the targets (about 0.5 and 0.45 of it).
    CHECK(std::sqrt((p.mean - y_held).squaredNorm() / 200) < 0.7 * sd);
    CHECK((p.aleatoric.array() > 0).all());
    // The student reproduces the teacher's MC-dropout std away from the data.
    const Eigen::VectorXd t = s.teacher().predict(held).epistemic;
    const Eigen::ArrayXd a = p.epistemic.array() - p.epistemic.mean(), b = t.array() - t.mean();
    CHECK((a * b).sum() / std::sqrt((a * a).sum() * (b * b).sum()) > 0.6);
    CHECK(std::abs(p.epistemic.mean() / t.mean() - 1) < 0.2);
  }
}

TEST_CASE("gp_interpolates_and_recovers_noise_level", "[gp]") {
  const Eigen::MatrixXd x = uniform_points(8, 40, 2);
  const Eigen::VectorXd y = toy_loss(x);
  for (GpKernel k : {GpKernel::kMatern52, GpKernel::kRbf}) {
    GpOptions o;
    o.kernel = k;
    GpSurrogate gp(o);
    REQUIRE(gp.fit(x, y).status == FitStatus::kOk);
    const Eigen::MatrixXd q = uniform_points(9, 50, 2, -0.9, 0.9);
    const Prediction p = gp.predict(q);
    const Eigen::VectorXd truth = toy_loss(q);
    CHECK(std::sqrt((p.mean - truth).squaredNorm() / 50) < 0.01);
    CHECK(gp.noise_variance() < 1e-3);  // noise-free data
    // Uncertainty grows away from the data.
    CHECK(gp.predict(uniform_points(10, 20, 2, 3, 4)).epistemic.minCoeff() >
          p.epistemic.maxCoeff());
  }
}

TEST_CASE("gp_log_marginal_likelihood_gradient_matches_finite_differences", "[gp]") {
  const Eigen::MatrixXd x = uniform_points(11, 12, 3);
  const Eigen::VectorXd y = toy_loss(x);
  for (GpKernel k : {GpKernel::kMatern52, GpKernel::kRbf})
    for (int nl : {1, 3}) {
      Eigen::VectorXd theta(nl + 2);
      theta.head(nl) = Eigen::VectorXd::LinSpaced(nl, -0.3, 0.4);
      theta[nl] = 0.2;
      theta[nl + 1] = -3;
      Eigen::VectorXd g;
      detail::gp_log_marginal_likelihood(k, x, y, theta, &g);
      Eigen::VectorXd fd(theta.size());
      for (Eigen::Index i = 0; i < theta.size(); ++i) {
        Eigen::VectorXd a = theta, b = theta;
        a[i] += 1e-6;
        b[i] -= 1e-6;
        fd[i] = (detail::gp_log_marginal_likelihood(k, x, y, a) -
                 detail::gp_log_marginal_likelihood(k, x, y, b)) /
                2e-6;
      }
      CHECK(rel_err(g, fd) < 1e-6);
    }
}

TEST_CASE("bfgs_finds_the_minimum_of_a_rosenbrock_valley", "[gp]") {
  auto rosen = [](const Eigen::VectorXd& u, Eigen::VectorXd& g) {
    g.resize(2);
    g[0] = -2 * (1 - u[0]) - 400 * u[0] * (u[1] - u[0] * u[0]);
    g[1] = 200 * (u[1] - u[0] * u[0]);
    return (1 - u[0]) * (1 - u[0]) + 100 * std::pow(u[1] - u[0] * u[0], 2);
  };
  double f = 0;
  const Eigen::VectorXd u = detail::minimise_bfgs(rosen, Eigen::Vector2d(-1.2, 1), 500, &f);
  CHECK(u[0] == Approx(1).margin(1e-4));
  CHECK(u[1] == Approx(1).margin(1e-4));
  CHECK(f < 1e-8);
}

TEST_CASE("surrogate_rejects_bad_data_and_queries", "[surrogate]") {
  for (const auto& s : quick_surrogates()) {
    INFO(s->name());
    CHECK_THROWS_AS(s->predict(Eigen::MatrixXd::Zero(1, 2)), SurrogateError);
    CHECK_THROWS_AS(s->fit(Eigen::MatrixXd::Zero(0, 2), Eigen::VectorXd::Zero(0)), SurrogateError);
    CHECK_THROWS_AS(s->fit(Eigen::MatrixXd::Zero(3, 2), Eigen::VectorXd::Zero(2)), SurrogateError);
    Eigen::MatrixXd bad = Eigen::MatrixXd::Zero(3, 2);
    bad(1, 1) = std::nan("");
    CHECK_THROWS_AS(s->fit(bad, Eigen::VectorXd::Zero(3)), SurrogateError);
    s->fit(uniform_points(1, 5, 2), Eigen::VectorXd::LinSpaced(5, 0, 1));
    CHECK_THROWS_WITH(s->predict(Eigen::MatrixXd::Zero(1, 3)),
                      Catch::Contains("query has 3 columns, the model was fitted on 2"));
  }
}

TEST_CASE("surrogate_fits_one_point_and_constant_targets", "[surrogate]") {
  for (const auto& s : quick_surrogates()) {
    INFO(s->name());
    REQUIRE(s->fit(Eigen::MatrixXd::Ones(1, 3), Eigen::VectorXd::Constant(1, 7.0)).status ==
            FitStatus::kOk);
    const Prediction p = s->predict(Eigen::MatrixXd::Ones(1, 3));
    CHECK(p.mean[0] == Approx(7).margin(0.1));
    REQUIRE(s->fit(uniform_points(3, 6, 3), Eigen::VectorXd::Constant(6, -2.0)).status ==
            FitStatus::kOk);
    CHECK(s->predict(uniform_points(4, 3, 3)).mean.array().isFinite().all());
  }
}

TEST_CASE("surrogate_registry_creates_every_builtin_and_round_trips_options", "[surrogate]") {
  SurrogateRegistry r;
  register_builtins(r);
  CHECK(r.names() == std::vector<std::string>{"boshnas", "teacher", "npn", "gp"});
  for (const auto& e : r.entries()) {
    INFO(e.name);
    const auto a = r.create(e.name);
    CHECK(a->name() == e.name);
    const auto opts = a->options();
    CHECK(opts.size() == e.options.size());
    for (const OptionSpec& spec : e.options) CHECK(opts.at(spec.name) == spec.default_value);
    CHECK(r.create(e.name, opts)->options() == opts);
  }
  const auto b = r.create("boshnas", {{"steps", "50"}, {"epistemic", "teacher"}, {"lr", "0.003"}});
  CHECK(b->options().at("steps") == "50");
  CHECK(b->options().at("lr") == "0.003");
  CHECK(r.create("boshnas", b->options())->options() == b->options());
  CHECK_THROWS_WITH(r.create("nope"),
                    Catch::Contains("unknown surrogate 'nope' (valid: boshnas, teacher, npn, gp)"));
  CHECK_THROWS_WITH(r.create("gp", {{"lengthscale", "1"}}),
                    Catch::Contains("unknown option 'lengthscale' (known: seed, kernel"));
  CHECK_THROWS_WITH(r.create("gp", {{"kernel", "cubic"}}),
                    Catch::Contains("option kernel: 'cubic' is not one of matern52, rbf"));
  CHECK_THROWS_WITH(
      r.create("teacher", {{"steps", "0"}}),
      Catch::Contains("option steps: '0' is out of range (an integer in [1, 1000000])"));
  CHECK_THROWS_WITH(r.create("npn", {{"lr", "fast"}}),
                    Catch::Contains("option lr: 'fast' is not a finite number in [1e-06, 1]"));
}
