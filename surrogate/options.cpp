#include "surrogate/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "surrogate/error.hpp"

namespace flexnas {

OptionSpec OptionSpec::integer(std::string name, long long def, long long lo, long long hi,
                               std::string description) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = Type::kInt;
  s.default_value = std::to_string(def);
  s.lo = static_cast<double>(lo);
  s.hi = static_cast<double>(hi);
  s.description = std::move(description);
  return s;
}

OptionSpec OptionSpec::real(std::string name, double def, double lo, double hi,
                            std::string description) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = Type::kDouble;
  s.default_value = format_double(def);
  s.lo = lo;
  s.hi = hi;
  s.description = std::move(description);
  return s;
}

OptionSpec OptionSpec::boolean(std::string name, bool def, std::string description) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = Type::kBool;
  s.default_value = def ? "true" : "false";
  s.description = std::move(description);
  return s;
}

OptionSpec OptionSpec::choice(std::string name, std::string def, std::vector<std::string> choices,
                              std::string description) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = Type::kChoice;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  s.description = std::move(description);
  return s;
}

std::string OptionSpec::allowed() const {
  switch (type) {
    case Type::kInt:
      return "an integer in [" + std::to_string(static_cast<long long>(lo)) + ", " +
             std::to_string(static_cast<long long>(hi)) + "]";
    case Type::kDouble:
      return "a number in [" + format_double(lo) + ", " + format_double(hi) + "]";
    case Type::kBool:
      return "true or false";
    case Type::kChoice: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < choices.size(); ++i) out += (i ? ", " : "") + choices[i];
      return out;
    }
  }
  return "";
}

std::string format_double(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

OptionReader::OptionReader(std::string where, const std::vector<OptionSpec>& specs,
                           const std::map<std::string, std::string>& given)
    : where_(std::move(where)), specs_(specs), given_(given) {
  for (const auto& entry : given) {
    const std::string& key = entry.first;  // a named variable: clang 14 cannot capture a binding
    const bool known =
        std::any_of(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == key; });
    if (known) continue;
    std::string names;
    for (const OptionSpec& s : specs) names += (names.empty() ? "" : ", ") + s.name;
    throw SurrogateError(where_ + ": unknown option '" + key + "'; options are " +
                         (names.empty() ? "none" : names));
  }
}

const OptionSpec& OptionReader::spec(const std::string& name) const {
  for (const OptionSpec& s : specs_)
    if (s.name == name) return s;
  throw std::logic_error(where_ + ": option " + name + " is not declared");
}

std::string OptionReader::value(const std::string& name) const {
  const auto it = given_.find(name);
  return it == given_.end() ? spec(name).default_value : it->second;
}

void OptionReader::fail(const OptionSpec& s, const std::string& v) const {
  throw SurrogateError(where_ + ": option " + s.name + "=" + v + " is not " + s.allowed());
}

long long OptionReader::integer(const std::string& name) const {
  const OptionSpec& s = spec(name);
  const std::string v = value(name);
  long long out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || static_cast<double>(out) < s.lo ||
      static_cast<double>(out) > s.hi)
    fail(s, v);
  return out;
}

double OptionReader::real(const std::string& name) const {
  const OptionSpec& s = spec(name);
  const std::string v = value(name);
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(out) || out < s.lo || out > s.hi)
    fail(s, v);
  return out;
}

bool OptionReader::boolean(const std::string& name) const {
  const std::string v = value(name);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  fail(spec(name), v);
}

std::string OptionReader::choice(const std::string& name) const {
  const OptionSpec& s = spec(name);
  const std::string v = value(name);
  if (std::find(s.choices.begin(), s.choices.end(), v) == s.choices.end()) fail(s, v);
  return v;
}

}  // namespace flexnas
