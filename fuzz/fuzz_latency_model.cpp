// Latency-model files (`latency fit -o`, `latency-model:file=F`): LatencyModel::from_json
// accepts or throws InputError; an accepted model round-trips through to_json and predicts
// a finite or non-finite number for any input without crashing.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "evaluators/latency_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto m =
        flexnas::latency::LatencyModel::from_json(flexnas::parse_json(text, "fuzz"), "fuzz");
    const auto j = m.to_json();
    if (flexnas::latency::LatencyModel::from_json(j, "again").to_json() != j) __builtin_trap();
    const auto d = static_cast<Eigen::Index>(m.features.size());
    (void)m.predict(Eigen::MatrixXd::Zero(2, d));
    (void)m.predict(Eigen::MatrixXd::Constant(1, d, 1e6));
  } catch (const flexnas::InputError&) {
  }
  return 0;
}
