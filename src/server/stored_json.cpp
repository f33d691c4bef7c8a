#include "server/stored_json.h"

namespace mini8s::server {
namespace {

// A forward-only scanner over JSON text that skips values; any surprise sets `bad`.
struct Scanner {
  std::string_view s;
  size_t i = 0;
  bool bad = false;

  void Ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  bool Eat(char c) {
    Ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // A string at s[i] == '"'; returns its raw contents and whether it held an escape.
  std::string_view String(bool* escaped) {
    *escaped = false;
    if (i >= s.size() || s[i] != '"') {
      bad = true;
      return {};
    }
    size_t start = ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') {
        *escaped = true;
        ++i;
      }
      ++i;
    }
    if (i >= s.size()) {
      bad = true;
      return {};
    }
    return s.substr(start, i++ - start);
  }
  void Value() {
    Ws();
    if (i >= s.size()) {
      bad = true;
      return;
    }
    char c = s[i];
    if (c == '"') {
      bool e;
      String(&e);
    } else if (c == '{' || c == '[') {
      // Nesting is counted, strings skipped whole.
      int depth = 0;
      while (i < s.size()) {
        char d = s[i];
        if (d == '"') {
          bool e;
          String(&e);
          if (bad) return;
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') --depth;
        ++i;
        if (depth == 0) return;
      }
      bad = true;
    } else {
      size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
             s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
        ++i;
      }
      if (i == start) bad = true;
    }
  }
};

}  // namespace

std::optional<std::string> WithResourceVersion(std::string_view stored, int64_t revision) {
  Scanner sc{stored};
  if (!sc.Eat('{')) return std::nullopt;
  size_t insert_at = std::string_view::npos;
  bool metadata_empty = true;
  bool first = true;
  while (!sc.bad) {
    if (sc.Eat('}')) break;
    if (!first && !sc.Eat(',')) return std::nullopt;
    first = false;
    sc.Ws();
    bool escaped;
    std::string_view key = sc.String(&escaped);
    if (sc.bad || escaped || !sc.Eat(':')) return std::nullopt;
    sc.Ws();
    if (key != "metadata") {
      sc.Value();
      continue;
    }
    if (insert_at != std::string_view::npos || !sc.Eat('{')) return std::nullopt;
    bool mfirst = true;
    while (true) {
      sc.Ws();
      if (sc.i < stored.size() && stored[sc.i] == '}') {
        insert_at = sc.i++;
        break;
      }
      if (!mfirst && !sc.Eat(',')) return std::nullopt;
      mfirst = false;
      sc.Ws();
      std::string_view mkey = sc.String(&escaped);
      if (sc.bad || escaped || mkey == "resourceVersion" || !sc.Eat(':')) return std::nullopt;
      sc.Value();
      if (sc.bad) return std::nullopt;
      metadata_empty = false;
    }
  }
  if (sc.bad || insert_at == std::string_view::npos) return std::nullopt;
  sc.Ws();
  if (sc.i != stored.size()) return std::nullopt;
  std::string rv = std::to_string(revision);
  std::string out;
  out.reserve(stored.size() + rv.size() + 24);
  out.append(stored.substr(0, insert_at));
  if (!metadata_empty) out.push_back(',');
  out.append("\"resourceVersion\":\"").append(rv).append("\"");
  out.append(stored.substr(insert_at));
  return out;
}

}  // namespace mini8s::server
