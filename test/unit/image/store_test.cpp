#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <archive.h>
#include <archive_entry.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include "mini8s/http/server.h"
#include "mini8s/image/image.h"

namespace mini8s::image {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/mini8s-image-test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

struct Entry {
  Entry(std::string n, std::string c = "", mode_t t = AE_IFREG, std::string l = "", bool h = false)
      : name(std::move(n)), content(std::move(c)), type(t), link(std::move(l)), hardlink(h) {}
  std::string name;
  std::string content;  // regular file
  mode_t type;
  std::string link;  // symlink target or hard link target
  bool hardlink;
};

// A tar layer built with libarchive, compressed with `filter` ("gzip", "zstd" or "").
std::string MakeTar(const std::vector<Entry>& entries, const std::string& filter) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  std::vector<char> buf(1 << 20);
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, buf.data(), buf.size(), &used) == ARCHIVE_OK);
  for (const Entry& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.type == AE_IFDIR ? 0755 : 0640);
    archive_entry_set_uid(ae, 1234);
    archive_entry_set_gid(ae, 5678);
    if (e.hardlink) {
      archive_entry_set_hardlink(ae, e.link.c_str());
    } else if (e.type == AE_IFLNK) {
      archive_entry_set_symlink(ae, e.link.c_str());
    } else if (e.type == AE_IFREG) {
      archive_entry_set_size(ae, static_cast<la_int64_t>(e.content.size()));
    }
    REQUIRE(archive_write_header(a, ae) == ARCHIVE_OK);
    if (e.type == AE_IFREG && !e.hardlink)
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

std::string Uncompressed(const std::vector<Entry>& entries) { return MakeTar(entries, ""); }

void Write(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Hex(const std::string& d) { return d.substr(7); }

// An OCI layout with one image of the given layers; returns the manifest digest.
std::string MakeLayout(const std::string& dir, const std::vector<std::vector<Entry>>& layers,
                       const std::string& filter, const std::string& ref_name,
                       bool corrupt_diff_id = false) {
  std::string layer_json, diff_ids;
  for (const auto& l : layers) {
    std::string blob = MakeTar(l, filter);
    std::string d = DigestOf(blob);
    Write(dir + "/blobs/sha256/" + Hex(d), blob);
    std::string media = std::string("application/vnd.oci.image.layer.v1.tar") +
                        (filter.empty() ? "" : "+" + filter);
    if (!layer_json.empty()) layer_json += ",";
    layer_json += R"({"mediaType":")" + media + R"(","digest":")" + d + R"(","size":)" +
                  std::to_string(blob.size()) + "}";
    if (!diff_ids.empty()) diff_ids += ",";
    diff_ids += "\"" + (corrupt_diff_id ? DigestOf("nope") : DigestOf(Uncompressed(l))) + "\"";
  }
  std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},)"
                       R"("rootfs":{"type":"layers","diff_ids":[)" +
                       diff_ids + "]}}";
  std::string cd = DigestOf(config);
  Write(dir + "/blobs/sha256/" + Hex(cd), config);
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cd + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[)" + layer_json + "]}";
  std::string md = DigestOf(manifest);
  Write(dir + "/blobs/sha256/" + Hex(md), manifest);
  Write(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Write(
      dir + "/index.json",
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
          md + R"(","size":)" + std::to_string(manifest.size()) +
          R"(,"annotations":{"org.opencontainers.image.ref.name":")" + ref_name + R"("}}]})");
  return md;
}

const std::vector<Entry> kBase = {
    {"bin/", "", AE_IFDIR},
    {"bin/tool", "#!/bin/sh\necho base\n"},
    {"bin/tool-link", "", AE_IFREG, "bin/tool", true},
    {"bin/sh", "", AE_IFLNK, "/bin/tool"},
    {"etc/", "", AE_IFDIR},
    {"etc/gone", "x"},
    {"var/cache/", "", AE_IFDIR},
    {"var/cache/old", "old"},
};
const std::vector<Entry> kTop = {
    {"etc/.wh.gone", ""},
    {"var/cache/.wh..wh..opq", ""},
    {"var/cache/new", "new"},
};

TEST_CASE("image layer unpack converts whiteouts and keeps links and ownership", "[image][unit]") {
  if (geteuid() != 0) return;  // whiteouts are device nodes: root only
  TempDir t;
  for (const std::string filter : {"gzip", "zstd", ""}) {
    INFO(filter);
    std::string base_blob = t.path + "/base-" + filter, top_blob = t.path + "/top-" + filter;
    Write(base_blob, MakeTar(kBase, filter));
    Write(top_blob, MakeTar(kTop, filter));
    std::string b = t.path + "/b-" + filter, top = t.path + "/t-" + filter;
    fs::create_directories(b);
    fs::create_directories(top);
    Result<std::string> d1 = UnpackLayer(base_blob, b);
    REQUIRE(d1.ok());
    CHECK(*d1 == DigestOf(Uncompressed(kBase)));
    struct stat st {};
    REQUIRE(stat((b + "/bin/tool").c_str(), &st) == 0);
    CHECK(st.st_uid == 1234);
    CHECK(st.st_gid == 5678);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(st.st_nlink == 2);
    CHECK(fs::read_symlink(b + "/bin/sh") == "/bin/tool");

    REQUIRE(UnpackLayer(top_blob, top).ok());
    REQUIRE(lstat((top + "/etc/gone").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    char v[8] = {};
    CHECK(getxattr((top + "/var/cache").c_str(), "trusted.overlay.opaque", v, sizeof v) == 1);
    CHECK(v[0] == 'y');
    CHECK(Slurp(top + "/var/cache/new") == "new");
    CHECK_FALSE(fs::exists(top + "/etc/.wh.gone"));
  }
}

TEST_CASE("image layer unpack rejects entries that escape the root", "[image][unit]") {
  TempDir t;
  fs::create_directories(t.path + "/out");
  Write(t.path + "/evil", MakeTar({{"../escaped", "x"}}, "gzip"));
  Result<std::string> r = UnpackLayer(t.path + "/evil", t.path + "/out");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("escapes") != std::string::npos);
  CHECK_FALSE(fs::exists(t.path + "/escaped"));
  Write(t.path + "/hl", MakeTar({{"x", "", AE_IFREG, "../../etc/passwd", true}}, ""));
  CHECK_FALSE(UnpackLayer(t.path + "/hl", t.path + "/out").ok());
  Write(t.path + "/junk", "this is not a tar archive at all, just text");
  CHECK_FALSE(UnpackLayer(t.path + "/junk", t.path + "/out").ok());
}

TEST_CASE("image store imports an OCI layout, shares layers and collects garbage",
          "[image][unit]") {
  if (geteuid() != 0) return;
  TempDir t;
  Result<std::unique_ptr<Store>> store = Store::Open(t.path + "/store");
  REQUIRE(store.ok());
  std::string md = MakeLayout(t.path + "/a", {kBase, kTop}, "gzip", "example.com/app:1");
  Result<std::vector<ImageRecord>> imported = (*store)->Import(t.path + "/a", {});
  REQUIRE(imported.ok());
  REQUIRE(imported->size() == 1);
  CHECK((*imported)[0].name == "example.com/app:1");
  CHECK((*imported)[0].manifest_digest == md);
  CHECK((*imported)[0].architecture == "amd64");

  Result<std::vector<std::string>> dirs = (*store)->Resolve("example.com/app:1");
  REQUIRE(dirs.ok());
  REQUIRE(dirs->size() == 2);
  CHECK(fs::exists((*dirs)[1] + "/bin/tool"));       // base is last (lowest)
  CHECK(fs::exists((*dirs)[0] + "/var/cache/new"));  // top is first
  CHECK((*store)->Get(md.substr(7, 12)).ok());

  // A second image sharing the base layer reuses its snapshot.
  MakeLayout(t.path + "/b", {kBase}, "zstd", "example.com/base:1");
  REQUIRE((*store)->Import(t.path + "/b", {}).ok());
  Result<std::vector<std::string>> bdirs = (*store)->Resolve("example.com/base:1");
  REQUIRE(bdirs.ok());
  CHECK((*bdirs)[0] == (*dirs)[1]);
  CHECK(fs::directory_iterator(t.path + "/store/snapshots") != fs::directory_iterator());

  // Records survive reopening.
  store->reset();
  store = Store::Open(t.path + "/store");
  REQUIRE(store.ok());
  REQUIRE((*store)->List()->size() == 2);

  REQUIRE((*store)->Remove("example.com/app:1").ok());
  CHECK((*store)->Get("example.com/app:1").error().Is(Code::kNotFound));
  Result<GcStats> gc = (*store)->GarbageCollect();
  REQUIRE(gc.ok());
  CHECK(gc->snapshots_removed == 1);  // the top layer's chain
  // All four of app's blobs: the base image holds its base layer zstd-compressed, a different
  // blob with the same diff ID (so the snapshot is shared, the blob is not).
  CHECK(gc->blobs_removed == 4);
  CHECK(fs::exists((*bdirs)[0] + "/bin/tool"));
  Result<GcStats> again = (*store)->GarbageCollect();
  REQUIRE(again.ok());
  CHECK(again->blobs_removed == 0);
}

TEST_CASE("image import rejects a corrupt blob and a wrong diff id, leaving nothing",
          "[image][unit]") {
  if (geteuid() != 0) return;
  TempDir t;
  Result<std::unique_ptr<Store>> store = Store::Open(t.path + "/store");
  REQUIRE(store.ok());
  MakeLayout(t.path + "/bad", {kBase}, "gzip", "example.com/bad:1");
  for (const auto& e : fs::directory_iterator(t.path + "/bad/blobs/sha256")) {
    std::string data = Slurp(e.path());
    if (data.size() > 2 && static_cast<unsigned char>(data[0]) == 0x1f) {
      data[data.size() / 2] ^= 0x55;
      Write(e.path(), data);
    }
  }
  Result<std::vector<ImageRecord>> r = (*store)->Import(t.path + "/bad", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("digest mismatch") != std::string::npos);
  CHECK((*store)->List()->empty());

  MakeLayout(t.path + "/diff", {kBase}, "gzip", "example.com/diff:1", /*corrupt_diff_id=*/true);
  r = (*store)->Import(t.path + "/diff", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("the config says") != std::string::npos);
  CHECK(fs::is_empty(t.path + "/store/snapshots"));
  CHECK(fs::is_empty(t.path + "/store/tmp"));

  Write(t.path + "/junk.tar", "not an archive");
  CHECK_FALSE((*store)->Import(t.path + "/junk.tar", {}).ok());
  CHECK((*store)->Import(t.path + "/missing.tar", {}).error().Is(Code::kNotFound));
}

// ---- Pull against an in-process fake registry: bearer token flow, index, redirects, resume. ----

namespace fake {

struct Registry {
  std::map<std::string, std::string> blobs;  // digest -> content
  std::string index_json, manifest_json;
  std::string index_digest;
  std::atomic<int> token_requests{0}, ranged_requests{0}, unauthorized{0};
  std::string corrupt_digest;  // served with one byte flipped

  void Handle(http::HttpRequest req, http::Responder resp) {
    auto send = [&](int status, std::string body, std::string type = "application/json") {
      http::HttpResponse r;
      r.status = status;
      r.body = std::move(body);
      r.headers.Set("Content-Type", type);
      resp.Send(std::move(r));
    };
    if (req.path == "/token") {
      ++token_requests;
      // Basic dGVzdGVyOnMzY3JldA== is tester:s3cret.
      if (req.headers.GetOr("Authorization") != "Basic dGVzdGVyOnMzY3JldA==") {
        send(401, "{}");
        return;
      }
      send(200, R"({"token":"tok-123"})");
      return;
    }
    if (req.path.rfind("/storage/", 0) == 0) {
      std::string digest = req.path.substr(9);
      auto it = blobs.find(digest);
      if (it == blobs.end()) return send(404, "{}");
      std::string body = it->second;
      if (digest == corrupt_digest) body[body.size() / 2] ^= 1;
      std::string range = req.headers.GetOr("Range");
      if (range.rfind("bytes=", 0) == 0) {
        ++ranged_requests;
        size_t from = std::stoul(range.substr(6));
        http::HttpResponse r;
        r.status = 206;
        r.body = body.substr(from);
        r.headers.Set("Content-Range", "bytes " + std::to_string(from) + "-" +
                                           std::to_string(body.size() - 1) + "/" +
                                           std::to_string(body.size()));
        resp.Send(std::move(r));
        return;
      }
      return send(200, body, "application/octet-stream");
    }
    if (req.headers.GetOr("Authorization") != "Bearer tok-123") {
      ++unauthorized;
      http::HttpResponse r;
      r.status = 401;
      r.headers.Set("WWW-Authenticate", "Bearer realm=\"" + base + "/token\",service=\"fake\"," +
                                            "scope=\"repository:team/app:pull\"");
      resp.Send(std::move(r));
      return;
    }
    if (req.path == "/v2/team/app/manifests/1") {
      return send(200, index_json, "application/vnd.docker.distribution.manifest.list.v2+json");
    }
    if (req.path == "/v2/team/app/manifests/" + DigestOf(manifest_json)) {
      return send(200, manifest_json, "application/vnd.docker.distribution.manifest.v2+json");
    }
    if (req.path.rfind("/v2/team/app/blobs/", 0) == 0) {
      // Registries redirect blob GETs to their storage.
      http::HttpResponse r;
      r.status = 307;
      r.headers.Set("Location", base + "/storage/" + req.path.substr(19));
      resp.Send(std::move(r));
      return;
    }
    send(404, R"({"errors":[{"code":"NAME_UNKNOWN"}]})");
  }
  std::string base;
};

}  // namespace fake

struct FakeRegistryServer {
  FakeRegistryServer() : work(io.get_executor()) {
    auto srv = http::Server::Create(
        io.get_executor(), {},
        [this](http::HttpRequest q, http::Responder r) { reg.Handle(std::move(q), std::move(r)); });
    REQUIRE(srv.ok());
    server = std::move(*srv);
    reg.base = server->url();
    server->Start();
    thread = std::thread([this] { io.run(); });
  }
  ~FakeRegistryServer() {
    boost::asio::post(io, [this] { server.reset(); });
    work.reset();
    thread.join();  // returns once the destroyed server's connections wound down
  }
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  fake::Registry reg;
};

TEST_CASE("image pull follows the bearer token flow, picks the platform and resumes",
          "[image][unit]") {
  if (geteuid() != 0) return;
  TempDir t;
  FakeRegistryServer srv;
  std::string rnd;
  std::mt19937 gen(42);  // incompressible, so the gzip blob is larger than the abort point
  for (int i = 0; i < 40000; ++i) rnd += static_cast<char>(gen() & 0xff);
  std::vector<Entry> layer = {{"data/", "", AE_IFDIR}, {"data/blob", rnd}};
  std::string blob = MakeTar(layer, "gzip");
  std::string ld = DigestOf(blob);
  std::string config =
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
      DigestOf(Uncompressed(layer)) + "\"]}}";
  std::string cd = DigestOf(config);
  srv.reg.blobs = {{ld, blob}, {cd, config}};
  srv.reg.manifest_json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":)" +
      std::to_string(config.size()) + R"(,"digest":")" + cd +
      R"("},"layers":[{"mediaType":)"
      R"("application/vnd.docker.image.rootfs.diff.tar.gzip","size":)" +
      std::to_string(blob.size()) + R"(,"digest":")" + ld + "\"}]}";
  std::string md = DigestOf(srv.reg.manifest_json);
  srv.reg.index_json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[)"
      R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:)" +
      std::string(64, '0') +
      R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},)"
      R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      md + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";

  std::string host = "127.0.0.1:" + std::to_string(srv.server->port());
  Result<RegistriesConfig> reg = ParseRegistriesConfig(
      "mirrors:\n  fake.example:\n    endpoint: [\"http://" + host + "\"]\nconfigs:\n  \"" + host +
      "\":\n    auth: {username: tester, password: s3cret}\n");
  REQUIRE(reg.ok());
  PullOptions opts;
  opts.registries = *reg;
  opts.architecture = "amd64";
  Result<std::unique_ptr<Store>> store = Store::Open(t.path + "/store");
  REQUIRE(store.ok());

  SECTION("a corrupt layer is rejected and nothing is kept") {
    srv.reg.corrupt_digest = ld;
    Result<ImageRecord> r = (*store)->Pull("fake.example/team/app:1", opts);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().ToString());
    CHECK(r.error().message().find("digest mismatch") != std::string::npos);
    CHECK_FALSE(fs::exists((*store)->BlobPath(ld)));
    CHECK_FALSE(fs::exists((*store)->BlobPath(ld) + ".partial"));
    CHECK((*store)->List()->empty());
  }
  SECTION("an interrupted download resumes with a Range request") {
    opts.abort_after_bytes = 1000;
    Result<ImageRecord> first = (*store)->Pull("fake.example/team/app:1", opts);
    REQUIRE_FALSE(first.ok());
    INFO(first.error().ToString());
    CHECK(first.error().Is(Code::kCancelled));
    CHECK(fs::file_size((*store)->BlobPath(ld) + ".partial") == 1000);
    opts.abort_after_bytes = -1;
    int64_t last_done = 0;
    opts.on_progress = [&](const PullProgress& p) { last_done = p.done; };
    Result<ImageRecord> r = (*store)->Pull("fake.example/team/app:1", opts);
    REQUIRE(r.ok());
    CHECK(srv.reg.ranged_requests == 1);
    CHECK(last_done == static_cast<int64_t>(blob.size()));
    CHECK(r->name == "fake.example/team/app:1");
    CHECK(r->manifest_digest == md);
    CHECK(r->index_digest == DigestOf(srv.reg.index_json));
    CHECK(srv.reg.token_requests >= 1);
    Result<std::vector<std::string>> dirs = (*store)->Resolve("fake.example/team/app:1");
    REQUIRE(dirs.ok());
    CHECK(Slurp((*dirs)[0] + "/data/blob") == rnd);
  }
  SECTION("a platform the index lacks is a clear error") {
    opts.architecture = "riscv64";
    Result<ImageRecord> r = (*store)->Pull("fake.example/team/app:1", opts);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("no manifest for platform linux/riscv64") != std::string::npos);
  }
  SECTION("wrong credentials are refused by the token server") {
    opts.credentials = "tester:wrong";
    Result<ImageRecord> r = (*store)->Pull("fake.example/team/app:1", opts);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().Is(Code::kUnauthorized));
  }
}

}  // namespace
}  // namespace mini8s::image
