// ValueTransformer: how the values of some keys are written to disk (encryption at rest,
// docs/design/secrets-encryption.md). The store keeps plaintext in memory (the state, the watch
// window, every read and watch event) and passes values through the transformer only when it
// writes rows to, or loads rows from, its backend, so the database holds only the transformed
// form while revisions and watch semantics are unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mini8s/common/result.h"

namespace mini8s::store {

class ValueTransformer {
 public:
  virtual ~ValueTransformer() = default;
  // Whether the values of `key` are transformed (e.g. keys under "/registry/secrets/").
  virtual bool Applies(std::string_view key) const = 0;
  // The bytes to store for `value`. Called on the store's writer thread.
  virtual Result<std::string> ToStorage(std::string_view key, std::string_view value) const = 0;
  // The value stored as `stored`. Sets `*stale` when the stored form is not the one ToStorage
  // would write now (plaintext, or another key), so Store::RewriteStored would rewrite it. An
  // error (e.g. no key matches) is kept by the store as the raw stored bytes: never data loss.
  virtual Result<std::string> FromStorage(std::string_view key, std::string_view stored,
                                          bool* stale) const = 0;
};

// What Store::RewriteStored did.
struct RewriteStats {
  int64_t examined = 0;   // rows under the prefix holding a value
  int64_t rewritten = 0;  // rows whose stored form was stale and were written again
  int64_t failed = 0;     // rows that could not be read (left as they were)
  std::string first_error;
};

}  // namespace mini8s::store
