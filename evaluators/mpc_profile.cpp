#include "evaluators/mpc_profile.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/options.hpp"

namespace flexnas {
namespace {

// A mapping whose keys are checked against `known`; fields are read by name.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string where, std::vector<std::string> known,
         std::string prefix = "")
      : node_(node), where_(std::move(where)), prefix_(std::move(prefix)) {
    if (!node_.IsMap()) throw InputError(where_ + ": expected a mapping");
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      bool ok = false;
      for (const auto& k : known) ok = ok || k == key;
      if (!ok) throw InputError(at(key) + ": unknown field (known: " + join(known) + ")");
    }
  }
  std::string at(const std::string& key) const {
    return where_ + ": field '" + prefix() + key + "'";
  }
  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  const YAML::Node node(const std::string& key) const {
    if (!node_[key]) throw InputError(at(key) + " is missing");
    return node_[key];
  }
  std::string str(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto n = node_[key];
    if (!n.IsScalar()) throw InputError(at(key) + " must be a string");
    return n.as<std::string>();
  }
  std::int64_t integer(const std::string& key, std::int64_t lo, std::int64_t hi) const {
    const auto n = node(key);
    std::int64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<std::int64_t>::decode(n, v) || v < lo || v > hi)
      throw InputError(at(key) + " must be an integer in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got '" +
                       (n.IsScalar() ? n.as<std::string>() : std::string("a collection")) + "'");
    return v;
  }
  double positive(const std::string& key) const {
    const auto n = node(key);
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v) || v <= 0)
      throw InputError(at(key) + " must be a positive number, got '" +
                       (n.IsScalar() ? n.as<std::string>() : std::string("a collection")) + "'");
    return v;
  }
  Fields sub(const std::string& key, std::vector<std::string> known) const {
    if (!node(key).IsMap()) throw InputError(at(key) + " must be a mapping");
    return Fields(node(key), where_, std::move(known), prefix() + key + ".");
  }

 private:
  std::string prefix() const { return prefix_; }
  YAML::Node node_;
  std::string where_;
  std::string prefix_;
};

YAML::Node load_yaml(const std::string& text, const std::string& where) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) throw InputError(where + ": a profile must be a YAML or JSON mapping");
    return root;
  } catch (const YAML::Exception& e) {
    throw InputError(where + ":" + std::to_string(e.mark.line + 1) +
                     ": malformed YAML/JSON: " + e.msg);
  }
}

PrimitiveCost primitive(const Fields& prims, const std::string& key) {
  // Sub-mapping {rounds, bytes}; the error names e.g. "primitives.open.bytes".
  const Fields f = prims.sub(key, {"rounds", "bytes"});
  return {f.integer("rounds", 0, 1000), f.integer("bytes", 0, std::int64_t{1} << 40)};
}

std::string stem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

template <class Profile>
Profile load_profile(const std::string& arg, const char* kind, const char* noun,
                     Profile (*parse)(const std::string&, const std::string&)) {
  for (const auto& b : builtin_mpc_profile_texts())
    if (std::strcmp(b.kind, kind) == 0 && arg == b.name)
      return parse(b.text, std::string("built-in ") + noun + " " + b.name);
  std::error_code ec;
  if (!arg.empty() && std::filesystem::is_regular_file(arg, ec)) {
    std::ifstream in(arg);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) throw InputError("cannot read " + std::string(noun) + " file '" + arg + "'");
    Profile p = parse(ss.str(), arg);
    if (p.name.empty()) p.name = stem(arg);
    return p;
  }
  std::vector<std::string> names;
  for (const auto& b : builtin_mpc_profile_texts())
    if (std::strcmp(b.kind, kind) == 0) names.emplace_back(b.name);
  throw InputError("unknown " + std::string(noun) + " '" + arg + "' (valid: " + join(names) +
                   ", or a path to a YAML/JSON " + noun + " file)");
}

}  // namespace

double NetworkProfile::latency_s(std::int64_t rounds, std::int64_t bytes) const {
  return static_cast<double>(rounds) * rtt_ms * 1e-3 +
         static_cast<double>(bytes) * 8.0 / (bandwidth_mbps * 1e6);
}

ProtocolProfile parse_protocol(const std::string& text, const std::string& where) {
  const YAML::Node root = load_yaml(text, where);
  try {
    const Fields f(
        root, where,
        {"name", "description", "ring_bits", "frac_bits", "primitives", "iterations", "max"});
    ProtocolProfile p;
    p.name = f.str("name", "");
    p.description = f.str("description", "");
    p.ring_bits = static_cast<int>(f.integer("ring_bits", 2, 1024));
    if ((p.ring_bits & (p.ring_bits - 1)) != 0)
      throw InputError(f.at("ring_bits") + " must be a power of two, got " +
                       std::to_string(p.ring_bits));
    p.frac_bits = static_cast<int>(f.integer("frac_bits", 0, p.ring_bits - 1));
    const Fields prims = f.sub("primitives", {"open", "and", "b2a_bit", "truncate"});
    p.open = primitive(prims, "open");
    p.and_gate = primitive(prims, "and");
    p.b2a_bit = primitive(prims, "b2a_bit");
    p.truncate = primitive(prims, "truncate");
    const Fields it =
        f.sub("iterations", {"exp", "reciprocal_nr", "inv_sqrt_nr", "erf_terms", "sigmoid_nr"});
    p.exp_iters = static_cast<int>(it.integer("exp", 0, 64));
    p.reciprocal_nr = static_cast<int>(it.integer("reciprocal_nr", 0, 1000));
    p.inv_sqrt_nr = static_cast<int>(it.integer("inv_sqrt_nr", 0, 1000));
    p.erf_terms = static_cast<int>(it.integer("erf_terms", 0, 64));
    p.sigmoid_nr = static_cast<int>(it.integer("sigmoid_nr", 0, 1000));
    const std::string m = f.str("max", "log_reduction");
    if (m == "log_reduction")
      p.max_method = MaxMethod::kLogReduction;
    else if (m == "pairwise")
      p.max_method = MaxMethod::kPairwise;
    else
      throw InputError(f.at("max") + " must be log_reduction or pairwise, got '" + m + "'");
    return p;
  } catch (const YAML::Exception& e) {
    throw InputError(where + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

NetworkProfile parse_network(const std::string& text, const std::string& where) {
  const YAML::Node root = load_yaml(text, where);
  try {
    const Fields f(root, where, {"name", "description", "bandwidth_mbps", "rtt_ms"});
    NetworkProfile n;
    n.name = f.str("name", "");
    n.description = f.str("description", "");
    n.bandwidth_mbps = f.positive("bandwidth_mbps");
    const auto rtt = f.node("rtt_ms");
    double v = -1;
    if (!rtt.IsScalar() || !YAML::convert<double>::decode(rtt, v) || !std::isfinite(v) || v < 0)
      throw InputError(f.at("rtt_ms") + " must be a number >= 0, got '" +
                       (rtt.IsScalar() ? rtt.as<std::string>() : std::string("a collection")) +
                       "'");
    n.rtt_ms = v;
    return n;
  } catch (const YAML::Exception& e) {
    throw InputError(where + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

ProtocolProfile load_protocol(const std::string& name_or_path) {
  return load_profile<ProtocolProfile>(name_or_path, "protocols", "protocol", parse_protocol);
}

NetworkProfile load_network(const std::string& name_or_path) {
  return load_profile<NetworkProfile>(name_or_path, "networks", "network", parse_network);
}

std::vector<std::string> builtin_protocol_names() {
  std::vector<std::string> v;
  for (const auto& b : builtin_mpc_profile_texts())
    if (std::strcmp(b.kind, "protocols") == 0) v.emplace_back(b.name);
  return v;
}

std::vector<std::string> builtin_network_names() {
  std::vector<std::string> v;
  for (const auto& b : builtin_mpc_profile_texts())
    if (std::strcmp(b.kind, "networks") == 0) v.emplace_back(b.name);
  return v;
}

}  // namespace flexnas
