#include "space/graph_render.hpp"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "core/error.hpp"

namespace flexnas {
namespace {

// Fill colour of a node by operation family (same palette as to_dot).
const char* family_color(const std::string& label) {
  if (label.rfind("sa_", 0) == 0) return "#9ecae1";
  if (label.rfind("l_", 0) == 0) return "#a1d99b";
  if (label.rfind("c_", 0) == 0) return "#fdae6b";
  if (!label.empty() && label[0] == 'f') return "#dadaeb";
  return "#eeeeee";
}

// cgraph takes char* for names and attribute values it copies.
std::vector<char> cstr(const std::string& s) {
  return std::vector<char>(s.c_str(), s.c_str() + s.size() + 1);
}

void set(void* obj, const char* key, const std::string& value) {
  auto k = cstr(key), v = cstr(value), empty = cstr("");
  agsafeset(obj, k.data(), v.data(), empty.data());
}

}  // namespace

std::string render_graph(const ArchGraph& g, const std::string& format, const std::string& name) {
  if (format != "dot" && format != "svg")
    throw InputError("graph format '" + format + "' is not one of: dot, svg");
  // Graphviz keeps global state (error buffers, plugin tables): one render at a time.
  static std::mutex mu;
  std::lock_guard lock(mu);
  // One context for the whole process, never freed: Graphviz 2.42's pango plugin caches a
  // pointer to the last font name, which lives in the context; freeing the context and
  // rendering again read freed memory (found by ASan on the second render in one process).
  static GVC_t* const context = gvContext();
  if (!context) throw std::runtime_error("Graphviz: gvContext failed");
  auto gname = cstr(name);
  std::unique_ptr<Agraph_t, int (*)(Agraph_t*)> G(agopen(gname.data(), Agdirected, nullptr),
                                                  agclose);
  if (!G) throw std::runtime_error("Graphviz: agopen failed");
  set(G.get(), "rankdir", "TB");
  std::vector<Agnode_t*> nodes;
  for (auto [it, end] = boost::vertices(g); it != end; ++it) {
    auto id = cstr("n" + std::to_string(*it));
    Agnode_t* n = agnode(G.get(), id.data(), 1);
    const auto& label = g[*it].label;
    set(n, "label", label);
    set(n, "shape", "box");
    set(n, "style", "rounded,filled");
    set(n, "fillcolor", family_color(label));
    nodes.push_back(n);
  }
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    auto ename = cstr("");
    agedge(G.get(), nodes[boost::source(*e, g)], nodes[boost::target(*e, g)], ename.data(), 1);
  }
  auto layout = cstr("dot");
  if (gvLayout(context, G.get(), layout.data()) != 0)
    throw std::runtime_error("Graphviz: dot layout failed");
  char* data = nullptr;
  unsigned int len = 0;
  auto fmt = cstr(format);
  const int rc = gvRenderData(context, G.get(), fmt.data(), &data, &len);
  std::string out;
  if (rc == 0 && data) out.assign(data, len);
  if (data) gvFreeRenderData(data);
  gvFreeLayout(context, G.get());
  if (rc != 0) throw std::runtime_error("Graphviz: rendering " + format + " failed");
  return out;
}

}  // namespace flexnas
