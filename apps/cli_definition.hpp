#pragma once
// The options that define a study (what to search, how to score it, which policy, how
// long), shared by `search` and `ask`, which creates a study on its first call.
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "search/ask_tell.hpp"

namespace flexnas::cli {

struct DefinitionArgs {
  StudyDefinition def;
  std::string pool;  // the --pool file
  // --space --pool --evaluator --objective --constraint --policy --budget --batch --seed
  // --stop-at --patience. `evaluator_help`: what --evaluator means for this command.
  void add(CLI::App* cmd, bool evaluator_required, const std::string& evaluator_help);
  // The definition with the pool loaded, as the study's stored config, but with the
  // evaluator specs as given (errors name the paths as the user wrote them).
  nlohmann::json config() const;
  // Before storing: the evaluators' relative paths made absolute (a study then runs the
  // same from any directory).
  static void make_paths_absolute(nlohmann::json& config);
  // For a command reopening a study: InputError naming the first of these options given on
  // the command line whose value differs from the study's stored definition.
  void check_agrees(const nlohmann::json& stored, const std::string& dir) const;

 private:
  CLI::App* cmd_ = nullptr;
};

}  // namespace flexnas::cli
