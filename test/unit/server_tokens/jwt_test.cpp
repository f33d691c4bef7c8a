#include "mini8s/server/jwt.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "mini8s/http/tls_material.h"

namespace mini8s::server::jwt {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;

const std::string& RsaKey() {
  static const std::string pem = http::GenerateKey(http::KeyType::kRsa2048)->pem;
  return pem;
}
const std::string& OtherRsaKey() {
  static const std::string pem = http::GenerateKey(http::KeyType::kRsa2048)->pem;
  return pem;
}

const system_clock::time_point kNow{seconds(1764000000)};

json::object Claims() {
  return json::object{{"iss", "https://issuer"},
                      {"aud", json::array{"api"}},
                      {"sub", "system:serviceaccount:default:x"},
                      {"iat", ToNumericDate(kNow)},
                      {"nbf", ToNumericDate(kNow)},
                      {"exp", ToNumericDate(kNow) + 600}};
}

ClaimExpectations Expect(system_clock::time_point now = kNow) {
  ClaimExpectations e;
  e.now = now;
  e.issuers = {"https://issuer"};
  e.audiences = {"api"};
  return e;
}

std::string Sign(const json::object& claims, const std::string& key = RsaKey()) {
  auto signer = Signer::FromPrivateKeyPem(key);
  REQUIRE(signer.ok());
  auto t = (*signer)->Sign(claims);
  REQUIRE(t.ok());
  return *t;
}

std::unique_ptr<Verifier> VerifierFor(const std::string& key = RsaKey()) {
  auto v = Verifier::FromPem(key);
  REQUIRE(v.ok());
  return std::move(*v);
}

// ES256 as other issuers sign it: raw r||s.
std::string SignEs256(const std::string& key_pem, const json::object& claims) {
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(pkey != nullptr);
  std::string input =
      Base64UrlEncode(R"({"alg":"ES256"})") + "." + Base64UrlEncode(json::serialize(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1);
  REQUIRE(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                         input.size()) == 1);
  std::string der(len, '\0');
  REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  REQUIRE(sig != nullptr);
  unsigned char raw[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
  ECDSA_SIG_free(sig);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), 64));
}

TEST_CASE("jwt: base64url round-trips and rejects padding, other alphabets and stray bits",
          "[server][unit]") {
  const std::vector<std::string> inputs = {
      "", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00", 3)};
  for (const std::string& s : inputs) {
    auto enc = Base64UrlEncode(s);
    CHECK(enc.find('=') == std::string::npos);
    auto dec = Base64UrlDecode(enc);
    REQUIRE(dec.ok());
    CHECK(*dec == s);
  }
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(Base64UrlDecode("Zm9v=").ok());
  CHECK_FALSE(Base64UrlDecode("Zm+v").ok());
  CHECK_FALSE(Base64UrlDecode("Zm9 v").ok());
  CHECK_FALSE(Base64UrlDecode("Z").ok());
  CHECK_FALSE(Base64UrlDecode("Zh").ok());  // "Zg" is canonical for "f"
}

TEST_CASE("jwt: an RS256 token verifies and its claims pass the checks", "[server][unit]") {
  std::string token = Sign(Claims());
  CHECK(LooksLikeJwt(token));
  auto claims = VerifierFor()->Verify(token);
  REQUIRE(claims.ok());
  CHECK(claims->at("sub").as_string() == "system:serviceaccount:default:x");
  CHECK(ValidateClaims(*claims, Expect()).ok());
  // The public half alone verifies too.
  auto signer = Signer::FromPrivateKeyPem(RsaKey());
  REQUIRE(signer.ok());
  CHECK(VerifierFor((*signer)->public_key_pem())->Verify(token).ok());
  CHECK_FALSE((*signer)->key_id().empty());
}

TEST_CASE("jwt: expiry and not-before are enforced with a one minute leeway", "[server][unit]") {
  json::object c = Claims();
  CHECK(ValidateClaims(c, Expect(kNow + seconds(600 + 59))).ok());
  Status expired = ValidateClaims(c, Expect(kNow + seconds(600 + 61)));
  CHECK(expired.Is(Code::kUnauthorized));
  CHECK(expired.message() == "service account token has expired");
  c["nbf"] = ToNumericDate(kNow) + 300;
  Status early = ValidateClaims(c, Expect());
  CHECK(early.message() == "service account token is not valid yet");
  c["nbf"] = ToNumericDate(kNow) + 30;
  CHECK(ValidateClaims(c, Expect()).ok());
  c["exp"] = "soon";
  CHECK_FALSE(ValidateClaims(c, Expect()).ok());
}

TEST_CASE("jwt: a token signed by another key is refused", "[server][unit]") {
  std::string token = Sign(Claims(), OtherRsaKey());
  auto r = VerifierFor()->Verify(token);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().Is(Code::kUnauthorized));
  CHECK(r.error().message() == "invalid signature");
}

TEST_CASE("jwt: alg none, HS256 and unknown algorithms are refused", "[server][unit]") {
  std::string payload = Base64UrlEncode(json::serialize(Claims()));
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS256"})", R"({"alg":"RS512"})", R"({"typ":"JWT"})"}) {
    std::string token = Base64UrlEncode(header) + "." + payload + ".";
    CHECK_FALSE(VerifierFor()->Verify(token).ok());
    // Even with a real RS256 signature attached.
    std::string real = Sign(Claims());
    std::string forged = Base64UrlEncode(header) + "." + payload + real.substr(real.rfind('.'));
    CHECK_FALSE(VerifierFor()->Verify(forged).ok());
  }
}

TEST_CASE("jwt: modified claims break the signature", "[server][unit]") {
  std::string token = Sign(Claims());
  json::object c = Claims();
  c["sub"] = "system:serviceaccount:kube-system:admin";
  size_t a = token.find('.'), b = token.rfind('.');
  std::string tampered =
      token.substr(0, a + 1) + Base64UrlEncode(json::serialize(c)) + token.substr(b);
  CHECK(VerifierFor()->Verify(tampered).error().message() == "invalid signature");
  // A flipped signature byte too.
  std::string flipped = token;
  flipped[b + 5] = flipped[b + 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(VerifierFor()->Verify(flipped).ok());
}

TEST_CASE("jwt: wrong audience or issuer fails the claim checks", "[server][unit]") {
  json::object c = Claims();
  ClaimExpectations e = Expect();
  e.audiences = {"vault"};
  Status s = ValidateClaims(c, e);
  CHECK(s.Is(Code::kUnauthorized));
  CHECK(s.message() == "token audiences \"api\" is invalid for the target audiences \"vault\"");
  c["aud"] = "vault";  // a single string is an audience too
  CHECK(ValidateClaims(c, e).ok());
  e = Expect();
  e.issuers = {"https://other"};
  CHECK(ValidateClaims(Claims(), e).Is(Code::kUnauthorized));
  c.erase("aud");
  CHECK_FALSE(ValidateClaims(c, Expect()).ok());
}

TEST_CASE("jwt: malformed tokens are refused without crashing", "[server][unit]") {
  std::string token = Sign(Claims());
  for (std::string bad :
       {std::string(""), std::string("abc"), std::string("a.b"), token + ".x", std::string("..."),
        std::string("!!.??.**"), Base64UrlEncode("[1]") + ".e30.AA",
        Base64UrlEncode("{") + ".e30.AA", token.substr(0, token.rfind('.')) + ".*",
        std::string(20000, 'a') + ".b.c"}) {
    auto r = VerifierFor()->Verify(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().Is(Code::kUnauthorized));
  }
  CHECK_FALSE(LooksLikeJwt("abcdef.0123456789abcdef"));
}

TEST_CASE("jwt: ES256 tokens verify against an EC P-256 key", "[server][unit]") {
  auto ec = http::GenerateKey(http::KeyType::kEcP256);
  REQUIRE(ec.ok());
  std::string token = SignEs256(ec->pem, Claims());
  auto claims = VerifierFor(ec->pem)->Verify(token);
  REQUIRE(claims.ok());
  CHECK(ValidateClaims(*claims, Expect()).ok());
  // Not against an RSA key, and not with a truncated signature.
  CHECK_FALSE(VerifierFor()->Verify(token).ok());
  CHECK_FALSE(VerifierFor(ec->pem)->Verify(token.substr(0, token.size() - 4)).ok());
  // An EC key cannot sign service-account tokens (RS256 only).
  CHECK_FALSE(Signer::FromPrivateKeyPem(ec->pem).ok());
}

}  // namespace
}  // namespace mini8s::server::jwt
