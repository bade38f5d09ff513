#include "surrogate/scaling.hpp"

#include <cmath>
#include <cstdint>

namespace flexnas::detail {

void InputScaler::fit(const Eigen::MatrixXd& x) {
  mean = x.colwise().mean();
  inv_std.resize(x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const double var = (x.col(j).array() - mean[j]).square().mean();
    inv_std[j] = var > 1e-24 ? 1 / std::sqrt(var) : 1.0;
  }
}

Eigen::MatrixXd InputScaler::apply(const Eigen::MatrixXd& x) const {
  return (x.rowwise() - mean).array().rowwise() * inv_std.array();
}

Eigen::MatrixXd InputScaler::chain(const Eigen::MatrixXd& grad_scaled) const {
  return grad_scaled.array().rowwise() * inv_std.array();
}

void TargetScaler::fit(const Eigen::VectorXd& y) {
  y_min = y.minCoeff();
  const double range = y.maxCoeff() - y_min;
  // One point or equal values: unit scale, the value sits at the middle of [lo, hi].
  if (range > 1e-12 * std::max(1.0, std::abs(y_min))) {
    scale = (hi - lo) / range;
  } else {
    scale = 1;
    y_min -= 0.5 * (hi - lo);
  }
}

Eigen::VectorXd TargetScaler::to_target(const Eigen::VectorXd& y) const {
  return (lo + (y.array() - y_min) * scale).matrix();
}

Eigen::VectorXd TargetScaler::to_y(const Eigen::VectorXd& t) const {
  return (y_min + (t.array() - lo) / scale).matrix();
}

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace flexnas::detail
