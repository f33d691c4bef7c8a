// Fuzz target: a Pod request body as the API server handles a JSON create: strict JSON parse
// (duplicate keys collected), schema check (types, unknown fields), defaulting, create validation.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mini8s/api/defaults.h"
#include "mini8s/api/registry.h"
#include "mini8s/api/validation.h"
#include "mini8s/common/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto registry = mini8s::api::Registry::NewBuiltin();
  static const auto pod = registry->FindKind("", "v1", "Pod");
  std::vector<std::string> duplicates;
  mini8s::JsonParseOptions opts;
  opts.duplicate_fields = &duplicates;
  auto parsed =
      mini8s::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), opts);
  if (!parsed.ok() || !parsed->is_object()) return 0;
  auto sv = mini8s::api::ValidateAgainstSchema(*pod->schema, *parsed);
  // The server answers 400 on decode errors and stops there; the rest only sees typed objects.
  if (!sv.decode_errors.empty()) return 0;
  boost::json::object obj = parsed->as_object();
  mini8s::api::ApplyDefaults(*pod, obj);
  (void)mini8s::api::ValidateCreate(*pod, obj);
  // Defaulting is documented as idempotent.
  boost::json::object again = obj;
  mini8s::api::ApplyDefaults(*pod, again);
  if (again != obj) __builtin_trap();
  return 0;
}
