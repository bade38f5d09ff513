#pragma once
// Building one layer of an architecture field by field, for tests that need every kernel,
// activation, norm and placement (the trainer's gradient checks, latency measurements).
#include <utility>
#include <vector>

#include "space/architecture.hpp"

namespace flexnas::test {

inline Layer make_layer(int hidden, std::vector<Head> heads, std::vector<int> ff = {12},
                        AttnKernel k = AttnKernel::kSoftmax, Activation a = Activation::kGelu,
                        NormKind n = NormKind::kLayerNorm, NormPlacement p = NormPlacement::kPost) {
  Layer l;
  l.hidden = hidden;
  l.heads = std::move(heads);
  l.ff = std::move(ff);
  l.attn_kernel = k;
  l.activation = a;
  l.norm = n;
  l.norm_placement = p;
  return l;
}

}  // namespace flexnas::test
