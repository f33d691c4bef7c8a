// Service-account tokens (DESIGN §3 "Security"): the signing key kept in the data dir, the
// TokenRequest API (serviceaccounts/<name>/token) issuing bound JWTs with upstream's claims, the
// bearer-token authenticator for them and for legacy Secret-based tokens, and the admission
// plug-in that fills legacy `kubernetes.io/service-account-token` Secrets.
//
// Thread-safe: ServiceAccountTokens is immutable after Create; objects are read through the
// ObjectGetter on every authentication (a Get from the store's in-memory state).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/server/admission.h"
#include "mini8s/server/auth.h"

namespace mini8s::store {
class Store;
}

namespace mini8s::server {

namespace jwt {
class Signer;
class Verifier;
}  // namespace jwt

// The current state of a core/v1 object ("pods", "secrets", "serviceaccounts", "nodes").
// kNotFound when it does not exist.
using ObjectGetter = std::function<Result<boost::json::object>(
    std::string_view resource, std::string_view ns, std::string_view name)>;
// Reads the store directly (the API server's own state; no authorization, no HTTP).
ObjectGetter StoreObjectGetter(const store::Store& store);

// k3s's <data-dir>/server/tls/service.key: an RSA 2048 key made on first start, reused after.
// Returns the PEM.
Result<std::string> LoadOrCreateServiceAccountKey(const std::string& path);

constexpr char kDefaultServiceAccountIssuer[] = "https://kubernetes.default.svc.cluster.local";
constexpr char kLegacyServiceAccountIssuer[] = "kubernetes/serviceaccount";

struct ServiceAccountTokenOptions {
  std::string issuer = kDefaultServiceAccountIssuer;
  // What the API server accepts as the token's audience; empty: {issuer} (upstream's default).
  std::vector<std::string> api_audiences;
  // Upstream's --service-account-max-token-expiration: longer requests are cut to it; 0 = none.
  int64_t max_expiration_seconds = 0;
  std::string ca_pem;  // ca.crt of legacy token Secrets
  const Clock* clock = &RealClock::Instance();
};

class ServiceAccountTokens : public std::enable_shared_from_this<ServiceAccountTokens> {
 public:
  // kInvalid for a key that is not RSA.
  static Result<std::shared_ptr<ServiceAccountTokens>> Create(const std::string& key_pem,
                                                              ServiceAccountTokenOptions options,
                                                              ObjectGetter getter);
  ~ServiceAccountTokens();

  // POST serviceaccounts/<sa>/token with the decoded TokenRequest `body`: the TokenRequest
  // response (spec completed, status.token, status.expirationTimestamp). kNotFound for a missing
  // service account or bound object, kInvalid (422) for a bad spec, kConflict for a bound-object
  // uid mismatch, kBadRequest for a pod running as another service account.
  Result<boost::json::object> HandleTokenRequest(std::string_view ns, std::string_view sa,
                                                 const boost::json::object& body) const;

  // The user a service-account JWT (bound or legacy) names. nullopt: not one of ours (another
  // issuer, not a JWT). kUnauthorized: ours but invalid. `audiences` empty: the API audiences.
  Result<std::optional<UserInfo>> Authenticate(std::string_view token,
                                               const std::vector<std::string>& audiences) const;

  // A TokenAuthenticator over Authenticate with the API audiences.
  std::shared_ptr<const TokenAuthenticator> NewAuthenticator() const;

  // Admission plug-in that fills `token`, `ca.crt` and `namespace` of Secrets of type
  // kubernetes.io/service-account-token naming an existing service account (upstream's tokens
  // controller, done at create time here).
  std::shared_ptr<AdmissionPlugin> NewLegacyTokenAdmission() const;

  // A legacy (non-expiring, Secret-bound) token.
  Result<std::string> IssueLegacyToken(std::string_view ns, std::string_view sa_name,
                                       std::string_view sa_uid, std::string_view secret_name) const;

  const std::vector<std::string>& api_audiences() const { return options_.api_audiences; }
  const ServiceAccountTokenOptions& options() const { return options_; }

 private:
  ServiceAccountTokens() = default;
  Result<std::optional<UserInfo>> AuthenticateLegacy(std::string_view token,
                                                     const boost::json::object& claims) const;
  ServiceAccountTokenOptions options_;
  ObjectGetter getter_;
  std::unique_ptr<jwt::Signer> signer_;
  std::unique_ptr<jwt::Verifier> verifier_;
};

// "system:serviceaccount:<ns>:<name>" and its parts.
std::string ServiceAccountUsername(std::string_view ns, std::string_view name);
bool SplitServiceAccountUsername(std::string_view user, std::string* ns, std::string* name);
// system:serviceaccounts, system:serviceaccounts:<ns>.
std::vector<std::string> ServiceAccountGroups(std::string_view ns);

// Random lower-case alphanumerics from a CSPRNG (token ids and secrets, volume suffixes).
std::string RandomLowerAlnum(size_t n);
// A random (v4) UUID.
std::string RandomUuid();

}  // namespace mini8s::server
