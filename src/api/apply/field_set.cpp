#include "api/apply/field_set.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "mini8s/common/json.h"

namespace mini8s::api::apply {

namespace json = boost::json;

PathElement PathElement::Field(std::string n) {
  PathElement pe;
  pe.kind = kField;
  pe.name = std::move(n);
  return pe;
}

PathElement PathElement::Key(json::object fields) {
  std::vector<std::pair<std::string, json::value>> sorted;
  for (auto& [k, v] : fields) sorted.emplace_back(std::string(k), v);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json::object ordered;
  for (auto& [k, v] : sorted) ordered[k] = std::move(v);
  PathElement pe;
  pe.kind = kKey;
  pe.value = std::move(ordered);
  return pe;
}

PathElement PathElement::Value(json::value v) {
  PathElement pe;
  pe.kind = kValue;
  pe.value = std::move(v);
  return pe;
}

PathElement PathElement::Index(int64_t i) {
  PathElement pe;
  pe.kind = kIndex;
  pe.index = i;
  return pe;
}

std::string PathElement::Encode() const {
  switch (kind) {
    case kField:
      return "f:" + name;
    case kKey:
      return "k:" + SerializeJson(value);
    case kValue:
      return "v:" + SerializeJson(value);
    case kIndex:
      return "i:" + std::to_string(index);
  }
  return "";
}

namespace {

// value.ToString upstream: strings quoted, everything else as JSON.
std::string ValueText(const json::value& v) {
  if (v.is_string()) {
    std::string out;
    AppendJsonString(out, v.get_string());
    return out;
  }
  return SerializeJson(v);
}

int Rank(const json::value& v) {
  if (v.is_double() || v.is_int64() || v.is_uint64()) return 0;
  if (v.is_string()) return 1;
  if (v.is_bool()) return 2;
  if (v.is_array()) return 3;
  if (v.is_object()) return 4;
  return 5;  // null
}

double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

template <class T>
int Cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

std::string PathElement::ToString() const {
  switch (kind) {
    case kField:
      return "." + name;
    case kKey: {
      std::string out = "[";
      bool first = true;
      for (const auto& [k, v] : value.get_object()) {
        if (!first) out += ",";
        first = false;
        out += std::string(k) + "=" + ValueText(v);
      }
      return out + "]";
    }
    case kValue:
      return "[=" + ValueText(value) + "]";
    case kIndex:
      return "[" + std::to_string(index) + "]";
  }
  return "";
}

int CompareValues(const json::value& a, const json::value& b) {
  int ra = Rank(a), rb = Rank(b);
  if (ra != rb) return Cmp(ra, rb);
  switch (ra) {
    case 0:
      if (a.is_int64() && b.is_int64()) return Cmp(a.get_int64(), b.get_int64());
      return Cmp(AsDouble(a), AsDouble(b));
    case 1:
      return Cmp(std::string_view(a.get_string()), std::string_view(b.get_string()));
    case 2:
      return Cmp(a.get_bool(), b.get_bool());
    case 3: {
      const auto &la = a.get_array(), &lb = b.get_array();
      for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
        if (int c = CompareValues(la[i], lb[i]); c != 0) return c;
      }
      return Cmp(la.size(), lb.size());
    }
    case 4: {
      // Compare as sorted (key, value) sequences.
      auto sorted = [](const json::object& o) {
        std::vector<std::pair<std::string_view, const json::value*>> v;
        for (const auto& kv : o) v.emplace_back(kv.key(), &kv.value());
        std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.first < y.first; });
        return v;
      };
      auto sa = sorted(a.get_object()), sb = sorted(b.get_object());
      for (size_t i = 0; i < sa.size() && i < sb.size(); ++i) {
        if (int c = Cmp(sa[i].first, sb[i].first); c != 0) return c;
        if (int c = CompareValues(*sa[i].second, *sb[i].second); c != 0) return c;
      }
      return Cmp(sa.size(), sb.size());
    }
    default:
      return 0;
  }
}

int ComparePathElements(const PathElement& a, const PathElement& b) {
  if (a.kind != b.kind) return Cmp(static_cast<int>(a.kind), static_cast<int>(b.kind));
  switch (a.kind) {
    case PathElement::kField:
      return Cmp(a.name, b.name);
    case PathElement::kKey: {
      // Field lists: name then value, position by position; the shorter list first.
      const auto &ka = a.value.get_object(), &kb = b.value.get_object();
      auto ia = ka.begin(), ib = kb.begin();
      for (; ia != ka.end() && ib != kb.end(); ++ia, ++ib) {
        if (int c = Cmp(std::string_view(ia->key()), std::string_view(ib->key())); c != 0) {
          return c;
        }
        if (int c = CompareValues(ia->value(), ib->value()); c != 0) return c;
      }
      return Cmp(ka.size(), kb.size());
    }
    case PathElement::kValue:
      return CompareValues(a.value, b.value);
    case PathElement::kIndex:
      return Cmp(a.index, b.index);
  }
  return 0;
}

std::string PathToString(const Path& path) {
  std::string out;
  for (const auto& pe : path) out += pe.ToString();
  return out;
}

void FieldSet::Insert(const Path& path) {
  FieldSet* node = this;
  for (const auto& pe : path) node = &node->children[pe];
  node->member = true;
}

bool FieldSet::Has(const Path& path) const {
  const FieldSet* node = this;
  for (const auto& pe : path) {
    auto it = node->children.find(pe);
    if (it == node->children.end()) return false;
    node = &it->second;
  }
  return node->member;
}

namespace {
void ForEach(const FieldSet& set, Path& prefix, const std::function<void(const Path&)>& fn) {
  for (const auto& [pe, child] : set.children) {
    prefix.push_back(pe);
    if (child.member) fn(prefix);
    ForEach(child, prefix, fn);
    prefix.pop_back();
  }
}
}  // namespace

void FieldSet::ForEachMember(const std::function<void(const Path&)>& fn) const {
  Path prefix;
  if (member) fn(prefix);
  ForEach(*this, prefix, fn);
}

bool operator==(const FieldSet& a, const FieldSet& b) {
  if (a.member != b.member || a.children.size() != b.children.size()) return false;
  auto ib = b.children.begin();
  for (const auto& [pe, child] : a.children) {
    if (ComparePathElements(pe, ib->first) != 0 || !(child == ib->second)) return false;
    ++ib;
  }
  return true;
}

FieldSet Union(const FieldSet& a, const FieldSet& b) {
  FieldSet out = a;
  out.member = a.member || b.member;
  for (const auto& [pe, child] : b.children) {
    auto it = out.children.find(pe);
    if (it == out.children.end()) {
      out.children.emplace(pe, child);
    } else {
      it->second = Union(it->second, child);
    }
  }
  return out;
}

FieldSet Intersection(const FieldSet& a, const FieldSet& b) {
  FieldSet out;
  out.member = a.member && b.member;
  for (const auto& [pe, child] : a.children) {
    auto it = b.children.find(pe);
    if (it == b.children.end()) continue;
    FieldSet sub = Intersection(child, it->second);
    if (!sub.Empty()) out.children.emplace(pe, std::move(sub));
  }
  return out;
}

FieldSet Difference(const FieldSet& a, const FieldSet& b) {
  FieldSet out;
  out.member = a.member && !b.member;
  for (const auto& [pe, child] : a.children) {
    auto it = b.children.find(pe);
    FieldSet sub = it == b.children.end() ? child : Difference(child, it->second);
    if (!sub.Empty()) out.children.emplace(pe, std::move(sub));
  }
  return out;
}

FieldSet RecursiveDifference(const FieldSet& a, const FieldSet& b) {
  if (b.member) return {};
  FieldSet out;
  out.member = a.member;
  for (const auto& [pe, child] : a.children) {
    auto it = b.children.find(pe);
    FieldSet sub = it == b.children.end() ? child : RecursiveDifference(child, it->second);
    if (!sub.Empty()) out.children.emplace(pe, std::move(sub));
  }
  return out;
}

json::object EncodeFieldsV1(const FieldSet& set) {
  json::object out;
  for (const auto& [pe, child] : set.children) {
    json::object sub;
    if (!child.children.empty()) {
      if (child.member) sub["."] = json::object();
      for (auto& kv : EncodeFieldsV1(child)) sub[kv.key()] = std::move(kv.value());
    }
    out[pe.Encode()] = std::move(sub);
  }
  return out;
}

namespace {

Result<PathElement> DecodePathElement(std::string_view key) {
  auto bad = [&] {
    return Status::BadRequest("invalid path element \"" + std::string(key) + "\"");
  };
  if (key.size() < 2 || key[1] != ':') return bad();
  std::string_view rest = key.substr(2);
  switch (key[0]) {
    case 'f':
      return PathElement::Field(std::string(rest));
    case 'i': {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), i);
      if (ec != std::errc() || p != rest.data() + rest.size() || rest.empty()) return bad();
      return PathElement::Index(i);
    }
    case 'v': {
      auto v = ParseJson(rest);
      if (!v.has_value()) return bad();
      return PathElement::Value(std::move(v).value());
    }
    case 'k': {
      auto v = ParseJson(rest);
      if (!v.has_value() || !v.value().is_object() || v.value().get_object().empty()) return bad();
      return PathElement::Key(v.value().get_object());
    }
    default:
      return bad();
  }
}

Status DecodeInto(const json::value& fields, FieldSet& out) {
  if (!fields.is_object()) return Status::BadRequest("FieldsV1 nodes must be objects");
  for (const auto& kv : fields.get_object()) {
    if (kv.key() == ".") {
      out.member = true;
      continue;
    }
    MINI8S_ASSIGN_OR_RETURN(PathElement pe, DecodePathElement(kv.key()));
    FieldSet& child = out.children[pe];
    MINI8S_RETURN_IF_ERROR(DecodeInto(kv.value(), child));
    if (child.children.empty()) child.member = true;  // `{}` names the field itself
  }
  return Status::OK();
}

}  // namespace

Result<FieldSet> DecodeFieldsV1(const json::value& fields) {
  FieldSet out;
  MINI8S_RETURN_IF_ERROR(DecodeInto(fields, out));
  return out;
}

}  // namespace mini8s::api::apply
