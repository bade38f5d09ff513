// external: a user's program as a cost model. It reads a model dict (one JSON line) on
// stdin and answers one JSON object of values on stdout; oneshot starts it per
// architecture, worker keeps one process per evaluator instance for many requests.
#include <cmath>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/subprocess.hpp"

namespace flexnas {
namespace {

double seconds_option(const Options& o, const std::string& key) {
  const double x = o.real(key);
  if (!(x > 0))
    throw InputError(o.where() + ": option " + key + ": " + quote_input(o.text(key)) +
                     " is not a number of seconds in (0, 86400]");
  return x;
}

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

class ExternalEvaluator : public Evaluator {
 public:
  explicit ExternalEvaluator(const Options& o) : opts_(o.values()) {
    cmd_ = opts_.at("cmd");
    if (cmd_.find_first_not_of(" \t") == std::string::npos)
      throw InputError("evaluator external: option cmd=COMMAND is required (run with /bin/sh -c)");
    values_ = parse_value_list(opts_.at("values"), "external");
    timeout_ = seconds_option(o, "timeout");
    start_timeout_ = seconds_option(o, "start_timeout");
    worker_ = o.text("mode") == "worker";
    envelope_ = o.text("input") == "envelope";
  }

  std::string name() const override { return "external"; }
  std::vector<ValueSpec> provides() const override { return values_; }
  std::map<std::string, std::string> options() const override { return opts_; }

  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    std::lock_guard lock(mu_);
    std::string line;
    if (envelope_) {
      nlohmann::ordered_json j;
      j["model"] = to_json(a);
      j["context"] = nlohmann::ordered_json::parse(context_json(ctx));
      line = j.dump();
    } else {
      line = to_string(a);
    }
    line += "\n";
    try {
      return worker_ ? evaluate_worker(line, ctx) : evaluate_oneshot(line, ctx);
    } catch (const std::runtime_error& e) {  // the shell could not be started
      return failed(e.what());
    }
  }

 private:
  static EvalResult failed(std::string why) {
    EvalResult r;
    r.status = EvalStatus::kFailed;
    r.message = std::move(why);
    return r;
  }

  static std::vector<std::string> env_of(const EvalContext& ctx, bool worker) {
    std::vector<std::string> env = {
        "FLEXNAS_SEQ=" + std::to_string(ctx.seq), "FLEXNAS_BATCH=" + std::to_string(ctx.batch),
        "FLEXNAS_THREADS=" + std::to_string(ctx.threads), "FLEXNAS_CACHE_DIR=" + ctx.cache_dir,
        std::string("FLEXNAS_MODE=") + (worker ? "worker" : "oneshot")};
    if (!worker) env.push_back("FLEXNAS_SEED=" + std::to_string(ctx.seed));
    return env;
  }

  static std::string with_stderr(std::string what, const Subprocess& p) {
    const auto tail = p.stderr_tail();
    return tail.empty() ? what : what + ": " + tail;
  }

  static std::string overflow_text() {
    return "wrote more than " + std::to_string(Subprocess::kStdoutLimit >> 20) +
           " MiB on stdout without a complete answer";
  }

  EvalResult evaluate_oneshot(const std::string& line, const EvalContext& ctx) {
    const auto deadline =
        Subprocess::Clock::now() + std::chrono::duration_cast<Subprocess::Clock::duration>(
                                       std::chrono::duration<double>(timeout_));
    Subprocess p(cmd_, env_of(ctx, false));
    const auto io = p.exchange(
        line, true, [](const std::string&) { return false; }, deadline);
    if (io == Subprocess::Io::kOverflow) {
      p.kill();
      return failed(with_stderr(overflow_text(), p));
    }
    if (io == Subprocess::Io::kTimeout || !p.wait(deadline)) {
      p.kill();
      return failed(with_stderr("timed out after " + fmt_seconds(timeout_) + " s", p));
    }
    if (!p.exited_ok()) return failed(with_stderr(p.status_text(), p));
    auto r = values_from_answer(p.out(), values_);
    if (r.status != EvalStatus::kOk) r.message = with_stderr(r.message, p);
    return r;
  }

  EvalResult evaluate_worker(const std::string& line, const EvalContext& ctx) {
    auto now = Subprocess::Clock::now();
    double allowed = timeout_;
    if (proc_ && !proc_->running()) proc_.reset();  // died between requests: start afresh
    if (!proc_) {
      proc_ = std::make_unique<Subprocess>(cmd_, env_of(ctx, true));
      allowed += start_timeout_;
    }
    const auto deadline = now + std::chrono::duration_cast<Subprocess::Clock::duration>(
                                    std::chrono::duration<double>(allowed));
    auto& p = *proc_;
    p.out().clear();
    const auto io = p.exchange(
        line, false, [](const std::string& s) { return s.find('\n') != std::string::npos; },
        deadline);
    if (io == Subprocess::Io::kTimeout) {
      p.kill();
      auto why = with_stderr("timed out after " + fmt_seconds(allowed) +
                                 " s (worker killed, restarted on the next request)",
                             p);
      proc_.reset();
      return failed(why);
    }
    if (io == Subprocess::Io::kOverflow) {
      p.kill();
      auto why =
          with_stderr(overflow_text() + " (worker killed, restarted on the next request)", p);
      proc_.reset();
      return failed(why);
    }
    if (io == Subprocess::Io::kEof) {
      // The worker closed stdout or exited without a full answer line.
      if (!p.wait(Subprocess::Clock::now() + std::chrono::milliseconds(500))) p.kill();
      auto why = with_stderr("worker ended (" + p.status_text() + ") before answering", p);
      proc_.reset();
      return failed(why);
    }
    const auto nl = p.out().find('\n');
    const std::string answer = p.out().substr(0, nl);
    p.out().erase(0, nl + 1);
    auto r = values_from_answer(answer, values_);
    if (r.status != EvalStatus::kOk) {
      r.message = with_stderr(r.message, p);
      // Not a JSON object: the stream may be out of step with our requests; restart.
      const auto j = nlohmann::json::parse(answer, nullptr, false);
      if (j.is_discarded() || !j.is_object()) proc_.reset();
    }
    return r;
  }

  std::map<std::string, std::string> opts_;
  std::string cmd_;
  std::vector<ValueSpec> values_;
  double timeout_ = 60, start_timeout_ = 60;
  bool worker_ = false, envelope_ = false;
  std::mutex mu_;
  std::unique_ptr<Subprocess> proc_;
};

}  // namespace

void register_external(EvaluatorRegistry& r) {
  r.add({"external",
         "a program as cost model: model dict JSON line on stdin, JSON object of values on stdout",
         {OptionSpec::text("cmd", "", "command, run with /bin/sh -c"),
          OptionSpec::text("values", "", "NAME:min|max,... the values the program answers"),
          OptionSpec::real("timeout", 60, 0, 86400,
                           "seconds per architecture; the process group is killed after it"),
          OptionSpec::choice("mode", "oneshot", {"oneshot", "worker"},
                             "oneshot (a process per architecture) or worker (one persistent "
                             "process)"),
          OptionSpec::real("start_timeout", 60, 0, 86400,
                           "worker mode: extra seconds for the request that starts the worker"),
          OptionSpec::choice(
              "input", "model", {"model", "envelope"},
              "model (the model dict line) or envelope ({\"model\":...,\"context\":...})")},
         [](const auto& o) { return std::make_unique<ExternalEvaluator>(o); }});
}

}  // namespace flexnas
