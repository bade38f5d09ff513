#pragma once
// Strict numbers from outside input: option strings, YAML and CSV fields, JSON values. A
// number is accepted only when the whole text is one decimal number whose value fits the
// target and the given bounds; anything else (trailing garbage as in `8abc`, overflow, a
// fraction where an integer is expected, inf/nan, a negative count) throws InputError
// "FIELD: VALUE is not ..." naming the field and the value. Never a wrapped, truncated or
// clamped number.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"

namespace flexnas {

namespace numbers_detail {
// "FIELD: VALUE is not an integer in [LO, HI]", or "FIELD: VALUE is out of range (an integer
// in [LO, HI])" when VALUE is an integer (bounds left out where they are the type's).
[[noreturn]] void bad_integer(std::string_view text, const std::string& field, long double lo,
                              long double hi, bool type_lo, bool type_hi, bool integral);
bool integer_literal(std::string_view text);
}  // namespace numbers_detail

// Shortest text that reads back as the same double.
std::string format_double(double v);

// TEXT in single quotes, cut to 60 characters, control characters shown as '?': how a bad
// value appears in a one-line error message.
std::string quote_input(std::string_view text);

// A decimal integer of type T in [lo, hi]: no sign on unsigned types, no '+', no spaces, no
// base prefix, no exponent.
template <std::integral T>
T parse_integer(std::string_view text, const std::string& field,
                T lo = std::numeric_limits<T>::lowest(), T hi = std::numeric_limits<T>::max()) {
  T x{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || x < lo || x > hi)
    numbers_detail::bad_integer(
        text, field, static_cast<long double>(lo), static_cast<long double>(hi),
        lo == std::numeric_limits<T>::lowest(), hi == std::numeric_limits<T>::max(),
        numbers_detail::integer_literal(text));
  return x;
}

// A finite decimal number in [lo, hi] ("1e-3" and "2.5" are fine; "inf", "nan", "1e400",
// "0x1p3" and "3ms" are not).
double parse_real(std::string_view text, const std::string& field,
                  double lo = std::numeric_limits<double>::lowest(),
                  double hi = std::numeric_limits<double>::max());

// The same for JSON values: an integer (or an integral float such as 128.0) in the range of
// T and [lo, hi]; a number that overflowed nlohmann's integer types (it becomes a float) is
// out of range, never wrapped.
long long json_integer(const nlohmann::json& v, const std::string& field, long long lo,
                       long long hi);
std::uint64_t json_uint64(const nlohmann::json& v, const std::string& field);
template <std::integral T>
T json_integer(const nlohmann::json& v, const std::string& field,
               T lo = std::numeric_limits<T>::lowest(), T hi = std::numeric_limits<T>::max()) {
  if constexpr (std::is_unsigned_v<T> && sizeof(T) == sizeof(std::uint64_t)) {
    const std::uint64_t x = json_uint64(v, field);
    if (x < lo || x > hi)
      numbers_detail::bad_integer(std::to_string(x), field, static_cast<long double>(lo),
                                  static_cast<long double>(hi), lo == 0,
                                  hi == std::numeric_limits<T>::max(), true);
    return static_cast<T>(x);
  } else {
    return static_cast<T>(
        json_integer(v, field, static_cast<long long>(lo), static_cast<long long>(hi)));
  }
}
// A finite JSON number in [lo, hi].
double json_real(const nlohmann::json& v, const std::string& field,
                 double lo = std::numeric_limits<double>::lowest(),
                 double hi = std::numeric_limits<double>::max());

// nlohmann::json::parse whose failures (syntax, number overflow such as 1e400) become
// InputError "WHERE: malformed JSON: ...".
nlohmann::json parse_json(std::string_view text, const std::string& where);

}  // namespace flexnas
