#include "evaluators/table.hpp"

#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"

using namespace flexnas;

namespace {
std::string write_tmp(const std::string& name, const std::string& text) {
  const auto path = std::string("/tmp/flexnas_table_test_") + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("table_looks_up_by_graph_so_head_order_does_not_matter", "[table]") {
  const auto f = write_tmp(
      "a.jsonl",
      R"({"model":{"l":1,"o":[["sa_sdp_64","l_dft_64"]],"h":[128],"f":[[512]]},"acc":0.75})"
      "\n\n"
      R"({"model":{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512]],"p":["sdp"]},"acc":0.5})"
      "\n");
  EvaluatorRegistry r;
  register_builtins(r);
  auto e = r.create("table:file=" + f + ",metric=acc");
  auto a =
      architecture_from_string(R"({"l":1,"o":[["l_dft_64","sa_sdp_64"]],"h":[128],"f":[[512]]})");
  auto res = e->evaluate(a, {});
  REQUIRE(res.status == EvalStatus::kOk);
  CHECK(res.values.at("acc") == 0.75);
  auto missing = e->evaluate(
      architecture_from_string(R"({"l":1,"o":["l"],"h":[128],"n":[2],"f":[[512]],"p":["dct"]})"),
      {});
  CHECK(missing.status == EvalStatus::kFailed);
  CHECK(missing.message.find("not in table") != std::string::npos);
}

TEST_CASE("table_reads_csv_with_quoted_model_column", "[table]") {
  const auto f = write_tmp("b.csv",
                           "model,acc\n"
                           "\"{\"\"l\"\":1,\"\"o\"\":[\"\"sa\"\"],\"\"h\"\":[128],\"\"n\"\":[2],"
                           "\"\"f\"\":[[512]],\"\"p\"\":[\"\"wma\"\"]}\",0.625\n");
  EvaluatorRegistry r;
  register_builtins(r);
  auto e = r.create("table:file=" + f + ",metric=acc");
  auto res = e->evaluate(
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512]],"p":["wma"]})"),
      {});
  REQUIRE(res.status == EvalStatus::kOk);
  CHECK(res.values.at("acc") == 0.625);
}

TEST_CASE("table_bad_files_name_the_line", "[table]") {
  EvaluatorRegistry r;
  register_builtins(r);
  const auto f = write_tmp("c.jsonl", "{\"model\":{\"l\":1},\"acc\":1}\n");
  CHECK_THROWS_WITH(r.create("table:file=" + f + ",metric=acc"), Catch::Contains(":1:"));
  CHECK_THROWS_AS(r.create("table:file=/no/such/file,metric=acc"), InputError);
  CHECK_THROWS_WITH(r.create("table:file=" + f), Catch::Contains("metric"));
}
