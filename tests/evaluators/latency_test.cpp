// Measured latency: oneDNN layers against a plain-loop reference, the on-disk table (hits,
// misses, key separation) and the two acceptance checks (a layer re-measures within 5 %, the
// table sum predicts a whole-model run within 10 %).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/evaluator.hpp"
#include "evaluators/latency_table.hpp"
#include "evaluators/onednn_encoder.hpp"
#include "tests/test_layers.hpp"

using namespace flexnas;
using namespace flexnas::latency;

namespace {

using Mat = std::vector<double>;  // row-major

Mat linear(const Mat& x, int rows, int in, const std::vector<float>& w, const std::vector<float>& b,
           int out) {
  Mat y(static_cast<std::size_t>(rows * out));
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double s = b[static_cast<std::size_t>(o)];
      for (int i = 0; i < in; ++i)
        s += x[static_cast<std::size_t>(r * in + i)] * w[static_cast<std::size_t>(i * out + o)];
      y[static_cast<std::size_t>(r * out + o)] = s;
    }
  return y;
}

Mat norm(const Mat& x, int rows, int h, NormKind kind, const NormWeights& nw) {
  if (kind == NormKind::kNone) return x;
  Mat y(x.size());
  for (int r = 0; r < rows; ++r) {
    const double* row = &x[static_cast<std::size_t>(r * h)];
    double mean = 0, sq = 0;
    for (int i = 0; i < h; ++i) mean += row[i] / h;
    for (int i = 0; i < h; ++i) {
      const double c = kind == NormKind::kLayerNorm ? row[i] - mean : row[i];
      sq += c * c / h;
    }
    for (int i = 0; i < h; ++i) {
      const double c = kind == NormKind::kLayerNorm ? row[i] - mean : row[i];
      double v = c / std::sqrt(sq + 1e-5) * nw.gamma[static_cast<std::size_t>(i)];
      if (kind == NormKind::kLayerNorm) v += nw.beta[static_cast<std::size_t>(i)];
      y[static_cast<std::size_t>(r * h + i)] = v;
    }
  }
  return y;
}

double activation(Activation a, double x) {
  switch (a) {
    case Activation::kGelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::kRelu:
      return std::max(0.0, x);
    case Activation::kQuad:
      return 0.125 * x * x + 0.25 * x + 0.5;
  }
  return 0;
}

// The layer of docs/latency.md written out with loops, in double precision. n heads of
// d = h // n dimensions concatenate to C = n d columns (C < h when n does not divide h),
// which the output projection maps back to h.
Mat reference_layer(const Layer& l, const LayerWeights& w, const std::vector<float>& xin, int B,
                    int L) {
  const int h = l.hidden, n_all = l.num_heads(), d = h / n_all, C = n_all * d, R = B * L;
  const Mat x(xin.begin(), xin.end());
  std::size_t next = 0;
  auto N = [&](const Mat& v) {
    return l.norm == NormKind::kNone ? v : norm(v, R, h, l.norm, w.norms.at(next++));
  };
  const bool pre = l.norm_placement != NormPlacement::kPost;
  const bool peri = l.norm_placement == NormPlacement::kPeri;
  const Mat z = pre ? N(x) : x;
  Mat cat(static_cast<std::size_t>(R * C), 0.0);
  for (const auto& g : w.groups) {
    const int n = g.heads;
    const int cols = op_info(g.op.op).projections * n * d;
    const Mat p = linear(z, R, h, g.w_in, g.b_in, cols);
    auto P = [&](int b, int t, int c) {
      return p[static_cast<std::size_t>((b * L + t) * cols + c)];
    };
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < n; ++i) {
        auto out = [&](int t, int e) -> double& {
          return cat[static_cast<std::size_t>((b * L + t) * C + (g.first_head + i) * d + e)];
        };
        switch (g.op.op) {
          case Op::kSdp:
          case Op::kWma: {
            Mat q(static_cast<std::size_t>(L * d));
            for (int t = 0; t < L; ++t)
              for (int e = 0; e < d; ++e) {
                double s = 0;
                if (g.op.op == Op::kWma) {
                  for (int f = 0; f < d; ++f)
                    s +=
                        P(b, t, i * d + f) * g.w_mix[static_cast<std::size_t>((i * d + f) * d + e)];
                } else {
                  s = P(b, t, i * d + e);
                }
                q[static_cast<std::size_t>(t * d + e)] = s;
              }
            for (int t = 0; t < L; ++t) {
              std::vector<double> s(static_cast<std::size_t>(L));
              for (int u = 0; u < L; ++u) {
                double dot = 0;
                for (int e = 0; e < d; ++e)
                  dot += q[static_cast<std::size_t>(t * d + e)] * P(b, u, n * d + i * d + e);
                s[static_cast<std::size_t>(u)] = dot / std::sqrt(static_cast<double>(d));
              }
              double sum = 0;
              switch (l.attn_kernel) {
                case AttnKernel::kSoftmax: {
                  const double mx = *std::max_element(s.begin(), s.end());
                  for (auto& v : s) sum += (v = std::exp(v - mx));
                  for (auto& v : s) v /= sum;
                  break;
                }
                case AttnKernel::kRelu:
                case AttnKernel::kQuad:
                  for (auto& v : s) {
                    v = l.attn_kernel == AttnKernel::kRelu ? std::max(0.0, v) : (v + 5) * (v + 5);
                    sum += v;
                  }
                  for (auto& v : s) v /= sum + 1e-6;
                  break;
                case AttnKernel::kScale:
                  for (auto& v : s) v /= L;
                  break;
              }
              for (int e = 0; e < d; ++e) {
                double o = 0;
                for (int u = 0; u < L; ++u)
                  o += s[static_cast<std::size_t>(u)] * P(b, u, 2 * n * d + i * d + e);
                out(t, e) = o;
              }
            }
            break;
          }
          case Op::kDft:
          case Op::kDct: {
            const double pi = std::numbers::pi;
            for (int k1 = 0; k1 < L; ++k1)
              for (int k2 = 0; k2 < d; ++k2) {
                double y = 0;
                for (int t = 0; t < L; ++t)
                  for (int e = 0; e < d; ++e) {
                    double c;
                    if (g.op.op == Op::kDft) {  // Re of exp(-2 pi i (k1 t / L + k2 e / d)), scaled
                      c = std::cos(
                              2 * pi *
                              (static_cast<double>(k1 * t) / L + static_cast<double>(k2 * e) / d)) /
                          std::sqrt(static_cast<double>(L * d));
                    } else {  // orthonormal DCT-II in both dimensions
                      c = std::sqrt((k1 ? 2.0 : 1.0) / L) * std::cos(pi / L * (t + 0.5) * k1) *
                          std::sqrt((k2 ? 2.0 : 1.0) / d) * std::cos(pi / d * (e + 0.5) * k2);
                    }
                    y += c * P(b, t, i * d + e);
                  }
                out(k1, k2) = y;
              }
            break;
          }
          case Op::kConv: {
            const int k = g.op.kernel;
            for (int e = 0; e < d; ++e) {
              const int ch = i * d + e;
              for (int t = 0; t < L; ++t) {
                double y = g.b_mix[static_cast<std::size_t>(ch)];
                for (int j = 0; j < k; ++j) {
                  const int src = t + j - (k - 1) / 2;
                  if (src >= 0 && src < L)
                    y += g.w_mix[static_cast<std::size_t>(ch * k + j)] * P(b, src, ch);
                }
                out(t, e) = y;
              }
            }
            break;
          }
        }
      }
  }
  Mat m = linear(cat, R, C, w.w_o, w.b_o, h);
  if (peri) m = N(m);
  Mat a(m.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = x[i] + m[i];
  if (!pre) a = N(a);
  Mat f = pre ? N(a) : a;
  int in = h;
  for (std::size_t k = 0; k < l.ff.size(); ++k) {
    f = linear(f, R, in, w.ff_w[k], w.ff_b[k], l.ff[k]);
    for (auto& v : f) v = activation(l.activation, v);
    in = l.ff[k];
  }
  Mat o = linear(f, R, in, w.ff_w.back(), w.ff_b.back(), h);
  if (peri) o = N(o);
  Mat y(o.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = a[i] + o[i];
  if (!pre) y = N(y);
  return y;
}

using test::make_layer;

const Head kSdp{Family::kSa, "sdp"}, kWma{Family::kSa, "wma"}, kDft{Family::kL, "dft"},
    kDct{Family::kL, "dct"}, kC3{Family::kC, "3"}, kC5{Family::kC, "5"};

double max_error(const std::vector<float>& got, const Mat& want) {
  double e = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    e = std::max(e, std::abs(got[i] - want[i]) / std::max(1.0, std::abs(want[i])));
  return e;
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("flexnas-latency-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p;
}

}  // namespace

TEST_CASE("Onednn_layer_matches_loop_reference", "[latency]") {
  const std::vector<Layer> layers = {
      make_layer(16, {kSdp, kSdp}, {32}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost),
      make_layer(16, {kC3, kDft, kWma, kDct}, {32, 24}, AttnKernel::kRelu, Activation::kQuad,
                 NormKind::kRmsNorm, NormPlacement::kPeri),
      make_layer(16, {kSdp, kC5}, {40}, AttnKernel::kQuad, Activation::kRelu, NormKind::kNone,
                 NormPlacement::kPre),
      make_layer(24, {kSdp, kSdp, kWma}, {16}, AttnKernel::kScale, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPre),
      make_layer(16, {kC5, kC5}, {16}, AttnKernel::kSoftmax, Activation::kGelu, NormKind::kRmsNorm,
                 NormPlacement::kPost),
      make_layer(16, {kDft, kDft}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPeri),
      make_layer(16, {kDct, kDct}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost),
      make_layer(16, {kSdp, kSdp}, {16}, AttnKernel::kRelu, Activation::kGelu, NormKind::kLayerNorm,
                 NormPlacement::kPost),
      make_layer(16, {kSdp, kSdp}, {16}, AttnKernel::kSoftmax, Activation::kQuad,
                 NormKind::kLayerNorm, NormPlacement::kPost),
      make_layer(16, {kC3, kC3}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost),
      make_layer(16, {kDft, kDct}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost)};
  const int B = 2, L = 6;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const auto w = random_weights(l, 11 + i);
    const auto x = random_vector(static_cast<std::size_t>(B * L * l.hidden), 5);
    const auto want = reference_layer(l, w, x, B, L);
    RunShape s;
    s.batch = B;
    s.seq = L;
    INFO("layer " << i << ": " << layer_key(l));
    CHECK(max_error(run_layer(l, w, x, s), want) < 2e-4);
    if (bf16_supported()) {
      s.dtype = DType::kBf16;
      CHECK(max_error(run_layer(l, w, x, s), want) < 0.15);
    }
  }
}

TEST_CASE("Onednn_layer_head_size_floor_matches_loop_reference", "[latency]") {
  // FlexiBERT 2.0 head sizes: n heads of h // n dimensions concatenate to n (h // n) < h
  // columns, and the output projection maps them back to h. Every operation, alone and
  // mixed, with convolution groups that fill the concatenation and ones that do not.
  const std::vector<Layer> layers = {
      make_layer(16, {kSdp, kWma, kDft}, {24}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost),  // d 5, 15 columns
      make_layer(16, {kDft, kDct, kC5, kWma, kSdp}, {20}, AttnKernel::kRelu, Activation::kQuad,
                 NormKind::kRmsNorm, NormPlacement::kPeri),  // d 3, 15 columns
      make_layer(17, {kC3, kDct, kSdp, kC5}, {16}, AttnKernel::kQuad, Activation::kRelu,
                 NormKind::kNone, NormPlacement::kPre),  // d 4, 16 columns
      make_layer(20, {kSdp, kSdp, kSdp}, {32}, AttnKernel::kScale, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPre),  // d 6, 18 columns
      make_layer(13, {kWma, kWma}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost),  // d 6, 12 columns
      make_layer(16, {kC5, kC5, kC5}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kRmsNorm, NormPlacement::kPost),  // one conv group fills 15 columns
      make_layer(10, {kDft, kDft, kDft}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPeri),  // d 3, 9 columns
      make_layer(11, {kDct, kDct}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                 NormKind::kLayerNorm, NormPlacement::kPost)};  // d 5, 10 columns
  const int B = 2, L = 6;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    REQUIRE(l.attention_width() < l.hidden);
    const auto w = random_weights(l, 31 + i);
    CHECK(w.w_o.size() ==
          static_cast<std::size_t>(l.attention_width()) * static_cast<std::size_t>(l.hidden));
    const auto x = random_vector(static_cast<std::size_t>(B * L * l.hidden), 9);
    const auto want = reference_layer(l, w, x, B, L);
    RunShape s;
    s.batch = B;
    s.seq = L;
    INFO("layer " << i << ": " << layer_key(l));
    CHECK(max_error(run_layer(l, w, x, s), want) < 2e-4);
    if (bf16_supported()) {
      s.dtype = DType::kBf16;
      CHECK(max_error(run_layer(l, w, x, s), want) < 0.15);
    }
  }
  // A layer that divides keeps its square output projection.
  const auto div = make_layer(16, {kSdp, kDft}, {16});
  CHECK(random_weights(div, 1).w_o.size() == 16u * 16u);
  // A head needs at least one dimension.
  RunShape s;
  s.seq = 4;
  CHECK_THROWS_AS(build_layer(make_layer(2, {kSdp, kSdp, kSdp}, {4}), s, 1), InputError);
}

TEST_CASE("Onednn_layer_rejects_unsupported_dtype_and_bad_shapes", "[latency]") {
  CHECK(parse_dtype("bf16", "x") == DType::kBf16);
  CHECK_THROWS_AS(parse_dtype("fp16", "x"), InputError);
  if (!bf16_supported()) CHECK_THROWS_AS(check_dtype_supported(DType::kBf16), InputError);
  RunShape s;
  s.seq = 0;
  const auto l = make_layer(16, {kSdp}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                            NormKind::kLayerNorm, NormPlacement::kPost);
  CHECK_THROWS_AS(measure_layer(l, s, {}), InputError);
}

TEST_CASE("Timing_summary_quantiles", "[latency]") {
  const auto t = summarize({5, 1, 4, 2, 3, 6, 7, 8, 9, 10, 11}, 3);
  CHECK(t.median_ms == Approx(6));
  CHECK(t.p10_ms == Approx(2));
  CHECK(t.p90_ms == Approx(10));
  CHECK(t.spread() == Approx(8.0 / 6));
  CHECK(t.inner == 3);
}

TEST_CASE("Transform_matrices_are_orthonormal", "[latency]") {
  // DCT-II orthonormal: C C^T = I; DFT/sqrt(n): C C + S S = I (real part of F conj(F)).
  const int n = 7;
  const auto c = dct_matrix(n), fc = dft_cos_matrix(n), fs = dft_sin_matrix(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double dct = 0, dft = 0;
      for (int k = 0; k < n; ++k) {
        dct += c[static_cast<std::size_t>(i * n + k)] * c[static_cast<std::size_t>(j * n + k)];
        dft += fc[static_cast<std::size_t>(i * n + k)] * fc[static_cast<std::size_t>(k * n + j)] +
               fs[static_cast<std::size_t>(i * n + k)] * fs[static_cast<std::size_t>(k * n + j)];
      }
      CHECK(dct == Approx(i == j ? 1 : 0).margin(1e-6));
      CHECK(dft == Approx(i == j ? 1 : 0).margin(1e-6));
    }
}

TEST_CASE("Layer_key_ignores_what_does_not_change_the_network", "[latency]") {
  auto a = make_layer(128, {kSdp, kC5}, {512}, AttnKernel::kSoftmax, Activation::kGelu,
                      NormKind::kLayerNorm, NormPlacement::kPost);
  auto b = a;
  b.heads = {kC5, kSdp};
  CHECK(layer_key(a) == layer_key(b));
  CHECK(layer_key(a) ==
        "h=128 heads=sa_sdp_64,c_5_64 ff=512 kernel=softmax act=gelu norm=layernorm place=post");
  b.ff = {1024};
  CHECK(layer_key(a) != layer_key(b));
  auto c = make_layer(128, {kDft, kDft}, {512}, AttnKernel::kRelu, Activation::kGelu,
                      NormKind::kNone, NormPlacement::kPeri);
  auto d = c;
  d.attn_kernel = AttnKernel::kSoftmax;
  d.norm_placement = NormPlacement::kPost;
  CHECK(layer_key(c) == layer_key(d));  // no attention heads, no norms
  d.norm = NormKind::kRmsNorm;
  CHECK(layer_key(c) != layer_key(d));
  CHECK(projection_key(128, 256) != projection_key(256, 128));
  // FlexiBERT 2.0 head sizes: 12 heads in 256 are 21 wide, as in 12 heads in 252; the
  // hidden size tells the two layers apart, and the head count with it fixes the size.
  const std::vector<Head> twelve(12, kSdp);
  const auto e = make_layer(256, twelve, {512});
  const auto f = make_layer(252, twelve, {512});
  std::string heads;
  for (int i = 0; i < 12; ++i) heads += i ? ",sa_sdp_21" : "sa_sdp_21";
  CHECK(layer_key(e) ==
        "h=256 heads=" + heads + " ff=512 kernel=softmax act=gelu norm=layernorm place=post");
  CHECK(layer_key(e) != layer_key(f));
  auto g = e;
  g.heads.pop_back();  // 11 heads of 23
  CHECK(layer_key(g).find("sa_sdp_23") != std::string::npos);
}

TEST_CASE("Latency_table_hits_misses_and_separates_settings", "[latency]") {
  const auto dir = temp_dir("table");
  const auto l = make_layer(32, {kSdp, kDct}, {64}, AttnKernel::kSoftmax, Activation::kGelu,
                            NormKind::kLayerNorm, NormPlacement::kPre);
  RunShape s;
  s.seq = 16;
  MeasureOptions m;
  m.repeats = 3;
  m.warmup = 1;
  m.min_repeat_ms = 0.1;
  {
    LatencyTable t(dir.string(), s, m);
    const auto e1 = t.layer(l);
    CHECK_FALSE(e1.cached);
    CHECK(e1.timing.median_ms > 0);
    CHECK(t.layer(l).cached);  // in memory
    CHECK(std::filesystem::exists(t.dir() + "/context.txt"));
  }
  LatencyTable again(dir.string(), s, m);
  const auto e2 = again.layer(l);
  CHECK(e2.cached);  // from disk, another table object
  auto l2 = l;
  l2.ff = {32};
  CHECK_FALSE(again.layer(l2).cached);
  CHECK_FALSE(again.projection(32, 64).cached);
  CHECK(again.projection(32, 64).cached);
  std::size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(again.dir()))
    files += f.path().extension() == ".json";
  CHECK(files == 3);
  for (auto change : {0, 1, 2}) {
    RunShape s2 = s;
    if (change == 0) s2.seq = 32;
    if (change == 1) s2.threads = 2;
    if (change == 2) s2.batch = 2;
    LatencyTable other(dir.string(), s2, m);
    CHECK(other.dir() != again.dir());
    CHECK_FALSE(other.layer(l).cached);
  }
  // A damaged entry is a miss and is measured again.
  for (const auto& f : std::filesystem::directory_iterator(again.dir()))
    if (f.path().extension() == ".json") std::ofstream(f.path()) << "{\"key\": 1";
  LatencyTable damaged(dir.string(), s, m);
  CHECK_FALSE(damaged.layer(l).cached);
  LatencyTable repaired(dir.string(), s, m);
  CHECK(repaired.layer(l).cached);
  // No temporary files are left behind.
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir))
    CHECK(f.path().string().find(".tmp") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Latency_table_shared_by_concurrent_writers", "[latency]") {
  const auto dir = temp_dir("shared");
  const auto l = make_layer(16, {kSdp}, {16}, AttnKernel::kSoftmax, Activation::kGelu,
                            NormKind::kLayerNorm, NormPlacement::kPost);
  RunShape s;
  s.seq = 8;
  MeasureOptions m;
  m.repeats = 2;
  m.warmup = 1;
  m.min_repeat_ms = 0.05;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int k = 0; k < 4; ++k)
    writers.emplace_back([&] {
      try {
        LatencyTable t(dir.string(), s, m);
        for (int i = 0; i < 5; ++i) {
          auto li = l;
          li.ff = {16 * (i + 1)};
          t.layer(li);
        }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& w : writers) w.join();
  CHECK(failures == 0);
  LatencyTable reader(dir.string(), s, m);
  for (int i = 0; i < 5; ++i) {
    auto li = l;
    li.ff = {16 * (i + 1)};
    CHECK(reader.layer(li).cached);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Latency_evaluator_options", "[latency]") {
  EvaluatorRegistry r;
  register_builtins(r);
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","c"],"h":[32,16],"n":[2,2],"f":[[64],[32]],"p":["sdp","5"]})");
  for (const char* mode : {"table", "whole"}) {
    auto e = r.create(std::string("latency:seq=8,repeats=2,warmup=1,cache=none,mode=") + mode);
    const auto res = e->evaluate(a, EvalContext{});
    REQUIRE(res.status == EvalStatus::kOk);
    CHECK(res.values.at("latency_ms") > 0);
    CHECK(res.values.count("latency_spread"));
  }
  CHECK_THROWS_AS(r.create("latency:mode=sum"), InputError);
  CHECK_THROWS_AS(r.create("latency:dtype=fp16"), InputError);
  CHECK_THROWS_AS(r.create("latency:seq=0"), InputError);
  CHECK_THROWS_AS(r.create("latency:bogus=1"), InputError);
}

// Acceptance checks with timing. CI runs the tests on two shared cores next to another test
// binary, so these time one thread's CPU time (clock cpu: time slices lost to other processes
// are not counted), interleave the nets being compared in rounds (slow load changes hit all
// alike; time_rounds runs one untimed round first), take medians, use shapes of a few ms per
// run and allow three attempts.
namespace {
MeasureOptions acceptance_options() {
  MeasureOptions m;
  m.repeats = 9;
  m.warmup = 2;
  m.min_repeat_ms = 4;
  m.clock = Clock::kCpu;
  return m;
}
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

TEST_CASE("Latency_of_one_layer_repeats_within_5_percent", "[latency]") {
  const auto l = make_layer(256, {kSdp, kSdp, kSdp, kSdp}, {1024}, AttnKernel::kSoftmax,
                            Activation::kGelu, NormKind::kLayerNorm, NormPlacement::kPost);
  RunShape s;
  s.seq = 128;
  double diff = 1;
  for (int attempt = 0; attempt < 3 && diff >= 0.05; ++attempt) {
    // Two independent measurements: each builds its own primitives and buffers.
    // Compared round by round (the two runs of a round are adjacent in time, so a slow
    // phase, e.g. a busy SMT sibling, which the cpu clock does not hide, hits both alike),
    // then the median over rounds: comparing each net's own median instead failed 1 in 6
    // runs next to a spinning process.
    auto a = build_layer(l, s), b = build_layer(l, s);
    const auto r = time_rounds({&a, &b}, acceptance_options(), 7);
    std::vector<double> ratio;
    for (std::size_t k = 0; k < r[0].size(); ++k) ratio.push_back(r[0][k] / r[1][k]);
    const double q = median_of(ratio);
    diff = std::max(q, 1 / q) - 1;
    WARN("layer medians " << median_of(r[0]) << " ms and " << median_of(r[1])
                          << " ms, per-round ratio median " << q << ", difference " << diff);
  }
  CHECK(diff < 0.05);
}

TEST_CASE("Latency_table_predicts_whole_model_within_10_percent", "[latency]") {
  const auto a = architecture_from_string(
      R"({"l":3,"o":[["sa_sdp_64","sa_sdp_64","c_9_64","l_dct_64"],["sa_wma_64","sa_sdp_64"],)"
      R"(["l_dft_32","sa_sdp_32","c_5_32","sa_sdp_32"]],"h":[256,128,128],"f":[[1024],[512,512],[512]]})");
  RunShape s;
  s.seq = 128;
  double err = 1;
  for (int attempt = 0; attempt < 3 && err >= 0.10; ++attempt) {
    // The table's entries (each layer and the 256 -> 128 projection on its own) and the
    // whole model, timed in alternating rounds.
    std::vector<TimedNet> nets;
    for (const auto& l : a.layers) nets.push_back(build_layer(l, s));
    nets.push_back(build_projection(256, 128, s));
    nets.push_back(build_model(a, s));
    std::vector<TimedNet*> ptrs;
    for (auto& n : nets) ptrs.push_back(&n);
    const auto r = time_rounds(ptrs, acceptance_options(), 5);
    std::vector<double> ratio;
    for (std::size_t k = 0; k < r[0].size(); ++k) {
      double sum = 0;
      for (std::size_t i = 0; i + 1 < r.size(); ++i) sum += r[i][k];
      ratio.push_back(sum / r.back()[k]);
    }
    err = std::abs(median_of(ratio) - 1);
    WARN("table sum / whole model per round: median " << median_of(ratio) << ", error " << err);
  }
  CHECK(err < 0.10);
}
