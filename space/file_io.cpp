#include "space/file_io.hpp"

#include <filesystem>
#include <fstream>

#include "space/error.hpp"

namespace flexnas {

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
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
