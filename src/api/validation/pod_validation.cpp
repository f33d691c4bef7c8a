// Pods and pod templates (upstream pkg/apis/core/validation: ValidatePodSpec, validateContainers,
// ValidateResourceRequirements, ValidateVolumes, ValidatePodUpdate).
#include <algorithm>
#include <set>

#include "api/validation/json_util.h"
#include "api/validation/kinds.h"
#include "mini8s/api/quantity.h"
#include "mini8s/common/json.h"

namespace mini8s::api::vdetail {

namespace json = boost::json;

namespace {

const std::vector<std::string> kProtocols = {"SCTP", "TCP", "UDP"};
const std::vector<std::string> kPullPolicies = {"Always", "IfNotPresent", "Never"};
const std::vector<std::string> kRestartPolicies = {"Always", "OnFailure", "Never"};
const std::vector<std::string> kDNSPolicies = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
                                               "None"};
const std::vector<std::string> kTerminationMessagePolicies = {"File", "FallbackToLogsOnError"};
const std::vector<std::string> kTaintEffects = {"NoSchedule", "PreferNoSchedule", "NoExecute"};

bool IsStandardContainerResource(std::string_view name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
         name.substr(0, 10) == "hugepages-";
}
bool IsNativeResource(std::string_view name) {
  return name.find('/') == std::string_view::npos ||
         name.find("kubernetes.io/") != std::string_view::npos;
}
bool IsHugePages(std::string_view name) { return name.substr(0, 10) == "hugepages-"; }
bool IsExtendedResource(std::string_view name) {
  return !IsNativeResource(name) && name.substr(0, 9) != "requests.";
}
bool IsOvercommitAllowed(std::string_view name) {
  return IsNativeResource(name) && !IsHugePages(name);
}

ErrorList ValidateContainerResourceName(std::string_view name, const FieldPath& path) {
  ErrorList errs;
  for (auto& m : IsQualifiedName(name)) errs.push_back(Invalid(path, BadValue::Str(name), m));
  if (name.find('/') == std::string_view::npos) {
    if (!IsStandardContainerResource(name)) {
      errs.push_back(
          Invalid(path, BadValue::Str(name), "must be a standard resource for containers"));
    }
  } else if (!IsNativeResource(name) && !IsExtendedResource(name)) {
    errs.push_back(
        Invalid(path, BadValue::Str(name), "doesn't follow extended resource name standard"));
  }
  return errs;
}

std::optional<Quantity> ParseQ(const JsonV& v) {
  std::string text = v.is_string() ? std::string(v.get_string()) : SerializeJson(v);
  auto q = Quantity::Parse(text);
  if (!q) return std::nullopt;  // reported by the schema pass as a decode error
  return *q;
}

ErrorList ValidateQuantityValue(std::string_view resource, const Quantity& q,
                                const FieldPath& path) {
  ErrorList errs;
  if (q.Sign() < 0) {
    errs.push_back(Invalid(path, BadValue::Str(q.String()), "must be greater than or equal to 0"));
  }
  if (IsExtendedResource(resource) && q.MilliValue() % 1000 != 0) {
    errs.push_back(Invalid(path, BadValue::Str(q.String()), "must be an integer"));
  }
  return errs;
}

ErrorList ValidateResources(const JsonV* res, const FieldPath& path) {
  ErrorList errs;
  FieldPath lim_path = path.Child("limits"), req_path = path.Child("requests");
  const json::object* limits = Obj(Get(res, "limits"));
  const json::object* requests = Obj(Get(res, "requests"));
  if (limits != nullptr) {
    for (const auto& kv : *limits) {
      FieldPath p = lim_path.Key(kv.key());
      Append(errs, ValidateContainerResourceName(kv.key(), p));
      if (auto q = ParseQ(kv.value())) Append(errs, ValidateQuantityValue(kv.key(), *q, p));
    }
  }
  if (requests != nullptr) {
    for (const auto& kv : *requests) {
      FieldPath p = req_path.Key(kv.key());
      Append(errs, ValidateContainerResourceName(kv.key(), p));
      auto q = ParseQ(kv.value());
      if (!q) continue;
      Append(errs, ValidateQuantityValue(kv.key(), *q, p));
      const JsonV* lim = limits != nullptr ? limits->if_contains(kv.key()) : nullptr;
      if (lim != nullptr) {
        auto l = ParseQ(*lim);
        if (!l) continue;
        if (q->Cmp(*l) != 0 && !IsOvercommitAllowed(kv.key())) {
          errs.push_back(
              Invalid(req_path, BadValue::Str(q->String()),
                      "must be equal to " + std::string(kv.key()) + " limit of " + l->String()));
        } else if (q->Cmp(*l) > 0) {
          errs.push_back(Invalid(req_path, BadValue::Str(q->String()),
                                 "must be less than or equal to " + std::string(kv.key()) +
                                     " limit of " + l->String()));
        }
      } else if (!IsOvercommitAllowed(kv.key())) {
        errs.push_back(Required(lim_path, "Limit must be set for non overcommitable resources"));
      }
    }
  }
  return errs;
}

// A port given as a number or an IANA service name (probes' httpGet/tcpSocket/grpc port).
ErrorList ValidatePortNumOrName(const JsonV* port, const FieldPath& path) {
  ErrorList errs;
  if (port == nullptr || port->is_null()) {
    errs.push_back(Required(path));
  } else if (port->is_string()) {
    std::string_view s = port->get_string();
    for (auto& m : IsValidPortName(s)) errs.push_back(Invalid(path, BadValue::Str(s), m));
  } else if (auto i = Int(port)) {
    for (auto& m : IsValidPortNum(*i)) errs.push_back(Invalid(path, BadValue::Int(*i), m));
  }
  return errs;
}

ErrorList ValidateHandler(const JsonV* h, const FieldPath& path, bool allow_grpc) {
  ErrorList errs;
  int n = 0;
  if (const JsonV* e = Get(h, "exec"); !IsNull(e)) {
    ++n;
    if (Len(Get(e, "command")) == 0) errs.push_back(Required(path.Child("exec", "command")));
  }
  if (const JsonV* g = Get(h, "httpGet"); !IsNull(g)) {
    if (n++ > 0) {
      errs.push_back(Forbidden(path.Child("httpGet"), "may not specify more than 1 handler type"));
    } else {
      FieldPath gp = path.Child("httpGet");
      if (Str(Get(g, "path")).empty()) errs.push_back(Required(gp.Child("path")));
      Append(errs, ValidatePortNumOrName(Get(g, "port"), gp.Child("port")));
      std::string_view scheme = Str(Get(g, "scheme"));
      if (!scheme.empty() && scheme != "HTTP" && scheme != "HTTPS") {
        errs.push_back(NotSupported(gp.Child("scheme"), BadValue::Str(scheme), {"HTTP", "HTTPS"}));
      }
    }
  }
  if (const JsonV* t = Get(h, "tcpSocket"); !IsNull(t)) {
    if (n++ > 0) {
      errs.push_back(
          Forbidden(path.Child("tcpSocket"), "may not specify more than 1 handler type"));
    } else {
      Append(errs, ValidatePortNumOrName(Get(t, "port"), path.Child("tcpSocket", "port")));
    }
  }
  if (allow_grpc) {
    if (const JsonV* g = Get(h, "grpc"); !IsNull(g)) {
      if (n++ > 0) {
        errs.push_back(Forbidden(path.Child("grpc"), "may not specify more than 1 handler type"));
      } else if (auto p = Int(Get(g, "port"))) {
        for (auto& m : IsValidPortNum(*p)) {
          errs.push_back(Invalid(path.Child("grpc", "port"), BadValue::Int(*p), m));
        }
      }
    }
  }
  if (const JsonV* s = Get(h, "sleep"); !IsNull(s)) ++n;
  if (n == 0) errs.push_back(Required(path, "must specify a handler type"));
  return errs;
}

ErrorList ValidateProbe(const JsonV* probe, const FieldPath& path, bool success_must_be_one) {
  ErrorList errs;
  if (IsNull(probe)) return errs;
  Append(errs, ValidateHandler(probe, path, true));
  for (std::string_view f : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                             "successThreshold", "failureThreshold"}) {
    Append(errs, ValidateNonnegative(Get(probe, f), path.Child(f)));
  }
  if (success_must_be_one) {
    if (auto s = Int(Get(probe, "successThreshold")); s && *s != 1) {
      errs.push_back(Invalid(path.Child("successThreshold"), BadValue::Int(*s), "must be 1"));
    }
  }
  if (auto t = Int(Get(probe, "terminationGracePeriodSeconds")); t && *t <= 0) {
    errs.push_back(Invalid(path.Child("terminationGracePeriodSeconds"), BadValue::Int(*t),
                           "must be greater than 0"));
  }
  return errs;
}

ErrorList ValidateKeySelector(const JsonV* sel, const FieldPath& path) {
  ErrorList errs;
  std::string_view name = Str(Get(sel, "name"));
  for (auto& m : IsDNS1123Subdomain(name))
    errs.push_back(Invalid(path.Child("name"), BadValue::Str(name), m));
  std::string_view key = Str(Get(sel, "key"));
  if (key.empty()) {
    errs.push_back(Required(path.Child("key")));
  } else {
    for (auto& m : IsConfigMapKey(key))
      errs.push_back(Invalid(path.Child("key"), BadValue::Str(key), m));
  }
  return errs;
}

ErrorList ValidateEnv(const JsonV* env, const FieldPath& path) {
  ErrorList errs;
  const json::array* arr = Arr(env);
  if (arr == nullptr) return errs;
  for (size_t i = 0; i < arr->size(); ++i) {
    const JsonV& ev = (*arr)[i];
    FieldPath ip = path.Index(i);
    std::string_view name = Str(Get(&ev, "name"));
    if (name.empty()) {
      errs.push_back(Required(ip.Child("name")));
    } else {
      for (auto& m : IsRelaxedEnvVarName(name)) {
        errs.push_back(Invalid(ip.Child("name"), BadValue::Str(name), m));
      }
    }
    const JsonV* vf = Get(&ev, "valueFrom");
    if (IsNull(vf)) continue;
    FieldPath vp = ip.Child("valueFrom");
    int n = 0;
    if (const JsonV* f = Get(vf, "fieldRef"); !IsNull(f)) {
      ++n;
      FieldPath fp = vp.Child("fieldRef");
      std::string_view fpath = Str(Get(f, "fieldPath"));
      if (Str(Get(f, "apiVersion")).empty()) {
        errs.push_back(Required(fp.Child("apiVersion")));
      } else if (fpath.empty()) {
        errs.push_back(Required(fp.Child("fieldPath")));
      } else {
        static const std::vector<std::string> kFieldPaths = {"metadata.name",
                                                             "metadata.namespace",
                                                             "metadata.uid",
                                                             "spec.nodeName",
                                                             "spec.serviceAccountName",
                                                             "status.hostIP",
                                                             "status.hostIPs",
                                                             "status.podIP",
                                                             "status.podIPs"};
        size_t bracket = fpath.find('[');
        if (bracket != std::string_view::npos) {
          std::string_view base = fpath.substr(0, bracket);
          if (base != "metadata.labels" && base != "metadata.annotations") {
            errs.push_back(Invalid(fp, BadValue::Str(base), "does not support subscript"));
          }
        } else if (!Contains(kFieldPaths, fpath)) {
          errs.push_back(NotSupported(fp.Child("fieldPath"), BadValue::Str(fpath), kFieldPaths));
        }
      }
    }
    if (const JsonV* r = Get(vf, "resourceFieldRef"); !IsNull(r)) {
      ++n;
      if (Str(Get(r, "resource")).empty()) {
        errs.push_back(Required(vp.Child("resourceFieldRef", "resource")));
      }
    }
    if (const JsonV* c = Get(vf, "configMapKeyRef"); !IsNull(c)) {
      ++n;
      Append(errs, ValidateKeySelector(c, vp.Child("configMapKeyRef")));
    }
    if (const JsonV* sk = Get(vf, "secretKeyRef"); !IsNull(sk)) {
      ++n;
      Append(errs, ValidateKeySelector(sk, vp.Child("secretKeyRef")));
    }
    if (n == 0) {
      errs.push_back(Invalid(vp, BadValue::Str(""),
                             "must specify one of: `fieldRef`, `resourceFieldRef`, "
                             "`configMapKeyRef` or `secretKeyRef`"));
    } else if (!Str(Get(&ev, "value")).empty()) {
      errs.push_back(
          Invalid(vp, BadValue::Str(""), "may not be specified when `value` is not empty"));
    } else if (n > 1) {
      errs.push_back(
          Invalid(vp, BadValue::Str(""), "may not have more than one field specified at a time"));
    }
  }
  return errs;
}

ErrorList ValidateSubPath(std::string_view sub, const FieldPath& path) {
  ErrorList errs;
  if (sub.empty()) return errs;
  if (sub.front() == '/')
    errs.push_back(Invalid(path, BadValue::Str(sub), "must be a relative path"));
  size_t start = 0;
  while (start <= sub.size()) {
    size_t slash = sub.find('/', start);
    std::string_view part =
        sub.substr(start, slash == std::string_view::npos ? sub.npos : slash - start);
    if (part == "..") {
      errs.push_back(Invalid(path, BadValue::Str(sub), "must not contain '..'"));
      break;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return errs;
}

// Checks shared by every container kind (upstream's validateContainerCommon), in its order.
ErrorList ValidateContainerCommon(const JsonV& c, const FieldPath& path,
                                  const std::set<std::string>& volumes) {
  ErrorList errs;
  std::string_view name = Str(Get(&c, "name"));
  if (name.empty()) {
    errs.push_back(Required(path.Child("name")));
  } else {
    Append(errs, ValidateDNS1123LabelField(name, path.Child("name")));
  }
  if (Str(Get(&c, "image")).empty()) errs.push_back(Required(path.Child("image")));
  CheckEnum(errs, Get(&c, "terminationMessagePolicy"), path.Child("terminationMessagePolicy"),
            kTerminationMessagePolicies);

  if (const json::array* ports = Arr(Get(&c, "ports"))) {
    std::set<std::string> names;
    for (size_t i = 0; i < ports->size(); ++i) {
      const JsonV& p = (*ports)[i];
      FieldPath pp = path.Child("ports").Index(i);
      std::string_view pname = Str(Get(&p, "name"));
      if (!pname.empty()) {
        auto msgs = IsValidPortName(pname);
        for (auto& m : msgs) errs.push_back(Invalid(pp.Child("name"), BadValue::Str(pname), m));
        if (msgs.empty() && !names.insert(std::string(pname)).second) {
          errs.push_back(Duplicate(pp.Child("name"), BadValue::Str(pname)));
        }
      }
      int64_t cport = Int(Get(&p, "containerPort")).value_or(0);
      if (cport == 0) {
        errs.push_back(Required(pp.Child("containerPort")));
      } else {
        for (auto& m : IsValidPortNum(cport)) {
          errs.push_back(Invalid(pp.Child("containerPort"), BadValue::Int(cport), m));
        }
      }
      int64_t hport = Int(Get(&p, "hostPort")).value_or(0);
      if (hport != 0) {
        for (auto& m : IsValidPortNum(hport)) {
          errs.push_back(Invalid(pp.Child("hostPort"), BadValue::Int(hport), m));
        }
      }
      CheckEnum(errs, Get(&p, "protocol"), pp.Child("protocol"), kProtocols);
    }
  }
  Append(errs, ValidateEnv(Get(&c, "env"), path.Child("env")));
  if (const json::array* ef = Arr(Get(&c, "envFrom"))) {
    for (size_t i = 0; i < ef->size(); ++i) {
      FieldPath ep = path.Child("envFrom").Index(i);
      int n = (IsNull(Get(&(*ef)[i], "configMapRef")) ? 0 : 1) +
              (IsNull(Get(&(*ef)[i], "secretRef")) ? 0 : 1);
      if (n == 0) {
        errs.push_back(
            Invalid(ep, BadValue::Str(""), "must specify one of: `configMapRef` or `secretRef`"));
      } else if (n > 1) {
        errs.push_back(
            Invalid(ep, BadValue::Str(""), "may not have more than one field specified at a time"));
      }
    }
  }
  if (const json::array* mounts = Arr(Get(&c, "volumeMounts"))) {
    std::set<std::string> paths;
    FieldPath mounts_path = path.Child("volumeMounts");
    for (size_t i = 0; i < mounts->size(); ++i) {
      const JsonV& m = (*mounts)[i];
      FieldPath mp = mounts_path.Index(i);
      std::string_view mname = Str(Get(&m, "name"));
      if (mname.empty()) errs.push_back(Required(mp.Child("name")));
      if (volumes.count(std::string(mname)) == 0) {
        errs.push_back(NotFound(mp.Child("name"), BadValue::Str(mname)));
      }
      std::string_view mount_path = Str(Get(&m, "mountPath"));
      if (mount_path.empty()) errs.push_back(Required(mp.Child("mountPath")));
      if (!paths.insert(std::string(mount_path)).second) {
        errs.push_back(Invalid(mp.Child("mountPath"), BadValue::Str(mount_path), "must be unique"));
      }
      // Upstream reports sub-path problems without the mount's index.
      Append(errs, ValidateSubPath(Str(Get(&m, "subPath")), mounts_path.Child("subPath")));
    }
  }
  CheckEnum(errs, Get(&c, "imagePullPolicy"), path.Child("imagePullPolicy"), kPullPolicies);
  Append(errs, ValidateResources(Get(&c, "resources"), path.Child("resources")));
  return errs;
}

// Host ports must be unique per protocol and host IP: across regular containers, and within each
// init container (they run one at a time).
ErrorList CheckHostPortConflicts(const json::array& containers, const FieldPath& path,
                                 size_t only = SIZE_MAX) {
  ErrorList errs;
  std::set<std::string> seen;
  for (size_t ci = 0; ci < containers.size(); ++ci) {
    if (only != SIZE_MAX && ci != only) continue;
    const json::array* ports = Arr(Get(&containers[ci], "ports"));
    if (ports == nullptr) continue;
    for (size_t pi = 0; pi < ports->size(); ++pi) {
      const JsonV& p = (*ports)[pi];
      int64_t hport = Int(Get(&p, "hostPort")).value_or(0);
      if (hport == 0) continue;
      std::string key = std::string(Str(Get(&p, "protocol"))) + "/" +
                        std::string(Str(Get(&p, "hostIP"))) + "/" + std::to_string(hport);
      if (!seen.insert(key).second) {
        errs.push_back(Duplicate(path.Index(ci).Child("ports").Index(pi).Child("hostPort"),
                                 BadValue::Str(key)));
      }
    }
  }
  return errs;
}

ErrorList ValidateContainers(const JsonV* list, const FieldPath& path,
                             const std::set<std::string>& volumes) {
  ErrorList errs;
  const json::array* arr = Arr(list);
  if (arr == nullptr || arr->empty()) {
    errs.push_back(Required(path));
    return errs;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < arr->size(); ++i) {
    const JsonV& c = (*arr)[i];
    FieldPath cp = path.Index(i);
    Append(errs, ValidateContainerCommon(c, cp, volumes));
    std::string_view name = Str(Get(&c, "name"));
    if (!names.insert(std::string(name)).second) {
      errs.push_back(Duplicate(cp.Child("name"), BadValue::Str(name)));
    }
    if (const JsonV* lc = Get(&c, "lifecycle"); !IsNull(lc)) {
      for (std::string_view hook : {"postStart", "preStop"}) {
        if (const JsonV* h = Get(lc, hook); !IsNull(h)) {
          Append(errs, ValidateHandler(h, cp.Child("lifecycle").Child(hook), false));
        }
      }
    }
    Append(errs, ValidateProbe(Get(&c, "livenessProbe"), cp.Child("livenessProbe"), true));
    Append(errs, ValidateProbe(Get(&c, "readinessProbe"), cp.Child("readinessProbe"), false));
    if (const JsonV* t = Path(&c, "readinessProbe", "terminationGracePeriodSeconds"); !IsNull(t)) {
      errs.push_back(Invalid(cp.Child("readinessProbe", "terminationGracePeriodSeconds"),
                             BadValue::FromJson(*t), "must not be set for readinessProbes"));
    }
    Append(errs, ValidateProbe(Get(&c, "startupProbe"), cp.Child("startupProbe"), true));
    if (!IsNull(Get(&c, "restartPolicy"))) {
      errs.push_back(
          Forbidden(cp.Child("restartPolicy"), "may not be set for non-init containers"));
    }
  }
  Append(errs, CheckHostPortConflicts(*arr, path));
  return errs;
}

ErrorList ValidateInitContainers(const JsonV* list, const JsonV* regular, const FieldPath& path,
                                 const std::set<std::string>& volumes) {
  ErrorList errs;
  const json::array* arr = Arr(list);
  if (arr == nullptr) return errs;
  std::set<std::string> names;
  if (const json::array* reg = Arr(regular)) {
    for (const auto& c : *reg) names.insert(std::string(Str(Get(&c, "name"))));
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const JsonV& c = (*arr)[i];
    FieldPath cp = path.Index(i);
    Append(errs, ValidateContainerCommon(c, cp, volumes));
    std::string_view restart = Str(Get(&c, "restartPolicy"));
    if (!restart.empty() && restart != "Always") {
      errs.push_back(NotSupported(cp.Child("restartPolicy"), BadValue::Str(restart), {"Always"}));
    }
    std::string_view name = Str(Get(&c, "name"));
    if (names.count(std::string(name)) > 0) {
      errs.push_back(Duplicate(cp.Child("name"), BadValue::Str(name)));
    } else if (!name.empty()) {
      names.insert(std::string(name));
    }
    Append(errs, CheckHostPortConflicts(*arr, path, i));
    if (restart == "Always") {
      Append(errs, ValidateProbe(Get(&c, "livenessProbe"), cp.Child("livenessProbe"), true));
      Append(errs, ValidateProbe(Get(&c, "readinessProbe"), cp.Child("readinessProbe"), false));
      Append(errs, ValidateProbe(Get(&c, "startupProbe"), cp.Child("startupProbe"), true));
    } else {
      for (std::string_view f : {"lifecycle", "livenessProbe", "readinessProbe", "startupProbe"}) {
        if (!IsNull(Get(&c, f))) {
          errs.push_back(Forbidden(
              cp.Child(f), "may not be set for init containers without restartPolicy=Always"));
        }
      }
    }
  }
  return errs;
}

ErrorList ValidateVolumes(const JsonV* vols, const FieldPath& path, std::set<std::string>& names) {
  ErrorList errs;
  const json::array* arr = Arr(vols);
  if (arr == nullptr) return errs;
  for (size_t i = 0; i < arr->size(); ++i) {
    const JsonV& v = (*arr)[i];
    FieldPath vp = path.Index(i);
    int n = 0;
    for (std::string_view src : VolumeSourceFields()) {
      const JsonV* s = Get(&v, src);
      if (IsNull(s)) continue;
      if (n++ > 0) {
        errs.push_back(Forbidden(vp.Child(src), "may not specify more than 1 volume type"));
        continue;
      }
      if (src == "hostPath" && Str(Get(s, "path")).empty()) {
        errs.push_back(Required(vp.Child(src, "path")));
      } else if (src == "secret" && Str(Get(s, "secretName")).empty()) {
        errs.push_back(Required(vp.Child(src, "secretName")));
      } else if (src == "persistentVolumeClaim" && Str(Get(s, "claimName")).empty()) {
        errs.push_back(Required(vp.Child(src, "claimName")));
      } else if (src == "nfs") {
        if (Str(Get(s, "server")).empty()) errs.push_back(Required(vp.Child(src, "server")));
        if (Str(Get(s, "path")).empty()) errs.push_back(Required(vp.Child(src, "path")));
      } else if (src == "emptyDir") {
        if (const JsonV* lim = Get(s, "sizeLimit"); !IsNull(lim)) {
          if (auto q = ParseQ(*lim); q && q->Sign() < 0) {
            errs.push_back(Invalid(vp.Child(src, "sizeLimit"), BadValue::Str(q->String()),
                                   "must be greater than or equal to 0"));
          }
        }
      }
      if (auto mode = Int(Get(s, "defaultMode")); mode && (*mode < 0 || *mode > 0777)) {
        errs.push_back(Invalid(vp.Child(src, "defaultMode"), BadValue::Int(*mode),
                               "must be a number between 0 and 0777 (octal), both inclusive"));
      }
    }
    if (n == 0) errs.push_back(Required(vp, "must specify a volume type"));
    std::string_view name = Str(Get(&v, "name"));
    if (name.empty()) {
      errs.push_back(Required(vp.Child("name")));
    } else {
      Append(errs, ValidateDNS1123LabelField(name, vp.Child("name")));
    }
    if (!names.insert(std::string(name)).second) {
      errs.push_back(Duplicate(vp.Child("name"), BadValue::Str(name)));
    }
  }
  return errs;
}

ErrorList ValidateTolerations(const JsonV* tols, const FieldPath& path) {
  ErrorList errs;
  const json::array* arr = Arr(tols);
  if (arr == nullptr) return errs;
  for (size_t i = 0; i < arr->size(); ++i) {
    const JsonV& t = (*arr)[i];
    FieldPath tp = path.Index(i);
    std::string_view key = Str(Get(&t, "key"));
    std::string_view op = Str(Get(&t, "operator"));
    std::string_view value = Str(Get(&t, "value"));
    std::string_view effect = Str(Get(&t, "effect"));
    if (!key.empty()) {
      for (auto& m : IsQualifiedName(key))
        errs.push_back(Invalid(tp.Child("key"), BadValue::Str(key), m));
    }
    if (key.empty() && op != "Exists") {
      errs.push_back(Invalid(tp.Child("operator"), BadValue::Str(op),
                             "operator must be Exists when `key` is empty, which means \"match "
                             "all values and all keys\""));
    }
    if (!IsNull(Get(&t, "tolerationSeconds")) && effect != "NoExecute") {
      errs.push_back(Invalid(tp.Child("effect"), BadValue::Str(effect),
                             "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (op.empty() || op == "Equal") {
      for (auto& m : IsValidLabelValue(value)) {
        errs.push_back(Invalid(tp.Child("operator"), BadValue::Str(value), m));
      }
    } else if (op == "Exists") {
      if (!value.empty()) {
        errs.push_back(Invalid(tp.Child("operator"), BadValue::FromJson(t),
                               "value must be empty when `operator` is 'Exists'"));
      }
    } else {
      errs.push_back(NotSupported(tp.Child("operator"), BadValue::Str(op), {"Equal", "Exists"}));
    }
    if (!effect.empty() && !Contains(kTaintEffects, effect)) {
      errs.push_back(NotSupported(tp.Child("effect"), BadValue::Str(effect), kTaintEffects));
    }
  }
  return errs;
}

}  // namespace

ErrorList ValidateDNS1123LabelField(std::string_view value, const FieldPath& path) {
  ErrorList errs;
  for (auto& m : IsDNS1123Label(value)) errs.push_back(Invalid(path, BadValue::Str(value), m));
  return errs;
}

ErrorList ValidateDNS1123SubdomainField(std::string_view value, const FieldPath& path) {
  ErrorList errs;
  for (auto& m : IsDNS1123Subdomain(value)) errs.push_back(Invalid(path, BadValue::Str(value), m));
  return errs;
}

ErrorList ValidatePodSpec(const JsonV* spec, const FieldPath& path) {
  ErrorList errs;
  if (IsNull(Get(spec, "terminationGracePeriodSeconds"))) {
    errs.push_back(Required(path.Child("terminationGracePeriodSeconds")));
  }
  std::set<std::string> volumes;
  Append(errs, ValidateVolumes(Get(spec, "volumes"), path.Child("volumes"), volumes));
  Append(errs, ValidateContainers(Get(spec, "containers"), path.Child("containers"), volumes));
  Append(errs, ValidateInitContainers(Get(spec, "initContainers"), Get(spec, "containers"),
                                      path.Child("initContainers"), volumes));
  CheckEnum(errs, Get(spec, "restartPolicy"), path.Child("restartPolicy"), kRestartPolicies);
  CheckEnum(errs, Get(spec, "dnsPolicy"), path.Child("dnsPolicy"), kDNSPolicies);
  Append(errs, ValidateLabels(Get(spec, "nodeSelector"), path.Child("nodeSelector")));
  if (Str(Get(spec, "dnsPolicy")) == "None") {
    if (IsNull(Get(spec, "dnsConfig"))) {
      errs.push_back(
          Required(path.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"));
    } else if (Len(Path(spec, "dnsConfig", "nameservers")) == 0) {
      errs.push_back(Required(path.Child("dnsConfig", "nameservers"),
                              "must provide at least one DNS nameserver when `dnsPolicy` is None"));
    }
  }
  if (const json::array* ns = Arr(Path(spec, "dnsConfig", "nameservers"))) {
    for (size_t i = 0; i < ns->size(); ++i) {
      std::string_view ip = Str(&(*ns)[i]);
      for (auto& m : IsValidIP(ip)) {
        errs.push_back(
            Invalid(path.Child("dnsConfig", "nameservers").Index(i), BadValue::Str(ip), m));
      }
    }
  }
  if (std::string_view sa = Str(Get(spec, "serviceAccountName")); !sa.empty()) {
    Append(errs, ValidateDNS1123SubdomainField(sa, path.Child("serviceAccountName")));
  }
  if (std::string_view node = Str(Get(spec, "nodeName")); !node.empty()) {
    Append(errs, ValidateDNS1123SubdomainField(node, path.Child("nodeName")));
  }
  if (auto ads = Int(Get(spec, "activeDeadlineSeconds"))) {
    if (*ads < 1 || *ads > INT32_MAX) {
      errs.push_back(Invalid(path.Child("activeDeadlineSeconds"), BadValue::Int(*ads),
                             InclusiveRangeError(1, INT32_MAX)));
    }
  }
  if (std::string_view h = Str(Get(spec, "hostname")); !h.empty()) {
    Append(errs, ValidateDNS1123LabelField(h, path.Child("hostname")));
  }
  if (std::string_view s = Str(Get(spec, "subdomain")); !s.empty()) {
    Append(errs, ValidateDNS1123LabelField(s, path.Child("subdomain")));
  }
  Append(errs, ValidateTolerations(Get(spec, "tolerations"), path.Child("tolerations")));
  return errs;
}

ErrorList ValidatePodTemplateSpec(const JsonV* tmpl, const FieldPath& path) {
  ErrorList errs;
  const JsonV* meta = Get(tmpl, "metadata");
  // Upstream reports template labels and annotations without "metadata" in the path.
  Append(errs, ValidateLabels(Get(meta, "labels"), path.Child("labels")));
  Append(errs, ValidateAnnotations(Get(meta, "annotations"), path.Child("annotations")));
  Append(errs, ValidatePodSpec(Get(tmpl, "spec"), path.Child("spec")));
  if (Len(Path(tmpl, "spec", "ephemeralContainers")) > 0) {
    errs.push_back(Forbidden(path.Child("spec", "ephemeralContainers"),
                             "ephemeral containers not allowed in pod template"));
  }
  return errs;
}

namespace {

// Pod updates may change only images, activeDeadlineSeconds (down), tolerations (additions) and
// terminationGracePeriodSeconds (negative to 1); everything else is compared as a whole.
ErrorList ValidatePodSpecUpdate(const JsonV* spec, const JsonV* old_spec, const FieldPath& path) {
  ErrorList errs;
  FieldPath ads_path = path.Child("activeDeadlineSeconds");
  if (auto n = Int(Get(spec, "activeDeadlineSeconds"))) {
    if (*n < 0 || *n > INT32_MAX) {
      errs.push_back(Invalid(ads_path, BadValue::Int(*n), InclusiveRangeError(0, INT32_MAX)));
      return errs;
    }
    if (auto o = Int(Get(old_spec, "activeDeadlineSeconds")); o && *o < *n) {
      errs.push_back(
          Invalid(ads_path, BadValue::Int(*n), "must be less than or equal to previous value"));
      return errs;
    }
  } else if (Int(Get(old_spec, "activeDeadlineSeconds"))) {
    errs.push_back(Invalid(ads_path, BadValue::Null(),
                           "must not update from a positive integer to nil value"));
  }
  for (std::string_view list : {"containers", "initContainers"}) {
    if (const json::array* cs = Arr(Get(spec, list))) {
      for (size_t i = 0; i < cs->size(); ++i) {
        if (Str(Get(&(*cs)[i], "image")).empty()) {
          errs.push_back(Required(path.Child(list).Index(i).Child("image")));
        }
      }
    }
  }
  // Munge the new spec with the old values of the mutable fields, then compare.
  json::value munged = spec != nullptr ? *spec : json::value(json::object{});
  json::object empty;
  const json::object& old_obj = Obj(old_spec) != nullptr ? *Obj(old_spec) : empty;
  if (munged.is_object()) {
    json::object& m = munged.get_object();
    for (std::string_view list : {"containers", "initContainers"}) {
      json::array* cs = MutArr(m, list);
      const json::array* ocs = Arr(old_obj.if_contains(list));
      if (cs == nullptr || ocs == nullptr || cs->size() != ocs->size()) continue;
      for (size_t i = 0; i < cs->size(); ++i) {
        if (!(*cs)[i].is_object()) continue;
        const JsonV* oimg = Get(&(*ocs)[i], "image");
        if (oimg != nullptr) {
          (*cs)[i].get_object()["image"] = *oimg;
        } else {
          (*cs)[i].get_object().erase("image");
        }
      }
    }
    auto copy_old = [&](std::string_view f) {
      if (const JsonV* o = old_obj.if_contains(f)) {
        m[f] = *o;
      } else {
        m.erase(f);
      }
    };
    copy_old("activeDeadlineSeconds");
    // Tolerations: allowed when every old toleration is still present.
    const json::array* nt = Arr(m.if_contains("tolerations"));
    const json::array* ot = Arr(old_obj.if_contains("tolerations"));
    bool only_added = true;
    if (ot != nullptr) {
      for (const auto& t : *ot) {
        bool found = false;
        if (nt != nullptr) {
          for (const auto& u : *nt) {
            json::value a = t, b = u;
            if (a.is_object()) a.get_object().erase("tolerationSeconds");
            if (b.is_object()) b.get_object().erase("tolerationSeconds");
            found = found || a == b;
          }
        }
        only_added = only_added && found;
      }
    }
    if (only_added) copy_old("tolerations");
    auto ntg = Int(m.if_contains("terminationGracePeriodSeconds"));
    auto otg = Int(old_obj.if_contains("terminationGracePeriodSeconds"));
    if (ntg && otg && *otg < 0 && *ntg == 1) copy_old("terminationGracePeriodSeconds");
  }
  if (!(old_spec != nullptr && munged == *old_spec)) {
    errs.push_back(
        Forbidden(path,
                  "pod updates may not change fields other than `spec.containers[*].image`,"
                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                  "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                  "(allow it to be set to 1 if it was previously negative)"));
  }
  return errs;
}

}  // namespace

ErrorList ValidatePod(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  FieldPath spec_path("spec");
  if (old != nullptr) return ValidatePodSpecUpdate(Get(&obj, "spec"), Get(old, "spec"), spec_path);
  return ValidatePodSpec(Get(&obj, "spec"), spec_path);
}

}  // namespace mini8s::api::vdetail
