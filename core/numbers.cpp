#include "core/numbers.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace flexnas {
std::string format_double(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string quote_input(std::string_view text) {
  // Long garbage is cut so that the message stays one readable line.
  std::string s(text.substr(0, 60));
  if (text.size() > 60) s += "...";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return "'" + s + "'";
}

namespace {

std::string range_text(long double lo, long double hi, bool type_lo, bool type_hi) {
  auto num = [](long double v) {  // bounds are integers; long double holds 64 bits exactly
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0Lf", v);
    return std::string(buf);
  };
  if (type_hi && !type_lo) return " >= " + num(lo);
  if (type_lo && !type_hi) return " <= " + num(hi);
  return " in [" + num(lo) + ", " + num(hi) + "]";
}

[[noreturn]] void bad_real(std::string_view text, const std::string& field, double lo, double hi) {
  const bool type_lo = lo == std::numeric_limits<double>::lowest();
  const bool type_hi = hi == std::numeric_limits<double>::max();
  std::string range;
  if (!type_lo && !type_hi)
    range = " in [" + format_double(lo) + ", " + format_double(hi) + "]";
  else if (!type_lo)
    range = " >= " + format_double(lo);
  else if (!type_hi)
    range = " <= " + format_double(hi);
  throw InputError((field.empty() ? "" : field + ": ") + quote_input(text) +
                   " is not a finite number" + range);
}

}  // namespace

namespace numbers_detail {
void bad_integer(std::string_view text, const std::string& field, long double lo, long double hi,
                 bool type_lo, bool type_hi, bool integral) {
  const std::string range = range_text(lo, hi, type_lo, type_hi);
  const std::string head = (field.empty() ? "" : field + ": ") + quote_input(text);
  if (integral) throw InputError(head + " is out of range (an integer" + range + ")");
  throw InputError(head + " is not an integer" + range);
}

bool integer_literal(std::string_view text) {
  if (!text.empty() && text[0] == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}
}  // namespace numbers_detail

double parse_real(std::string_view text, const std::string& field, double lo, double hi) {
  double x = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || !std::isfinite(x) ||
      x < lo || x > hi)
    bad_real(text, field, lo, hi);
  return x;
}

long long json_integer(const nlohmann::json& v, const std::string& field, long long lo,
                       long long hi) {
  const bool type_lo = lo == std::numeric_limits<long long>::lowest();
  const bool type_hi = hi == std::numeric_limits<long long>::max();
  if (v.is_number_unsigned()) {
    const auto x = v.get<std::uint64_t>();
    if (hi >= 0 && x <= static_cast<std::uint64_t>(hi) && static_cast<long long>(x) >= lo)
      return static_cast<long long>(x);
  } else if (v.is_number_integer()) {
    const auto x = v.get<std::int64_t>();
    if (x >= lo && x <= hi) return x;
  } else if (v.is_number_float()) {
    const double x = v.get<double>();
    // 2^63 is the first double past long long; [lo, hi] is checked in long double.
    if (std::isfinite(x) && x == std::floor(x) && x >= static_cast<double>(lo) &&
        x < 9223372036854775808.0 && static_cast<long long>(x) >= lo &&
        static_cast<long long>(x) <= hi)
      return static_cast<long long>(x);
  }
  const bool integral =
      v.is_number() && (!v.is_number_float() || v.get<double>() == std::floor(v.get<double>()));
  numbers_detail::bad_integer(v.dump(), field, static_cast<long double>(lo),
                              static_cast<long double>(hi), type_lo, type_hi, integral);
}

std::uint64_t json_uint64(const nlohmann::json& v, const std::string& field) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (std::isfinite(x) && x == std::floor(x) && x >= 0 && x < 18446744073709551616.0)
      return static_cast<std::uint64_t>(x);
  }
  const bool integral =
      v.is_number() && (!v.is_number_float() || v.get<double>() == std::floor(v.get<double>()));
  numbers_detail::bad_integer(v.dump(), field, 0, 18446744073709551615.0L, true, true, integral);
}

double json_real(const nlohmann::json& v, const std::string& field, double lo, double hi) {
  if (v.is_number()) {
    const double x = v.get<double>();
    if (std::isfinite(x) && x >= lo && x <= hi) return x;
  }
  bad_real(v.dump(), field, lo, hi);
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, out_of_range.406 (1e400)
    std::string msg = e.what();
    const auto pos = msg.find("] ");  // drop nlohmann's "[json.exception.parse_error.101]"
    if (pos != std::string::npos) msg = msg.substr(pos + 2);
    throw InputError(where + ": malformed JSON: " + msg);
  }
}

}  // namespace flexnas
