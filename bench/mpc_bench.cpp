// MPC cost model throughput: evaluations per second of the `mpc` evaluator on sampled
// flexibert-hetero architectures, against the analytic `params` evaluator (the baseline,
// measured in the same run on the same architectures). Usage: mpc_bench [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "evaluators/evaluator.hpp"
#include "space/design_space.hpp"

using namespace flexnas;
using Clock = std::chrono::steady_clock;

namespace {

// Evaluations per second over `archs`, repeated until at least `min_s` seconds passed.
double rate(Evaluator& e, const std::vector<Architecture>& archs, double min_s, double& sink) {
  const EvalContext ctx;
  std::size_t n = 0;
  const auto t0 = Clock::now();
  double s = 0;
  do {
    for (const auto& a : archs) sink += e.evaluate(a, ctx).values.begin()->second;
    n += archs.size();
    s = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (s < min_s);
  return static_cast<double>(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const auto space = DesignSpace::load("flexibert-hetero");
  Rng rng(7);
  std::vector<Architecture> archs;
  for (int i = 0; i < 200; ++i) archs.push_back(space.sample(rng));
  EvaluatorRegistry reg;
  register_builtins(reg);
  const double min_s = quick ? 0.2 : 1.0;
  double sink = 0;
  std::printf("%-32s %14s %10s\n", "evaluator", "evals/s", "vs params");
  const double base = rate(*reg.create("params"), archs, min_s, sink);
  std::printf("%-32s %14.0f %9.2fx\n", "params (baseline)", base, 1.0);
  for (const char* spec : {"mpc", "mpc:seq=512", "mpc:scope=model,network=lan"}) {
    auto e = reg.create(spec);
    const double r = rate(*e, archs, min_s, sink);
    std::printf("%-32s %14.0f %9.2fx\n", spec, r, r / base);
  }
  return sink == 0.5 ? 1 : 0;  // keep the results alive
}
