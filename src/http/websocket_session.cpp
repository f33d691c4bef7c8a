#include "http/websocket_session.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "mini8s/common/logging.h"

namespace mini8s::http::detail {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;

constexpr auto kToken = net::as_tuple(net::use_awaitable);

// One WebSocket connection: a read loop (run by the owner) and a write loop (spawned) on the
// stream's strand. Send/Close/Abort post to that strand.
template <class Stream>
class WsConnection final : public WebSocket,
                           public std::enable_shared_from_this<WsConnection<Stream>> {
 public:
  WsConnection(websocket::stream<Stream> ws, std::string subprotocol, WebSocketHandlers handlers)
      : ws_(std::move(ws)),
        subprotocol_(std::move(subprotocol)),
        handlers_(std::move(handlers)),
        wake_(ws_.get_executor()) {}

  const std::string& subprotocol() const override { return subprotocol_; }

  void Send(std::string data, bool binary) override {
    queued_ += data.size();
    net::post(ws_.get_executor(),
              [self = this->shared_from_this(), data = std::move(data), binary]() mutable {
                if (self->closed_ || self->close_requested_) {
                  self->queued_ -= data.size();
                  return;
                }
                self->out_.emplace_back(std::move(data), binary);
                self->wake_.cancel();
              });
  }

  void Close(uint16_t code, std::string reason) override {
    net::post(ws_.get_executor(),
              [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
                if (self->close_requested_ || self->closed_) return;
                self->close_requested_ = true;
                self->close_reason_.code = code;
                self->close_reason_.reason = reason;
                self->wake_.cancel();
              });
  }

  void Abort() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      boost::system::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  std::size_t queued_bytes() const override { return queued_.load(); }
  net::any_io_executor executor() { return ws_.get_executor(); }

  // Starts the writer and calls on_open; then reads until the connection ends and calls on_close.
  net::awaitable<void> Run() {
    auto self = this->shared_from_this();
    net::co_spawn(ws_.get_executor(), WriteLoop(self), [](std::exception_ptr e) {
      if (e) MINI8S_LOG(ERROR) << "websocket writer failed with an exception";
    });
    if (handlers_.on_open) handlers_.on_open(self);
    beast::flat_buffer buffer;
    uint16_t code = 1006;
    std::string reason;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kToken);
      if (ec) {
        if (ec == websocket::error::closed) {
          code = ws_.reason().code;
          reason = std::string(ws_.reason().reason.c_str());
        } else if (close_sent_ok_) {
          code = close_reason_.code;
        }
        break;
      }
      WebSocketMessage msg{beast::buffers_to_string(buffer.data()), ws_.got_binary()};
      buffer.consume(n);
      if (handlers_.on_message) handlers_.on_message(std::move(msg));
    }
    closed_ = true;
    out_.clear();
    queued_ = 0;
    wake_.cancel();
    if (handlers_.on_close) handlers_.on_close(code, std::move(reason));
    // Drop the callbacks: they often capture the shared_ptr to this connection.
    handlers_ = {};
  }

 private:
  static net::awaitable<void> WriteLoop(std::shared_ptr<WsConnection> self) {
    for (;;) {
      while (!self->out_.empty() && !self->closed_) {
        auto& [data, binary] = self->out_.front();
        self->ws_.binary(binary);
        auto [ec, n] = co_await self->ws_.async_write(net::buffer(data), kToken);
        self->queued_ -= std::min(self->queued_.load(), data.size());
        if (!self->out_.empty()) self->out_.pop_front();
        if (ec) {
          boost::system::error_code ignored;
          beast::get_lowest_layer(self->ws_).socket().close(ignored);
          co_return;
        }
      }
      if (self->closed_) co_return;
      if (self->close_requested_) {
        auto [ec] = co_await self->ws_.async_close(self->close_reason_, kToken);
        self->close_sent_ok_ = !ec;
        if (ec) {
          boost::system::error_code ignored;
          beast::get_lowest_layer(self->ws_).socket().close(ignored);
        }
        co_return;
      }
      self->wake_.expires_at(net::steady_timer::time_point::max());
      co_await self->wake_.async_wait(kToken);
    }
  }

  websocket::stream<Stream> ws_;
  std::string subprotocol_;
  WebSocketHandlers handlers_;
  net::steady_timer wake_;  // the writer waits on it; cancel() wakes it
  std::deque<std::pair<std::string, bool>> out_;
  std::atomic<std::size_t> queued_{0};
  bool closed_ = false;
  bool close_requested_ = false;
  bool close_sent_ok_ = false;
  websocket::close_reason close_reason_;
};

}  // namespace

template <class Stream>
net::awaitable<void> ServeWebSocket(Stream stream, BeastRequest request,
                                    WebSocketServerParams params) {
  websocket::stream<Stream> ws(std::move(stream));
  // The websocket layer has its own timeouts (handshake, idle with keep-alive pings), which also
  // catch half-open peers; the tcp_stream's own timer must not interfere.
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(params.max_message_bytes);
  std::string proto = params.subprotocol;
  std::string server = params.server_header;
  ws.set_option(websocket::stream_base::decorator([proto, server](websocket::response_type& res) {
    if (!proto.empty()) res.set(bhttp::field::sec_websocket_protocol, proto);
    if (!server.empty()) res.set(bhttp::field::server, server);
  }));
  auto [ec] = co_await ws.async_accept(request, kToken);
  if (ec) {
    MINI8S_VLOG(2) << "websocket accept failed: " << ec.message();
    if (params.handlers.on_close) params.handlers.on_close(1006, ec.message());
    co_return;
  }
  auto conn = std::make_shared<WsConnection<Stream>>(std::move(ws), params.subprotocol,
                                                     std::move(params.handlers));
  if (params.on_created) params.on_created(conn);
  co_await conn->Run();
}

template <class Stream>
net::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocketOn(
    Stream stream, WebSocketClientParams params) {
  websocket::stream<Stream> ws(std::move(stream));
  beast::get_lowest_layer(ws).expires_never();
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
  timeouts.handshake_timeout = params.handshake_timeout;
  ws.set_option(timeouts);
  ws.read_message_max(params.max_message_bytes);
  std::string offered;
  for (const auto& p : params.subprotocols) {
    if (!offered.empty()) offered += ", ";
    offered += p;
  }
  Headers extra = params.headers;
  ws.set_option(websocket::stream_base::decorator([offered, extra](websocket::request_type& req) {
    for (const auto& [name, value] : extra) req.insert(name, value);
    if (!offered.empty()) req.set(bhttp::field::sec_websocket_protocol, offered);
  }));
  websocket::response_type res;
  auto [ec] = co_await ws.async_handshake(res, params.host_header, params.target, kToken);
  if (ec) {
    if (ec == websocket::error::upgrade_declined) {
      co_return Status::Unavailable("websocket upgrade declined with HTTP " +
                                    std::to_string(res.result_int()) + ": " + res.body());
    }
    co_return Status::Unavailable("websocket handshake: " + ec.message());
  }
  std::string chosen(res[bhttp::field::sec_websocket_protocol]);
  if (!chosen.empty() && std::find(params.subprotocols.begin(), params.subprotocols.end(),
                                   chosen) == params.subprotocols.end()) {
    co_return Status::Unavailable("server chose a subprotocol that was not offered: " + chosen);
  }
  auto conn =
      std::make_shared<WsConnection<Stream>>(std::move(ws), chosen, std::move(params.handlers));
  net::co_spawn(conn->executor(), conn->Run(), [](std::exception_ptr e) {
    if (e) MINI8S_LOG(ERROR) << "websocket reader failed with an exception";
  });
  co_return std::static_pointer_cast<WebSocket>(conn);
}

template net::awaitable<void> ServeWebSocket<PlainStream>(PlainStream, BeastRequest,
                                                          WebSocketServerParams);
template net::awaitable<void> ServeWebSocket<TlsStream>(TlsStream, BeastRequest,
                                                        WebSocketServerParams);
template net::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocketOn<PlainStream>(
    PlainStream, WebSocketClientParams);
template net::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocketOn<TlsStream>(
    TlsStream, WebSocketClientParams);

}  // namespace mini8s::http::detail
