// The agent side of joining a server (k3s's TLS bootstrap, DESIGN §6):
//
//   1. parse the token: "K10<sha256 of the server CA bundle>::<user>:<password>" (secure), or
//      "K10<hash>::<password>", or a bare password (the CA is then trusted on first use, with a
//      warning);
//   2. GET /v1-mini8s/cacerts without verifying the server, hash the bytes and compare them with
//      the token's pin;
//   3. from then on verify the server against that CA and authenticate with HTTP basic auth;
//   4. GET config, and POST a CSR (the private key never leaves the agent) to client-kubelet.crt
//      with the node name and password to get the node's client certificate.
//
// The simulated agent and the real one share this code. JoinClient is thread-compatible; its
// coroutines run on the executor given to Connect.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "mini8s/common/result.h"

namespace mini8s::http {
class Client;
}  // namespace mini8s::http

namespace mini8s::agent {

struct JoinToken {
  std::string ca_hash;   // 64 lower-case hex digits; empty for a bare password
  std::string username;  // "node" unless the token names another
  std::string password;

  bool secure() const { return !ca_hash.empty(); }
};

// kInvalid for a malformed token (bad K10 hash, empty password).
Result<JoinToken> ParseJoinToken(std::string_view token, std::string_view default_user = "node");

// OK when `ca_bundle_pem` (the bytes /cacerts served) hashes to the token's pin, or the token
// has none. kInvalid otherwise (k3s's "token CA hash does not match the Cluster CA certificate
// hash").
Status CheckCaPin(const JoinToken& token, const std::string& ca_bundle_pem);

// The cluster facts a joining agent receives (the server's AgentConfig).
struct ClusterInfo {
  std::string cluster_cidr;
  std::string service_cidr;
  std::string cluster_dns;
  std::string cluster_domain;
};

struct NodeCredentials {
  std::string cert_pem;       // leaf then chain, as served
  std::string key_pem;        // generated here
  std::string server_ca_pem;  // the pinned CA, to verify the API server
};

// A random node password (16 bytes, hex), as k3s writes to /etc/rancher/node/password.
std::string NewNodePassword();

class JoinClient {
 public:
  // Pins the server CA (steps 1-3). kInvalid for a bad token or a pin mismatch, kUnavailable
  // when the server cannot be reached.
  static boost::asio::awaitable<Result<std::unique_ptr<JoinClient>>> Connect(
      boost::asio::any_io_executor executor, std::string server_url, std::string token);
  ~JoinClient();
  JoinClient(const JoinClient&) = delete;
  JoinClient& operator=(const JoinClient&) = delete;

  const std::string& server_ca_pem() const { return server_ca_pem_; }
  const std::string& server_url() const { return server_url_; }

  boost::asio::awaitable<Result<ClusterInfo>> Config();
  // A client certificate for `node_name` (CN=system:node:<name>). kForbidden with the server's
  // message when the name is taken with another password; kUnauthorized for a rejected token.
  boost::asio::awaitable<Result<NodeCredentials>> NodeCertificate(std::string node_name,
                                                                  std::string node_password,
                                                                  std::string node_ip);

 private:
  JoinClient() = default;

  std::string server_url_;  // without a trailing slash
  JoinToken token_;
  std::string server_ca_pem_;
  std::unique_ptr<http::Client> http_;  // verifies the server against server_ca_pem_
};

}  // namespace mini8s::agent
