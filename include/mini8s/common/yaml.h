// YAML <-> JSON, behaving like Kubernetes' manifest handling (sigs.k8s.io/yaml over go-yaml v2):
//
// Reading (yaml-cpp parses; the typing rules are go-yaml v2's, YAML 1.1-flavoured):
//   - unquoted scalars resolve as go-yaml v2 does: true/false/yes/no/on/off/y/n (any of the usual
//     capitalisations) are booleans; null, Null, NULL, ~ and empty values are null; integers take
//     Go's base prefixes (0x1F, 0o17, 017 octal, 0b101) and underscores (1_000); ints that fit
//     int64 or uint64 are kept exact (12345678901234567890 stays an integer); floats (1.5, 1e3, .5)
//     go through JSON as Go writes them, so an integral float (1.0) becomes the integer 1;
//     timestamps stay strings. Quoted and block scalars (| and >) are always strings. Explicit tags
//     !!str,
//     !!int, !!float, !!bool, !!null and !!binary are honoured; unknown tags are ignored.
//   - .nan/.inf cannot be represented in JSON and are errors (as json.Marshal fails in Go); a
//     float literal that overflows a double stays a string, as in go-yaml.
//   - Non-string keys become strings (1 -> "1", true -> "true", 1.5 -> "1.5"); null, sequence
//     and mapping keys are errors.
//   - Anchors, aliases and merge keys (<<: *base, <<: [*a, *b]) are supported; merged keys are
//     applied in document order as go-yaml v2 does. Alias expansion is bounded (go-yaml's
//     "excessive aliasing" ratio), and an alias cycle is an error.
//   - Duplicate keys are an error by default ("mapping key \"a\" already defined at line 2"), like
//     go-yaml v2's strict mode that the apiserver uses; YamlParseOptions can instead let the last
//     one win and collect the duplicate paths (for fieldValidation=Warn).
//   - Nesting is limited by yaml-cpp (about 500 levels); deeper input is an error, not a crash.
//   - Every error is kBadRequest with "line L, column C: <problem>" (1-based).
//
// Writing (ToYaml) reproduces `kubectl -o yaml` (go-yaml v2's emitter): 2-space indent, sequences
// inside a mapping not indented ("- " at the key's column), keys sorted the way go-yaml sorts map
// keys (numbers inside keys compare numerically), strings quoted only when needed ("1", "true",
// "", "2024-01-01" double-quoted; ': ', '#', leading indicators single-quoted), multi-line
// strings as | / |- / |+ literal blocks, long strings folded at column 80.
//
// Thread-safe: all functions are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mini8s/common/result.h"

namespace mini8s {

struct YamlParseOptions {
  // When false, a repeated mapping key overwrites the earlier one and its path is appended to
  // duplicate_fields (if set), in the apiserver's strict-decoding form: `metadata.name`.
  bool reject_duplicate_keys = true;
  std::vector<std::string>* duplicate_fields = nullptr;
};

// Parses a stream that must hold at most one non-empty document; an empty stream is null.
Result<boost::json::value> ParseYaml(std::string_view text, const YamlParseOptions& options = {});

// Parses a multi-document stream ("---" separated), skipping empty and null documents as kubectl
// does when reading manifests.
Result<std::vector<boost::json::value>> ParseYamlDocuments(std::string_view text,
                                                           const YamlParseOptions& options = {});

// One YAML document in kubectl -o yaml form, ending with a newline (no leading "---").
std::string ToYaml(const boost::json::value& v);

// True when `s`, written as a plain (unquoted) YAML scalar, would not read back as the string `s`
// under go-yaml v2's rules: "1", "true", "yes", "~", "", "2024-01-02", "1:20" and the like.
bool YamlPlainScalarIsNotString(std::string_view s);

}  // namespace mini8s
