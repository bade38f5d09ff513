// core/options.hpp and core/registry.hpp: declared options, the one option parser, and the
// registry every kind of component uses.
#include <functional>
#include <limits>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/options.hpp"
#include "core/registry.hpp"

using namespace flexnas;
using Catch::Contains;

namespace {

const std::vector<OptionSpec>& specs() {
  static const std::vector<OptionSpec> s = {
      OptionSpec::integer("population", 50, 1, std::numeric_limits<long long>::max(), "alive"),
      OptionSpec::optional_integer("seq", 1, 4096, "length (empty: the run's)"),
      OptionSpec::real("kappa", 2, 0, 10, "weight"),
      OptionSpec::boolean("ard", false, "per dimension"),
      OptionSpec::choice("mode", "table", {"table", "whole"}, "how"),
      OptionSpec::text("file", "", "a path")};
  return s;
}

std::string error(const std::map<std::string, std::string>& given) {
  try {
    Options("policy p", specs(), given, {"surrogate."});
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("options_read_defaults_and_given_values_typed", "[core]") {
  const Options o("policy p", specs(), {{"kappa", "0.5"}, {"surrogate.steps", "3"}},
                  {"surrogate."});
  CHECK(o.integer("population") == 50);
  CHECK(o.integer_as<std::size_t>("population") == 50u);
  CHECK(o.real("kappa") == 0.5);
  CHECK_FALSE(o.boolean("ard"));
  CHECK(o.text("mode") == "table");
  CHECK_FALSE(o.has("seq"));  // optional, not given
  CHECK(o.given("kappa"));
  CHECK_FALSE(o.given("population"));
  CHECK(o.prefixed("surrogate.") == std::map<std::string, std::string>{{"steps", "3"}});
  // values(): every declared option and the passed-through keys, so "name:k=v" round-trips.
  CHECK(o.values().size() == specs().size() + 1);
  CHECK(o.values().at("population") == "50");
  CHECK(o.values().at("surrogate.steps") == "3");
  CHECK_THROWS_AS(o.integer("no_such"), std::logic_error);  // a bug, not bad input
  CHECK_THROWS_AS(
      Options("x", specs(), {{"population", "300"}}).integer_as<std::int8_t>("population"),
      std::logic_error);
}

TEST_CASE("options_reject_bad_values_with_one_wording", "[core]") {
  CHECK(error({{"population", "8abc"}}) ==
        "policy p: option population: '8abc' is not an integer >= 1");
  CHECK(error({{"population", "0"}}) ==
        "policy p: option population: '0' is out of range (an integer >= 1)");
  CHECK(error({{"population", "-3"}}) ==
        "policy p: option population: '-3' is out of range (an integer >= 1)");
  CHECK(error({{"population", "99999999999999999999"}}) ==
        "policy p: option population: '99999999999999999999' is out of range (an integer >= 1)");
  CHECK(error({{"population", "1e3"}}) ==
        "policy p: option population: '1e3' is not an integer >= 1");
  CHECK(error({{"seq", "5000"}}) ==
        "policy p: option seq: '5000' is out of range (an integer in [1, 4096])");
  CHECK(error({{"kappa", "1e999"}}) ==
        "policy p: option kappa: '1e999' is not a finite number in [0, 10]");
  CHECK(error({{"kappa", "nan"}}) ==
        "policy p: option kappa: 'nan' is not a finite number in [0, 10]");
  CHECK(error({{"ard", "yes"}}) == "policy p: option ard: 'yes' is not true or false");
  CHECK(error({{"mode", "sum"}}) == "policy p: option mode: 'sum' is not one of table, whole");
  CHECK(error({{"population", ""}}) == "policy p: option population: '' is not an integer >= 1");
  CHECK(error({{"popluation", "3"}}) ==
        "policy p: unknown option 'popluation' (known: population, seq, kappa, ard, mode, file)");
  CHECK(error({{"surrogate.", "3"}}) ==
        "policy p: unknown option 'surrogate.' (known: population, "
        "seq, kappa, ard, mode, file)");
  CHECK(error({{"seq", ""}, {"file", ""}, {"ard", "1"}, {"surrogate.x", "y"}}) == "accepted");
}

TEST_CASE("option_spec_describes_itself", "[core]") {
  CHECK(specs()[0].help() == "an integer >= 1, default 50: alive");
  CHECK(specs()[1].help() == "an integer in [1, 4096]: length (empty: the run's)");
  CHECK(specs()[2].allowed() == "a number in [0, 10]");
  CHECK(specs()[4].allowed() == "one of table, whole");
  CHECK(declared_only({{"kappa", "1"}, {"other", "2"}}, specs()) ==
        std::map<std::string, std::string>{{"kappa", "1"}});
}

TEST_CASE("registry_names_are_unique_and_defaults_valid", "[core]") {
  using Factory = std::function<int(const Options&)>;
  Registry<Factory> r("widget");
  r.add({"a", "first", specs(),
         [](const Options& o) { return static_cast<int>(o.integer("population")); }});
  r.add({"b", "second", {}, [](const Options&) { return 2; }});
  CHECK(r.names() == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_WITH(r.add({"a", "again", {}, [](const Options&) { return 0; }}),
                    "widget 'a' is registered twice");
  CHECK_THROWS_WITH(r.find("c"), "unknown widget 'c' (valid: a, b)");
  const auto& a = r.find("a");
  CHECK(a.make(r.options(a, {{"population", "7"}})) == 7);
  CHECK_THROWS_WITH(r.options(a, {{"population", "7x"}}),
                    "widget a: option population: '7x' is not an integer >= 1");
  // A default its own declaration rejects is a bug in the registration.
  auto broken = OptionSpec::integer("n", 0, 1, 10, "count");
  CHECK_THROWS_AS(r.add({"d", "broken", {broken}, [](const Options&) { return 0; }}),
                  std::logic_error);
  CHECK(r.lookup("d") == nullptr);
}
