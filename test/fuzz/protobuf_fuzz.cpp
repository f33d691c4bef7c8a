// Fuzz target: protobuf request bodies (application/vnd.kubernetes.protobuf): the envelope, kind
// lookup in the built-in registry and the schema-driven message decoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mini8s/api/protobuf.h"
#include "mini8s/api/registry.h"
#include "mini8s/common/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto registry = mini8s::api::Registry::NewBuiltin();
  std::string body(reinterpret_cast<const char*>(data), size);
  // Most mutations of a seed keep the magic; also try the input as a bare envelope payload.
  if (!mini8s::api::HasProtobufMagic(body)) body.insert(0, std::string("k8s\0", 4));
  auto v = mini8s::api::DecodeProtobuf(*registry, body);
  if (v.ok()) (void)mini8s::SerializeJson(*v);
  return 0;
}
