// Upstream's max-in-flight filter (--max-requests-inflight, --max-mutating-requests-inflight):
// a bound on the requests being served at once, one for reads (get, list) and one for writes.
// Over the bound a request gets 429 with Retry-After: 1, except users in system:masters, who are
// always served (uncounted). Long-running requests (watches, proxy; exec, attach, log,
// portforward) are not counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>

namespace mini8s::server {

struct Reply;
struct RequestInfo;
struct UserInfo;

class InflightLimiter {
 public:
  // A limit <= 0 means no limit (upstream's 0).
  InflightLimiter(int max_read_only, int max_mutating)
      : max_read_only_(max_read_only), max_mutating_(max_mutating) {}

  // One request's claim. Holds a slot (released on destruction), or records that the limit was
  // reached when the request arrived, or is empty (not counted).
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept
        : counter_(std::exchange(o.counter_, nullptr)), over_limit_(o.over_limit_) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        Release();
        counter_ = std::exchange(o.counter_, nullptr);
        over_limit_ = o.over_limit_;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }

    bool over_limit() const { return over_limit_; }
    void Release() {
      if (counter_ != nullptr) counter_->fetch_sub(1, std::memory_order_relaxed);
      counter_ = nullptr;
    }

   private:
    friend class InflightLimiter;
    std::atomic<int64_t>* counter_ = nullptr;
    bool over_limit_ = false;
  };

  // Claims a slot for a request arriving with `info` (method is the HTTP method). Cheap: one
  // atomic add, so it runs on the connection's strand before the request queues for a worker,
  // which is what makes the bound count queued requests too.
  Slot Enter(std::string_view method, const RequestInfo& info);

  int64_t read_only_in_flight() const { return read_only_.load(std::memory_order_relaxed); }
  int64_t mutating_in_flight() const { return mutating_.load(std::memory_order_relaxed); }

 private:
  const int max_read_only_;
  const int max_mutating_;
  std::atomic<int64_t> read_only_{0};
  std::atomic<int64_t> mutating_{0};
};

// Upstream's BasicLongRunningRequestCheck: verbs watch and proxy; subresources attach, exec,
// proxy, log and portforward.
bool IsLongRunning(const RequestInfo& info);

// True when the user may exceed the limit (upstream: group system:masters).
bool ExemptFromInflightLimit(const UserInfo& user);

// Upstream's answer over the limit: plain text, Retry-After: 1.
Reply TooManyRequestsReply();

}  // namespace mini8s::server
