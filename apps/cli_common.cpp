#include "apps/cli_common.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/options.hpp"
#include "evaluators/evaluator.hpp"
#include "search/policy.hpp"
#include "space/file_io.hpp"

namespace flexnas::cli {

std::string evaluator_names() {
  EvaluatorRegistry r;
  register_builtins(r);
  return join(r.names());
}

std::string policy_names() {
  PolicyRegistry r;
  register_builtin_policies(r);
  return join(r.names());
}

CLI::App* group(CLI::App& app, const std::string& name, const std::string& description) {
  for (auto* sub : app.get_subcommands([&](CLI::App* s) { return s->get_name() == name; }))
    return sub;
  auto* g = app.add_subcommand(name, description);
  g->require_subcommand(1);
  return g;
}

void SpaceArgs::add(CLI::App* cmd, bool required) {
  std::string names;
  for (const auto& n : DesignSpace::builtin_names()) names += (names.empty() ? "" : ", ") + n;
  auto* opt = cmd->add_option("--space", space, "built-in space (" + names + ") or a YAML file");
  if (required)
    opt->required();
  else
    opt->capture_default_str();
  cmd->add_option("--layers-per-stack", layers_per_stack,
                  "override the space's layers per stack (consecutive layers sharing one choice)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--mixed-ff", mixed_ff, "allow different widths inside one feed-forward stack");
}

DesignSpace SpaceArgs::load() const {
  auto s = DesignSpace::load(space);
  if (layers_per_stack) s.layers_per_stack = *layers_per_stack;
  if (mixed_ff) s.mixed_ff = true;
  s.check();
  return s;
}

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string model_text(const std::string& text) {
  if (!text.empty() && text[0] == '@') return read_text(text.substr(1));
  const auto first = text.find_first_not_of(" \t\r\n");
  std::error_code ec;
  if (first != std::string::npos && text[first] != '{' && text[first] != '[' &&
      std::filesystem::is_regular_file(text, ec)) {
    std::fprintf(stderr, "flexnas: note: --model %s: reading the file (write @%s to say so)\n",
                 text.c_str(), text.c_str());
    return read_text(text);
  }
  return text;
}

Architecture load_model(const std::string& text) {
  return architecture_from_string(model_text(text));
}

std::string full_precision(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::vector<Architecture> load_models(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read file '" + path + "'");
  std::vector<Architecture> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      auto j = nlohmann::json::parse(line);
      out.push_back(architecture_from_json(j.is_object() && j.contains("model") ? j["model"] : j));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ":" + std::to_string(n) + ": malformed JSON line");
    } catch (const InputError& e) {
      throw InputError(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  if (out.empty()) throw InputError("file '" + path + "' holds no models");
  return out;
}

bool stderr_is_terminal() {
  return isatty(STDERR_FILENO) != 0;
}

std::function<void(const std::string&, std::size_t, std::size_t)> progress_printer() {
  if (!stderr_is_terminal()) return nullptr;
  auto start =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [start](const std::string& stage, std::size_t done, std::size_t total) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
    std::fprintf(stderr, "\r\033[K%s: %zu/%zu (%.0f%%) %.1fs", stage.c_str(), done, total,
                 total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
                 secs);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

void write_output(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return;
  }
  write_file_atomic(path, text);
}

}  // namespace flexnas::cli
