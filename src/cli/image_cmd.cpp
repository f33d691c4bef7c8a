// `mini8s image`: pull, import, list, remove, inspect and garbage-collect the node's images.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "mini8s/common/json.h"
#include "mini8s/image/image.h"

namespace mini8s::cli {
namespace {

namespace img = mini8s::image;

constexpr char kUsage[] =
    "Usage: mini8s image [--data-dir DIR] <command> [flags] [args]\n"
    "\n"
    "Commands:\n"
    "  pull [--platform OS/ARCH] [--creds USER:PASS] REF   pull from a registry\n"
    "  import [--name REF] [FILE|DIR]   import an OCI layout or docker-archive (docker save);\n"
    "                                   without FILE, new files in DIR/agent/images\n"
    "  ls [--quiet]                     list images\n"
    "  rm REF...                        remove images (blobs go at the next gc)\n"
    "  inspect REF                      print the image record and config as JSON\n"
    "  gc                               delete unreferenced blobs and snapshots\n"
    "  rootfs REF                       print the unpacked layer dirs, top first\n"
    "  mount REF DIR                    mount an overlayfs rootfs at DIR/rootfs (upper and\n"
    "                                   work dirs in DIR), for a container bundle\n"
    "\n"
    "Flags:\n"
    "  --data-dir DIR   mini8s data directory (default /var/lib/mini8s); the store is\n"
    "                   DIR/agent/image-store, registries.yaml is DIR/agent/etc/registries.yaml\n";

int Fail(const std::string& cmd, const Status& s) {
  std::fprintf(stderr, "mini8s image %s: %s\n", cmd.c_str(), s.message().c_str());
  return 1;
}

std::string Short(const std::string& digest) {
  return digest.size() > 19 ? digest.substr(7, 12) : digest;
}

std::string HumanSize(int64_t n) {
  char buf[32];
  if (n >= 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1fMiB", static_cast<double>(n) / (1024.0 * 1024.0));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1fKiB", static_cast<double>(n) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(n));
  }
  return buf;
}

}  // namespace

int RunImage(const Args& args) {
  std::string data_dir = "/var/lib/mini8s";
  std::string platform, creds, name;
  bool quiet = false;
  int64_t abort_after = -1;
  std::vector<std::string> pos;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) -> bool {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        out = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    auto is = [&](const char* flag) {
      return a == flag || a.rfind(std::string(flag) + "=", 0) == 0;
    };
    if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else if (is("--data-dir")) {
      if (!value(data_dir)) return UsageError("image", "--data-dir needs a value");
    } else if (is("--platform")) {
      if (!value(platform)) return UsageError("image", "--platform needs a value");
    } else if (is("--creds")) {
      if (!value(creds)) return UsageError("image", "--creds needs a value");
    } else if (is("--name")) {
      if (!value(name)) return UsageError("image", "--name needs a value");
    } else if (is("--abort-after-bytes")) {
      // Hidden test hook: interrupt the first blob download after N bytes.
      std::string n;
      if (!value(n)) return UsageError("image", "--abort-after-bytes needs a value");
      abort_after = std::atoll(n.c_str());
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("image", "unknown flag " + a);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) return UsageError("image", "missing command");
  std::string cmd = pos[0];
  pos.erase(pos.begin());

  img::PullOptions opts;
  if (!platform.empty()) {
    size_t s = platform.find('/');
    if (s == std::string::npos) return UsageError("image", "--platform must be OS/ARCH[/VARIANT]");
    opts.os = platform.substr(0, s);
    std::string rest = platform.substr(s + 1);
    size_t v = rest.find('/');
    opts.architecture = rest.substr(0, v);
    if (v != std::string::npos) opts.variant = rest.substr(v + 1);
  }
  opts.credentials = creds;
  opts.import_name = name;
  opts.abort_after_bytes = abort_after;
  Result<img::RegistriesConfig> reg =
      img::LoadRegistriesConfig(data_dir + "/agent/etc/registries.yaml");
  if (!reg) return Fail(cmd, reg.error());
  opts.registries = *reg;

  if (cmd != "pull" && cmd != "import" && cmd != "ls" && cmd != "list" && cmd != "rm" &&
      cmd != "inspect" && cmd != "gc" && cmd != "rootfs" && cmd != "mount") {
    return UsageError("image", "unknown command \"" + cmd + "\"");
  }
  if ((cmd == "pull" || cmd == "inspect" || cmd == "rootfs") && pos.size() != 1) {
    return UsageError("image", cmd + " takes exactly one argument");
  }
  if (cmd == "pull") {
    // Validate before creating anything on disk.
    if (Result<img::Reference> r = img::ParseReference(pos[0]); !r) return Fail(cmd, r.error());
  }
  Result<std::unique_ptr<img::Store>> store = img::Store::Open(data_dir + "/agent/image-store");
  if (!store) return Fail(cmd, store.error());
  img::Store& st = **store;

  if (cmd == "pull") {
    bool tty = isatty(STDERR_FILENO) != 0;
    if (tty) {
      opts.on_progress = [](const img::PullProgress& p) {
        std::fprintf(stderr, "\r%s: %s / %s%s", Short(p.digest).c_str(), HumanSize(p.done).c_str(),
                     p.total >= 0 ? HumanSize(p.total).c_str() : "?",
                     p.finished ? " done\n" : "   ");
        std::fflush(stderr);
      };
    }
    Result<img::ImageRecord> r = st.Pull(pos[0], opts);
    if (!r) return Fail(cmd, r.error());
    std::printf("%s %s\n", r->name.c_str(), r->manifest_digest.c_str());
    return 0;
  }
  if (cmd == "import") {
    if (pos.size() > 1) return UsageError("image", "import takes at most one file");
    // Without a file: the air-gapped drop directory, as the agent does at start.
    Result<std::vector<img::ImageRecord>> r =
        pos.empty() ? st.ImportDirectory(data_dir + "/agent/images", opts)
                    : st.Import(pos[0], opts);
    if (!r) return Fail(cmd, r.error());
    for (const img::ImageRecord& i : *r) {
      std::printf("%s %s\n", i.name.c_str(), i.manifest_digest.c_str());
    }
    return 0;
  }
  if (cmd == "ls" || cmd == "list") {
    Result<std::vector<img::ImageRecord>> r = st.List();
    if (!r) return Fail(cmd, r.error());
    if (!quiet) std::printf("%-50s %-14s %-12s %s\n", "IMAGE", "ID", "PLATFORM", "SIZE");
    for (const img::ImageRecord& i : *r) {
      if (quiet) {
        std::printf("%s\n", i.name.c_str());
      } else {
        std::printf("%-50s %-14s %-12s %s\n", i.name.c_str(), Short(i.manifest_digest).c_str(),
                    (i.os + "/" + i.architecture).c_str(), HumanSize(i.size).c_str());
      }
    }
    return 0;
  }
  if (cmd == "rm") {
    if (pos.empty()) return UsageError("image", "rm needs at least one image");
    int rc = 0;
    for (const std::string& p : pos) {
      if (Status s = st.Remove(p); !s.ok()) {
        rc = Fail(cmd, s);
      } else {
        std::printf("Deleted: %s\n", p.c_str());
      }
    }
    return rc;
  }
  if (cmd == "inspect") {
    Result<img::ImageRecord> r = st.Get(pos[0]);
    if (!r) return Fail(cmd, r.error());
    Result<std::string> config = st.ReadConfig(pos[0]);
    if (!config) return Fail(cmd, config.error());
    boost::json::object o;
    o["name"] = r->name;
    o["id"] = r->manifest_digest;
    if (!r->index_digest.empty()) o["index"] = r->index_digest;
    o["configDigest"] = r->config_digest;
    o["os"] = r->os;
    o["architecture"] = r->architecture;
    o["size"] = r->size;
    boost::json::array layers;
    for (const img::Descriptor& d : r->layers) {
      layers.push_back(
          boost::json::object{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
    }
    o["layers"] = layers;
    if (Result<boost::json::value> c = ParseJson(*config); c) o["config"] = *c;
    std::printf("%s\n", PrettyJson(o).c_str());
    return 0;
  }
  if (cmd == "mount") {
    if (pos.size() != 2) return UsageError("image", "mount takes REF and CONTAINER_DIR");
    Status s = st.MountRootfs(pos[0], pos[1], pos[1] + "/rootfs");
    if (!s.ok()) return Fail(cmd, s);
    std::printf("%s/rootfs\n", pos[1].c_str());
    return 0;
  }
  if (cmd == "rootfs") {
    Result<std::vector<std::string>> dirs = st.Resolve(pos[0]);
    if (!dirs) return Fail(cmd, dirs.error());
    for (const std::string& d : *dirs) std::printf("%s\n", d.c_str());
    return 0;
  }
  Result<img::GcStats> gc = st.GarbageCollect();
  if (!gc) return Fail(cmd, gc.error());
  std::printf("removed %d blobs, %d snapshots, %s\n", gc->blobs_removed, gc->snapshots_removed,
              HumanSize(gc->bytes_freed).c_str());
  return 0;
}

}  // namespace mini8s::cli
