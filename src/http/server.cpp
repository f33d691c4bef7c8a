#include "mini8s/http/server.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "http/tls_context.h"
#include "http/websocket_session.h"
#include "mini8s/common/logging.h"

namespace mini8s::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kToken = net::as_tuple(net::use_awaitable);
// After a response that closes the connection, how long to keep reading (and discarding) so the
// client receives the response instead of a reset caused by unread request bytes.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;

bool IsHttpParseError(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more && ec != bhttp::error::need_buffer;
}

}  // namespace

// The answer to one request, shared between the session (on its strand) and the Responder /
// StreamWriter handles held by the handler (any thread). Everything but the atomics is touched
// only on `strand`.
struct Exchange {
  enum class Answer { kNone, kResponse, kStream, kWebSocket, kAbandoned };

  explicit Exchange(net::any_io_executor s) : strand(std::move(s)) {}

  void Wake() {
    if (wake != nullptr) wake->cancel();
  }

  net::any_io_executor strand;
  net::steady_timer* wake = nullptr;  // the session's event timer while it waits on this exchange

  Answer answer = Answer::kNone;
  HttpResponse response;
  int stream_status = 200;
  Headers stream_headers;
  std::string ws_subprotocol;
  WebSocketHandlers ws_handlers;

  // Streaming state.
  std::deque<std::shared_ptr<const std::string>> chunks;
  bool finish = false;
  bool abort = false;
  bool stream_ended = false;
  std::vector<std::function<void()>> on_close;
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> queued{0};
};

struct Responder::State {
  explicit State(std::shared_ptr<Exchange> e) : exchange(std::move(e)) {}
  explicit State(std::shared_ptr<LocalSink> s) : local(std::move(s)) {}
  ~State() {
    if (used.load()) return;
    if (local) {
      local->OnAbandoned();
      return;
    }
    net::post(exchange->strand, [ex = exchange] {
      if (ex->answer != Exchange::Answer::kNone) return;
      ex->answer = Exchange::Answer::kAbandoned;
      ex->Wake();
    });
  }
  std::shared_ptr<Exchange> exchange;
  std::shared_ptr<LocalSink> local;  // set instead of `exchange` for in-process requests
  std::atomic<bool> used{false};
};

Responder MakeLocalResponder(std::shared_ptr<LocalSink> sink) {
  return Responder(std::make_shared<Responder::State>(std::move(sink)));
}

namespace {

class StreamWriterImpl final : public StreamWriter {
 public:
  explicit StreamWriterImpl(std::shared_ptr<Exchange> ex) : ex_(std::move(ex)) {}

  bool Write(std::shared_ptr<const std::string> chunk) override {
    if (ex_->closed.load() || chunk == nullptr) return false;
    ex_->queued += chunk->size();
    net::post(ex_->strand, [ex = ex_, chunk = std::move(chunk)]() mutable {
      if (ex->stream_ended || ex->finish || ex->abort) {
        ex->queued -= chunk->size();
        return;
      }
      ex->chunks.push_back(std::move(chunk));
      ex->Wake();
    });
    return true;
  }

  void Finish() override {
    net::post(ex_->strand, [ex = ex_] {
      ex->finish = true;
      ex->Wake();
    });
  }

  void Abort() override {
    ex_->closed = true;
    net::post(ex_->strand, [ex = ex_] {
      ex->abort = true;
      ex->Wake();
    });
  }

  bool closed() const override { return ex_->closed.load(); }
  std::size_t queued_bytes() const override { return ex_->queued.load(); }

  void OnClose(std::function<void()> callback) override {
    net::post(ex_->strand, [ex = ex_, cb = std::move(callback)]() mutable {
      if (ex->stream_ended) {
        cb();
      } else {
        ex->on_close.push_back(std::move(cb));
      }
    });
  }

 private:
  std::shared_ptr<Exchange> ex_;
};

}  // namespace

Responder::Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}

bool Responder::Send(HttpResponse response) {
  if (!state_ || state_->used.exchange(true)) return false;
  if (state_->local) {
    state_->local->OnResponse(std::move(response));
    return true;
  }
  net::dispatch(state_->exchange->strand,
                [ex = state_->exchange, r = std::move(response)]() mutable {
                  if (ex->answer != Exchange::Answer::kNone) return;
                  ex->answer = Exchange::Answer::kResponse;
                  ex->response = std::move(r);
                  ex->Wake();
                });
  return true;
}

std::shared_ptr<StreamWriter> Responder::StartStream(int status, Headers headers) {
  if (!state_ || state_->used.exchange(true)) return nullptr;
  if (state_->local) return state_->local->OnStream(status, std::move(headers));
  net::dispatch(state_->exchange->strand,
                [ex = state_->exchange, status, h = std::move(headers)]() mutable {
                  if (ex->answer != Exchange::Answer::kNone) return;
                  ex->answer = Exchange::Answer::kStream;
                  ex->stream_status = status;
                  ex->stream_headers = std::move(h);
                  ex->Wake();
                });
  return std::make_shared<StreamWriterImpl>(state_->exchange);
}

bool Responder::AcceptWebSocket(std::string subprotocol, WebSocketHandlers handlers) {
  if (!state_ || state_->local || state_->used.exchange(true)) return false;
  net::dispatch(state_->exchange->strand, [ex = state_->exchange, p = std::move(subprotocol),
                                           h = std::move(handlers)]() mutable {
    if (ex->answer != Exchange::Answer::kNone) return;
    ex->answer = Exchange::Answer::kWebSocket;
    ex->ws_subprotocol = std::move(p);
    ex->ws_handlers = std::move(h);
    ex->Wake();
  });
  return true;
}

namespace {

// What the server needs from a live session, independent of its stream type.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  virtual void RequestShutdown() = 0;  // graceful
  virtual void ForceClose() = 0;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::any_io_executor ex, ServerOptions opts, Handler h)
      : executor(ex),
        options(std::move(opts)),
        handler(std::move(h)),
        strand(net::make_strand(ex)),
        acceptor(strand),
        grace_timer(strand),
        signals(strand) {}

  net::awaitable<void> AcceptLoop();
  void StartSession(tcp::socket socket);
  uint64_t Register(std::weak_ptr<SessionControl> s);
  void Unregister(uint64_t id);
  void BeginShutdown(std::chrono::milliseconds grace, std::function<void()> done);
  void ForceCloseAll();
  void MaybeDone();  // under mu

  net::any_io_executor executor;
  ServerOptions options;
  Handler handler;
  // Replaced whole by ReloadTls; an SSL made from the old context holds its own reference to the
  // SSL_CTX, so open connections are unaffected.
  std::shared_ptr<net::ssl::context> tls;  // GUARDED_BY(mu) once the server is created
  net::strand<net::any_io_executor> strand;  // acceptor, timers, signals
  tcp::acceptor acceptor;
  net::steady_timer grace_timer;
  net::signal_set signals;
  std::string address;
  uint16_t port = 0;

  mutable std::mutex mu;
  std::unordered_map<uint64_t, std::weak_ptr<SessionControl>> sessions;  // GUARDED_BY(mu)
  uint64_t next_id = 1;                                                  // GUARDED_BY(mu)
  bool shutting_down = false;                                            // GUARDED_BY(mu)
  std::vector<std::function<void()>> done_callbacks;                     // GUARDED_BY(mu)
  std::atomic<bool> stopping{false};

  // With options.io_threads: one io_context per connection thread. The threads belong to the
  // Server (joined in its destructor), never to Impl, which a session may release last.
  std::vector<std::unique_ptr<net::io_context>> io_contexts;
  std::atomic<std::size_t> next_io{0};

  net::any_io_executor SessionExecutor() {
    if (io_contexts.empty()) return executor;
    std::size_t i = next_io.fetch_add(1, std::memory_order_relaxed) % io_contexts.size();
    return io_contexts[i]->get_executor();
  }
};

namespace {

// One connection: TLS handshake (for TlsStream), then requests in a loop; a request may turn the
// connection into a chunked stream or a WebSocket. Runs as a coroutine on its own strand.
template <class Stream>
class Session final : public SessionControl, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, detail::TlsStream>;

  Session(std::shared_ptr<Server::Impl> server, Stream stream, std::string remote)
      : server_(std::move(server)),
        stream_(std::move(stream)),
        remote_(std::move(remote)),
        wake_(stream_.get_executor()) {}

  ~Session() override { server_->Unregister(id_); }

  void SetId(uint64_t id) { id_ = id; }

  // Called from other threads, possibly after a WebSocket upgrade moved stream_ away: post
  // through the timer's copy of the session executor, never through stream_.
  void RequestShutdown() override {
    net::post(wake_.get_executor(), [self = this->shared_from_this()] { self->OnShutdown(); });
  }

  void ForceClose() override {
    net::post(wake_.get_executor(), [self = this->shared_from_this()] {
      self->force_closed_ = true;
      if (self->ws_) self->ws_->Abort();
      if (!self->upgraded_) self->CloseSocket();
      if (self->current_) self->current_->Wake();
    });
  }

  net::awaitable<void> Run();

 private:
  enum class Phase { kHandshake, kIdle, kReading, kHandling, kWriting, kStreaming, kUpgraded };

  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  void CloseSocket() {
    boost::system::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().socket().close(ec);
  }

  void OnShutdown() {
    shutting_down_ = true;
    switch (phase_) {
      case Phase::kHandshake:
      case Phase::kIdle:
        CloseSocket();
        break;
      case Phase::kStreaming:
        if (current_) {
          current_->finish = true;
          current_->Wake();
        }
        break;
      case Phase::kUpgraded:
        if (ws_) ws_->Close(1001, "server shutting down");
        break;
      default:
        break;  // a request in flight finishes, then the connection closes
    }
  }

  net::awaitable<bool> WriteResponse(HttpResponse response, bool keep_alive, bool head,
                                     unsigned version);
  net::awaitable<void> SendError(int status, std::string message);
  net::awaitable<void> LingeringClose();
  net::awaitable<void> StreamBody(std::shared_ptr<Exchange> ex, unsigned version);
  static net::awaitable<void> WatchPeer(std::shared_ptr<Session> self,
                                        std::shared_ptr<Exchange> ex);

  std::shared_ptr<Server::Impl> server_;
  Stream stream_;
  std::string remote_;
  net::steady_timer wake_;
  beast::flat_buffer buffer_;
  uint64_t id_ = 0;
  Phase phase_ = Phase::kHandshake;
  bool shutting_down_ = false;
  bool force_closed_ = false;
  bool upgraded_ = false;
  std::shared_ptr<Exchange> current_;
  std::shared_ptr<WebSocket> ws_;
  std::optional<TlsPeerInfo> tls_info_;
};

void FillHeaders(const Headers& from, bhttp::fields& to) {
  for (const auto& [name, value] : from) {
    // The server owns framing and connection management.
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    to.insert(name, value);
  }
}

template <class Stream>
net::awaitable<bool> Session<Stream>::WriteResponse(HttpResponse response, bool keep_alive,
                                                    bool head, unsigned version) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(response.status));
  FillHeaders(response.headers, res);
  if (!server_->options.server_header.empty() && !response.headers.Has("Server")) {
    res.set(bhttp::field::server, server_->options.server_header);
  }
  std::size_t length = response.body.size();
  res.body() = head ? std::string() : std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) res.content_length(length);
  phase_ = Phase::kWriting;
  Lowest().expires_after(server_->options.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream_, res, kToken);
  co_return !ec;
}

template <class Stream>
net::awaitable<void> Session<Stream>::SendError(int status, std::string message) {
  HttpResponse r = HttpResponse::Text(status, std::move(message) + "\n");
  if (co_await WriteResponse(std::move(r), false, false, 11)) co_await LingeringClose();
}

template <class Stream>
net::awaitable<void> Session<Stream>::LingeringClose() {
  if constexpr (!kTls) {
    boost::system::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  // Discard what the client still sends (an oversized body) until it closes, so the response is
  // not lost to a TCP reset.
  Lowest().expires_after(kLingerTime);
  std::size_t total = 0;
  char scratch[16 * 1024];
  while (total < kLingerBytes) {
    auto [ec, n] = co_await stream_.async_read_some(net::buffer(scratch), kToken);
    if (ec) break;
    total += n;
  }
}

template <class Stream>
net::awaitable<void> Session<Stream>::WatchPeer(std::shared_ptr<Session> self,
                                                std::shared_ptr<Exchange> ex) {
  // A streaming client sends nothing more; any read completion (EOF, reset, close) or stray data
  // means the stream is over from the client's side.
  char scratch[1024];
  for (;;) {
    auto [ec, n] = co_await self->stream_.async_read_some(net::buffer(scratch), kToken);
    if (ec) break;
  }
  ex->closed = true;
  ex->abort = true;
  ex->Wake();
}

template <class Stream>
net::awaitable<void> Session<Stream>::StreamBody(std::shared_ptr<Exchange> ex, unsigned version) {
  phase_ = Phase::kStreaming;
  bhttp::response<bhttp::empty_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(ex->stream_status));
  FillHeaders(ex->stream_headers, res);
  if (!server_->options.server_header.empty() && !ex->stream_headers.Has("Server")) {
    res.set(bhttp::field::server, server_->options.server_header);
  }
  // A stream never goes back to keep-alive: the reader below owns the read side until the end.
  res.keep_alive(false);
  res.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> sr(res);
  Lowest().expires_after(server_->options.write_timeout);
  auto [hec, hn] = co_await bhttp::async_write_header(stream_, sr, kToken);
  bool ok = !hec;
  if (ok) {
    Lowest().expires_never();
    net::co_spawn(stream_.get_executor(), WatchPeer(this->shared_from_this(), ex),
                  [](std::exception_ptr) {});
    while (ok) {
      while (!ex->chunks.empty() && !ex->abort && !force_closed_) {
        auto chunk = std::move(ex->chunks.front());
        ex->chunks.pop_front();
        ex->queued -= chunk->size();
        if (chunk->empty()) continue;  // an empty chunk would end the body
        Lowest().expires_after(server_->options.write_timeout);
        auto [ec, n] =
            co_await net::async_write(stream_, bhttp::make_chunk(net::buffer(*chunk)), kToken);
        // Only the write timer is armed while the reader is pending; disarm it between writes.
        Lowest().expires_never();
        if (ec) ok = false;
        if (!ok) break;
      }
      if (!ok || ex->abort || force_closed_) break;
      if (ex->finish || shutting_down_) {
        Lowest().expires_after(server_->options.write_timeout);
        co_await net::async_write(stream_, bhttp::make_chunk_last(), kToken);
        Lowest().expires_never();
        break;
      }
      wake_.expires_at(net::steady_timer::time_point::max());
      co_await wake_.async_wait(kToken);
    }
  }
  ex->closed = true;
  ex->stream_ended = true;
  ex->queued = 0;
  ex->chunks.clear();
  auto callbacks = std::move(ex->on_close);
  ex->on_close.clear();
  for (auto& cb : callbacks) cb();
}

Result<HttpRequest> ToHttpRequest(const detail::BeastRequest& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  std::string_view target = out.target;
  std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (raw_path.empty() || raw_path.front() != '/') {
    // Absolute-form and authority-form targets are for proxies; this server is an origin.
    if (out.method != "OPTIONS" || target != "*") {
      return Status::BadRequest("request target must be an absolute path");
    }
  }
  MINI8S_ASSIGN_OR_RETURN(out.path, DecodePath(raw_path));
  if (q != std::string_view::npos) {
    out.raw_query = std::string(target.substr(q + 1));
    MINI8S_ASSIGN_OR_RETURN(out.query, ParseQuery(out.raw_query));
  }
  for (const auto& f : req) out.headers.Add(std::string(f.name_string()), std::string(f.value()));
  out.version = static_cast<int>(req.version());
  out.keep_alive = req.keep_alive();
  out.websocket_upgrade = beast::websocket::is_upgrade(req);
  out.body = req.body();
  return out;
}

template <class Stream>
net::awaitable<void> Session<Stream>::Run() {
  auto self = this->shared_from_this();
  const ServerOptions& opts = server_->options;
  if constexpr (kTls) {
    phase_ = Phase::kHandshake;
    Lowest().expires_after(opts.handshake_timeout);
    auto [ec] = co_await stream_.async_handshake(net::ssl::stream_base::server, kToken);
    if (ec) {
      MINI8S_VLOG(2) << "TLS handshake from " << remote_ << " failed: " << ec.message();
      CloseSocket();
      co_return;
    }
    tls_info_ = detail::ExtractPeerInfo(stream_.native_handle());
  }
  bool first = true;
  while (!shutting_down_ && !force_closed_) {
    phase_ = Phase::kIdle;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    parser.body_limit(opts.max_body_bytes);
    Lowest().expires_after(first ? opts.read_timeout : opts.idle_timeout);
    first = false;
    auto [hec, hn] = co_await bhttp::async_read_header(stream_, buffer_, parser, kToken);
    if (hec) {
      if (hec == bhttp::error::header_limit || hec == bhttp::error::buffer_overflow) {
        co_await SendError(431, "request header fields too large");
      } else if (hec == bhttp::error::body_limit) {
        co_await SendError(413, "request body too large");
      } else if (IsHttpParseError(hec)) {
        co_await SendError(400, "malformed HTTP request: " + hec.message());
      }
      break;
    }
    phase_ = Phase::kReading;
    if (auto cl = parser.content_length(); cl && *cl > opts.max_body_bytes) {
      co_await SendError(413, "request body too large");
      break;
    }
    if (!parser.is_done()) {
      auto expect = parser.get()[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        Lowest().expires_after(opts.write_timeout);
        auto [ec, n] = co_await net::async_write(
            stream_, net::buffer(kContinue.data(), kContinue.size()), kToken);
        if (ec) break;
      }
      Lowest().expires_after(opts.read_timeout);
      auto [bec, bn] = co_await bhttp::async_read(stream_, buffer_, parser, kToken);
      if (bec) {
        if (bec == bhttp::error::body_limit) {
          co_await SendError(413, "request body too large");
        } else if (IsHttpParseError(bec)) {
          co_await SendError(400, "malformed HTTP request: " + bec.message());
        }
        break;
      }
    }
    detail::BeastRequest breq = parser.release();
    bool head = breq.method() == bhttp::verb::head;
    unsigned version = breq.version();
    auto converted = ToHttpRequest(breq);
    if (!converted) {
      co_await SendError(400, converted.error().message());
      break;
    }
    HttpRequest req = std::move(converted).value();
    req.remote_address = remote_;
    req.tls = tls_info_;
    bool keep_alive = req.keep_alive;
    bool is_upgrade = req.websocket_upgrade;

    phase_ = Phase::kHandling;
    Lowest().expires_never();
    auto ex = std::make_shared<Exchange>(stream_.get_executor());
    ex->wake = &wake_;
    current_ = ex;
    try {
      server_->handler(std::move(req), Responder(std::make_shared<Responder::State>(ex)));
    } catch (const std::exception& e) {
      MINI8S_LOG(ERROR) << "HTTP handler threw: " << e.what();
      if (ex->answer == Exchange::Answer::kNone) ex->answer = Exchange::Answer::kAbandoned;
    } catch (...) {
      MINI8S_LOG(ERROR) << "HTTP handler threw a non-standard exception";
      if (ex->answer == Exchange::Answer::kNone) ex->answer = Exchange::Answer::kAbandoned;
    }
    while (ex->answer == Exchange::Answer::kNone && !force_closed_) {
      wake_.expires_at(net::steady_timer::time_point::max());
      co_await wake_.async_wait(kToken);
    }
    if (force_closed_) break;

    if (ex->answer == Exchange::Answer::kStream) {
      co_await StreamBody(ex, version);
      break;
    }
    if (ex->answer == Exchange::Answer::kWebSocket) {
      if (!is_upgrade) {
        co_await SendError(400, "not a WebSocket upgrade request");
        break;
      }
      ex->wake = nullptr;
      current_.reset();
      phase_ = Phase::kUpgraded;
      upgraded_ = true;
      detail::WebSocketServerParams params;
      params.subprotocol = std::move(ex->ws_subprotocol);
      params.handlers = std::move(ex->ws_handlers);
      params.max_message_bytes = opts.max_websocket_message_bytes;
      params.server_header = opts.server_header;
      params.on_created = [this, self](std::shared_ptr<WebSocket> ws) {
        ws_ = std::move(ws);
        if (shutting_down_) ws_->Close(1001, "server shutting down");
        if (force_closed_) ws_->Abort();
      };
      co_await detail::ServeWebSocket<Stream>(std::move(stream_), std::move(breq),
                                              std::move(params));
      ws_.reset();
      co_return;
    }
    HttpResponse response;
    if (ex->answer == Exchange::Answer::kResponse) {
      response = std::move(ex->response);
    } else {
      response = HttpResponse::Text(500, "internal error: the request was not answered\n");
    }
    ex->wake = nullptr;
    current_.reset();
    keep_alive = keep_alive && !shutting_down_;
    if (!co_await WriteResponse(std::move(response), keep_alive, head, version)) break;
    if (!keep_alive) {
      co_await LingeringClose();
      break;
    }
  }
  if (current_) {
    current_->wake = nullptr;
    current_.reset();
  }
  CloseSocket();
}

}  // namespace

uint64_t Server::Impl::Register(std::weak_ptr<SessionControl> s) {
  std::lock_guard<std::mutex> lock(mu);
  uint64_t id = next_id++;
  sessions.emplace(id, std::move(s));
  return id;
}

void Server::Impl::Unregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.erase(id);
  MaybeDone();
}

void Server::Impl::MaybeDone() {
  if (!shutting_down || !sessions.empty() || done_callbacks.empty()) return;
  auto callbacks = std::move(done_callbacks);
  done_callbacks.clear();
  net::post(strand, [self = shared_from_this(), callbacks = std::move(callbacks)] {
    self->grace_timer.cancel();
    for (auto& cb : callbacks) cb();
  });
}

void Server::Impl::StartSession(tcp::socket socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string remote_str =
      ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
  socket.set_option(tcp::no_delay(true), ec);
  // Keep-alive probes eventually reap half-open peers on long streams.
  socket.set_option(net::socket_base::keep_alive(true), ec);
  auto exec = socket.get_executor();
  auto spawn = [&](auto session) {
    session->SetId(Register(session));
    net::co_spawn(exec, session->Run(), [session](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          MINI8S_LOG(ERROR) << "HTTP session failed: " << ex.what();
        }
      }
    });
  };
  std::shared_ptr<net::ssl::context> ctx;
  {
    std::lock_guard<std::mutex> lock(mu);
    ctx = tls;
  }
  if (ctx) {
    spawn(std::make_shared<Session<detail::TlsStream>>(
        shared_from_this(), detail::TlsStream(beast::tcp_stream(std::move(socket)), *ctx),
        std::move(remote_str)));
  } else {
    spawn(std::make_shared<Session<detail::PlainStream>>(
        shared_from_this(), detail::PlainStream(std::move(socket)), std::move(remote_str)));
  }
}

net::awaitable<void> Server::Impl::AcceptLoop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(SessionExecutor()), kToken);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      MINI8S_LOG(WARNING) << "accept: " << ec.message();
      net::steady_timer t(strand, std::chrono::milliseconds(100));
      co_await t.async_wait(kToken);
      continue;
    }
    std::size_t open;
    {
      std::lock_guard<std::mutex> lock(mu);
      open = sessions.size();
      if (shutting_down) co_return;
    }
    if (open >= options.max_connections) {
      MINI8S_VLOG(1) << "connection limit " << options.max_connections << " reached; closing";
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    StartSession(tcp::socket(std::move(socket)));
  }
}

void Server::Impl::ForceCloseAll() {
  std::vector<std::shared_ptr<SessionControl>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [id, w] : sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->ForceClose();
}

void Server::Impl::BeginShutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  std::vector<std::shared_ptr<SessionControl>> live;
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu);
    first = !shutting_down;
    shutting_down = true;
    if (done) done_callbacks.push_back(std::move(done));
    if (first) {
      for (auto& [id, w] : sessions) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    MaybeDone();
  }
  if (!first) return;
  net::post(strand, [self = shared_from_this(), grace] {
    boost::system::error_code ec;
    self->acceptor.close(ec);
    self->signals.cancel(ec);
    self->grace_timer.expires_after(grace);
    self->grace_timer.async_wait([self](boost::system::error_code wec) {
      if (!wec) self->ForceCloseAll();
    });
  });
  for (auto& s : live) s->RequestShutdown();
}

struct Server::Threads {
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
};

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (impl_->io_contexts.empty()) return;
  threads_ = std::make_unique<Threads>();
  for (auto& io : impl_->io_contexts) {
    threads_->guards.push_back(net::make_work_guard(*io));
    threads_->threads.emplace_back([ctx = io.get()] { ctx->run(); });
  }
}

Server::~Server() {
  net::post(impl_->strand, [impl = impl_] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    impl->signals.cancel(ec);
    impl->grace_timer.cancel();
  });
  impl_->ForceCloseAll();
  if (threads_) {
    // Closed connections finish on their threads; then each io_context runs out of work. A
    // connection stuck on something else must not hang the process's exit: after 2 s the
    // io_contexts are stopped (their pending handlers are destroyed with them).
    threads_->guards.clear();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (auto& io : impl_->io_contexts) {
      while (!io->stopped() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      io->stop();
    }
    for (auto& t : threads_->threads) t.join();
  }
}

Result<std::unique_ptr<Server>> Server::Create(net::any_io_executor executor, ServerOptions options,
                                               Handler handler) {
  if (!handler) return Status::Invalid("HTTP server needs a handler");
  auto impl = std::make_shared<Impl>(executor, std::move(options), std::move(handler));
  for (unsigned i = 0; i < impl->options.io_threads; ++i) {
    impl->io_contexts.push_back(std::make_unique<net::io_context>(1));
  }
  if (impl->options.tls) {
    MINI8S_ASSIGN_OR_RETURN(impl->tls, detail::MakeServerTlsContext(*impl->options.tls));
  }
  boost::system::error_code ec;
  auto addr = net::ip::make_address(impl->options.bind_address, ec);
  if (ec) return Status::Invalid("bad bind address \"" + impl->options.bind_address + "\"");
  tcp::endpoint ep(addr, impl->options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kUnavailable,
                  "listen on " + impl->options.bind_address + ":" +
                      std::to_string(impl->options.port) + ": " + ec.message(),
                  ec.value());
  }
  auto local = impl->acceptor.local_endpoint(ec);
  impl->address = local.address().to_string();
  impl->port = local.port();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }
const std::string& Server::address() const { return impl_->address; }

std::string Server::url() const {
  std::string host =
      impl_->address.find(':') != std::string::npos ? "[" + impl_->address + "]" : impl_->address;
  return std::string(impl_->options.tls ? "https" : "http") + "://" + host + ":" +
         std::to_string(impl_->port);
}

void Server::Start() {
  auto impl = impl_;
  net::co_spawn(impl->strand, impl->AcceptLoop(), [](std::exception_ptr e) {
    if (e) MINI8S_LOG(ERROR) << "HTTP accept loop failed with an exception";
  });
}

void Server::Shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  impl_->BeginShutdown(grace, std::move(done));
}

void Server::ShutdownOnSignals(std::chrono::milliseconds grace, std::function<void()> done) {
  // Added synchronously so a signal raised right after this call is already ours; nothing else
  // touches the signal_set before the wait below is posted.
  for (int signo : {SIGTERM, SIGINT}) {
    boost::system::error_code ec;
    impl_->signals.add(signo, ec);
    if (ec) MINI8S_LOG(ERROR) << "cannot handle signal " << signo << ": " << ec.message();
  }
  net::post(impl_->strand, [impl = impl_, grace, done = std::move(done)]() mutable {
    std::weak_ptr<Impl> weak = impl;
    impl->signals.async_wait(
        [weak, grace, done = std::move(done)](boost::system::error_code wec, int signo) mutable {
          auto self = weak.lock();
          if (wec || !self) return;
          MINI8S_LOG(INFO) << "signal " << signo << ": shutting down the HTTP server";
          self->BeginShutdown(grace, std::move(done));
        });
  });
}

Status Server::ReloadTls(const ServerTlsOptions& tls) {
  if (!impl_->options.tls) return Status::Invalid("the server does not use TLS");
  MINI8S_ASSIGN_OR_RETURN(auto ctx, detail::MakeServerTlsContext(tls));
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->tls = std::move(ctx);
  return Status::OK();
}

std::size_t Server::connection_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

}  // namespace mini8s::http
