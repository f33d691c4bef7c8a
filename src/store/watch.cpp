// Watchers: per-subscriber bounded queues fed by the hub, with lazy replay from the window.

#include <algorithm>
#include <string>

#include "store/store_core.h"

namespace mini8s::store {
namespace detail {
namespace {

// Events fetched from the window per refill; bounds the work done under the state lock.
constexpr size_t kReplayChunk = 256;

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.size() >= prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Subscription::Subscription(std::weak_ptr<State> state, std::weak_ptr<Hub> hub, std::string prefix,
                           Revision start, Revision replay_until, size_t limit)
    : state_(std::move(state)),
      hub_(std::move(hub)),
      prefix_(std::move(prefix)),
      start_(start),
      replay_until_(replay_until),
      limit_(limit == 0 ? 1 : limit),
      replay_cursor_(start),
      delivered_(start) {}

bool Subscription::ReadyLocked() const {
  return !replay_.empty() || replay_cursor_ < replay_until_ || !queue_.empty() || ended_;
}

bool Subscription::PopLocked(EventPtr& ev) {
  while (true) {
    if (!replay_.empty()) {
      ev = std::move(replay_.front());
      replay_.pop_front();
      delivered_ = ev->revision;
      return true;
    }
    if (replay_cursor_ >= replay_until_) break;
    std::shared_ptr<State> state = state_.lock();
    Status s;
    if (!state) {
      s = Status::Unavailable("store closed");
    } else {
      Revision scanned = replay_cursor_;
      s = state->ReadWindow(prefix_, replay_cursor_, replay_until_, replay_, kReplayChunk,
                            &scanned);
      if (s.ok()) replay_cursor_ = scanned;
    }
    if (!s.ok()) {
      // Live events come after the missing ones, so delivering them would leave a gap.
      if (!ended_) terminal_ = std::move(s);
      ended_ = true;
      replay_cursor_ = replay_until_;
      queue_.clear();
      return false;
    }
  }
  if (!queue_.empty()) {
    ev = std::move(queue_.front());
    queue_.pop_front();
    delivered_ = ev->revision;
    return true;
  }
  return false;
}

Revision Subscription::ProgressRevision() {
  std::lock_guard lock(mu_);
  // Everything before the next undelivered event has been delivered or did not match.
  Revision r = last_pushed;
  if (ended_) {
    r = delivered_;
  } else if (!replay_.empty()) {
    r = replay_.front()->revision - 1;
  } else if (replay_cursor_ < replay_until_) {
    r = replay_cursor_;
  } else if (!queue_.empty()) {
    r = queue_.front()->revision - 1;
  }
  return std::max(delivered_, r);
}

Result<EventPtr> Subscription::Next(std::chrono::milliseconds timeout, bool block) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    EventPtr ev;
    if (PopLocked(ev)) return ev;
    if (ended_) return terminal_;
    if (!block || std::chrono::steady_clock::now() >= deadline) return EventPtr();
    ++waiters_;
    cv_.wait_until(lock, deadline);
    --waiters_;
  }
}

Status Subscription::Drain(std::vector<EventPtr>& out, size_t max) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  EventPtr ev;
  while (n < max && PopLocked(ev)) {
    out.push_back(std::move(ev));
    ++n;
  }
  if (n == 0 && ended_) return terminal_;
  return Status::OK();
}

void Subscription::SetNotify(std::function<void()> notify) {
  std::shared_ptr<std::function<void()>> fn;
  {
    std::lock_guard lock(mu_);
    notify_ = notify ? std::make_shared<std::function<void()>>(std::move(notify)) : nullptr;
    if (notify_ && ReadyLocked()) fn = notify_;
  }
  if (fn) (*fn)();
}

void Subscription::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!ended_) terminal_ = Status::Cancelled("watch stopped");
    ended_ = true;
    queue_.clear();
    replay_.clear();
    replay_cursor_ = replay_until_;
    notify_.reset();
    if (waiters_ > 0) cv_.notify_all();
  }
  if (auto hub = hub_.lock()) hub->Remove(this);
}

std::shared_ptr<std::function<void()>> Subscription::NotifyIfBecameReadyLocked(bool was_ready) {
  if (waiters_ > 0) cv_.notify_all();
  if (!was_ready && notify_ && ReadyLocked()) return notify_;
  return nullptr;
}

std::shared_ptr<std::function<void()>> Subscription::Push(const std::vector<Mutation>& batch) {
  std::lock_guard lock(mu_);
  const Revision last = batch.back().event->revision;
  if (ended_ || last <= last_pushed) {
    last_pushed = std::max(last_pushed, last);
    return nullptr;
  }
  const bool was_ready = ReadyLocked();
  for (const Mutation& m : batch) {
    const EventPtr& ev = m.event;
    if (ev->revision <= last_pushed || !HasPrefix(ev->key, prefix_)) continue;
    if (queue_.size() >= limit_) {
      ended_ = true;
      terminal_ = Status::ResourceExhausted(
          "watch on \"" + prefix_ + "\" fell behind: " + std::to_string(queue_.size()) +
          " events undelivered (limit " + std::to_string(limit_) + "); the watcher was cut off " +
          "before revision " + std::to_string(ev->revision) +
          ", restart it from the last revision received");
      break;
    }
    queue_.push_back(ev);
  }
  last_pushed = last;
  return NotifyIfBecameReadyLocked(was_ready);
}

std::shared_ptr<std::function<void()>> Subscription::End(Status status, bool keep_queued) {
  std::lock_guard lock(mu_);
  if (ended_) return nullptr;
  const bool was_ready = ReadyLocked();
  ended_ = true;
  terminal_ = std::move(status);
  if (!keep_queued) {
    queue_.clear();
    replay_.clear();
    replay_cursor_ = replay_until_;
  }
  return NotifyIfBecameReadyLocked(was_ready);
}

void Hub::Add(std::shared_ptr<Subscription> sub) {
  // Called with mu_ held by StoreCore::Watch.
  subs_.push_back(std::move(sub));
}

void Hub::Remove(const Subscription* sub) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(subs_.begin(), subs_.end(),
                         [sub](const std::shared_ptr<Subscription>& s) { return s.get() == sub; });
  if (it == subs_.end()) return;
  std::swap(*it, subs_.back());
  subs_.pop_back();
}

size_t Hub::size() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

void Hub::Publish(const std::vector<Mutation>& batch) {
  if (batch.empty()) return;
  to_notify_.clear();
  {
    std::lock_guard lock(mu_);
    for (const auto& sub : subs_) {
      if (auto fn = sub->Push(batch)) to_notify_.push_back(std::move(fn));
    }
  }
  for (const auto& fn : to_notify_) (*fn)();
  to_notify_.clear();
}

void Hub::CloseAll(const Status& status) {
  std::vector<std::shared_ptr<std::function<void()>>> notify;
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    subs.swap(subs_);
    for (const auto& sub : subs) {
      if (auto fn = sub->End(status, /*keep_queued=*/true)) notify.push_back(std::move(fn));
    }
  }
  for (const auto& fn : notify) (*fn)();
}

}  // namespace detail

Watcher::Watcher(std::shared_ptr<detail::Subscription> sub) : sub_(std::move(sub)) {}
Watcher::~Watcher() { sub_->Stop(); }

Result<EventPtr> Watcher::Next(std::chrono::milliseconds timeout) {
  return sub_->Next(timeout, /*block=*/true);
}
Result<EventPtr> Watcher::TryNext() { return sub_->Next({}, /*block=*/false); }
Status Watcher::Drain(std::vector<EventPtr>& out, size_t max) { return sub_->Drain(out, max); }
void Watcher::SetNotify(std::function<void()> notify) { sub_->SetNotify(std::move(notify)); }
void Watcher::Stop() { sub_->Stop(); }
Revision Watcher::ProgressRevision() const { return sub_->ProgressRevision(); }
const std::string& Watcher::prefix() const { return sub_->prefix(); }
Revision Watcher::start_revision() const { return sub_->start(); }

}  // namespace mini8s::store
