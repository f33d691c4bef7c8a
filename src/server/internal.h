// Shared internals of the API server: the parsed request, error responses, object helpers.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include "mini8s/api/openapi.h"
#include "mini8s/api/registry.h"
#include "mini8s/api/table.h"
#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/http/server.h"
#include "mini8s/server/api_server.h"
#include "mini8s/store/store.h"
#include "server/inflight.h"
#include "server/metrics.h"

namespace mini8s::server {

namespace json = boost::json;

struct WatchSession;

// The Kubernetes reading of a request path (upstream's RequestInfo).
struct RequestInfo {
  bool resource_request = false;
  std::string verb;  // get list watch create update patch delete deletecollection
  std::string api_prefix;  // "api" or "apis"
  std::string group, version;
  std::string namespace_, resource, name, subresource;
  std::vector<std::string> parts;  // path segments after /api[s]/<g>/<v>
  bool watch_path = false;         // the deprecated /watch/ prefix
  // Set by routing once the resource (and subresource) is known to be served: only then do its
  // names become metric labels (unknown paths must not grow the series set).
  mutable bool served = false;
  // The authenticated user, set by routing (admission plug-ins see it).
  mutable const UserInfo* user = nullptr;
};


// What the client asked the object responses to look like (Accept): plain JSON, or a
// metav1.Table (kubectl get).
struct OutputFormat {
  bool table = false;
  api::TableOptions::IncludeObject include_object = api::TableOptions::IncludeObject::kMetadata;
};
// nullopt when nothing in Accept can be served (406).
std::optional<OutputFormat> NegotiateOutput(const http::HttpRequest& req);

// A boolean query parameter (watch, allowWatchBookmarks, force) decoded as upstream does: absent,
// "0" or "false" in any case is false, any other value is true ("True" from the Python client,
// even an empty value).
bool QueryBool(const http::HttpRequest& req, std::string_view name);

// A response under construction: a status, a JSON body, extra headers.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  http::Headers headers;
};

// metav1.Status bodies with upstream's reasons.
json::object StatusObject(int code, std::string_view reason, std::string_view message,
                          const json::object* details = nullptr);
Reply StatusReply(int code, std::string_view reason, std::string_view message,
                  const json::object* details = nullptr);
// `<qres> "<name>" not found` etc. with details {name, group, kind=plural}.
Reply NotFoundReply(const api::KindInfo& k, std::string_view name);
Reply AlreadyExistsReply(const api::KindInfo& k, std::string_view name);
Reply ConflictReply(const api::KindInfo& k, std::string_view name, std::string_view detail);
Reply BadRequestReply(std::string_view message);
Reply InternalReply(std::string_view message);
// A Status for an arbitrary error from a library (store, patch, selector).
Reply FromStatus(const Status& s);
std::string QualifiedResource(const api::KindInfo& k);

Reply JsonReply(int status, const json::value& v);

// One request's pass through the admission plug-ins: Admit runs them in order; Finish tells the
// ones that admitted whether the write committed (rolled back as not committed if never called).
class AdmissionScope {
 public:
  AdmissionScope(const ApiServerOptions& opts, AdmissionAttributes attrs)
      : opts_(opts), attrs_(attrs) {
    attrs_.warnings = &warnings_;
    attrs_.audit_annotations = &audit_annotations_;
  }
  ~AdmissionScope() { Finish(false); }
  AdmissionScope(const AdmissionScope&) = delete;
  AdmissionScope& operator=(const AdmissionScope&) = delete;
  // The refusal of the first plug-in that refused, as a response.
  std::optional<Reply> Admit();
  void Finish(bool committed);
  // What the plug-ins asked to tell the client.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // What the plug-ins asked to record in the request's audit event.
  const std::vector<std::pair<std::string, std::string>>& audit_annotations() const {
    return audit_annotations_;
  }

 private:
  const ApiServerOptions& opts_;
  AdmissionAttributes attrs_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<std::string, std::string>> audit_annotations_;
  std::vector<AdmissionPlugin*> admitted_;
  bool finished_ = false;
};

struct ApiServer::Impl {
  ApiServerOptions opts;
  std::shared_ptr<api::Registry> registry;
  store::Store* store = nullptr;
  boost::asio::thread_pool pool;
  std::atomic<bool> stopping{false};
  api::OpenApiCache openapi;
  ServerMetrics metrics;
  InflightLimiter inflight_limiter;

  // "group/resource/subresource" -> handler (AddComputedResource); written before serving only.
  std::map<std::string, ComputedHandler, std::less<>> computed;
  Reply Computed(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k,
                 const ComputedHandler& handler);

  mutable std::mutex watches_mu;
  std::set<std::shared_ptr<WatchSession>> watches;

  explicit Impl(ApiServerOptions o);

  // `local_user` set: an in-process request (LocalClient) already authenticated as that user.
  // `slot`: the request's claim on the in-flight limit, taken on arrival (null: not counted).
  void Process(const http::HttpRequest& req, http::Responder& responder,
               const UserInfo* local_user = nullptr, InflightLimiter::Slot* slot = nullptr);
  Reply Route(const http::HttpRequest& req, const RequestInfo& info, const UserInfo& user,
              http::Responder& responder, bool& answered);

  // Discovery and non-resource paths.
  Reply Version() const;
  Reply Health(const http::HttpRequest& req, std::string_view which) const;
  Reply ApiVersions(const http::HttpRequest& req) const;
  Reply ApiGroups(const http::HttpRequest& req) const;
  Reply ApiGroup(std::string_view group) const;
  Reply ResourceList(std::string_view group, std::string_view version) const;
  Reply OpenApi(const http::HttpRequest& req);
  Reply Metrics() const;

  // REST.
  Reply Get(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply List(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply Create(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply Update(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply Patch(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply Delete(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply DeleteCollection(const http::HttpRequest& req, const RequestInfo& info,
                         const api::KindInfo& k);
  Reply Scale(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply PodBinding(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply PodEviction(const http::HttpRequest& req, const RequestInfo& info, const api::KindInfo& k);
  Reply NamespaceFinalize(const http::HttpRequest& req, const RequestInfo& info,
                          const api::KindInfo& k);
  // Starts a watch stream; returns a Reply only for errors before the stream starts.
  std::optional<Reply> Watch(const http::HttpRequest& req, const RequestInfo& info,
                             const api::KindInfo& k, http::Responder& responder);

  // Storage keys.
  std::string Key(const api::KindInfo& k, std::string_view ns, std::string_view name) const;
  std::string Prefix(const api::KindInfo& k, std::string_view ns) const;
  // A stored value as the object clients see (resourceVersion injected).
  Result<json::object> Decode(const store::KeyValue& kv) const;
  Result<json::object> DecodeValue(const std::string& value, store::Revision rev) const;

  // Writes `obj` over the current value with `expected` as CAS token; deletes it instead when it
  // is being deleted and has no finalizers left. Returns the object as written.
  Result<json::object> StoreUpdate(const api::KindInfo& k, const std::string& key,
                                   json::object obj, store::Revision expected);

  Status EnsureNamespace(std::string_view name);

  // CustomResourceDefinitions: what a stored CRD serves. Check validates and registers it (and
  // fills status: acceptedNames, NamesAccepted and Established), Forget removes it, Load
  // registers every stored CRD at start.
  static bool IsCrd(const api::KindInfo& k) {
    return k.group == "apiextensions.k8s.io" && k.kind == "CustomResourceDefinition";
  }
  Status RegisterCrd(json::object& crd);
  void ForgetCrd(std::string_view name);
  Status LoadCrds();
  // Upstream's finalizer on every CRD: held until the CRD's custom resources are deleted.
  static constexpr const char* kCrdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";
  // Stops serving a CRD being deleted, deletes every stored object of its kinds (all versions,
  // all namespaces), then drops kCrdCleanupFinalizer so the CRD itself goes.
  Status CleanupCrd(std::string_view name);
  void RemoveWatch(const std::shared_ptr<WatchSession>& w);
};

// Flattened selectable fields of an object for field selectors.
std::map<std::string, std::string, std::less<>> ObjectFields(const api::KindInfo& k,
                                                             const json::object& obj);

std::string NowRfc3339(const Clock& clock);

// Ends a watch stream (server shutdown).
void StopWatchSession(const std::shared_ptr<WatchSession>& w);

}  // namespace mini8s::server
