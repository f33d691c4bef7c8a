// First-start material of `mini8s server` (k3s layout under <data-dir>/server): the server,
// client and request-header CAs, the serving certificate, the admin client certificate, the
// admin kubeconfig and the node token. A restart reuses what exists; a leaf certificate whose
// SANs no longer cover the configured names, that no longer verifies against its CA or that
// expires within kRenewBeforeExpiry is reissued (new key) from the same CA.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s {
class Clock;
}  // namespace mini8s

namespace mini8s::server {

// Leaf certificates are reissued from the same CA once they are this close to expiry (k3s's
// 90 days), at start and by CertificateRenewer while the server runs.
inline constexpr std::chrono::hours kRenewBeforeExpiry{24 * 90};

struct BootstrapOptions {
  std::string data_dir;                 // <data-dir>; files go to <data-dir>/server/...
  std::vector<std::string> tls_sans;    // extra SANs (names or IPs)
  std::string advertise_address;        // added to the SANs when set
  std::string cluster_domain = "cluster.local";
  std::string service_cidr = "10.43.0.0/16";
  std::string token;                    // --token; empty: generate (first start) or reuse
  // The time renewal decisions use (nullptr: the real clock); tests move it forward.
  const Clock* clock = nullptr;
  // Leaf certificate names ("client-admin", "serving-kube-apiserver") to reissue even when far
  // from expiry (`mini8s certificate rotate`). CAs are never reissued.
  std::vector<std::string> force_renew;
};

struct ServerCredentials {
  std::string server_ca_pem;
  std::string client_ca_pem;
  std::string serving_cert_pem;
  std::string serving_key_pem;
  std::string admin_cert_pem;
  std::string admin_key_pem;
  std::string node_token;  // K10<sha256 of server CA>::server:<secret>
  std::string tls_dir;
  std::string db_path;     // <data-dir>/server/db/state.db
};

Result<ServerCredentials> EnsureServerCredentials(const BootstrapOptions& options);

// The host's IPv4 addresses on interfaces that are up, loopback excluded (what the serving
// certificate lists and what the `kubernetes` endpoints advertise).
std::vector<std::string> HostIPv4Addresses();

// The first usable IP of a CIDR ("10.43.0.0/16" -> "10.43.0.1"), IPv4 only. kInvalid otherwise.
Result<std::string> FirstServiceIp(const std::string& cidr);

// The kubeconfig text for `server_url` with embedded CA and client certificate.
std::string KubeconfigYaml(const std::string& server_url, const ServerCredentials& creds);
// Writes it with `mode` (e.g. 0600), creating the parent directory.
Status WriteKubeconfig(const std::string& path, int mode, const std::string& server_url,
                       const ServerCredentials& creds);

}  // namespace mini8s::server
