// The per-kind rule table and the ValidateCreate/ValidateUpdate entry points.
#include "api/validation/kinds.h"

#include <algorithm>
#include <array>

#include "api/validation/json_util.h"

namespace mini8s::api {

namespace vdetail {

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void CheckEnum(ErrorList& errs, const JsonV* v, const FieldPath& path,
               const std::vector<std::string>& supported, bool required) {
  std::string_view s = Str(v);
  if (s.empty()) {
    if (required) errs.push_back(Required(path));
    return;
  }
  if (!Contains(supported, s)) errs.push_back(NotSupported(path, BadValue::Str(s), supported));
}

std::span<const std::string_view> VolumeSourceFields() {
  static constexpr std::string_view kFields[] = {"hostPath",
                                                 "emptyDir",
                                                 "gcePersistentDisk",
                                                 "awsElasticBlockStore",
                                                 "gitRepo",
                                                 "secret",
                                                 "nfs",
                                                 "iscsi",
                                                 "glusterfs",
                                                 "persistentVolumeClaim",
                                                 "rbd",
                                                 "flexVolume",
                                                 "cinder",
                                                 "cephfs",
                                                 "flocker",
                                                 "downwardAPI",
                                                 "fc",
                                                 "azureFile",
                                                 "configMap",
                                                 "vsphereVolume",
                                                 "quobyte",
                                                 "azureDisk",
                                                 "photonPersistentDisk",
                                                 "projected",
                                                 "portworxVolume",
                                                 "scaleIO",
                                                 "storageos",
                                                 "csi",
                                                 "ephemeral",
                                                 "image"};
  return kFields;
}

const KindRules* FindKindRules(std::string_view group, std::string_view kind) {
  static const std::array<KindRules, 27> kTable = {{
      {"", "Pod", NameIsDNSSubdomain, ValidatePod},
      {"", "Service", NameIsDNS1035Label, ValidateService},
      {"", "ConfigMap", NameIsDNSSubdomain, ValidateConfigMap},
      {"", "Secret", NameIsDNSSubdomain, ValidateSecret},
      {"", "Namespace", NameIsDNSLabel, ValidateNamespace},
      {"", "Node", NameIsDNSSubdomain, ValidateNode},
      {"", "ServiceAccount", NameIsDNSSubdomain, nullptr},
      {"", "PersistentVolumeClaim", NameIsDNSSubdomain, ValidatePVC},
      {"", "PersistentVolume", NameIsDNSSubdomain, nullptr},
      {"", "Event", NameIsDNSSubdomain, ValidateEvent},
      {"", "Endpoints", NameIsDNSSubdomain, nullptr},
      {"", "ReplicationController", NameIsDNSSubdomain, ValidateReplicationController},
      {"", "ResourceQuota", NameIsDNSSubdomain, nullptr},
      {"", "LimitRange", NameIsDNSSubdomain, nullptr},
      {"apps", "Deployment", NameIsDNSSubdomain, ValidateDeployment},
      {"apps", "ReplicaSet", NameIsDNSSubdomain, ValidateReplicaSet},
      {"apps", "DaemonSet", NameIsDNSSubdomain, ValidateDaemonSet},
      {"apps", "StatefulSet", NameIsDNSLabel, ValidateStatefulSet},
      {"batch", "Job", NameIsDNSSubdomain, ValidateJob},
      {"batch", "CronJob", NameIsDNSSubdomain, ValidateCronJob},
      {"networking.k8s.io", "Ingress", NameIsDNSSubdomain, ValidateIngress},
      {"rbac.authorization.k8s.io", "Role", NameIsPathSegment, ValidateRole},
      {"rbac.authorization.k8s.io", "ClusterRole", NameIsPathSegment, ValidateClusterRole},
      {"rbac.authorization.k8s.io", "RoleBinding", NameIsPathSegment, ValidateRoleBinding},
      {"rbac.authorization.k8s.io", "ClusterRoleBinding", NameIsPathSegment,
       ValidateClusterRoleBinding},
      {"coordination.k8s.io", "Lease", NameIsDNSSubdomain, ValidateLease},
      {"events.k8s.io", "Event", NameIsDNSSubdomain, nullptr},
  }};
  for (const auto& r : kTable) {
    if (r.group == group && r.kind == kind) return &r;
  }
  return nullptr;
}

}  // namespace vdetail

bool HasKindValidation(std::string_view group, std::string_view kind) {
  const vdetail::KindRules* r = vdetail::FindKindRules(group, kind);
  return r != nullptr && r->validate != nullptr;
}

namespace {

// Built-in kinds also reject finalizers that are neither standard nor domain-qualified
// (upstream's core ValidateObjectMeta wrapper).
ErrorList KubeFinalizerNames(const boost::json::object& obj) {
  ErrorList errs;
  const boost::json::array* fins =
      vdetail::Arr(vdetail::Path(vdetail::Get(obj, "metadata"), "finalizers"));
  if (fins == nullptr) return errs;
  for (const auto& f : *fins) {
    std::string_view name = vdetail::Str(&f);
    if (name.find('/') == std::string_view::npos && name != "kubernetes" && name != "orphan" &&
        name != "foregroundDeletion") {
      errs.push_back(
          Invalid(FieldPath("metadata").Child("finalizers"), BadValue::Str(name),
                  "name is neither a standard finalizer name nor is it fully qualified"));
    }
  }
  return errs;
}

ErrorList CustomSchemaErrors(const KindInfo& kind, const boost::json::object& obj) {
  if (!kind.custom || kind.schema == nullptr) return {};
  SchemaValidationOptions opts;
  opts.custom_resource = true;
  return ValidateAgainstSchema(*kind.schema, boost::json::value(obj), opts).errors;
}

}  // namespace

ErrorList ValidateCreate(const KindInfo& kind, const boost::json::object& obj,
                         const ValidationContext& ctx) {
  const vdetail::KindRules* rules =
      kind.custom ? nullptr : vdetail::FindKindRules(kind.group, kind.kind);
  NameValidator name_fn = rules != nullptr ? rules->name_fn : NameIsDNSSubdomain;
  boost::json::value v(obj);
  ErrorList errs = ValidateObjectMeta(vdetail::Get(obj, "metadata"), kind.namespaced, name_fn,
                                      FieldPath("metadata"));
  // apiextensions validates metadata generically (its CRDs carry the unqualified
  // customresourcecleanup.apiextensions.k8s.io finalizer).
  if (!kind.custom && kind.group != "apiextensions.k8s.io") Append(errs, KubeFinalizerNames(obj));
  Append(errs, CustomSchemaErrors(kind, obj));
  if (rules != nullptr && rules->validate != nullptr)
    Append(errs, rules->validate(v, nullptr, ctx));
  return errs;
}

ErrorList ValidateUpdate(const KindInfo& kind, const boost::json::object& obj,
                         const boost::json::object& old, const ValidationContext& ctx) {
  const vdetail::KindRules* rules =
      kind.custom ? nullptr : vdetail::FindKindRules(kind.group, kind.kind);
  boost::json::value v(obj), o(old);
  ErrorList errs = ValidateObjectMetaUpdate(vdetail::Get(obj, "metadata"),
                                            vdetail::Get(old, "metadata"), FieldPath("metadata"));
  // apiextensions validates metadata generically (its CRDs carry the unqualified
  // customresourcecleanup.apiextensions.k8s.io finalizer).
  if (!kind.custom && kind.group != "apiextensions.k8s.io") Append(errs, KubeFinalizerNames(obj));
  Append(errs, CustomSchemaErrors(kind, obj));
  if (rules != nullptr && rules->validate != nullptr) Append(errs, rules->validate(v, &o, ctx));
  return errs;
}

}  // namespace mini8s::api
