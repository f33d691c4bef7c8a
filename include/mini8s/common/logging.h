// Leveled logging to stderr, klog-like: `I1125 19:42:02.123456 pid file.cpp:12] message`.
//
//   MINI8S_LOG(INFO) << "listening on " << addr;
//   MINI8S_VLOG(2) << "watch " << key;          // shown with -v 2 or more
//
// Thread-safe: each message is formatted privately and written with one write(2).
#pragma once

#include <sstream>

namespace mini8s::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Verbosity for MINI8S_VLOG (the -v flag). Default 0.
void SetVerbosity(int v);
int Verbosity();
// Messages below this level are dropped. Default kInfo.
void SetMinLevel(Level level);
bool Enabled(Level level);

class Message {
 public:
  Message(Level level, const char* file, int line);
  ~Message();
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  template <class T>
  Message& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream stream_;
};

struct Voidify {
  void operator&(const Message&) {}
};

}  // namespace mini8s::log

#define MINI8S_LOG_LEVEL_DEBUG ::mini8s::log::Level::kDebug
#define MINI8S_LOG_LEVEL_INFO ::mini8s::log::Level::kInfo
#define MINI8S_LOG_LEVEL_WARNING ::mini8s::log::Level::kWarning
#define MINI8S_LOG_LEVEL_ERROR ::mini8s::log::Level::kError

#define MINI8S_LOG(severity)                                          \
  !::mini8s::log::Enabled(MINI8S_LOG_LEVEL_##severity)                \
      ? (void)0                                                       \
      : ::mini8s::log::Voidify() &                                    \
            ::mini8s::log::Message(MINI8S_LOG_LEVEL_##severity, __FILE__, __LINE__)

#define MINI8S_VLOG(n)                                                                  \
  (::mini8s::log::Verbosity() < (n))                                                    \
      ? (void)0                                                                         \
      : ::mini8s::log::Voidify() &                                                      \
            ::mini8s::log::Message(::mini8s::log::Level::kInfo, __FILE__, __LINE__)
