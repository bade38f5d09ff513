#pragma once
// DesignSpace: the per-layer choices of a FlexiBERT-style space, read from YAML
// (docs/design-space.md), with exact counting, uniform sampling, enumeration,
// validation and the mutation / crossover operators the search policies use.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <boost/multiprecision/cpp_int.hpp>

#include "space/architecture.hpp"
#include "space/graph.hpp"

namespace flexnas {

using BigInt = boost::multiprecision::cpp_int;
using Rng = std::mt19937_64;

struct OperationChoice {
  Family family;
  std::vector<std::string> params;  // in YAML order
};

class DesignSpace {
 public:
  std::string name;
  std::string description;
  std::vector<int> layers;   // allowed encoder depths l
  int layers_per_stack = 1;  // consecutive layers sharing one choice
  bool mixed_ff = false;     // widths inside one feed-forward stack may differ
  bool hetero = false;       // heads inside one layer may use different operations
  std::vector<int> hidden;   // hidden sizes h
  std::vector<int> heads;    // head counts n
  // How n heads share hidden size h: false (YAML `head_size: divides`, the default): n must
  // divide h; true (`head_size: floor`, FlexiBERT 2.0): any n <= h, each head h // n wide.
  bool head_size_floor = false;
  // Whether a layer of hidden size h may have n heads in this space.
  bool heads_fit(int h, int n) const { return head_size_floor ? n <= h : h % n == 0; }
  std::vector<OperationChoice> operations;
  std::vector<int> ff_depth;  // dense layers per feed-forward stack
  std::vector<int> ff_width;  // widths of those dense layers
  std::vector<AttnKernel> attn_kernels{AttnKernel::kSoftmax};
  std::vector<Activation> activations{Activation::kGelu};
  std::vector<NormKind> norms{NormKind::kLayerNorm};
  std::vector<NormPlacement> placements{NormPlacement::kPost};

  // Parse YAML text; `origin` names the file in error messages. Unknown keys are errors.
  static DesignSpace from_yaml(const std::string& text, const std::string& origin);
  // A built-in name (flexibert-test, ...) or a path to a YAML file.
  static DesignSpace load(const std::string& name_or_path);
  static std::vector<std::string> builtin_names();
  std::string to_yaml() const;

  // Throws InputError if the space itself is inconsistent (empty lists, bad values).
  void check() const;

  // Every head operation of the space, family by family in YAML order.
  std::vector<Head> head_ops() const;
  LabelForm label_form() const { return hetero ? LabelForm::kHetero : LabelForm::kStandard; }
  int num_stacks(int l) const { return (l + layers_per_stack - 1) / layers_per_stack; }

  // Number of distinct choices for one stack (one layer configuration).
  BigInt layer_choices() const;
  // Number of distinct architectures (canonical forms) with depth l / in the space.
  BigInt count(int l) const;
  BigInt count() const;

  // Throws InputError naming the field, the layer, the value and the allowed values.
  void validate(const Architecture& a) const;
  bool contains(const Architecture& a) const;

  // Every architecture equally likely (not every choice); result is canonical.
  Architecture sample(Rng& rng) const;
  Layer sample_layer(Rng& rng) const;
  // Calls `fn` for every architecture (canonical) in a fixed order; throws InputError if the
  // space holds more than `limit`. Returning false from fn stops early.
  void enumerate(const std::function<bool(const Architecture&)>& fn,
                 std::uint64_t limit = 10'000'000) const;

  // One change: one field of one stack, or a stack added / removed. Valid and different
  // from `a` (unless the space has a single architecture). `a` must be in the space.
  Architecture mutate(const Architecture& a, Rng& rng) const;
  // Child takes each stack from one of the parents; always valid.
  Architecture crossover(const Architecture& a, const Architecture& b, Rng& rng) const;

  // All layer configurations of one stack (canonical), for enumeration of small spaces.
  std::vector<Layer> all_layers(std::uint64_t limit) const;

 private:
  Architecture from_stacks(const std::vector<Layer>& stacks, int l) const;
  std::vector<Layer> stacks_of(const Architecture& a) const;
};

// "{128, 256}" for error messages.
std::string set_text(const std::vector<int>& v);
std::string to_string(const BigInt& v);

}  // namespace flexnas
