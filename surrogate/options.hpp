#pragma once
// Declared options of a registered surrogate or acquisition: each option is declared once
// (name, default, bounds or choices, description); factories read values through
// OptionReader, which checks them against the declaration and reports unknown keys.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flexnas {

struct OptionSpec {
  enum class Type { kInt, kDouble, kBool, kChoice };
  std::string name;
  Type type = Type::kDouble;
  std::string default_value;
  double lo = 0, hi = 0;             // kInt, kDouble: inclusive bounds
  std::vector<std::string> choices;  // kChoice
  std::string description;

  static OptionSpec integer(std::string name, long long def, long long lo, long long hi,
                            std::string description);
  static OptionSpec real(std::string name, double def, double lo, double hi,
                         std::string description);
  static OptionSpec boolean(std::string name, bool def, std::string description);
  static OptionSpec choice(std::string name, std::string def, std::vector<std::string> choices,
                           std::string description);
  // "1e-3 .. 1", "one of a, b" or "true or false": for help texts and error messages.
  std::string allowed() const;
};

// Shortest text that reads back as the same double.
std::string format_double(double v);

class OptionReader {
 public:
  // `where` names the component in messages ("surrogate boshnas"). Throws SurrogateError
  // naming the key and listing the known ones when `given` has a key `specs` lacks.
  OptionReader(std::string where, const std::vector<OptionSpec>& specs,
               const std::map<std::string, std::string>& given);
  // Given value or declared default, checked; SurrogateError names key, value and what
  // is allowed.
  long long integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;
  std::string choice(const std::string& name) const;

 private:
  const OptionSpec& spec(const std::string& name) const;
  std::string value(const std::string& name) const;
  [[noreturn]] void fail(const OptionSpec& s, const std::string& value) const;

  std::string where_;
  const std::vector<OptionSpec>& specs_;
  const std::map<std::string, std::string>& given_;
};

}  // namespace flexnas
