#include "scheduler/queue.h"

#include <algorithm>

namespace mini8s::scheduler {

SchedulingQueue::SchedulingQueue(const Clock& clock, Duration initial_backoff, Duration max_backoff,
                                 Duration unschedulable_timeout)
    : clock_(clock),
      initial_backoff_(initial_backoff),
      max_backoff_(max_backoff),
      unschedulable_timeout_(unschedulable_timeout) {}

void SchedulingQueue::Add(const std::string& key, int32_t priority) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.priority != priority && e.where == Where::kActive) {
      active_.erase({-e.priority, e.seq, key});
      e.priority = priority;
      active_.emplace(-e.priority, e.seq, key);
    }
    e.priority = priority;
    return;
  }
  Entry& e = entries_[key];
  e.priority = priority;
  e.seq = next_seq_++;
  e.where = Where::kInFlight;  // so ToActive does not try to remove it from anywhere
  ToActive(key, e);
}

void SchedulingQueue::Updated(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.where != Where::kUnschedulable) return;
  Entry& e = it->second;
  if (clock_.Monotonic() < e.backoff_until) {
    ToBackoff(key, e);
  } else {
    ToActive(key, e);
  }
}

void SchedulingQueue::Delete(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Remove(key, it->second);
  entries_.erase(it);
}

std::optional<std::string> SchedulingQueue::Pop() {
  if (active_.empty()) return std::nullopt;
  auto first = active_.begin();
  std::string key = std::get<2>(*first);
  active_.erase(first);
  Entry& e = entries_[key];
  e.where = Where::kInFlight;
  ++e.attempts;
  ++cycle_;
  return key;
}

void SchedulingQueue::AddUnschedulable(const std::string& key, int64_t cycle) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;  // deleted while in flight
  Entry& e = it->second;
  Remove(key, e);
  e.last_failure = clock_.Monotonic();
  e.backoff_until = e.last_failure + BackoffFor(e.attempts);
  if (move_request_cycle_ >= cycle) {
    ToBackoff(key, e);
  } else {
    e.where = Where::kUnschedulable;
  }
}

void SchedulingQueue::AddBackoff(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  Remove(key, e);
  e.last_failure = clock_.Monotonic();
  e.backoff_until = e.last_failure + BackoffFor(e.attempts);
  ToBackoff(key, e);
}

void SchedulingQueue::MoveAllToActiveOrBackoff() {
  auto now = clock_.Monotonic();
  for (auto& [key, e] : entries_) {
    if (e.where != Where::kUnschedulable) continue;
    if (now < e.backoff_until) {
      ToBackoff(key, e);
    } else {
      ToActive(key, e);
    }
  }
  move_request_cycle_ = cycle_;
}

void SchedulingQueue::Flush() {
  auto now = clock_.Monotonic();
  while (!backoff_.empty() && std::get<0>(*backoff_.begin()) <= now) {
    std::string key = std::get<1>(*backoff_.begin());
    ToActive(key, entries_[key]);
  }
  for (auto& [key, e] : entries_) {
    if (e.where == Where::kUnschedulable && now - e.last_failure >= unschedulable_timeout_) {
      ToActive(key, e);
    }
  }
}

std::optional<std::chrono::steady_clock::time_point> SchedulingQueue::NextBackoffExpiry() const {
  if (backoff_.empty()) return std::nullopt;
  return std::get<0>(*backoff_.begin());
}

size_t SchedulingQueue::unschedulable() const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(), [](const auto& kv) {
    return kv.second.where == Where::kUnschedulable;
  }));
}

int SchedulingQueue::Attempts(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.attempts;
}

void SchedulingQueue::Remove(const std::string& key, Entry& e) {
  switch (e.where) {
    case Where::kActive:
      active_.erase({-e.priority, e.seq, key});
      break;
    case Where::kBackoff:
      backoff_.erase({e.backoff_until, key});
      break;
    case Where::kUnschedulable:
    case Where::kInFlight:
      break;
  }
  e.where = Where::kInFlight;
}

void SchedulingQueue::ToActive(const std::string& key, Entry& e) {
  Remove(key, e);
  e.where = Where::kActive;
  active_.emplace(-e.priority, e.seq, key);
}

void SchedulingQueue::ToBackoff(const std::string& key, Entry& e) {
  Remove(key, e);
  e.where = Where::kBackoff;
  backoff_.emplace(e.backoff_until, key);
}

SchedulingQueue::Duration SchedulingQueue::BackoffFor(int attempts) const {
  Duration d = initial_backoff_;
  for (int i = 1; i < attempts && d < max_backoff_; ++i) d *= 2;
  return std::min(d, max_backoff_);
}

}  // namespace mini8s::scheduler
