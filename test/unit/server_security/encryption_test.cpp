// Secrets encryption at rest: the AES-GCM transformer, the EncryptionConfiguration file, and the
// store with the transformer (SQLite holds ciphertext; reads and watches see plaintext).

#include "mini8s/server/encryption.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "mini8s/store/sqlite_store.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

const std::string kKey = "/registry/core/secrets/default/s";
const std::string kValue = R"({"kind":"Secret","data":{"password":"U1VQRVJTRUNSRVQ="}})";

EncryptionConfig OneKey() {
  EncryptionConfig c;
  c.keys.push_back(c.NewKey());
  return c;
}

// Every byte of the database files (db and WAL), as `grep -a` would see them.
std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RawValue(const std::string& db_path, const std::string& key) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM kine WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                             -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
               static_cast<size_t>(sqlite3_column_bytes(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST_CASE("encryption: a value round-trips through AES-GCM with the upstream prefix",
          "[encryption][unit]") {
  SecretsTransformer t(OneKey());
  auto stored = t.ToStorage(kKey, kValue);
  REQUIRE(stored.ok());
  const std::string prefix = "k8s:enc:aesgcm:v1:" + t.config()->keys[0].name + ":";
  CHECK(stored->rfind(prefix, 0) == 0);
  CHECK(stored->find("U1VQRVJTRUNSRVQ") == std::string::npos);
  CHECK(stored->size() == prefix.size() + 12 + kValue.size() + 16);
  bool stale = true;
  auto back = t.FromStorage(kKey, *stored, &stale);
  REQUIRE(back.ok());
  CHECK(*back == kValue);
  CHECK_FALSE(stale);
  // A fresh nonce each time.
  CHECK(*t.ToStorage(kKey, kValue) != *stored);
  CHECK(t.Applies(kKey));
  CHECK_FALSE(t.Applies("/registry/core/configmaps/default/s"));
}

TEST_CASE("encryption: a modified ciphertext or a value moved to another key fails to decrypt",
          "[encryption][unit]") {
  SecretsTransformer t(OneKey());
  std::string stored = *t.ToStorage(kKey, kValue);
  std::string tampered = stored;
  tampered[tampered.size() - 20] ^= 0x01;
  bool stale = false;
  auto r = t.FromStorage(kKey, tampered, &stale);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("authentication failed") != std::string::npos);
  auto moved = t.FromStorage("/registry/core/secrets/default/other", stored, &stale);
  CHECK_FALSE(moved.ok());
  std::string truncated = stored.substr(0, stored.size() - 1);
  CHECK_FALSE(t.FromStorage(kKey, truncated, &stale).ok());
}

TEST_CASE("encryption: a value under an unknown key is a no-matching-key error, kept as stored",
          "[encryption][unit]") {
  SecretsTransformer a(OneKey());
  std::string stored = *a.ToStorage(kKey, kValue);
  EncryptionConfig other = OneKey();
  other.keys[0].name = "otherkey";
  SecretsTransformer b(other);
  bool stale = false;
  auto r = b.FromStorage(kKey, stored, &stale);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("no matching key") != std::string::npos);
  // Never re-wrapped: writing it back keeps the bytes (no data loss, no double encryption).
  CHECK(*b.ToStorage(kKey, stored) == stored);
  auto api_error = UndecryptableValueError(stored);
  REQUIRE(api_error);
  CHECK(api_error->find("no matching key") != std::string::npos);
  CHECK_FALSE(UndecryptableValueError(kValue));
}

TEST_CASE("encryption: plaintext reads through identity and is stale while encryption is on",
          "[encryption][unit]") {
  SecretsTransformer t(OneKey());
  bool stale = false;
  auto r = t.FromStorage(kKey, kValue, &stale);
  REQUIRE(r.ok());
  CHECK(*r == kValue);
  CHECK(stale);
  EncryptionConfig off = *t.config();
  off.enabled = false;
  t.SetConfig(off);
  CHECK(*t.ToStorage(kKey, kValue) == kValue);
  stale = true;
  (void)t.FromStorage(kKey, kValue, &stale);
  CHECK_FALSE(stale);
}

TEST_CASE(
    "encryption: after a rotation old-key values read and are stale; new ones use the new key",
    "[encryption][unit]") {
  EncryptionConfig c = OneKey();
  SecretsTransformer t(c);
  std::string old_stored = *t.ToStorage(kKey, kValue);
  c.keys.insert(c.keys.begin(), c.NewKey());
  REQUIRE(c.keys[0].name != c.keys[1].name);
  t.SetConfig(c);
  bool stale = false;
  auto r = t.FromStorage(kKey, old_stored, &stale);
  REQUIRE(r.ok());
  CHECK(*r == kValue);
  CHECK(stale);
  std::string new_stored = *t.ToStorage(kKey, kValue);
  CHECK(new_stored.find(c.keys[0].name) != std::string::npos);
  // Once the old key is dropped its values no longer read.
  c.keys.resize(1);
  t.SetConfig(c);
  CHECK(t.FromStorage(kKey, new_stored, &stale).ok());
  CHECK_FALSE(t.FromStorage(kKey, old_stored, &stale).ok());
}

TEST_CASE("encryption: the EncryptionConfiguration file round-trips and rejects bad keys",
          "[encryption][unit]") {
  EncryptionConfig c = OneKey();
  c.keys.push_back(c.NewKey());
  auto parsed = EncryptionConfig::Parse(c.Serialize());
  REQUIRE(parsed.ok());
  CHECK(parsed->enabled);
  REQUIRE(parsed->keys.size() == 2);
  CHECK(parsed->keys[0].name == c.keys[0].name);
  CHECK(parsed->keys[1].secret == c.keys[1].secret);
  CHECK(c.Serialize().find("\"identity\"") != std::string::npos);
  c.enabled = false;
  auto off = EncryptionConfig::Parse(c.Serialize());
  REQUIRE(off.ok());
  CHECK_FALSE(off->enabled);

  auto bad = EncryptionConfig::Parse(R"({"kind":"EncryptionConfiguration","resources":[
    {"resources":["secrets"],"providers":[{"aesgcm":{"keys":[{"name":"k","secret":"c2hvcnQ="}]}}]}]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("32") != std::string::npos);
  CHECK_FALSE(EncryptionConfig::Parse(R"({"kind":"EncryptionConfiguration","resources":[
    {"resources":["secrets"],"providers":[{"kms":{}}]}]})")
                  .ok());
  CHECK_FALSE(EncryptionConfig::Parse("{}").ok());
}

TEST_CASE("encryption: LoadSecretsEncryption creates the config only when enabling",
          "[encryption][unit]") {
  testutil::TempDir dir;
  auto none = LoadSecretsEncryption(dir.path(), false);
  REQUIRE(none.ok());
  CHECK(*none == nullptr);
  auto created = LoadSecretsEncryption(dir.path(), true);
  REQUIRE(created.ok());
  REQUIRE(*created != nullptr);
  const std::string name = (*created)->config()->keys.at(0).name;
  auto again = LoadSecretsEncryption(dir.path(), false);
  REQUIRE(again.ok());
  REQUIRE(*again != nullptr);
  CHECK((*again)->config()->keys.at(0).name == name);
  CHECK((*again)->config()->enabled);
}

TEST_CASE(
    "encryption: the store keeps plaintext in memory and ciphertext in SQLite, across "
    "rotation, re-encryption and reopen",
    "[encryption][unit]") {
  testutil::TempDir dir;
  const std::string db = dir.File("state.db");
  const std::string secret = R"({"data":{"password":"SUPERSECRETVALUE"}})";
  const std::string plain_cm = R"({"data":{"x":"VISIBLECONFIG"}})";
  auto t = std::make_shared<SecretsTransformer>(OneKey());
  store::StoreOptions opts;
  opts.background_maintenance = false;
  opts.transformer = t;
  auto st = store::SqliteStore::Open(db, opts);
  REQUIRE(st.ok());
  store::Store& s = **st;
  auto watch = s.Watch(kSecretsStoragePrefix, 0);
  REQUIRE(watch.ok());
  REQUIRE(s.Create(kKey, secret).ok());
  REQUIRE(s.Create("/registry/core/configmaps/default/c", plain_cm).ok());
  CHECK(*s.Get(kKey)->value == secret);
  auto ev = (*watch)->Next(std::chrono::seconds(5));
  REQUIRE(ev.ok());
  REQUIRE(*ev != nullptr);
  CHECK(*(*ev)->value == secret);
  const std::string first_key = t->config()->keys[0].name;
  CHECK(RawValue(db, kKey).rfind("k8s:enc:aesgcm:v1:" + first_key + ":", 0) == 0);
  CHECK(RawValue(db, "/registry/core/configmaps/default/c") == plain_cm);
  CHECK(FileBytes(db + "-wal").find("SUPERSECRETVALUE") == std::string::npos);
  CHECK(FileBytes(db).find("SUPERSECRETVALUE") == std::string::npos);

  // Rotation: the new key writes, the old still reads; RewriteStored moves every row over.
  EncryptionConfig c = *t->config();
  c.keys.insert(c.keys.begin(), c.NewKey());
  t->SetConfig(c);
  const store::Revision rev_before = s.CurrentRevision();
  auto rw = s.RewriteStored(kSecretsStoragePrefix);
  REQUIRE(rw.ok());
  CHECK(rw->examined == 1);
  CHECK(rw->rewritten == 1);
  CHECK(rw->failed == 0);
  CHECK(s.CurrentRevision() == rev_before);  // no new revision, no event
  CHECK(*(*watch)->TryNext() == nullptr);
  CHECK(RawValue(db, kKey).rfind("k8s:enc:aesgcm:v1:" + c.keys[0].name + ":", 0) == 0);
  c.keys.resize(1);
  t->SetConfig(c);
  CHECK(s.RewriteStored(kSecretsStoragePrefix)->rewritten == 0);
  (*watch)->Stop();
  s.Close();

  // Reopen with the new key only: plaintext again in memory.
  auto t2 = std::make_shared<SecretsTransformer>(c);
  opts.transformer = t2;
  auto st2 = store::SqliteStore::Open(db, opts);
  REQUIRE(st2.ok());
  CHECK(*(*st2)->Get(kKey)->value == secret);
  (*st2)->Close();

  // Reopen with an unrelated key: the value is kept as stored (no loss) and reads report it.
  EncryptionConfig unrelated = OneKey();
  unrelated.keys[0].name = "unrelated";
  auto t3 = std::make_shared<SecretsTransformer>(unrelated);
  opts.transformer = t3;
  auto st3 = store::SqliteStore::Open(db, opts);
  REQUIRE(st3.ok());
  const std::string kept = *(*st3)->Get(kKey)->value;
  CHECK(kept.rfind("k8s:enc:aesgcm:v1:" + c.keys[0].name + ":", 0) == 0);
  auto err = UndecryptableValueError(kept);
  REQUIRE(err);
  CHECK(err->find("no matching key") != std::string::npos);
  auto rw3 = (*st3)->RewriteStored(kSecretsStoragePrefix);
  REQUIRE(rw3.ok());
  CHECK(rw3->failed == 1);
  CHECK(rw3->first_error.find("no matching key") != std::string::npos);
}

TEST_CASE("encryption: enabling on a store with plaintext secrets encrypts them in place",
          "[encryption][unit]") {
  testutil::TempDir dir;
  const std::string db = dir.File("state.db");
  const std::string secret = R"({"data":{"password":"OLDPLAINTEXTVALUE"}})";
  store::StoreOptions opts;
  opts.background_maintenance = false;
  {
    auto st = store::SqliteStore::Open(db, opts);
    REQUIRE(st.ok());
    REQUIRE((*st)->Create(kKey, secret).ok());
    REQUIRE((*st)->Update(kKey, secret, 0).ok());  // a historical row too
    (*st)->Close();
  }
  CHECK(RawValue(db, kKey) == secret);
  auto t = std::make_shared<SecretsTransformer>(OneKey());
  opts.transformer = t;
  auto st = store::SqliteStore::Open(db, opts);
  REQUIRE(st.ok());
  CHECK(*(*st)->Get(kKey)->value == secret);
  auto rw = (*st)->RewriteStored(kSecretsStoragePrefix);
  REQUIRE(rw.ok());
  CHECK(rw->rewritten == 2);
  CHECK(RawValue(db, kKey).rfind("k8s:enc:aesgcm:v1:", 0) == 0);
  CHECK(FileBytes(db).find("OLDPLAINTEXTVALUE") == std::string::npos);
  CHECK(FileBytes(db + "-wal").find("OLDPLAINTEXTVALUE") == std::string::npos);
  (*st)->Close();
}

}  // namespace
}  // namespace mini8s::server

namespace mini8s::server {
namespace {

http::HttpRequest EncryptRequest(std::string method, std::string op, std::string token) {
  http::HttpRequest r;
  r.method = std::move(method);
  r.path = std::string(kEncryptPathPrefix) + op;
  r.target = r.path;
  if (!token.empty()) r.headers.Set("Authorization", "Bearer " + token);
  return r;
}

TEST_CASE("encryption: the service walks k3s's stages and only system:masters may use it",
          "[encryption][unit]") {
  testutil::TempDir dir;
  auto t = LoadSecretsEncryption(dir.path(), true);
  REQUIRE(t.ok());
  store::StoreOptions opts;
  opts.background_maintenance = false;
  opts.transformer = *t;
  auto st = store::SqliteStore::Open(dir.File("state.db"), opts);
  REQUIRE(st.ok());
  const std::string secret = R"({"data":{"password":"STAGEDVALUE"}})";
  REQUIRE((*st)->Create(kKey, secret).ok());
  std::shared_ptr<const Authenticator> authn = Authenticator::FromTokens(
      {{"admin-token", UserInfo{"admin", "", {"system:masters", "system:authenticated"}}},
       {"dev-token", UserInfo{"dev", "", {"developers", "system:authenticated"}}}});
  EncryptionService svc(dir.path(), *t, **st, authn);

  CHECK(svc.Handle(EncryptRequest("GET", "status", "")).status == 401);
  CHECK(svc.Handle(EncryptRequest("POST", "rotate-keys", "dev-token")).status == 403);
  auto status = svc.Handle(EncryptRequest("GET", "status", "admin-token"));
  REQUIRE(status.status == 200);
  CHECK(status.body.find("\"stage\":\"start\"") != std::string::npos);
  CHECK(status.body.find("\"enabled\":true") != std::string::npos);
  CHECK(svc.Handle(EncryptRequest("POST", "bogus", "admin-token")).status == 400);

  const std::string key1 = (*t)->config()->keys[0].name;
  CHECK(svc.Handle(EncryptRequest("POST", "rotate", "admin-token")).status == 400);  // not prepared
  REQUIRE(svc.Handle(EncryptRequest("POST", "prepare", "admin-token")).status == 200);
  CHECK((*t)->config()->keys.size() == 2);
  CHECK((*t)->config()->keys[0].name == key1);  // still the writer
  REQUIRE(svc.Handle(EncryptRequest("POST", "rotate", "admin-token")).status == 200);
  const std::string key2 = (*t)->config()->keys[0].name;
  CHECK(key2 != key1);
  REQUIRE(svc.Handle(EncryptRequest("POST", "reencrypt", "admin-token")).status == 200);
  CHECK((*t)->config()->keys.size() == 1);
  CHECK(*(*st)->Get(kKey)->value == secret);
  CHECK(RawValue(dir.File("state.db"), kKey).rfind("k8s:enc:aesgcm:v1:" + key2 + ":", 0) == 0);
  CHECK(svc.StatusObject().at("stage") == "reencrypt_finished");

  // The file on disk is what a restart loads.
  auto reloaded = LoadSecretsEncryption(dir.path(), false);
  REQUIRE(reloaded.ok());
  CHECK((*reloaded)->config()->keys.size() == 1);
  CHECK((*reloaded)->config()->keys[0].name == key2);

  // disable writes plaintext back and drops the keys; enable encrypts again.
  REQUIRE(svc.Run("disable").ok());
  CHECK(RawValue(dir.File("state.db"), kKey) == secret);
  CHECK((*t)->config()->keys.empty());
  REQUIRE(svc.Run("enable").ok());
  CHECK(RawValue(dir.File("state.db"), kKey).rfind("k8s:enc:aesgcm:v1:", 0) == 0);
  CHECK(*(*st)->Get(kKey)->value == secret);
  (*st)->Close();
}

}  // namespace
}  // namespace mini8s::server
