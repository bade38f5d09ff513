#include "surrogate/scalar_function.hpp"

#include <string>

#include "surrogate/error.hpp"

namespace flexnas {

Eigen::MatrixXd ScalarFunction::hvp(const Eigen::MatrixXd& x, const Eigen::MatrixXd& v,
                                    Eigen::Index first_id) const {
  return hvp_by_gradient_differences(*this, x, v, first_id);
}

Eigen::MatrixXd ScalarFunction::hvp_at(const Eigen::MatrixXd& x, const Eigen::MatrixXd& grad,
                                       const Eigen::MatrixXd& v, Eigen::Index first_id) const {
  if (x.rows() != v.rows() || x.cols() != v.cols() || grad.rows() != x.rows() ||
      grad.cols() != x.cols() || x.cols() != dim())
    throw SurrogateError("hvp: x, grad and v must all be n x " + std::to_string(dim()));
  Eigen::VectorXd h(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double vn = v.row(i).cwiseAbs().maxCoeff();
    h[i] = vn > 0 ? 1e-6 * std::max(1.0, x.row(i).cwiseAbs().maxCoeff()) / vn : 0;
  }
  Eigen::MatrixXd gp;
  evaluate(x + h.asDiagonal() * v, &gp, first_id);
  Eigen::MatrixXd out = gp - grad;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    if (h[i] > 0)
      out.row(i) /= h[i];
    else
      out.row(i).setZero();
  }
  return out;
}

Eigen::MatrixXd hvp_by_gradient_differences(const ScalarFunction& f, const Eigen::MatrixXd& x,
                                            const Eigen::MatrixXd& v, Eigen::Index first_id,
                                            double rel_step) {
  if (x.rows() != v.rows() || x.cols() != v.cols() || x.cols() != f.dim())
    throw SurrogateError("hvp: x is " + std::to_string(x.rows()) + " x " +
                         std::to_string(x.cols()) + " and v " + std::to_string(v.rows()) + " x " +
                         std::to_string(v.cols()) + ", expected equal shapes with " +
                         std::to_string(f.dim()) + " columns");
  Eigen::VectorXd h(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double vn = v.row(i).cwiseAbs().maxCoeff();
    h[i] = vn > 0 ? rel_step * std::max(1.0, x.row(i).cwiseAbs().maxCoeff()) / vn : 0;
  }
  const Eigen::MatrixXd step = h.asDiagonal() * v;
  Eigen::MatrixXd gp, gm;
  f.evaluate(x + step, &gp, first_id);
  f.evaluate(x - step, &gm, first_id);
  Eigen::MatrixXd out = gp - gm;  // rows with v = 0 are already 0
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    if (h[i] > 0) out.row(i) /= 2 * h[i];
  return out;
}

LambdaFunction::LambdaFunction(int dim, Fn f, HvpFn hvp)
    : dim_(dim), f_(std::move(f)), hvp_(std::move(hvp)) {
  if (dim < 1) throw SurrogateError("function: dim " + std::to_string(dim) + " must be >= 1");
  if (!f_) throw SurrogateError("function: no callable given");
}

Eigen::VectorXd LambdaFunction::evaluate(const Eigen::MatrixXd& x, Eigen::MatrixXd* grad,
                                         Eigen::Index first_id) const {
  if (x.cols() != dim_)
    throw SurrogateError("function: input has " + std::to_string(x.cols()) + " columns, expected " +
                         std::to_string(dim_));
  return f_(x, grad, first_id);
}

Eigen::MatrixXd LambdaFunction::hvp_at(const Eigen::MatrixXd& x, const Eigen::MatrixXd& grad,
                                       const Eigen::MatrixXd& v, Eigen::Index first_id) const {
  if (hvp_) return hvp_(x, v);
  return ScalarFunction::hvp_at(x, grad, v, first_id);
}

Eigen::MatrixXd LambdaFunction::hvp(const Eigen::MatrixXd& x, const Eigen::MatrixXd& v,
                                    Eigen::Index first_id) const {
  if (hvp_) return hvp_(x, v);
  return hvp_by_gradient_differences(*this, x, v, first_id);
}

}  // namespace flexnas
