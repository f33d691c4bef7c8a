// The admission plug-ins of DESIGN §3 "Security" that read other objects: NamespaceLifecycle,
// LimitRanger, PodSecurity, ResourceQuota and Priority, with upstream's behaviour and messages.
// `mini8s server` runs them in upstream's order: NamespaceLifecycle, LimitRanger,
// ServiceAccount, NodeRestriction, PodSecurity, ResourceQuota, DefaultStorageClass, Priority.
//
// Plug-ins read (and ResourceQuota writes) objects through AdmissionObjects, which the server
// backs with its store (served from memory) and tests with a MemStore.
//
// Thread-safe: every plug-in may be called from several API worker threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/server/admission.h"

namespace mini8s::store {
class Store;
}  // namespace mini8s::store

namespace mini8s::server {

// Objects as the registry stores them (group "" is core), with metadata.resourceVersion set.
class AdmissionObjects {
 public:
  virtual ~AdmissionObjects() = default;
  // Every object of group/resource in `ns` ("" for cluster-scoped resources).
  virtual std::vector<boost::json::object> List(std::string_view group, std::string_view resource,
                                                std::string_view ns) const = 0;
  virtual std::optional<boost::json::object> Get(std::string_view group, std::string_view resource,
                                                 std::string_view ns,
                                                 std::string_view name) const = 0;
  // Replaces the object if it is still at its metadata.resourceVersion (kConflict otherwise);
  // returns the new resourceVersion.
  virtual Result<std::string> Update(std::string_view group, std::string_view resource,
                                     std::string_view ns, const boost::json::object& obj) = 0;
  // kAlreadyExists when present.
  virtual Status Create(std::string_view group, std::string_view resource, std::string_view ns,
                        const boost::json::object& obj) = 0;
};

// Objects in the API server's store (/registry/<group|core>/<resource>/[<ns>/]<name>). `store`
// must outlive the result.
std::shared_ptr<AdmissionObjects> NewStoreAdmissionObjects(store::Store& store);

// `<resource>[.<group>] "<name>" is forbidden: <reason>` as kForbidden (upstream's
// admission.NewForbidden).
Status AdmissionForbidden(const AdmissionAttributes& a, std::string_view reason);

// NamespaceLifecycle: default, kube-system and kube-public may not be deleted. (Creates in a
// missing or terminating namespace are refused by the REST layer itself, before admission.)
std::shared_ptr<AdmissionPlugin> NewNamespaceLifecycle();

// LimitRanger: the LimitRanges of the namespace default container requests/limits (recorded in
// the kubernetes.io/limit-ranger annotation) and bound Container, Pod and PersistentVolumeClaim
// resources (min, max, maxLimitRequestRatio). Pod creates and PVC creates/updates only.
std::shared_ptr<AdmissionPlugin> NewLimitRanger(std::shared_ptr<AdmissionObjects> objects);

// PodSecurity: the pod-security.kubernetes.io/{enforce,warn,audit} namespace labels.
// Pods violating the enforce level are refused; warn adds a response warning; workload
// resources (pod templates) get warnings only. Audit results go to
// AdmissionAttributes::audit_annotations (pod-security.kubernetes.io/enforce-policy and
// audit-violations). Every version label reads as "latest" (the 1.32 checks).
std::shared_ptr<AdmissionPlugin> NewPodSecurity(std::shared_ptr<AdmissionObjects> objects);

enum class PodSecurityLevel { kPrivileged, kBaseline, kRestricted };
// The checks of `level` over a pod's metadata and spec: "" when allowed, else upstream's
// aggregated "reason (detail), reason (detail)".
std::string EvaluatePodSecurity(PodSecurityLevel level, const boost::json::object& metadata,
                                const boost::json::object& spec);

// ResourceQuota: creates (and service/PVC updates) are charged against every ResourceQuota of
// the namespace that covers what they use; status.used is raised in the same step (serialized
// per namespace in this process, CAS in the store), and lowered again when the write fails.
std::shared_ptr<AdmissionPlugin> NewResourceQuota(std::shared_ptr<AdmissionObjects> objects,
                                                  const Clock& clock = RealClock::Instance());

// Priority: pods get spec.priority and spec.preemptionPolicy from their PriorityClass (or the
// global default class, or 0); only one PriorityClass may be globalDefault.
std::shared_ptr<AdmissionPlugin> NewPriority(std::shared_ptr<AdmissionObjects> objects);

// Creates system-node-critical (2000001000) and system-cluster-critical (2000000000) when absent.
Status EnsureSystemPriorityClasses(AdmissionObjects& objects,
                                   const Clock& clock = RealClock::Instance());

}  // namespace mini8s::server
