#pragma once
// Graph edit distance under the FlexiBERT cost model (docs/ged.md):
// substituting label a by b costs |index(a) - index(b)| in the space's sorted operation
// list, inserting or deleting a node costs its index, inserting or deleting an edge 0.1.
// Exact search (depth-first branch and bound with an admissible bound) for small graphs,
// a bipartite (Riesen-Bunke) upper bound for large ones, its assignment solved as a
// min-cost flow between node signature classes, and distance
// matrices computed in parallel with TBB.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "space/design_space.hpp"
#include "space/graph.hpp"

namespace flexnas {

// A graph reduced to what edit distance needs: label costs and adjacency.
struct CostGraph {
  std::vector<int> cost;                  // per node: index in the sorted op list
  std::vector<std::vector<int>> out, in;  // adjacency lists
  int num_edges = 0;
  int size() const { return static_cast<int>(cost.size()); }
};

// The sorted operation list of a space: input, output, norms, '', feed-forward nodes, '',
// l ops, '', sa ops, '', c ops ('' are spacers). Index = cost of inserting that label.
class OpCosts {
 public:
  static OpCosts for_space(const DesignSpace& space);
  static OpCosts from_list(std::vector<std::string> sorted_ops);
  const std::vector<std::string>& sorted_ops() const { return ops_; }
  // Index of `label`; throws InputError naming the label when the space cannot make it.
  int index(const std::string& label) const;
  bool contains(const std::string& label) const { return index_.count(label) > 0; }
  // Head labels the space's graphs use (kAuto for a list given by hand).
  LabelForm form() const { return form_; }
  CostGraph graph(const Architecture& a) const;

 private:
  LabelForm form_ = LabelForm::kAuto;
  std::vector<std::string> ops_;
  std::unordered_map<std::string, int> index_;
};

CostGraph cost_graph(const ArchGraph& g, const OpCosts& costs);

enum class GedMethod { kAuto, kExact, kBipartite };

struct GedOptions {
  GedMethod method = GedMethod::kAuto;
  // kAuto runs the exact search when both graphs have at most this many nodes, and the
  // bipartite bound otherwise.
  int exact_max_nodes = 40;
  // The exact search stops after this many search nodes and returns the best edit path it
  // found (never worse than the bipartite one) with exact = false. About 5 us per node.
  std::uint64_t max_expansions = 200'000;
};

struct GedResult {
  double distance = 0;         // in the cost model's units (edges cost 0.1)
  bool exact = false;          // distance is proven optimal
  std::uint64_t expanded = 0;  // search nodes visited (0 for bipartite)
};

GedResult ged(const CostGraph& a, const CostGraph& b, const GedOptions& opt = {});
GedResult ged(const Architecture& a, const Architecture& b, const OpCosts& costs,
              const GedOptions& opt = {});

// Rows x cols matrix (row-major) of distances between two graph lists, in parallel.
std::vector<double> ged_matrix(const std::vector<CostGraph>& rows,
                               const std::vector<CostGraph>& cols, const GedOptions& opt = {});

namespace detail {
// The node map of the bipartite edit path (-1: deleted): by min-cost flow over node
// signature classes (what ged() uses) or by the Hungarian method on the full matrix
// (the reference, for tests and benchmarks). Both minimise bipartite_objective.
std::vector<int> bipartite_map(const CostGraph& a, const CostGraph& b, bool hungarian = false);
// The assignment objective of a node map, in units of 1/20 (node cost plus half the
// in/out degree differences; deletion and insertion against an empty node).
long long bipartite_objective(const CostGraph& a, const CostGraph& b, const std::vector<int>& map);
// The cost of the edit path a node map induces, in the cost model's units.
double bipartite_distance(const CostGraph& a, const CostGraph& b, const std::vector<int>& map);
}  // namespace detail

}  // namespace flexnas
