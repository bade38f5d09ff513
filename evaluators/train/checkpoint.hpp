#pragma once
// Trainer checkpoints (docs/trainer.md): a versioned binary file of named float tensors and
// the model dict they belong to. Little-endian, as written:
//   "FLXCKPT\n", u32 version (1), str arch, u32 count, then per tensor: str name, i64 rows,
//   i64 cols, rows * cols f32 (row-major); str = u32 length + bytes.
// Reading is strict: a truncated, oversized, trailing or otherwise corrupt file is InputError
// "checkpoint WHERE: ...", never an allocation sized by the file, an out-of-bounds read or a
// crash (fuzz/fuzz_checkpoint.cpp). The model dict itself is checked by whoever uses it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flexnas::train {

struct CheckpointTensor {
  std::string name;
  std::int64_t rows = 0, cols = 0;
  std::vector<float> data;  // rows * cols
};

struct Checkpoint {
  std::string arch;  // model dict (JSON text)
  std::vector<CheckpointTensor> tensors;
};

// The file's bytes; `where` names it in messages.
Checkpoint parse_checkpoint(std::string_view bytes, const std::string& where);
Checkpoint read_checkpoint(const std::string& path);
// What Model::save writes; parse_checkpoint(checkpoint_bytes(c)) == c.
std::string checkpoint_bytes(const Checkpoint& c);
// Writes bytes to path (InputError when it cannot).
void write_checkpoint(const std::string& path, std::string_view bytes);

}  // namespace flexnas::train
