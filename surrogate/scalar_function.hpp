#pragma once
// A differentiable scalar function of the input, evaluated over a batch of points (rows):
// what GOBI minimises and what surrogate outputs and acquisitions are exposed as.
#include <functional>

#include <Eigen/Dense>

namespace flexnas {

class ScalarFunction {
 public:
  virtual ~ScalarFunction() = default;
  virtual int dim() const = 0;
  // Values at the rows of x (n x dim()); with `grad`, also the gradients (n x dim()).
  // `first_id` names row 0's candidate, row i being candidate first_id + i: only functions
  // with one random draw per candidate (Thompson sampling) use it, so that a candidate's
  // draw does not depend on how it was batched. Must be safe to call from several threads.
  virtual Eigen::VectorXd evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad = nullptr,
                                   Eigen::Index first_id = 0) const = 0;
  // Hessian-vector products H(x_i) v_i, one per row (n x dim()). The default takes central
  // differences of the analytic gradients (see hvp_by_gradient_differences).
  virtual Eigen::MatrixXd hvp(const Eigen::MatrixXd& x, const Eigen::MatrixXd& v,
                              Eigen::Index first_id = 0) const;
  // The same when the gradients `grad` at x are already known (GOBI has them): by default
  // one forward difference (g(x + h v) - grad) / h, one gradient evaluation instead of two
  // and first-order accurate (~1e-6 relative), plenty for AdaHessian's stochastic
  // diagonal. A function with an exact hvp() overrides this to use it.
  virtual Eigen::MatrixXd hvp_at(const Eigen::MatrixXd& x, const Eigen::MatrixXd& grad,
                                 const Eigen::MatrixXd& v, Eigen::Index first_id = 0) const;
};

// (g(x + h v) - g(x - h v)) / 2h per row with h = rel_step * max(1, |x|_inf) / |v|_inf:
// second-order accurate, so with rel_step 1e-5 the error is ~1e-10 relative for smooth
// functions, far below what AdaHessian's Rademacher estimates need. Costs two gradients.
Eigen::MatrixXd hvp_by_gradient_differences(const ScalarFunction& f, const Eigen::MatrixXd& x,
                                            const Eigen::MatrixXd& v, Eigen::Index first_id = 0,
                                            double rel_step = 1e-5);

// A ScalarFunction from a callable: closed-form objectives, tests, composed functions.
class LambdaFunction : public ScalarFunction {
 public:
  using Fn = std::function<Eigen::VectorXd(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad,
                                           Eigen::Index first_id)>;
  using HvpFn = std::function<Eigen::MatrixXd(const Eigen::MatrixXd& x, const Eigen::MatrixXd& v)>;
  // `hvp` may be empty: gradient differences are then used.
  LambdaFunction(int dim, Fn f, HvpFn hvp = {});
  int dim() const override { return dim_; }
  Eigen::VectorXd evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad = nullptr,
                           Eigen::Index first_id = 0) const override;
  Eigen::MatrixXd hvp(const Eigen::MatrixXd& x, const Eigen::MatrixXd& v,
                      Eigen::Index first_id = 0) const override;
  Eigen::MatrixXd hvp_at(const Eigen::MatrixXd& x, const Eigen::MatrixXd& grad,
                         const Eigen::MatrixXd& v, Eigen::Index first_id = 0) const override;

 private:
  int dim_;
  Fn f_;
  HvpFn hvp_;
};

}  // namespace flexnas
