// Protobuf wire-format primitives for the request-body decoder. Private to src/api/protobuf.
//
// A WireReader walks the fields of one message without allocating; every length is checked
// against the remaining input, so truncated or hostile input yields kBadRequest, never a read
// past the buffer. Thread-compatible value type.
#pragma once

#include <cstdint>
#include <string_view>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api::protobuf_internal {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// One field as read off the wire. `number` is the scalar for kVarint, kFixed64 and kFixed32;
// `bytes` is the payload of kLengthDelimited (a view into the reader's input).
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t scalar = 0;
  std::string_view bytes;
};

// The spelling used in error messages ("varint", "length-delimited", ...).
std::string_view WireTypeName(WireType type);

// Reads a base-128 varint of at most 10 bytes from the front of `data`, advancing it.
Result<uint64_t> ReadVarint(std::string_view& data);

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return data_.empty(); }

  // The next field. kBadRequest on a truncated varint or payload, a field number of 0 or above
  // 2^29-1, or a group wire type (Kubernetes messages never use groups).
  Result<WireField> Next();

 private:
  std::string_view data_;
};

}  // namespace mini8s::api::protobuf_internal
