#pragma once
// Policy: proposes architectures (ask) and learns from finished trials (tell). Every
// policy takes its randomness from its own seeded generator, so a study replays exactly:
// the same seed and the same told trials give the same asks, which is how `resume`
// rebuilds a policy's state.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.hpp"
#include "search/domain.hpp"
#include "search/objective.hpp"
#include "search/trial.hpp"

namespace flexnas {

struct PolicyContext {
  SearchDomain* domain = nullptr;
  std::vector<Objective> objectives;
  std::vector<Constraint> constraints;
  std::uint64_t seed = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // Up to n architectures never proposed before (fewer only when the domain is exhausted).
  virtual std::vector<Architecture> ask(std::size_t n) = 0;
  // Finished trials of earlier asks, in id order.
  virtual void tell(const std::vector<Trial>& trials) = 0;
  // How many trials it samples at random before it uses what it learned (a population
  // policy's first generation); with a budget no larger, the search is random search.
  virtual std::size_t random_start() const { return 0; }
  // The option that sets random_start(), for the warning that names it.
  virtual std::string random_start_option() const { return "population"; }
};

using PolicyFactory = std::function<std::unique_ptr<Policy>(const PolicyContext&, const Options&)>;
struct PolicyTraits {
  bool multi_objective = false;  // takes several objectives (else the first one only)
};

// Policies by name (core/registry.hpp).
class PolicyRegistry : public Registry<PolicyFactory, PolicyTraits> {
 public:
  PolicyRegistry() : Registry("policy") {}
  // "name:key=value,..."; unknown names and options, values their declarations reject and a
  // single-objective policy given several objectives throw InputError. A policy with a
  // `surrogate` option also takes surrogate.KEY=VALUE, checked by that surrogate.
  std::unique_ptr<Policy> create(const std::string& spec, const PolicyContext& ctx) const;
};

// Every built-in policy: random, evolution, nsga2, boshnas, sa-nsga2, hierarchical
// (search/builtins.cpp).
void register_builtin_policies(PolicyRegistry& r);

// The policy spec `auto` stands for: evolution for one objective, nsga2 for several. Any
// other spec is returned as it is.
std::string resolve_policy(const std::string& spec, std::size_t objectives);

// Single number to minimise for single-objective policies: the first objective, pushed
// behind every feasible trial by its constraint violation.
double scalar_loss(const Trial& t, const PolicyContext& ctx);

}  // namespace flexnas
