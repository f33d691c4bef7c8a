#include "controllers/service/util.h"

#include <set>

#include <boost/json.hpp>

#include "mini8s/api/object.h"

namespace mini8s::controllers::svc {

namespace json = boost::json;

namespace {

bool ConditionTrue(const json::object& obj, std::string_view type) {
  const json::array* conds = api::GetArray(obj, "status.conditions");
  if (!conds) return false;
  for (const auto& c : *conds) {
    if (!c.is_object()) continue;
    const auto& o = c.as_object();
    auto t = o.find("type");
    auto s = o.find("status");
    if (t != o.end() && t->value().is_string() && t->value().as_string() == type && s != o.end() &&
        s->value().is_string()) {
      return s->value().as_string() == "True";
    }
  }
  return false;
}

std::string_view Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return it->value().as_string();
}

bool IsIpv4(std::string_view ip) { return !ip.empty() && ip.find(':') == std::string_view::npos; }

}  // namespace

bool IsPodReady(const json::object& pod) { return ConditionTrue(pod, "Ready"); }

bool IsNodeReady(const json::object& node) { return ConditionTrue(node, "Ready"); }

std::string PodIpv4(const json::object& pod) {
  if (const json::array* ips = api::GetArray(pod, "status.podIPs")) {
    for (const auto& v : *ips) {
      if (!v.is_object()) continue;
      auto ip = Str(v.as_object(), "ip");
      if (IsIpv4(ip)) return std::string(ip);
    }
  }
  auto ip = api::GetString(pod, "status.podIP");
  return IsIpv4(ip) ? std::string(ip) : std::string();
}

bool ShouldPodBeInEndpoints(const json::object& pod, bool include_terminating) {
  auto phase = api::GetString(pod, "status.phase");
  if (phase == "Failed" || phase == "Succeeded") return false;
  if (PodIpv4(pod).empty()) return false;
  if (!include_terminating && api::IsBeingDeleted(pod)) return false;
  return true;
}

std::optional<int64_t> FindPort(const json::object& pod, const json::object& service_port) {
  auto target = service_port.find("targetPort");
  auto port_it = service_port.find("port");
  int64_t port = port_it != service_port.end() && port_it->value().is_int64()
                     ? port_it->value().as_int64()
                     : 0;
  if (target == service_port.end() || target->value().is_null()) return port;
  if (target->value().is_int64()) {
    int64_t v = target->value().as_int64();
    return v == 0 ? port : v;
  }
  if (!target->value().is_string()) return std::nullopt;
  std::string_view name = target->value().as_string();
  std::string_view protocol = Str(service_port, "protocol");
  if (protocol.empty()) protocol = "TCP";
  const json::array* containers = api::GetArray(pod, "spec.containers");
  if (!containers) return std::nullopt;
  for (const auto& c : *containers) {
    if (!c.is_object()) continue;
    auto ports = c.as_object().find("ports");
    if (ports == c.as_object().end() || !ports->value().is_array()) continue;
    for (const auto& p : ports->value().as_array()) {
      if (!p.is_object()) continue;
      const auto& po = p.as_object();
      std::string_view proto = Str(po, "protocol");
      if (proto.empty()) proto = "TCP";
      if (Str(po, "name") == name && proto == protocol) {
        auto cp = po.find("containerPort");
        if (cp != po.end() && cp->value().is_int64()) return cp->value().as_int64();
      }
    }
  }
  return std::nullopt;
}

std::string HostnameFor(const json::object& pod, const json::object& service) {
  auto hostname = api::GetString(pod, "spec.hostname");
  if (hostname.empty()) return {};
  if (api::GetString(pod, "spec.subdomain") != api::Name(service)) return {};
  if (api::Namespace(pod) != api::Namespace(service)) return {};
  return std::string(hostname);
}

std::optional<api::LabelSelector> ServiceSelector(const json::object& service) {
  const json::object* sel = api::GetObject(service, "spec.selector");
  if (!sel || sel->empty()) return std::nullopt;
  api::StringMap m;
  for (const auto& [k, v] : *sel) {
    if (v.is_string()) m.emplace(std::string(k), std::string(v.as_string()));
  }
  auto s = api::LabelSelector::FromSet(m);
  if (!s) return api::LabelSelector::Nothing();
  return std::move(*s);
}

bool IsHeadless(const json::object& service) {
  return api::GetString(service, "spec.clusterIP") == "None";
}

json::object PodRef(const json::object& pod) {
  return json::object{{"kind", "Pod"},
                      {"namespace", api::Namespace(pod)},
                      {"name", api::Name(pod)},
                      {"uid", api::Uid(pod)}};
}

std::vector<std::string> ServicesSelecting(const client::Informer& services,
                                           const json::object& pod) {
  std::vector<std::string> out;
  std::string ns(api::Namespace(pod));
  for (const auto& svc : services.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    auto sel = ServiceSelector(*svc);
    if (sel && sel->Matches(api::Labels(pod))) out.push_back(client::ObjectKey(*svc));
  }
  return out;
}

client::EventHandlers PodToServiceHandlers(const client::Informer& services, WorkQueue& queue) {
  const client::Informer* svcs = &services;
  WorkQueue* q = &queue;
  client::EventHandlers h;
  h.on_add = [svcs, q](const client::ObjectPtr& pod) {
    for (const auto& k : ServicesSelecting(*svcs, *pod)) q->Add(k);
  };
  h.on_update = [svcs, q](const client::ObjectPtr& old_pod, const client::ObjectPtr& pod) {
    if (old_pod && ResourceVersionOf(*old_pod) != 0 &&
        api::ResourceVersion(*old_pod) == api::ResourceVersion(*pod)) {
      return;  // a resync: nothing changed
    }
    std::set<std::string> keys;
    for (auto& k : ServicesSelecting(*svcs, *pod)) keys.insert(std::move(k));
    if (old_pod) {
      for (auto& k : ServicesSelecting(*svcs, *old_pod)) keys.insert(std::move(k));
    }
    for (const auto& k : keys) q->Add(k);
  };
  h.on_delete = [svcs, q](const client::DeletedObject& del) {
    if (!del.object) return;
    for (const auto& k : ServicesSelecting(*svcs, *del.object)) q->Add(k);
  };
  return h;
}

int64_t ResourceVersionOf(const json::object& obj) {
  auto rv = api::ResourceVersion(obj);
  if (rv.empty() || rv.find_first_not_of("0123456789") != std::string_view::npos ||
      rv.size() > 18) {
    return 0;
  }
  return std::stoll(std::string(rv));
}

}  // namespace mini8s::controllers::svc
