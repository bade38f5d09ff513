#pragma once
// Errors a user can cause (bad YAML, bad model dict, unknown names, bad option values). The
// CLI maps InputError to exit code 2 with its one-line message; anything else is exit 1. It
// is an std::invalid_argument so that code which knows only the standard types (the Python
// module's ValueError) treats it as bad input too.
#include <stdexcept>
#include <string>

namespace flexnas {

class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace flexnas
