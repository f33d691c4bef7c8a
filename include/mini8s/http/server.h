// Server: an HTTP/1.1 server over TCP, with or without TLS, built on Boost.Beast (which stays
// inside src/http). Handlers see plain HttpRequest values and answer through a Responder: a whole
// response, a chunked stream written later from any thread (watch, logs -f), or a WebSocket upgrade
// (exec, attach, port-forward).
//
// Concurrency: each connection runs as a coroutine on its own strand of the given executor, so the
// server works with one io_context thread or several. Server's own methods are thread-safe.
// Lifetime: the executor's io_context must outlive the Server and every Responder, StreamWriter
// and WebSocket handle (they post to its strands); destroying the Server closes the listener and
// every connection at once (call Shutdown first for a graceful stop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/http/websocket.h"

namespace mini8s::http {

// TLS settings of a listener. PEM text may be given inline or as file paths (inline wins).
struct ServerTlsOptions {
  std::string cert_chain_pem;  // leaf first, then intermediates
  std::string key_pem;
  std::string cert_chain_file;
  std::string key_file;
  // CA bundle for client certificates. When set, the server *requests* a client certificate but
  // does not require one; a presented certificate must verify against this bundle or the handshake
  // fails. The verified chain reaches handlers in HttpRequest::tls (x509 authentication is the
  // server layer's job).
  std::string client_ca_pem;
  std::string client_ca_file;
};

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;                    // 0 picks a free port; read it back with Server::port()
  std::optional<ServerTlsOptions> tls;  // nullopt: plain HTTP

  // Limits that protect the server.
  std::size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413
  std::size_t max_header_bytes = 64 * 1024;      // larger request heads get 431
  std::size_t max_connections = 1024;            // further connections are closed on accept
  std::size_t max_websocket_message_bytes = 16 * 1024 * 1024;

  // Time allowed for the TLS handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  // Time allowed to receive a request head (first request on a connection) and to receive a body.
  std::chrono::milliseconds read_timeout{30'000};
  // How long a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout{90'000};
  // Time allowed to write one response or one chunk to the client.
  std::chrono::milliseconds write_timeout{30'000};

  std::string server_header = "mini8s";

  // Connection threads. 0: connections run on the executor given to Create. N > 0: the server
  // runs N threads, each polling its own io_context, and spreads connections over them; a
  // connection's reads, writes and the handler calls made on its strand then stay on one thread,
  // with no wake-up of another thread per request (a shared io_context hands each completion
  // from the thread that polled it to the one that runs it).
  unsigned io_threads = 0;
};

// A chunked streaming response (Transfer-Encoding: chunked). Each Write becomes one chunk.
// Thread-safe. The connection closes when the stream ends; a stream never returns to keep-alive.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues one chunk. Returns false (and drops the data) once the stream is closed.
  virtual bool Write(std::shared_ptr<const std::string> chunk) = 0;
  bool Write(std::string chunk) {
    return Write(std::make_shared<const std::string>(std::move(chunk)));
  }
  // Ends the stream cleanly after the queued chunks (writes the last chunk). Idempotent.
  virtual void Finish() = 0;
  // Drops queued chunks and closes the connection at once (slow consumer, teardown).
  virtual void Abort() = 0;
  // True once the client disconnected, the stream ended or the server is stopping it.
  virtual bool closed() const = 0;
  // Bytes queued and not yet written.
  virtual std::size_t queued_bytes() const = 0;
  // Registers a callback run once when the stream ends for any reason (client gone, Finish done,
  // Abort, server shutdown). Runs at once if already closed. Runs on the connection's strand.
  virtual void OnClose(std::function<void()> callback) = 0;
};

// The one way to answer a request. A cheap, copyable handle that may be moved to another thread
// or kept for later; exactly one of Send / StartStream / AcceptWebSocket takes effect (later calls
// are ignored and return false). If every copy is destroyed without answering, the client gets 500.
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state);

  // Sends a whole response.
  bool Send(HttpResponse response);
  // Starts a chunked response with `status` and `headers`; write the body through the returned
  // writer. Returns nullptr if the request was already answered.
  std::shared_ptr<StreamWriter> StartStream(int status, Headers headers);
  // Completes a WebSocket upgrade (only valid when request.websocket_upgrade) with `subprotocol`
  // ("" to select none) and hands the connection to `handlers`.
  bool AcceptWebSocket(std::string subprotocol, WebSocketHandlers handlers);

 private:
  std::shared_ptr<State> state_;
};

// Called on the connection's strand for each request. It may answer at once or keep the Responder
// and answer later from any thread; the connection waits (without a timeout) for the answer.
// Exceptions thrown by the handler become 500.
using Handler = std::function<void(HttpRequest request, Responder responder)>;

// Where an in-process caller (the API server's LocalClient) receives the answer of a request it
// handed to a Handler without a connection. Methods may be called from any thread.
class LocalSink {
 public:
  virtual ~LocalSink() = default;
  virtual void OnResponse(HttpResponse response) = 0;
  // A streamed answer; the returned writer receives the chunks.
  virtual std::shared_ptr<StreamWriter> OnStream(int status, Headers headers) = 0;
  // Every Responder copy was dropped without an answer.
  virtual void OnAbandoned() = 0;
};
// A Responder that answers into `sink` (WebSocket upgrades are refused).
Responder MakeLocalResponder(std::shared_ptr<LocalSink> sink);

class Server {
 public:
  // Binds and listens (accepting starts with Start). kUnavailable if the address is in use;
  // kInvalid for bad TLS material.
  static Result<std::unique_ptr<Server>> Create(boost::asio::any_io_executor executor,
                                                ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful with port 0) and address.
  uint16_t port() const;
  const std::string& address() const;
  // "https://127.0.0.1:port" or "http://...".
  std::string url() const;

  // Starts accepting connections.
  void Start();

  // Graceful stop: closes the listener, drops idle keep-alive connections, lets requests in
  // flight finish (their responses carry Connection: close), ends streaming responses with their
  // last chunk and closes WebSockets with 1001. Whatever is still open after `grace` is closed at
  // once. `done` runs (on the executor) when no connection is left. Idempotent; later calls only
  // register `done`.
  void Shutdown(std::chrono::milliseconds grace, std::function<void()> done = nullptr);

  // Calls Shutdown(grace, done) on the first SIGTERM or SIGINT delivered to the process. Call at
  // most once, before Shutdown.
  void ShutdownOnSignals(std::chrono::milliseconds grace, std::function<void()> done = nullptr);

  // Open connections right now.
  std::size_t connection_count() const;

  // Replaces the TLS certificate, key and client CA bundle for connections accepted from now on
  // (certificate rotation without a restart); connections already open keep the handshake they
  // made. kInvalid, and nothing changes, for bad material or a plain-HTTP server.
  Status ReloadTls(const ServerTlsOptions& tls);

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  struct Threads;
  std::unique_ptr<Threads> threads_;  // connection threads (ServerOptions::io_threads)
};

}  // namespace mini8s::http
