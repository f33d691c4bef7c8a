// Bootstrap token Secrets, their authenticator and cleaner.
#include "mini8s/server/bootstrap_token.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <openssl/crypto.h>

#include "mini8s/api/object.h"
#include "mini8s/client/kubeconfig.h"
#include "mini8s/common/logging.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

bool IsLowerAlnum(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

// system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9] (upstream's BootstrapGroupPattern).
bool ValidBootstrapGroup(std::string_view g) {
  constexpr std::string_view kPrefix = "system:bootstrappers:";
  if (g.rfind(kPrefix, 0) != 0) return false;
  std::string_view rest = g.substr(kPrefix.size());
  if (rest.empty() || rest.size() > 256) return false;
  for (char c : rest) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '-')) return false;
  }
  char last = rest.back();
  return (last >= 'a' && last <= 'z') || (last >= '0' && last <= '9');
}

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

std::string Base64(std::string_view s) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(s[i]) << 16) | (static_cast<uint8_t>(s[i + 1]) << 8) |
                 static_cast<uint8_t>(s[i + 2]);
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63], k[(n >> 6) & 63], k[n & 63]};
  }
  if (s.size() - i == 1) {
    uint32_t n = static_cast<uint8_t>(s[i]) << 16;
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63], '=', '='};
  } else if (s.size() - i == 2) {
    uint32_t n = (static_cast<uint8_t>(s[i]) << 16) | (static_cast<uint8_t>(s[i + 1]) << 8);
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63], k[(n >> 6) & 63], '='};
  }
  return out;
}

// A field of the Secret: stringData wins (as the API server would merge it), else decoded data.
std::optional<std::string> SecretField(const json::object& secret, std::string_view key) {
  if (const json::object* sd = api::GetObject(secret, "stringData")) {
    if (auto it = sd->find(key); it != sd->end() && it->value().is_string()) {
      return std::string(it->value().as_string());
    }
  }
  if (const json::object* d = api::GetObject(secret, "data")) {
    if (auto it = d->find(key); it != d->end() && it->value().is_string()) {
      auto v = client::DecodeBase64(it->value().as_string());
      if (v.ok()) return std::move(*v);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<BootstrapTokenId> ParseBootstrapToken(std::string_view token) {
  if (token.size() != 23 || token[6] != '.') return std::nullopt;
  std::string_view id = token.substr(0, 6), secret = token.substr(7);
  if (!IsLowerAlnum(id) || !IsLowerAlnum(secret)) return std::nullopt;
  return BootstrapTokenId{std::string(id), std::string(secret)};
}

BootstrapTokenId GenerateBootstrapToken() {
  return BootstrapTokenId{RandomLowerAlnum(6), RandomLowerAlnum(16)};
}

Result<BootstrapTokenInfo> ParseBootstrapTokenSecret(const json::object& secret) {
  if (api::GetString(secret, "type") != kBootstrapTokenSecretType) {
    return Status::Invalid("not a bootstrap token secret");
  }
  BootstrapTokenInfo info;
  info.id = SecretField(secret, "token-id").value_or("");
  info.secret = SecretField(secret, "token-secret").value_or("");
  if (!ParseBootstrapToken(info.id + "." + info.secret)) {
    return Status::Invalid("bootstrap token secret with a malformed token-id or token-secret");
  }
  if (api::Name(secret) != kBootstrapTokenSecretPrefix + info.id) {
    return Status::Invalid("bootstrap token secret name does not match its token-id");
  }
  if (auto exp = SecretField(secret, "expiration"); exp && !exp->empty()) {
    auto t = ParseRfc3339(*exp);
    if (!t.ok()) return Status::Invalid("bootstrap token secret with a bad expiration");
    info.expiration = *t;
  }
  constexpr std::string_view kUsage = "usage-bootstrap-";
  if (const json::object* d = api::GetObject(secret, "data")) {
    for (const auto& kv : *d) {
      std::string_view k = kv.key();
      if (k.rfind(kUsage, 0) == 0 && SecretField(secret, k) == "true") {
        info.usages.emplace_back(k.substr(kUsage.size()));
      }
    }
  }
  if (const json::object* sd = api::GetObject(secret, "stringData")) {
    for (const auto& kv : *sd) {
      std::string_view k = kv.key();
      std::string u(k.substr(std::min(k.size(), kUsage.size())));
      if (k.rfind(kUsage, 0) == 0 && SecretField(secret, k) == "true" &&
          std::find(info.usages.begin(), info.usages.end(), u) == info.usages.end()) {
        info.usages.push_back(u);
      }
    }
  }
  std::sort(info.usages.begin(), info.usages.end());
  info.extra_groups = SplitComma(SecretField(secret, "auth-extra-groups").value_or(""));
  info.description = SecretField(secret, "description").value_or("");
  return info;
}

Status ValidateBootstrapTokenSpec(const BootstrapTokenSpec& spec) {
  if (!ParseBootstrapToken(spec.token.id + "." + spec.token.secret)) {
    return Status::Invalid("the bootstrap token \"" + spec.token.id + "." + spec.token.secret +
                           "\" was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  }
  for (const std::string& u : spec.usages) {
    if (u != "signing" && u != "authentication") {
      return Status::Invalid("invalid bootstrap token usage string: " + u +
                             ", valid usage options: signing, authentication");
    }
  }
  for (const std::string& g : spec.groups) {
    if (!ValidBootstrapGroup(g)) {
      return Status::Invalid("bootstrap group \"" + g +
                             "\" is invalid (must match system:bootstrappers:[a-z0-9:-]{0,255}"
                             "[a-z0-9])");
    }
  }
  if (spec.ttl.count() < 0) return Status::Invalid("--ttl must not be negative");
  return Status::OK();
}

json::object BootstrapTokenSecret(const BootstrapTokenSpec& spec,
                                  std::chrono::system_clock::time_point now) {
  json::object data{{"token-id", Base64(spec.token.id)},
                    {"token-secret", Base64(spec.token.secret)}};
  if (spec.ttl.count() > 0) data["expiration"] = Base64(FormatRfc3339(now + spec.ttl));
  if (!spec.description.empty()) data["description"] = Base64(spec.description);
  for (const std::string& u : spec.usages) data["usage-bootstrap-" + u] = Base64("true");
  if (!spec.groups.empty()) {
    std::string groups;
    for (const std::string& g : spec.groups) groups += (groups.empty() ? "" : ",") + g;
    data["auth-extra-groups"] = Base64(groups);
  }
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", json::object{{"name", kBootstrapTokenSecretPrefix + spec.token.id},
                                {"namespace", "kube-system"}}},
      {"type", kBootstrapTokenSecretType},
      {"data", data}};
}

Result<std::optional<UserInfo>> BootstrapTokenAuthenticator::AuthenticateToken(
    std::string_view token) const {
  auto id = ParseBootstrapToken(token);
  if (!id) return std::optional<UserInfo>();
  auto secret = getter_("secrets", "kube-system", kBootstrapTokenSecretPrefix + id->id);
  if (!secret.ok()) {
    if (secret.error().Is(Code::kNotFound)) {
      return Status::Unauthorized("bootstrap token " + id->id + " not found");
    }
    return secret.error();
  }
  if (api::IsBeingDeleted(*secret)) {
    return Status::Unauthorized("bootstrap token " + id->id + " is being deleted");
  }
  auto info = ParseBootstrapTokenSecret(*secret);
  if (!info.ok()) return Status::Unauthorized(info.error().message());
  if (info->secret.size() != id->secret.size() ||
      CRYPTO_memcmp(info->secret.data(), id->secret.data(), id->secret.size()) != 0 ||
      info->id != id->id) {
    return Status::Unauthorized("bootstrap token " + id->id + ": secret does not match");
  }
  if (info->expiration && clock_->Now() >= *info->expiration) {
    return Status::Unauthorized("bootstrap token " + id->id + " has expired");
  }
  if (std::find(info->usages.begin(), info->usages.end(), "authentication") == info->usages.end()) {
    return Status::Unauthorized("bootstrap token " + id->id + " is not usable for authentication");
  }
  UserInfo user{"system:bootstrap:" + id->id, "", {"system:bootstrappers"}};
  for (const std::string& g : info->extra_groups) {
    if (!ValidBootstrapGroup(g)) {
      return Status::Unauthorized("bootstrap token " + id->id + " has an invalid extra group");
    }
    if (std::find(user.groups.begin(), user.groups.end(), g) == user.groups.end()) {
      user.groups.push_back(g);
    }
  }
  return std::optional<UserInfo>(std::move(user));
}

boost::asio::awaitable<Result<int>> RemoveExpiredBootstrapTokens(client::Client& client,
                                                                 const Clock& clock) {
  // Arguments are locals: GCC 12 mishandles temporaries in co_await call arguments.
  client::Resource secrets{"", "v1", "secrets", "Secret", true};
  std::string ns = "kube-system";
  client::ListOptions list_options;
  auto list = co_await client.List(secrets, ns, list_options);
  if (!list.ok()) co_return list.error();
  int deleted = 0;
  const auto now = clock.Now();
  for (const json::object& s : list->items) {
    if (api::GetString(s, "type") != kBootstrapTokenSecretType) continue;
    auto info = ParseBootstrapTokenSecret(s);
    if (!info.ok() || !info->expiration || now < *info->expiration) continue;
    client::DeleteOptions opts;
    opts.precondition_uid = std::string(api::Uid(s));
    std::string name(api::Name(s));
    auto r = co_await client.Delete(secrets, ns, name, opts);
    if (r.ok()) {
      ++deleted;
      MINI8S_LOG(INFO) << "deleted expired bootstrap token " << info->id;
    } else if (!r.error().Is(Code::kNotFound) && !r.error().Is(Code::kConflict)) {
      co_return r.error();
    }
  }
  co_return deleted;
}

boost::asio::awaitable<void> RunBootstrapTokenCleaner(std::shared_ptr<client::Client> client,
                                                      const Clock& clock,
                                                      std::chrono::seconds interval) {
  auto ex = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(ex);
  for (;;) {
    auto removed = co_await RemoveExpiredBootstrapTokens(*client, clock);
    if (!removed.ok()) {
      if (removed.error().Is(Code::kCancelled)) co_return;
      MINI8S_LOG(WARNING) << "bootstrap token cleaner: " << removed.error().message();
    }
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace mini8s::server
