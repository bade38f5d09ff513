#include "search/ask_tell.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "search/runner.hpp"

using namespace flexnas;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() /
             ("flexnas_ask_tell_test_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str() const { return path.string(); }
};

StudyDefinition definition(const std::string& policy, bool two_objectives) {
  StudyDefinition d;
  d.space = "flexibert-test";
  d.objectives = {"params:min"};
  if (two_objectives) d.objectives.push_back("flops:max");
  d.policy = policy;
  d.budget = 22;  // not a multiple of the batch: the last batch is smaller
  d.batch = 4;
  d.seed = 5;
  return d;
}

// Values the way `search` computes them: the evaluators with seed + id.
Values evaluate(const Trial& t, std::uint64_t seed) {
  EvaluatorRegistry reg;
  register_builtins(reg);
  EvaluatorSet set(reg, {"params", "flops"}, 1);
  Trial e = t;
  evaluate_trial(set, 0, e, seed);
  REQUIRE(e.ok());
  return e.values;
}

// The trials of a `search` run of the definition (hash and values in id order).
std::vector<std::pair<std::string, Values>> searched(StudyDefinition d, const std::string& tag) {
  TempDir dir("search_" + tag);
  d.evaluators = {"params", "flops"};
  const auto config = d.config();
  auto study = Study::create(dir.str(), config);
  auto s = study_setup(config);
  EvaluatorRegistry reg;
  register_builtins(reg);
  EvaluatorSet evaluators(reg, {"params", "flops"}, 1);
  PolicyRegistry policies;
  register_builtin_policies(policies);
  auto policy = policies.create(config.at("policy").get<std::string>(),
                                PolicyContext{s.domain.get(), s.objectives, s.constraints, d.seed});
  RunOptions opt;
  opt.budget = d.budget;
  opt.batch = d.batch;
  opt.seed = d.seed;
  run_search(*study, *policy, *s.domain, evaluators, s.objectives, s.constraints, opt);
  std::vector<std::pair<std::string, Values>> out;
  for (const auto& t : study->trials()) out.emplace_back(t.hash, t.values);
  return out;
}

// The same definition driven by ask/tell: every trial of a batch is asked before any is
// told, and they are told in reverse order. `reopen`: a fresh AskTell (a new process) for
// every tell and every batch's asks, so the policy is rebuilt by replay each time.
std::vector<std::pair<std::string, Values>> asked(StudyDefinition d, const std::string& tag,
                                                  bool reopen) {
  TempDir dir("ask_" + tag);
  auto at = AskTell::create(dir.str(), d.config(), 0);
  std::string done;
  for (int guard = 0; guard < 1000 && done.empty(); ++guard) {
    std::vector<Trial> out;
    if (reopen) {  // once per batch: a replay costs about the run so far
      at.reset();
      at = AskTell::open(dir.str());
    }
    for (;;) {
      auto r = at->ask();
      if (r.status == AskResult::Status::kDone) done = r.done_because;
      if (r.status != AskResult::Status::kTrial) break;
      CHECK(r.times_given == 1);
      out.push_back(r.trial);
    }
    std::reverse(out.begin(), out.end());
    for (const auto& t : out) {
      if (reopen) {
        at.reset();
        at = AskTell::open(dir.str());
      }
      at->tell(t.id, evaluate(t, d.seed));
    }
  }
  CHECK(done == "budget");
  std::vector<std::pair<std::string, Values>> out;
  for (const auto& t : at->study().trials()) {
    CHECK(t.ok());
    out.emplace_back(t.hash, t.values);
  }
  return out;
}

}  // namespace

TEST_CASE("ask_tell_gives_the_trials_of_search_for_every_policy", "[ask_tell]") {
  struct Case {
    std::string policy;
    bool two;
  };
  const std::vector<Case> cases{{"random", true},
                                {"evolution:population=8,sample=3", false},
                                {"nsga2:population=8", true},
                                {"boshnas:init=8,encoding=naive", true},
                                {"sa-nsga2:init=8,encoding=naive,population=8,generations=2", true},
                                {"hierarchical:inner=nsga2,stage=8,pool=60", true}};
  PolicyRegistry all;
  register_builtin_policies(all);
  CHECK(all.names().size() == cases.size());  // a new policy belongs in this test
  for (const auto& c : cases) {
    INFO(c.policy);
    const auto d = definition(c.policy, c.two);
    const auto tag = c.policy.substr(0, c.policy.find(':'));
    const auto ref = searched(d, tag);
    REQUIRE(ref.size() == d.budget);
    CHECK(asked(d, tag, false) == ref);
    CHECK(asked(d, tag + "_reopen", true) == ref);
  }
}

TEST_CASE("ask_tell_leases_reissue_and_refuses_bad_tells", "[ask_tell]") {
  TempDir dir("lease");
  auto d = definition("random", false);
  d.evaluators = {"params"};  // flexnas adds params itself; the caller tells accuracy
  d.objectives = {"accuracy:max"};
  d.constraints = {"params<=1e9"};
  d.batch = 2;
  d.budget = 3;
  auto at = AskTell::create(dir.str(), d.config(), 60);
  CHECK(at->lease_seconds() == 60);
  const auto a = at->ask(false, 1000);
  const auto b = at->ask(false, 1010);
  REQUIRE(a.status == AskResult::Status::kTrial);
  REQUIRE(b.status == AskResult::Status::kTrial);
  CHECK(a.trial.id == 0);
  CHECK(b.trial.id == 1);
  // Both out: nothing before the lease of trial 0 ends, then trial 0 again.
  auto w = at->ask(false, 1059);
  CHECK(w.status == AskResult::Status::kWait);
  CHECK(w.out.size() == 2);
  auto again = at->ask(false, 1060);
  REQUIRE(again.status == AskResult::Status::kTrial);
  CHECK(again.trial.id == 0);
  CHECK(again.times_given == 2);
  // --reissue: the one handed out longest ago (now trial 1), lease or not.
  auto re = at->ask(true, 1061);
  REQUIRE(re.status == AskResult::Status::kTrial);
  CHECK(re.trial.id == 1);

  CHECK_THROWS_WITH(at->tell(7, {{"accuracy", 0.5}}), Catch::Contains("has no trial 7"));
  CHECK_THROWS_WITH(at->tell(0, {{"acc", 0.5}}), Catch::Contains("lack objective 'accuracy'"));
  CHECK_THROWS_WITH(at->tell(0, {{"accuracy", 0.5}, {"params", 3}}),
                    Catch::Contains("value 'params' comes from the study's evaluators"));
  CHECK_THROWS_WITH(values_from_json(nlohmann::json::parse(R"({"accuracy": "high"})")),
                    Catch::Contains("value 'accuracy' is a string, not a number"));
  CHECK_THROWS_WITH(values_from_json(nlohmann::json::parse(R"({"accuracy": true})")),
                    Catch::Contains("not a number"));
  CHECK_THROWS_WITH(values_from_json(nlohmann::json::parse("[0.8]")),
                    Catch::Contains("values must be a JSON object"));
  const auto t0 = at->tell(0, {{"accuracy", 0.5}}, 1070);
  CHECK(t0.ok());
  CHECK(t0.values.count("params") == 1);  // from the study's evaluator
  CHECK(t0.eval_seconds == 10);           // since it was last handed out
  CHECK_THROWS_WITH(at->tell(0, {{"accuracy", 0.5}}), Catch::Contains("already told (ok)"));
  at->tell_failed(1, "out of memory", 1070);
  // The next batch holds the last trial of the budget; it was not handed out yet.
  at.reset();
  at = AskTell::open(dir.str());  // a new process: the lease is stored with the study
  CHECK(at->lease_seconds() == 60);
  CHECK_THROWS_WITH(at->tell(2, {{"accuracy", 0.5}}), Catch::Contains("has no trial 2"));
  const auto c = at->ask(false, 2000);
  REQUIRE(c.status == AskResult::Status::kTrial);
  CHECK(c.trial.id == 2);
  CHECK(c.trial.batch == 1);
  at->tell(2, {{"accuracy", 0.9}}, 2001);
  const auto end = at->ask(false, 2002);
  CHECK(end.status == AskResult::Status::kDone);
  CHECK(end.done_because == "budget");
}

TEST_CASE("ask_tell_refuses_a_bad_definition_before_creating_the_study", "[ask_tell]") {
  TempDir dir("bad");
  auto d = definition("bogus", false);
  CHECK_THROWS_AS(AskTell::create(dir.str(), d.config(), 0), InputError);
  d = definition("evolution", true);  // two objectives
  CHECK_THROWS_WITH(AskTell::create(dir.str(), d.config(), 0),
                    Catch::Contains("takes one objective"));
  d = definition("random", false);
  d.evaluators = {"nope"};
  CHECK_THROWS_WITH(AskTell::create(dir.str(), d.config(), 0),
                    Catch::Contains("unknown evaluator"));
  CHECK(!fs::exists(dir.path));
  // A stop rule ends the study at the end of the batch that met it, as in search.
  d = definition("random", false);
  d.stop_at = {"params>=1"};
  auto at = AskTell::create(dir.str(), d.config(), 0);
  std::vector<Trial> out;
  for (auto r = at->ask(); r.status == AskResult::Status::kTrial; r = at->ask())
    out.push_back(r.trial);
  CHECK(out.size() == 4);
  for (const auto& t : out) at->tell(t.id, evaluate(t, d.seed));
  const auto end = at->ask();
  CHECK(end.status == AskResult::Status::kDone);
  CHECK(end.done_because == "target reached by trial 0");
}

TEST_CASE("ask_tell_rebuilds_trials_jsonl_a_killed_tell_left_behind", "[ask_tell]") {
  TempDir dir("jsonl");
  auto d = definition("random", false);
  d.batch = 2;
  auto at = AskTell::create(dir.str(), d.config(), 0);
  for (int i = 0; i < 2; ++i) {
    const auto r = at->ask();
    REQUIRE(r.status == AskResult::Status::kTrial);
    at->tell(r.trial.id, evaluate(r.trial, d.seed));
  }
  at.reset();
  // As if killed after the database update and in the middle of the trials.jsonl append.
  const auto jsonl = dir.path / "trials.jsonl";
  auto text = [&] {
    std::ifstream in(jsonl);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto full = text();
  REQUIRE(std::count(full.begin(), full.end(), '\n') == 2);
  std::ofstream(jsonl, std::ios::trunc) << full.substr(0, full.find('\n') + 10);
  at = AskTell::open(dir.str());
  CHECK(text() == full);
}
