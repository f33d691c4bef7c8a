// Clock: an injectable source of time so that leases, backoff, TTLs and compaction are testable
// without sleeping (Envoy's TimeSource). RealClock is the process default; tests use FakeClock
// from test/testutil. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "mini8s/common/result.h"

namespace mini8s {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  // The shared process-wide instance.
  static RealClock& Instance();
};

// RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time: 2026-11-25T19:42:02Z.
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// RFC 3339 with nanoseconds (metav1.MicroTime uses micros; CRI logs use nanos).
std::string FormatRfc3339Nano(std::chrono::system_clock::time_point t);
std::string FormatRfc3339Micro(std::chrono::system_clock::time_point t);
// Parses RFC 3339 (optional fraction, Z or +hh:mm offset). kInvalid on bad input.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s);

}  // namespace mini8s
