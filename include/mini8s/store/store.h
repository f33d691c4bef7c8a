// Store: a revisioned key-value store in the kine model (docs/design/store.md).
//
// Keys are strings such as "/registry/pods/default/web"; values are opaque bytes (the API server
// stores JSON). Every change gets the next global revision, which becomes metadata.resourceVersion.
// Reads (Get/List/Count) are served from memory; writes are compare-and-swap on the key's
// mod_revision and are acknowledged only once durable (SqliteStore) or applied (MemStore).
// A write that has been acknowledged is visible to every later read, and a watch started from the
// revision returned by a List sees exactly the changes after that list: no gap, no duplicate.
//
// Thread-safe: every method may be called from any thread. Write calls block the calling thread
// until the store's writer thread has committed them (use a dedicated executor for store calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/store/transformer.h"

namespace mini8s::store {

// A global revision: the SQLite autoincrement row id of the change. 0 means "none" / "current".
using Revision = int64_t;

// Values are immutable and shared between the current state, the watch window and readers, so a
// value is stored once in memory however many events and list results refer to it.
using ValuePtr = std::shared_ptr<const std::string>;

struct KeyValue {
  std::string key;
  ValuePtr value;  // never null
  Revision create_revision = 0;
  Revision mod_revision = 0;  // the revision of the last change; the CAS token for Update/Delete
  int64_t ttl_seconds = 0;    // the TTL given at the last write; 0 = none
};

enum class EventType : uint8_t { kAdded, kModified, kDeleted };
std::string_view EventTypeName(EventType type);  // "ADDED", "MODIFIED", "DELETED"

// One committed change. Immutable and shared by every subscriber that receives it.
struct Event {
  EventType type = EventType::kAdded;
  std::string key;
  Revision revision = 0;         // the revision of this change
  Revision create_revision = 0;  // the key's create revision
  Revision prev_revision = 0;    // the key's mod_revision before this change; 0 for kAdded
  ValuePtr value;       // the value after the change; for kDeleted, the value that was deleted
  ValuePtr prev_value;  // the value before the change; null for kAdded
};
using EventPtr = std::shared_ptr<const Event>;

struct ListOptions {
  // At most this many items; 0 = no limit.
  int64_t limit = 0;
  // Start strictly after this key (the last key of the previous page); empty = from the prefix.
  std::string continue_after;
  // List the state as of this revision; 0 = the current state. Pages after the first pass the
  // revision of the first page so that the whole list is one consistent snapshot. A revision
  // older than the watch window is kExpired; one newer than the current revision is kTimeout
  // (Kubernetes' "too large resource version").
  Revision revision = 0;
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  Revision revision = 0;        // the revision this list reflects; watch from here
  bool more = false;            // more items remain after items.back().key
};

struct DeleteResult {
  Revision revision = 0;  // the revision of the delete
  KeyValue deleted;       // the key as it was just before the delete
};

struct StoreStats {
  Revision current_revision = 0;
  Revision compact_revision = 0;  // rows superseded at or below this revision are gone
  Revision window_start = 0;      // watches and lists from revisions >= this are served
  uint64_t keys = 0;
  uint64_t window_events = 0;
  uint64_t watchers = 0;
  uint64_t transactions = 0;  // group commits since open
  uint64_t writes = 0;        // acknowledged changes since open
  uint64_t compaction_failures = 0;
  // SqliteStore only (0 for MemStore).
  uint64_t db_rows = 0;
  uint64_t db_pages = 0;
  uint64_t db_freelist_pages = 0;
};

namespace detail {
class Subscription;
}  // namespace detail

// A watch on a key prefix, from a start revision. Delivers, in revision order, every change to a
// key under the prefix with a revision greater than the start revision. Ends with an error:
//   kResourceExhausted  the subscriber fell behind (its bounded queue filled, or it replayed
//                       slower than the window moved); restart from the last revision seen,
//                       or relist if that is kExpired,
//   kUnavailable        the store was closed,
//   kCancelled          Stop() was called.
// Events queued before the error are delivered first. Thread-safe.
class Watcher {
 public:
  // Made by Store::Watch.
  explicit Watcher(std::shared_ptr<detail::Subscription> sub);
  ~Watcher();  // Stop()
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The next event, waiting up to `timeout`; null if none arrived in time; the terminal error
  // once the watch has ended and everything before it was delivered.
  Result<EventPtr> Next(std::chrono::milliseconds timeout);
  // The next event if one is ready, else null; the terminal error as for Next.
  Result<EventPtr> TryNext();
  // Appends up to `max` ready events to `out` without blocking. Returns the terminal error only
  // when nothing was appended.
  Status Drain(std::vector<EventPtr>& out, size_t max = SIZE_MAX);

  // `notify` is called when events become ready after the watcher had none ready, and when the
  // watch ends; it is called at once if something is already ready. It is edge-triggered: after
  // a notification, drain until Drain/TryNext return nothing, or no further call comes. It runs
  // on the store's writer thread (or the thread calling SetNotify/Close), outside every lock,
  // and must be cheap (e.g. post a drain to an executor); it must not call the store's write
  // methods, Compact, ExpireDueKeys, CheckIntegrity, Stats or Close, which wait for that thread.
  void SetNotify(std::function<void()> notify);

  // Ends the watch; Next then returns kCancelled. Idempotent.
  void Stop();

  // The revision up to which every change under the prefix has been handed to the consumer
  // (at least the start revision): a safe resourceVersion for a BOOKMARK event.
  Revision ProgressRevision() const;

  const std::string& prefix() const;
  Revision start_revision() const;

 private:
  std::shared_ptr<detail::Subscription> sub_;
};

struct StoreOptions {
  // Number of recent events kept in memory (the watch window). Watches and lists at revisions
  // older than the window are kExpired, and compaction never removes rows inside it.
  size_t watch_window = 10000;
  // Bound on each watcher's queue of undelivered events; a watcher that exceeds it is cut off.
  size_t watcher_queue_limit = 1000;
  // Most writes committed in one transaction.
  size_t max_batch = 1024;
  // How often the writer thread expires TTL'd keys and runs a compaction step when idle.
  std::chrono::milliseconds maintenance_interval{1000};
  // Revisions examined per compaction transaction (bounds how long one step blocks writers).
  int64_t compaction_batch = 1000;
  // Run expiry and compaction on the writer thread every maintenance_interval. Tests that want
  // full control turn this off and call ExpireDueKeys() and Compact() themselves.
  bool background_maintenance = true;
  // Stored form of selected values (encryption at rest); null: values are stored as given.
  // Shared: the owner may change its keys while the store runs (the transformer is thread-safe).
  std::shared_ptr<const ValueTransformer> transformer;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates `key`. Returns the new revision; kAlreadyExists if the key exists. With
  // ttl_seconds > 0 the key is deleted (a kDeleted event) once that many seconds have passed
  // on the store's clock without a further write.
  virtual Result<Revision> Create(std::string_view key, std::string value,
                                  int64_t ttl_seconds = 0) = 0;
  // Replaces the value of `key` if its mod_revision equals `expected_mod_revision` (0: any).
  // Returns the new revision; kNotFound if absent; kConflict on a revision mismatch (re-read and
  // retry: GuaranteedUpdate). The TTL is replaced too, as an etcd put with a new lease (0: none).
  virtual Result<Revision> Update(std::string_view key, std::string value,
                                  Revision expected_mod_revision, int64_t ttl_seconds = 0) = 0;
  // Deletes `key` if its mod_revision equals `expected_mod_revision` (0: unconditionally).
  // kNotFound if absent, kConflict on a mismatch.
  virtual Result<DeleteResult> Delete(std::string_view key, Revision expected_mod_revision = 0) = 0;

  // The current value; kNotFound if absent.
  virtual Result<KeyValue> Get(std::string_view key) const = 0;
  // Keys starting with `prefix`, in key order (see ListOptions).
  virtual Result<ListResult> List(std::string_view prefix,
                                  const ListOptions& options = {}) const = 0;
  // Number of keys currently under `prefix`.
  virtual int64_t Count(std::string_view prefix) const = 0;
  // The revision of the last acknowledged change (0 for an empty store).
  virtual Revision CurrentRevision() const = 0;

  // Watches changes under `prefix` after `start_revision` (0: from the current revision).
  // kExpired if start_revision is older than the window (the client must relist); kTimeout if
  // it is newer than the current revision.
  virtual Result<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 Revision start_revision) = 0;

  // Moves the window start up to `revision` (0: leave the window as it is) and removes, now and
  // completely, every superseded row and tombstone older than the window. Background
  // maintenance does the same continuously in small steps.
  virtual Status Compact(Revision revision = 0) = 0;
  // Deletes every key whose TTL has passed on the store's clock; returns how many. Background
  // maintenance calls this every maintenance_interval.
  virtual Result<int64_t> ExpireDueKeys() = 0;

  // Checks the on-disk structure (SQLite `PRAGMA integrity_check`); OK for MemStore.
  virtual Status CheckIntegrity() = 0;
  virtual StoreStats Stats() = 0;

  // Writes again, in place and without new revisions or events, every stored row (current and
  // historical) under `prefix` whose stored form the transformer reports stale, e.g. after a key
  // rotation; then checkpoints the log so replaced forms leave the files. Runs in small
  // transactions between writes. A store without a transformer or backend has nothing to do.
  virtual Result<RewriteStats> RewriteStored(std::string_view prefix) {
    (void)prefix;
    return RewriteStats{};
  }

  // Fails pending and later writes with kUnavailable, ends every watch with kUnavailable and
  // releases the database. Idempotent; the destructor calls it.
  virtual void Close() = 0;
};

}  // namespace mini8s::store
