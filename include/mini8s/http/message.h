// Plain HTTP message types shared by the server and the client. No Beast or Asio types appear
// here, so any module can include this header cheaply (STYLE §3.7).
// All types are values; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::http {

// An ordered list of header fields with case-insensitive names. Field order and duplicates are
// preserved (Set-Cookie, X-Stream-Protocol-Version may repeat). Lookups are linear: messages carry
// a few dozen fields at most.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // Appends a field, keeping any existing one with the same name.
  void Add(std::string name, std::string value);
  // Replaces every field named `name` with one field.
  void Set(std::string name, std::string value);
  // Removes every field named `name`.
  void Remove(std::string_view name);
  bool Has(std::string_view name) const;
  // The first value of `name`, or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  // The first value of `name`, or "" when absent.
  std::string GetOr(std::string_view name, std::string_view fallback = {}) const;
  // Every value of `name`, in order.
  std::vector<std::string> GetAll(std::string_view name) const;
  // Every value of `name`, with comma-separated lists split and trimmed
  // (`Sec-WebSocket-Protocol: a, b` and two `Sec-WebSocket-Protocol` fields give {a, b}).
  std::vector<std::string> GetTokens(std::string_view name) const;

  const std::vector<Field>& fields() const { return fields_; }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive comparison, as HTTP field names and tokens need.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// What the server learned from the TLS layer of a connection.
struct TlsPeerInfo {
  std::string protocol;  // "TLSv1.3" or "TLSv1.2"
  std::string alpn;      // negotiated ALPN protocol, "" if none
  // The certificates the client presented, leaf first, PEM-encoded. Empty if it sent none.
  std::vector<std::string> certificate_chain_pem;
  // True when a certificate was presented and it verified against the configured client CA.
  // With "request but not require" the handshake fails on a certificate that does not verify, so
  // a non-empty chain normally means verified; the flag states it explicitly.
  bool certificate_verified = false;
};

// One request as the server hands it to a handler.
struct HttpRequest {
  std::string method;     // "GET", "POST", ... as sent
  std::string target;     // raw request-target: "/api/v1/pods?limit=500"
  std::string path;       // percent-decoded path: "/api/v1/pods"
  std::string raw_query;  // undecoded query string without '?': "limit=500"
  // Decoded query parameters in order; repeated keys repeat (command=ls&command=-la).
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string body;
  int version = 11;  // 10 or 11
  bool keep_alive = true;
  // True for a valid WebSocket upgrade request (GET, Upgrade: websocket, key and version 13).
  bool websocket_upgrade = false;
  std::string remote_address;      // "127.0.0.1:54321"
  std::optional<TlsPeerInfo> tls;  // nullopt on a plain-HTTP connection

  // The first value of query parameter `name`.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // Every value of query parameter `name`, in order.
  std::vector<std::string> QueryParams(std::string_view name) const;
};

// A whole response. The server adds Content-Length, Date and Connection itself.
struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

// The reason phrase for a status code ("Not Found"); "" for unknown codes.
std::string_view ReasonPhrase(int status);

// A parsed absolute http or https URL.
struct Url {
  std::string scheme;  // "http" or "https", lower-case
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // explicit or the scheme default
  std::string target;  // path and query, "/" when empty: the request-target to send
};

// Parses an absolute http(s) URL. kInvalid for anything else.
Result<Url> ParseUrl(std::string_view url);

// Splits a query string ("a=1&b=x%20y") into decoded key/value pairs. kInvalid on bad escapes.
Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

// Percent-decodes a path. kInvalid on bad escapes.
Result<std::string> DecodePath(std::string_view path);

// Percent-encodes a query component (RFC 3986 unreserved characters stay as they are).
std::string EncodeQueryComponent(std::string_view s);

}  // namespace mini8s::http
