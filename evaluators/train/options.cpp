#include "evaluators/train/options.hpp"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "space/error.hpp"

namespace flexnas::train {

namespace {

std::string number(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string expected(const OptionDecl& d) {
  switch (d.kind) {
    case OptionKind::integer:
      return "an integer in [" + number(d.lo) + ", " + number(d.hi) + "]";
    case OptionKind::real:
      return "a number in [" + number(d.lo) + ", " + number(d.hi) + "]";
    case OptionKind::choice:
      return "one of " + join(d.choices, "|");
    case OptionKind::path:
      return "a file path";
  }
  return "";
}

[[noreturn]] void bad(const OptionDecl& d, const std::string& v) {
  throw InputError("train: option " + d.name + "=" + v + " is not " + expected(d));
}

}  // namespace

std::string describe(const OptionDecl& d) {
  std::string s = expected(d);
  if (!d.default_value.empty()) s += ", default " + d.default_value;
  if (!d.tasks.empty()) s += ", task " + join(d.tasks, "|");
  return s + ": " + d.description;
}

OptionReader::OptionReader(const std::vector<OptionDecl>& table,
                           const std::map<std::string, std::string>& given)
    : table_(table), given_(given) {}

const OptionDecl& OptionReader::decl(const std::string& name) const {
  for (const auto& d : table_)
    if (d.name == name) return d;
  assert(false && "option not declared");
  std::abort();
}

const std::string& OptionReader::raw(const OptionDecl& d) const {
  auto it = given_.find(d.name);
  return it != given_.end() ? it->second : d.default_value;
}

bool OptionReader::given(const std::string& name) const {
  return given_.count(name) > 0;
}

long long OptionReader::integer(const std::string& name) const {
  const auto& d = decl(name);
  const std::string& v = raw(d);
  long long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || static_cast<double>(x) < d.lo ||
      static_cast<double>(x) > d.hi)
    bad(d, v);
  return x;
}

double OptionReader::real(const std::string& name) const {
  const auto& d = decl(name);
  const std::string& v = raw(d);
  char* end = nullptr;
  const double x = v.empty() ? NAN : std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x < d.lo || x > d.hi)
    bad(d, v);
  return x;
}

std::string OptionReader::text(const std::string& name) const {
  const auto& d = decl(name);
  const std::string& v = raw(d);
  if (d.kind == OptionKind::choice) {
    for (const auto& c : d.choices)
      if (c == v) return v;
    bad(d, v);
  }
  if (d.kind == OptionKind::path && given(name) && v.empty()) bad(d, v);
  return v;
}

}  // namespace flexnas::train
