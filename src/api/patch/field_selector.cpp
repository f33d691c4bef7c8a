// Field selectors with upstream's syntax, escaping and messages (apimachinery pkg/fields).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/api/selector.h"

namespace mini8s::api {
namespace {

// Splits on commas that are not escaped; the escapes stay in the terms.
std::vector<std::string_view> SplitTerms(std::string_view s) {
  std::vector<std::string_view> terms;
  if (s.empty()) return terms;
  std::size_t start = 0;
  bool in_slash = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (s[i] == '\\') {
      in_slash = true;
    } else if (s[i] == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(s.substr(start));
  return terms;
}

// The first operator occurrence splits the term; "!=" and "==" win over "=" at one position.
bool SplitTerm(std::string_view term, std::string_view* lhs, std::string_view* op,
               std::string_view* rhs) {
  static constexpr std::string_view kOps[] = {"!=", "==", "="};
  for (std::size_t i = 0; i < term.size(); ++i) {
    for (std::string_view o : kOps) {
      if (term.substr(i, o.size()) == o) {
        *lhs = term.substr(0, i);
        *op = o;
        *rhs = term.substr(i + o.size());
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string EscapeFieldValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Result<std::string> UnescapeFieldValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool in_slash = false;
  for (char c : value) {
    if (in_slash) {
      if (c != '\\' && c != ',' && c != '=') {
        return Status::BadRequest("invalid field selector: invalid escape sequence: \\" +
                                  std::string(1, c));
      }
      out.push_back(c);
      in_slash = false;
      continue;
    }
    if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      // Upstream prints the rune with %v, i.e. as its code point number.
      return Status::BadRequest("invalid field selector: unescaped character in value: " +
                                std::to_string(static_cast<int>(c)));
    } else {
      out.push_back(c);
    }
  }
  if (in_slash) return Status::BadRequest("invalid field selector: invalid escape sequence: \\");
  return out;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  std::vector<std::string_view> parts = SplitTerms(text);
  std::sort(parts.begin(), parts.end());
  FieldSelector s;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    std::string_view lhs, op, rhs;
    if (!SplitTerm(part, &lhs, &op, &rhs)) {
      return Status::BadRequest("invalid selector: '" + std::string(text) +
                                "'; can't understand '" + std::string(part) + "'");
    }
    MINI8S_ASSIGN_OR_RETURN(std::string value, UnescapeFieldValue(rhs));
    s.requirements_.push_back(FieldRequirement{
        std::string(lhs), op == "!=" ? SelectorOp::kNotEquals : SelectorOp::kEquals,
        std::move(value)});
  }
  return s;
}

bool FieldSelector::Matches(const StringMap& fields) const {
  for (const FieldRequirement& r : requirements_) {
    auto it = fields.find(r.field);
    std::string_view have = it == fields.end() ? std::string_view() : std::string_view(it->second);
    bool equal = have == r.value;
    if (r.op == SelectorOp::kNotEquals ? equal : !equal) return false;
  }
  return true;
}

Status FieldSelector::CheckSupported(std::span<const std::string> allowed) const {
  for (const FieldRequirement& r : requirements_) {
    if (r.field == "metadata.name" || r.field == "metadata.namespace") continue;
    if (std::find(allowed.begin(), allowed.end(), r.field) != allowed.end()) continue;
    return Status::BadRequest("field label not supported: " + r.field);
  }
  return Status::OK();
}

std::string FieldSelector::String() const {
  std::string out;
  for (const FieldRequirement& r : requirements_) {
    if (!out.empty()) out += ",";
    out += r.field;
    out += r.op == SelectorOp::kNotEquals ? "!=" : "=";
    out += EscapeFieldValue(r.value);
  }
  return out;
}

std::optional<std::string> FieldSelector::RequiresExactMatch(std::string_view field) const {
  for (const FieldRequirement& r : requirements_) {
    if (r.field == field && r.op == SelectorOp::kEquals) return r.value;
  }
  return std::nullopt;
}

}  // namespace mini8s::api
