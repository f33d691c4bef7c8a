// Decoding of Kubernetes protobuf request bodies (`Content-Type:
// application/vnd.kubernetes.protobuf`) into the JSON form of the same object, so that everything
// after the HTTP edge only sees JSON.
//
// kubectl >= 1.32 sends the typed-clientset commands (`create <generator>`, `auth can-i`,
// `create token`, ...) as protobuf and client-go does not fall back to JSON on 415
// (kubectl-wire.md §3.12). The body is the 4-byte magic "k8s\0" followed by a runtime.Unknown
// message {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType};
// `raw` is the object's own message, decoded here with the field numbers the schema registry
// carries (Property::proto_tag) plus the generated facts in src/api/protobuf/proto_facts.inc.
//
// Zero values: Go's encoder writes every non-pointer scalar, so "" and 0 arrive for fields the
// client never set. A zero scalar is dropped unless the field is a pointer or has no omitempty in
// its JSON tag (then the zero is what the JSON form would carry too). See docs/design/protobuf.md.
//
// All functions are pure and thread-safe; they never throw and never crash on malformed input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"

namespace mini8s::api {

// The media type and the 4-byte prefix of every protobuf-encoded Kubernetes object.
inline constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";
inline constexpr std::string_view kProtobufMagic{"k8s\0", 4};

struct ProtobufDecodeOptions {
  // Bound on message nesting (a PodTemplate inside a CronJob is about 12 deep). Deeper input is
  // rejected with kBadRequest instead of exhausting the stack.
  int max_depth = 100;
  // When set, receives the path (e.g. "spec.foo" or "spec.template.spec.#27") of every field the
  // schema has no number for. Such fields are skipped, as Kubernetes' own decoder does; a caller
  // enforcing fieldValidation=Strict may reject them.
  std::vector<std::string>* unknown_fields = nullptr;
};

// The parsed runtime.Unknown envelope. `raw` points into the body passed to ParseProtobufEnvelope.
struct ProtobufEnvelope {
  std::string api_version;
  std::string kind;
  std::string content_encoding;
  std::string content_type;
  std::string_view raw;
};

// True if `body` starts with the "k8s\0" magic.
bool HasProtobufMagic(std::string_view body);

// Checks the magic and parses the envelope. kBadRequest on a missing magic or malformed message.
Result<ProtobufEnvelope> ParseProtobufEnvelope(std::string_view body);

// Decodes a whole request body: envelope, kind lookup (Registry::FindByApiVersionKind) and the
// object. The result is the object's JSON form with "apiVersion" and "kind" from the envelope.
// kBadRequest for malformed input or an unknown kind; kUnsupportedMedia for a content encoding
// or an embedded content type other than protobuf/JSON.
Result<boost::json::value> DecodeProtobuf(const Registry& registry, std::string_view body,
                                          const ProtobufDecodeOptions& options = {});

// Decodes one message (no envelope) as `schema`, an object schema whose properties carry
// proto_tag. `registry` resolves the definitions some special types refer to (JSONSchemaProps).
Result<boost::json::value> DecodeProtobufMessage(const Registry& registry, const Schema& schema,
                                                 std::string_view message,
                                                 const ProtobufDecodeOptions& options = {});

}  // namespace mini8s::api
