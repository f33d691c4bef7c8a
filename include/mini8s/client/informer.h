// Informer and Indexer: client-go's reflector + shared informer + indexer (tools/cache) with Asio
// mechanics. An Informer lists a resource, then watches from the list's resourceVersion, keeping
// a cache of immutable objects (shared_ptr<const boost::json::object>, never mutated: copy, change
// and send an Update) and calling OnAdd/OnUpdate/OnDelete handlers in event order. A watch that
// ends normally is resumed from the last resourceVersion seen; kExpired (410) relists, and the
// relist is diffed against the cache: new objects are adds, changed ones updates, and objects that
// vanished during the gap are deletes flagged final_state_unknown (DeletedFinalStateUnknown).
// Every resync period, every cached object is re-delivered as OnUpdate(obj, obj).
//
// Concurrency: an Informer lives on one executor (a strand or a single-threaded io_context): Run,
// Stop, Resync, the handlers and all reads of the cache happen there. The Informer must outlive
// the completion of Run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/client.h"
#include "mini8s/common/clock.h"

namespace mini8s::client {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// An index function maps an object to the index values it is filed under.
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object&)>;

inline constexpr std::string_view kNamespaceIndex = "namespace";
inline constexpr std::string_view kOwnerIndex = "owner";
inline constexpr std::string_view kNodeIndex = "node";
// Objects without a controller ownerReference, by namespace: the orphans a controller may adopt,
// so that a sync looks at its own objects (kOwnerIndex) plus these instead of every object in
// the namespace.
inline constexpr std::string_view kOrphanIndex = "orphan";

// metadata.namespace (client-go MetaNamespaceIndexFunc).
std::vector<std::string> IndexByNamespace(const boost::json::object& obj);
// The uid of every ownerReference.
std::vector<std::string> IndexByOwnerUid(const boost::json::object& obj);
// spec.nodeName when set (pods bound to a node).
std::vector<std::string> IndexByNodeName(const boost::json::object& obj);
// metadata.namespace when no ownerReference has controller=true.
std::vector<std::string> IndexOrphansByNamespace(const boost::json::object& obj);

// A keyed cache of immutable objects with secondary indexes (client-go threadSafeStore without
// the lock: it is confined to its owner's executor).
class Indexer {
 public:
  // Adds an index; existing objects are indexed at once. Replaces an index of the same name.
  void AddIndex(std::string name, IndexFunc func);
  // Inserts or replaces the object at `key`.
  void Upsert(const std::string& key, ObjectPtr obj);
  // Removes `key`; returns the object that was there.
  ObjectPtr Remove(const std::string& key);
  ObjectPtr Get(std::string_view key) const;
  ObjectPtr Get(std::string_view ns, std::string_view name) const;
  std::vector<ObjectPtr> List() const;
  std::vector<std::string> Keys() const;
  std::size_t size() const { return items_.size(); }
  // Objects filed under `value` in index `index` (empty for an unknown index).
  std::vector<ObjectPtr> ByIndex(std::string_view index, std::string_view value) const;
  std::vector<std::string> IndexKeys(std::string_view index, std::string_view value) const;

 private:
  struct Index {
    IndexFunc func;
    // value -> (key -> object): ByIndex needs no second lookup by key.
    std::map<std::string, std::map<std::string, ObjectPtr, std::less<>>, std::less<>> values;
  };
  void Unindex(const std::string& key, const boost::json::object& obj);
  void IndexOne(const std::string& key, const ObjectPtr& obj);

  std::map<std::string, ObjectPtr, std::less<>> items_;
  std::map<std::string, Index, std::less<>> indexes_;
};

struct DeletedObject {
  std::string key;
  ObjectPtr object;  // the last state the informer knew
  // True when the delete was inferred from a relist, so `object` may be stale
  // (client-go's DeletedFinalStateUnknown).
  bool final_state_unknown = false;
};

struct EventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const DeletedObject& deleted)> on_delete;
};

struct InformerOptions {
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;  // list in pages of this many objects; 0 = one page
  // Re-deliver every cached object as an update this often; zero = never.
  std::chrono::milliseconds resync_period{0};
  // Delay before retrying after a failed list or watch (doubles up to max_backoff).
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30'000};
  // Cache objects without metadata.managedFields (upstream's TrimManagedFields transform, used
  // by kube-controller-manager and kube-scheduler): a large share of each object that
  // controllers never read. Updates built from cached objects keep the server's copy.
  bool drop_managed_fields = false;
};

class Informer {
 public:
  // `client` must outlive the informer.
  Informer(Client& client, Resource resource, InformerOptions options = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after the first sync receive the current objects as adds (client-go).
  void AddEventHandlers(EventHandlers handlers);
  void AddIndex(std::string name, IndexFunc func) { indexer_.AddIndex(std::move(name), func); }

  // List-then-watch until Stop. Co_spawn it on the informer's executor.
  boost::asio::awaitable<void> Run();
  // Ends Run (it completes soon after, on the executor). Idempotent.
  void Stop();
  // True once the first list has been delivered to the handlers.
  bool HasSynced() const { return synced_; }
  // Re-delivers every cached object as OnUpdate(obj, obj). Run calls it every resync_period.
  void Resync();

  const Indexer& indexer() const { return indexer_; }
  const Resource& resource() const { return resource_; }
  // The resourceVersion of the last list or event applied.
  const std::string& last_resource_version() const { return last_rv_; }
  // How many times the informer listed (1 + relists).
  int list_count() const { return list_count_; }

 private:
  boost::asio::awaitable<Status> ListAndReplace();
  // Watches until the stream ends (OK: resume), expires (kExpired: relist) or fails.
  boost::asio::awaitable<Status> WatchOnce();
  boost::asio::awaitable<void> ResyncLoop();
  boost::asio::awaitable<void> Backoff();
  void Apply(const WatchEvent& ev);

  Client& client_;
  Resource resource_;
  InformerOptions options_;
  Indexer indexer_;
  std::vector<EventHandlers> handlers_;
  std::string last_rv_;
  bool synced_ = false;
  bool stopped_ = false;
  int list_count_ = 0;
  std::chrono::milliseconds backoff_{0};
  struct Waker;
  std::shared_ptr<Waker> waker_;  // timers and the open watch, so Stop can interrupt them
};

}  // namespace mini8s::client
