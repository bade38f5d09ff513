#pragma once
// Exports of one architecture for other tools (docs/export.md): a Hugging Face-style
// config.json of the FlexiBERT model family, and an ONNX inference graph.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "space/architecture.hpp"

namespace flexnas {

struct ExportOptions {
  int vocab = 30522;        // token embedding rows
  int max_positions = 512;  // position embedding rows
  int num_labels = 2;       // classification logits
  int seq = 128;            // ONNX: fixed sequence length (the DFT/DCT matrices are seq x seq)
  std::uint64_t seed = 0;   // ONNX: random-weight seed
  // Trained-weight hook: fills `out` (row-major, dims as given) for the initializer `name`
  // and returns true, or returns false to use seeded random weights. Unset: all random.
  std::function<bool(const std::string& name, const std::vector<std::int64_t>& dims,
                     std::vector<float>& out)>
      weights;
};

// Hugging Face-style config.json (model_type "flexibert"); schema in docs/export.md.
nlohmann::ordered_json hf_config(const Architecture& a, const ExportOptions& opt = {});
// True when j looks like hf_config's output; architecture_from_hf reads it back.
bool is_hf_config(const nlohmann::json& j);
Architecture architecture_from_hf(const nlohmann::json& j);

// Serialized ONNX ModelProto (IR 8, opset 17): input_ids int64 [batch, seq] -> logits
// float [batch, num_labels]. Throws InputError on options that cannot be exported.
std::string to_onnx(const Architecture& a, const ExportOptions& opt = {});

}  // namespace flexnas
