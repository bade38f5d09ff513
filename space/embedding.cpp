#include "space/embedding.hpp"
#include "space/file_io.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas {

namespace {

// Weighting of the stress terms, w = d^-p. p = 1 balances near and far pairs; the
// quality measures (Spearman, raw stress over random pairs) care about both.
constexpr double kWeightExponent = 1.0;
constexpr double kFinalStep = 0.01;
constexpr int kPlaceIterations = 30;
constexpr int kFormatVersion = 1;
constexpr const char* kFormatName = "flexnas-embedding";

using Pair = std::pair<std::size_t, std::size_t>;

// Distances of graph pairs, in parallel; each value depends only on its pair, so the
// result does not depend on the thread count. Progress is reported between chunks from
// the calling thread.
std::vector<double> pair_distances(const std::vector<CostGraph>& graphs,
                                   const std::vector<Pair>& pairs, const GedOptions& opt,
                                   const std::string& stage, const EmbeddingOptions& eopt,
                                   std::size_t done_before, std::size_t total) {
  std::vector<double> d(pairs.size());
  constexpr std::size_t kChunk = 8192;
  for (std::size_t begin = 0; begin < pairs.size(); begin += kChunk) {
    const std::size_t end = std::min(pairs.size(), begin + kChunk);
    tbb::parallel_for(tbb::blocked_range<std::size_t>(begin, end),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        for (std::size_t k = r.begin(); k != r.end(); ++k)
                          d[k] = ged(graphs[pairs[k].first], graphs[pairs[k].second], opt).distance;
                      });
    if (eopt.progress) eopt.progress(stage, done_before + end, total);
  }
  return d;
}

std::vector<CostGraph> cost_graphs(const std::vector<Architecture>& archs, const OpCosts& costs) {
  std::vector<CostGraph> g(archs.size());
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, archs.size()),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t i = r.begin(); i != r.end(); ++i)
                        g[i] = costs.graph(archs[i]);
                    });
  return g;
}

// Every architecture must belong to the space; the first bad one is named (serially, so
// the message does not depend on scheduling).
void validate_all(const std::vector<Architecture>& archs, const DesignSpace& space,
                  const char* what) {
  for (std::size_t i = 0; i < archs.size(); ++i) {
    try {
      space.validate(archs[i]);
    } catch (const InputError& e) {
      throw InputError(std::string(what) + " architecture " + std::to_string(i) + ": " + e.what());
    }
  }
}

void check_options(const EmbeddingOptions& opt) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw InputError("embedding option " + what);
  };
  need(opt.dim >= 1 && opt.dim <= 1024, "dim " + std::to_string(opt.dim) + " is not in [1, 1024]");
  need(opt.landmarks >= 2, "landmarks " + std::to_string(opt.landmarks) + " is below 2");
  need(opt.pairs_per_point >= 0,
       "pairs_per_point " + std::to_string(opt.pairs_per_point) + " is negative");
  need(opt.epochs >= 0, "epochs " + std::to_string(opt.epochs) + " is negative");
}

const char* method_name(GedMethod m) {
  switch (m) {
    case GedMethod::kAuto:
      return "auto";
    case GedMethod::kExact:
      return "exact";
    case GedMethod::kBipartite:
      return "bipartite";
  }
  return "auto";
}

GedMethod parse_method(const std::string& s) {
  if (s == "auto") return GedMethod::kAuto;
  if (s == "exact") return GedMethod::kExact;
  if (s == "bipartite") return GedMethod::kBipartite;
  throw InputError("ged method '" + s + "' is not one of {auto, exact, bipartite}");
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

// --- numerical pieces ------------------------------------------------------------------

namespace detail {

ClassicalMds classical_mds(const Eigen::MatrixXd& dist, int dim) {
  const Eigen::Index l = dist.rows();
  const Eigen::MatrixXd sq = dist.array().square().matrix();
  ClassicalMds r;
  r.mean_sq = sq.colwise().mean().transpose();
  // Double centring: B = -1/2 J D^2 J.
  const Eigen::VectorXd row_mean = sq.rowwise().mean();
  const double grand = r.mean_sq.mean();
  Eigen::MatrixXd b = sq;
  b.colwise() -= row_mean;
  b.rowwise() -= r.mean_sq.transpose();
  b.array() += grand;
  b *= -0.5;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(b);
  r.coords = Eigen::MatrixXd::Zero(l, dim);
  r.pinv = Eigen::MatrixXd::Zero(dim, l);
  const double top = std::max(1.0, es.eigenvalues().cwiseAbs().maxCoeff());
  for (int k = 0; k < dim && k < l; ++k) {
    const Eigen::Index idx = l - 1 - k;  // eigenvalues ascend
    const double lambda = es.eigenvalues()(idx);
    if (lambda <= 1e-12 * top) break;  // non-Euclidean or degenerate directions stay 0
    const double s = std::sqrt(lambda);
    r.coords.col(k) = es.eigenvectors().col(idx) * s;
    r.pinv.row(k) = es.eigenvectors().col(idx).transpose() / s;
  }
  return r;
}

Eigen::MatrixXd lmds_triangulate(const ClassicalMds& mds,
                                 const Eigen::MatrixXd& dist_to_landmarks) {
  Eigen::MatrixXd delta = dist_to_landmarks.array().square().matrix();
  delta.rowwise() -= mds.mean_sq.transpose();
  return -0.5 * delta * mds.pinv.transpose();
}

Eigen::VectorXd place_point(const Eigen::MatrixXd& landmarks, const Eigen::VectorXd& dist,
                            double weight_exponent, int iterations) {
  const Eigen::Index l = landmarks.rows(), dim = landmarks.cols();
  // Linear triangulation: subtracting the mean of |y - x_a|^2 = d_a^2 over a removes |y|^2.
  const Eigen::RowVectorXd centre = landmarks.colwise().mean();
  const Eigen::MatrixXd a = -2.0 * (landmarks.rowwise() - centre);
  const Eigen::VectorXd norms = landmarks.rowwise().squaredNorm();
  const Eigen::VectorXd d2 = dist.array().square().matrix();
  Eigen::VectorXd rhs = (d2.array() - d2.mean()).matrix() - (norms.array() - norms.mean()).matrix();
  Eigen::VectorXd y = a.completeOrthogonalDecomposition().solve(rhs);
  if (iterations <= 0 || l == 0) return y;

  // Levenberg-Marquardt on the weighted stress against the fixed landmarks.
  double floor = std::numeric_limits<double>::infinity();
  for (Eigen::Index k = 0; k < l; ++k)
    if (dist(k) > 0) floor = std::min(floor, dist(k));
  if (!std::isfinite(floor)) floor = 1;
  Eigen::VectorXd w(l);
  for (Eigen::Index k = 0; k < l; ++k) w(k) = std::pow(std::max(dist(k), floor), -weight_exponent);
  auto cost = [&](const Eigen::VectorXd& p) {
    return (w.array() *
            ((landmarks.rowwise() - p.transpose()).rowwise().norm() - dist).array().square())
        .sum();
  };
  double f = cost(y), lambda = 1e-3;
  Eigen::MatrixXd jtj(dim, dim);
  Eigen::VectorXd jtr(dim);
  for (int it = 0; it < iterations; ++it) {
    jtj.setZero();
    jtr.setZero();
    for (Eigen::Index k = 0; k < l; ++k) {
      const Eigen::VectorXd diff = y - landmarks.row(k).transpose();
      const double n = diff.norm();
      if (n < 1e-12) continue;
      const Eigen::VectorXd g = diff / n;
      jtj.noalias() += w(k) * g * g.transpose();
      jtr.noalias() += w(k) * (n - dist(k)) * g;
    }
    bool improved = false;
    for (int tries = 0; tries < 8 && !improved; ++tries) {
      Eigen::MatrixXd m = jtj;
      m.diagonal().array() += lambda * (1.0 + jtj.diagonal().array());
      const Eigen::VectorXd step = m.ldlt().solve(-jtr);
      const Eigen::VectorXd next = y + step;
      const double fn = cost(next);
      if (fn < f) {
        const double gain = f - fn;
        y = next;
        f = fn;
        lambda = std::max(lambda / 3, 1e-9);
        improved = true;
        if (gain <= 1e-12 * (1 + f)) return y;
      } else {
        lambda *= 4;
      }
    }
    if (!improved) break;
  }
  return y;
}

void stress_sgd(Eigen::MatrixXd& x, std::vector<StressTerm> terms, const std::vector<char>& fixed,
                const SgdSchedule& schedule, const std::function<void(int)>& epoch_done) {
  if (terms.empty() || schedule.epochs <= 0) return;
  double floor = std::numeric_limits<double>::infinity(), dmax = 0;
  for (const auto& t : terms)
    if (t.d > 0) {
      floor = std::min(floor, t.d);
      dmax = std::max(dmax, t.d);
    }
  if (!std::isfinite(floor)) return;  // every distance is 0: nothing to spread
  auto w_of = [&](double d) { return std::pow(std::max(d, floor), -schedule.weight_exponent); };
  const double w_min = w_of(dmax), w_max = w_of(floor);
  const double eta_max = 1.0 / w_min, eta_min = schedule.eps / w_max;
  const double decay =
      schedule.epochs > 1 ? std::log(eta_max / eta_min) / (schedule.epochs - 1) : 0.0;

  // Columns are points while iterating: one point's coordinates are contiguous.
  Eigen::MatrixXd xt = x.transpose();
  const Eigen::Index dim = xt.rows();
  Rng rng(schedule.seed);
  std::normal_distribution<double> normal;
  Eigen::VectorXd r(dim);
  for (int epoch = 0; epoch < schedule.epochs; ++epoch) {
    const double eta = eta_max * std::exp(-decay * epoch);
    std::shuffle(terms.begin(), terms.end(), rng);
    for (const auto& t : terms) {
      const bool fi = !fixed.empty() && fixed[t.i], fj = !fixed.empty() && fixed[t.j];
      if (fi && fj) continue;
      const double mu = std::min(1.0, eta * w_of(t.d));
      r = xt.col(t.i) - xt.col(t.j);
      double n = r.norm();
      if (n < 1e-12) {
        if (t.d <= 0) continue;
        for (Eigen::Index k = 0; k < dim; ++k) r(k) = normal(rng);  // coincident: any direction
        n = r.norm();
      }
      // Half the residual along the connecting line for each end (all of it for a
      // single free end), so mu = 1 satisfies the term exactly.
      r *= mu * (n - t.d) / (2 * n);
      if (fi || fj) r *= 2;
      if (!fi) xt.col(t.i) -= r;
      if (!fj) xt.col(t.j) += r;
    }
    if (epoch_done) epoch_done(epoch + 1);
  }
  x = xt.transpose();
}

double raw_stress(const Eigen::MatrixXd& x, const std::vector<StressTerm>& terms) {
  double num = 0, den = 0;
  for (const auto& t : terms) {
    const double e = (x.row(t.i) - x.row(t.j)).norm() - t.d;
    num += e * e;
    den += t.d * t.d;
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

}  // namespace detail

// --- rank correlation --------------------------------------------------------------------

namespace {

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;  // ranks i+1 .. j+1
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = avg;
    i = j + 1;
  }
  return rank;
}

}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw InputError("spearman: " + std::to_string(x.size()) + " values against " +
                     std::to_string(y.size()));
  if (x.size() < 2) return 0;
  const auto rx = average_ranks(x), ry = average_ranks(y);
  const double mean = 0.5 * static_cast<double>(x.size() + 1);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = rx[i] - mean, b = ry[i] - mean;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

// --- fit ---------------------------------------------------------------------------------

Embedding Embedding::fit(const std::vector<Architecture>& archs, const DesignSpace& space,
                         const EmbeddingOptions& opt) {
  check_options(opt);
  if (archs.size() < 2)
    throw InputError("embedding needs at least 2 architectures, got " +
                     std::to_string(archs.size()));
  if (archs.size() > std::numeric_limits<std::uint32_t>::max())
    throw InputError("embedding of " + std::to_string(archs.size()) +
                     " architectures is too large");
  validate_all(archs, space, "embedding:");

  Embedding e;
  e.space_ = space;
  e.opt_ = opt;
  e.opt_.progress = nullptr;
  e.archs_ = archs;
  e.costs_ = OpCosts::for_space(space);
  const std::size_t n = archs.size();
  const auto graphs = cost_graphs(archs, e.costs_);
  Rng rng(opt.seed);

  // Landmarks by farthest-point (maxmin) selection; each new landmark's distances to all
  // points are the column the triangulation needs anyway, so selection costs nothing.
  const std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(opt.landmarks), n);
  std::vector<std::size_t> lm{std::uniform_int_distribution<std::size_t>(0, n - 1)(rng)};
  std::vector<std::vector<double>> cols;
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  const std::size_t pairs_total = n * static_cast<std::size_t>(opt.pairs_per_point);
  for (;;) {
    std::vector<Pair> pairs(n);
    for (std::size_t i = 0; i < n; ++i) pairs[i] = {lm.back(), i};
    cols.push_back(pair_distances(graphs, pairs, opt.ged, "landmarks", EmbeddingOptions{}, 0, 0));
    if (opt.progress) opt.progress("landmarks", lm.size(), want);
    for (std::size_t i = 0; i < n; ++i) nearest[i] = std::min(nearest[i], cols.back()[i]);
    if (lm.size() == want) break;
    const auto far = static_cast<std::size_t>(std::max_element(nearest.begin(), nearest.end()) -
                                              nearest.begin());
    if (nearest[far] <= 0) break;  // fewer distinct graphs than landmarks
    lm.push_back(far);
  }
  const auto l = static_cast<Eigen::Index>(lm.size());
  Eigen::MatrixXd to_lm(static_cast<Eigen::Index>(n), l);
  for (Eigen::Index k = 0; k < l; ++k)
    for (std::size_t i = 0; i < n; ++i) to_lm(static_cast<Eigen::Index>(i), k) = cols[k][i];
  cols.clear();

  // Landmark MDS start. The bipartite bound need not be symmetric: average both ways.
  Eigen::MatrixXd lm_dist(l, l);
  for (Eigen::Index a = 0; a < l; ++a)
    for (Eigen::Index b = 0; b < l; ++b) lm_dist(a, b) = to_lm(static_cast<Eigen::Index>(lm[a]), b);
  lm_dist = (0.5 * (lm_dist + lm_dist.transpose())).eval();
  lm_dist.diagonal().setZero();
  const auto mds = detail::classical_mds(lm_dist, opt.dim);
  e.points_ = detail::lmds_triangulate(mds, to_lm);
  for (Eigen::Index a = 0; a < l; ++a)
    e.points_.row(static_cast<Eigen::Index>(lm[a])) = mds.coords.row(a);

  // Stress terms: every point to every landmark, and random partner pairs.
  std::vector<char> is_lm(n, 0);
  for (auto i : lm) is_lm[i] = 1;
  std::vector<detail::StressTerm> terms;
  terms.reserve(n * lm.size() + pairs_total);
  for (std::size_t i = 0; i < n; ++i)
    for (Eigen::Index k = 0; k < l; ++k) {
      const std::size_t j = lm[k];
      if (is_lm[i] && i >= j) continue;  // landmark pairs once, from the symmetric matrix
      const double d = is_lm[i] ? lm_dist(std::find(lm.begin(), lm.end(), i) - lm.begin(), k)
                                : to_lm(static_cast<Eigen::Index>(i), k);
      terms.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j), d});
    }
  if (opt.pairs_per_point > 0 && n > 1) {
    std::vector<Pair> pairs;
    pairs.reserve(pairs_total);
    std::uniform_int_distribution<std::size_t> other(0, n - 2);
    for (std::size_t i = 0; i < n; ++i)
      for (int p = 0; p < opt.pairs_per_point; ++p) {
        std::size_t j = other(rng);
        if (j >= i) ++j;  // uniform over the others
        pairs.emplace_back(i, j);
      }
    const auto d = pair_distances(graphs, pairs, opt.ged, "pairs", opt, 0, pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k)
      terms.push_back({static_cast<std::uint32_t>(pairs[k].first),
                       static_cast<std::uint32_t>(pairs[k].second), d[k]});
  }

  detail::SgdSchedule schedule;
  schedule.epochs = opt.epochs;
  schedule.weight_exponent = kWeightExponent;
  schedule.eps = kFinalStep;
  schedule.seed = rng();
  std::function<void(int)> epoch_done;
  if (opt.progress)
    epoch_done = [&](int ep) {
      opt.progress("refine", static_cast<std::size_t>(ep), static_cast<std::size_t>(opt.epochs));
    };
  detail::stress_sgd(e.points_, std::move(terms), {}, schedule, epoch_done);

  e.landmark_index_ = lm;
  e.index_fitted();
  return e;
}

void Embedding::index_fitted() {
  costs_ = OpCosts::for_space(space_);
  landmark_graphs_.clear();
  for (auto i : landmark_index_) landmark_graphs_.push_back(costs_.graph(archs_[i]));
  row_of_hash_.clear();
  std::vector<std::string> hashes(archs_.size());
  const auto form = space_.label_form();
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, archs_.size()),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t i = r.begin(); i != r.end(); ++i)
                        hashes[i] = graph_hash(archs_[i], form);
                    });
  for (std::size_t i = 0; i < hashes.size(); ++i)
    row_of_hash_.emplace(hashes[i], i);  // first row wins
}

// --- out of sample -----------------------------------------------------------------------

Eigen::VectorXd Embedding::embed(const Architecture& a) const {
  return embed(std::vector<Architecture>{a}).row(0).transpose();
}

Eigen::MatrixXd Embedding::embed(const std::vector<Architecture>& archs) const {
  validate_all(archs, space_, "embed:");
  const auto graphs = cost_graphs(archs, costs_);
  const auto l = static_cast<Eigen::Index>(landmark_index_.size());
  Eigen::MatrixXd x_lm(l, points_.cols());
  for (Eigen::Index k = 0; k < l; ++k)
    x_lm.row(k) = points_.row(static_cast<Eigen::Index>(landmark_index_[k]));
  const auto d = ged_matrix(graphs, landmark_graphs_, opt_.ged);
  Eigen::MatrixXd out(static_cast<Eigen::Index>(archs.size()), points_.cols());
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, archs.size()),
      [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t i = r.begin(); i != r.end(); ++i) {
          const Eigen::VectorXd di =
              Eigen::Map<const Eigen::VectorXd>(d.data() + i * landmark_index_.size(), l);
          out.row(static_cast<Eigen::Index>(i)) =
              detail::place_point(x_lm, di, kWeightExponent, kPlaceIterations).transpose();
        }
      });
  return out;
}

EmbeddingQuality Embedding::quality(const std::vector<Architecture>& archs, std::size_t pairs,
                                    std::uint64_t seed, const GedOptions& reference) const {
  if (archs.size() < 2)
    throw InputError("embedding quality needs at least 2 architectures, got " +
                     std::to_string(archs.size()));
  Rng rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, archs.size() - 1), other(0, archs.size() - 2);
  std::vector<Pair> ps(pairs);
  for (auto& p : ps) {
    p.first = pick(rng);
    p.second = other(rng);
    if (p.second >= p.first) ++p.second;
  }
  // Coordinates: fitted rows by graph hash, the rest out of sample in one batch.
  std::vector<long> row(archs.size(), -2);  // -2 unused, -1 pending, >= 0 fitted row
  for (const auto& p : ps) row[p.first] = row[p.second] = -1;
  std::vector<Architecture> fresh;
  std::vector<std::size_t> fresh_of;
  const auto form = space_.label_form();
  for (std::size_t i = 0; i < archs.size(); ++i) {
    if (row[i] != -1) continue;
    auto it = row_of_hash_.find(graph_hash(archs[i], form));
    if (it != row_of_hash_.end()) {
      row[i] = static_cast<long>(it->second);
    } else {
      fresh_of.push_back(i);
      fresh.push_back(archs[i]);
    }
  }
  const Eigen::MatrixXd fresh_x = fresh.empty() ? Eigen::MatrixXd() : embed(fresh);
  Eigen::MatrixXd x(static_cast<Eigen::Index>(archs.size()), points_.cols());
  for (std::size_t i = 0; i < archs.size(); ++i)
    if (row[i] >= 0) x.row(static_cast<Eigen::Index>(i)) = points_.row(row[i]);
  for (std::size_t k = 0; k < fresh.size(); ++k)
    x.row(static_cast<Eigen::Index>(fresh_of[k])) = fresh_x.row(static_cast<Eigen::Index>(k));

  const auto graphs = cost_graphs(archs, costs_);  // cheap next to the distances
  const auto d = pair_distances(graphs, ps, reference, "quality", EmbeddingOptions{}, 0, 0);
  std::vector<double> de(ps.size());
  double num = 0, den = 0;
  for (std::size_t k = 0; k < ps.size(); ++k) {
    de[k] = (x.row(static_cast<Eigen::Index>(ps[k].first)) -
             x.row(static_cast<Eigen::Index>(ps[k].second)))
                .norm();
    num += (de[k] - d[k]) * (de[k] - d[k]);
    den += d[k] * d[k];
  }
  EmbeddingQuality q;
  q.pairs = ps.size();
  q.stress = den > 0 ? std::sqrt(num / den) : 0.0;
  q.spearman = spearman(de, d);
  return q;
}

// --- file --------------------------------------------------------------------------------

void Embedding::save(const std::string& path) const {
  using nlohmann::ordered_json;
  // One architecture / point per line: diffable and still plain JSON.
  std::ostringstream out;
  ordered_json options = {{"dim", opt_.dim},
                          {"landmarks", opt_.landmarks},
                          {"pairs_per_point", opt_.pairs_per_point},
                          {"epochs", opt_.epochs},
                          {"seed", opt_.seed},
                          {"ged",
                           {{"method", method_name(opt_.ged.method)},
                            {"exact_max_nodes", opt_.ged.exact_max_nodes},
                            {"max_expansions", opt_.ged.max_expansions}}}};
  out << "{\n\"format\": " << ordered_json(kFormatName).dump()
      << ",\n\"version\": " << kFormatVersion
      << ",\n\"space\": " << ordered_json(space_.to_yaml()).dump()
      << ",\n\"options\": " << options.dump()
      << ",\n\"landmarks\": " << ordered_json(landmark_index_).dump() << ",\n\"architectures\": [";
  for (std::size_t i = 0; i < archs_.size(); ++i)
    out << (i ? ",\n" : "\n") << to_json(archs_[i]).dump();
  out << "\n],\n\"points\": [";
  for (Eigen::Index i = 0; i < points_.rows(); ++i) {
    ordered_json row = ordered_json::array();
    for (Eigen::Index k = 0; k < points_.cols(); ++k) row.push_back(points_(i, k));
    out << (i ? ",\n" : "\n") << row.dump();
  }
  out << "\n]\n}\n";

  write_file_atomic(path, out.str());
}

Embedding Embedding::load(const std::string& path) {
  const std::string where = "embedding file '" + path + "'";
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError("cannot read " + where);
  std::stringstream ss;
  ss << f.rdbuf();
  Embedding e;
  try {
    const auto j = nlohmann::json::parse(ss.str());
    if (!j.is_object() || j.value("format", std::string()) != kFormatName)
      throw InputError("not a flexnas embedding (\"format\" is not \"" + std::string(kFormatName) +
                       "\")");
    if (!j.at("version").is_number_integer() ||
        j.at("version").get<std::int64_t>() != kFormatVersion)
      throw InputError("version " + j.at("version").dump() + " is not " +
                       std::to_string(kFormatVersion));
    e.space_ = DesignSpace::from_yaml(j.at("space").get<std::string>(), path);
    const auto& o = j.at("options");
    e.opt_.dim = json_integer<int>(o.at("dim"), "options.dim");
    e.opt_.landmarks = json_integer<int>(o.at("landmarks"), "options.landmarks");
    e.opt_.pairs_per_point = json_integer<int>(o.at("pairs_per_point"), "options.pairs_per_point");
    e.opt_.epochs = json_integer<int>(o.at("epochs"), "options.epochs");
    e.opt_.seed = json_uint64(o.at("seed"), "options.seed");
    const auto& g = o.at("ged");
    e.opt_.ged.method = parse_method(g.at("method").get<std::string>());
    e.opt_.ged.exact_max_nodes =
        json_integer<int>(g.at("exact_max_nodes"), "options.ged.exact_max_nodes");
    e.opt_.ged.max_expansions = json_uint64(g.at("max_expansions"), "options.ged.max_expansions");
    check_options(e.opt_);

    const auto& archs = j.at("architectures");
    const auto& points = j.at("points");
    if (!archs.is_array() || !points.is_array() || archs.size() != points.size())
      throw InputError("\"architectures\" and \"points\" are not arrays of the same length");
    for (std::size_t i = 0; i < archs.size(); ++i) {
      try {
        e.archs_.push_back(architecture_from_json(archs[i]));
        e.space_.validate(e.archs_.back());
      } catch (const InputError& err) {
        throw InputError("architecture " + std::to_string(i) + ": " + err.what());
      }
    }
    const auto n = static_cast<Eigen::Index>(points.size());
    e.points_.resize(n, e.opt_.dim);
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto& row = points[static_cast<std::size_t>(i)];
      if (!row.is_array() || row.size() != static_cast<std::size_t>(e.opt_.dim))
        throw InputError("point " + std::to_string(i) + " does not have dim " +
                         std::to_string(e.opt_.dim) + " numbers");
      for (Eigen::Index k = 0; k < e.opt_.dim; ++k)
        e.points_(i, k) = json_real(row[static_cast<std::size_t>(k)],
                                    "points[" + std::to_string(i) + "][" + std::to_string(k) + "]");
    }
    const auto& lm = j.at("landmarks");
    if (!lm.is_array()) throw InputError("\"landmarks\" is not a list");
    for (std::size_t i = 0; i < lm.size(); ++i)
      e.landmark_index_.push_back(
          json_integer<std::size_t>(lm[i], "landmarks[" + std::to_string(i) + "]"));
    if (e.landmark_index_.empty()) throw InputError("no landmarks");
    std::vector<char> seen(e.archs_.size(), 0);
    for (auto i : e.landmark_index_) {
      if (i >= e.archs_.size() || seen[i])
        throw InputError("landmark " + std::to_string(i) + " is out of range or repeated (" +
                         std::to_string(e.archs_.size()) + " architectures)");
      seen[i] = 1;
    }
    e.index_fitted();
  } catch (const InputError& err) {
    throw InputError(where + ": " + one_line(err.what()));
  } catch (const nlohmann::json::exception& err) {
    throw InputError(where + ": " + one_line(err.what()));
  }
  return e;
}

// --- naive encoding ------------------------------------------------------------------------

Eigen::VectorXd naive_encoding(const Architecture& a, const DesignSpace& space) {
  const int max_layers = *std::max_element(space.layers.begin(), space.layers.end());
  if (a.num_layers() > max_layers)
    throw InputError("naive_encoding: architecture has " + std::to_string(a.num_layers()) +
                     " layers, space " + space.name + " allows at most " +
                     std::to_string(max_layers));
  const auto ops = space.head_ops();
  const double max_hidden = *std::max_element(space.hidden.begin(), space.hidden.end());
  const double max_heads = *std::max_element(space.heads.begin(), space.heads.end());
  const double max_depth = *std::max_element(space.ff_depth.begin(), space.ff_depth.end());
  const double max_width = *std::max_element(space.ff_width.begin(), space.ff_width.end());
  // Extensions only where the space offers a choice; constant features carry nothing.
  const std::size_t kernels = space.attn_kernels.size() > 1 ? space.attn_kernels.size() : 0;
  const std::size_t acts = space.activations.size() > 1 ? space.activations.size() : 0;
  const std::size_t norms = space.norms.size() > 1 ? space.norms.size() : 0;
  const std::size_t places = space.placements.size() > 1 ? space.placements.size() : 0;
  const std::size_t per_layer = 4 + ops.size() + kernels + acts + norms + places;
  Eigen::VectorXd v = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(per_layer) * max_layers);
  auto one_hot = [&](std::size_t& at, std::size_t count, const auto& choices, const auto& value) {
    if (count == 0) return;
    const auto it = std::find(choices.begin(), choices.end(), value);
    if (it != choices.end())
      v(static_cast<Eigen::Index>(at + static_cast<std::size_t>(it - choices.begin()))) = 1;
    at += count;
  };
  for (int li = 0; li < a.num_layers(); ++li) {
    const Layer& layer = a.layers[static_cast<std::size_t>(li)];
    std::size_t at = static_cast<std::size_t>(li) * per_layer;
    auto put = [&](double x) { v(static_cast<Eigen::Index>(at++)) = x; };
    put(layer.hidden / max_hidden);
    put(layer.num_heads() / max_heads);
    put(static_cast<double>(layer.ff.size()) / max_depth);
    const double mean_width = layer.ff.empty()
                                  ? 0.0
                                  : std::accumulate(layer.ff.begin(), layer.ff.end(), 0.0) /
                                        static_cast<double>(layer.ff.size());
    put(mean_width / max_width);
    // Share of heads per operation: one-hot for a homogeneous layer.
    for (const auto& h : layer.heads) {
      const auto it = std::find(ops.begin(), ops.end(), h);
      if (it != ops.end())
        v(static_cast<Eigen::Index>(at + static_cast<std::size_t>(it - ops.begin()))) +=
            1.0 / layer.num_heads();
    }
    at += ops.size();
    one_hot(at, kernels, space.attn_kernels, layer.attn_kernel);
    one_hot(at, acts, space.activations, layer.activation);
    one_hot(at, norms, space.norms, layer.norm);
    one_hot(at, places, space.placements, layer.norm_placement);
  }
  return v;
}

}  // namespace flexnas
