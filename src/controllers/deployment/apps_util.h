// Helpers the ReplicaSet and Deployment controllers share (upstream's pkg/controller util,
// podutil and ControllerRefManager), over objects held as boost::json. Private to the module.
//
// Thread-compatible free functions; the coroutines run on the controller's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/selector.h"
#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/co_result.h"
#include "mini8s/common/result.h"

namespace mini8s::controllers::apps {

using TimePoint = std::chrono::system_clock::time_point;

// spec.replicas with the API default (1) when unset.
int32_t SpecReplicas(const boost::json::object& obj);
// An int32 field, `fallback` when unset or not an integer.
int32_t GetInt32(const boost::json::object& obj, std::string_view path, int32_t fallback = 0);
// The time in an RFC 3339 field; nullopt when unset or unparsable.
std::optional<TimePoint> GetTime(const boost::json::object& obj, std::string_view path);

// --- pods (podutil) ---

// The status.conditions entry of `type`, or nullptr.
const boost::json::object* FindCondition(const boost::json::object& obj, std::string_view type);
bool IsPodReady(const boost::json::object& pod);
// lastTransitionTime of the Ready condition when the pod is ready.
std::optional<TimePoint> PodReadySince(const boost::json::object& pod);
// Ready for at least minReadySeconds (strictly: readySince + minReady < now), as
// podutil.IsPodAvailable.
bool IsPodAvailable(const boost::json::object& pod, int32_t min_ready_seconds, TimePoint now);
// Not Succeeded/Failed and not being deleted (controller.FilterActivePods).
bool IsPodActive(const boost::json::object& pod);
// The largest restartCount over the pod's containers.
int64_t MaxContainerRestarts(const boost::json::object& pod);

// --- selectors and owners ---

// spec.selector as a LabelSelector; kInvalid on a malformed one.
Result<api::LabelSelector> SpecSelector(const boost::json::object& obj);
bool SelectorIsEmptyObject(const boost::json::object& obj);
// A controller reference to `owner` (controller=true, blockOwnerDeletion=true).
api::OwnerReference ControllerRefTo(const boost::json::object& owner, std::string api_version,
                                    std::string kind);
// The controller owner reference of `obj` when it is of `kind`.
std::optional<api::OwnerReference> ControllerOfKind(const boost::json::object& obj,
                                                    std::string_view kind);

// ControllerRefManager.ClaimObjects: keeps `candidates` this owner controls that still match,
// adopts orphans that match (when the owner is not being deleted and `can_adopt` passes), and
// releases owned objects that stopped matching. Adoption and release are JSON patches guarded
// by the object's resourceVersion, so a stale cache yields an error (the key is retried) rather
// than a lost write. NotFound on adopt/release is ignored. Returns the claimed objects (adopted
// ones as the server returned them).
struct ClaimSpec {
  client::Resource resource;  // of the candidates
  const boost::json::object* owner = nullptr;
  std::string owner_api_version;
  std::string owner_kind;
  api::LabelSelector selector;
  // Called once, before the first adoption: upstream's RecheckDeletionTimestamp (a fresh read
  // of the owner). A non-OK status stops adoption and is returned.
  std::function<boost::asio::awaitable<Status>()> can_adopt;
};
boost::asio::awaitable<Result<std::vector<client::ObjectPtr>>> ClaimObjects(
    client::Client& client, ClaimSpec spec, std::vector<client::ObjectPtr> candidates);

// A can_adopt that Gets `resource` ns/name and fails if its uid differs from `uid` or it is
// being deleted (upstream's messages).
std::function<boost::asio::awaitable<Status>()> RecheckDeletionTimestamp(client::Client& client,
                                                                         client::Resource resource,
                                                                         std::string ns,
                                                                         std::string name,
                                                                         std::string uid);

// --- JSON ---

// A deterministic serialization: object keys sorted, nulls / empty objects / empty arrays
// dropped (apimachinery's Semantic.DeepEqual treats nil and empty alike).
std::string CanonicalJson(const boost::json::value& v);
// 32-bit FNV-1a.
uint32_t Fnv32a(std::string_view data, uint32_t seed = 2166136261u);

// Upstream's rand.SafeEncodeString: every character mapped into the alphabet
// "bcdfghjklmnpqrstvwxz2456789" (no vowels, no confusable digits).
std::string SafeEncodeString(std::string_view s);

}  // namespace mini8s::controllers::apps
