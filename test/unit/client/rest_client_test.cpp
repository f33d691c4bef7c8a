#include "mini8s/client/rest_client.h"

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/informer.h"
#include "mini8s/http/server.h"
#include "mini8s/http/tls_material.h"
#include "unit/client/co_test_util.h"

namespace mini8s::client {
namespace {

namespace json = boost::json;
using testutil::Poll;
using testutil::RunCo;

const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kDeployments{"apps", "v1", "deployments", "Deployment", true};

// A canned-response HTTP server: each request is recorded and answered by `reply`.
struct FakeApi {
  boost::asio::io_context io;
  std::vector<http::HttpRequest> requests;
  std::function<void(const http::HttpRequest&, http::Responder&)> reply;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<RestClient> client;

  explicit FakeApi(RestClientOptions opts = Fast()) {
    auto s = http::Server::Create(io.get_executor(), http::ServerOptions{},
                                  [this](http::HttpRequest req, http::Responder resp) {
                                    requests.push_back(req);
                                    reply(requests.back(), resp);
                                  });
    REQUIRE(s.has_value());
    server = std::move(s).value();
    server->Start();
    RestConfig rc;
    rc.server = server->url();
    rc.bearer_token = "tok";
    auto c = RestClient::Create(io.get_executor(), rc, opts);
    REQUIRE(c.has_value());
    client = std::move(c).value();
  }
  ~FakeApi() {
    client.reset();
    server.reset();
    Poll(io);
  }
  static RestClientOptions Fast() {
    RestClientOptions o;
    o.initial_backoff = std::chrono::milliseconds(1);
    o.max_backoff = std::chrono::milliseconds(4);
    o.max_retries = 3;
    return o;
  }
};

http::HttpResponse StatusResponse(int code, std::string reason, std::string message) {
  json::object st{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                  {"message", message}, {"reason", reason},   {"code", code}};
  return http::HttpResponse::Json(code, json::serialize(st));
}

TEST_CASE("RestClient: builds Kubernetes URLs", "[client][unit]") {
  CHECK(RestClient::ResourcePath(kPods, "ns1", "web") == "/api/v1/namespaces/ns1/pods/web");
  CHECK(RestClient::ResourcePath(kPods, "", "") == "/api/v1/pods");
  CHECK(RestClient::ResourcePath(kDeployments, "ns1", "d", "status") ==
        "/apis/apps/v1/namespaces/ns1/deployments/d/status");
  Resource nodes{"", "v1", "nodes", "Node", false};
  CHECK(RestClient::ResourcePath(nodes, "ignored", "n1") == "/api/v1/nodes/n1");
}

TEST_CASE("RestClient: verbs send the right method, path, query and body", "[client][unit]") {
  FakeApi api;
  api.reply = [](const http::HttpRequest& req, http::Responder& resp) {
    if (req.method == "GET" && req.path == "/api/v1/namespaces/ns1/pods") {
      resp.Send(http::HttpResponse::Json(
          200, R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42",
                  "continue":"next"},"items":[{"metadata":{"name":"a","namespace":"ns1"}}]})"));
      return;
    }
    // Echo the body back (create/update/patch), or a fixed object.
    std::string body = req.body.empty() ? R"({"kind":"Pod","metadata":{"name":"a"}})" : req.body;
    if (req.method == "PATCH" || req.method == "DELETE") {
      body = R"({"kind":"Pod","metadata":{"name":"a","resourceVersion":"7"}})";
    }
    resp.Send(http::HttpResponse::Json(req.method == "POST" ? 201 : 200, body));
  };

  ListOptions lo;
  lo.label_selector = "app=web";
  lo.limit = 10;
  auto list = RunCo(api.io, api.client->List(kPods, "ns1", lo));
  REQUIRE(list.has_value());
  CHECK(list->resource_version == "42");
  CHECK(list->continue_token == "next");
  REQUIRE(list->items.size() == 1);
  CHECK(api::Kind(list->items[0]) == "Pod");
  CHECK(api::ApiVersion(list->items[0]) == "v1");
  CHECK(api.requests.back().QueryParam("labelSelector") == std::optional<std::string>("app=web"));
  CHECK(api.requests.back().QueryParam("limit") == std::optional<std::string>("10"));
  CHECK(api.requests.back().headers.Get("Authorization") ==
        std::optional<std::string>("Bearer tok"));

  auto pod = json::parse(R"({"metadata":{"name":"a","namespace":"ns1"}})").as_object();
  WriteOptions wo;
  wo.dry_run = true;
  wo.field_manager = "ctl";
  auto created = RunCo(api.io, api.client->Create(kPods, pod, wo));
  REQUIRE(created.has_value());
  CHECK(api.requests.back().method == "POST");
  CHECK(api.requests.back().path == "/api/v1/namespaces/ns1/pods");
  CHECK(api.requests.back().QueryParam("dryRun") == std::optional<std::string>("All"));
  CHECK(api.requests.back().QueryParam("fieldManager") == std::optional<std::string>("ctl"));
  CHECK(json::parse(api.requests.back().body) == json::value(pod));

  REQUIRE(RunCo(api.io, api.client->UpdateStatus(kPods, pod)).has_value());
  CHECK(api.requests.back().method == "PUT");
  CHECK(api.requests.back().path == "/api/v1/namespaces/ns1/pods/a/status");

  PatchOptions po;
  po.field_manager = "ctl";
  po.force = true;
  auto patched =
      RunCo(api.io, api.client->Patch(kPods, "ns1", "a", PatchType::kApply, "metadata: {}", po));
  REQUIRE(patched.has_value());
  CHECK(api.requests.back().method == "PATCH");
  CHECK(api.requests.back().headers.Get("Content-Type") ==
        std::optional<std::string>("application/apply-patch+yaml"));
  CHECK(api.requests.back().QueryParam("force") == std::optional<std::string>("true"));

  DeleteOptions dopt;
  dopt.propagation_policy = "Foreground";
  dopt.precondition_uid = "u1";
  REQUIRE(RunCo(api.io, api.client->Delete(kPods, "ns1", "a", dopt)).has_value());
  CHECK(api.requests.back().method == "DELETE");
  auto del_body = json::parse(api.requests.back().body);
  CHECK(del_body.at("propagationPolicy") == "Foreground");
  CHECK(del_body.at("preconditions").at("uid") == "u1");
}

TEST_CASE("RestClient: decodes metav1.Status errors", "[client][unit]") {
  FakeApi api;
  api.reply = [](const http::HttpRequest& req, http::Responder& resp) {
    if (req.method == "GET") {
      resp.Send(StatusResponse(404, "NotFound", "pods \"x\" not found"));
    } else {
      resp.Send(StatusResponse(409, "Conflict", "the object has been modified"));
    }
  };
  auto got = RunCo(api.io, api.client->Get(kPods, "ns1", "x"));
  REQUIRE(!got.has_value());
  CHECK(got.error().code() == Code::kNotFound);
  CHECK(got.error().message() == "pods \"x\" not found");
  CHECK(api.requests.size() == 1);  // 404 is not retried
  auto upd = RunCo(api.io, api.client->Update(kPods, json::object{}));
  CHECK(upd.error().code() == Code::kConflict);
}

TEST_CASE("RestClient: retries idempotent requests on 5xx and 429, not creates", "[client][unit]") {
  FakeApi api;
  int failures = 2;
  api.reply = [&](const http::HttpRequest&, http::Responder& resp) {
    if (failures-- > 0) {
      http::HttpResponse r = StatusResponse(503, "ServiceUnavailable", "busy");
      resp.Send(std::move(r));
      return;
    }
    resp.Send(http::HttpResponse::Json(200, R"({"kind":"Pod","metadata":{"name":"a"}})"));
  };
  auto got = RunCo(api.io, api.client->Get(kPods, "ns1", "a"));
  REQUIRE(got.has_value());
  CHECK(api.requests.size() == 3);

  failures = 10;
  api.requests.clear();
  auto gave_up = RunCo(api.io, api.client->Get(kPods, "ns1", "a"));
  REQUIRE(!gave_up.has_value());
  CHECK(gave_up.error().code() == Code::kUnavailable);
  CHECK(api.requests.size() == 4);  // 1 + max_retries

  failures = 1;
  api.requests.clear();
  auto created = RunCo(api.io, api.client->Create(kPods, json::object{}));
  CHECK(!created.has_value());
  CHECK(api.requests.size() == 1);
}

TEST_CASE("RestClient: retries connection failures", "[client][unit]") {
  boost::asio::io_context io;
  // Bind a port, then close the server so connections are refused.
  std::string url;
  {
    auto s = http::Server::Create(io.get_executor(), http::ServerOptions{},
                                  [](http::HttpRequest, http::Responder) {});
    REQUIRE(s.has_value());
    url = (*s)->url();
  }
  Poll(io);
  RestConfig rc;
  rc.server = url;
  auto c = RestClient::Create(io.get_executor(), rc, FakeApi::Fast());
  REQUIRE(c.has_value());
  auto got = RunCo(io, (*c)->Get(kPods, "ns1", "a"));
  REQUIRE(!got.has_value());
  CHECK(got.error().code() == Code::kUnavailable);
}

std::string B64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

TEST_CASE("RestClient: talks HTTPS with a kubeconfig's CA and client certificate",
          "[client][unit]") {
  auto server_ca = http::GenerateSelfSignedCa("server-ca");
  auto client_ca = http::GenerateSelfSignedCa("client-ca");
  REQUIRE((server_ca.has_value() && client_ca.has_value()));
  http::CertificateRequest sreq;
  sreq.common_name = "apiserver";
  sreq.ip_addresses = {"127.0.0.1"};
  sreq.server_auth = true;
  auto serving = http::IssueCertificate(*server_ca, sreq);
  http::CertificateRequest creq;
  creq.common_name = "alice";
  creq.client_auth = true;
  auto user = http::IssueCertificate(*client_ca, creq);
  REQUIRE((serving.has_value() && user.has_value()));

  boost::asio::io_context io;
  http::ServerOptions so;
  so.tls = http::ServerTlsOptions{};
  so.tls->cert_chain_pem = serving->cert_pem;
  so.tls->key_pem = serving->key_pem;
  so.tls->client_ca_pem = client_ca->cert_pem;
  std::string seen_user;
  auto server =
      http::Server::Create(io.get_executor(), so, [&](http::HttpRequest req, http::Responder resp) {
        if (req.tls && !req.tls->certificate_chain_pem.empty()) {
          seen_user = "cert";
        }
        resp.Send(http::HttpResponse::Json(200, R"({"kind":"Pod","metadata":{"name":"a"}})"));
      });
  REQUIRE(server.has_value());
  (*server)->Start();

  std::string kubeconfig =
      "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: " + (*server)->url() +
      "\n    certificate-authority-data: " + B64(server_ca->cert_pem) +
      "\nusers:\n- name: u\n  user:\n" + "    client-certificate-data: " + B64(user->cert_pem) +
      "\n" + "    client-key-data: " + B64(user->key_pem) + "\n" +
      "contexts:\n- name: c\n  context: {cluster: k, user: u}\n";
  auto cfg = Kubeconfig::Parse(kubeconfig, "inline");
  REQUIRE(cfg.has_value());
  auto rc = ResolveRestConfig(*cfg);
  REQUIRE(rc.has_value());
  auto client = RestClient::Create(io.get_executor(), *rc, FakeApi::Fast());
  REQUIRE(client.has_value());
  auto got = RunCo(io, (*client)->Get(kPods, "ns1", "a"));
  REQUIRE(got.has_value());
  CHECK(api::Name(*got) == "a");
  CHECK(seen_user == "cert");

  // A client that does not trust the server's CA fails the handshake and is not retried forever.
  RestConfig untrusted = *rc;
  untrusted.ca_pem = client_ca->cert_pem;
  auto bad = RestClient::Create(io.get_executor(), untrusted, FakeApi::Fast());
  REQUIRE(bad.has_value());
  CHECK(!RunCo(io, (*bad)->Get(kPods, "ns1", "a")).has_value());
  client->reset();
  bad->reset();
  server->reset();
  Poll(io);
}

std::string Line(std::string type, std::string name, std::string rv) {
  return R"({"type":")" + type +
         R"(","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":")" + name +
         R"(","namespace":"ns1","resourceVersion":")" + rv + "\"}}}\n";
}

TEST_CASE("RestClient: watch streams events and maps ERROR 410 to kExpired", "[client][unit]") {
  FakeApi api;
  std::shared_ptr<http::StreamWriter> writer;
  api.reply = [&](const http::HttpRequest& req, http::Responder& resp) {
    if (req.QueryParam("resourceVersion") == std::optional<std::string>("1")) {
      resp.Send(StatusResponse(410, "Expired", "too old resource version: 1 (5)"));
      return;
    }
    writer = resp.StartStream(200, {});
    writer->Write(Line("ADDED", "a", "6"));
    writer->Write(Line("BOOKMARK", "", "7"));
  };
  ListOptions old;
  old.resource_version = "1";
  auto expired = RunCo(api.io, api.client->Watch(kPods, "ns1", old));
  REQUIRE(!expired.has_value());
  CHECK(expired.error().code() == Code::kExpired);

  ListOptions lo;
  lo.resource_version = "5";
  auto w = RunCo(api.io, api.client->Watch(kPods, "ns1", lo));
  REQUIRE(w.has_value());
  CHECK(api.requests.back().QueryParam("watch") == std::optional<std::string>("1"));
  CHECK(api.requests.back().QueryParam("allowWatchBookmarks") ==
        std::optional<std::string>("true"));
  auto e1 = RunCo(api.io, (*w)->Next());
  REQUIRE(e1.has_value());
  REQUIRE(e1->has_value());
  CHECK((*e1)->type == WatchEventType::kAdded);
  CHECK(api::Name((*e1)->object) == "a");
  auto e2 = RunCo(api.io, (*w)->Next());
  REQUIRE((e2.has_value() && e2->has_value()));
  CHECK((*e2)->type == WatchEventType::kBookmark);

  writer->Write(std::string(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"gone"}})"
      "\n"));
  auto e3 = RunCo(api.io, (*w)->Next());
  REQUIRE(!e3.has_value());
  CHECK(e3.error().code() == Code::kExpired);
}

TEST_CASE("Informer: over RestClient resumes closed watches and relists on 410", "[client][unit]") {
  FakeApi api;
  int lists = 0;
  std::vector<std::string> watch_rvs;
  std::shared_ptr<http::StreamWriter> live;
  api.reply = [&](const http::HttpRequest& req, http::Responder& resp) {
    if (req.QueryParam("watch")) {
      std::string rv = req.QueryParam("resourceVersion").value_or("");
      watch_rvs.push_back(rv);
      if (rv == "10") {  // first watch: one event, then the server closes it
        auto w = resp.StartStream(200, {});
        w->Write(Line("ADDED", "b", "11"));
        w->Finish();
      } else if (rv == "11") {  // resumed watch: the window has moved on
        auto w = resp.StartStream(200, {});
        w->Write(std::string(R"({"type":"ERROR","object":{"kind":"Status","code":410,)"
                             R"("reason":"Expired","message":"too old"}})"
                             "\n"));
        w->Finish();
      } else {
        live = resp.StartStream(200, {});
      }
      return;
    }
    ++lists;
    if (lists == 1) {
      resp.Send(http::HttpResponse::Json(200, R"({"kind":"PodList","apiVersion":"v1",
          "metadata":{"resourceVersion":"10"},
          "items":[{"metadata":{"name":"a","namespace":"ns1","resourceVersion":"3"}}]})"));
    } else {
      resp.Send(http::HttpResponse::Json(200, R"({"kind":"PodList","apiVersion":"v1",
          "metadata":{"resourceVersion":"20"},
          "items":[{"metadata":{"name":"b","namespace":"ns1","resourceVersion":"11"}},
                   {"metadata":{"name":"c","namespace":"ns1","resourceVersion":"19"}}]})"));
    }
  };
  InformerOptions opts;
  opts.ns = "ns1";
  opts.initial_backoff = std::chrono::milliseconds(1);
  Informer inf(*api.client, kPods, opts);
  std::vector<std::string> log;
  EventHandlers h;
  h.on_add = [&](const ObjectPtr& o) { log.push_back("add " + ObjectKey(*o)); };
  h.on_update = [&](const ObjectPtr&, const ObjectPtr& o) {
    log.push_back("update " + ObjectKey(*o));
  };
  h.on_delete = [&](const DeletedObject& d) {
    log.push_back(std::string(d.final_state_unknown ? "delete-unknown " : "delete ") + d.key);
  };
  inf.AddEventHandlers(h);
  boost::asio::co_spawn(api.io, inf.Run(), testutil::Rethrow);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!live && std::chrono::steady_clock::now() < deadline) {
    api.io.run_one_for(std::chrono::milliseconds(100));
  }
  REQUIRE(live);
  CHECK(lists == 2);
  CHECK(watch_rvs == std::vector<std::string>{"10", "11", "20"});
  CHECK(log ==
        std::vector<std::string>{"add ns1/a", "add ns1/b", "add ns1/c", "delete-unknown ns1/a"});
  CHECK(inf.indexer().Keys() == std::vector<std::string>{"ns1/b", "ns1/c"});

  live->Write(Line("MODIFIED", "c", "21"));
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    api.io.run_one_for(std::chrono::milliseconds(100));
  }
  CHECK(log.back() == "update ns1/c");
  inf.Stop();
  live->Finish();
  for (int i = 0; i < 20; ++i) api.io.run_one_for(std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace mini8s::client
