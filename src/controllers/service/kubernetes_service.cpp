// The `kubernetes` Service, its Endpoints and its EndpointSlice (upstream's
// pkg/controlplane/controller/kubernetesservice and reconcilers): the service is created when
// missing and its ports are put back when changed; the endpoints always name this API server.

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "controllers/service/util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/endpoints.h"
#include "mini8s/controllers/service_alloc.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kKey = "default/kubernetes";

bool IsKubernetesObject(const json::object& obj) {
  return api::Namespace(obj) == "default" && api::Name(obj) == "kubernetes";
}

client::EventHandlers KubernetesHandlers(WorkQueue& queue) {
  WorkQueue* q = &queue;
  client::EventHandlers h;
  h.on_add = [q](const client::ObjectPtr& o) {
    if (IsKubernetesObject(*o)) q->Add(std::string(kKey));
  };
  h.on_update = [q](const client::ObjectPtr&, const client::ObjectPtr& o) {
    if (IsKubernetesObject(*o)) q->Add(std::string(kKey));
  };
  h.on_delete = [q](const client::DeletedObject& d) {
    if (d.key == kKey) q->Add(std::string(kKey));
  };
  return h;
}

std::string AddressType(std::string_view host) {
  return host.find(':') == std::string_view::npos ? "IPv4" : "IPv6";
}

}  // namespace

KubernetesServiceController::KubernetesServiceController(client::Client& client,
                                                         client::Informer& services,
                                                         client::Informer& endpoints,
                                                         client::Informer& slices, WorkQueue& queue,
                                                         ClusterConfig config)
    : client_(client),
      services_(services),
      endpoints_(endpoints),
      slices_(slices),
      config_(std::move(config)) {
  if (auto ips = IpAllocator::Create(config_.service_cidr); ips.has_value()) {
    cluster_ip_ = (*ips)->FirstAddress();
  } else {
    MINI8S_LOG(ERROR) << "kubernetes service: " << ips.error().ToString();
  }
  services_.AddEventHandlers(KubernetesHandlers(queue));
  endpoints_.AddEventHandlers(KubernetesHandlers(queue));
  slices_.AddEventHandlers(KubernetesHandlers(queue));
}

json::object KubernetesServiceController::DesiredService() const {
  json::object port{{"name", "https"},
                    {"port", 443},
                    {"protocol", "TCP"},
                    {"targetPort", config_.api_server_port}};
  json::object spec{{"type", "ClusterIP"},
                    {"ports", json::array{port}},
                    {"sessionAffinity", "None"},
                    {"internalTrafficPolicy", "Cluster"}};
  if (!cluster_ip_.empty()) {
    spec["clusterIP"] = cluster_ip_;
    spec["clusterIPs"] = json::array{json::string(cluster_ip_)};
    spec["ipFamilies"] = json::array{"IPv4"};
    spec["ipFamilyPolicy"] = "SingleStack";
  }
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", json::object{{"name", "kubernetes"},
                                {"namespace", "default"},
                                {"labels", json::object{{"component", "apiserver"},
                                                        {"provider", "kubernetes"}}}}},
      {"spec", std::move(spec)}};
}

json::object KubernetesServiceController::DesiredEndpoints() const {
  json::object subset{
      {"addresses", json::array{json::object{{"ip", config_.api_server_host}}}},
      {"ports", json::array{json::object{
                    {"name", "https"}, {"port", config_.api_server_port}, {"protocol", "TCP"}}}}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       json::object{{"name", "kubernetes"},
                    {"namespace", "default"},
                    {"labels", json::object{{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
      {"subsets", json::array{subset}}};
}

json::object KubernetesServiceController::DesiredSlice() const {
  json::object endpoint{{"addresses", json::array{json::string(config_.api_server_host)}},
                        {"conditions", json::object{{"ready", true}}}};
  return json::object{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", json::object{{"name", "kubernetes"},
                                {"namespace", "default"},
                                {"labels", json::object{{kServiceNameLabel, "kubernetes"}}}}},
      {"addressType", AddressType(config_.api_server_host)},
      {"endpoints", json::array{endpoint}},
      {"ports", json::array{json::object{
                    {"name", "https"}, {"port", config_.api_server_port}, {"protocol", "TCP"}}}}};
}

asio::awaitable<Result<Requeue>> KubernetesServiceController::Reconcile(std::string key) {
  (void)key;  // one object set
  const client::Resource svc_res{"", "v1", "services", "Service", true};
  const client::Resource ep_res{"", "v1", "endpoints", "Endpoints", true};
  const client::Resource slice_res{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
                                   true};
  if (cluster_ip_.empty()) co_return Status::Invalid("bad service CIDR " + config_.service_cidr);

  // The service: created when missing; its ports and type put back when someone changed them.
  json::object want_svc = DesiredService();
  if (client::ObjectPtr cur = services_.indexer().Get(kKey)) {
    const json::value* ports = api::FindPath(*cur, "spec.ports");
    bool same = ports && *ports == want_svc.at("spec").at("ports") &&
                api::GetString(*cur, "spec.type") == "ClusterIP";
    if (!same) {
      json::object updated = *cur;
      auto& spec = api::MutableObjectAt(updated, "spec");
      spec["ports"] = want_svc.at("spec").at("ports");
      spec["type"] = "ClusterIP";
      auto r = co_await client_.Update(svc_res, std::move(updated));
      if (!r.has_value()) co_return r.error();
    }
  } else {
    auto r = co_await client_.Create(svc_res, std::move(want_svc));
    if (!r.has_value() && r.error().code() != Code::kAlreadyExists) co_return r.error();
  }

  if (config_.api_server_host.empty()) co_return Requeue{};  // nothing to point at yet

  json::object want_ep = DesiredEndpoints();
  if (client::ObjectPtr cur = endpoints_.indexer().Get(kKey)) {
    const json::value* subsets = api::FindPath(*cur, "subsets");
    bool same = subsets && *subsets == want_ep.at("subsets") &&
                api::Label(*cur, "endpointslice.kubernetes.io/skip-mirror") == "true";
    if (!same) {
      json::object updated = *cur;
      updated["subsets"] = want_ep.at("subsets");
      api::SetLabel(updated, "endpointslice.kubernetes.io/skip-mirror", "true");
      auto r = co_await client_.Update(ep_res, std::move(updated));
      if (!r.has_value()) co_return r.error();
    }
  } else {
    auto r = co_await client_.Create(ep_res, std::move(want_ep));
    if (!r.has_value() && r.error().code() != Code::kAlreadyExists) co_return r.error();
  }

  json::object want_slice = DesiredSlice();
  if (client::ObjectPtr cur = slices_.indexer().Get(kKey)) {
    const json::value* eps = api::FindPath(*cur, "endpoints");
    const json::value* ports = api::FindPath(*cur, "ports");
    bool same = eps && ports && *eps == want_slice.at("endpoints") &&
                *ports == want_slice.at("ports") &&
                api::GetString(*cur, "addressType") == want_slice.at("addressType").as_string() &&
                api::Label(*cur, kServiceNameLabel) == "kubernetes";
    if (!same) {
      json::object updated = *cur;
      updated["endpoints"] = want_slice.at("endpoints");
      updated["ports"] = want_slice.at("ports");
      updated["addressType"] = want_slice.at("addressType");
      api::SetLabel(updated, kServiceNameLabel, "kubernetes");
      auto r = co_await client_.Update(slice_res, std::move(updated));
      if (!r.has_value()) co_return r.error();
    }
  } else {
    auto r = co_await client_.Create(slice_res, std::move(want_slice));
    if (!r.has_value() && r.error().code() != Code::kAlreadyExists) co_return r.error();
  }
  co_return Requeue{};
}

namespace {

// Adds `key` to `queue` every `period` until the context stops (ticks every second so that a
// stop is noticed promptly).
asio::awaitable<void> PeriodicEnqueue(ControllerContext* ctx, WorkQueue* queue, std::string key,
                                      std::chrono::seconds period) {
  asio::steady_timer timer(ctx->executor);
  auto last = std::chrono::steady_clock::now();
  while (!ctx->stopping() && !queue->shutting_down()) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ctx->stopping() || queue->shutting_down()) break;
    if (std::chrono::steady_clock::now() - last >= period) {
      last = std::chrono::steady_clock::now();
      queue->Add(key);
    }
  }
}

}  // namespace

Status StartKubernetesServiceController(ControllerContext& ctx) {
  auto& services = ctx.informers.For(resources::Services());
  auto& endpoints = ctx.informers.For(resources::Endpoints());
  auto& slices = ctx.informers.For(resources::EndpointSlices());
  WorkQueue& queue = ctx.NewQueue();
  auto ctl = std::make_unique<KubernetesServiceController>(ctx.client, services, endpoints, slices,
                                                           queue, ctx.config);
  queue.Add(std::string(kKey));
  ctx.Run(std::move(ctl), queue, {&services, &endpoints, &slices});
  ControllerContext* c = &ctx;
  WorkQueue* q = &queue;
  ctx.Spawn(
      [c, q]() { return PeriodicEnqueue(c, q, std::string(kKey), std::chrono::seconds(10)); });
  return Status::OK();
}

Status StartEndpointsController(ControllerContext& ctx) {
  auto& services = ctx.informers.For(resources::Services());
  auto& pods = ctx.informers.For(resources::Pods());
  auto& endpoints = ctx.informers.For(resources::Endpoints());
  WorkQueue& queue = ctx.NewQueue();
  auto ctl = std::make_unique<EndpointsController>(ctx.client, services, pods, endpoints, queue,
                                                   ctx.clock);
  ctx.Run(std::move(ctl), queue, {&services, &pods, &endpoints});
  return Status::OK();
}

Status StartEndpointSliceController(ControllerContext& ctx) {
  auto& services = ctx.informers.For(resources::Services());
  auto& pods = ctx.informers.For(resources::Pods());
  auto& slices = ctx.informers.For(resources::EndpointSlices());
  auto& nodes = ctx.informers.For(resources::Nodes());
  WorkQueue& queue = ctx.NewQueue();
  auto ctl = std::make_unique<EndpointSliceController>(ctx.client, services, pods, slices, &nodes,
                                                       queue, ctx.clock);
  ctx.Run(std::move(ctl), queue, {&services, &pods, &slices, &nodes});
  return Status::OK();
}

}  // namespace mini8s::controllers
