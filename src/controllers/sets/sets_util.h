// Private helpers of the DaemonSet and StatefulSet controllers: resources, pod readiness and
// availability (podutil), scheduling predicates the DaemonSet controller evaluates itself (node
// selector, required node affinity, taints and tolerations), controller references, claiming
// (adoption and release, as controller_ref_manager.go), and client-go's ControllerExpectations.
//
// Thread-compatible functions; Expectations is confined to its controller's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/selector.h"
#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/co_result.h"
#include "mini8s/common/result.h"


namespace mini8s::controllers::sets {

// Function-local statics, so coroutine calls can pass them as lvalues (GCC 12 mis-handles
// temporaries with destructors inside co_await expressions).
const client::Resource& PodsResource();
const client::Resource& NodesResource();
const client::Resource& PvcsResource();
const client::Resource& DaemonSetsResource();
const client::Resource& StatefulSetsResource();

inline constexpr int32_t kDefaultRevisionHistoryLimit = 10;

// --- pods -----------------------------------------------------------------------------------

std::string_view PodPhase(const boost::json::object& pod);
bool IsPodReady(const boost::json::object& pod);
// Ready, and Ready for longer than min_ready_seconds (podutil.IsPodAvailable).
bool IsPodAvailable(const boost::json::object& pod, int64_t min_ready_seconds,
                    std::chrono::system_clock::time_point now);
bool IsPodTerminal(const boost::json::object& pod);  // Failed or Succeeded
// creationTimestamp as a time point (epoch when absent or unparsable).
std::chrono::system_clock::time_point CreationTime(const boost::json::object& obj);

// metav1.NewControllerRef(owner, apps/v1 kind).
api::OwnerReference ControllerRef(const boost::json::object& owner, std::string_view kind);
// True when `obj`'s controller reference has `uid`.
bool IsControlledBy(const boost::json::object& obj, std::string_view uid);
// A pod built from `tmpl` (a PodTemplateSpec) for `parent` (controller.GetPodFromTemplate):
// template labels, annotations, finalizers and spec; generateName `<parent>-`; the parent's
// namespace; a controller reference of kind `kind`.
boost::json::object PodFromTemplate(const boost::json::object& tmpl,
                                    const boost::json::object& parent, std::string_view kind);

// --- scheduling predicates ----------------------------------------------------------------------

bool ToleratesTaint(const boost::json::object& toleration, const boost::json::object& taint);
// True when some taint passing `filter` is tolerated by none of `tolerations`.
bool HasUntoleratedTaint(const boost::json::array* taints, const boost::json::array* tolerations,
                         const std::function<bool(const boost::json::object& taint)>& filter);
// spec.nodeSelector and spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
// against the node's labels and metadata.name (nodeaffinity.GetRequiredNodeAffinity().Match).
bool MatchesRequiredNodeAffinity(const boost::json::object& pod_spec,
                                 const boost::json::object& node);
// spec.nodeName, else the single metadata.name value of an In matchFields requirement of the
// required node affinity (util.GetTargetNodeName). kNotFound when neither is present.
Result<std::string> GetTargetNodeName(const boost::json::object& pod);

// --- claiming -----------------------------------------------------------------------------------

// From `candidates` (objects in the parent's namespace), the ones `parent` controls after
// adopting orphans that match (selector and `extra_match`) and releasing owned ones that no
// longer match (controller_ref_manager.go ClaimObject). Adoption is re-checked once against a
// fresh GET of the parent (uid unchanged, not being deleted).
boost::asio::awaitable<Result<std::vector<client::ObjectPtr>>> ClaimObjects(
    client::Client& client, client::Resource resource, client::Resource parent_resource,
    boost::json::object parent, std::string parent_kind, api::LabelSelector selector,
    std::function<bool(const boost::json::object&)> extra_match,
    std::vector<client::ObjectPtr> candidates);

// --- expectations -------------------------------------------------------------------------------

// client-go ControllerExpectations: creations and deletions a controller has issued and not yet
// seen through its informer. A key is satisfied when both counts reached zero, when it has no
// record, or when the record is older than 5 minutes (a lost watch event must not wedge a set).
class Expectations {
 public:
  explicit Expectations(const Clock& clock) : clock_(clock) {}
  void Set(const std::string& key, int adds, int dels);
  void Lower(const std::string& key, int adds, int dels);
  void CreationObserved(const std::string& key) { Lower(key, 1, 0); }
  void DeletionObserved(const std::string& key) { Lower(key, 0, 1); }
  bool Satisfied(const std::string& key) const;
  void Delete(const std::string& key) { records_.erase(key); }

 private:
  struct Record {
    int adds = 0;
    int dels = 0;
    std::chrono::steady_clock::time_point at;
  };
  const Clock& clock_;
  std::map<std::string, Record, std::less<>> records_;
};

// Per-key exponential backoff (client-go flowcontrol.Backoff): 1s doubling to 15 min, reset
// after an idle 2*max.
class Backoff {
 public:
  explicit Backoff(const Clock& clock) : clock_(clock) {}
  // The delay in force for `key` (zero when none).
  std::chrono::milliseconds Get(const std::string& key) const;
  void Next(const std::string& key);
  bool InBackoffSinceUpdate(const std::string& key) const;

 private:
  struct Entry {
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point last;
  };
  const Clock& clock_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace mini8s::controllers::sets
