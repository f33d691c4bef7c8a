// Resource quota accounting (upstream's pkg/quota/v1 and its evaluators): which quota resource
// names an object of a kind contributes to and by how much, pod requests and limits, and the
// ResourceList arithmetic the ResourceQuota admission plug-in and the quota controller share.
//
// Names follow upstream: "pods", "services", "configmaps", "secrets", "persistentvolumeclaims",
// "replicationcontrollers", "resourcequotas", "services.nodeports", "services.loadbalancers",
// "count/<resource>[.<group>]", compute "cpu"/"memory"/"ephemeral-storage" (= requests),
// "requests.<r>", "limits.<r>", "requests.storage" and
// "<class>.storageclass.storage.k8s.io/{requests.storage,persistentvolumeclaims}".
//
// Free functions over caller-owned data; thread-compatible.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/quantity.h"

namespace mini8s::api::quota {

using ResourceList = std::map<std::string, Quantity, std::less<>>;

// A map of quantity strings; entries that do not parse are skipped.
ResourceList ParseResourceList(const boost::json::object* list);
boost::json::object ToJson(const ResourceList& list);
// "a=1,b=2" sorted by name (upstream's prettyPrint).
std::string PrettyPrint(const ResourceList& list);

ResourceList Add(const ResourceList& a, const ResourceList& b);
ResourceList Subtract(const ResourceList& a, const ResourceList& b);
// Only the entries of `list` whose names are in `names`.
ResourceList Mask(const ResourceList& list, const std::set<std::string, std::less<>>& names);
std::set<std::string, std::less<>> Names(const ResourceList& list);
ResourceList RemoveZeros(const ResourceList& list);
// Names in `a` whose value exceeds the value of the same name in `b` (names missing from `b`
// are not limited).
std::set<std::string, std::less<>> Exceeded(const ResourceList& a, const ResourceList& b);

// The group and plural resource whose objects contribute to quota resource `name`; nullopt for
// names nothing counts (unknown names are tracked by no evaluator, as upstream).
struct GroupResource {
  std::string group;
  std::string resource;
  bool operator==(const GroupResource&) const = default;
};
std::optional<GroupResource> SourceOf(std::string_view name);
// Whether objects of `gr` contribute to quota resource `name`.
bool Tracks(const GroupResource& gr, std::string_view name);
// "count/pods", "count/deployments.apps".
std::string CountName(const GroupResource& gr);

// What one object of `gr` uses. Pods in a terminal phase, or past their deletion deadline at
// `now_unix`, use nothing (they no longer count against quota).
ResourceList Usage(const GroupResource& gr, const boost::json::object& obj, int64_t now_unix);

// The usage of every object in a namespace for the quota resources `names` (a full recount):
// `list` returns the namespace's objects of a group/resource; with `scoped_by`, only objects in
// that quota's scopes count.
ResourceList ComputeUsage(
    const std::set<std::string, std::less<>>& names,
    const std::function<std::vector<boost::json::object>(const GroupResource&)>& list,
    int64_t now_unix, const boost::json::object* scoped_by = nullptr);

// Whether an object of `gr` falls under `quota`'s spec.scopes and spec.scopeSelector (upstream:
// scopes select pods only: Terminating, NotTerminating, BestEffort, NotBestEffort and
// PriorityClass with In/NotIn/Exists/DoesNotExist). A quota without scopes covers everything.
bool InScope(const boost::json::object& quota, const GroupResource& gr,
             const boost::json::object& obj);

// The pod's effective requests and limits (upstream's PodRequests/PodLimits: the sum over
// containers and restartable init containers, at least the largest init container).
ResourceList PodRequests(const boost::json::object& pod);
ResourceList PodLimits(const boost::json::object& pod);

// A pod must state every compute resource a quota covers (upstream's pod evaluator
// Constraints): "" when it does, else "must specify limits.cpu for: c; requests.memory for: c".
std::string PodConstraints(const boost::json::object& pod,
                           const std::set<std::string, std::less<>>& required);

}  // namespace mini8s::api::quota
