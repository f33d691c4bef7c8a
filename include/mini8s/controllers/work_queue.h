// WorkQueue: client-go's rate-limited, delaying work queue (util/workqueue queue.go,
// delaying_queue.go, rate_limiting_queue.go) for coroutine consumers.
//
// Semantics, as queue.go: a key is at most once in the FIFO (`dirty` de-duplicates); a key being
// processed (between Get and Done) is never handed to a second worker: adding it marks it dirty and
// Done re-queues it. AddAfter/AddRateLimited park the key until its time (the earliest wins when
// parked twice). After ShutDown, adds are ignored and Get returns nullopt once the FIFO is empty.
//
// Time: delays are measured on the injected Clock's Monotonic(); a steady_timer wakes the queue
// when a parked key may be due, and FlushDue() (public for tests with a FakeClock) moves every due
// key into the FIFO.
//
// Concurrency: single executor (no locks). Every method and every Get must run on the executor
// passed to the constructor. The queue must outlive pending Gets (call ShutDown and let them
// return first).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/controllers/rate_limiter.h"

namespace mini8s::controllers {

class WorkQueue {
 public:
  // `clock` must outlive the queue. A null `limiter` means DefaultControllerRateLimiter.
  explicit WorkQueue(boost::asio::any_io_executor executor,
                     const Clock& clock = RealClock::Instance(),
                     std::unique_ptr<RateLimiter> limiter = nullptr);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  // Adds `key` once `delay` has passed (at once for a non-positive delay).
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  // AddAfter(key, limiter.When(key)): per-key exponential backoff.
  void AddRateLimited(const std::string& key);
  // Resets `key`'s backoff (call after a successful reconcile).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // The next key; waits while the queue is empty. nullopt after ShutDown once drained.
  boost::asio::awaitable<std::optional<std::string>> Get();
  // Marks `key` processed; re-queues it if it was added while processing.
  void Done(const std::string& key);

  // Stops accepting keys and wakes every Get (ShutDownWithDrain is not needed here: workers finish
  // their current key and Done is still honoured).
  void ShutDown();
  bool shutting_down() const { return shutting_down_; }

  // Keys waiting in the FIFO (not processing, not parked).
  std::size_t Len() const { return queue_.size(); }
  // Keys parked by AddAfter / AddRateLimited.
  std::size_t Waiting() const { return waiting_.size(); }
  bool IsProcessing(const std::string& key) const { return processing_.count(key) != 0; }
  // Moves every parked key whose time has come (per the clock) into the FIFO.
  void FlushDue();

  struct Impl;

 private:
  void ArmTimer();

  const Clock& clock_;
  std::unique_ptr<RateLimiter> limiter_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  // Parked keys: deadline -> keys, and key -> its deadline (one entry per key).
  std::multimap<std::chrono::steady_clock::time_point, std::string> by_time_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> waiting_;
  bool shutting_down_ = false;
  std::shared_ptr<Impl> impl_;  // timers
};

}  // namespace mini8s::controllers
