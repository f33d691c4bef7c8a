// SimulatedKubelet: the pod half of a kubelet for nodes that run nothing (kubemark's hollow
// nodes). For every pod bound to one of its nodes it reports what a kubelet would:
//   - Running and Ready at once (PodReadyToStartContainers, Initialized, ContainersReady, Ready,
//     PodScheduled True; a container with a readinessProbe becomes ready after the probe's
//     initialDelaySeconds, as if it passed), with podIP/podIPs from the node's podCIDR, hostIP,
//     startTime and containerStatuses (running, ready, started, image, imageID,
//     containerID mini8s://<id>, restartCount 0);
//   - pods owned by a Job succeed after `job_duration` (phase Succeeded, containers terminated
//     with exit code 0, reason Completed, Ready False);
//   - a pod with a deletionTimestamp is deleted with gracePeriodSeconds=0 (as the kubelet does once
//     its containers stopped) after min(its grace period, `max_grace`), and its IP is released.
//     The cap keeps simulated deletes quick (nothing needs stopping); it defaults to 1 s.
// Running and Job timing use the Clock's wall time against the pod's startTime, so an agent
// restart resumes where it left off; the grace period is timed from when this kubelet saw the
// deletion, on its own monotonic clock, as upstream's kubelet does.
//
// Many nodes share one kubelet: one pod informer for all of them (all pods, filtered here by
// spec.nodeName; the real agent will watch with the fieldSelector spec.nodeName=<node>), and each
// node's writes go through that node's own client (its credentials), so the node authorizer sees
// exactly what a real kubelet would do.
//
// Concurrency: single executor; clients, informer and clock must outlive the kubelet.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::agent {

struct SimulatedKubeletOptions {
  std::chrono::milliseconds job_duration{1000};
  std::chrono::milliseconds max_grace{1000};
};

// Addresses handed out from one node's podCIDR (IPv4; .1 is the bridge gateway, so pods get
// .2 up to the last address before broadcast).
class PodIpPool {
 public:
  // kInvalid for a CIDR that is not IPv4 or too small.
  Status Reset(const std::string& cidr);
  // The address of pod `uid` (the same one on repeated calls); kResourceExhausted when full.
  Result<std::string> Allocate(const std::string& uid);
  // Records that `uid` already holds `ip` (adopted after a restart); false if outside the CIDR.
  bool Adopt(const std::string& uid, const std::string& ip);
  void Release(const std::string& uid);
  bool Contains(const std::string& ip) const;
  std::size_t allocated() const { return by_uid_.size(); }
  const std::string& cidr() const { return cidr_; }

 private:
  std::string cidr_;
  uint32_t first_ = 0, last_ = 0, next_ = 0;
  std::map<std::string, uint32_t> by_uid_;
  std::set<uint32_t> used_;
};

class SimulatedKubelet final : public controllers::Controller {
 public:
  // `pods` is an informer over all pods (the kubelet adds its event handlers to it);
  // `queue` receives pod keys.
  SimulatedKubelet(client::Informer& pods, controllers::WorkQueue& queue, const Clock& clock,
                   SimulatedKubeletOptions options = {});

  // Adds a node whose pods this kubelet runs. `client` writes as that node; `node_ip` is its
  // hostIP; `events` (optional, writing as that node) receives the kubelet's container events
  // (Pulled, Created, Started) when a pod starts. The podCIDR may come later (SetPodCidr); until
  // then the node's pods wait.
  void AddNode(const std::string& node, client::Client& client, const std::string& node_ip,
               controllers::EventRecorder* events = nullptr);
  void SetPodCidr(const std::string& node, const std::string& cidr);

  std::string_view name() const override { return "simulated-kubelet"; }
  boost::asio::awaitable<Result<controllers::Requeue>> Reconcile(std::string key) override;

  // Running pods per node (for logs and tests).
  std::size_t allocated_ips(const std::string& node) const;

 private:
  struct NodeState {
    client::Client* client = nullptr;
    controllers::EventRecorder* events = nullptr;
    std::string ip;
    PodIpPool pool;
    bool has_cidr = false;
  };
  boost::json::object RunningStatus(const boost::json::object& pod, const NodeState& node,
                                    const std::string& pod_ip, bool ready) const;
  boost::json::object SucceededStatus(const boost::json::object& pod) const;
  void Forget(const std::string& key);

  client::Informer& pods_;
  controllers::WorkQueue& queue_;
  const Clock& clock_;
  SimulatedKubeletOptions options_;
  std::map<std::string, NodeState> nodes_;
  // pod key -> (node, uid) of the pods holding an IP, to release it when the pod goes away.
  std::map<std::string, std::pair<std::string, std::string>> holders_;
  // pod key -> (uid, when this kubelet first saw its deletionTimestamp).
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>>
      deleting_since_;
};

}  // namespace mini8s::agent
