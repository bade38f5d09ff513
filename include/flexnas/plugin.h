/* flexnas cost-model plugin ABI, version 1 (see docs/custom-cost-models.md).
 *
 * A plugin is a shared library exporting the five C functions below. flexnas loads it with
 * `--evaluator plugin:path=libX.so[,config=TEXT]`, creates one instance per search worker and
 * calls flexnas_plugin_evaluate once per architecture.
 *
 * Ownership: every string flexnas passes in is owned by flexnas and valid only during the
 * call; `out` and `err` are flexnas buffers the plugin writes a NUL-terminated string into
 * (never more than the given length, NUL included). The text returned by
 * flexnas_plugin_describe is owned by the plugin and must stay valid until the library is
 * unloaded (a string literal or a static buffer). No memory is freed across the boundary.
 *
 * Threads: flexnas never calls one instance from two threads at once, but different
 * instances (one per worker) run concurrently, so state shared between instances (globals,
 * statics) must be thread-safe or read-only. abi_version and describe may be called from
 * any thread. No function may throw a C++ exception or call exit().
 */
#ifndef FLEXNAS_PLUGIN_H
#define FLEXNAS_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; flexnas_plugin_abi_version must return it. */
#define FLEXNAS_PLUGIN_ABI_VERSION 1

/* Status codes of flexnas_plugin_evaluate. */
#define FLEXNAS_PLUGIN_OK 0 /* out holds a JSON object {"value name": number, ...} */
#define FLEXNAS_PLUGIN_FAILED \
  1 /* out holds a one-line reason; the trial fails, the search goes on */
#define FLEXNAS_PLUGIN_OUT_TOO_SMALL \
  2 /* out_len was too small; flexnas retries with a larger buffer */

#if defined(_WIN32)
#define FLEXNAS_PLUGIN_EXPORT __declspec(dllexport)
#else
#define FLEXNAS_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Returns FLEXNAS_PLUGIN_ABI_VERSION of the header the plugin was built against. */
FLEXNAS_PLUGIN_EXPORT int flexnas_plugin_abi_version(void);

/* JSON text declaring the values the plugin provides:
 *   {"values": [{"name": "energy_mj", "unit": "mJ", "direction": "min", "description": "..."}]}
 * direction is "min" or "max"; unit and description are optional. */
FLEXNAS_PLUGIN_EXPORT const char* flexnas_plugin_describe(void);

/* Creates one instance. `config` is the evaluator's config= option (may be ""). On failure
 * returns NULL and writes a one-line reason into err (err_len bytes, NUL included). */
FLEXNAS_PLUGIN_EXPORT void* flexnas_plugin_create(const char* config, char* err, size_t err_len);

/* Destroys an instance returned by flexnas_plugin_create. */
FLEXNAS_PLUGIN_EXPORT void flexnas_plugin_destroy(void* instance);

/* Scores one architecture. model_json: the model dict, one line (docs/model-dict.md).
 * context_json: {"seed": N, "seq": L, "batch": B, "threads": T, "cache_dir": "..."}.
 * Writes the values JSON object (status FLEXNAS_PLUGIN_OK) or a reason (FLEXNAS_PLUGIN_FAILED)
 * into out, NUL-terminated, at most out_len bytes. */
FLEXNAS_PLUGIN_EXPORT int flexnas_plugin_evaluate(void* instance, const char* model_json,
                                                  const char* context_json, char* out,
                                                  size_t out_len);

#ifdef __cplusplus
}
#endif

#endif /* FLEXNAS_PLUGIN_H */
