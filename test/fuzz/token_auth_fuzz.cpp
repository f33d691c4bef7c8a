// Fuzz target: bearer-token and certificate authentication (docs/design/authentication.md).
// The first byte picks the path:
//   0  the input is a compact JWS: service-account verification (RS256 / ES256 keys), claim
//      checks, issuer routing and the service-account authenticator with fixed objects;
//   1  the input is a claims JSON text: signed with the service-account key, the token must then
//      verify and return exactly those claims;
//   2  the input is a PEM "client certificate" presented as verified: x509 user extraction;
//   3  the input is header lines for impersonation (Impersonate-* parsing and authorization);
//   4  base64url decoding (a decoded input must re-encode to itself) and bootstrap token parsing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "mini8s/http/message.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/auth.h"
#include "mini8s/server/bootstrap_token.h"
#include "mini8s/server/impersonation.h"
#include "mini8s/server/jwt.h"
#include "mini8s/server/service_account_token.h"

namespace {

namespace json = boost::json;
using namespace mini8s;
using namespace mini8s::server;

struct Keys {
  std::string rsa_pem;
  std::unique_ptr<jwt::Signer> signer;
  std::unique_ptr<jwt::Verifier> verifier;
  std::shared_ptr<ServiceAccountTokens> tokens;
  std::unique_ptr<Authenticator> authn;
};

const Keys& K() {
  static Keys* k = [] {
    auto* keys = new Keys();
    keys->rsa_pem = http::GenerateKey(http::KeyType::kRsa2048)->pem;
    std::string ec = http::GenerateKey(http::KeyType::kEcP256)->pem;
    keys->signer = std::move(*jwt::Signer::FromPrivateKeyPem(keys->rsa_pem));
    keys->verifier = std::move(*jwt::Verifier::FromPem(keys->rsa_pem + ec));
    ObjectGetter getter = [](std::string_view resource, std::string_view ns,
                             std::string_view name) -> Result<json::object> {
      if (resource == "serviceaccounts" && ns == "default" && name == "default") {
        return json::object{{"metadata", json::object{{"name", "default"}, {"uid", "u1"}}}};
      }
      return Status::NotFound(std::string(name));
    };
    keys->tokens = std::move(*ServiceAccountTokens::Create(keys->rsa_pem, {}, getter));
    keys->authn = Authenticator::FromTokens({});
    keys->authn->AddTokenAuthenticator(keys->tokens->NewAuthenticator());
    return keys;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Keys& k = K();
  const uint8_t mode = data[0] % 5;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode) {
    case 0: {
      (void)jwt::LooksLikeJwt(text);
      (void)jwt::UnverifiedClaims(text);
      auto claims = k.verifier->Verify(text);
      if (claims.ok()) {
        jwt::ClaimExpectations e;
        e.now = std::chrono::system_clock::time_point(std::chrono::seconds(1764000000));
        e.issuers = {"a"};
        e.audiences = {"b"};
        (void)jwt::ValidateClaims(*claims, e);
      }
      (void)k.tokens->Authenticate(text, {});
      http::HttpRequest req;
      req.headers.Set("Authorization", "Bearer " + std::string(text));
      (void)k.authn->Authenticate(req);
      break;
    }
    case 1: {
      boost::system::error_code ec;
      json::value v = json::parse(text, ec);
      if (ec || !v.is_object()) break;
      auto token = k.signer->Sign(v.as_object());
      if (!token.ok()) __builtin_trap();
      if (token->size() > 16 * 1024) break;  // over the verifier's size bound
      auto back = k.verifier->Verify(*token);
      // A claim that does not survive JSON text (a number beyond double range serializes as
      // 1E999, which the verifier's parser refuses) makes the token unverifiable: refused, not a
      // crash. Boost.JSON 1.81 also parses doubles imprecisely, so a double claim (e.g. "exp":
      // 1.76e132) may come back one ulp off: compare with the claims re-parsed the same way.
      if (!back.ok()) break;
      const std::string got = json::serialize(*back);
      if (got != json::serialize(v.as_object()) &&
          got != json::serialize(json::parse(json::serialize(v.as_object())))) {
        __builtin_trap();
      }
      (void)k.tokens->Authenticate(*token, {});
      break;
    }
    case 2: {
      http::HttpRequest req;
      http::TlsPeerInfo tls;
      tls.certificate_chain_pem = {std::string(text)};
      tls.certificate_verified = true;
      req.tls = tls;
      auto u = k.authn->Authenticate(req);
      if (u.ok() && u->has_value() && (*u)->name.empty()) __builtin_trap();
      break;
    }
    case 3: {
      http::HttpRequest req;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        req.headers.Add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
      }
      static const MastersAuthorizer masters;
      UserInfo admin{"admin", "", {"system:masters"}};
      auto u = Impersonate(req, admin, masters);
      UserInfo dev{"dev", "", {"system:authenticated"}};
      auto refused = Impersonate(req, dev, masters);
      // Only a request without impersonation may pass for a user who may not impersonate.
      if (refused.ok() && refused->name != "dev") __builtin_trap();
      (void)u;
      break;
    }
    default: {
      auto decoded = jwt::Base64UrlDecode(text);
      if (decoded.ok() && jwt::Base64UrlEncode(*decoded) != text) __builtin_trap();
      auto t = ParseBootstrapToken(text);
      if (t && t->id.size() + t->secret.size() + 1 != text.size()) __builtin_trap();
      break;
    }
  }
  return 0;
}
