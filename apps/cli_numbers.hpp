#pragma once
// Strict numeric options for every command: CLI11 2.1 reads integers with strtoull/strtoll
// in base 0, so `--budget 99999999999999999999999` saturated to 2^64 - 1 (a search that
// never ends), `--budget -1` wrapped the same way and `--seed 010` was octal 8. This adds a
// check to each INT, UINT and FLOAT option of the tree (commands added later included,
// since it walks the tree at parse time): one decimal number that fits 64 bits (and is
// not negative for UINT), or a finite decimal number; else the usual exit 2 naming the
// option. Narrower targets are range-checked by CLI11 itself after this.
#include <CLI/CLI.hpp>

namespace flexnas::cli {

void strict_numeric_options(CLI::App& app);

}  // namespace flexnas::cli
