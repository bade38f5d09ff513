#include "evaluators/arch_features.hpp"

#include <algorithm>
#include <map>

#include "space/error.hpp"
#include "space/model_stats.hpp"

namespace flexnas {
namespace {

const std::vector<std::pair<std::string, std::string>>& fixed_features() {
  static const std::vector<std::pair<std::string, std::string>> f = {
      {"layers", "number of encoder layers"},
      {"hidden_mean", "mean hidden size over layers"},
      {"hidden_max", "largest hidden size"},
      {"heads_mean", "mean heads per layer"},
      {"heads_total", "heads summed over layers"},
      {"heads_sa", "self-attention heads (sdp and wma), all layers"},
      {"heads_l", "linear-mixing heads (dft and dct), all layers"},
      {"heads_c", "convolution heads, all layers"},
      {"ff_depth_mean", "mean feed-forward stack depth"},
      {"ff_width_mean", "mean width of the feed-forward layers, all layers"},
      {"ff_width_sum", "feed-forward widths summed over every stack"},
      {"encoder_params_m", "encoder parameters in millions (no embeddings)"},
  };
  return f;
}

// gflops_seq<N> -> N, or 0 when the name is not of that form.
int flops_seq(const std::string& name) {
  const std::string p = "gflops_seq";
  if (name.rfind(p, 0) != 0 || name.size() == p.size() || name.size() > p.size() + 7) return 0;
  long v = 0;
  for (std::size_t i = p.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + (name[i] - '0');
  }
  if (name[p.size()] == '0' || v < 1 || v > (1 << 20)) return 0;
  return static_cast<int>(v);
}

bool known(const std::string& name) {
  const auto& f = fixed_features();
  return flops_seq(name) > 0 ||
         std::any_of(f.begin(), f.end(), [&](const auto& p) { return p.first == name; });
}

}  // namespace

std::vector<std::string> arch_feature_names(int seq) {
  std::vector<std::string> out;
  for (const auto& [name, what] : fixed_features()) out.push_back(name);
  out.push_back("gflops_seq" + std::to_string(seq));
  return out;
}

std::string arch_feature_description(const std::string& name) {
  for (const auto& [n, what] : fixed_features())
    if (n == name) return what;
  if (const int s = flops_seq(name))
    return "encoder forward GFLOPs for one sequence of length " + std::to_string(s);
  return "";
}

std::vector<std::string> unknown_arch_features(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (!known(n)) out.push_back(n);
  return out;
}

std::vector<double> arch_features(const Architecture& a, const std::vector<std::string>& names) {
  if (const auto bad = unknown_arch_features(names); !bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += (list.empty() ? "" : ", ") + b;
    throw InputError("not architecture features: " + list);
  }
  std::map<std::string, double> v;
  const double L = a.num_layers();
  double hid = 0, hmax = 0, heads = 0, sa = 0, l = 0, c = 0, depth = 0, wsum = 0, wcount = 0;
  for (const auto& layer : a.layers) {
    hid += layer.hidden;
    hmax = std::max(hmax, static_cast<double>(layer.hidden));
    heads += layer.num_heads();
    for (const auto& h : layer.heads) {
      switch (h.op) {
        case Op::kSdp:
        case Op::kWma: sa += 1; break;
        case Op::kDft:
        case Op::kDct: l += 1; break;
        case Op::kConv: c += 1; break;
      }
    }
    depth += static_cast<double>(layer.ff.size());
    for (int w : layer.ff) {
      wsum += w;
      wcount += 1;
    }
  }
  const double div = L > 0 ? L : 1;
  v["layers"] = L;
  v["hidden_mean"] = hid / div;
  v["hidden_max"] = hmax;
  v["heads_mean"] = heads / div;
  v["heads_total"] = heads;
  v["heads_sa"] = sa;
  v["heads_l"] = l;
  v["heads_c"] = c;
  v["ff_depth_mean"] = depth / div;
  v["ff_width_mean"] = wcount > 0 ? wsum / wcount : 0;
  v["ff_width_sum"] = wsum;
  std::map<int, ModelStats> stats;  // per sequence length
  auto stat = [&](int seq) -> const ModelStats& {
    auto it = stats.find(seq);
    if (it == stats.end()) {
      ModelStatsOptions o;
      o.seq = seq;
      it = stats.emplace(seq, model_stats(a, o)).first;
    }
    return it->second;
  };
  std::vector<double> out;
  for (const auto& n : names) {
    if (n == "encoder_params_m")
      out.push_back(static_cast<double>(stat(128).encoder_params) / 1e6);
    else if (const int s = flops_seq(n))
      out.push_back(stat(s).flops / 1e9);
    else
      out.push_back(v.at(n));
  }
  return out;
}

}  // namespace flexnas
