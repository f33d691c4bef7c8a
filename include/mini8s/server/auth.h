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
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"

namespace mini8s::server {

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;  // includes system:authenticated for authenticated users
  // Extra attributes (upstream's user.Info.GetExtra: service-account token pod name, credential
  // id, Impersonate-Extra-* headers).
  std::map<std::string, std::vector<std::string>> extra = {};
};

// A source of bearer-token identities beyond the static file (service-account JWTs, bootstrap
// tokens). Thread-safe.
class TokenAuthenticator {
 public:
  virtual ~TokenAuthenticator() = default;
  // nullopt: not a token of this kind (the next authenticator is asked). kUnauthorized: it is
  // one, but invalid (expired, bad signature, its pod or service account is gone).
  virtual Result<std::optional<UserInfo>> AuthenticateToken(std::string_view token) const = 0;
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

  // Asked in order for bearer tokens the static file does not hold. Call before the server takes
  // requests; not thread-safe.
  void AddTokenAuthenticator(std::shared_ptr<const TokenAuthenticator> a) {
    token_authenticators_.push_back(std::move(a));
  }

 private:
  std::map<std::string, UserInfo> tokens_;
  std::vector<std::shared_ptr<const TokenAuthenticator>> token_authenticators_;
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

// Upstream's authorizer.Decision: a member of a union that has no opinion lets the next one
// decide; kDeny ends the evaluation (no mini8s authorizer denies outright yet).
enum class Decision : uint8_t { kNoOpinion, kAllow, kDeny };

struct AuthorizerDecision {
  Decision decision = Decision::kNoOpinion;
  // Why (SubjectAccessReview status.reason), e.g. `RBAC: allowed by ClusterRoleBinding "x" of
  // ClusterRole "y" to User "u"`; may be empty.
  std::string reason;
  bool allowed() const { return decision == Decision::kAllow; }
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool Authorize(const Attributes& attrs) const = 0;
  // The decision with its reason. The default maps Authorize() to kAllow or kNoOpinion.
  virtual AuthorizerDecision Decide(const Attributes& attrs) const;
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
