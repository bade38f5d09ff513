#pragma once
// ArchGraph: the FlexiBERT DAG of an architecture (docs/graphs.md), its
// Weisfeiler-Lehman SHA-256 hash (identical to the reference) and DOT output.
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "space/architecture.hpp"

namespace flexnas {

struct NodeLabel {
  std::string label;
};

using ArchGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, NodeLabel>;

// Node label of one head: "sa_h128_p-sdp" (standard form) or "sa_sdp_64" (hetero form),
// plus "_k-relu" when the attention kernel is not softmax.
std::string head_label(const Layer& layer, const Head& head, bool hetero_form);
std::string ff_label(const Layer& layer, int width);  // "f512", "f512_a-relu"
std::string norm_label(const Layer& layer);           // "add_norm", "add_rmsnorm_pre"

// Which head labels a graph uses. kAuto: standard labels when every layer is homogeneous
// (the reference's behaviour); a hetero space uses kHetero for all its architectures so
// that one network always gets one graph.
enum class LabelForm { kAuto, kStandard, kHetero };

// Nodes: input; per layer its heads, add_norm, feed-forward layers, add_norm; output.
ArchGraph build_graph(const Architecture& a, LabelForm form = LabelForm::kAuto);
std::vector<std::string> node_labels(const ArchGraph& g);

// SHA-256 hex fingerprint: 5 Weisfeiler-Lehman rounds over (out_deg, in_deg, label).
std::string graph_hash(const ArchGraph& g);
std::string graph_hash(const Architecture& a, LabelForm form = LabelForm::kAuto);

// Graphviz DOT text, one node per graph node, coloured by operation family.
std::string to_dot(const ArchGraph& g, const std::string& name = "architecture");

// Lowercase hex SHA-256 of `data` (OpenSSL EVP).
std::string sha256_hex(const std::string& data);

}  // namespace flexnas
