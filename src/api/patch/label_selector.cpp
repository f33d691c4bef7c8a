// Label selectors: the string syntax, metav1.LabelSelector, validation and matching, with the
// messages of apimachinery v0.32 (pkg/labels, pkg/util/validation, pkg/util/validation/field).
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "api/patch/json_util.h"
#include "mini8s/api/selector.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

// ---- syntax validation (upstream IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain) ----

constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedNameErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kLabelValueErrMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1123SubdomainErrMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::size_t kQualifiedNameMaxLength = 63;
constexpr std::size_t kLabelValueMaxLength = 63;
constexpr std::size_t kDns1123SubdomainMaxLength = 253;

std::string RegexError(std::string_view msg, std::string_view fmt,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  if (examples.size() == 0)
    return out + " (regex used for validation is '" + std::string(fmt) + "')";
  out += " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(e) + "', ";
  }
  out += "regex used for validation is '" + std::string(fmt) + "')";
  return out;
}

std::string MaxLenError(std::size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedName(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool MatchesDns1123Subdomain(std::string_view s) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !lower_alnum(label.front()) || !lower_alnum(label.back())) return false;
    for (char c : label) {
      if (!lower_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Go's %q for the strings we print.
std::string GoQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// field.Invalid(path, value, detail).Error()
std::string FieldInvalid(std::string_view path, std::string_view rendered_value,
                         std::string_view detail) {
  return std::string(path) + ": Invalid value: " + std::string(rendered_value) + ": " +
         std::string(detail);
}

// How field.Invalid renders a []string bad value: JSON, `null` for a nil slice.
std::string RenderValues(const std::vector<std::string>& values, bool nil) {
  if (nil) return "null";
  json::array a;
  for (const auto& v : values) a.emplace_back(v);
  return detail::ToJson(a);
}

// utilerrors.Aggregate's Error(): one message as is, several as "[a, b]" without duplicates.
std::string Aggregate(const std::vector<std::string>& errs) {
  // A set, not a linear search: a hostile selector can carry 100000 invalid values.
  std::vector<std::string> unique;
  std::unordered_set<std::string_view> seen;
  for (const auto& e : errs) {
    if (seen.insert(e).second) unique.push_back(e);
  }
  if (unique.size() == 1) return unique[0];
  return "[" + Join(unique, ", ") + "]";
}

std::optional<long long> ParseInt64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;
  long long v = 0;
  auto [ptr, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || ptr != e || b == e) return std::nullopt;
  return v;
}

// Validates like upstream NewRequirement; `path` is the field path prefix ("" = none) and
// `nil_values` says whether an empty `values` came from a nil slice (affects rendering only).
Result<LabelRequirement> MakeRequirement(std::string key, SelectorOp op,
                                         std::vector<std::string> values, bool nil_values) {
  std::vector<std::string> errs;
  if (auto key_errs = ValidateLabelKey(key); !key_errs.empty()) {
    errs.push_back(FieldInvalid("key", GoQuote(key), Join(key_errs, "; ")));
  }
  switch (op) {
    case SelectorOp::kIn:
    case SelectorOp::kNotIn:
      if (values.empty()) {
        errs.push_back(FieldInvalid("values", RenderValues(values, nil_values),
                                    "for 'in', 'notin' operators, values set can't be empty"));
      }
      break;
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals:
    case SelectorOp::kNotEquals:
      if (values.size() != 1) {
        errs.push_back(FieldInvalid("values", RenderValues(values, nil_values),
                                    "exact-match compatibility requires one single value"));
      }
      break;
    case SelectorOp::kExists:
    case SelectorOp::kDoesNotExist:
      if (!values.empty()) {
        errs.push_back(FieldInvalid("values", RenderValues(values, false),
                                    "values set must be empty for exists and does not exist"));
      }
      break;
    case SelectorOp::kGreaterThan:
    case SelectorOp::kLessThan:
      if (values.size() != 1) {
        errs.push_back(FieldInvalid("values", RenderValues(values, nil_values),
                                    "for 'Gt', 'Lt' operators, exactly one value is required"));
      }
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!ParseInt64(values[i])) {
          errs.push_back(FieldInvalid("values[" + std::to_string(i) + "]", GoQuote(values[i]),
                                      "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      }
      break;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (auto value_errs = ValidateLabelValue(values[i]); !value_errs.empty()) {
      errs.push_back(FieldInvalid("values[" + std::to_string(i) + "][" + key + "]",
                                  GoQuote(values[i]), Join(value_errs, "; ")));
    }
  }
  if (!errs.empty()) return Status::Invalid(Aggregate(errs));
  return LabelRequirement{std::move(key), op, std::move(values)};
}

// ---- lexer and parser (the grammar of upstream labels.Parse) ----

enum class Tok {
  kError,
  kEnd,
  kClosePar,
  kComma,
  kNot,
  kDoubleEquals,
  kEquals,
  kGreater,
  kIdentifier,
  kIn,
  kLess,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Item {
  Tok tok;
  std::string lit;
};

std::optional<Tok> Keyword(std::string_view s) {
  if (s == ")") return Tok::kClosePar;
  if (s == ",") return Tok::kComma;
  if (s == "!") return Tok::kNot;
  if (s == "==") return Tok::kDoubleEquals;
  if (s == "=") return Tok::kEquals;
  if (s == ">") return Tok::kGreater;
  if (s == "in") return Tok::kIn;
  if (s == "<") return Tok::kLess;
  if (s == "!=") return Tok::kNotEquals;
  if (s == "notin") return Tok::kNotIn;
  if (s == "(") return Tok::kOpenPar;
  return std::nullopt;
}

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::vector<Item> Lex(std::string_view s) {
  std::vector<Item> items;
  std::size_t pos = 0;
  while (true) {
    while (pos < s.size() && IsWhitespace(s[pos])) ++pos;
    if (pos >= s.size()) {
      items.push_back({Tok::kEnd, ""});
      return items;
    }
    if (IsSpecial(s[pos])) {
      // Longest run of special characters that still forms an operator.
      std::optional<Item> last;
      std::size_t end = pos;
      while (end < s.size() && IsSpecial(s[end])) {
        std::string_view buf = s.substr(pos, end - pos + 1);
        if (auto t = Keyword(buf)) {
          last = Item{*t, std::string(buf)};
        } else if (last) {
          break;
        }
        ++end;
      }
      if (!last) {
        items.push_back({Tok::kError, "error expected: keyword found '" +
                                          std::string(s.substr(pos, end - pos)) + "'"});
        pos = end;
        continue;
      }
      pos += last->lit.size();
      items.push_back(std::move(*last));
      continue;
    }
    std::size_t end = pos;
    while (end < s.size() && !IsSpecial(s[end]) && !IsWhitespace(s[end])) ++end;
    std::string word(s.substr(pos, end - pos));
    pos = end;
    auto t = Keyword(word);
    items.push_back({t ? *t : Tok::kIdentifier, std::move(word)});
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : items_(Lex(text)) {}

  Result<std::vector<LabelRequirement>> Parse() {
    std::vector<LabelRequirement> reqs;
    while (true) {
      Item next = Peek(true);
      if (next.tok == Tok::kIdentifier || next.tok == Tok::kNot) {
        auto r = ParseRequirement();
        if (!r.ok()) {
          return Status::BadRequest("unable to parse requirement: " + r.error().message());
        }
        reqs.push_back(std::move(*r));
        Item after = Consume(true);
        if (after.tok == Tok::kEnd) return reqs;
        if (after.tok == Tok::kComma) {
          Item n2 = Peek(true);
          if (n2.tok != Tok::kIdentifier && n2.tok != Tok::kNot) {
            return Status::BadRequest("found '" + n2.lit + "', expected: identifier after ','");
          }
          continue;
        }
        return Status::BadRequest("found '" + after.lit + "', expected: ',' or 'end of string'");
      }
      if (next.tok == Tok::kEnd) return reqs;
      return Status::BadRequest("found '" + next.lit +
                                "', expected: !, identifier, or 'end of string'");
    }
  }

 private:
  // In value context the keywords `in` and `notin` are plain identifiers.
  Item Adjust(Item it, bool values) const {
    if (values && (it.tok == Tok::kIn || it.tok == Tok::kNotIn)) it.tok = Tok::kIdentifier;
    return it;
  }
  Item Peek(bool values) const { return Adjust(items_[pos_], values); }
  Item Consume(bool values) {
    Item it = Adjust(items_[pos_], values);
    if (pos_ + 1 < items_.size()) ++pos_;
    return it;
  }

  Result<LabelRequirement> ParseRequirement() {
    SelectorOp op = SelectorOp::kEquals;
    bool inferred = false;
    Item it = Consume(true);
    if (it.tok == Tok::kNot) {
      op = SelectorOp::kDoesNotExist;
      inferred = true;
      it = Consume(true);
    }
    if (it.tok != Tok::kIdentifier) {
      return Status::BadRequest("found '" + it.lit + "', expected: identifier");
    }
    std::string key = it.lit;
    if (auto errs = ValidateLabelKey(key); !errs.empty()) {
      return Status::BadRequest(FieldInvalid("<nil>", GoQuote(key), Join(errs, "; ")));
    }
    Tok after = Peek(true).tok;
    if (!inferred && (after == Tok::kEnd || after == Tok::kComma)) {
      op = SelectorOp::kExists;
      inferred = true;
    }
    if (inferred) return Finish(std::move(key), op, {});
    Item op_item = Consume(false);
    switch (op_item.tok) {
      case Tok::kIn:
        op = SelectorOp::kIn;
        break;
      case Tok::kEquals:
        op = SelectorOp::kEquals;
        break;
      case Tok::kDoubleEquals:
        op = SelectorOp::kDoubleEquals;
        break;
      case Tok::kGreater:
        op = SelectorOp::kGreaterThan;
        break;
      case Tok::kLess:
        op = SelectorOp::kLessThan;
        break;
      case Tok::kNotIn:
        op = SelectorOp::kNotIn;
        break;
      case Tok::kNotEquals:
        op = SelectorOp::kNotEquals;
        break;
      default:
        return Status::BadRequest("found '" + op_item.lit +
                                  "', expected: in, notin, =, ==, !=, gt, lt");
    }
    std::vector<std::string> values;
    if (op == SelectorOp::kIn || op == SelectorOp::kNotIn) {
      MINI8S_ASSIGN_OR_RETURN(values, ParseValues());
    } else {
      MINI8S_ASSIGN_OR_RETURN(values, ParseExactValue());
    }
    return Finish(std::move(key), op, std::move(values));
  }

  // Values form a set: sorted and unique, as upstream's sets.String.List() returns them.
  static Result<LabelRequirement> Finish(std::string key, SelectorOp op,
                                         std::vector<std::string> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    auto r = MakeRequirement(std::move(key), op, std::move(values), false);
    if (!r.ok()) return Status::BadRequest(r.error().message());
    return r;
  }

  Result<std::vector<std::string>> ParseValues() {
    Item open = Consume(true);
    if (open.tok != Tok::kOpenPar) {
      return Status::BadRequest("found '" + open.lit + "' expected: '('");
    }
    Item next = Peek(true);
    if (next.tok == Tok::kIdentifier || next.tok == Tok::kComma) {
      MINI8S_ASSIGN_OR_RETURN(auto values, ParseIdentifiersList());
      if (Consume(true).tok != Tok::kClosePar) {
        return Status::BadRequest("found '" + next.lit + "', expected: ')'");
      }
      return values;
    }
    if (next.tok == Tok::kClosePar) {
      Consume(true);
      return std::vector<std::string>{""};
    }
    return Status::BadRequest("found '" + next.lit + "', expected: ',', ')' or identifier");
  }

  // A comma-separated list where empty entries mean the empty value: "(,a)" is {"", "a"}.
  Result<std::vector<std::string>> ParseIdentifiersList() {
    std::vector<std::string> values;
    while (true) {
      Item it = Consume(true);
      if (it.tok == Tok::kIdentifier) {
        values.push_back(it.lit);
        Item n = Peek(true);
        if (n.tok == Tok::kComma) continue;
        if (n.tok == Tok::kClosePar) return values;
        return Status::BadRequest("found '" + n.lit + "', expected: ',' or ')'");
      }
      if (it.tok == Tok::kComma) {
        if (values.empty()) values.emplace_back();
        Tok n = Peek(true).tok;
        if (n == Tok::kClosePar) {
          values.emplace_back();
          return values;
        }
        if (n == Tok::kComma) values.emplace_back();
        continue;
      }
      return Status::BadRequest("found '" + it.lit + "', expected: ',', or identifier");
    }
  }

  Result<std::vector<std::string>> ParseExactValue() {
    Tok n = Peek(true).tok;
    if (n == Tok::kEnd || n == Tok::kComma) return std::vector<std::string>{""};
    Item it = Consume(true);
    if (it.tok == Tok::kIdentifier) return std::vector<std::string>{it.lit};
    return Status::BadRequest("found '" + it.lit + "', expected: identifier");
  }

  std::vector<Item> items_;
  std::size_t pos_ = 0;
};

template <class Lookup>
bool RequirementMatches(const LabelRequirement& r, Lookup lookup) {
  std::optional<std::string_view> v = lookup(r.key);
  auto has = [&](std::string_view x) {
    return std::find(r.values.begin(), r.values.end(), x) != r.values.end();
  };
  switch (r.op) {
    case SelectorOp::kIn:
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals:
      return v.has_value() && has(*v);
    case SelectorOp::kNotIn:
    case SelectorOp::kNotEquals:
      return !v.has_value() || !has(*v);
    case SelectorOp::kExists:
      return v.has_value();
    case SelectorOp::kDoesNotExist:
      return !v.has_value();
    case SelectorOp::kGreaterThan:
    case SelectorOp::kLessThan: {
      if (!v || r.values.size() != 1) return false;
      auto have = ParseInt64(*v);
      auto want = ParseInt64(r.values[0]);
      if (!have || !want) return false;
      return r.op == SelectorOp::kGreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

auto MapLookup(const StringMap& m) {
  return [&m](std::string_view k) -> std::optional<std::string_view> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return std::string_view(it->second);
  };
}

auto JsonLookup(const json::object* m) {
  return [m](std::string_view k) -> std::optional<std::string_view> {
    if (m == nullptr) return std::nullopt;
    const json::value* v = m->if_contains(k);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
  };
}

void SortByKey(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.key < b.key; });
}

}  // namespace

std::vector<std::string> ValidateLabelKey(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  std::size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes > 1) {
    errs.push_back(
        "a qualified name " +
        RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (slashes == 1) {
    std::size_t slash = value.find('/');
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > kDns1123SubdomainMaxLength) {
        errs.push_back("prefix part " + MaxLenError(kDns1123SubdomainMaxLength));
      }
      if (!MatchesDns1123Subdomain(prefix)) {
        errs.push_back("prefix part " +
                       RegexError(kDns1123SubdomainErrMsg, kDns1123SubdomainFmt, {"example.com"}));
      }
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    errs.push_back("name part " + MaxLenError(kQualifiedNameMaxLength));
  }
  if (!MatchesQualifiedName(name)) {
    errs.push_back("name part " + RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> ValidateLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kLabelValueMaxLength) errs.push_back(MaxLenError(kLabelValueMaxLength));
  if (!value.empty() && !MatchesQualifiedName(value)) {
    errs.push_back(RegexError(kLabelValueErrMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

bool LabelRequirement::Matches(const StringMap& labels) const {
  return RequirementMatches(*this, MapLookup(labels));
}

bool LabelRequirement::Matches(const json::object* labels) const {
  return RequirementMatches(*this, JsonLookup(labels));
}

std::string LabelRequirement::String() const {
  std::string out;
  if (op == SelectorOp::kDoesNotExist) out += "!";
  out += key;
  switch (op) {
    case SelectorOp::kEquals:
      out += "=";
      break;
    case SelectorOp::kDoubleEquals:
      out += "==";
      break;
    case SelectorOp::kNotEquals:
      out += "!=";
      break;
    case SelectorOp::kIn:
      out += " in ";
      break;
    case SelectorOp::kNotIn:
      out += " notin ";
      break;
    case SelectorOp::kGreaterThan:
      out += ">";
      break;
    case SelectorOp::kLessThan:
      out += "<";
      break;
    case SelectorOp::kExists:
    case SelectorOp::kDoesNotExist:
      return out;
  }
  bool set = op == SelectorOp::kIn || op == SelectorOp::kNotIn;
  if (set) out += "(";
  std::vector<std::string> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  out += Join(sorted, ",");
  if (set) out += ")";
  return out;
}

LabelSelector LabelSelector::Nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  Parser parser(text);
  MINI8S_ASSIGN_OR_RETURN(auto reqs, parser.Parse());
  SortByKey(reqs);
  LabelSelector s;
  s.requirements_ = std::move(reqs);
  return s;
}

Result<LabelRequirement> LabelSelector::NewRequirement(std::string key, SelectorOp op,
                                                       std::vector<std::string> values) {
  return MakeRequirement(std::move(key), op, std::move(values), false);
}

Result<LabelSelector> LabelSelector::FromSet(const StringMap& labels) {
  LabelSelector s;
  for (const auto& [k, v] : labels) {
    MINI8S_ASSIGN_OR_RETURN(auto r, MakeRequirement(k, SelectorOp::kEquals, {v}, false));
    s.requirements_.push_back(std::move(r));
  }
  return s;  // std::map iterates in key order already
}

Result<LabelSelector> LabelSelector::FromLabelSelectorJson(const json::value* selector) {
  if (selector == nullptr || selector->is_null()) return Nothing();
  if (!selector->is_object()) {
    return Status::BadRequest("a label selector must be an object, got " +
                              std::string(detail::KindName(*selector)));
  }
  const json::object& o = selector->get_object();
  std::vector<LabelRequirement> reqs;
  if (const json::value* ml = o.if_contains("matchLabels"); ml != nullptr && !ml->is_null()) {
    if (!ml->is_object()) return Status::BadRequest("matchLabels must be an object");
    for (const auto& kv : ml->get_object()) {
      if (!kv.value().is_string()) {
        return Status::BadRequest("matchLabels[" + std::string(kv.key()) + "] must be a string");
      }
      MINI8S_ASSIGN_OR_RETURN(auto r,
                              MakeRequirement(std::string(kv.key()), SelectorOp::kEquals,
                                              {std::string(kv.value().get_string())}, false));
      reqs.push_back(std::move(r));
    }
  }
  if (const json::value* me = o.if_contains("matchExpressions"); me != nullptr && !me->is_null()) {
    if (!me->is_array()) return Status::BadRequest("matchExpressions must be an array");
    for (const json::value& e : me->get_array()) {
      if (!e.is_object()) return Status::BadRequest("matchExpressions items must be objects");
      const json::object& eo = e.get_object();
      auto str = [&](std::string_view name) -> Result<std::string> {
        const json::value* v = eo.if_contains(name);
        if (v == nullptr || v->is_null()) return std::string();
        if (!v->is_string()) {
          return Status::BadRequest("matchExpressions." + std::string(name) + " must be a string");
        }
        return std::string(v->get_string());
      };
      MINI8S_ASSIGN_OR_RETURN(std::string key, str("key"));
      MINI8S_ASSIGN_OR_RETURN(std::string op_name, str("operator"));
      SelectorOp op;
      if (op_name == "In") {
        op = SelectorOp::kIn;
      } else if (op_name == "NotIn") {
        op = SelectorOp::kNotIn;
      } else if (op_name == "Exists") {
        op = SelectorOp::kExists;
      } else if (op_name == "DoesNotExist") {
        op = SelectorOp::kDoesNotExist;
      } else {
        return Status::Invalid(GoQuote(op_name) + " is not a valid label selector operator");
      }
      std::vector<std::string> values;
      if (const json::value* vs = eo.if_contains("values"); vs != nullptr && !vs->is_null()) {
        if (!vs->is_array()) return Status::BadRequest("matchExpressions.values must be an array");
        for (const json::value& v : vs->get_array()) {
          if (!v.is_string()) {
            return Status::BadRequest("matchExpressions.values items must be strings");
          }
          values.emplace_back(v.get_string());
        }
      }
      bool nil = values.empty();  // upstream copies into a nil slice
      MINI8S_ASSIGN_OR_RETURN(auto r, MakeRequirement(std::move(key), op, std::move(values), nil));
      reqs.push_back(std::move(r));
    }
  }
  SortByKey(reqs);
  LabelSelector s;
  s.requirements_ = std::move(reqs);
  return s;
}

bool LabelSelector::Matches(const StringMap& labels) const {
  if (nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

bool LabelSelector::Matches(const json::object* labels) const {
  if (nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string LabelSelector::String() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.String());
  return Join(parts, ",");
}

std::optional<std::string> LabelSelector::RequiresExactMatch(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) continue;
    if ((r.op == SelectorOp::kEquals || r.op == SelectorOp::kDoubleEquals ||
         r.op == SelectorOp::kIn) &&
        r.values.size() == 1) {
      return r.values[0];
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace mini8s::api
