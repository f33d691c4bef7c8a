#include "mini8s/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "mini8s/common/logging.h"
#include "mini8s/common/unique_fd.h"
#include "store/store_core.h"

namespace mini8s::store {
namespace {

using detail::LoadedState;
using detail::Mutation;

// Pages returned to the file system per compaction transaction.
constexpr int kVacuumPagesPerStep = 2000;

// A prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { Finalize(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }
  sqlite3_stmt** out() { return &s_; }
  void Finalize() {
    sqlite3_finalize(s_);
    s_ = nullptr;
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when the scope ends, so it never holds a read transaction open.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* s) : s_(s) {}
  ~ResetOnExit() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* s_;
};

ValuePtr ColumnValue(sqlite3_stmt* s, int col) {
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  if (p == nullptr || n == 0) return std::make_shared<const std::string>();
  return std::make_shared<const std::string>(static_cast<const char*>(p), static_cast<size_t>(n));
}

std::string ColumnText(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, col)))
           : std::string();
}

class SqliteBackend final : public detail::Backend {
 public:
  static Result<std::unique_ptr<SqliteBackend>> Open(
      const std::string& path, std::shared_ptr<const ValueTransformer> transformer);
  ~SqliteBackend() override { Close(); }

  Result<LoadedState> Load(size_t window) override;
  Status Persist(const std::vector<Mutation>& batch) override;
  Status CompactRange(Revision from, Revision to) override;
  Status CheckIntegrity() override;
  void FillStats(StoreStats& stats) override;
  Result<bool> RewriteStep(std::string_view prefix, int64_t* after_id,
                           RewriteStats* stats) override;
  void Close() override;

 private:
  explicit SqliteBackend(std::string path, std::shared_ptr<const ValueTransformer> transformer)
      : path_(std::move(path)), transformer_(std::move(transformer)) {}
  // Column `col` of a row of `key` as the value readers see (through the transformer). A value
  // that cannot be read back is kept as stored, so it is never lost or rewritten as garbage.
  ValuePtr LoadValue(sqlite3_stmt* s, int col, std::string_view key);
  Status OpenDatabase();
  Status Error(int rc, std::string_view what) const;
  Status Exec(const char* sql, std::string_view what);
  Status Prepare(Stmt& stmt, const char* sql);
  Status StepDone(sqlite3_stmt* s, std::string_view what);
  Result<std::vector<std::string>> QueryTexts(const char* sql);
  Result<int64_t> QueryInt(const char* sql);
  void Rollback();

  const std::string path_;
  const std::shared_ptr<const ValueTransformer> transformer_;
  int64_t load_failures_ = 0;
  sqlite3* db_ = nullptr;
  UniqueFd lock_fd_;
  Stmt begin_, commit_, rollback_, insert_, latest_, compact_prev_, compact_tombstones_,
      set_compact_;
};

Status SqliteBackend::Error(int rc, std::string_view what) const {
  std::string msg = "database \"" + path_ + "\": " + std::string(what) + ": " +
                    (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  const int err = db_ ? sqlite3_system_errno(db_) : 0;
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Internal(msg +
                              " (the file is corrupt or not a SQLite database; it was left "
                              "untouched: restore it from a backup or move it aside)");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status(Code::kForbidden, msg + " (not writable)", err);
    case SQLITE_CANTOPEN:
      return Status(err == ENOENT ? Code::kNotFound : Code::kForbidden, msg, err);
    case SQLITE_FULL:
      return Status(Code::kResourceExhausted, msg, err);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg);
    default:
      return Status(Code::kInternal, msg, err);
  }
}

Status SqliteBackend::Exec(const char* sql, std::string_view what) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, what);
}

Status SqliteBackend::Prepare(Stmt& stmt, const char* sql) {
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt.out(), nullptr);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, std::string("prepare ") + sql);
}

Status SqliteBackend::StepDone(sqlite3_stmt* s, std::string_view what) {
  ResetOnExit reset(s);
  const int rc = sqlite3_step(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::OK() : Error(rc, what);
}

Result<std::vector<std::string>> SqliteBackend::QueryTexts(const char* sql) {
  Stmt st;
  MINI8S_RETURN_IF_ERROR(Prepare(st, sql));
  std::vector<std::string> rows;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) rows.push_back(ColumnText(st.get(), 0));
  if (rc != SQLITE_DONE) return Error(rc, sql);
  return rows;
}

Result<int64_t> SqliteBackend::QueryInt(const char* sql) {
  Stmt st;
  MINI8S_RETURN_IF_ERROR(Prepare(st, sql));
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
  if (rc == SQLITE_DONE) return int64_t{0};
  return Error(rc, sql);
}

void SqliteBackend::Rollback() {
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_reset(rollback_.get());
    sqlite3_step(rollback_.get());
    sqlite3_reset(rollback_.get());
  }
}

ValuePtr SqliteBackend::LoadValue(sqlite3_stmt* s, int col, std::string_view key) {
  ValuePtr raw = ColumnValue(s, col);
  if (!transformer_ || raw->empty() || !transformer_->Applies(key)) return raw;
  bool stale = false;
  auto v = transformer_->FromStorage(key, *raw, &stale);
  if (!v.ok()) {
    if (++load_failures_ <= 10) {
      MINI8S_LOG(ERROR) << "store: \"" << key << "\" cannot be read: " << v.error().message()
                        << " (kept as stored; reads of it fail until the key is configured)";
    }
    return raw;
  }
  return std::make_shared<const std::string>(std::move(*v));
}

Result<std::unique_ptr<SqliteBackend>> SqliteBackend::Open(
    const std::string& path, std::shared_ptr<const ValueTransformer> transformer) {
  const std::string context = "open database \"" + path + "\"";
  if (path.empty()) return Status::Invalid("open database: empty path");
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "directory", dir).WithContext(context);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::Invalid(context + ": \"" + dir + "\" is not a directory");
  }

  std::unique_ptr<SqliteBackend> b(new SqliteBackend(path, std::move(transformer)));
  // SQLite's own locks do not stop a second server from opening the file and interleaving
  // writes with ours; an exclusive flock on a side file does, and is dropped by the kernel when
  // the process dies, so a crash never leaves a stale lock.
  const std::string lock_path = path + ".lock";
  b->lock_fd_.Reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!b->lock_fd_)
    return Status::FromErrno(errno, "create lock file", lock_path).WithContext(context);
  if (::flock(b->lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char buf[32] = {};
      const ssize_t n = ::pread(b->lock_fd_.get(), buf, sizeof(buf) - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return Status(Code::kUnavailable,
                    "database \"" + path + "\" is in use by another process (lock file \"" +
                        lock_path + "\" is held by pid " + holder +
                        "); is another mini8s server running with the same data directory?",
                    err);
    }
    return Status::FromErrno(err, "lock", lock_path).WithContext(context);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(b->lock_fd_.get(), 0) != 0 ||
      ::pwrite(b->lock_fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Status::FromErrno(errno, "write lock file", lock_path).WithContext(context);
  }

  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Status::Invalid(context + ": not a regular file");
  }
  MINI8S_RETURN_IF_ERROR(b->OpenDatabase());
  return b;
}

Status SqliteBackend::OpenDatabase() {
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Error(rc, "open");
    Close();
    return s;
  }
  sqlite3_extended_result_codes(db_, 1);
  if (sqlite3_db_readonly(db_, "main") == 1) {
    return Status::Forbidden("database \"" + path_ + "\": the file is not writable");
  }
  sqlite3_busy_timeout(db_, 5000);

  // A corrupt file is reported, never repaired or replaced: it may be the only copy.
  MINI8S_ASSIGN_OR_RETURN(auto check, QueryTexts("PRAGMA quick_check"));
  if (check.size() != 1 || check[0] != "ok") {
    std::string detail;
    for (size_t i = 0; i < check.size() && i < 3; ++i) detail += (i ? "; " : "") + check[i];
    return Status::Internal("database \"" + path_ + "\" is corrupt (quick_check: " + detail +
                            "); it was left untouched: restore it from a backup or move it aside");
  }
  MINI8S_ASSIGN_OR_RETURN(int64_t pages, QueryInt("PRAGMA page_count"));
  if (pages == 0) {
    // Must precede the first table; lets compaction hand freed pages back to the file system.
    MINI8S_RETURN_IF_ERROR(Exec("PRAGMA auto_vacuum = INCREMENTAL", "set auto_vacuum"));
  }
  MINI8S_ASSIGN_OR_RETURN(auto mode, QueryTexts("PRAGMA journal_mode = WAL"));
  if (mode.empty() || mode[0] != "wal") {
    return Status::Internal("database \"" + path_ + "\": cannot enable WAL mode (got \"" +
                            (mode.empty() ? "" : mode[0]) + "\")");
  }
  // FULL: every commit fsyncs the WAL, so an acknowledged write survives power loss (NORMAL
  // would only survive a process crash). Group commit pays for the fsync once per batch.
  MINI8S_RETURN_IF_ERROR(Exec("PRAGMA synchronous = FULL", "set synchronous"));
  MINI8S_RETURN_IF_ERROR(Exec("PRAGMA journal_size_limit = 16777216", "set journal_size_limit"));
  MINI8S_RETURN_IF_ERROR(Exec("PRAGMA temp_store = MEMORY", "set temp_store"));
  // Reads are served from memory, so the page cache only serves the write path (the table's
  // rightmost pages and index pages): 2 MiB does that; 8 MiB was 6 MiB more RSS for nothing.
  MINI8S_RETURN_IF_ERROR(Exec("PRAGMA cache_size = -2048", "set cache_size"));
  if (transformer_) {
    // Freed cells and pages (superseded rows, forms replaced by RewriteStored) are zeroed, so
    // the plaintext or old-key form of a value does not linger in the file.
    MINI8S_RETURN_IF_ERROR(Exec("PRAGMA secure_delete = ON", "set secure_delete"));
  }
  MINI8S_RETURN_IF_ERROR(
      Exec("BEGIN IMMEDIATE;"
           "CREATE TABLE IF NOT EXISTS kine ("
           "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
           "  name TEXT NOT NULL,"
           "  created INTEGER NOT NULL,"
           "  deleted INTEGER NOT NULL,"
           "  create_revision INTEGER NOT NULL,"
           "  prev_revision INTEGER NOT NULL,"
           "  lease INTEGER NOT NULL DEFAULT 0,"
           "  expires INTEGER NOT NULL DEFAULT 0,"
           "  value BLOB,"
           "  old_value BLOB);"
           "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex "
           "  ON kine(name, prev_revision);"
           "CREATE TABLE IF NOT EXISTS mini8s_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) "
           "  WITHOUT ROWID;"
           "INSERT OR IGNORE INTO mini8s_meta(key, value) VALUES "
           "  ('schema_version', 1), ('compact_revision', 0);"
           "COMMIT;",
           "create schema"));

  // Make the new files' directory entries durable too; SQLite syncs file contents only.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  UniqueFd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd || ::fsync(dfd.get()) != 0) {
    return Status::FromErrno(errno, "sync directory", dir)
        .WithContext("open database \"" + path_ + "\"");
  }

  MINI8S_RETURN_IF_ERROR(Prepare(begin_, "BEGIN IMMEDIATE"));
  MINI8S_RETURN_IF_ERROR(Prepare(commit_, "COMMIT"));
  MINI8S_RETURN_IF_ERROR(Prepare(rollback_, "ROLLBACK"));
  MINI8S_RETURN_IF_ERROR(
      Prepare(insert_,
              "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, "
              "expires, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  // Within one key's rows prev_revision grows with id, so this is the newest row, found on the
  // unique index alone.
  MINI8S_RETURN_IF_ERROR(
      Prepare(latest_, "SELECT id FROM kine WHERE name = ?1 ORDER BY prev_revision DESC LIMIT 1"));
  // Superseded rows first: a tombstone's predecessor is found through the tombstone.
  MINI8S_RETURN_IF_ERROR(Prepare(compact_prev_,
                                 "DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine "
                                 "WHERE id > ?1 AND id <= ?2 AND prev_revision != 0)"));
  MINI8S_RETURN_IF_ERROR(
      Prepare(compact_tombstones_, "DELETE FROM kine WHERE id > ?1 AND id <= ?2 AND deleted != 0"));
  MINI8S_RETURN_IF_ERROR(
      Prepare(set_compact_, "UPDATE mini8s_meta SET value = ?1 WHERE key = 'compact_revision'"));
  return Status::OK();
}

Result<LoadedState> SqliteBackend::Load(size_t window) {
  LoadedState out;
  MINI8S_ASSIGN_OR_RETURN(int64_t seq,
                          QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'kine'"));
  MINI8S_ASSIGN_OR_RETURN(int64_t max_id, QueryInt("SELECT COALESCE(MAX(id), 0) FROM kine"));
  out.current_revision = std::max(seq, max_id);
  MINI8S_ASSIGN_OR_RETURN(out.compact_revision,
                          QueryInt("SELECT value FROM mini8s_meta WHERE key = 'compact_revision'"));

  {
    // SQLite takes the bare columns from the row holding MAX(id): each key's newest row.
    Stmt st;
    MINI8S_RETURN_IF_ERROR(
        Prepare(st,
                "SELECT name, MAX(id), deleted, create_revision, lease, expires, value FROM kine "
                "GROUP BY name ORDER BY name"));
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      if (sqlite3_column_int64(st.get(), 2) != 0) continue;
      detail::LoadedEntry e;
      e.kv.key = ColumnText(st.get(), 0);
      e.kv.mod_revision = sqlite3_column_int64(st.get(), 1);
      e.kv.create_revision = sqlite3_column_int64(st.get(), 3);
      e.kv.ttl_seconds = sqlite3_column_int64(st.get(), 4);
      e.expires_at_ms = sqlite3_column_int64(st.get(), 5);
      e.kv.value = LoadValue(st.get(), 6, e.kv.key);
      out.entries.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return Error(rc, "load keys");
  }
  {
    Stmt st;
    MINI8S_RETURN_IF_ERROR(
        Prepare(st,
                "SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision, "
                "k.value, p.value FROM kine AS k LEFT JOIN kine AS p "
                "ON k.created = 0 AND p.id = k.prev_revision "
                "WHERE k.id > ?1 ORDER BY k.id DESC LIMIT ?2"));
    sqlite3_bind_int64(st.get(), 1, out.compact_revision);
    sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(window));
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      auto ev = std::make_shared<Event>();
      ev->revision = sqlite3_column_int64(st.get(), 0);
      ev->key = ColumnText(st.get(), 1);
      const bool created = sqlite3_column_int64(st.get(), 2) != 0;
      const bool deleted = sqlite3_column_int64(st.get(), 3) != 0;
      ev->create_revision = sqlite3_column_int64(st.get(), 4);
      if (created) {
        ev->type = EventType::kAdded;
        ev->value = LoadValue(st.get(), 6, ev->key);
      } else {
        ev->prev_revision = sqlite3_column_int64(st.get(), 5);
        ev->prev_value = LoadValue(st.get(), 7, ev->key);
        if (deleted) {
          ev->type = EventType::kDeleted;
          ev->value = ev->prev_value;
        } else {
          ev->type = EventType::kModified;
          ev->value = LoadValue(st.get(), 6, ev->key);
        }
      }
      out.events.push_back(std::move(ev));
    }
    if (rc != SQLITE_DONE) return Error(rc, "load watch window");
    std::reverse(out.events.begin(), out.events.end());
  }
  out.window_start = out.compact_revision;
  if (window > 0 && out.events.size() == window) {
    out.window_start = std::max(out.window_start, out.events.front()->revision - 1);
  }
  MINI8S_LOG(INFO) << "store: opened \"" << path_ << "\": " << out.entries.size()
                   << " keys, revision " << out.current_revision << ", compacted to "
                   << out.compact_revision;
  return out;
}

Status SqliteBackend::Persist(const std::vector<Mutation>& batch) {
  if (db_ == nullptr) return Status::Unavailable("database \"" + path_ + "\" is closed");
  MINI8S_RETURN_IF_ERROR(StepDone(begin_.get(), "begin"));
  for (const Mutation& m : batch) {
    const Event& e = *m.event;
    Revision prev = e.prev_revision;
    if (e.type == EventType::kAdded) {
      // A re-created key links to its tombstone, which keeps (name, prev_revision) unique.
      ResetOnExit reset(latest_.get());
      sqlite3_bind_text(latest_.get(), 1, e.key.data(), static_cast<int>(e.key.size()),
                        SQLITE_STATIC);
      const int rc = sqlite3_step(latest_.get());
      if (rc == SQLITE_ROW) {
        prev = sqlite3_column_int64(latest_.get(), 0);
      } else if (rc != SQLITE_DONE) {
        Status s = Error(rc, "find previous row");
        Rollback();
        return s;
      }
    }
    sqlite3_stmt* s = insert_.get();
    sqlite3_bind_int64(s, 1, e.revision);
    sqlite3_bind_text(s, 2, e.key.data(), static_cast<int>(e.key.size()), SQLITE_STATIC);
    sqlite3_bind_int(s, 3, e.type == EventType::kAdded ? 1 : 0);
    sqlite3_bind_int(s, 4, e.type == EventType::kDeleted ? 1 : 0);
    sqlite3_bind_int64(s, 5, e.create_revision);
    sqlite3_bind_int64(s, 6, prev);
    sqlite3_bind_int64(s, 7, m.ttl_seconds);
    sqlite3_bind_int64(s, 8, m.expires_at_ms);
    // A tombstone's value is its predecessor's, which compaction keeps while the tombstone is
    // in the window; storing it again would double the bytes written per delete.
    std::string transformed;  // bound SQLITE_STATIC: lives until the step below
    if (e.type == EventType::kDeleted) {
      sqlite3_bind_null(s, 9);
    } else if (transformer_ && transformer_->Applies(e.key)) {
      auto t = transformer_->ToStorage(e.key, *e.value);
      if (!t.ok()) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        Rollback();
        return t.error().WithContext("store \"" + e.key + "\"");
      }
      transformed = std::move(*t);
      sqlite3_bind_blob(s, 9, transformed.data(), static_cast<int>(transformed.size()),
                        SQLITE_STATIC);
    } else {
      sqlite3_bind_blob(s, 9, e.value->data(), static_cast<int>(e.value->size()), SQLITE_STATIC);
    }
    Status st = StepDone(s, "insert");
    if (!st.ok()) {
      Rollback();
      return st;
    }
  }
  Status st = StepDone(commit_.get(), "commit");
  if (!st.ok()) Rollback();
  return st;
}

Status SqliteBackend::CompactRange(Revision from, Revision to) {
  if (db_ == nullptr) return Status::Unavailable("database \"" + path_ + "\" is closed");
  MINI8S_RETURN_IF_ERROR(StepDone(begin_.get(), "begin"));
  Status s;
  for (sqlite3_stmt* st : {compact_prev_.get(), compact_tombstones_.get()}) {
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    s = StepDone(st, "compact");
    if (!s.ok()) break;
  }
  if (s.ok()) {
    sqlite3_bind_int64(set_compact_.get(), 1, to);
    s = StepDone(set_compact_.get(), "record compact revision");
  }
  if (s.ok()) {
    static const std::string vacuum =
        "PRAGMA incremental_vacuum(" + std::to_string(kVacuumPagesPerStep) + ")";
    s = Exec(vacuum.c_str(), "incremental vacuum");
  }
  if (s.ok()) s = StepDone(commit_.get(), "commit compaction");
  if (!s.ok()) Rollback();
  return s;
}

Status SqliteBackend::CheckIntegrity() {
  if (db_ == nullptr) return Status::Unavailable("database \"" + path_ + "\" is closed");
  MINI8S_ASSIGN_OR_RETURN(auto rows, QueryTexts("PRAGMA integrity_check"));
  if (rows.size() == 1 && rows[0] == "ok") return Status::OK();
  std::string detail;
  for (size_t i = 0; i < rows.size() && i < 5; ++i) detail += (i ? "; " : "") + rows[i];
  return Status::Internal("database \"" + path_ + "\" failed integrity_check: " + detail);
}

void SqliteBackend::FillStats(StoreStats& stats) {
  if (db_ == nullptr) return;
  stats.db_rows = static_cast<uint64_t>(QueryInt("SELECT COUNT(*) FROM kine").value_or(0));
  stats.db_pages = static_cast<uint64_t>(QueryInt("PRAGMA page_count").value_or(0));
  stats.db_freelist_pages = static_cast<uint64_t>(QueryInt("PRAGMA freelist_count").value_or(0));
}

Result<bool> SqliteBackend::RewriteStep(std::string_view prefix, int64_t* after_id,
                                        RewriteStats* stats) {
  constexpr int kRowsPerStep = 256;
  if (db_ == nullptr) return Status::Unavailable("database \"" + path_ + "\" is closed");
  if (!transformer_) return true;
  // Every row of a key under the prefix, in id order: [prefix, prefix + 0xff...) by name.
  std::string upper(prefix);
  upper.push_back('\xff');
  Stmt sel, upd;
  MINI8S_RETURN_IF_ERROR(Prepare(sel,
                                 "SELECT id, name, value FROM kine WHERE id > ?1 AND name >= ?2 "
                                 "AND name < ?3 AND value IS NOT NULL ORDER BY id LIMIT ?4"));
  MINI8S_RETURN_IF_ERROR(Prepare(upd, "UPDATE kine SET value = ?2 WHERE id = ?1"));
  MINI8S_RETURN_IF_ERROR(StepDone(begin_.get(), "begin"));
  sqlite3_bind_int64(sel.get(), 1, *after_id);
  sqlite3_bind_text(sel.get(), 2, prefix.data(), static_cast<int>(prefix.size()), SQLITE_STATIC);
  sqlite3_bind_text(sel.get(), 3, upper.data(), static_cast<int>(upper.size()), SQLITE_STATIC);
  sqlite3_bind_int(sel.get(), 4, kRowsPerStep);
  std::vector<std::pair<int64_t, std::string>> updates;
  int rows = 0;
  int rc;
  while ((rc = sqlite3_step(sel.get())) == SQLITE_ROW) {
    ++rows;
    const int64_t id = sqlite3_column_int64(sel.get(), 0);
    *after_id = id;
    const std::string name = ColumnText(sel.get(), 1);
    if (!transformer_->Applies(name)) continue;
    ++stats->examined;
    ValuePtr raw = ColumnValue(sel.get(), 2);
    bool stale = false;
    auto plain = transformer_->FromStorage(name, *raw, &stale);
    if (!plain.ok()) {
      if (stats->failed++ == 0) stats->first_error = "\"" + name + "\": " + plain.error().message();
      continue;
    }
    if (!stale) continue;
    auto t = transformer_->ToStorage(name, *plain);
    if (!t.ok()) {
      Rollback();
      return t.error().WithContext("rewrite \"" + name + "\"");
    }
    updates.emplace_back(id, std::move(*t));
  }
  sqlite3_reset(sel.get());
  if (rc != SQLITE_DONE) {
    Status s = Error(rc, "select rows to rewrite");
    Rollback();
    return s;
  }
  for (const auto& [id, value] : updates) {
    sqlite3_bind_int64(upd.get(), 1, id);
    sqlite3_bind_blob(upd.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    Status s = StepDone(upd.get(), "rewrite row");
    if (!s.ok()) {
      Rollback();
      return s;
    }
  }
  Status s = StepDone(commit_.get(), "commit rewrite");
  if (!s.ok()) {
    Rollback();
    return s;
  }
  stats->rewritten += static_cast<int64_t>(updates.size());
  if (rows == kRowsPerStep) return false;
  // The replaced forms may still sit in WAL frames: copy the WAL into the database (whose freed
  // space secure_delete zeroes) and truncate it.
  MINI8S_ASSIGN_OR_RETURN(auto ck, QueryTexts("PRAGMA wal_checkpoint(TRUNCATE)"));
  (void)ck;
  return true;
}

void SqliteBackend::Close() {
  for (Stmt* s : {&begin_, &commit_, &rollback_, &insert_, &latest_, &compact_prev_,
                  &compact_tombstones_, &set_compact_}) {
    s->Finalize();
  }
  if (db_ != nullptr) {
    const int rc = sqlite3_close(db_);
    if (rc != SQLITE_OK) {
      MINI8S_LOG(WARNING) << "store: closing \"" << path_ << "\": " << sqlite3_errstr(rc);
    }
    db_ = nullptr;
  }
  lock_fd_.Reset();  // releases the flock
}

}  // namespace

Result<std::unique_ptr<Store>> SqliteStore::Open(const std::string& path,
                                                 const StoreOptions& options, const Clock& clock) {
  MINI8S_ASSIGN_OR_RETURN(auto backend, SqliteBackend::Open(path, options.transformer));
  return detail::StoreCore::Start(std::move(backend), options, clock);
}

}  // namespace mini8s::store
