#include "mini8s/common/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <unordered_set>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace mini8s {
namespace {

namespace bj = boost::json;

constexpr std::size_t kMaxReportedDuplicates = 1000;

// Line and column (both 1-based, column in bytes) of byte offset `pos` in `text`.
std::pair<std::size_t, std::size_t> LineColumn(std::string_view text, std::size_t pos) {
  std::size_t line = 1;
  std::size_t col = 1;
  for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

Status PositionedError(std::string_view text, std::size_t pos, const std::string& problem) {
  auto [line, col] = LineColumn(text, pos);
  return Status::BadRequest("line " + std::to_string(line) + ", column " + std::to_string(col) +
                            ": " + problem);
}

// One open container while parsing, for duplicate-key paths and detection.
struct Frame {
  bool is_object = false;
  std::size_t index = 0;  // arrays: index of the next element
  std::string key;        // objects: the key whose value is being parsed
  std::unordered_set<std::string> keys;
};

// SAX handler that builds the value through Boost's value_stack (exactly what boost::json::parser
// does) while tracking the path, so duplicate keys can be reported by path.
class Handler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit Handler(const JsonParseOptions& options) : options_(options) {}

  bool on_document_begin(bj::error_code&) {
    st_.reset();
    return true;
  }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_array_begin(bj::error_code&) {
    frames_.push_back(Frame{});
    return true;
  }
  bool on_array_end(std::size_t n, bj::error_code&) {
    frames_.pop_back();
    st_.push_array(n);
    ValueDone();
    return true;
  }
  bool on_object_begin(bj::error_code&) {
    Frame f;
    f.is_object = true;
    frames_.push_back(std::move(f));
    return true;
  }
  bool on_object_end(std::size_t n, bj::error_code&) {
    frames_.pop_back();
    st_.push_object(n);
    ValueDone();
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    st_.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    st_.push_string(s);
    ValueDone();
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    st_.push_chars(s);
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code& ec) {
    st_.push_key(s);
    key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    if (!f.keys.insert(key_).second) {
      // A hostile body can repeat a key at depth d hundreds of thousands of times; building a
      // d-segment path for each is quadratic in time and memory, so only the first
      // kMaxReportedDuplicates are reported (the apiserver truncates warnings long before that).
      if (!options_.reject_duplicate_keys &&
          (options_.duplicate_fields == nullptr ||
           options_.duplicate_fields->size() >= kMaxReportedDuplicates)) {
        f.key = std::move(key_);
        key_.clear();
        return true;
      }
      std::string path = PathTo(key_);
      if (options_.reject_duplicate_keys) {
        error_ = "duplicate field \"" + path + "\"";
        ec = bj::error::syntax;  // any failure code stops the parser; error_ carries the text
        return false;
      }
      if (options_.duplicate_fields != nullptr) options_.duplicate_fields->push_back(path);
    }
    f.key = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_number_part(bj::string_view, bj::error_code&) { return true; }
  bool on_int64(int64_t i, bj::string_view, bj::error_code&) {
    st_.push_int64(i);
    ValueDone();
    return true;
  }
  bool on_uint64(uint64_t u, bj::string_view, bj::error_code&) {
    st_.push_uint64(u);
    ValueDone();
    return true;
  }
  bool on_double(double d, bj::string_view, bj::error_code& ec) {
    if (!std::isfinite(d)) {
      error_ = "number out of range";
      ec = bj::error::exponent_overflow;
      return false;
    }
    st_.push_double(d);
    ValueDone();
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    st_.push_bool(b);
    ValueDone();
    return true;
  }
  bool on_null(bj::error_code&) {
    st_.push_null();
    ValueDone();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

  bj::value Release() { return st_.release(); }
  const std::string& error() const { return error_; }

 private:
  void ValueDone() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
  }
  // "a.b[2].c" for the key `last` inside the current frames.
  std::string PathTo(const std::string& last) const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.is_object) {
        if (!path.empty()) path += '.';
        path += f.key;
      } else {
        path += '[' + std::to_string(f.index) + ']';
      }
    }
    if (!path.empty()) path += '.';
    path += last;
    return path;
  }

  const JsonParseOptions& options_;
  bj::value_stack st_;
  std::vector<Frame> frames_;
  std::string key_;
  std::string error_;
};

std::string DescribeError(const bj::error_code& ec, std::string_view text, std::size_t pos) {
  std::string msg;
  if (ec == bj::error::too_deep) {
    msg = "nesting too deep";
  } else if (ec == bj::error::incomplete) {
    msg = "unexpected end of JSON input";
  } else if (ec == bj::error::extra_data) {
    msg = "invalid character after top-level value";
  } else {
    msg = ec.message();
  }
  if (pos < text.size() && ec != bj::error::incomplete) {
    unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c >= 0x20 && c < 0x7f) {
      msg += std::string(" near '") + static_cast<char>(c) + "'";
    }
  }
  return msg;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// --- Go float formatting ------------------------------------------------------------------------

// The shortest decimal digits of |v| and the position of the decimal point relative to them
// (value = 0.d1d2d3... * 10^point), as Go's strconv computes them.
void ShortestDigits(double v, int bits, std::string& digits, int& point) {
  char buf[64];
  std::to_chars_result r;
  if (bits == 32) {
    r = std::to_chars(buf, buf + sizeof(buf), std::fabs(static_cast<float>(v)),
                      std::chars_format::scientific);
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  }
  std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  std::size_t e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  digits.clear();
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  point = exp + 1;
  if (digits == "0") point = 1;
}

std::string FormatE(bool neg, const std::string& d, int point) {
  std::string out = neg ? "-" : "";
  out += d[0];
  if (d.size() > 1) {
    out += '.';
    out.append(d, 1, std::string::npos);
  }
  int exp = d == "0" ? 0 : point - 1;
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int a = exp < 0 ? -exp : exp;
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

std::string FormatF(bool neg, const std::string& d, int point) {
  std::string out = neg ? "-" : "";
  int nd = static_cast<int>(d.size());
  if (point > 0) {
    for (int i = 0; i < point; ++i) out += i < nd ? d[i] : '0';
  } else {
    out += '0';
  }
  int frac = nd - point;
  if (frac > 0) {
    out += '.';
    for (int i = 0; i < frac; ++i) {
      int j = point + i;
      out += (j >= 0 && j < nd) ? d[j] : '0';
    }
  }
  return out;
}

// --- Serialization -----------------------------------------------------------------------------

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t Utf8Len(std::string_view s, std::size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  std::size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void AppendNumber(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case bj::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    default: {
      double d = v.get_double();
      // Go refuses to marshal NaN/Inf; we never produce them from parsing, and write null
      // rather than invalid JSON if a caller builds one.
      out += std::isfinite(d) ? FormatGoFloat(d, 'j') : "null";
      break;
    }
  }
}

void Write(std::string& out, const bj::value& v, int indent, int level) {
  auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent * lvl), ' ');
  };
  switch (v.kind()) {
    case bj::kind::null:
      out += "null";
      break;
    case bj::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      AppendNumber(out, v);
      break;
    case bj::kind::string:
      AppendJsonString(out, v.get_string());
      break;
    case bj::kind::array: {
      const bj::array& a = v.get_array();
      out += '[';
      bool first = true;
      for (const bj::value& e : a) {
        if (!first) out += ',';
        first = false;
        if (indent > 0) newline(level + 1);
        Write(out, e, indent, level + 1);
      }
      if (indent > 0 && !a.empty()) newline(level);
      out += ']';
      break;
    }
    case bj::kind::object: {
      const bj::object& o = v.get_object();
      out += '{';
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ',';
        first = false;
        if (indent > 0) newline(level + 1);
        AppendJsonString(out, kv.key());
        out += indent > 0 ? ": " : ":";
        Write(out, kv.value(), indent, level + 1);
      }
      if (indent > 0 && !o.empty()) newline(level);
      out += '}';
      break;
    }
  }
}

// Parses "[12]" at the start of `s` into idx; returns the characters consumed or 0.
std::size_t ParseIndex(std::string_view s, std::size_t& idx) {
  if (s.size() < 3 || s[0] != '[') return 0;
  std::size_t close = s.find(']');
  if (close == std::string_view::npos || close == 1) return 0;
  // More than 18 digits could wrap size_t into a small, valid-looking index.
  if (close > 19) return 0;
  std::size_t v = 0;
  for (std::size_t i = 1; i < close; ++i) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + static_cast<std::size_t>(s[i] - '0');
  }
  idx = v;
  return close + 1;
}

template <class V>
V* FindImpl(V& root, std::string_view path) {
  V* cur = &root;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      std::size_t idx = 0;
      std::size_t n = ParseIndex(path.substr(i), idx);
      if (n == 0 || !cur->is_array() || idx >= cur->get_array().size()) return nullptr;
      cur = &cur->get_array()[idx];
      i += n;
      if (i < path.size() && path[i] == '.') ++i;
      continue;
    }
    std::size_t end = path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view key = path.substr(i, end - i);
    if (!cur->is_object()) return nullptr;
    auto* obj = &cur->get_object();
    auto it = obj->find(key);
    if (it == obj->end()) return nullptr;
    cur = &it->value();
    i = end;
    if (i < path.size() && path[i] == '.') ++i;
  }
  return cur;
}

}  // namespace

Result<boost::json::value> ParseJson(std::string_view text, const JsonParseOptions& options) {
  bj::parse_options po;
  po.max_depth = options.max_depth;
  bj::basic_parser<Handler> p(po, options);
  bj::error_code ec;
  std::size_t n = 0;
  try {
    n = p.write_some(false, text.data(), text.size(), ec);
  } catch (const std::exception& e) {
    return Status::BadRequest(std::string("json: ") + e.what());
  }
  if (ec) {
    if (!p.handler().error().empty()) {
      // Our own check failed on the token just consumed.
      std::size_t at = n > 0 ? n - 1 : 0;
      return PositionedError(text, at, p.handler().error());
    }
    return PositionedError(text, n, DescribeError(ec, text, n));
  }
  for (std::size_t i = n; i < text.size(); ++i) {
    if (!IsJsonSpace(text[i])) {
      return PositionedError(text, i, DescribeError(bj::error::extra_data, text, i));
    }
  }
  if (!p.done()) return PositionedError(text, text.size(), "unexpected end of JSON input");
  return p.handler().Release();
}

std::string SerializeJson(const boost::json::value& v) {
  std::string out;
  Write(out, v, 0, 0);
  return out;
}

std::string PrettyJson(const boost::json::value& v) {
  std::string out;
  Write(out, v, 4, 0);
  return out;
}

namespace {

// Printable ASCII that Go's encoder writes as is (everything but '"', '\\', '<', '>', '&').
constexpr bool PlainAscii(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // Runs that need no escaping are appended at once: strings are mostly plain ASCII, and a
    // character at a time made serialization a visible share of every write's CPU.
    std::size_t run = i;
    while (run < s.size() && PlainAscii(static_cast<unsigned char>(s[run]))) ++run;
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '<':
        case '>':
        case '&':
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t n = Utf8Len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    // U+2028 and U+2029 are valid JSON but break JavaScript; Go escapes them.
    if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      out += (static_cast<unsigned char>(s[i + 2]) == 0xA8) ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
}

std::string FormatGoFloat(double v, char fmt, int bits) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v) || (bits == 32 && std::isinf(static_cast<float>(v)))) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  bool neg = std::signbit(v);
  std::string d;
  int point = 0;
  ShortestDigits(v, bits, d, point);
  switch (fmt) {
    case 'e':
      return FormatE(neg, d, point);
    case 'f':
      return FormatF(neg, d, point);
    case 'j': {
      double a = std::fabs(v);
      if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        std::string s = FormatE(neg, d, point);
        // Go's encoding/json trims "e-07" to "e-7".
        std::size_t n = s.size();
        if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
          s.erase(n - 2, 1);
        }
        return s;
      }
      return FormatF(neg, d, point);
    }
    default: {
      // Go's 'g' with shortest precision decides on an eprec of 6: %e when exp < -4 || exp >= 6.
      int exp = point - 1;
      int eprec = 6;
      if (d == "0") exp = 0;
      if (exp < -4 || exp >= eprec) return FormatE(neg, d, point);
      return FormatF(neg, d, point);
    }
  }
}

const boost::json::value* JsonFind(const boost::json::value& root, std::string_view path) {
  return FindImpl<const bj::value>(root, path);
}

boost::json::value* JsonFind(boost::json::value& root, std::string_view path) {
  return FindImpl<bj::value>(root, path);
}

const boost::json::value* JsonFindPointer(const boost::json::value& root,
                                          std::string_view pointer) {
  const bj::value* cur = &root;
  if (pointer.empty()) return cur;
  if (pointer[0] != '/') return nullptr;
  std::size_t i = 1;
  while (true) {
    std::size_t end = pointer.find('/', i);
    if (end == std::string_view::npos) end = pointer.size();
    std::string token;
    for (std::size_t k = i; k < end; ++k) {
      if (pointer[k] == '~' && k + 1 < end && (pointer[k + 1] == '0' || pointer[k + 1] == '1')) {
        token += pointer[k + 1] == '0' ? '~' : '/';
        ++k;
      } else {
        token += pointer[k];
      }
    }
    if (cur->is_object()) {
      auto it = cur->get_object().find(token);
      if (it == cur->get_object().end()) return nullptr;
      cur = &it->value();
    } else if (cur->is_array()) {
      if (token.empty() || token.size() > 18 ||
          token.find_first_not_of("0123456789") != std::string::npos ||
          (token.size() > 1 && token[0] == '0')) {
        return nullptr;
      }
      std::size_t idx = std::stoull(token);
      if (idx >= cur->get_array().size()) return nullptr;
      cur = &cur->get_array()[idx];
    } else {
      return nullptr;
    }
    if (end == pointer.size()) return cur;
    i = end + 1;
  }
}

std::optional<std::string_view> JsonGetString(const boost::json::value& root,
                                              std::string_view path) {
  const bj::value* v = JsonFind(root, path);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const bj::string& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

std::optional<int64_t> JsonGetInt(const boost::json::value& root, std::string_view path) {
  const bj::value* v = JsonFind(root, path);
  if (v == nullptr) return std::nullopt;
  switch (v->kind()) {
    case bj::kind::int64:
      return v->get_int64();
    case bj::kind::uint64:
      if (v->get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<int64_t>(v->get_uint64());
    case bj::kind::double_: {
      double d = v->get_double();
      if (!std::isfinite(d) || d != std::trunc(d) || d < -9223372036854775808.0 ||
          d >= 9223372036854775808.0) {
        return std::nullopt;
      }
      return static_cast<int64_t>(d);
    }
    default:
      return std::nullopt;
  }
}

std::optional<bool> JsonGetBool(const boost::json::value& root, std::string_view path) {
  const bj::value* v = JsonFind(root, path);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

const boost::json::object* JsonGetObject(const boost::json::value& root, std::string_view path) {
  const bj::value* v = JsonFind(root, path);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const boost::json::array* JsonGetArray(const boost::json::value& root, std::string_view path) {
  const bj::value* v = JsonFind(root, path);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

}  // namespace mini8s
