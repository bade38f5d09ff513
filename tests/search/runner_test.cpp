#include "search/runner.hpp"

#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "space/model_stats.hpp"

using namespace flexnas;

namespace {

struct Outcome {
  RunSummary summary;
  std::vector<std::string> hashes;
};

// A random search over the test space scored by parameter count, with the given stop rules.
Outcome run(const std::string& tag, int workers,
            std::vector<std::function<std::string(const RunProgress&)>> stops) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("flexnas_runner_test_" + tag + "_" + std::to_string(workers) + "_" +
                    std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto study = Study::create(dir.string(), nlohmann::json{{"test", tag}});
  SearchDomain domain(DesignSpace::load("flexibert-test"));
  EvaluatorRegistry reg;
  register_builtins(reg);
  EvaluatorSet evaluators(reg, {"params"}, workers);
  PolicyRegistry policies;
  register_builtin_policies(policies);
  const std::vector<Objective> objectives{Objective::parse("params:min")};
  auto policy = policies.create("random", PolicyContext{&domain, objectives, {}, 11});
  RunOptions opt;
  opt.budget = 40;
  opt.batch = 4;
  opt.workers = workers;
  opt.stop_when = std::move(stops);
  Outcome o;
  o.summary = run_search(*study, *policy, domain, evaluators, objectives, {}, opt);
  for (const auto& t : study->trials()) o.hashes.push_back(t.hash);
  study.reset();
  std::filesystem::remove_all(dir);
  return o;
}

}  // namespace

TEST_CASE("runner_stop_rules_end_at_a_batch_boundary_whatever_the_workers", "[runner]") {
  const auto full = run("full", 1, {});
  CHECK(full.summary.stopped_because == "budget");
  CHECK(full.summary.finished == 40);

  // Patience: the run stops once 8 finished trials follow the best one.
  for (int workers : {1, 2}) {
    const auto p = run("patience", workers, {stop_after_patience(8)});
    INFO(p.summary.stopped_because);
    CHECK(p.summary.stopped_because.rfind("no improvement in ", 0) == 0);
    CHECK(p.summary.finished % 4 == 0);
    CHECK(p.summary.finished < 40);
    // The trials are a prefix of the uninterrupted run's.
    CHECK(std::equal(p.hashes.begin(), p.hashes.end(), full.hashes.begin()));
  }

  // Target: no model is that small, so the run spends its budget; every model meets the
  // second bound, so the run ends after the first batch, which finishes whole.
  const auto t1 = run("target", 1, {stop_at_target({Constraint::parse("params<=1")})});
  CHECK(t1.summary.stopped_because == "budget");
  const auto t2 = run("target2", 2, {stop_at_target({Constraint::parse("params<=1e12")})});
  CHECK(t2.summary.stopped_because == "target reached by trial 0");
  CHECK(t2.summary.finished == 4);
}
