// custom.cpp's register_custom names the other custom evaluators; the fuzz targets do not
// build them (they start processes and load libraries), so these are empty.
#include "evaluators/custom.hpp"

namespace flexnas {
void register_external(EvaluatorRegistry&) {}
void register_plugin(EvaluatorRegistry&) {}
void register_lut(EvaluatorRegistry&) {}
}  // namespace flexnas
