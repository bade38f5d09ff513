#pragma once
// The architecture graph drawn through Graphviz's library (cgraph + gvc, dot layout):
// one node per graph node, labelled, coloured by operation family. Only this target
// links libgvc (docs/export.md).
#include <string>

#include "space/graph.hpp"

namespace flexnas {

// format: "dot" (laid-out DOT text with positions) or "svg".
std::string render_graph(const ArchGraph& g, const std::string& format,
                         const std::string& name = "architecture");

}  // namespace flexnas
