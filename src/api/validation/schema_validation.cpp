// The generic, schema-driven pass. For built-in kinds it reproduces what upstream's typed JSON
// decoding rejects (type mismatches as 400 decode errors) and lists unknown fields; for custom
// resources it applies the OpenAPI v3 constraints with the messages the apiextensions server
// gives.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <set>

#include "api/validation/json_util.h"
#include "mini8s/api/quantity.h"
#include "mini8s/api/validation.h"
#include "mini8s/common/json.h"

namespace mini8s::api {

namespace json = boost::json;

namespace {

// Go's name for the JSON kind in "cannot unmarshal <kind> into ...".
std::string GoJsonKind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return "string";
    case json::kind::object:
      return "object";
    case json::kind::array:
      return "array";
    case json::kind::bool_:
      return "bool";
    case json::kind::null:
      return "null";
    default:
      return "number";
  }
}

// OpenAPI's name for the JSON kind in "must be of type integer: \"string\"".
std::string OpenApiKind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return "string";
    case json::kind::object:
      return "object";
    case json::kind::array:
      return "array";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "null";
    case json::kind::double_: {
      double d = v.get_double();
      return d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d) ? "integer" : "number";
    }
    default:
      return "integer";
  }
}

std::string OpenApiTypeName(Type t) {
  switch (t) {
    case Type::kObject:
      return "object";
    case Type::kArray:
      return "array";
    case Type::kString:
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kBoolean:
      return "boolean";
    default:
      return "string";
  }
}

// The Go type upstream's decoder names: v1.PodSpec, []v1.Container, map[string]string, int32...
std::string GoTypeName(const Schema* s, int depth = 0) {
  if (s == nullptr || depth > 4) return "interface {}";
  auto short_def = [](const std::string& def) {
    // io.k8s.api.core.v1.PodSpec -> v1.PodSpec
    size_t last = def.rfind('.');
    if (last == std::string::npos) return def;
    size_t prev = def.rfind('.', last - 1);
    return prev == std::string::npos ? def : def.substr(prev + 1);
  };
  switch (s->type) {
    case Type::kString:
      return s->format == "byte" ? "[]uint8" : "string";
    case Type::kInteger:
      return s->format == "int32" ? "int32" : "int64";
    case Type::kNumber:
      return "float64";
    case Type::kBoolean:
      return "bool";
    case Type::kIntOrString:
      return "intstr.IntOrString";
    case Type::kQuantity:
      return "resource.Quantity";
    case Type::kArray:
      return "[]" + GoTypeName(s->items, depth + 1);
    case Type::kObject:
      if (s->IsMap()) return "map[string]" + GoTypeName(s->additional_properties, depth + 1);
      if (!s->definition.empty()) return short_def(s->definition);
      return "struct {}";
    default:
      return "interface {}";
  }
}

std::string StructName(const Schema& s) {
  size_t p = s.definition.rfind('.');
  return p == std::string::npos ? s.definition : s.definition.substr(p + 1);
}

// Deepest schema-driven recursion into an object (see Walker::Walk). Built-in objects nest a few
// dozen levels and CRD schemas at most 64 (crd.cpp), about two walk levels each.
constexpr int kMaxWalkDepth = 1000;

// Longest string matched against a CRD `pattern` (see Walker::MatchesPattern). At roughly 1 KB
// of stack per character for nested groups, this stays far below any thread's stack.
constexpr size_t kMaxPatternSubject = 2048;

bool IsIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    double d = v.get_double();
    return d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d);  // no UB cast of 1e300
  }
  return false;
}

bool ValidBase64(std::string_view s, size_t* bad_at) {
  // Go's base64.StdEncoding (padded); newlines are ignored by the decoder.
  std::string clean;
  std::vector<size_t> pos;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') continue;
    clean += s[i];
    pos.push_back(i);
  }
  auto is_b64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  size_t n = clean.size();
  for (size_t i = 0; i < n; ++i) {
    char c = clean[i];
    if (is_b64(c)) continue;
    if (c == '=' && i >= n - 2 && n % 4 == 0 && i % 4 >= 2) {
      if (i == n - 2 && clean[n - 1] != '=') {
        *bad_at = pos[i];
        return false;
      }
      continue;
    }
    *bad_at = pos[i];
    return false;
  }
  if (n % 4 != 0) {
    *bad_at = n - (n % 4);  // Go reports the start of the incomplete quantum
    return false;
  }
  return true;
}

class Walker {
 public:
  Walker(const SchemaValidationOptions& options, SchemaValidationResult& out)
      : options_(options), out_(out) {}

  void Walk(const Schema* s, const json::value& v, const FieldPath& path,
            const std::string& go_path, const std::string& go_struct, bool root) {
    if (s == nullptr) return;
    // Recursive schemas (a CRD's JSONSchemaProps) let the data drive the recursion as deep as
    // the JSON parser allows, which overflows the stack; real objects are far shallower.
    if (depth_ >= kMaxWalkDepth) {
      if (!too_deep_) {
        too_deep_ = true;
        std::string msg = "nested more than " + std::to_string(kMaxWalkDepth) + " levels deep";
        if (options_.custom_resource) {
          out_.errors.push_back(Forbidden(path, msg));
        } else {
          out_.decode_errors.push_back("json: object " + msg);
        }
      }
      return;
    }
    ++depth_;
    if (options_.custom_resource) {
      WalkCustom(*s, v, path, root);
    } else {
      WalkBuiltin(*s, v, path, go_path, go_struct, root);
    }
    --depth_;
  }

 private:
  void DecodeError(const json::value& v, const Schema& s, const std::string& go_path,
                   const std::string& go_struct, bool with_number = false) {
    std::string kind = GoJsonKind(v);
    if (with_number) kind += " " + SerializeJson(v);
    std::string where =
        go_struct.empty() ? "Go value" : "Go struct field " + go_struct + "." + go_path;
    out_.decode_errors.push_back("json: cannot unmarshal " + kind + " into " + where + " of type " +
                                 GoTypeName(&s));
  }

  void Unknown(const FieldPath& path) { out_.unknown_fields.push_back(path.String()); }

  void WalkBuiltin(const Schema& s, const json::value& v, const FieldPath& path,
                   const std::string& go_path, const std::string& go_struct, bool root) {
    if (v.is_null()) return;  // Go decodes null into the zero value
    switch (s.type) {
      case Type::kAny:
        return;
      case Type::kObject: {
        if (!v.is_object()) return DecodeError(v, s, go_path, go_struct);
        std::string inner_struct = s.IsMap() || s.definition.empty() ? go_struct : StructName(s);
        for (const auto& kv : v.get_object()) {
          std::string_view key = kv.key();
          if (root && (key == "apiVersion" || key == "kind")) continue;
          std::string child_go =
              go_path.empty() ? std::string(key) : go_path + "." + std::string(key);
          if (const Property* p = s.FindProperty(key)) {
            Walk(p->schema, kv.value(), path.Child(key), child_go, inner_struct, false);
          } else if (s.additional_properties != nullptr) {
            Walk(s.additional_properties, kv.value(), path.Key(key), go_path, go_struct, false);
          } else if (!s.preserve_unknown_fields && !s.properties.empty()) {
            Unknown(path.Child(key));
          }
        }
        return;
      }
      case Type::kArray: {
        if (!v.is_array()) return DecodeError(v, s, go_path, go_struct);
        const auto& arr = v.get_array();
        for (size_t i = 0; i < arr.size(); ++i) {
          Walk(s.items, arr[i], path.Index(i), go_path, go_struct, false);
        }
        return;
      }
      case Type::kString:
        if (!v.is_string()) return DecodeError(v, s, go_path, go_struct);
        if (s.format == "byte") {
          size_t bad = 0;
          if (!ValidBase64(v.get_string(), &bad)) {
            out_.decode_errors.push_back("illegal base64 data at input byte " +
                                         std::to_string(bad));
          }
        }
        return;
      case Type::kBoolean:
        if (!v.is_bool()) return DecodeError(v, s, go_path, go_struct);
        return;
      case Type::kNumber:
        if (!v.is_number()) return DecodeError(v, s, go_path, go_struct);
        return;
      case Type::kInteger: {
        if (!v.is_number()) return DecodeError(v, s, go_path, go_struct);
        if (!IsIntegral(v)) return DecodeError(v, s, go_path, go_struct, true);
        auto i = vdetail::Int(&v);
        bool fits = i.has_value() && !(v.is_uint64() && v.get_uint64() > INT64_MAX);
        if (fits && s.format == "int32") fits = *i >= INT32_MIN && *i <= INT32_MAX;
        if (!fits) DecodeError(v, s, go_path, go_struct, true);
        return;
      }
      case Type::kIntOrString:
        if (v.is_string()) return;
        if (v.is_number() && IsIntegral(v)) {
          auto i = vdetail::Int(&v);
          if (i && *i >= INT32_MIN && *i <= INT32_MAX) return;
          out_.decode_errors.push_back("json: cannot unmarshal number " + SerializeJson(v) +
                                       " into Go value of type int32");
          return;
        }
        out_.decode_errors.push_back("json: cannot unmarshal " + GoJsonKind(v) +
                                     (v.is_number() ? " " + SerializeJson(v) : "") +
                                     " into Go value of type int32");
        return;
      case Type::kQuantity: {
        std::string text;
        if (v.is_string()) {
          text = std::string(v.get_string());
          // Upstream trims spaces around the quoted text.
          size_t b = text.find_first_not_of(" \t\r\n");
          size_t e = text.find_last_not_of(" \t\r\n");
          text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
        } else if (v.is_number()) {
          text = SerializeJson(v);
        } else {
          out_.decode_errors.push_back(Quantity::FormatWrongMessage());
          return;
        }
        auto q = Quantity::Parse(text);
        if (!q) out_.decode_errors.push_back(q.error().message());
        return;
      }
    }
  }

  // ---- custom resources
  void TypeError(const Schema& s, const json::value& v, const FieldPath& path) {
    std::string actual = OpenApiKind(v);
    out_.errors.push_back(TypeInvalid(path, BadValue::Str(actual),
                                      path.String() + " in body must be of type " +
                                          OpenApiTypeName(s.type) + ": " + GoQuote(actual)));
  }

  void WalkCustom(const Schema& s, const json::value& v, const FieldPath& path, bool root) {
    if (v.is_null()) {
      if (s.nullable || s.type == Type::kAny || root) return;
      if (s.type == Type::kIntOrString || s.type == Type::kQuantity) return;
      return TypeError(s, v, path);
    }
    const std::string& p = path.String();
    switch (s.type) {
      case Type::kAny:
        break;
      case Type::kObject:
        if (!v.is_object()) return TypeError(s, v, path);
        break;
      case Type::kArray:
        if (!v.is_array()) return TypeError(s, v, path);
        break;
      case Type::kString:
        if (!v.is_string()) return TypeError(s, v, path);
        break;
      case Type::kInteger:
        if (!v.is_number() || !IsIntegral(v)) return TypeError(s, v, path);
        break;
      case Type::kNumber:
        if (!v.is_number()) return TypeError(s, v, path);
        break;
      case Type::kBoolean:
        if (!v.is_bool()) return TypeError(s, v, path);
        break;
      case Type::kIntOrString:
        if (!v.is_string() && !(v.is_number() && IsIntegral(v))) {
          out_.errors.push_back(TypeInvalid(
              path, BadValue::Str(OpenApiKind(v)),
              p + " in body must be of type integer,string: " + GoQuote(OpenApiKind(v))));
          return;
        }
        break;
      case Type::kQuantity:
        if (!v.is_string() && !v.is_number()) return TypeError(s, v, path);
        break;
    }
    // Value constraints.
    if (!s.enum_values.empty()) {
      std::string text = v.is_string() ? std::string(v.get_string()) : SerializeJson(v);
      if (std::find(s.enum_values.begin(), s.enum_values.end(), text) == s.enum_values.end()) {
        out_.errors.push_back(NotSupported(path, BadValue::FromJson(v), s.enum_values));
      }
    }
    if (v.is_number()) {
      double d = v.to_number<double>();
      if (s.minimum) {
        bool bad = s.exclusive_minimum ? d <= *s.minimum : d < *s.minimum;
        if (bad) {
          out_.errors.push_back(Invalid(path, BadValue::FromJson(v),
                                        p + " in body should be greater than " +
                                            (s.exclusive_minimum ? "" : "or equal to ") +
                                            GoFloat(*s.minimum)));
        }
      }
      if (s.maximum) {
        bool bad = s.exclusive_maximum ? d >= *s.maximum : d > *s.maximum;
        if (bad) {
          out_.errors.push_back(Invalid(path, BadValue::FromJson(v),
                                        p + " in body should be less than " +
                                            (s.exclusive_maximum ? "" : "or equal to ") +
                                            GoFloat(*s.maximum)));
        }
      }
    }
    if (v.is_string()) {
      std::string_view str = v.get_string();
      // Lengths count characters (runes), not bytes.
      int64_t runes = 0;
      for (char c : str) runes += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
      if (s.max_length && runes > *s.max_length)
        out_.errors.push_back(TooLong(path, *s.max_length));
      if (s.min_length && runes < *s.min_length) {
        out_.errors.push_back(Invalid(
            path, BadValue::Str(str),
            p + " in body should be at least " + std::to_string(*s.min_length) + " chars long"));
      }
      if (!s.format.empty() && !MatchesFormat(s.format, str)) {
        out_.errors.push_back(
            Invalid(path, BadValue::Str(str),
                    p + " in body must be of type " + s.format + ": " + GoQuote(str)));
      }
      if (!s.pattern.empty() && !MatchesPattern(s.pattern, str)) {
        out_.errors.push_back(
            Invalid(path, BadValue::Str(str), p + " in body should match '" + s.pattern + "'"));
      }
    }
    if (v.is_array()) {
      const auto& arr = v.get_array();
      int64_t n = static_cast<int64_t>(arr.size());
      if (s.max_items && n > *s.max_items) out_.errors.push_back(TooMany(path, n, *s.max_items));
      if (s.min_items && n < *s.min_items) {
        out_.errors.push_back(Invalid(
            path, BadValue::Int(n),
            p + " in body should have at least " + std::to_string(*s.min_items) + " items"));
      }
      CheckListUniqueness(s, arr, path);
      for (size_t i = 0; i < arr.size(); ++i)
        WalkCustom(*ItemsOrAny(s.items), arr[i], path.Index(i), false);
    }
    if (v.is_object()) {
      const auto& obj = v.get_object();
      int64_t n = static_cast<int64_t>(obj.size());
      if (s.max_properties && n > *s.max_properties) {
        out_.errors.push_back(TooMany(path, n, *s.max_properties));
      }
      if (s.min_properties && n < *s.min_properties) {
        out_.errors.push_back(Invalid(path, BadValue::Int(n),
                                      p + " in body should have at least " +
                                          std::to_string(*s.min_properties) + " properties"));
      }
      for (const auto& req : s.required) {
        const json::value* c = obj.if_contains(req);
        if (c == nullptr) out_.errors.push_back(Required(path.Child(req)));
      }
      for (const auto& kv : obj) {
        std::string_view key = kv.key();
        if ((root || s.embedded_resource) &&
            (key == "apiVersion" || key == "kind" || key == "metadata")) {
          continue;
        }
        if (const Property* prop = s.FindProperty(key)) {
          if (prop->schema != nullptr)
            WalkCustom(*prop->schema, kv.value(), path.Child(key), false);
        } else if (s.additional_properties != nullptr) {
          WalkCustom(*s.additional_properties, kv.value(), path.Child(key), false);
        } else if (!s.preserve_unknown_fields && s.type != Type::kAny) {
          Unknown(path.Child(key));
        }
      }
    }
  }

  static const Schema* ItemsOrAny(const Schema* s) {
    static const Schema kAnySchema;
    return s != nullptr ? s : &kAnySchema;
  }

  void CheckListUniqueness(const Schema& s, const json::array& arr, const FieldPath& path) {
    if (s.list_type == "map" && !s.list_map_keys.empty()) {
      std::set<std::string> seen;
      for (size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_object()) continue;
        json::object key;
        for (const auto& k : s.list_map_keys) {
          if (const json::value* kv = arr[i].get_object().if_contains(k)) key[k] = *kv;
        }
        std::string ser = SerializeJson(key);
        if (!seen.insert(ser).second) {
          out_.errors.push_back(Duplicate(path.Index(i), BadValue::FromJson(key)));
        }
      }
    } else if (s.list_type == "set") {
      std::set<std::string> seen;
      for (size_t i = 0; i < arr.size(); ++i) {
        if (!seen.insert(SerializeJson(arr[i])).second) {
          out_.errors.push_back(Duplicate(path.Index(i), BadValue::FromJson(arr[i])));
        }
      }
    }
  }

  static bool MatchesPattern(const std::string& pattern, std::string_view s);
  static bool MatchesFormat(const std::string& format, std::string_view s);

  const SchemaValidationOptions& options_;
  SchemaValidationResult& out_;
  int depth_ = 0;
  bool too_deep_ = false;
};

bool Walker::MatchesPattern(const std::string& pattern, std::string_view s) {
  // libstdc++'s std::regex matches by recursion, one or more frames per subject character: a
  // 100 KB string against "^[a-z]+$" overflows an 8 MB stack and kills the server. Upstream's
  // RE2 has no such limit, but we cannot match longer strings safely, so they fail the pattern
  // (closed, not open: patterns often guard what users may set).
  if (s.size() > kMaxPatternSubject) return false;
  // OpenAPI patterns are ECMA 262 regular expressions, unanchored.
  try {
    std::regex re(pattern, std::regex::ECMAScript);
    return std::regex_search(s.begin(), s.end(), re);
  } catch (const std::regex_error&) {
    return true;  // an unusable pattern was rejected when the CRD was admitted
  }
}

bool Walker::MatchesFormat(const std::string& format, std::string_view s) {
  // The string formats the apiextensions server checks that users meet most; unknown formats
  // (and int-or-string, quantity, ...) are not string formats and pass.
  auto digits = [&](size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  auto is_date = [&]() {
    return s.size() >= 10 && digits(0, 4) && s[4] == '-' && digits(5, 2) && s[7] == '-' &&
           digits(8, 2);
  };
  if (format == "date") return s.size() == 10 && is_date();
  // Matched by hand, not with std::regex: its recursion per character lets a long fraction
  // ("...:00." + 100000 digits) overflow the stack.
  if (format == "date-time") {
    // \d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})
    if (!is_date() || s.size() < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2)) {
      return false;
    }
    size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
      size_t start = ++pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return false;
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return pos + 1 == s.size();
    return pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && digits(pos + 1, 2) &&
           s[pos + 3] == ':' && digits(pos + 4, 2);
  }
  if (format == "uuid") {
    // [0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}
    size_t pos = 0;
    for (size_t group : {8, 4, 4, 4, 12}) {
      if (group != 8 && pos < s.size() && s[pos] == '-') ++pos;
      for (size_t i = 0; i < group; ++i, ++pos) {
        if (pos >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[pos]))) return false;
      }
    }
    return pos == s.size();
  }
  if (format == "ipv4" || format == "ipv6") {
    if (!IsValidIP(s).empty()) return false;
    return (format == "ipv4") == (s.find(':') == std::string_view::npos);
  }
  if (format == "byte") {
    size_t bad = 0;
    return ValidBase64(s, &bad);
  }
  return true;
}

void Prune(const Schema* s, json::value& v, bool root, int depth = 0) {
  // Bounded as Walker::Walk is; validation has already refused anything deeper.
  if (s == nullptr || s->type == Type::kAny || depth >= kMaxWalkDepth) return;
  if (v.is_array() && s->items != nullptr) {
    for (auto& e : v.get_array()) Prune(s->items, e, false, depth + 1);
    return;
  }
  if (!v.is_object()) return;
  auto& obj = v.get_object();
  for (auto it = obj.begin(); it != obj.end();) {
    std::string_view key = it->key();
    bool keep_meta = (root || s->embedded_resource) &&
                     (key == "apiVersion" || key == "kind" || key == "metadata");
    const Schema* child =
        s->FindProperty(key) ? s->FindProperty(key)->schema : s->additional_properties;
    if (keep_meta) {
      ++it;
    } else if (child != nullptr) {
      Prune(child, it->value(), false, depth + 1);
      ++it;
    } else if (s->preserve_unknown_fields) {
      ++it;
    } else {
      it = obj.erase(it);
    }
  }
}

}  // namespace

std::string UnknownFieldMessage(std::string_view path) { return "unknown field " + GoQuote(path); }

std::string StrictDecodingMessage(const std::vector<std::string>& unknown_fields) {
  std::string out = "strict decoding error: ";
  for (size_t i = 0; i < unknown_fields.size(); ++i) {
    if (i > 0) out += ", ";
    out += UnknownFieldMessage(unknown_fields[i]);
  }
  return out;
}

std::string CannotBeHandledMessage(std::string_view kind, std::string_view version,
                                   std::string_view detail) {
  return std::string(kind) + " in version " + GoQuote(version) + " cannot be handled as a " +
         std::string(kind) + ": " + std::string(detail);
}

SchemaValidationResult ValidateAgainstSchema(const Schema& root, const json::value& obj,
                                             const SchemaValidationOptions& options) {
  SchemaValidationResult out;
  Walker w(options, out);
  w.Walk(&root, obj, FieldPath(), "", root.definition.empty() ? "" : StructName(root), true);
  return out;
}

void PruneUnknownFields(const Schema& root, json::value& obj) { Prune(&root, obj, true); }

}  // namespace mini8s::api
