#include "evaluators/evaluator.hpp"

#include <algorithm>
#include <charconv>

#include "space/error.hpp"
#include "space/numbers.hpp"

namespace flexnas {

EvaluatorSpec EvaluatorSpec::parse(const std::string& text, const std::string& kind) {
  EvaluatorSpec s;
  auto colon = text.find(':');
  s.name = text.substr(0, colon);
  if (s.name.empty()) throw InputError(kind + " '" + text + "': missing name before ':'");
  if (colon == std::string::npos) return s;
  std::string rest = text.substr(colon + 1);
  std::size_t start = 0;
  auto last = s.options.end();
  while (start <= rest.size()) {
    auto comma = rest.find(',', start);
    std::string kv =
        rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!kv.empty() && kv.find('=') == std::string::npos && last != s.options.end()) {
      // A piece without '=' continues the previous value, so values may hold commas
      // (external:values=a:min,b:max, cmd=... with commas).
      last->second += "," + kv;
    } else if (!kv.empty()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError(kind + " '" + text + "': option '" + kv + "' is not key=value");
      auto [it, fresh] = s.options.emplace(kv.substr(0, eq), kv.substr(eq + 1));
      if (!fresh)
        throw InputError(kind + " '" + text + "': option '" + kv.substr(0, eq) + "' given twice");
      last = it;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return s;
}

std::string EvaluatorSpec::str() const {
  std::string s = name;
  char sep = ':';
  for (const auto& [k, v] : options) {
    s += sep + k + "=" + v;
    sep = ',';
  }
  return s;
}

void EvaluatorRegistry::add(Entry e) {
  for (const auto& x : entries_)
    if (x.name == e.name) throw InputError("evaluator '" + e.name + "' is registered twice");
  entries_.push_back(std::move(e));
}

std::vector<std::string> EvaluatorRegistry::names() const {
  std::vector<std::string> n;
  for (const auto& e : entries_) n.push_back(e.name);
  return n;
}

std::unique_ptr<Evaluator> EvaluatorRegistry::create(const std::string& text) const {
  const auto spec = EvaluatorSpec::parse(text);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.name == spec.name; });
  if (it == entries_.end()) {
    std::string names;
    for (const auto& e : entries_) names += (names.empty() ? "" : ", ") + e.name;
    throw InputError("unknown evaluator '" + spec.name + "' (valid: " + names + ")");
  }
  std::map<std::string, std::string> opts;
  std::string bad_number;  // a numeric option given something else (numbers.hpp)
  for (const auto& o : it->options) opts[o.name] = o.default_value;
  for (const auto& [k, v] : spec.options) {
    if (!opts.count(k)) {
      std::string known;
      for (const auto& o : it->options) known += (known.empty() ? "" : ", ") + o.name;
      throw InputError("evaluator " + spec.name + ": unknown option '" + k +
                       "' (known: " + (known.empty() ? "none" : known) + ")");
    }
    if (bad_number.empty())
      bad_number = numeric_option_error("evaluator " + spec.name, k, opts[k], v);
    opts[k] = v;
  }
  auto made = it->make(opts);
  if (!bad_number.empty()) throw InputError(bad_number);
  return made;
}

int int_option(const std::map<std::string, std::string>& o, const std::string& evaluator,
               const std::string& key, int lo, int hi) {
  return parse_integer<int>(o.at(key), "evaluator " + evaluator + ": option " + key, lo, hi);
}

}  // namespace flexnas
