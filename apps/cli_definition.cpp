#include "apps/cli_definition.hpp"

#include "apps/cli_common.hpp"
#include "core/error.hpp"
#include "search/policy.hpp"

namespace flexnas::cli {

void DefinitionArgs::add(CLI::App* cmd, bool evaluator_required,
                         const std::string& evaluator_help) {
  cmd_ = cmd;
  cmd->add_option("--space", def.space, "design space to search (built-in name or YAML file)");
  cmd->add_option("--pool", pool,
                  "search this finite list instead (JSON lines, each with a \"model\"); "
                  "with --space, the space's operators are used");
  auto* ev = cmd->add_option("--evaluator", def.evaluators,
                             evaluator_help +
                                 "name:key=value,... (repeatable), e.g. "
                                 "table:file=F,metric=M; names: " +
                                 evaluator_names());
  if (evaluator_required) ev->required();
  cmd->add_option("--objective", def.objectives,
                  "NAME:max or NAME:min (repeatable; the first is the primary)");
  cmd->add_option("--constraint", def.constraints, "NAME<=X or NAME>=X (repeatable)");
  cmd->add_option("--policy", def.policy,
                  policy_names() +
                      " (with options, e.g. evolution:population=20); "
                      "auto: evolution for one objective, nsga2 for several")
      ->capture_default_str();
  cmd->add_option("--budget", def.budget, "finished trials the study ends with")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--batch", def.batch,
                  "candidates per ask (fixed per study; results do not depend on --workers)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", def.seed, "random seed")->capture_default_str();
  cmd->add_option("--stop-at", def.stop_at,
                  "early stop once a trial meets NAME>=X or NAME<=X (repeatable: all "
                  "must hold), e.g. sst2_accuracy>=0.83");
  cmd->add_option("--patience", def.patience,
                  "early stop after so many finished trials without a better best")
      ->check(CLI::NonNegativeNumber);
}

nlohmann::json DefinitionArgs::config() const {
  auto d = def;
  if (!pool.empty()) d.pool = load_models(pool);
  return d.config();
}

void DefinitionArgs::make_paths_absolute(nlohmann::json& config) {
  std::vector<std::string> specs;
  for (const auto& e : config.at("evaluators"))
    specs.push_back(absolute_evaluator_spec(e.get<std::string>()));
  config["evaluators"] = specs;
}

void DefinitionArgs::check_agrees(const nlohmann::json& stored, const std::string& dir) const {
  auto given = [&](const char* name) { return cmd_ && cmd_->count(name) > 0; };
  auto differs = [&](const std::string& option, const nlohmann::json& mine,
                     const std::string& key) {
    if (stored.contains(key) && stored.at(key) == mine) return;
    std::string theirs = stored.contains(key) ? stored.at(key).dump() : "none";
    if (theirs.size() > 80) theirs = theirs.substr(0, 77) + "...";
    throw InputError(option + " disagrees with the definition of study " + dir + " (" + key + ": " +
                     theirs + "); leave it out, or use another --study");
  };
  if (given("--space"))
    differs("--space " + def.space, DesignSpace::load(def.space).to_yaml(), "space");
  if (given("--pool")) {
    nlohmann::json p = nlohmann::json::array();
    for (const auto& a : load_models(pool)) p.push_back(nlohmann::json::parse(to_string(a)));
    differs("--pool " + pool, p, "pool");
  }
  if (given("--evaluator")) {
    std::vector<std::string> specs;
    for (const auto& e : def.evaluators) specs.push_back(absolute_evaluator_spec(e));
    differs("--evaluator", specs, "evaluators");
  }
  auto canonical = [](const std::vector<std::string>& v, bool objective) {
    std::vector<std::string> out;
    for (const auto& x : v)
      out.push_back(objective ? Objective::parse(x).str() : Constraint::parse(x).str());
    return out;
  };
  if (given("--objective")) differs("--objective", canonical(def.objectives, true), "objectives");
  if (given("--constraint"))
    differs("--constraint", canonical(def.constraints, false), "constraints");
  if (given("--stop-at")) differs("--stop-at", canonical(def.stop_at, false), "stop_at");
  if (given("--policy")) {
    const auto n = stored.contains("objectives") ? stored.at("objectives").size() : 1;
    differs("--policy " + def.policy, resolve_policy(def.policy, n), "policy");
  }
  if (given("--budget")) differs("--budget " + std::to_string(def.budget), def.budget, "budget");
  if (given("--batch")) differs("--batch " + std::to_string(def.batch), def.batch, "batch");
  if (given("--seed")) differs("--seed " + std::to_string(def.seed), def.seed, "seed");
  if (given("--patience"))
    differs("--patience " + std::to_string(def.patience), def.patience, "patience");
}

}  // namespace flexnas::cli
