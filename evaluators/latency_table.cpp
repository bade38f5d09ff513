#include "evaluators/latency_table.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "space/file_io.hpp"
#include "space/graph.hpp"

namespace flexnas::latency {
namespace {

// Bump when what an entry measures changes (layer definition, timing protocol).
constexpr const char* kTableVersion = "1";

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (keep)
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "cpu" : out.substr(0, 40);
}

}  // namespace

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/flexnas";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/flexnas";
  return ".flexnas-cache";
}

std::string layer_key(const Layer& layer) {
  Architecture one;
  one.layers.push_back(layer);
  Layer l = one.canonical().layers[0];
  if (l.norm == NormKind::kNone) l.norm_placement = NormPlacement::kPost;
  std::string k = "h=" + std::to_string(l.hidden) + " heads=";
  for (std::size_t i = 0; i < l.heads.size(); ++i)
    k += (i ? "," : "") + head_string(l.heads[i], l.head_size());
  k += " ff=";
  for (std::size_t i = 0; i < l.ff.size(); ++i) k += (i ? "," : "") + std::to_string(l.ff[i]);
  k += std::string(" kernel=") + to_string(l.attn_kernel) + " act=" + to_string(l.activation) +
       " norm=" + to_string(l.norm) + " place=" + to_string(l.norm_placement);
  return k;
}

std::string projection_key(int in, int out) {
  return "projection " + std::to_string(in) + ">" + std::to_string(out);
}

LatencyTable::LatencyTable(std::string cache_dir, RunShape shape, MeasureOptions measure)
    : shape_(shape), measure_(measure) {
  shape_.threads = effective_threads(shape_.threads);
  check_dtype_supported(shape_.dtype);
  if (measure_.clock == Clock::kCpu && shape_.threads != 1)
    throw InputError("latency: clock cpu needs threads 1 (got " + std::to_string(shape_.threads) +
                     ")");
  if (cache_dir.empty()) return;
  const std::string name =
      slug(cpu_model()) + "-" + to_string(shape_.dtype) + "-t" + std::to_string(shape_.threads) +
      "-b" + std::to_string(shape_.batch) + "-s" + std::to_string(shape_.seq) +
      (measure_.clock == Clock::kCpu ? "-cpuclock-" : "-") + sha256_hex(context()).substr(0, 8);
  dir_ = (std::filesystem::path(cache_dir) / "latency" / name).string();
}

std::string LatencyTable::context() const {
  return std::string("flexnas latency table v") + kTableVersion + "; cpu " + cpu_model() +
         "; isa " + cpu_isa() + "; onednn " + onednn_version() + "; threads " +
         std::to_string(shape_.threads) + "; dtype " + to_string(shape_.dtype) + "; batch " +
         std::to_string(shape_.batch) + "; seq " + std::to_string(shape_.seq) + "; clock " +
         to_string(measure_.clock);
}

std::string LatencyTable::entry_path(const std::string& key) const {
  return dir_ + "/" + sha256_hex(key).substr(0, 20) + ".json";
}

TableEntry LatencyTable::lookup(const std::string& key, const std::function<Timing()>& measure) {
  if (auto it = memo_.find(key); it != memo_.end()) return {it->second, true};
  if (!dir_.empty()) {
    // A missing, unreadable or foreign file (hash collision, older format) is a miss.
    std::ifstream in(entry_path(key));
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
      // A cache file of another shape is a miss, never a json type_error or a wrapped count.
      auto number = [&](const char* k) { return j.contains(k) && j[k].is_number(); };
      if (j.is_object() && j.contains("key") && j["key"] == key && j.contains("context") &&
          j["context"] == context() && number("median_ms") && number("p10_ms") &&
          number("p90_ms") && j.contains("repeats") && j["repeats"].is_number_unsigned() &&
          j["repeats"].get<std::uint64_t>() <= 1000000 && j.contains("inner") &&
          j["inner"].is_number_unsigned() && j["inner"].get<std::uint64_t>() <= 1000000) {
        Timing t;
        t.median_ms = j["median_ms"].get<double>();
        t.p10_ms = j["p10_ms"].get<double>();
        t.p90_ms = j["p90_ms"].get<double>();
        t.repeats = static_cast<int>(j["repeats"].get<std::uint64_t>());
        t.inner = static_cast<int>(j["inner"].get<std::uint64_t>());
        memo_[key] = t;
        return {t, true};
      }
    }
  }
  const Timing t = measure();
  memo_[key] = t;
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
      throw InputError("cannot create latency cache directory '" + dir_ + "': " + ec.message());
    const std::string ctx_path = dir_ + "/context.txt";
    if (!std::filesystem::exists(ctx_path)) write_file_atomic(ctx_path, context() + "\n");
    nlohmann::ordered_json j;
    j["key"] = key;
    j["context"] = context();
    j["median_ms"] = t.median_ms;
    j["p10_ms"] = t.p10_ms;
    j["p90_ms"] = t.p90_ms;
    j["repeats"] = t.repeats;
    j["inner"] = t.inner;
    write_file_atomic(entry_path(key), j.dump() + "\n");
  }
  return {t, false};
}

TableEntry LatencyTable::layer(const Layer& l) {
  return lookup(layer_key(l), [&] { return measure_layer(l, shape_, measure_); });
}

TableEntry LatencyTable::projection(int in, int out) {
  return lookup(projection_key(in, out),
                [&] { return measure_projection(in, out, shape_, measure_); });
}

ModelLatency LatencyTable::model(const Architecture& a,
                                 const std::function<void(std::size_t, std::size_t)>& progress) {
  ModelLatency m;
  std::size_t total = 0, done = 0;
  for (std::size_t j = 0; j < a.layers.size(); ++j)
    total += 1 + (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden);
  double weighted_spread = 0;
  auto count = [&](const TableEntry& e) {
    (e.cached ? m.reused : m.measured)++;
    m.total_ms += e.timing.median_ms;
    weighted_spread += e.timing.spread() * e.timing.median_ms;
    if (progress) progress(++done, total);
    return e.timing.median_ms;
  };
  for (std::size_t j = 0; j < a.layers.size(); ++j) {
    double ms = count(layer(a.layers[j]));
    if (j + 1 < a.layers.size() && a.layers[j + 1].hidden != a.layers[j].hidden)
      ms += count(projection(a.layers[j].hidden, a.layers[j + 1].hidden));
    m.layer_ms.push_back(ms);
  }
  m.spread = m.total_ms > 0 ? weighted_spread / m.total_ms : 0;
  return m;
}

}  // namespace flexnas::latency
