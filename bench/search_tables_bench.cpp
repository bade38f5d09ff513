// Search benchmark over many tables (`make bench-search`, docs/search.md): for each table and
// each contender, queries until the table's best is first found over SEEDS seeds (median,
// mean, 90th percentile, misses; a miss counts 2 * BUDGET), and on the EdgeTran A100 table
// the hypervolume of (glue:max, latency_s:min) after 25, 50 and 100 queries.
//
// Contenders: every registered flexnas policy at its defaults (plus --policies), and peers
// whose per-seed results were written by bench/optuna_peer.py into --peer-dir as
// <table>.<sampler>.txt (scripts/bench_search.sh runs both). The tables, built here from
// ../shared/data, are written to --write-tables DIR first so that the peers search exactly
// the same pools:
//   sst2          620 FlexiBERT models, SST-2 accuracy (two share the best)
//   a100          239 FlexiBERT 2.0 models, GLUE score on the EdgeTran A100 table
//   sst2-flops    SST-2 accuracy - 0.02 per doubling of FLOPs over the pool's smallest
//   a100-latency  GLUE - 0.2 per doubling of A100 latency over a 5 ms budget
//   deceptive     500 flexibert-test samples + the largest architecture: small models sit on a
//                 broad near-best plateau, larger ones look worse but climb towards the
//                 largest, which is the unique best
// Usage: search_tables_bench [--seeds N] [--budget N] [--tables a,b] [--policies 'p;q']
//        [--only 'p;q'] [--write-tables DIR] [--peer-dir DIR] [--sections single,multi]
//        [--json FILE]
// --policies adds contenders to every registered policy; --only replaces them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "search/objective.hpp"
#include "search/policy.hpp"
#include "space/design_space.hpp"
#include "space/model_stats.hpp"

using namespace flexnas;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Table {
  std::string name, what;
  std::vector<Architecture> pool;
  std::vector<double> score;                         // maximised
  std::map<std::string, std::vector<double>> extra;  // other columns (latency_s, ...)
  // The pool's domain, made once: its copies share the pool embedding, fitted on first use.
  std::shared_ptr<const SearchDomain> domain() const {
    if (!domain_) domain_ = std::make_shared<const SearchDomain>(pool, std::nullopt, 1);
    return domain_;
  }
  mutable std::shared_ptr<const SearchDomain> domain_;
};

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

Table from_rows(const std::string& name, const std::string& what,
                const std::vector<nlohmann::json>& rows, const std::string& metric) {
  Table t{name, what, {}, {}, {}, {}};
  for (const auto& r : rows) {
    t.pool.push_back(architecture_from_json(r["model"]));
    t.score.push_back(r[metric].get<double>());
    for (const auto& [k, v] : r.items())
      if (k != "model" && k != metric && v.is_number()) t.extra[k].push_back(v.get<double>());
  }
  return t;
}

// Score minus `per_doubling` for each doubling of `cost` over `free` (the pool's smallest
// cost when 0).
Table penalised(Table t, const std::string& name, const std::string& what,
                const std::vector<double>& cost, double per_doubling, double free = 0) {
  t.name = name;
  t.what = what;
  if (free == 0) free = *std::min_element(cost.begin(), cost.end());
  for (std::size_t i = 0; i < t.score.size(); ++i)
    t.score[i] -= per_doubling * std::max(0.0, std::log2(cost[i] / free));
  return t;
}

// A fixed pseudo-random number in [0, 1) per index (splitmix64), independent of any seed.
double jitter(std::uint64_t i) {
  std::uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0;
}

Table deceptive() {
  const auto space = DesignSpace::load("flexibert-test");
  Rng rng(20261207);
  Table t{"deceptive",
          "500 flexibert-test samples + the largest model; near-best plateau of small models, "
          "unique best at the far corner",
          {},
          {},
          {},
          {}};
  std::unordered_map<std::string, bool> keys;
  SearchDomain probe(space);
  while (t.pool.size() < 500) {
    auto a = space.sample(rng);
    if (keys.emplace(probe.key(a), true).second) t.pool.push_back(a);
  }
  // The corner: the most layers, the widest hidden size, the most heads and the deepest,
  // widest feed-forward stack in every layer (attention sdp).
  Architecture corner = t.pool.front();
  std::string corner_json =
      R"({"l":4,"o":["sa","sa","sa","sa"],"h":[256,256,256,256],"n":[4,4,4,4],)"
      R"("f":[[1024,1024,1024],[1024,1024,1024],[1024,1024,1024],[1024,1024,1024]],)"
      R"("p":["sdp","sdp","sdp","sdp"]})";
  corner = architecture_from_string(corner_json);
  if (keys.count(probe.key(corner)) == 0) t.pool.push_back(corner);
  std::vector<double> lp;
  for (const auto& a : t.pool) lp.push_back(std::log(static_cast<double>(model_stats(a).params)));
  const double lo = *std::min_element(lp.begin(), lp.end()),
               hi = *std::max_element(lp.begin(), lp.end());
  const std::string corner_key = probe.key(corner);
  for (std::size_t i = 0; i < t.pool.size(); ++i) {
    const double s = (lp[i] - lo) / (hi - lo);
    double v = s < 0.5 ? 0.80 - 0.01 * s : 0.70 + 0.10 * (s - 0.5) / 0.5;
    v += 0.004 * jitter(i);
    if (probe.key(t.pool[i]) == corner_key) v = 0.85;
    t.score.push_back(v);
  }
  return t;
}

struct Stats {
  double median = 0, mean = 0, p90 = 0;
  int misses = 0;
};

Stats stats_of(std::vector<double> q, int budget) {
  Stats s;
  std::sort(q.begin(), q.end());
  const std::size_t n = q.size();
  s.median = n % 2 ? q[n / 2] : 0.5 * (q[n / 2 - 1] + q[n / 2]);
  s.mean = std::accumulate(q.begin(), q.end(), 0.0) / static_cast<double>(n);
  s.p90 = q[static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
  for (double x : q) s.misses += x > budget;
  return s;
}

// A finished trial of `a`, values to be filled in.
Trial finished(std::int64_t id, const Architecture& a, const SearchDomain& domain) {
  Trial t;
  t.id = id;
  t.batch = id;
  t.arch = a;
  t.hash = domain.key(a);
  t.state = TrialState::kOk;
  return t;
}

// Queries until the best is first found, one number per seed (seeds 1..n).
std::vector<double> run_single(const Table& t, const PolicyRegistry& reg, const std::string& spec,
                               int seeds, int budget, double* seconds) {
  const SearchDomain& base = *t.domain();
  std::unordered_map<std::string, double> value;
  for (std::size_t i = 0; i < t.pool.size(); ++i) value[base.key(t.pool[i])] = t.score[i];
  const double best = *std::max_element(t.score.begin(), t.score.end());
  std::vector<double> out;
  const auto t0 = Clock::now();
  for (int s = 1; s <= seeds; ++s) {
    SearchDomain domain = base;
    PolicyContext ctx{&domain, {Objective::parse("score:max")}, {}, static_cast<std::uint64_t>(s)};
    auto policy = reg.create(spec, ctx);
    int q = 0;
    bool hit = false;
    for (std::int64_t id = 0; q < budget && !hit; ++id) {
      const auto asked = policy->ask(1);
      if (asked.empty()) break;
      Trial tr = finished(id, asked[0], domain);
      tr.values["score"] = value.at(tr.hash);
      ++q;
      hit = tr.values["score"] >= best;
      policy->tell({tr});
    }
    out.push_back(hit ? q : 2.0 * budget);
  }
  *seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

// Hypervolume after each checkpoint, per seed; objectives normalised to [0, 1] over the
// table, both minimised, reference point (1.1, 1.1) (the peer script does the same).
std::vector<std::vector<double>> run_multi(const Table& t, const PolicyRegistry& reg,
                                           const std::string& spec, int seeds,
                                           const std::vector<int>& checkpoints) {
  const auto& lat = t.extra.at("latency_s");
  const double glo = *std::min_element(t.score.begin(), t.score.end()),
               ghi = *std::max_element(t.score.begin(), t.score.end());
  const double llo = *std::min_element(lat.begin(), lat.end()),
               lhi = *std::max_element(lat.begin(), lat.end());
  const SearchDomain& base = *t.domain();
  std::unordered_map<std::string, std::size_t> row;
  for (std::size_t i = 0; i < t.pool.size(); ++i) row[base.key(t.pool[i])] = i;
  std::vector<std::vector<double>> out;
  for (int s = 1; s <= seeds; ++s) {
    SearchDomain domain = base;
    PolicyContext ctx{&domain,
                      {Objective::parse("glue:max"), Objective::parse("latency_s:min")},
                      {},
                      static_cast<std::uint64_t>(s)};
    auto policy = reg.create(spec, ctx);
    std::vector<std::vector<double>> seen;
    std::vector<double> hv;
    for (std::int64_t id = 0; hv.size() < checkpoints.size(); ++id) {
      const auto asked = policy->ask(1);
      if (asked.empty()) break;
      Trial tr = finished(id, asked[0], domain);
      const std::size_t i = row.at(tr.hash);
      tr.values["glue"] = t.score[i];
      tr.values["latency_s"] = lat[i];
      seen.push_back({(ghi - t.score[i]) / (ghi - glo), (lat[i] - llo) / (lhi - llo)});
      if (static_cast<int>(seen.size()) == checkpoints[hv.size()])
        hv.push_back(hypervolume(seen, {1.1, 1.1}));
      policy->tell({tr});
    }
    out.push_back(hv);
  }
  return out;
}

void write_table(const Table& t, const fs::path& dir) {
  std::ofstream out(dir / (t.name + ".jsonl"));
  for (std::size_t i = 0; i < t.pool.size(); ++i) {
    nlohmann::ordered_json j;
    j["model"] = to_json(t.pool[i]);
    j["score"] = t.score[i];
    for (const auto& [k, v] : t.extra) j[k] = v[i];
    out << j.dump() << "\n";
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, sep);)
    if (!x.empty()) out.push_back(x);
  return out;
}

// bench/optuna_peer.py output: "seed value..." per line.
std::vector<std::vector<double>> read_peer(const fs::path& p) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    std::stringstream ss(line);
    std::vector<double> v;
    double x;
    ss >> x;  // seed
    while (ss >> x) v.push_back(x);
    if (!v.empty()) rows.push_back(v);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int seeds = 20, budget = 150;
  std::string tables_arg = "sst2,a100,sst2-flops,a100-latency,deceptive", write_dir, peer_dir,
              json_path, sections = "single,multi", extra_policies, only_policies;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--seeds")
      seeds = std::stoi(v);
    else if (k == "--budget")
      budget = std::stoi(v);
    else if (k == "--tables")
      tables_arg = v;
    else if (k == "--policies")
      extra_policies = v;
    else if (k == "--only")
      only_policies = v;
    else if (k == "--write-tables")
      write_dir = v;
    else if (k == "--peer-dir")
      peer_dir = v;
    else if (k == "--sections")
      sections = v;
    else if (k == "--json")
      json_path = v;
    else {
      std::fprintf(stderr, "search_tables_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const std::string data = FLEXNAS_SHARED_DATA;
  if (!fs::exists(data + "/flexibert_small_sst2.jsonl") ||
      !fs::exists(data + "/edgetran/a100.jsonl")) {
    std::fprintf(stderr, "search_tables_bench: needs %s (flexibert_small_sst2.jsonl, edgetran/)\n",
                 data.c_str());
    return 1;
  }
  std::vector<Table> tables;
  const Table sst2 = from_rows("sst2", "620 FlexiBERT models, SST-2 accuracy",
                               read_jsonl(data + "/flexibert_small_sst2.jsonl"), "sst2_accuracy");
  const Table a100 = from_rows("a100", "239 FlexiBERT 2.0 models, GLUE on the EdgeTran A100 table",
                               read_jsonl(data + "/edgetran/a100.jsonl"), "glue");
  sst2.domain();  // penalised copies share the pool's domain and its embedding
  a100.domain();
  for (const auto& name : split(tables_arg, ',')) {
    if (name == "sst2")
      tables.push_back(sst2);
    else if (name == "a100")
      tables.push_back(a100);
    else if (name == "sst2-flops") {
      std::vector<double> flops;
      for (const auto& a : sst2.pool) flops.push_back(model_stats(a).flops);
      tables.push_back(
          penalised(sst2, name, "SST-2 accuracy - 0.02 per doubling of FLOPs", flops, 0.02));
    } else if (name == "a100-latency") {
      // The best GLUE model is also fast: a plain latency penalty leaves it best or, stronger,
      // makes the fastest model best. A 5 ms budget makes the best a third model.
      tables.push_back(penalised(a100, name, "A100 GLUE - 0.2 per doubling of latency over 5 ms",
                                 a100.extra.at("latency_s"), 0.2, 0.005));
    } else if (name == "deceptive") {
      tables.push_back(deceptive());
    } else {
      std::fprintf(stderr, "search_tables_bench: unknown table %s\n", name.c_str());
      return 2;
    }
  }
  if (!write_dir.empty()) {
    fs::create_directories(write_dir);
    for (const auto& t : tables) write_table(t, write_dir);
    std::printf("tables written to %s\n", write_dir.c_str());
    return 0;
  }

  PolicyRegistry reg;
  register_builtin_policies(reg);
  std::vector<std::string> policies;
  for (const auto& e : reg.entries())
    if (e.name != "hierarchical") policies.push_back(e.name);  // needs a design space, not a pool
  for (const auto& p : split(extra_policies, ';')) policies.push_back(p);
  if (!only_policies.empty()) policies = split(only_policies, ';');
  const std::vector<std::string> peers{"tpe-mv", "tpe", "random", "nsga2"};
  nlohmann::ordered_json report;

  if (sections.find("single") != std::string::npos)
    for (const auto& t : tables) {
      const double best = *std::max_element(t.score.begin(), t.score.end());
      const auto ties = std::count(t.score.begin(), t.score.end(), best);
      std::printf(
          "\n== %s: %s (%zu models, best %.4f held by %td; %d seeds, budget %d, a miss "
          "counts %d)\n",
          t.name.c_str(), t.what.c_str(), t.pool.size(), best, ties, seeds, budget, 2 * budget);
      std::printf("%-46s %8s %8s %8s %7s %10s\n", "contender", "median", "mean", "p90", "misses",
                  "seconds");
      auto print = [&](const std::string& who, const std::vector<double>& q, double sec) {
        const Stats s = stats_of(q, budget);
        std::printf("%-46s %8.1f %8.1f %8.0f %4d/%-2zu %10.1f\n", who.c_str(), s.median, s.mean,
                    s.p90, s.misses, q.size(), sec);
        report["single"][t.name][who] = {{"median", s.median},
                                         {"mean", s.mean},
                                         {"p90", s.p90},
                                         {"misses", s.misses},
                                         {"queries", q}};
      };
      for (const auto& p : policies) {
        double sec = 0;
        const auto q = run_single(t, reg, p, seeds, budget, &sec);
        print("flexnas " + p, q, sec);
      }
      for (const auto& p : peers) {
        const fs::path f = fs::path(peer_dir) / (t.name + "." + p + ".txt");
        if (peer_dir.empty() || !fs::exists(f)) continue;
        std::vector<double> q;
        for (const auto& r : read_peer(f)) q.push_back(r[0]);
        if (!q.empty()) print("optuna " + p, q, 0);
      }
    }

  if (sections.find("multi") != std::string::npos) {
    const std::vector<int> checkpoints{25, 50, 100};
    std::printf(
        "\n== multi-objective on a100 (glue:max, latency_s:min): hypervolume after 25, 50 "
        "and 100 queries, objectives scaled to [0, 1] over the table, reference (1.1, "
        "1.1); mean (sd) over %d seeds\n%-46s %16s %16s %16s\n",
        seeds, "contender", "HV@25", "HV@50", "HV@100");
    auto print = [&](const std::string& who, const std::vector<std::vector<double>>& hv) {
      std::printf("%-46s", who.c_str());
      for (std::size_t c = 0; c < checkpoints.size(); ++c) {
        std::vector<double> v;
        for (const auto& r : hv)
          if (c < r.size()) v.push_back(r[c]);
        const double m = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
        double sd = 0;
        for (double x : v) sd += (x - m) * (x - m);
        sd = v.size() > 1 ? std::sqrt(sd / static_cast<double>(v.size() - 1)) : 0;
        std::printf("  %.4f (%.4f)", m, sd);
        report["multi"][who].push_back(m);
      }
      std::printf("\n");
    };
    std::vector<std::string> mo{"random", "nsga2", "sa-nsga2", "boshnas"};
    if (!only_policies.empty()) mo = split(only_policies, ';');
    for (const auto& p : mo) print("flexnas " + p, run_multi(a100, reg, p, seeds, checkpoints));
    for (const std::string p : {"nsga2", "tpe-mv"}) {
      const fs::path f = fs::path(peer_dir) / ("a100-mo." + p + ".txt");
      if (!peer_dir.empty() && fs::exists(f)) print("optuna " + p, read_peer(f));
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << report.dump(1) << "\n";
  return 0;
}
