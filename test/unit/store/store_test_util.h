// Helpers shared by the store tests: factories that let one semantic suite run against both
// MemStore and SqliteStore, and watcher helpers.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/store/mem_store.h"
#include "mini8s/store/sqlite_store.h"
#include "mini8s/store/store.h"
#include "testutil/temp_dir.h"

namespace mini8s::store::testing {

// Options for deterministic tests: no background thread work besides committing writes.
inline StoreOptions QuietOptions() {
  StoreOptions o;
  o.background_maintenance = false;
  return o;
}

struct MemFactory {
  static constexpr bool kPersistent = false;
  std::unique_ptr<Store> Open(const StoreOptions& options, const Clock& clock) {
    return MemStore::Create(options, clock);
  }
};

// A temporary directory on tmpfs when there is one: the semantic tests make thousands of
// durable commits and an fsync on this machine's disk costs ~5 ms. The crash test uses the disk.
class FastTempDir {
 public:
  FastTempDir() {
    std::string tmpl = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/mini8s-store-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~FastTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  FastTempDir(const FastTempDir&) = delete;
  FastTempDir& operator=(const FastTempDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct SqliteFactory {
  static constexpr bool kPersistent = true;
  FastTempDir dir;
  std::string path() const { return dir.File("state.db"); }
  std::unique_ptr<Store> Open(const StoreOptions& options, const Clock& clock) {
    auto r = SqliteStore::Open(path(), options, clock);
    INFO(r.status().ToString());
    REQUIRE(r.has_value());
    return std::move(r).value();
  }
};

// Collects `n` events from `w`, failing the test if they do not arrive within a few seconds.
inline std::vector<EventPtr> TakeEvents(Watcher& w, size_t n) {
  std::vector<EventPtr> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto r = w.Next(std::chrono::milliseconds(100));
    INFO(r.status().ToString());
    REQUIRE(r.has_value());
    if (*r) out.push_back(*r);
  }
  REQUIRE(out.size() == n);
  return out;
}

// Returns once the writer thread has finished everything queued before the call, including
// fanning committed events out to watchers (acknowledgement comes before fan-out).
inline void Barrier(Store& store) { (void)store.ExpireDueKeys(); }

inline std::string Val(const KeyValue& kv) { return *kv.value; }

}  // namespace mini8s::store::testing
