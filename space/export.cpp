#include "space/export.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numbers>
#include <string_view>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas {

// ---------------------------------------------------------------- Hugging Face config ---

nlohmann::ordered_json hf_config(const Architecture& a, const ExportOptions& opt) {
  if (a.layers.empty()) throw InputError("model: an architecture needs at least one layer");
  nlohmann::ordered_json j;
  j["model_type"] = "flexibert";
  j["architectures"] = {"FlexiBERTForSequenceClassification"};
  j["num_hidden_layers"] = a.num_layers();
  auto list = [&](auto f) {
    nlohmann::ordered_json v = nlohmann::ordered_json::array();
    for (const auto& L : a.layers) v.push_back(f(L));
    return v;
  };
  j["hidden_dim_list"] = list([](const Layer& L) { return L.hidden; });
  j["attention_heads_list"] = list([](const Layer& L) { return L.num_heads(); });
  j["ff_dim_list"] = list([](const Layer& L) { return L.ff; });
  j["operation_types_list"] = list([](const Layer& L) {
    std::vector<std::string> v;
    for (const auto& h : L.heads) v.push_back(to_string(h.family()));
    return v;
  });
  j["operation_parameters_list"] = list([](const Layer& L) {
    std::vector<std::string> v;
    for (const auto& h : L.heads) v.push_back(h.param());
    return v;
  });
  j["attention_kernel_list"] = list([](const Layer& L) { return to_string(L.attn_kernel); });
  j["hidden_act_list"] = list([](const Layer& L) { return to_string(L.activation); });
  j["norm_list"] = list([](const Layer& L) { return to_string(L.norm); });
  j["norm_placement_list"] = list([](const Layer& L) { return to_string(L.norm_placement); });
  j["vocab_size"] = opt.vocab;
  j["max_position_embeddings"] = opt.max_positions;
  j["type_vocab_size"] = 2;
  j["num_labels"] = opt.num_labels;
  j["layer_norm_eps"] = 1e-12;
  j["initializer_range"] = 0.02;
  j["model_dict"] = to_json(a);
  return j;
}

bool is_hf_config(const nlohmann::json& j) {
  // Not j.value(): a model_type that is not a string must be "not an hf config", not a
  // json type_error (exit 1).
  return j.is_object() && j.contains("model_type") && j.at("model_type") == "flexibert";
}

Architecture architecture_from_hf(const nlohmann::json& j) {
  if (!is_hf_config(j)) throw InputError("config: model_type is not \"flexibert\"");
  auto get = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key) || !j.at(key).is_array() ||
        j.at(key).size() != j.at("hidden_dim_list").size())
      throw InputError(std::string("config: field '") + key +
                       "' is missing or its length differs from hidden_dim_list");
    return j.at(key);
  };
  if (!j.contains("hidden_dim_list") || !j.at("hidden_dim_list").is_array())
    throw InputError("config: field 'hidden_dim_list' is missing");
  // Rebuild the hetero-form model dict and let the model-dict parser validate it.
  try {
    const auto& hid = get("hidden_dim_list");
    const auto& ops = get("operation_types_list");
    const auto& par = get("operation_parameters_list");
    nlohmann::json d;
    d["l"] = hid.size();
    d["h"] = hid;
    d["f"] = get("ff_dim_list");
    nlohmann::json o = nlohmann::json::array();
    for (std::size_t i = 0; i < hid.size(); ++i) {
      const int h = json_integer<int>(hid[i], "config: hidden_dim_list[" + std::to_string(i) + "]",
                                      1, std::numeric_limits<int>::max());
      const auto n = ops[i].size();
      if (n == 0 || par[i].size() != n)
        throw InputError("config: layer " + std::to_string(i + 1) +
                         " has no heads or mismatched lists");
      nlohmann::json heads = nlohmann::json::array();
      for (std::size_t k = 0; k < n; ++k)
        heads.push_back(ops[i][k].get<std::string>() + "_" + par[i][k].get<std::string>() + "_" +
                        std::to_string(h / static_cast<int>(n)));
      o.push_back(heads);
    }
    d["o"] = o;
    d["attn_kernel"] = get("attention_kernel_list");
    d["activation"] = get("hidden_act_list");
    d["norm"] = get("norm_list");
    d["norm_placement"] = get("norm_placement_list");
    return architecture_from_json(d);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("config: ") + e.what());
  }
}

// ------------------------------------------------------------------ protobuf wire ---
// ONNX is protobuf; we write the few messages we need directly in the wire format
// (field numbers from the ONNX IR spec), see docs/export.md for why.
namespace {

class Msg {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      buf_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf_ += static_cast<char>(v);
  }
  void key(int field, int wire) {
    varint(static_cast<std::uint64_t>(field) << 3 | static_cast<unsigned>(wire));
  }
  void i64(int field, std::int64_t v) {
    key(field, 0);
    varint(static_cast<std::uint64_t>(v));
  }
  void f32(int field, float v) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    buf_.append(b, 4);
  }
  void bytes(int field, std::string_view s) {
    key(field, 2);
    varint(s.size());
    buf_.append(s.data(), s.size());
  }
  void msg(int field, const Msg& m) { bytes(field, m.buf_); }
  const std::string& str() const { return buf_; }

 private:
  std::string buf_;
};

// Field numbers (onnx IR): ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto, TypeProto(.Tensor), TensorShapeProto(.Dimension), OperatorSetIdProto,
// StringStringEntryProto.
enum : int {
  kModelIrVersion = 1,
  kModelProducerName = 2,
  kModelProducerVersion = 3,
  kModelDocString = 6,
  kModelGraph = 7,
  kModelOpset = 8,
  kModelMetadata = 14,
  kOpsetDomain = 1,
  kOpsetVersion = 2,
  kGraphNode = 1,
  kGraphName = 2,
  kGraphInitializer = 5,
  kGraphInput = 11,
  kGraphOutput = 12,
  kNodeInput = 1,
  kNodeOutput = 2,
  kNodeName = 3,
  kNodeOpType = 4,
  kNodeAttribute = 5,
  kAttrName = 1,
  kAttrF = 2,
  kAttrI = 3,
  kAttrInts = 8,
  kAttrType = 20,
  kAttrTypeFloat = 1,
  kAttrTypeInt = 2,
  kAttrTypeInts = 7,
  kTensorDims = 1,
  kTensorDataType = 2,
  kTensorName = 8,
  kTensorRawData = 9,
  kFloat = 1,
  kInt64 = 7,
  kValueName = 1,
  kValueType = 2,
  kTypeTensor = 1,
  kTensorElemType = 1,
  kTensorShape = 2,
  kShapeDim = 1,
  kDimValue = 1,
  kDimParam = 2,
  kEntryKey = 1,
  kEntryValue = 2,
};

struct Attr {
  std::string name;
  enum Kind { kI, kF, kInts } kind;
  std::int64_t i = 0;
  float f = 0;
  std::vector<std::int64_t> ints;
};
Attr ai(std::string n, std::int64_t v) {
  return {std::move(n), Attr::kI, v, 0.f, {}};
}
Attr af(std::string n, float v) {
  return {std::move(n), Attr::kF, 0, v, {}};
}
Attr ais(std::string n, std::vector<std::int64_t> v) {
  return {std::move(n), Attr::kInts, 0, 0.f, std::move(v)};
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<float> dct_matrix(int n) {
  std::vector<float> m(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < n; ++i)
      m[static_cast<std::size_t>(k * n + i)] = static_cast<float>(
          std::sqrt((k == 0 ? 1.0 : 2.0) / n) * std::cos(std::numbers::pi / n * (i + 0.5) * k));
  return m;
}
std::vector<float> dft_matrix(int n, bool sine) {
  std::vector<float> m(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < n; ++i) {
      const double a =
          2 * std::numbers::pi * static_cast<double>((static_cast<long>(k) * i) % n) / n;
      m[static_cast<std::size_t>(k * n + i)] = static_cast<float>(
          (sine ? std::sin(a) : std::cos(a)) / std::sqrt(static_cast<double>(n)));
    }
  return m;
}
// x [.., n] times the transform along the last axis is x M^T; M is symmetric for the DFT,
// transposed here for the DCT.
std::vector<float> transposed(const std::vector<float>& m, int n) {
  std::vector<float> t(m.size());
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      t[static_cast<std::size_t>(i * n + k)] = m[static_cast<std::size_t>(k * n + i)];
  return t;
}

class OnnxBuilder {
 public:
  explicit OnnxBuilder(const ExportOptions& opt) : opt_(opt) {}

  std::string node(const std::string& op, std::vector<std::string> in, const std::string& name,
                   std::vector<Attr> attrs = {}, const std::string& out_name = "") {
    const std::string out = out_name.empty() ? name + ":" + std::to_string(counter_++) : out_name;
    Msg n;
    for (const auto& i : in) n.bytes(kNodeInput, i);
    n.bytes(kNodeOutput, out);
    n.bytes(kNodeName, out);
    n.bytes(kNodeOpType, op);
    for (const auto& a : attrs) {
      Msg m;
      m.bytes(kAttrName, a.name);
      if (a.kind == Attr::kI) {
        m.i64(kAttrI, a.i);
        m.i64(kAttrType, kAttrTypeInt);
      } else if (a.kind == Attr::kF) {
        m.f32(kAttrF, a.f);
        m.i64(kAttrType, kAttrTypeFloat);
      } else {
        for (auto v : a.ints) m.i64(kAttrInts, v);
        m.i64(kAttrType, kAttrTypeInts);
      }
      n.msg(kNodeAttribute, m);
    }
    graph_.msg(kGraphNode, n);
    return out;
  }

  // Float initializer with explicit values.
  std::string tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<float>& v) {
    Msg t;
    for (auto d : dims) t.i64(kTensorDims, d);
    t.i64(kTensorDataType, kFloat);
    t.bytes(kTensorName, name);
    std::string raw(v.size() * 4, '\0');
    for (std::size_t i = 0; i < v.size(); ++i)
      std::memcpy(&raw[4 * i], &v[i], 4);  // little endian host
    t.bytes(kTensorRawData, raw);
    graph_.msg(kGraphInitializer, t);
    return name;
  }
  std::string tensor_i64(const std::string& name, const std::vector<std::int64_t>& dims,
                         const std::vector<std::int64_t>& v) {
    Msg t;
    for (auto d : dims) t.i64(kTensorDims, d);
    t.i64(kTensorDataType, kInt64);
    t.bytes(kTensorName, name);
    std::string raw(v.size() * 8, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) std::memcpy(&raw[8 * i], &v[i], 8);
    t.bytes(kTensorRawData, raw);
    graph_.msg(kGraphInitializer, t);
    return name;
  }
  // A learned parameter: from the weight hook when it has it, else seeded random values:
  // kind 'w' normal(0, 0.02), 'b' zeros, 'g' ones.
  std::string param(const std::string& name, const std::vector<std::int64_t>& dims, char kind) {
    std::size_t n = 1;
    for (auto d : dims) n *= static_cast<std::size_t>(d);
    std::vector<float> v;
    if (!(opt_.weights && opt_.weights(name, dims, v))) {
      v.assign(n, kind == 'g' ? 1.f : 0.f);
      if (kind == 'w') {
        std::uint64_t s = opt_.seed ^ fnv1a(name);
        for (std::size_t i = 0; i < n; i += 2) {  // Box-Muller, two values per draw
          const double u1 = (static_cast<double>(splitmix(s) >> 11) + 1.0) / 9007199254740993.0;
          const double u2 = static_cast<double>(splitmix(s) >> 11) / 9007199254740992.0;
          const double r = 0.02 * std::sqrt(-2 * std::log(u1));
          v[i] = static_cast<float>(r * std::cos(2 * std::numbers::pi * u2));
          if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(2 * std::numbers::pi * u2));
        }
      }
    } else if (v.size() != n) {
      throw InputError("weights for " + name + " have " + std::to_string(v.size()) +
                       " values, expected " + std::to_string(n));
    }
    return tensor(name, dims, v);
  }
  // Integer constant, one initializer per name.
  std::string const_i64(const std::string& name, const std::vector<std::int64_t>& dims,
                        const std::vector<std::int64_t>& v) {
    if (!consts_.count(name)) consts_[name] = tensor_i64(name, dims, v);
    return consts_[name];
  }
  std::string scalar(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "const.%.9g", static_cast<double>(v));
    if (!consts_.count(buf)) consts_[buf] = tensor(buf, {}, {v});
    return consts_[buf];
  }
  std::string matrix(const std::string& name, int n, const std::vector<float>& v) {
    if (!consts_.count(name)) consts_[name] = tensor(name, {n, n}, v);
    return consts_[name];
  }

  Msg& graph() { return graph_; }

 private:
  const ExportOptions& opt_;
  Msg graph_;
  int counter_ = 0;
  std::map<std::string, std::string> consts_;
};

class EncoderExporter {
 public:
  EncoderExporter(OnnxBuilder& b, const ExportOptions& opt) : b_(b), opt_(opt) {}

  std::string dense(const std::string& x, int in, int out, const std::string& name) {
    auto w = b_.param(name + ".weight", {in, out}, 'w');
    auto bias = b_.param(name + ".bias", {out}, 'b');
    return b_.node("Add", {b_.node("MatMul", {x, w}, name + ".matmul"), bias}, name);
  }

  std::string norm(const std::string& x, const Layer& L, const std::string& name) {
    switch (L.norm) {
      case NormKind::kLayerNorm:
        return b_.node("LayerNormalization",
                       {x, b_.param(name + ".weight", {L.hidden}, 'g'),
                        b_.param(name + ".bias", {L.hidden}, 'b')},
                       name, {ai("axis", -1), af("epsilon", 1e-12f)});
      case NormKind::kRmsNorm: {
        auto ms = b_.node("ReduceMean", {b_.node("Mul", {x, x}, name + ".sq")}, name + ".mean",
                          {ais("axes", {-1}), ai("keepdims", 1)});
        auto rms =
            b_.node("Sqrt", {b_.node("Add", {ms, b_.scalar(1e-6f)}, name + ".eps")}, name + ".rms");
        return b_.node(
            "Mul",
            {b_.node("Div", {x, rms}, name + ".div"), b_.param(name + ".weight", {L.hidden}, 'g')},
            name);
      }
      case NormKind::kNone:
        break;
    }
    return x;
  }

  std::string activation(const std::string& x, Activation a, const std::string& name) {
    switch (a) {
      case Activation::kGelu: {  // 0.5 x (1 + erf(x / sqrt 2))
        auto e =
            b_.node("Erf",
                    {b_.node("Mul", {x, b_.scalar(static_cast<float>(1 / std::numbers::sqrt2))},
                             name + ".scale")},
                    name + ".erf");
        auto h = b_.node("Mul", {x, b_.scalar(0.5f)}, name + ".half");
        return b_.node("Mul", {h, b_.node("Add", {e, b_.scalar(1.f)}, name + ".one")}, name);
      }
      case Activation::kRelu:
        return b_.node("Relu", {x}, name);
      case Activation::kQuad: {  // MPCFormer: 0.125 x^2 + 0.25 x + 0.5 = (0.125 x + 0.25) x + 0.5
        auto t =
            b_.node("Add", {b_.node("Mul", {x, b_.scalar(0.125f)}, name + ".a"), b_.scalar(0.25f)},
                    name + ".b");
        return b_.node("Add", {b_.node("Mul", {t, x}, name + ".c"), b_.scalar(0.5f)}, name);
      }
    }
    return x;
  }

  std::string head(const std::string& x, const Layer& L, const Head& h, const std::string& name) {
    const int d = L.head_size();
    const int S = opt_.seq;
    switch (h.op) {
      case Op::kSdp:
      case Op::kWma:
        return attention(x, L, h, name);
      case Op::kDft:
      case Op::kDct:
      case Op::kConv:
        break;
    }
    auto v = dense(x, L.hidden, d, name + ".value");
    switch (h.op) {
      case Op::kSdp:
      case Op::kWma:
        break;  // returned above
      case Op::kDct: {
        auto left = b_.matrix("const.dct" + std::to_string(S), S, dct_matrix(S));
        auto right = b_.matrix("const.dctT" + std::to_string(d), d, transposed(dct_matrix(d), d));
        return b_.node("MatMul", {b_.node("MatMul", {left, v}, name + ".dct_seq"), right},
                       name + ".dct");
      }
      case Op::kDft: {
        auto cs = b_.matrix("const.dft_cos" + std::to_string(S), S, dft_matrix(S, false));
        auto ss = b_.matrix("const.dft_sin" + std::to_string(S), S, dft_matrix(S, true));
        auto cd = b_.matrix("const.dft_cos" + std::to_string(d), d, dft_matrix(d, false));
        auto sdm = b_.matrix("const.dft_sin" + std::to_string(d), d, dft_matrix(d, true));
        // Re(F_S v F_d) = C_S v C_d - S_S v S_d
        auto re =
            b_.node("MatMul", {b_.node("MatMul", {cs, v}, name + ".cos_seq"), cd}, name + ".cos");
        auto im =
            b_.node("MatMul", {b_.node("MatMul", {ss, v}, name + ".sin_seq"), sdm}, name + ".sin");
        return b_.node("Sub", {re, im}, name + ".dft");
      }
      case Op::kConv: {
        const int k = h.kernel;
        auto t = b_.node("Transpose", {v}, name + ".to_channels", {ais("perm", {0, 2, 1})});
        auto c = b_.node(
            "Conv",
            {t, b_.param(name + ".conv.weight", {d, 1, k}, 'w'),
             b_.param(name + ".conv.bias", {d}, 'b')},
            name + ".conv",
            {ai("group", d), ais("kernel_shape", {k}), ais("pads", {(k - 1) / 2, (k - 1) / 2})});
        return b_.node("Transpose", {c}, name + ".from_channels", {ais("perm", {0, 2, 1})});
      }
    }
    return v;
  }

  // Self-attention head (sdp, or wma with its d x d weight): the ONNX of model.md.
  std::string attention(const std::string& x, const Layer& L, const Head& h,
                        const std::string& name) {
    const int d = L.head_size();
    const int S = opt_.seq;
    {
      auto q = dense(x, L.hidden, d, name + ".query");
      auto k = dense(x, L.hidden, d, name + ".key");
      auto v = dense(x, L.hidden, d, name + ".value");
      if (h.op == Op::kWma)
        q = b_.node("MatMul", {q, b_.param(name + ".wma", {d, d}, 'w')}, name + ".wma");
      auto kt = b_.node("Transpose", {k}, name + ".keyT", {ais("perm", {0, 2, 1})});
      auto s = b_.node("MatMul", {q, kt}, name + ".scores");
      const float scale = static_cast<float>(1 / std::sqrt(static_cast<double>(d)));
      std::string p;
      switch (L.attn_kernel) {
        case AttnKernel::kSoftmax:
          p = b_.node("Softmax", {b_.node("Mul", {s, b_.scalar(scale)}, name + ".scaled")},
                      name + ".softmax", {ai("axis", -1)});
          break;
        case AttnKernel::kScale:
          p = b_.node("Mul", {s, b_.scalar(scale / static_cast<float>(S))}, name + ".scaling");
          break;
        case AttnKernel::kRelu:
        case AttnKernel::kQuad: {
          auto t = b_.node("Mul", {s, b_.scalar(scale)}, name + ".scaled");
          if (L.attn_kernel == AttnKernel::kRelu) {
            t = b_.node("Relu", {t}, name + ".relu");
          } else {  // 2Quad: (s + 5)^2
            t = b_.node("Add", {t, b_.scalar(5.f)}, name + ".shift");
            t = b_.node("Mul", {t, t}, name + ".quad");
          }
          auto axes = b_.const_i64("const.axes_last", {1}, {-1});
          auto sum = b_.node("ReduceSum", {t, axes}, name + ".rowsum", {ai("keepdims", 1)});
          p = b_.node("Div", {t, b_.node("Add", {sum, b_.scalar(1e-6f)}, name + ".eps")},
                      name + ".normalize");
          break;
        }
      }
      return b_.node("MatMul", {p, v}, name + ".context");
    }
  }

  std::string mixing(const std::string& x, const Layer& L, const std::string& name) {
    std::vector<std::string> outs;
    for (std::size_t i = 0; i < L.heads.size(); ++i)
      outs.push_back(
          head(x, L, L.heads[i],
               name + ".head" + std::to_string(i) + "_" + to_string(L.heads[i].family())));
    auto cat =
        outs.size() == 1 ? outs[0] : b_.node("Concat", outs, name + ".concat", {ai("axis", 2)});
    // The heads concatenate to n * (h // n) <= h; the output projection maps back to h.
    return dense(cat, L.attention_width(), L.hidden, name + ".output");
  }

  std::string feed_forward(const std::string& x, const Layer& L, const std::string& name) {
    std::string cur = x;
    int in = L.hidden;
    for (std::size_t i = 0; i < L.ff.size(); ++i) {
      const auto nm = name + ".ff" + std::to_string(i);
      cur = activation(dense(cur, in, L.ff[i], nm), L.activation, nm + ".act");
      in = L.ff[i];
    }
    return dense(cur, in, L.hidden, name + ".ff_out");
  }

  template <class F>
  std::string sublayer(const std::string& x, const Layer& L, const std::string& name, F f) {
    switch (L.norm_placement) {
      case NormPlacement::kPost:
        return norm(b_.node("Add", {x, f(x)}, name + ".residual"), L, name + ".norm");
      case NormPlacement::kPre:
        return b_.node("Add", {x, f(norm(x, L, name + ".norm"))}, name + ".residual");
      case NormPlacement::kPeri:
        return b_.node("Add", {x, norm(f(norm(x, L, name + ".norm_in")), L, name + ".norm_out")},
                       name + ".residual");
    }
    return x;
  }

  std::string layer(const std::string& x, const Layer& L, const std::string& name) {
    auto a = sublayer(x, L, name + ".mixing",
                      [&](const std::string& in) { return mixing(in, L, name + ".mixing"); });
    return sublayer(a, L, name + ".ffn",
                    [&](const std::string& in) { return feed_forward(in, L, name + ".ffn"); });
  }

 private:
  OnnxBuilder& b_;
  const ExportOptions& opt_;
};

Msg value_info(const std::string& name, int elem,
               const std::vector<std::pair<std::int64_t, std::string>>& dims) {
  Msg shape;
  for (const auto& [v, p] : dims) {
    Msg d;
    if (p.empty())
      d.i64(kDimValue, v);
    else
      d.bytes(kDimParam, p);
    shape.msg(kShapeDim, d);
  }
  Msg tt;
  tt.i64(kTensorElemType, elem);
  tt.msg(kTensorShape, shape);
  Msg type;
  type.msg(kTypeTensor, tt);
  Msg vi;
  vi.bytes(kValueName, name);
  vi.msg(kValueType, type);
  return vi;
}

}  // namespace

std::string to_onnx(const Architecture& a, const ExportOptions& opt) {
  if (a.layers.empty()) throw InputError("model: an architecture needs at least one layer");
  if (opt.seq < 1 || opt.seq > opt.max_positions)
    throw InputError("--seq " + std::to_string(opt.seq) + " must be in [1, max positions " +
                     std::to_string(opt.max_positions) + "]");
  if (opt.vocab < 1 || opt.num_labels < 1)
    throw InputError("--vocab and --num-labels must be positive");
  OnnxBuilder b(opt);
  EncoderExporter e(b, opt);
  const int h0 = a.layers[0].hidden;
  const int S = opt.seq;
  // Embeddings: token + position + segment 0, LayerNorm.
  auto tok =
      b.node("Gather", {b.param("embeddings.word.weight", {opt.vocab, h0}, 'w'), "input_ids"},
             "embeddings.word", {ai("axis", 0)});
  std::vector<std::int64_t> pos(static_cast<std::size_t>(S));
  for (int i = 0; i < S; ++i) pos[static_cast<std::size_t>(i)] = i;
  auto pos_ids = b.tensor_i64("const.position_ids", {S}, pos);
  // Gather(data, indices): indices are the second input.
  auto pe = b.node("Gather",
                   {b.param("embeddings.position.weight", {opt.max_positions, h0}, 'w'), pos_ids},
                   "embeddings.position", {ai("axis", 0)});
  auto seg = b.node("Gather",
                    {b.param("embeddings.token_type.weight", {2, h0}, 'w'),
                     b.tensor_i64("const.segment0", {}, {0})},
                    "embeddings.token_type", {ai("axis", 0)});
  auto x = b.node("Add", {b.node("Add", {tok, pe}, "embeddings.add_position"), seg},
                  "embeddings.add_segment");
  Layer emb_norm;
  emb_norm.hidden = h0;
  x = e.norm(x, emb_norm, "embeddings.norm");
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    const auto name = "layer" + std::to_string(j);
    x = e.layer(x, a.layers[j], name);
    if (j + 1 < a.layers.size() && a.layers[j].hidden != a.layers[j + 1].hidden)
      x = e.dense(x, a.layers[j].hidden, a.layers[j + 1].hidden, name + ".projection");
  }
  const int hl = a.layers.back().hidden;
  auto first = b.node("Gather", {x, b.tensor_i64("const.first_token", {}, {0})},
                      "pooler.first_token", {ai("axis", 1)});
  auto pooled = b.node("Tanh", {e.dense(first, hl, hl, "pooler.dense")}, "pooler.tanh");
  auto logits = e.dense(pooled, hl, opt.num_labels, "classifier");
  b.node("Identity", {logits}, "logits", {}, "logits");
  Msg& g = b.graph();
  g.bytes(kGraphName, "flexnas_encoder");
  g.msg(kGraphInput, value_info("input_ids", kInt64, {{0, "batch"}, {S, ""}}));
  g.msg(kGraphOutput, value_info("logits", kFloat, {{0, "batch"}, {opt.num_labels, ""}}));

  Msg m;
  m.i64(kModelIrVersion, 8);
  Msg ops;
  ops.bytes(kOpsetDomain, "");
  ops.i64(kOpsetVersion, 17);
  m.msg(kModelOpset, ops);
  m.bytes(kModelProducerName, "flexnas");
  m.bytes(kModelProducerVersion, "1");
  m.bytes(kModelDocString,
          "FlexiBERT-family encoder exported by flexnas; weights: " +
              std::string(opt.weights ? "weight hook, random where absent" : "seeded random"));
  m.msg(kModelGraph, g);
  auto meta = [&](const std::string& k, const std::string& v) {
    Msg entry;
    entry.bytes(kEntryKey, k);
    entry.bytes(kEntryValue, v);
    m.msg(kModelMetadata, entry);
  };
  meta("flexnas.model_dict", to_string(a));
  meta("flexnas.seed", std::to_string(opt.seed));
  meta("flexnas.seq", std::to_string(opt.seq));
  meta("flexnas.weights", opt.weights ? "hook" : "random");
  // Protobuf messages are limited to 2 GiB; ONNX's external-data form is not written.
  if (m.str().size() > 0x7fffffffu)
    throw InputError("the ONNX model would be " + std::to_string(m.str().size() >> 20) +
                     " MiB, over protobuf's 2 GiB limit (external weight files are not supported)");
  return m.str();
}

}  // namespace flexnas
