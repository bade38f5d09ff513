#pragma once
// Encoder layers as oneDNN CPU primitives, for measured latency (docs/latency.md): one
// layer, one projection between layers, or a whole model built at a batch and sequence
// length, run warm, timed over repeats. Also runs a layer on given weights and input so
// tests can check the numbers against a plain reference. This header does not include
// oneDNN; only onednn_encoder.cpp links it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "space/architecture.hpp"

namespace flexnas::latency {

enum class DType { kF32, kBf16 };
const char* to_string(DType t);
// "f32" or "bf16"; InputError naming `where` otherwise.
DType parse_dtype(const std::string& s, const std::string& where);
// bf16 needs oneDNN's AVX-512 (avx512_core) kernels; InputError naming the CPU otherwise.
void check_dtype_supported(DType t);
bool bf16_supported();

// Input shape and execution settings. threads: OpenMP threads oneDNN uses (0: all cores).
struct RunShape {
  int batch = 1;
  int seq = 128;
  DType dtype = DType::kF32;
  int threads = 1;
};
// The thread count `threads` stands for (0: the processors OpenMP may use).
int effective_threads(int threads);

// Parameters of one layer as row-major f32 arrays (converted to the run's dtype).
// Head groups are maximal runs of equal heads in the canonical (sorted) head order; group
// g occupies columns [first_head * d, (first_head + heads) * d) of the concatenated heads,
// n * d = Layer::attention_width() columns (d = hidden // n; less than hidden when n does not
// divide it).
struct HeadGroupWeights {
  Head op;
  int first_head = 0;
  int heads = 0;
  std::vector<float>
      w_in;  // [hidden, cols]: sa cols = 3 heads d (all Q | all K | all V), else heads d
  std::vector<float> b_in;   // [cols]
  std::vector<float> w_mix;  // sa/wma: [heads, d, d]; c: depthwise kernel [heads d, k]; else empty
  std::vector<float> b_mix;  // c: [heads d]; else empty
};
struct NormWeights {
  std::vector<float> gamma;  // [hidden]
  std::vector<float> beta;   // [hidden]; empty for rmsnorm
};
struct LayerWeights {
  std::vector<HeadGroupWeights> groups;
  std::vector<float> w_o, b_o;                 // [attention_width, hidden], [hidden]
  std::vector<std::vector<float>> ff_w, ff_b;  // dense k: [in, out], [out]; last is fk -> hidden
  // In order of use: post {mix, ff}; pre {mix, ff}; peri {mix in, mix out, ff in, ff out}.
  std::vector<NormWeights> norms;
};

// Head groups of a layer (canonical head order), without weights.
std::vector<HeadGroupWeights> head_groups(const Layer& l);
// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights, norm gains near 1, deterministic in seed.
LayerWeights random_weights(const Layer& l, std::uint64_t seed);

// Constants of the layer definition (docs/latency.md).
inline constexpr float kNormEps = 1e-5f;         // layernorm and rmsnorm
inline constexpr float kQuadKernelShift = 5.0f;  // 2Quad attention: (s + c)^2 / row sum
inline constexpr float kKernelEps = 1e-6f;       // added to relu / 2Quad row sums
// DCT-II (orthonormal) and DFT (scaled by 1/sqrt(n)) matrices, row-major [n, n].
std::vector<float> dct_matrix(int n);
std::vector<float> dft_cos_matrix(int n);
std::vector<float> dft_sin_matrix(int n);

// One forward pass of layer `l` over x [batch * seq, hidden] (row-major, f32), through the
// oneDNN primitives the latency measurement times. Returns [batch * seq, hidden] as f32.
std::vector<float> run_layer(const Layer& l, const LayerWeights& w, const std::vector<float>& x,
                             const RunShape& s);

// Warm-up runs, then `repeats` timed repeats; each repeat runs the primitives `inner`
// times back to back, chosen so one repeat lasts at least min_repeat_ms (timer noise).
// clock: kWall times elapsed (steady) time, the latency a user sees; kCpu times the calling
// thread's CPU time, which leaves out time slices lost to other processes on a busy
// machine (threads = 1 only: with more, oneDNN's work runs on other threads).
enum class Clock { kWall, kCpu };
const char* to_string(Clock c);
Clock parse_clock(const std::string& s, const std::string& where);

struct MeasureOptions {
  int warmup = 3;
  int repeats = 15;
  double min_repeat_ms = 2.0;
  Clock clock = Clock::kWall;
};

struct Timing {
  double median_ms = 0;  // per run
  double p10_ms = 0;
  double p90_ms = 0;
  int repeats = 0;
  int inner = 1;
  // (p90 - p10) / median.
  double spread() const { return median_ms > 0 ? (p90_ms - p10_ms) / median_ms : 0; }
};

// Timing statistics of per-run times (median, 10th and 90th percentile by interpolation).
Timing summarize(std::vector<double> per_run_ms, int inner);

// A network built once (primitives created, weights and input filled) and timed on
// demand: warm-up and repeats on every call.
class TimedNet {
 public:
  struct Impl;
  explicit TimedNet(std::unique_ptr<Impl> impl);
  TimedNet(TimedNet&&) noexcept;
  TimedNet& operator=(TimedNet&&) noexcept;
  ~TimedNet();
  Timing time(const MeasureOptions& m);
  // "matmul: brg:avx512_core" for each primitive, in execution order.
  const std::vector<std::string>& implementations() const;

 private:
  std::unique_ptr<Impl> impl_;
};
// A layer's (projection's) table entry times a stack of `copies` instances with their own
// weights, run one after the other, and reports the time per instance: in a model, the
// other layers evict a layer's weights from the core's caches between its runs, and a
// stack reproduces that where a single layer run in a loop would keep them cached (which
// made a table of single layers 6-15 % too fast against whole models). copies 0 picks
// stack_copies: enough instances for twice the core's L2 cache in weights, from 2 to
// kMaxStackCopies.
inline constexpr int kMaxStackCopies = 8;
// Per-core L2 cache size (sysconf; 1 MiB when unknown).
std::int64_t l2_cache_bytes();
int stack_copies(const Layer& l, DType t);
// Parameters of the layer (what random_weights fills).
std::int64_t weight_count(const Layer& l);
TimedNet build_layer(const Layer& l, const RunShape& s, int copies = 0);
TimedNet build_projection(int in, int out, const RunShape& s, int copies = 0);
TimedNet build_model(const Architecture& a, const RunShape& s);

// Times the nets in `rounds` alternating rounds (every net once per round) so that slow
// changes of the machine's load affect all alike; result[i][r]: net i's median in round r.
// One untimed round runs first: in their first rounds freshly built nets (page faults,
// oneDNN's kernel cache, clock ramp-up) made two builds of one layer differ by 7-14 %.
std::vector<std::vector<double>> time_rounds(const std::vector<TimedNet*>& nets,
                                             const MeasureOptions& m, int rounds);

// Build and time in one go.
Timing measure_layer(const Layer& l, const RunShape& s, const MeasureOptions& m);
// The learned Linear(in, out) between layers of different hidden size.
Timing measure_projection(int in, int out, const RunShape& s, const MeasureOptions& m);
// All layers and projections chained and run as one network.
Timing measure_model(const Architecture& a, const RunShape& s, const MeasureOptions& m);

// build_layer(l, s, 1).implementations().
std::vector<std::string> layer_implementations(const Layer& l, const RunShape& s);

// Machine description: /proc/cpuinfo model name ("unknown cpu" elsewhere), oneDNN version
// ("2.6.3") and its effective ISA ("avx512_core_bf16").
std::string cpu_model();
std::string onednn_version();
std::string cpu_isa();

}  // namespace flexnas::latency
