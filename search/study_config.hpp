#pragma once
// The stored definition of a search (the `config` of a study, what `resume` and `export`
// read back): its keys, their types and their numbers, checked strictly before anything is
// rebuilt from it. A study written by flexnas always passes; a hand-edited or foreign one
// with a wrong type, a wrapped or fractional count, a malformed objective, constraint,
// space, pool model or spec string is InputError naming the key.
#include <nlohmann/json.hpp>

namespace flexnas {

void check_study_config(const nlohmann::json& config);

}  // namespace flexnas
