#include "mini8s/http/client.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "mini8s/common/co_result.h"
#include "http/tls_context.h"
#include "http/websocket_session.h"
#include "mini8s/common/logging.h"

namespace mini8s::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kToken = net::as_tuple(net::use_awaitable);
constexpr std::uint32_t kResponseHeaderLimit = 256 * 1024;

// A transport connection, plain or TLS, with its read buffer. Shared so that Close() can post a
// handler that keeps it alive.
struct Connection {
  std::string key;
  bool tls = false;
  std::optional<detail::PlainStream> plain;
  std::optional<detail::TlsStream> secure;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
  bool reused = false;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*secure) : *plain; }
  void CloseSocket() {
    boost::system::error_code ec;
    Lowest().socket().close(ec);
  }
};
using ConnectionPtr = std::shared_ptr<Connection>;

Status FromError(const boost::system::error_code& ec, std::string_view what) {
  std::string msg = std::string(what) + ": " + ec.message();
  if (ec == beast::error::timeout) return Status::Timeout(msg);
  if (ec == bhttp::error::body_limit) return Status::ResourceExhausted(msg);
  if (ec == net::error::operation_aborted) return Status::Cancelled(msg);
  if (ec.category() == net::error::get_ssl_category() || ec == net::ssl::error::stream_truncated) {
    return Status(Code::kUnavailable, "TLS " + msg);
  }
  return Status::Unavailable(msg);
}

std::string HostHeader(const Url& u) {
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  bool default_port =
      (u.scheme == "https" && u.port == 443) || (u.scheme == "http" && u.port == 80);
  return default_port ? host : host + ":" + std::to_string(u.port);
}

std::string PoolKey(const Url& u) {
  return u.scheme + "://" + u.host + ":" + std::to_string(u.port);
}

detail::BeastRequest MakeBeastRequest(const ClientRequest& r, const Url& u,
                                      const ClientOptions& o) {
  detail::BeastRequest req;
  auto verb = bhttp::string_to_verb(r.method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(r.method);
  } else {
    req.method(verb);
  }
  req.target(u.target);
  req.version(11);
  req.set(bhttp::field::host, HostHeader(u));
  if (!o.user_agent.empty() && !r.headers.Has("User-Agent")) {
    req.set(bhttp::field::user_agent, o.user_agent);
  }
  for (const auto& [name, value] : r.headers) {
    if (EqualsIgnoreCase(name, "Host") || EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    req.insert(name, value);
  }
  req.body() = r.body;
  req.prepare_payload();
  return req;
}

Headers ToHeaders(const bhttp::fields& fields) {
  Headers h;
  for (const auto& f : fields) h.Add(std::string(f.name_string()), std::string(f.value()));
  return h;
}

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  net::any_io_executor executor;
  ClientOptions options;
  std::shared_ptr<net::ssl::context> tls;  // null until an https URL needs it
  Status tls_status;

  mutable std::mutex mu;
  std::map<std::string, std::vector<ConnectionPtr>> idle;  // GUARDED_BY(mu)

  ConnectionPtr TakeIdle(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto now = Clock::now();
    while (!it->second.empty()) {
      ConnectionPtr c = std::move(it->second.back());
      it->second.pop_back();
      if (now - c->idle_since < options.idle_connection_timeout) {
        c->reused = true;
        return c;
      }
    }
    return nullptr;
  }

  void PutIdle(ConnectionPtr c) {
    c->idle_since = Clock::now();
    std::lock_guard<std::mutex> lock(mu);
    auto& list = idle[c->key];
    if (list.size() < options.max_idle_connections_per_host) list.push_back(std::move(c));
  }

  net::awaitable<Result<ConnectionPtr>> Connect(Url url, Clock::time_point deadline);
  net::awaitable<Result<ClientResponse>> SendOnce(ClientRequest req, Url url);
  net::awaitable<Result<ClientResponse>> Send(ClientRequest req);
  net::awaitable<Result<std::unique_ptr<ResponseStream>>> OpenStream(ClientRequest req);
};

net::awaitable<Result<ConnectionPtr>> Client::Impl::Connect(Url url, Clock::time_point deadline) {
  auto conn = std::make_shared<Connection>();
  conn->key = PoolKey(url);
  conn->tls = url.scheme == "https";
  auto strand = net::make_strand(executor);
  tcp::resolver resolver(strand);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), kToken);
  if (rec) co_return Status::Unavailable("resolve " + url.host + ": " + rec.message());
  beast::tcp_stream stream(strand);
  stream.expires_at(std::min(deadline, Clock::now() + options.connect_timeout));
  auto [cec, ep] = co_await stream.async_connect(endpoints, kToken);
  if (cec) co_return FromError(cec, "connect " + url.host + ":" + std::to_string(url.port));
  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  if (!conn->tls) {
    conn->plain.emplace(std::move(stream));
    co_return conn;
  }
  if (!tls_status.ok()) co_return tls_status;
  conn->secure.emplace(std::move(stream), *tls);
  MINI8S_CO_RETURN_IF_ERROR(
      detail::ConfigureClientSsl(conn->secure->native_handle(), url.host, options));
  conn->Lowest().expires_at(deadline);
  auto [hec] = co_await conn->secure->async_handshake(net::ssl::stream_base::client, kToken);
  if (hec) co_return FromError(hec, "TLS handshake with " + url.host);
  co_return conn;
}

namespace {

struct ExchangeOutcome {
  bool wrote = false;
  bool got_response_bytes = false;
  bool keep_alive = false;
};

template <class S>
net::awaitable<Result<ClientResponse>> DoExchange(S* stream, Connection* conn,
                                                  detail::BeastRequest* req, std::size_t limit,
                                                  Clock::time_point deadline,
                                                  ExchangeOutcome* outcome) {
  conn->Lowest().expires_at(deadline);
  auto [wec, wn] = co_await bhttp::async_write(*stream, *req, kToken);
  if (wec) co_return FromError(wec, "write request");
  outcome->wrote = true;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kResponseHeaderLimit);
  parser.body_limit(limit);
  if (req->method() == bhttp::verb::head) parser.skip(true);
  conn->Lowest().expires_at(deadline);
  std::size_t before = conn->buffer.size();
  auto [rec, rn] = co_await bhttp::async_read(*stream, conn->buffer, parser, kToken);
  outcome->got_response_bytes = rn > 0 || conn->buffer.size() > before || parser.got_some();
  if (rec) co_return FromError(rec, "read response");
  auto res = parser.release();
  outcome->keep_alive = res.keep_alive();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.reason = std::string(res.reason());
  out.headers = ToHeaders(res);
  out.body = std::move(res.body());
  co_return out;
}

}  // namespace

net::awaitable<Result<ClientResponse>> Client::Impl::SendOnce(ClientRequest req, Url url) {
  auto timeout = req.timeout.count() > 0 ? req.timeout : options.request_timeout;
  auto deadline = Clock::now() + timeout;
  detail::BeastRequest breq = MakeBeastRequest(req, url, options);
  for (int attempt = 0;; ++attempt) {
    ConnectionPtr conn = TakeIdle(PoolKey(url));
    if (!conn) {
      MINI8S_CO_ASSIGN_OR_RETURN(conn, co_await Connect(url, deadline));
    }
    ExchangeOutcome outcome;
    // No co_await inside ?: here: GCC 12 miscompiles coroutine temporaries in conditional
    // expressions (double destruction of the result).
    std::optional<Result<ClientResponse>> exchanged;
    if (conn->tls) {
      exchanged.emplace(co_await DoExchange(&*conn->secure, conn.get(), &breq,
                                            options.max_response_body_bytes, deadline, &outcome));
    } else {
      exchanged.emplace(co_await DoExchange(&*conn->plain, conn.get(), &breq,
                                            options.max_response_body_bytes, deadline, &outcome));
    }
    Result<ClientResponse> result = std::move(*exchanged);
    if (result.ok()) {
      if (outcome.keep_alive) {
        PutIdle(std::move(conn));
      } else {
        conn->CloseSocket();
      }
      co_return result;
    }
    conn->CloseSocket();
    // A pooled connection the server had already closed: retry once on a fresh one when nothing
    // was received and resending is safe (Go's net/http does the same).
    bool stale = conn->reused && !outcome.got_response_bytes &&
                 (!outcome.wrote || IsIdempotent(req.method)) &&
                 result.error().code() == Code::kUnavailable;
    if (!stale || attempt > 0) co_return result;
  }
}

net::awaitable<Result<ClientResponse>> Client::Impl::Send(ClientRequest req) {
  for (int redirects = 0;; ++redirects) {
    MINI8S_CO_ASSIGN_OR_RETURN(Url url, ParseUrl(req.url));
    MINI8S_CO_ASSIGN_OR_RETURN(ClientResponse res, co_await SendOnce(req, url));
    bool redirect = res.status == 301 || res.status == 302 || res.status == 303 ||
                    res.status == 307 || res.status == 308;
    auto location = res.headers.Get("Location");
    if (!options.follow_redirects || !redirect || !location) co_return res;
    if (redirects >= options.max_redirects) {
      co_return Status::Unavailable("stopped after " + std::to_string(redirects) + " redirects");
    }
    auto base = boost::urls::parse_uri(req.url);
    auto ref = boost::urls::parse_uri_reference(*location);
    if (!base || !ref) co_return Status::Invalid("bad redirect location \"" + *location + "\"");
    boost::urls::url next;
    if (!boost::urls::resolve(*base, *ref, next)) {
      co_return Status::Invalid("cannot resolve redirect \"" + *location + "\"");
    }
    next.remove_fragment();
    MINI8S_CO_ASSIGN_OR_RETURN(Url next_url, ParseUrl(next.buffer()));
    if (next_url.host != url.host || next_url.port != url.port || next_url.scheme != url.scheme) {
      // Credentials stay with the host they were meant for (registry blobs redirect to storage).
      req.headers.Remove("Authorization");
    }
    if (res.status == 303 || ((res.status == 301 || res.status == 302) && req.method == "POST")) {
      if (req.method != "HEAD") req.method = "GET";
      req.body.clear();
      req.headers.Remove("Content-Type");
    }
    req.url = std::string(next.buffer());
  }
}

namespace {

template <class S>
class ResponseStreamImpl final : public ResponseStream {
 public:
  ResponseStreamImpl(std::shared_ptr<Client::Impl> client, ConnectionPtr conn, S* stream)
      : client_(std::move(client)), conn_(std::move(conn)), stream_(stream) {
    parser_.header_limit(kResponseHeaderLimit);
    parser_.body_limit(boost::none);
  }
  ~ResponseStreamImpl() override {
    if (conn_) conn_->CloseSocket();
  }

  net::awaitable<Status> Start(detail::BeastRequest req, Clock::time_point deadline) {
    conn_->Lowest().expires_at(deadline);
    auto [wec, wn] = co_await bhttp::async_write(*stream_, req, kToken);
    if (wec) co_return FromError(wec, "write request");
    if (req.method() == bhttp::verb::head) parser_.skip(true);
    conn_->Lowest().expires_at(deadline);
    auto [rec, rn] = co_await bhttp::async_read_header(*stream_, conn_->buffer, parser_, kToken);
    if (rec) co_return FromError(rec, "read response header");
    conn_->Lowest().expires_never();
    const auto& res = parser_.get();
    status_ = static_cast<int>(res.result_int());
    reason_ = std::string(res.reason());
    headers_ = ToHeaders(res);
    co_return Status::OK();
  }

  int status() const override { return status_; }
  const std::string& reason() const override { return reason_; }
  const Headers& headers() const override { return headers_; }

  net::awaitable<Result<std::string>> ReadSome(std::size_t max_bytes) override {
    if (!pending_.empty()) {
      std::size_t n = std::min(max_bytes, pending_.size());
      std::string out = pending_.substr(0, n);
      pending_.erase(0, n);
      co_return out;
    }
    co_return co_await ReadBody(max_bytes);
  }

  net::awaitable<Result<std::optional<std::string>>> ReadLine(std::size_t max_line) override {
    for (;;) {
      std::size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        co_return std::optional<std::string>(std::move(line));
      }
      if (pending_.size() > max_line) {
        co_return Status::ResourceExhausted("line longer than " + std::to_string(max_line));
      }
      MINI8S_CO_ASSIGN_OR_RETURN(std::string more, co_await ReadBody(64 * 1024));
      if (more.empty()) {
        if (pending_.empty()) co_return std::optional<std::string>();
        co_return std::optional<std::string>(std::exchange(pending_, {}));
      }
      pending_ += more;
    }
  }

  net::awaitable<Result<std::string>> ReadAll() override {
    std::string out = std::exchange(pending_, {});
    for (;;) {
      MINI8S_CO_ASSIGN_OR_RETURN(std::string more, co_await ReadBody(64 * 1024));
      if (more.empty()) co_return out;
      out += more;
    }
  }

  void Close() override {
    if (!conn_) return;
    net::post(conn_->Lowest().get_executor(), [c = conn_] { c->CloseSocket(); });
  }

  void SetReadTimeout(std::chrono::milliseconds timeout) override { read_timeout_ = timeout; }

 private:
  net::awaitable<Result<std::string>> ReadBody(std::size_t max_bytes) {
    for (;;) {
      if (done_ || !conn_) co_return std::string();
      if (parser_.is_done()) {
        done_ = true;
        if (parser_.get().keep_alive()) {
          client_->PutIdle(std::move(conn_));
        } else {
          conn_->CloseSocket();
          conn_.reset();
        }
        co_return std::string();
      }
      // One uninitialized scratch buffer per stream: a fresh zero-filled string of max_bytes
      // per read cost a third of an image pull's CPU time.
      if (scratch_size_ < max_bytes) {
        scratch_.reset(new char[max_bytes]);
        scratch_size_ = max_bytes;
      }
      parser_.get().body().data = scratch_.get();
      parser_.get().body().size = max_bytes;
      parser_.get().body().more = true;
      if (read_timeout_.count() > 0) {
        conn_->Lowest().expires_after(read_timeout_);
      } else {
        conn_->Lowest().expires_never();
      }
      auto [ec, n] = co_await bhttp::async_read_some(*stream_, conn_->buffer, parser_, kToken);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        conn_->CloseSocket();
        conn_.reset();
        co_return FromError(ec, "read response body");
      }
      std::string out(scratch_.get(), max_bytes - parser_.get().body().size);
      if (!out.empty()) co_return out;
    }
  }

  std::shared_ptr<Client::Impl> client_;
  ConnectionPtr conn_;
  S* stream_;
  bhttp::response_parser<bhttp::buffer_body> parser_;
  int status_ = 0;
  std::string reason_;
  Headers headers_;
  std::string pending_;
  std::unique_ptr<char[]> scratch_;
  std::size_t scratch_size_ = 0;
  bool done_ = false;
  std::chrono::milliseconds read_timeout_{0};
};

}  // namespace

net::awaitable<Result<std::unique_ptr<ResponseStream>>> Client::Impl::OpenStream(
    ClientRequest req) {
  MINI8S_CO_ASSIGN_OR_RETURN(Url url, ParseUrl(req.url));
  auto timeout = req.timeout.count() > 0 ? req.timeout : options.request_timeout;
  auto deadline = Clock::now() + timeout;
  // Streams take a fresh connection: a long watch should not inherit a half-dead pooled one.
  MINI8S_CO_ASSIGN_OR_RETURN(ConnectionPtr conn, co_await Connect(url, deadline));
  detail::BeastRequest breq = MakeBeastRequest(req, url, options);
  if (conn->tls) {
    auto* s = &*conn->secure;
    auto rs = std::make_unique<ResponseStreamImpl<detail::TlsStream>>(shared_from_this(),
                                                                      std::move(conn), s);
    MINI8S_CO_RETURN_IF_ERROR(co_await rs->Start(std::move(breq), deadline));
    co_return std::unique_ptr<ResponseStream>(std::move(rs));
  }
  auto* s = &*conn->plain;
  auto rs = std::make_unique<ResponseStreamImpl<detail::PlainStream>>(shared_from_this(),
                                                                      std::move(conn), s);
  MINI8S_CO_RETURN_IF_ERROR(co_await rs->Start(std::move(breq), deadline));
  co_return std::unique_ptr<ResponseStream>(std::move(rs));
}

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() { CloseIdleConnections(); }

Result<std::unique_ptr<Client>> Client::Create(net::any_io_executor executor,
                                               ClientOptions options) {
  auto impl = std::make_shared<Impl>();
  impl->executor = std::move(executor);
  impl->options = std::move(options);
  // Built eagerly so bad material is reported at once; an unusable system bundle only matters
  // for https URLs, so that failure is kept for later.
  auto ctx = detail::MakeClientTlsContext(impl->options);
  if (ctx) {
    impl->tls = std::move(ctx).value();
  } else {
    bool custom = !impl->options.ca_pem.empty() || !impl->options.ca_file.empty() ||
                  !impl->options.client_cert_pem.empty() || !impl->options.client_cert_file.empty();
    if (custom) return ctx.error();
    impl->tls_status = ctx.error();
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

net::awaitable<Result<ClientResponse>> Client::Send(ClientRequest request) {
  auto impl = impl_;
  co_return co_await impl->Send(std::move(request));
}

net::awaitable<Result<std::unique_ptr<ResponseStream>>> Client::OpenStream(ClientRequest request) {
  auto impl = impl_;
  co_return co_await impl->OpenStream(std::move(request));
}

net::awaitable<Result<std::shared_ptr<WebSocket>>> Client::ConnectWebSocket(
    ClientRequest request, std::vector<std::string> subprotocols, WebSocketHandlers handlers) {
  auto impl = impl_;
  MINI8S_CO_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  auto timeout = request.timeout.count() > 0 ? request.timeout : impl->options.request_timeout;
  auto deadline = Clock::now() + timeout;
  MINI8S_CO_ASSIGN_OR_RETURN(ConnectionPtr conn, co_await impl->Connect(url, deadline));
  detail::WebSocketClientParams params;
  params.host_header = HostHeader(url);
  params.target = url.target;
  params.headers = request.headers;
  if (!impl->options.user_agent.empty() && !params.headers.Has("User-Agent")) {
    params.headers.Set("User-Agent", impl->options.user_agent);
  }
  params.subprotocols = std::move(subprotocols);
  params.handlers = std::move(handlers);
  params.handshake_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (conn->tls) {
    co_return co_await detail::ConnectWebSocketOn<detail::TlsStream>(std::move(*conn->secure),
                                                                     std::move(params));
  }
  co_return co_await detail::ConnectWebSocketOn<detail::PlainStream>(std::move(*conn->plain),
                                                                     std::move(params));
}

void Client::CloseIdleConnections() {
  std::map<std::string, std::vector<ConnectionPtr>> idle;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    idle.swap(impl_->idle);
  }
  for (auto& [key, list] : idle) {
    for (auto& c : list) c->CloseSocket();
  }
}

std::size_t Client::idle_connection_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::size_t n = 0;
  for (const auto& [key, list] : impl_->idle) n += list.size();
  return n;
}

net::any_io_executor Client::executor() const { return impl_->executor; }

// ---- Blocking wrapper ----

struct BlockingClient::Impl {
  net::io_context ioc;
  std::unique_ptr<Client> client;

  template <class T>
  static net::awaitable<void> Capture(net::awaitable<Result<T>> op,
                                      std::shared_ptr<std::optional<Result<T>>> out) {
    out->emplace(co_await std::move(op));
  }

  template <class T>
  Result<T> Run(net::awaitable<Result<T>> op) {
    auto out = std::make_shared<std::optional<Result<T>>>();
    net::co_spawn(ioc, Capture<T>(std::move(op), out), [out](std::exception_ptr e) {
      if (e && !out->has_value()) out->emplace(Status::Internal("exception in the HTTP client"));
    });
    ioc.restart();
    while (!out->has_value()) {
      if (ioc.run_one() == 0) {
        if (!out->has_value()) return Status::Internal("HTTP client ran out of work");
      }
    }
    return std::move(**out);
  }
};

struct BlockingWebSocket::Inbox {
  std::deque<WebSocketMessage> messages;
  bool closed = false;
  uint16_t code = 0;
  std::string reason;
};

BlockingClient::BlockingClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlockingClient::~BlockingClient() {
  impl_->client.reset();
  impl_->ioc.restart();
  impl_->ioc.poll();
}

Result<std::unique_ptr<BlockingClient>> BlockingClient::Create(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  MINI8S_ASSIGN_OR_RETURN(impl->client,
                          Client::Create(impl->ioc.get_executor(), std::move(options)));
  return std::unique_ptr<BlockingClient>(new BlockingClient(std::move(impl)));
}

Result<ClientResponse> BlockingClient::Send(ClientRequest request) {
  return impl_->Run(impl_->client->Send(std::move(request)));
}

Result<ClientResponse> BlockingClient::Get(std::string url) {
  ClientRequest r;
  r.url = std::move(url);
  return Send(std::move(r));
}

Result<std::unique_ptr<BlockingResponseStream>> BlockingClient::OpenStream(ClientRequest request) {
  MINI8S_ASSIGN_OR_RETURN(auto stream, impl_->Run(impl_->client->OpenStream(std::move(request))));
  return std::make_unique<BlockingResponseStream>(impl_.get(), std::move(stream));
}

Result<std::unique_ptr<BlockingWebSocket>> BlockingClient::ConnectWebSocket(
    ClientRequest request, std::vector<std::string> subprotocols) {
  auto inbox = std::make_shared<BlockingWebSocket::Inbox>();
  WebSocketHandlers handlers;
  handlers.on_message = [inbox](WebSocketMessage m) { inbox->messages.push_back(std::move(m)); };
  handlers.on_close = [inbox](uint16_t code, std::string reason) {
    inbox->closed = true;
    inbox->code = code;
    inbox->reason = std::move(reason);
  };
  MINI8S_ASSIGN_OR_RETURN(auto ws, impl_->Run(impl_->client->ConnectWebSocket(
                                       std::move(request), std::move(subprotocols), handlers)));
  return std::make_unique<BlockingWebSocket>(impl_.get(), std::move(ws), std::move(inbox));
}

Client& BlockingClient::async_client() { return *impl_->client; }

BlockingResponseStream::BlockingResponseStream(BlockingClient::Impl* owner,
                                               std::unique_ptr<ResponseStream> stream)
    : owner_(owner), stream_(std::move(stream)) {}

BlockingResponseStream::~BlockingResponseStream() {
  stream_.reset();
  owner_->ioc.restart();
  owner_->ioc.poll();
}

Result<std::optional<std::string>> BlockingResponseStream::ReadLine() {
  return owner_->Run(stream_->ReadLine());
}

Result<std::string> BlockingResponseStream::ReadAll() { return owner_->Run(stream_->ReadAll()); }

BlockingWebSocket::BlockingWebSocket(BlockingClient::Impl* owner, std::shared_ptr<WebSocket> ws,
                                     std::shared_ptr<Inbox> inbox)
    : owner_(owner), ws_(std::move(ws)), inbox_(std::move(inbox)) {}

BlockingWebSocket::~BlockingWebSocket() {
  if (!inbox_->closed) ws_->Abort();
  ws_.reset();
  owner_->ioc.restart();
  owner_->ioc.poll();
}

Result<WebSocketMessage> BlockingWebSocket::Receive(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  owner_->ioc.restart();
  while (inbox_->messages.empty() && !inbox_->closed) {
    if (Clock::now() >= deadline) return Status::Timeout("no WebSocket message");
    if (owner_->ioc.run_one_until(deadline) == 0 && owner_->ioc.stopped()) {
      owner_->ioc.restart();
      if (inbox_->messages.empty() && !inbox_->closed && Clock::now() < deadline) {
        return Status::Unavailable("WebSocket has no pending work");
      }
    }
  }
  if (!inbox_->messages.empty()) {
    WebSocketMessage m = std::move(inbox_->messages.front());
    inbox_->messages.pop_front();
    return m;
  }
  return Status::Cancelled("WebSocket closed with code " + std::to_string(inbox_->code));
}

uint16_t BlockingWebSocket::Close(uint16_t code) {
  ws_->Close(code);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  owner_->ioc.restart();
  while (!inbox_->closed && Clock::now() < deadline) {
    if (owner_->ioc.run_one_until(deadline) == 0 && owner_->ioc.stopped()) break;
  }
  return inbox_->code;
}

}  // namespace mini8s::http
