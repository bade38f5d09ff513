// flexnas latency profile|measure: measured CPU latency through oneDNN (docs/latency.md).
// `flexnas latency fit` lives in another file; both share the group through cli::group.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "evaluators/latency_table.hpp"

namespace flexnas::cli {
namespace {

// Options shared by the latency commands: the setting a table is for and how to measure.
struct LatencyArgs {
  int seq = 128;
  int batch = 1;
  int threads = 1;
  std::string dtype = "f32";
  std::string cache;
  int repeats = 15;
  int warmup = 3;
  std::string clock = "wall";

  void add(CLI::App* cmd) {
    cmd->add_option("--seq", seq, "sequence length")
        ->check(CLI::Range(1, 1 << 16))
        ->capture_default_str();
    cmd->add_option("--batch", batch, "batch size")
        ->check(CLI::Range(1, 1 << 16))
        ->capture_default_str();
    cmd->add_option("--threads", threads, "oneDNN (OpenMP) threads, 0 = all cores")
        ->check(CLI::Range(0, 4096))
        ->capture_default_str();
    cmd->add_option("--dtype", dtype, "f32 or bf16 (bf16 needs AVX-512)")->capture_default_str();
    cmd->add_option("--cache", cache,
                    "table directory (default: $XDG_CACHE_HOME/flexnas or ~/.cache/flexnas; "
                    "'none' keeps it in memory)");
    cmd->add_option("--repeats", repeats, "timed repeats per measurement (median taken)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    cmd->add_option("--warmup", warmup, "untimed runs before the repeats")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    cmd->add_option("--clock", clock,
                    "wall (elapsed time) or cpu (thread CPU time, --threads 1 only; steadier on a "
                    "busy machine)")
        ->capture_default_str();
  }
  latency::RunShape shape() const {
    latency::RunShape s;
    s.seq = seq;
    s.batch = batch;
    s.threads = threads;
    s.dtype = latency::parse_dtype(dtype, "--dtype");
    return s;
  }
  latency::MeasureOptions measure() const {
    latency::MeasureOptions m;
    m.repeats = repeats;
    m.warmup = warmup;
    m.clock = latency::parse_clock(clock, "--clock");
    return m;
  }
  std::string cache_dir() const {
    if (cache == "none") return "";
    return cache.empty() ? latency::default_cache_dir() : cache;
  }
};

std::string setting_text(const latency::LatencyTable& t, latency::Clock c) {
  const auto& s = t.shape();
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s; %s; oneDNN %s; %d thread%s; %s; batch %d; seq %d; %s clock",
                latency::cpu_model().c_str(), latency::cpu_isa().c_str(),
                latency::onednn_version().c_str(), s.threads, s.threads == 1 ? "" : "s",
                latency::to_string(s.dtype), s.batch, s.seq, latency::to_string(c));
  return buf;
}

std::function<void(std::size_t, std::size_t)> progress(const std::string& stage) {
  auto p = progress_printer();
  if (!p) return nullptr;
  return [p, stage](std::size_t done, std::size_t total) { p(stage, done, total); };
}

void add_profile(CLI::App* group) {
  auto* cmd = group->add_subcommand(
      "profile", "measure every distinct layer of N sampled architectures into the latency table");
  auto space = std::make_shared<SpaceArgs>();
  auto args = std::make_shared<LatencyArgs>();
  auto n = std::make_shared<int>(10);
  auto seed = std::make_shared<std::uint64_t>(0);
  auto json = std::make_shared<bool>(false);
  space->add(cmd);
  cmd->add_option("-n,--num", *n, "architectures to sample")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", *seed, "sampling seed")->capture_default_str();
  args->add(cmd);
  cmd->add_flag("--json", *json, "one JSON object instead of the summary");
  cmd->callback([=] {
    const auto s = space->load();
    latency::LatencyTable table(args->cache_dir(), args->shape(), args->measure());
    Rng rng(*seed);
    std::vector<Architecture> models;
    std::map<std::string, Layer> layers;
    std::set<std::pair<int, int>> projections;
    for (int i = 0; i < *n; ++i) {
      models.push_back(s.sample(rng));
      const auto& a = models.back();
      for (std::size_t j = 0; j < a.layers.size(); ++j) {
        layers.emplace(latency::layer_key(a.layers[j]), a.layers[j]);
        if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden)
          projections.emplace(a.layers[j].hidden, a.layers[j + 1].hidden);
      }
    }
    const std::size_t total = layers.size() + projections.size();
    auto report = progress("latency profile");
    int measured = 0, reused = 0;
    std::size_t done = 0;
    auto count = [&](const latency::TableEntry& e) {
      (e.cached ? reused : measured)++;
      if (report) report(++done, total);
    };
    for (const auto& [key, layer] : layers) count(table.layer(layer));
    for (const auto& [in, out] : projections) count(table.projection(in, out));
    std::vector<double> ms;
    for (const auto& a : models) ms.push_back(table.model(a).total_ms);
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    if (*json) {
      nlohmann::ordered_json j;
      j["models"] = *n;
      j["entries"] = total;
      j["measured"] = measured;
      j["reused"] = reused;
      j["table"] = table.dir().empty() ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(table.dir());
      j["setting"] = setting_text(table, args->measure().clock);
      j["latency_ms"] = {{"min", ms.front()}, {"median", median}, {"max", ms.back()}};
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("models      %d sampled from %s, latency %.3f .. %.3f ms (median %.3f)\n", *n,
                s.name.c_str(), ms.front(), ms.back(), median);
    std::printf("setting     %s\n", setting_text(table, args->measure().clock).c_str());
    std::printf("table       %s\n", table.dir().empty() ? "(memory only)" : table.dir().c_str());
    std::printf("entries     %zu: %d measured, %d reused from the cache\n", total, measured,
                reused);
  });
}

void add_measure(CLI::App* group) {
  auto* cmd = group->add_subcommand(
      "measure", "one model: per-layer table sum, a whole-model run and their difference");
  auto model = std::make_shared<std::string>();
  auto args = std::make_shared<LatencyArgs>();
  auto json = std::make_shared<bool>(false);
  auto impl = std::make_shared<bool>(false);
  cmd->add_option("--model", *model, "model dict as JSON text, or @file")->required();
  args->add(cmd);
  cmd->add_flag("--json", *json, "one JSON object instead of the table");
  cmd->add_flag("--impl", *impl,
                "also list each layer's primitives and their oneDNN implementations");
  cmd->callback([=] {
    const auto a = load_model(*model);
    latency::LatencyTable table(args->cache_dir(), args->shape(), args->measure());
    const auto sum = table.model(a, progress("layers"));
    const auto whole = latency::measure_model(a, table.shape(), args->measure());
    const double diff = (sum.total_ms - whole.median_ms) / whole.median_ms;
    if (*json) {
      nlohmann::ordered_json j;
      j["table_ms"] = sum.total_ms;
      j["whole_ms"] = whole.median_ms;
      j["relative_difference"] = diff;
      j["table_spread"] = sum.spread;
      j["whole_spread"] = whole.spread();
      j["layer_ms"] = sum.layer_ms;
      j["measured"] = sum.measured;
      j["reused"] = sum.reused;
      j["table"] = table.dir().empty() ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(table.dir());
      j["setting"] = setting_text(table, args->measure().clock);
      std::cout << j.dump() << "\n";
      return;
    }
    for (std::size_t i = 0; i < a.layers.size(); ++i) {
      std::printf("layer %-3zu %9.3f ms  %s\n", i + 1, sum.layer_ms[i],
                  latency::layer_key(a.layers[i]).c_str());
      if (*impl)
        for (const auto& p : latency::layer_implementations(a.layers[i], table.shape()))
          std::printf("            %s\n", p.c_str());
    }
    std::printf("setting     %s\n", setting_text(table, args->measure().clock).c_str());
    std::printf("table       %s\n", table.dir().empty() ? "(memory only)" : table.dir().c_str());
    std::printf("table sum   %9.3f ms  (spread %.3f; %d entries measured, %d reused)\n",
                sum.total_ms, sum.spread, sum.measured, sum.reused);
    std::printf("whole model %9.3f ms  (spread %.3f)\n", whole.median_ms, whole.spread());
    std::printf("difference  %+8.1f %%  (table sum vs whole model)\n", 100 * diff);
  });
}

}  // namespace

void add_latency_commands(CLI::App& app) {
  auto* g =
      group(app, "latency", "measured CPU latency: profile a space into a table, measure a model");
  add_profile(g);
  add_measure(g);
}

}  // namespace flexnas::cli
