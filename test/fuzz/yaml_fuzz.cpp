// Fuzz target: the YAML decoder (single document with go-yaml's strict duplicate-key rule, and
// multi-document streams as kubectl apply -f sends them), plus the JSON round trip of what parsed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mini8s/common/json.h"
#include "mini8s/common/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto one = mini8s::ParseYaml(text);
  if (one.ok()) {
    (void)mini8s::ToYaml(*one);
    (void)mini8s::SerializeJson(*one);
  }
  (void)mini8s::ParseYamlDocuments(text);
  return 0;
}
