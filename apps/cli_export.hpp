#pragma once
// Shared by `flexnas export` (cli_search.cpp) and `flexnas export-model`: the export
// options and writing hf / onnx files (docs/export.md).
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "space/export.hpp"

namespace flexnas::cli {

// --vocab, --max-positions, --num-labels, --seq, --seed.
void add_export_options(CLI::App* cmd, ExportOptions& opt);

// Writes (name, architecture) pairs as `format` (hf or onnx). single: one architecture,
// `out` is a file (hf also '-'); otherwise hf writes a JSON array to `out` and onnx writes
// `out`/<name>.onnx (the directory is created).
void write_exports(const std::vector<std::pair<std::string, Architecture>>& archs,
                   const std::string& format, bool single, const std::string& out,
                   const ExportOptions& opt);

}  // namespace flexnas::cli
