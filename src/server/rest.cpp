// Generic REST over the store: get, list, create, update, patch, delete, deletecollection and
// the status and scale subresources, with upstream's semantics and messages.
#include <algorithm>
#include <random>

#include "mini8s/api/apply.h"
#include "mini8s/api/defaults.h"
#include "mini8s/api/field_errors.h"
#include "mini8s/api/object.h"
#include "mini8s/api/patch.h"
#include "mini8s/api/protobuf.h"
#include "mini8s/api/quantity.h"
#include "mini8s/api/selector.h"
#include "mini8s/api/validation.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/common/yaml.h"
#include "mini8s/server/encryption.h"
#include "server/internal.h"
#include "server/stored_json.h"

namespace mini8s::server {
namespace {

constexpr int kMaxUpdateRetries = 5;

// Whom admission sees for the server's own writes (namespace cleanup, CRD cleanup).
const UserInfo& ServerUser() {
  static const UserInfo* user = new UserInfo{"system:apiserver", "", {"system:masters"}};
  return *user;
}
const UserInfo& UserOf(const RequestInfo& info) {
  return info.user != nullptr ? *info.user : ServerUser();
}

// Events expire an hour after their last write (kube-apiserver's --event-ttl default).
constexpr int64_t kEventTtlSeconds = 3600;
int64_t TtlFor(const api::KindInfo& k) {
  return k.kind == "Event" && (k.group.empty() || k.group == "events.k8s.io") ? kEventTtlSeconds
                                                                            : 0;
}

std::string RandomString(size_t n, std::string_view alphabet) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

std::string NewUid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;             // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xffff), unsigned(a & 0xffff), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// Unpadded base64url for continue tokens.
std::string B64Encode(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += k[(acc << (6 - bits)) & 63];
  return out;
}
std::optional<std::string> B64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else if (c == '=') break;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string MediaType(const http::HttpRequest& req) {
  std::string ct = req.headers.GetOr("Content-Type");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  for (char& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ct;
}

std::string WarningHeader(std::string_view text) {
  std::string q = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

enum class FieldValidation { kIgnore, kWarn, kStrict };

Result<FieldValidation> GetFieldValidation(const http::HttpRequest& req) {
  auto v = req.QueryParam("fieldValidation");
  if (!v || v->empty() || *v == "Warn") return FieldValidation::kWarn;
  if (*v == "Strict") return FieldValidation::kStrict;
  if (*v == "Ignore") return FieldValidation::kIgnore;
  return Status::BadRequest("fieldValidation parameter unsupported: " + *v);
}

bool DryRun(const http::HttpRequest& req) {
  for (const std::string& v : req.QueryParams("dryRun")) {
    if (v == "All") return true;
  }
  return false;
}

std::string FieldManager(const http::HttpRequest& req) {
  if (auto m = req.QueryParam("fieldManager"); m && !m->empty()) return *m;
  return api::FieldManagerFromUserAgent(req.headers.GetOr("User-Agent"));
}

json::object& Meta(json::object& obj) { return api::MutableObjectAt(obj, "metadata"); }

void EraseMeta(json::object& obj, std::initializer_list<const char*> keys) {
  json::object& m = Meta(obj);
  for (const char* k : keys) m.erase(k);
}

// Checks the decoded object against the kind's schema: decode errors (400), unknown and
// duplicate fields per fieldValidation (400 or Warning headers). Prunes custom resources.
std::optional<Reply> CheckFields(const api::KindInfo& k, json::object& obj, FieldValidation fv,
                                 const std::vector<std::string>& duplicates,
                                 http::Headers& warnings) {
  if (!k.schema) return std::nullopt;
  json::value v = obj;
  api::SchemaValidationOptions so;
  so.custom_resource = k.custom;
  api::SchemaValidationResult r = api::ValidateAgainstSchema(*k.schema, v, so);
  if (!r.decode_errors.empty()) {
    return BadRequestReply(api::CannotBeHandledMessage(k.kind, k.version, r.decode_errors.front()));
  }
  if (fv == FieldValidation::kStrict && (!r.unknown_fields.empty() || !duplicates.empty())) {
    std::string msg;
    if (!r.unknown_fields.empty()) {
      msg = api::StrictDecodingMessage(r.unknown_fields);
    } else {
      msg = "strict decoding error: ";
    }
    for (size_t i = 0; i < duplicates.size(); ++i) {
      if (!r.unknown_fields.empty() || i > 0) msg += ", ";
      msg += "duplicate field \"" + duplicates[i] + "\"";
    }
    return BadRequestReply(api::CannotBeHandledMessage(k.kind, k.version, msg));
  }
  if (fv == FieldValidation::kWarn) {
    for (const std::string& f : r.unknown_fields) {
      warnings.Add("Warning", WarningHeader(api::UnknownFieldMessage(f)));
    }
    for (const std::string& f : duplicates) {
      warnings.Add("Warning", WarningHeader("duplicate field \"" + f + "\""));
    }
  }
  if (k.custom) {
    api::PruneUnknownFields(*k.schema, v);
    if (v.is_object()) obj = std::move(v.as_object());
  }
  return std::nullopt;
}

// Decodes a request body into the object of kind `k`, with the type checks.
std::optional<Reply> DecodeBody(const api::Registry& registry, const http::HttpRequest& req,
                                const api::KindInfo& k, FieldValidation fv, json::object& out,
                                http::Headers& warnings) {
  std::string mt = MediaType(req);
  std::vector<std::string> duplicates;
  json::value v;
  if (mt == api::kProtobufMediaType) {
    std::vector<std::string> unknown;
    api::ProtobufDecodeOptions po;
    po.unknown_fields = &unknown;
    auto r = api::DecodeProtobuf(registry, req.body, po);
    if (!r.ok()) return FromStatus(r.error());
    v = std::move(*r);
  } else if (mt.empty() || mt == "application/json") {
    JsonParseOptions jo;
    jo.duplicate_fields = &duplicates;
    auto r = ParseJson(req.body, jo);
    if (!r.ok()) {
      return BadRequestReply("couldn't get version/kind; json parse error: " + r.error().message());
    }
    v = std::move(*r);
  } else if (mt == "application/yaml") {
    // Upstream serves YAML request bodies too (one document).
    YamlParseOptions yo;
    yo.reject_duplicate_keys = false;
    yo.duplicate_fields = &duplicates;
    auto r = ParseYaml(req.body, yo);
    if (!r.ok()) return BadRequestReply("error converting YAML to JSON: " + r.error().message());
    v = std::move(*r);
  } else {
    return StatusReply(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json, application/yaml, "
                       "application/vnd.kubernetes.protobuf");
  }
  if (!v.is_object()) {
    return BadRequestReply(api::CannotBeHandledMessage(
        k.kind, k.version, "json: cannot unmarshal " + std::string(v.is_array() ? "array" : "value") +
                               " into Go value of type " + k.kind));
  }
  out = std::move(v.as_object());
  std::string_view av = api::ApiVersion(out), kd = api::Kind(out);
  if ((!av.empty() && av != k.ApiVersion()) || (!kd.empty() && kd != k.kind)) {
    return BadRequestReply("the API version in the data (" + std::string(av) +
                           ") does not match the expected API version (" + k.ApiVersion() + ")");
  }
  out["apiVersion"] = k.ApiVersion();
  out["kind"] = k.kind;
  if (auto m = out.find("metadata"); m == out.end() || !m->value().is_object()) {
    out["metadata"] = json::object();
  }
  return CheckFields(k, out, fv, duplicates, warnings);
}

Reply InvalidReply(const api::KindInfo& k, std::string_view name, const api::ErrorList& errs) {
  return JsonReply(422, api::InvalidStatus(k.group, k.kind, name, errs));
}

std::string JsonScalarText(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_null()) return "";
  return SerializeJson(v);
}

// Whether the kind carries metadata.generation (kinds with a spec that controllers observe).
bool UsesGeneration(const api::KindInfo& k, const json::object& obj) {
  if (k.custom) return true;
  static const char* const kNo[] = {"Pod", "Namespace", "Node", "Service", "PersistentVolume",
                                    "PersistentVolumeClaim", "Endpoints", "ConfigMap", "Secret"};
  for (const char* n : kNo) {
    if (k.kind == n) return false;
  }
  return obj.contains("spec");
}

// Everything but metadata and status: what a generation bump looks at.
json::object SpecPart(const json::object& obj) {
  json::object o = obj;
  o.erase("metadata");
  o.erase("status");
  return o;
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void SetFinalizers(json::object& obj, const std::vector<std::string>& f) {
  if (f.empty()) {
    Meta(obj).erase("finalizers");
    return;
  }
  json::array a;
  for (const auto& s : f) a.emplace_back(s);
  Meta(obj)["finalizers"] = std::move(a);
}

// Upstream's GetPodQOS for cpu and memory: BestEffort without any request or limit, Guaranteed
// when every container limits both and requests (defaulted to the limits) equal them.
std::string PodQosClass(const json::object& pod) {
  bool any = false, guaranteed = true;
  for (const char* list : {"spec.initContainers", "spec.containers"}) {
    const json::array* cs = api::GetArray(pod, list);
    if (!cs) continue;
    for (const json::value& c : *cs) {
      if (!c.is_object()) continue;
      const json::object* lim = api::GetObject(c.as_object(), "resources.limits");
      const json::object* req = api::GetObject(c.as_object(), "resources.requests");
      for (const char* res : {"cpu", "memory"}) {
        const json::value* l = lim ? lim->if_contains(res) : nullptr;
        const json::value* r = req ? req->if_contains(res) : nullptr;
        auto q = [](const json::value* v) -> std::optional<api::Quantity> {
          if (!v) return std::nullopt;
          auto p = api::Quantity::Parse(v->is_string() ? std::string(v->as_string())
                                                       : SerializeJson(*v));
          if (!p.ok()) return std::nullopt;
          return *p;
        };
        auto lq = q(l), rq = q(r);
        if ((lq && !lq->IsZero()) || (rq && !rq->IsZero())) any = true;
        if (!lq || (rq && rq->Cmp(*lq) != 0)) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

struct DeleteOptions {
  std::optional<int64_t> grace;
  std::string propagation;
  std::string precondition_uid, precondition_rv;
  bool dry_run = false;
};

}  // namespace

std::map<std::string, std::string, std::less<>> ObjectFields(const api::KindInfo& k,
                                                             const json::object& obj) {
  std::map<std::string, std::string, std::less<>> f;
  f["metadata.name"] = std::string(api::Name(obj));
  if (k.namespaced) f["metadata.namespace"] = std::string(api::Namespace(obj));
  for (const std::string& path : k.selectable_fields) {
    const json::value* v = api::FindPath(obj, path);
    f[path] = v ? JsonScalarText(*v) : "";
  }
  return f;
}

std::string ApiServer::Impl::Prefix(const api::KindInfo& k, std::string_view ns) const {
  std::string p = "/registry/" + (k.group.empty() ? std::string("core") : k.group) + "/" +
                  k.plural + "/";
  if (k.namespaced && !ns.empty()) p += std::string(ns) + "/";
  return p;
}

std::string ApiServer::Impl::Key(const api::KindInfo& k, std::string_view ns,
                                 std::string_view name) const {
  return Prefix(k, k.namespaced ? ns : "") + std::string(name);
}

Result<json::object> ApiServer::Impl::DecodeValue(const std::string& value,
                                                  store::Revision rev) const {
  auto v = ParseJson(value);
  if (!v.ok()) {
    // Kept as stored because no configured key reads it (secrets encryption).
    if (auto enc = UndecryptableValueError(value)) return Status::Internal(*enc);
    return Status::Internal("stored object is not JSON: " + v.error().message());
  }
  if (!v->is_object()) return Status::Internal("stored object is not a JSON object");
  json::object obj = std::move(v->as_object());
  Meta(obj)["resourceVersion"] = std::to_string(rev);
  return obj;
}

Result<json::object> ApiServer::Impl::Decode(const store::KeyValue& kv) const {
  return DecodeValue(*kv.value, kv.mod_revision);
}

Result<json::object> ApiServer::Impl::StoreUpdate(const api::KindInfo& k, const std::string& key,
                                                  json::object obj, store::Revision expected) {
  EraseMeta(obj, {"resourceVersion"});
  // Gone once being deleted with no finalizer left and no grace period running (a namespace's
  // spec.finalizers hold it too).
  const json::array* ns_fin =
      k.group.empty() && k.kind == "Namespace" ? api::GetArray(obj, "spec.finalizers") : nullptr;
  if (api::IsBeingDeleted(obj) && api::Finalizers(obj).empty() &&
      api::DeletionGracePeriodSeconds(obj).value_or(0) == 0 && (!ns_fin || ns_fin->empty())) {
    auto d = store->Delete(key, expected);
    if (!d.ok()) return d.error();
    Meta(obj)["resourceVersion"] = std::to_string(d->revision);
    return obj;
  }
  auto rev = store->Update(key, SerializeJson(obj), expected, TtlFor(k));
  if (!rev.ok()) return rev.error();
  Meta(obj)["resourceVersion"] = std::to_string(*rev);
  return obj;
}

Status ApiServer::Impl::EnsureNamespace(std::string_view name) {
  auto k = registry->FindResource("", "v1", "namespaces");
  if (!k) return Status::Internal("registry has no namespaces");
  std::string key = Key(*k, "", name);
  if (store->Get(key).ok()) return Status::OK();
  json::object obj{{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", json::object{{"name", name}}}};
  Meta(obj)["uid"] = NewUid();
  Meta(obj)["creationTimestamp"] = NowRfc3339(*opts.clock);
  Meta(obj)["labels"] = json::object{{"kubernetes.io/metadata.name", name}};
  api::ApplyDefaults(*k, obj);
  api::MutableObjectAt(obj, "status")["phase"] = "Active";
  auto r = store->Create(key, SerializeJson(obj));
  if (!r.ok() && !r.error().Is(Code::kAlreadyExists)) return r.error();
  return Status::OK();
}

Status ApiServer::Impl::RegisterCrd(json::object& crd) {
  Status s = registry->AddCustomResource(json::value(crd));
  if (!s.ok()) return s;
  json::object& status = api::MutableObjectAt(crd, "status");
  if (const json::value* names = api::FindPath(crd, "spec.names")) status["acceptedNames"] = *names;
  std::string now = NowRfc3339(*opts.clock);
  json::array conds;
  for (const char* type : {"NamesAccepted", "Established"}) {
    conds.push_back(json::object{{"type", type},
                                 {"status", "True"},
                                 {"lastTransitionTime", now},
                                 {"reason", type == std::string("Established") ? "InitialNamesAccepted"
                                                                             : "NoConflicts"},
                                 {"message", type == std::string("Established")
                                                 ? "the initial names have been accepted"
                                                 : "no conflicts found"}});
  }
  status["conditions"] = std::move(conds);
  if (const json::array* versions = api::GetArray(crd, "spec.versions")) {
    json::array stored;
    for (const auto& v : *versions) {
      if (JsonGetBool(v, "storage").value_or(false)) {
        stored.push_back(json::value(JsonGetString(v, "name").value_or("")));
      }
    }
    status["storedVersions"] = std::move(stored);
  }
  return Status::OK();
}

void ApiServer::Impl::ForgetCrd(std::string_view name) {
  Status s = registry->RemoveCustomResource(name);
  if (!s.ok() && !s.Is(Code::kNotFound)) MINI8S_LOG(WARNING) << "removing CRD " << name << ": " << s.ToString();
}

Status ApiServer::Impl::CleanupCrd(std::string_view name) {
  auto k = registry->FindResource("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!k) return Status::Internal("registry has no customresourcedefinitions");
  const std::string key = Key(*k, "", name);
  auto kv = store->Get(key);
  if (!kv.ok()) return kv.error().Is(Code::kNotFound) ? Status::OK() : kv.error();
  auto crd = Decode(*kv);
  if (!crd.ok()) return crd.error();
  // Serving stops first so no new object lands behind the sweep.
  ForgetCrd(name);
  std::string group(api::GetString(*crd, "spec.group"));
  std::string plural(api::GetString(*crd, "spec.names.plural"));
  if (!group.empty() && !plural.empty()) {
    // Every version of a kind shares one storage prefix (see Prefix), namespaces below it.
    const std::string prefix = "/registry/" + group + "/" + plural + "/";
    auto items = store->List(prefix);
    if (!items.ok()) return items.error();
    for (const auto& item : items->items) {
      // No controller runs custom resources' own finalizers, so the sweep removes them as they
      // are; a change meanwhile just means the next attempt (or another sweep) takes it.
      auto d = store->Delete(item.key);
      if (!d.ok() && !d.error().Is(Code::kNotFound)) return d.error();
    }
  }
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto cur = store->Get(key);
    if (!cur.ok()) return cur.error().Is(Code::kNotFound) ? Status::OK() : cur.error();
    auto obj = Decode(*cur);
    if (!obj.ok()) return obj.error();
    std::vector<std::string> fin = api::Finalizers(*obj);
    fin.erase(std::remove(fin.begin(), fin.end(), kCrdCleanupFinalizer), fin.end());
    SetFinalizers(*obj, fin);
    auto w = StoreUpdate(*k, key, std::move(*obj), cur->mod_revision);
    if (w.ok()) return Status::OK();
    if (!w.error().Is(Code::kConflict)) return w.error();
  }
  return Status::Conflict("customresourcedefinitions \"" + std::string(name) +
                          "\" kept changing during cleanup");
}

Status ApiServer::Impl::LoadCrds() {
  auto k = registry->FindResource("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!k) return Status::OK();
  auto list = store->List(Prefix(*k, ""));
  if (!list.ok()) return list.error();
  for (const auto& kv : list->items) {
    auto v = ParseJson(*kv.value);
    if (!v.ok()) continue;
    Status s = registry->AddCustomResource(*v);
    if (!s.ok()) MINI8S_LOG(WARNING) << "stored CRD " << kv.key << " not served: " << s.ToString();
  }
  return Status::OK();
}

Reply ApiServer::Impl::Get(const http::HttpRequest& req, const RequestInfo& info,
                           const api::KindInfo& k) {
  auto kv = store->Get(Key(k, info.namespace_, info.name));
  if (!kv.ok()) {
    if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
    return FromStatus(kv.error());
  }
  auto fmt = NegotiateOutput(req);
  if (!fmt || !fmt->table) {
    // The stored bytes plus the resourceVersion: no parse and serialization (stored_json.h).
    if (auto body = WithResourceVersion(*kv->value, kv->mod_revision)) {
      Reply r;
      r.body = std::move(*body);
      return r;
    }
  }
  auto obj = Decode(*kv);
  if (!obj.ok()) return FromStatus(obj.error());
  if (fmt && fmt->table) {
    api::TableOptions to;
    to.now = opts.clock->Now();
    to.include_object = fmt->include_object;
    return JsonReply(200, api::BuildTable(k, {&*obj}, to));
  }
  return JsonReply(200, *obj);
}

Reply ApiServer::Impl::List(const http::HttpRequest& req, const RequestInfo& info,
                            const api::KindInfo& k) {
  api::LabelSelector ls;
  if (auto t = req.QueryParam("labelSelector"); t && !t->empty()) {
    auto r = api::LabelSelector::Parse(*t);
    if (!r.ok()) return BadRequestReply(r.error().message());
    ls = std::move(*r);
  }
  api::FieldSelector fs;
  if (auto t = req.QueryParam("fieldSelector"); t && !t->empty()) {
    auto r = api::FieldSelector::Parse(*t);
    if (!r.ok()) return BadRequestReply(r.error().message());
    fs = std::move(*r);
    Status s = fs.CheckSupported(k.selectable_fields);
    if (!s.ok()) return BadRequestReply(s.message());
  }
  int64_t limit = 0;
  if (auto t = req.QueryParam("limit"); t && !t->empty()) {
    try {
      limit = std::stoll(*t);
    } catch (const std::exception&) {
      return BadRequestReply("invalid limit: " + *t);
    }
    if (limit < 0) limit = 0;
  }
  std::string prefix = Prefix(k, k.namespaced ? info.namespace_ : "");
  store::ListOptions lo;
  std::string rv = req.QueryParam("resourceVersion").value_or("");
  std::string rv_match = req.QueryParam("resourceVersionMatch").value_or("");
  if (auto c = req.QueryParam("continue"); c && !c->empty()) {
    auto raw = B64Decode(*c);
    auto tok = raw ? ParseJson(*raw) : Result<json::value>(Status::BadRequest("bad"));
    auto crv = tok.ok() ? JsonGetInt(*tok, "rv") : std::nullopt;
    auto start = tok.ok() ? JsonGetString(*tok, "start") : std::nullopt;
    if (!crv || !start) return BadRequestReply("continue key is not valid: " + *c);
    lo.revision = *crv;
    lo.continue_after = prefix + std::string(*start);
  } else if (!rv.empty() && rv != "0") {
    int64_t n = 0;
    try {
      n = std::stoll(rv);
    } catch (const std::exception&) {
      return BadRequestReply("resourceVersion: Invalid value: \"" + rv +
                             "\": must be a valid resource version");
    }
    store::Revision cur = store->CurrentRevision();
    if (rv_match == "Exact") {
      lo.revision = n;
    } else if (n > cur) {
      return StatusReply(504, "Timeout",
                         "Timeout: Too large resource version: " + rv +
                             ", current: " + std::to_string(cur));
    }
  }
  auto fmt = NegotiateOutput(req);
  const bool table = fmt && fmt->table;
  // JSON lists serialize each item as it is decoded: holding every decoded object until the end
  // cost ~4x the list's JSON size at once (tens of MiB for 3,000 pods), which glibc then kept.
  json::array items;       // Table output only
  std::string items_json;  // otherwise: the items, comma-separated
  int64_t matched = 0;
  std::string last_key;
  bool more = false;
  store::Revision list_rev = 0;
  // Pages through the store until `limit` matching items are collected.
  while (true) {
    store::ListOptions page = lo;
    page.limit = limit > 0 ? std::max<int64_t>(limit - matched, 1) : 0;
    if (!last_key.empty()) page.continue_after = last_key;
    auto r = store->List(prefix, page);
    if (!r.ok()) {
      if (r.error().Is(Code::kExpired) && req.QueryParam("continue")) {
        return StatusReply(410, "Expired",
                           "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue "
                           "parameter.");
      }
      if (r.error().Is(Code::kExpired)) {
        return StatusReply(410, "Expired", "too old resource version: " + rv);
      }
      return FromStatus(r.error());
    }
    list_rev = r->revision;
    lo.revision = r->revision;
    if (!table) {
      // One allocation of about the final size: growing by doubling had the old and the new
      // buffer alive at once (a 29 MiB peak for a 15 MiB list of 3,000 pods).
      std::size_t bytes = items_json.size();
      for (const store::KeyValue& kv : r->items) bytes += kv.value->size() + 32;
      items_json.reserve(bytes + 256);
    }
    const bool filtered = !ls.Empty() || !fs.Empty();
    for (const store::KeyValue& kv : r->items) {
      last_key = kv.key;
      if (!table && !filtered) {
        // Nothing to match: the stored bytes plus the resourceVersion, as a GET sends them
        // (stored_json.h), without a parse and a serialization per item.
        if (auto body = WithResourceVersion(*kv.value, kv.mod_revision)) {
          ++matched;
          if (!items_json.empty()) items_json += ',';
          items_json += *body;
          continue;
        }
      }
      auto obj = Decode(kv);
      if (!obj.ok()) continue;
      if (!ls.Empty() && !ls.Matches(api::Labels(*obj))) continue;
      if (!fs.Empty() && !fs.Matches(ObjectFields(k, *obj))) continue;
      ++matched;
      if (table) {
        items.push_back(std::move(*obj));
      } else {
        if (!items_json.empty()) items_json += ',';
        items_json += SerializeJson(*obj);
      }
    }
    more = r->more;
    if (!more || (limit > 0 && matched >= limit)) break;
  }
  json::object meta{{"resourceVersion", std::to_string(list_rev)}};
  std::string continue_token;
  if (more && limit > 0) {
    json::object tok{{"v", "meta.k8s.io/v1"},
                     {"rv", list_rev},
                     {"start", last_key.substr(prefix.size())}};
    continue_token = B64Encode(SerializeJson(tok));
    meta["continue"] = continue_token;
  }
  if (table) {
    std::vector<const json::object*> rows;
    for (const json::value& it : items) rows.push_back(&it.as_object());
    api::TableOptions to;
    to.now = opts.clock->Now();
    to.include_object = fmt->include_object;
    return JsonReply(200, api::BuildTable(k, rows, to, std::to_string(list_rev), continue_token));
  }
  // The same bytes as serializing {kind, apiVersion, metadata, items} in one go.
  std::string head = SerializeJson(json::object{{"kind", k.list_kind},
                                                {"apiVersion", k.ApiVersion()},
                                                {"metadata", std::move(meta)}});
  head.pop_back();  // the closing brace
  head += ",\"items\":[";
  items_json.insert(0, head);  // usually within the capacity already there: no second copy
  items_json += "]}";
  Reply reply;
  reply.body = std::move(items_json);
  return reply;
}

Reply CreateObject(ApiServer::Impl& impl, const http::HttpRequest& req, const RequestInfo& info,
                   const api::KindInfo& k, json::object obj, http::Headers warnings,
                   bool managed_fields_done);

Reply ApiServer::Impl::Create(const http::HttpRequest& req, const RequestInfo& info,
                              const api::KindInfo& k) {
  auto fv = GetFieldValidation(req);
  if (!fv.ok()) return BadRequestReply(fv.error().message());
  json::object obj;
  http::Headers warnings;
  if (auto err = DecodeBody(*registry, req, k, *fv, obj, warnings)) return *err;
  if (auto m = req.QueryParam("fieldManager")) {
    Status s = api::ValidateFieldManager(*m);
    if (!s.ok()) return FromStatus(s);
  }
  return CreateObject(*this, req, info, k, std::move(obj), std::move(warnings), false);
}

Reply CreateObject(ApiServer::Impl& impl, const http::HttpRequest& req, const RequestInfo& info,
                   const api::KindInfo& k, json::object obj, http::Headers warnings,
                   bool managed_fields_done) {
  auto* registry = impl.registry.get();
  auto* store = impl.store;
  auto& opts = impl.opts;
  auto Key = [&](const api::KindInfo& kk, std::string_view ns, std::string_view n) {
    return impl.Key(kk, ns, n);
  };
  auto Decode = [&](const store::KeyValue& kv) { return impl.Decode(kv); };
  std::string ns = k.namespaced ? info.namespace_ : "";
  if (k.namespaced) {
    std::string_view body_ns = api::Namespace(obj);
    if (!body_ns.empty() && body_ns != ns) {
      return BadRequestReply(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    if (ns.empty()) {
      return StatusReply(404, "NotFound", "the server could not find the requested resource");
    }
    Meta(obj)["namespace"] = ns;
    auto ns_kind = registry->FindResource("", "v1", "namespaces");
    auto nskv = store->Get(Key(*ns_kind, "", ns));
    if (!nskv.ok()) return NotFoundReply(*ns_kind, ns);
    // Only a namespace being deleted refuses the write. Stored values are plaintext here (the
    // store decrypts), so bytes without the key anywhere need no parse: one fewer per create.
    auto being_deleted = [&] {
      if (nskv->value->find("\"deletionTimestamp\"") == std::string::npos) return false;
      auto nsobj = Decode(*nskv);
      return nsobj.ok() && api::IsBeingDeleted(*nsobj);
    };
    if (being_deleted()) {
      json::object d{{"name", ns}, {"group", ""}, {"kind", "namespaces"}};
      return StatusReply(403, "Forbidden",
                         "unable to create new content in namespace " + ns +
                             " because it is being terminated",
                         &d);
    }
  } else {
    Meta(obj).erase("namespace");
  }
  bool generated = api::Name(obj).empty() && !api::GenerateName(obj).empty();
  EraseMeta(obj, {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                  "generation"});
  Meta(obj)["uid"] = NewUid();
  Meta(obj)["creationTimestamp"] = NowRfc3339(*opts.clock);
  if (UsesGeneration(k, obj)) Meta(obj)["generation"] = 1;
  if (k.HasSubresource("status") && k.kind != "Pod") obj.erase("status");
  if (k.group.empty() && k.kind == "Namespace") {
    api::MutableObjectAt(obj, "metadata.labels")["kubernetes.io/metadata.name"] =
        std::string(api::Name(obj).empty() ? api::GenerateName(obj) : api::Name(obj));
  }
  for (int attempt = 0;; ++attempt) {
    if (generated) {
      Meta(obj)["name"] = std::string(api::GenerateName(obj)) +
                          RandomString(5, "bcdfghjklmnpqrstvwxz2456789");
    }
    // Only a generated name retries, with `obj` again: otherwise it is moved, not copied.
    json::object o = generated ? obj : std::move(obj);
    api::ApplyDefaults(k, o);
    if (k.group.empty() && k.kind == "Namespace") {
      // Upstream's namespace strategy: the "kubernetes" finalizer holds a deleted namespace until
      // its content is gone.
      json::array fin;
      if (const json::array* f = api::GetArray(o, "spec.finalizers")) fin = *f;
      bool has = false;
      for (const auto& f : fin) has = has || (f.is_string() && f.as_string() == "kubernetes");
      if (!has) fin.push_back("kubernetes");
      api::MutableObjectAt(o, "spec")["finalizers"] = std::move(fin);
      api::MutableObjectAt(o, "status")["phase"] = "Active";
      api::MutableObjectAt(o, "metadata.labels")["kubernetes.io/metadata.name"] =
          std::string(api::Name(o));
    }
    if (k.group.empty() && k.kind == "Pod") {
      // A new pod's status is the server's (upstream's podStrategy.PrepareForCreate).
      o["status"] = json::object{{"phase", "Pending"}, {"qosClass", PodQosClass(o)}};
    }
    std::string adm_name(api::Name(o));
    AdmissionScope adm(opts, AdmissionAttributes{"CREATE", k, "", ns, adm_name, &o, nullptr,
                                                 UserOf(info), DryRun(req)});
    if (auto refused = adm.Admit()) return *refused;
    for (const std::string& w : adm.warnings()) warnings.Add("Warning", WarningHeader(w));
    if (k.group.empty() && k.kind == "Pod") {
      // Admission may have set resources (LimitRanger): the QoS class follows them.
      api::MutableObjectAt(o, "status")["qosClass"] = PodQosClass(o);
    }
    api::ErrorList errs = api::ValidateCreate(k, o);
    if (!errs.empty()) return InvalidReply(k, api::Name(o), errs);
    if (ApiServer::Impl::IsCrd(k)) {
      std::vector<std::string> fin = api::Finalizers(o);
      if (!Has(fin, ApiServer::Impl::kCrdCleanupFinalizer)) {
        fin.push_back(ApiServer::Impl::kCrdCleanupFinalizer);
        SetFinalizers(o, fin);
      }
    }
    bool crd = ApiServer::Impl::IsCrd(k) && !DryRun(req);
    if (crd) {
      Status rs = impl.RegisterCrd(o);
      if (!rs.ok()) return FromStatus(rs);
    }
    if (!managed_fields_done) {
      Status mf = api::UpdateManagedFields(k.schema, nullptr, o, FieldManager(req), k.ApiVersion(),
                                           opts.clock->Now());
      if (!mf.ok()) return FromStatus(mf);
    }
    std::string name(api::Name(o));
    if (DryRun(req)) {
      Reply r = JsonReply(201, o);
      r.headers = warnings;
      return r;
    }
    std::string stored = SerializeJson(o);
    auto rev = store->Create(Key(k, ns, name), stored, TtlFor(k));
    if (!rev.ok() && crd) impl.ForgetCrd(name);
    if (!rev.ok()) {
      if (rev.error().Is(Code::kAlreadyExists)) {
        if (generated && attempt < 8) continue;
        return AlreadyExistsReply(k, name);
      }
      return FromStatus(rev.error());
    }
    adm.Finish(true);
    Meta(o)["resourceVersion"] = std::to_string(*rev);
    Reply r;
    r.status = 201;
    // The stored bytes plus the resourceVersion are the bytes serializing `o` again would give
    // (stored_json.h): one serialization per create instead of two.
    if (auto body = WithResourceVersion(stored, *rev)) {
      r.body = std::move(*body);
    } else {
      r.body = SerializeJson(o);
    }
    r.headers = warnings;
    return r;
  }
}

namespace {

// The shared tail of PUT and PATCH: server-managed fields, status handling, generation,
// validation, no-op detection and the CAS write.
struct UpdateOutcome {
  Reply reply;
  bool conflict = false;  // the store's CAS failed (retry for patches)
};

}  // namespace

static UpdateOutcome CommitUpdate(ApiServer::Impl& impl, const http::HttpRequest& req,
                                  const RequestInfo& info, const api::KindInfo& k,
                                  json::object obj, const json::object& old,
                                  store::Revision mod_rev, http::Headers warnings,
                                  bool managed_fields_done = false) {
  UpdateOutcome out;
  const json::object* old_meta = api::Metadata(old);
  bool status_only = info.subresource == "status";
  if (status_only) {
    json::object merged = old;
    if (auto s = obj.find("status"); s != obj.end()) {
      merged["status"] = s->value();
    } else {
      merged.erase("status");
    }
    obj = std::move(merged);
  } else {
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
      Meta(obj).erase(f);
      if (old_meta) {
        if (auto it = old_meta->find(f); it != old_meta->end()) Meta(obj)[f] = it->value();
      }
    }
    if (k.HasSubresource("status")) {
      if (auto s = old.find("status"); s != old.end()) {
        obj["status"] = s->value();
      } else {
        obj.erase("status");
      }
    }
    api::ApplyDefaults(k, obj);
    int64_t gen = api::Generation(old);
    if (gen > 0 && !api::JsonEqual(json::value(SpecPart(obj)), json::value(SpecPart(old)))) {
      Meta(obj)["generation"] = gen + 1;
    }
  }
  AdmissionScope adm(impl.opts,
                     AdmissionAttributes{"UPDATE", k, info.subresource, info.namespace_, info.name,
                                         &obj, &old, UserOf(info), DryRun(req)});
  if (auto refused = adm.Admit()) {
    out.reply = *refused;
    return out;
  }
  for (const std::string& w : adm.warnings()) warnings.Add("Warning", WarningHeader(w));
  api::ErrorList errs = api::ValidateUpdate(k, obj, old);
  if (!errs.empty()) {
    out.reply = InvalidReply(k, api::Name(obj), errs);
    return out;
  }
  if (!managed_fields_done) {
    Status mf = api::UpdateManagedFields(k.schema, &old, obj, FieldManager(req), k.ApiVersion(),
                                         impl.opts.clock->Now(), info.subresource);
    if (!mf.ok()) {
      out.reply = FromStatus(mf);
      return out;
    }
  }
  if (api::JsonEqual(json::value(obj), json::value(old)) || DryRun(req)) {
    out.reply = JsonReply(200, api::JsonEqual(json::value(obj), json::value(old)) ? old : obj);
    out.reply.headers = warnings;
    return out;
  }
  // A terminating CRD is no longer served; updates (finalizer removal) must not revive it.
  if (ApiServer::Impl::IsCrd(k) && !status_only && !api::IsBeingDeleted(obj)) {
    Status rs = impl.RegisterCrd(obj);
    if (!rs.ok()) {
      out.reply = FromStatus(rs);
      return out;
    }
  }
  auto written = impl.StoreUpdate(k, impl.Key(k, info.namespace_, info.name), std::move(obj),
                                  mod_rev);
  if (written.ok() && ApiServer::Impl::IsCrd(k) && !impl.store->Get(impl.Key(k, "", info.name)).ok()) {
    impl.ForgetCrd(info.name);
  }
  if (!written.ok()) {
    if (written.error().Is(Code::kConflict)) {
      out.conflict = true;
      out.reply = ConflictReply(k, info.name,
                                "the object has been modified; please apply your changes to the "
                                "latest version and try again");
    } else if (written.error().Is(Code::kNotFound)) {
      out.reply = NotFoundReply(k, info.name);
    } else {
      out.reply = FromStatus(written.error());
    }
    return out;
  }
  adm.Finish(true);
  out.reply = JsonReply(200, *written);
  out.reply.headers = warnings;
  return out;
}

Reply ApiServer::Impl::Update(const http::HttpRequest& req, const RequestInfo& info,
                              const api::KindInfo& k) {
  auto fv = GetFieldValidation(req);
  if (!fv.ok()) return BadRequestReply(fv.error().message());
  json::object obj;
  http::Headers warnings;
  if (auto err = DecodeBody(*registry, req, k, *fv, obj, warnings)) return *err;
  std::string_view body_name = api::Name(obj);
  if (!body_name.empty() && body_name != info.name) {
    return BadRequestReply("the name of the object (" + std::string(body_name) +
                           ") does not match the name on the URL (" + info.name + ")");
  }
  Meta(obj)["name"] = info.name;
  if (k.namespaced) {
    std::string_view body_ns = api::Namespace(obj);
    if (!body_ns.empty() && body_ns != info.namespace_) {
      return BadRequestReply(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    Meta(obj)["namespace"] = info.namespace_;
  }
  auto kv = store->Get(Key(k, info.namespace_, info.name));
  if (!kv.ok()) {
    if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
    return FromStatus(kv.error());
  }
  auto old = Decode(*kv);
  if (!old.ok()) return FromStatus(old.error());
  std::string rv(api::ResourceVersion(obj));
  if (rv.empty() && !k.custom) {
    // Built-in kinds allow unconditional updates (AllowUnconditionalUpdate); custom ones do not.
    rv = std::to_string(kv->mod_revision);
    Meta(obj)["resourceVersion"] = rv;
  }
  if (rv.empty()) {
    api::ErrorList errs{api::Invalid(api::FieldPath("metadata").Child("resourceVersion"),
                                     api::BadValue::Rendered("0x0"),
                                     "must be specified for an update")};
    return InvalidReply(k, info.name, errs);
  }
  if (rv != std::to_string(kv->mod_revision)) {
    return ConflictReply(k, info.name,
                         "the object has been modified; please apply your changes to the latest "
                         "version and try again");
  }
  return CommitUpdate(*this, req, info, k, std::move(obj), *old, kv->mod_revision, warnings).reply;
}

// Server-side apply (application/apply-patch+yaml): merges the applied configuration with the
// live object (or creates it), tracking field ownership per manager.
static Reply Apply(ApiServer::Impl& impl, const http::HttpRequest& req, const RequestInfo& info,
                   const api::KindInfo& k) {
  std::string manager = req.QueryParam("fieldManager").value_or("");
  if (manager.empty()) {
    return StatusReply(422, "Invalid",
                       "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                       "required for apply patch");
  }
  Status vm = api::ValidateFieldManager(manager);
  if (!vm.ok()) return FromStatus(vm);
  bool force = QueryBool(req, "force");
  auto parsed = ParseYaml(req.body);
  if (!parsed.ok()) return BadRequestReply(parsed.error().message());
  if (!parsed->is_object()) return BadRequestReply("apply patch must be an object");
  json::object applied = parsed->as_object();
  auto fv = GetFieldValidation(req);
  if (!fv.ok()) return BadRequestReply(fv.error().message());
  http::Headers warnings;
  if (auto err = CheckFields(k, applied, *fv, {}, warnings)) return *err;
  std::string_view name = api::Name(applied);
  if (!name.empty() && name != info.name) {
    return BadRequestReply("the name of the object (" + std::string(name) +
                           ") does not match the name on the URL (" + info.name + ")");
  }
  std::string key = impl.Key(k, info.namespace_, info.name);
  UpdateOutcome last;
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = impl.store->Get(key);
    std::optional<json::object> live;
    if (kv.ok()) {
      auto d = impl.Decode(*kv);
      if (!d.ok()) return FromStatus(d.error());
      live = std::move(*d);
    } else if (!kv.error().Is(Code::kNotFound)) {
      return FromStatus(kv.error());
    }
    if (!live && !info.subresource.empty()) return NotFoundReply(k, info.name);
    std::vector<api::FieldManagerConflict> conflicts;
    auto r = api::ServerSideApply(k.schema, live ? &*live : nullptr, applied, manager, force,
                                  k.ApiVersion(), impl.opts.clock->Now(), info.subresource,
                                  &conflicts);
    if (!r.ok()) {
      if (r.error().Is(Code::kConflict)) {
        json::object d{{"name", info.name},
                       {"group", k.group},
                       {"kind", k.plural},
                       {"causes", api::FieldManagerConflictCauses(conflicts)}};
        return StatusReply(409, "Conflict", r.error().message(), &d);
      }
      return FromStatus(r.error());
    }
    json::object obj = std::move(r->object);
    obj["apiVersion"] = k.ApiVersion();
    obj["kind"] = k.kind;
    Meta(obj)["name"] = info.name;
    if (k.namespaced) Meta(obj)["namespace"] = info.namespace_;
    if (!live) return CreateObject(impl, req, info, k, std::move(obj), warnings, true);
    if (!r->changed && !r->managed_fields_changed) {
      Reply out = JsonReply(200, *live);
      out.headers = warnings;
      return out;
    }
    Meta(obj)["resourceVersion"] = std::to_string(kv->mod_revision);
    last = CommitUpdate(impl, req, info, k, std::move(obj), *live, kv->mod_revision, warnings,
                        true);
    if (!last.conflict) return last.reply;
  }
  return last.reply;
}

Reply ApiServer::Impl::Patch(const http::HttpRequest& req, const RequestInfo& info,
                             const api::KindInfo& k) {
  auto fv = GetFieldValidation(req);
  if (!fv.ok()) return BadRequestReply(fv.error().message());
  std::string mt = MediaType(req);
  if (mt == "application/apply-patch+yaml") return Apply(*this, req, info, k);
  bool smp = mt == "application/strategic-merge-patch+json";
  if (mt != "application/json-patch+json" && mt != "application/merge-patch+json" && !smp) {
    return StatusReply(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json-patch+json, application/merge-patch+json, "
                       "application/apply-patch+yaml, application/strategic-merge-patch+json");
  }
  if (smp && k.custom) {
    return StatusReply(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json-patch+json, application/merge-patch+json, "
                       "application/apply-patch+yaml");
  }
  std::vector<std::string> duplicates;
  JsonParseOptions jo;
  jo.duplicate_fields = &duplicates;
  auto patch = ParseJson(req.body, jo);
  if (!patch.ok()) return BadRequestReply(patch.error().message());
  std::string key = Key(k, info.namespace_, info.name);
  UpdateOutcome last;
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = store->Get(key);
    if (!kv.ok()) {
      if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
      return FromStatus(kv.error());
    }
    auto old = Decode(*kv);
    if (!old.ok()) return FromStatus(old.error());
    json::value doc = *old;
    Result<json::value> patched = json::value();
    if (mt == "application/json-patch+json") {
      patched = api::ApplyJsonPatch(doc, *patch);
    } else if (mt == "application/merge-patch+json") {
      if (!patch->is_object()) return BadRequestReply("merge patch must be a JSON object");
      patched = api::ApplyMergePatch(doc, *patch);
    } else {
      if (!patch->is_object()) return BadRequestReply("strategic merge patch must be an object");
      patched = api::StrategicMergePatch(doc, *patch, k.schema);
    }
    if (!patched.ok()) {
      if (patched.error().Is(Code::kInvalid)) {
        return StatusReply(422, "Invalid", patched.error().message());
      }
      return FromStatus(patched.error());
    }
    if (!patched->is_object()) return BadRequestReply("the patched object is not an object");
    json::object obj = std::move(patched->as_object());
    http::Headers warnings;
    if (auto err = CheckFields(k, obj, *fv, duplicates, warnings)) return *err;
    if (api::Kind(obj) != k.kind || api::ApiVersion(obj) != k.ApiVersion()) {
      return BadRequestReply("the API version in the data (" + std::string(api::ApiVersion(obj)) +
                             ") does not match the expected API version (" + k.ApiVersion() + ")");
    }
    std::string rv(api::ResourceVersion(obj));
    bool rv_given = rv != std::to_string(kv->mod_revision);
    if (rv_given && !rv.empty()) {
      return ConflictReply(k, info.name,
                           "the object has been modified; please apply your changes to the latest "
                           "version and try again");
    }
    Meta(obj)["resourceVersion"] = std::to_string(kv->mod_revision);
    last = CommitUpdate(*this, req, info, k, std::move(obj), *old, kv->mod_revision, warnings);
    if (!last.conflict) return last.reply;
  }
  return last.reply;
}

namespace {

std::optional<Reply> ParseDeleteOptions(const http::HttpRequest& req, DeleteOptions& o) {
  if (!req.body.empty()) {
    auto v = ParseJson(req.body);
    if (!v.ok() || !v->is_object()) return BadRequestReply("invalid DeleteOptions body");
    const json::value& b = *v;
    if (auto g = JsonGetInt(b, "gracePeriodSeconds")) o.grace = *g;
    if (auto p = JsonGetString(b, "propagationPolicy")) o.propagation = *p;
    if (auto u = JsonGetString(b, "preconditions.uid")) o.precondition_uid = *u;
    if (auto r = JsonGetString(b, "preconditions.resourceVersion")) o.precondition_rv = *r;
    if (auto orphan = JsonGetBool(b, "orphanDependents"); orphan && o.propagation.empty()) {
      o.propagation = *orphan ? "Orphan" : "Background";
    }
    if (const json::array* d = JsonGetArray(b, "dryRun")) {
      for (const auto& e : *d) o.dry_run = o.dry_run || (e.is_string() && e.as_string() == "All");
    }
  }
  if (auto g = req.QueryParam("gracePeriodSeconds"); g && !g->empty()) {
    try {
      o.grace = std::stoll(*g);
    } catch (const std::exception&) {
      return BadRequestReply("invalid gracePeriodSeconds: " + *g);
    }
  }
  if (auto p = req.QueryParam("propagationPolicy"); p && !p->empty()) o.propagation = *p;
  if (!o.propagation.empty() && o.propagation != "Orphan" && o.propagation != "Background" &&
      o.propagation != "Foreground") {
    return StatusReply(422, "Invalid",
                       "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
                       "value: \"" + o.propagation +
                           "\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
  }
  o.dry_run = o.dry_run || DryRun(req);
  return std::nullopt;
}

// Kinds that answer a DELETE with the deleted object rather than a Success Status.
bool ReturnsDeletedObject(const api::KindInfo& k) {
  return k.custom || (k.group.empty() && (k.kind == "Pod" || k.kind == "Namespace"));
}

}  // namespace

// Deletes one object with `o`: preconditions, finalizers, graceful pods. Returns the reply.
static Reply DeleteOne(ApiServer::Impl& impl, const api::KindInfo& k, const std::string& ns,
                       const std::string& name, const DeleteOptions& o, bool* gone,
                       const UserInfo& user = ServerUser()) {
  std::string key = impl.Key(k, ns, name);
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = impl.store->Get(key);
    if (!kv.ok()) {
      if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, name);
      return FromStatus(kv.error());
    }
    auto obj = impl.Decode(*kv);
    if (!obj.ok()) return FromStatus(obj.error());
    if (!o.precondition_uid.empty() && o.precondition_uid != api::Uid(*obj)) {
      return ConflictReply(k, name,
                           "Precondition failed: UID in precondition: " + o.precondition_uid +
                               ", UID in object meta: " + std::string(api::Uid(*obj)));
    }
    if (!o.precondition_rv.empty() && o.precondition_rv != api::ResourceVersion(*obj)) {
      return ConflictReply(k, name,
                           "Precondition failed: ResourceVersion in precondition: " +
                               o.precondition_rv + ", ResourceVersion in object meta: " +
                               std::string(api::ResourceVersion(*obj)));
    }
    AdmissionScope adm(impl.opts, AdmissionAttributes{"DELETE", k, "", ns, name, nullptr,
                                                      &*obj, user, o.dry_run});
    if (auto refused = adm.Admit()) return *refused;
    json::object upd = *obj;
    std::vector<std::string> fin = api::Finalizers(upd);
    if (o.propagation == "Foreground" && !Has(fin, "foregroundDeletion")) {
      fin.push_back("foregroundDeletion");
    }
    if (o.propagation == "Orphan" && !Has(fin, "orphan")) fin.push_back("orphan");
    // A CRD always goes through its cleanup (even one stored without the finalizer).
    const bool is_crd = ApiServer::Impl::IsCrd(k);
    if (is_crd && !Has(fin, ApiServer::Impl::kCrdCleanupFinalizer)) {
      fin.push_back(ApiServer::Impl::kCrdCleanupFinalizer);
    }
    SetFinalizers(upd, fin);
    bool is_ns = k.group.empty() && k.kind == "Namespace";
    bool graceful = false;
    int64_t grace = 0;
    if (k.group.empty() && k.kind == "Pod") {
      grace = o.grace.value_or(
          api::GetInt(upd, "spec.terminationGracePeriodSeconds").value_or(30));
      graceful = grace > 0 && !api::GetString(upd, "spec.nodeName").empty() &&
                 api::GetString(upd, "status.phase") != "Succeeded" &&
                 api::GetString(upd, "status.phase") != "Failed";
    }
    if (is_ns) {
      api::MutableObjectAt(upd, "status")["phase"] = "Terminating";
    }
    if (is_crd && !api::IsBeingDeleted(upd)) {
      json::array kept;
      if (const json::array* conds = api::GetArray(upd, "status.conditions")) {
        for (const auto& c : *conds) {
          if (JsonGetString(c, "type").value_or("") != "Terminating") kept.push_back(c);
        }
      }
      kept.push_back(json::object{{"type", "Terminating"},
                                  {"status", "True"},
                                  {"lastTransitionTime", NowRfc3339(*impl.opts.clock)},
                                  {"reason", "InstanceDeletionInProgress"},
                                  {"message", "CustomResource deletion is in progress"}});
      api::MutableObjectAt(upd, "status")["conditions"] = std::move(kept);
    }
    bool keep = !fin.empty() || graceful || is_ns;
    if (keep) {
      if (!api::IsBeingDeleted(upd)) {
        auto when = impl.opts.clock->Now() + std::chrono::seconds(graceful ? grace : 0);
        Meta(upd)["deletionTimestamp"] = FormatRfc3339(when);
        Meta(upd)["deletionGracePeriodSeconds"] = graceful ? grace : 0;
        if (int64_t g = api::Generation(upd); g > 0) Meta(upd)["generation"] = g + 1;
      }
      if (o.dry_run) return JsonReply(200, upd);
      if (api::JsonEqual(json::value(upd), json::value(*obj)) && !is_ns && !is_crd) {
        return JsonReply(200, *obj);
      }
      auto w = impl.StoreUpdate(k, key, upd, kv->mod_revision);
      if (!w.ok()) {
        if (w.error().Is(Code::kConflict)) continue;
        return FromStatus(w.error());
      }
      // A namespace stays Terminating until the namespace controller has emptied it and removed
      // the "kubernetes" finalizer through namespaces/<name>/finalize.
      if (is_crd) {
        Status cs = impl.CleanupCrd(name);
        if (!cs.ok()) return FromStatus(cs);
        auto cur = impl.store->Get(key);
        if (!cur.ok()) {
          if (gone) *gone = true;
          return JsonReply(200, *w);  // upstream answers with the CRD as it was marked
        }
      }
      bool removed = !impl.store->Get(key).ok();
      if (gone) *gone = removed;
      adm.Finish(removed);
      return JsonReply(200, *w);
    }
    if (o.dry_run) return JsonReply(200, *obj);
    auto d = impl.store->Delete(key, kv->mod_revision);
    if (!d.ok()) {
      if (d.error().Is(Code::kConflict)) continue;
      if (d.error().Is(Code::kNotFound)) return NotFoundReply(k, name);
      return FromStatus(d.error());
    }
    if (gone) *gone = true;
    adm.Finish(true);
    if (ApiServer::Impl::IsCrd(k)) impl.ForgetCrd(name);
    if (ReturnsDeletedObject(k)) {
      Meta(*obj)["resourceVersion"] = std::to_string(d->revision);
      return JsonReply(200, *obj);
    }
    json::object details{{"name", name}, {"group", k.group}, {"kind", k.plural},
                         {"uid", api::Uid(*obj)}};
    return StatusReply(200, "", "", &details);
  }
  return ConflictReply(k, name, "the object has been modified; please retry");
}

Reply ApiServer::Impl::Delete(const http::HttpRequest& req, const RequestInfo& info,
                              const api::KindInfo& k) {
  DeleteOptions o;
  if (auto err = ParseDeleteOptions(req, o)) return *err;
  return DeleteOne(*this, k, k.namespaced ? info.namespace_ : "", info.name, o, nullptr,
                   UserOf(info));
}

Reply ApiServer::Impl::DeleteCollection(const http::HttpRequest& req, const RequestInfo& info,
                                        const api::KindInfo& k) {
  DeleteOptions o;
  if (auto err = ParseDeleteOptions(req, o)) return *err;
  http::HttpRequest list_req = req;
  list_req.headers.Set("Accept", "application/json");
  list_req.query.erase(std::remove_if(list_req.query.begin(), list_req.query.end(),
                                      [](const auto& q) {
                                        return q.first == "limit" || q.first == "continue";
                                      }),
                       list_req.query.end());
  Reply listed = List(list_req, info, k);
  if (listed.status != 200) return listed;
  auto v = ParseJson(listed.body);
  if (!v.ok()) return InternalReply(v.error().message());
  json::array deleted;
  for (const json::value& item : v->as_object()["items"].as_array()) {
    std::string ns(api::Namespace(item));
    std::string name(api::Name(item));
    Reply r = DeleteOne(*this, k, ns, name, o, nullptr);
    if (r.status == 404) continue;
    if (r.status >= 300) return r;
    deleted.push_back(item);
  }
  json::object out = v->as_object();
  out["items"] = std::move(deleted);
  return JsonReply(200, out);
}

Reply ApiServer::Impl::Scale(const http::HttpRequest& req, const RequestInfo& info,
                             const api::KindInfo& k) {
  auto strip = [](std::string p) { return p.empty() || p[0] != '.' ? p : p.substr(1); };
  std::string spec_path = strip(k.scale_spec_replicas_path);
  std::string status_path = strip(k.scale_status_replicas_path);
  std::string selector_path = strip(k.scale_label_selector_path);
  if (spec_path.empty()) {
    return StatusReply(404, "NotFound", "the server could not find the requested resource");
  }
  if (info.verb != "get" && info.verb != "update" && info.verb != "patch") {
    return StatusReply(405, "MethodNotAllowed",
                       info.verb + " is not supported on resources of kind \"" +
                           QualifiedResource(k) + "/scale\"");
  }
  std::string key = Key(k, info.namespace_, info.name);
  auto build = [&](const json::object& obj) {
    json::object meta{{"name", api::Name(obj)},
                      {"uid", api::Uid(obj)},
                      {"resourceVersion", api::ResourceVersion(obj)},
                      {"creationTimestamp", api::CreationTimestamp(obj)}};
    if (k.namespaced) meta["namespace"] = api::Namespace(obj);
    json::object scale{{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", meta}};
    json::object spec;
    if (auto r = api::GetInt(obj, spec_path)) spec["replicas"] = *r;
    scale["spec"] = std::move(spec);
    json::object status{{"replicas", api::GetInt(obj, status_path).value_or(0)}};
    if (!selector_path.empty()) {
      if (const json::value* sel = api::FindPath(obj, selector_path)) {
        if (sel->is_string()) {
          status["selector"] = sel->as_string();
        } else if (auto ls = api::LabelSelector::FromLabelSelectorJson(sel); ls.ok()) {
          status["selector"] = ls->String();
        }
      }
    }
    scale["status"] = std::move(status);
    return scale;
  };
  json::value body;
  if (info.verb != "get") {
    auto p = ParseJson(req.body);
    if (!p.ok()) return BadRequestReply(p.error().message());
    body = std::move(*p);
  }
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = store->Get(key);
    if (!kv.ok()) {
      if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
      return FromStatus(kv.error());
    }
    auto obj = Decode(*kv);
    if (!obj.ok()) return FromStatus(obj.error());
    json::object scale = build(*obj);
    if (info.verb == "get") return JsonReply(200, scale);
    json::value next;
    std::string mt = MediaType(req);
    if (info.verb == "update") {
      next = body;
    } else if (mt == "application/json-patch+json") {
      auto r = api::ApplyJsonPatch(scale, body);
      if (!r.ok()) return FromStatus(r.error());
      next = std::move(*r);
    } else if (mt == "application/merge-patch+json" ||
               mt == "application/strategic-merge-patch+json") {
      next = api::ApplyMergePatch(scale, body);
    } else {
      return StatusReply(415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format");
    }
    std::string rv(JsonGetString(next, "metadata.resourceVersion").value_or(""));
    // A patch applies to a Scale that carries the current resourceVersion: that one is no
    // precondition of the client's, so a write conflict is retried, not answered 409.
    if (info.verb == "patch" && rv == api::ResourceVersion(scale)) rv.clear();
    if (!rv.empty() && rv != std::to_string(kv->mod_revision)) {
      return ConflictReply(k, info.name,
                           "the object has been modified; please apply your changes to the latest "
                           "version and try again");
    }
    auto replicas = JsonGetInt(next, "spec.replicas");
    if (!replicas || *replicas < 0) {
      api::ErrorList errs{api::Invalid(api::FieldPath("spec").Child("replicas"),
                                       api::BadValue::Int(replicas.value_or(0)),
                                       "must be greater than or equal to 0")};
      return JsonReply(422, api::InvalidStatus("autoscaling", "Scale", info.name, errs));
    }
    json::object upd = *obj;
    size_t dot = spec_path.rfind('.');
    json::object& parent =
        dot == std::string::npos ? upd : api::MutableObjectAt(upd, spec_path.substr(0, dot));
    parent[dot == std::string::npos ? spec_path : spec_path.substr(dot + 1)] = *replicas;
    if (api::JsonEqual(json::value(upd), json::value(*obj))) return JsonReply(200, scale);
    if (int64_t g = api::Generation(upd); g > 0) Meta(upd)["generation"] = g + 1;
    api::ErrorList errs = api::ValidateUpdate(k, upd, *obj);
    if (!errs.empty()) return InvalidReply(k, info.name, errs);
    if (DryRun(req)) return JsonReply(200, build(upd));
    auto w = StoreUpdate(k, key, upd, kv->mod_revision);
    if (!w.ok()) {
      if (w.error().Is(Code::kConflict) && rv.empty()) continue;
      if (w.error().Is(Code::kConflict)) {
        return ConflictReply(k, info.name,
                             "the object has been modified; please apply your changes to the "
                             "latest version and try again");
      }
      return FromStatus(w.error());
    }
    return JsonReply(200, build(*w));
  }
  return ConflictReply(k, info.name, "the object has been modified; please retry");
}

}  // namespace mini8s::server

namespace mini8s::server {

namespace {

json::object SuccessStatus(int code) {
  return json::object{{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", json::object()},
                      {"status", "Success"},
                      {"code", code}};
}

}  // namespace

// POST pods/<name>/binding: the scheduler's write. Sets spec.nodeName once (409 when already
// assigned or being deleted) and marks PodScheduled, as upstream's BindingREST does.
Reply ApiServer::Impl::PodBinding(const http::HttpRequest& req, const RequestInfo& info,
                                  const api::KindInfo& k) {
  auto body = ParseJson(req.body);
  if (!body.ok() || !body->is_object()) {
    return BadRequestReply(body.ok() ? "binding must be an object" : body.error().message());
  }
  std::string node(JsonGetString(*body, "target.name").value_or(""));
  std::string kind(JsonGetString(*body, "target.kind").value_or("Node"));
  if (node.empty() || (kind != "Node" && !kind.empty())) {
    api::ErrorList errs{api::Required(api::FieldPath("target").Child("name"), "")};
    return JsonReply(422, api::InvalidStatus("", "Binding", info.name, errs));
  }
  std::string key = Key(k, info.namespace_, info.name);
  auto conflict = [&](const std::string& why) {
    json::object d{{"name", info.name}, {"kind", "pods/binding"}};
    return StatusReply(409, "Conflict",
                       "Operation cannot be fulfilled on pods/binding \"" + info.name + "\": " + why,
                       &d);
  };
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = store->Get(key);
    if (!kv.ok()) {
      if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
      return FromStatus(kv.error());
    }
    auto pod = Decode(*kv);
    if (!pod.ok()) return FromStatus(pod.error());
    if (api::IsBeingDeleted(*pod)) {
      return conflict("pod " + info.name + " is being deleted, cannot be assigned to a host");
    }
    std::string_view current = api::GetString(*pod, "spec.nodeName");
    if (!current.empty()) {
      return conflict("pod " + info.name + " is already assigned to node \"" +
                      std::string(current) + "\"");
    }
    json::object upd = *pod;
    api::MutableObjectAt(upd, "spec")["nodeName"] = node;
    if (const json::object* ann = api::GetObject(body->as_object(), "metadata.annotations")) {
      for (const auto& [ak, av] : *ann) {
        if (av.is_string()) api::SetAnnotation(upd, ak, av.as_string());
      }
    }
    json::array conds;
    if (const json::array* old = api::GetArray(upd, "status.conditions")) {
      for (const auto& c : *old) {
        if (JsonGetString(c, "type").value_or("") != "PodScheduled") conds.push_back(c);
      }
    }
    conds.push_back(json::object{{"type", "PodScheduled"},
                                 {"status", "True"},
                                 {"lastProbeTime", nullptr},
                                 {"lastTransitionTime", NowRfc3339(*opts.clock)}});
    api::MutableObjectAt(upd, "status")["conditions"] = std::move(conds);
    if (DryRun(req)) return JsonReply(201, SuccessStatus(201));
    auto w = StoreUpdate(k, key, std::move(upd), kv->mod_revision);
    if (!w.ok()) {
      if (w.error().Is(Code::kConflict)) continue;
      return FromStatus(w.error());
    }
    return JsonReply(201, SuccessStatus(201));
  }
  return conflict("the object has been modified; please retry");
}

// POST pods/<name>/eviction: a delete with the Eviction's deleteOptions. PodDisruptionBudgets are
// not consulted yet (no disruption controller keeps their status).
Reply ApiServer::Impl::Computed(const http::HttpRequest& req, const RequestInfo& info,
                                const api::KindInfo& k, const ComputedHandler& handler) {
  // The body's kind: the resource's own kind, or the subresource's (TokenRequest for
  // serviceaccounts/token).
  api::KindInfoConstSharedPtr body_kind;
  if (!info.subresource.empty()) {
    for (const api::SubresourceInfo& si : k.subresource_info) {
      if (si.name == info.subresource) body_kind = registry->FindKind(si.group, si.version, si.kind);
    }
    if (!body_kind) {
      return StatusReply(404, "NotFound", "the server could not find the requested resource");
    }
  }
  const api::KindInfo& bk = body_kind ? *body_kind : k;
  auto fv = GetFieldValidation(req);
  if (!fv.ok()) return BadRequestReply(fv.error().message());
  json::object obj;
  http::Headers warnings;
  if (auto err = DecodeBody(*registry, req, bk, *fv, obj, warnings)) return *err;
  if (!info.subresource.empty()) {
    std::string_view body_name = api::Name(obj);
    if (!body_name.empty() && body_name != info.name) {
      return BadRequestReply("the name of the object (" + std::string(body_name) +
                             ") does not match the name on the URL (" + info.name + ")");
    }
  }
  ComputedRequest cr{UserOf(info), info.namespace_, info.name, std::move(obj), DryRun(req)};
  auto out = handler(cr);
  if (!out.ok()) return FromStatus(out.error());
  Reply r = JsonReply(201, *out);
  for (const auto& [name, value] : warnings) r.headers.Add(name, value);
  return r;
}

Reply ApiServer::Impl::PodEviction(const http::HttpRequest& req, const RequestInfo& info,
                                   const api::KindInfo& k) {
  auto body = ParseJson(req.body);
  if (!body.ok() || !body->is_object()) {
    return BadRequestReply(body.ok() ? "eviction must be an object" : body.error().message());
  }
  std::string_view body_name = JsonGetString(*body, "metadata.name").value_or("");
  if (!body_name.empty() && body_name != info.name) {
    return BadRequestReply("name in URL does not match name in Eviction object");
  }
  DeleteOptions o;
  if (const json::value* d = body->as_object().if_contains("deleteOptions");
      d != nullptr && d->is_object()) {
    if (auto g = JsonGetInt(*d, "gracePeriodSeconds")) o.grace = *g;
    if (auto u = JsonGetString(*d, "preconditions.uid")) o.precondition_uid = *u;
    if (auto r = JsonGetString(*d, "preconditions.resourceVersion")) o.precondition_rv = *r;
    if (const json::array* dr = JsonGetArray(*d, "dryRun")) {
      for (const auto& e : *dr) o.dry_run = o.dry_run || (e.is_string() && e.as_string() == "All");
    }
  }
  o.dry_run = o.dry_run || DryRun(req);
  Reply r = DeleteOne(*this, k, info.namespace_, info.name, o, nullptr, UserOf(info));
  if (r.status >= 300) return r;
  return JsonReply(201, SuccessStatus(201));
}

// PUT namespaces/<name>/finalize: only spec.finalizers changes (the namespace controller drops
// "kubernetes" once the namespace is empty; with nothing left the namespace goes).
Reply ApiServer::Impl::NamespaceFinalize(const http::HttpRequest& req, const RequestInfo& info,
                                         const api::KindInfo& k) {
  auto body = ParseJson(req.body);
  if (!body.ok() || !body->is_object()) {
    return BadRequestReply(body.ok() ? "namespace must be an object" : body.error().message());
  }
  std::string key = Key(k, "", info.name);
  std::string rv(JsonGetString(*body, "metadata.resourceVersion").value_or(""));
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    auto kv = store->Get(key);
    if (!kv.ok()) {
      if (kv.error().Is(Code::kNotFound)) return NotFoundReply(k, info.name);
      return FromStatus(kv.error());
    }
    if (!rv.empty() && rv != std::to_string(kv->mod_revision)) {
      return ConflictReply(k, info.name,
                           "the object has been modified; please apply your changes to the latest "
                           "version and try again");
    }
    auto ns = Decode(*kv);
    if (!ns.ok()) return FromStatus(ns.error());
    json::object upd = *ns;
    json::array fin;
    if (const json::array* f = JsonGetArray(*body, "spec.finalizers")) fin = *f;
    if (fin.empty()) {
      api::MutableObjectAt(upd, "spec").erase("finalizers");
    } else {
      api::MutableObjectAt(upd, "spec")["finalizers"] = std::move(fin);
    }
    if (DryRun(req)) return JsonReply(200, upd);
    auto w = StoreUpdate(k, key, std::move(upd), kv->mod_revision);
    if (!w.ok()) {
      if (w.error().Is(Code::kConflict) && rv.empty()) continue;
      if (w.error().Is(Code::kConflict)) {
        return ConflictReply(k, info.name, "the object has been modified; please retry");
      }
      return FromStatus(w.error());
    }
    return JsonReply(200, *w);
  }
  return ConflictReply(k, info.name, "the object has been modified; please retry");
}

}  // namespace mini8s::server
