#pragma once
// Each file apps/cli_*.cpp adds one group of subcommands.
#include <CLI/CLI.hpp>

namespace flexnas::cli {

void add_space_commands(CLI::App& app);
void add_graph_commands(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_search_commands(CLI::App& app);
void add_ask_tell_commands(CLI::App& app);  // ask, tell (cli_ask_tell.cpp)
void add_mpc_command(CLI::App& app);
void add_latency_fit_command(CLI::App& app);
void add_latency_commands(CLI::App& app);
void add_report_command(CLI::App& app);
void add_export_commands(CLI::App& app);
void add_train_command(CLI::App& app);
void add_study_commands(CLI::App& app);    // study show (cli_study.cpp)
void add_catalog_commands(CLI::App& app);  // evaluators, policies (cli_study.cpp)

}  // namespace flexnas::cli
