#include "mini8s/client/informer.h"

#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "unit/client/co_test_util.h"

namespace mini8s::client {
namespace {

namespace json = boost::json;
using testutil::Poll;
using testutil::RunCo;

const Resource kPods{"", "v1", "pods", "Pod", true};

json::object Pod(std::string ns, std::string name, std::string node = "",
                 std::string owner_uid = "") {
  json::object p = json::parse(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name +
                               R"("},"spec":{}})")
                       .as_object();
  if (!node.empty()) p["spec"].as_object()["nodeName"] = node;
  if (!owner_uid.empty()) {
    api::MutableMetadata(p)["ownerReferences"] = json::array{json::object{{"apiVersion", "apps/v1"},
                                                                          {"kind", "ReplicaSet"},
                                                                          {"name", "rs"},
                                                                          {"uid", owner_uid},
                                                                          {"controller", true}}};
  }
  return p;
}

// Mutations run on a second io_context so that the informer (on `io`) sees nothing until the
// test polls `io`: that is how a test opens a gap between the informer and the server.
struct Fixture {
  boost::asio::io_context io;
  boost::asio::io_context io2;
  FakeClient client{io.get_executor()};
  std::vector<std::string> log;

  EventHandlers Recorder() {
    EventHandlers h;
    h.on_add = [this](const ObjectPtr& o) { log.push_back("add " + ObjectKey(*o)); };
    h.on_update = [this](const ObjectPtr& old_obj, const ObjectPtr& o) {
      log.push_back("update " + ObjectKey(*o) + " " + std::string(api::ResourceVersion(*old_obj)) +
                    "->" + std::string(api::ResourceVersion(*o)));
    };
    h.on_delete = [this](const DeletedObject& d) {
      log.push_back(std::string(d.final_state_unknown ? "delete-unknown " : "delete ") + d.key);
    };
    return h;
  }
  void Create(json::object o) {
    REQUIRE(RunCo(io2, client.Create(kPods, std::move(o))).has_value());
  }
  void Start(Informer& inf) {
    boost::asio::co_spawn(io, inf.Run(), testutil::Rethrow);
    Poll(io);
  }
  void Finish(Informer& inf) {
    inf.Stop();
    Poll(io);
  }
};

TEST_CASE("Informer: lists then watches, calling handlers in order", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  f.Create(Pod("ns1", "b"));
  Informer inf(f.client, kPods);
  inf.AddEventHandlers(f.Recorder());
  CHECK(!inf.HasSynced());
  f.Start(inf);
  REQUIRE(inf.HasSynced());
  CHECK(f.log == std::vector<std::string>{"add ns1/a", "add ns1/b"});
  CHECK(inf.last_resource_version() == "2");

  auto a = *RunCo(f.io2, f.client.Get(kPods, "ns1", "a"));
  api::SetLabel(a, "x", "y");
  REQUIRE(RunCo(f.io2, f.client.Update(kPods, a)).has_value());
  REQUIRE(RunCo(f.io2, f.client.Delete(kPods, "ns1", "b")).has_value());
  f.Create(Pod("ns1", "c"));
  Poll(f.io);
  CHECK(f.log == std::vector<std::string>{"add ns1/a", "add ns1/b", "update ns1/a 1->3",
                                          "delete ns1/b", "add ns1/c"});
  CHECK(inf.indexer().size() == 2);
  CHECK(inf.indexer().Get("ns1", "a") != nullptr);
  CHECK(api::Label(*inf.indexer().Get("ns1", "a"), "x") == std::optional<std::string_view>("y"));
  CHECK(inf.last_resource_version() == "5");
  CHECK(inf.list_count() == 1);
  f.Finish(inf);
}

TEST_CASE("Informer: resumes a closed watch from its last version without relisting",
          "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  Informer inf(f.client, kPods);
  inf.AddEventHandlers(f.Recorder());
  f.Start(inf);
  f.client.CloseWatches();  // a server-side watch timeout
  f.Create(Pod("ns1", "b"));
  Poll(f.io);
  CHECK(f.log == std::vector<std::string>{"add ns1/a", "add ns1/b"});
  CHECK(inf.list_count() == 1);
  CHECK(f.client.open_watches() == 1);
  f.Finish(inf);
}

TEST_CASE("Informer: relists on Expired and reconciles the gap", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  f.Create(Pod("ns1", "b"));
  f.Create(Pod("ns1", "c"));
  Informer inf(f.client, kPods);
  inf.AddEventHandlers(f.Recorder());
  f.Start(inf);
  REQUIRE(f.log.size() == 3);
  f.log.clear();

  // The watch drops; while the informer is away, b changes, c goes, d appears, and the server's
  // window moves past the informer's version.
  f.client.CloseWatches();
  auto b = *RunCo(f.io2, f.client.Get(kPods, "ns1", "b"));
  api::SetLabel(b, "v", "2");
  REQUIRE(RunCo(f.io2, f.client.Update(kPods, b)).has_value());           // rv 4
  REQUIRE(RunCo(f.io2, f.client.Delete(kPods, "ns1", "c")).has_value());  // rv 5
  f.Create(Pod("ns1", "d"));                                              // rv 6
  f.client.CompactWatchWindow();
  Poll(f.io);

  CHECK(inf.list_count() == 2);
  CHECK(f.log ==
        std::vector<std::string>{"update ns1/b 2->4", "add ns1/d", "delete-unknown ns1/c"});
  CHECK(inf.indexer().Keys() == std::vector<std::string>{"ns1/a", "ns1/b", "ns1/d"});
  CHECK(inf.last_resource_version() == "6");

  // And it watches again from the relist's version.
  f.Create(Pod("ns1", "e"));
  Poll(f.io);
  CHECK(f.log.back() == "add ns1/e");
  f.Finish(inf);
}

TEST_CASE("Informer: relists when the open watch reports Expired", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  Informer inf(f.client, kPods);
  inf.AddEventHandlers(f.Recorder());
  f.Start(inf);
  f.client.ExpireWatches();
  Poll(f.io);
  CHECK(inf.list_count() == 2);
  CHECK(f.log == std::vector<std::string>{"add ns1/a"});  // nothing changed: no events
  f.Finish(inf);
}

TEST_CASE("Informer: indexes by namespace, owner uid and node name", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a", "n1", "uid-rs1"));
  f.Create(Pod("ns1", "b", "n2", "uid-rs1"));
  f.Create(Pod("ns2", "c", "n1", ""));
  f.Create(Pod("ns2", "d", "", "uid-rs2"));
  Informer inf(f.client, kPods);
  inf.AddIndex(std::string(kNamespaceIndex), IndexByNamespace);
  inf.AddIndex(std::string(kOwnerIndex), IndexByOwnerUid);
  inf.AddIndex(std::string(kNodeIndex), IndexByNodeName);
  f.Start(inf);
  const Indexer& ix = inf.indexer();
  CHECK(ix.IndexKeys(kNamespaceIndex, "ns2") == std::vector<std::string>{"ns2/c", "ns2/d"});
  CHECK(ix.IndexKeys(kOwnerIndex, "uid-rs1") == std::vector<std::string>{"ns1/a", "ns1/b"});
  CHECK(ix.IndexKeys(kNodeIndex, "n1") == std::vector<std::string>{"ns1/a", "ns2/c"});
  CHECK(ix.ByIndex(kNodeIndex, "n2").size() == 1);
  CHECK(ix.ByIndex("nope", "n2").empty());

  // Updates move objects between index values; deletes remove them.
  auto a = *RunCo(f.io2, f.client.Get(kPods, "ns1", "a"));
  a["spec"].as_object()["nodeName"] = "n2";
  REQUIRE(RunCo(f.io2, f.client.Update(kPods, a)).has_value());
  REQUIRE(RunCo(f.io2, f.client.Delete(kPods, "ns2", "c")).has_value());
  Poll(f.io);
  CHECK(ix.IndexKeys(kNodeIndex, "n1").empty());
  CHECK(ix.IndexKeys(kNodeIndex, "n2") == std::vector<std::string>{"ns1/a", "ns1/b"});
  CHECK(ix.IndexKeys(kNamespaceIndex, "ns2") == std::vector<std::string>{"ns2/d"});
  // ByIndex hands out the object as it is now, not as it was indexed first.
  auto by_node = ix.ByIndex(kNodeIndex, "n2");
  REQUIRE(by_node.size() == 2);
  CHECK(api::Name(*by_node[0]) == "a");
  CHECK(by_node[0] == ix.Get("ns1/a"));
  f.Finish(inf);
}

TEST_CASE("Informer: the orphan index files objects without a controller by namespace",
          "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "owned", "", "uid-rs1"));
  f.Create(Pod("ns1", "free"));
  json::object weak = Pod("ns1", "weak");
  // An owner that is not the controller leaves the pod adoptable.
  api::MutableMetadata(weak)["ownerReferences"] = json::array{
      json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}, {"uid", "uid-n1"}}};
  f.Create(weak);
  f.Create(Pod("ns2", "other"));
  Informer inf(f.client, kPods);
  inf.AddIndex(std::string(kOrphanIndex), IndexOrphansByNamespace);
  f.Start(inf);
  const Indexer& ix = inf.indexer();
  CHECK(ix.IndexKeys(kOrphanIndex, "ns1") == std::vector<std::string>{"ns1/free", "ns1/weak"});
  CHECK(ix.IndexKeys(kOrphanIndex, "ns2") == std::vector<std::string>{"ns2/other"});

  // Adoption takes a pod out of the index; release puts it back.
  auto free_pod = *RunCo(f.io2, f.client.Get(kPods, "ns1", "free"));
  api::MutableMetadata(free_pod)["ownerReferences"] = json::array{json::object{
      {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", "uid-rs1"},
      {"controller", true}}};
  REQUIRE(RunCo(f.io2, f.client.Update(kPods, free_pod)).has_value());
  auto owned = *RunCo(f.io2, f.client.Get(kPods, "ns1", "owned"));
  api::MutableMetadata(owned).erase("ownerReferences");
  REQUIRE(RunCo(f.io2, f.client.Update(kPods, owned)).has_value());
  Poll(f.io);
  CHECK(ix.IndexKeys(kOrphanIndex, "ns1") == std::vector<std::string>{"ns1/owned", "ns1/weak"});
  f.Finish(inf);
}

TEST_CASE("Informer: resync re-delivers every object as an update", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  f.Create(Pod("ns1", "b"));
  InformerOptions opts;
  opts.resync_period = std::chrono::milliseconds(1);
  Informer inf(f.client, kPods, opts);
  inf.AddEventHandlers(f.Recorder());
  f.Start(inf);
  f.log.clear();
  inf.Resync();
  CHECK(f.log == std::vector<std::string>{"update ns1/a 1->1", "update ns1/b 2->2"});

  // The periodic resync fires from its timer.
  f.log.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (f.log.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    f.io.run_one_for(std::chrono::milliseconds(100));
  }
  REQUIRE(f.log.size() >= 2);
  CHECK(f.log[0] == "update ns1/a 1->1");
  f.Finish(inf);
}

TEST_CASE("Informer: handlers added after sync get the cache as adds", "[client][unit]") {
  Fixture f;
  f.Create(Pod("ns1", "a"));
  Informer inf(f.client, kPods);
  f.Start(inf);
  REQUIRE(inf.HasSynced());
  inf.AddEventHandlers(f.Recorder());
  CHECK(f.log == std::vector<std::string>{"add ns1/a"});
  f.Finish(inf);
}

TEST_CASE("Informer: with a label selector caches only matching objects", "[client][unit]") {
  Fixture f;
  json::object a = Pod("ns1", "a");
  api::SetLabel(a, "app", "web");
  f.Create(a);
  f.Create(Pod("ns1", "b"));
  InformerOptions opts;
  opts.label_selector = "app=web";
  opts.page_size = 1;
  Informer inf(f.client, kPods, opts);
  f.Start(inf);
  CHECK(inf.indexer().Keys() == std::vector<std::string>{"ns1/a"});
  f.Finish(inf);
}

}  // namespace
}  // namespace mini8s::client

namespace mini8s::client {
namespace {

TEST_CASE("Informer: Stop ends Run and closes its watch", "[client][unit]") {
  boost::asio::io_context io;
  FakeClient client(io.get_executor());
  Informer inf(client, kPods);
  bool done = false;
  boost::asio::co_spawn(io, inf.Run(), [&](std::exception_ptr e) {
    testutil::Rethrow(e);
    done = true;
  });
  Poll(io);
  REQUIRE(inf.HasSynced());
  CHECK(client.open_watches() == 1);
  CHECK(!done);
  inf.Stop();
  Poll(io);
  CHECK(done);
  CHECK(client.open_watches() == 0);
}

TEST_CASE("Informer: retries a failed list after its backoff", "[client][unit]") {
  boost::asio::io_context io;
  FakeClient client(io.get_executor());
  client.FailNext("list", Status::Unavailable("down"));
  InformerOptions opts;
  opts.initial_backoff = std::chrono::milliseconds(1);
  Informer inf(client, kPods, opts);
  boost::asio::co_spawn(io, inf.Run(), testutil::Rethrow);
  Poll(io);
  CHECK(!inf.HasSynced());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!inf.HasSynced() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  CHECK(inf.HasSynced());
  inf.Stop();
  Poll(io);
}

}  // namespace
}  // namespace mini8s::client
