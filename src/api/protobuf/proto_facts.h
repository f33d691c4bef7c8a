// Facts the protobuf decoder needs beyond Property::proto_tag, generated together with
// src/api/core/gen/proto_tags.json by src/api/core/gen/gen_proto_tags.py. Private to
// src/api/protobuf. The tables are constant; lookups are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mini8s::api::protobuf_internal {

// A Go struct embedded with `json:",inline"`: its fields appear flattened in the parent's JSON
// (and in the swagger definition) but travel as one nested message with its own numbering.
struct InlineField {
  std::string_view parent;  // definition of the enclosing message
  uint32_t number;          // field number of the embedded message in the parent
  std::string_view target;  // definition of the embedded message
};

// One field of an inline-embedded message: {definition, JSON name, field number}.
struct InlineTag {
  std::string_view definition;
  std::string_view name;
  uint32_t number;
};

// A non-repeated scalar-like field whose zero value is meaningful in JSON: a Go pointer (the
// encoder skips nil, so a zero on the wire was set on purpose) or a field without omitempty.
struct KeepZeroField {
  std::string_view definition;
  std::string_view name;
};

std::span<const InlineField> InlineFields();
std::span<const InlineTag> InlineTags();
std::span<const KeepZeroField> KeepZeroFields();

// The definition embedded inline at `number` of `parent`, if any.
std::optional<std::string_view> FindInlineField(std::string_view parent, uint32_t number);
// The JSON name of field `number` of the inline-embedded message `definition`, if any.
std::optional<std::string_view> FindInlineTagName(std::string_view definition, uint32_t number);
// True if a zero value of `definition`.`name` must be kept in the JSON.
bool IsKeepZeroField(std::string_view definition, std::string_view name);

}  // namespace mini8s::api::protobuf_internal
