#include "space/design_space.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "space/builtin_spaces.hpp"

namespace flexnas {

std::string set_text(const std::vector<int>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

std::string to_string(const BigInt& v) {
  return v.str();
}

namespace {

template <typename T>
std::string names_text(const std::vector<T>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::string(to_string(v[i]));
  return s + "}";
}

template <typename T>
bool has(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

BigInt binomial(int n, int k) {
  if (k < 0 || k > n) return 0;
  BigInt r = 1;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

// Number of multisets of size n drawn from k kinds.
BigInt multisets(int k, int n) {
  return k == 0 ? BigInt(n == 0 ? 1 : 0) : binomial(n + k - 1, n);
}

BigInt ipow(BigInt b, int e) {
  BigInt r = 1;
  for (int i = 0; i < e; ++i) r *= b;
  return r;
}

// Uniform integer in [0, n), n > 0.
BigInt uniform_below(const BigInt& n, Rng& rng) {
  const std::size_t bits = boost::multiprecision::msb(n) + 1;
  for (;;) {
    BigInt r = 0;
    for (std::size_t got = 0; got < bits; got += 64) r = (r << 64) | BigInt(rng());
    r &= (BigInt(1) << bits) - 1;
    if (r < n) return r;
  }
}

template <typename T>
const T& pick(const std::vector<T>& v, Rng& rng) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

// Uniform multiset of size n over `kinds` (stars and bars), returned sorted.
std::vector<Head> sample_multiset(const std::vector<Head>& kinds, int n, Rng& rng) {
  const int k = static_cast<int>(kinds.size());
  std::vector<int> pos(static_cast<std::size_t>(n + k - 1));
  std::iota(pos.begin(), pos.end(), 0);
  std::shuffle(pos.begin(), pos.end(), rng);
  std::vector<int> bars(pos.begin(), pos.begin() + (k - 1));
  std::sort(bars.begin(), bars.end());
  std::vector<Head> out;
  int kind = 0, prev = -1;
  for (int b : bars) {
    for (int s = 0; s < b - prev - 1; ++s) out.push_back(kinds[static_cast<std::size_t>(kind)]);
    prev = b;
    ++kind;
  }
  for (int s = 0; s < n + k - 2 - prev; ++s) out.push_back(kinds[static_cast<std::size_t>(kind)]);
  std::sort(out.begin(), out.end());
  return out;
}

// Every multiset of size n over kinds[from..], appended to cur.
void each_multiset(const std::vector<Head>& kinds, std::size_t from, int n, std::vector<Head>& cur,
                   const std::function<void(const std::vector<Head>&)>& fn) {
  if (n == 0) {
    fn(cur);
    return;
  }
  for (std::size_t i = from; i < kinds.size(); ++i) {
    cur.push_back(kinds[i]);
    each_multiset(kinds, i, n - 1, cur, fn);
    cur.pop_back();
  }
}

std::vector<int> int_list(const YAML::Node& n, const std::string& where) {
  if (!n.IsSequence() || n.size() == 0)
    throw InputError(where + ": expected a non-empty list of integers");
  std::vector<int> v;
  for (const auto& e : n) {
    if (!e.IsScalar()) throw InputError(where + ": expected a list of integers");
    v.push_back(parse_integer<int>(e.Scalar(), where));  // strict: no 0x10, 8abc, 1e9999
  }
  return v;
}

std::vector<std::string> string_list(const YAML::Node& n, const std::string& where) {
  if (!n.IsSequence() || n.size() == 0) throw InputError(where + ": expected a non-empty list");
  std::vector<std::string> v;
  for (const auto& e : n) {
    if (!e.IsScalar()) throw InputError(where + ": expected scalar entries");
    v.push_back(e.as<std::string>());
  }
  return v;
}

template <typename E, typename Parse>
std::vector<E> enum_list(const YAML::Node& n, const std::string& where, Parse parse) {
  std::vector<E> v;
  for (const auto& s : string_list(n, where)) v.push_back(parse(s, where));
  return v;
}

int as_int(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) throw InputError(where + ": expected an integer");
  return parse_integer<int>(n.Scalar(), where);
}

bool as_bool(const YAML::Node& n, const std::string& where) {
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    throw InputError(where + ": expected true or false");
  }
}

}  // namespace

std::vector<std::string> DesignSpace::builtin_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : builtin_space_texts()) names.push_back(name);
  return names;
}

DesignSpace DesignSpace::load(const std::string& name_or_path) {
  for (const auto& [name, text] : builtin_space_texts())
    if (name == name_or_path) return from_yaml(text, "built-in space " + name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(name_or_path, ec)) {
    std::string names;
    for (const auto& n : builtin_names()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("space '" + name_or_path + "' is neither a built-in space (" + names +
                     ") nor a readable file");
  }
  std::ifstream in(name_or_path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) throw InputError("cannot read space file '" + name_or_path + "'");
  return from_yaml(ss.str(), name_or_path);
}

DesignSpace DesignSpace::from_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(origin + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
  if (!root.IsMap()) throw InputError(origin + ": a design space must be a YAML mapping");
  DesignSpace s;
  s.name = std::filesystem::path(origin).stem().string();
  static const std::set<std::string> known{
      "name",       "description", "layers",        "layers_per_stack", "mixed_ff", "hetero",
      "hidden",     "heads",       "head_size",     "operations",       "ff",       "attn_kernel",
      "activation", "norm",        "norm_placement"};
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const auto& v = kv.second;
      const std::string where = origin + ": " + key;
      if (!known.count(key)) {
        std::string k;
        for (const auto& n : known) k += (k.empty() ? "" : ", ") + n;
        throw InputError(where + ": unknown key (known: " + k + ")");
      }
      if (key == "name")
        s.name = v.as<std::string>();
      else if (key == "description")
        s.description = v.as<std::string>();
      else if (key == "layers")
        s.layers = int_list(v, where);
      else if (key == "layers_per_stack")
        s.layers_per_stack = as_int(v, where);
      else if (key == "mixed_ff")
        s.mixed_ff = as_bool(v, where);
      else if (key == "hetero")
        s.hetero = as_bool(v, where);
      else if (key == "hidden")
        s.hidden = int_list(v, where);
      else if (key == "heads")
        s.heads = int_list(v, where);
      else if (key == "head_size") {
        const auto m = v.as<std::string>();
        if (m != "divides" && m != "floor")
          throw InputError(where + ": '" + m +
                           "' is not a head-size rule (allowed: divides, floor)");
        s.head_size_floor = m == "floor";
      } else if (key == "attn_kernel")
        s.attn_kernels = enum_list<AttnKernel>(v, where, parse_attn_kernel);
      else if (key == "activation")
        s.activations = enum_list<Activation>(v, where, parse_activation);
      else if (key == "norm")
        s.norms = enum_list<NormKind>(v, where, parse_norm);
      else if (key == "norm_placement")
        s.placements = enum_list<NormPlacement>(v, where, parse_norm_placement);
      else if (key == "operations") {
        if (!v.IsMap()) throw InputError(where + ": expected a mapping of family -> parameters");
        for (const auto& op : v) {
          const auto fam = op.first.as<std::string>();
          OperationChoice c{parse_family(fam, where), string_list(op.second, where + "." + fam)};
          s.operations.push_back(c);
        }
      } else if (key == "ff") {
        if (!v.IsMap()) throw InputError(where + ": expected a mapping with depth and width");
        for (const auto& e : v) {
          const auto k = e.first.as<std::string>();
          if (k == "depth")
            s.ff_depth = int_list(e.second, where + ".depth");
          else if (k == "width")
            s.ff_width = int_list(e.second, where + ".width");
          else
            throw InputError(where + "." + k + ": unknown key (known: depth, width)");
        }
      }
    }
  } catch (const YAML::Exception& e) {
    throw InputError(origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  try {
    s.check();
  } catch (const InputError& e) {
    throw InputError(origin + ": " + e.what());
  }
  return s;
}

void DesignSpace::check() const {
  auto positive = [](const std::vector<int>& v, const char* what) {
    if (v.empty()) throw InputError(std::string(what) + ": missing or empty");
    for (int x : v)
      if (x < 1)
        throw InputError(std::string(what) + ": " + std::to_string(x) + " must be positive");
    if (std::set<int>(v.begin(), v.end()).size() != v.size())
      throw InputError(std::string(what) + ": " + set_text(v) + " lists a value twice");
  };
  positive(layers, "layers");
  positive(hidden, "hidden");
  positive(heads, "heads");
  positive(ff_depth, "ff.depth");
  positive(ff_width, "ff.width");
  if (layers_per_stack < 1) throw InputError("layers_per_stack must be at least 1");
  if (operations.empty()) throw InputError("operations: missing or empty");
  std::set<Family> fams;
  for (const auto& op : operations) {
    if (!fams.insert(op.family).second)
      throw InputError(std::string("operations: family '") + to_string(op.family) +
                       "' listed twice");
    for (const auto& p : op.params)
      (void)Head(op.family, p, std::string("operations.") + to_string(op.family));
  }
  bool any = false;
  for (int h : hidden)
    for (int n : heads) any = any || heads_fit(h, n);
  if (!any)
    throw InputError("no head count in " + set_text(heads) +
                     (head_size_floor ? " fits" : " divides") + " a hidden size in " +
                     set_text(hidden));
  if (attn_kernels.empty() || activations.empty() || norms.empty() || placements.empty())
    throw InputError(
        "extension lists (attn_kernel, activation, norm, norm_placement) must not be empty");
}

std::vector<Head> DesignSpace::head_ops() const {
  std::vector<Head> v;
  for (const auto& op : operations)
    for (const auto& p : op.params) v.push_back(Head(op.family, p));
  std::sort(v.begin(), v.end());
  return v;
}

namespace {

struct OpSplit {
  std::vector<Head> attention, other;
};

OpSplit split_ops(const std::vector<Head>& ops) {
  OpSplit s;
  for (const auto& h : ops) (h.family() == Family::kSa ? s.attention : s.other).push_back(h);
  return s;
}

}  // namespace

BigInt DesignSpace::layer_choices() const {
  const auto ops = head_ops();
  const auto split = split_ops(ops);
  const int total = static_cast<int>(ops.size()), other = static_cast<int>(split.other.size());
  BigInt ff = 0;
  for (int d : ff_depth)
    ff += mixed_ff ? ipow(BigInt(ff_width.size()), d) : BigInt(ff_width.size());
  BigInt heads_ops = 0;
  for (int h : hidden)
    for (int n : heads) {
      if (!heads_fit(h, n)) continue;
      BigInt all = hetero ? multisets(total, n) : BigInt(total);
      BigInt without = hetero ? multisets(other, n) : BigInt(other);
      heads_ops += (all - without) * attn_kernels.size() + without;
    }
  return heads_ops * ff * activations.size() * norms.size() * placements.size();
}

BigInt DesignSpace::count(int l) const {
  if (!has(layers, l)) return 0;
  return ipow(layer_choices(), num_stacks(l));
}

BigInt DesignSpace::count() const {
  BigInt c = 0;
  const BigInt per = layer_choices();
  for (int l : layers) c += ipow(per, num_stacks(l));
  return c;
}

Layer DesignSpace::sample_layer(Rng& rng) const {
  const auto ops = head_ops();
  const auto split = split_ops(ops);
  const int total = static_cast<int>(ops.size()), other = static_cast<int>(split.other.size());
  // (hidden, heads, with attention?) weighted by how many head configurations each allows.
  struct Cell {
    int h, n;
    bool attention;
    BigInt weight;
  };
  std::vector<Cell> cells;
  BigInt sum = 0;
  for (int h : hidden)
    for (int n : heads) {
      if (!heads_fit(h, n)) continue;
      BigInt all = hetero ? multisets(total, n) : BigInt(total);
      BigInt without = hetero ? multisets(other, n) : BigInt(other);
      cells.push_back({h, n, true, (all - without) * attn_kernels.size()});
      cells.push_back({h, n, false, without});
      sum += cells[cells.size() - 2].weight + without;
    }
  BigInt r = uniform_below(sum, rng);
  const Cell* cell = &cells.back();
  for (const auto& c : cells) {
    if (r < c.weight) {
      cell = &c;
      break;
    }
    r -= c.weight;
  }
  Layer L;
  L.hidden = cell->h;
  if (hetero) {
    if (cell->attention) {
      do L.heads = sample_multiset(ops, cell->n, rng);
      while (!L.has_attention());
    } else {
      L.heads = sample_multiset(split.other, cell->n, rng);
    }
  } else {
    L.heads.assign(static_cast<std::size_t>(cell->n),
                   pick(cell->attention ? split.attention : split.other, rng));
  }
  L.attn_kernel = cell->attention ? pick(attn_kernels, rng) : AttnKernel::kSoftmax;
  L.activation = pick(activations, rng);
  L.norm = pick(norms, rng);
  L.norm_placement = pick(placements, rng);
  std::vector<BigInt> dw;
  BigInt dsum = 0;
  for (int d : ff_depth) {
    dw.push_back(mixed_ff ? ipow(BigInt(ff_width.size()), d) : BigInt(ff_width.size()));
    dsum += dw.back();
  }
  BigInt dr = uniform_below(dsum, rng);
  std::size_t di = 0;
  while (dr >= dw[di]) dr -= dw[di++];
  const int depth = ff_depth[di];
  if (mixed_ff) {
    for (int k = 0; k < depth; ++k) L.ff.push_back(pick(ff_width, rng));
  } else {
    L.ff.assign(static_cast<std::size_t>(depth), pick(ff_width, rng));
  }
  return L;
}

Architecture DesignSpace::from_stacks(const std::vector<Layer>& stacks, int l) const {
  Architecture a;
  for (int i = 0; i < l; ++i)
    a.layers.push_back(stacks[static_cast<std::size_t>(i / layers_per_stack)]);
  return a;
}

std::vector<Layer> DesignSpace::stacks_of(const Architecture& a) const {
  std::vector<Layer> s;
  for (int i = 0; i < a.num_layers(); i += layers_per_stack)
    s.push_back(a.layers[static_cast<std::size_t>(i)]);
  return s;
}

Architecture DesignSpace::sample(Rng& rng) const {
  std::vector<BigInt> w;
  BigInt sum = 0;
  for (int l : layers) {
    w.push_back(count(l));
    sum += w.back();
  }
  BigInt r = uniform_below(sum, rng);
  std::size_t li = 0;
  while (r >= w[li]) r -= w[li++];
  const int l = layers[li];
  std::vector<Layer> stacks;
  for (int s = 0; s < num_stacks(l); ++s) stacks.push_back(sample_layer(rng));
  return from_stacks(stacks, l).canonical();
}

std::vector<Layer> DesignSpace::all_layers(std::uint64_t limit) const {
  if (layer_choices() > limit)
    throw InputError("space " + name + ": " + to_string(layer_choices()) +
                     " layer configurations are too many to list (limit " + std::to_string(limit) +
                     ")");
  const auto ops = head_ops();
  std::vector<std::vector<int>> ffs;
  for (int d : ff_depth) {
    if (!mixed_ff) {
      for (int w : ff_width) ffs.emplace_back(static_cast<std::size_t>(d), w);
      continue;
    }
    std::vector<std::size_t> digit(static_cast<std::size_t>(d), 0);
    for (;;) {
      std::vector<int> f;
      for (auto x : digit) f.push_back(ff_width[x]);
      ffs.push_back(f);
      std::size_t k = 0;
      while (k < digit.size() && ++digit[k] == ff_width.size()) digit[k++] = 0;
      if (k == digit.size()) break;
    }
  }
  std::vector<Layer> out;
  for (int h : hidden)
    for (int n : heads) {
      if (!heads_fit(h, n)) continue;
      std::vector<std::vector<Head>> head_sets;
      if (hetero) {
        std::vector<Head> cur;
        each_multiset(ops, 0, n, cur, [&](const std::vector<Head>& m) { head_sets.push_back(m); });
      } else {
        for (const auto& op : ops) head_sets.emplace_back(static_cast<std::size_t>(n), op);
      }
      for (const auto& hs : head_sets) {
        Layer L;
        L.hidden = h;
        L.heads = hs;
        const auto kernels =
            L.has_attention() ? attn_kernels : std::vector<AttnKernel>{AttnKernel::kSoftmax};
        for (auto k : kernels)
          for (auto act : activations)
            for (auto nm : norms)
              for (auto pl : placements)
                for (const auto& f : ffs) {
                  L.attn_kernel = k;
                  L.activation = act;
                  L.norm = nm;
                  L.norm_placement = pl;
                  L.ff = f;
                  out.push_back(L);
                }
      }
    }
  return out;
}

void DesignSpace::enumerate(const std::function<bool(const Architecture&)>& fn,
                            std::uint64_t limit) const {
  if (count() > limit)
    throw InputError("space " + name + " holds " + to_string(count()) +
                     " architectures, more than the enumeration limit " + std::to_string(limit) +
                     "; sample instead");
  const auto per = all_layers(limit);
  for (int l : layers) {
    const std::size_t stacks = static_cast<std::size_t>(num_stacks(l));
    std::vector<std::size_t> digit(stacks, 0);
    std::vector<Layer> cur(stacks, per[0]);
    for (;;) {
      for (std::size_t s = 0; s < stacks; ++s) cur[s] = per[digit[s]];
      if (!fn(from_stacks(cur, l))) return;
      std::size_t k = stacks;  // last stack varies fastest
      while (k > 0 && ++digit[k - 1] == per.size()) digit[--k] = 0;
      if (k == 0) break;
    }
  }
}

void DesignSpace::validate(const Architecture& a) const {
  const std::string sp = "space " + name;
  if (!has(layers, a.num_layers()))
    throw InputError("l = " + std::to_string(a.num_layers()) + " is not in " + sp + "'s layers " +
                     set_text(layers));
  const auto ops = head_ops();
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    const Layer& L = a.layers[j];
    const std::string at = "layer " + std::to_string(j + 1) + ": ";  // 1-based, as everywhere
    if (!has(hidden, L.hidden))
      throw InputError(at + "h = " + std::to_string(L.hidden) + " is not in " + sp +
                       "'s hidden sizes " + set_text(hidden));
    if (!has(heads, L.num_heads()))
      throw InputError(at + "n = " + std::to_string(L.num_heads()) + " heads is not in " + sp +
                       "'s head counts " + set_text(heads));
    if (!heads_fit(L.hidden, L.num_heads()))
      throw InputError(at + "n = " + std::to_string(L.num_heads()) + " heads do not divide h = " +
                       std::to_string(L.hidden) + " in " + sp + " (head_size: divides)");
    for (const auto& hd : L.heads) {
      const auto fam =
          std::find_if(operations.begin(), operations.end(),
                       [&](const OperationChoice& c) { return c.family == hd.family(); });
      if (fam == operations.end()) {
        std::string f;
        for (const auto& c : operations)
          f += (f.empty() ? "" : ", ") + std::string(to_string(c.family));
        throw InputError(at + "o = " + to_string(hd.family()) + " is not in " + sp +
                         "'s operations {" + f + "}");
      }
      if (!has(fam->params, hd.param())) {
        std::string ps;
        for (const auto& p : fam->params) ps += (ps.empty() ? "" : ", ") + p;
        throw InputError(at + "p = " + hd.param() + " is not a parameter of " +
                         to_string(hd.family()) + " in " + sp + " (allowed: " + ps + ")");
      }
    }
    if (!hetero && !L.homogeneous())
      throw InputError(at + "heads mix operations, but " + sp + " is not hetero");
    if (L.has_attention() && !has(attn_kernels, L.attn_kernel))
      throw InputError(at + "attn_kernel = " + to_string(L.attn_kernel) + " is not in " + sp +
                       "'s " + names_text(attn_kernels));
    if (!has(activations, L.activation))
      throw InputError(at + "activation = " + to_string(L.activation) + " is not in " + sp + "'s " +
                       names_text(activations));
    if (!has(norms, L.norm))
      throw InputError(at + "norm = " + to_string(L.norm) + " is not in " + sp + "'s " +
                       names_text(norms));
    if (!has(placements, L.norm_placement))
      throw InputError(at + "norm_placement = " + to_string(L.norm_placement) + " is not in " + sp +
                       "'s " + names_text(placements));
    if (!has(ff_depth, static_cast<int>(L.ff.size())))
      throw InputError(at + "f has " + std::to_string(L.ff.size()) + " dense layers, not in " + sp +
                       "'s depths " + set_text(ff_depth));
    for (int w : L.ff)
      if (!has(ff_width, w))
        throw InputError(at + "f width " + std::to_string(w) + " is not in " + sp + "'s widths " +
                         set_text(ff_width));
    if (!mixed_ff &&
        std::adjacent_find(L.ff.begin(), L.ff.end(), std::not_equal_to<>()) != L.ff.end())
      throw InputError(at + "f = " + set_text(L.ff) + " mixes widths, but " + sp +
                       " has mixed_ff: false");
    if (j % static_cast<std::size_t>(layers_per_stack) != 0) {
      const Layer& first = a.layers[j - j % static_cast<std::size_t>(layers_per_stack)];
      auto c1 = Architecture{{L}}.canonical(), c2 = Architecture{{first}}.canonical();
      if (!(c1 == c2))
        throw InputError(at + "differs from layer " +
                         std::to_string(j - j % static_cast<std::size_t>(layers_per_stack) + 1) +
                         ", but " + sp + " has " + std::to_string(layers_per_stack) +
                         " layers per stack sharing one choice");
    }
  }
}

bool DesignSpace::contains(const Architecture& a) const {
  try {
    validate(a);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

namespace {

int pick_other(const std::vector<int>& v, int cur, Rng& rng) {
  std::vector<int> o;
  for (int x : v)
    if (x != cur) o.push_back(x);
  return o.empty() ? cur : pick(o, rng);
}

template <typename T>
T pick_other(const std::vector<T>& v, T cur, Rng& rng) {
  std::vector<T> o;
  for (const auto& x : v)
    if (!(x == cur)) o.push_back(x);
  return o.empty() ? cur : pick(o, rng);
}

}  // namespace

Architecture DesignSpace::mutate(const Architecture& a, Rng& rng) const {
  const auto ops = head_ops();
  const auto original = a.canonical();
  const auto base = stacks_of(original);
  auto resize_heads = [&](Layer& L, int n) {
    if (hetero) {
      while (L.num_heads() > n)
        L.heads.erase(L.heads.begin() +
                      std::uniform_int_distribution<int>(0, L.num_heads() - 1)(rng));
      while (L.num_heads() < n) L.heads.push_back(pick(ops, rng));
    } else {
      L.heads.assign(static_cast<std::size_t>(n), L.heads[0]);
    }
  };
  auto repair = [&](Layer& L) {
    if (L.has_attention() && !has(attn_kernels, L.attn_kernel))
      L.attn_kernel = pick(attn_kernels, rng);
  };
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto stacks = base;
    int l = original.num_layers();
    auto& L = stacks[std::uniform_int_distribution<std::size_t>(0, stacks.size() - 1)(rng)];
    switch (std::uniform_int_distribution<int>(0, 10)(rng)) {
      case 0: {  // hidden size; keep the head count if it still divides
        L.hidden = pick_other(hidden, L.hidden, rng);
        if (!heads_fit(L.hidden, L.num_heads())) {
          std::vector<int> ok;
          for (int n : heads)
            if (heads_fit(L.hidden, n)) ok.push_back(n);
          if (ok.empty()) continue;
          resize_heads(L, pick(ok, rng));
        }
        break;
      }
      case 1: {  // head count
        std::vector<int> ok;
        for (int n : heads)
          if (heads_fit(L.hidden, n) && n != L.num_heads()) ok.push_back(n);
        if (ok.empty()) continue;
        resize_heads(L, pick(ok, rng));
        break;
      }
      case 2: {  // operation of one head (hetero) or of the layer
        if (hetero) {
          auto& hd =
              L.heads[std::uniform_int_distribution<std::size_t>(0, L.heads.size() - 1)(rng)];
          hd = pick_other(ops, hd, rng);
        } else {
          L.heads.assign(L.heads.size(), pick_other(ops, L.heads[0], rng));
        }
        break;
      }
      case 3:
        if (!L.has_attention()) continue;
        L.attn_kernel = pick_other(attn_kernels, L.attn_kernel, rng);
        break;
      case 4:
        L.activation = pick_other(activations, L.activation, rng);
        break;
      case 5:
        L.norm = pick_other(norms, L.norm, rng);
        break;
      case 6:
        L.norm_placement = pick_other(placements, L.norm_placement, rng);
        break;
      case 7: {  // feed-forward depth
        const int d = pick_other(ff_depth, static_cast<int>(L.ff.size()), rng);
        while (static_cast<int>(L.ff.size()) > d) L.ff.pop_back();
        while (static_cast<int>(L.ff.size()) < d)
          L.ff.push_back(mixed_ff ? pick(ff_width, rng) : L.ff[0]);
        break;
      }
      case 8: {  // feed-forward width (one position when widths may mix)
        if (mixed_ff) {
          auto& w = L.ff[std::uniform_int_distribution<std::size_t>(0, L.ff.size() - 1)(rng)];
          w = pick_other(ff_width, w, rng);
        } else {
          L.ff.assign(L.ff.size(), pick_other(ff_width, L.ff[0], rng));
        }
        break;
      }
      default: {  // add or remove stacks: move to the next allowed depth up or down
        std::vector<int> sorted = layers;
        std::sort(sorted.begin(), sorted.end());
        auto it = std::find(sorted.begin(), sorted.end(), l);
        std::vector<int> next;
        if (it != sorted.begin()) next.push_back(*(it - 1));
        if (it + 1 != sorted.end()) next.push_back(*(it + 1));
        if (next.empty()) continue;
        l = pick(next, rng);
        const std::size_t want = static_cast<std::size_t>(num_stacks(l));
        while (stacks.size() > want)
          stacks.erase(stacks.begin() +
                       std::uniform_int_distribution<std::ptrdiff_t>(
                           0, static_cast<std::ptrdiff_t>(stacks.size()) - 1)(rng));
        while (stacks.size() < want)
          stacks.insert(stacks.begin() + std::uniform_int_distribution<std::ptrdiff_t>(
                                             0, static_cast<std::ptrdiff_t>(stacks.size()))(rng),
                        sample_layer(rng));
        break;
      }
    }
    for (auto& s : stacks) repair(s);
    auto child = from_stacks(stacks, l).canonical();
    if (!(child == original) && contains(child)) return child;
  }
  return original;  // a space with a single architecture
}

Architecture DesignSpace::crossover(const Architecture& a, const Architecture& b, Rng& rng) const {
  const auto sa = stacks_of(a.canonical()), sb = stacks_of(b.canonical());
  std::bernoulli_distribution coin(0.5);
  const bool depth_from_a = coin(rng);
  const int l = depth_from_a ? a.num_layers() : b.num_layers();
  std::vector<Layer> child;
  for (std::size_t i = 0; i < static_cast<std::size_t>(num_stacks(l)); ++i) {
    const bool in_a = i < sa.size(), in_b = i < sb.size();
    if (in_a && in_b)
      child.push_back(coin(rng) ? sa[i] : sb[i]);
    else
      child.push_back(in_a ? sa[i] : sb[i]);
  }
  return from_stacks(child, l).canonical();
}

std::string DesignSpace::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  if (!description.empty()) out << YAML::Key << "description" << YAML::Value << description;
  out << YAML::Key << "layers" << YAML::Value << YAML::Flow << layers;
  out << YAML::Key << "layers_per_stack" << YAML::Value << layers_per_stack;
  out << YAML::Key << "mixed_ff" << YAML::Value << mixed_ff;
  out << YAML::Key << "hetero" << YAML::Value << hetero;
  out << YAML::Key << "hidden" << YAML::Value << YAML::Flow << hidden;
  out << YAML::Key << "heads" << YAML::Value << YAML::Flow << heads;
  if (head_size_floor) out << YAML::Key << "head_size" << YAML::Value << "floor";
  out << YAML::Key << "operations" << YAML::Value << YAML::BeginMap;
  for (const auto& op : operations)
    out << YAML::Key << to_string(op.family) << YAML::Value << YAML::Flow << op.params;
  out << YAML::EndMap;
  out << YAML::Key << "ff" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "depth" << YAML::Value << YAML::Flow << ff_depth;
  out << YAML::Key << "width" << YAML::Value << YAML::Flow << ff_width;
  out << YAML::EndMap;
  auto names = [&](const char* key, const auto& v) {
    std::vector<std::string> s;
    for (auto x : v) s.push_back(to_string(x));
    out << YAML::Key << key << YAML::Value << YAML::Flow << s;
  };
  names("attn_kernel", attn_kernels);
  names("activation", activations);
  names("norm", norms);
  names("norm_placement", placements);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace flexnas
