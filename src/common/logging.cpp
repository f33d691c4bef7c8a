#include "mini8s/common/logging.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace mini8s::log {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

void SetVerbosity(int v) {
  g_verbosity = v;
  if (v > 0 && g_min_level > static_cast<int>(Level::kDebug)) {
    g_min_level = std::min(g_min_level.load(), static_cast<int>(Level::kInfo));
  }
}
int Verbosity() { return g_verbosity; }
void SetMinLevel(Level level) { g_min_level = static_cast<int>(level); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level; }

Message::Message(Level level, const char* file, int line) : level_(level) {
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char head[96];
  std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%06ld %d %s:%d] ",
                kLetters[static_cast<int>(level_)], t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                t.tm_sec, static_cast<long>(tv.tv_usec), static_cast<int>(getpid()),
                Basename(file), line);
  stream_ << head;
}

Message::~Message() {
  stream_ << '\n';
  std::string s = stream_.str();
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
}

}  // namespace mini8s::log
