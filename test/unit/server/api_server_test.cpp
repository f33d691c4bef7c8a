// The API server in-process over loopback: a MemStore, plain HTTP on port 0, bearer tokens.
#include <cstdlib>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/http/client.h"
#include "mini8s/http/server.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/store/mem_store.h"
#include "testutil/fake_clock.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

class TestApi {
 public:
  explicit TestApi(store::StoreOptions so = {}, const Clock* clock = &RealClock::Instance(),
                   std::vector<std::shared_ptr<AdmissionPlugin>> admission = {})
      : work_(ioc_.get_executor()), store_(store::MemStore::Create(so, *clock)) {
    ApiServerOptions o;
    o.admission = std::move(admission);
    o.clock = clock;
    o.registry = api::Registry::NewBuiltin();
    o.store = store_.get();
    o.authenticator = Authenticator::FromTokens(
        {{"admin", UserInfo{"admin", "", {"system:masters"}}}, {"user", UserInfo{"x", "", {}}}});
    o.bookmark_interval = std::chrono::milliseconds(200);
    o.worker_threads = 2;
    api_ = std::move(*ApiServer::Create(std::move(o)));
    REQUIRE(api_->EnsureDefaultNamespaces().ok());
    http::ServerOptions so2;
    auto s = http::Server::Create(ioc_.get_executor(), so2, api_->handler());
    REQUIRE(s.ok());
    server_ = std::move(*s);
    server_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
    client_ = std::move(*http::BlockingClient::Create());
  }
  ~TestApi() {
    api_->Stop();
    server_.reset();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  http::ClientResponse Do(const std::string& method, const std::string& path,
                          const std::string& body = "",
                          const std::string& content_type = "application/json",
                          const std::string& token = "admin", const std::string& accept = "") {
    http::ClientRequest r;
    r.method = method;
    r.url = server_->url() + path;
    r.body = body;
    if (!body.empty()) r.headers.Set("Content-Type", content_type);
    if (!token.empty()) r.headers.Set("Authorization", "Bearer " + token);
    if (!accept.empty()) r.headers.Set("Accept", accept);
    auto resp = client_->Send(std::move(r));
    REQUIRE(resp.ok());
    return *resp;
  }
  std::unique_ptr<http::BlockingResponseStream> Stream(const std::string& path) {
    http::ClientRequest r;
    r.url = server_->url() + path;
    r.headers.Set("Authorization", "Bearer admin");
    auto s = client_->OpenStream(std::move(r));
    REQUIRE(s.ok());
    (*s)->SetReadTimeout(std::chrono::seconds(10));
    return std::move(*s);
  }
  store::Store& store() { return *store_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::unique_ptr<http::BlockingClient> client_;
};

json::value J(const http::ClientResponse& r) {
  auto v = ParseJson(r.body);
  REQUIRE(v.ok());
  return *v;
}
std::string S(const json::value& v, std::string_view path) {
  return std::string(JsonGetString(v, path).value_or("<missing>"));
}

const char kConfigMap[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","labels":{"app":"a"}},"data":{"k":"v"}})";
const char kDeployment[] = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web"},
  "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web"}},
                      "spec":{"containers":[{"name":"c","image":"nginx"}]}}}})";

TEST_CASE("server api: /version, health and discovery answer in upstream's shapes",
          "[server][integration]") {
  TestApi t;
  auto v = t.Do("GET", "/version", "", "", "");
  CHECK(v.status == 200);
  CHECK(S(J(v), "minor") == "32");
  CHECK(t.Do("GET", "/readyz", "", "", "").body == "ok");
  auto verbose = t.Do("GET", "/livez?verbose", "", "", "");
  CHECK(verbose.body.find("livez check passed") != std::string::npos);

  auto legacy = t.Do("GET", "/apis/apps/v1");
  REQUIRE(legacy.status == 200);
  bool scale = false, deploy = false;
  json::value legacy_v = J(legacy);
  for (const auto& r : legacy_v.at("resources").as_array()) {
    if (r.at("name") == "deployments/scale") {
      scale = true;
      CHECK(r.at("group") == "autoscaling");
      CHECK(r.at("kind") == "Scale");
    }
    if (r.at("name") == "deployments") {
      deploy = true;
      CHECK(r.at("shortNames").as_array().front() == "deploy");
    }
  }
  CHECK(scale);
  CHECK(deploy);

  auto resp = t.Do("GET", "/api");
  CHECK(S(J(resp), "kind") == "APIVersions");
  CHECK(resp.headers.GetOr("Content-Type") == "application/json");
}

TEST_CASE("server api: aggregated discovery answers with the exact content type",
          "[server][integration]") {
  TestApi t;
  const std::string accept =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
      "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
      "application/json";
  auto apis = t.Do("GET", "/apis", "", "", "admin", accept);
  REQUIRE(apis.status == 200);
  CHECK(apis.headers.GetOr("Content-Type") ==
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  json::value v = J(apis);
  CHECK(S(v, "kind") == "APIGroupDiscoveryList");
  bool apps = false;
  for (const auto& g : v.at("items").as_array()) {
    if (S(g, "metadata.name") != "apps") continue;
    apps = true;
    const auto& ver = g.at("versions").as_array().front();
    CHECK(S(ver, "version") == "v1");
    for (const auto& r : ver.at("resources").as_array()) {
      if (S(r, "resource") != "deployments") continue;
      CHECK(S(r, "scope") == "Namespaced");
      CHECK(S(r, "responseKind.kind") == "Deployment");
      CHECK(r.at("subresources").as_array().size() >= 2);
    }
  }
  CHECK(apps);
  auto core = t.Do("GET", "/api", "", "", "admin", accept);
  json::value c = J(core);
  REQUIRE(c.at("items").as_array().size() == 1);
  CHECK(S(c.at("items").as_array()[0], "metadata.name") == "");
  auto na = t.Do("GET", "/api/v1/namespaces/default/pods", "", "", "admin", "application/yaml");
  CHECK(na.status == 406);
}

TEST_CASE("server api: anonymous requests get 401 and plain users 403 with upstream's message",
          "[server][integration]") {
  TestApi t;
  auto anon = t.Do("GET", "/api/v1/namespaces/default/pods", "", "", "");
  CHECK(anon.status == 401);
  CHECK(S(J(anon), "reason") == "Unauthorized");
  auto bad = t.Do("GET", "/api/v1/namespaces/default/pods", "", "", "wrong");
  CHECK(bad.status == 401);
  auto user = t.Do("GET", "/api/v1/namespaces/default/pods", "", "", "user");
  CHECK(user.status == 403);
  CHECK(S(J(user), "message") ==
        "pods is forbidden: User \"x\" cannot list resource \"pods\" in API group \"\" in the "
        "namespace \"default\"");
  CHECK(t.Do("GET", "/apis", "", "", "user").status == 200);
}

TEST_CASE("server api: create, get, list with selectors and paging", "[server][integration]") {
  TestApi t;
  auto created = t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap);
  REQUIRE(created.status == 201);
  json::value obj = J(created);
  CHECK(S(obj, "metadata.namespace") == "default");
  CHECK(S(obj, "metadata.uid").size() == 36);
  CHECK(!S(obj, "metadata.resourceVersion").empty());
  CHECK(!S(obj, "metadata.creationTimestamp").empty());

  auto dup = t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap);
  CHECK(dup.status == 409);
  CHECK(S(J(dup), "message") == "configmaps \"cm\" already exists");

  for (int i = 0; i < 5; ++i) {
    std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n)" +
                       std::to_string(i) + R"(","labels":{"app":"b"}}})";
    REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", body).status == 201);
  }
  auto got = t.Do("GET", "/api/v1/namespaces/default/configmaps/cm");
  CHECK(got.status == 200);
  CHECK(S(J(got), "data.k") == "v");

  auto sel = t.Do("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Db");
  CHECK(J(sel).at("items").as_array().size() == 5);
  CHECK(S(J(sel), "kind") == "ConfigMapList");
  auto fsel = t.Do("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dn3");
  REQUIRE(J(fsel).at("items").as_array().size() == 1);
  auto badf = t.Do("GET", "/api/v1/configmaps?fieldSelector=spec.foo%3Dx");
  CHECK(badf.status == 400);
  CHECK(S(J(badf), "message") == "field label not supported: spec.foo");

  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    auto page = t.Do("GET", "/api/v1/namespaces/default/configmaps?limit=2" +
                                (cont.empty() ? "" : "&continue=" + cont));
    REQUIRE(page.status == 200);
    json::value p = J(page);
    for (const auto& it : p.at("items").as_array()) names.push_back(S(it, "metadata.name"));
    cont = S(p, "metadata.continue");
    if (cont == "<missing>") cont.clear();
    ++pages;
  } while (!cont.empty() && pages < 10);
  CHECK(pages == 3);
  CHECK(names == std::vector<std::string>{"cm", "n0", "n1", "n2", "n3", "n4"});

  auto missing = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments/nope");
  CHECK(missing.status == 404);
  CHECK(S(J(missing), "message") == "deployments.apps \"nope\" not found");
  auto nons = t.Do("POST", "/api/v1/namespaces/nons/configmaps", kConfigMap);
  CHECK(nons.status == 404);
  CHECK(S(J(nons), "message") == "namespaces \"nons\" not found");
}

TEST_CASE("server api: validation errors are 422 and unknown fields follow fieldValidation",
          "[server][integration]") {
  TestApi t;
  std::string bad = kDeployment;
  bad.replace(bad.find("\"replicas\":1"), 12, "\"replicas\":-1");
  auto inv = t.Do("POST", "/apis/apps/v1/namespaces/default/deployments", bad);
  CHECK(inv.status == 422);
  CHECK(S(J(inv), "reason") == "Invalid");
  CHECK(S(J(inv), "message").find("spec.replicas") != std::string::npos);

  std::string unknown = kConfigMap;
  unknown.insert(unknown.size() - 1, R"(,"bogus":1)");
  auto strict = t.Do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                     unknown);
  CHECK(strict.status == 400);
  CHECK(S(J(strict), "message") ==
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: "
        "unknown field \"bogus\"");
  auto warn = t.Do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", unknown);
  CHECK(warn.status == 201);
  CHECK(warn.headers.GetOr("Warning") == "299 - \"unknown field \\\"bogus\\\"\"");
  auto media = t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap, "text/plain");
  CHECK(media.status == 415);
}

TEST_CASE("server api: update conflicts, generation and the status and scale subresources",
          "[server][integration]") {
  TestApi t;
  auto created = t.Do("POST", "/apis/apps/v1/namespaces/default/deployments", kDeployment);
  REQUIRE(created.status == 201);
  json::value d = J(created);
  CHECK(JsonGetInt(d, "metadata.generation") == 1);
  std::string rv = S(d, "metadata.resourceVersion");

  json::value upd = d;
  upd.as_object()["spec"].as_object()["replicas"] = 2;
  auto ok = t.Do("PUT", "/apis/apps/v1/namespaces/default/deployments/web", SerializeJson(upd));
  REQUIRE(ok.status == 200);
  CHECK(JsonGetInt(J(ok), "metadata.generation") == 2);
  auto stale = t.Do("PUT", "/apis/apps/v1/namespaces/default/deployments/web", SerializeJson(upd));
  CHECK(stale.status == 409);
  CHECK(S(J(stale), "message") ==
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; "
        "please apply your changes to the latest version and try again");

  // Status writes touch only .status and do not bump the generation.
  auto st = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status",
                 R"({"status":{"replicas":2},"spec":{"replicas":9}})",
                 "application/merge-patch+json");
  REQUIRE(st.status == 200);
  CHECK(JsonGetInt(J(st), "status.replicas") == 2);
  CHECK(JsonGetInt(J(st), "spec.replicas") == 2);
  CHECK(JsonGetInt(J(st), "metadata.generation") == 2);
  // Main-resource writes ignore .status.
  auto main = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                   R"({"status":{"replicas":7}})", "application/merge-patch+json");
  CHECK(JsonGetInt(J(main), "status.replicas") == 2);

  auto scale = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments/web/scale");
  REQUIRE(scale.status == 200);
  CHECK(S(J(scale), "kind") == "Scale");
  CHECK(JsonGetInt(J(scale), "spec.replicas") == 2);
  CHECK(S(J(scale), "status.selector") == "app=web");
  auto scaled = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
                     R"({"spec":{"replicas":4}})", "application/merge-patch+json");
  REQUIRE(scaled.status == 200);
  CHECK(JsonGetInt(J(scaled), "spec.replicas") == 4);
  auto after = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments/web");
  CHECK(JsonGetInt(J(after), "spec.replicas") == 4);
  CHECK(JsonGetInt(J(after), "metadata.generation") == 3);
  (void)rv;
}

TEST_CASE("server api: json, merge and strategic patches apply, a failing json patch is 422",
          "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/apis/apps/v1/namespaces/default/deployments", kDeployment).status == 201);
  auto jp = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                 R"([{"op":"replace","path":"/spec/replicas","value":3}])",
                 "application/json-patch+json");
  REQUIRE(jp.status == 200);
  CHECK(JsonGetInt(J(jp), "spec.replicas") == 3);
  auto smp = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                  R"({"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}})",
                  "application/strategic-merge-patch+json");
  REQUIRE(smp.status == 200);
  CHECK(JsonGetArray(J(smp), "spec.template.spec.containers")->size() == 2);
  auto bad = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                  R"([{"op":"replace","path":"/spec/nope/x","value":3}])",
                  "application/json-patch+json");
  CHECK(bad.status == 422);
  auto missing = t.Do("PATCH", "/apis/apps/v1/namespaces/default/deployments/none", "{}",
                      "application/merge-patch+json");
  CHECK(missing.status == 404);
}

TEST_CASE("server api: delete with finalizers, preconditions and graceful pods",
          "[server][integration]") {
  TestApi t;
  std::string cm = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"f","finalizers":["example.com/x"]}})";
  auto c = t.Do("POST", "/api/v1/namespaces/default/configmaps", cm);
  REQUIRE(c.status == 201);
  auto pre = t.Do("DELETE", "/api/v1/namespaces/default/configmaps/f",
                  R"({"preconditions":{"uid":"other"}})");
  CHECK(pre.status == 409);
  auto del = t.Do("DELETE", "/api/v1/namespaces/default/configmaps/f");
  REQUIRE(del.status == 200);
  CHECK(S(J(del), "metadata.deletionTimestamp") != "<missing>");
  CHECK(t.Do("GET", "/api/v1/namespaces/default/configmaps/f").status == 200);
  auto fin = t.Do("PATCH", "/api/v1/namespaces/default/configmaps/f",
                  R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  CHECK(fin.status == 200);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/configmaps/f").status == 404);

  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  auto plain = t.Do("DELETE", "/api/v1/namespaces/default/configmaps/cm",
                    R"({"propagationPolicy":"Background"})");
  CHECK(plain.status == 200);
  CHECK(S(J(plain), "status") == "Success");
  CHECK(S(J(plain), "details.name") == "cm");
  auto gone = t.Do("DELETE", "/api/v1/namespaces/default/configmaps/cm");
  CHECK(gone.status == 404);

  std::string pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
    "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}})";
  auto created_pod = t.Do("POST", "/api/v1/namespaces/default/pods", pod);
  REQUIRE(created_pod.status == 201);
  CHECK(S(J(created_pod), "status.phase") == "Pending");
  CHECK(S(J(created_pod), "status.qosClass") == "BestEffort");
  auto graceful = t.Do("DELETE", "/api/v1/namespaces/default/pods/p");
  REQUIRE(graceful.status == 200);
  CHECK(JsonGetInt(J(graceful), "metadata.deletionGracePeriodSeconds") == 30);
  auto now = t.Do("DELETE", "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0");
  CHECK(now.status == 200);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/pods/p").status == 404);
}

TEST_CASE("server api: watch streams events from a resourceVersion and filters by selector",
          "[server][integration]") {
  TestApi t;
  auto list = t.Do("GET", "/api/v1/namespaces/default/configmaps");
  std::string rv = S(J(list), "metadata.resourceVersion");
  auto w = t.Stream("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%3Da&"
                    "resourceVersion=" + rv);
  REQUIRE(w->status() == 200);
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps",
               R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}})")
              .status == 201);
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  REQUIRE(t.Do("PATCH", "/api/v1/namespaces/default/configmaps/cm",
               R"({"metadata":{"labels":{"app":"z"}}})", "application/merge-patch+json")
              .status == 200);
  auto l1 = w->ReadLine();
  REQUIRE(l1.ok());
  REQUIRE(l1->has_value());
  json::value e1 = *ParseJson(**l1);
  CHECK(S(e1, "type") == "ADDED");
  CHECK(S(e1, "object.metadata.name") == "cm");
  auto l2 = w->ReadLine();
  REQUIRE(l2.ok());
  REQUIRE(l2->has_value());
  json::value e2 = *ParseJson(**l2);
  // The label change moved it out of the selector: upstream reports DELETED.
  CHECK(S(e2, "type") == "DELETED");
}

TEST_CASE("server api: boolean query parameters decode as upstream's (the Python client's "
          "watch=True, force=True)",
          "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  // watch=True is a watch: an ADDED event per object, then the stream ends at its timeout.
  for (const char* v : {"True", "TRUE", "t", "yes"}) {
    auto w = t.Stream(std::string("/api/v1/namespaces/default/configmaps?watch=") + v +
                      "&timeoutSeconds=1");
    REQUIRE(w->status() == 200);
    auto l = w->ReadLine();
    REQUIRE(l.ok());
    REQUIRE(l->has_value());
    CHECK(S(*ParseJson(**l), "type") == "ADDED");
  }
  // "0" and "false" in any case are a plain list.
  for (const char* v : {"0", "false", "False", "FALSE"}) {
    auto list = t.Do("GET", std::string("/api/v1/namespaces/default/configmaps?watch=") + v);
    REQUIRE(list.status == 200);
    CHECK(S(J(list), "kind") == "ConfigMapList");
  }
  auto bm = t.Stream("/api/v1/namespaces/default/configmaps?watch=True&allowWatchBookmarks=True&"
                     "timeoutSeconds=1&resourceVersion=" +
                     std::to_string(t.store().CurrentRevision()));
  auto first = bm->ReadLine();
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK(S(*ParseJson(**first), "type") == "BOOKMARK");

  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web";
  REQUIRE(t.Do("PATCH", path + "?fieldManager=a", kDeployment, "application/apply-patch+yaml")
              .status == 201);
  std::string changed = kDeployment;
  changed.replace(changed.find("\"replicas\":1"), 12, "\"replicas\":3");
  CHECK(t.Do("PATCH", path + "?fieldManager=b&force=False", changed,
             "application/apply-patch+yaml")
            .status == 409);
  auto forced = t.Do("PATCH", path + "?fieldManager=b&force=True", changed,
                     "application/apply-patch+yaml");
  REQUIRE(forced.status == 200);
  CHECK(JsonGetInt(J(forced), "spec.replicas") == 3);
}

TEST_CASE("server api: watch from a compacted revision gets an Expired ERROR event, "
          "timeoutSeconds ends the stream and bookmarks arrive",
          "[server][integration]") {
  store::StoreOptions so;
  so.watch_window = 4;
  so.background_maintenance = false;
  TestApi t(so);
  for (int i = 0; i < 10; ++i) {
    std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c)" +
                       std::to_string(i) + R"("}})";
    REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", body).status == 201);
  }
  REQUIRE(t.store().Compact().ok());
  auto old = t.Stream("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2");
  auto line = old->ReadLine();
  REQUIRE(line.ok());
  REQUIRE(line->has_value());
  json::value ev = *ParseJson(**line);
  CHECK(S(ev, "type") == "ERROR");
  CHECK(JsonGetInt(ev, "object.code") == 410);
  CHECK(S(ev, "object.reason") == "Expired");

  auto bm = t.Stream("/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&"
                     "timeoutSeconds=1&resourceVersion=" +
                     std::to_string(t.store().CurrentRevision()));
  auto first = bm->ReadLine();
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK(S(*ParseJson(**first), "type") == "BOOKMARK");
  // timeoutSeconds=1 closes the stream.
  auto start = std::chrono::steady_clock::now();
  while (true) {
    auto l = bm->ReadLine();
    REQUIRE(l.ok());
    if (!l->has_value()) break;
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));

  // Without a resourceVersion, the current objects arrive first as ADDED.
  auto fresh = t.Stream("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1");
  int added = 0;
  while (true) {
    auto l = fresh->ReadLine();
    REQUIRE(l.ok());
    if (!l->has_value()) break;
    if (S(*ParseJson(**l), "type") == "ADDED") ++added;
  }
  CHECK(added == 10);
}

TEST_CASE("server api: generateName, dryRun and namespace termination", "[server][integration]") {
  TestApi t;
  std::string gen = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"g-"}})";
  auto a = t.Do("POST", "/api/v1/namespaces/default/configmaps", gen);
  REQUIRE(a.status == 201);
  CHECK(S(J(a), "metadata.name").size() == 7);
  auto dry = t.Do("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", kConfigMap);
  CHECK(dry.status == 201);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/configmaps/cm").status == 404);

  REQUIRE(t.Do("POST", "/api/v1/namespaces",
               R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tmp"}})")
              .status == 201);
  std::string held = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h","finalizers":["x/y"]}})";
  REQUIRE(t.Do("POST", "/api/v1/namespaces/tmp/configmaps", held).status == 201);
  auto del = t.Do("DELETE", "/api/v1/namespaces/tmp");
  REQUIRE(del.status == 200);
  CHECK(S(J(del), "status.phase") == "Terminating");
  auto refused = t.Do("POST", "/api/v1/namespaces/tmp/configmaps", kConfigMap);
  CHECK(refused.status == 403);
  CHECK(S(J(refused), "message") ==
        "unable to create new content in namespace tmp because it is being terminated");
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

TEST_CASE("server api: kubectl's Table Accept gets a metav1.Table with row metadata",
          "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/apis/apps/v1/namespaces/default/deployments", kDeployment).status == 201);
  const std::string accept =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
      "g=meta.k8s.io,application/json";
  auto list = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments?limit=500", "", "",
                   "admin", accept);
  REQUIRE(list.status == 200);
  json::value v = J(list);
  CHECK(S(v, "kind") == "Table");
  CHECK(S(v, "metadata.resourceVersion") != "<missing>");
  CHECK(S(v.at("columnDefinitions").as_array()[0], "name") == "Name");
  REQUIRE(v.at("rows").as_array().size() == 1);
  const json::value& row = v.at("rows").as_array()[0];
  CHECK(row.at("cells").as_array()[0] == "web");
  CHECK(S(row, "object.kind") == "PartialObjectMetadata");
  CHECK(S(row, "object.metadata.namespace") == "default");
  auto one = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments/web", "", "", "admin",
                  accept);
  CHECK(S(J(one), "kind") == "Table");
  auto plain = t.Do("GET", "/apis/apps/v1/namespaces/default/deployments/web", "", "", "admin",
                    "application/json");
  CHECK(S(J(plain), "kind") == "Deployment");
}

TEST_CASE("server api: /openapi/v3 lists group-versions whose documents carry fieldValidation",
          "[server][integration]") {
  TestApi t;
  auto root = t.Do("GET", "/openapi/v3");
  REQUIRE(root.status == 200);
  json::value r = J(root);
  const json::value* apps = r.at("paths").as_object().if_contains("apis/apps/v1");
  REQUIRE(apps);
  std::string url(apps->at("serverRelativeURL").as_string());
  auto doc = t.Do("GET", url);
  REQUIRE(doc.status == 200);
  CHECK(doc.body.find("fieldValidation") != std::string::npos);
  CHECK(doc.body.find("\"x-kubernetes-group-version-kind\"") != std::string::npos);
  auto again = t.Do("GET", url, "", "", "admin");
  CHECK(again.headers.GetOr("Etag") == doc.headers.GetOr("Etag"));
  CHECK(t.Do("GET", "/openapi/v3/apis/nope/v1").status == 404);
  auto v2 = t.Do("GET", "/openapi/v2", "", "", "admin",
                 "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
  CHECK(v2.status == 200);
  CHECK(v2.headers.GetOr("Content-Type") ==
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
}

TEST_CASE("server api: server-side apply creates, records managers and reports conflicts",
          "[server][integration]") {
  TestApi t;
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web";
  auto noman = t.Do("PATCH", path, kDeployment, "application/apply-patch+yaml");
  CHECK(noman.status == 422);
  auto created = t.Do("PATCH", path + "?fieldManager=a", kDeployment,
                      "application/apply-patch+yaml");
  REQUIRE(created.status == 201);
  CHECK(S(JsonGetArray(J(created), "metadata.managedFields")->at(0), "manager") == "a");
  std::string changed = kDeployment;
  changed.replace(changed.find("\"replicas\":1"), 12, "\"replicas\":3");
  auto conflict = t.Do("PATCH", path + "?fieldManager=b", changed, "application/apply-patch+yaml");
  CHECK(conflict.status == 409);
  json::value cv = J(conflict);
  const json::array* causes = JsonGetArray(cv, "details.causes");
  REQUIRE(causes);
  CHECK(S(causes->at(0), "field") == ".spec.replicas");
  auto forced = t.Do("PATCH", path + "?fieldManager=b&force=true", changed,
                     "application/apply-patch+yaml");
  REQUIRE(forced.status == 200);
  CHECK(JsonGetInt(J(forced), "spec.replicas") == 3);
  auto same = t.Do("PATCH", path + "?fieldManager=b", changed, "application/apply-patch+yaml");
  CHECK(same.status == 200);
  CHECK(S(J(same), "metadata.resourceVersion") == S(J(forced), "metadata.resourceVersion"));
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

const char kCrd[] = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"crontabs.stable.example.com"},
  "spec":{"group":"stable.example.com","scope":"Namespaced",
    "names":{"plural":"crontabs","singular":"crontab","kind":"CronTab","shortNames":["ct"]},
    "versions":[{"name":"v1","served":true,"storage":true,
      "schema":{"openAPIV3Schema":{"type":"object","properties":{
        "spec":{"type":"object","properties":{"cronSpec":{"type":"string"},
                                              "replicas":{"type":"integer"}}}}}}}]}})";

TEST_CASE("server api: a created CRD is served at once and strategic merge patch on it is 415",
          "[server][integration]") {
  TestApi t;
  auto crd = t.Do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kCrd);
  REQUIRE(crd.status == 201);
  CHECK(S(J(crd), "status.acceptedNames.kind") == "CronTab");
  auto disc = t.Do("GET", "/apis/stable.example.com/v1");
  REQUIRE(disc.status == 200);
  CHECK(disc.body.find("\"crontabs\"") != std::string::npos);

  const std::string base = "/apis/stable.example.com/v1/namespaces/default/crontabs";
  auto cr = t.Do("POST", base,
                 R"({"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"c1"},
                     "spec":{"cronSpec":"* * * * *","replicas":1,"dropped":true}})");
  REQUIRE(cr.status == 201);
  CHECK(JsonGetInt(J(cr), "metadata.generation") == 1);
  CHECK(JsonFind(J(cr), "spec.dropped") == nullptr);  // pruned
  auto smp = t.Do("PATCH", base + "/c1", R"({"spec":{"replicas":2}})",
                  "application/strategic-merge-patch+json");
  CHECK(smp.status == 415);
  auto merge = t.Do("PATCH", base + "/c1", R"({"spec":{"replicas":2}})",
                    "application/merge-patch+json");
  CHECK(merge.status == 200);
  CHECK(JsonGetInt(J(merge), "metadata.generation") == 2);
  // Custom resources need a resourceVersion on PUT; built-in kinds update unconditionally.
  auto put = t.Do("PUT", base + "/c1",
                  R"({"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"c1"}})");
  CHECK(put.status == 422);
  CHECK(S(J(put), "message").find("must be specified for an update") != std::string::npos);
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  auto cm_put = t.Do("PUT", "/api/v1/namespaces/default/configmaps/cm", kConfigMap);
  CHECK(cm_put.status == 200);

  REQUIRE(t.Do("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                         "crontabs.stable.example.com")
              .status == 200);
  CHECK(t.Do("GET", base).status == 404);
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

TEST_CASE("server api: x509 client certificates authenticate as CN with O as groups over TLS",
          "[server][integration]") {
  testutil::TempDir dir;
  BootstrapOptions bo;
  bo.data_dir = dir.path();
  auto creds = EnsureServerCredentials(bo);
  REQUIRE(creds.ok());
  auto client_ca_key = http::ReadPemFile(dir.File("server/tls/client-ca.key"));
  REQUIRE(client_ca_key.ok());
  http::CertificateRequest plain_req;
  plain_req.common_name = "jane";
  plain_req.organizations = {"dev"};
  plain_req.client_auth = true;
  auto jane = http::IssueCertificate({creds->client_ca_pem, *client_ca_key}, plain_req);
  REQUIRE(jane.ok());

  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  auto st = store::MemStore::Create();
  ApiServerOptions o;
  o.registry = api::Registry::NewBuiltin();
  o.store = st.get();
  o.authenticator = Authenticator::FromTokens({});
  auto api = std::move(*ApiServer::Create(std::move(o)));
  REQUIRE(api->EnsureDefaultNamespaces().ok());
  http::ServerOptions so;
  http::ServerTlsOptions tls;
  tls.cert_chain_pem = creds->serving_cert_pem;
  tls.key_pem = creds->serving_key_pem;
  tls.client_ca_pem = creds->client_ca_pem;
  so.tls = tls;
  auto server = http::Server::Create(ioc.get_executor(), so, api->handler());
  REQUIRE(server.ok());
  (*server)->Start();
  std::thread th([&] { ioc.run(); });

  auto get = [&](const std::string& cert, const std::string& key) {
    http::ClientOptions co;
    co.ca_pem = creds->server_ca_pem;
    co.client_cert_pem = cert;
    co.client_key_pem = key;
    auto c = http::BlockingClient::Create(co);
    REQUIRE(c.ok());
    auto r = (*c)->Get("https://127.0.0.1:" + std::to_string((*server)->port()) +
                       "/api/v1/namespaces/default/configmaps");
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(get(creds->admin_cert_pem, creds->admin_key_pem).status == 200);
  auto denied = get(jane->cert_pem, jane->key_pem);
  CHECK(denied.status == 403);
  CHECK(denied.body.find("User \\\"jane\\\" cannot list resource \\\"configmaps\\\"") !=
        std::string::npos);
  CHECK(get("", "").status == 401);

  api->Stop();
  server->reset();
  work.reset();
  ioc.stop();
  th.join();
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

TEST_CASE("server api: events expire an hour after their last write", "[server][integration]") {
  testutil::FakeClock clock;
  store::StoreOptions so;
  so.background_maintenance = false;
  TestApi t(so, &clock);
  std::string ev = R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},
    "involvedObject":{"kind":"Pod","name":"p","namespace":"default"},
    "reason":"Started","message":"m","type":"Normal"})";
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/events", ev).status == 201);
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  clock.Advance(std::chrono::minutes(59));
  REQUIRE(t.store().ExpireDueKeys().ok());
  CHECK(t.Do("GET", "/api/v1/namespaces/default/events/e1").status == 200);
  clock.Advance(std::chrono::minutes(2));
  REQUIRE(t.store().ExpireDueKeys().ok());
  CHECK(t.Do("GET", "/api/v1/namespaces/default/events/e1").status == 404);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/configmaps/cm").status == 200);
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

// The value of the exposition line `name{labels}` (exact label text), or -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      size_t end = text.find('\n', pos);
      return std::stod(text.substr(pos + series.size() + 1, end - pos - series.size() - 1));
    }
    pos += series.size();
  }
  return -1;
}

TEST_CASE("server api: /metrics counts requests by verb, resource and code in Prometheus text",
          "[server][integration]") {
  TestApi t;
  CHECK(t.Do("GET", "/metrics", "", "", "").status == 401);
  CHECK(t.Do("GET", "/metrics", "", "", "user").status == 403);

  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 201);
  CHECK(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 409);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(t.Do("GET", "/api/v1/namespaces/default/configmaps/cm").status == 200);
  }
  CHECK(t.Do("GET", "/api/v1/namespaces/default/configmaps/nope").status == 404);
  REQUIRE(t.Do("GET", "/api/v1/namespaces/default/configmaps").status == 200);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/nosuchthings").status == 404);
  {
    auto w = t.Stream("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0");
    auto line = w->ReadLine();
    REQUIRE(line.ok());  // the ADDED event of cm
  }

  auto m = t.Do("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.headers.GetOr("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string& text = m.body;

  // Every line is a HELP/TYPE comment or `name{labels} value` with a number as value, and
  // every sample's family has a TYPE line before it.
  std::set<std::string> typed;
  size_t samples = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // ends with a newline
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string type = rest.substr(rest.find(' ') + 1);
      CHECK((type == "counter" || type == "gauge" || type == "histogram"));
      typed.insert(rest.substr(0, rest.find(' ')));
      continue;
    }
    INFO(line);
    size_t name_end = line.find_first_of("{ ");
    REQUIRE(name_end != std::string::npos);
    std::string name = line.substr(0, name_end);
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string sfx = suffix;
      if (!typed.count(name) && name.size() > sfx.size() &&
          name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        name.resize(name.size() - sfx.size());
      }
    }
    CHECK(typed.count(name) == 1);
    size_t value_at = line.rfind(' ');
    if (line[name_end] == '{') CHECK(line[value_at - 1] == '}');
    std::string value = line.substr(value_at + 1);
    char* parsed_end = nullptr;
    std::strtod(value.c_str(), &parsed_end);
    CHECK(parsed_end == value.c_str() + value.size());
    ++samples;
  }
  CHECK(samples > 40);

  const std::string cm =
      "group=\"\",version=\"v1\",resource=\"configmaps\",subresource=\"\",";
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"GET\"," + cm +
                              "scope=\"resource\",component=\"apiserver\",code=\"200\"}") == 3);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"GET\"," + cm +
                              "scope=\"resource\",component=\"apiserver\",code=\"404\"}") == 1);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"POST\"," + cm +
                              "scope=\"namespace\",component=\"apiserver\",code=\"201\"}") == 1);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"POST\"," + cm +
                              "scope=\"namespace\",component=\"apiserver\",code=\"409\"}") == 1);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"LIST\"," + cm +
                              "scope=\"namespace\",component=\"apiserver\",code=\"200\"}") == 1);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"WATCH\"," + cm +
                              "scope=\"namespace\",component=\"apiserver\",code=\"200\"}") == 1);
  // An unserved resource is counted without its (client-chosen) name as a label.
  CHECK(text.find("nosuchthings") == std::string::npos);
  CHECK(MetricValue(text, "apiserver_request_total{verb=\"GET\",group=\"\",version=\"\","
                          "resource=\"\",subresource=\"\",scope=\"\",component=\"apiserver\","
                          "code=\"401\"}") >= 1);
  CHECK(MetricValue(text, "apiserver_request_duration_seconds_count{verb=\"GET\"," + cm +
                              "scope=\"resource\",component=\"apiserver\"}") == 4);
  CHECK(MetricValue(text, "apiserver_request_duration_seconds_bucket{verb=\"GET\"," + cm +
                              "scope=\"resource\",component=\"apiserver\",le=\"+Inf\"}") == 4);
  CHECK(MetricValue(text, "apiserver_watch_requests_total") == 1);
  CHECK(MetricValue(text, "apiserver_watch_events_total") >= 1);
  CHECK(MetricValue(text, "apiserver_current_inflight_requests{request_kind=\"readOnly\"}") == 1);
  CHECK(MetricValue(text, "mini8s_store_keys") >= 5);  // 4 namespaces and the config map
  CHECK(MetricValue(text, "mini8s_store_current_revision") >= 5);
  CHECK(MetricValue(text, "mini8s_store_writes_total") >= 5);
  CHECK(MetricValue(text, "process_resident_memory_bytes") > 1e6);
  CHECK(MetricValue(text, "process_start_time_seconds") > 1.6e9);

  // Counters move with the next requests.
  REQUIRE(t.Do("GET", "/api/v1/namespaces/default/configmaps/cm").status == 200);
  auto again = t.Do("GET", "/metrics");
  CHECK(MetricValue(again.body, "apiserver_request_total{verb=\"GET\"," + cm +
                                    "scope=\"resource\",component=\"apiserver\",code=\"200\"}") ==
        4);
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

const char kTwoVersionCrd[] = R"({"apiVersion":"apiextensions.k8s.io/v1",
  "kind":"CustomResourceDefinition","metadata":{"name":"widgets.ex.io"},
  "spec":{"group":"ex.io","scope":"Namespaced",
    "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
    "versions":[
      {"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object",
        "x-kubernetes-preserve-unknown-fields":true}}},
      {"name":"v2","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object",
        "x-kubernetes-preserve-unknown-fields":true}}}]}})";

std::string Widget(const std::string& version, const std::string& name,
                   const std::string& extra_meta = "") {
  return R"({"apiVersion":"ex.io/)" + version + R"(","kind":"Widget","metadata":{"name":")" +
         name + "\"" + extra_meta + "}}";
}

TEST_CASE("server api: deleting a CRD deletes its objects in every version and namespace first",
          "[server][integration]") {
  TestApi t;
  const std::string crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  auto made = t.Do("POST", crds, kTwoVersionCrd);
  REQUIRE(made.status == 201);
  CHECK(made.body.find("customresourcecleanup.apiextensions.k8s.io") != std::string::npos);
  REQUIRE(t.Do("POST", "/apis/ex.io/v1/namespaces/default/widgets", Widget("v1", "a")).status ==
          201);
  REQUIRE(t.Do("POST", "/apis/ex.io/v2/namespaces/kube-system/widgets", Widget("v2", "b"))
              .status == 201);
  // An object holding a finalizer nobody will run does not block the CRD's removal.
  REQUIRE(t.Do("POST", "/apis/ex.io/v1/namespaces/default/widgets",
               Widget("v1", "held", R"(,"finalizers":["ex.io/keep"])"))
              .status == 201);
  CHECK(t.store().Count("/registry/ex.io/widgets/") == 3);

  REQUIRE(t.Do("DELETE", crds + "/widgets.ex.io").status == 200);
  CHECK(t.Do("GET", crds + "/widgets.ex.io").status == 404);
  CHECK(t.store().Count("/registry/ex.io/widgets/") == 0);
  CHECK(t.Do("GET", "/apis/ex.io/v1/widgets").status == 404);

  // Recreated, it serves an empty collection.
  REQUIRE(t.Do("POST", crds, kTwoVersionCrd).status == 201);
  auto list = t.Do("GET", "/apis/ex.io/v2/widgets");
  REQUIRE(list.status == 200);
  CHECK(J(list).as_object().at("items").as_array().empty());
}

TEST_CASE("server api: a CRD with another finalizer stays Terminating, unserved and emptied, "
          "until that finalizer goes",
          "[server][integration]") {
  TestApi t;
  const std::string crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  REQUIRE(t.Do("POST", crds, kTwoVersionCrd).status == 201);
  auto hold = t.Do("PATCH", crds + "/widgets.ex.io",
                   R"({"metadata":{"finalizers":["customresourcecleanup.apiextensions.k8s.io",
                                                 "ex.io/hold"]}})",
                   "application/merge-patch+json");
  INFO(hold.body);
  REQUIRE(hold.status == 200);
  REQUIRE(t.Do("POST", "/apis/ex.io/v1/namespaces/default/widgets", Widget("v1", "a")).status ==
          201);

  REQUIRE(t.Do("DELETE", crds + "/widgets.ex.io").status == 200);
  auto held = t.Do("GET", crds + "/widgets.ex.io");
  REQUIRE(held.status == 200);
  json::value h = J(held);
  CHECK(S(h, "metadata.deletionTimestamp") != "<missing>");
  CHECK(json::serialize(*JsonFind(h, "metadata.finalizers")) == R"(["ex.io/hold"])");
  CHECK(held.body.find("\"Terminating\"") != std::string::npos);
  CHECK(t.store().Count("/registry/ex.io/widgets/") == 0);
  CHECK(t.Do("GET", "/apis/ex.io/v1/namespaces/default/widgets").status == 404);
  // Releasing the last finalizer removes the CRD and does not bring its kinds back.
  REQUIRE(t.Do("PATCH", crds + "/widgets.ex.io", R"({"metadata":{"finalizers":null}})",
               "application/merge-patch+json")
              .status == 200);
  CHECK(t.Do("GET", crds + "/widgets.ex.io").status == 404);
  CHECK(t.Do("GET", "/apis/ex.io/v1/namespaces/default/widgets").status == 404);
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

TEST_CASE("server api: YAML bodies create objects, malformed YAML is 400, other types 415",
          "[server][integration]") {
  TestApi t;
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  auto made = t.Do("POST", cms,
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n"
                   "data:\n  a: b\n",
                   "application/yaml");
  INFO(made.body);
  REQUIRE(made.status == 201);
  CHECK(S(J(made), "data.a") == "b");
  auto bad = t.Do("POST", cms, "metadata: {name: [unclosed\n", "application/yaml");
  CHECK(bad.status == 400);
  CHECK(S(J(bad), "reason") == "BadRequest");
  auto text = t.Do("POST", cms, "hello", "text/plain");
  CHECK(text.status == 415);
  CHECK(S(J(text), "reason") == "UnsupportedMediaType");
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

const char kPod[] = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
  "spec":{"containers":[{"name":"c","image":"busybox"}]}})";

TEST_CASE("server api: pods/binding assigns a node once and marks PodScheduled",
          "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/pods", kPod).status == 201);
  const std::string bind = R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},
      "target":{"apiVersion":"v1","kind":"Node","name":"n1"}})";
  auto r = t.Do("POST", "/api/v1/namespaces/default/pods/p/binding", bind);
  CHECK(r.status == 201);
  CHECK(S(J(r), "status") == "Success");
  auto pod = J(t.Do("GET", "/api/v1/namespaces/default/pods/p"));
  CHECK(S(pod, "spec.nodeName") == "n1");
  const json::array* conds = JsonGetArray(pod, "status.conditions");
  REQUIRE(conds != nullptr);
  REQUIRE(conds->size() == 1);
  CHECK(S((*conds)[0], "type") == "PodScheduled");
  CHECK(S((*conds)[0], "status") == "True");
  auto again = t.Do("POST", "/api/v1/namespaces/default/pods/p/binding", bind);
  CHECK(again.status == 409);
  CHECK(S(J(again), "message") ==
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node "
        "\"n1\"");
  CHECK(t.Do("POST", "/api/v1/namespaces/default/pods/missing/binding", bind).status == 404);
  CHECK(t.Do("POST", "/api/v1/namespaces/default/pods/p/binding", "{\"target\":{}}").status ==
        422);
}

TEST_CASE("server api: pods/eviction deletes the pod", "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/api/v1/namespaces/default/pods", kPod).status == 201);
  auto r = t.Do("POST", "/api/v1/namespaces/default/pods/p/eviction",
                R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p"},
                    "deleteOptions":{"gracePeriodSeconds":0}})");
  CHECK(r.status == 201);
  CHECK(t.Do("GET", "/api/v1/namespaces/default/pods/p").status == 404);
}

TEST_CASE("server api: namespaces/finalize removes spec finalizers and lets the namespace go",
          "[server][integration]") {
  TestApi t;
  REQUIRE(t.Do("POST", "/api/v1/namespaces",
               R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"}})")
              .status == 201);
  auto ns = J(t.Do("GET", "/api/v1/namespaces/gone"));
  REQUIRE(JsonGetArray(ns, "spec.finalizers") != nullptr);
  CHECK((*JsonGetArray(ns, "spec.finalizers"))[0] == json::value("kubernetes"));
  auto fin = t.Do("PUT", "/api/v1/namespaces/gone/finalize",
                  R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"},
                      "spec":{"finalizers":["kubernetes","example.com/hold"]},
                      "metadata":{"labels":{"ignored":"yes"}}})");
  CHECK(fin.status == 200);
  ns = J(t.Do("GET", "/api/v1/namespaces/gone"));
  CHECK(JsonGetArray(ns, "spec.finalizers")->size() == 2);
  CHECK(S(ns, "metadata.labels.ignored") == "<missing>");  // only spec.finalizers changes
  fin = t.Do("PUT", "/api/v1/namespaces/gone/finalize",
             R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"},
                 "spec":{"finalizers":[]}})");
  CHECK(fin.status == 200);
  CHECK(S(J(fin), "spec.finalizers") == "<missing>");
  CHECK(t.Do("DELETE", "/api/v1/namespaces/gone").status == 200);
  CHECK(t.Do("GET", "/api/v1/namespaces/gone").status == 404);
  CHECK(t.Do("POST", "/api/v1/namespaces/default/finalize", "{}").status == 405);
}

// Stamps a label on create, refuses names starting with "bad", and records commits.
class RecordingPlugin final : public AdmissionPlugin {
 public:
  std::string_view name() const override { return "Recording"; }
  Status Admit(AdmissionAttributes& a) override {
    std::lock_guard lock(mu);
    if (a.kind.kind != "ConfigMap") return Status::OK();
    if (a.name.rfind("bad", 0) == 0) {
      return Status::Invalid("metadata.name: Invalid value: \"" + std::string(a.name) +
                             "\": refused by the test plug-in");
    }
    if (a.object != nullptr) {
      api::MutableObjectAt(*a.object, "metadata.labels")["admitted"] = "yes";
    }
    seen.push_back(std::string(a.operation) + " " + std::string(a.name) + " by " + a.user.name);
    return Status::OK();
  }
  void Committed(const AdmissionAttributes& a, bool committed) override {
    std::lock_guard lock(mu);
    if (a.kind.kind != "ConfigMap") return;
    seen.push_back(std::string(committed ? "commit " : "rollback ") + std::string(a.operation) +
                   " " + std::string(a.name));
  }
  std::mutex mu;
  std::vector<std::string> seen;
};

TEST_CASE("server api: admission plug-ins mutate, refuse and learn whether writes committed",
          "[server][integration]") {
  auto plugin = std::make_shared<RecordingPlugin>();
  TestApi t({}, &RealClock::Instance(), {plugin});
  auto r = t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap);
  REQUIRE(r.status == 201);
  CHECK(S(J(r), "metadata.labels.admitted") == "yes");
  auto bad = t.Do("POST", "/api/v1/namespaces/default/configmaps",
                  R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad1"}})");
  CHECK(bad.status == 422);
  CHECK(S(J(bad), "message") ==
        "ConfigMap \"bad1\" is invalid: metadata.name: Invalid value: \"bad1\": refused by the "
        "test plug-in");
  // A create that fails in the store after admission is rolled back.
  CHECK(t.Do("POST", "/api/v1/namespaces/default/configmaps", kConfigMap).status == 409);
  CHECK(t.Do("DELETE", "/api/v1/namespaces/default/configmaps/cm").status == 200);
  std::lock_guard lock(plugin->mu);
  CHECK(plugin->seen == std::vector<std::string>{"CREATE cm by admin", "commit CREATE cm",
                                                 "CREATE cm by admin", "rollback CREATE cm",
                                                 "DELETE cm by admin", "commit DELETE cm"});
}

}  // namespace
}  // namespace mini8s::server
