// Per-operation latency tables (`lut:file=F`): the bytes become F; the evaluator is built
// from it or throws InputError, and a built one evaluates a model to a result (ok or failed).
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "evaluators/custom.hpp"
#include "evaluators/evaluator.hpp"
#include "space/architecture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flexnas;
  static const std::string dir = [] {
    char tmpl[] = "/tmp/flexnas-fuzz-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  static EvaluatorRegistry registry = [] {
    EvaluatorRegistry r;
    register_builtins(r);
    return r;
  }();
  static const Architecture model = architecture_from_string(
      R"({"l":2,"o":["sa","c"],"h":[128,256],"n":[2,4],"f":[[512],[1024,512]],"p":["sdp","5"]})");
  const std::string file = dir + "/lut.yaml";
  std::ofstream(file, std::ios::binary) << std::string(reinterpret_cast<const char*>(data), size);
  try {
    auto e = registry.create("lut:file=" + file);
    EvalContext ctx;
    const auto r = e->evaluate(model, ctx);
    if (r.status == EvalStatus::kOk && r.values.size() != e->provides().size()) __builtin_trap();
  } catch (const InputError&) {
  }
  return 0;
}
