#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "space/design_space.hpp"
#include "tests/evaluators/custom_test_util.hpp"

using namespace flexnas;

namespace {

std::unique_ptr<Evaluator> make(const std::string& spec) {
  EvaluatorRegistry r;
  register_builtins(r);
  return r.create(spec);
}

const char* kTable = R"(device: test
values:
  - {name: ms, unit: ms, direction: min}
  - {name: mj, unit: mJ}
entries:
  - {op: sa/sdp, hidden: 256, heads: 4, ms: 1.0, mj: 10}
  - {op: sa/sdp, hidden: 256, heads: 4, seq: 64, ms: 0.5, mj: 5}
  - {op: l/dct, hidden: 128, ms: 0.3, mj: 3}
  - {op: sa/sdp, hidden: 64, heads: 2, ms: 0.4, mj: 4}
  - {op: l/dft, hidden: 64, heads: 2, ms: 0.2, mj: 2}
  - {op: ff, in: 256, out: 1024, ms: 0.5, mj: 5}
  - {op: ff, in: 1024, out: 256, ms: 0.25, mj: 2.5}
  - {op: ff, in: 128, out: 512, ms: 0.2, mj: 2}
  - {op: ff, in: 512, out: 512, ms: 0.15, mj: 1.5}
  - {op: ff, in: 512, out: 128, ms: 0.1, mj: 1}
  - {op: ff, in: 64, out: 64, ms: 0.05, mj: 0.5}
  - {op: norm/layernorm, hidden: 256, ms: 0.01, mj: 0.1}
  - {op: norm/layernorm, hidden: 128, ms: 0.005, mj: 0.05}
  - {op: norm/rmsnorm, hidden: 64, ms: 0.002, mj: 0.02}
  - {op: projection, in: 256, out: 128, ms: 0.125, mj: 1.25}
)";

}  // namespace

TEST_CASE("lut_sums_a_two_layer_model_by_hand", "[lut]") {
  test::TempDir dir;
  auto e = make("lut:file=" + dir.write("dev.yaml", kTable));
  REQUIRE(e->provides().size() == 2);
  CHECK(e->provides()[1].name == "mj");
  CHECK(e->provides()[1].direction == Direction::kMinimize);
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","l"],"h":[256,128],"n":[4,2],"f":[[1024],[512,512]],"p":["sdp","dct"]})");
  // Layer 0: sdp 1.0 + ff 0.5 + 0.25 + 2 norms 0.02 + projection 0.125 = 1.895.
  // Layer 1: dct (any heads) 0.3 + ff 0.2 + 0.15 + 0.1 + 2 norms 0.01 = 0.76.
  const auto r = e->evaluate(a, {});
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("ms") == Approx(1.895 + 0.76));
  CHECK(r.values.at("mj") == Approx(18.95 + 7.6));
  // seq 64 has its own sdp entry (0.5 instead of 1.0); the rest falls back to any seq.
  EvalContext ctx;
  ctx.seq = 64;
  CHECK(e->evaluate(a, ctx).values.at("ms") == Approx(1.895 + 0.76 - 0.5));
  // The evaluator's seq= option wins over the context.
  auto e64 = make("lut:file=" + dir.path() + "/dev.yaml,seq=64");
  CHECK(e64->evaluate(a, {}).values.at("ms") == Approx(1.895 + 0.76 - 0.5));
}

TEST_CASE("lut_mixed_heads_peri_and_missing_entries", "[lut]") {
  test::TempDir dir;
  auto e = make("lut:file=" + dir.write("dev.yaml", kTable));
  // Half the heads sdp, half dft: 0.5 * 0.4 + 0.5 * 0.2; ff 64->64 twice; RMSNorm peri: 4 norms.
  const auto h = architecture_from_string(
      R"({"l":1,"o":[["sa_sdp_32","l_dft_32"]],"h":[64],"f":[[64]],"norm":["rmsnorm"],"norm_placement":["peri"]})");
  const auto r = e->evaluate(h, {});
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("ms") == Approx(0.3 + 0.1 + 4 * 0.002));
  // No norm at all: no norm entry needed.
  const auto none = architecture_from_string(
      R"({"l":1,"o":[["sa_sdp_32","l_dft_32"]],"h":[64],"f":[[64]],"norm":["none"]})");
  CHECK(e->evaluate(none, {}).values.at("ms") == Approx(0.4));
  const auto miss =
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[256],"n":[2],"f":[[1024]],"p":["sdp"]})");
  const auto f = e->evaluate(miss, {});
  CHECK(f.status == EvalStatus::kFailed);
  CHECK(f.message ==
        "no entry for sa/sdp hidden=256 heads=2 seq=128 (layer 1) in " + dir.path() + "/dev.yaml");
}

TEST_CASE("lut_head_size_floor_entries", "[lut]") {
  // FlexiBERT 2.0: 3 heads in a layer of 64 have 64 // 3 = 21 dimensions; an entry keyed
  // (hidden 64, heads 3) is that layer's mixing sublayer, as for heads that divide hidden.
  test::TempDir dir;
  auto e = make("lut:file=" + dir.write("dev.yaml", R"(values:
  - {name: ms, unit: ms}
entries:
  - {op: sa/sdp, hidden: 64, heads: 3, ms: 0.6}
  - {op: c/5, hidden: 64, heads: 3, ms: 0.3}
  - {op: ff, in: 64, out: 64, ms: 0.05}
  - {op: norm/layernorm, hidden: 64, ms: 0.002}
)"));
  const auto a = architecture_from_string(
      R"({"l":1,"o":[["sa_sdp_21","sa_sdp_21","c_5_21"]],"h":[64],"f":[[64]]})");
  const auto r = e->evaluate(a, {});
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("ms") == Approx(2.0 / 3 * 0.6 + 1.0 / 3 * 0.3 + 2 * 0.05 + 2 * 0.002));
}

TEST_CASE("lut_malformed_tables_name_file_line_and_key", "[lut]") {
  test::TempDir dir;
  auto err = [&](const std::string& text) {
    const auto f = dir.write("bad.yaml", text);
    try {
      make("lut:file=" + f);
    } catch (const InputError& e) {
      std::string m = e.what();
      const auto p = m.find(f);
      return p == std::string::npos ? "(file not named) " + m : m.substr(p + f.size());
    }
    return std::string("no error");
  };
  const std::string head = "values:\n  - {name: ms, unit: ms}\nentries:\n";
  CHECK(err(head + "  - {op: sa/sdp, hiden: 128, ms: 1}\n") ==
        ":4: sa/sdp: hiden: unknown key (known: heads, hidden, seq, ms)");
  CHECK(err(head + "  - {op: sa/xyz, hidden: 128, ms: 1}\n") ==
        ":4: op 'sa/xyz' is not one of sa/sdp, sa/wma, l/dft, l/dct, c/K, ff, projection, "
        "norm/layernorm, "
        "norm/rmsnorm");
  CHECK(err(head + "  - {op: ff, in: 128, ms: 1}\n") == ":4: ff: out is required");
  CHECK(err(head + "  - {op: ff, in: 128, out: 512}\n") == ":4: ff: value ms is missing");
  CHECK(err(head + "  - {op: ff, in: 128, out: 512, ms: fast}\n") ==
        ":4: ff: ms: 'fast' is not a finite number");
  CHECK(err(head + "  - {op: ff, in: -1, out: 512, ms: 1}\n") ==
        ":4: in: '-1' is out of range (an integer >= 1)");
  CHECK(err(head + "  - {op: ff, in: 0x80, out: 512, ms: 1}\n") ==
        ":4: in: '0x80' is not an integer >= 1");
  CHECK(err(head + "  - {op: ff, in: 4294967424, out: 512, ms: 1}\n") ==
        ":4: in: '4294967424' is out of range (an integer >= 1)");
  CHECK(err(head + "  - {op: ff, in: 128, out: 512, ms: 1e400}\n") ==
        ":4: ff: ms: '1e400' is not a finite number");
  CHECK(err(head + "  - {op: c/5, hidden: 128, heads: 3, ms: 1}\n") == "no error");
  // A map as a key (found by fuzz_lut_yaml): a yaml-cpp conversion error, bad input.
  CHECK(err("values:\n  - {{a: 1}: ms}\nentries: []\n") == ":2: bad conversion");
  CHECK(err(head + "  - {op: ff, in: 1, out: 2, ms: 1, {x: 1}: 2}\n") == ":4: bad conversion");
  CHECK(err(head + "  - {op: c/5, hidden: 4, heads: 5, ms: 1}\n") ==
        ":4: c/5: heads=5 exceed hidden=4 (each head needs at least one dimension)");
  CHECK(err(head + "  - {op: ff, in: 1, out: 2, ms: 1}\n  - {op: ff, in: 1, out: 2, ms: 2}\n") ==
        ":5: duplicate entry ff in=1 out=2 (first at line 4)");
  CHECK_THAT(err("values: [{name: ms}\nentries: [\n"),
             Catch::StartsWith(":2: malformed YAML: end of sequence flow not found"));
  CHECK(err("valuez: []\n") ==
        ":1: valuez: unknown key (known: device, description, values, entries)");
  CHECK(err("entries: []\n") == ": values: a list of {name, unit, direction} is required");
  CHECK(err("values:\n  - {name: ms, direction: down}\nentries: []\n") ==
        ":2: values: direction 'down' is not min or max");
  CHECK(err(head) == ": entries: a list of {op: ..., ...} is required");
  CHECK(err("values:\n  - {name: heads}\nentries: []\n") ==
        ":2: values: 'heads' is a shape key, not a value name");
  CHECK_THROWS_WITH(make("lut:file=/nonexistent.yaml"),
                    Catch::Contains("cannot read '/nonexistent.yaml'"));
  CHECK_THROWS_WITH(make("lut"), Catch::Contains("file=FILE.yaml is required"));
}

TEST_CASE("lut_example_table_covers_the_flexibert_test_space", "[lut]") {
  auto e = make(std::string("lut:file=") + FLEXNAS_SOURCE_DIR + "/data/examples/device-lut.yaml");
  const auto space = DesignSpace::load("flexibert-test");
  const auto layers = space.all_layers(100000);
  REQUIRE(layers.size() == 96);  // 2 hidden x 2 heads x 6 ops x (2 depths x 2 widths)
  // Every pair of layer configurations: every mixing, ff, norm and projection entry needed.
  std::size_t ok = 0, n = 0;
  for (const auto& a : layers)
    for (const auto& b : layers) {
      Architecture m;
      m.layers = {a, b};
      const auto r = e->evaluate(m, {});
      ok += r.status == EvalStatus::kOk && r.values.at("latency_ms") > 0;
      ++n;
    }
  CHECK(ok == n);
}
