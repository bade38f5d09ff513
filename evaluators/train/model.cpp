#include "evaluators/train/model.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <numbers>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.hpp"
#include "evaluators/train/checkpoint.hpp"

namespace flexnas::train {
namespace {

using dnnl::memory;
using Buf = std::vector<float>;
using i64 = std::int64_t;

inline std::size_t uz(i64 v) {
  return static_cast<std::size_t>(v);
}
void ensure(Buf& b, i64 n) {
  if (b.size() < uz(n)) b.resize(uz(n));
}

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

class ThreadScope {
 public:
  explicit ThreadScope(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
  }
  ~ThreadScope() { omp_set_num_threads(saved_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
};

// A logical matrix operand: element (r, c) at p[r * ld + c], or at p[c * ld + r] when t
// (stored transposed); batch item i starts bs floats further (bs 0: broadcast).
struct Op {
  const float* p;
  i64 ld;
  i64 bs;
  bool t;
};

// oneDNN matmuls, primitives cached by shape, strides and flags.
class Blas {
 public:
  Blas() : eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {}

  // C[i] (= or +=) op(A[i]) op(B[i]) (+ bias [N]) for i < batch; C is M x N with ldc, cbs.
  void mm(i64 batch, i64 M, i64 N, i64 K, Op a, Op b, float* c, i64 ldc, i64 cbs, const float* bias,
          bool acc) {
    const std::array<i64, 14> key{
        batch, M, N, K, a.ld, a.bs, a.t, b.ld, b.bs, b.t, ldc, cbs, bias != nullptr, acc};
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      Entry e;
      e.a = desc(batch, a.bs == 0, M, K, a.ld, a.bs, a.t);
      e.b = desc(batch, b.bs == 0, K, N, b.ld, b.bs, b.t);
      e.c = desc(batch, false, M, N, ldc, cbs, false);
      if (bias)
        e.bias = batch == 1
                     ? memory::desc({1, N}, memory::data_type::f32, memory::dims{N, 1})
                     : memory::desc({1, 1, N}, memory::data_type::f32, memory::dims{N, N, 1});
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      if (acc) {
        dnnl::post_ops po;
        po.append_sum(1.f);
        attr.set_post_ops(po);
      }
      auto d = bias ? dnnl::matmul::desc(e.a, e.b, e.bias, e.c) : dnnl::matmul::desc(e.a, e.b, e.c);
      dnnl::matmul::primitive_desc pd(d, attr, eng_);
      e.prim = dnnl::matmul(pd);
      e.scratch = pd.scratchpad_desc();
      it = cache_.emplace(key, std::move(e)).first;
    }
    Entry& e = it->second;
    const std::size_t need = e.scratch.get_size();
    if (scratch_.size() < need) scratch_.resize(need);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(e.a, eng_, const_cast<float*>(a.p))},
        {DNNL_ARG_WEIGHTS, memory(e.b, eng_, const_cast<float*>(b.p))},
        {DNNL_ARG_DST, memory(e.c, eng_, c)}};
    if (bias) args.emplace(DNNL_ARG_BIAS, memory(e.bias, eng_, const_cast<float*>(bias)));
    if (need) args.emplace(DNNL_ARG_SCRATCHPAD, memory(e.scratch, eng_, scratch_.data()));
    e.prim.execute(strm_, args);
    strm_.wait();
  }

  // GELU (erf form) over n floats, and its backward: g = g * gelu'(z), in place. oneDNN's
  // vectorised kernels: libm's scalar erf costs more than the feed-forward matmuls' tail.
  void gelu(const float* z, float* h, i64 n) {
    auto it = gelu_fwd_.find(n);
    if (it == gelu_fwd_.end()) {
      const memory::desc md({n}, memory::data_type::f32, memory::format_tag::a);
      dnnl::eltwise_forward::primitive_desc pd(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::eltwise_gelu_erf, md, 0.f, 0.f),
          eng_);
      dnnl::eltwise_backward::primitive_desc bpd(
          dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_gelu_erf, md, md, 0.f, 0.f), eng_,
          pd);
      it = gelu_fwd_.emplace(n, std::make_pair(dnnl::eltwise_forward(pd), md)).first;
      gelu_bwd_.emplace(n, dnnl::eltwise_backward(bpd));
    }
    const auto& md = it->second.second;
    it->second.first.execute(strm_, {{DNNL_ARG_SRC, memory(md, eng_, const_cast<float*>(z))},
                                     {DNNL_ARG_DST, memory(md, eng_, h)}});
    strm_.wait();
  }
  void gelu_bwd(const float* z, float* g, i64 n) {
    auto it = gelu_fwd_.find(n);
    if (it == gelu_fwd_.end()) {
      std::vector<float> tmp(uz(n));
      gelu(z, tmp.data(), n);
      it = gelu_fwd_.find(n);
    }
    const auto& md = it->second.second;
    gelu_bwd_.at(n).execute(strm_, {{DNNL_ARG_SRC, memory(md, eng_, const_cast<float*>(z))},
                                    {DNNL_ARG_DIFF_DST, memory(md, eng_, g)},
                                    {DNNL_ARG_DIFF_SRC, memory(md, eng_, g)}});
    strm_.wait();
  }

 private:
  std::map<i64, std::pair<dnnl::eltwise_forward, memory::desc>> gelu_fwd_;
  std::map<i64, dnnl::eltwise_backward> gelu_bwd_;
  static memory::desc desc(i64 batch, bool bcast, i64 R, i64 C, i64 ld, i64 bs, bool t) {
    const memory::dims st = t ? memory::dims{1, ld} : memory::dims{ld, 1};
    if (batch == 1) return memory::desc({R, C}, memory::data_type::f32, st);
    return memory::desc({bcast ? 1 : batch, R, C}, memory::data_type::f32,
                        memory::dims{bcast ? R * C : bs, st[0], st[1]});
  }
  struct Entry {
    dnnl::matmul prim;
    memory::desc a, b, c, bias, scratch;
  };
  std::vector<char> scratch_;  // one user-managed scratchpad for every primitive
  dnnl::engine eng_;
  dnnl::stream strm_;
  std::map<std::array<i64, 14>, Entry> cache_;
};

// Orthonormal DCT-II (row k: frequency) and the DFT's cos/sin parts scaled 1/sqrt(n), as in
// space/export.cpp.
Buf dct_matrix(i64 n) {
  Buf m(uz(n * n));
  for (i64 k = 0; k < n; ++k)
    for (i64 i = 0; i < n; ++i)
      m[uz(k * n + i)] =
          static_cast<float>(std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(n)) *
                             std::cos(std::numbers::pi / static_cast<double>(n) *
                                      (static_cast<double>(i) + 0.5) * static_cast<double>(k)));
  return m;
}
Buf dft_matrix(i64 n, bool sine, float sign) {
  Buf m(uz(n * n));
  for (i64 k = 0; k < n; ++k)
    for (i64 i = 0; i < n; ++i) {
      const double a =
          2 * std::numbers::pi * static_cast<double>((k * i) % n) / static_cast<double>(n);
      m[uz(k * n + i)] = sign * static_cast<float>((sine ? std::sin(a) : std::cos(a)) /
                                                   std::sqrt(static_cast<double>(n)));
    }
  return m;
}

// One application of a norm: y = xhat * g (+ b); xhat and the per-row 1/rms kept for backward.
struct NormUse {
  NormKind kind = NormKind::kNone;
  Param* g = nullptr;
  Param* b = nullptr;
  Buf xhat, rstd, tmp;
};

const float kGeluC = static_cast<float>(1 / std::numbers::sqrt2);
const float kGeluD = static_cast<float>(1 / std::sqrt(2 * std::numbers::pi));

// Columns one head takes in the fused input projection, in units of the head size d
// (op_table(): query, key and value for attention, the value alone otherwise, value last).
i64 projections(flexnas::Op op) {
  return flexnas::op_info(op).projections;
}

struct HeadState {
  flexnas::Op op = flexnas::Op::kSdp;
  int k = 0;            // conv kernel
  i64 off = 0;          // first column in the fused projection
  Param* w = nullptr;   // wma [d, d] or conv weight [d, k]
  Param* cb = nullptr;  // conv bias
  Buf qw, S, A, rs;     // forward caches of attention heads
};

struct MixState {
  i64 h = 0, d = 0, P = 0;
  i64 cat = 0;  // width of the concatenated heads, n * d (< h when n does not divide h)
  AttnKernel kernel = AttnKernel::kSoftmax;
  std::vector<HeadState> heads;
  Param *win = nullptr, *bin = nullptr, *wo = nullptr, *bo = nullptr;
  const float* in = nullptr;
  Buf Pb, C;
};

struct FfState {
  i64 h = 0;
  Activation act = Activation::kGelu;
  std::vector<i64> widths;   // f1..fk
  std::vector<Param*> w, b;  // k + 1 dense layers
  const float* in = nullptr;
  std::vector<Buf> Z, H;
};

struct SubState {
  NormPlacement place = NormPlacement::kPost;
  NormUse n1, n2;
  Buf u, z, s, mask;
};

struct LayerState {
  Layer spec;
  i64 h = 0, hnext = 0;
  MixState mix;
  FfState ff;
  SubState smix, sff;
  Param *pw = nullptr, *pb = nullptr;  // projection
  Buf mid, out, proj;
};

struct ExportSrc {
  Param* p = nullptr;
  i64 col = 0, cols = -1;  // column slice of a fused weight; -1: the whole tensor
};

}  // namespace

struct Model::Impl {
  Architecture arch;
  ModelConfig cfg;
  std::deque<Param> store;
  std::vector<Param*> plist;
  std::map<std::string, ExportSrc> exports;
  Blas blas;

  Param *word = nullptr, *pos = nullptr, *seg = nullptr;
  NormUse emb_norm;
  Param *pool_w = nullptr, *pool_b = nullptr, *cls_w = nullptr, *cls_b = nullptr;
  std::vector<LayerState> layers;

  // Per-step buffers.
  i64 B = 0, L = 0, N = 0;
  Buf emb_sum, x0, emb_mask, first, pooled, ones, g1, g2, g3, gp, gc, dA, dq, t1, t2, ga, gb,
      scores;
  Mat logits, dlogits;
  std::map<std::pair<int, i64>, Buf> mats;  // (kind, n): 0 dct, 1 cos, 2 sin, 3 -sin

  const Buf& mat(int kind, i64 n) {
    auto it = mats.find({kind, n});
    if (it != mats.end()) return it->second;
    Buf m = kind == 0 ? dct_matrix(n) : dft_matrix(n, kind >= 2, kind == 3 ? -1.f : 1.f);
    return mats.emplace(std::make_pair(kind, n), std::move(m)).first->second;
  }

  Param* add(const std::string& name, i64 rows, i64 cols, char kind, std::uint64_t seed,
             bool exported = true) {
    Param& p = store.emplace_back();
    p.name = name;
    p.value = Mat::Zero(rows, cols);
    p.grad = Mat::Zero(rows, cols);
    p.decay = kind == 'w';
    if (kind == 'g') p.value.setOnes();
    if (kind == 'w' || kind == 'e') {
      p.decay = true;
      std::uint64_t s = seed ^ fnv1a(name);
      float* v = p.value.data();
      const i64 n = rows * cols;
      for (i64 i = 0; i < n; i += 2) {  // Box-Muller, two values per draw
        const double u1 = (static_cast<double>(splitmix(s) >> 11) + 1.0) / 9007199254740993.0;
        const double u2 = static_cast<double>(splitmix(s) >> 11) / 9007199254740992.0;
        const double r = 0.02 * std::sqrt(-2 * std::log(u1));
        v[i] = static_cast<float>(r * std::cos(2 * std::numbers::pi * u2));
        if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(2 * std::numbers::pi * u2));
      }
    }
    plist.push_back(&p);
    if (exported) exports[name] = {&p, 0, -1};
    return &p;
  }

  void add_norm(NormUse& n, NormKind kind, const std::string& name, i64 h, std::uint64_t seed) {
    n.kind = kind;
    if (kind == NormKind::kNone) return;
    n.g = add(name + ".weight", 1, h, 'g', seed);
    if (kind == NormKind::kLayerNorm) n.b = add(name + ".bias", 1, h, 'b', seed);
  }

  Impl(const Architecture& a, const ModelConfig& c, std::uint64_t seed) : arch(a), cfg(c) {
    if (a.layers.empty()) throw InputError("model: an architecture needs at least one layer");
    if (c.vocab < 1 || c.num_classes < 1 || c.max_positions < 1)
      throw InputError("model: vocab, classes and max positions must be positive");
    if (c.dropout < 0 || c.dropout >= 1) throw InputError("model: dropout must be in [0, 1)");
    const i64 h0 = a.layers[0].hidden;
    word = add("embeddings.word.weight", c.vocab, h0, 'e', seed);
    pos = add("embeddings.position.weight", c.max_positions, h0, 'e', seed);
    seg = add("embeddings.token_type.weight", 2, h0, 'e', seed);
    add_norm(emb_norm, NormKind::kLayerNorm, "embeddings.norm", h0, seed);
    layers.resize(a.layers.size());
    for (std::size_t j = 0; j < a.layers.size(); ++j) {
      const Layer& ls = a.layers[j];
      LayerState& st = layers[j];
      st.spec = ls;
      const std::string name = "layer" + std::to_string(j);
      // FlexiBERT 2.0: n heads of h // n dimensions each; n need not divide h.
      if (ls.heads.empty() || ls.head_size() < 1)
        throw InputError(name + ": hidden " + std::to_string(ls.hidden) + " and " +
                         std::to_string(ls.num_heads()) +
                         " heads: need at least one head and no more heads than hidden");
      st.h = ls.hidden;
      st.hnext = j + 1 < a.layers.size() ? a.layers[j + 1].hidden : st.h;
      MixState& m = st.mix;
      m.h = st.h;
      m.d = ls.head_size();
      m.cat = ls.attention_width();
      m.kernel = ls.attn_kernel;
      for (const Head& hd : ls.heads) {
        HeadState hs;
        hs.op = hd.op;
        hs.k = hd.kernel;  // 0 except for a convolution
        hs.off = m.P;
        m.P += projections(hd.op) * m.d;
        m.heads.push_back(hs);
      }
      const std::string mn = name + ".mixing";
      m.win = add(mn + ".in_proj.weight", m.h, m.P, 'w', seed, false);
      m.bin = add(mn + ".in_proj.bias", 1, m.P, 'b', seed, false);
      for (std::size_t i = 0; i < m.heads.size(); ++i) {
        HeadState& hs = m.heads[i];
        const std::string hn = mn + ".head" + std::to_string(i) + "_" + to_string(family_of(hs.op));
        auto slice = [&](const std::string& part, i64 col) {
          exports[hn + "." + part + ".weight"] = {m.win, col, m.d};
          exports[hn + "." + part + ".bias"] = {m.bin, col, m.d};
        };
        switch (hs.op) {
          case flexnas::Op::kSdp:
          case flexnas::Op::kWma:
            slice("query", hs.off);
            slice("key", hs.off + m.d);
            slice("value", hs.off + 2 * m.d);
            if (hs.op == flexnas::Op::kWma) hs.w = add(hn + ".wma", m.d, m.d, 'w', seed);
            break;
          case flexnas::Op::kDft:
          case flexnas::Op::kDct:
            slice("value", hs.off);
            break;
          case flexnas::Op::kConv:
            slice("value", hs.off);
            hs.w = add(hn + ".conv.weight", m.d, hs.k, 'w', seed);
            hs.cb = add(hn + ".conv.bias", 1, m.d, 'b', seed);
            break;
        }
      }
      // The concatenated heads, n * d wide, back to h.
      m.wo = add(mn + ".output.weight", m.cat, m.h, 'w', seed);
      m.bo = add(mn + ".output.bias", 1, m.h, 'b', seed);
      auto add_sub = [&](SubState& s, const std::string& sn) {
        s.place = ls.norm_placement;
        if (s.place == NormPlacement::kPeri) {
          add_norm(s.n1, ls.norm, sn + ".norm_in", st.h, seed);
          add_norm(s.n2, ls.norm, sn + ".norm_out", st.h, seed);
        } else {
          add_norm(s.n1, ls.norm, sn + ".norm", st.h, seed);
        }
      };
      add_sub(st.smix, mn);
      const std::string fn = name + ".ffn";
      FfState& f = st.ff;
      f.h = st.h;
      f.act = ls.activation;
      i64 in = st.h;
      for (std::size_t i = 0; i < ls.ff.size(); ++i) {
        const std::string nm = fn + ".ff" + std::to_string(i);
        f.widths.push_back(ls.ff[i]);
        f.w.push_back(add(nm + ".weight", in, ls.ff[i], 'w', seed));
        f.b.push_back(add(nm + ".bias", 1, ls.ff[i], 'b', seed));
        in = ls.ff[i];
      }
      f.w.push_back(add(fn + ".ff_out.weight", in, st.h, 'w', seed));
      f.b.push_back(add(fn + ".ff_out.bias", 1, st.h, 'b', seed));
      f.Z.resize(ls.ff.size());
      f.H.resize(ls.ff.size());
      add_sub(st.sff, fn);
      if (st.hnext != st.h) {
        st.pw = add(name + ".projection.weight", st.h, st.hnext, 'w', seed);
        st.pb = add(name + ".projection.bias", 1, st.hnext, 'b', seed);
      }
    }
    const i64 hl = a.layers.back().hidden;
    if (c.token_level) {
      cls_w = add("classifier_token.weight", hl, c.num_classes, 'w', seed);
      cls_b = add("classifier_token.bias", 1, c.num_classes, 'b', seed);
    } else {
      pool_w = add("pooler.dense.weight", hl, hl, 'w', seed);
      pool_b = add("pooler.dense.bias", 1, hl, 'b', seed);
      cls_w = add("classifier.weight", hl, c.num_classes, 'w', seed);
      cls_b = add("classifier.bias", 1, c.num_classes, 'b', seed);
    }
  }

  // ---- building blocks -------------------------------------------------------------------

  void colsum(const float* dy, i64 ld, i64 rows, i64 cols, float* acc) {
    blas.mm(1, 1, cols, rows, {ones.data(), rows, 0, false}, {dy, ld, 0, false}, acc, cols, 0,
            nullptr, true);
  }
  // y = x W + b (x [N, in] with ldx, y [N, out] with ldy)
  void dense(const float* x, i64 ldx, i64 rows, const Param* w, const Param* b, float* y, i64 ldy) {
    blas.mm(1, rows, w->value.cols(), w->value.rows(), {x, ldx, 0, false},
            {w->value.data(), w->value.cols(), 0, false}, y, ldy, 0, b ? b->value.data() : nullptr,
            false);
  }
  // dW += x^T dy, db += colsum dy, dx = dy W^T (when dx)
  void dense_bwd(const float* x, i64 ldx, const float* dy, i64 ldy, i64 rows, Param* w, Param* b,
                 float* dx, i64 lddx) {
    const i64 in = w->value.rows(), out = w->value.cols();
    blas.mm(1, in, out, rows, {x, ldx, 0, true}, {dy, ldy, 0, false}, w->grad.data(), out, 0,
            nullptr, true);
    if (b) colsum(dy, ldy, rows, out, b->grad.data());
    if (dx)
      blas.mm(1, rows, in, out, {dy, ldy, 0, false}, {w->value.data(), out, 0, true}, dx, lddx, 0,
              nullptr, false);
  }

  void norm_fwd(NormUse& n, const float* x, float* y, i64 rows, i64 h) {
    if (n.kind == NormKind::kNone) {
      std::memcpy(y, x, uz(rows * h) * sizeof(float));
      return;
    }
    ensure(n.xhat, rows * h);
    ensure(n.rstd, rows);
    const bool ln = n.kind == NormKind::kLayerNorm;
    const float* g = n.g->value.data();
    const float* bb = ln ? n.b->value.data() : nullptr;
    float* xh = n.xhat.data();
    float* rs = n.rstd.data();
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * h;
      float mean = 0;
      if (ln) {
        for (i64 c = 0; c < h; ++c) mean += xr[c];
        mean /= static_cast<float>(h);
      }
      float var = 0;
      for (i64 c = 0; c < h; ++c) var += (xr[c] - mean) * (xr[c] - mean);
      var /= static_cast<float>(h);
      const float rstd = 1.f / std::sqrt(var + (ln ? 1e-12f : 1e-6f));
      rs[r] = rstd;
      float* xo = xh + r * h;
      float* yr = y + r * h;
      for (i64 c = 0; c < h; ++c) {
        xo[c] = (xr[c] - mean) * rstd;
        yr[c] = xo[c] * g[c] + (ln ? bb[c] : 0.f);
      }
    }
  }
  // dx = d norm / dx (dy), accumulating the gain/bias gradients; dx may alias dy.
  void norm_bwd(NormUse& n, const float* dy, float* dx, i64 rows, i64 h) {
    if (n.kind == NormKind::kNone) {
      if (dx != dy) std::memcpy(dx, dy, uz(rows * h) * sizeof(float));
      return;
    }
    const bool ln = n.kind == NormKind::kLayerNorm;
    ensure(n.tmp, rows * h);
    const float* g = n.g->value.data();
    const float* xh = n.xhat.data();
    float* tmp = n.tmp.data();
#pragma omp parallel for schedule(static)
    for (i64 i = 0; i < rows * h; ++i) tmp[i] = dy[i] * xh[i];
    colsum(tmp, h, rows, h, n.g->grad.data());
    if (ln) colsum(dy, h, rows, h, n.b->grad.data());
    const float* rs = n.rstd.data();
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < rows; ++r) {
      const float* dyr = dy + r * h;
      const float* xr = xh + r * h;
      float m1 = 0, m2 = 0;
      for (i64 c = 0; c < h; ++c) {
        const float dxh = dyr[c] * g[c];
        m1 += dxh;
        m2 += dxh * xr[c];
      }
      m1 = ln ? m1 / static_cast<float>(h) : 0.f;
      m2 /= static_cast<float>(h);
      float* dxr = dx + r * h;
      for (i64 c = 0; c < h; ++c) dxr[c] = rs[r] * (dyr[c] * g[c] - m1 - xr[c] * m2);
    }
  }

  void make_mask(Buf& mask, i64 n, std::uint64_t seed, std::uint64_t site, bool train) {
    if (!train || cfg.dropout <= 0) {
      mask.clear();
      return;
    }
    ensure(mask, n);
    const float keep = 1.f / (1.f - cfg.dropout);
    const std::uint64_t base = seed ^ (0xD1B54A32D192ED03ull * (site + 1));
    const auto thr =
        static_cast<std::uint64_t>(static_cast<double>(cfg.dropout) * 18446744073709551616.0);
    float* m = mask.data();
#pragma omp parallel for schedule(static)
    for (i64 i = 0; i < n; ++i) {
      std::uint64_t s = base + static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull;
      m[i] = splitmix(s) < thr ? 0.f : keep;
    }
  }
  static void apply_mask(const Buf& mask, float* x, i64 n) {
    if (mask.empty()) return;
    const float* m = mask.data();
#pragma omp parallel for schedule(static)
    for (i64 i = 0; i < n; ++i) x[i] *= m[i];
  }

  // ---- mixing ----------------------------------------------------------------------------

  void attn_kernel_fwd(HeadState& hs, AttnKernel kernel, i64 d, const float* S) {
    const i64 rows = B * L;
    const float scale = static_cast<float>(1 / std::sqrt(static_cast<double>(d)));
    float* A = hs.A.data();
    if (kernel != AttnKernel::kSoftmax && kernel != AttnKernel::kScale) ensure(hs.rs, rows);
    float* rsum = hs.rs.data();
    const i64 Lc = L;
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < rows; ++r) {
      const float* s = S + r * Lc;
      float* a = A + r * Lc;
      switch (kernel) {
        case AttnKernel::kSoftmax: {
          float mx = -INFINITY;
          for (i64 c = 0; c < Lc; ++c) mx = std::max(mx, s[c] * scale);
          float sum = 0;
          for (i64 c = 0; c < Lc; ++c) sum += (a[c] = std::exp(s[c] * scale - mx));
          const float inv = 1.f / sum;
          for (i64 c = 0; c < Lc; ++c) a[c] *= inv;
          break;
        }
        case AttnKernel::kScale: {
          const float sc = scale / static_cast<float>(Lc);
          for (i64 c = 0; c < Lc; ++c) a[c] = s[c] * sc;
          break;
        }
        case AttnKernel::kRelu:
        case AttnKernel::kQuad: {
          float sum = 0;
          for (i64 c = 0; c < Lc; ++c) {
            float t = s[c] * scale;
            t = kernel == AttnKernel::kRelu ? std::max(t, 0.f) : (t + 5.f) * (t + 5.f);
            a[c] = t;
            sum += t;
          }
          rsum[r] = sum;
          const float den = sum + 1e-6f;
          for (i64 c = 0; c < Lc; ++c) a[c] /= den;
          break;
        }
      }
    }
  }

  // dA -> dS in place.
  void attn_kernel_bwd(HeadState& hs, AttnKernel kernel, i64 d, float* dAp) {
    const i64 rows = B * L;
    const float scale = static_cast<float>(1 / std::sqrt(static_cast<double>(d)));
    const float* S = hs.S.data();
    const float* A = hs.A.data();
    const float* rsum = hs.rs.data();
    const i64 Lc = L;
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < rows; ++r) {
      const float* s = S + r * Lc;
      const float* a = A + r * Lc;
      float* g = dAp + r * Lc;
      if (kernel == AttnKernel::kScale) {
        const float sc = scale / static_cast<float>(Lc);
        for (i64 c = 0; c < Lc; ++c) g[c] *= sc;
        continue;
      }
      float dot = 0;
      for (i64 c = 0; c < Lc; ++c) dot += g[c] * a[c];
      if (kernel == AttnKernel::kSoftmax) {
        for (i64 c = 0; c < Lc; ++c) g[c] = a[c] * (g[c] - dot) * scale;
      } else {
        const float inv = 1.f / (rsum[r] + 1e-6f);
        for (i64 c = 0; c < Lc; ++c) {
          const float t = s[c] * scale;
          const float dg = kernel == AttnKernel::kRelu ? (t > 0 ? 1.f : 0.f) : 2.f * (t + 5.f);
          g[c] = (g[c] - dot) * inv * dg * scale;
        }
      }
    }
  }

  // x [N, h] -> z [N, h]; the heads write their d columns of C [N, cat], cat = n * d.
  void mix_fwd(MixState& m, const float* x, float* z) {
    m.in = x;
    const i64 P = m.P, d = m.d, h = m.h, cw = m.cat;
    ensure(m.Pb, N * P);
    ensure(m.C, N * cw);
    dense(x, h, N, m.win, m.bin, m.Pb.data(), P);
    const float* Pp = m.Pb.data();
    for (std::size_t i = 0; i < m.heads.size(); ++i) {
      HeadState& hs = m.heads[i];
      float* out = m.C.data() + static_cast<i64>(i) * d;
      const float* v = Pp + hs.off + (projections(hs.op) - 1) * d;
      switch (hs.op) {
        case flexnas::Op::kSdp:
        case flexnas::Op::kWma: {
          const float* q = Pp + hs.off;
          const float* k = Pp + hs.off + d;
          Op qop{q, P, L * P, false};
          if (hs.op == flexnas::Op::kWma) {
            ensure(hs.qw, N * d);
            blas.mm(1, N, d, d, {q, P, 0, false}, {hs.w->value.data(), d, 0, false}, hs.qw.data(),
                    d, 0, nullptr, false);
            qop = {hs.qw.data(), d, L * d, false};
          }
          // Raw scores are kept for backward only where the kernel needs them (relu, quad);
          // softmax and scale backward need the probabilities alone.
          const bool keep_s = m.kernel == AttnKernel::kRelu || m.kernel == AttnKernel::kQuad;
          Buf& sbuf = keep_s ? hs.S : scores;
          if (!keep_s) hs.S = Buf();
          ensure(sbuf, B * L * L);
          ensure(hs.A, B * L * L);
          blas.mm(B, L, L, d, qop, {k, P, L * P, true}, sbuf.data(), L, L * L, nullptr, false);
          attn_kernel_fwd(hs, m.kernel, d, sbuf.data());
          blas.mm(B, L, d, L, {hs.A.data(), L, L * L, false}, {v, P, L * P, false}, out, cw, L * cw,
                  nullptr, false);
          break;
        }
        case flexnas::Op::kDct:
          ensure(t1, N * d);
          blas.mm(B, L, d, L, {mat(0, L).data(), L, 0, false}, {v, P, L * P, false}, t1.data(), d,
                  L * d, nullptr, false);
          blas.mm(1, N, d, d, {t1.data(), d, 0, false}, {mat(0, d).data(), d, 0, true}, out, cw, 0,
                  nullptr, false);
          break;
        case flexnas::Op::kDft:
          ensure(t1, N * d);
          ensure(t2, N * d);
          blas.mm(B, L, d, L, {mat(1, L).data(), L, 0, false}, {v, P, L * P, false}, t1.data(), d,
                  L * d, nullptr, false);
          blas.mm(B, L, d, L, {mat(2, L).data(), L, 0, false}, {v, P, L * P, false}, t2.data(), d,
                  L * d, nullptr, false);
          blas.mm(1, N, d, d, {t1.data(), d, 0, false}, {mat(1, d).data(), d, 0, false}, out, cw, 0,
                  nullptr, false);
          blas.mm(1, N, d, d, {t2.data(), d, 0, false}, {mat(3, d).data(), d, 0, false}, out, cw, 0,
                  nullptr, true);
          break;
        case flexnas::Op::kConv:
          conv_fwd(hs, v, P, out, cw, d);
          break;
      }
    }
    dense(m.C.data(), cw, N, m.wo, m.bo, z, h);
  }

  void conv_fwd(const HeadState& hs, const float* v, i64 ldv, float* out, i64 ldo, i64 d) {
    const i64 k = hs.k, pad = (k - 1) / 2, Lc = L;
    const float* w = hs.w->value.data();
    const float* cb = hs.cb->value.data();
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < N; ++r) {
      const i64 b = r / Lc, t = r % Lc;
      float* o = out + r * ldo;
      for (i64 c = 0; c < d; ++c) o[c] = cb[c];
      for (i64 j = 0; j < k; ++j) {
        const i64 src = t + j - pad;
        if (src < 0 || src >= Lc) continue;
        const float* vr = v + (b * Lc + src) * ldv;
        for (i64 c = 0; c < d; ++c) o[c] += w[c * k + j] * vr[c];
      }
    }
  }

  void conv_bwd(HeadState& hs, const float* v, i64 ldv, const float* dout, i64 ldo, float* dv,
                i64 lddv, i64 d) {
    const i64 k = hs.k, pad = (k - 1) / 2, Lc = L;
    const float* w = hs.w->value.data();
    float* dw = hs.w->grad.data();
    float* db = hs.cb->grad.data();
#pragma omp parallel for schedule(static)
    for (i64 r = 0; r < N; ++r) {
      const i64 b = r / Lc, s = r % Lc;
      float* o = dv + r * lddv;
      for (i64 c = 0; c < d; ++c) o[c] = 0;
      for (i64 j = 0; j < k; ++j) {
        const i64 t = s - j + pad;
        if (t < 0 || t >= Lc) continue;
        const float* g = dout + (b * Lc + t) * ldo;
        for (i64 c = 0; c < d; ++c) o[c] += w[c * k + j] * g[c];
      }
    }
#pragma omp parallel for schedule(static)
    for (i64 c = 0; c < d; ++c) {
      float sb = 0;
      for (i64 r = 0; r < N; ++r) sb += dout[r * ldo + c];
      db[c] += sb;
      for (i64 j = 0; j < k; ++j) {
        float sw = 0;
        for (i64 r = 0; r < N; ++r) {
          const i64 src = r % Lc + j - pad;
          if (src < 0 || src >= Lc) continue;
          sw += dout[r * ldo + c] * v[(r + j - pad) * ldv + c];
        }
        dw[c * k + j] += sw;
      }
    }
  }

  // dz [N, h] -> dx [N, h] (written).
  void mix_bwd(MixState& m, const float* dz, float* dx) {
    const i64 P = m.P, d = m.d, h = m.h, cw = m.cat;
    ensure(gc, N * cw);
    ensure(gp, N * P);
    float* dC = gc.data();
    float* dP = gp.data();
    dense_bwd(m.C.data(), cw, dz, h, N, m.wo, m.bo, dC, cw);
    const float* Pp = m.Pb.data();
    for (std::size_t i = 0; i < m.heads.size(); ++i) {
      HeadState& hs = m.heads[i];
      const float* dout = dC + static_cast<i64>(i) * d;
      const i64 voff = hs.off + (projections(hs.op) - 1) * d;
      const float* v = Pp + voff;
      float* dv = dP + voff;
      switch (hs.op) {
        case flexnas::Op::kSdp:
        case flexnas::Op::kWma: {
          const bool wma = hs.op == flexnas::Op::kWma;
          const float* q = Pp + hs.off;
          const float* k = Pp + hs.off + d;
          ensure(dA, B * L * L);
          // dA = dctx v^T; dv = A^T dctx
          blas.mm(B, L, L, d, {dout, cw, L * cw, false}, {v, P, L * P, true}, dA.data(), L, L * L,
                  nullptr, false);
          blas.mm(B, L, d, L, {hs.A.data(), L, L * L, true}, {dout, cw, L * cw, false}, dv, P,
                  L * P, nullptr, false);
          attn_kernel_bwd(hs, m.kernel, d, dA.data());
          Op qop = wma ? Op{hs.qw.data(), d, L * d, false} : Op{q, P, L * P, false};
          float* dqw = dP + hs.off;
          i64 lddq = P;
          if (wma) {
            ensure(dq, N * d);
            dqw = dq.data();
            lddq = d;
          }
          blas.mm(B, L, d, L, {dA.data(), L, L * L, false}, {k, P, L * P, false}, dqw, lddq,
                  L * lddq, nullptr, false);
          blas.mm(B, L, d, L, {dA.data(), L, L * L, true}, qop, dP + hs.off + d, P, L * P, nullptr,
                  false);
          if (wma) {
            blas.mm(1, d, d, N, {q, P, 0, true}, {dqw, d, 0, false}, hs.w->grad.data(), d, 0,
                    nullptr, true);
            blas.mm(1, N, d, d, {dqw, d, 0, false}, {hs.w->value.data(), d, 0, true}, dP + hs.off,
                    P, 0, nullptr, false);
          }
          break;
        }
        case flexnas::Op::kDct:
          ensure(t1, N * d);
          // out = (D_L v) D_d^T: dT = dout D_d, dv = D_L^T dT
          blas.mm(1, N, d, d, {dout, cw, 0, false}, {mat(0, d).data(), d, 0, false}, t1.data(), d,
                  0, nullptr, false);
          blas.mm(B, L, d, L, {mat(0, L).data(), L, 0, true}, {t1.data(), d, L * d, false}, dv, P,
                  L * P, nullptr, false);
          break;
        case flexnas::Op::kDft:
          ensure(t1, N * d);
          ensure(t2, N * d);
          // out = (C_L v) C_d + (S_L v)(-S_d): dT1 = dout C_d^T, dT2 = dout (-S_d)^T
          blas.mm(1, N, d, d, {dout, cw, 0, false}, {mat(1, d).data(), d, 0, true}, t1.data(), d, 0,
                  nullptr, false);
          blas.mm(1, N, d, d, {dout, cw, 0, false}, {mat(3, d).data(), d, 0, true}, t2.data(), d, 0,
                  nullptr, false);
          blas.mm(B, L, d, L, {mat(1, L).data(), L, 0, true}, {t1.data(), d, L * d, false}, dv, P,
                  L * P, nullptr, false);
          blas.mm(B, L, d, L, {mat(2, L).data(), L, 0, true}, {t2.data(), d, L * d, false}, dv, P,
                  L * P, nullptr, true);
          break;
        case flexnas::Op::kConv:
          conv_bwd(hs, v, P, dout, cw, dv, P, d);
          break;
      }
    }
    dense_bwd(m.in, h, dP, P, N, m.win, m.bin, dx, h);
  }

  // ---- feed-forward ----------------------------------------------------------------------

  static float act_f(Activation a, float x) {
    switch (a) {
      case Activation::kGelu:
        return 0.5f * x * (1.f + std::erf(x * kGeluC));
      case Activation::kRelu:
        return x > 0 ? x : 0.f;
      case Activation::kQuad:
        return (0.125f * x + 0.25f) * x + 0.5f;
    }
    return x;
  }
  static float act_d(Activation a, float x) {
    switch (a) {
      case Activation::kGelu:
        return 0.5f * (1.f + std::erf(x * kGeluC)) + x * kGeluD * std::exp(-0.5f * x * x);
      case Activation::kRelu:
        return x > 0 ? 1.f : 0.f;
      case Activation::kQuad:
        return 0.25f * x + 0.25f;
    }
    return 1.f;
  }

  void ff_fwd(FfState& f, const float* x, float* z) {
    f.in = x;
    const float* cur = x;
    i64 in = f.h;
    for (std::size_t i = 0; i < f.widths.size(); ++i) {
      const i64 w = f.widths[i];
      ensure(f.Z[i], N * w);
      ensure(f.H[i], N * w);
      dense(cur, in, N, f.w[i], f.b[i], f.Z[i].data(), w);
      const float* zp = f.Z[i].data();
      float* hp = f.H[i].data();
      const Activation a = f.act;
      if (a == Activation::kGelu) {
        blas.gelu(zp, hp, N * w);
      } else {
#pragma omp parallel for schedule(static)
        for (i64 e = 0; e < N * w; ++e) hp[e] = act_f(a, zp[e]);
      }
      cur = hp;
      in = w;
    }
    dense(cur, in, N, f.w.back(), f.b.back(), z, f.h);
  }

  void ff_bwd(FfState& f, const float* dz, float* dx) {
    const std::size_t k = f.widths.size();
    i64 maxw = f.h;
    for (i64 w : f.widths) maxw = std::max(maxw, w);
    ensure(g3, N * maxw);
    ensure(gp, N * maxw);
    float* a = g3.data();
    float* b = gp.data();
    const float* dcur = dz;
    for (std::size_t i = k + 1; i-- > 0;) {
      const float* x = i == 0 ? f.in : f.H[i - 1].data();
      const i64 in = i == 0 ? f.h : f.widths[i - 1];
      const i64 out = i == k ? f.h : f.widths[i];
      float* dxo = i == 0 ? dx : a;
      dense_bwd(x, in, dcur, out, N, f.w[i], f.b[i], dxo, in);
      if (i > 0) {
        const float* zp = f.Z[i - 1].data();
        const Activation act = f.act;
        if (act == Activation::kGelu) {
          blas.gelu_bwd(zp, a, N * in);
        } else {
#pragma omp parallel for schedule(static)
          for (i64 e = 0; e < N * in; ++e) a[e] *= act_d(act, zp[e]);
        }
        dcur = a;
        std::swap(a, b);
      }
    }
  }

  // ---- sublayers ---------------------------------------------------------------------------

  template <class F>
  void sub_fwd(SubState& s, const float* x, float* y, i64 h, bool train, std::uint64_t seed,
               std::uint64_t site, F f) {
    const i64 n = N * h;
    ensure(s.z, n);
    make_mask(s.mask, n, seed, site, train);
    switch (s.place) {
      case NormPlacement::kPost:
        f(x, s.z.data());
        apply_mask(s.mask, s.z.data(), n);
        ensure(s.s, n);
        {
          float* sp = s.s.data();
          const float* zp = s.z.data();
#pragma omp parallel for schedule(static)
          for (i64 i = 0; i < n; ++i) sp[i] = x[i] + zp[i];
        }
        norm_fwd(s.n1, s.s.data(), y, N, h);
        break;
      case NormPlacement::kPre:
        ensure(s.u, n);
        norm_fwd(s.n1, x, s.u.data(), N, h);
        f(s.u.data(), s.z.data());
        apply_mask(s.mask, s.z.data(), n);
        {
          const float* zp = s.z.data();
#pragma omp parallel for schedule(static)
          for (i64 i = 0; i < n; ++i) y[i] = x[i] + zp[i];
        }
        break;
      case NormPlacement::kPeri:
        ensure(s.u, n);
        ensure(s.s, n);
        norm_fwd(s.n1, x, s.u.data(), N, h);
        f(s.u.data(), s.z.data());
        apply_mask(s.mask, s.z.data(), n);
        norm_fwd(s.n2, s.z.data(), s.s.data(), N, h);
        {
          const float* sp = s.s.data();
#pragma omp parallel for schedule(static)
          for (i64 i = 0; i < n; ++i) y[i] = x[i] + sp[i];
        }
        break;
    }
  }

  // dy -> dx (written; dx must not alias dy). Scratch: g1, g2.
  template <class F>
  void sub_bwd(SubState& s, const float* dy, float* dx, i64 h, F fb) {
    const i64 n = N * h;
    ensure(g1, n);
    float* t = g1.data();
    switch (s.place) {
      case NormPlacement::kPost: {
        norm_bwd(s.n1, dy, dx, N, h);  // ds, the residual's share
        std::memcpy(t, dx, uz(n) * sizeof(float));
        apply_mask(s.mask, t, n);
        ensure(g2, n);
        fb(t, g2.data());
        const float* o = g2.data();
#pragma omp parallel for schedule(static)
        for (i64 i = 0; i < n; ++i) dx[i] += o[i];
        return;
      }
      case NormPlacement::kPre:
        std::memcpy(t, dy, uz(n) * sizeof(float));
        apply_mask(s.mask, t, n);
        fb(t, dx);  // du
        norm_bwd(s.n1, dx, dx, N, h);
        break;
      case NormPlacement::kPeri:
        norm_bwd(s.n2, dy, t, N, h);
        apply_mask(s.mask, t, n);
        fb(t, dx);
        norm_bwd(s.n1, dx, dx, N, h);
        break;
    }
#pragma omp parallel for schedule(static)
    for (i64 i = 0; i < n; ++i) dx[i] += dy[i];
  }

  // ---- step --------------------------------------------------------------------------------

  StepResult step(const Batch& bt, bool train, std::uint64_t seed) {
    const i64 Bn = bt.batch, Ln = bt.seq;
    if (Bn < 1 || Ln < 1 || Ln > cfg.max_positions)
      throw InputError("batch: batch " + std::to_string(Bn) + ", seq " + std::to_string(Ln) +
                       ": need batch >= 1 and 1 <= seq <= max positions " +
                       std::to_string(cfg.max_positions));
    if (bt.tokens.size() != uz(Bn * Ln))
      throw InputError("batch: " + std::to_string(bt.tokens.size()) +
                       " tokens, expected batch x seq = " + std::to_string(Bn * Ln));
    const bool tl = cfg.token_level;
    const i64 R = tl ? Bn * Ln : Bn;  // scored rows
    if (bt.targets.size() != uz(R))
      throw InputError("batch: " + std::to_string(bt.targets.size()) + " targets, expected " +
                       std::to_string(R) + (tl ? " (batch x seq, token level)" : " (batch)"));
    for (std::size_t i = 0; i < bt.tokens.size(); ++i)
      if (bt.tokens[i] < 0 || bt.tokens[i] >= cfg.vocab)
        throw InputError("batch: token " + std::to_string(i) + " is " +
                         std::to_string(bt.tokens[i]) + ", not in [0, vocab " +
                         std::to_string(cfg.vocab) + ")");
    for (std::size_t i = 0; i < bt.targets.size(); ++i)
      if (bt.targets[i] < -1 || bt.targets[i] >= cfg.num_classes)
        throw InputError("batch: target " + std::to_string(i) + " is " +
                         std::to_string(bt.targets[i]) + ", not -1 or in [0, classes " +
                         std::to_string(cfg.num_classes) + ")");
    B = Bn;
    L = Ln;
    N = B * L;
    if (ones.size() < uz(N)) ones.assign(uz(N), 1.f);
    const i64 h0 = arch.layers[0].hidden;
    const i64 hl = arch.layers.back().hidden;
    const i64 C = cfg.num_classes;

    // Embeddings.
    ensure(emb_sum, N * h0);
    ensure(x0, N * h0);
    {
      const float* we = word->value.data();
      const float* pe = pos->value.data();
      const float* se = seg->value.data();
      float* es = emb_sum.data();
      const std::int32_t* tok = bt.tokens.data();
      const i64 Lc = L;
#pragma omp parallel for schedule(static)
      for (i64 r = 0; r < N; ++r) {
        const float* wr = we + static_cast<i64>(tok[r]) * h0;
        const float* pr = pe + (r % Lc) * h0;
        for (i64 c = 0; c < h0; ++c) es[r * h0 + c] = wr[c] + pr[c] + se[c];
      }
    }
    norm_fwd(emb_norm, emb_sum.data(), x0.data(), N, h0);
    make_mask(emb_mask, N * h0, seed, 0, train);
    apply_mask(emb_mask, x0.data(), N * h0);

    std::vector<const float*> xin(layers.size());
    const float* x = x0.data();
    for (std::size_t j = 0; j < layers.size(); ++j) {
      LayerState& st = layers[j];
      const i64 h = st.h;
      xin[j] = x;
      ensure(st.mid, N * h);
      ensure(st.out, N * h);
      sub_fwd(st.smix, x, st.mid.data(), h, train, seed, 1 + 2 * j,
              [&](const float* in, float* z) { mix_fwd(st.mix, in, z); });
      sub_fwd(st.sff, st.mid.data(), st.out.data(), h, train, seed, 2 + 2 * j,
              [&](const float* in, float* z) { ff_fwd(st.ff, in, z); });
      x = st.out.data();
      if (st.pw) {
        ensure(st.proj, N * st.hnext);
        dense(x, h, N, st.pw, st.pb, st.proj.data(), st.hnext);
        x = st.proj.data();
      }
    }

    // Head.
    logits.resize(R, C);
    if (tl) {
      dense(x, hl, N, cls_w, cls_b, logits.data(), C);
    } else {
      ensure(first, B * hl);
      ensure(pooled, B * hl);
      for (i64 b = 0; b < B; ++b)
        std::memcpy(first.data() + b * hl, x + b * L * hl, uz(hl) * sizeof(float));
      dense(first.data(), hl, B, pool_w, pool_b, pooled.data(), hl);
      for (i64 i = 0; i < B * hl; ++i) pooled[uz(i)] = std::tanh(pooled[uz(i)]);
      dense(pooled.data(), hl, B, cls_w, cls_b, logits.data(), C);
    }

    // Loss.
    StepResult res;
    dlogits.setZero(R, C);
    double loss = 0;
    for (i64 r = 0; r < R; ++r) {
      const int tgt = bt.targets[uz(r)];
      if (tgt < 0) continue;
      const float* lr = logits.data() + r * C;
      double mx = lr[0];
      i64 arg = 0;
      for (i64 c = 1; c < C; ++c)
        if (lr[c] > mx) mx = lr[c], arg = c;
      double sum = 0;
      for (i64 c = 0; c < C; ++c) sum += std::exp(lr[c] - mx);
      loss += std::log(sum) + mx - lr[tgt];
      res.correct += arg == tgt ? 1 : 0;
      ++res.scored;
      float* dr = dlogits.data() + r * C;
      for (i64 c = 0; c < C; ++c) dr[c] = static_cast<float>(std::exp(lr[c] - mx) / sum);
      dr[tgt] -= 1.f;
    }
    res.loss = res.scored ? loss / res.scored : 0;
    if (!train || res.scored == 0) return res;
    dlogits *= 1.f / static_cast<float>(res.scored);

    // Backward.
    i64 hmax = 0;
    for (const auto& st : layers) hmax = std::max({hmax, st.h, st.hnext});
    ensure(ga, N * hmax);
    ensure(gb, N * hmax);
    float* dcur = ga.data();
    float* dnext = gb.data();
    if (tl) {
      dense_bwd(x, hl, dlogits.data(), C, N, cls_w, cls_b, dcur, hl);
    } else {
      ensure(g3, B * hl);
      dense_bwd(pooled.data(), hl, dlogits.data(), C, B, cls_w, cls_b, g3.data(), hl);
      for (i64 i = 0; i < B * hl; ++i) g3[uz(i)] *= 1.f - pooled[uz(i)] * pooled[uz(i)];
      ensure(t1, B * hl);
      dense_bwd(first.data(), hl, g3.data(), hl, B, pool_w, pool_b, t1.data(), hl);
      std::fill(dcur, dcur + N * hl, 0.f);
      for (i64 b = 0; b < B; ++b)
        std::memcpy(dcur + b * L * hl, t1.data() + b * hl, uz(hl) * sizeof(float));
    }
    for (std::size_t j = layers.size(); j-- > 0;) {
      LayerState& st = layers[j];
      const i64 h = st.h;
      if (st.pw) {
        dense_bwd(st.out.data(), h, dcur, st.hnext, N, st.pw, st.pb, dnext, h);
        std::swap(dcur, dnext);
      }
      sub_bwd(st.sff, dcur, dnext, h, [&](const float* dz, float* dx) { ff_bwd(st.ff, dz, dx); });
      std::swap(dcur, dnext);
      sub_bwd(st.smix, dcur, dnext, h,
              [&](const float* dz, float* dx) { mix_bwd(st.mix, dz, dx); });
      std::swap(dcur, dnext);
    }
    // Embeddings.
    apply_mask(emb_mask, dcur, N * h0);
    norm_bwd(emb_norm, dcur, dcur, N, h0);
    {
      float* dw = word->grad.data();
      float* dpos = pos->grad.data();
      float* dseg = seg->grad.data();
      const i64 Lc = L;
      for (i64 r = 0; r < N; ++r) {  // scatter-add in row order: deterministic
        float* wr = dw + static_cast<i64>(bt.tokens[uz(r)]) * h0;
        const float* g = dcur + r * h0;
        for (i64 c = 0; c < h0; ++c) wr[c] += g[c];
      }
#pragma omp parallel for schedule(static)
      for (i64 t = 0; t < Lc; ++t)
        for (i64 b = 0; b < B; ++b)
          for (i64 c = 0; c < h0; ++c) dpos[t * h0 + c] += dcur[(b * Lc + t) * h0 + c];
      colsum(dcur, h0, N, h0, dseg);
    }
    return res;
  }
};

Model::Model(const Architecture& a, const ModelConfig& cfg, std::uint64_t seed)
    : impl_(std::make_unique<Impl>(a, cfg, seed)) {}
Model::~Model() = default;

std::vector<Param*> Model::params() {
  return impl_->plist;
}

StepResult Model::step(const Batch& b, bool train, std::uint64_t seed) {
  ThreadScope threads(impl_->cfg.threads);
  return impl_->step(b, train, seed);
}

const Mat& Model::logits() const {
  return impl_->logits;
}
const Architecture& Model::architecture() const {
  return impl_->arch;
}
const ModelConfig& Model::config() const {
  return impl_->cfg;
}

std::int64_t Model::num_parameters() const {
  std::int64_t n = 0;
  for (const Param* p : impl_->plist) n += p->value.size();
  return n;
}

bool Model::export_weight(const std::string& name, const std::vector<std::int64_t>& dims,
                          std::vector<float>& out) const {
  auto it = impl_->exports.find(name);
  if (it == impl_->exports.end()) return false;
  const ExportSrc& src = it->second;
  i64 n = 1;
  for (auto d : dims) n *= d;
  const Mat& v = src.p->value;
  const i64 rows = v.rows(), cols = src.cols < 0 ? v.cols() : src.cols;
  if (n != rows * cols)
    throw InputError("weights for " + name + ": the model has " + std::to_string(rows * cols) +
                     " values, the export asks for " + std::to_string(n));
  out.resize(uz(n));
  for (i64 r = 0; r < rows; ++r)
    std::memcpy(out.data() + r * cols, v.data() + r * v.cols() + src.col, uz(cols) * sizeof(float));
  return true;
}

void Model::save(const std::string& path) const {
  Checkpoint c;
  c.arch = to_string(impl_->arch);
  for (const Param* p : impl_->plist) {
    CheckpointTensor t{p->name, p->value.rows(), p->value.cols(), {}};
    t.data.assign(p->value.data(), p->value.data() + p->value.size());
    c.tensors.push_back(std::move(t));
  }
  write_checkpoint(path, checkpoint_bytes(c));
}

void Model::load(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  if (c.arch != to_string(impl_->arch))
    throw InputError("checkpoint " + path + " is of another architecture: " + c.arch);
  const auto& pl = impl_->plist;
  if (c.tensors.size() != pl.size())
    throw InputError("checkpoint " + path + ": " + std::to_string(c.tensors.size()) +
                     " tensors, the model has " + std::to_string(pl.size()));
  for (std::size_t i = 0; i < pl.size(); ++i) {
    const CheckpointTensor& t = c.tensors[i];
    if (t.name != pl[i]->name || t.rows != pl[i]->value.rows() || t.cols != pl[i]->value.cols())
      throw InputError("checkpoint " + path + ": tensor " + t.name + " does not match " +
                       pl[i]->name + " of the model");
  }
  for (std::size_t i = 0; i < pl.size(); ++i)
    if (!c.tensors[i].data.empty())
      std::memcpy(pl[i]->value.data(), c.tensors[i].data.data(), c.tensors[i].data.size() * 4);
}

int Model::transfer_from(const std::string& donor_checkpoint) {
  const Checkpoint c = read_checkpoint(donor_checkpoint);
  const Architecture donor = architecture_from_string(c.arch);
  const auto& ours = impl_->arch.layers;
  int same = 0;
  while (static_cast<std::size_t>(same) < ours.size() &&
         static_cast<std::size_t>(same) < donor.layers.size() &&
         donor.layers[uz(same)] == ours[uz(same)])
    ++same;
  std::map<std::string, const CheckpointTensor*> by_name;
  for (const auto& t : c.tensors) by_name[t.name] = &t;
  for (Param* p : impl_->plist) {
    bool take = p->name.rfind("embeddings.", 0) == 0;
    for (int j = 0; j < same && !take; ++j)
      take = p->name.rfind("layer" + std::to_string(j) + ".", 0) == 0;
    if (!take) continue;
    auto it = by_name.find(p->name);
    if (it == by_name.end() || it->second->rows != p->value.rows() ||
        it->second->cols != p->value.cols() || it->second->data.empty())
      continue;
    std::memcpy(p->value.data(), it->second->data.data(), it->second->data.size() * 4);
  }
  return same;
}

}  // namespace flexnas::train
