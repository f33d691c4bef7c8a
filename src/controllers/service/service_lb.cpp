#include "mini8s/controllers/service_lb.h"

#include <algorithm>
#include <set>
#include <string>

#include <boost/json.hpp>

#include "controllers/service/util.h"
#include "mini8s/api/object.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

bool IsLoadBalancer(const json::object& svc) {
  return api::GetString(svc, "spec.type") == "LoadBalancer" &&
         api::GetString(svc, "spec.loadBalancerClass").empty();
}

// What a node contributes for a service (its addresses of one type).
std::vector<std::string> NodeAddresses(const json::object& node, std::string_view type) {
  std::vector<std::string> out;
  if (const json::array* addrs = api::GetArray(node, "status.addresses")) {
    for (const auto& a : *addrs) {
      if (!a.is_object()) continue;
      const auto& o = a.as_object();
      auto t = o.find("type");
      auto v = o.find("address");
      if (t == o.end() || v == o.end() || !t->value().is_string() || !v->value().is_string()) {
        continue;
      }
      std::string_view addr = v->value().as_string();
      if (t->value().as_string() == type && addr.find(':') == std::string_view::npos) {
        out.emplace_back(addr);
      }
    }
  }
  return out;
}

}  // namespace

ServiceLbController::ServiceLbController(client::Client& client, client::Informer& services,
                                         client::Informer& nodes, WorkQueue& queue)
    : client_(client), services_(services), nodes_(nodes) {
  services_.AddEventHandlers(EnqueueHandlers(queue));
  client::Informer* svcs = &services_;
  WorkQueue* q = &queue;
  auto all = [svcs, q]() {
    for (const auto& s : svcs->indexer().List()) {
      if (IsLoadBalancer(*s)) q->Add(client::ObjectKey(*s));
    }
  };
  client::EventHandlers nh;
  nh.on_add = [all](const client::ObjectPtr&) { all(); };
  nh.on_update = [all](const client::ObjectPtr& old_node, const client::ObjectPtr& node) {
    // Heartbeats change only timestamps; react to what matters here.
    bool same = old_node && svc::IsNodeReady(*old_node) == svc::IsNodeReady(*node) &&
                api::FindPath(*old_node, "status.addresses") &&
                api::FindPath(*node, "status.addresses") &&
                *api::FindPath(*old_node, "status.addresses") ==
                    *api::FindPath(*node, "status.addresses") &&
                api::Label(*old_node, kEnableLbLabel) == api::Label(*node, kEnableLbLabel);
    if (!same) all();
  };
  nh.on_delete = [all](const client::DeletedObject&) { all(); };
  nodes_.AddEventHandlers(std::move(nh));
}

json::array ServiceLbController::Ingress() const {
  auto nodes = nodes_.indexer().List();
  bool pools = std::any_of(nodes.begin(), nodes.end(), [](const auto& n) {
    return api::Label(*n, kEnableLbLabel).has_value();
  });
  std::set<std::string> external, internal;
  for (const auto& n : nodes) {
    if (!svc::IsNodeReady(*n) || api::IsBeingDeleted(*n)) continue;
    if (pools && api::Label(*n, kEnableLbLabel) != "true") continue;
    for (auto& a : NodeAddresses(*n, "ExternalIP")) external.insert(std::move(a));
    for (auto& a : NodeAddresses(*n, "InternalIP")) internal.insert(std::move(a));
  }
  const std::set<std::string>& use = external.empty() ? internal : external;
  json::array ingress;
  for (const auto& ip : use) ingress.push_back(json::object{{"ip", ip}, {"ipMode", "VIP"}});
  return ingress;
}

asio::awaitable<Result<Requeue>> ServiceLbController::Reconcile(std::string key) {
  client::ObjectPtr svc = services_.indexer().Get(key);
  if (!svc || api::IsBeingDeleted(*svc)) co_return Requeue{};
  const json::value* have = api::FindPath(*svc, "status.loadBalancer.ingress");
  json::array want;
  if (IsLoadBalancer(*svc)) {
    want = Ingress();
  } else if (!api::GetString(*svc, "spec.loadBalancerClass").empty()) {
    co_return Requeue{};  // another load balancer implementation owns the status
  }
  bool have_empty = have == nullptr || !have->is_array() || have->as_array().empty();
  if ((want.empty() && have_empty) || (have && *have == json::value(want))) co_return Requeue{};
  json::object updated = *svc;
  auto& lb = api::MutableObjectAt(updated, "status.loadBalancer");
  if (want.empty()) {
    lb.erase("ingress");
  } else {
    lb["ingress"] = std::move(want);
  }
  const client::Resource res{"", "v1", "services", "Service", true};
  auto r = co_await client_.UpdateStatus(res, std::move(updated));
  if (!r.has_value()) co_return r.error();
  co_return Requeue{};
}

Status StartServiceLbController(ControllerContext& ctx) {
  auto& services = ctx.informers.For(resources::Services());
  auto& nodes = ctx.informers.For(resources::Nodes());
  WorkQueue& queue = ctx.NewQueue();
  auto ctl = std::make_unique<ServiceLbController>(ctx.client, services, nodes, queue);
  ctx.Run(std::move(ctl), queue, {&services, &nodes});
  return Status::OK();
}

}  // namespace mini8s::controllers
