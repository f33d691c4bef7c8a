// Tiny deterministic mutation fuzzer for the bounded fuzz tests of the modules that take untrusted
// bytes (JSON, YAML, selectors, patches, quantities). A fixed seed keeps every run identical, so a
// failure reproduces; the inputs are kept small so a few thousand cases finish in well under 5 s.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace mini8s::testing {

class Mutator {
 public:
  // `dictionary` holds tokens worth splicing in (keywords, operators, brackets).
  Mutator(uint32_t seed, std::vector<std::string> dictionary)
      : rng_(seed), dict_(std::move(dictionary)) {}

  std::size_t Below(std::size_t n) { return n == 0 ? 0 : rng_() % n; }

  // A mutation of `seed`: 1 to 4 rounds of byte flips, inserts, deletes, dictionary splices and
  // duplication of a slice (which nests brackets deeper).
  std::string Mutate(std::string_view seed) {
    std::string s(seed);
    int rounds = 1 + static_cast<int>(Below(4));
    for (int r = 0; r < rounds; ++r) {
      switch (Below(6)) {
        case 0:
          if (!s.empty()) s[Below(s.size())] = static_cast<char>(rng_() & 0xff);
          break;
        case 1:
          s.insert(Below(s.size() + 1), 1, static_cast<char>(rng_() & 0xff));
          break;
        case 2:
          if (!s.empty()) {
            std::size_t at = Below(s.size());
            s.erase(at, 1 + Below(std::min<std::size_t>(8, s.size() - at)));
          }
          break;
        case 3:
        case 4:
          if (!dict_.empty()) s.insert(Below(s.size() + 1), dict_[Below(dict_.size())]);
          break;
        default:
          if (!s.empty() && s.size() < 4096) {
            std::size_t at = Below(s.size());
            std::size_t len = 1 + Below(std::min<std::size_t>(64, s.size() - at));
            std::string slice = s.substr(at, len);
            s.insert(at, slice);
          }
          break;
      }
    }
    return s;
  }

 private:
  std::mt19937 rng_;
  std::vector<std::string> dict_;
};

}  // namespace mini8s::testing
