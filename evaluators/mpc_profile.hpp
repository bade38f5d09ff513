#pragma once
// MPC profiles: a protocol (primitive costs and iteration counts) and a network
// (bandwidth, round-trip time), read from YAML or JSON. The built-in ones (data/mpc) are
// compiled in and addressed by name; any other argument is read as a file path, so a user
// adds a protocol or network without recompiling. docs/mpc.md gives the file format.
#include <cstdint>
#include <string>
#include <vector>

namespace flexnas {

// Cost of one primitive on one element.
struct PrimitiveCost {
  std::int64_t rounds = 0;
  std::int64_t bytes = 0;
};

enum class MaxMethod { kLogReduction, kPairwise };

struct ProtocolProfile {
  std::string name;
  std::string description;
  int ring_bits = 64;      // power of two; binary circuits are log2(ring_bits) levels deep
  int frac_bits = 16;      // bits of a shared random fixed-point value
  PrimitiveCost open;      // reveal one masked element (Beaver products open their operands)
  PrimitiveCost and_gate;  // AND of two XOR-shared ring words
  PrimitiveCost b2a_bit;   // one shared bit from XOR to arithmetic sharing
  PrimitiveCost truncate;  // after each fixed-point product, per output element
  int exp_iters = 8;
  int reciprocal_nr = 10;
  int inv_sqrt_nr = 3;
  int erf_terms = 8;
  int sigmoid_nr = 3;
  MaxMethod max_method = MaxMethod::kLogReduction;
};

struct NetworkProfile {
  std::string name;
  std::string description;
  double bandwidth_mbps = 100;  // Mbit/s, 1e6 bits per second
  double rtt_ms = 80;           // round-trip time
  // rounds x RTT + bytes / bandwidth, in seconds.
  double latency_s(std::int64_t rounds, std::int64_t bytes) const;
};

// Parse profile text; `where` (a file name) prefixes every error. Throws InputError with
// one line naming the file and the field.
ProtocolProfile parse_protocol(const std::string& text, const std::string& where);
NetworkProfile parse_network(const std::string& text, const std::string& where);

// A built-in name, or a path to a YAML/JSON file. Unknown names throw InputError listing
// the built-in names.
ProtocolProfile load_protocol(const std::string& name_or_path);
NetworkProfile load_network(const std::string& name_or_path);

std::vector<std::string> builtin_protocol_names();
std::vector<std::string> builtin_network_names();

// Generated from data/mpc at build time (evaluators/embed_mpc.cmake).
struct BuiltinProfileText {
  const char* kind;  // "protocols" or "networks"
  const char* name;
  const char* text;
};
const std::vector<BuiltinProfileText>& builtin_mpc_profile_texts();

}  // namespace flexnas
