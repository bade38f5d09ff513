#include "apps/cli_numbers.hpp"

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas::cli {
namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Empty when `text` is fine for an option of CLI11 type `type`, else the reason. An integer
// is rewritten in canonical decimal, so CLI11's base-0 conversion reads "010" as 10, not 8.
std::string check(const std::string& type, std::string& text) {
  try {
    if (starts_with(type, "UINT"))
      text = std::to_string(parse_integer<std::uint64_t>(text, ""));
    else if (starts_with(type, "INT"))
      text = std::to_string(parse_integer<std::int64_t>(text, ""));
    else if (starts_with(type, "FLOAT"))
      (void)parse_real(text, "");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

void strict_numeric_options(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    if (!starts_with(type, "UINT") && !starts_with(type, "INT") && !starts_with(type, "FLOAT"))
      continue;
    // transform() puts it before the option's own checks (Range, PositiveNumber), whose
    // messages for "8abc" would be "Value 8abc must be >= 0". No description and no name:
    // --help and the option's type text stay as they were.
    opt->transform(CLI::Validator([type](std::string& v) { return check(type, v); }, "", ""));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    strict_numeric_options(*sub);
}

}  // namespace flexnas::cli
