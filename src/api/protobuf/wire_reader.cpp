#include "api/protobuf/wire_reader.h"

#include <cstring>
#include <string>

namespace mini8s::api::protobuf_internal {

std::string_view WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "fixed32";
  }
  return "invalid";
}

Result<uint64_t> ReadVarint(std::string_view& data) {
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (data.empty()) return Status::BadRequest("truncated varint");
    const auto byte = static_cast<uint8_t>(data.front());
    data.remove_prefix(1);
    // The tenth byte may only carry bit 63.
    if (i == 9 && byte > 1) return Status::BadRequest("varint overflows 64 bits");
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return value;
  }
  return Status::BadRequest("varint longer than 10 bytes");
}

namespace {

uint64_t LoadLittleEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return v;
}

}  // namespace

Result<WireField> WireReader::Next() {
  MINI8S_ASSIGN_OR_RETURN(uint64_t key, ReadVarint(data_));
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) {
    return Status::BadRequest("invalid field number " + std::to_string(number));
  }
  WireField field;
  field.number = static_cast<uint32_t>(number);
  const auto raw_type = static_cast<uint8_t>(key & 7);
  switch (raw_type) {
    case 0: {
      field.type = WireType::kVarint;
      MINI8S_ASSIGN_OR_RETURN(field.scalar, ReadVarint(data_));
      return field;
    }
    case 1:
    case 5: {
      const size_t width = raw_type == 1 ? 8 : 4;
      field.type = raw_type == 1 ? WireType::kFixed64 : WireType::kFixed32;
      if (data_.size() < width) {
        return Status::BadRequest("truncated " + std::string(WireTypeName(field.type)) +
                                  " in field " + std::to_string(number));
      }
      field.scalar = LoadLittleEndian(data_.substr(0, width));
      data_.remove_prefix(width);
      return field;
    }
    case 2: {
      field.type = WireType::kLengthDelimited;
      MINI8S_ASSIGN_OR_RETURN(uint64_t length, ReadVarint(data_));
      if (length > data_.size()) {
        return Status::BadRequest("field " + std::to_string(number) + " length " +
                                  std::to_string(length) + " exceeds the " +
                                  std::to_string(data_.size()) + " bytes left");
      }
      field.bytes = data_.substr(0, static_cast<size_t>(length));
      data_.remove_prefix(static_cast<size_t>(length));
      return field;
    }
    case 3:
    case 4:
      return Status::BadRequest("group wire type in field " + std::to_string(number) +
                                " is not supported");
    default:
      return Status::BadRequest("invalid wire type " + std::to_string(raw_type) + " in field " +
                                std::to_string(number));
  }
}

}  // namespace mini8s::api::protobuf_internal
