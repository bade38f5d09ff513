#include "space/architecture.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas {
namespace {

template <typename E, std::size_t N>
E parse_enum(const std::string& s, const std::array<const char*, N>& names,
             const std::string& where, const char* what) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  std::string allowed;
  for (std::size_t i = 0; i < N; ++i) allowed += (i ? ", " : "") + std::string(names[i]);
  throw InputError(where + ": unknown " + what + " '" + s + "' (allowed: " + allowed + ")");
}

constexpr std::array<const char*, 3> kFamilyNames{"sa", "l", "c"};
constexpr std::array<const char*, 4> kKernelNames{"softmax", "relu", "quad", "scale"};
constexpr std::array<const char*, 3> kActivationNames{"gelu", "relu", "quad"};
constexpr std::array<const char*, 3> kNormNames{"layernorm", "rmsnorm", "none"};
constexpr std::array<const char*, 3> kPlacementNames{"post", "pre", "peri"};

std::string idx(const char* field, std::size_t j) {
  return std::string(field) + "[" + std::to_string(j) + "]";
}

int as_int(const nlohmann::json& v, const std::string& where) {
  // Strict (core/numbers.hpp): a value past the range of int is an error, never wrapped.
  constexpr int kMax = std::numeric_limits<int>::max();
  return json_integer<int>(v, where, -kMax, kMax);
}

std::string as_param(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  throw InputError(where + ": expected an operation parameter (string or kernel size), got " +
                   v.dump());
}

const nlohmann::json& field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) throw InputError(std::string("model: missing field '") + name + "'");
  return *it;
}

const nlohmann::json& list_of(const nlohmann::json& j, const char* name, std::size_t l) {
  const auto& v = field(j, name);
  if (!v.is_array())
    throw InputError(std::string("model: field '") + name + "' must be a list, got " + v.dump());
  if (v.size() != l)
    throw InputError(std::string("model: field '") + name + "' has " + std::to_string(v.size()) +
                     " entries but l = " + std::to_string(l));
  return v;
}

}  // namespace

const std::array<OpInfo, 5>& op_table() {
  static const std::array<OpInfo, 5> t{{
      {Op::kSdp, Family::kSa, "sdp", 3, "scaled dot-product self-attention"},
      {Op::kWma, Family::kSa, "wma", 3, "weighted multiplicative self-attention (Q W K^T)"},
      {Op::kDft, Family::kL, "dft", 1,
       "FNet mixing: real part of the 2-D discrete Fourier transform"},
      {Op::kDct, Family::kL, "dct", 1, "FNet-style mixing: 2-D discrete cosine transform"},
      {Op::kConv, Family::kC, "", 1,
       "depthwise-separable convolution over the sequence (odd kernel size)"},
  }};
  return t;
}

const OpInfo& op_info(Op op) {
  return op_table()[static_cast<std::size_t>(op)];
}
Family family_of(Op op) {
  return op_info(op).family;
}

Head::Head(Family f, const std::string& param, const std::string& where) {
  if (f == Family::kC) {
    int k = 0;
    auto [p, ec] = std::from_chars(param.data(), param.data() + param.size(), k);
    if (ec != std::errc() || p != param.data() + param.size() || k < 1 || k % 2 == 0)
      throw InputError(where + ": parameter '" + param +
                       "' is not a convolution kernel size (an odd integer >= 1)");
    op = Op::kConv;
    kernel = k;
    return;
  }
  std::string allowed;
  for (const auto& row : op_table()) {
    if (row.family != f) continue;
    if (param == row.param) {
      op = row.op;
      return;
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(row.param);
  }
  throw InputError(where + ": parameter '" + param + "' is not " +
                   (f == Family::kSa ? "a self-attention type" : "a linear-transform type") +
                   " (allowed: " + allowed + ")");
}

std::string Head::param() const {
  return op == Op::kConv ? std::to_string(kernel) : std::string(op_info(op).param);
}

std::strong_ordering operator<=>(const Head& a, const Head& b) {
  if (auto c = a.family() <=> b.family(); c != 0) return c;
  return a.param() <=> b.param();
}

namespace {

// "sa_sdp_64" -> head; the size is returned through `size`.
Head parse_head_string(const std::string& s, const std::string& where, int& size) {
  auto a = s.find('_');
  auto b = s.rfind('_');
  if (a == std::string::npos || a == b)
    throw InputError(where + ": head '" + s + "' is not of the form type_param_headsize");
  Head h(parse_family(s.substr(0, a), where), s.substr(a + 1, b - a - 1), where);
  auto tail = s.substr(b + 1);
  auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), size);
  if (ec != std::errc() || p != tail.data() + tail.size() || size < 1)
    throw InputError(where + ": head '" + s + "' has no valid head size after the last '_'");
  return h;
}

template <typename E, typename Parse>
void optional_list(const nlohmann::json& j, const char* name, std::size_t l,
                   std::vector<Layer>& layers, E Layer::*member, Parse parse) {
  if (!j.contains(name)) return;
  const auto& v = list_of(j, name, l);
  for (std::size_t i = 0; i < l; ++i) {
    if (!v[i].is_string())
      throw InputError(idx(name, i) + ": expected a string, got " + v[i].dump());
    layers[i].*member = parse(v[i].get<std::string>(), idx(name, i));
  }
}

}  // namespace

const char* to_string(Family f) {
  return kFamilyNames[static_cast<int>(f)];
}
const char* to_string(AttnKernel k) {
  return kKernelNames[static_cast<int>(k)];
}
const char* to_string(Activation a) {
  return kActivationNames[static_cast<int>(a)];
}
const char* to_string(NormKind n) {
  return kNormNames[static_cast<int>(n)];
}
const char* to_string(NormPlacement p) {
  return kPlacementNames[static_cast<int>(p)];
}

Family parse_family(const std::string& s, const std::string& where) {
  return parse_enum<Family>(s, kFamilyNames, where, "operation");
}
AttnKernel parse_attn_kernel(const std::string& s, const std::string& where) {
  if (s == "2quad") return AttnKernel::kQuad;  // MPCFormer's name for the same kernel
  if (s == "scaling") return AttnKernel::kScale;
  return parse_enum<AttnKernel>(s, kKernelNames, where, "attention kernel");
}
Activation parse_activation(const std::string& s, const std::string& where) {
  return parse_enum<Activation>(s, kActivationNames, where, "activation");
}
NormKind parse_norm(const std::string& s, const std::string& where) {
  return parse_enum<NormKind>(s, kNormNames, where, "norm");
}
NormPlacement parse_norm_placement(const std::string& s, const std::string& where) {
  return parse_enum<NormPlacement>(s, kPlacementNames, where, "norm placement");
}

bool Layer::homogeneous() const {
  return std::all_of(heads.begin(), heads.end(), [&](const Head& h) { return h == heads[0]; });
}

bool Layer::has_attention() const {
  return std::any_of(heads.begin(), heads.end(),
                     [](const Head& h) { return h.family() == Family::kSa; });
}

bool Architecture::standard_expressible() const {
  return std::all_of(layers.begin(), layers.end(), [](const Layer& l) { return l.homogeneous(); });
}

Architecture Architecture::canonical() const {
  Architecture c = *this;
  for (auto& l : c.layers) {
    std::sort(l.heads.begin(), l.heads.end());
    if (!l.has_attention()) l.attn_kernel = AttnKernel::kSoftmax;
  }
  return c;
}

std::string head_string(const Head& h, int head_size) {
  return std::string(to_string(h.family())) + "_" + h.param() + "_" + std::to_string(head_size);
}

Architecture architecture_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InputError("model: expected a JSON object, got " + j.dump());
  if (j.empty()) throw InputError("model: empty model dict (needs l, o, h, f)");
  static const std::array<const char*, 10> known{
      "l", "o", "h", "n", "f", "p", "attn_kernel", "activation", "norm", "norm_placement"};
  for (const auto& [k, v] : j.items())
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw InputError("model: unknown field '" + k +
                       "' (known: l, o, h, n, f, p, attn_kernel, activation, norm, "
                       "norm_placement)");
  const auto& lv = field(j, "l");
  int l = as_int(lv, "model: field 'l'");
  if (l < 1) throw InputError("model: l = " + std::to_string(l) + " must be at least 1");
  const std::size_t n_layers = static_cast<std::size_t>(l);
  const auto& o = list_of(j, "o", n_layers);
  const auto& h = list_of(j, "h", n_layers);
  const auto& f = list_of(j, "f", n_layers);
  bool hetero = o[0].is_array();

  Architecture a;
  a.layers.resize(n_layers);
  for (std::size_t i = 0; i < n_layers; ++i) {
    Layer& L = a.layers[i];
    L.hidden = as_int(h[i], idx("h", i));
    if (L.hidden < 1)
      throw InputError(idx("h", i) + " = " + std::to_string(L.hidden) + " must be positive");
    if (!f[i].is_array() || f[i].empty())
      throw InputError(idx("f", i) + ": expected a non-empty list of widths, got " + f[i].dump());
    for (std::size_t k = 0; k < f[i].size(); ++k) {
      int w = as_int(f[i][k], idx("f", i) + "[" + std::to_string(k) + "]");
      if (w < 1)
        throw InputError(idx("f", i) + ": width " + std::to_string(w) + " must be positive");
      L.ff.push_back(w);
    }
  }
  if (hetero) {
    if (j.contains("p") || j.contains("n"))
      throw InputError("model: the hetero form (per-head lists in 'o') takes no 'n' or 'p'");
    for (std::size_t i = 0; i < n_layers; ++i) {
      Layer& L = a.layers[i];
      if (!o[i].is_array() || o[i].empty())
        throw InputError(idx("o", i) +
                         ": expected a non-empty list of heads like \"sa_sdp_64\", got " +
                         o[i].dump());
      int size0 = 0;
      for (std::size_t k = 0; k < o[i].size(); ++k) {
        std::string where = idx("o", i) + "[" + std::to_string(k) + "]";
        if (!o[i][k].is_string())
          throw InputError(where + ": expected a string, got " + o[i][k].dump());
        int size = 0;
        L.heads.push_back(parse_head_string(o[i][k].get<std::string>(), where, size));
        if (k == 0) size0 = size;
        if (size != size0)
          throw InputError(where + ": head size " + std::to_string(size) +
                           " differs from the layer's first head size " + std::to_string(size0));
      }
      // FlexiBERT 2.0: every head has h // n dimensions (12 heads of 21 in a layer of 256).
      if (size0 != L.hidden / L.num_heads())
        throw InputError(
            idx("o", i) + ": " + std::to_string(L.num_heads()) + " heads of size " +
            std::to_string(size0) + " do not fit hidden size h = " + std::to_string(L.hidden) +
            " (the head size is h // n = " + std::to_string(L.hidden / L.num_heads()) + ")");
    }
  } else {
    const auto& n = list_of(j, "n", n_layers);
    const auto& p = list_of(j, "p", n_layers);
    for (std::size_t i = 0; i < n_layers; ++i) {
      Layer& L = a.layers[i];
      if (!o[i].is_string())
        throw InputError(idx("o", i) + ": expected an operation (sa, l, c), got " + o[i].dump());
      const Family fam = parse_family(o[i].get<std::string>(), idx("o", i));
      const Head head(fam, as_param(p[i], idx("p", i)),
                      idx("p", i) + " (o = " + to_string(fam) + ")");
      int heads = as_int(n[i], idx("n", i));
      if (heads < 1)
        throw InputError(idx("n", i) + " = " + std::to_string(heads) + " must be positive");
      if (heads > L.hidden)  // head size h // n would be 0
        throw InputError(idx("n", i) + " = " + std::to_string(heads) + " heads exceed h = " +
                         std::to_string(L.hidden) + " (each head needs h // n >= 1 dimensions)");
      L.heads.assign(static_cast<std::size_t>(heads), head);
    }
  }
  optional_list(j, "attn_kernel", n_layers, a.layers, &Layer::attn_kernel, parse_attn_kernel);
  optional_list(j, "activation", n_layers, a.layers, &Layer::activation, parse_activation);
  optional_list(j, "norm", n_layers, a.layers, &Layer::norm, parse_norm);
  optional_list(j, "norm_placement", n_layers, a.layers, &Layer::norm_placement,
                parse_norm_placement);
  return a;
}

Architecture architecture_from_string(const std::string& text) {
  return architecture_from_json(parse_json(text, "model"));  // 1e400 too is malformed JSON
}

nlohmann::ordered_json to_json(const Architecture& a, DictForm form) {
  if (form == DictForm::kAuto)
    form = a.standard_expressible() ? DictForm::kStandard : DictForm::kHetero;
  if (form == DictForm::kStandard && !a.standard_expressible())
    throw InputError("model: a layer mixes head operations; only the hetero form can express it");
  nlohmann::ordered_json j;
  j["l"] = a.num_layers();
  nlohmann::ordered_json o = nlohmann::ordered_json::array(), h = nlohmann::ordered_json::array(),
                         n = nlohmann::ordered_json::array(), f = nlohmann::ordered_json::array(),
                         p = nlohmann::ordered_json::array();
  for (const auto& L : a.layers) {
    h.push_back(L.hidden);
    f.push_back(L.ff);
    if (form == DictForm::kStandard) {
      o.push_back(to_string(L.heads.at(0).family()));
      n.push_back(L.num_heads());
      p.push_back(L.heads.at(0).param());
    } else {
      nlohmann::ordered_json hs = nlohmann::ordered_json::array();
      for (const auto& hd : L.heads) hs.push_back(head_string(hd, L.head_size()));
      o.push_back(hs);
    }
  }
  j["o"] = o;
  j["h"] = h;
  if (form == DictForm::kStandard) j["n"] = n;
  j["f"] = f;
  if (form == DictForm::kStandard) j["p"] = p;
  auto ext = [&](const char* name, auto member, auto deflt) {
    bool any = std::any_of(a.layers.begin(), a.layers.end(),
                           [&](const Layer& L) { return L.*member != deflt; });
    if (!any) return;
    nlohmann::ordered_json v = nlohmann::ordered_json::array();
    for (const auto& L : a.layers) v.push_back(to_string(L.*member));
    j[name] = v;
  };
  ext("attn_kernel", &Layer::attn_kernel, AttnKernel::kSoftmax);
  ext("activation", &Layer::activation, Activation::kGelu);
  ext("norm", &Layer::norm, NormKind::kLayerNorm);
  ext("norm_placement", &Layer::norm_placement, NormPlacement::kPost);
  return j;
}

std::string to_string(const Architecture& a, DictForm form) {
  return to_json(a, form).dump();
}

}  // namespace flexnas
