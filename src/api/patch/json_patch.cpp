// RFC 6902 JSON patch, with the error wording of the library the apiserver uses
// (evanphx/json-patch), so kubectl users see familiar messages.
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "api/patch/json_util.h"
#include "mini8s/api/patch.h"
#include "mini8s/common/json.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kMissing = ": missing value";
constexpr std::string_view kBadIndex = ": invalid index referenced";

// `copy` can double the document with every operation (copy "" to "/a", 10000 times), so the
// bytes copied by one patch are capped, as upstream's AccumulatedCopySizeLimit does.
constexpr std::size_t kMaxAccumulatedCopyBytes = 64u << 20;

using detail::Measure;

// Keeps the patched document within the nesting every decoder and recursive walker downstream
// accepts: a value placed under `tokens` must not push the document past kMaxJsonDepth.
Status CheckDepth(std::size_t tokens, const json::value& v, std::string_view op_name) {
  if (tokens + Measure(v).depth > kMaxJsonDepth) {
    return Status::Invalid(std::string(op_name) +
                           " operation does not apply: the result would nest deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
  }
  return Status::OK();
}

struct Pointer {
  std::string text;
  std::vector<std::string> tokens;  // unescaped reference tokens; empty = the whole document
  bool valid = true;                // false when non-empty and not starting with '/'
};

Pointer ParsePointer(std::string_view text) {
  Pointer p;
  p.text = std::string(text);
  if (text.empty()) return p;
  if (text.front() != '/') {
    p.valid = false;
    return p;
  }
  std::size_t start = 1;
  while (true) {
    std::size_t end = text.find('/', start);
    std::string_view raw = text.substr(start, end == std::string_view::npos ? end : end - start);
    std::string token;
    token.reserve(raw.size());
    // RFC 6901: "~1" is '/', "~0" is '~' (decoded in one left-to-right pass).
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        token.push_back(raw[i]);
      }
    }
    p.tokens.push_back(std::move(token));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return p;
}

std::optional<long long> ParseInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view digits = s;
  if (digits.front() == '+' || digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  long long v = 0;
  const char* begin = s.data() + (s.front() == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string IndexError(long long idx) {
  return "Unable to access invalid index: " + std::to_string(idx) + std::string(kBadIndex);
}

// An existing element index for get/replace/remove; negative counts from the end.
Result<std::size_t> ExistingIndex(const json::array& a, std::string_view token) {
  auto idx = ParseInt(token);
  if (!idx) {
    return Status::Invalid("value was not a proper array index: '" + std::string(token) + "'");
  }
  long long n = static_cast<long long>(a.size());
  long long i = *idx;
  if (i < 0) {
    if (i < -n) return Status::Invalid(IndexError(i));
    i += n;
  }
  if (i >= n) return Status::Invalid(IndexError(i));
  return static_cast<std::size_t>(i);
}

// The value a container holds under `token`, or an error as upstream's get() reports it.
// Objects report a missing key as nullptr (not an error), as upstream does.
Result<json::value*> Get(json::value& container, const std::string& token) {
  if (container.is_object()) return container.get_object().if_contains(token);
  if (container.is_array()) {
    MINI8S_ASSIGN_OR_RETURN(std::size_t i, ExistingIndex(container.get_array(), token));
    return &container.get_array()[i];
  }
  return Status::Invalid("unknown object type");
}

// The container that holds the pointer's last token, or nullptr (upstream's findObject).
json::value* FindParent(json::value& doc, const Pointer& p) {
  if (!p.valid || p.tokens.empty()) return nullptr;
  json::value* cur = &doc;
  for (std::size_t i = 0; i + 1 < p.tokens.size(); ++i) {
    auto next = Get(*cur, p.tokens[i]);
    if (!next.ok() || *next == nullptr) return nullptr;
    cur = *next;
  }
  if (!cur->is_object() && !cur->is_array()) return nullptr;
  return cur;
}

Status AddTo(json::value& container, const std::string& key, json::value v) {
  if (container.is_object()) {
    container.get_object()[key] = std::move(v);
    return Status::OK();
  }
  json::array& a = container.get_array();
  if (key == "-") {
    a.push_back(std::move(v));
    return Status::OK();
  }
  auto idx = ParseInt(key);
  if (!idx) return Status::Invalid("value was not a proper array index: '" + key + "'");
  long long size_after = static_cast<long long>(a.size()) + 1;
  long long i = *idx;
  if (i >= size_after) return Status::Invalid(IndexError(i));
  if (i < 0) {
    if (i < -size_after) return Status::Invalid(IndexError(i));
    i += size_after;
  }
  a.insert(a.begin() + i, std::move(v));
  return Status::OK();
}

Status RemoveFrom(json::value& container, const std::string& key) {
  if (container.is_object()) {
    if (container.get_object().stable_erase(key) == 0) {
      return Status::Invalid("Unable to remove nonexistent key: " + key + std::string(kMissing));
    }
    return Status::OK();
  }
  json::array& a = container.get_array();
  MINI8S_ASSIGN_OR_RETURN(std::size_t i, ExistingIndex(a, key));
  a.erase(a.begin() + static_cast<std::ptrdiff_t>(i));
  return Status::OK();
}

class Applier {
 public:
  explicit Applier(json::value doc) : doc_(std::move(doc)) {}

  Status Apply(const json::object& op) {
    const json::value* kind = op.if_contains("op");
    if (kind == nullptr || !kind->is_string()) {
      return Status::BadRequest("Unexpected kind: unknown");
    }
    std::string_view k = kind->get_string();
    if (k == "add") return Add(op);
    if (k == "remove") return Remove(op);
    if (k == "replace") return Replace(op);
    if (k == "move") return Move(op);
    if (k == "copy") return Copy(op);
    if (k == "test") return Test(op);
    return Status::BadRequest("Unexpected kind: " + std::string(k));
  }

  json::value Take() && { return std::move(doc_); }

 private:
  static Result<Pointer> Member(const json::object& op, std::string_view op_name,
                                std::string_view member) {
    const json::value* v = op.if_contains(member);
    if (v == nullptr || v->is_null()) {
      return Status::BadRequest(std::string(op_name) + " operation failed to decode " +
                                std::string(member) + ": operation missing " + std::string(member) +
                                " field" + std::string(kMissing));
    }
    if (!v->is_string()) {
      return Status::BadRequest(std::string(op_name) + " operation failed to decode " +
                                std::string(member) + ": the " + std::string(member) +
                                " must be a string");
    }
    return ParsePointer(v->get_string());
  }

  static Result<json::value> Value(const json::object& op, std::string_view op_name) {
    const json::value* v = op.if_contains("value");
    if (v == nullptr) {
      return Status::BadRequest(std::string(op_name) + " operation, missing value field" +
                                std::string(kMissing));
    }
    return *v;
  }

  static Status Missing(std::string_view what, const std::string& path, bool quote) {
    std::string p = quote ? "\"" + path + "\"" : path;
    return Status::Invalid(std::string(what) + p + std::string(kMissing));
  }

  Status Add(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "add", "path"));
    MINI8S_ASSIGN_OR_RETURN(json::value v, Value(op, "add"));
    MINI8S_RETURN_IF_ERROR(CheckDepth(path.tokens.size(), v, "add"));
    if (path.valid && path.tokens.empty()) {  // RFC 6902 §4.1: the whole document
      doc_ = std::move(v);
      return Status::OK();
    }
    json::value* parent = FindParent(doc_, path);
    if (parent == nullptr) {
      return Missing("add operation does not apply: doc is missing path: ", path.text, true);
    }
    Status s = AddTo(*parent, path.tokens.back(), std::move(v));
    if (!s.ok()) return s.WithContext("error in add for path: '" + path.text + "'");
    return Status::OK();
  }

  Status Remove(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "remove", "path"));
    json::value* parent = FindParent(doc_, path);
    if (parent == nullptr) {
      return Missing("remove operation does not apply: doc is missing path: ", path.text, true);
    }
    Status s = RemoveFrom(*parent, path.tokens.back());
    if (!s.ok()) return s.WithContext("error in remove for path: '" + path.text + "'");
    return Status::OK();
  }

  Status Replace(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "replace", "path"));
    MINI8S_ASSIGN_OR_RETURN(json::value v, Value(op, "replace"));
    MINI8S_RETURN_IF_ERROR(CheckDepth(path.tokens.size(), v, "replace"));
    if (path.valid && path.tokens.empty()) {
      doc_ = std::move(v);
      return Status::OK();
    }
    json::value* parent = FindParent(doc_, path);
    if (parent == nullptr) {
      return Missing("replace operation does not apply: doc is missing path: ", path.text, false);
    }
    auto target = Get(*parent, path.tokens.back());
    if (!target.ok() || *target == nullptr) {
      return Missing("replace operation does not apply: doc is missing key: ", path.text, false);
    }
    **target = std::move(v);
    return Status::OK();
  }

  // Finds the value at `from`, reporting errors in upstream's words for `op_name`.
  Result<json::value*> Locate(const Pointer& from, std::string_view op_name) {
    if (from.valid && from.tokens.empty()) return &doc_;
    json::value* parent = FindParent(doc_, from);
    if (parent == nullptr) {
      return Missing(std::string(op_name) + " operation does not apply: doc is missing from path: ",
                     from.text, false);
    }
    auto v = Get(*parent, from.tokens.back());
    if (!v.ok()) {
      return v.error().WithContext(
          "error in " + std::string(op_name) + " for " +
          (op_name == "copy" ? "from: '" + from.text : "path: '" + from.tokens.back()) + "'");
    }
    if (*v == nullptr) {
      return Missing(std::string(op_name) + " operation does not apply: doc is missing from path: ",
                     from.text, false);
    }
    return *v;
  }

  Status Put(const Pointer& path, json::value v, std::string_view op_name) {
    MINI8S_RETURN_IF_ERROR(CheckDepth(path.tokens.size(), v, op_name));
    if (path.valid && path.tokens.empty()) {
      doc_ = std::move(v);
      return Status::OK();
    }
    json::value* parent = FindParent(doc_, path);
    if (parent == nullptr) {
      return Missing(
          std::string(op_name) + " operation does not apply: doc is missing destination path: ",
          path.text, false);
    }
    Status s = AddTo(*parent, path.tokens.back(), std::move(v));
    if (!s.ok()) {
      return s.WithContext(op_name == "copy" ? std::string("error while adding value during copy")
                                             : "error in move for path: '" + path.text + "'");
    }
    return Status::OK();
  }

  Status Move(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer from, Member(op, "move", "from"));
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "move", "path"));
    // RFC 6902 §4.4: a location cannot be moved into one of its children.
    if (from.valid && path.valid && from.tokens.size() < path.tokens.size() &&
        std::equal(from.tokens.begin(), from.tokens.end(), path.tokens.begin())) {
      return Status::Invalid("move operation does not apply: from path " + from.text +
                             " is a prefix of path " + path.text);
    }
    if (from.valid && from.tokens == path.tokens && path.valid) {
      MINI8S_ASSIGN_OR_RETURN(json::value * unused, Locate(from, "move"));
      (void)unused;
      return Status::OK();
    }
    MINI8S_ASSIGN_OR_RETURN(json::value * src, Locate(from, "move"));
    if (from.tokens.empty()) {
      return Status::Invalid("move operation does not apply: cannot move the whole document");
    }
    // Moved out rather than copied: moving a large subtree 10000 times must stay linear.
    json::value v = std::move(*src);
    json::value* parent = FindParent(doc_, from);
    Status removed = RemoveFrom(*parent, from.tokens.back());
    if (!removed.ok()) {
      return removed.WithContext("error in move for path: '" + from.tokens.back() + "'");
    }
    return Put(path, std::move(v), "move");
  }

  Status Copy(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer from, Member(op, "copy", "from"));
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "copy", "path"));
    MINI8S_ASSIGN_OR_RETURN(const json::value* src, Locate(from, "copy"));
    copied_bytes_ += Measure(*src).bytes;
    if (copied_bytes_ > kMaxAccumulatedCopyBytes) {
      return Status::Invalid("copy operation does not apply: copied values exceed the limit of " +
                             std::to_string(kMaxAccumulatedCopyBytes) + " bytes");
    }
    json::value v = *src;
    return Put(path, std::move(v), "copy");
  }

  Status Test(const json::object& op) {
    MINI8S_ASSIGN_OR_RETURN(Pointer path, Member(op, "test", "path"));
    MINI8S_ASSIGN_OR_RETURN(json::value want, Value(op, "test"));
    Status failed = Status::Invalid("testing value " + path.text + " failed: test failed");
    if (path.valid && path.tokens.empty()) return JsonEqual(doc_, want) ? Status::OK() : failed;
    json::value* parent = FindParent(doc_, path);
    if (parent == nullptr) {
      return Missing("test operation does not apply: is missing path: ", path.text, false);
    }
    auto got = Get(*parent, path.tokens.back());
    if (!got.ok()) return got.error().WithContext("error in test for path: '" + path.text + "'");
    // Upstream treats an absent member as equal to null.
    if (*got == nullptr) return want.is_null() ? Status::OK() : failed;
    return JsonEqual(**got, want) ? Status::OK() : failed;
  }

  json::value doc_;
  std::size_t copied_bytes_ = 0;
};

// How Go's encoding/json names a JSON value in its unmarshal errors.
std::string_view GoKind(const json::value& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_bool()) return "bool";
  if (v.is_null()) return "null";
  return "number";
}

}  // namespace

Result<json::value> ApplyJsonPatch(const json::value& doc, const json::value& patch) {
  if (!patch.is_array()) {
    return Status::BadRequest("json: cannot unmarshal " + std::string(GoKind(patch)) +
                              " into Go value of type jsonpatch.Patch");
  }
  const json::array& ops = patch.get_array();
  if (ops.size() > kMaxJsonPatchOperations) {
    return Status::ResourceExhausted("The allowed maximum operations in a JSON patch is " +
                                     std::to_string(kMaxJsonPatchOperations) + ", got " +
                                     std::to_string(ops.size()));
  }
  for (const json::value& op : ops) {
    if (!op.is_object()) {
      return Status::BadRequest("json: cannot unmarshal " + std::string(GoKind(op)) +
                                " into Go value of type jsonpatch.Operation");
    }
  }
  Applier applier(doc);
  for (const json::value& op : ops) {
    MINI8S_RETURN_IF_ERROR(applier.Apply(op.get_object()));
  }
  return std::move(applier).Take();
}

}  // namespace mini8s::api
