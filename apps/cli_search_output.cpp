#include "apps/cli_search_output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"

namespace flexnas::cli {
namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

// Failure reasons of this run, most common first (ties: alphabetical).
std::vector<std::pair<std::string, std::size_t>> common_reasons(const RunSummary& s) {
  std::vector<std::pair<std::string, std::size_t>> r(s.reasons.begin(), s.reasons.end());
  std::stable_sort(r.begin(), r.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return r;
}

}  // namespace

std::string interrupted_text(std::size_t finished, const std::string& dir) {
  return "interrupted after " + std::to_string(finished) +
         " trials; continue with flexnas resume --study " + dir;
}

std::function<void(const RunProgress&)> search_progress(const std::vector<Objective>& objectives,
                                                        const OutputMode& mode,
                                                        std::atomic<std::size_t>& finished) {
  const bool bar = stderr_is_terminal() && !mode.quiet;
  const bool lines = isatty(STDOUT_FILENO) == 0 && !mode.quiet && !mode.json;
  const auto first = objectives.at(0).name;
  return [=, &finished](const RunProgress& p) {
    finished.store(p.finished);
    if (p.last && !mode.quiet && !p.last->ok()) {
      std::fprintf(stderr, "%sflexnas: trial %lld failed: %s\n", bar ? "\r\033[K" : "",
                   static_cast<long long>(p.last->id), one_line(p.last->reason).c_str());
    }
    if (p.last && lines) {
      const auto& t = *p.last;
      std::string text = "trial " + std::to_string(t.id) + ": " + (t.ok() ? "ok" : "failed");
      for (const auto& [k, v] : t.values) text += ", " + k + "=" + fmt(v);
      std::printf("%s, %.3f s\n", text.c_str(), t.eval_seconds);
      std::fflush(stdout);
    }
    if (!bar) return;
    std::string best = p.best ? first + " " + fmt(p.best->values.at(first)) + " (trial " +
                                    std::to_string(p.best->id) + ")"
                              : "none yet";
    const double rate = p.finished ? p.elapsed_seconds / static_cast<double>(p.finished) : 0;
    const double eta =
        rate * static_cast<double>(p.budget > p.finished ? p.budget - p.finished : 0);
    std::fprintf(stderr, "\r\033[K[%zu/%zu] best %s, %zu failed, %.1fs elapsed, ETA %.0fs",
                 p.finished, p.budget, best.c_str(), p.failed, p.elapsed_seconds, eta);
    if (p.finished >= p.budget) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

int report_summary(Study& study, const RunSummary& summary,
                   const std::vector<Objective>& objectives,
                   const std::vector<Constraint>& constraints, const OutputMode& mode) {
  if (stderr_is_terminal() && !mode.quiet) std::fprintf(stderr, "\r\033[K");
  const auto trials = study.trials();
  const auto best = best_trial(trials, objectives, constraints);
  const auto front = pareto_set(trials, objectives, constraints);
  std::optional<double> hv;
  std::vector<double> ref;
  if (objectives.size() > 1 && !front.empty()) {
    // Reference point: the worst value seen per objective, plus 10 % of its range.
    std::vector<std::vector<double>> pts;
    std::vector<double> lo(objectives.size(), INFINITY), hi(objectives.size(), -INFINITY);
    for (const auto& t : trials) {
      if (!t.ok()) continue;
      const auto p = to_minimise(t.values, objectives);
      for (std::size_t k = 0; k < p.size(); ++k) {
        lo[k] = std::min(lo[k], p[k]);
        hi[k] = std::max(hi[k], p[k]);
      }
    }
    for (std::size_t k = 0; k < lo.size(); ++k)
      ref.push_back(hi[k] + 0.1 * (hi[k] - lo[k]) + 1e-12);
    for (const auto& t : front)
      if (total_violation(t.values, constraints) == 0)
        pts.push_back(to_minimise(t.values, objectives));
    hv = hypervolume(pts, ref);
  }
  const auto reasons = common_reasons(summary);
  const bool none_ok = summary.ran > 0 && summary.ran_ok == 0 && !summary.interrupted;
  const auto& dir = study.dir();
  if (mode.json) {
    nlohmann::ordered_json j;
    j["study"] = dir;
    j["finished"] = summary.finished;
    j["failed"] = summary.failed;
    j["ran"] = summary.ran;
    j["ran_ok"] = summary.ran_ok;
    j["retried"] = summary.retried;
    j["stopped"] = summary.stopped_because;
    j["interrupted"] = summary.interrupted;
    j["best"] = best ? Study::trial_json(*best) : nlohmann::ordered_json();
    j["pareto_size"] = front.size();
    j["hypervolume"] = hv ? nlohmann::ordered_json(*hv) : nlohmann::ordered_json();
    j["reference_point"] = ref;
    j["failure_reasons"] = nlohmann::ordered_json::array();
    for (const auto& [why, n] : reasons)
      j["failure_reasons"].push_back({{"reason", why}, {"trials", n}});
    j["results"] = {dir + "/trials.jsonl", dir + "/pareto.json", dir + "/best.json"};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%zu trials finished (%zu failed), stopped: %s\n", summary.finished, summary.failed,
                summary.stopped_because.c_str());
    if (best)
      std::printf("best: trial %lld, %s = %s\n", static_cast<long long>(best->id),
                  objectives[0].name.c_str(), fmt(best->values.at(objectives[0].name)).c_str());
    if (hv) {
      std::string r;
      for (double x : ref) r += (r.empty() ? "" : ", ") + fmt(x);
      std::printf(
          "pareto set: %zu trials, hypervolume %s (minimised objectives, reference point [%s])\n",
          front.size(), fmt(*hv).c_str(), r.c_str());
    }
    std::printf("results: %s/trials.jsonl, %s/pareto.json, %s/best.json\n", dir.c_str(),
                dir.c_str(), dir.c_str());
  }
  std::fflush(stdout);
  if (summary.interrupted) {
    std::fprintf(stderr, "%s\n", interrupted_text(summary.finished, dir).c_str());
    return 130;
  }
  if (none_ok) {
    std::fprintf(stderr, "flexnas: error: no trial succeeded (%zu failed); most common reasons:\n",
                 summary.ran);
    for (std::size_t i = 0; i < reasons.size() && i < 3; ++i)
      std::fprintf(stderr, "  %zu x %s\n", reasons[i].second, one_line(reasons[i].first).c_str());
    return 1;
  }
  return 0;
}

}  // namespace flexnas::cli
