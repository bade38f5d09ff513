#include "evaluators/custom.hpp"

#include <cctype>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace flexnas {
namespace {

std::string quote_short(const std::string& text) {
  std::string s;
  for (char c : text) {
    if (s.size() >= 80) {
      s += "...";
      break;
    }
    s += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return "'" + s + "'";
}

}  // namespace

std::string context_json(const EvalContext& ctx) {
  nlohmann::ordered_json j;
  j["seed"] = ctx.seed;
  j["seq"] = ctx.seq;
  j["batch"] = ctx.batch;
  j["threads"] = ctx.threads;
  j["cache_dir"] = ctx.cache_dir;
  return j.dump();
}

bool valid_value_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

std::vector<ValueSpec> parse_value_list(const std::string& text, const std::string& evaluator) {
  std::vector<ValueSpec> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      const auto colon = item.find(':');
      const auto name = item.substr(0, colon);
      const auto dir = colon == std::string::npos ? std::string() : item.substr(colon + 1);
      if (!valid_value_name(name) || (dir != "min" && dir != "max"))
        throw InputError("evaluator " + evaluator + ": values entry '" + item +
                         "' is not NAME:min or NAME:max (NAME of letters, digits, _ . -)");
      for (const auto& v : out)
        if (v.name == name)
          throw InputError("evaluator " + evaluator + ": value '" + name + "' listed twice");
      out.push_back({name, "", dir == "min" ? Direction::kMinimize : Direction::kMaximize,
                     "provided by " + evaluator});
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty())
    throw InputError(
        "evaluator " + evaluator +
        ": option values=NAME:min|max,... is required (the values the cost model answers)");
  return out;
}

EvalResult values_from_answer(const std::string& text, const std::vector<ValueSpec>& specs) {
  EvalResult r;
  r.status = EvalStatus::kFailed;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    r.message = "answer is empty";
    return r;
  }
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    const auto last = text.find_last_not_of(" \t\r\n");
    r.message = "answer is not a JSON object: " + quote_short(text.substr(first, last + 1 - first));
    return r;
  }
  if (j.contains("error")) {
    const auto& e = j["error"];
    r.message =
        "cost model reported an error: " + (e.is_string() ? e.get<std::string>() : e.dump());
    if (r.message.find('\n') != std::string::npos)
      r.message = r.message.substr(0, r.message.find('\n'));
    return r;
  }
  for (const auto& s : specs) {
    if (!j.contains(s.name)) {
      r.message = "answer has no value '" + s.name + "': " + quote_short(j.dump());
      return r;
    }
    const auto& v = j[s.name];
    if (!v.is_number()) {
      r.message = "value '" + s.name + "' is not a number: " + quote_short(v.dump());
      return r;
    }
    const double x = v.get<double>();
    if (!std::isfinite(x)) {
      r.message = "value '" + s.name + "' is not finite";
      return r;
    }
    r.values[s.name] = x;
  }
  r.status = EvalStatus::kOk;
  return r;
}

}  // namespace flexnas
