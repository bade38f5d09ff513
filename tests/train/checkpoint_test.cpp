// Trainer checkpoints (evaluators/train/checkpoint.hpp): what is written reads back the
// same; a truncated, oversized or trailing file is InputError, never a crash or a huge
// allocation; fuzz/corpus/checkpoint (and fixed mutations) replays fuzz/fuzz_checkpoint.cpp.
#include <cstring>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/train/checkpoint.hpp"
#include "space/architecture.hpp"
#include "tests/fuzz_inputs.hpp"

using namespace flexnas;
using namespace flexnas::train;

namespace {
Checkpoint sample() {
  Checkpoint c;
  c.arch = R"({"f":[[512]],"h":[128],"l":1,"n":[2],"o":["sa"],"p":["sdp"]})";
  c.tensors.push_back({"a.weight", 2, 3, {1, 2, 3, 4, 5, 6}});
  c.tensors.push_back({"a.bias", 1, 0, {}});
  return c;
}
std::string err(std::string_view bytes) {
  try {
    parse_checkpoint(bytes, "f.ckpt");
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("Checkpoint_round_trips", "[checkpoint]") {
  const auto bytes = checkpoint_bytes(sample());
  const auto c = parse_checkpoint(bytes, "f.ckpt");
  CHECK(c.arch == sample().arch);
  REQUIRE(c.tensors.size() == 2);
  CHECK(c.tensors[0].name == "a.weight");
  CHECK(c.tensors[0].data == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(checkpoint_bytes(c) == bytes);
}

TEST_CASE("Checkpoint_corrupt_files_are_input_errors", "[checkpoint]") {
  const auto bytes = checkpoint_bytes(sample());
  CHECK(err("") == "checkpoint f.ckpt: not a flexnas checkpoint");
  CHECK(err("FLXCKPT") == "checkpoint f.ckpt: not a flexnas checkpoint");
  for (std::size_t n = 8; n < bytes.size(); ++n)  // every truncation
    CHECK(err(std::string_view(bytes).substr(0, n)) != "accepted");
  CHECK(err(bytes + "x") == "checkpoint f.ckpt: 1 bytes after the last tensor");
  // rows * cols of 2^62 * 4 from a 100-byte file: refused before any allocation or overflow.
  std::string huge = bytes;
  const auto at = huge.find("a.weight") + 8;
  const std::int64_t rows = std::int64_t{1} << 62, cols = 4;
  std::memcpy(huge.data() + at, &rows, 8);
  std::memcpy(huge.data() + at + 8, &cols, 8);
  CHECK(err(huge) == "checkpoint f.ckpt: truncated");
  const std::int64_t negative = -1;
  std::memcpy(huge.data() + at, &negative, 8);
  CHECK(err(huge) == "checkpoint f.ckpt: tensor a.weight has a negative shape");
  std::string version = bytes;
  version[8] = 2;
  CHECK(err(version) == "checkpoint f.ckpt: unsupported version");
}

TEST_CASE("fuzz_corpus_checkpoint", "[fuzz]") {
  int parsed = 0;
  for (const auto& bytes : fuzz_inputs("checkpoint")) {
    try {
      const auto c = parse_checkpoint(bytes, "fuzz");
      ++parsed;
      CHECK(checkpoint_bytes(c) == bytes);
      (void)architecture_from_string(c.arch);
    } catch (const InputError&) {
    }
  }
  CHECK(parsed >= 2);
}
