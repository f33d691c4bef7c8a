// EndpointSlice controller (upstream pkg/controller/endpointslice, reconciler.go): for each
// Service with a selector, the pods it selects become endpoints grouped by their resolved port
// list; each group is spread over slices of at most `max_per_slice` endpoints. To keep churn low,
// an endpoint stays in the slice that already holds it, new endpoints fill slices with room
// first, and a slice that would be deleted is reused before a new one is created.

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "controllers/service/util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/endpoints.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

const client::Resource& SliceResource() {
  static const client::Resource r{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
                                  true};
  return r;
}

bool IsManagedSlice(const json::object& slice) {
  return api::Label(slice, kManagedByLabel) == kEndpointSliceControllerName &&
         api::Label(slice, kServiceNameLabel).has_value();
}

// The labels a managed slice carries (upstream setEndpointSliceLabels).
json::object SliceLabels(const json::object& service) {
  json::object labels;
  if (const auto* l = api::Labels(service)) {
    for (const auto& [k, v] : *l) {
      if (k == kServiceNameLabel || k == kManagedByLabel || k == kHeadlessLabel) continue;
      labels[k] = v;
    }
  }
  if (svc::IsHeadless(service)) labels[kHeadlessLabel] = "";
  labels[kServiceNameLabel] = api::Name(service);
  labels[kManagedByLabel] = kEndpointSliceControllerName;
  return labels;
}

// A serialization with object keys sorted, so that a stored object whose keys came back in
// another order still compares equal (otherwise every reconcile would rewrite the slice).
void AppendCanonical(const json::value& v, std::string& out) {
  if (v.is_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> kv;
    for (const auto& [k, x] : v.as_object()) kv.emplace_back(k, &x);
    std::sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (size_t i = 0; i < kv.size(); ++i) {
      if (i) out += ',';
      out += json::serialize(json::string(kv[i].first));
      out += ':';
      AppendCanonical(*kv[i].second, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      if (i) out += ',';
      AppendCanonical(v.as_array()[i], out);
    }
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

std::string Canonical(const json::value& v) {
  std::string out;
  AppendCanonical(v, out);
  return out;
}

std::string PortsKey(const json::object& slice) {
  auto it = slice.find("ports");
  if (it == slice.end() || it->value().is_null()) return "null";
  return Canonical(it->value());
}

// An endpoint's identity across reconciles: its address and its pod.
std::string EndpointKey(const json::value& ep) {
  if (!ep.is_object()) return {};
  auto it = ep.as_object().find("addresses");
  if (it == ep.as_object().end() || !it->value().is_array() || it->value().as_array().empty()) {
    return {};
  }
  const auto& first = it->value().as_array()[0];
  std::string key = first.is_string() ? std::string(first.as_string()) : std::string();
  // Host-network pods share their node's IP: the pod's uid tells them apart.
  if (const auto* uid = api::FindPath(ep, "targetRef.uid"); uid && uid->is_string()) {
    key += "/" + std::string(uid->as_string());
  }
  return key;
}

const json::array& EndpointsOf(const json::object& slice) {
  static const json::array kEmpty;
  auto it = slice.find("endpoints");
  if (it == slice.end() || !it->value().is_array()) return kEmpty;
  return it->value().as_array();
}

json::object OwnerRef(const json::object& service) {
  return json::object{{"apiVersion", "v1"},         {"kind", "Service"},
                      {"name", api::Name(service)}, {"uid", api::Uid(service)},
                      {"controller", true},         {"blockOwnerDeletion", true}};
}

bool OwnedBy(const json::object& slice, const json::object& service) {
  for (const auto& ref : api::OwnerReferences(slice)) {
    if (ref.kind == "Service" && ref.uid == api::Uid(service)) return true;
  }
  return false;
}

json::object SlicePort(const json::object& service_port, int64_t port) {
  json::object p;
  auto name = service_port.find("name");
  p["name"] =
      name != service_port.end() && name->value().is_string() ? name->value() : json::value("");
  p["port"] = port;
  auto proto = service_port.find("protocol");
  p["protocol"] = proto != service_port.end() && proto->value().is_string() ? proto->value()
                                                                            : json::value("TCP");
  if (auto it = service_port.find("appProtocol"); it != service_port.end()) {
    p["appProtocol"] = it->value();
  }
  return p;
}

// One slice being planned: the object it starts from (empty for a new slice) and its new
// endpoint list.
struct PlannedSlice {
  json::object base;  // existing slice, or {} for a new one
  std::string ports_key;
  json::value ports;
  json::array endpoints;
  bool placeholder = false;
};

}  // namespace

EndpointSliceController::EndpointSliceController(client::Client& client, client::Informer& services,
                                                 client::Informer& pods, client::Informer& slices,
                                                 client::Informer* nodes, WorkQueue& queue,
                                                 const Clock& clock, size_t max_endpoints_per_slice)
    : client_(client),
      services_(services),
      pods_(pods),
      slices_(slices),
      nodes_(nodes),
      clock_(clock),
      max_per_slice_(std::max<size_t>(1, max_endpoints_per_slice)) {
  services_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  pods_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  slices_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  services_.AddEventHandlers(EnqueueHandlers(queue));
  pods_.AddEventHandlers(svc::PodToServiceHandlers(services_, queue));
  WorkQueue* q = &queue;
  auto enqueue_owner = [q](const json::object& slice) {
    if (!IsManagedSlice(slice)) return;
    q->Add(std::string(api::Namespace(slice)) + "/" +
           std::string(*api::Label(slice, kServiceNameLabel)));
  };
  client::EventHandlers sh;
  sh.on_update = [enqueue_owner](const client::ObjectPtr&, const client::ObjectPtr& s) {
    enqueue_owner(*s);
  };
  sh.on_delete = [enqueue_owner](const client::DeletedObject& d) {
    if (d.object) enqueue_owner(*d.object);
  };
  slices_.AddEventHandlers(std::move(sh));
}

void EndpointSliceController::Track(const std::string& service_key, const std::string& slice_name,
                                    int64_t rv) {
  written_[service_key][slice_name].resource_version = rv;
}

bool EndpointSliceController::CacheIsStale(const std::string& service_key) const {
  auto it = written_.find(service_key);
  if (it == written_.end()) return false;
  std::string ns = client::SplitObjectKey(service_key).first;
  for (const auto& [name, w] : it->second) {
    client::ObjectPtr cached = slices_.indexer().Get(ns, name);
    if (w.resource_version == 0) {
      if (cached) return true;
    } else if (!cached || svc::ResourceVersionOf(*cached) < w.resource_version) {
      return true;
    }
  }
  return false;
}

asio::awaitable<Status> EndpointSliceController::DeleteSlices(std::string ns,
                                                              std::string service_name,
                                                              std::string keep_owner_uid) {
  for (const auto& s : slices_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    if (!IsManagedSlice(*s) || api::Label(*s, kServiceNameLabel) != service_name) continue;
    if (!keep_owner_uid.empty()) {
      bool owned = false;
      for (const auto& ref : api::OwnerReferences(*s)) owned |= ref.uid == keep_owner_uid;
      if (owned) continue;
    }
    std::string name(api::Name(*s));
    auto r = co_await client_.Delete(SliceResource(), ns, name);
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
  }
  co_return Status::OK();
}

asio::awaitable<Result<Requeue>> EndpointSliceController::Reconcile(std::string key) {
  std::string ns = client::SplitObjectKey(key).first;
  std::string name = client::SplitObjectKey(key).second;
  client::ObjectPtr service = services_.indexer().Get(key);
  if (!service) {
    written_.erase(key);
    std::string no_owner;
    MINI8S_CO_RETURN_IF_ERROR(co_await DeleteSlices(ns, name, no_owner));
    co_return Requeue{};
  }
  auto selector = svc::ServiceSelector(*service);
  if (!selector || api::IsBeingDeleted(*service)) co_return Requeue{};
  // ExternalName services are a DNS alias: no endpoints (upstream skips them too).
  if (api::GetString(*service, "spec.type") == "ExternalName") co_return Requeue{};

  // Current slices: from the cache, or from the API when the cache has not yet seen our last
  // writes (creating twice from a stale cache would duplicate endpoints).
  std::vector<json::object> existing;
  if (CacheIsStale(key)) {
    client::ListOptions opts;
    opts.label_selector = std::string(kServiceNameLabel) + "=" + name + "," +
                          std::string(kManagedByLabel) + "=" +
                          std::string(kEndpointSliceControllerName);
    auto listed = co_await client_.List(SliceResource(), ns, std::move(opts));
    if (!listed.has_value()) co_return listed.error();
    existing = std::move(listed->items);
    // What the API holds is now the expectation for the cache (deletions stay expected too);
    // until the cache shows it, reconciles keep reading from the API.
    std::map<std::string, Written> expect;
    for (const auto& [slice_name, w] : written_[key]) {
      if (w.resource_version == 0) expect[slice_name] = w;
    }
    for (const auto& s : existing) {
      expect[std::string(api::Name(s))].resource_version = svc::ResourceVersionOf(s);
    }
    written_[key] = std::move(expect);
  } else {
    written_.erase(key);  // the cache has caught up with everything we wrote
    for (const auto& s : slices_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
      if (IsManagedSlice(*s) && api::Label(*s, kServiceNameLabel) == name) existing.push_back(*s);
    }
  }
  std::sort(existing.begin(), existing.end(),
            [](const auto& a, const auto& b) { return api::Name(a) < api::Name(b); });

  // Desired endpoints, grouped by resolved port list.
  bool publish_not_ready = api::GetBool(*service, "spec.publishNotReadyAddresses").value_or(false);
  const json::array* svc_ports = api::GetArray(*service, "spec.ports");
  std::map<std::string, std::map<std::string, json::object>> desired;  // ports key -> ip -> ep
  std::map<std::string, json::value> ports_of;
  size_t total = 0;
  for (const auto& pod : pods_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    if (!selector->Matches(api::Labels(*pod))) continue;
    if (!svc::ShouldPodBeInEndpoints(*pod, /*include_terminating=*/true)) continue;
    std::string ip = svc::PodIpv4(*pod);
    bool pod_ready = svc::IsPodReady(*pod);
    bool terminating = api::IsBeingDeleted(*pod);
    bool ready = publish_not_ready || (pod_ready && !terminating);
    bool serving = publish_not_ready || pod_ready;
    json::object ep;
    ep["addresses"] = json::array{json::string(ip)};
    ep["conditions"] =
        json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}};
    if (auto host = svc::HostnameFor(*pod, *service); !host.empty()) ep["hostname"] = host;
    ep["targetRef"] = svc::PodRef(*pod);
    if (auto node = api::GetString(*pod, "spec.nodeName"); !node.empty()) {
      ep["nodeName"] = node;
      if (nodes_) {
        if (auto n = nodes_->indexer().Get(node)) {
          if (auto zone = api::Label(*n, "topology.kubernetes.io/zone")) ep["zone"] = *zone;
        }
      }
    }
    json::array ports;
    if (svc_ports) {
      for (const auto& sp : *svc_ports) {
        if (!sp.is_object()) continue;
        if (auto port = svc::FindPort(*pod, sp.as_object())) {
          ports.push_back(SlicePort(sp.as_object(), *port));
        }
      }
    }
    std::string pk = Canonical(ports);
    ports_of[pk] = std::move(ports);
    std::string ep_key = EndpointKey(ep);
    desired[pk][ep_key] = std::move(ep);
    ++total;
  }
  if (total == 0) {
    desired["null"];  // the placeholder: one slice with no endpoints and no ports
    ports_of["null"] = nullptr;
  }

  // Plan: keep endpoints where they are, fill slices with room, then new slices.
  std::vector<PlannedSlice> plan;
  std::deque<json::object> reusable;  // slices no group keeps
  std::map<std::string, std::set<std::string>> placed;
  for (auto& s : existing) {
    if (!OwnedBy(s, *service)) {
      reusable.push_back(std::move(s));  // a previous incarnation's, or adopted by accident
      continue;
    }
    std::string pk = PortsKey(s);
    auto group = desired.find(pk);
    if (group == desired.end()) {
      reusable.push_back(std::move(s));
      continue;
    }
    PlannedSlice p;
    p.ports_key = pk;
    p.ports = ports_of[pk];
    p.placeholder = pk == "null";
    for (const auto& e : EndpointsOf(s)) {
      std::string ip = EndpointKey(e);
      auto it = group->second.find(ip);
      if (it == group->second.end() || placed[pk].count(ip)) continue;
      if (p.endpoints.size() >= max_per_slice_) break;
      p.endpoints.push_back(it->second);
      placed[pk].insert(ip);
    }
    p.base = std::move(s);
    plan.push_back(std::move(p));
  }
  for (auto& [pk, eps] : desired) {
    std::vector<std::string> leftover;
    for (const auto& [ip, ep] : eps) {
      if (!placed[pk].count(ip)) leftover.push_back(ip);
    }
    size_t next = 0;
    for (auto& p : plan) {
      if (p.ports_key != pk) continue;
      while (next < leftover.size() && p.endpoints.size() < max_per_slice_) {
        p.endpoints.push_back(eps.at(leftover[next++]));
      }
    }
    bool have_placeholder = false;
    for (const auto& p : plan) have_placeholder |= p.ports_key == pk && p.placeholder;
    while (next < leftover.size() || (pk == "null" && !have_placeholder)) {
      PlannedSlice p;
      p.ports_key = pk;
      p.ports = ports_of[pk];
      p.placeholder = pk == "null";
      have_placeholder |= p.placeholder;
      while (next < leftover.size() && p.endpoints.size() < max_per_slice_) {
        p.endpoints.push_back(eps.at(leftover[next++]));
      }
      if (!reusable.empty()) {
        p.base = std::move(reusable.front());
        reusable.pop_front();
      }
      plan.push_back(std::move(p));
    }
  }

  // Apply: delete emptied slices (one placeholder survives), update changed ones, create new.
  json::object labels = SliceLabels(*service);
  std::string now = FormatRfc3339Nano(clock_.Now());
  bool kept_placeholder = false;
  for (auto& p : plan) {
    bool keep = !p.endpoints.empty() || (p.placeholder && !kept_placeholder);
    if (p.placeholder && keep) kept_placeholder = true;
    if (!keep) {
      if (!p.base.empty()) reusable.push_back(std::move(p.base));
      continue;
    }
    json::object slice = p.base;
    bool is_new = slice.empty();
    if (is_new) {
      slice["apiVersion"] = "discovery.k8s.io/v1";
      slice["kind"] = "EndpointSlice";
      slice["metadata"] = json::object{{"generateName", name + "-"}, {"namespace", ns}};
    }
    bool changed = is_new || api::GetString(slice, "addressType") != "IPv4" ||
                   !api::FindPath(slice, "endpoints") ||
                   *api::FindPath(slice, "endpoints") != json::value(p.endpoints) ||
                   PortsKey(slice) != p.ports_key || !api::Labels(slice) ||
                   *api::Labels(slice) != labels || !OwnedBy(slice, *service);
    if (!changed) continue;
    slice["addressType"] = "IPv4";
    slice["endpoints"] = p.endpoints;
    slice["ports"] = p.ports;
    auto& meta = api::MutableMetadata(slice);
    meta["labels"] = labels;
    meta["ownerReferences"] = json::array{OwnerRef(*service)};
    api::SetAnnotation(slice, kLastChangeTriggerTime, now);
    if (is_new) {
      auto r = co_await client_.Create(SliceResource(), std::move(slice));
      if (!r.has_value()) co_return r.error();
      Track(key, std::string(api::Name(*r)), svc::ResourceVersionOf(*r));
    } else {
      auto r = co_await client_.Update(SliceResource(), std::move(slice));
      if (!r.has_value()) co_return r.error();
      Track(key, std::string(api::Name(*r)), svc::ResourceVersionOf(*r));
    }
  }
  for (const auto& s : reusable) {
    std::string slice_name(api::Name(s));
    auto r = co_await client_.Delete(SliceResource(), ns, slice_name);
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
    Track(key, slice_name, 0);
  }
  co_return Requeue{};
}

}  // namespace mini8s::controllers
