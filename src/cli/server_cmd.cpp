// `mini8s server`: the control plane (k3s's flags and file layout). This first version runs the
// API server over the embedded SQLite store; the agent, controllers and scheduler come later.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "cli/commands.h"
#include "cli/version.h"
#include "mini8s/api/registry.h"
#include "mini8s/common/flags.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/server.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/auth.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/store/sqlite_store.h"

namespace mini8s::cli {
namespace {

struct ServerFlags {
  std::string data_dir = "/var/lib/mini8s";
  std::string bind_address = "0.0.0.0";
  int https_listen_port = 6443;
  std::string advertise_address;
  std::vector<std::string> tls_san;
  std::string write_kubeconfig = "/etc/mini8s/mini8s.yaml";
  std::string write_kubeconfig_mode = "0600";
  std::string token;
  std::string token_auth_file;
  std::string cluster_cidr = "10.42.0.0/16";
  std::string service_cidr = "10.43.0.0/16";
  std::string cluster_dns = "10.43.0.10";
  std::string cluster_domain = "cluster.local";
  bool disable_agent = false;
  int verbosity = 0;
};

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "mini8s server: %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

long RssKb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

int RunServer(const Args& args) {
  auto started = std::chrono::steady_clock::now();
  ServerFlags f;
  FlagSet fs("server");
  fs.SetUsage("[flags]", "Run the mini8s control plane (the Kubernetes API server).");
  fs.String("data-dir", &f.data_dir, "Folder to hold state").Short('d');
  fs.String("bind-address", &f.bind_address, "Address the API server listens on");
  fs.Int("https-listen-port", &f.https_listen_port, "HTTPS listen port");
  fs.String("advertise-address", &f.advertise_address,
            "Address clients and agents use to reach the API server (added to the TLS SANs)");
  fs.StringList("tls-san", &f.tls_san,
                "Additional hostnames or IPs as Subject Alternative Names in the serving cert");
  fs.String("write-kubeconfig", &f.write_kubeconfig, "Write the admin kubeconfig to this file")
      .Short('o');
  fs.String("write-kubeconfig-mode", &f.write_kubeconfig_mode,
            "Write the kubeconfig with this mode (octal)");
  fs.String("token", &f.token, "Shared secret used to join agents").Short('t');
  fs.String("token-auth-file", &f.token_auth_file,
            "Static bearer tokens (CSV: token,user,uid,\"group1,group2\")");
  fs.String("cluster-cidr", &f.cluster_cidr, "IPv4 network CIDR for pod IPs");
  fs.String("service-cidr", &f.service_cidr, "IPv4 network CIDR for service IPs");
  fs.String("cluster-dns", &f.cluster_dns, "IPv4 cluster IP of the DNS service");
  fs.String("cluster-domain", &f.cluster_domain, "Cluster domain");
  fs.Bool("disable-agent", &f.disable_agent, "Do not run a local agent");
  fs.Int("v", &f.verbosity, "Log verbosity");
  fs.EnableConfigFile("/etc/mini8s/config.yaml");
  Status ps = fs.Parse(args);
  if (!ps.ok()) return UsageError("server", ps.message());
  if (fs.help_requested()) {
    std::printf("%s", fs.Help().c_str());
    return 0;
  }
  if (!fs.positional().empty()) return UsageError("server", "unexpected argument " + fs.positional()[0]);
  for (const std::string& w : fs.warnings()) MINI8S_LOG(WARNING) << w;
  log::SetVerbosity(f.verbosity);
  if (f.https_listen_port < 0 || f.https_listen_port > 65535) {
    return UsageError("server", "invalid --https-listen-port");
  }
  int kube_mode = 0;
  try {
    kube_mode = std::stoi(f.write_kubeconfig_mode, nullptr, 8);
  } catch (const std::exception&) {
    return UsageError("server", "invalid --write-kubeconfig-mode " + f.write_kubeconfig_mode);
  }

  server::BootstrapOptions bo;
  bo.data_dir = f.data_dir;
  bo.tls_sans = f.tls_san;
  bo.advertise_address = f.advertise_address;
  bo.cluster_domain = f.cluster_domain;
  bo.service_cidr = f.service_cidr;
  bo.token = f.token;
  auto creds = server::EnsureServerCredentials(bo);
  if (!creds.ok()) return Fail("certificates", creds.error());

  auto store = store::SqliteStore::Open(creds->db_path);
  if (!store.ok()) return Fail("datastore", store.error());

  auto authn = server::Authenticator::Create(f.token_auth_file);
  if (!authn.ok()) return Fail("token auth file", authn.error());

  server::ApiServerOptions ao;
  ao.registry = api::Registry::NewBuiltin();
  ao.store = store->get();
  ao.authenticator = std::shared_ptr<const server::Authenticator>(std::move(*authn));
  ao.git_version = std::string(kKubernetesVersion) + "-mini8s";
  auto api_server = server::ApiServer::Create(std::move(ao));
  if (!api_server.ok()) return Fail("api server", api_server.error());
  Status ns = (*api_server)->EnsureDefaultNamespaces();
  if (!ns.ok()) return Fail("default namespaces", ns);

  boost::asio::io_context io;
  http::ServerOptions so;
  so.bind_address = f.bind_address;
  so.port = static_cast<uint16_t>(f.https_listen_port);
  http::ServerTlsOptions tls;
  tls.cert_chain_pem = creds->serving_cert_pem + creds->server_ca_pem;
  tls.key_pem = creds->serving_key_pem;
  tls.client_ca_pem = creds->client_ca_pem;
  so.tls = tls;
  auto http_server = http::Server::Create(io.get_executor(), so, (*api_server)->handler());
  if (!http_server.ok()) return Fail("listen", http_server.error());
  uint16_t port = (*http_server)->port();

  if (!f.write_kubeconfig.empty()) {
    Status ks = server::WriteKubeconfig(f.write_kubeconfig, kube_mode,
                                        "https://127.0.0.1:" + std::to_string(port), *creds);
    if (!ks.ok()) return Fail("kubeconfig", ks);
  }
  (*http_server)->ShutdownOnSignals(std::chrono::seconds(5), [&] { io.stop(); });
  (*http_server)->Start();
  MINI8S_LOG(INFO) << "the agent is not part of this build yet: running the control plane only"
                   << (f.disable_agent ? " (--disable-agent)" : "");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
  MINI8S_LOG(INFO) << "mini8s server ready: https://" << f.bind_address << ":" << port
                   << " data-dir=" << f.data_dir << " kubeconfig=" << f.write_kubeconfig
                   << " startup=" << ms << "ms rss=" << RssKb() << "KiB";

  unsigned threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  MINI8S_LOG(INFO) << "shutting down";
  (*api_server)->Stop();
  http_server->reset();
  (*store)->Close();
  MINI8S_LOG(INFO) << "stopped";
  return 0;
}

}  // namespace mini8s::cli
