#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "tests/evaluators/custom_test_util.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

namespace {

const auto kSmall =
    R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})";
const auto kConv =
    R"({"l":2,"o":["c","sa"],"h":[256,128],"n":[2,2],"f":[[1024],[512]],"p":["9","sdp"]})";

std::unique_ptr<Evaluator> make(const std::string& spec) {
  EvaluatorRegistry r;
  register_builtins(r);
  return r.create(spec);
}

EvalResult run(Evaluator& e, const char* model, std::uint64_t seed = 0) {
  EvalContext ctx;
  ctx.seed = seed;
  return e.evaluate(architecture_from_string(model), ctx);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// True once `pid` is gone (or a zombie waiting for init), polling up to 2 s.
bool process_gone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    if (!std::getline(stat, s)) return true;
    const auto close = s.rfind(')');
    if (close != std::string::npos && close + 2 < s.size() && s[close + 2] == 'Z') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

pid_t read_pid(const std::string& file) {
  std::ifstream in(file);
  long p = 0;
  in >> p;
  return static_cast<pid_t>(p);
}

}  // namespace

TEST_CASE("external_oneshot_reads_model_line_and_env", "[external]") {
  test::TempDir dir;
  const auto script =
      dir.write("good.sh",
                "read -r line\n"
                "printf '{\"chars\": %d, \"seed\": %s, \"seq\": %s, \"note\": \"ignored\"}\\n' "
                "${#line} \"$FLEXNAS_SEED\" \"$FLEXNAS_SEQ\"\n");
  auto e = make("external:cmd=sh " + script + ",values=chars:min,seed:max,seq:min");
  REQUIRE(e->provides().size() == 3);
  CHECK(e->provides()[1].direction == Direction::kMaximize);
  const auto r = run(*e, kSmall, 42);
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("chars") ==
        static_cast<double>(to_string(architecture_from_string(kSmall)).size()));
  CHECK(r.values.at("seed") == 42);
  CHECK(r.values.at("seq") == 128);
  CHECK(r.values.size() == 3);  // undeclared keys are not taken
}

TEST_CASE("external_failures_are_failed_results_with_reasons", "[external]") {
  test::TempDir dir;
  auto msg = [&](const std::string& body, const std::string& extra = "") {
    auto e = make("external:cmd=sh " + dir.write("p.sh", body) + ",values=cost:min" + extra);
    const auto r = run(*e, kSmall);
    CHECK(r.status == EvalStatus::kFailed);
    return r.message;
  };
  CHECK(msg("echo 'no kernel for h=128' >&2\nexit 3\n") == "exit status 3: no kernel for h=128");
  CHECK(msg("exit 4\n") == "exit status 4");
  // The shell of cmd itself killed by a signal; a script run by it ("sh p.sh") would be
  // reported by that shell as exit status 139.
  auto segv = make("external:cmd=kill -SEGV $$,values=cost:min");
  CHECK(run(*segv, kSmall).message == "killed by signal 11 (Segmentation fault)");
  CHECK(msg("kill -SEGV $$\n") == "exit status 139: Segmentation fault");
  CHECK(msg("echo hello\n") == "answer is not a JSON object: 'hello'");
  CHECK(msg("echo '[1, 2]'\n") == "answer is not a JSON object: '[1, 2]'");
  CHECK(msg("true\n") == "answer is empty");
  CHECK(msg("echo '{\"other\": 1}'\n") == "answer has no value 'cost': '{\"other\":1}'");
  CHECK(msg("echo '{\"cost\": \"fast\"}'\n") == "value 'cost' is not a number: '\"fast\"'");
  CHECK(msg("echo '{\"cost\": true}'\n") == "value 'cost' is not a number: 'true'");
  CHECK(msg("echo '{\"error\": \"shape not supported\"}'\n") ==
        "cost model reported an error: shape not supported");
  // Valid JSON but a failing exit status: the status wins.
  CHECK(msg("echo '{\"cost\": 1}'\nexit 1\n") == "exit status 1");
}

TEST_CASE("external_hang_is_killed_at_the_timeout_with_its_process_group", "[external]") {
  test::TempDir dir;
  const auto pidfile = dir.path() + "/bg.pid";
  // A background child keeps stdout open and the shell waits: both must die.
  auto e = make("external:cmd=sh " +
                dir.write("hang.sh", "sleep 30 &\necho $! > " + pidfile + "\nwait\n") +
                ",values=cost:min,timeout=1");
  const auto t0 = Clock::now();
  const auto r = run(*e, kSmall);
  const double s = seconds_since(t0);
  CHECK(r.status == EvalStatus::kFailed);
  CHECK(r.message == "timed out after 1 s");
  CHECK(s >= 0.9);
  CHECK(s < 3);
  CHECK(process_gone(read_pid(pidfile)));
  // A program that never reads stdin and sleeps forever with stdin open.
  auto e2 = make("external:cmd=sleep 30,values=cost:min,timeout=0.3");
  const auto t1 = Clock::now();
  CHECK(run(*e2, kSmall).message == "timed out after 0.3 s");
  CHECK(seconds_since(t1) < 2);
}

TEST_CASE("external_leader_exit_with_a_background_child_does_not_wait_for_it", "[external]") {
  test::TempDir dir;
  // The answer is printed, the shell exits, a background sleep still holds stdout.
  auto e = make("external:cmd=sh " + dir.write("bg.sh", "sleep 30 &\necho '{\"cost\": 7}'\n") +
                ",values=cost:min,timeout=20");
  const auto t0 = Clock::now();
  const auto r = run(*e, kSmall);
  CHECK(r.status == EvalStatus::kOk);
  CHECK(seconds_since(t0) < 2);
}

TEST_CASE("external_options_are_checked", "[external]") {
  CHECK_THROWS_WITH(make("external:values=a:min"), Catch::Contains("cmd=COMMAND is required"));
  CHECK_THROWS_WITH(make("external:cmd=true"), Catch::Contains("values=NAME:min|max"));
  CHECK_THROWS_WITH(make("external:cmd=true,values=a:low"),
                    Catch::Contains("'a:low' is not NAME:min or NAME:max"));
  CHECK_THROWS_WITH(make("external:cmd=true,values=a:min,a:max"), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(
      make("external:cmd=true,values=a:min,timeout=0"),
      "evaluator external: option timeout: '0' is not a number of seconds in (0, 86400]");
  CHECK_THROWS_WITH(make("external:cmd=true,values=a:min,timeout=x"),
                    "evaluator external: option timeout: 'x' is not a finite number in [0, 86400]");
  CHECK_THROWS_WITH(
      make("external:cmd=true,values=a:min,timeout=0x10"),
      "evaluator external: option timeout: '0x10' is not a finite number in [0, 86400]");
  CHECK_THROWS_WITH(make("external:cmd=true,values=a:min,mode=daemon"),
                    Catch::Contains("option mode: 'daemon' is not one of oneshot, worker"));
  CHECK_THROWS_WITH(make("external:cmd=true,values=a:min,bogus=1"),
                    Catch::Contains("unknown option 'bogus'"));
  CHECK_THROWS_AS(make("external:cmd=true,values=a:min,input=xml"), InputError);
  // Commas continue a value: two values, and a command with a comma.
  auto e = make("external:cmd=echo '{\"a\": 1, \"b\": 2}',values=a:min,b:max");
  REQUIRE(e->provides().size() == 2);
  CHECK(e->options().at("cmd") == "echo '{\"a\": 1, \"b\": 2}'");
  const auto r = run(*e, kSmall);
  REQUIRE(r.status == EvalStatus::kOk);
  CHECK(r.values.at("b") == 2);
  CHECK(EvaluatorSpec::parse(EvaluatorSpec{e->name(), e->options()}.str()).options == e->options());
}

TEST_CASE("external_envelope_carries_model_and_context", "[external]") {
  test::TempDir dir;
  const auto script =
      dir.write("env.sh",
                "read -r line\n"
                "case \"$line\" in '{\"model\":{\"l\":2'*'\"context\":{\"seed\":9,'*) "
                "echo '{\"ok\": 1}';; *) echo \"$line\" >&2; exit 1;; esac\n");
  auto e = make("external:cmd=sh " + script + ",values=ok:max,input=envelope");
  const auto r = run(*e, kSmall, 9);
  CHECK(r.message == "");
  CHECK(r.status == EvalStatus::kOk);
}

TEST_CASE("external_worker_serves_many_requests_and_restarts_after_a_crash", "[external]") {
  test::TempDir dir;
  // Counts requests; dies on a model with a convolution.
  const auto script =
      dir.write("worker.sh",
                "n=0\n"
                "while IFS= read -r line; do\n"
                "  case \"$line\" in *'\"c\"'*) echo 'conv unsupported' >&2; exit 5;; esac\n"
                "  n=$((n + 1))\n"
                "  printf '{\"n\": %d, \"pid\": %d}\\n' $n $$\n"
                "done\n");
  auto e = make("external:cmd=sh " + script + ",values=n:min,pid:min,mode=worker,timeout=5");
  double pid = 0;
  for (int i = 1; i <= 3; ++i) {
    const auto r = run(*e, kSmall);
    REQUIRE(r.status == EvalStatus::kOk);
    CHECK(r.values.at("n") == i);
    if (i == 1) pid = r.values.at("pid");
    CHECK(r.values.at("pid") == pid);  // the same process every time
  }
  const auto crash = run(*e, kConv);
  CHECK(crash.status == EvalStatus::kFailed);
  CHECK(crash.message == "worker ended (exit status 5) before answering: conv unsupported");
  const auto after = run(*e, kSmall);
  REQUIRE(after.status == EvalStatus::kOk);
  CHECK(after.values.at("n") == 1);  // a fresh worker
  CHECK(after.values.at("pid") != pid);
  // Destroying the evaluator kills the worker.
  const auto last = static_cast<pid_t>(after.values.at("pid"));
  CHECK(kill(last, 0) == 0);
  e.reset();
  CHECK(process_gone(last));
}

TEST_CASE("external_worker_hang_and_garbage_restart_the_worker", "[external]") {
  test::TempDir dir;
  // Hangs on a convolution model, prints garbage for a model with 3 layers of... here: for
  // the second request of each process.
  const auto script =
      dir.write("worker2.sh",
                "n=0\n"
                "while IFS= read -r line; do\n"
                "  n=$((n + 1))\n"
                "  case \"$line\" in *'\"c\"'*) sleep 30;; esac\n"
                "  if [ $n -eq 2 ]; then echo 'oops'; else printf '{\"n\": %d}\\n' $n; fi\n"
                "done\n");
  auto e =
      make("external:cmd=sh " + script + ",values=n:min,mode=worker,timeout=0.5,start_timeout=5");
  CHECK(run(*e, kSmall).values.at("n") == 1);
  const auto t0 = Clock::now();
  const auto hang = run(*e, kConv);
  CHECK(seconds_since(t0) < 2);
  CHECK(hang.message == "timed out after 0.5 s (worker killed, restarted on the next request)");
  CHECK(run(*e, kSmall).values.at("n") == 1);
  const auto garbage = run(*e, kSmall);
  CHECK(garbage.message == "answer is not a JSON object: 'oops'");
  CHECK(run(*e, kSmall).values.at("n") == 1);  // restarted after garbage
}

TEST_CASE("external_instances_run_in_parallel_threads_without_crosstalk", "[external]") {
  test::TempDir dir;
  const auto oneshot =
      dir.write("echo.sh", "read -r line\nsleep 0.1\nprintf '{\"chars\": %d}\\n' ${#line}\n");
  const auto worker = dir.write(
      "echo_worker.sh",
      "while IFS= read -r line; do sleep 0.05; printf '{\"chars\": %d}\\n' ${#line}; done\n");
  for (const auto& spec : {"external:cmd=sh " + oneshot + ",values=chars:min",
                           "external:cmd=sh " + worker + ",values=chars:min,mode=worker"}) {
    const char* models[] = {kSmall, kConv};
    std::vector<std::unique_ptr<Evaluator>> evs;
    for (int t = 0; t < 4; ++t) evs.push_back(make(spec));
    std::vector<int> bad(4, 0);
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5; ++i) {
          const char* m = models[(t + i) % 2];
          const auto r = run(*evs[static_cast<std::size_t>(t)], m);
          if (r.status != EvalStatus::kOk ||
              r.values.at("chars") !=
                  static_cast<double>(to_string(architecture_from_string(m)).size()))
            ++bad[static_cast<std::size_t>(t)];
        }
      });
    for (auto& th : threads) th.join();
    CHECK(bad == std::vector<int>(4, 0));
    CHECK(seconds_since(t0) < 4);  // 20 evaluations of >= 0.05 s on 4 threads
  }
}
