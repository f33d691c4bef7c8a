// Service-account JWTs: TokenRequest, the token authenticator, legacy token Secrets.
#include "mini8s/server/service_account_token.h"

#include <sys/stat.h>

#include <filesystem>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mini8s/api/object.h"
#include "mini8s/client/kubeconfig.h"
#include "mini8s/common/check.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/jwt.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

constexpr char kSaPrefix[] = "system:serviceaccount:";
constexpr int64_t kMinExpirationSeconds = 600;
constexpr int64_t kMaxExpirationSeconds = int64_t{1} << 32;
// Upstream's generic answer for a token whose service account or bound object is gone; the
// details go to the log only (they would tell an attacker what exists).
constexpr char kInvalidated[] = "service account token has been invalidated";
constexpr char kLegacyTokenType[] = "kubernetes.io/service-account-token";
constexpr char kLegacyClaimPrefix[] = "kubernetes.io/serviceaccount/";

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                  : std::string();
}

const json::object* Obj(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
}

std::string FieldInvalid(std::string_view kind, std::string_view name, std::string_view field,
                         const std::string& value, std::string_view detail) {
  return std::string(kind) + " \"" + std::string(name) + "\" is invalid: " + std::string(field) +
         ": Invalid value: " + value + ": " + std::string(detail);
}

// A bound object whose deletion started more than a minute ago no longer backs tokens
// (upstream's grace for in-flight requests of a terminating pod).
bool DeletedLongAgo(const json::object& obj, std::chrono::system_clock::time_point now) {
  std::string_view ts = api::DeletionTimestamp(obj);
  if (ts.empty()) return false;
  auto t = ParseRfc3339(ts);
  return !t.ok() || *t < now - std::chrono::seconds(60);
}

class SaTokenAuthenticator final : public TokenAuthenticator {
 public:
  explicit SaTokenAuthenticator(std::shared_ptr<const ServiceAccountTokens> tokens)
      : tokens_(std::move(tokens)) {}
  Result<std::optional<UserInfo>> AuthenticateToken(std::string_view token) const override {
    return tokens_->Authenticate(token, {});
  }

 private:
  std::shared_ptr<const ServiceAccountTokens> tokens_;
};

// Fills legacy token Secrets on CREATE (upstream's tokens controller, synchronously).
class LegacyTokenAdmission final : public AdmissionPlugin {
 public:
  explicit LegacyTokenAdmission(std::shared_ptr<const ServiceAccountTokens> tokens,
                                ObjectGetter getter)
      : tokens_(std::move(tokens)), getter_(std::move(getter)) {}
  std::string_view name() const override { return "ServiceAccountTokenSecret"; }
  Status Admit(AdmissionAttributes& a) override {
    if (a.operation != "CREATE" || !a.subresource.empty() || !a.kind.group.empty() ||
        a.kind.kind != "Secret" || a.object == nullptr) {
      return Status::OK();
    }
    json::object& secret = *a.object;
    if (Str(secret, "type") != kLegacyTokenType) return Status::OK();
    auto sa_name = api::Annotation(secret, "kubernetes.io/service-account.name");
    if (!sa_name || sa_name->empty()) return Status::OK();  // validation reports it
    std::string sa_name_s(*sa_name);
    auto sa = getter_("serviceaccounts", a.ns, sa_name_s);
    if (!sa.ok()) {
      if (sa.error().Is(Code::kNotFound)) {
        return Status::Invalid("Secret \"" + std::string(a.name) +
                               "\" is invalid: metadata.annotations[kubernetes.io/"
                               "service-account.name]: Not found: \"" +
                               sa_name_s + "\"");
      }
      return sa.error();
    }
    std::string uid(api::Uid(*sa));
    auto want_uid = api::Annotation(secret, "kubernetes.io/service-account.uid");
    if (want_uid && !want_uid->empty() && *want_uid != uid) {
      return Status::Conflict("service account \"" + sa_name_s + "\" has uid " + uid + ", not " +
                              std::string(*want_uid));
    }
    std::string secret_name(a.name);
    if (secret_name.empty()) secret_name = std::string(api::Name(secret));
    MINI8S_ASSIGN_OR_RETURN(std::string token,
                            tokens_->IssueLegacyToken(a.ns, sa_name_s, uid, secret_name));
    json::object& meta = api::MutableMetadata(secret);
    json::object& ann = api::MutableObjectAt(meta, "annotations");
    ann["kubernetes.io/service-account.uid"] = uid;
    json::object& data = api::MutableObjectAt(secret, "data");
    data["token"] = Base64(token);
    data["namespace"] = Base64(std::string(a.ns));
    if (!tokens_->options().ca_pem.empty()) data["ca.crt"] = Base64(tokens_->options().ca_pem);
    return Status::OK();
  }

 private:
  static std::string Base64(const std::string& s) {
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
  std::shared_ptr<const ServiceAccountTokens> tokens_;
  ObjectGetter getter_;
};

}  // namespace

std::string RandomLowerAlnum(size_t n) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    unsigned char buf[64];
    MINI8S_CHECK(RAND_bytes(buf, sizeof(buf)) == 1) << "RAND_bytes";
    for (unsigned char b : buf) {
      // 252 = 7 * 36: rejecting the rest keeps the choice uniform.
      if (b < 252 && out.size() < n) out += kChars[b % 36];
    }
  }
  return out;
}

std::string RandomUuid() {
  unsigned char b[16];
  MINI8S_CHECK(RAND_bytes(b, sizeof(b)) == 1) << "RAND_bytes";
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

std::string ServiceAccountUsername(std::string_view ns, std::string_view name) {
  return std::string(kSaPrefix) + std::string(ns) + ":" + std::string(name);
}

bool SplitServiceAccountUsername(std::string_view user, std::string* ns, std::string* name) {
  if (user.rfind(kSaPrefix, 0) != 0) return false;
  std::string_view rest = user.substr(sizeof(kSaPrefix) - 1);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string_view::npos) {
    return false;
  }
  *ns = std::string(rest.substr(0, colon));
  *name = std::string(rest.substr(colon + 1));
  return true;
}

std::vector<std::string> ServiceAccountGroups(std::string_view ns) {
  return {"system:serviceaccounts", "system:serviceaccounts:" + std::string(ns)};
}

ObjectGetter StoreObjectGetter(const store::Store& store) {
  return [&store](std::string_view resource, std::string_view ns,
                  std::string_view name) -> Result<json::object> {
    std::string key = "/registry/core/" + std::string(resource) + "/";
    if (!ns.empty()) key += std::string(ns) + "/";
    key += std::string(name);
    MINI8S_ASSIGN_OR_RETURN(store::KeyValue kv, store.Get(key));
    MINI8S_ASSIGN_OR_RETURN(json::value v, ParseJson(*kv.value));
    if (!v.is_object()) return Status::Internal("stored " + key + " is not an object");
    return std::move(v.as_object());
  };
}

Result<std::string> LoadOrCreateServiceAccountKey(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return http::ReadPemFile(path);
  MINI8S_ASSIGN_OR_RETURN(http::PrivateKeyPem key, http::GenerateKey(http::KeyType::kRsa2048));
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(path, key.pem, 0600));
  return key.pem;
}

ServiceAccountTokens::~ServiceAccountTokens() = default;

Result<std::shared_ptr<ServiceAccountTokens>> ServiceAccountTokens::Create(
    const std::string& key_pem, ServiceAccountTokenOptions options, ObjectGetter getter) {
  std::shared_ptr<ServiceAccountTokens> t(new ServiceAccountTokens());
  if (options.api_audiences.empty()) options.api_audiences = {options.issuer};
  if (options.clock == nullptr) options.clock = &RealClock::Instance();
  t->options_ = std::move(options);
  t->getter_ = std::move(getter);
  MINI8S_ASSIGN_OR_RETURN(t->signer_, jwt::Signer::FromPrivateKeyPem(key_pem));
  MINI8S_ASSIGN_OR_RETURN(t->verifier_, jwt::Verifier::FromPem(t->signer_->public_key_pem()));
  return t;
}

Result<json::object> ServiceAccountTokens::HandleTokenRequest(std::string_view ns,
                                                              std::string_view sa_name,
                                                              const json::object& body) const {
  const std::string name(sa_name);
  json::object spec;
  if (const json::object* s = Obj(body, "spec")) spec = *s;
  int64_t exp_seconds = 3600;
  if (auto e = api::GetInt(body, "spec.expirationSeconds")) exp_seconds = *e;
  if (exp_seconds < kMinExpirationSeconds) {
    return Status::Invalid(FieldInvalid("TokenRequest.authentication.k8s.io", name,
                                        "spec.expirationSeconds", std::to_string(exp_seconds),
                                        "may not specify a duration less than 10 minutes"));
  }
  if (exp_seconds > kMaxExpirationSeconds) {
    return Status::Invalid(FieldInvalid("TokenRequest.authentication.k8s.io", name,
                                        "spec.expirationSeconds", std::to_string(exp_seconds),
                                        "may not specify a duration larger than 2^32 seconds"));
  }
  if (options_.max_expiration_seconds > 0 && exp_seconds > options_.max_expiration_seconds) {
    exp_seconds = options_.max_expiration_seconds;
  }
  std::vector<std::string> audiences;
  if (const json::array* auds = api::GetArray(body, "spec.audiences")) {
    for (const json::value& a : *auds) {
      if (a.is_string() && !a.as_string().empty()) audiences.emplace_back(a.as_string());
    }
  }
  if (audiences.empty()) audiences = options_.api_audiences;

  auto sa = getter_("serviceaccounts", ns, name);
  if (!sa.ok()) {
    if (sa.error().Is(Code::kNotFound)) {
      return Status::NotFound("serviceaccounts \"" + name + "\" not found");
    }
    return sa.error();
  }
  const std::string sa_uid(api::Uid(*sa));

  const auto now = options_.clock->Now();
  const int64_t iat = jwt::ToNumericDate(now);
  const std::string jti = RandomUuid();
  json::object k8s{{"namespace", std::string(ns)},
                   {"serviceaccount", json::object{{"name", name}, {"uid", sa_uid}}}};

  if (const json::object* ref = Obj(spec, "boundObjectRef")) {
    const std::string kind = Str(*ref, "kind"), ref_name = Str(*ref, "name");
    const std::string ref_uid = Str(*ref, "uid"), api_version = Str(*ref, "apiVersion");
    if (kind != "Pod" && kind != "Secret" && kind != "Node") {
      return Status::Invalid(FieldInvalid("TokenRequest.authentication.k8s.io", name,
                                          "spec.boundObjectRef.kind", "\"" + kind + "\"",
                                          "supported values: \"Node\", \"Pod\", \"Secret\""));
    }
    if (!api_version.empty() && api_version != "v1") {
      return Status::Invalid(FieldInvalid("TokenRequest.authentication.k8s.io", name,
                                          "spec.boundObjectRef.apiVersion",
                                          "\"" + api_version + "\"", "supported values: \"v1\""));
    }
    if (ref_name.empty()) {
      return Status::Invalid("TokenRequest.authentication.k8s.io \"" + name +
                             "\" is invalid: spec.boundObjectRef.name: Required value");
    }
    const std::string resource = kind == "Pod" ? "pods" : kind == "Secret" ? "secrets" : "nodes";
    auto obj = getter_(resource, kind == "Node" ? std::string_view() : ns, ref_name);
    if (!obj.ok()) {
      if (obj.error().Is(Code::kNotFound)) {
        return Status::NotFound(resource + " \"" + ref_name + "\" not found");
      }
      return obj.error();
    }
    const std::string uid(api::Uid(*obj));
    if (!ref_uid.empty() && ref_uid != uid) {
      return Status::Conflict(
          "Operation cannot be fulfilled on " + resource + " \"" + ref_name +
          "\": the UID in the bound object reference (" + ref_uid +
          ") does not match the UID in record. The object might have been deleted and then "
          "recreated");
    }
    json::object bound{{"name", ref_name}, {"uid", uid}};
    if (kind == "Pod") {
      if (api::GetString(*obj, "spec.serviceAccountName") != name) {
        return Status::BadRequest("cannot bind token for serviceaccount \"" + name +
                                  "\" to pod running with different serviceaccount name.");
      }
      k8s["pod"] = bound;
      // A token bound to a pod also names the pod's node (upstream's node info in pod tokens).
      std::string node(api::GetString(*obj, "spec.nodeName"));
      if (!node.empty()) {
        auto n = getter_("nodes", "", node);
        if (n.ok()) k8s["node"] = json::object{{"name", node}, {"uid", api::Uid(*n)}};
      }
    } else if (kind == "Secret") {
      k8s["secret"] = bound;
    } else {
      k8s["node"] = bound;
    }
    json::object& out_ref = spec["boundObjectRef"].as_object();
    out_ref["uid"] = uid;
    if (api_version.empty()) out_ref["apiVersion"] = "v1";
  }
  json::array aud_json;
  for (const std::string& a : audiences) aud_json.emplace_back(a);
  json::object claims{{"aud", aud_json}, {"exp", iat + exp_seconds},
                      {"iat", iat},      {"iss", options_.issuer},
                      {"jti", jti},      {"kubernetes.io", k8s},
                      {"nbf", iat},      {"sub", ServiceAccountUsername(ns, name)}};
  MINI8S_ASSIGN_OR_RETURN(std::string token, signer_->Sign(claims));
  spec["audiences"] = aud_json;
  spec["expirationSeconds"] = exp_seconds;
  json::object meta{
      {"name", name}, {"namespace", std::string(ns)}, {"creationTimestamp", FormatRfc3339(now)}};
  return json::object{
      {"kind", "TokenRequest"},
      {"apiVersion", "authentication.k8s.io/v1"},
      {"metadata", meta},
      {"spec", spec},
      {"status", json::object{{"token", token},
                              {"expirationTimestamp",
                               FormatRfc3339(now + std::chrono::seconds(exp_seconds))}}}};
}

Result<std::string> ServiceAccountTokens::IssueLegacyToken(std::string_view ns,
                                                           std::string_view sa_name,
                                                           std::string_view sa_uid,
                                                           std::string_view secret_name) const {
  const std::string p = kLegacyClaimPrefix;
  json::object claims{{"iss", kLegacyServiceAccountIssuer},
                      {p + "namespace", std::string(ns)},
                      {p + "secret.name", std::string(secret_name)},
                      {p + "service-account.name", std::string(sa_name)},
                      {p + "service-account.uid", std::string(sa_uid)},
                      {"sub", ServiceAccountUsername(ns, sa_name)}};
  return signer_->Sign(claims);
}

Result<std::optional<UserInfo>> ServiceAccountTokens::Authenticate(
    std::string_view token, const std::vector<std::string>& audiences) const {
  if (!jwt::LooksLikeJwt(token)) return std::optional<UserInfo>();
  // Route by issuer first, as upstream does: a JWT of another issuer is not ours.
  auto unverified = jwt::UnverifiedClaims(token);
  if (!unverified.ok()) return std::optional<UserInfo>();
  const std::string iss = Str(*unverified, "iss");
  if (iss != options_.issuer && iss != kLegacyServiceAccountIssuer) {
    return std::optional<UserInfo>();
  }
  MINI8S_ASSIGN_OR_RETURN(json::object claims, verifier_->Verify(token));
  if (iss == kLegacyServiceAccountIssuer) return AuthenticateLegacy(token, claims);

  const auto now = options_.clock->Now();
  jwt::ClaimExpectations expect;
  expect.now = now;
  expect.issuers = {options_.issuer};
  expect.audiences = audiences.empty() ? options_.api_audiences : audiences;
  MINI8S_RETURN_IF_ERROR(jwt::ValidateClaims(claims, expect));
  if (!claims.contains("exp")) return Status::Unauthorized("service account token has no expiry");

  const json::object* k8s = Obj(claims, "kubernetes.io");
  const json::object* sa_claim = k8s ? Obj(*k8s, "serviceaccount") : nullptr;
  if (sa_claim == nullptr) return Status::Unauthorized("service account token without claims");
  const std::string ns = Str(*k8s, "namespace"), name = Str(*sa_claim, "name");
  const std::string uid = Str(*sa_claim, "uid");
  if (ns.empty() || name.empty() || Str(claims, "sub") != ServiceAccountUsername(ns, name)) {
    return Status::Unauthorized("service account token with inconsistent claims");
  }
  auto sa = getter_("serviceaccounts", ns, name);
  if (!sa.ok() || api::Uid(*sa) != uid) {
    MINI8S_VLOG(2) << "token of service account " << ns << "/" << name
                   << (sa.ok() ? ": uid changed" : ": service account gone");
    if (!sa.ok() && !sa.error().Is(Code::kNotFound)) return sa.error();
    return Status::Unauthorized(kInvalidated);
  }
  UserInfo user{ServiceAccountUsername(ns, name), uid, ServiceAccountGroups(ns)};
  // Bound objects must still exist with the same uid.
  for (const auto& [claim, resource] :
       {std::pair<const char*, const char*>{"pod", "pods"}, {"secret", "secrets"}}) {
    const json::object* ref = Obj(*k8s, claim);
    if (ref == nullptr) continue;
    const std::string ref_name = Str(*ref, "name"), ref_uid = Str(*ref, "uid");
    auto obj = getter_(resource, ns, ref_name);
    if (!obj.ok() || api::Uid(*obj) != ref_uid || DeletedLongAgo(*obj, now)) {
      MINI8S_VLOG(2) << "token bound to " << claim << " " << ns << "/" << ref_name
                     << " no longer valid";
      if (!obj.ok() && !obj.error().Is(Code::kNotFound)) return obj.error();
      return Status::Unauthorized(kInvalidated);
    }
    if (std::string_view(claim) == "pod") {
      user.extra["authentication.kubernetes.io/pod-name"] = {ref_name};
      user.extra["authentication.kubernetes.io/pod-uid"] = {ref_uid};
    }
  }
  if (const json::object* node = Obj(*k8s, "node")) {
    const std::string node_name = Str(*node, "name"), node_uid = Str(*node, "uid");
    // Only a token bound to the node itself fails when the node goes; a pod token just names it.
    if (Obj(*k8s, "pod") == nullptr) {
      auto n = getter_("nodes", "", node_name);
      if (!n.ok() || api::Uid(*n) != node_uid) return Status::Unauthorized(kInvalidated);
    }
    user.extra["authentication.kubernetes.io/node-name"] = {node_name};
    user.extra["authentication.kubernetes.io/node-uid"] = {node_uid};
  }
  if (std::string jti = Str(claims, "jti"); !jti.empty()) {
    user.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + jti};
  }
  return std::optional<UserInfo>(std::move(user));
}

Result<std::optional<UserInfo>> ServiceAccountTokens::AuthenticateLegacy(
    std::string_view token, const json::object& claims) const {
  const std::string p = kLegacyClaimPrefix;
  const std::string ns = Str(claims, p + "namespace"),
                    name = Str(claims, p + "service-account.name");
  const std::string uid = Str(claims, p + "service-account.uid");
  const std::string secret_name = Str(claims, p + "secret.name");
  if (ns.empty() || name.empty() || secret_name.empty()) {
    return Status::Unauthorized("legacy service account token without claims");
  }
  auto secret = getter_("secrets", ns, secret_name);
  if (!secret.ok() || api::IsBeingDeleted(*secret)) {
    if (!secret.ok() && !secret.error().Is(Code::kNotFound)) return secret.error();
    return Status::Unauthorized(kInvalidated);
  }
  // The Secret's copy must be this token: a rotated or edited Secret revokes old tokens.
  std::string stored;
  if (const json::object* data = Obj(*secret, "data")) {
    auto decoded = client::DecodeBase64(Str(*data, "token"));
    if (decoded.ok()) stored = std::move(*decoded);
  }
  if (stored.size() != token.size() ||
      CRYPTO_memcmp(stored.data(), token.data(), token.size()) != 0) {
    return Status::Unauthorized("token does not match server's copy");
  }
  auto sa = getter_("serviceaccounts", ns, name);
  if (!sa.ok() || api::Uid(*sa) != uid) {
    if (!sa.ok() && !sa.error().Is(Code::kNotFound)) return sa.error();
    return Status::Unauthorized(kInvalidated);
  }
  UserInfo user{ServiceAccountUsername(ns, name), uid, ServiceAccountGroups(ns)};
  user.extra["authentication.kubernetes.io/credential-id"] = {
      "object=Secret,name=" + secret_name + ",uid=" + std::string(api::Uid(*secret))};
  return std::optional<UserInfo>(std::move(user));
}

std::shared_ptr<const TokenAuthenticator> ServiceAccountTokens::NewAuthenticator() const {
  return std::make_shared<SaTokenAuthenticator>(shared_from_this());
}

std::shared_ptr<AdmissionPlugin> ServiceAccountTokens::NewLegacyTokenAdmission() const {
  return std::make_shared<LegacyTokenAdmission>(shared_from_this(), getter_);
}

}  // namespace mini8s::server
