// SqliteStore: the Store on a SQLite database in the kine schema (docs/design/store.md).
//
// One writer thread owns the write connection and commits concurrent writes together (group
// commit: one transaction and one fsync per batch). The database runs in WAL mode with
// synchronous=FULL, so an acknowledged write survives kill -9 and power loss. The current state
// and the watch window are kept in memory and rebuilt from the database at open. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/store/store.h"

namespace mini8s::store {

class SqliteStore {
 public:
  // Opens or creates the database at `path` (its directory must exist). Takes an exclusive lock
  // on "<path>.lock" for the store's lifetime. Errors name the path:
  //   kUnavailable  another process (or store) holds the lock,
  //   kForbidden / kNotFound / kInternal  the directory or file cannot be created or written,
  //   kInternal     the file is not a database or fails `PRAGMA quick_check` (it is left as is).
  // `clock` decides TTL expiry and must outlive the store.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options = {},
                                             const Clock& clock = RealClock::Instance());
};

}  // namespace mini8s::store
