#pragma once
// Declared options of every registered component (evaluators, policies, surrogates,
// acquisitions, training tasks): each option is declared once (type, default, bounds or
// choices, description). Options checks what a user typed against the declarations (unknown
// keys, strict numbers through core/numbers.hpp) and hands the factory typed values, with one
// wording everywhere: "WHERE: option KEY: 'VALUE' is not an integer in [1, 64]".
#include <concepts>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/numbers.hpp"

namespace flexnas {

struct OptionSpec {
  enum class Type { kInt, kReal, kBool, kChoice, kText };
  std::string name;
  Type type = Type::kText;
  // An empty default on a number or choice makes the option optional: absent unless given
  // (the factory then uses something from its context, e.g. the run's sequence length).
  std::string default_value;
  long long int_lo = 0, int_hi = 0;  // kInt: inclusive bounds
  double lo = 0, hi = 0;             // kReal: inclusive bounds
  std::vector<std::string> choices;  // kChoice
  std::string description;

  static OptionSpec integer(std::string name, long long def, long long lo, long long hi,
                            std::string description);
  static OptionSpec optional_integer(std::string name, long long lo, long long hi,
                                     std::string description);
  static OptionSpec real(std::string name, double def, double lo, double hi,
                         std::string description);
  static OptionSpec boolean(std::string name, bool def, std::string description);
  static OptionSpec choice(std::string name, std::string def, std::vector<std::string> choices,
                           std::string description);
  // Free text (a path, a command, a name checked by the factory); "" allowed.
  static OptionSpec text(std::string name, std::string def, std::string description);

  // "an integer in [1, 64]", "a number in [0, 1]", "true or false", "one of a, b", "text".
  std::string allowed() const;
  // "an integer in [1, 64], default 8: DESCRIPTION" for help texts.
  std::string help() const;
  // Throws InputError "FIELD: 'VALUE' is not ALLOWED" unless VALUE is a value of this option
  // ("" is one for an optional option).
  void check(const std::string& value, const std::string& field) const;
};

// The items separated by `sep` ("a, b, c"): lists of names in messages.
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

// The entries of `given` whose keys `specs` declares: for a component that reads a share of a
// larger option map (the trainer's loop options out of the `train` evaluator's).
std::map<std::string, std::string> declared_only(const std::map<std::string, std::string>& given,
                                                 const std::vector<OptionSpec>& specs);

class Options {
 public:
  // `where` names the component in messages ("evaluator mpc", "policy boshnas"). Keys that
  // start with one of `pass_prefixes` ("surrogate.") are kept unchecked for a component the
  // factory hands them to. Throws InputError for an unknown key (listing the known ones) and
  // for a given value its declaration rejects.
  Options(std::string where, const std::vector<OptionSpec>& specs,
          const std::map<std::string, std::string>& given,
          const std::vector<std::string>& pass_prefixes = {});

  long long integer(const std::string& name) const;
  template <std::integral T>
  T integer_as(const std::string& name) const {
    const long long v = integer(name);
    if (v < static_cast<long long>(std::numeric_limits<T>::lowest()) ||
        static_cast<unsigned long long>(v) >
            static_cast<unsigned long long>(std::numeric_limits<T>::max()))
      throw std::logic_error(where_ + ": option " + name + " is declared wider than its type");
    return static_cast<T>(v);
  }
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;
  // A choice or text value; "" for an optional option that was not given.
  const std::string& text(const std::string& name) const;
  bool given(const std::string& name) const;  // typed by the user
  bool has(const std::string& name) const;    // given or defaulted to something non-empty
  // Every declared option (default or given) and every passed-through key: what the
  // component reports as its options, so that "name:k=v,..." round-trips.
  const std::map<std::string, std::string>& values() const { return values_; }
  // The passed-through keys that start with `prefix`, prefix removed.
  std::map<std::string, std::string> prefixed(const std::string& prefix) const;
  const std::string& where() const { return where_; }

 private:
  const OptionSpec& spec(const std::string& name) const;

  std::string where_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> given_;
};

}  // namespace flexnas
