// Fuzz target: HTTP request decoding without sockets. The server's session feeds the bytes it reads
// to Beast's request parser with its header and body limits and then converts the message
// (ToHttpRequest in src/http/server.cpp, file-local, so its steps are repeated here): the target
// must be origin-form, its path is percent-decoded (DecodePath) and its query split and decoded
// (ParseQuery). ParseUrl, the client's URL decoder, gets the target too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "mini8s/http/message.h"

namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(64 * 1024);  // ServerOptions' defaults are larger; small keeps runs fast
  parser.body_limit(1024 * 1024);
  boost::beast::error_code ec;
  std::size_t used = 0;
  // Feed the first half, then the rest, as reads split arbitrarily; put consumes what it can.
  std::size_t limit = size / 2;
  while (!ec && !parser.is_done()) {
    std::size_t n = parser.put(boost::asio::buffer(data + used, limit - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) ec = {};
    if (n == 0) {
      if (limit == size) break;
      limit = size;
    }
  }
  // put_eof asserts that some input was consumed (Beast debug builds), as a socket read would.
  if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
  std::string_view target;
  std::string target_copy;
  if (!ec && parser.is_done()) {
    target_copy = std::string(parser.get().target());
    target = target_copy;
  } else {
    // Malformed messages still exercise the target decoders with the raw first line.
    target = std::string_view(reinterpret_cast<const char*>(data), size);
    target = target.substr(0, target.find('\n'));
  }
  std::size_t q = target.find('?');
  (void)mini8s::http::DecodePath(target.substr(0, q));
  if (q != std::string_view::npos) (void)mini8s::http::ParseQuery(target.substr(q + 1));
  (void)mini8s::http::ParseUrl(target);
  return 0;
}
