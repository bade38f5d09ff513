#pragma once
// Transformer2vec: a distance-preserving embedding of architectures (docs/embedding.md).
// Euclidean distance between embeddings follows graph edit distance. The fit needs no
// N x N matrix: landmarks (farthest-point), landmark MDS for a start, then stochastic
// stress minimisation over landmark distances and sampled pairs. New architectures are
// embedded out of sample from their distances to the landmarks.
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <Eigen/Dense>

#include "space/design_space.hpp"
#include "space/ged.hpp"

namespace flexnas {

struct EmbeddingOptions {
  int dim = 16;              // embedding dimension
  int landmarks = 64;        // number of landmark architectures
  int pairs_per_point = 16;  // random partners per point for the stress refinement
  int epochs = 30;           // passes of stochastic stress minimisation
  std::uint64_t seed = 1;
  GedOptions ged{GedMethod::kBipartite};
  // Called with (stage, done, total); the library prints nothing itself. Stages:
  // "landmarks", "pairs", "refine". Always called from the calling thread.
  std::function<void(const std::string&, std::size_t, std::size_t)> progress;
};

struct EmbeddingQuality {
  double stress = 0;    // sqrt(sum (d_emb - d_ged)^2 / sum d_ged^2) over the pairs
  double spearman = 0;  // rank correlation of embedding distance with GED
  std::size_t pairs = 0;
};

// Reference distances for Embedding::quality: exact search (kAuto), with a budget of 10^4
// search nodes per pair so that 2,000 pairs take a minute or two on 2 cores. Graphs of up
// to ~23 nodes are solved to optimality well within it; for larger ones the result is the
// best edit path found, a few per cent below the bipartite bound (docs/embedding.md).
inline constexpr GedOptions kQualityReference{GedMethod::kAuto, 40, 10'000};

class Embedding {
 public:
  // Embeds `archs` (all from `space`). Deterministic for a given seed and input,
  // whatever the number of threads. Throws InputError for bad options or architectures.
  static Embedding fit(const std::vector<Architecture>& archs, const DesignSpace& space,
                       const EmbeddingOptions& opt = {});
  // Out-of-sample embedding from the distances to the landmarks.
  Eigen::VectorXd embed(const Architecture& a) const;
  // Rows of out-of-sample embeddings, distances computed in parallel.
  Eigen::MatrixXd embed(const std::vector<Architecture>& archs) const;
  const Eigen::MatrixXd& points() const { return points_; }  // N x dim, rows in input order
  const std::vector<Architecture>& architectures() const { return archs_; }
  const std::vector<std::size_t>& landmarks() const { return landmark_index_; }
  const EmbeddingOptions& options() const { return opt_; }
  const DesignSpace& space() const { return space_; }
  int dim() const { return static_cast<int>(points_.cols()); }
  // Stress and Spearman against GED (`reference`) on `pairs` random pairs of `archs`
  // (embedded out of sample unless they are in the fitted set, found by graph hash).
  EmbeddingQuality quality(const std::vector<Architecture>& archs, std::size_t pairs,
                           std::uint64_t seed,
                           const GedOptions& reference = kQualityReference) const;

  // JSON file: space YAML, options, landmark indices, architectures (model dicts) and
  // their coordinates. Written atomically; save -> load -> save gives the same file.
  void save(const std::string& path) const;
  // Throws InputError with a one-line message naming the file for a bad file.
  static Embedding load(const std::string& path);

 private:
  void index_fitted();  // builds costs_, landmark_graphs_ and row_of_hash_

  DesignSpace space_;
  OpCosts costs_;
  EmbeddingOptions opt_;
  std::vector<Architecture> archs_;
  Eigen::MatrixXd points_;
  std::vector<std::size_t> landmark_index_;  // rows of points_ that are landmarks
  std::vector<CostGraph> landmark_graphs_;
  std::unordered_map<std::string, std::size_t> row_of_hash_;
};

// Naive vector encoding (baseline): per layer hidden, heads, one-hot operation and
// parameter, feed-forward depth and mean width, extensions; zero-padded to the space's
// deepest architecture, each feature scaled to [0, 1].
Eigen::VectorXd naive_encoding(const Architecture& a, const DesignSpace& space);

// Spearman rank correlation; ties get their average rank. 0 when either side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// The numerical pieces of the fit, exposed for tests.
namespace detail {

// Classical (Torgerson) MDS of a symmetric distance matrix, and what landmark MDS needs.
struct ClassicalMds {
  Eigen::MatrixXd coords;   // L x dim; dimensions without positive eigenvalue are 0
  Eigen::MatrixXd pinv;     // dim x L: rows v_k / sqrt(lambda_k) (de Silva & Tenenbaum's L#)
  Eigen::VectorXd mean_sq;  // L: column means of the squared distances
};
ClassicalMds classical_mds(const Eigen::MatrixXd& dist, int dim);

// Landmark MDS (de Silva & Tenenbaum 2004): rows of `dist_to_landmarks` (N x L, plain
// distances) placed as -1/2 L# (delta - mean_sq).
Eigen::MatrixXd lmds_triangulate(const ClassicalMds& mds, const Eigen::MatrixXd& dist_to_landmarks);

// One point from its distances to fixed landmarks (L x dim): linear least-squares
// triangulation, then Levenberg-Marquardt steps on sum_a w_a (|y - x_a| - d_a)^2 with
// w_a = d_a^-weight_exponent.
Eigen::VectorXd place_point(const Eigen::MatrixXd& landmarks, const Eigen::VectorXd& dist,
                            double weight_exponent, int iterations = 30);

struct StressTerm {
  std::uint32_t i, j;
  double d;
};

struct SgdSchedule {
  int epochs = 30;
  double weight_exponent = 1;  // w = d^-weight_exponent (Zheng et al. use 2)
  double eps = 0.01;           // final step cap eta_min * w_max
  std::uint64_t seed = 1;
};

// Stochastic stress minimisation (Zheng, Pawar & Goodman 2018, "Graph drawing by
// stochastic gradient descent"): terms in a shuffled order each epoch, step
// min(1, eta w) with eta annealed exponentially from 1 / w_min to eps / w_max.
// Rows with fixed[i] set do not move. `epoch_done` (may be empty) after each epoch.
void stress_sgd(Eigen::MatrixXd& x, std::vector<StressTerm> terms, const std::vector<char>& fixed,
                const SgdSchedule& schedule, const std::function<void(int)>& epoch_done = {});

// Stress sqrt(sum (|x_i - x_j| - d)^2 / sum d^2) of a configuration over `terms`.
double raw_stress(const Eigen::MatrixXd& x, const std::vector<StressTerm>& terms);

}  // namespace detail

}  // namespace flexnas
