// Helpers shared by the service-networking and storage controllers (private to ctrl_service):
// pod readiness and endpoint eligibility (upstream podutil / endpointutil), named-port
// resolution, service selectors, and the coroutine forms of the Status macros.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/selector.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/co_result.h"
#include "mini8s/common/result.h"
#include "mini8s/controllers/work_queue.h"


namespace mini8s::controllers::svc {

// The pod's Ready condition is True (podutil.IsPodReady).
bool IsPodReady(const boost::json::object& pod);
// True when the pod has an IP, is not terminal, and (unless include_terminating) not being
// deleted (endpointutil.ShouldPodBeInEndpoints).
bool ShouldPodBeInEndpoints(const boost::json::object& pod, bool include_terminating);
// The pod's IPv4 address (status.podIPs, else status.podIP); "" if none.
std::string PodIpv4(const boost::json::object& pod);
// The container port a service port targets on this pod: an integer targetPort as is, a named
// one looked up in the containers' ports by name and protocol (podutil.FindPort), an absent one
// is the service port. nullopt when a named port is not found.
std::optional<int64_t> FindPort(const boost::json::object& pod,
                                const boost::json::object& service_port);
// The hostname to publish: spec.hostname when spec.subdomain names the service in the same
// namespace (endpointutil.ShouldSetHostname), else "".
std::string HostnameFor(const boost::json::object& pod, const boost::json::object& service);
// The service's spec.selector as a selector; nullopt when the service has none (or it is empty:
// such services are managed by hand).
std::optional<api::LabelSelector> ServiceSelector(const boost::json::object& service);
bool IsHeadless(const boost::json::object& service);
// {"kind":"Pod","namespace":..,"name":..,"uid":..}
boost::json::object PodRef(const boost::json::object& pod);
// Keys ("ns/name") of the services in `services` whose selector matches `pod`'s labels.
std::vector<std::string> ServicesSelecting(const client::Informer& services,
                                           const boost::json::object& pod);
// Pod handlers that enqueue every service selecting the pod (before and after a change).
client::EventHandlers PodToServiceHandlers(const client::Informer& services, WorkQueue& queue);
// Integer resourceVersion (0 when absent or not numeric).
int64_t ResourceVersionOf(const boost::json::object& obj);
// The Ready condition of a node is True.
bool IsNodeReady(const boost::json::object& node);

}  // namespace mini8s::controllers::svc
