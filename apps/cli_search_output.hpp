#pragma once
// What search and resume print while they run and when they end: a redrawn progress line
// when stderr is a terminal, one line per finished trial when stdout is not, one line on
// stderr per failed trial as it fails, and the summary (text, or one JSON object).
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "search/runner.hpp"

namespace flexnas::cli {

struct OutputMode {
  bool quiet = false;  // no progress, no trial lines, no failure lines: the summary only
  bool json = false;   // the summary as one JSON object on stdout, nothing else there
};

// The callback for RunOptions::progress. `finished` follows the study's finished count
// (for the message of a second Ctrl-C, which cannot wait for the run to end).
std::function<void(const RunProgress&)> search_progress(const std::vector<Objective>& objectives,
                                                        const OutputMode& mode,
                                                        std::atomic<std::size_t>& finished);

// Prints the summary of a finished run; returns the exit status: 0, 1 when trials ran and
// none succeeded (the most common reasons go to stderr), 130 when interrupted.
int report_summary(Study& study, const RunSummary& summary,
                   const std::vector<Objective>& objectives,
                   const std::vector<Constraint>& constraints, const OutputMode& mode);

// "interrupted after N trials; continue with flexnas resume --study DIR"
std::string interrupted_text(std::size_t finished, const std::string& dir);

}  // namespace flexnas::cli
