#include "space/ged.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.hpp"

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
      if (space.heads_fit(h, n)) sizes.insert(space.hetero ? h / n : h);
  for (Family fam : {Family::kL, Family::kSa, Family::kC}) {
    auto it = std::find_if(space.operations.begin(), space.operations.end(),
                           [&](const OperationChoice& c) { return c.family == fam; });
    if (it == space.operations.end()) continue;
    ops.emplace_back();
    for (int size : sizes)
      for (const auto& p : it->params) {
        const auto kernels =
            fam == Family::kSa ? space.attn_kernels : std::vector<AttnKernel>{AttnKernel::kSoftmax};
        for (auto k : kernels) {
          const Head h(fam, p);
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
    throw InputError("graph node '" + label +
                     "' is not an operation of the space (pass --space with a space that has it)");
  return it->second;
}

CostGraph OpCosts::graph(const Architecture& a) const {
  return cost_graph(build_graph(a, form_), *this);
}

CostGraph cost_graph(const ArchGraph& g, const OpCosts& costs) {
  CostGraph c;
  const std::size_t n = boost::num_vertices(g);
  c.cost.resize(n);
  c.out.resize(n);
  c.in.resize(n);
  for (std::size_t v = 0; v < n; ++v) c.cost[v] = costs.index(g[v].label);
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto s = static_cast<int>(boost::source(*e, g)),
               t = static_cast<int>(boost::target(*e, g));
    c.out[static_cast<std::size_t>(s)].push_back(t);
    c.in[static_cast<std::size_t>(t)].push_back(s);
    ++c.num_edges;
  }
  return c;
}

namespace {

// All search costs are integers in tenths: a node cost index k is 10 k, an edge 1.
constexpr int kNodeUnit = 10;
constexpr double kUnit = 0.1;

// Dense adjacency for O(1) edge tests.
struct Dense {
  int n = 0;
  std::vector<char> adj;  // adj[s * n + t]: edge s -> t
  bool edge(int s, int t) const { return adj[static_cast<std::size_t>(s * n + t)] != 0; }
};

Dense dense(const CostGraph& g) {
  Dense d;
  d.n = g.size();
  d.adj.assign(static_cast<std::size_t>(d.n * d.n), 0);
  for (int s = 0; s < d.n; ++s)
    for (int t : g.out[static_cast<std::size_t>(s)])
      d.adj[static_cast<std::size_t>(s * d.n + t)] = 1;
  return d;
}

// twin[v]: smallest node with the same label and the same in- and out-neighbours as v.
// Twins are interchangeable in any edit path, which the exact search uses to skip
// mappings that only permute them.
std::vector<int> twins(const CostGraph& g) {
  std::vector<int> twin(static_cast<std::size_t>(g.size()));
  std::vector<std::vector<int>> in(g.in), out(g.out);
  for (auto& v : in) std::sort(v.begin(), v.end());
  for (auto& v : out) std::sort(v.begin(), v.end());
  for (int v = 0; v < g.size(); ++v) {
    twin[static_cast<std::size_t>(v)] = v;
    for (int u = 0; u < v; ++u) {
      const auto U = static_cast<std::size_t>(u), V = static_cast<std::size_t>(v);
      if (twin[U] == u && g.cost[U] == g.cost[V] && in[U] == in[V] && out[U] == out[V]) {
        twin[V] = u;
        break;
      }
    }
  }
  return twin;
}

// Exact cost (tenths) of the edit path that maps node u of a to map[u] in b (-1: delete)
// and inserts every node of b that no node maps to.
long long path_cost(const CostGraph& a, const CostGraph& b, const Dense& db,
                    const std::vector<int>& map) {
  long long cost = 0;
  std::vector<char> used(static_cast<std::size_t>(b.size()), 0);
  for (int u = 0; u < a.size(); ++u) {
    const int v = map[static_cast<std::size_t>(u)];
    if (v < 0) {
      cost += kNodeUnit * a.cost[static_cast<std::size_t>(u)];
    } else {
      used[static_cast<std::size_t>(v)] = 1;
      cost += kNodeUnit *
              std::abs(a.cost[static_cast<std::size_t>(u)] - b.cost[static_cast<std::size_t>(v)]);
    }
  }
  for (int v = 0; v < b.size(); ++v)
    if (!used[static_cast<std::size_t>(v)]) cost += kNodeUnit * b.cost[static_cast<std::size_t>(v)];
  int matched = 0;
  for (int s = 0; s < a.size(); ++s)
    for (int t : a.out[static_cast<std::size_t>(s)]) {
      const int ms = map[static_cast<std::size_t>(s)], mt = map[static_cast<std::size_t>(t)];
      if (ms >= 0 && mt >= 0 && db.edge(ms, mt)) ++matched;
    }
  return cost + (a.num_edges - matched) + (b.num_edges - matched);
}

// Minimum-cost perfect assignment (Hungarian method with potentials, O(n^3)).
// cost is n x n row-major; returns the column of each row.
std::vector<int> assign(const std::vector<long long>& cost, int n) {
  const long long inf = std::numeric_limits<long long>::max() / 4;
  std::vector<long long> u(static_cast<std::size_t>(n + 1), 0),
      v(static_cast<std::size_t>(n + 1), 0);
  std::vector<int> p(static_cast<std::size_t>(n + 1), 0), way(static_cast<std::size_t>(n + 1), 0);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::vector<long long> minv(static_cast<std::size_t>(n + 1), inf);
    std::vector<char> done(static_cast<std::size_t>(n + 1), 0);
    do {
      done[static_cast<std::size_t>(j0)] = 1;
      const int i0 = p[static_cast<std::size_t>(j0)];
      long long delta = inf;
      int j1 = 0;
      for (int j = 1; j <= n; ++j) {
        const auto J = static_cast<std::size_t>(j);
        if (done[J]) continue;
        const long long cur = cost[static_cast<std::size_t>((i0 - 1) * n + (j - 1))] -
                              u[static_cast<std::size_t>(i0)] - v[J];
        if (cur < minv[J]) {
          minv[J] = cur;
          way[J] = j0;
        }
        if (minv[J] < delta) {
          delta = minv[J];
          j1 = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        const auto J = static_cast<std::size_t>(j);
        if (done[J]) {
          u[static_cast<std::size_t>(p[J])] += delta;
          v[J] -= delta;
        } else {
          minv[J] -= delta;
        }
      }
      j0 = j1;
    } while (p[static_cast<std::size_t>(j0)] != 0);
    do {
      const int j1 = way[static_cast<std::size_t>(j0)];
      p[static_cast<std::size_t>(j0)] = p[static_cast<std::size_t>(j1)];
      j0 = j1;
    } while (j0);
  }
  std::vector<int> row_to_col(static_cast<std::size_t>(n), -1);
  for (int j = 1; j <= n; ++j)
    if (p[static_cast<std::size_t>(j)])
      row_to_col[static_cast<std::size_t>(p[static_cast<std::size_t>(j)] - 1)] = j - 1;
  return row_to_col;
}

// Riesen-Bunke bipartite edit path: assign nodes (with deletion and insertion slots) by
// node cost plus half the in/out degree difference, then cost that path exactly.
//
// Every entry of that (n1 + n2)^2 assignment matrix depends on a node only through its
// signature (label cost, in-degree, out-degree), and a FlexiBERT graph has a few dozen
// signatures for hundreds of nodes. So the assignment is solved as a transportation
// problem between signature classes: the same optimal assignment cost as the Hungarian
// method on the full matrix, in microseconds instead of milliseconds for 300-node graphs
// (docs/ged.md). Within a class pair, nodes are paired in index
// (topological) order, which keeps layers aligned.
struct Signature {
  int cost, in, out;
  auto operator<=>(const Signature&) const = default;
};

// Assignment costs in units of 1/20 so that half an edge (0.05) is an integer: node cost
// plus half the in- and out-degree differences; deleting or inserting is substituting by
// the signature (0, 0, 0).
long long substitution_cost(const Signature& x, const Signature& y) {
  return 2LL * kNodeUnit * std::abs(x.cost - y.cost) + std::abs(x.in - y.in) +
         std::abs(x.out - y.out);
}
long long indel_cost(const Signature& x) {
  return substitution_cost(x, Signature{0, 0, 0});
}

Signature signature_of(const CostGraph& g, int v) {
  const auto V = static_cast<std::size_t>(v);
  return {g.cost[V], static_cast<int>(g.in[V].size()), static_cast<int>(g.out[V].size())};
}

// Nodes of g grouped by signature: classes in signature order, nodes in index order.
std::vector<std::pair<Signature, std::vector<int>>> signature_classes(const CostGraph& g) {
  std::map<Signature, std::vector<int>> by;
  for (int v = 0; v < g.size(); ++v) by[signature_of(g, v)].push_back(v);
  return {by.begin(), by.end()};
}

// Balanced transportation problem (sum of supplies = sum of demands, costs >= 0, every
// route open): successive shortest paths with Johnson potentials, a dense O(V^2) Dijkstra
// per augmentation over V = rows + columns, stopped at the first column with demand. Returns the
// rows x columns flow. Ties go to the lowest index, so the result is deterministic. (Boost.Graph's
// successive_shortest_path gives the same optimum; on these 20-60 vertex problems its generic
// Dijkstra over a filtered residual graph and its allocations cost more than the whole pair
// does here: docs/ged.md.)
std::vector<long long> transport(std::vector<long long> supply, std::vector<long long> demand,
                                 const std::vector<long long>& cost) {
  const std::size_t R = supply.size(), C = demand.size(), V = R + C;
  const long long inf = std::numeric_limits<long long>::max() / 4;
  std::vector<long long> flow(R * C, 0), pot(V, 0), dist(V);
  std::vector<std::size_t> pred(V);
  std::vector<char> done(V);
  // Nodes 0..R-1 are rows, R..V-1 columns. Row -> column edges are uncapacitated (cost c),
  // column -> row edges exist where flow > 0 (cost -c).
  for (;;) {
    std::fill(dist.begin(), dist.end(), inf);
    std::fill(done.begin(), done.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < R; ++i)
      if (supply[i] > 0) {
        dist[i] = 0;
        pred[i] = V;
        any = true;
      }
    if (!any) break;
    std::size_t t = V;  // the first column with demand that Dijkstra settles
    for (;;) {
      std::size_t u = V;
      for (std::size_t v = 0; v < V; ++v)
        if (!done[v] && dist[v] < inf && (u == V || dist[v] < dist[u])) u = v;
      if (u == V) break;
      done[u] = 1;
      if (u >= R && demand[u - R] > 0) {
        t = u;
        break;
      }
      if (u < R) {
        for (std::size_t j = 0; j < C; ++j) {
          const long long nd = dist[u] + cost[u * C + j] + pot[u] - pot[R + j];
          if (nd < dist[R + j]) {
            dist[R + j] = nd;
            pred[R + j] = u;
          }
        }
      } else {
        const std::size_t j = u - R;
        for (std::size_t i = 0; i < R; ++i)
          if (flow[i * C + j] > 0) {
            const long long nd = dist[u] - cost[i * C + j] + pot[u] - pot[i];
            if (nd < dist[i]) {
              dist[i] = nd;
              pred[i] = u;
            }
          }
      }
    }
    if (t == V) break;  // unbalanced input; cannot happen for the bipartite problem
    // Potentials stay feasible with min(dist, dist[t]) for nodes not settled (Johnson).
    for (std::size_t v = 0; v < V; ++v) pot[v] += done[v] ? dist[v] : dist[t];
    // Bottleneck: the path's source supply, the target's demand, and backward flows.
    long long amount = demand[t - R];
    std::size_t v = t;
    while (pred[v] != V) {
      const std::size_t u = pred[v];
      if (u >= R) amount = std::min(amount, flow[v * C + (u - R)]);  // backward edge u -> v
      v = u;
    }
    amount = std::min(amount, supply[v]);
    supply[v] -= amount;
    demand[t - R] -= amount;
    for (v = t; pred[v] != V; v = pred[v]) {
      const std::size_t u = pred[v];
      if (u < R)
        flow[u * C + (v - R)] += amount;
      else
        flow[v * C + (u - R)] -= amount;
    }
  }
  return flow;
}

std::vector<int> flow_bipartite_map(const CostGraph& a, const CostGraph& b) {
  auto ca = signature_classes(a), cb = signature_classes(b);
  // Costs are an L1 distance between signatures, deletion and insertion the distance to
  // (0, 0, 0): a metric transport problem, in which mass shared by a signature on both
  // sides stays put in some optimal solution. Pair those nodes first (in index order) and
  // leave only the differences to the flow.
  std::vector<int> map(static_cast<std::size_t>(a.size()), -1);
  {
    std::size_t j = 0;
    for (auto& [sig, nodes] : ca) {
      while (j < cb.size() && cb[j].first < sig) ++j;
      if (j == cb.size() || !(cb[j].first == sig)) continue;
      auto& other = cb[j].second;
      const std::size_t m = std::min(nodes.size(), other.size());
      for (std::size_t k = 0; k < m; ++k) map[static_cast<std::size_t>(nodes[k])] = other[k];
      nodes.erase(nodes.begin(), nodes.begin() + static_cast<std::ptrdiff_t>(m));
      other.erase(other.begin(), other.begin() + static_cast<std::ptrdiff_t>(m));
    }
    auto empty = [](const auto& c) { return c.second.empty(); };
    ca.erase(std::remove_if(ca.begin(), ca.end(), empty), ca.end());
    cb.erase(std::remove_if(cb.begin(), cb.end(), empty), cb.end());
  }
  if (ca.empty()) return map;
  // Transportation problem: a classes plus the insertion slots supply, b classes plus the
  // deletion slots demand; inserting into a deletion slot costs nothing.
  const std::size_t ka = ca.size(), kb = cb.size();
  std::vector<long long> supply(ka + 1), demand(kb + 1), cost((ka + 1) * (kb + 1), 0);
  for (std::size_t i = 0; i < ka; ++i) supply[i] = static_cast<long long>(ca[i].second.size());
  for (std::size_t j = 0; j < kb; ++j) demand[j] = static_cast<long long>(cb[j].second.size());
  for (std::size_t j = 0; j < kb; ++j) supply[ka] += demand[j];
  for (std::size_t i = 0; i < ka; ++i) demand[kb] += supply[i];
  for (std::size_t i = 0; i <= ka; ++i)
    for (std::size_t j = 0; j <= kb; ++j)
      cost[i * (kb + 1) + j] = i < ka && j < kb ? substitution_cost(ca[i].first, cb[j].first)
                               : i < ka         ? indel_cost(ca[i].first)
                               : j < kb         ? indel_cost(cb[j].first)
                                                : 0;
  const auto flow = transport(supply, demand, cost);
  std::vector<std::size_t> next_b(kb, 0);
  for (std::size_t i = 0; i < ka; ++i) {
    const auto& nodes = ca[i].second;
    std::size_t next_a = 0;
    for (std::size_t j = 0; j < kb; ++j)
      for (long long f = flow[i * (kb + 1) + j]; f > 0; --f)
        map[static_cast<std::size_t>(nodes[next_a++])] = cb[j].second[next_b[j]++];
    // The remaining nodes of the class are deleted (map stays -1).
  }
  return map;
}

// The same assignment by the Hungarian method on the full (n1 + n2)^2 matrix: the
// reference the flow is tested and benchmarked against.
std::vector<int> hungarian_bipartite_map(const CostGraph& a, const CostGraph& b) {
  const int n1 = a.size(), n2 = b.size(), n = n1 + n2;
  const long long inf = std::numeric_limits<long long>::max() / (4LL * (n + 1));
  // Units of 1/20 so that half an edge (0.05) is an integer.
  std::vector<long long> c(static_cast<std::size_t>(n * n), 0);
  auto at = [&](int i, int j) -> long long& { return c[static_cast<std::size_t>(i * n + j)]; };
  auto deg_in = [](const CostGraph& g, int v) {
    return static_cast<long long>(g.in[static_cast<std::size_t>(v)].size());
  };
  auto deg_out = [](const CostGraph& g, int v) {
    return static_cast<long long>(g.out[static_cast<std::size_t>(v)].size());
  };
  for (int i = 0; i < n1; ++i)
    for (int j = 0; j < n2; ++j)
      at(i, j) =
          2 * kNodeUnit *
              std::abs(a.cost[static_cast<std::size_t>(i)] - b.cost[static_cast<std::size_t>(j)]) +
          std::abs(deg_in(a, i) - deg_in(b, j)) + std::abs(deg_out(a, i) - deg_out(b, j));
  for (int i = 0; i < n1; ++i)
    for (int k = 0; k < n1; ++k)
      at(i, n2 + k) = i == k ? 2 * kNodeUnit * a.cost[static_cast<std::size_t>(i)] + deg_in(a, i) +
                                   deg_out(a, i)
                             : inf;
  for (int k = 0; k < n2; ++k)
    for (int j = 0; j < n2; ++j)
      at(n1 + k, j) = k == j ? 2 * kNodeUnit * b.cost[static_cast<std::size_t>(j)] + deg_in(b, j) +
                                   deg_out(b, j)
                             : inf;
  const auto col = assign(c, n);
  std::vector<int> map(static_cast<std::size_t>(n1));
  for (int i = 0; i < n1; ++i) {
    const int j = col[static_cast<std::size_t>(i)];
    map[static_cast<std::size_t>(i)] = j < n2 ? j : -1;
  }
  return map;
}

// Depth-first branch and bound over node maps of `a` in index order (a topological
// order, so most edges are decided early). Lower bound = cost so far + optimal 1-D
// transport of the remaining labels (exact node lower bound: label costs are distances
// on a line and deletion is distance to index 0) + |remaining edges of a - of b|.
class ExactSearch {
 public:
  ExactSearch(const CostGraph& a, const CostGraph& b, std::uint64_t max_expansions)
      : a_(a),
        b_(b),
        da_(dense(a)),
        db_(dense(b)),
        ta_(twins(a)),
        tb_(twins(b)),
        budget_(max_expansions) {
    int k = 0;
    for (int x : a.cost) k = std::max(k, x);
    for (int x : b.cost) k = std::max(k, x);
    rem_a_.assign(static_cast<std::size_t>(k + 1), 0);
    rem_b_.assign(static_cast<std::size_t>(k + 1), 0);
    for (int x : a.cost) ++rem_a_[static_cast<std::size_t>(x)];
    for (int x : b.cost) ++rem_b_[static_cast<std::size_t>(x)];
    map_.assign(static_cast<std::size_t>(a.size()), -1);
    inv_.assign(static_cast<std::size_t>(b.size()), -1);
  }

  GedResult run() {
    best_map_ = flow_bipartite_map(a_, b_);
    best_ = path_cost(a_, b_, db_, best_map_);
    const bool complete = dfs(0, 0, 0, 0);
    GedResult r;
    r.distance = static_cast<double>(best_) * kUnit;
    r.exact = complete;
    r.expanded = expanded_;
    return r;
  }

 private:
  long long node_bound() const {
    // Pad the smaller multiset with zeros; sorted matching = sum |F_a(k) - F_b(k)|.
    long long na = 0, nb = 0;
    for (std::size_t k = 0; k < rem_a_.size(); ++k) {
      na += rem_a_[k];
      nb += rem_b_[k];
    }
    long long fa = na < nb ? nb - na : 0, fb = nb < na ? na - nb : 0, cost = 0;
    for (std::size_t k = 0; k + 1 < rem_a_.size(); ++k) {
      fa += rem_a_[k];
      fb += rem_b_[k];
      cost += std::abs(fa - fb);
    }
    return kNodeUnit * cost;
  }

  struct Child {
    int v;
    long long node, edges;  // added node cost, added edge cost
    int dec_a, dec_b;       // edges of a / of b decided by this step
    long long f;
  };

  // Edge cost and decided-edge counts of mapping u (next in order) to v (-1: delete).
  void edge_step(int u, int v, Child& c) const {
    int ea = 0, eb = 0, matched = 0;
    for (int w : a_.in[static_cast<std::size_t>(u)])
      if (w < u) {
        ++ea;
        const int mw = map_[static_cast<std::size_t>(w)];
        if (v >= 0 && mw >= 0 && db_.edge(mw, v)) ++matched;
      }
    for (int w : a_.out[static_cast<std::size_t>(u)])
      if (w < u) {
        ++ea;
        const int mw = map_[static_cast<std::size_t>(w)];
        if (v >= 0 && mw >= 0 && db_.edge(v, mw)) ++matched;
      }
    if (v >= 0) {
      for (int w : b_.in[static_cast<std::size_t>(v)]) eb += inv_[static_cast<std::size_t>(w)] >= 0;
      for (int w : b_.out[static_cast<std::size_t>(v)])
        eb += inv_[static_cast<std::size_t>(w)] >= 0;
    }
    c.edges = (ea - matched) + (eb - matched);
    c.dec_a = ea;
    c.dec_b = eb;
  }

  // Admissible bound (units of 1/20) on the cost of completing the current partial map
  // when nodes u.. of a remain: an assignment problem over remaining a nodes and unused b
  // nodes whose entry for (r, s) is the node cost, the exact cost of r's edges to already
  // mapped nodes if r maps to s, and half the difference of their degrees among the
  // remaining nodes (each such edge is shared by two endpoints). Substitution never costs
  // more than deletion plus insertion here, so a max(|R|, |S|) square problem suffices.
  long long assignment_bound(int u, std::vector<int>* order_hint) {
    std::vector<int> R, S;
    for (int r = u; r < a_.size(); ++r) R.push_back(r);
    for (int v = 0; v < b_.size(); ++v)
      if (inv_[static_cast<std::size_t>(v)] < 0) S.push_back(v);
    const int k = static_cast<int>(std::max(R.size(), S.size()));
    if (k == 0) return 0;
    struct Deg {
      int anchored = 0, free_in = 0, free_out = 0;
    };
    std::vector<Deg> da(R.size()), dbv(S.size());
    for (std::size_t i = 0; i < R.size(); ++i) {
      const int r = R[i];
      for (int w : a_.in[static_cast<std::size_t>(r)])
        (w < u ? da[i].anchored : da[i].free_in) += 1;
      for (int w : a_.out[static_cast<std::size_t>(r)])
        (w < u ? da[i].anchored : da[i].free_out) += 1;
    }
    for (std::size_t j = 0; j < S.size(); ++j) {
      const int v = S[j];
      for (int w : b_.in[static_cast<std::size_t>(v)])
        (inv_[static_cast<std::size_t>(w)] >= 0 ? dbv[j].anchored : dbv[j].free_in) += 1;
      for (int w : b_.out[static_cast<std::size_t>(v)])
        (inv_[static_cast<std::size_t>(w)] >= 0 ? dbv[j].anchored : dbv[j].free_out) += 1;
    }
    std::vector<long long> c(static_cast<std::size_t>(k * k), 0);
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        long long& x = c[static_cast<std::size_t>(i * k + j)];
        const bool real_r = i < static_cast<int>(R.size()), real_s = j < static_cast<int>(S.size());
        if (real_r && real_s) {
          const int r = R[static_cast<std::size_t>(i)], v = S[static_cast<std::size_t>(j)];
          int matched = 0;
          for (int w : a_.in[static_cast<std::size_t>(r)])
            if (w < u)
              matched +=
                  db_.edge(
                      map_[static_cast<std::size_t>(w)] < 0 ? v : map_[static_cast<std::size_t>(w)],
                      v) &&
                  map_[static_cast<std::size_t>(w)] >= 0;
          for (int w : a_.out[static_cast<std::size_t>(r)])
            if (w < u)
              matched += map_[static_cast<std::size_t>(w)] >= 0 &&
                         db_.edge(v, map_[static_cast<std::size_t>(w)]);
          const auto& A = da[static_cast<std::size_t>(i)];
          const auto& B = dbv[static_cast<std::size_t>(j)];
          x = 2 * kNodeUnit *
                  std::abs(a_.cost[static_cast<std::size_t>(r)] -
                           b_.cost[static_cast<std::size_t>(v)]) +
              2 * (A.anchored + B.anchored - 2 * matched) + std::abs(A.free_in - B.free_in) +
              std::abs(A.free_out - B.free_out);
        } else if (real_r) {
          const auto& A = da[static_cast<std::size_t>(i)];
          x = 2 * kNodeUnit * a_.cost[static_cast<std::size_t>(R[static_cast<std::size_t>(i)])] +
              2 * A.anchored + A.free_in + A.free_out;
        } else if (real_s) {
          const auto& B = dbv[static_cast<std::size_t>(j)];
          x = 2 * kNodeUnit * b_.cost[static_cast<std::size_t>(S[static_cast<std::size_t>(j)])] +
              2 * B.anchored + B.free_in + B.free_out;
        }
      }
    const auto col = assign(c, k);
    long long total = 0;
    for (int i = 0; i < k; ++i)
      total += c[static_cast<std::size_t>(i * k + col[static_cast<std::size_t>(i)])];
    if (order_hint) {
      // Preferred image of u: its column in the optimal assignment (-1: deletion).
      const int j = col[0];
      order_hint->assign(1, j < static_cast<int>(S.size()) ? S[static_cast<std::size_t>(j)] : -1);
      // The assignment also completes the partial map into a real edit path: an upper bound.
      completion_ = map_;
      for (std::size_t i = 0; i < R.size(); ++i) {
        const int jj = col[i];
        completion_[static_cast<std::size_t>(R[i])] =
            jj < static_cast<int>(S.size()) ? S[static_cast<std::size_t>(jj)] : -1;
      }
      const long long ub = path_cost(a_, b_, db_, completion_);
      if (ub < best_) {
        best_ = ub;
        best_map_ = completion_;
      }
    }
    return total;
  }

  // Returns false when the expansion budget ran out.
  bool dfs(int u, long long g, int dec_a, int dec_b) {
    if (++expanded_ > budget_) return false;
    if (u == a_.size()) {
      long long total = g + (b_.num_edges - dec_b);  // edges touching inserted nodes
      for (int v = 0; v < b_.size(); ++v)
        if (inv_[static_cast<std::size_t>(v)] < 0)
          total += kNodeUnit * b_.cost[static_cast<std::size_t>(v)];
      if (total < best_) {
        best_ = total;
        best_map_ = map_;
      }
      return true;
    }
    std::vector<int> hint;
    if (2 * g + assignment_bound(u, &hint) >= 2 * best_) return true;
    const auto U = static_cast<std::size_t>(u);
    // A twin of u placed earlier fixes an order: u maps after it (deletions last).
    int min_key = -1;
    if (ta_[U] != u) {
      for (int w = u - 1; w >= 0; --w)
        if (ta_[static_cast<std::size_t>(w)] == ta_[U]) {
          const int mw = map_[static_cast<std::size_t>(w)];
          min_key = mw < 0 ? b_.size() : mw;
          break;
        }
    }
    --rem_a_[static_cast<std::size_t>(a_.cost[U])];
    std::vector<Child> kids;
    kids.reserve(static_cast<std::size_t>(b_.size() + 1));
    auto consider = [&](int v) {
      Child c{};
      c.v = v;
      const int key = v < 0 ? b_.size() : v;
      if (key < min_key || (v >= 0 && key == min_key)) return;
      c.node = kNodeUnit *
               (v < 0 ? a_.cost[U] : std::abs(a_.cost[U] - b_.cost[static_cast<std::size_t>(v)]));
      edge_step(u, v, c);
      if (v >= 0) --rem_b_[static_cast<std::size_t>(b_.cost[static_cast<std::size_t>(v)])];
      const long long rem_edges =
          std::abs((a_.num_edges - dec_a - c.dec_a) - (b_.num_edges - dec_b - c.dec_b));
      c.f = g + c.node + c.edges + node_bound() + rem_edges;
      if (v >= 0) ++rem_b_[static_cast<std::size_t>(b_.cost[static_cast<std::size_t>(v)])];
      if (c.f < best_) kids.push_back(c);
    };
    for (int v = 0; v < b_.size(); ++v) {
      const auto V = static_cast<std::size_t>(v);
      if (inv_[V] >= 0) continue;
      // Only the first unused node of each twin class of b: the others are equivalent.
      bool earlier_free_twin = false;
      for (int w = tb_[V]; w < v && !earlier_free_twin; ++w)
        earlier_free_twin =
            tb_[static_cast<std::size_t>(w)] == tb_[V] && inv_[static_cast<std::size_t>(w)] < 0;
      if (!earlier_free_twin) consider(v);
    }
    consider(-1);
    // The assignment's choice first, then by the cheap bound.
    const int preferred = hint.empty() ? -2 : hint[0];
    std::sort(kids.begin(), kids.end(), [&](const Child& x, const Child& y) {
      const bool px = x.v == preferred, py = y.v == preferred;
      if (px != py) return px;
      return x.f < y.f || (x.f == y.f && x.v < y.v);
    });
    bool complete = true;
    for (const auto& c : kids) {
      if (c.f >= best_) continue;
      map_[U] = c.v;
      if (c.v >= 0) {
        inv_[static_cast<std::size_t>(c.v)] = u;
        --rem_b_[static_cast<std::size_t>(b_.cost[static_cast<std::size_t>(c.v)])];
      }
      complete = dfs(u + 1, g + c.node + c.edges, dec_a + c.dec_a, dec_b + c.dec_b);
      if (c.v >= 0) {
        inv_[static_cast<std::size_t>(c.v)] = -1;
        ++rem_b_[static_cast<std::size_t>(b_.cost[static_cast<std::size_t>(c.v)])];
      }
      map_[U] = -1;
      if (!complete) break;
    }
    ++rem_a_[static_cast<std::size_t>(a_.cost[U])];
    return complete;
  }

  const CostGraph& a_;
  const CostGraph& b_;
  Dense da_, db_;
  std::vector<int> ta_, tb_;
  std::uint64_t budget_;
  std::uint64_t expanded_ = 0;
  std::vector<int> rem_a_, rem_b_;  // label histograms of unprocessed a / unused b nodes
  std::vector<int> map_, inv_;
  std::vector<int> best_map_, completion_;
  long long best_ = 0;
};

}  // namespace

GedResult ged(const CostGraph& a, const CostGraph& b, const GedOptions& opt) {
  const bool exact = opt.method == GedMethod::kExact ||
                     (opt.method == GedMethod::kAuto && a.size() <= opt.exact_max_nodes &&
                      b.size() <= opt.exact_max_nodes);
  if (exact) return ExactSearch(a, b, opt.max_expansions).run();
  GedResult r;
  r.distance = detail::bipartite_distance(a, b, flow_bipartite_map(a, b));
  r.exact = false;
  return r;
}

GedResult ged(const Architecture& a, const Architecture& b, const OpCosts& costs,
              const GedOptions& opt) {
  return ged(costs.graph(a), costs.graph(b), opt);
}

std::vector<double> ged_matrix(const std::vector<CostGraph>& rows,
                               const std::vector<CostGraph>& cols, const GedOptions& opt) {
  std::vector<double> d(rows.size() * cols.size());
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, d.size(), 16),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t k = r.begin(); k != r.end(); ++k)
                        d[k] = ged(rows[k / cols.size()], cols[k % cols.size()], opt).distance;
                    });
  return d;
}

namespace detail {

std::vector<int> bipartite_map(const CostGraph& a, const CostGraph& b, bool hungarian) {
  return hungarian ? hungarian_bipartite_map(a, b) : flow_bipartite_map(a, b);
}

long long bipartite_objective(const CostGraph& a, const CostGraph& b, const std::vector<int>& map) {
  std::vector<char> used(static_cast<std::size_t>(b.size()), 0);
  long long total = 0;
  for (int u = 0; u < a.size(); ++u) {
    const int v = map[static_cast<std::size_t>(u)];
    if (v < 0) {
      total += indel_cost(signature_of(a, u));
    } else {
      used[static_cast<std::size_t>(v)] = 1;
      total += substitution_cost(signature_of(a, u), signature_of(b, v));
    }
  }
  for (int v = 0; v < b.size(); ++v)
    if (!used[static_cast<std::size_t>(v)]) total += indel_cost(signature_of(b, v));
  return total;
}

double bipartite_distance(const CostGraph& a, const CostGraph& b, const std::vector<int>& map) {
  return static_cast<double>(path_cost(a, b, dense(b), map)) * kUnit;
}

}  // namespace detail

}  // namespace flexnas
