#include "evaluators/train/checkpoint.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace flexnas::train {
namespace {

constexpr char kMagic[8] = {'F', 'L', 'X', 'C', 'K', 'P', 'T', '\n'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kMaxString = 1u << 24;
constexpr std::uint32_t kMaxTensors = 1u << 20;

class Reader {
 public:
  Reader(std::string_view bytes, const std::string& where) : b_(bytes), where_(where) {}
  InputError bad(const std::string& why) const {
    return InputError("checkpoint " + where_ + ": " + why);
  }
  std::size_t left() const { return b_.size() - at_; }
  void take(void* out, std::size_t n) {
    if (n > left()) throw bad("truncated");
    if (n == 0) return;  // an empty tensor's data() may be null (memcpy's arguments may not)
    std::memcpy(out, b_.data() + at_, n);
    at_ += n;
  }
  template <typename T>
  T num() {
    T v{};
    take(&v, sizeof v);
    return v;
  }
  std::string str() {
    const auto n = num<std::uint32_t>();
    if (n > kMaxString) throw bad("a string of " + std::to_string(n) + " bytes");
    if (n > left()) throw bad("truncated");
    std::string s(b_.substr(at_, n));
    at_ += n;
    return s;
  }

 private:
  std::string_view b_;
  std::size_t at_ = 0;
  const std::string& where_;
};

}  // namespace

Checkpoint parse_checkpoint(std::string_view bytes, const std::string& where) {
  Reader r(bytes, where);
  char magic[8];
  if (bytes.size() < 8) throw r.bad("not a flexnas checkpoint");
  r.take(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) throw r.bad("not a flexnas checkpoint");
  if (r.num<std::uint32_t>() != kVersion) throw r.bad("unsupported version");
  Checkpoint c;
  c.arch = r.str();
  const auto count = r.num<std::uint32_t>();
  if (count > kMaxTensors) throw r.bad(std::to_string(count) + " tensors");
  for (std::uint32_t i = 0; i < count; ++i) {
    CheckpointTensor t;
    t.name = r.str();
    t.rows = r.num<std::int64_t>();
    t.cols = r.num<std::int64_t>();
    // Sizes come from the file: checked against what is left before any multiplication
    // (no overflow) or allocation (no 64 GiB vector for a 100-byte file).
    if (t.rows < 0 || t.cols < 0) throw r.bad("tensor " + t.name + " has a negative shape");
    const auto floats = r.left() / sizeof(float);
    if (t.rows != 0 &&
        static_cast<std::uint64_t>(t.cols) > floats / static_cast<std::uint64_t>(t.rows))
      throw r.bad("truncated");
    t.data.resize(static_cast<std::size_t>(t.rows * t.cols));
    r.take(t.data.data(), t.data.size() * sizeof(float));
    c.tensors.push_back(std::move(t));
  }
  if (r.left() != 0) throw r.bad(std::to_string(r.left()) + " bytes after the last tensor");
  return c;
}

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError("checkpoint " + path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_checkpoint(ss.str(), path);
}

std::string checkpoint_bytes(const Checkpoint& c) {
  std::string out;
  auto put = [&](const void* p, std::size_t n) {
    if (n > 0) out.append(static_cast<const char*>(p), n);
  };
  auto put32 = [&](std::uint32_t v) { put(&v, 4); };
  auto put_str = [&](const std::string& s) {
    put32(static_cast<std::uint32_t>(s.size()));
    out += s;
  };
  put(kMagic, 8);
  put32(kVersion);
  put_str(c.arch);
  put32(static_cast<std::uint32_t>(c.tensors.size()));
  for (const auto& t : c.tensors) {
    put_str(t.name);
    put(&t.rows, 8);
    put(&t.cols, 8);
    put(t.data.data(), t.data.size() * sizeof(float));
  }
  return out;
}

void write_checkpoint(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw InputError("checkpoint " + path + ": cannot write");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw InputError("checkpoint " + path + ": write failed");
}

}  // namespace flexnas::train
