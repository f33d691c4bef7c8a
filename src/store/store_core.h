// StoreCore: the Store logic shared by SqliteStore and MemStore: the in-memory state (a sorted
// map), the watch window (a ring of recent events), the watchers, and the writer thread that
// validates writes, hands them to a Backend in group commits, then publishes them.
//
// Lock order: Hub::mu -> Subscription::mu -> State::mu. The writer thread is the only thread
// that mutates State; it reads State without a lock and takes State::mu exclusively to publish.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mini8s/common/clock.h"
#include "mini8s/store/store.h"
#include "store/backend.h"

namespace mini8s::store::detail {

// Set once by the writer thread, waited for once by the caller that queued the request. A futex
// rather than std::binary_semaphore: libstdc++'s semaphore spins and then calls sched_yield four
// times before it sleeps, and a caller always waits out a whole group commit (an fsync), so
// every yield was a wasted context switch: 6% of the server's CPU during creates.
class Completion {
 public:
  void Wait();
  void Signal();

 private:
  static constexpr uint32_t kPending = 0, kSleeping = 1, kDone = 2;
  std::atomic<uint32_t> state_{kPending};
};

struct Entry {
  ValuePtr value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  int64_t ttl_seconds = 0;
  int64_t expires_at_ms = 0;
};

// The current state and the watch window.
class State {
 public:
  explicit State(size_t window_capacity) : capacity_(window_capacity == 0 ? 1 : window_capacity) {}

  Result<KeyValue> Get(std::string_view key) const;
  Result<ListResult> List(std::string_view prefix, const ListOptions& options) const;
  int64_t Count(std::string_view prefix) const;
  Revision current() const;
  void FillStats(StoreStats& stats) const;

  // Appends to `out` up to `max_events` events under `prefix` with revisions in (after, until],
  // examining a bounded number of events. Sets `*scanned_to` to the revision up to which the
  // window was examined. kResourceExhausted if `after` has already left the window.
  Status ReadWindow(std::string_view prefix, Revision after, Revision until,
                    std::deque<EventPtr>& out, size_t max_events, Revision* scanned_to) const;
  // Validates a start revision for a watch under the lock; returns (start, current).
  Result<std::pair<Revision, Revision>> CheckWatchStart(Revision start) const;

  // Writer thread only.
  void Load(LoadedState loaded);
  const Entry* FindForWriter(std::string_view key) const;
  void Apply(const std::vector<Mutation>& batch);
  void TrimWindowTo(Revision revision);
  Revision window_start_for_writer() const { return window_start_; }

 private:
  // glibc's rwlock prefers readers, so a steady stream of overlapping Lists could starve the
  // writer. The gate makes new readers queue behind a writer that is waiting.
  std::shared_lock<std::shared_mutex> ReadLock() const {
    std::lock_guard gate(gate_);
    return std::shared_lock(mu_);
  }
  std::unique_lock<std::shared_mutex> WriteLock() {
    std::lock_guard gate(gate_);
    return std::unique_lock(mu_);
  }

  mutable std::mutex gate_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Entry, std::less<>> kv_;  // GUARDED_BY(mu_) for writes
  std::deque<EventPtr> ring_;
  size_t capacity_;
  Revision current_ = 0;
  Revision window_start_ = 0;
};

class Hub;

// One watcher's queue. The hub pushes live events (revisions after replay_until); events in
// (start, replay_until] are read from the window on demand so a watch from an old revision does
// not need a queue the size of the window.
class Subscription {
 public:
  Subscription(std::weak_ptr<State> state, std::weak_ptr<Hub> hub, std::string prefix,
               Revision start, Revision replay_until, size_t limit);

  Result<EventPtr> Next(std::chrono::milliseconds timeout, bool block);
  Status Drain(std::vector<EventPtr>& out, size_t max);
  void SetNotify(std::function<void()> notify);
  void Stop();
  Revision ProgressRevision();

  // Hub side, with Hub::mu held. Return the notify callback to run after the hub's lock is
  // released, or null.
  std::shared_ptr<std::function<void()>> Push(const std::vector<Mutation>& batch);
  std::shared_ptr<std::function<void()>> End(Status status, bool keep_queued);

  const std::string& prefix() const { return prefix_; }
  Revision start() const { return start_; }
  // The newest revision pushed (or skipped as not matching). Set before the subscription is
  // published, then only by Push under mu_.
  Revision last_pushed = 0;

 private:
  bool ReadyLocked() const;
  // Pops one event into `ev`; false if none is ready. May read from the window.
  bool PopLocked(EventPtr& ev);
  std::shared_ptr<std::function<void()>> NotifyIfBecameReadyLocked(bool was_ready);

  const std::weak_ptr<State> state_;
  const std::weak_ptr<Hub> hub_;
  const std::string prefix_;
  const Revision start_;
  const Revision replay_until_;
  const size_t limit_;

  std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;
  std::deque<EventPtr> replay_;  // read from the window, not yet delivered
  Revision replay_cursor_;       // the window has been read up to here
  std::deque<EventPtr> queue_;   // live events, at most limit_
  Revision delivered_;           // the revision of the last event handed out
  bool ended_ = false;
  Status terminal_;
  std::shared_ptr<std::function<void()>> notify_;
};

class Hub {
 public:
  void Add(std::shared_ptr<Subscription> sub);
  void Remove(const Subscription* sub);
  void Publish(const std::vector<Mutation>& batch);
  void CloseAll(const Status& status);
  size_t size() const;
  std::mutex& mu() { return mu_; }
  bool closed_locked() const { return closed_; }

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subs_;
  bool closed_ = false;
  std::vector<std::shared_ptr<std::function<void()>>> to_notify_;  // writer-thread scratch
};

class StoreCore final : public Store {
 public:
  // Loads the backend's state and starts the writer thread.
  static Result<std::unique_ptr<Store>> Start(std::unique_ptr<Backend> backend,
                                              const StoreOptions& options, const Clock& clock);
  ~StoreCore() override;

  Result<Revision> Create(std::string_view key, std::string value, int64_t ttl_seconds) override;
  Result<Revision> Update(std::string_view key, std::string value, Revision expected_mod_revision,
                          int64_t ttl_seconds) override;
  Result<DeleteResult> Delete(std::string_view key, Revision expected_mod_revision) override;
  Result<KeyValue> Get(std::string_view key) const override;
  Result<ListResult> List(std::string_view prefix, const ListOptions& options) const override;
  int64_t Count(std::string_view prefix) const override;
  Revision CurrentRevision() const override;
  Result<std::unique_ptr<Watcher>> Watch(std::string_view prefix, Revision start_revision) override;
  Status Compact(Revision revision) override;
  Result<int64_t> ExpireDueKeys() override;
  Status CheckIntegrity() override;
  StoreStats Stats() override;
  Result<RewriteStats> RewriteStored(std::string_view prefix) override;
  void Close() override;

 private:
  struct Request {
    enum class Kind : uint8_t { kCreate, kUpdate, kDelete, kTask };
    Kind kind = Kind::kTask;
    std::string_view key;
    ValuePtr value;
    Revision expected = 0;
    int64_t ttl_seconds = 0;
    std::function<void()>* task = nullptr;
    // Results.
    Status status;
    Revision revision = 0;
    KeyValue deleted;
    Completion done;
  };
  struct Overlay {
    bool exists = false;
    ValuePtr value;
    Revision create_revision = 0;
    Revision mod_revision = 0;
    int64_t ttl_seconds = 0;
  };

  StoreCore(std::unique_ptr<Backend> backend, const StoreOptions& options, const Clock& clock);

  // Queues `r` for the writer thread and waits for it.
  void Submit(Request& r);
  Status RunOnWriter(std::function<void()> fn);
  void WriterLoop();
  // Validates, persists, publishes and acknowledges a run of write requests.
  void CommitRun(Request* const* begin, Request* const* end);
  void Maintain();
  int64_t ExpireOnWriter();
  // One bounded compaction transaction towards `target`. Writer thread.
  Status CompactStep(Revision target);
  int64_t NowMs() const;

  const StoreOptions options_;
  const Clock& clock_;
  std::unique_ptr<Backend> backend_;  // used by the writer thread only (and Start)
  std::shared_ptr<State> state_;
  std::shared_ptr<Hub> hub_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Request*> pending_;  // GUARDED_BY(queue_mu_)
  bool closed_ = false;            // GUARDED_BY(queue_mu_)
  bool writer_idle_ = false;       // GUARDED_BY(queue_mu_)
  std::thread writer_;
  std::atomic<std::thread::id> writer_id_{};  // cleared once the writer has exited
  std::once_flag close_once_;

  // Writer-thread state.
  Revision last_revision_ = 0;
  Revision compact_revision_ = 0;
  int commits_since_compaction_ = 0;
  std::set<std::pair<int64_t, std::string>> expiries_;  // (expires_at_ms, key)
  std::unordered_map<std::string, int64_t> expiry_of_;  // key -> expires_at_ms
  std::vector<Mutation> mutations_;
  std::unordered_map<std::string_view, Overlay> overlay_;
  std::chrono::steady_clock::time_point last_backlog_warning_{};

  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> compaction_failures_{0};
  std::atomic<Revision> compact_revision_published_{0};
};

}  // namespace mini8s::store::detail
