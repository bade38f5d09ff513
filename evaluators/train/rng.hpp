#pragma once
// The deterministic random stream of tasks and the trainer: splitmix64 (Steele, Lea and
// Flood 2014), with draws defined here rather than by <random>'s implementation-specific
// distributions, so a seed gives the same data on every standard library.
#include <cstdint>
#include <vector>

namespace flexnas::train {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (modulo bias below 2^-40 for the n used here).
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }  // inclusive
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Fisher-Yates.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[static_cast<std::size_t>(below(static_cast<int>(i)))]);
  }

 private:
  std::uint64_t s_;
};

// A seed for stream `k` of `seed` (train split, test split, step k, ...).
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t k) {
  Rng r(seed ^ (k * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
  r.next();
  return r.next();
}

}  // namespace flexnas::train
