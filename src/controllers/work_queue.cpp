#include "mini8s/controllers/work_queue.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mini8s::controllers {

namespace asio = boost::asio;

struct WorkQueue::Impl {
  explicit Impl(asio::any_io_executor ex) : signal(ex), delay(ex) {
    // Waiters park on `signal` forever; Add wakes one with cancel_one. Its expiry is never reset
    // because that would cancel (wake) every waiter.
    signal.expires_at(asio::steady_timer::time_point::max());
  }
  asio::steady_timer signal;
  asio::steady_timer delay;
  WorkQueue* owner = nullptr;  // cleared by ~WorkQueue so late timer completions do nothing
  std::optional<std::chrono::steady_clock::time_point> armed_for;
};

WorkQueue::WorkQueue(asio::any_io_executor executor, const Clock& clock,
                     std::unique_ptr<RateLimiter> limiter)
    : clock_(clock),
      limiter_(limiter ? std::move(limiter) : DefaultControllerRateLimiter(clock)),
      impl_(std::make_shared<Impl>(std::move(executor))) {
  impl_->owner = this;
}

WorkQueue::~WorkQueue() {
  impl_->owner = nullptr;
  impl_->delay.cancel();
  impl_->signal.cancel();
}

void WorkQueue::Add(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;   // already queued (or re-queued after processing)
  if (processing_.count(key) != 0) return;  // Done will queue it
  queue_.push_back(key);
  impl_->signal.cancel_one();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (shutting_down_) return;
  if (delay.count() <= 0) {
    Add(key);
    return;
  }
  auto deadline =
      clock_.Monotonic() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay);
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (it->second <= deadline) return;  // the earlier deadline wins (delaying_queue.go)
    auto range = by_time_.equal_range(it->second);
    for (auto r = range.first; r != range.second; ++r) {
      if (r->second == key) {
        by_time_.erase(r);
        break;
      }
    }
    it->second = deadline;
  } else {
    waiting_.emplace(key, deadline);
  }
  by_time_.emplace(deadline, key);
  ArmTimer();
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, limiter_->When(key)); }

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) const { return limiter_->NumRequeues(key); }

void WorkQueue::FlushDue() {
  auto now = clock_.Monotonic();
  while (!by_time_.empty() && by_time_.begin()->first <= now) {
    std::string key = std::move(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
    waiting_.erase(key);
    Add(key);
  }
  ArmTimer();
}

void WorkQueue::ArmTimer() {
  if (by_time_.empty() || shutting_down_) {
    impl_->armed_for.reset();
    impl_->delay.cancel();
    return;
  }
  auto deadline = by_time_.begin()->first;
  if (impl_->armed_for && *impl_->armed_for == deadline) return;
  impl_->armed_for = deadline;
  // The injected clock decides when a key is due; the real timer only wakes us to look.
  auto wait = deadline - clock_.Monotonic();
  if (wait < std::chrono::steady_clock::duration::zero()) wait = {};
  impl_->delay.expires_after(wait);
  std::weak_ptr<Impl> weak = impl_;
  impl_->delay.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    auto impl = weak.lock();
    if (!impl || !impl->owner) return;
    impl->armed_for.reset();
    impl->owner->FlushDue();
  });
}

asio::awaitable<std::optional<std::string>> WorkQueue::Get() {
  std::shared_ptr<Impl> impl = impl_;
  for (;;) {
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      processing_.insert(key);
      dirty_.erase(key);
      co_return key;
    }
    if (shutting_down_) co_return std::nullopt;
    auto [ec] = co_await impl->signal.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (!impl->owner) co_return std::nullopt;
  }
}

void WorkQueue::Done(const std::string& key) {
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    impl_->signal.cancel_one();
  }
}

void WorkQueue::ShutDown() {
  shutting_down_ = true;
  by_time_.clear();
  waiting_.clear();
  impl_->armed_for.reset();
  impl_->delay.cancel();
  impl_->signal.cancel();
}

}  // namespace mini8s::controllers
