#include "search/study_config.hpp"

#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/evaluator.hpp"
#include "search/objective.hpp"
#include "space/architecture.hpp"
#include "space/design_space.hpp"

namespace flexnas {
namespace {

const nlohmann::json& key(const nlohmann::json& c, const char* name) {
  if (!c.contains(name))
    throw InputError(std::string("its search definition lacks '") + name + "'");
  return c.at(name);
}

std::string text(const nlohmann::json& v, const std::string& where) {
  if (!v.is_string()) throw InputError(where + ": expected a string, got " + v.dump());
  return v.get<std::string>();
}

const nlohmann::json& list(const nlohmann::json& v, const std::string& where) {
  if (!v.is_array()) throw InputError(where + ": expected a list, got " + v.dump());
  return v;
}

}  // namespace

void check_study_config(const nlohmann::json& c) {
  if (!c.is_object()) throw InputError("its search definition is not a JSON object");
  for (const char* k : {"objectives", "constraints", "evaluators", "policy", "budget", "batch",
                        "seed", "space", "pool"})
    (void)key(c, k);
  std::size_t i = 0;
  for (const auto& o : list(c.at("objectives"), "objectives"))
    (void)Objective::parse(text(o, "objectives[" + std::to_string(i++) + "]"));
  i = 0;
  for (const auto& k : list(c.at("constraints"), "constraints"))
    (void)Constraint::parse(text(k, "constraints[" + std::to_string(i++) + "]"));
  i = 0;
  for (const auto& e : list(c.at("evaluators"), "evaluators"))
    (void)EvaluatorSpec::parse(text(e, "evaluators[" + std::to_string(i++) + "]"));
  (void)EvaluatorSpec::parse(text(c.at("policy"), "policy"), "policy");
  // Counts: never wrapped (a budget of -1 is not 2^64 - 1) nor truncated (2.5).
  (void)json_integer<std::size_t>(c.at("budget"), "budget");
  (void)json_integer<std::size_t>(c.at("batch"), "batch", 1);
  (void)json_uint64(c.at("seed"), "seed");
  if (c.contains("patience")) (void)json_integer<std::size_t>(c.at("patience"), "patience");
  if (c.contains("stop_at")) {
    i = 0;
    for (const auto& k : list(c.at("stop_at"), "stop_at"))
      (void)Constraint::parse(text(k, "stop_at[" + std::to_string(i++) + "]"));
  }
  if (c.contains("isolate")) {
    const auto& iso = c.at("isolate");
    if (!iso.is_object()) throw InputError("isolate: expected an object, got " + iso.dump());
    if (iso.contains("enabled") && !iso.at("enabled").is_boolean())
      throw InputError("isolate.enabled: expected true or false");
    if (iso.contains("timeout_s")) (void)json_real(iso.at("timeout_s"), "isolate.timeout_s", 0);
    if (iso.contains("memory_mb"))
      (void)json_integer<std::size_t>(iso.at("memory_mb"), "isolate.memory_mb");
  }
  std::optional<DesignSpace> space;
  if (!c.at("space").is_null())
    space = DesignSpace::from_yaml(text(c.at("space"), "space"), "study space");
  if (!c.at("pool").is_null()) {
    i = 0;
    for (const auto& m : list(c.at("pool"), "pool")) {
      try {
        (void)architecture_from_json(m);
      } catch (const InputError& e) {
        throw InputError("pool[" + std::to_string(i) + "]: " + e.what());
      }
      ++i;
    }
  } else if (!space) {
    throw InputError("its search definition has neither a space nor a pool");
  }
}

}  // namespace flexnas
