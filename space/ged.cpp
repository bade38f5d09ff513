#include "space/ged.hpp"

#include <algorithm>
#include <set>

#include "space/error.hpp"

namespace flexnas {

OpCosts OpCosts::from_list(std::vector<std::string> sorted_ops) {
  OpCosts c;
  c.ops_ = std::move(sorted_ops);
  for (std::size_t i = 0; i < c.ops_.size(); ++i)
    if (!c.ops_[i].empty()) c.index_.emplace(c.ops_[i], static_cast<int>(i));
  return c;
}

OpCosts OpCosts::for_space(const DesignSpace& space) {
  std::vector<std::string> ops{"input", "output"};
  Layer probe;
  for (auto n : space.norms)
    for (auto p : space.placements) {
      probe.norm = n;
      probe.norm_placement = p;
      ops.push_back(norm_label(probe));
    }
  ops.emplace_back();
  auto widths = space.ff_width;
  std::sort(widths.begin(), widths.end());
  for (int w : widths)
    for (auto act : space.activations) {
      probe.activation = act;
      ops.push_back(ff_label(probe, w));
    }
  // Head sizes (hetero labels) or hidden sizes (standard labels), ascending.
  std::set<int> sizes;
  for (int h : space.hidden)
    for (int n : space.heads)
      if (h % n == 0) sizes.insert(space.hetero ? h / n : h);
  for (Family fam : {Family::kL, Family::kSa, Family::kC}) {
    auto it = std::find_if(space.operations.begin(), space.operations.end(),
                           [&](const OperationChoice& c) { return c.family == fam; });
    if (it == space.operations.end()) continue;
    ops.emplace_back();
    for (int size : sizes)
      for (const auto& p : it->params) {
        const auto kernels = fam == Family::kSa ? space.attn_kernels : std::vector<AttnKernel>{AttnKernel::kSoftmax};
        for (auto k : kernels) {
          const Head h{fam, p};
          Layer L;  // one head of `size`: hidden and head size coincide
          L.attn_kernel = k;
          L.hidden = size;
          L.heads = {h};
          ops.push_back(head_label(L, h, space.hetero));
        }
      }
  }
  auto c = from_list(std::move(ops));
  c.form_ = space.label_form();
  return c;
}

int OpCosts::index(const std::string& label) const {
  auto it = index_.find(label);
  if (it == index_.end())
    throw InputError("graph node '" + label + "' is not an operation of the space (pass --space with a space that has it)");
  return it->second;
}

CostGraph OpCosts::graph(const Architecture& a) const { return cost_graph(build_graph(a, form_), *this); }

CostGraph cost_graph(const ArchGraph& g, const OpCosts& costs) {
  CostGraph c;
  const std::size_t n = boost::num_vertices(g);
  c.cost.resize(n);
  c.out.resize(n);
  c.in.resize(n);
  for (std::size_t v = 0; v < n; ++v) c.cost[v] = costs.index(g[v].label);
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto s = static_cast<int>(boost::source(*e, g)), t = static_cast<int>(boost::target(*e, g));
    c.out[static_cast<std::size_t>(s)].push_back(t);
    c.in[static_cast<std::size_t>(t)].push_back(s);
    ++c.num_edges;
  }
  return c;
}

// --- edit distance: implemented in the GED work item -------------------------------
GedResult ged(const CostGraph&, const CostGraph&, const GedOptions&) {
  throw std::logic_error("ged: not implemented yet");
}

GedResult ged(const Architecture& a, const Architecture& b, const OpCosts& costs, const GedOptions& opt) {
  return ged(costs.graph(a), costs.graph(b), opt);
}

std::vector<double> ged_matrix(const std::vector<CostGraph>&, const std::vector<CostGraph>&, const GedOptions&) {
  throw std::logic_error("ged_matrix: not implemented yet");
}

}  // namespace flexnas
