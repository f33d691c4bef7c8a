// `mini8s agent`: join a server as a node (k3s's agent flags). This build runs simulated nodes
// (--simulate N); the real agent, which runs containers, comes with the node work.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli/commands.h"
#include "cli/version.h"
#include "mini8s/agent/sim_agent.h"
#include "mini8s/common/flags.h"
#include "mini8s/common/logging.h"
#include "mini8s/server/bootstrap.h"

namespace mini8s::cli {
namespace {

struct AgentFlags {
  std::string server;
  std::string join;
  std::string token;
  std::string token_file;
  std::string node_name;
  std::string node_ip;
  std::string data_dir = "/var/lib/mini8s";
  bool with_node_id = false;
  int simulate = 0;
  std::chrono::nanoseconds simulate_job_duration = std::chrono::seconds(1);
  std::chrono::nanoseconds simulate_max_grace = std::chrono::seconds(1);
  int verbosity = 0;
};

std::string Hostname() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  std::string h = host;
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

// The first IPv4 address of an up, non-loopback interface (k3s picks the default route's
// interface; close enough for simulated nodes).
std::string DefaultNodeIp() {
  std::vector<std::string> ips = server::HostIPv4Addresses();
  return ips.empty() ? std::string("127.0.0.1") : ips.front();
}

}  // namespace

int RunAgent(const Args& args) {
  AgentFlags f;
  FlagSet fs("agent");
  fs.SetUsage(
      "--server URL --token TOKEN [flags]",
      "Join a mini8s server as a node. This build runs simulated nodes only (--simulate N):\n"
      "they register, heartbeat and report pods as running without running containers.");
  fs.String("server", &f.server, "Server to connect to (https://host:6443)")
      .Short('s')
      .Env("MINI8S_URL");
  fs.String("join", &f.join, "Same as --server").NoEnv();
  fs.String("token", &f.token, "Token to use for authentication").Short('t');
  fs.String("token-file", &f.token_file, "Token file to use for authentication");
  fs.String("node-name", &f.node_name,
            "Node name (default: the hostname); with --simulate, the prefix of the node names");
  fs.Bool("with-node-id", &f.with_node_id,
          "Append an id (kept in <data-dir>/agent/node-id) to the node name");
  fs.String("node-ip", &f.node_ip, "IPv4 address to advertise for the node").Short('i');
  fs.String("data-dir", &f.data_dir, "Folder to hold state").Short('d');
  fs.Int("simulate", &f.simulate,
         "Register this many simulated nodes (<prefix>-0 .. <prefix>-N-1) instead of running "
         "containers");
  fs.Duration("simulate-job-duration", &f.simulate_job_duration,
              "How long a simulated pod owned by a Job runs before it succeeds");
  fs.Duration("simulate-max-grace", &f.simulate_max_grace,
              "Cap on the grace period of a simulated pod's deletion");
  fs.Int("v", &f.verbosity, "Log verbosity");
  fs.EnableConfigFile("/etc/mini8s/config.yaml");
  Status ps = fs.Parse(args);
  if (!ps.ok()) return UsageError("agent", ps.message());
  if (fs.help_requested()) {
    std::printf("%s", fs.Help().c_str());
    return 0;
  }
  if (!fs.positional().empty()) {
    return UsageError("agent", "unexpected argument " + fs.positional()[0]);
  }
  for (const std::string& w : fs.warnings()) MINI8S_LOG(WARNING) << w;
  log::SetVerbosity(f.verbosity);

  if (f.simulate <= 0) {
    std::fprintf(stderr,
                 "mini8s agent: the real node agent (running containers) is not available in "
                 "this build yet; use --simulate N to join simulated nodes\n");
    return 1;
  }
  std::string server = !f.join.empty() ? f.join : f.server;
  if (server.empty()) return UsageError("agent", "--server (or --join, $MINI8S_URL) is required");
  if (f.token.empty() && !f.token_file.empty()) {
    std::ifstream in(f.token_file);
    if (!in) {
      std::fprintf(stderr, "mini8s agent: cannot read token file %s\n", f.token_file.c_str());
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    f.token = ss.str();
    while (!f.token.empty() && (f.token.back() == '\n' || f.token.back() == '\r')) {
      f.token.pop_back();
    }
  }
  if (f.token.empty()) return UsageError("agent", "--token or --token-file is required");

  agent::SimulatedAgentOptions o;
  o.server_url = server;
  o.token = f.token;
  o.data_dir = f.data_dir;
  o.count = f.simulate;
  o.node_prefix = !f.node_name.empty() ? f.node_name : "sim-" + Hostname();
  if (f.with_node_id) {
    // k3s's --with-node-id: a random id kept with the agent's state, so restarts keep the name.
    auto id = agent::LoadOrCreateNodePassword(f.data_dir + "/agent/node-id");
    if (!id.ok()) {
      std::fprintf(stderr, "mini8s agent: node id: %s\n", id.error().message().c_str());
      return 1;
    }
    o.node_prefix += "-" + id->substr(0, 8);
  }
  o.node_ip = !f.node_ip.empty() ? f.node_ip : DefaultNodeIp();
  o.kubelet.job_duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(f.simulate_job_duration);
  o.kubelet.max_grace = std::chrono::duration_cast<std::chrono::milliseconds>(f.simulate_max_grace);
  o.node_template.kubelet_version = std::string(kKubernetesVersion) + "-mini8s";
  o.node_template.container_runtime_version = std::string("mini8s://") + kMini8sVersion;

  // The runner owns the shutdown order: stop the loops, drain, destroy the agent's clients, then
  // the io_context (the other way round closed sockets through freed reactor state: SIGTERM
  // crashed with heap corruption).
  agent::SimulatedAgentRunner runner(std::move(o));
  Status s = runner.Run(/*handle_signals=*/true);
  if (s.Is(Code::kCancelled)) {
    std::fprintf(stderr, "mini8s agent: interrupted while joining\n");
    return 1;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "mini8s agent: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace mini8s::cli
