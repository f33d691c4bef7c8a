// Hand-written per-kind facts (see kinds.h). Column names, types and priorities follow upstream's
// printers (kubernetes pkg/printers/internalversion, v1.32); the printer names are mini8s's own
// and name the cell functions the API server implements. Upstream's descriptions are not used.
#include "api/core/kinds.h"

#include <span>
#include <string_view>

namespace mini8s::api::detail {
namespace {

struct Col {
  std::string_view name;
  std::string_view type;  // string | integer | number | boolean | date
  int priority;           // 1 = -o wide only
  std::string_view printer;
  std::string_view json_path = {};  // set where the cell is a plain field
};

// Shared cells.
constexpr Col kName{"Name", "string", 0, "name", ".metadata.name"};
constexpr Col kAge{"Age", "string", 0, "age", ".metadata.creationTimestamp"};
constexpr Col kCreatedAt{"Created At", "date", 0, "created_at", ".metadata.creationTimestamp"};
constexpr Col kContainers{"Containers", "string", 1, "template.containers"};
constexpr Col kImages{"Images", "string", 1, "template.images"};
constexpr Col kSelector{"Selector", "string", 1, "selector", ".spec.selector"};

constexpr Col kPodCols[] = {
    kName,
    {"Ready", "string", 0, "pod.ready"},
    {"Status", "string", 0, "pod.status"},
    {"Restarts", "string", 0, "pod.restarts"},
    kAge,
    {"IP", "string", 1, "pod.ip", ".status.podIP"},
    {"Node", "string", 1, "pod.node", ".spec.nodeName"},
    {"Nominated Node", "string", 1, "pod.nominated_node", ".status.nominatedNodeName"},
    {"Readiness Gates", "string", 1, "pod.readiness_gates"},
};
constexpr Col kServiceCols[] = {
    kName,
    {"Type", "string", 0, "service.type", ".spec.type"},
    {"Cluster-IP", "string", 0, "service.cluster_ip", ".spec.clusterIP"},
    {"External-IP", "string", 0, "service.external_ip"},
    {"Port(s)", "string", 0, "service.ports"},
    kAge,
    {"Selector", "string", 1, "service.selector", ".spec.selector"},
};
constexpr Col kEndpointsCols[] = {kName, {"Endpoints", "string", 0, "endpoints.endpoints"}, kAge};
constexpr Col kConfigMapCols[] = {kName, {"Data", "string", 0, "configmap.data"}, kAge};
constexpr Col kSecretCols[] = {kName,
                               {"Type", "string", 0, "secret.type", ".type"},
                               {"Data", "string", 0, "secret.data"},
                               kAge};
constexpr Col kServiceAccountCols[] = {
    kName, {"Secrets", "string", 0, "serviceaccount.secrets"}, kAge};
constexpr Col kNamespaceCols[] = {
    kName, {"Status", "string", 0, "namespace.status", ".status.phase"}, kAge};
constexpr Col kNodeCols[] = {
    kName,
    {"Status", "string", 0, "node.status"},
    {"Roles", "string", 0, "node.roles"},
    kAge,
    {"Version", "string", 0, "node.version", ".status.nodeInfo.kubeletVersion"},
    {"Internal-IP", "string", 1, "node.internal_ip"},
    {"External-IP", "string", 1, "node.external_ip"},
    {"OS-Image", "string", 1, "node.os_image", ".status.nodeInfo.osImage"},
    {"Kernel-Version", "string", 1, "node.kernel_version", ".status.nodeInfo.kernelVersion"},
    {"Container-Runtime", "string", 1, "node.container_runtime",
     ".status.nodeInfo.containerRuntimeVersion"},
};
// core/v1 and events.k8s.io/v1 Events share upstream's printer.
constexpr Col kEventCols[] = {
    {"Last Seen", "string", 0, "event.last_seen"},
    {"Type", "string", 0, "event.type", ".type"},
    {"Reason", "string", 0, "event.reason", ".reason"},
    {"Object", "string", 0, "event.object"},
    {"Subobject", "string", 1, "event.subobject"},
    {"Source", "string", 1, "event.source"},
    {"Message", "string", 0, "event.message"},
    {"First Seen", "string", 1, "event.first_seen"},
    {"Count", "string", 1, "event.count"},
    {"Name", "string", 1, "name", ".metadata.name"},
};
constexpr Col kPersistentVolumeCols[] = {
    kName,
    {"Capacity", "string", 0, "pv.capacity"},
    {"Access Modes", "string", 0, "pv.access_modes"},
    {"Reclaim Policy", "string", 0, "pv.reclaim_policy", ".spec.persistentVolumeReclaimPolicy"},
    {"Status", "string", 0, "pv.status", ".status.phase"},
    {"Claim", "string", 0, "pv.claim"},
    {"StorageClass", "string", 0, "pv.storage_class"},
    {"VolumeAttributesClass", "string", 0, "pv.volume_attributes_class"},
    {"Reason", "string", 0, "pv.reason", ".status.reason"},
    kAge,
    {"VolumeMode", "string", 1, "pv.volume_mode", ".spec.volumeMode"},
};
constexpr Col kPersistentVolumeClaimCols[] = {
    kName,
    {"Status", "string", 0, "pvc.status"},
    {"Volume", "string", 0, "pvc.volume", ".spec.volumeName"},
    {"Capacity", "string", 0, "pvc.capacity"},
    {"Access Modes", "string", 0, "pvc.access_modes"},
    {"StorageClass", "string", 0, "pvc.storage_class"},
    {"VolumeAttributesClass", "string", 0, "pvc.volume_attributes_class"},
    kAge,
    {"VolumeMode", "string", 1, "pvc.volume_mode", ".spec.volumeMode"},
};
constexpr Col kResourceQuotaCols[] = {
    kName, kAge, {"Request", "string", 0, "quota.request"}, {"Limit", "string", 0, "quota.limit"}};
constexpr Col kCreatedAtCols[] = {kName, kCreatedAt};  // upstream's default table
constexpr Col kDeploymentCols[] = {
    kName,
    {"Ready", "string", 0, "deployment.ready"},
    {"Up-to-date", "string", 0, "deployment.up_to_date", ".status.updatedReplicas"},
    {"Available", "string", 0, "deployment.available", ".status.availableReplicas"},
    kAge,
    kContainers,
    kImages,
    kSelector,
};
constexpr Col kReplicaSetCols[] = {
    kName,
    {"Desired", "integer", 0, "replicaset.desired", ".spec.replicas"},
    {"Current", "integer", 0, "replicaset.current", ".status.replicas"},
    {"Ready", "integer", 0, "replicaset.ready", ".status.readyReplicas"},
    kAge,
    kContainers,
    kImages,
    kSelector,
};
constexpr Col kDaemonSetCols[] = {
    kName,
    {"Desired", "integer", 0, "daemonset.desired", ".status.desiredNumberScheduled"},
    {"Current", "integer", 0, "daemonset.current", ".status.currentNumberScheduled"},
    {"Ready", "integer", 0, "daemonset.ready", ".status.numberReady"},
    {"Up-to-date", "integer", 0, "daemonset.up_to_date", ".status.updatedNumberScheduled"},
    {"Available", "integer", 0, "daemonset.available", ".status.numberAvailable"},
    {"Node Selector", "string", 0, "daemonset.node_selector"},
    kAge,
    kContainers,
    kImages,
    kSelector,
};
constexpr Col kStatefulSetCols[] = {
    kName, {"Ready", "string", 0, "statefulset.ready"}, kAge, kContainers, kImages};
constexpr Col kControllerRevisionCols[] = {
    kName,
    {"Controller", "string", 0, "controllerrevision.controller"},
    {"Revision", "string", 0, "controllerrevision.revision", ".revision"},
    kAge,
};
constexpr Col kJobCols[] = {
    kName,
    {"Status", "string", 0, "job.status"},
    {"Completions", "string", 0, "job.completions"},
    {"Duration", "string", 0, "job.duration"},
    kAge,
    kContainers,
    kImages,
    kSelector,
};
// CronJob's containers, images and selector come from spec.jobTemplate.spec.
constexpr Col kCronJobCols[] = {
    kName,
    {"Schedule", "string", 0, "cronjob.schedule", ".spec.schedule"},
    {"Timezone", "string", 0, "cronjob.timezone", ".spec.timeZone"},
    {"Suspend", "boolean", 0, "cronjob.suspend", ".spec.suspend"},
    {"Active", "integer", 0, "cronjob.active"},
    {"Last Schedule", "string", 0, "cronjob.last_schedule"},
    kAge,
    {"Containers", "string", 1, "cronjob.containers"},
    {"Images", "string", 1, "cronjob.images"},
    {"Selector", "string", 1, "cronjob.selector", ".spec.jobTemplate.spec.selector"},
};
constexpr Col kHpaCols[] = {
    kName,
    {"Reference", "string", 0, "hpa.reference"},
    {"Targets", "string", 0, "hpa.targets"},
    {"MinPods", "string", 0, "hpa.min_pods", ".spec.minReplicas"},
    {"MaxPods", "string", 0, "hpa.max_pods", ".spec.maxReplicas"},
    {"Replicas", "string", 0, "hpa.replicas", ".status.currentReplicas"},
    kAge,
};
constexpr Col kIngressCols[] = {
    kName,
    {"Class", "string", 0, "ingress.class"},
    {"Hosts", "string", 0, "ingress.hosts"},
    {"Address", "string", 0, "ingress.address"},
    {"Ports", "string", 0, "ingress.ports"},
    kAge,
};
constexpr Col kIngressClassCols[] = {
    kName,
    {"Controller", "string", 0, "ingressclass.controller", ".spec.controller"},
    {"Parameters", "string", 0, "ingressclass.parameters"},
    kAge,
};
constexpr Col kNetworkPolicyCols[] = {
    kName, {"Pod-Selector", "string", 0, "networkpolicy.pod_selector"}, kAge};
constexpr Col kRoleBindingCols[] = {
    kName,
    {"Role", "string", 0, "rolebinding.role"},
    kAge,
    {"Users", "string", 1, "rolebinding.users"},
    {"Groups", "string", 1, "rolebinding.groups"},
    {"ServiceAccounts", "string", 1, "rolebinding.service_accounts"},
};
constexpr Col kLeaseCols[] = {
    kName, {"Holder", "string", 0, "lease.holder", ".spec.holderIdentity"}, kAge};
constexpr Col kEndpointSliceCols[] = {
    kName,
    {"AddressType", "string", 0, "endpointslice.address_type", ".addressType"},
    {"Ports", "string", 0, "endpointslice.ports"},
    {"Endpoints", "string", 0, "endpointslice.endpoints"},
    kAge,
};
constexpr Col kStorageClassCols[] = {
    // Upstream prints the default class as "standard (default)".
    {"Name", "string", 0, "storageclass.name", ".metadata.name"},
    {"Provisioner", "string", 0, "storageclass.provisioner", ".provisioner"},
    {"ReclaimPolicy", "string", 0, "storageclass.reclaim_policy", ".reclaimPolicy"},
    {"VolumeBindingMode", "string", 0, "storageclass.volume_binding_mode", ".volumeBindingMode"},
    {"AllowVolumeExpansion", "string", 0, "storageclass.allow_volume_expansion",
     ".allowVolumeExpansion"},
    kAge,
};
constexpr Col kPdbCols[] = {
    kName,
    {"Min Available", "string", 0, "pdb.min_available", ".spec.minAvailable"},
    {"Max Unavailable", "string", 0, "pdb.max_unavailable", ".spec.maxUnavailable"},
    {"Allowed Disruptions", "integer", 0, "pdb.allowed_disruptions", ".status.disruptionsAllowed"},
    kAge,
};
constexpr Col kPriorityClassCols[] = {
    kName,
    {"Value", "integer", 0, "priorityclass.value", ".value"},
    {"Global-Default", "boolean", 0, "priorityclass.global_default", ".globalDefault"},
    kAge,
    {"PreemptionPolicy", "string", 0, "priorityclass.preemption_policy", ".preemptionPolicy"},
};

constexpr std::string_view kPodFields[] = {"spec.nodeName",
                                           "spec.restartPolicy",
                                           "spec.schedulerName",
                                           "spec.serviceAccountName",
                                           "spec.hostNetwork",
                                           "status.phase",
                                           "status.podIP",
                                           "status.podIPs",
                                           "status.nominatedNodeName"};
constexpr std::string_view kNodeFields[] = {"spec.unschedulable"};
constexpr std::string_view kEventFields[] = {"involvedObject.kind",
                                             "involvedObject.namespace",
                                             "involvedObject.name",
                                             "involvedObject.uid",
                                             "involvedObject.apiVersion",
                                             "involvedObject.resourceVersion",
                                             "involvedObject.fieldPath",
                                             "reason",
                                             "reportingComponent",
                                             "source",
                                             "type"};
constexpr std::string_view kEventsV1Fields[] = {"regarding.kind",       "regarding.namespace",
                                                "regarding.name",       "regarding.uid",
                                                "regarding.apiVersion", "regarding.resourceVersion",
                                                "regarding.fieldPath",  "reason",
                                                "reportingController",  "type"};
constexpr std::string_view kServiceFields[] = {"spec.clusterIP", "spec.type"};
constexpr std::string_view kSecretFields[] = {"type"};
constexpr std::string_view kNamespaceFields[] = {"status.phase"};
constexpr std::string_view kReplicaSetFields[] = {"status.replicas"};
constexpr std::string_view kJobFields[] = {"status.successful"};

constexpr std::string_view kNone[] = {""};
constexpr std::string_view kAll[] = {"all"};
constexpr std::string_view kApiExtensions[] = {"api-extensions"};

struct Facts {
  std::string_view group;
  std::string_view kind;
  std::span<const std::string_view> short_names;
  std::span<const std::string_view> categories;
  std::span<const Col> columns;
  std::span<const std::string_view> selectable_fields = {};
  bool scalable = false;  // spec.replicas / status.replicas / spec.selector
};

template <size_t N>
constexpr std::span<const std::string_view> Names(const std::string_view (&a)[N]) {
  return a[0].empty() ? std::span<const std::string_view>() : std::span<const std::string_view>(a);
}

constexpr std::string_view kPo[] = {"po"}, kSvc[] = {"svc"}, kEp[] = {"ep"}, kCm[] = {"cm"},
                           kSa[] = {"sa"}, kNo[] = {"no"}, kEv[] = {"ev"}, kPv[] = {"pv"},
                           kPvc[] = {"pvc"}, kQuota[] = {"quota"}, kLimits[] = {"limits"},
                           kNs[] = {"ns"}, kDeploy[] = {"deploy"}, kRs[] = {"rs"}, kDs[] = {"ds"},
                           kSts[] = {"sts"}, kCj[] = {"cj"}, kHpa[] = {"hpa"}, kIng[] = {"ing"},
                           kNetpol[] = {"netpol"}, kSc[] = {"sc"}, kPdb[] = {"pdb"}, kPc[] = {"pc"},
                           kCrd[] = {"crd", "crds"};

constexpr Facts kFacts[] = {
    {"", "Namespace", Names(kNs), Names(kNone), kNamespaceCols, kNamespaceFields},
    {"", "Pod", Names(kPo), Names(kAll), kPodCols, kPodFields},
    {"", "Service", Names(kSvc), Names(kAll), kServiceCols, kServiceFields},
    {"", "Endpoints", Names(kEp), Names(kNone), kEndpointsCols},
    {"", "ConfigMap", Names(kCm), Names(kNone), kConfigMapCols},
    {"", "Secret", Names(kNone), Names(kNone), kSecretCols, kSecretFields},
    {"", "ServiceAccount", Names(kSa), Names(kNone), kServiceAccountCols},
    {"", "Node", Names(kNo), Names(kNone), kNodeCols, kNodeFields},
    {"", "Event", Names(kEv), Names(kNone), kEventCols, kEventFields},
    {"", "PersistentVolume", Names(kPv), Names(kNone), kPersistentVolumeCols},
    {"", "PersistentVolumeClaim", Names(kPvc), Names(kNone), kPersistentVolumeClaimCols},
    {"", "ResourceQuota", Names(kQuota), Names(kNone), kResourceQuotaCols},
    {"", "LimitRange", Names(kLimits), Names(kNone), kCreatedAtCols},
    {"apps", "Deployment", Names(kDeploy), Names(kAll), kDeploymentCols, {}, true},
    {"apps", "ReplicaSet", Names(kRs), Names(kAll), kReplicaSetCols, kReplicaSetFields, true},
    {"apps", "DaemonSet", Names(kDs), Names(kAll), kDaemonSetCols},
    {"apps", "StatefulSet", Names(kSts), Names(kAll), kStatefulSetCols, {}, true},
    {"apps", "ControllerRevision", Names(kNone), Names(kNone), kControllerRevisionCols},
    {"batch", "Job", Names(kNone), Names(kAll), kJobCols, kJobFields},
    {"batch", "CronJob", Names(kCj), Names(kAll), kCronJobCols},
    {"autoscaling", "HorizontalPodAutoscaler", Names(kHpa), Names(kAll), kHpaCols},
    {"networking.k8s.io", "Ingress", Names(kIng), Names(kNone), kIngressCols},
    {"networking.k8s.io", "IngressClass", Names(kNone), Names(kNone), kIngressClassCols},
    {"networking.k8s.io", "NetworkPolicy", Names(kNetpol), Names(kNone), kNetworkPolicyCols},
    {"rbac.authorization.k8s.io", "Role", Names(kNone), Names(kNone), kCreatedAtCols},
    {"rbac.authorization.k8s.io", "ClusterRole", Names(kNone), Names(kNone), kCreatedAtCols},
    {"rbac.authorization.k8s.io", "RoleBinding", Names(kNone), Names(kNone), kRoleBindingCols},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", Names(kNone), Names(kNone),
     kRoleBindingCols},
    {"coordination.k8s.io", "Lease", Names(kNone), Names(kNone), kLeaseCols},
    {"discovery.k8s.io", "EndpointSlice", Names(kNone), Names(kNone), kEndpointSliceCols},
    {"events.k8s.io", "Event", Names(kEv), Names(kNone), kEventCols, kEventsV1Fields},
    {"storage.k8s.io", "StorageClass", Names(kSc), Names(kNone), kStorageClassCols},
    {"policy", "PodDisruptionBudget", Names(kPdb), Names(kNone), kPdbCols},
    {"scheduling.k8s.io", "PriorityClass", Names(kPc), Names(kNone), kPriorityClassCols},
    {"apiextensions.k8s.io", "CustomResourceDefinition", Names(kCrd), Names(kApiExtensions),
     kCreatedAtCols},
};

TableColumn ToColumn(const Col& c) {
  TableColumn col;
  col.name = c.name;
  col.type = c.type;
  col.format = std::string_view(c.json_path) == ".metadata.name" ? "name" : "";
  col.priority = c.priority;
  col.printer = c.printer;
  col.json_path = c.json_path;
  return col;
}

}  // namespace

std::vector<TableColumn> DefaultColumns() { return {ToColumn(kName), ToColumn(kCreatedAt)}; }

void ApplyBuiltinKindFacts(KindInfo& info) {
  for (const Facts& f : kFacts) {
    if (f.group != info.group || f.kind != info.kind) continue;
    info.short_names.assign(f.short_names.begin(), f.short_names.end());
    info.categories.assign(f.categories.begin(), f.categories.end());
    info.selectable_fields.assign(f.selectable_fields.begin(), f.selectable_fields.end());
    info.columns.clear();
    for (const Col& c : f.columns) info.columns.push_back(ToColumn(c));
    if (f.scalable) {
      // The built-in Scale reads spec.replicas and status.replicas and renders the label selector
      // from spec.selector (status.selector of the Scale is its string form).
      info.scale_spec_replicas_path = ".spec.replicas";
      info.scale_status_replicas_path = ".status.replicas";
      info.scale_label_selector_path = ".spec.selector";
    }
    return;
  }
  if (!info.subresource_only && info.columns.empty()) info.columns = DefaultColumns();
}

}  // namespace mini8s::api::detail
