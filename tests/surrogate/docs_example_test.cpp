// The C++ example of docs/surrogate.md, kept in step with it.
#include <random>

#include "surrogate/acquisition.hpp"
#include "surrogate/boshnas.hpp"
#include "surrogate/gobi.hpp"

#include <catch2/catch.hpp>

using namespace flexnas;

TEST_CASE("docs_surrogate_example_runs", "[docs]") {
  const int n = 50, d = 16;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  Eigen::MatrixXd x(n, d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) x(i, j) = u(rng);
  const Eigen::VectorXd y = 0.3 + 0.1 * x.rowwise().squaredNorm().array();
  const Eigen::VectorXd lo = Eigen::VectorXd::Constant(d, -1), hi = -lo;
  const Eigen::MatrixXd starts = x.topRows(10);

  // --- docs/surrogate.md ---
  BoshnasSurrogate model;                           // teacher + student + NPN, seed 1
  FitReport fit = model.fit(x, y);                  // status kOk or kDiverged, never throws on data
  UpperConfidenceBound ucb(0.5);                    // z = mean - 0.5 epistemic std
  AcquisitionFunction z(model, ucb);                // Uncertainty::kTotal adds the aleatoric std
  GobiResult r = gobi_minimise(z, lo, hi, starts);  // AdaHessian, lr 0.5, <= 200 steps per start
  Eigen::VectorXd next = r.x.row(r.best).transpose();  // then snap to the nearest architecture

  SurrogateRegistry surrogates;
  register_builtins(surrogates);
  auto gp = surrogates.create("gp", {{"kernel", "rbf"}, {"restarts", "2"}});
  gp->fit(x, y);
  Prediction p = gp->predict(next.transpose());  // mean, epistemic, aleatoric
  // --- end ---

  CHECK(fit.status == FitStatus::kOk);
  CHECK(next.size() == d);
  CHECK(r.value[r.best] <= z.evaluate(starts).minCoeff());
  CHECK(p.mean.size() == 1);
}
