#include "evaluators/onednn_encoder.hpp"

#include <omp.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <random>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.hpp"

namespace flexnas::latency {

const char* to_string(DType t) {
  return t == DType::kBf16 ? "bf16" : "f32";
}

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "f32") return DType::kF32;
  if (s == "bf16") return DType::kBf16;
  throw InputError(where + ": dtype '" + s + "' is not one of f32, bf16");
}

const char* to_string(Clock c) {
  return c == Clock::kCpu ? "cpu" : "wall";
}

Clock parse_clock(const std::string& s, const std::string& where) {
  if (s == "wall") return Clock::kWall;
  if (s == "cpu") return Clock::kCpu;
  throw InputError(where + ": clock '" + s + "' is not one of wall, cpu");
}

namespace {
bool isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t feature) {
  return (static_cast<unsigned>(isa) & static_cast<unsigned>(feature)) ==
         static_cast<unsigned>(feature);
}
}  // namespace

bool bf16_supported() {
  return isa_has(dnnl_get_effective_cpu_isa(), dnnl_cpu_isa_avx512_core);
}

void check_dtype_supported(DType t) {
  if (t == DType::kBf16 && !bf16_supported())
    throw InputError("dtype bf16 needs AVX-512 (oneDNN's bf16 kernels); this CPU (" + cpu_model() +
                     ", " + cpu_isa() + ") supports only f32");
}

std::int64_t l2_cache_bytes() {
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return l2 > 0 ? l2 : std::int64_t{1} << 20;
}

int effective_threads(int threads) {
  return threads > 0 ? threads : omp_get_num_procs();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) break;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r") + 1);
    if (!v.empty()) return v;
  }
  return "unknown cpu";
}

std::string onednn_version() {
  const auto* v = dnnl::version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string cpu_isa() {
  const auto isa = dnnl_get_effective_cpu_isa();
  const std::pair<dnnl_cpu_isa_t, const char*> names[] = {
      {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
      {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
      {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
      {dnnl_cpu_isa_avx512_core, "avx512_core"},
      {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
      {dnnl_cpu_isa_avx2, "avx2"},
      {dnnl_cpu_isa_avx, "avx"},
      {dnnl_cpu_isa_sse41, "sse41"}};
  for (const auto& [bits, name] : names)
    if (isa_has(isa, bits)) return name;
  return "generic";
}

std::vector<float> dct_matrix(int n) {
  std::vector<float> m(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < n; ++i) {
      const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / n);
      m[static_cast<std::size_t>(k * n + i)] =
          static_cast<float>(scale * std::cos(std::numbers::pi / n * (i + 0.5) * k));
    }
  return m;
}

namespace {
std::vector<float> dft_part(int n, bool sine) {
  std::vector<float> m(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  const double scale = 1.0 / std::sqrt(static_cast<double>(n));
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < n; ++i) {
      // k * i mod n keeps the angle small and exact for large n.
      const double a =
          2 * std::numbers::pi * static_cast<double>((static_cast<long>(k) * i) % n) / n;
      m[static_cast<std::size_t>(k * n + i)] =
          static_cast<float>(scale * (sine ? std::sin(a) : std::cos(a)));
    }
  return m;
}
}  // namespace

std::vector<float> dft_cos_matrix(int n) {
  return dft_part(n, false);
}
std::vector<float> dft_sin_matrix(int n) {
  return dft_part(n, true);
}

std::vector<HeadGroupWeights> head_groups(const Layer& l) {
  Architecture one;
  one.layers.push_back(l);
  const Layer c = one.canonical().layers[0];
  std::vector<HeadGroupWeights> g;
  for (int i = 0; i < c.num_heads(); ++i) {
    const Head& h = c.heads[static_cast<std::size_t>(i)];
    if (g.empty() || !(g.back().op == h)) {
      HeadGroupWeights w;
      w.op = h;
      w.first_head = i;
      g.push_back(w);
    }
    ++g.back().heads;
  }
  return g;
}

namespace {

int kernel_size(const Head& h) {
  if (h.kernel < 1)
    throw InputError("convolution head: kernel size " + std::to_string(h.kernel) +
                     " is not a positive integer");
  return h.kernel;
}

int norms_in_layer(const Layer& l) {
  if (l.norm == NormKind::kNone) return 0;
  return l.norm_placement == NormPlacement::kPeri ? 4 : 2;
}

void uniform(std::vector<float>& v, std::size_t n, float a, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-a, a);
  v.resize(n);
  for (auto& x : v) x = u(rng);
}

}  // namespace

LayerWeights random_weights(const Layer& l, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  LayerWeights w;
  const auto h = static_cast<std::size_t>(l.hidden);
  const auto d = static_cast<std::size_t>(l.head_size());
  const auto cat = static_cast<std::size_t>(l.attention_width());
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(h));
  w.groups = head_groups(l);
  for (auto& g : w.groups) {
    const auto n = static_cast<std::size_t>(g.heads);
    const std::size_t cols = static_cast<std::size_t>(op_info(g.op.op).projections) * n * d;
    uniform(g.w_in, h * cols, in_scale, rng);
    uniform(g.b_in, cols, in_scale, rng);
    switch (g.op.op) {
      case Op::kWma:
        uniform(g.w_mix, n * d * d, 1.0f / std::sqrt(static_cast<float>(d)), rng);
        break;
      case Op::kConv: {
        const auto k = static_cast<std::size_t>(kernel_size(g.op));
        uniform(g.w_mix, n * d * k, 1.0f / std::sqrt(static_cast<float>(k)), rng);
        uniform(g.b_mix, n * d, 1.0f / std::sqrt(static_cast<float>(k)), rng);
        break;
      }
      case Op::kSdp:
      case Op::kDft:
      case Op::kDct:
        break;
    }
  }
  // Output projection of the concatenated heads [rows, n d] back to h (n d = h when n
  // divides h; FlexiBERT 2.0 head sizes h // n leave n d < h).
  const float cat_scale = 1.0f / std::sqrt(static_cast<float>(std::max<std::size_t>(cat, 1)));
  uniform(w.w_o, cat * h, cat_scale, rng);
  uniform(w.b_o, h, cat_scale, rng);
  std::size_t in = h;
  for (std::size_t k = 0; k <= l.ff.size(); ++k) {
    const std::size_t out = k < l.ff.size() ? static_cast<std::size_t>(l.ff[k]) : h;
    const float s = 1.0f / std::sqrt(static_cast<float>(in));
    w.ff_w.emplace_back();
    w.ff_b.emplace_back();
    uniform(w.ff_w.back(), in * out, s, rng);
    uniform(w.ff_b.back(), out, s, rng);
    in = out;
  }
  for (int k = 0; k < norms_in_layer(l); ++k) {
    NormWeights nw;
    uniform(nw.gamma, h, 0.1f, rng);
    for (auto& g : nw.gamma) g += 1.0f;
    if (l.norm == NormKind::kLayerNorm) uniform(nw.beta, h, 0.1f, rng);
    w.norms.push_back(std::move(nw));
  }
  return w;
}

std::int64_t weight_count(const Layer& l) {
  const auto w = random_weights(l, 0);
  std::size_t n = w.w_o.size() + w.b_o.size();
  for (const auto& g : w.groups)
    n += g.w_in.size() + g.b_in.size() + g.w_mix.size() + g.b_mix.size();
  for (std::size_t k = 0; k < w.ff_w.size(); ++k) n += w.ff_w[k].size() + w.ff_b[k].size();
  for (const auto& nw : w.norms) n += nw.gamma.size() + nw.beta.size();
  return static_cast<std::int64_t>(n);
}

Timing summarize(std::vector<double> per_run_ms, int inner) {
  Timing t;
  t.repeats = static_cast<int>(per_run_ms.size());
  t.inner = inner;
  if (per_run_ms.empty()) return t;
  std::sort(per_run_ms.begin(), per_run_ms.end());
  auto quantile = [&](double q) {
    const double pos = q * static_cast<double>(per_run_ms.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, per_run_ms.size() - 1);
    return per_run_ms[lo] + (pos - static_cast<double>(lo)) * (per_run_ms[hi] - per_run_ms[lo]);
  };
  t.median_ms = quantile(0.5);
  t.p10_ms = quantile(0.1);
  t.p90_ms = quantile(0.9);
  return t;
}

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dim = memory::dim;
using dims = memory::dims;
using tag = memory::format_tag;
using dt = memory::data_type;

dt to_dnnl(DType t) {
  return t == DType::kBf16 ? dt::bf16 : dt::f32;
}

tag plain_tag(std::size_t ndims) {
  switch (ndims) {
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    default:
      return tag::abcde;
  }
}

// OpenMP threads for oneDNN (the Debian package uses the GNU OpenMP runtime): set in the
// calling thread before primitives are created and run, restored afterwards.
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(effective_threads(threads));
  }
  ~ThreadScope() { omp_set_num_threads(saved_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
};

// Post-ops of a matmul, applied in order: element-wise steps, then an optional residual
// add (binary) or an accumulation into dst (sum).
struct Post {
  std::vector<std::tuple<algorithm, float, float>> eltwise;
  float shift = 0;  // a constant added after the element-wise steps (binary add of a scalar)
  const memory* add = nullptr;
  bool sum = false;
};

void append_activation(Post& p, Activation a) {
  switch (a) {
    case Activation::kGelu:
      p.eltwise.emplace_back(algorithm::eltwise_gelu_erf, 0.f, 0.f);
      break;
    case Activation::kRelu:
      p.eltwise.emplace_back(algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case Activation::kQuad: {
      // MPCFormer's quad: 0.125 x^2 + 0.25 x + 0.5 = (a x + a)^2 + 0.375 with a^2 = 0.125.
      // The + 0.375 is a binary post-op: oneDNN 2.6.3's brgemm matmul computes a second
      // eltwise_linear post-op in one chain wrongly (checked by the reference test).
      const float a2 = std::sqrt(0.125f);
      p.eltwise.emplace_back(algorithm::eltwise_linear, a2, a2);
      p.eltwise.emplace_back(algorithm::eltwise_square, 0.f, 0.f);
      p.shift = 0.375f;
      break;
    }
  }
}

// A list of primitives with their arguments, run in order on one CPU stream.
class Net {
 public:
  explicit Net(DType t) : dtype_(to_dnnl(t)), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {}

  dt dtype() const { return dtype_; }
  const dnnl::engine& engine() const { return eng_; }

  memory alloc(const memory::desc& md) {
    keep_.emplace_back(md, eng_);
    return keep_.back();
  }
  memory alloc(const dims& shape, dt t) {
    return alloc(memory::desc(shape, t, plain_tag(shape.size())));
  }
  memory alloc(const dims& shape) { return alloc(shape, dtype_); }
  // A view of `base` starting `offset` elements in, laid out as md (strided views).
  memory view(const memory& base, const memory::desc& md, dim offset) {
    auto* p = static_cast<char*>(base.get_data_handle()) +
              offset * static_cast<dim>(memory::data_type_size(md.data_type()));
    return memory(md, eng_, p);
  }
  // Copies row-major f32 values of logical shape `shape` into m, converting type and layout.
  void fill(const memory& m, const std::vector<float>& values, const dims& shape) {
    memory src(memory::desc(shape, dt::f32, plain_tag(shape.size())), eng_);
    std::memcpy(src.get_data_handle(), values.data(), values.size() * sizeof(float));
    memory dst = m;
    dnnl::reorder(src, dst).execute(strm_, src, dst);
    strm_.wait();
  }
  memory constant(const std::vector<float>& values, const dims& shape, dt t) {
    auto m = alloc(shape, t);
    fill(m, values, shape);
    return m;
  }
  memory constant(const std::vector<float>& values, const dims& shape) {
    return constant(values, shape, dtype_);
  }
  std::vector<float> read(const memory& m, const dims& shape) {
    memory src = m;
    memory dst(memory::desc(shape, dt::f32, plain_tag(shape.size())), eng_);
    dnnl::reorder(src, dst).execute(strm_, src, dst);
    strm_.wait();
    std::vector<float> out(dst.get_desc().get_size() / sizeof(float));
    std::memcpy(out.data(), dst.get_data_handle(), out.size() * sizeof(float));
    return out;
  }

  void add(dnnl::primitive p, std::unordered_map<int, memory> args, const std::string& what,
           const char* impl) {
    steps_.push_back({std::move(p), std::move(args)});
    impls_.push_back(what + ": " + impl);
  }

  // dst = src x wei (+ bias), batched over the leading dimensions, with post-ops.
  void matmul(const memory& src, const memory& wei, const memory* bias, const memory& dst,
              const Post& post, const std::string& what) {
    dnnl::post_ops po;
    for (const auto& [alg, alpha, beta] : post.eltwise) po.append_eltwise(1.f, alg, alpha, beta);
    if (post.sum) po.append_sum(1.f);
    std::vector<std::pair<int, memory>> post_args;
    auto add_binary = [&](const memory& m) {
      po.append_binary(algorithm::binary_add, m.get_desc());
      post_args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(po.len() - 1) | DNNL_ARG_SRC_1, m);
    };
    if (post.shift != 0) add_binary(constant({post.shift}, {1, 1}, dt::f32));
    if (post.add) add_binary(*post.add);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    const auto desc =
        bias ? dnnl::matmul::desc(src.get_desc(), wei.get_desc(), bias->get_desc(), dst.get_desc())
             : dnnl::matmul::desc(src.get_desc(), wei.get_desc(), dst.get_desc());
    dnnl::matmul::primitive_desc pd(desc, attr, eng_);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (bias) args.emplace(DNNL_ARG_BIAS, *bias);
    for (auto& [k, m] : post_args) args.emplace(k, m);
    add(dnnl::matmul(pd), std::move(args), what, pd.impl_info_str());
  }

  // y = x W + b on x [rows, in] with W [in, out] given row-major; returns y [rows, out].
  memory linear(const memory& x, const std::vector<float>& w, const std::vector<float>& b, dim in,
                dim out, const Post& post, const std::string& what) {
    const dim rows = x.get_desc().dims()[0];
    auto wm = constant(w, {in, out});
    auto bm = constant(b, {1, out});
    auto y = alloc({rows, out});
    matmul(x, wm, &bm, y, post, what);
    return y;
  }

  void binary(algorithm alg, const memory& a, const memory& b, const memory& dst,
              const std::string& what) {
    dnnl::binary::primitive_desc pd(
        dnnl::binary::desc(alg, a.get_desc(), b.get_desc(), dst.get_desc()), eng_);
    add(dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}}, what,
        pd.impl_info_str());
  }

  void run() {
    for (auto& s : steps_) s.prim.execute(strm_, s.args);
    strm_.wait();
  }

  const std::vector<std::string>& implementations() const { return impls_; }

 private:
  struct Step {
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
  };
  dt dtype_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  std::vector<memory> keep_;
  std::vector<Step> steps_;
  std::vector<std::string> impls_;
};

// Builds one encoder layer (docs/latency.md) into a Net.
class LayerBuilder {
 public:
  LayerBuilder(Net& net, const Layer& l, const LayerWeights& w, dim batch, dim seq)
      : net_(net),
        l_(l),
        w_(w),
        B_(batch),
        L_(seq),
        h_(l.hidden),
        d_(l.head_size()),
        cat_(l.attention_width()) {}

  memory build(const memory& x) {
    const bool pre = l_.norm_placement != NormPlacement::kPost;
    const bool peri = l_.norm_placement == NormPlacement::kPeri;
    // Mixing sublayer.
    memory z = pre ? norm(x, "mix norm") : x;
    memory cat = mix(z);
    memory a;
    if (peri && l_.norm != NormKind::kNone) {
      memory m = net_.linear(cat, w_.w_o, w_.b_o, cat_, h_, {}, "output projection");
      memory n = norm(m, "mix out norm");
      a = net_.alloc({rows(), h_});
      net_.binary(algorithm::binary_add, x, n, a, "residual add");
    } else {
      Post p;
      p.add = &x;
      a = net_.linear(cat, w_.w_o, w_.b_o, cat_, h_, p, "output projection + residual");
      if (!pre) a = norm(a, "mix norm");
    }
    // Feed-forward sublayer.
    memory f = pre ? norm(a, "ff norm") : a;
    dim in = h_;
    for (std::size_t k = 0; k < l_.ff.size(); ++k) {
      Post p;
      append_activation(p, l_.activation);
      f = net_.linear(f, w_.ff_w[k], w_.ff_b[k], in, l_.ff[k], p,
                      "feed-forward " + std::to_string(k + 1) + " + " + to_string(l_.activation));
      in = l_.ff[k];
    }
    memory y;
    if (peri && l_.norm != NormKind::kNone) {
      memory m = net_.linear(f, w_.ff_w.back(), w_.ff_b.back(), in, h_, {}, "feed-forward out");
      memory n = norm(m, "ff out norm");
      y = net_.alloc({rows(), h_});
      net_.binary(algorithm::binary_add, a, n, y, "residual add");
    } else {
      Post p;
      p.add = &a;
      y = net_.linear(f, w_.ff_w.back(), w_.ff_b.back(), in, h_, p, "feed-forward out + residual");
      if (!pre) y = norm(y, "ff norm");
    }
    return y;
  }

 private:
  dim rows() const { return B_ * L_; }

  memory norm(const memory& in, const std::string& what) {
    if (l_.norm == NormKind::kNone) return in;
    const NormWeights& nw = w_.norms.at(next_norm_++);
    auto out = net_.alloc({rows(), h_});
    if (l_.norm == NormKind::kLayerNorm) {
      dnnl::layer_normalization_forward::primitive_desc pd(
          dnnl::layer_normalization_forward::desc(
              dnnl::prop_kind::forward_inference, in.get_desc(), kNormEps,
              dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift),
          net_.engine());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, in},
                                           {DNNL_ARG_DST, out},
                                           {DNNL_ARG_SCALE, net_.constant(nw.gamma, {h_}, dt::f32)},
                                           {DNNL_ARG_SHIFT, net_.constant(nw.beta, {h_}, dt::f32)}};
      if (pd.mean_desc().get_size() > 0) args.emplace(DNNL_ARG_MEAN, net_.alloc(pd.mean_desc()));
      if (pd.variance_desc().get_size() > 0)
        args.emplace(DNNL_ARG_VARIANCE, net_.alloc(pd.variance_desc()));
      net_.add(dnnl::layer_normalization_forward(pd), std::move(args), what + " (layernorm)",
               pd.impl_info_str());
      return out;
    }
    // RMSNorm (oneDNN 2.6 has no RMS flag): x * (mean(x^2) + eps)^-1/2 * gamma as
    // square -> mean reduction with (+eps, ^-1/2) post-ops -> multiply with gain post-op.
    auto sq = net_.alloc({rows(), h_});
    dnnl::eltwise_forward::primitive_desc sq_pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, algorithm::eltwise_square,
                                    in.get_desc(), 0.f, 0.f),
        net_.engine());
    net_.add(dnnl::eltwise_forward(sq_pd), {{DNNL_ARG_SRC, in}, {DNNL_ARG_DST, sq}},
             what + " (rmsnorm square)", sq_pd.impl_info_str());
    auto r = net_.alloc({rows(), 1}, dt::f32);
    dnnl::post_ops rpo;
    rpo.append_eltwise(1.f, algorithm::eltwise_linear, 1.f, kNormEps);
    rpo.append_eltwise(1.f, algorithm::eltwise_pow, 1.f, -0.5f);
    dnnl::primitive_attr rattr;
    rattr.set_post_ops(rpo);
    dnnl::reduction::primitive_desc r_pd(
        dnnl::reduction::desc(algorithm::reduction_mean, sq.get_desc(), r.get_desc(), 0.f, 0.f),
        rattr, net_.engine());
    net_.add(dnnl::reduction(r_pd), {{DNNL_ARG_SRC, sq}, {DNNL_ARG_DST, r}},
             what + " (rmsnorm mean)", r_pd.impl_info_str());
    auto gamma = net_.constant(nw.gamma, {1, h_}, dt::f32);
    dnnl::post_ops mpo;
    mpo.append_binary(algorithm::binary_mul, gamma.get_desc());
    dnnl::primitive_attr mattr;
    mattr.set_post_ops(mpo);
    dnnl::binary::primitive_desc m_pd(
        dnnl::binary::desc(algorithm::binary_mul, in.get_desc(), r.get_desc(), out.get_desc()),
        mattr, net_.engine());
    net_.add(dnnl::binary(m_pd),
             {{DNNL_ARG_SRC_0, in},
              {DNNL_ARG_SRC_1, r},
              {DNNL_ARG_DST, out},
              {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, gamma}},
             what + " (rmsnorm scale)", m_pd.impl_info_str());
    return out;
  }

  // Concatenated head outputs [rows, n d] of all head groups (n d = attention_width <= h).
  memory mix(const memory& z) {
    auto cat = net_.alloc({rows(), cat_});
    for (const auto& g : w_.groups) {
      const dim n = g.heads;
      const dim cols = static_cast<dim>(op_info(g.op.op).projections) * n * d_;
      const std::string name = std::string(to_string(g.op.family())) + "_" + g.op.param();
      memory p = net_.linear(z, g.w_in, g.b_in, h_, cols, {}, name + " input projection");
      // Head outputs go to columns [first_head d, (first_head + n) d) of cat.
      const memory::desc out_md({B_, n, L_, d_}, net_.dtype(), {L_ * cat_, d_, cat_, 1});
      memory out = net_.view(cat, out_md, g.first_head * d_);
      const memory::desc head_md({B_, n, L_, d_}, net_.dtype(), {L_ * cols, d_, cols, 1});
      switch (g.op.op) {
        case Op::kSdp:
          attention(g, p, cols, out, false, name);
          break;
        case Op::kWma:
          attention(g, p, cols, out, true, name);
          break;
        case Op::kDft:
          dft(g, net_.view(p, head_md, 0), out, name);
          break;
        case Op::kDct:
          dct(g, net_.view(p, head_md, 0), out, name);
          break;
        case Op::kConv:
          convolution(g, p, cat, name);
          break;
      }
    }
    return cat;
  }

  // Attention heads; bilinear (sa/wma): scores Q W K^T with the group's W [heads, d, d].
  void attention(const HeadGroupWeights& g, const memory& p, dim cols, const memory& out,
                 bool bilinear, const std::string& name) {
    const dim n = g.heads;
    const memory::desc head_md({B_, n, L_, d_}, net_.dtype(), {L_ * cols, d_, cols, 1});
    const memory::desc kt_md({B_, n, d_, L_}, net_.dtype(), {L_ * cols, d_, 1, cols});
    memory q = net_.view(p, head_md, 0);
    memory kt = net_.view(p, kt_md, n * d_);
    memory v = net_.view(p, head_md, 2 * n * d_);
    if (bilinear) {
      auto wm = net_.constant(g.w_mix, {1, n, d_, d_});
      auto q2 = net_.alloc({B_, n, L_, d_});
      net_.matmul(q, wm, nullptr, q2, {}, name + " Q W");
      q = q2;
    }
    auto s = net_.alloc({B_, n, L_, L_});
    const float scale = 1.0f / std::sqrt(static_cast<float>(d_));
    Post sp;
    switch (l_.attn_kernel) {
      case AttnKernel::kSoftmax:
      case AttnKernel::kRelu:
        sp.eltwise.emplace_back(algorithm::eltwise_linear, scale, 0.f);
        if (l_.attn_kernel == AttnKernel::kRelu)
          sp.eltwise.emplace_back(algorithm::eltwise_relu, 0.f, 0.f);
        break;
      case AttnKernel::kQuad:
        sp.eltwise.emplace_back(algorithm::eltwise_linear, scale, kQuadKernelShift);
        sp.eltwise.emplace_back(algorithm::eltwise_square, 0.f, 0.f);
        break;
      case AttnKernel::kScale:
        sp.eltwise.emplace_back(algorithm::eltwise_linear, scale / static_cast<float>(L_), 0.f);
        break;
    }
    net_.matmul(q, kt, nullptr, s, sp, name + " scores (" + to_string(l_.attn_kernel) + ")");
    if (l_.attn_kernel == AttnKernel::kSoftmax) {
      dnnl::softmax_forward::primitive_desc pd(
          dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, s.get_desc(), 3),
          net_.engine());
      net_.add(dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, s}}, name + " softmax",
               pd.impl_info_str());
    } else if (l_.attn_kernel != AttnKernel::kScale) {
      // Row normalisation: s / (row sum + eps), on a 2-D view so the division broadcasts
      // over rows (the fast binary kernels take that form).
      const dim r = B_ * n * L_;
      memory s2 = net_.view(s, memory::desc({r, L_}, net_.dtype(), tag::ab), 0);
      auto sums = net_.alloc({r, 1});
      dnnl::post_ops po;
      po.append_eltwise(1.f, algorithm::eltwise_linear, 1.f, kKernelEps);
      dnnl::primitive_attr attr;
      attr.set_post_ops(po);
      dnnl::reduction::primitive_desc pd(
          dnnl::reduction::desc(algorithm::reduction_sum, s2.get_desc(), sums.get_desc(), 0.f, 0.f),
          attr, net_.engine());
      net_.add(dnnl::reduction(pd), {{DNNL_ARG_SRC, s2}, {DNNL_ARG_DST, sums}}, name + " row sum",
               pd.impl_info_str());
      net_.binary(algorithm::binary_div, s2, sums, s2, name + " normalise");
    }
    net_.matmul(s, v, nullptr, out, {}, name + " P V");
  }

  // The 2-D DCT and the real part of the 2-D DFT over sequence and head dimension, as
  // products with constant matrices: Y = M_L V M_d^T.
  void dct(const HeadGroupWeights& g, const memory& v, const memory& out, const std::string& name) {
    const dim n = g.heads;
    const int L = static_cast<int>(L_), d = static_cast<int>(d_);
    auto cl = net_.constant(dct_matrix(L), {1, 1, L_, L_});
    auto cd = dct_matrix(d);
    std::vector<float> cdt(cd.size());
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        cdt[static_cast<std::size_t>(j * d + i)] = cd[static_cast<std::size_t>(i * d + j)];
    auto u = net_.alloc({B_, n, L_, d_});
    net_.matmul(cl, v, nullptr, u, {}, name + " C_L V");
    net_.matmul(u, net_.constant(cdt, {1, 1, d_, d_}), nullptr, out, {}, name + " U C_d^T");
  }

  void dft(const HeadGroupWeights& g, const memory& v, const memory& out, const std::string& name) {
    const dim n = g.heads;
    const int L = static_cast<int>(L_), d = static_cast<int>(d_);
    // Re(F_L V F_d) = C_L V C_d - S_L V S_d (F symmetric): one product with [C_L; S_L],
    // then C_d into the output and -S_d accumulated on top.
    auto left = dft_cos_matrix(L);
    const auto sl = dft_sin_matrix(L);
    left.insert(left.end(), sl.begin(), sl.end());
    auto u = net_.alloc({B_, n, 2 * L_, d_});
    net_.matmul(net_.constant(left, {1, 1, 2 * L_, L_}), v, nullptr, u, {}, name + " [C_L; S_L] V");
    const memory::desc half({B_, n, L_, d_}, net_.dtype(), {n * 2 * L_ * d_, 2 * L_ * d_, d_, 1});
    auto sd = dft_sin_matrix(d);
    for (auto& x : sd) x = -x;
    net_.matmul(net_.view(u, half, 0), net_.constant(dft_cos_matrix(d), {1, 1, d_, d_}), nullptr,
                out, {}, name + " U_c C_d");
    Post acc;
    acc.sum = true;
    net_.matmul(net_.view(u, half, L_ * d_), net_.constant(sd, {1, 1, d_, d_}), nullptr, out, acc,
                name + " U_s (-S_d) accumulated");
  }

  // Depthwise convolution over the sequence ("same" padding) of the group's channels,
  // laid out channels-last as a 2-D image of height 1.
  void convolution(const HeadGroupWeights& g, const memory& p, const memory& cat,
                   const std::string& name) {
    const dim c = g.heads * d_;
    const dim k = kernel_size(g.op);
    const memory::desc act_md({B_, c, 1, L_}, net_.dtype(), tag::nhwc);
    const memory::desc w_any({c, 1, 1, 1, k}, net_.dtype(), tag::any);
    const memory::desc b_md({c}, net_.dtype(), tag::a);
    dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                        algorithm::convolution_direct, act_md, w_any, b_md, act_md,
                                        {1, 1}, {0, (k - 1) / 2}, {0, k / 2}),
        net_.engine());
    auto w = net_.alloc(pd.weights_desc());
    net_.fill(w, g.w_mix, {c, 1, 1, 1, k});
    auto b = net_.constant(g.b_mix, {c});
    const bool whole = c == cat_;
    memory dst = whole ? net_.view(cat, act_md, 0) : net_.alloc(act_md);
    net_.add(dnnl::convolution_forward(pd),
             {{DNNL_ARG_SRC, net_.view(p, act_md, 0)},
              {DNNL_ARG_WEIGHTS, w},
              {DNNL_ARG_BIAS, b},
              {DNNL_ARG_DST, dst}},
             name + " depthwise conv", pd.impl_info_str());
    if (whole) return;
    const memory::desc into({B_, c, 1, L_}, net_.dtype(), {L_ * cat_, 1, L_ * cat_, cat_});
    memory target = net_.view(cat, into, g.first_head * d_);
    dnnl::reorder::primitive_desc rpd(net_.engine(), act_md, net_.engine(), into);
    net_.add(dnnl::reorder(rpd), {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, target}},
             name + " copy into heads", rpd.impl_info_str());
  }

  Net& net_;
  const Layer& l_;
  const LayerWeights& w_;
  dim B_, L_, h_, d_;
  dim cat_;  // width of the concatenated heads, n * d
  std::size_t next_norm_ = 0;
};

std::int64_t dtype_bytes(DType t) {
  return t == DType::kBf16 ? 2 : 4;
}

int copies_for(std::int64_t weight_bytes) {
  const std::int64_t target = 2 * l2_cache_bytes();
  const auto k = (target + weight_bytes - 1) / std::max<std::int64_t>(1, weight_bytes);
  return static_cast<int>(std::clamp<std::int64_t>(k, 2, kMaxStackCopies));
}

void check_shape(const RunShape& s) {
  if (s.batch < 1 || s.seq < 1) throw InputError("latency: batch and seq must be at least 1");
  check_dtype_supported(s.dtype);
}

void check_measure(const RunShape& s, const MeasureOptions& m) {
  check_shape(s);
  if (m.clock == Clock::kCpu && effective_threads(s.threads) != 1)
    throw InputError("latency: clock cpu needs threads 1 (got " +
                     std::to_string(effective_threads(s.threads)) + ")");
}

// Every head needs at least one dimension: 1 <= n <= h (head size h // n, FlexiBERT 2.0).
void check_layer(const Layer& l) {
  if (l.heads.empty() || l.num_heads() > l.hidden)
    throw InputError("latency: layer with hidden " + std::to_string(l.hidden) + " and " +
                     std::to_string(l.num_heads()) + " heads (need 1 to hidden heads)");
}

std::vector<float> random_input(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v;
  uniform(v, n, 1.0f, rng);
  return v;
}

memory input(Net& net, dim rows, dim width) {
  auto x = net.alloc({rows, width});
  net.fill(x, random_input(static_cast<std::size_t>(rows * width), 7), {rows, width});
  return x;
}

// Linear(in, out) between layers of different hidden size.
memory projection(Net& net, const memory& x, int in, int out, std::uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::vector<float> w, b;
  const float a = 1.0f / std::sqrt(static_cast<float>(in));
  uniform(w, static_cast<std::size_t>(in) * static_cast<std::size_t>(out), a, rng);
  uniform(b, static_cast<std::size_t>(out), a, rng);
  return net.linear(x, w, b, in, out, {}, "projection");
}

double now_ms(Clock c) {
  if (c == Clock::kCpu) {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Timing time_net(Net& net, const MeasureOptions& m) {
  auto ms_since = [&](double t0) { return now_ms(m.clock) - t0; };
  double one = 0;
  for (int i = 0; i < std::max(1, m.warmup); ++i) {
    const double t0 = now_ms(m.clock);
    net.run();
    one = ms_since(t0);
  }
  const int inner =
      std::clamp(static_cast<int>(std::ceil(m.min_repeat_ms / std::max(one, 1e-6))), 1, 100000);
  std::vector<double> runs;
  for (int r = 0; r < std::max(1, m.repeats); ++r) {
    const double t0 = now_ms(m.clock);
    for (int i = 0; i < inner; ++i) net.run();
    runs.push_back(ms_since(t0) / inner);
  }
  return summarize(std::move(runs), inner);
}

// Wraps oneDNN errors (an unsupported shape, out of memory) as one-line InputErrors.
template <class F>
auto guarded(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw InputError("latency: oneDNN could not " + what + ": " + e.what());
  }
}

}  // namespace

std::vector<float> run_layer(const Layer& l, const LayerWeights& w, const std::vector<float>& x,
                             const RunShape& s) {
  check_shape(s);
  check_layer(l);
  const dim rows = static_cast<dim>(s.batch) * s.seq;
  if (x.size() != static_cast<std::size_t>(rows * l.hidden))
    throw InputError("run_layer: input has " + std::to_string(x.size()) + " values, expected " +
                     std::to_string(rows * l.hidden));
  ThreadScope threads(s.threads);
  return guarded("run the layer", [&] {
    Net net(s.dtype);
    auto in = net.alloc({rows, l.hidden});
    net.fill(in, x, {rows, l.hidden});
    LayerBuilder b(net, l, w, s.batch, s.seq);
    auto y = b.build(in);
    net.run();
    return net.read(y, {rows, l.hidden});
  });
}

struct TimedNet::Impl {
  RunShape shape;
  Net net;
  int per = 1;  // copies of the layer in the net; times are per copy
  explicit Impl(const RunShape& s) : shape(s), net(s.dtype) {}
};

TimedNet::TimedNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TimedNet::TimedNet(TimedNet&&) noexcept = default;
TimedNet& TimedNet::operator=(TimedNet&&) noexcept = default;
TimedNet::~TimedNet() = default;

Timing TimedNet::time(const MeasureOptions& m) {
  check_measure(impl_->shape, m);
  ThreadScope threads(impl_->shape.threads);
  return guarded("run", [&] {
    Timing t = time_net(impl_->net, m);
    t.median_ms /= impl_->per;
    t.p10_ms /= impl_->per;
    t.p90_ms /= impl_->per;
    return t;
  });
}

const std::vector<std::string>& TimedNet::implementations() const {
  return impl_->net.implementations();
}

int stack_copies(const Layer& l, DType t) {
  return copies_for(weight_count(l) * dtype_bytes(t));
}

TimedNet build_layer(const Layer& l, const RunShape& s, int copies) {
  check_shape(s);
  check_layer(l);
  ThreadScope threads(s.threads);
  return guarded("build the layer", [&] {
    auto impl = std::make_unique<TimedNet::Impl>(s);
    impl->per = copies > 0 ? copies : stack_copies(l, s.dtype);
    std::vector<LayerWeights> w;
    for (int k = 0; k < impl->per; ++k)
      w.push_back(random_weights(l, 1 + static_cast<std::uint64_t>(k)));
    memory x = input(impl->net, static_cast<dim>(s.batch) * s.seq, l.hidden);
    for (int k = 0; k < impl->per; ++k)
      x = LayerBuilder(impl->net, l, w[static_cast<std::size_t>(k)], s.batch, s.seq).build(x);
    return TimedNet(std::move(impl));
  });
}

TimedNet build_projection(int in, int out, const RunShape& s, int copies) {
  check_shape(s);
  ThreadScope threads(s.threads);
  return guarded("build the projection", [&] {
    auto impl = std::make_unique<TimedNet::Impl>(s);
    const std::int64_t bytes = (static_cast<std::int64_t>(in) + 1) * out * dtype_bytes(s.dtype);
    impl->per = copies > 0 ? copies : copies_for(bytes);
    const auto x = input(impl->net, static_cast<dim>(s.batch) * s.seq, in);
    for (int k = 0; k < impl->per; ++k)
      projection(impl->net, x, in, out, 3 + static_cast<std::uint64_t>(k));
    return TimedNet(std::move(impl));
  });
}

TimedNet build_model(const Architecture& a, const RunShape& s) {
  check_shape(s);
  if (a.layers.empty()) throw InputError("latency: empty model");
  for (const auto& l : a.layers) check_layer(l);
  ThreadScope threads(s.threads);
  return guarded("build the model", [&] {
    auto impl = std::make_unique<TimedNet::Impl>(s);
    Net& net = impl->net;
    const dim rows = static_cast<dim>(s.batch) * s.seq;
    std::vector<LayerWeights> weights;
    for (const auto& l : a.layers) weights.push_back(random_weights(l, 1));
    memory x = input(net, rows, a.layers[0].hidden);
    for (std::size_t j = 0; j < a.layers.size(); ++j) {
      x = LayerBuilder(net, a.layers[j], weights[j], s.batch, s.seq).build(x);
      if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden)
        x = projection(net, x, a.layers[j].hidden, a.layers[j + 1].hidden);
    }
    return TimedNet(std::move(impl));
  });
}

Timing measure_layer(const Layer& l, const RunShape& s, const MeasureOptions& m) {
  check_measure(s, m);
  return build_layer(l, s).time(m);
}

Timing measure_projection(int in, int out, const RunShape& s, const MeasureOptions& m) {
  check_measure(s, m);
  return build_projection(in, out, s).time(m);
}

Timing measure_model(const Architecture& a, const RunShape& s, const MeasureOptions& m) {
  check_measure(s, m);
  return build_model(a, s).time(m);
}

std::vector<std::vector<double>> time_rounds(const std::vector<TimedNet*>& nets,
                                             const MeasureOptions& m, int rounds) {
  for (auto* n : nets) n->time(m);  // untimed round
  std::vector<std::vector<double>> out(nets.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = 0; i < nets.size(); ++i) out[i].push_back(nets[i]->time(m).median_ms);
  return out;
}

std::vector<std::string> layer_implementations(const Layer& l, const RunShape& s) {
  return build_layer(l, s, 1).implementations();
}

}  // namespace flexnas::latency
