#include "mini8s/http/message.h"

#include <algorithm>
#include <cctype>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

namespace mini8s::http {

namespace urls = boost::urls;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
}

bool Headers::Has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.first, name)) return f.second;
  }
  return std::nullopt;
}

std::string Headers::GetOr(std::string_view name, std::string_view fallback) const {
  auto v = Get(name);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> Headers::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.first, name)) out.push_back(f.second);
  }
  return out;
}

std::vector<std::string> Headers::GetTokens(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : fields_) {
    if (!EqualsIgnoreCase(f.first, name)) continue;
    std::string_view v = f.second;
    while (!v.empty()) {
      std::size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HttpRequest::QueryParams(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

Result<Url> ParseUrl(std::string_view url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed) return Status::Invalid("invalid URL \"" + std::string(url) + "\"");
  urls::url_view u = *parsed;
  Url out;
  out.scheme = std::string(u.scheme());
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (out.scheme != "http" && out.scheme != "https") {
    return Status::Invalid("unsupported URL scheme \"" + out.scheme + "\"");
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    return Status::Invalid("URL without a host: \"" + std::string(url) + "\"");
  }
  if (u.host_type() == urls::host_type::ipv6) {
    out.host = std::string(u.encoded_host_address());
  } else {
    out.host = u.host();
  }
  if (u.has_port()) {
    if (u.port_number() == 0)
      return Status::Invalid("invalid port in \"" + std::string(url) + "\"");
    out.port = u.port_number();
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) {
    out.target += '?';
    out.target += std::string(u.encoded_query());
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  // Boost.URL validates the characters; the pieces are split here because iterating its params
  // view crashed on some invalid-but-accepted inputs (found by the http_request fuzz target).
  if (!urls::parse_query(query)) return Status::Invalid("invalid query string");
  // Go's url.ParseQuery (what clients are written against) reads '+' as a space.
  urls::encoding_opts opt;
  opt.space_as_plus = true;
  auto decode = [&](std::string_view s) -> Result<std::string> {
    auto pct = urls::make_pct_string_view(s);
    if (!pct) return Status::Invalid("invalid query string");
    return pct->decode(opt);
  };
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    std::string_view piece =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    start = amp == std::string_view::npos ? query.size() + 1 : amp + 1;
    if (piece.empty()) continue;  // "a=1&&b=2"
    std::size_t eq = piece.find('=');
    MINI8S_ASSIGN_OR_RETURN(std::string key, decode(piece.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      MINI8S_ASSIGN_OR_RETURN(value, decode(piece.substr(eq + 1)));
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<std::string> DecodePath(std::string_view path) {
  auto pct = urls::make_pct_string_view(path);
  if (!pct) return Status::Invalid("invalid percent-encoding in path");
  return pct->decode();
}

std::string EncodeQueryComponent(std::string_view s) {
  return urls::encode(s, urls::unreserved_chars);
}

}  // namespace mini8s::http
