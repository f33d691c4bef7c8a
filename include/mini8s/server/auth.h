// Authentication and authorization of API requests (DESIGN §2 "API server").
//
// Authenticator: x509 client certificates verified by the TLS layer against the client CA
// (CN = user, O = groups) and static bearer tokens from a k3s/kube-apiserver style
// --token-auth-file (CSV: token,user,uid,"group1,group2"). Authorizer: the interface the RBAC
// work fills in; MastersAuthorizer lets system:masters do everything and everyone else only the
// discovery paths every authenticated user may read upstream (system:discovery).
//
// Thread-safe: both are immutable after construction.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"

namespace mini8s::server {

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;  // includes system:authenticated for authenticated users
};

class Authenticator {
 public:
  // `token_auth_file` may be empty (no static tokens). kInvalid naming the line for bad CSV.
  static Result<std::unique_ptr<Authenticator>> Create(const std::string& token_auth_file);
  // Tokens given directly (tests, the server's own loopback clients).
  static std::unique_ptr<Authenticator> FromTokens(std::map<std::string, UserInfo> tokens);

  // The user of a request; nullopt for anonymous requests. kUnauthorized when credentials were
  // presented but are not valid (unknown bearer token, unverified certificate).
  Result<std::optional<UserInfo>> Authenticate(const http::HttpRequest& request) const;

 private:
  std::map<std::string, UserInfo> tokens_;
};

// What a request asks to do, as upstream's authorizer.Attributes.
struct Attributes {
  UserInfo user;
  std::string verb;  // get list watch create update patch delete deletecollection
  bool resource_request = false;
  std::string api_group;
  std::string resource;
  std::string subresource;
  std::string namespace_;
  std::string name;
  std::string path;  // non-resource requests
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool Authorize(const Attributes& attrs) const = 0;
};

// system:masters may do everything; other authenticated users may only GET the discovery and
// version paths.
class MastersAuthorizer final : public Authorizer {
 public:
  bool Authorize(const Attributes& attrs) const override;
};

// Upstream's 403 message: `pods "x" is forbidden: User "u" cannot get resource "pods" in API
// group "" in the namespace "default"`, `... at the cluster scope`, or for paths
// `forbidden: User "u" cannot get path "/foo"`.
std::string ForbiddenMessage(const Attributes& attrs);

}  // namespace mini8s::server
