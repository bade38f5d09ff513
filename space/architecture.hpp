#pragma once
// Architecture: one heterogeneous transformer encoder, the FlexiBERT model dict
// (standard and FlexiBERT 2.0 "hetero" forms) plus the flexnas extensions
// (attention kernel, activation, norm kind and placement). See docs/model-dict.md.
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace flexnas {

// Operation family of one head: sa self-attention, l linear mixing (FNet), c convolution.
enum class Family { kSa, kL, kC };

enum class AttnKernel { kSoftmax, kRelu, kQuad, kScale };
enum class Activation { kGelu, kRelu, kQuad };
enum class NormKind { kLayerNorm, kRmsNorm, kNone };
enum class NormPlacement { kPost, kPre, kPeri };

const char* to_string(Family f);
const char* to_string(AttnKernel k);
const char* to_string(Activation a);
const char* to_string(NormKind n);
const char* to_string(NormPlacement p);
// Parse the model-dict spelling; throw InputError naming `where` and the allowed values.
Family parse_family(const std::string& s, const std::string& where);
AttnKernel parse_attn_kernel(const std::string& s, const std::string& where);
Activation parse_activation(const std::string& s, const std::string& where);
NormKind parse_norm(const std::string& s, const std::string& where);
NormPlacement parse_norm_placement(const std::string& s, const std::string& where);

// The head operations, defined once. Every site whose behaviour depends on the operation
// switches over Op with no default, so adding an operation makes the compiler list the
// sites (docs/development.md, "Adding an operation"); op_table() gives names and families.
enum class Op { kSdp, kWma, kDft, kDct, kConv };

struct OpInfo {
  Op op;
  Family family;
  const char* param;  // model-dict spelling of the parameter; "" for kConv (its kernel size)
  // Input projections one head takes from the layer input, in units of the head size:
  // query, key and value for attention, the value alone otherwise (the value comes last).
  int projections;
  const char* what;  // one line for listings
};
// One row per Op, in enum order.
const std::array<OpInfo, 5>& op_table();
const OpInfo& op_info(Op op);
Family family_of(Op op);

// One head: its operation, and the kernel size for a convolution (odd, >= 1; 0 otherwise).
struct Head {
  Op op = Op::kSdp;
  int kernel = 0;

  Head() = default;
  explicit Head(Op o, int k = 0) : op(o), kernel(k) {}
  // From the model-dict spelling: family and parameter ("sdp"/"wma", "dft"/"dct", or a
  // kernel size "5"). Throws InputError naming `where` when the parameter does not belong.
  Head(Family f, const std::string& param, const std::string& where = "head");

  Family family() const { return family_of(op); }
  // The parameter as the model dict spells it: "sdp", "dct", "9".
  std::string param() const;
  friend bool operator==(const Head& a, const Head& b) {
    return a.op == b.op && a.kernel == b.kernel;
  }
  // Ordered as (family, parameter text): the order heads are sorted in stored model dicts.
  friend std::strong_ordering operator<=>(const Head& a, const Head& b);
};

struct Layer {
  int hidden = 128;
  std::vector<Head> heads;  // n heads of size hidden // n (FlexiBERT 2.0: n * size <= hidden)
  std::vector<int> ff;      // widths of the feed-forward stack, in order
  AttnKernel attn_kernel = AttnKernel::kSoftmax;
  Activation activation = Activation::kGelu;
  NormKind norm = NormKind::kLayerNorm;
  NormPlacement norm_placement = NormPlacement::kPost;

  int num_heads() const { return static_cast<int>(heads.size()); }
  // Every head has hidden // n dimensions; the heads concatenate to n * (hidden // n) =
  // attention_width(), which the output projection maps back to hidden.
  int head_size() const { return heads.empty() ? 0 : hidden / num_heads(); }
  int attention_width() const { return num_heads() * head_size(); }
  // All heads share one operation (the standard FlexiBERT form can express the layer).
  bool homogeneous() const;
  bool has_attention() const;
  friend bool operator==(const Layer&, const Layer&) = default;
};

struct Architecture {
  std::vector<Layer> layers;

  int num_layers() const { return static_cast<int>(layers.size()); }
  // True when every layer is homogeneous, so the standard model-dict form applies.
  bool standard_expressible() const;
  // Heads sorted inside each layer, and the attention kernel reset to softmax in layers
  // without attention heads (it has no effect there). Two architectures with the same
  // canonical form are the same network.
  Architecture canonical() const;
  friend bool operator==(const Architecture&, const Architecture&) = default;
};

enum class DictForm { kAuto, kStandard, kHetero };

// Parse a model dict. Throws InputError naming the field, the layer and the value.
Architecture architecture_from_json(const nlohmann::json& j);
Architecture architecture_from_string(const std::string& text);
// Model dict; kAuto writes the standard form when every layer is homogeneous. The
// extension lists are written only when some layer differs from FlexiBERT's defaults.
nlohmann::ordered_json to_json(const Architecture& a, DictForm form = DictForm::kAuto);
// Compact one-line JSON of to_json(a), the text the hash tables and trials store.
std::string to_string(const Architecture& a, DictForm form = DictForm::kAuto);

// "sa_sdp_64": the FlexiBERT 2.0 per-head string (family_param_headsize).
std::string head_string(const Head& h, int head_size);

}  // namespace flexnas
