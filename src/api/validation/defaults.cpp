// Upstream's defaulting (pkg/apis/core/v1/defaults.go, apps/v1, batch/v1, networking/v1,
// rbac/v1, autoscaling/v2 defaults) on JSON objects.
#include "mini8s/api/defaults.h"

#include <string>

#include "api/validation/json_util.h"
#include "api/validation/kinds.h"

namespace mini8s::api {

namespace json = boost::json;
using vdetail::MutArr;
using vdetail::MutObj;
using vdetail::ObjAt;
using vdetail::SetDefault;
using vdetail::SetDefaultString;

namespace {

void ForEachObject(json::object& parent, std::string_view key, void (*fn)(json::object&)) {
  if (json::array* arr = MutArr(parent, key)) {
    for (auto& e : *arr) {
      if (e.is_object()) fn(e.get_object());
    }
  }
}

void DefaultHTTPGet(json::object& h) {
  if (json::object* g = MutObj(h, "httpGet")) {
    SetDefaultString(*g, "path", "/");
    SetDefaultString(*g, "scheme", "HTTP");
  }
}

void DefaultProbe(json::object& p) {
  SetDefault(p, "timeoutSeconds", 1);
  SetDefault(p, "periodSeconds", 10);
  SetDefault(p, "successThreshold", 1);
  SetDefault(p, "failureThreshold", 3);
  DefaultHTTPGet(p);
}

void DefaultFieldRef(json::object& holder) {
  if (json::object* f = MutObj(holder, "fieldRef")) SetDefaultString(*f, "apiVersion", "v1");
}

void DefaultContainer(json::object& c) {
  const json::value* img = c.if_contains("image");
  SetDefaultString(c, "imagePullPolicy",
                   DefaultImagePullPolicy(img != nullptr && img->is_string()
                                              ? std::string_view(img->get_string())
                                              : std::string_view()));
  SetDefaultString(c, "terminationMessagePath", "/dev/termination-log");
  SetDefaultString(c, "terminationMessagePolicy", "File");
  // ResourceRequirements is a struct, not a pointer: it always serializes, as {} when empty.
  SetDefault(c, "resources", json::object{});
  ForEachObject(c, "ports", [](json::object& p) { SetDefaultString(p, "protocol", "TCP"); });
  for (std::string_view probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    if (json::object* p = MutObj(c, probe)) DefaultProbe(*p);
  }
  if (json::object* lc = MutObj(c, "lifecycle")) {
    for (std::string_view hook : {"postStart", "preStop"}) {
      if (json::object* h = MutObj(*lc, hook)) DefaultHTTPGet(*h);
    }
  }
  ForEachObject(c, "env", [](json::object& e) {
    if (json::object* vf = MutObj(e, "valueFrom")) DefaultFieldRef(*vf);
  });
}

void DefaultPVCSpec(json::object& spec) { SetDefaultString(spec, "volumeMode", "Filesystem"); }

void DefaultVolume(json::object& v) {
  bool any = false;
  for (std::string_view s : vdetail::VolumeSourceFields()) {
    const json::value* x = v.if_contains(s);
    any = any || (x != nullptr && !x->is_null());
  }
  if (!any) v["emptyDir"] = json::object{};
  for (std::string_view s : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (json::object* src = MutObj(v, s)) SetDefault(*src, "defaultMode", 420);
  }
  if (json::object* hp = MutObj(v, "hostPath")) SetDefault(*hp, "type", "");
  if (json::object* da = MutObj(v, "downwardAPI")) ForEachObject(*da, "items", DefaultFieldRef);
  if (json::object* pr = MutObj(v, "projected")) {
    ForEachObject(*pr, "sources", [](json::object& s) {
      if (json::object* t = MutObj(s, "serviceAccountToken")) {
        SetDefault(*t, "expirationSeconds", 3600);
      }
      if (json::object* d = MutObj(s, "downwardAPI")) ForEachObject(*d, "items", DefaultFieldRef);
    });
  }
  if (json::object* is = MutObj(v, "iscsi")) SetDefaultString(*is, "iscsiInterface", "default");
  if (json::object* eph = MutObj(v, "ephemeral")) {
    if (json::object* tmpl = MutObj(*eph, "volumeClaimTemplate")) {
      if (json::object* spec = MutObj(*tmpl, "spec")) DefaultPVCSpec(*spec);
    }
  }
}

void DefaultHostNetworkPorts(json::object& spec) {
  for (std::string_view list : {"containers", "initContainers"}) {
    ForEachObject(spec, list, [](json::object& c) {
      ForEachObject(c, "ports", [](json::object& p) {
        const json::value* hp = p.if_contains("hostPort");
        bool unset = hp == nullptr || hp->is_null() || (hp->is_int64() && hp->get_int64() == 0);
        if (unset) {
          // Copy first: inserting into `p` may move its values.
          if (const json::value* cp = p.if_contains("containerPort")) {
            json::value port = *cp;
            p["hostPort"] = std::move(port);
          }
        }
      });
    });
  }
}

// The metadata of an embedded template serializes its zero creationTimestamp as null.
void DefaultTemplateMeta(json::object& tmpl) {
  json::object& meta = ObjAt(tmpl, "metadata");
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = nullptr;
}

void DefaultPodTemplate(json::object& tmpl) {
  DefaultTemplateMeta(tmpl);
  DefaultPodSpec(ObjAt(tmpl, "spec"));
}

void DefaultPod(json::object& pod) {
  json::object& spec = ObjAt(pod, "spec");
  // Requests default to limits on Pods only (not on templates).
  for (std::string_view list : {"containers", "initContainers"}) {
    ForEachObject(spec, list, [](json::object& c) {
      json::object* res = MutObj(c, "resources");
      if (res == nullptr || MutObj(*res, "limits") == nullptr) return;
      json::object& req = ObjAt(*res, "requests");
      // Look limits up again: adding "requests" may have moved res's values.
      const json::object* limits = MutObj(*res, "limits");
      for (const auto& kv : *limits) {
        if (!req.contains(kv.key())) req[kv.key()] = kv.value();
      }
    });
  }
  SetDefault(spec, "enableServiceLinks", true);
  if (const json::value* hn = spec.if_contains("hostNetwork");
      hn && hn->is_bool() && hn->get_bool()) {
    DefaultHostNetworkPorts(spec);
  }
  DefaultPodSpec(spec);
  // Added by the Priority admission plugin when no priorityClassName is given.
  const json::value* pcn = spec.if_contains("priorityClassName");
  if (pcn == nullptr || !pcn->is_string() || pcn->get_string().empty()) {
    SetDefault(spec, "priority", 0);
    SetDefaultString(spec, "preemptionPolicy", "PreemptLowerPriority");
  }
}

void DefaultService(json::object& svc) {
  json::object& spec = ObjAt(svc, "spec");
  SetDefaultString(spec, "sessionAffinity", "None");
  std::string affinity(spec.at("sessionAffinity").is_string()
                           ? std::string_view(spec.at("sessionAffinity").get_string())
                           : std::string_view());
  if (affinity == "None") {
    spec.erase("sessionAffinityConfig");
  } else if (affinity == "ClientIP") {
    json::object& cfg = ObjAt(spec, "sessionAffinityConfig");
    json::object& cip = ObjAt(cfg, "clientIP");
    SetDefault(cip, "timeoutSeconds", 10800);
  }
  SetDefaultString(spec, "type", "ClusterIP");
  std::string type(spec.at("type").is_string() ? std::string_view(spec.at("type").get_string())
                                               : std::string_view());
  ForEachObject(spec, "ports", [](json::object& p) {
    SetDefaultString(p, "protocol", "TCP");
    const json::value* tp = p.if_contains("targetPort");
    bool unset = tp == nullptr || tp->is_null() || (tp->is_int64() && tp->get_int64() == 0) ||
                 (tp->is_string() && tp->get_string().empty());
    if (unset) {
      if (const json::value* port = p.if_contains("port")) {
        json::value copy = *port;  // inserting into `p` may move its values
        p["targetPort"] = std::move(copy);
      }
    }
  });
  bool external = type == "NodePort" || type == "LoadBalancer" ||
                  (type == "ClusterIP" && vdetail::Len(spec.if_contains("externalIPs")) > 0);
  if (external) SetDefaultString(spec, "externalTrafficPolicy", "Cluster");
  if (type == "NodePort" || type == "LoadBalancer" || type == "ClusterIP") {
    SetDefaultString(spec, "internalTrafficPolicy", "Cluster");
  }
  if (type == "LoadBalancer") SetDefault(spec, "allocateLoadBalancerNodePorts", true);
  if (type != "ExternalName") {
    // Set by upstream's IP allocator on a single-stack IPv4 cluster.
    SetDefaultString(spec, "ipFamilyPolicy", "SingleStack");
    SetDefault(spec, "ipFamilies", json::array{"IPv4"});
  }
  // ServiceStatus.LoadBalancer is a struct and always serializes.
  json::object& status = ObjAt(svc, "status");
  SetDefault(status, "loadBalancer", json::object{});
}

void DefaultDeployment(json::object& d) {
  json::object& spec = ObjAt(d, "spec");
  SetDefault(spec, "replicas", 1);
  json::object& strategy = ObjAt(spec, "strategy");
  SetDefaultString(strategy, "type", "RollingUpdate");
  if (strategy.at("type") == "RollingUpdate") {
    json::object& ru = ObjAt(strategy, "rollingUpdate");
    SetDefault(ru, "maxUnavailable", "25%");
    SetDefault(ru, "maxSurge", "25%");
  }
  SetDefault(spec, "revisionHistoryLimit", 10);
  SetDefault(spec, "progressDeadlineSeconds", 600);
  DefaultPodTemplate(ObjAt(spec, "template"));
}

void DefaultReplicaSet(json::object& rs) {
  json::object& spec = ObjAt(rs, "spec");
  SetDefault(spec, "replicas", 1);
  DefaultPodTemplate(ObjAt(spec, "template"));
}

void DefaultDaemonSet(json::object& ds) {
  json::object& spec = ObjAt(ds, "spec");
  json::object& us = ObjAt(spec, "updateStrategy");
  SetDefaultString(us, "type", "RollingUpdate");
  if (us.at("type") == "RollingUpdate") {
    json::object& ru = ObjAt(us, "rollingUpdate");
    SetDefault(ru, "maxUnavailable", 1);
    SetDefault(ru, "maxSurge", 0);
  }
  SetDefault(spec, "revisionHistoryLimit", 10);
  DefaultPodTemplate(ObjAt(spec, "template"));
}

void DefaultPVC(json::object& pvc) {
  DefaultPVCSpec(ObjAt(pvc, "spec"));
  SetDefaultString(ObjAt(pvc, "status"), "phase", "Pending");
}

void DefaultStatefulSet(json::object& ss) {
  json::object& spec = ObjAt(ss, "spec");
  SetDefaultString(spec, "podManagementPolicy", "OrderedReady");
  json::object& us = ObjAt(spec, "updateStrategy");
  const json::value* t = us.if_contains("type");
  if (t == nullptr || t->is_null() || (t->is_string() && t->get_string().empty())) {
    us["type"] = "RollingUpdate";
    SetDefault(us, "rollingUpdate", json::object{});
  }
  if (us.at("type") == "RollingUpdate") {
    if (json::object* ru = MutObj(us, "rollingUpdate")) SetDefault(*ru, "partition", 0);
  }
  json::object& retention = ObjAt(spec, "persistentVolumeClaimRetentionPolicy");
  SetDefaultString(retention, "whenDeleted", "Retain");
  SetDefaultString(retention, "whenScaled", "Retain");
  SetDefault(spec, "replicas", 1);
  SetDefault(spec, "revisionHistoryLimit", 10);
  DefaultPodTemplate(ObjAt(spec, "template"));
  ForEachObject(spec, "volumeClaimTemplates", [](json::object& pvc) {
    DefaultPVC(pvc);
    DefaultTemplateMeta(pvc);
  });
}

void DefaultJobSpec(json::object& spec) { DefaultPodTemplate(ObjAt(spec, "template")); }

void DefaultJob(json::object& job) {
  json::object& spec = ObjAt(job, "spec");
  auto unset = [&](std::string_view k) {
    const json::value* v = spec.if_contains(k);
    return v == nullptr || v->is_null();
  };
  if (unset("completions") && unset("parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  SetDefault(spec, "parallelism", 1);
  if (unset("backoffLimit")) spec["backoffLimit"] = unset("backoffLimitPerIndex") ? 6 : 2147483647;
  // Template labels become the Job's labels when it has none.
  const json::value* tl = vdetail::Path(spec.if_contains("template"), "metadata", "labels");
  json::object* meta = MutObj(job, "metadata");
  if (tl != nullptr && tl->is_object() && meta != nullptr &&
      vdetail::Len(meta->if_contains("labels")) == 0) {
    (*meta)["labels"] = *tl;
  }
  SetDefaultString(spec, "completionMode", "NonIndexed");
  SetDefault(spec, "suspend", false);
  SetDefaultString(spec, "podReplacementPolicy",
                   unset("podFailurePolicy") ? "TerminatingOrFailed" : "Failed");
  DefaultJobSpec(spec);
}

void DefaultCronJob(json::object& cj) {
  json::object& spec = ObjAt(cj, "spec");
  SetDefaultString(spec, "concurrencyPolicy", "Allow");
  SetDefault(spec, "suspend", false);
  SetDefault(spec, "successfulJobsHistoryLimit", 3);
  SetDefault(spec, "failedJobsHistoryLimit", 1);
  json::object& jt = ObjAt(spec, "jobTemplate");
  DefaultTemplateMeta(jt);
  DefaultJobSpec(ObjAt(jt, "spec"));
}

void DefaultReplicationController(json::object& rc) {
  json::object& spec = ObjAt(rc, "spec");
  SetDefault(spec, "replicas", 1);
  const json::value* tl = vdetail::Path(spec.if_contains("template"), "metadata", "labels");
  if (tl != nullptr && tl->is_object()) {
    json::value labels = *tl;  // inserting into `spec` may move its values
    if (vdetail::Len(spec.if_contains("selector")) == 0) spec["selector"] = labels;
    json::object& meta = ObjAt(rc, "metadata");
    if (vdetail::Len(meta.if_contains("labels")) == 0) meta["labels"] = std::move(labels);
  }
  if (json::object* t = MutObj(spec, "template")) DefaultPodTemplate(*t);
}

void DefaultNamespace(json::object& ns) {
  json::object& meta = ObjAt(ns, "metadata");
  if (const json::value* name = meta.if_contains("name");
      name && name->is_string() && !name->get_string().empty()) {
    json::value copy = *name;  // inserting "labels" may move meta's values
    ObjAt(meta, "labels")["kubernetes.io/metadata.name"] = std::move(copy);
  }
  // The namespace strategy adds the finalizer; the phase is a v1 default.
  SetDefault(ObjAt(ns, "spec"), "finalizers", json::array{"kubernetes"});
  SetDefaultString(ObjAt(ns, "status"), "phase", "Active");
}

void DefaultSubjects(json::object& binding) {
  ForEachObject(binding, "subjects", [](json::object& s) {
    const json::value* kind = s.if_contains("kind");
    if (kind == nullptr || !kind->is_string()) return;
    if (kind->get_string() == "User" || kind->get_string() == "Group") {
      SetDefaultString(s, "apiGroup", "rbac.authorization.k8s.io");
    }
  });
}

void DefaultNetworkPolicy(json::object& np) {
  json::object& spec = ObjAt(np, "spec");
  for (std::string_view dir : {"ingress", "egress"}) {
    ForEachObject(spec, dir, [](json::object& rule) {
      ForEachObject(rule, "ports", [](json::object& p) { SetDefaultString(p, "protocol", "TCP"); });
    });
  }
  if (vdetail::Len(spec.if_contains("policyTypes")) == 0) {
    json::array types{"Ingress"};
    if (vdetail::Len(spec.if_contains("egress")) > 0) types.push_back("Egress");
    spec["policyTypes"] = std::move(types);
  }
}

void DefaultHPA(json::object& hpa) {
  json::object& spec = ObjAt(hpa, "spec");
  SetDefault(spec, "minReplicas", 1);
  if (vdetail::Len(spec.if_contains("metrics")) == 0) {
    spec["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"},
                                                          {"averageUtilization", 80}}}}}}};
  }
  json::object& behavior = ObjAt(spec, "behavior");
  json::object& up = ObjAt(behavior, "scaleUp");
  SetDefault(up, "stabilizationWindowSeconds", 0);
  SetDefaultString(up, "selectPolicy", "Max");
  SetDefault(up, "policies",
             json::array{json::object{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}},
                         json::object{{"type", "Pods"}, {"value", 4}, {"periodSeconds", 15}}});
  json::object& down = ObjAt(behavior, "scaleDown");
  SetDefault(down, "stabilizationWindowSeconds", 300);
  SetDefaultString(down, "selectPolicy", "Max");
  SetDefault(down, "policies",
             json::array{json::object{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}}});
}

void ApplySchemaDefaultsAt(const Schema* s, json::value& v, int depth) {
  if (s == nullptr || depth > 64) return;
  if (v.is_object() && s->type != Type::kAny) {
    json::object& o = v.get_object();
    for (const Property& p : s->properties) {
      if (p.schema == nullptr || !p.schema->default_value) continue;
      json::value* cur = o.if_contains(p.name);
      if (cur == nullptr || (cur->is_null() && !p.schema->nullable)) {
        o[p.name] = *p.schema->default_value;
      }
    }
    for (auto& kv : o) {
      const Schema* child = s->Child(kv.key());
      if (child != nullptr) ApplySchemaDefaultsAt(child, kv.value(), depth + 1);
    }
  } else if (v.is_array() && s->items != nullptr) {
    for (auto& e : v.get_array()) ApplySchemaDefaultsAt(s->items, e, depth + 1);
  }
}

}  // namespace

std::string_view DefaultImagePullPolicy(std::string_view image) {
  // Upstream parses the reference and ignores errors: no image means no tag, so IfNotPresent.
  if (image.empty()) return "IfNotPresent";
  std::string_view ref = image;
  bool has_digest = false;
  if (size_t at = ref.find('@'); at != std::string_view::npos) {
    has_digest = true;
    ref = ref.substr(0, at);
  }
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  size_t colon = last.find(':');
  std::string_view tag =
      colon == std::string_view::npos ? std::string_view() : last.substr(colon + 1);
  if (tag.empty()) return has_digest ? "IfNotPresent" : "Always";
  return tag == "latest" ? "Always" : "IfNotPresent";
}

void DefaultPodSpec(json::object& spec) {
  SetDefaultString(spec, "dnsPolicy", "ClusterFirst");
  SetDefaultString(spec, "restartPolicy", "Always");
  SetDefault(spec, "securityContext", json::object{});
  SetDefault(spec, "terminationGracePeriodSeconds", 30);
  SetDefaultString(spec, "schedulerName", "default-scheduler");
  for (std::string_view list : {"containers", "initContainers", "ephemeralContainers"}) {
    ForEachObject(spec, list, DefaultContainer);
  }
  ForEachObject(spec, "volumes", DefaultVolume);
}

void ApplyBuiltinDefaults(std::string_view group, std::string_view kind, json::object& obj) {
  if (group.empty()) {
    if (kind == "Pod") return DefaultPod(obj);
    if (kind == "PodTemplate") return DefaultPodTemplate(ObjAt(obj, "template"));
    if (kind == "Service") return DefaultService(obj);
    if (kind == "Secret") return SetDefaultString(obj, "type", "Opaque");
    if (kind == "Namespace") return DefaultNamespace(obj);
    if (kind == "PersistentVolumeClaim") return DefaultPVC(obj);
    if (kind == "ReplicationController") return DefaultReplicationController(obj);
    if (kind == "PersistentVolume") {
      json::object& spec = ObjAt(obj, "spec");
      SetDefaultString(spec, "persistentVolumeReclaimPolicy", "Retain");
      SetDefaultString(spec, "volumeMode", "Filesystem");
      SetDefaultString(ObjAt(obj, "status"), "phase", "Pending");
      return;
    }
    if (kind == "Endpoints") {
      ForEachObject(obj, "subsets", [](json::object& s) {
        ForEachObject(s, "ports", [](json::object& p) { SetDefaultString(p, "protocol", "TCP"); });
      });
      return;
    }
    if (kind == "Node") {
      json::object* status = MutObj(obj, "status");
      if (status != nullptr && status->contains("capacity")) {
        SetDefault(*status, "allocatable", status->at("capacity"));
      }
      return;
    }
    return;
  }
  if (group == "apps") {
    if (kind == "Deployment") return DefaultDeployment(obj);
    if (kind == "ReplicaSet") return DefaultReplicaSet(obj);
    if (kind == "DaemonSet") return DefaultDaemonSet(obj);
    if (kind == "StatefulSet") return DefaultStatefulSet(obj);
    return;
  }
  if (group == "batch") {
    if (kind == "Job") return DefaultJob(obj);
    if (kind == "CronJob") return DefaultCronJob(obj);
    return;
  }
  if (group == "rbac.authorization.k8s.io" &&
      (kind == "RoleBinding" || kind == "ClusterRoleBinding")) {
    return DefaultSubjects(obj);
  }
  if (group == "networking.k8s.io" && kind == "NetworkPolicy") return DefaultNetworkPolicy(obj);
  if (group == "autoscaling" && kind == "HorizontalPodAutoscaler") return DefaultHPA(obj);
  if (group == "scheduling.k8s.io" && kind == "PriorityClass") {
    return SetDefaultString(obj, "preemptionPolicy", "PreemptLowerPriority");
  }
}

void ApplySchemaDefaults(const Schema& root, json::value& obj) {
  ApplySchemaDefaultsAt(&root, obj, 0);
}

void ApplyDefaults(const KindInfo& kind, json::object& obj) {
  if (kind.custom) {
    if (kind.schema == nullptr) return;
    json::value v(std::move(obj));
    ApplySchemaDefaults(*kind.schema, v);
    obj = std::move(v.get_object());
    return;
  }
  ApplyBuiltinDefaults(kind.group, kind.kind, obj);
}

}  // namespace mini8s::api
