#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "tests/evaluators/custom_test_util.hpp"

using namespace flexnas;

namespace {

std::unique_ptr<Evaluator> make(const std::string& spec) {
  EvaluatorRegistry r;
  register_builtins(r);
  return r.create(spec);
}

}  // namespace

TEST_CASE("plugin_energy_example_matches_a_hand_count", "[plugin]") {
  auto e = make(std::string("plugin:path=") + FLEXNAS_ENERGY_PLUGIN);
  REQUIRE(e->provides().size() == 2);
  CHECK(e->provides()[0].name == "energy_mj");
  CHECK(e->provides()[0].unit == "mJ");
  // One sdp layer, h = 64, one head, FF [128], L = 4:
  // q, k, v 3*4*64*64 = 49,152; scores and weighted sum 2*4*4*64 = 2,048; output 4*64*64 =
  // 16,384; FF 4*(64*128 + 128*64) = 65,536 -> 133,120 MACs. Weights 3*64*64 + 64*64 +
  // 2*64*128 = 32,768. Energy (133,120 * 4.6 + 32,768 * 640) pJ = 21,583,872 pJ.
  EvalContext ctx;
  ctx.seq = 4;
  const auto a =
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[64],"n":[1],"f":[[128]],"p":["sdp"]})");
  const auto r = e->evaluate(a, ctx);
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("macs") == 133120);
  CHECK(r.values.at("energy_mj") == Approx(0.021583872).epsilon(1e-12));
  // config= reaches the plugin: no DRAM term.
  auto e0 = make(std::string("plugin:path=") + FLEXNAS_ENERGY_PLUGIN + R"(,config={"dram_pj": 0})");
  CHECK(e0->evaluate(a, ctx).values.at("energy_mj") == Approx(133120 * 4.6e-9));
  CHECK_THROWS_WITH(make(std::string("plugin:path=") + FLEXNAS_ENERGY_PLUGIN + ",config=[oops"),
                    Catch::Contains("flexnas_plugin_create failed: config is not"));
  // The hetero form gives the same count as the standard form it equals.
  const auto h = architecture_from_string(R"({"l":1,"o":[["sa_sdp_64"]],"h":[64],"f":[[128]]})");
  CHECK(e->evaluate(h, ctx).values.at("macs") == 133120);
}

TEST_CASE("plugin_protocol_status_codes_and_buffer_retry", "[plugin]") {
  auto e = make(std::string("plugin:path=") + FLEXNAS_TEST_PLUGIN);
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})");
  EvalContext ctx;
  ctx.seed = 77;
  // The fixture asks for >= 100,000 bytes, more than the first buffer: flexnas retries.
  const auto r = e->evaluate(a, ctx);
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("chars") == static_cast<double>(to_string(a).size()));
  CHECK(r.values.at("seed") == 77);
  const auto c =
      architecture_from_string(R"({"l":1,"o":["c"],"h":[128],"n":[2],"f":[[512]],"p":["5"]})");
  const auto f = e->evaluate(c, ctx);
  CHECK(f.status == EvalStatus::kFailed);
  CHECK(f.message == "convolutions are not supported");
  CHECK_THROWS_WITH(make(std::string("plugin:path=") + FLEXNAS_TEST_PLUGIN + ",config=refuse"),
                    Catch::Contains("flexnas_plugin_create failed: config says refuse"));
}

TEST_CASE("plugin_load_errors_name_the_file_and_the_problem", "[plugin]") {
  const std::string bad = FLEXNAS_TEST_PLUGIN_BAD_ABI;
  CHECK_THROWS_WITH(make("plugin:path=" + bad),
                    "plugin " + bad +
                        ": plugin ABI version 2, this flexnas loads version 1 (rebuild it against "
                        "include/flexnas/plugin.h)");
  const std::string noeval = FLEXNAS_TEST_PLUGIN_NO_EVALUATE;
  CHECK_THROWS_WITH(
      make("plugin:path=" + noeval),
      Catch::StartsWith("plugin " + noeval + ": missing symbol flexnas_plugin_evaluate"));
  CHECK_THROWS_WITH(make("plugin:path=/nonexistent/libx.so"),
                    "plugin /nonexistent/libx.so: no such file");
  test::TempDir dir;
  const auto text = dir.write("libfake.so", "not an ELF file\n");
  CHECK_THROWS_WITH(make("plugin:path=" + text),
                    Catch::StartsWith("plugin " + text + ": cannot load: "));
  CHECK_THROWS_WITH(make("plugin:path=" + dir.path()), Catch::Contains("not a regular file"));
  CHECK_THROWS_WITH(make("plugin"), Catch::Contains("path=FILE.so is required"));
  CHECK_THROWS_AS(make("plugin:path=" + bad), InputError);
}

TEST_CASE("plugin_instances_are_independent", "[plugin]") {
  // Two instances of the same library (one per worker) and destruction in any order.
  auto a = make(std::string("plugin:path=") + FLEXNAS_ENERGY_PLUGIN);
  auto b = make(std::string("plugin:path=") + FLEXNAS_ENERGY_PLUGIN +
                R"(,config={"mac_pj": 1, "dram_pj": 0})");
  const auto m =
      architecture_from_string(R"({"l":1,"o":["l"],"h":[64],"n":[2],"f":[[128]],"p":["dft"]})");
  const auto ra = a->evaluate(m, {}), rb = b->evaluate(m, {});
  a.reset();
  CHECK(rb.values.at("energy_mj") == Approx(rb.values.at("macs") * 1e-9));
  CHECK(ra.values.at("energy_mj") > rb.values.at("energy_mj"));
  CHECK(b->evaluate(m, {}).values == rb.values);
}
