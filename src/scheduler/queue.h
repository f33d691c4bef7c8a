// SchedulingQueue: upstream's PriorityQueue (pkg/scheduler/backend/queue) in miniature. Pending
// pods live in exactly one of three places:
//   activeQ        ready to be tried, highest priority first, then oldest first;
//   backoffQ       failed recently: waits 1 s, 2 s, 4 s ... (capped) after its last failure;
//   unschedulable  failed and nothing has changed since: waits for a cluster event (node added or
//                  changed, pod deleted ...) that MoveAllToActiveOrBackoff announces, or for the
//                  unschedulable timeout (upstream's podMaxInUnschedulablePodsDuration, 5 min).
// A popped pod is "in flight" until Done, AddUnschedulable or AddBackoff. A pod that fails after
// a cluster event happened during its attempt goes to backoffQ rather than unschedulable, so the
// event is not lost (upstream's moveRequestCycle).
//
// Time is read from the injected Clock (Monotonic), so tests drive backoff with a FakeClock.
// Thread-compatible: confined to the scheduler's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "mini8s/common/clock.h"

namespace mini8s::scheduler {

class SchedulingQueue {
 public:
  using Duration = std::chrono::steady_clock::duration;
  SchedulingQueue(const Clock& clock, Duration initial_backoff, Duration max_backoff,
                  Duration unschedulable_timeout);

  // A new pending pod goes to activeQ; a known one keeps its place (its priority is updated).
  void Add(const std::string& key, int32_t priority);
  // The pod changed in a way that may make it schedulable: out of the unschedulable pool.
  void Updated(const std::string& key);
  void Delete(const std::string& key);
  bool Contains(const std::string& key) const { return entries_.count(key) != 0; }

  // The next pod from activeQ (it becomes in flight), or nullopt when activeQ is empty.
  std::optional<std::string> Pop();
  // The attempt popped at `cycle` found no node.
  void AddUnschedulable(const std::string& key, int64_t cycle);
  // The attempt failed for another reason (a bind error): retry after backoff.
  void AddBackoff(const std::string& key);
  // Bound: forget the pod and its attempts.
  void Done(const std::string& key) { Delete(key); }

  // A cluster event that may make unschedulable pods fit: each goes to backoffQ if still within
  // its backoff, else to activeQ.
  void MoveAllToActiveOrBackoff();
  // Moves due backoffQ pods and timed-out unschedulable pods to activeQ.
  void Flush();
  // When the earliest backoffQ pod is due (nullopt if backoffQ is empty).
  std::optional<std::chrono::steady_clock::time_point> NextBackoffExpiry() const;

  int64_t scheduling_cycle() const { return cycle_; }
  size_t active() const { return active_.size(); }
  size_t backoff() const { return backoff_.size(); }
  size_t unschedulable() const;
  int Attempts(const std::string& key) const;

 private:
  enum class Where : uint8_t { kActive, kBackoff, kUnschedulable, kInFlight };
  struct Entry {
    int32_t priority = 0;
    uint64_t seq = 0;  // FIFO order within a priority
    int attempts = 0;
    Where where = Where::kActive;
    std::chrono::steady_clock::time_point last_failure{};
    std::chrono::steady_clock::time_point backoff_until{};
  };

  void Remove(const std::string& key, Entry& e);
  void ToActive(const std::string& key, Entry& e);
  void ToBackoff(const std::string& key, Entry& e);
  Duration BackoffFor(int attempts) const;

  const Clock& clock_;
  Duration initial_backoff_;
  Duration max_backoff_;
  Duration unschedulable_timeout_;
  std::unordered_map<std::string, Entry> entries_;
  std::set<std::tuple<int32_t, uint64_t, std::string>> active_;  // (-priority, seq, key)
  std::set<std::tuple<std::chrono::steady_clock::time_point, std::string>> backoff_;
  uint64_t next_seq_ = 0;
  int64_t cycle_ = 0;
  int64_t move_request_cycle_ = -1;
};

}  // namespace mini8s::scheduler
