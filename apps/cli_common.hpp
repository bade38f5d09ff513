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

// "--model" text: JSON, or @path to a file holding one model dict; a plain path that
// exists is read too, with a note on stderr. model_text returns the JSON text itself.
std::string model_text(const std::string& text);
Architecture load_model(const std::string& text);
// A file of model dicts: JSON lines, each a model dict or an object with a "model" field.
std::vector<Architecture> load_models(const std::string& path);

// "params, flops, ..." and "random, evolution, ...": the registered names, for --help.
std::string evaluator_names();
std::string policy_names();

bool stderr_is_terminal();
// Progress callback that redraws one line on stderr when it is a terminal, else nothing.
std::function<void(const std::string&, std::size_t, std::size_t)> progress_printer();

// Shortest text that reads back as the same double (CSV and tables of numbers).
std::string full_precision(double v);

// Evaluator specs of a study (cli_study.cpp). absolute_evaluator_spec: the file options
// (lut:file, latency-model:file, plugin:path, table:file) and external:cmd's program word,
// when a relative path that exists, made absolute, so a study runs the same from any
// directory. check_evaluator_files: InputError when such a file is missing now.
// check_trust: InputError when the study directory belongs to another user and an
// external or plugin evaluator would run without --trust.
std::string absolute_evaluator_spec(const std::string& spec);
void check_evaluator_files(const std::vector<std::string>& specs);
void check_trust(const std::string& dir, const std::vector<std::string>& specs, bool trust);

// Writes `text` to path atomically (temporary file, then rename); "-" is stdout.
void write_output(const std::string& path, const std::string& text);

}  // namespace flexnas::cli
