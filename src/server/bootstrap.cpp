// Certificates, kubeconfig and node token of the server, k3s's file layout.
#include "mini8s/server/bootstrap.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "mini8s/common/clock.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::server {
namespace {

namespace fs = std::filesystem;

bool Exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

Status MakeDirs(const std::string& p, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return Status::Internal("cannot create " + p + ": " + ec.message());
  fs::permissions(p, perms, ec);
  return Status::OK();
}

// Loads <dir>/<name>.crt/.key, or creates a self-signed CA there.
Result<http::CertificateAndKey> LoadOrCreateCa(const std::string& dir, const std::string& name,
                                               const std::string& cn) {
  std::string crt = dir + "/" + name + ".crt", key = dir + "/" + name + ".key";
  if (Exists(crt) && Exists(key)) {
    auto c = http::ReadPemFile(crt);
    if (!c.ok()) return c.error();
    auto k = http::ReadPemFile(key);
    if (!k.ok()) return k.error();
    return http::CertificateAndKey{*c, *k};
  }
  auto ca = http::GenerateSelfSignedCa(cn + "@" + std::to_string(::time(nullptr)));
  if (!ca.ok()) return ca.error();
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(key, ca->key_pem, 0600));
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(crt, ca->cert_pem, 0644));
  return *ca;
}

bool Covers(const std::vector<std::string>& have, const std::vector<std::string>& want) {
  for (const std::string& w : want) {
    if (std::find(have.begin(), have.end(), w) == have.end()) return false;
  }
  return true;
}

// Loads a leaf certificate if it still verifies against `ca` and covers the wanted names;
// otherwise issues a new one.
Result<http::CertificateAndKey> LoadOrIssue(const std::string& dir, const std::string& name,
                                            const http::CertificateAndKey& ca,
                                            const http::CertificateRequest& req,
                                            const BootstrapOptions& o) {
  std::string crt = dir + "/" + name + ".crt", key = dir + "/" + name + ".key";
  auto now = o.clock != nullptr ? o.clock->Now() : std::chrono::system_clock::now();
  bool forced = std::find(o.force_renew.begin(), o.force_renew.end(), name) != o.force_renew.end();
  if (Exists(crt) && Exists(key) && !forced) {
    auto c = http::ReadPemFile(crt);
    auto k = http::ReadPemFile(key);
    auto at = o.clock != nullptr ? now : std::chrono::system_clock::time_point{};
    if (c.ok() && k.ok() && http::VerifyCertificate(*c, ca.cert_pem, at).ok()) {
      auto info = http::InspectCertificate(*c);
      if (info.ok() && Covers(info->dns_names, req.dns_names) &&
          Covers(info->ip_addresses, req.ip_addresses) &&
          info->not_after > now + kRenewBeforeExpiry) {
        return http::CertificateAndKey{*c, *k};
      }
    }
  }
  if (Exists(crt)) MINI8S_LOG(INFO) << "reissuing " << crt;
  http::CertificateRequest dated = req;
  if (o.clock != nullptr) dated.issued_at = now;
  auto issued = http::IssueCertificate(ca, dated);
  if (!issued.ok()) return issued.error();
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(key, issued->key_pem, 0600));
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(crt, issued->cert_pem, 0644));
  return *issued;
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::vector<std::string> NodeIps() {
  std::vector<std::string> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
    if (i->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) out.emplace_back(buf);
  }
  freeifaddrs(ifs);
  return out;
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    s += kHex[v >> 4];
    s += kHex[v & 15];
  }
  return s;
}

Result<std::string> ReadFile(const std::string& p) {
  std::ifstream in(p);
  if (!in) return Status::NotFound("cannot read " + p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

std::vector<std::string> HostIPv4Addresses() { return NodeIps(); }

Result<std::string> FirstServiceIp(const std::string& cidr) {
  auto slash = cidr.find('/');
  std::string addr = cidr.substr(0, slash);
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1) {
    return Status::Invalid("service CIDR " + cidr + " is not an IPv4 CIDR");
  }
  int bits = 32;
  if (slash != std::string::npos) bits = std::atoi(cidr.c_str() + slash + 1);
  if (bits < 0 || bits > 30) return Status::Invalid("service CIDR " + cidr + " is too small");
  uint32_t host = ntohl(a.s_addr);
  uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  uint32_t first = (host & mask) + 1;
  in_addr out{htonl(first)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &out, buf, sizeof buf);
  return std::string(buf);
}

Result<ServerCredentials> EnsureServerCredentials(const BootstrapOptions& o) {
  ServerCredentials c;
  std::string server_dir = o.data_dir + "/server";
  c.tls_dir = server_dir + "/tls";
  MINI8S_RETURN_IF_ERROR(MakeDirs(c.tls_dir, fs::perms::owner_all));
  MINI8S_RETURN_IF_ERROR(MakeDirs(server_dir + "/db", fs::perms::owner_all));
  c.db_path = server_dir + "/db/state.db";

  auto server_ca = LoadOrCreateCa(c.tls_dir, "server-ca", "mini8s-server-ca");
  if (!server_ca.ok()) return server_ca.error();
  auto client_ca = LoadOrCreateCa(c.tls_dir, "client-ca", "mini8s-client-ca");
  if (!client_ca.ok()) return client_ca.error();
  auto rh_ca = LoadOrCreateCa(c.tls_dir, "request-header-ca", "mini8s-request-header-ca");
  if (!rh_ca.ok()) return rh_ca.error();
  c.server_ca_pem = server_ca->cert_pem;
  c.client_ca_pem = client_ca->cert_pem;

  auto svc_ip = FirstServiceIp(o.service_cidr);
  if (!svc_ip.ok()) return svc_ip.error();
  http::CertificateRequest serving;
  serving.common_name = "kube-apiserver";
  serving.server_auth = true;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) serving.dns_names.push_back(host);
  serving.dns_names.insert(serving.dns_names.end(),
                           {"localhost", "kubernetes", "kubernetes.default",
                            "kubernetes.default.svc", "kubernetes.default.svc." + o.cluster_domain});
  serving.ip_addresses = {"127.0.0.1", *svc_ip};
  for (const std::string& ip : NodeIps()) serving.ip_addresses.push_back(ip);
  std::vector<std::string> extra = o.tls_sans;
  if (!o.advertise_address.empty()) extra.push_back(o.advertise_address);
  for (const std::string& san : extra) {
    auto& list = IsIp(san) ? serving.ip_addresses : serving.dns_names;
    if (std::find(list.begin(), list.end(), san) == list.end()) list.push_back(san);
  }
  auto serving_cert = LoadOrIssue(c.tls_dir, "serving-kube-apiserver", *server_ca, serving, o);
  if (!serving_cert.ok()) return serving_cert.error();
  c.serving_cert_pem = serving_cert->cert_pem;
  c.serving_key_pem = serving_cert->key_pem;

  http::CertificateRequest admin;
  admin.common_name = "system:admin";
  admin.organizations = {"system:masters"};
  admin.client_auth = true;
  auto admin_cert = LoadOrIssue(c.tls_dir, "client-admin", *client_ca, admin, o);
  if (!admin_cert.ok()) return admin_cert.error();
  c.admin_cert_pem = admin_cert->cert_pem;
  c.admin_key_pem = admin_cert->key_pem;

  // The token: --token wins; else the secret of an existing token file; else a new secret.
  std::string token_path = server_dir + "/token";
  std::string secret = o.token;
  if (secret.empty()) {
    auto existing = ReadFile(token_path);
    if (existing.ok()) {
      std::string t = *existing;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
      auto p = t.rfind("::server:");
      secret = p == std::string::npos ? t : t.substr(p + 9);
    }
  } else if (auto p = secret.rfind("::server:"); p != std::string::npos) {
    secret = secret.substr(p + 9);
  }
  if (secret.empty()) secret = RandomHex(16);
  c.node_token = "K10" + http::CaBundleSha256Hex(c.server_ca_pem) + "::server:" + secret;
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(token_path, c.node_token + "\n", 0600));
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(server_dir + "/node-token", c.node_token + "\n", 0600));
  return c;
}

std::string KubeconfigYaml(const std::string& server_url, const ServerCredentials& c) {
  std::ostringstream y;
  y << "apiVersion: v1\n"
    << "clusters:\n"
    << "- cluster:\n"
    << "    certificate-authority-data: " << Base64(c.server_ca_pem) << "\n"
    << "    server: " << server_url << "\n"
    << "  name: default\n"
    << "contexts:\n"
    << "- context:\n"
    << "    cluster: default\n"
    << "    user: default\n"
    << "  name: default\n"
    << "current-context: default\n"
    << "kind: Config\n"
    << "preferences: {}\n"
    << "users:\n"
    << "- name: default\n"
    << "  user:\n"
    << "    client-certificate-data: " << Base64(c.admin_cert_pem) << "\n"
    << "    client-key-data: " << Base64(c.admin_key_pem) << "\n";
  return y.str();
}

Status WriteKubeconfig(const std::string& path, int mode, const std::string& server_url,
                       const ServerCredentials& creds) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return Status::Internal("cannot create " + parent.string() + ": " + ec.message());
  }
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(path, KubeconfigYaml(server_url, creds), mode));
  // WritePemFile applies the mode at creation; enforce it for an existing file too.
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return Status::FromErrno(errno, "chmod", path);
  }
  return Status::OK();
}

}  // namespace mini8s::server
