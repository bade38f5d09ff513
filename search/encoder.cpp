#include "search/encoder.hpp"

#include <cmath>

#include "core/error.hpp"
#include "space/model_stats.hpp"

namespace flexnas {

CandidateEncoder::CandidateEncoder(const SearchDomain& domain, std::string encoding,
                                   std::uint64_t seed, const std::string& who)
    : domain_(domain), encoding_(std::move(encoding)), seed_(seed) {
  const std::string suffix = "+stats";
  if (encoding_.size() > suffix.size() &&
      encoding_.compare(encoding_.size() - suffix.size(), suffix.size(), suffix) == 0) {
    stats_ = true;
    base_ = encoding_.substr(0, encoding_.size() - suffix.size());
  } else {
    base_ = encoding_;
  }
  if (base_ != "embedding" && base_ != "naive")
    throw InputError(who + ": encoding=" + encoding_ +
                     " is not embedding, naive, embedding+stats or naive+stats");
}

// The embedding (and so the dimension) on first use, not in the constructor: creating a
// policy from its spec string stays cheap (the CLI checks every option before a search
// starts, and the spec-string fuzz target creates thousands).
void CandidateEncoder::prepare() {
  if (dim_ > 0) return;
  const Eigen::Index extra = stats_ ? kStatsColumns : 0;
  if (base_ == "naive") {
    Rng probe(0);
    dim_ = naive_encoding(domain_.space().sample(probe), domain_.space()).size() + extra;
    return;
  }
  if (!domain_.is_pool()) {
    // A design space has no fitted embedding: fit one on a uniform sample.
    Rng r(seed_ ^ 0x9e3779b97f4a7c15ULL);
    std::vector<Architecture> sample;
    for (int i = 0; i < 400; ++i) sample.push_back(domain_.space().sample(r));
    EmbeddingOptions eo;
    eo.seed = seed_;
    space_embedding_ =
        std::make_shared<const Embedding>(Embedding::fit(sample, domain_.space(), eo));
    dim_ = space_embedding_->dim() + extra;
  } else {
    dim_ = domain_.embedding()->dim() + extra;
  }
}

// log parameters, log FLOPs and depth: what a model's size says about its accuracy and cost,
// which a distance-preserving embedding spreads over many coordinates.
Eigen::VectorXd CandidateEncoder::stats_columns(const Architecture& a) {
  const ModelStats s = model_stats(a);
  Eigen::VectorXd v(kStatsColumns);
  v << std::log(static_cast<double>(s.params)), std::log(std::max(1.0, s.flops)),
      static_cast<double>(a.layers.size());
  return v;
}

Eigen::VectorXd CandidateEncoder::encode(const Architecture& a) {
  return encode(std::vector<Architecture>{a}).row(0);
}

Eigen::MatrixXd CandidateEncoder::encode(const std::vector<Architecture>& archs) {
  prepare();
  const Eigen::Index base_dim = dim_ - (stats_ ? kStatsColumns : 0);
  Eigen::MatrixXd x(static_cast<Eigen::Index>(archs.size()), dim_);
  std::vector<std::string> keys(archs.size());
  std::vector<Architecture> todo;
  std::vector<std::size_t> todo_rows;
  for (std::size_t i = 0; i < archs.size(); ++i) {
    keys[i] = domain_.key(archs[i]);
    auto it = cache_.find(keys[i]);
    if (it != cache_.end()) {
      x.row(static_cast<Eigen::Index>(i)) = it->second;
      continue;
    }
    if (stats_) x.row(static_cast<Eigen::Index>(i)).tail(kStatsColumns) = stats_columns(archs[i]);
    if (base_ == "naive") {
      x.row(static_cast<Eigen::Index>(i)).head(base_dim) =
          naive_encoding(archs[i], domain_.space());
    } else if (domain_.is_pool() && domain_.pool_index(keys[i]) >= 0) {
      x.row(static_cast<Eigen::Index>(i)).head(base_dim) =
          domain_.embedding()->points().row(domain_.pool_index(keys[i]));
    } else {
      todo.push_back(archs[i]);
      todo_rows.push_back(i);
      continue;
    }
    cache_.emplace(keys[i], x.row(static_cast<Eigen::Index>(i)).transpose());
  }
  if (!todo.empty()) {
    const Embedding& e = domain_.is_pool() ? *domain_.embedding() : *space_embedding_;
    const Eigen::MatrixXd rows = e.embed(todo);
    for (std::size_t k = 0; k < todo.size(); ++k) {
      const auto i = todo_rows[k];
      x.row(static_cast<Eigen::Index>(i)).head(base_dim) = rows.row(static_cast<Eigen::Index>(k));
      cache_.emplace(keys[i], x.row(static_cast<Eigen::Index>(i)).transpose());
    }
  }
  return x;
}

void CandidateEncoder::append(const Architecture& a, Eigen::MatrixXd& rows) {
  const Eigen::RowVectorXd row = encode(a).transpose();
  rows.conservativeResize(rows.rows() + 1, row.size());
  rows.row(rows.rows() - 1) = row;
}

Eigen::MatrixXd CandidateEncoder::encode_pool(const std::vector<std::size_t>& members) {
  if (pool_x_.rows() == 0) pool_x_ = encode(domain_.pool());
  Eigen::MatrixXd x(static_cast<Eigen::Index>(members.size()), dim_);
  for (std::size_t i = 0; i < members.size(); ++i)
    x.row(static_cast<Eigen::Index>(i)) = pool_x_.row(static_cast<Eigen::Index>(members.at(i)));
  return x;
}

}  // namespace flexnas
