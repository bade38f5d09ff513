#pragma once
// Errors a user of the surrogate module can cause: bad shapes, empty data, a model used
// before fit(), unknown names or options. A kind of InputError (core/error.hpp), so the CLI
// reports it as bad input (exit 2) and callers may catch either.
#include "core/error.hpp"

namespace flexnas {

class SurrogateError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace flexnas
