// RestClient: the Client over HTTPS to a Kubernetes-style API server (kubeconfig credentials:
// CA, client certificate, bearer token). URL layout /api/v1/namespaces/<ns>/<plural>/<name> and
// /apis/<group>/<version>/...; error responses are decoded from metav1.Status into a Status with
// the matching Code (a 410 is kExpired). Idempotent requests (GET, PUT, DELETE, opening a watch)
// are retried with exponential backoff on connection errors, 429 and 5xx (honouring
// Retry-After); POST and PATCH are not retried. Watches read newline-delimited JSON events; an
// ERROR event becomes its Status (410: kExpired, the relist signal the Informer acts on), and a
// closed connection ends the stream normally so the caller resumes from its last version.
//
// Thread-safe (the underlying http::Client is); each call runs on the caller's executor.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/kubeconfig.h"

namespace mini8s::http {
class Client;
class ResponseStream;
struct ClientRequest;
struct ClientResponse;
}  // namespace mini8s::http

namespace mini8s::client {

// How a RestClient reaches an API server: HTTPS (the default, over http::Client) or in-process
// (the API server's LocalClient hands requests straight to its handler: no socket, no TLS, no HTTP
// parsing). Used on the RestClient's executor.
class RestTransport {
 public:
  virtual ~RestTransport() = default;
  virtual boost::asio::awaitable<Result<http::ClientResponse>> Send(
      http::ClientRequest request) = 0;
  virtual boost::asio::awaitable<Result<std::unique_ptr<http::ResponseStream>>> OpenStream(
      http::ClientRequest request) = 0;
};

struct RestClientOptions {
  int max_retries = 5;  // further attempts after the first
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::milliseconds request_timeout{60'000};
  std::string user_agent = "mini8s";
  // Idle keep-alive connections kept for reuse; bursts beyond it open connections that are
  // closed after use.
  std::size_t max_idle_connections = 8;
};

class RestClient final : public Client {
 public:
  // kInvalid for unusable TLS material or a bad server URL.
  static Result<std::unique_ptr<RestClient>> Create(boost::asio::any_io_executor executor,
                                                    RestConfig config,
                                                    RestClientOptions options = {});
  ~RestClient() override;
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  using Client::Create;
  using Client::Delete;
  using Client::Update;

  boost::asio::awaitable<Result<boost::json::object>> Get(Resource resource, std::string ns,
                                                          std::string name) override;
  boost::asio::awaitable<Result<ObjectList>> List(Resource resource, std::string ns,
                                                  ListOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Create(Resource resource,
                                                             boost::json::object object,
                                                             WriteOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Update(Resource resource,
                                                             boost::json::object object,
                                                             std::string subresource,
                                                             WriteOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Patch(Resource resource, std::string ns,
                                                            std::string name, PatchType type,
                                                            std::string patch,
                                                            PatchOptions options) override;
  boost::asio::awaitable<Result<boost::json::object>> Delete(Resource resource, std::string ns,
                                                             std::string name,
                                                             DeleteOptions options) override;
  boost::asio::awaitable<Result<std::unique_ptr<WatchStream>>> Watch(Resource resource,
                                                                     std::string ns,
                                                                     ListOptions options) override;

  // A client over `transport`; config.server is only the URL prefix given to the transport.
  static std::unique_ptr<RestClient> WithTransport(RestConfig config, RestClientOptions options,
                                                   std::unique_ptr<RestTransport> transport);

  const RestConfig& config() const { return config_; }
  // "/api/v1/namespaces/ns/pods/name/status" for the given pieces ("" pieces are left out).
  static std::string ResourcePath(const Resource& resource, std::string_view ns,
                                  std::string_view name, std::string_view subresource = "");

 private:
  struct Request;
  RestClient(RestConfig config, RestClientOptions options,
             std::unique_ptr<RestTransport> transport);
  boost::asio::awaitable<Result<std::string>> Do(Request request);

  RestConfig config_;
  RestClientOptions options_;
  std::unique_ptr<RestTransport> http_;
};

}  // namespace mini8s::client
