// JSON Web Tokens (RFC 7519) in compact JWS form, the subset service-account tokens need:
// base64url, RS256 signing with the server's RSA key, RS256 and ES256 verification against a set
// of public keys, and upstream's claim checks (exp/nbf/iat with a leeway, iss, aud). Anything else
// is refused: `alg: none`, other algorithms, JWE, malformed segments, trailing data, duplicate
// header fields that change meaning. Over OpenSSL 3's EVP API.
//
// Thread-safe: Signer and Verifier are immutable after construction.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/result.h"

namespace mini8s::server::jwt {

// RFC 4648 §5 without padding (what JWS uses). Decoding rejects '=', whitespace and bytes outside
// the alphabet, and non-canonical trailing bits.
std::string Base64UrlEncode(std::string_view data);
Result<std::string> Base64UrlDecode(std::string_view text);

struct KeyHandle;  // an OpenSSL EVP_PKEY (private or public)

// Signs tokens with an RSA private key (RS256). The header carries a `kid` derived from the
// public key (upstream: base64url SHA-256 of the DER public key), so verifiers can pick the key.
class Signer {
 public:
  // kInvalid when `private_key_pem` is not an RSA private key.
  static Result<std::unique_ptr<Signer>> FromPrivateKeyPem(const std::string& private_key_pem);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // header.payload.signature for `claims`.
  Result<std::string> Sign(const boost::json::object& claims) const;
  const std::string& key_id() const { return key_id_; }
  // The public key (PEM, SubjectPublicKeyInfo) for a Verifier.
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  Signer() = default;
  std::unique_ptr<KeyHandle> key_;
  std::string key_id_;
  std::string public_key_pem_;
};

// Checks signatures against a set of public keys (RSA for RS256, P-256 for ES256).
class Verifier {
 public:
  // One or more concatenated PEM public keys (or private keys, whose public half is used).
  // kInvalid when none parses or a key is neither RSA nor EC P-256.
  static Result<std::unique_ptr<Verifier>> FromPem(const std::string& pem_bundle);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // The claims of `token` if it is a well-formed compact JWS whose signature verifies with one
  // of the keys. kUnauthorized otherwise (the message says why). Claims are not checked here.
  Result<boost::json::object> Verify(std::string_view token) const;

 private:
  Verifier() = default;
  struct Entry;
  std::vector<Entry> keys_;
};

// Whether `token` looks like a JWT at all (three base64url segments and a JSON header naming an
// algorithm), so other bearer-token kinds can be told apart cheaply.
bool LooksLikeJwt(std::string_view token);

// The claims payload of `token` without verifying anything (issuer routing only).
Result<boost::json::object> UnverifiedClaims(std::string_view token);

struct ClaimExpectations {
  std::chrono::system_clock::time_point now;
  // Tolerated clock skew for exp, nbf and iat (go-jose's DefaultLeeway, which upstream uses).
  std::chrono::seconds leeway{60};
  std::vector<std::string> issuers;    // one must equal `iss`; empty: not checked
  std::vector<std::string> audiences;  // one must be in `aud`; empty: not checked
};

// Upstream's checks on verified claims: exp (required), nbf and iat (if present) against `now`
// with the leeway, iss, aud (string or array). kUnauthorized with a message naming the failure.
Status ValidateClaims(const boost::json::object& claims, const ClaimExpectations& expect);

// Seconds since the epoch, as NumericDate.
int64_t ToNumericDate(std::chrono::system_clock::time_point t);

}  // namespace mini8s::server::jwt
