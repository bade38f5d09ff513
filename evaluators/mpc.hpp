#pragma once
// MPC (secure two-party private inference) cost model: communication bytes, rounds and
// network latency of one encoder forward pass, with the client's input and the server's
// weights both secret-shared. Every non-linear operation is composed from protocol
// primitives (open, AND, bit conversion, truncation) with CrypTen's algorithms and the
// profile's iteration counts, so any layer shape and kernel follows (docs/mpc.md).
// The `mpc` evaluator (mpc_bytes, mpc_rounds, mpc_latency_s) is registered by
// register_mpc().
#include <cstdint>
#include <string>
#include <vector>

#include "evaluators/evaluator.hpp"
#include "evaluators/mpc_profile.hpp"
#include "space/architecture.hpp"

namespace flexnas {

// Communication of a sequence of protocol steps: rounds and bytes add.
struct MpcCost {
  std::int64_t rounds = 0;
  std::int64_t bytes = 0;
  MpcCost& operator+=(const MpcCost& o) {
    rounds += o.rounds;
    bytes += o.bytes;
    return *this;
  }
  friend MpcCost operator+(MpcCost a, const MpcCost& b) { return a += b; }
  friend MpcCost operator*(std::int64_t k, const MpcCost& c) { return {k * c.rounds, k * c.bytes}; }
  friend bool operator==(const MpcCost&, const MpcCost&) = default;
};

// The protocol's operations on secret-shared tensors. Arguments are element counts;
// rows R of length L for the row-wise operations (N = R L elements). Products of private
// values follow Beaver: each operand is opened once, so an element-wise product of an
// N-element tensor with an R-element (broadcast) one opens N + R elements.
class MpcOps {
 public:
  explicit MpcOps(ProtocolProfile p) : p_(std::move(p)) {}
  const ProtocolProfile& profile() const { return p_; }

  MpcCost open(std::int64_t n) const;
  MpcCost mul(std::int64_t n,
              std::int64_t m) const;  // operands of n and m elements, output max(n, m)
  MpcCost square(std::int64_t n) const;
  // batch independent (m x k)(k x n) products of private matrices, one round.
  MpcCost matmul(std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t batch = 1) const;
  MpcCost and_words(std::int64_t words) const;
  MpcCost b2a_bits(std::int64_t bits) const;
  MpcCost rand(
      std::int64_t n) const;  // shared uniform fixed-point values (frac_bits random bits each)
  MpcCost a2b(std::int64_t n) const;  // arithmetic to XOR sharing: a carry-lookahead adder
  MpcCost ltz(std::int64_t n) const;  // x < 0 (also x < y, x >= y)
  MpcCost eqz(std::int64_t n) const;  // x == 0, 2-party binary equality circuit
  MpcCost relu(std::int64_t n) const;
  MpcCost where(std::int64_t n) const;  // c x + (1 - c) y with private c
  MpcCost pow(std::int64_t n, int p) const;
  MpcCost exp(std::int64_t n) const;
  MpcCost reciprocal(std::int64_t n, bool positive) const;
  MpcCost inv_sqrt(std::int64_t n) const;
  MpcCost erf(std::int64_t n) const;
  MpcCost gelu(std::int64_t n) const;       // x (1 + erf(x / sqrt 2)) / 2
  MpcCost sigmoid(std::int64_t n) const;    // reciprocal method
  MpcCost tanh(std::int64_t n) const;       // 2 sigmoid(2x) - 1
  MpcCost gelu_tanh(std::int64_t n) const;  // x (1 + tanh(c (x + 0.044715 x^3))) / 2
  MpcCost quad(std::int64_t n) const;       // 0.125 x^2 + 0.5 x + 0.25
  MpcCost prod(std::int64_t items, std::int64_t width) const;  // product over `items` slices, tree
  MpcCost weighted_index(std::int64_t rows, std::int64_t len) const;
  MpcCost row_max(std::int64_t rows, std::int64_t len) const;
  MpcCost softmax(std::int64_t rows, std::int64_t len) const;
  MpcCost relu_softmax(std::int64_t rows, std::int64_t len) const;  // relu(x) / (sum relu(x) + eps)
  MpcCost quad_softmax(std::int64_t rows, std::int64_t len) const;  // 2Quad: (x + c)^2 / sum
  MpcCost layernorm(std::int64_t rows, std::int64_t width) const;
  MpcCost rmsnorm(std::int64_t rows, std::int64_t width) const;
  MpcCost attention_kernel(AttnKernel k, std::int64_t rows, std::int64_t len) const;
  MpcCost activation(Activation a, std::int64_t n) const;
  MpcCost norm(NormKind k, std::int64_t rows, std::int64_t width) const;

 private:
  MpcCost max_pairwise(std::int64_t rows, std::int64_t len) const;
  ProtocolProfile p_;
};

enum class MpcScope { kEncoder, kModel };
MpcScope parse_mpc_scope(const std::string& s, const std::string& where);

struct MpcOptions {
  int seq = 128;
  MpcScope scope = MpcScope::kEncoder;
  int vocab = 30522;  // token embedding rows (scope model)
  int classes = 2;    // classifier outputs (scope model)
};

// One row of the breakdown. layer: encoder layer index, -1 for embeddings and head.
struct MpcOpCost {
  std::string
      name;  // slot: qkv, qk, softmax (the attention-kernel slot), av, proj, ln1, ffn1, gelu, ...
  int layer = 0;
  std::string op;  // what runs there: matmul, softmax, relu-softmax, layernorm, ...
  MpcCost cost;
};

struct MpcReport {
  std::vector<MpcOpCost> ops;
  MpcCost total;
  double latency_s = 0;
};

MpcReport mpc_cost(const Architecture& a, const MpcOps& ops, const NetworkProfile& net,
                   const MpcOptions& opt);

void register_mpc(EvaluatorRegistry& r);

}  // namespace flexnas
