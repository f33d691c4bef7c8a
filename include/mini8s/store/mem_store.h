// MemStore: the Store semantics entirely in memory, for tests of the API server and controllers
// (leveldb's MemEnv). It shares the state, watch window, watcher and writer-thread code with
// SqliteStore; only persistence is absent. Thread-safe.
#pragma once

#include <memory>

#include "mini8s/common/clock.h"
#include "mini8s/store/store.h"

namespace mini8s::store {

class MemStore {
 public:
  // `clock` decides TTL expiry and must outlive the store.
  static std::unique_ptr<Store> Create(const StoreOptions& options = {},
                                       const Clock& clock = RealClock::Instance());
};

}  // namespace mini8s::store
