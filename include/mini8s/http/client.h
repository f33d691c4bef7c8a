// Client: an HTTP/1.1 client over TCP, with or without TLS (custom CA or the system bundle,
// optional client certificate), keep-alive connection reuse, streaming response bodies (a watch
// is read line by line), WebSocket connections, timeouts and optional redirects. Callers add their
// own Authorization header (bearer tokens, registry tokens).
//
// Two faces: Client is the async API, coroutines on an executor; BlockingClient wraps it with a
// private io_context for CLI tools and tests.
//
// Concurrency: Client is thread-safe (the connection pool has a mutex); each request runs on the
// calling coroutine's executor. A ResponseStream is used by one coroutine at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/http/websocket.h"

namespace mini8s::http {

struct ClientOptions {
  // Server verification. With neither PEM nor file set, the system bundle is used.
  std::string ca_pem;
  std::string ca_file;
  bool insecure_skip_verify = false;
  // Name to verify the server certificate against (and SNI) instead of the URL's host.
  std::string tls_server_name;
  // Client certificate for x509 authentication.
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string client_cert_file;
  std::string client_key_file;

  std::chrono::milliseconds connect_timeout{10'000};
  // Default for ClientRequest::timeout.
  std::chrono::milliseconds request_timeout{60'000};
  // Pooled connections idle longer than this are not reused (servers drop idle connections).
  std::chrono::milliseconds idle_connection_timeout{30'000};
  std::size_t max_idle_connections_per_host = 8;
  // Send: larger response bodies fail with kResourceExhausted. Streams have no limit.
  std::size_t max_response_body_bytes = 256 * 1024 * 1024;
  // Follow 301/302/303/307/308 (303, and 301/302 for POST, become GET). Authorization is dropped
  // when a redirect leaves the original host.
  bool follow_redirects = false;
  int max_redirects = 10;
  std::string user_agent = "mini8s";
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  // Bound on connect + send + receiving the whole response (Send) or the response head
  // (OpenStream). Zero means ClientOptions::request_timeout.
  std::chrono::milliseconds timeout{0};
};

struct ClientResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
};

// The body of a response being received, for chunked or long responses (watch, logs -f, image
// layers). Reads are coroutines; ending the stream early (destroying it or Close) drops the
// connection rather than returning it to the pool.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual int status() const = 0;
  virtual const std::string& reason() const = 0;
  virtual const Headers& headers() const = 0;
  // Up to `max_bytes` more body bytes; an empty string means the body ended.
  virtual boost::asio::awaitable<Result<std::string>> ReadSome(std::size_t max_bytes = 65536) = 0;
  // The next line without its '\n' (a final unterminated line is returned too); nullopt at the end
  // of the body. Lines longer than `max_line` fail with kResourceExhausted.
  virtual boost::asio::awaitable<Result<std::optional<std::string>>> ReadLine(
      std::size_t max_line = 16 * 1024 * 1024) = 0;
  // Reads the rest of the body.
  virtual boost::asio::awaitable<Result<std::string>> ReadAll() = 0;
  // Closes the connection; a pending read completes with an error. Thread-safe.
  virtual void Close() = 0;
  // Bound on the wait for each read; zero (the default) waits forever.
  virtual void SetReadTimeout(std::chrono::milliseconds timeout) = 0;
};

class Client {
 public:
  // kInvalid for unreadable CA or client certificate material.
  static Result<std::unique_ptr<Client>> Create(boost::asio::any_io_executor executor,
                                                ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request and receives the whole response. Any HTTP status is a value; transport
  // failures are errors (kUnavailable: connect/reset, kTimeout, kInvalid: bad URL or TLS failure).
  boost::asio::awaitable<Result<ClientResponse>> Send(ClientRequest request);
  // Sends a request and returns once the response head arrived; read the body from the stream.
  boost::asio::awaitable<Result<std::unique_ptr<ResponseStream>>> OpenStream(ClientRequest request);
  // Opens a WebSocket (ws:// is written http://, wss:// https://) offering `subprotocols`.
  // Fails with kUnavailable and the status in the message if the server does not answer 101.
  boost::asio::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocket(
      ClientRequest request, std::vector<std::string> subprotocols, WebSocketHandlers handlers);

  // Drops the idle pooled connections.
  void CloseIdleConnections();
  std::size_t idle_connection_count() const;

  boost::asio::any_io_executor executor() const;

  struct Impl;

 private:
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

class BlockingResponseStream;
class BlockingWebSocket;

// Blocking convenience wrapper: owns an io_context and runs it inside each call. Not thread-safe;
// use one per thread.
class BlockingClient {
 public:
  static Result<std::unique_ptr<BlockingClient>> Create(ClientOptions options = {});
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  Result<ClientResponse> Send(ClientRequest request);
  // Convenience: GET `url`.
  Result<ClientResponse> Get(std::string url);
  Result<std::unique_ptr<BlockingResponseStream>> OpenStream(ClientRequest request);
  Result<std::unique_ptr<BlockingWebSocket>> ConnectWebSocket(
      ClientRequest request, std::vector<std::string> subprotocols);

  Client& async_client();

  struct Impl;

 private:
  explicit BlockingClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class BlockingResponseStream {
 public:
  BlockingResponseStream(BlockingClient::Impl* owner, std::unique_ptr<ResponseStream> stream);
  ~BlockingResponseStream();
  int status() const { return stream_->status(); }
  const Headers& headers() const { return stream_->headers(); }
  Result<std::optional<std::string>> ReadLine();
  Result<std::string> ReadAll();
  void SetReadTimeout(std::chrono::milliseconds t) { stream_->SetReadTimeout(t); }
  void Close() { stream_->Close(); }

 private:
  BlockingClient::Impl* owner_;
  std::unique_ptr<ResponseStream> stream_;
};

// A WebSocket whose incoming messages are queued and read with Receive.
class BlockingWebSocket {
 public:
  struct Inbox;
  BlockingWebSocket(BlockingClient::Impl* owner, std::shared_ptr<WebSocket> ws,
                    std::shared_ptr<Inbox> inbox);
  ~BlockingWebSocket();
  const std::string& subprotocol() const { return ws_->subprotocol(); }
  void Send(std::string data, bool binary) { ws_->Send(std::move(data), binary); }
  // The next message; kCancelled with the close code in the message once the connection closed;
  // kTimeout after `timeout`.
  Result<WebSocketMessage> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends a close frame and waits (up to 5 s) for the connection to end. Returns the peer's code.
  uint16_t Close(uint16_t code = 1000);

 private:
  BlockingClient::Impl* owner_;
  std::shared_ptr<WebSocket> ws_;
  std::shared_ptr<Inbox> inbox_;
};

}  // namespace mini8s::http
