// flexnas::train::Model: finite-difference gradient checks of every head family, attention
// kernel, activation, norm kind and placement, projection and head type; determinism;
// checkpoints; transfer; the ONNX export's weight hook.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/train/model.hpp"
#include "space/export.hpp"
#include "space/model_stats.hpp"
#include "tests/test_layers.hpp"

using namespace flexnas;
using namespace flexnas::train;

namespace {

Head sa(const std::string& p = "sdp") {
  return {Family::kSa, p};
}
Head lin(const std::string& p) {
  return {Family::kL, p};
}
Head conv(int k) {
  return {Family::kC, std::to_string(k)};
}

using test::make_layer;

ModelConfig small_config(int seq = 7, bool token_level = false, float dropout = 0.f) {
  ModelConfig c;
  c.vocab = 13;
  c.max_positions = 10;
  c.seq = seq;
  c.num_classes = 4;
  c.token_level = token_level;
  c.dropout = dropout;
  c.threads = 1;
  return c;
}

Batch random_batch(const ModelConfig& c, int B, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.batch = B;
  b.seq = c.seq;
  for (int i = 0; i < B * c.seq; ++i)
    b.tokens.push_back(static_cast<std::int32_t>(rng() % static_cast<unsigned>(c.vocab)));
  const int rows = c.token_level ? B * c.seq : B;
  for (int i = 0; i < rows; ++i) {
    int t = static_cast<int>(rng() % static_cast<unsigned>(c.num_classes));
    if (c.token_level && i % 3 == 1) t = -1;  // unscored
    b.targets.push_back(t);
  }
  return b;
}

// Larger random weights than the 0.02 init, so that every path carries a visible gradient.
void randomize(Model& m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Param* p : m.params()) {
    const bool gain = p->value.size() > 0 && (p->value.array() == 1.f).all();
    const bool bias = !gain && (p->value.array() == 0.f).all();
    for (Eigen::Index i = 0; i < p->value.size(); ++i) {
      const float z = nd(rng);
      p->value.data()[i] = gain ? 1.f + 0.2f * z : bias ? 0.2f * z : 0.4f * z;
    }
  }
}

void zero_grads(Model& m) {
  for (Param* p : m.params()) p->grad.setZero();
}

// Central differences on several random coordinates of every Param, and along the gradient
// direction of each Param, against the analytic gradient.
void grad_check(const Architecture& a, const ModelConfig& c, std::uint64_t seed = 7) {
  Model m(a, c, seed);
  randomize(m, seed + 1);
  const Batch b = random_batch(c, 2, seed + 2);
  const std::uint64_t step_seed = 99;
  zero_grads(m);
  m.step(b, true, step_seed);
  std::vector<Mat> g;
  for (Param* p : m.params()) g.push_back(p->grad);
  auto loss = [&]() {
    zero_grads(m);
    return m.step(b, true, step_seed).loss;
  };
  std::mt19937_64 rng(seed + 3);
  const float eps = 2e-3f;
  auto params = m.params();
  for (std::size_t pi = 0; pi < params.size(); ++pi) {
    Param* p = params[pi];
    const Mat& gp = g[pi];
    float* v = p->value.data();
    const Eigen::Index n = p->value.size();
    // Coordinates: 4 random ones plus the one of largest |gradient|.
    std::vector<Eigen::Index> idx;
    Eigen::Index top = 0;
    for (Eigen::Index i = 0; i < n; ++i)
      if (std::abs(gp.data()[i]) > std::abs(gp.data()[top])) top = i;
    idx.push_back(top);
    for (int k = 0; k < 4; ++k)
      idx.push_back(static_cast<Eigen::Index>(rng() % static_cast<std::uint64_t>(n)));
    double num = 0, den = 0;
    for (auto i : idx) {
      const float old = v[i];
      v[i] = old + eps;
      const double up = loss();
      v[i] = old - eps;
      const double down = loss();
      v[i] = old;
      const double fd = (up - down) / (2.0 * static_cast<double>(eps));
      const double an = gp.data()[i];
      num += (fd - an) * (fd - an);
      den += an * an;
    }
    // Along the gradient: L(w + e u) - L(w - e u), u = g / |g|, with a step small enough to
    // cross few ReLU kinks.
    const double gn = gp.norm();
    const float e = 2e-4f;
    double dir_fd = 0;
    if (gn > 0) {
      Mat old = p->value;
      p->value = old + (e / static_cast<float>(gn)) * gp;
      const double up = loss();
      p->value = old - (e / static_cast<float>(gn)) * gp;
      const double down = loss();
      p->value = old;
      dir_fd = (up - down) / (2.0 * static_cast<double>(e));
    }
    INFO(p->name << ": coordinate error " << std::sqrt(num) << " of |g| " << std::sqrt(den)
                 << "; along g: fd " << dir_fd << " analytic " << gn);
    CHECK(gn > 1e-6);  // every parameter takes part
    CHECK(std::sqrt(num) <= 2e-2 * std::sqrt(den) + 2e-4);
    CHECK(std::abs(dir_fd - gn) <= 1e-2 * gn + 2e-4);
  }
}

Architecture arch(std::vector<Layer> ls) {
  Architecture a;
  a.layers = std::move(ls);
  return a;
}

}  // namespace

TEST_CASE("gradients: embeddings, sdp attention, pooled head", "[train]") {
  grad_check(arch({make_layer(8, {sa(), sa()})}), small_config());
}

TEST_CASE("gradients: every attention kernel, sdp and wma", "[train]") {
  for (auto k : {AttnKernel::kSoftmax, AttnKernel::kRelu, AttnKernel::kQuad, AttnKernel::kScale}) {
    INFO("kernel " << to_string(k));
    grad_check(arch({make_layer(8, {sa("sdp"), sa("wma")}, {12}, k)}), small_config(6));
  }
}

TEST_CASE("gradients: linear (dft, dct) and convolution heads", "[train]") {
  grad_check(arch({make_layer(8, {lin("dct"), lin("dft")})}), small_config(7));
  grad_check(arch({make_layer(12, {conv(3), conv(5)})}), small_config(8));
}

TEST_CASE("gradients: heterogeneous heads in one layer", "[train]") {
  grad_check(arch({make_layer(16, {sa("sdp"), sa("wma"), lin("dft"), conv(3)}, {20, 8},
                              AttnKernel::kQuad)}),
             small_config(8));
}

TEST_CASE("gradients: head counts that do not divide h (heads of h // n), every operation",
          "[train]") {
  // h 10, n 3: heads of 3, concatenated 9 wide; h 10, n 4: heads of 2, 8 wide; h 11, n 4: heads
  // of 2, then a projection to h 7, n 3. The output projection maps the n * d concatenation
  // back to h. (The along-the-gradient check is at float32 noise for small gradients such as a
  // wma weight's; these seeds and kernels keep it clear of that.)
  grad_check(arch({make_layer(10, {sa("sdp"), sa("wma"), lin("dft")}),
                   make_layer(10, {lin("dct"), conv(3), sa("wma"), sa()}, {12})}),
             small_config(7));
  grad_check(
      arch({make_layer(11, {conv(5), lin("dct"), sa("sdp"), lin("dft")}, {8}, AttnKernel::kRelu,
                       Activation::kGelu, NormKind::kRmsNorm, NormPlacement::kPeri),
            make_layer(7, {sa("wma"), sa(), conv(3)}, {9}, AttnKernel::kSoftmax, Activation::kGelu,
                       NormKind::kLayerNorm, NormPlacement::kPre)}),
      small_config(6, true));
}

TEST_CASE("gradients: every activation", "[train]") {
  for (auto act : {Activation::kGelu, Activation::kRelu, Activation::kQuad}) {
    INFO("activation " << to_string(act));
    grad_check(arch({make_layer(8, {sa()}, {10, 6}, AttnKernel::kSoftmax, act)}), small_config(6));
  }
}

TEST_CASE("gradients: every norm kind and placement", "[train]") {
  for (auto n : {NormKind::kLayerNorm, NormKind::kRmsNorm, NormKind::kNone})
    for (auto p : {NormPlacement::kPost, NormPlacement::kPre, NormPlacement::kPeri}) {
      INFO("norm " << to_string(n) << " at " << to_string(p));
      grad_check(arch({make_layer(8, {sa(), conv(3)}, {12}, AttnKernel::kSoftmax, Activation::kGelu,
                                  n, p)}),
                 small_config(6));
    }
}

TEST_CASE("gradients: width-changing projections, token-level head, dropout", "[train]") {
  const auto a = arch({make_layer(8, {sa(), lin("dct")}), make_layer(12, {sa("wma"), conv(5)}),
                       make_layer(8, {sa()}, {8}, AttnKernel::kRelu, Activation::kRelu,
                                  NormKind::kRmsNorm, NormPlacement::kPre)});
  SECTION("pooled") {
    grad_check(a, small_config(7));
  }
  SECTION("token level") {
    grad_check(a, small_config(7, true));
  }
  SECTION("dropout")
  grad_check(arch({make_layer(8, {sa(), lin("dft")}, {12}, AttnKernel::kSoftmax, Activation::kGelu,
                              NormKind::kLayerNorm, NormPlacement::kPeri)}),
             small_config(6, false, 0.3f));
}

namespace {
// Three plain SGD steps; returns the losses.
std::vector<double> train_a_little(Model& m, const ModelConfig& c) {
  std::vector<double> losses;
  for (int s = 0; s < 3; ++s) {
    zero_grads(m);
    losses.push_back(m.step(random_batch(c, 3, 100 + static_cast<std::uint64_t>(s)), true,
                            static_cast<std::uint64_t>(s))
                         .loss);
    for (Param* p : m.params()) p->value -= 0.1f * p->grad;
  }
  return losses;
}
}  // namespace

TEST_CASE("one thread: the same seed gives bit-identical losses and weights", "[train]") {
  const auto a =
      arch({make_layer(16, {sa(), sa("wma"), lin("dft"), conv(3)}), make_layer(8, {sa()})});
  const auto c = small_config(8, false, 0.1f);
  Model m1(a, c, 5), m2(a, c, 5);
  const auto l1 = train_a_little(m1, c);
  const auto l2 = train_a_little(m2, c);
  CHECK(l1 == l2);
  auto p1 = m1.params(), p2 = m2.params();
  REQUIRE(p1.size() == p2.size());
  for (std::size_t i = 0; i < p1.size(); ++i) {
    INFO(p1[i]->name);
    CHECK(p1[i]->value == p2[i]->value);
  }
  CHECK(l1.back() != l1.front());
  Model m3(a, c, 6);
  CHECK(train_a_little(m3, c) != l1);
}

TEST_CASE("inference: no dropout, the logits do not depend on the seed", "[train]") {
  const auto a = arch({make_layer(8, {sa(), conv(3)})});
  const auto c = small_config(6, false, 0.5f);
  Model m(a, c, 1);
  const auto b = random_batch(c, 2, 3);
  m.step(b, false, 1);
  const Mat l1 = m.logits();
  m.step(b, false, 2);
  CHECK(m.logits() == l1);
  m.step(b, true, 1);
  CHECK(m.logits() != l1);
}

TEST_CASE("checkpoints: save and load round trip; a wrong file is an InputError", "[train]") {
  const auto a = arch({make_layer(8, {sa(), lin("dct")}), make_layer(12, {conv(3)})});
  const auto c = small_config();
  Model m(a, c, 3);
  randomize(m, 4);
  const auto path = std::filesystem::temp_directory_path() / "flexnas_model_test.ckpt";
  m.save(path.string());
  Model m2(a, c, 9);
  m2.load(path.string());
  auto p1 = m.params(), p2 = m2.params();
  for (std::size_t i = 0; i < p1.size(); ++i) CHECK(p1[i]->value == p2[i]->value);
  const auto b = random_batch(c, 2, 1);
  CHECK(m.step(b, false, 0).loss == m2.step(b, false, 0).loss);

  Model other(arch({make_layer(8, {sa()})}), c, 3);
  CHECK_THROWS_AS(other.load(path.string()), InputError);
  const auto junk = std::filesystem::temp_directory_path() / "flexnas_model_test.junk";
  std::ofstream(junk) << "not a checkpoint";
  CHECK_THROWS_AS(m.load(junk.string()), InputError);
  CHECK_THROWS_AS(m.load((std::filesystem::temp_directory_path() / "no_such.ckpt").string()),
                  InputError);
  std::filesystem::remove(path);
  std::filesystem::remove(junk);
}

TEST_CASE("transfer_from copies the embeddings and the leading identical layers", "[train]") {
  const Layer l0 = make_layer(8, {sa(), lin("dct")});
  const Layer l1 = make_layer(8, {conv(3), sa("wma")});
  const auto c = small_config();
  Model donor(arch({l0, l1, make_layer(8, {sa()})}), c, 1);
  randomize(donor, 2);
  const auto path = std::filesystem::temp_directory_path() / "flexnas_model_donor.ckpt";
  donor.save(path.string());
  Model m(arch({l0, l1, make_layer(8, {sa(), sa()}), make_layer(8, {sa()})}), c, 5);
  Model fresh(arch({l0, l1, make_layer(8, {sa(), sa()}), make_layer(8, {sa()})}), c, 5);
  CHECK(m.transfer_from(path.string()) == 2);
  std::map<std::string, const Param*> d;
  for (Param* p : donor.params()) d[p->name] = p;
  auto fp = fresh.params();
  auto mp = m.params();
  int copied = 0;
  for (std::size_t i = 0; i < mp.size(); ++i) {
    const std::string& n = mp[i]->name;
    const bool expect =
        n.rfind("embeddings.", 0) == 0 || n.rfind("layer0.", 0) == 0 || n.rfind("layer1.", 0) == 0;
    INFO(n);
    if (expect) {
      REQUIRE(d.count(n));
      CHECK(mp[i]->value == d[n]->value);
      ++copied;
    } else {
      CHECK(mp[i]->value == fp[i]->value);
    }
  }
  CHECK(copied > 10);
  Model unrelated(arch({make_layer(8, {conv(5)})}), c, 5);
  CHECK(unrelated.transfer_from(path.string()) == 0);
  std::filesystem::remove(path);
}

TEST_CASE("export_weight serves every learned ONNX initializer", "[train]") {
  const auto a =
      arch({make_layer(16, {sa("sdp"), sa("wma"), lin("dft"), conv(5)}, {20, 8}, AttnKernel::kRelu,
                       Activation::kQuad, NormKind::kLayerNorm, NormPlacement::kPeri),
            make_layer(8, {lin("dct"), sa()}, {12}, AttnKernel::kSoftmax, Activation::kGelu,
                       NormKind::kRmsNorm, NormPlacement::kPre)});
  auto c = small_config(8);
  c.max_positions = 8;
  Model m(a, c, 1);
  randomize(m, 2);
  // Learned tensors the export asks for, counted from docs/export.md's table.
  int expected = 3 + 2 + 4;  // embeddings + norm, pooler, classifier
  // layer0: sa 6 + wma 1, sa 6, dft 2, conv 2 + 2; output 2; peri norms 2 x 2 LN x 2
  // sublayers = 8; ff 3 dense = 6; projection 2
  expected += 7 + 6 + 2 + 4 + 2 + 8 + 6 + 2;
  // layer1: dct 2, sa 6, output 2, pre rms 1 x 2, ff 2 dense = 4
  expected += 2 + 6 + 2 + 2 + 4;
  int calls = 0, served = 0;
  std::vector<std::string> missing;
  ExportOptions opt;
  opt.vocab = c.vocab;
  opt.max_positions = c.max_positions;
  opt.num_labels = c.num_classes;
  opt.seq = c.seq;
  opt.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                    std::vector<float>& out) {
    ++calls;
    const bool ok = m.export_weight(name, dims, out);
    if (ok)
      ++served;
    else
      missing.push_back(name);
    return ok;
  };
  std::int64_t served_values = 0;
  auto hook = opt.weights;
  opt.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                    std::vector<float>& out) {
    const bool ok = hook(name, dims, out);
    if (ok) served_values += static_cast<std::int64_t>(out.size());
    return ok;
  };
  const std::string onnx = to_onnx(a, opt);
  // The pooled model is exactly the exported network: every value is served once.
  CHECK(served_values == m.num_parameters());
  CHECK(!onnx.empty());
  INFO("missing: " << (missing.empty() ? std::string() : missing.front()));
  CHECK(calls == expected);
  CHECK(served == calls);
  // A fused projection slice is the head's own [h, d] weight.
  std::vector<float> q;
  REQUIRE(m.export_weight("layer0.mixing.head1_sa.key.weight", {16, 4}, q));
  const Param* win = nullptr;
  for (Param* p : m.params())
    if (p->name == "layer0.mixing.in_proj.weight") win = p;
  REQUIRE(win);
  CHECK(q[5] == win->value(1, 3 * 4 + 4 + 1));  // head1 starts after head0's q, k, v
  CHECK_THROWS_AS(m.export_weight("classifier.weight", {3, 3}, q), InputError);
  std::vector<float> none;
  CHECK_FALSE(m.export_weight("no.such.weight", {1}, none));
}

TEST_CASE("parameter count: the encoder is model_stats' encoder, every operation and h // n",
          "[train]") {
  // Random architectures: 1-3 layers, hidden 6..24, 1-5 heads of operations drawn from
  // op_table() (n need not divide h), conv kernels 1..7, random ff stacks, norms, placements.
  std::mt19937_64 rng(21);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::set<flexnas::Op> ops_seen;
  int non_dividing = 0;
  for (int t = 0; t < 40; ++t) {
    std::vector<Layer> ls;
    const std::size_t layers = 1 + pick(3);
    for (std::size_t j = 0; j < layers; ++j) {
      const int h = 6 + static_cast<int>(pick(19));
      std::vector<Head> heads;
      for (std::size_t i = 0, n = 1 + pick(5); i < n; ++i) {
        const flexnas::Op op = op_table()[pick(op_table().size())].op;
        heads.emplace_back(op, op == flexnas::Op::kConv ? 1 + 2 * static_cast<int>(pick(4)) : 0);
        ops_seen.insert(op);
      }
      std::vector<int> ff;
      for (std::size_t i = 0, n = 1 + pick(2); i < n; ++i)
        ff.push_back(4 + static_cast<int>(pick(20)));
      ls.push_back(make_layer(h, heads, ff, AttnKernel::kSoftmax, Activation::kGelu,
                              static_cast<NormKind>(pick(3)), static_cast<NormPlacement>(pick(3))));
      if (h % static_cast<int>(heads.size()) != 0) ++non_dividing;
    }
    const auto a = arch(ls);
    const auto c = small_config(7, t % 2 == 1);
    Model m(a, c, 1);
    ModelStatsOptions so;
    so.seq = c.seq;
    so.vocab = c.vocab;
    so.max_positions = c.max_positions;
    so.type_vocab = 2;
    const ModelStats st = model_stats(a, so);
    std::int64_t emb = 0, enc = 0, head = 0;
    for (Param* p : m.params()) {
      const std::string& n = p->name;
      (n.rfind("embeddings.", 0) == 0 ? emb
       : n.rfind("layer", 0) == 0     ? enc
                                      : head) += p->value.size();
      // The mixing output maps the n * (h // n) concatenated heads back to h.
      for (std::size_t j = 0; j < a.layers.size(); ++j)
        if (n == "layer" + std::to_string(j) + ".mixing.output.weight") {
          CHECK(p->value.rows() == a.layers[j].attention_width());
          CHECK(p->value.cols() == a.layers[j].hidden);
        }
    }
    INFO(to_string(a) << (c.token_level ? " token level" : " pooled"));
    CHECK(enc == st.encoder_params);
    CHECK(emb == st.embedding_params);
    // model_stats counts the encoder and embeddings only (it serves any downstream task); the
    // trainer adds its task head: pooler h*h + h and classifier h*C + C, or the token
    // classifier h*C + C alone.
    const std::int64_t hl = a.layers.back().hidden, C = c.num_classes;
    CHECK(head == (c.token_level ? 0 : hl * hl + hl) + hl * C + C);
    CHECK(m.num_parameters() == st.params + head);
  }
  CHECK(ops_seen.size() == op_table().size());
  CHECK(non_dividing >= 10);
}

TEST_CASE("bad batches are InputErrors", "[train]") {
  const auto c = small_config(6);
  Model m(arch({make_layer(8, {sa()})}), c, 1);
  auto b = random_batch(c, 2, 1);
  b.tokens[0] = 99;
  CHECK_THROWS_AS(m.step(b, false, 0), InputError);
  b = random_batch(c, 2, 1);
  b.targets.pop_back();
  CHECK_THROWS_AS(m.step(b, false, 0), InputError);
}

namespace {
// Exports `a` with the weights of a randomized Model and runs the ONNX graph with
// tests/apps/onnx_numpy_eval.py on the batch the Model ran; the logits must agree.
void check_onnx_logits(const Architecture& a) {
  auto c = small_config(8, false, 0.1f);
  Model m(a, c, 1);
  randomize(m, 5);
  const Batch b = random_batch(c, 2, 6);
  m.step(b, false, 0);
  ExportOptions opt;
  opt.vocab = c.vocab;
  opt.max_positions = c.max_positions;
  opt.num_labels = c.num_classes;
  opt.seq = c.seq;
  opt.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                    std::vector<float>& out) { return m.export_weight(name, dims, out); };
  const auto dir = std::filesystem::temp_directory_path() / "flexnas_model_onnx_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "m.onnx", std::ios::binary) << to_onnx(a, opt);
  {
    std::ofstream ids(dir / "ids.txt"), lg(dir / "logits.txt");
    for (auto t : b.tokens) ids << t << ' ';
    lg.precision(9);
    for (Eigen::Index i = 0; i < m.logits().size(); ++i) lg << m.logits().data()[i] << ' ';
  }
  const std::string cmd = "/usr/bin/python3 " FLEXNAS_SOURCE_DIR "/tests/apps/onnx_numpy_eval.py " +
                          (dir / "m.onnx").string() + " " + (dir / "ids.txt").string() + " " +
                          (dir / "logits.txt").string() + " > " + (dir / "log.txt").string() +
                          " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(dir / "log.txt");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  INFO(to_string(a) << "\n" << text);
  CHECK(rc == 0);
  std::filesystem::remove_all(dir);
}
}  // namespace

TEST_CASE("the ONNX export with the model's weights gives the model's logits", "[train]") {
  if (std::system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 with onnx and numpy is not available");
    return;
  }
  // Every family, kernel, activation, norm kind and placement, and a projection.
  check_onnx_logits(
      arch({make_layer(16, {sa("sdp"), sa("wma"), lin("dft"), conv(5)}, {20, 8}, AttnKernel::kRelu,
                       Activation::kQuad, NormKind::kLayerNorm, NormPlacement::kPeri),
            make_layer(8, {lin("dct"), sa(), conv(3), sa("wma")}, {12}, AttnKernel::kQuad,
                       Activation::kRelu, NormKind::kRmsNorm, NormPlacement::kPre),
            make_layer(8, {sa()}, {12}, AttnKernel::kScale, Activation::kGelu, NormKind::kNone,
                       NormPlacement::kPost),
            make_layer(8, {sa()}, {12})}));
  // Heads of h // n where n does not divide h, every operation: h 10 with 3 heads of 3 (9
  // wide), h 11 with 4 heads of 2 (8 wide), h 7 with 3 heads of 2.
  check_onnx_logits(
      arch({make_layer(10, {sa("sdp"), sa("wma"), lin("dft")}),
            make_layer(11, {lin("dct"), conv(3), sa("wma"), conv(5)}, {12}, AttnKernel::kRelu,
                       Activation::kGelu, NormKind::kRmsNorm, NormPlacement::kPeri),
            make_layer(7, {sa(), lin("dft"), sa()}, {9})}));
}

TEST_CASE("two threads give the one-thread gradients up to rounding", "[train]") {
  const auto a =
      arch({make_layer(16, {sa(), sa("wma"), lin("dft"), conv(3)}, {24}, AttnKernel::kSoftmax,
                       Activation::kGelu, NormKind::kLayerNorm, NormPlacement::kPeri),
            make_layer(8, {lin("dct"), conv(5)})});
  auto c1 = small_config(8, true, 0.2f);
  auto c2 = c1;
  c2.threads = 2;
  Model m1(a, c1, 4), m2(a, c2, 4);
  const auto b = random_batch(c1, 4, 2);
  zero_grads(m1);
  zero_grads(m2);
  const double l1 = m1.step(b, true, 3).loss, l2 = m2.step(b, true, 3).loss;
  CHECK(l1 == Approx(l2).epsilon(1e-5));
  auto p1 = m1.params(), p2 = m2.params();
  for (std::size_t i = 0; i < p1.size(); ++i) {
    INFO(p1[i]->name);
    CHECK((p1[i]->grad - p2[i]->grad).norm() <= 1e-4 * p1[i]->grad.norm() + 1e-9);
  }
}

TEST_CASE("Adam learns a toy task: does token 1 occur in the sequence", "[train]") {
  auto c = small_config(6);
  c.vocab = 8;
  c.num_classes = 2;
  Model m(arch({make_layer(16, {sa(), conv(3)}, {32})}), c, 3);
  std::mt19937_64 rng(11);
  auto make = [&](int B) {
    Batch b;
    b.batch = B;
    b.seq = c.seq;
    for (int i = 0; i < B; ++i) {
      const bool has = rng() % 2 == 0;
      for (int t = 0; t < c.seq; ++t) b.tokens.push_back(static_cast<std::int32_t>(2 + rng() % 6));
      if (has)
        b.tokens[static_cast<std::size_t>(i * c.seq) + rng() % static_cast<unsigned>(c.seq)] = 1;
      b.targets.push_back(has ? 1 : 0);
    }
    return b;
  };
  const Batch test = make(256);
  const double before = m.step(test, false, 0).loss;
  std::vector<Mat> mom, var;
  for (Param* p : m.params()) {
    mom.push_back(Mat::Zero(p->value.rows(), p->value.cols()));
    var.push_back(Mat::Zero(p->value.rows(), p->value.cols()));
  }
  for (int s = 1; s <= 150; ++s) {
    zero_grads(m);
    m.step(make(32), true, static_cast<std::uint64_t>(s));
    auto ps = m.params();
    const float c1 = 1.f - std::pow(0.9f, static_cast<float>(s));
    const float c2 = 1.f - std::pow(0.999f, static_cast<float>(s));
    for (std::size_t i = 0; i < ps.size(); ++i) {
      mom[i] = 0.9f * mom[i] + 0.1f * ps[i]->grad;
      var[i] = 0.999f * var[i] + 0.001f * ps[i]->grad.cwiseAbs2();
      ps[i]->value.array() -=
          3e-3f * (mom[i].array() / c1) / ((var[i].array() / c2).sqrt() + 1e-8f);
    }
  }
  const StepResult after = m.step(test, false, 0);
  INFO("loss " << before << " -> " << after.loss << ", accuracy " << after.correct << "/256");
  CHECK(after.loss < 0.5 * before);
  CHECK(after.correct >= 230);
}
