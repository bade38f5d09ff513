// Latency benchmark: how repeatable one measurement is (spread over repeats, and the
// difference between independent measurements of one layer), and how well the per-layer
// table sum predicts a whole-model run on architectures sampled from flexibert-test.
// Usage: latency_bench [--full] [--models N] [--seq L] [--threads T] [--dtype f32|bf16]
//                      [--clock wall|cpu]
// Quick by default (seq 64, 10 models, 9 repeats); --full: seq 128, 30 models, 21 repeats.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "evaluators/latency_table.hpp"
#include "space/design_space.hpp"

using namespace flexnas;
using namespace flexnas::latency;

namespace {

Layer layer(int h, std::vector<Head> heads, std::vector<int> ff) {
  Layer l;
  l.hidden = h;
  l.heads = std::move(heads);
  l.ff = std::move(ff);
  return l;
}

void repeatability(const RunShape& s, const MeasureOptions& m) {
  const Head sdp{Family::kSa, "sdp"}, dft{Family::kL, "dft"}, c9{Family::kC, "9"};
  const std::vector<Layer> layers = {layer(128, {sdp, sdp}, {512}),
                                     layer(256, {sdp, sdp, sdp, sdp}, {1024}),
                                     layer(256, {dft, c9, sdp, sdp}, {1024, 1024})};
  std::printf("one layer measured 5 times (seq %d, batch %d, %d thread(s), %s, %s clock)\n", s.seq,
              s.batch, effective_threads(s.threads), to_string(s.dtype), to_string(m.clock));
  std::printf("%-5s %9s %9s %9s  %s\n", "stack", "median ms", "spread", "max diff", "layer");
  for (const auto& l : layers) {
    std::vector<double> med;
    double spread = 0;
    for (int k = 0; k < 5; ++k) {
      const auto t = measure_layer(l, s, m);
      med.push_back(t.median_ms);
      spread = std::max(spread, t.spread());
    }

    std::sort(med.begin(), med.end());
    std::printf("%-5d %9.3f %8.1f%% %8.1f%%  %s\n", stack_copies(l, s.dtype), med[2], 100 * spread,
                100 * (med.back() - med.front()) / med.front(), layer_key(l).c_str());
  }
}

// Table entries (each distinct layer and projection, built as the table builds them) and the
// whole model, timed in alternating rounds; the error is the median over rounds of
// (table sum - whole) / whole.
void table_vs_whole(const RunShape& s, const MeasureOptions& m, int models) {
  auto space = DesignSpace::load("flexibert-test");
  Rng rng(1);
  std::printf("\ntable sum vs whole model, %d architectures from flexibert-test (3 rounds)\n",
              models);
  std::printf("%-6s %7s %11s %11s %9s\n", "model", "layers", "table ms", "whole ms", "error");
  std::vector<double> errs;
  double signed_sum = 0;
  for (int i = 0; i < models; ++i) {
    const auto a = space.sample(rng);
    std::vector<TimedNet> nets;
    for (std::size_t j = 0; j < a.layers.size(); ++j) {
      nets.push_back(build_layer(a.layers[j], s));
      if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden)
        nets.push_back(build_projection(a.layers[j].hidden, a.layers[j + 1].hidden, s));
    }
    nets.push_back(build_model(a, s));
    std::vector<TimedNet*> ptrs;
    for (auto& n : nets) ptrs.push_back(&n);
    const auto r = time_rounds(ptrs, m, 3);
    std::vector<std::pair<double, std::pair<double, double>>> rounds;
    for (std::size_t k = 0; k < r[0].size(); ++k) {
      double sum = 0;
      for (std::size_t n = 0; n + 1 < r.size(); ++n) sum += r[n][k];
      rounds.push_back({(sum - r.back()[k]) / r.back()[k], {sum, r.back()[k]}});
    }
    std::sort(rounds.begin(), rounds.end());
    const auto& mid = rounds[rounds.size() / 2];
    errs.push_back(std::abs(mid.first));
    signed_sum += mid.first;
    std::printf("%-6d %7d %11.3f %11.3f %+8.1f%%\n", i, a.num_layers(), mid.second.first,
                mid.second.second, 100 * mid.first);
  }
  std::sort(errs.begin(), errs.end());
  double mean = 0;
  for (double e : errs) mean += e / static_cast<double>(errs.size());
  std::printf(
      "absolute error: mean %.1f%%, median %.1f%%, max %.1f%%; mean signed %+.1f%% "
      "(target: every model within 10%%)\n",
      100 * mean, 100 * errs[errs.size() / 2], 100 * errs.back(),
      100 * signed_sum / static_cast<double>(errs.size()));
}

}  // namespace

int main(int argc, char** argv) {
  RunShape s;
  s.seq = 64;
  MeasureOptions m;
  m.repeats = 9;
  int models = 10;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw InputError(a + " needs a value");
        return argv[++i];
      };
      if (a == "--full") {
        s.seq = 128;
        models = 30;
        m.repeats = 21;
      } else if (a == "--models") {
        models = std::stoi(next());
      } else if (a == "--seq") {
        s.seq = std::stoi(next());
      } else if (a == "--threads") {
        s.threads = std::stoi(next());
      } else if (a == "--dtype") {
        s.dtype = parse_dtype(next(), "--dtype");
      } else if (a == "--clock") {
        m.clock = parse_clock(next(), "--clock");
      } else {
        throw InputError("unknown argument " + a);
      }
    }
    check_dtype_supported(s.dtype);
    std::printf("%s; %s; oneDNN %s\n", cpu_model().c_str(), cpu_isa().c_str(),
                onednn_version().c_str());
    repeatability(s, m);
    table_vs_whole(s, m, models);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latency_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
