// Compact JWS over OpenSSL 3: RS256 sign, RS256/ES256 verify, RFC 7519 claim checks.
#include "mini8s/server/jwt.h"

#include <algorithm>
#include <array>

#include <boost/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

namespace mini8s::server::jwt {

struct KeyHandle {
  EVP_PKEY* pkey = nullptr;
  ~KeyHandle() { EVP_PKEY_free(pkey); }
};

struct Verifier::Entry {
  std::shared_ptr<KeyHandle> key;
  std::string alg;  // "RS256" or "ES256"
  std::string kid;
};

namespace {

namespace json = boost::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Bounds the work an unauthenticated client can cause: real tokens are ~1 KiB.
constexpr size_t kMaxTokenBytes = 16 * 1024;

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string PublicKeyDer(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(pkey, &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

// Upstream's key id: base64url(SHA-256(DER SubjectPublicKeyInfo)).
std::string KeyIdOf(EVP_PKEY* pkey) {
  std::string der = PublicKeyDer(pkey);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
}

// "RS256" for RSA keys, "ES256" for EC P-256 keys, "" otherwise.
std::string AlgorithmFor(EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
      return EVP_PKEY_get_bits(pkey) >= 2048 ? "RS256" : "";
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &len) != 1) {
        return "";
      }
      std::string_view g(group, len);
      return g == "prime256v1" || g == "P-256" ? "ES256" : "";
    }
    default:
      return "";
  }
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::Unauthorized("malformed token: " + std::string(what) + " is not a JSON object");
  }
  return std::move(v.as_object());
}

struct Parts {
  std::string_view header_b64, payload_b64, signature_b64;
  std::string signature;
  json::object header;
  json::object payload;
};

Result<Parts> Split(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return Status::Unauthorized("malformed token: too long");
  size_t a = token.find('.');
  if (a == std::string_view::npos) return Status::Unauthorized("malformed token: not a JWS");
  size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return Status::Unauthorized("malformed token: want three segments");
  }
  Parts p;
  p.header_b64 = token.substr(0, a);
  p.payload_b64 = token.substr(a + 1, b - a - 1);
  p.signature_b64 = token.substr(b + 1);
  auto header = Base64UrlDecode(p.header_b64);
  if (!header.ok()) return Status::Unauthorized("malformed token: bad header encoding");
  MINI8S_ASSIGN_OR_RETURN(p.header, ParseObject(*header, "header"));
  auto payload = Base64UrlDecode(p.payload_b64);
  if (!payload.ok()) return Status::Unauthorized("malformed token: bad payload encoding");
  MINI8S_ASSIGN_OR_RETURN(p.payload, ParseObject(*payload, "payload"));
  auto sig = Base64UrlDecode(p.signature_b64);
  if (!sig.ok()) return Status::Unauthorized("malformed token: bad signature encoding");
  p.signature = std::move(*sig);
  return p;
}

std::string_view StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string_view(it->value().as_string())
                                                  : std::string_view();
}

// r||s (32 bytes each) -> DER ECDSA-Sig-Value, as OpenSSL verifies.
std::string EcdsaRawToDer(std::string_view raw) {
  if (raw.size() != 64) return {};
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (sig == nullptr) return {};
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + 32), 32, nullptr);
  std::string out;
  if (r != nullptr && s != nullptr && ECDSA_SIG_set0(sig, r, s) == 1) {
    unsigned char* der = nullptr;
    int n = i2d_ECDSA_SIG(sig, &der);
    if (n > 0) out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
  } else {
    BN_free(r);
    BN_free(s);
  }
  ECDSA_SIG_free(sig);
  return out;
}

bool VerifySignature(EVP_PKEY* pkey, std::string_view alg, std::string_view signed_part,
                     std::string_view signature) {
  std::string der;
  if (alg == "ES256") {
    der = EcdsaRawToDer(signature);
    if (der.empty()) return false;
    signature = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

std::optional<int64_t> NumericDate(const json::object& claims, std::string_view name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  const json::value& v = it->value();
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    return v.as_uint64() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                            : static_cast<int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    double d = v.as_double();
    if (!(d > -9e18 && d < 9e18)) return d > 0 ? INT64_MAX : INT64_MIN;
    return static_cast<int64_t>(d);
  }
  return INT64_MIN;  // present but not a number: treated as invalid by the caller
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (data.size() - i == 1) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (data.size() - i == 2) {
    uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return Status::Invalid("base64url: bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = DecodeChar(c);
    if (v < 0) return Status::Invalid("base64url: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero (canonical encoding, as Go's strict decoder requires).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return Status::Invalid("base64url: non-canonical trailing bits");
  }
  return out;
}

int64_t ToNumericDate(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Signer::~Signer() = default;

Result<std::unique_ptr<Signer>> Signer::FromPrivateKeyPem(const std::string& private_key_pem) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  auto key = std::make_unique<KeyHandle>();
  key->pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key->pkey == nullptr) return Status::Invalid("service account key: not a PEM private key");
  if (AlgorithmFor(key->pkey) != "RS256") {
    return Status::Invalid("service account key: want an RSA key of at least 2048 bits");
  }
  std::unique_ptr<Signer> s(new Signer());
  s->key_id_ = KeyIdOf(key->pkey);
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key->pkey) != 1) {
    return Status::Internal("cannot encode the public key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  s->public_key_pem_.assign(data, static_cast<size_t>(n));
  s->key_ = std::move(key);
  return s;
}

Result<std::string> Signer::Sign(const json::object& claims) const {
  json::object header{{"alg", "RS256"}, {"kid", key_id_}};
  std::string signed_part =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(claims));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signed_part.data()),
                     signed_part.size()) != 1) {
    return Status::Internal("RS256 signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signed_part.data()),
                     signed_part.size()) != 1) {
    return Status::Internal("RS256 signing failed");
  }
  sig.resize(len);
  return signed_part + "." + Base64UrlEncode(sig);
}

Verifier::~Verifier() = default;

Result<std::unique_ptr<Verifier>> Verifier::FromPem(const std::string& pem_bundle) {
  std::unique_ptr<Verifier> v(new Verifier());
  // Walk the bundle block by block: public keys, or private keys whose public half is used.
  size_t pos = 0;
  while ((pos = pem_bundle.find("-----BEGIN ", pos)) != std::string::npos) {
    size_t end = pem_bundle.find("-----END ", pos);
    if (end == std::string::npos) break;
    end = pem_bundle.find('\n', end);
    std::string block =
        pem_bundle.substr(pos, end == std::string::npos ? std::string::npos : end - pos + 1);
    pos = end == std::string::npos ? pem_bundle.size() : end;
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    auto key = std::make_shared<KeyHandle>();
    if (block.find("PRIVATE KEY") != std::string::npos) {
      key->pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    } else {
      key->pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    }
    if (key->pkey == nullptr) continue;
    std::string alg = AlgorithmFor(key->pkey);
    if (alg.empty()) return Status::Invalid("service account key: want RSA (>=2048) or EC P-256");
    v->keys_.push_back(Entry{key, alg, KeyIdOf(key->pkey)});
  }
  if (v->keys_.empty()) return Status::Invalid("service account key file holds no usable key");
  return v;
}

Result<json::object> Verifier::Verify(std::string_view token) const {
  MINI8S_ASSIGN_OR_RETURN(Parts p, Split(token));
  if (p.header.contains("enc")) return Status::Unauthorized("encrypted tokens are not accepted");
  // A critical extension we do not understand must fail verification (RFC 7515 §4.1.11).
  if (p.header.contains("crit")) return Status::Unauthorized("unsupported critical header");
  std::string_view alg = StringField(p.header, "alg");
  if (alg != "RS256" && alg != "ES256") {
    return Status::Unauthorized("unsupported signing algorithm \"" + std::string(alg) + "\"");
  }
  std::string_view kid = StringField(p.header, "kid");
  const std::string_view signed_part =
      token.substr(0, p.header_b64.size() + 1 + p.payload_b64.size());
  for (const Entry& e : keys_) {
    if (e.alg != alg) continue;
    if (!kid.empty() && kid != e.kid) continue;
    if (VerifySignature(e.key->pkey, alg, signed_part, p.signature)) return std::move(p.payload);
  }
  return Status::Unauthorized("invalid signature");
}

bool LooksLikeJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes || std::count(token.begin(), token.end(), '.') != 2) {
    return false;
  }
  auto header = Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header.ok()) return false;
  auto obj = ParseObject(*header, "header");
  return obj.ok() && obj->contains("alg");
}

Result<json::object> UnverifiedClaims(std::string_view token) {
  MINI8S_ASSIGN_OR_RETURN(Parts p, Split(token));
  return std::move(p.payload);
}

Status ValidateClaims(const json::object& claims, const ClaimExpectations& expect) {
  const int64_t now = ToNumericDate(expect.now);
  const int64_t leeway = expect.leeway.count();
  for (std::string_view f : {"exp", "nbf", "iat"}) {
    if (NumericDate(claims, f) == INT64_MIN) {
      return Status::Unauthorized("malformed token: " + std::string(f) + " is not a number");
    }
  }
  // The leeway is applied to `now`, never to the claims: claims go up to INT64_MAX/MIN, so
  // arithmetic on them overflows (a fuzz finding).
  auto exp = NumericDate(claims, "exp");
  if (exp && now - leeway > *exp) return Status::Unauthorized("service account token has expired");
  auto nbf = NumericDate(claims, "nbf");
  if (nbf && now + leeway < *nbf) {
    return Status::Unauthorized("service account token is not valid yet");
  }
  auto iat = NumericDate(claims, "iat");
  if (iat && now + leeway < *iat) {
    return Status::Unauthorized("service account token is issued in the future");
  }
  if (!expect.issuers.empty()) {
    std::string_view iss = StringField(claims, "iss");
    if (std::find(expect.issuers.begin(), expect.issuers.end(), iss) == expect.issuers.end()) {
      return Status::Unauthorized("token issuer \"" + std::string(iss) + "\" is not accepted");
    }
  }
  if (!expect.audiences.empty()) {
    std::vector<std::string> aud;
    if (auto it = claims.find("aud"); it != claims.end()) {
      if (it->value().is_string()) {
        aud.emplace_back(it->value().as_string());
      } else if (it->value().is_array()) {
        for (const json::value& a : it->value().as_array()) {
          if (a.is_string()) aud.emplace_back(a.as_string());
        }
      }
    }
    bool ok = false;
    for (const std::string& a : aud) {
      ok = ok ||
           std::find(expect.audiences.begin(), expect.audiences.end(), a) != expect.audiences.end();
    }
    if (!ok) {
      std::string have, want;
      for (const std::string& a : aud) have += (have.empty() ? "" : ",") + a;
      for (const std::string& a : expect.audiences) want += (want.empty() ? "" : ",") + a;
      return Status::Unauthorized("token audiences \"" + have +
                                  "\" is invalid for the target audiences \"" + want + "\"");
    }
  }
  return Status::OK();
}

}  // namespace mini8s::server::jwt
