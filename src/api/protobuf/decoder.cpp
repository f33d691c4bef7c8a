// Protobuf -> JSON decoding of Kubernetes objects, driven by the schema registry.
//
// The schema says what JSON type a field has; the wire says how it was encoded. Kubernetes'
// generated.proto maps the JSON types onto the wire like this:
//   string / enum          length-delimited UTF-8
//   string, format byte    length-delimited bytes (JSON: base64)
//   integer                varint (int32 and int64 are plain two's-complement varints)
//   number                 fixed64 double (JSONSchemaProps maximum, minimum, multipleOf)
//   boolean                varint
//   object                 length-delimited message; maps are repeated {1: key, 2: value}
//   array                  repeated field, packed or not; an array nested in an array or a map
//                          travels as a wrapper message whose field 1 is the repeated field
// and a handful of types with their own messages (Time, MicroTime, Duration, Quantity,
// IntOrString, RawExtension, FieldsV1, apiextensions JSON and JSONSchemaPropsOr*).

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/protobuf/proto_facts.h"
#include "api/protobuf/wire_reader.h"
#include "mini8s/api/protobuf.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;
using protobuf_internal::FindInlineField;
using protobuf_internal::FindInlineTagName;
using protobuf_internal::IsKeepZeroField;
using protobuf_internal::WireField;
using protobuf_internal::WireReader;
using protobuf_internal::WireType;
using protobuf_internal::WireTypeName;

constexpr std::string_view kTimeDef = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
constexpr std::string_view kMicroTimeDef = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
constexpr std::string_view kDurationDef = "io.k8s.apimachinery.pkg.apis.meta.v1.Duration";
constexpr std::string_view kFieldsV1Def = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1";
constexpr std::string_view kRawExtensionDef = "io.k8s.apimachinery.pkg.runtime.RawExtension";
constexpr std::string_view kApiextPrefix =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";
constexpr std::string_view kJsonName = "JSON";
constexpr std::string_view kPropsName = "JSONSchemaProps";
constexpr std::string_view kPropsOrArrayName = "JSONSchemaPropsOrArray";
constexpr std::string_view kPropsOrBoolName = "JSONSchemaPropsOrBool";
constexpr std::string_view kPropsOrStringArrayName = "JSONSchemaPropsOrStringArray";

// The apiextensions type name when `def` is one of apiextensions/v1's definitions, else "".
std::string_view ApiextName(std::string_view def) {
  if (def.substr(0, kApiextPrefix.size()) != kApiextPrefix) return {};
  return def.substr(kApiextPrefix.size());
}

// A field path for messages, rendered only when needed: "spec.containers[0].image".
struct PathNode {
  const PathNode* parent = nullptr;
  std::string_view name;
  int64_t index = -1;   // >= 0: an array element of `parent`
  uint32_t number = 0;  // > 0: an unknown field number
};

std::string RenderPath(const PathNode* node) {
  if (node == nullptr) return "";
  std::string prefix = RenderPath(node->parent);
  if (node->index >= 0) return prefix + "[" + std::to_string(node->index) + "]";
  std::string name =
      node->number > 0 ? "#" + std::to_string(node->number) : std::string(node->name);
  return prefix.empty() ? name : prefix + "." + name;
}

Status PathError(const PathNode* path, std::string message) {
  std::string where = RenderPath(path);
  if (where.empty()) return Status::BadRequest("protobuf: " + message);
  return Status::BadRequest("protobuf: " + where + ": " + message);
}

// The reader's next field, with the path prepended to any error.
Result<WireField> NextField(WireReader& reader, const PathNode* path) {
  Result<WireField> f = reader.Next();
  if (!f) return PathError(path, f.error().message());
  return f;
}

Status ExpectWireType(const WireField& f, WireType want, const PathNode* path) {
  if (f.type == want) return Status::OK();
  return PathError(path, "wire type " + std::string(WireTypeName(f.type)) + ", expected " +
                             std::string(WireTypeName(want)));
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// metav1.Time renders as RFC 3339 in UTC with whole seconds; MicroTime with six fraction digits.
Result<std::string> FormatTime(int64_t seconds, int32_t nanos, bool micro, const PathNode* path) {
  // Year 1..9999, the range Go's RFC 3339 formatting round-trips.
  constexpr int64_t kMin = -62135596800, kMax = 253402300799;
  if (seconds < kMin || seconds > kMax || nanos < 0 || nanos > 999999999) {
    return PathError(path, "timestamp out of range");
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return PathError(path, "timestamp out of range");
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (micro) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06d", nanos / 1000);
    out += frac;
  }
  out += 'Z';
  return out;
}

// Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s".
std::string FormatGoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  const bool negative = ns < 0;
  // Work in unsigned so that INT64_MIN negates cleanly.
  uint64_t u = negative ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  auto with_fraction = [](uint64_t v, int digits) {
    // v in units of 10^-digits; print integer part and trimmed fraction.
    uint64_t scale = 1;
    for (int i = 0; i < digits; ++i) scale *= 10;
    std::string s = std::to_string(v / scale);
    uint64_t frac = v % scale;
    if (frac != 0) {
      std::string f = std::to_string(frac);
      f.insert(0, static_cast<size_t>(digits) - f.size(), '0');
      while (!f.empty() && f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  std::string out;
  if (u < 1000000000ULL) {
    if (u < 1000ULL) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000ULL) {
      out = with_fraction(u, 3) + "\u00b5s";
    } else {
      out = with_fraction(u, 6) + "ms";
    }
  } else {
    const uint64_t total_seconds = u / 1000000000ULL;
    const uint64_t sub = u % 1000000000ULL;
    const uint64_t hours = total_seconds / 3600;
    const uint64_t minutes = (total_seconds / 60) % 60;
    const uint64_t secs = total_seconds % 60;
    if (hours > 0) out += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
    out += with_fraction(secs * 1000000000ULL + sub, 9) + "s";
  }
  return negative ? "-" + out : out;
}

// What decoding one wire value produced.
struct Decoded {
  json::value value;
  bool zero = false;  // the Go zero value (dropped for omitempty non-pointer fields)
  bool skip = false;  // nothing to set (a null in Go's JSON, or an unsupported field)
};

class Decoder {
 public:
  Decoder(const Registry& registry, const ProtobufDecodeOptions& options)
      : registry_(registry), options_(options) {}

  Result<json::value> DecodeEnvelope(std::string_view body, int depth);

  // Decodes `data` as a message into `out`, whose JSON shape is `schema`. With `inline_def` set,
  // `data` is an inline-embedded message of that definition: its fields land in `out` by name,
  // numbered per the generated inline table.
  Status DecodeObject(const Schema& schema, std::string_view inline_def, std::string_view data,
                      json::object& out, const PathNode* path, int depth);

 private:
  Status DecodeProperty(const Property& prop, std::string_view owner_def, const WireField& f,
                        json::object& out, const PathNode* path, int depth);
  Status AppendElement(const Schema& item, const WireField& f, json::array& arr,
                       const PathNode* path, int depth);
  Result<Decoded> DecodeSingle(const Schema& schema, const WireField& f, const PathNode* path,
                               int depth, json::value* existing);
  Result<Decoded> DecodeScalar(const Schema& schema, WireType type, uint64_t scalar,
                               const PathNode* path);
  Result<Decoded> DecodeSpecial(const Schema& schema, std::string_view def, const WireField& f,
                                const PathNode* path, int depth, bool& handled);
  Result<json::value> DecodeRaw(std::string_view raw, const PathNode* path, int depth);
  Result<json::value> DecodeWrappedArray(const Schema& array_schema, const WireField& f,
                                         const PathNode* path, int depth);
  Status CheckDepth(int depth, const PathNode* path) const;
  void RecordUnknown(const PathNode* path, uint32_t number);

  const Registry& registry_;
  const ProtobufDecodeOptions& options_;
};

Status Decoder::CheckDepth(int depth, const PathNode* path) const {
  if (depth > options_.max_depth) {
    return PathError(path, "messages nested deeper than " + std::to_string(options_.max_depth));
  }
  return Status::OK();
}

void Decoder::RecordUnknown(const PathNode* path, uint32_t number) {
  if (options_.unknown_fields == nullptr) return;
  PathNode node{path, {}, -1, number};
  options_.unknown_fields->push_back(RenderPath(&node));
}

const Property* FindByTag(const Schema& schema, uint32_t number) {
  for (const Property& p : schema.properties) {
    if (p.proto_tag > 0 && static_cast<uint32_t>(p.proto_tag) == number) return &p;
  }
  return nullptr;
}

bool IsPackable(const Schema& item) {
  return item.type == Type::kInteger || item.type == Type::kNumber || item.type == Type::kBoolean;
}

// Go's JSON for a map value that was absent from its entry (the type's zero value).
json::value ZeroValue(const Schema& s) {
  switch (s.type) {
    case Type::kString:
      return json::string();
    case Type::kInteger:
    case Type::kIntOrString:
      return 0;
    case Type::kNumber:
      return 0.0;
    case Type::kBoolean:
      return false;
    case Type::kQuantity:
      return "0";
    case Type::kObject:
      return json::object();
    case Type::kArray:
    case Type::kAny:
      return nullptr;
  }
  return nullptr;
}

Status Decoder::DecodeObject(const Schema& schema, std::string_view inline_def,
                             std::string_view data, json::object& out, const PathNode* path,
                             int depth) {
  MINI8S_RETURN_IF_ERROR(CheckDepth(depth, path));
  // The definition whose numbering applies, for inline and keep-zero lookups.
  const std::string_view numbering_def =
      inline_def.empty() ? std::string_view(schema.definition) : inline_def;
  WireReader reader(data);
  while (!reader.done()) {
    MINI8S_ASSIGN_OR_RETURN(const WireField f, NextField(reader, path));
    const Property* prop = nullptr;
    if (inline_def.empty()) {
      prop = FindByTag(schema, f.number);
    } else if (auto name = FindInlineTagName(inline_def, f.number)) {
      prop = schema.FindProperty(*name);
    }
    if (prop == nullptr) {
      if (auto target = FindInlineField(numbering_def, f.number)) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
        MINI8S_RETURN_IF_ERROR(DecodeObject(schema, *target, f.bytes, out, path, depth + 1));
        continue;
      }
      RecordUnknown(path, f.number);
      continue;
    }
    PathNode child{path, prop->name};
    if (prop->schema == nullptr) {
      RecordUnknown(path, f.number);
      continue;
    }
    MINI8S_RETURN_IF_ERROR(DecodeProperty(*prop, numbering_def, f, out, &child, depth));
  }
  return Status::OK();
}

Status Decoder::DecodeProperty(const Property& prop, std::string_view owner_def, const WireField& f,
                               json::object& out, const PathNode* path, int depth) {
  const Schema& schema = *prop.schema;
  if (schema.type == Type::kArray) {
    json::value& slot = out[prop.name];
    if (!slot.is_array()) slot = json::array();
    if (schema.items == nullptr) {
      RecordUnknown(path, f.number);
      return Status::OK();
    }
    return AppendElement(*schema.items, f, slot.get_array(), path, depth);
  }
  if (schema.IsMap() && schema.properties.empty()) {
    MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
    MINI8S_RETURN_IF_ERROR(CheckDepth(depth + 1, path));
    std::string key;
    std::optional<WireField> value_field;
    WireReader entry(f.bytes);
    while (!entry.done()) {
      MINI8S_ASSIGN_OR_RETURN(WireField ef, NextField(entry, path));
      if (ef.number == 1) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(ef, WireType::kLengthDelimited, path));
        key.assign(ef.bytes);
      } else if (ef.number == 2) {
        value_field = ef;
      }
    }
    json::value& slot = out[prop.name];
    if (!slot.is_object()) slot = json::object();
    PathNode child{path, key};
    const Schema& value_schema = *schema.additional_properties;
    if (!value_field) {
      slot.get_object()[key] = ZeroValue(value_schema);
      return Status::OK();
    }
    json::value* existing = slot.get_object().if_contains(key);
    MINI8S_ASSIGN_OR_RETURN(Decoded d,
                            DecodeSingle(value_schema, *value_field, &child, depth + 1, existing));
    if (!d.skip) slot.get_object()[key] = std::move(d.value);
    return Status::OK();
  }
  json::value* existing = out.if_contains(prop.name);
  MINI8S_ASSIGN_OR_RETURN(Decoded d, DecodeSingle(schema, f, path, depth, existing));
  if (d.skip || (d.zero && !IsKeepZeroField(owner_def, prop.name))) {
    // Proto2 semantics: the last occurrence wins, so a later zero clears an earlier value.
    out.erase(prop.name);
    return Status::OK();
  }
  out[prop.name] = std::move(d.value);
  return Status::OK();
}

Status Decoder::AppendElement(const Schema& item, const WireField& f, json::array& arr,
                              const PathNode* path, int depth) {
  if (f.type == WireType::kLengthDelimited && IsPackable(item)) {
    // Packed repeated scalars: one payload holding the values back to back.
    std::string_view rest = f.bytes;
    while (!rest.empty()) {
      PathNode child{path, {}, static_cast<int64_t>(arr.size())};
      uint64_t scalar = 0;
      WireType type = WireType::kVarint;
      if (item.type == Type::kNumber && item.format != "int32" && item.format != "int64") {
        const size_t width = item.format == "float" ? 4 : 8;
        if (rest.size() < width) return PathError(&child, "truncated packed fixed-width value");
        for (size_t i = 0; i < width; ++i) {
          scalar |= static_cast<uint64_t>(static_cast<uint8_t>(rest[i])) << (8 * i);
        }
        rest.remove_prefix(width);
        type = width == 4 ? WireType::kFixed32 : WireType::kFixed64;
      } else {
        Result<uint64_t> v = protobuf_internal::ReadVarint(rest);
        if (!v) return PathError(&child, v.error().message());
        scalar = *v;
      }
      MINI8S_ASSIGN_OR_RETURN(Decoded d, DecodeScalar(item, type, scalar, &child));
      arr.push_back(std::move(d.value));
    }
    return Status::OK();
  }
  PathNode child{path, {}, static_cast<int64_t>(arr.size())};
  MINI8S_ASSIGN_OR_RETURN(Decoded d, DecodeSingle(item, f, &child, depth, nullptr));
  // A repeated element is always kept, zero or not; a skipped one still holds its place.
  arr.push_back(d.skip ? json::value(nullptr) : std::move(d.value));
  return Status::OK();
}

Result<Decoded> Decoder::DecodeScalar(const Schema& schema, WireType type, uint64_t scalar,
                                      const PathNode* path) {
  Decoded d;
  switch (schema.type) {
    case Type::kBoolean:
      if (type != WireType::kVarint) break;
      d.value = scalar != 0;
      d.zero = scalar == 0;
      return d;
    case Type::kInteger: {
      if (type == WireType::kFixed64 || type == WireType::kFixed32) break;
      // int32 values arrive sign-extended to 64 bits; Go truncates the same way.
      const int64_t v = schema.format == "int32"
                            ? static_cast<int64_t>(static_cast<int32_t>(scalar))
                            : static_cast<int64_t>(scalar);
      d.value = v;
      d.zero = v == 0;
      return d;
    }
    case Type::kNumber: {
      double v = 0;
      if (type == WireType::kFixed64) {
        std::memcpy(&v, &scalar, sizeof v);
      } else if (type == WireType::kFixed32) {
        const auto bits = static_cast<uint32_t>(scalar);
        float fv = 0;
        std::memcpy(&fv, &bits, sizeof fv);
        v = fv;
      } else {
        v = static_cast<double>(static_cast<int64_t>(scalar));
      }
      d.value = v;
      d.zero = v == 0;
      return d;
    }
    default:
      break;
  }
  return PathError(
      path, "wire type " + std::string(WireTypeName(type)) + " does not fit a field of this type");
}

Result<json::value> Decoder::DecodeRaw(std::string_view raw, const PathNode* path, int depth) {
  if (HasProtobufMagic(raw)) return DecodeEnvelope(raw, depth + 1);
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(raw.data(), raw.size()), ec);
  if (ec) return PathError(path, "embedded JSON: " + ec.message());
  return v;
}

Result<json::value> Decoder::DecodeWrappedArray(const Schema& array_schema, const WireField& f,
                                                const PathNode* path, int depth) {
  MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
  MINI8S_RETURN_IF_ERROR(CheckDepth(depth + 1, path));
  json::array arr;
  if (array_schema.items == nullptr) return json::value(std::move(arr));
  WireReader reader(f.bytes);
  while (!reader.done()) {
    MINI8S_ASSIGN_OR_RETURN(WireField ef, NextField(reader, path));
    if (ef.number != 1) {
      RecordUnknown(path, ef.number);
      continue;
    }
    MINI8S_RETURN_IF_ERROR(AppendElement(*array_schema.items, ef, arr, path, depth + 1));
  }
  return json::value(std::move(arr));
}

// Reads the fields of a small special message into an array indexed by field number (1..4).
struct SmallMessage {
  WireField fields[5];
  bool present[5] = {false, false, false, false, false};
};

Result<SmallMessage> ReadSmall(std::string_view data, const PathNode* path) {
  SmallMessage m;
  WireReader reader(data);
  while (!reader.done()) {
    MINI8S_ASSIGN_OR_RETURN(const WireField f, NextField(reader, path));
    if (f.number < 5) {
      m.fields[f.number] = f;
      m.present[f.number] = true;
    }
  }
  return m;
}

Result<Decoded> Decoder::DecodeSpecial(const Schema& schema, std::string_view def,
                                       const WireField& f, const PathNode* path, int depth,
                                       bool& handled) {
  handled = true;
  Decoded d;
  const std::string_view apiext = ApiextName(def);
  const bool is_time =
      def == kTimeDef || def == kMicroTimeDef ||
      (def.empty() && schema.type == Type::kString && schema.format == "date-time");
  if (is_time) {
    MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
    MINI8S_ASSIGN_OR_RETURN(SmallMessage m, ReadSmall(f.bytes, path));
    const auto seconds = static_cast<int64_t>(m.present[1] ? m.fields[1].scalar : 0);
    const auto nanos = static_cast<int32_t>(m.present[2] ? m.fields[2].scalar : 0);
    if (seconds == 0 && nanos == 0) {
      d.skip = true;  // Go's zero Time marshals as null
      return d;
    }
    MINI8S_ASSIGN_OR_RETURN(std::string s, FormatTime(seconds, nanos, def == kMicroTimeDef, path));
    d.value = json::string(s);
    return d;
  }
  if (def == kDurationDef) {
    MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
    MINI8S_ASSIGN_OR_RETURN(SmallMessage m, ReadSmall(f.bytes, path));
    const auto ns = static_cast<int64_t>(m.present[1] ? m.fields[1].scalar : 0);
    d.value = json::string(FormatGoDuration(ns));
    d.zero = ns == 0;
    return d;
  }
  if (def == kRawExtensionDef || def == kFieldsV1Def || apiext == kJsonName) {
    MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
    MINI8S_ASSIGN_OR_RETURN(SmallMessage m, ReadSmall(f.bytes, path));
    if (!m.present[1] || m.fields[1].bytes.empty()) {
      d.skip = true;  // no raw bytes: null in Go's JSON
      return d;
    }
    MINI8S_RETURN_IF_ERROR(ExpectWireType(m.fields[1], WireType::kLengthDelimited, path));
    MINI8S_ASSIGN_OR_RETURN(d.value, DecodeRaw(m.fields[1].bytes, path, depth));
    return d;
  }
  if (apiext == kPropsOrArrayName || apiext == kPropsOrBoolName ||
      apiext == kPropsOrStringArrayName) {
    MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
    MINI8S_RETURN_IF_ERROR(CheckDepth(depth + 1, path));
    const std::string props_def = std::string(kApiextPrefix) + std::string(kPropsName);
    const Schema* props = registry_.FindDefinition(props_def);
    if (props == nullptr) {
      return Status::Internal("protobuf: the registry has no " + props_def);
    }
    json::array schemas, strings;
    std::optional<json::object> single;
    bool allows = false;
    WireReader reader(f.bytes);
    while (!reader.done()) {
      MINI8S_ASSIGN_OR_RETURN(WireField ef, NextField(reader, path));
      // OrArray {1: schema, 2: repeated schemas}; OrBool {1: allows, 2: schema};
      // OrStringArray {1: schema, 2: repeated property}.
      const bool is_schema = apiext == kPropsOrBoolName ? ef.number == 2 : ef.number == 1;
      if (is_schema || (apiext == kPropsOrArrayName && ef.number == 2)) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(ef, WireType::kLengthDelimited, path));
        json::object o;
        MINI8S_RETURN_IF_ERROR(DecodeObject(*props, {}, ef.bytes, o, path, depth + 2));
        if (is_schema) {
          single = std::move(o);
        } else {
          schemas.push_back(std::move(o));
        }
      } else if (apiext == kPropsOrBoolName && ef.number == 1) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(ef, WireType::kVarint, path));
        allows = ef.scalar != 0;
      } else if (apiext == kPropsOrStringArrayName && ef.number == 2) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(ef, WireType::kLengthDelimited, path));
        strings.push_back(json::string(ef.bytes));
      } else {
        RecordUnknown(path, ef.number);
      }
    }
    // The JSON forms, as their Go MarshalJSON methods choose them.
    if (apiext == kPropsOrArrayName) {
      if (!schemas.empty()) {
        d.value = std::move(schemas);
      } else if (single) {
        d.value = std::move(*single);
      } else {
        d.skip = true;
      }
    } else if (apiext == kPropsOrBoolName) {
      if (single) {
        d.value = std::move(*single);
      } else {
        d.value = allows;
      }
    } else if (!strings.empty()) {
      d.value = std::move(strings);
    } else if (single) {
      d.value = std::move(*single);
    } else {
      d.skip = true;
    }
    return d;
  }
  handled = false;
  return d;
}

Result<Decoded> Decoder::DecodeSingle(const Schema& schema, const WireField& f,
                                      const PathNode* path, int depth, json::value* existing) {
  bool handled = false;
  MINI8S_ASSIGN_OR_RETURN(Decoded special,
                          DecodeSpecial(schema, schema.definition, f, path, depth, handled));
  if (handled) return special;
  Decoded d;
  switch (schema.type) {
    case Type::kString: {
      MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
      d.value = schema.format == "byte" ? json::string(Base64(f.bytes)) : json::string(f.bytes);
      d.zero = f.bytes.empty();
      return d;
    }
    case Type::kInteger:
    case Type::kNumber:
    case Type::kBoolean:
      if (f.type == WireType::kLengthDelimited) {
        return PathError(path, "wire type length-delimited does not fit a scalar field");
      }
      return DecodeScalar(schema, f.type, f.scalar, path);
    case Type::kIntOrString: {
      // {1: type (0 int, 1 string), 2: intVal, 3: strVal}
      MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
      MINI8S_RETURN_IF_ERROR(CheckDepth(depth + 1, path));
      MINI8S_ASSIGN_OR_RETURN(SmallMessage m, ReadSmall(f.bytes, path));
      const uint64_t kind = m.present[1] ? m.fields[1].scalar : 0;
      if (kind == 1) {
        if (m.present[3]) {
          MINI8S_RETURN_IF_ERROR(ExpectWireType(m.fields[3], WireType::kLengthDelimited, path));
        }
        const std::string_view s = m.present[3] ? m.fields[3].bytes : std::string_view();
        d.value = json::string(s);
        d.zero = s.empty();
      } else {
        if (m.present[2])
          MINI8S_RETURN_IF_ERROR(ExpectWireType(m.fields[2], WireType::kVarint, path));
        const auto v = static_cast<int32_t>(m.present[2] ? m.fields[2].scalar : 0);
        d.value = static_cast<int64_t>(v);
        d.zero = v == 0;
      }
      return d;
    }
    case Type::kQuantity: {
      // {1: string}; Go's zero Quantity prints "0".
      MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
      MINI8S_RETURN_IF_ERROR(CheckDepth(depth + 1, path));
      MINI8S_ASSIGN_OR_RETURN(SmallMessage m, ReadSmall(f.bytes, path));
      if (m.present[1]) {
        MINI8S_RETURN_IF_ERROR(ExpectWireType(m.fields[1], WireType::kLengthDelimited, path));
      }
      const std::string_view s = m.present[1] ? m.fields[1].bytes : std::string_view();
      d.value = s.empty() ? json::string("0") : json::string(s);
      d.zero = s.empty() || s == "0";
      return d;
    }
    case Type::kObject: {
      MINI8S_RETURN_IF_ERROR(ExpectWireType(f, WireType::kLengthDelimited, path));
      // A repeated occurrence of a message field merges into the earlier one (proto2).
      json::object o;
      if (existing != nullptr && existing->is_object()) o = std::move(existing->get_object());
      MINI8S_RETURN_IF_ERROR(DecodeObject(schema, {}, f.bytes, o, path, depth + 1));
      d.value = std::move(o);  // an empty message is still {} in Go's JSON
      return d;
    }
    case Type::kArray: {
      // Only reachable for arrays nested in arrays or maps: a wrapper message.
      MINI8S_ASSIGN_OR_RETURN(d.value, DecodeWrappedArray(schema, f, path, depth));
      return d;
    }
    case Type::kAny:
      break;
  }
  // No schema to decode against (an untyped field): skipped, like an unknown field.
  if (options_.unknown_fields != nullptr) options_.unknown_fields->push_back(RenderPath(path));
  d.skip = true;
  return d;
}

Result<json::value> Decoder::DecodeEnvelope(std::string_view body, int depth) {
  MINI8S_RETURN_IF_ERROR(CheckDepth(depth, nullptr));
  MINI8S_ASSIGN_OR_RETURN(ProtobufEnvelope env, ParseProtobufEnvelope(body));
  if (!env.content_encoding.empty()) {
    return Status(Code::kUnsupportedMedia,
                  "protobuf: unsupported content encoding \"" + env.content_encoding + "\"");
  }
  if (env.api_version.empty() || env.kind.empty()) {
    return Status::BadRequest("protobuf: the envelope carries no apiVersion and kind");
  }
  json::object out;
  out["apiVersion"] = env.api_version;
  out["kind"] = env.kind;
  const std::string_view ct = env.content_type;
  if (ct == "application/json" || ct.substr(0, 17) == "application/json;") {
    boost::system::error_code ec;
    json::value v = json::parse(json::string_view(env.raw.data(), env.raw.size()), ec);
    if (ec || !v.is_object()) return Status::BadRequest("protobuf: embedded JSON is not an object");
    for (auto& kv : v.get_object()) out[kv.key()] = std::move(kv.value());
    out["apiVersion"] = env.api_version;
    out["kind"] = env.kind;
    return json::value(std::move(out));
  }
  if (!ct.empty() && ct.substr(0, kProtobufMediaType.size()) != kProtobufMediaType) {
    return Status(Code::kUnsupportedMedia,
                  "protobuf: unsupported embedded content type \"" + env.content_type + "\"");
  }
  KindInfoConstSharedPtr kind = registry_.FindByApiVersionKind(env.api_version, env.kind);
  if (kind == nullptr || kind->schema == nullptr) {
    return Status::BadRequest("protobuf: no kind \"" + env.kind +
                              "\" is registered for version \"" + env.api_version + "\"");
  }
  if (kind->custom) {
    // As upstream: custom resources have no protobuf form (their schemas carry no numbers).
    return Status(Code::kUnsupportedMedia, "protobuf: " + env.kind + "." + kind->group +
                                               " is a custom resource; send it as JSON");
  }
  MINI8S_RETURN_IF_ERROR(DecodeObject(*kind->schema, {}, env.raw, out, nullptr, depth + 1));
  return json::value(std::move(out));
}

}  // namespace

bool HasProtobufMagic(std::string_view body) {
  return body.substr(0, kProtobufMagic.size()) == kProtobufMagic;
}

Result<ProtobufEnvelope> ParseProtobufEnvelope(std::string_view body) {
  if (!HasProtobufMagic(body)) {
    return Status::BadRequest("protobuf: the body does not start with the \"k8s\\0\" magic");
  }
  ProtobufEnvelope env;
  protobuf_internal::WireReader reader(body.substr(kProtobufMagic.size()));
  auto want_bytes = [](const WireField& f, std::string_view what) -> Status {
    if (f.type == WireType::kLengthDelimited) return Status::OK();
    return Status::BadRequest("protobuf: envelope field " + std::string(what) + " has wire type " +
                              std::string(WireTypeName(f.type)));
  };
  while (!reader.done()) {
    MINI8S_ASSIGN_OR_RETURN(WireField f, NextField(reader, nullptr));
    switch (f.number) {
      case 1: {  // typeMeta {1: apiVersion, 2: kind}
        MINI8S_RETURN_IF_ERROR(want_bytes(f, "typeMeta"));
        protobuf_internal::WireReader tm(f.bytes);
        while (!tm.done()) {
          MINI8S_ASSIGN_OR_RETURN(WireField t, NextField(tm, nullptr));
          if (t.number == 1) {
            MINI8S_RETURN_IF_ERROR(want_bytes(t, "typeMeta.apiVersion"));
            env.api_version.assign(t.bytes);
          } else if (t.number == 2) {
            MINI8S_RETURN_IF_ERROR(want_bytes(t, "typeMeta.kind"));
            env.kind.assign(t.bytes);
          }
        }
        break;
      }
      case 2:
        MINI8S_RETURN_IF_ERROR(want_bytes(f, "raw"));
        env.raw = f.bytes;
        break;
      case 3:
        MINI8S_RETURN_IF_ERROR(want_bytes(f, "contentEncoding"));
        env.content_encoding.assign(f.bytes);
        break;
      case 4:
        MINI8S_RETURN_IF_ERROR(want_bytes(f, "contentType"));
        env.content_type.assign(f.bytes);
        break;
      default:
        break;  // newer envelope fields are ignored
    }
  }
  return env;
}

Result<json::value> DecodeProtobuf(const Registry& registry, std::string_view body,
                                   const ProtobufDecodeOptions& options) {
  try {
    return Decoder(registry, options).DecodeEnvelope(body, 0);
  } catch (const std::exception& e) {  // Boost.JSON allocation failures and the like
    return Status::BadRequest(std::string("protobuf: ") + e.what());
  }
}

Result<json::value> DecodeProtobufMessage(const Registry& registry, const Schema& schema,
                                          std::string_view message,
                                          const ProtobufDecodeOptions& options) {
  try {
    json::object out;
    MINI8S_RETURN_IF_ERROR(
        Decoder(registry, options).DecodeObject(schema, {}, message, out, nullptr, 1));
    return json::value(std::move(out));
  } catch (const std::exception& e) {
    return Status::BadRequest(std::string("protobuf: ") + e.what());
  }
}

}  // namespace mini8s::api
