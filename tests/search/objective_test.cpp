#include "search/objective.hpp"

#include <random>

#include <catch2/catch.hpp>

#include "search/storage.hpp"

#include "core/error.hpp"

using namespace flexnas;

TEST_CASE("objective_parse_and_errors", "[objective]") {
  CHECK(Objective::parse("accuracy:max").direction == Direction::kMaximize);
  CHECK(Objective::parse("params:min").str() == "params:min");
  CHECK_THROWS_AS(Objective::parse("accuracy"), InputError);
  CHECK_THROWS_WITH(Objective::parse("accuracy:up"), Catch::Contains("up"));
  const auto c = Constraint::parse("latency_ms<=20");
  CHECK(c.upper);
  CHECK(c.violation({{"latency_ms", 25}}) == 5);
  CHECK(c.violation({{"latency_ms", 15}}) == 0);
  CHECK(Constraint::parse("acc>=0.5").violation({{"acc", 0.25}}) == 0.25);
  CHECK_THROWS_AS(Constraint::parse("x<=abc"), InputError);
  CHECK(Constraint::parse(c.str()).bound == 20);
}

TEST_CASE("objective_hypervolume_known_values", "[objective]") {
  // Staircase (1,3), (2,2), (3,1) under reference (4,4): 3 + 2 + 1 = 6.
  CHECK(hypervolume({{1, 3}, {2, 2}, {3, 1}}, {4, 4}) == Approx(6));
  // A dominated point adds nothing; a point beyond the reference is ignored.
  CHECK(hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}, {5, 0}}, {4, 4}) == Approx(6));
  CHECK(hypervolume({{1, 1, 1}}, {2, 2, 2}) == Approx(1));
  // Two boxes in 3-D: 1x1x2 and 2x2x1 overlapping in 1x1x1 -> 2 + 4 - 1 = 5.
  CHECK(hypervolume({{1, 1, 0}, {0, 0, 1}}, {2, 2, 2}) == Approx(5));
}

TEST_CASE("objective_fronts_and_constrained_domination", "[objective]") {
  const std::vector<std::vector<double>> p{{1, 3}, {2, 2}, {3, 1}, {3, 3}, {0, 0}};
  const auto f = nondominated_fronts(p, {0, 0, 0, 0, 1});  // the last one is infeasible
  CHECK(f == std::vector<int>{0, 0, 0, 1, 2});
  const auto cd = crowding_distance(p, {0, 1, 2});
  CHECK(std::isinf(cd[0]));
  CHECK(std::isinf(cd[2]));
  CHECK(cd[1] == Approx(2.0));
  CHECK(constrained_dominates({5, 5}, 0, {0, 0}, 1));
  CHECK(constrained_dominates({5, 5}, 0.5, {0, 0}, 1));
}

TEST_CASE("pareto_set_matches_the_first_front_of_nondominated_sorting", "[objective]") {
  // Random trials with ties, infeasible ones and failed ones: the one-pass Pareto set must
  // equal front 0 of the full sort, in id order.
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> v(0, 6);
  const std::vector<Objective> objs{Objective::parse("a:min"), Objective::parse("b:max")};
  const std::vector<Constraint> cons{Constraint::parse("c<=3")};
  for (int round = 0; round < 20; ++round) {
    std::vector<Trial> trials;
    std::vector<std::vector<double>> pts;
    std::vector<double> viol;
    std::vector<std::int64_t> ok_ids;
    for (int i = 0; i < 60; ++i) {
      Trial t;
      t.id = i;
      t.state = v(rng) == 0 ? TrialState::kFailed : TrialState::kOk;
      t.values = {{"a", v(rng)}, {"b", v(rng)}, {"c", round % 2 ? v(rng) : 9}};
      if (t.ok()) {
        pts.push_back(to_minimise(t.values, objs));
        viol.push_back(total_violation(t.values, cons));
        ok_ids.push_back(t.id);
      }
      trials.push_back(t);
    }
    const auto fronts = nondominated_fronts(pts, viol);
    std::vector<std::int64_t> want, got;
    for (std::size_t i = 0; i < fronts.size(); ++i)
      if (fronts[i] == 0) want.push_back(ok_ids[i]);
    for (const auto& t : pareto_set(trials, objs, cons)) got.push_back(t.id);
    CHECK(got == want);
  }
}

TEST_CASE("trial_json_carries_feasible_and_violations", "[objective]") {
  Trial t;
  t.id = 3;
  t.arch =
      architecture_from_string(R"({"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512]],"p":["sdp"]})");
  t.state = TrialState::kOk;
  t.values = {{"latency_ms", 25}, {"acc", 0.9}};
  const std::vector<Constraint> cons{Constraint::parse("latency_ms<=20"),
                                     Constraint::parse("acc>=0.5")};
  auto j = Study::trial_json(t, cons);
  CHECK(j["feasible"] == false);
  CHECK(j["violations"]["latency_ms<=20"] == 5.0);
  CHECK(j["violations"]["acc>=0.5"] == 0.0);
  t.values["latency_ms"] = 10;
  CHECK(Study::trial_json(t, cons)["feasible"] == true);
  t.state = TrialState::kFailed;  // a failed trial is never feasible
  CHECK(Study::trial_json(t, cons)["feasible"] == false);
  CHECK(Study::trial_json(t)["violations"].empty());
}
