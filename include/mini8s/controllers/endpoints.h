// The controllers that publish where a Service's backends are:
//  - EndpointsController (upstream pkg/controller/endpoint): one core/v1 Endpoints per Service
//    with a selector, ready pods under `addresses`, not-ready ones under `notReadyAddresses`
//    (all under `addresses` with publishNotReadyAddresses), named targetPorts resolved per pod.
//  - EndpointSliceController (pkg/controller/endpointslice): discovery.k8s.io/v1 EndpointSlices
//    labelled kubernetes.io/service-name and managed-by endpointslice-controller.k8s.io, at most
//    100 endpoints per slice, one slice set per distinct resolved port list, with the ready /
//    serving / terminating conditions.
//  - KubernetesServiceController (the API server's master endpoint reconciler): the `kubernetes`
//    Service in `default` and its Endpoints and EndpointSlice pointing at the API server.
// Services without a selector are left alone by the first two (their endpoints are the user's).
//
// Concurrency: every controller lives on the executor of its informers and queue.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr std::string_view kEndpointSliceControllerName = "endpointslice-controller.k8s.io";
inline constexpr std::string_view kHeadlessLabel = "service.kubernetes.io/headless";
inline constexpr std::string_view kLastChangeTriggerTime =
    "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr std::string_view kOverCapacity = "endpoints.kubernetes.io/over-capacity";
inline constexpr size_t kMaxEndpointsPerSlice = 100;
inline constexpr size_t kMaxEndpointsAddresses = 1000;

// Every reference must outlive the controller. The constructor registers informer handlers
// that enqueue service keys ("ns/name") on `queue`.
class EndpointsController final : public Controller {
 public:
  EndpointsController(client::Client& client, client::Informer& services, client::Informer& pods,
                      client::Informer& endpoints, WorkQueue& queue, const Clock& clock);
  std::string_view name() const override { return "endpoint-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  // The Endpoints object the service should have (labels, subsets), without metadata beyond
  // name/namespace/labels. Exposed for tests.
  boost::json::object Desired(const boost::json::object& service) const;

 private:
  client::Client& client_;
  client::Informer& services_;
  client::Informer& pods_;
  client::Informer& endpoints_;
  const Clock& clock_;
};

class EndpointSliceController final : public Controller {
 public:
  // `nodes` (optional) supplies topology zones.
  EndpointSliceController(client::Client& client, client::Informer& services,
                          client::Informer& pods, client::Informer& slices, client::Informer* nodes,
                          WorkQueue& queue, const Clock& clock,
                          size_t max_endpoints_per_slice = kMaxEndpointsPerSlice);
  std::string_view name() const override { return "endpointslice-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  struct Written {
    int64_t resource_version = 0;  // 0: deleted
  };
  boost::asio::awaitable<Status> DeleteSlices(std::string ns, std::string service_name,
                                              std::string keep_owner_uid);
  bool CacheIsStale(const std::string& service_key) const;
  void Track(const std::string& service_key, const std::string& slice_name, int64_t rv);

  client::Client& client_;
  client::Informer& services_;
  client::Informer& pods_;
  client::Informer& slices_;
  client::Informer* nodes_;
  const Clock& clock_;
  size_t max_per_slice_;
  // What this controller last wrote per service (upstream's endpointSliceTracker): when the
  // cache is behind our own writes, the reconcile reads the slices from the API instead.
  std::map<std::string, std::map<std::string, Written>> written_;
};

// Reconciles the `kubernetes` service every time one of its objects changes, and when the
// start function's periodic loop (every 10 s) enqueues it.
class KubernetesServiceController final : public Controller {
 public:
  // Handlers on the three informers enqueue "default/kubernetes".
  KubernetesServiceController(client::Client& client, client::Informer& services,
                              client::Informer& endpoints, client::Informer& slices,
                              WorkQueue& queue, ClusterConfig config);
  std::string_view name() const override { return "kubernetes-service-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  // The desired objects (exposed for tests).
  boost::json::object DesiredService() const;
  boost::json::object DesiredEndpoints() const;
  boost::json::object DesiredSlice() const;

 private:
  client::Client& client_;
  client::Informer& services_;
  client::Informer& endpoints_;
  client::Informer& slices_;
  ClusterConfig config_;
  std::string cluster_ip_;
};

Status StartEndpointsController(ControllerContext& ctx);
Status StartEndpointSliceController(ControllerContext& ctx);
Status StartKubernetesServiceController(ControllerContext& ctx);

}  // namespace mini8s::controllers
