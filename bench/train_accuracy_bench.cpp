// What the built-in trainer learns, and what knowledge transfer and multi-fidelity save.
//   mqar:     attention vs DFT / DCT / convolution mixers of about the same size on MQAR
//             (Zoology: attention solves associative recall, fixed mixers do not).
//   sst2:     a BERT-tiny-sized model from scratch on ../shared/data/sst2 with the BERT
//             vocabulary, against the majority-class baseline.
//   transfer: the same evolution search with and without knowledge transfer: training
//             seconds spent and accuracy reached (ratio against the search without).
//   asha:     the same search with fidelity=asha against full-length training.
// Usage: train_accuracy_bench [--sections mqar,sst2,transfer,asha] [--seeds N] [--threads T]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "evaluators/evaluator.hpp"
#include "evaluators/train/model.hpp"
#include "evaluators/train/task.hpp"
#include "evaluators/train/trainer.hpp"
#include "search/domain.hpp"
#include "search/objective.hpp"
#include "search/policy.hpp"
#include "search/runner.hpp"
#include "search/storage.hpp"
#include "space/architecture.hpp"
#include "space/design_space.hpp"

using namespace flexnas;

namespace {

struct Run {
  double accuracy = 0, seconds = 0, baseline = 0;
  long long params = 0;
};

Run train_once(const std::string& model, const std::map<std::string, std::string>& opts,
               std::uint64_t seed, int threads, float dropout = 0.1f) {
  const auto arch = architecture_from_string(model);
  auto topt = train::parse_train_options(opts);
  topt.seed = seed;
  const auto task = train::make_task(opts, 0);
  train::Model m(arch, train::model_config_for(task, dropout, threads), seed);
  const auto r = train::train(m, task, topt);
  return {r.test_accuracy, r.train_seconds, task.majority_baseline, m.num_parameters()};
}

void section_mqar(int seeds, int threads) {
  std::printf(
      "\n== mqar: mixers of about the same size (2 layers, h 64, ff 256), seq 32, 4 pairs, 16 "
      "values, 1500 steps of 32 on 20,000 sequences, no dropout\n");
  const std::map<std::string, std::string> opts{
      {"task", "mqar"},  {"seq", "32"},   {"kv_pairs", "4"}, {"vocab_size", "32"},
      {"steps", "1500"}, {"batch", "32"}, {"lr", "3e-3"},    {"train_size", "20000"}};
  const std::vector<std::pair<std::string, std::string>> models = {
      {"attention sa/sdp",
       R"({"l":2,"o":["sa","sa"],"h":[64,64],"n":[2,2],"f":[[256],[256]],"p":["sdp","sdp"]})"},
      {"attention sa/wma",
       R"({"l":2,"o":["sa","sa"],"h":[64,64],"n":[2,2],"f":[[256],[256]],"p":["wma","wma"]})"},
      {"linear l/dft",
       R"({"l":2,"o":["l","l"],"h":[64,64],"n":[2,2],"f":[[256],[256]],"p":["dft","dft"]})"},
      {"linear l/dct",
       R"({"l":2,"o":["l","l"],"h":[64,64],"n":[2,2],"f":[[256],[256]],"p":["dct","dct"]})"},
      {"conv c/9",
       R"({"l":2,"o":["c","c"],"h":[64,64],"n":[2,2],"f":[[256],[256]],"p":["9","9"]})"},
  };
  std::printf("%-18s %10s %10s %10s %10s\n", "mixer", "params", "accuracy", "sd", "train s");
  for (const auto& [name, m] : models) {
    double sum = 0, sq = 0, secs = 0;
    long long params = 0;
    for (int s = 0; s < seeds; ++s) {
      const auto r = train_once(m, opts, static_cast<std::uint64_t>(s + 1), threads, 0.f);
      sum += r.accuracy;
      sq += r.accuracy * r.accuracy;
      secs += r.seconds;
      params = r.params;
    }
    const double mean = sum / seeds;
    const double sd = std::sqrt(std::max(0.0, sq / seeds - mean * mean));
    std::printf("%-18s %10lld %10.4f %10.4f %10.1f\n", name.c_str(), params, mean, sd,
                secs / seeds);
  }
}

void section_sst2(int seeds, int threads) {
  const std::string data = FLEXNAS_SHARED_DATA;
  if (!std::filesystem::exists(data + "/sst2/train.tsv")) {
    std::printf("\n== sst2: SKIPPED (%s/sst2 not found)\n", data.c_str());
    return;
  }
  std::printf("\n== sst2: BERT-tiny-sized model (2 layers, h 128, 2 heads, ff 512) from scratch\n");
  const std::map<std::string, std::string> opts{{"task", "tsv"},
                                                {"train", data + "/sst2/train.tsv"},
                                                {"test", data + "/sst2/test.tsv"},
                                                {"vocab", data + "/bert_uncased_vocab.txt"},
                                                {"seq", "64"},
                                                {"steps", "400"},
                                                {"batch", "32"},
                                                {"lr", "1e-3"}};
  const std::string m =
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})";
  std::printf("%6s %10s %10s %10s\n", "seed", "accuracy", "majority", "train s");
  for (int s = 0; s < seeds; ++s) {
    const auto r = train_once(m, opts, static_cast<std::uint64_t>(s + 1), threads);
    std::printf("%6d %10.4f %10.4f %10.1f\n", s + 1, r.accuracy, r.baseline, r.seconds);
  }
}

struct SearchOutcome {
  double train_seconds = 0, best = 0, mean = 0;
  int transferred = 0, trials = 0;
  double steps = 0;
};

SearchOutcome search(const std::string& tag, const std::string& evaluator, std::uint64_t seed,
                     int budget) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("flexnas_train_bench_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto study = Study::create(dir.string(), nlohmann::json{{"bench", tag}});
  SearchDomain domain(DesignSpace::load("mqar-hetero"));
  EvaluatorRegistry reg;
  register_builtins(reg);
  EvaluatorSet evaluators(reg, {evaluator}, 1);
  evaluators.set_study_dir(study->dir());
  PolicyRegistry policies;
  register_builtin_policies(policies);
  const std::vector<Objective> objectives{Objective::parse("accuracy:max")};
  auto policy = policies.create("evolution:population=8,sample=3",
                                PolicyContext{&domain, objectives, {}, seed});
  RunOptions opt;
  opt.budget = static_cast<std::size_t>(budget);
  opt.batch = 4;
  opt.seed = seed;
  run_search(*study, *policy, domain, evaluators, objectives, {}, opt);
  SearchOutcome o;
  for (const auto& t : study->trials()) {
    if (!t.ok()) continue;
    ++o.trials;
    o.train_seconds += t.values.at("train_seconds");
    o.steps += t.values.at("train_steps");
    o.best = std::max(o.best, t.values.at("accuracy"));
    o.mean += t.values.at("accuracy");
    o.transferred += t.values.at("transferred_layers") > 0;
  }
  if (o.trials) o.mean /= o.trials;
  std::filesystem::remove_all(dir);
  return o;
}

void section_search(const std::string& what, int seeds) {
  // The demo's setting (scripts/demo.sh): the mqar-hetero space, 600 steps per candidate.
  const std::string base = "train:task=mqar,seq=32,kv_pairs=4,vocab_size=32,steps=600,lr=3e-3";
  const std::string variant = what == "transfer" ? base + ",transfer=1,transfer_steps=0.5"
                                                 : base + ",fidelity=asha,min_steps=60,eta=3";
  std::printf(
      "\n== %s: evolution search over mqar-hetero, 32 trials in batches of 4, MQAR (seq 32, 4 "
      "pairs, 600 steps)\n",
      what.c_str());
  std::printf("%-10s %-22s %12s %10s %10s %10s %12s\n", "seed", "search", "train s", "steps",
              "best acc", "mean acc", what == "transfer" ? "transferred" : "");
  for (int s = 0; s < seeds; ++s) {
    const auto seed = static_cast<std::uint64_t>(s + 1);
    const auto a = search("base" + std::to_string(s), base, seed, 32);
    const auto b = search(what + std::to_string(s), variant, seed, 32);
    std::printf("%-10llu %-22s %12.1f %10.0f %10.4f %10.4f\n",
                static_cast<unsigned long long>(seed), "full training", a.train_seconds, a.steps,
                a.best, a.mean);
    std::printf("%-10s %-22s %12.1f %10.0f %10.4f %10.4f %12d\n", "",
                what == "transfer" ? "knowledge transfer" : "asha", b.train_seconds, b.steps,
                b.best, b.mean, b.transferred);
    std::printf("%-10s %-22s %11.2fx %9.2fx %+10.4f\n", "", "ratio / delta",
                b.train_seconds / a.train_seconds, b.steps / a.steps, b.best - a.best);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> sections{"mqar", "sst2", "transfer", "asha"};
  int seeds = 3, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--sections") {
      sections.clear();
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) sections.insert(s);
    } else if (k == "--seeds") {
      seeds = std::stoi(v);
    } else if (k == "--threads") {
      threads = std::stoi(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--sections mqar,sst2,transfer,asha] [--seeds N] [--threads T]\n",
                   argv[0]);
      return 2;
    }
  }
  if (sections.count("mqar")) section_mqar(seeds, threads);
  if (sections.count("sst2")) section_sst2(seeds, threads);
  if (sections.count("transfer")) section_search("transfer", seeds);
  if (sections.count("asha")) section_search("asha", seeds);
  return 0;
}
