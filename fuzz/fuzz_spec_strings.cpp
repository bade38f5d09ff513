// Evaluator and policy spec strings ("name:key=value,..."), objectives and constraints:
// EvaluatorSpec::parse round-trips through str(), Constraint::parse through str(); creating
// an evaluator (params, flops, sleep, table, lut) or any built-in policy (boshnas and sa-nsga2
// included: they fit their embedding on first use, not when created) on flexibert-test from
// the text either works or throws InputError.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/evaluator.hpp"
#include "search/domain.hpp"
#include "search/objective.hpp"
#include "search/policy.hpp"
#include "space/design_space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flexnas;
  static EvaluatorRegistry evaluators = [] {
    EvaluatorRegistry r;
    register_builtins(r);  // the evaluators stubs.cpp leaves out are not registered
    return r;
  }();
  static PolicyRegistry policies = [] {
    PolicyRegistry r;
    register_builtin_policies(r);
    return r;
  }();
  static SearchDomain domain(DesignSpace::load("flexibert-test"));
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (text.size() > 4096) return 0;
  try {
    const auto spec = EvaluatorSpec::parse(text);
    const auto again = EvaluatorSpec::parse(spec.str());
    if (again.name != spec.name || again.options != spec.options) __builtin_trap();
  } catch (const InputError&) {
  }
  try {
    (void)evaluators.create(text);
  } catch (const InputError&) {
  }
  try {
    PolicyContext ctx{&domain, {Objective::parse("params:min")}, {}, 1};
    (void)policies.create(text, ctx);
  } catch (const InputError&) {
  }
  try {
    (void)Objective::parse(text);
  } catch (const InputError&) {
  }
  try {
    const auto c = Constraint::parse(text);
    const auto again = Constraint::parse(c.str());
    if (again.name != c.name || again.upper != c.upper || again.bound != c.bound) __builtin_trap();
  } catch (const InputError&) {
  }
  return 0;
}
