#pragma once
// Errors a user can cause (bad YAML, bad model dict, unknown names). The CLI maps
// InputError to exit code 2 with its one-line message; anything else is exit 1.
#include <stdexcept>
#include <string>

namespace flexnas {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace flexnas
