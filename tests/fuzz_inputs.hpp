#pragma once
// Inputs of the fuzz corpus replay tests: every seed file of fuzz/corpus/TARGET and a fixed
// set of mutations of it (truncations, byte flips, a repeated span), the same each run.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace flexnas {

inline std::vector<std::string> fuzz_inputs(const std::string& target) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path dir = fs::path(FLEXNAS_SOURCE_DIR) / "fuzz" / "corpus" / target;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(11);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    out.push_back(s);
    if (s.empty()) continue;
    std::uniform_int_distribution<std::size_t> pos(0, s.size() - 1);
    for (int k = 0; k < 12; ++k) out.push_back(s.substr(0, pos(rng)));  // truncated
    for (int k = 0; k < 12; ++k) {                                      // bytes changed
      std::string m = s;
      for (int j = 0; j < 3; ++j) m[pos(rng)] = static_cast<char>(rng() & 0xff);
      out.push_back(m);
    }
    for (int k = 0; k < 4; ++k) {  // a span repeated
      const auto a = pos(rng), n = std::min<std::size_t>(s.size() - a, 1 + pos(rng) % 40);
      std::string m = s;
      m.insert(a, s.substr(a, n));
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace flexnas
