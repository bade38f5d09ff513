#pragma once
// One registry for everything users pick by name: evaluators, policies, surrogates,
// acquisition functions and training tasks. An entry is a name, a one-line description, the
// declared options (core/options.hpp) and a factory; `Extra` holds what one kind of registry
// needs besides (policies: whether they take several objectives). Names are unique; the
// options a user types are checked against the declarations before the factory runs.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/options.hpp"

namespace flexnas {

struct NoExtra {};

template <class Factory, class Extra = NoExtra>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string description;
    std::vector<OptionSpec> options;
    Factory make;
    Extra extra{};

    Entry() = default;
    Entry(std::string n, std::string d, std::vector<OptionSpec> o, Factory m, Extra x = {})
        : name(std::move(n)),
          description(std::move(d)),
          options(std::move(o)),
          make(std::move(m)),
          extra(std::move(x)) {}
  };

  // `kind` names the registry in messages: "evaluator", "policy", "surrogate", ...
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // InputError for a name registered before; std::logic_error for a default its own
  // declaration rejects (a bug in the registration, caught by the first test that runs it).
  void add(Entry e) {
    if (lookup(e.name)) throw InputError(kind_ + " '" + e.name + "' is registered twice");
    for (const OptionSpec& s : e.options) {
      try {
        s.check(s.default_value, kind_ + " " + e.name + ": option " + s.name);
      } catch (const InputError& bad) {
        throw std::logic_error(std::string("default of ") + bad.what());
      }
    }
    entries_.push_back(std::move(e));
  }

  const Entry* lookup(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  // InputError "unknown KIND 'NAME' (valid: a, b, c)".
  const Entry& find(const std::string& name) const {
    if (const Entry* e = lookup(name)) return *e;
    throw InputError("unknown " + kind_ + " '" + name + "' (valid: " + join(names()) + ")");
  }
  // The user's options for `e`, checked against its declarations.
  Options options(const Entry& e, const std::map<std::string, std::string>& given,
                  const std::vector<std::string>& pass_prefixes = {}) const {
    return Options(kind_ + " " + e.name, e.options, given, pass_prefixes);
  }

  // NAME's factory run on the options GIVEN, checked first (for factories that take only the
  // options; a registry whose factories take more defines its own create).
  auto create(const std::string& name, const std::map<std::string, std::string>& given = {}) const {
    const Entry& e = find(name);
    return e.make(options(e, given));
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) out.push_back(e.name);
    return out;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace flexnas
