#include "surrogate/acquisition.hpp"

#include <cmath>
#include <random>

#include "surrogate/boshnas.hpp"
#include "surrogate/error.hpp"
#include "surrogate/gp.hpp"

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

Eigen::VectorXd toy_loss(const Eigen::MatrixXd& x) {
  Eigen::VectorXd y(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    y[i] = 0.4 + 0.3 * std::sin(2 * x(i, 0)) * std::cos(x(i, 1)) + 0.1 * x.row(i).squaredNorm();
  return y;
}

double rel_err(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(1e-12, std::max(a.norm(), b.norm()));
}

// E[g(Y)] for Y ~ N(mean, sd^2) by the trapezoid rule over +-12 sd.
double gaussian_expectation(const std::function<double(double)>& g, double mean, double sd) {
  const int n = 40000;
  const double lo = mean - 12 * sd, h = 24 * sd / n;
  double s = 0;
  for (int i = 0; i <= n; ++i) {
    const double y = lo + i * h;
    s += (i == 0 || i == n ? 0.5 : 1.0) * h * g(y) * normal_pdf((y - mean) / sd) / sd;
  }
  return s;
}

std::vector<std::unique_ptr<Acquisition>> all_acquisitions(double best) {
  std::vector<std::unique_ptr<Acquisition>> out;
  out.push_back(std::make_unique<UpperConfidenceBound>(0.5));
  out.push_back(std::make_unique<ExpectedImprovement>(0.01));
  out.push_back(std::make_unique<ProbabilityOfImprovement>(0.0));
  out.push_back(std::make_unique<ThompsonSampling>(3));
  for (auto& a : out) a->set_incumbent(best);
  return out;
}

}  // namespace

TEST_CASE("acquisition_values_match_closed_forms_and_integrals", "[acquisition]") {
  Eigen::VectorXd mean(4), sd(4);
  mean << 0.5, 0.2, 0.9, 0.3;
  sd << 1.0, 0.5, 0.1, 0.0;
  UpperConfidenceBound ucb(0.5);
  const AcquisitionValue u = ucb.evaluate(mean, sd);
  CHECK(u.value[1] == Approx(0.2 - 0.25));
  ExpectedImprovement ei;
  ei.set_incumbent(0.5);
  const AcquisitionValue e = ei.evaluate(mean, sd);
  CHECK(e.value[0] == Approx(-1 / std::sqrt(2 * M_PI)));  // u = 0: EI = sd phi(0)
  ProbabilityOfImprovement pi;
  pi.set_incumbent(0.5);
  const AcquisitionValue p = pi.evaluate(mean, sd);
  CHECK(p.value[0] == Approx(-0.5));
  for (Eigen::Index i = 0; i < 3; ++i) {
    const double ei_int =
        gaussian_expectation([](double y) { return std::max(0.5 - y, 0.0); }, mean[i], sd[i]);
    const double pi_int =
        gaussian_expectation([](double y) { return y < 0.5 ? 1.0 : 0.0; }, mean[i], sd[i]);
    CHECK(-e.value[i] == Approx(ei_int).margin(1e-8));
    CHECK(-p.value[i] == Approx(pi_int).margin(1e-3));  // a step: trapezoid error ~h
  }
  // A certain prediction: EI is the plain improvement, PI an indicator.
  CHECK(e.value[3] == Approx(-0.2));
  CHECK(p.value[3] == -1);
  CHECK(-p.value[2] == Approx(3.167124183e-5).epsilon(1e-8));  // 4 sd above: Phi(-4)
}

TEST_CASE("acquisition_partials_match_finite_differences", "[acquisition]") {
  Eigen::VectorXd mean(5), sd(5);
  mean << 0.5, 0.2, 0.9, 0.3, 0.45;
  sd << 1.0, 0.5, 0.1, 0.3, 0.02;
  const double h = 1e-7;
  for (const auto& a : all_acquisitions(0.45)) {
    INFO(a->name());
    const AcquisitionValue v = a->evaluate(mean, sd);
    const Eigen::VectorXd one = Eigen::VectorXd::Ones(5);
    const Eigen::VectorXd fd_mean =
        (a->evaluate(mean + h * one, sd).value - a->evaluate(mean - h * one, sd).value) / (2 * h);
    const Eigen::VectorXd fd_sd =
        (a->evaluate(mean, sd + h * one).value - a->evaluate(mean, sd - h * one).value) / (2 * h);
    CHECK(rel_err(v.d_mean, fd_mean) < 1e-6);
    CHECK(rel_err(v.d_std, fd_sd) < 1e-6);
  }
}

TEST_CASE("acquisition_input_gradients_and_hvps_match_finite_differences", "[acquisition]") {
  const Eigen::MatrixXd x = uniform_points(1, 30, 3);
  const Eigen::VectorXd y = toy_loss(x);
  GpSurrogate gp;
  gp.fit(x, y);
  BoshnasOptions bo;
  bo.teacher.train.steps = bo.student_train.steps = bo.npn.train.steps = 100;
  BoshnasSurrogate boshnas(bo);
  boshnas.fit(x, y);
  const Eigen::MatrixXd q = uniform_points(2, 4, 3, -1.1, 1.1);
  const Eigen::MatrixXd v = uniform_points(3, 4, 3);
  for (const Surrogate* s : std::vector<const Surrogate*>{&gp, &boshnas})
    for (const auto& a : all_acquisitions(y.minCoeff()))
      for (Uncertainty u : {Uncertainty::kEpistemic, Uncertainty::kTotal}) {
        const AcquisitionFunction f(*s, *a, u);
        INFO(s->name() << " " << a->name() << " total " << (u == Uncertainty::kTotal));
        Eigen::MatrixXd g;
        f.evaluate(q, &g, 7);
        // Thompson: rows keep their ids (7, 8, ...) in every evaluation below.
        Eigen::MatrixXd fd(q.rows(), q.cols()), fd_h(q.rows(), q.cols());
        for (Eigen::Index j = 0; j < q.cols(); ++j) {
          Eigen::MatrixXd p = q, m = q;
          p.col(j).array() += 1e-5;
          m.col(j).array() -= 1e-5;
          fd.col(j) = (f.evaluate(p, nullptr, 7) - f.evaluate(m, nullptr, 7)) / 2e-5;
        }
        CHECK(rel_err(g, fd) < 1e-4);
        const double h = 1e-3;
        auto fd_grad = [&](const Eigen::MatrixXd& at) {
          Eigen::MatrixXd out(at.rows(), at.cols());
          for (Eigen::Index j = 0; j < at.cols(); ++j) {
            Eigen::MatrixXd p = at, m = at;
            p.col(j).array() += 1e-4;
            m.col(j).array() -= 1e-4;
            out.col(j) = (f.evaluate(p, nullptr, 7) - f.evaluate(m, nullptr, 7)) / 2e-4;
          }
          return out;
        };
        fd_h = (fd_grad(q + h * v) - fd_grad(q - h * v)) / (2 * h);
        CHECK(rel_err(f.hvp(q, v, 7), fd_h) < 1e-3);
      }
}

TEST_CASE("thompson_draws_depend_on_candidate_id_only", "[acquisition]") {
  ThompsonSampling t(11);
  const Eigen::VectorXd mean = Eigen::VectorXd::LinSpaced(6, 0, 1);
  const Eigen::VectorXd sd = Eigen::VectorXd::Constant(6, 0.3);
  const AcquisitionValue all = t.evaluate(mean, sd, 100);
  for (Eigen::Index i = 0; i < 6; ++i)
    CHECK(t.evaluate(mean.segment(i, 1), sd.segment(i, 1), 100 + i).value[0] == all.value[i]);
  double s = 0, s2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double e = t.draw(i);
    s += e;
    s2 += e * e;
  }
  CHECK(std::abs(s / n) < 0.03);
  CHECK(s2 / n == Approx(1).margin(0.05));
  CHECK(ThompsonSampling(12).draw(0) != t.draw(0));
}

TEST_CASE("acquisition_errors_and_registry", "[acquisition]") {
  const Eigen::VectorXd one = Eigen::VectorXd::Ones(2);
  CHECK_THROWS_WITH(ExpectedImprovement().evaluate(one, one),
                    Catch::Contains("no incumbent; call set_incumbent"));
  CHECK_THROWS_AS(ProbabilityOfImprovement().evaluate(one, one), SurrogateError);
  CHECK_THROWS_AS(UpperConfidenceBound(0.5).evaluate(one, Eigen::VectorXd::Ones(3)),
                  SurrogateError);
  CHECK_THROWS_AS(UpperConfidenceBound(-1), SurrogateError);
  GpSurrogate unfitted;
  UpperConfidenceBound ucb;
  CHECK_THROWS_AS(AcquisitionFunction(unfitted, ucb), SurrogateError);

  AcquisitionRegistry r;
  register_builtins(r);
  CHECK(r.names() == std::vector<std::string>{"ucb", "ei", "pi", "thompson"});
  for (const auto& e : r.entries()) {
    INFO(e.name);
    const auto a = r.create(e.name);
    CHECK(a->name() == e.name);
    for (const OptionSpec& spec : e.options)
      CHECK(a->options().at(spec.name) == spec.default_value);
    CHECK(r.create(e.name, a->options())->options() == a->options());
  }
  CHECK(r.create("ucb", {{"kappa", "2"}})->options().at("kappa") == "2");
  CHECK_THROWS_WITH(r.create("lcb"), Catch::Contains("valid: ucb, ei, pi, thompson"));
  CHECK_THROWS_WITH(r.create("ucb", {{"kappa", "-1"}}),
                    Catch::Contains("option kappa: '-1' is not a finite number in [0, 1e+06]"));
}
