// The server side of joining a node (k3s's supervisor API, DESIGN §6), under /v1-mini8s/:
//
//   GET  cacerts             unauthenticated: the server CA bundle, byte for byte the file whose
//                            SHA-256 is the "K10<hash>" part of the join token (CA pinning)
//   GET  ping                unauthenticated: "pong"
//   GET  config              the cluster facts an agent needs (JSON, see AgentConfig)
//   GET  client-ca.crt       the client CA
//   GET  server-ca.crt       the server CA
//   POST client-kubelet.crt  body: a CSR (PEM). Returns a client certificate CN=system:node:<node>,
//                            O=system:nodes signed by the client CA, followed by the CA chain.
//   GET  client-kubelet.crt  the same with a key generated here (appended to the response; for
//                            agents that cannot make a CSR)
//
// The authenticated paths take HTTP basic auth with the join token's credentials (`node:<secret>`
// or `server:<secret>`, the secret of <data-dir>/server/token, or `node:<id>.<secret>` for a
// bootstrap token with the authentication usage), or a client certificate of the
// node itself (renewal). client-kubelet.crt also needs the headers Mini8s-Node-Name and
// Mini8s-Node-Password (and optionally Mini8s-Node-IP): the first join of a node name stores a
// salted hash of its password in the Secret <node>.node-password.mini8s in kube-system; a later
// join with another password is refused with 403 (k3s's duplicate-hostname protection).
//
// Thread-safe: JoinService is immutable after Create; HandleJoin may run concurrently (the
// NodePasswordStore must be thread-safe too).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/server/auth.h"

namespace mini8s::server {

inline constexpr std::string_view kJoinPathPrefix = "/v1-mini8s/";
inline constexpr std::string_view kNodePasswordSecretSuffix = ".node-password.mini8s";
inline constexpr std::string_view kNodePasswordSecretType = "mini8s.io/node-password";

// Where node-password hashes are kept. The server implements it over its own API (Secrets in
// kube-system, see NodePasswordSecret); tests use MemNodePasswordStore. Thread-safe.
class NodePasswordStore {
 public:
  virtual ~NodePasswordStore() = default;
  // The stored hash for `node`; nullopt when there is none.
  virtual Result<std::optional<std::string>> Get(const std::string& node) = 0;
  // Stores the hash of a node that has none. kAlreadyExists if one was stored meanwhile.
  virtual Status Create(const std::string& node, const std::string& hash) = 0;
};

// "<node>.node-password.mini8s".
std::string NodePasswordSecretName(std::string_view node);
// The Secret (kube-system) that holds `hash` for `node` (data.hash, base64 as Secrets are).
boost::json::object NodePasswordSecret(std::string_view node, std::string_view hash);
// The hash held by such a Secret; nullopt when it has none.
std::optional<std::string> NodePasswordHashOf(const boost::json::object& secret);

// A salted, slow hash of a node password ("$pbkdf2-sha256$<iterations>$<salt>$<digest>", hex),
// and its check. VerifyNodePassword is false for a malformed hash.
std::string HashNodePassword(std::string_view password);
bool VerifyNodePassword(std::string_view password, std::string_view hash);

class MemNodePasswordStore final : public NodePasswordStore {
 public:
  Result<std::optional<std::string>> Get(const std::string& node) override;
  Status Create(const std::string& node, const std::string& hash) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> hashes_;
};

// What GET config returns (JSON keys in parentheses).
struct AgentConfig {
  std::string cluster_cidr = "10.42.0.0/16";     // (clusterCIDR)
  std::string service_cidr = "10.43.0.0/16";     // (serviceCIDR)
  std::string cluster_dns = "10.43.0.10";        // (clusterDNS)
  std::string cluster_domain = "cluster.local";  // (clusterDomain)

  boost::json::object ToJson() const;
  // kInvalid when a field is missing or not a string.
  static Result<AgentConfig> FromJson(const boost::json::object& obj);
};

struct JoinServiceOptions {
  // Reads <data-dir>/server/tls/{server-ca.crt, client-ca.crt, client-ca.key} and
  // <data-dir>/server/token, as written by EnsureServerCredentials.
  std::string data_dir;
  AgentConfig config;
  // Required; must outlive the service.
  NodePasswordStore* passwords = nullptr;
  // Optional: also accepts bootstrap tokens (`K10<hash>::<id>.<secret>` joins send
  // `node:<id>.<secret>`) that this authenticator accepts.
  std::shared_ptr<const TokenAuthenticator> bootstrap_tokens;
};

class JoinService {
 public:
  // kNotFound / kInvalid when the CA material or the token cannot be read.
  static Result<std::unique_ptr<JoinService>> Create(JoinServiceOptions options);

  // The response for a request under /v1-mini8s/ (404 for unknown paths there); nullopt for
  // any other path, which the caller routes on.
  std::optional<http::HttpResponse> HandleJoin(const http::HttpRequest& request) const;

  const std::string& server_ca_pem() const { return server_ca_pem_; }

 private:
  JoinService() = default;
  http::HttpResponse ClientKubeletCert(const http::HttpRequest& request) const;
  // True for the token's basic-auth credentials or a node's own client certificate.
  bool Authenticated(const http::HttpRequest& request) const;

  JoinServiceOptions options_;
  std::string server_ca_pem_;
  std::string client_ca_pem_;
  std::string client_ca_key_pem_;
  std::string token_secret_;
};

}  // namespace mini8s::server
