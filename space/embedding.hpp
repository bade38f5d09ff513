#pragma once
// Transformer2vec: a distance-preserving embedding of architectures (docs/embedding.md).
// Euclidean distance between embeddings follows graph edit distance. The fit needs no
// N x N matrix: landmarks (farthest-point), landmark MDS for a start, then stochastic
// stress minimisation over landmark distances and sampled pairs. New architectures are
// embedded out of sample from their distances to the landmarks.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "space/design_space.hpp"
#include "space/ged.hpp"

namespace flexnas {

struct EmbeddingOptions {
  int dim = 16;                 // embedding dimension
  int landmarks = 64;           // number of landmark architectures
  int pairs_per_point = 16;     // random partners per point for the stress refinement
  int epochs = 30;              // passes of stochastic stress minimisation
  std::uint64_t seed = 1;
  GedOptions ged{GedMethod::kBipartite};
  // Called with (stage, done, total); the library prints nothing itself.
  std::function<void(const std::string&, std::size_t, std::size_t)> progress;
};

struct EmbeddingQuality {
  double stress = 0;    // sqrt(sum (d_emb - d_ged)^2 / sum d_ged^2) over the pairs
  double spearman = 0;  // rank correlation of embedding distance with GED
  std::size_t pairs = 0;
};

class Embedding {
 public:
  // Embeds `archs` (all from `space`). Deterministic for a given seed and input.
  static Embedding fit(const std::vector<Architecture>& archs, const DesignSpace& space,
                       const EmbeddingOptions& opt = {});
  // Out-of-sample embedding from the distances to the landmarks.
  Eigen::VectorXd embed(const Architecture& a) const;
  const Eigen::MatrixXd& points() const { return points_; }  // N x dim, rows in input order
  const std::vector<Architecture>& architectures() const { return archs_; }
  int dim() const { return static_cast<int>(points_.cols()); }
  // Stress and Spearman against GED on `pairs` random pairs of `archs` (embedded out of
  // sample unless they are in the fitted set).
  EmbeddingQuality quality(const std::vector<Architecture>& archs, std::size_t pairs,
                           std::uint64_t seed) const;

  // JSON file: space YAML, options, landmarks (model dicts + coordinates), points.
  void save(const std::string& path) const;
  static Embedding load(const std::string& path);

 private:
  DesignSpace space_;
  OpCosts costs_;
  EmbeddingOptions opt_;
  std::vector<Architecture> archs_;
  Eigen::MatrixXd points_;
  std::vector<std::size_t> landmark_index_;  // rows of points_ that are landmarks
};

// Naive vector encoding (baseline): per layer hidden, heads, one-hot operation and
// parameter, feed-forward depth and mean width, extensions; zero-padded to the space's
// deepest architecture, each feature scaled to [0, 1].
Eigen::VectorXd naive_encoding(const Architecture& a, const DesignSpace& space);

double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace flexnas
