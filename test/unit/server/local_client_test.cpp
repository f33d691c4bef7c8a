// LocalClient: the in-process client controllers use, against a real ApiServer over a MemStore.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/server/api_server.h"
#include "mini8s/store/mem_store.h"

namespace mini8s::server {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const client::Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

struct Fixture {
  Fixture() : store(store::MemStore::Create()) {
    ApiServerOptions o;
    o.registry = api::Registry::NewBuiltin();
    o.store = store.get();
    o.authenticator = Authenticator::FromTokens({});
    o.worker_threads = 2;
    api = std::move(*ApiServer::Create(std::move(o)));
    REQUIRE(api->EnsureDefaultNamespaces().ok());
  }
  ~Fixture() { api->Stop(); }

  // Runs `body` on a fresh single-threaded io_context until it completes.
  template <class F>
  void Run(F body) {
    asio::io_context ioc;
    auto fut = asio::co_spawn(ioc, body(), asio::use_future);
    ioc.run();
    fut.get();
  }

  std::unique_ptr<store::Store> store;
  std::unique_ptr<ApiServer> api;
};

json::object ConfigMap(std::string name, std::string value) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"data", json::object{{"k", value}}}};
}

TEST_CASE("local client: create, get, update, list and delete go through the API server",
          "[server][unit]") {
  Fixture f;
  auto c = f.api->NewLocalClient(UserInfo{"system:admin", "", {"system:masters"}});
  f.Run([&]() -> asio::awaitable<void> {
    auto created = co_await c->Create(kConfigMaps, ConfigMap("a", "1"));
    REQUIRE(created.has_value());
    CHECK(!api::Uid(*created).empty());  // the server stamped it
    CHECK(!api::ResourceVersion(*created).empty());

    auto again = co_await c->Create(kConfigMaps, ConfigMap("a", "1"));
    REQUIRE(!again.has_value());
    CHECK(again.error().code() == Code::kAlreadyExists);

    json::object upd = *created;
    upd["data"] = json::object{{"k", "2"}};
    auto updated = co_await c->Update(kConfigMaps, upd);
    REQUIRE(updated.has_value());
    CHECK(api::GetString(*updated, "data.k") == "2");

    // A stale resourceVersion is a conflict, as over HTTPS.
    auto stale = co_await c->Update(kConfigMaps, upd);
    REQUIRE(!stale.has_value());
    CHECK(stale.error().code() == Code::kConflict);

    auto got = co_await c->Get(kConfigMaps, "default", "a");
    REQUIRE(got.has_value());
    CHECK(api::GetString(*got, "data.k") == "2");

    client::ListOptions all;  // a named local: see STYLE on GCC 12 co_await temporaries
    auto list = co_await c->List(kConfigMaps, "default", all);
    REQUIRE(list.has_value());
    CHECK(list->items.size() == 1);
    CHECK(!list->resource_version.empty());

    auto del = co_await c->Delete(kConfigMaps, "default", "a");
    REQUIRE(del.has_value());
    auto gone = co_await c->Get(kConfigMaps, "default", "a");
    REQUIRE(!gone.has_value());
    CHECK(gone.error().code() == Code::kNotFound);
  });
}

TEST_CASE("local client: validation errors come back as Invalid", "[server][unit]") {
  Fixture f;
  auto c = f.api->NewLocalClient(UserInfo{"system:admin", "", {"system:masters"}});
  f.Run([&]() -> asio::awaitable<void> {
    auto bad = co_await c->Create(kConfigMaps, ConfigMap("Not_A_Name", "1"));
    REQUIRE(!bad.has_value());
    CHECK(bad.error().code() == Code::kInvalid);
  });
}

TEST_CASE("local client: requests are authorized as the client's user", "[server][unit]") {
  Fixture f;
  auto c = f.api->NewLocalClient(UserInfo{"nobody", "", {"system:authenticated"}});
  f.Run([&]() -> asio::awaitable<void> {
    auto r = co_await c->Get(kConfigMaps, "default", "a");
    REQUIRE(!r.has_value());
    CHECK(r.error().code() == Code::kForbidden);
  });
}

TEST_CASE("local client: watch delivers events in order and ends on Stop", "[server][unit]") {
  Fixture f;
  auto c = f.api->NewLocalClient(UserInfo{"system:admin", "", {"system:masters"}});
  f.Run([&]() -> asio::awaitable<void> {
    auto first = co_await c->Create(kConfigMaps, ConfigMap("w0", "0"));
    REQUIRE(first.has_value());
    client::ListOptions lo;
    lo.resource_version = std::string(api::ResourceVersion(*first));
    auto w = co_await c->Watch(kConfigMaps, "default", lo);
    REQUIRE(w.has_value());
    for (int i = 1; i <= 3; ++i) {
      auto r = co_await c->Create(kConfigMaps, ConfigMap("w" + std::to_string(i), "x"));
      REQUIRE(r.has_value());
    }
    auto d = co_await c->Delete(kConfigMaps, "default", "w1");
    REQUIRE(d.has_value());
    std::vector<std::string> seen;
    while (seen.size() < 4) {
      auto ev = co_await (*w)->Next();
      REQUIRE(ev.has_value());
      REQUIRE(ev->has_value());
      if ((*ev)->type == client::WatchEventType::kBookmark) continue;
      seen.push_back(std::string(client::WatchEventTypeName((*ev)->type)) + " " +
                     std::string(api::Name((*ev)->object)));
    }
    CHECK(seen == std::vector<std::string>{"ADDED w1", "ADDED w2", "ADDED w3", "DELETED w1"});
    (*w)->Stop();
    auto end = co_await (*w)->Next();
    REQUIRE(end.has_value());
    CHECK(!end->has_value());
  });
}

TEST_CASE("local client: concurrent creates from one executor all land", "[server][unit]") {
  Fixture f;
  auto c = f.api->NewLocalClient(UserInfo{"system:admin", "", {"system:masters"}});
  asio::io_context ioc;
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          auto r = co_await c->Create(kConfigMaps, ConfigMap("c" + std::to_string(i), "v"));
          if (r.has_value()) ++ok;
        },
        asio::detached);
  }
  ioc.run();
  CHECK(ok == 50);
  CHECK(f.store->Count("/registry/core/configmaps/default/") == 50);
}

}  // namespace
}  // namespace mini8s::server
