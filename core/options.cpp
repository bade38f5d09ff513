#include "core/options.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas {

namespace {

OptionSpec make_spec(std::string name, OptionSpec::Type type, std::string def,
                     std::string description) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = type;
  s.default_value = std::move(def);
  s.description = std::move(description);
  return s;
}

}  // namespace

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

OptionSpec OptionSpec::integer(std::string name, long long def, long long lo, long long hi,
                               std::string description) {
  OptionSpec s = optional_integer(std::move(name), lo, hi, std::move(description));
  s.default_value = std::to_string(def);
  return s;
}

OptionSpec OptionSpec::optional_integer(std::string name, long long lo, long long hi,
                                        std::string description) {
  OptionSpec s = make_spec(std::move(name), Type::kInt, "", std::move(description));
  s.int_lo = lo;
  s.int_hi = hi;
  return s;
}

OptionSpec OptionSpec::real(std::string name, double def, double lo, double hi,
                            std::string description) {
  OptionSpec s =
      make_spec(std::move(name), Type::kReal, format_double(def), std::move(description));
  s.lo = lo;
  s.hi = hi;
  return s;
}

OptionSpec OptionSpec::boolean(std::string name, bool def, std::string description) {
  return make_spec(std::move(name), Type::kBool, def ? "true" : "false", std::move(description));
}

OptionSpec OptionSpec::choice(std::string name, std::string def, std::vector<std::string> choices,
                              std::string description) {
  OptionSpec s = make_spec(std::move(name), Type::kChoice, std::move(def), std::move(description));
  s.choices = std::move(choices);
  return s;
}

OptionSpec OptionSpec::text(std::string name, std::string def, std::string description) {
  return make_spec(std::move(name), Type::kText, std::move(def), std::move(description));
}

std::string OptionSpec::allowed() const {
  switch (type) {
    case Type::kInt:
      if (int_hi == std::numeric_limits<long long>::max())
        return "an integer >= " + std::to_string(int_lo);
      return "an integer in [" + std::to_string(int_lo) + ", " + std::to_string(int_hi) + "]";
    case Type::kReal:
      if (hi == std::numeric_limits<double>::max()) return "a number >= " + format_double(lo);
      return "a number in [" + format_double(lo) + ", " + format_double(hi) + "]";
    case Type::kBool:
      return "true or false";
    case Type::kChoice:
      return "one of " + join(choices);
    case Type::kText:
      return "text";
  }
  return "";
}

std::string OptionSpec::help() const {
  std::string s = allowed();
  if (!default_value.empty()) s += ", default " + default_value;
  return s + ": " + description;
}

void OptionSpec::check(const std::string& value, const std::string& field) const {
  if (value.empty() && default_value.empty()) return;  // an optional option left out
  switch (type) {
    case Type::kInt:
      parse_integer<long long>(value, field, int_lo, int_hi);
      return;
    case Type::kReal:
      parse_real(value, field, lo, hi);
      return;
    case Type::kBool:
      if (value == "true" || value == "false" || value == "1" || value == "0") return;
      break;
    case Type::kChoice:
      if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
      break;
    case Type::kText:
      return;
  }
  throw InputError(field + ": " + quote_input(value) + " is not " + allowed());
}

std::map<std::string, std::string> declared_only(const std::map<std::string, std::string>& given,
                                                 const std::vector<OptionSpec>& specs) {
  std::map<std::string, std::string> out;
  for (const OptionSpec& s : specs)
    if (const auto it = given.find(s.name); it != given.end()) out.insert(*it);
  return out;
}

Options::Options(std::string where, const std::vector<OptionSpec>& specs,
                 const std::map<std::string, std::string>& given,
                 const std::vector<std::string>& pass_prefixes)
    : where_(std::move(where)), specs_(specs) {
  for (const OptionSpec& s : specs_) values_[s.name] = s.default_value;
  for (const auto& [key, value] : given) {
    const OptionSpec* s = nullptr;
    for (const OptionSpec& x : specs_)
      if (x.name == key) s = &x;
    if (!s) {
      bool passed = false;
      for (const std::string& p : pass_prefixes)
        passed = passed || (key.size() > p.size() && key.compare(0, p.size(), p) == 0);
      if (!passed) {
        std::vector<std::string> known;
        for (const OptionSpec& x : specs_) known.push_back(x.name);
        throw InputError(where_ + ": unknown option '" + key +
                         "' (known: " + (known.empty() ? "none" : join(known)) + ")");
      }
    } else {
      s->check(value, where_ + ": option " + key);
    }
    values_[key] = value;
    given_.push_back(key);
  }
}

const OptionSpec& Options::spec(const std::string& name) const {
  for (const OptionSpec& s : specs_)
    if (s.name == name) return s;
  throw std::logic_error(where_ + ": option " + name + " is not declared");
}

long long Options::integer(const std::string& name) const {
  const OptionSpec& s = spec(name);
  return parse_integer<long long>(values_.at(name), where_ + ": option " + name, s.int_lo,
                                  s.int_hi);
}

double Options::real(const std::string& name) const {
  const OptionSpec& s = spec(name);
  return parse_real(values_.at(name), where_ + ": option " + name, s.lo, s.hi);
}

bool Options::boolean(const std::string& name) const {
  spec(name);
  const std::string& v = values_.at(name);
  return v == "true" || v == "1";
}

const std::string& Options::text(const std::string& name) const {
  spec(name);
  return values_.at(name);
}

bool Options::given(const std::string& name) const {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

bool Options::has(const std::string& name) const {
  spec(name);
  return !values_.at(name).empty();
}

std::map<std::string, std::string> Options::prefixed(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : values_)
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0)
      out[key.substr(prefix.size())] = value;
  return out;
}

}  // namespace flexnas
