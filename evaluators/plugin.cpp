// plugin: a shared library implementing the C ABI of include/flexnas/plugin.h, loaded with
// Boost.DLL (on C++17 std::filesystem, so no Boost.Filesystem library). Boost.DLL 1.74
// reports every failed load as "bad file descriptor"; the loader's own reason is still in
// dlerror() afterwards, so the one-line error names it.
#define BOOST_DLL_USE_STD_FS
#include <dlfcn.h>

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "flexnas/plugin.h"

namespace flexnas {
namespace {

using AbiFn = int (*)();
using DescribeFn = const char* (*)();
using CreateFn = void* (*)(const char*, char*, std::size_t);
using DestroyFn = void (*)(void*);
using EvaluateFn = int (*)(void*, const char*, const char*, char*, std::size_t);

constexpr std::size_t kFirstBuffer = 64 * 1024;
constexpr std::size_t kMaxBuffer = 16 * 1024 * 1024;

std::vector<ValueSpec> parse_describe(const char* text, const std::string& where) {
  if (!text) throw InputError(where + ": flexnas_plugin_describe() returned NULL");
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("values") || !j["values"].is_array() ||
      j["values"].empty())
    throw InputError(where +
                     ": flexnas_plugin_describe() is not {\"values\": [{\"name\": ..., "
                     "\"direction\": ...}, ...]}");
  std::vector<ValueSpec> out;
  for (const auto& v : j["values"]) {
    const bool ok = v.is_object() && v.contains("name") && v["name"].is_string() &&
                    valid_value_name(v["name"].get<std::string>()) && v.contains("direction") &&
                    (v["direction"] == "min" || v["direction"] == "max") &&
                    (!v.contains("unit") || v["unit"].is_string()) &&
                    (!v.contains("description") || v["description"].is_string());
    if (!ok)
      throw InputError(where + ": flexnas_plugin_describe() value " + v.dump() +
                       " needs a name (letters, digits, _ . -) and direction \"min\" or \"max\"");
    ValueSpec s;
    s.name = v["name"].get<std::string>();
    s.direction = v["direction"] == "min" ? Direction::kMinimize : Direction::kMaximize;
    s.unit = v.value("unit", "");
    s.description = v.value("description", "");
    for (const auto& prev : out)
      if (prev.name == s.name)
        throw InputError(where + ": flexnas_plugin_describe() lists value '" + s.name + "' twice");
    out.push_back(std::move(s));
  }
  return out;
}

class PluginEvaluator : public Evaluator {
 public:
  explicit PluginEvaluator(const Options& o) : opts_(o.values()) {
    std::string path = opts_.at("path");
    if (path.empty()) throw InputError("evaluator plugin: option path=FILE.so is required");
    const std::string where = "plugin " + path;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw InputError(where + ": no such file");
    if (!std::filesystem::is_regular_file(path, ec))
      throw InputError(where + ": not a regular file");
    // A name without '/' would be searched on the library path; the user means this file.
    if (path.find('/') == std::string::npos) path = "./" + path;
    dlerror();
    std::error_code load_ec;
    lib_.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
    if (load_ec) {
      const char* e = dlerror();
      throw InputError(where + ": cannot load: " + (e ? std::string(e) : load_ec.message()));
    }
    {
      auto abi = sym<AbiFn>("flexnas_plugin_abi_version", where);
      const int v = abi();
      if (v != FLEXNAS_PLUGIN_ABI_VERSION)
        throw InputError(where + ": plugin ABI version " + std::to_string(v) +
                         ", this flexnas loads version " +
                         std::to_string(FLEXNAS_PLUGIN_ABI_VERSION) +
                         " (rebuild it against include/flexnas/plugin.h)");
      values_ = parse_describe(sym<DescribeFn>("flexnas_plugin_describe", where)(), where);
      auto create = sym<CreateFn>("flexnas_plugin_create", where);
      destroy_ = sym<DestroyFn>("flexnas_plugin_destroy", where);
      evaluate_ = sym<EvaluateFn>("flexnas_plugin_evaluate", where);
      char err[1024] = {0};
      instance_ = create(opts_.at("config").c_str(), err, sizeof err);
      err[sizeof err - 1] = 0;
      if (!instance_) {
        std::string why = err[0] ? err : "no reason given";
        if (why.find('\n') != std::string::npos) why = why.substr(0, why.find('\n'));
        throw InputError(where + ": flexnas_plugin_create failed: " + why);
      }
    }
  }

  ~PluginEvaluator() override {
    if (instance_) destroy_(instance_);
  }  // then lib_ unloads the library
  PluginEvaluator(const PluginEvaluator&) = delete;
  PluginEvaluator& operator=(const PluginEvaluator&) = delete;

  std::string name() const override { return "plugin"; }
  std::vector<ValueSpec> provides() const override { return values_; }
  std::map<std::string, std::string> options() const override { return opts_; }

  EvalResult evaluate(const Architecture& a, const EvalContext& ctx) override {
    std::lock_guard lock(mu_);  // one call at a time per instance, as the ABI promises
    const auto model = to_string(a);
    const auto context = context_json(ctx);
    std::vector<char> out(kFirstBuffer, 0);
    for (;;) {
      const int rc = evaluate_(instance_, model.c_str(), context.c_str(), out.data(), out.size());
      out.back() = 0;  // whatever the plugin did, the text ends inside the buffer
      std::string text(out.data());
      if (rc == FLEXNAS_PLUGIN_OK) return values_from_answer(text, values_);
      EvalResult r;
      r.status = EvalStatus::kFailed;
      if (rc == FLEXNAS_PLUGIN_OUT_TOO_SMALL) {
        if (out.size() < kMaxBuffer) {
          out.assign(out.size() * 4, 0);
          continue;
        }
        r.message = "answer does not fit in " + std::to_string(kMaxBuffer) + " bytes";
        return r;
      }
      if (text.find('\n') != std::string::npos) text = text.substr(0, text.find('\n'));
      r.message = rc == FLEXNAS_PLUGIN_FAILED
                      ? (text.empty() ? "failed, no reason given" : text)
                      : "unknown status " + std::to_string(rc) + " from flexnas_plugin_evaluate";
      return r;
    }
  }

 private:
  template <typename F>
  F sym(const char* name, const std::string& where) {
    if (!lib_.has(name))
      throw InputError(where + ": missing symbol " + name +
                       " (not a flexnas plugin, or built without extern \"C\"?)");
    return &lib_.get<std::remove_pointer_t<F>>(name);
  }

  std::map<std::string, std::string> opts_;
  boost::dll::shared_library lib_;  // unloads after ~PluginEvaluator destroyed the instance
  void* instance_ = nullptr;
  DestroyFn destroy_ = nullptr;
  EvaluateFn evaluate_ = nullptr;
  std::vector<ValueSpec> values_;
  std::mutex mu_;
};

}  // namespace

void register_plugin(EvaluatorRegistry& r) {
  r.add({"plugin",
         "a shared library implementing include/flexnas/plugin.h (C ABI, version 1)",
         {OptionSpec::text("path", "", "the library file (.so)"),
          OptionSpec::text("config", "", "text handed to flexnas_plugin_create")},
         [](const auto& o) { return std::make_unique<PluginEvaluator>(o); }});
}

}  // namespace flexnas
