// Pulling from a Registry HTTP API v2 endpoint: endpoint selection from registries.yaml, the
// anonymous/basic/bearer-token auth dance, manifest resolution with platform selection, and
// digest-verified, resumable blob downloads.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <openssl/evp.h>

#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/http/client.h"
#include "mini8s/image/image.h"
#include "runtime/image/internal.h"

namespace mini8s::image {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kManifestAccept[] =
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
std::string Str(const json::value& v, std::string_view key) {
  return std::string(JsonGetString(v, key).value_or(""));
}

constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Parses `Bearer realm="x",service="y",scope="z"` into scheme + parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Challenge ParseChallenge(std::string_view h) {
  Challenge c;
  size_t sp = h.find(' ');
  c.scheme = std::string(h.substr(0, sp));
  for (char& ch : c.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (sp == std::string_view::npos) return c;
  std::string_view rest = h.substr(sp + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      size_t q = rest.find('"');
      value = std::string(rest.substr(0, q));
      rest.remove_prefix(q == std::string_view::npos ? rest.size() : q + 1);
    } else {
      size_t comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma);
    }
    c.params[key] = value;
  }
  return c;
}

std::string HostOf(const std::string& url) {
  size_t s = url.find("://");
  std::string rest = s == std::string::npos ? url : url.substr(s + 3);
  return rest.substr(0, rest.find('/'));
}

// Runs one coroutine to completion on a private io_context.
template <class T>
Result<T> RunSync(asio::io_context& io, asio::awaitable<Result<T>> op) {
  std::optional<Result<T>> out;
  asio::co_spawn(
      io,
      [&out, op = std::move(op)]() mutable -> asio::awaitable<void> {
        out.emplace(co_await std::move(op));
      },
      asio::detached);
  io.restart();
  io.run();
  if (!out) return Status::Internal("registry request did not complete");
  return std::move(*out);
}

// One registry endpoint (base URL) with its client and credentials.
class Endpoint {
 public:
  static Result<std::unique_ptr<Endpoint>> Create(std::string base, std::string host,
                                                  const RegistryHostConfig* cfg,
                                                  const std::string& credentials) {
    auto ep = std::unique_ptr<Endpoint>(new Endpoint());
    ep->base_ = std::move(base);
    while (!ep->base_.empty() && ep->base_.back() == '/') ep->base_.pop_back();
    if (ep->base_.size() >= 3 && ep->base_.substr(ep->base_.size() - 3) == "/v2") {
      ep->base_.resize(ep->base_.size() - 3);
    }
    http::ClientOptions opts;
    opts.follow_redirects = true;  // blob GETs redirect to storage hosts
    opts.user_agent = "mini8s-image";
    opts.max_response_body_bytes = kMaxManifestBytes;
    if (cfg != nullptr) {
      opts.ca_file = cfg->tls.ca_file;
      opts.client_cert_file = cfg->tls.cert_file;
      opts.client_key_file = cfg->tls.key_file;
      opts.insecure_skip_verify = cfg->tls.insecure_skip_verify;
      if (!cfg->auth.auth.empty()) {
        ep->basic_ = cfg->auth.auth;
      } else if (!cfg->auth.username.empty()) {
        ep->basic_ = Base64(cfg->auth.username + ":" + cfg->auth.password);
      }
    }
    if (!credentials.empty()) ep->basic_ = Base64(credentials);
    Result<std::unique_ptr<http::Client>> client =
        http::Client::Create(ep->io_.get_executor(), opts);
    if (!client) return client.error().WithContext("registry " + host);
    ep->client_ = std::move(*client);
    return ep;
  }

  const std::string& base() const { return base_; }

  // Sends `req` (a path under base), answering an auth challenge once.
  Result<http::ClientResponse> Send(const std::string& path, http::Headers headers,
                                    const std::string& scope) {
    http::ClientRequest req;
    req.url = base_ + path;
    req.headers = headers;
    Authorize(req.headers);
    MINI8S_ASSIGN_OR_RETURN(http::ClientResponse resp, RunSync(io_, client_->Send(req)));
    if (resp.status != 401) return resp;
    MINI8S_RETURN_IF_ERROR(Authenticate(resp.headers, scope));
    req.headers = std::move(headers);
    Authorize(req.headers);
    return RunSync(io_, client_->Send(std::move(req)));
  }

  // Downloads `path` into `file` from `offset` on, calling `sink` with each chunk. Returns the
  // HTTP status of the answer (200: from the start, 206: ranged).
  Result<int> Download(const std::string& path, const std::string& scope, int64_t offset,
                       const std::function<Status(std::string_view, bool restart)>& sink) {
    std::string url = base_ + path;
    int redirects = 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
      http::ClientRequest req;
      req.url = url;
      if (offset > 0) req.headers.Set("Range", "bytes=" + std::to_string(offset) + "-");
      // Credentials stay with the registry: redirects to storage hosts go without them.
      if (HostOf(url) == HostOf(base_)) Authorize(req.headers);
      req.timeout = std::chrono::minutes(10);
      std::optional<Status> result;
      int status = 0;
      http::Headers resp_headers;
      asio::co_spawn(
          io_,
          [&]() -> asio::awaitable<void> {
            auto stream = co_await client_->OpenStream(req);
            if (!stream) {
              result = stream.error();
              co_return;
            }
            status = (*stream)->status();
            resp_headers = (*stream)->headers();
            if (status != 200 && status != 206) {
              result = Status::OK();
              co_return;
            }
            (*stream)->SetReadTimeout(std::chrono::seconds(60));
            bool first = true;
            while (true) {
              auto chunk = co_await (*stream)->ReadSome(64 * 1024);
              if (!chunk) {
                result = chunk.error();
                co_return;
              }
              if (chunk->empty()) break;
              Status s = sink(*chunk, first && status == 200);
              first = false;
              if (!s.ok()) {
                (*stream)->Close();
                result = s;
                co_return;
              }
            }
            if (first && status == 200) {
              if (Status s = sink("", true); !s.ok()) {
                result = s;
                co_return;
              }
            }
            result = Status::OK();
          },
          asio::detached);
      io_.restart();
      io_.run();
      if (!result) return Status::Internal("download did not complete");
      if (!result->ok()) return *result;
      if (status == 401 && attempt == 0 && HostOf(url) == HostOf(base_)) {
        MINI8S_RETURN_IF_ERROR(Authenticate(resp_headers, scope));
        continue;
      }
      // The streaming client does not follow redirects itself; blob GETs are usually redirected.
      if ((status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
          resp_headers.Has("Location")) {
        if (++redirects > 10) return Status::Unavailable("too many redirects for " + path);
        std::string loc = resp_headers.GetOr("Location");
        if (loc.find("://") == std::string::npos) {
          std::string origin = url.substr(0, url.find('/', url.find("://") + 3));
          loc = loc.rfind('/', 0) == 0 ? origin + loc : origin + "/" + loc;
        }
        url = loc;
        attempt = -1;  // a fresh host may challenge again
        continue;
      }
      return status;
    }
    return Status::Unauthorized("registry " + base_ + " refused the credentials");
  }

 private:
  Endpoint() = default;

  void Authorize(http::Headers& h) const {
    if (!token_.empty()) {
      h.Set("Authorization", "Bearer " + token_);
    } else if (use_basic_ && !basic_.empty()) {
      h.Set("Authorization", "Basic " + basic_);
    }
  }

  // The Docker token flow: GET realm?service=..&scope=.. (with basic credentials if we have
  // them) returns {"token": ...} or {"access_token": ...}.
  Status Authenticate(const http::Headers& headers, const std::string& scope) {
    std::string www = headers.GetOr("WWW-Authenticate");
    Challenge c = ParseChallenge(www);
    if (c.scheme == "basic") {
      if (basic_.empty() || use_basic_) {
        return Status::Unauthorized("registry " + base_ + " requires credentials" +
                                    (basic_.empty() ? "" : " (the given ones were refused)"));
      }
      use_basic_ = true;
      return Status::OK();
    }
    if (c.scheme != "bearer" || c.params["realm"].empty()) {
      return Status::Unauthorized("registry " + base_ + " answered 401 with challenge \"" + www +
                                  "\"");
    }
    std::string url = c.params["realm"];
    url += url.find('?') == std::string::npos ? "?" : "&";
    if (!c.params["service"].empty()) url += "service=" + UrlEncode(c.params["service"]) + "&";
    url += "scope=" + UrlEncode(c.params.count("scope") ? c.params["scope"] : scope);
    http::ClientRequest req;
    req.url = url;
    if (!basic_.empty()) req.headers.Set("Authorization", "Basic " + basic_);
    MINI8S_ASSIGN_OR_RETURN(http::ClientResponse resp, RunSync(io_, client_->Send(req)));
    if (resp.status != 200) {
      return Status::Unauthorized("token server " + c.params["realm"] + " answered " +
                                  std::to_string(resp.status));
    }
    Result<json::value> doc = ParseJson(resp.body);
    if (!doc) return Status::Unauthorized("token server returned a malformed answer");
    std::string token(JsonGetString(*doc, "token").value_or(""));
    if (token.empty()) token = std::string(JsonGetString(*doc, "access_token").value_or(""));
    if (token.empty()) return Status::Unauthorized("token server returned no token");
    token_ = token;
    return Status::OK();
  }

  asio::io_context io_;
  std::unique_ptr<http::Client> client_;
  std::string base_;
  std::string basic_;
  bool use_basic_ = false;
  std::string token_;
};

// k3s's endpoint order: the mirror's endpoints, then "*" mirrors, then the registry itself.
std::vector<std::string> EndpointsFor(const std::string& domain, const RegistriesConfig& cfg) {
  std::vector<std::string> out;
  auto add = [&](const std::string& key) {
    if (auto it = cfg.mirrors.find(key); it != cfg.mirrors.end()) {
      for (const std::string& e : it->second) {
        out.push_back(e.find("://") == std::string::npos ? "https://" + e : e);
      }
    }
  };
  add(domain);
  add("*");
  std::string def =
      "https://" + (domain == "docker.io" ? std::string("registry-1.docker.io") : domain);
  if (std::find(out.begin(), out.end(), def) == out.end() &&
      std::find(out.begin(), out.end(), "http://" + def.substr(8)) == out.end()) {
    out.push_back(def);
  }
  return out;
}

}  // namespace

Result<ImageRecord> Store::Pull(std::string_view ref_text, const PullOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(Reference ref, ParseReference(ref_text));
  std::string scope = "repository:" + ref.path + ":pull";
  Status last = Status::Unavailable("no endpoint for " + ref.domain);
  for (const std::string& base : EndpointsFor(ref.domain, options.registries)) {
    std::string host = HostOf(base);
    const RegistryHostConfig* cfg = nullptr;
    if (auto it = options.registries.configs.find(host); it != options.registries.configs.end()) {
      cfg = &it->second;
    } else if (auto it2 = options.registries.configs.find(ref.domain);
               it2 != options.registries.configs.end() && host == ref.domain) {
      cfg = &it2->second;
    }
    Result<std::unique_ptr<Endpoint>> ep = Endpoint::Create(base, host, cfg, options.credentials);
    if (!ep) return ep.error();
    Endpoint& e = **ep;
    std::string repo = "/v2/" + ref.path;

    // Manifest (or index) by digest when given, else by tag.
    auto fetch_manifest =
        [&](const std::string& what,
            const std::string& want_digest) -> Result<std::pair<std::string, std::string>> {
      http::Headers h;
      h.Set("Accept", kManifestAccept);
      MINI8S_ASSIGN_OR_RETURN(http::ClientResponse resp,
                              e.Send(repo + "/manifests/" + what, h, scope));
      if (resp.status == 404) {
        return Status::NotFound("image " + ref.String() + " not found on " + base);
      }
      if (resp.status == 401 || resp.status == 403) {
        return Status::Unauthorized("registry " + base + " refused access to " + ref.path);
      }
      if (resp.status != 200) {
        return Status::Unavailable("registry " + base + " answered " + std::to_string(resp.status) +
                                   " for manifest " + what);
      }
      std::string got = DigestOf(resp.body);
      if (!want_digest.empty() && got != want_digest) {
        return Status::Invalid("manifest digest mismatch from " + base + ": expected " +
                               want_digest + ", got " + got);
      }
      if (auto header = resp.headers.Get("Docker-Content-Digest");
          header && header->rfind("sha256:", 0) == 0 && *header != got) {
        return Status::Invalid("manifest digest mismatch from " + base + ": registry says " +
                               *header + ", content is " + got);
      }
      std::string media = resp.headers.GetOr("Content-Type");
      return std::make_pair(resp.body, media.substr(0, media.find(';')));
    };

    auto top = fetch_manifest(ref.digest.empty() ? ref.tag : ref.digest, ref.digest);
    if (!top) {
      last = top.error();
      // A mirror that lacks the image or is down falls through to the next endpoint.
      if (top.error().Is(Code::kNotFound) || top.error().Is(Code::kUnavailable) ||
          top.error().Is(Code::kTimeout)) {
        continue;
      }
      return last;
    }
    Result<json::value> doc = ParseJson(top->first);
    if (!doc || !doc->is_object()) {
      return Status::Invalid("registry " + base + " returned a malformed manifest for " +
                             ref.String());
    }
    std::string manifest = top->first;
    std::string index_digest;
    if (IsIndex(*doc, top->second)) {
      index_digest = DigestOf(top->first);
      std::string arch = options.architecture.empty() ? HostArchitecture() : options.architecture;
      std::string chosen;
      if (const json::array* ms = JsonGetArray(*doc, "manifests")) {
        for (const json::value& m : *ms) {
          if (Str(m, "platform.os") != options.os || Str(m, "platform.architecture") != arch) {
            continue;
          }
          if (!options.variant.empty() && Str(m, "platform.variant") != options.variant) continue;
          chosen = Str(m, "digest");
          break;
        }
      }
      if (chosen.empty()) {
        return Status::NotFound("image " + ref.String() + " has no manifest for platform " +
                                options.os + "/" + arch);
      }
      MINI8S_RETURN_IF_ERROR(ValidateDigest(chosen));
      auto inner = fetch_manifest(chosen, chosen);
      if (!inner) return inner.error();
      manifest = inner->first;
      MINI8S_RETURN_IF_ERROR(WriteFileAtomic(BlobPath(index_digest), top->first));
      doc = ParseJson(manifest);
      if (!doc || !doc->is_object()) return Status::Invalid("malformed platform manifest");
    }
    // Every blob the manifest names, config first.
    std::vector<Descriptor> blobs;
    blobs.push_back({Str(*doc, "config.mediaType"), Str(*doc, "config.digest"),
                     JsonGetInt(*doc, "config.size").value_or(-1)});
    if (const json::array* ls = JsonGetArray(*doc, "layers")) {
      for (const json::value& l : *ls) {
        blobs.push_back(
            {Str(l, "mediaType"), Str(l, "digest"), JsonGetInt(l, "size").value_or(-1)});
      }
    } else {
      return Status::Invalid("manifest of " + ref.String() +
                             " has no layers (schema 1 manifests "
                             "are not supported)");
    }
    for (const Descriptor& b : blobs) {
      MINI8S_RETURN_IF_ERROR(ValidateDigest(b.digest).WithContext("manifest"));
      std::string final_path = BlobPath(b.digest);
      if (fs::exists(final_path)) {
        if (options.on_progress) options.on_progress({b.digest, b.size, b.size, true});
        continue;  // de-duplicated: already verified in the store
      }
      std::string partial = final_path + ".partial";
      std::error_code ec;
      int64_t have = fs::exists(partial) ? static_cast<int64_t>(fs::file_size(partial, ec)) : 0;
      std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
      EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
      // Rehash what an earlier, interrupted pull left, to resume from its end.
      if (have > 0) {
        std::ifstream in(partial, std::ios::binary);
        std::vector<char> buf(1 << 20);
        while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
          EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(in.gcount()));
        }
      }
      std::FILE* f = std::fopen(partial.c_str(), "ab");
      if (f == nullptr) return Status::FromErrno(errno, "open", partial);
      int64_t done = have;
      int64_t written_now = 0;
      auto sink = [&](std::string_view chunk, bool restart) -> Status {
        if (restart && done > 0) {
          // The server ignored the Range: start over.
          if (ftruncate(fileno(f), 0) != 0) return Status::FromErrno(errno, "truncate", partial);
          std::fseek(f, 0, SEEK_SET);
          EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
          done = 0;
        }
        if (chunk.empty()) return Status::OK();
        if (options.abort_after_bytes >= 0 &&
            written_now + static_cast<int64_t>(chunk.size()) > options.abort_after_bytes) {
          chunk = chunk.substr(0, static_cast<size_t>(options.abort_after_bytes - written_now));
          std::fwrite(chunk.data(), 1, chunk.size(), f);
          return Status::Cancelled("download of " + b.digest + " interrupted (test hook)");
        }
        if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size()) {
          return Status::FromErrno(errno, "write", partial);
        }
        EVP_DigestUpdate(md.get(), chunk.data(), chunk.size());
        done += static_cast<int64_t>(chunk.size());
        written_now += static_cast<int64_t>(chunk.size());
        if (options.on_progress) options.on_progress({b.digest, done, b.size, false});
        return Status::OK();
      };
      Result<int> status = e.Download(repo + "/blobs/" + b.digest, scope, have, sink);
      std::fclose(f);
      if (!status) return status.error().WithContext("blob " + b.digest);
      if (*status == 416 && have > 0) {
        // The partial is as long as the blob (or longer): verify what we have.
      } else if (*status != 200 && *status != 206) {
        if (*status != 416) fs::remove(partial, ec);
        return Status::Unavailable("registry " + base + " answered " + std::to_string(*status) +
                                   " for blob " + b.digest);
      }
      unsigned char out[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      EVP_DigestFinal_ex(md.get(), out, &len);
      static constexpr char kHex[] = "0123456789abcdef";
      std::string got = "sha256:";
      for (unsigned int i = 0; i < len; ++i) {
        got += kHex[out[i] >> 4];
        got += kHex[out[i] & 15];
      }
      if (got != b.digest || (b.size >= 0 && done != b.size)) {
        fs::remove(partial, ec);
        return Status::Invalid("digest mismatch for blob " + b.digest + " from " + base + ": got " +
                               got + " (" + std::to_string(done) + " bytes)");
      }
      if (std::rename(partial.c_str(), final_path.c_str()) != 0) {
        return Status::FromErrno(errno, "rename", final_path);
      }
      if (options.on_progress) options.on_progress({b.digest, done, b.size, true});
    }
    return StoreImage(ref.String(), manifest, index_digest, options);
  }
  return last;
}

}  // namespace mini8s::image
