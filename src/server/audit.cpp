// The audit log: policy evaluation, event shape and the recorder (docs/design/audit.md).
#include "mini8s/server/audit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <openssl/rand.h>

#include "mini8s/common/check.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/common/yaml.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

Result<AuditLevel> ParseLevel(std::string_view s) {
  if (s == "None") return AuditLevel::kNone;
  if (s == "Metadata") return AuditLevel::kMetadata;
  if (s == "Request") return AuditLevel::kRequest;
  if (s == "RequestResponse") return AuditLevel::kRequestResponse;
  return Status::Invalid("audit policy: unknown level \"" + std::string(s) +
                         "\" (None, Metadata, Request, RequestResponse)");
}

Result<AuditStage> ParseStage(std::string_view s) {
  if (s == "RequestReceived") return AuditStage::kRequestReceived;
  if (s == "ResponseStarted") return AuditStage::kResponseStarted;
  if (s == "ResponseComplete") return AuditStage::kResponseComplete;
  if (s == "Panic") return AuditStage::kPanic;
  return Status::Invalid("audit policy: unknown stage \"" + std::string(s) + "\"");
}

Result<std::vector<std::string>> Strings(const json::object& o, std::string_view field,
                                         std::string_view where) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) {
    return Status::Invalid("audit policy: " + std::string(where) + "." + std::string(field) +
                           " must be a list of strings");
  }
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) {
      return Status::Invalid("audit policy: " + std::string(where) + "." + std::string(field) +
                             " must be a list of strings");
    }
    out.emplace_back(e.as_string());
  }
  return out;
}

Result<std::vector<AuditStage>> Stages(const json::object& o, std::string_view where) {
  MINI8S_ASSIGN_OR_RETURN(auto names, Strings(o, "omitStages", where));
  std::vector<AuditStage> out;
  for (const std::string& n : names) {
    MINI8S_ASSIGN_OR_RETURN(AuditStage s, ParseStage(n));
    out.push_back(s);
  }
  return out;
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Upstream's ruleMatchesResource for one GroupResources entry.
bool ResourceMatches(const AuditGroupResources& gr, const AuditAttributes& a) {
  if (gr.group != a.api_group) return false;
  if (gr.resources.empty()) return true;
  const std::string combined =
      a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  for (const std::string& res : gr.resources) {
    if (!gr.resource_names.empty() && !Has(gr.resource_names, a.name)) continue;
    if (res == combined || res == "*") return true;
    if (!a.subresource.empty() && res.size() > 2 && res.rfind("*/", 0) == 0 &&
        res.substr(2) == a.subresource) {
      return true;
    }
    if (res.size() > 2 && res.compare(res.size() - 2, 2, "/*") == 0 &&
        res.substr(0, res.size() - 2) == a.resource) {
      return true;
    }
  }
  return false;
}

bool RuleMatches(const AuditPolicyRule& r, const AuditAttributes& a) {
  if (!r.users.empty() && (a.user == nullptr || !Has(r.users, a.user->name))) return false;
  if (!r.user_groups.empty()) {
    bool any = false;
    if (a.user != nullptr) {
      for (const std::string& g : a.user->groups) any = any || Has(r.user_groups, g);
    }
    if (!any) return false;
  }
  if (!r.verbs.empty() && !Has(r.verbs, a.verb)) return false;
  if (!r.namespaces.empty() || !r.resources.empty()) {
    if (!a.resource_request) return false;
    if (!r.namespaces.empty() && !Has(r.namespaces, a.namespace_)) return false;
    if (r.resources.empty()) return true;
    for (const AuditGroupResources& gr : r.resources) {
      if (ResourceMatches(gr, a)) return true;
    }
    return false;
  }
  if (!r.non_resource_urls.empty()) {
    if (a.resource_request) return false;
    for (const std::string& spec : r.non_resource_urls) {
      if (spec == a.path) return true;
      if (!spec.empty() && spec.back() == '*' &&
          a.path.compare(0, spec.size() - 1, spec, 0, spec.size() - 1) == 0) {
        return true;
      }
    }
    return false;
  }
  return true;
}

// RFC 3339 with microseconds in UTC, metav1.MicroTime's form.
std::string MicroTime(std::chrono::system_clock::time_point t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ", static_cast<long long>(us % 1000000));
  return buf;
}

json::object UserJson(const UserInfo& u) {
  json::object o{{"username", u.name}};
  if (!u.uid.empty()) o["uid"] = u.uid;
  if (!u.groups.empty()) {
    json::array g;
    for (const std::string& s : u.groups) g.push_back(json::string(s));
    o["groups"] = std::move(g);
  }
  if (!u.extra.empty()) {
    json::object extra;
    for (const auto& [k, vals] : u.extra) {
      json::array a;
      for (const std::string& v : vals) a.push_back(json::string(v));
      extra[k] = std::move(a);
    }
    o["extra"] = std::move(extra);
  }
  return o;
}

std::string HostOf(std::string_view addr) {
  if (!addr.empty() && addr.front() == '[') {
    const size_t end = addr.find(']');
    return std::string(addr.substr(1, end == std::string_view::npos ? addr.size() - 1 : end - 1));
  }
  const size_t colon = addr.rfind(':');
  if (colon != std::string_view::npos && addr.find(':') == colon) {
    return std::string(addr.substr(0, colon));
  }
  return std::string(addr);
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Upstream's utilnet.SourceIPs: X-Forwarded-For entries, X-Real-Ip, then the peer address, each
// once.
json::array SourceIps(const http::HttpRequest& req) {
  std::vector<std::string> ips;
  auto add = [&](std::string ip) {
    if (!ip.empty() && !Has(ips, ip)) ips.push_back(std::move(ip));
  };
  const std::string xff = req.headers.GetOr("X-Forwarded-For");
  size_t i = 0;
  while (i < xff.size()) {
    size_t j = xff.find(',', i);
    if (j == std::string::npos) j = xff.size();
    add(Trim(std::string_view(xff).substr(i, j - i)));
    i = j + 1;
  }
  add(Trim(req.headers.GetOr("X-Real-Ip")));
  // In-process requests (LocalClient) have no peer address: loopback, as upstream's controllers.
  std::string peer = HostOf(req.remote_address);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, peer.c_str(), buf) != 1 && inet_pton(AF_INET6, peer.c_str(), buf) != 1) {
    peer = "127.0.0.1";
  }
  add(std::move(peer));
  json::array out;
  for (std::string& ip : ips) out.push_back(json::string(ip));
  return out;
}

void StripManagedFields(json::value& v) {
  json::object* o = v.if_object();
  if (o == nullptr) return;
  if (json::value* md = o->if_contains("metadata"); md && md->is_object()) {
    md->as_object().erase("managedFields");
  }
  if (json::value* items = o->if_contains("items"); items && items->is_array()) {
    for (json::value& item : items->as_array()) StripManagedFields(item);
  }
}

}  // namespace

std::string_view AuditLevelName(AuditLevel level) {
  switch (level) {
    case AuditLevel::kNone:
      return "None";
    case AuditLevel::kMetadata:
      return "Metadata";
    case AuditLevel::kRequest:
      return "Request";
    case AuditLevel::kRequestResponse:
      return "RequestResponse";
  }
  return "None";
}

std::string_view AuditStageName(AuditStage stage) {
  switch (stage) {
    case AuditStage::kRequestReceived:
      return "RequestReceived";
    case AuditStage::kResponseStarted:
      return "ResponseStarted";
    case AuditStage::kResponseComplete:
      return "ResponseComplete";
    case AuditStage::kPanic:
      return "Panic";
  }
  return "Panic";
}

bool AuditDecision::Omits(AuditStage s) const {
  return std::find(omit_stages.begin(), omit_stages.end(), s) != omit_stages.end();
}

Result<AuditPolicy> AuditPolicy::Parse(std::string_view text) {
  auto doc = ParseYaml(text);
  if (!doc.ok()) return Status::Invalid("audit policy: " + doc.error().message());
  const json::object* root = doc->if_object();
  if (root == nullptr) return Status::Invalid("audit policy: not an object");
  const json::value* kind = root->if_contains("kind");
  if (kind == nullptr || !kind->is_string() || kind->as_string() != "Policy") {
    return Status::Invalid("audit policy: kind must be Policy");
  }
  const json::value* api_version = root->if_contains("apiVersion");
  if (api_version == nullptr || !api_version->is_string() ||
      (api_version->as_string() != "audit.k8s.io/v1" &&
       api_version->as_string() != "audit.k8s.io/v1beta1")) {
    return Status::Invalid("audit policy: apiVersion must be audit.k8s.io/v1");
  }
  AuditPolicy p;
  MINI8S_ASSIGN_OR_RETURN(p.omit_stages_, Stages(*root, "policy"));
  if (const json::value* omf = root->if_contains("omitManagedFields"); omf && omf->is_bool()) {
    p.omit_managed_fields_ = omf->as_bool();
  }
  const json::value* rules = root->if_contains("rules");
  if (rules == nullptr || !rules->is_array()) {
    return Status::Invalid("audit policy: rules must be a list");
  }
  size_t index = 0;
  for (const json::value& rv : rules->as_array()) {
    const std::string where = "rules[" + std::to_string(index++) + "]";
    const json::object* ro = rv.if_object();
    if (ro == nullptr) return Status::Invalid("audit policy: " + where + " is not an object");
    AuditPolicyRule r;
    const json::value* level = ro->if_contains("level");
    if (level == nullptr || !level->is_string()) {
      return Status::Invalid("audit policy: " + where + ".level is required");
    }
    MINI8S_ASSIGN_OR_RETURN(r.level, ParseLevel(level->as_string()));
    MINI8S_ASSIGN_OR_RETURN(r.users, Strings(*ro, "users", where));
    MINI8S_ASSIGN_OR_RETURN(r.user_groups, Strings(*ro, "userGroups", where));
    MINI8S_ASSIGN_OR_RETURN(r.verbs, Strings(*ro, "verbs", where));
    MINI8S_ASSIGN_OR_RETURN(r.namespaces, Strings(*ro, "namespaces", where));
    MINI8S_ASSIGN_OR_RETURN(r.non_resource_urls, Strings(*ro, "nonResourceURLs", where));
    if (const json::value* res = ro->if_contains("resources"); res && !res->is_null()) {
      if (!res->is_array()) return Status::Invalid("audit policy: " + where + ".resources");
      for (const json::value& g : res->as_array()) {
        const json::object* go = g.if_object();
        if (go == nullptr) return Status::Invalid("audit policy: " + where + ".resources");
        AuditGroupResources gr;
        if (const json::value* grp = go->if_contains("group"); grp && grp->is_string()) {
          gr.group = std::string(grp->as_string());
        }
        MINI8S_ASSIGN_OR_RETURN(gr.resources, Strings(*go, "resources", where + ".resources"));
        MINI8S_ASSIGN_OR_RETURN(gr.resource_names,
                                Strings(*go, "resourceNames", where + ".resources"));
        r.resources.push_back(std::move(gr));
      }
    }
    if (!r.non_resource_urls.empty() && (!r.resources.empty() || !r.namespaces.empty())) {
      return Status::Invalid("audit policy: " + where +
                             ": rules can apply to API resources or non-resource URLs, not both");
    }
    if (ro->contains("omitStages")) {
      MINI8S_ASSIGN_OR_RETURN(auto st, Stages(*ro, where));
      r.omit_stages = std::move(st);
    }
    if (const json::value* omf = ro->if_contains("omitManagedFields"); omf && omf->is_bool()) {
      r.omit_managed_fields = omf->as_bool();
    }
    p.rules_.push_back(std::move(r));
  }
  return p;
}

AuditPolicy AuditPolicy::MetadataForAll() {
  AuditPolicy p;
  AuditPolicyRule r;
  r.level = AuditLevel::kMetadata;
  p.rules_.push_back(std::move(r));
  return p;
}

AuditDecision AuditPolicy::Evaluate(const AuditAttributes& attrs) const {
  AuditDecision d;
  for (const AuditPolicyRule& r : rules_) {
    if (!RuleMatches(r, attrs)) continue;
    d.level = r.level;
    d.omit_stages = omit_stages_;
    if (r.omit_stages) {
      for (AuditStage s : *r.omit_stages) {
        if (!d.Omits(s)) d.omit_stages.push_back(s);
      }
    }
    d.omit_managed_fields = r.omit_managed_fields.value_or(omit_managed_fields_);
    return d;
  }
  return d;
}

std::string NewAuditId() {
  unsigned char b[16];
  MINI8S_CHECK(RAND_bytes(b, sizeof(b)) == 1) << "no random bytes for an audit ID";
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

Result<std::shared_ptr<Auditor>> OpenAuditLog(const std::string& log_path,
                                              const std::string& policy_file, int max_age_days,
                                              int max_backups, int max_size_mb) {
  if (log_path.empty()) {
    if (!policy_file.empty()) {
      MINI8S_LOG(WARNING) << "--audit-policy-file without --audit-log-path: nothing is audited";
    }
    return std::shared_ptr<Auditor>();
  }
  AuditPolicy policy = AuditPolicy::MetadataForAll();
  if (!policy_file.empty()) {
    std::ifstream in(policy_file);
    if (!in) return Status::FromErrno(errno, "read audit policy", policy_file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = AuditPolicy::Parse(ss.str());
    if (!p.ok()) return p.error().WithContext(policy_file);
    policy = std::move(*p);
  }
  AuditLogOptions o;
  o.path = log_path;
  o.max_age_days = max_age_days;
  o.max_backups = max_backups;
  o.max_size_mb = max_size_mb;
  MINI8S_ASSIGN_OR_RETURN(auto writer, AuditLogWriter::Open(std::move(o)));
  return std::make_shared<Auditor>(std::move(policy), std::move(writer));
}

// ---- Auditor ----

Auditor::Auditor(AuditPolicy policy, std::unique_ptr<AuditLogWriter> writer, const Clock& clock)
    : policy_(std::move(policy)), writer_(std::move(writer)), clock_(clock) {}

Auditor::~Auditor() {
  if (writer_) writer_->Close();
}

void Auditor::Emit(const json::object& event) {
  if (writer_) writer_->Write(SerializeJson(event));
}

std::unique_ptr<AuditRecorder> Auditor::Begin(const http::HttpRequest& request,
                                              const AuditAttributes& attrs,
                                              std::string_view api_version, bool decision_allowed,
                                              std::string_view reason, const UserInfo* impersonated,
                                              const std::string* decoded_body) {
  AuditDecision d = policy_.Evaluate(attrs);
  if (d.level == AuditLevel::kNone) return nullptr;
  const std::string now = MicroTime(clock_.Now());
  json::object ev{{"kind", "Event"},
                  {"apiVersion", "audit.k8s.io/v1"},
                  {"level", AuditLevelName(d.level)},
                  {"auditID", NewAuditId()},
                  {"stage", "RequestReceived"},
                  {"requestURI", request.target},
                  {"verb", attrs.verb}};
  if (attrs.user != nullptr) ev["user"] = UserJson(*attrs.user);
  if (impersonated != nullptr) ev["impersonatedUser"] = UserJson(*impersonated);
  ev["sourceIPs"] = SourceIps(request);
  if (auto ua = request.headers.Get("User-Agent")) ev["userAgent"] = std::string(*ua);
  if (attrs.resource_request) {
    json::object ref;
    if (!attrs.resource.empty()) ref["resource"] = attrs.resource;
    if (!attrs.namespace_.empty()) ref["namespace"] = attrs.namespace_;
    if (!attrs.name.empty()) ref["name"] = attrs.name;
    if (!attrs.api_group.empty()) ref["apiGroup"] = attrs.api_group;
    if (!api_version.empty()) ref["apiVersion"] = api_version;
    if (!attrs.subresource.empty()) ref["subresource"] = attrs.subresource;
    ev["objectRef"] = std::move(ref);
  }
  ev["requestReceivedTimestamp"] = now;
  ev["stageTimestamp"] = now;
  ev["annotations"] =
      json::object{{"authorization.k8s.io/decision", decision_allowed ? "allow" : "forbid"},
                   {"authorization.k8s.io/reason", reason}};
  auto rec = std::make_unique<AuditRecorder>(*this, std::move(d), std::move(ev),
                                             decoded_body ? *decoded_body : request.body);
  return rec;
}

// ---- AuditRecorder ----

AuditRecorder::AuditRecorder(Auditor& auditor, AuditDecision decision, json::object event,
                             std::string request_body)
    : auditor_(auditor), decision_(std::move(decision)), event_(std::move(event)) {
  audit_id_ = std::string(event_.at("auditID").as_string());
  json::object* ref = event_.contains("objectRef") ? &event_["objectRef"].as_object() : nullptr;
  const bool want_body = decision_.level >= AuditLevel::kRequest || (ref && !ref->contains("name"));
  if (want_body && !request_body.empty()) {
    auto v = ParseJson(request_body);
    if (!v.ok() && request_body.find('\0') == std::string::npos) v = ParseYaml(request_body);
    if (v.ok() && v->is_object()) {
      // As upstream's LogRequestObject: the objectRef is completed from the object (a create's
      // name), at Metadata too.
      const json::value* md = v->as_object().if_contains("metadata");
      if (ref && md && md->is_object()) {
        for (const char* f : {"namespace", "name", "uid", "resourceVersion"}) {
          const json::value* x = md->as_object().if_contains(f);
          if (x && x->is_string() && !x->as_string().empty() && !ref->contains(f)) {
            (*ref)[f] = *x;
          }
        }
      }
    }
    // Request and RequestResponse carry the request body as the object it decodes to (JSON or
    // YAML; protobuf bodies are left out). This is where Secret data appears at those levels,
    // as upstream: policies keep secrets at Metadata.
    if (decision_.level >= AuditLevel::kRequest && v.ok() && (v->is_object() || v->is_array())) {
      if (decision_.omit_managed_fields) StripManagedFields(*v);
      event_["requestObject"] = std::move(*v);
    }
  }
  EmitStage(AuditStage::kRequestReceived);
}

void AuditRecorder::EmitStage(AuditStage stage) {
  if (decision_.Omits(stage)) return;
  event_["stage"] = AuditStageName(stage);
  event_["stageTimestamp"] = MicroTime(auditor_.clock_.Now());
  auditor_.Emit(event_);
}

void AuditRecorder::ResponseStarted(int code) {
  event_["responseStatus"] = json::object{{"metadata", json::object()}, {"code", code}};
  EmitStage(AuditStage::kResponseStarted);
}

void AuditRecorder::ResponseComplete(int code, std::string_view body) {
  json::object status{{"metadata", json::object()}};
  std::optional<json::value> parsed;
  // Below RequestResponse only Status bodies (errors, delete results) are read.
  const bool want = decision_.level >= AuditLevel::kRequestResponse || code >= 300 ||
                    body.find("\"kind\":\"Status\"") != std::string_view::npos;
  if (want && !body.empty() && (body.front() == '{' || body.front() == '[')) {
    auto v = ParseJson(body);
    if (v.ok()) parsed = std::move(*v);
  }
  if (parsed && parsed->is_object()) {
    const json::object& o = parsed->as_object();
    const json::value* kind = o.if_contains("kind");
    if (kind && kind->is_string() && kind->as_string() == "Status") {
      // Upstream copies the bounded fields of a Status response (errors) at Metadata and up.
      for (const char* f : {"status", "message", "reason", "details"}) {
        if (const json::value* v = o.if_contains(f)) status[f] = *v;
      }
    }
  }
  status["code"] = code;
  event_["responseStatus"] = std::move(status);
  if (decision_.level >= AuditLevel::kRequestResponse && parsed) {
    if (decision_.omit_managed_fields) StripManagedFields(*parsed);
    event_["responseObject"] = std::move(*parsed);
  }
  EmitStage(AuditStage::kResponseComplete);
}

void AuditRecorder::Panic(std::string_view message) {
  event_["responseStatus"] = json::object{{"metadata", json::object()},
                                          {"status", "Failure"},
                                          {"message", "APIServer panic'd: " + std::string(message)},
                                          {"reason", "InternalError"},
                                          {"code", 500}};
  EmitStage(AuditStage::kPanic);
}

}  // namespace mini8s::server
