// Fuzz target: label and field selector parsing (the labelSelector / fieldSelector query
// parameters). The first line is parsed as both; a parsed selector is printed, re-parsed (the
// printed form must parse) and matched against a fixed label set.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mini8s/api/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const mini8s::api::StringMap labels = {
      {"app", "web"}, {"tier", "frontend"}, {"version", "3"}, {"metadata.name", "pod-1"}};
  auto ls = mini8s::api::LabelSelector::Parse(text);
  if (ls.ok()) {
    (void)ls->Matches(labels);
    auto again = mini8s::api::LabelSelector::Parse(ls->String());
    if (!again.ok()) __builtin_trap();
  }
  auto fsel = mini8s::api::FieldSelector::Parse(text);
  if (fsel.ok()) {
    (void)fsel->Matches(labels);
    auto again = mini8s::api::FieldSelector::Parse(fsel->String());
    if (!again.ok()) __builtin_trap();
  }
  (void)mini8s::api::UnescapeFieldValue(text);
  (void)mini8s::api::ValidateLabelKey(text);
  (void)mini8s::api::ValidateLabelValue(text);
  return 0;
}
