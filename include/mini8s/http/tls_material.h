// TLS material: keys and X.509 certificates for the cluster CA, serving and client certificates
// (k3s-style bootstrap), PEM files, and the CA hash used in K10 join tokens. OpenSSL 3, no Asio.
// Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::http {

enum class KeyType { kEcP256, kRsa2048 };

// k3s's lifetimes: leaf certificates (serving, admin, node clients) one year, renewed before they
// expire; CAs ten years, never renewed automatically (every client trusts them).
inline constexpr std::chrono::hours kLeafCertificateValidity{24 * 365};
inline constexpr std::chrono::hours kCaCertificateValidity{24 * 3650};

// A private key in PKCS#8 PEM.
struct PrivateKeyPem {
  std::string pem;
};

struct CertificateRequest {
  std::string common_name;                 // subject CN (user name for client certs)
  std::vector<std::string> organizations;  // subject O, one per group
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries (v4 or v6 text)
  bool server_auth = false;                // extendedKeyUsage serverAuth
  bool client_auth = false;                // extendedKeyUsage clientAuth
  std::chrono::hours validity = kLeafCertificateValidity;
  // The validity starts here (less an hour of skew allowance); the epoch means "now". Renewal
  // passes issue at their clock's time so that a test clock sees consistent lifetimes.
  std::chrono::system_clock::time_point issued_at{};
};

struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// Generates a fresh private key.
Result<PrivateKeyPem> GenerateKey(KeyType type = KeyType::kEcP256);

// A self-signed CA (basicConstraints CA:TRUE, keyUsage certSign/cRLSign), valid 10 years by
// default, with a new key.
Result<CertificateAndKey> GenerateSelfSignedCa(
    const std::string& common_name, KeyType type = KeyType::kEcP256,
    std::chrono::hours validity = kCaCertificateValidity);

// A leaf certificate for `request` with a new key, signed by `ca`.
Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& ca,
                                           const CertificateRequest& request,
                                           KeyType type = KeyType::kEcP256);

// Same, for an existing key (PEM).
Result<std::string> IssueCertificateForKey(const CertificateAndKey& ca,
                                           const CertificateRequest& request,
                                           const std::string& key_pem);

// A PKCS#10 certificate signing request (PEM) for the key `key_pem`, naming `request`'s CN and O.
Result<std::string> GenerateCsr(const std::string& key_pem, const CertificateRequest& request);

// A leaf certificate for the public key of the CSR `csr_pem`, signed by `ca`. The names and
// usages come from `request`, not from the CSR (the signer decides what a requester may be).
// kInvalid when the CSR does not parse or its self-signature does not verify.
Result<std::string> IssueCertificateForCsr(const CertificateAndKey& ca,
                                           const CertificateRequest& request,
                                           const std::string& csr_pem);

// Checks that `cert_pem` chains to one of the CAs in `ca_bundle_pem` and is within its validity
// at `at` (the epoch: now). kInvalid with OpenSSL's reason otherwise.
Status VerifyCertificate(const std::string& cert_pem, const std::string& ca_bundle_pem,
                         std::chrono::system_clock::time_point at = {});

// What a certificate says about itself, for logs, tests and x509 authentication.
struct CertificateInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool is_ca = false;
  bool server_auth = false;
  bool client_auth = false;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};
Result<CertificateInfo> InspectCertificate(const std::string& cert_pem);

// Lower-case hex SHA-256 of the bytes of a PEM CA bundle as stored on disk (the "K10<hash>"
// part of a k3s secure join token hashes the CA file contents).
std::string CaBundleSha256Hex(const std::string& ca_bundle_pem);

// Writes `data` to `path` atomically (temp file + rename) with `mode` (0600 for keys, 0644 for
// certificates), creating no parent directories.
Status WritePemFile(const std::string& path, const std::string& data, int mode);
Result<std::string> ReadPemFile(const std::string& path);

}  // namespace mini8s::http
