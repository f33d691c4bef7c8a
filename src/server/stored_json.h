// The GET fast path: a stored object as clients see it, made from its stored bytes without a
// parse and a serialization. Stored values are the server's own SerializeJson output without
// metadata.resourceVersion (the store's revision is the resourceVersion), so adding that one
// member before metadata's closing brace gives the bytes Decode + SerializeJson would give.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mini8s::server {

// `stored` with `"resourceVersion":"<revision>"` appended to its top-level metadata object.
// nullopt when the value is not in the expected shape (not a JSON object, no metadata object,
// a resourceVersion already there, escaped keys, malformed): the caller takes the slow path.
std::optional<std::string> WithResourceVersion(std::string_view stored, int64_t revision);

}  // namespace mini8s::server
