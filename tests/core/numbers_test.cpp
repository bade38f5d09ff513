// core/numbers.hpp: the one strict reader of numbers from outside input.
#include <limits>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"

using namespace flexnas;

namespace {
std::string err_int(const std::string& text, int lo = std::numeric_limits<int>::lowest(),
                    int hi = std::numeric_limits<int>::max()) {
  try {
    parse_integer<int>(text, "hidden", lo, hi);
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}
std::string err_real(const std::string& text, double lo = std::numeric_limits<double>::lowest(),
                     double hi = std::numeric_limits<double>::max()) {
  try {
    parse_real(text, "ms", lo, hi);
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}
std::string err_json(const std::string& text, long long lo, long long hi) {
  try {
    json_integer(nlohmann::json::parse(text), "h[0]", lo, hi);
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("Numbers_integers_are_whole_decimal_and_in_range", "[numbers]") {
  CHECK(parse_integer<int>("128", "hidden") == 128);
  CHECK(parse_integer<int>("-7", "x") == -7);
  CHECK(parse_integer<std::size_t>("18446744073709551615", "budget") ==
        std::numeric_limits<std::size_t>::max());
  CHECK(parse_integer<std::int64_t>("010", "seed") == 10);  // decimal, never octal
  CHECK(err_int("8abc") == "hidden: '8abc' is not an integer in [-2147483648, 2147483647]");
  CHECK(err_int("4294967424") ==
        "hidden: '4294967424' is out of range (an integer in [-2147483648, 2147483647])");
  CHECK(err_int("0", 1) == "hidden: '0' is out of range (an integer >= 1)");
  CHECK(err_int("300", 1, 256) == "hidden: '300' is out of range (an integer in [1, 256])");
  for (const char* bad : {"", " 8", "8 ", "+8", "0x10", "1e3", "1.0", "1.5", "nan", "-", "--1"})
    CHECK_THROWS_AS(parse_integer<int>(bad, "x"), InputError);
  CHECK_THROWS_WITH(parse_integer<std::size_t>("-1", "budget"),
                    "budget: '-1' is out of range (an integer in [0, 18446744073709551615])");
  CHECK_THROWS_WITH(parse_integer<std::size_t>("99999999999999999999999", "budget"),
                    Catch::Contains("is out of range"));
  CHECK_THROWS_WITH(parse_integer<int>(std::string(300, '7'), "x"), Catch::Contains("...'"));
}

TEST_CASE("Numbers_reals_are_finite_decimal_and_in_range", "[numbers]") {
  CHECK(parse_real("2.5", "ms") == 2.5);
  CHECK(parse_real("1e-3", "ms") == 1e-3);
  CHECK(parse_real("-0.5", "ms") == -0.5);
  CHECK(err_real("1e400") == "ms: '1e400' is not a finite number");
  CHECK(err_real("inf") == "ms: 'inf' is not a finite number");
  CHECK(err_real("nan") == "ms: 'nan' is not a finite number");
  CHECK(err_real("0.9abc") == "ms: '0.9abc' is not a finite number");
  CHECK(err_real("0x1p3") == "ms: '0x1p3' is not a finite number");
  CHECK(err_real("2", 0, 1) == "ms: '2' is not a finite number in [0, 1]");
  CHECK(err_real("-1", 0) == "ms: '-1' is not a finite number >= 0");
  CHECK(err_real("") != "accepted");
}

TEST_CASE("Numbers_json_integers_never_wrap", "[numbers]") {
  constexpr long long kIntMax = std::numeric_limits<int>::max();
  CHECK(json_integer<int>(nlohmann::json::parse("128"), "h") == 128);
  CHECK(json_integer<int>(nlohmann::json::parse("128.0"), "h") == 128);
  // 4294967424 = 2^32 + 128: as an int it would wrap to 128 (issue 18).
  CHECK(err_json("4294967424", -kIntMax, kIntMax) ==
        "h[0]: '4294967424' is out of range (an integer in [-2147483647, 2147483647])");
  // Past uint64 nlohmann stores a float: still out of range, not wrapped or UB.
  CHECK_THROWS_WITH(json_integer<int>(nlohmann::json::parse("256777777777777777777777777777"), "h"),
                    Catch::Contains("is out of range"));
  CHECK_THROWS_WITH(json_integer<int>(nlohmann::json::parse("1.5"), "h"),
                    Catch::Contains("'1.5' is not an integer"));
  CHECK_THROWS_WITH(json_integer<int>(nlohmann::json::parse("\"8\""), "h"),
                    Catch::Contains("is not an integer"));
  CHECK_THROWS_WITH(json_integer<std::size_t>(nlohmann::json::parse("-1"), "budget"),
                    "budget: '-1' is out of range (an integer in [0, 18446744073709551615])");
  CHECK(json_integer<std::size_t>(nlohmann::json::parse("18446744073709551615"), "b") ==
        std::numeric_limits<std::size_t>::max());
  CHECK_THROWS_AS(json_integer<std::size_t>(nlohmann::json::parse("18446744073709551616"), "b"),
                  InputError);
  CHECK_THROWS_AS(json_integer<long long>(nlohmann::json::parse("9223372036854775808.0"), "b"),
                  InputError);
  CHECK(json_uint64(nlohmann::json::parse("18446744073709551615"), "seed") ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK_THROWS_WITH(json_uint64(nlohmann::json::parse("-3"), "seed"),
                    "seed: '-3' is out of range (an integer in [0, 18446744073709551615])");
}

TEST_CASE("Numbers_json_reals_and_parse", "[numbers]") {
  CHECK(json_real(nlohmann::json::parse("3"), "x") == 3.0);
  CHECK_THROWS_WITH(json_real(nlohmann::json::parse("true"), "x"),
                    "x: 'true' is not a finite number");
  CHECK_THROWS_WITH(json_real(nlohmann::json::parse("2"), "p", 0, 1),
                    "p: '2' is not a finite number in [0, 1]");
  CHECK_THROWS_WITH(parse_json("[1e400]", "row"),
                    "row: malformed JSON: number overflow parsing '1e400'");
  CHECK_THROWS_WITH(parse_json("{", "row"), Catch::StartsWith("row: malformed JSON: "));
  CHECK(parse_json("{\"a\": 1}", "row").at("a") == 1);
}
