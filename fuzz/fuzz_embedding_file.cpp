// Embedding files (`embed --load F`): Embedding::load accepts or throws InputError; an
// accepted file saves, loads and saves again to the same bytes.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "space/embedding.hpp"

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/flexnas-fuzz-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  const std::string in = dir + "/in.json", a = dir + "/a.json", b = dir + "/b.json";
  std::ofstream(in, std::ios::binary) << std::string(reinterpret_cast<const char*>(data), size);
  try {
    const auto e = flexnas::Embedding::load(in);
    e.save(a);
    flexnas::Embedding::load(a).save(b);
    if (slurp(a) != slurp(b)) __builtin_trap();
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
