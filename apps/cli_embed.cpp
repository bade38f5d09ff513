// flexnas embed: Transformer2vec embeddings of sampled or given architectures.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "space/embedding.hpp"

namespace flexnas::cli {

void add_embed_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("embed",
                         "embed architectures so that Euclidean distance follows graph edit "
                         "distance (fit and save, or embed one model with --load)");
  auto args = std::make_shared<SpaceArgs>();
  auto n = std::make_shared<int>(1000);
  auto models = std::make_shared<std::string>();
  auto seed = std::make_shared<std::uint64_t>(0);
  auto out = std::make_shared<std::string>("embedding.json");
  auto load = std::make_shared<std::string>();
  auto model = std::make_shared<std::string>();
  auto quality_pairs = std::make_shared<std::size_t>(500);
  auto json = std::make_shared<bool>(false);
  auto opt = std::make_shared<EmbeddingOptions>();
  args->add(cmd);
  cmd->add_option("-n,--num", *n, "architectures to sample uniformly from the space")
      ->check(CLI::Range(2, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--models", *models,
                  "embed the model dicts of this JSON-lines file instead of sampling");
  cmd->add_option("--seed", *seed, "random seed (sampling, landmarks, optimisation)")
      ->capture_default_str();
  cmd->add_option("--dim", opt->dim, "embedding dimension")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--landmarks", opt->landmarks, "landmark architectures")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  cmd->add_option("--pairs", opt->pairs_per_point, "sampled partner pairs per architecture")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--epochs", opt->epochs, "stress-minimisation passes")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--quality-pairs", *quality_pairs,
                  "held-out pairs for stress and Spearman (0: skip)")
      ->capture_default_str();
  cmd->add_option("-o,--out", *out, "embedding file to write")->capture_default_str();
  cmd->add_option("--load", *load, "embedding file to read instead of fitting");
  cmd->add_option("--model", *model,
                  "with --load: print the embedding of this model dict (JSON or @file)");
  cmd->add_flag("--json", *json, "machine-readable summary");
  cmd->callback([=] {
    if (!load->empty()) {
      if (model->empty()) throw InputError("--load needs --model (the architecture to embed)");
      const auto e = Embedding::load(*load);
      const auto v = e.embed(load_model(*model));
      std::cout << nlohmann::json(std::vector<double>(v.data(), v.data() + v.size())).dump()
                << "\n";
      return;
    }
    const auto space = args->load();
    std::vector<Architecture> archs;
    Rng rng(*seed);
    if (!models->empty()) {
      archs = load_models(*models);
      for (std::size_t i = 0; i < archs.size(); ++i) {
        try {
          space.validate(archs[i]);
        } catch (const InputError& e) {
          throw InputError(*models + ": model " + std::to_string(i + 1) + ": " + e.what());
        }
      }
    } else {
      for (int i = 0; i < *n; ++i) archs.push_back(space.sample(rng));
    }
    auto o = *opt;
    o.seed = *seed;
    o.progress = progress_printer();
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = Embedding::fit(archs, space, o);
    const double fit_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    e.save(*out);
    nlohmann::ordered_json j;
    j["architectures"] = archs.size();
    j["dim"] = e.dim();
    j["fit_seconds"] = fit_s;
    j["file"] = *out;
    if (*quality_pairs > 0) {
      // Held-out pairs: fresh samples, embedded out of sample.
      std::vector<Architecture> held;
      const std::size_t m = std::min<std::size_t>(2 * *quality_pairs, 4000);
      for (std::size_t i = 0; i < m; ++i) held.push_back(space.sample(rng));
      const auto q = e.quality(held, *quality_pairs, *seed + 1);
      j["held_out_pairs"] = q.pairs;
      j["stress"] = q.stress;
      j["spearman"] = q.spearman;
    }
    if (*json) {
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("embedded %zu architectures in %d dimensions in %.1f s\n", archs.size(), e.dim(),
                fit_s);
    if (j.contains("spearman"))
      std::printf("held-out pairs: %zu, stress %.4f, Spearman %.4f\n",
                  j["held_out_pairs"].get<std::size_t>(), j["stress"].get<double>(),
                  j["spearman"].get<double>());
    std::printf("saved to %s\n", out->c_str());
  });
}

}  // namespace flexnas::cli
