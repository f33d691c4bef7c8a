#include "mini8s/http/tls_material.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mini8s/common/unique_fd.h"

namespace mini8s::http {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

std::string OpenSslError(std::string_view what) {
  std::string msg(what);
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return msg;
}

BioPtr MemBio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<PkeyPtr> NewKey(KeyType type) {
  EVP_PKEY* raw = type == KeyType::kEcP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  if (raw == nullptr) return Status::Internal(OpenSslError("key generation"));
  return PkeyPtr(raw);
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PKCS#8 ("PRIVATE KEY"), unencrypted.
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal(OpenSslError("write private key"));
  }
  return BioToString(bio.get());
}

Result<PkeyPtr> KeyFromPem(const std::string& pem) {
  BioPtr bio = MemBio(pem);
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return Status::Invalid(OpenSslError("read private key"));
  return PkeyPtr(key);
}

Result<X509Ptr> CertFromPem(const std::string& pem) {
  BioPtr bio = MemBio(pem);
  X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (cert == nullptr) return Status::Invalid(OpenSslError("read certificate"));
  return X509Ptr(cert);
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Status::Internal(OpenSslError("write certificate"));
  }
  return BioToString(bio.get());
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return Status::Invalid(OpenSslError("extension " + value));
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::Internal(OpenSslError("add extension"));
  }
  return Status::OK();
}

Status SetName(X509_NAME* name, const std::string& cn, const std::vector<std::string>& orgs) {
  for (const auto& o : orgs) {
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1,
                                   0) != 1) {
      return Status::Invalid(OpenSslError("subject O"));
    }
  }
  if (!cn.empty() && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                reinterpret_cast<const unsigned char*>(cn.c_str()),
                                                -1, -1, 0) != 1) {
    return Status::Invalid(OpenSslError("subject CN"));
  }
  return Status::OK();
}

// Fields every certificate gets: v3, a random positive 127-bit serial, validity from one hour ago
// (tolerates clock skew between nodes) for `validity`.
Status InitCert(X509* cert, EVP_PKEY* key, std::chrono::hours validity,
                std::chrono::system_clock::time_point issued_at = {}) {
  if (X509_set_version(cert, 2) != 1) return Status::Internal(OpenSslError("set version"));
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return Status::Internal(OpenSslError("serial number"));
  }
  long seconds =
      static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(validity).count());
  time_t base = issued_at == std::chrono::system_clock::time_point{}
                    ? ::time(nullptr)
                    : std::chrono::system_clock::to_time_t(issued_at);
  if (X509_time_adj(X509_getm_notBefore(cert), -3600, &base) == nullptr ||
      X509_time_adj(X509_getm_notAfter(cert), seconds, &base) == nullptr) {
    return Status::Internal(OpenSslError("validity"));
  }
  if (X509_set_pubkey(cert, key) != 1) return Status::Internal(OpenSslError("set public key"));
  return Status::OK();
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

std::chrono::system_clock::time_point ToTimePoint(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string Asn1ToString(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

}  // namespace

Result<PrivateKeyPem> GenerateKey(KeyType type) {
  MINI8S_ASSIGN_OR_RETURN(PkeyPtr key, NewKey(type));
  MINI8S_ASSIGN_OR_RETURN(std::string pem, KeyToPem(key.get()));
  return PrivateKeyPem{std::move(pem)};
}

Result<CertificateAndKey> GenerateSelfSignedCa(const std::string& common_name, KeyType type,
                                               std::chrono::hours validity) {
  MINI8S_ASSIGN_OR_RETURN(PkeyPtr key, NewKey(type));
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("X509_new"));
  MINI8S_RETURN_IF_ERROR(InitCert(cert.get(), key.get(), validity));
  MINI8S_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), common_name, {}));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return Status::Internal(OpenSslError("issuer"));
  }
  MINI8S_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  MINI8S_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage,
                   "critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign"));
  MINI8S_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal(OpenSslError("sign CA"));
  }
  CertificateAndKey out;
  MINI8S_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  MINI8S_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

namespace {

// Signs a leaf certificate for the public half of `key`.
Result<std::string> IssueForPublicKey(const CertificateAndKey& ca,
                                      const CertificateRequest& request, EVP_PKEY* key);

}  // namespace

Result<std::string> IssueCertificateForKey(const CertificateAndKey& ca,
                                           const CertificateRequest& request,
                                           const std::string& key_pem) {
  MINI8S_ASSIGN_OR_RETURN(PkeyPtr key, KeyFromPem(key_pem));
  return IssueForPublicKey(ca, request, key.get());
}

namespace {

Result<std::string> IssueForPublicKey(const CertificateAndKey& ca,
                                      const CertificateRequest& request, EVP_PKEY* key_ptr) {
  MINI8S_ASSIGN_OR_RETURN(X509Ptr ca_cert, CertFromPem(ca.cert_pem));
  MINI8S_ASSIGN_OR_RETURN(PkeyPtr ca_key, KeyFromPem(ca.key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return Status::Invalid(OpenSslError("CA key does not match the CA certificate"));
  }
  if (request.common_name.empty() && request.dns_names.empty() && request.ip_addresses.empty()) {
    return Status::Invalid("certificate request names nothing");
  }
  std::vector<std::string> sans;
  for (const auto& dns : request.dns_names) {
    if (dns.empty() || dns.find_first_of(",: ") != std::string::npos) {
      return Status::Invalid("bad DNS name \"" + dns + "\"");
    }
    sans.push_back("DNS:" + dns);
  }
  for (const auto& ip : request.ip_addresses) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, ip.c_str(), buf) != 1 && inet_pton(AF_INET6, ip.c_str(), buf) != 1) {
      return Status::Invalid("bad IP address \"" + ip + "\"");
    }
    sans.push_back("IP:" + ip);
  }
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("X509_new"));
  MINI8S_RETURN_IF_ERROR(InitCert(cert.get(), key_ptr, request.validity, request.issued_at));
  MINI8S_RETURN_IF_ERROR(
      SetName(X509_get_subject_name(cert.get()), request.common_name, request.organizations));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1) {
    return Status::Internal(OpenSslError("issuer"));
  }
  MINI8S_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  MINI8S_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
                                      "critical,digitalSignature,keyEncipherment"));
  std::vector<std::string> eku;
  if (request.server_auth) eku.push_back("serverAuth");
  if (request.client_auth) eku.push_back("clientAuth");
  if (!eku.empty()) {
    MINI8S_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, Join(eku)));
  }
  if (!sans.empty()) {
    MINI8S_RETURN_IF_ERROR(
        AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, Join(sans)));
  }
  MINI8S_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  MINI8S_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Status::Internal(OpenSslError("sign certificate"));
  }
  return CertToPem(cert.get());
}

}  // namespace

Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& ca,
                                           const CertificateRequest& request, KeyType type) {
  MINI8S_ASSIGN_OR_RETURN(PrivateKeyPem key, GenerateKey(type));
  CertificateAndKey out;
  MINI8S_ASSIGN_OR_RETURN(out.cert_pem, IssueCertificateForKey(ca, request, key.pem));
  out.key_pem = std::move(key.pem);
  return out;
}

Status VerifyCertificate(const std::string& cert_pem, const std::string& ca_bundle_pem,
                         std::chrono::system_clock::time_point at) {
  MINI8S_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
  StorePtr store(X509_STORE_new());
  if (!store) return Status::Internal("X509_STORE_new");
  BioPtr bio = MemBio(ca_bundle_pem);
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), ca);
    X509_free(ca);
    ++added;
  }
  ERR_clear_error();
  if (added == 0) return Status::Invalid("CA bundle holds no certificate");
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return Status::Internal(OpenSslError("X509_STORE_CTX_init"));
  }
  if (at != std::chrono::system_clock::time_point{}) {
    X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Status::Invalid(std::string("certificate does not verify: ") +
                           X509_verify_cert_error_string(err));
  }
  return Status::OK();
}

Result<CertificateInfo> InspectCertificate(const std::string& cert_pem) {
  MINI8S_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
  CertificateInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    std::string value = Asn1ToString(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_commonName) info.common_name = value;
    if (nid == NID_organizationName) info.organizations.push_back(value);
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        info.dns_names.push_back(Asn1ToString(n->d.dNSName));
      } else if (n->type == GEN_IPADD) {
        char buf[INET6_ADDRSTRLEN] = {};
        int len = ASN1_STRING_length(n->d.iPAddress);
        const unsigned char* data = ASN1_STRING_get0_data(n->d.iPAddress);
        if (len == 4) inet_ntop(AF_INET, data, buf, sizeof(buf));
        if (len == 16) inet_ntop(AF_INET6, data, buf, sizeof(buf));
        info.ip_addresses.emplace_back(buf);
      }
    }
    GENERAL_NAMES_free(names);
  }
  info.is_ca =
      X509_check_ca(cert.get()) > 0 && (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  uint32_t xku = X509_get_extended_key_usage(cert.get());
  if (xku != UINT32_MAX) {
    info.server_auth = (xku & XKU_SSL_SERVER) != 0;
    info.client_auth = (xku & XKU_SSL_CLIENT) != 0;
  }
  info.not_before = ToTimePoint(X509_get0_notBefore(cert.get()));
  info.not_after = ToTimePoint(X509_get0_notAfter(cert.get()));
  return info;
}

std::string CaBundleSha256Hex(const std::string& ca_bundle_pem) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(ca_bundle_pem.data(), ca_bundle_pem.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Status WritePemFile(const std::string& path, const std::string& data, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Status::FromErrno(errno, "open", tmp);
  // The umask may have removed bits; a key must end up with exactly `mode`.
  if (fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::FromErrno(err, "fchmod", tmp);
  }
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      unlink(tmp.c_str());
      return Status::FromErrno(err, "write", tmp);
    }
    off += static_cast<std::size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::FromErrno(err, "fsync", tmp);
  }
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::FromErrno(err, "rename", path);
  }
  return Status::OK();
}

Result<std::string> ReadPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> GenerateCsr(const std::string& key_pem, const CertificateRequest& request) {
  MINI8S_ASSIGN_OR_RETURN(PkeyPtr key, KeyFromPem(key_pem));
  std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) {
    return Status::Internal(OpenSslError("X509_REQ_new"));
  }
  MINI8S_RETURN_IF_ERROR(
      SetName(X509_REQ_get_subject_name(req.get()), request.common_name, request.organizations));
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal(OpenSslError("sign CSR"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return Status::Internal(OpenSslError("write CSR"));
  }
  return BioToString(bio.get());
}

Result<std::string> IssueCertificateForCsr(const CertificateAndKey& ca,
                                           const CertificateRequest& request,
                                           const std::string& csr_pem) {
  BioPtr bio = MemBio(csr_pem);
  std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>> req(
      bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) return Status::Invalid(OpenSslError("read certificate signing request"));
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  // Proof of possession: the request is signed by the key it asks a certificate for.
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) {
    return Status::Invalid(OpenSslError("certificate signing request signature does not verify"));
  }
  return IssueForPublicKey(ca, request, key);
}

}  // namespace mini8s::http
