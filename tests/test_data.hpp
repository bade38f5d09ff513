#pragma once
// Access to ../shared/data for tests: a test that needs it calls shared_data() and is
// skipped with a message naming the missing file when CI's copy is absent.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace flexnas::test {

inline std::string shared_data(const std::string& file) {
  return std::string(FLEXNAS_SHARED_DATA) + "/" + file;
}

inline bool have_shared_data(const std::string& file) {
  if (std::filesystem::exists(shared_data(file))) return true;
  WARN("skipped: " << shared_data(file) << " is absent (tests use ../shared/data when present)");
  return false;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace flexnas::test
