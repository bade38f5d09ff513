// flexnas search | resume | export
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/cli_definition.hpp"
#include "apps/cli_export.hpp"
#include "apps/cli_search_output.hpp"
#include "apps/commands.hpp"
#include "evaluators/interrupt.hpp"
#include "search/ask_tell.hpp"
#include "search/runner.hpp"
#ifdef FLEXNAS_HAVE_MPI
#include "search/mpi_executor.hpp"
#endif
#include "core/error.hpp"

namespace flexnas::cli {
namespace {

struct SearchSetup {
  nlohmann::json config;
  std::unique_ptr<SearchDomain> domain;
  std::vector<Objective> objectives;
  std::vector<Constraint> constraints;
};

// Rebuilds everything a study's config defines; validates names against the evaluators.
SearchSetup setup_from_config(const nlohmann::json& c, const EvaluatorRegistry& registry) {
  auto base = study_setup(c);
  SearchSetup s{c, std::move(base.domain), std::move(base.objectives), std::move(base.constraints)};
  // Every objective and constraint must be provided by some evaluator.
  std::set<std::string> provided;
  for (const auto& e : c.at("evaluators")) {
    auto ev = registry.create(e.get<std::string>());
    for (const auto& v : ev->provides()) provided.insert(v.name);
  }
  auto check = [&](const std::string& name, const char* what) {
    if (provided.count(name)) return;
    std::string names;
    for (const auto& p : provided) names += (names.empty() ? "" : ", ") + p;
    throw InputError(std::string(what) + " '" + name +
                     "' is provided by no evaluator (values: " + names + ")");
  };
  for (const auto& o : s.objectives) check(o.name, "objective");
  for (const auto& k : s.constraints) check(k.name, "constraint");
  if (c.contains("stop_at"))
    for (const auto& k : c.at("stop_at"))
      check(Constraint::parse(k.get<std::string>()).name, "--stop-at value");
  return s;
}

// Where trials run: --executor local (threads) or mpi (ranks 1..K-1, see docs/cluster.md).
struct ExecutorChoice {
  std::string kind = "local";
  double rank_timeout = 60;
#ifdef FLEXNAS_HAVE_MPI
  std::shared_ptr<MpiSession> mpi;
#endif
};

void add_executor_options(CLI::App* cmd, std::shared_ptr<ExecutorChoice> ex) {
  cmd->add_option("--executor", ex->kind,
                  "local: --workers threads; mpi: evaluate on MPI ranks 1..K-1 (start with "
                  "mpirun -n K or srun -n K)")
      ->check(CLI::IsMember({"local", "mpi"}))
      ->capture_default_str();
  cmd->add_option("--rank-timeout", ex->rank_timeout,
                  "with --executor mpi: a rank silent for so many seconds (busy ranks send a "
                  "heartbeat every second) is dropped and its trial re-run elsewhere")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void add_output_options(CLI::App* cmd, OutputMode& mode) {
  cmd->add_flag("--quiet", mode.quiet,
                "print the summary only: no progress, no line per trial or per failure");
  cmd->add_flag("--json", mode.json, "print the summary as one JSON object (and nothing else)");
}

// With --executor mpi: initialises MPI (only then); true on worker ranks, which have served
// their trials when this returns and must do nothing else.
bool start_executor(ExecutorChoice& ex) {
  if (ex.kind != "mpi") return false;
#ifdef FLEXNAS_HAVE_MPI
  ex.mpi = std::make_shared<MpiSession>();
  if (ex.mpi->rank() == 0) return false;
  EvaluatorRegistry registry;
  register_builtins(registry);
  mpi_worker_loop(*ex.mpi, registry);
  return true;
#else
  throw InputError("--executor mpi: this flexnas was built without MPI (Open MPI + Boost.MPI)");
#endif
}

// Rank 0 after a successful run: stop the workers now and end MPI.
void finish_executor(ExecutorChoice& ex) {
#ifdef FLEXNAS_HAVE_MPI
  if (ex.mpi) {
    ex.mpi->succeeded();
    ex.mpi.reset();
  }
#else
  (void)ex;
#endif
}

struct RunChoice {
  int workers = 1;
  double max_seconds = 0;
  bool retry_failed = false;
  OutputMode mode;
};

int run_and_report(Study& study, SearchSetup& s, const EvaluatorRegistry& registry,
                   const RunChoice& run, const ExecutorChoice& ex) {
  const auto& c = s.config;
  const int workers = run.workers;
  // Before any evaluator thread exists, so that every thread blocks SIGINT and SIGTERM and
  // only the guard's thread sees them (docs/reliability.md).
  std::atomic<std::size_t> finished{0};
  for (const auto& t : study.trials()) finished += t.finished();
  InterruptGuard guard([&] {
    std::fprintf(stderr, "\n%s\n", interrupted_text(finished.load(), study.dir()).c_str());
  });
  std::vector<std::string> specs;
  for (const auto& e : c.at("evaluators")) specs.push_back(e.get<std::string>());
  EvaluatorSet evaluators(registry, specs, workers);
  evaluators.set_study_dir(study.dir());
  if (c.contains("isolate") && c.at("isolate").value("enabled", false)) {
    IsolateOptions iso;
    iso.enabled = true;
    iso.timeout_seconds = c.at("isolate").value("timeout_s", 0.0);
    iso.memory_mb = c.at("isolate").value("memory_mb", std::size_t{0});
    evaluators.set_isolation(iso);
  }
  PolicyRegistry policies;
  register_builtin_policies(policies);
  PolicyContext ctx{s.domain.get(), s.objectives, s.constraints, c.at("seed").get<std::uint64_t>()};
  auto policy = policies.create(c.at("policy").get<std::string>(), ctx);
  RunOptions opt;
  opt.budget = c.at("budget").get<std::size_t>();
  opt.batch = c.at("batch").get<std::size_t>();
  opt.seed = ctx.seed;
  opt.workers = workers;
  opt.max_seconds = run.max_seconds;
  opt.retry_failed = run.retry_failed;
  opt.progress = search_progress(s.objectives, run.mode, finished);
  if (policy->random_start() >= opt.budget && finished.load() < opt.budget)
    std::fprintf(stderr,
                 "flexnas: warning: policy %s: %s=%zu is not below the budget (%zu): it will "
                 "only ever sample its first generation at random\n",
                 policy->name().c_str(), policy->random_start_option().c_str(),
                 policy->random_start(), opt.budget);
  if (c.contains("stop_at") && !c.at("stop_at").empty()) {
    std::vector<Constraint> target;
    for (const auto& k : c.at("stop_at")) target.push_back(Constraint::parse(k.get<std::string>()));
    opt.stop_when.push_back(stop_at_target(std::move(target)));
  }
  if (c.value("patience", std::size_t{0}) > 0)
    opt.stop_when.push_back(stop_after_patience(c.at("patience")));
  study.rewrite_exports(s.objectives, s.constraints);
  std::unique_ptr<Executor> executor;
#ifdef FLEXNAS_HAVE_MPI
  if (ex.mpi)
    executor = std::make_unique<MpiExecutor>(*ex.mpi, specs, opt.seed, ex.rank_timeout, evaluators);
#endif
  (void)ex;
  opt.executor = executor.get();
  const auto summary =
      run_search(study, *policy, *s.domain, evaluators, s.objectives, s.constraints, opt);
  executor.reset();  // MPI workers stop now
  return report_summary(study, summary, s.objectives, s.constraints, run.mode);
}

std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

}  // namespace

void add_search_commands(CLI::App& app) {
  {
    auto* cmd =
        app.add_subcommand("search",
                           "run a search: ask a policy for architectures, evaluate them, keep "
                           "everything in a resumable study directory");
    auto defn = std::make_shared<DefinitionArgs>();
    auto workers = std::make_shared<int>(1);
    auto max_time = std::make_shared<double>(0);
    auto out = std::make_shared<std::string>("study");
    auto ex = std::make_shared<ExecutorChoice>();
    auto isolate = std::make_shared<bool>(false);
    auto eval_timeout = std::make_shared<double>(0);
    auto eval_memory = std::make_shared<std::size_t>(0);
    auto mode = std::make_shared<OutputMode>();
    defn->add(cmd, true, "");
    cmd->get_option("--objective")->required();
    cmd->add_option("--workers", *workers, "parallel evaluations")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--max-time", *max_time,
                    "stop this run after so many seconds (resume continues)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--isolate", *isolate,
                  "run each evaluation in a forked child: a crash, hang or out-of-memory "
                  "becomes a failed trial (kept by resume)");
    cmd->add_option("--eval-timeout", *eval_timeout,
                    "with --isolate: kill an evaluation after so many seconds (0: none)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--eval-memory", *eval_memory,
                    "with --isolate: address space (MB) an evaluation may add (0: no limit)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--study,--out", *out,
                    "study directory (created; must not hold a study); --out is the same")
        ->capture_default_str();
    add_output_options(cmd, *mode);
    add_executor_options(cmd, ex);
    cmd->callback([=] {
      if (start_executor(*ex)) return;
      EvaluatorRegistry registry;
      register_builtins(registry);
      auto c = defn->config();
      if ((*eval_timeout > 0 || *eval_memory > 0) && !*isolate)
        throw InputError("--eval-timeout and --eval-memory need --isolate");
      if (*isolate)
        c["isolate"] = {
            {"enabled", true}, {"timeout_s", *eval_timeout}, {"memory_mb", *eval_memory}};
      auto setup = setup_from_config(c, registry);
      {  // fail on a bad policy name before creating the study directory
        PolicyRegistry policies;
        register_builtin_policies(policies);
        policies.create(c["policy"].get<std::string>(),
                        PolicyContext{setup.domain.get(), setup.objectives, setup.constraints,
                                      c["seed"].get<std::uint64_t>()});
      }
      DefinitionArgs::make_paths_absolute(c);  // resume runs anywhere
      setup.config["evaluators"] = c["evaluators"];
      auto study =
          Study::create(*out, c);  // policies claim proposals only in ask(): the domain is fresh
      const int rc =
          run_and_report(*study, setup, registry, {*workers, *max_time, false, *mode}, *ex);
      finish_executor(*ex);
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
  {
    auto* cmd = app.add_subcommand("resume",
                                   "continue a study where it stopped: finished trials are kept, "
                                   "interrupted ones re-run");
    auto dir = std::make_shared<std::string>();
    auto workers = std::make_shared<int>(1);
    auto budget = std::make_shared<std::size_t>(0);
    auto max_time = std::make_shared<double>(0);
    auto trust = std::make_shared<bool>(false);
    cmd->add_option("--study", *dir, "study directory")->required();
    cmd->add_flag("--trust", *trust,
                  "run the external commands and plugins of a study directory that belongs to "
                  "another user (see flexnas study show)");
    cmd->add_option("--workers", *workers, "parallel evaluations")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--budget", *budget, "raise the study's budget to this many finished trials");
    cmd->add_option("--max-time", *max_time, "stop this run after so many seconds")
        ->check(CLI::NonNegativeNumber);
    auto retry = std::make_shared<bool>(false);
    cmd->add_flag("--retry-failed", *retry,
                  "re-run every failed trial (the same architecture, as a new trial; the "
                  "failed one stays in the study)");
    auto mode = std::make_shared<OutputMode>();
    add_output_options(cmd, *mode);
    auto ex = std::make_shared<ExecutorChoice>();
    add_executor_options(cmd, ex);
    cmd->callback([=] {
      if (start_executor(*ex)) return;
      auto study = Study::open(*dir);
      EvaluatorRegistry registry;
      register_builtins(registry);
      auto c = study->config();
      check_trust(*dir, c.at("evaluators").get<std::vector<std::string>>(), *trust);
      check_evaluator_files(c.at("evaluators").get<std::vector<std::string>>());
      if (c.contains("ask_tell")) {  // values told by the user: resume cannot produce them
        std::string told;
        for (const auto& n : told_value_names(c, registry)) told += (told.empty() ? "" : ", ") + n;
        if (!told.empty())
          throw InputError("study " + *dir + " gets its values (" + told +
                           ") from flexnas tell: continue it with flexnas ask --study " + *dir);
      }
      if (*budget) {
        if (*budget < c.at("budget").get<std::size_t>())
          throw InputError("--budget cannot lower the study's budget");
        c["budget"] = *budget;
      }
      auto setup = setup_from_config(c, registry);
      const int rc =
          run_and_report(*study, setup, registry, {*workers, *max_time, *retry, *mode}, *ex);
      finish_executor(*ex);
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
  {
    auto* cmd = app.add_subcommand("export",
                                   "write a study's best, Pareto or all trials as JSON, CSV, "
                                   "FlexiBERT model dicts, Hugging Face configs or ONNX graphs");
    auto dir = std::make_shared<std::string>();
    auto what = std::make_shared<std::string>("best");
    auto format = std::make_shared<std::string>("json");
    auto out = std::make_shared<std::string>("-");
    auto opt = std::make_shared<ExportOptions>();
    cmd->add_option("--study", *dir, "study directory")->required();
    cmd->add_option("--what", *what, "best, pareto or all")
        ->check(CLI::IsMember({"best", "pareto", "all"}))
        ->capture_default_str();
    cmd->add_option(
           "--format", *format,
           "json (trials), csv (trials), flexibert (model dicts only), hf (config.json; "
           "an array for pareto/all), onnx (-o a file for best, a directory for pareto/all)")
        ->check(CLI::IsMember({"json", "csv", "flexibert", "hf", "onnx"}))
        ->capture_default_str();
    cmd->add_option("-o,--out", *out,
                    "output file ('-' for stdout), or directory (onnx, pareto/all)")
        ->capture_default_str();
    add_export_options(cmd, *opt);
    cmd->callback([=] {
      auto study = Study::open(*dir, false);
      const auto& c = study->config();
      std::vector<Objective> objs;
      std::vector<Constraint> cons;
      for (const auto& o : c.at("objectives"))
        objs.push_back(Objective::parse(o.get<std::string>()));
      for (const auto& k : c.at("constraints"))
        cons.push_back(Constraint::parse(k.get<std::string>()));
      auto all = study->trials();
      std::vector<Trial> sel;
      if (*what == "all") {
        for (const auto& t : all)
          if (t.finished()) sel.push_back(t);
      } else if (*what == "pareto") {
        sel = pareto_set(all, objs, cons);
      } else if (auto b = best_trial(all, objs, cons)) {
        sel.push_back(*b);
      } else {
        throw InputError("study " + *dir + " has no feasible finished trial yet");
      }
      if (*format == "hf" || *format == "onnx") {
        std::vector<std::pair<std::string, Architecture>> archs;
        for (const auto& t : sel) archs.emplace_back("trial-" + std::to_string(t.id), t.arch);
        write_exports(archs, *format, *what == "best", *out, *opt);
        return;
      }
      std::string text;
      if (*format == "csv") {
        std::set<std::string> names;
        for (const auto& t : sel)
          for (const auto& [k, v] : t.values) names.insert(k);
        // Numbers in full precision (shortest round-trip form); feasibility and each
        // constraint's violation as in trials.jsonl.
        text = "id,status,hash";
        for (const auto& n : names) text += "," + n;
        text += ",feasible";
        for (const auto& k : cons) text += "," + csv_quote("violation:" + k.str());
        text += ",eval_seconds,policy_seconds,reason,model\n";
        for (const auto& t : sel) {
          text += std::to_string(t.id) + "," + (t.ok() ? "ok" : "failed") + "," + t.hash;
          for (const auto& n : names)
            text += "," + (t.values.count(n) ? full_precision(t.values.at(n)) : std::string());
          text += t.ok() && total_violation(t.values, cons) == 0 ? ",true" : ",false";
          for (const auto& k : cons) text += "," + full_precision(k.violation(t.values));
          text += "," + full_precision(t.eval_seconds) + "," + full_precision(t.policy_seconds) +
                  "," + csv_quote(t.reason) + "," + csv_quote(to_string(t.arch)) + "\n";
        }
      } else {
        nlohmann::ordered_json j = nlohmann::ordered_json::array();
        for (const auto& t : sel)
          j.push_back(*format == "flexibert" ? to_json(t.arch) : Study::trial_json(t, cons));
        text = (*what == "best" ? j[0].dump(2) : j.dump(2)) + "\n";
      }
      write_output(*out, text);
    });
  }
}

}  // namespace flexnas::cli
