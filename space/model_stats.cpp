#include "space/model_stats.hpp"

#include <cmath>
#include <type_traits>

namespace flexnas {

static_assert(std::tuple_size_v<OpFlops> ==
                  std::tuple_size_v<std::remove_cvref_t<decltype(op_table())>>,
              "OpFlops has one entry per Op");

namespace {

std::int64_t linear_params(std::int64_t in, std::int64_t out) {
  return in * out + out;
}
double linear_flops(double rows, double in, double out) {
  return 2 * rows * in * out + rows * out;
}

std::int64_t norm_params(NormKind k, std::int64_t width) {
  switch (k) {
    case NormKind::kLayerNorm:
      return 2 * width;
    case NormKind::kRmsNorm:
      return width;
    case NormKind::kNone:
      return 0;
  }
  return 0;
}

double norm_flops(NormKind k, double rows, double width) {
  switch (k) {
    case NormKind::kLayerNorm:
      return 8 * rows * width;
    case NormKind::kRmsNorm:
      return 5 * rows * width;
    case NormKind::kNone:
      return 0;
  }
  return 0;
}

double activation_flops(Activation a, double n) {
  switch (a) {
    case Activation::kGelu:
      return 8 * n;
    case Activation::kRelu:
      return n;
    case Activation::kQuad:
      return 4 * n;
  }
  return 0;
}

double kernel_flops(AttnKernel k, double rows, double cols) {
  const double n = rows * cols;
  switch (k) {
    case AttnKernel::kSoftmax:
      return 5 * n;  // max, subtract, exp, sum, divide
    case AttnKernel::kRelu:
      return 3 * n;  // relu, sum, divide
    case AttnKernel::kQuad:
      return 5 * n;  // (x + c)^2, sum, divide
    case AttnKernel::kScale:
      return n;  // x / L
  }
  return 0;
}

// Norms per sublayer: post and pre place one, peri one before and one after the sublayer.
int norms_per_sublayer(NormPlacement p) {
  return p == NormPlacement::kPeri ? 2 : 1;
}

}  // namespace

ModelStats model_stats(const Architecture& a, const ModelStatsOptions& opt) {
  ModelStats s;
  const double L = opt.seq;
  if (a.layers.empty()) return s;
  const std::int64_t h0 = a.layers[0].hidden;
  s.embedding_params =
      (static_cast<std::int64_t>(opt.vocab) + opt.max_positions + opt.type_vocab) * h0 + 2 * h0;
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    const Layer& Ly = a.layers[j];
    const std::int64_t h = Ly.hidden;
    const std::int64_t d = Ly.head_size();
    LayerStats ls;
    for (const Head& hd : Ly.heads) {
      const double dd = static_cast<double>(d);
      const double before = ls.flops;
      switch (hd.op) {
        case Op::kSdp:
        case Op::kWma:
          ls.params += 3 * linear_params(h, d);  // query, key, value
          ls.flops += 3 * linear_flops(L, static_cast<double>(h), dd);
          if (hd.op == Op::kWma) {  // Q W K^T: W is d x d
            ls.params += d * d;
            ls.flops += 2 * L * dd * dd;
          }
          ls.flops += 2 * L * L * dd + L * L;  // scores and 1/sqrt(d)
          ls.flops += kernel_flops(Ly.attn_kernel, L, L);
          ls.flops += 2 * L * L * dd;  // P V
          break;
        case Op::kDft:
        case Op::kDct: {
          ls.params += linear_params(h, d);  // value projection into the head
          ls.flops += linear_flops(L, static_cast<double>(h), dd);
          // Real part of the 2-D transform over sequence and head dimension as fixed
          // matrix products (cos and sin parts for the DFT, one product for the DCT).
          const double parts = hd.op == Op::kDft ? 2 : 1;
          ls.flops += parts * (2 * L * L * dd + 2 * L * dd * dd);
          break;
        }
        case Op::kConv:
          ls.params += linear_params(h, d);
          ls.flops += linear_flops(L, static_cast<double>(h), dd);
          ls.params += static_cast<std::int64_t>(hd.kernel) * d + d;  // depthwise kernel and bias
          ls.flops += 2 * L * hd.kernel * dd;
          break;
      }
      ls.op_flops[static_cast<std::size_t>(hd.op)] += ls.flops - before;
    }
    // Output projection of the concatenated heads (n * (h // n) wide) back to h.
    const std::int64_t cat = Ly.attention_width();
    ls.params += linear_params(cat, h);
    ls.flops += linear_flops(L, static_cast<double>(cat), static_cast<double>(h)) +
                L * static_cast<double>(h);
    std::int64_t in = h;
    const double ff_before = ls.flops;
    for (std::size_t k = 0; k < Ly.ff.size(); ++k) {
      ls.params += linear_params(in, Ly.ff[k]);
      ls.flops += linear_flops(L, static_cast<double>(in), Ly.ff[k]) +
                  activation_flops(Ly.activation, L * Ly.ff[k]);
      in = Ly.ff[k];
    }
    ls.params += linear_params(in, h);
    ls.flops += linear_flops(L, static_cast<double>(in), static_cast<double>(h)) +
                L * static_cast<double>(h);
    ls.ff_flops = ls.flops - ff_before;
    const int norms = 2 * norms_per_sublayer(Ly.norm_placement);
    ls.params += norms * norm_params(Ly.norm, h);
    ls.flops += norms * norm_flops(Ly.norm, L, static_cast<double>(h));
    if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != h) {
      const std::int64_t next = a.layers[j + 1].hidden;
      ls.params += linear_params(h, next);
      ls.flops += linear_flops(L, static_cast<double>(h), static_cast<double>(next));
    }
    s.encoder_params += ls.params;
    s.flops += ls.flops;
    for (std::size_t k = 0; k < s.op_flops.size(); ++k) s.op_flops[k] += ls.op_flops[k];
    s.ff_flops += ls.ff_flops;
    s.layers.push_back(ls);
  }
  s.params = s.embedding_params + s.encoder_params;
  s.flops_per_token = s.flops / L;
  return s;
}

}  // namespace flexnas
