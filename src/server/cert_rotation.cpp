#include "mini8s/server/cert_rotation.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mini8s/common/logging.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::server {
namespace {

namespace fs = std::filesystem;

std::string Subject(const http::CertificateInfo& info) {
  std::string s = "CN=" + info.common_name;
  for (const std::string& o : info.organizations) s += ",O=" + o;
  return s;
}

std::string Usages(const http::CertificateInfo& info) {
  if (info.is_ca) return "CertSign";
  std::string s;
  if (info.server_auth) s = "ServerAuth";
  if (info.client_auth) s += s.empty() ? "ClientAuth" : ",ClientAuth";
  return s.empty() ? "-" : s;
}

}  // namespace

const std::vector<ManagedCertificate>& ManagedLeafCertificates() {
  static const std::vector<ManagedCertificate> kLeaves = {
      {"admin", "client-admin"},
      {"api-server", "serving-kube-apiserver"},
  };
  return kLeaves;
}

Result<std::vector<CertificateFileInfo>> ListServerCertificates(const std::string& data_dir) {
  fs::path dir = fs::path(data_dir) / "server" / "tls";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("no certificates in " + dir.string() +
                            " (has the server run with this --data-dir?)");
  }
  std::vector<CertificateFileInfo> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".crt") continue;
    auto pem = http::ReadPemFile(entry.path().string());
    if (!pem.ok()) return pem.error();
    auto info = http::InspectCertificate(*pem);
    if (!info.ok()) {
      return Status::Invalid(entry.path().string() + ": " + info.error().message());
    }
    out.push_back(
        {entry.path().string(), Subject(*info), Usages(*info), info->is_ca, info->not_after});
  }
  if (ec) return Status::Internal("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

Result<RenewalResult> RenewCertificates(const BootstrapOptions& options,
                                        const ServerCredentials& current) {
  MINI8S_ASSIGN_OR_RETURN(ServerCredentials now, EnsureServerCredentials(options));
  RenewalResult r;
  r.serving_changed = now.serving_cert_pem != current.serving_cert_pem ||
                      now.serving_key_pem != current.serving_key_pem;
  r.admin_changed =
      now.admin_cert_pem != current.admin_cert_pem || now.admin_key_pem != current.admin_key_pem;
  r.credentials = std::move(now);
  return r;
}

struct CertificateRenewer::State : std::enable_shared_from_this<State> {
  State(boost::asio::any_io_executor executor, Options o, ServerCredentials c)
      : timer(executor), options(std::move(o)), current(std::move(c)) {}

  void Schedule() {
    timer.expires_after(options.interval);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      self->Pass();
      self->Schedule();
    });
  }

  void Pass() {
    auto r = RenewCertificates(options.bootstrap, current);
    passes.fetch_add(1);
    if (!r.ok()) {
      MINI8S_LOG(ERROR) << "certificate renewal: " << r.error().ToString();
      return;
    }
    if (!r->serving_changed && !r->admin_changed) return;
    MINI8S_LOG(INFO) << "certificate renewal: reissued"
                     << (r->serving_changed ? " serving-kube-apiserver" : "")
                     << (r->admin_changed ? " client-admin" : "");
    current = r->credentials;
    if (options.on_renewed) options.on_renewed(*r);
  }

  boost::asio::steady_timer timer;  // used on the executor only
  Options options;
  ServerCredentials current;  // used on the executor only
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> passes{0};
};

std::unique_ptr<CertificateRenewer> CertificateRenewer::Start(boost::asio::any_io_executor executor,
                                                              Options options,
                                                              ServerCredentials current) {
  auto state = std::make_shared<State>(executor, std::move(options), std::move(current));
  // Schedule on the executor: the timer is only ever touched there.
  boost::asio::post(executor, [state] { state->Schedule(); });
  return std::unique_ptr<CertificateRenewer>(new CertificateRenewer(state));
}

CertificateRenewer::CertificateRenewer(std::shared_ptr<State> state) : state_(std::move(state)) {}

CertificateRenewer::~CertificateRenewer() {
  state_->stopped = true;
  // The pending wait holds only a weak reference: once state_ is released here the wait's
  // handler finds nothing to do; cancelling on the executor ends it early.
  boost::asio::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
}

uint64_t CertificateRenewer::passes() const { return state_->passes.load(); }

}  // namespace mini8s::server
