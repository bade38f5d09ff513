// Example flexnas cost-model plugin: an energy estimate of one forward pass from layer
// shapes, after Horowitz (ISSCC 2014, 45 nm): a 32-bit float multiply-add costs about
// 4.6 pJ (3.7 + 0.9) and reading a 32-bit word from DRAM about 640 pJ. Energy =
// MACs * mac_pj + weights * dram_pj (every weight read once from DRAM per sequence).
// Config (config= option): a JSON object {"mac_pj": 4.6, "dram_pj": 640}, or empty.
//
// MACs per layer for sequence length L, width h, n heads of size d = h / n:
//   sa/sdp head: q, k, v 3 L h d; scores L L d; weighted sum L L d   (weights 3 h d)
//   sa/wma head: as sdp plus L d d for q W                          (weights 3 h d + d d)
//   l/dft, l/dct head: v L h d; transform L L d + L d d, twice for dft   (weights h d)
//   c/k head: v L h d; depthwise convolution k L d                  (weights h d + k d)
//   output projection L h h; feed-forward L * sum(in * out); projection to the next width L h h'.
#include <flexnas/plugin.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

struct Instance {
  double mac_pj = 4.6;
  double dram_pj = 640.0;
};

void write_text(char* out, size_t out_len, const std::string& s) {
  if (out_len == 0) return;
  const size_t n = s.size() < out_len - 1 ? s.size() : out_len - 1;
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}

struct Head {
  std::string family, param;
};

// Heads of layer j in either model-dict form.
std::vector<Head> heads_of(const nlohmann::json& m, size_t j) {
  std::vector<Head> heads;
  const auto& o = m.at("o").at(j);
  if (o.is_array()) {  // hetero form: "sa_sdp_64"
    for (const auto& s : o) {
      const auto t = s.get<std::string>();
      const auto a = t.find('_'), b = t.rfind('_');
      heads.push_back({t.substr(0, a), t.substr(a + 1, b - a - 1)});
    }
  } else {
    const auto& p = m.at("p").at(j);
    const std::string param = p.is_string() ? p.get<std::string>() : std::to_string(p.get<int>());
    for (int k = 0; k < m.at("n").at(j).get<int>(); ++k)
      heads.push_back({o.get<std::string>(), param});
  }
  return heads;
}

}  // namespace

extern "C" {

int flexnas_plugin_abi_version(void) {
  return FLEXNAS_PLUGIN_ABI_VERSION;
}

const char* flexnas_plugin_describe(void) {
  return R"json({"values": [
    {"name": "energy_mj", "unit": "mJ", "direction": "min",
     "description": "forward-pass energy: MACs * mac_pj + weights * dram_pj (Horowitz 2014, 45 nm)"},
    {"name": "macs", "unit": "MAC", "direction": "min", "description": "multiply-accumulates of one sequence"}]})json";
}

void* flexnas_plugin_create(const char* config, char* err, size_t err_len) {
  try {
    auto inst = std::make_unique<Instance>();  // freed if the config does not parse
    if (config && *config) {
      const auto c = nlohmann::json::parse(config);
      inst->mac_pj = c.value("mac_pj", inst->mac_pj);
      inst->dram_pj = c.value("dram_pj", inst->dram_pj);
    }
    return inst.release();
  } catch (const std::exception& e) {
    write_text(err, err_len,
               std::string("config is not {\"mac_pj\": X, \"dram_pj\": Y}: ") + e.what());
    return nullptr;
  }
}

void flexnas_plugin_destroy(void* instance) {
  delete static_cast<Instance*>(instance);
}

int flexnas_plugin_evaluate(void* instance, const char* model_json, const char* context_json,
                            char* out, size_t out_len) {
  try {
    const auto& inst = *static_cast<const Instance*>(instance);
    const auto m = nlohmann::json::parse(model_json);
    const double L = nlohmann::json::parse(context_json).value("seq", 128);
    const size_t layers = m.at("l").get<size_t>();
    double macs = 0, weights = 0;
    for (size_t j = 0; j < layers; ++j) {
      const double h = m.at("h").at(j).get<double>();
      const auto heads = heads_of(m, j);
      const double d = h / static_cast<double>(heads.size());
      for (const auto& hd : heads) {
        if (hd.family == "sa") {
          macs += 3 * L * h * d + 2 * L * L * d + (hd.param == "wma" ? L * d * d : 0);
          weights += 3 * h * d + (hd.param == "wma" ? d * d : 0);
        } else if (hd.family == "l") {
          macs += L * h * d + (hd.param == "dft" ? 2 : 1) * (L * L * d + L * d * d);
          weights += h * d;
        } else {  // c: parameter is the kernel size
          const double k = std::stod(hd.param);
          macs += L * h * d + k * L * d;
          weights += h * d + k * d;
        }
      }
      macs += L * h * h;
      weights += h * h;
      double prev = h;
      for (const auto& w : m.at("f").at(j)) {
        macs += L * prev * w.get<double>();
        weights += prev * w.get<double>();
        prev = w.get<double>();
      }
      macs += L * prev * h;
      weights += prev * h;
      if (j + 1 < layers) {
        const double next = m.at("h").at(j + 1).get<double>();
        if (next != h) {
          macs += L * h * next;
          weights += h * next;
        }
      }
    }
    const double energy_mj = (macs * inst.mac_pj + weights * inst.dram_pj) * 1e-9;
    char buf[160];
    const int n =
        std::snprintf(buf, sizeof buf, "{\"energy_mj\": %.17g, \"macs\": %.17g}", energy_mj, macs);
    if (n < 0 || static_cast<size_t>(n) >= out_len) return FLEXNAS_PLUGIN_OUT_TOO_SMALL;
    write_text(out, out_len, buf);
    return FLEXNAS_PLUGIN_OK;
  } catch (const std::exception& e) {
    write_text(out, out_len, std::string("energy plugin: ") + e.what());
    return FLEXNAS_PLUGIN_FAILED;
  }
}

}  // extern "C"
