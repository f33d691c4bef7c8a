#include "store/store_core.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>

#include "mini8s/common/check.h"
#include "mini8s/common/logging.h"

namespace mini8s::store::detail {

void Completion::Wait() {
  uint32_t s = state_.load(std::memory_order_acquire);
  while (s != kDone) {
    if (s == kPending &&
        !state_.compare_exchange_weak(s, kSleeping, std::memory_order_acquire)) {
      continue;  // s now holds what Signal() or a spurious failure left
    }
    // Returns at once if the state is no longer kSleeping; EINTR and spurious wakes loop.
    ::syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
    s = state_.load(std::memory_order_acquire);
  }
}

void Completion::Signal() {
  // The waiter may return and free this object as soon as it sees kDone; a wake on the freed
  // address is harmless (at worst a spurious wake of whatever waits there next, which every
  // futex user tolerates), and only happens when the waiter was asleep.
  if (state_.exchange(kDone, std::memory_order_acq_rel) == kSleeping) {
    ::syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
}

namespace {

// A compaction backlog larger than this many batches after a maintenance pass is reported.
constexpr int64_t kBacklogWarningBatches = 20;
constexpr auto kWarningInterval = std::chrono::seconds(30);
// Longest a maintenance pass spends compacting before it lets writers in again.
constexpr auto kCompactionBudget = std::chrono::milliseconds(100);
constexpr int kCommitsPerCompactionStep = 8;

std::string Quote(std::string_view key) { return "\"" + std::string(key) + "\""; }

}  // namespace

StoreCore::StoreCore(std::unique_ptr<Backend> backend, const StoreOptions& options,
                     const Clock& clock)
    : options_(options),
      clock_(clock),
      backend_(std::move(backend)),
      state_(std::make_shared<State>(options.watch_window)),
      hub_(std::make_shared<Hub>()) {}

StoreCore::~StoreCore() { Close(); }

Result<std::unique_ptr<Store>> StoreCore::Start(std::unique_ptr<Backend> backend,
                                                const StoreOptions& options, const Clock& clock) {
  MINI8S_ASSIGN_OR_RETURN(LoadedState loaded, backend->Load(options.watch_window));
  std::unique_ptr<StoreCore> core(new StoreCore(std::move(backend), options, clock));
  core->last_revision_ = loaded.current_revision;
  core->compact_revision_ = loaded.compact_revision;
  core->compact_revision_published_ = loaded.compact_revision;

  // Share value buffers between the state and the events that carry the same version, so each
  // version is held once in memory.
  std::unordered_map<Revision, ValuePtr> by_revision;
  for (const LoadedEntry& le : loaded.entries) {
    if (le.kv.mod_revision > loaded.window_start) by_revision[le.kv.mod_revision] = le.kv.value;
    if (le.expires_at_ms > 0) {
      core->expiries_.emplace(le.expires_at_ms, le.kv.key);
      core->expiry_of_.emplace(le.kv.key, le.expires_at_ms);
    }
  }
  for (auto& ev : loaded.events) {
    if (ev->type != EventType::kDeleted) {
      auto it = by_revision.find(ev->revision);
      if (it != by_revision.end()) {
        ev->value = it->second;
      } else {
        by_revision.emplace(ev->revision, ev->value);
      }
    }
    if (ev->type != EventType::kAdded) {
      auto it = by_revision.find(ev->prev_revision);
      if (it != by_revision.end()) ev->prev_value = it->second;
      if (ev->type == EventType::kDeleted) ev->value = ev->prev_value;
    }
  }
  core->state_->Load(std::move(loaded));
  core->writer_ = std::thread([c = core.get()] { c->WriterLoop(); });
  core->writer_id_ = core->writer_.get_id();
  return std::unique_ptr<Store>(std::move(core));
}

int64_t StoreCore::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

void StoreCore::Submit(Request& r) {
  MINI8S_CHECK(std::this_thread::get_id() != writer_id_.load())
      << "store call from its own writer thread (a watch notify callback?) would deadlock";
  bool wake = false;
  {
    std::lock_guard lock(queue_mu_);
    if (closed_) {
      r.status = Status::Unavailable("store is closed");
      return;
    }
    pending_.push_back(&r);
    wake = writer_idle_;
  }
  if (wake) queue_cv_.notify_one();
  r.done.Wait();
}

Status StoreCore::RunOnWriter(std::function<void()> fn) {
  Request r;
  r.kind = Request::Kind::kTask;
  r.task = &fn;
  Submit(r);
  return r.status;
}

Result<Revision> StoreCore::Create(std::string_view key, std::string value, int64_t ttl_seconds) {
  if (key.empty()) return Status::Invalid("empty key");
  if (ttl_seconds < 0) return Status::Invalid("negative TTL");
  Request r;
  r.kind = Request::Kind::kCreate;
  r.key = key;
  // Values live on in the state and the watch window: drop the slack a growing serializer left
  // (up to half the capacity), which is a large share of the server's memory.
  value.shrink_to_fit();
  r.value = std::make_shared<const std::string>(std::move(value));
  r.ttl_seconds = ttl_seconds;
  Submit(r);
  if (!r.status.ok()) return std::move(r.status);
  return r.revision;
}

Result<Revision> StoreCore::Update(std::string_view key, std::string value,
                                   Revision expected_mod_revision, int64_t ttl_seconds) {
  if (key.empty()) return Status::Invalid("empty key");
  if (ttl_seconds < 0) return Status::Invalid("negative TTL");
  Request r;
  r.kind = Request::Kind::kUpdate;
  r.key = key;
  value.shrink_to_fit();  // as in Create
  r.value = std::make_shared<const std::string>(std::move(value));
  r.expected = expected_mod_revision;
  r.ttl_seconds = ttl_seconds;
  Submit(r);
  if (!r.status.ok()) return std::move(r.status);
  return r.revision;
}

Result<DeleteResult> StoreCore::Delete(std::string_view key, Revision expected_mod_revision) {
  if (key.empty()) return Status::Invalid("empty key");
  Request r;
  r.kind = Request::Kind::kDelete;
  r.key = key;
  r.expected = expected_mod_revision;
  Submit(r);
  if (!r.status.ok()) return std::move(r.status);
  return DeleteResult{r.revision, std::move(r.deleted)};
}

Result<KeyValue> StoreCore::Get(std::string_view key) const { return state_->Get(key); }

Result<ListResult> StoreCore::List(std::string_view prefix, const ListOptions& options) const {
  return state_->List(prefix, options);
}

int64_t StoreCore::Count(std::string_view prefix) const { return state_->Count(prefix); }

Revision StoreCore::CurrentRevision() const { return state_->current(); }

Result<std::unique_ptr<Watcher>> StoreCore::Watch(std::string_view prefix,
                                                  Revision start_revision) {
  if (start_revision < 0) return Status::Invalid("negative start revision");
  // Holding the hub's lock while reading the current revision means every event after it is
  // either replayed from the window or pushed live, never both (last_pushed).
  std::lock_guard lock(hub_->mu());
  if (hub_->closed_locked()) return Status::Unavailable("store is closed");
  MINI8S_ASSIGN_OR_RETURN(auto range, state_->CheckWatchStart(start_revision));
  auto sub = std::make_shared<Subscription>(state_, hub_, std::string(prefix), range.first,
                                            range.second, options_.watcher_queue_limit);
  sub->last_pushed = range.second;
  hub_->Add(sub);
  return std::make_unique<Watcher>(std::move(sub));
}

Status StoreCore::Compact(Revision revision) {
  Status result;
  Status s = RunOnWriter([&] {
    if (revision < 0 || revision > last_revision_) {
      result = Status::Invalid("compact revision " + std::to_string(revision) + " is not in [0, " +
                               std::to_string(last_revision_) + "]");
      return;
    }
    if (revision > 0) state_->TrimWindowTo(revision);
    const Revision target = state_->window_start_for_writer();
    while (compact_revision_ < target) {
      result = CompactStep(target);
      if (!result.ok()) return;
    }
  });
  MINI8S_RETURN_IF_ERROR(s);
  return result;
}

Result<int64_t> StoreCore::ExpireDueKeys() {
  int64_t n = 0;
  MINI8S_RETURN_IF_ERROR(RunOnWriter([&] { n = ExpireOnWriter(); }));
  return n;
}

Status StoreCore::CheckIntegrity() {
  Status result;
  MINI8S_RETURN_IF_ERROR(RunOnWriter([&] { result = backend_->CheckIntegrity(); }));
  return result;
}

StoreStats StoreCore::Stats() {
  StoreStats stats;
  state_->FillStats(stats);
  stats.compact_revision = compact_revision_published_.load();
  stats.watchers = hub_->size();
  stats.transactions = transactions_.load();
  stats.writes = writes_.load();
  stats.compaction_failures = compaction_failures_.load();
  (void)RunOnWriter([&] { backend_->FillStats(stats); });
  return stats;
}

Result<RewriteStats> StoreCore::RewriteStored(std::string_view prefix) {
  RewriteStats stats;
  int64_t after_id = 0;
  bool done = false;
  // One bounded transaction per writer task, so writes queued meanwhile are not held up.
  while (!done) {
    Status step;
    MINI8S_RETURN_IF_ERROR(RunOnWriter([&] {
      auto r = backend_->RewriteStep(prefix, &after_id, &stats);
      if (r.ok()) {
        done = *r;
      } else {
        step = r.error();
      }
    }));
    MINI8S_RETURN_IF_ERROR(step);
  }
  return stats;
}

void StoreCore::Close() {
  MINI8S_CHECK(std::this_thread::get_id() != writer_id_.load())
      << "Store::Close from its own writer thread (a watch notify callback?) would deadlock";
  std::call_once(close_once_, [this] {
    {
      std::lock_guard lock(queue_mu_);
      closed_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    writer_id_ = std::thread::id();  // ids are reused after join
    backend_->Close();
    hub_->CloseAll(Status::Unavailable("store closed"));
  });
}

void StoreCore::WriterLoop() {
  std::vector<Request*> batch;
  batch.reserve(options_.max_batch);
  const bool background = options_.background_maintenance;
  auto next_tick = std::chrono::steady_clock::now() + options_.maintenance_interval;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      while (pending_.empty() && !closed_) {
        if (background && std::chrono::steady_clock::now() >= next_tick) break;
        writer_idle_ = true;
        if (background) {
          queue_cv_.wait_until(lock, next_tick);
        } else {
          queue_cv_.wait(lock);
        }
        writer_idle_ = false;
      }
      if (pending_.empty() && closed_) break;
      const size_t n = std::min(pending_.size(), std::max<size_t>(options_.max_batch, 1));
      batch.assign(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
    }
    // Writes are committed in runs; a task runs between runs, in queue order.
    auto is_task = [](const Request* r) { return r->kind == Request::Kind::kTask; };
    Request* const* b = batch.data();
    Request* const* e = b + batch.size();
    while (b != e) {
      if (is_task(*b)) {
        Request* r = *b++;
        (*r->task)();
        r->done.Signal();
        continue;
      }
      Request* const* run_end = std::find_if(b, e, is_task);
      CommitRun(b, run_end);
      b = run_end;
    }
    batch.clear();
    // Under sustained load the writer is never idle, so compaction also gets one step every few
    // commits once a full batch of revisions has left the window: bounded work, one extra fsync
    // per kCommitsPerCompactionStep commits, and the backlog cannot grow without bound.
    if (background && ++commits_since_compaction_ >= kCommitsPerCompactionStep) {
      commits_since_compaction_ = 0;
      const Revision target = state_->window_start_for_writer();
      if (target - compact_revision_ >= std::max<int64_t>(options_.compaction_batch, 1)) {
        (void)CompactStep(target);
      }
    }
    if (background && std::chrono::steady_clock::now() >= next_tick) {
      Maintain();
      next_tick = std::chrono::steady_clock::now() + options_.maintenance_interval;
    }
  }
}

void StoreCore::CommitRun(Request* const* begin, Request* const* end) {
  mutations_.clear();
  overlay_.clear();
  Revision rev = last_revision_;
  int64_t now_ms = -1;
  for (Request* const* p = begin; p != end; ++p) {
    Request& r = **p;
    Overlay cur;
    if (auto it = overlay_.find(r.key); it != overlay_.end()) {
      cur = it->second;
    } else if (const Entry* e = state_->FindForWriter(r.key)) {
      cur = Overlay{true, e->value, e->create_revision, e->mod_revision, e->ttl_seconds};
    }
    auto ev = std::make_shared<Event>();
    switch (r.kind) {
      case Request::Kind::kCreate:
        if (cur.exists) {
          r.status = Status::AlreadyExists("key " + Quote(r.key) + " already exists");
          continue;
        }
        ev->type = EventType::kAdded;
        ev->create_revision = rev + 1;
        ev->value = r.value;
        break;
      case Request::Kind::kUpdate:
      case Request::Kind::kDelete:
        if (!cur.exists) {
          r.status = Status::NotFound("key " + Quote(r.key) + " not found");
          continue;
        }
        if (r.expected != 0 && r.expected != cur.mod_revision) {
          r.status = Status::Conflict("key " + Quote(r.key) + " has revision " +
                                      std::to_string(cur.mod_revision) + ", not " +
                                      std::to_string(r.expected));
          continue;
        }
        ev->create_revision = cur.create_revision;
        ev->prev_revision = cur.mod_revision;
        ev->prev_value = cur.value;
        if (r.kind == Request::Kind::kUpdate) {
          ev->type = EventType::kModified;
          ev->value = r.value;
        } else {
          ev->type = EventType::kDeleted;
          ev->value = cur.value;
          r.deleted = KeyValue{std::string(r.key), cur.value, cur.create_revision, cur.mod_revision,
                               cur.ttl_seconds};
        }
        break;
      case Request::Kind::kTask:
        continue;
    }
    ev->revision = ++rev;
    ev->key.assign(r.key);
    r.revision = rev;
    Mutation m;
    m.event = ev;
    if (ev->type != EventType::kDeleted && r.ttl_seconds > 0) {
      if (now_ms < 0) now_ms = NowMs();
      m.ttl_seconds = r.ttl_seconds;
      // Saturate: a huge TTL must mean "far future", not wrap into the past and expire at once.
      const int64_t max_ms = std::numeric_limits<int64_t>::max();
      m.expires_at_ms =
          r.ttl_seconds > (max_ms - now_ms) / 1000 ? max_ms : now_ms + r.ttl_seconds * 1000;
    }
    const bool exists = ev->type != EventType::kDeleted;
    overlay_.insert_or_assign(
        std::string_view(ev->key),
        Overlay{exists, exists ? ev->value : nullptr, ev->create_revision, rev, m.ttl_seconds});
    mutations_.push_back(std::move(m));
  }

  if (!mutations_.empty()) {
    Status s = backend_->Persist(mutations_);
    if (!s.ok()) {
      MINI8S_LOG(ERROR) << "store: commit of " << mutations_.size()
                        << " writes failed: " << s.ToString();
      for (Request* const* p = begin; p != end; ++p) {
        if ((*p)->revision != 0) {
          (*p)->status = s;
          (*p)->revision = 0;
          (*p)->deleted = KeyValue{};
        }
      }
      mutations_.clear();
    } else {
      last_revision_ = rev;
      transactions_.fetch_add(1, std::memory_order_relaxed);
      writes_.fetch_add(mutations_.size(), std::memory_order_relaxed);
      for (const Mutation& m : mutations_) {
        const std::string& key = m.event->key;
        auto it = expiry_of_.find(key);
        if (it != expiry_of_.end()) {
          expiries_.erase({it->second, key});
          if (m.expires_at_ms == 0) expiry_of_.erase(it);
        }
        if (m.expires_at_ms > 0) {
          expiries_.emplace(m.expires_at_ms, key);
          expiry_of_.insert_or_assign(key, m.expires_at_ms);
        }
      }
      state_->Apply(mutations_);
    }
  }
  overlay_.clear();
  // Acknowledge before fanning out: the writes are durable and visible to readers now.
  for (Request* const* p = begin; p != end; ++p) (*p)->done.Signal();
  hub_->Publish(mutations_);
  mutations_.clear();
}

int64_t StoreCore::ExpireOnWriter() {
  const int64_t now_ms = NowMs();
  const size_t chunk = std::max<size_t>(options_.max_batch, 1);
  int64_t n = 0;
  // In transactions of at most max_batch deletes, however many keys fell due at once.
  while (!expiries_.empty() && expiries_.begin()->first <= now_ms) {
    std::vector<std::string> due;
    for (auto it = expiries_.begin();
         it != expiries_.end() && it->first <= now_ms && due.size() < chunk; ++it) {
      due.push_back(it->second);
    }
    std::vector<Request> reqs(due.size());
    std::vector<Request*> ptrs;
    ptrs.reserve(due.size());
    for (size_t i = 0; i < due.size(); ++i) {
      const Entry* e = state_->FindForWriter(due[i]);
      reqs[i].kind = Request::Kind::kDelete;
      reqs[i].key = due[i];
      reqs[i].expected = e ? e->mod_revision : 0;
      ptrs.push_back(&reqs[i]);
    }
    CommitRun(ptrs.data(), ptrs.data() + ptrs.size());
    for (const Request& r : reqs) {
      if (r.status.ok()) {
        ++n;
        continue;
      }
      if (r.status.Is(Code::kNotFound)) {
        // Cannot happen while the index tracks every write; drop the stale entry regardless.
        if (auto it = expiry_of_.find(std::string(r.key)); it != expiry_of_.end()) {
          expiries_.erase({it->second, it->first});
          expiry_of_.erase(it);
        }
        continue;
      }
      MINI8S_LOG(WARNING) << "store: expiring key " << Quote(r.key)
                          << " failed, will retry: " << r.status.ToString();
      return n;
    }
  }
  return n;
}

Status StoreCore::CompactStep(Revision target) {
  const Revision from = compact_revision_;
  const Revision to = std::min(target, from + std::max<int64_t>(options_.compaction_batch, 1));
  if (to <= from) return Status::OK();
  Status s = backend_->CompactRange(from, to);
  if (!s.ok()) {
    compaction_failures_.fetch_add(1, std::memory_order_relaxed);
    MINI8S_LOG(WARNING) << "store: compaction of revisions (" << from << ", " << to
                        << "] failed (failure " << compaction_failures_.load()
                        << "), will retry: " << s.ToString();
    return s;
  }
  compact_revision_ = to;
  compact_revision_published_.store(to);
  return Status::OK();
}

void StoreCore::Maintain() {
  (void)ExpireOnWriter();
  const Revision target = state_->window_start_for_writer();
  const auto deadline = std::chrono::steady_clock::now() + kCompactionBudget;
  while (compact_revision_ < target) {
    if (!CompactStep(target).ok()) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::lock_guard lock(queue_mu_);
    if (!pending_.empty()) break;  // writers first; the next pass continues
  }
  const int64_t backlog = target - compact_revision_;
  if (backlog > kBacklogWarningBatches * std::max<int64_t>(options_.compaction_batch, 1)) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_backlog_warning_ >= kWarningInterval) {
      last_backlog_warning_ = now;
      MINI8S_LOG(WARNING) << "store: compaction is not keeping up: " << backlog
                          << " revisions behind the watch window (compacted to "
                          << compact_revision_ << ", window starts at " << target << ")";
    }
  }
}

}  // namespace mini8s::store::detail
