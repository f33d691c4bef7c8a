// FakeClock: a Clock that only moves when a test advances it. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

#include "mini8s/common/clock.h"

namespace mini8s::testutil {

class FakeClock final : public Clock {
 public:
  FakeClock() : now_(std::chrono::system_clock::time_point(std::chrono::seconds(1764000000))) {}

  std::chrono::system_clock::time_point Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }
  template <class Rep, class Period>
  void Advance(std::chrono::duration<Rep, Period> d) {
    std::lock_guard lock(mu_);
    now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    mono_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
  std::chrono::steady_clock::time_point mono_{};
};

}  // namespace mini8s::testutil
