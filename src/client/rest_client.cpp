#include "mini8s/client/rest_client.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/common/co_result.h"
#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/http/client.h"

namespace mini8s::client {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

std::string WithQuery(std::string path, const Query& query) {
  char sep = '?';
  for (const auto& [k, v] : query) {
    path.push_back(sep);
    sep = '&';
    path.append(http::EncodeQueryComponent(k)).append("=").append(http::EncodeQueryComponent(v));
  }
  return path;
}

void AddWriteOptions(Query& q, bool dry_run, const std::string& field_manager,
                     const std::string& field_validation) {
  if (dry_run) q.emplace_back("dryRun", "All");
  if (!field_manager.empty()) q.emplace_back("fieldManager", field_manager);
  if (!field_validation.empty()) q.emplace_back("fieldValidation", field_validation);
}

Result<json::object> ParseObject(const std::string& body) {
  auto v = ParseJson(body);
  if (!v.has_value()) return Status::Internal("decoding response: " + v.error().message());
  if (!v->is_object()) return Status::Internal("decoding response: expected a JSON object");
  return std::move(v->as_object());
}

bool Retryable(int status) { return status == 429 || (status >= 500 && status != 501); }

class RestWatch final : public WatchStream {
 public:
  explicit RestWatch(std::unique_ptr<http::ResponseStream> stream) : stream_(std::move(stream)) {}
  ~RestWatch() override { Stop(); }

  asio::awaitable<Result<std::optional<WatchEvent>>> Next() override {
    for (;;) {
      if (stopped_) co_return std::optional<WatchEvent>();
      auto line = co_await stream_->ReadLine();
      if (!line.has_value()) {
        // A dropped connection ends the watch like a server timeout: the caller resumes from its
        // last resourceVersion (client-go treats EOF and resets the same way).
        if (line.error().Is(Code::kResourceExhausted)) co_return line.error();
        co_return std::optional<WatchEvent>();
      }
      if (!line->has_value()) co_return std::optional<WatchEvent>();
      std::string_view text = **line;
      if (text.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto parsed = ParseJson(text);
      if (!parsed.has_value() || !parsed->is_object()) {
        co_return Status::Internal("decoding watch event: " + std::string(text.substr(0, 200)));
      }
      json::object& ev = parsed->as_object();
      std::string_view type = api::GetString(ev, "type");
      json::value* obj = ev.if_contains("object");
      if (obj == nullptr || !obj->is_object()) {
        co_return Status::Internal("watch event without an object");
      }
      WatchEvent out;
      if (type == "ERROR") co_return StatusFromStatusObject(obj->as_object());
      if (type == "ADDED") {
        out.type = WatchEventType::kAdded;
      } else if (type == "MODIFIED") {
        out.type = WatchEventType::kModified;
      } else if (type == "DELETED") {
        out.type = WatchEventType::kDeleted;
      } else if (type == "BOOKMARK") {
        out.type = WatchEventType::kBookmark;
      } else {
        co_return Status::Internal("unknown watch event type \"" + std::string(type) + "\"");
      }
      out.object = std::move(obj->as_object());
      co_return std::optional<WatchEvent>(std::move(out));
    }
  }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    stream_->Close();
  }

 private:
  std::unique_ptr<http::ResponseStream> stream_;
  bool stopped_ = false;
};

}  // namespace

struct RestClient::Request {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string content_type;
  bool retry = false;
};

namespace {

// The HTTPS transport.
class HttpTransport final : public RestTransport {
 public:
  explicit HttpTransport(std::unique_ptr<http::Client> http) : http_(std::move(http)) {}
  asio::awaitable<Result<http::ClientResponse>> Send(http::ClientRequest request) override {
    return http_->Send(std::move(request));
  }
  asio::awaitable<Result<std::unique_ptr<http::ResponseStream>>> OpenStream(
      http::ClientRequest request) override {
    return http_->OpenStream(std::move(request));
  }

 private:
  std::unique_ptr<http::Client> http_;
};

}  // namespace

RestClient::RestClient(RestConfig config, RestClientOptions options,
                       std::unique_ptr<RestTransport> transport)
    : config_(std::move(config)), options_(std::move(options)), http_(std::move(transport)) {}

std::unique_ptr<RestClient> RestClient::WithTransport(RestConfig config, RestClientOptions options,
                                                      std::unique_ptr<RestTransport> transport) {
  return std::unique_ptr<RestClient>(
      new RestClient(std::move(config), std::move(options), std::move(transport)));
}

RestClient::~RestClient() = default;

Result<std::unique_ptr<RestClient>> RestClient::Create(asio::any_io_executor executor,
                                                       RestConfig config,
                                                       RestClientOptions options) {
  MINI8S_RETURN_IF_ERROR(http::ParseUrl(config.server).status());
  http::ClientOptions ho;
  ho.ca_pem = config.ca_pem;
  ho.insecure_skip_verify = config.insecure_skip_tls_verify;
  ho.tls_server_name = config.tls_server_name;
  ho.client_cert_pem = config.client_cert_pem;
  ho.client_key_pem = config.client_key_pem;
  ho.request_timeout = options.request_timeout;
  ho.user_agent = options.user_agent;
  ho.max_idle_connections_per_host = options.max_idle_connections;
  MINI8S_ASSIGN_OR_RETURN(auto http, http::Client::Create(std::move(executor), std::move(ho)));
  return std::unique_ptr<RestClient>(new RestClient(
      std::move(config), std::move(options), std::make_unique<HttpTransport>(std::move(http))));
}

std::string RestClient::ResourcePath(const Resource& resource, std::string_view ns,
                                     std::string_view name, std::string_view subresource) {
  std::string p = resource.group.empty() ? "/api/" + resource.version
                                         : "/apis/" + resource.group + "/" + resource.version;
  if (resource.namespaced && !ns.empty()) p.append("/namespaces/").append(ns);
  p.append("/").append(resource.resource);
  if (!name.empty()) p.append("/").append(name);
  if (!subresource.empty()) p.append("/").append(subresource);
  return p;
}

asio::awaitable<Result<std::string>> RestClient::Do(Request request) {
  auto ex = co_await asio::this_coro::executor;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  Status last;
  for (int attempt = 0;; ++attempt) {
    http::ClientRequest req;
    req.method = request.method;
    req.url = config_.server + request.target;
    req.body = request.body;
    req.headers.Set("Accept", "application/json");
    if (!request.content_type.empty()) req.headers.Set("Content-Type", request.content_type);
    if (!config_.bearer_token.empty()) {
      req.headers.Set("Authorization", "Bearer " + config_.bearer_token);
    }
    auto resp = co_await http_->Send(std::move(req));
    std::chrono::milliseconds wait = backoff;
    if (resp.has_value()) {
      if (resp->status >= 200 && resp->status < 300) co_return std::move(resp->body);
      last = StatusFromResponse(resp->status, resp->body);
      if (!Retryable(resp->status)) co_return last;
      if (auto ra = resp->headers.Get("Retry-After")) {
        char* end = nullptr;
        long secs = std::strtol(ra->c_str(), &end, 10);
        if (end != ra->c_str() && secs >= 0) {
          wait =
              std::min<std::chrono::milliseconds>(std::chrono::seconds(secs), options_.max_backoff);
        }
      }
    } else {
      last = resp.error();
      if (!last.Is(Code::kUnavailable) && !last.Is(Code::kTimeout)) co_return last;
    }
    if (!request.retry || attempt >= options_.max_retries) co_return last;
    asio::steady_timer timer(ex, wait);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Status::Cancelled("request cancelled");
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

asio::awaitable<Result<json::object>> RestClient::Get(Resource resource, std::string ns,
                                                      std::string name) {
  Request r{"GET", ResourcePath(resource, ns, name), "", "", true};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string body, co_await Do(std::move(r)));
  co_return ParseObject(body);
}

asio::awaitable<Result<ObjectList>> RestClient::List(Resource resource, std::string ns,
                                                     ListOptions options) {
  Query q;
  if (!options.label_selector.empty()) q.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) q.emplace_back("fieldSelector", options.field_selector);
  if (options.limit > 0) q.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) q.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty()) {
    q.emplace_back("resourceVersion", options.resource_version);
  }
  Request r{"GET", WithQuery(ResourcePath(resource, ns, ""), q), "", "", true};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string body, co_await Do(std::move(r)));
  MINI8S_CO_ASSIGN_OR_RETURN(json::object list, ParseObject(body));
  ObjectList out;
  out.resource_version = std::string(api::GetString(list, "metadata.resourceVersion"));
  out.continue_token = std::string(api::GetString(list, "metadata.continue"));
  // List items come without apiVersion/kind; restore them as client-go does for unstructured.
  std::string api_version(api::ApiVersion(list));
  std::string kind(api::Kind(list));
  if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
    kind.resize(kind.size() - 4);
  } else {
    kind = resource.kind;
  }
  if (json::value* items = list.if_contains("items"); items && items->is_array()) {
    for (json::value& item : items->as_array()) {
      if (!item.is_object()) continue;
      json::object& obj = item.as_object();
      if (!obj.contains("apiVersion") && !api_version.empty()) obj["apiVersion"] = api_version;
      if (!obj.contains("kind") && !kind.empty()) obj["kind"] = kind;
      out.items.push_back(std::move(obj));
    }
  }
  co_return out;
}

asio::awaitable<Result<json::object>> RestClient::Create(Resource resource, json::object object,
                                                         WriteOptions options) {
  Query q;
  AddWriteOptions(q, options.dry_run, options.field_manager, options.field_validation);
  std::string ns(api::Namespace(object));
  // A subresource create (pods/binding, pods/eviction) posts to the named object's subresource.
  std::string path = options.subresource.empty()
                         ? ResourcePath(resource, ns, "")
                         : ResourcePath(resource, ns, api::Name(object), options.subresource);
  Request r{"POST", WithQuery(std::move(path), q), json::serialize(object), "application/json",
            false};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string body, co_await Do(std::move(r)));
  co_return ParseObject(body);
}

asio::awaitable<Result<json::object>> RestClient::Update(Resource resource, json::object object,
                                                         std::string subresource,
                                                         WriteOptions options) {
  Query q;
  AddWriteOptions(q, options.dry_run, options.field_manager, options.field_validation);
  std::string path = ResourcePath(resource, api::Namespace(object), api::Name(object), subresource);
  // PUT is guarded by metadata.resourceVersion, so a retry cannot apply twice.
  Request r{"PUT", WithQuery(std::move(path), q), json::serialize(object), "application/json",
            true};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string body, co_await Do(std::move(r)));
  co_return ParseObject(body);
}

asio::awaitable<Result<json::object>> RestClient::Patch(Resource resource, std::string ns,
                                                        std::string name, PatchType type,
                                                        std::string patch, PatchOptions options) {
  Query q;
  AddWriteOptions(q, options.dry_run, options.field_manager, "");
  if (options.force) q.emplace_back("force", "true");
  Request r{"PATCH", WithQuery(ResourcePath(resource, ns, name, options.subresource), q),
            std::move(patch), std::string(PatchContentType(type)), false};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string body, co_await Do(std::move(r)));
  co_return ParseObject(body);
}

asio::awaitable<Result<json::object>> RestClient::Delete(Resource resource, std::string ns,
                                                         std::string name, DeleteOptions options) {
  json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (!options.precondition_uid.empty() || !options.precondition_resource_version.empty()) {
    json::object pre;
    if (!options.precondition_uid.empty()) pre["uid"] = options.precondition_uid;
    if (!options.precondition_resource_version.empty()) {
      pre["resourceVersion"] = options.precondition_resource_version;
    }
    body["preconditions"] = std::move(pre);
  }
  if (options.dry_run) body["dryRun"] = json::array{"All"};
  Request r{"DELETE", ResourcePath(resource, ns, name), json::serialize(body), "application/json",
            true};
  MINI8S_CO_ASSIGN_OR_RETURN(std::string resp, co_await Do(std::move(r)));
  co_return ParseObject(resp);
}

asio::awaitable<Result<std::unique_ptr<WatchStream>>> RestClient::Watch(Resource resource,
                                                                        std::string ns,
                                                                        ListOptions options) {
  Query q{{"watch", "1"}};
  if (!options.resource_version.empty()) {
    q.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) q.emplace_back("allowWatchBookmarks", "true");
  if (!options.label_selector.empty()) q.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) q.emplace_back("fieldSelector", options.field_selector);
  if (options.timeout_seconds) {
    q.emplace_back("timeoutSeconds", std::to_string(*options.timeout_seconds));
  }
  std::string target = WithQuery(ResourcePath(resource, ns, ""), q);
  auto ex = co_await asio::this_coro::executor;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  for (int attempt = 0;; ++attempt) {
    http::ClientRequest req;
    req.method = "GET";
    req.url = config_.server + target;
    req.headers.Set("Accept", "application/json");
    if (!config_.bearer_token.empty()) {
      req.headers.Set("Authorization", "Bearer " + config_.bearer_token);
    }
    auto opened = co_await http_->OpenStream(std::move(req));
    Status last;
    if (opened.has_value()) {
      std::unique_ptr<http::ResponseStream> stream = std::move(opened).value();
      int status = stream->status();
      if (status == 200) {
        co_return std::unique_ptr<WatchStream>(std::make_unique<RestWatch>(std::move(stream)));
      }
      auto body = co_await stream->ReadAll();
      std::string text = body.has_value() ? std::move(body).value() : std::string();
      last = StatusFromResponse(status, text);
      if (!Retryable(status)) co_return last;
    } else {
      last = opened.error();
      if (!last.Is(Code::kUnavailable) && !last.Is(Code::kTimeout)) co_return last;
    }
    if (attempt >= options_.max_retries) co_return last;
    asio::steady_timer timer(ex, backoff);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Status::Cancelled("watch cancelled");
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace mini8s::client
