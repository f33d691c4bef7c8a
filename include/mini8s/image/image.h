// The node's image store: pulls images from OCI distribution registries (Registry HTTP API v2),
// imports air-gapped archives (OCI layout, docker-archive), keeps blobs content-addressed and
// unpacks every layer once into an overlayfs-ready snapshot directory.
//
// On-disk layout under the store root (the CLI uses <data-dir>/agent/image-store; air-gapped
// drops are read from <data-dir>/agent/images):
//   content/blobs/sha256/<hex>           verified blobs (written as <hex>.partial, renamed after
//                                        the digest matched; a .partial left behind is resumed)
//   snapshots/<chain-id hex>/fs          one unpacked layer (overlayfs whiteouts), shared by all
//                                        images whose layer chain has the same prefix
//   images.json                          name -> manifest/config/layers record
//
// Thread-compatible: one Store per process; callers serialize Pull/Import/Remove/GC.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::image {

// A docker reference: [domain/]path[:tag][@digest], normalized the way docker and containerd do
// ("busybox" is docker.io/library/busybox:latest).
struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // empty when only a digest was given
  std::string digest;  // "sha256:<hex>" or empty

  // "docker.io/library/busybox:latest" (tag and/or digest as given).
  std::string String() const;
  // "docker.io/library/busybox".
  std::string Name() const { return domain + "/" + path; }
};

// kInvalid with a message naming the problem for anything the reference grammar rejects.
Result<Reference> ParseReference(std::string_view text);

// "sha256:<64 lowercase hex>"; kInvalid otherwise.
Status ValidateDigest(std::string_view digest);
// "sha256:" + hex of SHA-256(data).
std::string DigestOf(std::string_view data);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
};

struct ImageRecord {
  std::string name;             // normalized reference (tag or digest form)
  std::string manifest_digest;  // what `name` resolved to (the platform manifest)
  std::string index_digest;     // manifest list / index it was selected from, if any
  std::string config_digest;
  std::vector<Descriptor> layers;     // compressed blobs, base first
  std::vector<std::string> diff_ids;  // uncompressed digests from the config, base first
  std::vector<std::string> chain_ids;
  std::string os;
  std::string architecture;
  int64_t size = 0;  // sum of the layer blob sizes
};

// registries.yaml in k3s's format: mirrors (endpoint lists per registry host, "*" for all) and
// per-host configs (auth, TLS). An http:// endpoint means plain HTTP.
struct RegistryAuth {
  std::string username;
  std::string password;
  std::string auth;  // base64 user:pass
  std::string identity_token;
};
struct RegistryTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
};
struct RegistryHostConfig {
  RegistryAuth auth;
  RegistryTls tls;
};
struct RegistriesConfig {
  std::map<std::string, std::vector<std::string>> mirrors;
  std::map<std::string, RegistryHostConfig> configs;
};
// A missing file gives the empty config; a malformed one is kInvalid.
Result<RegistriesConfig> LoadRegistriesConfig(const std::string& path);
Result<RegistriesConfig> ParseRegistriesConfig(std::string_view yaml);

struct PullProgress {
  std::string digest;
  int64_t done = 0;
  int64_t total = 0;
  bool finished = false;
};

struct PullOptions {
  RegistriesConfig registries;
  std::string os = "linux";
  std::string architecture;  // empty: this machine's (amd64, arm64, ...)
  std::string variant;
  // Overrides the registries.yaml credentials for every host ("user:pass").
  std::string credentials;
  std::function<void(const PullProgress&)> on_progress;
  // Import: the name to record instead of the archive's own (RepoTags, ref.name annotation).
  std::string import_name;
  // Test hook: a blob download stops (kCancelled) after this many bytes were written, simulating
  // a dropped connection; the .partial file stays for the next pull to resume.
  int64_t abort_after_bytes = -1;
};

struct GcStats {
  int blobs_removed = 0;
  int snapshots_removed = 0;
  int64_t bytes_freed = 0;
};

class Store {
 public:
  // Creates the directories under `root` if needed.
  static Result<std::unique_ptr<Store>> Open(std::string root);
  ~Store();

  const std::string& root() const { return root_; }

  // Resolves `ref` on its registry, downloads what is missing (verifying every digest), unpacks
  // the layers and records the image under its normalized name.
  Result<ImageRecord> Pull(std::string_view ref, const PullOptions& options);

  // Imports an OCI layout (directory or tar, optionally gzip/zstd compressed) or a docker-archive
  // tarball (docker save). Images without a name annotation/RepoTag are recorded by digest.
  Result<std::vector<ImageRecord>> Import(const std::string& path, const PullOptions& options);
  // Imports every regular file in `dir` not imported before (air-gapped drops); a file that
  // fails is reported in the log and skipped.
  Result<std::vector<ImageRecord>> ImportDirectory(const std::string& dir,
                                                   const PullOptions& options);

  Result<std::vector<ImageRecord>> List() const;
  // By normalized name, short name ("busybox") or (prefix of) the manifest digest.
  Result<ImageRecord> Get(std::string_view ref) const;
  // Removes the name; blobs and snapshots go at the next GC.
  Status Remove(std::string_view ref);
  // Deletes blobs and snapshots no image references, and stale .partial downloads.
  Result<GcStats> GarbageCollect();

  // The unpacked layer directories of the image in overlayfs lowerdir order (top layer first).
  Result<std::vector<std::string>> Resolve(std::string_view ref) const;
  // The image config JSON (Env, Cmd, Entrypoint, WorkingDir, User).
  Result<std::string> ReadConfig(std::string_view ref) const;
  // Mounts an overlayfs at `target` whose lowers are the image's layers and whose upper/work dirs
  // are created under `container_dir` (a container's writable snapshot). Needs CAP_SYS_ADMIN.
  Status MountRootfs(std::string_view ref, const std::string& container_dir,
                     const std::string& target) const;

  // Path of a verified blob.
  std::string BlobPath(std::string_view digest) const;

 private:
  explicit Store(std::string root);
  Status Save() const;
  Status Load();
  Result<ImageRecord> StoreImage(const std::string& name, const std::string& manifest_json,
                                 const std::string& index_digest, const PullOptions& options);
  Status Unpack(ImageRecord& record);
  void Record(const ImageRecord& record);

  std::string root_;
  std::vector<ImageRecord> images_;
};

// Unpacks a (gzip/zstd/plain) tar layer into `dest` with overlayfs whiteouts: ".wh.x" becomes a
// 0:0 character device "x", ".wh..wh..opq" the trusted.overlay.opaque xattr. Returns the digest
// of the uncompressed tar (the layer's diff ID). Paths escaping `dest` are rejected.
Result<std::string> UnpackLayer(const std::string& blob_path, const std::string& dest);

// The OCI chain IDs of a diff ID list.
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace mini8s::image
