// SimulatedAgent: what `mini8s agent --simulate N` runs. It joins the server once per simulated
// node (each node gets its own password and its own client certificate, so the node authorizer
// treats every simulated node exactly like a real one), then runs a NodeAgent per node (Node,
// Lease, status) and one SimulatedKubelet for all of them, on one executor.
//
// Concurrency: single executor (one io_context thread). Shut down in this order: Stop, let the
// io_context drain (every loop ends), destroy the agent, and only then the io_context: the agent's
// clients own sockets and strands of that io_context (SimulatedAgentRunner does exactly this).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "mini8s/agent/node_agent.h"
#include "mini8s/agent/sim_kubelet.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"

namespace mini8s::agent {

struct SimulatedAgentOptions {
  std::string server_url;  // https://host:6443
  std::string token;
  std::string data_dir = "/var/lib/mini8s";  // node passwords: <data-dir>/agent/simulated/<node>
  std::string node_prefix;                   // nodes are <prefix>-0 .. <prefix>-<count-1>
  int count = 1;
  std::string node_ip;  // hostIP and InternalIP of every simulated node
  SimulatedKubeletOptions kubelet;
  NodeAgentOptions node_template;  // node_name and node_ip are filled in per node
  const Clock* clock = &RealClock::Instance();
};

class SimulatedAgent {
 public:
  // Joins every node and starts all loops on `executor`. Fails on the first join that fails
  // (bad token, CA pin mismatch, a node name taken with another password).
  static boost::asio::awaitable<Result<std::unique_ptr<SimulatedAgent>>> Start(
      boost::asio::any_io_executor executor, SimulatedAgentOptions options);
  ~SimulatedAgent();
  SimulatedAgent(const SimulatedAgent&) = delete;
  SimulatedAgent& operator=(const SimulatedAgent&) = delete;

  void Stop();
  std::vector<std::string> node_names() const;

  struct Impl;

 private:
  explicit SimulatedAgent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `mini8s agent --simulate N`'s lifecycle: joins and runs a SimulatedAgent on an io_context of its
// own, on the calling thread, until Shutdown (or SIGINT/SIGTERM), then stops every loop, lets the
// io_context drain (in-flight requests finish, watches close), destroys the agent while the
// io_context still exists, and the io_context last.
class SimulatedAgentRunner {
 public:
  explicit SimulatedAgentRunner(SimulatedAgentOptions options,
                                std::chrono::milliseconds drain_timeout = std::chrono::seconds(5));
  ~SimulatedAgentRunner();
  SimulatedAgentRunner(const SimulatedAgentRunner&) = delete;
  SimulatedAgentRunner& operator=(const SimulatedAgentRunner&) = delete;

  // Call once. With `handle_signals`, the first SIGINT/SIGTERM shuts down (a second one then
  // kills the process). OK after a clean or forced shutdown; the join's error if it failed;
  // kCancelled when shut down before the join completed.
  Status Run(bool handle_signals);
  // Begins the shutdown. Thread-safe; may be called before Run.
  void Shutdown();
  // After Run: false when loops were still running at the drain timeout and were abandoned.
  bool drained() const { return drained_; }

 private:
  boost::asio::awaitable<void> Start();
  void BeginShutdown();

  SimulatedAgentOptions options_;
  std::chrono::milliseconds drain_timeout_;
  // Declared before the agent so that it is destroyed after it.
  boost::asio::io_context io_;
  std::unique_ptr<SimulatedAgent> agent_;
  std::optional<Status> start_status_;
  bool shutting_down_ = false;
  bool drained_ = false;
};

// The node password kept at `path` (created, mode 0600, when missing).
Result<std::string> LoadOrCreateNodePassword(const std::string& path);

}  // namespace mini8s::agent
