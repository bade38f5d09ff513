// Transformer2vec embedding: fit time and quality against N, with the naive vector
// encoding as the baseline on the same held-out pairs (docs/embedding.md).
//
//   embedding_bench [--quick] [--landmarks L] [--pairs P] [--epochs E] [--dim D]
//                   [--reference exact|bipartite] [--budget B] [--held-out M]
//                   [--space NAME] [--sizes N,N,...]
//
// Default space: flexibert-test with layers_per_stack 1 and mixed_ff true (--space names
// a built-in space instead, e.g. flexibert-hetero); N in {1000, 3000, 10000} or --sizes
// (--quick: 1000). Held-out: M (2,000) pairs of architectures sampled apart from the
// fitted ones, embedded out of sample, and M pairs of fitted architectures that the fit
// did not use as terms. Reference GED: exact search with a budget of B (10^4) search
// nodes per pair (kQualityReference), or the bipartite bound the fit itself uses.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.hpp"
#include "space/embedding.hpp"

using namespace flexnas;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Scores {
  double stress = 0, spearman = 0;
};

Scores score(const Eigen::MatrixXd& x,
             const std::vector<std::pair<std::size_t, std::size_t>>& pairs,
             const std::vector<double>& d) {
  std::vector<double> de(pairs.size());
  double num = 0, den = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    de[k] = (x.row(static_cast<Eigen::Index>(pairs[k].first)) -
             x.row(static_cast<Eigen::Index>(pairs[k].second)))
                .norm();
    num += (de[k] - d[k]) * (de[k] - d[k]);
    den += d[k] * d[k];
  }
  return {std::sqrt(num / den), spearman(de, d)};
}

int int_arg(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw InputError(std::string(argv[i]) + " needs a value");
  return std::atoi(argv[++i]);
}

}  // namespace

int main(int argc, char** argv) try {
  bool quick = false;
  EmbeddingOptions opt;
  GedOptions reference = kQualityReference;
  int held_out = 2000;
  std::string space_name;
  std::vector<std::size_t> sizes{1000, 3000, 10000};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--landmarks")
      opt.landmarks = int_arg(argc, argv, i);
    else if (a == "--pairs")
      opt.pairs_per_point = int_arg(argc, argv, i);
    else if (a == "--epochs")
      opt.epochs = int_arg(argc, argv, i);
    else if (a == "--dim")
      opt.dim = int_arg(argc, argv, i);
    else if (a == "--held-out")
      held_out = int_arg(argc, argv, i);
    else if (a == "--space" && i + 1 < argc)
      space_name = argv[++i];
    else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::string list = argv[++i];
      for (std::size_t p = 0; p <= list.size();) {
        const auto q = std::min(list.find(',', p), list.size());
        sizes.push_back(static_cast<std::size_t>(std::stoull(list.substr(p, q - p))));
        p = q + 1;
      }
    } else if (a == "--budget")
      reference.max_expansions = static_cast<std::uint64_t>(int_arg(argc, argv, i));
    else if (a == "--reference" && i + 1 < argc) {
      const std::string m = argv[++i];
      if (m == "exact")
        reference.method = GedMethod::kAuto;
      else if (m == "bipartite")
        reference.method = GedMethod::kBipartite;
      else
        throw InputError("--reference " + m + " is not one of {exact, bipartite}");
    } else {
      throw InputError("unknown argument '" + a + "'");
    }
  }

  auto space = DesignSpace::load(space_name.empty() ? "flexibert-test" : space_name);
  if (space_name.empty()) {
    space.layers_per_stack = 1;
    space.mixed_ff = true;
  }
  std::printf("space: %s\n", space_name.empty() ? "flexibert-test (one layer per stack, mixed FF)"
                                                : space_name.c_str());
  const auto costs = OpCosts::for_space(space);

  // Held-out architectures and pairs, shared by every N and by the baseline.
  Rng rng(2024);
  std::vector<Architecture> fresh;
  for (int i = 0; i < held_out; ++i) fresh.push_back(space.sample(rng));
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::uniform_int_distribution<std::size_t> pick(0, fresh.size() - 1);
  while (pairs.size() < static_cast<std::size_t>(held_out)) {
    const auto i = pick(rng), j = pick(rng);
    if (i != j) pairs.emplace_back(i, j);
  }
  std::vector<CostGraph> graphs;
  for (const auto& a : fresh) graphs.push_back(costs.graph(a));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<double> d(pairs.size());
  std::vector<char> exact(pairs.size());
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, pairs.size()),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t k = r.begin(); k != r.end(); ++k) {
                        const auto g =
                            ged(graphs[pairs[k].first], graphs[pairs[k].second], reference);
                        d[k] = g.distance;
                        exact[k] = g.exact;
                      }
                    });
  std::size_t proven = 0;
  for (char e : exact) proven += e != 0;
  const std::string ref_name =
      reference.method == GedMethod::kBipartite
          ? "bipartite"
          : "exact search, budget " + std::to_string(reference.max_expansions);
  std::printf("held-out: %zu pairs, reference GED %s (%zu proven optimal) in %.1f s\n",
              pairs.size(), ref_name.c_str(), proven, seconds_since(t0));

  Eigen::MatrixXd naive(static_cast<Eigen::Index>(fresh.size()),
                        naive_encoding(fresh[0], space).size());
  for (std::size_t i = 0; i < fresh.size(); ++i)
    naive.row(static_cast<Eigen::Index>(i)) = naive_encoding(fresh[i], space).transpose();
  const auto base = score(naive, pairs, d);
  std::printf("options: dim %d, landmarks %d, pairs_per_point %d, epochs %d\n\n", opt.dim,
              opt.landmarks, opt.pairs_per_point, opt.epochs);
  std::printf("%8s %8s %8s %8s %9s %9s %9s %9s\n", "N", "fit_s", "embed_s", "stress", "spearman",
              "vs_naive", "in_stress", "in_spear");

  if (quick) sizes = {1000};
  for (std::size_t n : sizes) {
    Rng fit_rng(7 + n);
    std::vector<Architecture> archs;
    for (std::size_t i = 0; i < n; ++i) archs.push_back(space.sample(fit_rng));
    t0 = std::chrono::steady_clock::now();
    const auto e = Embedding::fit(archs, space, opt);
    const double fit_s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto x = e.embed(fresh);
    const double embed_s = seconds_since(t0);
    const auto s = score(x, pairs, d);
    const auto in = e.quality(archs, pairs.size(), 99, reference);
    std::printf("%8zu %8.1f %8.2f %8.3f %9.3f %8.2fx %9.3f %9.3f\n", n, fit_s, embed_s, s.stress,
                s.spearman, s.spearman / base.spearman, in.stress, in.spearman);
    std::fflush(stdout);
  }
  std::printf("%8s %8s %8s %8s %9.3f %8.2fx %9s %9s\n", "naive", "-", "-", "-", base.spearman, 1.0,
              "-", "-");
  std::printf(
      "\nstress, spearman: held-out architectures embedded out of sample (embed_s for all %zu);\n"
      "in_*: pairs of fitted architectures. naive: Euclidean distance of naive_encoding.\n",
      fresh.size());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "embedding_bench: %s\n", e.what());
  return 2;
}
