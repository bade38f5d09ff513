#include "evaluators/evaluator.hpp"

#include <algorithm>
#include <charconv>

#include "core/error.hpp"

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

std::unique_ptr<Evaluator> EvaluatorRegistry::create(const std::string& text) const {
  const auto spec = EvaluatorSpec::parse(text);
  const Entry& e = find(spec.name);
  return e.make(options(e, spec.options));
}

}  // namespace flexnas
