// Request entry, authentication, routing, /version, health and discovery.
#include "mini8s/server/api_server.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <boost/asio/post.hpp>

#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/server/impersonation.h"
#include "server/audit_hook.h"
#include "server/internal.h"

namespace mini8s::server {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Parses the path into upstream's RequestInfo.
RequestInfo ParseRequestInfo(const http::HttpRequest& req) {
  RequestInfo info;
  std::vector<std::string> p = SplitPath(req.path);
  if (p.empty() || (p[0] != "api" && p[0] != "apis")) return info;
  size_t i = 1;
  info.api_prefix = p[0];
  if (p[0] == "api") {
    if (p.size() < 2) return info;
    info.version = p[1];
    i = 2;
  } else {
    if (p.size() < 3) return info;
    info.group = p[1];
    info.version = p[2];
    i = 3;
  }
  std::vector<std::string> rest(p.begin() + static_cast<long>(i), p.end());
  if (rest.empty()) return info;
  info.resource_request = true;
  if (rest[0] == "watch") {
    info.watch_path = true;
    rest.erase(rest.begin());
    if (rest.empty()) {
      info.resource_request = false;
      return info;
    }
  }
  if (rest[0] == "namespaces" && rest.size() > 1) {
    info.namespace_ = rest[1];
    // namespaces/<ns>/<resource>... unless it is the namespace's own status/finalize.
    if (rest.size() > 2 && rest[2] != "status" && rest[2] != "finalize") {
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  info.parts = rest;
  info.resource = rest[0];
  if (rest.size() > 1) info.name = rest[1];
  if (rest.size() > 2) info.subresource = rest[2];
  if (info.resource == "namespaces" && !info.name.empty()) info.namespace_ = info.name;

  const std::string& m = req.method;
  if (m == "GET" || m == "HEAD") {
    if (info.watch_path || QueryBool(req, "watch")) {
      info.verb = "watch";
    } else {
      info.verb = info.name.empty() ? "list" : "get";
    }
  } else if (m == "POST") {
    info.verb = "create";
  } else if (m == "PUT") {
    info.verb = "update";
  } else if (m == "PATCH") {
    info.verb = "patch";
  } else if (m == "DELETE") {
    info.verb = info.name.empty() ? "deletecollection" : "delete";
  } else {
    info.verb = m;
  }
  return info;
}

// Kubernetes version priority: GA before beta before alpha, higher numbers first, then others
// alphabetically (upstream's version.CompareKubeAwareVersionStrings).
struct KubeVersion {
  int major = 0, stage = 0, minor = 0;  // stage: 3 GA, 2 beta, 1 alpha
  bool valid = false;
};
KubeVersion ParseKubeVersion(std::string_view v) {
  KubeVersion kv;
  if (v.size() < 2 || v[0] != 'v' || !isdigit(static_cast<unsigned char>(v[1]))) return kv;
  size_t i = 1;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) {
    kv.major = kv.major * 10 + (v[i] - '0');
    ++i;
  }
  if (i == v.size()) {
    kv.stage = 3;
    kv.valid = true;
    return kv;
  }
  std::string_view rest = v.substr(i);
  if (rest.rfind("beta", 0) == 0) {
    kv.stage = 2;
    rest.remove_prefix(4);
  } else if (rest.rfind("alpha", 0) == 0) {
    kv.stage = 1;
    rest.remove_prefix(5);
  } else {
    return kv;
  }
  if (rest.empty()) return kv;
  for (char c : rest) {
    if (!isdigit(static_cast<unsigned char>(c))) return kv;
    kv.minor = kv.minor * 10 + (c - '0');
  }
  kv.valid = true;
  return kv;
}
bool VersionBefore(const std::string& a, const std::string& b) {
  KubeVersion x = ParseKubeVersion(a), y = ParseKubeVersion(b);
  if (x.valid != y.valid) return x.valid;
  if (!x.valid) return a < b;
  if (x.stage != y.stage) return x.stage > y.stage;
  if (x.major != y.major) return x.major > y.major;
  return x.minor > y.minor;
}

// Served kinds grouped: group -> version -> kinds, versions in preference order.
struct GroupView {
  std::string name;
  std::vector<std::pair<std::string, std::vector<api::KindInfoConstSharedPtr>>> versions;
};
std::vector<GroupView> Groups(const api::Registry& reg) {
  std::map<std::string, std::map<std::string, std::vector<api::KindInfoConstSharedPtr>>> m;
  std::vector<std::string> order;
  for (const auto& k : reg.Kinds()) {
    if (k->subresource_only || k->plural.empty()) continue;
    if (!m.count(k->group)) order.push_back(k->group);
    m[k->group][k->version].push_back(k);
  }
  // Core first, then built-in groups, then custom ones (as upstream orders /apis).
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    auto rank = [&](const std::string& g) {
      if (g.empty()) return 0;
      const auto& vs = m[g];
      return vs.begin()->second.front()->custom ? 2 : 1;
    };
    return rank(a) < rank(b);
  });
  std::vector<GroupView> out;
  for (const std::string& g : order) {
    GroupView gv{g, {}};
    for (auto& [v, kinds] : m[g]) {
      std::sort(kinds.begin(), kinds.end(),
                [](const auto& a, const auto& b) { return a->plural < b->plural; });
      gv.versions.emplace_back(v, kinds);
    }
    std::sort(gv.versions.begin(), gv.versions.end(),
              [](const auto& a, const auto& b) { return VersionBefore(a.first, b.first); });
    out.push_back(std::move(gv));
  }
  return out;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object Gvk(std::string_view g, std::string_view v, std::string_view k) {
  return json::object{{"group", g}, {"version", v}, {"kind", k}};
}

json::object DiscoveryResource(const api::KindInfo& k) {
  json::object r{{"resource", k.plural},
                 {"responseKind", Gvk(k.group, k.version, k.kind)},
                 {"scope", k.namespaced ? "Namespaced" : "Cluster"},
                 {"singularResource", k.singular},
                 {"verbs", StringArray(k.verbs)}};
  if (!k.short_names.empty()) r["shortNames"] = StringArray(k.short_names);
  if (!k.categories.empty()) r["categories"] = StringArray(k.categories);
  if (!k.subresource_info.empty()) {
    json::array subs;
    for (const auto& s : k.subresource_info) {
      json::object so{{"subresource", s.name}};
      if (!s.kind.empty()) so["responseKind"] = Gvk(s.group, s.version, s.kind);
      so["verbs"] = StringArray(s.verbs);
      subs.push_back(std::move(so));
    }
    r["subresources"] = std::move(subs);
  }
  return r;
}

json::object DiscoveryGroup(const GroupView& g) {
  json::array versions;
  for (const auto& [v, kinds] : g.versions) {
    json::array res;
    for (const auto& k : kinds) res.push_back(DiscoveryResource(*k));
    versions.push_back(
        json::object{{"version", v}, {"resources", std::move(res)}, {"freshness", "Current"}});
  }
  json::object meta;
  meta["name"] = g.name;
  if (g.name.empty()) meta["creationTimestamp"] = nullptr;
  return json::object{{"metadata", std::move(meta)}, {"versions", std::move(versions)}};
}

// True when Accept asks for aggregated discovery (the parameters may come in any order).
bool WantsAggregated(const http::HttpRequest& req) {
  for (const std::string& item : req.headers.GetTokens("Accept")) {
    if (item.find("as=APIGroupDiscoveryList") != std::string::npos &&
        item.find("g=apidiscovery.k8s.io") != std::string::npos &&
        item.find("v=v2") != std::string::npos && item.find("v=v2beta1") == std::string::npos) {
      return true;
    }
  }
  return false;
}

constexpr char kAggregatedType[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

}  // namespace

std::optional<OutputFormat> NegotiateOutput(const http::HttpRequest& req) {
  auto accept = req.headers.Get("Accept");
  if (!accept || accept->empty()) return OutputFormat{};
  OutputFormat out;
  bool any = false;
  // The first acceptable alternative wins (kubectl lists Table first, then plain JSON).
  for (const std::string& item : req.headers.GetTokens("Accept")) {
    std::string_view type = std::string_view(item).substr(0, item.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    if (type == "*/*" || type == "application/*" || type == "application/vnd.kubernetes.protobuf") {
      any = true;
      break;
    }
    if (type != "application/json") continue;
    if (item.find("as=") == std::string::npos) {
      any = true;
      break;
    }
    if (item.find("as=Table") != std::string::npos &&
        item.find("g=meta.k8s.io") != std::string::npos &&
        (item.find("v=v1") != std::string::npos)) {
      out.table = true;
      any = true;
      break;
    }
  }
  if (!any) return std::nullopt;
  if (out.table) {
    std::string inc = req.QueryParam("includeObject").value_or("");
    if (inc == "None") out.include_object = api::TableOptions::IncludeObject::kNone;
    if (inc == "Object") out.include_object = api::TableOptions::IncludeObject::kObject;
  }
  return out;
}

bool QueryBool(const http::HttpRequest& req, std::string_view name) {
  auto v = req.QueryParam(name);
  if (!v) return false;
  std::string lower(*v);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower != "0" && lower != "false";
}

namespace {
}  // namespace

std::string NowRfc3339(const Clock& clock) { return FormatRfc3339(clock.Now()); }

std::string QualifiedResource(const api::KindInfo& k) {
  return k.group.empty() ? k.plural : k.plural + "." + k.group;
}

json::object StatusObject(int code, std::string_view reason, std::string_view message,
                          const json::object* details) {
  json::object s{{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", json::object()},
                 {"status", code < 300 ? "Success" : "Failure"}};
  if (!message.empty()) s["message"] = message;
  if (!reason.empty()) s["reason"] = reason;
  if (details) s["details"] = *details;
  s["code"] = code;
  return s;
}

Reply JsonReply(int status, const json::value& v) {
  Reply r;
  r.status = status;
  r.body = SerializeJson(v);
  return r;
}

Reply StatusReply(int code, std::string_view reason, std::string_view message,
                  const json::object* details) {
  return JsonReply(code, StatusObject(code, reason, message, details));
}

namespace {
Reply NamedStatus(int code, std::string_view reason, const api::KindInfo& k, std::string_view name,
                  const std::string& message) {
  json::object d{{"name", name}, {"group", k.group}, {"kind", k.plural}};
  return StatusReply(code, reason, message, &d);
}
}  // namespace

Reply NotFoundReply(const api::KindInfo& k, std::string_view name) {
  return NamedStatus(404, "NotFound", k, name,
                     QualifiedResource(k) + " \"" + std::string(name) + "\" not found");
}
Reply AlreadyExistsReply(const api::KindInfo& k, std::string_view name) {
  return NamedStatus(409, "AlreadyExists", k, name,
                     QualifiedResource(k) + " \"" + std::string(name) + "\" already exists");
}
Reply ConflictReply(const api::KindInfo& k, std::string_view name, std::string_view detail) {
  return NamedStatus(409, "Conflict", k, name,
                     "Operation cannot be fulfilled on " + QualifiedResource(k) + " \"" +
                         std::string(name) + "\": " + std::string(detail));
}
Reply BadRequestReply(std::string_view message) { return StatusReply(400, "BadRequest", message); }
Reply InternalReply(std::string_view message) {
  return StatusReply(500, "InternalError", "Internal error occurred: " + std::string(message));
}

std::optional<Reply> AdmissionScope::Admit() {
  for (const auto& plugin : opts_.admission) {
    Status s = plugin->Admit(attrs_);
    if (!s.ok()) {
      Finish(false);
      if (s.code() == Code::kInvalid) {
        // Plug-ins give the field error; the response names the object as upstream does.
        std::string msg = s.message();
        std::string head = attrs_.kind.kind + " \"" + std::string(attrs_.name) + "\" is invalid: ";
        if (msg.rfind(attrs_.kind.kind + " \"", 0) != 0) msg = head + msg;
        json::object d{{"name", std::string(attrs_.name)},
                       {"group", attrs_.kind.group},
                       {"kind", attrs_.kind.kind}};
        return StatusReply(422, "Invalid", msg, &d);
      }
      return FromStatus(s);
    }
    admitted_.push_back(plugin.get());
  }
  return std::nullopt;
}

void AdmissionScope::Finish(bool committed) {
  if (finished_) return;
  finished_ = true;
  for (AdmissionPlugin* p : admitted_) p->Committed(attrs_, committed && !attrs_.dry_run);
}

Reply FromStatus(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound: return StatusReply(404, "NotFound", s.message());
    case Code::kAlreadyExists: return StatusReply(409, "AlreadyExists", s.message());
    case Code::kConflict: return StatusReply(409, "Conflict", s.message());
    case Code::kInvalid: return StatusReply(422, "Invalid", s.message());
    case Code::kBadRequest: return StatusReply(400, "BadRequest", s.message());
    case Code::kUnauthorized: return StatusReply(401, "Unauthorized", s.message());
    case Code::kForbidden: return StatusReply(403, "Forbidden", s.message());
    case Code::kMethodNotAllowed: return StatusReply(405, "MethodNotAllowed", s.message());
    case Code::kNotAcceptable: return StatusReply(406, "NotAcceptable", s.message());
    case Code::kUnsupportedMedia: return StatusReply(415, "UnsupportedMediaType", s.message());
    case Code::kExpired: return StatusReply(410, "Expired", s.message());
    case Code::kGone: return StatusReply(410, "Gone", s.message());
    case Code::kTooManyRequests: return StatusReply(429, "TooManyRequests", s.message());
    case Code::kResourceExhausted: return StatusReply(413, "RequestEntityTooLarge", s.message());
    case Code::kTimeout: return StatusReply(504, "Timeout", s.message());
    case Code::kUnavailable: return StatusReply(503, "ServiceUnavailable", s.message());
    default: return InternalReply(s.message());
  }
}

ApiServer::Impl::Impl(ApiServerOptions o)
    : opts(std::move(o)),
      registry(opts.registry),
      store(opts.store),
      pool(static_cast<size_t>(std::max(1, opts.worker_threads))),
      openapi(*registry),
      inflight_limiter(opts.max_requests_inflight, opts.max_mutating_requests_inflight) {}

Result<std::unique_ptr<ApiServer>> ApiServer::Create(ApiServerOptions options) {
  if (!options.registry || !options.store || !options.authenticator) {
    return Status::Invalid("ApiServer needs a registry, a store and an authenticator");
  }
  if (!options.authorizer) options.authorizer = std::make_shared<MastersAuthorizer>();
  if (!options.clock) options.clock = &RealClock::Instance();
  auto impl = std::make_unique<Impl>(std::move(options));
  MINI8S_RETURN_IF_ERROR(impl->LoadCrds());
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { Stop(); }

void ApiServer::Handle(http::HttpRequest request, http::Responder responder) {
  if (impl_->stopping) {
    responder.Send(http::HttpResponse::Json(
        503, SerializeJson(StatusObject(503, "ServiceUnavailable", "the server is shutting down"))));
    return;
  }
  Impl* impl = impl_.get();
  const RequestInfo info = ParseRequestInfo(request);
  // Counted on arrival, so requests queued for a worker count too (as upstream's goroutines do).
  InflightLimiter::Slot slot = impl->inflight_limiter.Enter(request.method, info);
  if (info.resource_request && info.verb == "get" &&
      (info.subresource.empty() || info.subresource == "status")) {
    // A single-object read is a map lookup and a serialization (tens of microseconds, no I/O:
    // authentication, authorization and the store's reads are all in memory). Answering it here,
    // on the connection's strand, saves the two thread hand-offs to the pool and back, which
    // cost more than the read itself.
    impl->Process(request, responder, nullptr, &slot);
    return;
  }
  boost::asio::post(impl->pool, [impl, req = std::move(request), responder,
                                 slot = std::move(slot)]() mutable {
    impl->Process(req, responder, nullptr, &slot);
  });
}

http::Handler ApiServer::handler() {
  return [this](http::HttpRequest req, http::Responder resp) {
    Handle(std::move(req), std::move(resp));
  };
}

Status ApiServer::EnsureDefaultNamespaces() {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    MINI8S_RETURN_IF_ERROR(impl_->EnsureNamespace(ns));
  }
  return Status::OK();
}

namespace {

// Upstream's reported verb label: LIST and WATCH for collection reads, APPLY for server-side
// apply, the HTTP method otherwise; unknown methods collapse to "other".
std::string_view ReportedVerb(const http::HttpRequest& req, const RequestInfo& info) {
  if (info.resource_request) {
    if (info.verb == "list") return "LIST";
    if (info.verb == "watch") return "WATCH";
    if (info.verb == "patch" &&
        req.headers.GetOr("Content-Type").rfind("application/apply-patch", 0) == 0) {
      return "APPLY";
    }
  }
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (req.method == m) return m;
  }
  return "other";
}

}  // namespace

void ApiServer::Impl::Process(const http::HttpRequest& req, http::Responder& responder,
                              const UserInfo* local_user, InflightLimiter::Slot* slot) {
  auto started = std::chrono::steady_clock::now();
  bool answered = false;
  Reply reply;
  std::unique_ptr<AuditRecorder> audit;  // null unless the audit policy logs this request
  const std::string& p = req.path;
  RequestInfo info = ParseRequestInfo(req);
  const bool read_only = req.method == "GET" || req.method == "HEAD";
  std::atomic<int64_t>& inflight = read_only ? metrics.inflight_read_only
                                             : metrics.inflight_mutating;
  inflight.fetch_add(1, std::memory_order_relaxed);
  // Counted when the response (or, for a watch, the stream) starts.
  auto observe = [&](int code) {
    inflight.fetch_sub(1, std::memory_order_relaxed);
    // Before the answer goes out: the client may send its next request at once.
    if (slot != nullptr) slot->Release();
    RequestLabels l;
    l.verb = ReportedVerb(req, info);
    if (info.served) {
      l.group = info.group;
      l.version = info.version;
      l.resource = info.resource;
      l.subresource = info.subresource;
      l.scope = !info.name.empty()             ? "resource"
                : !info.namespace_.empty()     ? "namespace"
                                               : "cluster";
    }
    metrics.ObserveRequest(
        l, code,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  };
  try {
    if (p == "/version" || p == "/version/") {
      reply = Version();
    } else if (p == "/healthz" || p == "/livez" || p == "/readyz" || p.rfind("/healthz/", 0) == 0 ||
               p.rfind("/livez/", 0) == 0 || p.rfind("/readyz/", 0) == 0) {
      reply = Health(req, std::string_view(p).substr(1, p.find('/', 1) - 1));
    } else if (local_user != nullptr) {
      audit = BeginAudit(opts, req, info, *local_user, nullptr);
      reply = Route(req, info, *local_user, responder, answered);
    } else {
      auto user = opts.authenticator->Authenticate(req);
      if (user.ok() && !user->has_value() && opts.anonymous_auth) {
        user = std::optional<UserInfo>(
            UserInfo{"system:anonymous", "", {"system:unauthenticated"}});
      }
      if (!user.ok() || !user->has_value()) {
        reply = StatusReply(401, "Unauthorized", "Unauthorized");
      } else if (auto acting = Impersonate(req, **user, *opts.authorizer); !acting.ok()) {
        reply = FromStatus(acting.error());
      } else if (slot != nullptr && slot->over_limit() && !ExemptFromInflightLimit(*acting)) {
        // After authentication and impersonation, before authorization, as upstream's filter.
        reply = TooManyRequestsReply();
      } else {
        audit = BeginAudit(opts, req, info, **user,
                           HasImpersonationHeaders(req) ? &*acting : nullptr);
        reply = Route(req, info, *acting, responder, answered);
      }
    }
  } catch (const std::exception& e) {
    reply = InternalReply(e.what());
    if (audit) audit->Panic(e.what());
    audit.reset();
  }
  if (answered) {
    if (audit) audit->ResponseStarted(200);
    observe(200);
    return;
  }
  observe(reply.status);
  http::HttpResponse resp;
  resp.status = reply.status;
  resp.headers = std::move(reply.headers);
  resp.headers.Set("Content-Type", reply.content_type);
  if (!resp.headers.Has("Cache-Control")) resp.headers.Set("Cache-Control", "no-cache, private");
  resp.body = req.method == "HEAD" ? std::string() : std::move(reply.body);
  if (audit) {
    resp.headers.Set("Audit-Id", audit->audit_id());
    audit->ResponseComplete(resp.status, resp.body);
  }
  MINI8S_VLOG(2) << req.method << " " << req.target << " " << resp.status;
  responder.Send(std::move(resp));
}

Reply ApiServer::Impl::Route(const http::HttpRequest& req, const RequestInfo& info,
                             const UserInfo& user, http::Responder& responder, bool& answered) {
  Attributes attrs;
  attrs.user = user;
  attrs.path = req.path;
  if (!info.resource_request) {
    attrs.verb = req.method == "GET" || req.method == "HEAD" ? "get"
                 : req.method == "POST"                       ? "post"
                 : req.method == "PUT"                        ? "put"
                 : req.method == "DELETE"                     ? "delete"
                                                              : "patch";
    if (!opts.authorizer->Authorize(attrs)) {
      return StatusReply(403, "Forbidden", ForbiddenMessage(attrs));
    }
    const std::vector<std::string> p = SplitPath(req.path);
    if (attrs.verb != "get") {
      return StatusReply(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource");
    }
    if (p.size() == 1 && p[0] == "api") return ApiVersions(req);
    if (p.size() == 1 && p[0] == "apis") return ApiGroups(req);
    if (p.size() == 2 && p[0] == "api") return ResourceList("", p[1]);
    if (p.size() == 2 && p[0] == "apis") return ApiGroup(p[1]);
    if (p.size() == 3 && p[0] == "apis") return ResourceList(p[1], p[2]);
    if (!p.empty() && p[0] == "openapi") return OpenApi(req);
    if (p.size() == 1 && p[0] == "metrics") return Metrics();
    return StatusReply(404, "NotFound", "the server could not find the requested resource");
  }

  attrs.resource_request = true;
  attrs.verb = info.verb;
  attrs.api_group = info.group;
  attrs.resource = info.resource;
  attrs.subresource = info.subresource;
  attrs.namespace_ = info.namespace_;
  attrs.name = info.name;
  if (!opts.authorizer->Authorize(attrs)) {
    json::object d{{"name", info.name}, {"group", info.group}, {"kind", info.resource}};
    return StatusReply(403, "Forbidden", ForbiddenMessage(attrs), &d);
  }

  info.user = &user;
  auto kind = registry->FindResource(info.group, info.version, info.resource);
  if (!kind || kind->plural != info.resource || info.parts.size() > 3 ||
      (!kind->namespaced && !info.namespace_.empty() && info.resource != "namespaces") ||
      (!info.subresource.empty() && !kind->HasSubresource(info.subresource))) {
    return StatusReply(404, "NotFound", "the server could not find the requested resource");
  }
  const api::KindInfo& k = *kind;
  info.served = true;
  if (!NegotiateOutput(req)) {
    return StatusReply(406, "NotAcceptable",
                       "the server was unable to respond with a content type that the client "
                       "supports (accepts: " + req.headers.GetOr("Accept") + ")");
  }
  auto not_allowed = [&](std::string_view action) {
    return StatusReply(405, "MethodNotAllowed",
                       std::string(action) + " is not supported on resources of kind \"" +
                           QualifiedResource(k) + "\"");
  };
  const std::string& v = info.verb;
  if (auto c = computed.find(info.group + "/" + info.resource + "/" + info.subresource);
      c != computed.end()) {
    if (v != "create" || info.name.empty() != info.subresource.empty()) return not_allowed(v);
    return Computed(req, info, k, c->second);
  }
  if (!info.subresource.empty()) {
    if (info.subresource == "scale") return Scale(req, info, k);
    const bool pod = k.group.empty() && k.kind == "Pod";
    if (pod && (info.subresource == "binding" || info.subresource == "eviction")) {
      if (v != "create") return not_allowed(v);
      return info.subresource == "binding" ? PodBinding(req, info, k) : PodEviction(req, info, k);
    }
    if (k.group.empty() && k.kind == "Namespace" && info.subresource == "finalize") {
      if (v != "update") return not_allowed(v);
      return NamespaceFinalize(req, info, k);
    }
    if (info.subresource != "status") {
      // TODO(server): log, exec, attach, portforward, token: the node agent and security issues.
      return StatusReply(404, "NotFound", "the server could not find the requested resource");
    }
    if (v != "get" && v != "update" && v != "patch") return not_allowed(v);
  } else if (!k.HasVerb(v == "watch" && !info.name.empty() ? "watch" : v)) {
    return not_allowed(v);
  }
  if (v == "get") return Get(req, info, k);
  if (v == "list") return List(req, info, k);
  if (v == "watch") {
    auto err = Watch(req, info, k, responder);
    if (!err) {
      answered = true;
      return {};
    }
    return *err;
  }
  if (v == "create") {
    if (!info.name.empty()) return not_allowed("create");
    return Create(req, info, k);
  }
  if (v == "update") return Update(req, info, k);
  if (v == "patch") return Patch(req, info, k);
  if (v == "delete") return Delete(req, info, k);
  if (v == "deletecollection") return DeleteCollection(req, info, k);
  return not_allowed(v);
}

Reply ApiServer::Impl::Version() const {
  json::object v{{"major", "1"},
                 {"minor", "32"},
                 {"gitVersion", opts.git_version},
                 {"gitCommit", "0000000000000000000000000000000000000000"},
                 {"gitTreeState", "clean"},
                 {"buildDate", "2026-01-01T00:00:00Z"},
                 {"goVersion", "go1.23.0"},
                 {"compiler", "gc"},
                 {"platform", "linux/amd64"}};
  Reply r = JsonReply(200, v);
  return r;
}

Reply ApiServer::Impl::Health(const http::HttpRequest& req, std::string_view which) const {
  // The checks mini8s has: the process answers, and the store serves reads.
  bool store_ok = !stopping.load();
  std::vector<std::pair<std::string, bool>> checks = {{"ping", true}, {"etcd", store_ok}};
  if (which == "readyz") checks.emplace_back("shutdown", !stopping.load());
  bool ok = true;
  for (const auto& c : checks) ok = ok && c.second;
  Reply r;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.status = ok ? 200 : 500;
  if (req.QueryParam("verbose") || !ok) {
    for (const auto& c : checks) {
      r.body += (c.second ? "[+]" : "[-]") + c.first + (c.second ? " ok\n" : " failed\n");
    }
    r.body += std::string(which) + (ok ? " check passed\n" : " check failed\n");
  } else {
    r.body = "ok";
  }
  return r;
}

Reply ApiServer::Impl::ApiVersions(const http::HttpRequest& req) const {
  if (WantsAggregated(req)) {
    json::array items;
    for (const GroupView& g : Groups(*registry)) {
      if (g.name.empty()) items.push_back(DiscoveryGroup(g));
    }
    Reply r = JsonReply(200, json::object{{"kind", "APIGroupDiscoveryList"},
                                          {"apiVersion", "apidiscovery.k8s.io/v2"},
                                          {"metadata", json::object()},
                                          {"items", std::move(items)}});
    r.content_type = kAggregatedType;
    r.headers.Set("Vary", "Accept");
    return r;
  }
  std::string host = req.headers.GetOr("Host", "127.0.0.1");
  return JsonReply(
      200, json::object{{"kind", "APIVersions"},
                        {"versions", json::array{"v1"}},
                        {"serverAddressByClientCIDRs",
                         json::array{json::object{{"clientCIDR", "0.0.0.0/0"},
                                                  {"serverAddress", host}}}}});
}

Reply ApiServer::Impl::ApiGroups(const http::HttpRequest& req) const {
  std::vector<GroupView> groups = Groups(*registry);
  if (WantsAggregated(req)) {
    json::array items;
    for (const GroupView& g : groups) {
      if (!g.name.empty()) items.push_back(DiscoveryGroup(g));
    }
    Reply r = JsonReply(200, json::object{{"kind", "APIGroupDiscoveryList"},
                                          {"apiVersion", "apidiscovery.k8s.io/v2"},
                                          {"metadata", json::object()},
                                          {"items", std::move(items)}});
    r.content_type = kAggregatedType;
    r.headers.Set("Vary", "Accept");
    return r;
  }
  json::array list;
  for (const GroupView& g : groups) {
    if (g.name.empty()) continue;
    json::array versions;
    for (const auto& [v, _] : g.versions) {
      versions.push_back(json::object{{"groupVersion", g.name + "/" + v}, {"version", v}});
    }
    json::object preferred = versions.front().as_object();
    list.push_back(json::object{{"name", g.name},
                                {"versions", std::move(versions)},
                                {"preferredVersion", std::move(preferred)}});
  }
  return JsonReply(200, json::object{{"kind", "APIGroupList"},
                                     {"apiVersion", "v1"},
                                     {"groups", std::move(list)}});
}

Reply ApiServer::Impl::ApiGroup(std::string_view group) const {
  for (const GroupView& g : Groups(*registry)) {
    if (g.name != group || g.name.empty()) continue;
    json::array versions;
    for (const auto& [v, _] : g.versions) {
      versions.push_back(json::object{{"groupVersion", g.name + "/" + v}, {"version", v}});
    }
    json::object preferred = versions.front().as_object();
    return JsonReply(200, json::object{{"kind", "APIGroup"},
                                       {"apiVersion", "v1"},
                                       {"name", g.name},
                                       {"versions", std::move(versions)},
                                       {"preferredVersion", std::move(preferred)}});
  }
  return StatusReply(404, "NotFound", "the server could not find the requested resource");
}

Reply ApiServer::Impl::ResourceList(std::string_view group, std::string_view version) const {
  for (const GroupView& g : Groups(*registry)) {
    if (g.name != group) continue;
    for (const auto& [v, kinds] : g.versions) {
      if (v != version) continue;
      json::array res;
      for (const auto& k : kinds) {
        json::object r{{"name", k->plural},
                       {"singularName", k->singular},
                       {"namespaced", k->namespaced},
                       {"kind", k->kind},
                       {"verbs", StringArray(k->verbs)}};
        if (!k->short_names.empty()) r["shortNames"] = StringArray(k->short_names);
        if (!k->categories.empty()) r["categories"] = StringArray(k->categories);
        res.push_back(std::move(r));
        for (const auto& s : k->subresource_info) {
          json::object sr{{"name", k->plural + "/" + s.name},
                          {"singularName", ""},
                          {"namespaced", k->namespaced}};
          if (!s.kind.empty() && (s.group != k->group || s.version != k->version)) {
            sr["group"] = s.group;
            sr["version"] = s.version;
          }
          sr["kind"] = s.kind.empty() ? k->kind : s.kind;
          sr["verbs"] = StringArray(s.verbs);
          res.push_back(std::move(sr));
        }
      }
      std::string gv = group.empty() ? std::string(version)
                                     : std::string(group) + "/" + std::string(version);
      return JsonReply(200, json::object{{"kind", "APIResourceList"},
                                         {"apiVersion", "v1"},
                                         {"groupVersion", gv},
                                         {"resources", std::move(res)}});
    }
  }
  return StatusReply(404, "NotFound", "the server could not find the requested resource");
}

Reply ApiServer::Impl::OpenApi(const http::HttpRequest& req) {
  const std::string& p = req.path;
  Reply r;
  auto etag_match = [&](const std::string& hash) {
    return req.headers.GetOr("If-None-Match") == "\"" + hash + "\"";
  };
  auto doc_reply = [&](const api::OpenApiCache::Document& d, std::string ct) {
    Reply out;
    out.headers.Set("Etag", "\"" + d.hash + "\"");
    out.headers.Set("Vary", "Accept");
    if (etag_match(d.hash)) {
      out.status = 304;
      out.content_type = ct;
      return out;
    }
    out.body = d.body;
    out.content_type = std::move(ct);
    return out;
  };
  if (p == "/openapi/v3" || p == "/openapi/v3/") {
    auto snap = openapi.V3();
    return doc_reply(snap->root, "application/json");
  }
  if (p.rfind("/openapi/v3/", 0) == 0) {
    auto d = openapi.V3Document(std::string_view(p).substr(12));
    if (!d.ok()) {
      return StatusReply(404, "NotFound", "the server could not find the requested resource");
    }
    Reply out = doc_reply(*d, "application/json");
    if (out.status == 200 && req.QueryParam("hash")) {
      out.headers.Set("Cache-Control", "public, immutable");
    }
    return out;
  }
  if (p == "/openapi/v2" || p == "/openapi/v2/") {
    std::string accept = req.headers.GetOr("Accept");
    if (accept.find("protobuf") != std::string::npos) {
      return doc_reply(openapi.V2Protobuf(), std::string(api::kOpenApiV2ProtobufContentType));
    }
    return doc_reply(openapi.V2Json(), "application/json");
  }
  (void)r;
  return StatusReply(404, "NotFound", "the server could not find the requested resource");
}

Reply ApiServer::Impl::Metrics() const {
  store::StoreStats st = store->Stats();
  int64_t active = 0;
  {
    std::lock_guard<std::mutex> lock(watches_mu);
    active = static_cast<int64_t>(watches.size());
  }
  Reply r;
  r.body = metrics.Render(&st, active);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

void ApiServer::AddComputedResource(std::string group, std::string resource,
                                    std::string subresource, ComputedHandler handler) {
  impl_->computed[group + "/" + resource + "/" + subresource] = std::move(handler);
}

void ApiServer::Stop() {
  if (impl_->stopping.exchange(true)) return;
  std::set<std::shared_ptr<WatchSession>> watches;
  {
    std::lock_guard<std::mutex> lock(impl_->watches_mu);
    watches.swap(impl_->watches);
  }
  for (const auto& w : watches) StopWatchSession(w);
  impl_->pool.join();
}

}  // namespace mini8s::server
