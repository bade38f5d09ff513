#pragma once
// The YAML of the built-in design spaces (data/spaces/*.yaml), compiled into the
// library at build time so the binary needs no data directory at run time.
#include <string>
#include <utility>
#include <vector>

namespace flexnas {

// (name, YAML text) in name order.
const std::vector<std::pair<std::string, std::string>>& builtin_space_texts();

}  // namespace flexnas
