// WebSocket connections on top of an established Beast stream (plain or TLS), for both roles.
// Private to src/http: this header exposes Beast types. The instantiations for
// beast::tcp_stream and beast::ssl_stream<beast::tcp_stream> live in websocket_session.cpp, so the
// WebSocket templates are compiled once.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/http/websocket.h"

namespace mini8s::http::detail {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct WebSocketServerParams {
  std::string subprotocol;  // echoed in Sec-WebSocket-Protocol when non-empty
  WebSocketHandlers handlers;
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  std::string server_header;
  // Called (on the connection's strand) once the connection object exists, so the owner can
  // close it on shutdown.
  std::function<void(std::shared_ptr<WebSocket>)> on_created;
};

// Completes the server handshake for `request` on `stream` and runs the connection until it
// closes. Runs on the stream's executor (a strand).
template <class Stream>
boost::asio::awaitable<void> ServeWebSocket(Stream stream, BeastRequest request,
                                            WebSocketServerParams params);

struct WebSocketClientParams {
  std::string host_header;
  std::string target;
  Headers headers;
  std::vector<std::string> subprotocols;
  WebSocketHandlers handlers;
  std::size_t max_message_bytes = 64 * 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{30'000};
};

// Performs the client handshake on a connected `stream` and starts the connection. kUnavailable
// when the server does not answer 101 or picks a subprotocol that was not offered.
template <class Stream>
boost::asio::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocketOn(
    Stream stream, WebSocketClientParams params);

extern template boost::asio::awaitable<void> ServeWebSocket<PlainStream>(PlainStream, BeastRequest,
                                                                         WebSocketServerParams);
extern template boost::asio::awaitable<void> ServeWebSocket<TlsStream>(TlsStream, BeastRequest,
                                                                       WebSocketServerParams);
extern template boost::asio::awaitable<Result<std::shared_ptr<WebSocket>>>
    ConnectWebSocketOn<PlainStream>(PlainStream, WebSocketClientParams);
extern template boost::asio::awaitable<Result<std::shared_ptr<WebSocket>>>
    ConnectWebSocketOn<TlsStream>(TlsStream, WebSocketClientParams);

}  // namespace mini8s::http::detail
