// flexnas: command line of the flexnas NAS toolkit. Exit codes: 0 success, 2 bad input
// (one line on stderr naming the problem), 1 internal error.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/commands.hpp"
#include "space/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"flexnas: neural architecture search over heterogeneous transformer encoders.\n"
               "Start with: flexnas space info --space flexibert-test"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");
  auto* version = app.add_subcommand("version", "print the flexnas version");
  version->callback([] { std::cout << "flexnas " << FLEXNAS_VERSION << "\n"; });
  flexnas::cli::add_space_commands(app);
  flexnas::cli::add_graph_commands(app);
  flexnas::cli::add_embed_command(app);
  flexnas::cli::add_evaluate_command(app);
  flexnas::cli::add_search_commands(app);
  flexnas::cli::add_mpc_command(app);
  flexnas::cli::add_latency_fit_command(app);
  flexnas::cli::add_latency_commands(app);
  flexnas::cli::add_report_command(app);
  flexnas::cli::add_export_commands(app);
  flexnas::cli::add_train_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command that printed its own message
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "flexnas: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const flexnas::InputError& e) {
    std::fprintf(stderr, "flexnas: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flexnas: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
