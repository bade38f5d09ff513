#pragma once
// SearchDomain: where candidates come from — a design space, or a finite pool of
// architectures (--pool) embedded with Transformer2vec. It also remembers every
// architecture already proposed, so no policy proposes one twice.
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "space/design_space.hpp"
#include "space/embedding.hpp"

namespace flexnas {

class SearchDomain {
 public:
  explicit SearchDomain(DesignSpace space);
  // A pool searched with `space`'s operators (inferred from the pool when absent).
  SearchDomain(std::vector<Architecture> pool, std::optional<DesignSpace> space,
               std::uint64_t seed);

  bool is_pool() const { return !pool_.empty(); }
  const DesignSpace& space() const { return space_; }
  const std::vector<Architecture>& pool() const { return pool_; }
  const std::vector<std::string>& pool_keys() const { return pool_keys_; }
  // Row of the pool (and of the pool's embedding) holding this key, or -1.
  std::ptrdiff_t pool_index(const std::string& key) const;
  // Pool: indices into pool() of the members not yet proposed, in pool order.
  std::vector<std::size_t> unseen_pool_members() const;
  // The pool's Transformer2vec embedding, fitted on first use (a policy that never leaves
  // the pool or encodes candidates, like random, never pays for it); same for every copy.
  const Embedding* embedding() const;

  std::string key(const Architecture& a) const;  // graph hash in the space's label form
  bool seen(const std::string& key) const { return seen_.count(key) > 0; }
  // Records a proposal; false if it was proposed before.
  bool claim(const Architecture& a);
  // Pool: members not yet proposed; space: a large number (spaces are never exhausted here).
  std::size_t remaining() const;

  // Proposals. Pool mode returns unproposed pool members (nearest by embedding when the
  // space operator leaves the pool); returns nullopt when nothing is left.
  std::optional<Architecture> sample(Rng& rng) const;
  std::optional<Architecture> mutate(const Architecture& a, Rng& rng) const;
  std::optional<Architecture> crossover(const Architecture& a, const Architecture& b,
                                        Rng& rng) const;

  // Union of the choices the pool's architectures use.
  static DesignSpace infer_space(const std::vector<Architecture>& pool);

 private:
  std::optional<Architecture> snap(const Architecture& a, Rng& rng) const;

  DesignSpace space_;
  std::vector<Architecture> pool_;
  std::vector<std::string> pool_keys_;
  std::unordered_map<std::string, std::size_t> pool_row_;
  struct LazyEmbedding {
    std::once_flag once;
    EmbeddingOptions options;
    std::unique_ptr<const Embedding> embedding;
  };
  std::shared_ptr<LazyEmbedding> embedding_;  // shared by copies of the domain
  std::set<std::string> seen_;
};

}  // namespace flexnas
