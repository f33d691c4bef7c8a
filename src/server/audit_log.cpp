// AuditLogWriter: audit lines to a file (or stdout) on a thread of its own, with
// kube-apiserver's (lumberjack's) rotation: at --audit-log-maxsize MiB the file is renamed to
// <name>-<UTC time><ext> and a new one started; backups beyond --audit-log-maxbackup or older
// than --audit-log-maxage days are removed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "mini8s/common/logging.h"
#include "mini8s/server/audit.h"

namespace mini8s::server {
namespace {

namespace fs = std::filesystem;

// name without extension, extension ("audit", ".log").
std::pair<std::string, std::string> SplitName(const std::string& path) {
  const fs::path p(path);
  return {p.stem().string(), p.extension().string()};
}

std::string BackupTime() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H-%M-%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03lld", static_cast<long long>(ms % 1000));
  return buf;
}

}  // namespace

Result<std::unique_ptr<AuditLogWriter>> AuditLogWriter::Open(AuditLogOptions options) {
  if (options.path.empty()) return Status::Invalid("audit log: empty path");
  if (options.max_age_days < 0 || options.max_backups < 0 || options.max_size_mb < 0) {
    return Status::Invalid("audit log: --audit-log-maxage, -maxbackup and -maxsize must be >= 0");
  }
  std::unique_ptr<AuditLogWriter> w(new AuditLogWriter(std::move(options)));
  MINI8S_RETURN_IF_ERROR(w->OpenFile());
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

AuditLogWriter::~AuditLogWriter() { Close(); }

Status AuditLogWriter::OpenFile() {
  if (options_.path == "-") {
    fd_ = STDOUT_FILENO;
    return Status::OK();
  }
  const fs::path dir = fs::path(options_.path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Internal("audit log: create " + dir.string() + ": " + ec.message());
  }
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::FromErrno(errno, "open audit log", options_.path);
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  return Status::OK();
}

void AuditLogWriter::Write(std::string line) {
  std::unique_lock lock(mu_);
  if (closed_) return;
  if (queue_.size() >= options_.queue_limit) {
    // Bounded wait: a slow disk slows requests a little, never stops them.
    room_cv_.wait_for(lock, options_.full_queue_wait,
                      [&] { return closed_ || queue_.size() < options_.queue_limit; });
    if (closed_ || queue_.size() >= options_.queue_limit) {
      const uint64_t n = dropped_.fetch_add(1) + 1;
      if (n == 1 || n % 1000 == 0) {
        MINI8S_LOG(WARNING) << "audit log: the writer is not keeping up; " << n
                            << " events dropped so far";
      }
      return;
    }
  }
  queue_.push_back(std::move(line));
  ++queued_seq_;
  cv_.notify_one();
}

void AuditLogWriter::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = queued_seq_;
  flushed_cv_.wait(lock, [&] { return written_seq_ >= target || closed_; });
}

void AuditLogWriter::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_ && !thread_.joinable()) return;
    closed_ = true;
  }
  cv_.notify_all();
  room_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0 && fd_ != STDOUT_FILENO) {
    ::fsync(fd_);
    ::close(fd_);
  }
  fd_ = -1;
  flushed_cv_.notify_all();
}

void AuditLogWriter::Run() {
  std::deque<std::string> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty() && closed_) break;
      batch.swap(queue_);
    }
    room_cv_.notify_all();
    const size_t n = batch.size();
    WriteLines(batch);
    batch.clear();
    {
      std::lock_guard lock(mu_);
      written_seq_ += n;
    }
    flushed_cv_.notify_all();
  }
}

void AuditLogWriter::WriteLines(std::deque<std::string>& lines) {
  const int64_t max_size = options_.max_size_bytes_for_test > 0
                               ? options_.max_size_bytes_for_test
                               : int64_t{options_.max_size_mb} * 1024 * 1024;
  std::string buf;
  auto flush = [&] {
    size_t off = 0;
    while (off < buf.size() && fd_ >= 0) {
      const ssize_t w = ::write(fd_, buf.data() + off, buf.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        MINI8S_LOG(ERROR) << "audit log: write " << options_.path << ": " << std::strerror(errno);
        break;
      }
      off += static_cast<size_t>(w);
    }
    size_ += static_cast<int64_t>(buf.size());
    buf.clear();
  };
  for (std::string& line : lines) {
    line.push_back('\n');
    const int64_t len = static_cast<int64_t>(line.size());
    if (max_size > 0 && options_.path != "-" &&
        size_ + static_cast<int64_t>(buf.size()) + len > max_size &&
        size_ + static_cast<int64_t>(buf.size()) > 0) {
      flush();
      Rotate();
    }
    buf += line;
  }
  flush();
}

void AuditLogWriter::Rotate() {
  const auto [stem, ext] = SplitName(options_.path);
  const fs::path dir = fs::path(options_.path).parent_path();
  const std::string time = BackupTime();
  fs::path backup = dir / (stem + "-" + time + ext);
  std::error_code ec;
  for (int i = 2; fs::exists(backup, ec); ++i) {
    backup = dir / (stem + "-" + time + "-" + std::to_string(i) + ext);  // same millisecond
  }
  ::close(fd_);
  fd_ = -1;
  if (::rename(options_.path.c_str(), backup.c_str()) != 0) {
    MINI8S_LOG(ERROR) << "audit log: rotate " << options_.path << ": " << std::strerror(errno);
  }
  Status s = OpenFile();
  if (!s.ok()) MINI8S_LOG(ERROR) << "audit log: " << s.message();
  size_ = 0;
  PruneBackups();
}

void AuditLogWriter::PruneBackups() {
  if (options_.max_backups == 0 && options_.max_age_days == 0) return;
  const auto [stem, ext] = SplitName(options_.path);
  fs::path dir = fs::path(options_.path).parent_path();
  if (dir.empty()) dir = ".";
  std::vector<fs::path> backups;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > stem.size() + 1 + ext.size() && name.rfind(stem + "-", 0) == 0 &&
        name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      backups.push_back(e.path());
    }
  }
  // The timestamp in the name sorts oldest first.
  std::sort(backups.begin(), backups.end());
  const auto cutoff =
      fs::file_time_type::clock::now() - std::chrono::hours(24) * options_.max_age_days;
  for (size_t i = 0; i < backups.size(); ++i) {
    const bool too_many =
        options_.max_backups > 0 && backups.size() - i > static_cast<size_t>(options_.max_backups);
    const bool too_old = options_.max_age_days > 0 && fs::last_write_time(backups[i], ec) < cutoff;
    if (too_many || too_old) fs::remove(backups[i], ec);
  }
}

}  // namespace mini8s::server
