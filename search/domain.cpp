#include "search/domain.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"

namespace flexnas {

SearchDomain::SearchDomain(DesignSpace space) : space_(std::move(space)) {}

SearchDomain::SearchDomain(std::vector<Architecture> pool, std::optional<DesignSpace> space,
                           std::uint64_t seed)
    : space_(space ? std::move(*space) : infer_space(pool)) {
  if (pool.empty()) throw InputError("the pool holds no architectures");
  std::set<std::string> keys;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    auto a = pool[i].canonical();
    try {
      space_.validate(a);
    } catch (const InputError& e) {
      throw InputError("pool model " + std::to_string(i + 1) + ": " + e.what());
    }
    auto k = key(a);
    if (!keys.insert(k).second) continue;  // the same network twice: keep the first
    pool_row_.emplace(k, pool_.size());
    pool_.push_back(std::move(a));
    pool_keys_.push_back(std::move(k));
  }
  embedding_ = std::make_shared<LazyEmbedding>();
  EmbeddingOptions& opt = embedding_->options;
  opt.seed = seed;
  opt.landmarks = std::min<int>(opt.landmarks, static_cast<int>(pool_.size()));
  opt.dim = std::min<int>(opt.dim, std::max(1, static_cast<int>(pool_.size()) - 1));
}

const Embedding* SearchDomain::embedding() const {
  if (!embedding_) return nullptr;
  std::call_once(embedding_->once, [this] {
    embedding_->embedding =
        std::make_unique<const Embedding>(Embedding::fit(pool_, space_, embedding_->options));
  });
  return embedding_->embedding.get();
}

std::vector<std::size_t> SearchDomain::unseen_pool_members() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < pool_keys_.size(); ++i)
    if (!seen(pool_keys_[i])) out.push_back(i);
  return out;
}

std::ptrdiff_t SearchDomain::pool_index(const std::string& key) const {
  auto it = pool_row_.find(key);
  return it == pool_row_.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
}

std::string SearchDomain::key(const Architecture& a) const {
  return graph_hash(a, space_.label_form());
}

bool SearchDomain::claim(const Architecture& a) {
  return seen_.insert(key(a)).second;
}

std::size_t SearchDomain::remaining() const {
  if (!is_pool()) return std::numeric_limits<std::size_t>::max();
  std::size_t n = 0;
  for (const auto& k : pool_keys_) n += !seen(k);
  return n;
}

std::optional<Architecture> SearchDomain::sample(Rng& rng) const {
  if (!is_pool()) {
    for (int t = 0; t < 1000; ++t) {
      auto a = space_.sample(rng);
      if (!seen(key(a))) return a;
    }
    return std::nullopt;
  }
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < pool_.size(); ++i)
    if (!seen(pool_keys_[i])) free.push_back(i);
  if (free.empty()) return std::nullopt;
  return pool_[free[std::uniform_int_distribution<std::size_t>(0, free.size() - 1)(rng)]];
}

std::optional<Architecture> SearchDomain::snap(const Architecture& a, Rng& rng) const {
  if (!is_pool()) {
    if (!seen(key(a))) return a;
    return std::nullopt;
  }
  const auto k = key(a);
  if (const auto i = pool_index(k); i >= 0)
    return seen(k) ? std::nullopt : std::optional<Architecture>(pool_[static_cast<std::size_t>(i)]);
  // Not in the pool: the nearest unproposed member in the embedding.
  const Embedding& e = *embedding();
  const Eigen::VectorXd x = e.embed(a);
  double best = std::numeric_limits<double>::infinity();
  std::size_t arg = pool_.size();
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (seen(pool_keys_[i])) continue;
    const double d = (e.points().row(static_cast<Eigen::Index>(i)).transpose() - x).squaredNorm();
    if (d < best) {
      best = d;
      arg = i;
    }
  }
  (void)rng;
  if (arg == pool_.size()) return std::nullopt;
  return pool_[arg];
}

std::optional<Architecture> SearchDomain::mutate(const Architecture& a, Rng& rng) const {
  for (int t = 0; t < 20; ++t) {
    auto m = snap(space_.mutate(a, rng), rng);
    if (m) return m;
  }
  return sample(rng);
}

std::optional<Architecture> SearchDomain::crossover(const Architecture& a, const Architecture& b,
                                                    Rng& rng) const {
  for (int t = 0; t < 20; ++t) {
    auto c = snap(space_.crossover(a, b, rng), rng);
    if (c) return c;
  }
  return sample(rng);
}

DesignSpace SearchDomain::infer_space(const std::vector<Architecture>& pool) {
  if (pool.empty()) throw InputError("the pool holds no architectures");
  DesignSpace s;
  s.name = "pool";
  s.attn_kernels.clear();
  s.activations.clear();
  s.norms.clear();
  s.placements.clear();
  auto add = [](auto& v, const auto& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  for (const auto& a : pool) {
    add(s.layers, a.num_layers());
    for (const auto& L : a.layers) {
      add(s.hidden, L.hidden);
      add(s.heads, L.num_heads());
      if (L.hidden % L.num_heads()) s.head_size_floor = true;  // FlexiBERT 2.0 pool
      s.hetero = s.hetero || !L.homogeneous();
      for (const auto& h : L.heads) {
        auto it = std::find_if(s.operations.begin(), s.operations.end(),
                               [&](const OperationChoice& c) { return c.family == h.family(); });
        if (it == s.operations.end())
          s.operations.push_back({h.family(), {h.param()}});
        else
          add(it->params, h.param());
      }
      add(s.ff_depth, static_cast<int>(L.ff.size()));
      for (int w : L.ff) add(s.ff_width, w);
      s.mixed_ff = s.mixed_ff || std::adjacent_find(L.ff.begin(), L.ff.end(),
                                                    std::not_equal_to<>()) != L.ff.end();
      if (L.has_attention()) add(s.attn_kernels, L.attn_kernel);
      add(s.activations, L.activation);
      add(s.norms, L.norm);
      add(s.placements, L.norm_placement);
    }
  }
  if (s.attn_kernels.empty()) s.attn_kernels.push_back(AttnKernel::kSoftmax);
  for (auto* v : {&s.layers, &s.hidden, &s.heads, &s.ff_depth, &s.ff_width})
    std::sort(v->begin(), v->end());
  s.check();
  return s;
}

}  // namespace flexnas
