#pragma once
// Whole-file output written next to the target (under a name private to the writer) and
// renamed over it, so a reader, a concurrent writer or a process killed mid-write never sees
// half a file. Used by embeddings, studies and the CLI.
#include <string>

namespace flexnas {

// Throws InputError naming `path` when it cannot be written.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace flexnas
