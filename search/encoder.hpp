#pragma once
// CandidateEncoder: the vectors surrogate-based policies learn on. "embedding" is the
// Transformer2vec embedding (the pool's rows in pool mode; in a design space, an embedding
// fitted on a seeded uniform sample with out-of-sample embedding of new candidates);
// "naive" is the one-hot/ordinal layer encoding; either with "+stats" appends log parameters,
// log FLOPs and depth. Encodings are cached by graph hash, so a
// candidate met again (a parent, a re-proposed mutation) is embedded once.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <Eigen/Dense>

#include "search/domain.hpp"

namespace flexnas {

class CandidateEncoder {
 public:
  // Throws InputError for an encoding other than "embedding" or "naive" (`who` names the
  // policy in the message). Cheap: the embedding is fitted on the first encode.
  CandidateEncoder(const SearchDomain& domain, std::string encoding, std::uint64_t seed,
                   const std::string& who);
  Eigen::VectorXd encode(const Architecture& a);
  // Appends the encoding of `a` to `rows` as a new last row (the finished trials a policy
  // learns on, encoded once as they are told).
  void append(const Architecture& a, Eigen::MatrixXd& rows);
  // Rows for several architectures; out-of-sample embeddings computed in parallel.
  Eigen::MatrixXd encode(const std::vector<Architecture>& archs);
  // Rows of pool members given by their index in domain.pool() (pool mode only). The whole
  // pool is encoded once, on first use: hashing 10^3 graphs on every ask cost a policy more
  // than fitting its surrogate.
  Eigen::MatrixXd encode_pool(const std::vector<std::size_t>& members);
  const std::string& encoding() const { return encoding_; }

 private:
  static constexpr Eigen::Index kStatsColumns = 3;
  static Eigen::VectorXd stats_columns(const Architecture& a);
  void prepare();  // fits the embedding a design space needs and sets dim_, once
  const SearchDomain& domain_;
  std::string encoding_;
  std::uint64_t seed_ = 0;
  std::string base_;    // embedding or naive
  bool stats_ = false;  // +stats
  std::shared_ptr<const Embedding> space_embedding_;
  Eigen::Index dim_ = 0;  // 0 until prepare()
  std::unordered_map<std::string, Eigen::VectorXd> cache_;
  Eigen::MatrixXd pool_x_;  // encode_pool: every pool member, on first use
};

}  // namespace flexnas
