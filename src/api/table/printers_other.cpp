// Cell printers for networking, RBAC, coordination, discovery, storage, policy and scheduling
// kinds, following upstream's v1.32 printers.
#include <set>

#include "api/table/printers.h"

namespace mini8s::api::table {
namespace {

namespace json = boost::json;
using json::value;

// --- ingresses ---------------------------------------------------------------------------------

value IngressClass(const RowContext& r) {
  if (!Has(r.obj, "spec.ingressClassName")) return value("<none>");
  return value(Str(r.obj, "spec.ingressClassName"));
}

// Up to three hosts; "*" when no rule names one.
value IngressHosts(const RowContext& r) {
  const json::array& rules = Arr(r.obj, "spec.rules");
  std::vector<std::string> list;
  constexpr size_t kMax = 3;
  bool more = false;
  for (const value& v : rules) {
    if (list.size() == kMax) more = true;
    std::string host = Str(AsObj(v), "host");
    if (!more && !host.empty()) list.push_back(host);
  }
  if (list.empty()) return value("*");
  std::string ret = Join(list, ",");
  if (more) ret += " + " + std::to_string(rules.size() - kMax) + " more...";
  return value(ret);
}

value IngressAddress(const RowContext& r) {
  std::set<std::string> result;
  for (const value& v : Arr(r.obj, "status.loadBalancer.ingress")) {
    const json::object& ing = AsObj(v);
    if (std::string ip = Str(ing, "ip"); !ip.empty()) {
      result.insert(ip);
    } else if (std::string host = Str(ing, "hostname"); !host.empty()) {
      result.insert(host);
    }
  }
  return value(Join(std::vector<std::string>(result.begin(), result.end()), ","));
}

value IngressPorts(const RowContext& r) {
  return value(Arr(r.obj, "spec.tls").empty() ? "80" : "80, 443");
}

value IngressClassController(const RowContext& r) { return value(Str(r.obj, "spec.controller")); }
value IngressClassParameters(const RowContext& r) {
  if (!Has(r.obj, "spec.parameters")) return value("<none>");
  std::string p = Str(r.obj, "spec.parameters.kind");
  if (Has(r.obj, "spec.parameters.apiGroup")) p += "." + Str(r.obj, "spec.parameters.apiGroup");
  return value(p + "/" + Str(r.obj, "spec.parameters.name"));
}

value NetworkPolicyPodSelector(const RowContext& r) {
  // spec.podSelector is a struct upstream (never nil): absent reads as empty, i.e. "<none>".
  const value* sel = At(r.obj, "spec.podSelector");
  static const value kEmpty = json::object();
  return value(FormatLabelSelector(sel != nullptr ? sel : &kEmpty));
}

// --- RBAC --------------------------------------------------------------------------------------

value RoleBindingRole(const RowContext& r) {
  return value(Str(r.obj, "roleRef.kind") + "/" + Str(r.obj, "roleRef.name"));
}

std::string Subjects(const json::object& obj, std::string_view kind) {
  std::vector<std::string> out;
  for (const value& v : Arr(obj, "subjects")) {
    const json::object& s = AsObj(v);
    if (Str(s, "kind") != kind) continue;
    out.push_back(kind == "ServiceAccount" ? Str(s, "namespace") + ":" + Str(s, "name")
                                           : Str(s, "name"));
  }
  return Join(out, ", ");
}
value RoleBindingUsers(const RowContext& r) { return value(Subjects(r.obj, "User")); }
value RoleBindingGroups(const RowContext& r) { return value(Subjects(r.obj, "Group")); }
value RoleBindingServiceAccounts(const RowContext& r) {
  return value(Subjects(r.obj, "ServiceAccount"));
}

// --- coordination, discovery -------------------------------------------------------------------

value LeaseHolder(const RowContext& r) { return value(Str(r.obj, "spec.holderIdentity")); }

std::string ListWithMore(const std::vector<std::string>& list, bool more, size_t count,
                         size_t max) {
  std::string ret = Join(list, ",");
  if (more) return ret + " + " + std::to_string(count - max) + " more...";
  return ret.empty() ? "<unset>" : ret;
}

value EndpointSliceAddressType(const RowContext& r) { return value(Str(r.obj, "addressType")); }

value EndpointSlicePorts(const RowContext& r) {
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  size_t count = 0;
  for (const value& v : Arr(r.obj, "ports")) {
    const json::object& p = AsObj(v);
    if (list.size() < kMax) {
      std::string port = "*";
      if (Has(p, "port")) {
        port = std::to_string(Int(p, "port"));
      } else if (Has(p, "name")) {
        port = Str(p, "name");
      }
      list.push_back(port);
    } else if (list.size() == kMax) {
      more = true;
    }
    ++count;
  }
  return value(ListWithMore(list, more, count, kMax));
}

value EndpointSliceEndpoints(const RowContext& r) {
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  size_t count = 0;
  for (const value& e : Arr(r.obj, "endpoints")) {
    for (const value& a : Arr(AsObj(e), "addresses")) {
      if (list.size() < kMax) {
        list.push_back(a.is_string() ? std::string(a.get_string()) : "");
      } else if (list.size() == kMax) {
        more = true;
      }
      ++count;
    }
  }
  return value(ListWithMore(list, more, count, kMax));
}

// --- storage -----------------------------------------------------------------------------------

value StorageClassName(const RowContext& r) {
  std::string name = Str(r.obj, "metadata.name");
  const json::object& ann = Obj(r.obj, "metadata.annotations");
  for (std::string_view key : {"storageclass.kubernetes.io/is-default-class",
                               "storageclass.beta.kubernetes.io/is-default-class"}) {
    const value* v = ann.if_contains(key);
    if (v != nullptr && v->is_string() && v->get_string() == "true")
      return value(name + " (default)");
  }
  return value(name);
}
value StorageClassProvisioner(const RowContext& r) { return value(Str(r.obj, "provisioner")); }
value StorageClassReclaimPolicy(const RowContext& r) {
  std::string p = Str(r.obj, "reclaimPolicy");
  return value(p.empty() ? "Delete" : p);
}
value StorageClassBindingMode(const RowContext& r) {
  std::string m = Str(r.obj, "volumeBindingMode");
  return value(m.empty() ? "Immediate" : m);
}
value StorageClassAllowExpansion(const RowContext& r) {
  return value(Bool(r.obj, "allowVolumeExpansion"));
}

// --- policy, scheduling ------------------------------------------------------------------------

value IntOrStringOrNA(const RowContext& r, std::string_view path) {
  const value* v = At(r.obj, path);
  if (v == nullptr || v->is_null()) return value("N/A");
  return value(ScalarText(*v));
}
value PdbMinAvailable(const RowContext& r) { return IntOrStringOrNA(r, "spec.minAvailable"); }
value PdbMaxUnavailable(const RowContext& r) { return IntOrStringOrNA(r, "spec.maxUnavailable"); }
value PdbAllowedDisruptions(const RowContext& r) {
  return value(Int(r.obj, "status.disruptionsAllowed"));
}

value PriorityClassValue(const RowContext& r) { return value(Int(r.obj, "value")); }
value PriorityClassGlobalDefault(const RowContext& r) {
  return value(Bool(r.obj, "globalDefault"));
}
value PriorityClassPreemptionPolicy(const RowContext& r) {
  if (!Has(r.obj, "preemptionPolicy")) return value("<unset>");
  return value(Str(r.obj, "preemptionPolicy"));
}

}  // namespace

std::vector<PrinterEntry> OtherPrinters() {
  return {
      {"ingress.class", IngressClass},
      {"ingress.hosts", IngressHosts},
      {"ingress.address", IngressAddress},
      {"ingress.ports", IngressPorts},
      {"ingressclass.controller", IngressClassController},
      {"ingressclass.parameters", IngressClassParameters},
      {"networkpolicy.pod_selector", NetworkPolicyPodSelector},
      {"rolebinding.role", RoleBindingRole},
      {"rolebinding.users", RoleBindingUsers},
      {"rolebinding.groups", RoleBindingGroups},
      {"rolebinding.service_accounts", RoleBindingServiceAccounts},
      {"lease.holder", LeaseHolder},
      {"endpointslice.address_type", EndpointSliceAddressType},
      {"endpointslice.ports", EndpointSlicePorts},
      {"endpointslice.endpoints", EndpointSliceEndpoints},
      {"storageclass.name", StorageClassName},
      {"storageclass.provisioner", StorageClassProvisioner},
      {"storageclass.reclaim_policy", StorageClassReclaimPolicy},
      {"storageclass.volume_binding_mode", StorageClassBindingMode},
      {"storageclass.allow_volume_expansion", StorageClassAllowExpansion},
      {"pdb.min_available", PdbMinAvailable},
      {"pdb.max_unavailable", PdbMaxUnavailable},
      {"pdb.allowed_disruptions", PdbAllowedDisruptions},
      {"priorityclass.value", PriorityClassValue},
      {"priorityclass.global_default", PriorityClassGlobalDefault},
      {"priorityclass.preemption_policy", PriorityClassPreemptionPolicy},
  };
}

}  // namespace mini8s::api::table
