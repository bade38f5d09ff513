// flexnas evaluate: score one architecture with one or more evaluators.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "evaluators/evaluator.hpp"

namespace flexnas::cli {

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "evaluate", "score one architecture: --evaluator params --evaluator flops:seq=256");
  auto model = std::make_shared<std::string>();
  auto evaluators = std::make_shared<std::vector<std::string>>();
  auto seed = std::make_shared<std::uint64_t>(0);
  auto json = std::make_shared<bool>(false);
  auto space = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "model dict as JSON text, or @file")->required();
  cmd->add_option("--evaluator", *evaluators,
                  "evaluator as name:key=value,... (repeatable); names: " + evaluator_names())
      ->required();
  cmd->add_option("--space", *space, "validate the model against this space first");
  cmd->add_option("--seed", *seed, "seed handed to the evaluators")->capture_default_str();
  cmd->add_flag("--json", *json, "one JSON object of value name -> number");
  cmd->callback([=] {
    const auto a = load_model(*model);
    if (!space->empty()) DesignSpace::load(*space).validate(a);
    EvaluatorRegistry registry;
    register_builtins(registry);
    EvalContext ctx;
    ctx.seed = *seed;
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    std::vector<std::pair<ValueSpec, double>> rows;
    for (const auto& spec : *evaluators) {
      auto e = registry.create(spec);
      const auto r = e->evaluate(a, ctx);
      if (r.status != EvalStatus::kOk)
        throw InputError("evaluator " + e->name() + " failed: " + r.message);
      for (const auto& v : e->provides()) {
        auto it = r.values.find(v.name);
        if (it == r.values.end()) continue;
        values[v.name] = it->second;
        rows.emplace_back(v, it->second);
      }
    }
    if (*json) {
      std::cout << values.dump() << "\n";
      return;
    }
    for (const auto& [spec, value] : rows) {
      char buf[64];
      if (value == static_cast<double>(static_cast<long long>(value)) && std::abs(value) < 1e15)
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
      else
        std::snprintf(buf, sizeof buf, "%.6g", value);
      std::printf(
          "%-18s %14s %-6s %s\n", spec.name.c_str(), buf, spec.unit.c_str(),
          spec.direction == Direction::kMinimize ? "(lower is better)" : "(higher is better)");
    }
  });
}

}  // namespace flexnas::cli
