#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>

#include "search/isolate.hpp"

using namespace flexnas;

namespace {
IsolateOptions on(double timeout = 0, std::size_t mb = 0) {
  IsolateOptions o;
  o.enabled = true;
  o.timeout_seconds = timeout;
  o.memory_mb = mb;
  return o;
}
}  // namespace

TEST_CASE("isolated evaluation returns the child's result", "[isolate]") {
  const auto r = run_isolated(
      [] {
        std::printf("chatter on stdout is ignored\n");
        return EvalResult{EvalStatus::kOk, {{"a", 1.5}, {"b", -2e300}}, ""};
      },
      on(10));
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("a") == 1.5);
  CHECK(r.values.at("b") == -2e300);
  const auto f = run_isolated([] { return EvalResult{EvalStatus::kFailed, {}, "diverged"}; }, on());
  CHECK(f.status == EvalStatus::kFailed);
  CHECK(f.message == "diverged");
}

TEST_CASE("isolated evaluation turns crashes, hangs and garbage into reasons", "[isolate]") {
  auto segv = run_isolated(
      [] {
        std::signal(SIGSEGV, SIG_DFL);
        std::raise(SIGSEGV);
        return EvalResult{};
      },
      on());
  CHECK(segv.status == EvalStatus::kFailed);
  CHECK(segv.message == "crashed: SIGSEGV (Segmentation fault)");

  auto hang = run_isolated(
      [] {
        std::this_thread::sleep_for(std::chrono::seconds(30));
        return EvalResult{};
      },
      on(0.2));
  CHECK(hang.message == "timed out after 0.2 s");

  auto code = run_isolated(
      [] {
        std::fputs("first line\nlast words\n\n", stderr);
        std::fflush(stderr);
        ::_exit(7);
        return EvalResult{};
      },
      on());
  CHECK(code.message == "evaluation process ended with exit status 7; stderr: last words");

  auto garbage = run_isolated(
      [] {
        std::fflush(stdout);
        [[maybe_unused]] auto w = ::write(1, "{\"ok\": 1}\n", 10);
        ::_exit(0);
        return EvalResult{};
      },
      on());
  CHECK(garbage.message == "unreadable result from the evaluation process (not a result object)");

  auto thrown = run_isolated([]() -> EvalResult { throw std::bad_alloc(); }, on());
  CHECK(thrown.message == "out of memory (std::bad_alloc)");
}

TEST_CASE("result JSON round-trips non-finite values and rejects garbage", "[isolate]") {
  EvalResult r{EvalStatus::kOk, {{"x", INFINITY}, {"y", 0.25}}, "m"};
  const auto back = eval_result_from_json(eval_result_to_json(r));
  CHECK(back.values.at("x") == INFINITY);
  CHECK(back.values.at("y") == 0.25);
  CHECK(back.message == "m");
  CHECK_THROWS(eval_result_from_json("{\"ok\": true, \"values\": {\"x\": [1]}}"));
  CHECK_THROWS(eval_result_from_json("nope"));
}
