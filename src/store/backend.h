// Backend: the persistence half of a store. StoreCore keeps the state, the watch window and the
// watchers in memory and calls a Backend, always from one thread at a time (the opener, then the
// writer thread), to load at open, persist a batch of changes durably, and compact.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/store/store.h"

namespace mini8s::store::detail {

// One change ready to be persisted; revisions in a batch are consecutive and increasing.
struct Mutation {
  EventPtr event;
  int64_t ttl_seconds = 0;
  int64_t expires_at_ms = 0;  // Unix milliseconds on the store's clock; 0 = never
};

struct LoadedEntry {
  KeyValue kv;
  int64_t expires_at_ms = 0;
};

struct LoadedState {
  std::vector<LoadedEntry> entries;            // the current state, sorted by key
  std::vector<std::shared_ptr<Event>> events;  // the newest events, ascending
  Revision current_revision = 0;
  Revision compact_revision = 0;
  Revision window_start = 0;  // `events` holds every event after this revision
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Reads the current state and up to `window` newest events that compaction has kept.
  virtual Result<LoadedState> Load(size_t window) = 0;
  // Writes the batch in one durable transaction; on error nothing of it is kept.
  virtual Status Persist(const std::vector<Mutation>& batch) = 0;
  // Removes rows superseded by, and tombstones at, revisions in (from, to] and records `to` as
  // the compact revision, in one transaction; returns freed pages to the file system.
  virtual Status CompactRange(Revision from, Revision to) = 0;
  virtual Status CheckIntegrity() = 0;
  virtual void FillStats(StoreStats& stats) = 0;
  // One bounded transaction of Store::RewriteStored: rows under `prefix` with ids after
  // `*after_id`; advances `*after_id` and adds to `*stats`. Returns true once every row was
  // examined (and the log was checkpointed). Backends without stored values are done at once.
  virtual Result<bool> RewriteStep(std::string_view prefix, int64_t* after_id,
                                   RewriteStats* stats) {
    (void)prefix;
    (void)after_id;
    (void)stats;
    return true;
  }
  virtual void Close() = 0;
};

}  // namespace mini8s::store::detail
