// The content store, image records, layer snapshots, garbage collection and air-gapped import.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/image/image.h"
#include "runtime/image/internal.h"

namespace mini8s::image {

namespace fs = std::filesystem;
namespace json = boost::json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::FromErrno(errno, "create", tmp);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out.flush()) return Status::FromErrno(errno, "write", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "rename", tmp);
  return Status::OK();
}

std::string HostArchitecture() {
  utsname u{};
  uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.rfind("armv", 0) == 0) return "arm";
  if (m == "i686" || m == "i386") return "386";
  return m;
}

bool IsIndex(const json::value& doc, std::string_view media_type) {
  if (media_type == kOciIndex || media_type == kDockerList) return true;
  if (media_type == kOciManifest || media_type == kDockerManifest) return false;
  return JsonGetArray(doc, "manifests") != nullptr && JsonGetObject(doc, "config") == nullptr;
}

namespace {

std::string Hex(std::string_view digest) {
  size_t colon = digest.find(':');
  return std::string(colon == std::string_view::npos ? digest : digest.substr(colon + 1));
}

json::value RecordToJson(const ImageRecord& r) {
  json::array layers;
  for (const Descriptor& d : r.layers) {
    layers.push_back(
        json::object{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
  }
  json::array diff_ids(r.diff_ids.begin(), r.diff_ids.end());
  json::array chain_ids(r.chain_ids.begin(), r.chain_ids.end());
  return json::object{{"name", r.name},
                      {"manifestDigest", r.manifest_digest},
                      {"indexDigest", r.index_digest},
                      {"configDigest", r.config_digest},
                      {"layers", layers},
                      {"diffIds", diff_ids},
                      {"chainIds", chain_ids},
                      {"os", r.os},
                      {"architecture", r.architecture},
                      {"size", r.size}};
}

std::string Str(const json::value& v, std::string_view key) {
  return std::string(JsonGetString(v, key).value_or(""));
}

std::vector<std::string> StrList(const json::value& v, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = JsonGetArray(v, key)) {
    for (const json::value& e : *a) {
      if (e.is_string()) out.emplace_back(e.as_string());
    }
  }
  return out;
}

ImageRecord RecordFromJson(const json::value& v) {
  ImageRecord r;
  r.name = Str(v, "name");
  r.manifest_digest = Str(v, "manifestDigest");
  r.index_digest = Str(v, "indexDigest");
  r.config_digest = Str(v, "configDigest");
  if (const json::array* a = JsonGetArray(v, "layers")) {
    for (const json::value& l : *a) {
      r.layers.push_back(
          {Str(l, "mediaType"), Str(l, "digest"), JsonGetInt(l, "size").value_or(0)});
    }
  }
  r.diff_ids = StrList(v, "diffIds");
  r.chain_ids = StrList(v, "chainIds");
  r.os = Str(v, "os");
  r.architecture = Str(v, "architecture");
  r.size = JsonGetInt(v, "size").value_or(0);
  return r;
}

Status MkdirAll(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "mkdir", dir);
  return Status::OK();
}

// Copies `src` into the content store as `digest`, verifying it first.
Status CopyVerified(const std::string& src, const std::string& digest, const std::string& dest) {
  MINI8S_RETURN_IF_ERROR(ValidateDigest(digest));
  if (fs::exists(dest)) return Status::OK();
  MINI8S_ASSIGN_OR_RETURN(std::string data, ReadFile(src));
  std::string got = DigestOf(data);
  if (got != digest) {
    return Status::Invalid("digest mismatch for " + src + ": expected " + digest + ", got " + got);
  }
  return WriteFileAtomic(dest, data);
}

}  // namespace

Result<RegistriesConfig> ParseRegistriesConfig(std::string_view text) {
  RegistriesConfig cfg;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root || root.IsNull()) return cfg;
    if (!root.IsMap()) return Status::Invalid("registries.yaml: top level must be a mapping");
    if (YAML::Node m = root["mirrors"]) {
      for (const auto& kv : m) {
        std::vector<std::string>& eps = cfg.mirrors[kv.first.as<std::string>()];
        if (YAML::Node e = kv.second["endpoint"]) {
          for (const auto& ep : e) eps.push_back(ep.as<std::string>());
        }
      }
    }
    if (YAML::Node c = root["configs"]) {
      for (const auto& kv : c) {
        RegistryHostConfig& h = cfg.configs[kv.first.as<std::string>()];
        if (YAML::Node a = kv.second["auth"]) {
          h.auth.username = a["username"].as<std::string>("");
          h.auth.password = a["password"].as<std::string>("");
          h.auth.auth = a["auth"].as<std::string>("");
          h.auth.identity_token = a["identity_token"].as<std::string>("");
        }
        if (YAML::Node t = kv.second["tls"]) {
          h.tls.ca_file = t["ca_file"].as<std::string>("");
          h.tls.cert_file = t["cert_file"].as<std::string>("");
          h.tls.key_file = t["key_file"].as<std::string>("");
          h.tls.insecure_skip_verify = t["insecure_skip_verify"].as<bool>(false);
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid(std::string("registries.yaml: ") + e.what());
  }
  return cfg;
}

Result<RegistriesConfig> LoadRegistriesConfig(const std::string& path) {
  if (!fs::exists(path)) return RegistriesConfig{};
  MINI8S_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Result<RegistriesConfig> cfg = ParseRegistriesConfig(text);
  if (!cfg) return cfg.error().WithContext(path);
  return cfg;
}

Store::Store(std::string root) : root_(std::move(root)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(std::string root) {
  for (const char* sub : {"/content/blobs/sha256", "/snapshots", "/tmp"}) {
    MINI8S_RETURN_IF_ERROR(MkdirAll(root + sub));
  }
  std::unique_ptr<Store> store(new Store(std::move(root)));
  MINI8S_RETURN_IF_ERROR(store->Load());
  return store;
}

std::string Store::BlobPath(std::string_view digest) const {
  return root_ + "/content/blobs/sha256/" + Hex(digest);
}

Status Store::Load() {
  std::string path = root_ + "/images.json";
  if (!fs::exists(path)) return Status::OK();
  MINI8S_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  MINI8S_ASSIGN_OR_RETURN(json::value doc, ParseJson(text));
  images_.clear();
  if (const json::array* a = JsonGetArray(doc, "images")) {
    for (const json::value& v : *a) images_.push_back(RecordFromJson(v));
  }
  return Status::OK();
}

Status Store::Save() const {
  json::array a;
  for (const ImageRecord& r : images_) a.push_back(RecordToJson(r));
  return WriteFileAtomic(root_ + "/images.json", PrettyJson(json::object{{"images", a}}));
}

void Store::Record(const ImageRecord& record) {
  for (ImageRecord& r : images_) {
    if (r.name == record.name) {
      r = record;
      return;
    }
  }
  images_.push_back(record);
}

Result<ImageRecord> Store::StoreImage(const std::string& name, const std::string& manifest_json,
                                      const std::string& index_digest, const PullOptions&) {
  Result<json::value> doc = ParseJson(manifest_json);
  if (!doc) return doc.error().WithContext("image manifest");
  ImageRecord r;
  r.name = name;
  r.manifest_digest = DigestOf(manifest_json);
  r.index_digest = index_digest;
  r.config_digest = Str(*doc, "config.digest");
  MINI8S_RETURN_IF_ERROR(ValidateDigest(r.config_digest).WithContext("manifest config"));
  const json::array* layers = JsonGetArray(*doc, "layers");
  if (layers == nullptr) return Status::Invalid("image manifest has no layers");
  for (const json::value& l : *layers) {
    Descriptor d{Str(l, "mediaType"), Str(l, "digest"), JsonGetInt(l, "size").value_or(0)};
    MINI8S_RETURN_IF_ERROR(ValidateDigest(d.digest).WithContext("manifest layer"));
    if (!fs::exists(BlobPath(d.digest))) return Status::NotFound("layer blob " + d.digest);
    r.size += d.size;
    r.layers.push_back(std::move(d));
  }
  // Keep the manifest itself so inspect and GC can see it.
  if (!fs::exists(BlobPath(r.manifest_digest))) {
    MINI8S_RETURN_IF_ERROR(WriteFileAtomic(BlobPath(r.manifest_digest), manifest_json));
  }
  MINI8S_ASSIGN_OR_RETURN(std::string config_text, ReadFile(BlobPath(r.config_digest)));
  Result<json::value> config = ParseJson(config_text);
  if (!config) return config.error().WithContext("image config");
  r.os = Str(*config, "os");
  r.architecture = Str(*config, "architecture");
  r.diff_ids = StrList(*config, "rootfs.diff_ids");
  if (r.diff_ids.size() != r.layers.size()) {
    return Status::Invalid("image config lists " + std::to_string(r.diff_ids.size()) +
                           " diff IDs for " + std::to_string(r.layers.size()) + " layers");
  }
  for (const std::string& d : r.diff_ids) {
    MINI8S_RETURN_IF_ERROR(ValidateDigest(d).WithContext("config diff_ids"));
  }
  r.chain_ids = ChainIds(r.diff_ids);
  MINI8S_RETURN_IF_ERROR(Unpack(r));
  Record(r);
  MINI8S_RETURN_IF_ERROR(Save());
  return r;
}

Status Store::Unpack(ImageRecord& r) {
  for (size_t i = 0; i < r.layers.size(); ++i) {
    std::string snap = root_ + "/snapshots/" + Hex(r.chain_ids[i]);
    if (fs::exists(snap + "/fs")) continue;  // unpacked once, shared by every image
    std::string tmp =
        root_ + "/tmp/unpack-" + Hex(r.chain_ids[i]).substr(0, 16) + "-" + std::to_string(getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    MINI8S_RETURN_IF_ERROR(MkdirAll(tmp + "/fs"));
    Result<std::string> diff_id = UnpackLayer(BlobPath(r.layers[i].digest), tmp + "/fs");
    if (diff_id && *diff_id != r.diff_ids[i]) {
      diff_id = Status::Invalid("layer " + r.layers[i].digest + " unpacks to " + *diff_id +
                                ", the config says " + r.diff_ids[i]);
    }
    if (!diff_id) {
      fs::remove_all(tmp, ec);
      return diff_id.error();
    }
    fs::permissions(tmp + "/fs", fs::perms(0755), ec);
    if (std::rename(tmp.c_str(), snap.c_str()) != 0) {
      Status s = Status::FromErrno(errno, "rename", snap);
      fs::remove_all(tmp, ec);
      return s;
    }
  }
  return Status::OK();
}

Result<std::vector<ImageRecord>> Store::List() const { return images_; }

Result<ImageRecord> Store::Get(std::string_view ref) const {
  std::string want(ref);
  for (const ImageRecord& r : images_) {
    if (r.name == want) return r;
  }
  if (Result<Reference> parsed = ParseReference(ref); parsed) {
    for (const ImageRecord& r : images_) {
      if (r.name == parsed->String()) return r;
    }
  }
  std::string prefix = want.rfind("sha256:", 0) == 0 ? want : "sha256:" + want;
  const ImageRecord* found = nullptr;
  if (want.size() >= 4) {
    for (const ImageRecord& r : images_) {
      if (r.manifest_digest.rfind(prefix, 0) == 0) {
        if (found != nullptr && found->manifest_digest != r.manifest_digest) {
          return Status::Invalid("image ID prefix \"" + want + "\" is ambiguous");
        }
        found = &r;
      }
    }
  }
  if (found != nullptr) return *found;
  return Status::NotFound("image \"" + want + "\" not found");
}

Status Store::Remove(std::string_view ref) {
  MINI8S_ASSIGN_OR_RETURN(ImageRecord r, Get(ref));
  std::erase_if(images_, [&](const ImageRecord& i) { return i.name == r.name; });
  return Save();
}

Result<GcStats> Store::GarbageCollect() {
  std::set<std::string> blobs, snaps;
  for (const ImageRecord& r : images_) {
    for (const std::string* d : {&r.manifest_digest, &r.index_digest, &r.config_digest}) {
      if (!d->empty()) blobs.insert(Hex(*d));
    }
    for (const Descriptor& l : r.layers) blobs.insert(Hex(l.digest));
    for (const std::string& c : r.chain_ids) snaps.insert(Hex(c));
  }
  GcStats stats;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ + "/content/blobs/sha256", ec)) {
    std::string name = e.path().filename().string();
    if (blobs.count(name) != 0) continue;
    stats.bytes_freed += static_cast<int64_t>(e.file_size(ec));
    fs::remove(e.path(), ec);
    ++stats.blobs_removed;
  }
  for (const auto& e : fs::directory_iterator(root_ + "/snapshots", ec)) {
    if (snaps.count(e.path().filename().string()) != 0) continue;
    fs::remove_all(e.path(), ec);
    ++stats.snapshots_removed;
  }
  for (const auto& e : fs::directory_iterator(root_ + "/tmp", ec)) fs::remove_all(e.path(), ec);
  return stats;
}

Result<std::vector<std::string>> Store::Resolve(std::string_view ref) const {
  MINI8S_ASSIGN_OR_RETURN(ImageRecord r, Get(ref));
  std::vector<std::string> dirs;
  for (auto it = r.chain_ids.rbegin(); it != r.chain_ids.rend(); ++it) {
    std::string d = root_ + "/snapshots/" + Hex(*it) + "/fs";
    if (!fs::exists(d)) return Status::NotFound("snapshot of layer " + *it + " is missing");
    dirs.push_back(d);
  }
  return dirs;
}

Result<std::string> Store::ReadConfig(std::string_view ref) const {
  MINI8S_ASSIGN_OR_RETURN(ImageRecord r, Get(ref));
  return ReadFile(BlobPath(r.config_digest));
}

Status Store::MountRootfs(std::string_view ref, const std::string& container_dir,
                          const std::string& target) const {
  MINI8S_ASSIGN_OR_RETURN(std::vector<std::string> lowers, Resolve(ref));
  MINI8S_RETURN_IF_ERROR(MkdirAll(container_dir + "/upper"));
  MINI8S_RETURN_IF_ERROR(MkdirAll(container_dir + "/work"));
  MINI8S_RETURN_IF_ERROR(MkdirAll(target));
  std::string opts = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) opts += (i ? ":" : "") + lowers[i];
  // overlayfs needs at least two lowers without an upper; with an upper one lower is fine.
  opts += ",upperdir=" + container_dir + "/upper,workdir=" + container_dir + "/work";
  if (mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) != 0) {
    return Status::FromErrno(errno, "mount overlay", target);
  }
  return Status::OK();
}

// ---- Import -------------------------------------------------------------------------------------

namespace {

struct ImportedManifest {
  std::string name;
  std::string manifest_json;
  std::string index_digest;
};

}  // namespace

Result<std::vector<ImageRecord>> Store::Import(const std::string& path,
                                               const PullOptions& options) {
  std::error_code ec;
  std::string dir = path;
  std::string tmp;
  auto cleanup = [&] {
    if (!tmp.empty()) fs::remove_all(tmp, ec);
  };
  if (!fs::is_directory(path)) {
    if (!fs::exists(path)) return Status::NotFound("import: " + path + " does not exist");
    tmp =
        root_ + "/tmp/import-" + std::to_string(getpid()) + "-" + Hex(DigestOf(path)).substr(0, 8);
    fs::remove_all(tmp, ec);
    MINI8S_RETURN_IF_ERROR(MkdirAll(tmp));
    if (Status s = ExtractArchive(path, tmp); !s.ok()) {
      cleanup();
      return s.WithContext("import");
    }
    dir = tmp;
  }
  std::vector<ImportedManifest> manifests;
  Status status;
  auto blob_in = [&](const std::string& digest) { return dir + "/blobs/sha256/" + Hex(digest); };
  if (fs::exists(dir + "/oci-layout") && fs::exists(dir + "/index.json")) {
    // OCI layout: index.json names manifests or nested indexes; names come from annotations.
    Result<std::string> text = ReadFile(dir + "/index.json");
    Result<json::value> index = text ? ParseJson(*text) : Result<json::value>(text.error());
    const json::array* ms = index ? JsonGetArray(*index, "manifests") : nullptr;
    if (ms == nullptr) status = Status::Invalid("import: index.json has no manifests");
    std::string want_arch =
        options.architecture.empty() ? HostArchitecture() : options.architecture;
    for (size_t i = 0; status.ok() && ms != nullptr && i < ms->size(); ++i) {
      const json::value& desc = (*ms)[i];
      std::string digest = Str(desc, "digest");
      std::string name;
      if (const json::object* ann = JsonGetObject(desc, "annotations")) {
        if (auto it = ann->find("io.containerd.image.name");
            it != ann->end() && it->value().is_string()) {
          name = std::string(it->value().as_string());
        } else if (auto it2 = ann->find("org.opencontainers.image.ref.name");
                   it2 != ann->end() && it2->value().is_string()) {
          std::string n(it2->value().as_string());
          // A bare tag ("1", as skopeo writes) names no repository: fall back to the digest.
          if (n.find('/') != std::string::npos) name = n;
        }
      }
      if (!options.import_name.empty()) name = options.import_name;
      if (status = ValidateDigest(digest); !status.ok()) break;
      Result<std::string> body = ReadFile(blob_in(digest));
      if (!body) {
        status = body.error();
        break;
      }
      if (DigestOf(*body) != digest) {
        status = Status::Invalid("import: digest mismatch for manifest " + digest);
        break;
      }
      Result<json::value> doc = ParseJson(*body);
      if (!doc) {
        status = doc.error();
        break;
      }
      std::string index_digest;
      std::string manifest = *body;
      if (IsIndex(*doc, Str(desc, "mediaType"))) {
        index_digest = digest;
        std::string chosen;
        for (const json::value& m : *JsonGetArray(*doc, "manifests")) {
          if (Str(m, "platform.os") == options.os && Str(m, "platform.architecture") == want_arch) {
            chosen = Str(m, "digest");
            break;
          }
        }
        if (chosen.empty()) {
          status = Status::NotFound("import: no manifest for " + options.os + "/" + want_arch);
          break;
        }
        Result<std::string> inner = ReadFile(blob_in(chosen));
        if (!inner || DigestOf(*inner) != chosen) {
          status = Status::Invalid("import: manifest " + chosen + " missing or corrupt");
          break;
        }
        manifest = *inner;
        MINI8S_RETURN_IF_ERROR(CopyVerified(blob_in(digest), digest, BlobPath(digest)));
      }
      manifests.push_back({name, manifest, index_digest});
    }
    // Copy every blob the chosen manifests reference, verifying each.
    for (size_t i = 0; status.ok() && i < manifests.size(); ++i) {
      Result<json::value> doc = ParseJson(manifests[i].manifest_json);
      if (!doc) {
        status = doc.error();
        break;
      }
      std::vector<std::string> digests{Str(*doc, "config.digest")};
      if (const json::array* ls = JsonGetArray(*doc, "layers")) {
        for (const json::value& l : *ls) digests.push_back(Str(l, "digest"));
      }
      for (const std::string& d : digests) {
        if (status = CopyVerified(blob_in(d), d, BlobPath(d)); !status.ok()) break;
      }
    }
  } else if (fs::exists(dir + "/manifest.json")) {
    // docker-archive (docker save): a config file, layer tars and RepoTags per image.
    Result<std::string> text = ReadFile(dir + "/manifest.json");
    Result<json::value> doc = text ? ParseJson(*text) : Result<json::value>(text.error());
    if (!doc || !doc->is_array()) status = Status::Invalid("import: bad manifest.json");
    for (size_t i = 0; status.ok() && i < doc->as_array().size(); ++i) {
      const json::value& entry = doc->as_array()[i];
      std::string config_path = dir + "/" + Str(entry, "Config");
      Result<std::string> config = ReadFile(config_path);
      if (!config) {
        status = config.error();
        break;
      }
      std::string config_digest = DigestOf(*config);
      if (status = WriteFileAtomic(BlobPath(config_digest), *config); !status.ok()) break;
      json::array layers;
      for (const std::string& l : StrList(entry, "Layers")) {
        Result<std::string> data = ReadFile(dir + "/" + l);
        if (!data) {
          status = data.error();
          break;
        }
        std::string d = DigestOf(*data);
        if (status = WriteFileAtomic(BlobPath(d), *data); !status.ok()) break;
        layers.push_back(json::object{{"mediaType", kDockerLayerTar},
                                      {"size", static_cast<int64_t>(data->size())},
                                      {"digest", d}});
      }
      if (!status.ok()) break;
      json::object manifest{{"schemaVersion", 2},
                            {"mediaType", kDockerManifest},
                            {"config", json::object{{"mediaType", kDockerConfig},
                                                    {"size", static_cast<int64_t>(config->size())},
                                                    {"digest", config_digest}}},
                            {"layers", layers}};
      std::vector<std::string> tags = StrList(entry, "RepoTags");
      std::string body = json::serialize(manifest);
      if (!options.import_name.empty()) tags = {options.import_name};
      if (tags.empty()) tags.push_back("");
      for (const std::string& t : tags) manifests.push_back({t, body, ""});
    }
  } else {
    status = Status::Invalid("import: " + path +
                             " is neither an OCI layout nor a docker-archive (no oci-layout + "
                             "index.json, no manifest.json)");
  }
  std::vector<ImageRecord> out;
  for (size_t i = 0; status.ok() && i < manifests.size(); ++i) {
    std::string name = manifests[i].name;
    if (!name.empty()) {
      Result<Reference> ref = ParseReference(name);
      if (!ref) {
        status = ref.error();
        break;
      }
      name = ref->String();
    } else {
      name = DigestOf(manifests[i].manifest_json);
    }
    Result<ImageRecord> r =
        StoreImage(name, manifests[i].manifest_json, manifests[i].index_digest, options);
    if (!r) {
      status = r.error();
      break;
    }
    out.push_back(*r);
  }
  cleanup();
  if (!status.ok()) return status;
  return out;
}

Result<std::vector<ImageRecord>> Store::ImportDirectory(const std::string& dir,
                                                        const PullOptions& options) {
  std::vector<ImageRecord> out;
  std::error_code ec;
  if (!fs::is_directory(dir)) return out;
  std::string seen_path = root_ + "/imported.json";
  json::object seen;
  if (Result<std::string> t = ReadFile(seen_path); t) {
    if (Result<json::value> v = ParseJson(*t); v && v->is_object()) seen = v->as_object();
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    // A file is re-imported when its size or mtime changed.
    std::string stamp = std::to_string(fs::file_size(f, ec)) + ":" +
                        std::to_string(fs::last_write_time(f, ec).time_since_epoch().count());
    if (auto it = seen.find(f.string()); it != seen.end() && it->value() == json::value(stamp)) {
      continue;
    }
    Result<std::vector<ImageRecord>> r = Import(f.string(), options);
    if (!r) {
      MINI8S_LOG(WARNING) << "image import of " << f.string() << " failed: " << r.error().message();
      continue;
    }
    seen[f.string()] = stamp;
    out.insert(out.end(), r->begin(), r->end());
  }
  MINI8S_RETURN_IF_ERROR(WriteFileAtomic(seen_path, json::serialize(seen)));
  return out;
}

}  // namespace mini8s::image
