// Training-step throughput of flexnas::train::Model (docs/trainer.md) against the oneDNN
// sgemm peak (a large square f32 matmul) measured in the same run, with 1 and 2 threads.
//
//   train_bench [--quick] [--layers N] [--hidden H] [--heads A] [--ff F] [--seq L]
//               [--batch B] [--steps S] [--threads T]
//
// Default model: 4 layers of 4 sa/sdp heads, hidden 256, ff 1024, seq 128, batch 16; and the
// same with heterogeneous heads (sdp, wma, dft, c9, dct in turn).
// FLOPs: the forward matmuls (input projections, scores, context, wma, DFT/DCT products,
// mixing output, feed-forward, projections, pooler and classifier) and depthwise
// convolutions, a multiply-add counting 2, times 3 for forward plus backward (dX and dW
// each cost one forward matmul).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.hpp"
#include "evaluators/train/model.hpp"

using namespace flexnas;
using namespace flexnas::train;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best GFLOP/s of an n x n x n f32 matmul over `reps` runs.
double sgemm_peak(int threads, int n, int reps) {
  omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  using dnnl::memory;
  memory::desc md({n, n}, memory::data_type::f32, memory::format_tag::ab);
  memory a(md, eng), b(md, eng), c(md, eng);
  for (auto* m : {&a, &b}) {
    auto* p = static_cast<float*>(m->get_data_handle());
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) * static_cast<std::size_t>(n); ++i)
      p[i] = static_cast<float>(i % 7) * 0.01f;
  }
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), eng));
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {
    const double t0 = now();
    mm.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    strm.wait();
    if (r > 0) best = std::min(best, now() - t0);
  }
  return 2.0 * n * static_cast<double>(n) * n / best * 1e-9;
}

// Forward FLOPs (a multiply-add counts 2) of the matmuls and the depthwise convolutions.
double forward_flops(const Architecture& a, int batch, int seq, int classes) {
  const double N = static_cast<double>(batch) * seq, L = seq;
  double f = 0;
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    const Layer& l = a.layers[j];
    const double h = l.hidden, d = l.head_size();
    double P = 0;
    for (const Head& hd : l.heads) {
      P += hd.family() == Family::kSa ? 3 * d : d;
      if (hd.family() == Family::kSa)
        f += 2 * 2 * N * L * d + (hd.param() == "wma" ? 2 * N * d * d : 0);
      else if (hd.family() == Family::kL)
        f += (hd.param() == "dft" ? 2 : 1) * (2 * N * L * d + 2 * N * d * d);
      else
        f += 2 * N * d * hd.kernel;
    }
    f += 2 * N * h * P + 2 * N * h * h;
    double in = h;
    for (int w : l.ff) {
      f += 2 * N * in * w;
      in = w;
    }
    f += 2 * N * in * h;
    if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != l.hidden)
      f += 2 * N * h * a.layers[j + 1].hidden;
  }
  const double hl = a.layers.back().hidden;
  return f + 2 * batch * hl * hl + 2 * batch * hl * classes;
}

int int_arg(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw InputError(std::string(argv[i]) + " needs a value");
  return std::atoi(argv[++i]);
}

}  // namespace

int main(int argc, char** argv) try {
  int layers = 4, hidden = 256, heads = 4, ff = 1024, seq = 128, batch = 16, steps = 3;
  std::vector<int> thread_counts{1, 2};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      steps = 1;
      batch = 8;
    } else if (!std::strcmp(argv[i], "--layers"))
      layers = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--hidden"))
      hidden = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--heads"))
      heads = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--ff"))
      ff = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--seq"))
      seq = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--batch"))
      batch = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--steps"))
      steps = int_arg(argc, argv, i);
    else if (!std::strcmp(argv[i], "--threads"))
      thread_counts = {int_arg(argc, argv, i)};
    else
      throw InputError(std::string("unknown argument ") + argv[i]);
  }
  Architecture a, hetero;
  const Head sdp{Family::kSa, "sdp"};
  const std::vector<Head> mixed{{Family::kSa, "sdp"},
                                {Family::kSa, "wma"},
                                {Family::kL, "dft"},
                                {Family::kC, "9"},
                                {Family::kL, "dct"}};
  for (int j = 0; j < layers; ++j) {
    Layer l;
    l.hidden = hidden;
    l.heads.assign(static_cast<std::size_t>(heads), sdp);
    l.ff = {ff};
    a.layers.push_back(l);
    for (int i = 0; i < heads; ++i)
      l.heads[static_cast<std::size_t>(i)] = mixed[static_cast<std::size_t>(i + j) % mixed.size()];
    hetero.layers.push_back(l);
  }
  ModelConfig cfg;
  cfg.vocab = 1000;
  cfg.seq = seq;
  cfg.max_positions = std::max(512, seq);
  cfg.num_classes = 2;
  cfg.dropout = 0.1f;
  Batch b;
  b.batch = batch;
  b.seq = seq;
  for (int i = 0; i < batch * seq; ++i) b.tokens.push_back((i * 7919) % cfg.vocab);
  for (int i = 0; i < batch; ++i) b.targets.push_back(i % 2);

  std::printf("model: %d layers, hidden %d, %d heads, ff %d, seq %d, batch %d (dropout %.1f)\n",
              layers, hidden, heads, ff, seq, batch, static_cast<double>(cfg.dropout));
  std::printf("  sdp: every head sa/sdp; hetero: heads cycle through sdp, wma, dft, c9, dct\n");
  std::printf("%-7s %-7s %10s %10s %9s %9s %11s %10s %8s\n", "model", "threads", "GFLOP/step",
              "sgemm GF/s", "fwd ms", "step ms", "step GF/s", "fwd GF/s", "of peak");
  for (int threads : thread_counts) {
    const double peak = sgemm_peak(threads, 2048, 3);
    for (const auto* arch : {&a, &hetero}) {
      const double fwd = forward_flops(*arch, batch, seq, cfg.num_classes);
      const double train_flop = 3 * fwd;
      cfg.threads = threads;
      Model m(*arch, cfg, 1);
      for (Param* p : m.params()) p->grad.setZero();
      m.step(b, true, 0);  // warm-up: primitive creation
      m.step(b, false, 0);
      double best_step = 1e30, best_fwd = 1e30;
      for (int s = 0; s < steps; ++s) {
        double t0 = now();
        m.step(b, false, 0);
        best_fwd = std::min(best_fwd, now() - t0);
        t0 = now();
        m.step(b, true, static_cast<std::uint64_t>(s));
        best_step = std::min(best_step, now() - t0);
      }
      const double gf = train_flop / best_step * 1e-9;
      std::printf("%-7s %-7d %10.2f %10.1f %9.1f %9.1f %11.1f %10.1f %7.1f%%\n",
                  arch == &a ? "sdp" : "hetero", threads, train_flop * 1e-9, peak, best_fwd * 1e3,
                  best_step * 1e3, gf, fwd / best_fwd * 1e-9, 100 * gf / peak);
    }
  }
  const auto* v = dnnl::version();
  std::printf("oneDNN %d.%d.%d; best of %d steps\n", v->major, v->minor, v->patch, steps);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_bench: %s\n", e.what());
  return 2;
}
