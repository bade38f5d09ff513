#include "search/policy.hpp"
#include "tests/option_checks.hpp"

#include <cctype>
#include <set>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "space/model_stats.hpp"

using namespace flexnas;

namespace {

// A pool of two-layer test-space models scored by (minus) their parameter count.
std::vector<Architecture> small_pool() {
  auto s = DesignSpace::load("flexibert-test");
  s.layers = {2};
  Rng rng(3);
  std::vector<Architecture> pool;
  for (int i = 0; i < 60; ++i) pool.push_back(s.sample(rng));
  return pool;
}

std::vector<std::string> run(const std::string& spec, const SearchDomain& base, std::uint64_t seed,
                             int steps) {
  SearchDomain domain = base;
  PolicyRegistry reg;
  register_builtin_policies(reg);
  PolicyContext ctx{&domain, {Objective::parse("params:min")}, {}, seed};
  auto policy = reg.create(spec, ctx);
  std::vector<std::string> keys;
  for (int id = 0; id < steps; ++id) {
    const auto asked = policy->ask(2);
    std::vector<Trial> told;
    for (const auto& a : asked) {
      Trial t;
      t.id = static_cast<std::int64_t>(keys.size());
      t.arch = a;
      t.hash = domain.key(a);
      t.state = TrialState::kOk;
      t.values["params"] = static_cast<double>(model_stats(a).params);
      keys.push_back(t.hash);
      told.push_back(t);
    }
    policy->tell(told);
  }
  return keys;
}

// 12 asks of 2 from `spec`: all filled with new architectures, the same for a seed, other
// ones for another seed.
void check_deterministic_and_new(const std::string& spec, const SearchDomain& base) {
  INFO(spec);
  const auto a = run(spec, base, 5, 12), b = run(spec, base, 5, 12);
  CHECK(a == b);
  CHECK(a.size() == 24);
  CHECK(std::set<std::string>(a.begin(), a.end()).size() == a.size());
  CHECK(run(spec, base, 6, 12) != a);
}

}  // namespace

TEST_CASE("policy_every_builtin_is_deterministic_and_never_repeats", "[policy]") {
  const SearchDomain base(small_pool(), std::nullopt, 1);
  for (const std::string spec :
       {"random", "evolution:population=8,sample=3", "nsga2:population=8", "boshnas:init=6",
        "boshnas:init=6,ensemble=2,surrogate.mean=teacher",
        "boshnas:surrogate=gp,p_uncertain=0,p_random=0",
        "sa-nsga2:init=6,population=8,generations=3"})
    check_deterministic_and_new(spec, base);
}

TEST_CASE("policy_hierarchical_refines_around_the_best_and_never_repeats", "[policy]") {
  // In a design space (hierarchical refuses pools): stage 0 is the coarse space (stacks of
  // two layers share their choices), later stages propose neighbours of the best trials.
  auto space = DesignSpace::load("flexibert-test");
  space.layers = {4};
  const SearchDomain base(space);
  const std::string spec = "hierarchical:inner=evolution,stage=12,top=3,pool=40";
  const auto a = run(spec, base, 2, 20), b = run(spec, base, 2, 20);
  CHECK(a == b);
  CHECK(std::set<std::string>(a.begin(), a.end()).size() == a.size());
  PolicyRegistry reg;
  register_builtin_policies(reg);

  // A fine space (one layer per stack): the first stage proposes only coarse models.
  space.layers_per_stack = 1;
  SearchDomain fine(space);
  auto p = reg.create("hierarchical:inner=random,stage=8,top=2,pool=30",
                      PolicyContext{&fine, {Objective::parse("params:min")}, {}, 4});
  int coarse = 0, total = 0;
  for (int step = 0; step < 6; ++step) {
    std::vector<Trial> told;
    for (const auto& m : p->ask(4)) {
      CHECK(space.contains(m));
      if (step < 2) CHECK((m.layers[0] == m.layers[1] && m.layers[2] == m.layers[3]));
      coarse += m.layers[0] == m.layers[1] && m.layers[2] == m.layers[3];
      ++total;
      Trial t;
      t.id = static_cast<std::int64_t>(told.size() + 4 * static_cast<std::size_t>(step));
      t.arch = m;
      t.hash = fine.key(m);
      t.state = TrialState::kOk;
      t.values["params"] = static_cast<double>(model_stats(m).params);
      told.push_back(t);
    }
    p->tell(told);
  }
  CHECK(total == 24);
  CHECK(coarse < total);  // later stages leave the coarse space

  SearchDomain pool_domain(small_pool(), std::nullopt, 1);
  CHECK_THROWS_WITH(
      reg.create("hierarchical",
                 PolicyContext{&pool_domain, {Objective::parse("params:min")}, {}, 1}),
      Catch::Contains("needs --space"));
}

TEST_CASE("policy_registry_rejects_unknown_names_and_options", "[policy]") {
  const SearchDomain base(small_pool(), std::nullopt, 1);
  SearchDomain domain = base;
  PolicyRegistry reg;
  register_builtin_policies(reg);
  PolicyContext ctx{&domain, {Objective::parse("params:min")}, {}, 1};
  CHECK_THROWS_WITH(reg.create("bogus", ctx), Catch::Contains("random, evolution, nsga2, boshnas"));
  CHECK_THROWS_WITH(reg.create("evolution:pop=3", ctx), Catch::Contains("population"));
  CHECK_THROWS_AS(reg.create("boshnas:surrogate=nope", ctx), InputError);
  // surrogate.KEY goes to the surrogate, which checks it.
  CHECK_THROWS_WITH(reg.create("boshnas:surrogate.bogus=1", ctx), Catch::Contains("bogus"));
  CHECK_THROWS_WITH(reg.create("sa-nsga2:surrogate.kernel=cubic", ctx), Catch::Contains("kernel"));
  CHECK_THROWS_WITH(reg.create("evolution:surrogate.mean=npn", ctx),
                    Catch::Contains("unknown option"));
  CHECK_NOTHROW(reg.create("boshnas:surrogate.mean=teacher,surrogate.mc_passes=4", ctx));
  CHECK_THROWS_WITH(reg.create("boshnas:p_random=0.7,p_uncertain=0.6", ctx),
                    Catch::Contains("p_uncertain + p_random must be <= 1"));
  CHECK_THROWS_WITH(reg.create("boshnas:ensemble=0", ctx), Catch::Contains("ensemble"));
  ctx.objectives.push_back(Objective::parse("flops:min"));
  CHECK_THROWS_WITH(reg.create("evolution", ctx), Catch::Contains("one objective"));
}

TEST_CASE("policy_registry_driven_every_policy_at_its_defaults", "[policy]") {
  // Every registered policy, found through the registry (a new one is tested without being
  // added to a list): with its default options it fills 12 asks of 2 with new architectures,
  // a seed repeats its trials, another seed changes them, an unknown option and a number
  // that is not one are rejected naming the option.
  const SearchDomain pool(small_pool(), std::nullopt, 1);
  auto space = DesignSpace::load("flexibert-test");
  space.layers = {2};
  const SearchDomain design(space);
  PolicyRegistry reg;
  register_builtin_policies(reg);
  REQUIRE(reg.entries().size() >= 6);
  CHECK_THROWS_AS(reg.add(reg.entries().front()), InputError);
  for (const auto& e : reg.entries()) {
    INFO(e.name);
    // hierarchical refines a design space and refuses pools.
    const SearchDomain& base = e.name == "hierarchical" ? design : pool;
    check_deterministic_and_new(e.name, base);
    SearchDomain domain = base;
    PolicyContext ctx{&domain, {Objective::parse("params:min")}, {}, 1};
    CHECK_THROWS_WITH(reg.create(e.name + ":no_such_option=1", ctx),
                      Catch::Contains("no_such_option"));
    for (const auto& o : e.options)
      for (const auto& bad : test::bad_values(o)) {
        INFO(o.name << "=" << bad);
        CHECK_THROWS_WITH(reg.create(e.name + ":" + o.name + "=" + bad, ctx),
                          Catch::Contains("option " + o.name));
      }
  }
}
