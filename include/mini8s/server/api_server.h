// ApiServer: the Kubernetes API over the store (DESIGN §2-3): routing with the Kubernetes URL
// layout, /version, discovery (legacy and aggregated), health endpoints, authentication and
// authorization, and generic REST (get, list, watch, create, update, patch, delete,
// deletecollection, status and scale subresources) for every kind of the registry.
//
// Handle() is the http::Handler. Requests are processed on the ApiServer's own worker pool (store
// writes block until durable), never on the connection's strand. Watches are driven by store
// notifications posted to a per-watch strand of that pool. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mini8s/api/registry.h"
#include "mini8s/client/client.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/http/server.h"
#include "mini8s/server/admission.h"
#include "mini8s/server/auth.h"
#include "mini8s/store/store.h"

namespace mini8s::server {

class Auditor;

struct ApiServerOptions {
  std::shared_ptr<api::Registry> registry;          // required
  store::Store* store = nullptr;                    // required; outlives the ApiServer
  std::shared_ptr<const Authenticator> authenticator;  // required
  std::shared_ptr<const Authorizer> authorizer;        // default: MastersAuthorizer
  const Clock* clock = &RealClock::Instance();
  // --anonymous-auth: requests without credentials act as system:anonymous (group
  // system:unauthenticated) and the authorizer decides; false answers them 401.
  bool anonymous_auth = false;
  // Run in order on every create, update and delete (see admission.h).
  std::vector<std::shared_ptr<AdmissionPlugin>> admission;
  std::string git_version = "v1.32.4-mini8s";
  // Threads that serve requests other than single-object GETs (those run on the connection's
  // strand). Writes block their thread until the store's group commit is durable, so this also
  // bounds how many concurrent writes one commit can take. 8 measured best for 16 concurrent
  // creates on 2 cores (4: smaller commits, more fsyncs; 12 and 16: more context switches):
  // docs/design/api-bench.md.
  int worker_threads = 8;
  // Upstream's --max-requests-inflight and --max-mutating-requests-inflight: reads (get, list)
  // and writes served or queued at once; more get 429 (system:masters excepted; watches and other
  // long-running requests are not counted). 0: no limit.
  int max_requests_inflight = 400;
  int max_mutating_requests_inflight = 200;
  // How often a watch with allowWatchBookmarks=true gets a BOOKMARK event.
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
  // Upper bound on a watch's life when the client gives no timeoutSeconds.
  std::chrono::seconds max_watch_timeout{std::chrono::minutes(30)};
  // The audit log (audit.h); null: no auditing.
  std::shared_ptr<Auditor> auditor;
};

// A create-only resource that is computed, not stored (upstream's access reviews, TokenReview,
// SelfSubjectReview, serviceaccounts/<name>/token): the API server decodes and schema-checks the
// body (JSON, YAML or protobuf) as for any create, the handler returns the response object, sent
// as 201 Created. A non-OK Result becomes the matching metav1.Status (kInvalid 422, kNotFound 404,
// kForbidden 403 ...).
struct ComputedRequest {
  const UserInfo& user;
  std::string_view ns;    // "" for cluster-scoped resources
  std::string_view name;  // the parent object for subresources ("default" in .../default/token)
  boost::json::object body;
  bool dry_run = false;
};
using ComputedHandler = std::function<Result<boost::json::object>(ComputedRequest&)>;

class ApiServer {
 public:
  // kInvalid for missing options.
  static Result<std::unique_ptr<ApiServer>> Create(ApiServerOptions options);
  ~ApiServer();  // Stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the namespaces default, kube-system, kube-public and kube-node-lease if absent.
  Status EnsureDefaultNamespaces();

  // The http::Handler entry point.
  void Handle(http::HttpRequest request, http::Responder responder);
  http::Handler handler();

  // A client for mini8s's own components in this process (controllers, scheduler): requests go
  // straight to the handler on the server's worker pool as `user`, through the same
  // authorization, admission, defaulting and validation as HTTPS requests, without a socket, TLS
  // or HTTP parsing (bodies are still JSON text). Use it on one executor; the ApiServer must
  // outlive it.
  std::unique_ptr<client::Client> NewLocalClient(UserInfo user);

  // Serves POST on `resource` (or on its `subresource` of a named object) of `group` with
  // `handler` instead of the store. Call before the server takes requests; not thread-safe.
  void AddComputedResource(std::string group, std::string resource, std::string subresource,
                           ComputedHandler handler);

  // Ends every watch and waits for requests in flight. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mini8s::server
