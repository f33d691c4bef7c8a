#include "mini8s/common/yaml.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <istream>
#include <limits>
#include <streambuf>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "mini8s/common/json.h"

namespace mini8s {
namespace {

namespace bj = boost::json;

// ================================================================================================
// Scalar resolution: go-yaml v2's rules for plain (unquoted, untagged) scalars.
// ================================================================================================

enum class Kind : uint8_t { kString, kNull, kBool, kInt, kUint, kFloat, kTimestamp };

struct Resolved {
  Kind kind = Kind::kString;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The YAML 1.1 words go-yaml v2 resolves through its table.
bool LookupWord(std::string_view s, Resolved& r) {
  static const std::pair<std::string_view, int> kWords[] = {
      {"y", 1},     {"Y", 1},     {"yes", 1},   {"Yes", 1},   {"YES", 1},   {"true", 1},
      {"True", 1},  {"TRUE", 1},  {"on", 1},    {"On", 1},    {"ON", 1},    {"n", 0},
      {"N", 0},     {"no", 0},    {"No", 0},    {"NO", 0},    {"false", 0}, {"False", 0},
      {"FALSE", 0}, {"off", 0},   {"Off", 0},   {"OFF", 0},   {"", 2},      {"~", 2},
      {"null", 2},  {"Null", 2},  {"NULL", 2},  {".nan", 3},  {".NaN", 3},  {".NAN", 3},
      {".inf", 4},  {".Inf", 4},  {".INF", 4},  {"+.inf", 4}, {"+.Inf", 4}, {"+.INF", 4},
      {"-.inf", 5}, {"-.Inf", 5}, {"-.INF", 5},
  };
  for (const auto& [word, what] : kWords) {
    if (word != s) continue;
    switch (what) {
      case 0:
      case 1:
        r.kind = Kind::kBool;
        r.b = what == 1;
        break;
      case 2:
        r.kind = Kind::kNull;
        break;
      case 3:
        r.kind = Kind::kFloat;
        r.f = std::numeric_limits<double>::quiet_NaN();
        break;
      case 4:
        r.kind = Kind::kFloat;
        r.f = std::numeric_limits<double>::infinity();
        break;
      default:
        r.kind = Kind::kFloat;
        r.f = -std::numeric_limits<double>::infinity();
        break;
    }
    return true;
  }
  return false;
}

// Go's strconv.ParseUint(s, 0, 64): base from the prefix (0x, 0o, 0b, 0 = octal), no sign.
bool GoParseUint(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  int base = 10;
  if (s[0] == '0' && s.size() > 1) {
    char p = s[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      s.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      s.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
    if (s.empty()) return false;
  }
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (v > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                static_cast<uint64_t>(base)) {
      return false;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

// Go's strconv.ParseInt(s, 0, 64).
bool GoParseInt(std::string_view s, int64_t& out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t u = 0;
  if (!GoParseUint(s, u)) return false;
  constexpr uint64_t kCutoff = uint64_t{1} << 63;
  if (neg) {
    if (u > kCutoff) return false;
    out = u == kCutoff ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(u);
  } else {
    if (u >= kCutoff) return false;
    out = static_cast<int64_t>(u);
  }
  return true;
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ : the float spellings go-yaml accepts.
bool IsYamlStyleFloat(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  } else {
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

// Go's ParseFloat on a string that already passed IsYamlStyleFloat: fails only on overflow.
bool ParseFloatNoOverflow(std::string_view s, double& out) {
  std::string copy(s);
  char* end = nullptr;
  double d = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return false;
  if (std::isinf(d)) return false;  // ErrRange in Go: go-yaml then keeps the string
  out = d;
  return true;
}

// Reads 1..max_digits decimal digits at s[i]; Go's time.Parse accepts 1 or 2 for "1", "2", "15",
// "4", "5" layout elements.
bool Digits(std::string_view s, std::size_t& i, std::size_t min_n, std::size_t max_n, int& v) {
  std::size_t start = i;
  v = 0;
  while (i < s.size() && IsDigit(s[i]) && i - start < max_n) v = v * 10 + (s[i++] - '0');
  return i - start >= min_n;
}

// go-yaml v2's parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00" (also with
// lower-case t), "2006-1-2 15:4:5.999999999" and "2006-1-2".
bool IsTimestamp(std::string_view s) {
  if (s.size() < 5 || !IsDigit(s[0]) || !IsDigit(s[1]) || !IsDigit(s[2]) || !IsDigit(s[3]) ||
      s[4] != '-') {
    return false;
  }
  std::size_t i = 5;
  int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int month, day;
  if (!Digits(s, i, 1, 2, month) || month < 1 || month > 12) return false;
  if (i >= s.size() || s[i++] != '-') return false;
  if (!Digits(s, i, 1, 2, day) || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int max_day = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day > max_day) return false;
  if (i == s.size()) return true;
  char sep = s[i++];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  int h, m, sec;
  if (!Digits(s, i, 1, 2, h) || h > 23) return false;
  if (i >= s.size() || s[i++] != ':') return false;
  if (!Digits(s, i, 1, 2, m) || m > 59) return false;
  if (i >= s.size() || s[i++] != ':') return false;
  if (!Digits(s, i, 1, 2, sec) || sec > 59) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  if (sep == ' ') return i == s.size();
  if (i >= s.size()) return false;
  if (s[i] == 'Z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  ++i;
  int oh, om;
  if (!Digits(s, i, 2, 2, oh) || oh > 24) return false;
  if (i >= s.size() || s[i++] != ':') return false;
  if (!Digits(s, i, 2, 2, om) || om > 59) return false;
  return i == s.size();
}

// resolve("", s) in go-yaml v2. `plain_untagged` enables timestamp detection (go-yaml only looks
// for timestamps in unquoted, untagged scalars).
Resolved Resolve(std::string_view in, bool plain_untagged) {
  Resolved r;
  char hint = 'N';  // the empty string is looked up in the table
  if (!in.empty()) {
    char c = in[0];
    if (c == '+' || c == '-') {
      hint = 'S';
    } else if (IsDigit(c)) {
      hint = 'D';
    } else if (std::string_view("yYnNtTfFoO~").find(c) != std::string_view::npos) {
      hint = 'M';
    } else if (c == '.') {
      hint = '.';
    } else {
      hint = 0;
    }
  }
  if (hint == 0) return r;
  if (LookupWord(in, r)) return r;
  if (hint == '.') {
    double d;
    if (IsYamlStyleFloat(in) && ParseFloatNoOverflow(in, d)) {
      r.kind = Kind::kFloat;
      r.f = d;
    }
    return r;
  }
  if (hint == 'D' || hint == 'S') {
    if (plain_untagged && IsTimestamp(in)) {
      r.kind = Kind::kTimestamp;
      return r;
    }
    std::string plain;
    plain.reserve(in.size());
    for (char c : in) {
      if (c != '_') plain += c;
    }
    if (GoParseInt(plain, r.i)) {
      r.kind = Kind::kInt;
      return r;
    }
    if (GoParseUint(plain, r.u)) {
      r.kind = Kind::kUint;
      return r;
    }
    double d;
    if (IsYamlStyleFloat(plain) && ParseFloatNoOverflow(plain, d)) {
      r.kind = Kind::kFloat;
      r.f = d;
    }
  }
  return r;
}

// go-yaml quotes base-60 looking strings on output for compatibility with YAML 1.1 readers:
// ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
bool IsBase60Float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 2) ++i;
    std::size_t n = i - start;
    if (n == 0) return false;
    if (n == 2 && s[start] > '5') return false;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && (IsDigit(s[i]) || s[i] == '_')) ++i;
  }
  return i == s.size();
}

// ================================================================================================
// Reading: yaml-cpp events -> a node tree -> boost::json::value.
// ================================================================================================

struct YamlError {
  YAML::Mark mark;
  std::string message;
};

struct Node {
  enum Type : uint8_t { kScalar, kNull, kSeq, kMap, kAlias };
  Type type = kNull;
  std::string tag;  // "?" plain, "!" quoted/block, else the resolved explicit tag
  std::string value;
  YAML::Mark mark;
  std::vector<int> children;  // maps: key, value, key, value...
  int target = -1;            // aliases
};

// A std::streambuf over existing memory, so yaml-cpp reads the caller's text without a copy.
class MemBuf : public std::streambuf {
 public:
  MemBuf(const char* begin, const char* end) {
    char* b = const_cast<char*>(begin);  // read-only use: the get area is never written
    setg(b, b, const_cast<char*>(end));
  }
};

class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string_view source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0) CheckExplicitDocumentStart(mark);
    previous_start_ = start_;
    start_ = mark.pos;
    nodes_.clear();
    stack_.clear();
    anchors_.clear();
    root_ = -1;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Add(Node::kNull, mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    int idx = Add(Node::kAlias, mark, 0);
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw YamlError{mark, "unknown anchor referenced"};
    nodes_[static_cast<std::size_t>(idx)].target = it->second;
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (tag != "?") CheckQuotedScalarTerminated(mark);
    int idx = Add(Node::kScalar, mark, anchor);
    nodes_[static_cast<std::size_t>(idx)].tag = tag;
    nodes_[static_cast<std::size_t>(idx)].value = value;
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    stack_.push_back(Add(Node::kSeq, mark, anchor));
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    stack_.push_back(Add(Node::kMap, mark, anchor));
  }
  void OnMapEnd() override { stack_.pop_back(); }

  const std::vector<Node>& nodes() const { return nodes_; }
  int root() const { return root_; }
  // True when this document starts where the previous one did: yaml-cpp 0.7 can get stuck on
  // some malformed input and report empty documents at one position forever (found by fuzzing).
  bool Stuck() const { return documents_ > 1 && start_ == previous_start_; }

 private:
  int Add(Node::Type type, const YAML::Mark& mark, YAML::anchor_t anchor) {
    int idx = static_cast<int>(nodes_.size());
    Node n;
    n.type = type;
    n.mark = mark;
    nodes_.push_back(std::move(n));
    if (stack_.empty()) {
      root_ = idx;
    } else {
      nodes_[static_cast<std::size_t>(stack_.back())].children.push_back(idx);
    }
    if (anchor != 0) anchors_[anchor] = idx;
    return idx;
  }

  // The text of 0-based line `n` (without its newline).
  std::string_view Line(int n) const {
    std::size_t start = 0;
    for (int line = 0; line < n; ++line) {
      start = source_.find('\n', start);
      if (start == std::string_view::npos) return {};
      ++start;
    }
    std::size_t end = source_.find('\n', start);
    return source_.substr(start, end == std::string_view::npos ? end : end - start);
  }

  static bool IsMarker(std::string_view line, std::string_view marker) {
    if (line.substr(0, 3) != marker) return false;
    return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
  }

  // yaml-cpp starts a new document when content follows the end of the previous root node
  // ("- a\nb: c"); YAML needs a "---" there (or a "..." before), and libyaml reports it.
  void CheckExplicitDocumentStart(const YAML::Mark& mark) {
    if (mark.line < 0 || IsMarker(Line(mark.line), "---")) return;
    for (int n = mark.line - 1; n >= 0; --n) {
      std::string_view l = Line(n);
      std::size_t first = l.find_first_not_of(" \t\r");
      if (first == std::string_view::npos || l[first] == '#') continue;
      if (IsMarker(l, "...")) return;
      break;
    }
    throw YamlError{mark, "did not find expected <document start>"};
  }

  // yaml-cpp silently ends a quoted scalar at the end of the stream; libyaml (and so kubectl)
  // reports it. Find the opening quote at the scalar's mark and make sure it is closed.
  void CheckQuotedScalarTerminated(const YAML::Mark& mark) {
    if (mark.pos < 0) return;
    std::size_t i = static_cast<std::size_t>(mark.pos);
    // Skip an anchor (&a) and/or a tag (!!str) written before the scalar.
    while (i < source_.size() && (source_[i] == '&' || source_[i] == '!')) {
      while (i < source_.size() && source_[i] != ' ' && source_[i] != '\t' && source_[i] != '\n') {
        ++i;
      }
      while (i < source_.size() && (source_[i] == ' ' || source_[i] == '\t')) ++i;
    }
    if (i >= source_.size()) return;
    char q = source_[i];
    if (q != '"' && q != '\'') return;
    for (std::size_t k = i + 1; k < source_.size(); ++k) {
      if (q == '"' && source_[k] == '\\') {
        ++k;
        continue;
      }
      if (source_[k] == q) {
        if (q == '\'' && k + 1 < source_.size() && source_[k + 1] == '\'') {
          ++k;
          continue;
        }
        return;
      }
    }
    throw YamlError{mark, "found unexpected end of stream while scanning a quoted scalar"};
  }

  std::string_view source_;
  std::vector<Node> nodes_;
  std::vector<int> stack_;
  std::unordered_map<YAML::anchor_t, int> anchors_;
  int root_ = -1;
  int documents_ = 0;
  int start_ = -1;
  int previous_start_ = -1;
};

constexpr char kTagPrefix[] = "tag:yaml.org,2002:";
constexpr std::size_t kMaxReportedDuplicates = 1000;

std::string ShortTag(const std::string& tag) {
  std::string_view p(kTagPrefix);
  if (tag.compare(0, p.size(), p) == 0) return "!!" + tag.substr(p.size());
  return tag;
}

bool Base64Decode(std::string_view in, std::string& out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  for (char c : in) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean += c;
  }
  if (clean.size() % 4 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = clean[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == clean.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[k] = val(c);
        if (v[k] < 0) return false;
      }
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return true;
}

// A YAML float as it reaches the apiserver: json.Marshal writes an integral value below 1e21 with
// no fraction or exponent, which JSON readers then take as an integer.
bj::value FloatToJson(double f) {
  if (f == std::trunc(f) && std::fabs(f) < 1e21) {
    if (f >= -9223372036854775808.0 && f < 9223372036854775808.0) {
      return bj::value(static_cast<int64_t>(f));
    }
    if (f >= 0 && f < 18446744073709551616.0) return bj::value(static_cast<uint64_t>(f));
  }
  return bj::value(f);
}

class Converter {
 public:
  Converter(const std::vector<Node>& nodes, const YamlParseOptions& options)
      : nodes_(nodes), options_(options), in_progress_(nodes.size(), 0) {}

  bj::value Convert(int idx) {
    const Node& n = At(idx);
    Count(n);
    if (++depth_ > static_cast<int>(kMaxJsonDepth)) throw YamlError{n.mark, "nesting too deep"};
    bj::value out;
    switch (n.type) {
      case Node::kNull:
        break;
      case Node::kAlias: {
        if (in_progress_[static_cast<std::size_t>(n.target)]) {
          throw YamlError{n.mark, "anchor value contains itself"};
        }
        ++alias_depth_;
        out = Convert(n.target);
        --alias_depth_;
        break;
      }
      case Node::kScalar:
        out = Scalar(n);
        break;
      case Node::kSeq: {
        in_progress_[static_cast<std::size_t>(idx)] = 1;
        bj::array arr;
        arr.reserve(n.children.size());
        for (std::size_t i = 0; i < n.children.size(); ++i) {
          path_.push_back({true, i, {}});
          arr.push_back(Convert(n.children[i]));
          path_.pop_back();
        }
        in_progress_[static_cast<std::size_t>(idx)] = 0;
        out = std::move(arr);
        break;
      }
      case Node::kMap: {
        in_progress_[static_cast<std::size_t>(idx)] = 1;
        out = Mapping(n);
        in_progress_[static_cast<std::size_t>(idx)] = 0;
        break;
      }
    }
    --depth_;
    return out;
  }

 private:
  struct PathElem {
    bool is_index;
    std::size_t index;
    std::string key;
  };

  const Node& At(int idx) const { return nodes_[static_cast<std::size_t>(idx)]; }

  // go-yaml v2's defence against "billion laughs": allow alias-driven nodes up to a ratio of all
  // decoded nodes that shrinks as the document grows.
  void Count(const Node& n) {
    ++decode_count_;
    if (alias_depth_ > 0) ++alias_count_;
    if (alias_count_ > 100 && decode_count_ > 1000) {
      double allowed;
      if (decode_count_ <= 400000) {
        allowed = 0.99;
      } else if (decode_count_ >= 4000000) {
        allowed = 0.10;
      } else {
        allowed = 0.99 - 0.89 * (static_cast<double>(decode_count_ - 400000) / 3600000.0);
      }
      if (static_cast<double>(alias_count_) / static_cast<double>(decode_count_) > allowed) {
        throw YamlError{n.mark, "document contains excessive aliasing"};
      }
    }
  }

  bj::value Scalar(const Node& n) {
    const std::string& tag = n.tag;
    if (tag == "!") return bj::value(bj::string(n.value));
    if (tag == "?") return FromResolved(n, Resolve(n.value, true));
    std::string_view p(kTagPrefix);
    if (tag.compare(0, p.size(), p) != 0) return bj::value(bj::string(n.value));
    std::string_view t = std::string_view(tag).substr(p.size());
    if (t == "str" || t == "timestamp") return bj::value(bj::string(n.value));
    if (t == "binary") {
      std::string decoded;
      if (!Base64Decode(n.value, decoded)) {
        throw YamlError{n.mark, "!!binary value contains invalid base64 data"};
      }
      return bj::value(bj::string(decoded));
    }
    Resolved r = Resolve(n.value, false);
    bool ok = false;
    if (t == "int") {
      ok = r.kind == Kind::kInt || r.kind == Kind::kUint;
    } else if (t == "float") {
      if (r.kind == Kind::kInt) {
        r.kind = Kind::kFloat;
        r.f = static_cast<double>(r.i);
      } else if (r.kind == Kind::kUint) {
        r.kind = Kind::kFloat;
        r.f = static_cast<double>(r.u);
      }
      ok = r.kind == Kind::kFloat;
    } else if (t == "bool") {
      ok = r.kind == Kind::kBool;
    } else if (t == "null") {
      ok = r.kind == Kind::kNull;
    } else {
      return bj::value(bj::string(n.value));  // !!map on a scalar and the like: keep the text
    }
    if (!ok) {
      throw YamlError{n.mark, "cannot decode `" + n.value + "` as a " + ShortTag(tag)};
    }
    return FromResolved(n, r);
  }

  bj::value FromResolved(const Node& n, const Resolved& r) {
    switch (r.kind) {
      case Kind::kNull:
        return nullptr;
      case Kind::kBool:
        return r.b;
      case Kind::kInt:
        return r.i;
      case Kind::kUint:
        return r.u;
      case Kind::kFloat:
        if (!std::isfinite(r.f)) {
          throw YamlError{n.mark, "unsupported value " + n.value + " (JSON has no NaN or Inf)"};
        }
        return FloatToJson(r.f);
      case Kind::kString:
      case Kind::kTimestamp:
        break;
    }
    return bj::value(bj::string(n.value));
  }

  // The JSON key for a YAML key node, following sigs.k8s.io/yaml's conversion.
  std::string KeyString(int idx) {
    const Node* k = &At(idx);
    if (k->type == Node::kAlias) k = &At(k->target);
    if (k->type == Node::kSeq || k->type == Node::kMap) {
      throw YamlError{k->mark, "invalid map key: a mapping or sequence cannot be a key"};
    }
    if (k->type == Node::kNull) throw YamlError{k->mark, "unsupported map key: null"};
    // sigs.k8s.io/yaml prints float keys with float32 'g' (so .nan and 1e400 are fine as keys).
    if (k->tag == "?") {
      Resolved r = Resolve(k->value, true);
      if (r.kind == Kind::kFloat) {
        if (std::isnan(r.f)) return ".nan";
        if (std::isinf(r.f)) return r.f > 0 ? ".inf" : "-.inf";
        std::string s = FormatGoFloat(r.f, 'g', 32);
        if (s == "+Inf") return ".inf";
        if (s == "-Inf") return "-.inf";
        return s;
      }
    }
    bj::value v = Scalar(*k);
    switch (v.kind()) {
      case bj::kind::string:
        return std::string(v.get_string());
      case bj::kind::bool_:
        return v.get_bool() ? "true" : "false";
      case bj::kind::int64:
        return std::to_string(v.get_int64());
      case bj::kind::uint64:
        return std::to_string(v.get_uint64());
      case bj::kind::double_:
        return FormatGoFloat(v.get_double(), 'g', 32);
      default:
        throw YamlError{k->mark, "unsupported map key: null"};
    }
  }

  static bool IsMergeKey(const Node& k) {
    return k.type == Node::kScalar && k.value == "<<" &&
           (k.tag == "?" || k.tag == std::string(kTagPrefix) + "merge");
  }

  void MergeInto(bj::object& obj, int idx) {
    const Node& n = At(idx);
    auto require_map = [&](const Node& x) {
      const Node& target = x.type == Node::kAlias ? At(x.target) : x;
      if (target.type != Node::kMap) {
        throw YamlError{x.mark, "map merge requires map or sequence of maps as the value"};
      }
    };
    auto apply = [&](int i) {
      bj::value v = Convert(i);
      for (auto& kv : v.get_object()) obj[kv.key()] = std::move(kv.value());
    };
    if (n.type == Node::kSeq) {
      // Earlier maps take precedence: apply from the last one back.
      for (std::size_t i = n.children.size(); i-- > 0;) {
        require_map(At(n.children[i]));
        apply(n.children[i]);
      }
      return;
    }
    require_map(n);
    apply(idx);
  }

  bj::value Mapping(const Node& n) {
    bj::object obj;
    std::unordered_map<std::string, int> explicit_keys;  // key -> 1-based line
    for (std::size_t i = 0; i + 1 < n.children.size(); i += 2) {
      const Node& k = At(n.children[i]);
      Count(k);
      if (IsMergeKey(k)) {
        MergeInto(obj, n.children[i + 1]);
        continue;
      }
      std::string key = KeyString(n.children[i]);
      auto [it, inserted] = explicit_keys.emplace(key, k.mark.line + 1);
      if (!inserted) {
        if (options_.reject_duplicate_keys) {
          throw YamlError{k.mark, "mapping key \"" + key + "\" already defined at line " +
                                      std::to_string(it->second)};
        }
        // Bounded: a path per repeated key would be quadratic on hostile input (as in json.cpp).
        if (options_.duplicate_fields != nullptr &&
            options_.duplicate_fields->size() < kMaxReportedDuplicates) {
          options_.duplicate_fields->push_back(PathString(key));
        }
      }
      path_.push_back({false, 0, key});
      bj::value v = Convert(n.children[i + 1]);
      path_.pop_back();
      obj[key] = std::move(v);
    }
    return obj;
  }

  std::string PathString(const std::string& last) const {
    std::string s;
    for (const PathElem& e : path_) {
      if (e.is_index) {
        s += '[' + std::to_string(e.index) + ']';
      } else {
        if (!s.empty()) s += '.';
        s += e.key;
      }
    }
    if (!s.empty()) s += '.';
    return s + last;
  }

  const std::vector<Node>& nodes_;
  const YamlParseOptions& options_;
  std::vector<char> in_progress_;
  std::vector<PathElem> path_;
  std::size_t decode_count_ = 0;
  std::size_t alias_count_ = 0;
  int alias_depth_ = 0;
  int depth_ = 0;
};

Status ErrorAt(std::string_view source, const YAML::Mark& mark, std::string message) {
  if (mark.is_null() || mark.line < 0) return Status::BadRequest(std::move(message));
  // Tabs are the classic cause of yaml-cpp's terse indentation errors; say so.
  std::size_t line_start = 0;
  int line = 0;
  for (std::size_t i = 0; i < source.size() && line < mark.line; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  std::size_t e = source.find('\n', line_start);
  std::string_view text =
      source.substr(line_start, e == std::string_view::npos ? e : e - line_start);
  std::size_t indent_end = text.find_first_not_of(" \t");
  if (text.substr(0, indent_end).find('\t') != std::string_view::npos) {
    message = "found a tab character where indentation is expected (" + message + ")";
  }
  return Status::BadRequest("line " + std::to_string(mark.line + 1) + ", column " +
                            std::to_string(mark.column + 1) + ": " + message);
}

// Calls `on_doc(value)` for each document (including empty ones, as null).
template <class F>
Status ForEachDocument(std::string_view text, const YamlParseOptions& options, F&& on_doc) {
  MemBuf buf(text.data(), text.data() + text.size());
  std::istream in(&buf);
  TreeBuilder builder(text);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
      if (builder.Stuck()) return Status::BadRequest("yaml: the parser made no progress");
      if (builder.root() < 0) {
        on_doc(bj::value());
        continue;
      }
      Converter conv(builder.nodes(), options);
      on_doc(conv.Convert(builder.root()));
    }
  } catch (const YamlError& e) {
    return ErrorAt(text, e.mark, e.message);
  } catch (const YAML::DeepRecursion& e) {
    return ErrorAt(text, e.mark, "nesting too deep");
  } catch (const YAML::Exception& e) {
    return ErrorAt(text, e.mark, e.msg);
  } catch (const std::exception& e) {
    return Status::BadRequest(std::string("yaml: ") + e.what());
  }
  return Status::OK();
}

// ================================================================================================
// Writing: go-yaml v2's emitter, reduced to what JSON values need (block mappings and sequences,
// flow {} and [] for empty ones, scalars in plain / single / double / literal styles).
// ================================================================================================

constexpr int kBestIndent = 2;
constexpr int kBestWidth = 80;

// Byte width of the UTF-8 sequence that starts with `b` (1 for stray bytes).
std::size_t Width(unsigned char b) {
  if ((b & 0x80) == 0) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 1;
}

unsigned char ByteAt(std::string_view s, std::size_t i) {
  return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
}

bool IsSpace(std::string_view s, std::size_t i) { return i < s.size() && s[i] == ' '; }
bool IsBlank(std::string_view s, std::size_t i) {
  return i < s.size() && (s[i] == ' ' || s[i] == '\t');
}
bool IsBreak(std::string_view s, std::size_t i) {
  unsigned char b = ByteAt(s, i);
  return b == '\r' || b == '\n' || (b == 0xC2 && ByteAt(s, i + 1) == 0x85) ||
         (b == 0xE2 && ByteAt(s, i + 1) == 0x80 &&
          (ByteAt(s, i + 2) == 0xA8 || ByteAt(s, i + 2) == 0xA9));
}
bool IsBlankz(std::string_view s, std::size_t i) {
  return i >= s.size() || IsBlank(s, i) || IsBreak(s, i) || s[i] == '\0';
}
bool IsPrintable(std::string_view s, std::size_t i) {
  unsigned char b = ByteAt(s, i);
  unsigned char b1 = ByteAt(s, i + 1);
  unsigned char b2 = ByteAt(s, i + 2);
  return b == 0x0A || (b >= 0x20 && b <= 0x7E) || (b == 0xC2 && b1 >= 0xA0) ||
         (b > 0xC2 && b < 0xED) || (b == 0xED && b1 < 0xA0) || b == 0xEE ||
         (b == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)));
}
bool IsBom(std::string_view s, std::size_t i) {
  return ByteAt(s, i) == 0xEF && ByteAt(s, i + 1) == 0xBB && ByteAt(s, i + 2) == 0xBF;
}

// Replaces invalid UTF-8 with U+FFFD so the emitter only sees well-formed text.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = Width(c);
    bool ok = (c < 0x80) || (c >= 0xC2 && c <= 0xF4 && i + n <= s.size());
    for (std::size_t k = 1; ok && k < n; ++k) ok = (ByteAt(s, i + k) & 0xC0) == 0x80;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

enum class Style { kPlain, kSingle, kDouble, kLiteral };

struct Analysis {
  bool multiline = false;
  bool block_plain_allowed = true;
  bool single_quoted_allowed = true;
  bool block_allowed = true;
};

Analysis Analyze(std::string_view v) {
  Analysis a;
  if (v.empty()) {
    a.block_allowed = false;
    return a;
  }
  bool block_indicators = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  bool previous_space = false, previous_break = false;
  if (v.size() >= 3 && (v.substr(0, 3) == "---" || v.substr(0, 3) == "...")) {
    block_indicators = true;
  }
  bool preceded_by_whitespace = true;
  for (std::size_t i = 0, w = 0; i < v.size(); i += w) {
    w = Width(static_cast<unsigned char>(v[i]));
    bool followed_by_whitespace = i + w >= v.size() || IsBlankz(v, i + w);
    char c = v[i];
    if (i == 0) {
      // Indicators that cannot start a plain scalar; ?, : and - only when a blank follows.
      if (std::string_view("#,[]{}&*!|>'\"%@`").find(c) != std::string_view::npos) {
        block_indicators = true;
      } else if ((c == '?' || c == ':' || c == '-') && followed_by_whitespace) {
        block_indicators = true;
      }
    } else {
      if (c == ':' && followed_by_whitespace) block_indicators = true;
      if (c == '#' && preceded_by_whitespace) block_indicators = true;
    }
    // NEL, LS and PS are line breaks to go-yaml (YAML 1.1) but content to YAML 1.2 readers such
    // as yaml-cpp; go-yaml would write them raw, we escape them so every reader agrees.
    if (!IsPrintable(v, i) || (IsBreak(v, i) && w > 1)) special = true;
    if (IsSpace(v, i)) {
      if (i == 0) leading_space = true;
      if (i + w == v.size()) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (IsBreak(v, i)) {
      line_breaks = true;
      if (i == 0) leading_break = true;
      if (i + w == v.size()) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_by_whitespace = IsBlankz(v, i);
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.block_plain_allowed = false;
  }
  if (trailing_space) a.block_allowed = false;
  if (break_space) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
  }
  if (space_break || special) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
    a.block_allowed = false;
  }
  if (line_breaks) a.block_plain_allowed = false;
  if (block_indicators) a.block_plain_allowed = false;
  return a;
}

class Emitter {
 public:
  std::string Take() { return std::move(out_); }

  void Document(const bj::value& v) {
    EmitNode(v, /*mapping=*/false, /*simple_key=*/false);
    WriteIndent();
  }

 private:
  void Put(char c) {
    out_ += c;
    ++column_;
  }
  void PutBreak() {
    out_ += '\n';
    column_ = 0;
  }
  // Copies one UTF-8 character; the column counts characters, as go-yaml's does.
  void Write(std::string_view s, std::size_t& i) {
    std::size_t w = std::min(Width(static_cast<unsigned char>(s[i])), s.size() - i);
    out_.append(s.substr(i, w));
    ++column_;
    i += w;
  }
  void WriteBreak(std::string_view s, std::size_t& i) {
    if (s[i] == '\n') {
      PutBreak();
      ++i;
    } else {
      Write(s, i);
      column_ = 0;
    }
  }
  void WriteIndent() {
    int ind = indent_ < 0 ? 0 : indent_;
    if (!indention_ || column_ > ind || (column_ == ind && !whitespace_)) PutBreak();
    while (column_ < ind) Put(' ');
    whitespace_ = true;
    indention_ = true;
  }
  void WriteIndicator(std::string_view ind, bool need_whitespace, bool is_whitespace,
                      bool is_indention) {
    if (need_whitespace && !whitespace_) Put(' ');
    for (std::size_t i = 0; i < ind.size();) Write(ind, i);
    whitespace_ = is_whitespace;
    indention_ = indention_ && is_indention;
  }
  void IncreaseIndent(bool flow, bool indentless) {
    indents_.push_back(indent_);
    if (indent_ < 0) {
      indent_ = flow ? kBestIndent : 0;
    } else if (!indentless) {
      indent_ += kBestIndent;
    }
  }
  void PopIndent() {
    indent_ = indents_.back();
    indents_.pop_back();
  }

  void EmitNode(const bj::value& v, bool mapping, bool simple_key) {
    switch (v.kind()) {
      case bj::kind::object:
        if (v.get_object().empty()) {
          EmitEmptyFlow("{", "}");
        } else {
          EmitMapping(v.get_object());
        }
        return;
      case bj::kind::array:
        if (v.get_array().empty()) {
          EmitEmptyFlow("[", "]");
        } else {
          EmitSequence(v.get_array(), mapping);
        }
        return;
      case bj::kind::string: {
        std::string s = SanitizeUtf8(v.get_string());
        Style want = s.find('\n') != std::string::npos ? Style::kLiteral
                     : YamlPlainScalarIsNotString(s)   ? Style::kDouble
                                                       : Style::kPlain;
        EmitScalar(s, want, simple_key);
        return;
      }
      case bj::kind::null:
        EmitScalar("null", Style::kPlain, simple_key);
        return;
      case bj::kind::bool_:
        EmitScalar(v.get_bool() ? "true" : "false", Style::kPlain, simple_key);
        return;
      case bj::kind::int64:
        EmitScalar(std::to_string(v.get_int64()), Style::kPlain, simple_key);
        return;
      case bj::kind::uint64:
        EmitScalar(std::to_string(v.get_uint64()), Style::kPlain, simple_key);
        return;
      case bj::kind::double_: {
        std::string s = FormatGoFloat(v.get_double(), 'g', 64);
        if (s == "+Inf") s = ".inf";
        if (s == "-Inf") s = "-.inf";
        if (s == "NaN") s = ".nan";
        EmitScalar(s, Style::kPlain, simple_key);
        return;
      }
    }
  }

  void EmitEmptyFlow(std::string_view open, std::string_view close) {
    WriteIndicator(open, true, true, false);
    IncreaseIndent(true, false);
    PopIndent();
    WriteIndicator(close, false, false, false);
  }

  void EmitMapping(const bj::object& obj) {
    std::vector<const bj::key_value_pair*> items;
    items.reserve(obj.size());
    for (const auto& kv : obj) items.push_back(&kv);
    std::stable_sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
      return GoYamlKeyLess(a->key(), b->key());
    });
    IncreaseIndent(false, false);
    for (const auto* kv : items) {
      WriteIndent();
      std::string key = SanitizeUtf8(kv->key());
      bool simple = key.size() <= 128 && !Analyze(key).multiline;
      Style want = key.find('\n') != std::string::npos ? Style::kLiteral
                   : YamlPlainScalarIsNotString(key)   ? Style::kDouble
                                                       : Style::kPlain;
      if (simple) {
        EmitScalar(key, want, /*simple_key=*/true);
        WriteIndicator(":", false, false, false);
      } else {
        WriteIndicator("?", true, false, true);
        EmitScalar(key, want, /*simple_key=*/false);
        WriteIndent();
        WriteIndicator(":", true, false, true);
      }
      EmitNode(kv->value(), /*mapping=*/true, /*simple_key=*/false);
    }
    PopIndent();
  }

  void EmitSequence(const bj::array& arr, bool mapping) {
    IncreaseIndent(false, mapping && !indention_);
    for (const bj::value& item : arr) {
      WriteIndent();
      WriteIndicator("-", true, false, true);
      EmitNode(item, /*mapping=*/false, /*simple_key=*/false);
    }
    PopIndent();
  }

  void EmitScalar(std::string_view value, Style style, bool simple_key) {
    Analysis a = Analyze(value);
    if (simple_key && a.multiline) style = Style::kDouble;
    if (style == Style::kPlain) {
      if (!a.block_plain_allowed) style = Style::kSingle;
      if (value.empty() && simple_key) style = Style::kSingle;
    }
    if (style == Style::kSingle && !a.single_quoted_allowed) style = Style::kDouble;
    if (style == Style::kLiteral && (!a.block_allowed || simple_key)) style = Style::kDouble;

    IncreaseIndent(true, false);
    bool allow_breaks = !simple_key;
    switch (style) {
      case Style::kPlain:
        WritePlain(value, allow_breaks);
        break;
      case Style::kSingle:
        WriteSingle(value, allow_breaks);
        break;
      case Style::kDouble:
        WriteDouble(value, allow_breaks);
        break;
      case Style::kLiteral:
        WriteLiteral(value);
        break;
    }
    PopIndent();
  }

  void WritePlain(std::string_view v, bool allow_breaks) {
    if (!whitespace_) Put(' ');
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (IsSpace(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && !IsSpace(v, i + 1)) {
          WriteIndent();
          ++i;
        } else {
          Write(v, i);
        }
        spaces = true;
      } else if (IsBreak(v, i)) {
        if (!breaks && v[i] == '\n') PutBreak();
        WriteBreak(v, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) WriteIndent();
        Write(v, i);
        indention_ = false;
        spaces = false;
        breaks = false;
      }
    }
    whitespace_ = false;
    indention_ = false;
  }

  void WriteSingle(std::string_view v, bool allow_breaks) {
    WriteIndicator("'", true, false, false);
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (IsSpace(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1 &&
            !IsSpace(v, i + 1)) {
          WriteIndent();
          ++i;
        } else {
          Write(v, i);
        }
        spaces = true;
      } else if (IsBreak(v, i)) {
        if (!breaks && v[i] == '\n') PutBreak();
        WriteBreak(v, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) WriteIndent();
        if (v[i] == '\'') Put('\'');
        Write(v, i);
        indention_ = false;
        spaces = false;
        breaks = false;
      }
    }
    WriteIndicator("'", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void WriteDouble(std::string_view v, bool allow_breaks) {
    static constexpr char kHexUpper[] = "0123456789ABCDEF";
    bool spaces = false;
    WriteIndicator("\"", true, false, false);
    for (std::size_t i = 0; i < v.size();) {
      unsigned char c = static_cast<unsigned char>(v[i]);
      if (!IsPrintable(v, i) || IsBom(v, i) || IsBreak(v, i) || c == '"' || c == '\\') {
        std::size_t w = std::min(Width(c), v.size() - i);
        uint32_t cp = w == 1 ? c : w == 2 ? (c & 0x1Fu) : w == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (std::size_t k = 1; k < w; ++k) {
          cp = (cp << 6) | (static_cast<unsigned char>(v[i + k]) & 0x3Fu);
        }
        i += w;
        Put('\\');
        // YAML's short escapes; anything else unprintable as \xXX, \uXXXX or \UXXXXXXXX.
        static constexpr std::pair<uint32_t, char> kShort[] = {
            {0x00, '0'},  {0x07, 'a'}, {0x08, 'b'}, {0x09, 't'},   {0x0A, 'n'},
            {0x0B, 'v'},  {0x0C, 'f'}, {0x0D, 'r'}, {0x1B, 'e'},   {0x22, '"'},
            {0x5C, '\\'}, {0x85, 'N'}, {0xA0, '_'}, {0x2028, 'L'}, {0x2029, 'P'}};
        char short_escape = 0;
        for (const auto& [code, letter] : kShort) {
          if (code == cp) short_escape = letter;
        }
        if (short_escape != 0) {
          Put(short_escape);
        } else {
          int digits = cp <= 0xFF ? 2 : cp <= 0xFFFF ? 4 : 8;
          Put(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U');
          for (int k = (digits - 1) * 4; k >= 0; k -= 4) Put(kHexUpper[(cp >> k) & 0xF]);
        }
        spaces = false;
      } else if (IsSpace(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1) {
          WriteIndent();
          if (IsSpace(v, i + 1)) Put('\\');
          ++i;
        } else {
          Write(v, i);
        }
        spaces = true;
      } else {
        Write(v, i);
        spaces = false;
      }
    }
    WriteIndicator("\"", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void WriteLiteral(std::string_view v) {
    WriteIndicator("|", true, false, false);
    if (IsSpace(v, 0) || IsBreak(v, 0)) {
      char hint[2] = {static_cast<char>('0' + kBestIndent), 0};
      WriteIndicator(hint, false, false, false);
    }
    // Chomping: '-' without a final break, '+' with more than one, none for exactly one.
    std::string_view chomp;
    std::size_t last = v.size() - 1;
    while (last > 0 && (static_cast<unsigned char>(v[last]) & 0xC0) == 0x80) --last;
    if (!IsBreak(v, last)) {
      chomp = "-";
    } else if (last == 0) {
      chomp = "+";
    } else {
      std::size_t prev = last - 1;
      while (prev > 0 && (static_cast<unsigned char>(v[prev]) & 0xC0) == 0x80) --prev;
      if (IsBreak(v, prev)) chomp = "+";
    }
    if (!chomp.empty()) WriteIndicator(chomp, false, false, false);
    PutBreak();
    indention_ = true;
    whitespace_ = true;
    bool breaks = true;
    for (std::size_t i = 0; i < v.size();) {
      if (IsBreak(v, i)) {
        WriteBreak(v, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) WriteIndent();
        Write(v, i);
        indention_ = false;
        breaks = false;
      }
    }
  }

  // go-yaml v2's map key order: letters after other characters, runs of digits compared as
  // numbers (so "a2" < "a10"). Non-ASCII characters count as letters.
  static bool GoYamlKeyLess(std::string_view a, std::string_view b) {
    std::vector<uint32_t> ar = Runes(a), br = Runes(b);
    auto is_letter = [](uint32_t r) {
      return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0x80;
    };
    auto is_digit = [](uint32_t r) { return r >= '0' && r <= '9'; };
    for (std::size_t i = 0; i < ar.size() && i < br.size(); ++i) {
      if (ar[i] == br[i]) continue;
      bool al = is_letter(ar[i]), bl = is_letter(br[i]);
      if (al && bl) return ar[i] < br[i];
      if (al || bl) return bl;
      uint64_t an = 0, bn = 0;
      if (ar[i] == '0' || br[i] == '0') {
        for (std::size_t j = i; j-- > 0 && is_digit(ar[j]);) {
          if (ar[j] != '0') {
            an = 1;
            bn = 1;
            break;
          }
        }
      }
      std::size_t ai = i, bi = i;
      for (; ai < ar.size() && is_digit(ar[ai]); ++ai) an = an * 10 + (ar[ai] - '0');
      for (; bi < br.size() && is_digit(br[bi]); ++bi) bn = bn * 10 + (br[bi] - '0');
      if (an != bn) return static_cast<int64_t>(an) < static_cast<int64_t>(bn);
      if (ai != bi) return ai < bi;
      return ar[i] < br[i];
    }
    return ar.size() < br.size();
  }

  static std::vector<uint32_t> Runes(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      std::size_t w = std::min(Width(c), s.size() - i);
      uint32_t cp = w == 1 ? c : w == 2 ? (c & 0x1Fu) : w == 3 ? (c & 0x0Fu) : (c & 0x07u);
      for (std::size_t k = 1; k < w; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
      }
      out.push_back(cp);
      i += w;
    }
    return out;
  }

  std::string out_;
  int column_ = 0;
  int indent_ = -1;
  std::vector<int> indents_;
  bool whitespace_ = true;
  bool indention_ = true;
};

}  // namespace

bool YamlPlainScalarIsNotString(std::string_view s) {
  return Resolve(s, true).kind != Kind::kString || IsBase60Float(s);
}

Result<boost::json::value> ParseYaml(std::string_view text, const YamlParseOptions& options) {
  bj::value result;
  int non_empty = 0;
  Status s = ForEachDocument(text, options, [&](bj::value v) {
    if (v.is_null()) return;
    if (++non_empty == 1) result = std::move(v);
  });
  if (!s.ok()) return s;
  if (non_empty > 1) {
    return Status::BadRequest("expected a single YAML document, found " +
                              std::to_string(non_empty));
  }
  return result;
}

Result<std::vector<boost::json::value>> ParseYamlDocuments(std::string_view text,
                                                           const YamlParseOptions& options) {
  std::vector<bj::value> docs;
  Status s = ForEachDocument(text, options, [&](bj::value v) {
    if (!v.is_null()) docs.push_back(std::move(v));
  });
  if (!s.ok()) return s;
  return docs;
}

std::string ToYaml(const boost::json::value& v) {
  Emitter e;
  e.Document(v);
  return e.Take();
}

}  // namespace mini8s
