#include "evaluators/arch_features.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
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

// Model-dict spelling of an operation in feature names (conv for the convolution).
std::string op_name(Op op) {
  const std::string p = op_info(op).param;
  return p.empty() ? "conv" : p;
}

// Parts of the FLOPs features: "" (the whole encoder), each operation's heads, "ff".
std::vector<std::string> flops_parts() {
  std::vector<std::string> out = {""};
  for (const auto& row : op_table()) out.push_back(op_name(row.op));
  out.push_back("ff");
  return out;
}

// Digits -> N in 1..2^20, or 0.
int parse_seq(const std::string& digits) {
  if (digits.empty() || digits.size() > 7 || digits[0] == '0') return 0;
  long v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= (1 << 20) ? static_cast<int>(v) : 0;
}

// gflops[_PART]_seq<N> -> {PART, N}; N is 0 when the name is not of that form.
std::pair<std::string, int> flops_feature(const std::string& name) {
  for (const auto& part : flops_parts()) {
    const std::string p = "gflops_" + (part.empty() ? "" : part + "_") + "seq";
    if (name.size() > p.size() && name.rfind(p, 0) == 0)
      if (const int n = parse_seq(name.substr(p.size()))) return {part, n};
  }
  return {"", 0};
}

std::string flops_name(const std::string& part, int seq) {
  return "gflops_" + (part.empty() ? "" : part + "_") + "seq" + std::to_string(seq);
}

const std::vector<std::pair<std::string, std::string>>& op_features() {
  static const std::vector<std::pair<std::string, std::string>> f = [] {
    std::vector<std::pair<std::string, std::string>> v;
    for (const auto& row : op_table())
      v.emplace_back("heads_" + op_name(row.op), op_name(row.op) + " heads, all layers");
    v.emplace_back("params_m", "parameters in millions, embeddings included");
    return v;
  }();
  return f;
}

bool known(const std::string& name) {
  auto has = [&](const auto& f) {
    return std::any_of(f.begin(), f.end(), [&](const auto& p) { return p.first == name; });
  };
  return flops_feature(name).second > 0 || has(fixed_features()) || has(op_features());
}

}  // namespace

std::vector<std::string> arch_feature_names(int seq) {
  std::vector<std::string> out;
  for (const auto& [name, what] : fixed_features()) out.push_back(name);
  for (const auto& [name, what] : op_features()) out.push_back(name);
  const auto parts = flops_parts();
  for (std::size_t k = 1; k < parts.size(); ++k) out.push_back(flops_name(parts[k], seq));
  out.push_back(flops_name("", seq));
  return out;
}

std::string arch_feature_description(const std::string& name) {
  for (const auto& [n, what] : fixed_features())
    if (n == name) return what;
  for (const auto& [n, what] : op_features())
    if (n == name) return what;
  const auto [part, seq] = flops_feature(name);
  if (seq == 0) return "";
  const std::string where = part.empty()   ? "encoder forward"
                            : part == "ff" ? "feed-forward stacks'"
                                           : part + " heads'";
  return where + " GFLOPs for one sequence of length " + std::to_string(seq);
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
  std::map<Op, double> per_op;
  for (const auto& layer : a.layers) {
    hid += layer.hidden;
    hmax = std::max(hmax, static_cast<double>(layer.hidden));
    heads += layer.num_heads();
    for (const auto& h : layer.heads) {
      per_op[h.op] += 1;
      switch (h.op) {
        case Op::kSdp:
        case Op::kWma:
          sa += 1;
          break;
        case Op::kDft:
        case Op::kDct:
          l += 1;
          break;
        case Op::kConv:
          c += 1;
          break;
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
  for (const auto& row : op_table()) v["heads_" + op_name(row.op)] = per_op[row.op];
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
    const auto [part, seq] = flops_feature(n);
    if (n == "encoder_params_m") {
      out.push_back(static_cast<double>(stat(128).encoder_params) / 1e6);
    } else if (n == "params_m") {
      out.push_back(static_cast<double>(stat(128).params) / 1e6);
    } else if (seq > 0) {
      const auto& st = stat(seq);
      double f = st.flops;
      if (part == "ff") f = st.ff_flops;
      for (const auto& row : op_table())
        if (part == op_name(row.op)) f = st.op_flops[static_cast<std::size_t>(row.op)];
      out.push_back(f / 1e9);
    } else {
      out.push_back(v.at(n));
    }
  }
  return out;
}

bool is_model_table(const std::string& path) {
  auto ends = [&](const std::string& e) {
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".jsonl") || ends(".ndjson")) return true;
  std::ifstream in(path);
  char c = 0;
  while (in.get(c))
    if (!std::isspace(static_cast<unsigned char>(c))) return c == '{';
  return false;
}

latency::Table read_model_table(const std::string& path, const std::vector<std::string>& names) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read file '" + path + "'");
  latency::Table t;
  t.path = path;
  t.columns = names;
  std::vector<std::map<std::string, std::string>> extra;
  std::string line;
  char buf[40];
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw InputError(where + ": malformed JSON line");
    }
    if (!j.is_object() || !j.contains("model"))
      throw InputError(where + ": not an object with a \"model\" field");
    std::vector<double> f;
    try {
      f = arch_features(architecture_from_json(nlohmann::json::parse(j["model"].dump())), names);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where + ": " + e.what());
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what());
    }
    std::vector<std::string> row;
    for (double v : f) {
      std::snprintf(buf, sizeof buf, "%.17g", v);
      row.push_back(buf);
    }
    std::map<std::string, std::string> more;
    for (const auto& [key, value] : j.items()) {
      if (key == "model") continue;
      if (std::find(t.columns.begin(), t.columns.end(), key) == t.columns.end())
        t.columns.push_back(key);
      if (value.is_number()) {
        std::snprintf(buf, sizeof buf, "%.17g", value.get<double>());
        more[key] = buf;
      } else {
        more[key] = value.dump();
      }
    }
    t.cells.push_back(std::move(row));
    t.lines.push_back(n);
    extra.push_back(std::move(more));
  }
  if (t.cells.empty()) throw InputError("file '" + path + "' holds no models");
  for (std::size_t r = 0; r < t.cells.size(); ++r)
    for (std::size_t c = names.size(); c < t.columns.size(); ++c) {
      const auto it = extra[r].find(t.columns[c]);
      t.cells[r].push_back(it == extra[r].end() ? std::string() : it->second);
    }
  return t;
}

}  // namespace flexnas
