// Client: the API operations every control-plane component uses (Get, List, Create, Update,
// UpdateStatus, Patch, Delete, Watch), on boost::json objects. Three implementations share this
// contract: RestClient (HTTPS to an API server), LocalClient (in-process, through the server's
// registry, admission and validation without HTTP), and FakeClient (in memory, for tests).
//
// Errors are Status values whose Code is the Kubernetes reason (kNotFound for 404, kConflict for
// 409 Conflict, kAlreadyExists, kInvalid for 422, kExpired for 410 ...) and whose message is the
// server's metav1.Status message. HttpCodeOf() maps a Code back to its HTTP status.
//
// Every method is a coroutine on the caller's executor (parameters by value, STYLE §3.5); none
// throws on I/O failures. Thread-safety is per implementation (see each class).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api {
struct KindInfo;
}  // namespace mini8s::api

namespace mini8s::client {

// Which resource a call addresses: group/version/resource plus the facts a client needs to build
// paths and objects. Cheap value; build it from a KindInfo or spell it out.
struct Resource {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string resource;  // plural: "pods"
  std::string kind;      // "Pod" (FakeClient stamps it on stored objects)
  bool namespaced = true;

  static Resource FromKind(const api::KindInfo& kind);
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "pods" or "deployments.apps": the name Kubernetes error messages use.
  std::string GroupResource() const { return group.empty() ? resource : resource + "." + group; }
  bool operator==(const Resource&) const = default;
};

struct ListOptions {
  std::string label_selector;  // "app=web,tier!=db"
  std::string field_selector;  // "spec.nodeName=n1"
  int64_t limit = 0;           // 0 = everything in one response
  std::string continue_token;  // from ObjectList::continue_token
  // List: "" = most recent (consistent read), "0" = any. Watch: start after this version
  // ("" or "0" = start with synthetic ADDED events for the current state).
  std::string resource_version;
  bool allow_bookmarks = true;             // watch only
  std::optional<int64_t> timeout_seconds;  // watch only: server-side timeout
};

struct ObjectList {
  std::vector<boost::json::object> items;
  std::string resource_version;  // the list's version: watch from here
  std::string continue_token;    // non-empty when more pages remain
};

struct WriteOptions {
  bool dry_run = false;
  std::string field_manager;
  std::string field_validation;  // "", "Ignore", "Warn", "Strict"
  // Create only: POST to a subresource of the object named by metadata.name ("binding",
  // "eviction"); "" creates the object itself.
  std::string subresource;
};

enum class PatchType : uint8_t { kJson, kMerge, kStrategicMerge, kApply };
// The Content-Type of a patch type, e.g. "application/merge-patch+json".
std::string_view PatchContentType(PatchType type);

struct PatchOptions {
  bool dry_run = false;
  std::string field_manager;  // required by the server for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  std::string subresource;    // "" or "status", "scale"
};

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;  // "", "Orphan", "Background", "Foreground"
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
};

enum class WatchEventType : uint8_t { kAdded, kModified, kDeleted, kBookmark };
std::string_view WatchEventTypeName(WatchEventType type);  // "ADDED" ...

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object after the change (for kDeleted, its last state; for kBookmark only
  // metadata.resourceVersion is meaningful).
  boost::json::object object;
};

// One open watch. Used by one coroutine at a time; Stop may be called from the same executor at
// any time (it wakes a pending Next).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The next event; nullopt when the watch ended normally (server timeout, Stop, connection
  // closed): the caller re-watches from the last resourceVersion it saw. kExpired when the start
  // version is older than the server's window (HTTP 410 or an ERROR event with code 410): relist.
  // Other ERROR events become their decoded Status.
  virtual boost::asio::awaitable<Result<std::optional<WatchEvent>>> Next() = 0;
  // Ends the watch; a pending or later Next returns nullopt. Idempotent.
  virtual void Stop() = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  // `ns` is ignored for cluster-scoped resources and must be set for namespaced ones.
  virtual boost::asio::awaitable<Result<boost::json::object>> Get(Resource resource, std::string ns,
                                                                  std::string name) = 0;
  // `ns` "" lists across all namespaces.
  virtual boost::asio::awaitable<Result<ObjectList>> List(Resource resource, std::string ns,
                                                          ListOptions options) = 0;
  // The namespace and name (or generateName) come from the object's metadata.
  virtual boost::asio::awaitable<Result<boost::json::object>> Create(Resource resource,
                                                                     boost::json::object object,
                                                                     WriteOptions options) = 0;
  // Replaces the object (optimistic concurrency on metadata.resourceVersion when set). With
  // `subresource` "status" only the status is written (UpdateStatus).
  virtual boost::asio::awaitable<Result<boost::json::object>> Update(Resource resource,
                                                                     boost::json::object object,
                                                                     std::string subresource,
                                                                     WriteOptions options) = 0;
  virtual boost::asio::awaitable<Result<boost::json::object>> Patch(
      Resource resource, std::string ns, std::string name, PatchType type, std::string patch,
      PatchOptions options) = 0;
  // Returns the object as the delete left it: gone (its final state), or still present with a
  // deletionTimestamp while finalizers remain.
  virtual boost::asio::awaitable<Result<boost::json::object>> Delete(Resource resource,
                                                                     std::string ns,
                                                                     std::string name,
                                                                     DeleteOptions options) = 0;
  // Opens a watch; `ns` "" watches all namespaces.
  virtual boost::asio::awaitable<Result<std::unique_ptr<WatchStream>>> Watch(
      Resource resource, std::string ns, ListOptions options) = 0;

  // Convenience forms.
  boost::asio::awaitable<Result<boost::json::object>> Create(Resource resource,
                                                             boost::json::object object);
  boost::asio::awaitable<Result<boost::json::object>> Update(Resource resource,
                                                             boost::json::object object);
  boost::asio::awaitable<Result<boost::json::object>> UpdateStatus(Resource resource,
                                                                   boost::json::object object);
  boost::asio::awaitable<Result<boost::json::object>> Delete(Resource resource, std::string ns,
                                                             std::string name);
};

// The HTTP status of a Code (kNotFound -> 404, kConflict -> 409, kExpired -> 410 ...).
int HttpCodeOf(Code code);
// The metav1.Status reason of a Code ("NotFound", "Conflict", "Expired", "InternalError" ...).
std::string_view ReasonOf(Code code);
// Decodes an error response: a metav1.Status body's reason and message when present, else the
// HTTP status alone. `http_status` >= 400.
Status StatusFromResponse(int http_status, std::string_view body);
// Decodes a metav1.Status object (a watch ERROR event).
Status StatusFromStatusObject(const boost::json::object& status);
// The `ns/name` (or `name` for cluster-scoped objects) key of an object, as client-go's
// MetaNamespaceKeyFunc.
std::string ObjectKey(const boost::json::object& object);
// Splits a key made by ObjectKey into namespace and name.
std::pair<std::string, std::string> SplitObjectKey(std::string_view key);

}  // namespace mini8s::client
