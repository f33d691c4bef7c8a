// WebSocket: a message-based connection after a successful upgrade, on either side (server
// sessions accepted through Responder::AcceptWebSocket, client connections from
// Client::ConnectWebSocket). The protocol logic on top (v5.channel.k8s.io channels, SPDY tunnels)
// lives with its users; this is only framing, ping/pong and close.
//
// Thread-safe: Send and Close may be called from any thread; both post to the connection's strand.
// Callbacks in WebSocketHandlers run on that strand, one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mini8s::http {

struct WebSocketMessage {
  std::string data;
  bool binary = false;  // opcode 2 (binary) or 1 (text)
};

class WebSocket {
 public:
  virtual ~WebSocket() = default;

  // The subprotocol both sides agreed on ("" if none).
  virtual const std::string& subprotocol() const = 0;
  // Queues one message; messages go out in the order queued. Dropped after Close or on a dead
  // connection (on_close tells when that happened).
  virtual void Send(std::string data, bool binary) = 0;
  // Sends a close frame after the queued messages and ends the connection. Idempotent.
  virtual void Close(uint16_t code = 1000, std::string reason = {}) = 0;
  // Closes the transport at once without a close handshake (used for teardown).
  virtual void Abort() = 0;
  // Bytes queued and not yet written: lets a producer notice a slow consumer.
  virtual std::size_t queued_bytes() const = 0;
};

struct WebSocketHandlers {
  // Called once the upgrade completed, before any on_message. The pointer stays valid for as long
  // as it is held; the connection lives until closed even if nobody holds it.
  std::function<void(std::shared_ptr<WebSocket>)> on_open;
  std::function<void(WebSocketMessage)> on_message;
  // Called exactly once when the connection ends (close frame, error or Abort). `code` is the
  // peer's close code, or 1006 when the connection dropped without one.
  std::function<void(uint16_t code, std::string reason)> on_close;
};

}  // namespace mini8s::http
