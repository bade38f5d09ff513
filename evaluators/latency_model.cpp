#include "evaluators/latency_model.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include <tbb/parallel_for.h>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "space/file_io.hpp"

namespace flexnas::latency {
namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::RowVectorXd;
using Eigen::VectorXd;
using Rng = std::mt19937_64;

// Own draws (not std::*_distribution) so results match across standard libraries.
double uniform01(Rng& r) {
  return static_cast<double>(r() >> 11) * 0x1.0p-53;
}

std::vector<Index> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<Index> p(n);
  std::iota(p.begin(), p.end(), Index{0});
  Rng r(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[r() % i]);
  return p;
}

std::uint64_t mix(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool parse_number(const std::string& s, double* out) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return false;
  const auto e = s.find_last_not_of(" \t");
  const std::string t = s.substr(b, e - b + 1);
  double v = 0;  // from_chars: decimal only (strtod would take 0x1p3)
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

// ---- data -------------------------------------------------------------------------------

int Table::index(const std::string& column) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == column) return static_cast<int>(i);
  return -1;
}

bool Table::numeric(std::size_t column) const {
  double v = 0;
  for (const auto& row : cells)
    if (!parse_number(row[column], &v)) return false;
  return !cells.empty();
}

MatrixXd Table::matrix(const std::vector<std::string>& names) const {
  MatrixXd m(static_cast<Index>(rows()), static_cast<Index>(names.size()));
  for (std::size_t k = 0; k < names.size(); ++k) {
    const int c = index(names[k]);
    if (c < 0) throw InputError(path + ": no column '" + names[k] + "'");
    for (std::size_t r = 0; r < rows(); ++r) {
      double v = 0;
      if (!parse_number(cells[r][static_cast<std::size_t>(c)], &v))
        throw InputError(path + ":" + std::to_string(lines[r]) + ":" + std::to_string(c + 1) +
                         ": column '" + names[k] + "' holds '" +
                         cells[r][static_cast<std::size_t>(c)].substr(0, 40) + "', not a number");
      m(static_cast<Index>(r), static_cast<Index>(k)) = v;
    }
  }
  return m;
}

Table read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  Table t;
  t.path = path;
  std::vector<std::string> fields(1);
  bool quoted = false, any = false;
  int line = 1, record_line = 1;
  auto finish = [&] {
    if (any || fields.size() > 1 || !fields[0].empty()) {
      if (t.columns.empty()) {
        t.columns = fields;
      } else {
        if (fields.size() != t.columns.size())
          throw InputError(path + ":" + std::to_string(record_line) + ": " +
                           std::to_string(fields.size()) + " fields, the header has " +
                           std::to_string(t.columns.size()));
        t.cells.push_back(fields);
        t.lines.push_back(record_line);
      }
    }
    fields.assign(1, "");
    any = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      finish();
      record_line = ++line;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (quoted) throw InputError(path + ":" + std::to_string(record_line) + ": unterminated quote");
  finish();
  if (t.columns.empty()) throw InputError(path + ": empty file (a CSV header is needed)");
  for (auto& c : t.columns) {
    const auto b = c.find_first_not_of(" \t");
    const auto e = c.find_last_not_of(" \t");
    c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  }
  return t;
}

std::vector<std::string> split_target(const std::string& spec) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto plus = spec.find('+', start);
    out.push_back(spec.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (out.back().empty()) throw InputError("--target '" + spec + "': empty column name");
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  return out;
}

std::vector<std::string> default_features(const Table& t, const std::vector<std::string>& targets,
                                          std::vector<std::string>* excluded) {
  std::vector<std::string> prefixes;
  for (const auto& y : targets) {
    const auto us = y.find('_');
    if (us != std::string::npos && us > 0) prefixes.push_back(y.substr(0, us + 1));
  }
  std::vector<std::string> out;
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    const auto& name = t.columns[c];
    if (std::find(targets.begin(), targets.end(), name) != targets.end()) continue;
    if (!t.numeric(c)) continue;
    const bool leak = std::any_of(prefixes.begin(), prefixes.end(),
                                  [&](const std::string& p) { return name.rfind(p, 0) == 0; });
    if (leak) {
      if (excluded) excluded->push_back(name);
      continue;
    }
    out.push_back(name);
  }
  return out;
}

// ---- metrics ------------------------------------------------------------------------------

double mape(const VectorXd& y, const VectorXd& pred) {
  if (y.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * ((pred - y).array().abs() / y.array().abs()).mean();
}

double rmse(const VectorXd& y, const VectorXd& pred) {
  if (y.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt((pred - y).squaredNorm() / static_cast<double>(y.size()));
}

// ---- configurations -------------------------------------------------------------------------

const char* to_string(ModelKind k) {
  switch (k) {
    case ModelKind::kRidge:
      return "ridge";
    case ModelKind::kMlp:
      return "mlp";
    case ModelKind::kGbt:
      return "gbt";
  }
  return "?";
}

std::string ModelConfig::label() const {
  std::string s = std::string(to_string(kind)) + "(" + (log_target ? "log" : "raw") +
                  (loss == Loss::kAbsolute ? ",abs" : ",sq");
  switch (kind) {
    case ModelKind::kRidge:
      s += std::string(quadratic ? ",quad" : ",linear") + ",lambda=" + fmt(lambda);
      break;
    case ModelKind::kMlp:
      s += "," + std::to_string(depth) + "x" + std::to_string(hidden) +
           ",epochs=" + std::to_string(epochs) + ",lr=" + fmt(lr) + ",wd=" + fmt(weight_decay);
      break;
    case ModelKind::kGbt:
      s += ",trees=" + std::to_string(trees) + ",depth=" + std::to_string(tree_depth) +
           ",shrinkage=" + fmt(shrinkage);
      break;
  }
  return s + ")";
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = {{"kind", to_string(kind)},
                      {"log_target", log_target},
                      {"loss", loss == Loss::kAbsolute ? "absolute" : "squared"}};
  switch (kind) {
    case ModelKind::kRidge:
      j["quadratic"] = quadratic;
      j["lambda"] = lambda;
      break;
    case ModelKind::kMlp:
      j.update({{"hidden", hidden},
                {"depth", depth},
                {"epochs", epochs},
                {"batch", batch},
                {"lr", lr},
                {"weight_decay", weight_decay}});
      break;
    case ModelKind::kGbt:
      j.update({{"trees", trees},
                {"tree_depth", tree_depth},
                {"shrinkage", shrinkage},
                {"min_leaf", min_leaf},
                {"subsample", subsample}});
      break;
  }
  return j;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  const auto kind = j.at("kind").get<std::string>();
  if (kind == "ridge")
    c.kind = ModelKind::kRidge;
  else if (kind == "mlp")
    c.kind = ModelKind::kMlp;
  else if (kind == "gbt")
    c.kind = ModelKind::kGbt;
  else
    throw InputError("unknown model kind '" + kind + "' (valid: ridge, mlp, gbt)");
  c.log_target = j.at("log_target").get<bool>();
  const auto loss = j.value("loss", std::string("squared"));
  if (loss == "absolute")
    c.loss = Loss::kAbsolute;
  else if (loss != "squared")
    throw InputError("unknown loss '" + loss + "' (valid: squared, absolute)");
  c.quadratic = j.value("quadratic", c.quadratic);
  // Strict numbers (core/numbers.hpp): a wrapped or truncated count is an error.
  auto integer = [&](const char* key, int& field) {
    if (j.contains(key)) field = json_integer<int>(j[key], std::string("config.") + key, 0);
  };
  auto real = [&](const char* key, double& field) {
    if (j.contains(key)) field = json_real(j[key], std::string("config.") + key);
  };
  real("lambda", c.lambda);
  integer("hidden", c.hidden);
  integer("depth", c.depth);
  integer("epochs", c.epochs);
  integer("batch", c.batch);
  real("lr", c.lr);
  real("weight_decay", c.weight_decay);
  integer("trees", c.trees);
  integer("tree_depth", c.tree_depth);
  real("shrinkage", c.shrinkage);
  integer("min_leaf", c.min_leaf);
  real("subsample", c.subsample);
  return c;
}

std::vector<ModelConfig> ridge_grid() {
  std::vector<ModelConfig> g;
  for (bool log : {false, true})
    for (auto loss : {ModelConfig::Loss::kSquared, ModelConfig::Loss::kAbsolute})
      for (bool quad : {false, true})
        for (double lambda : {1e-6, 1e-2}) {
          ModelConfig c;
          c.kind = ModelKind::kRidge;
          c.log_target = log;
          c.loss = loss;
          c.quadratic = quad;
          c.lambda = lambda;
          g.push_back(c);
        }
  return g;
}

std::vector<ModelConfig> default_grid() {
  auto g = ridge_grid();
  for (bool log : {false, true})
    for (auto loss : {ModelConfig::Loss::kSquared, ModelConfig::Loss::kAbsolute}) {
      for (int depth : {3, 5}) {
        ModelConfig c;
        c.kind = ModelKind::kGbt;
        c.log_target = log;
        c.loss = loss;
        c.tree_depth = depth;
        g.push_back(c);
      }
      ModelConfig c;
      c.kind = ModelKind::kMlp;
      c.log_target = log;
      c.loss = loss;
      g.push_back(c);
    }
  return g;
}

// ---- numerical building blocks ----------------------------------------------------------------

namespace detail {

void Scaler::fit(const MatrixXd& x) {
  mean = x.colwise().mean();
  scale.resize(x.cols());
  for (Index j = 0; j < x.cols(); ++j) {
    const double sd = std::sqrt((x.col(j).array() - mean(j)).square().mean());
    scale(j) = sd > 1e-12 * std::max(1.0, std::abs(mean(j))) ? sd : 1.0;
  }
}

MatrixXd Scaler::apply(const MatrixXd& x) const {
  return (x.rowwise() - mean).array().rowwise() / scale.array();
}

MatrixXd quadratic_expand(const MatrixXd& z) {
  const Index d = z.cols();
  MatrixXd out(z.rows(), d + d * (d + 1) / 2);
  out.leftCols(d) = z;
  Index k = d;
  for (Index i = 0; i < d; ++i)
    for (Index j = i; j < d; ++j) out.col(k++) = z.col(i).cwiseProduct(z.col(j));
  return out;
}

void Ridge::fit(const MatrixXd& x, const VectorXd& y, double lambda, const VectorXd& s) {
  const Index n = x.rows();
  const VectorXd sw = s.size() == n ? s : VectorXd::Ones(n);
  const double tot = sw.sum();
  // Weighted means make the unpenalised intercept exact: b = ym - xm . w.
  const RowVectorXd xm = (sw.transpose() * x) / tot;
  const double ym = sw.dot(y) / tot;
  const MatrixXd xc = x.rowwise() - xm;
  const VectorXd yc = y.array() - ym;
  if (lambda > 0) {
    // Normal equations of (1/n) sum s_i r_i^2 + lambda |w|^2; LDLT is exact for lambda > 0.
    MatrixXd a = xc.transpose() * sw.asDiagonal() * xc;
    a.diagonal().array() += static_cast<double>(n) * lambda;
    w = a.ldlt().solve(xc.transpose() * sw.asDiagonal() * yc);
  } else {
    // Least squares by a complete orthogonal decomposition: the minimum-norm solution
    // when columns are collinear.
    const VectorXd r = sw.cwiseSqrt();
    w = (r.asDiagonal() * xc).completeOrthogonalDecomposition().solve(r.asDiagonal() * yc);
  }
  b = ym - xm.dot(w);
}

void Ridge::fit_absolute(const MatrixXd& x, const VectorXd& y, double lambda, const VectorXd& s,
                         int iterations) {
  const Index n = x.rows();
  const VectorXd sw = s.size() == n ? s : VectorXd::Ones(n);
  fit(x, y, lambda, sw);
  // Majorise-minimise: |r| <= r^2 / (2 |r0|) + |r0| / 2, so each weighted least-squares
  // step with weights s / (2 |r0|) does not increase the objective.
  const double floor = 1e-6 * std::max(1e-12, (y.array() - y.mean()).abs().mean());
  for (int it = 0; it < iterations; ++it) {
    const VectorXd r = (y - predict(x)).cwiseAbs().cwiseMax(floor);
    fit(x, y, lambda, (sw.array() / (2 * r.array())).matrix());
  }
}

VectorXd Ridge::predict(const MatrixXd& x) const {
  return (x * w).array() + b;
}

void Mlp::init(int inputs, int hidden, int depth, std::uint64_t seed) {
  Rng r(seed);
  w.clear();
  b.clear();
  int in = inputs;
  for (int l = 0; l <= depth; ++l) {
    const int out = l == depth ? 1 : hidden;
    // He-uniform for ReLU layers, Glorot-like for the linear output.
    const double bound = std::sqrt((l == depth ? 3.0 : 6.0) / in);
    MatrixXd m(in, out);
    for (Index k = 0; k < m.size(); ++k) m.data()[k] = (2 * uniform01(r) - 1) * bound;
    w.push_back(m);
    b.push_back(RowVectorXd::Zero(out));
    in = out;
  }
}

VectorXd Mlp::predict(const MatrixXd& x) const {
  MatrixXd a = x;
  for (std::size_t l = 0; l < w.size(); ++l) {
    MatrixXd z = (a * w[l]).rowwise() + b[l];
    if (l + 1 < w.size()) z = z.cwiseMax(0.0);
    a = std::move(z);
  }
  return a.col(0);
}

double Mlp::loss_grad(const MatrixXd& x, const VectorXd& y, double wd, std::vector<MatrixXd>* gw,
                      std::vector<RowVectorXd>* gb, const VectorXd* s) const {
  const std::size_t L = w.size();
  std::vector<MatrixXd> acts(L + 1);  // acts[l]: input of layer l
  acts[0] = x;
  for (std::size_t l = 0; l < L; ++l) {
    MatrixXd z = (acts[l] * w[l]).rowwise() + b[l];
    if (l + 1 < L) z = z.cwiseMax(0.0);
    acts[l + 1] = std::move(z);
  }
  const double n = static_cast<double>(x.rows());
  const VectorXd err = acts[L].col(0) - y;
  double loss = s ? s->dot(err.cwiseAbs()) / n : 0.5 * err.squaredNorm() / n;
  for (const auto& m : w) loss += 0.5 * wd * m.squaredNorm();
  if (!gw) return loss;
  gw->resize(L);
  gb->resize(L);
  // dLoss/dz of the output layer (n x 1).
  MatrixXd d = s ? MatrixXd(s->cwiseProduct(err.unaryExpr([](double e) {
    return double((e > 0) - (e < 0));
  })) / n)
                 : MatrixXd(err / n);
  for (std::size_t l = L; l-- > 0;) {
    (*gw)[l] = acts[l].transpose() * d + wd * w[l];
    (*gb)[l] = d.colwise().sum();
    if (l == 0) break;
    d = (d * w[l].transpose()).cwiseProduct((acts[l].array() > 0).cast<double>().matrix());
  }
  return loss;
}

void Mlp::train(const MatrixXd& x, const VectorXd& y, const ModelConfig& c, std::uint64_t seed,
                const VectorXd* s) {
  init(static_cast<int>(x.cols()), c.hidden, c.depth, mix(seed, 1));
  const std::size_t L = w.size();
  std::vector<MatrixXd> mw(L), vw(L), gw;
  std::vector<RowVectorXd> mb(L), vb(L), gb;
  for (std::size_t l = 0; l < L; ++l) {
    mw[l] = vw[l] = MatrixXd::Zero(w[l].rows(), w[l].cols());
    mb[l] = vb[l] = RowVectorXd::Zero(b[l].size());
  }
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const auto n = static_cast<std::size_t>(x.rows());
  const std::size_t bs = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, c.batch)));
  const std::size_t steps_per_epoch = (n + bs - 1) / bs;
  const double total = static_cast<double>(steps_per_epoch) * c.epochs;
  Rng r(mix(seed, 2));
  std::vector<Index> order(n);
  std::iota(order.begin(), order.end(), Index{0});
  MatrixXd xb;
  VectorXd yb, sb;
  long t = 0;
  for (int e = 0; e < c.epochs; ++e) {
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[r() % i]);
    for (std::size_t first = 0; first < n; first += bs) {
      const std::size_t m = std::min(bs, n - first);
      xb.resize(static_cast<Index>(m), x.cols());
      yb.resize(static_cast<Index>(m));
      sb.resize(static_cast<Index>(m));
      for (std::size_t k = 0; k < m; ++k) {
        xb.row(static_cast<Index>(k)) = x.row(order[first + k]);
        yb(static_cast<Index>(k)) = y(order[first + k]);
        sb(static_cast<Index>(k)) = s ? (*s)(order[first + k]) : 1.0;
      }
      loss_grad(xb, yb, c.weight_decay, &gw, &gb, s ? &sb : nullptr);
      ++t;
      // Cosine decay from lr to 1% of it over the run.
      const double frac = static_cast<double>(t - 1) / std::max(1.0, total);
      const double lr = c.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * frac)));
      const double c1 = 1 - std::pow(b1, static_cast<double>(t));
      const double c2 = 1 - std::pow(b2, static_cast<double>(t));
      for (std::size_t l = 0; l < L; ++l) {
        mw[l] = b1 * mw[l] + (1 - b1) * gw[l];
        vw[l] = b2 * vw[l] + (1 - b2) * gw[l].cwiseAbs2();
        w[l].array() -= lr * (mw[l].array() / c1) / ((vw[l].array() / c2).sqrt() + eps);
        mb[l] = b1 * mb[l] + (1 - b1) * gb[l];
        vb[l] = b2 * vb[l] + (1 - b2) * gb[l].cwiseAbs2();
        b[l].array() -= lr * (mb[l].array() / c1) / ((vb[l].array() / c2).sqrt() + eps);
      }
    }
  }
}

std::size_t Tree::leaf(const MatrixXd& x, Index row) const {
  std::size_t i = 0;
  while (feature[i] >= 0)
    i = static_cast<std::size_t>(x(row, feature[i]) <= threshold[i] ? left[i] : right[i]);
  return i;
}

double Tree::predict(const MatrixXd& x, Index row) const {
  return value[leaf(x, row)];
}

namespace {

// The weighted median of v over rows (the smallest value with half the weight at or below it).
double weighted_median(const VectorXd& v, const VectorXd& s, std::vector<std::size_t> rows) {
  std::sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    return v(static_cast<Index>(a)) < v(static_cast<Index>(b));
  });
  double total = 0;
  for (auto r : rows) total += s(static_cast<Index>(r));
  double acc = 0;
  for (auto r : rows) {
    acc += s(static_cast<Index>(r));
    if (acc >= 0.5 * total) return v(static_cast<Index>(r));
  }
  return rows.empty() ? 0.0 : v(static_cast<Index>(rows.back()));
}

// Per feature: the split candidates (midpoints between neighbouring distinct values, or
// between quantiles when there are more than kMaxBins of them) and each row's bin.
constexpr std::size_t kMaxBins = 256;

struct Binned {
  std::vector<std::vector<double>> edges;       // edges[f][b]: bins 0..b go left
  std::vector<std::vector<std::uint16_t>> bin;  // bin[f][row]
};

Binned bin_features(const MatrixXd& x) {
  Binned out;
  const auto n = static_cast<std::size_t>(x.rows());
  for (Index f = 0; f < x.cols(); ++f) {
    std::vector<double> v(x.col(f).data(), x.col(f).data() + x.rows());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    std::vector<double> e;
    if (v.size() <= kMaxBins) {
      for (std::size_t k = 0; k + 1 < v.size(); ++k) e.push_back(0.5 * (v[k] + v[k + 1]));
    } else {
      for (std::size_t q = 1; q < kMaxBins; ++q) {
        const std::size_t k = q * (v.size() - 1) / kMaxBins;
        const double m = 0.5 * (v[k] + v[k + 1]);
        if (e.empty() || m > e.back()) e.push_back(m);
      }
    }
    std::vector<std::uint16_t> b(n);
    for (std::size_t r = 0; r < n; ++r)
      b[r] = static_cast<std::uint16_t>(
          std::lower_bound(e.begin(), e.end(), x(static_cast<Index>(r), f)) - e.begin());
    out.edges.push_back(std::move(e));
    out.bin.push_back(std::move(b));
  }
  return out;
}

void grow(Tree& t, const Binned& bins, const VectorXd& g, std::vector<std::size_t>& rows, int depth,
          const ModelConfig& c) {
  const std::size_t node = t.feature.size();
  double sum = 0;
  for (auto r : rows) sum += g(static_cast<Index>(r));
  const double n = static_cast<double>(rows.size());
  t.feature.push_back(-1);
  t.left.push_back(-1);
  t.right.push_back(-1);
  t.threshold.push_back(0);
  t.value.push_back(c.shrinkage * sum / n);
  const auto min_leaf = static_cast<std::size_t>(std::max(1, c.min_leaf));
  if (depth >= c.tree_depth || rows.size() < 2 * min_leaf) return;
  double best_gain = 1e-12 * std::max(1.0, sum * sum / n);
  int best_f = -1;
  std::size_t best_b = 0;
  std::vector<double> hs;
  std::vector<std::size_t> hc;
  for (std::size_t f = 0; f < bins.edges.size(); ++f) {
    const std::size_t nb = bins.edges[f].size() + 1;
    if (nb < 2) continue;
    hs.assign(nb, 0.0);
    hc.assign(nb, 0);
    for (auto r : rows) {
      hs[bins.bin[f][r]] += g(static_cast<Index>(r));
      ++hc[bins.bin[f][r]];
    }
    double sl = 0;
    std::size_t cl = 0;
    for (std::size_t b = 0; b + 1 < nb; ++b) {
      sl += hs[b];
      cl += hc[b];
      const std::size_t cr = rows.size() - cl;
      if (cl < min_leaf) continue;
      if (cr < min_leaf) break;
      const double sr = sum - sl;
      const double gain =
          sl * sl / static_cast<double>(cl) + sr * sr / static_cast<double>(cr) - sum * sum / n;
      if (gain > best_gain) {
        best_gain = gain;
        best_f = static_cast<int>(f);
        best_b = b;
      }
    }
  }
  if (best_f < 0) return;
  std::vector<std::size_t> lrows, rrows;
  for (auto r : rows)
    (bins.bin[static_cast<std::size_t>(best_f)][r] <= best_b ? lrows : rrows).push_back(r);
  rows.clear();
  rows.shrink_to_fit();
  t.feature[node] = best_f;
  t.threshold[node] = bins.edges[static_cast<std::size_t>(best_f)][best_b];
  t.left[node] = static_cast<int>(t.feature.size());
  grow(t, bins, g, lrows, depth + 1, c);
  t.right[node] = static_cast<int>(t.feature.size());
  grow(t, bins, g, rrows, depth + 1, c);
}

}  // namespace

void Gbt::fit(const MatrixXd& x, const VectorXd& y, const ModelConfig& c, std::uint64_t seed,
              const VectorXd* s) {
  const Binned bins = bin_features(x);
  base = y.mean();
  trees.clear();
  VectorXd pred = VectorXd::Constant(y.size(), base);
  Rng rng(mix(seed, 3));
  const auto n = static_cast<std::size_t>(x.rows());
  const auto take = std::max<std::size_t>(
      1, static_cast<std::size_t>(
             std::llround(std::clamp(c.subsample, 0.0, 1.0) * static_cast<double>(n))));
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), std::size_t{0});
  if (s) {  // weighted median start for the absolute loss
    const VectorXd r = y;
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    base = weighted_median(r, *s, rows);
    pred.setConstant(base);
  }
  for (int k = 0; k < c.trees; ++k) {
    const VectorXd res = y - pred;
    const VectorXd g = s ? VectorXd(s->cwiseProduct(
                               res.unaryExpr([](double e) { return double((e > 0) - (e < 0)); })))
                         : res;
    std::vector<std::size_t> rows = all;
    if (take < n) {
      for (std::size_t i = 0; i < take; ++i) std::swap(rows[i], rows[i + rng() % (n - i)]);
      rows.resize(take);
      std::sort(rows.begin(), rows.end());
    }
    Tree t;
    std::vector<std::size_t> sample = rows;
    grow(t, bins, g, rows, 0, c);
    if (s) {
      // Line search of the absolute loss: each leaf's weighted median residual.
      std::map<std::size_t, std::vector<std::size_t>> leaves;
      for (auto r : sample) leaves[t.leaf(x, static_cast<Index>(r))].push_back(r);
      for (auto& [leaf, members] : leaves)
        t.value[leaf] = c.shrinkage * weighted_median(res, *s, members);
    }
    for (Index i = 0; i < x.rows(); ++i) pred(i) += t.predict(x, i);
    trees.push_back(std::move(t));
  }
}

VectorXd Gbt::predict(const MatrixXd& x) const {
  VectorXd p = VectorXd::Constant(x.rows(), base);
  for (const auto& t : trees)
    for (Index i = 0; i < x.rows(); ++i) p(i) += t.predict(x, i);
  return p;
}

}  // namespace detail

// ---- the model ------------------------------------------------------------------------------

MatrixXd LatencyModel::inputs(const MatrixXd& x) const {
  if (config_.kind == ModelKind::kGbt) return x;  // trees need no scaling
  MatrixXd z = in_.apply(x);
  if (config_.kind == ModelKind::kRidge && config_.quadratic) z = detail::quadratic_expand(z);
  return z;
}

LatencyModel LatencyModel::train(const MatrixXd& x, const VectorXd& y, const ModelConfig& c,
                                 std::uint64_t seed) {
  LatencyModel m;
  m.config_ = c;
  VectorXd t = y;
  if (c.log_target) {
    if ((y.array() <= 0).any()) throw InputError("a log-target model needs positive targets");
    t = y.array().log();
  }
  m.t_mean_ = t.mean();
  const double sd = std::sqrt((t.array() - m.t_mean_).square().mean());
  m.t_scale_ = sd > 0 ? sd : 1.0;
  const VectorXd ts = (t.array() - m.t_mean_) / m.t_scale_;
  m.in_.fit(x);
  const MatrixXd z = m.inputs(x);
  // Absolute loss: weight 1 on the log target; 1 / y (normalised to mean 1) on the raw
  // target, so that the loss is the relative error.
  const bool abs = c.loss == ModelConfig::Loss::kAbsolute;
  VectorXd s = VectorXd::Ones(y.size());
  if (abs && !c.log_target) {
    s = y.cwiseAbs().cwiseMax(1e-300).cwiseInverse();
    s /= s.mean();
  }
  switch (c.kind) {
    case ModelKind::kRidge:
      if (abs)
        m.ridge_.fit_absolute(z, ts, c.lambda, s);
      else
        m.ridge_.fit(z, ts, c.lambda);
      break;
    case ModelKind::kMlp:
      m.mlp_.train(z, ts, c, seed, abs ? &s : nullptr);
      break;
    case ModelKind::kGbt:
      m.gbt_.fit(z, ts, c, seed, abs ? &s : nullptr);
      break;
  }
  return m;
}

VectorXd LatencyModel::predict(const MatrixXd& x) const {
  const MatrixXd z = inputs(x);
  VectorXd ts;
  switch (config_.kind) {
    case ModelKind::kRidge:
      ts = ridge_.predict(z);
      break;
    case ModelKind::kMlp:
      ts = mlp_.predict(z);
      break;
    case ModelKind::kGbt:
      ts = gbt_.predict(z);
      break;
  }
  VectorXd t = (ts.array() * t_scale_ + t_mean_).matrix();
  if (config_.log_target) t = t.array().exp();
  return t;
}

std::string LatencyModel::target_name() const {
  std::string s;
  for (const auto& t : targets) s += (s.empty() ? "" : "+") + t;
  return s;
}

namespace {

nlohmann::json vec(const Eigen::Ref<const VectorXd>& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

nlohmann::json mat(const MatrixXd& m) {  // rows
  nlohmann::json j = nlohmann::json::array();
  for (Index r = 0; r < m.rows(); ++r) j.push_back(vec(m.row(r).transpose()));
  return j;
}

std::vector<double> reals(const nlohmann::json& j, const char* what) {
  if (!j.is_array()) throw InputError(std::string(what) + " is not a list of numbers");
  std::vector<double> v;
  for (std::size_t i = 0; i < j.size(); ++i)
    v.push_back(json_real(j[i], std::string(what) + "[" + std::to_string(i) + "]"));
  return v;
}

// Node indices and feature numbers: a wrapped 2^32 + 1 must not pass as node 1.
std::vector<int> ints(const nlohmann::json& j, const char* what) {
  if (!j.is_array()) throw InputError(std::string(what) + " is not a list of integers");
  std::vector<int> v;
  for (std::size_t i = 0; i < j.size(); ++i)
    v.push_back(json_integer<int>(j[i], std::string(what) + "[" + std::to_string(i) + "]"));
  return v;
}

VectorXd get_vec(const nlohmann::json& j, const char* what, Index n = -1) {
  const auto v = reals(j, what);
  if (n >= 0 && static_cast<Index>(v.size()) != n)
    throw InputError(std::string(what) + " has " + std::to_string(v.size()) +
                     " entries, expected " + std::to_string(n));
  return Eigen::Map<const VectorXd>(v.data(), static_cast<Index>(v.size()));
}

MatrixXd get_mat(const nlohmann::json& j, Index rows, Index cols, const char* what) {
  if (!j.is_array() || static_cast<Index>(j.size()) != rows)
    throw InputError(std::string(what) + " must have " + std::to_string(rows) + " rows");
  MatrixXd m(rows, cols);
  for (Index r = 0; r < rows; ++r) m.row(r) = get_vec(j[static_cast<std::size_t>(r)], what, cols);
  return m;
}

}  // namespace

nlohmann::json LatencyModel::to_json() const {
  nlohmann::json j;
  j["format"] = "flexnas-latency-model";
  j["version"] = kVersion;
  j["kind"] = to_string(config_.kind);
  j["config"] = config_.to_json();
  j["features"] = features;
  j["targets"] = targets;
  j["target"] = target_name();
  j["unit"] = unit;
  j["input_scaler"] = {{"mean", vec(in_.mean.transpose())}, {"scale", vec(in_.scale.transpose())}};
  j["target_scaler"] = {{"log", config_.log_target}, {"mean", t_mean_}, {"scale", t_scale_}};
  nlohmann::json p;
  switch (config_.kind) {
    case ModelKind::kRidge:
      p = {{"quadratic", config_.quadratic}, {"weights", vec(ridge_.w)}, {"intercept", ridge_.b}};
      break;
    case ModelKind::kMlp:
      p["layers"] = nlohmann::json::array();
      for (std::size_t l = 0; l < mlp_.w.size(); ++l)
        p["layers"].push_back({{"w", mat(mlp_.w[l])}, {"b", vec(mlp_.b[l].transpose())}});
      break;
    case ModelKind::kGbt:
      p["base"] = gbt_.base;
      p["trees"] = nlohmann::json::array();
      for (const auto& t : gbt_.trees)
        p["trees"].push_back({{"feature", t.feature},
                              {"threshold", t.threshold},
                              {"left", t.left},
                              {"right", t.right},
                              {"value", t.value}});
      break;
  }
  j["params"] = p;
  j["scores"] = scores;
  return j;
}

LatencyModel LatencyModel::from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& why) { return InputError(where + ": " + why); };
  if (!j.is_object() || !j.contains("format") || j.at("format") != "flexnas-latency-model")
    throw bad("not a flexnas latency model (no \"format\": \"flexnas-latency-model\")");
  if (!j.contains("version") || !j["version"].is_number_integer())
    throw bad("latency model without an integer \"version\"");
  if (j["version"].get<std::int64_t>() != kVersion)
    throw bad("latency model version " + j["version"].dump() +
              " is not supported (this flexnas reads version " + std::to_string(kVersion) + ")");
  LatencyModel m;
  try {
    m.config_ = ModelConfig::from_json(j.at("config"));
    m.features = j.at("features").get<std::vector<std::string>>();
    m.targets = j.at("targets").get<std::vector<std::string>>();
    m.unit = j.value("unit", std::string("ms"));
    const auto d = static_cast<Index>(m.features.size());
    if (d == 0) throw InputError("no features");
    if (m.targets.empty()) throw InputError("no targets");
    m.in_.mean = get_vec(j.at("input_scaler").at("mean"), "input_scaler.mean", d).transpose();
    m.in_.scale = get_vec(j.at("input_scaler").at("scale"), "input_scaler.scale", d).transpose();
    m.t_mean_ = json_real(j.at("target_scaler").at("mean"), "target_scaler.mean");
    m.t_scale_ = json_real(j.at("target_scaler").at("scale"), "target_scaler.scale");
    const auto& p = j.at("params");
    switch (m.config_.kind) {
      case ModelKind::kRidge: {
        const Index k = m.config_.quadratic ? d + d * (d + 1) / 2 : d;
        m.ridge_.w = get_vec(p.at("weights"), "params.weights", k);
        m.ridge_.b = json_real(p.at("intercept"), "params.intercept");
        break;
      }
      case ModelKind::kMlp: {
        Index in = d;
        const auto& layers = p.at("layers");
        if (!layers.is_array() || layers.empty()) throw InputError("params.layers is empty");
        for (std::size_t l = 0; l < layers.size(); ++l) {
          const auto bias = get_vec(layers[l].at("b"), "params.layers.b");
          const Index out = bias.size();
          if (l + 1 == layers.size() && out != 1)
            throw InputError("the last layer must have one output");
          m.mlp_.w.push_back(get_mat(layers[l].at("w"), in, out, "params.layers.w"));
          m.mlp_.b.push_back(bias.transpose());
          in = out;
        }
        break;
      }
      case ModelKind::kGbt: {
        m.gbt_.base = json_real(p.at("base"), "params.base");
        for (const auto& tj : p.at("trees")) {
          detail::Tree t;
          t.feature = ints(tj.at("feature"), "params.trees.feature");
          t.threshold = reals(tj.at("threshold"), "params.trees.threshold");
          t.left = ints(tj.at("left"), "params.trees.left");
          t.right = ints(tj.at("right"), "params.trees.right");
          t.value = reals(tj.at("value"), "params.trees.value");
          const std::size_t nn = t.feature.size();
          if (nn == 0 || t.threshold.size() != nn || t.left.size() != nn || t.right.size() != nn ||
              t.value.size() != nn)
            throw InputError("a tree's node arrays differ in length");
          // Children must point forward, so every walk ends at a leaf.
          for (std::size_t i = 0; i < nn; ++i) {
            if (t.feature[i] < 0) continue;
            if (t.feature[i] >= d || t.left[i] <= static_cast<int>(i) ||
                t.right[i] <= static_cast<int>(i) || t.left[i] >= static_cast<int>(nn) ||
                t.right[i] >= static_cast<int>(nn))
              throw InputError("tree node " + std::to_string(i) + " is malformed");
          }
          m.gbt_.trees.push_back(std::move(t));
        }
        break;
      }
    }
    m.scores = j.value("scores", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("malformed latency model: ") + e.what());
  } catch (const InputError& e) {
    throw bad(std::string("malformed latency model: ") + e.what());
  }
  return m;
}

void LatencyModel::save(const std::string& path) const {
  write_file_atomic(path, to_json().dump(1) + "\n");
}

LatencyModel LatencyModel::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read model file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    throw InputError(path + ": malformed JSON (not a latency model file)");
  }
  return from_json(j, path);
}

// ---- selection ------------------------------------------------------------------------------

std::pair<std::vector<Index>, std::vector<Index>> split_rows(std::size_t n, double test_fraction,
                                                             std::uint64_t seed) {
  const auto p = permutation(n, mix(seed, 10));
  const auto n_test =
      static_cast<std::size_t>(std::llround(test_fraction * static_cast<double>(n)));
  std::vector<Index> test(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n_test));
  std::vector<Index> train(p.begin() + static_cast<std::ptrdiff_t>(n_test), p.end());
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  return {train, test};
}

MatrixXd take_rows(const MatrixXd& x, const std::vector<Index>& rows) {
  MatrixXd out(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = x.row(rows[i]);
  return out;
}

VectorXd take_rows(const VectorXd& y, const std::vector<Index>& rows) {
  VectorXd out(static_cast<Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) out(static_cast<Index>(i)) = y(rows[i]);
  return out;
}

std::vector<CvScore> cross_validate(const MatrixXd& x, const VectorXd& y,
                                    const std::vector<ModelConfig>& grid, int folds,
                                    std::uint64_t seed, const Progress& progress) {
  const auto n = static_cast<std::size_t>(x.rows());
  const auto k = static_cast<std::size_t>(std::clamp<int>(folds, 2, static_cast<int>(n)));
  const auto p = permutation(n, mix(seed, 20));
  std::vector<std::vector<Index>> train(k), test(k);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < k; ++f) (i % k == f ? test : train)[f].push_back(p[i]);
  // preds[c] holds every row's out-of-fold prediction under configuration c.
  std::vector<VectorXd> preds(grid.size(), VectorXd::Zero(x.rows()));
  std::atomic<std::size_t> done{0};
  std::mutex mu;
  const std::size_t tasks = grid.size() * k;
  // MLP fits first: they are the slow ones, so the pool stays busy to the end.
  std::vector<std::size_t> order(tasks);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return (grid[a / k].kind == ModelKind::kMlp) > (grid[b / k].kind == ModelKind::kMlp);
  });
  tbb::parallel_for(std::size_t{0}, tasks, [&](std::size_t ti) {
    const std::size_t task = order[ti];
    const std::size_t c = task / k, f = task % k;
    const auto m = LatencyModel::train(take_rows(x, train[f]), take_rows(y, train[f]), grid[c],
                                       mix(seed, 100 + f));
    const VectorXd pr = m.predict(take_rows(x, test[f]));
    for (std::size_t i = 0; i < test[f].size(); ++i)
      preds[c](test[f][i]) = pr(static_cast<Index>(i));
    const auto d = ++done;
    if (progress) {
      std::lock_guard<std::mutex> lock(mu);
      progress("cross-validation", d, tasks);
    }
  });
  std::vector<CvScore> out;
  for (std::size_t c = 0; c < grid.size(); ++c)
    out.push_back({grid[c], mape(y, preds[c]), rmse(y, preds[c])});
  return out;
}

KfoldReport kfold_report(const MatrixXd& x, const VectorXd& y, const MatrixXd& xbase,
                         const std::vector<ModelConfig>& grid_in, int folds, std::uint64_t seed,
                         const Progress& progress) {
  const auto n = static_cast<std::size_t>(x.rows());
  if (n < 4) throw InputError("k-fold report: " + std::to_string(n) + " rows are too few");
  const bool positive = (y.array() > 0).all();
  std::vector<ModelConfig> grid;
  for (const auto& c : grid_in)
    if (!c.log_target || positive) grid.push_back(c);
  if (grid.empty()) throw InputError("no model to try (log-target models need positive targets)");
  std::vector<ModelKind> kinds;
  for (const auto& c : grid)
    if (std::find(kinds.begin(), kinds.end(), c.kind) == kinds.end()) kinds.push_back(c.kind);
  const auto k = static_cast<std::size_t>(std::clamp<int>(folds, 2, static_cast<int>(n)));
  const auto p = permutation(n, mix(seed, 30));
  VectorXd base = VectorXd::Zero(x.rows()), sel = base;
  std::vector<VectorXd> per_kind(kinds.size(), base);
  KfoldReport rep;
  rep.folds = static_cast<int>(k);
  ModelConfig ols;
  ols.lambda = 0;
  for (std::size_t f = 0; f < k; ++f) {
    std::vector<Index> train, test;
    for (std::size_t i = 0; i < n; ++i) (i % k == f ? test : train).push_back(p[i]);
    const MatrixXd xtr = take_rows(x, train), xte = take_rows(x, test);
    const VectorXd ytr = take_rows(y, train);
    auto put = [&](VectorXd& into, const VectorXd& pr) {
      for (std::size_t i = 0; i < test.size(); ++i) into(test[i]) = pr(static_cast<Index>(i));
    };
    put(base,
        LatencyModel::train(take_rows(xbase, train), ytr, ols, 0).predict(take_rows(xbase, test)));
    const auto cv = cross_validate(xtr, ytr, grid, static_cast<int>(k), mix(seed, 40 + f));
    std::size_t best = 0;
    for (std::size_t c = 1; c < cv.size(); ++c)
      if (cv[c].mape < cv[best].mape) best = c;
    for (std::size_t q = 0; q < kinds.size(); ++q) {
      std::size_t b = grid.size();
      for (std::size_t c = 0; c < cv.size(); ++c)
        if (grid[c].kind == kinds[q] && (b == grid.size() || cv[c].mape < cv[b].mape)) b = c;
      const VectorXd pr = LatencyModel::train(xtr, ytr, grid[b], mix(seed, 1000 + f)).predict(xte);
      put(per_kind[q], pr);
      if (b == best) put(sel, pr);
    }
    rep.selected.push_back(grid[best].label());
    if (progress) progress("k-fold", f + 1, k);
  }
  rep.baseline_mape = mape(y, base);
  rep.selected_mape = mape(y, sel);
  for (std::size_t q = 0; q < kinds.size(); ++q)
    rep.kinds.emplace_back(to_string(kinds[q]), mape(y, per_kind[q]));
  return rep;
}

FitReport fit(const Table& t, const std::vector<std::string>& targets,
              std::vector<std::string> features, const FitOptions& o) {
  FitReport rep;
  if (targets.empty()) throw InputError("no target column");
  for (const auto& y : targets)
    if (t.index(y) < 0) throw InputError(t.path + ": no column '" + y + "' (the target)");
  if (features.empty()) {
    features = default_features(t, targets, &rep.excluded);
    if (features.empty())
      throw InputError(t.path + ": no numeric feature columns besides the target");
  }
  for (const auto& f : features)
    if (std::find(targets.begin(), targets.end(), f) != targets.end())
      throw InputError("column '" + f + "' is both a feature and the target");
  if (!(o.test_fraction >= 0 && o.test_fraction < 1))
    throw InputError("--test-fraction " + fmt(o.test_fraction) + " is not in [0, 1)");
  const MatrixXd x = t.matrix(features);
  const VectorXd y = t.matrix(targets).rowwise().sum();
  const auto [train, test] = split_rows(t.rows(), o.test_fraction, o.seed);
  const auto folds = static_cast<std::size_t>(std::max(2, o.folds));
  const std::size_t need = std::max<std::size_t>(10, 2 * folds);
  if (train.size() < need || (o.test_fraction > 0 && test.empty()))
    throw InputError(t.path + ": " + std::to_string(t.rows()) + " data rows leave " +
                     std::to_string(train.size()) + " for training and " +
                     std::to_string(test.size()) + " for testing; fitting needs at least " +
                     std::to_string(need) + " training rows and one test row");
  const MatrixXd xtr = take_rows(x, train), xte = take_rows(x, test);
  const VectorXd ytr = take_rows(y, train), yte = take_rows(y, test);
  rep.n_train = train.size();
  rep.n_test = test.size();

  std::vector<ModelConfig> grid;
  const bool positive = (ytr.array() > 0).all();
  for (const auto& c : o.grid)
    if (!c.log_target || positive) grid.push_back(c);
  if (grid.empty()) throw InputError("no model to try (log-target models need positive targets)");
  rep.cv = cross_validate(xtr, ytr, grid, static_cast<int>(folds), o.seed, o.progress);
  rep.best = 0;
  for (std::size_t c = 1; c < rep.cv.size(); ++c)
    if (rep.cv[c].mape < rep.cv[rep.best].mape) rep.best = c;
  rep.model = LatencyModel::train(xtr, ytr, grid[rep.best], mix(o.seed, 1000));
  rep.model.features = features;
  rep.model.targets = targets;

  ModelConfig ols;
  ols.lambda = 0;
  const auto base = LatencyModel::train(xtr, ytr, ols, 0);
  const VectorXd pred = rep.model.predict(xte), bpred = base.predict(xte);
  rep.test_mape = mape(yte, pred);
  rep.test_rmse = rmse(yte, pred);
  rep.baseline_mape = mape(yte, bpred);
  rep.baseline_rmse = rmse(yte, bpred);

  auto num = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  nlohmann::json cv = nlohmann::json::array();
  for (const auto& s : rep.cv)
    cv.push_back({{"model", s.config.label()}, {"mape", s.mape}, {"rmse", s.rmse}});
  rep.model.scores = {{"selected", grid[rep.best].label()},
                      {"cv_folds", folds},
                      {"cv", cv},
                      {"seed", o.seed},
                      {"test_fraction", o.test_fraction},
                      {"n_train", rep.n_train},
                      {"n_test", rep.n_test},
                      {"test_mape", num(rep.test_mape)},
                      {"test_rmse", num(rep.test_rmse)},
                      {"baseline_test_mape", num(rep.baseline_mape)},
                      {"baseline_test_rmse", num(rep.baseline_rmse)}};
  if (o.progress) o.progress("final fit", 1, 1);
  return rep;
}

}  // namespace flexnas::latency
