// `mini8s server`: the control plane (k3s's flags and file layout): the API server over the
// embedded SQLite store, the join endpoints agents use, and the controllers and scheduler in
// process. The local agent (containers on this machine) comes with the node agent.
#include <sys/resource.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include "cli/commands.h"
#include "cli/control_plane.h"
#include "mini8s/controllers/service_alloc.h"
#include "mini8s/server/admission_plugins.h"
#include "mini8s/server/authentication_apis.h"
#include "mini8s/server/bootstrap_token.h"
#include "mini8s/server/builtin_admission.h"
#include "mini8s/server/service_account_token.h"
#include "mini8s/server/join.h"
#include "mini8s/server/node_authorizer.h"
#include "mini8s/server/rbac.h"
#include "mini8s/common/json.h"
#include "cli/version.h"
#include "mini8s/api/registry.h"
#include "mini8s/common/flags.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/server.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/audit.h"
#include "mini8s/server/auth.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/server/cert_rotation.h"
#include "mini8s/server/encryption.h"
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
  std::string service_account_issuer = server::kDefaultServiceAccountIssuer;
  bool anonymous_auth = false;
  std::string cluster_cidr = "10.42.0.0/16";
  std::string service_cidr = "10.43.0.0/16";
  std::string cluster_dns = "10.43.0.10";
  std::string cluster_domain = "cluster.local";
  bool disable_agent = false;
  bool disable_scheduler = false;
  bool disable_controller_manager = false;
  std::vector<std::string> disable;  // packaged components: servicelb, local-storage
  // kube-apiserver's DefaultTolerationSeconds and kube-controller-manager's node monitor.
  int64_t default_not_ready_toleration_seconds = 300;
  int64_t default_unreachable_toleration_seconds = 300;
  std::chrono::nanoseconds node_monitor_grace_period = std::chrono::seconds(40);
  std::chrono::nanoseconds cert_check_interval = std::chrono::hours(12);  // hidden, for tests
  int verbosity = 0;
  int max_requests_inflight = 400;
  int max_mutating_requests_inflight = 200;
  bool secrets_encryption = false;
  std::string audit_log_path;
  std::string audit_policy_file;
  int audit_log_maxage = 0;
  int audit_log_maxbackup = 0;
  int audit_log_maxsize = 0;
};

// Node passwords (join) as Secrets in kube-system, written through the API server itself. Each
// call runs its own small event loop: JoinService is synchronous and runs on the join pool.
class ApiNodePasswords final : public server::NodePasswordStore {
 public:
  explicit ApiNodePasswords(server::ApiServer& api) : api_(api) {}
  Result<std::optional<std::string>> Get(const std::string& node) override {
    auto secret = Call([&](client::Client& c) -> boost::asio::awaitable<Result<boost::json::object>> {
      client::Resource r{"", "v1", "secrets", "Secret", true};
      std::string ns = "kube-system";
      std::string name = server::NodePasswordSecretName(node);
      co_return co_await c.Get(r, ns, name);
    });
    if (!secret.has_value()) {
      if (secret.error().Is(Code::kNotFound)) return std::optional<std::string>();
      return secret.error();
    }
    return server::NodePasswordHashOf(*secret);
  }
  Status Create(const std::string& node, const std::string& hash) override {
    auto created =
        Call([&](client::Client& c) -> boost::asio::awaitable<Result<boost::json::object>> {
          client::Resource r{"", "v1", "secrets", "Secret", true};
          boost::json::object obj = server::NodePasswordSecret(node, hash);
          co_return co_await c.Create(r, std::move(obj));
        });
    return created.has_value() ? Status::OK() : created.error();
  }

 private:
  template <class F>
  Result<boost::json::object> Call(F f) {
    boost::asio::io_context io;
    auto c = api_.NewLocalClient(server::UserInfo{"system:mini8s-supervisor", "",
                                                  {"system:masters", "system:authenticated"}});
    std::optional<Result<boost::json::object>> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          auto r = co_await f(*c);
          out.emplace(std::move(r));
        },
        boost::asio::detached);
    io.run();
    if (!out) return Status::Internal("node password request did not complete");
    return std::move(*out);
  }
  server::ApiServer& api_;
};

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "mini8s server: %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

bool HasItem(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

long RssKb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// glibc keeps freed heap memory for reuse, and after a burst (thousands of objects written,
// replaced and re-serialized by several threads) tens of MiB sit free between live blocks that
// it never returns on its own (measured: 198 MiB RSS, 150 MiB after malloc_trim). Hand the free
// pages back periodically; a pass takes milliseconds.
void ScheduleHeapTrim(boost::asio::steady_timer& timer) {
#ifdef __GLIBC__
  timer.expires_after(std::chrono::seconds(5));
  timer.async_wait([&timer](const boost::system::error_code& ec) {
    if (ec) return;
    malloc_trim(0);
    ScheduleHeapTrim(timer);
  });
#else
  (void)timer;
#endif
}

// glibc gives each thread that contends on malloc its own arena (up to 8 per core), and each
// arena keeps its own free memory: the server had 9 arenas at the end of the control-plane
// benchmark. Two are plenty for our thread count and cost a few MiB less RSS (docs/design/
// client.md, "Memory"); MALLOC_ARENA_MAX in the environment still wins.
void LimitMallocArenas() {
#ifdef __GLIBC__
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
#endif
}

}  // namespace

int RunServer(const Args& args) {
  LimitMallocArenas();
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
  fs.String("service-account-issuer", &f.service_account_issuer,
            "Issuer (iss) of service account tokens; also their default audience");
  fs.Bool("anonymous-auth", &f.anonymous_auth,
          "Serve requests without credentials as system:anonymous (the authorizer decides)");
  fs.String("token-auth-file", &f.token_auth_file,
            "Static bearer tokens (CSV: token,user,uid,\"group1,group2\")");
  fs.String("cluster-cidr", &f.cluster_cidr, "IPv4 network CIDR for pod IPs");
  fs.String("service-cidr", &f.service_cidr, "IPv4 network CIDR for service IPs");
  fs.String("cluster-dns", &f.cluster_dns, "IPv4 cluster IP of the DNS service");
  fs.String("cluster-domain", &f.cluster_domain, "Cluster domain");
  fs.Bool("disable-agent", &f.disable_agent, "Do not run a local agent");
  fs.Bool("disable-scheduler", &f.disable_scheduler, "Do not run the scheduler");
  fs.Bool("disable-controller-manager", &f.disable_controller_manager,
          "Do not run the controllers");
  fs.StringList("disable", &f.disable,
                "Do not run these packaged components (servicelb, local-storage)");
  fs.Int64("default-not-ready-toleration-seconds", &f.default_not_ready_toleration_seconds,
           "tolerationSeconds of the not-ready:NoExecute toleration every pod gets");
  fs.Int64("default-unreachable-toleration-seconds", &f.default_unreachable_toleration_seconds,
           "tolerationSeconds of the unreachable:NoExecute toleration every pod gets");
  fs.Duration("node-monitor-grace-period", &f.node_monitor_grace_period,
              "How long a node may miss heartbeats before it is marked NotReady");
  fs.Int("max-requests-inflight", &f.max_requests_inflight,
         "Maximum number of non-mutating requests in flight at a given time (0: no limit)");
  fs.Int("max-mutating-requests-inflight", &f.max_mutating_requests_inflight,
         "Maximum number of mutating requests in flight at a given time (0: no limit)");
  fs.Int("v", &f.verbosity, "Log verbosity");
  fs.Duration("cert-check-interval", &f.cert_check_interval,
              "How often leaf certificates near expiry are renewed")
      .Hidden();
  fs.Bool("secrets-encryption", &f.secrets_encryption,
          "Enable secret encryption at rest (AES-GCM; keys in <data-dir>/server/cred)");
  fs.String("audit-log-path", &f.audit_log_path,
            "Write audit events (JSON lines) to this file; '-' for stdout");
  fs.String("audit-policy-file", &f.audit_policy_file,
            "audit.k8s.io/v1 Policy (default with a log path: Metadata for every request)");
  fs.Int("audit-log-maxage", &f.audit_log_maxage, "Days to keep rotated audit logs (0: forever)");
  fs.Int("audit-log-maxbackup", &f.audit_log_maxbackup,
         "Rotated audit logs to keep (0: all)");
  fs.Int("audit-log-maxsize", &f.audit_log_maxsize,
         "Rotate the audit log at this many MiB (0: never)");
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
  if (f.max_requests_inflight < 0 || f.max_mutating_requests_inflight < 0) {
    return UsageError("server", "--max-requests-inflight and --max-mutating-requests-inflight can "
                                "not be negative");
  }
  if (f.https_listen_port < 0 || f.https_listen_port > 65535) {
    return UsageError("server", "invalid --https-listen-port");
  }
  // Before anything is written to the data directory.
  for (const std::string& d : f.disable) {
    if (d != "servicelb" && d != "local-storage") {
      return UsageError("server", "--disable: unknown component \"" + d +
                                      "\" (known: servicelb, local-storage)");
    }
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

  auto secrets_enc = server::LoadSecretsEncryption(f.data_dir, f.secrets_encryption);
  if (!secrets_enc.ok()) return Fail("secrets encryption", secrets_enc.error());
  store::StoreOptions store_options;
  store_options.transformer = *secrets_enc;
  auto store = store::SqliteStore::Open(creds->db_path, store_options);
  if (!store.ok()) return Fail("datastore", store.error());

  auto authn = server::Authenticator::Create(f.token_auth_file);
  if (!authn.ok()) return Fail("token auth file", authn.error());
  // Bearer tokens beyond the static file: service-account JWTs and bootstrap tokens.
  auto sa_key = server::LoadOrCreateServiceAccountKey(creds->tls_dir + "/service.key");
  if (!sa_key.ok()) return Fail("service account key", sa_key.error());
  server::ServiceAccountTokenOptions sao;
  sao.issuer = f.service_account_issuer;
  sao.ca_pem = creds->server_ca_pem;
  auto sa_tokens =
      server::ServiceAccountTokens::Create(*sa_key, sao, server::StoreObjectGetter(**store));
  if (!sa_tokens.ok()) return Fail("service account tokens", sa_tokens.error());
  (*authn)->AddTokenAuthenticator((*sa_tokens)->NewAuthenticator());
  auto bootstrap_tokens = std::make_shared<server::BootstrapTokenAuthenticator>(
      server::StoreObjectGetter(**store), &RealClock::Instance());
  (*authn)->AddTokenAuthenticator(bootstrap_tokens);

  controllers::ClusterConfig cluster;
  cluster.cluster_cidr = f.cluster_cidr;
  cluster.service_cidr = f.service_cidr;
  cluster.cluster_dns = f.cluster_dns;
  cluster.cluster_domain = f.cluster_domain;
  cluster.ca_bundle_pem = creds->server_ca_pem;
  cluster.api_server_port = f.https_listen_port;
  cluster.data_dir = f.data_dir;
  cluster.api_server_host =
      !f.advertise_address.empty() ? f.advertise_address
      : f.bind_address != "0.0.0.0" && f.bind_address != "::" ? f.bind_address
      : !server::HostIPv4Addresses().empty() ? server::HostIPv4Addresses().front()
                                             : std::string("127.0.0.1");  // no network at all
  // Stored objects for admission plug-ins that read other kinds (one lister for all of them).
  auto admission_objects = server::NewStoreAdmissionObjects(**store);
  // With a StorageClass lister it also provides DefaultStorageClass.
  auto service_plugins = controllers::NewServiceAdmissionPlugins(cluster, [admission_objects] {
    return admission_objects->List("storage.k8s.io", "storageclasses", "");
  });
  if (!service_plugins.ok()) return Fail("service allocation", service_plugins.error());
  for (const std::string& w :
       service_plugins->allocation->Seed(admission_objects->List("", "services", ""))) {
    MINI8S_LOG(WARNING) << "service allocation: " << w;
  }

  server::ApiServerOptions ao;
  ao.registry = api::Registry::NewBuiltin();
  ao.store = store->get();
  ao.authenticator = std::shared_ptr<const server::Authenticator>(std::move(*authn));
  ao.anonymous_auth = f.anonymous_auth;
  std::shared_ptr<const server::Authenticator> authenticator = ao.authenticator;
  // RBAC (docs/design/rbac.md): upstream's bootstrap policy reconciled, an index fed by a store
  // watch, the aggregation controller on it; the chain is system:masters, Node, RBAC.
  auto rbac_policy = server::ReconcileBootstrapPolicy(**store);
  if (!rbac_policy.ok()) return Fail("rbac bootstrap policy", rbac_policy.error());
  for (const std::string& c : *rbac_policy) MINI8S_VLOG(1) << "rbac: " << c;
  auto rbac_index = server::RbacAuthorizer::Create(**store);
  if (!rbac_index.ok()) return Fail("rbac", rbac_index.error());
  std::shared_ptr<server::RbacAuthorizer> rbac = std::move(*rbac_index);
  rbac->SetOnClusterRolesChanged(
      [agg = std::make_shared<server::ClusterRoleAggregator>(**store, *rbac)] {
        auto n = agg->ReconcileAll();
        if (!n.ok()) MINI8S_LOG(WARNING) << "clusterrole aggregation: " << n.error().message();
      });
  ao.authorizer = std::make_shared<server::UnionAuthorizer>(
      std::vector<std::shared_ptr<const server::Authorizer>>{
          std::make_shared<server::PrivilegedGroupAuthorizer>(),
          std::make_shared<server::NodeAuthorizer>(server::PodNodeFromStore(**store),
                                                   server::PodRefsFromStore(**store)),
          rbac});
  ao.admission.push_back(std::make_shared<server::RbacEscalationAdmission>(ao.authorizer, rbac));
  ao.git_version = std::string(kKubernetesVersion) + "-mini8s";
  ao.max_requests_inflight = f.max_requests_inflight;
  ao.max_mutating_requests_inflight = f.max_mutating_requests_inflight;
  // Issue #6's order (upstream's): NamespaceLifecycle, LimitRanger, ServiceAccount,
  // NodeRestriction, PodSecurity, ResourceQuota, DefaultStorageClass, Priority; then the
  // service allocators.
  ao.admission.push_back(server::NewNamespaceLifecycle());
  ao.admission.push_back(server::NewLimitRanger(admission_objects));
  ao.admission.push_back(server::NewServiceAccountDefaults(server::StoreObjectGetter(**store)));
  ao.admission.push_back((*sa_tokens)->NewLegacyTokenAdmission());
  ao.admission.push_back(server::NewDefaultTolerationSeconds(
      f.default_not_ready_toleration_seconds, f.default_unreachable_toleration_seconds));
  ao.admission.push_back(std::make_shared<server::NodeRestrictionAdmission>());
  ao.admission.push_back(server::NewPodSecurity(admission_objects));
  ao.admission.push_back(server::NewResourceQuota(admission_objects));
  for (auto& p : service_plugins->plugins) {
    if (p->name() == "DefaultStorageClass") ao.admission.push_back(std::move(p));
  }
  ao.admission.push_back(server::NewPriority(admission_objects));
  for (auto& p : service_plugins->plugins) {
    if (p) ao.admission.push_back(std::move(p));
  }
  auto auditor = server::OpenAuditLog(f.audit_log_path, f.audit_policy_file, f.audit_log_maxage,
                                      f.audit_log_maxbackup, f.audit_log_maxsize);
  if (!auditor.ok()) return Fail("audit log", auditor.error());
  ao.auditor = *auditor;
  server::EncryptionService encryption(f.data_dir, *secrets_enc, **store, ao.authenticator);
  if (*secrets_enc) {
    // Secrets written before encryption was enabled (or with a key since rotated away).
    auto rw = encryption.Reencrypt();
    if (!rw.ok()) return Fail("secrets encryption", rw.error());
    if (rw->rewritten > 0 || rw->failed > 0) {
      MINI8S_LOG(INFO) << "secrets encryption: re-encrypted " << rw->rewritten << " of "
                       << rw->examined << " stored secret values"
                       << (rw->failed ? " (" + std::to_string(rw->failed) +
                                            " unreadable: " + rw->first_error + ")"
                                      : std::string());
    }
  }
  std::shared_ptr<const server::Authorizer> authorizer_for_reviews = ao.authorizer;
  auto api_server = server::ApiServer::Create(std::move(ao));
  if (!api_server.ok()) return Fail("api server", api_server.error());
  server::RegisterAccessReviews(**api_server, authorizer_for_reviews, rbac);
  server::InstallAuthenticationApis(**api_server, authenticator, *sa_tokens);
  Status ns = (*api_server)->EnsureDefaultNamespaces();
  if (!ns.ok()) return Fail("default namespaces", ns);
  Status pcs = server::EnsureSystemPriorityClasses(*admission_objects);
  if (!pcs.ok()) return Fail("system priority classes", pcs);

  ApiNodePasswords passwords(**api_server);
  server::JoinServiceOptions jo;
  jo.data_dir = f.data_dir;
  jo.config.cluster_cidr = f.cluster_cidr;
  jo.config.service_cidr = f.service_cidr;
  jo.config.cluster_dns = f.cluster_dns;
  jo.config.cluster_domain = f.cluster_domain;
  jo.passwords = &passwords;
  jo.bootstrap_tokens = bootstrap_tokens;
  auto join = server::JoinService::Create(std::move(jo));
  if (!join.ok()) return Fail("join service", join.error());
  // Join requests hash passwords and sign certificates: off the connection strands.
  boost::asio::thread_pool join_pool(1);
  boost::asio::thread_pool encrypt_pool(1);  // re-encryption may take a while
  server::ApiServer* api_ptr = api_server->get();
  server::JoinService* join_ptr = join->get();
  http::Handler handler = [api_ptr, join_ptr, &join_pool, &encrypt_pool, &encryption](
                              http::HttpRequest req, http::Responder resp) {
    if (req.path.rfind(server::kEncryptPathPrefix, 0) == 0) {
      boost::asio::post(encrypt_pool, [&encryption, req = std::move(req), resp]() mutable {
        resp.Send(encryption.Handle(req));
      });
      return;
    }
    if (req.path.rfind(server::kJoinPathPrefix, 0) == 0) {
      boost::asio::post(join_pool, [join_ptr, req = std::move(req), resp]() mutable {
        auto answer = join_ptr->HandleJoin(req);
        if (answer) resp.Send(std::move(*answer));
      });
      return;
    }
    api_ptr->Handle(std::move(req), std::move(resp));
  };

  boost::asio::io_context io;
  http::ServerOptions so;
  so.bind_address = f.bind_address;
  so.port = static_cast<uint16_t>(f.https_listen_port);
  http::ServerTlsOptions tls;
  tls.cert_chain_pem = creds->serving_cert_pem + creds->server_ca_pem;
  tls.key_pem = creds->serving_key_pem;
  tls.client_ca_pem = creds->client_ca_pem;
  so.tls = tls;
  // Connections on their own threads, one io_context each: single-object GETs are answered on
  // the connection's thread (ApiServer::Handle), so a request costs no cross-thread wake-up.
  so.io_threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  auto http_server = http::Server::Create(io.get_executor(), so, handler);
  if (!http_server.ok()) return Fail("listen", http_server.error());
  uint16_t port = (*http_server)->port();

  if (!f.write_kubeconfig.empty()) {
    Status ks = server::WriteKubeconfig(f.write_kubeconfig, kube_mode,
                                        "https://127.0.0.1:" + std::to_string(port), *creds);
    if (!ks.ok()) return Fail("kubeconfig", ks);
  }
  ControlPlaneOptions cpo;
  cpo.config = cluster;
  cpo.config.api_server_port = port;  // the bound port (--https-listen-port 0 picks one)
  cpo.disable_controller_manager = f.disable_controller_manager;
  cpo.disable_scheduler = f.disable_scheduler;
  cpo.node_monitor_grace_period =
      std::chrono::duration_cast<std::chrono::seconds>(f.node_monitor_grace_period);
  cpo.disable_servicelb = HasItem(f.disable, "servicelb");
  cpo.disable_local_storage = HasItem(f.disable, "local-storage");
  auto control_plane = ControlPlane::Start(**api_server, std::move(cpo));
  if (!control_plane.ok()) return Fail("controllers", control_plane.error());

  (*http_server)->ShutdownOnSignals(std::chrono::seconds(5), [&] { io.stop(); });
  // kube-controller-manager's tokencleaner (kept out of the controllers so that
  // --disable-controller-manager does not leave expired bootstrap tokens behind).
  boost::asio::co_spawn(
      boost::asio::make_strand(io),
      server::RunBootstrapTokenCleaner(
          std::shared_ptr<client::Client>((*api_server)->NewLocalClient(server::UserInfo{
              "system:controller:token-cleaner", "", {"system:masters", "system:authenticated"}})),
          RealClock::Instance(), std::chrono::minutes(1)),
      boost::asio::detached);
  (*http_server)->Start();
  MINI8S_LOG(INFO) << "the node agent is not part of this build yet: running the control plane "
                      "only (join nodes with `mini8s agent`)"
                   << (f.disable_agent ? " (--disable-agent)" : "");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
  MINI8S_LOG(INFO) << "mini8s server ready: https://" << f.bind_address << ":" << port
                   << " data-dir=" << f.data_dir << " kubeconfig=" << f.write_kubeconfig
                   << " startup=" << ms << "ms rss=" << RssKb() << "KiB";

  boost::asio::steady_timer heap_trim(io);
  ScheduleHeapTrim(heap_trim);
  // Leaf certificates near expiry are reissued while the server runs: new connections get the
  // new serving certificate, and the admin kubeconfig is rewritten.
  server::CertificateRenewer::Options renew;
  renew.bootstrap = bo;
  renew.interval = std::max(std::chrono::milliseconds(100),
                            std::chrono::duration_cast<std::chrono::milliseconds>(f.cert_check_interval));
  renew.on_renewed = [&](const server::RenewalResult& r) {
    if (r.serving_changed) {
      http::ServerTlsOptions next = tls;
      next.cert_chain_pem = r.credentials.serving_cert_pem + r.credentials.server_ca_pem;
      next.key_pem = r.credentials.serving_key_pem;
      Status s = (*http_server)->ReloadTls(next);
      if (!s.ok()) MINI8S_LOG(ERROR) << "loading the renewed serving certificate: " << s.ToString();
    }
    if (r.admin_changed && !f.write_kubeconfig.empty()) {
      Status s = server::WriteKubeconfig(f.write_kubeconfig, kube_mode,
                                         "https://127.0.0.1:" + std::to_string(port), r.credentials);
      if (!s.ok()) MINI8S_LOG(ERROR) << "rewriting the kubeconfig: " << s.ToString();
    }
  };
  auto renewer = server::CertificateRenewer::Start(io.get_executor(), std::move(renew), *creds);
  unsigned threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  MINI8S_LOG(INFO) << "shutting down";
  (*control_plane)->Stop();
  join_pool.join();
  encrypt_pool.join();
  (*api_server)->Stop();
  http_server->reset();
  if (*auditor && (*auditor)->writer()) (*auditor)->writer()->Close();  // flushes
  (*store)->Close();
  MINI8S_LOG(INFO) << "stopped";
  return 0;
}

}  // namespace mini8s::cli
