#include "mini8s/controllers/history.h"

#include <algorithm>

#include <boost/json.hpp>

#include "controllers/sets/sets_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/json.h"

namespace mini8s::controllers::history {

namespace json = boost::json;
namespace asio = boost::asio;

const client::Resource& ControllerRevisionsResource() {
  static const client::Resource r{"apps", "v1", "controllerrevisions", "ControllerRevision", true};
  return r;
}

namespace {

json::value Sorted(const json::value& v) {
  if (v.is_object()) {
    const json::object& o = v.get_object();
    std::vector<std::string_view> keys;
    keys.reserve(o.size());
    for (const auto& kv : o) keys.push_back(kv.key());
    std::sort(keys.begin(), keys.end());
    json::object out;
    out.reserve(o.size());
    for (std::string_view k : keys) out.emplace(k, Sorted(o.at(k)));
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const json::value& e : v.get_array()) out.push_back(Sorted(e));
    return out;
  }
  return v;
}

std::string DataOf(const json::object& revision) {
  auto it = revision.find("data");
  return it == revision.end() ? std::string() : CanonicalJson(it->value());
}

}  // namespace

std::string CanonicalJson(const json::value& v) { return SerializeJson(Sorted(v)); }

uint32_t Fnv32(std::string_view data) {
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h *= 16777619u;
    h ^= c;
  }
  return h;
}

std::string SafeEncodeString(std::string_view s) {
  static constexpr std::string_view kAlphanums = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(kAlphanums[c % kAlphanums.size()]);
  return out;
}

std::string HashControllerRevision(const json::object& revision, std::optional<int32_t> probe) {
  std::string bytes = DataOf(revision);
  if (probe) bytes += std::to_string(*probe);
  return SafeEncodeString(std::to_string(Fnv32(bytes)));
}

std::string ControllerRevisionName(std::string_view prefix, std::string_view hash) {
  if (prefix.size() > 223) prefix = prefix.substr(0, 223);
  return std::string(prefix) + "-" + std::string(hash);
}

json::object TemplatePatch(const json::object& set) {
  json::object tmpl;
  if (const json::object* t = api::GetObject(set, "spec.template")) tmpl = *t;
  tmpl["$patch"] = "replace";
  json::object spec;
  spec["template"] = std::move(tmpl);
  json::object patch;
  patch["spec"] = std::move(spec);
  return patch;
}

Result<json::object> ApplyRevision(const json::object& set, const json::object& revision) {
  const json::object* tmpl = api::GetObject(revision, "data.spec.template");
  if (tmpl == nullptr) {
    return Status::Invalid("controllerrevision " + std::string(api::Name(revision)) +
                           " carries no spec.template");
  }
  json::object out = set;
  json::object t = *tmpl;
  t.erase("$patch");
  api::MutableObjectAt(out, "spec")["template"] = std::move(t);
  return out;
}

json::object NewControllerRevision(const json::object& parent, std::string_view parent_kind,
                                   const json::object* template_labels, json::object data,
                                   int64_t revision, std::optional<int32_t> collision_count) {
  json::object cr;
  cr["apiVersion"] = "apps/v1";
  cr["kind"] = "ControllerRevision";
  json::object& meta = api::MutableMetadata(cr);
  meta["namespace"] = api::Namespace(parent);
  json::object labels = template_labels != nullptr ? *template_labels : json::object();
  meta["labels"] = std::move(labels);
  api::SetOwnerReferences(cr, {sets::ControllerRef(parent, parent_kind)});
  cr["data"] = std::move(data);
  cr["revision"] = revision;
  std::string hash = HashControllerRevision(cr, collision_count);
  api::SetName(cr, ControllerRevisionName(api::Name(parent), hash));
  api::SetLabel(cr, kControllerRevisionHashLabel, hash);
  return cr;
}

int64_t RevisionNumber(const json::object& revision) {
  return api::GetInt(revision, "revision").value_or(0);
}

void SortControllerRevisions(std::vector<client::ObjectPtr>& revisions) {
  std::stable_sort(revisions.begin(), revisions.end(),
                   [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
                     int64_t ra = RevisionNumber(*a);
                     int64_t rb = RevisionNumber(*b);
                     if (ra != rb) return ra < rb;
                     auto ta = sets::CreationTime(*a);
                     auto tb = sets::CreationTime(*b);
                     if (ta != tb) return ta < tb;
                     return api::Name(*a) < api::Name(*b);
                   });
}

bool EqualRevision(const json::object& a, const json::object& b) {
  auto ha = api::Label(a, kControllerRevisionHashLabel);
  auto hb = api::Label(b, kControllerRevisionHashLabel);
  if (ha.value_or("") != hb.value_or("")) return false;
  return DataOf(a) == DataOf(b);
}

std::vector<client::ObjectPtr> FindEqualRevisions(const std::vector<client::ObjectPtr>& revisions,
                                                  const json::object& needle) {
  std::vector<client::ObjectPtr> out;
  for (const auto& r : revisions) {
    if (EqualRevision(*r, needle)) out.push_back(r);
  }
  return out;
}

int64_t NextRevision(const std::vector<client::ObjectPtr>& revisions) {
  int64_t max = 0;
  for (const auto& r : revisions) max = std::max(max, RevisionNumber(*r));
  return max + 1;
}

std::vector<client::ObjectPtr> History::ListControllerRevisions(
    const json::object& parent, const api::LabelSelector& selector) const {
  std::vector<client::ObjectPtr> out;
  std::string_view uid = api::Uid(parent);
  for (const client::ObjectPtr& r :
       revisions_.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(parent))) {
    if (!selector.Matches(api::Labels(*r))) continue;
    auto ref = api::ControllerOf(*r);
    if (!ref || ref->uid == uid) out.push_back(r);
  }
  return out;
}

asio::awaitable<Result<History::Created>> History::CreateControllerRevision(
    json::object parent, json::object revision, int32_t collision_count) {
  const client::Resource& res = ControllerRevisionsResource();
  for (int attempt = 0; attempt < 100; ++attempt) {
    json::object clone = revision;
    std::string hash = HashControllerRevision(clone, collision_count);
    api::SetName(clone, ControllerRevisionName(api::Name(parent), hash));
    api::SetNamespace(clone, api::Namespace(parent));
    auto created = co_await client_.Create(res, clone);
    if (created.has_value()) co_return Created{std::move(created).value(), collision_count};
    if (created.error().code() != Code::kAlreadyExists) co_return created.error();
    std::string ns(api::Namespace(parent));
    std::string name(api::Name(clone));
    auto existing = co_await client_.Get(res, ns, name);
    if (!existing.has_value()) co_return existing.error();
    if (DataOf(*existing) == DataOf(clone)) {
      co_return Created{std::move(existing).value(), collision_count};
    }
    ++collision_count;
  }
  co_return Status::Internal("controllerrevision: too many hash collisions for " +
                             std::string(api::Name(parent)));
}

asio::awaitable<Result<json::object>> History::UpdateControllerRevision(json::object revision,
                                                                        int64_t new_revision) {
  const client::Resource& res = ControllerRevisionsResource();
  json::object clone = std::move(revision);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (RevisionNumber(clone) == new_revision) co_return clone;
    clone["revision"] = new_revision;
    auto updated = co_await client_.Update(res, clone);
    if (updated.has_value()) co_return std::move(updated).value();
    if (updated.error().code() != Code::kConflict) co_return updated.error();
    std::string ns(api::Namespace(clone));
    std::string name(api::Name(clone));
    auto fresh = co_await client_.Get(res, ns, name);
    if (!fresh.has_value()) co_return fresh.error();
    clone = std::move(fresh).value();
  }
  co_return Status::Conflict("controllerrevision " + std::string(api::Name(clone)) +
                             ": too many conflicts");
}

asio::awaitable<Status> History::DeleteControllerRevision(json::object revision) {
  const client::Resource& res = ControllerRevisionsResource();
  std::string ns(api::Namespace(revision));
  std::string name(api::Name(revision));
  auto deleted = co_await client_.Delete(res, ns, name);
  if (!deleted.has_value() && deleted.error().code() != Code::kNotFound) {
    co_return deleted.error();
  }
  co_return Status::OK();
}

}  // namespace mini8s::controllers::history
