#pragma once
// Reference files for tests live in tests/data/ (README.md there says where each comes from).
// A test reads them with test_data(), which fails the test when the file is missing: no test
// passes by skipping, so every checkout runs the same checks.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace flexnas::test {

inline std::string test_data(const std::string& file) {
  const std::string path = std::string(FLEXNAS_SOURCE_DIR) + "/tests/data/" + file;
  INFO("test data file " << path);
  REQUIRE(std::filesystem::is_regular_file(path));
  return path;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace flexnas::test
