// Bootstrap tokens (upstream's bootstrap.kubernetes.io/token Secrets, which k3s's and kubeadm's
// `token` commands manage): `<id>.<secret>` bearer tokens stored as Secrets
// `bootstrap-token-<id>` in kube-system, their authenticator (user system:bootstrap:<id>, groups
// system:bootstrappers plus auth-extra-groups), and the cleaner that deletes expired ones.
//
// Thread-safe: the authenticator reads through its ObjectGetter on every request.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/server/auth.h"
#include "mini8s/server/service_account_token.h"

namespace mini8s::server {

constexpr char kBootstrapTokenSecretType[] = "bootstrap.kubernetes.io/token";
constexpr char kBootstrapTokenSecretPrefix[] = "bootstrap-token-";
constexpr char kBootstrapDefaultGroup[] = "system:bootstrappers:mini8s:default-node-token";

struct BootstrapTokenId {
  std::string id;      // [a-z0-9]{6}
  std::string secret;  // [a-z0-9]{16}
};

// Parses "<6>.<16>" (lower-case alphanumerics). nullopt for anything else.
std::optional<BootstrapTokenId> ParseBootstrapToken(std::string_view token);
// A fresh random token.
BootstrapTokenId GenerateBootstrapToken();

// What a bootstrap token Secret says (fields decoded from base64 `data` or from `stringData`).
struct BootstrapTokenInfo {
  std::string id;
  std::string secret;
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::vector<std::string> usages;  // "authentication", "signing" ...
  std::vector<std::string> extra_groups;
  std::string description;
};
// kInvalid when the Secret is not a well-formed bootstrap token Secret.
Result<BootstrapTokenInfo> ParseBootstrapTokenSecret(const boost::json::object& secret);

struct BootstrapTokenSpec {
  BootstrapTokenId token;
  std::chrono::seconds ttl{std::chrono::hours(24)};  // 0: never expires
  std::vector<std::string> usages{"signing", "authentication"};
  std::vector<std::string> groups{kBootstrapDefaultGroup};
  std::string description;
};
// kInvalid for unknown usages or groups outside system:bootstrappers:*.
Status ValidateBootstrapTokenSpec(const BootstrapTokenSpec& spec);
// The Secret upstream stores for `spec` (data base64), expiring `now + ttl`.
boost::json::object BootstrapTokenSecret(const BootstrapTokenSpec& spec,
                                         std::chrono::system_clock::time_point now);

// Authenticates "<id>.<secret>" tokens against the Secrets.
class BootstrapTokenAuthenticator final : public TokenAuthenticator {
 public:
  BootstrapTokenAuthenticator(ObjectGetter getter, const Clock* clock)
      : getter_(std::move(getter)), clock_(clock) {}
  Result<std::optional<UserInfo>> AuthenticateToken(std::string_view token) const override;

 private:
  ObjectGetter getter_;
  const Clock* clock_;
};

// One pass of upstream's token cleaner: deletes the bootstrap token Secrets in kube-system whose
// expiration has passed. Returns how many it deleted. The server runs it periodically.
boost::asio::awaitable<Result<int>> RemoveExpiredBootstrapTokens(client::Client& client,
                                                                 const Clock& clock);

// Runs RemoveExpiredBootstrapTokens every `interval` (upstream's tokencleaner) until the
// coroutine is cancelled or its executor stops. Failures are logged and retried next round.
boost::asio::awaitable<void> RunBootstrapTokenCleaner(std::shared_ptr<client::Client> client,
                                                      const Clock& clock,
                                                      std::chrono::seconds interval);

}  // namespace mini8s::server
