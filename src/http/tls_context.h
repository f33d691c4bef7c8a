// TLS context construction for the server and the client, and what a handshake revealed about
// the peer. Private to src/http. Includes only Asio's ssl context header (no Beast).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/client.h"
#include "mini8s/http/message.h"
#include "mini8s/http/server.h"

typedef struct ssl_st SSL;

namespace mini8s::http::detail {

// TLS 1.2+ server context (forward-secret AEAD suites only, server preference, no compression or
// renegotiation): certificate chain and key, ALPN that only ever selects "http/1.1",
// and when a client CA is given, "request but not require" client certificates.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const ServerTlsOptions& options);

// TLS 1.2+ client context: trust anchors (custom CA or the system bundle), optional client
// certificate, ALPN "http/1.1".
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const ClientOptions& options);

// Per-connection client setup: SNI (for DNS names) and the name or IP address to verify.
Status ConfigureClientSsl(SSL* ssl, const std::string& host, const ClientOptions& options);

// Protocol, ALPN and peer certificates of an established connection.
TlsPeerInfo ExtractPeerInfo(SSL* ssl);

}  // namespace mini8s::http::detail
