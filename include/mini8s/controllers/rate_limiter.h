// Rate limiters for the work queue (client-go util/workqueue default_rate_limiters.go): how long
// to wait before a failed key is retried.
//
// Thread-compatible: a limiter belongs to one WorkQueue, on its executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mini8s/common/clock.h"

namespace mini8s::controllers {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay before `key` may be processed again; counts a failure.
  virtual std::chrono::nanoseconds When(const std::string& key) = 0;
  // Stops tracking `key` (it succeeded).
  virtual void Forget(const std::string& key) = 0;
  // Failures counted for `key` since the last Forget.
  virtual int NumRequeues(const std::string& key) const = 0;
};

// base * 2^failures, capped at max (client-go ItemExponentialFailureRateLimiter).
class ExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ExponentialFailureRateLimiter(std::chrono::nanoseconds base, std::chrono::nanoseconds max)
      : base_(base), max_(max) {}
  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string& key) override { failures_.erase(key); }
  int NumRequeues(const std::string& key) const override;

 private:
  std::chrono::nanoseconds base_;
  std::chrono::nanoseconds max_;
  std::unordered_map<std::string, int> failures_;
};

// An overall token bucket shared by all keys: `qps` tokens per second, `burst` at most
// (client-go BucketRateLimiter, golang.org/x/time/rate semantics: a reservation is always
// granted and the caller waits for the token).
class BucketRateLimiter final : public RateLimiter {
 public:
  // `clock` must outlive the limiter.
  BucketRateLimiter(double qps, int burst, const Clock& clock = RealClock::Instance());
  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) const override { return 0; }

 private:
  double qps_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
  const Clock& clock_;
};

// The longest delay of several limiters (client-go MaxOfRateLimiter).
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) const override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: per-key 5 ms -> 1000 s exponential backoff, and an
// overall 10 qps / 100 burst bucket.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(
    const Clock& clock = RealClock::Instance());

}  // namespace mini8s::controllers
