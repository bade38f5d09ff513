// flexnas ask | tell: drive a study from outside (your own training, another language);
// the logic is search/ask_tell.hpp, this file reads options and prints (docs/python.md).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/cli_definition.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "search/ask_tell.hpp"

namespace flexnas::cli {
namespace {

// How long an ask or tell waits for another process (a parallel worker's ask or tell, or a
// running search) to let go of the study before it gives up.
constexpr double kWaitLockSeconds = 60;

// Exit statuses of ask besides 0 (a trial) and 2 (bad input).
constexpr int kExitDone = 3;  // the study is complete: budget used, pool exhausted, stopped
constexpr int kExitWait = 4;  // nothing to hand out now: the open batch waits for its values

// Not "standard": a layer mixing operations has no standard form, and the trial would be
// handed out before that error.
DictForm form_of(const std::string& f) {
  return f == "hetero" ? DictForm::kHetero : DictForm::kAuto;
}

std::string values_text(const std::string& text) {
  if (text.empty() || text[0] != '@') return text;
  std::ifstream in(text.substr(1));
  if (!in) throw InputError("--values: cannot read file '" + text.substr(1) + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string id_list(const std::vector<std::pair<std::int64_t, double>>& out) {
  std::string s;
  for (const auto& [id, at] : out) s += (s.empty() ? "" : ", ") + std::to_string(id);
  return s;
}

}  // namespace

void add_ask_tell_commands(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand(
        "ask",
        "hand out the next trial of a study to evaluate yourself (then: flexnas tell); the "
        "first call creates the study from the same options as search");
    cmd->footer(
        "Prints one JSON object: {\"trial\": ID, \"batch\": B, \"given\": N, \"hash\": ..., "
        "\"model\": {...}}.\n"
        "Exit status: 0 a trial; 3 the study is complete (budget used, pool exhausted or a "
        "stop rule met); 4 no trial now: every trial of the open batch is out and the policy "
        "needs their values first (tell them, wait for their --lease, or --reissue); 2 bad "
        "input.\n"
        "A loop: while t=$(flexnas ask --study S --reissue); do ...; flexnas tell --study S "
        "--trial ID --values '{\"accuracy\": 0.81}'; done  (see docs/python.md)");
    auto dir = std::make_shared<std::string>();
    auto defn = std::make_shared<DefinitionArgs>();
    auto lease = std::make_shared<double>(0);
    auto reissue = std::make_shared<bool>(false);
    auto form = std::make_shared<std::string>("auto");
    cmd->add_option("--study", *dir,
                    "study directory: created by the first ask (which then needs --space or "
                    "--pool and --objective), reopened by later ones")
        ->required();
    defn->add(cmd, false,
              "evaluators flexnas runs itself when a trial is told, adding their values to "
              "the told ones (e.g. params for a constraint): ");
    cmd->add_option("--lease", *lease,
                    "a trial handed out and not told for so many seconds is handed out again "
                    "(0: only with --reissue); stored with the study")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_flag("--reissue", *reissue,
                  "when no fresh trial is left, hand out again the trial handed out longest "
                  "ago and not told yet (a worker that died), lease or not");
    cmd->add_option("--form", *form,
                    "model-dict form of \"model\": auto (standard when every layer is "
                    "homogeneous), hetero (FlexiBERT 2.0 per-head strings, always)")
        ->check(CLI::IsMember({"auto", "hetero"}))
        ->capture_default_str();
    cmd->callback([=] {
      std::unique_ptr<AskTell> at;
      std::error_code ec;
      if (!std::filesystem::exists(std::filesystem::path(*dir) / "study.sqlite", ec)) {
        if (defn->def.objectives.empty() || (defn->def.space.empty() && defn->pool.empty()))
          throw InputError("'" + *dir +
                           "' holds no study yet: the first ask creates it and needs --space "
                           "(or --pool) and --objective");
        auto c = defn->config();
        EvaluatorRegistry registry;
        register_builtins(registry);
        told_value_names(c, registry);  // unknown evaluators, named as written
        DefinitionArgs::make_paths_absolute(c);
        at = AskTell::create(*dir, c, *lease);
      } else {
        at = AskTell::open(*dir, kWaitLockSeconds);
        defn->check_agrees(at->study().config(), *dir);
        if (cmd->count("--lease") && *lease != at->lease_seconds())
          throw InputError("--lease disagrees with the definition of study " + *dir +
                           " (lease: " + full_precision(at->lease_seconds()) +
                           " s); leave it out, or use another --study");
      }
      const auto r = at->ask(*reissue);
      nlohmann::ordered_json j;
      switch (r.status) {
        case AskResult::Status::kTrial:
          j["trial"] = r.trial.id;
          j["batch"] = r.trial.batch;
          j["given"] = r.times_given;
          j["hash"] = r.trial.hash;
          j["model"] = to_json(r.trial.arch, form_of(*form));
          std::cout << j.dump() << std::endl;
          return;
        case AskResult::Status::kDone: {
          j["done"] = r.done_because;
          std::cout << j.dump() << std::endl;
          std::string why =
              r.done_because == "budget"
                  ? "its budget of " +
                        std::to_string(at->study().config().at("budget").get<std::size_t>()) +
                        " trials is used"
              : r.done_because == "exhausted" ? "every candidate was proposed"
                                              : "stopped: " + r.done_because;
          std::fprintf(stderr,
                       "flexnas: study %s is complete: %s (see flexnas study show --study %s)\n",
                       dir->c_str(), why.c_str(), dir->c_str());
          throw CLI::RuntimeError(kExitDone);
        }
        case AskResult::Status::kWait: {
          j["wait"] = nlohmann::ordered_json::array();
          for (const auto& [id, when] : r.out) j["wait"].push_back(id);
          std::cout << j.dump() << std::endl;
          std::fprintf(stderr,
                       "flexnas: no trial to hand out now: trial(s) %s are out and not told; the "
                       "policy needs their values first (tell them, wait for their lease, or "
                       "ask --reissue)\n",
                       id_list(r.out).c_str());
          throw CLI::RuntimeError(kExitWait);
        }
      }
    });
  }
  {
    auto* cmd = app.add_subcommand(
        "tell", "record the values (or the failure) of a trial handed out by flexnas ask");
    auto dir = std::make_shared<std::string>();
    auto trial = std::make_shared<std::int64_t>(-1);
    auto values = std::make_shared<std::string>();
    auto failed = std::make_shared<std::string>();
    cmd->footer(
        "Prints the recorded trial as one JSON line (as in the study's trials.jsonl). The "
        "values must hold every objective and constraint of the study; other names are "
        "kept too. A trial is told once: telling it again, or a trial ask did not hand out, "
        "is an error (exit 2).");
    cmd->add_option("--study", *dir, "study directory")->required();
    cmd->add_option("--trial", *trial, "the trial's id (\"trial\" in ask's output)")->required();
    auto* v = cmd->add_option("--values", *values,
                              "JSON object of value name -> number, e.g. '{\"accuracy\": 0.81}', "
                              "or @file");
    auto* f = cmd->add_option("--failed", *failed,
                              "the trial failed, for this reason (it counts toward the budget; "
                              "policies skip it)");
    v->excludes(f);
    auto trust = std::make_shared<bool>(false);
    cmd->add_flag("--trust", *trust,
                  "run the external commands and plugins of a study directory that belongs to "
                  "another user (see flexnas study show)");
    cmd->callback([=] {
      if (!cmd->count("--values") && !cmd->count("--failed"))
        throw InputError("give --values '{\"NAME\": NUMBER, ...}' or --failed REASON");
      auto at = AskTell::open(*dir, kWaitLockSeconds);
      // The study's own evaluators run at tell: the checks resume makes before running them.
      const auto specs = at->study().config().at("evaluators").get<std::vector<std::string>>();
      check_trust(*dir, specs, *trust);
      check_evaluator_files(specs);
      Trial t;
      if (cmd->count("--failed")) {
        t = at->tell_failed(*trial, *failed);
      } else {
        const auto text = values_text(*values);
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded())
          throw InputError("--values: malformed JSON (want e.g. '{\"accuracy\": 0.81}')");
        t = at->tell(*trial, values_from_json(j));
      }
      std::cout << Study::trial_json(t, at->setup().constraints).dump() << std::endl;
    });
  }
}

}  // namespace flexnas::cli
