// flexnas graph hash|ged (dot|svg: cli_export.cpp)
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "space/ged.hpp"

namespace flexnas::cli {
namespace {

// Label form for a model: the space's when --space was given, else the reference's (auto).
LabelForm form_for(CLI::App* cmd, const SpaceArgs& args) {
  if (cmd->count("--space") == 0) return LabelForm::kAuto;
  return args.load().label_form();
}

}  // namespace

void add_graph_commands(CLI::App& app) {
  auto* graph =
      app.add_subcommand("graph", "architecture graphs: hash, edit distance, DOT drawing");
  graph->require_subcommand(1);
  {
    auto* cmd = graph->add_subcommand("hash",
                                      "SHA-256 Weisfeiler-Lehman hash of the architecture graph "
                                      "(FlexiBERT-compatible)");
    auto args = std::make_shared<SpaceArgs>();
    auto model = std::make_shared<std::string>();
    args->add(cmd);
    cmd->add_option("--model", *model, "model dict as JSON text, or @file")->required();
    cmd->callback([=] {
      const auto a = load_model(*model);
      if (cmd->count("--space")) args->load().validate(a);
      std::cout << graph_hash(a, form_for(cmd, *args)) << "\n";
    });
  }
  {
    auto* cmd =
        graph->add_subcommand("ged",
                              "graph edit distance between two architectures under the FlexiBERT "
                              "cost model of --space (exact for small graphs, bipartite bound "
                              "for large ones)");
    auto args = std::make_shared<SpaceArgs>();
    auto models = std::make_shared<std::vector<std::string>>();
    auto exact = std::make_shared<bool>(false);
    auto bipartite = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    auto budget = std::make_shared<std::uint64_t>(50'000'000);
    args->add(cmd);
    cmd->add_option("--model", *models,
                    "the two model dicts (JSON text or @file): --model A --model B")
        ->required()
        ->expected(2);
    auto* ex = cmd->add_flag("--exact", *exact, "force exact search whatever the graph size");
    cmd->add_flag("--bipartite", *bipartite, "only the fast bipartite upper bound")->excludes(ex);
    cmd->add_option("--budget", *budget,
                    "search nodes --exact may visit before it settles for its best bound")
        ->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([=] {
      if (models->size() != 2) throw InputError("graph ged needs exactly two --model values");
      const auto space = args->load();
      const auto costs = OpCosts::for_space(space);
      const auto a = load_model((*models)[0]), b = load_model((*models)[1]);
      GedOptions opt;
      if (*exact) {
        opt.method = GedMethod::kExact;
        opt.max_expansions = *budget;
      } else if (*bipartite) {
        opt.method = GedMethod::kBipartite;
      }
      const auto r = ged(a, b, costs, opt);
      if (*json) {
        nlohmann::ordered_json j;
        j["ged"] = r.distance;
        j["exact"] = r.exact;
        j["expanded"] = r.expanded;
        std::cout << j.dump() << "\n";
        return;
      }
      if (opt.method != GedMethod::kBipartite && !r.exact)
        std::cerr << "flexnas: note: search budget reached; printing the best upper bound found\n";
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.10g", r.distance);
      std::cout << buf << "\n";
    });
  }
  // graph dot|svg: apps/cli_export.cpp (through Graphviz).
}

}  // namespace flexnas::cli
