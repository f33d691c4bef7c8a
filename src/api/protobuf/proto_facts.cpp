#include "api/protobuf/proto_facts.h"

#include <algorithm>

namespace mini8s::api::protobuf_internal {
namespace {

#include "api/protobuf/proto_facts.inc"

bool KeepZeroLess(const KeepZeroField& a, const KeepZeroField& b) {
  return a.definition != b.definition ? a.definition < b.definition : a.name < b.name;
}

}  // namespace

std::span<const InlineField> InlineFields() { return kInlineFields; }
std::span<const InlineTag> InlineTags() { return kInlineTags; }
std::span<const KeepZeroField> KeepZeroFields() { return kKeepZeroFields; }

std::optional<std::string_view> FindInlineField(std::string_view parent, uint32_t number) {
  for (const InlineField& f : kInlineFields) {
    if (f.number == number && f.parent == parent) return f.target;
  }
  return std::nullopt;
}

std::optional<std::string_view> FindInlineTagName(std::string_view definition, uint32_t number) {
  for (const InlineTag& t : kInlineTags) {
    if (t.number == number && t.definition == definition) return t.name;
  }
  return std::nullopt;
}

bool IsKeepZeroField(std::string_view definition, std::string_view name) {
  // The generator writes the table sorted; a unit test checks that.
  return std::binary_search(std::begin(kKeepZeroFields), std::end(kKeepZeroFields),
                            KeepZeroField{definition, name}, KeepZeroLess);
}

}  // namespace mini8s::api::protobuf_internal
