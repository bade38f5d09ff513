// flexnas report: a self-contained HTML page about a study (see docs/report.md).
#include <filesystem>
#include <memory>
#include <string>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "report/report.hpp"
#include "search/storage.hpp"

namespace flexnas::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report",
      "write a self-contained HTML report of a study (Pareto front, best so far, "
      "distributions, failed trials, Pareto architectures); works while a search runs");
  auto dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("report.html");
  auto opt = std::make_shared<ReportOptions>();
  cmd->add_option("--study", *dir, "study directory (opened read-only, without its lock)")
      ->required();
  cmd->add_option("-o,--out", *out, "HTML file to write ('-' for stdout)")->capture_default_str();
  cmd->add_option("--x", opt->x, "value on the Pareto plot's x axis (default: first objective)");
  cmd->add_option("--y", opt->y, "value on the Pareto plot's y axis (default: second objective)");
  cmd->add_option("--title", opt->title, "page title (default: the study directory's name)");
  cmd->callback([=] {
    auto study = Study::open(*dir, /*lock=*/false);
    ReportOptions o = *opt;
    if (o.title.empty()) {
      const auto name = std::filesystem::path(*dir).lexically_normal().filename().string();
      o.title = "flexnas study " + (name.empty() ? *dir : name);
    }
    write_output(*out, render_report(study->config(), study->trials(), o));
  });
}

}  // namespace flexnas::cli
