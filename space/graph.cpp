#include "space/graph.hpp"

#include <algorithm>
#include <array>
#include <sstream>

#include <openssl/evp.h>

#include "core/error.hpp"

namespace flexnas {

std::string sha256_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string head_label(const Layer& layer, const Head& head, bool hetero_form) {
  std::string s = hetero_form ? head_string(head, layer.head_size())
                              : std::string(to_string(head.family())) + "_h" +
                                    std::to_string(layer.hidden) + "_p-" + head.param();
  if (head.family() == Family::kSa && layer.attn_kernel != AttnKernel::kSoftmax)
    s += std::string("_k-") + to_string(layer.attn_kernel);
  return s;
}

std::string ff_label(const Layer& layer, int width) {
  std::string s = "f" + std::to_string(width);
  if (layer.activation != Activation::kGelu) s += std::string("_a-") + to_string(layer.activation);
  return s;
}

std::string norm_label(const Layer& layer) {
  static const std::array<const char*, 3> kind{"norm", "rmsnorm", "none"};
  std::string s = std::string("add_") + kind[static_cast<int>(layer.norm)];
  if (layer.norm_placement != NormPlacement::kPost)
    s += std::string("_") + to_string(layer.norm_placement);
  return s;
}

ArchGraph build_graph(const Architecture& a, LabelForm form) {
  if (a.layers.empty()) throw InputError("model: an architecture needs at least one layer");
  if (form == LabelForm::kStandard && !a.standard_expressible())
    throw InputError("model: a layer mixes head operations; it needs hetero labels");
  const bool hetero =
      form == LabelForm::kHetero || (form == LabelForm::kAuto && !a.standard_expressible());
  ArchGraph g;
  auto add = [&](std::string label) { return boost::add_vertex(NodeLabel{std::move(label)}, g); };
  auto prev = add("input");
  for (const auto& L : a.layers) {
    std::vector<ArchGraph::vertex_descriptor> heads;
    for (const auto& h : L.heads) heads.push_back(add(head_label(L, h, hetero)));
    auto an1 = add(norm_label(L));
    for (auto h : heads) boost::add_edge(prev, h, g);
    for (auto h : heads) boost::add_edge(h, an1, g);
    boost::add_edge(prev, an1, g);
    auto cur = an1;
    for (int w : L.ff) {
      auto f = add(ff_label(L, w));
      boost::add_edge(cur, f, g);
      cur = f;
    }
    auto an2 = add(norm_label(L));
    boost::add_edge(cur, an2, g);
    boost::add_edge(an1, an2, g);
    prev = an2;
  }
  auto out = add("output");
  boost::add_edge(prev, out, g);
  return g;
}

std::vector<std::string> node_labels(const ArchGraph& g) {
  std::vector<std::string> v;
  for (auto [it, end] = boost::vertices(g); it != end; ++it) v.push_back(g[*it].label);
  return v;
}

std::string graph_hash(const ArchGraph& g) {
  const std::size_t n = boost::num_vertices(g);
  std::vector<std::string> h(n);
  for (std::size_t v = 0; v < n; ++v) {
    // Python's str((out_degree, in_degree, 'label')).
    h[v] = sha256_hex("(" + std::to_string(boost::out_degree(v, g)) + ", " +
                      std::to_string(boost::in_degree(v, g)) + ", '" + g[v].label + "')");
  }
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> next(n);
    for (std::size_t v = 0; v < n; ++v) {
      std::vector<std::string> in, out;
      for (auto [e, end] = boost::in_edges(v, g); e != end; ++e)
        in.push_back(h[boost::source(*e, g)]);
      for (auto [e, end] = boost::out_edges(v, g); e != end; ++e)
        out.push_back(h[boost::target(*e, g)]);
      std::sort(in.begin(), in.end());
      std::sort(out.begin(), out.end());
      std::string s;
      for (const auto& x : in) s += x;
      s += "|";
      for (const auto& x : out) s += x;
      s += "|" + h[v];
      next[v] = sha256_hex(s);
    }
    h.swap(next);
  }
  std::sort(h.begin(), h.end());
  std::string list = "[";  // Python's str(sorted(hashes))
  for (std::size_t i = 0; i < n; ++i) list += (i ? ", '" : "'") + h[i] + "'";
  return sha256_hex(list + "]");
}

std::string graph_hash(const Architecture& a, LabelForm form) {
  return graph_hash(build_graph(a, form));
}

std::string to_dot(const ArchGraph& g, const std::string& name) {
  std::ostringstream os;
  os << "digraph \"" << name
     << "\" {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\"];\n";
  for (auto [it, end] = boost::vertices(g); it != end; ++it) {
    const auto& label = g[*it].label;
    const char* color = "#eeeeee";
    if (label.rfind("sa_", 0) == 0)
      color = "#9ecae1";
    else if (label.rfind("l_", 0) == 0)
      color = "#a1d99b";
    else if (label.rfind("c_", 0) == 0)
      color = "#fdae6b";
    else if (label[0] == 'f')
      color = "#dadaeb";
    os << "  n" << *it << " [label=\"" << label << "\", fillcolor=\"" << color << "\"];\n";
  }
  for (auto [e, end] = boost::edges(g); e != end; ++e)
    os << "  n" << boost::source(*e, g) << " -> n" << boost::target(*e, g) << ";\n";
  os << "}\n";
  return os.str();
}

}  // namespace flexnas
