// Secrets encryption at rest: the EncryptionConfiguration file, AES-256-GCM, and the
// `secrets-encrypt` operations (docs/design/secrets-encryption.md).
#include "mini8s/server/encryption.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "mini8s/common/check.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/common/unique_fd.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr const char* kStageFile = "encryption-state.json";

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Unbase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --len;
  out.resize(len);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

struct CipherCtx {
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) { MINI8S_CHECK(ctx != nullptr); }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
  EVP_CIPHER_CTX* ctx;
};

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// nonce || ciphertext || tag; the storage key is authenticated data, so a value copied to
// another key's row fails to decrypt rather than reading as that key's secret.
Result<std::string> Seal(const std::string& key, std::string_view aad, std::string_view plain) {
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, kNonceBytes) != 1) return Status::Internal("aesgcm: no random nonce");
  CipherCtx c;
  int len = 0;
  if (EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, U(key), o) != 1 ||
      EVP_EncryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(c.ctx, o + kNonceBytes, &len, U(plain), static_cast<int>(plain.size())) !=
          1 ||
      EVP_EncryptFinal_ex(c.ctx, o + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, o + kNonceBytes + plain.size()) !=
          1) {
    return Status::Internal("aesgcm: encryption failed");
  }
  return out;
}

Result<std::string> Open(const std::string& key, std::string_view aad, std::string_view sealed) {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return Status::Internal("aesgcm: stored value is too short");
  }
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(n, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::string tag(sealed.substr(kNonceBytes + n));
  CipherCtx c;
  int len = 0;
  if (EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, U(key), U(sealed)) != 1 ||
      EVP_DecryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(c.ctx, o, &len, U(sealed) + kNonceBytes, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(c.ctx, o + len, &len) != 1) {
    return Status::Internal(
        "aesgcm: authentication failed (the stored value was modified or belongs to another "
        "key)");
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return Status::FromErrno(errno, "create", tmp);
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t w = ::write(fd.get(), data.data() + off, data.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write", tmp);
      }
      off += static_cast<size_t>(w);
    }
    if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "rename", tmp);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) (void)::fsync(dfd.get());
  return Status::OK();
}

Result<std::optional<std::string>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::FromErrno(errno, "open", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>(ss.str());
}

std::string StagePath(const std::string& data_dir) {
  return data_dir + "/server/cred/" + kStageFile;
}

bool InMasters(const UserInfo& u) {
  return std::find(u.groups.begin(), u.groups.end(), "system:masters") != u.groups.end();
}

http::HttpResponse JsonStatus(int code, std::string_view message) {
  json::object o{{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"status", code < 400 ? "Success" : "Failure"},
                 {"message", message},
                 {"code", code}};
  return http::HttpResponse::Json(code, SerializeJson(o));
}

}  // namespace

// ---- EncryptionConfig ----

Result<EncryptionConfig> EncryptionConfig::Parse(std::string_view text) {
  auto v = ParseJson(text);
  if (!v.ok()) return Status::Invalid("encryption config: " + v.error().message());
  const json::object* root = v->if_object();
  if (root == nullptr) return Status::Invalid("encryption config: not a JSON object");
  const json::value* kind = root->if_contains("kind");
  if (kind == nullptr || !kind->is_string() || kind->as_string() != "EncryptionConfiguration") {
    return Status::Invalid("encryption config: kind is not EncryptionConfiguration");
  }
  const json::value* resources = root->if_contains("resources");
  if (resources == nullptr || !resources->is_array()) {
    return Status::Invalid("encryption config: no resources");
  }
  for (const json::value& r : resources->as_array()) {
    const json::object* ro = r.if_object();
    if (ro == nullptr) continue;
    const json::value* names = ro->if_contains("resources");
    if (names == nullptr || !names->is_array()) continue;
    bool secrets = false;
    for (const json::value& n : names->as_array()) {
      secrets =
          secrets || (n.is_string() && (n.as_string() == "secrets" || n.as_string() == "secrets." ||
                                        n.as_string() == "*." || n.as_string() == "*.*"));
    }
    if (!secrets) continue;
    const json::value* providers = ro->if_contains("providers");
    if (providers == nullptr || !providers->is_array() || providers->as_array().empty()) {
      return Status::Invalid("encryption config: secrets have no providers");
    }
    EncryptionConfig c;
    bool first = true;
    bool seen_aes = false;
    for (const json::value& p : providers->as_array()) {
      const json::object* po = p.if_object();
      if (po == nullptr || po->size() != 1) {
        return Status::Invalid("encryption config: a provider must name exactly one type");
      }
      const auto& [type, body] = *po->begin();
      if (type == "identity") {
        if (first) c.enabled = false;
      } else if (type == "aesgcm") {
        if (seen_aes) return Status::Invalid("encryption config: more than one aesgcm provider");
        seen_aes = true;
        if (first) c.enabled = true;
        const json::value* keys = body.is_object() ? body.as_object().if_contains("keys") : nullptr;
        if (keys == nullptr || !keys->is_array() || keys->as_array().empty()) {
          return Status::Invalid("encryption config: aesgcm provider has no keys");
        }
        for (const json::value& k : keys->as_array()) {
          const json::object* ko = k.if_object();
          const json::value* name = ko ? ko->if_contains("name") : nullptr;
          const json::value* secret = ko ? ko->if_contains("secret") : nullptr;
          if (name == nullptr || !name->is_string() || name->as_string().empty() ||
              secret == nullptr || !secret->is_string()) {
            return Status::Invalid("encryption config: an aesgcm key needs a name and a secret");
          }
          auto raw = Unbase64(secret->as_string());
          if (!raw || raw->size() != kKeyBytes) {
            return Status::Invalid("encryption config: key \"" + std::string(name->as_string()) +
                                   "\": secret is not 32 base64-encoded bytes");
          }
          const std::string key_name(name->as_string());
          if (key_name.find(':') != std::string::npos) {
            return Status::Invalid("encryption config: key name \"" + key_name + "\" contains ':'");
          }
          for (const EncryptionKey& e : c.keys) {
            if (e.name == key_name) {
              return Status::Invalid("encryption config: duplicate key name \"" + key_name + "\"");
            }
          }
          c.keys.push_back(EncryptionKey{key_name, std::move(*raw)});
        }
      } else {
        return Status::Invalid("encryption config: provider \"" + std::string(type) +
                               "\" is not supported (aesgcm and identity are)");
      }
      first = false;
    }
    if (c.enabled && c.keys.empty()) return Status::Invalid("encryption config: no keys");
    return c;
  }
  return Status::Invalid("encryption config: no entry for secrets");
}

std::string EncryptionConfig::Serialize() const {
  json::array keys_json;
  for (const EncryptionKey& k : keys) {
    keys_json.push_back(json::object{{"name", k.name}, {"secret", Base64(k.secret)}});
  }
  json::array providers;
  json::object aes{{"aesgcm", json::object{{"keys", std::move(keys_json)}}}};
  json::object identity{{"identity", json::object()}};
  if (enabled) {
    providers.push_back(std::move(aes));
    providers.push_back(std::move(identity));
  } else {
    providers.push_back(std::move(identity));
    if (!keys.empty()) providers.push_back(std::move(aes));
  }
  json::object root{{"kind", "EncryptionConfiguration"},
                    {"apiVersion", "apiserver.config.k8s.io/v1"},
                    {"resources", json::array{json::object{{"resources", json::array{"secrets"}},
                                                           {"providers", std::move(providers)}}}}};
  return PrettyJson(root) + "\n";
}

EncryptionKey EncryptionConfig::NewKey() const {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H-%M-%SZ", &tm);
  std::string name = std::string("aesgcmkey-") + buf;
  for (int i = 2;; ++i) {
    bool taken = false;
    for (const EncryptionKey& k : keys) taken = taken || k.name == name;
    if (!taken) break;
    name = std::string("aesgcmkey-") + buf + "-" + std::to_string(i);
  }
  std::string secret(kKeyBytes, '\0');
  MINI8S_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), kKeyBytes) == 1)
      << "no random bytes for an encryption key";
  return EncryptionKey{std::move(name), std::move(secret)};
}

std::string EncryptionConfigPath(const std::string& data_dir) {
  return data_dir + "/server/cred/encryption-config.json";
}

// ---- SecretsTransformer ----

SecretsTransformer::SecretsTransformer(EncryptionConfig config)
    : config_(std::make_shared<const EncryptionConfig>(std::move(config))) {}

void SecretsTransformer::SetConfig(EncryptionConfig config) {
  auto next = std::make_shared<const EncryptionConfig>(std::move(config));
  std::lock_guard lock(mu_);
  config_ = std::move(next);
}

std::shared_ptr<const EncryptionConfig> SecretsTransformer::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

bool SecretsTransformer::Applies(std::string_view key) const {
  return key.substr(0, kSecretsStoragePrefix.size()) == kSecretsStoragePrefix;
}

Result<std::string> SecretsTransformer::ToStorage(std::string_view key,
                                                  std::string_view value) const {
  // A value no key could read is kept as stored (never re-wrapped, never lost).
  if (value.substr(0, 8) == "k8s:enc:") return std::string(value);
  auto c = config();
  if (!c->enabled || c->keys.empty()) return std::string(value);
  const EncryptionKey& k = c->keys.front();
  MINI8S_ASSIGN_OR_RETURN(std::string sealed, Seal(k.secret, key, value));
  std::string out;
  out.reserve(kEncryptedValuePrefix.size() + k.name.size() + 1 + sealed.size());
  out.append(kEncryptedValuePrefix).append(k.name).append(":").append(sealed);
  return out;
}

Result<std::string> SecretsTransformer::FromStorage(std::string_view key, std::string_view stored,
                                                    bool* stale) const {
  auto c = config();
  if (stored.substr(0, kEncryptedValuePrefix.size()) != kEncryptedValuePrefix) {
    if (stored.substr(0, 8) == "k8s:enc:") {
      return Status::Internal("no matching prefix found: \"" + std::string(key) +
                              "\" was written by a provider mini8s does not have");
    }
    // identity: plaintext from before encryption was enabled.
    if (stale) *stale = c->enabled && !c->keys.empty();
    return std::string(stored);
  }
  std::string_view rest = stored.substr(kEncryptedValuePrefix.size());
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return Status::Internal("malformed encrypted value for \"" + std::string(key) + "\"");
  }
  const std::string_view name = rest.substr(0, colon);
  for (size_t i = 0; i < c->keys.size(); ++i) {
    if (c->keys[i].name != name) continue;
    MINI8S_ASSIGN_OR_RETURN(std::string plain,
                            Open(c->keys[i].secret, key, rest.substr(colon + 1)));
    if (stale) *stale = !c->enabled || i != 0;
    return plain;
  }
  return Status::Internal("no matching key: \"" + std::string(key) + "\" is encrypted with key \"" +
                          std::string(name) + "\", which is not in the encryption configuration");
}

std::optional<std::string> UndecryptableValueError(std::string_view value) {
  if (value.substr(0, 8) != "k8s:enc:") return std::nullopt;
  std::string_view rest = value.substr(kEncryptedValuePrefix.size());
  if (value.substr(0, kEncryptedValuePrefix.size()) == kEncryptedValuePrefix) {
    const std::string_view name = rest.substr(0, rest.find(':'));
    return "unable to transform stored object: no matching key was found for the provided "
           "AES transformer (the object is encrypted with key \"" +
           std::string(name) + "\", which is not in encryption-config.json)";
  }
  return std::string("unable to transform stored object: no matching prefix found");
}

Result<std::shared_ptr<SecretsTransformer>> LoadSecretsEncryption(const std::string& data_dir,
                                                                  bool enable) {
  const std::string path = EncryptionConfigPath(data_dir);
  MINI8S_ASSIGN_OR_RETURN(auto text, ReadFile(path));
  if (!text) {
    if (!enable) return std::shared_ptr<SecretsTransformer>();
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) return Status::Internal("create " + path + ": " + ec.message());
    EncryptionConfig c;
    c.enabled = true;
    c.keys.push_back(c.NewKey());
    MINI8S_RETURN_IF_ERROR(WriteFileAtomic(path, c.Serialize()));
    MINI8S_LOG(INFO) << "secrets encryption: created " << path << " with key " << c.keys[0].name;
    return std::make_shared<SecretsTransformer>(std::move(c));
  }
  auto c = EncryptionConfig::Parse(*text);
  if (!c.ok()) return c.error().WithContext(path);
  if (enable && !c->enabled) {
    c->enabled = true;
    if (c->keys.empty()) c->keys.push_back(c->NewKey());
    MINI8S_RETURN_IF_ERROR(WriteFileAtomic(path, c->Serialize()));
  }
  return std::make_shared<SecretsTransformer>(std::move(*c));
}

// ---- EncryptionService ----

EncryptionService::EncryptionService(std::string data_dir,
                                     std::shared_ptr<SecretsTransformer> transformer,
                                     store::Store& store,
                                     std::shared_ptr<const Authenticator> authenticator)
    : data_dir_(std::move(data_dir)),
      transformer_(std::move(transformer)),
      store_(store),
      authenticator_(std::move(authenticator)),
      stage_("start") {
  auto text = ReadFile(StagePath(data_dir_));
  if (text.ok() && *text) {
    auto v = ParseJson(**text);
    if (v.ok() && v->is_object()) {
      if (const json::value* s = v->as_object().if_contains("stage"); s && s->is_string()) {
        stage_ = std::string(s->as_string());
      }
    }
  }
}

Status EncryptionService::SaveConfig(const EncryptionConfig& config) {
  return WriteFileAtomic(EncryptionConfigPath(data_dir_), config.Serialize());
}

Status EncryptionService::SaveStage(const std::string& stage) {
  MINI8S_RETURN_IF_ERROR(
      WriteFileAtomic(StagePath(data_dir_), SerializeJson(json::object{{"stage", stage}}) + "\n"));
  std::lock_guard lock(stage_mu_);
  stage_ = stage;
  return Status::OK();
}

json::object EncryptionService::StatusObject() const {
  json::object out;
  if (!transformer_) {
    out["enabled"] = false;
    out["configured"] = false;
    out["stage"] = "";
    out["keys"] = json::array();
    return out;
  }
  auto c = transformer_->config();
  out["enabled"] = c->enabled;
  out["configured"] = true;
  {
    std::lock_guard lock(stage_mu_);
    out["stage"] = stage_;
  }
  out["configHash"] = "sha256:" + Sha256Hex(c->Serialize());
  json::array keys;
  for (size_t i = 0; i < c->keys.size(); ++i) {
    keys.push_back(json::object{{"name", c->keys[i].name},
                                {"type", "AES-GCM"},
                                {"active", c->enabled && i == 0},
                                {"hash", "sha256:" + Sha256Hex(c->keys[i].secret).substr(0, 16)}});
  }
  out["keys"] = std::move(keys);
  return out;
}

Result<store::RewriteStats> EncryptionService::Reencrypt() {
  if (!transformer_) return store::RewriteStats{};
  return store_.RewriteStored(kSecretsStoragePrefix);
}

Status EncryptionService::ReencryptAndDropOldKeys() {
  MINI8S_RETURN_IF_ERROR(SaveStage("reencrypt_active"));
  auto stats = Reencrypt();
  if (!stats.ok()) return stats.error().WithContext("re-encrypt secrets");
  if (stats->failed > 0) {
    // Old keys stay: something still needs one of them, or a key is missing altogether.
    return Status::Internal("re-encrypt secrets: " + std::to_string(stats->failed) +
                            " stored values could not be read (first: " + stats->first_error +
                            "); keys were kept");
  }
  MINI8S_LOG(INFO) << "secrets encryption: re-encrypted " << stats->rewritten << " of "
                   << stats->examined << " stored secret values";
  EncryptionConfig c = *transformer_->config();
  if (c.enabled && c.keys.size() > 1) {
    c.keys.resize(1);
  } else if (!c.enabled) {
    c.keys.clear();  // everything is plaintext now
  }
  MINI8S_RETURN_IF_ERROR(SaveConfig(c));
  transformer_->SetConfig(std::move(c));
  return SaveStage("reencrypt_finished");
}

Result<json::object> EncryptionService::Run(std::string_view command) {
  std::lock_guard lock(op_mu_);
  return RunLocked(command);
}

Result<json::object> EncryptionService::RunLocked(std::string_view command) {
  if (!transformer_) {
    return Status::Invalid(
        "secrets encryption is not set up: start the server with --secrets-encryption");
  }
  std::string stage;
  {
    std::lock_guard lock(stage_mu_);
    stage = stage_;
  }
  const bool rest = stage == "start" || stage == "reencrypt_finished";
  auto wrong_stage = [&](std::string_view want) {
    return Status::Invalid("cannot " + std::string(command) + ": the rotation stage is " + stage +
                           ", expected " + std::string(want));
  };
  EncryptionConfig c = *transformer_->config();
  if (command == "prepare") {
    if (!rest) return wrong_stage("start or reencrypt_finished");
    if (!c.enabled) return Status::Invalid("cannot prepare: secrets encryption is disabled");
    // Known for reading first, so every server can read values the new key will write.
    c.keys.insert(c.keys.begin() + 1, c.NewKey());
    MINI8S_RETURN_IF_ERROR(SaveConfig(c));
    transformer_->SetConfig(std::move(c));
    MINI8S_RETURN_IF_ERROR(SaveStage("prepare"));
  } else if (command == "rotate") {
    if (stage != "prepare") return wrong_stage("prepare");
    if (c.keys.size() < 2) return Status::Internal("rotate: no prepared key");
    std::swap(c.keys[0], c.keys[1]);
    MINI8S_RETURN_IF_ERROR(SaveConfig(c));
    transformer_->SetConfig(std::move(c));
    MINI8S_RETURN_IF_ERROR(SaveStage("rotate"));
  } else if (command == "reencrypt") {
    if (stage == "prepare") return wrong_stage("rotate (or start/reencrypt_finished)");
    MINI8S_RETURN_IF_ERROR(ReencryptAndDropOldKeys());
  } else if (command == "rotate-keys") {
    if (!rest) return wrong_stage("start or reencrypt_finished");
    if (!c.enabled) return Status::Invalid("cannot rotate keys: secrets encryption is disabled");
    c.keys.insert(c.keys.begin(), c.NewKey());
    MINI8S_RETURN_IF_ERROR(SaveConfig(c));
    transformer_->SetConfig(std::move(c));
    MINI8S_RETURN_IF_ERROR(ReencryptAndDropOldKeys());
  } else if (command == "enable" || command == "disable") {
    const bool enable = command == "enable";
    if (c.enabled != enable) {
      c.enabled = enable;
      if (enable && c.keys.empty()) c.keys.push_back(c.NewKey());
      MINI8S_RETURN_IF_ERROR(SaveConfig(c));
      transformer_->SetConfig(std::move(c));
    }
    MINI8S_RETURN_IF_ERROR(ReencryptAndDropOldKeys());
  } else {
    return Status::Invalid("unknown secrets-encrypt command \"" + std::string(command) +
                           "\" (status, prepare, rotate, reencrypt, rotate-keys, enable, disable)");
  }
  MINI8S_LOG(INFO) << "secrets encryption: " << command << " done";
  return StatusObject();
}

http::HttpResponse EncryptionService::Handle(const http::HttpRequest& request) {
  auto user = authenticator_->Authenticate(request);
  if (!user.ok() || !user->has_value()) return JsonStatus(401, "Unauthorized");
  if (!InMasters(**user)) {
    return JsonStatus(403, "User \"" + (*user)->name +
                               "\" cannot manage secrets encryption (system:masters only)");
  }
  const std::string_view what = std::string_view(request.path).substr(kEncryptPathPrefix.size());
  if (what == "status") {
    if (request.method != "GET") return JsonStatus(405, "use GET for status");
    return http::HttpResponse::Json(200, SerializeJson(StatusObject()));
  }
  if (request.method != "POST" && request.method != "PUT") {
    return JsonStatus(405, "use POST for secrets-encrypt commands");
  }
  auto r = Run(what);
  if (!r.ok()) {
    return JsonStatus(r.error().Is(Code::kInvalid) ? 400 : 500, r.error().message());
  }
  MINI8S_LOG(INFO) << "secrets encryption: " << what << " by " << (*user)->name;
  return http::HttpResponse::Json(200, SerializeJson(*r));
}

}  // namespace mini8s::server
