// Token parsing, CA pinning and the node-certificate request of a joining agent.
#include "mini8s/agent/join_client.h"

#include <random>

#include <boost/json.hpp>

#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/client.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::agent {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kTokenPrefix = "K10";

std::string Base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A non-2xx answer of the supervisor as a Status.
Status FromHttp(int status, const std::string& body, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::to_string(status) + " " + Trimmed(body);
  if (status == 401) return Status::Unauthorized(msg);
  if (status == 403) return Status::Forbidden(Trimmed(body));
  if (status == 404) return Status::NotFound(msg);
  if (status >= 500) return Status::Unavailable(msg);
  return Status::Invalid(msg);
}

}  // namespace

Result<JoinToken> ParseJoinToken(std::string_view token, std::string_view default_user) {
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.remove_suffix(1);
  }
  JoinToken t;
  t.username = std::string(default_user);
  std::string_view creds = token;
  if (token.substr(0, kTokenPrefix.size()) == kTokenPrefix) {
    auto sep = token.find("::");
    if (sep == std::string_view::npos) {
      return Status::Invalid("invalid token format: K10 token without '::'");
    }
    std::string_view hash = token.substr(kTokenPrefix.size(), sep - kTokenPrefix.size());
    if (hash.size() != 64 || !IsLowerHex(hash)) {
      return Status::Invalid("invalid token CA hash: want 64 lower-case hex digits");
    }
    t.ca_hash = std::string(hash);
    creds = token.substr(sep + 2);
    if (auto colon = creds.find(':'); colon != std::string_view::npos) {
      t.username = std::string(creds.substr(0, colon));
      creds = creds.substr(colon + 1);
      if (t.username.empty()) return Status::Invalid("invalid token: empty user name");
    }
  }
  if (creds.empty()) return Status::Invalid("invalid token: empty password");
  t.password = std::string(creds);
  return t;
}

Status CheckCaPin(const JoinToken& token, const std::string& ca_bundle_pem) {
  if (!token.secure()) return Status::OK();
  std::string got = http::CaBundleSha256Hex(ca_bundle_pem);
  if (got != token.ca_hash) {
    return Status::Invalid("token CA hash does not match the Cluster CA certificate hash: " +
                           token.ca_hash + " != " + got);
  }
  return Status::OK();
}

std::string NewNodePassword() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    unsigned v = rd() & 0xff;
    s += kHex[v >> 4];
    s += kHex[v & 15];
  }
  return s;
}

JoinClient::~JoinClient() = default;

asio::awaitable<Result<std::unique_ptr<JoinClient>>> JoinClient::Connect(
    asio::any_io_executor executor, std::string server_url, std::string token) {
  auto parsed = ParseJoinToken(token);
  if (!parsed.ok()) co_return parsed.error();
  while (!server_url.empty() && server_url.back() == '/') server_url.pop_back();
  auto url = http::ParseUrl(server_url);
  if (!url.ok()) co_return Status::Invalid("invalid server URL " + server_url);
  if (url->scheme != "https") co_return Status::Invalid("the server URL must be https");

  // Step 2: the CA as served, trusting nothing yet; the pin is what makes it trustworthy.
  http::ClientOptions insecure;
  insecure.insecure_skip_verify = true;
  auto probe = http::Client::Create(executor, insecure);
  if (!probe.ok()) co_return probe.error();
  http::ClientRequest req;
  req.url = server_url + "/v1-mini8s/cacerts";
  auto resp = co_await (*probe)->Send(req);
  if (!resp.ok()) co_return resp.error();
  if (resp->status != 200) co_return FromHttp(resp->status, resp->body, "GET cacerts");
  if (Status pin = CheckCaPin(*parsed, resp->body); !pin.ok()) co_return pin;
  if (!parsed->secure()) {
    MINI8S_LOG(WARNING) << "the join token has no CA hash: trusting the server CA on first use";
  }

  // Step 3: verify the server with that CA from now on (and check it serves the same bundle).
  std::unique_ptr<JoinClient> c(new JoinClient());
  c->server_url_ = server_url;
  c->token_ = *parsed;
  c->server_ca_pem_ = resp->body;
  http::ClientOptions pinned;
  pinned.ca_pem = c->server_ca_pem_;
  auto verified = http::Client::Create(executor, pinned);
  if (!verified.ok()) co_return verified.error();
  c->http_ = std::move(*verified);
  auto again = co_await c->http_->Send(req);
  if (!again.ok()) co_return again.error();
  if (again->status != 200 || again->body != c->server_ca_pem_) {
    co_return Status::Invalid("the server's CA bundle changed while joining");
  }
  co_return c;
}

asio::awaitable<Result<ClusterInfo>> JoinClient::Config() {
  http::ClientRequest req;
  req.url = server_url_ + "/v1-mini8s/config";
  req.headers.Set("Authorization", "Basic " + Base64(token_.username + ":" + token_.password));
  auto resp = co_await http_->Send(req);
  if (!resp.ok()) co_return resp.error();
  if (resp->status != 200) co_return FromHttp(resp->status, resp->body, "GET config");
  auto v = ParseJson(resp->body);
  if (!v.ok() || !v->is_object()) co_return Status::Invalid("GET config: not a JSON object");
  ClusterInfo info;
  const auto& o = v->as_object();
  auto str = [&](const char* key) -> std::string {
    auto p = o.if_contains(key);
    return p && p->is_string() ? std::string(p->as_string()) : std::string();
  };
  info.cluster_cidr = str("clusterCIDR");
  info.service_cidr = str("serviceCIDR");
  info.cluster_dns = str("clusterDNS");
  info.cluster_domain = str("clusterDomain");
  if (info.cluster_cidr.empty()) co_return Status::Invalid("GET config: no clusterCIDR");
  co_return info;
}

asio::awaitable<Result<NodeCredentials>> JoinClient::NodeCertificate(std::string node_name,
                                                                     std::string node_password,
                                                                     std::string node_ip) {
  auto key = http::GenerateKey();
  if (!key.ok()) co_return key.error();
  http::CertificateRequest subject;
  subject.common_name = "system:node:" + node_name;
  subject.organizations = {"system:nodes"};
  auto csr = http::GenerateCsr(key->pem, subject);
  if (!csr.ok()) co_return csr.error();
  http::ClientRequest req;
  req.method = "POST";
  req.url = server_url_ + "/v1-mini8s/client-kubelet.crt";
  req.headers.Set("Authorization", "Basic " + Base64(token_.username + ":" + token_.password));
  req.headers.Set("Mini8s-Node-Name", node_name);
  req.headers.Set("Mini8s-Node-Password", node_password);
  if (!node_ip.empty()) req.headers.Set("Mini8s-Node-IP", node_ip);
  req.headers.Set("Content-Type", "application/x-pem-file");
  req.body = std::move(*csr);
  auto resp = co_await http_->Send(req);
  if (!resp.ok()) co_return resp.error();
  if (resp->status != 200) {
    co_return FromHttp(resp->status, resp->body, "POST client-kubelet.crt");
  }
  auto info = http::InspectCertificate(resp->body);
  if (!info.ok()) co_return Status::Invalid("POST client-kubelet.crt: no certificate returned");
  if (info->common_name != subject.common_name) {
    co_return Status::Invalid("POST client-kubelet.crt: certificate for " + info->common_name);
  }
  NodeCredentials out;
  out.cert_pem = std::move(resp->body);
  out.key_pem = std::move(key->pem);
  out.server_ca_pem = server_ca_pem_;
  co_return out;
}

}  // namespace mini8s::agent
