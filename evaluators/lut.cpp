// lut: a per-operation cost table measured on a device (YAML), summed over an
// architecture's layers. See docs/custom-cost-models.md for the format and the sum.
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/custom.hpp"

namespace flexnas {
namespace {

constexpr int kAny = -1;

// Shape of one lookup; kAny where the op has no such key (or an entry leaves it open).
struct Shape {
  int hidden = kAny, heads = kAny, in = kAny, out = kAny, seq = kAny;
};

enum class OpKind { kMixing, kDense, kNorm };  // kDense: ff and projection (in, out)

// Which kind of op a name is, or nullopt. Mixing ops are the model dict's head operations.
std::optional<OpKind> op_kind(const std::string& op) {
  if (op == "sa/sdp" || op == "sa/wma" || op == "l/dft" || op == "l/dct") return OpKind::kMixing;
  if (op.rfind("c/", 0) == 0 && op.size() > 2) {
    int k = 0;
    auto [p, ec] = std::from_chars(op.data() + 2, op.data() + op.size(), k);
    if (ec == std::errc() && p == op.data() + op.size() && k > 0) return OpKind::kMixing;
    return std::nullopt;
  }
  if (op == "ff" || op == "projection") return OpKind::kDense;
  if (op == "norm/layernorm" || op == "norm/rmsnorm") return OpKind::kNorm;
  return std::nullopt;
}

std::string key_of(const std::string& op, const Shape& s) {
  std::ostringstream k;
  k << op << "|" << s.hidden << "|" << s.heads << "|" << s.in << "|" << s.out << "|" << s.seq;
  return k.str();
}

std::string describe(const std::string& op, const Shape& s) {
  std::string d = op;
  auto add = [&](const char* n, int v) {
    if (v != kAny) d += std::string(" ") + n + "=" + std::to_string(v);
  };
  add("hidden", s.hidden);
  add("heads", s.heads);
  add("in", s.in);
  add("out", s.out);
  add("seq", s.seq);
  return d;
}

class LutEvaluator : public Evaluator {
 public:
  explicit LutEvaluator(const Options& o) : opts_(o.values()) {
    file_ = opts_.at("file");
    if (file_.empty()) throw InputError("evaluator lut: option file=FILE.yaml is required");
    if (o.has("seq")) seq_ = o.integer_as<int>("seq");
    load();
  }

  std::string name() const override { return "lut"; }
  std::vector<ValueSpec> provides() const override { return values_; }
  std::map<std::string, std::string> options() const override { return opts_; }

  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    const int seq = seq_ > 0 ? seq_ : ctx.seq;
    std::vector<double> sum(values_.size(), 0.0);
    std::string missing;
    auto add = [&](const std::string& op, Shape s, double times, int layer) {
      s.seq = seq;
      const auto* e = find(op, s);
      if (!e) {
        if (missing.empty())
          missing = "no entry for " + describe(op, s) + " (layer " + std::to_string(layer + 1) +
                    ") in " + file_;
        return;
      }
      for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += times * (*e)[k];
    };
    for (int j = 0; j < a.num_layers(); ++j) {
      const auto& l = a.layers[static_cast<std::size_t>(j)];
      // Mixing: an entry is the whole mixing sublayer of a layer whose heads all run that
      // op; a layer with mixed heads pays each op's entry in proportion to its heads.
      std::map<std::string, int> per_op;
      for (const auto& h : l.heads) ++per_op[std::string(to_string(h.family())) + "/" + h.param()];
      for (const auto& [op, count] : per_op) {
        Shape s;
        s.hidden = l.hidden;
        s.heads = l.num_heads();
        add(op, s, static_cast<double>(count) / static_cast<double>(l.num_heads()), j);
      }
      // Feed-forward: hidden -> f1 -> ... -> fk -> hidden, one dense entry each.
      int prev = l.hidden;
      std::vector<int> widths = l.ff;
      widths.push_back(l.hidden);
      for (int w : widths) {
        Shape s;
        s.in = prev;
        s.out = w;
        add("ff", s, 1.0, j);
        prev = w;
      }
      if (l.norm != NormKind::kNone) {
        Shape s;
        s.hidden = l.hidden;
        add(std::string("norm/") + to_string(l.norm), s,
            l.norm_placement == NormPlacement::kPeri ? 4.0 : 2.0, j);
      }
      if (j + 1 < a.num_layers() && a.layers[static_cast<std::size_t>(j) + 1].hidden != l.hidden) {
        Shape s;
        s.in = l.hidden;
        s.out = a.layers[static_cast<std::size_t>(j) + 1].hidden;
        add("projection", s, 1.0, j);
      }
    }
    EvalResult r;
    if (!missing.empty()) {
      r.status = EvalStatus::kFailed;
      r.message = missing;
      return r;
    }
    for (std::size_t k = 0; k < sum.size(); ++k) r.values[values_[k].name] = sum[k];
    return r;
  }

 private:
  // Exact shape first; an entry that leaves heads or seq open matches any, the heads key
  // counting more than seq: (heads, seq), (heads, any seq), (any heads, seq), (any, any).
  const std::vector<double>* find(const std::string& op, const Shape& s) const {
    for (int heads : {s.heads, kAny})
      for (int seq : {s.seq, kAny}) {
        Shape q = s;
        q.heads = s.heads == kAny ? kAny : heads;
        q.seq = seq;
        auto it = entries_.find(key_of(op, q));
        if (it != entries_.end()) return &it->second;
      }
    return nullptr;
  }

  std::string at(const YAML::Node& n) const {
    return file_ + ":" + std::to_string(n.Mark().line + 1);
  }

  int shape_int(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) throw InputError(at(n) + ": " + key + " must be a positive integer");
    return parse_integer<int>(n.Scalar(), at(n) + ": " + key, 1);  // strict: 0x80, 1e3 refused
  }

  void load() {
    std::ifstream in(file_);
    if (!in) throw InputError("evaluator lut: cannot read '" + file_ + "'");
    std::stringstream text;
    text << in.rdbuf();
    YAML::Node root;
    try {
      root = YAML::Load(text.str());
    } catch (const YAML::Exception& e) {
      throw InputError(file_ + ":" + std::to_string(e.mark.line + 1) +
                       ": malformed YAML: " + e.msg);
    }
    // What the checks below miss (a map used as a key, `{a: 1}: 2`, found by fuzz_lut_yaml)
    // is a yaml-cpp conversion error: bad input at its line, never an escaping exception.
    try {
      parse(root);
    } catch (const YAML::Exception& e) {
      throw InputError(file_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
  }

  void parse(const YAML::Node& root) {
    if (!root.IsMap()) throw InputError(file_ + ": not a YAML map with 'values' and 'entries'");
    for (const auto& kv : root) {
      const auto k = kv.first.as<std::string>();
      if (k != "device" && k != "description" && k != "values" && k != "entries")
        throw InputError(at(kv.first) + ": " + k +
                         ": unknown key (known: device, description, values, entries)");
    }
    const auto values = root["values"];
    if (!values || !values.IsSequence() || values.size() == 0)
      throw InputError(file_ + ": values: a list of {name, unit, direction} is required");
    for (const auto& v : values) {
      if (!v.IsMap())
        throw InputError(at(v) +
                         ": values: each entry is {name: ..., unit: ..., direction: min|max}");
      ValueSpec s;
      for (const auto& kv : v) {
        const auto k = kv.first.as<std::string>();
        const auto& x = kv.second;
        if (!x.IsScalar()) throw InputError(at(x) + ": values: " + k + " must be a scalar");
        if (k == "name")
          s.name = x.as<std::string>();
        else if (k == "unit")
          s.unit = x.as<std::string>();
        else if (k == "description")
          s.description = x.as<std::string>();
        else if (k == "direction") {
          const auto d = x.as<std::string>();
          if (d != "min" && d != "max")
            throw InputError(at(x) + ": values: direction '" + d + "' is not min or max");
          s.direction = d == "min" ? Direction::kMinimize : Direction::kMaximize;
        } else {
          throw InputError(at(kv.first) + ": values: " + k +
                           ": unknown key (known: name, unit, direction, description)");
        }
      }
      if (!valid_value_name(s.name))
        throw InputError(at(v) + ": values: name '" + s.name +
                         "' is missing or not letters, digits, _ . -");
      for (const auto& p : values_)
        if (p.name == s.name) throw InputError(at(v) + ": values: '" + s.name + "' listed twice");
      if (s.name == "op" || s.name == "hidden" || s.name == "heads" || s.name == "in" ||
          s.name == "out" || s.name == "seq")
        throw InputError(at(v) + ": values: '" + s.name + "' is a shape key, not a value name");
      if (s.description.empty()) s.description = "summed from " + file_;
      values_.push_back(std::move(s));
    }
    const auto entries = root["entries"];
    if (!entries || !entries.IsSequence())
      throw InputError(file_ + ": entries: a list of {op: ..., ...} is required");
    std::map<std::string, int> lines;
    for (const auto& e : entries) {
      if (!e.IsMap())
        throw InputError(at(e) +
                         ": entries: each entry is a map {op: ..., <shape keys>, <values>}");
      if (!e["op"] || !e["op"].IsScalar()) throw InputError(at(e) + ": entries: op is required");
      const auto op = e["op"].as<std::string>();
      const auto kind = op_kind(op);
      if (!kind)
        throw InputError(
            at(e["op"]) + ": op '" + op +
            "' is not one of sa/sdp, sa/wma, l/dft, l/dct, c/K, ff, projection, norm/layernorm, "
            "norm/rmsnorm");
      std::set<std::string> allowed = {"op", "seq"};
      std::vector<std::string> required;
      if (*kind == OpKind::kMixing) allowed.insert({"hidden", "heads"}), required = {"hidden"};
      if (*kind == OpKind::kDense) allowed.insert({"in", "out"}), required = {"in", "out"};
      if (*kind == OpKind::kNorm) allowed.insert("hidden"), required = {"hidden"};
      Shape s;
      std::vector<double> vals(values_.size(), NAN);
      for (const auto& kv : e) {
        const auto k = kv.first.as<std::string>();
        const auto& x = kv.second;
        if (k == "op") continue;
        bool is_value = false;
        for (std::size_t i = 0; i < values_.size(); ++i) {
          if (values_[i].name != k) continue;
          is_value = true;
          if (!x.IsScalar())
            throw InputError(at(x) + ": " + op + ": " + k + " must be a finite number");
          vals[i] = parse_real(x.Scalar(), at(x) + ": " + op + ": " + k);
        }
        if (is_value) continue;
        if (!allowed.count(k)) {
          std::string known;
          for (const auto& a : allowed)
            if (a != "op") known += (known.empty() ? "" : ", ") + a;
          for (const auto& v : values_) known += ", " + v.name;
          throw InputError(at(kv.first) + ": " + op + ": " + k + ": unknown key (known: " + known +
                           ")");
        }
        const int v = shape_int(x, k);
        if (k == "hidden") s.hidden = v;
        if (k == "heads") s.heads = v;
        if (k == "in") s.in = v;
        if (k == "out") s.out = v;
        if (k == "seq") s.seq = v;
      }
      for (const auto& k : required)
        if (!e[k]) throw InputError(at(e) + ": " + op + ": " + k + " is required");
      for (std::size_t i = 0; i < values_.size(); ++i)
        if (std::isnan(vals[i]))
          throw InputError(at(e) + ": " + op + ": value " + values_[i].name + " is missing");
      // n heads of hidden // n dimensions each (FlexiBERT 2.0 head sizes: n need not divide
      // hidden, as in model dicts); every head needs at least one dimension.
      if (*kind == OpKind::kMixing && s.heads != kAny && s.heads > s.hidden)
        throw InputError(at(e) + ": " + op + ": heads=" + std::to_string(s.heads) +
                         " exceed hidden=" + std::to_string(s.hidden) +
                         " (each head needs at least one dimension)");
      const auto key = key_of(op, s);
      const int line = e.Mark().line + 1;
      if (lines.count(key))
        throw InputError(at(e) + ": duplicate entry " + describe(op, s) + " (first at line " +
                         std::to_string(lines[key]) + ")");
      lines[key] = line;
      entries_[key] = std::move(vals);
    }
    if (entries_.empty()) throw InputError(file_ + ": entries: the table is empty");
  }

  std::map<std::string, std::string> opts_;
  std::string file_;
  int seq_ = 0;
  std::vector<ValueSpec> values_;
  std::map<std::string, std::vector<double>> entries_;
};

}  // namespace

void register_lut(EvaluatorRegistry& r) {
  r.add({"lut",
         "per-operation cost table measured on a device (YAML), summed over the layers",
         {OptionSpec::text("file", "", "the table (docs/custom-cost-models.md)"),
          OptionSpec::optional_integer("seq", 1, 1 << 20,
                                       "sequence length to look up (default: the context's, 128)")},
         [](const auto& o) { return std::make_unique<LutEvaluator>(o); }});
}

}  // namespace flexnas
