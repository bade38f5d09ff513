#include "evaluators/mpc.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/error.hpp"

namespace flexnas {
namespace {

using i64 = std::int64_t;

int log2_int(int x) {
  int k = 0;
  while ((1 << (k + 1)) <= x) ++k;
  return k;
}

}  // namespace

// --- primitives --------------------------------------------------------------------------

MpcCost MpcOps::open(i64 n) const {
  if (n <= 0) return {};
  return {p_.open.rounds, p_.open.bytes * n};
}

MpcCost MpcOps::mul(i64 n, i64 m) const {
  if (n <= 0 || m <= 0) return {};
  return {p_.open.rounds + p_.truncate.rounds,
          p_.open.bytes * (n + m) + p_.truncate.bytes * std::max(n, m)};
}

MpcCost MpcOps::square(i64 n) const {
  if (n <= 0) return {};
  return {p_.open.rounds + p_.truncate.rounds, (p_.open.bytes + p_.truncate.bytes) * n};
}

MpcCost MpcOps::matmul(i64 m, i64 k, i64 n, i64 batch) const {
  if (m <= 0 || k <= 0 || n <= 0 || batch <= 0) return {};
  return {p_.open.rounds + p_.truncate.rounds,
          batch * (p_.open.bytes * (m * k + k * n) + p_.truncate.bytes * m * n)};
}

MpcCost MpcOps::and_words(i64 words) const {
  if (words <= 0) return {};
  return {p_.and_gate.rounds, p_.and_gate.bytes * words};
}

MpcCost MpcOps::b2a_bits(i64 bits) const {
  if (bits <= 0) return {};
  return {p_.b2a_bit.rounds, p_.b2a_bit.bytes * bits};
}

MpcCost MpcOps::rand(i64 n) const {
  return b2a_bits(n * p_.frac_bits);
}

MpcCost MpcOps::a2b(i64 n) const {
  // Each party XOR-shares its own arithmetic share (free); the two are added by a
  // carry-lookahead circuit: one AND for the generate bits, then log2(ring) levels that
  // each AND the (generate, propagate) pair.
  MpcCost c = and_words(n);
  const int levels = log2_int(p_.ring_bits);
  for (int i = 0; i < levels; ++i) c += and_words(2 * n);
  return c;
}

MpcCost MpcOps::ltz(i64 n) const {
  return a2b(n) + b2a_bits(n);
}

MpcCost MpcOps::eqz(i64 n) const {
  // x0 == -x1 bitwise: AND-reduce the XNOR of the two shares' bits in log2(ring) levels.
  MpcCost c;
  const int levels = log2_int(p_.ring_bits);
  for (int i = 0; i < levels; ++i) c += and_words(n);
  return c + b2a_bits(n);
}

MpcCost MpcOps::relu(i64 n) const {
  return ltz(n) + mul(n, n);
}

MpcCost MpcOps::where(i64 n) const {
  return mul(n, n) + mul(n, n);
}

MpcCost MpcOps::pow(i64 n, int p) const {
  // Square-and-multiply as CrypTen runs it: even p squares, odd p squares and multiplies.
  if (p <= 1) return {};
  if (p == 2) return square(n);
  if (p % 2 == 0) return square(n) + pow(n, p / 2);
  return square(n) + mul(n, n) + pow(n, (p - 1) / 2);
}

MpcCost MpcOps::exp(i64 n) const {
  return p_.exp_iters * square(n);
}

MpcCost MpcOps::reciprocal(i64 n, bool positive) const {
  if (!positive) {
    // sign (a comparison), |x| = sign x, 1 / |x|, sign / |x|
    return ltz(n) + mul(n, n) + reciprocal(n, true) + mul(n, n);
  }
  // Start 3 exp(1 - 2x) + 0.003, then y <- 2y - x y^2.
  return exp(n) + p_.reciprocal_nr * (square(n) + mul(n, n));
}

MpcCost MpcOps::inv_sqrt(i64 n) const {
  // Start from an exp; y <- y (3 - x y^2) / 2.
  return exp(n) + p_.inv_sqrt_nr * (square(n) + mul(n, n) + mul(n, n));
}

MpcCost MpcOps::erf(i64 n) const {
  // Taylor series: term k needs x^(2k+1), each power computed on its own.
  MpcCost c;
  for (int k = 1; k <= p_.erf_terms; ++k) c += pow(n, 2 * k + 1);
  return c;
}

MpcCost MpcOps::gelu(i64 n) const {
  return erf(n) + mul(n, n);
}

MpcCost MpcOps::sigmoid(i64 n) const {
  // sign, |x|, 1 + exp(-|x|), reciprocal from the public start 0.75 (its first step is a
  // public-times-private product, free), then select sigma or 1 - sigma by the sign.
  const MpcCost nr = p_.sigmoid_nr > 0 ? (p_.sigmoid_nr - 1) * (square(n) + mul(n, n)) : MpcCost{};
  return ltz(n) + mul(n, n) + exp(n) + nr + where(n);
}

MpcCost MpcOps::tanh(i64 n) const {
  return sigmoid(n);
}

MpcCost MpcOps::gelu_tanh(i64 n) const {
  return pow(n, 3) + tanh(n) + mul(n, n);
}

MpcCost MpcOps::quad(i64 n) const {
  return square(n);
}

MpcCost MpcOps::prod(i64 items, i64 width) const {
  MpcCost c;
  while (items > 1) {
    c += mul(items / 2 * width, items / 2 * width);
    items = items / 2 + items % 2;
  }
  return c;
}

MpcCost MpcOps::weighted_index(i64 rows, i64 len) const {
  // Ties broken at random: r = rand * (row sum), one-hot of the first prefix sum > r.
  return rand(rows) + mul(rows, rows) + ltz(rows * len);
}

MpcCost MpcOps::max_pairwise(i64 rows, i64 len) const {
  // Every element against every other one in one batch of comparisons, AND by a product
  // tree (or a sum and one more comparison for long rows), tie-break, then max = sum(x * onehot).
  const i64 row = len > 1 ? len : 2;
  MpcCost c = ltz((row - 1) * rows * len);
  if (row - 1 < 2 * p_.ring_bits)
    c += prod(row - 1, rows * len);
  else
    c += ltz(rows * len);
  return c + weighted_index(rows, len) + mul(rows * len, rows * len);
}

MpcCost MpcOps::row_max(i64 rows, i64 len) const {
  if (p_.max_method == MaxMethod::kPairwise) return max_pairwise(rows, len);
  // Log reduction: int(ln len) halving steps of max(x, y) = where(x >= y, x, y), then the
  // pairwise max over what is left, then the one-hot of the max over the full row (an
  // equality test and a tie-break), which CrypTen's max(dim) also returns.
  const auto steps = static_cast<int>(std::floor(std::log(static_cast<double>(len))));
  MpcCost c;
  i64 m = len;
  for (int s = 0; s < steps; ++s) {
    const i64 pairs = rows * (m / 2);
    c += ltz(pairs) + where(pairs);
    m = m / 2 + m % 2;
  }
  return c + max_pairwise(rows, m) + eqz(rows * len) + weighted_index(rows, len);
}

MpcCost MpcOps::softmax(i64 rows, i64 len) const {
  if (len <= 1) return {};
  const i64 n = rows * len;
  return row_max(rows, len) + exp(n) + reciprocal(rows, true) + mul(n, rows);
}

MpcCost MpcOps::relu_softmax(i64 rows, i64 len) const {
  const i64 n = rows * len;
  return relu(n) + reciprocal(rows, true) + mul(n, rows);
}

MpcCost MpcOps::quad_softmax(i64 rows, i64 len) const {
  const i64 n = rows * len;
  return square(n) + reciprocal(rows, true) + mul(n, rows);
}

MpcCost MpcOps::layernorm(i64 rows, i64 width) const {
  // Centring and the mean are linear (free); variance by squares; x_c / sqrt(var + eps).
  const i64 n = rows * width;
  return square(n) + inv_sqrt(rows) + mul(n, rows);
}

MpcCost MpcOps::rmsnorm(i64 rows, i64 width) const {
  // x / sqrt(mean(x^2) + eps): the same protocol steps as LayerNorm without the (free) centring.
  const i64 n = rows * width;
  return square(n) + inv_sqrt(rows) + mul(n, rows);
}

MpcCost MpcOps::attention_kernel(AttnKernel k, i64 rows, i64 len) const {
  switch (k) {
    case AttnKernel::kSoftmax:
      return softmax(rows, len);
    case AttnKernel::kRelu:
      return relu_softmax(rows, len);
    case AttnKernel::kQuad:
      return quad_softmax(rows, len);
    case AttnKernel::kScale:
      return {};  // x / L, public L
  }
  return {};
}

MpcCost MpcOps::activation(Activation a, i64 n) const {
  switch (a) {
    case Activation::kGelu:
      return gelu(n);
    case Activation::kRelu:
      return relu(n);
    case Activation::kQuad:
      return quad(n);
  }
  return {};
}

MpcCost MpcOps::norm(NormKind k, i64 rows, i64 width) const {
  switch (k) {
    case NormKind::kLayerNorm:
      return layernorm(rows, width);
    case NormKind::kRmsNorm:
      return rmsnorm(rows, width);
    case NormKind::kNone:
      return {};
  }
  return {};
}

MpcScope parse_mpc_scope(const std::string& s, const std::string& where) {
  if (s == "encoder") return MpcScope::kEncoder;
  if (s == "model") return MpcScope::kModel;
  throw InputError(where + ": unknown scope '" + s + "' (valid: encoder, model)");
}

// --- the network -------------------------------------------------------------------------

namespace {

const char* kernel_op(AttnKernel k) {
  switch (k) {
    case AttnKernel::kSoftmax:
      return "softmax";
    case AttnKernel::kRelu:
      return "relu-softmax";
    case AttnKernel::kQuad:
      return "2quad";
    case AttnKernel::kScale:
      return "scale";
  }
  return "";
}

const char* norm_op(NormKind k) {
  return k == NormKind::kRmsNorm ? "rmsnorm" : "layernorm";
}

class Builder {
 public:
  Builder(const MpcOps& ops, MpcReport& r) : ops_(ops), r_(r) {}
  void add(const std::string& name, int layer, const std::string& op, const MpcCost& c) {
    r_.ops.push_back({name, layer, op, c});
    r_.total += c;
  }

  void layer(const Layer& ly, int j, i64 L) {
    // Heads of d = h // n dimensions concatenate to cat = n d columns (h when n divides h).
    const i64 h = ly.hidden, d = ly.head_size(), cat = ly.attention_width();
    i64 n_sa = 0, n_wma = 0, n_mix = 0, n_conv = 0;
    MpcCost conv;
    for (const Head& hd : ly.heads) {
      switch (hd.op) {
        case Op::kWma:
          ++n_wma;
          [[fallthrough]];
        case Op::kSdp:
          ++n_sa;
          break;
        case Op::kDft:
        case Op::kDct:
          ++n_mix;
          break;
        case Op::kConv:
          // Per channel: the unfolded input [L, k] times the kernel [k, 1].
          conv += ops_.matmul(L, hd.kernel, 1, d);
          ++n_conv;
          break;
      }
    }
    if (n_conv > 0) conv.rounds = ops_.matmul(1, 1, 1).rounds;  // all conv heads in one batch
    const bool peri = ly.norm_placement == NormPlacement::kPeri;
    const bool pre = ly.norm_placement == NormPlacement::kPre || peri;
    const bool post = ly.norm_placement == NormPlacement::kPost || peri;
    const bool has_norm = ly.norm != NormKind::kNone;
    const MpcCost nc = ops_.norm(ly.norm, L, h);
    const std::string nop = norm_op(ly.norm);
    auto norm = [&](const std::string& base, bool before) {
      if (!has_norm) return;
      add(peri ? base + (before ? "_pre" : "_post") : base, j, nop, nc);
    };

    // Attention / mixing sublayer.
    if (pre) norm("ln1", true);
    MpcCost qkv;
    if (n_sa > 0)
      qkv += ops_.matmul(L, h, n_sa * d) + ops_.matmul(L, h, n_sa * d);  // q, k of the sa heads
    qkv += ops_.matmul(L, h, cat);                                       // v of every head
    add("qkv", j, n_sa > 0 ? "matmul x3" : "matmul", qkv);
    if (n_wma > 0) add("wma", j, "matmul", ops_.matmul(L, d, d, n_wma));
    if (n_sa > 0) {
      add("qk", j, "matmul", ops_.matmul(L, d, L, n_sa));
      add("softmax", j, kernel_op(ly.attn_kernel),
          ops_.attention_kernel(ly.attn_kernel, n_sa * L, L));
      add("av", j, "matmul", ops_.matmul(L, L, d, n_sa));
    }
    if (n_mix > 0) add("mix", j, "public linear", {});
    if (n_conv > 0) add("conv", j, "matmul", conv);
    add("proj", j, "matmul", ops_.matmul(L, cat, h));
    if (post) norm("ln1", false);

    // Feed-forward sublayer.
    if (pre) norm("ln2", true);
    i64 in = h;
    const std::string act = to_string(ly.activation);
    for (std::size_t k = 0; k < ly.ff.size(); ++k) {
      add("ffn" + std::to_string(k + 1), j, "matmul", ops_.matmul(L, in, ly.ff[k]));
      add(ly.ff.size() == 1 ? act : act + std::to_string(k + 1), j, act,
          ops_.activation(ly.activation, L * ly.ff[k]));
      in = ly.ff[k];
    }
    add("ffn" + std::to_string(ly.ff.size() + 1), j, "matmul", ops_.matmul(L, in, h));
    if (post) norm("ln2", false);
  }

 private:
  const MpcOps& ops_;
  MpcReport& r_;
};

}  // namespace

MpcReport mpc_cost(const Architecture& a, const MpcOps& ops, const NetworkProfile& net,
                   const MpcOptions& opt) {
  MpcReport r;
  Builder b(ops, r);
  const i64 L = opt.seq;
  const bool model = opt.scope == MpcScope::kModel;
  if (model && !a.layers.empty()) {
    // The client one-hot encodes its tokens; [L, V] x [V, h] against the private table.
    // Positions are public indices (a local lookup); one segment (public).
    const Layer& first = a.layers.front();
    b.add("embed", -1, "matmul", ops.matmul(L, opt.vocab, first.hidden));
    if (first.norm != NormKind::kNone)
      b.add("embed_ln", -1, norm_op(first.norm), ops.norm(first.norm, L, first.hidden));
  }
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    b.layer(a.layers[j], static_cast<int>(j), L);
    if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden)
      b.add("resize", static_cast<int>(j), "matmul",
            ops.matmul(L, a.layers[j].hidden, a.layers[j + 1].hidden));
  }
  if (model && !a.layers.empty()) {
    // BERT head: pooler dense + tanh on the first token, classifier, logits to the client.
    const i64 h = a.layers.back().hidden;
    b.add("pooler", -1, "matmul", ops.matmul(1, h, h));
    b.add("tanh", -1, "tanh", ops.tanh(h));
    b.add("classifier", -1, "matmul", ops.matmul(1, h, opt.classes));
    b.add("output", -1, "open", ops.open(opt.classes));
  }
  r.latency_s = net.latency_s(r.total.rounds, r.total.bytes);
  return r;
}

// --- the evaluator -----------------------------------------------------------------------

namespace {

class MpcEvaluator : public Evaluator {
 public:
  explicit MpcEvaluator(const Options& o)
      : opts_(o.values()),
        ops_(load_protocol(opts_.at("protocol"))),
        net_(load_network(opts_.at("network"))) {
    if (o.has("seq")) seq_ = o.integer_as<int>("seq");
    opt_.scope = parse_mpc_scope(opts_.at("scope"), "evaluator mpc: option scope");
    opt_.vocab = o.integer_as<int>("vocab");
    opt_.classes = o.integer_as<int>("classes");
  }
  std::string name() const override { return "mpc"; }
  std::vector<ValueSpec> provides() const override {
    return {{"mpc_bytes", "bytes", Direction::kMinimize, "communication of one private inference"},
            {"mpc_rounds", "count", Direction::kMinimize,
             "communication rounds of one private inference"},
            {"mpc_latency_s", "s", Direction::kMinimize,
             "rounds x RTT + bytes / bandwidth on the network profile"}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    MpcOptions o = opt_;
    o.seq = seq_ > 0 ? seq_ : ctx.seq;
    const auto r = mpc_cost(a, ops_, net_, o);
    return {EvalStatus::kOk,
            {{"mpc_bytes", static_cast<double>(r.total.bytes)},
             {"mpc_rounds", static_cast<double>(r.total.rounds)},
             {"mpc_latency_s", r.latency_s}},
            ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  MpcOps ops_;
  NetworkProfile net_;
  MpcOptions opt_;
  int seq_ = 0;
};

}  // namespace

void register_mpc(EvaluatorRegistry& r) {
  r.add({"mpc",
         "secure 2-party inference cost: bytes, rounds, latency (docs/mpc.md)",
         {OptionSpec::text("protocol", "crypten-2pc",
                           "protocol profile: built-in name or YAML/JSON path"),
          OptionSpec::text("network", "wan", "network profile: lan, wan, or a YAML/JSON path"),
          OptionSpec::optional_integer("seq", 1, 1 << 20,
                                       "sequence length (default: the evaluation context's, 128)"),
          OptionSpec::choice("scope", "encoder", {"encoder", "model"},
                             "encoder (layers and projections) or model (+ embeddings, head)"),
          OptionSpec::integer("vocab", 30522, 1, 1 << 24, "token embedding rows (scope=model)"),
          OptionSpec::integer("classes", 2, 1, 1 << 20, "classifier outputs (scope=model)")},
         [](const auto& o) { return std::make_unique<MpcEvaluator>(o); }});
}

}  // namespace flexnas
