#include "mini8s/api/field_errors.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include <boost/json/serialize.hpp>

namespace mini8s::api {

namespace json = boost::json;

FieldPath FieldPath::Child(std::string_view name) const {
  FieldPath p;
  p.path_ = path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  return p;
}

FieldPath FieldPath::Index(size_t i) const {
  FieldPath p;
  p.path_ = path_ + "[" + std::to_string(i) + "]";
  return p;
}

FieldPath FieldPath::Key(std::string_view key) const {
  FieldPath p;
  p.path_ = path_ + "[" + std::string(key) + "]";
  return p;
}

std::string_view ErrorTypeReason(ErrorType t) {
  switch (t) {
    case ErrorType::kNotFound:
      return "FieldValueNotFound";
    case ErrorType::kRequired:
      return "FieldValueRequired";
    case ErrorType::kDuplicate:
      return "FieldValueDuplicate";
    case ErrorType::kInvalid:
      return "FieldValueInvalid";
    case ErrorType::kNotSupported:
      return "FieldValueNotSupported";
    case ErrorType::kForbidden:
      return "FieldValueForbidden";
    case ErrorType::kTooLong:
      return "FieldValueTooLong";
    case ErrorType::kTooMany:
      return "FieldValueTooMany";
    case ErrorType::kInternal:
      return "InternalError";
    case ErrorType::kTypeInvalid:
      return "FieldValueTypeInvalid";
  }
  return "FieldValueInvalid";
}

std::string_view ErrorTypeText(ErrorType t) {
  switch (t) {
    case ErrorType::kNotFound:
      return "Not found";
    case ErrorType::kRequired:
      return "Required value";
    case ErrorType::kDuplicate:
      return "Duplicate value";
    case ErrorType::kInvalid:
    case ErrorType::kTypeInvalid:
      return "Invalid value";
    case ErrorType::kNotSupported:
      return "Unsupported value";
    case ErrorType::kForbidden:
      return "Forbidden";
    case ErrorType::kTooLong:
      return "Too long";
    case ErrorType::kTooMany:
      return "Too many";
    case ErrorType::kInternal:
      return "Internal error";
  }
  return "Invalid value";
}

std::string GoQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      // UTF-8 sequences pass through; Go prints printable runes as they are.
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string GoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits laid out as strconv.FormatFloat(v, 'g', -1, 64) does: the
  // exponent form when exp < -4 || exp >= 6 (Go's %v).
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // d.ddddde+XX
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::stoi(sci.substr(epos + 1));
  bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  int nd = static_cast<int>(digits.size());
  std::string out = neg ? "-" : "";
  if (v == 0) return out + "0";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
    return out;
  }
  if (exp < 0) {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (exp + 1 >= nd) {
    out += digits + std::string(static_cast<size_t>(exp + 1 - nd), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(exp + 1)) + "." +
           digits.substr(static_cast<size_t>(exp + 1));
  }
  return out;
}

namespace {

// Go's %#v of an interface{} holding a decoded JSON value.
std::string GoSharpV(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "interface {}(nil)";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_:
      return GoFloat(v.get_double());
    case json::kind::string:
      return GoQuote(v.get_string());
    case json::kind::array: {
      std::string out = "[]interface {}{";
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ", ";
        first = false;
        out += GoSharpV(e);
      }
      return out + "}";
    }
    case json::kind::object: {
      std::vector<std::string> keys;
      for (const auto& kv : v.get_object()) keys.emplace_back(kv.key());
      std::sort(keys.begin(), keys.end());
      std::string out = "map[string]interface {}{";
      bool first = true;
      for (const auto& k : keys) {
        if (!first) out += ", ";
        first = false;
        out += GoQuote(k) + ":" + GoSharpV(v.get_object().at(k));
      }
      return out + "}";
    }
  }
  return {};
}

}  // namespace

BadValue BadValue::FromJson(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return Null();
    case json::kind::bool_:
      return Bool(v.get_bool());
    case json::kind::int64:
      return Int(v.get_int64());
    case json::kind::uint64:
      return Rendered(std::to_string(v.get_uint64()));
    case json::kind::double_:
      return Double(v.get_double());
    case json::kind::string:
      return Str(v.get_string());
    default:
      return Rendered(GoSharpV(v));
  }
}

std::string GoMapStringString(const json::value* v) {
  if (v == nullptr || !v->is_object()) return "map[string]string(nil)";
  std::vector<std::pair<std::string, std::string>> kvs;
  for (const auto& kv : v->get_object()) {
    kvs.emplace_back(std::string(kv.key()),
                     kv.value().is_string() ? std::string(kv.value().get_string()) : "");
  }
  std::sort(kvs.begin(), kvs.end());
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [k, val] : kvs) {
    if (!first) out += ", ";
    first = false;
    out += GoQuote(k) + ":" + GoQuote(val);
  }
  return out + "}";
}

std::string GoIntOrString(const json::value* v) {
  if (v != nullptr && v->is_string()) {
    return "intstr.IntOrString{Type:1, IntVal:0, StrVal:" + GoQuote(v->get_string()) + "}";
  }
  int64_t i = (v != nullptr && v->is_int64()) ? v->get_int64() : 0;
  return "intstr.IntOrString{Type:0, IntVal:" + std::to_string(i) + ", StrVal:\"\"}";
}

std::string FieldError::Body() const {
  std::string s(ErrorTypeText(type));
  switch (type) {
    case ErrorType::kRequired:
    case ErrorType::kForbidden:
    case ErrorType::kTooLong:
    case ErrorType::kInternal:
      break;
    default:
      switch (value.kind) {
        case BadValue::Kind::kOmit:
          break;
        case BadValue::Kind::kString:
          s += ": " + GoQuote(value.text);
          break;
        case BadValue::Kind::kInt:
          s += ": " + std::to_string(value.i);
          break;
        case BadValue::Kind::kDouble:
          s += ": " + GoFloat(value.d);
          break;
        case BadValue::Kind::kBool:
          s += value.b ? ": true" : ": false";
          break;
        case BadValue::Kind::kNull:
          s += ": \"null\"";
          break;
        case BadValue::Kind::kRendered:
          s += ": " + value.text;
          break;
      }
  }
  if (!detail.empty()) s += ": " + detail;
  return s;
}

std::string FieldError::ToString() const { return field + ": " + Body(); }

FieldError Required(const FieldPath& path, std::string_view detail) {
  return {ErrorType::kRequired, path.String(), BadValue::Str(""), std::string(detail)};
}
FieldError Invalid(const FieldPath& path, BadValue value, std::string_view detail) {
  return {ErrorType::kInvalid, path.String(), std::move(value), std::string(detail)};
}
FieldError NotSupported(const FieldPath& path, BadValue value,
                        const std::vector<std::string>& supported) {
  std::string detail;
  if (!supported.empty()) {
    detail = "supported values: ";
    for (size_t i = 0; i < supported.size(); ++i) {
      if (i > 0) detail += ", ";
      detail += GoQuote(supported[i]);
    }
  }
  return {ErrorType::kNotSupported, path.String(), std::move(value), detail};
}
FieldError Duplicate(const FieldPath& path, BadValue value) {
  return {ErrorType::kDuplicate, path.String(), std::move(value), {}};
}
FieldError NotFound(const FieldPath& path, BadValue value) {
  return {ErrorType::kNotFound, path.String(), std::move(value), {}};
}
FieldError Forbidden(const FieldPath& path, std::string_view detail) {
  return {ErrorType::kForbidden, path.String(), BadValue::Str(""), std::string(detail)};
}
FieldError TooLong(const FieldPath& path, int64_t max_length) {
  std::string msg = max_length >= 0
                        ? "may not be more than " + std::to_string(max_length) + " bytes"
                        : "value is too long";
  return {ErrorType::kTooLong, path.String(), BadValue::Str("<value omitted>"), msg};
}
FieldError TooMany(const FieldPath& path, int64_t actual, int64_t max) {
  std::string msg =
      max >= 0 ? "must have at most " + std::to_string(max) + " items" : "has too many items";
  return {ErrorType::kTooMany, path.String(),
          actual >= 0 ? BadValue::Int(actual) : BadValue::Omit(), msg};
}
FieldError TypeInvalid(const FieldPath& path, BadValue value, std::string_view detail) {
  return {ErrorType::kTypeInvalid, path.String(), std::move(value), std::string(detail)};
}
FieldError InternalError(const FieldPath& path, std::string_view detail) {
  return {ErrorType::kInternal, path.String(), BadValue::Null(), std::string(detail)};
}

std::string AggregateMessage(const ErrorList& errors) {
  std::vector<std::string> msgs;
  std::set<std::string> seen;
  for (const auto& e : errors) {
    std::string m = e.ToString();
    if (seen.insert(m).second) msgs.push_back(std::move(m));
  }
  if (msgs.empty()) return {};
  if (msgs.size() == 1) return msgs[0];
  std::string out = "[";
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (i > 0) out += ", ";
    out += msgs[i];
  }
  return out + "]";
}

std::string InvalidMessage(std::string_view group, std::string_view kind, std::string_view name,
                           const ErrorList& errors) {
  std::string qkind(kind);
  if (!group.empty()) qkind += "." + std::string(group);
  // Upstream formats the name with %q.
  std::string msg = qkind + " " + GoQuote(name) + " is invalid";
  std::string agg = AggregateMessage(errors);
  if (!agg.empty()) msg += ": " + agg;
  return msg;
}

json::array ToCauses(const ErrorList& errors) {
  json::array causes;
  for (const auto& e : errors) {
    causes.push_back(json::object{
        {"reason", ErrorTypeReason(e.type)}, {"message", e.Body()}, {"field", e.field}});
  }
  return causes;
}

json::object InvalidStatus(std::string_view group, std::string_view kind, std::string_view name,
                           const ErrorList& errors) {
  json::object details{{"name", name}, {"group", group}, {"kind", kind}};
  if (!errors.empty()) details["causes"] = ToCauses(errors);
  return json::object{{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", json::object{}},
                      {"status", "Failure"},
                      {"message", InvalidMessage(group, kind, name, errors)},
                      {"reason", "Invalid"},
                      {"details", std::move(details)},
                      {"code", 422}};
}

}  // namespace mini8s::api
