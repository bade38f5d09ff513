// flexnas: command line of the flexnas NAS toolkit. Exit codes: 0 success, 2 bad input
// (one line on stderr naming the problem), 1 internal error.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/cli_numbers.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The command words of argv, followed through the subcommand tree: the first word that
// names no subcommand where one is required is an error naming the nearest valid ones.
void check_command_words(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  std::string path = "flexnas";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return;
    const auto subs = at->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return;
    CLI::App* next = nullptr;
    for (auto* s : subs)
      if (s->check_name(word)) next = s;
    if (!next) {
      if (at->get_require_subcommand_min() == 0) return;  // a positional argument, maybe
      std::vector<std::pair<std::size_t, std::string>> near;
      for (auto* s : subs) {
        const auto& n = s->get_name();
        const bool prefix = n.rfind(word, 0) == 0 || word.rfind(n, 0) == 0;
        near.emplace_back(prefix ? 0 : edit_distance(word, n), n);
      }
      std::sort(near.begin(), near.end());
      std::string hint;
      for (const auto& [d, n] : near)
        if (d <= std::max<std::size_t>(2, word.size() / 3) && hint.size() < 60)
          hint += (hint.empty() ? "" : ", ") + n;
      std::string all;
      for (auto* s : subs) all += (all.empty() ? "" : ", ") + s->get_name();
      throw flexnas::InputError("unknown command '" + path + " " + word + "'" +
                                (hint.empty() ? "" : "; did you mean: " + hint + "?") +
                                " (commands: " + all + ")");
    }
    at = next;
    path += " " + word;
  }
}

// CLI11 prints a range's bounds with std::to_string: NonNegativeNumber's upper bound is
// DBL_MAX, 300 digits. Bounds become %g, and an unbounded side is left out.
std::string readable_ranges(std::string msg) {
  static const std::regex range(R"(not in range (\S+) to (\S+))");
  std::smatch m;
  if (!std::regex_search(msg, m, range)) return msg;
  auto num = [](const std::string& t) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", std::strtod(t.c_str(), nullptr));
    return std::string(buf);
  };
  const double lo = std::strtod(m[1].str().c_str(), nullptr);
  const double hi = std::strtod(m[2].str().c_str(), nullptr);
  std::string text;
  if (std::fabs(hi) >= 1e300)
    text = "must be >= " + num(m[1]);
  else if (std::fabs(lo) >= 1e300)
    text = "must be <= " + num(m[2]);
  else
    text = "not in range " + num(m[1]) + " to " + num(m[2]);
  return m.prefix().str() + text + m.suffix().str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "flexnas: neural architecture search over heterogeneous transformer encoders.\n"
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
  flexnas::cli::add_ask_tell_commands(app);
  flexnas::cli::add_mpc_command(app);
  flexnas::cli::add_latency_fit_command(app);
  flexnas::cli::add_latency_commands(app);
  flexnas::cli::add_report_command(app);
  flexnas::cli::add_export_commands(app);
  flexnas::cli::add_train_command(app);
  flexnas::cli::add_study_commands(app);
  flexnas::cli::add_catalog_commands(app);
  try {
    check_command_words(app, argc, argv);
    flexnas::cli::strict_numeric_options(app);
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command that printed its own message
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "flexnas: error: %s (see --help)\n", readable_ranges(e.what()).c_str());
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
