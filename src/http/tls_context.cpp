#include "http/tls_context.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mini8s::http::detail {
namespace {

namespace ssl = boost::asio::ssl;

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

Result<std::string> LoadPem(const std::string& inline_pem, const std::string& file,
                            const char* what) {
  if (!inline_pem.empty()) return inline_pem;
  if (file.empty()) return std::string();
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::Invalid(std::string("cannot read ") + what + " file \"" + file + "\"");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Only "http/1.1" is ever selected: Go clients negotiate h2 when a server offers it, and this
// server speaks HTTP/1.1 only (kubectl-wire §2). A client offering only h2 gets no ALPN at all.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Status AddClientCaNames(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Status::Internal("BIO_new_mem_buf");
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    // Advertising the acceptable CA names lets Go clients pick their certificate.
    SSL_CTX_add_client_CA(ctx, cert);
    X509_free(cert);
    ++added;
  }
  BIO_free(bio);
  ERR_clear_error();  // the loop ends with a "no start line" error
  if (added == 0) return Status::Invalid("client CA bundle holds no certificate");
  return Status::OK();
}

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

void BaseOptions(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // OpenSSL otherwise keeps a ~17 KiB read and a ~17 KiB write buffer per connection for its
  // lifetime; an API server holds hundreds of mostly idle agent connections (500 with 100
  // simulated nodes), so idle ones give theirs back (docs/design/client.md, "Memory").
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
}

// What the API server accepts (Mozilla's "intermediate" profile, as kube-apiserver's Go defaults
// minus the CBC suites): TLS 1.2 with forward-secret AEAD suites only, TLS 1.3's AEAD suites, the
// server's order of preference, and no renegotiation (a client-driven CPU sink and an old attack
// surface). Clients keep OpenSSL's defaults above the 1.2 floor: registries are not ours to pick.
constexpr char kServerTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kServerTls13Suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

Status HardenServer(SSL_CTX* ctx) {
  // OpenSSL 3 already refuses client-initiated renegotiation unless ALLOW_CLIENT_RENEGOTIATION;
  // NO_RENEGOTIATION also stops the server side and legacy insecure renegotiation.
  SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_cipher_list(ctx, kServerTls12Ciphers) != 1) {
    return Status::Internal("TLS 1.2 cipher list: " + OpenSslError());
  }
  if (SSL_CTX_set_ciphersuites(ctx, kServerTls13Suites) != 1) {
    return Status::Internal("TLS 1.3 cipher suites: " + OpenSslError());
  }
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const ServerTlsOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(std::string chain,
                          LoadPem(options.cert_chain_pem, options.cert_chain_file, "certificate"));
  MINI8S_ASSIGN_OR_RETURN(std::string key, LoadPem(options.key_pem, options.key_file, "key"));
  MINI8S_ASSIGN_OR_RETURN(std::string client_ca,
                          LoadPem(options.client_ca_pem, options.client_ca_file, "client CA"));
  if (chain.empty() || key.empty()) {
    return Status::Invalid("TLS server needs a certificate and a key");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  BaseOptions(*ctx);
  MINI8S_RETURN_IF_ERROR(HardenServer(ctx->native_handle()));
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(chain), ec);
  if (ec) return Status::Invalid("server certificate: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(key), ssl::context::pem, ec);
  if (ec) return Status::Invalid("server key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::Invalid("server key does not match the certificate: " + OpenSslError());
  }
  SSL_CTX_set_alpn_select_cb(ctx->native_handle(), SelectAlpn, nullptr);
  if (!client_ca.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(client_ca), ec);
    if (ec) return Status::Invalid("client CA: " + ec.message());
    MINI8S_RETURN_IF_ERROR(AddClientCaNames(ctx->native_handle(), client_ca));
    // verify_peer without fail_if_no_peer_cert: request a certificate, do not require one.
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (ec) return Status::Internal("set_verify_mode: " + ec.message());
  }
  // A session id context is required once client certificates are requested, or resumed sessions
  // fail; a fixed one is enough for a single service.
  static const unsigned char kSidCtx[] = "mini8s";
  SSL_CTX_set_session_id_context(ctx->native_handle(), kSidCtx, sizeof(kSidCtx) - 1);
  return ctx;
}

Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const ClientOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(std::string ca, LoadPem(options.ca_pem, options.ca_file, "CA"));
  MINI8S_ASSIGN_OR_RETURN(
      std::string cert,
      LoadPem(options.client_cert_pem, options.client_cert_file, "client certificate"));
  MINI8S_ASSIGN_OR_RETURN(std::string key,
                          LoadPem(options.client_key_pem, options.client_key_file, "client key"));
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  BaseOptions(*ctx);
  boost::system::error_code ec;
  if (!ca.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(ca), ec);
    if (ec) return Status::Invalid("CA bundle: " + ec.message());
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) return Status::Invalid("system CA bundle: " + ec.message());
  }
  if (!cert.empty() || !key.empty()) {
    if (cert.empty() || key.empty()) {
      return Status::Invalid("client certificate and key must be given together");
    }
    ctx->use_certificate_chain(boost::asio::buffer(cert), ec);
    if (ec) return Status::Invalid("client certificate: " + ec.message());
    ctx->use_private_key(boost::asio::buffer(key), ssl::context::pem, ec);
    if (ec) return Status::Invalid("client key: " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return Status::Invalid("client key does not match the certificate: " + OpenSslError());
    }
  }
  ctx->set_verify_mode(options.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer, ec);
  if (ec) return Status::Internal("set_verify_mode: " + ec.message());
  SSL_CTX_set_alpn_protos(ctx->native_handle(), kAlpnHttp11, sizeof(kAlpnHttp11));
  return ctx;
}

Status ConfigureClientSsl(SSL* ssl, const std::string& host, const ClientOptions& options) {
  const std::string& name = options.tls_server_name.empty() ? host : options.tls_server_name;
  unsigned char addr[16];
  bool is_ip =
      inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1;
  // SNI carries host names only (RFC 6066 forbids literal addresses).
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return Status::Invalid("SNI: " + OpenSslError());
  }
  if (options.insecure_skip_verify) return Status::OK();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (ok != 1) return Status::Invalid("cannot verify against \"" + name + "\"");
  return Status::OK();
}

TlsPeerInfo ExtractPeerInfo(SSL* ssl) {
  TlsPeerInfo info;
  info.protocol = SSL_get_version(ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != nullptr) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  X509* leaf = SSL_get1_peer_certificate(ssl);
  if (leaf != nullptr) {
    info.certificate_chain_pem.push_back(ToPem(leaf));
    // On the server side the peer chain excludes the leaf.
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      X509* c = sk_X509_value(chain, i);
      if (X509_cmp(c, leaf) == 0) continue;
      info.certificate_chain_pem.push_back(ToPem(c));
    }
    info.certificate_verified = SSL_get_verify_result(ssl) == X509_V_OK;
    X509_free(leaf);
  }
  return info;
}

}  // namespace mini8s::http::detail
