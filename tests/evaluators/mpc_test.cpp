#include "evaluators/mpc.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "tests/test_data.hpp"

using namespace flexnas;

namespace Catch {
template <>
struct StringMaker<MpcCost> {
  static std::string convert(const MpcCost& c) {
    return "{" + std::to_string(c.rounds) + " rounds, " + std::to_string(c.bytes) + " bytes}";
  }
};
}  // namespace Catch

namespace {

const MpcOps& crypten() {
  static const MpcOps ops(load_protocol("crypten-2pc"));
  return ops;
}

// One post-norm encoder layer as in the CrypTen reference vectors.
Architecture vit_layer(int layers, int hidden, int heads, int ffn, const std::string& kernel,
                       const std::string& activation = "gelu") {
  nlohmann::json j;
  j["l"] = layers;
  j["o"] = std::vector<std::string>(static_cast<std::size_t>(layers), "sa");
  j["h"] = std::vector<int>(static_cast<std::size_t>(layers), hidden);
  j["n"] = std::vector<int>(static_cast<std::size_t>(layers), heads);
  j["f"] = std::vector<std::vector<int>>(static_cast<std::size_t>(layers), std::vector<int>{ffn});
  j["p"] = std::vector<std::string>(static_cast<std::size_t>(layers), "sdp");
  j["attn_kernel"] = std::vector<std::string>(static_cast<std::size_t>(layers), kernel);
  j["activation"] = std::vector<std::string>(static_cast<std::size_t>(layers), activation);
  return architecture_from_json(j);
}

MpcReport cost(const Architecture& a, int seq, const std::string& network = "wan",
               MpcScope scope = MpcScope::kEncoder) {
  MpcOptions o;
  o.seq = seq;
  o.scope = scope;
  return mpc_cost(a, crypten(), load_network(network), o);
}

const MpcOpCost* find(const MpcReport& r, const std::string& name, int layer = 0) {
  for (const auto& o : r.ops)
    if (o.name == name && o.layer == layer) return &o;
  return nullptr;
}

}  // namespace

TEST_CASE("mpc_primitive_table_of_algorithms_md", "[mpc]") {
  // ALGORITHMS.md section 7, per element: (rounds, bytes).
  const auto& m = crypten();
  CHECK(m.mul(1, 1) == MpcCost{1, 32});
  CHECK(m.square(1) == MpcCost{1, 16});
  CHECK(m.matmul(3, 5, 7) == MpcCost{1, 16 * (3 * 5 + 5 * 7)});
  CHECK(m.ltz(1) == MpcCost{8, 432});
  CHECK(m.relu(1) == MpcCost{9, 464});
  CHECK(m.exp(1) == MpcCost{8, 128});
  CHECK(m.reciprocal(1, true) == MpcCost{28, 608});
  CHECK(m.reciprocal(1, false) == MpcCost{38, 1104});
  CHECK(m.inv_sqrt(1) == MpcCost{17, 368});
  CHECK(m.erf(1) == MpcCost{34, 752});
  CHECK(m.gelu(1) == MpcCost{35, 784});
  CHECK(m.gelu_tanh(1) == MpcCost{26, 832});
  CHECK(m.quad(1) == MpcCost{1, 16});
  // Per-element costs scale linearly.
  CHECK(m.gelu(1000) == MpcCost{35, 784000});
}

TEST_CASE("mpc_row_operations_of_algorithms_md", "[mpc]") {
  const auto& m = crypten();
  // Softmax rounds per row length.
  const std::vector<std::pair<int, int>> rounds{{16, 95},   {32, 105},  {64, 115},
                                                {128, 116}, {256, 126}, {512, 136}};
  for (const auto& [L, want] : rounds) {
    INFO("L = " << L);
    CHECK(m.softmax(3, L).rounds == want);
  }
  for (const std::int64_t R : {1, 7, 256}) {
    for (const std::int64_t L : {5, 64, 100}) {
      const std::int64_t N = R * L;
      INFO("R = " << R << ", L = " << L);
      CHECK(m.relu_softmax(R, L) == MpcCost{38, 480 * N + 624 * R});
      CHECK(m.quad_softmax(R, L) == MpcCost{30, 32 * N + 624 * R});
      CHECK(m.attention_kernel(AttnKernel::kScale, R, L) == MpcCost{});
      CHECK(m.layernorm(R, L) == MpcCost{19, 32 * N + 384 * R});
    }
  }
}

TEST_CASE("mpc_softmax_bytes_follow_the_algorithm", "[mpc]") {
  // Softmax over R rows of L = 64: int(ln 64) = 4 halvings leave 4 per row (60 pairs:
  // comparison 432 + select 64 bytes each); pairwise max of 4 (12 comparisons, a product
  // tree of 2 multiplications of 4, tie-break, x * onehot); equality over the row (208),
  // tie-break (432 per element + 288 per row); exp 128, reciprocal 608 per row, product
  // 16 N + 16 R. The BERT-base layer's softmax is the same formula at L = 128, R = 1536.
  const std::int64_t R = 256, L = 64, N = R * L;
  const std::int64_t want = 496 * 60 * R + 432 * 12 * R + 32 * 2 * 4 * R + (288 + 432 * 4) * R +
                            32 * 4 * R + 208 * N + 288 * R + 432 * N + 128 * N + 608 * R + 16 * N +
                            16 * R;
  CHECK(want == 22638592);
  CHECK(crypten().softmax(R, L) == MpcCost{115, want});
  CHECK(crypten().softmax(1536, 128) == MpcCost{116, 292626432});
  // A row of one is the constant 1. Below e there is no halving step, and log reduction is
  // the pairwise max plus the one-hot over the row (equality 7 rounds, tie-break 10).
  CHECK(crypten().softmax(4, 1) == MpcCost{});
  ProtocolProfile p = crypten().profile();
  p.max_method = MaxMethod::kPairwise;
  CHECK(crypten().softmax(9, 2).rounds == MpcOps(p).softmax(9, 2).rounds + 7 + 10);
  CHECK(MpcOps(p).softmax(9, 64).rounds == 8 + 6 + 10 + 1 + 37);
}

TEST_CASE("mpc_bert_base_layer_totals", "[mpc]") {
  const auto r = cost(vit_layer(1, 768, 12, 3072, "softmax"), 128);
  CHECK(r.total.bytes == 742563840);
  CHECK(r.total.rounds == 197);
  CHECK(find(r, "qkv")->cost == MpcCost{3, 33030144});
  CHECK(find(r, "softmax")->cost == MpcCost{116, 292626432});
  CHECK(find(r, "gelu")->cost == MpcCost{35, 308281344});
  CHECK(find(r, "ln2")->cost == MpcCost{19, 3194880});
}

TEST_CASE("mpc_reproduces_every_crypten_vector", "[mpc]") {
  const auto doc =
      nlohmann::json::parse(test::read_file(test::test_data("crypten_2pc_layer_vectors.json")));
  int checked = 0;
  for (const auto& v : doc["vectors"]) {
    const auto a = vit_layer(1, v["D"].get<int>(), v["heads"].get<int>(), v["ffn"].get<int>(),
                             v["attention"].get<std::string>(), v["activation"].get<std::string>());
    const auto r = cost(a, v["L"].get<int>());
    INFO(v["L"] << " " << v["D"] << " " << v["attention"]);
    for (const auto& [name, want] : v["per_op"].items()) {
      INFO(name);
      const MpcCost w{want["rounds"].get<std::int64_t>(), want["bytes"].get<std::int64_t>()};
      if (name == "total") {
        CHECK(r.total == w);
      } else {
        const auto* o = find(r, name);
        REQUIRE(o != nullptr);
        CHECK(o->cost == w);
      }
      ++checked;
    }
    CHECK(r.ops.size() + 1 == v["per_op"].size());  // nothing beyond the reference's operations
  }
  CHECK(checked == 44);
}

TEST_CASE("mpc_vit_attention_latency_ratio_on_wan", "[mpc]") {
  // MPCViT's CIFAR ViT (7 layers, d 256, 4 heads, FFN 512, 64 tokens) on WAN measured
  // softmax : ReLU-softmax : scaling = 112.2 : 71.8 : 44.6 s = 1 : 0.64 : 0.40.
  const double s = cost(vit_layer(7, 256, 4, 512, "softmax"), 64).latency_s;
  const double r = cost(vit_layer(7, 256, 4, 512, "relu"), 64).latency_s;
  const double c = cost(vit_layer(7, 256, 4, 512, "scale"), 64).latency_s;
  CHECK(s > r);
  CHECK(r > c);
  CHECK(r / s == Approx(0.64).margin(0.1));
  CHECK(c / s == Approx(0.40).margin(0.1));
  // Latency is rounds x RTT + bytes / bandwidth: 7 x 196 rounds at 80 ms, 7 x 60,698,624 bytes at
  // 100 Mbit/s.
  CHECK(s == Approx(7 * 196 * 0.080 + 7 * 60698624.0 * 8 / 100e6));
}

TEST_CASE("mpc_flexibert_operations", "[mpc]") {
  const int L = 32;
  auto one = [&](const std::string& o, const std::string& p, const std::string& extra = "") {
    return architecture_from_string(R"({"l":1,"o":[")" + o +
                                    R"("],"h":[128],"n":[2],"f":[[256]],"p":[")" + p + R"("])" +
                                    extra + "}");
  };
  const auto sdp = cost(one("sa", "sdp"), L);
  const auto wma = cost(one("sa", "wma"), L);
  // wma: one more private matmul per head, [L, d] x [d, d] with d = 64, batched in one round.
  CHECK(wma.total.rounds == sdp.total.rounds + 1);
  CHECK(wma.total.bytes - sdp.total.bytes == 2 * 16 * (L * 64 + 64 * 64));
  // DFT/DCT mixing is public and linear: only the value projection, output projection,
  // FFN and norms cost; both transforms cost the same.
  const auto dft = cost(one("l", "dft"), L), dct = cost(one("l", "dct"), L);
  CHECK(dft.total == dct.total);
  CHECK(find(dft, "mix")->cost == MpcCost{});
  CHECK(find(dft, "qkv")->cost == MpcCost{1, 16 * (L * 128 + 128 * 128)});
  CHECK(find(dft, "softmax") == nullptr);
  // Convolution with kernel k: per channel the unfolded input [L, k] times the kernel [k, 1].
  const auto c5 = cost(one("c", "5"), L), c9 = cost(one("c", "9"), L);
  CHECK(find(c5, "conv")->cost == MpcCost{1, 16 * 128 * (L * 5 + 5)});
  CHECK(c9.total.bytes - c5.total.bytes == 16 * 128 * (L * 4 + 4));
  CHECK(c9.total.rounds == c5.total.rounds);
  // Hetero layer: q and k only for the sa heads, v for all; conv heads batched in one round.
  const auto het = cost(
      architecture_from_string(
          R"({"l":1,"o":[["sa_sdp_32","sa_wma_32","l_dft_32","c_5_32"]],"h":[128],"f":[[256]]})"),
      L);
  CHECK(find(het, "qkv")->cost ==
        MpcCost{3, 2 * 16 * (L * 128 + 128 * 64) + 16 * (L * 128 + 128 * 128)});
  CHECK(find(het, "wma")->cost == MpcCost{1, 16 * (L * 32 + 32 * 32)});
  CHECK(find(het, "softmax")->cost == crypten().softmax(2 * L, L));
  CHECK(find(het, "conv")->cost == MpcCost{1, 16 * 32 * (L * 5 + 5)});
}

TEST_CASE("mpc_head_size_floor_concatenates_n_times_d", "[mpc]") {
  // FlexiBERT 2.0: 12 heads in a layer of 256 have d = 256 // 12 = 21 dimensions and
  // concatenate to 12 * 21 = 252 columns; v of the heads is [L,256]x[256,252] and the
  // output projection [L,252]x[252,256]. CrypTen's matmul [m,k]x[k,n] opens both operands:
  // one round, 16 bytes per element of each.
  const std::int64_t L = 32;
  auto mm = [](std::int64_t m, std::int64_t k, std::int64_t n) {
    return MpcCost{1, 16 * (m * k + k * n)};
  };
  const auto sa = cost(
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[256],"n":[12],"f":[[512]],"p":["sdp"]})"),
      static_cast<int>(L));
  CHECK(find(sa, "proj")->cost == mm(L, 252, 256));
  CHECK(find(sa, "qkv")->cost == MpcCost{3, 3 * mm(L, 256, 252).bytes});
  CHECK(find(sa, "qk")->cost == MpcCost{1, 12 * 16 * (L * 21 + 21 * L)});
  CHECK(find(sa, "av")->cost == MpcCost{1, 12 * 16 * (L * L + L * 21)});
  // Every operation in one layer of 128 with 5 heads: d = 25, 125 columns.
  const auto het =
      cost(architecture_from_string(
               R"({"l":1,"o":[["sa_sdp_25","sa_wma_25","l_dft_25","l_dct_25","c_5_25"]],)"
               R"("h":[128],"f":[[256]]})"),
           static_cast<int>(L));
  CHECK(find(het, "proj")->cost == mm(L, 125, 128));
  CHECK(find(het, "qkv")->cost == MpcCost{3, 2 * mm(L, 128, 2 * 25).bytes + mm(L, 128, 125).bytes});
  CHECK(find(het, "wma")->cost == mm(L, 25, 25));
  CHECK(find(het, "conv")->cost == MpcCost{1, 25 * mm(L, 5, 1).bytes});
  CHECK(find(het, "ffn1")->cost == mm(L, 128, 256));
  CHECK(find(het, "ffn2")->cost == mm(L, 256, 128));
  // Where n divides h, n d = h: the output projection stays [L,h]x[h,h].
  const auto div = cost(
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[256],"n":[8],"f":[[512]],"p":["sdp"]})"),
      static_cast<int>(L));
  CHECK(find(div, "proj")->cost == mm(L, 256, 256));
  CHECK(find(div, "qkv")->cost == MpcCost{3, 3 * mm(L, 256, 256).bytes});
}

TEST_CASE("mpc_norms_activations_and_placement", "[mpc]") {
  const int L = 16;
  auto with = [&](const std::string& extra) {
    return cost(architecture_from_string(
                    R"({"l":1,"o":["sa"],"h":[64],"n":[2],"f":[[128]],"p":["sdp"])" + extra + "}"),
                L);
  };
  const auto post = with("");
  const auto ln = crypten().layernorm(L, 64);
  // Centring is linear, so RMSNorm costs what LayerNorm costs; none removes both norms.
  CHECK(with(R"(,"norm":["rmsnorm"])").total == post.total);
  CHECK(with(R"(,"norm":["none"])").total.rounds == post.total.rounds - 2 * ln.rounds);
  CHECK(with(R"(,"norm":["none"])").total.bytes == post.total.bytes - 2 * ln.bytes);
  // Pre uses one norm per sublayer like post; peri two (before and after).
  CHECK(with(R"(,"norm_placement":["pre"])").total == post.total);
  const auto peri = with(R"(,"norm_placement":["peri"])");
  CHECK(peri.total.rounds == post.total.rounds + 2 * ln.rounds);
  CHECK(find(peri, "ln1_pre") != nullptr);
  CHECK(find(peri, "ln2_post") != nullptr);
  // Activations: ReLU and quad replace GELU on the L x 128 FFN elements.
  const auto relu = with(R"(,"activation":["relu"])");
  const auto quad = with(R"(,"activation":["quad"])");
  CHECK(find(relu, "relu")->cost == MpcCost{9, 464 * L * 128});
  CHECK(find(quad, "quad")->cost == MpcCost{1, 16 * L * 128});
  CHECK(post.total.rounds - quad.total.rounds == 34);
}

TEST_CASE("mpc_projections_and_model_scope", "[mpc]") {
  const int L = 8;
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[256,128],"n":[4,2],"f":[[512],[256]],"p":["sdp","sdp"]})");
  const auto enc = cost(a, L);
  CHECK(find(enc, "resize")->cost == MpcCost{1, 16 * (L * 256 + 256 * 128)});
  const auto mod = cost(a, L, "wan", MpcScope::kModel);
  MpcCost extra = crypten().matmul(L, 30522, 256) + crypten().layernorm(L, 256) +
                  crypten().matmul(1, 128, 128) + crypten().tanh(128) +
                  crypten().matmul(1, 128, 2) + crypten().open(2);
  CHECK(mod.total == enc.total + extra);
  CHECK(find(mod, "embed", -1)->cost == MpcCost{1, 16 * (L * 30522 + 30522 * 256)});
}

TEST_CASE("mpc_profiles_and_errors", "[mpc]") {
  CHECK(builtin_protocol_names() == std::vector<std::string>{"crypten-2pc"});
  CHECK(builtin_network_names() == std::vector<std::string>{"lan", "wan"});
  const auto lan = load_network("lan"), wan = load_network("wan");
  CHECK(lan.latency_s(10, 125000000) == Approx(10 * 0.0001 + 1.0));
  CHECK(wan.latency_s(1, 0) == Approx(0.080));
  CHECK_THROWS_WITH(load_protocol("aby3"),
                    Catch::Contains("unknown protocol 'aby3' (valid: crypten-2pc"));
  CHECK_THROWS_WITH(load_network("moon"),
                    Catch::Contains("unknown network 'moon' (valid: lan, wan"));
  CHECK_THROWS_WITH(parse_network("bandwidth_mbps: 0\nrtt_ms: 5\n", "n.yaml"),
                    Catch::Contains("n.yaml: field 'bandwidth_mbps' must be a positive number"));
  CHECK_THROWS_WITH(parse_network("bandwidth_mbps: 10\n", "n.yaml"),
                    Catch::Contains("n.yaml: field 'rtt_ms' is missing"));
  CHECK_THROWS_WITH(parse_network("[1, 2", "n.yaml"),
                    Catch::Contains("n.yaml:1: malformed YAML/JSON"));
  CHECK(parse_network(R"({"bandwidth_mbps": 400, "rtt_ms": 40})", "n.json").rtt_ms == 40);
  // A protocol file with a broken primitive names the nested field.
  std::string text = crypten().profile().name.empty() ? "" : R"(
ring_bits: 64
frac_bits: 16
primitives:
  open: {rounds: 1, bytes: -3}
  and: {rounds: 1, bytes: 32}
  b2a_bit: {rounds: 1, bytes: 16}
  truncate: {rounds: 0, bytes: 0}
iterations: {exp: 8, reciprocal_nr: 10, inv_sqrt_nr: 3, erf_terms: 8, sigmoid_nr: 3}
)";
  CHECK_THROWS_WITH(parse_protocol(text, "p.yaml"),
                    Catch::Contains("p.yaml: field 'primitives.open.bytes' must be"));
  CHECK_THROWS_WITH(parse_protocol("ring_bits: 64\nfrac_bits: 16\nprimitves: {}\n", "p.yaml"),
                    Catch::Contains("p.yaml: field 'primitves': unknown field"));
}

TEST_CASE("mpc_evaluator_registered", "[mpc]") {
  EvaluatorRegistry reg;
  register_builtins(reg);
  auto e = reg.create("mpc:network=lan,seq=64");
  const auto r = e->evaluate(vit_layer(1, 256, 4, 512, "softmax"), EvalContext{});
  CHECK(r.values.at("mpc_bytes") == 60698624);
  CHECK(r.values.at("mpc_rounds") == 196);
  CHECK(r.values.at("mpc_latency_s") == Approx(196 * 1e-4 + 60698624.0 * 8 / 1e9));
  // seq defaults to the evaluation context's.
  EvalContext ctx;
  ctx.seq = 64;
  CHECK(
      reg.create("mpc")->evaluate(vit_layer(1, 256, 4, 512, "relu"), ctx).values.at("mpc_bytes") ==
      46084096);
  CHECK_THROWS_WITH(reg.create("mpc:network=moon"), Catch::Contains("valid: lan, wan"));
  CHECK_THROWS_WITH(reg.create("mpc:scope=all"), Catch::Contains("is not one of encoder, model"));
  const auto specs = e->provides();
  REQUIRE(specs.size() == 3);
  CHECK(specs[0].name == "mpc_bytes");
  CHECK(specs[2].unit == "s");
}
