#pragma once
// Values a declared option must refuse (core/options.hpp), for the registry-driven tests: a
// number with trailing garbage, an overflowing or non-finite number, values past the bounds,
// a choice that is not one. Each must give InputError naming the option.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/options.hpp"

namespace flexnas::test {

inline std::vector<std::string> bad_values(const OptionSpec& s) {
  using T = OptionSpec::Type;
  std::vector<std::string> out;
  const std::string some = s.default_value.empty() ? "1" : s.default_value;
  switch (s.type) {
    case T::kInt:
      out = {some + "abc", "1e999", "2.5", "0x10", " 1"};
      if (s.int_lo > std::numeric_limits<long long>::lowest())
        out.push_back(std::to_string(s.int_lo - 1));
      if (s.int_hi < std::numeric_limits<long long>::max())
        out.push_back(std::to_string(s.int_hi + 1));
      out.push_back("99999999999999999999999");
      break;
    case T::kReal:
      out = {some + "abc", "1e999", "nan", "inf"};
      if (s.hi < std::numeric_limits<double>::max())
        out.push_back(format_double(s.hi + std::max(1.0, std::abs(s.hi))));
      if (s.lo > std::numeric_limits<double>::lowest()) out.push_back(format_double(s.lo - 1));
      break;
    case T::kBool:
      out = {"yes", "2"};
      break;
    case T::kChoice:
      out = {"no_such_choice", s.default_value + "x"};
      break;
    case T::kText:
      break;
  }
  return out;
}

}  // namespace flexnas::test
