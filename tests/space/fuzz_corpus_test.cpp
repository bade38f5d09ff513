// Replays fuzz/corpus/hf_config and fuzz/corpus/embedding_file (and fixed mutations, see
// tests/fuzz_inputs.hpp) through the entry points of fuzz/fuzz_hf_config.cpp and
// fuzz/fuzz_embedding_file.cpp: accepted with a round trip, or InputError.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "space/embedding.hpp"
#include "space/export.hpp"
#include "tests/fuzz_inputs.hpp"

using namespace flexnas;
namespace fs = std::filesystem;

TEST_CASE("fuzz_corpus_hf_config", "[fuzz]") {
  int read = 0;
  for (const auto& text : fuzz_inputs("hf_config")) {
    try {
      const auto j = parse_json(text, "fuzz");
      if (!is_hf_config(j)) continue;
      const auto a = architecture_from_hf(j);
      ++read;
      CHECK(architecture_from_hf(nlohmann::json(hf_config(a))) == a);
    } catch (const InputError&) {
    }
  }
  CHECK(read >= 2);
}

TEST_CASE("fuzz_corpus_embedding_file", "[fuzz]") {
  const auto dir = fs::temp_directory_path() / ("flexnas_fuzz_emb_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto in = (dir / "in.json").string(), a = (dir / "a.json").string(),
             b = (dir / "b.json").string();
  auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  int loaded = 0;
  for (const auto& text : fuzz_inputs("embedding_file")) {
    std::ofstream(in, std::ios::binary) << text;
    try {
      Embedding::load(in).save(a);
      ++loaded;
      Embedding::load(a).save(b);
      CHECK(slurp(a) == slurp(b));
    } catch (const InputError&) {
    }
  }
  fs::remove_all(dir);
  CHECK(loaded > 0);
}
