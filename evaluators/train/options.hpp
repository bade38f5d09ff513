#pragma once
// Declared options of the `train` evaluator (tasks and training loop): each option once, with
// its default, bounds and a one-line description; parsing and --help text come from the
// declaration. Values arrive as the strings a user typed in `--evaluator train:k=v,...`.
#include <map>
#include <string>
#include <vector>

namespace flexnas::train {

enum class OptionKind { integer, real, choice, path };

struct OptionDecl {
  std::string name;
  std::string default_value;  // "" = no default (a path the task requires, or none)
  std::string description;    // one line; bounds/choices are appended by describe()
  OptionKind kind = OptionKind::integer;
  double lo = 0;  // integer and real: inclusive bounds
  double hi = 0;
  std::vector<std::string> choices;  // choice: the valid values
  std::vector<std::string> tasks;    // tasks the option applies to; empty = every task
};

// "integer in [1, 100000], default 200: training steps".
std::string describe(const OptionDecl& d);

// Reads declared options from a user's map: a given value or the declared default, checked
// against the declaration. Errors are InputError "train: option steps=abc is not an integer in
// [1, 1000000]". Keys the table does not declare are ignored (the evaluator reports them).
class OptionReader {
 public:
  OptionReader(const std::vector<OptionDecl>& table,
               const std::map<std::string, std::string>& given);
  long long integer(const std::string& name) const;
  double real(const std::string& name) const;
  std::string text(const std::string& name) const;  // choice or path ("" when absent)
  bool given(const std::string& name) const;

 private:
  const OptionDecl& decl(const std::string& name) const;
  const std::string& raw(const OptionDecl& d) const;
  const std::vector<OptionDecl>& table_;
  const std::map<std::string, std::string>& given_;
};

}  // namespace flexnas::train
