#include "surrogate/gobi.hpp"

#include <atomic>
#include <cmath>
#include <random>

#include <tbb/global_control.h>

#include "surrogate/acquisition.hpp"
#include "surrogate/boshnas.hpp"
#include "surrogate/error.hpp"

#include <catch2/catch.hpp>

using namespace flexnas;

namespace {

// sum_j a_j (x_j - c_j)^2 / 2 with its exact Hessian-vector product.
LambdaFunction quadratic(Eigen::VectorXd a, Eigen::VectorXd c) {
  const int d = static_cast<int>(a.size());
  return LambdaFunction(
      d,
      [a, c](const Eigen::MatrixXd& x, Eigen::MatrixXd* g, Eigen::Index) {
        const Eigen::MatrixXd r = x.rowwise() - c.transpose();
        if (g) *g = r * a.asDiagonal();
        return Eigen::VectorXd(
            0.5 * (r.array().square().rowwise() * a.transpose().array()).rowwise().sum());
      },
      [a](const Eigen::MatrixXd&, const Eigen::MatrixXd& v) {
        return Eigen::MatrixXd(v * a.asDiagonal());
      });
}

// Rosenbrock (1 - x)^2 + 100 (y - x^2)^2; Hessian products by gradient differences.
LambdaFunction rosenbrock() {
  return LambdaFunction(2, [](const Eigen::MatrixXd& x, Eigen::MatrixXd* g, Eigen::Index) {
    Eigen::VectorXd f(x.rows());
    if (g) g->resize(x.rows(), 2);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double a = x(i, 0), b = x(i, 1);
      f[i] = (1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a);
      if (g) {
        (*g)(i, 0) = -2 * (1 - a) - 400 * a * (b - a * a);
        (*g)(i, 1) = 200 * (b - a * a);
      }
    }
    return f;
  });
}

GobiOptions method_options(GobiMethod m, double lr) {
  GobiOptions o;
  o.method = m;
  o.lr = lr;
  return o;
}

}  // namespace

TEST_CASE("gobi_finds_a_quadratic_minimum_inside_the_box", "[gobi]") {
  const LambdaFunction f = quadratic(Eigen::Vector3d(1, 2, 1.5), Eigen::Vector3d(0.3, -0.2, 0.5));
  const Eigen::VectorXd lo = Eigen::VectorXd::Constant(3, -1), hi = Eigen::VectorXd::Constant(3, 1);
  for (auto [method, lr] :
       {std::pair{GobiMethod::kGradientDescent, 0.3}, std::pair{GobiMethod::kAdam, 0.05},
        std::pair{GobiMethod::kAdaHessian, 0.5}}) {
    GobiOptions o = method_options(method, lr);
    o.tolerance = 1e-12;
    o.max_steps = 500;
    const GobiResult r = gobi_minimise(f, lo, hi, {}, o);
    INFO("method " << static_cast<int>(method));
    REQUIRE(r.x.rows() == 10);
    for (Eigen::Index s = 0; s < r.x.rows(); ++s) {
      CHECK((r.x.row(s) - Eigen::RowVector3d(0.3, -0.2, 0.5)).norm() < 1e-3);
      CHECK(r.converged[static_cast<std::size_t>(s)]);
    }
  }
}

TEST_CASE("gobi_stops_on_the_box_when_the_minimum_is_outside", "[gobi]") {
  const LambdaFunction f = quadratic(Eigen::Vector2d(1, 1), Eigen::Vector2d(3, -3));
  const Eigen::VectorXd lo = Eigen::Vector2d(-1, -1), hi = Eigen::Vector2d(1, 1);
  for (auto [method, lr] :
       {std::pair{GobiMethod::kGradientDescent, 0.3}, std::pair{GobiMethod::kAdam, 0.1},
        std::pair{GobiMethod::kAdaHessian, 0.5}}) {
    const GobiResult r = gobi_minimise(f, lo, hi, {}, method_options(method, lr));
    for (Eigen::Index s = 0; s < r.x.rows(); ++s) {
      CHECK(r.x(s, 0) == 1.0);
      CHECK(r.x(s, 1) == -1.0);
      CHECK(r.converged[static_cast<std::size_t>(s)]);  // pinned: z stops changing
    }
  }
}

TEST_CASE("gobi_all_methods_solve_rosenbrock", "[gobi]") {
  const LambdaFunction f = rosenbrock();
  const Eigen::VectorXd lo = Eigen::Vector2d(-2, -2), hi = Eigen::Vector2d(2, 2);
  Eigen::MatrixXd starts(3, 2);
  starts << -1.2, 1, 0, 0, 1.5, -1;
  // A curved valley across the axes: a diagonal preconditioner (AdaHessian) helps little
  // there, so every method needs thousands of steps.
  for (auto [method, lr, steps] : {std::tuple{GobiMethod::kGradientDescent, 1.5e-3, 40000},
                                   std::tuple{GobiMethod::kAdam, 0.05, 10000},
                                   std::tuple{GobiMethod::kAdaHessian, 0.5, 20000}}) {
    GobiOptions o = method_options(method, lr);
    o.max_steps = steps;
    o.tolerance = 1e-14;
    const GobiResult r = gobi_minimise(f, lo, hi, starts, o);
    INFO("method " << static_cast<int>(method));
    for (Eigen::Index s = 0; s < 3; ++s) {
      CHECK((r.x.row(s) - Eigen::RowVector2d(1, 1)).norm() < 1e-2);
      CHECK(r.value[s] < 1e-4);
    }
  }
}

TEST_CASE("gobi_adahessian_beats_gradient_descent_on_an_ill_conditioned_quadratic", "[gobi]") {
  // Condition number 1000: gradient descent must keep lr < 2 / 1000 and crawls along the
  // flat axis; AdaHessian divides by the (here exact) Hessian diagonal.
  const LambdaFunction f = quadratic(Eigen::Vector2d(1, 1000), Eigen::Vector2d(0, 0));
  const Eigen::VectorXd lo = Eigen::Vector2d(-2, -2), hi = Eigen::Vector2d(2, 2);
  const Eigen::MatrixXd start = Eigen::RowVector2d(1, 1);
  auto steps_to = [&](GobiOptions o) {
    o.max_steps = 100000;
    o.tolerance = 0;
    o.on_step = [](int, int, double z) { return z < 1e-8; };
    return gobi_minimise(f, lo, hi, start, o).steps[0];
  };
  const int gd = steps_to(method_options(GobiMethod::kGradientDescent, 1.9e-3));
  const int ada = steps_to(method_options(GobiMethod::kAdaHessian, 0.5));
  INFO("gradient descent " << gd << " steps, AdaHessian " << ada);
  CHECK(ada * 20 < gd);
}

TEST_CASE("scalar_function_uses_an_exact_hvp_when_given", "[gobi]") {
  const LambdaFunction f = quadratic(Eigen::Vector2d(2, 3), Eigen::Vector2d(0, 0));
  const Eigen::MatrixXd x = Eigen::RowVector2d(0.5, -0.5), v = Eigen::RowVector2d(1, 1);
  Eigen::MatrixXd g;
  f.evaluate(x, &g);
  CHECK(f.hvp(x, v) == Eigen::MatrixXd(Eigen::RowVector2d(2, 3)));
  CHECK(f.hvp_at(x, g, v) == Eigen::MatrixXd(Eigen::RowVector2d(2, 3)));
  CHECK((hvp_by_gradient_differences(f, x, v) - Eigen::RowVector2d(2, 3)).norm() < 1e-8);
}

TEST_CASE("gobi_is_deterministic_with_any_thread_count", "[gobi]") {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(40, 4);
  Eigen::VectorXd y = (x.col(0).array() - 0.3).square() + 0.5 * x.col(1).array().sin();
  BoshnasOptions bo;
  bo.teacher.train.steps = bo.student_train.steps = bo.npn.train.steps = 100;
  BoshnasSurrogate s(bo);
  s.fit(x, y);
  UpperConfidenceBound ucb(0.5);
  const AcquisitionFunction f(s, ucb);
  const Eigen::VectorXd lo = Eigen::VectorXd::Constant(4, -1), hi = Eigen::VectorXd::Constant(4, 1);
  const GobiResult a = gobi_minimise(f, lo, hi);
  GobiResult b;
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    b = gobi_minimise(f, lo, hi);
  }
  CHECK(a.x == b.x);
  CHECK(a.value == b.value);
  CHECK(a.steps == b.steps);
  // Every start ends in the box, no worse than where it began.
  GobiOptions none;
  none.max_steps = 0;
  const GobiResult start = gobi_minimise(f, lo, hi, {}, none);
  for (Eigen::Index k = 0; k < a.x.rows(); ++k) {
    CHECK(a.value[k] <= start.value[k]);
    CHECK((a.x.row(k).array() >= -1).all());
    CHECK((a.x.row(k).array() <= 1).all());
  }
  CHECK(a.value[a.best] == a.value.minCoeff());
  CHECK(a.value.minCoeff() < start.value.minCoeff());
}

TEST_CASE("gobi_carries_a_worker_exception_to_the_caller", "[gobi]") {
  const LambdaFunction f(2, [](const Eigen::MatrixXd& x, Eigen::MatrixXd* g, Eigen::Index id) {
    // Tasks of 5 starts: the second task (starts 5..9, first_id 5) fails.
    if (id == 5) throw std::runtime_error("start 5 fails on purpose");
    if (g) *g = 2 * x;
    return Eigen::VectorXd(x.rowwise().squaredNorm());
  });
  const Eigen::VectorXd lo = Eigen::Vector2d(-1, -1), hi = Eigen::Vector2d(1, 1);
  CHECK_THROWS_WITH(gobi_minimise(f, lo, hi), "start 5 fails on purpose");
}

TEST_CASE("gobi_rejects_bad_arguments", "[gobi]") {
  const LambdaFunction f = quadratic(Eigen::Vector2d(1, 1), Eigen::Vector2d(0, 0));
  const Eigen::VectorXd lo = Eigen::Vector2d(-1, -1), hi = Eigen::Vector2d(1, 1);
  CHECK_THROWS_AS(gobi_minimise(f, Eigen::Vector3d(0, 0, 0), hi), SurrogateError);
  CHECK_THROWS_AS(gobi_minimise(f, hi, lo), SurrogateError);
  CHECK_THROWS_AS(gobi_minimise(f, lo, hi, Eigen::MatrixXd::Zero(2, 3)), SurrogateError);
  GobiOptions o;
  o.lr = 0;
  CHECK_THROWS_AS(gobi_minimise(f, lo, hi, {}, o), SurrogateError);
  o = {};
  o.random_starts = 0;
  CHECK_THROWS_AS(gobi_minimise(f, lo, hi, {}, o), SurrogateError);
}
