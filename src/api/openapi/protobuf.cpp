// Swagger 2.0 JSON -> gnostic's openapi.v2.Document protobuf, the only /openapi/v2 encoding
// kubectl accepts (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf).
//
// Field numbers are those of gnostic-models' openapiv2/OpenAPIv2.proto. Only what OpenApiV2Json
// produces is encoded; vendor extensions and free-form values (default, enum) travel as
// openapi.v2.Any{yaml}, and JSON text is valid YAML.
#include <cstdint>
#include <cstring>
#include <string>

#include <boost/json/serialize.hpp>

#include "mini8s/api/openapi.h"

namespace mini8s::api {

namespace json = boost::json;

namespace {

class Writer {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void Tag(int field, int wire) { Varint(static_cast<uint64_t>(field) << 3 | wire); }
  void String(int field, std::string_view s) {
    Tag(field, 2);
    Varint(s.size());
    out_.append(s);
  }
  void Bool(int field, bool b) {
    if (!b) return;  // proto3 default
    Tag(field, 0);
    Varint(1);
  }
  void Int(int field, int64_t v) {
    Tag(field, 0);
    Varint(static_cast<uint64_t>(v));
  }
  void Double(int field, double d) {
    Tag(field, 1);
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  void Message(int field, const Writer& m) { String(field, m.out_); }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

std::string_view Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string_view(it->value().get_string())
                                                  : std::string_view();
}

// openapi.v2.Any{yaml = 2}
Writer AnyYaml(const json::value& v) {
  Writer w;
  w.String(2, json::serialize(v));
  return w;
}

// repeated NamedAny vendor_extension: every "x-" key.
void VendorExtensions(const json::object& o, int field, Writer& w) {
  for (const auto& kv : o) {
    if (kv.key().substr(0, 2) != "x-") continue;
    Writer named;
    named.String(1, kv.key());
    named.Message(2, AnyYaml(kv.value()));
    w.Message(field, named);
  }
}

Writer EncodeSchema(const json::object& s) {
  Writer w;
  if (auto ref = Str(s, "$ref"); !ref.empty()) w.String(1, ref);
  if (auto f = Str(s, "format"); !f.empty()) w.String(2, f);
  if (auto d = Str(s, "description"); !d.empty()) w.String(4, d);
  if (const json::value* d = s.if_contains("default")) w.Message(5, AnyYaml(*d));
  auto number = [&](std::string_view key, int field) {
    if (const json::value* v = s.if_contains(key); v && v->is_number()) {
      w.Double(field, v->to_number<double>());
    }
  };
  auto integer = [&](std::string_view key, int field) {
    if (const json::value* v = s.if_contains(key); v && v->is_number()) {
      w.Int(field, v->to_number<int64_t>());
    }
  };
  auto boolean = [&](std::string_view key, int field) {
    if (const json::value* v = s.if_contains(key); v && v->is_bool()) w.Bool(field, v->get_bool());
  };
  number("maximum", 7);
  boolean("exclusiveMaximum", 8);
  number("minimum", 9);
  boolean("exclusiveMinimum", 10);
  integer("maxLength", 11);
  integer("minLength", 12);
  if (auto p = Str(s, "pattern"); !p.empty()) w.String(13, p);
  integer("maxItems", 14);
  integer("minItems", 15);
  boolean("uniqueItems", 16);
  integer("maxProperties", 17);
  integer("minProperties", 18);
  if (const json::value* r = s.if_contains("required"); r && r->is_array()) {
    for (const auto& v : r->get_array()) {
      if (v.is_string()) w.String(19, v.get_string());
    }
  }
  if (const json::value* e = s.if_contains("enum"); e && e->is_array()) {
    for (const auto& v : e->get_array()) w.Message(20, AnyYaml(v));
  }
  if (const json::value* ap = s.if_contains("additionalProperties")) {
    Writer item;  // AdditionalPropertiesItem{schema = 1 | boolean = 2}
    if (ap->is_object()) {
      item.Message(1, EncodeSchema(ap->get_object()));
    } else if (ap->is_bool()) {
      item.Tag(2, 0);
      item.Varint(ap->get_bool() ? 1 : 0);
    }
    w.Message(21, item);
  }
  if (auto t = Str(s, "type"); !t.empty()) {
    Writer type;  // TypeItem{repeated string value = 1}
    type.String(1, t);
    w.Message(22, type);
  }
  if (const json::value* items = s.if_contains("items"); items && items->is_object()) {
    Writer item;  // ItemsItem{repeated Schema schema = 1}
    item.Message(1, EncodeSchema(items->get_object()));
    w.Message(23, item);
  }
  if (const json::value* all = s.if_contains("allOf"); all && all->is_array()) {
    for (const auto& v : all->get_array()) {
      if (v.is_object()) w.Message(24, EncodeSchema(v.get_object()));
    }
  }
  if (const json::value* props = s.if_contains("properties"); props && props->is_object()) {
    Writer properties;  // Properties{repeated NamedSchema additional_properties = 1}
    for (const auto& kv : props->get_object()) {
      if (!kv.value().is_object()) continue;
      Writer named;
      named.String(1, kv.key());
      named.Message(2, EncodeSchema(kv.value().get_object()));
      properties.Message(1, named);
    }
    w.Message(25, properties);
  }
  VendorExtensions(s, 31, w);
  return w;
}

// ParametersItem{parameter = 1: Parameter{body_parameter = 1 | non_body_parameter = 2}}
Writer EncodeParameter(const json::object& p) {
  std::string_view in = Str(p, "in");
  Writer param;
  if (in == "body") {
    Writer body;
    if (auto d = Str(p, "description"); !d.empty()) body.String(1, d);
    body.String(2, Str(p, "name"));
    body.String(3, in);
    if (const json::value* r = p.if_contains("required"); r && r->is_bool()) {
      body.Bool(4, r->get_bool());
    }
    if (const json::value* s = p.if_contains("schema"); s && s->is_object()) {
      body.Message(5, EncodeSchema(s->get_object()));
    }
    param.Message(1, body);
  } else {
    // Query and path sub-schemas share the first fields (required 1, in 2, description 3,
    // name 4); the type is 6 for query (after allow_empty_value) and 5 for path.
    bool query = in == "query";
    Writer sub;
    if (const json::value* r = p.if_contains("required"); r && r->is_bool()) {
      sub.Bool(1, r->get_bool());
    }
    sub.String(2, in);
    if (auto d = Str(p, "description"); !d.empty()) sub.String(3, d);
    sub.String(4, Str(p, "name"));
    if (auto t = Str(p, "type"); !t.empty()) sub.String(query ? 6 : 5, t);
    if (const json::value* u = p.if_contains("uniqueItems"); u && u->is_bool()) {
      sub.Bool(query ? 20 : 19, u->get_bool());
    }
    VendorExtensions(p, query ? 23 : 22, sub);
    Writer non_body;  // NonBodyParameter{query = 3 | path = 4}
    non_body.Message(query ? 3 : 4, sub);
    param.Message(2, non_body);
  }
  Writer item;
  item.Message(1, param);
  return item;
}

void StringList(const json::object& o, std::string_view key, int field, Writer& w) {
  if (const json::value* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& s : v->get_array()) {
      if (s.is_string()) w.String(field, s.get_string());
    }
  }
}

void Parameters(const json::object& o, int field, Writer& w) {
  if (const json::value* ps = o.if_contains("parameters"); ps && ps->is_array()) {
    for (const auto& p : ps->get_array()) {
      if (p.is_object()) w.Message(field, EncodeParameter(p.get_object()));
    }
  }
}

Writer EncodeOperation(const json::object& op) {
  Writer w;
  StringList(op, "tags", 1, w);
  if (auto d = Str(op, "description"); !d.empty()) w.String(3, d);
  if (auto id = Str(op, "operationId"); !id.empty()) w.String(5, id);
  StringList(op, "produces", 6, w);
  StringList(op, "consumes", 7, w);
  Parameters(op, 8, w);
  if (const json::value* rs = op.if_contains("responses"); rs && rs->is_object()) {
    Writer responses;  // Responses{repeated NamedResponseValue response_code = 1}
    for (const auto& kv : rs->get_object()) {
      if (!kv.value().is_object()) continue;
      const json::object& r = kv.value().get_object();
      Writer response;  // Response{description 1, schema 2: SchemaItem{schema 1}}
      response.String(1, Str(r, "description"));
      if (const json::value* s = r.if_contains("schema"); s && s->is_object()) {
        Writer schema_item;
        schema_item.Message(1, EncodeSchema(s->get_object()));
        response.Message(2, schema_item);
      }
      Writer value;  // ResponseValue{response = 1}
      value.Message(1, response);
      Writer named;
      named.String(1, kv.key());
      named.Message(2, value);
      responses.Message(1, named);
    }
    w.Message(9, responses);
  }
  StringList(op, "schemes", 10, w);
  VendorExtensions(op, 13, w);
  return w;
}

Writer EncodePathItem(const json::object& item) {
  Writer w;
  constexpr std::pair<std::string_view, int> kMethods[] = {
      {"get", 2},     {"put", 3},  {"post", 4}, {"delete", 5},
      {"options", 6}, {"head", 7}, {"patch", 8}};
  for (auto [method, field] : kMethods) {
    if (const json::value* op = item.if_contains(method); op && op->is_object()) {
      w.Message(field, EncodeOperation(op->get_object()));
    }
  }
  Parameters(item, 9, w);
  VendorExtensions(item, 10, w);
  return w;
}

}  // namespace

std::string EncodeOpenApiV2Protobuf(const json::object& swagger) {
  Writer doc;
  doc.String(1, Str(swagger, "swagger"));
  if (const json::value* info = swagger.if_contains("info"); info && info->is_object()) {
    Writer w;
    w.String(1, Str(info->get_object(), "title"));
    w.String(2, Str(info->get_object(), "version"));
    doc.Message(2, w);
  }
  if (const json::value* paths = swagger.if_contains("paths"); paths && paths->is_object()) {
    Writer w;  // Paths{repeated NamedPathItem path = 2}
    for (const auto& kv : paths->get_object()) {
      if (!kv.value().is_object()) continue;
      Writer named;
      named.String(1, kv.key());
      named.Message(2, EncodePathItem(kv.value().get_object()));
      w.Message(2, named);
    }
    doc.Message(8, w);
  }
  if (const json::value* defs = swagger.if_contains("definitions"); defs && defs->is_object()) {
    Writer w;  // Definitions{repeated NamedSchema additional_properties = 1}
    for (const auto& kv : defs->get_object()) {
      if (!kv.value().is_object()) continue;
      Writer named;
      named.String(1, kv.key());
      named.Message(2, EncodeSchema(kv.value().get_object()));
      w.Message(1, named);
    }
    doc.Message(9, w);
  }
  return doc.str();
}

}  // namespace mini8s::api
