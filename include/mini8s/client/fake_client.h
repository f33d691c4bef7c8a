// FakeClient: an in-memory Client that behaves like an API server for controller tests
// (leveldb's MemEnv idea): real, increasing resourceVersions, uid/creationTimestamp/generation,
// 409 on stale updates and on existing names, generateName, finalizers (a delete of an object with
// finalizers sets deletionTimestamp; removing the last finalizer deletes it), status written only
// through the status subresource, label and field selectors, limit/continue, and watches that
// replay from a resourceVersion within a bounded event window (older: kExpired, as a 410).
// Watch events follow the apiserver's selector semantics: an object that stops matching is
// delivered as DELETED, one that starts matching as ADDED.
//
// Patches: JSON patch and merge patch exactly; strategic merge and apply patches are applied as
// merge patches (the fake has no schemas).
//
// Concurrency: single executor. Every method, and every WatchStream it returns, must be used on
// the executor given to the constructor (one io_context thread). Watch streams may outlive the
// FakeClient; they then end normally.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "mini8s/client/client.h"
#include "mini8s/common/clock.h"

namespace mini8s::client {

struct FakeClientOptions {
  // Events kept for watches that start from an older resourceVersion.
  std::size_t watch_window = 1000;
  // Stamps creationTimestamp and deletionTimestamp; must outlive the client.
  const Clock* clock = &RealClock::Instance();
};

class FakeClient final : public Client {
 public:
  explicit FakeClient(boost::asio::any_io_executor executor, FakeClientOptions options = {});
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  using Client::Create;
  using Client::Delete;
  using Client::Update;

  boost::asio::awaitable<Result<boost::json::object>> Get(Resource resource, std::string ns,
                                                          std::string name) override;
  boost::asio::awaitable<Result<ObjectList>> List(Resource resource, std::string ns,
                                                  ListOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Create(Resource resource,
                                                             boost::json::object object,
                                                             WriteOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Update(Resource resource,
                                                             boost::json::object object,
                                                             std::string subresource,
                                                             WriteOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Patch(Resource resource, std::string ns,
                                                            std::string name, PatchType type,
                                                            std::string patch,
                                                            PatchOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Delete(Resource resource, std::string ns,
                                                             std::string name,
                                                             DeleteOptions options) override;
  boost::asio::awaitable<Result<std::unique_ptr<WatchStream>>> Watch(Resource resource,
                                                                     std::string ns,
                                                                     ListOptions options) override;

  // ---- Test controls (synchronous; same executor) ----

  // The current (latest) resourceVersion.
  int64_t resource_version() const;
  // Drops the watch window: a watch from any version older than the current one gets kExpired.
  void CompactWatchWindow();
  // Ends every open watch with kExpired, as a server whose window moved past the watcher.
  void ExpireWatches();
  // Ends every open watch normally (Next returns nullopt), as a server-side watch timeout.
  void CloseWatches();
  std::size_t open_watches() const;
  // The next call of `verb` ("get", "list", "create", "update", "patch", "delete", "watch")
  // fails with `status` (queued: several calls fail in order).
  void FailNext(std::string verb, Status status);
  // Every call made, as "<verb> <resource>[/<subresource>] <ns>/<name>" ("list pods ns/").
  const std::vector<std::string>& actions() const;
  void ClearActions();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mini8s::client
