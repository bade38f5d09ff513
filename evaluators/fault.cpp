#include "evaluators/fault.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace flexnas {
namespace {

class FaultEvaluator : public Evaluator {
 public:
  explicit FaultEvaluator(const Options& o)
      : opts_(o.values()), every_(o.integer_as<int>("every")) {
    mode_ = o.text("mode");
  }
  std::string name() const override { return "fault"; }
  std::vector<ValueSpec> provides() const override {
    return {{"fault_value", "count", Direction::kMinimize, "seed % 97 (test evaluator)"}};
  }
  EvalResult evaluate(const Architecture&, const EvalContext& ctx) override {
    if (mode_ != "ok" && ctx.seed % static_cast<std::uint64_t>(every_) == 0) fail();
    return {EvalStatus::kOk, {{"fault_value", static_cast<double>(ctx.seed % 97)}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  void fail() const {
    if (mode_ == "segv") {
      std::signal(SIGSEGV, SIG_DFL);  // past sanitizer handlers: a plain crash
      std::raise(SIGSEGV);
    } else if (mode_ == "abort") {
      std::signal(SIGABRT, SIG_DFL);
      std::fputs("fault: aborting on purpose\n", stderr);
      std::abort();
    } else if (mode_ == "hang") {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    } else if (mode_ == "oom") {
      // Only under a memory limit: without one this would take the machine's memory.
      rlimit lim{};
      ::getrlimit(RLIMIT_AS, &lim);
      if (lim.rlim_cur == RLIM_INFINITY)
        throw std::runtime_error("fault: mode=oom needs a memory limit (--eval-memory)");
      std::vector<std::unique_ptr<char[]>> blocks;
      for (;;) {
        blocks.emplace_back(new char[64 << 20]);
        std::memset(blocks.back().get(), 1, 64 << 20);
      }
    } else if (mode_ == "garbage") {
      std::fflush(stdout);
      const char junk[] = "{\"ok\": tru\xff garbage\n";
      [[maybe_unused]] auto w = ::write(1, junk, sizeof junk - 1);
      ::_exit(0);
    }
  }
  std::map<std::string, std::string> opts_;
  std::string mode_;
  int every_;
};

}  // namespace

void register_fault(EvaluatorRegistry& r) {
  const char* on = std::getenv("FLEXNAS_TEST_EVALUATORS");
  if (!on || std::string(on) != "1") return;
  r.add({"fault",
         "test only: crashes, aborts, hangs, runs out of memory or prints garbage on every "
         "trial whose seed is a multiple of every",
         {OptionSpec::choice("mode", "ok", {"segv", "abort", "hang", "oom", "garbage", "ok"},
                             "how the trial fails"),
          OptionSpec::integer("every", 1, 1, 1'000'000,
                              "fail trials whose seed is a multiple of this")},
         [](const auto& o) { return std::make_unique<FaultEvaluator>(o); }});
}

}  // namespace flexnas
