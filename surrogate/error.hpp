#pragma once
// Errors a user of the surrogate module can cause: bad shapes, empty data, a model used
// before fit(), unknown names or options. surrogate/ depends on no other flexnas module,
// so it has its own type; callers that map errors to exit codes catch std::invalid_argument.
#include <stdexcept>
#include <string>

namespace flexnas {

class SurrogateError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace flexnas
