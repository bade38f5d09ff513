#pragma once
// Shared pieces of the flexnas subcommands: loading spaces and models from the
// command line, progress on a terminal, atomic file output.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "space/design_space.hpp"

namespace flexnas::cli {

// The subcommand `name` of app, created with `description` when absent, so that several
// files can add commands to one group (e.g. `flexnas latency profile|fit`).
CLI::App* group(CLI::App& app, const std::string& name, const std::string& description);

// --space with the overrides every space-taking command accepts.
struct SpaceArgs {
  std::string space = "flexibert-test";
  std::optional<int> layers_per_stack;
  bool mixed_ff = false;
  void add(CLI::App* cmd, bool required = false);
  DesignSpace load() const;
};

// "--model" text: JSON, or @path to a file holding one model dict.
Architecture load_model(const std::string& text);
// A file of model dicts: JSON lines, each a model dict or an object with a "model" field.
std::vector<Architecture> load_models(const std::string& path);

// "params, flops, ..." and "random, evolution, ...": the registered names, for --help.
std::string evaluator_names();
std::string policy_names();

bool stderr_is_terminal();
// Progress callback that redraws one line on stderr when it is a terminal, else nothing.
std::function<void(const std::string&, std::size_t, std::size_t)> progress_printer();

// Writes `text` to path atomically (temporary file, then rename); "-" is stdout.
void write_output(const std::string& path, const std::string& text);

}  // namespace flexnas::cli
