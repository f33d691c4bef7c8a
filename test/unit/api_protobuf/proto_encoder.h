// A tiny protobuf encoder for building decoder test inputs by hand. Test-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mini8s::api::testing {

inline std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (v != 0);
  return out;
}

inline std::string Key(uint32_t number, int wire_type) {
  return Varint((static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(wire_type));
}

// Field builders: VarintField(2, 5) is "field 2 = 5".
inline std::string VarintField(uint32_t number, uint64_t v) { return Key(number, 0) + Varint(v); }
inline std::string IntField(uint32_t number, int64_t v) {
  return VarintField(number, static_cast<uint64_t>(v));
}
inline std::string BytesField(uint32_t number, std::string_view bytes) {
  return Key(number, 2) + Varint(bytes.size()) + std::string(bytes);
}
inline std::string DoubleField(uint32_t number, double d) {
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  std::string out = Key(number, 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}
inline std::string Fixed32Field(uint32_t number, uint32_t v) {
  std::string out = Key(number, 5);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
// A map entry {1: key, 2: value} where `value` is already an encoded payload.
inline std::string MapEntry(uint32_t number, std::string_view key, std::string_view value) {
  return BytesField(number, BytesField(1, key) + BytesField(2, value));
}

// The "k8s\0" envelope around an encoded object.
inline std::string Envelope(std::string_view api_version, std::string_view kind,
                            std::string_view raw, std::string_view content_type = {}) {
  std::string type_meta = BytesField(1, api_version) + BytesField(2, kind);
  std::string unknown = BytesField(1, type_meta) + BytesField(2, raw) + BytesField(3, "") +
                        BytesField(4, content_type);
  return std::string("k8s\0", 4) + unknown;
}

inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

}  // namespace mini8s::api::testing
