#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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
    if (e.type == AE_IFREG && !e.hardlink) archive_write_data(a, e.content.data(), e.content.size());
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
    layer_json += R"({"mediaType":")" + media + R"(","digest":")" + d +
                  R"(","size":)" + std::to_string(blob.size()) + "}";
    if (!diff_ids.empty()) diff_ids += ",";
    diff_ids += "\"" + (corrupt_diff_id ? DigestOf("nope") : DigestOf(Uncompressed(l))) + "\"";
  }
  std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},)"
                       R"("rootfs":{"type":"layers","diff_ids":[)" + diff_ids + "]}}";
  std::string cd = DigestOf(config);
  Write(dir + "/blobs/sha256/" + Hex(cd), config);
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + cd +
      R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[)" + layer_json + "]}";
  std::string md = DigestOf(manifest);
  Write(dir + "/blobs/sha256/" + Hex(md), manifest);
  Write(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Write(dir + "/index.json",
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

TEST_CASE("image layer unpack converts whiteouts and keeps links and ownership",
          "[image][unit]") {
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
  CHECK(fs::exists((*dirs)[1] + "/bin/tool"));   // base is last (lowest)
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
  CHECK(gc->snapshots_removed == 1);   // the top layer's chain
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

}  // namespace
}  // namespace mini8s::image
