#pragma once
// HTML report of a study: one self-contained page (inline CSS and SVG, no scripts, no
// external files) with the summary, the Pareto front of two values, best-so-far against
// trial number, objective histograms, the failed trials with their reasons and a drawing
// of every Pareto architecture layer by layer. Built from a study's config and trials
// alone, so it can be made while a search is still running.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/trial.hpp"

namespace flexnas {

struct ReportOptions {
  std::string x;      // value on the Pareto plot's x axis; empty: the first objective
  std::string y;      // y axis; empty: the second objective
  std::string title;  // empty: "flexnas study"
};

// `config` is Study::config(), `trials` Study::trials(). Throws InputError when x or y
// name a value no finished trial has.
std::string render_report(const nlohmann::json& config, const std::vector<Trial>& trials,
                          const ReportOptions& options);

// & < > " ' replaced by their entities.
std::string html_escape(const std::string& text);

// The SVG drawing of one architecture: a box per layer with one box per head group
// (operation, heads) coloured by family, its hidden width and feed-forward stack.
std::string architecture_svg(const Architecture& a);

}  // namespace flexnas
