#include "mini8s/controllers/endpoints.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <boost/json.hpp>

#include "controllers/service/util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace json = boost::json;

namespace {

// One address with the ports it serves, before repacking into subsets.
struct AddressPorts {
  json::object address;
  bool ready = false;
  std::set<std::string> ports;  // serialized EndpointPort objects
};

json::object EndpointPort(const json::object& service_port, int64_t port) {
  json::object p;
  if (auto it = service_port.find("name");
      it != service_port.end() && it->value().is_string() && !it->value().as_string().empty()) {
    p["name"] = it->value();
  }
  p["port"] = port;
  auto proto = service_port.find("protocol");
  p["protocol"] = proto != service_port.end() && proto->value().is_string() ? proto->value()
                                                                            : json::value("TCP");
  if (auto it = service_port.find("appProtocol"); it != service_port.end()) {
    p["appProtocol"] = it->value();
  }
  return p;
}

// Endpoints labels: the service's labels plus the headless marker (upstream copies them).
json::object EndpointLabels(const json::object& service) {
  json::object labels;
  if (const auto* l = api::Labels(service)) labels = *l;
  if (svc::IsHeadless(service)) {
    labels[kHeadlessLabel] = "";
  } else {
    labels.erase(kHeadlessLabel);
  }
  return labels;
}

bool SameLabels(const json::object& obj, const json::object& labels) {
  const json::object* have = api::Labels(obj);
  if (!have) return labels.empty();
  return *have == labels;
}

const json::value& SubsetsOf(const json::object& obj) {
  static const json::value kEmpty = json::array();
  auto it = obj.find("subsets");
  if (it == obj.end() || it->value().is_null()) return kEmpty;
  return it->value();
}

}  // namespace

EndpointsController::EndpointsController(client::Client& client, client::Informer& services,
                                         client::Informer& pods, client::Informer& endpoints,
                                         WorkQueue& queue, const Clock& clock)
    : client_(client), services_(services), pods_(pods), endpoints_(endpoints), clock_(clock) {
  services_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  pods_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  services_.AddEventHandlers(EnqueueHandlers(queue));
  WorkQueue* q = &queue;
  pods_.AddEventHandlers(svc::PodToServiceHandlers(services_, queue));
  // An Endpoints object changed or deleted behind our back is put right again.
  client::EventHandlers ep_handlers;
  ep_handlers.on_update = [q](const client::ObjectPtr&, const client::ObjectPtr& ep) {
    q->Add(client::ObjectKey(*ep));
  };
  ep_handlers.on_delete = [q](const client::DeletedObject& del) { q->Add(del.key); };
  endpoints_.AddEventHandlers(std::move(ep_handlers));
}

json::object EndpointsController::Desired(const json::object& service) const {
  std::string ns(api::Namespace(service));
  bool publish_not_ready = api::GetBool(service, "spec.publishNotReadyAddresses").value_or(false);
  auto selector = svc::ServiceSelector(service);
  const json::array* svc_ports = api::GetArray(service, "spec.ports");
  bool no_ports = svc_ports == nullptr || svc_ports->empty();

  std::vector<AddressPorts> entries;
  if (selector) {
    auto pods = pods_.indexer().ByIndex(client::kNamespaceIndex, ns);
    std::sort(pods.begin(), pods.end(),
              [](const auto& a, const auto& b) { return api::Name(*a) < api::Name(*b); });
    for (const auto& pod : pods) {
      if (!selector->Matches(api::Labels(*pod))) continue;
      if (!svc::ShouldPodBeInEndpoints(*pod, publish_not_ready)) continue;
      AddressPorts e;
      e.address["ip"] = svc::PodIpv4(*pod);
      if (auto host = svc::HostnameFor(*pod, service); !host.empty()) e.address["hostname"] = host;
      if (auto node = api::GetString(*pod, "spec.nodeName"); !node.empty()) {
        e.address["nodeName"] = node;
      }
      e.address["targetRef"] = svc::PodRef(*pod);
      e.ready = publish_not_ready || svc::IsPodReady(*pod);
      if (no_ports) {
        // Headless services without ports still publish addresses (for DNS).
        if (!svc::IsHeadless(service)) continue;
      } else {
        for (const auto& sp : *svc_ports) {
          if (!sp.is_object()) continue;
          auto port = svc::FindPort(*pod, sp.as_object());
          if (!port) continue;  // the pod does not expose this named port
          e.ports.insert(json::serialize(EndpointPort(sp.as_object(), *port)));
        }
        if (e.ports.empty()) continue;
      }
      entries.push_back(std::move(e));
    }
  }

  // Truncate to the upstream cap, keeping ready addresses first.
  bool truncated = entries.size() > kMaxEndpointsAddresses;
  if (truncated) {
    std::stable_partition(entries.begin(), entries.end(), [](const auto& e) { return e.ready; });
    entries.resize(kMaxEndpointsAddresses);
  }

  // Repack: addresses serving the same port set share one subset (endpoints.RepackSubsets).
  std::map<std::set<std::string>, std::pair<std::vector<json::object>, std::vector<json::object>>>
      by_ports;
  for (auto& e : entries) {
    auto& slot = by_ports[e.ports];
    (e.ready ? slot.first : slot.second).push_back(std::move(e.address));
  }
  auto by_ip = [](const json::object& a, const json::object& b) {
    return json::serialize(a.at("ip")) < json::serialize(b.at("ip"));
  };
  json::array subsets;
  for (auto& [ports, addrs] : by_ports) {
    json::object subset;
    std::sort(addrs.first.begin(), addrs.first.end(), by_ip);
    std::sort(addrs.second.begin(), addrs.second.end(), by_ip);
    if (!addrs.first.empty()) {
      json::array a;
      for (auto& x : addrs.first) a.push_back(std::move(x));
      subset["addresses"] = std::move(a);
    }
    if (!addrs.second.empty()) {
      json::array a;
      for (auto& x : addrs.second) a.push_back(std::move(x));
      subset["notReadyAddresses"] = std::move(a);
    }
    if (!ports.empty()) {
      json::array p;
      for (const auto& s : ports) p.push_back(json::parse(s));
      subset["ports"] = std::move(p);
    }
    subsets.push_back(std::move(subset));
  }

  json::object ep;
  ep["apiVersion"] = "v1";
  ep["kind"] = "Endpoints";
  json::object meta{{"name", api::Name(service)}, {"namespace", ns}};
  json::object labels = EndpointLabels(service);
  if (!labels.empty()) meta["labels"] = std::move(labels);
  if (truncated) meta["annotations"] = json::object{{kOverCapacity, "truncated"}};
  ep["metadata"] = std::move(meta);
  if (!subsets.empty()) ep["subsets"] = std::move(subsets);
  return ep;
}

boost::asio::awaitable<Result<Requeue>> EndpointsController::Reconcile(std::string key) {
  std::string ns = client::SplitObjectKey(key).first;
  std::string name = client::SplitObjectKey(key).second;
  const client::Resource res{"", "v1", "endpoints", "Endpoints", true};
  client::ObjectPtr service = services_.indexer().Get(key);
  if (!service) {
    // The service is gone: so are its endpoints.
    auto r = co_await client_.Delete(res, ns, name);
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
    co_return Requeue{};
  }
  if (!svc::ServiceSelector(*service)) co_return Requeue{};  // user-managed endpoints
  if (api::GetString(*service, "spec.type") == "ExternalName") co_return Requeue{};
  if (api::IsBeingDeleted(*service)) co_return Requeue{};

  json::object desired = Desired(*service);
  client::ObjectPtr current = endpoints_.indexer().Get(key);
  json::object want_labels = api::Labels(desired) ? *api::Labels(desired) : json::object();
  bool over = api::Annotation(desired, kOverCapacity).has_value();
  if (current) {
    bool same = SubsetsOf(*current) == SubsetsOf(desired) && SameLabels(*current, want_labels) &&
                api::Annotation(*current, kOverCapacity).has_value() == over;
    if (same) co_return Requeue{};
    json::object updated = *current;
    if (auto it = desired.find("subsets"); it != desired.end()) {
      updated["subsets"] = it->value();
    } else {
      updated.erase("subsets");
    }
    auto& meta = api::MutableMetadata(updated);
    if (want_labels.empty()) {
      meta.erase("labels");
    } else {
      meta["labels"] = want_labels;
    }
    api::SetAnnotation(updated, kLastChangeTriggerTime, FormatRfc3339Nano(clock_.Now()));
    if (over) {
      api::SetAnnotation(updated, kOverCapacity, "truncated");
    } else {
      api::RemoveAnnotation(updated, kOverCapacity);
    }
    auto r = co_await client_.Update(res, std::move(updated));
    if (!r.has_value()) co_return r.error();
    co_return Requeue{};
  }
  api::SetAnnotation(desired, kLastChangeTriggerTime, FormatRfc3339Nano(clock_.Now()));
  auto r = co_await client_.Create(res, std::move(desired));
  if (!r.has_value()) co_return r.error();
  co_return Requeue{};
}

}  // namespace mini8s::controllers
