// Leaf certificate renewal of `mini8s server` (k3s's model): CAs live ten years and are kept;
// the serving and admin certificates live one year and are reissued from the same CA when they
// come within kRenewBeforeExpiry of expiry, at start (EnsureServerCredentials), periodically
// while the server runs (CertificateRenewer) and on demand (`mini8s certificate rotate`).
//
// Thread-safety: the free functions touch only the files under the data directory; run one
// renewal at a time per data directory. CertificateRenewer's methods are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "mini8s/common/result.h"
#include "mini8s/server/bootstrap.h"

namespace mini8s::server {

// A leaf certificate the server issues for itself, by the service name k3s uses for it in
// `k3s certificate rotate --service` and its file stem under <data-dir>/server/tls.
struct ManagedCertificate {
  std::string service;  // "admin", "api-server"
  std::string name;     // "client-admin", "serving-kube-apiserver"
};
const std::vector<ManagedCertificate>& ManagedLeafCertificates();

// One certificate file as `mini8s certificate check` shows it.
struct CertificateFileInfo {
  std::string path;
  std::string subject;  // "CN=system:admin,O=system:masters"
  std::string usages;   // "CertSign", "ServerAuth", "ClientAuth", "ServerAuth,ClientAuth"
  bool is_ca = false;
  std::chrono::system_clock::time_point not_after;
};
// Every *.crt directly under <data_dir>/server/tls, sorted by path. kNotFound when the directory
// does not exist (the server never started with this data directory).
Result<std::vector<CertificateFileInfo>> ListServerCertificates(const std::string& data_dir);

struct RenewalResult {
  ServerCredentials credentials;  // what is on disk now
  bool serving_changed = false;   // the listener needs the new serving certificate
  bool admin_changed = false;     // the admin kubeconfig needs rewriting
};
// One renewal pass: EnsureServerCredentials(options) (which reissues what is near expiry or named
// in options.force_renew) and what changed compared with `current`.
Result<RenewalResult> RenewCertificates(const BootstrapOptions& options,
                                        const ServerCredentials& current);

// Runs RenewCertificates every `interval` on `executor` and calls `on_renewed` (on the executor)
// after a pass that changed something. A failed pass is logged and retried at the next interval.
class CertificateRenewer {
 public:
  struct Options {
    BootstrapOptions bootstrap;
    std::chrono::milliseconds interval = std::chrono::hours(12);
    std::function<void(const RenewalResult&)> on_renewed;
  };
  static std::unique_ptr<CertificateRenewer> Start(boost::asio::any_io_executor executor,
                                                   Options options, ServerCredentials current);
  // Cancels the timer. Safe once the executor has stopped, too.
  ~CertificateRenewer();
  CertificateRenewer(const CertificateRenewer&) = delete;
  CertificateRenewer& operator=(const CertificateRenewer&) = delete;

  // Passes completed so far (changed or not).
  uint64_t passes() const;

  struct State;

 private:
  explicit CertificateRenewer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace mini8s::server
