// The supervisor endpoints agents join through (k3s's /v1-k3s API, under /v1-mini8s/).
#include "mini8s/server/join.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mini8s/common/check.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

constexpr int kPbkdf2Iterations = 10000;
constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Constant-time comparison, so that a wrong token does not leak its matching prefix length.
bool SecretEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.') return false;
    if ((i == 0 || i + 1 == s.size()) && !alnum) return false;
  }
  return true;
}

http::HttpResponse Text(int status, std::string body) {
  http::HttpResponse r = http::HttpResponse::Text(status, std::move(body));
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  return r;
}

http::HttpResponse Pem(std::string body) {
  http::HttpResponse r;
  r.status = 200;
  r.headers.Set("Content-Type", "application/x-pem-file");
  r.body = std::move(body);
  return r;
}

http::HttpResponse Unauthorized() {
  http::HttpResponse r = Text(401, "Unauthorized\n");
  r.headers.Set("WWW-Authenticate", "Basic realm=\"mini8s\"");
  return r;
}

Result<std::string> Pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  std::array<unsigned char, 32> out{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return Status::Internal("PBKDF2 failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

// ---- node passwords ----

std::string NodePasswordSecretName(std::string_view node) {
  return std::string(node) + std::string(kNodePasswordSecretSuffix);
}

json::object NodePasswordSecret(std::string_view node, std::string_view hash) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", json::object{{"name", NodePasswordSecretName(node)},
                                {"namespace", "kube-system"},
                                {"labels", json::object{{"mini8s.io/node-password", "true"}}}}},
      {"type", kNodePasswordSecretType},
      {"immutable", true},
      {"data", json::object{{"hash", Base64Encode(hash)}}},
  };
}

std::optional<std::string> NodePasswordHashOf(const json::object& secret) {
  auto data = secret.if_contains("data");
  if (data == nullptr || !data->is_object()) return std::nullopt;
  auto h = data->as_object().if_contains("hash");
  if (h == nullptr || !h->is_string()) return std::nullopt;
  return Base64Decode(h->as_string());
}

std::string HashNodePassword(std::string_view password) {
  std::array<unsigned char, 16> salt{};
  MINI8S_CHECK(RAND_bytes(salt.data(), static_cast<int>(salt.size())) == 1) << "RAND_bytes";
  std::string salt_hex = Hex(salt.data(), salt.size());
  auto digest = Pbkdf2(password, salt_hex, kPbkdf2Iterations);
  MINI8S_CHECK(digest.ok()) << digest.error().ToString();
  return "$pbkdf2-sha256$" + std::to_string(kPbkdf2Iterations) + "$" + salt_hex + "$" +
         Hex(reinterpret_cast<const unsigned char*>(digest->data()), digest->size());
}

bool VerifyNodePassword(std::string_view password, std::string_view hash) {
  // $pbkdf2-sha256$<iterations>$<salt>$<digest>
  constexpr std::string_view kPrefix = "$pbkdf2-sha256$";
  if (hash.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = hash.substr(kPrefix.size());
  auto d1 = rest.find('$');
  if (d1 == std::string_view::npos) return false;
  auto d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int iterations = 0;
  std::string_view it_text = rest.substr(0, d1);
  auto [ptr, ec] = std::from_chars(it_text.data(), it_text.data() + it_text.size(), iterations);
  if (ec != std::errc() || ptr != it_text.data() + it_text.size() || iterations < 1 ||
      iterations > 10'000'000) {
    return false;
  }
  std::string_view salt = rest.substr(d1 + 1, d2 - d1 - 1);
  std::string_view want = rest.substr(d2 + 1);
  auto digest = Pbkdf2(password, salt, iterations);
  if (!digest.ok()) return false;
  std::string got = Hex(reinterpret_cast<const unsigned char*>(digest->data()), digest->size());
  return SecretEquals(got, want);
}

Result<std::optional<std::string>> MemNodePasswordStore::Get(const std::string& node) {
  std::lock_guard lock(mu_);
  auto it = hashes_.find(node);
  if (it == hashes_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemNodePasswordStore::Create(const std::string& node, const std::string& hash) {
  std::lock_guard lock(mu_);
  if (!hashes_.emplace(node, hash).second) {
    return Status::AlreadyExists("secrets \"" + NodePasswordSecretName(node) + "\" already exists");
  }
  return Status::OK();
}

// ---- agent config ----

json::object AgentConfig::ToJson() const {
  return json::object{{"clusterCIDR", cluster_cidr},
                      {"serviceCIDR", service_cidr},
                      {"clusterDNS", cluster_dns},
                      {"clusterDomain", cluster_domain}};
}

Result<AgentConfig> AgentConfig::FromJson(const json::object& obj) {
  AgentConfig c;
  auto get = [&](const char* key, std::string& out) -> Status {
    auto v = obj.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      return Status::Invalid(std::string("agent config: missing ") + key);
    }
    out = std::string(v->as_string());
    return Status::OK();
  };
  MINI8S_RETURN_IF_ERROR(get("clusterCIDR", c.cluster_cidr));
  MINI8S_RETURN_IF_ERROR(get("serviceCIDR", c.service_cidr));
  MINI8S_RETURN_IF_ERROR(get("clusterDNS", c.cluster_dns));
  MINI8S_RETURN_IF_ERROR(get("clusterDomain", c.cluster_domain));
  return c;
}

// ---- JoinService ----

Result<std::unique_ptr<JoinService>> JoinService::Create(JoinServiceOptions options) {
  if (options.passwords == nullptr) return Status::Invalid("join service: no password store");
  std::unique_ptr<JoinService> s(new JoinService());
  std::string tls = options.data_dir + "/server/tls";
  MINI8S_ASSIGN_OR_RETURN(s->server_ca_pem_, ReadFile(tls + "/server-ca.crt"));
  MINI8S_ASSIGN_OR_RETURN(s->client_ca_pem_, ReadFile(tls + "/client-ca.crt"));
  MINI8S_ASSIGN_OR_RETURN(s->client_ca_key_pem_, ReadFile(tls + "/client-ca.key"));
  MINI8S_ASSIGN_OR_RETURN(std::string token, ReadFile(options.data_dir + "/server/token"));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  // K10<hash>::server:<secret>, or a bare secret.
  auto colon = token.rfind(':');
  s->token_secret_ = colon == std::string::npos ? token : token.substr(colon + 1);
  if (s->token_secret_.empty()) return Status::Invalid("join service: empty token secret");
  s->options_ = std::move(options);
  return s;
}

bool JoinService::Authenticated(const http::HttpRequest& request) const {
  if (auto auth = request.headers.Get("Authorization")) {
    constexpr std::string_view kBasic = "Basic ";
    if (auth->size() <= kBasic.size() ||
        !http::EqualsIgnoreCase(std::string_view(*auth).substr(0, kBasic.size()), kBasic)) {
      return false;
    }
    auto decoded = Base64Decode(std::string_view(*auth).substr(kBasic.size()));
    if (!decoded) return false;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    std::string user = decoded->substr(0, colon);
    std::string pass = decoded->substr(colon + 1);
    if (user == "node" && options_.bootstrap_tokens) {
      auto bootstrap = options_.bootstrap_tokens->AuthenticateToken(pass);
      if (bootstrap.ok() && bootstrap->has_value()) return true;
    }
    return (user == "node" || user == "server") && SecretEquals(pass, token_secret_);
  }
  // A node renewing with the certificate it was given.
  if (request.tls && request.tls->certificate_verified &&
      !request.tls->certificate_chain_pem.empty()) {
    auto info = http::InspectCertificate(request.tls->certificate_chain_pem.front());
    if (!info.ok() || !info->client_auth) return false;
    std::string node = request.headers.GetOr("Mini8s-Node-Name");
    bool in_nodes = std::find(info->organizations.begin(), info->organizations.end(),
                              "system:nodes") != info->organizations.end();
    return in_nodes && !node.empty() && info->common_name == "system:node:" + node;
  }
  return false;
}

std::optional<http::HttpResponse> JoinService::HandleJoin(const http::HttpRequest& request) const {
  std::string_view path = request.path;
  if (path.substr(0, kJoinPathPrefix.size()) != kJoinPathPrefix) return std::nullopt;
  std::string_view what = path.substr(kJoinPathPrefix.size());
  bool get = request.method == "GET" || request.method == "HEAD";
  if (what == "cacerts" || what == "ping") {
    if (!get) return Text(405, "method not allowed\n");
    return what == "ping" ? Text(200, "pong") : Pem(server_ca_pem_);
  }
  if (what != "config" && what != "client-ca.crt" && what != "server-ca.crt" &&
      what != "client-kubelet.crt") {
    return Text(404, "404 page not found\n");
  }
  if (!Authenticated(request)) return Unauthorized();
  if (what == "client-kubelet.crt") {
    if (!get && request.method != "POST") return Text(405, "method not allowed\n");
    return ClientKubeletCert(request);
  }
  if (!get) return Text(405, "method not allowed\n");
  if (what == "client-ca.crt") return Pem(client_ca_pem_);
  if (what == "server-ca.crt") return Pem(server_ca_pem_);
  return http::HttpResponse::Json(200, SerializeJson(options_.config.ToJson()));
}

http::HttpResponse JoinService::ClientKubeletCert(const http::HttpRequest& request) const {
  std::string node = request.headers.GetOr("Mini8s-Node-Name");
  std::string password = request.headers.GetOr("Mini8s-Node-Password");
  if (node.empty() || !IsDnsSubdomain(node)) {
    return Text(400, "invalid or missing Mini8s-Node-Name header\n");
  }
  if (password.empty()) return Text(400, "missing Mini8s-Node-Password header\n");

  // The node password: the first join of a name claims it.
  const std::string rejected =
      "Node password rejected, duplicate hostname or contents of '/etc/mini8s/node/password' "
      "may not match server node-passwd entry, try enabling a unique node name with the "
      "--with-node-id flag\n";
  auto stored = options_.passwords->Get(node);
  if (!stored.ok()) {
    MINI8S_LOG(ERROR) << "node password of " << node << ": " << stored.error().ToString();
    return Text(500, "cannot read the node password\n");
  }
  if (stored->has_value()) {
    if (!VerifyNodePassword(password, **stored)) return Text(403, rejected);
  } else {
    Status created = options_.passwords->Create(node, HashNodePassword(password));
    if (created.code() == Code::kAlreadyExists) {
      // Another join of the same name won the race: check against what it stored.
      auto again = options_.passwords->Get(node);
      if (!again.ok() || !again->has_value() || !VerifyNodePassword(password, **again)) {
        return Text(403, rejected);
      }
    } else if (!created.ok()) {
      MINI8S_LOG(ERROR) << "node password of " << node << ": " << created.ToString();
      return Text(500, "cannot store the node password\n");
    }
  }

  http::CertificateRequest req;
  req.common_name = "system:node:" + node;
  req.organizations = {"system:nodes"};
  req.client_auth = true;
  http::CertificateAndKey ca{client_ca_pem_, client_ca_key_pem_};
  std::string body;
  if (request.method == "POST") {
    auto cert = http::IssueCertificateForCsr(ca, req, request.body);
    if (!cert.ok())
      return Text(400, "invalid certificate signing request: " + cert.error().message() + "\n");
    body = *cert + client_ca_pem_;
  } else {
    auto issued = http::IssueCertificate(ca, req);
    if (!issued.ok()) return Text(500, issued.error().message() + "\n");
    body = issued->cert_pem + client_ca_pem_ + issued->key_pem;
  }
  MINI8S_LOG(INFO) << "issued client certificate system:node:" << node << " (node IP "
                   << request.headers.GetOr("Mini8s-Node-IP", "unknown") << ")";
  return Pem(std::move(body));
}

}  // namespace mini8s::server
