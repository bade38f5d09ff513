#pragma once
// Input standardisation and target scaling shared by the surrogates. Both are affine, so
// gradients with respect to the raw input and stds in raw units follow by one factor.
#include <cstdint>

#include <Eigen/Dense>

namespace flexnas::detail {

// x' = (x - mean) / std per column; constant columns get std 1.
struct InputScaler {
  Eigen::RowVectorXd mean, inv_std;
  void fit(const Eigen::MatrixXd& x);
  Eigen::MatrixXd apply(const Eigen::MatrixXd& x) const;
  // d/dx from d/dx' (rows = points).
  Eigen::MatrixXd chain(const Eigen::MatrixXd& grad_scaled) const;
};

// t = lo + (y - y_min) * scale maps the observed [y_min, y_max] onto [lo, hi] inside the
// (0, 1) range of a sigmoid output, leaving room for better and worse values than seen so
// far (the reference's y / max initial loss could leave the sigmoid's range).
struct TargetScaler {
  double lo = 0.15, hi = 0.85;
  double y_min = 0, scale = 1;
  void fit(const Eigen::VectorXd& y);
  Eigen::VectorXd to_target(const Eigen::VectorXd& y) const;
  Eigen::VectorXd to_y(const Eigen::VectorXd& t) const;  // for means
  double std_to_y() const { return 1 / scale; }          // factor for stds and gradients
};

// splitmix64 of (seed, stream): independent, reproducible seeds for parts of one model.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream);

}  // namespace flexnas::detail
