// The search finds good architectures sooner than random: on a pool scored by a fixed
// additive function of the per-layer choices (a unique best, known), the model-based
// policies need fewer median queries to the best than random over the same seeds. A flipped
// acquisition sign, an argmax/argmin swap or a surrogate that learns nothing fails this.
#include <algorithm>
#include <map>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "search/policy.hpp"

using namespace flexnas;

namespace {

// Seven seeds in every build: with three, one unlucky seed moved gobi's median above random's.
constexpr int kSeeds = 7;
constexpr int kBudget = 100;

struct SyntheticTable {
  std::vector<Architecture> pool;
  std::vector<double> score;  // per pool member
  double best = 0;
};

// 120 distinct two-layer test-space models; each (layer, field, choice) has a fixed weight
// and a model's score is the sum over its layers, so the best is a unique pool member.
SyntheticTable synthetic_table(const SearchDomain& probe) {
  auto s = DesignSpace::load("flexibert-test");
  s.layers = {2};
  Rng rng(11);
  SyntheticTable t;
  std::set<std::string> keys;
  while (t.pool.size() < 120) {
    auto a = s.sample(rng);
    if (keys.insert(probe.key(a)).second) t.pool.push_back(a);
  }
  std::uniform_real_distribution<double> w(0, 1);
  std::map<std::string, double> weight;
  auto weight_of = [&](const std::string& k) {
    auto it = weight.find(k);
    return it != weight.end() ? it->second : (weight[k] = w(rng));
  };
  for (const auto& a : t.pool) {
    const auto j = to_json(a, DictForm::kStandard);
    double v = 0;
    for (std::size_t i = 0; i < a.layers.size(); ++i)
      for (const char* f : {"o", "h", "n", "f", "p"})
        v += weight_of(std::to_string(i) + f + j[f][i].dump());
    t.score.push_back(v);
    t.best = std::max(t.best, v);
  }
  return t;
}

// Queries until the best is asked (budget + 1 when never), per seed.
std::vector<int> queries_to_best(const std::string& spec, const SearchDomain& base,
                                 const std::map<std::string, double>& score, double best) {
  PolicyRegistry reg;
  register_builtin_policies(reg);
  std::vector<int> out;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SearchDomain domain = base;
    PolicyContext ctx{
        &domain, {Objective::parse("score:max")}, {}, static_cast<std::uint64_t>(seed)};
    auto policy = reg.create(spec, ctx);
    int q = 0;
    bool hit = false;
    while (q < kBudget && !hit) {
      const auto asked = policy->ask(1);
      REQUIRE(asked.size() == 1);
      Trial t;
      t.id = q;
      t.batch = q;
      t.arch = asked[0];
      t.hash = domain.key(asked[0]);
      t.state = TrialState::kOk;
      t.values["score"] = score.at(t.hash);
      hit = t.values["score"] >= best;
      ++q;
      policy->tell({t});
    }
    out.push_back(hit ? q : kBudget + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("policy_model_based_search_finds_the_best_sooner_than_random", "[policy]") {
  const SyntheticTable table = synthetic_table(SearchDomain(DesignSpace::load("flexibert-test")));
  REQUIRE(std::count(table.score.begin(), table.score.end(), table.best) == 1);
  const SearchDomain base(table.pool, std::nullopt, 1);
  std::map<std::string, double> score;
  for (std::size_t i = 0; i < table.pool.size(); ++i)
    score[base.key(table.pool[i])] = table.score[i];
  REQUIRE(score.size() == table.pool.size());
  const auto random = queries_to_best("random", base, score, table.best);
  const int random_median = random[kSeeds / 2];
  INFO("random: median " << random_median);
  CHECK(random_median > 20);  // the table is not trivial
  for (const std::string spec :
       {"boshnas", "sa-nsga2", "boshnas:optimizer=gobi", "boshnas:ensemble=3"}) {
    const auto q = queries_to_best(spec, base, score, table.best);
    INFO(spec << ": median " << q[kSeeds / 2] << ", random's " << random_median);
    CHECK(q[kSeeds / 2] < random_median);
  }
}
