// Core kinds other than Pod: Service, ConfigMap, Secret, Namespace, Node, PersistentVolumeClaim,
// Event, ReplicationController (upstream pkg/apis/core/validation).
#include <algorithm>
#include <optional>
#include <set>

#include <boost/json/parse.hpp>

#include "api/validation/json_util.h"
#include "api/validation/kinds.h"
#include "mini8s/api/quantity.h"
#include "mini8s/common/json.h"

namespace mini8s::api::vdetail {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxSecretSize = 1024 * 1024;

std::string GoServicePortKey(std::string_view protocol, int64_t port) {
  return "core.ServicePort{Name:\"\", Protocol:" + GoQuote(protocol) +
         ", AppProtocol:(*string)(nil), Port:" + std::to_string(port) +
         ", TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}";
}

bool IsHeadless(const JsonV& svc) { return Str(Path(&svc, "spec", "clusterIP")) == "None"; }

// Decoded size of a base64 string (Secret data values on the wire).
int64_t Base64DecodedSize(std::string_view s) {
  int64_t n = 0, pad = 0;
  for (char c : s) {
    if (c == '=') {
      ++pad;
    } else if (c != '\n' && c != '\r') {
      ++n;
    }
  }
  return (n + pad) / 4 * 3 - pad + ((n + pad) % 4 == 0 ? 0 : ((n % 4) * 3) / 4);
}

}  // namespace

ErrorList ValidateService(const JsonV& obj, const JsonV* old, const ValidationContext& ctx) {
  // The order follows upstream's ValidateService so messages appear in the same sequence.
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  std::string_view type = Str(Get(spec, "type"));
  bool headless = IsHeadless(obj);
  const json::array* ports = Arr(Get(spec, "ports"));
  size_t nports = ports != nullptr ? ports->size() : 0;

  if (nports == 0 && !headless && type != "ExternalName") {
    errs.push_back(Required(sp.Child("ports")));
  }
  const json::array* ips = Arr(Get(spec, "clusterIPs"));
  std::string_view first_ip =
      ips != nullptr && !ips->empty() ? Str(&(*ips)[0]) : Str(Get(spec, "clusterIP"));
  if ((type == "LoadBalancer" || type == "NodePort") && first_ip == "None") {
    errs.push_back(Invalid(sp.Child("clusterIPs").Index(0), BadValue::Str(first_ip),
                           "may not be set to 'None' for " + std::string(type) + " services"));
  }
  if (type == "ExternalName") {
    if (Len(Get(spec, "clusterIPs")) > 0 || (!Str(Get(spec, "clusterIP")).empty())) {
      errs.push_back(Forbidden(sp.Child("clusterIPs"), "may not be set for ExternalName services"));
    }
    std::string ext(Str(Get(spec, "externalName")));
    if (ext.empty()) {
      errs.push_back(Required(sp.Child("externalName")));
    } else {
      if (ext.back() == '.') ext.pop_back();
      auto msgs = IsDNS1123Subdomain(ext);
      if (!msgs.empty()) {
        std::string joined;
        for (size_t i = 0; i < msgs.size(); ++i) joined += (i ? "," : "") + msgs[i];
        errs.push_back(Invalid(sp.Child("externalName"), BadValue::Str(ext), joined));
      } else if (ext.find('.') == std::string::npos) {
        errs.push_back(Invalid(sp.Child("externalName"), BadValue::Str(ext),
                               "should be a domain with at least two segments separated by dots"));
      }
    }
  }

  // Ports.
  std::set<std::string> names;
  for (size_t i = 0; i < nports; ++i) {
    const JsonV& p = (*ports)[i];
    FieldPath pp = sp.Child("ports").Index(i);
    std::string_view name = Str(Get(&p, "name"));
    if (nports > 1 && name.empty()) {
      errs.push_back(Required(pp.Child("name")));
    } else if (!name.empty()) {
      Append(errs, ValidateDNS1123LabelField(name, pp.Child("name")));
      if (!names.insert(std::string(name)).second) {
        errs.push_back(Duplicate(pp.Child("name"), BadValue::Str(name)));
      }
    }
    int64_t port = Int(Get(&p, "port")).value_or(0);
    for (auto& m : IsValidPortNum(port))
      errs.push_back(Invalid(pp.Child("port"), BadValue::Int(port), m));
    CheckEnum(errs, Get(&p, "protocol"), pp.Child("protocol"), {"SCTP", "TCP", "UDP"});
    const JsonV* target = Get(&p, "targetPort");
    if (target != nullptr && target->is_string()) {
      for (auto& m : IsValidPortName(target->get_string())) {
        errs.push_back(Invalid(pp.Child("targetPort"), BadValue::Str(target->get_string()), m));
      }
    } else {
      int64_t t = Int(target).value_or(0);
      for (auto& m : IsValidPortNum(t))
        errs.push_back(Invalid(pp.Child("targetPort"), BadValue::Int(t), m));
    }
  }
  Append(errs, ValidateLabels(Get(spec, "selector"), sp.Child("selector")));

  std::string_view affinity = Str(Get(spec, "sessionAffinity"));
  CheckEnum(errs, Get(spec, "sessionAffinity"), sp.Child("sessionAffinity"), {"ClientIP", "None"});
  if (affinity == "ClientIP") {
    const JsonV* cfg = Get(spec, "sessionAffinityConfig");
    if (IsNull(cfg)) {
      errs.push_back(
          Required(sp.Child("sessionAffinityConfig"), "when session affinity type is ClientIP"));
    } else if (IsNull(Get(cfg, "clientIP"))) {
      errs.push_back(Required(sp.Child("sessionAffinityConfig", "clientIP"),
                              "when session affinity type is ClientIP"));
    }
    auto timeout = Int(Path(cfg, "clientIP", "timeoutSeconds"));
    if (timeout && (*timeout <= 0 || *timeout > 86400)) {
      errs.push_back(Invalid(sp.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"),
                             BadValue::Int(*timeout), InclusiveRangeError(1, 86400)));
    }
  } else if (affinity == "None" && !IsNull(Get(spec, "sessionAffinityConfig"))) {
    errs.push_back(Forbidden(sp.Child("sessionAffinityConfig"),
                             "must not be set when session affinity is None"));
  }

  if (ips != nullptr) {
    for (size_t i = 0; i < ips->size(); ++i) {
      std::string_view ip = Str(&(*ips)[i]);
      if (i == 0 && ip == "None") {
        if (ips->size() > 1) {
          errs.push_back(Invalid(sp.Child("clusterIPs"),
                                 BadValue::Rendered(GoStringSlice(Get(spec, "clusterIPs"))),
                                 "'None' must be the first and only value"));
        }
        continue;
      }
      for (auto& m : IsValidIP(ip)) {
        errs.push_back(Invalid(sp.Child("clusterIPs").Index(i), BadValue::Str(ip), m));
      }
    }
  } else if (std::string_view ip = Str(Get(spec, "clusterIP")); !ip.empty() && ip != "None") {
    for (auto& m : IsValidIP(ip)) {
      errs.push_back(Invalid(sp.Child("clusterIPs").Index(0), BadValue::Str(ip), m));
    }
  }
  if (const json::array* ext = Arr(Get(spec, "externalIPs"))) {
    for (size_t i = 0; i < ext->size(); ++i) {
      std::string_view ip = Str(&(*ext)[i]);
      for (auto& m : IsValidIP(ip)) {
        errs.push_back(Invalid(sp.Child("externalIPs").Index(i), BadValue::Str(ip), m));
      }
    }
  }
  CheckEnum(errs, Get(spec, "type"), sp.Child("type"),
            {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});

  std::set<std::pair<std::string, int64_t>> seen_ports, seen_node_ports;
  for (size_t i = 0; i < nports; ++i) {
    int64_t np = Int(Get(&(*ports)[i], "nodePort")).value_or(0);
    if (type == "ClusterIP" && np != 0) {
      errs.push_back(Forbidden(sp.Child("ports").Index(i).Child("nodePort"),
                               "may not be used when `type` is 'ClusterIP'"));
    }
  }
  for (size_t i = 0; i < nports; ++i) {
    const JsonV& p = (*ports)[i];
    int64_t np = Int(Get(&p, "nodePort")).value_or(0);
    if (np == 0) continue;
    if (!seen_node_ports.insert({std::string(Str(Get(&p, "protocol"))), np}).second) {
      errs.push_back(Duplicate(sp.Child("ports").Index(i).Child("nodePort"), BadValue::Int(np)));
    }
  }
  for (size_t i = 0; i < nports; ++i) {
    const JsonV& p = (*ports)[i];
    std::string_view proto = Str(Get(&p, "protocol"));
    int64_t port = Int(Get(&p, "port")).value_or(0);
    if (!seen_ports.insert({std::string(proto), port}).second) {
      errs.push_back(
          Duplicate(sp.Child("ports").Index(i), BadValue::Rendered(GoServicePortKey(proto, port))));
    }
  }

  bool external = type == "NodePort" || type == "LoadBalancer" ||
                  (type == "ClusterIP" && Len(Get(spec, "externalIPs")) > 0);
  FieldPath etp_path = sp.Child("externalTrafficPolicy");
  std::string_view etp = Str(Get(spec, "externalTrafficPolicy"));
  if (!external) {
    if (!etp.empty()) {
      errs.push_back(Invalid(etp_path, BadValue::Str(etp),
                             "may only be set for externally-accessible services"));
    }
  } else {
    CheckEnum(errs, Get(spec, "externalTrafficPolicy"), etp_path, {"Cluster", "Local"});
  }
  FieldPath itp_path = sp.Child("internalTrafficPolicy");
  std::string_view itp = Str(Get(spec, "internalTrafficPolicy"));
  if (IsNull(Get(spec, "internalTrafficPolicy"))) {
    if (type == "ClusterIP" || type == "NodePort" || type == "LoadBalancer") {
      errs.push_back(Required(itp_path, "must be specified"));
    }
  } else if (itp != "Cluster" && itp != "Local") {
    errs.push_back(NotSupported(itp_path, BadValue::Str(itp), {"Cluster", "Local"}));
  }

  // The NodePort allocator's range check (upstream reports it from the REST layer).
  if (type == "NodePort" || type == "LoadBalancer") {
    for (size_t i = 0; i < nports; ++i) {
      int64_t np = Int(Get(&(*ports)[i], "nodePort")).value_or(0);
      if (np != 0 && (np < ctx.node_port_min || np > ctx.node_port_max)) {
        errs.push_back(Invalid(sp.Child("ports").Index(i).Child("nodePort"), BadValue::Int(np),
                               "provided port is not in the valid range. The range of valid "
                               "ports is " +
                                   std::to_string(ctx.node_port_min) + "-" +
                                   std::to_string(ctx.node_port_max)));
      }
    }
  }

  // Update: the allocated cluster IPs never change (except to or from ExternalName).
  if (old != nullptr) {
    std::string_view old_type = Str(Path(old, "spec", "type"));
    bool both_headless = headless && IsHeadless(*old);
    if (type != "ExternalName" && old_type != "ExternalName" && !both_headless) {
      const json::array* nips = Arr(Get(spec, "clusterIPs"));
      const json::array* oips = Arr(Path(old, "spec", "clusterIPs"));
      size_t nn = nips ? nips->size() : 0, on = oips ? oips->size() : 0;
      std::string rendered = GoStringSlice(Get(spec, "clusterIPs"));
      if (nn == on) {
        for (size_t i = 0; i < on; ++i) {
          if ((*oips)[i] != (*nips)[i]) {
            errs.push_back(Invalid(sp.Child("clusterIPs").Index(i), BadValue::Rendered(rendered),
                                   "may not change once set"));
          }
        }
      } else if (on > nn) {
        if (nn == 0) {
          errs.push_back(Invalid(sp.Child("clusterIPs").Index(0), BadValue::Rendered(rendered),
                                 "primary clusterIP can not be unset"));
        } else if ((*oips)[0] != (*nips)[0]) {
          errs.push_back(Invalid(sp.Child("clusterIPs").Index(0), BadValue::Rendered(rendered),
                                 "may not change once set"));
        }
      } else if (on > 0 && (*oips)[0] != (*nips)[0]) {
        errs.push_back(Invalid(sp.Child("clusterIPs").Index(0), BadValue::Rendered(rendered),
                               "may not change once set"));
      }
    }
  }
  return errs;
}

namespace {

ErrorList ValidateImmutableData(const JsonV& obj, const JsonV* old) {
  ErrorList errs;
  if (old == nullptr || !Bool(Get(old, "immutable"))) return errs;
  if (!Bool(Get(&obj, "immutable"))) {
    errs.push_back(Forbidden(FieldPath("immutable"), "field is immutable when `immutable` is set"));
  }
  for (std::string_view f : {"data", "binaryData"}) {
    const JsonV* n = Get(&obj, f);
    const JsonV* o = Get(old, f);
    bool ne = IsNull(n) || Len(n) == 0, oe = IsNull(o) || Len(o) == 0;
    if ((ne != oe) || (!ne && *n != *o)) {
      errs.push_back(Forbidden(FieldPath(f), "field is immutable when `immutable` is set"));
    }
  }
  return errs;
}

}  // namespace

ErrorList ValidateConfigMap(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs = ValidateImmutableData(obj, old);
  int64_t total = 0;
  const json::object* data = Obj(Get(&obj, "data"));
  const json::object* bin = Obj(Get(&obj, "binaryData"));
  if (data != nullptr) {
    for (const auto& kv : *data) {
      FieldPath p = FieldPath("data").Key(kv.key());
      for (auto& m : IsConfigMapKey(kv.key()))
        errs.push_back(Invalid(p, BadValue::Str(kv.key()), m));
      if (bin != nullptr && bin->contains(kv.key())) {
        errs.push_back(
            Invalid(p, BadValue::Str(kv.key()), "duplicate of key present in binaryData"));
      }
      total += static_cast<int64_t>(Str(&kv.value()).size());
    }
  }
  if (bin != nullptr) {
    for (const auto& kv : *bin) {
      FieldPath p = FieldPath("binaryData").Key(kv.key());
      for (auto& m : IsConfigMapKey(kv.key()))
        errs.push_back(Invalid(p, BadValue::Str(kv.key()), m));
      total += Base64DecodedSize(Str(&kv.value()));
    }
  }
  // Upstream's empty field path renders as "[]".
  if (total > kMaxSecretSize) errs.push_back(TooLong(FieldPath("[]"), kMaxSecretSize));
  return errs;
}

ErrorList ValidateSecret(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  if (old != nullptr) {
    std::string_view new_type = Str(Get(&obj, "type"));
    if (new_type != Str(Get(old, "type"))) {
      errs.push_back(Invalid(FieldPath("type"), BadValue::Str(new_type), "field is immutable"));
    }
    Append(errs, ValidateImmutableData(obj, old));
  }
  FieldPath dp("data");
  const json::object* data = Obj(Get(&obj, "data"));
  int64_t total = 0;
  if (data != nullptr) {
    for (const auto& kv : *data) {
      for (auto& m : IsConfigMapKey(kv.key())) {
        errs.push_back(Invalid(dp.Key(kv.key()), BadValue::Str(kv.key()), m));
      }
      total += Base64DecodedSize(Str(&kv.value()));
    }
  }
  if (const json::object* sd = Obj(Get(&obj, "stringData"))) {
    for (const auto& kv : *sd) {
      for (auto& m : IsConfigMapKey(kv.key())) {
        errs.push_back(Invalid(FieldPath("stringData").Key(kv.key()), BadValue::Str(kv.key()), m));
      }
      total += static_cast<int64_t>(Str(&kv.value()).size());
    }
  }
  if (total > kMaxSecretSize) errs.push_back(TooLong(dp, kMaxSecretSize));

  auto has = [&](std::string_view key) {
    return (data != nullptr && data->contains(key)) ||
           (Obj(Get(&obj, "stringData")) != nullptr && Obj(Get(&obj, "stringData"))->contains(key));
  };
  auto decoded = [&](std::string_view key) -> std::string {
    if (const json::object* sd = Obj(Get(&obj, "stringData")); sd && sd->contains(key)) {
      return std::string(Str(sd->if_contains(key)));
    }
    std::string in(Str(data ? data->if_contains(key) : nullptr)), out;
    int val = 0, bits = -8;
    for (char c : in) {
      const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const char* pos = std::char_traits<char>::find(table, 64, c);
      if (pos == nullptr) continue;
      val = (val << 6) + static_cast<int>(pos - table);
      bits += 6;
      if (bits >= 0) {
        out.push_back(static_cast<char>((val >> bits) & 0xFF));
        bits -= 8;
      }
    }
    return out;
  };
  std::string_view type = Str(Get(&obj, "type"));
  if (type == "kubernetes.io/service-account-token") {
    if (Str(Path(&obj, "metadata", "annotations", "kubernetes.io/service-account.name")).empty()) {
      errs.push_back(Required(
          FieldPath("metadata").Child("annotations").Key("kubernetes.io/service-account.name")));
    }
  } else if (type == "kubernetes.io/dockercfg" || type == "kubernetes.io/dockerconfigjson") {
    std::string key = type == "kubernetes.io/dockercfg" ? ".dockercfg" : ".dockerconfigjson";
    if (!has(key)) {
      errs.push_back(Required(dp.Key(key)));
    } else {
      boost::system::error_code ec;
      json::value parsed = json::parse(decoded(key), ec);
      if (ec) {
        errs.push_back(
            Invalid(dp.Key(key), BadValue::Str("<secret contents redacted>"), ec.message()));
      }
    }
  } else if (type == "kubernetes.io/basic-auth") {
    if (!has("username") && !has("password")) {
      errs.push_back(Required(dp.Key("username")));
      errs.push_back(Required(dp.Key("password")));
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (decoded("ssh-privatekey").empty()) errs.push_back(Required(dp.Key("ssh-privatekey")));
  } else if (type == "kubernetes.io/tls") {
    if (!has("tls.crt")) errs.push_back(Required(dp.Key("tls.crt")));
    if (!has("tls.key")) errs.push_back(Required(dp.Key("tls.key")));
  }
  return errs;
}

ErrorList ValidateNamespace(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  if (const json::array* fins = Arr(Path(&obj, "spec", "finalizers"))) {
    for (size_t i = 0; i < fins->size(); ++i) {
      std::string_view f = Str(&(*fins)[i]);
      FieldPath p = FieldPath("spec").Child("finalizers");
      for (auto& m : IsQualifiedName(f)) errs.push_back(Invalid(p, BadValue::Str(f), m));
      // Standard finalizers have no domain; others must be domain-qualified.
      if (f.find('/') == std::string_view::npos && f != "kubernetes" && f != "orphan" &&
          f != "foregroundDeletion") {
        errs.push_back(Invalid(p, BadValue::Str(f),
                               "name is neither a standard finalizer name nor is it fully "
                               "qualified"));
      }
    }
  }
  return errs;
}

ErrorList ValidateNode(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  const json::array* taints = Arr(Path(&obj, "spec", "taints"));
  if (taints == nullptr) return errs;
  // Upstream reports spec.taints under "metadata.taints".
  FieldPath base = FieldPath("metadata").Child("taints");
  std::set<std::string> seen;
  for (size_t i = 0; i < taints->size(); ++i) {
    const JsonV& t = (*taints)[i];
    FieldPath tp = base.Index(i);
    std::string_view key = Str(Get(&t, "key"));
    for (auto& m : IsQualifiedName(key))
      errs.push_back(Invalid(tp.Child("key"), BadValue::Str(key), m));
    std::string_view value = Str(Get(&t, "value"));
    auto vmsgs = IsValidLabelValue(value);
    if (!vmsgs.empty()) {
      std::string joined;
      for (size_t k = 0; k < vmsgs.size(); ++k) joined += (k ? ";" : "") + vmsgs[k];
      errs.push_back(Invalid(tp.Child("value"), BadValue::Str(value), joined));
    }
    std::string_view effect = Str(Get(&t, "effect"));
    CheckEnum(errs, Get(&t, "effect"), tp.Child("effect"),
              {"NoSchedule", "PreferNoSchedule", "NoExecute"});
    if (!seen.insert(std::string(effect) + "\x1f" + std::string(key)).second) {
      FieldError dup = Duplicate(
          tp, BadValue::Rendered("core.Taint{Key:" + GoQuote(key) + ", Value:" + GoQuote(value) +
                                 ", Effect:" + GoQuote(effect) + ", TimeAdded:(*v1.Time)(nil)}"));
      dup.detail = "taints must be unique by key and effect pair";
      errs.push_back(std::move(dup));
    }
  }
  return errs;
}

ErrorList ValidatePVC(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  if (old != nullptr) {
    // The binder may set volumeName once; a bound claim may change its storage request
    // (expansion) and volumeAttributesClassName; everything else is fixed.
    json::value a = spec ? *spec : json::value(json::object{});
    json::value b = Get(old, "spec") ? *Get(old, "spec") : json::value(json::object{});
    bool bound = Str(Path(&obj, "status", "phase")) == "Bound";
    if (a.is_object() && b.is_object()) {
      json::object& na = a.get_object();
      json::object& ob = b.get_object();
      if (Str(ob.if_contains("volumeName")).empty()) {
        if (const json::value* vn = na.if_contains("volumeName")) {
          json::value copy = *vn;
          ob["volumeName"] = std::move(copy);
        } else {
          ob.erase("volumeName");
        }
      }
      if (bound) {
        json::object* nres = MutObj(na, "resources");
        json::object* nreq = nres != nullptr ? MutObj(*nres, "requests") : nullptr;
        if (nreq != nullptr) {
          if (const json::value* os = Path(old, "spec", "resources", "requests", "storage")) {
            (*nreq)["storage"] = *os;
          } else {
            nreq->erase("storage");
          }
        }
        if (na.contains("volumeAttributesClassName")) {
          if (const json::value* ov = ob.if_contains("volumeAttributesClassName")) {
            json::value copy = *ov;
            na["volumeAttributesClassName"] = std::move(copy);
          } else {
            na.erase("volumeAttributesClassName");
          }
        }
      }
    }
    if (a != b) {
      errs.push_back(Forbidden(sp,
                               "spec is immutable after creation except resources.requests "
                               "and volumeAttributesClassName for bound claims"));
    }
    auto parse = [](const JsonV* v) -> std::optional<Quantity> {
      if (v == nullptr) return Quantity();
      std::string text = v->is_string() ? std::string(v->get_string()) : SerializeJson(*v);
      auto q = Quantity::Parse(text);
      if (!q) return std::nullopt;
      return *q;
    };
    auto new_size = parse(Path(spec, "resources", "requests", "storage"));
    auto old_size = parse(Path(old, "spec", "resources", "requests", "storage"));
    if (new_size && old_size && new_size->Cmp(*old_size) < 0) {
      errs.push_back(Forbidden(FieldPath("spec").Child("resources", "requests").Child("storage"),
                               "field can not be less than previous value"));
    }
  }
  const json::array* modes = Arr(Get(spec, "accessModes"));
  if (modes == nullptr || modes->empty()) {
    errs.push_back(Required(sp.Child("accessModes"), "at least 1 access mode is required"));
  } else {
    const std::vector<std::string> supported = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                                "ReadWriteOncePod"};
    for (const auto& m : *modes) {
      std::string_view s = Str(&m);
      if (!Contains(supported, s)) {
        errs.push_back(NotSupported(sp.Child("accessModes"), BadValue::Str(s), supported));
      }
    }
  }
  FieldPath storage_path = sp.Child("resources").Key("storage");
  const JsonV* storage = Path(spec, "resources", "requests", "storage");
  if (storage == nullptr) {
    errs.push_back(Required(storage_path));
  } else {
    std::string text =
        storage->is_string() ? std::string(storage->get_string()) : SerializeJson(*storage);
    if (auto q = Quantity::Parse(text); q && q->Sign() <= 0) {
      errs.push_back(
          Invalid(storage_path, BadValue::Str(q->String()), "must be greater than zero"));
    }
  }
  if (std::string_view vm = Str(Get(spec, "volumeMode"));
      !vm.empty() && vm != "Block" && vm != "Filesystem") {
    errs.push_back(
        NotSupported(sp.Child("volumeMode"), BadValue::Str(vm), {"Block", "Filesystem"}));
  }
  Append(errs, ValidateLabelSelector(Get(spec, "selector"), sp.Child("selector")));
  return errs;
}

ErrorList ValidateEvent(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  std::string_view ns = Str(Path(&obj, "metadata", "namespace"));
  std::string_view ins = Str(Path(&obj, "involvedObject", "namespace"));
  if (!ins.empty() && ins != ns) {
    errs.push_back(Invalid(FieldPath("involvedObject").Child("namespace"), BadValue::Str(ins),
                           "does not match event.namespace"));
  }
  return errs;
}

ErrorList ValidateReplicationController(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  Append(errs, ValidateNonnegative(Get(spec, "minReadySeconds"), sp.Child("minReadySeconds")));
  const JsonV* selector = Get(spec, "selector");
  if (Len(selector) == 0) errs.push_back(Required(sp.Child("selector")));
  Append(errs, ValidateNonnegative(Get(spec, "replicas"), sp.Child("replicas")));
  const JsonV* tmpl = Get(spec, "template");
  FieldPath tp = sp.Child("template");
  if (IsNull(tmpl)) {
    errs.push_back(Required(tp));
    return errs;
  }
  const JsonV* labels = Path(tmpl, "metadata", "labels");
  if (const json::object* sel = Obj(selector)) {
    for (const auto& kv : *sel) {
      const JsonV* lv = Get(labels, kv.key());
      if (lv == nullptr || !Equal(*lv, kv.value())) {
        errs.push_back(Invalid(tp.Child("metadata", "labels"),
                               BadValue::Rendered(GoMapStringString(labels)),
                               "`selector` does not match template `labels`"));
        break;
      }
    }
  }
  Append(errs, ValidatePodTemplateSpec(tmpl, tp));
  std::string_view rp = Str(Path(tmpl, "spec", "restartPolicy"));
  if (rp != "Always") {
    errs.push_back(NotSupported(tp.Child("spec", "restartPolicy"), BadValue::Str(rp), {"Always"}));
  }
  if (!IsNull(Path(tmpl, "spec", "activeDeadlineSeconds"))) {
    errs.push_back(Forbidden(tp.Child("spec", "activeDeadlineSeconds"),
                             "activeDeadlineSeconds in ReplicationController is not Supported"));
  }
  return errs;
}

}  // namespace mini8s::api::vdetail
