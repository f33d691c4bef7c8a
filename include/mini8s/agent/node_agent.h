// NodeAgent: the node-facing half of a kubelet that does not depend on containers (DESIGN §4):
// registers the Node (labels, capacity/allocatable, conditions with upstream's reasons, addresses,
// nodeInfo), renews its Lease in kube-node-lease every heartbeat interval (the signal the node
// lifecycle controller watches), and posts node status when it changed or the report interval
// passed (upstream: nodeStatusUpdateFrequency 10 s, nodeStatusReportFrequency 5 min). The
// simulated agent runs one per simulated node; the real agent will run one for itself.
//
// Concurrency: single executor; `client` and `clock` must outlive the agent and be used on it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::agent {

struct NodeAgentOptions {
  std::string node_name;
  std::string node_ip;
  std::map<std::string, std::string> labels;       // added to the standard ones
  std::map<std::string, std::string> annotations;  // added to the standard ones
  std::string cpu = "4";
  std::string memory = "8388608Ki";              // 8 GiB
  std::string ephemeral_storage = "61255492Ki";  // ~58 GiB
  int max_pods = 110;
  std::string kubelet_version = "v1.32.4-mini8s";
  std::string container_runtime_version = "mini8s://0.1.0";
  std::string os_image;  // default: PRETTY_NAME of /etc/os-release
  std::chrono::seconds lease_duration{40};
  std::chrono::milliseconds heartbeat_interval{10'000};
  std::chrono::milliseconds status_report_interval{60'000};
};

class NodeAgent {
 public:
  NodeAgent(client::Client& client, boost::asio::any_io_executor executor, const Clock& clock,
            NodeAgentOptions options);

  // The Node as this agent registers it (metadata, empty spec, full status).
  boost::json::object DesiredNode() const;

  // Creates the Node, or adopts an existing one (labels/annotations merged, status refreshed).
  boost::asio::awaitable<Status> Register();
  // Creates or renews the Lease (renewTime = now, holderIdentity, leaseDurationSeconds).
  boost::asio::awaitable<Status> RenewLease();
  // Posts status (conditions Ready etc. with a fresh lastHeartbeatTime) when `force`, when it
  // changed, or when the report interval passed since the last post.
  boost::asio::awaitable<Status> SyncStatus(bool force = false);

  // Register (retrying), then heartbeat and sync status every heartbeat interval until Stop.
  boost::asio::awaitable<void> Run();
  // Ends Run soon (its wait is cut short). Idempotent.
  void Stop();

  // spec.podCIDR as last read from the server ("" until the IPAM controller assigned one).
  const std::string& pod_cidr() const { return pod_cidr_; }
  const std::string& node_name() const { return options_.node_name; }
  // Optional (writes as the node): the kubelet's node events, "Starting" on registration and
  // "NodeReady" when this agent turns Ready back on. Must outlive the agent.
  void SetEventRecorder(controllers::EventRecorder* events) { events_ = events; }
  // Called whenever the node's podCIDR becomes known or changes.
  void OnPodCidr(std::function<void(const std::string&)> cb) { on_pod_cidr_ = std::move(cb); }
  bool registered() const { return registered_; }

 private:
  boost::json::object DesiredStatus(const boost::json::object* current) const;
  void LearnNode(const boost::json::object& node);

  client::Client& client_;
  boost::asio::any_io_executor executor_;
  const Clock& clock_;
  NodeAgentOptions options_;
  boost::json::object lease_;  // last Lease seen (for updates with its resourceVersion)
  std::string node_uid_;
  std::string pod_cidr_;
  std::string last_status_fingerprint_;
  std::chrono::steady_clock::time_point last_status_post_{};
  bool registered_ = false;
  bool stopped_ = false;
  std::function<void(const std::string&)> on_pod_cidr_;
  controllers::EventRecorder* events_ = nullptr;
  struct Waker;
  std::shared_ptr<Waker> waker_;  // Run's timer, so Stop can interrupt it
};

}  // namespace mini8s::agent
