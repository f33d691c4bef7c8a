#include "mini8s/controllers/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mini8s::controllers {

using std::chrono::nanoseconds;

nanoseconds ExponentialFailureRateLimiter::When(const std::string& key) {
  int exp = failures_[key]++;
  // Computed in floating point so that a large exponent saturates instead of overflowing.
  double delay = static_cast<double>(base_.count()) * std::pow(2.0, exp);
  if (delay >= static_cast<double>(max_.count())) return max_;
  return nanoseconds(static_cast<int64_t>(delay));
}

int ExponentialFailureRateLimiter::NumRequeues(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, const Clock& clock)
    : qps_(qps),
      burst_(static_cast<double>(burst)),
      tokens_(static_cast<double>(burst)),
      last_(clock.Monotonic()),
      clock_(clock) {}

nanoseconds BucketRateLimiter::When(const std::string&) {
  auto now = clock_.Monotonic();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  tokens_ -= 1.0;  // reserve: may go negative, the caller waits for the debt to refill
  if (tokens_ >= 0) return nanoseconds(0);
  return nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

nanoseconds MaxOfRateLimiter::When(const std::string& key) {
  nanoseconds longest(0);
  for (auto& l : limiters_) longest = std::max(longest, l->When(key));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& key) {
  for (auto& l : limiters_) l->Forget(key);
}

int MaxOfRateLimiter::NumRequeues(const std::string& key) const {
  int most = 0;
  for (const auto& l : limiters_) most = std::max(most, l->NumRequeues(key));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ExponentialFailureRateLimiter>(std::chrono::milliseconds(5),
                                                                     std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace mini8s::controllers
