// Evaluator process groups on interrupt, and the stdout cap of evaluator programs.
#include <signal.h>

#include <catch2/catch.hpp>

#include "evaluators/interrupt.hpp"
#include "evaluators/subprocess.hpp"

using namespace flexnas;

namespace {
Subprocess::Clock::time_point in_seconds(int s) {
  return Subprocess::Clock::now() + std::chrono::seconds(s);
}
}  // namespace

TEST_CASE("a signal to the registered groups reaches an evaluator's background children") {
  Subprocess p("sleep 30 & echo started; wait", {});
  REQUIRE(p.exchange(
              "", true, [](const std::string& s) { return s.find('\n') != std::string::npos; },
              in_seconds(10)) == Subprocess::Io::kDone);
  CHECK(signal_process_groups(SIGTERM) >= 1);
  // The shell waits for sleep: it can only end this soon if the signal reached both.
  REQUIRE(p.wait(in_seconds(10)));
  CHECK(p.status_text().find("killed by signal 15") == 0);
  CHECK(signal_process_groups(SIGTERM) == 0);  // reaped groups are no longer registered
}

TEST_CASE("a group started after an interrupt is killed at once") {
  request_interrupt();
  Subprocess p("sleep 30", {});
  REQUIRE(p.wait(in_seconds(10)));
  CHECK(p.status_text().find("killed by signal 9") == 0);
  clear_interrupt();
  CHECK_FALSE(interrupt_requested());
}

TEST_CASE("an evaluator's stdout is capped") {
  Subprocess p("yes", {});
  const auto io = p.exchange(
      "", true, [](const std::string&) { return false; }, in_seconds(20));
  CHECK(io == Subprocess::Io::kOverflow);
  CHECK(p.stdout_overflowed());
  CHECK(p.out().size() <= Subprocess::kStdoutLimit + 4096);
  p.kill();
}
