#include "space/file_io.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"

namespace flexnas {

void write_file_atomic(const std::string& path, const std::string& text) {
  // A temporary name private to this process and call, so concurrent writers of one path
  // (processes sharing a cache, threads) never write into each other's file.
  static std::atomic<unsigned long> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  std::error_code ec;
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
      std::filesystem::remove(tmp, ec);
      throw InputError("cannot write '" + path + "'");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw InputError("cannot write '" + path + "': " + ec.message());
  }
}

}  // namespace flexnas
